//! Sandbox limits for one invocation, and the runtime's configuration.

use std::time::Duration;

/// What one invocation may consume. Exceeding any limit ends the call with a
/// [`crate::ContractError`] naming the limit, and no writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Heap bytes the invocation may allocate on top of the warm runtime
    /// (the loaded package and Cairn's built-ins).
    pub memory_bytes: usize,
    /// Native stack bytes JavaScript may use. Must stay well below the stack
    /// of the thread that invokes (Rust's default for spawned threads is 2 MiB).
    pub stack_bytes: usize,
    /// Execution budget (wall clock), checked by QuickJS's interrupt handler.
    pub time: Duration,
    /// Largest response payload a contract may return.
    pub max_response_bytes: usize,
    /// How deeply contracts may call each other with `invokeChaincode`.
    pub max_call_depth: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: 64 << 20,
            stack_bytes: 512 << 10,
            time: Duration::from_secs(3),
            max_response_bytes: 16 << 20,
            max_call_depth: 8,
        }
    }
}

/// A peer's contract runtime configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuntimeConfig {
    /// The MSP id of the peer the runtime belongs to (`ctx.stub.getMspID()`).
    pub peer_msp_id: String,
    /// Limits applied to every invocation unless the caller passes others.
    pub limits: Limits,
    /// Warm runtimes kept per installed package.
    pub max_idle_per_package: usize,
}

impl RuntimeConfig {
    /// A configuration for a peer of `peer_msp_id` with default limits.
    pub fn new(peer_msp_id: impl Into<String>) -> Self {
        RuntimeConfig {
            peer_msp_id: peer_msp_id.into(),
            limits: Limits::default(),
            max_idle_per_package: 4,
        }
    }
}
