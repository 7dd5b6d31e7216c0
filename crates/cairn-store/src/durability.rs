//! Deferred durability and the sidecar: what lets an orderer commit blocks
//! without an fsync each, because its Raft log already holds them durably,
//! and a peer, because the channel's orderers hold every block it commits.
//!
//! - A [`Durability::Deferred`] commit is written without an fsync. It
//!   becomes durable with the next [`Durability::Immediate`] commit or
//!   [`Ledger::sync`]; a crash before that (of the process or the machine)
//!   loses it, and the ledger reopens at its last durable commit, whole and
//!   consistent (redb recovers to that commit). An orderer re-applies the
//!   lost blocks from its Raft log; a peer fetches them again from the
//!   orderers (and keeps their private data in its transient store until
//!   they are durable).
//! - The sidecar table holds small values an owner commits together with
//!   blocks (the orderer: Raft's applied log id and membership), so that
//!   after any crash they describe exactly the blocks the ledger has. They
//!   are not derived from blocks, and [`crate::verify::verify_ledger`]
//!   ignores them.

use std::sync::atomic::Ordering;

use redb::{ReadableDatabase, WriteTransaction};

use crate::error::StoreError;
use crate::ledger::Ledger;
use crate::tables::SIDECAR;

/// How a commit reaches the disk.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Durability {
    /// On disk (fsynced) before the call returns.
    #[default]
    Immediate,
    /// Written without an fsync; durable with the next immediate commit or
    /// [`Ledger::sync`], lost in a crash before that.
    Deferred,
}

/// What a block commit writes besides the block, and how durably.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Durable<'a> {
    pub sidecar: &'a [(&'a str, Vec<u8>)],
    pub durability: Durability,
}

/// Writes sidecar values in `w`.
pub(crate) fn write_sidecar(
    w: &WriteTransaction,
    values: &[(&str, Vec<u8>)],
) -> Result<(), StoreError> {
    if values.is_empty() {
        return Ok(());
    }
    let mut t = w
        .open_table(SIDECAR)
        .map_err(|e| StoreError::db("open sidecar", e))?;
    for (k, v) in values {
        t.insert(*k, v.as_slice())
            .map_err(|e| StoreError::db("write sidecar", e))?;
    }
    Ok(())
}

impl Ledger {
    /// Commits `w` with `durability`, counting durable commits and
    /// remembering a deferred one for [`Ledger::sync`].
    pub(crate) fn commit_write(
        &self,
        mut w: WriteTransaction,
        durability: Durability,
    ) -> Result<(), StoreError> {
        // The flag changes while `w` holds redb's write lock, so no other
        // commit can come between the change and this commit: a durable
        // commit never clears the mark of a deferred one made after it.
        match durability {
            Durability::Deferred => {
                w.set_durability(redb::Durability::None)
                    .map_err(|e| StoreError::db("set durability", e))?;
                self.unsynced.store(true, Ordering::SeqCst);
                w.commit().map_err(|e| StoreError::db("commit", e))
            }
            Durability::Immediate => {
                let was = self.unsynced.swap(false, Ordering::SeqCst);
                let done = w.commit().map_err(|e| StoreError::db("commit", e));
                match &done {
                    Ok(()) => cairn_counters::inc(cairn_counters::Counter::DurableCommit),
                    // Not known to be on disk: the next sync must still run.
                    Err(_) => self.unsynced.store(was, Ordering::SeqCst),
                }
                done
            }
        }
    }

    /// Writes sidecar values in a transaction of their own (for a Raft
    /// entry that carries no block).
    pub fn write_sidecar(
        &self,
        values: &[(&str, Vec<u8>)],
        durability: Durability,
    ) -> Result<(), StoreError> {
        let db = self.db()?;
        let w = db
            .begin_write()
            .map_err(|e| StoreError::db("begin write", e))?;
        write_sidecar(&w, values)?;
        self.commit_write(w, durability)
    }

    /// A sidecar value, as last committed (see the module doc).
    pub fn sidecar(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let r = self
            .db()?
            .begin_read()
            .map_err(|e| StoreError::db("begin read", e))?;
        let t = match r.open_table(SIDECAR) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(StoreError::db("open sidecar", e)),
        };
        Ok(t.get(name)
            .map_err(|e| StoreError::db("read sidecar", e))?
            .map(|v| v.value().to_vec()))
    }

    /// Makes every deferred commit durable (one fsync), if there is one.
    pub fn sync(&self) -> Result<(), StoreError> {
        let db = self.db()?;
        // Taking the write lock first orders this after every commit that
        // has returned; the flag then says whether one of them deferred.
        let w = db
            .begin_write()
            .map_err(|e| StoreError::db("begin write", e))?;
        if !self.unsynced.load(Ordering::SeqCst) {
            return w.abort().map_err(|e| StoreError::db("abort", e));
        }
        self.commit_write(w, Durability::Immediate)
    }

    /// Whether a deferred commit awaits [`Ledger::sync`].
    pub fn has_unsynced(&self) -> bool {
        self.unsynced.load(Ordering::SeqCst)
    }
}
