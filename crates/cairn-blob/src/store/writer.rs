//! Writing and reading the metadata database.
//!
//! Every change goes through [`Store::write`] (one transaction, durable when
//! it commits) or [`Store::write_logged`] (a new version: durable once its
//! record is in the write-ahead log, committed to the database in batches of
//! up to [`BATCH`]); every read goes through [`Store::read`], which first
//! commits a pending batch, so a reader sees every acknowledged write.
//!
//! Batching matters because a redb commit costs the same whether it carries
//! one small version or thirty: most of it is copying and checksumming the
//! pages on each changed tree path.
//!
//! Invariants:
//! - one writer at a time, under `files`, in the log's order;
//! - a pending batch is one open transaction carrying only logged versions,
//!   numbered consecutively; their records are kept beside it, so when a
//!   later change fails inside that transaction, the transaction is dropped
//!   and the batch applied again by the replay code of opening — a failed
//!   change is never committed half-done and never takes a logged one along;
//! - a durable commit (any [`Store::write`], and a logged write when the
//!   log's round is full) carries every logged version before it, so the log
//!   starts a new round;
//! - `pending` (the flag readers check without the lock) is true from the
//!   moment a batch exists until it has committed, so a reader that sees
//!   false has no acknowledged version to wait for;
//! - after an I/O error on the log, or a commit that fails after its record
//!   is logged, the store drops the pending batch and takes no more writes
//!   and no more reads (they would miss logged versions) until it is opened
//!   again, which replays the log.

use std::sync::MutexGuard;
use std::sync::atomic::Ordering;

use redb::{Durability, ReadTransaction, ReadableDatabase, WriteTransaction};

use super::tables::{META, dberr};
use super::wal::{Record, Wal};
use super::{Store, logged};
use crate::error::StoreError;
use crate::worm::Now;

/// Logged versions per database commit at most.
pub(super) const BATCH: usize = 32;

/// What `files` guards: the log and the batch waiting to be committed.
pub(super) struct Writer {
    wal: Wal,
    pending: Option<Pending>,
}

/// An open transaction carrying logged versions, and their records.
struct Pending {
    w: WriteTransaction,
    records: Vec<Record>,
}

impl Writer {
    /// A writer with no pending batch.
    pub(super) fn new(wal: Wal) -> Writer {
        Writer { wal, pending: None }
    }
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer")
            .field("wal", &self.wal)
            .field(
                "pending",
                &self.pending.as_ref().map_or(0, |p| p.records.len()),
            )
            .finish()
    }
}

impl Store {
    /// The read transaction every read of the metadata starts with, after
    /// the pending batch (if any) is committed.
    pub(super) fn read(&self) -> Result<ReadTransaction, StoreError> {
        // `pending` is true from the moment a batch exists until it is
        // committed (and for good once the store halts), so a reader that
        // sees false has nothing acknowledged to wait for.
        if self.pending.load(Ordering::Acquire) {
            let mut wr = self.lock()?;
            self.commit_pending(&mut wr, "reading")?;
        }
        self.db
            .begin_read()
            .map_err(|e| StoreError::db("reading")(e.into()))
    }

    /// Runs `f` in one write transaction under `files`, persisting the clock's
    /// high-water mark with it; commits (durably) only if `f` succeeded.
    pub(super) fn write<T>(
        &self,
        action: &'static str,
        f: impl FnOnce(&WriteTransaction, Now) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.write_locked(action, f).map(|(out, _guard)| out)
    }

    /// [`Store::write`], returning with `files` still held.
    pub(super) fn write_locked<T>(
        &self,
        action: &'static str,
        f: impl FnOnce(&WriteTransaction, Now) -> Result<T, StoreError>,
    ) -> Result<(T, MutexGuard<'_, Writer>), StoreError> {
        let mut wr = self.lock()?;
        self.commit_pending(&mut wr, action)?;
        let now = self.clock.now();
        let w = self
            .db
            .begin_write()
            .map_err(|e| StoreError::db(action)(e.into()))?;
        let out = f(&w, now)?;
        {
            let mut meta = w.open_table(META).map_err(dberr(action))?;
            meta.insert("clock_hwm", self.clock.high_water().0)
                .map_err(dberr(action))?;
        }
        w.commit().map_err(|e| StoreError::db(action)(e.into()))?;
        // Durable, and so is every logged version before it: a new round.
        let next = wr.wal.next_seq();
        wr.wal.checkpointed(next);
        Ok((out, wr))
    }

