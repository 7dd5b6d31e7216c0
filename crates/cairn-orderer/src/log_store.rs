//! The Raft log and vote on disk: one redb database (`raft.redb`, separate
//! from the ledger), written with immediate durability, mode 0600.
//!
//! Invariants: the log has no holes (`truncate` removes a suffix, `purge` a
//! prefix); every write is one redb transaction, committed before openraft is
//! told it is done; writes are serialized because openraft drives this store
//! from one task and each call awaits its transaction; a purge syncs the
//! ledger first and deletes no entry the ledger has not applied, so no entry
//! leaves the log while the block it carries could still be lost from the
//! ledger (which commits blocks with deferred durability, see
//! `state_machine`) or is yet to be applied (a snapshot install in progress).
//! Entries below the purge mark may stay in the table until the next purge
//! or the install's end; nothing reads them.

use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::path::Path;
use std::sync::Arc;

use openraft::storage::{LogFlushed, RaftLogStorage};
use openraft::{
    AnyError, Entry, ErrorSubject, ErrorVerb, LogId, LogState, RaftLogReader, StorageError,
    StorageIOError, Vote,
};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::types::{NodeId, TypeConfig};

/// Log entries by index.
const LOG: TableDefinition<u64, &[u8]> = TableDefinition::new("raft_log");
/// Vote, purge point, state machine pointers and the current snapshot.
pub(crate) const META: TableDefinition<&str, &[u8]> = TableDefinition::new("raft_meta");

/// Keys of [`META`].
pub(crate) mod key {
    pub const VOTE: &str = "vote";
    pub const LAST_PURGED: &str = "last_purged";
    /// The state machine's pointers, in directories from before they moved
    /// into the ledger's sidecar (read once, never written now).
    pub const APPLIED: &str = "applied";
    pub const MEMBERSHIP: &str = "membership";
    pub const SNAPSHOT_META: &str = "snapshot_meta";
    pub const SNAPSHOT_DATA: &str = "snapshot_data";
}

/// The file name of the Raft database inside the data directory.
pub const RAFT_FILE: &str = "raft.redb";

pub(crate) type StoreResult<T> = Result<T, StorageError<NodeId>>;

pub(crate) fn io_err(
    subject: ErrorSubject<NodeId>,
    verb: ErrorVerb,
    e: impl std::fmt::Display,
) -> StorageError<NodeId> {
    StorageIOError::new(subject, verb, AnyError::error(e.to_string())).into()
}

/// The Raft log's page cache (redb's default is 1 GiB): entries are read
/// back soon after they are written, to replicate and apply them, so a small
/// cache serves them, and its memory is reused instead of growing (see
/// `cairn_store::LEDGER_CACHE_BYTES`).
const RAFT_CACHE_BYTES: usize = 32 << 20;

/// Opens (creating if needed) the Raft database and its tables. The file
/// holds whole blocks (with their transactions), so it is the owner's only:
/// made 0600 before redb initializes it, narrowed to 0600 if it was wider.
pub(crate) fn open_db(dir: &Path) -> Result<Arc<Database>, redb::Error> {
    let path = dir.join(RAFT_FILE);
    cairn_crypto::private_file::touch(&path).map_err(std::io::Error::from)?;
    let db = Database::builder()
        .set_cache_size(RAFT_CACHE_BYTES)
        .create(path)?;
    let w = db.begin_write()?;
    w.open_table(LOG)?;
    w.open_table(META)?;
    w.commit()?;
    Ok(Arc::new(db))
}

/// Reads a postcard value from [`META`].
pub(crate) fn read_meta<T: DeserializeOwned>(
    db: &Database,
    name: &str,
) -> Result<Option<T>, String> {
    let r = db.begin_read().map_err(|e| e.to_string())?;
    let t = r.open_table(META).map_err(|e| e.to_string())?;
    let Some(v) = t.get(name).map_err(|e| e.to_string())? else {
        return Ok(None);
    };
    postcard::from_bytes(v.value())
        .map(Some)
        .map_err(|e| format!("stored {name} is corrupted: {e}"))
}

