//! JWS compact verification against a JWKS, with the refusal reasons relying
//! parties need.
//!
//! Keys come only from the JWKS the relying party chose; header members that point
//! at keys (`jku`, `x5u`, `jwk`, `x5c`) are refused rather than ignored, so a token
//! cannot even suggest where its key lives.
//!
//! Signatures are checked with `ring` (ES256: P-256 ECDSA, JWS's fixed 64-byte
//! `r || s`) and `ed25519-dalek` (EdDSA, strict verification). Relying parties verify
//! far more tokens than the service issues, and ring's P-256 is several times faster
//! than the pure-Rust one `jsonwebtoken` would use.

use std::collections::BTreeMap;

pub use jsonwebtoken::Algorithm;
use serde_json::Value;

use crate::jwk::{PublicJwk, b64url_decode};
use crate::relying_party::Refusal;

/// A signature verification key.
enum VerifyKey {
    /// Ed25519, checked on parse.
    EdDsa(ed25519_dalek::VerifyingKey),
    /// P-256, uncompressed SEC1 point (checked on the curve when the JWK was parsed).
    Es256([u8; 65]),
}

impl VerifyKey {
    fn from_jwk(jwk: &PublicJwk) -> Result<(Self, Algorithm), String> {
        match jwk {
            PublicJwk::P256 { x, y } => {
                let mut point = [0u8; 65];
                point[0] = 4;
                point[1..33].copy_from_slice(x);
                point[33..].copy_from_slice(y);
                Ok((VerifyKey::Es256(point), Algorithm::ES256))
            }
            PublicJwk::Ed25519(x) => ed25519_dalek::VerifyingKey::from_bytes(x)
                .map(|k| (VerifyKey::EdDsa(k), Algorithm::EdDSA))
                .map_err(|_| "not a valid Ed25519 key".to_owned()),
            PublicJwk::X25519(_) => Err("X25519 keys cannot verify signatures".into()),
        }
    }

    fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        match self {
            VerifyKey::Es256(point) => ring::signature::UnparsedPublicKey::new(
                &ring::signature::ECDSA_P256_SHA256_FIXED,
                point,
            )
            .verify(message, signature)
            .is_ok(),
            VerifyKey::EdDsa(key) => <[u8; 64]>::try_from(signature).is_ok_and(|sig| {
                key.verify_strict(message, &ed25519_dalek::Signature::from_bytes(&sig))
                    .is_ok()
            }),
        }
    }
}

/// A verification key from a JWKS, or why it cannot verify tokens.
enum Entry {
    Unusable(String),
    Usable { key: VerifyKey, alg: Algorithm },
}

/// A set of token verification keys, indexed by `kid`.
pub struct Jwks {
    entries: BTreeMap<String, Entry>,
}

/// Why a JWKS document was refused as a whole.
#[derive(Debug, thiserror::Error)]
pub enum JwksError {
    /// Not JSON, or no `keys` array.
    #[error("not a JWKS document (a JSON object with a \"keys\" array): {0}")]
    Format(String),
}

fn entry_for(key: &Value) -> Entry {
    let member = |name: &str| key.get(name).and_then(Value::as_str);
    if let Some(usage) = member("use")
        && usage != "sig"
    {
        return Entry::Unusable(format!("its \"use\" is {usage:?}, not \"sig\""));
    }
    if let Some(ops) = key.get("key_ops").and_then(Value::as_array)
        && !ops.iter().any(|o| o.as_str() == Some("verify"))
    {
        return Entry::Unusable("its key_ops do not include \"verify\"".into());
    }
    let jwk: PublicJwk = match serde_json::from_value(key.clone()) {
        Ok(j) => j,
        Err(e) => return Entry::Unusable(format!("unsupported key: {e}")),
    };
    let (key, alg) = match VerifyKey::from_jwk(&jwk) {
        Ok(k) => k,
        Err(reason) => return Entry::Unusable(reason),
    };
    let declared = member("alg");
    let expected = if alg == Algorithm::ES256 {
        "ES256"
    } else {
        "EdDSA"
    };
    if declared.is_some_and(|d| d != expected) {
        return Entry::Unusable(format!(
            "its \"alg\" {declared:?} does not match its key type ({expected})"
        ));
    }
    Entry::Usable { key, alg }
}

impl Jwks {
    /// Parses a JWKS document; keys that cannot verify are kept with the reason.
    pub fn parse(json: &[u8]) -> Result<Self, JwksError> {
        let doc: Value =
            serde_json::from_slice(json).map_err(|e| JwksError::Format(e.to_string()))?;
        let keys = doc
            .get("keys")
            .and_then(Value::as_array)
            .ok_or_else(|| JwksError::Format("no \"keys\" array".into()))?;
        let mut entries = BTreeMap::new();
        for key in keys {
            // A key without a kid can never be selected, since tokens must name one.
            if let Some(kid) = key.get("kid").and_then(Value::as_str) {
                entries.insert(kid.to_owned(), entry_for(key));
            }
        }
        Ok(Self { entries })
    }

