//! Appraisal policies: declarative files, one per platform, that decide whether
//! authentic evidence describes an acceptable workload.
//!
//! A policy is JSON:
//!
//! ```json
//! {
//!   "id": "snp-prod-2025-07",
//!   "platform": "sev-snp",
//!   "allowed_measurements": ["7a1e5c26..."],
//!   "allow_debug": false,
//!   "require_binding": true,
//!   "tcb": { "min_svn": { "bootloader": 3, "snp": 8, "microcode": 115 } },
//!   "required_flags": { "migrate_ma": false, "amd_crl_checked": true },
//!   "token_ttl_secs": 300
//! }
//! ```
//!
//! Fields: `id` (1..=128 printable characters), `platform` (`sev-snp`, `sgx`, `tdx`,
//! `virtual`), `allowed_measurements` (hex, at least one; 48 bytes, 32 for SGX),
//! `required_registers` (register name → hex value), `allow_debug` (default false),
//! `require_binding` (default true: runtime data must be bound into the report),
//! `tcb.accepted_statuses` (SGX/TDX only, default `["UpToDate"]`), `tcb.min_svn`
//! (component → minimum), `required_flags` (SNP default `{"migrate_ma": false, "amd_crl_checked": true}`: no
//! migration agent, and the chain was checked against a current AMD CRL; a policy that
//! lists its own flags replaces the default and must repeat what it keeps),
//! `trusted_platform_keys` (virtual only, required: hex Ed25519 platform keys),
//! `token_ttl_secs` (default 300, at most one day). Unknown fields are refused.
//!
//! Parsing checks everything that can be checked without evidence (hex lengths per
//! platform, fields that only make sense on some platforms, a virtual policy without
//! trusted platform keys), so a loaded [`AppraisalPolicy`] is always meaningful. Its
//! identity in tokens is the `id` plus the SHA-256 of the exact file bytes.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::binding::ReportData;
use crate::evidence::VerifiedEvidence;
use crate::platform::Platform;

/// The longest token lifetime a policy may ask for (one day).
pub const MAX_TOKEN_TTL_SECS: u64 = 86_400;
const DEFAULT_TOKEN_TTL_SECS: u64 = 300;

/// Why a policy file was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PolicyError {
    /// The JSON does not match the policy format.
    #[error("policy is not valid JSON in the policy format: {0}")]
    Format(String),
    /// A field holds a value that cannot be right.
    #[error("policy field {field}: {reason}")]
    Invalid {
        /// The offending field.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A field was given for a platform it does not apply to.
    #[error("policy field {field} does not apply to platform {platform}")]
    NotForPlatform {
        /// The field.
        field: &'static str,
        /// The policy's platform.
        platform: Platform,
    },
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    id: String,
    platform: Platform,
    allowed_measurements: Vec<String>,
    #[serde(default)]
    required_registers: BTreeMap<String, String>,
    #[serde(default)]
    allow_debug: bool,
    #[serde(default = "yes")]
    require_binding: bool,
    #[serde(default)]
    tcb: TcbFile,
    #[serde(default)]
    required_flags: Option<BTreeMap<String, bool>>,
    #[serde(default)]
    trusted_platform_keys: Vec<String>,
    #[serde(default)]
    token_ttl_secs: Option<u64>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TcbFile {
    #[serde(default)]
    accepted_statuses: Option<Vec<String>>,
    #[serde(default)]
    min_svn: BTreeMap<String, u64>,
}

/// The policy's identity as it appears in tokens.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyRef {
    /// The policy's `id`.
    pub id: String,
    /// `sha256:` and the hex SHA-256 of the policy file bytes.
    pub hash: String,
}

/// A parsed, checked appraisal policy.
#[derive(Clone, Debug)]
pub struct AppraisalPolicy {
    reference: PolicyRef,
    platform: Platform,
    allowed_measurements: BTreeSet<String>,
    required_registers: BTreeMap<String, String>,
    allow_debug: bool,
    require_binding: bool,
    accepted_statuses: Option<BTreeSet<String>>,
    min_svn: BTreeMap<String, u64>,
    required_flags: BTreeMap<String, bool>,
    trusted_platform_keys: BTreeSet<String>,
    token_ttl_secs: u64,
    raw: Vec<u8>,
}

