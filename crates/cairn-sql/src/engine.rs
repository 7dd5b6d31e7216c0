//! The ledger engine over a [`Backend`]: enable, create and drop ledger tables, run a
//! user's statements, close blocks (hash what committed since the last block), produce
//! digests, read snapshots for verification.

use std::collections::{BTreeMap, HashSet};

use cairn_merkle::Hash;

use crate::backend::{self, Backend, Rows};
use crate::digest::{Digest, format_hash, now_iso};
use crate::encoding::{self, Block, OP_DELETE, OP_INSERT, Stamp, TransactionEntry};
use crate::error::SqlError;
use crate::schema::{
    Column, ColumnType, END_SEQ, END_TXN, START_SEQ, START_TXN, TableKind, TableSchema, Value,
    check_identifier, parse_columns,
};
use crate::verify::{self, Event, Report, Snapshot, StoredLeaf, StoredTransaction};

/// Stands in for a stored hash that is not 32 bytes (only possible after tampering): it
/// matches no SHA-256 output, so every check it enters fails.
const BAD_HASH: Hash = Hash::new([0xff; 32]);

/// A ledger database.
pub struct Ledger {
    db: Box<dyn Backend>,
    database_name: String,
}

/// What closing a block did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClosedBlock {
    /// The new block's id.
    pub block_id: i64,
    /// Transactions in it.
    pub transactions: usize,
    /// Row events hashed.
    pub row_events: usize,
}

impl Ledger {
    /// Opens the database at `url` (`sqlite:PATH` or `postgresql://…`).
    pub fn open(url: &str) -> Result<Self, SqlError> {
        let db = backend::open(url)?;
        Ok(Self::from_backend(db, database_name(url)))
    }

    /// Wraps an open backend.
    pub fn from_backend(db: Box<dyn Backend>, database_name: String) -> Self {
        Self { db, database_name }
    }

    /// The backend, for statements outside the ledger API.
    pub fn backend(&mut self) -> &mut dyn Backend {
        self.db.as_mut()
    }

    /// The name digests carry.
    pub fn database_name(&self) -> &str {
        &self.database_name
    }

    /// Creates the ledger metadata (idempotent).
    pub fn enable(&mut self) -> Result<(), SqlError> {
        let ddl = self.db.enable_ddl();
        self.in_transaction(|db| db.batch(&ddl))
    }

    fn require_enabled(&mut self) -> Result<(), SqlError> {
        if self.db.is_enabled()? {
            Ok(())
        } else {
            Err(SqlError::NotEnabled)
        }
    }

    fn in_transaction<T>(
        &mut self,
        body: impl FnOnce(&mut dyn Backend) -> Result<T, SqlError>,
    ) -> Result<T, SqlError> {
        self.db.batch("BEGIN")?;
        finish(self.db.as_mut(), body)
    }

    /// Every ledger table, dropped ones included, by table id.
    pub fn tables(&mut self) -> Result<Vec<TableSchema>, SqlError> {
        self.require_enabled()?;
        read_tables(self.db.as_mut())
    }

    /// The (not dropped) ledger table called `name`.
    pub fn table(&mut self, name: &str) -> Result<TableSchema, SqlError> {
        self.tables()?
            .into_iter()
            .find(|t| t.name == name && !t.dropped)
            .ok_or_else(|| SqlError::UnknownTable(name.to_owned()))
    }

    /// Creates a ledger table from column definitions (`id integer primary key, …`).
    pub fn create_table(
        &mut self,
        name: &str,
        kind: TableKind,
        columns: &str,
    ) -> Result<TableSchema, SqlError> {
        check_identifier(name)?;
        let columns = parse_columns(columns)?;
        let existing = self.tables()?;
        if existing.iter().any(|t| t.name == name && !t.dropped) {
            return Err(SqlError::Schema(format!(
                "ledger table {name} already exists"
            )));
        }
        let table_id = existing.iter().map(|t| t.table_id).max().unwrap_or(0) + 1;
        let (table_name, history_name, view_name) = TableSchema::physical_names(name);
        let table = TableSchema {
            table_id,
            name: name.to_owned(),
            kind,
            columns,
            table_name,
            history_name,
            view_name,
            dropped: false,
        };
        let ddl = self.db.create_table_ddl(&table);
        let meta = table.clone();
        self.in_transaction(|db| {
            db.batch(&ddl)?;
            insert_table_meta(db, &meta)
        })?;
        tracing::info!(table = name, kind = kind.as_str(), "ledger table created");
        Ok(table)
    }

