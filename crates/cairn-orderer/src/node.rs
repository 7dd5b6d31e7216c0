//! Starting and stopping one orderer: ledger, Raft, TLS server, leader loop.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use cairn_attest_client::NodeGate;
use cairn_crypto::{Role, SigningIdentity};
use cairn_ledger::block::Block;
use cairn_ledger::encoding::Canonical;
use cairn_net::{Client, TlsIdentity, Trust};
use cairn_store::{LEDGER_FILE, Ledger};
use openraft::error::{InitializeError, RaftError};
use openraft::{BasicNode, Raft, SnapshotPolicy};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::api::NodeStatus;
use crate::config::OrdererConfig;
use crate::cutter::{self, Pending};
use crate::error::{BroadcastError, OrdererError};
use crate::log_store::{LogStore, open_db};
use crate::membership::{self, Elections};
use crate::network::Network;
use crate::service;
use crate::state_machine::StateMachine;
use crate::types::{NodeId, TypeConfig};

/// Envelopes waiting for the leader loop; a full queue slows submitters down.
const QUEUE: usize = 10_000;

/// Raft RPCs (not deliver streams) must answer within this time.
const RPC_TIMEOUT: Duration = Duration::from_secs(10);

/// What the handlers and the leader loop share.
pub(crate) struct Shared {
    pub id: NodeId,
    pub raft: Raft<TypeConfig>,
    pub ledger: Arc<Ledger>,
    pub signer: SigningIdentity,
    pub client: Client,
    pub cutter: mpsc::Sender<Pending>,
    /// What the cutter is ordering now, by transaction id.
    pub inflight: cutter::InFlight,
    pub height: Arc<watch::Sender<u64>>,
    pub elections: Elections,
    /// Admissions of attested nodes calling this one.
    pub gate: Arc<NodeGate>,
}

impl Shared {
    /// The leader this node knows of, with its base URL.
    pub(crate) fn leader(&self) -> Option<(NodeId, String)> {
        let m = self.raft.metrics();
        let m = m.borrow();
        let id = m.current_leader?;
        let url = m.membership_config.membership().get_node(&id)?.addr.clone();
        Some((id, url))
    }

    pub(crate) fn status(&self) -> NodeStatus {
        let m = self.raft.metrics();
        let m = m.borrow();
        let membership = m.membership_config.membership();
        NodeStatus {
            id: self.id,
            leader: m.current_leader,
            term: m.current_term,
            height: self.ledger.height(),
            applied: m.last_applied.map(|l| l.index),
            snapshot: m.snapshot.map(|l| l.index),
            purged: m.purged.map(|l| l.index),
            voters: membership.voter_ids().collect(),
            learners: membership.learner_ids().collect(),
            serving: self.serving().is_ok(),
        }
    }

    /// Whether this orderer serves the channel: its ledger's configuration
    /// lists it (or lists no orderers at all).
    pub(crate) fn serving(&self) -> Result<(), BroadcastError> {
        let ctx = self.ledger.context();
        let config = ctx.config();
        if membership::listed(config, self.id) {
            return Ok(());
        }
        Err(BroadcastError::NotServing {
            id: self.id,
            channel: config.name.clone(),
            orderers: membership::listed_ids(config),
        })
    }
}

/// A running orderer. Dropping it stops serving at once (connections are
/// closed, the leader loop ends) without a graceful Raft shutdown, as a
/// crash would; [`OrdererNode::shutdown`] stops it cleanly.
pub struct OrdererNode {
    shared: Arc<Shared>,
    addr: SocketAddr,
    tasks: Vec<JoinHandle<()>>,
}

