//! Golden vectors for the canonical encoding and the hashes (`testdata/vectors.json`).
//!
//! The file was generated once by this test with `CAIRN_SQL_WRITE_VECTORS=1` and is
//! checked on every run: a change to the encoding that alters any byte fails here, and
//! must come with a new format version. One entry is also built byte by byte from the
//! specification in docs/ledger-tables.md, independently of the encoder.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use cairn_merkle::{Hash, leaf_hash};
use cairn_sql::encoding::{self, Block, Stamp, TransactionEntry};
use cairn_sql::schema::{Column, ColumnType, Value, parse_columns};
use serde_json::{Value as Json, json};

fn columns() -> Vec<Column> {
    parse_columns("id integer primary key, name text, balance real, photo blob, active boolean")
        .unwrap()
}

/// `(case, table id, start, end, values)`.
type EventCase = (String, u32, Stamp, Option<Stamp>, Vec<Value>);

fn events() -> Vec<EventCase> {
    let s = |t, q| Stamp {
        transaction_id: t,
        sequence_number: q,
    };
    vec![
        (
            "insert, all types".into(),
            1,
            s(1, 0),
            None,
            vec![
                Value::Integer(1),
                Value::Text("Ana".into()),
                Value::Real(50.25),
                Value::Blob(vec![0, 255]),
                Value::Boolean(true),
            ],
        ),
        (
            "insert, NULLs skipped".into(),
            1,
            s(1, 1),
            None,
            vec![
                Value::Integer(-2),
                Value::Null,
                Value::Null,
                Value::Null,
                Value::Boolean(false),
            ],
        ),
        (
            "delete of an earlier version".into(),
            1,
            s(1, 0),
            Some(s(2, 0)),
            vec![
                Value::Integer(1),
                Value::Text("Ana".into()),
                Value::Real(50.25),
                Value::Blob(vec![0, 255]),
                Value::Boolean(true),
            ],
        ),
        (
            "insert, unicode text and empty blob".into(),
            7,
            s(2, 1),
            None,
            vec![
                Value::Integer(i64::MAX),
                Value::Text("Zoë 🌲".into()),
                Value::Real(-0.0),
                Value::Blob(vec![]),
                Value::Null,
            ],
        ),
    ]
}

fn compute() -> Json {
    let cols = columns();
    let mut out_events = Vec::new();
    let mut leaves = Vec::new();
    for (name, table_id, start, end, values) in events() {
        let entry = encoding::event_entry(table_id, start, end, &cols, &values);
        let hash = leaf_hash(&entry);
        leaves.push(hash);
        out_events.push(json!({
            "case": name,
            "table_id": table_id,
            "start": [start.transaction_id, start.sequence_number],
            "end": end.map(|e| vec![e.transaction_id, e.sequence_number]),
            "values": values.iter().map(Value::to_json).collect::<Vec<_>>(),
            "entry": hex::encode(&entry),
            "leaf_hash": hash.to_hex(),
        }));
    }
    let root_a = encoding::table_root(&leaves[..3]);
    let root_b = encoding::table_root(&leaves[3..]);
    let txn = TransactionEntry {
        transaction_id: 1,
        commit_time: "2026-12-07T02:00:00.000Z".into(),
        principal_name: "postgres".into(),
        table_hashes: vec![(7, root_b), (1, root_a)],
    };
    let txn_hash = encoding::transaction_hash(&txn);
    let block0 = Block {
        block_id: 0,
        transactions_root_hash: encoding::merkle_root(&[txn_hash]),
        block_size: 1,
        previous_block_hash: Hash::new([0; 32]),
    };
    let h0 = encoding::block_hash(&block0);
    let block1 = Block {
        block_id: 1,
        transactions_root_hash: encoding::merkle_root(&[txn_hash, txn_hash]),
        block_size: 2,
        previous_block_hash: h0,
    };
    json!({
        "source": "generated once by crates/cairn-sql/tests/golden.rs (CAIRN_SQL_WRITE_VECTORS=1); the format is docs/ledger-tables.md",
        "columns": cols.iter().map(|c| json!({"name": c.name, "ordinal": c.ordinal, "type": c.ty.as_str()})).collect::<Vec<_>>(),
        "events": out_events,
        "table_root_of_events_0_1_2": root_a.to_hex(),
        "table_root_of_event_3": root_b.to_hex(),
        "transaction": {
            "transaction_id": txn.transaction_id,
            "commit_time": txn.commit_time,
            "principal_name": txn.principal_name,
            "entry": hex::encode(encoding::transaction_entry(&txn)),
            "hash": txn_hash.to_hex(),
        },
        "block_0_hash": h0.to_hex(),
        "block_1_hash": encoding::block_hash(&block1).to_hex(),
    })
}

#[test]
fn vectors_match_the_committed_file() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/vectors.json");
    let computed = compute();
    if std::env::var_os("CAIRN_SQL_WRITE_VECTORS").is_some() {
        std::fs::write(
            &path,
            serde_json::to_string_pretty(&computed).unwrap() + "\n",
        )
        .unwrap();
    }
    let stored: Json = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(computed, stored);
}

#[test]
fn one_entry_built_by_hand_from_the_specification() {
    // Event 1 of the vectors: INSERT by transaction 1, sequence 1, on table 1 of
    // (id -2, name NULL, balance NULL, photo NULL, active false).
    let mut expected = vec![1u8, 1]; // version, operation INSERT
    expected.extend([0, 0, 0, 1]); // table id
    expected.extend(1i64.to_be_bytes()); // start transaction
    expected.extend(1i64.to_be_bytes()); // start sequence number
    expected.extend([0, 2]); // two non-NULL columns
    expected.extend([0, 1, ColumnType::Integer.tag(), 0, 0, 0, 8]);
    expected.extend((-2i64).to_be_bytes());
    expected.extend([0, 5, ColumnType::Boolean.tag(), 0, 0, 0, 1, 0]);
    let (_, table_id, start, end, values) = events().remove(1);
    assert_eq!(
        encoding::event_entry(table_id, start, end, &columns(), &values),
        expected
    );
    // RFC 9162 leaf hash: SHA-256(0x00 || entry).
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update([0u8]);
    h.update(&expected);
    let bytes: [u8; 32] = h.finalize().into();
    assert_eq!(leaf_hash(&expected), Hash::new(bytes));
}
