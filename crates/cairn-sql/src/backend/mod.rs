//! The two databases behind one small trait: run statements, run queries returning
//! [`Value`]s, and produce the DDL (metadata tables, per-table triggers, views) that
//! makes every client's writes ledgered.
//!
//! The engine writes its own statements with `?` placeholders; the PostgreSQL backend
//! numbers them (`$1`, `$2`, …).

pub mod postgres;
pub mod sqlite;

use crate::error::SqlError;
use crate::schema::{TableSchema, Value};

pub use self::postgres::PostgresBackend;
pub use self::sqlite::SqliteBackend;

/// One result set: column names and rows.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Rows {
    /// Column names, in order.
    pub columns: Vec<String>,
    /// Row values, one `Vec` per row.
    pub rows: Vec<Vec<Value>>,
}

/// A database that can hold ledger tables.
pub trait Backend {
    /// `sqlite` or `postgresql`.
    fn name(&self) -> &'static str;
    /// Runs one or more statements without results.
    fn batch(&mut self, sql: &str) -> Result<(), SqlError>;
    /// Runs one statement with parameters; returns the number of rows changed.
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, SqlError>;
    /// Runs one query with parameters.
    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Rows, SqlError>;
    /// Starts the transaction that closes a block: it must see a stable set of
    /// committed transactions and keep other block closers out.
    fn begin_block_close(&mut self) -> Result<(), SqlError>;
    /// Starts a transaction around a user's statements (`cairn sql exec`).
    fn begin_user(&mut self) -> Result<(), SqlError>;
    /// Ends a user transaction begun with [`Backend::begin_user`] (SQLite also closes
    /// the ledger transaction there, since it has no transaction ids of its own).
    fn commit_user(&mut self) -> Result<(), SqlError>;
    /// The DDL that creates the ledger metadata (idempotent).
    fn enable_ddl(&self) -> String;
    /// The DDL that creates a ledger table, its history table, view and triggers.
    fn create_table_ddl(&self, table: &TableSchema) -> String;
    /// The DDL that renames a dropped ledger table and its companions to `new` names.
    fn drop_table_ddl(&self, table: &TableSchema, new: &TableSchema) -> String;
    /// Whether a table of this name exists.
    fn table_exists(&mut self, name: &str) -> Result<bool, SqlError>;
    /// Whether the ledger metadata exists.
    fn is_enabled(&mut self) -> Result<bool, SqlError>;
}

/// Opens `sqlite:PATH` (or a path ending in `.db`/`.sqlite`) or `postgresql://…`.
pub fn open(url: &str) -> Result<Box<dyn Backend>, SqlError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(Box::new(PostgresBackend::connect(url)?));
    }
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"));
    match path {
        Some(path) if !path.is_empty() => Ok(Box::new(SqliteBackend::open(path)?)),
        _ => Err(SqlError::Url {
            url: url.to_owned(),
            reason: "unknown scheme".into(),
        }),
    }
}

/// The user-column list of a table, comma separated.
pub(crate) fn column_list(table: &TableSchema, prefix: &str) -> String {
    table
        .columns
        .iter()
        .map(|c| format!("{prefix}{}", c.name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The ledger view: SQL Server's shape (an UPDATE shows as a DELETE then an INSERT).
pub(crate) fn view_ddl(table: &TableSchema, history: bool) -> String {
    use crate::schema::{END_SEQ, END_TXN, START_SEQ, START_TXN};
    let cols = column_list(table, "");
    let mut sql = format!(
        "CREATE VIEW {view} AS SELECT {cols}, {START_TXN} AS ledger_transaction_id, \
         {START_SEQ} AS ledger_sequence_number, 1 AS ledger_operation_type, \
         'INSERT' AS ledger_operation_type_desc FROM {t}",
        view = table.view_name,
        t = table.table_name,
    );
    if history {
        sql.push_str(&format!(
            " UNION ALL SELECT {cols}, {START_TXN}, {START_SEQ}, 1, 'INSERT' FROM {h} \
             UNION ALL SELECT {cols}, {END_TXN}, {END_SEQ}, 2, 'DELETE' FROM {h}",
            h = table.history_name
        ));
    }
    sql.push_str(";\n");
    sql
}
