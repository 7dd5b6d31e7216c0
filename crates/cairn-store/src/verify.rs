//! `cairn ledger verify`: re-derive everything in a stored ledger from its
//! blocks and compare, naming the first bad block.
//!
//! Checks, block by block: its bytes hash to the record committed with
//! them ([`crate::integrity`]); it decodes; numbers are contiguous; the hash chain;
//! the data hash; an orderer signature under the channel config in force;
//! validation from scratch gives the stored codes; the rebuilt transaction
//! tree gives the header's size and root. Then every stored table (state,
//! metadata, history, hashed private state, txid index, tree, config) is
//! compared with what the blocks produce. (Cleartext private data is not in
//! blocks, so it cannot be rebuilt; it is checked against the hashes when
//! it is stored.) A mismatching state entry is blamed on the block that
//! wrote the entry's correct (rebuilt) version.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use cairn_crypto::Digest;
use cairn_ledger::block::{Block, tx_leaf};
use cairn_ledger::encoding::Canonical;
use cairn_ledger::memory::MemoryState;
use cairn_ledger::rwset::MetadataEntry;
use cairn_ledger::state::{HashedValue, VersionedValue};
use cairn_ledger::validate::{ChannelContext, validate_block};
use cairn_merkle::{MemoryStore, NodeStore};
use redb::{ReadableDatabase, ReadableTable, ReadableTableMetadata};

use crate::error::StoreError;
use crate::ledger::LEDGER_FILE;
use crate::tables::{
    BLOCKS, HISTORY, META, METADATA, MetaKey, PVT_HASHED, STATE, TREE, TXIDS, TxLocation,
    split_state_key,
};

/// What a successful verification covered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyReport {
    /// The channel.
    pub channel: String,
    /// Blocks checked.
    pub blocks: u64,
    /// Transactions checked.
    pub txs: u64,
    /// Of which valid.
    pub valid: u64,
    /// The final tree root.
    pub tree_root: Digest,
}

/// Why a ledger failed verification.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The ledger could not be opened or read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A block, or something derived from it, is wrong.
    #[error("block {number}: {reason}")]
    BadBlock {
        /// The first bad block.
        number: u64,
        /// What is wrong.
        reason: String,
    },
    /// Something is wrong that no block explains.
    #[error("{0}")]
    Other(String),
}

fn bad(number: u64, reason: impl Into<String>) -> VerifyError {
    VerifyError::BadBlock {
        number,
        reason: reason.into(),
    }
}

fn dberr(e: impl Into<redb::Error>) -> VerifyError {
    VerifyError::Store(StoreError::db("read", e))
}

/// Verifies the ledger in `dir` (see the module doc), calling `progress`
/// after each block with (blocks done, blocks total).
pub fn verify_ledger(
    dir: &Path,
    progress: impl FnMut(u64, u64),
) -> Result<VerifyReport, VerifyError> {
    let path = dir.join(LEDGER_FILE);
    if !path.exists() {
        return Err(StoreError::Missing {
            path: dir.display().to_string(),
        }
        .into());
    }
    let db = redb::Database::open(&path).map_err(|e| match e {
        redb::DatabaseError::DatabaseAlreadyOpen => VerifyError::Store(StoreError::InUse {
            path: dir.display().to_string(),
        }),
        e => VerifyError::Store(StoreError::db("open", e)),
    })?;
    verify_database(&db, progress)
}

