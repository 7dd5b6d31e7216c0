//! Private data on the simulator: Fabric's `GetPrivateData`,
//! `PutPrivateData`, `DelPrivateData`, `PurgePrivateData`,
//! `GetPrivateDataHash` and private range queries, with the seed's access
//! rules:
//!
//! - any channel peer may endorse a write (it only records it; the value
//!   goes to the peer's transient store, never its state), unless
//!   `memberOnlyWrite` refuses the client's org;
//! - reading values needs this peer's org to be a member (it holds the
//!   data) and, with `memberOnlyRead`, the client's org too;
//! - `getPrivateDataHash` works on every channel peer.
//!
//! Reads are recorded as hashed reads (key hash, version) for MVCC; writes
//! go to the read/write set as hashes and to the private write set in
//! cleartext (see [`crate::RwSetBuilder::build_with_private`]).

use cairn_crypto::Digest;
use cairn_ledger::private::{Collection, key_hash};

use crate::composite::partial_key_range;
use crate::error::StubError;
use crate::stub::{Stub, check_key};

impl Stub {
    /// The value of `key` in `collection` (`None`: absent), recording a
    /// hashed read. Fails on a peer whose org is not a member, and with
    /// `memberOnlyRead` for clients of non-member orgs.
    pub fn private_data(
        &mut self,
        collection: &str,
        key: &str,
    ) -> Result<Option<Vec<u8>>, StubError> {
        check_key(key)?;
        let coll = self.collection(collection)?;
        self.check_read(&coll)?;
        let kh = key_hash(key);
        let hashed = self.state.private_hash(&self.namespace, collection, &kh)?;
        self.rw
            .add_private_read(&self.namespace, collection, kh, hashed.map(|h| h.version));
        let Some(hashed) = hashed else {
            return Ok(None);
        };
        let held = self.state.private_state(&self.namespace, collection, key)?;
        match held {
            Some(v) if v.version == hashed.version => Ok(Some(v.value)),
            _ if expired(
                coll.block_to_live(),
                hashed.version.block,
                self.state.height()?,
            ) =>
            {
                // Purged after blockToLive: Fabric reads it as absent.
                Ok(None)
            }
            _ => Err(StubError::PrivateDataUnavailable {
                collection: collection.to_owned(),
                block: hashed.version.block,
                tx: hashed.version.tx,
            }),
        }
    }

    /// The SHA-256 of the value of `key` in `collection` as the ledger holds
    /// it (`None`: absent), recording a hashed read. Works on every channel
    /// peer, member or not.
    pub fn private_data_hash(
        &mut self,
        collection: &str,
        key: &str,
    ) -> Result<Option<Digest>, StubError> {
        check_key(key)?;
        self.collection(collection)?;
        let kh = key_hash(key);
        let hashed = self.state.private_hash(&self.namespace, collection, &kh)?;
        self.rw
            .add_private_read(&self.namespace, collection, kh, hashed.map(|h| h.version));
        Ok(hashed.map(|h| h.value_hash))
    }

    /// Writes `value` to `key` in `collection` (an empty value deletes, as in
    /// Fabric). Any channel peer may endorse it; with `memberOnlyWrite` only
    /// for clients of member orgs.
    pub fn put_private_data(
        &mut self,
        collection: &str,
        key: &str,
        value: &[u8],
    ) -> Result<(), StubError> {
        self.private_write(collection, key, Some(value.to_vec()), false)
    }

    /// Deletes `key` from `collection`; its history stays with member peers.
    pub fn delete_private_data(&mut self, collection: &str, key: &str) -> Result<(), StubError> {
        self.private_write(collection, key, None, false)
    }

    /// Deletes `key` from `collection` and purges its history from every
    /// member peer (Fabric 2.5's `PurgePrivateData`); the hashes in blocks stay.
    pub fn purge_private_data(&mut self, collection: &str, key: &str) -> Result<(), StubError> {
        self.private_write(collection, key, None, true)
    }

