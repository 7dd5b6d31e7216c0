//! An in-process channel for private data tests: generated orgs, one real
//! ledger (redb) and contract runtime per org, an orderer ledger that seals
//! blocks, the `private-transfer` JavaScript contract installed on every
//! peer and defined through the real `_lifecycle` (approve per org, commit).
//!
//! What the network will do is done here by hand and in the open: the
//! endorsing peer's [`Simulation::private_writes`] is what it would keep in
//! its transient store and disseminate; tests choose which ledgers receive
//! it at commit.
#![allow(dead_code, reason = "each test binary uses part of the support")]
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cairn_contract::{
    ContractError, ContractRuntime, CreatorInfo, InvokeRequest, LedgerResolver, PackageStore,
    RuntimeConfig, Simulation, package_dir,
};
use cairn_crypto::SigningIdentity;
use cairn_ledger::block::Block;
use cairn_ledger::encoding::Canonical;
use cairn_ledger::ids::{Timestamp, TxId};
use cairn_ledger::lifecycle::{CollectionConfig, LIFECYCLE_NS};
use cairn_ledger::private::{PrivateData, PrivateWriteSet};
use cairn_ledger::tx::{Invocation, Proposal};
use cairn_ledger::validation::ValidationCode;
use cairn_store::{LEDGER_FILE, Ledger};
use cairn_testkit::TestNet;
use serde_json::{Value, json};
use tempfile::TempDir;

pub const CC: &str = "private";

pub fn testdata(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../testdata")
            .join(name),
    )
    .unwrap()
}

/// One org's peer: its ledger (member of its org's collections) and runtime.
pub struct PeerNode {
    pub msp_id: String,
    pub ledger: Ledger,
    pub runtime: ContractRuntime,
    pub resolver: Arc<LedgerResolver>,
    pub dir: PathBuf,
}

pub struct Chain {
    pub net: TestNet,
    _dirs: Vec<TempDir>,
    pub orderer: Ledger,
    pub peers: Vec<PeerNode>,
    pub package_id: String,
    /// The contract's name on the channel ([`CC`] unless built with [`Chain::with_contract`]).
    pub cc: String,
    nonce: std::cell::Cell<u64>,
    /// The timestamp of the next proposals (`None`: the clock's).
    time: std::cell::Cell<Option<Timestamp>>,
}

/// A simulated proposal: what the client sent and what the peer answered.
pub struct Endorsed {
    pub proposal: Proposal,
    pub simulation: Simulation,
}

impl Chain {
    /// `n` orgs with the contract committed with these collections.
    pub fn new(n: usize, collections: Vec<CollectionConfig>, policy: &str) -> Chain {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/contracts/private-transfer");
        Chain::with_contract(n, &dir, "private_1", CC, collections, policy)
    }

    /// `n` orgs with the package in `dir` installed under `label` and
    /// committed as contract `name` with these collections.
    pub fn with_contract(
        n: usize,
        dir: &Path,
        label: &str,
        name: &str,
        collections: Vec<CollectionConfig>,
        policy: &str,
    ) -> Chain {
        let net = TestNet::new(n);
        let genesis = net.genesis();
        let mut dirs = Vec::new();
        let odir = tempfile::tempdir().unwrap();
        let orderer = Ledger::create(odir.path(), &genesis).unwrap();
        dirs.push(odir);
        let archive = package_dir(dir, label).unwrap();
        let mut peers = Vec::new();
        let mut package_id = String::new();
        for org in &net.orgs {
            let d = tempfile::tempdir().unwrap();
            let ledger = Ledger::create(&d.path().join("ledger"), &genesis).unwrap();
            ledger.set_member_org(&org.msp_id).unwrap();
            let store = Arc::new(PackageStore::open(&d.path().join("packages")).unwrap());
            package_id = store.install(&archive).unwrap().as_str().to_owned();
            peers.push(PeerNode {
                msp_id: org.msp_id.clone(),
                dir: d.path().join("ledger"),
                ledger,
                runtime: ContractRuntime::new(RuntimeConfig::new(org.msp_id.clone())),
                resolver: Arc::new(LedgerResolver::new(store, org.msp_id.clone())),
            });
            dirs.push(d);
        }
        let chain = Chain {
            net,
            _dirs: dirs,
            orderer,
            peers,
            package_id,
            cc: name.to_owned(),
            nonce: std::cell::Cell::new(1),
            time: std::cell::Cell::new(None),
        };
        chain.define(1, &collections, policy);
        chain
    }

