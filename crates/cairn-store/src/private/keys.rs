//! Key layouts of the private data tables (see [`crate::tables`]).
//!
//! `ns 0x00 coll 0x00` prefixes every per-collection key: namespace and
//! collection names never contain 0x00 (contract and collection names are
//! validated), so the prefix is unambiguous even when keys contain 0x00.

use cairn_crypto::Digest;
use cairn_ledger::ids::Version;

/// `ns 0x00 coll 0x00`.
pub(crate) fn coll_prefix(ns: &str, coll: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(ns.len() + coll.len() + 2 + 32);
    k.extend_from_slice(ns.as_bytes());
    k.push(0);
    k.extend_from_slice(coll.as_bytes());
    k.push(0);
    k
}

/// `ns 0x00 coll 0x00 key_hash` (hashed state, key-hash index).
pub(crate) fn hashed_key(ns: &str, coll: &str, kh: &Digest) -> Vec<u8> {
    let mut k = coll_prefix(ns, coll);
    k.extend_from_slice(kh.as_bytes());
    k
}

/// `ns 0x00 coll 0x00 key` (cleartext private state).
pub(crate) fn state_key(ns: &str, coll: &str, key: &str) -> Vec<u8> {
    let mut k = coll_prefix(ns, coll);
    k.extend_from_slice(key.as_bytes());
    k
}

/// [`state_key`] for a key given as bytes (as `pvt_keys` stores it).
pub(crate) fn state_key_bytes(ns: &str, coll: &str, key: &[u8]) -> Vec<u8> {
    let mut k = coll_prefix(ns, coll);
    k.extend_from_slice(key);
    k
}

/// The bounds of `[start, end)` within one collection's cleartext state; an
/// empty `end` means the collection's end.
pub(crate) fn state_range(ns: &str, coll: &str, start: &str, end: &str) -> (Vec<u8>, Vec<u8>) {
    let lo = state_key(ns, coll, start);
    let hi = if end.is_empty() {
        let mut h = coll_prefix(ns, coll);
        if let Some(last) = h.last_mut() {
            *last = 1;
        }
        h
    } else {
        state_key(ns, coll, end)
    };
    (lo, hi)
}

/// `block(8, BE) tx(4, BE)`: the prefix of one transaction's private entries.
pub(crate) fn tx_prefix(block: u64, tx: u32) -> Vec<u8> {
    let mut k = Vec::with_capacity(12 + 64);
    k.extend_from_slice(&block.to_be_bytes());
    k.extend_from_slice(&tx.to_be_bytes());
    k
}

/// `block tx ns 0x00 coll 0x00 key_hash` (private history, missing data).
pub(crate) fn data_key(block: u64, tx: u32, ns: &str, coll: &str, kh: &Digest) -> Vec<u8> {
    let mut k = tx_prefix(block, tx);
    k.extend_from_slice(&hashed_key(ns, coll, kh));
    k
}

/// `ns 0x00 coll 0x00 key_hash block tx` (index of history and missing entries by key).
pub(crate) fn by_key(ns: &str, coll: &str, kh: &Digest, version: Version) -> Vec<u8> {
    let mut k = hashed_key(ns, coll, kh);
    k.extend_from_slice(&version.block.to_be_bytes());
    k.extend_from_slice(&version.tx.to_be_bytes());
    k
}

/// `expiring_block(8, BE)` followed by a [`data_key`].
pub(crate) fn expiry_key(
    expiring: u64,
    block: u64,
    tx: u32,
    ns: &str,
    coll: &str,
    kh: &Digest,
) -> Vec<u8> {
    let mut k = expiring.to_be_bytes().to_vec();
    k.extend_from_slice(&data_key(block, tx, ns, coll, kh));
    k
}

/// One private entry's coordinates, parsed back from a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) version: Version,
    pub(crate) ns: String,
    pub(crate) coll: String,
    pub(crate) kh: Digest,
}

/// Parses a [`data_key`].
pub(crate) fn parse_data_key(k: &[u8]) -> Option<Entry> {
    let block = u64::from_be_bytes(k.get(..8)?.try_into().ok()?);
    let tx = u32::from_be_bytes(k.get(8..12)?.try_into().ok()?);
    let (ns, coll, kh) = parse_hashed_key(k.get(12..)?)?;
    Some(Entry {
        version: Version { block, tx },
        ns,
        coll,
        kh,
    })
}

/// Parses an [`expiry_key`] (its expiring block, then the entry).
pub(crate) fn parse_expiry_key(k: &[u8]) -> Option<Entry> {
    parse_data_key(k.get(8..)?)
}

/// Parses a [`by_key`] entry's version.
pub(crate) fn by_key_version(k: &[u8]) -> Option<Version> {
    let tail = k.get(k.len().checked_sub(12)?..)?;
    Some(Version {
        block: u64::from_be_bytes(tail[..8].try_into().ok()?),
        tx: u32::from_be_bytes(tail[8..].try_into().ok()?),
    })
}

/// Parses a [`hashed_key`].
pub(crate) fn parse_hashed_key(k: &[u8]) -> Option<(String, String, Digest)> {
    let kh_at = k.len().checked_sub(32)?;
    let (names, kh) = k.split_at(kh_at);
    let names = names.strip_suffix(&[0])?;
    let sep = names.iter().position(|b| *b == 0)?;
    let ns = std::str::from_utf8(&names[..sep]).ok()?;
    let coll = std::str::from_utf8(&names[sep + 1..]).ok()?;
    let kh: [u8; 32] = kh.try_into().ok()?;
    Some((ns.to_owned(), coll.to_owned(), Digest::from(kh)))
}

/// The cleartext key of a [`state_key`], given its collection prefix length.
pub(crate) fn state_key_suffix(k: &[u8], prefix_len: usize) -> Option<String> {
    std::str::from_utf8(k.get(prefix_len..)?)
        .ok()
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_back() {
        let kh = cairn_crypto::sha256(b"k\0with nul");
        let d = data_key(7, 3, "acme", "PDC2", &kh);
        let e = parse_data_key(&d).unwrap();
        assert_eq!(e.version, Version { block: 7, tx: 3 });
        assert_eq!((e.ns.as_str(), e.coll.as_str(), e.kh), ("acme", "PDC2", kh));
        let x = expiry_key(11, 7, 3, "acme", "PDC2", &kh);
        assert_eq!(parse_expiry_key(&x), Some(e));
        assert!(x.starts_with(&11u64.to_be_bytes()));
        assert_eq!(
            by_key_version(&by_key("acme", "PDC2", &kh, Version { block: 7, tx: 3 })),
            Some(Version { block: 7, tx: 3 })
        );
        let (lo, hi) = state_range("acme", "PDC2", "", "");
        assert!(
            lo < state_key("acme", "PDC2", "\u{10ffff}")
                && state_key("acme", "PDC2", "\u{10ffff}") < hi
        );
        assert!(
            state_key("acme", "PDC3", "") > hi,
            "another collection is outside"
        );
    }
}