/// Why evidence failed appraisal. Every variant names what to change.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum AppraisalError {
    /// The report data does not bind the supplied nonce and public key.
    #[error(
        "report data does not bind the runtime data (nonce and public key): the evidence was made for another nonce or key"
    )]
    BindingMismatch,
    /// The policy requires runtime data binding but none was supplied.
    #[error("policy {policy} requires runtime data (nonce and public key) bound into the report")]
    BindingMissing {
        /// The policy id.
        policy: String,
    },
    /// The TEE allows debugging and the policy forbids it.
    #[error("debug-enabled TEE refused by policy {policy} (set allow_debug only for development)")]
    DebugForbidden {
        /// The policy id.
        policy: String,
    },
    /// A platform policy bit has the wrong value.
    #[error(
        "platform flag {flag} is {actual}, policy requires {expected}{}",
        flag_hint(flag)
    )]
    FlagMismatch {
        /// The flag name.
        flag: String,
        /// The value the policy requires.
        expected: bool,
        /// The value in the evidence (absent counts as false).
        actual: bool,
    },
    /// The measurement is not in the policy's allow-list.
    #[error("measurement {measurement} is not allowed by policy {policy}")]
    MeasurementNotAllowed {
        /// The measurement found.
        measurement: String,
        /// The policy id.
        policy: String,
    },
    /// The evidence is for another platform than the policy.
    #[error("policy {policy} is for {expected}, evidence is from {actual}")]
    PlatformMismatch {
        /// The policy id.
        policy: String,
        /// The policy's platform.
        expected: Platform,
        /// The evidence's platform.
        actual: Platform,
    },
    /// The virtual platform key is not one the policy trusts.
    #[error("virtual platform key {key} is not in trusted_platform_keys of policy {policy}")]
    PlatformKeyNotTrusted {
        /// The key found, hex.
        key: String,
        /// The policy id.
        policy: String,
    },
    /// A register holds another value than the policy requires.
    #[error("register {name} is {actual}, policy requires {expected}")]
    RegisterMismatch {
        /// The register.
        name: String,
        /// The required value.
        expected: String,
        /// The value found (`absent` if missing).
        actual: String,
    },
    /// A TCB component the policy sets a minimum for is not reported.
    #[error("TCB component {0} is not reported by this evidence")]
    TcbComponentMissing(String),
    /// The vendor's TCB status is not one the policy accepts.
    #[error("TCB status {status} is not accepted (accepted: {accepted})")]
    TcbStatusNotAccepted {
        /// The status found.
        status: String,
        /// The accepted statuses, comma-separated.
        accepted: String,
    },
    /// A TCB component is below the policy's minimum.
    #[error("TCB component {component} is {actual}, below the minimum {minimum}")]
    TcbTooLow {
        /// The component.
        component: String,
        /// The policy minimum.
        minimum: u64,
        /// The value found.
        actual: u64,
    },
}

/// What to do about a flag whose absence is the usual cause of a mismatch.
fn flag_hint(flag: &str) -> &'static str {
    match flag {
        "amd_crl_checked" => {
            "; the chain was not checked against AMD's CRL: put the current CRL \
             (https://kdsintf.amd.com/vcek/v1/<Milan|Genoa|Turin>/crl, /vlek/v1/... for a \
             VLEK) in the service's collateral directory as crl-<product>.der \
             (crl-vlek-<product>.der), or send it in the evidence field crl"
        }
        _ => "",
    }
}

/// Evidence that passed appraisal: what the token issuer needs from the policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Appraisal {
    /// The policy that accepted the evidence.
    pub policy: PolicyRef,
    /// How long a token for this appraisal may live.
    pub token_ttl_secs: u64,
}

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> PolicyError {
    PolicyError::Invalid {
        field: field.into(),
        reason: reason.into(),
    }
}

