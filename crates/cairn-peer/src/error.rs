//! Errors: [`PeerError`] for starting and administering a peer (our side),
//! [`GatewayError`] for a client's calls through a gateway. Refusals of
//! remote requests are HTTP answers (`cairn_net::ApiError`), not errors here.

use std::path::PathBuf;

use cairn_contract::PackageError;
use cairn_ledger::ids::TxId;
use cairn_ledger::validation::ValidationCode;
use cairn_net::{ClientError, NetError};
use cairn_store::StoreError;

/// Why the peer could not start, or an administrative operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PeerError {
    /// A channel operation was refused (join of a channel this peer's org
    /// is not on, a bad genesis block, a name already joined, ...).
    #[error("channel {channel}: {reason}")]
    Channel {
        /// The channel.
        channel: String,
        /// What is wrong and what to do.
        reason: String,
    },
    /// The configuration is unusable.
    #[error("peer configuration: {reason}")]
    Config {
        /// What is wrong.
        reason: String,
    },
    /// A file or socket operation failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file, directory or address.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A channel's ledger could not be created, opened or read.
    #[error("channel {channel}: ledger: {source}")]
    Ledger {
        /// The channel.
        channel: String,
        /// The store's error.
        #[source]
        source: StoreError,
    },
    /// The TLS identity or trust could not be set up.
    #[error(transparent)]
    Net(#[from] NetError),
    /// A contract package could not be installed or listed.
    #[error(transparent)]
    Package(#[from] PackageError),
    /// This peer has not joined the channel.
    #[error("this peer has not joined channel {channel}")]
    UnknownChannel {
        /// The channel.
        channel: String,
    },
}

/// Why a call through the gateway failed (client side).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GatewayError {
    /// The endorsements could not be assembled into a transaction.
    #[error("assembling the transaction: {0}")]
    Assemble(#[from] cairn_ledger::client::AssembleError),
    /// The gateway (or a node behind it) refused or failed the call; the
    /// message says why (e.g. the contract's own error message).
    #[error(transparent)]
    Call(#[from] ClientError),
    /// The proposal could not be encoded for signing.
    #[error(transparent)]
    Encoding(#[from] cairn_ledger::encoding::EncodingError),
    /// The transaction was ordered but validation refused it.
    #[error("transaction {txid} was recorded invalid in block {block}: {code}")]
    Invalid {
        /// The transaction.
        txid: TxId,
        /// The block that holds it.
        block: u64,
        /// Its validation code.
        code: ValidationCode,
    },
    /// The gateway's answer is inconsistent with the request.
    #[error("the gateway answered inconsistently: {reason}")]
    Protocol {
        /// What is inconsistent.
        reason: String,
    },
    /// The client's TLS identity or trust could not be set up.
    #[error(transparent)]
    Net(#[from] NetError),
}
