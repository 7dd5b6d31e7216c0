//! The redb tables and their key layout.
//!
//! | table | key | value |
//! |---|---|---|
//! | `blocks` | block number | encoded `Block` |
//! | `txids` | 32-byte txid | encoded [`TxLocation`] (first occurrence only) |
//! | `state` | `namespace 0x00 key` | encoded `VersionedValue` |
//! | `metadata` | `namespace 0x00 key` | encoded `Vec<MetadataEntry>` |
//! | `history` | `namespace 0x00 key 0x00 block(8, BE) tx(4, BE)` | empty |
//! | `tree` | (level, index) | 32-byte complete-subtree hash |
//! | `meta` | name | see [`MetaKey`] |
//!
//! Invariant: all tables change together, in one write transaction per
//! block, so every table always reflects exactly blocks `0..height`.

use redb::TableDefinition;
use serde::{Deserialize, Serialize};

use cairn_ledger::validation::ValidationCode;

pub(crate) const BLOCKS: TableDefinition<u64, &[u8]> = TableDefinition::new("blocks");
pub(crate) const TXIDS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("txids");
pub(crate) const STATE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("state");
pub(crate) const METADATA: TableDefinition<&[u8], &[u8]> = TableDefinition::new("metadata");
pub(crate) const HISTORY: TableDefinition<&[u8], ()> = TableDefinition::new("history");
pub(crate) const TREE: TableDefinition<(u8, u64), &[u8]> = TableDefinition::new("tree");
pub(crate) const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

/// Names in the `meta` table.
pub(crate) struct MetaKey;

impl MetaKey {
    /// Encoded `ChannelConfig` in force.
    pub(crate) const CONFIG: &'static str = "config";
    /// Number of the block that set the config in force (u64 BE).
    pub(crate) const CONFIG_BLOCK: &'static str = "config_block";
}

/// Where a transaction is, and how it was judged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxLocation {
    /// Block number.
    pub block: u64,
    /// Index within the block.
    pub index: u32,
    /// Its leaf index in the channel's transaction tree.
    pub leaf: u64,
    /// Its validation code.
    pub code: ValidationCode,
}

/// `namespace 0x00 key`.
pub(crate) fn state_key(ns: &str, key: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(ns.len() + 1 + key.len());
    k.extend_from_slice(ns.as_bytes());
    k.push(0);
    k.extend_from_slice(key.as_bytes());
    k
}

/// Splits a state key back into namespace and key.
pub(crate) fn split_state_key(k: &[u8]) -> Option<(String, String)> {
    let pos = k.iter().position(|b| *b == 0)?;
    let ns = std::str::from_utf8(&k[..pos]).ok()?;
    let key = std::str::from_utf8(&k[pos + 1..]).ok()?;
    Some((ns.to_string(), key.to_string()))
}

/// The bounds of `[start, end)` within a namespace; an empty `end` means the
/// namespace's end.
pub(crate) fn state_range(ns: &str, start: &str, end: &str) -> (Vec<u8>, Vec<u8>) {
    let lo = state_key(ns, start);
    let hi = if end.is_empty() {
        let mut h = ns.as_bytes().to_vec();
        h.push(1);
        h
    } else {
        state_key(ns, end)
    };
    (lo, hi)
}

/// `namespace 0x00 key 0x00 block tx`.
pub(crate) fn history_key(ns: &str, key: &str, block: u64, tx: u32) -> Vec<u8> {
    let mut k = history_prefix(ns, key);
    k.extend_from_slice(&block.to_be_bytes());
    k.extend_from_slice(&tx.to_be_bytes());
    k
}

/// The prefix of every history entry of one key.
pub(crate) fn history_prefix(ns: &str, key: &str) -> Vec<u8> {
    let mut k = state_key(ns, key);
    k.push(0);
    k
}
