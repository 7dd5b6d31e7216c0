//! Errors, one enum per operation: what a stub call refused ([`StubError`]),
//! why an invocation could not produce a result ([`ContractError`]), and why
//! a contract package could not be read ([`PackageError`]).

use std::time::Duration;

/// Why a stub operation (`ctx.stub.*` in JavaScript, [`crate::Stub`] in Rust)
/// was refused. In JavaScript it becomes an exception the contract may catch;
/// uncaught, it fails the invocation with status 500 and this message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StubError {
    /// The client's org may not read or write this collection
    /// (`memberOnlyRead` / `memberOnlyWrite`).
    #[error(
        "the client's org {client_org} may not {access} collection {collection} (memberOnly{access_flag}: only clients of {members} may)"
    )]
    ClientNotMember {
        /// The client's MSP id.
        client_org: String,
        /// The collection.
        collection: String,
        /// `read` or `write`.
        access: &'static str,
        /// `Read` or `Write`, naming the collection flag.
        access_flag: &'static str,
        /// The member orgs, comma-separated.
        members: String,
    },
    /// Contracts call each other too deeply (`invokeChaincode` recursion).
    #[error("contracts may call each other at most {limit} levels deep")]
    CallDepth {
        /// The configured maximum depth.
        limit: u32,
    },
    /// An argument is malformed; the message says which and why.
    #[error("{0}")]
    InvalidArgument(String),
    /// `invokeChaincode` named a channel other than the transaction's.
    #[error(
        "invokeChaincode on another channel ({requested}) is not supported: this transaction runs on {current}"
    )]
    OtherChannel {
        /// The channel the contract asked for.
        requested: String,
        /// The transaction's channel.
        current: String,
    },
    /// A paginated query in a transaction that already wrote (Fabric's rule).
    #[error(
        "paginated queries are not supported in transactions with writes: Fabric allows them only in read-only transactions"
    )]
    PaginationAfterWrite,
    /// This peer's org is not a member of the collection, so it holds none
    /// of its private data.
    #[error(
        "this peer's org {peer_org} is not a member of collection {collection}: it holds none of the collection's private data (send the proposal to a peer of {members})"
    )]
    NotMember {
        /// The peer's MSP id.
        peer_org: String,
        /// The collection.
        collection: String,
        /// The member orgs, comma-separated.
        members: String,
    },
    /// A private data method Cairn does not provide.
    #[error("{operation} is not supported: {reason}")]
    PrivateDataUnsupported {
        /// The stub method called.
        operation: &'static str,
        /// Why, and what to use instead.
        reason: &'static str,
    },
    /// The ledger holds a newer hash of the key than the private value this
    /// member peer has (the value has not arrived yet).
    #[error(
        "the private data of this key in collection {collection} is not available on this peer yet: the ledger's hash is from block {block} tx {tx}, and its value has not arrived here (reconciliation fetches it from other member peers); retry later or use another member peer"
    )]
    PrivateDataUnavailable {
        /// The collection.
        collection: String,
        /// Block of the ledger's version.
        block: u64,
        /// Transaction of the ledger's version.
        tx: u32,
    },
    /// The peer's state could not be read.
    #[error("reading the ledger state failed: {0}")]
    State(String),
    /// A stub call after the transaction function returned.
    #[error(
        "the transaction has already finished: stub calls are only valid while the contract runs"
    )]
    TransactionFinished,
    /// `invokeChaincode` named a contract that is not committed or installed here.
    #[error(
        "contract {0:?} is not available on this peer (not committed on the channel, or not installed)"
    )]
    UnknownContract(String),
    /// The contract has no collection of that name.
    #[error(
        "collection {collection} is not defined for contract {contract}: define it in the contract's collections (or use an implicit collection _implicit_org_<MSPID> of a channel org)"
    )]
    UnknownCollection {
        /// The collection named.
        collection: String,
        /// The contract.
        contract: String,
    },
    /// An iterator id that is not open (closed already, or never opened).
    #[error("iterator {0} is not open")]
    UnknownIterator(u32),
    /// A write after a paginated query in the same transaction (Fabric's rule).
    #[error(
        "write operations are not supported after a paginated query: Fabric allows paginated queries only in read-only transactions"
    )]
    WriteAfterPagination,
}

impl From<cairn_ledger::state::StateError> for StubError {
    fn from(e: cairn_ledger::state::StateError) -> Self {
        StubError::State(e.0)
    }
}

