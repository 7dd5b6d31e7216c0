//! The supply-chain scenario (issue 18) over the multi-process network, with
//! the real binary: `cairn demo supply-chain --detach` starts five orgs
//! (Supplier, Manufacturer, Shipper, Warehouse, Retailer: an orderer and a
//! peer process each), the blob store, and runs a product's life. Then, on
//! that one network:
//!
//! - the unit's provenance bundle (`cairn supply provenance`) verifies offline
//!   with the orderer orgs' CAs alone (`cairn supply verify`), every step
//!   listed (also as `cairn verify BUNDLE`); a bundle with one document's
//!   bytes changed is refused, naming the document and both hashes; so are a
//!   bundle checked against another network's CA and one carrying the
//!   receipt of an invalid transaction;
//! - a handover endorsed by the receiver only is recorded on the ledger as
//!   ENDORSEMENT_POLICY_FAILURE (its receipt verifies and says so) and moves
//!   nothing; the same handover endorsed by both orgs is valid;
//! - the price between Supplier and Manufacturer is in no byte of the
//!   Retailer peer's directory nor its log, nor in the bundle, and the
//!   Retailer's query for it is refused; positive controls: the bytes are in
//!   the Supplier peer's directory, and the Manufacturer reads the price.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a panic is the failure report"
)]

mod common;

use std::path::{Path, PathBuf};

use base64::Engine as _;
use common::{cairn, files_containing, stdout, text};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const ORGS: [&str; 5] = [
    "supplier",
    "manufacturer",
    "shipper",
    "warehouse",
    "retailer",
];

/// Stops the network and the blob store even when an assertion fails.
struct Cleanup {
    dir: PathBuf,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        common::terminate_if(&self.dir.join("pids/blobs.pid"), "blob");
        let _ = cairn(&["down", "--dir", self.dir.join("net").to_str().unwrap()]);
    }
}

