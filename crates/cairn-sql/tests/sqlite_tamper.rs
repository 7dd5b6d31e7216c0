//! The tamper sweep on SQLite: one byte flipped in each stored column value, each history
//! row and each hidden column, each on its own copy of the database, by a raw connection
//! with the ledger's triggers dropped (what a user with the file can do); and bytes
//! flipped directly in the database file. Every flip must be detected, and every
//! reported row must be the tampered one.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod support;

use std::path::Path;

use cairn_sql::{Digest, Kind, Ledger, TableKind};
use rusqlite::types::Value as Sql;
use support::scenario::{self, TABLES};

/// Builds the scenario's database, closes its block and returns its digest.
fn build(path: &Path) -> Digest {
    let mut ledger = Ledger::open(&format!("sqlite:{}", path.display())).unwrap();
    ledger.enable().unwrap();
    for (name, kind, cols) in TABLES {
        ledger
            .create_table(name, TableKind::parse(kind).unwrap(), cols)
            .unwrap();
    }
    for txn in scenario::transactions("x'00ff'") {
        ledger.exec(&txn).unwrap();
    }
    ledger.digest().unwrap()
}

/// Flips one byte of a stored value: the lowest byte of an integer or a double, the
/// lowest bit of a text's first byte (staying ASCII), the first byte of a blob.
fn flip(value: &Sql) -> Option<Sql> {
    Some(match value {
        Sql::Null => return None,
        Sql::Integer(i) => Sql::Integer(i ^ 1),
        Sql::Real(r) => Sql::Real(f64::from_bits(r.to_bits() ^ 1)),
        Sql::Text(t) => {
            let mut b = t.clone().into_bytes();
            b[0] ^= 1;
            Sql::Text(String::from_utf8(b).unwrap())
        }
        Sql::Blob(b) => {
            let mut b = b.clone();
            b[0] ^= 1;
            Sql::Blob(b)
        }
    })
}