    /// Builds the set from a JWKS the service publishes.
    pub fn from_set(set: &jsonwebtoken::jwk::JwkSet) -> Result<Self, JwksError> {
        let json = serde_json::to_vec(set).map_err(|e| JwksError::Format(e.to_string()))?;
        Self::parse(&json)
    }

    /// Whether the set has an entry (usable or not) for `kid`.
    pub fn contains(&self, kid: &str) -> bool {
        self.entries.contains_key(kid)
    }

    /// The key ids in the set.
    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }

    fn key(&self, kid: &str) -> Result<(&VerifyKey, Algorithm), Refusal> {
        match self.entries.get(kid) {
            None => Err(Refusal::UnknownKid(kid.to_owned())),
            Some(Entry::Unusable(reason)) => Err(Refusal::KeyNotForSignatures {
                kid: kid.to_owned(),
                reason: reason.clone(),
            }),
            Some(Entry::Usable { key, alg }) => Ok((key, *alg)),
        }
    }
}

/// A verified JWS: the `kid` that verified it and the payload bytes.
#[derive(Debug)]
pub struct VerifiedJws {
    /// The key id from the header.
    pub kid: Option<String>,
    /// The decoded payload.
    pub payload: Vec<u8>,
}

fn split_compact(token: &str) -> Result<(&str, &str, &str), Refusal> {
    let mut parts = token.split('.');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(h), Some(p), Some(s), None) => Ok((h, p, s)),
        _ => Err(Refusal::Malformed(
            "not a JWS compact serialization (three base64url parts)".into(),
        )),
    }
}

fn parse_header(h: &str) -> Result<serde_json::Map<String, Value>, Refusal> {
    let bytes =
        b64url_decode(h).ok_or_else(|| Refusal::Malformed("header is not base64url".into()))?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(Refusal::Malformed("header is not a JSON object".into())),
    }
}

fn check_header(
    header: &serde_json::Map<String, Value>,
    allowed: &[Algorithm],
) -> Result<Algorithm, Refusal> {
    for member in ["jku", "x5u", "jwk", "x5c"] {
        if header.contains_key(member) {
            return Err(Refusal::EmbeddedKeyReference(member.to_owned()));
        }
    }
    if header.contains_key("crit") {
        return Err(Refusal::Malformed(
            "header has critical extensions (crit), none are supported".into(),
        ));
    }
    let alg = match header.get("alg").and_then(Value::as_str) {
        Some("ES256") => Some(Algorithm::ES256),
        Some("EdDSA") => Some(Algorithm::EdDSA),
        _ => None,
    };
    alg.filter(|a| allowed.contains(a)).ok_or_else(|| {
        let name = header
            .get("alg")
            .and_then(Value::as_str)
            .unwrap_or("(missing)");
        Refusal::UnsupportedAlgorithm(name.to_owned())
    })
}

fn verify_with(h: &str, p: &str, s: &str, key: &VerifyKey) -> Result<Vec<u8>, Refusal> {
    let signature = b64url_decode(s).ok_or(Refusal::BadSignature)?;
    let message = format!("{h}.{p}");
    if !key.verify(message.as_bytes(), &signature) {
        return Err(Refusal::BadSignature);
    }
    b64url_decode(p).ok_or_else(|| Refusal::Malformed("payload is not base64url".into()))
}

/// Verifies a compact JWS whose header names a `kid` in `jwks`, signed with one of
/// the `allowed` algorithms (attestation tokens: ES256 only).
pub fn verify_with_jwks(
    token: &str,
    jwks: &Jwks,
    allowed: &[Algorithm],
) -> Result<VerifiedJws, Refusal> {
    let (h, p, s) = split_compact(token)?;
    let header = parse_header(h)?;
    let alg = check_header(&header, allowed)?;
    let kid = header
        .get("kid")
        .and_then(Value::as_str)
        .ok_or(Refusal::MissingKid)?;
    let (key, key_alg) = jwks.key(kid)?;
    if key_alg != alg {
        return Err(Refusal::KeyNotForSignatures {
            kid: kid.to_owned(),
            reason: format!("token alg {alg:?} does not match the key's {key_alg:?}"),
        });
    }
    let payload = verify_with(h, p, s, key)?;
    Ok(VerifiedJws {
        kid: Some(kid.to_owned()),
        payload,
    })
}

/// Verifies a compact JWS (ES256 or EdDSA) with one given public key (no `kid` needed).
pub fn verify_with_key(token: &str, jwk: &PublicJwk) -> Result<VerifiedJws, Refusal> {
    let (h, p, s) = split_compact(token)?;
    let header = parse_header(h)?;
    let alg = check_header(&header, &[Algorithm::ES256, Algorithm::EdDSA])?;
    let (key, key_alg) =
        VerifyKey::from_jwk(jwk).map_err(|reason| Refusal::KeyNotForSignatures {
            kid: String::new(),
            reason,
        })?;
    if key_alg != alg {
        return Err(Refusal::KeyNotForSignatures {
            kid: String::new(),
            reason: format!("token alg {alg:?} does not match the key's {key_alg:?}"),
        });
    }
    let payload = verify_with(h, p, s, &key)?;
    Ok(VerifiedJws {
        kid: header.get("kid").and_then(Value::as_str).map(str::to_owned),
        payload,
    })
}
