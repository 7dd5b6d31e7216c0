//! The asset-transfer contract from `contracts/asset-transfer`, written
//! against fabric-contract-api with npm dependencies
//! (json-stringify-deterministic, sort-keys-recursive), runs unmodified.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod support;

use std::sync::Arc;

use cairn_contract::ContractPackage;
use cairn_crypto::Role;
use serde_json::json;
use support::*;

const NAME: &str = "basic";

struct World {
    peer: Peer,
    alice: cairn_contract::CreatorInfo,
    bob: cairn_contract::CreatorInfo,
    nonce: std::cell::Cell<u64>,
}

impl World {
    fn new() -> World {
        let org1 = Org::new("Org1");
        let package =
            Arc::new(ContractPackage::load(&contract_dir("asset-transfer"), "basic_1.0").unwrap());
        let peer = Peer::new(
            "Org1MSP",
            channel(&[&org1]),
            FixedResolver::with(NAME, package),
        );
        let alice = org1.identity(
            "alice@org1.cairn",
            Role::Client,
            &[("abac.creator", "true")],
        );
        let bob = org1.identity("bob@org1.cairn", Role::Client, &[]);
        World {
            peer,
            alice,
            bob,
            nonce: std::cell::Cell::new(1),
        }
    }

    fn call(
        &self,
        who: &cairn_contract::CreatorInfo,
        function: &str,
        args: &[&str],
    ) -> cairn_contract::Simulation {
        let n = self.nonce.get();
        self.nonce.set(n + 1);
        self.peer
            .submit(&proposal(who, NAME, function, args, n), who)
    }
}

