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
    assert!(
        text(&o).contains("position 0 in the block (leaf 2 of the channel's transaction tree)"),
        "{}",
        text(&o)
    );

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

/// Every document that differs from `doc` in one value: each string (its
/// last hex digit replaced, or a character appended) and number (plus and
/// minus one) changed or set to null, each field removed, and an unknown
/// field added to each object. Each comes with a description.
fn single_field_mutations(doc: &serde_json::Value) -> Vec<(String, serde_json::Value)> {
    use serde_json::Value;

    fn at<'a>(doc: &'a mut Value, path: &[String]) -> &'a mut Value {
        path.iter()
            .fold(doc, |v, step| match step.parse::<usize>() {
                Ok(i) if v.is_array() => &mut v[i],
                _ => &mut v[step.as_str()],
            })
    }

    fn walk(root: &Value, path: &mut Vec<String>, out: &mut Vec<(String, Value)>) {
        let steps = path.clone();
        let here = at(&mut root.clone(), &steps).clone();
        let mut changes = Vec::new();
        match &here {
            Value::Object(map) => {
                let mut extended = map.clone();
                extended.insert("unproven_note".into(), Value::from("trust me"));
                changes.push(("with an unknown field added", Value::Object(extended)));
                for (key, v) in map {
                    if !v.is_null() {
                        let mut doc = root.clone();
                        at(&mut doc, &steps).as_object_mut().unwrap().remove(key);
                        out.push((format!("{}.{key} removed", steps.join(".")), doc));
                    }
                    path.push(key.clone());
                    walk(root, path, out);
                    path.pop();
                }
            }
            Value::Array(items) => {
                for i in 0..items.len() {
                    path.push(i.to_string());
                    walk(root, path, out);
                    path.pop();
                }
            }
            Value::String(s) => {
                let changed = match s.chars().last() {
                    Some(c) if c.is_ascii_hexdigit() => {
                        format!("{}{}", &s[..s.len() - 1], if c == '0' { '1' } else { '0' })
                    }
                    _ => format!("{s}x"),
                };
                changes.push(("changed", Value::from(changed)));
                changes.push(("set to null", Value::Null));
            }
            Value::Number(n) => {
                let n = n.as_u64().unwrap();
                changes.push(("plus one", Value::from(n + 1)));
                if n > 0 {
                    changes.push(("minus one", Value::from(n - 1)));
                }
                changes.push(("set to null", Value::Null));
            }
            Value::Bool(b) => changes.push(("negated", Value::Bool(!b))),
            Value::Null => {}
        }
        for (what, new) in changes {
            let mut doc = root.clone();
            *at(&mut doc, &steps) = new;
            assert_ne!(doc, *root);
            out.push((format!("{} {what}", steps.join(".")), doc));
        }
    }

    let mut out = Vec::new();
    walk(doc, &mut Vec::new(), &mut out);
    out
}

#[test]
fn receipt_verify_fails_when_any_single_field_changes() {
    // Issue 11 item 2: `cairn receipt verify` used to print a receipt's txid
    // as proven although nothing checked it. Now each value of the file is
    // proven, so changing any one of them makes the command fail.
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
    let ca = net.orgs[0].dir.join("ca/ca.pem");
    let verify = |file: &Path| {
        cairn(&[
            "receipt",
            "verify",
            file.to_str().unwrap(),
            "--ca",
            ca.to_str().unwrap(),
        ])
    };
    // Positive control: the receipt as written verifies.
    let o = verify(&receipt);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&receipt).unwrap()).unwrap();
    let mutations = single_field_mutations(&doc);
    assert!(mutations.len() > 80, "only {} mutations", mutations.len());
    let changed = tmp.path().join("changed.json");
    for (what, mutated) in &mutations {
        std::fs::write(&changed, mutated.to_string()).unwrap();
        let o = verify(&changed);
        assert!(
            matches!(o.status.code(), Some(1 | 2)),
            "receipt with {what}: {:?}\n{}",
            o.status,
            text(&o)
        );
        // Exit 1 says why it does not verify; exit 2 says the file is not a receipt.
        let why = if o.status.code() == Some(1) {
            "receipt does NOT verify: "
        } else {
            "is not a receipt"
        };
        assert!(text(&o).contains(why), "receipt with {what}: {}", text(&o));
    }

    // The txid, which used to pass unchecked, fails with a reason naming it.
    let mut forged = doc.clone();
    let other = format!(
        "{}{}",
        &txid[..63],
        if txid.ends_with('0') { '1' } else { '0' }
    );
    forged["txid"] = serde_json::Value::from(other.clone());
    std::fs::write(&changed, forged.to_string()).unwrap();
    let o = verify(&changed);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains(&format!(
            "txid {other} is not the transaction in the receipt's envelope, which is {txid}"
        )),
        "{}",
        text(&o)
    );
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
