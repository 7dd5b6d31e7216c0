//! The ledger of one channel on one node: commit blocks atomically, seal new
//! blocks (on orderers), answer queries and issue receipts.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use cairn_crypto::{Digest, SigningIdentity, private_file};
use cairn_ledger::block::{Block, BlockHeader, BlockMetadata, HeaderSignature, tx_leaf};
use cairn_ledger::config::ChannelConfig;
use cairn_ledger::encoding::Canonical;
use cairn_ledger::ids::{Timestamp, TxId};
use cairn_ledger::private::PrivateData;
use cairn_ledger::receipt::Receipt;
use cairn_ledger::validate::{BlockResult, ChannelContext, validate_block, validate_sealed_block};
use cairn_merkle::{ConsistencyProof, Hash, Node, NodeStore};
use redb::{Database, ReadableDatabase, ReadableTable, WriteTransaction};
use tracing::{info, warn};

use crate::durability::{Durability, Durable};
use crate::error::{StoreError, WriteError};
use crate::private::{PrivateCommitStats, write_private};
use crate::tables::{
    BLOCK_SUMS, BLOCKS, HISTORY, META, METADATA, MetaKey, STATE, TREE, TXIDS, TxLocation,
    history_key, state_key,
};
use crate::view::Snapshot;

mod load;
pub use load::LEDGER_CACHE_BYTES;
use load::{create_private_tables, load_member_org, load_tip, open_db};

/// The file name of the ledger database inside its directory.
pub const LEDGER_FILE: &str = "ledger.redb";

/// What the ledger knows about its tip, cached between commits.
struct Tip {
    /// Whether commits write the key history index (see [`Ledger::create_without_history`]).
    history: bool,
    height: u64,
    last_hash: Digest,
    tree_size: u64,
    ctx: Arc<ChannelContext>,
    config_block: u64,
}

/// One channel's ledger on disk.
pub struct Ledger {
    /// `None` only while the database is being reopened after an I/O error.
    db: RwLock<Option<Arc<Database>>>,
    path: PathBuf,
    tip: RwLock<Tip>,
    /// The org whose collections' cleartext this ledger keeps.
    pub(crate) member_org: RwLock<Option<String>>,
    /// What the last [`Ledger::seal`] worked out, so that committing the
    /// block it sealed ([`Ledger::commit_sealed`]) does not validate it again.
    sealed: std::sync::Mutex<Option<Sealed>>,
    /// Whether a [`Durability::Deferred`] commit awaits [`Ledger::sync`].
    pub(crate) unsynced: std::sync::atomic::AtomicBool,
}

/// A sealed block's validation result and tree nodes, valid only on the
/// tip it was computed on (the state changes only by committing blocks).
struct Sealed {
    number: u64,
    previous_hash: Digest,
    data_hash: Digest,
    result: BlockResult,
    nodes: Vec<Node>,
    root: Hash,
}

/// What committing a block did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitSummary {
    /// The block number.
    pub number: u64,
    /// Transactions in the block.
    pub txs: usize,
    /// Of which valid.
    pub valid: usize,
    /// The block's header hash.
    pub hash: Digest,
    /// What the block did to private data here.
    pub private: PrivateCommitStats,
    /// Each transaction's id, in block order (`None`: it did not decode),
    /// as validation decoded it.
    pub txids: Vec<Option<TxId>>,
}

impl Ledger {
    /// Creates a new ledger in `dir` from a genesis block (block 0 holding the
    /// channel's config transaction, signed by an orderer of that config).
    pub fn create(dir: &Path, genesis: &Block) -> Result<Ledger, StoreError> {
        Ledger::create_with(dir, genesis, true)
    }

    /// [`Ledger::create`] for a ledger that keeps no key history index (an
    /// orderer's: history is a peer query). Recorded in the ledger, so it
    /// holds for its whole life; [`crate::verify::verify_ledger`] then
    /// requires the index to be empty, and a history query is refused.
    pub fn create_without_history(dir: &Path, genesis: &Block) -> Result<Ledger, StoreError> {
        Ledger::create_with(dir, genesis, false)
    }

