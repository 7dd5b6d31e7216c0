//! An in-process Cairn network on 127.0.0.1 over real mutual TLS: 3
//! orderers (a Raft cluster) and 3 peers, one per org, on channel
//! `testchannel`. Every node runs on its own tokio runtime, so killing it
//! (dropping the runtime) stops all its tasks at once, as SIGKILL would; its
//! files stay and it can be restarted on the same port.
//!
//! Org4 exists but is not on `testchannel`; the harness can add channel
//! `other` (Org1 and Org4, one orderer of Org4) so that peer 1 trusts Org4
//! at the TLS layer. `Rogue` is an org no node trusts.
//!
//! The channel configuration names the orderers through TCP relays
//! ([`proxy::Proxy`]) so a test can stall one; the orderers' own Raft
//! traffic goes direct.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
#![allow(dead_code, reason = "each test binary uses part of the harness")]

pub mod pdc;
pub mod proxy;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use cairn_crypto::{MspConfig, SigningIdentity};
use cairn_ledger::block::Block;
use cairn_ledger::config::{ChannelConfig, OrdererEndpoint};
use cairn_ledger::encoding::Canonical;
use cairn_ledger::ids::Timestamp;
use cairn_ledger::state::VersionedValue;
use cairn_net::{Client, TlsIdentity, Trust};
use cairn_orderer::{ClusterMember, OrdererConfig, OrdererNode, RaftSettings};
use cairn_peer::{GatewayClient, KnownPeer, PeerConfig, PeerNode, api};
use cairn_testkit::TestNet;
use tokio::runtime::Runtime;

/// The main channel.
pub const CHANNEL: &str = "testchannel";
/// The second channel (Org1 and Org4).
pub const OTHER: &str = "other";

/// Where the asset-transfer contract lives.
pub const ASSET_TRANSFER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../contracts/asset-transfer"
);

