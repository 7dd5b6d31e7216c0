//! Node admission against a channel's attestation requirement (issue 5 part 5).
//!
//! [`admit_node`] is what a peer or orderer calls when another node joins a channel
//! whose config carries an [`AttestationRequirement`]: it is pure (no network, no
//! clock), trusts only the JWKS pinned in the config, and compares the key the token
//! binds with the key of the TLS certificate the node presented in the handshake.

use std::collections::BTreeSet;

use cairn_attest::{AdmissionError, AdmissionPolicy, AdmittedNode, Jwks, PublicJwk, UnixTime};
use cairn_ledger::config::AttestationRequirement;

/// The public key a joining node proved it holds.
#[derive(Clone, Copy, Debug)]
pub enum NodeKey<'a> {
    /// The DER SubjectPublicKeyInfo of the node's TLS certificate (Ed25519 or P-256).
    SpkiDer(&'a [u8]),
    /// The key as a JWK, when the caller already has it in that form.
    Jwk(&'a PublicJwk),
}

impl NodeKey<'_> {
    /// The key as a JWK, the form tokens bind.
    pub fn to_jwk(self) -> Result<PublicJwk, AdmissionError> {
        match self {
            NodeKey::SpkiDer(der) => Ok(PublicJwk::from_spki_der(der)?),
            NodeKey::Jwk(jwk) => Ok(jwk.clone()),
        }
    }
}

/// Checks that `token` admits the node holding `node_key` to a channel with
/// requirement `req`, at time `now`.
///
/// Checks, in order, each failure naming itself: the requirement is usable (its JWKS
/// parses, it lists at least one measurement); the token's signature against the
/// pinned JWKS (`kid` looked up there, ES256 only, header key references refused);
/// issuer; expiry and not-before (30 s leeway); `virtual` tokens only if
/// `allow_virtual`; no debug TEEs; the measurement is on the list; the token's
/// runtime-data key is `node_key`.
pub fn admit_node(
    token: &str,
    req: &AttestationRequirement,
    node_key: NodeKey<'_>,
    now: UnixTime,
) -> Result<AdmittedNode, AdmissionError> {
    let jwks = Jwks::parse(req.jwks.as_bytes())
        .map_err(|e| AdmissionError::InvalidRequirement(format!("pinned JWKS: {e}")))?;
    let policy = AdmissionPolicy {
        issuer: req.issuer.clone(),
        allowed_measurements: req
            .measurements
            .iter()
            .map(|m| m.to_ascii_lowercase())
            .collect::<BTreeSet<_>>(),
        allow_virtual: req.allow_virtual,
    };
    let key = node_key.to_jwk()?;
    policy.admit(token, &key, &jwks, now).inspect_err(|e| {
        tracing::warn!(issuer = %req.issuer, reason = %e, "attested node refused");
    })
}