#[test]
fn every_flipped_value_history_row_and_hidden_column_is_found_and_named() {
    let dir = tempfile::tempdir().unwrap();
    let clean = dir.path().join("clean.db");
    let digest = build(&clean);
    // Positive control: the untouched database verifies.
    let report = Ledger::open(&format!("sqlite:{}", clean.display()))
        .unwrap()
        .verify(std::slice::from_ref(&digest))
        .unwrap();
    assert!(report.is_ok(), "{:#?}", report.inconsistencies);

    let targets = [
        ("accounts", "accounts", "id"),
        ("accounts", "accounts_history", "id"),
        ("audit", "audit", "id"),
    ];
    let mut flips = 0;
    for (table, physical, key) in targets {
        let conn = rusqlite::Connection::open(&clean).unwrap();
        let mut stmt = conn
            .prepare(&format!("SELECT rowid, * FROM {physical}"))
            .unwrap();
        let names: Vec<String> = stmt.column_names().map(str::to_owned).collect();
        let key_index = names.iter().position(|n| n == key).unwrap();
        let rows: Vec<Vec<Sql>> = stmt
            .query_map([], |r| {
                (0..names.len()).map(|i| r.get::<_, Sql>(i)).collect()
            })
            .unwrap()
            .map(Result::unwrap)
            .collect();
        drop(stmt);
        drop(conn);
        for row in &rows {
            let Sql::Integer(rowid) = row[0] else {
                panic!("rowid")
            };
            let Sql::Integer(original_key) = row[key_index] else {
                panic!("key")
            };
            for (column, value) in names.iter().zip(row).skip(1) {
                let Some(flipped) = flip(value) else { continue };
                flips += 1;
                let copy = dir.path().join(format!("t{flips}.db"));
                std::fs::copy(&clean, &copy).unwrap();
                let raw = rusqlite::Connection::open(&copy).unwrap();
                let triggers: Vec<String> = raw
                    .prepare(
                        "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?1",
                    )
                    .unwrap()
                    .query_map([physical], |r| r.get(0))
                    .unwrap()
                    .map(Result::unwrap)
                    .collect();
                for t in triggers {
                    raw.execute_batch(&format!("DROP TRIGGER {t}")).unwrap();
                }
                let changed = raw
                    .execute(
                        &format!("UPDATE {physical} SET {column} = ?1 WHERE rowid = ?2"),
                        rusqlite::params![flipped, rowid],
                    )
                    .unwrap();
                assert_eq!(changed, 1);
                drop(raw);

                let what = format!(
                    "{physical}.{column} of row {key}={original_key} ({value:?} -> {flipped:?})"
                );
                let mut ledger = Ledger::open(&format!("sqlite:{}", copy.display())).unwrap();
                let report = ledger.verify(std::slice::from_ref(&digest)).unwrap();
                assert!(!report.is_ok(), "not detected: {what}");
                let mut keys = vec![format!("{{\"{key}\":{original_key}}}")];
                if column == key
                    && let Sql::Integer(k) = flipped
                {
                    keys.push(format!("{{\"{key}\":{k}}}"));
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
                // The digest still anchors the blocks: only rows are reported, never the chain.
                assert_eq!(
                    report.last_anchored_block_id, None,
                    "{what}: block 0 is not verified"
                );
                std::fs::remove_file(&copy).unwrap();
            }
        }
    }
    // Every non-NULL stored value: accounts 2 rows × 5 columns less 1 NULL balance;
    // accounts_history 3 rows × 7; audit 2 rows × 7 less 1 NULL note.
    assert_eq!(flips, 9 + 21 + 13);
}

#[test]
fn bytes_flipped_in_the_file_are_found_and_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("file.db");
    let digest = build(&path);
    // Closing every connection checkpoints the WAL into the main file.
    let clean = std::fs::read(&path).unwrap();
    assert!(
        !dir.path().join("file.db-wal").exists()
            || std::fs::metadata(dir.path().join("file.db-wal"))
                .unwrap()
                .len()
                == 0
    );
    for (needle, table, key) in [
        (&b"opened 1 and 2"[..], "audit", "{\"id\":1}"),
        (&b"deposit 1"[..], "audit", "{\"id\":2}"),
        (&b"Annabel"[..], "accounts", "{\"id\":1}"),
        (&b"Cyrus"[..], "accounts", "{\"id\":3}"),
    ] {
        let mut bytes = clean.clone();
        let mut hits = 0;
        // Every copy of the value (a page may keep a stale one in free space).
        for start in 0..bytes.len() - needle.len() {
            if &bytes[start..start + needle.len()] == needle {
                bytes[start] ^= 1;
                hits += 1;
            }
        }
        assert!(hits > 0, "{needle:?} not in the file");
        std::fs::write(&path, &bytes).unwrap();
        let report = Ledger::open(&format!("sqlite:{}", path.display()))
            .unwrap()
            .verify(std::slice::from_ref(&digest))
            .unwrap();
        let what = String::from_utf8_lossy(needle);
        assert!(
            !report.is_ok(),
            "flipping {what} in the file went unnoticed"
        );
        for i in &report.inconsistencies {
            assert_eq!(
                (i.kind, i.table.as_deref(), i.row_key.as_deref()),
                (Kind::RowChanged, Some(table), Some(key)),
                "{what}: {i:?}"
            );
        }
    }
    std::fs::write(&path, &clean).unwrap();
    let report = Ledger::open(&format!("sqlite:{}", path.display()))
        .unwrap()
        .verify(&[digest])
        .unwrap();
    assert!(
        report.is_ok(),
        "restored file: {:#?}",
        report.inconsistencies
    );
}

/// Runs `sql` on a copy of `clean` with every trigger dropped, then verifies it.
fn tampered(dir: &Path, clean: &Path, sql: &str, digests: &[Digest]) -> cairn_sql::Report {
    let copy = dir.join("ledger-tamper.db");
    std::fs::copy(clean, &copy).unwrap();
    let raw = rusqlite::Connection::open(&copy).unwrap();
    let triggers: Vec<String> = raw
        .prepare("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for t in triggers {
        raw.execute_batch(&format!("DROP TRIGGER {t}")).unwrap();
    }
    raw.execute_batch(sql).unwrap();
    drop(raw);
    Ledger::open(&format!("sqlite:{}", copy.display()))
        .unwrap()
        .verify(digests)
        .unwrap()
}

/// `(kind, block, table, transaction, row key)` of each inconsistency.
type Found = (
    Kind,
    Option<i64>,
    Option<String>,
    Option<i64>,
    Option<String>,
);

