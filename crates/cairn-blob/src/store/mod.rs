//! The object store: buckets and versioned objects on the local filesystem.
//!
//! Layout of a store directory:
//! - `meta.redb`: buckets, version records, reference counts, small contents
//!   (≤ [`INLINE_MAX`] bytes, keyed by SHA-256), the version counter and the
//!   clock's high-water mark;
//! - `objects/ab/abcd…`: larger contents, one file per SHA-256 (hex);
//! - `meta.wal`: the write-ahead log of new versions ([`wal`]);
//! - `tmp/`: uploads being written; emptied on open.
//!
//! Durability: a content file is written to `tmp/`, fsynced, renamed into
//! `objects/` and its directory fsynced *before* the metadata transaction
//! that refers to it commits. A change is acknowledged once durable: a new
//! version (PUT, append) through its record in `meta.wal`, its metadata
//! committed later in a batch of new versions ([`writer`]); every other
//! change through redb's own fsync when its transaction commits (which also
//! makes the logged ones before it durable). A version is visible only
//! through its record, so a crash at any point leaves either the whole
//! version or nothing (at worst an unreferenced content file); opening the
//! store replays the log.
//!
//! Every mutation runs in a redb write transaction under `files` (the mutex
//! that holds the log and the pending batch and also orders content-file
//! renames against removals) and asks [`crate::worm`] first.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::AtomicBool;

use redb::{Database, ReadTransaction, ReadableTable, WriteTransaction};
use sha2::{Digest, Sha256};

use crate::clock::{TimeSource, TrustedClock};
use crate::error::StoreError;
use crate::worm::{self, Bypass, Now, Retention, Timestamp};

mod anchor;
mod buckets;
mod listing;
mod logged;
mod records;
mod tables;
mod wal;
mod writer;

pub use anchor::{AnchorJob, AnchorKind};
pub use records::{
    BucketInfo, DeleteOutcome, Listing, PolicyEvent, PutOptions, Verification, VersionInfo,
};
pub use tables::validate_bucket_name;
use tables::*;
use wal::Wal;
use writer::Writer;

/// Contents up to this size live in the metadata database, larger ones in files.
pub const INLINE_MAX: usize = 64 * 1024;

/// The store.
#[derive(Debug)]
pub struct Store {
    root: PathBuf,
    db: Database,
    clock: TrustedClock,
    /// The writer's state (the log, a pending batch); also orders
    /// content-file renames against removals.
    files: Mutex<Writer>,
    /// Whether a batch of logged versions waits to be committed (readers
    /// commit it first; see [`writer`]).
    pending: AtomicBool,
}

