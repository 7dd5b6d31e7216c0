//! The transient store: private write sets that arrived before their
//! transaction's block (the endorser's own copy, or pushed to it by an
//! endorser), by transaction id, with the height at which they arrived.
//!
//! Entries live for a few blocks, so the store is a map in memory backed by
//! an append-only log per channel (`channels/<name>/transient.log`) that is
//! replayed on open. Each record is `length (u32 LE) ‖ CRC-32 (u32 LE) ‖
//! postcard(Record)`; a torn or damaged tail (a crash in mid-append) ends
//! the replay and is cut off. The log is rewritten with only the live
//! entries when it grows past [`COMPACT_AT`] and on every open, so values
//! that left the store (committed, purged) are also erased from the log
//! within a bounded number of bytes of later traffic.
//!
//! What compaction erases, and what it does not: it replaces the log file
//! with a new one holding only live entries, so the removed values are no
//! longer in any file the peer can read. It does not overwrite the disk
//! blocks the old file used: the file system (journal, copy-on-write,
//! snapshots), an SSD's remapped pages, backups and the OS page cache may
//! keep them until they are reused. Where that matters, use an encrypted
//! file system or disk.
//!
//! Files: the log is created 0600 and every rewrite goes through
//! `cairn_crypto::private_file::write_atomic` (temporary file 0600, fsync,
//! rename, directory fsync); a log left readable by others is rewritten
//! 0600 on open.
//!
//! Invariants: an entry leaves the store when its block commits or when it
//! arrived below the retention height (both in [`TransientStore::cleanup`]);
//! no copy of a collection replaces or blocks another: a differing copy is
//! kept beside the first (an alternate), and commit takes the one whose
//! hashes the block carries. Only collections this peer's org is
//! a member of are ever stored (the callers check). The memory map and the
//! log change under one lock, so the log's order is the map's.
//!
//! Durability: every record is written to the file before its call returns,
//! so it survives a crash of the process. [`TransientStore::persist_durable`]
//! returns once its record is also on disk (`fdatasync`, as Fabric's
//! transient store syncs each write), since a pushed write set counts
//! towards requiredPeerCount. Concurrent callers share fsyncs (group
//! commit): whoever syncs covers every record written so far, and the
//! others find theirs covered. An endorser's own copy is written with
//! [`TransientStore::persist`], without an fsync; the next
//! [`TransientStore::cleanup`] (after every block) or
//! [`TransientStore::flush`] syncs it, so a crash of the machine may lose at
//! most the endorser's copies since the last block, which reconciliation
//! refetches from the peers it pushed to.

use std::collections::{BTreeSet, HashMap};
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use cairn_ledger::encoding::Canonical;
use cairn_ledger::ids::TxId;
use cairn_ledger::private::PrivateWriteSet;
use serde::{Deserialize, Serialize};

/// The transient log's file name in a channel directory.
pub(crate) const TRANSIENT_FILE: &str = "transient.log";

/// The log is rewritten with the live entries once it holds this many bytes.
pub(crate) const COMPACT_AT: u64 = 8 << 20;

/// Records larger than this are damage, not data (a push is far smaller).
const MAX_RECORD: usize = 256 << 20;

/// Why the transient store failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransientError {
    /// Reading, writing or syncing the log failed (disk full, permissions, ...).
    #[error("transient store {}: {action}: {source}", path.display())]
    Io {
        /// The log file.
        path: PathBuf,
        /// What was being done.
        action: &'static str,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// Too many differing copies of a transaction's private data arrived.
    #[error(
        "transaction {txid} already has {max} differing copies of its private data here; no more are kept"
    )]
    Crowded {
        /// The transaction.
        txid: TxId,
        /// The bound.
        max: usize,
    },
    /// A record could not be encoded for the log.
    #[error("transient store: {0}")]
    Encoding(#[from] cairn_ledger::encoding::EncodingError),
}

/// One stored private write set.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Entry {
    /// The channel height when it first arrived.
    height: u64,
    /// The private writes (collections this peer's org is a member of).
    writes: PrivateWriteSet,
}

/// One log record. New variants go at the end (older logs keep decoding).
#[derive(Debug, Serialize, Deserialize)]
enum Record {
    /// The entry of `txid` is now this one (a first arrival or a merge).
    Put { txid: TxId, entry: Entry },
    /// These entries left the store.
    Remove { txids: Vec<TxId> },
    /// Another copy of collections `txid`'s entry holds with other
    /// contents: kept beside it, since only the block's hashes tell which
    /// copy is right.
    Alternate { txid: TxId, writes: PrivateWriteSet },
}

