//! Signing keys and public keys: Ed25519 (the default) and ECDSA P-256
//! (Fabric's default), PKCS#8 / SPKI encodings, and signature checks.
//!
//! Signature encodings follow Fabric: Ed25519 signatures are the 64 raw bytes
//! of RFC 8032; ECDSA signatures are DER `Ecdsa-Sig-Value` over SHA-256 of
//! the message, and must be low-S (Fabric rejects high-S to stop signature
//! malleability). We always produce low-S signatures.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use ed25519_dalek::Signer as _;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use zeroize::Zeroizing;

use crate::digest::{Digest, sha256};
use crate::error::CryptoError;

/// OID of Ed25519 keys and signatures (RFC 8410).
pub(crate) const OID_ED25519: &str = "1.3.101.112";
/// OID of `ecdsa-with-SHA256` signatures (RFC 5758).
pub(crate) const OID_ECDSA_SHA256: &str = "1.2.840.10045.4.3.2";

const PEM_PRIVATE_KEY: &str = "PRIVATE KEY";
const PEM_PUBLIC_KEY: &str = "PUBLIC KEY";

/// The signature algorithms Cairn supports.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Default,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum KeyType {
    /// Ed25519 (RFC 8032): Cairn's default.
    #[default]
    Ed25519,
    /// ECDSA over NIST P-256 with SHA-256: Fabric's default.
    P256,
}

impl KeyType {
    /// The lowercase name used on the command line and in JSON.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Ed25519 => "ed25519",
            Self::P256 => "p256",
        }
    }
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for KeyType {
    type Err = CryptoError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "ed25519" => Ok(Self::Ed25519),
            "p256" | "p-256" | "ecdsa" | "secp256r1" | "prime256v1" => Ok(Self::P256),
            _ => Err(CryptoError::UnsupportedAlgorithm { oid: s.to_owned() }),
        }
    }
}

/// A private key that signs. Debug output never shows the secret.
#[derive(Clone)]
pub struct SigningKey(SigningKeyInner);

#[derive(Clone)]
enum SigningKeyInner {
    Ed25519(ed25519_dalek::SigningKey),
    P256(p256::ecdsa::SigningKey),
}

impl SigningKey {
    /// A fresh key from the operating system's random number generator.
    pub fn generate(key_type: KeyType) -> Result<Self, CryptoError> {
        let mut seed = Zeroizing::new([0u8; 32]);
        match key_type {
            KeyType::Ed25519 => {
                fill_random(&mut seed[..])?;
                Ok(Self::from_ed25519_seed(&seed))
            }
            KeyType::P256 => loop {
                fill_random(&mut seed[..])?;
                // Rejection sampling: zero or >= n has probability ~2^-32.
                if let Ok(sk) = p256::ecdsa::SigningKey::from_slice(&seed[..]) {
                    return Ok(Self(SigningKeyInner::P256(sk)));
                }
            },
        }
    }

    /// The Ed25519 key with the given 32-byte RFC 8032 secret (seed).
    pub fn from_ed25519_seed(seed: &[u8; 32]) -> Self {
        Self(SigningKeyInner::Ed25519(
            ed25519_dalek::SigningKey::from_bytes(seed),
        ))
    }

    /// The P-256 key with the given 32-byte big-endian scalar.
    pub fn from_p256_scalar(scalar: &[u8]) -> Result<Self, CryptoError> {
        p256::ecdsa::SigningKey::from_slice(scalar)
            .map(|sk| Self(SigningKeyInner::P256(sk)))
            .map_err(|_| CryptoError::Key {
                reason: "P-256 scalar must be 32 bytes, non-zero and below the group order".into(),
            })
    }

    /// Which algorithm this key signs with.
    pub fn key_type(&self) -> KeyType {
        match &self.0 {
            SigningKeyInner::Ed25519(_) => KeyType::Ed25519,
            SigningKeyInner::P256(_) => KeyType::P256,
        }
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        match &self.0 {
            SigningKeyInner::Ed25519(sk) => PublicKey::Ed25519(sk.verifying_key()),
            SigningKeyInner::P256(sk) => PublicKey::P256(*sk.verifying_key()),
        }
    }

    /// Signs `msg`: 64 raw bytes for Ed25519; DER, low-S, SHA-256 ECDSA for P-256.
    pub fn sign(&self, msg: &[u8]) -> Vec<u8> {
        cairn_counters::inc(cairn_counters::Counter::SigSign);
        match &self.0 {
            SigningKeyInner::Ed25519(sk) => sk.sign(msg).to_bytes().to_vec(),
            SigningKeyInner::P256(sk) => {
                let sig: p256::ecdsa::Signature = sk.sign(msg);
                sig.normalize_s().to_der().as_bytes().to_vec()
            }
        }
    }

