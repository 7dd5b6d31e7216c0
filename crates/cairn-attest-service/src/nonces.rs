//! Single-use nonces with an expiry, bounded per client and in total.
//!
//! `POST /attest/nonce` needs no credentials (a workload asks for a nonce before it
//! has a token), so the service cannot tell clients apart by identity; it tells them
//! apart by source address ([`ClientId`]). Pure: the caller passes the time.
//!
//! Invariants:
//! - a nonce is accepted once, before it expires;
//! - a client holds at most `per_client` unexpired nonces: a client that floods the
//!   endpoint exhausts only its own allowance and is told to retry when its oldest
//!   nonce expires;
//! - the store holds at most `total` nonces. At that bound expired nonces go first;
//!   then the oldest nonce of the client holding the most is evicted, if that client
//!   holds at least two more than the asking one. So a client with nothing
//!   outstanding, like a node renewing its token, is served even while many
//!   addresses flood, and its own nonce (one of one) is not what gets evicted.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::net::{IpAddr, Ipv6Addr};

use cairn_attest::UnixTime;

/// Who asked for a nonce: the source IP address, IPv6 addresses by their /64 (one
/// host usually owns a whole /64, so counting single addresses would let it hop).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct ClientId(IpAddr);

impl ClientId {
    /// The client behind a connection from `ip`.
    pub(crate) fn from_ip(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(_) => Self(ip),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Self(IpAddr::V4(v4)),
                None => {
                    let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                    Self(IpAddr::V6(Ipv6Addr::from(prefix)))
                }
            },
        }
    }
}

impl std::fmt::Display for ClientId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            IpAddr::V4(ip) => write!(f, "{ip}"),
            IpAddr::V6(ip) => write!(f, "{ip}/64"),
        }
    }
}

/// The bounds of a [`NonceStore`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct NonceLimits {
    /// Unexpired nonces one client may hold.
    pub(crate) per_client: usize,
    /// Nonces the store holds at most.
    pub(crate) total: usize,
}

/// Which bound refused a nonce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NonceLimit {
    /// The asking client holds `per_client` unexpired nonces.
    PerClient(usize),
    /// The store is full of unexpired nonces spread evenly over clients.
    Total(usize),
}

impl NonceLimit {
    /// The limit's name in error responses and configuration.
    pub(crate) fn name(self) -> &'static str {
        match self {
            NonceLimit::PerClient(_) => "nonces_per_client",
            NonceLimit::Total(_) => "outstanding_nonces",
        }
    }

    /// The limit's value.
    pub(crate) fn value(self) -> usize {
        match self {
            NonceLimit::PerClient(n) | NonceLimit::Total(n) => n,
        }
    }
}

/// A refused nonce request: the limit reached and when a slot frees up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Throttled {
    /// The bound that was reached.
    pub(crate) limit: NonceLimit,
    /// Seconds until the nonce blocking the request expires (at least 1).
    pub(crate) retry_after_secs: u64,
}

struct Issued {
    client: ClientId,
    exp: UnixTime,
    seq: u64,
}

/// Outstanding nonces, indexed by value, by client (in issue order), by client size
/// and by expiry, so that every operation is logarithmic or bounded by `per_client`.
pub(crate) struct NonceStore {
    ttl_secs: u64,
    limits: NonceLimits,
    by_nonce: HashMap<String, Issued>,
    by_client: HashMap<ClientId, VecDeque<(u64, String)>>,
    by_size: BTreeSet<(usize, ClientId)>,
    by_expiry: BTreeMap<(UnixTime, u64), String>,
    next_seq: u64,
}

fn secs_until(exp: UnixTime, now: UnixTime) -> u64 {
    exp.secs().saturating_sub(now.secs()).max(1)
}

impl NonceStore {
    pub(crate) fn new(ttl_secs: u64, limits: NonceLimits) -> Self {
        Self {
            ttl_secs,
            limits,
            by_nonce: HashMap::new(),
            by_client: HashMap::new(),
            by_size: BTreeSet::new(),
            by_expiry: BTreeMap::new(),
            next_seq: 0,
        }
    }

    fn held_by(&self, client: ClientId) -> usize {
        self.by_client.get(&client).map_or(0, VecDeque::len)
    }

    /// Moves `client` in the size index from `before` to its current count.
    fn resized(&mut self, client: ClientId, before: usize) {
        self.by_size.remove(&(before, client));
        let now_held = self.held_by(client);
        if now_held == 0 {
            self.by_client.remove(&client);
        } else {
            self.by_size.insert((now_held, client));
        }
    }

