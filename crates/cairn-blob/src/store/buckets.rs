//! Bucket operations: creation (object lock on or off, for good), the
//! default retention, the Azure-style container policy and legal-hold tags;
//! every change goes through [`crate::worm`] and into the bucket's history
//! and the anchoring outbox.

use std::collections::BTreeSet;

use redb::ReadableTable;

use super::tables::{
    BUCKETS, VERSIONS, bucket_in, dberr, decode, encode, event, known, validate_bucket_name,
};
use super::{BucketInfo, Store, anchor};
use crate::error::StoreError;
use crate::worm::{self, DefaultRetention, PolicyChange};

impl Store {
    /// Creates a bucket, with S3 Object Lock enabled or not (it cannot be enabled later).
    pub fn create_bucket(
        &self,
        name: &str,
        object_lock: bool,
        by: &str,
    ) -> Result<BucketInfo, StoreError> {
        validate_bucket_name(name)?;
        self.write("creating a bucket", |w, now| {
            let mut t = w.open_table(BUCKETS).map_err(dberr("creating a bucket"))?;
            if t.get(name).map_err(dberr("reading buckets"))?.is_some() {
                return Err(StoreError::BucketExists {
                    bucket: name.to_owned(),
                });
            }
            let at = known(now);
            let info = BucketInfo {
                name: name.to_owned(),
                created: at,
                object_lock,
                default_retention: None,
                container_policy: None,
                container_holds: BTreeSet::new(),
                history: vec![event(
                    at,
                    by,
                    format!(
                        "created, object lock {}",
                        if object_lock { "enabled" } else { "disabled" }
                    ),
                )],
            };
            t.insert(name, encode(&info)?.as_slice())
                .map_err(dberr("writing a bucket"))?;
            drop(t);
            anchor::enqueue_bucket_event(w, &info)?;
            Ok(info)
        })
    }

    /// A bucket's record.
    pub fn bucket(&self, name: &str) -> Result<BucketInfo, StoreError> {
        let r = self.read()?;
        let t = r.open_table(BUCKETS).map_err(dberr("reading buckets"))?;
        let v = t
            .get(name)
            .map_err(dberr("reading buckets"))?
            .ok_or_else(|| StoreError::NoSuchBucket {
                bucket: name.to_owned(),
            })?;
        decode(v.value(), "a bucket record")
    }

    /// Every bucket, by name.
    pub fn buckets(&self) -> Result<Vec<BucketInfo>, StoreError> {
        let r = self.read()?;
        let t = r.open_table(BUCKETS).map_err(dberr("reading buckets"))?;
        let mut out = Vec::new();
        for row in t.iter().map_err(dberr("listing buckets"))? {
            let (_, v) = row.map_err(dberr("listing buckets"))?;
            out.push(decode(v.value(), "a bucket record")?);
        }
        Ok(out)
    }

    /// Deletes an empty bucket.
    pub fn delete_bucket(&self, name: &str) -> Result<(), StoreError> {
        self.write("deleting a bucket", |w, _| {
            let mut t = w.open_table(BUCKETS).map_err(dberr("deleting a bucket"))?;
            if t.get(name).map_err(dberr("reading buckets"))?.is_none() {
                return Err(StoreError::NoSuchBucket {
                    bucket: name.to_owned(),
                });
            }
            let versions = w.open_table(VERSIONS).map_err(dberr("reading versions"))?;
            let mut range = versions
                .range((name, "", 0u64)..)
                .map_err(dberr("reading versions"))?;
            if let Some(row) = range.next() {
                let (k, _) = row.map_err(dberr("reading versions"))?;
                if k.value().0 == name {
                    return Err(StoreError::BucketNotEmpty {
                        bucket: name.to_owned(),
                    });
                }
            }
            t.remove(name).map_err(dberr("deleting a bucket"))?;
            Ok(())
        })
    }

    /// Sets the bucket's object-lock configuration: `enabled` must match how
    /// the bucket was created (lock is on at creation or never); the default
    /// retention may change (existing versions keep theirs).
    pub fn set_lock_configuration(
        &self,
        bucket: &str,
        enabled: bool,
        default: Option<DefaultRetention>,
        by: &str,
    ) -> Result<BucketInfo, StoreError> {
        self.update_bucket(bucket, by, |b| {
            worm::check_lock_configuration(b.object_lock, enabled)?;
            if let Some(d) = default {
                worm::check_default_retention(d)?;
            }
            b.default_retention = default;
            Ok(match default {
                Some(d) => format!("default retention {} {} days", d.mode, d.days),
                None => "default retention removed".to_owned(),
            })
        })
    }

    /// Changes the bucket's Azure-style container policy (create/update, lock, extend, delete).
    pub fn change_container_policy(
        &self,
        bucket: &str,
        change: PolicyChange,
        by: &str,
    ) -> Result<BucketInfo, StoreError> {
        self.update_bucket(bucket, by, |b| {
            b.container_policy = worm::apply_policy_change(b.container_policy, change)?;
            Ok(match (change, b.container_policy) {
                (PolicyChange::Remove, _) => "container policy removed".to_owned(),
                (_, Some(p)) => format!(
                    "container policy {:?} {} days, protected appends {}, extensions {}",
                    p.state, p.days, p.allow_protected_append, p.extensions
                ),
                (_, None) => "container policy removed".to_owned(),
            })
        })
    }

    /// Sets (`on`) or clears a container legal-hold tag (3–23 alphanumerics, as Azure).
    pub fn set_container_hold(
        &self,
        bucket: &str,
        tag: &str,
        on: bool,
        by: &str,
    ) -> Result<BucketInfo, StoreError> {
        if !(3..=23).contains(&tag.len()) || !tag.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(StoreError::Invalid(format!(
                "legal hold tag {tag:?}: a tag is 3 to 23 ASCII letters or digits"
            )));
        }
        self.update_bucket(bucket, by, |b| {
            if on {
                b.container_holds.insert(tag.to_owned());
            } else {
                b.container_holds.remove(tag);
            }
            Ok(format!(
                "container legal hold {tag} {}",
                if on { "ON" } else { "OFF" }
            ))
        })
    }

    fn update_bucket(
        &self,
        bucket: &str,
        by: &str,
        f: impl FnOnce(&mut BucketInfo) -> Result<String, StoreError>,
    ) -> Result<BucketInfo, StoreError> {
        self.write("changing a bucket", |w, now| {
            let mut b = bucket_in(w, bucket)?;
            let change = f(&mut b)?;
            b.history.push(event(known(now), by, change));
            let mut t = w.open_table(BUCKETS).map_err(dberr("writing a bucket"))?;
            t.insert(bucket, encode(&b)?.as_slice())
                .map_err(dberr("writing a bucket"))?;
            drop(t);
            anchor::enqueue_bucket_event(w, &b)?;
            Ok(b)
        })
    }
}