    /// Every key and value of `collection` in `[start, end)` (empty `end`:
    /// no upper bound), recording each returned key as a hashed read. As in
    /// Fabric, keys that appear later are not detected (no phantom check).
    pub fn private_data_range(
        &mut self,
        collection: &str,
        start: &str,
        end: &str,
    ) -> Result<Vec<(String, Vec<u8>)>, StubError> {
        let coll = self.collection(collection)?;
        self.check_read(&coll)?;
        let rows = self
            .state
            .private_range(&self.namespace, collection, start, end, 0)?;
        let mut out = Vec::with_capacity(rows.len());
        for (key, value) in rows {
            self.rw.add_private_read(
                &self.namespace,
                collection,
                key_hash(&key),
                Some(value.version),
            );
            out.push((key, value.value));
        }
        Ok(out)
    }

    /// Every key of `collection` that extends a partial composite key.
    pub fn private_data_by_partial_composite_key(
        &mut self,
        collection: &str,
        object_type: &str,
        attributes: &[&str],
    ) -> Result<Vec<(String, Vec<u8>)>, StubError> {
        let (start, end) = partial_key_range(object_type, attributes)?;
        self.private_data_range(collection, &start, &end)
    }

    fn private_write(
        &mut self,
        collection: &str,
        key: &str,
        value: Option<Vec<u8>>,
        purge: bool,
    ) -> Result<(), StubError> {
        check_key(key)?;
        self.check_write()?;
        let coll = self.collection(collection)?;
        if coll.config().member_only_write && !coll.is_member(self.creator().msp_id()) {
            return Err(StubError::ClientNotMember {
                client_org: self.creator().msp_id().to_owned(),
                collection: collection.to_owned(),
                access: "write",
                access_flag: "Write",
                members: members(&coll),
            });
        }
        self.rw
            .add_private_write(&self.namespace, collection, key, value, purge);
        Ok(())
    }

    /// The collection as defined for this contract (explicit or implicit).
    fn collection(&self, name: &str) -> Result<Collection, StubError> {
        if name.is_empty() {
            return Err(StubError::InvalidArgument(
                "collection must be a valid string".into(),
            ));
        }
        self.definition
            .as_ref()
            .and_then(|d| Collection::resolve(d, &self.channel, name))
            .ok_or_else(|| StubError::UnknownCollection {
                collection: name.to_owned(),
                contract: self.namespace.clone(),
            })
    }

    /// Fabric checks the client first (`memberOnlyRead`), then whether the
    /// peer holds the data at all.
    fn check_read(&self, coll: &Collection) -> Result<(), StubError> {
        let client = self.creator().msp_id();
        if coll.config().member_only_read && !coll.is_member(client) {
            return Err(StubError::ClientNotMember {
                client_org: client.to_owned(),
                collection: coll.name().to_owned(),
                access: "read",
                access_flag: "Read",
                members: members(coll),
            });
        }
        let peer = self.peer_msp_id();
        if !coll.is_member(peer) {
            return Err(StubError::NotMember {
                peer_org: peer.to_owned(),
                collection: coll.name().to_owned(),
                members: members(coll),
            });
        }
        Ok(())
    }
}

fn members(coll: &Collection) -> String {
    coll.member_orgs()
        .iter()
        .cloned()
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether data written in block `written` has been purged by
/// `blockToLive` once the ledger has `height` blocks: Fabric purges it when
/// block `written + block_to_live + 1` commits.
pub(crate) fn expired(block_to_live: u64, written: u64, height: u64) -> bool {
    block_to_live > 0 && height > written.saturating_add(block_to_live).saturating_add(1)
}

#[cfg(test)]
mod tests {
    use super::expired;

    #[test]
    fn block_to_live_counts_blocks_after_the_write() {
        // Written in block 10 with blockToLive 3: readable while blocks
        // 11, 12 and 13 commit; purged by the commit of block 14 (height 15).
        assert!(!expired(3, 10, 11));
        assert!(!expired(3, 10, 14));
        assert!(expired(3, 10, 15));
        assert!(!expired(0, 10, u64::MAX), "0 keeps data forever");
    }
}
