//! `cairn receipt`: verify a transaction receipt offline, trusting only the
//! ordering org's CA certificate.
//!
//! `verify` prints only what [`Receipt::verify`] proved (the values of
//! [`cairn_ledger::receipt::VerifiedReceipt`]), never a field read from the
//! file as is; a file with fields a receipt does not have is refused.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use cairn_ledger::receipt::Receipt;

/// `cairn receipt` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum ReceiptCmd {
    /// Verify a receipt file (JSON) offline. Exit 0 if it verifies, 1 if it
    /// does not (with the reason), 2 if the inputs cannot be read.
    Verify {
        /// The receipt, as written by `cairn ledger receipt` or the peer API.
        file: PathBuf,
        /// The ordering org's CA certificate (PEM): the only thing trusted.
        #[arg(long)]
        ca: PathBuf,
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
        ReceiptCmd::Verify { file, ca } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read receipt {}", file.display()))?;
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
