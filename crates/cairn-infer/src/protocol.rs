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

/// Media type of JSON bodies ([`PredictRequest`], [`PredictResponse`], [`ErrorBody`]).
pub const JSON_MEDIA_TYPE: &str = "application/json";
/// Media type of binary rows: `u32le rows || u32le columns || rows × columns f32le`;
/// a binary prediction is the model's 32-byte SHA-256 followed by its rows. Large
/// inputs (images) cost a copy, not a decimal parse, so the price of confidentiality
/// stays close to the cryptography's.
pub const ROWS_MEDIA_TYPE: &str = "application/vnd.cairn.f32-rows";

/// How a prediction request and its answer are encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyFormat {
    /// [`JSON_MEDIA_TYPE`].
    Json,
    /// [`ROWS_MEDIA_TYPE`].
    Rows,
}

impl BodyFormat {
    /// Its media type.
    pub fn media_type(self) -> &'static str {
        match self {
            BodyFormat::Json => JSON_MEDIA_TYPE,
            BodyFormat::Rows => ROWS_MEDIA_TYPE,
        }
    }

    /// The format a content type names (none: JSON).
    pub fn from_content_type(content_type: Option<&str>) -> Option<Self> {
        match content_type.map(|c| c.split(';').next().unwrap_or("").trim()) {
            None | Some(JSON_MEDIA_TYPE) => Some(BodyFormat::Json),
            Some(ROWS_MEDIA_TYPE) => Some(BodyFormat::Rows),
            Some(_) => None,
        }
    }

    /// Encodes a request's rows.
    pub fn encode_rows(self, rows: &[Vec<f32>]) -> Result<Vec<u8>, String> {
        match self {
            BodyFormat::Json => serde_json::to_vec(&PredictRequest {
                rows: rows.to_vec(),
            })
            .map_err(|e| e.to_string()),
            BodyFormat::Rows => rows_to_bytes(rows),
        }
    }

    /// Decodes a request's rows.
    pub fn decode_rows(self, body: &[u8]) -> Result<Vec<Vec<f32>>, String> {
        match self {
            BodyFormat::Json => serde_json::from_slice::<PredictRequest>(body)
                .map(|r| r.rows)
                .map_err(|e| format!("the request body is not {{\"rows\": [[numbers]]}}: {e}")),
            BodyFormat::Rows => rows_from_bytes(body),
        }
    }

    /// Encodes a prediction.
    pub fn encode_prediction(self, p: &PredictResponse) -> Result<Vec<u8>, String> {
        match self {
            BodyFormat::Json => serde_json::to_vec(p).map_err(|e| e.to_string()),
            BodyFormat::Rows => {
                let mut out = hex::decode(&p.model_sha256).map_err(|e| e.to_string())?;
                out.extend(rows_to_bytes(&p.outputs)?);
                Ok(out)
            }
        }
    }

    /// Decodes a prediction.
    pub fn decode_prediction(self, body: &[u8]) -> Result<PredictResponse, String> {
        match self {
            BodyFormat::Json => serde_json::from_slice(body).map_err(|e| e.to_string()),
            BodyFormat::Rows => {
                let (hash, rows) = body
                    .split_at_checked(32)
                    .ok_or("a binary prediction starts with the model's 32-byte SHA-256")?;
                Ok(PredictResponse {
                    outputs: rows_from_bytes(rows)?,
                    model_sha256: hex::encode(hash),
                })
            }
        }
    }
}

fn rows_to_bytes(rows: &[Vec<f32>]) -> Result<Vec<u8>, String> {
    let cols = rows.first().map_or(0, Vec::len);
    if let Some(i) = rows.iter().position(|r| r.len() != cols) {
        return Err(format!(
            "row {i} has {} values, row 0 has {cols}: binary rows must all be as wide",
            rows[i].len()
        ));
    }
    let n = |x: usize| u32::try_from(x).map_err(|_| "too many rows or columns".to_owned());
    let mut out = Vec::with_capacity(8 + rows.len() * cols * 4);
    out.extend_from_slice(&n(rows.len())?.to_le_bytes());
    out.extend_from_slice(&n(cols)?.to_le_bytes());
    for v in rows.iter().flatten() {
        out.extend_from_slice(&v.to_le_bytes());
    }
    Ok(out)
}

fn rows_from_bytes(body: &[u8]) -> Result<Vec<Vec<f32>>, String> {
    let word = |i: usize| {
        body.get(i..i + 4)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map(u32::from_le_bytes)
            .ok_or("binary rows start with u32le rows and u32le columns")
    };
    let (rows, cols) = (word(0)? as usize, word(4)? as usize);
    let expected = rows
        .checked_mul(cols)
        .and_then(|n| n.checked_mul(4))
        .and_then(|n| n.checked_add(8));
    if expected != Some(body.len()) {
        return Err(format!(
            "binary rows: {rows} rows of {cols} f32 need {} bytes, the body has {}",
            expected.map_or("too many".to_owned(), |n| n.to_string()),
            body.len()
        ));
    }
    if cols == 0 {
        return Ok(vec![Vec::new(); rows]);
    }
    Ok(body[8..]
        .chunks_exact(cols * 4)
        .map(|row| {
            row.chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect()
        })
        .collect())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::*;

    #[test]
    fn binary_rows_round_trip_and_refuse_wrong_lengths() {
        let rows = vec![vec![1.0, -2.5, f32::MAX], vec![0.0, 3.25, 1e-30]];
        let bytes = BodyFormat::Rows.encode_rows(&rows).unwrap();
        assert_eq!(bytes.len(), 8 + 6 * 4);
        assert_eq!(BodyFormat::Rows.decode_rows(&bytes).unwrap(), rows);
        let err = BodyFormat::Rows
            .decode_rows(&bytes[..bytes.len() - 1])
            .unwrap_err();
        assert!(err.contains("need 32 bytes, the body has 31"), "{err}");
        let mut huge = bytes.clone();
        huge[..8].copy_from_slice(&[0xff; 8]);
        assert!(BodyFormat::Rows.decode_rows(&huge).is_err());
        let ragged = BodyFormat::Rows.encode_rows(&[vec![1.0], vec![1.0, 2.0]]);
        assert!(ragged.unwrap_err().contains("row 1"));

        let p = PredictResponse {
            outputs: vec![vec![0.25]],
            model_sha256: "ab".repeat(32),
        };
        for f in [BodyFormat::Rows, BodyFormat::Json] {
            let back = f
                .decode_prediction(&f.encode_prediction(&p).unwrap())
                .unwrap();
            assert_eq!(back.outputs, p.outputs);
            assert_eq!(back.model_sha256, p.model_sha256);
        }
        assert_eq!(
            BodyFormat::from_content_type(Some("application/json; charset=utf-8")),
            Some(BodyFormat::Json)
        );
        assert_eq!(BodyFormat::from_content_type(Some("text/csv")), None);
    }
}
