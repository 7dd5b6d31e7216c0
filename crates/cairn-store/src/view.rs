//! A consistent read snapshot of the ledger: world state, history, txids and
//! the transaction tree as of one committed block.

use cairn_crypto::Digest;
use cairn_ledger::block::Block;
use cairn_ledger::encoding::Canonical;
use cairn_ledger::ids::{TxId, Version};
use cairn_ledger::rwset::MetadataEntry;
use cairn_ledger::state::{HashedValue, HistoryEntry, StateError, StateView, VersionedValue};
use cairn_ledger::tx::Transaction;
use cairn_ledger::validate::LedgerView;
use cairn_merkle::{Hash, NodeStore};
use redb::{ReadTransaction, ReadableTable};

use crate::private::keys;
use crate::tables::{
    BLOCKS, HISTORY, META, METADATA, MetaKey, PVT_HASHED, PVT_STATE, STATE, TREE, TXIDS,
    TxLocation, history_prefix, split_state_key, state_key, state_range,
};

/// A read snapshot. Cheap to create; holds redb's MVCC read transaction.
pub struct Snapshot {
    pub(crate) txn: ReadTransaction,
    pub(crate) height: u64,
}

fn st(e: impl std::fmt::Display) -> StateError {
    StateError(e.to_string())
}

impl Snapshot {
    /// The block with this number, if committed.
    pub fn block(&self, number: u64) -> Result<Option<Block>, StateError> {
        let t = self.txn.open_table(BLOCKS).map_err(st)?;
        match t.get(number).map_err(st)? {
            Some(v) => Block::decode(v.value()).map(Some).map_err(st),
            None => Ok(None),
        }
    }

    /// The stored bytes of block `number` (its canonical encoding, checked
    /// against its integrity record when the ledger was opened), for serving
    /// it without decoding and encoding it again.
    pub fn block_bytes(&self, number: u64) -> Result<Option<Vec<u8>>, StateError> {
        let t = self.txn.open_table(BLOCKS).map_err(st)?;
        Ok(t.get(number).map_err(st)?.map(|v| v.value().to_vec()))
    }

    /// Where a transaction is and its code.
    pub fn tx_location(&self, txid: &TxId) -> Result<Option<TxLocation>, StateError> {
        let t = self.txn.open_table(TXIDS).map_err(st)?;
        match t.get(txid.as_bytes().as_slice()).map_err(st)? {
            Some(v) => TxLocation::decode(v.value()).map(Some).map_err(st),
            None => Ok(None),
        }
    }

    /// Every (namespace, key, value) of the world state, in key order.
    pub fn all_state(&self) -> Result<Vec<(String, String, VersionedValue)>, StateError> {
        let t = self.txn.open_table(STATE).map_err(st)?;
        let mut out = Vec::new();
        for item in t.iter().map_err(st)? {
            let (k, v) = item.map_err(st)?;
            let (ns, key) =
                split_state_key(k.value()).ok_or_else(|| st("state key without namespace"))?;
            out.push((ns, key, VersionedValue::decode(v.value()).map_err(st)?));
        }
        Ok(out)
    }

    /// The committed height.
    pub fn committed_height(&self) -> u64 {
        self.height
    }
}

impl StateView for Snapshot {
    fn state(&self, namespace: &str, key: &str) -> Result<Option<VersionedValue>, StateError> {
        let t = self.txn.open_table(STATE).map_err(st)?;
        match t.get(state_key(namespace, key).as_slice()).map_err(st)? {
            Some(v) => VersionedValue::decode(v.value()).map(Some).map_err(st),
            None => Ok(None),
        }
    }

