//! A test AMD-style PKI, generated when a test first asks for it: an ARK (RSA,
//! self-signed), an ASK signed by it and a VCEK signed by the ASK (holding the P-384
//! key of a real VCEK from testdata), all RSASSA-PSS SHA-384 with a 48-byte salt as
//! AMD signs, and CRLs signed by the ARK (or by another key, to test refusal).
//!
//! Shared by the unit tests in `src/snp/tests.rs` (which can swap AMD's pinned roots
//! for this ARK) and the end-to-end tests (which cannot, and use it to forge CRLs).

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
#![allow(dead_code, reason = "each test binary uses a different subset")]

use std::str::FromStr;
use std::sync::OnceLock;
use std::time::Duration;

use base64::Engine;
use rand_core::OsRng;
use rsa::RsaPrivateKey;
use rsa::pkcs8::EncodePublicKey;
use rsa::pss::SigningKey;
use rsa::signature::{RandomizedSigner, SignatureEncoding};
use sha2_v010::Sha384;
use x509_cert::crl::{CertificateList, RevokedCert, TbsCertList};
use x509_cert::der::asn1::{BitString, ObjectIdentifier, OctetString, UtcTime};
use x509_cert::der::{Decode, Encode};
use x509_cert::ext::Extension;
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::{DynSignatureAlgorithmIdentifier, SubjectPublicKeyInfoOwned};
use x509_cert::time::{Time, Validity};
use x509_cert::{Certificate, TbsCertificate, Version};

pub const ARK_NAME: &str = "CN=ARK-Test,OU=Engineering,O=Cairn test PKI";
pub const ASK_NAME: &str = "CN=SEV-Test,OU=Engineering,O=Cairn test PKI";
pub const VCEK_NAME: &str = "CN=SEV-VCEK,OU=Engineering,O=Cairn test PKI";
pub const ARK_SERIAL: u32 = 0x0001_0000;
pub const ASK_SERIAL: u32 = 0x0001_0001;
/// 2025-01-01T00:00:00Z: inside every certificate's validity and the default CRL's.
pub const AT: u64 = 1_735_689_600;
const DAY: u64 = 86_400;

pub struct TestPki {
    pub ark_key: RsaPrivateKey,
    /// Another key, for CRLs that claim the ARK's name but are not signed by it.
    pub rogue_key: RsaPrivateKey,
    pub ark: Certificate,
    pub ask: Certificate,
    pub vcek: Certificate,
}

pub fn time(unix: u64) -> Time {
    Time::UtcTime(UtcTime::from_unix_duration(Duration::from_secs(unix)).unwrap())
}

fn spki_of(key: &RsaPrivateKey) -> SubjectPublicKeyInfoOwned {
    let der = key.to_public_key().to_public_key_der().unwrap();
    SubjectPublicKeyInfoOwned::from_der(der.as_bytes()).unwrap()
}

/// Signs `tbs` (DER) the way AMD does; returns the algorithm and the signature.
fn sign(
    key: &RsaPrivateKey,
    tbs: impl FnOnce(&x509_cert::spki::AlgorithmIdentifierOwned) -> Vec<u8>,
) -> (x509_cert::spki::AlgorithmIdentifierOwned, BitString) {
    let signer = SigningKey::<Sha384>::new(key.clone());
    let alg = signer.signature_algorithm_identifier().unwrap();
    let signature = signer.sign_with_rng(&mut OsRng, &tbs(&alg));
    (alg, BitString::from_bytes(&signature.to_bytes()).unwrap())
}

fn issue(
    serial: u32,
    subject: &str,
    issuer: &str,
    spki: SubjectPublicKeyInfoOwned,
    signer: &RsaPrivateKey,
    (from, to): (u64, u64),
) -> Certificate {
    let mut tbs = TbsCertificate {
        version: Version::V3,
        serial_number: SerialNumber::from(serial),
        signature: x509_cert::spki::AlgorithmIdentifierOwned {
            oid: ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10"),
            parameters: None,
        },
        issuer: Name::from_str(issuer).unwrap(),
        validity: Validity {
            not_before: time(from),
            not_after: time(to),
        },
        subject: Name::from_str(subject).unwrap(),
        subject_public_key_info: spki,
        issuer_unique_id: None,
        subject_unique_id: None,
        extensions: None,
    };
    let (alg, signature) = sign(signer, |alg| {
        tbs.signature = alg.clone();
        tbs.to_der().unwrap()
    });
    Certificate {
        tbs_certificate: tbs,
        signature_algorithm: alg,
        signature,
    }
}

