//! Ledger tables: tamper-evident SQL tables on SQLite and PostgreSQL, with SQL Server
//! ledger's semantics, and a verification that names every tampered row.
//!
//! Owns: the ledger-table engine ([`Ledger`]): enabling a database, updatable and
//! append-only ledger tables (history table, ledger view, hidden columns, drop as
//! rename), the triggers that ledger ANY client's writes ([`backend`]), the canonical row
//! encoding and the hashes ([`encoding`]), blocks and database digests ([`digest`]), and
//! verification ([`verify`]). `docs/ledger-tables.md` specifies the encoding.
//!
//! May use: `cairn-merkle` (RFC 9162 trees), `rusqlite` (bundled SQLite), `postgres`
//! (the blocking client). No networking beyond the database connection; anchoring digests
//! on a channel is the CLI's job.
//!
//! ```text
//!  any client ─ INSERT/UPDATE/DELETE ─► table ─ triggers ─► hidden columns (txn, seq)
//!                                                  └──────► history table (old versions)
//!  Ledger::close_block ─► row events ─► leaf hashes ─► table hash per (txn, table)
//!                      ─► transaction entries ─► block (root, size, previous hash)
//!  Ledger::digest ─► {database_name, block_id, hash, …} ─► anchored outside
//!  Ledger::verify(digests) ─► Report: every inconsistency + last verified block
//! ```
//!
//! Invariants:
//! - a write to a ledger table by any client either goes through the triggers (hidden
//!   columns stamped, old version in history) or is refused (append-only UPDATE/DELETE,
//!   TRUNCATE, setting hidden columns, changing history) with an error naming the table
//!   and the rule;
//! - a block holds exactly the transactions committed since the previous block, each
//!   once; a row event's leaf hash depends only on the table id, its stamps and its
//!   non-NULL values (so adding a nullable column changes no earlier hash);
//! - verification reports every stored row event whose row version is missing or
//!   different, naming table, transaction, sequence number and row key, and every row
//!   version that no closed transaction created; the decision is the pure function
//!   [`verify::verify`];
//! - both backends produce the same hashes for the same rows (one Rust encoding; the
//!   databases never hash).

#![forbid(unsafe_code)]

pub mod backend;
pub mod digest;
pub mod encoding;
mod engine;
mod error;
pub mod proof;
mod prove;
pub mod schema;
pub mod verify;

pub use backend::{Backend, PostgresBackend, Rows, SqliteBackend};
pub use digest::Digest;
pub use engine::{ClosedBlock, Ledger};
pub use error::SqlError;
pub use proof::{ProofError, RowProof};
pub use schema::{ColumnType, TableKind, TableSchema, Value};
pub use verify::{Inconsistency, Kind, Report};