fn normalize_hex(field: &str, value: &str, len: Option<usize>) -> Result<String, PolicyError> {
    let bytes = hex::decode(value).map_err(|_| invalid(field, format!("{value:?} is not hex")))?;
    if let Some(len) = len
        && bytes.len() != len
    {
        return Err(invalid(
            field,
            format!("{value:?} is {} bytes, expected {len}", bytes.len()),
        ));
    }
    Ok(hex::encode(bytes))
}

fn measurement_len(platform: Platform) -> usize {
    match platform {
        Platform::Sgx => 32,
        Platform::SevSnp | Platform::Tdx | Platform::Virtual => 48,
    }
}

impl AppraisalPolicy {
    /// Parses and checks a policy file.
    pub fn parse(raw: &[u8]) -> Result<Self, PolicyError> {
        let file: PolicyFile =
            serde_json::from_slice(raw).map_err(|e| PolicyError::Format(e.to_string()))?;
        let platform = file.platform;
        if file.id.is_empty()
            || file.id.len() > 128
            || file.id.chars().any(|c| c.is_control() || c == '"')
        {
            return Err(invalid("id", "must be 1..=128 printable characters"));
        }
        if file.allowed_measurements.is_empty() {
            return Err(invalid(
                "allowed_measurements",
                "must list at least one measurement (a policy that allows nothing is a mistake)",
            ));
        }
        let allowed_measurements = file
            .allowed_measurements
            .iter()
            .map(|m| normalize_hex("allowed_measurements", m, Some(measurement_len(platform))))
            .collect::<Result<BTreeSet<_>, _>>()?;
        let required_registers = file
            .required_registers
            .iter()
            .map(|(k, v)| {
                Ok((
                    k.clone(),
                    normalize_hex(&format!("required_registers.{k}"), v, None)?,
                ))
            })
            .collect::<Result<BTreeMap<_, _>, PolicyError>>()?;
        let accepted_statuses = match (platform, file.tcb.accepted_statuses) {
            (Platform::Sgx | Platform::Tdx, None) => Some(BTreeSet::from(["UpToDate".to_owned()])),
            (Platform::Sgx | Platform::Tdx, Some(list)) if list.is_empty() => {
                return Err(invalid("tcb.accepted_statuses", "must not be empty"));
            }
            (Platform::Sgx | Platform::Tdx, Some(list)) => Some(list.into_iter().collect()),
            (_, Some(_)) => {
                return Err(PolicyError::NotForPlatform {
                    field: "tcb.accepted_statuses",
                    platform,
                });
            }
            (_, None) => None,
        };
        let required_flags = match (platform, file.required_flags) {
            (_, Some(flags)) => flags,
            // Migration agents can export guest memory, and a chain not checked against
            // AMD's CRL may run through a revoked ASK: refuse both unless a policy
            // explicitly says otherwise (as DCAP always has Intel's CRLs checked).
            (Platform::SevSnp, None) => BTreeMap::from([
                ("amd_crl_checked".to_owned(), true),
                ("migrate_ma".to_owned(), false),
            ]),
            (_, None) => BTreeMap::new(),
        };
        let trusted_platform_keys = file
            .trusted_platform_keys
            .iter()
            .map(|k| normalize_hex("trusted_platform_keys", k, Some(32)))
            .collect::<Result<BTreeSet<_>, _>>()?;
        match (platform, trusted_platform_keys.is_empty()) {
            (Platform::Virtual, true) => {
                return Err(invalid(
                    "trusted_platform_keys",
                    "a virtual policy must list the platform keys it trusts",
                ));
            }
            (p, false) if p.is_hardware() => {
                return Err(PolicyError::NotForPlatform {
                    field: "trusted_platform_keys",
                    platform,
                });
            }
            _ => {}
        }
        let token_ttl_secs = file.token_ttl_secs.unwrap_or(DEFAULT_TOKEN_TTL_SECS);
        if !(1..=MAX_TOKEN_TTL_SECS).contains(&token_ttl_secs) {
            return Err(invalid(
                "token_ttl_secs",
                format!("must be 1..={MAX_TOKEN_TTL_SECS}"),
            ));
        }
        Ok(Self {
            reference: PolicyRef {
                id: file.id,
                hash: format!("sha256:{}", hex::encode(Sha256::digest(raw))),
            },
            platform,
            allowed_measurements,
            required_registers,
            allow_debug: file.allow_debug,
            require_binding: file.require_binding,
            accepted_statuses,
            min_svn: file.tcb.min_svn,
            required_flags,
            trusted_platform_keys,
            token_ttl_secs,
            raw: raw.to_vec(),
        })
    }