impl Store {
    /// Opens (or creates) the store in `root`, judging time by `source`.
    pub fn open(root: &Path, source: Box<dyn TimeSource>) -> Result<Store, StoreError> {
        for dir in [root.to_path_buf(), root.join("objects"), root.join("tmp")] {
            fs::create_dir_all(&dir).map_err(StoreError::io("creating", &dir))?;
        }
        // Objects can be private: only the store's owner may look inside.
        fs::set_permissions(root, std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .map_err(StoreError::io("restricting", root))?;
        let path = root.join("meta.redb");
        let db = Database::create(&path).map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => StoreError::InUse {
                path: root.to_path_buf(),
            },
            e => StoreError::db("opening the database")(e.into()),
        })?;
        // Only now, holding the database: the log is this process's alone.
        let (mut wal, records) = Wal::open(&root.join("meta.wal"))?;
        let w = db
            .begin_write()
            .map_err(|e| StoreError::db("opening")(e.into()))?;
        let high_water = {
            for_tables(&w)?;
            let mut meta = w
                .open_table(META)
                .map_err(|e| StoreError::db("opening")(e.into()))?;
            // The id this store's anchors carry on the ledger, made once.
            let has_id = meta
                .get("store_id")
                .map_err(|e| StoreError::db("reading the store id")(e.into()))?
                .is_some();
            if !has_id {
                meta.insert("store_id", rand::random::<i64>())
                    .map_err(|e| StoreError::db("writing the store id")(e.into()))?;
            }
            check_format(&mut meta, has_id, root)?;
            let applied = meta
                .get("wal_applied")
                .map_err(|e| StoreError::db("reading the log's mark")(e.into()))?
                .map_or(0, |v| v.value().cast_unsigned());
            drop(meta);
            // Versions acknowledged after the last durable commit.
            let last = logged::replay(&w, &records, applied)?;
            if last > applied {
                tracing::info!(
                    records = last - applied,
                    "replayed new versions from the write-ahead log"
                );
            }
            wal.checkpointed(last + 1);
            let meta = w
                .open_table(META)
                .map_err(|e| StoreError::db("opening")(e.into()))?;
            let hw = meta
                .get("clock_hwm")
                .map_err(|e| StoreError::db("reading the clock")(e.into()))?
                .map_or(0, |v| v.value());
            Timestamp(hw)
        };
        w.commit()
            .map_err(|e| StoreError::db("opening")(e.into()))?;
        // Partial uploads of a run that died: never referenced, never visible.
        // Only now, holding the database: another process's uploads are not ours.
        let tmp = root.join("tmp");
        for entry in fs::read_dir(&tmp).map_err(StoreError::io("reading", &tmp))? {
            let entry = entry.map_err(StoreError::io("reading", &tmp))?;
            let _ = fs::remove_file(entry.path());
        }
        Ok(Store {
            root: root.to_path_buf(),
            db,
            clock: TrustedClock::new(source, high_water),
            files: Mutex::new(Writer::new(wal)),
            pending: AtomicBool::new(false),
        })
    }

    /// The trusted time now.
    pub fn now(&self) -> Now {
        self.clock.now()
    }

    /// Writes a new version of `key`.
    pub fn put(
        &self,
        bucket: &str,
        key: &str,
        data: &[u8],
        opts: PutOptions,
    ) -> Result<VersionInfo, StoreError> {
        validate_key(key)?;
        // Fail before writing a content file when the bucket is missing
        // (inline content is only hashed; the transaction checks again).
        if data.len() > INLINE_MAX {
            self.bucket(bucket)?;
        }
        let staged = self.stage(data)?;
        self.write_logged("writing a version", |w, now| {
            let b = bucket_in(w, bucket)?;
            let latest = latest_in(w, bucket, key)?;
            worm::check_overwrite(
                latest
                    .as_ref()
                    .filter(|v| !v.delete_marker)
                    .map(|v| protection(&b, v))
                    .as_ref(),
            )?;
            if (opts.retention.is_some() || opts.legal_hold) && !b.object_lock {
                return Err(worm::Refusal::LockNotEnabled.into());
            }
            if let (Some(r), Now::Known(t)) = (opts.retention, now)
                && r.until <= t
            {
                return Err(worm::Refusal::RetainUntilPast { until: r.until }.into());
            }
            let created = known(now);
            let retention = opts.retention.or_else(|| {
                b.default_retention.map(|d| Retention {
                    mode: d.mode,
                    until: created.plus_days(d.days),
                })
            });
            let mut history = Vec::new();
            if let Some(r) = retention {
                history.push(event(
                    created,
                    &opts.owner,
                    format!("retention {} until {}", r.mode, r.until),
                ));
            }
            if opts.legal_hold {
                history.push(event(created, &opts.owner, "legal hold ON".to_owned()));
            }
            let v = VersionInfo {
                bucket: bucket.to_owned(),
                key: key.to_owned(),
                version_id: next_version_id(w)?,
                created,
                size: data.len() as u64,
                sha256: staged.hex.clone(),
                delete_marker: false,
                content_type: opts.content_type.clone(),
                retention,
                legal_hold: opts.legal_hold,
                protected_since: created,
                owner: opts.owner.clone(),
                inline: staged.inline,
                history,
                anchor_txid: None,
            };
            self.new_version(w, v, &staged, data)
        })
    }

    /// Appends `data` to the current version of `key`: a new version whose
    /// content is the old content followed by `data` (Azure's protected
    /// append writes; the old version stays as it was).
    pub fn append(
        &self,
        bucket: &str,
        key: &str,
        data: &[u8],
        owner: &str,
    ) -> Result<VersionInfo, StoreError> {
        let (old, mut content) = match self.get(bucket, key, None) {
            Ok(found) => (Some(found.0), found.1),
            Err(StoreError::NoSuchKey { .. } | StoreError::DeleteMarker { .. }) => {
                (None, Vec::new())
            }
            Err(e) => return Err(e),
        };
        content.extend_from_slice(data);
        let staged = self.stage(&content)?;
        self.write_logged("appending", |w, now| {
            let b = bucket_in(w, bucket)?;
            let latest = latest_in(w, bucket, key)?.filter(|v| !v.delete_marker);
            if latest.as_ref().map(|v| &v.version_id) != old.as_ref().map(|v| &v.version_id) {
                return Err(StoreError::Invalid(format!(
                    "{key} changed while appending; retry the append"
                )));
            }
            worm::check_append(latest.as_ref().map(|v| protection(&b, v)).as_ref())?;
            let created = known(now);
            let v = VersionInfo {
                bucket: bucket.to_owned(),
                key: key.to_owned(),
                version_id: next_version_id(w)?,
                created,
                size: content.len() as u64,
                sha256: staged.hex.clone(),
                delete_marker: false,
                content_type: latest.as_ref().and_then(|l| l.content_type.clone()),
                retention: latest.as_ref().and_then(|l| l.retention),
                legal_hold: latest.as_ref().is_some_and(|l| l.legal_hold),
                protected_since: created,
                owner: owner.to_owned(),
                inline: staged.inline,
                history: vec![event(
                    created,
                    owner,
                    format!("appended {} bytes", data.len()),
                )],
                anchor_txid: None,
            };
            self.new_version(w, v, &staged, &content)
        })
    }

    /// A version's record: the current one, or the one named.
    pub fn head(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<VersionInfo, StoreError> {
        let r = self.read()?;
        head_in(&r, bucket, key, version_id)
    }

    /// A version's record and its content.
    pub fn get(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<(VersionInfo, Vec<u8>), StoreError> {
        // One read transaction for both: the record and the bytes it names.
        let r = self.read()?;
        let v = head_in(&r, bucket, key, version_id)?;
        if v.delete_marker {
            return Err(StoreError::MarkerHasNoContent {
                key: key.to_owned(),
                version_id: v.version_id,
            });
        }
        let bytes = self.content_in(&r, &v)?;
        Ok((v, bytes))
    }

    /// Deletes: without a version id, hides the key behind a new delete
    /// marker; with one, removes that version for good if no rule protects it.
    pub fn delete(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        bypass: Bypass,
        by: &str,
    ) -> Result<DeleteOutcome, StoreError> {
        let mut remove_file = None;
        let (out, guard) = self.write_locked("deleting", |w, now| {
            let b = bucket_in(w, bucket)?;
            let Some(id) = version_id else {
                let latest = latest_in(w, bucket, key)?.filter(|v| !v.delete_marker);
                worm::check_delete_marker(
                    latest.as_ref().map(|v| protection(&b, v)).as_ref(),
                    now,
                )?;
                let at = known(now);
                let marker = VersionInfo {
                    bucket: bucket.to_owned(),
                    key: key.to_owned(),
                    version_id: next_version_id(w)?,
                    created: at,
                    size: 0,
                    sha256: String::new(),
                    delete_marker: true,
                    content_type: None,
                    retention: None,
                    legal_hold: false,
                    protected_since: at,
                    owner: by.to_owned(),
                    inline: true,
                    history: Vec::new(),
                    anchor_txid: None,
                };
                insert_version(w, &marker)?;
                anchor::enqueue_version(w, &marker)?;
                return Ok(DeleteOutcome {
                    version_id: marker.version_id,
                    delete_marker: true,
                });
            };
            let seq = parse_version_id(key, id)?;
            let mut versions = w.open_table(VERSIONS).map_err(dberr("reading versions"))?;
            let v: VersionInfo = match versions
                .get((bucket, key, seq))
                .map_err(dberr("reading versions"))?
            {
                Some(v) => decode(v.value(), "a version record")?,
                None => {
                    return Err(StoreError::NoSuchVersion {
                        key: key.to_owned(),
                        version_id: id.to_owned(),
                    });
                }
            };
            if !v.delete_marker {
                worm::check_delete_version(&protection(&b, &v), now, bypass)?;
            }
            versions
                .remove((bucket, key, seq))
                .map_err(dberr("deleting a version"))?;
            drop(versions);
            if !v.delete_marker {
                remove_file = release_content(w, &v)?.then(|| self.content_path(&v.sha256));
            }
            // The deletion is part of the version's anchored history.
            let what = if v.delete_marker {
                "delete marker removed"
            } else {
                "version deleted"
            };
            let gone = event(known(now), by, what.to_owned());
            anchor::enqueue_event(w, &v, v.history.len(), &gone)?;
            Ok(DeleteOutcome {
                version_id: v.version_id,
                delete_marker: v.delete_marker,
            })
        })?;
        // Still under `files`, so no upload of the same content can rename it
        // in between; a file left by a crash here is merely unreferenced.
        if let Some(path) = remove_file {
            let _ = fs::remove_file(path);
        }
        drop(guard);
        Ok(out)
    }

    /// Sets or removes (`None`) a version's retention.
    pub fn set_retention(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        new: Option<Retention>,
        bypass: Bypass,
        by: &str,
    ) -> Result<VersionInfo, StoreError> {
        self.update_version(bucket, key, version_id, by, |b, v, now| {
            worm::check_set_retention(b.object_lock, v.retention, new, now, bypass)?;
            v.retention = new;
            Ok(match new {
                Some(r) => format!("retention {} until {}", r.mode, r.until),
                None => "retention removed".to_owned(),
            })
        })
    }

    /// Sets or clears a version's legal hold.
    pub fn set_legal_hold(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        on: bool,
        by: &str,
    ) -> Result<VersionInfo, StoreError> {
        self.update_version(bucket, key, version_id, by, |b, v, _| {
            worm::check_set_legal_hold(b.object_lock)?;
            v.legal_hold = on;
            Ok(format!("legal hold {}", if on { "ON" } else { "OFF" }))
        })
    }

    /// Lists current versions (no delete markers) of keys under `prefix`, after `after`.
    pub fn list_objects(
        &self,
        bucket: &str,
        prefix: &str,
        after: Option<&str>,
        delimiter: Option<&str>,
        max: usize,
    ) -> Result<Listing, StoreError> {
        let mut listing = self.scan(bucket, prefix, after, delimiter, max, false)?;
        listing.entries.retain(|(v, _)| !v.delete_marker);
        Ok(listing)
    }

    /// Lists every version and delete marker under `prefix`, after the key `after`.
    pub fn list_versions(
        &self,
        bucket: &str,
        prefix: &str,
        after: Option<&str>,
        delimiter: Option<&str>,
        max: usize,
    ) -> Result<Listing, StoreError> {
        self.scan(bucket, prefix, after, delimiter, max, true)
    }

    /// Re-reads a version's bytes and hashes them against its record.
    pub fn verify(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<Verification, StoreError> {
        // One read transaction for the record and the bytes, as in `get`.
        let r = self.read()?;
        let v = head_in(&r, bucket, key, version_id)?;
        let bytes = if v.delete_marker {
            None
        } else {
            self.content_in(&r, &v).ok()
        };
        Ok(Verification {
            actual_sha256: bytes.as_ref().map(|b| hex::encode(Sha256::digest(b))),
            actual_size: bytes.as_ref().map(|b| b.len() as u64),
            version: v,
        })
    }

    /// Where a large content lives (for tests and tools that inspect the disk).
    pub fn content_path(&self, sha256_hex: &str) -> PathBuf {
        let shard = sha256_hex.get(..2).unwrap_or("00");
        self.root.join("objects").join(shard).join(sha256_hex)
    }

    fn content_in(&self, r: &ReadTransaction, v: &VersionInfo) -> Result<Vec<u8>, StoreError> {
        if v.inline {
            let hash = content_hash(v)?;
            let t = r.open_table(INLINE).map_err(dberr("reading content"))?;
            let c = t.get(hash.as_slice()).map_err(dberr("reading content"))?;
            return c
                .map(|c| c.value().to_vec())
                .ok_or_else(|| StoreError::Record {
                    what: format!("the content of version {}", v.version_id),
                });
        }
        let path = self.content_path(&v.sha256);
        fs::read(&path).map_err(StoreError::io("reading", &path))
    }

    /// Hashes the content and, when large, writes it durably under `tmp/`.
    fn stage(&self, data: &[u8]) -> Result<Staged, StoreError> {
        if data.len() <= INLINE_MAX {
            let hash = Sha256::digest(data);
            return Ok(Staged {
                hex: hex::encode(hash),
                inline: true,
                tmp: None,
            });
        }
        // Hash on a second thread while this one writes and fsyncs: a large
        // PUT then costs about the write, not the write plus the hash.
        let tmp = self.root.join("tmp").join(format!(
            "{:016x}{:016x}",
            rand::random::<u64>(),
            rand::random::<u64>()
        ));
        let (hash, written) = std::thread::scope(|s| {
            let hasher = s.spawn(|| Sha256::digest(data));
            let written = File::create(&tmp)
                .map_err(StoreError::io("creating", &tmp))
                .and_then(|mut f| {
                    f.write_all(data).map_err(StoreError::io("writing", &tmp))?;
                    f.sync_all().map_err(StoreError::io("syncing", &tmp))
                });
            // The hasher only reads a slice; it cannot panic short of a bug in sha2.
            let hash = hasher.join().unwrap_or_else(|_| Sha256::digest(data));
            (hash, written)
        });
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
        Ok(Staged {
            hex: hex::encode(hash),
            inline: false,
            tmp: Some(tmp),
        })
    }

    /// Inside a write transaction: puts a large staged content in place
    /// (rename, directory fsync), then adds the version and its content's
    /// reference; returns the version and its log record's tail.
    fn new_version(
        &self,
        w: &WriteTransaction,
        v: VersionInfo,
        staged: &Staged,
        data: &[u8],
    ) -> Result<(VersionInfo, Vec<u8>), StoreError> {
        if let Some(tmp) = &staged.tmp {
            let dest = self.content_path(&staged.hex);
            let dir = dest
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| self.root.join("objects"));
            if !dir.is_dir() {
                fs::create_dir_all(&dir).map_err(StoreError::io("creating", &dir))?;
                sync_dir(&self.root.join("objects"))?;
            }
            // Same name, same bytes: replacing an existing copy also repairs a damaged one.
            fs::rename(tmp, &dest).map_err(StoreError::io("renaming into", &dest))?;
            sync_dir(&dir)?;
        }
        let record = encode(&v)?;
        let content = staged.inline.then_some(data);
        logged::add_version(w, &v, &record, content)?;
        let tail = logged::tail(&record, content)?;
        Ok((v, tail))
    }

    fn update_version(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        by: &str,
        f: impl FnOnce(&BucketInfo, &mut VersionInfo, Now) -> Result<String, StoreError>,
    ) -> Result<VersionInfo, StoreError> {
        self.write("changing a version", |w, now| {
            let b = bucket_in(w, bucket)?;
            let mut v = match version_id {
                Some(id) => {
                    let seq = parse_version_id(key, id)?;
                    let t = w.open_table(VERSIONS).map_err(dberr("reading versions"))?;
                    let found = t
                        .get((bucket, key, seq))
                        .map_err(dberr("reading versions"))?;
                    match found {
                        Some(v) => decode::<VersionInfo>(v.value(), "a version record")?,
                        None => {
                            return Err(StoreError::NoSuchVersion {
                                key: key.to_owned(),
                                version_id: id.to_owned(),
                            });
                        }
                    }
                }
                None => latest_in(w, bucket, key)?.ok_or_else(|| StoreError::NoSuchKey {
                    bucket: bucket.to_owned(),
                    key: key.to_owned(),
                })?,
            };
            if v.delete_marker {
                return Err(StoreError::MarkerHasNoContent {
                    key: key.to_owned(),
                    version_id: v.version_id,
                });
            }
            let change = f(&b, &mut v, now)?;
            v.history.push(event(known(now), by, change));
            insert_version(w, &v)?;
            if let Some(last) = v.history.last() {
                anchor::enqueue_event(w, &v, v.history.len() - 1, last)?;
            }
            Ok(v)
        })
    }
}

/// Refuses a store whose records are in another encoding; marks a new one.
/// `existed`: the store had been opened before (it had its id).
fn check_format(
    meta: &mut redb::Table<&str, i64>,
    existed: bool,
    root: &Path,
) -> Result<(), StoreError> {
    let found = meta
        .get("format")
        .map_err(dberr("reading the format"))?
        .map(|v| v.value());
    match found {
        Some(FORMAT) => Ok(()),
        None => {
            // Every store since the mark has it from its first opening, so
            // one opened before without it holds JSON records (buckets,
            // versions, anchoring jobs), even with no bucket left.
            if existed {
                return Err(StoreError::Invalid(format!(
                    "the store at {} was written by an earlier Cairn (JSON records); copy its objects into a new store directory",
                    root.display()
                )));
            }
            meta.insert("format", FORMAT)
                .map_err(dberr("marking the format"))?;
            Ok(())
        }
        Some(other) => Err(StoreError::Invalid(format!(
            "the store at {} has record format {other}, this Cairn reads format {FORMAT}",
            root.display()
        ))),
    }
}

/// Content hashed and, if large, durably written under `tmp/`.
struct Staged {
    hex: String,
    inline: bool,
    tmp: Option<PathBuf>,
}

/// [`Store::head`] in the read transaction `r`.
fn head_in(
    r: &ReadTransaction,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
) -> Result<VersionInfo, StoreError> {
    let t = r.open_table(VERSIONS).map_err(dberr("reading versions"))?;
    let found = match version_id {
        // A malformed id is a version that does not exist (after the bucket check).
        Some(id) => match parse_version_id(key, id) {
            Ok(seq) => t
                .get((bucket, key, seq))
                .map_err(dberr("reading versions"))?
                .map(|v| decode::<VersionInfo>(v.value(), "a version record"))
                .transpose()?,
            Err(_) => None,
        },
        None => t
            .range((bucket, key, 0u64)..=(bucket, key, u64::MAX))
            .map_err(dberr("reading versions"))?
            .next_back()
            .map(|row| {
                let (_, v) = row.map_err(dberr("reading versions"))?;
                decode::<VersionInfo>(v.value(), "a version record")
            })
            .transpose()?,
    };
    let Some(v) = found else {
        // Only now ask whether the bucket exists: a bucket with versions
        // cannot be deleted, so a version found implies its bucket.
        let buckets = r.open_table(BUCKETS).map_err(dberr("reading buckets"))?;
        if buckets
            .get(bucket)
            .map_err(dberr("reading buckets"))?
            .is_none()
        {
            return Err(StoreError::NoSuchBucket {
                bucket: bucket.to_owned(),
            });
        }
        return Err(match version_id {
            Some(id) => StoreError::NoSuchVersion {
                key: key.to_owned(),
                version_id: id.to_owned(),
            },
            None => StoreError::NoSuchKey {
                bucket: bucket.to_owned(),
                key: key.to_owned(),
            },
        });
    };
    if v.delete_marker && version_id.is_none() {
        return Err(StoreError::DeleteMarker {
            key: key.to_owned(),
            version_id: v.version_id,
        });
    }
    Ok(v)
}