/// Most differing copies kept per transaction beside its entry.
const MAX_ALTERNATES: usize = 8;

/// The live entries.
#[derive(Default)]
struct Mem {
    entries: HashMap<TxId, Entry>,
    alternates: HashMap<TxId, Vec<PrivateWriteSet>>,
    by_height: BTreeSet<(u64, TxId)>,
}

impl Mem {
    fn put(&mut self, txid: TxId, entry: Entry) {
        if let Some(old) = self.entries.insert(txid, entry.clone()) {
            self.by_height.remove(&(old.height, txid));
        }
        self.by_height.insert((entry.height, txid));
    }

    fn remove(&mut self, txid: &TxId) -> bool {
        self.alternates.remove(txid);
        match self.entries.remove(txid) {
            Some(old) => {
                self.by_height.remove(&(old.height, *txid));
                true
            }
            None => false,
        }
    }
}

/// The log file.
struct Log {
    file: Arc<File>,
    /// Records appended so far (a sequence number for group commit).
    appended: u64,
    /// Bytes in the file.
    bytes: u64,
}

/// A channel's transient store.
pub(crate) struct TransientStore {
    path: PathBuf,
    mem: Mutex<Mem>,
    log: Mutex<Log>,
    /// Records known to be on disk; held while syncing more.
    synced: Mutex<u64>,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every holder leaves the data consistent before anything can panic
    // (appends and map updates are single steps), so a poisoned lock is usable.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn frame(record: &Record, out: &mut Vec<u8>) -> Result<(), TransientError> {
    let body = record.encode()?;
    // Bodies are bounded by MAX_RECORD on replay; a push is far below u32.
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
    out.extend_from_slice(&body);
    Ok(())
}

/// The records of a log image, up to the first torn or damaged one.
/// Returns them and the length of the valid prefix.
fn parse(bytes: &[u8]) -> (Vec<Record>, usize) {
    let (mut out, mut at) = (Vec::new(), 0usize);
    while let Some(header) = bytes.get(at..at + 8) {
        let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        if len > MAX_RECORD {
            break;
        }
        let Some(body) = bytes.get(at + 8..at + 8 + len) else {
            break;
        };
        if crc32fast::hash(body) != crc {
            break;
        }
        let Ok(record) = Record::decode(body) else {
            break;
        };
        out.push(record);
        at += 8 + len;
    }
    (out, at)
}

impl TransientStore {
    /// Opens (or creates) the store in a channel directory: replays the log,
    /// cuts off a torn tail and rewrites it with the live entries only.
    pub(crate) fn open(channel_dir: &Path) -> Result<TransientStore, TransientError> {
        let path = channel_dir.join(TRANSIENT_FILE);
        let io = |action| {
            let path = path.clone();
            move |source| TransientError::Io {
                path,
                action,
                source,
            }
        };
        let mut image = Vec::new();
        match File::open(&path) {
            Ok(mut f) => {
                f.read_to_end(&mut image).map_err(io("read"))?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io("open")(e)),
        }
        let (records, valid) = parse(&image);
        if valid < image.len() {
            tracing::warn!(
                path = %path.display(),
                kept = valid,
                dropped = image.len() - valid,
                "transient log ends in a torn or damaged record (a crash while writing); it is cut off"
            );
        }
        let mut mem = Mem::default();
        for r in records {
            match r {
                Record::Put { txid, entry } => mem.put(txid, entry),
                Record::Alternate { txid, writes } => {
                    if mem.entries.contains_key(&txid) {
                        mem.alternates.entry(txid).or_default().push(writes);
                    }
                }
                Record::Remove { txids } => {
                    for t in &txids {
                        mem.remove(t);
                    }
                }
            }
        }
        let (file, bytes) = write_compacted(&path, &mem)?;
        Ok(TransientStore {
            path,
            mem: Mutex::new(mem),
            log: Mutex::new(Log {
                file,
                appended: 0,
                bytes,
            }),
            synced: Mutex::new(0),
        })
    }

    fn io(&self, action: &'static str) -> impl Fn(std::io::Error) -> TransientError {
        let path = self.path.clone();
        move |source| TransientError::Io {
            path: path.clone(),
            action,
            source,
        }
    }

