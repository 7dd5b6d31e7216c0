//! Public keys as JSON Web Keys (RFC 7517) with RFC 7638 thumbprints.
//!
//! The workload's public key travels inside runtime data as a JWK and is bound into
//! evidence through its thumbprint, so the thumbprint must be computed from the exact
//! canonical members RFC 7638 names. Keys are checked when parsed (point on the curve,
//! right length, no private member), so holders of a [`PublicJwk`] never re-validate.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A public key in one of the JWK forms Cairn accepts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawJwk", into = "RawJwk")]
pub enum PublicJwk {
    /// An Ed25519 signature key (`kty` OKP, `crv` Ed25519).
    Ed25519([u8; 32]),
    /// A NIST P-256 key (`kty` EC, `crv` P-256), uncompressed coordinates.
    P256 {
        /// The x coordinate, big-endian.
        x: [u8; 32],
        /// The y coordinate, big-endian.
        y: [u8; 32],
    },
    /// An X25519 key-agreement key (`kty` OKP, `crv` X25519), the HPKE recipient form.
    X25519([u8; 32]),
}

/// Why a JWK was refused.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum JwkError {
    /// A coordinate was not unpadded base64url of the right length.
    #[error("JWK member {member:?} is not unpadded base64url of {expected} bytes")]
    BadCoordinate {
        /// The JWK member (`x` or `y`).
        member: &'static str,
        /// The expected decoded length.
        expected: usize,
    },
    /// The point is not on the curve or not a valid encoding.
    #[error("JWK does not encode a valid {0} public key")]
    InvalidPoint(&'static str),
    /// A `y` member is missing for an EC key, or present for an OKP key.
    #[error("JWK member y is {0}")]
    MisplacedY(&'static str),
    /// The JWK carries private key material (`d`); only public keys may be sent.
    #[error("JWK carries private key material (member d); send only the public key")]
    PrivateMaterial,
    /// A DER SubjectPublicKeyInfo (e.g. from a TLS certificate) holds no key Cairn accepts.
    #[error(
        "public key is not a DER SubjectPublicKeyInfo of an Ed25519 or P-256 key (TLS node keys must be one of these)"
    )]
    Spki,
    /// The key type or curve is not one Cairn accepts.
    #[error(
        "unsupported JWK kty {kty:?} / crv {crv:?} (accepted: OKP Ed25519, OKP X25519, EC P-256)"
    )]
    Unsupported {
        /// The `kty` member.
        kty: String,
        /// The `crv` member.
        crv: String,
    },
}

#[derive(Serialize, Deserialize)]
struct RawJwk {
    kty: String,
    crv: String,
    x: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    y: Option<String>,
    #[serde(default, skip_serializing)]
    d: Option<String>,
}

/// Encodes bytes as unpadded base64url (the JOSE encoding).
pub fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes strict unpadded base64url (no padding, no stray bits).
pub fn b64url_decode(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(s).ok()
}

fn coordinate(member: &'static str, value: &str) -> Result<[u8; 32], JwkError> {
    b64url_decode(value)
        .and_then(|v| <[u8; 32]>::try_from(v).ok())
        .ok_or(JwkError::BadCoordinate {
            member,
            expected: 32,
        })
}

impl TryFrom<RawJwk> for PublicJwk {
    type Error = JwkError;

    fn try_from(raw: RawJwk) -> Result<Self, JwkError> {
        if raw.d.is_some() {
            return Err(JwkError::PrivateMaterial);
        }
        match (raw.kty.as_str(), raw.crv.as_str()) {
            ("EC", "P-256") => {
                let y = raw.y.as_deref().ok_or(JwkError::MisplacedY("missing"))?;
                let (x, y) = (coordinate("x", &raw.x)?, coordinate("y", y)?);
                let mut sec1 = [0u8; 65];
                sec1[0] = 4;
                sec1[1..33].copy_from_slice(&x);
                sec1[33..].copy_from_slice(&y);
                p256::PublicKey::from_sec1_bytes(&sec1)
                    .map_err(|_| JwkError::InvalidPoint("P-256"))?;
                Ok(PublicJwk::P256 { x, y })
            }
            ("OKP", "Ed25519") | ("OKP", "X25519") => {
                if raw.y.is_some() {
                    return Err(JwkError::MisplacedY("not allowed for OKP keys"));
                }
                let x = coordinate("x", &raw.x)?;
                if raw.crv == "Ed25519" {
                    ed25519_dalek::VerifyingKey::from_bytes(&x)
                        .map_err(|_| JwkError::InvalidPoint("Ed25519"))?;
                    Ok(PublicJwk::Ed25519(x))
                } else {
                    Ok(PublicJwk::X25519(x))
                }
            }
            _ => Err(JwkError::Unsupported {
                kty: raw.kty,
                crv: raw.crv,
            }),
        }
    }
}

impl From<PublicJwk> for RawJwk {
    fn from(jwk: PublicJwk) -> Self {
        let (kty, crv, x, y) = jwk.members();
        RawJwk {
            kty: kty.to_owned(),
            crv: crv.to_owned(),
            x,
            y,
            d: None,
        }
    }
}

