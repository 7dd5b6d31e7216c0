//! Builds a canonical read/write set while a contract runs.
//!
//! Canonical form, so that two peers simulating the same proposal produce
//! the same bytes (Fabric's `RWSetBuilder` does the same):
//! - namespaces sorted by name;
//! - point reads de-duplicated per key, keeping the first version read, and
//!   sorted by key;
//! - writes keyed by key, the last write (or delete) winning, sorted by key;
//! - metadata writes keyed by key, the last winning, sorted by key;
//! - range queries in the order the contract ran them;
//! - private data: per collection (sorted by name), hashed reads keyed by
//!   key hash (first version kept, sorted by hash) and writes keyed by key
//!   (last one winning, sorted by key); the hashed writes follow the same
//!   key order as the cleartext [`PrivateWriteSet`].

use std::collections::BTreeMap;

use cairn_crypto::Digest;
use cairn_ledger::encoding::EncodingError;
use cairn_ledger::ids::Version;
use cairn_ledger::private::{PrivateWrite, PrivateWriteSet};
use cairn_ledger::rwset::{
    CollectionHashedRwSet, KvMetadataWrite, KvRead, KvReadHash, KvWrite, MetadataEntry, NsRwSet,
    RangeQueryInfo, TxRwSet,
};

/// Accumulates reads and writes, across namespaces when contracts call each other.
#[derive(Debug, Default)]
pub struct RwSetBuilder {
    namespaces: BTreeMap<String, NsBuilder>,
}

#[derive(Debug, Default)]
struct NsBuilder {
    reads: BTreeMap<String, Option<Version>>,
    writes: BTreeMap<String, Option<Vec<u8>>>,
    metadata: BTreeMap<String, Vec<MetadataEntry>>,
    range_queries: Vec<RangeQueryInfo>,
    collections: BTreeMap<String, CollectionBuilder>,
}

#[derive(Debug, Default)]
struct CollectionBuilder {
    reads: BTreeMap<Digest, Option<Version>>,
    writes: BTreeMap<String, PrivateWrite>,
}

impl RwSetBuilder {
    /// Records a point read; only the first read of a key counts.
    pub fn add_read(&mut self, ns: &str, key: &str, version: Option<Version>) {
        let n = self.ns(ns);
        if !n.reads.contains_key(key) {
            n.reads.insert(key.to_owned(), version);
        }
    }

    /// Records a write (`Some`) or delete (`None`); the last one wins.
    pub fn add_write(&mut self, ns: &str, key: &str, value: Option<Vec<u8>>) {
        self.ns(ns).writes.insert(key.to_owned(), value);
    }

    /// Records a key's new metadata; the last one wins.
    pub fn add_metadata_write(&mut self, ns: &str, key: &str, entries: Vec<MetadataEntry>) {
        self.ns(ns).metadata.insert(key.to_owned(), entries);
    }

    /// Starts recording a range query and returns its index.
    pub fn begin_range(&mut self, ns: &str, start: &str, end: &str) -> usize {
        let n = self.ns(ns);
        n.range_queries.push(RangeQueryInfo {
            start_key: start.to_owned(),
            end_key: end.to_owned(),
            itr_exhausted: false,
            reads: Vec::new(),
        });
        n.range_queries.len() - 1
    }

    /// Records a key a range query returned.
    pub fn add_range_read(&mut self, ns: &str, index: usize, key: &str, version: Version) {
        if let Some(rq) = self.ns(ns).range_queries.get_mut(index) {
            rq.reads.push(KvRead {
                key: key.to_owned(),
                version: Some(version),
            });
        }
    }

    /// Marks a range query as read to its end.
    pub fn exhaust_range(&mut self, ns: &str, index: usize) {
        if let Some(rq) = self.ns(ns).range_queries.get_mut(index) {
            rq.itr_exhausted = true;
        }
    }

    /// Records a read of a private key (by its hash); only the first read counts.
    pub fn add_private_read(
        &mut self,
        ns: &str,
        collection: &str,
        key_hash: Digest,
        version: Option<Version>,
    ) {
        self.collection(ns, collection)
            .reads
            .entry(key_hash)
            .or_insert(version);
    }

    /// Records a private write (`Some` non-empty value), delete (`None` or
    /// empty, as in Fabric) or purge (`purge`); the last one per key wins.
    pub fn add_private_write(
        &mut self,
        ns: &str,
        collection: &str,
        key: &str,
        value: Option<Vec<u8>>,
        purge: bool,
    ) {
        let value = value.filter(|v| !v.is_empty() && !purge);
        let write = PrivateWrite {
            key: key.to_owned(),
            is_delete: value.is_none(),
            is_purge: purge,
            value: value.unwrap_or_default(),
        };
        self.collection(ns, collection)
            .writes
            .insert(key.to_owned(), write);
    }

