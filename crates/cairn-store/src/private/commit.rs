//! Private data in a block's write transaction: the hashed state on every
//! ledger; on a member org's ledger, the cleartext values that match the
//! block's hashes, records of those that did not arrive, purges, and the
//! blockToLive schedule.

use std::collections::BTreeMap;

use cairn_crypto::Digest;
use cairn_ledger::encoding::Canonical;
use cairn_ledger::ids::Version;
use cairn_ledger::private::{
    CollectionPrivateWrites, PrivateData, PrivateWrite, verify_collection,
};
use cairn_ledger::state::{HashedValue, VersionedValue};
use cairn_ledger::validate::{BlockResult, HashedCollectionWrites};
use cairn_ledger::validation::ValidationCode;
use redb::{ReadableTable, Table, WriteTransaction};
use tracing::warn;

use super::keys::{self, Entry};
use crate::error::WriteError;
use crate::tables::{
    PVT_BY_KEY, PVT_DATA, PVT_EXPIRY, PVT_HASHED, PVT_KEYS, PVT_MISSING, PVT_STATE,
};

/// What a block did to private data on this ledger.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PrivateCommitStats {
    /// Cleartext writes stored (values that matched the block's hashes).
    pub stored: usize,
    /// Puts this ledger's org should hold but whose values did not arrive
    /// (recorded for reconciliation).
    pub missing: usize,
    /// Supplied values that did not match the block's hashes (dropped).
    pub rejected: usize,
    /// Cleartext entries purged because their blockToLive ran out.
    pub expired: usize,
}

/// The private tables, open in one write transaction.
pub(crate) struct PrivateTables<'txn> {
    pub(crate) hashed: Table<'txn, &'static [u8], &'static [u8]>,
    pub(crate) state: Table<'txn, &'static [u8], &'static [u8]>,
    pub(crate) keys: Table<'txn, &'static [u8], &'static [u8]>,
    pub(crate) data: Table<'txn, &'static [u8], &'static [u8]>,
    pub(crate) missing: Table<'txn, &'static [u8], ()>,
    pub(crate) by_key: Table<'txn, &'static [u8], ()>,
    pub(crate) expiry: Table<'txn, &'static [u8], ()>,
}

impl<'txn> PrivateTables<'txn> {
    pub(crate) fn open(w: &'txn WriteTransaction) -> Result<Self, redb::Error> {
        Ok(PrivateTables {
            hashed: w.open_table(PVT_HASHED)?,
            state: w.open_table(PVT_STATE)?,
            keys: w.open_table(PVT_KEYS)?,
            data: w.open_table(PVT_DATA)?,
            missing: w.open_table(PVT_MISSING)?,
            by_key: w.open_table(PVT_BY_KEY)?,
            expiry: w.open_table(PVT_EXPIRY)?,
        })
    }

    /// The hashed state's version of a key hash.
    pub(crate) fn hashed_version(
        &self,
        ns: &str,
        coll: &str,
        kh: &Digest,
    ) -> Result<Option<Version>, redb::Error> {
        Ok(self
            .hashed
            .get(keys::hashed_key(ns, coll, kh).as_slice())?
            .and_then(|v| HashedValue::decode(v.value()).ok())
            .map(|h| h.version))
    }

    /// Stores a verified cleartext write as history (and as current state
    /// when `current`).
    pub(crate) fn store(
        &mut self,
        ns: &str,
        coll: &str,
        version: Version,
        write: &PrivateWrite,
        current: bool,
    ) -> Result<(), WriteError> {
        let kh = cairn_ledger::private::key_hash(&write.key);
        self.data.insert(
            keys::data_key(version.block, version.tx, ns, coll, &kh).as_slice(),
            write.encode()?.as_slice(),
        )?;
        self.by_key
            .insert(keys::by_key(ns, coll, &kh, version).as_slice(), ())?;
        if current && !write.is_delete {
            let v = VersionedValue {
                value: write.value.clone(),
                version,
            };
            self.state.insert(
                keys::state_key(ns, coll, &write.key).as_slice(),
                v.encode()?.as_slice(),
            )?;
            self.keys.insert(
                keys::hashed_key(ns, coll, &kh).as_slice(),
                write.key.as_bytes(),
            )?;
        }
        Ok(())
    }

    /// Removes the current cleartext value of a key hash, if held (and only
    /// if it is `at` when given).
    fn remove_current(
        &mut self,
        ns: &str,
        coll: &str,
        kh: &Digest,
        at: Option<Version>,
    ) -> Result<bool, redb::Error> {
        let hk = keys::hashed_key(ns, coll, kh);
        let Some(key) = self.keys.get(hk.as_slice())?.map(|k| k.value().to_vec()) else {
            return Ok(false);
        };
        let sk = keys::state_key_bytes(ns, coll, &key);
        if let Some(at) = at {
            let held = self
                .state
                .get(sk.as_slice())?
                .and_then(|v| VersionedValue::decode(v.value()).ok())
                .map(|v| v.version);
            if held != Some(at) {
                return Ok(false);
            }
        }
        self.state.remove(sk.as_slice())?;
        self.keys.remove(hk.as_slice())?;
        Ok(true)
    }

