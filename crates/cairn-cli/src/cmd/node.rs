//! `cairn node --config FILE`: run one node, an orderer or a peer, until
//! SIGINT or SIGTERM, then stop it cleanly.
//!
//! The TOML file holds exactly one table, `[orderer]` or `[peer]`, with that
//! role's settings. Relative paths in it are relative to the file's own
//! directory, so a network directory can be moved as a whole.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use cairn_orderer::{OrdererConfig, OrdererNode};
use cairn_peer::{PeerConfig, PeerNode};
use serde::{Deserialize, Serialize};
use tracing::info;

/// `cairn node` options.
#[derive(clap::Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct NodeArgs {
    /// Start or stop one node of a network made by `cairn up` (instead of
    /// running a node in this process).
    #[command(subcommand)]
    pub action: Option<NodeAction>,
    /// The node's TOML configuration: one `[orderer]` or `[peer]` table.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Attested node options.
    #[command(flatten)]
    pub attest: super::node_attest::AttestArgs,
    /// Async worker threads (network, handlers); overrides the file's
    /// `[runtime] worker_threads`. Default: one per core.
    #[arg(long, env = "CAIRN_WORKER_THREADS")]
    pub worker_threads: Option<usize>,
    /// Threads for parallel validation of large blocks; overrides the
    /// file's `[runtime] compute_threads`. Default: one per core.
    #[arg(long, env = "CAIRN_COMPUTE_THREADS")]
    pub compute_threads: Option<usize>,
}

/// `cairn node start|stop|repair NAME --dir DIR`.
#[derive(clap::Subcommand, Debug)]
pub enum NodeAction {
    /// Start one node of a `cairn up` network that is down, in the
    /// background, and wait until it answers.
    Start(NodeRef),
    /// Stop one node of a `cairn up` network (SIGTERM, then SIGKILL after 10 s).
    Stop(NodeRef),
    /// Put back the damaged blocks of a stopped node's ledgers (a node
    /// refuses to start on one, naming it) from the other nodes' copies;
    /// only the block the node committed is accepted.
    Repair(NodeRef),
}

/// One node of a `cairn up` network.
#[derive(clap::Args, Debug)]
pub struct NodeRef {
    /// The node's name as `cairn status` shows it, e.g. `peer0.org2`, `orderer0.org1`.
    pub name: String,
    /// The network directory `cairn up` created.
    #[arg(long, default_value = "cairn-network")]
    pub dir: PathBuf,
}

/// A node configuration file.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeFile {
    /// Settings of an orderer (a Raft member of the ordering service).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orderer: Option<OrdererConfig>,
    /// Settings of a peer (endorser, committer, gateway).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer: Option<PeerConfig>,
    /// Threads of the node process (nodes sharing a machine each want
    /// fewer than one per core).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<RuntimeConfig>,
}

/// The `[runtime]` table of a node file.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuntimeConfig {
    /// Async worker threads (default: one per core).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_threads: Option<usize>,
    /// Threads for parallel validation of large blocks (default: one per core).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compute_threads: Option<usize>,
}

impl NodeFile {
    /// Reads a node file and makes its relative paths absolute.
    pub fn load(path: &Path) -> anyhow::Result<NodeFile> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read node config {}", path.display()))?;
        let mut file: NodeFile = toml::from_str(&text)
            .with_context(|| format!("node config {} is not valid", path.display()))?;
        let base = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        if let Some(o) = &mut file.orderer {
            for p in [&mut o.identity_dir, &mut o.data_dir, &mut o.genesis] {
                if p.is_relative() {
                    *p = base.join(&*p);
                }
            }
        }
        if let Some(p) = &mut file.peer {
            let optional = [p.msp_config.as_mut(), p.packages_dir.as_mut()];
            for path in [Some(&mut p.identity_dir), Some(&mut p.data_dir)]
                .into_iter()
                .chain(optional)
                .flatten()
            {
                if path.is_relative() {
                    *path = base.join(&*path);
                }
            }
            p.check()
                .with_context(|| format!("node config {} is not valid", path.display()))?;
        }
        if file.orderer.is_some() == file.peer.is_some() {
            bail!(
                "{} must hold exactly one of [orderer] and [peer]: say which role this node plays",
                path.display()
            );
        }
        Ok(file)
    }

    /// Writes the file as TOML.
    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        let text = toml::to_string_pretty(self).context("cannot encode node config")?;
        std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
    }
}

/// Runs the node until it is told to stop.
pub fn run(args: NodeArgs) -> anyhow::Result<ExitCode> {
    match &args.action {
        Some(NodeAction::Start(r)) => return super::up::start_one(&r.dir, &r.name),
        Some(NodeAction::Stop(r)) => return super::up::stop_one(&r.dir, &r.name),
        Some(NodeAction::Repair(r)) => return super::up::repair::repair_one(&r.dir, &r.name),
        None => {}
    }
    let Some(config_path) = args.config.clone() else {
        anyhow::bail!(
            "give --config FILE to run a node here, or `start NAME` / `stop NAME` to act on a node of a `cairn up` network"
        );
    };
    let file = NodeFile::load(&config_path)?;
    let runtime = file.runtime.clone().unwrap_or_default();
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = args.worker_threads.or(runtime.worker_threads) {
        if n == 0 {
            bail!("worker_threads must be at least 1");
        }
        builder.worker_threads(n);
    }
    if let Some(n) = args.compute_threads.or(runtime.compute_threads) {
        if n == 0 {
            bail!("compute_threads must be at least 1");
        }
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .thread_name(|i| format!("cairn-compute-{i}"))
            .build_global()
            .context("cannot size the validation thread pool")?;
    }
    let rt = builder
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async move {
        match (file.orderer, file.peer) {
            (Some(mut config), _) => {
                if let Some(token) =
                    super::node_attest::start(&args.attest, &config_path, &config.identity_dir)
                        .await?
                {
                    config.attestation = token;
                }
                run_orderer(config).await
            }
            (None, Some(mut config)) => {
                if let Some(token) =
                    super::node_attest::start(&args.attest, &config_path, &config.identity_dir)
                        .await?
                {
                    config.attestation = token;
                }
                run_peer(config).await
            }
            (None, None) => bail!(
                "{} has no [orderer] or [peer] table: say which role this node plays",
                config_path.display()
            ),
        }
    })?;
    Ok(ExitCode::SUCCESS)
}

async fn run_orderer(config: OrdererConfig) -> anyhow::Result<()> {
    let id = config.id;
    let node = OrdererNode::start(config)
        .await
        .with_context(|| format!("orderer {id} failed to start"))?;
    info!(id, addr = %node.local_addr(), "orderer started");
    let why = stop_signal().await?;
    info!(id, signal = why, "stopping orderer");
    node.shutdown()
        .await
        .with_context(|| format!("orderer {id} did not shut down cleanly"))?;
    info!(id, "orderer stopped");
    Ok(())
}

async fn run_peer(config: PeerConfig) -> anyhow::Result<()> {
    let who = config.identity_dir.display().to_string();
    let node = PeerNode::start(config)
        .await
        .with_context(|| format!("peer {who} failed to start"))?;
    info!(msp = node.msp_id(), addr = %node.local_addr(), "peer started");
    let why = stop_signal().await?;
    info!(signal = why, "stopping peer");
    node.shutdown().await;
    info!("peer stopped");
    Ok(())
}

/// Waits for SIGINT or SIGTERM and says which came.
async fn stop_signal() -> anyhow::Result<&'static str> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?;
    Ok(tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    })
}
