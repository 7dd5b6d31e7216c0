//! Token signing: an ES256 key ring with rotation.
//!
//! The active key signs; a rotated-out key stays in the published JWKS for
//! `retention_secs` after it retires (at least the longest token lifetime), so every
//! token it signed can still be verified until it expires. `kid` is the RFC 7638
//! thumbprint of the public key, so it is stable and needs no bookkeeping.

use jsonwebtoken::jwk::{Jwk, JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use p256::pkcs8::EncodePrivateKey;
use serde::{Deserialize, Serialize};

use crate::claims::AttestationClaims;
use crate::jwk::{PublicJwk, b64url, b64url_decode};
use crate::time::UnixTime;

/// Why a key could not be made or a token could not be signed.
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    /// A stored key is not a PKCS#8 P-256 key.
    #[error("stored signing key {0} is not a PKCS#8 P-256 private key")]
    BadStoredKey(String),
    /// The key ring has no key to sign with.
    #[error("key ring is empty")]
    Empty,
    /// The OS random source failed.
    #[error("OS random source failed: {0}")]
    Random(String),
    /// Signing failed inside the JWT library.
    #[error("signing failed: {0}")]
    Sign(String),
}

/// A signing key in a form that can be written to disk and read back.
#[derive(Clone, Serialize, Deserialize)]
pub struct StoredKey {
    /// The key id (RFC 7638 thumbprint).
    pub kid: String,
    /// PKCS#8 DER of the private key, base64url.
    pub pkcs8: String,
    /// When the key was created.
    pub created_at: UnixTime,
    /// When the key stopped signing, if it has.
    pub retired_at: Option<UnixTime>,
}

impl std::fmt::Debug for StoredKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredKey")
            .field("kid", &self.kid)
            .field("created_at", &self.created_at)
            .field("retired_at", &self.retired_at)
            .finish_non_exhaustive()
    }
}

struct RingKey {
    kid: String,
    encoding: EncodingKey,
    public: Jwk,
    pkcs8: Vec<u8>,
    created_at: UnixTime,
    retired_at: Option<UnixTime>,
}

impl RingKey {
    fn from_pkcs8(pkcs8: Vec<u8>, created_at: UnixTime) -> Result<Self, IssueError> {
        use p256::pkcs8::DecodePrivateKey;
        let secret = p256::SecretKey::from_pkcs8_der(&pkcs8)
            .map_err(|_| IssueError::BadStoredKey("(unparseable)".into()))?;
        let point = secret.public_key().to_sec1_bytes();
        // Uncompressed SEC1: 0x04 || x || y, 65 bytes for P-256.
        let (x, y) = match point.as_ref() {
            [4, rest @ ..] if rest.len() == 64 => {
                let mut x = [0u8; 32];
                let mut y = [0u8; 32];
                x.copy_from_slice(&rest[..32]);
                y.copy_from_slice(&rest[32..]);
                (x, y)
            }
            _ => return Err(IssueError::BadStoredKey("(not uncompressed P-256)".into())),
        };
        let kid = PublicJwk::P256 { x, y }.thumbprint_b64();
        let encoding = EncodingKey::from_ec_der(&pkcs8);
        let mut public = Jwk::from_encoding_key(&encoding, Algorithm::ES256)
            .map_err(|e| IssueError::BadStoredKey(format!("{kid}: {e}")))?;
        public.common.key_id = Some(kid.clone());
        public.common.public_key_use = Some(PublicKeyUse::Signature);
        public.common.key_algorithm = Some(KeyAlgorithm::ES256);
        Ok(Self {
            kid,
            encoding,
            public,
            pkcs8,
            created_at,
            retired_at: None,
        })
    }

    fn generate(now: UnixTime) -> Result<Self, IssueError> {
        // Rejection-sample a scalar in [1, n): a uniformly random 32-byte string is
        // out of range with probability about 2^-32, so this loops once in practice.
        loop {
            let mut bytes = [0u8; 32];
            getrandom::fill(&mut bytes).map_err(|e| IssueError::Random(e.to_string()))?;
            if let Ok(secret) = p256::SecretKey::from_slice(&bytes) {
                let der = secret
                    .to_pkcs8_der()
                    .map_err(|e| IssueError::Sign(e.to_string()))?;
                return Self::from_pkcs8(der.as_bytes().to_vec(), now);
            }
        }
    }
}

