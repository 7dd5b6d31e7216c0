//! Attested nodes (issue 5 part 5, library level): the checks a channel applies
//! before admitting a node that presents an attestation token.
//!
//! The contract between a node and the members that admit it:
//!
//! 1. the node obtains a token for itself from the attestation service, binding the
//!    public key of its TLS certificate as runtime data
//!    (`cairn_attest_client::obtain_token` with [`PublicJwk::from_spki_der`]);
//! 2. it presents the token when it joins; the TLS handshake proves it holds the
//!    private key of the certificate it presented (the transport's job);
//! 3. every member checks the token with [`AdmissionPolicy::admit`], using only the
//!    service's JWKS pinned in the channel config, the channel's list of allowed
//!    measurements, and the key of the certificate the node presented.
//!
//! Because the token binds the TLS key, a token copied from another node is useless
//! without that node's private key.

use std::collections::BTreeSet;

use crate::jwk::{JwkError, PublicJwk};
use crate::jws::Jwks;
use crate::platform::Platform;
use crate::relying_party::{Expectations, Refusal, verify_token};
use crate::time::UnixTime;

/// A channel's rules for admitting attested nodes.
#[derive(Clone, Debug)]
pub struct AdmissionPolicy {
    /// The attestation service whose tokens count.
    pub issuer: String,
    /// Measurements (hex, any case) of node builds the channel runs.
    pub allowed_measurements: BTreeSet<String>,
    /// Whether nodes on the software-only virtual platform may join (development only).
    pub allow_virtual: bool,
}

/// A node that passed admission.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdmittedNode {
    /// The node's platform.
    pub platform: Platform,
    /// Whether hardware vouches for it (false for `virtual`).
    pub hardware: bool,
    /// Its measurement, lowercase hex.
    pub measurement: String,
    /// RFC 7638 thumbprint of its bound (TLS) public key.
    pub key_thumbprint: String,
    /// The token's id, for logs and revocation lists.
    pub jti: String,
    /// When its token expires; the node must re-attest before then.
    pub expires_at: UnixTime,
}

/// Why a node is not admitted.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AdmissionError {
    /// The channel's attestation requirement itself is unusable (fix the config).
    #[error("the channel's attestation requirement is unusable: {0}")]
    InvalidRequirement(String),
    /// The key the node presented cannot be compared with a token's key.
    #[error("node public key: {0}")]
    NodeKey(#[from] JwkError),
    /// The token was refused; the reason names the failed check.
    #[error("attestation token refused: {0}")]
    Refused(#[from] Refusal),
}

impl AdmissionPolicy {
    /// Admits the node presenting `token` and holding `node_key`, or says why not.
    pub fn admit(
        &self,
        token: &str,
        node_key: &PublicJwk,
        jwks: &Jwks,
        now: UnixTime,
    ) -> Result<AdmittedNode, AdmissionError> {
        if self.allowed_measurements.is_empty() {
            // An empty list would accept every measurement; a channel must name its builds.
            return Err(AdmissionError::InvalidRequirement(
                "it lists no allowed measurements".into(),
            ));
        }
        let mut expect = Expectations::new(self.issuer.clone())
            .with_measurements(&self.allowed_measurements)
            .with_tee_pubkey(node_key.clone());
        expect.allow_virtual = self.allow_virtual;
        let verified = verify_token(token, jwks, &expect, now)?;
        let c = verified.claims;
        tracing::info!(
            platform = %c.platform,
            hardware = c.hardware,
            measurement = %c.measurement,
            jti = %c.jti,
            "admitted attested node"
        );
        Ok(AdmittedNode {
            platform: c.platform,
            hardware: c.hardware,
            measurement: c.measurement,
            key_thumbprint: node_key.thumbprint_b64(),
            jti: c.jti,
            expires_at: UnixTime(c.exp),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::binding::{ReportData, RuntimeData};
    use crate::claims::AttestationClaims;
    use crate::evidence::{TcbState, VerifiedEvidence};
    use crate::issuer::KeyRing;
    use crate::policy::{Appraisal, PolicyRef};

    const ISS: &str = "https://attest.test";
    const NOW: UnixTime = UnixTime(1_800_000_000);

    fn node_key(seed: u8) -> PublicJwk {
        PublicJwk::Ed25519(
            ed25519_dalek::SigningKey::from_bytes(&[seed; 32])
                .verifying_key()
                .to_bytes(),
        )
    }

    fn token(ring: &KeyRing, platform: Platform, measurement: &str, key: &PublicJwk) -> String {
        let evidence = VerifiedEvidence {
            platform,
            hardware: platform.is_hardware(),
            measurement: measurement.to_owned(),
            registers: BTreeMap::new(),
            report_data: ReportData([0; 64]),
            debug: false,
            tcb: TcbState::default(),
            flags: BTreeMap::new(),
        };
        let appraisal = Appraisal {
            policy: PolicyRef {
                id: "p".into(),
                hash: "sha256:00".into(),
            },
            token_ttl_secs: 600,
        };
        let rd = RuntimeData::new("n", key.clone());
        let claims =
            AttestationClaims::new(ISS, &evidence, Some(&rd), &appraisal, NOW, "jti-1".into());
        ring.sign(&claims).unwrap()
    }

    fn channel(measurements: &[&str], allow_virtual: bool) -> AdmissionPolicy {
        AdmissionPolicy {
            issuer: ISS.into(),
            allowed_measurements: measurements.iter().map(|m| (*m).to_owned()).collect(),
            allow_virtual,
        }
    }

    #[test]
    fn admits_a_listed_node_holding_the_bound_key_and_names_every_refusal() {
        let ring = KeyRing::generate(NOW, 3_600).unwrap();
        let jwks = Jwks::from_set(&ring.jwks(NOW)).unwrap();
        let good = hex::encode([1u8; 48]);
        let other = hex::encode([2u8; 48]);
        let key = node_key(1);
        let t = token(&ring, Platform::Tdx, &good, &key);

        let admitted = channel(&[&good.to_uppercase()], false)
            .admit(&t, &key, &jwks, NOW)
            .unwrap();
        assert_eq!(admitted.measurement, good);
        assert_eq!(admitted.key_thumbprint, key.thumbprint_b64());
        assert_eq!(admitted.expires_at, NOW.plus(600));
        assert_eq!(admitted.jti, "jti-1");

        assert_eq!(
            channel(&[&other], false).admit(&t, &key, &jwks, NOW),
            Err(AdmissionError::Refused(Refusal::MeasurementNotExpected(
                good.clone()
            )))
        );
        assert!(matches!(
            channel(&[&good], false).admit(&t, &node_key(2), &jwks, NOW),
            Err(AdmissionError::Refused(Refusal::KeyBindingMismatch { .. }))
        ));
        assert!(matches!(
            channel(&[&good], false).admit(&t, &key, &jwks, NOW.plus(700)),
            Err(AdmissionError::Refused(Refusal::Expired { .. }))
        ));
        assert!(matches!(
            channel(&[], false).admit(&t, &key, &jwks, NOW),
            Err(AdmissionError::InvalidRequirement(_))
        ));
        let v = token(&ring, Platform::Virtual, &good, &key);
        assert_eq!(
            channel(&[&good], false).admit(&v, &key, &jwks, NOW),
            Err(AdmissionError::Refused(Refusal::VirtualNotAllowed))
        );
        assert!(channel(&[&good], true).admit(&v, &key, &jwks, NOW).is_ok());
    }
}