/// [`verify_ledger`] on an open database.
pub fn verify_database(
    db: &redb::Database,
    mut progress: impl FnMut(u64, u64),
) -> Result<VerifyReport, VerifyError> {
    if let Some(d) = crate::integrity::scan(db)?.into_iter().next() {
        return Err(bad(d.number, format!("damaged: {}", d.reason)));
    }
    let r = db.begin_read().map_err(dberr)?;
    let blocks = r.open_table(BLOCKS).map_err(dberr)?;
    let total = blocks.len().map_err(dberr)?;

    let mut state = MemoryState::default();
    let mut tree = MemoryStore::new();
    let mut ctx: Option<ChannelContext> = None;
    let mut prev = Digest::default();
    let mut txlocs: BTreeMap<[u8; 32], TxLocation> = BTreeMap::new();
    let mut history: BTreeSet<Vec<u8>> = BTreeSet::new();
    let (mut txs, mut valid) = (0u64, 0u64);
    let mut expected = 0u64;
    let mut config_block = 0u64;
    let mut block_starts: Vec<u64> = Vec::new();
    for item in blocks.iter().map_err(dberr)? {
        let (k, v) = item.map_err(dberr)?;
        let n = k.value();
        if n != expected {
            return Err(bad(
                expected,
                format!("missing (the next stored block is {n})"),
            ));
        }
        let block =
            Block::decode(v.value()).map_err(|e| bad(n, format!("does not decode: {e}")))?;
        if block.header.number != n {
            return Err(bad(
                n,
                format!(
                    "stored as block {n} but its header says {}",
                    block.header.number
                ),
            ));
        }
        if n == 0 {
            let config =
                crate::genesis::genesis_config(&block).map_err(|e| bad(0, e.to_string()))?;
            ctx = Some(ChannelContext::new(config).map_err(|e| bad(0, e.to_string()))?);
        }
        let Some(c) = ctx.as_ref() else {
            return Err(bad(n, "no channel configuration"));
        };
        crate::check::check_block_shape(&block, c, prev, config_block)
            .map_err(|e| bad(n, strip(e)))?;
        let result = validate_block(c, n, block.header.timestamp, &block.data, &state)
            .map_err(|e| bad(n, e.to_string()))?;
        for (i, (ours, theirs)) in result
            .codes()
            .iter()
            .zip(&block.metadata.validation_codes)
            .enumerate()
        {
            if ours != theirs {
                return Err(bad(
                    n,
                    format!("tx {i} is recorded {theirs} but validates as {ours}"),
                ));
            }
        }
        block_starts.push(tree.size());
        for (i, (env, tx)) in block.data.iter().zip(&result.txs).enumerate() {
            let leaf = tree.push(cairn_merkle::leaf_hash(&tx_leaf(
                &cairn_crypto::sha256(env),
                tx.code,
            )));
            if let Some(txid) = tx.txid {
                txlocs.entry(*txid.as_bytes()).or_insert(TxLocation {
                    block: n,
                    index: i as u32,
                    leaf,
                    code: tx.code,
                });
            }
            for (ns, w) in &tx.effects.writes {
                history.insert(crate::tables::history_key(ns, &w.key, n, i as u32));
            }
        }
        let root = cairn_merkle::root(&tree, tree.size()).map_err(|e| bad(n, e.to_string()))?;
        if tree.size() != block.header.tree_size
            || root.as_bytes() != block.header.tree_root.as_bytes()
        {
            return Err(bad(
                n,
                "transaction tree size or root does not match the header",
            ));
        }
        state.apply(n, &result);
        txs += block.data.len() as u64;
        valid += result.valid_count() as u64;
        if let Some(cfg) = result.new_config() {
            ctx = Some(ChannelContext::new(cfg.clone()).map_err(|e| bad(n, e.to_string()))?);
            config_block = n;
        }
        prev = block.header.hash().map_err(|e| bad(n, e.to_string()))?;
        expected = n + 1;
        progress(expected, total);
    }
    let Some(ctx) = ctx else {
        return Err(VerifyError::Other("the ledger holds no blocks".into()));
    };
    compare_state(&r, &state)?;
    compare_hashed(&r, &state)?;
    let meta = r.open_table(META).map_err(dberr)?;
    if meta.get(MetaKey::NO_HISTORY).map_err(dberr)?.is_some() {
        // A ledger created without the index: it must hold none.
        history.clear();
    }
    compare_indexes(&r, &txlocs, &history, &tree, &block_starts)?;
    let cfg = meta
        .get(MetaKey::CONFIG)
        .map_err(dberr)?
        .map(|v| v.value().to_vec());
    let config = ctx
        .config()
        .encode()
        .map_err(|e| VerifyError::Other(e.to_string()))?;
    if cfg.as_deref() != Some(config.as_slice()) {
        return Err(VerifyError::Other(
            "stored channel configuration differs from the one the blocks set".into(),
        ));
    }
    let tree_root =
        cairn_merkle::root(&tree, tree.size()).map_err(|e| VerifyError::Other(e.to_string()))?;
    Ok(VerifyReport {
        channel: ctx.config().name.clone(),
        blocks: expected,
        txs,
        valid,
        tree_root: Digest::from(*tree_root.as_bytes()),
    })
}

