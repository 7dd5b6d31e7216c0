//! Cleartext private write sets and their hashes.
//!
//! A [`PrivateWriteSet`] is what one transaction wrote into collections, in
//! cleartext: the endorser keeps it in its transient store and disseminates
//! it to member peers; it never goes into a block. The block carries, per
//! collection, a [`CollectionHashedRwSet`] whose writes are the hashes of
//! these writes, in the same (key) order, and whose `private_rwset_hash` is
//! [`CollectionPrivateWrites::rwset_hash`].
//!
//! `Debug` of these types never prints keys or values (only their hashes),
//! so logging one cannot leak private data.

use std::collections::BTreeMap;
use std::fmt;

use cairn_crypto::Digest;
use serde::{Deserialize, Serialize};
use serde_with::{Bytes, IfIsHumanReadable, hex::Hex, serde_as};

use crate::encoding::{Canonical, EncodingError};
use crate::ids::TxId;
use crate::rwset::KvWriteHash;

/// SHA-256 of a private key, as the ledger carries it.
pub fn key_hash(key: &str) -> Digest {
    cairn_crypto::sha256(key.as_bytes())
}

/// SHA-256 of a private value, as the ledger carries it.
pub fn value_hash(value: &[u8]) -> Digest {
    cairn_crypto::sha256(value)
}

/// One transaction's private writes, per namespace (sorted) and collection (sorted).
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrivateWriteSet {
    /// Per-namespace writes, sorted by namespace.
    pub namespaces: Vec<NsPrivateWrites>,
}

/// The private writes of one namespace (contract).
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NsPrivateWrites {
    /// The namespace.
    pub namespace: String,
    /// Per-collection writes, sorted by collection name.
    pub collections: Vec<CollectionPrivateWrites>,
}

/// The private writes of one collection, sorted by key, one per key.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectionPrivateWrites {
    /// The collection.
    pub collection: String,
    /// The writes.
    pub writes: Vec<PrivateWrite>,
}

/// One private write, delete or purge.
#[serde_as]
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrivateWrite {
    /// The key.
    pub key: String,
    /// True for a delete (and for a purge).
    pub is_delete: bool,
    /// True for `purgePrivateData`: the key and its history are removed.
    pub is_purge: bool,
    /// The value (empty for deletes and purges).
    #[serde_as(as = "IfIsHumanReadable<Hex, Bytes>")]
    pub value: Vec<u8>,
}

impl PrivateWrite {
    /// The hashed form that goes on the ledger.
    pub fn hashed(&self) -> KvWriteHash {
        KvWriteHash {
            key_hash: key_hash(&self.key),
            is_delete: self.is_delete,
            is_purge: self.is_purge,
            value_hash: if self.is_delete {
                Digest::default()
            } else {
                value_hash(&self.value)
            },
        }
    }
}

impl CollectionPrivateWrites {
    /// The hash the ledger carries as `private_rwset_hash`: SHA-256 of this
    /// collection's canonical encoding.
    pub fn rwset_hash(&self) -> Result<Digest, EncodingError> {
        Ok(cairn_crypto::sha256(&self.encode()?))
    }
}

impl PrivateWriteSet {
    /// True if nothing was written.
    pub fn is_empty(&self) -> bool {
        self.namespaces
            .iter()
            .all(|n| n.collections.iter().all(|c| c.writes.is_empty()))
    }

    /// The writes of one collection of one namespace.
    pub fn collection(
        &self,
        namespace: &str,
        collection: &str,
    ) -> Option<&CollectionPrivateWrites> {
        self.namespaces
            .iter()
            .find(|n| n.namespace == namespace)?
            .collections
            .iter()
            .find(|c| c.collection == collection)
    }

    /// Every (namespace, collection writes) pair, in order.
    pub fn collections(&self) -> impl Iterator<Item = (&str, &CollectionPrivateWrites)> {
        self.namespaces
            .iter()
            .flat_map(|n| n.collections.iter().map(move |c| (n.namespace.as_str(), c)))
    }

    /// Keeps only the collections for which `keep(namespace, collection)`
    /// holds (e.g. those a receiving org is a member of), dropping emptied
    /// namespaces.
    pub fn retain(&mut self, mut keep: impl FnMut(&str, &str) -> bool) {
        for ns in &mut self.namespaces {
            let name = ns.namespace.clone();
            ns.collections.retain(|c| keep(&name, &c.collection));
        }
        self.namespaces.retain(|n| !n.collections.is_empty());
    }

