//! Read access to a peer's committed state, the interface contract
//! simulation runs against. The store implements it; contracts never write
//! through it (writes go to the simulator's write set).

use cairn_crypto::Digest;
use serde::{Deserialize, Serialize};
use serde_with::{Bytes, IfIsHumanReadable, hex::Hex, serde_as};

use crate::ids::{Timestamp, TxId, Version};

/// A committed value and the version that wrote it.
#[serde_as]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionedValue {
    /// The value.
    #[serde_as(as = "IfIsHumanReadable<Hex, Bytes>")]
    pub value: Vec<u8>,
    /// The block and transaction that wrote it.
    pub version: Version,
}

/// One entry of a key's history (Fabric's `KeyModification`).
#[serde_as]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// The transaction that changed the key.
    pub txid: TxId,
    /// That transaction's timestamp.
    pub timestamp: Timestamp,
    /// True if the transaction deleted the key.
    pub is_delete: bool,
    /// The value written (empty for deletes).
    #[serde_as(as = "IfIsHumanReadable<Hex, Bytes>")]
    pub value: Vec<u8>,
}

/// The hash of a private value as every channel peer holds it, and the
/// version that wrote it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HashedValue {
    /// SHA-256 of the value.
    pub value_hash: Digest,
    /// The block and transaction that wrote it.
    pub version: Version,
}

/// An error reading state, from whichever store backs it.
#[derive(Debug, thiserror::Error)]
#[error("state read failed: {0}")]
pub struct StateError(pub String);

/// Read access to committed world state.
///
/// Keys are scoped by namespace (the contract name). Range reads return keys
/// in byte order, `start` inclusive, `end` exclusive (empty `end`: to the end
/// of the namespace).
pub trait StateView {
    /// The current value and version of a key.
    fn state(&self, namespace: &str, key: &str) -> Result<Option<VersionedValue>, StateError>;

    /// Keys in `[start, end)` with their values, in key order, at most `limit`
    /// entries (0: no limit).
    fn range(
        &self,
        namespace: &str,
        start: &str,
        end: &str,
        limit: usize,
    ) -> Result<Vec<(String, VersionedValue)>, StateError>;

    /// Every committed change of a key, newest first.
    fn history(&self, namespace: &str, key: &str) -> Result<Vec<HistoryEntry>, StateError>;

    /// The key's metadata entries (e.g. its validation parameter).
    fn metadata(
        &self,
        namespace: &str,
        key: &str,
    ) -> Result<Vec<crate::rwset::MetadataEntry>, StateError>;

    /// The height of the state: the number of committed blocks.
    fn height(&self) -> Result<u64, StateError>;

    /// The cleartext value of a private key this peer holds (`None`: absent
    /// here). Only peers of member orgs hold cleartext; the default (a view
    /// without private data) refuses.
    fn private_state(
        &self,
        namespace: &str,
        collection: &str,
        key: &str,
    ) -> Result<Option<VersionedValue>, StateError> {
        let _ = key;
        Err(no_private_data(namespace, collection))
    }

    /// Private keys in `[start, end)` with their values, in key order, at
    /// most `limit` entries (0: no limit); as [`StateView::private_state`].
    fn private_range(
        &self,
        namespace: &str,
        collection: &str,
        start: &str,
        end: &str,
        limit: usize,
    ) -> Result<Vec<(String, VersionedValue)>, StateError> {
        let _ = (start, end, limit);
        Err(no_private_data(namespace, collection))
    }

    /// The hash and version of a private key, by key hash: every channel
    /// peer holds these. The default (a view without hashed state) refuses.
    fn private_hash(
        &self,
        namespace: &str,
        collection: &str,
        key_hash: &Digest,
    ) -> Result<Option<HashedValue>, StateError> {
        let _ = key_hash;
        Err(no_private_data(namespace, collection))
    }
}

fn no_private_data(namespace: &str, collection: &str) -> StateError {
    StateError(format!(
        "this state view holds no private data (collection {collection} of {namespace})"
    ))
}