    /// Writes `record` to the log file (the page cache: it survives a crash
    /// of this process, and a sync makes it survive the machine's); returns
    /// its sequence number. Called with the memory lock held.
    fn append(&self, record: &Record) -> Result<u64, TransientError> {
        let mut buf = Vec::new();
        frame(record, &mut buf)?;
        let mut log = lock(&self.log);
        if let Err(e) = (&*log.file).write_all(&buf) {
            // Cut off a partial record, so that later ones stay readable.
            let _ = log.file.set_len(log.bytes);
            return Err(self.io("append")(e));
        }
        log.bytes += buf.len() as u64;
        log.appended += 1;
        Ok(log.appended)
    }

    /// Keeps `writes` for `txid`, arrived at `height`. A second delivery for
    /// the same transaction adds the collections not held yet to the entry;
    /// a collection held with other contents is kept as an alternate copy
    /// (at most [`MAX_ALTERNATES`]), so no early copy can block the right
    /// one: commit takes the copy that matches the block's hashes.
    pub(crate) fn persist(
        &self,
        txid: &TxId,
        height: u64,
        writes: &PrivateWriteSet,
    ) -> Result<(), TransientError> {
        self.write(txid, height, writes).map(|_| ())
    }

    /// [`TransientStore::persist`], durable when it returns (one fsync,
    /// shared with concurrent callers).
    pub(crate) fn persist_durable(
        &self,
        txid: &TxId,
        height: u64,
        writes: &PrivateWriteSet,
    ) -> Result<(), TransientError> {
        match self.write(txid, height, writes)? {
            Some(seq) => self.sync_to(seq),
            None => Ok(()),
        }
    }

    fn write(
        &self,
        txid: &TxId,
        height: u64,
        writes: &PrivateWriteSet,
    ) -> Result<Option<u64>, TransientError> {
        if writes.is_empty() {
            return Ok(None);
        }
        let mut mem = lock(&self.mem);
        let entry = match mem.entries.get(txid) {
            None => Entry {
                height,
                writes: writes.clone(),
            },
            Some(existing) => {
                let mut entry = existing.clone();
                let mut added = false;
                let mut other = PrivateWriteSet::default();
                let alternates = mem.alternates.get(txid);
                for (ns, coll) in writes.collections() {
                    match entry.writes.collection(ns, &coll.collection) {
                        None => {
                            for write in &coll.writes {
                                entry.writes.insert(ns, &coll.collection, write.clone());
                            }
                            added = true;
                        }
                        Some(held) if held == coll => {}
                        Some(_) => {
                            let known = alternates.is_some_and(|alts| {
                                alts.iter()
                                    .any(|a| a.collection(ns, &coll.collection) == Some(coll))
                            });
                            if !known {
                                for write in &coll.writes {
                                    other.insert(ns, &coll.collection, write.clone());
                                }
                            }
                        }
                    }
                }
                let mut seq = None;
                if !other.is_empty() {
                    if alternates.map_or(0, Vec::len) >= MAX_ALTERNATES {
                        return Err(TransientError::Crowded {
                            txid: *txid,
                            max: MAX_ALTERNATES,
                        });
                    }
                    seq = Some(self.append(&Record::Alternate {
                        txid: *txid,
                        writes: other.clone(),
                    })?);
                    mem.alternates.entry(*txid).or_default().push(other);
                }
                if !added {
                    // Nothing new for the entry; a durable caller still
                    // waits for what is held.
                    return Ok(Some(seq.unwrap_or(lock(&self.log).appended)));
                }
                entry
            }
        };
        let seq = self.append(&Record::Put {
            txid: *txid,
            entry: entry.clone(),
        })?;
        mem.put(*txid, entry);
        Ok(Some(seq))
    }