    /// Adds one write, keeping namespaces, collections and keys sorted and
    /// unique (a later write of the same key replaces the earlier one).
    pub fn insert(&mut self, namespace: &str, collection: &str, write: PrivateWrite) {
        let ns = match self
            .namespaces
            .binary_search_by(|n| n.namespace.as_str().cmp(namespace))
        {
            Ok(i) => &mut self.namespaces[i],
            Err(i) => {
                self.namespaces.insert(
                    i,
                    NsPrivateWrites {
                        namespace: namespace.to_owned(),
                        collections: Vec::new(),
                    },
                );
                &mut self.namespaces[i]
            }
        };
        let coll = match ns
            .collections
            .binary_search_by(|c| c.collection.as_str().cmp(collection))
        {
            Ok(i) => &mut ns.collections[i],
            Err(i) => {
                ns.collections.insert(
                    i,
                    CollectionPrivateWrites {
                        collection: collection.to_owned(),
                        writes: Vec::new(),
                    },
                );
                &mut ns.collections[i]
            }
        };
        match coll
            .writes
            .binary_search_by(|w| w.key.as_str().cmp(&write.key))
        {
            Ok(i) => coll.writes[i] = write,
            Err(i) => coll.writes.insert(i, write),
        }
    }

    /// Total bytes of keys and values (for size limits and metrics).
    pub fn size_bytes(&self) -> usize {
        self.collections()
            .flat_map(|(_, c)| c.writes.iter())
            .map(|w| w.key.len() + w.value.len())
            .sum()
    }
}

/// The cleartext writes of a collection that match the ledger's hashes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VerifiedWrites<'a> {
    /// Writes whose key hash, value hash and flags equal a hashed write.
    pub matching: Vec<&'a PrivateWrite>,
    /// How many supplied writes did not match (tampered, or for another tx).
    pub rejected: usize,
}

/// Checks supplied cleartext writes against a collection's hashed writes
/// (a [`CollectionHashedRwSet`]'s `hashed_writes`), key by key. A write is
/// accepted only if a hashed write with the same key hash exists and has the
/// same value hash and flags; anything else is rejected. A subset is fine (a
/// member may hold only part of a set).
pub fn verify_collection<'a>(
    hashed_writes: &[KvWriteHash],
    supplied: &'a CollectionPrivateWrites,
) -> VerifiedWrites<'a> {
    let by_key: BTreeMap<&Digest, &KvWriteHash> =
        hashed_writes.iter().map(|w| (&w.key_hash, w)).collect();
    let mut out = VerifiedWrites::default();
    for w in &supplied.writes {
        let h = w.hashed();
        match by_key.get(&h.key_hash) {
            Some(on_ledger) if **on_ledger == h => out.matching.push(w),
            _ => out.rejected += 1,
        }
    }
    out
}

/// The private data that arrived with a block, per transaction id: what
/// the peer found in its transient store for the block's transactions.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct PrivateData {
    by_tx: BTreeMap<TxId, PrivateWriteSet>,
}

impl PrivateData {
    /// No private data.
    pub fn new() -> Self {
        PrivateData::default()
    }

    /// Adds (or replaces) the private writes of a transaction.
    pub fn insert(&mut self, txid: TxId, writes: PrivateWriteSet) {
        self.by_tx.insert(txid, writes);
    }

    /// The private writes supplied for a transaction.
    pub fn get(&self, txid: &TxId) -> Option<&PrivateWriteSet> {
        self.by_tx.get(txid)
    }

    /// Transactions with private data.
    pub fn len(&self) -> usize {
        self.by_tx.len()
    }

    /// True if no transaction has private data.
    pub fn is_empty(&self) -> bool {
        self.by_tx.is_empty()
    }
}

impl FromIterator<(TxId, PrivateWriteSet)> for PrivateData {
    fn from_iter<I: IntoIterator<Item = (TxId, PrivateWriteSet)>>(iter: I) -> Self {
        PrivateData {
            by_tx: iter.into_iter().collect(),
        }
    }
}

/// Private data a member peer should hold but does not: the puts of one
/// collection in one committed transaction whose values never arrived.
/// Reconciliation fetches them from other member peers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MissingPrivateData {
    /// The block.
    pub block: u64,
    /// The transaction's index in the block.
    pub tx: u32,
    /// The namespace (contract).
    pub namespace: String,
    /// The collection.
    pub collection: String,
    /// The key hashes whose values are missing, sorted.
    pub key_hashes: Vec<Digest>,
}