/// Polls `check` for up to 20 s (another org's peer may be a block behind).
fn eventually(mut check: impl FnMut() -> bool) {
    for _ in 0..80 {
        if check() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    panic!("the condition did not hold within 20 s");
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// `cairn supply verify BUNDLE` (or the top-level `cairn verify BUNDLE`) with every orderer org's CA.
fn verify(bundle: &Path, net: &Path, top_level: bool) -> std::process::Output {
    let mut args: Vec<String> = if top_level {
        vec!["verify".into()]
    } else {
        vec!["supply".into(), "verify".into()]
    };
    args.push(bundle.display().to_string());
    for o in ORGS {
        args.push("--ca".into());
        args.push(
            net.join(format!("crypto/{o}/ca/ca.pem"))
                .display()
                .to_string(),
        );
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    cairn(&args)
}

#[test]
fn a_product_life_on_five_orgs_verifies_offline_and_keeps_the_price_private() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    let _cleanup = Cleanup { dir: dir.clone() };
    let ports = common::port_block();
    let port = ports.base.to_string();
    let d = dir.to_str().unwrap();
    let demo = cairn(&[
        "demo",
        "supply-chain",
        "--dir",
        d,
        "--base-port",
        &port,
        "--detach",
    ]);
    assert!(demo.status.success(), "{}", text(&demo));
    let facts: Value =
        serde_json::from_slice(&std::fs::read(dir.join("demo.json")).unwrap()).unwrap();
    let net = dir.join("net");
    let n = net.to_str().unwrap();
    let unit = facts["unit"].as_str().unwrap();
    let price = facts["supplier_manufacturer_price"].as_str().unwrap();

    // The provenance bundle verifies offline, every step of the life listed.
    let bundle = tmp.path().join("bundle.json");
    let creds = dir.join("credentials/retailer.json");
    let out = cairn(&[
        "supply",
        "provenance",
        unit,
        "--dir",
        n,
        "--org",
        "Retailer",
        "--blob-credentials",
        creds.to_str().unwrap(),
        "--out",
        bundle.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let ok = verify(&bundle, &net, false);
    let report = stdout(&ok);
    assert!(ok.status.success(), "{}", text(&ok));
    assert!(report.contains("provenance verifies"), "{report}");
    let batch_id = facts["batch"].as_str().unwrap();
    for step in [
        format!("batch {batch_id}: created"),
        format!("unit {unit}: produced"),
        format!("unit {unit}: arrived at warehouse"),
        format!("unit {unit}: sold"),
        "SupplierMSP (supplier)".to_owned(),
        "RetailerMSP (retailer)".to_owned(),
    ] {
        assert!(report.contains(&step), "{step:?} missing from {report}");
    }
    let bytes = std::fs::read(&bundle).unwrap();
    assert!(
        !bytes.windows(price.len()).any(|w| w == price.as_bytes()),
        "the price is in the bundle"
    );

    // Trusting another network's CA only: no receipt verifies.
    let other = tmp.path().join("other");
    let made = cairn(&[
        "crypto",
        "generate",
        "--orgs",
        "Other",
        "--out",
        other.to_str().unwrap(),
    ]);
    assert!(made.status.success(), "{}", text(&made));
    let foreign = cairn(&[
        "verify",
        bundle.to_str().unwrap(),
        "--ca",
        other.join("other/ca/ca.pem").to_str().unwrap(),
    ]);
    assert_eq!(foreign.status.code(), Some(1), "{}", text(&foreign));
    assert!(
        stdout(&foreign).contains("does NOT verify with the trusted CA(s)"),
        "{}",
        text(&foreign)
    );

    // One document's bytes changed: named, with both hashes.
    let mut b: Value = serde_json::from_slice(&bytes).unwrap();
    let engine = base64::engine::general_purpose::STANDARD;
    let original = engine
        .decode(b["documents"][0]["content_base64"].as_str().unwrap())
        .unwrap();
    let mut forged = original.clone();
    forged[0] ^= 0x20;
    b["documents"][0]["content_base64"] = json!(engine.encode(&forged));
    let key = b["documents"][0]["key"].as_str().unwrap().to_owned();
    let tampered = tmp.path().join("tampered.json");
    std::fs::write(&tampered, b.to_string()).unwrap();
    let bad = verify(&tampered, &net, true);
    let report = stdout(&bad);
    assert_eq!(bad.status.code(), Some(1), "{}", text(&bad));
    assert!(report.contains("is TAMPERED"), "{report}");
    assert!(report.contains(&key), "{report}");
    assert!(report.contains(&sha256_hex(&original)), "{report}");
    assert!(report.contains(&sha256_hex(&forged)), "{report}");

    // A handover endorsed by one side only: recorded invalid, changes nothing.
    let invoke = |org: &str, endorsers: &[&str], args: &[&str]| {
        let mut a = vec![
            "invoke",
            "--dir",
            n,
            "--org",
            org,
            "--contract",
            "supply-chain",
        ];
        for e in endorsers {
            a.extend(["--endorsing-org", e]);
        }
        a.extend(args);
        cairn(&a)
    };
    let batch = json!({"id": "B-e2e", "material": "steel", "quantity": 2, "measure": "t"});
    let out = invoke("Supplier", &[], &["CreateBatch", &batch.to_string()]);
    assert!(out.status.success(), "{}", text(&out));
    let ship = json!({"id": "S-e2e", "to": "ManufacturerMSP", "items": [{"type": "batch", "id": "B-e2e"}]});
    let out = invoke("Supplier", &[], &["CreateShipment", &ship.to_string()]);
    assert!(out.status.success(), "{}", text(&out));
    let receive = json!({"id": "S-e2e"}).to_string();
    let query = |org: &str, args: &[&str]| {
        let mut a = vec![
            "query",
            "--dir",
            n,
            "--org",
            org,
            "--contract",
            "supply-chain",
        ];
        a.extend(args);
        cairn(&a)
    };
    // Both endorsers must have the shipment's block before the handover.
    eventually(|| {
        query("Manufacturer", &["GetShipment", "S-e2e"])
            .status
            .success()
    });
    let one_sided = invoke(
        "Manufacturer",
        &["ManufacturerMSP"],
        &["ReceiveShipment", &receive],
    );
    let said = text(&one_sided);
    assert!(!one_sided.status.success(), "{said}");
    assert!(said.contains("ENDORSEMENT_POLICY_FAILURE"), "{said}");
    let txid = said
        .split_whitespace()
        .skip_while(|w| *w != "transaction")
        .nth(1)
        .unwrap()
        .to_owned();
    let receipt = tmp.path().join("one-sided.json");
    let got = cairn(&[
        "receipt",
        "get",
        "--dir",
        n,
        "--org",
        "Manufacturer",
        &txid,
        "--out",
        receipt.to_str().unwrap(),
    ]);
    assert!(got.status.success(), "{}", text(&got));
    let checked: Vec<String> = ORGS
        .iter()
        .map(|o| {
            let ca = net.join(format!("crypto/{o}/ca/ca.pem"));
            stdout(&cairn(&[
                "receipt",
                "verify",
                receipt.to_str().unwrap(),
                "--ca",
                ca.to_str().unwrap(),
            ]))
        })
        .collect();
    assert!(
        checked
            .iter()
            .any(|o| o.contains("receipt verifies") && o.contains("ENDORSEMENT_POLICY_FAILURE")),
        "{checked:?}"
    );
    // That receipt slipped into a bundle proves nothing: named as not VALID.
    let mut b: Value = serde_json::from_slice(&bytes).unwrap();
    let invalid: Value = serde_json::from_slice(&std::fs::read(&receipt).unwrap()).unwrap();
    b["receipts"].as_array_mut().unwrap().push(invalid);
    let mixed = tmp.path().join("mixed.json");
    std::fs::write(&mixed, b.to_string()).unwrap();
    let out = verify(&mixed, &net, false);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let want =
        format!("transaction {txid} is on the ledger as ENDORSEMENT_POLICY_FAILURE, not VALID");
    assert!(stdout(&out).contains(&want), "{}", text(&out));

    let still = query("Retailer", &["GetShipment", "S-e2e"]);
    assert!(
        stdout(&still).contains("\"status\":\"in transit\""),
        "{}",
        text(&still)
    );
    // Both sides: valid, custody moves.
    let two_sided = invoke(
        "Manufacturer",
        &["SupplierMSP", "ManufacturerMSP"],
        &["ReceiveShipment", &receive],
    );
    assert!(two_sided.status.success(), "{}", text(&two_sided));
    eventually(|| {
        stdout(&query("Retailer", &["GetBatch", "B-e2e"]))
            .contains("\"custodian\":\"ManufacturerMSP\"")
    });

    // The price: the Manufacturer reads it, the Retailer is refused.
    let first = facts["shipments"][0].as_str().unwrap();
    let member = query("Manufacturer", &["GetTerms", first]);
    assert!(stdout(&member).contains(price), "{}", text(&member));
    let outsider = query("Retailer", &["GetTerms", first]);
    assert!(!outsider.status.success());
    assert!(
        text(&outsider).contains("may not read collection SupplierManufacturer"),
        "{}",
        text(&outsider)
    );
    assert!(!text(&outsider).contains(price));
    // Not a byte of it on the Retailer's peer or in its log; it is on the Supplier's.
    let needle = price.as_bytes();
    let retailer = files_containing(&net.join("nodes/peer0.retailer"), needle);
    assert!(retailer.is_empty(), "the price is in {retailer:?}");
    let log = std::fs::read(net.join("logs/peer0.retailer.log")).unwrap();
    assert!(!log.windows(needle.len()).any(|w| w == needle));
    let supplier = files_containing(&net.join("nodes/peer0.supplier"), needle);
    assert!(
        !supplier.is_empty(),
        "positive control: the Supplier's peer holds the price"
    );
}