    /// `purgePrivateData`: the current value, and every history and missing
    /// entry of the key up to `version`, are removed.
    fn purge(
        &mut self,
        ns: &str,
        coll: &str,
        kh: &Digest,
        version: Version,
    ) -> Result<(), redb::Error> {
        self.remove_current(ns, coll, kh, None)?;
        let lo = keys::hashed_key(ns, coll, kh);
        let hi = keys::by_key(ns, coll, kh, version);
        let entries: Vec<Vec<u8>> = self
            .by_key
            .range(lo.as_slice()..=hi.as_slice())?
            .map(|r| r.map(|(k, _)| k.value().to_vec()))
            .collect::<Result<_, _>>()?;
        for e in entries {
            if let Some(v) = keys::by_key_version(&e) {
                let dk = keys::data_key(v.block, v.tx, ns, coll, kh);
                self.data.remove(dk.as_slice())?;
                self.missing.remove(dk.as_slice())?;
            }
            self.by_key.remove(e.as_slice())?;
        }
        Ok(())
    }
}

/// Applies the private side of a validated block: see the module doc.
pub(crate) fn write_private(
    w: &WriteTransaction,
    number: u64,
    result: &BlockResult,
    private: &PrivateData,
    member_org: Option<&str>,
) -> Result<PrivateCommitStats, WriteError> {
    let mut t = PrivateTables::open(w)?;
    let mut stats = PrivateCommitStats::default();
    for (i, tx) in result.txs.iter().enumerate() {
        if tx.code != ValidationCode::Valid {
            continue;
        }
        let version = Version {
            block: number,
            tx: u32::try_from(i).unwrap_or(u32::MAX),
        };
        let supplied = tx.txid.and_then(|id| private.get(&id));
        for c in &tx.effects.hashed_writes {
            let member = member_org.is_some_and(|o| c.members.iter().any(|m| m == o));
            let cleartext = supplied.and_then(|s| s.collection(&c.namespace, &c.collection));
            apply_collection(&mut t, c, version, member, cleartext, &mut stats)?;
        }
    }
    stats.expired = expire(&mut t, number)?;
    Ok(stats)
}

fn apply_collection(
    t: &mut PrivateTables<'_>,
    c: &HashedCollectionWrites,
    version: Version,
    member: bool,
    cleartext: Option<&CollectionPrivateWrites>,
    stats: &mut PrivateCommitStats,
) -> Result<(), WriteError> {
    let (ns, coll) = (c.namespace.as_str(), c.collection.as_str());
    let mut matching: BTreeMap<Digest, &PrivateWrite> = BTreeMap::new();
    if member && let Some(supplied) = cleartext {
        let verified = verify_collection(&c.writes, supplied);
        if verified.rejected > 0 {
            warn!(
                block = version.block,
                tx = version.tx,
                collection = coll,
                rejected = verified.rejected,
                "supplied private data does not match the block's hashes; dropped"
            );
        }
        stats.rejected += verified.rejected;
        for m in verified.matching {
            matching.insert(cairn_ledger::private::key_hash(&m.key), m);
        }
    }
    for hw in &c.writes {
        let hk = keys::hashed_key(ns, coll, &hw.key_hash);
        if hw.is_delete || hw.is_purge {
            t.hashed.remove(hk.as_slice())?;
        } else {
            let h = HashedValue {
                value_hash: hw.value_hash,
                version,
            };
            t.hashed.insert(hk.as_slice(), h.encode()?.as_slice())?;
        }
        if !member {
            continue;
        }
        if hw.is_purge {
            t.purge(ns, coll, &hw.key_hash, version)?;
            continue;
        }
        if hw.is_delete {
            t.remove_current(ns, coll, &hw.key_hash, None)?;
        }
        match matching.get(&hw.key_hash) {
            Some(write) => {
                t.store(ns, coll, version, write, true)?;
                stats.stored += 1;
            }
            // A delete needs no value: the key is gone by its hash.
            None if hw.is_delete => {}
            None => {
                let dk = keys::data_key(version.block, version.tx, ns, coll, &hw.key_hash);
                t.missing.insert(dk.as_slice(), ())?;
                t.by_key
                    .insert(keys::by_key(ns, coll, &hw.key_hash, version).as_slice(), ())?;
                stats.missing += 1;
            }
        }
        if c.block_to_live > 0 {
            // Fabric: data written in block b is purged when block b + btl + 1 commits.
            let expiring = version
                .block
                .saturating_add(c.block_to_live)
                .saturating_add(1);
            t.expiry.insert(
                keys::expiry_key(expiring, version.block, version.tx, ns, coll, &hw.key_hash)
                    .as_slice(),
                (),
            )?;
        }
    }
    Ok(())
}

/// Purges the cleartext whose blockToLive runs out with block `number`;
/// the hashes stay. Returns how many entries were removed.
fn expire(t: &mut PrivateTables<'_>, number: u64) -> Result<usize, redb::Error> {
    let lo = number.to_be_bytes();
    let hi = number.saturating_add(1).to_be_bytes();
    let due: Vec<Vec<u8>> = t
        .expiry
        .range(lo.as_slice()..hi.as_slice())?
        .map(|r| r.map(|(k, _)| k.value().to_vec()))
        .collect::<Result<_, _>>()?;
    let mut removed = 0;
    for k in due {
        t.expiry.remove(k.as_slice())?;
        let Some(Entry {
            version,
            ns,
            coll,
            kh,
        }) = keys::parse_expiry_key(&k)
        else {
            continue;
        };
        let dk = keys::data_key(version.block, version.tx, &ns, &coll, &kh);
        let had_data = t.data.remove(dk.as_slice())?.is_some();
        t.missing.remove(dk.as_slice())?;
        t.by_key
            .remove(keys::by_key(&ns, &coll, &kh, version).as_slice())?;
        let had_state = t.remove_current(&ns, &coll, &kh, Some(version))?;
        if had_data || had_state {
            removed += 1;
        }
    }
    Ok(removed)
}
