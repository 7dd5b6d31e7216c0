//! `cairn supply`: the supply-chain scenario's client side (issue 18) —
//! `provenance` exports a unit's history as one bundle (receipts of every
//! step and the documents' bytes), `verify` checks a bundle offline — and
//! `cairn demo supply-chain` ([`demo`]), which runs a product's life on a
//! five-org network.
//!
//! The contract is `contracts/supply-chain`; the bundle format and its check
//! are in [`bundle`].

pub mod bundle;
pub mod demo;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use base64::Engine as _;
use cairn_blob::client::BlobClient;
use cairn_ledger::ids::TxId;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::client::{ClientOpts, runtime};
use bundle::{BUNDLE_KIND, Bundle, DocumentBytes};

/// The contract's name on the channel.
pub const CONTRACT: &str = "supply-chain";

/// `cairn supply` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum SupplyCmd {
    /// Export a unit's provenance as one JSON bundle: the receipt of every
    /// transaction that wrote the unit, its batches and its shipments, and the
    /// bytes of every document they record (read from the blob store).
    Provenance(ProvenanceArgs),
    /// Check a provenance bundle offline: every receipt against the trusted
    /// orderer CA(s), every step of the unit, its batches and shipments proven,
    /// every document's bytes against the SHA-256 and size on the ledger. Exit 0
    /// if all holds, 1 if not (each problem named), 2 if the inputs cannot be read.
    Verify(VerifyArgs),
}

/// `cairn supply provenance` arguments.
#[derive(clap::Args, Debug)]
pub struct ProvenanceArgs {
    #[command(flatten)]
    client: ClientOpts,
    /// The contract.
    #[arg(long, default_value = CONTRACT)]
    contract: String,
    /// The blob store's credentials (JSON: endpoint, id, secret), as `cairn
    /// demo supply-chain` writes them.
    #[arg(long)]
    blob_credentials: PathBuf,
    /// Where to write the bundle.
    #[arg(long)]
    out: PathBuf,
    /// The unit.
    unit: String,
}

/// `cairn supply verify` arguments.
#[derive(clap::Args, Debug)]
pub struct VerifyArgs {
    /// The bundle.
    bundle: PathBuf,
    /// A trusted orderer org's CA certificate (PEM); repeat for every ordering
    /// org (a block is signed by whichever orderer cut it).
    #[arg(long, required = true)]
    ca: Vec<PathBuf>,
}

/// Blob store credentials for one org's key.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlobCredentials {
    /// `http://HOST:PORT`.
    pub endpoint: String,
    /// Access key id.
    pub id: String,
    /// Secret.
    pub secret: String,
}

impl BlobCredentials {
    /// A client for these credentials.
    pub fn client(&self) -> anyhow::Result<BlobClient> {
        Ok(BlobClient::new(&self.endpoint, &self.id, &self.secret)?)
    }
}

/// Runs a `cairn supply` subcommand.
pub fn run(cmd: SupplyCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        SupplyCmd::Provenance(a) => provenance(a),
        SupplyCmd::Verify(a) => verify(a),
    }
}

