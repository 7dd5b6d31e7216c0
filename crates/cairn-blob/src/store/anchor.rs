//! The anchoring outbox: every new version (its SHA-256 and size) and every
//! policy change is queued in the same transaction that makes it, so none
//! is lost to a crash; an anchoring client (`cairn blob serve --anchor`)
//! drains the queue onto a Cairn channel (contract `blob-anchor`) and marks
//! each job with the transaction that recorded it.

use redb::{ReadableTable, WriteTransaction};
use serde::{Deserialize, Serialize};

use super::tables::{BUCKETS, META, OUTBOX, VERSIONS, dberr, decode, encode, parse_version_id};
use super::{BucketInfo, PolicyEvent, Store, VersionInfo};
use crate::error::StoreError;

/// One record to put on the ledger.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnchorJob {
    /// Its place in the queue.
    pub seq: u64,
    /// What to record.
    pub kind: AnchorKind,
}

/// What an anchor records.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AnchorKind {
    /// A bucket's policy change (`RecordBucketPolicy`).
    BucketPolicy {
        /// The bucket.
        bucket: String,
        /// The change's index in the bucket's history.
        index: usize,
        /// The change.
        event: PolicyEvent,
    },
    /// A version's policy change (`RecordPolicy`).
    Policy {
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
        /// The version.
        version_id: String,
        /// The change's index in the version's history.
        index: usize,
        /// The change.
        event: PolicyEvent,
    },
    /// A new version or delete marker (`RecordVersion`).
    Version {
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
        /// The version.
        version_id: String,
        /// SHA-256 of its content, hex ("" for a marker).
        sha256: String,
        /// Its size in bytes.
        size: u64,
        /// Whether it is a delete marker.
        delete_marker: bool,
    },
}

impl AnchorKind {
    /// The `blob-anchor` contract function and its arguments, for store `store_id`.
    pub fn invocation(&self, store_id: &str) -> (&'static str, Vec<String>) {
        match self {
            AnchorKind::BucketPolicy {
                bucket,
                index,
                event,
            } => (
                "RecordBucketPolicy",
                vec![
                    store_id.to_owned(),
                    bucket.clone(),
                    index.to_string(),
                    event.at.rfc3339(),
                    event.by.clone(),
                    event.change.clone(),
                ],
            ),
            AnchorKind::Policy {
                bucket,
                key,
                version_id,
                index,
                event,
            } => (
                "RecordPolicy",
                vec![
                    store_id.to_owned(),
                    bucket.clone(),
                    key.clone(),
                    version_id.clone(),
                    index.to_string(),
                    event.at.rfc3339(),
                    event.by.clone(),
                    event.change.clone(),
                ],
            ),
            AnchorKind::Version {
                bucket,
                key,
                version_id,
                sha256,
                size,
                delete_marker,
            } => (
                "RecordVersion",
                vec![
                    store_id.to_owned(),
                    bucket.clone(),
                    key.clone(),
                    version_id.clone(),
                    sha256.clone(),
                    size.to_string(),
                    delete_marker.to_string(),
                ],
            ),
        }
    }
}

impl Store {
    /// This store's id on the ledger (16 hex digits, made when the store was created).
    pub fn store_id(&self) -> Result<String, StoreError> {
        let r = self.read()?;
        let meta = r.open_table(META).map_err(dberr("reading the store id"))?;
        let id = meta
            .get("store_id")
            .map_err(dberr("reading the store id"))?
            .map_or(0, |v| v.value());
        Ok(format!("{:016x}", id.cast_unsigned()))
    }

    /// Up to `limit` jobs not yet anchored, oldest first.
    pub fn anchor_backlog(&self, limit: usize) -> Result<Vec<AnchorJob>, StoreError> {
        let r = self.read()?;
        let t = r.open_table(OUTBOX).map_err(dberr("reading the outbox"))?;
        let mut out = Vec::new();
        for row in t.iter().map_err(dberr("reading the outbox"))?.take(limit) {
            let (seq, job) = row.map_err(dberr("reading the outbox"))?;
            out.push(AnchorJob {
                seq: seq.value(),
                kind: decode(job.value(), "an anchoring job")?,
            });
        }
        Ok(out)
    }

