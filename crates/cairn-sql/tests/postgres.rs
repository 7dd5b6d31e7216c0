//! PostgreSQL end to end on a real throwaway cluster: the scripted scenario written by
//! `psql` and psycopg (not through Cairn) gives the same ledger view and history as on
//! SQLite; refusals; drop as rename; the tamper sweep as superuser with triggers disabled.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod support;

use std::process::Command;

use cairn_sql::{Backend, Kind, Ledger, PostgresBackend, TableKind, Value};
use support::pg::Cluster;
use support::scenario::{self, ACCOUNTS_VIEW, AUDIT_VIEW, TABLES};

const PSYCOPG_SCRIPT: &str = r#"
import sys
import psycopg
with psycopg.connect(sys.argv[1], autocommit=True) as conn:
    for txn in sys.argv[2:]:
        with conn.transaction():
            for statement in txn.split(";"):
                if statement.strip():
                    conn.execute(statement)
"#;

/// Runs each transaction through psycopg (from the pinned Python environment).
fn psycopg(url: &str, transactions: &[String]) {
    let output = Command::new(cairn_testkit::python::python())
        .arg("-c")
        .arg(PSYCOPG_SCRIPT)
        .arg(url)
        .args(transactions)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "psycopg: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn setup(cluster: &Cluster) -> Ledger {
    let mut ledger = Ledger::open(&cluster.url("postgres")).unwrap();
    ledger.enable().unwrap();
    ledger.enable().unwrap(); // idempotent
    for (name, kind, cols) in TABLES {
        ledger
            .create_table(name, TableKind::parse(kind).unwrap(), cols)
            .unwrap();
    }
    ledger
}

#[test]
fn scenario_by_psql_and_psycopg_matches_sqlite_and_verifies() {
    let cluster = Cluster::start();
    let mut ledger = setup(&cluster);
    let txns = scenario::transactions(r"'\x00ff'::bytea");
    cluster.psql("postgres", &txns[0]).unwrap();
    cluster.psql("postgres", &txns[1]).unwrap();
    psycopg(&cluster.url("postgres"), &txns[2..]);

    assert_eq!(
        scenario::csv(&ledger.ledger_view("accounts").unwrap()),
        ACCOUNTS_VIEW
    );
    assert_eq!(
        scenario::csv(&ledger.ledger_view("audit").unwrap()),
        AUDIT_VIEW
    );
    let history = ledger
        .query(
            "SELECT id, ledger_start_transaction_id, ledger_start_sequence_number, ledger_end_transaction_id, ledger_end_sequence_number FROM accounts_history ORDER BY ledger_end_transaction_id, ledger_end_sequence_number",
            &[],
        )
        .unwrap();
    assert_eq!(scenario::csv(&history), "1,1,0,2,0\n2,1,1,3,0\n1,2,1,4,1\n");
    let principals = ledger
        .query(
            "SELECT DISTINCT principal_name FROM cairn_ledger_transactions",
            &[],
        )
        .unwrap();
    assert_eq!(scenario::csv(&principals), "postgres\n");

    let closed = ledger.close_block().unwrap().unwrap();
    assert_eq!(
        (closed.block_id, closed.transactions, closed.row_events),
        (0, 4, 10)
    );
    let digest = ledger.digest().unwrap();
    assert_eq!(
        (digest.block_id, digest.database_name.as_str()),
        (0, "postgres")
    );
    let report = ledger.verify(std::slice::from_ref(&digest)).unwrap();
    assert!(report.is_ok(), "{:#?}", report.inconsistencies);
    assert_eq!(report.last_anchored_block_id, Some(0));

    // Refusals reach psql with the table and the rule; nothing of them stays.
    for (sql, words) in [
        (
            "UPDATE audit SET msg = 'b'",
            ["audit", "append-only", "UPDATE"],
        ),
        ("DELETE FROM audit", ["audit", "append-only", "DELETE"]),
        ("TRUNCATE accounts", ["accounts", "TRUNCATE", "refused"]),
        (
            "UPDATE accounts_history SET name = 'x'",
            ["accounts_history", "append-only", "accounts"],
        ),
        (
            "DELETE FROM cairn_ledger_blocks",
            ["cairn_ledger_blocks", "append-only", "blocks"],
        ),
        (
            "DROP TABLE audit CASCADE",
            [
                "ledger table audit",
                "DROP is refused",
                "cairn sql drop-table",
            ],
        ),
        (
            "DROP TRIGGER accounts__ledger ON accounts",
            ["accounts__ledger", "DROP is refused", "ledgered"],
        ),
    ] {
        let err = cluster.psql("postgres", sql).unwrap_err();
        for w in words {
            assert!(err.contains(w), "{sql}: {err} lacks {w}");
        }
    }
    // Hidden columns cannot be forged: the trigger overwrites them.
    cluster
        .psql(
            "postgres",
            "INSERT INTO accounts (id, name, ledger_start_transaction_id) VALUES (5, 'Eve', 1)",
        )
        .unwrap();
    let stamped = ledger
        .query(
            "SELECT ledger_start_transaction_id FROM accounts WHERE id = 5",
            &[],
        )
        .unwrap();
    assert_ne!(stamped.rows[0][0], Value::Integer(1));

    // Drop renames and keeps; still verifiable against the same digest and the next one.
    ledger.drop_table("accounts").unwrap();
    assert!(ledger.ledger_view("accounts").is_ok());
    let d1 = ledger.digest().unwrap();
    let report = ledger.verify(&[digest, d1]).unwrap();
    assert!(report.is_ok(), "{:#?}", report.inconsistencies);
    assert_eq!(report.last_anchored_block_id, Some(1));
}

