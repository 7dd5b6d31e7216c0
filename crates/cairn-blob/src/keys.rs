//! Access keys, issued per org identity: each key names the org (MSP id) and
//! the identity it was issued to, and whether it may bypass governance
//! retention. The key file (`access-keys.json` in the store directory) is
//! private (0600, replaced atomically) and re-read when an unknown key id
//! arrives, so keys issued while the server runs work at once.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use serde::{Deserialize, Serialize};

/// The key file's name in a store directory.
pub const KEY_FILE: &str = "access-keys.json";

/// Why keys could not be read or issued.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The file could not be read or written.
    #[error("access key file {}: {detail}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What failed.
        detail: String,
    },
    /// An org or identity name that cannot be used.
    #[error("invalid {what} {value:?}: use letters, digits, '.', '-' or '_' (1 to 64)")]
    Name {
        /// Which field.
        what: &'static str,
        /// The value.
        value: String,
    },
}

/// One access key and who holds it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessKey {
    /// The access key id (public).
    pub id: String,
    /// The secret (never logged; `Debug` hides it).
    pub secret: String,
    /// The holder's org (MSP id).
    pub org: String,
    /// The holder's identity within the org.
    pub identity: String,
    /// Whether the holder may bypass governance retention.
    pub bypass_governance: bool,
}

impl AccessKey {
    /// `org/identity`, as recorded in histories.
    pub fn holder(&self) -> String {
        format!("{}/{}", self.org, self.identity)
    }
}

impl fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessKey")
            .field("id", &self.id)
            .field("org", &self.org)
            .field("identity", &self.identity)
            .field("bypass_governance", &self.bypass_governance)
            .finish_non_exhaustive()
    }
}

/// The keys a server accepts.
#[derive(Debug)]
pub struct KeyRing {
    path: PathBuf,
    keys: RwLock<BTreeMap<String, AccessKey>>,
}

impl KeyRing {
    /// Loads `dir`'s key file (none yet: no keys).
    pub fn load(dir: &Path) -> Result<KeyRing, KeyError> {
        let path = dir.join(KEY_FILE);
        let keys = read(&path)?;
        Ok(KeyRing {
            path,
            keys: RwLock::new(keys),
        })
    }

    /// The key with this id, re-reading the file once if it is not known yet.
    pub fn find(&self, id: &str) -> Option<AccessKey> {
        if let Some(k) = self.keys.read().ok().and_then(|keys| keys.get(id).cloned()) {
            return Some(k);
        }
        let fresh = read(&self.path).ok()?;
        let found = fresh.get(id).cloned();
        if let Ok(mut keys) = self.keys.write() {
            *keys = fresh;
        }
        found
    }
}

/// Issues a new key for `org`/`identity` into `dir`'s key file.
pub fn issue(
    dir: &Path,
    org: &str,
    identity: &str,
    bypass_governance: bool,
) -> Result<AccessKey, KeyError> {
    for (what, value) in [("org", org), ("identity", identity)] {
        let ok = (1..=64).contains(&value.len())
            && value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
        if !ok {
            return Err(KeyError::Name {
                what,
                value: value.to_owned(),
            });
        }
    }
    let path = dir.join(KEY_FILE);
    let mut keys = read(&path)?;
    let id = format!("CAIRN{}", hex::encode_upper(rand::random::<[u8; 8]>()));
    let secret = hex::encode(rand::random::<[u8; 24]>());
    let key = AccessKey {
        id: id.clone(),
        secret,
        org: org.to_owned(),
        identity: identity.to_owned(),
        bypass_governance,
    };
    keys.insert(id, key.clone());
    let text = serde_json::to_vec_pretty(&keys).map_err(|e| file_err(&path, e.to_string()))?;
    std::fs::create_dir_all(dir).map_err(|e| file_err(&path, e.to_string()))?;
    write_private(&path, &text)?;
    Ok(key)
}

fn read(path: &Path) -> Result<BTreeMap<String, AccessKey>, KeyError> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
            file_err(
                path,
                format!("not a key file ({e}); restore it or issue new keys"),
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
        Err(e) => Err(file_err(path, e.to_string())),
    }
}

/// Writes a private file: 0600 from the start, replaced atomically.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), KeyError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension(format!("tmp.{:08x}", rand::random::<u32>()));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        file_err(path, e.to_string())
    })
}

fn file_err(path: &Path, detail: String) -> KeyError {
    KeyError::File {
        path: path.to_path_buf(),
        detail,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn issued_keys_are_private_found_without_restart_and_hide_their_secret() {
        let dir = tempfile::tempdir().unwrap();
        let ring = KeyRing::load(dir.path()).unwrap();
        assert!(ring.find("nope").is_none());
        let key = issue(dir.path(), "Org1MSP", "alice", true).unwrap();
        assert_eq!(ring.find(&key.id), Some(key.clone()));
        let mode = std::fs::metadata(dir.path().join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(!format!("{key:?}").contains(&key.secret));
        assert_eq!(key.holder(), "Org1MSP/alice");
        assert!(matches!(
            issue(dir.path(), "Org 1", "a", false),
            Err(KeyError::Name { what: "org", .. })
        ));
    }
}