    /// Makes every record up to `seq` durable. One caller at a time syncs
    /// everything appended so far; the ones that waited meanwhile usually
    /// find their records covered.
    fn sync_to(&self, seq: u64) -> Result<(), TransientError> {
        let mut synced = lock(&self.synced);
        if *synced >= seq {
            return Ok(());
        }
        let (file, upto) = {
            let log = lock(&self.log);
            (log.file.clone(), log.appended)
        };
        // Appends go on while the disk syncs.
        file.sync_data().map_err(self.io("sync"))?;
        cairn_counters::inc(cairn_counters::Counter::FileSync);
        *synced = upto;
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

    /// The private writes held for any of `txids` (the entries only).
    #[cfg(test)]
    pub(crate) fn lookup(
        &self,
        txids: &[TxId],
    ) -> Result<Vec<(TxId, PrivateWriteSet)>, TransientError> {
        Ok(self
            .lookup_copies(txids)?
            .into_iter()
            .filter_map(|(t, mut copies)| Some((t, copies.drain(..).next()?)))
            .collect())
    }

    /// Every copy held for any of `txids`: the entry first, then the
    /// alternates (collections that arrived with other contents).
    pub(crate) fn lookup_copies(
        &self,
        txids: &[TxId],
    ) -> Result<Vec<(TxId, Vec<PrivateWriteSet>)>, TransientError> {
        let mem = lock(&self.mem);
        Ok(txids
            .iter()
            .filter_map(|t| {
                let entry = mem.entries.get(t)?;
                let mut copies = vec![entry.writes.clone()];
                copies.extend(mem.alternates.get(t).into_iter().flatten().cloned());
                Some((*t, copies))
            })
            .collect())
    }

    /// After a commit: removes the entries of `committed` transactions and
    /// purges every entry that arrived below `purge_below`. Returns how many
    /// of each. Then makes the log durable (one fsync shared with pushes),
    /// and rewrites it when it grew past [`COMPACT_AT`].
    pub(crate) fn cleanup(
        &self,
        committed: &[TxId],
        purge_below: u64,
    ) -> Result<(usize, usize), TransientError> {
        let (removed, purged, seq, compact) = {
            let mut mem = lock(&self.mem);
            let mut gone = Vec::new();
            for t in committed {
                if mem.remove(t) {
                    gone.push(*t);
                }
            }
            let removed = gone.len();
            let due: Vec<TxId> = mem
                .by_height
                .range(..(purge_below, TxId(cairn_crypto::Digest::from([0; 32]))))
                .map(|(_, t)| *t)
                .collect();
            for t in &due {
                mem.remove(t);
            }
            let purged = due.len();
            gone.extend(due);
            let seq = if gone.is_empty() {
                lock(&self.log).appended
            } else {
                self.append(&Record::Remove { txids: gone })?
            };
            let compact = lock(&self.log).bytes >= COMPACT_AT;
            (removed, purged, seq, compact)
        };
        self.sync_to(seq)?;
        if compact {
            self.compact()?;
        }
        Ok((removed, purged))
    }

    /// Rewrites the log with the live entries only (erasing what left).
    fn compact(&self) -> Result<(), TransientError> {
        let mem = lock(&self.mem);
        let mut log = lock(&self.log);
        let (file, bytes) = write_compacted(&self.path, &mem)?;
        // Everything appended so far is in the map, hence in the new file.
        log.file = file;
        log.bytes = bytes;
        let appended = log.appended;
        drop(log);
        drop(mem);
        let mut synced = lock(&self.synced);
        *synced = (*synced).max(appended);
        Ok(())
    }

    /// Makes every earlier write durable (one fsync) if one was not.
    pub(crate) fn flush(&self) -> Result<(), TransientError> {
        let seq = lock(&self.log).appended;
        self.sync_to(seq)
    }

    /// How many transactions have private data here.
    pub(crate) fn len(&self) -> Result<u64, TransientError> {
        Ok(lock(&self.mem).entries.len() as u64)
    }
}

/// Writes the live entries to a new log beside `path` (mode 0600), syncs it
/// and moves it over `path`; returns the new log opened for appending and
/// its size.
fn write_compacted(path: &Path, mem: &Mem) -> Result<(Arc<File>, u64), TransientError> {
    let mut image = Vec::new();
    for (_, txid) in &mem.by_height {
        if let Some(entry) = mem.entries.get(txid) {
            frame(
                &Record::Put {
                    txid: *txid,
                    entry: entry.clone(),
                },
                &mut image,
            )?;
            for writes in mem.alternates.get(txid).into_iter().flatten() {
                frame(
                    &Record::Alternate {
                        txid: *txid,
                        writes: writes.clone(),
                    },
                    &mut image,
                )?;
            }
        }
    }
    // One helper writes every private file: 0600 from its creation,
    // temporary file, fsync, rename, directory fsync.
    let private = |e: cairn_crypto::PrivateFileError| TransientError::Io {
        path: e.path,
        action: e.action,
        source: e.source,
    };
    cairn_crypto::private_file::write_atomic(path, &image).map_err(private)?;
    let file = cairn_crypto::private_file::open_append(path).map_err(private)?;
    Ok((Arc::new(file), image.len() as u64))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod model_tests;

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

    fn log_bytes(dir: &Path) -> Vec<u8> {
        std::fs::read(dir.join(TRANSIENT_FILE)).unwrap()
    }

    fn contains(hay: &[u8], needle: &[u8]) -> bool {
        hay.windows(needle.len()).any(|w| w == needle)
    }

    #[test]
    fn a_differing_copy_is_kept_beside_the_first_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let store = TransientStore::open(dir.path()).unwrap();
        // An early copy with other contents, then the right one.
        store
            .persist_durable(&txid(1), 5, &set("A", "k", b"bogus"))
            .unwrap();
        store
            .persist_durable(&txid(1), 5, &set("A", "k", b"right"))
            .unwrap();
        // The same contents again add nothing.
        store
            .persist_durable(&txid(1), 5, &set("A", "k", b"right"))
            .unwrap();
        let values = |store: &TransientStore| -> Vec<Vec<u8>> {
            let (_, copies) = store.lookup_copies(&[txid(1)]).unwrap().pop().unwrap();
            copies
                .iter()
                .map(|c| c.collection("cc", "A").unwrap().writes[0].value.clone())
                .collect()
        };
        assert_eq!(values(&store), [b"bogus".to_vec(), b"right".to_vec()]);
        drop(store);
        // Replayed, then compacted on open: both copies stay.
        let store = TransientStore::open(dir.path()).unwrap();
        assert_eq!(values(&store), [b"bogus".to_vec(), b"right".to_vec()]);
        // Bounded: past MAX_ALTERNATES differing copies, no more are kept.
        for n in 0..MAX_ALTERNATES - 1 {
            store
                .persist(&txid(1), 5, &set("A", "k", format!("v{n}").as_bytes()))
                .unwrap();
        }
        let e = store
            .persist(&txid(1), 5, &set("A", "k", b"one more"))
            .unwrap_err();
        assert!(matches!(e, TransientError::Crowded { .. }), "{e}");
        // Commit removes every copy, and they are gone after a reopen.
        store.cleanup(&[txid(1)], 0).unwrap();
        drop(store);
        let store = TransientStore::open(dir.path()).unwrap();
        assert!(store.lookup_copies(&[txid(1)]).unwrap().is_empty());
        assert!(!contains(&log_bytes(dir.path()), b"bogus"));
    }