impl fmt::Debug for PrivateWrite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let h = self.hashed();
        f.debug_struct("PrivateWrite")
            .field("key_hash", &h.key_hash)
            .field("is_delete", &self.is_delete)
            .field("is_purge", &self.is_purge)
            .field("value_hash", &h.value_hash)
            .finish()
    }
}

impl fmt::Debug for CollectionPrivateWrites {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CollectionPrivateWrites")
            .field("collection", &self.collection)
            .field("writes", &self.writes)
            .finish()
    }
}

impl fmt::Debug for NsPrivateWrites {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NsPrivateWrites")
            .field("namespace", &self.namespace)
            .field("collections", &self.collections)
            .finish()
    }
}

impl fmt::Debug for PrivateWriteSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateWriteSet")
            .field("namespaces", &self.namespaces)
            .finish()
    }
}

impl fmt::Debug for PrivateData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.by_tx.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rwset::CollectionHashedRwSet;

    fn put(key: &str, value: &[u8]) -> PrivateWrite {
        PrivateWrite {
            key: key.into(),
            is_delete: false,
            is_purge: false,
            value: value.to_vec(),
        }
    }

    fn hashed_of(c: &CollectionPrivateWrites) -> CollectionHashedRwSet {
        CollectionHashedRwSet {
            collection: c.collection.clone(),
            hashed_reads: Vec::new(),
            hashed_writes: c.writes.iter().map(PrivateWrite::hashed).collect(),
            private_rwset_hash: c.rwset_hash().unwrap(),
        }
    }

    #[test]
    fn hashes_are_sha256_of_key_and_value() {
        let h = put("asset1", b"{\"price\":9}").hashed();
        assert_eq!(h.key_hash, cairn_crypto::sha256(b"asset1"));
        assert_eq!(h.value_hash, cairn_crypto::sha256(b"{\"price\":9}"));
        let mut del = put("asset1", b"");
        del.is_delete = true;
        assert_eq!(del.hashed().value_hash, Digest::default());
    }

    #[test]
    fn verification_accepts_only_exact_matches() {
        let set = CollectionPrivateWrites {
            collection: "PDC2".into(),
            writes: vec![put("a", b"1"), put("b", b"2")],
        };
        let hashed = hashed_of(&set);
        let v = verify_collection(&hashed.hashed_writes, &set);
        assert_eq!(v.matching.len(), 2);
        assert_eq!(v.rejected, 0);

        let tampered = CollectionPrivateWrites {
            collection: "PDC2".into(),
            writes: vec![put("a", b"1"), put("b", b"3"), put("c", b"2")],
        };
        let v = verify_collection(&hashed.hashed_writes, &tampered);
        assert_eq!(v.matching.len(), 1, "only a=1 matches");
        assert_eq!(
            v.rejected, 2,
            "a changed value and an unknown key are refused"
        );

        let mut as_delete = put("a", b"");
        as_delete.is_delete = true;
        let flags = CollectionPrivateWrites {
            collection: "PDC2".into(),
            writes: vec![as_delete],
        };
        assert_eq!(verify_collection(&hashed.hashed_writes, &flags).rejected, 1);
    }

    #[test]
    fn insert_keeps_canonical_order_and_last_write_wins() {
        let mut s = PrivateWriteSet::default();
        s.insert("z", "c2", put("k2", b"1"));
        s.insert("a", "c9", put("k", b"1"));
        s.insert("z", "c1", put("k1", b"1"));
        s.insert("z", "c2", put("k1", b"1"));
        s.insert("z", "c2", put("k2", b"2"));
        let names: Vec<_> = s
            .collections()
            .map(|(ns, c)| format!("{ns}/{}", c.collection))
            .collect();
        assert_eq!(names, ["a/c9", "z/c1", "z/c2"]);
        let c2 = s.collection("z", "c2").unwrap();
        assert_eq!(c2.writes.len(), 2);
        assert_eq!(c2.writes[1].value, b"2");
        s.retain(|_, c| c != "c9");
        assert_eq!(s.namespaces.len(), 1);
        assert_eq!(s.size_bytes(), 2 + 1 + 2 + 1 + 2 + 1);
    }

    #[test]
    fn debug_never_prints_keys_or_values() {
        let mut s = PrivateWriteSet::default();
        s.insert("ns", "PDC2", put("secret-key", b"secret-value-7f3a"));
        let mut pd = PrivateData::new();
        pd.insert(TxId(Digest::default()), s.clone());
        for text in [format!("{s:?}"), format!("{pd:?}")] {
            assert!(!text.contains("secret"), "{text}");
            assert!(text.contains(&key_hash("secret-key").to_hex()));
        }
    }
}