#[test]
fn basic_lifecycle_of_an_asset() {
    let w = World::new();
    let init = w.call(&w.alice, "InitLedger", &[]);
    assert_eq!(init.response.status, 200, "{:?}", init.response);
    assert_eq!(init.contract.name, NAME);

    let all = payload_json(&w.call(&w.bob, "GetAllAssets", &[]));
    let ids: Vec<_> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["ID"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        ids,
        ["asset1", "asset2", "asset3", "asset4", "asset5", "asset6"]
    );
    // sort-keys-recursive + json-stringify-deterministic: keys in order on the ledger.
    let raw = String::from_utf8(w.peer.state.get(NAME, "asset1").unwrap()).unwrap();
    assert!(
        raw.starts_with(r#"{"AppraisedValue":300,"Color":"blue","Creator":"x509::/O=Org1"#),
        "{raw}"
    );

    let created = w.call(
        &w.alice,
        "CreateAsset",
        &["asset7", "purple", "20", "Ana", "900"],
    );
    assert_eq!(created.response.status, 200, "{:?}", created.response);
    let event = &created.events[0];
    assert_eq!(
        (event.contract.as_str(), event.name.as_str()),
        (NAME, "CreateAsset")
    );
    let asset: serde_json::Value = serde_json::from_slice(&event.payload).unwrap();
    assert_eq!(asset["Owner"], "Ana");
    assert_eq!(asset["Size"], 20);
    // new Date() is the transaction's timestamp.
    assert_eq!(asset["Created"], "2023-11-14T22:13:20.123Z");

    let read = payload_json(&w.call(&w.bob, "ReadAsset", &["asset7"]));
    assert_eq!(read["Color"], "purple");
    assert_eq!(read["CreatorMSP"], "Org1MSP");

    let dup = w.call(&w.alice, "CreateAsset", &["asset7", "x", "1", "y", "1"]);
    assert_eq!(dup.response.status, 500);
    assert_eq!(dup.response.message, "The asset asset7 already exists");
    assert!(
        dup.rwset.namespaces.is_empty(),
        "a failed call endorses nothing"
    );

    let old = w.call(&w.bob, "TransferAsset", &["asset7", "Carla"]);
    assert_eq!(payload_str(&old), "Ana");
    assert_eq!(old.events[0].name, "TransferAsset");
    assert_eq!(
        payload_json(&w.call(&w.bob, "ReadAsset", &["asset7"]))["Owner"],
        "Carla"
    );

    let updated = w.call(
        &w.alice,
        "UpdateAsset",
        &["asset7", "gold", "21", "Dev", "1000"],
    );
    assert_eq!(updated.response.status, 200, "{:?}", updated.response);
    let read = payload_json(&w.call(&w.bob, "ReadAsset", &["asset7"]));
    assert_eq!(
        (
            read["Color"].as_str(),
            read["Owner"].as_str(),
            read["AppraisedValue"].as_i64()
        ),
        (Some("gold"), Some("Dev"), Some(1000))
    );

    let exists = w.call(&w.bob, "AssetExists", &["asset7"]);
    assert_eq!(payload_str(&exists), "true");
    let deleted = w.call(&w.alice, "DeleteAsset", &["asset7"]);
    assert_eq!(deleted.response.status, 200, "{:?}", deleted.response);
    assert_eq!(
        payload_str(&w.call(&w.bob, "AssetExists", &["asset7"])),
        "false"
    );
    let missing = w.call(&w.bob, "ReadAsset", &["asset7"]);
    assert_eq!(
        (missing.response.status, missing.response.message.as_str()),
        (500, "The asset asset7 does not exist")
    );
}

#[test]
fn client_identity_checks() {
    let w = World::new();
    let denied = w.call(&w.bob, "CreateAsset", &["a", "red", "1", "Bob", "1"]);
    assert_eq!(denied.response.status, 500);
    assert_eq!(
        denied.response.message,
        "submitting client not authorized to create asset, does not have abac.creator role"
    );

    w.call(&w.alice, "CreateAsset", &["a", "red", "1", "Bob", "1"]);
    let stolen = w.call(&w.bob, "DeleteAsset", &["a"]);
    assert!(
        stolen
            .response
            .message
            .contains("not authorized to delete asset a"),
        "{:?}",
        stolen.response
    );

    let me = payload_json(&w.call(&w.alice, "WhoAmI", &[]));
    assert_eq!(me["id"], w.alice.id());
    assert!(me["id"].as_str().unwrap().starts_with(
        "x509::/O=Org1/organizationIdentifier=Org1MSP/OU=client/CN=alice@org1.cairn::"
    ));
    assert_eq!(me["mspid"], "Org1MSP");
    assert_eq!(me["creator"], "true");
    assert_eq!(me["missing"], serde_json::Value::Null);
    assert_eq!(me["idBytesStart"], "-----BEGIN CERTIFICATE-----");
    assert_eq!(me["channel"], CHANNEL);
    assert_eq!(me["peerMsp"], "Org1MSP");
    assert_eq!(me["txId"].as_str().unwrap().len(), 64);
}

#[test]
fn range_composite_pagination_and_history() {
    let w = World::new();
    w.call(&w.alice, "InitLedger", &[]);

    let range = payload_json(&w.call(&w.bob, "GetAssetsByRange", &["asset2", "asset4"]));
    let keys: Vec<_> = range
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["Key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["asset2", "asset3"]);

    let page1 = payload_json(&w.call(&w.bob, "GetAssetsByRangeWithPagination", &["", "", "4", ""]));
    assert_eq!(
        page1["records"],
        json!(["asset1", "asset2", "asset3", "asset4"])
    );
    assert_eq!(page1["fetchedRecordsCount"], 4);
    assert_eq!(page1["bookmark"], "asset5");
    let page2 = payload_json(&w.call(
        &w.bob,
        "GetAssetsByRangeWithPagination",
        &["", "", "4", "asset5"],
    ));
    assert_eq!(page2["records"], json!(["asset5", "asset6"]));
    assert_eq!(page2["bookmark"], "");

    w.call(&w.bob, "TransferAsset", &["asset1", "Brad"]);
    let brads = payload_json(&w.call(&w.bob, "GetAssetsByOwner", &["Brad"]));
    assert_eq!(brads, json!(["asset1", "asset2"]));
    assert_eq!(
        payload_json(&w.call(&w.bob, "GetAssetsByOwner", &["Tomoko"])),
        json!([])
    );

    let history = payload_json(&w.call(&w.bob, "GetAssetHistory", &["asset1"]));
    let history = history.as_array().unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[0]["Value"]["Owner"], "Brad", "newest first");
    assert_eq!(history[1]["Value"]["Owner"], "Tomoko");
    assert_eq!(history[0]["Timestamp"], "2023-11-14T22:13:20.000Z");
    assert_eq!(history[0]["IsDelete"], false);
}

#[test]
fn routing_default_and_named_contracts() {
    let w = World::new();
    w.call(&w.alice, "InitLedger", &[]);
    let count = payload_json(&w.call(&w.bob, "audit:CountAssets", &[]));
    // The owner~id index keys are composite and excluded from '' ranges.
    assert_eq!(count["count"], 6);
    assert_eq!(count["calls"], json!(["before", "CountAssets"]));
    let explicit = w.call(&w.bob, "AssetTransfer:AssetExists", &["asset1"]);
    assert_eq!(payload_str(&explicit), "true");

    let unknown = w.call(&w.bob, "audit:Nope", &[]);
    assert_eq!(
        unknown.response.message,
        "audit has no transaction audit:Nope"
    );
    let unknown = w.call(&w.bob, "NoSuchFunction", &[]);
    assert_eq!(
        unknown.response.message,
        "You've asked to invoke a function that does not exist: NoSuchFunction"
    );
    let bad = w.call(&w.bob, "nobody:Thing", &[]);
    assert_eq!(bad.response.message, "Contract name is not known: nobody");
    let private = w.call(&w.bob, "_index", &["a", "b", "c"]);
    assert_eq!(
        private.response.status, 500,
        "underscore methods are not transactions"
    );

    let meta = payload_json(&w.call(&w.bob, "org.hyperledger.fabric:GetMetadata", &[]));
    let txs: Vec<_> = meta["contracts"]["AssetTransfer"]["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        txs.contains(&"CreateAsset".to_owned()) && !txs.contains(&"_index".to_owned()),
        "{txs:?}"
    );
    assert_eq!(
        meta["contracts"]["AssetTransfer"]["contractInstance"]["default"],
        true
    );
    assert_eq!(
        meta["contracts"]["audit"]["contractInstance"]["default"],
        false
    );
}

#[test]
fn builtins_win_over_npm_copies_of_fabric_modules() {
    // The package's node_modules holds stand-ins for fabric-contract-api and
    // fabric-shim that throw when loaded; the contract works, so they never were.
    let dir = contract_dir("asset-transfer/node_modules/fabric-contract-api/index.js");
    assert!(
        std::fs::read_to_string(dir)
            .unwrap()
            .contains("throw new Error")
    );
    let w = World::new();
    assert_eq!(w.call(&w.alice, "InitLedger", &[]).response.status, 200);
}

#[test]
fn the_tar_gz_form_runs_the_same() {
    let dir = contract_dir("asset-transfer");
    let archive = ContractPackage::archive_of(&dir, "basic_1.0").unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("basic.tar.gz");
    std::fs::write(&path, &archive).unwrap();
    let from_tgz = ContractPackage::load(&path, "ignored-label-for-lifecycle-archives").unwrap();
    let from_dir = ContractPackage::load(&dir, "basic_1.0").unwrap();
    assert_eq!(from_tgz.id(), from_dir.id());
    assert_eq!(from_tgz.id().label(), "basic_1.0");
    let org1 = Org::new("Org1");
    let peer = Peer::new(
        "Org1MSP",
        channel(&[&org1]),
        FixedResolver::with(NAME, Arc::new(from_tgz)),
    );
    let admin = org1.identity("admin@org1.cairn", Role::Admin, &[]);
    assert_eq!(
        peer.submit(&proposal(&admin, NAME, "InitLedger", &[], 1), &admin)
            .response
            .status,
        200
    );
    assert!(peer.state.get(NAME, "asset6").is_some());
}