/// A node and the runtime it lives on.
pub struct Running<T> {
    rt: Runtime,
    pub node: T,
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

/// Starts peer `i` with `config` on its own runtime, retrying while its
/// port is still held (a restarted peer's old sockets closing).
pub fn start_running(config: PeerConfig, i: usize) -> Running<PeerNode> {
    let rt = runtime();
    let node = rt.block_on(async {
        for _ in 0..50 {
            match PeerNode::start(config.clone()).await {
                Ok(node) => return node,
                Err(cairn_peer::PeerError::Io { .. }) => {
                    tokio::time::sleep(Duration::from_millis(100)).await
                }
                Err(e) => panic!("starting peer {i}: {e}"),
            }
        }
        panic!("peer {i} could not bind its port");
    });
    Running { rt, node }
}

/// Kills a peer as SIGKILL would: every task stops at once; its files stay.
pub fn stop_running(Running { rt, node }: Running<PeerNode>) {
    drop(node);
    rt.shutdown_timeout(Duration::from_secs(5));
}

fn free_port() -> u16 {
    cairn_testkit::reserve_port()
}

/// The network.
pub struct Net {
    /// Org1..Org4 (Org4 is not on `testchannel`).
    pub orgs: TestNet,
    /// A user of an org no node trusts.
    pub rogue: SigningIdentity,
    /// That org's MSP (its CA).
    pub rogue_msp: MspConfig,
    dir: tempfile::TempDir,
    /// `testchannel`'s configuration.
    pub config: ChannelConfig,
    /// Its genesis block.
    pub genesis: Block,
    genesis_path: PathBuf,
    orderer_ports: Vec<u16>,
    peer_ports: Vec<u16>,
    ops_ports: Vec<u16>,
    /// The orderers of `testchannel`.
    pub orderers: Vec<Option<Running<OrdererNode>>>,
    /// The peers, one per org.
    pub peers: Vec<Option<Running<PeerNode>>>,
    /// The orderer of `other`, once created.
    pub other_orderer: Option<Running<OrdererNode>>,
    /// The relays the channel config names, one per orderer.
    pub proxies: Vec<proxy::Proxy>,
    /// Runs the test's clients and the relays.
    pub rt: Runtime,
}

impl Net {
    /// Starts 3 orderers and 3 peers; each peer's admin joins `testchannel`.
    pub fn start() -> Net {
        let filter = tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| "warn,cairn_peer=info".into());
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_test_writer()
            .try_init();
        let dir = tempfile::tempdir().unwrap();
        // asset-transfer lets only clients with this attribute create assets.
        let opts = cairn_crypto::GenerateOptions {
            user_attrs: BTreeMap::from([("abac.creator".to_string(), "true".to_string())]),
            ..cairn_crypto::GenerateOptions::default()
        };
        let names: Vec<String> = (1..=4).map(|i| format!("Org{i}")).collect();
        cairn_crypto::generate(&names, &dir.path().join("crypto"), &opts).unwrap();
        let orgs = TestNet::load(&dir.path().join("crypto"), 4);
        cairn_crypto::generate(
            &["Rogue".to_string()],
            &dir.path().join("rogue"),
            &cairn_crypto::GenerateOptions::default(),
        )
        .unwrap();
        let rogue = SigningIdentity::from_dir(&dir.path().join("rogue/rogue/users/user1")).unwrap();
        let rogue_msp = MspConfig::load(&dir.path().join("rogue/rogue/msp.json")).unwrap();
        let orderer_ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
        let rt = Runtime::new().unwrap();
        let proxies: Vec<proxy::Proxy> = orderer_ports
            .iter()
            .map(|p| proxy::Proxy::start(&rt, *p))
            .collect();
        let mut config = ChannelConfig::with_defaults(
            CHANNEL,
            orgs.orgs[..3].iter().map(|o| o.msp.clone()).collect(),
            orgs.orgs[..3].iter().map(|o| o.msp_id.clone()).collect(),
        );
        config.batch.timeout_ms = 50;
        config.orderers = (0..3)
            .map(|i| OrdererEndpoint {
                id: i as u64 + 1,
                msp_id: orgs.orgs[i].msp_id.clone(),
                url: format!("https://127.0.0.1:{}", proxies[i].port),
            })
            .collect();
        let genesis = cairn_store::genesis_block(
            &config,
            &orgs.orgs[0].orderer,
            Timestamp::now(),
            cairn_testkit::nonce(),
        )
        .unwrap();
        let genesis_path = dir.path().join("genesis.block");
        std::fs::write(&genesis_path, genesis.encode().unwrap()).unwrap();
        let mut net = Net {
            rogue,
            rogue_msp,
            dir,
            config,
            genesis,
            genesis_path,
            orderer_ports,
            peer_ports: (0..3).map(|_| free_port()).collect(),
            ops_ports: (0..3).map(|_| free_port()).collect(),
            orderers: (0..3).map(|_| None).collect(),
            peers: (0..3).map(|_| None).collect(),
            other_orderer: None,
            proxies,
            rt,
            orgs,
        };
        for i in 0..3 {
            net.start_orderer(i);
        }
        for i in 0..3 {
            net.start_peer(i);
        }
        for i in 0..3 {
            let admin = net.client(&net.orgs.orgs[i].admin);
            let info = net
                .rt
                .block_on(api::join_channel(&admin, &net.peer_url(i), &net.genesis))
                .unwrap();
            assert_eq!(info.name, CHANNEL);
        }
        net
    }

    /// Orderer `i`'s own URL (not through its relay).
    pub fn orderer_url(&self, i: usize) -> String {
        format!("https://127.0.0.1:{}", self.orderer_ports[i])
    }

    /// Peer `i`'s base URL.
    pub fn peer_url(&self, i: usize) -> String {
        format!("https://127.0.0.1:{}", self.peer_ports[i])
    }

    /// Peer `i`'s operations URL.
    pub fn ops_url(&self, i: usize) -> String {
        format!("http://127.0.0.1:{}", self.ops_ports[i])
    }

    /// Which orderer (index) a URL of the channel config reaches.
    pub fn orderer_index(&self, url: &str) -> usize {
        (0..3)
            .find(|i| format!("https://127.0.0.1:{}", self.proxies[*i].port) == url)
            .unwrap()
    }

