//! `cairn policy` (being built).

use std::process::ExitCode;

/// `cairn policy` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum PolicyCmd {
    /// Placeholder until this command group is built.
    Todo,
}

/// Runs a `cairn policy` subcommand.
pub fn run(_cmd: PolicyCmd) -> anyhow::Result<ExitCode> {
    anyhow::bail!("cairn policy is not built yet")
}
