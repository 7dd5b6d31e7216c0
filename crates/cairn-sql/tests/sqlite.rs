//! SQLite end to end: the scripted scenario through Cairn and through another client,
//! refusals, drop as rename, verification of a clean database.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod support;

use cairn_sql::{Kind, Ledger, TableKind, Value};
use support::scenario::{self, ACCOUNTS_VIEW, AUDIT_VIEW, TABLES};

fn ledger(dir: &tempfile::TempDir) -> (Ledger, String) {
    let url = format!("sqlite:{}", dir.path().join("bank.db").display());
    let mut ledger = Ledger::open(&url).unwrap();
    ledger.enable().unwrap();
    for (name, kind, cols) in TABLES {
        ledger
            .create_table(name, TableKind::parse(kind).unwrap(), cols)
            .unwrap();
    }
    (ledger, url)
}

#[test]
fn scenario_gives_sql_servers_ledger_view_and_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let (mut ledger, _) = ledger(&dir);
    for txn in scenario::transactions("x'00ff'") {
        ledger.exec(&txn).unwrap();
    }
    assert_eq!(
        scenario::csv(&ledger.ledger_view("accounts").unwrap()),
        ACCOUNTS_VIEW
    );
    assert_eq!(
        scenario::csv(&ledger.ledger_view("audit").unwrap()),
        AUDIT_VIEW
    );
    // History holds exactly the ended versions, with both stamps.
    let history = ledger
        .query(
            "SELECT id, ledger_start_transaction_id, ledger_start_sequence_number, ledger_end_transaction_id, ledger_end_sequence_number FROM accounts_history ORDER BY ledger_end_transaction_id, ledger_end_sequence_number",
            &[],
        )
        .unwrap();
    let ints: Vec<Vec<i64>> = history
        .rows
        .iter()
        .map(|r| {
            r.iter()
                .map(|v| match v {
                    Value::Integer(i) => *i,
                    _ => -1,
                })
                .collect()
        })
        .collect();
    assert_eq!(
        ints,
        vec![
            vec![1, 1, 0, 2, 0],
            vec![2, 1, 1, 3, 0],
            vec![1, 2, 1, 4, 1]
        ]
    );

    let closed = ledger.close_block().unwrap().unwrap();
    assert_eq!(
        (closed.block_id, closed.transactions, closed.row_events),
        (0, 4, 10)
    );
    assert_eq!(
        ledger.close_block().unwrap(),
        None,
        "nothing changed, no block"
    );
    let digest = ledger.digest().unwrap();
    assert_eq!(digest.block_id, 0);
    assert_eq!(digest.database_name, "bank");
    let report = ledger.verify(std::slice::from_ref(&digest)).unwrap();
    assert!(report.is_ok(), "{:#?}", report.inconsistencies);
    assert_eq!(report.last_anchored_block_id, Some(0));
    assert_eq!(report.row_events, 10);

    // Drop renames and keeps: the data stays verifiable against the same digest.
    let dropped = ledger.drop_table("accounts").unwrap();
    assert!(dropped.table_name.starts_with("cairn_dropped_"));
    assert_eq!(
        scenario::csv(&ledger.ledger_view("accounts").unwrap()),
        ACCOUNTS_VIEW
    );
    let report = ledger.verify(std::slice::from_ref(&digest)).unwrap();
    assert!(report.is_ok(), "{:#?}", report.inconsistencies);
    // A new table may take the name; the old one is still there.
    ledger
        .create_table("accounts", TableKind::Updatable, "id integer primary key")
        .unwrap();
    ledger.exec("INSERT INTO accounts (id) VALUES (9)").unwrap();
    let digest2 = ledger.digest().unwrap();
    assert_eq!(digest2.block_id, 1);
    let report = ledger.verify(&[digest.clone(), digest2]).unwrap();
    assert!(report.is_ok(), "{:#?}", report.inconsistencies);
    assert_eq!(report.last_anchored_block_id, Some(1));

    // Positive control for the verifier on this very database: a changed balance in the
    // dropped table is named.
    let conn = rusqlite::Connection::open(dir.path().join("bank.db")).unwrap();
    conn.execute_batch(&format!(
        "DROP TRIGGER {t}__ledger_update_old; DROP TRIGGER {t}__ledger_update_new; UPDATE {t} SET balance = 101 WHERE id = 1;",
        t = dropped.table_name
    ))
    .unwrap();
    let report = ledger.verify(&[digest]).unwrap();
    assert_eq!(
        report.inconsistencies.len(),
        1,
        "{:#?}",
        report.inconsistencies
    );
    let i = &report.inconsistencies[0];
    assert_eq!(
        (
            i.kind,
            i.table.as_deref(),
            i.transaction_id,
            i.sequence_number,
            i.row_key.as_deref()
        ),
        (
            Kind::RowChanged,
            Some("accounts"),
            Some(4),
            Some(2),
            Some("{\"id\":1}")
        )
    );
}

