//! Listings: current versions (ListObjects) or every version and delete
//! marker (ListObjectVersions), by key, newest first, with S3's delimiter
//! folding and key-marker paging.

use super::tables::{VERSIONS, dberr, decode};
use super::{Listing, Store, VersionInfo};
use crate::error::StoreError;

impl Store {
    pub(super) fn scan(
        &self,
        bucket: &str,
        prefix: &str,
        after: Option<&str>,
        delimiter: Option<&str>,
        max: usize,
        all_versions: bool,
    ) -> Result<Listing, StoreError> {
        self.bucket(bucket)?;
        let r = self.read()?;
        let t = r.open_table(VERSIONS).map_err(dberr("listing"))?;
        let start = match after {
            Some(a) if a >= prefix => a,
            _ => prefix,
        };
        let mut out = Listing::default();
        // Versions of one key, oldest first, until the key changes.
        let mut group: Vec<VersionInfo> = Vec::new();
        let mut keys = 0usize;
        let flush = |group: &mut Vec<VersionInfo>, out: &mut Listing, keys: &mut usize| -> bool {
            let Some(last) = group.last() else {
                return true;
            };
            let key = last.key.clone();
            if let Some(d) = delimiter.filter(|d| !d.is_empty())
                && let Some(pos) = key[prefix.len()..].find(d)
            {
                let common = key[..prefix.len() + pos + d.len()].to_owned();
                group.clear();
                if out.common_prefixes.last() != Some(&common) {
                    if *keys >= max {
                        out.truncated = true;
                        return false;
                    }
                    out.common_prefixes.push(common.clone());
                    out.next_marker = Some(common);
                    *keys += 1;
                }
                return true;
            }
            let visible = all_versions || !last.delete_marker;
            if visible {
                if *keys >= max {
                    out.truncated = true;
                    group.clear();
                    return false;
                }
                *keys += 1;
            }
            for (i, v) in group.drain(..).rev().enumerate() {
                if all_versions || i == 0 {
                    out.entries.push((v, i == 0));
                }
            }
            out.next_marker = Some(key);
            true
        };
        for row in t.range((bucket, start, 0u64)..).map_err(dberr("listing"))? {
            let (k, v) = row.map_err(dberr("listing"))?;
            let (b, key, _) = k.value();
            if b != bucket || !key.starts_with(prefix) {
                break;
            }
            if after.is_some_and(|a| key <= a) {
                continue;
            }
            if group.last().is_some_and(|g| g.key != key) && !flush(&mut group, &mut out, &mut keys)
            {
                return Ok(out);
            }
            group.push(decode(v.value(), "a version record")?);
        }
        flush(&mut group, &mut out, &mut keys);
        Ok(out)
    }
}
