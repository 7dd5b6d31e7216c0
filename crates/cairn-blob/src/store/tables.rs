//! The metadata tables and the small helpers every transaction uses.

use std::fs::File;
use std::path::Path;

use redb::{ReadableTable, TableDefinition, WriteTransaction};
use serde::{Deserialize, Serialize};

use super::{BucketInfo, PolicyEvent, VersionInfo};
use crate::error::StoreError;
use crate::worm::{Now, Protection, Timestamp};

pub(super) const BUCKETS: TableDefinition<&str, &[u8]> = TableDefinition::new("buckets");
pub(super) const VERSIONS: TableDefinition<(&str, &str, u64), &[u8]> =
    TableDefinition::new("versions");
pub(super) const INLINE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("inline");
pub(super) const REFS: TableDefinition<&[u8], u64> = TableDefinition::new("refs");
pub(super) const META: TableDefinition<&str, i64> = TableDefinition::new("meta");
/// The anchoring outbox: job number → [`super::AnchorKind`].
pub(super) const OUTBOX: TableDefinition<u64, &[u8]> = TableDefinition::new("outbox");

pub(super) fn for_tables(w: &WriteTransaction) -> Result<(), StoreError> {
    w.open_table(BUCKETS).map_err(dberr("creating tables"))?;
    w.open_table(VERSIONS).map_err(dberr("creating tables"))?;
    w.open_table(INLINE).map_err(dberr("creating tables"))?;
    w.open_table(REFS).map_err(dberr("creating tables"))?;
    w.open_table(META).map_err(dberr("creating tables"))?;
    w.open_table(OUTBOX).map_err(dberr("creating tables"))?;
    Ok(())
}

pub(super) fn dberr<E: Into<redb::Error>>(action: &'static str) -> impl FnOnce(E) -> StoreError {
    move |e| StoreError::db(action)(e.into())
}

/// The records' encoding, kept in `meta` as `format`: 2 is postcard (1,
/// never written down, was JSON). Postcard is positional: adding, removing
/// or reordering a field of a stored record needs a new format number.
pub(super) const FORMAT: i64 = 2;

/// Encodes a stored record (postcard: decoding a version record is most of
/// a small GET's CPU after the tree lookups, and JSON took twice as long).
pub(super) fn encode<T: Serialize>(v: &T) -> Result<Vec<u8>, StoreError> {
    postcard::to_stdvec(v).map_err(|e| StoreError::Invalid(format!("encoding a record: {e}")))
}

pub(super) fn decode<T: for<'de> Deserialize<'de>>(
    bytes: &[u8],
    what: &str,
) -> Result<T, StoreError> {
    postcard::from_bytes(bytes).map_err(|_| StoreError::Record {
        what: what.to_owned(),
    })
}

/// The time to stamp records with: when the clock is unknown, the last time
/// it was known (never earlier, so a container policy counted from the stamp
/// cannot have expired already).
pub(super) fn known(now: Now) -> Timestamp {
    match now {
        Now::Known(t) => t,
        Now::Unknown { at_least } => at_least,
    }
}

pub(super) fn event(at: Timestamp, by: &str, change: String) -> PolicyEvent {
    PolicyEvent {
        at,
        by: by.to_owned(),
        change,
        txid: None,
    }
}

pub(super) fn protection(b: &BucketInfo, v: &VersionInfo) -> Protection {
    Protection {
        retention: v.retention,
        legal_hold: v.legal_hold,
        container: b.container_policy,
        container_holds: b.container_holds.clone(),
        protected_since: Some(v.protected_since),
    }
}

pub(super) fn bucket_in(w: &WriteTransaction, bucket: &str) -> Result<BucketInfo, StoreError> {
    let t = w.open_table(BUCKETS).map_err(dberr("reading buckets"))?;
    let v = t
        .get(bucket)
        .map_err(dberr("reading buckets"))?
        .ok_or_else(|| StoreError::NoSuchBucket {
            bucket: bucket.to_owned(),
        })?;
    decode(v.value(), "a bucket record")
}