    fn range(
        &self,
        namespace: &str,
        start: &str,
        end: &str,
        limit: usize,
    ) -> Result<Vec<(String, VersionedValue)>, StateError> {
        let t = self.txn.open_table(STATE).map_err(st)?;
        let (lo, hi) = state_range(namespace, start, end);
        let mut out = Vec::new();
        for item in t.range(lo.as_slice()..hi.as_slice()).map_err(st)? {
            let (k, v) = item.map_err(st)?;
            let (_, key) =
                split_state_key(k.value()).ok_or_else(|| st("state key without namespace"))?;
            out.push((key, VersionedValue::decode(v.value()).map_err(st)?));
            if limit != 0 && out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }

    fn history(&self, namespace: &str, key: &str) -> Result<Vec<HistoryEntry>, StateError> {
        let meta = self.txn.open_table(META).map_err(st)?;
        if meta.get(MetaKey::NO_HISTORY).map_err(st)?.is_some() {
            return Err(st(
                "this ledger keeps no key history (an orderer's); ask a peer of the channel",
            ));
        }
        let t = self.txn.open_table(HISTORY).map_err(st)?;
        let prefix = history_prefix(namespace, key);
        let mut hi = prefix.clone();
        hi.push(0xff);
        let mut versions = Vec::new();
        for item in t.range(prefix.as_slice()..hi.as_slice()).map_err(st)? {
            let (k, _) = item.map_err(st)?;
            let k = k.value();
            // Composite keys contain 0x00, so a longer key can share the
            // prefix: only entries of exactly this key have a 12-byte suffix.
            if k.len() != prefix.len() + 12 {
                continue;
            }
            let tail = &k[prefix.len()..];
            let block = u64::from_be_bytes(tail[..8].try_into().map_err(st)?);
            let tx = u32::from_be_bytes(tail[8..].try_into().map_err(st)?);
            versions.push(Version { block, tx });
        }
        let mut out = Vec::with_capacity(versions.len());
        for v in versions.into_iter().rev() {
            let block = self
                .block(v.block)?
                .ok_or_else(|| st(format!("history names missing block {}", v.block)))?;
            let env = block
                .data
                .get(v.tx as usize)
                .ok_or_else(|| st(format!("history names missing tx {}:{}", v.block, v.tx)))?;
            let env = cairn_ledger::tx::Envelope::decode(env).map_err(st)?;
            let Ok(Transaction::Endorsed(tx)) = env.transaction() else {
                return Err(st("history names a non-endorser transaction"));
            };
            let payload = cairn_ledger::tx::ProposalResponsePayload::decode(&tx.response_payload)
                .map_err(st)?;
            let write = payload
                .rwset
                .namespaces
                .iter()
                .filter(|n| n.namespace == namespace)
                .flat_map(|n| n.writes.iter())
                .find(|w| w.key == key)
                .ok_or_else(|| st("history names a tx that did not write the key"))?;
            out.push(HistoryEntry {
                txid: tx.header.txid,
                timestamp: tx.header.timestamp,
                is_delete: write.is_delete,
                value: write.value.clone(),
            });
        }
        Ok(out)
    }

    fn metadata(&self, namespace: &str, key: &str) -> Result<Vec<MetadataEntry>, StateError> {
        let t = self.txn.open_table(METADATA).map_err(st)?;
        match t.get(state_key(namespace, key).as_slice()).map_err(st)? {
            Some(v) => Vec::<MetadataEntry>::decode(v.value()).map_err(st),
            None => Ok(Vec::new()),
        }
    }

    fn height(&self) -> Result<u64, StateError> {
        Ok(self.height)
    }

    fn private_state(
        &self,
        namespace: &str,
        collection: &str,
        key: &str,
    ) -> Result<Option<VersionedValue>, StateError> {
        let t = self.txn.open_table(PVT_STATE).map_err(st)?;
        match t
            .get(keys::state_key(namespace, collection, key).as_slice())
            .map_err(st)?
        {
            Some(v) => VersionedValue::decode(v.value()).map(Some).map_err(st),
            None => Ok(None),
        }
    }

    fn private_range(
        &self,
        namespace: &str,
        collection: &str,
        start: &str,
        end: &str,
        limit: usize,
    ) -> Result<Vec<(String, VersionedValue)>, StateError> {
        let t = self.txn.open_table(PVT_STATE).map_err(st)?;
        let prefix_len = keys::coll_prefix(namespace, collection).len();
        let (lo, hi) = keys::state_range(namespace, collection, start, end);
        let mut out = Vec::new();
        for item in t.range(lo.as_slice()..hi.as_slice()).map_err(st)? {
            let (k, v) = item.map_err(st)?;
            let key = keys::state_key_suffix(k.value(), prefix_len)
                .ok_or_else(|| st("private state key is not UTF-8"))?;
            out.push((key, VersionedValue::decode(v.value()).map_err(st)?));
            if limit != 0 && out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }

    fn private_hash(
        &self,
        namespace: &str,
        collection: &str,
        key_hash: &Digest,
    ) -> Result<Option<HashedValue>, StateError> {
        let t = self.txn.open_table(PVT_HASHED).map_err(st)?;
        match t
            .get(keys::hashed_key(namespace, collection, key_hash).as_slice())
            .map_err(st)?
        {
            Some(v) => HashedValue::decode(v.value()).map(Some).map_err(st),
            None => Ok(None),
        }
    }
}

impl LedgerView for Snapshot {
    fn contains_txid(&self, txid: &TxId) -> Result<bool, StateError> {
        let t = self.txn.open_table(TXIDS).map_err(st)?;
        Ok(t.get(txid.as_bytes().as_slice()).map_err(st)?.is_some())
    }
}

impl NodeStore for Snapshot {
    type Error = StateError;

    fn node(&self, level: u8, index: u64) -> Result<Option<Hash>, StateError> {
        let t = self.txn.open_table(TREE).map_err(st)?;
        match t.get((level, index)).map_err(st)? {
            Some(v) => {
                let b: [u8; 32] = v
                    .value()
                    .try_into()
                    .map_err(|_| st(format!("tree node ({level}, {index}) is not 32 bytes")))?;
                Ok(Some(Hash::from(b)))
            }
            None => Ok(None),
        }
    }
}
