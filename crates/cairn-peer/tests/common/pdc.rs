//! A network for private data tests, on 127.0.0.1 over real mutual TLS:
//! Org1..Org4 all on `testchannel`, one orderer (a one-node Raft cluster of
//! Org1), and five peers: one per org plus a second peer of Org3, so that
//! an org has two members to compare. Every peer knows every other peer
//! (`gateway_peers`), which is where endorsers push private data and
//! reconciliation fetches it. Transient entries of transactions that never
//! commit are kept for 3 blocks.
//!
//! The `private-kv` contract (contracts/private-kv) is committed as `pkv`
//! with the AcmeChain collections (testdata `collections/acmechain.json`)
//! plus the collections the tests need (see [`collections`]).

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use cairn_crypto::{MspConfig, SigningIdentity};
use cairn_ledger::config::{ChannelConfig, OrdererEndpoint};
use cairn_ledger::encoding::Canonical;
use cairn_ledger::ids::Timestamp;
use cairn_ledger::state::StateView;
use cairn_ledger::tx::{EndorsedTx, Envelope, Transaction};
use cairn_net::{Client, TlsIdentity, Trust};
use cairn_orderer::{ClusterMember, OrdererConfig, OrdererNode};
use cairn_peer::{GatewayClient, GatewayError, KnownPeer, PeerConfig, PeerNode, api, invocation};
use cairn_testkit::TestNet;
use serde_json::{Value, json};
use tokio::runtime::Runtime;

use super::{CHANNEL, Running, fast_raft, free_port, start_orderer};

/// The contract's name on the channel.
pub const CC: &str = "pkv";
/// Its endorsement policy: any one org's peer.
pub const POLICY: &str = "OR('Org1MSP.peer','Org2MSP.peer','Org3MSP.peer','Org4MSP.peer')";

/// Peer indexes: (org index, peer number).
pub const PEERS: [(usize, u32); 5] = [(0, 0), (1, 0), (2, 0), (2, 1), (3, 0)];
/// Org1's peer.
pub const ORG1: usize = 0;
/// Org2's peer.
pub const ORG2: usize = 1;
/// Org3's first peer.
pub const ORG3: usize = 2;
/// Org3's second peer.
pub const ORG3B: usize = 3;
/// Org4's peer.
pub const ORG4: usize = 4;

/// The contract package directory.
pub const PRIVATE_KV: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../contracts/private-kv");

/// Everything the nodes of this test process logged.
static LOGS: Mutex<Vec<u8>> = Mutex::new(Vec::new());

/// Appends log lines to [`LOGS`].
struct LogCapture;

impl std::io::Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOGS.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What the nodes logged so far (every node of the process, debug level).
pub fn logs() -> Vec<u8> {
    LOGS.lock().unwrap().clone()
}

/// The network.
pub struct PdcNet {
    /// Org1..Org4.
    pub orgs: TestNet,
    dir: tempfile::TempDir,
    genesis_path: PathBuf,
    orderer_port: u16,
    peer_ports: Vec<u16>,
    ops_ports: Vec<u16>,
    /// The orderer.
    pub orderer: Option<Running<OrdererNode>>,
    /// The peers, see [`PEERS`].
    pub peers: Vec<Option<Running<PeerNode>>>,
    /// Listed in every peer's `gateway_peers` (started after this is set)
    /// besides the network's own peers.
    pub extra_known: Vec<KnownPeer>,
    /// Runs the test's clients.
    pub rt: Runtime,
    package_id: String,
}

