//! Contract definitions as the `_lifecycle` system namespace stores them
//! (Fabric 2.x's chaincode lifecycle). The validator reads them to find a
//! contract's endorsement policy; the lifecycle system contract writes them.
//!
//! Invariants: a definition is stored under [`definition_key`] in
//! [`LIFECYCLE_NS`] only by a transaction that satisfied the channel's
//! `LifecycleEndorsement` policy; an approval under [`approval_key`] only by
//! one endorsed by a peer of the approving org.

use serde::{Deserialize, Serialize};

/// The namespace of the lifecycle system contract.
pub const LIFECYCLE_NS: &str = "_lifecycle";

/// The state key of a committed contract definition.
pub fn definition_key(contract: &str) -> String {
    format!("namespaces/{contract}")
}

/// The state key of an org's approval of a definition (Fabric keeps it in
/// the org's implicit collection; Cairn keeps it in public `_lifecycle` state
/// and lets only that org's peers endorse it, see [`approval_org`]).
pub fn approval_key(contract: &str, sequence: u64, msp_id: &str) -> String {
    format!("approvals/{contract}/{sequence:020}/{msp_id}")
}

/// The org whose approval a `_lifecycle` key holds, if it is an approval key.
pub fn approval_org(key: &str) -> Option<&str> {
    let rest = key.strip_prefix("approvals/")?;
    let mut parts = rest.rsplitn(3, '/');
    let org = parts.next()?;
    let seq = parts.next()?;
    let name = parts.next()?;
    (!org.is_empty()
        && !name.is_empty()
        && seq.len() == 20
        && seq.bytes().all(|b| b.is_ascii_digit()))
    .then_some(org)
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

/// A private data collection definition (Fabric's `collections_config.json`
/// entry). In JSON, absent fields take Fabric's defaults (`maxPeerCount` 1,
/// the rest 0 / false); `crate::private::parse_collections_config` reads a
/// whole file exactly as Fabric's CLI does, with Fabric's error messages.
/// (Defaults only apply to self-describing formats: the canonical encoding
/// always carries every field.)
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CollectionConfig {
    /// Collection name.
    pub name: String,
    /// Which orgs may hold the data, as a signature policy over members.
    pub policy: String,
    /// Peers the endorser must disseminate to before answering.
    #[serde(default)]
    pub required_peer_count: u32,
    /// At most this many peers receive the data at endorsement.
    #[serde(default = "one")]
    pub max_peer_count: u32,
    /// Blocks the data lives after the block that wrote it; 0 keeps it forever.
    #[serde(default)]
    pub block_to_live: u64,
    /// Only clients of member orgs may read.
    #[serde(default)]
    pub member_only_read: bool,
    /// Only clients of member orgs may write.
    #[serde(default)]
    pub member_only_write: bool,
    /// Replaces the contract's policy for writes to this collection.
    #[serde(default)]
    pub endorsement_policy: Option<CollectionEndorsementPolicy>,
}

fn one() -> u32 {
    1
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn approval_keys_name_their_org() {
        assert_eq!(
            approval_org(&approval_key("basic", 3, "Org2MSP")),
            Some("Org2MSP")
        );
        assert_eq!(approval_org(&approval_key("a/b", 1, "O")), Some("O"));
        assert_eq!(
            approval_org("approvals/basic/3/Org2MSP"),
            None,
            "sequence must be 20 digits"
        );
        assert_eq!(approval_org(&definition_key("basic")), None);
        assert_eq!(approval_org("approvals//00000000000000000001/X"), None);
    }
}
