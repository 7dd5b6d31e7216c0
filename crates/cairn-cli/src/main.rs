//! `cairn`: the command-line entry point for every Cairn role and tool.
//!
//! Each subcommand lives in its own module under `cmd/`; this file only sets the
//! allocator's settings (`cairn-alloc`, first thing in `main`), parses
//! arguments, sets up logging and dispatches.
//!
//! Rules enforced here and in `cmd/`: contract console output stays out of
//! the log unless `CAIRN_LOG` names `cairn_contract::console` ([`log_filter`]);
//! transient values can come from files or standard input instead of argv
//! (`cmd::transient`); every file holding a key or private data is written
//! through `cairn_crypto::private_file` (0600, key files atomically).

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// `println!` for every command: when stdout is a pipe whose reader has
/// gone (`cairn events | head`), exit quietly with 141 as a process killed
/// by SIGPIPE would, instead of panicking like std's `println!`.
macro_rules! println {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(e) = writeln!(std::io::stdout(), $($arg)*) {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                std::process::exit(141);
            }
            panic!("failed printing to stdout: {e}");
        }
    }};
}

mod cmd;

/// Cairn: a multi-party ledger for organizations that do not trust each other.
#[derive(Parser, Debug)]
#[command(name = "cairn", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Generate and inspect organization identities (Fabric's cryptogen, in spirit).
    #[command(subcommand)]
    Crypto(cmd::crypto::CryptoCmd),
    /// Parse and evaluate Fabric signature policies.
    #[command(subcommand)]
    Policy(cmd::policy::PolicyCmd),
    /// Verify transaction receipts offline.
    #[command(subcommand)]
    Receipt(cmd::receipt::ReceiptCmd),
    /// Remote attestation: the attestation service, token and evidence checks.
    #[command(subcommand)]
    Attest(cmd::attest::AttestCmd),
    /// Confidential inference: serve a model as an attested node behind Oblivious
    /// HTTP, run sealed requests, register models, manage shared keys.
    #[command(subcommand)]
    Infer(cmd::infer::InferCmd),
    /// Run the foundation end to end in one process (orgs, a channel, the contract
    /// lifecycle, endorsed transactions, blocks and a receipt), or `cairn demo
    /// healthcare`: the healthcare scenario's three parties as processes.
    Demo(cmd::demo::DemoArgs),
    /// The healthcare scenario's services: the attested medical platform and the
    /// hospital's web portal.
    #[command(subcommand)]
    Health(cmd::health::HealthCmd),
    /// Immutable blob storage: the S3-compatible WORM store, access keys, verification.
    #[command(subcommand)]
    Blob(cmd::blob::BlobCmd),
    /// Ledger tables on SQLite and PostgreSQL: history, ledger views, digests
    /// anchored on a channel, verification naming every tampered row.
    #[command(subcommand)]
    Sql(cmd::sql::SqlCmd),
    /// The supply-chain scenario: export a unit's provenance (receipts and
    /// documents) as one bundle, and check a bundle offline.
    #[command(subcommand)]
    Supply(cmd::supply::SupplyCmd),
    /// Check a provenance bundle offline (the same as `cairn supply verify`).
    Verify(cmd::supply::VerifyArgs),
    /// Start a local network (3 orgs: orderers and peers as separate
    /// processes), set up a channel and a contract, and stay up until Ctrl-C.
    Up(cmd::up::UpArgs),
    /// Stop every node of a network started with `cairn up`.
    Down(cmd::up::DirArgs),
    /// Show the nodes of a local network: pid, URL, height, Raft leader.
    Status(cmd::up::DirArgs),
    /// Submit a transaction through the gateway and wait for its commit.
    Invoke(cmd::client::CallArgs),
    /// Run a contract function on the gateway peer without ordering it.
    Query(cmd::client::CallArgs),
    /// Stream transaction outcomes or contract events, resumable from a block.
    Events(cmd::client::EventsArgs),
    /// Read blocks from a peer.
    #[command(subcommand)]
    Block(cmd::client::BlockCmd),
    /// List channels a peer has joined, or join one.
    #[command(subcommand)]
    Channel(cmd::client::ChannelCmd),
    /// Fabric's contract lifecycle: package, install, list, approve, commit.
    #[command(subcommand)]
    Contract(cmd::client::ContractCmd),
    /// Drive a network with load and report throughput, latency and CPU per transaction.
    Bench(cmd::bench::BenchArgs),
    /// Inject faults at random (kill, pause, disk full, a damaged block) under
    /// load, then check that nothing committed was lost or forked.
    Chaos(cmd::chaos::ChaosArgs),
    /// Run one node (orderer or peer) from its TOML config until SIGTERM.
    Node(cmd::node::NodeArgs),
    /// Inspect and verify a stored ledger.
    #[command(subcommand)]
    Ledger(cmd::ledger::LedgerCmd),
}

