//! `cairn sql` with the real binary (issue 14): the worked example of
//! docs/ledger-tables.md on SQLite, a tamper named with exit code 1, and digests
//! anchored on a real network (`contracts/digest-anchor`), trusted from the channel by
//! `verify --channel` and `get --verify --channel`, whose receipt `cairn receipt verify
//! --show-writes` checks offline.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a panic is the failure report"
)]

mod common;

use common::{Down, cairn, deploy, stderr, stdout, text};
use serde_json::Value;

const ANY_PEER: &str = "OR('Org1MSP.peer','Org2MSP.peer','Org3MSP.peer')";

fn ok(args: &[&str]) -> String {
    let out = cairn(args);
    assert!(out.status.success(), "cairn {args:?}: {}", text(&out));
    stdout(&out)
}

/// Creates the example's tables and writes its transactions.
fn example(db: &str) {
    ok(&["sql", "enable", "--db", db]);
    ok(&[
        "sql",
        "create-table",
        "--db",
        db,
        "accounts",
        "id integer primary key, name text not null, balance integer",
    ]);
    ok(&[
        "sql",
        "create-table",
        "--db",
        db,
        "--append-only",
        "audit",
        "id integer primary key, msg text",
    ]);
    ok(&[
        "sql",
        "exec",
        "--db",
        db,
        "INSERT INTO accounts (id, name, balance) VALUES (1, 'Anabel', 50), (2, 'Bo', 20)",
    ]);
    ok(&[
        "sql",
        "exec",
        "--db",
        db,
        "UPDATE accounts SET balance = 100 WHERE id = 1",
    ]);
    ok(&[
        "sql",
        "exec",
        "--db",
        db,
        "DELETE FROM accounts WHERE id = 2; INSERT INTO audit (id, msg) VALUES (1, 'closed 2')",
    ]);
}