    /// The policy's id and hash.
    pub fn reference(&self) -> &PolicyRef {
        &self.reference
    }

    /// The platform this policy appraises.
    pub fn platform(&self) -> Platform {
        self.platform
    }

    /// The exact bytes the policy was parsed from.
    pub fn raw(&self) -> &[u8] {
        &self.raw
    }

    /// Token lifetime for evidence this policy accepts.
    pub fn token_ttl_secs(&self) -> u64 {
        self.token_ttl_secs
    }

    /// Appraises verified evidence; `binding` is the report data the runtime data implies.
    pub fn appraise(
        &self,
        ev: &VerifiedEvidence,
        binding: Option<&ReportData>,
    ) -> Result<Appraisal, AppraisalError> {
        let policy = || self.reference.id.clone();
        if ev.platform != self.platform || ev.hardware != self.platform.is_hardware() {
            return Err(AppraisalError::PlatformMismatch {
                policy: policy(),
                expected: self.platform,
                actual: ev.platform,
            });
        }
        if self.platform == Platform::Virtual {
            let key = ev
                .registers
                .get("platform_key")
                .cloned()
                .unwrap_or_default();
            if !self.trusted_platform_keys.contains(&key) {
                return Err(AppraisalError::PlatformKeyNotTrusted {
                    key,
                    policy: policy(),
                });
            }
        }
        if !self.allowed_measurements.contains(&ev.measurement) {
            return Err(AppraisalError::MeasurementNotAllowed {
                measurement: ev.measurement.clone(),
                policy: policy(),
            });
        }
        for (name, expected) in &self.required_registers {
            let actual = ev.registers.get(name);
            if actual != Some(expected) {
                return Err(AppraisalError::RegisterMismatch {
                    name: name.clone(),
                    expected: expected.clone(),
                    actual: actual.cloned().unwrap_or_else(|| "absent".into()),
                });
            }
        }
        if ev.debug && !self.allow_debug {
            return Err(AppraisalError::DebugForbidden { policy: policy() });
        }
        for (flag, &expected) in &self.required_flags {
            let actual = ev.flags.get(flag).copied().unwrap_or(false);
            if actual != expected {
                return Err(AppraisalError::FlagMismatch {
                    flag: flag.clone(),
                    expected,
                    actual,
                });
            }
        }
        if let Some(accepted) = &self.accepted_statuses {
            let status = ev.tcb.status.clone().unwrap_or_else(|| "absent".into());
            if !accepted.contains(&status) {
                return Err(AppraisalError::TcbStatusNotAccepted {
                    status,
                    accepted: accepted.iter().cloned().collect::<Vec<_>>().join(", "),
                });
            }
        }
        for (component, &minimum) in &self.min_svn {
            let actual = *ev
                .tcb
                .svn
                .get(component)
                .ok_or_else(|| AppraisalError::TcbComponentMissing(component.clone()))?;
            if actual < minimum {
                return Err(AppraisalError::TcbTooLow {
                    component: component.clone(),
                    minimum,
                    actual,
                });
            }
        }
        match binding {
            Some(expected) if *expected != ev.report_data => {
                return Err(AppraisalError::BindingMismatch);
            }
            None if self.require_binding => {
                return Err(AppraisalError::BindingMissing { policy: policy() });
            }
            _ => {}
        }
        Ok(Appraisal {
            policy: self.reference.clone(),
            token_ttl_secs: self.token_ttl_secs,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests;