#[test]
fn refusals_name_the_table_and_the_rule() {
    let dir = tempfile::tempdir().unwrap();
    let (mut ledger, _) = ledger(&dir);
    ledger.exec("INSERT INTO audit (id, msg) VALUES (1, 'a'); INSERT INTO accounts (id, name) VALUES (1, 'A')").unwrap();
    for (sql, words) in [
        (
            "UPDATE audit SET msg = 'b'",
            ["audit", "append-only", "UPDATE"],
        ),
        ("DELETE FROM audit", ["audit", "append-only", "DELETE"]),
        (
            "UPDATE accounts SET ledger_start_transaction_id = 7",
            [
                "accounts",
                "written by the ledger",
                "ledger_start_transaction_id",
            ],
        ),
        (
            "UPDATE accounts SET name = 'B'; UPDATE accounts_history SET name = 'C'",
            ["accounts_history", "append-only", "UPDATE"],
        ),
        (
            "DELETE FROM accounts; DELETE FROM accounts_history",
            ["accounts_history", "append-only", "DELETE"],
        ),
    ] {
        let err = ledger.exec(sql).unwrap_err().to_string();
        for w in words {
            assert!(err.contains(w), "{sql}: {err} lacks {w}");
        }
    }
    // Nothing of the refused transactions stayed.
    assert_eq!(
        scenario::csv(&ledger.query("SELECT id, name FROM accounts", &[]).unwrap()),
        "1,A\n"
    );
    assert_eq!(
        ledger
            .query("SELECT * FROM accounts_history", &[])
            .unwrap()
            .rows
            .len(),
        0
    );
    let bad = ledger
        .create_table("plain", TableKind::Updatable, "id integer, x text")
        .unwrap_err()
        .to_string();
    assert!(bad.contains("primary key"), "{bad}");
}

#[test]
fn another_sqlite_client_is_ledgered_too() {
    let dir = tempfile::tempdir().unwrap();
    let (mut ledger, _) = ledger(&dir);
    ledger.exec("INSERT INTO accounts (id, name, balance) VALUES (1, 'Ana', 5); INSERT INTO audit (id) VALUES (1)").unwrap();
    // A plain connection: no Cairn code, default settings, its own transactions.
    let other = rusqlite::Connection::open(dir.path().join("bank.db")).unwrap();
    other.execute_batch("BEGIN; UPDATE accounts SET balance = 6 WHERE id = 1; INSERT INTO accounts (id, name) VALUES (2, 'Bo'); COMMIT;").unwrap();
    other
        .execute_batch("DELETE FROM accounts WHERE id = 2;")
        .unwrap();
    let err = other
        .execute_batch("UPDATE audit SET msg = 'x'")
        .unwrap_err();
    assert!(err.to_string().contains("append-only"), "{err}");
    drop(other);
    // The other client's writes are grouped into one ledger transaction (2).
    assert_eq!(
        scenario::csv(&ledger.ledger_view("accounts").unwrap()),
        "1,Ana,5,1,0,1,INSERT\n1,Ana,5,2,0,2,DELETE\n1,Ana,6,2,1,1,INSERT\n2,Bo,,2,2,1,INSERT\n2,Bo,,2,3,2,DELETE\n"
    );
    let digest = ledger.digest().unwrap();
    let report = ledger.verify(&[digest]).unwrap();
    assert!(report.is_ok(), "{:#?}", report.inconsistencies);
    assert_eq!(report.row_events, 6);
}

#[test]
fn a_row_with_its_proof_checks_against_the_digest_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let (mut ledger, _) = ledger(&dir);
    for txn in scenario::transactions("x'00ff'") {
        ledger.exec(&txn).unwrap();
    }
    let d0 = ledger.digest().unwrap();
    let key = serde_json::json!({"id": 1});
    let proof = ledger.row_proof("accounts", &key, &d0).unwrap();
    assert_eq!(
        proof.values,
        vec![
            Value::Integer(1),
            Value::Text("Annabel".into()),
            Value::Integer(100)
        ]
    );
    proof.verify(&d0).unwrap();
    // Through JSON, as `cairn sql get --verify` writes it.
    let copy: cairn_sql::RowProof =
        serde_json::from_str(&serde_json::to_string(&proof).unwrap()).unwrap();
    copy.verify(&d0).unwrap();

    // Any changed field fails.
    let mut bad = proof.clone();
    bad.values[2] = Value::Integer(1000);
    assert!(matches!(
        bad.verify(&d0),
        Err(cairn_sql::ProofError::Row { .. })
    ));
    let mut bad = proof.clone();
    bad.start_sequence_number += 1;
    assert!(bad.verify(&d0).is_err());
    let mut bad = proof.clone();
    bad.commit_time.push('0');
    assert!(matches!(
        bad.verify(&d0),
        Err(cairn_sql::ProofError::Transaction { .. })
    ));
    let mut wrong = d0.clone();
    wrong.hash = format!("0x{}", "00".repeat(32));
    assert!(matches!(
        proof.verify(&wrong),
        Err(cairn_sql::ProofError::Digest { .. })
    ));

    // A later digest: the proof chains through the next block.
    ledger
        .exec("INSERT INTO accounts (id, name) VALUES (8, 'Hal')")
        .unwrap();
    let d1 = ledger.digest().unwrap();
    let proof = ledger.row_proof("accounts", &key, &d1).unwrap();
    assert_eq!(proof.blocks.len(), 2);
    proof.verify(&d1).unwrap();
    assert!(proof.verify(&d0).is_err());
    // An append-only row, and a key that is not there.
    ledger
        .row_proof("audit", &serde_json::json!({"id": 2}), &d1)
        .unwrap()
        .verify(&d1)
        .unwrap();
    let err = ledger
        .row_proof("accounts", &serde_json::json!({"id": 2}), &d1)
        .unwrap_err()
        .to_string();
    assert!(err.contains("no row"), "{err}");
}
