//! Relying parties: checking an attestation token with nothing but the JWKS.
//!
//! [`verify_token`] is pure (keys and time are arguments). It checks, in order: the
//! JWS structure and header, the `kid` against the JWKS, the ES256 signature, the
//! claims' shape, issuer, expiry and not-before, then the caller's expectations
//! (platform, virtual opt-in, debug, measurements, nonce, key binding). Each failure
//! is a [`Refusal`] that says which check failed and with what values.

use std::collections::BTreeSet;

use crate::claims::AttestationClaims;
use crate::jwk::PublicJwk;
use crate::jws::{Algorithm, Jwks, verify_with_jwks};
use crate::platform::Platform;
use crate::time::UnixTime;

/// Why a relying party refuses a token.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// The signature does not verify with the key the header names.
    #[error("signature does not verify with the JWKS key the token names")]
    BadSignature,
    /// The TEE allows debugging and debug tokens were not allowed.
    #[error("token describes a debug-enabled TEE")]
    DebugNotAllowed,
    /// The header points at a key (`jku`, `x5u`, `jwk`, `x5c`); keys come only from the JWKS.
    #[error(
        "token header carries a key reference ({0}); keys are taken only from the configured JWKS"
    )]
    EmbeddedKeyReference(String),
    /// The token has expired.
    #[error("token expired at {exp} (now {now})")]
    Expired {
        /// Expiry.
        exp: UnixTime,
        /// Verification time.
        now: UnixTime,
    },
    /// The issuer is not the expected one.
    #[error("issuer is {actual:?}, expected {expected:?}")]
    IssuerMismatch {
        /// Expected issuer.
        expected: String,
        /// Issuer in the token.
        actual: String,
    },
    /// The workload key bound in the token is not the key presented.
    #[error("token binds key {actual}, but the presented key is {expected} (RFC 7638 thumbprints)")]
    KeyBindingMismatch {
        /// Thumbprint of the key the relying party expected.
        expected: String,
        /// Thumbprint of the key in the token (`none` if absent).
        actual: String,
    },
    /// The JWKS has the `kid` but that key cannot verify this token.
    #[error("JWKS key {kid:?} cannot verify tokens: {reason}")]
    KeyNotForSignatures {
        /// The key id.
        kid: String,
        /// Why.
        reason: String,
    },
    /// The token or its claims are not well formed.
    #[error("malformed token: {0}")]
    Malformed(String),
    /// The measurement is not one the relying party expects.
    #[error("measurement {0} is not one of the expected measurements")]
    MeasurementNotExpected(String),
    /// The header has no `kid`.
    #[error("token header has no kid")]
    MissingKid,
    /// The nonce is not the one the relying party expects.
    #[error("nonce is {actual:?}, expected {expected:?}")]
    NonceMismatch {
        /// Expected nonce.
        expected: String,
        /// Nonce in the token (`none` if absent).
        actual: String,
    },
    /// The token is not valid yet (`nbf` or `iat` in the future).
    #[error("token not valid before {nbf} (now {now})")]
    NotYetValid {
        /// Not-before.
        nbf: UnixTime,
        /// Verification time.
        now: UnixTime,
    },
    /// The platform is not one the relying party accepts.
    #[error("platform {0} is not accepted")]
    PlatformNotAccepted(Platform),
    /// The `kid` is not in the JWKS (a refreshed JWKS may have it).
    #[error("kid {0:?} is not in the JWKS")]
    UnknownKid(String),
    /// The header's `alg` is not ES256 or EdDSA.
    #[error("algorithm {0:?} is not accepted here (attestation tokens are ES256)")]
    UnsupportedAlgorithm(String),
    /// The token is from the software-only virtual platform and that was not allowed.
    #[error("token is from the virtual (software-only) platform; it proves no hardware protection")]
    VirtualNotAllowed,
}

