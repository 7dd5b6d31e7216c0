//! Reading and writing package archives (`.tar.gz`), reproducibly.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use serde::{Deserialize, Serialize};

use super::{MAX_PACKAGE_BYTES, check_label, normalize};
use crate::error::PackageError;

const METADATA: &str = "metadata.json";
const CODE: &str = "code.tar.gz";

#[derive(Serialize, Deserialize)]
struct Metadata {
    #[serde(default)]
    path: String,
    #[serde(rename = "type")]
    kind: String,
    label: String,
}

/// Builds the lifecycle archive for a contract directory (Fabric's
/// `peer lifecycle chaincode package --lang node`): the code under `src/`.
/// Symbolic links (npm's `node_modules/.bin`) are skipped.
pub fn package_dir(dir: &Path, label: &str) -> Result<Vec<u8>, PackageError> {
    check_label(label)?;
    let mut files = BTreeMap::new();
    let mut total = 0u64;
    collect_dir(dir, dir, &mut files, &mut total)?;
    if !files.contains_key("package.json") {
        return Err(PackageError::InvalidManifest(format!(
            "{} has no package.json",
            dir.display()
        )));
    }
    build_lifecycle(label, &files)
}

/// Wraps a plain `.tar.gz` of a contract directory into a lifecycle archive.
pub(super) fn repackage(tgz: &[u8], label: &str) -> Result<Vec<u8>, PackageError> {
    check_label(label)?;
    let files = rooted(read_tgz(tgz)?)?;
    build_lifecycle(label, &files)
}

/// True if the bytes are a lifecycle archive (they hold `metadata.json`).
pub(super) fn is_lifecycle(bytes: &[u8]) -> bool {
    read_tgz(bytes).is_ok_and(|files| files.contains_key(METADATA) && files.contains_key(CODE))
}

/// The label and the contract's files (rooted at its package.json).
pub(super) fn read_lifecycle(
    archive: &[u8],
) -> Result<(String, BTreeMap<String, Vec<u8>>), PackageError> {
    let outer = read_tgz(archive)?;
    let metadata = outer
        .get(METADATA)
        .ok_or_else(|| PackageError::NotAPackage(format!("{METADATA} is missing")))?;
    let metadata: Metadata = serde_json::from_slice(metadata)
        .map_err(|e| PackageError::NotAPackage(format!("{METADATA} is not valid: {e}")))?;
    if metadata.kind != "node" && metadata.kind != "javascript" {
        return Err(PackageError::NotAPackage(format!(
            "type {:?} is not supported: Cairn runs JavaScript contracts (type \"node\")",
            metadata.kind
        )));
    }
    check_label(&metadata.label)?;
    let code = outer
        .get(CODE)
        .ok_or_else(|| PackageError::NotAPackage(format!("{CODE} is missing")))?;
    Ok((metadata.label, rooted(read_tgz(code)?)?))
}

fn build_lifecycle(
    label: &str,
    files: &BTreeMap<String, Vec<u8>>,
) -> Result<Vec<u8>, PackageError> {
    let code = write_tgz(
        files
            .iter()
            .map(|(p, b)| (format!("src/{p}"), b.as_slice())),
    )?;
    let metadata = serde_json::to_vec(&Metadata {
        path: String::new(),
        kind: "node".into(),
        label: label.into(),
    })
    .map_err(|e| PackageError::NotAPackage(e.to_string()))?;
    write_tgz(
        [
            (CODE.to_owned(), code.as_slice()),
            (METADATA.to_owned(), metadata.as_slice()),
        ]
        .into_iter(),
    )
}

/// Re-roots the files at the directory of the shallowest `package.json`
/// (`src/`, npm's `package/`, or the archive root), dropping the rest.
fn rooted(files: BTreeMap<String, Vec<u8>>) -> Result<BTreeMap<String, Vec<u8>>, PackageError> {
    let root = files
        .keys()
        .filter(|p| *p == "package.json" || p.ends_with("/package.json"))
        .min_by_key(|p| p.matches('/').count())
        .map(|p| p.trim_end_matches("package.json").to_owned())
        .ok_or_else(|| PackageError::InvalidManifest("no package.json in the archive".into()))?;
    Ok(files
        .into_iter()
        .filter_map(|(p, b)| p.strip_prefix(&root).map(|rel| (rel.to_owned(), b)))
        .collect())
}

fn read_tgz(bytes: &[u8]) -> Result<BTreeMap<String, Vec<u8>>, PackageError> {
    let not_tgz =
        |e: std::io::Error| PackageError::NotAPackage(format!("not a readable .tar.gz: {e}"));
    // Bounding the decompressed stream defuses gzip bombs.
    let limited = GzDecoder::new(bytes).take(MAX_PACKAGE_BYTES + 1);
    let mut archive = tar::Archive::new(limited);
    let mut files = BTreeMap::new();
    let mut total = 0u64;
    for entry in archive.entries().map_err(not_tgz)? {
        let mut entry = entry.map_err(not_tgz)?;
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let kind = entry.header().entry_type();
        if kind.is_dir()
            || kind.is_symlink()
            || kind.is_hard_link()
            || kind.is_pax_global_extensions()
        {
            continue;
        }
        if !kind.is_file() {
            return Err(PackageError::EntryType { path: raw });
        }
        let path = normalize(&raw).ok_or_else(|| PackageError::PathEscapes(raw.clone()))?;
        total += entry.size();
        if total > MAX_PACKAGE_BYTES {
            return Err(PackageError::TooLarge {
                limit_bytes: MAX_PACKAGE_BYTES,
            });
        }
        let mut data = Vec::with_capacity(usize::try_from(entry.size()).unwrap_or(0));
        entry.read_to_end(&mut data).map_err(not_tgz)?;
        files.insert(path, data);
    }
    Ok(files)
}