    /// Drops a ledger table the way SQL Server does: renamed and kept, still verifiable.
    pub fn drop_table(&mut self, name: &str) -> Result<TableSchema, SqlError> {
        let table = self.table(name)?;
        let base = format!("cairn_dropped_{}_{}", table.table_id, table.name);
        let new = TableSchema {
            table_name: base.clone(),
            history_name: format!("{base}_history"),
            view_name: format!("{base}_ledger"),
            dropped: true,
            ..table.clone()
        };
        let ddl = self.db.drop_table_ddl(&table, &new);
        let meta = new.clone();
        self.in_transaction(|db| {
            db.batch(&ddl)?;
            db.execute(
                "UPDATE cairn_ledger_tables SET table_name = ?, history_name = ?, view_name = ?, dropped = 1 WHERE table_id = ?",
                &[
                    Value::Text(meta.table_name.clone()),
                    Value::Text(meta.history_name.clone()),
                    Value::Text(meta.view_name.clone()),
                    Value::Integer(meta.table_id.into()),
                ],
            )?;
            Ok(())
        })?;
        Ok(new)
    }

    /// Runs a user's statements as one ledger transaction.
    pub fn exec(&mut self, sql: &str) -> Result<(), SqlError> {
        self.db.begin_user()?;
        match self.db.batch(sql) {
            Ok(()) => self.db.commit_user(),
            Err(e) => {
                let _ = self.db.batch("ROLLBACK");
                Err(e)
            }
        }
    }

    /// Runs one query (a SELECT) and returns its rows.
    pub fn query(&mut self, sql: &str, params: &[Value]) -> Result<Rows, SqlError> {
        self.db.query(sql, params)
    }

    /// The ledger view of `name`, ordered by transaction and sequence number.
    pub fn ledger_view(&mut self, name: &str) -> Result<Rows, SqlError> {
        let table = self
            .tables()?
            .into_iter()
            .rev()
            .find(|t| t.name == name)
            .ok_or_else(|| SqlError::UnknownTable(name.to_owned()))?;
        self.db.query(
            &format!(
                "SELECT * FROM {} ORDER BY ledger_transaction_id, ledger_sequence_number",
                table.view_name
            ),
            &[],
        )
    }

    /// Hashes every transaction committed since the last block into a new block.
    /// Returns `None` when nothing changed.
    pub fn close_block(&mut self) -> Result<Option<ClosedBlock>, SqlError> {
        self.require_enabled()?;
        self.db.begin_block_close()?;
        finish(self.db.as_mut(), close_block_in)
    }

    /// Closes a block if anything changed, then returns the digest of the last block.
    pub fn digest(&mut self) -> Result<Digest, SqlError> {
        self.close_block()?;
        let blocks = read_blocks(self.db.as_mut())?;
        let Some(last) = blocks.last() else {
            return Err(SqlError::Digest(
                "nothing to digest yet: no ledger table has been written".into(),
            ));
        };
        let time = self.db.query(
            "SELECT commit_time FROM cairn_ledger_transactions WHERE block_id = ? ORDER BY transactional_ordinal DESC LIMIT 1",
            &[Value::Integer(last.block_id)],
        )?;
        let last_time = match time.rows.first().and_then(|r| r.first()) {
            Some(Value::Text(t)) => t.clone(),
            _ => String::new(),
        };
        Ok(Digest {
            database_name: self.database_name.clone(),
            block_id: last.block_id,
            hash: format_hash(&encoding::block_hash(last)),
            last_transaction_commit_time: last_time,
            digest_time: now_iso(),
        })
    }

