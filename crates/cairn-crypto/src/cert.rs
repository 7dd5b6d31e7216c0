//! Parsed X.509 certificates: the facts Cairn needs, checked for structure
//! but not for trust (see [`Msp`](crate::Msp) for that).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;
use x509_parser::x509::X509Name;

use crate::error::CryptoError;
use crate::identity::Role;
use crate::keys::{PublicKey, decode_pem, encode_pem};

/// OID of Fabric CA's attribute extension: its value is JSON `{"attrs":{...}}`.
pub const ATTRS_EXTENSION_OID: &str = "1.2.3.4.5.6.7.8.1";
/// OID of X.520 `organizationIdentifier`, where Cairn records the MSP id.
pub const ORGANIZATION_IDENTIFIER_OID: &str = "2.5.4.97";

/// Extensions we understand; any other extension marked critical is refused
/// (RFC 5280 §4.2: a relying party must reject unknown critical extensions).
const KNOWN_EXTENSIONS: &[&str] = &[
    "2.5.29.14", // subjectKeyIdentifier
    "2.5.29.15", // keyUsage
    "2.5.29.17", // subjectAltName
    "2.5.29.19", // basicConstraints
    "2.5.29.35", // authorityKeyIdentifier
    "2.5.29.37", // extendedKeyUsage
    ATTRS_EXTENSION_OID,
];

const PEM_CERTIFICATE: &str = "CERTIFICATE";

/// A parsed X.509 v3 certificate with an Ed25519 or P-256 key. Cheap to clone.
///
/// Parsing checks structure only: DER with no trailing bytes, version 3,
/// matching inner/outer signature algorithms, no unknown critical extension,
/// a supported public key, a well-formed attribute extension. It says
/// nothing about who issued the certificate.
#[derive(Clone)]
pub struct Certificate(Arc<CertInner>);

struct CertInner {
    der: Vec<u8>,
    tbs: Vec<u8>,
    signature_algorithm: String,
    signature: Vec<u8>,
    subject: String,
    issuer: String,
    subject_raw: Vec<u8>,
    issuer_raw: Vec<u8>,
    serial_hex: String,
    not_before: i64,
    not_after: i64,
    public_key: PublicKey,
    common_name: Option<String>,
    organization: Option<String>,
    organizational_units: Vec<String>,
    msp_id_claim: Option<String>,
    attrs: BTreeMap<String, String>,
    is_ca: bool,
    key_cert_sign: Option<bool>,
}

impl Certificate {
    /// Parses a DER certificate.
    pub fn from_der(der: &[u8]) -> Result<Self, CryptoError> {
        let (rest, x509) = X509Certificate::from_der(der).map_err(|e| malformed(e.to_string()))?;
        if !rest.is_empty() {
            return Err(malformed(format!(
                "{} trailing bytes after the certificate",
                rest.len()
            )));
        }
        let tbs = &x509.tbs_certificate;
        if tbs.version.0 != 2 {
            return Err(malformed(format!(
                "version {} (only X.509 v3 is accepted)",
                tbs.version.0 + 1
            )));
        }
        if x509.signature_algorithm != tbs.signature {
            return Err(malformed(
                "outer and inner signature algorithms differ".into(),
            ));
        }
        for ext in tbs.extensions() {
            let oid = ext.oid.to_id_string();
            if ext.critical && !KNOWN_EXTENSIONS.contains(&oid.as_str()) {
                return Err(malformed(format!("unhandled critical extension {oid}")));
            }
        }
        let public_key = public_key_of(&x509)?;
        let basic = x509
            .basic_constraints()
            .map_err(|e| malformed(e.to_string()))?;
        let key_usage = x509.key_usage().map_err(|e| malformed(e.to_string()))?;
        let subject = tbs.subject();
        let organizational_units = strings_of(subject, "2.5.4.11");
        let inner = CertInner {
            der: der.to_vec(),
            tbs: tbs.as_ref().to_vec(),
            signature_algorithm: x509.signature_algorithm.algorithm.to_id_string(),
            signature: x509.signature_value.data.to_vec(),
            subject: format_name(subject),
            issuer: format_name(tbs.issuer()),
            subject_raw: subject.as_raw().to_vec(),
            issuer_raw: tbs.issuer().as_raw().to_vec(),
            serial_hex: serial_to_hex(x509.raw_serial()),
            not_before: tbs.validity().not_before.timestamp(),
            not_after: tbs.validity().not_after.timestamp(),
            public_key,
            common_name: strings_of(subject, "2.5.4.3").into_iter().next(),
            organization: strings_of(subject, "2.5.4.10").into_iter().next(),
            organizational_units,
            msp_id_claim: strings_of(subject, ORGANIZATION_IDENTIFIER_OID)
                .into_iter()
                .next(),
            attrs: attrs_of(&x509)?,
            is_ca: basic.is_some_and(|b| b.value.ca),
            key_cert_sign: key_usage.map(|k| k.value.key_cert_sign()),
        };
        Ok(Self(Arc::new(inner)))
    }

