//! Test support shared by Cairn's test suites and benchmarks: a channel of
//! generated organizations (with the same cryptogen the CLI uses), its
//! genesis block, builders for signed, endorsed transactions, and ([`python`])
//! the pinned Python environment that cross-checks run in; with the `browser`
//! feature, (`browser`) a real headless Chromium driven over WebDriver.
//!
//! May use: `cairn-crypto`, `cairn-ledger`, `cairn-store`. Only ever a
//! dev-dependency: nothing in the product depends on it.

use std::path::{Path, PathBuf};

use cairn_crypto::{MspConfig, SigningIdentity};
use cairn_ledger::block::Block;
use cairn_ledger::config::ChannelConfig;
use cairn_ledger::encoding::Canonical;
use cairn_ledger::ids::{Timestamp, TxId};
use cairn_ledger::lifecycle::{ContractDefinition, LIFECYCLE_NS, definition_key};
use cairn_ledger::rwset::{KvWrite, NsRwSet, TxRwSet};
use cairn_ledger::tx::{ContractId, Invocation, ProposalResponsePayload, Response};
use cairn_store::Ledger;
use rand::RngCore;

#[cfg(feature = "browser")]
pub mod browser;
pub mod python;

/// The channel name test networks use.
pub const CHANNEL: &str = "testchannel";

/// One generated organization's identities.
pub struct TestOrg {
    /// MSP id, e.g. `Org1MSP`.
    pub msp_id: String,
    /// The org's MSP definition (CA and revocation list).
    pub msp: MspConfig,
    /// An admin.
    pub admin: SigningIdentity,
    /// A peer.
    pub peer: SigningIdentity,
    /// An orderer.
    pub orderer: SigningIdentity,
    /// A client user.
    pub user: SigningIdentity,
    /// Where its material is on disk.
    pub dir: PathBuf,
}

/// A channel of generated orgs; files live in a temporary directory that is
/// removed when this is dropped.
pub struct TestNet {
    /// Holds the generated material, when this net owns a temporary directory.
    pub tmp: Option<tempfile::TempDir>,
    /// The orgs, `Org1MSP`, `Org2MSP`, ...
    pub orgs: Vec<TestOrg>,
    /// The channel config (Fabric defaults; every org orders).
    pub config: ChannelConfig,
}

impl TestNet {
    /// Generates `n` orgs with the CLI's cryptogen and a channel of them, in
    /// a temporary directory.
    pub fn new(n: usize) -> TestNet {
        let tmp = tempfile::tempdir().expect("temp dir");
        let mut net = TestNet::generate_at(&tmp.path().join("crypto"), n);
        net.tmp = Some(tmp);
        net
    }

    /// Generates `n` orgs into `crypto` (kept after the net is dropped).
    pub fn generate_at(crypto: &Path, n: usize) -> TestNet {
        let names: Vec<String> = (1..=n).map(|i| format!("Org{i}")).collect();
        cairn_crypto::generate(&names, crypto, &cairn_crypto::GenerateOptions::default())
            .expect("cryptogen");
        TestNet::load(crypto, n)
    }

    /// Loads `n` orgs generated earlier into `crypto`.
    pub fn load(crypto: &Path, n: usize) -> TestNet {
        let names: Vec<String> = (1..=n).map(|i| format!("Org{i}")).collect();
        let orgs: Vec<TestOrg> = names
            .iter()
            .map(|name| load_org(&crypto.join(name.to_lowercase())))
            .collect();
        let config = ChannelConfig::with_defaults(
            CHANNEL,
            orgs.iter().map(|o| o.msp.clone()).collect(),
            orgs.iter().map(|o| o.msp_id.clone()).collect(),
        );
        TestNet {
            tmp: None,
            orgs,
            config,
        }
    }

    /// The genesis block of the channel, signed by Org1's orderer.
    pub fn genesis(&self) -> Block {
        cairn_store::genesis_block(&self.config, &self.orgs[0].orderer, now(), nonce())
            .expect("genesis block")
    }

    /// Creates a ledger for the channel in `dir`.
    pub fn ledger(&self, dir: &Path) -> Ledger {
        Ledger::create(dir, &self.genesis()).expect("create ledger")
    }

    /// A ledger in `dir` with the contract `asset` defined (block 1) and
    /// `blocks` blocks of three writes each after it (keys `key{b}{i}`),
    /// endorsed by the first two orgs' peers.
    pub fn sample_ledger(&self, dir: &Path, blocks: usize) -> Ledger {
        let ledger = self.ledger(dir);
        let (_, def) = self.define_contract_tx("asset", "");
        ledger
            .append(vec![def], now(), self.orderer())
            .expect("append definition");
        for b in 0..blocks {
            let txs = (0..3)
                .map(|i| {
                    let key = format!("key{b}{i}");
                    self.endorsed_tx(
                        &self.orgs[1].user,
                        "asset",
                        write_set(
                            "asset",
                            &[(key.as_str(), format!("value {b} {i}").as_bytes())],
                        ),
                        &[&self.orgs[0].peer, &self.orgs[1].peer],
                    )
                    .1
                })
                .collect();
            ledger
                .append(txs, now(), self.orderer())
                .expect("append block");
        }
        ledger
    }

    /// The orderer that signs blocks in tests.
    pub fn orderer(&self) -> &SigningIdentity {
        &self.orgs[0].orderer
    }