    /// Reads everything verification needs, in one read transaction.
    pub fn snapshot(&mut self) -> Result<Snapshot, SqlError> {
        self.require_enabled()?;
        self.db.batch("BEGIN")?;
        finish(self.db.as_mut(), read_snapshot)
    }

    /// Recomputes everything and reports every inconsistency.
    pub fn verify(&mut self, digests: &[Digest]) -> Result<Report, SqlError> {
        let snapshot = self.snapshot()?;
        Ok(verify::verify(&snapshot, digests))
    }
}

/// Runs `body` in the transaction the caller began; commits on success, rolls back on error.
fn finish<T>(
    db: &mut dyn Backend,
    body: impl FnOnce(&mut dyn Backend) -> Result<T, SqlError>,
) -> Result<T, SqlError> {
    match body(db) {
        Ok(v) => {
            db.batch("COMMIT")?;
            Ok(v)
        }
        Err(e) => {
            let _ = db.batch("ROLLBACK");
            Err(e)
        }
    }
}

fn database_name(url: &str) -> String {
    let tail = url.rsplit(['/', ':']).next().unwrap_or(url);
    let tail = tail.split('?').next().unwrap_or(tail);
    let stem = tail.rsplit_once('.').map_or(tail, |(s, _)| s);
    if stem.is_empty() {
        "cairn".into()
    } else {
        stem.to_owned()
    }
}

fn insert_table_meta(db: &mut dyn Backend, t: &TableSchema) -> Result<(), SqlError> {
    let columns =
        serde_json::to_string(&t.columns).map_err(|e| SqlError::Corrupt(e.to_string()))?;
    db.execute(
        "INSERT INTO cairn_ledger_tables (table_id, name, kind, columns, table_name, history_name, view_name, dropped) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        &[
            Value::Integer(t.table_id.into()),
            Value::Text(t.name.clone()),
            Value::Text(t.kind.as_str().into()),
            Value::Text(columns),
            Value::Text(t.table_name.clone()),
            Value::Text(t.history_name.clone()),
            Value::Text(t.view_name.clone()),
            Value::Integer(i64::from(t.dropped)),
        ],
    )?;
    Ok(())
}

/// A stored text (or number) as text.
pub(crate) fn text_value(v: Option<&Value>) -> String {
    match v {
        Some(Value::Text(t)) => t.clone(),
        Some(Value::Integer(i)) => i.to_string(),
        _ => String::new(),
    }
}

/// A stored integer.
pub(crate) fn int_value(v: Option<&Value>) -> Option<i64> {
    match v {
        Some(Value::Integer(i)) => Some(*i),
        _ => None,
    }
}

/// A stored hash ([`BAD_HASH`] unless 32 bytes).
pub(crate) fn hash_value(v: Option<&Value>) -> Hash {
    match v {
        Some(Value::Blob(b)) => <[u8; 32]>::try_from(b.as_slice()).map_or(BAD_HASH, Hash::new),
        _ => BAD_HASH,
    }
}

fn read_tables(db: &mut dyn Backend) -> Result<Vec<TableSchema>, SqlError> {
    let rows = db.query(
        "SELECT table_id, name, kind, columns, table_name, history_name, view_name, dropped FROM cairn_ledger_tables ORDER BY table_id",
        &[],
    )?;
    rows.rows
        .iter()
        .map(|r| {
            let id = int_value(r.first())
                .and_then(|i| u32::try_from(i).ok())
                .ok_or_else(|| SqlError::Corrupt("a table id is not a number".into()))?;
            let columns: Vec<Column> = serde_json::from_str(&text_value(r.get(3)))
                .map_err(|e| SqlError::Corrupt(format!("the columns of table #{id}: {e}")))?;
            Ok(TableSchema {
                table_id: id,
                name: text_value(r.get(1)),
                kind: TableKind::parse(&text_value(r.get(2)))?,
                columns,
                table_name: text_value(r.get(4)),
                history_name: text_value(r.get(5)),
                view_name: text_value(r.get(6)),
                dropped: int_value(r.get(7)) == Some(1),
            })
        })
        .collect()
}