    /// (Re)starts orderer `i` of `testchannel`.
    pub fn start_orderer(&mut self, i: usize) {
        assert!(self.orderers[i].is_none());
        let config = OrdererConfig {
            id: i as u64 + 1,
            listen: format!("127.0.0.1:{}", self.orderer_ports[i])
                .parse()
                .unwrap(),
            cluster: (0..3)
                .map(|j| ClusterMember {
                    id: j as u64 + 1,
                    url: self.orderer_url(j),
                })
                .collect(),
            identity_dir: self.orgs.orgs[i].dir.join("orderers/orderer0"),
            data_dir: self.dir.path().join(format!("orderer{i}")),
            genesis: self.genesis_path.clone(),
            raft: fast_raft(),
            attestation: Default::default(),
        };
        self.orderers[i] = Some(start_orderer(config));
    }

    /// Kills orderer `i`.
    pub fn kill_orderer(&mut self, i: usize) {
        let Running { rt, node } = self.orderers[i].take().unwrap();
        drop(node);
        rt.shutdown_timeout(Duration::from_secs(5));
    }

    fn peer_config(&self, i: usize) -> PeerConfig {
        let org = &self.orgs.orgs[i];
        let mut config = PeerConfig::new(
            org.dir.join("peers/peer0"),
            self.dir.path().join(format!("peer{i}")),
            format!("127.0.0.1:{}", self.peer_ports[i]).parse().unwrap(),
        );
        config.operations_listen =
            Some(format!("127.0.0.1:{}", self.ops_ports[i]).parse().unwrap());
        // The next org's peer is listed last, so the gateway first tries the
        // one after it (and must fail over when that one is down).
        config.gateway_peers = [(i + 2) % 3, (i + 1) % 3]
            .iter()
            .map(|&j| KnownPeer {
                msp_id: self.orgs.orgs[j].msp_id.clone(),
                url: self.peer_url(j),
            })
            .collect();
        config.deliver.stall_timeout_ms = 1500;
        config.deliver.backoff_min_ms = 50;
        config.deliver.backoff_max_ms = 1000;
        config.gateway.endorse_timeout_ms = 5000;
        config
    }

    /// (Re)starts peer `i` on its own runtime.
    pub fn start_peer(&mut self, i: usize) {
        assert!(self.peers[i].is_none());
        self.peers[i] = Some(start_running(self.peer_config(i), i));
    }

    /// Peer `i`'s data directory.
    pub fn peer_data_dir(&self, i: usize) -> PathBuf {
        self.dir.path().join(format!("peer{i}"))
    }

    /// (Re)starts peer `i` with `edit` applied to its configuration.
    pub fn start_peer_with(&mut self, i: usize, edit: impl FnOnce(&mut PeerConfig)) {
        assert!(self.peers[i].is_none());
        let mut config = self.peer_config(i);
        edit(&mut config);
        self.peers[i] = Some(start_running(config, i));
    }

    /// Kills peer `i`: every task stops at once; its files stay.
    pub fn kill_peer(&mut self, i: usize) {
        stop_running(self.peers[i].take().unwrap());
    }

    /// Peer `i`, which must be running.
    pub fn peer(&self, i: usize) -> &PeerNode {
        &self.peers[i].as_ref().unwrap().node
    }

    /// Orderer `i`, which must be running.
    pub fn orderer(&self, i: usize) -> &OrdererNode {
        &self.orderers[i].as_ref().unwrap().node
    }

    /// The `testchannel` orgs' MSPs.
    pub fn channel_orgs(&self) -> Vec<MspConfig> {
        self.config.orgs.clone()
    }

    /// Every generated org's MSP (Org1..Org4).
    pub fn all_orgs(&self) -> Vec<MspConfig> {
        self.orgs.orgs.iter().map(|o| o.msp.clone()).collect()
    }

    /// A transport client presenting `id`'s certificate.
    pub fn client(&self, id: &SigningIdentity) -> Client {
        Client::new(&TlsIdentity::new(id.clone(), Trust::new(&self.all_orgs()).unwrap()).unwrap())
            .unwrap()
    }

    /// A gateway client of `id` on peer `i`'s gateway, channel `channel`.
    pub fn gateway(&self, id: &SigningIdentity, i: usize, channel: &str) -> GatewayClient {
        GatewayClient::with_client(self.client(id), id.clone(), &self.peer_url(i), channel)
            .with_commit_wait(Duration::from_secs(30))
    }

    /// Org `i`'s client user on its own peer.
    pub fn user(&self, i: usize) -> GatewayClient {
        self.gateway(&self.orgs.orgs[i].user, i, CHANNEL)
    }

