//! Verified evidence: the platform-neutral claims a verifier extracts, and the
//! [`EvidenceVerifier`] trait each platform implements.
//!
//! A verifier answers one question: is this evidence authentic (signatures, chains,
//! collateral, time)? It never decides whether the workload is *acceptable*; that is
//! appraisal against a policy ([`crate::policy`]). Keeping the two apart lets the
//! operator command `check-evidence` print what would be appraised.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::binding::ReportData;
use crate::platform::Platform;
use crate::time::UnixTime;

/// The trusted computing base state reported by the platform.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TcbState {
    /// The vendor's verdict, where the vendor gives one (Intel: `UpToDate`,
    /// `SWHardeningNeeded`, ...). `None` for SEV-SNP and virtual, which report only SVNs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Security advisories that apply (Intel `INTEL-SA-*`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub advisory_ids: Vec<String>,
    /// Security version numbers by component (`bootloader`, `snp`, `isv_svn`, ...).
    #[serde(default)]
    pub svn: BTreeMap<String, u64>,
}

/// Authentic evidence, reduced to the claims that appraisal and tokens use.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifiedEvidence {
    /// The platform that produced the evidence.
    pub platform: Platform,
    /// False for the virtual platform: no hardware vouches for this evidence.
    pub hardware: bool,
    /// The primary measurement, lowercase hex (SNP `measurement`, SGX `mr_enclave`,
    /// TDX `mr_td`, virtual SHA-384 of binary and config).
    pub measurement: String,
    /// Every named measurement register and identity value, lowercase hex.
    pub registers: BTreeMap<String, String>,
    /// The report data the TEE signed.
    pub report_data: ReportData,
    /// Whether the TEE allows debugging (its memory can be read by the host).
    pub debug: bool,
    /// TCB status and security versions.
    pub tcb: TcbState,
    /// Platform policy bits, e.g. SNP `migrate_ma`, `smt`, `single_socket`.
    #[serde(default)]
    pub flags: BTreeMap<String, bool>,
}

/// Why evidence is not authentic.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum EvidenceError {
    /// A certificate in the chain is not signed by its issuer, or the chain is incomplete.
    #[error("certificate chain does not verify: {0}")]
    CertificateChain(String),
    /// A certificate is outside its validity period at the verification time.
    #[error("certificate {subject} is not valid at {at}: valid {not_before} .. {not_after}")]
    CertificateTime {
        /// Which certificate (e.g. `VCEK`).
        subject: String,
        /// Start of validity.
        not_before: UnixTime,
        /// End of validity.
        not_after: UnixTime,
        /// The verification time.
        at: UnixTime,
    },
    /// Collateral (DCAP TCB info, QE identity and CRLs; AMD CRLs) is invalid, expired or
    /// not yet valid.
    #[error("collateral refused: {0}")]
    Collateral(String),
    /// The evidence could not be parsed.
    #[error("malformed evidence: {0}")]
    Malformed(String),
    /// Collateral needed to verify offline was not supplied.
    #[error("missing collateral: {0}")]
    MissingCollateral(String),
    /// The report bytes carry non-zero reserved fields or trailing bytes.
    #[error("report is not canonical: {0}")]
    NonCanonical(String),
    /// The report or quote signature does not verify.
    #[error("report signature does not verify: {0}")]
    ReportSignature(String),
    /// A certificate of the chain is listed in a current, authentic revocation list of
    /// its vendor: the platform's endorsement must not be trusted.
    #[error(
        "certificate {subject} (serial {serial}) is revoked by the vendor: listed in {crl} \
         (revoked {revoked_at}); evidence endorsed through it cannot be trusted"
    )]
    Revoked {
        /// Which certificate (e.g. `ASK-Milan`).
        subject: String,
        /// Its serial number, hex.
        serial: String,
        /// The revocation list that lists it.
        crl: String,
        /// The revocation date the list gives.
        revoked_at: UnixTime,
    },
    /// The TCB in the report disagrees with the endorsement key's certificate.
    #[error("TCB check failed: {0}")]
    Tcb(String),
    /// The chain does not end in the vendor root Cairn pins.
    #[error("untrusted root: {0}")]
    UntrustedRoot(String),
    /// No verifier for this platform is configured.
    #[error("no verifier configured for platform {0}")]
    Unsupported(Platform),
    /// Evidence for another platform was submitted.
    #[error("evidence is for {found}, not {expected}")]
    WrongPlatform {
        /// The platform the caller named.
        expected: Platform,
        /// The platform the evidence is really from.
        found: Platform,
    },
}

/// Checks that evidence of one platform is authentic.
pub trait EvidenceVerifier: Send + Sync {
    /// The platform this verifier handles.
    fn platform(&self) -> Platform;

    /// Verifies `evidence` (the platform's JSON evidence form) as of time `at`.
    fn verify(
        &self,
        evidence: &serde_json::Value,
        at: UnixTime,
    ) -> Result<VerifiedEvidence, EvidenceError>;
}

/// The verifiers a service or tool has, one per platform.
#[derive(Default)]
pub struct VerifierSet {
    verifiers: BTreeMap<Platform, Box<dyn EvidenceVerifier>>,
}

impl VerifierSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) the verifier for its platform.
    pub fn with(mut self, verifier: Box<dyn EvidenceVerifier>) -> Self {
        self.verifiers.insert(verifier.platform(), verifier);
        self
    }

    /// The platforms this set can verify.
    pub fn platforms(&self) -> impl Iterator<Item = Platform> + '_ {
        self.verifiers.keys().copied()
    }

    /// Verifies evidence claimed to come from `platform`.
    pub fn verify(
        &self,
        platform: Platform,
        evidence: &serde_json::Value,
        at: UnixTime,
    ) -> Result<VerifiedEvidence, EvidenceError> {
        let verifier = self
            .verifiers
            .get(&platform)
            .ok_or(EvidenceError::Unsupported(platform))?;
        let verified = verifier.verify(evidence, at)?;
        if verified.platform != platform {
            return Err(EvidenceError::WrongPlatform {
                expected: platform,
                found: verified.platform,
            });
        }
        Ok(verified)
    }
}
