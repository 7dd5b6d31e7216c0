//! The transient store: private write sets that arrived before their
//! transaction's block (the endorser's own copy, or pushed to it by an
//! endorser), by transaction id, with the height at which they arrived.
//! One redb database per channel (`channels/<name>/transient.redb`), so it
//! survives restarts.
//!
//! | table | key | value |
//! |---|---|---|
//! | `transient` | txid (32 bytes) | encoded [`Entry`] |
//! | `transient_by_height` | arrival height (8, BE) ‖ txid | empty |
//!
//! Invariants: every `transient` row has exactly one `transient_by_height`
//! row (its first arrival height); an entry leaves the store when its
//! block commits or when it is older than the retention (both in
//! [`TransientStore::cleanup`]). Only collections this
//! peer's org is a member of are ever stored (the callers check).
//!
//! Durability: a pushed write set is written with
//! [`TransientStore::persist_durable`] (one fsync, as Fabric's transient
//! store syncs each write) before the peer acknowledges it, since it counts
//! towards requiredPeerCount. An endorser's own copy is written with
//! [`TransientStore::persist`], without an fsync; the next
//! [`TransientStore::cleanup`] (after every block) or
//! [`TransientStore::flush`] makes it durable, so a crash may lose at most
//! the endorser's copies since the last block, which reconciliation
//! refetches from the peers it pushed to.

use std::path::{Path, PathBuf};

use cairn_ledger::encoding::Canonical;
use cairn_ledger::ids::TxId;
use cairn_ledger::private::PrivateWriteSet;
use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use serde::{Deserialize, Serialize};

/// The transient database's file name in a channel directory.
pub(crate) const TRANSIENT_FILE: &str = "transient.redb";

const ENTRIES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("transient");
const BY_HEIGHT: TableDefinition<&[u8], ()> = TableDefinition::new("transient_by_height");

/// Why the transient store failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransientError {
    /// An entry does not decode: the file was damaged or written by another program.
    #[error("transient store {}: corrupt entry: {reason}", path.display())]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// What does not decode.
        reason: String,
    },
    /// redb failed (disk full, file locked by another process, ...).
    #[error("transient store {}: {action}: {source}", path.display())]
    Database {
        /// The database file.
        path: PathBuf,
        /// What was being done.
        action: &'static str,
        /// redb's error (boxed: it is large).
        #[source]
        source: Box<redb::Error>,
    },
}

/// One stored private write set.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Entry {
    /// The channel height when it first arrived.
    height: u64,
    /// The private writes (collections this peer's org is a member of).
    writes: PrivateWriteSet,
}

/// A channel's transient store.
pub(crate) struct TransientStore {
    db: Database,
    path: PathBuf,
    /// Writes committed so far.
    written: std::sync::atomic::AtomicU64,
    /// How many of them are known durable; held while making more durable.
    durable: std::sync::Mutex<u64>,
}

impl TransientStore {
    /// Opens (or creates) the store in a channel directory.
    pub(crate) fn open(channel_dir: &Path) -> Result<TransientStore, TransientError> {
        let path = channel_dir.join(TRANSIENT_FILE);
        let db = Database::create(&path).map_err(|e| TransientError::Database {
            path: path.clone(),
            action: "open",
            source: Box::new(e.into()),
        })?;
        let store = TransientStore {
            db,
            path,
            written: std::sync::atomic::AtomicU64::new(0),
            durable: std::sync::Mutex::new(0),
        };
        // Create the tables so that reads of an empty store succeed.
        let w = store.begin_write()?;
        {
            w.open_table(ENTRIES).map_err(store.err("open table"))?;
            w.open_table(BY_HEIGHT).map_err(store.err("open table"))?;
        }
        w.commit().map_err(store.err("commit"))?;
        Ok(store)
    }

    fn err<E: Into<redb::Error>>(&self, action: &'static str) -> impl Fn(E) -> TransientError {
        let path = self.path.clone();
        move |e| TransientError::Database {
            path: path.clone(),
            action,
            source: Box::new(e.into()),
        }
    }

    fn begin_write(&self) -> Result<redb::WriteTransaction, TransientError> {
        self.db.begin_write().map_err(self.err("begin write"))
    }

    fn decode(&self, bytes: &[u8]) -> Result<Entry, TransientError> {
        Entry::decode(bytes).map_err(|e| TransientError::Corrupt {
            path: self.path.clone(),
            reason: e.to_string(),
        })
    }

    /// Keeps `writes` for `txid`, arrived at `height`. A second delivery for
    /// the same transaction adds only collections not held yet (the first
    /// copy of a collection wins; commit checks it against the hashes).
    pub(crate) fn persist(
        &self,
        txid: &TxId,
        height: u64,
        writes: &PrivateWriteSet,
    ) -> Result<(), TransientError> {
        self.write(txid, height, writes, redb::Durability::None)
    }