    /// True if anything was written in any namespace or collection.
    pub fn has_writes(&self) -> bool {
        self.namespaces.values().any(|n| {
            !n.writes.is_empty()
                || !n.metadata.is_empty()
                || n.collections.values().any(|c| !c.writes.is_empty())
        })
    }

    /// The canonical read/write set (hashes only for private data).
    pub fn build(self) -> Result<TxRwSet, EncodingError> {
        Ok(self.build_with_private()?.0)
    }

    /// The canonical read/write set and, separately, the cleartext private
    /// writes it carries the hashes of.
    pub fn build_with_private(self) -> Result<(TxRwSet, PrivateWriteSet), EncodingError> {
        let mut private = PrivateWriteSet::default();
        let namespaces = self
            .namespaces
            .into_iter()
            .map(|(namespace, n)| {
                Ok(NsRwSet {
                    collections: n
                        .collections
                        .into_iter()
                        .map(|(collection, c)| {
                            let writes: Vec<PrivateWrite> = c.writes.into_values().collect();
                            let cleartext = cairn_ledger::private::CollectionPrivateWrites {
                                collection: collection.clone(),
                                writes,
                            };
                            let hashed = CollectionHashedRwSet {
                                collection: collection.clone(),
                                hashed_reads: c
                                    .reads
                                    .into_iter()
                                    .map(|(key_hash, version)| KvReadHash { key_hash, version })
                                    .collect(),
                                hashed_writes: cleartext
                                    .writes
                                    .iter()
                                    .map(PrivateWrite::hashed)
                                    .collect(),
                                private_rwset_hash: cleartext.rwset_hash()?,
                            };
                            for w in cleartext.writes {
                                private.insert(&namespace, &collection, w);
                            }
                            Ok(hashed)
                        })
                        .collect::<Result<_, EncodingError>>()?,
                    reads: n
                        .reads
                        .into_iter()
                        .map(|(key, version)| KvRead { key, version })
                        .collect(),
                    range_queries: n.range_queries,
                    writes: n
                        .writes
                        .into_iter()
                        .map(|(key, value)| match value {
                            // Fabric treats an empty value as a delete.
                            Some(value) if !value.is_empty() => KvWrite {
                                key,
                                is_delete: false,
                                value,
                            },
                            _ => KvWrite {
                                key,
                                is_delete: true,
                                value: Vec::new(),
                            },
                        })
                        .collect(),
                    metadata_writes: n
                        .metadata
                        .into_iter()
                        .map(|(key, entries)| KvMetadataWrite { key, entries })
                        .collect(),
                    namespace,
                })
            })
            .collect::<Result<_, EncodingError>>()?;
        Ok((TxRwSet { namespaces }, private))
    }

    fn ns(&mut self, ns: &str) -> &mut NsBuilder {
        self.namespaces.entry(ns.to_owned()).or_default()
    }

    fn collection(&mut self, ns: &str, collection: &str) -> &mut CollectionBuilder {
        self.ns(ns)
            .collections
            .entry(collection.to_owned())
            .or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_order_and_dedup() {
        let v = |b| Some(Version { block: b, tx: 0 });
        let mut a = RwSetBuilder::default();
        a.add_read("zeta", "k2", v(2));
        a.add_read("alpha", "b", v(1));
        a.add_read("alpha", "a", None);
        a.add_read("alpha", "b", v(9));
        a.add_write("alpha", "y", Some(b"1".to_vec()));
        a.add_write("alpha", "x", Some(b"2".to_vec()));
        a.add_write("alpha", "y", Some(b"3".to_vec()));
        a.add_write("alpha", "z", Some(Vec::new()));
        let set = a.build().unwrap();
        assert_eq!(set.namespaces[0].namespace, "alpha");
        assert_eq!(set.namespaces[1].namespace, "zeta");
        let alpha = &set.namespaces[0];
        assert_eq!(
            alpha.reads,
            vec![
                KvRead {
                    key: "a".into(),
                    version: None
                },
                KvRead {
                    key: "b".into(),
                    version: v(1)
                },
            ]
        );
        let keys: Vec<_> = alpha
            .writes
            .iter()
            .map(|w| (w.key.as_str(), w.value.clone(), w.is_delete))
            .collect();
        assert_eq!(
            keys,
            vec![
                ("x", b"2".to_vec(), false),
                ("y", b"3".to_vec(), false),
                ("z", vec![], true)
            ]
        );
    }
}
