//! The client's policy file: what a node must prove before a request is sealed to it.
//!
//! ```json
//! {
//!   "attestation_url": "https://attest.example:8443",
//!   "attestation_ca": "attest-ca.pem",
//!   "issuer": "https://attest.example:8443",
//!   "measurements": ["<hex>"],
//!   "models": ["<sha256 hex>"],
//!   "allow_virtual": false,
//!   "require_registered": true,
//!   "aead": "aes-256-gcm"
//! }
//! ```
//!
//! Invariants: there is no setting that skips a check. `measurements` and `models`
//! must each list at least one value (there is no "any"); `allow_virtual` admits the
//! software-only platform and nothing else, and then every answer says so
//! ([`crate::client::VIRTUAL_NOTICE`]).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::ohttp::Aead;

/// A client's requirements of an inference node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientPolicy {
    /// The attestation service that issues nonces and whose JWKS verifies tokens.
    pub attestation_url: String,
    /// Its CA certificate (PEM file; relative paths are relative to the policy file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attestation_ca: Option<PathBuf>,
    /// The `iss` tokens must carry.
    pub issuer: String,
    /// Acceptable node measurements (hex); at least one.
    pub measurements: BTreeSet<String>,
    /// Acceptable model hashes (SHA-256 hex); at least one.
    pub models: BTreeSet<String>,
    /// Whether the software-only `virtual` platform is acceptable.
    #[serde(default)]
    pub allow_virtual: bool,
    /// Whether the model must be registered (and not revoked) on the ledger.
    #[serde(default)]
    pub require_registered: bool,
    /// The AEAD to seal requests with (the node must offer it).
    #[serde(default = "default_aead", with = "aead_name")]
    pub aead: Aead,
}

fn default_aead() -> Aead {
    Aead::Aes256Gcm
}

/// AEAD names as policies spell them.
mod aead_name {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::ohttp::Aead;

    pub fn serialize<S: Serializer>(a: &Aead, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(match a {
            Aead::Aes128Gcm => "aes-128-gcm",
            Aead::Aes256Gcm => "aes-256-gcm",
            Aead::ChaCha20Poly1305 => "chacha20-poly1305",
        })
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Aead, D::Error> {
        match String::deserialize(d)?.as_str() {
            "aes-128-gcm" => Ok(Aead::Aes128Gcm),
            "aes-256-gcm" => Ok(Aead::Aes256Gcm),
            "chacha20-poly1305" => Ok(Aead::ChaCha20Poly1305),
            other => Err(serde::de::Error::custom(format!(
                "unknown aead {other:?} (use aes-256-gcm, chacha20-poly1305 or aes-128-gcm)"
            ))),
        }
    }
}

/// Why a policy file was refused.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The file could not be read.
    #[error("cannot read policy {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// The file is not a policy.
    #[error("policy {path}: {reason}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong and what to write instead.
        reason: String,
    },
}

fn is_hex(s: &str, len: Option<usize>) -> bool {
    !s.is_empty()
        && s.len().is_multiple_of(2)
        && len.is_none_or(|l| s.len() == l)
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl ClientPolicy {
    /// Parses and checks a policy; `base` resolves a relative `attestation_ca`.
    pub fn parse(json: &[u8], path: &str, base: &Path) -> Result<Self, PolicyError> {
        let invalid = |reason: String| PolicyError::Invalid {
            path: path.to_owned(),
            reason,
        };
        let mut p: ClientPolicy =
            serde_json::from_slice(json).map_err(|e| invalid(e.to_string()))?;
        if p.measurements.is_empty() {
            return Err(invalid(
                "measurements is empty: list the node measurements you accept (there is no \"any\")"
                    .into(),
            ));
        }
        if p.models.is_empty() {
            return Err(invalid(
                "models is empty: list the SHA-256 of each model you accept".into(),
            ));
        }
        if let Some(m) = p.measurements.iter().find(|m| !is_hex(m, None)) {
            return Err(invalid(format!("measurement {m:?} is not lowercase hex")));
        }
        if let Some(m) = p.models.iter().find(|m| !is_hex(m, Some(64))) {
            return Err(invalid(format!(
                "model {m:?} is not a SHA-256 (64 lowercase hex digits)"
            )));
        }
        if let Some(ca) = &p.attestation_ca
            && ca.is_relative()
        {
            p.attestation_ca = Some(base.join(ca));
        }
        Ok(p)
    }

    /// Reads and checks a policy file.
    pub fn load(path: &Path) -> Result<Self, PolicyError> {
        let shown = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|source| PolicyError::Io {
            path: shown.clone(),
            source,
        })?;
        Self::parse(
            &bytes,
            &shown,
            path.parent().unwrap_or_else(|| Path::new(".")),
        )
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<ClientPolicy, PolicyError> {
        ClientPolicy::parse(json.as_bytes(), "p.json", Path::new("/etc/cairn"))
    }

    const MODEL: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn a_policy_cannot_accept_any_measurement_or_model() {
        let ok = format!(
            r#"{{"attestation_url":"https://a","issuer":"https://a","measurements":["ab"],"models":["{MODEL}"],"attestation_ca":"ca.pem"}}"#
        );
        let p = parse(&ok).unwrap();
        assert_eq!(p.aead, Aead::Aes256Gcm);
        assert!(!p.allow_virtual && !p.require_registered);
        assert_eq!(p.attestation_ca, Some(PathBuf::from("/etc/cairn/ca.pem")));

        let no_m = ok.replace(r#"["ab"]"#, "[]");
        assert!(parse(&no_m).unwrap_err().to_string().contains("no \"any\""));
        let no_models = ok.replace(&format!(r#"["{MODEL}"]"#), "[]");
        assert!(
            parse(&no_models)
                .unwrap_err()
                .to_string()
                .contains("models is empty")
        );
        let bad_model = ok.replace(MODEL, "abc");
        assert!(
            parse(&bad_model)
                .unwrap_err()
                .to_string()
                .contains("64 lowercase hex")
        );
        let skip = ok.replace("\"issuer\"", "\"skip_verification\":true,\"issuer\"");
        assert!(
            parse(&skip)
                .unwrap_err()
                .to_string()
                .contains("skip_verification")
        );
        let aead = ok.replace("\"issuer\"", "\"aead\":\"rot13\",\"issuer\"");
        assert!(
            parse(&aead)
                .unwrap_err()
                .to_string()
                .contains("unknown aead")
        );
    }
}
