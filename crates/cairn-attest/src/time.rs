//! Time as seconds since the Unix epoch, injected everywhere a check depends on "now".
//!
//! Every verification takes the time as an argument instead of reading the clock, so
//! tests and `--at` can pin it inside certificate and collateral validity windows.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// A point in time, in whole seconds since 1970-01-01T00:00:00Z.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UnixTime(pub u64);

/// An RFC 3339 time string that could not be parsed.
#[derive(Debug, thiserror::Error)]
#[error("{input:?} is not an RFC 3339 time after 1970 (example: 2025-07-01T12:00:00Z)")]
pub struct TimeParseError {
    input: String,
}

impl UnixTime {
    /// The current wall-clock time (0 if the clock is before 1970).
    pub fn now() -> Self {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        Self(secs)
    }

    /// Parses an RFC 3339 time such as `2025-07-01T12:00:00Z`.
    pub fn parse_rfc3339(input: &str) -> Result<Self, TimeParseError> {
        let err = || TimeParseError {
            input: input.to_owned(),
        };
        let t = OffsetDateTime::parse(input, &Rfc3339).map_err(|_| err())?;
        u64::try_from(t.unix_timestamp())
            .map(Self)
            .map_err(|_| err())
    }

    /// The time `secs` seconds later, saturating.
    pub fn plus(self, secs: u64) -> Self {
        Self(self.0.saturating_add(secs))
    }

    /// Seconds since the epoch.
    pub fn secs(self) -> u64 {
        self.0
    }
}

impl fmt::Display for UnixTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let formatted = i64::try_from(self.0)
            .ok()
            .and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok())
            .and_then(|t| t.format(&Rfc3339).ok());
        match formatted {
            Some(s) => f.write_str(&s),
            None => write!(f, "@{}", self.0),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_rfc3339() {
        let t = UnixTime::parse_rfc3339("2025-07-19T10:00:34Z").unwrap();
        assert_eq!(t, UnixTime(1_752_919_234));
        assert_eq!(t.to_string(), "2025-07-19T10:00:34Z");
        assert!(UnixTime::parse_rfc3339("yesterday").is_err());
        assert!(UnixTime::parse_rfc3339("1960-01-01T00:00:00Z").is_err());
    }
}
