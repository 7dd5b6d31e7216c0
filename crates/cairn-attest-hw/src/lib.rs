//! Cairn verifiers for hardware TEE evidence: AMD SEV-SNP attestation reports and
//! Intel SGX / TDX DCAP quotes, verified offline.
//!
//! Layer: attestation (hardware). Uses `cairn-attest` for the neutral types and the
//! [`cairn_attest::EvidenceVerifier`] trait, `sev` for SNP reports and AMD's
//! certificates, `dcap-qvl` for DCAP quotes and Intel collateral, `x509-cert` only to
//! read validity dates, AMD's TCB extensions and AMD's CRLs, and `rsa` to check AMD's
//! CRL signatures. No certificate parsing of our own.
//!
//! Invariants:
//! - trust anchors are pinned: AMD's ARKs as shipped in `sev`, Intel's SGX Root CA as
//!   shipped in `dcap-qvl`; a root supplied with the evidence must equal the pinned one;
//! - every check uses the verification time passed in, never the clock;
//! - revocation is checked on both sides: Intel's PCK CRLs are part of the DCAP
//!   collateral (`dcap`), and every AMD CRL supplied for an SNP chain (evidence field
//!   `crl`; `crl-<product>.der` or `crl-vlek-<product>.der` in the collateral
//!   directory) must be signed by the chain's ARK (RSASSA-PSS SHA-384), be current at
//!   the verification time and carry no critical extension, and a chain whose ARK or
//!   ASK/ASVK it lists is refused with `EvidenceError::Revoked` (`snp::crl`). SNP
//!   claims say whether a CRL was checked (`flags.amd_crl_checked`), and appraisal
//!   policies require it by default;
//! - evidence is canonical: a report or quote whose bytes differ from the re-encoding
//!   of what was parsed (reserved fields, padding, trailing bytes) is refused, so
//!   changing any byte of the evidence makes verification fail;
//! - debug-enabled TEEs are verified and reported (`debug: true`), never silently
//!   accepted: refusing them is the appraisal policy's job.

mod certtime;
pub mod dcap;
pub mod snp;

pub use dcap::DcapVerifier;
pub use snp::SnpVerifier;

use cairn_attest::{VerifierSet, VirtualVerifier};

/// Verifiers for every platform: SNP, SGX and TDX with collateral from `collateral_dir`
/// when the evidence does not carry it, and the virtual platform.
pub fn all_verifiers(collateral_dir: Option<std::path::PathBuf>) -> VerifierSet {
    VerifierSet::new()
        .with(Box::new(SnpVerifier::new(collateral_dir.clone())))
        .with(Box::new(DcapVerifier::sgx(collateral_dir.clone())))
        .with(Box::new(DcapVerifier::tdx(collateral_dir)))
        .with(Box::new(VirtualVerifier))
}

/// Decodes standard base64 (with padding), the encoding of binary evidence fields.
pub(crate) fn b64_field(field: &str, value: &str) -> Result<Vec<u8>, cairn_attest::EvidenceError> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .map_err(|_| cairn_attest::EvidenceError::Malformed(format!("{field} is not base64")))
}
