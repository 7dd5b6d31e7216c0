//! Contract definitions as the `_lifecycle` system namespace stores them
//! (Fabric 2.x's chaincode lifecycle). The validator reads them to find a
//! contract's endorsement policy; the lifecycle system contract writes them.
//!
//! Invariant: a definition is stored under [`definition_key`] in
//! [`LIFECYCLE_NS`] only by a transaction that satisfied the channel's
//! `LifecycleEndorsement` policy.

use serde::{Deserialize, Serialize};

/// The namespace of the lifecycle system contract.
pub const LIFECYCLE_NS: &str = "_lifecycle";

/// The state key of a committed contract definition.
pub fn definition_key(contract: &str) -> String {
    format!("namespaces/{contract}")
}

/// A committed contract definition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContractDefinition {
    /// Contract name.
    pub name: String,
    /// Version label.
    pub version: String,
    /// Definition sequence; each upgrade increments it.
    pub sequence: u64,
    /// The endorsement policy in Fabric's syntax; empty means the channel's
    /// `Endorsement` policy.
    pub endorsement_policy: String,
    /// Whether `init` must run before other functions.
    pub init_required: bool,
    /// Private data collections defined with the contract.
    pub collections: Vec<CollectionConfig>,
}

/// A private data collection definition (Fabric's `collections_config.json` entry).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CollectionConfig {
    /// Collection name.
    pub name: String,
    /// Which orgs may hold the data, as a signature policy over members.
    pub policy: String,
    /// Peers the endorser must disseminate to before answering.
    pub required_peer_count: u32,
    /// At most this many peers receive the data at endorsement.
    pub max_peer_count: u32,
    /// Blocks after which the data is purged; 0 keeps it forever.
    pub block_to_live: u64,
    /// Only clients of member orgs may read.
    pub member_only_read: bool,
    /// Only clients of member orgs may write.
    pub member_only_write: bool,
    /// Replaces the contract's policy for writes to this collection.
    #[serde(default)]
    pub endorsement_policy: Option<CollectionEndorsementPolicy>,
}

/// A collection-level endorsement policy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum CollectionEndorsementPolicy {
    /// A signature policy such as `OR('Org1MSP.peer')`.
    SignaturePolicy(String),
    /// A reference to a channel policy such as `Endorsement`.
    ChannelConfigPolicy(String),
}
