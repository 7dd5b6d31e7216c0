//! `cairn ledger verify|info|receipt` and `cairn receipt verify` on a real
//! ledger directory: exit codes, messages, and tamper detection by name.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a panic is the failure report"
)]

mod common;

use std::path::Path;

use cairn_testkit::{TestNet, now, write_set};
use common::{cairn, text};
use redb::ReadableTable;

fn build(dir: &Path) -> (TestNet, String) {
    let net = TestNet::new(2);
    let ledger = net.ledger(dir);
    let (_, def) = net.define_contract_tx("asset", "");
    ledger.append(vec![def], now(), net.orderer()).unwrap();
    let (txid, tx) = net.endorsed_tx(
        &net.orgs[1].user,
        "asset",
        write_set("asset", &[("k", b"v")]),
        &[&net.orgs[0].peer, &net.orgs[1].peer],
    );
    ledger.append(vec![tx], now(), net.orderer()).unwrap();
    (net, txid.to_string())
}

#[test]
fn receipt_round_trip_through_the_cli() {
    let tmp = tempfile::tempdir().unwrap();
    let ledger = tmp.path().join("ledger");
    let (net, txid) = build(&ledger);
    let receipt = tmp.path().join("receipt.json");
    let o = cairn(&[
        "ledger",
        "receipt",
        ledger.to_str().unwrap(),
        &txid,
        "--out",
        receipt.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));

    let ca1 = net.orgs[0].dir.join("ca/ca.pem");
    let o = cairn(&[
        "receipt",
        "verify",
        receipt.to_str().unwrap(),
        "--ca",
        ca1.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains(&format!("tx {txid} is in block 2")),
        "{}",
        text(&o)
    );
    assert!(text(&o).contains("VALID"));

    // Trusting another org's CA: refused with the reason, exit 1.
    let ca2 = net.orgs[1].dir.join("ca/ca.pem");
    let o = cairn(&[
        "receipt",
        "verify",
        receipt.to_str().unwrap(),
        "--ca",
        ca2.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("not signed by an orderer of the trusted CA"),
        "{}",
        text(&o)
    );

    // A flipped bit in the receipt's tree root: exit 1.
    let mut json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&receipt).unwrap()).unwrap();
    let root = json["header"]["tree_root"].as_str().unwrap().to_string();
    let flipped = format!(
        "{}{}",
        if root.starts_with('0') { "1" } else { "0" },
        &root[1..]
    );
    json["header"]["tree_root"] = serde_json::Value::String(flipped);
    std::fs::write(&receipt, json.to_string()).unwrap();
    let o = cairn(&[
        "receipt",
        "verify",
        receipt.to_str().unwrap(),
        "--ca",
        ca1.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));

    // Not a receipt at all: exit 2 with the file named.
    std::fs::write(&receipt, "{}").unwrap();
    let o = cairn(&[
        "receipt",
        "verify",
        receipt.to_str().unwrap(),
        "--ca",
        ca1.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("is not a receipt"), "{}", text(&o));
}

#[test]
fn ledger_verify_names_the_tampered_block() {
    let tmp = tempfile::tempdir().unwrap();
    let ledger = tmp.path().join("ledger");
    build(&ledger);
    let o = cairn(&["ledger", "verify", ledger.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("ledger OK: channel testchannel, 3 blocks"),
        "{}",
        text(&o)
    );
    let o = cairn(&["ledger", "info", ledger.to_str().unwrap()]);
    assert!(
        o.status.success() && text(&o).contains("height:     3"),
        "{}",
        text(&o)
    );

    // Flip one byte inside block 1.
    const BLOCKS: redb::TableDefinition<u64, &[u8]> = redb::TableDefinition::new("blocks");
    {
        let db = redb::Database::open(ledger.join("ledger.redb")).unwrap();
        let w = db.begin_write().unwrap();
        {
            let mut t = w.open_table(BLOCKS).unwrap();
            let mut v = t.get(1).unwrap().unwrap().value().to_vec();
            let mid = v.len() / 2;
            v[mid] ^= 0x40;
            t.insert(1, v.as_slice()).unwrap();
        }
        w.commit().unwrap();
    }
    let o = cairn(&["ledger", "verify", ledger.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("FAILED: block 1:"), "{}", text(&o));

    // A directory without a ledger: exit 2, saying what to do.
    let o = cairn(&["ledger", "verify", tmp.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("no ledger at"), "{}", text(&o));
}