/// Why an invocation produced no result to endorse. A contract that throws
/// (or a native contract that refuses) is not an error here: it yields a
/// [`crate::Simulation`] whose response has status 500.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ContractError {
    /// The simulation's result could not be encoded.
    #[error(transparent)]
    Encoding(#[from] cairn_ledger::encoding::EncodingError),
    /// The JavaScript engine could not be created or bootstrapped.
    #[error("the JavaScript engine failed: {0}")]
    Engine(String),
    /// Fabric's `init` rule: the definition requires `init` and this call
    /// violates it (not initialized yet, or initialized already).
    #[error("{0}")]
    Init(String),
    /// The invocation reached its heap limit.
    #[error(
        "the contract exceeded its memory limit of {limit_bytes} bytes; raise limits.memory_bytes if this contract legitimately needs more"
    )]
    MemoryLimit {
        /// The per-invocation heap limit.
        limit_bytes: usize,
    },
    /// The contract's promise can never settle (it awaits something that is
    /// never resolved; there are no timers or I/O in the sandbox).
    #[error(
        "the contract's transaction function never completed: it awaits a promise that nothing can resolve (the sandbox has no timers or I/O)"
    )]
    NeverSettled,
    /// The contract package could not be loaded.
    #[error(transparent)]
    Package(#[from] PackageError),
    /// The response payload is larger than allowed.
    #[error(
        "the contract returned {size_bytes} bytes, more than the limit of {limit_bytes} bytes (limits.max_response_bytes)"
    )]
    ResponseTooLarge {
        /// The size of the response (at least; counting stops at the limit).
        size_bytes: usize,
        /// The configured limit.
        limit_bytes: usize,
    },
    /// The invocation exhausted its stack (usually unbounded recursion).
    #[error(
        "the contract exceeded its stack limit of {limit_bytes} bytes (unbounded recursion?); raise limits.stack_bytes if the recursion is legitimate"
    )]
    StackLimit {
        /// The configured stack limit.
        limit_bytes: usize,
    },
    /// The peer's state could not be read.
    #[error("reading the ledger state failed: {0}")]
    State(String),
    /// The invocation ran longer than its execution budget.
    #[error(
        "the contract exceeded its execution budget of {} ms (an infinite loop?); raise limits.time if it legitimately needs longer",
        limit.as_millis()
    )]
    TimeLimit {
        /// The configured budget.
        limit: Duration,
    },
    /// No contract of that name is committed on the channel or installed here.
    #[error(
        "contract {0:?} is not available on this peer: it is not committed on the channel, or its package is not installed"
    )]
    UnknownContract(String),
}

impl From<cairn_ledger::state::StateError> for ContractError {
    fn from(e: cairn_ledger::state::StateError) -> Self {
        ContractError::State(e.0)
    }
}

/// Why a contract package could not be read, built or stored.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PackageError {
    /// An archive entry is not a regular file or directory (links, devices).
    #[error(
        "package entry {path:?} is a link or special file; packages may hold only regular files"
    )]
    EntryType {
        /// The entry's path.
        path: String,
    },
    /// The package's `package.json` is missing or not valid JSON.
    #[error("the package has no valid package.json at its root: {0}")]
    InvalidManifest(String),
    /// A package id is not `label:<64 hex digits>`.
    #[error("{0:?} is not a package id: expected <label>:<64 lowercase hex digits>")]
    InvalidPackageId(String),
    /// A label that Fabric would refuse.
    #[error(
        "invalid package label {0:?}: use letters, digits, '.', '_', '+' and '-', starting with a letter or digit"
    )]
    InvalidLabel(String),
    /// Reading or writing a file failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or directory.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// `main` (or `index.js`) does not name a file of the package.
    #[error("package.json's main entry {0:?} is not a file of the package")]
    MissingMain(String),
    /// The lifecycle archive is not Fabric-shaped (`metadata.json` + `code.tar.gz`).
    #[error("not a contract package: {0}")]
    NotAPackage(String),
    /// No package with this id is installed.
    #[error("package {0} is not installed on this peer")]
    NotInstalled(String),
    /// A path that would escape the package directory (`..`, absolute).
    #[error("package entry {0:?} escapes the package root")]
    PathEscapes(String),
    /// The package is bigger than allowed.
    #[error("the package's files total more than {limit_bytes} bytes")]
    TooLarge {
        /// The maximum total size of a package's files.
        limit_bytes: u64,
    },
}