#[test]
fn worked_example_on_sqlite_names_the_tampered_row() {
    let tmp = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", tmp.path().join("bank.db").display());
    example(&db);
    let refused = cairn(&["sql", "exec", "--db", &db, "UPDATE audit SET msg = 'x'"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        stderr(&refused).contains("ledger table audit is append-only: UPDATE is refused"),
        "{}",
        text(&refused)
    );

    let history: Vec<Value> = ok(&["sql", "history", "--db", &db, "accounts"])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let ops: Vec<(i64, i64, i64, &str)> = history
        .iter()
        .map(|r| {
            (
                r["id"].as_i64().unwrap(),
                r["ledger_transaction_id"].as_i64().unwrap(),
                r["ledger_sequence_number"].as_i64().unwrap(),
                r["ledger_operation_type_desc"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        ops,
        vec![
            (1, 1, 0, "INSERT"),
            (2, 1, 1, "INSERT"),
            (1, 2, 0, "DELETE"),
            (1, 2, 1, "INSERT"),
            (2, 3, 0, "DELETE")
        ]
    );

    let digests = tmp.path().join("digests.jsonl");
    let d = ok(&[
        "sql",
        "digest",
        "--db",
        &db,
        "--out",
        digests.to_str().unwrap(),
    ]);
    let digest: Value = serde_json::from_str(d.trim()).unwrap();
    assert_eq!(
        (
            digest["database_name"].as_str(),
            digest["block_id"].as_i64()
        ),
        (Some("bank"), Some(0))
    );
    let verified = ok(&[
        "sql",
        "verify",
        "--db",
        &db,
        "--digests",
        digests.to_str().unwrap(),
    ]);
    assert!(
        verified.contains("0 inconsistencies; last verified block: 0; last anchored block: 0"),
        "{verified}"
    );

    // A verified read, checked before it is printed.
    let got: Value = serde_json::from_str(&ok(&[
        "sql",
        "get",
        "--db",
        &db,
        "--table",
        "accounts",
        "--key",
        "{\"id\": 1}",
        "--verify",
        "--digests",
        digests.to_str().unwrap(),
    ]))
    .unwrap();
    assert_eq!(
        (got["verified"].as_bool(), got["row"]["balance"].as_i64()),
        (Some(true), Some(100))
    );

    // Any client can drop the triggers and rewrite a row (here through exec itself).
    ok(&[
        "sql",
        "exec",
        "--db",
        &db,
        "DROP TRIGGER accounts__ledger_update_old; DROP TRIGGER accounts__ledger_update_new; UPDATE accounts SET balance = 1000 WHERE id = 1",
    ]);
    let out = cairn(&[
        "sql",
        "verify",
        "--db",
        &db,
        "--digests",
        digests.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stdout(&out).contains(
            "row_changed: block 0, table accounts, transaction 2, sequence 1, row {\"id\":1}"
        ),
        "{}",
        text(&out)
    );
    let json: Value = serde_json::from_str(&stdout(&cairn(&[
        "sql",
        "verify",
        "--db",
        &db,
        "--digests",
        digests.to_str().unwrap(),
        "--json",
    ])))
    .unwrap();
    assert_eq!(json["inconsistencies"].as_array().unwrap().len(), 1);
    assert!(json["last_verified_block_id"].is_null());
    let bad = cairn(&[
        "sql",
        "get",
        "--db",
        &db,
        "--table",
        "accounts",
        "--key",
        "{\"id\": 1}",
        "--verify",
        "--digests",
        digests.to_str().unwrap(),
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        stderr(&bad).contains("proof does not hold"),
        "{}",
        text(&bad)
    );
}

/// Stops the network even when an assertion fails.
#[test]
fn digests_anchored_on_a_channel_have_receipts_and_are_trusted_from_there() {
    let tmp = tempfile::tempdir().unwrap();
    let net = tmp.path().join("net");
    let d = net.to_str().unwrap().to_owned();
    let _down = Down(net.clone());
    let ports = common::port_block();
    let port = ports.base.to_string();
    let up = cairn(&["up", "--dir", &d, "--base-port", &port, "--detach"]);
    assert!(up.status.success(), "{}", text(&up));
    let contract = concat!(env!("CARGO_MANIFEST_DIR"), "/../../contracts/digest-anchor");
    deploy(&d, "digest-anchor", contract, ANY_PEER, "[]", 3);

    let db = format!("sqlite:{}", tmp.path().join("bank.db").display());
    example(&db);
    let out = cairn(&["sql", "digest", "--db", &db, "--anchor", "--dir", &d]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        stderr(&out).contains("anchored block 0 of bank in transaction"),
        "{}",
        text(&out)
    );
    // Anchoring the same digest again is a no-op, not an error.
    let again = cairn(&["sql", "digest", "--db", &db, "--anchor", "--dir", &d]);
    assert!(again.status.success(), "{}", text(&again));
    // The automatic mode writes a digest only when something changed.
    ok(&[
        "sql",
        "exec",
        "--db",
        &db,
        "INSERT INTO audit (id, msg) VALUES (2, 'later')",
    ]);
    let auto = ok(&[
        "sql", "digest", "--db", &db, "--anchor", "--dir", &d, "--every", "1", "--count", "1",
    ]);
    assert_eq!(
        serde_json::from_str::<Value>(auto.trim()).unwrap()["block_id"],
        1
    );

    let verified = ok(&["sql", "verify", "--db", &db, "--channel", "--dir", &d]);
    assert!(
        verified.contains(
            "2 digests checked; 0 inconsistencies; last verified block: 1; last anchored block: 1"
        ),
        "{verified}"
    );

    // A verified read with the anchoring transaction's receipt; the receipt proves the digest.
    let receipt = tmp.path().join("digest-receipt.json");
    let got: Value = serde_json::from_str(&ok(&[
        "sql",
        "get",
        "--db",
        &db,
        "--table",
        "accounts",
        "--key",
        "{\"id\": 1}",
        "--verify",
        "--channel",
        "--dir",
        &d,
        "--receipt-out",
        receipt.to_str().unwrap(),
    ]))
    .unwrap();
    assert_eq!(got["digest"]["block_id"], 1);
    let write = common::proven_writes(&net, &receipt)
        .into_iter()
        .find(|w| w["namespace"] == "digest-anchor")
        .expect("the receipt proves a digest-anchor write");
    let proven: Value = serde_json::from_str(write["value"].as_str().unwrap()).unwrap();
    assert_eq!(
        (&proven["hash"], &proven["block_id"]),
        (&got["digest"]["hash"], &got["digest"]["block_id"])
    );

    // A rewritten database (same name, other history) cannot anchor over the record: a fork.
    let other = format!(
        "sqlite:{}",
        tmp.path().join("fork").join("bank.db").display()
    );
    std::fs::create_dir(tmp.path().join("fork")).unwrap();
    example(&other);
    let fork = cairn(&["sql", "digest", "--db", &other, "--anchor", "--dir", &d]);
    assert!(!fork.status.success(), "{}", text(&fork));
    assert!(text(&fork).contains("forked"), "{}", text(&fork));
    // And verifying it against the channel names the mismatch.
    let out = cairn(&["sql", "verify", "--db", &other, "--channel", "--dir", &d]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stdout(&out).contains("digest_mismatch: block 0"),
        "{}",
        text(&out)
    );
}
