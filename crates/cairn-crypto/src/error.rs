//! Error types, one per kind of operation.
//!
//! [`CryptoError`] covers everything that is pure computation over bytes
//! (parsing, signature checks, MSP validation) and is `Clone + Eq` so that a
//! validator can store it per transaction. File access has its own
//! [`LoadError`], batch verification its [`BatchError`], and the cryptogen
//! tool its [`CryptogenError`].

use std::path::PathBuf;

/// Why a key, signature, certificate or identity was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// The certificate carries more than one Fabric NodeOU role.
    #[error(
        "certificate {subject} carries several role OUs ({roles}); an identity has exactly one"
    )]
    AmbiguousRole {
        /// Subject of the certificate.
        subject: String,
        /// The role OUs found, comma-separated.
        roles: String,
    },
    /// The certificate's signature does not verify under the CA's public key.
    #[error("certificate {subject} is not signed by the CA it names (bad certificate signature)")]
    BadCertSignature {
        /// Subject of the certificate.
        subject: String,
    },
    /// A message signature did not verify under the given public key.
    #[error("signature does not verify under the public key")]
    BadSignature,
    /// A CA certificate was presented where an end-entity identity was expected.
    #[error("certificate {subject} is a CA certificate and cannot act as an identity")]
    CaAsIdentity {
        /// Subject of the certificate.
        subject: String,
    },
    /// Two MSPs in one set share an MSP id or a CA subject.
    #[error("duplicate MSP in set: {what}")]
    DuplicateMsp {
        /// Which MSP id or CA subject was repeated.
        what: String,
    },
    /// The certificate's validity window ended before the time of the check.
    #[error("certificate {subject} expired at {not_after} (unix seconds)")]
    Expired {
        /// Subject of the certificate.
        subject: String,
        /// End of its validity, unix seconds.
        not_after: i64,
    },
    /// An ECDSA signature with a high S value (Fabric requires low-S).
    #[error(
        "ECDSA signature has a high S value; Cairn, like Fabric, accepts only low-S (normalized) \
         signatures, so re-sign with a signer that normalizes S"
    )]
    HighS,
    /// The CA certificate in an MSP configuration cannot act as a CA.
    #[error("invalid CA certificate for MSP {msp_id}: {reason}")]
    InvalidCa {
        /// The MSP whose CA was refused.
        msp_id: String,
        /// What was wrong with it.
        reason: String,
    },
    /// A certificate serial number string is not hexadecimal.
    #[error("invalid certificate serial {serial:?}: expected hexadecimal digits (colons allowed)")]
    InvalidSerial {
        /// The serial as given.
        serial: String,
    },
    /// Certificate issuance failed.
    #[error("could not issue certificate: {reason}")]
    Issue {
        /// What went wrong.
        reason: String,
    },
    /// A private or public key could not be decoded or encoded.
    #[error("invalid key: {reason}")]
    Key {
        /// What was wrong with it.
        reason: String,
    },
    /// The private key does not belong to the certificate.
    #[error("private key does not match the public key in certificate {subject}")]
    KeyMismatch {
        /// Subject of the certificate.
        subject: String,
    },
    /// A certificate could not be parsed or breaks a structural rule.
    #[error("malformed certificate: {reason}")]
    Malformed {
        /// What was wrong with it.
        reason: String,
    },
    /// A signature's encoding is wrong (length, DER structure).
    #[error("malformed signature: {reason}")]
    MalformedSignature {
        /// What was wrong with it.
        reason: String,
    },
    /// The certificate names no MSP id (no organizationIdentifier in its subject).
    #[error(
        "certificate {subject} does not name its MSP id (no organizationIdentifier attribute); \
         validate it through its organization's MSP instead"
    )]
    MissingMspId {
        /// Subject of the certificate.
        subject: String,
    },
    /// The certificate has no OU naming a known role.
    #[error(
        "certificate {subject} has no role OU (expected one of OU=admin, client, orderer, peer; \
         found OUs: [{ous}])"
    )]
    MissingRole {
        /// Subject of the certificate.
        subject: String,
        /// The OUs that were found, comma-separated.
        ous: String,
    },
    /// The certificate claims a different MSP id than the MSP that validated it.
    #[error("certificate claims MSP id {claimed} but was issued by the CA of {expected}")]
    MspMismatch {
        /// The MSP id in the certificate.
        claimed: String,
        /// The MSP id of the validating CA.
        expected: String,
    },
    /// The certificate's validity window starts after the time of the check.
    #[error("certificate {subject} is not valid before {not_before} (unix seconds)")]
    NotYetValid {
        /// Subject of the certificate.
        subject: String,
        /// Start of its validity, unix seconds.
        not_before: i64,
    },
    /// PEM text could not be decoded, or held the wrong kind of object.
    #[error("invalid PEM: {reason}")]
    Pem {
        /// What was wrong with it.
        reason: String,
    },
    /// The certificate's serial number is on the MSP's revocation list.
    #[error("certificate with serial {serial} has been revoked by its organization")]
    Revoked {
        /// The serial, lowercase hex.
        serial: String,
    },
    /// The operating system's random number generator failed.
    #[error("the system random number generator failed: {reason}")]
    Rng {
        /// The reported failure.
        reason: String,
    },
    /// The certificate was issued by a CA other than this MSP's.
    #[error("certificate issuer {issuer} is not the CA of MSP {msp_id}")]
    UnknownCa {
        /// Issuer DN of the certificate.
        issuer: String,
        /// The MSP that was asked.
        msp_id: String,
    },
    /// No MSP in the set has a CA matching the certificate's issuer.
    #[error("no organization in this channel has the CA {issuer} that issued the certificate")]
    UnknownOrg {
        /// Issuer DN of the certificate.
        issuer: String,
    },
    /// A key or signature algorithm Cairn does not support (only Ed25519 and ECDSA P-256).
    #[error("unsupported algorithm {oid}: Cairn supports Ed25519 and ECDSA P-256 with SHA-256")]
    UnsupportedAlgorithm {
        /// The algorithm's OID or name.
        oid: String,
    },
}

