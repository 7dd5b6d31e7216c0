//! The state as earlier valid transactions of the block being validated left
//! it: committed state from the [`LedgerView`] plus this block's writes.

use std::collections::BTreeMap;

use cairn_crypto::Digest;

use crate::ids::Version;
use crate::rwset::MetadataEntry;
use crate::state::StateError;
use crate::validate::LedgerView;

/// In-block writes layered over committed state.
#[derive(Default)]
pub(crate) struct Overlay {
    /// (namespace, key) → version after this block's writes so far (`None`: deleted).
    versions: BTreeMap<(String, String), Option<Version>>,
    /// (namespace, key) → metadata written by this block so far.
    metadata: BTreeMap<(String, String), Vec<MetadataEntry>>,
    /// (namespace, collection, key hash) → hashed-state version after this
    /// block's private writes so far (`None`: deleted or purged).
    private: BTreeMap<(String, String, Digest), Option<Version>>,
}

impl Overlay {
    /// The current version of a key, counting this block's earlier writes.
    pub(crate) fn version(
        &self,
        view: &dyn LedgerView,
        ns: &str,
        key: &str,
    ) -> Result<Option<Version>, StateError> {
        if let Some(v) = self.versions.get(&(ns.to_string(), key.to_string())) {
            return Ok(*v);
        }
        Ok(view.state(ns, key)?.map(|v| v.version))
    }

    /// A key's metadata, counting this block's earlier writes.
    pub(crate) fn metadata(
        &self,
        view: &dyn LedgerView,
        ns: &str,
        key: &str,
    ) -> Result<Vec<MetadataEntry>, StateError> {
        if let Some(m) = self.metadata.get(&(ns.to_string(), key.to_string())) {
            return Ok(m.clone());
        }
        view.metadata(ns, key)
    }

    /// Keys in `[start, end)` with their current versions, in key order.
    pub(crate) fn range(
        &self,
        view: &dyn LedgerView,
        ns: &str,
        start: &str,
        end: &str,
    ) -> Result<Vec<(String, Version)>, StateError> {
        let mut merged: BTreeMap<String, Option<Version>> = view
            .range(ns, start, end, 0)?
            .into_iter()
            .map(|(k, v)| (k, Some(v.version)))
            .collect();
        let lo = (ns.to_string(), start.to_string());
        for ((n, k), v) in self.versions.range(lo..) {
            if n != ns || (!end.is_empty() && k.as_str() >= end) {
                break;
            }
            merged.insert(k.clone(), *v);
        }
        Ok(merged
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .collect())
    }

    /// The current version of a private key (by hash) in the hashed state,
    /// counting this block's earlier writes.
    pub(crate) fn private_version(
        &self,
        view: &dyn LedgerView,
        ns: &str,
        collection: &str,
        key_hash: &Digest,
    ) -> Result<Option<Version>, StateError> {
        let k = (ns.to_string(), collection.to_string(), *key_hash);
        if let Some(v) = self.private.get(&k) {
            return Ok(*v);
        }
        Ok(view
            .private_hash(ns, collection, key_hash)?
            .map(|h| h.version))
    }

    /// Records a valid transaction's private write (by key hash).
    pub(crate) fn write_private(
        &mut self,
        ns: &str,
        collection: &str,
        key_hash: Digest,
        version: Option<Version>,
    ) {
        self.private
            .insert((ns.to_string(), collection.to_string(), key_hash), version);
    }

    /// Records a valid transaction's write.
    pub(crate) fn write(&mut self, ns: &str, key: &str, version: Option<Version>) {
        self.versions
            .insert((ns.to_string(), key.to_string()), version);
    }

    /// Records a valid transaction's metadata write.
    pub(crate) fn write_metadata(&mut self, ns: &str, key: &str, entries: Vec<MetadataEntry>) {
        self.metadata
            .insert((ns.to_string(), key.to_string()), entries);
    }
}
