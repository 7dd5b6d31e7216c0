//! The orderer's configuration: what `cairn node` reads from TOML.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// One orderer of the cluster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterMember {
    /// Its Raft node id (unique small integer).
    pub id: u64,
    /// Its base URL, e.g. `https://orderer0.org1.cairn:7050`; the host must
    /// be a name in its TLS certificate.
    pub url: String,
}

/// Raft timing and log compaction, in milliseconds and entries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RaftSettings {
    /// Leader heartbeat interval; openraft also uses it as the time limit
    /// of each append RPC, so it must exceed a follower's disk sync of a
    /// full block (100 ms is ample on SSDs).
    pub heartbeat_ms: u64,
    /// Lower bound of the randomized election timeout.
    pub election_min_ms: u64,
    /// Upper bound of the randomized election timeout.
    pub election_max_ms: u64,
    /// Take a snapshot (and allow purging the log) every this many applied entries.
    pub snapshot_every: u64,
    /// Entries kept in the log behind the latest snapshot, so briefly lagging
    /// followers catch up by replication instead of a snapshot.
    pub keep_after_snapshot: u64,
}

impl Default for RaftSettings {
    fn default() -> Self {
        RaftSettings {
            heartbeat_ms: 100,
            election_min_ms: 500,
            election_max_ms: 1000,
            snapshot_every: 1000,
            keep_after_snapshot: 1000,
        }
    }
}

/// Everything one orderer node needs to start.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrdererConfig {
    /// This node's Raft id: in the channel's orderer list, or in `cluster` when
    /// the channel lists none.
    pub id: u64,
    /// The address to listen on (mutual TLS), e.g. `0.0.0.0:7050`.
    pub listen: SocketAddr,
    /// Every orderer of the cluster, this one included (3 or 5 for fault
    /// tolerance). Used only when the channel's configuration lists no
    /// orderers; when it does, that list is the membership and this may be
    /// left out (a node the list does not name yet waits to be added).
    #[serde(default)]
    pub cluster: Vec<ClusterMember>,
    /// This orderer's identity directory (`cert.pem`, `key.pem`), e.g.
    /// `crypto/org1/orderers/orderer0`.
    pub identity_dir: PathBuf,
    /// Where the ledger (`ledger/`) and the Raft log (`raft.redb`) live.
    pub data_dir: PathBuf,
    /// The channel's genesis block (canonical postcard, or the JSON that
    /// `cairn ledger block` prints); used to create the ledger on first start.
    pub genesis: PathBuf,
    /// Raft settings.
    #[serde(default)]
    pub raft: RaftSettings,
    /// The attestation token this node presents to the channel's other
    /// nodes (kept renewed by whoever started it with `--attest`; not part
    /// of the file).
    #[serde(skip)]
    pub attestation: cairn_net::AttestationToken,
}
