//! Cairn's ordering service: 3 or 5 orderers (typically one per org) form a
//! Raft cluster (openraft 0.9) that orders client-signed envelopes into
//! blocks, signs their headers, and delivers them in order to peers.
//!
//! Owns: admission of envelopes (creator valid, signature, `Writers`
//! policy), block cutting ([`BlockCutter`]: max tx count, max bytes, batch
//! timeout; group commit under load), the Raft log on disk (redb,
//! `raft.redb`), the ledger as Raft state machine, the cluster membership
//! (the channel configuration's orderer list, changed by config updates),
//! the broadcast / deliver API ([`api`]) and the node entry point
//! ([`OrdererNode::start`]).
//!
//! May use: `cairn-ledger` (model, validation context), `cairn-store` (the
//! ledger: `seal` on the leader, `commit` on every node), `cairn-crypto`,
//! `cairn-net` (mutual TLS transport), `openraft`, `redb`, `cairn-counters`.
//!
//! ```text
//!  client ──POST /broadcast──► any orderer: admit ──(follower: /raft/forward)──► leader
//!  gateway ─POST /broadcast/stream (one per orderer; a call per envelope)─► leader
//!  leader: BlockCutter ─► Ledger::seal (fully applied ledger) ─► Raft log
//!  every orderer: Raft apply = Ledger::commit(block) ─► deliver streams ─► peers
//!  leader: config block changed the orderer list ─► add learner ─► change voters
//! ```
//!
//! Invariants:
//! - Raft log entries are whole sealed blocks; applying one commits it with
//!   full re-validation, so every orderer's ledger is a prefix of the same
//!   chain and no block number ever holds two different blocks;
//! - the leader seals a block only when its ledger has applied every log
//!   entry, and proposes the next only after the previous one is applied;
//!   a block sealed by a deposed leader has a stale number and is skipped
//!   by every node alike;
//! - no envelope is ordered unless the orderer it was submitted to admitted
//!   it, and no configuration update is ordered unless it is valid;
//! - a broadcast is answered with a block number only after that block is
//!   committed by a majority and applied on the leader;
//! - a transaction is ordered at most once per leader while in flight
//!   (copies submitted meanwhile wait for its outcome if it is ordered:
//!   `cutter::InFlight`),
//!   and an envelope marked as resent that a block already holds is
//!   answered with that block, not ordered again (looked up once every
//!   committed block is applied); a relay to the leader keeps the mark;
//! - when the channel lists its orderers, an orderer serves the channel
//!   (broadcast, deliver, campaigning) only while its ledger's
//!   configuration lists it;
//! - one channel per ordering service process;
//! - the ledger keeps no key history index (a peer query) and commits
//!   blocks with deferred durability, synced before the Raft log loses an
//!   entry (see `state_machine`);
//! - the data directory is created 0700 and `raft.redb` 0600 (through
//!   `cairn_crypto::private_file`); the ledger beside it is 0600 too
//!   (`cairn-store`).

#![forbid(unsafe_code)]

mod admission;
pub mod api;
mod config;
mod cutter;
mod error;
mod log_store;
mod membership;
mod network;
mod node;
mod service;
mod state_machine;
mod types;

pub use config::{ClusterMember, OrdererConfig, RaftSettings};
pub use cutter::BlockCutter;
pub use error::{BroadcastError, OrdererError};
pub use log_store::RAFT_FILE;
pub use node::{OrdererNode, read_genesis};
pub use types::{Applied, NodeId, TypeConfig};
