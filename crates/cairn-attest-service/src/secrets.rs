//! Secrets the key broker may release, each with its release policy.
//!
//! File format (JSON):
//!
//! ```json
//! { "secrets": { "model-dek": { "value_b64": "<standard base64>",
//!                               "release": { "platforms": ["sev-snp"],
//!                                            "allowed_measurements": ["..."] } } } }
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use base64::Engine;
use cairn_attest::ReleasePolicy;
use serde::Deserialize;

/// Why a secrets file was refused.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    /// The file could not be read.
    #[error("secrets file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not in the secrets format.
    #[error("secrets file: {0}")]
    Format(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SecretFile {
    value_b64: String,
    release: ReleasePolicy,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SecretsFile {
    secrets: BTreeMap<String, SecretFile>,
}

pub(crate) struct Secret {
    pub(crate) value: Vec<u8>,
    pub(crate) release: ReleasePolicy,
}

/// The secrets the service can release.
#[derive(Default)]
pub struct SecretStore {
    pub(crate) secrets: BTreeMap<String, Secret>,
}

impl std::fmt::Debug for SecretStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Names only: values never reach logs.
        f.debug_list().entries(self.secrets.keys()).finish()
    }
}

fn checked(name: &str, s: SecretFile) -> Result<Secret, SecretsError> {
    if s.release.platforms.is_empty() || s.release.allowed_measurements.is_empty() {
        return Err(SecretsError::Format(format!(
            "secret {name}: release.platforms and release.allowed_measurements must not be empty"
        )));
    }
    let value = base64::engine::general_purpose::STANDARD
        .decode(s.value_b64.trim())
        .map_err(|_| SecretsError::Format(format!("secret {name}: value_b64 is not base64")))?;
    Ok(Secret {
        value,
        release: s.release,
    })
}

/// Parses one secret as `PUT /admin/secrets/{name}` and `secrets/<name>.json` hold it:
/// `{"value_b64": ..., "release": {...}}`.
pub(crate) fn parse_one(name: &str, json: &[u8]) -> Result<Secret, SecretsError> {
    let file: SecretFile = serde_json::from_slice(json)
        .map_err(|e| SecretsError::Format(format!("secret {name}: {e}")))?;
    checked(name, file)
}

/// Whether `name` may name a secret (it becomes a file name under the state directory).
pub(crate) fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
        && !name.starts_with('.')
}

impl SecretStore {
    /// Parses a secrets document.
    pub fn parse(json: &[u8]) -> Result<Self, SecretsError> {
        let file: SecretsFile =
            serde_json::from_slice(json).map_err(|e| SecretsError::Format(e.to_string()))?;
        let mut secrets = BTreeMap::new();
        for (name, s) in file.secrets {
            let secret = checked(&name, s)?;
            secrets.insert(name, secret);
        }
        Ok(Self { secrets })
    }

    /// Reads and parses a secrets file.
    pub fn load(path: &Path) -> Result<Self, SecretsError> {
        let bytes = std::fs::read(path).map_err(|source| SecretsError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&bytes)
    }

    /// Adds one secret (used by tests and embedders).
    pub fn with(mut self, name: impl Into<String>, value: Vec<u8>, release: ReleasePolicy) -> Self {
        self.secrets.insert(name.into(), Secret { value, release });
        self
    }
}
