//! An in-process cluster of orderers on 127.0.0.1 ephemeral ports, over real
//! mutual TLS, each node on its own tokio runtime so that killing a node
//! (dropping its runtime) stops every one of its tasks mid-flight, as
//! SIGKILL would; its files stay on disk and it can be restarted.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
#![allow(dead_code, reason = "each test binary uses part of the harness")]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cairn_crypto::{MspConfig, SigningIdentity};
use cairn_ledger::block::Block;
use cairn_ledger::config::{BatchConfig, ChannelConfig, OrdererEndpoint};
use cairn_ledger::encoding::Canonical;
use cairn_ledger::tx::Envelope;
use cairn_net::{AttestationToken, Client, TlsIdentity, Trust};
use cairn_orderer::api::{self, BroadcastResponse};
use cairn_orderer::{ClusterMember, OrdererConfig, OrdererNode, RaftSettings};
use cairn_store::Ledger;
use cairn_testkit::TestNet;
use tokio::runtime::Runtime;

/// Raft timings short enough for tests, long enough for a loaded 2-core box.
pub fn fast_raft() -> RaftSettings {
    RaftSettings {
        heartbeat_ms: 100,
        election_min_ms: 400,
        election_max_ms: 800,
        ..RaftSettings::default()
    }
}

/// One running orderer and the runtime it lives on.
pub struct Running {
    rt: Runtime,
    pub node: OrdererNode,
}

/// A cluster of orderers, one per org of a generated channel.
pub struct Cluster {
    pub net: TestNet,
    dir: tempfile::TempDir,
    genesis: PathBuf,
    ports: Vec<u16>,
    pub nodes: Vec<Option<Running>>,
    pub raft: RaftSettings,
    /// Whether nodes get the membership from their `cluster` setting (or
    /// from the channel configuration's orderer list).
    toml_cluster: bool,
    /// Runs the test's clients.
    pub rt: Runtime,
    /// The attestation token slot of each node (empty unless a test sets it).
    pub tokens: Vec<AttestationToken>,
}

impl Cluster {
    /// Starts `n` orderers (ids 1..=n) on a channel with these batch limits.
    pub fn start(n: usize, batch: BatchConfig, raft: RaftSettings) -> Cluster {
        Cluster::start_with(n, raft, |config| config.batch = batch)
    }

    /// Starts `n` orderers on a channel whose configuration `edit` adjusts;
    /// the membership comes from each node's `cluster` setting.
    pub fn start_with(
        n: usize,
        raft: RaftSettings,
        edit: impl FnOnce(&mut ChannelConfig),
    ) -> Cluster {
        Cluster::launch(n, n, raft, true, |config, _| edit(config))
    }

    /// A channel of `orgs` orgs whose configuration lists the orderers of
    /// the first `listed` orgs (ids 1..=listed) as the ordering service;
    /// those are started, with an empty `cluster` setting. The other orgs'
    /// orderers exist (ports reserved) but are neither listed nor running.
    pub fn listed(orgs: usize, listed: usize, raft: RaftSettings) -> Cluster {
        Cluster::launch(orgs, listed, raft, false, |config, urls| {
            config.orderers = (0..listed)
                .map(|i| OrdererEndpoint {
                    id: i as u64 + 1,
                    msp_id: format!("Org{}MSP", i + 1),
                    url: urls[i].clone(),
                })
                .collect();
        })
    }

