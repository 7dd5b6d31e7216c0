//! Identifiers and small value types shared by every ledger structure.

use std::fmt;
use std::str::FromStr;

use cairn_crypto::Digest;
use serde::{Deserialize, Serialize};

/// A transaction id: hex SHA-256 of the nonce followed by the creator's
/// certificate bytes, as in Fabric.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TxId(pub Digest);

impl TxId {
    /// Computes the id Fabric-style from the proposal's nonce and creator certificate.
    pub fn compute(nonce: &[u8], creator: &[u8]) -> TxId {
        let mut buf = Vec::with_capacity(nonce.len() + creator.len());
        buf.extend_from_slice(nonce);
        buf.extend_from_slice(creator);
        TxId(cairn_crypto::sha256(&buf))
    }

    /// The raw 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        self.0.as_bytes()
    }
}

impl fmt::Display for TxId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl FromStr for TxId {
    type Err = <Digest as FromStr>::Err;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Digest::from_str(s).map(TxId)
    }
}

/// The version of a state entry: the block and the transaction (index within
/// the block) that last wrote it. Versions order by block, then transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Version {
    /// Block number.
    pub block: u64,
    /// Transaction index within the block.
    pub tx: u32,
}

/// A point in time as seconds and nanoseconds since the Unix epoch (UTC),
/// the shape of protobuf's `Timestamp` that Fabric uses.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Timestamp {
    /// Whole seconds since the epoch.
    pub seconds: i64,
    /// Nanoseconds within the second (0..1e9).
    pub nanos: u32,
}

impl Timestamp {
    /// The current wall-clock time. Only clients and orderers read the clock;
    /// validation uses the timestamps carried in blocks.
    pub fn now() -> Timestamp {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Timestamp {
            seconds: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            nanos: d.subsec_nanos(),
        }
    }

    /// Milliseconds since the epoch (what JavaScript's `Date.now()` returns).
    pub fn millis(&self) -> i64 {
        self.seconds.saturating_mul(1000) + i64::from(self.nanos / 1_000_000)
    }
}