/// The log filter from `CAIRN_LOG` (default `warn`). Contract console output
/// (`cairn_contract::console`) stays off unless the filter names that target
/// itself: contracts may print private values, so `CAIRN_LOG=debug` alone
/// does not show it (docs/contracts.md, "Console output").
fn log_filter(spec: Option<&str>) -> tracing_subscriber::EnvFilter {
    use tracing_subscriber::EnvFilter;
    let spec = spec.unwrap_or("warn");
    let filter = EnvFilter::try_new(spec).unwrap_or_else(|_| EnvFilter::new("warn"));
    if spec.contains(cairn_contract::CONSOLE_TARGET) {
        return filter;
    }
    match format!("{}=off", cairn_contract::CONSOLE_TARGET).parse() {
        Ok(directive) => filter.add_directive(directive),
        Err(_) => filter,
    }
}

/// The allocator (measured against glibc's with `cairn bench`, see README).
#[global_allocator]
static ALLOCATOR: cairn_alloc::Allocator = cairn_alloc::Allocator;

fn main() -> ExitCode {
    // First, before any thread starts (see `cairn_alloc::configure`).
    cairn_alloc::configure();
    tracing_subscriber::fmt()
        .with_env_filter(log_filter(std::env::var("CAIRN_LOG").ok().as_deref()))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Crypto(c) => cmd::crypto::run(c),
        Command::Policy(c) => cmd::policy::run(c),
        Command::Receipt(c) => cmd::receipt::run(c),
        Command::Ledger(c) => cmd::ledger::run(c),
        Command::Demo(a) => cmd::demo::run(a),
        Command::Up(a) => cmd::up::up(a),
        Command::Down(a) => cmd::up::down(a),
        Command::Status(a) => cmd::up::status(a),
        Command::Node(a) => cmd::node::run(a),
        Command::Bench(a) => cmd::bench::run(a),
        Command::Chaos(a) => cmd::chaos::run(a),
        Command::Invoke(a) => cmd::client::invoke(a),
        Command::Query(a) => cmd::client::query(a),
        Command::Events(a) => cmd::client::events(a),
        Command::Block(c) => cmd::client::block(c),
        Command::Channel(c) => cmd::client::channel(c),
        Command::Contract(c) => cmd::client::contract(c),
        Command::Attest(c) => cmd::attest::run(c),
        Command::Infer(c) => cmd::infer::run(c),
        Command::Health(c) => cmd::health::run(c),
        Command::Supply(c) => cmd::supply::run(c),
        Command::Verify(a) => cmd::supply::run(cmd::supply::SupplyCmd::Verify(a)),
        Command::Blob(c) => cmd::blob::run(c),
        Command::Sql(c) => cmd::sql::run(c),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use tracing::Level;
    use tracing::subscriber::with_default;

    use super::log_filter;

    /// Whether a subscriber with `spec` logs `level` on `target`.
    fn logs(spec: Option<&str>, target_is_console: bool, level: Level) -> bool {
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(log_filter(spec))
            .finish();
        with_default(subscriber, || match (target_is_console, level) {
            (true, Level::DEBUG) => {
                tracing::enabled!(target: "cairn_contract::console", Level::DEBUG)
            }
            (true, _) => tracing::enabled!(target: "cairn_contract::console", Level::INFO),
            (false, Level::DEBUG) => tracing::enabled!(target: "cairn_peer::node", Level::DEBUG),
            (false, _) => tracing::enabled!(target: "cairn_peer::node", Level::INFO),
        })
    }

    #[test]
    fn contract_console_output_is_off_unless_the_filter_names_it() {
        // Nodes' default, the binary's default, and a verbose filter: off,
        // while the rest logs as asked (the positive control).
        for spec in [
            Some("info,openraft=warn"),
            None,
            Some("debug"),
            Some("cairn_contract=debug"),
        ] {
            assert!(!logs(spec, true, Level::DEBUG), "{spec:?}");
            assert!(!logs(spec, true, Level::INFO), "{spec:?}");
        }
        assert!(logs(Some("info,openraft=warn"), false, Level::INFO));
        assert!(logs(Some("debug"), false, Level::DEBUG));
        // Named: on.
        assert!(logs(
            Some("info,cairn_contract::console=debug"),
            true,
            Level::DEBUG
        ));
        // A broken filter falls back to warn, still without the console.
        assert!(!logs(Some("[[["), true, Level::DEBUG));
        assert!(!logs(Some("[[["), false, Level::INFO));
    }
}