    fn remove(&mut self, nonce: &str) -> Option<Issued> {
        let issued = self.by_nonce.remove(nonce)?;
        self.by_expiry.remove(&(issued.exp, issued.seq));
        let before = self.held_by(issued.client);
        if let Some(queue) = self.by_client.get_mut(&issued.client)
            && let Some(i) = queue.iter().position(|(seq, _)| *seq == issued.seq)
        {
            queue.remove(i);
        }
        self.resized(issued.client, before);
        Some(issued)
    }

    fn purge_expired(&mut self, now: UnixTime) {
        while let Some(((exp, _), nonce)) = self.by_expiry.first_key_value() {
            if *exp > now {
                break;
            }
            let nonce = nonce.clone();
            self.remove(&nonce);
        }
    }

    /// Records `nonce` for `client`; returns its expiry, or which bound refused it.
    pub(crate) fn insert(
        &mut self,
        nonce: String,
        client: ClientId,
        now: UnixTime,
    ) -> Result<UnixTime, Throttled> {
        if self.held_by(client) >= self.limits.per_client {
            self.purge_expired(now);
            if self.held_by(client) >= self.limits.per_client {
                let oldest = self.by_client.get(&client).and_then(|q| {
                    q.iter()
                        .filter_map(|(_, n)| self.by_nonce.get(n).map(|i| i.exp))
                        .min()
                });
                return Err(Throttled {
                    limit: NonceLimit::PerClient(self.limits.per_client),
                    retry_after_secs: oldest.map_or(1, |exp| secs_until(exp, now)),
                });
            }
        }
        if self.by_nonce.len() >= self.limits.total {
            self.purge_expired(now);
        }
        if self.by_nonce.len() >= self.limits.total {
            let asking = self.held_by(client);
            let victim = self
                .by_size
                .last()
                .filter(|(held, _)| *held > asking + 1)
                .and_then(|(_, c)| self.by_client.get(c)?.front().map(|(_, n)| n.clone()));
            match victim {
                Some(n) => {
                    self.remove(&n);
                }
                None => {
                    let first = self.by_expiry.first_key_value().map(|((exp, _), _)| *exp);
                    return Err(Throttled {
                        limit: NonceLimit::Total(self.limits.total),
                        retry_after_secs: first.map_or(1, |exp| secs_until(exp, now)),
                    });
                }
            }
        }
        let exp = now.plus(self.ttl_secs);
        let seq = self.next_seq;
        self.next_seq += 1;
        // A nonce value is 256 random bits; a repeat would only replace its record.
        self.remove(&nonce);
        let before = self.held_by(client);
        self.by_client
            .entry(client)
            .or_default()
            .push_back((seq, nonce.clone()));
        self.resized(client, before);
        self.by_expiry.insert((exp, seq), nonce.clone());
        self.by_nonce.insert(nonce, Issued { client, exp, seq });
        Ok(exp)
    }