    fn create_with(dir: &Path, genesis: &Block, history: bool) -> Result<Ledger, StoreError> {
        private_file::create_dir_all(dir)?;
        let path = dir.join(LEDGER_FILE);
        if path.exists() {
            return Err(StoreError::Exists {
                path: dir.display().to_string(),
            });
        }
        let config = crate::genesis::genesis_config(genesis)?;
        // redb would create the file with the process umask (often 0644);
        // an empty 0600 file made first is what it initializes instead.
        private_file::touch(&path)?;
        let db = open_db(&path, true)?;
        let w = db.begin_write().map_err(|e| StoreError::db("begin", e))?;
        for t in [STATE, METADATA, TXIDS] {
            w.open_table(t)
                .map_err(|e| StoreError::db("create table", e))?;
        }
        w.open_table(BLOCKS)
            .map_err(|e| StoreError::db("create table", e))?;
        w.open_table(HISTORY)
            .map_err(|e| StoreError::db("create table", e))?;
        w.open_table(TREE)
            .map_err(|e| StoreError::db("create table", e))?;
        let mut meta = w
            .open_table(META)
            .map_err(|e| StoreError::db("create table", e))?;
        if !history {
            meta.insert(MetaKey::NO_HISTORY, [].as_slice())
                .map_err(|e| StoreError::db("write meta", e))?;
        }
        drop(meta);
        w.commit().map_err(|e| StoreError::db("commit", e))?;
        create_private_tables(&db)?;
        let ledger = Ledger {
            db: RwLock::new(Some(Arc::new(db))),
            path: dir.to_path_buf(),
            tip: RwLock::new(Tip {
                history,
                height: 0,
                last_hash: Digest::default(),
                tree_size: 0,
                ctx: Arc::new(ChannelContext::new(config)?),
                config_block: 0,
            }),
            member_org: RwLock::new(None),
            sealed: std::sync::Mutex::new(None),
            unsynced: Default::default(),
        };
        ledger.commit(genesis)?;
        Ok(ledger)
    }

    /// Opens an existing ledger in `dir` at its last committed block.
    pub fn open(dir: &Path) -> Result<Ledger, StoreError> {
        let path = dir.join(LEDGER_FILE);
        if !path.exists() {
            return Err(StoreError::Missing {
                path: dir.display().to_string(),
            });
        }
        // Ledgers created before this rule may be readable by others.
        private_file::restrict(&path)?;
        let db = open_db(&path, false)?;
        // Ledgers created before private data have no private tables yet.
        create_private_tables(&db)?;
        let damage = crate::integrity::scan(&db)?;
        if let Some(first) = damage.first() {
            return Err(StoreError::DamagedBlock {
                path: dir.display().to_string(),
                number: first.number,
                reason: first.reason.clone(),
                more: match damage.len() {
                    1 => String::new(),
                    n => format!(" ({} more damaged blocks)", n - 1),
                },
            });
        }
        let tip = load_tip(&db)?;
        let member_org = load_member_org(&db)?;
        info!(path = %dir.display(), height = tip.height, "ledger opened");
        Ok(Ledger {
            db: RwLock::new(Some(Arc::new(db))),
            path: dir.to_path_buf(),
            tip: RwLock::new(tip),
            member_org: RwLock::new(member_org),
            sealed: std::sync::Mutex::new(None),
            unsynced: Default::default(),
        })
    }

    /// The open database, reopening it first if an I/O error closed it.
    pub(crate) fn db(&self) -> Result<Arc<Database>, StoreError> {
        if let Some(db) = self.db.read().unwrap_or_else(|p| p.into_inner()).as_ref() {
            return Ok(db.clone());
        }
        self.reopen()
    }

    /// After a failed write: redb refuses every later transaction once an
    /// I/O error (a full disk) interrupted one, until the database is
    /// reopened. Reopen it, so the node commits again once the cause is
    /// gone, without a restart.
    fn heal_after_failed_write(&self) {
        let Ok(db) = self.db() else { return };
        let poisoned = match db.begin_write() {
            Ok(_) => false,
            Err(e) => matches!(redb::Error::from(e), redb::Error::PreviousIo),
        };
        drop(db);
        if poisoned {
            let mut guard = self.db.write().unwrap_or_else(|p| p.into_inner());
            *guard = None;
            drop(guard);
            match self.reopen() {
                Ok(_) => {
                    info!(path = %self.path.display(), "ledger database reopened after an I/O error")
                }
                Err(e) => {
                    warn!(path = %self.path.display(), error = %e, "reopening the ledger database after an I/O error failed; will retry")
                }
            }
        }
    }

