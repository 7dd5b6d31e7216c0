//! `cairn attest` (being built).

use std::process::ExitCode;

/// `cairn attest` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum AttestCmd {
    /// Placeholder until this command group is built.
    Todo,
}

/// Runs a `cairn attest` subcommand.
pub fn run(_cmd: AttestCmd) -> anyhow::Result<ExitCode> {
    anyhow::bail!("cairn attest is not built yet")
}
