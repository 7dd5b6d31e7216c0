//! Private data on the ledger: the hashed state every peer keeps, the
//! cleartext a member org's peer keeps, what is missing, reconciliation and
//! blockToLive. The peer calls these; they never reach the network here.
//!
//! ```text
//!  commit_with_private(block, PrivateData from the transient store)
//!      ├─ every ledger: pvt_hashed  (key hash → value hash, version)
//!      └─ member org:   pvt_state / pvt_data for values matching the hashes,
//!                       pvt_missing for the rest ──► missing_private_data()
//!                                                    └─► reconcile(block, tx, writes)
//! ```
//!
//! Invariant: cleartext is stored only when its key hash, value hash and
//! flags equal the committed block's, and only for collections the ledger's
//! member org ([`Ledger::set_member_org`]) belongs to (membership as of the
//! block). A ledger without a member org (an orderer's) holds hashes only.

mod commit;
pub(crate) mod keys;

use std::collections::BTreeMap;

use cairn_ledger::encoding::Canonical;
use cairn_ledger::ids::Version;
use cairn_ledger::private::{MissingPrivateData, PrivateWrite, PrivateWriteSet, verify_collection};
use cairn_ledger::tx::{ProposalResponsePayload, Transaction};
use cairn_ledger::validation::ValidationCode;
use redb::{ReadableDatabase, ReadableTable};
use tracing::info;

pub use commit::PrivateCommitStats;
pub(crate) use commit::{PrivateTables, write_private};

use crate::error::StoreError;
use crate::ledger::Ledger;
use crate::tables::{META, MetaKey, PVT_DATA, PVT_MISSING};

/// What [`Ledger::reconcile`] did with the writes it was given.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReconcileReport {
    /// Writes stored: they matched the block's hashes and were missing here.
    pub stored: usize,
    /// Writes that matched no hash of the transaction (dropped).
    pub rejected: usize,
    /// Matching writes this ledger was not missing (already held, purged,
    /// expired, or of a collection its org is not a member of).
    pub ignored: usize,
}

fn db<E: Into<redb::Error>>(action: &'static str) -> impl Fn(E) -> StoreError {
    move |e| StoreError::db(action, e)
}

impl Ledger {
    /// Records which org this ledger belongs to: from now on it keeps the
    /// cleartext of that org's collections. Set it once, before committing
    /// blocks with private data; it cannot change to another org.
    pub fn set_member_org(&self, msp_id: &str) -> Result<(), StoreError> {
        if let Some(current) = self.member_org() {
            if current == msp_id {
                return Ok(());
            }
            return Err(StoreError::MemberOrg {
                current,
                requested: msp_id.to_owned(),
            });
        }
        let w = self
            .db()?
            .begin_write()
            .map_err(|e| StoreError::db("begin write", e))?;
        {
            let mut meta = w.open_table(META).map_err(db("open meta"))?;
            meta.insert(MetaKey::MEMBER_ORG, msp_id.as_bytes())
                .map_err(db("write member org"))?;
        }
        w.commit().map_err(|e| StoreError::db("commit", e))?;
        *self.member_org.write().unwrap_or_else(|p| p.into_inner()) = Some(msp_id.to_owned());
        info!(
            member_org = msp_id,
            "ledger keeps the private data of this org's collections"
        );
        Ok(())
    }

