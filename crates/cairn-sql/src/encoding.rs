//! The canonical encodings and the hashes built from them (docs/ledger-tables.md is the
//! specification; the golden vectors in `testdata/vectors.json` pin it).
//!
//! All integers are big-endian. Three levels:
//! - a **row event** (one row version created or ended) is encoded by [`event_entry`] and
//!   hashed as an RFC 9162 leaf;
//! - the events of one transaction on one table, in sequence-number order, form a Merkle
//!   tree whose root is the **table hash** ([`table_root`]);
//! - a **transaction entry** ([`transaction_entry`]) lists the transaction's table hashes;
//!   the entries of a block, in ordinal order, form the block's transactions tree, and the
//!   **block hash** ([`block_hash`]) covers that root, the size and the previous block hash.

use cairn_merkle::{Hash, MemoryStore, leaf_hash};
use sha2::{Digest, Sha256};

use crate::schema::{Column, ColumnType, Value};

/// Version byte opening every encoding defined here.
pub const VERSION: u8 = 1;
/// Operation code of a row version's creation (SQL Server's `ledger_operation_type` 1).
pub const OP_INSERT: u8 = 1;
/// Operation code of a row version's end (SQL Server's `ledger_operation_type` 2).
pub const OP_DELETE: u8 = 2;
/// Domain prefix of a block hash, so a block hash is never a valid leaf or node hash.
const BLOCK_DOMAIN: &[u8] = b"cairn-sql-block";

/// Canonical value bytes of one non-NULL value of type `ty` (None for NULL).
///
/// A value whose Rust variant does not match the column's type is encoded by the
/// variant it has: verification then reports the row as changed, which is right, since
/// the engine never writes such a value.
pub fn value_bytes(value: &Value) -> Option<(u8, Vec<u8>)> {
    match value {
        Value::Null => None,
        Value::Integer(i) => Some((ColumnType::Integer.tag(), i.to_be_bytes().to_vec())),
        Value::Real(r) => {
            // One NaN, so backends that print NaN differently agree; -0.0 stays itself.
            let bits = if r.is_nan() {
                0x7ff8_0000_0000_0000u64
            } else {
                r.to_bits()
            };
            Some((ColumnType::Real.tag(), bits.to_be_bytes().to_vec()))
        }
        Value::Text(t) => Some((ColumnType::Text.tag(), t.as_bytes().to_vec())),
        Value::Blob(b) => Some((ColumnType::Blob.tag(), b.clone())),
        Value::Boolean(b) => Some((ColumnType::Boolean.tag(), vec![u8::from(*b)])),
    }
}

/// The canonical encoding of a row's user columns: the count of non-NULL columns, then
/// for each non-NULL column in ordinal order its ordinal, type tag, length and bytes.
///
/// NULLs are skipped entirely, so adding a nullable column leaves every earlier row's
/// encoding (and hash) unchanged.
pub fn row_bytes(columns: &[Column], values: &[Value], out: &mut Vec<u8>) {
    let present: Vec<(u16, (u8, Vec<u8>))> = columns
        .iter()
        .zip(values)
        .filter_map(|(c, v)| value_bytes(v).map(|b| (c.ordinal, b)))
        .collect();
    // At most u16::MAX columns exist (ordinals are u16), so this cannot truncate.
    out.extend_from_slice(&(present.len() as u16).to_be_bytes());
    for (ordinal, (tag, bytes)) in present {
        out.extend_from_slice(&ordinal.to_be_bytes());
        out.push(tag);
        out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
        out.extend_from_slice(&bytes);
    }
}

/// Who created, and (for a DELETE event) who ended, a row version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Stamp {
    /// Transaction id.
    pub transaction_id: i64,
    /// Sequence number within that transaction.
    pub sequence_number: i64,
}

/// The leaf entry of one row event.
///
/// `version || op || table_id:u32 || start_txn:i64 || start_seq:i64 || [end_txn:i64 ||
/// end_seq:i64 (DELETE only)] || row_bytes`.
pub fn event_entry(
    table_id: u32,
    start: Stamp,
    end: Option<Stamp>,
    columns: &[Column],
    values: &[Value],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    out.push(VERSION);
    out.push(if end.is_some() { OP_DELETE } else { OP_INSERT });
    out.extend_from_slice(&table_id.to_be_bytes());
    out.extend_from_slice(&start.transaction_id.to_be_bytes());
    out.extend_from_slice(&start.sequence_number.to_be_bytes());
    if let Some(end) = end {
        out.extend_from_slice(&end.transaction_id.to_be_bytes());
        out.extend_from_slice(&end.sequence_number.to_be_bytes());
    }
    row_bytes(columns, values, &mut out);
    out
}

/// The leaf hash of one row event.
pub fn event_hash(
    table_id: u32,
    start: Stamp,
    end: Option<Stamp>,
    columns: &[Column],
    values: &[Value],
) -> Hash {
    leaf_hash(&event_entry(table_id, start, end, columns, values))
}

/// RFC 9162 Merkle tree head over leaf hashes, in order.
pub fn merkle_root(leaves: &[Hash]) -> Hash {
    let store = MemoryStore::from_leaves(leaves.iter().copied());
    // A MemoryStore built from all leaves holds every node a root needs, so this cannot
    // fail; the fallback keeps the function total without a panic path.
    cairn_merkle::root(&store, leaves.len() as u64).unwrap_or_else(|_| cairn_merkle::empty_root())
}

