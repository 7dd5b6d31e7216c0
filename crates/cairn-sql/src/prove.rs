//! Building a [`RowProof`] for one row of a ledger table, from what the database stores.

use cairn_merkle::{Hash, MemoryStore, inclusion_proof};

use crate::backend;
use crate::digest::Digest;
use crate::encoding::{self, TransactionEntry};
use crate::engine::{Ledger, hash_value, int_value, read_blocks, text_value};
use crate::error::SqlError;
use crate::proof::{BlockHeader, RowProof};
use crate::schema::{ColumnType, START_SEQ, START_TXN, Value};

impl Ledger {
    /// The current version of the row of `table` whose primary key is `key` (a JSON
    /// object such as `{"id": 1}`), with its proof up to the block `digest` names.
    pub fn row_proof(
        &mut self,
        table: &str,
        key: &serde_json::Value,
        digest: &Digest,
    ) -> Result<RowProof, SqlError> {
        let t = self.table(table)?;
        let mut conditions = Vec::new();
        let mut params = Vec::new();
        for c in t.key_columns() {
            let v = key.get(&c.name).ok_or_else(|| {
                SqlError::Schema(format!(
                    "the key must name every primary-key column of {table}: {} is missing",
                    c.name
                ))
            })?;
            params.push(json_to_value(c.ty, v).ok_or_else(|| {
                SqlError::Schema(format!(
                    "key column {} is {}, not {v}",
                    c.name,
                    c.ty.as_str()
                ))
            })?);
            conditions.push(format!("{} = ?", c.name));
        }
        let cols = backend::column_list(&t, "");
        let db = self.backend();
        let rows = db.query(
            &format!(
                "SELECT {cols}, {START_TXN}, {START_SEQ} FROM {} WHERE {}",
                t.table_name,
                conditions.join(" AND ")
            ),
            &params,
        )?;
        let mut row = rows
            .rows
            .into_iter()
            .next()
            .ok_or_else(|| SqlError::Schema(format!("{table} has no row with key {key}")))?;
        let hidden = row.split_off(t.columns.len());
        let (Some(txn), Some(seq)) = (int_value(hidden.first()), int_value(hidden.get(1))) else {
            return Err(SqlError::Corrupt(format!(
                "the row {key} of {table} has no ledger stamp"
            )));
        };
        let values: Vec<Value> = row
            .into_iter()
            .zip(&t.columns)
            .map(|(v, c)| crate::engine::normalize(c.ty, v))
            .collect();

        let found = db.query("SELECT block_id, commit_time, principal_name FROM cairn_ledger_transactions WHERE transaction_id = ?", &[Value::Integer(txn)])?;
        let entry = found
            .rows
            .first()
            .ok_or_else(|| SqlError::Corrupt(format!("transaction {txn} is not recorded")))?;
        let block_id = int_value(entry.first()).ok_or_else(|| {
            SqlError::Digest(format!(
                "the row's transaction {txn} is not in a block yet: run `cairn sql digest` first"
            ))
        })?;
        if block_id > digest.block_id {
            return Err(SqlError::Digest(format!(
                "the row's transaction {txn} is in block {block_id}, after the digest's block {}: use a newer digest",
                digest.block_id
            )));
        }
        let (commit_time, principal_name) = (text_value(entry.get(1)), text_value(entry.get(2)));

        let leaves = db.query(
            "SELECT sequence_number, hash FROM cairn_ledger_row_hashes WHERE table_id = ? AND transaction_id = ? ORDER BY sequence_number",
            &[Value::Integer(t.table_id.into()), Value::Integer(txn)],
        )?;
        let index = leaves.rows.iter().position(|r| int_value(r.first()) == Some(seq)).ok_or_else(|| {
            SqlError::Corrupt(format!("no row hash is stored for transaction {txn}, sequence {seq}: run `cairn sql verify`"))
        })?;
        let event_proof = prove(
            leaves.rows.iter().map(|r| hash_value(r.get(1))).collect(),
            index,
        )?;
        let table_hashes = table_hashes_of(db, txn)?;

        let in_block = db.query(
            "SELECT transaction_id, commit_time, principal_name FROM cairn_ledger_transactions WHERE block_id = ? ORDER BY transactional_ordinal",
            &[Value::Integer(block_id)],
        )?;
        let mut txn_leaves = Vec::new();
        let mut txn_index = None;
        for (i, r) in in_block.rows.iter().enumerate() {
            let id = int_value(r.first()).unwrap_or(-1);
            if id == txn {
                txn_index = Some(i);
            }
            txn_leaves.push(encoding::transaction_hash(&TransactionEntry {
                transaction_id: id,
                commit_time: text_value(r.get(1)),
                principal_name: text_value(r.get(2)),
                table_hashes: table_hashes_of(db, id)?,
            }));
        }
        let transaction_proof = prove(txn_leaves, txn_index.unwrap_or(usize::MAX))?;
        let blocks = read_blocks(db)?
            .iter()
            .filter(|b| b.block_id >= block_id && b.block_id <= digest.block_id)
            .map(BlockHeader::from)
            .collect();
        Ok(RowProof {
            table: t.name.clone(),
            table_id: t.table_id,
            columns: t.columns.clone(),
            values,
            start_transaction_id: txn,
            start_sequence_number: seq,
            event_proof,
            commit_time,
            principal_name,
            table_hashes,
            transaction_proof,
            blocks,
        })
    }
}

fn table_hashes_of(db: &mut dyn backend::Backend, txn: i64) -> Result<Vec<(u32, Hash)>, SqlError> {
    let rows = db.query("SELECT table_id, hash FROM cairn_ledger_table_hashes WHERE transaction_id = ? ORDER BY table_id", &[Value::Integer(txn)])?;
    Ok(rows
        .rows
        .iter()
        .filter_map(|r| {
            Some((
                u32::try_from(int_value(r.first())?).ok()?,
                hash_value(r.get(1)),
            ))
        })
        .collect())
}

fn prove(leaves: Vec<Hash>, index: usize) -> Result<cairn_merkle::InclusionProof, SqlError> {
    let size = leaves.len() as u64;
    let store = MemoryStore::from_leaves(leaves);
    inclusion_proof(&store, index as u64, size)
        .map_err(|e| SqlError::Corrupt(format!("cannot build the inclusion proof: {e}")))
}

/// A JSON key value as a value of the column's type.
fn json_to_value(ty: ColumnType, v: &serde_json::Value) -> Option<Value> {
    Some(match ty {
        ColumnType::Integer => Value::Integer(v.as_i64()?),
        ColumnType::Real => Value::Real(v.as_f64()?),
        ColumnType::Text => Value::Text(v.as_str()?.to_owned()),
        ColumnType::Boolean => Value::Boolean(v.as_bool()?),
        ColumnType::Blob => Value::Blob(hex::decode(v.as_str()?.trim_start_matches("\\x")).ok()?),
    })
}