    #[test]
    fn keeps_merges_removes_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let store = TransientStore::open(dir.path()).unwrap();
        store.persist(&txid(1), 5, &set("A", "k", b"1")).unwrap();
        // A second copy of A does not replace the first; B is added.
        store.persist(&txid(1), 6, &set("A", "k", b"2")).unwrap();
        store
            .persist_durable(&txid(1), 6, &set("B", "k", b"3"))
            .unwrap();
        store.persist(&txid(2), 7, &set("A", "x", b"4")).unwrap();
        store.flush().unwrap();
        drop(store);
        let store = TransientStore::open(dir.path()).unwrap();
        let got = store.get(&txid(1)).unwrap().unwrap();
        assert_eq!(got.collection("cc", "A").unwrap().writes[0].value, b"1");
        assert_eq!(got.collection("cc", "B").unwrap().writes[0].value, b"3");
        assert_eq!(store.len().unwrap(), 2);
        assert_eq!(store.cleanup(&[txid(1), txid(9)], 0).unwrap(), (1, 0));
        assert!(store.get(&txid(1)).unwrap().is_none());
        assert_eq!(store.len().unwrap(), 1);
        // The removal is durable too.
        drop(store);
        let store = TransientStore::open(dir.path()).unwrap();
        assert!(store.get(&txid(1)).unwrap().is_none());
        assert!(store.get(&txid(2)).unwrap().is_some());
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

    #[test]
    fn writes_are_in_the_file_when_they_return() {
        let dir = tempfile::tempdir().unwrap();
        let store = TransientStore::open(dir.path()).unwrap();
        store
            .persist_durable(&txid(1), 1, &set("A", "k", b"pushed-value"))
            .unwrap();
        // Read the file while the store is open: no flush, no drop. (Whether
        // it was also synced cannot be seen from here.)
        assert!(contains(&log_bytes(dir.path()), b"pushed-value"));
        store
            .persist(&txid(2), 1, &set("A", "k", b"own-copy"))
            .unwrap();
        assert!(contains(&log_bytes(dir.path()), b"own-copy"));
        // A process that dies without flushing leaves both behind.
        std::mem::forget(store);
        let store = TransientStore::open(dir.path()).unwrap();
        assert_eq!(store.len().unwrap(), 2);
    }