/// The table hash of one transaction on one table: the Merkle root of its event leaf
/// hashes in sequence-number order.
pub fn table_root(event_leaves_by_sequence: &[Hash]) -> Hash {
    merkle_root(event_leaves_by_sequence)
}

/// What a transaction entry holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransactionEntry {
    /// Transaction id.
    pub transaction_id: i64,
    /// When the transaction wrote its first ledgered row (ISO 8601, UTC).
    pub commit_time: String,
    /// Who wrote it (`session_user` on PostgreSQL; the recorded name on SQLite).
    pub principal_name: String,
    /// `(table_id, table hash)`, sorted by table id.
    pub table_hashes: Vec<(u32, Hash)>,
}

/// `version || txn:i64 || len:u16 commit_time || len:u16 principal || count:u16 ||
/// (table_id:u32 || hash:32)*` with table ids ascending.
pub fn transaction_entry(entry: &TransactionEntry) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + 36 * entry.table_hashes.len());
    out.push(VERSION);
    out.extend_from_slice(&entry.transaction_id.to_be_bytes());
    for text in [&entry.commit_time, &entry.principal_name] {
        let bytes = &text.as_bytes()[..text.len().min(u16::MAX as usize)];
        out.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
        out.extend_from_slice(bytes);
    }
    let mut hashes = entry.table_hashes.clone();
    hashes.sort_by_key(|(id, _)| *id);
    out.extend_from_slice(&(hashes.len().min(u16::MAX as usize) as u16).to_be_bytes());
    for (id, hash) in hashes {
        out.extend_from_slice(&id.to_be_bytes());
        out.extend_from_slice(hash.as_bytes());
    }
    out
}

/// The leaf hash of a transaction entry in its block's transactions tree.
pub fn transaction_hash(entry: &TransactionEntry) -> Hash {
    leaf_hash(&transaction_entry(entry))
}

/// A block as stored in `cairn_ledger_blocks`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    /// 0, 1, 2, …
    pub block_id: i64,
    /// Merkle root over the block's transaction hashes in ordinal order.
    pub transactions_root_hash: Hash,
    /// Number of transactions in the block.
    pub block_size: i64,
    /// Hash of block `block_id - 1`; 32 zero bytes for block 0.
    pub previous_block_hash: Hash,
}

/// `SHA-256("cairn-sql-block" || version || block_id:i64 || root || size:i64 || previous)`.
pub fn block_hash(block: &Block) -> Hash {
    let mut h = Sha256::new();
    h.update(BLOCK_DOMAIN);
    h.update([VERSION]);
    h.update(block.block_id.to_be_bytes());
    h.update(block.transactions_root_hash.as_bytes());
    h.update(block.block_size.to_be_bytes());
    h.update(block.previous_block_hash.as_bytes());
    let bytes: [u8; 32] = h.finalize().into();
    Hash::new(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::parse_columns;

    fn cols() -> Vec<Column> {
        #[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
        parse_columns("id integer primary key, name text, balance real, photo blob, ok boolean")
            .unwrap()
    }

    #[test]
    fn nulls_are_skipped_and_a_new_nullable_column_changes_nothing() {
        let columns = cols();
        let values = vec![
            Value::Integer(7),
            Value::Text("Ana".into()),
            Value::Null,
            Value::Null,
            Value::Boolean(true),
        ];
        let before = event_entry(
            3,
            Stamp {
                transaction_id: 1,
                sequence_number: 0,
            },
            None,
            &columns,
            &values,
        );
        let mut wider = columns.clone();
        wider.push(Column {
            name: "added".into(),
            ordinal: 6,
            ty: ColumnType::Text,
            not_null: false,
            primary_key: false,
        });
        let mut wider_values = values.clone();
        wider_values.push(Value::Null);
        let after = event_entry(
            3,
            Stamp {
                transaction_id: 1,
                sequence_number: 0,
            },
            None,
            &wider,
            &wider_values,
        );
        assert_eq!(before, after);
        // The count says 3 non-NULL columns; a value in the new column changes the bytes.
        assert_eq!(&before[22..24], &[0, 3]);
        wider_values[5] = Value::Text("x".into());
        let filled = event_entry(
            3,
            Stamp {
                transaction_id: 1,
                sequence_number: 0,
            },
            None,
            &wider,
            &wider_values,
        );
        assert_ne!(before, filled);
    }

    #[test]
    fn every_field_moves_the_hash() {
        let columns = cols();
        let values = vec![
            Value::Integer(1),
            Value::Text("a".into()),
            Value::Real(1.5),
            Value::Blob(vec![1]),
            Value::Boolean(false),
        ];
        let s = Stamp {
            transaction_id: 4,
            sequence_number: 2,
        };
        let base = event_hash(1, s, None, &columns, &values);
        assert_ne!(base, event_hash(2, s, None, &columns, &values));
        assert_ne!(
            base,
            event_hash(
                1,
                Stamp {
                    transaction_id: 5,
                    ..s
                },
                None,
                &columns,
                &values
            )
        );
        assert_ne!(
            base,
            event_hash(
                1,
                Stamp {
                    sequence_number: 3,
                    ..s
                },
                None,
                &columns,
                &values
            )
        );
        assert_ne!(base, event_hash(1, s, Some(s), &columns, &values));
        for i in 0..values.len() {
            let mut v = values.clone();
            v[i] = Value::Null;
            assert_ne!(base, event_hash(1, s, None, &columns, &v), "column {i}");
        }
    }
}