fn strip(e: StoreError) -> String {
    match e {
        StoreError::BadBlock { reason, .. } => reason,
        e => e.to_string(),
    }
}

fn compare_state(r: &redb::ReadTransaction, rebuilt: &MemoryState) -> Result<(), VerifyError> {
    let t = r.open_table(STATE).map_err(dberr)?;
    let mut seen = 0usize;
    for item in t.iter().map_err(dberr)? {
        let (k, v) = item.map_err(dberr)?;
        let Some((ns, key)) = split_state_key(k.value()) else {
            return Err(VerifyError::Other(format!(
                "state entry {:?} has no namespace",
                k.value()
            )));
        };
        let stored = VersionedValue::decode(v.value()).ok();
        match rebuilt.state.get(&(ns.clone(), key.clone())) {
            Some(want) => {
                if stored.as_ref() != Some(want) {
                    return Err(bad(
                        want.version.block,
                        format!("state entry {ns}/{key} differs from what this block wrote"),
                    ));
                }
            }
            None => {
                let blame = stored.map(|s| s.version.block);
                return Err(match blame {
                    Some(b) => bad(
                        b,
                        format!(
                            "state entry {ns}/{key} exists but no valid transaction of this block wrote it"
                        ),
                    ),
                    None => VerifyError::Other(format!(
                        "state entry {ns}/{key} exists but no block wrote it"
                    )),
                });
            }
        }
        seen += 1;
    }
    if seen != rebuilt.state.len() {
        let stored: BTreeSet<(String, String)> = t
            .iter()
            .map_err(dberr)?
            .filter_map(|i| i.ok().and_then(|(k, _)| split_state_key(k.value())))
            .collect();
        if let Some(((ns, key), v)) = rebuilt.state.iter().find(|(k, _)| !stored.contains(*k)) {
            return Err(bad(
                v.version.block,
                format!("state entry {ns}/{key} written by this block is missing"),
            ));
        }
    }
    let m = r.open_table(METADATA).map_err(dberr)?;
    let mut stored_meta = BTreeMap::new();
    for item in m.iter().map_err(dberr)? {
        let (k, v) = item.map_err(dberr)?;
        let key = split_state_key(k.value())
            .ok_or_else(|| VerifyError::Other("metadata key without namespace".into()))?;
        stored_meta.insert(key, Vec::<MetadataEntry>::decode(v.value()).ok());
    }
    let rebuilt_meta: BTreeMap<_, _> = rebuilt
        .metadata
        .iter()
        .map(|(k, v)| (k.clone(), Some(v.clone())))
        .collect();
    if stored_meta != rebuilt_meta {
        let key = stored_meta
            .iter()
            .find(|(k, v)| rebuilt_meta.get(*k) != Some(*v))
            .map(|(k, _)| k.clone())
            .or_else(|| {
                rebuilt_meta
                    .keys()
                    .find(|k| !stored_meta.contains_key(*k))
                    .cloned()
            });
        let (ns, key) = key.unwrap_or_default();
        return Err(VerifyError::Other(format!(
            "key metadata of {ns}/{key} differs from what the blocks wrote"
        )));
    }
    Ok(())
}

/// The hashed private state must be exactly what the blocks' valid hashed
/// writes leave (cleartext cannot be rebuilt from blocks: it is not in them).
fn compare_hashed(r: &redb::ReadTransaction, rebuilt: &MemoryState) -> Result<(), VerifyError> {
    let t = match r.open_table(PVT_HASHED) {
        Ok(t) => t,
        // A ledger written before private data existed, never reopened since.
        Err(redb::TableError::TableDoesNotExist(_)) if rebuilt.hashed.is_empty() => return Ok(()),
        Err(e) => return Err(dberr(e)),
    };
    let mut stored = BTreeMap::new();
    for item in t.iter().map_err(dberr)? {
        let (k, v) = item.map_err(dberr)?;
        let key = crate::private::keys::parse_hashed_key(k.value())
            .ok_or_else(|| VerifyError::Other("hashed private state key is malformed".into()))?;
        stored.insert(key, HashedValue::decode(v.value()).ok());
    }
    for ((ns, coll, kh), want) in &rebuilt.hashed {
        let key = (ns.clone(), coll.clone(), *kh);
        if stored.remove(&key) != Some(Some(*want)) {
            return Err(bad(
                want.version.block,
                format!(
                    "hashed private state of {ns}/{coll}/{kh} differs from what this block wrote"
                ),
            ));
        }
    }
    if let Some(((ns, coll, kh), v)) = stored.into_iter().next() {
        return Err(match v {
            Some(v) => bad(
                v.version.block,
                format!(
                    "hashed private state {ns}/{coll}/{kh} exists but no valid transaction of this block wrote it"
                ),
            ),
            None => VerifyError::Other(format!(
                "hashed private state {ns}/{coll}/{kh} is corrupted"
            )),
        });
    }
    Ok(())
}