    /// [`Store::write`] for a new version: `f` returns the result and its
    /// log record's tail ([`logged::tail`]); `f` runs in the pending batch's
    /// transaction. The change is acknowledged once its record is durable in
    /// the log; the batch commits (without an fsync) when full or when
    /// someone reads. When the log's round is full, the transaction commits
    /// durably instead (a checkpoint), without a record.
    pub(super) fn write_logged<T>(
        &self,
        action: &'static str,
        f: impl FnOnce(&WriteTransaction, Now) -> Result<(T, Vec<u8>), StoreError>,
    ) -> Result<T, StoreError> {
        let mut wr = self.lock()?;
        let now = self.clock.now();
        let (w, mut records) = match wr.pending.take() {
            Some(p) => (p.w, p.records),
            None => (
                self.db
                    .begin_write()
                    .map_err(|e| StoreError::db(action)(e.into()))?,
                Vec::new(),
            ),
        };
        let (out, tail) = match f(&w, now) {
            Ok(done) => done,
            Err(e) => {
                // Undo this change, keep the batch: drop the transaction and
                // apply the batch's records again.
                drop(w);
                if !records.is_empty() {
                    let again = self.reapply(&records).inspect_err(|_| self.halt(&mut wr))?;
                    wr.pending = Some(Pending { w: again, records });
                }
                return Err(e);
            }
        };
        let high_water = self.clock.high_water();
        let body = logged::body(high_water, &tail);
        let logged = wr.wal.fits(body.len());
        let marked = (|| {
            let mut meta = w.open_table(META).map_err(dberr(action))?;
            meta.insert("clock_hwm", high_water.0)
                .map_err(dberr(action))?;
            if logged {
                meta.insert("wal_applied", wr.wal.next_seq().cast_signed())
                    .map_err(dberr(action))?;
            }
            Ok::<_, StoreError>(())
        })();
        // From here on a failure leaves the transaction in an unknown state
        // with logged versions in it: stop writing until a reopen replays.
        marked.inspect_err(|_| self.halt(&mut wr))?;
        if !logged {
            w.commit()
                .map_err(|e| StoreError::db(action)(e.into()))
                .inspect_err(|_| self.halt(&mut wr))?;
            let next = wr.wal.next_seq();
            wr.wal.checkpointed(next);
            self.pending.store(false, Ordering::Release);
            return Ok(out);
        }
        // Readers must wait for this batch from now on, even if it is empty so far.
        self.pending.store(true, Ordering::Release);
        let seq = match wr.wal.append(&body) {
            Ok(seq) => seq,
            Err(e) => {
                self.halt(&mut wr);
                return Err(e);
            }
        };
        records.push(Record { seq, body });
        if records.len() >= BATCH {
            // On failure the record is durable but the database lacks it:
            // the caller sees an error for a version a reopen will show
            // (an I/O error's outcome is unknown, as anywhere).
            commit_batch(w, action).inspect_err(|_| self.halt(&mut wr))?;
            self.pending.store(false, Ordering::Release);
        } else {
            wr.pending = Some(Pending { w, records });
        }
        Ok(out)
    }

    /// Commits the pending batch, if any (no fsync: its versions are in the log).
    pub(super) fn commit_pending(
        &self,
        wr: &mut Writer,
        action: &'static str,
    ) -> Result<(), StoreError> {
        let Some(p) = wr.pending.take() else {
            return Ok(());
        };
        commit_batch(p.w, action).inspect_err(|_| self.halt(wr))?;
        // Only now: a reader that sees false must find the batch committed.
        self.pending.store(false, Ordering::Release);
        Ok(())
    }

    /// Stops the store after a failure that leaves the log and the database
    /// apart: no more writes, and no more reads (they would miss logged
    /// versions), until a reopen replays the log.
    fn halt(&self, wr: &mut Writer) {
        wr.wal.poison();
        wr.pending = None;
        self.pending.store(true, Ordering::Release);
    }

