//! An in-memory ledger state: what `cairn ledger verify` rebuilds from
//! blocks to compare with the stored state, and what tests validate against.

use std::collections::{BTreeMap, HashSet};

use cairn_crypto::Digest;

use crate::ids::{TxId, Version};
use crate::rwset::MetadataEntry;
use crate::state::{HashedValue, HistoryEntry, StateError, StateView, VersionedValue};
use crate::validate::{BlockResult, LedgerView};
use crate::validation::ValidationCode;

/// World state, metadata, history and txids held in memory.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemoryState {
    /// (namespace, key) → value and version.
    pub state: BTreeMap<(String, String), VersionedValue>,
    /// (namespace, key) → metadata entries.
    pub metadata: BTreeMap<(String, String), Vec<MetadataEntry>>,
    /// (namespace, key) → history, oldest first.
    pub history: BTreeMap<(String, String), Vec<HistoryEntry>>,
    /// (namespace, collection, key hash) → hashed private value and version
    /// (what every channel peer holds; cleartext is never in blocks).
    pub hashed: BTreeMap<(String, String, Digest), HashedValue>,
    /// Every txid on the ledger (valid or not).
    pub txids: HashSet<TxId>,
    /// Committed blocks.
    pub height: u64,
}

impl MemoryState {
    /// Applies a validated block: valid transactions' effects, every txid.
    pub fn apply(&mut self, number: u64, result: &BlockResult) {
        for (i, tx) in result.txs.iter().enumerate() {
            if let Some(txid) = tx.txid {
                self.txids.insert(txid);
            }
            if tx.code != ValidationCode::Valid {
                continue;
            }
            let version = Version {
                block: number,
                tx: u32::try_from(i).unwrap_or(u32::MAX),
            };
            for (ns, w) in &tx.effects.writes {
                let k = (ns.clone(), w.key.clone());
                if w.is_delete {
                    self.state.remove(&k);
                } else {
                    self.state.insert(
                        k.clone(),
                        VersionedValue {
                            value: w.value.clone(),
                            version,
                        },
                    );
                }
                if let Some(txid) = tx.txid {
                    self.history.entry(k).or_default().push(HistoryEntry {
                        txid,
                        timestamp: tx.timestamp,
                        is_delete: w.is_delete,
                        value: w.value.clone(),
                    });
                }
            }
            for c in &tx.effects.hashed_writes {
                for w in &c.writes {
                    let k = (c.namespace.clone(), c.collection.clone(), w.key_hash);
                    if w.is_delete || w.is_purge {
                        self.hashed.remove(&k);
                    } else {
                        self.hashed.insert(
                            k,
                            HashedValue {
                                value_hash: w.value_hash,
                                version,
                            },
                        );
                    }
                }
            }
            for (ns, m) in &tx.effects.metadata_writes {
                let k = (ns.clone(), m.key.clone());
                if m.entries.is_empty() {
                    self.metadata.remove(&k);
                } else {
                    self.metadata.insert(k, m.entries.clone());
                }
            }
        }
        self.height = number + 1;
    }
}

impl StateView for MemoryState {
    fn state(&self, namespace: &str, key: &str) -> Result<Option<VersionedValue>, StateError> {
        Ok(self
            .state
            .get(&(namespace.to_string(), key.to_string()))
            .cloned())
    }

    fn range(
        &self,
        namespace: &str,
        start: &str,
        end: &str,
        limit: usize,
    ) -> Result<Vec<(String, VersionedValue)>, StateError> {
        let lo = (namespace.to_string(), start.to_string());
        let it = self
            .state
            .range(lo..)
            .take_while(|((n, k), _)| n == namespace && (end.is_empty() || k.as_str() < end))
            .map(|((_, k), v)| (k.clone(), v.clone()));
        Ok(if limit == 0 {
            it.collect()
        } else {
            it.take(limit).collect()
        })
    }

    fn history(&self, namespace: &str, key: &str) -> Result<Vec<HistoryEntry>, StateError> {
        let mut h = self
            .history
            .get(&(namespace.to_string(), key.to_string()))
            .cloned()
            .unwrap_or_default();
        h.reverse();
        Ok(h)
    }

    fn metadata(&self, namespace: &str, key: &str) -> Result<Vec<MetadataEntry>, StateError> {
        Ok(self
            .metadata
            .get(&(namespace.to_string(), key.to_string()))
            .cloned()
            .unwrap_or_default())
    }

    fn height(&self) -> Result<u64, StateError> {
        Ok(self.height)
    }

    fn private_hash(
        &self,
        namespace: &str,
        collection: &str,
        key_hash: &Digest,
    ) -> Result<Option<HashedValue>, StateError> {
        Ok(self
            .hashed
            .get(&(namespace.to_string(), collection.to_string(), *key_hash))
            .copied())
    }
}

impl LedgerView for MemoryState {
    fn contains_txid(&self, txid: &TxId) -> Result<bool, StateError> {
        Ok(self.txids.contains(txid))
    }
}
