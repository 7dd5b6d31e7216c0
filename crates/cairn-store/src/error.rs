//! Store errors, sorted by who is at fault: the disk/database, the caller's
//! block, or a corrupted store.

use cairn_ledger::encoding::EncodingError;
use cairn_ledger::validate::{ContextError, ValidateError};
use cairn_ledger::validation::ValidationCode;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be read or written.
    #[error("ledger database {action} failed: {source}")]
    Database {
        /// What was being done.
        action: &'static str,
        /// redb's error.
        #[source]
        source: Box<redb::Error>,
    },
    /// Another process holds the ledger open.
    #[error(
        "ledger at {path} is in use by another process; stop the node using it (or copy the directory) and retry"
    )]
    InUse {
        /// The ledger directory.
        path: String,
    },
    /// No ledger exists at the path.
    #[error("no ledger at {path}: create it from a genesis block first")]
    Missing {
        /// The ledger directory.
        path: String,
    },
    /// A ledger already exists where one was to be created.
    #[error("a ledger already exists at {path}")]
    Exists {
        /// The ledger directory.
        path: String,
    },
    /// A stored block's bytes no longer hash to the record committed with
    /// them (a damaged disk or file): the node must not use the ledger.
    #[error(
        "block {number} of the ledger in {path} is damaged: {reason}{more}. The node will not use this ledger until it is repaired: with the node stopped, `cairn node repair NAME --dir DIR` (a `cairn up` network) fetches the committed block from the orderers, or restore the node's data from a backup"
    )]
    DamagedBlock {
        /// The ledger directory.
        path: String,
        /// The first damaged block.
        number: u64,
        /// What is wrong with it.
        reason: String,
        /// Says how many more blocks are damaged, if any.
        more: String,
    },
    /// A stored record does not decode: the store is corrupted.
    #[error("stored {what} is corrupted: {reason}")]
    Corrupt {
        /// Which record.
        what: String,
        /// What is wrong.
        reason: String,
    },
    /// The block does not extend the ledger.
    #[error("block {got} does not extend the ledger: expected block {expected}")]
    OutOfOrder {
        /// The next block number.
        expected: u64,
        /// The block offered.
        got: u64,
    },
    /// The block is not well formed or not properly signed.
    #[error("block {number} refused: {reason}")]
    BadBlock {
        /// Block number.
        number: u64,
        /// What is wrong.
        reason: String,
    },
    /// Our validation disagrees with the orderer's codes.
    #[error(
        "block {number} tx {index}: the block says {theirs}, this node's validation says {ours}"
    )]
    CodeMismatch {
        /// Block number.
        number: u64,
        /// Transaction index.
        index: usize,
        /// Code in the block.
        theirs: ValidationCode,
        /// Code computed here.
        ours: ValidationCode,
    },
    /// The channel configuration is unusable.
    #[error(transparent)]
    Context(#[from] ContextError),
    /// Validation could not run.
    #[error(transparent)]
    Validate(#[from] ValidateError),
    /// The ledger already belongs to another org.
    #[error(
        "this ledger keeps the private data of {current}; it cannot switch to {requested} (use a ledger of {requested}'s peer)"
    )]
    MemberOrg {
        /// The org set.
        current: String,
        /// The org asked for.
        requested: String,
    },
    /// Reconciliation data cannot be applied.
    #[error("cannot reconcile private data of block {block} tx {tx}: {reason}")]
    Reconcile {
        /// Block number.
        block: u64,
        /// Transaction index.
        tx: u32,
        /// What is wrong.
        reason: String,
    },
    /// A value could not be encoded for hashing or storage.
    #[error(transparent)]
    Encoding(#[from] EncodingError),
    /// The transaction is not on this ledger.
    #[error("transaction {0} is not on this ledger")]
    UnknownTx(String),
    /// Creating the ledger directory, or creating or narrowing the ledger
    /// file to mode 0600, failed.
    #[error("cannot prepare {path} (ledger directory or file): {source}")]
    Io {
        /// The directory or file.
        path: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

impl From<cairn_crypto::PrivateFileError> for StoreError {
    fn from(e: cairn_crypto::PrivateFileError) -> Self {
        let source = std::io::Error::new(e.source.kind(), format!("{}: {}", e.action, e.source));
        StoreError::Io {
            path: e.path.display().to_string(),
            source,
        }
    }
}

impl StoreError {
    pub(crate) fn db(action: &'static str, e: impl Into<redb::Error>) -> StoreError {
        StoreError::Database {
            action,
            source: Box::new(e.into()),
        }
    }

    pub(crate) fn corrupt(what: impl Into<String>, e: EncodingError) -> StoreError {
        StoreError::Corrupt {
            what: what.into(),
            reason: e.to_string(),
        }
    }
}

/// A failure inside a write transaction: the database, or a value that
/// could not be encoded for it.
#[derive(Debug)]
pub(crate) enum WriteError {
    /// redb failed.
    Db(redb::Error),
    /// A value could not be encoded.
    Encoding(EncodingError),
}

impl WriteError {
    /// The store error for a write during `action`.
    pub(crate) fn into_store(self, action: &'static str) -> StoreError {
        match self {
            WriteError::Db(e) => StoreError::db(action, e),
            WriteError::Encoding(e) => StoreError::Encoding(e),
        }
    }
}

impl From<EncodingError> for WriteError {
    fn from(e: EncodingError) -> Self {
        WriteError::Encoding(e)
    }
}

/// `?` on each of redb's error types inside a function returning [`WriteError`].
macro_rules! write_error_from_redb {
    ($($t:ty),*) => {
        $(impl From<$t> for WriteError {
            fn from(e: $t) -> Self {
                WriteError::Db(e.into())
            }
        })*
    };
}

write_error_from_redb!(redb::Error, redb::StorageError, redb::TableError);
