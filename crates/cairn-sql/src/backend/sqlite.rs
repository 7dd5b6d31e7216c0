//! SQLite: the embedded default (rusqlite with the bundled SQLite).
//!
//! SQLite has no transaction ids, no statement triggers and no way to change `NEW` in a
//! trigger, so the triggers keep the ledger's own counters in the one-row table
//! `cairn_ledger_state`:
//! - the first ledgered write opens a ledger transaction (`current_txn`), which stays open
//!   until Cairn closes it: at the end of every `cairn sql exec` and before a block closes.
//!   Writes by other clients (the `sqlite3` shell, an application's own SQLite) are
//!   ledgered by the same triggers and grouped into the open ledger transaction;
//! - each ledgered operation allocates its sequence numbers (opening a ledger transaction
//!   if none is open) in one write of the state row;
//! - an AFTER INSERT trigger, and an AFTER UPDATE trigger, stamp the row's hidden columns
//!   with an UPDATE of those columns only, so the user-facing UPDATE triggers (declared
//!   `UPDATE OF` the user's columns) do not fire for it; a client's UPDATE of the hidden
//!   columns is refused unless it writes exactly what the ledger just allocated;
//! - BEFORE UPDATE / BEFORE DELETE triggers copy the old version into the history table
//!   (updatable) or refuse the statement with `RAISE(ABORT, …)` naming table and rule
//!   (append-only).
//! - Tables made by earlier versions keep their triggers, which raise and lower the
//!   `stamping` flag of the state row instead; both kinds share the counters.
//!
//! Tables are `STRICT`, so a column holds only values of its declared type.

use rusqlite::types::ValueRef;
use rusqlite::{Connection, params_from_iter};

use super::{Backend, Rows, column_list, view_ddl};
use crate::error::SqlError;
use crate::schema::{
    ColumnType, END_SEQ, END_TXN, START_SEQ, START_TXN, TableKind, TableSchema, Value,
};

/// A ledger database in one SQLite file.
pub struct SqliteBackend {
    conn: Connection,
}

impl SqliteBackend {
    /// Opens (creating if needed) the database file at `path`.
    pub fn open(path: &str) -> Result<Self, SqlError> {
        let conn = Connection::open(path).map_err(SqlError::sqlite(format!("opening {path}")))?;
        Self::from_connection(conn)
    }

    /// Wraps an open connection (WAL mode, a busy timeout so concurrent clients wait).
    pub fn from_connection(conn: Connection) -> Result<Self, SqlError> {
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(SqlError::sqlite("setting the busy timeout"))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(SqlError::sqlite("switching to WAL"))?;
        // REPLACE deletes a row; with recursive triggers on, that delete goes through the
        // ledger's DELETE trigger and the old version reaches history.
        conn.pragma_update(None, "recursive_triggers", "ON")
            .map_err(SqlError::sqlite("turning on recursive triggers"))?;
        Ok(Self { conn })
    }

    /// The underlying connection (tests and benchmarks use it as "another client").
    pub fn connection(&self) -> &Connection {
        &self.conn
    }
}

fn to_sql(value: &Value) -> rusqlite::types::Value {
    use rusqlite::types::Value as V;
    match value {
        Value::Null => V::Null,
        Value::Boolean(b) => V::Integer(i64::from(*b)),
        Value::Integer(i) => V::Integer(*i),
        Value::Real(r) => V::Real(*r),
        Value::Text(t) => V::Text(t.clone()),
        Value::Blob(b) => V::Blob(b.clone()),
    }
}

fn from_sql(value: ValueRef<'_>) -> Value {
    match value {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Integer(i),
        ValueRef::Real(r) => Value::Real(r),
        ValueRef::Text(t) => match std::str::from_utf8(t) {
            Ok(s) => Value::Text(s.to_owned()),
            // Text that is not UTF-8 can only come from editing the file; keep its bytes
            // so the row's hash differs instead of failing the whole read.
            Err(_) => Value::Blob(t.to_vec()),
        },
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
    }
}

