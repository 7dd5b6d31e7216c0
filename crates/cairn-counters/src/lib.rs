//! Process-wide event counters: how many signature checks, decodes, durable
//! commits, HTTP requests (per route), committed blocks and transactions
//! this process has done since it started. `cairn bench` reads them from
//! every node before and after its window and divides by the transactions
//! committed, so a change on the transaction path shows as a count per
//! transaction that does not drift with the machine's speed.
//!
//! # Layer
//!
//! At the bottom of the stack beside `cairn-merkle`: no I/O, no logging, no
//! async; it may use only `serde`. Every crate on the transaction path may
//! count into it; nodes serve [`snapshot`] on their API (`GET /counters`).
//!
//! # Invariants
//!
//! - Counting is one relaxed atomic add (fixed counters) or a read lock and
//!   an atomic add (routes already seen), so it may sit on every hot path.
//! - Counters only grow, for the life of the process. Several nodes in one
//!   process (in-process test networks) share them; `cairn up` runs each
//!   node in a process of its own, so there they are per node.
//! - Route keys are bounded: after [`MAX_ROUTES`] distinct keys, further
//!   ones count under `other`, so callers cannot grow the map without end.

use std::collections::{BTreeMap, HashMap};
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// The fixed counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Counter {
    /// Signatures verified (each item of a batch verification counts).
    SigVerify,
    /// Signatures made.
    SigSign,
    /// Canonical (postcard) decodes of ledger structures.
    Decode,
    /// Canonical encodes of ledger structures.
    Encode,
    /// Storage commits made durable (each costs one or more fsyncs).
    DurableCommit,
    /// Explicit file syncs outside the storage engine (transient store log).
    FileSync,
    /// Blocks this process committed to a ledger.
    Block,
    /// Transactions in the blocks this process committed.
    Tx,
    /// Stream frames sent (event streams, block delivery) and calls carried
    /// by call streams (counted by both ends).
    Frame,
    /// TLS connections accepted.
    TlsAccept,
    /// Envelopes a gateway sent to an orderer again after an attempt that
    /// may have reached one went unanswered.
    Resent,
    /// Resent envelopes an ordering leader found in its ledger already and
    /// answered with their block instead of ordering them again.
    ResentFound,
}

impl Counter {
    /// Every fixed counter, in report order.
    pub const ALL: [Counter; 12] = [
        Counter::SigVerify,
        Counter::SigSign,
        Counter::Decode,
        Counter::Encode,
        Counter::DurableCommit,
        Counter::FileSync,
        Counter::Block,
        Counter::Tx,
        Counter::Frame,
        Counter::TlsAccept,
        Counter::Resent,
        Counter::ResentFound,
    ];

    /// The counter's name in snapshots.
    pub fn name(self) -> &'static str {
        match self {
            Counter::SigVerify => "sig_verify",
            Counter::SigSign => "sig_sign",
            Counter::Decode => "decode",
            Counter::Encode => "encode",
            Counter::DurableCommit => "durable_commit",
            Counter::FileSync => "file_sync",
            Counter::Block => "block",
            Counter::Tx => "tx",
            Counter::Frame => "frame",
            Counter::TlsAccept => "tls_accept",
            Counter::Resent => "broadcast_resent",
            Counter::ResentFound => "broadcast_resent_found",
        }
    }
}

static FIXED: [AtomicU64; Counter::ALL.len()] = [const { AtomicU64::new(0) }; Counter::ALL.len()];

/// Most distinct route keys kept; later ones count under `other`.
pub const MAX_ROUTES: usize = 128;

static ROUTES: RwLock<Option<HashMap<String, AtomicU64>>> = RwLock::new(None);

/// Adds `n` to counter `c`.
pub fn add(c: Counter, n: u64) {
    FIXED[c as usize].fetch_add(n, Ordering::Relaxed);
}

/// Adds one to counter `c`.
pub fn inc(c: Counter) {
    add(c, 1);
}

/// The current value of counter `c`.
pub fn get(c: Counter) -> u64 {
    FIXED[c as usize].load(Ordering::Relaxed)
}

/// Counts one HTTP request this process served on `path`.
pub fn served(method: &str, path: &str) {
    route("served", method, path);
}

