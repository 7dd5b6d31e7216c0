//! The stored blocks' integrity: every block's bytes against the SHA-256
//! recorded beside them (`block_sums`) in the block's own commit.
//!
//! Invariants: [`crate::Ledger::open`] refuses a ledger with a damaged block
//! and names the block, so a node never serves, proves or builds on one;
//! [`repair_block`] writes back only a copy whose bytes hash to the record
//! (or, when the record is what broke, a record that the stored bytes hash
//! to), so a repair can restore the committed block and nothing else.
//! Ledgers written before the records existed have none and are not checked.

use std::path::Path;

use cairn_crypto::{Digest, sha256};
use cairn_ledger::block::Block;
use cairn_ledger::encoding::Canonical;
use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata};

use crate::error::StoreError;
use crate::ledger::LEDGER_FILE;
use crate::tables::{BLOCK_SUMS, BLOCKS};

/// One damaged block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Damage {
    /// The block's number.
    pub number: u64,
    /// What is wrong with it.
    pub reason: String,
}

/// What [`repair_block`] wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Repaired {
    /// The stored block was damaged; the good copy replaced it.
    Block,
    /// The block was intact but its record was damaged; the record was rewritten.
    Record,
    /// Nothing was damaged.
    Nothing,
}

fn db_err(what: &'static str) -> impl Fn(redb::Error) -> StoreError {
    move |e| StoreError::db(what, e)
}

/// Every damaged block of an open ledger database, in block order.
pub(crate) fn scan(db: &Database) -> Result<Vec<Damage>, StoreError> {
    let r = db
        .begin_read()
        .map_err(|e| db_err("begin read")(e.into()))?;
    let blocks = r
        .open_table(BLOCKS)
        .map_err(|e| db_err("open blocks")(e.into()))?;
    let sums = match r.open_table(BLOCK_SUMS) {
        Ok(t) => t,
        // A ledger from before the records.
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
        Err(e) => return Err(db_err("open block sums")(e.into())),
    };
    if sums
        .len()
        .map_err(|e| db_err("read block sums")(e.into()))?
        == 0
    {
        return Ok(Vec::new());
    }
    let mut damage = Vec::new();
    let mut expected = 0u64;
    for item in blocks.iter().map_err(|e| db_err("read blocks")(e.into()))? {
        let (k, v) = item.map_err(|e| db_err("read blocks")(e.into()))?;
        let n = k.value();
        for missing in expected..n {
            damage.push(Damage {
                number: missing,
                reason: "it is missing".into(),
            });
        }
        expected = n.saturating_add(1);
        let actual = sha256(v.value());
        match sums
            .get(n)
            .map_err(|e| db_err("read block sums")(e.into()))?
        {
            None => damage.push(Damage {
                number: n,
                reason: "its integrity record is missing".into(),
            }),
            Some(s) if s.value() != actual.as_bytes().as_slice() => damage.push(Damage {
                number: n,
                reason: format!(
                    "its bytes hash to {actual}, but the hash recorded when it was committed is {}",
                    <[u8; 32]>::try_from(s.value())
                        .map(Digest::from)
                        .map_or_else(|_| "not a hash".to_string(), |d| d.to_string())
                ),
            }),
            Some(_) => {}
        }
    }
    Ok(damage)
}

fn open_raw(dir: &Path) -> Result<Database, StoreError> {
    let path = dir.join(LEDGER_FILE);
    if !path.exists() {
        return Err(StoreError::Missing {
            path: dir.display().to_string(),
        });
    }
    Database::open(&path).map_err(|e| match e {
        redb::DatabaseError::DatabaseAlreadyOpen => StoreError::InUse {
            path: dir.display().to_string(),
        },
        e => StoreError::db("open", e),
    })
}

/// The damaged blocks of the (closed) ledger in `dir`.
pub fn damaged_blocks(dir: &Path) -> Result<Vec<Damage>, StoreError> {
    scan(&open_raw(dir)?)
}

/// Puts back block `block.header.number` of the (closed) ledger in `dir`
/// from a copy fetched elsewhere, if the copy is the block this ledger
/// committed (see the module doc).
pub fn repair_block(dir: &Path, block: &Block) -> Result<Repaired, StoreError> {
    let db = open_raw(dir)?;
    let n = block.header.number;
    let bytes = block
        .encode()
        .map_err(|e| StoreError::corrupt(format!("block {n}"), e))?;
    let good = sha256(&bytes);
    let w = db
        .begin_write()
        .map_err(|e| db_err("begin write")(e.into()))?;
    let outcome = {
        let mut blocks = w
            .open_table(BLOCKS)
            .map_err(|e| db_err("open blocks")(e.into()))?;
        let mut sums = w
            .open_table(BLOCK_SUMS)
            .map_err(|e| db_err("open block sums")(e.into()))?;
        let recorded: Option<Digest> = sums
            .get(n)
            .map_err(|e| db_err("read block sums")(e.into()))?
            .and_then(|s| <[u8; 32]>::try_from(s.value()).ok())
            .map(Digest::from);
        let stored: Option<Digest> = blocks
            .get(n)
            .map_err(|e| db_err("read blocks")(e.into()))?
            .map(|v| sha256(v.value()));
        match (recorded, stored) {
            (Some(r), Some(s)) if r == good && s == good => Repaired::Nothing,
            (Some(r), _) if r == good => {
                blocks
                    .insert(n, bytes.as_slice())
                    .map_err(|e| db_err("write block")(e.into()))?;
                Repaired::Block
            }
            (_, Some(s)) if s == good => {
                sums.insert(n, good.as_bytes().as_slice())
                    .map_err(|e| db_err("write block sum")(e.into()))?;
                Repaired::Record
            }
            (recorded, _) => {
                return Err(StoreError::BadBlock {
                    number: n,
                    reason: format!(
                        "the copy offered for repair hashes to {good}, which is neither the hash recorded when this ledger committed the block ({}) nor that of its stored bytes: it is not the block this ledger committed",
                        recorded.map_or_else(|| "none".to_string(), |d| d.to_string())
                    ),
                });
            }
        }
    };
    w.commit().map_err(|e| db_err("commit")(e.into()))?;
    Ok(outcome)
}