impl Backend for SqliteBackend {
    fn name(&self) -> &'static str {
        "sqlite"
    }

    fn batch(&mut self, sql: &str) -> Result<(), SqlError> {
        self.conn
            .execute_batch(sql)
            .map_err(SqlError::sqlite("running statements"))
    }

    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, SqlError> {
        // Cached: a statement on a ledger table compiles its triggers into its program,
        // which costs more than running it.
        let n = self
            .conn
            .prepare_cached(sql)
            .and_then(|mut stmt| stmt.execute(params_from_iter(params.iter().map(to_sql))))
            .map_err(SqlError::sqlite(format!("running {}", first_words(sql))))?;
        Ok(n as u64)
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Rows, SqlError> {
        let context = || format!("querying {}", first_words(sql));
        let mut stmt = self
            .conn
            .prepare_cached(sql)
            .map_err(SqlError::sqlite(context()))?;
        let columns: Vec<String> = stmt.column_names().map(str::to_owned).collect();
        let n = columns.len();
        let mut out = Vec::new();
        let mut rows = stmt
            .query(params_from_iter(params.iter().map(to_sql)))
            .map_err(SqlError::sqlite(context()))?;
        while let Some(row) = rows.next().map_err(SqlError::sqlite(context()))? {
            let mut values = Vec::with_capacity(n);
            for i in 0..n {
                values.push(from_sql(
                    row.get_ref(i).map_err(SqlError::sqlite(context()))?,
                ));
            }
            out.push(values);
        }
        Ok(Rows { columns, rows: out })
    }

    fn begin_block_close(&mut self) -> Result<(), SqlError> {
        // IMMEDIATE takes the write lock now: no client writes until the block is closed,
        // and the open ledger transaction (if any) ends here.
        self.batch(
            "BEGIN IMMEDIATE; UPDATE cairn_ledger_state SET current_txn = NULL WHERE id = 1;",
        )
    }

    fn begin_user(&mut self) -> Result<(), SqlError> {
        // A ledger transaction left open by another client ends before ours starts.
        self.batch(
            "BEGIN IMMEDIATE; UPDATE cairn_ledger_state SET current_txn = NULL WHERE id = 1;",
        )
    }

    fn commit_user(&mut self) -> Result<(), SqlError> {
        self.batch("UPDATE cairn_ledger_state SET current_txn = NULL WHERE id = 1; COMMIT;")
    }

    fn enable_ddl(&self) -> String {
        ENABLE_DDL.to_owned()
    }

    fn create_table_ddl(&self, table: &TableSchema) -> String {
        create_table_ddl(table)
    }

    fn drop_table_ddl(&self, table: &TableSchema, new: &TableSchema) -> String {
        // Triggers follow a renamed table in SQLite, but their bodies name the history
        // table, so they are dropped and made again for the new names.
        let mut sql = format!("DROP VIEW {};\n", table.view_name);
        for trigger in trigger_names(table) {
            sql.push_str(&format!("DROP TRIGGER IF EXISTS {trigger};\n"));
        }
        sql.push_str(&format!(
            "ALTER TABLE {} RENAME TO {};\n",
            table.table_name, new.table_name
        ));
        if table.kind == TableKind::Updatable {
            sql.push_str(&format!(
                "ALTER TABLE {} RENAME TO {};\n",
                table.history_name, new.history_name
            ));
        }
        sql.push_str(&triggers_ddl(new));
        sql.push_str(&view_ddl(new, new.kind == TableKind::Updatable));
        sql
    }

    fn table_exists(&mut self, name: &str) -> Result<bool, SqlError> {
        let rows = self.query(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?",
            &[Value::Text(name.to_owned())],
        )?;
        Ok(rows.rows.first().and_then(|r| r.first()) == Some(&Value::Integer(1)))
    }

    fn is_enabled(&mut self) -> Result<bool, SqlError> {
        self.table_exists("cairn_ledger_state")
    }
}

fn first_words(sql: &str) -> String {
    sql.split_whitespace().take(4).collect::<Vec<_>>().join(" ")
}

/// The metadata tables, the transaction-opening trigger and the write guards.
const ENABLE_DDL: &str = "
CREATE TABLE IF NOT EXISTS cairn_ledger_state (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  current_txn INTEGER,
  next_txn INTEGER NOT NULL,
  next_seq INTEGER NOT NULL,
  stamping INTEGER NOT NULL,
  principal TEXT NOT NULL
) STRICT;
INSERT OR IGNORE INTO cairn_ledger_state VALUES (1, NULL, 1, 0, 0, 'sqlite');
CREATE TABLE IF NOT EXISTS cairn_ledger_transactions (
  transaction_id INTEGER PRIMARY KEY,
  commit_time TEXT NOT NULL,
  principal_name TEXT NOT NULL,
  block_id INTEGER,
  transactional_ordinal INTEGER
) STRICT;
CREATE TABLE IF NOT EXISTS cairn_ledger_blocks (
  block_id INTEGER PRIMARY KEY,
  transactions_root_hash BLOB NOT NULL,
  block_size INTEGER NOT NULL,
  previous_block_hash BLOB NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS cairn_ledger_table_hashes (
  transaction_id INTEGER NOT NULL,
  table_id INTEGER NOT NULL,
  hash BLOB NOT NULL,
  PRIMARY KEY (transaction_id, table_id)
) STRICT;
CREATE TABLE IF NOT EXISTS cairn_ledger_row_hashes (
  table_id INTEGER NOT NULL,
  transaction_id INTEGER NOT NULL,
  sequence_number INTEGER NOT NULL,
  operation INTEGER NOT NULL,
  row_key TEXT NOT NULL,
  hash BLOB NOT NULL,
  PRIMARY KEY (table_id, transaction_id, sequence_number)
) STRICT;
CREATE TABLE IF NOT EXISTS cairn_ledger_tables (
  table_id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  kind TEXT NOT NULL,
  columns TEXT NOT NULL,
  table_name TEXT NOT NULL,
  history_name TEXT NOT NULL,
  view_name TEXT NOT NULL,
  dropped INTEGER NOT NULL
) STRICT;
CREATE TRIGGER IF NOT EXISTS cairn_ledger_open AFTER UPDATE OF current_txn ON cairn_ledger_state
WHEN NEW.current_txn IS NOT NULL AND OLD.current_txn IS NULL BEGIN
  INSERT INTO cairn_ledger_transactions (transaction_id, commit_time, principal_name)
  VALUES (NEW.current_txn, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), NEW.principal);