    /// [`TransientStore::persist`], durable when it returns (one fsync, as
    /// Fabric's transient store syncs each write).
    pub(crate) fn persist_durable(
        &self,
        txid: &TxId,
        height: u64,
        writes: &PrivateWriteSet,
    ) -> Result<(), TransientError> {
        let mut durable = self.lock_durable();
        let covers = self.written.load(std::sync::atomic::Ordering::Acquire);
        self.write(txid, height, writes, redb::Durability::Immediate)?;
        // Every write counted before this one began is durable with it.
        *durable = (*durable).max(covers);
        Ok(())
    }

    fn write(
        &self,
        txid: &TxId,
        height: u64,
        writes: &PrivateWriteSet,
        durability: redb::Durability,
    ) -> Result<(), TransientError> {
        if writes.is_empty() {
            return Ok(());
        }
        let key = txid.0.as_ref();
        let mut w = self.begin_write()?;
        w.set_durability(durability)
            .map_err(self.err("set durability"))?;
        {
            let mut entries = w.open_table(ENTRIES).map_err(self.err("open table"))?;
            let existing = entries
                .get(key)
                .map_err(self.err("read"))?
                .map(|v| self.decode(v.value()))
                .transpose()?;
            let entry = match existing {
                None => {
                    let mut by_height = w.open_table(BY_HEIGHT).map_err(self.err("open table"))?;
                    by_height
                        .insert(height_key(height, txid).as_slice(), ())
                        .map_err(self.err("write"))?;
                    Entry {
                        height,
                        writes: writes.clone(),
                    }
                }
                Some(mut entry) => {
                    for (ns, coll) in writes.collections() {
                        if entry.writes.collection(ns, &coll.collection).is_none() {
                            for write in &coll.writes {
                                entry.writes.insert(ns, &coll.collection, write.clone());
                            }
                        }
                    }
                    entry
                }
            };
            entries
                .insert(key, entry.encode().as_slice())
                .map_err(self.err("write"))?;
        }
        w.commit().map_err(self.err("commit"))?;
        self.written
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        Ok(())
    }

    /// The private writes held for `txid`.
    #[cfg(test)]
    pub(crate) fn get(&self, txid: &TxId) -> Result<Option<PrivateWriteSet>, TransientError> {
        Ok(self
            .lookup(std::slice::from_ref(txid))?
            .pop()
            .map(|(_, w)| w))
    }

    /// The private writes held for any of `txids` (one read transaction).
    pub(crate) fn lookup(
        &self,
        txids: &[TxId],
    ) -> Result<Vec<(TxId, PrivateWriteSet)>, TransientError> {
        let r = self.db.begin_read().map_err(self.err("begin read"))?;
        let entries = r.open_table(ENTRIES).map_err(self.err("open table"))?;
        let mut out = Vec::new();
        for txid in txids {
            if let Some(v) = entries.get(txid.0.as_ref()).map_err(self.err("read"))? {
                out.push((*txid, self.decode(v.value())?.writes));
            }
        }
        Ok(out)
    }

    /// After a commit: removes the entries of `committed` transactions and
    /// purges every entry that arrived below `purge_below`. Returns how many
    /// of each. Writes (and syncs) only when there is something to remove,
    /// so blocks without private data cost one read.
    pub(crate) fn cleanup(
        &self,
        committed: &[TxId],
        purge_below: u64,
    ) -> Result<(usize, usize), TransientError> {
        let hi = purge_below.to_be_bytes();
        let due: Vec<Vec<u8>> = {
            let r = self.db.begin_read().map_err(self.err("begin read"))?;
            let by_height = r.open_table(BY_HEIGHT).map_err(self.err("open table"))?;
            by_height
                .range(..hi.as_slice())
                .map_err(self.err("read"))?
                .map(|r| r.map(|(k, _)| k.value().to_vec()))
                .collect::<Result<_, _>>()
                .map_err(self.err("read"))?
        };
        if committed.is_empty() && due.is_empty() {
            self.flush()?;
            return Ok((0, 0));
        }
        let mut durable = self.lock_durable();
        let covers = self.written.load(std::sync::atomic::Ordering::Acquire);
        let w = self.begin_write()?;
        let (mut removed, mut purged) = (0, 0);
        {
            let mut entries = w.open_table(ENTRIES).map_err(self.err("open table"))?;
            let mut by_height = w.open_table(BY_HEIGHT).map_err(self.err("open table"))?;
            for txid in committed {
                let old = entries
                    .remove(txid.0.as_ref())
                    .map_err(self.err("write"))?
                    .map(|v| self.decode(v.value()))
                    .transpose()?;
                if let Some(entry) = old {
                    by_height
                        .remove(height_key(entry.height, txid).as_slice())
                        .map_err(self.err("write"))?;
                    removed += 1;
                }
            }
            for k in due {
                if by_height
                    .remove(k.as_slice())
                    .map_err(self.err("write"))?
                    .is_none()
                {
                    // Removed above: its transaction committed.
                    continue;
                }
                if let Some(txid) = k.get(8..) {
                    entries.remove(txid).map_err(self.err("write"))?;
                }
                purged += 1;
            }
        }
        w.commit().map_err(self.err("commit"))?;
        *durable = (*durable).max(covers);
        Ok((removed, purged))
    }

