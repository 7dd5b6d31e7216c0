//! Read/write sets: what a contract read and wrote while it was simulated.
//!
//! Invariants (as Fabric's rwset builder): namespaces are sorted; within one
//! namespace, reads and writes are de-duplicated per key (the first read of a
//! key records its version, the last write of a key wins) and sorted by key;
//! range queries keep the order the contract ran them. So two peers
//! simulating the same proposal produce byte-identical sets.

use cairn_crypto::Digest;
use serde::{Deserialize, Serialize};
use serde_with::{Bytes, IfIsHumanReadable, hex::Hex, serde_as};

use crate::ids::Version;

/// The read/write set of one transaction, one entry per namespace (contract).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxRwSet {
    /// Per-namespace sets, sorted by namespace name.
    pub namespaces: Vec<NsRwSet>,
}

/// The reads and writes of one namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NsRwSet {
    /// The namespace: the contract name (or a system namespace such as `_lifecycle`).
    pub namespace: String,
    /// Point reads with the version seen (`None`: the key did not exist).
    pub reads: Vec<KvRead>,
    /// Range queries with what they returned, for phantom-read checks.
    pub range_queries: Vec<RangeQueryInfo>,
    /// Writes and deletes.
    pub writes: Vec<KvWrite>,
    /// Key-level metadata writes (state-based endorsement policies).
    pub metadata_writes: Vec<KvMetadataWrite>,
    /// Hashed reads and writes of private data collections.
    pub collections: Vec<CollectionHashedRwSet>,
}

/// A read of one key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KvRead {
    /// The key read.
    pub key: String,
    /// The version read; `None` if the key did not exist.
    pub version: Option<Version>,
}

/// A write (or delete) of one key.
#[serde_as]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KvWrite {
    /// The key written.
    pub key: String,
    /// True if the key is deleted; `value` is then empty.
    pub is_delete: bool,
    /// The new value.
    #[serde_as(as = "IfIsHumanReadable<Hex, Bytes>")]
    pub value: Vec<u8>,
}

/// A write of a key's metadata (for example its validation parameter).
#[serde_as]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KvMetadataWrite {
    /// The key whose metadata changes.
    pub key: String,
    /// Metadata entries (name → value); empty removes all metadata.
    pub entries: Vec<MetadataEntry>,
}

/// One named metadata value.
#[serde_as]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetadataEntry {
    /// The entry's name, e.g. `VALIDATION_PARAMETER`.
    pub name: String,
    /// The entry's value.
    #[serde_as(as = "IfIsHumanReadable<Hex, Bytes>")]
    pub value: Vec<u8>,
}

/// A range query and the keys it returned, checked again at validation for phantoms.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RangeQueryInfo {
    /// Start key (inclusive).
    pub start_key: String,
    /// End key (exclusive); empty means unbounded.
    pub end_key: String,
    /// Whether the contract read the iterator to its end; if not, only the
    /// returned prefix is checked.
    pub itr_exhausted: bool,
    /// The keys returned with their versions, in order.
    pub reads: Vec<KvRead>,
}

/// The hashed part of a private data collection's read/write set: what goes on the ledger.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectionHashedRwSet {
    /// Collection name.
    pub collection: String,
    /// Hashed reads.
    pub hashed_reads: Vec<KvReadHash>,
    /// Hashed writes.
    pub hashed_writes: Vec<KvWriteHash>,
    /// Hash of the private read/write set that peers holding the data receive.
    pub private_rwset_hash: Digest,
}

/// A hashed private read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KvReadHash {
    /// SHA-256 of the key.
    pub key_hash: Digest,
    /// The version read.
    pub version: Option<Version>,
}

/// A hashed private write.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KvWriteHash {
    /// SHA-256 of the key.
    pub key_hash: Digest,
    /// True for a delete.
    pub is_delete: bool,
    /// True when the write also purges the key's history (`purgePrivateData`).
    pub is_purge: bool,
    /// SHA-256 of the value (zero digest for deletes).
    pub value_hash: Digest,
}