END;
CREATE TRIGGER IF NOT EXISTS cairn_ledger_blocks_frozen_u BEFORE UPDATE ON cairn_ledger_blocks BEGIN
  SELECT RAISE(ABORT, 'cairn_ledger_blocks is append-only: closed blocks cannot change');
END;
CREATE TRIGGER IF NOT EXISTS cairn_ledger_blocks_frozen_d BEFORE DELETE ON cairn_ledger_blocks BEGIN
  SELECT RAISE(ABORT, 'cairn_ledger_blocks is append-only: closed blocks cannot be deleted');
END;
CREATE TRIGGER IF NOT EXISTS cairn_ledger_row_hashes_frozen_u BEFORE UPDATE ON cairn_ledger_row_hashes BEGIN
  SELECT RAISE(ABORT, 'cairn_ledger_row_hashes is append-only');
END;
CREATE TRIGGER IF NOT EXISTS cairn_ledger_row_hashes_frozen_d BEFORE DELETE ON cairn_ledger_row_hashes BEGIN
  SELECT RAISE(ABORT, 'cairn_ledger_row_hashes is append-only');
END;
CREATE TRIGGER IF NOT EXISTS cairn_ledger_transactions_frozen_u BEFORE UPDATE ON cairn_ledger_transactions
WHEN OLD.block_id IS NOT NULL BEGIN
  SELECT RAISE(ABORT, 'cairn_ledger_transactions: a transaction in a closed block cannot change');
END;
CREATE TRIGGER IF NOT EXISTS cairn_ledger_transactions_frozen_d BEFORE DELETE ON cairn_ledger_transactions BEGIN
  SELECT RAISE(ABORT, 'cairn_ledger_transactions is append-only');
END;
";

/// Allocates `k` sequence numbers in the ledger transaction, opening one if none is
/// open (the state row's trigger records it), in one write of the state row; the
/// numbers are then `next_seq - k .. next_seq`.
fn allocate(k: u32) -> String {
    format!(
        "UPDATE cairn_ledger_state SET current_txn = coalesce(current_txn, next_txn),
    next_txn = CASE WHEN current_txn IS NULL THEN next_txn + 1 ELSE next_txn END,
    next_seq = CASE WHEN current_txn IS NULL THEN {k} ELSE next_seq + {k} END WHERE id = 1;"
    )
}

fn trigger_names(table: &TableSchema) -> Vec<String> {
    let t = &table.table_name;
    let h = &table.history_name;
    vec![
        format!("{t}__ledger_insert"),
        format!("{t}__ledger_hidden"),
        format!("{t}__ledger_update_old"),
        format!("{t}__ledger_update_new"),
        format!("{t}__ledger_delete"),
        format!("{h}__ledger_frozen_u"),
        format!("{h}__ledger_frozen_d"),
    ]
}

fn sql_type(ty: ColumnType, name: &str) -> String {
    match ty {
        ColumnType::Integer => "INTEGER".into(),
        ColumnType::Real => "REAL".into(),
        ColumnType::Text => "TEXT".into(),
        ColumnType::Blob => "BLOB".into(),
        ColumnType::Boolean => format!("INTEGER CHECK ({name} IN (0, 1))"),
    }
}