    /// Makes every earlier write durable (one fsync) if one was not.
    pub(crate) fn flush(&self) -> Result<(), TransientError> {
        let mut durable = self.lock_durable();
        let covers = self.written.load(std::sync::atomic::Ordering::Acquire);
        if *durable >= covers {
            return Ok(());
        }
        let w = self.begin_write()?;
        w.commit().map_err(self.err("commit"))?;
        *durable = covers;
        Ok(())
    }

    fn lock_durable(&self) -> std::sync::MutexGuard<'_, u64> {
        // A plain counter: a panic elsewhere cannot leave it half-updated.
        self.durable.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How many transactions have private data here.
    pub(crate) fn len(&self) -> Result<u64, TransientError> {
        let r = self.db.begin_read().map_err(self.err("begin read"))?;
        let entries = r.open_table(ENTRIES).map_err(self.err("open table"))?;
        entries.len().map_err(self.err("read"))
    }
}

fn height_key(height: u64, txid: &TxId) -> Vec<u8> {
    let mut k = Vec::with_capacity(40);
    k.extend_from_slice(&height.to_be_bytes());
    k.extend_from_slice(txid.0.as_ref());
    k
}

#[cfg(test)]
mod tests {
    use cairn_crypto::Digest;
    use cairn_ledger::private::PrivateWrite;

    use super::*;

    fn put(key: &str, value: &[u8]) -> PrivateWrite {
        PrivateWrite {
            key: key.into(),
            is_delete: false,
            is_purge: false,
            value: value.to_vec(),
        }
    }

    fn txid(n: u8) -> TxId {
        TxId(Digest::from([n; 32]))
    }

    fn set(coll: &str, key: &str, value: &[u8]) -> PrivateWriteSet {
        let mut s = PrivateWriteSet::default();
        s.insert("cc", coll, put(key, value));
        s
    }

    #[test]
    fn keeps_merges_removes_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let store = TransientStore::open(dir.path()).unwrap();
        store.persist(&txid(1), 5, &set("A", "k", b"1")).unwrap();
        // A second copy of A does not replace the first; B is added.
        store.persist(&txid(1), 6, &set("A", "k", b"2")).unwrap();
        store.persist(&txid(1), 6, &set("B", "k", b"3")).unwrap();
        store.persist(&txid(2), 7, &set("A", "x", b"4")).unwrap();
        drop(store);
        let store = TransientStore::open(dir.path()).unwrap();
        let got = store.get(&txid(1)).unwrap().unwrap();
        assert_eq!(got.collection("cc", "A").unwrap().writes[0].value, b"1");
        assert_eq!(got.collection("cc", "B").unwrap().writes[0].value, b"3");
        assert_eq!(store.len().unwrap(), 2);
        assert_eq!(store.cleanup(&[txid(1), txid(9)], 0).unwrap(), (1, 0));
        assert!(store.get(&txid(1)).unwrap().is_none());
        assert_eq!(store.len().unwrap(), 1);
    }

    #[test]
    fn purges_by_arrival_height() {
        let dir = tempfile::tempdir().unwrap();
        let store = TransientStore::open(dir.path()).unwrap();
        store.persist(&txid(1), 3, &set("A", "k", b"1")).unwrap();
        store.persist(&txid(2), 4, &set("A", "k", b"1")).unwrap();
        store.persist(&txid(3), 9, &set("A", "k", b"1")).unwrap();
        // Merging later keeps the first arrival height.
        store.persist(&txid(1), 20, &set("B", "k", b"1")).unwrap();
        // txid 2 committed; txid 1 and 4 are purged.
        store.persist(&txid(4), 2, &set("A", "k", b"1")).unwrap();
        assert_eq!(store.cleanup(&[txid(2)], 5).unwrap(), (1, 2));
        assert!(store.get(&txid(1)).unwrap().is_none());
        assert!(store.get(&txid(2)).unwrap().is_none());
        assert!(store.get(&txid(3)).unwrap().is_some());
        assert_eq!(store.cleanup(&[], 5).unwrap(), (0, 0));
        assert_eq!(store.lookup(&[txid(1), txid(3)]).unwrap().len(), 1);
        // Empty sets are not stored.
        store
            .persist(&txid(5), 9, &PrivateWriteSet::default())
            .unwrap();
        assert!(store.get(&txid(5)).unwrap().is_none());
    }
}