/// Writes postcard values to [`META`] in one durable transaction.
pub(crate) fn write_meta(db: &Database, values: &[(&str, Vec<u8>)]) -> Result<(), String> {
    let w = db.begin_write().map_err(|e| e.to_string())?;
    {
        let mut t = w.open_table(META).map_err(|e| e.to_string())?;
        for (k, v) in values {
            t.insert(*k, v.as_slice()).map_err(|e| e.to_string())?;
        }
    }
    cairn_counters::inc(cairn_counters::Counter::DurableCommit);
    w.commit().map_err(|e| e.to_string())
}

/// Removes keys from [`META`] in one durable transaction.
pub(crate) fn remove_meta(db: &Database, names: &[&str]) -> Result<(), String> {
    let w = db.begin_write().map_err(|e| e.to_string())?;
    {
        let mut t = w.open_table(META).map_err(|e| e.to_string())?;
        for name in names {
            t.remove(*name).map_err(|e| e.to_string())?;
        }
    }
    cairn_counters::inc(cairn_counters::Counter::DurableCommit);
    w.commit().map_err(|e| e.to_string())
}

/// Deletes the entries up to `upto` (inclusive) and moves the purge mark up
/// to it if it is lower: the end of a snapshot install, whose purge openraft
/// asked for before the install ended (see [`LogStore::purge`]).
pub(crate) fn purge_installed(db: &Database, upto: LogId<NodeId>) -> Result<(), String> {
    let purged: Option<LogId<NodeId>> = read_meta(db, key::LAST_PURGED)?;
    let w = db.begin_write().map_err(|e| e.to_string())?;
    {
        if purged.map(|p| p.index) < Some(upto.index) {
            let mut meta = w.open_table(META).map_err(|e| e.to_string())?;
            meta.insert(key::LAST_PURGED, encode(&upto)?.as_slice())
                .map_err(|e| e.to_string())?;
        }
        let mut t = w.open_table(LOG).map_err(|e| e.to_string())?;
        t.retain_in(..=upto.index, |_, _| false)
            .map_err(|e| e.to_string())?;
    }
    cairn_counters::inc(cairn_counters::Counter::DurableCommit);
    w.commit().map_err(|e| e.to_string())
}

/// Moves the purge mark back to `applied` when it is ahead of it: openraft
/// asked for a purge up to a snapshot whose install then did not finish.
/// The entries after `applied` were kept ([`LogStore::purge`]), so the log
/// again holds everything the ledger has yet to apply.
pub(crate) fn reconcile_purged(
    db: &Database,
    applied: Option<LogId<NodeId>>,
) -> Result<(), String> {
    let purged: Option<LogId<NodeId>> = read_meta(db, key::LAST_PURGED)?;
    if purged.map(|p| p.index) <= applied.map(|a| a.index) {
        return Ok(());
    }
    tracing::warn!(
        purged = ?purged,
        applied = ?applied,
        "the Raft log was marked purged past what the ledger applied (an interrupted snapshot install); marking it purged up to the applied entry"
    );
    match applied {
        Some(a) => write_meta(db, &[(key::LAST_PURGED, encode(&a)?)]),
        None => remove_meta(db, &[key::LAST_PURGED]),
    }
}

/// Encodes a stored Raft value; a failure is an error, never empty bytes.
pub(crate) fn encode<T: Serialize>(v: &T) -> Result<Vec<u8>, String> {
    postcard::to_stdvec(v).map_err(|e| format!("encoding {}: {e}", std::any::type_name::<T>()))
}

/// Runs blocking database work off the async threads.
pub(crate) async fn blocking<T, F>(
    subject: ErrorSubject<NodeId>,
    verb: ErrorVerb,
    f: F,
) -> StoreResult<T>
where
    F: FnOnce() -> Result<T, String> + Send + 'static,
    T: Send + 'static,
{
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(io_err(subject, verb, e)),
        Err(e) => Err(io_err(subject, verb, format!("storage task failed: {e}"))),
    }
}

/// The Raft log store. Cheap to clone (replication tasks read through clones).
#[derive(Clone)]
pub struct LogStore {
    db: Arc<Database>,
    /// The ledger the log's entries are applied to, synced before a purge.
    ledger: Arc<cairn_store::Ledger>,
}