fn write_tgz<'a>(
    entries: impl Iterator<Item = (String, &'a [u8])>,
) -> Result<Vec<u8>, PackageError> {
    let io = |source| PackageError::Io {
        action: "building",
        path: "package archive".into(),
        source,
    };
    let mut builder = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::default()));
    let mut entries: Vec<_> = entries.collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    for (path, data) in entries {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        header.set_entry_type(tar::EntryType::Regular);
        builder.append_data(&mut header, &path, data).map_err(io)?;
    }
    let gz = builder.into_inner().map_err(io)?;
    gz.finish().map_err(io)
}

fn collect_dir(
    root: &Path,
    dir: &Path,
    files: &mut BTreeMap<String, Vec<u8>>,
    total: &mut u64,
) -> Result<(), PackageError> {
    let io = |action, path: &Path| {
        let path = path.display().to_string();
        move |source| PackageError::Io {
            action,
            path,
            source,
        }
    };
    for entry in std::fs::read_dir(dir).map_err(io("listing", dir))? {
        let entry = entry.map_err(io("listing", dir))?;
        let path = entry.path();
        let kind = entry.file_type().map_err(io("inspecting", &path))?;
        if kind.is_symlink() {
            tracing::debug!(path = %path.display(), "skipping symbolic link while packaging");
            continue;
        }
        if kind.is_dir() {
            collect_dir(root, &path, files, total)?;
            continue;
        }
        if !kind.is_file() {
            return Err(PackageError::EntryType {
                path: path.display().to_string(),
            });
        }
        let rel = path
            .strip_prefix(root)
            .ok()
            .and_then(|p| p.to_str())
            .and_then(normalize)
            .ok_or_else(|| PackageError::PathEscapes(path.display().to_string()))?;
        let data = std::fs::read(&path).map_err(io("reading", &path))?;
        *total += data.len() as u64;
        if *total > MAX_PACKAGE_BYTES {
            return Err(PackageError::TooLarge {
                limit_bytes: MAX_PACKAGE_BYTES,
            });
        }
        files.insert(rel, data);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("package.json"),
            r#"{"name":"x","main":"lib/index.js"}"#,
        )
        .unwrap();
        std::fs::create_dir_all(dir.path().join("lib")).unwrap();
        std::fs::write(dir.path().join("lib/index.js"), "module.exports = 1;").unwrap();
        dir
    }

    #[test]
    fn packaging_is_reproducible_and_round_trips() {
        let dir = sample_dir();
        let a = package_dir(dir.path(), "x_1").unwrap();
        let b = package_dir(dir.path(), "x_1").unwrap();
        assert_eq!(a, b, "same directory, same bytes");
        assert!(is_lifecycle(&a));
        let (label, files) = read_lifecycle(&a).unwrap();
        assert_eq!(label, "x_1");
        assert_eq!(files.get("lib/index.js").unwrap(), b"module.exports = 1;");
        std::fs::write(dir.path().join("lib/index.js"), "module.exports = 2;").unwrap();
        assert_ne!(
            package_dir(dir.path(), "x_1").unwrap(),
            a,
            "content changes the bytes"
        );
    }

    #[test]
    fn plain_archive_is_rerooted_at_package_json() {
        let files = [
            (
                "package/package.json".to_owned(),
                br#"{"name":"y"}"#.as_slice(),
            ),
            ("package/index.js".to_owned(), b"1".as_slice()),
        ];
        let tgz = write_tgz(files.into_iter()).unwrap();
        assert!(!is_lifecycle(&tgz));
        let lifecycle = repackage(&tgz, "y").unwrap();
        let (_, files) = read_lifecycle(&lifecycle).unwrap();
        assert_eq!(
            files.keys().collect::<Vec<_>>(),
            vec!["index.js", "package.json"]
        );
    }

    #[test]
    fn escaping_paths_are_refused() {
        let mut header = tar::Header::new_gnu();
        header.set_size(1);
        header.set_mode(0o644);
        // set_path refuses `..`, so write the name bytes directly as an attacker would.
        let name = b"../evil.js";
        header.as_old_mut().name[..name.len()].copy_from_slice(name);
        header.set_cksum();
        let mut builder = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::default()));
        builder.append(&header, &b"x"[..]).unwrap();
        let tgz = builder.into_inner().unwrap().finish().unwrap();
        assert!(matches!(read_tgz(&tgz), Err(PackageError::PathEscapes(p)) if p == "../evil.js"));
    }
}