pub(crate) fn read_blocks(db: &mut dyn Backend) -> Result<Vec<Block>, SqlError> {
    let rows = db.query(
        "SELECT block_id, transactions_root_hash, block_size, previous_block_hash FROM cairn_ledger_blocks ORDER BY block_id",
        &[],
    )?;
    Ok(rows
        .rows
        .iter()
        .map(|r| Block {
            block_id: int_value(r.first()).unwrap_or(-1),
            transactions_root_hash: hash_value(r.get(1)),
            block_size: int_value(r.get(2)).unwrap_or(-1),
            previous_block_hash: hash_value(r.get(3)),
        })
        .collect())
}

/// Reads the ledger-relevant rows of a table as row events.
///
/// `since`: only row versions created or ended by transactions with an id at least this.
pub(crate) fn read_events(
    db: &mut dyn Backend,
    t: &TableSchema,
    since: Option<i64>,
) -> Result<Vec<Event>, SqlError> {
    let cols = backend::column_list(t, "");
    let n = t.columns.len();
    let mut events = Vec::new();
    let (filter, params) = match since {
        Some(s) => (
            format!(" WHERE {START_TXN} IS NULL OR {START_TXN} >= ?"),
            vec![Value::Integer(s)],
        ),
        None => (String::new(), vec![]),
    };
    let rows = db.query(
        &format!(
            "SELECT {cols}, {START_TXN}, {START_SEQ} FROM {}{filter}",
            t.table_name
        ),
        &params,
    )?;
    for r in rows.rows {
        let (values, hidden) = split_row(t, r, n);
        events.push(event(
            t,
            &values,
            stamp(&hidden[0], &hidden[1]),
            None,
            false,
        ));
    }
    if t.kind == TableKind::Updatable {
        let (filter, params) = match since {
            Some(s) => (
                format!(
                    " WHERE {START_TXN} IS NULL OR {END_TXN} IS NULL OR {START_TXN} >= ? OR {END_TXN} >= ?"
                ),
                vec![Value::Integer(s), Value::Integer(s)],
            ),
            None => (String::new(), vec![]),
        };
        let rows = db.query(
            &format!(
                "SELECT {cols}, {START_TXN}, {START_SEQ}, {END_TXN}, {END_SEQ} FROM {}{filter}",
                t.history_name
            ),
            &params,
        )?;
        for r in rows.rows {
            let (values, hidden) = split_row(t, r, n);
            let start = stamp(&hidden[0], &hidden[1]);
            let end = stamp(&hidden[2], &hidden[3]);
            events.push(event(t, &values, start, None, true));
            match (start, end) {
                (Some(_), Some(_)) => events.push(event(t, &values, start, end, true)),
                // An ended version without an end stamp was not written by the triggers.
                _ => events.push(event(t, &values, None, None, true)),
            }
        }
    }
    Ok(events)
}

fn split_row(t: &TableSchema, mut r: Vec<Value>, n: usize) -> (Vec<Value>, Vec<Value>) {
    let hidden = r.split_off(n.min(r.len()));
    let values = r
        .into_iter()
        .zip(&t.columns)
        .map(|(v, c)| normalize(c.ty, v))
        .collect();
    (values, hidden)
}

/// SQLite stores booleans as 0/1 integers; anything else stays what it is, so a tampered
/// value is encoded as what it really is and its hash differs.
pub(crate) fn normalize(ty: ColumnType, v: Value) -> Value {
    match (ty, v) {
        (ColumnType::Boolean, Value::Integer(0)) => Value::Boolean(false),
        (ColumnType::Boolean, Value::Integer(1)) => Value::Boolean(true),
        (_, v) => v,
    }
}

fn stamp(txn: &Value, seq: &Value) -> Option<Stamp> {
    match (txn, seq) {
        (Value::Integer(t), Value::Integer(s)) => Some(Stamp {
            transaction_id: *t,
            sequence_number: *s,
        }),
        _ => None,
    }
}

