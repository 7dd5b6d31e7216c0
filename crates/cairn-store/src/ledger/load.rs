//! Opening a ledger's database and loading what [`super::Ledger`] caches
//! from it (the tip, the member org), and creating the private tables that
//! ledgers made before private data lack.

use std::path::Path;
use std::sync::Arc;

use cairn_ledger::block::Block;
use cairn_ledger::config::ChannelConfig;
use cairn_ledger::encoding::Canonical;
use cairn_ledger::validate::ChannelContext;
use redb::{Database, ReadableDatabase, ReadableTable};

use super::Tip;
use crate::error::StoreError;
use crate::tables::{
    BLOCKS, META, MetaKey, PVT_BY_KEY, PVT_DATA, PVT_EXPIRY, PVT_HASHED, PVT_KEYS, PVT_MISSING,
    PVT_STATE,
};

/// The page cache each ledger's database keeps in memory (redb's default
/// is 1 GiB). Every page a commit writes enters the cache, so a cache that
/// is never full keeps taking fresh memory, which the kernel zeroes page by
/// page; once full, evicted pages' memory is reused. The OS page cache
/// still holds the file, so a page read past this cache costs a `pread`,
/// not a disk seek.
pub const LEDGER_CACHE_BYTES: usize = 64 << 20;

pub(super) fn open_db(path: &Path, create: bool) -> Result<Database, StoreError> {
    let mut builder = Database::builder();
    builder.set_cache_size(LEDGER_CACHE_BYTES);
    let r = if create {
        builder.create(path)
    } else {
        builder.open(path)
    };
    r.map_err(|e| match e {
        redb::DatabaseError::DatabaseAlreadyOpen => StoreError::InUse {
            path: path.display().to_string(),
        },
        e => StoreError::db("open", e),
    })
}

pub(super) fn create_private_tables(db: &Database) -> Result<(), StoreError> {
    let w = db.begin_write().map_err(|e| StoreError::db("begin", e))?;
    let create = |e| StoreError::db("create table", e);
    for t in [PVT_HASHED, PVT_STATE, PVT_KEYS, PVT_DATA] {
        w.open_table(t).map_err(create)?;
    }
    for t in [PVT_MISSING, PVT_BY_KEY, PVT_EXPIRY] {
        w.open_table(t).map_err(create)?;
    }
    w.commit().map_err(|e| StoreError::db("commit", e))
}

pub(super) fn load_member_org(db: &Database) -> Result<Option<String>, StoreError> {
    let r = db
        .begin_read()
        .map_err(|e| StoreError::db("begin read", e))?;
    let meta = r
        .open_table(META)
        .map_err(|e| StoreError::db("open meta", e))?;
    let Some(v) = meta
        .get(MetaKey::MEMBER_ORG)
        .map_err(|e| StoreError::db("read meta", e))?
    else {
        return Ok(None);
    };
    String::from_utf8(v.value().to_vec())
        .map(Some)
        .map_err(|e| StoreError::Corrupt {
            what: "member org".into(),
            reason: e.to_string(),
        })
}

pub(super) fn load_tip(db: &Database) -> Result<Tip, StoreError> {
    let r = db
        .begin_read()
        .map_err(|e| StoreError::db("begin read", e))?;
    let blocks = r
        .open_table(BLOCKS)
        .map_err(|e| StoreError::db("open blocks", e))?;
    let last = blocks
        .last()
        .map_err(|e| StoreError::db("read blocks", e))?
        .ok_or_else(|| StoreError::Corrupt {
            what: "ledger".into(),
            reason: "no genesis block".into(),
        })?;
    let block = Block::decode(last.1.value())
        .map_err(|e| StoreError::corrupt(format!("block {}", last.0.value()), e))?;
    let meta = r
        .open_table(META)
        .map_err(|e| StoreError::db("open meta", e))?;
    let config_bytes = meta
        .get(MetaKey::CONFIG)
        .map_err(|e| StoreError::db("read meta", e))?
        .ok_or_else(|| StoreError::Corrupt {
            what: "ledger".into(),
            reason: "no channel config".into(),
        })?;
    let config = ChannelConfig::decode(config_bytes.value())
        .map_err(|e| StoreError::corrupt("channel config", e))?;
    let config_block = meta
        .get(MetaKey::CONFIG_BLOCK)
        .map_err(|e| StoreError::db("read meta", e))?
        .and_then(|v| <[u8; 8]>::try_from(v.value()).ok())
        .map(u64::from_be_bytes)
        .unwrap_or(0);
    let history = meta
        .get(MetaKey::NO_HISTORY)
        .map_err(|e| StoreError::db("read meta", e))?
        .is_none();
    Ok(Tip {
        history,
        height: block.header.number + 1,
        last_hash: block.header.hash()?,
        tree_size: block.header.tree_size,
        ctx: Arc::new(ChannelContext::new(config)?),
        config_block,
    })
}