/// The P-384 public key of a real VCEK (testdata/sev_snp.json, trustee-milan-vcek).
fn real_vcek_spki() -> SubjectPublicKeyInfoOwned {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/sev_snp.json");
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let case = doc["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "trustee-milan-vcek")
        .unwrap();
    let der = base64::engine::general_purpose::STANDARD
        .decode(case["vcek"]["der_b64"].as_str().unwrap())
        .unwrap();
    Certificate::from_der(&der)
        .unwrap()
        .tbs_certificate
        .subject_public_key_info
}

/// The PKI, generated once per test binary (2048-bit keys: the verifier does not
/// depend on the size, and AMD's 4096-bit ones take seconds to generate).
pub fn pki() -> &'static TestPki {
    static PKI: OnceLock<TestPki> = OnceLock::new();
    PKI.get_or_init(|| {
        let ark_key = RsaPrivateKey::new(&mut OsRng, 2048).unwrap();
        let ask_key = RsaPrivateKey::new(&mut OsRng, 2048).unwrap();
        let rogue_key = RsaPrivateKey::new(&mut OsRng, 2048).unwrap();
        let long = (AT - 5 * 365 * DAY, AT + 20 * 365 * DAY);
        let ark = issue(
            ARK_SERIAL,
            ARK_NAME,
            ARK_NAME,
            spki_of(&ark_key),
            &ark_key,
            long,
        );
        let ask = issue(
            ASK_SERIAL,
            ASK_NAME,
            ARK_NAME,
            spki_of(&ask_key),
            &ark_key,
            long,
        );
        let vcek = issue(
            0x0002_0000,
            VCEK_NAME,
            ASK_NAME,
            real_vcek_spki(),
            &ask_key,
            (AT - 365 * DAY, AT + 5 * 365 * DAY),
        );
        TestPki {
            ark_key,
            rogue_key,
            ark,
            ask,
            vcek,
        }
    })
}

/// A CRL to build: by default issued and signed by the test ARK, current at [`AT`],
/// listing nothing.
pub struct CrlSpec<'a> {
    pub issuer: Name,
    pub signer: &'a RsaPrivateKey,
    pub this_update: u64,
    pub next_update: Option<u64>,
    pub revoked: Vec<SerialNumber>,
    pub critical_extension: bool,
}

impl CrlSpec<'static> {
    pub fn new() -> Self {
        CrlSpec {
            issuer: Name::from_str(ARK_NAME).unwrap(),
            signer: &pki().ark_key,
            this_update: AT - 30 * DAY,
            next_update: Some(AT + 30 * DAY),
            revoked: Vec::new(),
            critical_extension: false,
        }
    }
}

impl CrlSpec<'_> {
    pub fn revoking(mut self, serials: &[SerialNumber]) -> Self {
        self.revoked.extend_from_slice(serials);
        self
    }

    /// The DER CRL.
    pub fn der(&self) -> Vec<u8> {
        let revoked: Vec<RevokedCert> = self
            .revoked
            .iter()
            .map(|serial| RevokedCert {
                serial_number: serial.clone(),
                revocation_date: time(self.this_update - DAY),
                crl_entry_extensions: None,
            })
            .collect();
        let crl_extensions = self.critical_extension.then(|| {
            vec![Extension {
                // Issuing distribution point, which would narrow the CRL's scope.
                extn_id: ObjectIdentifier::new_unwrap("2.5.29.28"),
                critical: true,
                extn_value: OctetString::new(vec![0x30, 0x00]).unwrap(),
            }]
        });
        let mut tbs = TbsCertList {
            version: Version::V2,
            signature: x509_cert::spki::AlgorithmIdentifierOwned {
                oid: ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10"),
                parameters: None,
            },
            issuer: self.issuer.clone(),
            this_update: time(self.this_update),
            next_update: self.next_update.map(time),
            revoked_certificates: (!revoked.is_empty()).then_some(revoked),
            crl_extensions,
        };
        let (alg, signature) = sign(self.signer, |alg| {
            tbs.signature = alg.clone();
            tbs.to_der().unwrap()
        });
        CertificateList {
            tbs_cert_list: tbs,
            signature_algorithm: alg,
            signature,
        }
        .to_der()
        .unwrap()
    }
}

pub fn der(cert: &Certificate) -> Vec<u8> {
    cert.to_der().unwrap()
}
