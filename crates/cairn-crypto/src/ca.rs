//! An organization's certificate authority: creates the root certificate
//! and issues identity certificates (through rcgen, signing with our keys).
//!
//! Subject convention (see the crate doc): `O=<org>`,
//! `organizationIdentifier=<MSP id>`, `OU=<role>` (leaves only), `CN=<name>`.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;

use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyUsagePurpose, SanType, SerialNumber,
    SignatureAlgorithm,
};

use crate::cert::Certificate;
use crate::error::{CryptoError, LoadError};
use crate::identity::{Role, read_to_string};
use crate::keys::{KeyType, PublicKey, SigningKey, random_bytes};
use crate::msp::{Msp, MspConfig};

/// OID arcs of `organizationIdentifier` (2.5.4.97).
const ORGANIZATION_IDENTIFIER_ARCS: &[u64] = &[2, 5, 4, 97];
/// OID arcs of Fabric CA's attribute extension ([`crate::ATTRS_EXTENSION_OID`]).
const ATTRS_EXTENSION_ARCS: &[u64] = &[1, 2, 3, 4, 5, 6, 7, 8, 1];

/// File name of the CA certificate in a CA directory.
pub const CA_CERT_FILE: &str = "ca.pem";
/// File name of the CA private key in a CA directory.
pub const CA_KEY_FILE: &str = "ca.key";

/// What to put in an identity certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueRequest {
    /// Subject CN, e.g. `peer0.org1.cairn` or `user1@org1.cairn`.
    pub common_name: String,
    /// NodeOU role written as `OU=<role>`. `None` issues a certificate that
    /// no MSP will accept as an identity (useful only to test that refusal).
    pub role: Option<Role>,
    /// Start of validity, unix seconds.
    pub not_before: i64,
    /// End of validity, unix seconds.
    pub not_after: i64,
    /// Fabric CA attributes written into extension 1.2.3.4.5.6.7.8.1 (omitted if empty).
    pub attrs: BTreeMap<String, String>,
    /// Subject alternative names (DNS names or IP addresses). When non-empty
    /// the certificate is also a TLS server certificate (EKU serverAuth).
    pub tls_names: Vec<String>,
}

impl IssueRequest {
    /// A request valid from one minute ago for `validity_days` days.
    pub fn new(common_name: impl Into<String>, role: Role, validity_days: u32) -> Self {
        let now = crate::unix_now();
        Self {
            common_name: common_name.into(),
            role: Some(role),
            not_before: now - 60,
            not_after: now + i64::from(validity_days) * 86_400,
            attrs: BTreeMap::new(),
            tls_names: Vec::new(),
        }
    }
}

/// An organization's root CA: its certificate and private key.
#[derive(Debug, Clone)]
pub struct CertificateAuthority {
    org: String,
    msp_id: String,
    cert: Certificate,
    key: SigningKey,
}

