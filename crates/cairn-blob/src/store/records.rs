//! The records the store keeps: buckets, versions, policy histories, and
//! what its operations return.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::worm::{ContainerPolicy, DefaultRetention, Retention, Timestamp};

/// One entry of a policy history: what changed, when, by whom.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyEvent {
    /// When (the trusted clock; 0 when it was unknown).
    pub at: Timestamp,
    /// The caller (org/identity).
    pub by: String,
    /// What changed, in words (`retention COMPLIANCE until …`, `legal hold ON`).
    pub change: String,
    /// The ledger transaction that anchored it, once anchored.
    pub txid: Option<String>,
}

/// A bucket (an Azure container) and its policies.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketInfo {
    /// Its name.
    pub name: String,
    /// When it was created.
    pub created: Timestamp,
    /// Whether S3 Object Lock is enabled (only at creation, never disabled).
    pub object_lock: bool,
    /// Retention applied to new versions without their own.
    pub default_retention: Option<DefaultRetention>,
    /// The Azure-style container policy.
    pub container_policy: Option<ContainerPolicy>,
    /// Azure-style container legal-hold tags.
    pub container_holds: BTreeSet<String>,
    /// Every policy change on the bucket.
    pub history: Vec<PolicyEvent>,
}

/// One object version (or delete marker).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionInfo {
    /// The bucket.
    pub bucket: String,
    /// The key.
    pub key: String,
    /// The version id (16 hex digits, increasing across the store).
    pub version_id: String,
    /// When it was written.
    pub created: Timestamp,
    /// Content length in bytes.
    pub size: u64,
    /// SHA-256 of the content, hex.
    pub sha256: String,
    /// A delete marker (no content).
    pub delete_marker: bool,
    /// The content type given at upload.
    pub content_type: Option<String>,
    /// S3 retention.
    pub retention: Option<Retention>,
    /// S3 legal hold.
    pub legal_hold: bool,
    /// Creation or last append: the container policy counts from here.
    pub protected_since: Timestamp,
    /// Who wrote it (org/identity).
    pub owner: String,
    /// Whether the content is in the database (else in `objects/`).
    pub inline: bool,
    /// Every policy change on this version, oldest first.
    pub history: Vec<PolicyEvent>,
    /// The ledger transaction that anchored its hash and size, once anchored.
    pub anchor_txid: Option<String>,
}

impl VersionInfo {
    /// The S3 ETag: the first 128 bits of the SHA-256, quoted (not an MD5).
    pub fn etag(&self) -> String {
        format!("\"{}\"", &self.sha256[..32.min(self.sha256.len())])
    }

    pub(super) fn seq(&self) -> u64 {
        u64::from_str_radix(&self.version_id, 16).unwrap_or(0)
    }
}

/// What [`Store::put`] needs besides the bytes.
#[derive(Clone, Debug, Default)]
pub struct PutOptions {
    /// The content type to return on reads.
    pub content_type: Option<String>,
    /// An explicit retention (else the bucket default, if any).
    pub retention: Option<Retention>,
    /// Legal hold at creation.
    pub legal_hold: bool,
    /// The caller (org/identity).
    pub owner: String,
}

/// What a delete did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeleteOutcome {
    /// The version removed, or the marker created.
    pub version_id: String,
    /// Whether it was (or created) a delete marker.
    pub delete_marker: bool,
}

/// One page of a listing.
#[derive(Clone, Debug, Default)]
pub struct Listing {
    /// The entries, by key then newest first; `is_latest` beside each.
    pub entries: Vec<(VersionInfo, bool)>,
    /// Prefixes folded by the delimiter.
    pub common_prefixes: Vec<String>,
    /// Whether more entries follow.
    pub truncated: bool,
    /// The last key returned (the next page starts after it).
    pub next_marker: Option<String>,
}

/// What [`Store::verify`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verification {
    /// The version's record.
    pub version: VersionInfo,
    /// SHA-256 of the bytes found on disk (hex), if they could be read.
    pub actual_sha256: Option<String>,
    /// Their length.
    pub actual_size: Option<u64>,
}

impl Verification {
    /// Whether the bytes match the record.
    pub fn intact(&self) -> bool {
        self.actual_sha256.as_deref() == Some(self.version.sha256.as_str())
            && self.actual_size == Some(self.version.size)
    }
}