    /// Records that job `seq` was anchored in transaction `txid`, and drops it from the queue.
    pub fn mark_anchored(&self, seq: u64, txid: &str) -> Result<(), StoreError> {
        self.write("marking an anchor", |w, _| {
            let job: Option<AnchorKind> = {
                let t = w.open_table(OUTBOX).map_err(dberr("reading the outbox"))?;
                let found = t.get(seq).map_err(dberr("reading the outbox"))?;
                match found {
                    Some(j) => Some(decode(j.value(), "an anchoring job")?),
                    None => None,
                }
            };
            match job {
                Some(AnchorKind::Version {
                    bucket,
                    key,
                    version_id,
                    ..
                }) => update_version_record(w, &bucket, &key, &version_id, |v| {
                    v.anchor_txid = Some(txid.to_owned());
                })?,
                Some(AnchorKind::Policy {
                    bucket,
                    key,
                    version_id,
                    index,
                    ..
                }) => update_version_record(w, &bucket, &key, &version_id, |v| {
                    if let Some(e) = v.history.get_mut(index) {
                        e.txid = Some(txid.to_owned());
                    }
                })?,
                Some(AnchorKind::BucketPolicy { bucket, index, .. }) => {
                    let mut t = w.open_table(BUCKETS).map_err(dberr("reading buckets"))?;
                    let found: Option<BucketInfo> =
                        match t.get(bucket.as_str()).map_err(dberr("reading buckets"))? {
                            Some(b) => Some(decode(b.value(), "a bucket record")?),
                            None => None,
                        };
                    if let Some(mut b) = found {
                        if let Some(e) = b.history.get_mut(index) {
                            e.txid = Some(txid.to_owned());
                        }
                        t.insert(bucket.as_str(), encode(&b)?.as_slice())
                            .map_err(dberr("writing a bucket"))?;
                    }
                }
                None => {}
            }
            let mut t = w.open_table(OUTBOX).map_err(dberr("writing the outbox"))?;
            t.remove(seq).map_err(dberr("writing the outbox"))?;
            Ok(())
        })
    }
}

/// Queues a new version and every change already in its history.
pub(super) fn enqueue_version(w: &WriteTransaction, v: &VersionInfo) -> Result<(), StoreError> {
    enqueue(
        w,
        &AnchorKind::Version {
            bucket: v.bucket.clone(),
            key: v.key.clone(),
            version_id: v.version_id.clone(),
            sha256: v.sha256.clone(),
            size: v.size,
            delete_marker: v.delete_marker,
        },
    )?;
    for (index, event) in v.history.iter().enumerate() {
        enqueue_event(w, v, index, event)?;
    }
    Ok(())
}

/// Queues one change of a version.
pub(super) fn enqueue_event(
    w: &WriteTransaction,
    v: &VersionInfo,
    index: usize,
    event: &PolicyEvent,
) -> Result<(), StoreError> {
    enqueue(
        w,
        &AnchorKind::Policy {
            bucket: v.bucket.clone(),
            key: v.key.clone(),
            version_id: v.version_id.clone(),
            index,
            event: event.clone(),
        },
    )
}

/// Queues a bucket's latest change.
pub(super) fn enqueue_bucket_event(w: &WriteTransaction, b: &BucketInfo) -> Result<(), StoreError> {
    let Some(event) = b.history.last() else {
        return Ok(());
    };
    enqueue(
        w,
        &AnchorKind::BucketPolicy {
            bucket: b.name.clone(),
            index: b.history.len() - 1,
            event: event.clone(),
        },
    )
}

fn enqueue(w: &WriteTransaction, kind: &AnchorKind) -> Result<(), StoreError> {
    let seq = {
        let mut meta = w.open_table(META).map_err(dberr("queueing an anchor"))?;
        let seq = meta
            .get("next_job")
            .map_err(dberr("queueing an anchor"))?
            .map_or(1, |v| v.value());
        meta.insert("next_job", seq + 1)
            .map_err(dberr("queueing an anchor"))?;
        seq
    };
    let mut t = w.open_table(OUTBOX).map_err(dberr("queueing an anchor"))?;
    t.insert(seq.cast_unsigned(), encode(kind)?.as_slice())
        .map_err(dberr("queueing an anchor"))?;
    Ok(())
}

fn update_version_record(
    w: &WriteTransaction,
    bucket: &str,
    key: &str,
    version_id: &str,
    f: impl FnOnce(&mut VersionInfo),
) -> Result<(), StoreError> {
    let seq = parse_version_id(key, version_id)?;
    let mut t = w.open_table(VERSIONS).map_err(dberr("reading versions"))?;
    let found: Option<VersionInfo> = match t
        .get((bucket, key, seq))
        .map_err(dberr("reading versions"))?
    {
        Some(v) => Some(decode(v.value(), "a version record")?),
        None => None,
    };
    // A version deleted since its job was queued has nothing left to mark.
    if let Some(mut v) = found {
        f(&mut v);
        t.insert((bucket, key, seq), encode(&v)?.as_slice())
            .map_err(dberr("writing a version"))?;
    }
    Ok(())
}
