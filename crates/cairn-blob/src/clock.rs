//! Time that fails closed: retention is judged against [`TrustedClock`],
//! which never goes backwards (a high-water mark the store persists with
//! every write, so not across restarts either) and answers [`Now::Unknown`]
//! when its source fails, which the WORM rules treat as "every retention is
//! still in force".

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::worm::{Now, Timestamp};

/// Where the time comes from.
pub trait TimeSource: Send + Sync + 'static {
    /// The current time, or why it cannot be known.
    fn now(&self) -> Result<Timestamp, String>;
}

/// The operating system's clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl TimeSource for SystemClock {
    fn now(&self) -> Result<Timestamp, String> {
        let d = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|_| "the system clock is before 1970".to_owned())?;
        i64::try_from(d.as_millis())
            .map(Timestamp)
            .map_err(|_| "the system clock is out of range".to_owned())
    }
}

/// A clock set by hand, for tests and simulations: it can be moved either
/// way and made to fail (`set(None)`).
#[derive(Clone, Debug, Default)]
pub struct ManualClock {
    now: Arc<Mutex<Option<Timestamp>>>,
}

impl ManualClock {
    /// A clock that reads `t`.
    pub fn at(t: Timestamp) -> ManualClock {
        ManualClock {
            now: Arc::new(Mutex::new(Some(t))),
        }
    }

    /// Sets the time (`None`: the source fails).
    pub fn set(&self, t: Option<Timestamp>) {
        if let Ok(mut now) = self.now.lock() {
            *now = t;
        }
    }

    /// Moves the time by `ms` (either way).
    pub fn advance(&self, ms: i64) {
        if let Ok(mut now) = self.now.lock()
            && let Some(t) = now.as_mut()
        {
            t.0 += ms;
        }
    }
}

impl TimeSource for ManualClock {
    fn now(&self) -> Result<Timestamp, String> {
        match self.now.lock() {
            Ok(now) => now.ok_or_else(|| "the manual clock is set to fail".to_owned()),
            Err(_) => Err("the manual clock's lock is poisoned".to_owned()),
        }
    }
}

/// A clock that never goes backwards and fails closed.
pub struct TrustedClock {
    source: Box<dyn TimeSource>,
    high_water: AtomicI64,
}

impl std::fmt::Debug for TrustedClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrustedClock")
            .field("high_water", &self.high_water())
            .finish_non_exhaustive()
    }
}

impl TrustedClock {
    /// A clock over `source` that never reads earlier than `high_water`
    /// (the mark persisted by an earlier run).
    pub fn new(source: Box<dyn TimeSource>, high_water: Timestamp) -> TrustedClock {
        TrustedClock {
            source,
            high_water: AtomicI64::new(high_water.0),
        }
    }

    /// The time to judge retention by: the source's time, raised to the
    /// high-water mark if the source went backwards; [`Now::Unknown`] if the
    /// source failed.
    pub fn now(&self) -> Now {
        match self.source.now() {
            Ok(t) => {
                let before = self.high_water.fetch_max(t.0, Ordering::SeqCst);
                if t.0 < before {
                    tracing::warn!(
                        behind_ms = before - t.0,
                        "the time source went backwards; using the high-water mark"
                    );
                }
                Now::Known(Timestamp(before.max(t.0)))
            }
            Err(reason) => {
                tracing::warn!(%reason, "the time source failed; protected objects are treated as locked");
                Now::Unknown {
                    at_least: self.high_water(),
                }
            }
        }
    }

    /// The latest time this clock has given (what the store persists).
    pub fn high_water(&self) -> Timestamp {
        Timestamp(self.high_water.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_never_goes_backwards_and_fails_closed() {
        let source = ManualClock::at(Timestamp(1_000));
        let clock = TrustedClock::new(Box::new(source.clone()), Timestamp(5_000));
        // A persisted mark ahead of the source wins.
        assert_eq!(clock.now(), Now::Known(Timestamp(5_000)));
        source.set(Some(Timestamp(9_000)));
        assert_eq!(clock.now(), Now::Known(Timestamp(9_000)));
        source.advance(-4_000);
        assert_eq!(clock.now(), Now::Known(Timestamp(9_000)));
        assert_eq!(clock.high_water(), Timestamp(9_000));
        source.set(None);
        assert_eq!(
            clock.now(),
            Now::Unknown {
                at_least: Timestamp(9_000)
            }
        );
        assert!(SystemClock.now().is_ok_and(|t| t.0 > 1_700_000_000_000));
    }
}
