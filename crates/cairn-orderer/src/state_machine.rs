//! The Raft state machine is the channel's ledger: applying an entry commits
//! its block with [`Ledger::commit_sealed`] (which re-validates it and checks
//! the orderer signature, without re-verifying the signatures of the
//! transactions the sealing leader found valid), and a snapshot is a *point* in the ledger (height and
//! last block hash), not a copy of it.
//!
//! Durability: the Raft log holds every applied entry durably until it is
//! purged, so blocks are committed to the ledger with deferred durability
//! (no fsync; [`cairn_store::Durability::Deferred`]), one in
//! [`DURABLE_EVERY`] durably. The applied log id and membership are written
//! in the ledger's sidecar in the same write transaction as each block, so
//! after a crash they name exactly the blocks the ledger kept, and openraft
//! re-applies the rest from the log.
//!
//! Invariants:
//! - the ledger is synced before the log loses an entry: before a snapshot
//!   is recorded and in every purge ([`crate::log_store::LogStore`]), and a
//!   purge deletes no entry past what the ledger applied (openraft asks for
//!   the purge up to a snapshot before its install ends), so the entries
//!   after the ledger's durable point are always still in the log; at
//!   start, a purge mark past the applied entry (an install cut short) is
//!   moved back to it, and a stored snapshot older than the purge mark is
//!   not offered (openraft then builds a new one);
//! - the applied pointer lives in the ledger, committed with the blocks it
//!   counts (in directories from before this rule it was in `raft.redb`; it
//!   is moved into the ledger once, at start);
//! - a block whose number is below the ledger height is skipped: it was
//!   sealed by a leader that was deposed before its block committed, or (in
//!   a directory from before the pointer moved into the ledger) it is
//!   re-applied after a crash that lost the pointer's last write; every node
//!   makes the same decision;
//! - a block whose number is above the height cannot happen (leaders seal
//!   only on a fully applied ledger); it stops the node (fatal storage error)
//!   rather than leave a hole;
//! - installing a snapshot fetches the missing blocks from the other
//!   orderers' deliver endpoints and commits each (fully checked), then
//!   requires the ledger's last block hash to equal the snapshot's.

use std::io::Cursor;
use std::sync::Arc;
use std::time::Duration;

use cairn_crypto::Digest;
use cairn_ledger::block::Block;
use cairn_net::{Client, Trust};
use cairn_store::{Durability, Ledger, StoreError};
use openraft::storage::RaftStateMachine;
use openraft::{
    BasicNode, EntryPayload, ErrorSubject, ErrorVerb, LogId, RaftSnapshotBuilder, Snapshot,
    SnapshotMeta, StoredMembership,
};
use redb::Database;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use crate::api::NodeStatus;
use crate::log_store::{StoreResult, blocking, encode, io_err, key, read_meta, write_meta};
use crate::types::{Applied, NodeId, TypeConfig};

/// The ledger state a snapshot stands for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct LedgerPoint {
    /// The channel.
    pub channel: String,
    /// Blocks `0..height` are committed.
    pub height: u64,
    /// Header hash of block `height - 1`.
    pub last_hash: Digest,
}

type Membership = StoredMembership<NodeId, BasicNode>;

/// One block in this many is committed durably (the rest are deferred; see
/// the module doc): it bounds what a restart re-applies from the log.
pub(crate) const DURABLE_EVERY: u64 = 64;

/// The ledger's sidecar names of the applied pointer and membership.
pub(crate) mod sidecar {
    pub const APPLIED: &str = "raft_applied";
    pub const MEMBERSHIP: &str = "raft_membership";
}

/// The applied pointer as last committed in the ledger (`None`: nothing
/// applied, or a directory from before the pointer moved into the ledger).
pub(crate) fn ledger_applied(ledger: &Ledger) -> Result<Option<LogId<NodeId>>, String> {
    match ledger
        .sidecar(sidecar::APPLIED)
        .map_err(|e| e.to_string())?
    {
        Some(bytes) => postcard::from_bytes::<Option<LogId<NodeId>>>(&bytes)
            .map_err(|e| format!("the ledger's applied pointer is corrupted: {e}")),
        None => Ok(None),
    }
}

/// How long installing a snapshot keeps trying to fetch its blocks.
const CATCH_UP_PATIENCE: Duration = Duration::from_secs(300);

/// How long a deliver stream may stay silent while it still owes blocks.
const BLOCK_WAIT: Duration = Duration::from_secs(10);