    /// Decodes a PKCS#8 `PrivateKeyInfo` (v1 or v2) holding an Ed25519 or P-256 key.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, CryptoError> {
        if let Ok(sk) = ed25519_dalek::SigningKey::from_pkcs8_der(der) {
            return Ok(Self(SigningKeyInner::Ed25519(sk)));
        }
        p256::ecdsa::SigningKey::from_pkcs8_der(der)
            .map(|sk| Self(SigningKeyInner::P256(sk)))
            .map_err(|e| CryptoError::Key {
                reason: format!("not a PKCS#8 Ed25519 or P-256 private key ({e})"),
            })
    }

    /// Decodes a PEM `PRIVATE KEY` (PKCS#8) block.
    pub fn from_pkcs8_pem(pem_text: &str) -> Result<Self, CryptoError> {
        let der = Zeroizing::new(decode_pem(pem_text, PEM_PRIVATE_KEY)?);
        Self::from_pkcs8_der(&der)
    }

    /// Encodes as PKCS#8 DER.
    pub fn to_pkcs8_der(&self) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let doc = match &self.0 {
            // PKCS#8 v1 (RFC 8410), without the optional v2 public key:
            // OpenSSL 3.0 and other tools refuse v2 Ed25519 keys.
            SigningKeyInner::Ed25519(sk) => ed25519_dalek::pkcs8::KeypairBytes {
                secret_key: sk.to_bytes(),
                public_key: None,
            }
            .to_pkcs8_der(),
            SigningKeyInner::P256(sk) => sk.to_pkcs8_der(),
        }
        .map_err(|e| CryptoError::Key {
            reason: format!("PKCS#8 encoding failed: {e}"),
        })?;
        Ok(Zeroizing::new(doc.as_bytes().to_vec()))
    }

    /// Encodes as a PEM `PRIVATE KEY` (PKCS#8) block with `\n` line endings.
    pub fn to_pkcs8_pem(&self) -> Result<Zeroizing<String>, CryptoError> {
        let der = self.to_pkcs8_der()?;
        Ok(Zeroizing::new(encode_pem(PEM_PRIVATE_KEY, &der)))
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("key_type", &self.key_type())
            .field("public_key", &self.public_key())
            .finish_non_exhaustive()
    }
}

/// A public key that verifies signatures. (Not `Copy`: a P-256 key is
/// over 100 bytes; clone it explicitly.)
#[derive(Clone, PartialEq, Eq)]
pub enum PublicKey {
    /// An Ed25519 public key.
    Ed25519(ed25519_dalek::VerifyingKey),
    /// An ECDSA P-256 public key.
    P256(p256::ecdsa::VerifyingKey),
}

impl PublicKey {
    /// Which algorithm this key verifies.
    pub fn key_type(&self) -> KeyType {
        match self {
            Self::Ed25519(_) => KeyType::Ed25519,
            Self::P256(_) => KeyType::P256,
        }
    }

    /// Checks `sig` over `msg`.
    ///
    /// Ed25519 uses strict verification (RFC 8032 plus rejection of
    /// small-order keys and `R` values). P-256 expects a DER ECDSA signature
    /// over SHA-256(msg) and rejects high-S signatures with
    /// [`CryptoError::HighS`], as Fabric does.
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> Result<(), CryptoError> {
        cairn_counters::inc(cairn_counters::Counter::SigVerify);
        match self {
            Self::Ed25519(vk) => {
                let sig = parse_ed25519_signature(sig)?;
                vk.verify_strict(msg, &sig)
                    .map_err(|_| CryptoError::BadSignature)
            }
            Self::P256(vk) => {
                let parsed = parse_p256_signature(sig)?;
                if parsed.normalize_s() != parsed {
                    return Err(CryptoError::HighS);
                }
                verify_p256_ring(vk, msg, sig)
            }
        }
    }

    /// Checks a certificate signature: algorithm `sig_alg_oid` over `tbs`.
    ///
    /// Unlike [`verify`](Self::verify), high-S ECDSA is accepted here: X.509
    /// signers (Go's crypto/x509, ring, OpenSSL) do not normalize S, and
    /// Fabric's certificate checks accept both forms.
    pub(crate) fn verify_certificate_signature(
        &self,
        sig_alg_oid: &str,
        tbs: &[u8],
        sig: &[u8],
    ) -> Result<(), CryptoError> {
        match (self, sig_alg_oid) {
            (Self::Ed25519(_), OID_ED25519) => self.verify(tbs, sig),
            (Self::P256(vk), OID_ECDSA_SHA256) => {
                // Parse first so malformed DER gets the precise error; ring
                // accepts both high and low S.
                parse_p256_signature(sig)?;
                verify_p256_ring(vk, tbs, sig)
            }
            (_, OID_ED25519 | OID_ECDSA_SHA256) => Err(CryptoError::Malformed {
                reason: format!(
                    "signature algorithm {sig_alg_oid} does not match the issuer's {} key",
                    self.key_type()
                ),
            }),
            _ => Err(CryptoError::UnsupportedAlgorithm {
                oid: sig_alg_oid.to_owned(),
            }),
        }
    }

