//! Cairn attestation core: evidence binding, the `virtual` platform, appraisal
//! policies, attestation tokens, relying-party checks, sealed secret release and
//! node admission.
//!
//! Layer: attestation. This crate is pure protocol logic: no network, no HTTP, no
//! hardware SDKs. It may use only crypto and encoding crates (RustCrypto, `ring`,
//! `hpke`, `jsonwebtoken` for JWK types, serde), and `cairn-crypto` only for
//! `private_file`, which writes the platform key file. Hardware verifiers live in
//! `cairn-attest-hw`, the HTTPS service in `cairn-attest-service`, the HTTP client,
//! JWKS cache and channel admission in `cairn-attest-client`.
//!
//! The flow, and which module owns each step:
//!
//! ```text
//! workload                      attestation service                  relying party
//! --------                      -------------------                  -------------
//!                <- nonce --    fresh_nonce            (binding)
//! RuntimeData{nonce, key}
//! report_data = H(nonce, key)   (binding)
//! evidence  (attester / virtual_platform)
//!            -- evidence + runtime data ->
//!                               EvidenceVerifier::verify (evidence, cairn-attest-hw)
//!                               AppraisalPolicy::appraise   (policy)
//!                               KeyRing::sign(claims)       (issuer, claims)
//!                <- token --
//!            -- token ------------------------------------------->  verify_token (relying_party, jws)
//!            -- token -> POST /keys/{name}: ReleasePolicy (release) + seal (seal)
//! ```
//!
//! Invariants:
//! - the virtual platform key file is created 0600 and atomically (temporary
//!   file, fsync, link) by `cairn_crypto::private_file`, never in place;
//! - verification never reads the clock: every check takes the time as an argument;
//! - `virtual` evidence and tokens always carry `hardware: false`; appraisal of a
//!   virtual policy requires an explicitly trusted platform key, no hardware policy
//!   accepts virtual evidence, and relying parties refuse virtual tokens unless they
//!   opt in;
//! - runtime data that the report does not bind is never put in a token;
//! - keys for token verification come only from the relying party's JWKS;
//! - appraisal does not assume that a vendor key is unrevoked: DCAP collateral always
//!   carries Intel's CRLs, and SEV-SNP policies require `flags.amd_crl_checked` (a
//!   current AMD CRL was checked, see `cairn-attest-hw`) unless they list their own
//!   `required_flags` (`policy`).

pub mod admission;
pub mod attester;
pub mod binding;
pub mod claims;
pub mod evidence;
pub mod issuer;
pub mod jwk;
pub mod jws;
pub mod platform;
pub mod policy;
pub mod release;
pub mod relying_party;
pub mod seal;
pub mod time;
pub mod virtual_platform;

pub use admission::{AdmissionError, AdmissionPolicy, AdmittedNode};
pub use attester::{Attester, AttesterError};
pub use binding::{ReportData, RuntimeData, fresh_nonce};
pub use claims::AttestationClaims;
pub use evidence::{EvidenceError, EvidenceVerifier, TcbState, VerifiedEvidence, VerifierSet};
pub use issuer::{IssueError, KeyRing, StoredKey, fresh_jti};
pub use jwk::{JwkError, PublicJwk};
pub use jws::{Jwks, JwksError};
pub use platform::Platform;
pub use policy::{Appraisal, AppraisalError, AppraisalPolicy, PolicyError, PolicyRef};
pub use release::{ReleasePolicy, ReleaseRefusal};
pub use relying_party::{Expectations, Refusal, VerifiedToken, verify_token};
pub use seal::{SealError, SealedSecret, WorkloadKey, release_context, seal};
pub use time::UnixTime;
pub use virtual_platform::{PlatformKey, VirtualAttester, VirtualMeasurement, VirtualVerifier};