impl LogStore {
    pub(crate) fn new(db: Arc<Database>, ledger: Arc<cairn_store::Ledger>) -> LogStore {
        LogStore { db, ledger }
    }

    fn last_entry_id(&self) -> Result<Option<LogId<NodeId>>, String> {
        let r = self.db.begin_read().map_err(|e| e.to_string())?;
        let t = r.open_table(LOG).map_err(|e| e.to_string())?;
        let Some((_, v)) = t.last().map_err(|e| e.to_string())? else {
            return Ok(None);
        };
        let entry: Entry<TypeConfig> = postcard::from_bytes(v.value())
            .map_err(|e| format!("stored log entry is corrupted: {e}"))?;
        Ok(Some(entry.log_id))
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + Send>(
        &mut self,
        range: RB,
    ) -> StoreResult<Vec<Entry<TypeConfig>>> {
        let bounds = (range.start_bound().cloned(), range.end_bound().cloned());
        if matches!(bounds, (Bound::Included(s), Bound::Excluded(e)) if s >= e) {
            return Ok(Vec::new());
        }
        let db = self.db.clone();
        blocking(ErrorSubject::Logs, ErrorVerb::Read, move || {
            let r = db.begin_read().map_err(|e| e.to_string())?;
            // Entries kept below the purge mark (see `purge`) are not served.
            let purged: Option<LogId<NodeId>> = match r
                .open_table(META)
                .map_err(|e| e.to_string())?
                .get(key::LAST_PURGED)
                .map_err(|e| e.to_string())?
            {
                Some(v) => Some(
                    postcard::from_bytes(v.value())
                        .map_err(|e| format!("stored purge mark is corrupted: {e}"))?,
                ),
                None => None,
            };
            let t = r.open_table(LOG).map_err(|e| e.to_string())?;
            let mut out = Vec::new();
            for item in t.range::<u64>(bounds).map_err(|e| e.to_string())? {
                let (k, v) = item.map_err(|e| e.to_string())?;
                if purged.is_some_and(|p| k.value() <= p.index) {
                    continue;
                }
                let entry: Entry<TypeConfig> = postcard::from_bytes(v.value())
                    .map_err(|e| format!("log entry {} is corrupted: {e}", k.value()))?;
                out.push(entry);
            }
            Ok(out)
        })
        .await
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> StoreResult<LogState<TypeConfig>> {
        let store = self.clone();
        blocking(ErrorSubject::Logs, ErrorVerb::Read, move || {
            let last_purged: Option<LogId<NodeId>> = read_meta(&store.db, key::LAST_PURGED)?;
            // Entries at or below the purge mark may still be in the table
            // (see `purge`); the log ends at the later of the two.
            let last = store.last_entry_id()?.max(last_purged);
            Ok(LogState {
                last_purged_log_id: last_purged,
                last_log_id: last,
            })
        })
        .await
    }

    async fn get_log_reader(&mut self) -> LogStore {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<NodeId>) -> StoreResult<()> {
        let db = self.db.clone();
        let bytes = encode(vote).map_err(|e| io_err(ErrorSubject::Vote, ErrorVerb::Write, e))?;
        blocking(ErrorSubject::Vote, ErrorVerb::Write, move || {
            write_meta(&db, &[(key::VOTE, bytes)])
        })
        .await
    }

    async fn read_vote(&mut self) -> StoreResult<Option<Vote<NodeId>>> {
        let db = self.db.clone();
        blocking(ErrorSubject::Vote, ErrorVerb::Read, move || {
            read_meta(&db, key::VOTE)
        })
        .await
    }

    async fn append<I>(&mut self, entries: I, callback: LogFlushed<TypeConfig>) -> StoreResult<()>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + Send,
        I::IntoIter: Send,
    {
        let encoded = entries
            .into_iter()
            .map(|e| Ok((e.log_id.index, encode(&e)?)))
            .collect::<Result<Vec<(u64, Vec<u8>)>, String>>();
        let encoded = match encoded {
            Ok(v) => v,
            Err(e) => {
                callback.log_io_completed(Err(std::io::Error::other(e.clone())));
                return Err(io_err(ErrorSubject::Logs, ErrorVerb::Write, e));
            }
        };
        let db = self.db.clone();
        let result = blocking(ErrorSubject::Logs, ErrorVerb::Write, move || {
            let w = db.begin_write().map_err(|e| e.to_string())?;
            {
                let mut t = w.open_table(LOG).map_err(|e| e.to_string())?;
                for (index, bytes) in &encoded {
                    t.insert(*index, bytes.as_slice())
                        .map_err(|e| e.to_string())?;
                }
            }
            cairn_counters::inc(cairn_counters::Counter::DurableCommit);
            w.commit().map_err(|e| e.to_string())
        })
        .await;
        match &result {
            Ok(()) => callback.log_io_completed(Ok(())),
            Err(e) => callback.log_io_completed(Err(std::io::Error::other(e.to_string()))),
        }
        result
    }

    async fn truncate(&mut self, log_id: LogId<NodeId>) -> StoreResult<()> {
        let db = self.db.clone();
        blocking(ErrorSubject::Logs, ErrorVerb::Delete, move || {
            let w = db.begin_write().map_err(|e| e.to_string())?;
            {
                let mut t = w.open_table(LOG).map_err(|e| e.to_string())?;
                t.retain_in(log_id.index.., |_, _| false)
                    .map_err(|e| e.to_string())?;
            }
            cairn_counters::inc(cairn_counters::Counter::DurableCommit);
            w.commit().map_err(|e| e.to_string())
        })
        .await
    }

    async fn purge(&mut self, log_id: LogId<NodeId>) -> StoreResult<()> {
        let (db, ledger) = (self.db.clone(), self.ledger.clone());
        blocking(ErrorSubject::Logs, ErrorVerb::Delete, move || {
            // Entries leave the log only once their blocks are durable.
            ledger
                .sync()
                .map_err(|e| format!("syncing the ledger before a purge: {e}"))?;
            // And never past what the ledger applied: openraft purges up to
            // a snapshot it is installing before the install ends, and a
            // crash before the end must find the entries the ledger lacks
            // (`reconcile_purged` moves the mark back at start).
            let applied = crate::state_machine::ledger_applied(&ledger)?;
            let upto = applied
                .map_or(0, |a| a.index.saturating_add(1))
                .min(log_id.index.saturating_add(1));
            let w = db.begin_write().map_err(|e| e.to_string())?;
            {
                let mut meta = w.open_table(META).map_err(|e| e.to_string())?;
                meta.insert(key::LAST_PURGED, encode(&log_id)?.as_slice())
                    .map_err(|e| e.to_string())?;
                let mut t = w.open_table(LOG).map_err(|e| e.to_string())?;
                t.retain_in(..upto, |_, _| false)
                    .map_err(|e| e.to_string())?;
            }
            cairn_counters::inc(cairn_counters::Counter::DurableCommit);
            w.commit().map_err(|e| e.to_string())
        })
        .await
    }
}

/// A fresh ledger of `net`'s channel and a Raft database beside it, in a
/// directory that lives as long as the returned guard (tests of this module
/// and of the state machine).
#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
pub(crate) fn test_stores(
    net: &cairn_testkit::TestNet,
) -> (tempfile::TempDir, Arc<cairn_store::Ledger>, Arc<Database>) {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Arc::new(net.ledger(&dir.path().join("ledger")));
    let db = open_db(dir.path()).unwrap();
    (dir, ledger, db)
}

#[cfg(all(test, unix))]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use openraft::{CommittedLeaderId, EntryPayload};

    use super::*;
    use crate::state_machine::sidecar;

    fn id(i: u64) -> LogId<NodeId> {
        LogId::new(CommittedLeaderId::new(1, 1), i)
    }

    /// Writes blank entries with these indexes straight into the log table.
    fn blank_entries(db: &Database, indexes: std::ops::RangeInclusive<u64>) {
        let w = db.begin_write().unwrap();
        {
            let mut t = w.open_table(LOG).unwrap();
            for i in indexes {
                let entry = Entry::<TypeConfig> {
                    log_id: id(i),
                    payload: EntryPayload::Blank,
                };
                t.insert(i, encode(&entry).unwrap().as_slice()).unwrap();
            }
        }
        w.commit().unwrap();
    }

    fn indexes(db: &Database) -> Vec<u64> {
        let r = db.begin_read().unwrap();
        let t = r.open_table(LOG).unwrap();
        t.iter().unwrap().map(|e| e.unwrap().0.value()).collect()
    }

    /// openraft purges up to a snapshot it is installing before the install
    /// ends; a crash then must find the entries the ledger has not applied.
    #[tokio::test]
    async fn a_purge_keeps_the_entries_the_ledger_has_not_applied() {
        let net = cairn_testkit::TestNet::new(1);
        let (_dir, ledger, db) = test_stores(&net);
        blank_entries(&db, 1..=6);
        let applied = |i: u64| {
            ledger
                .write_sidecar(
                    &[(sidecar::APPLIED, encode(&Some(id(i))).unwrap())],
                    cairn_store::Durability::Deferred,
                )
                .unwrap();
        };
        applied(3);
        let mut store = LogStore::new(db.clone(), ledger.clone());
        store.purge(id(5)).await.unwrap();
        assert!(!ledger.has_unsynced(), "the purge synced the ledger first");
        let state = store.get_log_state().await.unwrap();
        assert_eq!(state.last_purged_log_id, Some(id(5)), "marked as asked");
        assert_eq!(state.last_log_id, Some(id(6)));
        assert_eq!(indexes(&db), vec![4, 5, 6], "entries 4 and 5 kept");

        // At start after a crash: the mark goes back to the applied entry,
        // and the log serves the entries the ledger lacks.
        reconcile_purged(&db, Some(id(3))).unwrap();
        let state = store.get_log_state().await.unwrap();
        assert_eq!(state.last_purged_log_id, Some(id(3)));
        let entries = store.try_get_log_entries(4..7).await.unwrap();
        assert_eq!(
            entries.iter().map(|e| e.log_id.index).collect::<Vec<_>>(),
            vec![4, 5, 6]
        );
        // A mark at or behind the applied entry is left alone.
        reconcile_purged(&db, Some(id(6))).unwrap();
        assert_eq!(
            store.get_log_state().await.unwrap().last_purged_log_id,
            Some(id(3))
        );

        // Once applied, a purge deletes what it is asked to.
        applied(6);
        store.purge(id(6)).await.unwrap();
        assert!(indexes(&db).is_empty());
        let state = store.get_log_state().await.unwrap();
        assert_eq!(
            (state.last_purged_log_id, state.last_log_id),
            (Some(id(6)), Some(id(6)))
        );
    }

    /// The end of a snapshot install deletes the kept entries and raises the
    /// purge mark to the snapshot, never lowers it.
    #[tokio::test]
    async fn an_installed_snapshot_purges_up_to_itself() {
        let net = cairn_testkit::TestNet::new(1);
        let (_dir, ledger, db) = test_stores(&net);
        blank_entries(&db, 1..=6);
        write_meta(&db, &[(key::LAST_PURGED, encode(&id(2)).unwrap())]).unwrap();
        let mut store = LogStore::new(db.clone(), ledger);
        purge_installed(&db, id(4)).unwrap();
        assert_eq!(indexes(&db), vec![5, 6]);
        assert_eq!(
            store.get_log_state().await.unwrap().last_purged_log_id,
            Some(id(4))
        );
        purge_installed(&db, id(3)).unwrap();
        assert_eq!(
            store.get_log_state().await.unwrap().last_purged_log_id,
            Some(id(4))
        );
    }

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn the_raft_file_is_created_owner_only_and_narrowed_on_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(RAFT_FILE);
        let db = open_db(dir.path()).unwrap();
        assert_eq!(mode(&path), 0o600);
        assert!(
            std::fs::metadata(&path).unwrap().len() > 0,
            "redb used the file"
        );
        drop(db);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(
            mode(&path),
            0o644,
            "the control: the file was readable by others"
        );
        let db = open_db(dir.path()).unwrap();
        assert_eq!(mode(&path), 0o600);
        assert!(read_meta::<u64>(&db, key::APPLIED).unwrap().is_none());
    }
}
