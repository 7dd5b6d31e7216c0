//! The service's state and its persistence under the state directory:
//!
//! ```text
//! <state>/policies/<platform>.json   active appraisal policy per platform
//! <state>/policies/changes.log       one JSON line per policy change
//! <state>/signing-keys.json          token signing keys
//! <state>/tls/{cert,key}.pem         self-signed TLS identity, if none was given
//! ```
//!
//! Every file here is created through `cairn_crypto::private_file`: mode
//! 0600 (directories 0700), and the key files and policies are replaced
//! atomically (temporary file, fsync, rename, directory fsync).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock};

use cairn_attest::{AppraisalPolicy, KeyRing, Platform, StoredKey, UnixTime, VerifierSet};
use cairn_crypto::private_file;
use serde_json::json;

use crate::error::ServiceError;
use crate::nonces::NonceStore;
use crate::secrets::SecretStore;

pub(crate) struct AppState {
    pub(crate) issuer: String,
    pub(crate) verifiers: VerifierSet,
    pub(crate) policies: RwLock<BTreeMap<Platform, AppraisalPolicy>>,
    pub(crate) keys: RwLock<KeyRing>,
    pub(crate) nonces: Mutex<NonceStore>,
    pub(crate) secrets: RwLock<SecretStore>,
    pub(crate) admin_token_sha256: [u8; 32],
    pub(crate) state_dir: PathBuf,
}

fn secrets_dir(state: &Path) -> PathBuf {
    state.join("secrets")
}

/// Secrets set through the admin API (`secrets/<name>.json`), over the configured ones.
pub(crate) fn load_stored_secrets(
    state: &Path,
    mut store: SecretStore,
) -> Result<SecretStore, ServiceError> {
    let dir = secrets_dir(state);
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(store),
        Err(e) => return Err(ServiceError::io(&dir, e)),
    };
    for entry in entries {
        let path = entry.map_err(|e| ServiceError::io(&dir, e))?.path();
        let Some(name) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".json"))
            .filter(|n| crate::secrets::valid_name(n))
        else {
            continue;
        };
        let bytes = std::fs::read(&path).map_err(|e| ServiceError::io(&path, e))?;
        let secret = crate::secrets::parse_one(name, &bytes).map_err(|e| ServiceError::Policy {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        store.secrets.insert(name.to_owned(), secret);
    }
    Ok(store)
}

/// Stores a secret set through the admin API (0600, atomically).
pub(crate) fn persist_secret(state: &Path, name: &str, json: &[u8]) -> Result<(), ServiceError> {
    let dir = secrets_dir(state);
    private_file::create_dir_all(&dir)?;
    private_file::write_atomic(&dir.join(format!("{name}.json")), json)?;
    Ok(())
}

fn policies_dir(state: &Path) -> PathBuf {
    state.join("policies")
}

/// Loads every `<platform>.json` policy in the state directory.
pub(crate) fn load_policies(
    state: &Path,
) -> Result<BTreeMap<Platform, AppraisalPolicy>, ServiceError> {
    let mut out = BTreeMap::new();
    for platform in Platform::ALL {
        let path = policies_dir(state).join(format!("{platform}.json"));
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(ServiceError::io(&path, e)),
        };
        let policy = AppraisalPolicy::parse(&bytes).map_err(|e| ServiceError::Policy {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        if policy.platform() != platform {
            return Err(ServiceError::Policy {
                path: path.display().to_string(),
                reason: format!(
                    "file is named for {platform} but the policy is for {}",
                    policy.platform()
                ),
            });
        }
        tracing::info!(%platform, id = %policy.reference().id, hash = %policy.reference().hash, "loaded appraisal policy");
        out.insert(platform, policy);
    }
    Ok(out)
}

/// Writes the new active policy (atomically) and appends the change to the log.
pub(crate) fn persist_policy(
    state: &Path,
    policy: &AppraisalPolicy,
    previous_hash: Option<&str>,
    now: UnixTime,
) -> Result<(), ServiceError> {
    let dir = policies_dir(state);
    private_file::create_dir_all(&dir)?;
    let path = dir.join(format!("{}.json", policy.platform()));
    private_file::write_atomic(&path, policy.raw())?;
    let log = dir.join("changes.log");
    let line = json!({
        "time": now.to_string(),
        "platform": policy.platform(),
        "id": policy.reference().id,
        "hash": policy.reference().hash,
        "previous_hash": previous_hash,
    });
    let mut f = private_file::open_append(&log)?;
    writeln!(f, "{line}").map_err(|e| ServiceError::io(&log, e))
}

/// Restores the signing keys, or creates and stores a fresh ring.
pub(crate) fn load_or_create_keys(
    state: &Path,
    retention_secs: u64,
    now: UnixTime,
) -> Result<KeyRing, ServiceError> {
    let path = state.join("signing-keys.json");
    match std::fs::read(&path) {
        Ok(bytes) => {
            let stored: Vec<StoredKey> = serde_json::from_slice(&bytes).map_err(|e| {
                ServiceError::Config(format!("{}: not a signing key file: {e}", path.display()))
            })?;
            let mut ring = KeyRing::restore(stored, retention_secs)?;
            ring.prune(now);
            Ok(ring)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let ring = KeyRing::generate(now, retention_secs)?;
            persist_keys(state, &ring)?;
            Ok(ring)
        }
        Err(e) => Err(ServiceError::io(&path, e)),
    }
}

pub(crate) fn persist_keys(state: &Path, ring: &KeyRing) -> Result<(), ServiceError> {
    let path = state.join("signing-keys.json");
    let json = serde_json::to_vec_pretty(&ring.export())
        .map_err(|e| ServiceError::Config(format!("serializing signing keys: {e}")))?;
    private_file::write_atomic(&path, &json)?;
    Ok(())
}
