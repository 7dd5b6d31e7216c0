//! `cairn receipt` (being built).

use std::process::ExitCode;

/// `cairn receipt` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum ReceiptCmd {
    /// Placeholder until this command group is built.
    Todo,
}

/// Runs a `cairn receipt` subcommand.
pub fn run(_cmd: ReceiptCmd) -> anyhow::Result<ExitCode> {
    anyhow::bail!("cairn receipt is not built yet")
}