/// The ledger as openraft's state machine.
pub(crate) struct StateMachine {
    me: NodeId,
    ledger: Arc<Ledger>,
    db: Arc<Database>,
    applied: Option<LogId<NodeId>>,
    membership: Membership,
    height: Arc<watch::Sender<u64>>,
    trust: Option<Arc<Trust>>,
    fetch: Option<Client>,
}

impl StateMachine {
    /// Loads the applied pointer and membership saved in `db`; `me` is
    /// this node's id.
    pub(crate) fn open(
        me: NodeId,
        ledger: Arc<Ledger>,
        db: Arc<Database>,
        height: Arc<watch::Sender<u64>>,
        trust: Option<Arc<Trust>>,
        fetch: Option<Client>,
    ) -> Result<StateMachine, String> {
        let membership = ledger
            .sidecar(sidecar::MEMBERSHIP)
            .map_err(|e| e.to_string())?;
        let (applied, membership) = match membership {
            Some(m) => (
                ledger_applied(&ledger)?,
                postcard::from_bytes(&m)
                    .map_err(|e| format!("the ledger's Raft membership is corrupted: {e}"))?,
            ),
            None => {
                // A directory from before the pointer moved into the ledger:
                // move it there now, once.
                let applied: Option<LogId<NodeId>> = read_meta(&db, key::APPLIED)?.flatten();
                let membership: Membership = read_meta(&db, key::MEMBERSHIP)?.unwrap_or_default();
                ledger
                    .write_sidecar(
                        &[
                            (sidecar::APPLIED, encode(&applied)?),
                            (sidecar::MEMBERSHIP, encode(&membership)?),
                        ],
                        Durability::Immediate,
                    )
                    .map_err(|e| e.to_string())?;
                crate::log_store::remove_meta(&db, &[key::APPLIED, key::MEMBERSHIP])?;
                (applied, membership)
            }
        };
        // A crash while a snapshot was being installed can leave the log's
        // purge mark past what the ledger applied (openraft purges before
        // the install ends; the entries themselves stay, see `LogStore::purge`).
        crate::log_store::reconcile_purged(&db, applied)?;
        height.send_replace(ledger.height());
        Ok(StateMachine {
            me,
            ledger,
            db,
            applied,
            membership,
            height,
            trust,
            fetch,
        })
    }

    /// The sidecar values recording `applied` and the current membership.
    fn pointer(&self, applied: LogId<NodeId>) -> Result<Vec<(&'static str, Vec<u8>)>, String> {
        Ok(vec![
            (sidecar::APPLIED, encode(&Some(applied))?),
            (sidecar::MEMBERSHIP, encode(&self.membership)?),
        ])
    }

    /// Commits the entry's block together with the applied pointer; a
    /// block that is skipped records the pointer alone.
    async fn apply_block(&self, log_id: LogId<NodeId>, block: Block) -> StoreResult<Applied> {
        let ledger = self.ledger.clone();
        let sequence = ledger.context().config().sequence;
        let pointer = self
            .pointer(log_id)
            .map_err(|e| io_err(ErrorSubject::Apply(log_id), ErrorVerb::Write, e))?;
        let applied = blocking(ErrorSubject::Apply(log_id), ErrorVerb::Write, move || {
            let height = ledger.height();
            let number = block.header.number;
            let skip = |reason: Applied| {
                ledger
                    .write_sidecar(&pointer, Durability::Deferred)
                    .map_err(|e| e.to_string())?;
                Ok(reason)
            };
            if number < height {
                info!(block = number, height, "skipping a block sealed by a deposed leader");
                return skip(Applied::Skipped { number, height });
            }
            if number > height {
                return Err(format!(
                    "block {number} is ahead of the ledger (height {height}): blocks are missing; \
                     restore the data directory or rejoin this orderer from an empty one"
                ));
            }
            let started = std::time::Instant::now();
            let durability = if (number + 1).is_multiple_of(DURABLE_EVERY) {
                Durability::Immediate
            } else {
                Durability::Deferred
            };
            // Sealed by this cluster's leader: orderers trust each other
            // (crash faults only), so signatures it found valid are not
            // verified again here; peers still verify everything.
            match ledger.commit_sealed_with(&block, &pointer, durability) {
                Ok(_) => {
                    debug!(block = number, took = ?started.elapsed(), "block applied");
                    Ok(Applied::Committed(number))
                }
                Err(e) if deterministic(&e) => {
                    warn!(block = number, reason = %e, "block refused by validation; skipped on every orderer");
                    skip(Applied::Skipped { number, height })
                }
                Err(e) => Err(e.to_string()),
            }
        })
        .await?;
        let config = self.ledger.context();
        if config.config().sequence != sequence
            && let Some(trust) = &self.trust
            && let Err(e) = trust.update(&config.config().orgs)
        {
            warn!(reason = %e, "the new channel configuration's organizations cannot be used for TLS");
        }
        Ok(applied)
    }