    /// Parses the first `CERTIFICATE` block of PEM text.
    pub fn from_pem(pem_text: &str) -> Result<Self, CryptoError> {
        Self::from_der(&decode_pem(pem_text, PEM_CERTIFICATE)?)
    }

    /// The certificate as PEM text.
    pub fn to_pem(&self) -> String {
        encode_pem(PEM_CERTIFICATE, &self.0.der)
    }

    /// The DER encoding.
    pub fn der(&self) -> &[u8] {
        &self.0.der
    }

    /// Subject DN, RFC 4514 string (most specific RDN first), e.g.
    /// `CN=peer0.org1.cairn,OU=peer,O=Org1,organizationIdentifier=Org1MSP`.
    pub fn subject(&self) -> &str {
        &self.0.subject
    }

    /// Issuer DN in the same form as [`subject`](Self::subject).
    pub fn issuer(&self) -> &str {
        &self.0.issuer
    }

    /// DER of the subject name, for exact issuer matching.
    pub fn subject_der(&self) -> &[u8] {
        &self.0.subject_raw
    }

    /// DER of the issuer name.
    pub fn issuer_der(&self) -> &[u8] {
        &self.0.issuer_raw
    }

    /// Serial number as lowercase hex without leading zero bytes.
    pub fn serial_hex(&self) -> &str {
        &self.0.serial_hex
    }

    /// Start of validity, unix seconds.
    pub fn not_before(&self) -> i64 {
        self.0.not_before
    }

    /// End of validity (inclusive), unix seconds.
    pub fn not_after(&self) -> i64 {
        self.0.not_after
    }

    /// The subject's public key.
    pub fn public_key(&self) -> &PublicKey {
        &self.0.public_key
    }

    /// The subject CN, if any.
    pub fn common_name(&self) -> Option<&str> {
        self.0.common_name.as_deref()
    }

    /// The subject O (organization name), if any.
    pub fn organization(&self) -> Option<&str> {
        self.0.organization.as_deref()
    }

    /// All subject OUs, in certificate order.
    pub fn organizational_units(&self) -> &[String] {
        &self.0.organizational_units
    }

    /// The MSP id the certificate names in its `organizationIdentifier`, if any.
    pub fn msp_id_claim(&self) -> Option<&str> {
        self.0.msp_id_claim.as_deref()
    }

    /// Fabric CA attributes from extension 1.2.3.4.5.6.7.8.1 (empty if absent).
    pub fn attrs(&self) -> &BTreeMap<String, String> {
        &self.0.attrs
    }

    /// Whether basicConstraints says CA:true.
    pub fn is_ca(&self) -> bool {
        self.0.is_ca
    }

