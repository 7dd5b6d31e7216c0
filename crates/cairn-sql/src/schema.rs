//! What a ledger table is: its kind, its columns with their logical types, and the values
//! rows carry. Parsing column definitions (`id integer primary key, name text not null`)
//! lives here too, so the CLI and the engine accept exactly the same language.

use serde::{Deserialize, Serialize};

use crate::error::SqlError;

/// The hidden column naming the transaction that created a row version.
pub const START_TXN: &str = "ledger_start_transaction_id";
/// The hidden column naming the sequence number, within that transaction, of the creation.
pub const START_SEQ: &str = "ledger_start_sequence_number";
/// The hidden column (history only) naming the transaction that ended a row version.
pub const END_TXN: &str = "ledger_end_transaction_id";
/// The hidden column (history only) naming the sequence number of the ending.
pub const END_SEQ: &str = "ledger_end_sequence_number";

/// Which of SQL Server's two kinds of ledger table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TableKind {
    /// INSERT only; UPDATE, DELETE and TRUNCATE are refused.
    AppendOnly,
    /// Every UPDATE and DELETE keeps the earlier version in the history table.
    Updatable,
}

impl TableKind {
    /// The name used in the metadata table and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AppendOnly => "append_only",
            Self::Updatable => "updatable",
        }
    }

    /// Parses `append_only`/`append-only` or `updatable`.
    pub fn parse(text: &str) -> Result<Self, SqlError> {
        match text {
            "append_only" | "append-only" => Ok(Self::AppendOnly),
            "updatable" => Ok(Self::Updatable),
            other => Err(SqlError::Schema(format!(
                "unknown ledger table kind {other:?}: use updatable or append-only"
            ))),
        }
    }
}

/// The logical column types a ledger table may hold; each has one canonical encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnType {
    /// Raw bytes (SQLite `BLOB`, PostgreSQL `bytea`).
    Blob,
    /// true/false (SQLite `INTEGER` 0/1, PostgreSQL `boolean`).
    Boolean,
    /// Signed 64-bit integer (SQLite `INTEGER`, PostgreSQL `bigint`).
    Integer,
    /// IEEE 754 double (SQLite `REAL`, PostgreSQL `double precision`).
    Real,
    /// UTF-8 text (SQLite `TEXT`, PostgreSQL `text`).
    Text,
}

impl ColumnType {
    /// The type tag of the canonical encoding (docs/ledger-tables.md).
    pub fn tag(self) -> u8 {
        match self {
            Self::Integer => 1,
            Self::Real => 2,
            Self::Text => 3,
            Self::Blob => 4,
            Self::Boolean => 5,
        }
    }

    /// Parses a type name as written in a column definition.
    pub fn parse(text: &str) -> Result<Self, SqlError> {
        match text.to_ascii_lowercase().as_str() {
            "integer" | "int" | "bigint" => Ok(Self::Integer),
            "real" | "double" | "float" => Ok(Self::Real),
            "text" | "varchar" => Ok(Self::Text),
            "blob" | "bytea" => Ok(Self::Blob),
            "boolean" | "bool" => Ok(Self::Boolean),
            other => Err(SqlError::Schema(format!(
                "column type {other:?} is not supported in ledger tables: use integer, real, text, blob or boolean"
            ))),
        }
    }

    /// The lower-case name used in metadata and column definitions.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Integer => "integer",
            Self::Real => "real",
            Self::Text => "text",
            Self::Blob => "blob",
            Self::Boolean => "boolean",
        }
    }
}

/// One user column of a ledger table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    /// Column name (an SQL identifier: letters, digits, `_`).
    pub name: String,
    /// Position in the canonical encoding: 1, 2, … in creation order, never reused.
    pub ordinal: u16,
    /// Logical type.
    pub ty: ColumnType,
    /// Whether NULL is refused.
    pub not_null: bool,
    /// Whether the column is part of the primary key (the row key verification names).
    pub primary_key: bool,
}

/// A ledger table as recorded in `cairn_ledger_tables`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableSchema {
    /// Stable id used in every hash (names can change when a table is dropped).
    pub table_id: u32,
    /// The name the table was created with.
    pub name: String,
    /// Updatable or append-only.
    pub kind: TableKind,
    /// User columns in ordinal order.
    pub columns: Vec<Column>,
    /// The table's current physical name (differs from `name` once dropped).
    pub table_name: String,
    /// The history table's physical name (updatable tables).
    pub history_name: String,
    /// The ledger view's physical name.
    pub view_name: String,
    /// Whether the table was dropped (renamed and kept).
    pub dropped: bool,
}

impl TableSchema {
    /// The physical names a table called `name` gets.
    pub fn physical_names(name: &str) -> (String, String, String) {
        (
            name.to_owned(),
            format!("{name}_history"),
            format!("{name}_ledger"),
        )
    }

    /// The primary-key columns, in ordinal order.
    pub fn key_columns(&self) -> impl Iterator<Item = &Column> {
        self.columns.iter().filter(|c| c.primary_key)
    }
}

/// A value read from or written to a ledger table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    /// SQL NULL (skipped by the canonical encoding).
    Null,
    /// A boolean.
    Boolean(bool),
    /// An integer.
    Integer(i64),
    /// A double.
    Real(f64),
    /// Text.
    Text(String),
    /// Bytes (shown as hex in JSON output by [`Value::to_json`]).
    Blob(Vec<u8>),
}

