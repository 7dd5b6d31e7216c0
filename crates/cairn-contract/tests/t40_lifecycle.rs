//! Fabric 2.x's lifecycle: package, install, approve per org, commit once
//! `MAJORITY Endorsement` is met, upgrade with a higher sequence, and
//! checkcommitreadiness showing differing approvals.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod support;

use std::sync::Arc;

use cairn_contract::{
    ContractError, ContractRuntime, CreatorInfo, InvokeRequest, LedgerResolver, PackageId,
    PackageStore, RuntimeConfig, Simulation,
};
use cairn_crypto::Role;
use cairn_ledger::config::ChannelConfig;
use cairn_ledger::lifecycle::{CollectionConfig, LIFECYCLE_NS, definition_key};
use cairn_ledger::tx::Proposal;
use serde_json::{Value, json};
use support::*;

/// One org's peer: its own runtime and package store, the shared ledger.
struct OrgPeer {
    org: Org,
    runtime: ContractRuntime,
    store: Arc<PackageStore>,
    admin: CreatorInfo,
    _dir: tempfile::TempDir,
}

struct Net {
    peers: Vec<OrgPeer>,
    ledger: Arc<MemState>,
    channel: Arc<ChannelConfig>,
    nonce: std::cell::Cell<u64>,
}

impl Net {
    fn new() -> Net {
        let orgs: Vec<Org> = ["Org1", "Org2", "Org3"]
            .iter()
            .map(|n| Org::new(n))
            .collect();
        let channel = channel(&orgs.iter().collect::<Vec<_>>());
        let peers = orgs
            .into_iter()
            .map(|org| {
                let dir = tempfile::tempdir().unwrap();
                let store = Arc::new(PackageStore::open(dir.path()).unwrap());
                let admin =
                    org.identity(&format!("admin@{}.cairn", org.msp_id()), Role::Admin, &[]);
                let runtime = ContractRuntime::new(RuntimeConfig::new(org.msp_id()));
                OrgPeer {
                    org,
                    runtime,
                    store,
                    admin,
                    _dir: dir,
                }
            })
            .collect();
        Net {
            peers,
            ledger: MemState::new(),
            channel,
            nonce: std::cell::Cell::new(1),
        }
    }

    fn proposal(
        &self,
        who: &CreatorInfo,
        contract: &str,
        function: &str,
        args: &[&str],
        init: bool,
    ) -> Proposal {
        let n = self.nonce.get();
        self.nonce.set(n + 1);
        let mut p = proposal(who, contract, function, args, n);
        p.invocation.is_init = init;
        p
    }

    /// Simulates on org `i`'s peer and commits on success.
    fn run(
        &self,
        i: usize,
        who: &CreatorInfo,
        contract: &str,
        function: &str,
        args: &[&str],
        init: bool,
    ) -> Result<Simulation, ContractError> {
        let peer = &self.peers[i];
        let p = self.proposal(who, contract, function, args, init);
        let sim = peer.runtime.invoke(InvokeRequest {
            proposal: &p,
            creator: who,
            state: self.ledger.clone(),
            channel: self.channel.clone(),
            resolver: Arc::new(LedgerResolver::new(peer.store.clone(), peer.org.msp_id())),
        })?;
        if sim.is_success() {
            self.ledger
                .commit(&sim.rwset, p.header.txid, p.header.timestamp)
                .unwrap();
        }
        Ok(sim)
    }

    fn lifecycle(&self, i: usize, function: &str, arg: &Value) -> Simulation {
        let admin = &self.peers[i].admin;
        self.run(i, admin, LIFECYCLE_NS, function, &[&arg.to_string()], false)
            .unwrap()
    }

    fn install(&self, contract: &str, label: &str) -> PackageId {
        let archive = cairn_contract::package_dir(&contract_dir(contract), label).unwrap();
        let ids: Vec<_> = self
            .peers
            .iter()
            .map(|p| p.store.install(&archive).unwrap())
            .collect();
        assert!(
            ids.windows(2).all(|w| w[0] == w[1]),
            "every peer computes the same id"
        );
        ids[0].clone()
    }
}

