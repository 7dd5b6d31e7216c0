//! `cairn receipt`: verify any receipt Cairn makes, offline.
//!
//! One verifier for every kind: a transaction receipt (trusting only the ordering
//! org's CA certificate, `--ca`) or an inference receipt (`kind`
//! `cairn-inference-receipt/v1`, trusting only the attestation service's JWKS,
//! `--jwks`). The file's `kind` decides which; each kind needs its trust root.
//!
//! `verify` prints only what the verifier proved ([`Receipt::verify`]'s
//! [`cairn_ledger::receipt::VerifiedReceipt`], [`InferenceReceipt::verify`]'s
//! [`cairn_infer::receipt::VerifiedInferenceReceipt`]), never a field read from the
//! file as is; a file with fields a receipt does not have is refused.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use cairn_attest::Jwks;
use cairn_infer::receipt::{InferenceReceipt, RECEIPT_KIND};
use cairn_ledger::receipt::Receipt;

/// `cairn receipt` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum ReceiptCmd {
    /// Verify a receipt file (JSON) offline: a transaction receipt (with --ca) or
    /// an inference receipt (with --jwks). Exit 0 if it verifies, 1 if it does not
    /// (with the reason), 2 if the inputs cannot be read.
    Verify {
        /// The receipt, as written by `cairn receipt get`, `cairn ledger receipt`,
        /// the peer API, or `cairn infer run --receipt-out`.
        file: PathBuf,
        /// Transaction receipts: the ordering org's CA certificate (PEM), the only thing trusted.
        #[arg(long)]
        ca: Option<PathBuf>,
        /// Inference receipts: the attestation service's JWKS (JSON file), the only thing trusted.
        #[arg(long)]
        jwks: Option<PathBuf>,
        /// Inference receipts: the issuer the node's token must name.
        #[arg(long)]
        issuer: Option<String>,
        /// Inference receipts: check that this file is the request body the receipt covers.
        #[arg(long)]
        request: Option<PathBuf>,
        /// Inference receipts: check that this file is the answer body the receipt covers.
        #[arg(long)]
        response: Option<PathBuf>,
        /// Transaction receipts: also print the transaction's public writes (one JSON
        /// object per line: namespace, key, value), read from the envelope the
        /// receipt proves; private collection writes are only hashes there.
        #[arg(long)]
        show_writes: bool,
    },
    /// Fetch a transaction's receipt from a peer of a running network (JSON);
    /// the header is signed by the orderer org that sealed the block.
    Get {
        #[command(flatten)]
        opts: super::client::ClientOpts,
        /// The transaction id (hex).
        txid: String,
        /// Where to write the receipt; standard output if omitted.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// Runs a `cairn receipt` subcommand.
pub fn run(cmd: ReceiptCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        ReceiptCmd::Get { opts, txid, out } => super::client::receipt_get(&opts, &txid, out),
        ReceiptCmd::Verify {
            file,
            ca,
            jwks,
            issuer,
            request,
            response,
            show_writes,
        } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read receipt {}", file.display()))?;
            let kind = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| v.get("kind").and_then(|k| k.as_str()).map(str::to_owned));
            if kind.as_deref() == Some(RECEIPT_KIND) {
                let jwks = jwks.context(
                    "an inference receipt is verified with the attestation service's JWKS: give --jwks FILE",
                )?;
                return verify_inference(&text, &file, &jwks, issuer.as_deref(), request, response);
            }
            let ca = ca.context(
                "a transaction receipt is verified with the ordering org's CA certificate: give --ca FILE",
            )?;
            let receipt: Receipt = serde_json::from_str(&text)
                .with_context(|| format!("{} is not a receipt (JSON)", file.display()))?;
            let ca_pem = std::fs::read_to_string(&ca)
                .with_context(|| format!("cannot read CA certificate {}", ca.display()))?;
            match receipt.verify(&ca_pem) {
                Ok(v) => {
                    println!(
                        "receipt verifies: tx {} is in block {} of channel {} with code {}, header signed by {}",
                        v.txid,
                        v.block,
                        v.channel,
                        v.code,
                        v.signers.join(", ")
                    );
                    println!(
                        "  position {} in the block (leaf {} of the channel's transaction tree), envelope hash {}, block cut at {}",
                        v.position,
                        v.leaf_index,
                        v.envelope_hash,
                        cairn_crypto::format_unix_time(v.block_time.seconds)
                    );
                    if show_writes {
                        print_writes(&receipt.envelope)?;
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    println!("receipt does NOT verify: {e}");
                    Ok(ExitCode::from(1))
                }
            }
        }
    }
}

/// The public writes of a verified receipt's envelope, one JSON line each.
fn print_writes(envelope: &[u8]) -> anyhow::Result<()> {
    use cairn_ledger::encoding::Canonical;
    use cairn_ledger::tx::{Envelope, ProposalResponsePayload, Transaction};
    let tx = Envelope::decode(envelope)
        .context("the receipt's envelope")?
        .transaction()
        .context("the receipt's transaction")?;
    let Transaction::Endorsed(tx) = tx else {
        println!("  a configuration transaction: no contract writes");
        return Ok(());
    };
    let payload = ProposalResponsePayload::decode(&tx.response_payload)
        .context("the endorsed response payload")?;
    for ns in &payload.rwset.namespaces {
        for w in &ns.writes {
            let value = match std::str::from_utf8(&w.value) {
                Ok(text) => serde_json::Value::String(text.to_owned()),
                Err(_) => serde_json::json!({ "hex": hex::encode(&w.value) }),
            };
            let line = serde_json::json!({
                "namespace": ns.namespace,
                "key": w.key,
                "delete": w.is_delete,
                "value": value,
            });
            println!("{line}");
        }
        for c in &ns.collections {
            println!(
                "  {}: collection {}: {} hashed write(s) (the values stay with the collection's members)",
                ns.namespace,
                c.collection,
                c.hashed_writes.len()
            );
        }
    }
    Ok(())
}

fn verify_inference(
    text: &str,
    file: &std::path::Path,
    jwks: &std::path::Path,
    issuer: Option<&str>,
    request: Option<PathBuf>,
    response: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    let receipt: InferenceReceipt = serde_json::from_str(text)
        .with_context(|| format!("{} is not an inference receipt", file.display()))?;
    let jwks_bytes =
        std::fs::read(jwks).with_context(|| format!("cannot read JWKS {}", jwks.display()))?;
    let jwks =
        Jwks::parse(&jwks_bytes).with_context(|| format!("{} is not a JWKS", jwks.display()))?;
    let read = |p: Option<PathBuf>| -> anyhow::Result<Option<Vec<u8>>> {
        p.map(|p| std::fs::read(&p).with_context(|| format!("cannot read {}", p.display())))
            .transpose()
    };
    let (request, response) = (read(request)?, read(response)?);
    let verified = receipt.verify(&jwks, issuer).and_then(|v| {
        v.check_content(request.as_deref(), response.as_deref())
            .map(|()| v)
    });
    match verified {
        Ok(v) => {
            println!(
                "inference receipt verifies: model {} answered at {} in measured workload {} ({}{})",
                v.model_sha256,
                cairn_crypto::format_unix_time(i64::try_from(v.time).unwrap_or(i64::MAX)),
                v.measurement,
                v.platform,
                if v.hardware {
                    ""
                } else {
                    "; virtual: not hardware-attested"
                }
            );
            println!(
                "  request sha256 {}, answer sha256 {}, node token {} issued by {}",
                v.request_sha256, v.response_sha256, v.token_id, v.issuer
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            println!("receipt does NOT verify: {e}");
            Ok(ExitCode::from(1))
        }
    }
}