fn compare_indexes(
    r: &redb::ReadTransaction,
    txlocs: &BTreeMap<[u8; 32], TxLocation>,
    history: &BTreeSet<Vec<u8>>,
    tree: &MemoryStore,
    block_starts: &[u64],
) -> Result<(), VerifyError> {
    let t = r.open_table(TXIDS).map_err(dberr)?;
    let mut count = 0usize;
    for item in t.iter().map_err(dberr)? {
        let (k, v) = item.map_err(dberr)?;
        let key: [u8; 32] = k
            .value()
            .try_into()
            .map_err(|_| VerifyError::Other("txid index key is not 32 bytes".into()))?;
        let want = txlocs.get(&key).ok_or_else(|| {
            VerifyError::Other(format!(
                "txid index names {} which no block holds",
                hex_of(&key)
            ))
        })?;
        if TxLocation::decode(v.value()).ok().as_ref() != Some(want) {
            return Err(bad(
                want.block,
                format!("txid index entry of tx {} is wrong", want.index),
            ));
        }
        count += 1;
    }
    if count != txlocs.len() {
        let (_, loc) = txlocs
            .iter()
            .find(|(k, _)| t.get(k.as_slice()).ok().flatten().is_none())
            .ok_or_else(|| VerifyError::Other("txid index size differs".into()))?;
        return Err(bad(
            loc.block,
            format!("txid index entry of tx {} is missing", loc.index),
        ));
    }
    let h = r.open_table(HISTORY).map_err(dberr)?;
    let stored: BTreeSet<Vec<u8>> = h
        .iter()
        .map_err(dberr)?
        .map(|i| i.map(|(k, _)| k.value().to_vec()))
        .collect::<Result<_, _>>()
        .map_err(dberr)?;
    if let Some(k) = stored.symmetric_difference(history).next() {
        let block = k
            .len()
            .checked_sub(12)
            .and_then(|p| k.get(p..p + 8))
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map(u64::from_be_bytes);
        return Err(match block {
            Some(b) => bad(b, "history index differs from the block's writes"),
            None => VerifyError::Other("history index holds a malformed entry".into()),
        });
    }
    let tt = r.open_table(TREE).map_err(dberr)?;
    let mut nodes = 0u64;
    for item in tt.iter().map_err(dberr)? {
        let (k, v) = item.map_err(dberr)?;
        let (level, index) = k.value();
        let want = tree.node(level, index).ok().flatten();
        if want.map(|w| w.as_bytes().to_vec()) != Some(v.value().to_vec()) {
            // Blame the block holding the node's last leaf: the node became
            // complete when that block was committed.
            let last_leaf = index
                .checked_add(1)
                .and_then(|i| i.checked_shl(u32::from(level)))
                .map(|end| end - 1);
            return Err(match last_leaf {
                Some(leaf) => bad(
                    block_starts
                        .partition_point(|s| *s <= leaf)
                        .saturating_sub(1) as u64,
                    format!("transaction tree node ({level}, {index}) is wrong"),
                ),
                None => VerifyError::Other(format!(
                    "transaction tree node ({level}, {index}) is out of range"
                )),
            });
        }
        nodes += 1;
    }
    // A tree of n leaves has 2n - popcount(n) complete subtrees.
    let n = tree.size();
    if nodes != 2 * n - u64::from(n.count_ones()) {
        return Err(VerifyError::Other(format!(
            "transaction tree has {nodes} nodes stored, expected {}",
            2 * n - u64::from(n.count_ones())
        )));
    }
    Ok(())
}

fn hex_of(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
