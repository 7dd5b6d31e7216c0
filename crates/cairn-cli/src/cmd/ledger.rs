//! `cairn ledger`: inspect and verify a ledger directory offline.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use cairn_ledger::ids::TxId;
use cairn_store::Ledger;
use indicatif::{ProgressBar, ProgressStyle};

/// `cairn ledger` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum LedgerCmd {
    /// Re-check a whole stored ledger: hash chain, orderer signatures, Merkle
    /// roots, validation codes, and the state rebuilt from blocks. Exit 0 if
    /// it is intact, 1 naming the first bad block, 2 if it cannot be read.
    Verify {
        /// The ledger directory (holding ledger.redb). The node using it must be stopped.
        dir: PathBuf,
    },
    /// Show a ledger's channel, height and transaction tree head.
    Info {
        /// The ledger directory.
        dir: PathBuf,
    },
    /// Print a block as JSON.
    Block {
        /// The ledger directory.
        dir: PathBuf,
        /// Block number.
        number: u64,
    },
    /// Write a transaction's receipt (JSON) for `cairn receipt verify`.
    Receipt {
        /// The ledger directory.
        dir: PathBuf,
        /// The transaction id (hex).
        txid: String,
        /// Where to write the receipt; standard output if omitted.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// Runs a `cairn ledger` subcommand.
pub fn run(cmd: LedgerCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        LedgerCmd::Verify { dir } => verify(dir),
        LedgerCmd::Info { dir } => {
            let l = Ledger::open(&dir)?;
            let snap = l.snapshot()?;
            let last = l.height().saturating_sub(1);
            let header = snap
                .block(last)
                .map_err(|e| anyhow::anyhow!("{e}"))?
                .map(|b| b.header)
                .context("ledger has no blocks")?;
            println!("channel:    {}", header.channel);
            println!("height:     {}", l.height());
            println!("tree size:  {}", header.tree_size);
            println!("tree root:  {}", header.tree_root);
            println!("last block: {}", header.hash()?);
            Ok(ExitCode::SUCCESS)
        }
        LedgerCmd::Block { dir, number } => {
            let l = Ledger::open(&dir)?;
            let b = l.block(number)?.with_context(|| {
                format!(
                    "block {number} is not on this ledger (height {})",
                    l.height()
                )
            })?;
            println!("{}", serde_json::to_string_pretty(&b)?);
            Ok(ExitCode::SUCCESS)
        }
        LedgerCmd::Receipt { dir, txid, out } => {
            let txid: TxId = txid
                .parse()
                .map_err(|e| anyhow::anyhow!("{txid:?} is not a transaction id: {e}"))?;
            let l = Ledger::open(&dir)?;
            let r = l.receipt(&txid)?;
            let json = serde_json::to_string_pretty(&r)?;
            match out {
                Some(p) => std::fs::write(&p, json)
                    .with_context(|| format!("cannot write {}", p.display()))?,
                None => println!("{json}"),
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn verify(dir: PathBuf) -> anyhow::Result<ExitCode> {
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("verifying {bar:40} {pos}/{len} blocks ({eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let result = cairn_store::verify::verify_ledger(&dir, |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    });
    bar.finish_and_clear();
    match result {
        Ok(r) => {
            println!(
                "ledger OK: channel {}, {} blocks, {} transactions ({} valid), tree root {}",
                r.channel, r.blocks, r.txs, r.valid, r.tree_root
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(cairn_store::verify::VerifyError::Store(e)) => Err(e.into()),
        Err(e) => {
            println!("ledger verification FAILED: {e}");
            Ok(ExitCode::from(1))
        }
    }
}