    /// Decodes a DER `SubjectPublicKeyInfo`.
    pub fn from_spki_der(der: &[u8]) -> Result<Self, CryptoError> {
        if let Ok(vk) = ed25519_dalek::VerifyingKey::from_public_key_der(der) {
            return Ok(Self::Ed25519(vk));
        }
        p256::ecdsa::VerifyingKey::from_public_key_der(der)
            .map(Self::P256)
            .map_err(|e| CryptoError::Key {
                reason: format!("not an Ed25519 or P-256 SubjectPublicKeyInfo ({e})"),
            })
    }

    /// Encodes as a DER `SubjectPublicKeyInfo`.
    pub fn to_spki_der(&self) -> Vec<u8> {
        // Encoding a valid in-memory key into a fixed-size structure cannot fail;
        // fall back to an empty vector rather than panic if a dependency changes.
        let doc = match self {
            Self::Ed25519(vk) => vk.to_public_key_der(),
            Self::P256(vk) => vk.to_public_key_der(),
        };
        doc.map(|d| d.as_bytes().to_vec()).unwrap_or_default()
    }

    /// Decodes a PEM `PUBLIC KEY` block.
    pub fn from_pem(pem_text: &str) -> Result<Self, CryptoError> {
        Self::from_spki_der(&decode_pem(pem_text, PEM_PUBLIC_KEY)?)
    }

    /// Encodes as a PEM `PUBLIC KEY` block.
    pub fn to_pem(&self) -> String {
        encode_pem(PEM_PUBLIC_KEY, &self.to_spki_der())
    }

    /// The raw public key: 32 bytes for Ed25519, the 65-byte uncompressed
    /// SEC1 point for P-256 (the bytes inside an X.509 SubjectPublicKeyInfo).
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            Self::Ed25519(vk) => vk.to_bytes().to_vec(),
            Self::P256(vk) => vk.to_sec1_point(false).as_bytes().to_vec(),
        }
    }

    /// SHA-256 of the DER `SubjectPublicKeyInfo`: a stable key id.
    pub fn fingerprint(&self) -> Digest {
        sha256(&self.to_spki_der())
    }
}

impl Hash for PublicKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.key_type().hash(state);
        self.to_bytes().hash(state);
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "PublicKey::{:?}({})",
            self.key_type(),
            hex::encode(self.to_bytes())
        )
    }
}

pub(crate) fn parse_ed25519_signature(sig: &[u8]) -> Result<ed25519_dalek::Signature, CryptoError> {
    ed25519_dalek::Signature::from_slice(sig).map_err(|_| CryptoError::MalformedSignature {
        reason: format!("Ed25519 signatures are 64 bytes, got {}", sig.len()),
    })
}

/// ECDSA P-256 / SHA-256 verification of a DER signature through ring,
/// several times faster than the pure-Rust `p256` arithmetic. Callers decide
/// about high S before calling.
fn verify_p256_ring(
    vk: &p256::ecdsa::VerifyingKey,
    msg: &[u8],
    der_sig: &[u8],
) -> Result<(), CryptoError> {
    let point = vk.to_sec1_point(false);
    ring::signature::UnparsedPublicKey::new(
        &ring::signature::ECDSA_P256_SHA256_ASN1,
        point.as_bytes(),
    )
    .verify(msg, der_sig)
    .map_err(|_| CryptoError::BadSignature)
}

fn parse_p256_signature(sig: &[u8]) -> Result<p256::ecdsa::Signature, CryptoError> {
    p256::ecdsa::Signature::from_der(sig).map_err(|_| CryptoError::MalformedSignature {
        reason: "P-256 signature is not a DER Ecdsa-Sig-Value with 0 < r, s < n".into(),
    })
}

fn fill_random(buf: &mut [u8]) -> Result<(), CryptoError> {
    getrandom::fill(buf).map_err(|e| CryptoError::Rng {
        reason: e.to_string(),
    })
}

/// Decodes one PEM block whose label must be `tag`.
pub(crate) fn decode_pem(pem_text: &str, tag: &str) -> Result<Vec<u8>, CryptoError> {
    let block = pem::parse(pem_text).map_err(|e| CryptoError::Pem {
        reason: e.to_string(),
    })?;
    if block.tag() != tag {
        return Err(CryptoError::Pem {
            reason: format!("expected a {tag} block, found {}", block.tag()),
        });
    }
    Ok(block.into_contents())
}