/// What a relying party requires beyond a valid signature.
#[derive(Clone, Debug)]
pub struct Expectations {
    /// The issuer the token must name.
    pub issuer: String,
    /// The nonce the token must carry, if the relying party issued one.
    pub nonce: Option<String>,
    /// Acceptable measurements (lowercase hex); empty accepts any.
    pub measurements: BTreeSet<String>,
    /// Acceptable platforms; `None` accepts any hardware platform.
    pub platforms: Option<BTreeSet<Platform>>,
    /// Whether `virtual` tokens are acceptable. Off by default.
    pub allow_virtual: bool,
    /// Whether debug-enabled TEEs are acceptable. Off by default.
    pub allow_debug: bool,
    /// The workload key the token must bind, if the relying party knows it.
    pub tee_pubkey: Option<PublicJwk>,
    /// Clock skew tolerated on `exp`, `nbf` and `iat`, seconds.
    pub leeway_secs: u64,
}

impl Expectations {
    /// Hardware-only expectations for tokens from `issuer`, 30 s leeway.
    pub fn new(issuer: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            nonce: None,
            measurements: BTreeSet::new(),
            platforms: None,
            allow_virtual: false,
            allow_debug: false,
            tee_pubkey: None,
            leeway_secs: 30,
        }
    }

    /// Requires one of these measurements (hex, any case).
    pub fn with_measurements<I, S>(mut self, measurements: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.measurements = measurements
            .into_iter()
            .map(|m| m.as_ref().to_ascii_lowercase())
            .collect();
        self
    }

    /// Requires this nonce.
    pub fn with_nonce(mut self, nonce: impl Into<String>) -> Self {
        self.nonce = Some(nonce.into());
        self
    }

    /// Requires the token to bind this workload key.
    pub fn with_tee_pubkey(mut self, key: PublicJwk) -> Self {
        self.tee_pubkey = Some(key);
        self
    }

    /// Accepts tokens from the software-only `virtual` platform.
    pub fn allowing_virtual(mut self) -> Self {
        self.allow_virtual = true;
        self
    }
}

/// A token that passed every check.
#[derive(Clone, Debug)]
pub struct VerifiedToken {
    /// The key that verified it.
    pub kid: String,
    /// Its claims.
    pub claims: AttestationClaims,
}

/// Checks `exp`/`nbf`/`iat` (seconds) against `now` with `leeway`.
pub fn check_validity(
    exp: u64,
    nbf: Option<u64>,
    iat: Option<u64>,
    now: UnixTime,
    leeway: u64,
) -> Result<(), Refusal> {
    // RFC 7519 4.1.4: the token MUST NOT be accepted on or after exp.
    if now.secs() >= exp.saturating_add(leeway) {
        return Err(Refusal::Expired {
            exp: UnixTime(exp),
            now,
        });
    }
    let earliest = nbf.into_iter().chain(iat).max();
    if let Some(start) = earliest
        && now.secs().saturating_add(leeway) < start
    {
        return Err(Refusal::NotYetValid {
            nbf: UnixTime(start),
            now,
        });
    }
    Ok(())
}

/// Verifies an attestation token with `jwks` and checks it against `expect` at `now`.
pub fn verify_token(
    token: &str,
    jwks: &Jwks,
    expect: &Expectations,
    now: UnixTime,
) -> Result<VerifiedToken, Refusal> {
    let jws = verify_with_jwks(token, jwks, &[Algorithm::ES256])?;
    let claims: AttestationClaims = serde_json::from_slice(&jws.payload)
        .map_err(|e| Refusal::Malformed(format!("claims: {e}")))?;
    if claims.iss != expect.issuer {
        return Err(Refusal::IssuerMismatch {
            expected: expect.issuer.clone(),
            actual: claims.iss,
        });
    }
    check_validity(
        claims.exp,
        Some(claims.nbf),
        Some(claims.iat),
        now,
        expect.leeway_secs,
    )?;
    check_claims(&claims, expect)?;
    Ok(VerifiedToken {
        kid: jws.kid.unwrap_or_default(),
        claims,
    })
}