/// Counts one HTTP request this process sent to `url`: its path counts,
/// with numbers and long hex strings (block numbers, txids) as `{}`.
pub fn sent(method: &str, url: &str) {
    let path = url_path(url);
    let generic = |seg: &str| {
        !seg.is_empty()
            && (seg.bytes().all(|b| b.is_ascii_digit())
                || (seg.len() >= 16 && seg.bytes().all(|b| b.is_ascii_hexdigit())))
    };
    if path.split('/').any(generic) {
        let normal: Vec<&str> = path
            .split('/')
            .map(|seg| if generic(seg) { "{}" } else { seg })
            .collect();
        route("sent", method, &normal.join("/"));
    } else {
        route("sent", method, path);
    }
}

/// The path of an absolute URL, without query: `https://h:1/a/b?x` → `/a/b`.
fn url_path(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let path = rest.find('/').map_or("/", |i| &rest[i..]);
    path.split(['?', '#']).next().unwrap_or(path)
}

fn route(dir: &str, method: &str, path: &str) {
    let key_len = dir.len() + method.len() + path.len() + 2;
    let mut key = String::with_capacity(key_len);
    key.push_str(dir);
    key.push(' ');
    key.push_str(method);
    key.push(' ');
    key.push_str(path);
    {
        let map = ROUTES.read().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = map.as_ref().and_then(|m| m.get(&key)) {
            c.fetch_add(1, Ordering::Relaxed);
            return;
        }
    }
    let mut map = ROUTES.write().unwrap_or_else(|p| p.into_inner());
    let map = map.get_or_insert_with(HashMap::new);
    if !map.contains_key(&key) && map.len() >= MAX_ROUTES {
        key = format!("{dir} other");
    }
    map.entry(key)
        .or_insert_with(|| AtomicU64::new(0))
        .fetch_add(1, Ordering::Relaxed);
}

/// Every counter's current value: the fixed ones by [`Counter::name`], the
/// routes as `served METHOD /path` and `sent METHOD /path`.
pub fn snapshot() -> BTreeMap<String, u64> {
    let mut out: BTreeMap<String, u64> = Counter::ALL
        .iter()
        .map(|c| (c.name().to_string(), get(*c)))
        .collect();
    let map = ROUTES.read().unwrap_or_else(|p| p.into_inner());
    if let Some(m) = map.as_ref() {
        for (k, v) in m {
            out.insert(k.clone(), v.load(Ordering::Relaxed));
        }
    }
    out
}

/// What changed between two snapshots: `after - before` per key (keys new in
/// `after` count from zero), zero differences left out.
pub fn delta(
    before: &BTreeMap<String, u64>,
    after: &BTreeMap<String, u64>,
) -> BTreeMap<String, u64> {
    after
        .iter()
        .filter_map(|(k, v)| {
            let d = v.saturating_sub(before.get(k).copied().unwrap_or(0));
            (d > 0).then(|| (k.clone(), d))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_counters_grow_and_show_in_snapshots() {
        let before = snapshot();
        add(Counter::SigVerify, 3);
        inc(Counter::Block);
        let after = snapshot();
        let d = delta(&before, &after);
        // Other tests in this process may count too, so at least.
        assert!(d["sig_verify"] >= 3);
        assert!(d["block"] >= 1);
        assert!(after.contains_key("frame"));
    }

    #[test]
    fn routes_count_by_path_without_host_or_query() {
        let before = snapshot();
        sent("POST", "https://127.0.0.1:7051/endorse?x=1");
        sent("POST", "https://peer0.org1:7051/endorse");
        served("GET", "/status");
        sent("GET", "https://h:1/channels/ch/blocks/17");
        sent(
            "GET",
            &format!("https://h:1/channels/ch/txs/{}", "ab".repeat(32)),
        );
        let d = delta(&before, &snapshot());
        assert_eq!(d["sent POST /endorse"], 2);
        assert_eq!(d["sent GET /channels/ch/blocks/{}"], 1);
        assert_eq!(d["sent GET /channels/ch/txs/{}"], 1);
        assert_eq!(d["served GET /status"], 1);
        assert_eq!(url_path("https://h:1"), "/");
        assert_eq!(url_path("/a/b#f"), "/a/b");
    }

    #[test]
    fn route_keys_are_bounded() {
        for i in 0..(MAX_ROUTES + 20) {
            served("GET", &format!("/bounded/{i}"));
        }
        let snap = snapshot();
        let routes = snap.keys().filter(|k| k.starts_with("served ")).count();
        assert!(routes <= MAX_ROUTES + 1, "{routes} route keys");
        assert!(snap.get("served other").copied().unwrap_or(0) >= 20);
    }
}