impl OrdererNode {
    /// Binds `config.listen` and starts the node.
    pub async fn start(config: OrdererConfig) -> Result<OrdererNode, OrdererError> {
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| OrdererError::Io {
                    path: config.listen.to_string().into(),
                    source,
                })?;
        OrdererNode::start_on(config, listener).await
    }

    /// Starts the node on an already bound listener (`config.listen` is ignored).
    pub async fn start_on(
        config: OrdererConfig,
        listener: TcpListener,
    ) -> Result<OrdererNode, OrdererError> {
        // The data directory holds the Raft log and the ledger: owner only.
        cairn_crypto::private_file::create_dir_all(&config.data_dir).map_err(|e| {
            OrdererError::Io {
                path: config.data_dir.clone(),
                source: e.into(),
            }
        })?;
        let genesis = read_genesis(&config.genesis)?;
        let members = bootstrap_members(&config, &genesis)?;
        let ledger = Arc::new(open_ledger(&config, &genesis)?);
        let channel = ledger.context().config().clone();
        let trust = Trust::new(&channel.orgs)?;
        let tls = TlsIdentity::load(&config.identity_dir, trust.clone())?
            .with_attestation(config.attestation.clone());
        let signer = tls.signer().clone();
        if signer.identity().role() != Role::Orderer
            || !channel.orderer_orgs.iter().any(|o| o == signer.msp_id())
        {
            return Err(OrdererError::Config {
                reason: format!(
                    "identity {} is not an orderer of an orderer org of channel {} (orderer orgs: {})",
                    signer.identity().subject(),
                    channel.name,
                    channel.orderer_orgs.join(", ")
                ),
            });
        }
        if let Some(listed) = channel.orderers.iter().find(|o| o.id == config.id)
            && listed.msp_id != signer.msp_id()
        {
            return Err(OrdererError::Config {
                reason: format!(
                    "channel {} lists orderer {} as one of {}, but this node's identity is of {}",
                    channel.name,
                    config.id,
                    listed.msp_id,
                    signer.msp_id()
                ),
            });
        }
        let client = Client::with_timeout(&tls, RPC_TIMEOUT)?;
        let db = open_db(&config.data_dir).map_err(|e| OrdererError::RaftStore {
            path: config.data_dir.clone(),
            reason: e.to_string(),
        })?;
        let height = Arc::new(watch::channel(ledger.height()).0);
        let sm = StateMachine::open(
            config.id,
            ledger.clone(),
            db.clone(),
            height.clone(),
            Some(trust),
            Some(client.clone()),
        )
        .map_err(|reason| OrdererError::RaftStore {
            path: config.data_dir.clone(),
            reason,
        })?;
        let gate = Arc::new(NodeGate::new());
        let raft_config = openraft::Config {
            cluster_name: channel.name.clone(),
            heartbeat_interval: config.raft.heartbeat_ms,
            election_timeout_min: config.raft.election_min_ms,
            election_timeout_max: config.raft.election_max_ms,
            snapshot_policy: SnapshotPolicy::LogsSinceLast(config.raft.snapshot_every),
            max_in_snapshot_log_to_keep: config.raft.keep_after_snapshot,
            // Entries are whole blocks: keep each append RPC bounded.
            max_payload_entries: 16,
            // Installing a snapshot fetches the missing blocks first.
            install_snapshot_timeout: 60_000,
            ..openraft::Config::default()
        }
        .validate()
        .map_err(|e| OrdererError::Config {
            reason: format!("raft settings: {e}"),
        })?;
        let raft = Raft::new(
            config.id,
            Arc::new(raft_config),
            Network {
                client: client.clone(),
                ledger: ledger.clone(),
                gate: gate.clone(),
            },
            LogStore::new(db, ledger.clone()),
            sm,
        )
        .await
        .map_err(|e| OrdererError::Raft {
            reason: e.to_string(),
        })?;
        if members.contains_key(&config.id) {
            initialize(&raft, members).await?;
        } else {
            info!(
                id = config.id,
                "this orderer is not in the channel's initial membership: it waits for the leader \
                 to add it, which a config update listing it makes happen"
            );
        }

        let (tx, rx) = mpsc::channel(QUEUE);
        let shared = Arc::new(Shared {
            id: config.id,
            raft,
            ledger,
            signer,
            client,
            cutter: tx,
            inflight: cutter::InFlight::default(),
            height,
            elections: Elections::default(),
            gate,
        });
        let addr = listener.local_addr().map_err(|source| OrdererError::Io {
            path: config.listen.to_string().into(),
            source,
        })?;
        let router = service::router(shared.clone());
        let server = tokio::spawn(async move {
            if let Err(e) = cairn_net::serve(listener, &tls, router).await {
                warn!(reason = %e, "orderer server stopped");
            }
        });
        let leader_loop = tokio::spawn(cutter::run(shared.clone(), rx));
        let members_loop = tokio::spawn(membership::run(shared.clone()));
        info!(id = config.id, %addr, channel = %channel.name, "orderer started");
        Ok(OrdererNode {
            shared,
            addr,
            tasks: vec![server, leader_loop, members_loop],
        })
    }

    /// This node's Raft id.
    pub fn id(&self) -> u64 {
        self.shared.id
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its ledger (read-only use: blocks, transactions, receipts).
    pub fn ledger(&self) -> &Arc<Ledger> {
        &self.shared.ledger
    }

    /// Its view of the cluster.
    pub fn status(&self) -> NodeStatus {
        self.shared.status()
    }

    /// The leader it knows of.
    pub fn leader(&self) -> Option<u64> {
        self.shared.leader().map(|(id, _)| id)
    }

    /// Waits until some leader is known, for at most `timeout`.
    pub async fn wait_for_leader(&self, timeout: Duration) -> Option<u64> {
        let r = self
            .shared
            .raft
            .wait(Some(timeout))
            .metrics(|m| m.current_leader.is_some(), "a leader is known")
            .await;
        r.ok().and_then(|m| m.current_leader)
    }

    /// Stops serving and shuts Raft down cleanly.
    pub async fn shutdown(mut self) -> Result<(), OrdererError> {
        for t in self.tasks.drain(..) {
            t.abort();
        }
        let stopped = self
            .shared
            .raft
            .shutdown()
            .await
            .map_err(|e| OrdererError::Raft {
                reason: e.to_string(),
            });
        // Blocks applied since the last durable one need not be applied
        // again at the next start.
        let ledger = self.shared.ledger.clone();
        let synced = tokio::task::spawn_blocking(move || ledger.sync().map_err(|e| e.to_string()))
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| r);
        if let Err(e) = synced {
            warn!(reason = %e, "syncing the ledger at shutdown failed; the next start re-applies from the Raft log");
        }
        stopped
    }
}

