//! Cairn crypto: digests, keys, signatures, X.509 identities, MSPs and cryptogen.
//!
//! This crate owns every cryptographic decision about *who signed what*:
//!
//! - [`Digest`], [`sha256`], [`Sha256Hasher`]: SHA-256.
//! - [`SigningKey`] / [`PublicKey`]: Ed25519 (default) and ECDSA P-256
//!   (Fabric's default), PKCS#8 / SPKI PEM. P-256 signatures are DER over
//!   SHA-256 and must be low-S ([`CryptoError::HighS`]), as in Fabric.
//! - [`verify_batch`]: many signatures at once, reporting each failed index.
//! - [`Certificate`], [`Identity`], [`SigningIdentity`], [`Role`]: X.509
//!   identities with Fabric NodeOU roles and Fabric CA attributes.
//! - [`Msp`], [`MspSet`], [`MspConfig`], [`revoke`]: which organization an
//!   identity belongs to and whether it is valid at a given time.
//! - [`CertificateAuthority`], [`IssueRequest`], [`generate`]: issuing, and
//!   the `cairn crypto generate` tool.
//! - [`private_file`]: the one helper every Cairn crate uses to create files
//!   that hold keys or private data (mode 0600, directories 0700) and to
//!   write key files atomically.
//!
//! Layer: bottom. It uses only external crates (RustCrypto for keys and
//! Ed25519, ring for P-256 verification, rcgen, x509-parser, rayon) and
//! `cairn-counters` (it counts signature checks and signatures), and never
//! touches the network. File access is limited
//! to loading and writing key material ([`SigningIdentity::from_dir`],
//! [`CertificateAuthority::load`], [`MspConfig::load`], [`generate`]) and to
//! [`private_file`], which the other crates call for their private files.
//!
//! # Certificate conventions
//!
//! Subjects are `O=<org>, organizationIdentifier=<MSP id>, OU=<role>, CN=<name>`,
//! shown in RFC 4514 order as
//! `CN=peer0.org1.cairn,OU=peer,organizationIdentifier=Org1MSP,O=Org1`.
//!
//! - The role is the Fabric NodeOU: exactly one OU among `admin`, `client`,
//!   `orderer`, `peer` (case-sensitive); other OUs (Fabric CA affiliations) are ignored.
//! - The MSP id is cryptogen's `<Org>MSP`, recorded in X.520
//!   `organizationIdentifier` (2.5.4.97). The authoritative MSP id of an
//!   identity is the one of the MSP whose CA validated it; if the certificate
//!   also names one, the two must agree ([`CryptoError::MspMismatch`]).
//!   Certificates without it (e.g. from Fabric CA) validate normally.
//! - Attributes: extension 1.2.3.4.5.6.7.8.1 with JSON `{"attrs":{"k":"v"}}`,
//!   exactly as Fabric CA writes it.
//! - Serials are 16 random bytes, shown as 32 lowercase hex digits.
//! - Peer and orderer certificates are TLS certificates too: SANs
//!   `<cn>`, `localhost`, `127.0.0.1`; keyUsage digitalSignature; EKU
//!   serverAuth + clientAuth. Admin and user certificates have EKU clientAuth.
//!   CAs have basicConstraints CA:true (pathlen 0) and keyCertSign.
//!
//! # Validation rules ([`Msp::validate`])
//!
//! Chain of length one (org root CA → leaf). In order: the issuer name equals
//! the CA subject byte for byte (DER) (else [`CryptoError::UnknownCa`]; [`MspSet::identify`] says
//! [`CryptoError::UnknownOrg`]), the CA signature over the TBS bytes verifies
//! (Ed25519 or ECDSA P-256, high-S accepted for certificates as Go's x509 does),
//! the CA and the leaf are both valid at the given time (inclusive bounds), the
//! serial is not revoked, the leaf is not a CA, and it has exactly one role OU.
//!
//! # Cryptogen layout ([`generate`])
//!
//! ```text
//! DIR/<org lowercase>/ca/ca.pem            org root CA certificate
//! DIR/<org lowercase>/ca/ca.key            its PKCS#8 key (mode 0600)
//! DIR/<org lowercase>/msp.json             MspConfig {msp_id "<Org>MSP", ca_pem, revoked []}
//! DIR/<org lowercase>/admins/admin/        cert.pem + key.pem, CN admin@<org>.cairn, OU=admin
//! DIR/<org lowercase>/peers/peerN/         cert.pem + key.pem, CN peerN.<org>.cairn, OU=peer
//! DIR/<org lowercase>/orderers/ordererN/   cert.pem + key.pem, CN ordererN.<org>.cairn, OU=orderer
//! DIR/<org lowercase>/users/userN/         cert.pem + key.pem, CN userN@<org>.cairn, OU=client
//! ```
//!
//! Private keys are written with [`private_file::write_atomic`] (mode 0600,
//! temporary file, fsync, rename), and the `ca/` and identity directories
//! that hold them are created 0700. An existing non-empty DIR is refused
//! unless `force` is set.
//!
//! # Invariants
//!
//! - We only emit low-S ECDSA signatures and only accept low-S ones on messages.
//! - [`verify_batch`] chunks its input in fixed chunks of [`BATCH_CHUNK`]
//!   regardless of thread count, so its verdicts are reproducible on every node.
//! - Secrets never appear in `Debug` output or logs.
//! - Every file holding a private key, here or in another crate, is created
//!   through [`private_file`], so it is mode 0600 from its first byte.
//! - A [`Digest`] has one text form, 64 lowercase hex digits; parsing and serde
//!   refuse every other spelling (uppercase, other lengths), so the ledger's
//!   canonical encoding, which writes digests as that text, has one form per digest.

#![forbid(unsafe_code)]

mod batch;
mod ca;
mod cert;
mod cryptogen;
mod digest;
mod error;
mod identity;
mod keys;
mod msp;
pub mod private_file;

pub use batch::{BATCH_CHUNK, verify_batch};
pub use ca::{CA_CERT_FILE, CA_KEY_FILE, CertificateAuthority, IssueRequest};
pub use cert::{ATTRS_EXTENSION_OID, Certificate, ORGANIZATION_IDENTIFIER_OID, normalize_serial};
pub use cryptogen::{
    GenerateOptions, GeneratedIdentity, GeneratedOrg, MSP_CONFIG_FILE, generate, msp_id_for,
};
pub use digest::{Digest, ParseDigestError, Sha256Hasher, sha256};
pub use error::{BatchError, CryptoError, CryptogenError, LoadError, PrivateFileError};
pub use identity::{Identity, ParseRoleError, Role, SigningIdentity};
pub use keys::{KeyType, PublicKey, SigningKey};
pub use msp::{Msp, MspConfig, MspSet, revoke};

/// The current time in unix seconds (0 if the clock is before 1970).
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Formats unix seconds as RFC 3339 UTC (e.g. `2025-06-19T00:00:00Z`), or
/// the bare number if it is out of range.
pub fn format_unix_time(secs: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| secs.to_string())
}