/// Flips one byte of a value (as the SQLite sweep does).
fn flip(value: &Value) -> Option<Value> {
    Some(match value {
        Value::Null => return None,
        Value::Integer(i) => Value::Integer(i ^ 1),
        Value::Real(r) => Value::Real(f64::from_bits(r.to_bits() ^ 1)),
        Value::Boolean(b) => Value::Boolean(!b),
        Value::Text(t) => {
            let mut b = t.clone().into_bytes();
            b[0] ^= 1;
            Value::Text(String::from_utf8(b).unwrap())
        }
        Value::Blob(b) => {
            let mut b = b.clone();
            b[0] ^= 1;
            Value::Blob(b)
        }
    })
}

#[test]
fn superuser_tamper_sweep_with_triggers_disabled_is_found_and_named() {
    let cluster = Cluster::start();
    let mut ledger = setup(&cluster);
    for txn in scenario::transactions(r"'\x00ff'::bytea") {
        cluster.psql("postgres", &txn).unwrap();
    }
    let digest = ledger.digest().unwrap();
    let report = ledger.verify(std::slice::from_ref(&digest)).unwrap();
    assert!(
        report.is_ok(),
        "positive control: {:#?}",
        report.inconsistencies
    );

    // The superuser's own session, with every trigger disabled.
    let mut admin = PostgresBackend::connect(&cluster.url("postgres")).unwrap();
    admin
        .batch("SET session_replication_role = replica")
        .unwrap();
    let mut flips = 0;
    for (table, physical) in [
        ("accounts", "accounts"),
        ("accounts", "accounts_history"),
        ("audit", "audit"),
    ] {
        let rows = admin
            .query(
                &format!("SELECT ctid::text AS ctid, * FROM {physical}"),
                &[],
            )
            .unwrap();
        let key_index = rows.columns.iter().position(|c| c == "id").unwrap();
        for row in &rows.rows {
            let Value::Text(mut ctid) = row[0].clone() else {
                panic!("ctid")
            };
            let Value::Integer(id) = row[key_index] else {
                panic!("id")
            };
            for (column, value) in rows.columns.iter().zip(row).skip(1) {
                let Some(flipped) = flip(value) else { continue };
                flips += 1;
                let moved = admin
                    .query(
                        &format!("UPDATE {physical} SET {column} = ? WHERE ctid = (?::text)::tid RETURNING ctid::text"),
                        &[flipped.clone(), Value::Text(ctid.clone())],
                    )
                    .unwrap();
                assert_eq!(moved.rows.len(), 1);
                let tampered_at = moved.rows[0][0].clone();
                let what = format!("{physical}.{column} of id {id} ({value:?} -> {flipped:?})");
                let report = ledger.verify(std::slice::from_ref(&digest)).unwrap();
                assert!(!report.is_ok(), "not detected: {what}");
                let mut keys = vec![format!("{{\"id\":{id}}}")];
                if let (true, Value::Integer(k)) = (column == "id", &flipped) {
                    keys.push(format!("{{\"id\":{k}}}"));
                }
                for i in &report.inconsistencies {
                    assert_eq!(i.table.as_deref(), Some(table), "{what}: {i:?}");
                    assert!(
                        keys.contains(i.row_key.as_ref().unwrap()),
                        "{what}: names another row: {i:?}"
                    );
                    assert!(
                        matches!(
                            i.kind,
                            Kind::RowChanged
                                | Kind::RowMissing
                                | Kind::HistoryMissing
                                | Kind::UnexpectedRow
                        ),
                        "{what}: {i:?}"
                    );
                }
                // Put it back (an UPDATE moves the row: follow its ctid).
                let restored = admin
                    .query(
                        &format!("UPDATE {physical} SET {column} = ? WHERE ctid = (?::text)::tid RETURNING ctid::text"),
                        &[value.clone(), tampered_at],
                    )
                    .unwrap();
                assert_eq!(restored.rows.len(), 1, "{what}: could not restore");
                let Value::Text(now_at) = restored.rows[0][0].clone() else {
                    panic!("ctid")
                };
                ctid = now_at;
                let report = ledger.verify(std::slice::from_ref(&digest)).unwrap();
                assert!(
                    report.is_ok(),
                    "{what}: restored, yet {:#?}",
                    report.inconsistencies
                );
            }
        }
    }
    // accounts 2 rows × 5 less 1 NULL; history 3 × 7; audit 2 × 7 less 1 NULL (as on SQLite).
    assert_eq!(flips, 9 + 21 + 13);
}