    /// A new transaction with `records` (a dropped batch) applied again.
    fn reapply(&self, records: &[Record]) -> Result<WriteTransaction, StoreError> {
        let w = self
            .db
            .begin_write()
            .map_err(|e| StoreError::db("applying a batch again")(e.into()))?;
        let before = records.first().map_or(0, |r| r.seq - 1);
        logged::replay(&w, records, before)?;
        Ok(w)
    }

    /// Takes `files` (and the log), refusing when a log write failed.
    fn lock(&self) -> Result<MutexGuard<'_, Writer>, StoreError> {
        let wr = self
            .files
            .lock()
            .map_err(|_| StoreError::Invalid("a writer panicked; restart the store".to_owned()))?;
        if wr.wal.poisoned() {
            return Err(StoreError::Halted);
        }
        Ok(wr)
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        // Closing is not a crash: make the pending batch visible to the next
        // opener without a replay (a failure here is repaired by the replay).
        if let Ok(mut wr) = self.files.lock() {
            let _ = self.commit_pending(&mut wr, "closing");
        }
    }
}

fn commit_batch(mut w: WriteTransaction, action: &'static str) -> Result<(), StoreError> {
    w.set_durability(Durability::None)
        .map_err(|e| StoreError::db(action)(e.into()))?;
    w.commit().map_err(|e| StoreError::db(action)(e.into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tables::next_version_id;
    use crate::{PutOptions, SystemClock};

    #[test]
    fn a_change_failing_after_it_wrote_leaves_no_trace_and_keeps_the_batch() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(tmp.path(), Box::new(SystemClock)).unwrap();
        store.create_bucket("batch", false, "test").unwrap();
        let mut ids: Vec<String> = (0..3)
            .map(|n| {
                store
                    .put("batch", &format!("k{n}"), b"body", PutOptions::default())
                    .unwrap()
                    .version_id
            })
            .collect();
        assert!(store.pending.load(Ordering::Acquire), "a batch is waiting");
        // Takes a version id (a write in the batch's transaction), then fails.
        let failed: Result<(), StoreError> = store.write_logged("testing", |w, _| {
            next_version_id(w)?;
            Err(StoreError::Invalid("failing after a write".to_owned()))
        });
        assert!(failed.is_err());
        ids.push(
            store
                .put("batch", "k3", b"body", PutOptions::default())
                .unwrap()
                .version_id,
        );
        // The failed change's write is gone (no gap in the ids), the batch's
        // versions are all there, each queued for anchoring once.
        let seqs: Vec<u64> = ids
            .iter()
            .map(|id| u64::from_str_radix(id, 16).unwrap())
            .collect();
        assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");
        for (n, id) in ids.iter().enumerate() {
            store.get("batch", &format!("k{n}"), Some(id)).unwrap();
        }
        let versions = store
            .anchor_backlog(100)
            .unwrap()
            .into_iter()
            .filter(|j| matches!(j.kind, super::super::AnchorKind::Version { .. }))
            .count();
        assert_eq!(versions, 4);
    }

    #[test]
    fn a_halted_store_refuses_reads_too() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(tmp.path(), Box::new(SystemClock)).unwrap();
        store.create_bucket("halt", false, "test").unwrap();
        store
            .put("halt", "k", b"body", PutOptions::default())
            .unwrap();
        // Positive control: readable before.
        store.get("halt", "k", None).unwrap();
        store
            .put("halt", "k2", b"more", PutOptions::default())
            .unwrap();
        // What a failed log write does.
        {
            let mut wr = store.lock().unwrap();
            store.halt(&mut wr);
        }
        for err in [
            store.get("halt", "k", None).map(|_| ()).unwrap_err(),
            store
                .put("halt", "k3", b"x", PutOptions::default())
                .map(|_| ())
                .unwrap_err(),
        ] {
            assert!(matches!(err, StoreError::Halted), "{err}");
        }
        // Reopening replays the log: the version the halted batch dropped is back.
        drop(store);
        let store = Store::open(tmp.path(), Box::new(SystemClock)).unwrap();
        assert_eq!(store.get("halt", "k2", None).unwrap().1, b"more");
    }
}