    /// Records the applied pointer and membership for an entry that carried
    /// no block, deferred like the blocks (see the module doc).
    async fn persist(&self) -> StoreResult<()> {
        let Some(applied) = self.applied else {
            return Ok(());
        };
        let pointer = self
            .pointer(applied)
            .map_err(|e| io_err(ErrorSubject::StateMachine, ErrorVerb::Write, e))?;
        let ledger = self.ledger.clone();
        blocking(ErrorSubject::StateMachine, ErrorVerb::Write, move || {
            ledger
                .write_sidecar(&pointer, Durability::Deferred)
                .map_err(|e| e.to_string())
        })
        .await
    }

    /// Commits blocks up to `point`, fetched from the other orderers in
    /// `members` (never from this node: its own deliver stream would wait
    /// for blocks only the catch-up can bring). Retries while no orderer can
    /// serve them yet, up to [`CATCH_UP_PATIENCE`]; a ledger that ends on a
    /// different block than the snapshot's is an error at once.
    async fn catch_up(
        &self,
        point: &LedgerPoint,
        members: &[(NodeId, String)],
    ) -> Result<(), String> {
        let Some(client) = &self.fetch else {
            if self.ledger.height() >= point.height {
                return check_point(&self.ledger, point);
            }
            return Err("no network client to fetch the snapshot's blocks".into());
        };
        let sources = sources(self.me, members);
        let deadline = Instant::now() + CATCH_UP_PATIENCE;
        let mut pause = Duration::from_millis(100);
        while self.ledger.height() < point.height {
            for url in &sources {
                if self.ledger.height() >= point.height {
                    break;
                }
                fetch_from(&self.ledger, &self.height, client, url, point.height).await;
            }
            let height = self.ledger.height();
            if height >= point.height {
                break;
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "could not fetch blocks {height}..{} from any other orderer ({}) in {CATCH_UP_PATIENCE:?}",
                    point.height,
                    sources.join(", ")
                ));
            }
            warn!(
                height,
                target = point.height,
                "no orderer served the snapshot's blocks yet; retrying"
            );
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(5));
        }
        check_point(&self.ledger, point)
    }
}

/// The orderers to fetch a snapshot's blocks from: every member but `me`.
fn sources(me: NodeId, members: &[(NodeId, String)]) -> Vec<String> {
    members
        .iter()
        .filter(|(id, _)| *id != me)
        .map(|(_, url)| url.trim_end_matches('/').to_string())
        .collect()
}

/// Commits, from the orderer at `url`, the blocks it has between the
/// ledger's height and `target`; stops at the first problem (logged).
async fn fetch_from(
    ledger: &Arc<Ledger>,
    height: &watch::Sender<u64>,
    client: &Client,
    url: &str,
    target: u64,
) {
    let from = ledger.height();
    let theirs = match client.get::<NodeStatus>(&format!("{url}/status")).await {
        Ok(s) => s.height,
        Err(e) => {
            warn!(%url, reason = %e, "cannot ask this orderer for the snapshot's blocks");
            return;
        }
    };
    let until = target.min(theirs);
    if until <= from {
        info!(%url, height = theirs, "this orderer does not have the snapshot's blocks yet");
        return;
    }
    let mut stream = match client
        .frames::<Block>(&format!("{url}/deliver?from={from}"))
        .await
    {
        Ok(s) => s,
        Err(e) => {
            warn!(%url, reason = %e, "cannot fetch blocks for the snapshot from this orderer");
            return;
        }
    };
    while ledger.height() < until {
        let block = match tokio::time::timeout(BLOCK_WAIT, stream.next()).await {
            Ok(Some(Ok(b))) => b,
            Ok(Some(Err(e))) => {
                warn!(%url, reason = %e, "block stream failed");
                return;
            }
            Ok(None) | Err(_) => {
                warn!(%url, "block stream ended or stalled before the snapshot's height");
                return;
            }
        };
        let l = ledger.clone();
        let number = block.header.number;
        match tokio::task::spawn_blocking(move || l.commit(&block)).await {
            Ok(Ok(_)) => {
                height.send_replace(ledger.height());
            }
            Ok(Err(e)) => {
                warn!(%url, block = number, reason = %e, "fetched block refused");
                return;
            }
            Err(e) => {
                warn!(%url, block = number, reason = %e, "committing a fetched block failed");
                return;
            }
        }
    }
}