    /// Opens the database again (redb then recovers to its last durable
    /// commit) and reloads the tip from it.
    fn reopen(&self) -> Result<Arc<Database>, StoreError> {
        let mut guard = self.db.write().unwrap_or_else(|p| p.into_inner());
        if let Some(db) = guard.as_ref() {
            return Ok(db.clone());
        }
        // redb holds the file lock until the last transaction on the old
        // handle is gone; readers finish quickly.
        let path = self.path.join(LEDGER_FILE);
        let mut tries = 0;
        let db = loop {
            match open_db(&path, false) {
                Ok(db) => break Arc::new(db),
                Err(StoreError::InUse { .. }) if tries < 50 => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Err(e) => return Err(e),
            }
        };
        let tip = load_tip(&db)?;
        *self.tip.write().unwrap_or_else(|p| p.into_inner()) = tip;
        // What was deferred is gone with the old handle: nothing awaits a sync.
        self.unsynced
            .store(false, std::sync::atomic::Ordering::SeqCst);
        *guard = Some(db.clone());
        Ok(db)
    }

    /// The directory holding this ledger.
    pub fn dir(&self) -> &Path {
        &self.path
    }

    /// Number of committed blocks.
    pub fn height(&self) -> u64 {
        self.read_tip().height
    }

    /// The channel configuration in force.
    pub fn config(&self) -> ChannelConfig {
        self.read_tip().ctx.config().clone()
    }

    /// The channel context (config, MSPs, parsed policies) in force.
    pub fn context(&self) -> Arc<ChannelContext> {
        self.read_tip().ctx.clone()
    }

    /// Number of leaves in the transaction tree (transactions ever ordered).
    pub fn tree_size(&self) -> u64 {
        self.read_tip().tree_size
    }

    /// A consistent read snapshot of everything committed so far.
    pub fn snapshot(&self) -> Result<Snapshot, StoreError> {
        let txn = self
            .db()?
            .begin_read()
            .map_err(|e| StoreError::db("begin read", e))?;
        let meta_height = txn
            .open_table(BLOCKS)
            .map_err(|e| StoreError::db("open blocks", e))?
            .last()
            .map_err(|e| StoreError::db("read blocks", e))?
            .map(|(k, _)| k.value() + 1)
            .unwrap_or(0);
        Ok(Snapshot {
            txn,
            height: meta_height,
        })
    }

    /// The block with this number.
    pub fn block(&self, number: u64) -> Result<Option<Block>, StoreError> {
        self.snapshot()?
            .block(number)
            .map_err(|e| StoreError::Corrupt {
                what: format!("block {number}"),
                reason: e.to_string(),
            })
    }

    /// The stored bytes of the block with this number (see [`Snapshot::block_bytes`]).
    pub fn block_bytes(&self, number: u64) -> Result<Option<Vec<u8>>, StoreError> {
        self.snapshot()?
            .block_bytes(number)
            .map_err(|e| StoreError::Corrupt {
                what: format!("block {number}"),
                reason: e.to_string(),
            })
    }

    /// Where a transaction is and its validation code.
    pub fn tx(&self, txid: &TxId) -> Result<Option<TxLocation>, StoreError> {
        self.snapshot()?
            .tx_location(txid)
            .map_err(|e| StoreError::Corrupt {
                what: format!("tx index entry {txid}"),
                reason: e.to_string(),
            })
    }