fn kinds(report: &cairn_sql::Report) -> Vec<Found> {
    report
        .inconsistencies
        .iter()
        .map(|i| {
            (
                i.kind,
                i.block_id,
                i.table.clone(),
                i.transaction_id,
                i.row_key.clone(),
            )
        })
        .collect()
}

#[test]
fn changes_to_the_ledger_itself_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let clean = dir.path().join("clean.db");
    let d0 = build(&clean);
    let d1 = {
        let mut ledger = Ledger::open(&format!("sqlite:{}", clean.display())).unwrap();
        ledger
            .exec("INSERT INTO accounts (id, name) VALUES (4, 'Dora')")
            .unwrap();
        ledger.digest().unwrap()
    };
    assert_eq!(d1.block_id, 1);
    let both = [d0.clone(), d1.clone()];
    let dir = dir.path();
    let s = |x: &str| Some(x.to_owned());

    // Positive control.
    let report = tampered(dir, &clean, "SELECT 1", &both);
    assert!(report.is_ok(), "{:#?}", report.inconsistencies);
    assert_eq!(
        (report.last_verified_block_id, report.last_anchored_block_id),
        (Some(1), Some(1))
    );

    let report = tampered(
        dir,
        &clean,
        "UPDATE cairn_ledger_blocks SET previous_block_hash = zeroblob(32) WHERE block_id = 1",
        &both,
    );
    assert_eq!(
        kinds(&report),
        vec![
            (Kind::BlockChainBroken, Some(1), None, None, None),
            (Kind::DigestMismatch, Some(1), None, None, None)
        ]
    );
    assert_eq!(
        (report.last_verified_block_id, report.last_anchored_block_id),
        (Some(0), Some(0))
    );

    let report = tampered(
        dir,
        &clean,
        "UPDATE cairn_ledger_transactions SET commit_time = '2020-01-01T00:00:00.000Z' WHERE transaction_id = 2",
        &both,
    );
    assert_eq!(
        kinds(&report),
        vec![(Kind::TransactionsRootMismatch, Some(0), None, None, None)]
    );
    assert_eq!(report.last_verified_block_id, None);

    let report = tampered(
        dir,
        &clean,
        "UPDATE cairn_ledger_row_hashes SET hash = zeroblob(32) WHERE transaction_id = 3 AND sequence_number = 0",
        &both,
    );
    assert_eq!(
        kinds(&report),
        vec![
            (
                Kind::TableHashMismatch,
                Some(0),
                s("accounts"),
                Some(3),
                None
            ),
            (
                Kind::RowChanged,
                Some(0),
                s("accounts"),
                Some(3),
                s("{\"id\":2}")
            ),
        ]
    );

    let mut wrong = d0.clone();
    wrong.hash = format!("0x{}", "AB".repeat(32));
    let report = tampered(dir, &clean, "SELECT 1", &[wrong, d1.clone()]);
    assert_eq!(
        kinds(&report),
        vec![(Kind::DigestMismatch, Some(0), None, None, None)]
    );

    let report = tampered(
        dir,
        &clean,
        "DELETE FROM accounts_history WHERE id = 2",
        &both,
    );
    assert_eq!(
        kinds(&report),
        vec![
            (
                Kind::RowMissing,
                Some(0),
                s("accounts"),
                Some(1),
                s("{\"id\":2}")
            ),
            (
                Kind::HistoryMissing,
                Some(0),
                s("accounts"),
                Some(3),
                s("{\"id\":2}")
            ),
        ]
    );

    let report = tampered(
        dir,
        &clean,
        "INSERT INTO accounts (id, name) VALUES (77, 'Mallory')",
        &both,
    );
    assert_eq!(
        kinds(&report),
        vec![(
            Kind::UnexpectedRow,
            None,
            s("accounts"),
            None,
            s("{\"id\":77}")
        )]
    );
    assert_eq!(
        report.last_anchored_block_id,
        Some(1),
        "rows outside the ledger do not touch its blocks"
    );

    let report = tampered(dir, &clean, "DROP TABLE audit", &both);
    let found = kinds(&report);
    assert!(
        found.contains(&(Kind::TableMissing, None, s("audit"), None, None)),
        "{found:?}"
    );
    assert_eq!(
        found
            .iter()
            .filter(|k| k.0 == Kind::RowMissing && k.2 == s("audit"))
            .count(),
        2,
        "{found:?}"
    );
}