fn definition(sequence: u64, version: &str, package: &PackageId) -> Value {
    json!({ "name": "basic", "version": version, "sequence": sequence, "packageId": package.as_str() })
}

fn readiness(net: &Net, args: &Value) -> Value {
    payload_json(&net.lifecycle(0, "CheckCommitReadiness", args))
}

#[test]
fn commit_needs_a_majority_of_matching_approvals_and_upgrades_take_effect() {
    let net = Net::new();
    let basic = net.install("asset-transfer", "basic_1.0");
    assert_eq!(net.peers[0].store.installed().unwrap()[0].id, basic);
    let v1 = definition(1, "1.0", &basic);

    // Before any commit the contract does not exist.
    let user =
        net.peers[0]
            .org
            .identity("user@org1.cairn", Role::Client, &[("abac.creator", "true")]);
    let err = net
        .run(0, &user, "basic", "GetAllAssets", &[], false)
        .unwrap_err();
    assert!(
        matches!(err, ContractError::UnknownContract(ref n) if n == "basic"),
        "{err}"
    );

    // Org1 approves; one of three is not a majority.
    assert_eq!(
        net.lifecycle(0, "ApproveChaincodeDefinitionForMyOrg", &v1)
            .response
            .status,
        200
    );
    assert_eq!(
        readiness(&net, &v1)["approvals"],
        json!({ "Org1MSP": true, "Org2MSP": false, "Org3MSP": false })
    );
    let early = net.lifecycle(0, "CommitChaincodeDefinition", &v1);
    assert_eq!(early.response.status, 500);
    assert!(
        early
            .response
            .message
            .contains("not approved by enough orgs"),
        "{}",
        early.response.message
    );
    assert!(early.response.message.contains("MAJORITY Endorsement"));

    // Org2 approves a different policy: it shows, and does not count.
    let mut other = v1.clone();
    other["endorsementPolicy"] = json!("OR('Org2MSP.peer')");
    net.lifecycle(1, "ApproveChaincodeDefinitionForMyOrg", &other);
    let ready = readiness(&net, &v1);
    assert_eq!(ready["approvals"]["Org2MSP"], false);
    assert_eq!(
        ready["mismatches"],
        json!({ "Org2MSP": ["endorsementPolicy"] })
    );
    assert_eq!(
        net.lifecycle(0, "CommitChaincodeDefinition", &v1)
            .response
            .status,
        500
    );

    // Org3 approves other collections and another package.
    let mut org3 = v1.clone();
    org3["packageId"] = json!(format!("basic_1.0:{}", "ab".repeat(32)));
    org3["collections"] = json!([{
        "name": "assetCollection", "policy": "OR('Org1MSP.member', 'Org3MSP.member')", "requiredPeerCount": 0,
        "maxPeerCount": 1, "blockToLive": 0, "memberOnlyRead": true, "memberOnlyWrite": true
    }]);
    net.lifecycle(2, "ApproveChaincodeDefinitionForMyOrg", &org3);
    assert_eq!(
        readiness(&net, &v1)["mismatches"]["Org3MSP"],
        json!(["collections", "packageId"])
    );

    // Org2 fixes its approval: two of three match, the commit goes through.
    net.lifecycle(1, "ApproveChaincodeDefinitionForMyOrg", &v1);
    assert_eq!(
        readiness(&net, &v1)["approvals"],
        json!({ "Org1MSP": true, "Org2MSP": true, "Org3MSP": false })
    );
    let committed = net.lifecycle(0, "CommitChaincodeDefinition", &v1);
    assert_eq!(committed.response.status, 200, "{:?}", committed.response);
    assert!(
        net.ledger
            .get(LIFECYCLE_NS, &definition_key("basic"))
            .is_some()
    );
    let query =
        payload_json(&net.lifecycle(2, "QueryChaincodeDefinition", &json!({ "name": "basic" })));
    assert_eq!(query["definition"]["sequence"], 1);
    assert_eq!(query["definition"]["version"], "1.0");
    assert_eq!(
        query["approvals"],
        json!({ "Org1MSP": true, "Org2MSP": true, "Org3MSP": false })
    );

    // The committed contract runs, and endorsing it reads its definition.
    let init = net
        .run(0, &user, "basic", "InitLedger", &[], false)
        .unwrap();
    assert_eq!(init.response.status, 200, "{:?}", init.response);
    assert_eq!(init.contract.version, "1.0");
    let lc = init
        .rwset
        .namespaces
        .iter()
        .find(|n| n.namespace == LIFECYCLE_NS)
        .unwrap();
    assert_eq!(lc.reads[0].key, definition_key("basic"));
    // Org3 approved another package, which it has not installed: it cannot run it.
    assert!(matches!(
        net.run(2, &user, "basic", "GetAllAssets", &[], false),
        Err(ContractError::UnknownContract(_))
    ));

    // Upgrade: sequence 2 runs another package.
    let kv = net.install("kv", "kv_2.0");
    let v2 = json!({ "name": "basic", "version": "2.0", "sequence": 2, "packageId": kv.as_str() });
    let skipped = net.lifecycle(
        0,
        "ApproveChaincodeDefinitionForMyOrg",
        &json!({ "name": "basic", "version": "3.0", "sequence": 3 }),
    );
    assert!(
        skipped.response.message.contains("must be sequence 2"),
        "{}",
        skipped.response.message
    );
    net.lifecycle(0, "ApproveChaincodeDefinitionForMyOrg", &v2);
    net.lifecycle(2, "ApproveChaincodeDefinitionForMyOrg", &v2);
    let up = net.lifecycle(2, "CommitChaincodeDefinition", &v2);
    assert_eq!(up.response.status, 200, "{:?}", up.response);
    let all = payload_json(&net.lifecycle(1, "QueryChaincodeDefinitions", &json!(null)));
    assert_eq!(
        (all[0]["sequence"].as_u64(), all[0]["version"].as_str()),
        (Some(2), Some("2.0"))
    );
    let put = net
        .run(0, &user, "basic", "Put", &["k", "v"], false)
        .unwrap();
    assert_eq!(
        (put.response.status, put.contract.version.as_str()),
        (200, "2.0")
    );
    let gone = net
        .run(0, &user, "basic", "GetAllAssets", &[], false)
        .unwrap();
    assert!(
        gone.response
            .message
            .contains("does not exist: GetAllAssets"),
        "{:?}",
        gone.response
    );
    // Org2 never approved sequence 2, so it has no package to run.
    assert!(matches!(
        net.run(1, &user, "basic", "Get", &["k"], false),
        Err(ContractError::UnknownContract(_))
    ));
    let replay = net.lifecycle(0, "CommitChaincodeDefinition", &v2);
    assert!(
        replay.response.message.contains("must be sequence 3"),
        "{}",
        replay.response.message
    );
}