    /// Validates `data` as the next block on the current state, and builds
    /// and signs that block without committing it (the orderer's job).
    pub fn seal(
        &self,
        data: Vec<Vec<u8>>,
        timestamp: Timestamp,
        signer: &SigningIdentity,
    ) -> Result<Block, StoreError> {
        let tip = self.read_tip_clone();
        let snap = self.snapshot()?;
        let result = validate_block(&tip.ctx, tip.height, timestamp, &data, &snap)?;
        let (nodes, root) = tree_update(&snap, tip.tree_size, &data, &result)?;
        let header = BlockHeader {
            channel: tip.ctx.config().name.clone(),
            number: tip.height,
            previous_hash: tip.last_hash,
            data_hash: Block::compute_data_hash(&data),
            timestamp,
            tree_size: tip.tree_size + data.len() as u64,
            tree_root: Digest::from(*root.as_bytes()),
        };
        let signature = HeaderSignature {
            signer: signer.identity().der().to_vec(),
            signature: signer.sign(&header.signed_bytes(signer.identity().der())?),
        };
        let codes = result.codes();
        *self.sealed.lock().unwrap_or_else(|p| p.into_inner()) = Some(Sealed {
            number: header.number,
            previous_hash: header.previous_hash,
            data_hash: header.data_hash,
            result,
            nodes,
            root,
        });
        Ok(Block {
            header,
            data,
            metadata: BlockMetadata {
                validation_codes: codes,
                signatures: vec![signature],
                last_config: tip.config_block,
            },
        })
    }

    /// Seals and commits the next block (a single orderer, or tests).
    pub fn append(
        &self,
        data: Vec<Vec<u8>>,
        timestamp: Timestamp,
        signer: &SigningIdentity,
    ) -> Result<Block, StoreError> {
        let block = self.seal(data, timestamp, signer)?;
        self.commit(&block)?;
        Ok(block)
    }

    /// Checks `block` (number, hash chain, data hash, orderer signature),
    /// validates it independently, checks that the codes and tree root agree
    /// with the block's, and commits it in one write transaction. Private
    /// writes are committed as hashes only (as by a peer that received no
    /// private data); see [`Ledger::commit_with_private`].
    pub fn commit(&self, block: &Block) -> Result<CommitSummary, StoreError> {
        self.commit_with_private(block, &PrivateData::new())
    }

    /// [`Ledger::commit`], plus the block's private data as this peer has it
    /// (from its transient store, by txid). In the same write transaction:
    /// every ledger applies the hashed private writes; if the member org is
    /// set and belongs to a written collection, each supplied value that
    /// matches the block's hashes is stored, and each put whose value is
    /// absent or wrong is recorded as missing (see
    /// [`Ledger::missing_private_data`]). Values of other collections are
    /// never stored. Private data whose blockToLive ends with this block is
    /// purged (its hash stays).
    pub fn commit_with_private(
        &self,
        block: &Block,
        private: &PrivateData,
    ) -> Result<CommitSummary, StoreError> {
        self.commit_checked(
            block,
            |_| Ok(Cow::Borrowed(private)),
            false,
            Durable::default(),
        )
    }

    /// [`Ledger::commit_with_private`], where the private data is looked up
    /// by `lookup` once validation has decoded the block (given each
    /// transaction's id, `None` where it did not decode): the block's
    /// envelopes are decoded once. If `lookup` fails, nothing is written.
    pub fn commit_looking_up(
        &self,
        block: &Block,
        lookup: impl FnOnce(&[Option<TxId>]) -> PrivateData,
    ) -> Result<CommitSummary, StoreError> {
        self.commit_looking_up_with(block, lookup, Durability::Immediate)
    }

    /// [`Ledger::commit_looking_up`] with the given durability: a peer
    /// defers all but some of its commits, since every block it commits is
    /// held durably by the channel's orderers and is fetched again after a
    /// crash (see [`Durability::Deferred`]).
    pub fn commit_looking_up_with(
        &self,
        block: &Block,
        lookup: impl FnOnce(&[Option<TxId>]) -> PrivateData,
        durability: Durability,
    ) -> Result<CommitSummary, StoreError> {
        self.commit_checked(
            block,
            |txids| Ok(Cow::Owned(lookup(txids))),
            false,
            Durable {
                sidecar: &[],
                durability,
            },
        )
    }

    /// [`Ledger::commit`] for an orderer applying a block its own Raft
    /// cluster's leader sealed: the signatures of the transactions the
    /// block's codes mark `VALID` are not verified again (see
    /// `cairn_ledger::validate::validate_sealed_block`); every other check
    /// runs, and the codes and tree root must still agree. Peers and blocks
    /// fetched from elsewhere use [`Ledger::commit`].
    pub fn commit_sealed(&self, block: &Block) -> Result<CommitSummary, StoreError> {
        self.commit_sealed_with(block, &[], Durability::Immediate)
    }

