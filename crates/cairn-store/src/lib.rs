//! Cairn's embedded ledger store: one redb database per channel holding the
//! block store (by number and by txid), the world state with versions, the
//! key history index (not on orderers: [`Ledger::create_without_history`]), key metadata, the channel's RFC 9162 transaction
//! tree, and private data (hashed state everywhere; cleartext, history,
//! missing-data records and the blockToLive schedule for the ledger's own
//! org's collections, see [`private`]).
//!
//! May use: `cairn-ledger` (model and validation), `cairn-crypto`,
//! `cairn-merkle`, `redb`, `cairn-counters` (durable commits, committed blocks
//! and transactions). Knows nothing of networking or contracts.
//!
//! Invariants:
//! - everything a block changes is written in one redb write transaction, so
//!   a crash at any point reopens at the last committed block with state,
//!   history, txid index and tree consistent with blocks `0..height`;
//! - cleartext private data is stored only if it matches the hashes in a
//!   committed block and belongs to a collection of the ledger's member org;
//! - a block is committed only if this node's own validation gives the same
//!   codes and tree root as the block carries, and an orderer of the channel
//!   signed its header;
//! - [`verify::verify_ledger`] re-derives every table from the blocks alone
//!   (but the owner's sidecar values, see [`durability`]);
//! - a commit is durable when it returns, unless its owner asked for
//!   [`Durability::Deferred`] (orderers, whose Raft log holds the blocks;
//!   peers, whose orderers hold them);
//!   a crash then reopens the ledger at its last durable commit, with the
//!   sidecar values committed with it;
//! - every stored block's bytes hash to the record committed with them, and
//!   [`Ledger::open`] refuses a ledger where one does not, naming the block
//!   ([`integrity`]; a good copy from another node repairs it);
//! - the ledger file holds private data, so [`Ledger::create`] makes it 0600
//!   (its directory 0700) before redb writes to it, and [`Ledger::open`]
//!   narrows a wider one, both through `cairn_crypto::private_file`.
//!
//! Purging (blockToLive, `purgePrivateData`) deletes the cleartext and its
//! history rows in the commit's write transaction, so no read, query or
//! verify ever returns them again. redb does not zero the pages it frees:
//! the bytes stay in the file until redb reuses those pages, and the disk
//! may keep them longer (see `docs/contracts.md`, "What is erased").

mod check;
pub mod durability;
pub mod error;
pub mod genesis;
pub mod integrity;
pub mod ledger;
pub mod private;
mod tables;
pub mod verify;
pub mod view;

pub use durability::Durability;
pub use error::StoreError;
pub use genesis::{genesis_block, genesis_config};
pub use ledger::{CommitSummary, LEDGER_CACHE_BYTES, LEDGER_FILE, Ledger};
pub use private::{PrivateCommitStats, ReconcileReport};
pub use tables::TxLocation;
pub use view::Snapshot;