    /// Approves (every org) and commits a definition of the contract.
    pub fn define(&self, sequence: u64, collections: &[CollectionConfig], policy: &str) {
        let args = self.definition_args(sequence, collections, policy);
        let approvals: Vec<Vec<u8>> = (0..self.peers.len())
            .map(|i| {
                let admin = &self.net.orgs[i].admin;
                let e = self
                    .lifecycle(i, admin, "ApproveChaincodeDefinitionForMyOrg", &args)
                    .unwrap();
                assert_eq!(
                    e.simulation.response.status, 200,
                    "{:?}",
                    e.simulation.response
                );
                self.envelope(&e, admin, &[i])
            })
            .collect();
        self.commit_block(approvals, &PrivateData::new(), &self.all());
        let admin = &self.net.orgs[0].admin;
        let endorsers: Vec<usize> = (0..self.peers.len()).collect();
        let e = self
            .lifecycle(0, admin, "CommitChaincodeDefinition", &args)
            .unwrap();
        assert_eq!(
            e.simulation.response.status, 200,
            "{:?}",
            e.simulation.response
        );
        let env = self.envelope(&e, admin, &endorsers);
        let b = self.commit_block(vec![env], &PrivateData::new(), &self.all());
        assert_eq!(b.metadata.validation_codes, vec![ValidationCode::Valid]);
    }

    pub fn definition_args(
        &self,
        sequence: u64,
        collections: &[CollectionConfig],
        policy: &str,
    ) -> Value {
        json!({
            "name": self.cc, "version": format!("{sequence}"), "sequence": sequence,
            "endorsementPolicy": policy, "collections": collections,
            "packageId": self.package_id,
        })
    }

    pub fn lifecycle(
        &self,
        peer: usize,
        who: &SigningIdentity,
        function: &str,
        args: &Value,
    ) -> Result<Endorsed, ContractError> {
        self.invoke_on(
            peer,
            who,
            LIFECYCLE_NS,
            function,
            &[&args.to_string()],
            BTreeMap::new(),
        )
    }

    /// Gives the next proposals this timestamp (`None`: the clock's again).
    pub fn set_time(&self, time: Option<Timestamp>) {
        self.time.set(time);
    }

    pub fn all(&self) -> Vec<usize> {
        (0..self.peers.len()).collect()
    }