/// The expectation checks on already-authenticated claims.
pub fn check_claims(claims: &AttestationClaims, expect: &Expectations) -> Result<(), Refusal> {
    if claims.hardware != claims.platform.is_hardware() {
        return Err(Refusal::Malformed(format!(
            "hardware={} contradicts platform {}",
            claims.hardware, claims.platform
        )));
    }
    if claims.platform == Platform::Virtual && !expect.allow_virtual {
        return Err(Refusal::VirtualNotAllowed);
    }
    if let Some(platforms) = &expect.platforms
        && !platforms.contains(&claims.platform)
    {
        return Err(Refusal::PlatformNotAccepted(claims.platform));
    }
    if claims.debug && !expect.allow_debug {
        return Err(Refusal::DebugNotAllowed);
    }
    if !expect.measurements.is_empty() && !expect.measurements.contains(&claims.measurement) {
        return Err(Refusal::MeasurementNotExpected(claims.measurement.clone()));
    }
    if claims.nonce.as_deref() != claims.runtime_data.as_ref().map(|r| r.nonce.as_str()) {
        return Err(Refusal::Malformed(
            "nonce claim differs from runtime_data.nonce".into(),
        ));
    }
    if let Some(expected) = &expect.nonce
        && claims.nonce.as_ref() != Some(expected)
    {
        return Err(Refusal::NonceMismatch {
            expected: expected.clone(),
            actual: claims.nonce.clone().unwrap_or_else(|| "none".into()),
        });
    }
    if let Some(expected) = &expect.tee_pubkey {
        let actual = claims.runtime_data.as_ref().map(|r| &r.tee_pubkey);
        if actual != Some(expected) {
            return Err(Refusal::KeyBindingMismatch {
                expected: expected.thumbprint_b64(),
                actual: actual.map_or_else(|| "none".into(), PublicJwk::thumbprint_b64),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::binding::RuntimeData;
    use crate::policy::PolicyRef;

    fn claims(platform: Platform) -> AttestationClaims {
        AttestationClaims {
            iss: "https://a".into(),
            iat: 100,
            nbf: 100,
            exp: 200,
            jti: "j".into(),
            platform,
            hardware: platform.is_hardware(),
            measurement: "ab".repeat(48),
            measurements: BTreeMap::new(),
            debug: false,
            tcb: Default::default(),
            flags: BTreeMap::new(),
            runtime_data: Some(RuntimeData::new("n", PublicJwk::X25519([1; 32]))),
            nonce: Some("n".into()),
            policy: PolicyRef {
                id: "p".into(),
                hash: "sha256:00".into(),
            },
        }
    }

    #[test]
    fn a_token_never_passes_for_hardware_it_is_not() {
        let expect = Expectations::new("https://a").allowing_virtual();
        let mut c = claims(Platform::Virtual);
        check_claims(&c, &expect).unwrap();
        c.hardware = true;
        assert!(matches!(
            check_claims(&c, &expect),
            Err(Refusal::Malformed(m)) if m.contains("contradicts")
        ));
        let mut c = claims(Platform::SevSnp);
        c.hardware = false;
        assert!(matches!(
            check_claims(&c, &Expectations::new("https://a")),
            Err(Refusal::Malformed(_))
        ));
    }

    #[test]
    fn debug_platform_and_nonce_consistency_are_checked() {
        let expect = Expectations::new("https://a");
        let mut c = claims(Platform::Tdx);
        check_claims(&c, &expect).unwrap();
        c.debug = true;
        assert_eq!(check_claims(&c, &expect), Err(Refusal::DebugNotAllowed));
        let mut lax = expect.clone();
        lax.allow_debug = true;
        check_claims(&c, &lax).unwrap();

        let mut only_snp = Expectations::new("https://a");
        only_snp.platforms = Some([Platform::SevSnp].into());
        assert_eq!(
            check_claims(&claims(Platform::Tdx), &only_snp),
            Err(Refusal::PlatformNotAccepted(Platform::Tdx))
        );

        let mut c = claims(Platform::Tdx);
        c.nonce = Some("other".into());
        assert!(matches!(
            check_claims(&c, &expect),
            Err(Refusal::Malformed(_))
        ));
    }

    #[test]
    fn validity_window_honours_leeway_and_nbf() {
        check_validity(200, Some(100), Some(100), UnixTime(150), 0).unwrap();
        assert!(matches!(
            check_validity(200, Some(100), Some(100), UnixTime(200), 0),
            Err(Refusal::Expired { .. })
        ));
        check_validity(200, Some(100), Some(100), UnixTime(229), 30).unwrap();
        assert!(matches!(
            check_validity(200, Some(100), Some(100), UnixTime(99), 0),
            Err(Refusal::NotYetValid { .. })
        ));
        check_validity(200, Some(100), Some(100), UnixTime(70), 30).unwrap();
    }
}