    /// Installs asset-transfer on every peer, has every org approve it,
    /// and commits the definition (`MAJORITY Endorsement`).
    pub fn deploy_asset_transfer(&self) {
        let archive =
            cairn_contract::package_dir(std::path::Path::new(ASSET_TRANSFER), "basic_1.0").unwrap();
        let mut ids = Vec::new();
        for i in 0..3 {
            let admin = self.client(&self.orgs.orgs[i].admin);
            ids.push(
                self.rt
                    .block_on(api::install_package(&admin, &self.peer_url(i), &archive))
                    .unwrap(),
            );
        }
        assert!(ids.windows(2).all(|w| w[0] == w[1]));
        let def = serde_json::json!({"name": "basic", "version": "1.0", "sequence": 1, "packageId": ids[0]})
            .to_string();
        let admins: Vec<GatewayClient> = (0..3)
            .map(|i| self.gateway(&self.orgs.orgs[i].admin, i, CHANNEL))
            .collect();
        let args = [def.as_str()];
        let approved = self.rt.block_on(async {
            let approvals = admins
                .iter()
                .map(|a| a.submit("_lifecycle", "ApproveChaincodeDefinitionForMyOrg", &args));
            let mut last = 0;
            for r in futures_util::future::join_all(approvals).await {
                let c = r.unwrap();
                assert_eq!(
                    c.endorsers.len(),
                    1,
                    "an approval is endorsed by its own org only"
                );
                last = last.max(c.block);
            }
            last
        });
        // Each gateway answered once its own peer committed: the endorsers of
        // what follows must all have seen every approval, then the definition.
        self.wait_peers(approved + 1, Duration::from_secs(30));
        let c = self
            .rt
            .block_on(admins[0].submit("_lifecycle", "CommitChaincodeDefinition", &args))
            .unwrap();
        assert_eq!(c.endorsers.len(), 2, "MAJORITY LifecycleEndorsement");
        self.wait_peers(c.block + 1, Duration::from_secs(30));
    }