    /// An endorsed transaction invoking `contract` with this simulated
    /// read/write set, signed by `client` and endorsed by `endorsers`.
    pub fn endorsed_tx(
        &self,
        client: &SigningIdentity,
        contract: &str,
        rwset: TxRwSet,
        endorsers: &[&SigningIdentity],
    ) -> (TxId, Vec<u8>) {
        let invocation = Invocation {
            contract: contract.to_string(),
            function: "invoke".to_string(),
            args: Vec::new(),
            is_init: false,
        };
        let proposal = cairn_ledger::client::proposal(
            CHANNEL,
            client,
            invocation,
            Default::default(),
            nonce(),
            now(),
        );
        let payload = ProposalResponsePayload {
            proposal_hash: proposal.hash().expect("proposal hash"),
            contract: ContractId {
                name: contract.to_string(),
                version: "1".to_string(),
            },
            rwset,
            events: Vec::new(),
            response: Response {
                status: 200,
                message: String::new(),
                payload: Vec::new(),
            },
        };
        let responses: Vec<_> = endorsers
            .iter()
            .map(|e| cairn_ledger::client::endorse(&payload, e).expect("endorse"))
            .collect();
        let txid = proposal.header.txid;
        let env = cairn_ledger::client::assemble(&proposal, &responses, client).expect("assemble");
        (txid, env.encode().expect("encode envelope"))
    }

    /// A `_lifecycle` transaction committing a definition of `name` with this
    /// endorsement policy, endorsed by every org's peer.
    pub fn define_contract_tx(&self, name: &str, policy: &str) -> (TxId, Vec<u8>) {
        let def = ContractDefinition {
            name: name.to_string(),
            version: "1".to_string(),
            sequence: 1,
            endorsement_policy: policy.to_string(),
            init_required: false,
            collections: Vec::new(),
        };
        let rwset = TxRwSet {
            namespaces: vec![NsRwSet {
                namespace: LIFECYCLE_NS.to_string(),
                writes: vec![KvWrite {
                    key: definition_key(name),
                    is_delete: false,
                    value: def.encode().expect("encode definition"),
                }],
                ..NsRwSet::default()
            }],
        };
        let peers: Vec<&SigningIdentity> = self.orgs.iter().map(|o| &o.peer).collect();
        self.endorsed_tx(&self.orgs[0].admin, LIFECYCLE_NS, rwset, &peers)
    }
}

/// A read/write set writing `key = value` in `ns`.
pub fn write_set(ns: &str, writes: &[(&str, &[u8])]) -> TxRwSet {
    let mut w: Vec<KvWrite> = writes
        .iter()
        .map(|(k, v)| KvWrite {
            key: (*k).to_string(),
            is_delete: false,
            value: v.to_vec(),
        })
        .collect();
    w.sort_by(|a, b| a.key.cmp(&b.key));
    TxRwSet {
        namespaces: vec![NsRwSet {
            namespace: ns.to_string(),
            writes: w,
            ..NsRwSet::default()
        }],
    }
}

/// The current time as a ledger timestamp.
pub fn now() -> Timestamp {
    Timestamp::now()
}

/// A fresh random 24-byte nonce.
pub fn nonce() -> Vec<u8> {
    let mut n = vec![0u8; 24];
    rand::rng().fill_bytes(&mut n);
    n
}

/// `len` deterministic pseudo-random bytes from `state` (xorshift64, eight
/// bytes per step), for test content that must be re-derived to check what
/// a store kept. A zero `state` gives zeros.
pub fn xorshift_bytes(state: u64, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 8);
    let mut x = state;
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

fn load_org(dir: &Path) -> TestOrg {
    let msp = MspConfig::load(&dir.join("msp.json")).expect("msp.json");
    let id = |sub: &str| SigningIdentity::from_dir(&dir.join(sub)).expect("identity");
    TestOrg {
        msp_id: msp.msp_id.clone(),
        admin: id("admins/admin"),
        peer: id("peers/peer0"),
        orderer: id("orderers/orderer0"),
        user: id("users/user1"),
        msp,
        dir: dir.to_path_buf(),
    }
}

/// A port on 127.0.0.1 that is free now, for a node a test starts later on
/// a fixed address (other nodes' configs name it). Taken below Linux's
/// ephemeral range (32768-60999): a port the kernel handed out for `:0`
/// can be given again as the local port of another test's outgoing
/// connection before the node binds it, and then the node cannot.
///
/// Test processes run side by side and pick ports at random, so each
/// reservation also leaves a marker file for a while
/// (`$TMPDIR/cairn-test-ports/PORT`): another process skips a port
/// reserved in the last two minutes, before its owner had time to bind it.
pub fn reserve_port() -> u16 {
    use rand::Rng as _;
    let dir = std::env::temp_dir().join("cairn-test-ports");
    let _ = std::fs::create_dir_all(&dir);
    let mut rng = rand::rng();
    loop {
        let port = rng.random_range(10_000u16..32_000);
        if !claim(&dir.join(port.to_string())) {
            continue;
        }
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// Whether `marker` was free (absent, or older than two minutes) and is now ours.
fn claim(marker: &Path) -> bool {
    let fresh = |m: &Path| {
        std::fs::metadata(m)
            .and_then(|md| md.modified())
            .is_ok_and(|t| t.elapsed().is_ok_and(|age| age.as_secs() < 120))
    };
    if fresh(marker) {
        return false;
    }
    let _ = std::fs::remove_file(marker);
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(marker)
        .is_ok()
}