impl PublicJwk {
    fn members(&self) -> (&'static str, &'static str, String, Option<String>) {
        match self {
            PublicJwk::Ed25519(x) => ("OKP", "Ed25519", b64url(x), None),
            PublicJwk::P256 { x, y } => ("EC", "P-256", b64url(x), Some(b64url(y))),
            PublicJwk::X25519(x) => ("OKP", "X25519", b64url(x), None),
        }
    }

    /// The key in a DER SubjectPublicKeyInfo, the form certificates carry (a node's TLS
    /// certificate key, to compare with the key its attestation token binds).
    ///
    /// Accepts Ed25519 and P-256 (`id-ecPublicKey` with `prime256v1`); the point is
    /// checked, and the `spki`/`pkcs8` crates do the DER parsing.
    pub fn from_spki_der(der: &[u8]) -> Result<Self, JwkError> {
        use ed25519_dalek::pkcs8::DecodePublicKey as _;
        if let Ok(key) = p256::PublicKey::from_public_key_der(der) {
            let point = key.to_sec1_bytes();
            // Uncompressed SEC1: 0x04 || x || y.
            if let [4, rest @ ..] = point.as_ref()
                && rest.len() == 64
            {
                let mut x = [0u8; 32];
                let mut y = [0u8; 32];
                x.copy_from_slice(&rest[..32]);
                y.copy_from_slice(&rest[32..]);
                return Ok(PublicJwk::P256 { x, y });
            }
            return Err(JwkError::Spki);
        }
        ed25519_dalek::VerifyingKey::from_public_key_der(der)
            .map(|k| PublicJwk::Ed25519(k.to_bytes()))
            .map_err(|_| JwkError::Spki)
    }

    /// The RFC 7638 thumbprint: SHA-256 of the required members in lexicographic order.
    pub fn thumbprint(&self) -> [u8; 32] {
        let (kty, crv, x, y) = self.members();
        // RFC 7638 section 3.2: no whitespace, members sorted, values are the JWK strings.
        let canonical = match y {
            Some(y) => format!(r#"{{"crv":"{crv}","kty":"{kty}","x":"{x}","y":"{y}"}}"#),
            None => format!(r#"{{"crv":"{crv}","kty":"{kty}","x":"{x}"}}"#),
        };
        Sha256::digest(canonical.as_bytes()).into()
    }

    /// The thumbprint as unpadded base64url, the form used for `kid` and `sub`.
    pub fn thumbprint_b64(&self) -> String {
        b64url(&self.thumbprint())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::*;

    #[test]
    fn rejects_private_members_bad_points_and_unknown_curves() {
        let x = b64url(&[9u8; 32]);
        let d = format!(r#"{{"kty":"OKP","crv":"X25519","x":"{x}","d":"{x}"}}"#);
        assert!(serde_json::from_str::<PublicJwk>(&d).is_err());
        let off_curve = format!(r#"{{"kty":"EC","crv":"P-256","x":"{x}","y":"{x}"}}"#);
        assert!(serde_json::from_str::<PublicJwk>(&off_curve).is_err());
        let rsa = r#"{"kty":"RSA","crv":"","x":""}"#;
        assert!(serde_json::from_str::<PublicJwk>(rsa).is_err());
        let short = r#"{"kty":"OKP","crv":"X25519","x":"AAAA"}"#;
        assert!(serde_json::from_str::<PublicJwk>(short).is_err());
        let ok = format!(r#"{{"kty":"OKP","crv":"X25519","x":"{x}"}}"#);
        let jwk: PublicJwk = serde_json::from_str(&ok).unwrap();
        assert_eq!(jwk, PublicJwk::X25519([9u8; 32]));
        assert_eq!(serde_json::to_string(&jwk).unwrap(), ok.replace(' ', ""));
    }

    #[test]
    fn spki_keys_convert_to_the_same_jwk() {
        use ed25519_dalek::pkcs8::EncodePublicKey as _;
        let ed = ed25519_dalek::SigningKey::from_bytes(&[3; 32]).verifying_key();
        let der = ed.to_public_key_der().unwrap();
        assert_eq!(
            PublicJwk::from_spki_der(der.as_bytes()).unwrap(),
            PublicJwk::Ed25519(ed.to_bytes())
        );
        let secret = p256::SecretKey::from_slice(&[5; 32]).unwrap();
        let der = secret.public_key().to_public_key_der().unwrap();
        let PublicJwk::P256 { x, y } = PublicJwk::from_spki_der(der.as_bytes()).unwrap() else {
            panic!("not P-256");
        };
        let sec1 = secret.public_key().to_sec1_bytes();
        assert_eq!((&x[..], &y[..]), (&sec1[1..33], &sec1[33..]));
        let mut bad = der.as_bytes().to_vec();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert_eq!(PublicJwk::from_spki_der(&bad), Err(JwkError::Spki));
        assert_eq!(PublicJwk::from_spki_der(b"not der"), Err(JwkError::Spki));
    }
}
