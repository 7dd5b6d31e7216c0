//! Signed inference receipts: which model, in which measured workload, answered
//! which request with which result, and when.
//!
//! Every response of the service carries one. The node signs it with an Ed25519
//! key generated inside the workload, and the node's attestation token (carried in
//! the receipt) binds that key, the model hash and the measurement. So the receipt
//! verifies offline with nothing but the attestation service's JWKS: the token's
//! signature proves the measured workload held the receipt key, and the receipt's
//! signature proves that key signed these hashes.
//!
//! ```text
//! signed bytes = "cairn-inference-receipt/v1" 0x00 || JSON(every field but `signature`, in declaration order)
//! ```
//!
//! Invariants:
//! - verification reads no clock: the token must have been valid at the receipt's
//!   own `time` (a receipt outlives its token, as a signed document outlives the
//!   signer's certificate);
//! - every field the verifier reports is one it checked against the token or the
//!   signature; unknown fields are refused.

use cairn_attest::claims::AttestationClaims;
use cairn_attest::jwk::{b64url, b64url_decode};
use cairn_attest::jws::{Algorithm, verify_with_jwks};
use cairn_attest::relying_party::check_validity;
use cairn_attest::{Jwks, Platform, Refusal, UnixTime};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::binding;

/// The `kind` every inference receipt carries (and the signature's domain).
pub const RECEIPT_KIND: &str = "cairn-inference-receipt/v1";

/// A signed inference receipt, as returned with each response and stored by clients.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InferenceReceipt {
    /// Always [`RECEIPT_KIND`].
    pub kind: String,
    /// SHA-256 (hex) of the request body the node decrypted.
    pub request_sha256: String,
    /// SHA-256 (hex) of the result body the node sealed back.
    pub response_sha256: String,
    /// SHA-256 (hex) of the ONNX model that computed the result.
    pub model_sha256: String,
    /// The node's measurement (hex), as its token states it.
    pub measurement: String,
    /// The node's TEE platform.
    pub platform: Platform,
    /// False for the software-only `virtual` platform.
    pub hardware: bool,
    /// When the node answered (Unix seconds).
    pub time: u64,
    /// The OHTTP key id the request was sealed to.
    pub key_id: u8,
    /// The node's attestation token (compact JWS) binding the receipt key.
    pub token: String,
    /// Ed25519 signature over the signed bytes, base64url.
    pub signature: String,
}

/// The fields a signature covers (every field but the signature).
#[derive(Serialize)]
struct Signed<'a> {
    kind: &'a str,
    request_sha256: &'a str,
    response_sha256: &'a str,
    model_sha256: &'a str,
    measurement: &'a str,
    platform: Platform,
    hardware: bool,
    time: u64,
    key_id: u8,
    token: &'a str,
}

/// What a verified receipt proves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedInferenceReceipt {
    /// The request body's hash.
    pub request_sha256: String,
    /// The result body's hash.
    pub response_sha256: String,
    /// The model that answered.
    pub model_sha256: String,
    /// The measured workload that answered.
    pub measurement: String,
    /// Its platform.
    pub platform: Platform,
    /// Whether that platform is hardware-protected (false: `virtual`).
    pub hardware: bool,
    /// When it answered.
    pub time: u64,
    /// The token's issuer (the attestation service).
    pub issuer: String,
    /// The token's id.
    pub token_id: String,
}

/// Why a receipt does not verify.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReceiptError {
    /// Not an inference receipt (another `kind`).
    #[error("not an inference receipt: kind is {0:?}, expected {RECEIPT_KIND:?}")]
    Kind(String),
    /// The node's token does not verify with the JWKS, or was not valid at the receipt's time.
    #[error("the node's attestation token does not verify: {0}")]
    Token(Refusal),
    /// The token's issuer is not the expected one.
    #[error("the node's token was issued by {actual:?}, expected {expected:?}")]
    Issuer {
        /// Expected issuer.
        expected: String,
        /// Issuer in the token.
        actual: String,
    },
    /// The token does not bind a receipt key.
    #[error("the node's token binds no receipt key ({})", binding::RECEIPT_KEY)]
    NoReceiptKey,
    /// A receipt field differs from what the token states.
    #[error("receipt {field} is {receipt:?} but the node's token says {token:?}")]
    Mismatch {
        /// The field.
        field: &'static str,
        /// Value in the receipt.
        receipt: String,
        /// Value in the token.
        token: String,
    },
    /// The signature does not verify with the key the token binds.
    #[error("receipt signature does not verify with the receipt key the node's token binds")]
    Signature,
    /// A request or response given to check does not hash to the receipt's value.
    #[error("the {what} given hashes to {actual}, the receipt says {expected}")]
    Content {
        /// "request" or "response".
        what: &'static str,
        /// Hash in the receipt.
        expected: String,
        /// Hash of what was given.
        actual: String,
    },
}

/// Lowercase hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// What a node needs to sign receipts: its key, token and the token's claims.
#[derive(Clone)]
pub struct ReceiptSigner {
    key: SigningKey,
    token: String,
    claims: AttestationClaims,
}

impl std::fmt::Debug for ReceiptSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReceiptSigner")
            .field("key", &b64url(self.key.verifying_key().as_bytes()))
            .field("token_id", &self.claims.jti)
            .finish()
    }
}

impl ReceiptSigner {
    /// A signer for `key`, whose binding `token` (with `claims`) goes in each receipt.
    pub fn new(key: SigningKey, token: String, claims: AttestationClaims) -> Self {
        Self { key, token, claims }
    }

    /// The claims of the token receipts carry.
    pub fn claims(&self) -> &AttestationClaims {
        &self.claims
    }

