//! The OHTTP keys a node serves, and the key bundle that secret release shares
//! between nodes.
//!
//! A single node may generate its key itself. Several nodes behind one address
//! must present one key configuration, so the key broker (the attestation service's
//! secret release) holds a [`KeyBundle`]: the input keying material of the current
//! key and of earlier keys still in their grace period. A node obtains it only after
//! attesting with a measurement the secret's release policy allows, and derives the
//! same HPKE key pairs from it (RFC 9180 `DeriveKeyPair`).
//!
//! Rotation ([`KeyBundle::rotate`]) makes a new current key and keeps the old one
//! until its `retire_at`; a node answers requests sealed to a retiring key, and
//! tells the client inside the sealed response that its configuration is outdated.
//!
//! Invariants:
//! - key material never appears in `Debug` output or logs (ids and hashes only);
//! - a retired key (past `retire_at`) opens nothing.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use cairn_attest::UnixTime;
use serde::{Deserialize, Serialize};

use crate::ohttp::{Aead, KeyConfig, OhttpError, ServerKey};

/// The AEADs every Cairn key configuration offers, preferred first.
pub const AEADS: [Aead; 2] = [Aead::Aes256Gcm, Aead::ChaCha20Poly1305];

/// Why a key bundle is unusable.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The bundle is not the JSON this module writes.
    #[error("key bundle is malformed: {0}")]
    Malformed(String),
    /// Deriving or generating an HPKE key failed.
    #[error("HPKE key: {0}")]
    Ohttp(#[from] OhttpError),
    /// The OS random source failed.
    #[error("OS random source failed: {0}")]
    Random(String),
}

/// One key of a bundle.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleKey {
    /// The OHTTP key id.
    pub key_id: u8,
    /// 32 bytes of input keying material, standard base64.
    pub ikm_b64: String,
    /// For earlier keys: when nodes stop accepting it (Unix seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retire_at: Option<u64>,
}

impl std::fmt::Debug for BundleKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BundleKey")
            .field("key_id", &self.key_id)
            .field("retire_at", &self.retire_at)
            .finish_non_exhaustive()
    }
}

/// The keys a key broker releases to inference nodes (JSON).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyBundle {
    /// The key clients should use.
    pub current: BundleKey,
    /// Earlier keys, accepted until their `retire_at`.
    #[serde(default)]
    pub previous: Vec<BundleKey>,
    /// 32 bytes (standard base64) from which every node derives the same Ed25519
    /// receipt key, so that a client verified against one node accepts receipts
    /// from all of them. Kept across rotations.
    pub receipt_seed_b64: String,
}

impl std::fmt::Debug for KeyBundle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyBundle")
            .field("current", &self.current)
            .field("previous", &self.previous)
            .finish_non_exhaustive()
    }
}

fn fresh_ikm() -> Result<String, KeyError> {
    let mut ikm = [0u8; 32];
    getrandom::fill(&mut ikm).map_err(|e| KeyError::Random(e.to_string()))?;
    Ok(STANDARD.encode(ikm))
}

impl KeyBundle {
    /// A bundle with one fresh key.
    pub fn generate(key_id: u8) -> Result<Self, KeyError> {
        Ok(Self {
            current: BundleKey {
                key_id,
                ikm_b64: fresh_ikm()?,
                retire_at: None,
            },
            previous: Vec::new(),
            receipt_seed_b64: fresh_ikm()?,
        })
    }

    /// A new bundle whose current key is fresh, with the old current key kept for
    /// `grace_secs` from `now` and already-retired keys dropped.
    pub fn rotate(&self, grace_secs: u64, now: UnixTime) -> Result<Self, KeyError> {
        let mut previous: Vec<BundleKey> = self
            .previous
            .iter()
            .filter(|k| k.retire_at.is_some_and(|t| t > now.secs()))
            .cloned()
            .collect();
        previous.insert(
            0,
            BundleKey {
                retire_at: Some(now.secs().saturating_add(grace_secs)),
                ..self.current.clone()
            },
        );
        let in_use = |id: u8| previous.iter().any(|k| k.key_id == id);
        let mut key_id = self.current.key_id.wrapping_add(1);
        while in_use(key_id) {
            key_id = key_id.wrapping_add(1);
        }
        Ok(Self {
            current: BundleKey {
                key_id,
                ikm_b64: fresh_ikm()?,
                retire_at: None,
            },
            previous,
            receipt_seed_b64: self.receipt_seed_b64.clone(),
        })
    }

    /// Parses a bundle (as released by the key broker).
    pub fn from_json(bytes: &[u8]) -> Result<Self, KeyError> {
        serde_json::from_slice(bytes).map_err(|e| KeyError::Malformed(e.to_string()))
    }

    /// The bundle as JSON.
    pub fn to_json(&self) -> Vec<u8> {
        // Strings, integers and options always serialize.
        serde_json::to_vec_pretty(self).unwrap_or_default()
    }
}