/// Encodes `der` as a PEM block with `\n` line endings.
pub(crate) fn encode_pem(tag: &str, der: &[u8]) -> String {
    let config = pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF);
    pem::encode_config(&pem::Pem::new(tag, der.to_vec()), config)
}

/// Random bytes from the OS, for certificate serials.
pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N], CryptoError> {
    let mut out = [0u8; N];
    fill_random(&mut out)?;
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::*;

    #[test]
    fn ed25519_and_p256_sign_verify_round_trip() {
        for kt in [KeyType::Ed25519, KeyType::P256] {
            let sk = SigningKey::generate(kt).unwrap();
            assert_eq!(sk.key_type(), kt);
            let pk = sk.public_key();
            let sig = sk.sign(b"hello");
            pk.verify(b"hello", &sig).unwrap();
            assert_eq!(pk.verify(b"hellp", &sig), Err(CryptoError::BadSignature));
            let other = SigningKey::generate(kt).unwrap().public_key();
            assert_eq!(other.verify(b"hello", &sig), Err(CryptoError::BadSignature));
        }
    }

    #[test]
    fn p256_signatures_are_der_and_low_s_and_high_s_is_refused() {
        let sk = SigningKey::generate(KeyType::P256).unwrap();
        let pk = sk.public_key();
        let mut saw_normalized = false;
        for i in 0..32u8 {
            let msg = [i; 8];
            let der = sk.sign(&msg);
            let sig = p256::ecdsa::Signature::from_der(&der).unwrap();
            assert_eq!(sig.normalize_s(), sig, "we must only emit low-S");
            // Build the high-S twin (n - s): same (r, s) class, so it is
            // mathematically valid ECDSA but Fabric refuses it.
            let s = sig.s();
            let high_s = -*s;
            let twin = p256::ecdsa::Signature::from_scalars(sig.r().to_bytes(), high_s.to_bytes())
                .unwrap();
            assert_ne!(twin, sig);
            assert_eq!(
                pk.verify(&msg, twin.to_der().as_bytes()),
                Err(CryptoError::HighS)
            );
            // Certificate signatures accept the twin after normalization.
            pk.verify_certificate_signature(OID_ECDSA_SHA256, &msg, twin.to_der().as_bytes())
                .unwrap();
            saw_normalized = true;
        }
        assert!(saw_normalized);
        assert!(matches!(
            pk.verify(b"x", &[0u8; 64]),
            Err(CryptoError::MalformedSignature { .. })
        ));
    }

    #[test]
    fn ed25519_signature_length_is_checked() {
        let pk = SigningKey::generate(KeyType::Ed25519).unwrap().public_key();
        assert!(matches!(
            pk.verify(b"x", &[0u8; 63]),
            Err(CryptoError::MalformedSignature { .. })
        ));
    }

    #[test]
    fn pkcs8_pem_round_trip_keeps_the_key() {
        for kt in [KeyType::Ed25519, KeyType::P256] {
            let sk = SigningKey::generate(kt).unwrap();
            let pem_text = sk.to_pkcs8_pem().unwrap();
            assert!(pem_text.starts_with("-----BEGIN PRIVATE KEY-----\n"));
            if kt == KeyType::Ed25519 {
                // RFC 8410 §7 v1 layout: fixed 16-byte prefix, then the seed.
                let der = sk.to_pkcs8_der().unwrap();
                assert_eq!(der.len(), 48);
                assert_eq!(hex::encode(&der[..16]), "302e020100300506032b657004220420");
            }
            let back = SigningKey::from_pkcs8_pem(&pem_text).unwrap();
            assert_eq!(back.public_key(), sk.public_key());
            let sig = back.sign(b"m");
            sk.public_key().verify(b"m", &sig).unwrap();

            let pub_pem = sk.public_key().to_pem();
            assert_eq!(PublicKey::from_pem(&pub_pem).unwrap(), sk.public_key());
        }
        assert!(matches!(
            SigningKey::from_pkcs8_pem(
                "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"
            ),
            Err(CryptoError::Pem { .. })
        ));
        assert!(matches!(
            SigningKey::from_pkcs8_der(b"not a key"),
            Err(CryptoError::Key { .. })
        ));
    }

    #[test]
    fn debug_does_not_leak_the_secret() {
        let seed = [7u8; 32];
        let sk = SigningKey::from_ed25519_seed(&seed);
        let dbg = format!("{sk:?}");
        assert!(!dbg.contains(&hex::encode(seed)));
        assert!(dbg.contains("Ed25519"));
    }

    #[test]
    fn key_type_parses_cli_names() {
        assert_eq!("ed25519".parse::<KeyType>().unwrap(), KeyType::Ed25519);
        assert_eq!("P256".parse::<KeyType>().unwrap(), KeyType::P256);
        assert!("rsa".parse::<KeyType>().is_err());
    }
}
