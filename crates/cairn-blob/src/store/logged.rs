//! New versions through the write-ahead log ([`super::wal`]): the table
//! changes a new version makes, what its log record holds, and replay.
//!
//! Invariant: a new version changes the tables through [`add_version`] on
//! its first run and on replay alike, plus three counters in `meta` that
//! replay sets as the first run left them (the version counter past its id,
//! the clock mark, `wal_applied`), so replaying a record after a crash makes
//! exactly the changes the lost transaction made (the same state before it,
//! the same deterministic steps).
//!
//! Record body: the clock's high-water mark (i64 LE), the length of the
//! version record (u32 LE), the version record (as stored), then the
//! content when it is stored inline.

use redb::{ReadableTable, WriteTransaction};

use super::tables::{INLINE, META, REFS, VERSIONS, content_hash, dberr, decode, ref_count};
use super::wal::Record;
use super::{VersionInfo, anchor};
use crate::error::StoreError;
use crate::worm::Timestamp;

/// Adds the version `v` (stored as `record`, its encoding) with its content's reference,
/// and queues its anchor. `content` is the bytes when `v` is inline.
pub(super) fn add_version(
    w: &WriteTransaction,
    v: &VersionInfo,
    record: &[u8],
    content: Option<&[u8]>,
) -> Result<(), StoreError> {
    let hash = content_hash(v)?;
    let mut refs = w.open_table(REFS).map_err(dberr("counting references"))?;
    let count = ref_count(&refs, &hash)?;
    refs.insert(hash.as_slice(), count + 1)
        .map_err(dberr("counting references"))?;
    if v.inline && count == 0 {
        let bytes = content.ok_or_else(|| StoreError::Record {
            what: format!("the content of version {}", v.version_id),
        })?;
        let mut t = w.open_table(INLINE).map_err(dberr("writing content"))?;
        t.insert(hash.as_slice(), bytes)
            .map_err(dberr("writing content"))?;
    }
    let mut t = w.open_table(VERSIONS).map_err(dberr("writing a version"))?;
    t.insert((v.bucket.as_str(), v.key.as_str(), v.seq()), record)
        .map_err(dberr("writing a version"))?;
    drop(t);
    anchor::enqueue_version(w, v)
}

/// The record body for a new version, before the clock mark is known.
pub(super) fn tail(record: &[u8], content: Option<&[u8]>) -> Result<Vec<u8>, StoreError> {
    let len = u32::try_from(record.len())
        .map_err(|_| StoreError::Invalid("a version record over 4 GiB".to_owned()))?;
    let content = content.unwrap_or_default();
    let mut out = Vec::with_capacity(4 + record.len() + content.len());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(record);
    out.extend_from_slice(content);
    Ok(out)
}

/// The whole record body: the clock mark, then [`tail`]'s bytes.
pub(super) fn body(high_water: Timestamp, tail: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + tail.len());
    out.extend_from_slice(&high_water.0.to_le_bytes());
    out.extend_from_slice(tail);
    out
}

/// Applies, in `w`, the records numbered above `applied` (the last record
/// the durable database holds); returns the number of the last record now
/// applied. A gap in the numbering means the log or the database was
/// changed outside Cairn.
pub(super) fn replay(
    w: &WriteTransaction,
    records: &[Record],
    applied: u64,
) -> Result<u64, StoreError> {
    let mut last = applied;
    for r in records.iter().filter(|r| r.seq > applied) {
        if r.seq != last + 1 {
            return Err(StoreError::Record {
                what: format!(
                    "the write-ahead log: record {} follows record {last}",
                    r.seq
                ),
            });
        }
        let unreadable = || StoreError::Record {
            what: format!("write-ahead log record {}", r.seq),
        };
        let (mark, rest) = r.body.split_first_chunk::<8>().ok_or_else(unreadable)?;
        let (len, rest) = rest.split_first_chunk::<4>().ok_or_else(unreadable)?;
        let record = rest
            .get(..u32::from_le_bytes(*len) as usize)
            .ok_or_else(unreadable)?;
        let content = &rest[record.len()..];
        let v: VersionInfo = decode(record, "a version record in the write-ahead log")?;
        add_version(w, &v, record, v.inline.then_some(content))?;
        let mut meta = w.open_table(META).map_err(dberr("replaying the log"))?;
        let at_least = |meta: &redb::Table<&str, i64>, name: &str, value: i64| {
            meta.get(name)
                .map(|cur| cur.map_or(value, |c| c.value().max(value)))
                .map_err(dberr("replaying the log"))
        };
        // The version counter as the lost transaction left it (past this id).
        let next = at_least(&meta, "next_seq", v.seq().cast_signed() + 1)?;
        let mark = at_least(&meta, "clock_hwm", i64::from_le_bytes(*mark))?;
        meta.insert("next_seq", next)
            .map_err(dberr("replaying the log"))?;
        meta.insert("clock_hwm", mark)
            .map_err(dberr("replaying the log"))?;
        meta.insert("wal_applied", r.seq.cast_signed())
            .map_err(dberr("replaying the log"))?;
        last = r.seq;
    }
    Ok(last)
}