impl CertificateAuthority {
    /// Creates a self-signed root CA for `org` with subject
    /// `CN=ca.<org lowercase>.cairn, O=<org>, organizationIdentifier=<msp_id>`.
    pub fn new(
        org: &str,
        msp_id: &str,
        key_type: KeyType,
        not_before: i64,
        not_after: i64,
    ) -> Result<Self, CryptoError> {
        let key = SigningKey::generate(key_type)?;
        let mut params = base_params(not_before, not_after)?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::OrganizationName, org);
        dn.push(
            DnType::CustomDnType(ORGANIZATION_IDENTIFIER_ARCS.to_vec()),
            msp_id,
        );
        dn.push(
            DnType::CommonName,
            format!("ca.{}.cairn", org.to_ascii_lowercase()),
        );
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
        ];
        let signer = RcgenSigner::new(&key);
        let cert = params.self_signed(&signer).map_err(issue_error)?;
        let cert = Certificate::from_der(cert.der())?;
        Ok(Self {
            org: org.to_owned(),
            msp_id: msp_id.to_owned(),
            cert,
            key,
        })
    }

    /// Rebuilds a CA from its certificate and PKCS#8 key (PEM). The
    /// certificate must name its MSP id in `organizationIdentifier`.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Self, CryptoError> {
        let cert = Certificate::from_pem(cert_pem)?;
        let key = SigningKey::from_pkcs8_pem(key_pem)?;
        if key.public_key() != *cert.public_key() {
            return Err(CryptoError::KeyMismatch {
                subject: cert.subject().to_owned(),
            });
        }
        let msp_id = cert
            .msp_id_claim()
            .ok_or_else(|| CryptoError::MissingMspId {
                subject: cert.subject().to_owned(),
            })?
            .to_owned();
        // Checks CA flags and the self-signature.
        Msp::new(&msp_id, cert.clone(), &[] as &[&str])?;
        let org = cert.organization().unwrap_or(&msp_id).to_owned();
        Ok(Self {
            org,
            msp_id,
            cert,
            key,
        })
    }

    /// Loads `dir/ca.pem` and `dir/ca.key` (the cryptogen layout).
    pub fn load(dir: &Path) -> Result<Self, LoadError> {
        let cert_path = dir.join(CA_CERT_FILE);
        let key_path = dir.join(CA_KEY_FILE);
        let cert_pem = read_to_string(&cert_path)?;
        let key_pem = zeroize::Zeroizing::new(read_to_string(&key_path)?);
        Self::from_pem(&cert_pem, &key_pem).map_err(|source| LoadError::Crypto {
            path: cert_path,
            source,
        })
    }

    /// The organization name (subject O).
    pub fn org(&self) -> &str {
        &self.org
    }

    /// The MSP id.
    pub fn msp_id(&self) -> &str {
        &self.msp_id
    }

    /// The CA certificate.
    pub fn certificate(&self) -> &Certificate {
        &self.cert
    }

    /// The CA private key.
    pub fn key(&self) -> &SigningKey {
        &self.key
    }

    /// Channel configuration for this organization (no revocations).
    pub fn msp_config(&self) -> MspConfig {
        MspConfig {
            msp_id: self.msp_id.clone(),
            ca_pem: self.cert.to_pem(),
            revoked: Vec::new(),
        }
    }

    /// Generates a key of `key_type` and issues a certificate for it.
    pub fn issue(
        &self,
        req: &IssueRequest,
        key_type: KeyType,
    ) -> Result<(Certificate, SigningKey), CryptoError> {
        let key = SigningKey::generate(key_type)?;
        let cert = self.issue_for_key(req, &key.public_key())?;
        Ok((cert, key))
    }

    /// Issues a certificate for an existing public key.
    pub fn issue_for_key(
        &self,
        req: &IssueRequest,
        public_key: &PublicKey,
    ) -> Result<Certificate, CryptoError> {
        let mut params = base_params(req.not_before, req.not_after)?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::OrganizationName, self.org.as_str());
        dn.push(
            DnType::CustomDnType(ORGANIZATION_IDENTIFIER_ARCS.to_vec()),
            self.msp_id.as_str(),
        );
        if let Some(role) = req.role {
            dn.push(DnType::OrganizationalUnitName, role.as_str());
        }
        dn.push(DnType::CommonName, req.common_name.as_str());
        params.distinguished_name = dn;
        params.is_ca = IsCa::ExplicitNoCa;
        params.use_authority_key_identifier_extension = true;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        if !req.tls_names.is_empty() {
            params
                .extended_key_usages
                .insert(0, ExtendedKeyUsagePurpose::ServerAuth);
            params.subject_alt_names = req
                .tls_names
                .iter()
                .map(|name| match name.parse::<IpAddr>() {
                    Ok(ip) => Ok(SanType::IpAddress(ip)),
                    Err(_) => name
                        .clone()
                        .try_into()
                        .map(SanType::DnsName)
                        .map_err(issue_error),
                })
                .collect::<Result<_, _>>()?;
        }
        if !req.attrs.is_empty() {
            let doc = serde_json::json!({ "attrs": req.attrs });
            params.custom_extensions = vec![CustomExtension::from_oid_content(
                ATTRS_EXTENSION_ARCS,
                doc.to_string().into_bytes(),
            )];
        }
        let signer = RcgenSigner::new(&self.key);
        let issuer = Issuer::from_ca_cert_der(&self.cert.der().to_vec().into(), signer)
            .map_err(issue_error)?;
        let subject_key = RcgenPublic {
            bytes: public_key.to_bytes(),
            alg: algorithm_for(public_key.key_type()),
        };
        let cert = params
            .signed_by(&subject_key, &issuer)
            .map_err(issue_error)?;
        let cert = Certificate::from_der(cert.der())?;
        tracing::debug!(
            subject = cert.subject(),
            serial = cert.serial_hex(),
            "issued certificate"
        );
        Ok(cert)
    }
}

fn base_params(not_before: i64, not_after: i64) -> Result<CertificateParams, CryptoError> {
    if not_after <= not_before {
        return Err(CryptoError::Issue {
            reason: format!("not_after ({not_after}) must be later than not_before ({not_before})"),
        });
    }
    let to_time = |t: i64| {
        time::OffsetDateTime::from_unix_timestamp(t).map_err(|e| CryptoError::Issue {
            reason: format!("time {t} is out of range: {e}"),
        })
    };
    let mut params = CertificateParams::default();
    params.not_before = to_time(not_before)?;
    params.not_after = to_time(not_after)?;
    // 128-bit positive serial with the top byte non-zero, so every serial
    // is exactly 16 bytes (32 hex digits).
    let mut serial = random_bytes::<16>()?;
    serial[0] = (serial[0] & 0x7f) | 0x40;
    params.serial_number = Some(SerialNumber::from_slice(&serial));
    Ok(params)
}

fn issue_error(e: rcgen::Error) -> CryptoError {
    CryptoError::Issue {
        reason: e.to_string(),
    }
}

fn algorithm_for(key_type: KeyType) -> &'static SignatureAlgorithm {
    match key_type {
        KeyType::Ed25519 => &rcgen::PKCS_ED25519,
        KeyType::P256 => &rcgen::PKCS_ECDSA_P256_SHA256,
    }
}

/// Lets rcgen sign with our [`SigningKey`].
struct RcgenSigner<'a> {
    key: &'a SigningKey,
    public: Vec<u8>,
}

impl<'a> RcgenSigner<'a> {
    fn new(key: &'a SigningKey) -> Self {
        Self {
            key,
            public: key.public_key().to_bytes(),
        }
    }
}

impl rcgen::PublicKeyData for RcgenSigner<'_> {
    fn der_bytes(&self) -> &[u8] {
        &self.public
    }

    fn algorithm(&self) -> &'static SignatureAlgorithm {
        algorithm_for(self.key.key_type())
    }
}

impl rcgen::SigningKey for RcgenSigner<'_> {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        Ok(self.key.sign(msg))
    }
}

/// A subject public key in the form rcgen embeds.
struct RcgenPublic {
    bytes: Vec<u8>,
    alg: &'static SignatureAlgorithm,
}

impl rcgen::PublicKeyData for RcgenPublic {
    fn der_bytes(&self) -> &[u8] {
        &self.bytes
    }

    fn algorithm(&self) -> &'static SignatureAlgorithm {
        self.alg
    }
}