fn create_table_ddl(table: &TableSchema) -> String {
    let mut defs: Vec<String> = table
        .columns
        .iter()
        .map(|c| {
            let mut d = format!("{} {}", c.name, sql_type(c.ty, &c.name));
            if c.not_null {
                d.push_str(" NOT NULL");
            }
            d
        })
        .collect();
    let mut main = defs.clone();
    main.push(format!("{START_TXN} INTEGER"));
    main.push(format!("{START_SEQ} INTEGER"));
    let keys: Vec<&str> = table.key_columns().map(|c| c.name.as_str()).collect();
    main.push(format!("PRIMARY KEY ({})", keys.join(", ")));
    let mut sql = format!(
        "CREATE TABLE {} ({}) STRICT;\n",
        table.table_name,
        main.join(", ")
    );
    if table.kind == TableKind::Updatable {
        defs.push(format!("{START_TXN} INTEGER"));
        defs.push(format!("{START_SEQ} INTEGER"));
        defs.push(format!("{END_TXN} INTEGER"));
        defs.push(format!("{END_SEQ} INTEGER"));
        sql.push_str(&format!(
            "CREATE TABLE {} ({}) STRICT;\n",
            table.history_name,
            defs.join(", ")
        ));
    }
    sql.push_str(&triggers_ddl(table));
    sql.push_str(&view_ddl(table, table.kind == TableKind::Updatable));
    sql
}

fn triggers_ddl(table: &TableSchema) -> String {
    let t = &table.table_name;
    let h = &table.history_name;
    let user_cols = column_list(table, "");
    // The row's hidden columns get the last sequence number allocated. This UPDATE
    // names only the hidden columns, so the user-facing UPDATE triggers (declared
    // `UPDATE OF` the user's columns) do not fire for it.
    let stamp = format!(
        "UPDATE {t} SET ({START_TXN}, {START_SEQ}) =
    (SELECT current_txn, next_seq - 1 FROM cairn_ledger_state WHERE id = 1) WHERE rowid = NEW.rowid;"
    );
    // What the stamping UPDATE writes, exactly: anything else in the hidden columns
    // comes from a client, and is refused.
    let internal = format!(
        "(NEW.{START_TXN}, NEW.{START_SEQ}) IS (SELECT current_txn, next_seq - 1 FROM cairn_ledger_state WHERE id = 1)"
    );
    let mut sql = format!(
        "CREATE TRIGGER {t}__ledger_insert AFTER INSERT ON {t} BEGIN
  {alloc1}
  {stamp}
END;
CREATE TRIGGER {t}__ledger_hidden BEFORE UPDATE OF {START_TXN}, {START_SEQ} ON {t} WHEN NOT {internal} BEGIN
  SELECT RAISE(ABORT, 'ledger table {name}: {START_TXN} and {START_SEQ} are written by the ledger and cannot be set');
END;
",
        alloc1 = allocate(1),
        name = table.name
    );
    match table.kind {
        TableKind::AppendOnly => sql.push_str(&format!(
            "CREATE TRIGGER {t}__ledger_update_old BEFORE UPDATE OF {user_cols} ON {t} BEGIN
  SELECT RAISE(ABORT, 'ledger table {name} is append-only: UPDATE is refused (append-only ledger tables accept INSERT only)');
END;
CREATE TRIGGER {t}__ledger_delete BEFORE DELETE ON {t} BEGIN
  SELECT RAISE(ABORT, 'ledger table {name} is append-only: DELETE is refused (append-only ledger tables accept INSERT only)');
END;
",
            name = table.name
        )),
        TableKind::Updatable => {
            let old_cols = column_list(table, "OLD.");
            // The old version goes to history as the first of `k` numbers allocated.
            let to_history = |k: u32| {
                format!(
                    "{alloc}
  INSERT INTO {h} ({user_cols}, {START_TXN}, {START_SEQ}, {END_TXN}, {END_SEQ})
    SELECT {old_cols}, OLD.{START_TXN}, OLD.{START_SEQ}, current_txn, next_seq - {k} FROM cairn_ledger_state WHERE id = 1;",
                    alloc = allocate(k)
                )
            };
            sql.push_str(&format!(
                // An UPDATE is a DELETE then an INSERT: two numbers, allocated before
                // the row changes; the new version takes the second after it has.
                "CREATE TRIGGER {t}__ledger_update_old BEFORE UPDATE OF {user_cols} ON {t} BEGIN
  {update_history}
END;
CREATE TRIGGER {t}__ledger_update_new AFTER UPDATE OF {user_cols} ON {t} BEGIN
  {stamp}
END;
CREATE TRIGGER {t}__ledger_delete BEFORE DELETE ON {t} BEGIN
  {delete_history}
END;
CREATE TRIGGER {h}__ledger_frozen_u BEFORE UPDATE ON {h} BEGIN
  SELECT RAISE(ABORT, 'history table {h} of ledger table {name} is append-only: UPDATE is refused');
END;
CREATE TRIGGER {h}__ledger_frozen_d BEFORE DELETE ON {h} BEGIN
  SELECT RAISE(ABORT, 'history table {h} of ledger table {name} is append-only: DELETE is refused');
END;
",
                update_history = to_history(2),
                delete_history = to_history(1),
                name = table.name
            ));
        }
    }
    sql
}
