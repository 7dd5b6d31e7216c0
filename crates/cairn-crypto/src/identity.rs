//! Identities: a certificate with an MSP id and a role, and the signing
//! identity a node or client holds (certificate + private key).

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::str::FromStr;

use crate::cert::Certificate;
use crate::error::{CryptoError, LoadError};
use crate::keys::{PublicKey, SigningKey};

/// A Fabric NodeOU role, carried as `OU=<role>` in the certificate subject.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Administers the organization (`OU=admin`).
    Admin,
    /// An application user (`OU=client`).
    Client,
    /// An ordering node (`OU=orderer`).
    Orderer,
    /// A peer node (`OU=peer`).
    Peer,
}

impl Role {
    /// All roles, in declaration order.
    pub const ALL: [Role; 4] = [Role::Admin, Role::Client, Role::Orderer, Role::Peer];

    /// The OU string: `admin`, `client`, `orderer` or `peer`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Client => "client",
            Self::Orderer => "orderer",
            Self::Peer => "peer",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a string is not a [`Role`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?}: expected admin, client, orderer or peer")]
pub struct ParseRoleError(pub String);

impl FromStr for Role {
    type Err = ParseRoleError;

    /// Exact, case-sensitive match, as Fabric compares NodeOU identifiers.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| ParseRoleError(s.to_owned()))
    }
}

/// A certificate bound to an MSP id and a role. Cheap to clone.
///
/// Obtain one from [`Msp::validate`](crate::Msp::validate) or
/// [`MspSet::identify`](crate::MspSet::identify), which check the issuer,
/// validity and revocation. [`Identity::parse_unvalidated`] only reads a
/// certificate that names its own MSP id and is meant for one's own
/// identity loaded from disk, never for deciding whom to trust.
#[derive(Clone, PartialEq, Eq)]
pub struct Identity {
    cert: Certificate,
    msp_id: String,
    role: Role,
}

impl Identity {
    pub(crate) fn new(cert: Certificate, msp_id: String, role: Role) -> Self {
        Self { cert, msp_id, role }
    }

    /// Reads an identity from a DER certificate WITHOUT checking its issuer,
    /// validity or revocation. The MSP id comes from the subject's
    /// `organizationIdentifier`, the role from its OU.
    pub fn parse_unvalidated(der: &[u8]) -> Result<Self, CryptoError> {
        Self::from_certificate_unvalidated(Certificate::from_der(der)?)
    }

    /// As [`parse_unvalidated`](Self::parse_unvalidated), from an already parsed certificate.
    pub fn from_certificate_unvalidated(cert: Certificate) -> Result<Self, CryptoError> {
        let role = cert.role()?;
        let msp_id = cert
            .msp_id_claim()
            .ok_or_else(|| CryptoError::MissingMspId {
                subject: cert.subject().to_owned(),
            })?
            .to_owned();
        Ok(Self { cert, msp_id, role })
    }

    /// The MSP (organization) id, e.g. `Org1MSP`.
    pub fn msp_id(&self) -> &str {
        &self.msp_id
    }

    /// The NodeOU role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Subject DN, RFC 4514 form.
    pub fn subject(&self) -> &str {
        self.cert.subject()
    }

    /// Issuer DN, RFC 4514 form.
    pub fn issuer(&self) -> &str {
        self.cert.issuer()
    }

    /// Fabric's client id form `x509::<subject>::<issuer>` (not base64-encoded).
    pub fn fabric_id(&self) -> String {
        format!("x509::{}::{}", self.subject(), self.issuer())
    }

    /// The subject CN, if any.
    pub fn common_name(&self) -> Option<&str> {
        self.cert.common_name()
    }

    /// Serial number, lowercase hex.
    pub fn serial_hex(&self) -> &str {
        self.cert.serial_hex()
    }

    /// Start of validity, unix seconds.
    pub fn not_before(&self) -> i64 {
        self.cert.not_before()
    }

    /// End of validity, unix seconds.
    pub fn not_after(&self) -> i64 {
        self.cert.not_after()
    }

    /// The identity's public key.
    pub fn public_key(&self) -> &PublicKey {
        self.cert.public_key()
    }

    /// The certificate DER.
    pub fn der(&self) -> &[u8] {
        self.cert.der()
    }

    /// The parsed certificate.
    pub fn certificate(&self) -> &Certificate {
        &self.cert
    }

    /// Fabric CA attributes (what contracts read with `getAttributeValue`).
    pub fn attrs(&self) -> &BTreeMap<String, String> {
        self.cert.attrs()
    }

    /// One attribute's value.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.cert.attrs().get(name).map(String::as_str)
    }

    /// Checks a signature by this identity over `msg`.
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> Result<(), CryptoError> {
        self.public_key().verify(msg, sig)
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("msp_id", &self.msp_id)
            .field("role", &self.role)
            .field("subject", &self.subject())
            .field("serial", &self.serial_hex())
            .finish()
    }
}

/// An identity together with its private key.
#[derive(Clone)]
pub struct SigningIdentity {
    identity: Identity,
    key: SigningKey,
}

impl SigningIdentity {
    /// File name of the certificate in an identity directory.
    pub const CERT_FILE: &'static str = "cert.pem";
    /// File name of the private key in an identity directory.
    pub const KEY_FILE: &'static str = "key.pem";

    /// Pairs an identity with its key; fails if the key is not the certificate's.
    pub fn new(identity: Identity, key: SigningKey) -> Result<Self, CryptoError> {
        if key.public_key() != *identity.public_key() {
            return Err(CryptoError::KeyMismatch {
                subject: identity.subject().to_owned(),
            });
        }
        Ok(Self { identity, key })
    }

    /// Loads `dir/cert.pem` and `dir/key.pem` (the cryptogen layout).
    ///
    /// The certificate must name its MSP id (see [`Identity::parse_unvalidated`]);
    /// the peer it is presented to still validates it against the channel's MSPs.
    pub fn from_dir(dir: &Path) -> Result<Self, LoadError> {
        let cert_path = dir.join(Self::CERT_FILE);
        let key_path = dir.join(Self::KEY_FILE);
        let cert_pem = read_to_string(&cert_path)?;
        let key_pem = zeroize::Zeroizing::new(read_to_string(&key_path)?);
        let identity = Certificate::from_pem(&cert_pem)
            .and_then(Identity::from_certificate_unvalidated)
            .map_err(|source| LoadError::Crypto {
                path: cert_path.clone(),
                source,
            })?;
        let key = SigningKey::from_pkcs8_pem(&key_pem).map_err(|source| LoadError::Crypto {
            path: key_path,
            source,
        })?;
        Self::new(identity, key).map_err(|source| LoadError::Crypto {
            path: cert_path,
            source,
        })
    }

    /// The public half.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// The private key.
    pub fn key(&self) -> &SigningKey {
        &self.key
    }

    /// The MSP id.
    pub fn msp_id(&self) -> &str {
        self.identity.msp_id()
    }

    /// Signs `msg` with the identity's key.
    pub fn sign(&self, msg: &[u8]) -> Vec<u8> {
        self.key.sign(msg)
    }
}

impl fmt::Debug for SigningIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningIdentity")
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

pub(crate) fn read_to_string(path: &Path) -> Result<String, LoadError> {
    std::fs::read_to_string(path).map_err(|source| LoadError::Io {
        path: path.to_owned(),
        source,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::*;

    #[test]
    fn roles_parse_exactly() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>().unwrap(), r);
        }
        assert!("Admin".parse::<Role>().is_err());
        assert!("member".parse::<Role>().is_err());
    }
}