pub(super) fn latest_in(
    w: &WriteTransaction,
    bucket: &str,
    key: &str,
) -> Result<Option<VersionInfo>, StoreError> {
    let t = w.open_table(VERSIONS).map_err(dberr("reading versions"))?;
    let last = t
        .range((bucket, key, 0u64)..=(bucket, key, u64::MAX))
        .map_err(dberr("reading versions"))?
        .next_back();
    match last {
        Some(row) => {
            let (_, v) = row.map_err(dberr("reading versions"))?;
            Ok(Some(decode(v.value(), "a version record")?))
        }
        None => Ok(None),
    }
}

pub(super) fn insert_version(w: &WriteTransaction, v: &VersionInfo) -> Result<(), StoreError> {
    let mut t = w.open_table(VERSIONS).map_err(dberr("writing a version"))?;
    t.insert(
        (v.bucket.as_str(), v.key.as_str(), v.seq()),
        encode(v)?.as_slice(),
    )
    .map_err(dberr("writing a version"))?;
    Ok(())
}

/// A version's content hash as bytes (the key of `refs` and `inline`).
pub(super) fn content_hash(v: &VersionInfo) -> Result<Vec<u8>, StoreError> {
    hex::decode(&v.sha256).map_err(|_| StoreError::Record {
        what: format!("the hash of version {}", v.version_id),
    })
}

/// How many versions refer to the content `hash`.
pub(super) fn ref_count(refs: &redb::Table<&[u8], u64>, hash: &[u8]) -> Result<u64, StoreError> {
    Ok(refs
        .get(hash)
        .map_err(dberr("counting references"))?
        .map_or(0, |c| c.value()))
}

/// Drops one reference to a version's content; true when a content file is
/// now unreferenced and should be removed.
pub(super) fn release_content(w: &WriteTransaction, v: &VersionInfo) -> Result<bool, StoreError> {
    let hash = content_hash(v)?;
    let mut refs = w.open_table(REFS).map_err(dberr("counting references"))?;
    let count = ref_count(&refs, &hash)?;
    if count > 1 {
        refs.insert(hash.as_slice(), count - 1)
            .map_err(dberr("counting references"))?;
        return Ok(false);
    }
    refs.remove(hash.as_slice())
        .map_err(dberr("counting references"))?;
    if v.inline {
        let mut t = w.open_table(INLINE).map_err(dberr("removing content"))?;
        t.remove(hash.as_slice())
            .map_err(dberr("removing content"))?;
        return Ok(false);
    }
    Ok(true)
}

pub(super) fn next_version_id(w: &WriteTransaction) -> Result<String, StoreError> {
    let mut meta = w.open_table(META).map_err(dberr("numbering versions"))?;
    let next = meta
        .get("next_seq")
        .map_err(dberr("numbering versions"))?
        .map_or(1, |v| v.value());
    meta.insert("next_seq", next + 1)
        .map_err(dberr("numbering versions"))?;
    Ok(format!("{next:016x}"))
}

pub(super) fn parse_version_id(key: &str, id: &str) -> Result<u64, StoreError> {
    if id.len() == 16
        && id.bytes().all(|b| b.is_ascii_hexdigit())
        && let Ok(seq) = u64::from_str_radix(id, 16)
    {
        return Ok(seq);
    }
    Err(StoreError::NoSuchVersion {
        key: key.to_owned(),
        version_id: id.to_owned(),
    })
}

pub(super) fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(StoreError::io("syncing directory", dir))
}

/// S3's bucket naming rules: 3–63 of `a-z 0-9 . -`, starting and ending with a letter or digit.
pub fn validate_bucket_name(name: &str) -> Result<(), StoreError> {
    let ok = (3..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric())
        && name
            .bytes()
            .last()
            .is_some_and(|b| b.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(StoreError::Invalid(format!(
            "bucket name {name:?}: use 3 to 63 lowercase letters, digits, dots or hyphens, starting and ending with a letter or digit"
        )))
    }
}

pub(super) fn validate_key(key: &str) -> Result<(), StoreError> {
    if key.is_empty() || key.len() > 1024 {
        return Err(StoreError::Invalid(format!(
            "object key of {} bytes: a key is 1 to 1024 bytes of UTF-8",
            key.len()
        )));
    }
    Ok(())
}
