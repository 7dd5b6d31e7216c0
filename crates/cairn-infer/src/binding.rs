//! What an inference node's attestation token binds, besides the nonce.
//!
//! The token's `runtime_data.tee_pubkey` is the node's current HPKE public key
//! (X25519), and `runtime_data.user_data` names three values the report data binds
//! with it (see `cairn_attest::binding`):
//!
//! | name | value |
//! |---|---|
//! | [`MODEL_SHA256`] | SHA-256 of the ONNX model the node serves (hex) |
//! | [`KEY_CONFIG_SHA256`] | SHA-256 of the node's encoded OHTTP key configuration (hex) |
//! | [`RECEIPT_KEY`] | the Ed25519 key that signs inference receipts (base64url) |
//!
//! Binding the whole key configuration (not only the public key) also binds its key
//! id and the AEADs offered, so a host cannot offer a weaker suite under the same key.

use std::collections::BTreeMap;

use cairn_attest::PublicJwk;
use cairn_attest::jwk::b64url;

use crate::ohttp::KeyConfig;

/// User-data name: the served model's SHA-256.
pub const MODEL_SHA256: &str = "cairn.infer.model_sha256";
/// User-data name: SHA-256 of the encoded OHTTP key configuration.
pub const KEY_CONFIG_SHA256: &str = "cairn.infer.key_config_sha256";
/// User-data name: the receipt-signing Ed25519 public key, base64url.
pub const RECEIPT_KEY: &str = "cairn.infer.receipt_key";

/// The user data an inference node binds into its attestation evidence.
pub fn user_data(
    model_sha256: &str,
    key_config: &KeyConfig,
    receipt_key: &ed25519_dalek::VerifyingKey,
) -> BTreeMap<String, String> {
    BTreeMap::from([
        (MODEL_SHA256.to_owned(), model_sha256.to_owned()),
        (KEY_CONFIG_SHA256.to_owned(), key_config.sha256_hex()),
        (RECEIPT_KEY.to_owned(), b64url(receipt_key.as_bytes())),
    ])
}

/// The token's `tee_pubkey` for a key configuration: its X25519 public key.
pub fn tee_pubkey(key_config: &KeyConfig) -> PublicJwk {
    PublicJwk::X25519(key_config.public_key)
}