fn provenance(args: ProvenanceArgs) -> anyhow::Result<ExitCode> {
    let creds: BlobCredentials = serde_json::from_slice(
        &std::fs::read(&args.blob_credentials)
            .with_context(|| format!("cannot read {}", args.blob_credentials.display()))?,
    )
    .with_context(|| {
        format!(
            "{} is not blob credentials (JSON: endpoint, id, secret)",
            args.blob_credentials.display()
        )
    })?;
    let blobs = creds.client()?;
    let gateway = args.client.gateway()?;
    let rt = runtime()?;
    let bundle = rt.block_on(async {
        let answer = gateway
            .evaluate(&args.contract, "GetProvenance", &[&args.unit])
            .await
            .with_context(|| format!("cannot read the provenance of unit {}", args.unit))?;
        let p: Value = serde_json::from_slice(&answer)
            .context("the contract's provenance answer is not JSON")?;
        let records: Vec<&Value> = std::iter::once(&p["unit"])
            .chain(p["batches"].as_array().into_iter().flatten())
            .chain(p["shipments"].as_array().into_iter().flatten())
            .collect();
        let mut txids = std::collections::BTreeSet::new();
        let mut places = std::collections::BTreeSet::new();
        for r in &records {
            for s in r["steps"].as_array().into_iter().flatten() {
                if let Some(t) = s["txid"].as_str() {
                    txids.insert(t.to_owned());
                }
            }
            for d in r["documents"].as_array().into_iter().flatten() {
                let f = |k: &str| d[k].as_str().unwrap_or_default().to_owned();
                places.insert((f("bucket"), f("key"), f("versionId")));
            }
        }
        let mut receipts = Vec::new();
        for t in &txids {
            let txid: TxId = t
                .parse()
                .map_err(|e| anyhow::anyhow!("the ledger names a bad transaction id {t}: {e}"))?;
            receipts.push(
                cairn_peer::api::receipt(
                    gateway.transport(),
                    gateway.gateway(),
                    gateway.channel(),
                    &txid,
                )
                .await
                .with_context(|| format!("cannot get the receipt of transaction {t}"))?,
            );
        }
        let mut documents = Vec::new();
        for (bucket, key, version) in places {
            let bytes = blobs
                .get(&bucket, &key, Some(&version))
                .await
                .with_context(|| {
                    format!("cannot read document {bucket}/{key}?versionId={version}")
                })?;
            documents.push(DocumentBytes {
                bucket,
                key,
                version_id: version,
                content_base64: base64::engine::general_purpose::STANDARD.encode(bytes),
            });
        }
        anyhow::Ok(Bundle {
            kind: BUNDLE_KIND.into(),
            contract: args.contract.clone(),
            unit: args.unit.clone(),
            receipts,
            documents,
        })
    })?;
    std::fs::write(&args.out, serde_json::to_vec_pretty(&bundle)?)
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    println!(
        "wrote {}: unit {}, {} receipt(s), {} document(s); check it offline with `cairn supply verify {} --ca ORDERER_CA ...`",
        args.out.display(),
        bundle.unit,
        bundle.receipts.len(),
        bundle.documents.len(),
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn verify(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let text = match std::fs::read_to_string(&args.bundle) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: cannot read bundle {}: {e}", args.bundle.display());
            return Ok(ExitCode::from(2));
        }
    };
    let bundle: Bundle = match serde_json::from_str(&text) {
        Ok(b) => b,
        Err(e) => {
            eprintln!(
                "error: {} is not a provenance bundle ({BUNDLE_KIND}): {e}",
                args.bundle.display()
            );
            return Ok(ExitCode::from(2));
        }
    };
    if bundle.kind != BUNDLE_KIND {
        bail!(
            "{} is a {:?}, not a {BUNDLE_KIND} bundle",
            args.bundle.display(),
            bundle.kind
        );
    }
    let mut cas = Vec::new();
    for ca in &args.ca {
        match std::fs::read_to_string(ca) {
            Ok(pem) => cas.push(pem),
            Err(e) => {
                eprintln!("error: cannot read CA certificate {}: {e}", ca.display());
                return Ok(ExitCode::from(2));
            }
        }
    }
    let (proven, mut problems) = bundle::prove(&bundle, &cas);
    let report = bundle::check(&bundle.unit, &proven, &bundle.documents);
    problems.extend(report.problems);
    println!(
        "unit {} (contract {}): {} receipt(s), {} proven record version(s)",
        bundle.unit,
        bundle.contract,
        bundle.receipts.len(),
        proven.len()
    );
    for line in &report.timeline {
        println!("  {line}");
    }
    for d in &report.documents {
        println!("  document {d}");
    }
    if problems.is_empty() {
        println!(
            "provenance verifies: every step has a verified receipt and every document matches its recorded hash"
        );
        Ok(ExitCode::SUCCESS)
    } else {
        for p in &problems {
            println!("  PROBLEM: {p}");
        }
        println!("provenance does NOT verify: {} problem(s)", problems.len());
        Ok(ExitCode::from(1))
    }
}
