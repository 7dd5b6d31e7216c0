//! `cairn ledger` (being built).

use std::process::ExitCode;

/// `cairn ledger` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum LedgerCmd {
    /// Placeholder until this command group is built.
    Todo,
}

/// Runs a `cairn ledger` subcommand.
pub fn run(_cmd: LedgerCmd) -> anyhow::Result<ExitCode> {
    anyhow::bail!("cairn ledger is not built yet")
}