    /// Simulates `function` of the contract on peer `peer`'s ledger.
    pub fn invoke(
        &self,
        peer: usize,
        who: &SigningIdentity,
        function: &str,
        args: &[&str],
        transient: &[(&str, &[u8])],
    ) -> Result<Endorsed, ContractError> {
        let transient = transient
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.to_vec()))
            .collect();
        self.invoke_on(peer, who, &self.cc, function, args, transient)
    }

    fn invoke_on(
        &self,
        peer: usize,
        who: &SigningIdentity,
        contract: &str,
        function: &str,
        args: &[&str],
        transient: BTreeMap<String, Vec<u8>>,
    ) -> Result<Endorsed, ContractError> {
        let n = self.nonce.get();
        self.nonce.set(n + 1);
        let proposal = cairn_ledger::client::proposal(
            &self.orderer.config().name,
            who,
            Invocation {
                contract: contract.to_owned(),
                function: function.to_owned(),
                args: args.iter().map(|a| a.as_bytes().to_vec()).collect(),
                is_init: false,
            },
            transient,
            n.to_be_bytes().iter().copied().chain([7u8; 16]).collect(),
            self.time.get().unwrap_or_else(Timestamp::now),
        );
        let p = &self.peers[peer];
        let simulation = p.runtime.invoke(InvokeRequest {
            proposal: &proposal,
            creator: &CreatorInfo::from_identity(who.identity()),
            state: Arc::new(p.ledger.snapshot().unwrap()),
            channel: Arc::new(p.ledger.config()),
            resolver: p.resolver.clone(),
        })?;
        Ok(Endorsed {
            proposal,
            simulation,
        })
    }

    /// The same proposal simulated on more peers (their answers must agree).
    pub fn endorse_also(&self, e: &Endorsed, peer: usize, who: &SigningIdentity) -> Simulation {
        let p = &self.peers[peer];
        p.runtime
            .invoke(InvokeRequest {
                proposal: &e.proposal,
                creator: &CreatorInfo::from_identity(who.identity()),
                state: Arc::new(p.ledger.snapshot().unwrap()),
                channel: Arc::new(p.ledger.config()),
                resolver: p.resolver.clone(),
            })
            .unwrap()
    }

    /// Signs `e`'s payload with the peers `endorsers` and assembles the
    /// client's envelope.
    pub fn envelope(&self, e: &Endorsed, client: &SigningIdentity, endorsers: &[usize]) -> Vec<u8> {
        let payload = e.simulation.response_payload(&e.proposal).unwrap();
        let responses: Vec<_> = endorsers
            .iter()
            .map(|i| cairn_ledger::client::endorse(&payload, &self.net.orgs[*i].peer).unwrap())
            .collect();
        cairn_ledger::client::assemble(&e.proposal, &responses, client)
            .unwrap()
            .encode()
            .unwrap()
    }

    /// Seals `txs` and commits the block on the orderer and on the peers in
    /// `receivers`, each given `private`; the other peers commit it without
    /// private data.
    pub fn commit_block(
        &self,
        txs: Vec<Vec<u8>>,
        private: &PrivateData,
        receivers: &[usize],
    ) -> Block {
        let b = self
            .orderer
            .append(txs, Timestamp::now(), self.net.orderer())
            .unwrap();
        let none = PrivateData::new();
        for (i, p) in self.peers.iter().enumerate() {
            let pd = if receivers.contains(&i) {
                private
            } else {
                &none
            };
            p.ledger.commit_with_private(&b, pd).unwrap();
        }
        b
    }

    /// Endorses on `peer` (which must succeed), and commits with the private
    /// writes handed to `receivers`. Returns the block's validation code.
    pub fn submit(
        &self,
        peer: usize,
        who: &SigningIdentity,
        function: &str,
        args: &[&str],
        transient: &[(&str, &[u8])],
        receivers: &[usize],
    ) -> ValidationCode {
        let e = self.invoke(peer, who, function, args, transient).unwrap();
        assert_eq!(
            e.simulation.response.status, 200,
            "{function}: {:?}",
            e.simulation.response
        );
        self.commit(&e, who, &[peer], receivers)
    }

    pub fn commit(
        &self,
        e: &Endorsed,
        who: &SigningIdentity,
        endorsers: &[usize],
        receivers: &[usize],
    ) -> ValidationCode {
        let env = self.envelope(e, who, endorsers);
        let pd = private_data(
            e.proposal.header.txid,
            e.simulation.private_writes().clone(),
        );
        self.commit_block(vec![env], &pd, receivers)
            .metadata
            .validation_codes[0]
    }

    pub fn ledger_file(&self, peer: usize) -> Vec<u8> {
        std::fs::read(self.peers[peer].dir.join(LEDGER_FILE)).unwrap()
    }
}

pub fn private_data(txid: TxId, writes: PrivateWriteSet) -> PrivateData {
    [(txid, writes)].into_iter().collect()
}

pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

pub fn payload(s: &Simulation) -> String {
    assert_eq!(s.response.status, 200, "{:?}", s.response);
    String::from_utf8(s.response.payload.clone()).unwrap()
}
