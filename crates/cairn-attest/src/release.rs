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