#[test]
fn approvals_need_an_admin_through_a_peer_of_the_same_org() {
    let net = Net::new();
    let pkg = net.install("kv", "kv_1");
    let def = json!({ "name": "kv", "version": "1", "sequence": 1, "packageId": pkg.as_str() });
    let client = net.peers[0]
        .org
        .identity("user@org1.cairn", Role::Client, &[]);
    let sim = net
        .run(
            0,
            &client,
            LIFECYCLE_NS,
            "ApproveChaincodeDefinitionForMyOrg",
            &[&def.to_string()],
            false,
        )
        .unwrap();
    assert!(
        sim.response
            .message
            .contains("requires an admin of the org"),
        "{}",
        sim.response.message
    );
    let org2_admin = net.peers[1].admin.clone();
    let sim = net
        .run(
            0,
            &org2_admin,
            LIFECYCLE_NS,
            "ApproveChaincodeDefinitionForMyOrg",
            &[&def.to_string()],
            false,
        )
        .unwrap();
    assert!(
        sim.response
            .message
            .contains("must be endorsed by a peer of Org2MSP"),
        "{}",
        sim.response.message
    );
    let bad = net.lifecycle(
        0,
        "ApproveChaincodeDefinitionForMyOrg",
        &json!({ "name": "kv", "version": "1", "sequence": 1, "endorsementPolicy": "AND(" }),
    );
    assert!(
        bad.response
            .message
            .starts_with("invalid endorsement policy"),
        "{}",
        bad.response.message
    );
    let approved = net.lifecycle(0, "ApproveChaincodeDefinitionForMyOrg", &def);
    assert_eq!(approved.response.status, 200);
    let mine = payload_json(&net.lifecycle(
        0,
        "QueryApprovedChaincodeDefinition",
        &json!({ "name": "kv" }),
    ));
    assert_eq!(mine["package_id"], pkg.as_str());
}

