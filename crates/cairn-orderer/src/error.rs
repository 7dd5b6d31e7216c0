//! Orderer errors: starting a node ([`OrdererError`]) and refusing or failing
//! a broadcast ([`BroadcastError`], each variant mapped to an HTTP status).

use std::path::PathBuf;

use axum::http::StatusCode;
use cairn_net::ApiError;

/// Why an orderer node could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OrdererError {
    /// The configuration is inconsistent.
    #[error("orderer configuration: {reason}")]
    Config {
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// The genesis block could not be read.
    #[error("genesis block {path}: {reason}")]
    Genesis {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A file or directory could not be used.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The ledger could not be created or opened.
    #[error(transparent)]
    Store(#[from] cairn_store::StoreError),
    /// The transport could not be set up.
    #[error(transparent)]
    Net(#[from] cairn_net::NetError),
    /// The Raft log database could not be opened.
    #[error("Raft log database in {path}: {reason}")]
    RaftStore {
        /// The data directory.
        path: PathBuf,
        /// redb's message.
        reason: String,
    },
    /// openraft refused to start or stopped.
    #[error("Raft: {reason}")]
    Raft {
        /// openraft's message.
        reason: String,
    },
}

/// Why an envelope was not ordered. The message is for the submitter (it
/// concerns their own envelope); internal details are only logged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BroadcastError {
    /// The creator is not allowed to submit (unknown, revoked, bad
    /// signature, or the channel's `Writers` policy is not satisfied).
    #[error("refused: {0}")]
    Forbidden(String),
    /// The envelope does not decode or is not well formed.
    #[error("malformed envelope: {0}")]
    Malformed(String),
    /// The envelope exceeds the channel's block size limit.
    #[error("envelope of {size} bytes exceeds the channel's max block size of {max} bytes")]
    TooLarge {
        /// Its encoded size.
        size: u64,
        /// `BatchConfig::max_bytes`.
        max: u64,
    },
    /// This orderer does not serve the channel: its configuration does not
    /// list it (removed, or added and still catching up).
    #[error(
        "orderer {id} does not serve channel {channel}: the channel's orderers are {orderers}; \
         use one of them"
    )]
    NotServing {
        /// This orderer's id.
        id: u64,
        /// The channel.
        channel: String,
        /// The orderers the channel lists (ids and URLs).
        orderers: String,
    },
    /// Temporarily impossible (no leader, leadership changed): retry.
    #[error("unavailable: {0}; retry")]
    Unavailable(String),
    /// The envelope names another channel.
    #[error("the envelope is for channel {got}, this ordering service orders {expected}")]
    WrongChannel {
        /// The channel in the envelope.
        got: String,
        /// This service's channel.
        expected: String,
    },
}

impl BroadcastError {
    /// The HTTP status this error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            BroadcastError::Forbidden(_) => StatusCode::FORBIDDEN,
            BroadcastError::Malformed(_) | BroadcastError::WrongChannel { .. } => {
                StatusCode::BAD_REQUEST
            }
            BroadcastError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            BroadcastError::NotServing { .. } | BroadcastError::Unavailable(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
        }
    }
}

impl From<BroadcastError> for ApiError {
    fn from(e: BroadcastError) -> ApiError {
        ApiError::new(e.status(), e.to_string())
    }
}