fn event(
    t: &TableSchema,
    values: &[Value],
    start: Option<Stamp>,
    end: Option<Stamp>,
    in_history: bool,
) -> Event {
    let zero = Stamp {
        transaction_id: 0,
        sequence_number: 0,
    };
    let hash = encoding::event_hash(t.table_id, start.unwrap_or(zero), end, &t.columns, values);
    let at = end.or(start);
    Event {
        table_id: t.table_id,
        stamp: at.map(|s| (s.transaction_id, s.sequence_number)),
        operation: if end.is_some() { OP_DELETE } else { OP_INSERT },
        hash,
        row_key: row_key(t, values),
        in_history,
    }
}

/// The row's primary key as a JSON object, e.g. `{"id":3}`.
pub(crate) fn row_key(t: &TableSchema, values: &[Value]) -> String {
    let mut map = serde_json::Map::new();
    for (c, v) in t.columns.iter().zip(values) {
        if c.primary_key {
            map.insert(c.name.clone(), v.to_json());
        }
    }
    serde_json::Value::Object(map).to_string()
}

fn close_block_in(db: &mut dyn Backend) -> Result<Option<ClosedBlock>, SqlError> {
    let pending = db.query(
        "SELECT transaction_id, commit_time, principal_name FROM cairn_ledger_transactions WHERE block_id IS NULL ORDER BY transaction_id",
        &[],
    )?;
    let pending: Vec<(i64, String, String)> = pending
        .rows
        .iter()
        .filter_map(|r| {
            Some((
                int_value(r.first())?,
                text_value(r.get(1)),
                text_value(r.get(2)),
            ))
        })
        .collect();
    let Some(lo) = pending.first().map(|p| p.0) else {
        return Ok(None);
    };
    let ids: HashSet<i64> = pending.iter().map(|p| p.0).collect();
    // (txn, table) -> events in this block.
    let mut groups: BTreeMap<(i64, u32), Vec<Event>> = BTreeMap::new();
    for table in read_tables(db)? {
        for e in read_events(db, &table, Some(lo))? {
            if let Some((txn, _)) = e.stamp.filter(|(txn, _)| ids.contains(txn)) {
                groups.entry((txn, table.table_id)).or_default().push(e);
            }
        }
    }
    let mut table_hashes: BTreeMap<i64, Vec<(u32, Hash)>> = BTreeMap::new();
    let mut row_events = 0;
    for ((txn, table_id), mut events) in groups {
        events.sort_by_key(|e| e.stamp);
        for e in &events {
            let seq = e.stamp.map_or(0, |s| s.1);
            db.execute(
                "INSERT INTO cairn_ledger_row_hashes (table_id, transaction_id, sequence_number, operation, row_key, hash) VALUES (?, ?, ?, ?, ?, ?)",
                &[
                    Value::Integer(table_id.into()),
                    Value::Integer(txn),
                    Value::Integer(seq),
                    Value::Integer(e.operation.into()),
                    Value::Text(e.row_key.clone()),
                    Value::Blob(e.hash.as_bytes().to_vec()),
                ],
            )?;
        }
        row_events += events.len();
        let root = encoding::table_root(&events.iter().map(|e| e.hash).collect::<Vec<_>>());
        db.execute(
            "INSERT INTO cairn_ledger_table_hashes (transaction_id, table_id, hash) VALUES (?, ?, ?)",
            &[Value::Integer(txn), Value::Integer(table_id.into()), Value::Blob(root.as_bytes().to_vec())],
        )?;
        table_hashes.entry(txn).or_default().push((table_id, root));
    }
    let blocks = read_blocks(db)?;
    let (block_id, previous) = match blocks.last() {
        Some(b) => (b.block_id + 1, encoding::block_hash(b)),
        None => (0, Hash::new([0; 32])),
    };
    let mut leaves = Vec::with_capacity(pending.len());
    for (ordinal, (txn, commit_time, principal)) in pending.iter().enumerate() {
        leaves.push(encoding::transaction_hash(&TransactionEntry {
            transaction_id: *txn,
            commit_time: commit_time.clone(),
            principal_name: principal.clone(),
            table_hashes: table_hashes.remove(txn).unwrap_or_default(),
        }));
        db.execute(
            "UPDATE cairn_ledger_transactions SET block_id = ?, transactional_ordinal = ? WHERE transaction_id = ?",
            &[Value::Integer(block_id), Value::Integer(ordinal as i64), Value::Integer(*txn)],
        )?;
    }
    let block = Block {
        block_id,
        transactions_root_hash: encoding::merkle_root(&leaves),
        block_size: pending.len() as i64,
        previous_block_hash: previous,
    };
    db.execute(
        "INSERT INTO cairn_ledger_blocks (block_id, transactions_root_hash, block_size, previous_block_hash) VALUES (?, ?, ?, ?)",
        &[
            Value::Integer(block.block_id),
            Value::Blob(block.transactions_root_hash.as_bytes().to_vec()),
            Value::Integer(block.block_size),
            Value::Blob(block.previous_block_hash.as_bytes().to_vec()),
        ],
    )?;
    tracing::info!(
        block_id,
        transactions = pending.len(),
        row_events,
        "ledger block closed"
    );
    Ok(Some(ClosedBlock {
        block_id,
        transactions: pending.len(),
        row_events,
    }))
}