/// Failure of [`verify_batch`](crate::verify_batch): which items failed and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} signature(s) in the batch failed, at indices {:?}", failures.len(), self.indices())]
pub struct BatchError {
    /// `(index in the batch, reason)` for each failed item, in increasing index order.
    pub failures: Vec<(usize, CryptoError)>,
}

impl BatchError {
    /// Indices of the failed items, in increasing order.
    pub fn indices(&self) -> Vec<usize> {
        self.failures.iter().map(|(i, _)| *i).collect()
    }
}

/// Reading or writing crypto material on disk failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The file holds bad crypto material.
    #[error("{}: {source}", path.display())]
    Crypto {
        /// The file.
        path: PathBuf,
        /// What was wrong with its contents.
        source: CryptoError,
    },
    /// The file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O failure.
        source: std::io::Error,
    },
    /// The file is not the JSON document expected.
    #[error("{}: invalid JSON: {source}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// The decoding failure.
        source: serde_json::Error,
    },
}

/// Creating, writing or narrowing a file that holds keys or private data
/// failed (see [`crate::private_file`]).
#[derive(Debug, thiserror::Error)]
#[error("{action} {}: {source}", path.display())]
pub struct PrivateFileError {
    /// The file or directory.
    pub path: PathBuf,
    /// What was being done, e.g. `creating`, `syncing`, `replacing`.
    pub action: &'static str,
    /// The operating system's error.
    #[source]
    pub source: std::io::Error,
}

impl From<PrivateFileError> for std::io::Error {
    /// Keeps the error kind, so callers that match on it still can.
    fn from(e: PrivateFileError) -> Self {
        std::io::Error::new(e.source.kind(), e)
    }
}

/// The cryptogen tool could not generate the requested material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CryptogenError {
    /// Certificate or key generation failed.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    /// The same organization was named twice (names compare case-insensitively).
    #[error("organization {name:?} is listed twice (names are compared case-insensitively)")]
    DuplicateOrg {
        /// The repeated name.
        name: String,
    },
    /// An organization name is unusable as a directory and DN component.
    #[error("invalid organization name {name:?}: {reason}")]
    InvalidOrgName {
        /// The name as given.
        name: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// Generation options are out of range.
    #[error("invalid options: {reason}")]
    InvalidOptions {
        /// Which option and why.
        reason: String,
    },
    /// Writing a file or directory failed.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// Writing a private key or creating its directory failed.
    #[error(transparent)]
    PrivateFile(#[from] PrivateFileError),
    /// No organizations were given.
    #[error("no organizations given; pass at least one, e.g. --orgs Org1,Org2")]
    NoOrgs,
    /// The output directory exists and is not empty.
    #[error(
        "output directory {} already exists and is not empty; pass --force to overwrite the \
         organizations' directories in it",
        dir.display()
    )]
    OutputNotEmpty {
        /// The directory.
        dir: PathBuf,
    },
}
