//! Why a ledger-table operation failed, sorted by who can fix it.

/// Errors of the ledger-table engine and its backends.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SqlError {
    /// The database is not a ledger database yet.
    #[error("the database has no ledger: run `cairn sql enable --db URL` first")]
    NotEnabled,
    /// A table definition or a name was refused.
    #[error("{0}")]
    Schema(String),
    /// A name does not refer to a ledger table.
    #[error(
        "{0:?} is not a ledger table of this database (`cairn sql history` lists none for it); create it with `cairn sql create-table`"
    )]
    UnknownTable(String),
    /// The database URL could not be understood.
    #[error(
        "cannot use database URL {url:?}: {reason}. Use sqlite:PATH or postgresql://USER@HOST:PORT/DB"
    )]
    Url {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// SQLite refused or failed a statement.
    // The database's message is in the text (not a `source`), so it shows once.
    #[error("SQLite: {context}: {cause}")]
    Sqlite {
        /// What the engine was doing.
        context: String,
        /// SQLite's error (for a refused write it names the table and the rule).
        cause: rusqlite::Error,
    },
    /// PostgreSQL refused or failed a statement.
    #[error("PostgreSQL: {context}: {}", pg_message(.cause))]
    Postgres {
        /// What the engine was doing.
        context: String,
        /// The server's or client's error.
        cause: postgres::Error,
    },
    /// The stored ledger metadata is not readable (e.g. it was altered by hand).
    #[error("the ledger metadata is damaged: {0}; run `cairn sql verify` to see what changed")]
    Corrupt(String),
    /// A digest file or document could not be read.
    #[error("digest: {0}")]
    Digest(String),
}

/// The server's message (with detail and hint) rather than the client crate's summary.
fn pg_message(error: &postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => {
            let mut text = db.message().to_owned();
            if let Some(detail) = db.detail() {
                text.push_str(&format!(" ({detail})"));
            }
            text
        }
        None => error.to_string(),
    }
}

impl SqlError {
    /// Wraps a SQLite error with what was being done.
    pub fn sqlite(context: impl Into<String>) -> impl FnOnce(rusqlite::Error) -> Self {
        let context = context.into();
        move |cause| Self::Sqlite { context, cause }
    }

    /// Wraps a PostgreSQL error with what was being done.
    pub fn postgres(context: impl Into<String>) -> impl FnOnce(postgres::Error) -> Self {
        let context = context.into();
        move |cause| Self::Postgres { context, cause }
    }
}