    /// Signs a receipt for one answered request.
    pub fn sign(
        &self,
        request: &[u8],
        response: &[u8],
        model_sha256: &str,
        key_id: u8,
        time: UnixTime,
    ) -> InferenceReceipt {
        let mut r = InferenceReceipt {
            kind: RECEIPT_KIND.to_owned(),
            request_sha256: sha256_hex(request),
            response_sha256: sha256_hex(response),
            model_sha256: model_sha256.to_owned(),
            measurement: self.claims.measurement.clone(),
            platform: self.claims.platform,
            hardware: self.claims.hardware,
            time: time.secs(),
            key_id,
            token: self.token.clone(),
            signature: String::new(),
        };
        r.signature = b64url(&self.key.sign(&r.signed_bytes()).to_bytes());
        r
    }
}

impl InferenceReceipt {
    /// The bytes the signature covers.
    fn signed_bytes(&self) -> Vec<u8> {
        let signed = Signed {
            kind: &self.kind,
            request_sha256: &self.request_sha256,
            response_sha256: &self.response_sha256,
            model_sha256: &self.model_sha256,
            measurement: &self.measurement,
            platform: self.platform,
            hardware: self.hardware,
            time: self.time,
            key_id: self.key_id,
            token: &self.token,
        };
        let mut out = Vec::with_capacity(512 + self.token.len());
        out.extend_from_slice(RECEIPT_KIND.as_bytes());
        out.push(0);
        // A struct of strings, numbers, a bool and a unit enum always serializes.
        out.extend_from_slice(&serde_json::to_vec(&signed).unwrap_or_default());
        out
    }

    /// Checks only the signature, with a receipt key the caller already trusts
    /// (a client that verified the node's token when it attested).
    pub fn verify_signature_with(&self, key: &VerifyingKey) -> Result<(), ReceiptError> {
        let sig = b64url_decode(&self.signature)
            .and_then(|s| <[u8; 64]>::try_from(s).ok())
            .ok_or(ReceiptError::Signature)?;
        key.verify_strict(&self.signed_bytes(), &Signature::from_bytes(&sig))
            .map_err(|_| ReceiptError::Signature)
    }

    /// Verifies the receipt offline against the attestation service's JWKS (and its
    /// issuer, if given).
    pub fn verify(
        &self,
        jwks: &Jwks,
        issuer: Option<&str>,
    ) -> Result<VerifiedInferenceReceipt, ReceiptError> {
        if self.kind != RECEIPT_KIND {
            return Err(ReceiptError::Kind(self.kind.clone()));
        }
        let jws = verify_with_jwks(&self.token, jwks, &[Algorithm::ES256])
            .map_err(ReceiptError::Token)?;
        let claims: AttestationClaims = serde_json::from_slice(&jws.payload)
            .map_err(|e| ReceiptError::Token(Refusal::Malformed(format!("claims: {e}"))))?;
        check_validity(
            claims.exp,
            Some(claims.nbf),
            Some(claims.iat),
            UnixTime(self.time),
            0,
        )
        .map_err(ReceiptError::Token)?;
        if let Some(expected) = issuer
            && claims.iss != expected
        {
            return Err(ReceiptError::Issuer {
                expected: expected.to_owned(),
                actual: claims.iss,
            });
        }
        let user_data = claims
            .runtime_data
            .as_ref()
            .map(|r| &r.user_data)
            .ok_or(ReceiptError::NoReceiptKey)?;
        let token_model = user_data
            .get(binding::MODEL_SHA256)
            .map(String::as_str)
            .unwrap_or("none");
        let pairs = [
            (
                "model_sha256",
                self.model_sha256.clone(),
                token_model.to_owned(),
            ),
            (
                "measurement",
                self.measurement.clone(),
                claims.measurement.clone(),
            ),
            (
                "platform",
                self.platform.to_string(),
                claims.platform.to_string(),
            ),
            (
                "hardware",
                self.hardware.to_string(),
                claims.hardware.to_string(),
            ),
        ];
        if let Some((field, receipt, token)) = pairs.into_iter().find(|(_, r, t)| r != t) {
            return Err(ReceiptError::Mismatch {
                field,
                receipt,
                token,
            });
        }
        let key_bytes = user_data
            .get(binding::RECEIPT_KEY)
            .and_then(|k| b64url_decode(k))
            .and_then(|k| <[u8; 32]>::try_from(k).ok())
            .ok_or(ReceiptError::NoReceiptKey)?;
        let key = VerifyingKey::from_bytes(&key_bytes).map_err(|_| ReceiptError::NoReceiptKey)?;
        self.verify_signature_with(&key)?;
        Ok(VerifiedInferenceReceipt {
            request_sha256: self.request_sha256.clone(),
            response_sha256: self.response_sha256.clone(),
            model_sha256: self.model_sha256.clone(),
            measurement: self.measurement.clone(),
            platform: self.platform,
            hardware: self.hardware,
            time: self.time,
            issuer: claims.iss,
            token_id: claims.jti,
        })
    }
}

impl VerifiedInferenceReceipt {
    /// Checks that `request` and/or `response` are the bytes the receipt covers.
    pub fn check_content(
        &self,
        request: Option<&[u8]>,
        response: Option<&[u8]>,
    ) -> Result<(), ReceiptError> {
        for (what, expected, given) in [
            ("request", &self.request_sha256, request),
            ("response", &self.response_sha256, response),
        ] {
            if let Some(bytes) = given {
                let actual = sha256_hex(bytes);
                if &actual != expected {
                    return Err(ReceiptError::Content {
                        what,
                        expected: expected.clone(),
                        actual,
                    });
                }
            }
        }
        Ok(())
    }
}