/// The keys one node serves.
pub struct KeySet {
    current: ServerKey,
    previous: Vec<(ServerKey, UnixTime)>,
    receipt_key: Option<ed25519_dalek::SigningKey>,
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySet")
            .field("current", &self.current.config().key_id)
            .field(
                "previous",
                &self
                    .previous
                    .iter()
                    .map(|(k, t)| (k.config().key_id, t.secs()))
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

fn derive(key: &BundleKey) -> Result<ServerKey, KeyError> {
    let ikm = STANDARD
        .decode(key.ikm_b64.trim())
        .map_err(|_| KeyError::Malformed(format!("key {}: ikm_b64 is not base64", key.key_id)))?;
    if ikm.len() < 32 {
        return Err(KeyError::Malformed(format!(
            "key {}: ikm must be at least 32 bytes, got {}",
            key.key_id,
            ikm.len()
        )));
    }
    Ok(ServerKey::derive(key.key_id, &ikm, AEADS.to_vec())?)
}

impl KeySet {
    /// One freshly generated key (a node that shares its key with no other).
    pub fn generate(key_id: u8) -> Result<Self, KeyError> {
        Ok(Self {
            current: ServerKey::generate(key_id, AEADS.to_vec())?,
            previous: Vec::new(),
            receipt_key: None,
        })
    }

    /// The keys of a released bundle.
    pub fn from_bundle(bundle: &KeyBundle) -> Result<Self, KeyError> {
        let current = derive(&bundle.current)?;
        let previous = bundle
            .previous
            .iter()
            .map(|k| Ok((derive(k)?, UnixTime(k.retire_at.unwrap_or(0)))))
            .collect::<Result<_, KeyError>>()?;
        let seed: [u8; 32] = STANDARD
            .decode(bundle.receipt_seed_b64.trim())
            .ok()
            .and_then(|s| s.try_into().ok())
            .ok_or_else(|| {
                KeyError::Malformed("receipt_seed_b64 must be 32 bytes of base64".into())
            })?;
        Ok(Self {
            current,
            previous,
            receipt_key: Some(ed25519_dalek::SigningKey::from_bytes(&seed)),
        })
    }

    /// The shared receipt key of a released bundle (`None` for a generated key set:
    /// the node makes its own).
    pub fn receipt_key(&self) -> Option<&ed25519_dalek::SigningKey> {
        self.receipt_key.as_ref()
    }

    /// The configuration clients should use now.
    pub fn current_config(&self) -> &KeyConfig {
        self.current.config()
    }

    /// The keys that may open a request at `now`: the current one and earlier ones
    /// not yet retired.
    pub fn usable(&self, now: UnixTime) -> Vec<&ServerKey> {
        std::iter::once(&self.current)
            .chain(
                self.previous
                    .iter()
                    .filter(|(_, retire)| *retire > now)
                    .map(|(k, _)| k),
            )
            .collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::*;

    #[test]
    fn rotation_keeps_the_old_key_until_its_grace_ends_and_drops_retired_keys() {
        let b0 = KeyBundle::generate(1).unwrap();
        let b1 = b0.rotate(60, UnixTime(1000)).unwrap();
        assert_eq!(b1.current.key_id, 2);
        assert_ne!(b1.current.ikm_b64, b0.current.ikm_b64);
        assert_eq!(b1.receipt_seed_b64, b0.receipt_seed_b64);
        assert_eq!(b1.previous.len(), 1);
        assert_eq!(b1.previous[0].key_id, 1);
        assert_eq!(b1.previous[0].retire_at, Some(1060));

        let set = KeySet::from_bundle(&b1).unwrap();
        assert_eq!(set.current_config().key_id, 2);
        let ids = |now| {
            set.usable(UnixTime(now))
                .iter()
                .map(|k| k.config().key_id)
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(1059), vec![2, 1]);
        assert_eq!(ids(1060), vec![2]);

        // A second rotation after the grace period drops key 1.
        let b2 = b1.rotate(60, UnixTime(2000)).unwrap();
        assert_eq!(
            b2.previous.iter().map(|k| k.key_id).collect::<Vec<_>>(),
            vec![2]
        );
        assert_eq!(b2.current.key_id, 3);
    }

    #[test]
    fn the_same_bundle_gives_every_node_the_same_configuration() {
        let b = KeyBundle::generate(7).unwrap();
        let json = b.to_json();
        let a = KeySet::from_bundle(&KeyBundle::from_json(&json).unwrap()).unwrap();
        let c = KeySet::from_bundle(&KeyBundle::from_json(&json).unwrap()).unwrap();
        assert_eq!(a.current_config(), c.current_config());
        let other = KeySet::from_bundle(&KeyBundle::generate(7).unwrap()).unwrap();
        assert_ne!(a.current_config(), other.current_config());
    }

    #[test]
    fn debug_output_never_shows_key_material() {
        let b = KeyBundle::generate(3).unwrap();
        let shown = format!("{b:?} {:?}", KeySet::from_bundle(&b).unwrap());
        assert!(!shown.contains(&b.current.ikm_b64), "{shown}");
        assert!(!shown.contains(&b.receipt_seed_b64), "{shown}");
        assert!(shown.contains("key_id: 3"), "{shown}");
    }

    #[test]
    fn bad_bundles_are_refused_with_the_reason() {
        let err = KeyBundle::from_json(br#"{"current":{"key_id":1}}"#).unwrap_err();
        assert!(err.to_string().contains("ikm_b64"), "{err}");
        let short = KeyBundle {
            current: BundleKey {
                key_id: 1,
                ikm_b64: STANDARD.encode([1u8; 16]),
                retire_at: None,
            },
            previous: vec![],
            receipt_seed_b64: STANDARD.encode([2u8; 32]),
        };
        let err = KeySet::from_bundle(&short).unwrap_err();
        assert!(err.to_string().contains("at least 32 bytes"), "{err}");
    }
}
