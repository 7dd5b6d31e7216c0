//! Identifiers and small value types shared by every ledger structure.
//!
//! Invariant: a [`Timestamp`]'s `nanos` is below one second (`0..1_000_000_000`);
//! decoding refuses anything else, so one instant has one encoding (without
//! the check `(s, 1_000_000_000)` and `(s + 1, 0)` would both decode).

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
#[serde(try_from = "TimestampFields")]
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

/// Nanoseconds in one second: the exclusive upper bound of [`Timestamp::nanos`].
pub const NANOS_PER_SECOND: u32 = 1_000_000_000;

/// A decoded timestamp's fields, before the range check (same layout as
/// [`Timestamp`], so the encoding is unchanged).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TimestampFields {
    seconds: i64,
    nanos: u32,
}

/// Why decoded fields are not a [`Timestamp`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "timestamp nanos {nanos} is out of range: it must be below 1000000000; carry whole \
     seconds into `seconds`"
)]
pub struct NanosOutOfRange {
    /// The refused value.
    pub nanos: u32,
}

impl TryFrom<TimestampFields> for Timestamp {
    type Error = NanosOutOfRange;

    fn try_from(f: TimestampFields) -> Result<Self, Self::Error> {
        if f.nanos >= NANOS_PER_SECOND {
            return Err(NanosOutOfRange { nanos: f.nanos });
        }
        Ok(Timestamp {
            seconds: f.seconds,
            nanos: f.nanos,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoding::Canonical;

    #[test]
    fn nanos_of_a_second_or_more_are_refused() {
        let last = Timestamp {
            seconds: 4,
            nanos: NANOS_PER_SECOND - 1,
        };
        // Positive control: the largest valid value round-trips in both formats.
        assert_eq!(Timestamp::decode(&last.encode().unwrap()).unwrap(), last);
        let json = serde_json::to_string(&last).unwrap();
        assert_eq!(serde_json::from_str::<Timestamp>(&json).unwrap(), last);

        // The same instant as (5, 0), spelled with a full second of nanos.
        let over = Timestamp {
            seconds: 4,
            nanos: NANOS_PER_SECOND,
        };
        assert!(Timestamp::decode(&over.encode().unwrap()).is_err());
        let json = r#"{"seconds":4,"nanos":1000000000}"#;
        let e = serde_json::from_str::<Timestamp>(json)
            .unwrap_err()
            .to_string();
        assert!(e.contains("nanos 1000000000 is out of range"), "{e}");
        assert!(serde_json::from_str::<Timestamp>(r#"{"seconds":4,"nanos":1,"x":0}"#).is_err());
    }
}
