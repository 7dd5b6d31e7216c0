//! Test support: an in-memory `StateView` that commits read/write sets with
//! an MVCC check (as the validator will), orgs with real certificates, and
//! proposal builders. Shared by the integration tests and the benchmark.
#![allow(dead_code, reason = "each test binary uses part of the support")]
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use cairn_contract::{
    ContractError, ContractPackage, ContractResolver, ContractRuntime, CreatorInfo, Deployed,
    InvokeRequest, Limits, RuntimeConfig, Simulation,
};
use cairn_crypto::{CertificateAuthority, IssueRequest, KeyType, MspSet, Role};
use cairn_ledger::config::ChannelConfig;
use cairn_ledger::ids::{Timestamp, TxId, Version};
use cairn_ledger::lifecycle::ContractDefinition;
use cairn_ledger::memory::MemoryState;
use cairn_ledger::rwset::{MetadataEntry, TxRwSet};
use cairn_ledger::state::{HistoryEntry, StateError, StateView, VersionedValue};
use cairn_ledger::tx::{Invocation, Proposal, TxHeader};

pub const CHANNEL: &str = "mychannel";

/// Path of a package under the repository's `contracts/`.
pub fn contract_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../contracts")
        .join(name)
}

/// World state in memory (the ledger crate's `MemoryState` behind a lock).
/// `commit` applies a simulation's read/write set as a one-transaction
/// block, refusing it if a read is stale (MVCC).
#[derive(Default)]
pub struct MemState(RwLock<MemoryState>);

impl MemState {
    pub fn new() -> Arc<Self> {
        Arc::new(MemState::default())
    }

    pub fn commit(
        &self,
        rwset: &TxRwSet,
        txid: TxId,
        timestamp: Timestamp,
    ) -> Result<Version, String> {
        let mut inner = self.0.write().unwrap();
        for ns in &rwset.namespaces {
            for read in &ns.reads {
                let now = inner
                    .state
                    .get(&(ns.namespace.clone(), read.key.clone()))
                    .map(|v| v.version);
                if now != read.version {
                    return Err(format!("MVCC conflict on {}/{:?}", ns.namespace, read.key));
                }
            }
        }
        let version = Version {
            block: inner.height,
            tx: 0,
        };
        inner.height += 1;
        for ns in &rwset.namespaces {
            for w in &ns.writes {
                let k = (ns.namespace.clone(), w.key.clone());
                if w.is_delete {
                    inner.state.remove(&k);
                } else {
                    inner.state.insert(
                        k.clone(),
                        VersionedValue {
                            value: w.value.clone(),
                            version,
                        },
                    );
                }
                // MemoryState keeps history oldest first.
                inner.history.entry(k).or_default().push(HistoryEntry {
                    txid,
                    timestamp,
                    is_delete: w.is_delete,
                    value: w.value.clone(),
                });
            }
            for m in &ns.metadata_writes {
                inner
                    .metadata
                    .insert((ns.namespace.clone(), m.key.clone()), m.entries.clone());
            }
        }
        Ok(version)
    }

    pub fn get(&self, ns: &str, key: &str) -> Option<Vec<u8>> {
        self.0
            .read()
            .unwrap()
            .state
            .get(&(ns.to_owned(), key.to_owned()))
            .map(|v| v.value.clone())
    }
}

impl StateView for MemState {
    fn state(&self, namespace: &str, key: &str) -> Result<Option<VersionedValue>, StateError> {
        self.0.read().unwrap().state(namespace, key)
    }

    fn range(
        &self,
        namespace: &str,
        start: &str,
        end: &str,
        limit: usize,
    ) -> Result<Vec<(String, VersionedValue)>, StateError> {
        self.0.read().unwrap().range(namespace, start, end, limit)
    }

    fn history(&self, namespace: &str, key: &str) -> Result<Vec<HistoryEntry>, StateError> {
        self.0.read().unwrap().history(namespace, key)
    }

    fn metadata(&self, namespace: &str, key: &str) -> Result<Vec<MetadataEntry>, StateError> {
        self.0.read().unwrap().metadata(namespace, key)
    }

    fn height(&self) -> Result<u64, StateError> {
        self.0.read().unwrap().height()
    }
}

/// An organization with a CA that issues real certificates.
pub struct Org {
    pub ca: CertificateAuthority,
    msps: MspSet,
}

impl Org {
    pub fn new(name: &str) -> Org {
        let msp = format!("{name}MSP");
        let ca = CertificateAuthority::new(
            name,
            &msp,
            KeyType::Ed25519,
            cairn_crypto::unix_now() - 3600,
            cairn_crypto::unix_now() + 10 * 365 * 86_400,
        )
        .unwrap();
        let msps = MspSet::from_configs(&[ca.msp_config()]).unwrap();
        Org { ca, msps }
    }

    pub fn msp_id(&self) -> &str {
        self.ca.msp_id()
    }