    /// [`Ledger::commit_sealed`], writing `sidecar` values (see
    /// [`Ledger::sidecar`]) in the block's own write transaction, with the
    /// given durability: the orderer records its Raft applied pointer with
    /// each block this way, so that a crash can never leave the two apart.
    pub fn commit_sealed_with(
        &self,
        block: &Block,
        sidecar: &[(&str, Vec<u8>)],
        durability: Durability,
    ) -> Result<CommitSummary, StoreError> {
        let none = PrivateData::new();
        self.commit_checked(
            block,
            |_| Ok(Cow::Borrowed(&none)),
            true,
            Durable {
                sidecar,
                durability,
            },
        )
    }

    fn commit_checked<'p>(
        &self,
        block: &Block,
        private: impl FnOnce(&[Option<TxId>]) -> Result<Cow<'p, PrivateData>, StoreError>,
        sealed_by_own_leader: bool,
        how: Durable<'_>,
    ) -> Result<CommitSummary, StoreError> {
        let tip = self.read_tip_clone();
        let n = block.header.number;
        if n != tip.height {
            return Err(StoreError::OutOfOrder {
                expected: tip.height,
                got: n,
            });
        }
        crate::check::check_block_shape(block, &tip.ctx, tip.last_hash, tip.config_block)?;
        // The block this ledger just sealed, on this very tip (the shape
        // check proved the data are the ones hashed): its validation stands.
        let sealed = if sealed_by_own_leader {
            self.sealed
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take()
                .filter(|s| {
                    s.number == n
                        && s.previous_hash == tip.last_hash
                        && s.data_hash == block.header.data_hash
                })
        } else {
            None
        };
        let snap = self.snapshot()?;
        let (result, tree) = match sealed {
            Some(s) => (s.result, Some((s.nodes, s.root))),
            None => (
                validate_for_commit(&tip, block, &snap, sealed_by_own_leader)?,
                None,
            ),
        };
        for (index, (ours, theirs)) in result
            .codes()
            .into_iter()
            .zip(block.metadata.validation_codes.iter().copied())
            .enumerate()
        {
            if ours != theirs {
                return Err(StoreError::CodeMismatch {
                    number: n,
                    index,
                    theirs,
                    ours,
                });
            }
        }
        let (nodes, root) = match tree {
            Some(t) => t,
            None => tree_update(&snap, tip.tree_size, &block.data, &result)?,
        };
        if root.as_bytes() != block.header.tree_root.as_bytes()
            || tip.tree_size + block.data.len() as u64 != block.header.tree_size
        {
            return Err(StoreError::BadBlock {
                number: n,
                reason: "tree size or root in the header does not match the transactions".into(),
            });
        }
        drop(snap);
        let txids: Vec<Option<TxId>> = result.txs.iter().map(|t| t.txid).collect();
        let private = private(&txids)?;
        let private = private.as_ref();
        let new_ctx = result
            .new_config()
            .map(|c| ChannelContext::new(c.clone()).map(Arc::new))
            .transpose()?;
        let db = self.db()?;
        let written = (|| {
            let w = db
                .begin_write()
                .map_err(|e| StoreError::db("begin write", e))?;
            write_block(&w, block, &result, tip.tree_size, &nodes, tip.history)
                .map_err(|e| e.into_store("write block"))?;
            let member_org = self.member_org();
            let private = write_private(&w, n, &result, private, member_org.as_deref())
                .map_err(|e| e.into_store("write private data"))?;
            crate::durability::write_sidecar(&w, how.sidecar)?;
            self.commit_write(w, how.durability)?;
            Ok::<_, StoreError>(private)
        })();
        let private = match written {
            Ok(p) => p,
            Err(e) => {
                drop(db);
                self.heal_after_failed_write();
                return Err(e);
            }
        };
        cairn_counters::inc(cairn_counters::Counter::Block);
        cairn_counters::add(cairn_counters::Counter::Tx, block.data.len() as u64);
        let valid = result.valid_count();
        let hash = block.header.hash()?;
        {
            let mut t = self.tip.write().unwrap_or_else(|p| p.into_inner());
            t.height = n + 1;
            t.last_hash = hash;
            t.tree_size = block.header.tree_size;
            if let Some(ctx) = new_ctx {
                t.ctx = ctx;
                t.config_block = n;
            }
        }
        info!(
            block = n,
            txs = block.data.len(),
            valid,
            private_stored = private.stored,
            private_missing = private.missing,
            "block committed"
        );
        Ok(CommitSummary {
            number: n,
            txs: block.data.len(),
            valid,
            hash,
            private,
            txids,
        })
    }

    /// A receipt for a transaction: its envelope and leaf, its inclusion
    /// proof in the tree as of its block, that block's signed header and the
    /// previous block's header (which proves where the block's leaves start).
    pub fn receipt(&self, txid: &TxId) -> Result<Receipt, StoreError> {
        let snap = self.snapshot()?;
        let loc = snap
            .tx_location(txid)
            .map_err(|e| StoreError::Corrupt {
                what: "tx index".into(),
                reason: e.to_string(),
            })?
            .ok_or_else(|| StoreError::UnknownTx(txid.to_string()))?;
        let read_block = |n: u64| {
            snap.block(n)
                .map_err(|e| StoreError::Corrupt {
                    what: format!("block {n}"),
                    reason: e.to_string(),
                })?
                .ok_or_else(|| StoreError::Corrupt {
                    what: format!("block {n}"),
                    reason: format!("missing, but the tx index points into block {}", loc.block),
                })
        };
        let block = read_block(loc.block)?;
        let previous = match loc.block.checked_sub(1) {
            Some(n) => Some(read_block(n)?.header),
            None => None,
        };
        let proof = cairn_merkle::inclusion_proof(&snap, loc.leaf, block.header.tree_size)
            .map_err(|e| StoreError::Corrupt {
                what: "transaction tree".into(),
                reason: e.to_string(),
            })?;
        let corrupt = |reason: String| StoreError::Corrupt {
            what: format!("receipt of {txid}"),
            reason,
        };
        let receipt = Receipt::build(&block, previous.as_ref(), u64::from(loc.index), proof)
            .map_err(|e| corrupt(e.to_string()))?;
        if receipt.txid != *txid {
            return Err(corrupt(format!(
                "the tx index points at transaction {} (block {}, position {})",
                receipt.txid, loc.block, loc.index
            )));
        }
        Ok(receipt)
    }

    /// A proof that the tree of `new_size` transactions extends the tree of `old_size`.
    pub fn consistency_proof(
        &self,
        old_size: u64,
        new_size: u64,
    ) -> Result<ConsistencyProof, StoreError> {
        let snap = self.snapshot()?;
        cairn_merkle::consistency_proof(&snap, old_size, new_size).map_err(|e| {
            StoreError::Corrupt {
                what: "transaction tree".into(),
                reason: e.to_string(),
            }
        })
    }

    fn read_tip(&self) -> std::sync::RwLockReadGuard<'_, Tip> {
        self.tip.read().unwrap_or_else(|p| p.into_inner())
    }

    fn read_tip_clone(&self) -> Tip {
        let t = self.read_tip();
        Tip {
            history: t.history,
            height: t.height,
            last_hash: t.last_hash,
            tree_size: t.tree_size,
            ctx: t.ctx.clone(),
            config_block: t.config_block,
        }
    }
}

