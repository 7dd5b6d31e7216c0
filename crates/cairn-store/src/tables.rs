//! The redb tables and their key layout.
//!
//! | table | key | value |
//! |---|---|---|
//! | `blocks` | block number | encoded `Block` |
//! | `block_sums` | block number | SHA-256 of the `blocks` value (the integrity check at open) |
//! | `txids` | 32-byte txid | encoded [`TxLocation`] (first occurrence only) |
//! | `state` | `namespace 0x00 key` | encoded `VersionedValue` |
//! | `metadata` | `namespace 0x00 key` | encoded `Vec<MetadataEntry>` |
//! | `history` | `namespace 0x00 key 0x00 block(8, BE) tx(4, BE)` | empty (none if `meta` has `no_history`) |
//! | `tree` | (level, index) | 32-byte complete-subtree hash |
//! | `meta` | name | see [`MetaKey`] |
//! | `sidecar` | name | an owner's value committed with blocks (`crate::durability`) |
//! | `pvt_hashed` | `ns 0x00 coll 0x00 key_hash(32)` | encoded `HashedValue` (every peer) |
//! | `pvt_state` | `ns 0x00 coll 0x00 key` | encoded `VersionedValue` (member orgs only) |
//! | `pvt_keys` | `ns 0x00 coll 0x00 key_hash` | the cleartext key of a `pvt_state` entry |
//! | `pvt_data` | `block(8) tx(4) ns 0x00 coll 0x00 key_hash` | encoded `PrivateWrite` (private history) |
//! | `pvt_missing` | `block tx ns 0x00 coll 0x00 key_hash` | empty: a put whose value has not arrived |
//! | `pvt_by_key` | `ns 0x00 coll 0x00 key_hash block tx` | empty: index of `pvt_data` and `pvt_missing` |
//! | `pvt_expiry` | `expiring_block(8) block tx ns 0x00 coll 0x00 key_hash` | empty: blockToLive schedule |
//!
//! Invariants: all tables change together, in one write transaction per
//! block, so every table always reflects exactly blocks `0..height` (the
//! private tables also change in reconciliation transactions, which only add
//! data that matches hashes already committed). Every `pvt_state` entry has
//! a `pvt_keys` entry, and its value's hashes equal the ones the block at its
//! version carries. Cleartext (`pvt_state`, `pvt_keys`, `pvt_data`) exists
//! only for collections the ledger's member org belongs to.

use redb::TableDefinition;
use serde::{Deserialize, Serialize};

use cairn_ledger::validation::ValidationCode;

pub(crate) const BLOCKS: TableDefinition<u64, &[u8]> = TableDefinition::new("blocks");
pub(crate) const BLOCK_SUMS: TableDefinition<u64, &[u8]> = TableDefinition::new("block_sums");
pub(crate) const TXIDS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("txids");
pub(crate) const STATE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("state");
pub(crate) const METADATA: TableDefinition<&[u8], &[u8]> = TableDefinition::new("metadata");
pub(crate) const HISTORY: TableDefinition<&[u8], ()> = TableDefinition::new("history");
pub(crate) const TREE: TableDefinition<(u8, u64), &[u8]> = TableDefinition::new("tree");
pub(crate) const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
pub(crate) const SIDECAR: TableDefinition<&str, &[u8]> = TableDefinition::new("sidecar");
pub(crate) const PVT_HASHED: TableDefinition<&[u8], &[u8]> = TableDefinition::new("pvt_hashed");
pub(crate) const PVT_STATE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("pvt_state");
pub(crate) const PVT_KEYS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("pvt_keys");
pub(crate) const PVT_DATA: TableDefinition<&[u8], &[u8]> = TableDefinition::new("pvt_data");
pub(crate) const PVT_MISSING: TableDefinition<&[u8], ()> = TableDefinition::new("pvt_missing");
pub(crate) const PVT_BY_KEY: TableDefinition<&[u8], ()> = TableDefinition::new("pvt_by_key");
pub(crate) const PVT_EXPIRY: TableDefinition<&[u8], ()> = TableDefinition::new("pvt_expiry");

/// Names in the `meta` table.
pub(crate) struct MetaKey;

impl MetaKey {
    /// Encoded `ChannelConfig` in force.
    pub(crate) const CONFIG: &'static str = "config";
    /// Number of the block that set the config in force (u64 BE).
    pub(crate) const CONFIG_BLOCK: &'static str = "config_block";
    /// The MSP id whose collections this ledger keeps cleartext for (UTF-8).
    pub(crate) const MEMBER_ORG: &'static str = "member_org";
    /// Present (empty value) when the ledger keeps no key history index
    /// (an orderer's: nothing reads it there); set at creation only.
    pub(crate) const NO_HISTORY: &'static str = "no_history";
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