/// The AcmeChain collections plus:
/// - `PDC3`: Org3, Org4, blockToLive 3;
/// - `REQ2`: Org3, Org4, requiredPeerCount 2;
/// - `MAX1`: Org3, Org4, requiredPeerCount 1, maxPeerCount 1;
/// - `EP34`: Org3, Org4, endorsement policy AND(Org3 peer, Org4 peer);
/// - `ALL2`: every org, endorsement policy OutOf(2, any org's peer).
pub fn collections() -> Vec<Value> {
    let acme: Vec<Value> = serde_json::from_slice(
        &std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../testdata/collections/acmechain.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let pair = "OR('Org3MSP.member', 'Org4MSP.member')";
    let mut out = acme;
    out.push(json!({"name": "PDC3", "policy": pair, "requiredPeerCount": 0, "maxPeerCount": 3, "blockToLive": 3}));
    out.push(json!({"name": "REQ2", "policy": pair, "requiredPeerCount": 2, "maxPeerCount": 3}));
    out.push(json!({"name": "MAX1", "policy": pair, "requiredPeerCount": 1, "maxPeerCount": 1}));
    out.push(
        json!({"name": "EP34", "policy": pair, "requiredPeerCount": 0, "maxPeerCount": 3,
        "endorsementPolicy": {"signaturePolicy": "AND('Org3MSP.peer','Org4MSP.peer')"}}),
    );
    out.push(json!({"name": "ALL2",
        "policy": "OR('Org1MSP.member','Org2MSP.member','Org3MSP.member','Org4MSP.member')",
        "requiredPeerCount": 0, "maxPeerCount": 4,
        "endorsementPolicy": {"signaturePolicy": "OutOf(2, 'Org1MSP.peer','Org2MSP.peer','Org3MSP.peer','Org4MSP.peer')"}}));
    // Held by Org3 and Org4 but endorsed by others: for the gateway's
    // transient data rule.
    out.push(json!({"name": "TRN", "policy": pair, "requiredPeerCount": 0, "maxPeerCount": 3,
        "endorsementPolicy": {"signaturePolicy": "OutOf(2, 'Org1MSP.peer','Org2MSP.peer','Org3MSP.peer','Org4MSP.peer')"}}));
    // Every member peer, label or not, is a target.
    out.push(json!({"name": "WIDE", "policy": pair, "requiredPeerCount": 0, "maxPeerCount": 10}));
    out.push(
        json!({"name": "TRN12", "policy": pair, "requiredPeerCount": 0, "maxPeerCount": 3,
        "endorsementPolicy": {"signaturePolicy": "AND('Org1MSP.peer','Org2MSP.peer')"}}),
    );
    out
}

impl PdcNet {
    /// Starts the orderer and the five peers, joins them and commits `pkv`
    /// with [`collections`].
    pub fn start() -> PdcNet {
        // Every node logs here, down to debug, so tests can search the logs.
        let _ = tracing_subscriber::fmt()
            .with_env_filter("warn,cairn_peer=debug,cairn_store=debug,cairn_contract=debug")
            .with_ansi(false)
            .with_writer(|| LogCapture)
            .try_init();
        let dir = tempfile::tempdir().unwrap();
        let opts = cairn_crypto::GenerateOptions {
            peers: 2,
            ..cairn_crypto::GenerateOptions::default()
        };
        let names: Vec<String> = (1..=4).map(|i| format!("Org{i}")).collect();
        cairn_crypto::generate(&names, &dir.path().join("crypto"), &opts).unwrap();
        let orgs = TestNet::load(&dir.path().join("crypto"), 4);
        let orderer_port = free_port();
        let mut config = ChannelConfig::with_defaults(
            CHANNEL,
            orgs.orgs.iter().map(|o| o.msp.clone()).collect(),
            vec![orgs.orgs[0].msp_id.clone()],
        );
        config.batch.timeout_ms = 50;
        config.orderers = vec![OrdererEndpoint {
            id: 1,
            msp_id: orgs.orgs[0].msp_id.clone(),
            url: format!("https://127.0.0.1:{orderer_port}"),
        }];
        let genesis = cairn_store::genesis_block(
            &config,
            &orgs.orgs[0].orderer,
            Timestamp::now(),
            cairn_testkit::nonce(),
        )
        .unwrap();
        let genesis_path = dir.path().join("genesis.block");
        std::fs::write(&genesis_path, genesis.encode().unwrap()).unwrap();
        let mut net = PdcNet {
            orgs,
            dir,
            genesis_path,
            orderer_port,
            peer_ports: PEERS.iter().map(|_| free_port()).collect(),
            ops_ports: PEERS.iter().map(|_| free_port()).collect(),
            orderer: None,
            peers: PEERS.iter().map(|_| None).collect(),
            extra_known: Vec::new(),
            rt: Runtime::new().unwrap(),
            package_id: String::new(),
        };
        net.start_orderer();
        for i in 0..PEERS.len() {
            net.start_peer(i);
        }
        for i in 0..PEERS.len() {
            let admin = net.client(&net.admin_of(i));
            let info = net
                .rt
                .block_on(api::join_channel(&admin, &net.peer_url(i), &genesis))
                .unwrap();
            assert_eq!(info.name, CHANNEL);
        }
        net.install();
        net.define(1, &collections());
        net
    }

    fn start_orderer(&mut self) {
        let url = format!("https://127.0.0.1:{}", self.orderer_port);
        self.orderer = Some(start_orderer(OrdererConfig {
            id: 1,
            listen: format!("127.0.0.1:{}", self.orderer_port).parse().unwrap(),
            cluster: vec![ClusterMember { id: 1, url }],
            identity_dir: self.orgs.orgs[0].dir.join("orderers/orderer0"),
            data_dir: self.dir.path().join("orderer"),
            genesis: self.genesis_path.clone(),
            raft: fast_raft(),
            attestation: Default::default(),
        }));
    }

    fn admin_of(&self, i: usize) -> SigningIdentity {
        self.orgs.orgs[PEERS[i].0].admin.clone()
    }

    /// Peer `i`'s base URL.
    pub fn peer_url(&self, i: usize) -> String {
        format!("https://127.0.0.1:{}", self.peer_ports[i])
    }

    /// Peer `i`'s operations URL.
    pub fn ops_url(&self, i: usize) -> String {
        format!("http://127.0.0.1:{}", self.ops_ports[i])
    }

    /// Peer `i`'s data directory.
    pub fn data_dir(&self, i: usize) -> PathBuf {
        self.dir.path().join(format!("peer{i}"))
    }

    fn peer_config(&self, i: usize) -> PeerConfig {
        let (org, n) = PEERS[i];
        let mut config = PeerConfig::new(
            self.orgs.orgs[org].dir.join(format!("peers/peer{n}")),
            self.data_dir(i),
            format!("127.0.0.1:{}", self.peer_ports[i]).parse().unwrap(),
        );
        config.operations_listen =
            Some(format!("127.0.0.1:{}", self.ops_ports[i]).parse().unwrap());
        config.gateway_peers = (0..PEERS.len())
            .filter(|j| *j != i)
            .map(|j| KnownPeer {
                msp_id: self.orgs.orgs[PEERS[j].0].msp_id.clone(),
                url: self.peer_url(j),
            })
            .chain(self.extra_known.iter().cloned())
            .collect();
        config.deliver.stall_timeout_ms = 1500;
        config.deliver.backoff_min_ms = 50;
        config.deliver.backoff_max_ms = 500;
        config.gateway.endorse_timeout_ms = 5000;
        config.private_data.push_timeout_ms = 2000;
        config.private_data.reconcile_interval_ms = 200;
        config.private_data.reconcile_backoff_max_ms = 1000;
        config.private_data.transient_retention_blocks = 3;
        config
    }

    /// (Re)starts peer `i` on its own runtime.
    pub fn start_peer(&mut self, i: usize) {
        assert!(self.peers[i].is_none());
        self.peers[i] = Some(super::start_running(self.peer_config(i), i));
    }

    /// Kills peer `i`: every task stops at once; its files stay.
    pub fn kill_peer(&mut self, i: usize) {
        super::stop_running(self.peers[i].take().unwrap());
    }

    /// Peer `i`, which must be running.
    pub fn peer(&self, i: usize) -> &PeerNode {
        &self.peers[i].as_ref().unwrap().node
    }

    /// Every org's MSP.
    pub fn all_orgs(&self) -> Vec<MspConfig> {
        self.orgs.orgs.iter().map(|o| o.msp.clone()).collect()
    }

    /// A transport client presenting `id`'s certificate.
    pub fn client(&self, id: &SigningIdentity) -> Client {
        Client::new(&TlsIdentity::new(id.clone(), Trust::new(&self.all_orgs()).unwrap()).unwrap())
            .unwrap()
    }

    /// A gateway client of `id` on peer `i`.
    pub fn gateway(&self, id: &SigningIdentity, i: usize) -> GatewayClient {
        GatewayClient::with_client(self.client(id), id.clone(), &self.peer_url(i), CHANNEL)
            .with_commit_wait(Duration::from_secs(30))
    }

    /// The client user of peer `i`'s org, on peer `i`.
    pub fn user(&self, i: usize) -> GatewayClient {
        self.gateway(&self.orgs.orgs[PEERS[i].0].user, i)
    }

    fn install(&mut self) {
        self.package_id = self.install_package(Path::new(PRIVATE_KV), "pkv_1");
    }

    /// Installs the contract in `dir` on every peer; returns its package id.
    pub fn install_package(&self, dir: &Path, label: &str) -> String {
        let archive = cairn_contract::package_dir(dir, label).unwrap();
        let mut ids = Vec::new();
        for i in 0..PEERS.len() {
            let admin = self.client(&self.admin_of(i));
            ids.push(
                self.rt
                    .block_on(api::install_package(&admin, &self.peer_url(i), &archive))
                    .unwrap(),
            );
        }
        assert!(ids.windows(2).all(|w| w[0] == w[1]));
        ids.remove(0)
    }

    /// Approves (every org) and commits definition `sequence` of `pkv`.
    pub fn define(&self, sequence: u64, collections: &[Value]) {
        self.define_contract(CC, &self.package_id, sequence, POLICY, collections);
    }

    /// Approves (every org) and commits a contract definition.
    pub fn define_contract(
        &self,
        name: &str,
        package_id: &str,
        sequence: u64,
        policy: &str,
        collections: &[Value],
    ) {
        let def = json!({
            "name": name, "version": format!("{sequence}"), "sequence": sequence,
            "endorsementPolicy": policy, "collections": collections,
            "packageId": package_id,
        })
        .to_string();
        let args = [def.as_str()];
        // Each org's admin on its first peer.
        let admins: Vec<GatewayClient> = [ORG1, ORG2, ORG3, ORG4]
            .iter()
            .map(|&i| self.gateway(&self.admin_of(i), i))
            .collect();
        let approved = self.rt.block_on(async {
            let calls = admins
                .iter()
                .map(|a| a.submit("_lifecycle", "ApproveChaincodeDefinitionForMyOrg", &args));
            let mut last = 0;
            for r in futures_util::future::join_all(calls).await {
                last = last.max(r.unwrap().block);
            }
            last
        });
        self.wait_peers(approved + 1);
        let c = self
            .rt
            .block_on(admins[0].submit("_lifecycle", "CommitChaincodeDefinition", &args))
            .unwrap();
        self.wait_peers(c.block + 1);
    }

    /// Waits until every running peer has announced at least `height`
    /// blocks (the announcement follows the whole commit, transient store
    /// clean-up included).
    pub fn wait_peers(&self, height: u64) {
        for (i, p) in self.peers.iter().enumerate() {
            if let Some(Running { rt, node }) = p {
                assert!(
                    rt.block_on(node.wait_for_height(CHANNEL, height, Duration::from_secs(30))),
                    "peer {i} at height {:?} did not reach {height}",
                    node.height(CHANNEL)
                );
            }
        }
    }

    /// Org client of peer `i` submits `function(args)` on peer `i` with
    /// `value` as transient data "value".
    pub fn submit(
        &self,
        i: usize,
        function: &str,
        args: &[&str],
        value: Option<&[u8]>,
    ) -> Result<cairn_peer::Committed, GatewayError> {
        let transient = value
            .map(|v| [("value".to_string(), v.to_vec())].into_iter().collect())
            .unwrap_or_default();
        self.rt.block_on(self.user(i).submit_invocation(
            invocation(CC, function, args),
            transient,
            &[],
        ))
    }

    /// Org client of peer `i` evaluates `function(args)` on peer `i`.
    pub fn evaluate(
        &self,
        i: usize,
        function: &str,
        args: &[&str],
    ) -> Result<String, GatewayError> {
        self.rt
            .block_on(self.user(i).evaluate(CC, function, args))
            .map(|b| String::from_utf8(b).unwrap())
    }

    /// The endorsed transaction `txid` as committed on peer `i`.
    pub fn endorsed_tx(&self, i: usize, txid: &cairn_ledger::ids::TxId) -> EndorsedTx {
        let ledger = self.peer(i).ledger(CHANNEL).unwrap();
        let loc = ledger.tx(txid).unwrap().unwrap();
        let block = ledger.block(loc.block).unwrap().unwrap();
        let envelope = Envelope::decode(&block.data[loc.index as usize]).unwrap();
        match envelope.transaction().unwrap() {
            Transaction::Endorsed(tx) => tx,
            other => panic!("not an endorsed transaction: {other:?}"),
        }
    }

    /// The package id of `pkv`'s package.
    pub fn package_id(&self) -> &str {
        &self.package_id
    }

    /// Peer `i`'s cleartext private state of `collection` (key, value).
    pub fn private_state(&self, i: usize, collection: &str) -> Vec<(String, Vec<u8>)> {
        let snapshot = self.peer(i).ledger(CHANNEL).unwrap().snapshot().unwrap();
        snapshot
            .private_range(CC, collection, "", "", 0)
            .unwrap()
            .into_iter()
            .map(|(k, v)| (k, v.value))
            .collect()
    }

    /// An HTTPS client (Org1's user) for the JSON API; it also speaks
    /// plain HTTP to the operations listener.
    pub fn http(&self) -> reqwest::Client {
        let tls = TlsIdentity::new(
            self.orgs.orgs[0].user.clone(),
            Trust::new(&self.all_orgs()).unwrap(),
        )
        .unwrap();
        reqwest::Client::builder()
            .use_preconfigured_tls((*tls.client_config()).clone())
            .build()
            .unwrap()
    }

    /// The sum of a counter over peer `i`'s `/metrics` lines that start
    /// with `prefix` (metric name and the first labels).
    pub fn metric(&self, i: usize, prefix: &str) -> u64 {
        let url = format!("{}/metrics", self.ops_url(i));
        let text = self.rt.block_on(async {
            self.http()
                .get(url)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        });
        text.lines()
            .filter(|l| l.starts_with(prefix))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>() as u64
    }
}

/// Whether any file under `dir` contains `needle` (raw bytes).
pub fn dir_contains(dir: &Path, needle: &[u8]) -> Option<PathBuf> {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            if let Some(p) = dir_contains(&path, needle) {
                return Some(p);
            }
        } else if std::fs::read(&path)
            .unwrap()
            .windows(needle.len())
            .any(|w| w == needle)
        {
            return Some(path);
        }
    }
    None
}

/// Whether `haystack` contains `needle`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