#[test]
fn init_required_definitions_run_init_once_per_version() {
    let net = Net::new();
    let pkg = net.install("kv", "kv_1");
    let def = json!({ "name": "kv", "version": "1", "sequence": 1, "initRequired": true, "packageId": pkg.as_str() });
    for i in 0..2 {
        net.lifecycle(i, "ApproveChaincodeDefinitionForMyOrg", &def);
    }
    assert_eq!(
        net.lifecycle(1, "CommitChaincodeDefinition", &def)
            .response
            .status,
        200
    );
    let user = net.peers[0]
        .org
        .identity("user@org1.cairn", Role::Client, &[]);
    let err = net
        .run(0, &user, "kv", "Put", &["a", "1"], false)
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("has not been initialized for version \"1\""),
        "{err}"
    );
    assert_eq!(
        net.run(0, &user, "kv", "Put", &["a", "1"], true)
            .unwrap()
            .response
            .status,
        200
    );
    let again = net
        .run(0, &user, "kv", "Put", &["a", "2"], true)
        .unwrap_err();
    assert!(again.to_string().contains("already initialized"), "{again}");
    let get = net.run(0, &user, "kv", "Get", &["a"], false).unwrap();
    assert_eq!(payload_str(&get), "1");
}

#[test]
fn collections_cannot_be_removed_by_an_upgrade() {
    let net = Net::new();
    let pkg = net.install("kv", "kv_1");
    let collection: CollectionConfig = serde_json::from_value(json!({
        "name": "c1", "policy": "OR('Org1MSP.member')", "requiredPeerCount": 0, "maxPeerCount": 1,
        "blockToLive": 0, "memberOnlyRead": true, "memberOnlyWrite": false
    }))
    .unwrap();
    let v1 = json!({ "name": "kv", "version": "1", "sequence": 1, "collections": [collection], "packageId": pkg.as_str() });
    let v2 = json!({ "name": "kv", "version": "2", "sequence": 2, "packageId": pkg.as_str() });
    for def in [&v1, &v2] {
        for i in 0..2 {
            let approval = net.lifecycle(i, "ApproveChaincodeDefinitionForMyOrg", def);
            if def == &v2 {
                // Fabric checks the upgrade rule at approval already.
                assert!(
                    approval
                        .response
                        .message
                        .contains("existing collection [c1] missing"),
                    "{}",
                    approval.response.message
                );
            }
        }
        let sim = net.lifecycle(0, "CommitChaincodeDefinition", def);
        if def == &v2 {
            assert!(
                sim.response.message.contains(
                    "sequence 2 of \"kv\" cannot replace sequence 1: existing collection [c1] missing"
                ),
                "{}",
                sim.response.message
            );
        } else {
            assert_eq!(sim.response.status, 200, "{:?}", sim.response);
        }
    }
}
