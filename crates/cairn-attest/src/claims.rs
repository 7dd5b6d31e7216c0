//! The claims of an attestation token (the JWT body the service signs).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::binding::RuntimeData;
use crate::evidence::{TcbState, VerifiedEvidence};
use crate::platform::Platform;
use crate::policy::{Appraisal, PolicyRef};
use crate::time::UnixTime;

/// Every claim an attestation token carries.
///
/// `hardware` is false exactly when `platform` is `virtual`; relying parties refuse
/// virtual tokens unless they opt in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttestationClaims {
    /// The issuing attestation service (its base URL).
    pub iss: String,
    /// Issued at (seconds since the epoch).
    pub iat: u64,
    /// Not before.
    pub nbf: u64,
    /// Expiry.
    pub exp: u64,
    /// Unique token id.
    pub jti: String,
    /// The TEE platform.
    pub platform: Platform,
    /// Whether hardware vouches for the evidence (false for `virtual`).
    pub hardware: bool,
    /// The primary measurement, lowercase hex.
    pub measurement: String,
    /// All measurement registers and identities, lowercase hex.
    pub measurements: BTreeMap<String, String>,
    /// Whether the TEE allows debugging.
    pub debug: bool,
    /// TCB status and security versions.
    pub tcb: TcbState,
    /// Platform policy bits.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub flags: BTreeMap<String, bool>,
    /// The runtime data bound into the evidence: nonce and workload public key (JWK).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime_data: Option<RuntimeData>,
    /// The nonce the evidence is bound to (same as `runtime_data.nonce`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// The policy that accepted the evidence.
    pub policy: PolicyRef,
}

impl AttestationClaims {
    /// Claims for appraised evidence, valid from `now` for the policy's token lifetime.
    pub fn new(
        issuer: &str,
        evidence: &VerifiedEvidence,
        runtime_data: Option<&RuntimeData>,
        appraisal: &Appraisal,
        now: UnixTime,
        jti: String,
    ) -> Self {
        Self {
            iss: issuer.to_owned(),
            iat: now.secs(),
            nbf: now.secs(),
            exp: now.plus(appraisal.token_ttl_secs).secs(),
            jti,
            platform: evidence.platform,
            hardware: evidence.hardware,
            measurement: evidence.measurement.clone(),
            measurements: evidence.registers.clone(),
            debug: evidence.debug,
            tcb: evidence.tcb.clone(),
            flags: evidence.flags.clone(),
            runtime_data: runtime_data.cloned(),
            nonce: runtime_data.map(|r| r.nonce.clone()),
            policy: appraisal.policy.clone(),
        }
    }
}
