//! Native contracts: Rust code over the same [`Stub`] JavaScript contracts
//! use. The system contracts (`_lifecycle`) are native; performance-critical
//! contracts may be compiled into the node the same way.

use crate::error::StubError;
use crate::stub::Stub;

/// Why a native contract refused a call: its response has status 500 and
/// this message, and the endorsement fails.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NativeError {
    /// The contract refused the call; the message says why.
    #[error("{0}")]
    Refused(String),
    /// A stub operation failed.
    #[error(transparent)]
    Stub(#[from] StubError),
}

/// A contract implemented in Rust and registered with the runtime under a
/// name (its namespace).
pub trait NativeContract: Send + Sync {
    /// Runs `stub.function()` with `stub.args()`, returning the response payload.
    fn invoke(&self, stub: &mut Stub) -> Result<Vec<u8>, NativeError>;
}