    fn launch(
        orgs: usize,
        running: usize,
        raft: RaftSettings,
        toml_cluster: bool,
        edit: impl FnOnce(&mut ChannelConfig, &[String]),
    ) -> Cluster {
        // Shown when a test fails (RUST_LOG overrides the filter).
        let filter = tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| "warn,cairn_orderer=info,cairn_net=info".into());
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_test_writer()
            .try_init();
        // Reserve ports: bind, note, release; each node binds its own again.
        let ports: Vec<u16> = (0..orgs).map(|_| cairn_testkit::reserve_port()).collect();
        let urls: Vec<String> = ports
            .iter()
            .map(|p| format!("https://127.0.0.1:{p}"))
            .collect();
        let mut net = TestNet::new(orgs);
        edit(&mut net.config, &urls);
        let dir = tempfile::tempdir().unwrap();
        let genesis = dir.path().join("genesis.block");
        std::fs::write(&genesis, net.genesis().encode().unwrap()).unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .thread_name("client")
            .enable_all()
            .build()
            .unwrap();
        let mut cluster = Cluster {
            net,
            dir,
            genesis,
            ports,
            nodes: (0..orgs).map(|_| None).collect(),
            raft,
            toml_cluster,
            rt,
            tokens: (0..orgs).map(|_| AttestationToken::new()).collect(),
        };
        for i in 0..running {
            cluster.start_node(i);
        }
        cluster
    }

    /// The base URL of node `i`.
    pub fn url(&self, i: usize) -> String {
        format!("https://127.0.0.1:{}", self.ports[i])
    }

    /// Every node's URL.
    pub fn urls(&self) -> Vec<String> {
        (0..self.ports.len()).map(|i| self.url(i)).collect()
    }

    fn config(&self, i: usize) -> OrdererConfig {
        OrdererConfig {
            id: i as u64 + 1,
            listen: format!("127.0.0.1:{}", self.ports[i]).parse().unwrap(),
            cluster: if self.toml_cluster {
                (0..self.ports.len())
                    .map(|j| ClusterMember {
                        id: j as u64 + 1,
                        url: self.url(j),
                    })
                    .collect()
            } else {
                Vec::new()
            },
            identity_dir: self.net.orgs[i].dir.join("orderers/orderer0"),
            data_dir: self.dir.path().join(format!("orderer{}", i + 1)),
            genesis: self.genesis.clone(),
            raft: self.raft.clone(),
            attestation: self.tokens[i].clone(),
        }
    }

    /// The data directory of node `i`.
    pub fn data_dir(&self, i: usize) -> PathBuf {
        self.config(i).data_dir
    }

    /// Starts (or restarts) node `i` on its own runtime.
    pub fn start_node(&mut self, i: usize) {
        assert!(self.nodes[i].is_none(), "node {i} is running");
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name(format!("orderer-{}", i + 1))
            .enable_all()
            .build()
            .unwrap();
        let config = self.config(i);
        let node = rt.block_on(async {
            // The port was just released (or the node was killed): retry briefly.
            for _ in 0..50 {
                match OrdererNode::start(config.clone()).await {
                    Ok(node) => return node,
                    Err(cairn_orderer::OrdererError::Io { .. }) => {
                        tokio::time::sleep(Duration::from_millis(100)).await
                    }
                    Err(e) => panic!("starting orderer {i}: {e}"),
                }
            }
            panic!("orderer {i} could not bind its port");
        });
        self.nodes[i] = Some(Running { rt, node });
    }

    /// Kills node `i`: all its tasks stop at once; its files stay.
    pub fn kill(&mut self, i: usize) {
        let running = self.nodes[i].take().expect("node is running");
        let Running { rt, node } = running;
        drop(node);
        rt.shutdown_timeout(Duration::from_secs(5));
    }

    /// Node `i`, which must be running.
    pub fn node(&self, i: usize) -> &OrdererNode {
        &self.nodes[i].as_ref().expect("node is running").node
    }

    /// The running nodes' indexes.
    pub fn alive(&self) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|i| self.nodes[*i].is_some())
            .collect()
    }

    /// Waits until every running node agrees on one running leader; returns its index.
    pub fn wait_leader(&self, timeout: Duration) -> usize {
        self.wait_leader_among(&self.alive(), timeout)
    }

    /// Waits until nodes `among` (running) agree on a leader among them.
    pub fn wait_leader_among(&self, among: &[usize], timeout: Duration) -> usize {
        let start = Instant::now();
        loop {
            let leaders: Vec<Option<u64>> = among.iter().map(|i| self.node(*i).leader()).collect();
            if let Some(Some(l)) = leaders.first()
                && leaders.iter().all(|x| *x == Some(*l))
                && among.contains(&(*l as usize - 1))
            {
                return *l as usize - 1;
            }
            assert!(
                start.elapsed() < timeout,
                "no agreed leader after {timeout:?}: {leaders:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until every running node's ledger has `height` blocks.
    pub fn wait_height(&self, height: u64, timeout: Duration) {
        self.wait_height_on(&self.alive(), height, timeout);
    }

    /// Waits until the ledgers of nodes `on` have `height` blocks.
    pub fn wait_height_on(&self, on: &[usize], height: u64, timeout: Duration) {
        let start = Instant::now();
        loop {
            let heights: Vec<u64> = on.iter().map(|i| self.node(*i).ledger().height()).collect();
            if heights.iter().all(|h| *h >= height) {
                return;
            }
            assert!(
                start.elapsed() < timeout,
                "heights {heights:?} did not reach {height} in {timeout:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until `check` holds, for at most `timeout`; `what` names it.
    pub fn wait_until(&self, what: &str, timeout: Duration, check: impl Fn(&Cluster) -> bool) {
        let start = Instant::now();
        while !check(self) {
            assert!(start.elapsed() < timeout, "{what}: not after {timeout:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The channel orgs' MSP configs.
    pub fn orgs(&self) -> Vec<MspConfig> {
        self.net.orgs.iter().map(|o| o.msp.clone()).collect()
    }

    /// A client presenting `id`'s certificate and trusting the channel orgs.
    pub fn client(&self, id: &SigningIdentity) -> Client {
        Client::new(&TlsIdentity::new(id.clone(), Trust::new(&self.orgs()).unwrap()).unwrap())
            .unwrap()
    }

    /// Node `i`'s ledger.
    pub fn ledger(&self, i: usize) -> &Arc<Ledger> {
        self.node(i).ledger()
    }

    /// Blocks `0..height` of node `i`.
    pub fn blocks(&self, i: usize) -> Vec<Block> {
        let l = self.ledger(i);
        (0..l.height())
            .map(|n| l.block(n).unwrap().unwrap())
            .collect()
    }
}

/// A valid-to-order envelope: Org1's user writes `key` in contract `basic`,
/// endorsed by Org1's peer.
pub fn write_tx(net: &TestNet, key: &str) -> (cairn_ledger::ids::TxId, Envelope) {
    let rwset = cairn_testkit::write_set("basic", &[(key, b"v")]);
    let (txid, bytes) = net.endorsed_tx(&net.orgs[0].user, "basic", rwset, &[&net.orgs[0].peer]);
    (txid, Envelope::decode(&bytes).unwrap())
}

/// The `_lifecycle` transaction defining contract `basic` (any peer endorses).
pub fn define_basic(net: &TestNet) -> Envelope {
    let orgs: Vec<String> = net
        .orgs
        .iter()
        .map(|o| format!("'{}.peer'", o.msp_id))
        .collect();
    let (_, bytes) = net.define_contract_tx("basic", &format!("OR({})", orgs.join(",")));
    Envelope::decode(&bytes).unwrap()
}

/// Submits through any of `urls` (starting at `first`), retrying retryable
/// failures until `deadline`.
pub async fn submit(
    client: &Client,
    urls: &[String],
    first: usize,
    env: &Envelope,
    deadline: Instant,
) -> Result<BroadcastResponse, String> {
    let mut i = first;
    loop {
        let url = &urls[i % urls.len()];
        match api::broadcast(client, url, env).await {
            Ok(r) => return Ok(r),
            Err(e) if e.is_retryable() && Instant::now() < deadline => {
                i += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => return Err(e.to_string()),
        }
    }
}