    /// The org whose collections' cleartext this ledger keeps, if set.
    pub fn member_org(&self) -> Option<String> {
        self.member_org
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Private data this ledger's org should hold but does not, oldest
    /// first, at most `limit` entries (0: all): what reconciliation fetches.
    pub fn missing_private_data(
        &self,
        limit: usize,
    ) -> Result<Vec<MissingPrivateData>, StoreError> {
        let r = self
            .db()?
            .begin_read()
            .map_err(|e| StoreError::db("begin read", e))?;
        let t = r
            .open_table(PVT_MISSING)
            .map_err(|e| StoreError::db("open pvt_missing", e))?;
        let mut out: Vec<MissingPrivateData> = Vec::new();
        for item in t
            .iter()
            .map_err(|e| StoreError::db("read pvt_missing", e))?
        {
            let (k, _) = item.map_err(|e| StoreError::db("read pvt_missing", e))?;
            let e = keys::parse_data_key(k.value()).ok_or_else(|| StoreError::Corrupt {
                what: "missing private data index".into(),
                reason: "malformed key".into(),
            })?;
            match out.last_mut() {
                Some(m)
                    if m.block == e.version.block
                        && m.tx == e.version.tx
                        && m.namespace == e.ns
                        && m.collection == e.coll =>
                {
                    m.key_hashes.push(e.kh);
                }
                _ => {
                    if limit != 0 && out.len() == limit {
                        break;
                    }
                    out.push(MissingPrivateData {
                        block: e.version.block,
                        tx: e.version.tx,
                        namespace: e.ns,
                        collection: e.coll,
                        key_hashes: vec![e.kh],
                    });
                }
            }
        }
        Ok(out)
    }

    /// Fills missing private data of transaction `tx` of block `block` with
    /// `writes` (from another member peer): each write is checked against
    /// the block's hashes, and stored only where this ledger recorded it as
    /// missing. Becomes current state only if no later write replaced it.
    pub fn reconcile(
        &self,
        block: u64,
        tx: u32,
        writes: &PrivateWriteSet,
    ) -> Result<ReconcileReport, StoreError> {
        let bad = |reason: String| StoreError::Reconcile { block, tx, reason };
        let payload = self
            .tx_payload(block, tx)?
            .ok_or_else(|| bad("no such valid endorsed transaction on this ledger".into()))?;
        let version = Version { block, tx };
        let mut report = ReconcileReport::default();
        let w = self
            .db()?
            .begin_write()
            .map_err(|e| StoreError::db("begin write", e))?;
        {
            let mut t = PrivateTables::open(&w).map_err(db("open private tables"))?;
            for (ns, supplied) in writes.collections() {
                let hashed = payload
                    .rwset
                    .namespaces
                    .iter()
                    .find(|n| n.namespace == ns)
                    .and_then(|n| {
                        n.collections
                            .iter()
                            .find(|c| c.collection == supplied.collection)
                    });
                let Some(hashed) = hashed else {
                    report.rejected += supplied.writes.len();
                    continue;
                };
                let verified = verify_collection(&hashed.hashed_writes, supplied);
                report.rejected += verified.rejected;
                for write in verified.matching {
                    let coll = supplied.collection.as_str();
                    let kh = cairn_ledger::private::key_hash(&write.key);
                    let dk = keys::data_key(block, tx, ns, coll, &kh);
                    if t.missing
                        .remove(dk.as_slice())
                        .map_err(db("write pvt_missing"))?
                        .is_none()
                    {
                        report.ignored += 1;
                        continue;
                    }
                    let current = t
                        .hashed_version(ns, coll, &kh)
                        .map_err(db("read pvt_hashed"))?
                        == Some(version);
                    t.store(ns, coll, version, write, current)
                        .map_err(|e| e.into_store("write private data"))?;
                    report.stored += 1;
                }
            }
        }
        w.commit().map_err(|e| StoreError::db("commit", e))?;
        info!(
            block,
            tx,
            stored = report.stored,
            rejected = report.rejected,
            "private data reconciled"
        );
        Ok(report)
    }

    /// The cleartext private writes of one transaction this ledger holds
    /// (to serve reconciliation and private data events; the caller filters
    /// by the receiver's collections).
    pub fn private_writes(&self, block: u64, tx: u32) -> Result<PrivateWriteSet, StoreError> {
        let mut by_tx = self.private_range(block, Some(tx))?;
        Ok(by_tx.remove(&tx).unwrap_or_default())
    }

    /// The cleartext private writes of every transaction of a block that this
    /// ledger holds, by transaction index.
    pub fn private_block(&self, block: u64) -> Result<BTreeMap<u32, PrivateWriteSet>, StoreError> {
        self.private_range(block, None)
    }

    fn private_range(
        &self,
        block: u64,
        tx: Option<u32>,
    ) -> Result<BTreeMap<u32, PrivateWriteSet>, StoreError> {
        let r = self
            .db()?
            .begin_read()
            .map_err(|e| StoreError::db("begin read", e))?;
        let t = r
            .open_table(PVT_DATA)
            .map_err(|e| StoreError::db("open pvt_data", e))?;
        let (lo, hi) = match tx {
            Some(tx) => (
                keys::tx_prefix(block, tx),
                match tx.checked_add(1) {
                    Some(next) => keys::tx_prefix(block, next),
                    None => keys::tx_prefix(block.saturating_add(1), 0),
                },
            ),
            None => (
                block.to_be_bytes().to_vec(),
                block.saturating_add(1).to_be_bytes().to_vec(),
            ),
        };
        let mut out: BTreeMap<u32, PrivateWriteSet> = BTreeMap::new();
        let rows = t
            .range(lo.as_slice()..hi.as_slice())
            .map_err(|e| StoreError::db("read pvt_data", e))?;
        for item in rows {
            let (k, v) = item.map_err(|e| StoreError::db("read pvt_data", e))?;
            let e = keys::parse_data_key(k.value()).ok_or_else(|| StoreError::Corrupt {
                what: "private data".into(),
                reason: "malformed key".into(),
            })?;
            let write = PrivateWrite::decode(v.value())
                .map_err(|err| StoreError::corrupt("private data", err))?;
            out.entry(e.version.tx)
                .or_default()
                .insert(&e.ns, &e.coll, write);
        }
        Ok(out)
    }

    /// The response payload of a valid endorsed transaction.
    fn tx_payload(
        &self,
        block: u64,
        tx: u32,
    ) -> Result<Option<ProposalResponsePayload>, StoreError> {
        let Some(b) = self.block(block)? else {
            return Ok(None);
        };
        let index = tx as usize;
        if b.metadata.validation_codes.get(index) != Some(&ValidationCode::Valid) {
            return Ok(None);
        }
        let Some(bytes) = b.data.get(index) else {
            return Ok(None);
        };
        let corrupt = |e| StoreError::corrupt(format!("transaction {block}:{tx}"), e);
        let env = cairn_ledger::tx::Envelope::decode(bytes).map_err(corrupt)?;
        match env.transaction().map_err(corrupt)? {
            Transaction::Endorsed(e) => ProposalResponsePayload::decode(&e.response_payload)
                .map(Some)
                .map_err(corrupt),
            Transaction::Config(_) => Ok(None),
        }
    }
}