/// Whether the ledger's block `point.height - 1` is the snapshot's.
fn check_point(ledger: &Ledger, point: &LedgerPoint) -> Result<(), String> {
    let last = ledger
        .block(point.height.saturating_sub(1))
        .map_err(|e| e.to_string())?
        .ok_or("the ledger lost a block")?;
    if last.header.hash().map_err(|e| e.to_string())? != point.last_hash {
        return Err(format!(
            "block {} differs from the snapshot's: this ledger has diverged from the cluster",
            point.height - 1
        ));
    }
    Ok(())
}

/// Errors every orderer meets the same way on the same block (as opposed
/// to disk failures, which must stop this node only).
fn deterministic(e: &StoreError) -> bool {
    matches!(
        e,
        StoreError::BadBlock { .. }
            | StoreError::CodeMismatch { .. }
            | StoreError::OutOfOrder { .. }
            | StoreError::Context(_)
    )
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(&mut self) -> StoreResult<(Option<LogId<NodeId>>, Membership)> {
        Ok((self.applied, self.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> StoreResult<Vec<Applied>>
    where
        I: IntoIterator<Item = openraft::Entry<TypeConfig>> + Send,
        I::IntoIter: Send,
    {
        let mut out = Vec::new();
        // Whether the pointer moved past the last one written with a block.
        let mut unrecorded = false;
        for entry in entries {
            let log_id = entry.log_id;
            let result = match entry.payload {
                EntryPayload::Blank => {
                    unrecorded = true;
                    Applied::Nothing
                }
                EntryPayload::Membership(m) => {
                    self.membership = StoredMembership::new(Some(log_id), m);
                    unrecorded = true;
                    Applied::Nothing
                }
                EntryPayload::Normal(block) => {
                    unrecorded = false;
                    self.apply_block(log_id, block).await?
                }
            };
            self.applied = Some(log_id);
            out.push(result);
        }
        if unrecorded {
            self.persist().await?;
        }
        self.height.send_replace(self.ledger.height());
        Ok(out)
    }

    async fn get_snapshot_builder(&mut self) -> SnapshotBuilder {
        SnapshotBuilder {
            db: self.db.clone(),
            ledger: self.ledger.clone(),
            applied: self.applied,
            membership: self.membership.clone(),
            height: self.ledger.height(),
        }
    }

    async fn begin_receiving_snapshot(&mut self) -> StoreResult<Box<Cursor<Vec<u8>>>> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<NodeId, BasicNode>,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> StoreResult<()> {
        let subject = || ErrorSubject::Snapshot(Some(meta.signature()));
        let data = snapshot.into_inner();
        let point: LedgerPoint = postcard::from_bytes(&data)
            .map_err(|e| io_err(subject(), ErrorVerb::Read, format!("snapshot: {e}")))?;
        let members: Vec<(NodeId, String)> = meta
            .last_membership
            .nodes()
            .map(|(id, n)| (*id, n.addr.clone()))
            .collect();
        let channel = self.ledger.context().config().name.clone();
        if point.channel != channel {
            return Err(io_err(
                subject(),
                ErrorVerb::Read,
                format!(
                    "the snapshot is of channel {}, this ledger is {channel}",
                    point.channel
                ),
            ));
        }
        info!(height = point.height, snapshot = %meta.snapshot_id, "installing a snapshot: fetching missing blocks");
        self.catch_up(&point, &members)
            .await
            .map_err(|e| io_err(subject(), ErrorVerb::Write, e))?;
        self.applied = meta.last_log_id;
        self.membership = meta.last_membership.clone();
        // The ledger's pointer first, durably: a crash before the snapshot
        // is recorded leaves a ledger that is ahead of the log, which
        // openraft mends at start by purging the log up to it.
        let (db, ledger) = (self.db.clone(), self.ledger.clone());
        let (pointer, values) = (|| {
            Ok::<_, String>((
                vec![
                    (sidecar::APPLIED, encode(&self.applied)?),
                    (sidecar::MEMBERSHIP, encode(&self.membership)?),
                ],
                vec![
                    (key::SNAPSHOT_META, encode(meta)?),
                    (key::SNAPSHOT_DATA, encode(&data)?),
                ],
            ))
        })()
        .map_err(|e| io_err(subject(), ErrorVerb::Write, e))?;
        let upto = self.applied;
        blocking(subject(), ErrorVerb::Write, move || {
            ledger
                .write_sidecar(&pointer, Durability::Immediate)
                .map_err(|e| e.to_string())?;
            write_meta(&db, &values)?;
            // openraft asked for the purge up to the snapshot before the
            // install ended; the entries it kept can go now.
            match upto {
                Some(l) => crate::log_store::purge_installed(&db, l),
                None => Ok(()),
            }
        })
        .await?;
        self.height.send_replace(self.ledger.height());
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> StoreResult<Option<Snapshot<TypeConfig>>> {
        let db = self.db.clone();
        blocking(ErrorSubject::Snapshot(None), ErrorVerb::Read, move || {
            let meta: Option<SnapshotMeta<NodeId, BasicNode>> = read_meta(&db, key::SNAPSHOT_META)?;
            let purged: Option<LogId<NodeId>> = read_meta(&db, key::LAST_PURGED)?;
            if let Some(m) = &meta
                && m.last_log_id < purged
            {
                // Older than the log's purge point (a crash in the middle of
                // installing a newer one): no use to a follower, and openraft
                // builds a new one at start when there is none.
                warn!(snapshot = %m.snapshot_id, "the stored snapshot is older than the log's purge point; it is not offered");
                return Ok(None);
            }
            let data: Option<Vec<u8>> = read_meta(&db, key::SNAPSHOT_DATA)?;
            Ok(meta.zip(data).map(|(meta, data)| Snapshot {
                meta,
                snapshot: Box::new(Cursor::new(data)),
            }))
        })
        .await
    }
}

/// Builds a snapshot of the ledger as it was when the builder was taken.
pub(crate) struct SnapshotBuilder {
    db: Arc<Database>,
    ledger: Arc<Ledger>,
    applied: Option<LogId<NodeId>>,
    membership: Membership,
    height: u64,
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    async fn build_snapshot(&mut self) -> StoreResult<Snapshot<TypeConfig>> {
        let (db, ledger, height) = (self.db.clone(), self.ledger.clone(), self.height);
        let meta = SnapshotMeta {
            last_log_id: self.applied,
            last_membership: self.membership.clone(),
            snapshot_id: match self.applied {
                Some(l) => format!("{}-{}-h{height}", l.leader_id, l.index),
                None => format!("none-h{height}"),
            },
        };
        let stored = meta.clone();
        let data = blocking(ErrorSubject::Snapshot(None), ErrorVerb::Write, move || {
            // The log may be purged up to this snapshot once it is recorded:
            // what it stands for must be durable in the ledger first.
            ledger.sync().map_err(|e| e.to_string())?;
            // Blocks are immutable, so block `height - 1` read now is the one
            // that was the tip when the builder was taken.
            let last = ledger
                .block(height.saturating_sub(1))
                .map_err(|e| e.to_string())?
                .ok_or("the ledger has no block at the snapshot point")?;
            let point = LedgerPoint {
                channel: last.header.channel.clone(),
                height,
                last_hash: last.header.hash().map_err(|e| e.to_string())?,
            };
            let data = encode(&point)?;
            write_meta(
                &db,
                &[
                    (key::SNAPSHOT_META, encode(&stored)?),
                    (key::SNAPSHOT_DATA, encode(&data)?),
                ],
            )?;
            Ok(data)
        })
        .await?;
        info!(height, snapshot = %meta.snapshot_id, "snapshot built");
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use openraft::StorageError;
    use openraft::testing::{StoreBuilder, Suite};

    use super::*;
    use crate::log_store::{LogStore, open_db};

    /// Fresh log stores and ledgers, all from the same genesis block (so a
    /// snapshot built on one installs on another).
    struct Builder {
        /// Owns the generated key material for the test's duration.
        _net: cairn_testkit::TestNet,
        genesis: Block,
    }

    impl StoreBuilder<TypeConfig, LogStore, StateMachine, tempfile::TempDir> for Builder {
        async fn build(
            &self,
        ) -> Result<(tempfile::TempDir, LogStore, StateMachine), StorageError<NodeId>> {
            let dir = tempfile::tempdir().unwrap();
            let ledger =
                Arc::new(Ledger::create(&dir.path().join("ledger"), &self.genesis).unwrap());
            let db = open_db(dir.path()).unwrap();
            let height = Arc::new(watch::channel(0).0);
            let sm = StateMachine::open(1, ledger.clone(), db.clone(), height, None, None).unwrap();
            Ok((dir, LogStore::new(db, ledger), sm))
        }
    }

    /// openraft's conformance suite for log stores and state machines.
    #[test]
    fn openraft_storage_suite() {
        let net = cairn_testkit::TestNet::new(1);
        let genesis = net.genesis();
        Suite::test_all(Builder { _net: net, genesis }).unwrap();
    }

    #[test]
    fn snapshot_blocks_are_fetched_from_the_other_orderers_only() {
        let members = [
            (1, "https://o1:7050/".to_string()),
            (2, "https://o2:7050".to_string()),
            (3, "https://o3:7050".to_string()),
        ];
        assert_eq!(
            sources(1, &members),
            vec!["https://o2:7050", "https://o3:7050"]
        );
        assert_eq!(
            sources(2, &members),
            vec!["https://o1:7050", "https://o3:7050"]
        );
    }

    /// After an install cut short, the stored snapshot can be older than
    /// the log's purge mark: it is not offered (openraft builds a new one).
    #[tokio::test]
    async fn a_snapshot_older_than_the_purge_mark_is_not_offered() {
        let net = cairn_testkit::TestNet::new(1);
        let (_dir, ledger, db) = crate::log_store::test_stores(&net);
        let height = Arc::new(watch::channel(0).0);
        let mut sm = StateMachine::open(1, ledger, db.clone(), height, None, None).unwrap();
        let id = |i| LogId::new(openraft::CommittedLeaderId::new(1, 1), i);
        let meta = SnapshotMeta::<NodeId, BasicNode> {
            last_log_id: Some(id(4)),
            last_membership: Membership::default(),
            snapshot_id: "1-4".into(),
        };
        write_meta(
            &db,
            &[
                (key::SNAPSHOT_META, encode(&meta).unwrap()),
                (key::SNAPSHOT_DATA, encode(&vec![1u8, 2]).unwrap()),
                (key::LAST_PURGED, encode(&id(4)).unwrap()),
            ],
        )
        .unwrap();
        // The control: a snapshot covering the purge mark is offered.
        assert!(sm.get_current_snapshot().await.unwrap().is_some());
        write_meta(&db, &[(key::LAST_PURGED, encode(&id(5)).unwrap())]).unwrap();
        assert!(sm.get_current_snapshot().await.unwrap().is_none());
    }

    #[tokio::test]
    async fn stale_and_future_blocks_are_not_committed() {
        let net = cairn_testkit::TestNet::new(1);
        let (_dir, ledger, db) = crate::log_store::test_stores(&net);
        let height = Arc::new(watch::channel(0).0);
        let mut sm = StateMachine::open(1, ledger.clone(), db, height.clone(), None, None).unwrap();
        let id = |i| LogId::new(openraft::CommittedLeaderId::new(1, 1), i);
        let b1 = ledger
            .seal(Vec::new(), cairn_testkit::now(), net.orderer())
            .unwrap();
        let stale = ledger
            .seal(Vec::new(), cairn_testkit::now(), net.orderer())
            .unwrap();
        let entry = |i, b: &Block| openraft::Entry::<TypeConfig> {
            log_id: id(i),
            payload: EntryPayload::Normal(b.clone()),
        };
        let out = sm.apply([entry(1, &b1), entry(2, &stale)]).await.unwrap();
        assert_eq!(
            out,
            vec![
                Applied::Committed(1),
                Applied::Skipped {
                    number: 1,
                    height: 2
                }
            ]
        );
        assert_eq!(ledger.block(1).unwrap().unwrap(), b1);
        assert_eq!(*height.borrow(), 2);
        assert_eq!(sm.applied_state().await.unwrap().0, Some(id(2)));
        // A block beyond the tip means missing blocks: refuse (fatal), never skip.
        let mut far = ledger
            .seal(Vec::new(), cairn_testkit::now(), net.orderer())
            .unwrap();
        far.header.number = 5;
        assert!(sm.apply([entry(3, &far)]).await.is_err());
        assert_eq!(ledger.height(), 2);
    }
}
