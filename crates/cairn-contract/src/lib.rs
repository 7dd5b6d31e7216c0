//! Cairn's contract runtime: runs JavaScript contracts written against
//! Hyperledger Fabric's `fabric-contract-api` in the embedded QuickJS engine,
//! sandboxed and deterministic, plus native Rust contracts and the
//! `_lifecycle` system contract.
//!
//! Owns: contract packages and their ids ([`ContractPackage`],
//! [`package_dir`], [`PackageStore`]: Fabric's package / install /
//! queryinstalled), the transaction simulator ([`Stub`]) that records
//! canonical read/write sets, the JavaScript engine with Fabric's
//! `ChaincodeStub`, `ClientIdentity`, `Contract` and `Context`, private data
//! on the simulator (Fabric's collection access rules; cleartext private
//! writes returned beside the hashed read/write set), the sandbox
//! ([`Limits`]), native contracts ([`NativeContract`]) and the lifecycle
//! ([`Lifecycle`]: approve, commit, checkcommitreadiness, querycommitted).
//!
//! May use: `cairn-ledger` (proposals, read/write sets, state, definitions),
//! `cairn-crypto` (identities, SHA-256), `cairn-policy` (the lifecycle
//! policy), rquickjs, tar/flate2. No network; files only in [`PackageStore`]
//! and when packaging a directory.
//!
//! The peer calls [`ContractRuntime::invoke`] at endorsement:
//!
//! ```text
//! proposal + creator + state snapshot ──► ContractRuntime::invoke ──► Simulation
//!                                            │ native? ─► NativeContract (e.g. _lifecycle)
//!                                            │ else    ─► ContractResolver → package → warm QuickJS
//!                                            ▼
//!                                      Stub: reads (with versions), writes, range queries
//! ```
//!
//! Invariants:
//! - Read/write sets are canonical (see `rwset`): two peers simulating the
//!   same proposal on the same state produce byte-identical sets, also when
//!   contracts use `Date` and `Math.random` (transaction time, txid-seeded
//!   generator) and whatever the peers' time zones.
//! - A contract reads committed state only; it never sees its own
//!   uncommitted writes (Fabric's rule).
//! - Private values never enter a [`Simulation`]'s read/write set: only key
//!   and value hashes do; the cleartext is in [`Simulation::private_writes`].
//! - No file system, network, process, timers, clock or entropy inside the
//!   sandbox; `require` resolves only inside the package, and
//!   `fabric-contract-api` / `fabric-shim` always resolve to the built-ins.
//! - A limit hit (memory, stack, time, response size) ends the call with a
//!   [`ContractError`] and no writes; the runtime keeps serving.
//! - Nothing survives from one invocation to the next in a warm runtime:
//!   module instances are fresh, built-ins are frozen, added globals removed.
//! - Contract `console.*` output goes only to the log target
//!   [`CONSOLE_TARGET`] at debug level (off unless the operator enables it;
//!   what a contract prints is its author's responsibility), at most
//!   [`CONSOLE_CALL_BYTES`] per call and [`CONSOLE_INVOCATION_BYTES`] per
//!   invocation; it never reaches the read/write set or the response.

#![forbid(unsafe_code)]

mod composite;
mod creator;
mod error;
mod js;
mod lifecycle;
mod limits;
mod native;
mod package;
mod private;
mod resolve;
mod runtime;
mod rwset;
mod stub;

pub use composite::{create_composite_key, partial_key_range, split_composite_key};
pub use creator::CreatorInfo;
pub use error::{ContractError, PackageError, StubError};
pub use js::console::{CONSOLE_CALL_BYTES, CONSOLE_INVOCATION_BYTES, CONSOLE_TARGET};
pub use lifecycle::{
    ApprovalRecord, CommitReadiness, CommittedDefinition, DefinitionArgs, LedgerResolver,
    Lifecycle, approval_key, approved_package, committed_definition,
};
pub use limits::{Limits, RuntimeConfig};
pub use native::{NativeContract, NativeError};
pub use package::{
    ContractPackage, InstalledPackage, MAX_PACKAGE_BYTES, PackageId, PackageStore, package_dir,
};
pub use runtime::{
    ContractResolver, ContractRuntime, Deployed, INITIALIZED_KEY, InvokeRequest, Simulation,
};
pub use rwset::RwSetBuilder;
pub use stub::{IteratorId, PageInfo, Stub, VALIDATION_PARAMETER};
