//! The service's HTTP surface and the messages inside the encapsulation.
//!
//! Outer (plain HTTP; only public material and sealed bytes cross it):
//!
//! | method | path | body | answer |
//! |---|---|---|---|
//! | GET | [`KEYS_PATH`] | – | `application/ohttp-keys`: the current key configuration |
//! | POST | [`ATTEST_PATH`] | [`AttestRequest`] (a nonce from the attestation service) | [`AttestResponse`]: a fresh token binding the key configuration, model and receipt key |
//! | GET | [`INFO_PATH`] | – | [`NodeInfo`]: model, measurement, key id |
//! | POST | [`INFER_PATH`] | `message/ohttp-req` | `message/ohttp-res` |
//!
//! Inner (RFC 9292 binary HTTP inside the encapsulation): `POST` [`PREDICT_PATH`]
//! with a JSON [`PredictRequest`]; the answer's body is a JSON [`PredictResponse`]
//! or, for an error, an [`ErrorBody`] with a 4xx/5xx status. Every inner answer has
//! a [`RECEIPT_HEADER`] (base64url JSON of an
//! [`InferenceReceipt`](crate::receipt::InferenceReceipt)) and, when the request
//! used a retiring key, an [`OUTDATED_HEADER`] naming the current key id.

use serde::{Deserialize, Serialize};

use crate::registry::RegisteredModel;

/// Outer path: the key configuration.
pub const KEYS_PATH: &str = "/v1/ohttp-keys";
/// Outer path: a fresh attestation for a client's nonce.
pub const ATTEST_PATH: &str = "/v1/attest";
/// Outer path: public facts about the node.
pub const INFO_PATH: &str = "/v1/info";
/// Outer path: encapsulated inference requests.
pub const INFER_PATH: &str = "/v1/infer";
/// Inner path of a prediction.
pub const PREDICT_PATH: &str = "/v1/predict";
/// Inner response header carrying the signed receipt.
pub const RECEIPT_HEADER: &str = "cairn-receipt";
/// Inner response header telling the client its key configuration is outdated.
pub const OUTDATED_HEADER: &str = "cairn-key-outdated";
/// The largest encapsulated request the service reads (bytes).
pub const MAX_REQUEST_BYTES: usize = 1 << 20;

/// A client's request for a fresh attestation.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttestRequest {
    /// A nonce the client obtained from the attestation service.
    pub nonce: String,
}

/// A node's fresh attestation.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttestResponse {
    /// The attestation token (compact JWS).
    pub token: String,
    /// The encoded OHTTP key configuration the token binds, base64url.
    pub key_config: String,
}

/// Public facts about a node.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NodeInfo {
    /// The served model's hash.
    pub model_sha256: String,
    /// Its registration, if the node checked one.
    pub model: Option<RegisteredModel>,
    /// The node's measurement.
    pub measurement: String,
    /// Its platform.
    pub platform: String,
    /// False for the virtual platform.
    pub hardware: bool,
    /// The current OHTTP key id.
    pub key_id: u8,
    /// SHA-256 of the current key configuration.
    pub key_config_sha256: String,
}

/// A prediction request: rows of features.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PredictRequest {
    /// One row of model inputs per case.
    pub rows: Vec<Vec<f32>>,
}

/// A prediction: one output row per input row.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PredictResponse {
    /// The model's outputs.
    pub outputs: Vec<Vec<f32>>,
    /// The model that computed them.
    pub model_sha256: String,
}

/// An error answered inside the encapsulation.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorBody {
    /// What was wrong and what to do.
    pub error: String,
}
