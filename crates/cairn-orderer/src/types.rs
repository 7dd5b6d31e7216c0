//! The Raft type configuration: log entries carry sealed blocks.

use std::io::Cursor;

use cairn_ledger::block::Block;
use serde::{Deserialize, Serialize};

openraft::declare_raft_types!(
    /// Cairn's openraft types: entries carry [`Block`]s, nodes are numbered
    /// and addressed by their base URL (`https://host:port`).
    pub TypeConfig:
        D = Block,
        R = Applied,
        NodeId = u64,
        Node = openraft::BasicNode,
        SnapshotData = Cursor<Vec<u8>>,
);

/// A Raft node id (small integers from the orderer configuration).
pub type NodeId = u64;

/// What applying one log entry did to the ledger.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Applied {
    /// The entry's block was committed as this block number.
    Committed(u64),
    /// Not a block (leader's blank entry or a membership change).
    #[default]
    Nothing,
    /// The block was not committed: its number was not the ledger's next one
    /// (sealed by a leader that was stale), so every node skipped it.
    Skipped {
        /// The block's number.
        number: u64,
        /// The ledger height when it was skipped.
        height: u64,
    },
}
