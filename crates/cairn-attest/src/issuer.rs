//! Token signing: an ES256 key ring with rotation.
//!
//! The active key signs; a rotated-out key stays in the published JWKS for
//! `retention_secs` after it retires (at least the longest token lifetime), so every
//! token it signed can still be verified until it expires. `kid` is the RFC 7638
//! thumbprint of the public key, so it is stable and needs no bookkeeping.
//!
//! Keys are stored as PKCS#8 (`p256` reads and writes it); signatures are made with
//! `ring`, whose P-256 is several times faster than the pure-Rust one.

use jsonwebtoken::jwk::{Jwk, JwkSet};
use p256::pkcs8::EncodePrivateKey;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
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
    signer: EcdsaKeyPair,
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
        let signer = EcdsaKeyPair::from_private_key_and_public_key(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            &secret.to_bytes(),
            &point,
            &ring::rand::SystemRandom::new(),
        )
        .map_err(|e| IssueError::BadStoredKey(format!("{kid}: {e}")))?;
        let public: Jwk = serde_json::from_value(serde_json::json!({
            "kty": "EC",
            "crv": "P-256",
            "x": b64url(&x),
            "y": b64url(&y),
            "kid": kid,
            "use": "sig",
            "alg": "ES256",
        }))
        .map_err(|e| IssueError::BadStoredKey(format!("{kid}: {e}")))?;
        Ok(Self {
            kid,
            signer,
            public,
            pkcs8,
            created_at,
            retired_at: None,
        })
    }

    /// A compact JWS of `payload` (JSON) with header `{"alg":"ES256","kid":...,"typ":"JWT"}`.
    fn sign_json<T: Serialize>(&self, payload: &T) -> Result<String, IssueError> {
        let header = serde_json::json!({ "alg": "ES256", "kid": self.kid, "typ": "JWT" });
        let body = serde_json::to_vec(payload).map_err(|e| IssueError::Sign(e.to_string()))?;
        let mut token = format!(
            "{}.{}",
            b64url(header.to_string().as_bytes()),
            b64url(&body)
        );
        let signature = self
            .signer
            .sign(&ring::rand::SystemRandom::new(), token.as_bytes())
            .map_err(|e| IssueError::Sign(e.to_string()))?;
        token.push('.');
        token.push_str(&b64url(signature.as_ref()));
        Ok(token)
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
        key.sign_json(claims)
    }
}

/// A fresh random token id.
pub fn fresh_jti() -> Result<String, IssueError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| IssueError::Random(e.to_string()))?;
    Ok(b64url(&bytes))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::*;
    use crate::jws::{Algorithm, Jwks, verify_with_jwks};

    fn kids(ring: &KeyRing, now: UnixTime) -> Vec<String> {
        ring.jwks(now)
            .keys
            .iter()
            .map(|k| k.common.key_id.clone().unwrap())
            .collect()
    }

    fn kid_of(token: &str) -> String {
        let header = b64url_decode(token.split('.').next().unwrap()).unwrap();
        let header: serde_json::Value = serde_json::from_slice(&header).unwrap();
        header["kid"].as_str().unwrap().to_owned()
    }

    #[test]
    fn rotated_keys_stay_published_for_the_retention_period_then_go() {
        let t0 = UnixTime(1_000);
        let mut ring = KeyRing::generate(t0, 600).unwrap();
        let first = ring.active_kid().unwrap().to_owned();
        let old = ring
            .active()
            .unwrap()
            .sign_json(&serde_json::json!({"iss": "x", "exp": 2_000}))
            .unwrap();

        let second = ring.rotate(UnixTime(1_100)).unwrap();
        assert_ne!(first, second);
        assert_eq!(ring.active_kid().unwrap(), second);
        // Both published while the old key's tokens may still be alive ...
        assert_eq!(
            kids(&ring, UnixTime(1_699)),
            [first.clone(), second.clone()]
        );
        let jwks = Jwks::from_set(&ring.jwks(UnixTime(1_699))).unwrap();
        verify_with_jwks(&old, &jwks, &[Algorithm::ES256]).unwrap();
        // ... and the old one is gone once the retention after its retirement is over.
        assert_eq!(kids(&ring, UnixTime(1_700)), [second]);
        let jwks = Jwks::from_set(&ring.jwks(UnixTime(1_700))).unwrap();
        assert!(verify_with_jwks(&old, &jwks, &[Algorithm::ES256]).is_err());
        ring.prune(UnixTime(1_700));
        assert_eq!(ring.export().len(), 1);
    }

    #[test]
    fn export_and_restore_keep_the_keys_and_refuse_tampered_ones() {
        let mut ring = KeyRing::generate(UnixTime(0), 600).unwrap();
        ring.rotate(UnixTime(10)).unwrap();
        let stored = ring.export();
        assert_eq!(stored.len(), 2);
        assert!(stored[0].retired_at.is_some() && stored[1].retired_at.is_none());
        let restored = KeyRing::restore(stored.clone(), 600).unwrap();
        assert_eq!(restored.active_kid().unwrap(), ring.active_kid().unwrap());
        assert_eq!(kids(&restored, UnixTime(20)), kids(&ring, UnixTime(20)));

        // The private key of a stored entry does not match its kid.
        let mut swapped = stored.clone();
        swapped[1].kid = stored[0].kid.clone();
        assert!(matches!(
            KeyRing::restore(swapped, 600),
            Err(IssueError::BadStoredKey(_))
        ));
        // Only retired keys: nothing could sign.
        let mut retired = stored;
        retired[1].retired_at = Some(UnixTime(20));
        assert!(matches!(
            KeyRing::restore(retired, 600),
            Err(IssueError::Empty)
        ));
        // The Debug form never shows the private key.
        let shown = format!("{:?}", ring.export()[0]);
        assert!(!shown.contains(&ring.export()[0].pkcs8), "{shown}");
    }

    #[test]
    fn tokens_name_the_active_kid_and_fresh_ids_differ() {
        let ring = KeyRing::generate(UnixTime(0), 600).unwrap();
        let evidence = crate::evidence::VerifiedEvidence {
            platform: crate::platform::Platform::Sgx,
            hardware: true,
            measurement: hex::encode([1u8; 32]),
            registers: Default::default(),
            report_data: crate::binding::ReportData([0; 64]),
            debug: false,
            tcb: Default::default(),
            flags: Default::default(),
        };
        let appraisal = crate::policy::Appraisal {
            policy: crate::policy::PolicyRef {
                id: "p".into(),
                hash: "sha256:00".into(),
            },
            token_ttl_secs: 60,
        };
        let claims = AttestationClaims::new(
            "https://a",
            &evidence,
            None,
            &appraisal,
            UnixTime(5),
            fresh_jti().unwrap(),
        );
        let token = ring.sign(&claims).unwrap();
        assert_eq!(kid_of(&token), ring.active_kid().unwrap());
        assert_ne!(fresh_jti().unwrap(), fresh_jti().unwrap());
    }
}