fn read_snapshot(db: &mut dyn Backend) -> Result<Snapshot, SqlError> {
    let mut s = Snapshot {
        blocks: read_blocks(db)?,
        tables: read_tables(db)?,
        ..Snapshot::default()
    };
    let rows = db.query(
        "SELECT transaction_id, commit_time, principal_name, block_id, transactional_ordinal FROM cairn_ledger_transactions",
        &[],
    )?;
    s.transactions = rows
        .rows
        .iter()
        .filter_map(|r| {
            Some(StoredTransaction {
                transaction_id: int_value(r.first())?,
                commit_time: text_value(r.get(1)),
                principal_name: text_value(r.get(2)),
                block_id: int_value(r.get(3)),
                transactional_ordinal: int_value(r.get(4)),
            })
        })
        .collect();
    let rows = db.query(
        "SELECT transaction_id, table_id, hash FROM cairn_ledger_table_hashes",
        &[],
    )?;
    s.table_hashes = rows
        .rows
        .iter()
        .filter_map(|r| {
            Some((
                int_value(r.first())?,
                u32::try_from(int_value(r.get(1))?).ok()?,
                hash_value(r.get(2)),
            ))
        })
        .collect();
    let rows = db.query(
        "SELECT table_id, transaction_id, sequence_number, operation, row_key, hash FROM cairn_ledger_row_hashes",
        &[],
    )?;
    s.leaves = rows
        .rows
        .iter()
        .filter_map(|r| {
            Some(StoredLeaf {
                table_id: u32::try_from(int_value(r.first())?).ok()?,
                transaction_id: int_value(r.get(1))?,
                sequence_number: int_value(r.get(2))?,
                operation: int_value(r.get(3))?,
                row_key: text_value(r.get(4)),
                hash: hash_value(r.get(5)),
            })
        })
        .collect();
    let tables = s.tables.clone();
    for t in &tables {
        let mut missing = Vec::new();
        if !db.table_exists(&t.table_name)? {
            missing.push(t.table_name.clone());
        }
        if t.kind == TableKind::Updatable && !db.table_exists(&t.history_name)? {
            missing.push(t.history_name.clone());
        }
        if missing.is_empty() {
            s.events.extend(read_events(db, t, None)?);
        } else {
            s.unreadable.push((
                t.table_id,
                format!(
                    "{} does not exist (dropped without the ledger?)",
                    missing.join(" and ")
                ),
            ));
        }
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_names_come_from_the_url() {
        assert_eq!(database_name("sqlite:/tmp/x/bank.db"), "bank");
        assert_eq!(
            database_name("postgresql://postgres@127.0.0.1:5432/shop"),
            "shop"
        );
        assert_eq!(
            database_name("postgresql://postgres@127.0.0.1:5432/shop?sslmode=disable"),
            "shop"
        );
    }
}