/// Validates a block to commit: fully, or, for a block the orderer's own
/// Raft leader sealed, without re-verifying the signatures its codes mark
/// valid (see `validate_sealed_block`).
fn validate_for_commit(
    tip: &Tip,
    block: &Block,
    snap: &Snapshot,
    sealed_by_own_leader: bool,
) -> Result<BlockResult, StoreError> {
    let h = &block.header;
    Ok(if sealed_by_own_leader {
        validate_sealed_block(
            &tip.ctx,
            h.number,
            h.timestamp,
            &block.data,
            snap,
            &block.metadata.validation_codes,
        )?
    } else {
        validate_block(&tip.ctx, h.number, h.timestamp, &block.data, snap)?
    })
}

pub(crate) fn tree_update<S: NodeStore>(
    store: &S,
    size: u64,
    data: &[Vec<u8>],
    result: &BlockResult,
) -> Result<(Vec<Node>, Hash), StoreError> {
    let leaves: Vec<Hash> = data
        .iter()
        .zip(result.txs.iter())
        .map(|(env, tx)| cairn_merkle::leaf_hash(&tx_leaf(&cairn_crypto::sha256(env), tx.code)))
        .collect();
    let corrupt = |e: cairn_merkle::TreeError<S::Error>| StoreError::Corrupt {
        what: "transaction tree".into(),
        reason: e.to_string(),
    };
    let nodes = cairn_merkle::append_batch(store, size, &leaves).map_err(corrupt)?;
    let overlay = Overlaid {
        base: store,
        nodes: &nodes,
    };
    let root = cairn_merkle::root(&overlay, size + leaves.len() as u64).map_err(|e| {
        StoreError::Corrupt {
            what: "transaction tree".into(),
            reason: e.to_string(),
        }
    })?;
    Ok((nodes, root))
}