    /// Consumes `nonce`: true exactly once per issued, unexpired nonce.
    pub(crate) fn take(&mut self, nonce: &str, now: UnixTime) -> bool {
        self.remove(nonce).is_some_and(|issued| issued.exp > now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: NonceLimits = NonceLimits {
        per_client: 3,
        total: 8,
    };

    fn client(last: u8) -> ClientId {
        ClientId::from_ip(IpAddr::from([10, 0, 0, last]))
    }

    impl NonceStore {
        /// The indexes agree with each other and the bounds hold.
        fn check(&self) {
            assert!(self.by_nonce.len() <= self.limits.total);
            assert_eq!(self.by_expiry.len(), self.by_nonce.len());
            let mut counted = 0;
            for (c, q) in &self.by_client {
                assert!(!q.is_empty(), "empty queue kept for {c}");
                assert!(q.len() <= self.limits.per_client);
                assert!(self.by_size.contains(&(q.len(), *c)));
                for (seq, n) in q {
                    let i = &self.by_nonce[n];
                    assert_eq!((i.client, i.seq), (*c, *seq));
                    assert_eq!(self.by_expiry[&(i.exp, i.seq)], *n);
                }
                counted += q.len();
            }
            assert_eq!(counted, self.by_nonce.len());
            assert_eq!(self.by_size.len(), self.by_client.len());
        }
    }

    #[test]
    fn nonces_are_single_use_and_expire() {
        let mut s = NonceStore::new(10, LIMITS);
        s.insert("a".into(), client(1), UnixTime(0)).unwrap();
        assert!(s.take("a", UnixTime(5)));
        assert!(!s.take("a", UnixTime(5)), "second use");
        assert!(!s.take("never-issued", UnixTime(5)));
        s.insert("b".into(), client(1), UnixTime(0)).unwrap();
        assert!(!s.take("b", UnixTime(10)), "expired");
        s.check();
    }

    #[test]
    fn a_flooding_client_exhausts_only_its_own_allowance() {
        let mut s = NonceStore::new(100, LIMITS);
        for (i, t) in [0, 10, 20].into_iter().enumerate() {
            s.insert(format!("f{i}"), client(1), UnixTime(t)).unwrap();
        }
        let refused = s.insert("f3".into(), client(1), UnixTime(30)).unwrap_err();
        assert_eq!(refused.limit, NonceLimit::PerClient(3));
        // The oldest (issued at 0) expires at 100: 70 s from now.
        assert_eq!(refused.retry_after_secs, 70);
        assert!(s.insert("n".into(), client(2), UnixTime(30)).is_ok());
        // Using a nonce frees a slot; so does the oldest one expiring.
        assert!(s.take("f1", UnixTime(31)));
        assert!(s.insert("f4".into(), client(1), UnixTime(31)).is_ok());
        assert!(s.insert("f5".into(), client(1), UnixTime(31)).is_err());
        assert!(s.insert("f5".into(), client(1), UnixTime(100)).is_ok());
        s.check();
    }

    #[test]
    fn at_the_total_bound_expired_go_first_then_the_biggest_holder() {
        let mut s = NonceStore::new(100, LIMITS);
        // Clients 1..=4 hold 2 each: the store is full.
        for c in 1..=4 {
            for i in 0..2 {
                s.insert(format!("{c}-{i}"), client(c), UnixTime(0))
                    .unwrap();
            }
        }
        // A newcomer evicts the oldest nonce of a client holding 2 (>= 0 + 2).
        assert!(s.insert("new".into(), client(9), UnixTime(1)).is_ok());
        assert_eq!(s.by_nonce.len(), 8);
        assert!(s.take("new", UnixTime(2)));
        // Every client holds 2 or fewer, the asking one 1: nothing is evictable
        // (2 is not more than 1 + 1), so the total bound refuses, naming itself.
        s.insert("new".into(), client(9), UnixTime(2)).unwrap();
        let refused = s.insert("new2".into(), client(9), UnixTime(3)).unwrap_err();
        assert_eq!(refused.limit, NonceLimit::Total(8));
        assert_eq!(refused.retry_after_secs, 97);
        // Expired nonces go before anyone is evicted.
        assert!(s.insert("late".into(), client(10), UnixTime(100)).is_ok());
        assert!(s.take("new", UnixTime(100)), "the unexpired one was kept");
        s.check();
    }

    #[test]
    fn a_renewing_node_is_served_while_many_addresses_flood() {
        let mut s = NonceStore::new(300, LIMITS);
        let node = client(200);
        for t in 0..200u64 {
            let flooder = client(1 + (t % 5) as u8);
            let _ = s.insert(format!("flood-{t}"), flooder, UnixTime(t));
            if t % 20 == 7 {
                let exp = s.insert(format!("node-{t}"), node, UnixTime(t));
                assert!(exp.is_ok(), "node refused at {t}: {exp:?}");
                assert!(s.take(&format!("node-{t}"), UnixTime(t + 1)));
            }
            s.check();
        }
    }

    #[test]
    fn random_operations_keep_the_indexes_consistent() {
        let mut s = NonceStore::new(50, LIMITS);
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut issued = Vec::new();
        for step in 0..5_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let now = UnixTime(step / 10);
            if x.is_multiple_of(3) && !issued.is_empty() {
                let n: String = issued.swap_remove((x as usize / 3) % issued.len());
                s.take(&n, now);
            } else {
                let n = format!("n{step}");
                if s.insert(n.clone(), client((x % 6) as u8), now).is_ok() {
                    issued.push(n);
                }
            }
            s.check();
        }
    }

    #[test]
    fn ipv6_clients_are_counted_per_64_and_mapped_ipv4_as_ipv4() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(ClientId::from_ip(a), ClientId::from_ip(b));
        assert_ne!(ClientId::from_ip(a), ClientId::from_ip(other));
        assert_eq!(ClientId::from_ip(a).to_string(), "2001:db8:1:2::/64");
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert_eq!(ClientId::from_ip(mapped), client(1));
    }
}