impl Value {
    /// A JSON rendering for reports and CLI output (blobs as `"\\x…"` hex, as psql shows them).
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Self::Null => serde_json::Value::Null,
            Self::Boolean(b) => serde_json::Value::Bool(*b),
            Self::Integer(i) => serde_json::Value::from(*i),
            Self::Real(r) => serde_json::Value::from(*r),
            Self::Text(t) => serde_json::Value::from(t.clone()),
            Self::Blob(b) => serde_json::Value::from(format!("\\x{}", hex::encode(b))),
        }
    }
}

/// Checks that `name` is a plain SQL identifier, so it can be written into DDL unquoted.
pub fn check_identifier(name: &str) -> Result<(), SqlError> {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if !first_ok || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') || name.len() > 48
    {
        return Err(SqlError::Schema(format!(
            "{name:?} is not a valid name: use letters, digits and _ (at most 48, not starting with a digit)"
        )));
    }
    if name.to_ascii_lowercase().starts_with("cairn_") || name.starts_with("ledger_") {
        return Err(SqlError::Schema(format!(
            "{name:?} is reserved: names starting with cairn_ or ledger_ belong to the ledger"
        )));
    }
    Ok(())
}

/// Parses `id integer primary key, name text not null, balance integer`.
///
/// At least one column must be in the primary key: verification names rows by it.
pub fn parse_columns(text: &str) -> Result<Vec<Column>, SqlError> {
    let mut columns = Vec::new();
    let mut table_pk: Option<Vec<String>> = None;
    for (index, part) in split_top_level(text).iter().enumerate() {
        let words: Vec<String> = part.split_whitespace().map(str::to_owned).collect();
        let lower: Vec<String> = words.iter().map(|w| w.to_ascii_lowercase()).collect();
        if lower.first().is_some_and(|w| w.starts_with("primary")) {
            // A table constraint: primary key (a, b).
            let open = part.find('(');
            let close = part.rfind(')');
            let (Some(open), Some(close)) = (open, close) else {
                return Err(SqlError::Schema(format!(
                    "cannot read {part:?}: write primary key (col, ...)"
                )));
            };
            table_pk = Some(
                part[open + 1..close]
                    .split(',')
                    .map(|c| c.trim().to_owned())
                    .collect(),
            );
            continue;
        }
        let [name, ty, rest @ ..] = words.as_slice() else {
            return Err(SqlError::Schema(format!(
                "column {} ({part:?}) needs a name and a type, e.g. `balance integer`",
                index + 1
            )));
        };
        check_identifier(name)?;
        let rest = rest.join(" ").to_ascii_lowercase();
        let primary_key = rest.contains("primary key");
        let not_null = primary_key || rest.contains("not null");
        let leftover = rest.replace("primary key", "").replace("not null", "");
        if !leftover.trim().is_empty() {
            return Err(SqlError::Schema(format!(
                "column {name}: {:?} is not understood; a column takes a type, `not null` and `primary key`",
                leftover.trim()
            )));
        }
        let ordinal = u16::try_from(columns.len() + 1)
            .map_err(|_| SqlError::Schema("too many columns".into()))?;
        columns.push(Column {
            name: name.clone(),
            ordinal,
            ty: ColumnType::parse(ty)?,
            not_null,
            primary_key,
        });
    }
    if let Some(keys) = table_pk {
        for key in keys {
            let column = columns.iter_mut().find(|c| c.name == key).ok_or_else(|| {
                SqlError::Schema(format!("primary key names {key:?}, which is not a column"))
            })?;
            column.primary_key = true;
            column.not_null = true;
        }
    }
    if columns.is_empty() {
        return Err(SqlError::Schema(
            "a ledger table needs at least one column".into(),
        ));
    }
    if !columns.iter().any(|c| c.primary_key) {
        return Err(SqlError::Schema(
            "a ledger table needs a primary key (verification names rows by it): add `primary key` to a column".into(),
        ));
    }
    Ok(columns)
}

/// Splits on commas outside parentheses.
fn split_top_level(text: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut current = String::new();
    for c in text.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    parts.push(current);
    parts
        .into_iter()
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

    use super::*;

    #[test]
    fn columns_parse_with_ordinals_and_keys() {
        let cols = parse_columns("id integer primary key, name text not null, note text").unwrap();
        assert_eq!(cols.len(), 3);
        assert_eq!(cols[0].ordinal, 1);
        assert!(cols[0].primary_key && cols[0].not_null);
        assert!(cols[1].not_null && !cols[1].primary_key);
        assert!(!cols[2].not_null);
        let cols = parse_columns("a integer, b text, primary key (a, b)").unwrap();
        assert!(cols.iter().all(|c| c.primary_key));
    }

    #[test]
    fn bad_definitions_name_the_problem() {
        let err = parse_columns("id integer, name text")
            .unwrap_err()
            .to_string();
        assert!(err.contains("primary key"), "{err}");
        let err = parse_columns("id xml primary key").unwrap_err().to_string();
        assert!(err.contains("xml"), "{err}");
        let err = parse_columns("id integer primary key unique")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unique"), "{err}");
        let err = parse_columns("ledger_x integer primary key")
            .unwrap_err()
            .to_string();
        assert!(err.contains("reserved"), "{err}");
    }
}
