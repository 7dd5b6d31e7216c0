//! Secret release policies: which attested workloads may receive a secret.
//!
//! The key broker (`POST /keys/{name}`) first verifies the caller's token like any
//! relying party, then applies the secret's [`ReleasePolicy`] to the token's claims,
//! then seals the secret to the key bound in the token's runtime data.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::claims::AttestationClaims;
use crate::jwk::PublicJwk;
use crate::platform::Platform;

/// Who may receive one secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleasePolicy {
    /// Platforms whose tokens qualify (list `virtual` explicitly to allow it).
    pub platforms: BTreeSet<Platform>,
    /// Measurements (lowercase hex) whose tokens qualify.
    pub allowed_measurements: BTreeSet<String>,
    /// Registers that must have exactly these values (lowercase hex).
    #[serde(default)]
    pub required_registers: BTreeMap<String, String>,
    /// Whether a debug-enabled TEE may receive the secret. Off by default.
    #[serde(default)]
    pub allow_debug: bool,
}

/// Why a secret is not released to a token holder.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReleaseRefusal {
    /// The TEE allows debugging.
    #[error("secret {0} is not released to debug-enabled TEEs")]
    DebugForbidden(String),
    /// The measurement is not in the secret's allow-list.
    #[error("measurement {measurement} may not receive secret {name}")]
    MeasurementNotAllowed {
        /// The secret.
        name: String,
        /// The token's measurement.
        measurement: String,
    },
    /// The token binds no key the secret could be sealed to.
    #[error("token binds no X25519 workload key to seal the secret to")]
    NoSealingKey,
    /// The platform is not in the secret's list.
    #[error("platform {platform} may not receive secret {name}")]
    PlatformNotAllowed {
        /// The secret.
        name: String,
        /// The token's platform.
        platform: Platform,
    },
    /// A register differs from the required value.
    #[error("register {register} does not have the value secret {name} requires")]
    RegisterMismatch {
        /// The secret.
        name: String,
        /// The register.
        register: String,
    },
}

impl ReleasePolicy {
    /// Checks `claims` (from an already verified token) for secret `name`; returns the
    /// key to seal to.
    pub fn check<'c>(
        &self,
        name: &str,
        claims: &'c AttestationClaims,
    ) -> Result<&'c PublicJwk, ReleaseRefusal> {
        if !self.platforms.contains(&claims.platform) {
            return Err(ReleaseRefusal::PlatformNotAllowed {
                name: name.to_owned(),
                platform: claims.platform,
            });
        }
        let measurement = claims.measurement.to_ascii_lowercase();
        if !self
            .allowed_measurements
            .iter()
            .any(|m| m.eq_ignore_ascii_case(&measurement))
        {
            return Err(ReleaseRefusal::MeasurementNotAllowed {
                name: name.to_owned(),
                measurement,
            });
        }
        for (register, value) in &self.required_registers {
            if !claims
                .measurements
                .get(register)
                .is_some_and(|v| v.eq_ignore_ascii_case(value))
            {
                return Err(ReleaseRefusal::RegisterMismatch {
                    name: name.to_owned(),
                    register: register.clone(),
                });
            }
        }
        if claims.debug && !self.allow_debug {
            return Err(ReleaseRefusal::DebugForbidden(name.to_owned()));
        }
        match claims.runtime_data.as_ref().map(|r| &r.tee_pubkey) {
            Some(key @ PublicJwk::X25519(_)) => Ok(key),
            _ => Err(ReleaseRefusal::NoSealingKey),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::binding::RuntimeData;
    use crate::policy::PolicyRef;

    fn m(b: u8) -> String {
        hex::encode([b; 48])
    }

    fn claims(platform: Platform, measurement: String, key: PublicJwk) -> AttestationClaims {
        AttestationClaims {
            iss: "https://a".into(),
            iat: 0,
            nbf: 0,
            exp: 1,
            jti: "j".into(),
            platform,
            hardware: platform.is_hardware(),
            measurement,
            measurements: BTreeMap::from([("host_data".to_owned(), "00ff".to_owned())]),
            debug: false,
            tcb: Default::default(),
            flags: BTreeMap::new(),
            runtime_data: Some(RuntimeData::new("n", key)),
            nonce: Some("n".into()),
            policy: PolicyRef {
                id: "p".into(),
                hash: "sha256:00".into(),
            },
        }
    }

    fn policy(extra: serde_json::Value) -> ReleasePolicy {
        let mut p =
            json!({"platforms": ["sev-snp"], "allowed_measurements": [m(1).to_uppercase()]});
        for (k, v) in extra.as_object().unwrap() {
            p[k] = v.clone();
        }
        serde_json::from_value(p).unwrap()
    }

    #[test]
    fn releases_to_the_listed_workload_and_returns_its_sealing_key() {
        let key = PublicJwk::X25519([7; 32]);
        let c = claims(Platform::SevSnp, m(1), key.clone());
        assert_eq!(policy(json!({})).check("dek", &c), Ok(&key));
        let p = policy(json!({"required_registers": {"host_data": "00FF"}}));
        assert_eq!(p.check("dek", &c), Ok(&key));
    }

    #[test]
    fn each_rule_refuses_with_the_secret_and_the_offending_value() {
        let key = PublicJwk::X25519([7; 32]);
        let p = policy(json!({}));
        assert_eq!(
            p.check("dek", &claims(Platform::SevSnp, m(2), key.clone())),
            Err(ReleaseRefusal::MeasurementNotAllowed {
                name: "dek".into(),
                measurement: m(2)
            })
        );
        // Virtual tokens get nothing unless the policy lists the platform.
        assert_eq!(
            p.check("dek", &claims(Platform::Virtual, m(1), key.clone())),
            Err(ReleaseRefusal::PlatformNotAllowed {
                name: "dek".into(),
                platform: Platform::Virtual
            })
        );
        let mut debug = claims(Platform::SevSnp, m(1), key.clone());
        debug.debug = true;
        assert_eq!(
            p.check("dek", &debug),
            Err(ReleaseRefusal::DebugForbidden("dek".into()))
        );
        assert!(
            policy(json!({"allow_debug": true}))
                .check("dek", &debug)
                .is_ok()
        );
        let strict = policy(json!({"required_registers": {"host_data": "0000"}}));
        assert!(matches!(
            strict.check("dek", &claims(Platform::SevSnp, m(1), key)),
            Err(ReleaseRefusal::RegisterMismatch { register, .. }) if register == "host_data"
        ));
        // A signature key cannot receive a sealed secret.
        let ed = PublicJwk::Ed25519(
            ed25519_dalek::SigningKey::from_bytes(&[1; 32])
                .verifying_key()
                .to_bytes(),
        );
        assert_eq!(
            p.check("dek", &claims(Platform::SevSnp, m(1), ed)),
            Err(ReleaseRefusal::NoSealingKey)
        );
        let mut unbound = claims(Platform::SevSnp, m(1), PublicJwk::X25519([7; 32]));
        unbound.runtime_data = None;
        unbound.nonce = None;
        assert_eq!(p.check("dek", &unbound), Err(ReleaseRefusal::NoSealingKey));
    }
}
