//! Attested nodes (issue 5 part 5, library level): the checks a channel applies
//! before admitting a node that presents an attestation token.
//!
//! The network that carries the token does not exist yet. The contract is:
//!
//! 1. the node obtains a token for itself from the attestation service, binding
//!    its node public key as runtime data (`cairn_attest_client::obtain_token`);
//! 2. it presents the token and that public key when it joins, and proves it holds
//!    the private key in the transport handshake (the transport's job);
//! 3. every member checks the token with [`AdmissionPolicy::admit`], using only the
//!    service's JWKS and the channel's list of allowed measurements.

use std::collections::BTreeSet;

use crate::jwk::PublicJwk;
use crate::jws::Jwks;
use crate::platform::Platform;
use crate::relying_party::{Expectations, Refusal, verify_token};
use crate::time::UnixTime;

/// A channel's rules for admitting attested nodes.
#[derive(Clone, Debug)]
pub struct AdmissionPolicy {
    /// The attestation service whose tokens count.
    pub issuer: String,
    /// Measurements (lowercase hex) of node builds the channel runs.
    pub allowed_measurements: BTreeSet<String>,
    /// Whether nodes on the software-only virtual platform may join (development only).
    pub allow_virtual: bool,
}

/// A node that passed admission.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdmittedNode {
    /// The node's platform.
    pub platform: Platform,
    /// Whether hardware vouches for it.
    pub hardware: bool,
    /// Its measurement.
    pub measurement: String,
    /// RFC 7638 thumbprint of its bound public key.
    pub key_thumbprint: String,
    /// When its token expires; re-attest before then.
    pub expires_at: UnixTime,
}

impl AdmissionPolicy {
    /// Admits the node presenting `token` and `node_key`, or says why not.
    pub fn admit(
        &self,
        token: &str,
        node_key: &PublicJwk,
        jwks: &Jwks,
        now: UnixTime,
    ) -> Result<AdmittedNode, Refusal> {
        let mut expect = Expectations::new(self.issuer.clone())
            .with_measurements(&self.allowed_measurements)
            .with_tee_pubkey(node_key.clone());
        expect.allow_virtual = self.allow_virtual;
        if self.allowed_measurements.is_empty() {
            // An empty list would accept every measurement; a channel must name its builds.
            return Err(Refusal::MeasurementNotExpected(
                "(channel allows none)".into(),
            ));
        }
        let verified = verify_token(token, jwks, &expect, now)?;
        let c = verified.claims;
        Ok(AdmittedNode {
            platform: c.platform,
            hardware: c.hardware,
            measurement: c.measurement,
            key_thumbprint: node_key.thumbprint_b64(),
            expires_at: UnixTime(c.exp),
        })
    }
}
