//! `cairn crypto` (being built).

use std::process::ExitCode;

/// `cairn crypto` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum CryptoCmd {
    /// Placeholder until this command group is built.
    Todo,
}

/// Runs a `cairn crypto` subcommand.
pub fn run(_cmd: CryptoCmd) -> anyhow::Result<ExitCode> {
    anyhow::bail!("cairn crypto is not built yet")
}