    #[test]
    fn a_torn_tail_is_cut_off_and_the_rest_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let store = TransientStore::open(dir.path()).unwrap();
        store
            .persist_durable(&txid(1), 1, &set("A", "k", b"first"))
            .unwrap();
        store
            .persist_durable(&txid(2), 1, &set("A", "k", b"second"))
            .unwrap();
        drop(store);
        let path = dir.path().join(TRANSIENT_FILE);
        let full = std::fs::read(&path).unwrap();
        // A crash in mid-append: the second record lost its last bytes.
        std::fs::write(&path, &full[..full.len() - 3]).unwrap();
        let store = TransientStore::open(dir.path()).unwrap();
        assert!(store.get(&txid(1)).unwrap().is_some());
        assert!(store.get(&txid(2)).unwrap().is_none());
        // A flipped byte in the first record's body ends the replay there.
        drop(store);
        let mut bytes = std::fs::read(&path).unwrap();
        let at = bytes.len() - 2;
        bytes[at] ^= 0xff;
        std::fs::write(&path, &bytes).unwrap();
        let store = TransientStore::open(dir.path()).unwrap();
        assert_eq!(store.len().unwrap(), 0);
    }

    #[test]
    fn compaction_erases_values_that_left() {
        let dir = tempfile::tempdir().unwrap();
        let store = TransientStore::open(dir.path()).unwrap();
        store
            .persist_durable(&txid(1), 1, &set("A", "k", b"committed-secret"))
            .unwrap();
        store
            .persist_durable(&txid(2), 1, &set("A", "k", b"still-waiting"))
            .unwrap();
        store.cleanup(&[txid(1)], 0).unwrap();
        // Until compaction, the log still holds the removed value.
        assert!(contains(&log_bytes(dir.path()), b"committed-secret"));
        store.compact().unwrap();
        let bytes = log_bytes(dir.path());
        assert!(!contains(&bytes, b"committed-secret"));
        assert!(contains(&bytes, b"still-waiting"));
        // Appends after compaction go to the new file and survive reopen.
        store
            .persist_durable(&txid(3), 2, &set("A", "k", b"after"))
            .unwrap();
        drop(store);
        let store = TransientStore::open(dir.path()).unwrap();
        assert!(store.get(&txid(2)).unwrap().is_some());
        assert!(store.get(&txid(3)).unwrap().is_some());
        assert!(store.get(&txid(1)).unwrap().is_none());
    }

    #[cfg(unix)]
    #[test]
    fn the_log_is_owner_only_from_open_through_compaction() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(TRANSIENT_FILE);
        let store = TransientStore::open(dir.path()).unwrap();
        assert_eq!(mode(&path), 0o600);
        store
            .persist_durable(&txid(1), 1, &set("A", "k", b"v"))
            .unwrap();
        drop(store);
        // A log left readable by others (an older version) is rewritten 0600 on open.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(
            mode(&path),
            0o644,
            "the control: the log was readable by others"
        );
        let store = TransientStore::open(dir.path()).unwrap();
        assert_eq!(mode(&path), 0o600);
        store.compact().unwrap();
        assert_eq!(mode(&path), 0o600);
        assert!(store.get(&txid(1)).unwrap().is_some());
        // Nothing but the log is left in the directory (no temporary files).
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, [std::ffi::OsString::from(TRANSIENT_FILE)]);
    }

    #[test]
    fn concurrent_durable_writes_share_syncs_and_all_survive() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(TransientStore::open(dir.path()).unwrap());
        let threads: Vec<_> = (0..8u8)
            .map(|t| {
                let store = store.clone();
                std::thread::spawn(move || {
                    for i in 0..25u8 {
                        let id = TxId(Digest::from([t * 32 + i; 32]));
                        store
                            .persist_durable(&id, 1, &set("A", "k", &[t, i]))
                            .unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        drop(store);
        let store = TransientStore::open(dir.path()).unwrap();
        assert_eq!(store.len().unwrap(), 200);
    }
}
