//! A peer's installed packages (Fabric's `install` / `queryinstalled`):
//! per peer, not on the ledger. One file per package, `<label>.<hash>.tar.gz`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::{ContractPackage, PackageId};
use crate::error::PackageError;

/// One installed package, as `queryinstalled` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstalledPackage {
    /// The package id.
    pub id: PackageId,
    /// Its label.
    pub label: String,
}

/// The directory of packages installed on a peer, with loaded packages cached.
#[derive(Debug)]
pub struct PackageStore {
    dir: PathBuf,
    loaded: Mutex<HashMap<PackageId, Arc<ContractPackage>>>,
}

impl PackageStore {
    /// Opens (creating if needed) a package directory.
    pub fn open(dir: &Path) -> Result<Self, PackageError> {
        std::fs::create_dir_all(dir).map_err(|source| PackageError::Io {
            action: "creating",
            path: dir.display().to_string(),
            source,
        })?;
        Ok(PackageStore {
            dir: dir.to_owned(),
            loaded: Mutex::new(HashMap::new()),
        })
    }

    /// Installs a lifecycle archive and returns its id. The archive is
    /// checked (it must load as a contract) before it is stored; installing
    /// the same package again is harmless and returns the same id.
    pub fn install(&self, archive: &[u8]) -> Result<PackageId, PackageError> {
        let package = ContractPackage::from_archive(archive)?;
        let id = package.id().clone();
        let path = self.path_of(&id);
        if !path.exists() {
            // Write then rename, so a crash never leaves a truncated package.
            let tmp = self
                .dir
                .join(format!(".{}.{}.partial", id.label(), id.hash()));
            let io = |action, p: &Path| {
                let p = p.display().to_string();
                move |source| PackageError::Io {
                    action,
                    path: p,
                    source,
                }
            };
            std::fs::write(&tmp, archive).map_err(io("writing", &tmp))?;
            std::fs::rename(&tmp, &path).map_err(io("renaming", &path))?;
            tracing::info!(package_id = %id, "contract package installed");
        }
        self.cache().insert(id.clone(), Arc::new(package));
        Ok(id)
    }

    /// The packages installed, sorted by id.
    pub fn installed(&self) -> Result<Vec<InstalledPackage>, PackageError> {
        let entries = std::fs::read_dir(&self.dir).map_err(|source| PackageError::Io {
            action: "listing",
            path: self.dir.display().to_string(),
            source,
        })?;
        let mut out = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(stem) = name.strip_suffix(".tar.gz") else {
                continue;
            };
            let Some((label, hash)) = stem.rsplit_once('.') else {
                continue;
            };
            if let Ok(id) = format!("{label}:{hash}").parse::<PackageId>() {
                out.push(InstalledPackage {
                    label: label.to_owned(),
                    id,
                });
            }
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    /// Loads an installed package (cached after the first load).
    pub fn load(&self, id: &PackageId) -> Result<Arc<ContractPackage>, PackageError> {
        if let Some(p) = self.cache().get(id) {
            return Ok(p.clone());
        }
        let path = self.path_of(id);
        let bytes = std::fs::read(&path).map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => PackageError::NotInstalled(id.to_string()),
            _ => PackageError::Io {
                action: "reading",
                path: path.display().to_string(),
                source,
            },
        })?;
        let package = Arc::new(ContractPackage::from_archive(&bytes)?);
        if package.id() != id {
            return Err(PackageError::NotAPackage(format!(
                "{} holds package {}, not {id}",
                path.display(),
                package.id()
            )));
        }
        self.cache().insert(id.clone(), package.clone());
        Ok(package)
    }

    fn path_of(&self, id: &PackageId) -> PathBuf {
        self.dir
            .join(format!("{}.{}.tar.gz", id.label(), id.hash()))
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<PackageId, Arc<ContractPackage>>> {
        // A poisoned cache only means another thread panicked mid-insert;
        // the map itself is still consistent.
        self.loaded.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::package::package_dir;

    #[test]
    fn install_query_load() {
        let src = tempfile::tempdir().unwrap();
        std::fs::write(src.path().join("package.json"), r#"{"name":"a"}"#).unwrap();
        std::fs::write(src.path().join("index.js"), "module.exports = {};").unwrap();
        let archive = package_dir(src.path(), "a_1").unwrap();
        let peer = tempfile::tempdir().unwrap();
        let store = PackageStore::open(peer.path()).unwrap();
        let id = store.install(&archive).unwrap();
        assert_eq!(id, PackageId::compute("a_1", &archive).unwrap());
        assert_eq!(
            store.install(&archive).unwrap(),
            id,
            "reinstall is idempotent"
        );
        let listed = store.installed().unwrap();
        assert_eq!(
            listed,
            vec![InstalledPackage {
                id: id.clone(),
                label: "a_1".into()
            }]
        );
        // A fresh store over the same directory (peer restart) loads from disk.
        let again = PackageStore::open(peer.path()).unwrap();
        assert_eq!(again.load(&id).unwrap().main(), "index.js");
        let missing = PackageId::compute("a_1", b"other").unwrap();
        assert!(matches!(
            again.load(&missing),
            Err(PackageError::NotInstalled(_))
        ));
        assert!(store.install(b"not a package").is_err());
    }
}