impl Drop for OrdererNode {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// The membership a new cluster starts with (every member a voter): the
/// orderers the genesis configuration lists or, when it lists none, the
/// node's `cluster` setting, which must then include the node itself.
fn bootstrap_members(
    config: &OrdererConfig,
    genesis: &Block,
) -> Result<BTreeMap<NodeId, BasicNode>, OrdererError> {
    let channel = cairn_store::genesis_config(genesis).map_err(|e| OrdererError::Genesis {
        path: config.genesis.clone(),
        reason: e.to_string(),
    })?;
    let from_toml = check_cluster(config)?;
    let Some(members) = membership::desired(&channel) else {
        if !from_toml.contains_key(&config.id) {
            let ids: BTreeSet<_> = from_toml.keys().collect();
            return Err(OrdererError::Config {
                reason: format!(
                    "this node's id {} is not in the cluster {ids:?} (the channel's configuration \
                     lists no orderers, so the `cluster` setting must)",
                    config.id
                ),
            });
        }
        return Ok(from_toml);
    };
    if !from_toml.is_empty() && from_toml != members {
        warn!(
            "the `cluster` setting differs from the orderers the channel's configuration lists; \
             the channel's list is used"
        );
    }
    Ok(members)
}

/// The `cluster` setting as a membership (URLs checked).
fn check_cluster(config: &OrdererConfig) -> Result<BTreeMap<NodeId, BasicNode>, OrdererError> {
    let bad = |reason: String| OrdererError::Config { reason };
    let mut members = BTreeMap::new();
    for m in &config.cluster {
        if !m.url.starts_with("https://") {
            return Err(bad(format!(
                "cluster member {} has URL {:?}: it must start with https://",
                m.id, m.url
            )));
        }
        if members
            .insert(m.id, BasicNode::new(m.url.trim_end_matches('/')))
            .is_some()
        {
            return Err(bad(format!("cluster member id {} appears twice", m.id)));
        }
    }
    if members.len() % 2 == 0 && !members.is_empty() {
        warn!(
            members = members.len(),
            "an even number of orderers tolerates no more failures than one fewer; use 3 or 5"
        );
    }
    Ok(members)
}

/// Opens the ledger, or creates it from the genesis block on first start.
fn open_ledger(config: &OrdererConfig, genesis: &Block) -> Result<Ledger, OrdererError> {
    let dir = config.data_dir.join("ledger");
    if dir.join(LEDGER_FILE).exists() {
        let ledger = Ledger::open(&dir)?;
        if ledger.block(0)?.as_ref() != Some(genesis) {
            return Err(OrdererError::Genesis {
                path: config.genesis.clone(),
                reason: format!(
                    "the ledger in {} was created from a different genesis block",
                    dir.display()
                ),
            });
        }
        return Ok(ledger);
    }
    // Key history is a peer query; an orderer's ledger keeps none.
    Ok(Ledger::create_without_history(&dir, genesis)?)
}

/// Reads a genesis block: canonical postcard, or JSON.
pub fn read_genesis(path: &Path) -> Result<Block, OrdererError> {
    let bytes = std::fs::read(path).map_err(|source| OrdererError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let bad = |reason: String| OrdererError::Genesis {
        path: path.to_path_buf(),
        reason,
    };
    let block = if bytes.first() == Some(&b'{') {
        serde_json::from_slice::<Block>(&bytes)
            .map_err(|e| bad(format!("not a JSON block: {e}")))?
    } else {
        Block::decode(&bytes).map_err(|e| bad(e.to_string()))?
    };
    if block.header.number != 0 {
        return Err(bad(format!(
            "block {} is not a genesis block",
            block.header.number
        )));
    }
    Ok(block)
}

async fn initialize(
    raft: &Raft<TypeConfig>,
    members: BTreeMap<NodeId, BasicNode>,
) -> Result<(), OrdererError> {
    let initialized = raft
        .is_initialized()
        .await
        .map_err(|e| OrdererError::Raft {
            reason: e.to_string(),
        })?;
    if initialized {
        return Ok(());
    }
    // Every member initializes with the same membership; whoever already
    // received it from another member refuses, which is fine.
    match raft.initialize(members).await {
        Ok(()) | Err(RaftError::APIError(InitializeError::NotAllowed(_))) => Ok(()),
        Err(e) => Err(OrdererError::Raft {
            reason: e.to_string(),
        }),
    }
}