/// The service's token signing keys: one active, some retired but still published.
pub struct KeyRing {
    keys: Vec<RingKey>,
    retention_secs: u64,
}

impl KeyRing {
    /// A ring with one fresh key; retired keys stay published for `retention_secs`.
    pub fn generate(now: UnixTime, retention_secs: u64) -> Result<Self, IssueError> {
        Ok(Self {
            keys: vec![RingKey::generate(now)?],
            retention_secs,
        })
    }

    /// Restores a ring from stored keys (the last unretired key is the active one).
    pub fn restore(stored: Vec<StoredKey>, retention_secs: u64) -> Result<Self, IssueError> {
        let mut keys = Vec::with_capacity(stored.len());
        for s in stored {
            let der =
                b64url_decode(&s.pkcs8).ok_or_else(|| IssueError::BadStoredKey(s.kid.clone()))?;
            let mut k = RingKey::from_pkcs8(der, s.created_at)
                .map_err(|_| IssueError::BadStoredKey(s.kid.clone()))?;
            if k.kid != s.kid {
                return Err(IssueError::BadStoredKey(s.kid));
            }
            k.retired_at = s.retired_at;
            keys.push(k);
        }
        if !keys.iter().any(|k| k.retired_at.is_none()) {
            return Err(IssueError::Empty);
        }
        Ok(Self {
            keys,
            retention_secs,
        })
    }

    /// The keys in storable form.
    pub fn export(&self) -> Vec<StoredKey> {
        self.keys
            .iter()
            .map(|k| StoredKey {
                kid: k.kid.clone(),
                pkcs8: b64url(&k.pkcs8),
                created_at: k.created_at,
                retired_at: k.retired_at,
            })
            .collect()
    }

    fn active(&self) -> Result<&RingKey, IssueError> {
        self.keys
            .iter()
            .rev()
            .find(|k| k.retired_at.is_none())
            .ok_or(IssueError::Empty)
    }

    /// The `kid` of the key that signs now.
    pub fn active_kid(&self) -> Result<&str, IssueError> {
        self.active().map(|k| k.kid.as_str())
    }

    /// Retires the active key and makes a new one active; returns the new `kid`.
    pub fn rotate(&mut self, now: UnixTime) -> Result<String, IssueError> {
        let fresh = RingKey::generate(now)?;
        for k in self.keys.iter_mut().filter(|k| k.retired_at.is_none()) {
            k.retired_at = Some(now);
        }
        let kid = fresh.kid.clone();
        self.keys.push(fresh);
        self.prune(now);
        tracing::info!(kid = %kid, "rotated token signing key");
        Ok(kid)
    }

    /// Drops retired keys whose tokens have all expired.
    pub fn prune(&mut self, now: UnixTime) {
        let retention = self.retention_secs;
        self.keys.retain(|k| match k.retired_at {
            None => true,
            Some(r) => now < r.plus(retention),
        });
    }

    /// The public keys to publish: the active key and retired keys still within retention.
    pub fn jwks(&self, now: UnixTime) -> JwkSet {
        JwkSet {
            keys: self
                .keys
                .iter()
                .filter(|k| {
                    k.retired_at
                        .is_none_or(|r| now < r.plus(self.retention_secs))
                })
                .map(|k| k.public.clone())
                .collect(),
        }
    }

    /// Signs `claims` with the active key as an ES256 JWT.
    pub fn sign(&self, claims: &AttestationClaims) -> Result<String, IssueError> {
        let key = self.active()?;
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(key.kid.clone());
        header.typ = Some("JWT".into());
        jsonwebtoken::encode(&header, claims, &key.encoding)
            .map_err(|e| IssueError::Sign(e.to_string()))
    }
}

/// A fresh random token id.
pub fn fresh_jti() -> Result<String, IssueError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| IssueError::Random(e.to_string()))?;
    Ok(b64url(&bytes))
}
