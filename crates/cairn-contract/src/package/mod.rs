//! Contract packages, in Fabric 2.x's lifecycle format.
//!
//! A package is a `.tar.gz` holding `metadata.json` (`{"type":"node","label":…}`)
//! and `code.tar.gz`, the contract directory: `package.json` (its `main`
//! entry) and pure-JavaScript dependencies under `node_modules/`. Its id is
//! `label:sha256(package bytes)`, as `peer lifecycle chaincode calculatepackageid`
//! prints it. [`package_dir`] builds the archive from a directory
//! byte-for-byte reproducibly (sorted entries, zero timestamps and owners), so
//! the same directory always gets the same id.
//!
//! Invariant: a loaded [`ContractPackage`] holds only regular files, at
//! normalized relative paths inside the package root, whose total size is at
//! most [`MAX_PACKAGE_BYTES`].

mod archive;
mod store;

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

use crate::error::PackageError;
use crate::resolve;

pub use archive::package_dir;
pub use store::{InstalledPackage, PackageStore};

/// Largest total size of a package's files (and of its compressed archive).
pub const MAX_PACKAGE_BYTES: u64 = 64 << 20;

/// A package id: `label:<sha256 of the package archive, hex>`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PackageId(String);

impl PackageId {
    /// The id of a package archive with this label.
    pub fn compute(label: &str, archive: &[u8]) -> Result<PackageId, PackageError> {
        check_label(label)?;
        Ok(PackageId(format!(
            "{label}:{}",
            cairn_crypto::sha256(archive).to_hex()
        )))
    }

    /// The label part.
    pub fn label(&self) -> &str {
        self.0.rsplit_once(':').map_or("", |(l, _)| l)
    }

    /// The hash part (64 hex digits).
    pub fn hash(&self) -> &str {
        self.0.rsplit_once(':').map_or("", |(_, h)| h)
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PackageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for PackageId {
    type Err = PackageError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || PackageError::InvalidPackageId(s.to_owned());
        let (label, hash) = s.rsplit_once(':').ok_or_else(bad)?;
        check_label(label).map_err(|_| bad())?;
        if hash.len() != 64
            || !hash
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(bad());
        }
        Ok(PackageId(s.to_owned()))
    }
}

/// Fabric's label rule: `^[[:alnum:]][[:alnum:]_.+-]*$`.
fn check_label(label: &str) -> Result<(), PackageError> {
    let mut chars = label.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.+-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(PackageError::InvalidLabel(label.to_owned()))
    }
}

/// A loaded contract package: its id and files, ready to run.
#[derive(Clone)]
pub struct ContractPackage {
    id: PackageId,
    name: String,
    main: String,
    files: BTreeMap<String, Arc<[u8]>>,
}

impl fmt::Debug for ContractPackage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ContractPackage")
            .field("id", &self.id)
            .field("main", &self.main)
            .field("files", &self.files.len())
            .finish()
    }
}

impl ContractPackage {
    /// Loads a package from a lifecycle archive (as [`package_dir`] makes it).
    pub fn from_archive(archive: &[u8]) -> Result<Self, PackageError> {
        let (label, files) = archive::read_lifecycle(archive)?;
        let id = PackageId::compute(&label, archive)?;
        Self::from_files(id, files)
    }

    /// Loads a contract from a directory, or from a `.tar.gz` that is either
    /// a lifecycle archive or a plain archive of a contract directory (such
    /// as `npm pack` makes). Plain inputs are packaged with `label` first,
    /// so the id is the one the lifecycle archive would have.
    pub fn load(path: &Path, label: &str) -> Result<Self, PackageError> {
        Self::from_archive(&Self::archive_of(path, label)?)
    }

    /// The lifecycle archive for a directory or `.tar.gz` (see [`ContractPackage::load`]).
    pub fn archive_of(path: &Path, label: &str) -> Result<Vec<u8>, PackageError> {
        if path.is_dir() {
            return package_dir(path, label);
        }
        let bytes = std::fs::read(path).map_err(|source| PackageError::Io {
            action: "reading",
            path: path.display().to_string(),
            source,
        })?;
        if archive::is_lifecycle(&bytes) {
            Ok(bytes)
        } else {
            archive::repackage(&bytes, label)
        }
    }

    fn from_files(id: PackageId, files: BTreeMap<String, Vec<u8>>) -> Result<Self, PackageError> {
        let files: BTreeMap<String, Arc<[u8]>> =
            files.into_iter().map(|(k, v)| (k, Arc::from(v))).collect();
        let manifest = files
            .get("package.json")
            .ok_or_else(|| PackageError::InvalidManifest("package.json is missing".into()))?;
        let manifest: serde_json::Value = serde_json::from_slice(manifest)
            .map_err(|e| PackageError::InvalidManifest(e.to_string()))?;
        let name = manifest
            .get("name")
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned();
        let main_field = manifest
            .get("main")
            .and_then(|v| v.as_str())
            .unwrap_or("index.js");
        let main = resolve::resolve_main(&files, main_field)
            .ok_or_else(|| PackageError::MissingMain(main_field.to_owned()))?;
        Ok(ContractPackage {
            id,
            name,
            main,
            files,
        })
    }

    /// The package id.
    pub fn id(&self) -> &PackageId {
        &self.id
    }

    /// The label the package was built with.
    pub fn label(&self) -> &str {
        self.id.label()
    }

    /// `name` from package.json.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The main module's path inside the package.
    pub fn main(&self) -> &str {
        &self.main
    }

    /// The package's files by normalized relative path.
    pub fn files(&self) -> &BTreeMap<String, Arc<[u8]>> {
        &self.files
    }
}

/// Normalizes a relative path inside a package: `/`-separated, no `.` or
/// empty components; `None` if it climbs above the root or is absolute.
pub(crate) fn normalize(path: &str) -> Option<String> {
    if path.starts_with('/') || path.starts_with('\\') {
        return None;
    }
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split(['/', '\\']) {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    Some(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_id_parse_and_parts() {
        let id = PackageId::compute("basic_1.0", b"bytes").unwrap();
        assert_eq!(id.label(), "basic_1.0");
        assert_eq!(id.hash(), cairn_crypto::sha256(b"bytes").to_hex());
        assert_eq!(id.as_str().parse::<PackageId>().unwrap(), id);
        assert!("nolabel".parse::<PackageId>().is_err());
        assert!("x:1234".parse::<PackageId>().is_err());
        assert!(PackageId::compute("-bad", b"").is_err());
    }

    #[test]
    fn normalize_refuses_escapes() {
        assert_eq!(normalize("./a/./b//c.js").as_deref(), Some("a/b/c.js"));
        assert_eq!(normalize("a/../b").as_deref(), Some("b"));
        assert_eq!(normalize("../x"), None);
        assert_eq!(normalize("/etc/passwd"), None);
    }
}