    /// The role named by the subject's OUs (Fabric NodeOUs).
    ///
    /// Exactly one OU must be a role; other OUs (Fabric CA adds affiliation
    /// OUs such as `org1`, `department1`) are ignored.
    pub fn role(&self) -> Result<Role, CryptoError> {
        let mut roles: Vec<Role> = self
            .0
            .organizational_units
            .iter()
            .filter_map(|ou| ou.parse().ok())
            .collect();
        roles.sort();
        // The same role twice is redundant, not ambiguous.
        roles.dedup();
        match roles.as_slice() {
            [role] => Ok(*role),
            [] => Err(CryptoError::MissingRole {
                subject: self.0.subject.clone(),
                ous: self.0.organizational_units.join(", "),
            }),
            many => Err(CryptoError::AmbiguousRole {
                subject: self.0.subject.clone(),
                roles: many
                    .iter()
                    .map(|r| r.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }

    /// Checks that `issuer_key` signed this certificate.
    pub fn verify_signed_by(&self, issuer_key: &PublicKey) -> Result<(), CryptoError> {
        issuer_key
            .verify_certificate_signature(
                &self.0.signature_algorithm,
                &self.0.tbs,
                &self.0.signature,
            )
            .map_err(|e| match e {
                CryptoError::BadSignature
                | CryptoError::MalformedSignature { .. }
                | CryptoError::HighS => CryptoError::BadCertSignature {
                    subject: self.0.subject.clone(),
                },
                other => other,
            })
    }

    /// Whether keyUsage allows certificate signing (`None` if keyUsage is absent).
    pub(crate) fn key_cert_sign(&self) -> Option<bool> {
        self.0.key_cert_sign
    }
}

impl PartialEq for Certificate {
    fn eq(&self, other: &Self) -> bool {
        self.0.der == other.0.der
    }
}

impl Eq for Certificate {}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificate")
            .field("subject", &self.0.subject)
            .field("issuer", &self.0.issuer)
            .field("serial", &self.0.serial_hex)
            .finish_non_exhaustive()
    }
}

fn malformed(reason: String) -> CryptoError {
    CryptoError::Malformed { reason }
}

fn public_key_of(x509: &X509Certificate<'_>) -> Result<PublicKey, CryptoError> {
    let spki = x509.public_key();
    PublicKey::from_spki_der(spki.raw).map_err(|_| CryptoError::UnsupportedAlgorithm {
        oid: spki.algorithm.algorithm.to_id_string(),
    })
}

/// String values of every attribute of type `oid` in `name`, in order.
fn strings_of(name: &X509Name<'_>, oid: &str) -> Vec<String> {
    name.iter_attributes()
        .filter(|a| a.attr_type().to_id_string() == oid)
        .filter_map(|a| a.as_str().ok().map(str::to_owned))
        .collect()
}

fn attrs_of(x509: &X509Certificate<'_>) -> Result<BTreeMap<String, String>, CryptoError> {
    #[derive(serde::Deserialize)]
    struct AttrsDoc {
        #[serde(default)]
        attrs: BTreeMap<String, serde_json::Value>,
    }
    let Some(ext) = x509
        .extensions()
        .iter()
        .find(|e| e.oid.to_id_string() == ATTRS_EXTENSION_OID)
    else {
        return Ok(BTreeMap::new());
    };
    let doc: AttrsDoc = serde_json::from_slice(ext.value).map_err(|e| {
        malformed(format!(
            "attribute extension is not {{\"attrs\":{{...}}}} JSON: {e}"
        ))
    })?;
    // Fabric CA writes string values; keep other JSON values in their JSON form.
    Ok(doc
        .attrs
        .into_iter()
        .map(|(k, v)| match v {
            serde_json::Value::String(s) => (k, s),
            other => (k, other.to_string()),
        })
        .collect())
}

/// Lowercase hex of a DER INTEGER's content without leading zero bytes.
fn serial_to_hex(raw: &[u8]) -> String {
    let start = raw.iter().position(|b| *b != 0).unwrap_or(raw.len());
    let hex = hex::encode(&raw[start..]);
    if hex.is_empty() { "0".into() } else { hex }
}

/// Normalizes a serial given by a person or a config: strips colons, spaces
/// and leading zeros, lowercases. Errors if anything else is not hex.
pub fn normalize_serial(serial: &str) -> Result<String, CryptoError> {
    let cleaned: String = serial
        .chars()
        .filter(|c| *c != ':' && !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase();
    let cleaned = cleaned.strip_prefix("0x").unwrap_or(&cleaned);
    if cleaned.is_empty() || !cleaned.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(CryptoError::InvalidSerial {
            serial: serial.to_owned(),
        });
    }
    let trimmed = cleaned.trim_start_matches('0');
    // Whole bytes, as serial_hex() reports them.
    let padded = if trimmed.len() % 2 == 1 {
        format!("0{trimmed}")
    } else {
        trimmed.to_owned()
    };
    Ok(if padded.is_empty() {
        "0".into()
    } else {
        padded
    })
}

/// RFC 4514 string of a name: RDNs last-to-first, joined by `,`; multi-valued
/// RDNs joined by `+`. Values that are not strings appear as `#` + hex of
/// their content bytes.
fn format_name(name: &X509Name<'_>) -> String {
    let rdns: Vec<String> = name
        .iter_rdn()
        .map(|rdn| {
            rdn.iter()
                .map(|atv| {
                    let oid = atv.attr_type().to_id_string();
                    let key = short_name(&oid).map_or(oid.clone(), str::to_owned);
                    let value = match atv.as_str() {
                        Ok(s) => escape_value(s),
                        Err(_) => format!("#{}", hex::encode(atv.as_slice())),
                    };
                    format!("{key}={value}")
                })
                .collect::<Vec<_>>()
                .join("+")
        })
        .collect();
    rdns.into_iter().rev().collect::<Vec<_>>().join(",")
}

fn short_name(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "2.5.4.3" => "CN",
        "2.5.4.5" => "SERIALNUMBER",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.9" => "STREET",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.17" => "POSTALCODE",
        ORGANIZATION_IDENTIFIER_OID => "organizationIdentifier",
        "0.9.2342.19200300.100.1.1" => "UID",
        "0.9.2342.19200300.100.1.25" => "DC",
        "1.2.840.113549.1.9.1" => "emailAddress",
        _ => return None,
    })
}