    /// Waits until every running peer has at least `height` blocks of `testchannel`.
    pub fn wait_peers(&self, height: u64, timeout: Duration) {
        let start = Instant::now();
        loop {
            let heights: Vec<u64> = (0..3)
                .filter(|i| self.peers[*i].is_some())
                .map(|i| self.peer(i).height(CHANNEL).unwrap_or(0))
                .collect();
            if heights.iter().all(|h| *h >= height) {
                return;
            }
            assert!(
                start.elapsed() < timeout,
                "peer heights {heights:?} did not reach {height} in {timeout:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The height of the ordering service (the highest running orderer's).
    pub fn orderer_height(&self) -> u64 {
        (0..3)
            .filter_map(|i| self.orderers[i].as_ref())
            .map(|r| r.node.ledger().height())
            .max()
            .unwrap()
    }

    /// Peer `i`'s whole world state of `testchannel`.
    pub fn state(&self, i: usize) -> Vec<(String, String, VersionedValue)> {
        self.peer(i)
            .ledger(CHANNEL)
            .unwrap()
            .snapshot()
            .unwrap()
            .all_state()
            .unwrap()
    }

    /// Creates channel `other` (Org1 and Org4, ordered by one orderer of
    /// Org4) and joins peer 1 (Org1) to it.
    pub fn create_other_channel(&mut self) -> Block {
        let orgs = &self.orgs.orgs;
        let port = free_port();
        let mut config = ChannelConfig::with_defaults(
            OTHER,
            vec![orgs[0].msp.clone(), orgs[3].msp.clone()],
            vec![orgs[3].msp_id.clone()],
        );
        config.batch.timeout_ms = 50;
        let url = format!("https://127.0.0.1:{port}");
        config.orderers = vec![OrdererEndpoint {
            id: 1,
            msp_id: orgs[3].msp_id.clone(),
            url: url.clone(),
        }];
        let genesis = cairn_store::genesis_block(
            &config,
            &orgs[3].orderer,
            Timestamp::now(),
            cairn_testkit::nonce(),
        )
        .unwrap();
        let path = self.dir.path().join("other.block");
        std::fs::write(&path, genesis.encode().unwrap()).unwrap();
        self.other_orderer = Some(start_orderer(OrdererConfig {
            id: 1,
            listen: format!("127.0.0.1:{port}").parse().unwrap(),
            cluster: vec![ClusterMember { id: 1, url }],
            identity_dir: orgs[3].dir.join("orderers/orderer0"),
            data_dir: self.dir.path().join("orderer-other"),
            genesis: path,
            raft: fast_raft(),
            attestation: Default::default(),
        }));
        let admin = self.client(&orgs[0].admin);
        let info = self
            .rt
            .block_on(api::join_channel(&admin, &self.peer_url(0), &genesis))
            .unwrap();
        assert_eq!(info.orgs, ["Org1MSP", "Org4MSP"]);
        genesis
    }
}

fn fast_raft() -> RaftSettings {
    RaftSettings {
        heartbeat_ms: 100,
        election_min_ms: 400,
        election_max_ms: 800,
        ..RaftSettings::default()
    }
}

fn start_orderer(config: OrdererConfig) -> Running<OrdererNode> {
    let rt = runtime();
    let node = rt.block_on(async {
        for _ in 0..50 {
            match OrdererNode::start(config.clone()).await {
                Ok(node) => return node,
                Err(cairn_orderer::OrdererError::Io { .. }) => {
                    tokio::time::sleep(Duration::from_millis(100)).await
                }
                Err(e) => panic!("starting orderer {}: {e}", config.id),
            }
        }
        panic!("orderer {} could not bind its port", config.id);
    });
    Running { rt, node }
}

/// Reads frames until `pred` holds for one, within `timeout`.
pub async fn next_matching<T, F>(
    stream: &mut cairn_net::FrameStream<T>,
    timeout: Duration,
    mut pred: F,
) -> T
where
    T: serde::de::DeserializeOwned + std::fmt::Debug,
    F: FnMut(&T) -> bool,
{
    tokio::time::timeout(timeout, async {
        loop {
            let item = stream.next().await.expect("stream ended").unwrap();
            if pred(&item) {
                return item;
            }
        }
    })
    .await
    .expect("no matching event in time")
}

/// Keeps the test's assertion messages short: a map of state for diffs.
pub fn state_map(
    state: &[(String, String, VersionedValue)],
) -> BTreeMap<(String, String), Vec<u8>> {
    state
        .iter()
        .map(|(ns, k, v)| ((ns.clone(), k.clone()), v.value.clone()))
        .collect()
}

/// What the JSON API's client flow produced.
pub struct JsonFlow {
    /// The prepared proposal as the API returned it (`proposal`, `txid`).
    pub prepared: serde_json::Value,
    /// The proposal bytes the client signed.
    pub proposal: Vec<u8>,
    /// The transaction bytes the client signed.
    pub tx: Vec<u8>,
    /// The submit answer (asserted `VALID`).
    pub submitted: serde_json::Value,
}

/// The flow a browser client follows on the JSON API of the peer at
/// `base`: prepare `call`, sign and endorse, sign and submit. The client's
/// key never leaves the client.
pub async fn json_submit(
    http: &reqwest::Client,
    base: &str,
    user: &SigningIdentity,
    call: &serde_json::Value,
) -> JsonFlow {
    let prepared: serde_json::Value = http
        .post(format!("{base}/api/v1/channels/{CHANNEL}/proposals"))
        .json(call)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let proposal = hex::decode(prepared["proposal"].as_str().unwrap()).unwrap();
    let endorsed = http
        .post(format!("{base}/api/v1/gateway/endorse"))
        .json(&serde_json::json!({"proposal": hex::encode(&proposal),
            "signature": hex::encode(user.sign(&proposal))}))
        .send()
        .await
        .unwrap();
    assert_eq!(endorsed.status(), 200);
    let endorsed: serde_json::Value = endorsed.json().await.unwrap();
    let tx = hex::decode(endorsed["transaction"].as_str().unwrap()).unwrap();
    let submitted: serde_json::Value = http
        .post(format!("{base}/api/v1/gateway/submit"))
        .json(&serde_json::json!({"transaction": hex::encode(&tx),
            "signature": hex::encode(user.sign(&tx))}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(submitted["code"], "VALID", "{submitted}");
    JsonFlow {
        prepared,
        proposal,
        tx,
        submitted,
    }
}
