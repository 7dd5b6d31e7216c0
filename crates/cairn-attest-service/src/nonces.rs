//! Single-use nonces with an expiry.

use std::collections::HashMap;

use cairn_attest::UnixTime;

/// Outstanding nonces. Bounded so that a flood of nonce requests cannot exhaust memory:
/// at the bound, expired nonces are dropped, and if none are, the request is refused.
pub(crate) struct NonceStore {
    issued: HashMap<String, UnixTime>,
    ttl_secs: u64,
    max_outstanding: usize,
}

impl NonceStore {
    pub(crate) fn new(ttl_secs: u64, max_outstanding: usize) -> Self {
        Self {
            issued: HashMap::new(),
            ttl_secs,
            max_outstanding,
        }
    }

    /// Records `nonce`; returns its expiry, or `None` if too many are outstanding.
    pub(crate) fn insert(&mut self, nonce: String, now: UnixTime) -> Option<UnixTime> {
        if self.issued.len() >= self.max_outstanding {
            self.issued.retain(|_, exp| *exp > now);
            if self.issued.len() >= self.max_outstanding {
                return None;
            }
        }
        let exp = now.plus(self.ttl_secs);
        self.issued.insert(nonce, exp);
        Some(exp)
    }

    /// Consumes `nonce`: true exactly once per issued, unexpired nonce.
    pub(crate) fn take(&mut self, nonce: &str, now: UnixTime) -> bool {
        self.issued.remove(nonce).is_some_and(|exp| exp > now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_are_single_use_expire_and_are_bounded() {
        let mut s = NonceStore::new(10, 2);
        assert!(s.insert("a".into(), UnixTime(0)).is_some());
        assert!(s.take("a", UnixTime(5)));
        assert!(!s.take("a", UnixTime(5)), "second use");
        assert!(!s.take("never-issued", UnixTime(5)));
        s.insert("b".into(), UnixTime(0));
        assert!(!s.take("b", UnixTime(10)), "expired");
        s.insert("c".into(), UnixTime(0));
        s.insert("d".into(), UnixTime(0));
        assert!(s.insert("e".into(), UnixTime(1)).is_none(), "bound reached");
        assert!(
            s.insert("e".into(), UnixTime(11)).is_some(),
            "expired ones make room"
        );
    }
}