fn escape_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let last = s.chars().count().saturating_sub(1);
    for (i, c) in s.chars().enumerate() {
        match c {
            ',' | '+' | '"' | '\\' | '<' | '>' | ';' | '=' => {
                out.push('\\');
                out.push(c);
            }
            '#' if i == 0 => out.push_str("\\#"),
            ' ' if i == 0 || i == last => out.push_str("\\ "),
            '\0' => out.push_str("\\00"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::*;

    #[test]
    fn serials_normalize_to_whole_bytes() {
        assert_eq!(normalize_serial("0A:bc:01").unwrap(), "0abc01");
        assert_eq!(normalize_serial("0x00ff").unwrap(), "ff");
        assert_eq!(normalize_serial("abc").unwrap(), "0abc");
        assert_eq!(normalize_serial("000").unwrap(), "0");
        assert!(normalize_serial("xyz").is_err());
        assert!(normalize_serial("").is_err());
        assert_eq!(serial_to_hex(&[0, 0x0a, 0xbc]), "0abc");
        assert_eq!(serial_to_hex(&[0]), "0");
    }

    #[test]
    fn dn_values_are_escaped() {
        assert_eq!(escape_value("a,b+c"), "a\\,b\\+c");
        assert_eq!(escape_value("#x "), "\\#x\\ ");
        assert_eq!(escape_value("plain.org1"), "plain.org1");
    }
}