    pub fn identity(&self, cn: &str, role: Role, attrs: &[(&str, &str)]) -> CreatorInfo {
        let mut req = IssueRequest::new(cn, role, 365);
        for (k, v) in attrs {
            req.attrs.insert((*k).to_owned(), (*v).to_owned());
        }
        let (cert, _key) = self.ca.issue(&req, KeyType::Ed25519).unwrap();
        CreatorInfo::from_identity(
            &self
                .msps
                .identify(cert.der(), cairn_crypto::unix_now())
                .unwrap(),
        )
    }
}

pub fn channel(orgs: &[&Org]) -> Arc<ChannelConfig> {
    let configs = orgs.iter().map(|o| o.ca.msp_config()).collect();
    Arc::new(ChannelConfig::with_defaults(CHANNEL, configs, Vec::new()))
}

/// A proposal; the nonce makes the txid (and so the txid-seeded random numbers).
pub fn proposal(
    creator: &CreatorInfo,
    contract: &str,
    function: &str,
    args: &[&str],
    nonce: u64,
) -> Proposal {
    let nonce = nonce.to_be_bytes().to_vec();
    Proposal {
        header: TxHeader {
            channel: CHANNEL.to_owned(),
            txid: TxId::compute(&nonce, creator.cert_der()),
            creator: creator.cert_der().to_vec(),
            nonce,
            timestamp: Timestamp {
                seconds: 1_700_000_000,
                nanos: 123_000_000,
            },
        },
        invocation: Invocation {
            contract: contract.to_owned(),
            function: function.to_owned(),
            args: args.iter().map(|a| a.as_bytes().to_vec()).collect(),
            is_init: false,
        },
        transient: BTreeMap::new(),
    }
}

/// Resolves fixed contract names to packages (no lifecycle involved).
#[derive(Default)]
pub struct FixedResolver(RwLock<HashMap<String, Deployed>>);

impl FixedResolver {
    pub fn with(name: &str, package: Arc<ContractPackage>) -> Arc<Self> {
        let r = FixedResolver::default();
        r.add(name, package, false);
        Arc::new(r)
    }

    pub fn add(&self, name: &str, package: Arc<ContractPackage>, init_required: bool) {
        let definition = ContractDefinition {
            name: name.to_owned(),
            version: "1.0".to_owned(),
            sequence: 1,
            endorsement_policy: String::new(),
            init_required,
            collections: Vec::new(),
        };
        self.0.write().unwrap().insert(
            name.to_owned(),
            Deployed {
                definition,
                definition_version: None,
                package,
            },
        );
    }
}

impl ContractResolver for FixedResolver {
    fn resolve(
        &self,
        name: &str,
        _state: &dyn StateView,
    ) -> Result<Option<Deployed>, ContractError> {
        Ok(self.0.read().unwrap().get(name).cloned())
    }
}

/// A peer in a test: runtime, state, channel and resolver.
pub struct Peer {
    pub runtime: ContractRuntime,
    pub state: Arc<MemState>,
    pub channel: Arc<ChannelConfig>,
    pub resolver: Arc<dyn ContractResolver + Send + Sync>,
}

impl Peer {
    pub fn new(
        msp_id: &str,
        channel: Arc<ChannelConfig>,
        resolver: Arc<dyn ContractResolver + Send + Sync>,
    ) -> Peer {
        Peer {
            runtime: ContractRuntime::new(RuntimeConfig::new(msp_id)),
            state: MemState::new(),
            channel,
            resolver,
        }
    }

    pub fn simulate(
        &self,
        proposal: &Proposal,
        creator: &CreatorInfo,
    ) -> Result<Simulation, ContractError> {
        self.runtime.invoke(self.request(proposal, creator))
    }

    pub fn simulate_with(
        &self,
        proposal: &Proposal,
        creator: &CreatorInfo,
        limits: &Limits,
    ) -> Result<Simulation, ContractError> {
        self.runtime
            .invoke_with_limits(self.request(proposal, creator), limits)
    }

    fn request<'a>(&self, proposal: &'a Proposal, creator: &'a CreatorInfo) -> InvokeRequest<'a> {
        InvokeRequest {
            proposal,
            creator,
            state: self.state.clone(),
            channel: self.channel.clone(),
            resolver: self.resolver.clone(),
        }
    }

    /// Simulates and, on success, commits; returns the simulation.
    pub fn submit(&self, proposal: &Proposal, creator: &CreatorInfo) -> Simulation {
        let sim = self.simulate(proposal, creator).unwrap();
        if sim.is_success() {
            self.state
                .commit(&sim.rwset, proposal.header.txid, proposal.header.timestamp)
                .unwrap();
        }
        sim
    }
}

pub fn payload_str(sim: &Simulation) -> String {
    String::from_utf8(sim.response.payload.clone()).unwrap()
}

pub fn payload_json(sim: &Simulation) -> serde_json::Value {
    assert_eq!(
        sim.response.status, 200,
        "expected success, got {:?}",
        sim.response
    );
    serde_json::from_slice(&sim.response.payload).unwrap()
}