/// A node store plus nodes not yet written.
struct Overlaid<'a, S> {
    base: &'a S,
    nodes: &'a [Node],
}

impl<S: NodeStore> NodeStore for Overlaid<'_, S> {
    type Error = S::Error;

    fn node(&self, level: u8, index: u64) -> Result<Option<Hash>, S::Error> {
        if let Some(n) = self
            .nodes
            .iter()
            .rev()
            .find(|n| n.level == level && n.index == index)
        {
            return Ok(Some(n.hash));
        }
        self.base.node(level, index)
    }
}

fn write_block(
    w: &WriteTransaction,
    block: &Block,
    result: &BlockResult,
    tree_size: u64,
    nodes: &[Node],
    keep_history: bool,
) -> Result<(), WriteError> {
    let n = block.header.number;
    let bytes = block.encode()?;
    w.open_table(BLOCK_SUMS)?
        .insert(n, cairn_crypto::sha256(&bytes).as_bytes().as_slice())?;
    w.open_table(BLOCKS)?.insert(n, bytes.as_slice())?;
    let mut txids = w.open_table(TXIDS)?;
    let mut state = w.open_table(STATE)?;
    let mut metadata = w.open_table(METADATA)?;
    let mut history = w.open_table(HISTORY)?;
    for (i, tx) in result.txs.iter().enumerate() {
        let index = u32::try_from(i).unwrap_or(u32::MAX);
        if let Some(txid) = tx.txid {
            let key = txid.as_bytes().as_slice();
            if txids.get(key)?.is_none() {
                let loc = TxLocation {
                    block: n,
                    index,
                    leaf: tree_size + i as u64,
                    code: tx.code,
                };
                txids.insert(key, loc.encode()?.as_slice())?;
            }
        }
        let version = cairn_ledger::ids::Version {
            block: n,
            tx: index,
        };
        for (ns, wr) in &tx.effects.writes {
            let k = state_key(ns, &wr.key);
            if wr.is_delete {
                state.remove(k.as_slice())?;
            } else {
                let v = cairn_ledger::state::VersionedValue {
                    value: wr.value.clone(),
                    version,
                };
                state.insert(k.as_slice(), v.encode()?.as_slice())?;
            }
            if keep_history {
                history.insert(history_key(ns, &wr.key, n, index).as_slice(), ())?;
            }
        }
        for (ns, m) in &tx.effects.metadata_writes {
            let k = state_key(ns, &m.key);
            if m.entries.is_empty() {
                metadata.remove(k.as_slice())?;
            } else {
                metadata.insert(k.as_slice(), m.entries.encode()?.as_slice())?;
            }
        }
    }
    let mut tree = w.open_table(TREE)?;
    for node in nodes {
        tree.insert((node.level, node.index), node.hash.as_bytes().as_slice())?;
    }
    if let Some(config) = result.new_config() {
        let mut meta = w.open_table(META)?;
        meta.insert(MetaKey::CONFIG, config.encode()?.as_slice())?;
        meta.insert(MetaKey::CONFIG_BLOCK, n.to_be_bytes().as_slice())?;
    }
    Ok(())
}
