//! The client: verify a node against a policy, then seal requests to it.
//!
//! [`InferClient::attest`] is how every product path (the CLI included) gets a
//! [`VerifiedNode`], and [`InferClient::infer`] takes one, so no request is sealed
//! to a key that was not verified (the type's fields are public only so the
//! benchmark can build one without a service). The checks, in order: a fresh nonce from the attestation
//! service; the node's token against that service's JWKS (signature, issuer,
//! expiry, nonce, measurement on the policy's list, platform: `virtual` only if
//! the policy allows it, and the token's key is the key configuration's); the
//! model hash the token binds is on the policy's list; the key configuration the
//! node sent is the one the token binds (SHA-256 of its encoding); a receipt key is
//! bound; and, if the policy says so, the model is registered on the ledger and not
//! revoked. Each failure is its own [`Refusal`].
//!
//! Every answer from a `virtual` node carries [`VIRTUAL_NOTICE`].

use std::sync::Arc;

use cairn_attest::claims::AttestationClaims;
use cairn_attest::jwk::b64url_decode;
use cairn_attest::{Expectations, Jwks, PublicJwk, UnixTime, verify_token};
use cairn_attest_client::{AttestationClient, ClientError};
use ed25519_dalek::VerifyingKey;

use crate::binding;
use crate::ohttp::{
    InnerRequest, InnerResponse, KeyConfig, OhttpError, REQUEST_MEDIA_TYPE, encapsulate_request,
};
use crate::policy::ClientPolicy;
use crate::protocol::{
    ATTEST_PATH, AttestRequest, AttestResponse, BodyFormat, ErrorBody, INFER_PATH, OUTDATED_HEADER,
    PREDICT_PATH, RECEIPT_HEADER,
};
use crate::receipt::{InferenceReceipt, ReceiptError, sha256_hex};
use crate::registry::{self, ModelRegistry, NotRegistered, RegisteredModel, RegistryError};

/// Printed with every answer from a node on the software-only platform.
pub const VIRTUAL_NOTICE: &str = "virtual: not hardware-attested";

/// Why the client refuses a node or an answer.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// The token failed a check (issuer, expiry, nonce, measurement, platform,
    /// key binding, signature...): the inner refusal says which.
    #[error("attestation token refused: {0}")]
    Token(#[from] cairn_attest::Refusal),
    /// The token binds a model the policy does not list.
    #[error(
        "the node serves model {model}, which the policy does not list (expected one of: {expected})"
    )]
    ModelNotExpected {
        /// The model the token binds.
        model: String,
        /// The policy's models, comma-separated.
        expected: String,
    },
    /// The key configuration the node sent is not the one its token binds.
    #[error("key binding: the node sent key configuration {served}, but its token binds {bound}")]
    KeyConfigMismatch {
        /// SHA-256 of the configuration the node sent.
        served: String,
        /// The hash the token binds (`none` if absent).
        bound: String,
    },
    /// The token lacks a value an inference node must bind.
    #[error("the token does not bind {0}: not an inference node's token")]
    MissingBinding(&'static str),
    /// The policy requires a registered model and it is not (or is revoked).
    #[error("model registry: {0}")]
    NotRegistered(#[from] NotRegistered),
    /// The policy requires a registered model but the client has no registry.
    #[error("the policy requires a registered model, but no registry (gateway) was given")]
    NoRegistry,
    /// An answer's receipt does not verify or does not match the exchange.
    #[error("the answer's receipt is invalid: {0}")]
    Receipt(String),
    /// The node's challenge names another audience than the caller expects.
    #[error("the node's challenge names audience {actual:?}; this caller expects {expected:?}")]
    Audience {
        /// The audience the caller is configured to call.
        expected: String,
        /// The one the node named.
        actual: String,
    },
}

/// Why an inference call failed.
#[derive(Debug, thiserror::Error)]
pub enum InferError {
    /// The node or an answer was refused.
    #[error("refused: {0}")]
    Refused(#[from] Refusal),
    /// The attestation service could not be used.
    #[error("attestation service: {0}")]
    Attestation(#[from] ClientError),
    /// The registry could not be asked.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The node could not be reached.
    #[error("inference node {url}: {detail}")]
    Transport {
        /// The URL.
        url: String,
        /// What failed.
        detail: String,
    },
    /// The node answered outside the encapsulation (it could not open the request).
    #[error("inference node answered {status}: {text}")]
    Status {
        /// HTTP status.
        status: u16,
        /// Its plaintext explanation.
        text: String,
    },
    /// Sealing or opening failed (an altered or foreign response).
    #[error("encapsulation: {0}")]
    Ohttp(#[from] OhttpError),
    /// The node answered an error inside the sealed channel.
    #[error("the node refused the request ({status}): {error}")]
    Inner {
        /// Inner HTTP status.
        status: u16,
        /// The node's explanation.
        error: String,
        /// The receipt for the refusal.
        receipt: Box<InferenceReceipt>,
    },
    /// The answer is not what the protocol says.
    #[error("protocol: {0}")]
    Protocol(String),
}

/// A node that passed every check of the policy.
#[derive(Clone, Debug)]
pub struct VerifiedNode {
    /// The key configuration requests are sealed to.
    pub key_config: KeyConfig,
    /// The verified token's claims.
    pub claims: AttestationClaims,
    /// The verified token itself (for a caller's audit trail).
    pub token: String,
    /// The model the node serves.
    pub model_sha256: String,
    /// The key that signs the node's receipts.
    pub receipt_key: VerifyingKey,
    /// The registration, when the policy required one.
    pub registered: Option<RegisteredModel>,
    /// [`VIRTUAL_NOTICE`] for a virtual node.
    pub notice: Option<&'static str>,
}

/// One answered request.
#[derive(Clone, Debug)]
pub struct Answer {
    /// The model's outputs, one row per input row.
    pub outputs: Vec<Vec<f32>>,
    /// The node's signed receipt.
    pub receipt: InferenceReceipt,
    /// The request body the receipt covers.
    pub request_body: Vec<u8>,
    /// The result body the receipt covers.
    pub response_body: Vec<u8>,
    /// Set when the node says the key configuration is outdated (attest again).
    pub outdated_key: Option<u8>,
    /// [`VIRTUAL_NOTICE`] for a virtual node.
    pub notice: Option<&'static str>,
}

/// A client of one inference node.
pub struct InferClient {
    pub(crate) http: reqwest::Client,
    pub(crate) base: String,
    pub(crate) policy: ClientPolicy,
    attestation: AttestationClient,
    registry: Option<Arc<dyn ModelRegistry>>,
    clock: fn() -> UnixTime,
}

/// The body of a 2xx answer; any other status is [`InferError::Status`] with the
/// node's plaintext explanation.
pub(crate) async fn success_body(
    url: &str,
    resp: reqwest::Response,
) -> Result<Vec<u8>, InferError> {
    let status = resp.status();
    let bytes = resp.bytes().await.map_err(|e| transport(url, e))?;
    if !status.is_success() {
        return Err(InferError::Status {
            status: status.as_u16(),
            text: String::from_utf8_lossy(&bytes).trim().to_owned(),
        });
    }
    Ok(bytes.to_vec())
}

pub(crate) fn transport(url: &str, e: impl std::fmt::Display) -> InferError {
    InferError::Transport {
        url: url.to_owned(),
        detail: e.to_string(),
    }
}

impl InferClient {
    /// A client of the node at `base_url`, checking it against `policy`.
    pub fn new(base_url: &str, policy: ClientPolicy) -> Result<Self, InferError> {
        cairn_attest_client::install_crypto_provider();
        let ca = policy
            .attestation_ca
            .as_ref()
            .map(|p| {
                std::fs::read(p).map_err(|e| {
                    InferError::Attestation(ClientError::Ca(format!("{}: {e}", p.display())))
                })
            })
            .transpose()?;
        let attestation = AttestationClient::new(&policy.attestation_url, ca.as_deref())?;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| transport(base_url, e))?;
        Ok(Self {
            http,
            base: base_url.trim_end_matches('/').to_owned(),
            policy,
            attestation,
            registry: None,
            clock: UnixTime::now,
        })
    }

    /// Uses `registry` for the policy's `require_registered`.
    pub fn with_registry(mut self, registry: Arc<dyn ModelRegistry>) -> Self {
        self.registry = Some(registry);
        self
    }

    /// Reads time from `clock` (tests use a skewed clock to show expiry checks).
    pub fn with_clock(mut self, clock: fn() -> UnixTime) -> Self {
        self.clock = clock;
        self
    }

    /// The policy.
    pub fn policy(&self) -> &ClientPolicy {
        &self.policy
    }

    /// The attestation service's JWKS (what offline receipt verification trusts).
    pub async fn jwks_json(&self) -> Result<Vec<u8>, InferError> {
        Ok(self.attestation.jwks_json().await?)
    }

    /// Gets a nonce, asks the node for a token bound to it, and verifies the node.
    pub async fn attest(&self) -> Result<VerifiedNode, InferError> {
        let nonce = self.attestation.nonce().await?.nonce;
        let resp = self.fetch_attestation(&nonce).await?;
        let jwks = self.attestation.jwks().await?;
        self.verify(&resp, &jwks, &nonce).await
    }

    /// Asks the node to attest to `nonce`.
    pub async fn fetch_attestation(&self, nonce: &str) -> Result<AttestResponse, InferError> {
        let url = format!("{}{ATTEST_PATH}", self.base);
        let resp = self
            .http
            .post(&url)
            .json(&AttestRequest {
                nonce: nonce.to_owned(),
            })
            .send()
            .await
            .map_err(|e| transport(&url, e))?;
        let bytes = success_body(&url, resp).await?;
        serde_json::from_slice(&bytes)
            .map_err(|e| InferError::Protocol(format!("{url} answered no attestation: {e}")))
    }

    /// Verifies a node's attestation against the policy (every check but the nonce's
    /// freshness, which `nonce` stands for).
    pub async fn verify(
        &self,
        resp: &AttestResponse,
        jwks: &Jwks,
        nonce: &str,
    ) -> Result<VerifiedNode, InferError> {
        let config_bytes = b64url_decode(&resp.key_config)
            .ok_or_else(|| InferError::Protocol("key_config is not base64url".into()))?;
        let key_config = KeyConfig::decode(&config_bytes)?;
        let mut expect = Expectations::new(&self.policy.issuer)
            .with_measurements(&self.policy.measurements)
            .with_nonce(nonce)
            .with_tee_pubkey(PublicJwk::X25519(key_config.public_key));
        if self.policy.allow_virtual {
            expect = expect.allowing_virtual();
        }
        let verified =
            verify_token(&resp.token, jwks, &expect, (self.clock)()).map_err(Refusal::Token)?;
        let claims = verified.claims;
        let user_data = claims
            .runtime_data
            .as_ref()
            .map(|r| r.user_data.clone())
            .unwrap_or_default();
        let model = user_data
            .get(binding::MODEL_SHA256)
            .cloned()
            .ok_or(Refusal::MissingBinding(binding::MODEL_SHA256))?;
        if !self.policy.models.contains(&model) {
            return Err(Refusal::ModelNotExpected {
                model,
                expected: self
                    .policy
                    .models
                    .iter()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
            }
            .into());
        }
        let served = key_config.sha256_hex();
        let bound = user_data
            .get(binding::KEY_CONFIG_SHA256)
            .cloned()
            .unwrap_or_else(|| "none".into());
        if served != bound {
            return Err(Refusal::KeyConfigMismatch { served, bound }.into());
        }
        let receipt_key = user_data
            .get(binding::RECEIPT_KEY)
            .and_then(|k| b64url_decode(k))
            .and_then(|k| <[u8; 32]>::try_from(k).ok())
            .and_then(|k| VerifyingKey::from_bytes(&k).ok())
            .ok_or(Refusal::MissingBinding(binding::RECEIPT_KEY))?;
        let registered = if self.policy.require_registered {
            let registry = self.registry.as_ref().ok_or(Refusal::NoRegistry)?;
            let found = registry.find_by_hash(&model).await?;
            Some(registry::check(&model, found, None).map_err(Refusal::NotRegistered)?)
        } else {
            None
        };
        let notice = (!claims.hardware).then_some(VIRTUAL_NOTICE);
        Ok(VerifiedNode {
            key_config,
            claims,
            token: resp.token.clone(),
            model_sha256: model,
            receipt_key,
            registered,
            notice,
        })
    }

    /// Seals `rows` to a verified node (binary rows), sends them and opens the answer.
    pub async fn infer(
        &self,
        node: &VerifiedNode,
        rows: Vec<Vec<f32>>,
    ) -> Result<Answer, InferError> {
        let body = BodyFormat::Rows
            .encode_rows(&rows)
            .map_err(|e| InferError::Protocol(format!("cannot encode the rows: {e}")))?;
        let (sealed, ctx) = self.seal_as(node, &body, BodyFormat::Rows)?;
        let answer = self.send(&sealed).await?;
        self.open(node, ctx, &answer, body)
    }

    /// [`infer`](Self::infer) with a JSON request body as given (tests send malformed ones).
    pub async fn infer_raw(
        &self,
        node: &VerifiedNode,
        body: Vec<u8>,
    ) -> Result<Answer, InferError> {
        let (sealed, ctx) = self.seal(node, &body)?;
        let answer = self.send(&sealed).await?;
        self.open(node, ctx, &answer, body)
    }

    /// Seals one JSON request body to `node`.
    pub fn seal(
        &self,
        node: &VerifiedNode,
        body: &[u8],
    ) -> Result<(Vec<u8>, crate::ohttp::ClientContext), InferError> {
        self.seal_as(node, body, BodyFormat::Json)
    }

    /// Seals one request body in `format` to `node`.
    pub fn seal_as(
        &self,
        node: &VerifiedNode,
        body: &[u8],
        format: BodyFormat,
    ) -> Result<(Vec<u8>, crate::ohttp::ClientContext), InferError> {
        let inner = InnerRequest {
            method: "POST".into(),
            path: PREDICT_PATH.into(),
            headers: vec![("content-type".into(), format.media_type().into())],
            body: body.to_vec(),
        }
        .encode()?;
        Ok(encapsulate_request(
            &node.key_config,
            self.policy.aead,
            &inner,
        )?)
    }

    /// Posts sealed bytes to the node; returns the sealed answer.
    pub async fn send(&self, sealed: &[u8]) -> Result<Vec<u8>, InferError> {
        let url = format!("{}{INFER_PATH}", self.base);
        let resp = self
            .http
            .post(&url)
            .header(reqwest::header::CONTENT_TYPE, REQUEST_MEDIA_TYPE)
            .body(sealed.to_vec())
            .send()
            .await
            .map_err(|e| transport(&url, e))?;
        success_body(&url, resp).await
    }

    /// Opens a sealed answer and checks its receipt against the node and the exchange.
    pub fn open(
        &self,
        node: &VerifiedNode,
        ctx: crate::ohttp::ClientContext,
        sealed: &[u8],
        request_body: Vec<u8>,
    ) -> Result<Answer, InferError> {
        let inner = InnerResponse::decode(&ctx.open_response(sealed)?)?;
        let receipt = inner
            .header(RECEIPT_HEADER)
            .and_then(b64url_decode)
            .and_then(|j| serde_json::from_slice::<InferenceReceipt>(&j).ok())
            .ok_or_else(|| Refusal::Receipt("the answer carries no receipt".into()))?;
        check_receipt(node, &receipt, &request_body, &inner.body)?;
        let outdated_key = inner.header(OUTDATED_HEADER).and_then(|v| v.parse().ok());
        if inner.status != 200 {
            let error = serde_json::from_slice::<ErrorBody>(&inner.body)
                .map(|e| e.error)
                .unwrap_or_else(|_| String::from_utf8_lossy(&inner.body).into_owned());
            return Err(InferError::Inner {
                status: inner.status,
                error,
                receipt: Box::new(receipt),
            });
        }
        let format =
            BodyFormat::from_content_type(inner.header("content-type")).ok_or_else(|| {
                InferError::Protocol("the answer's content type is not a prediction's".into())
            })?;
        let result = format
            .decode_prediction(&inner.body)
            .map_err(|e| InferError::Protocol(format!("the answer is not a prediction: {e}")))?;
        if result.model_sha256 != node.model_sha256 {
            return Err(Refusal::Receipt(format!(
                "the answer names model {}, the node attested {}",
                result.model_sha256, node.model_sha256
            ))
            .into());
        }
        Ok(Answer {
            outputs: result.outputs,
            receipt,
            request_body,
            response_body: inner.body,
            outdated_key,
            notice: node.notice,
        })
    }
}

/// A node's public facts ([`INFO_PATH`](crate::protocol::INFO_PATH)); unverified,
/// for operators.
pub async fn fetch_info(base_url: &str) -> Result<crate::protocol::NodeInfo, InferError> {
    let url = format!(
        "{}{}",
        base_url.trim_end_matches('/'),
        crate::protocol::INFO_PATH
    );
    cairn_attest_client::install_crypto_provider();
    let resp = reqwest::get(&url).await.map_err(|e| transport(&url, e))?;
    let bytes = success_body(&url, resp).await?;
    serde_json::from_slice(&bytes).map_err(|e| InferError::Protocol(format!("{url}: {e}")))
}

/// The receipt of an answer must be signed by the node's receipt key and cover
/// exactly this request and answer, this model and this measurement.
fn check_receipt(
    node: &VerifiedNode,
    receipt: &InferenceReceipt,
    request: &[u8],
    response: &[u8],
) -> Result<(), Refusal> {
    let bad = |what: String| Err(Refusal::Receipt(what));
    if receipt.request_sha256 != sha256_hex(request) {
        return bad("it covers another request".into());
    }
    if receipt.response_sha256 != sha256_hex(response) {
        return bad("it covers another answer".into());
    }
    if receipt.model_sha256 != node.model_sha256 {
        return bad(format!("it names model {}", receipt.model_sha256));
    }
    if receipt.measurement != node.claims.measurement {
        return bad(format!("it names measurement {}", receipt.measurement));
    }
    receipt
        .verify_signature_with(&node.receipt_key)
        .map_err(|e: ReceiptError| Refusal::Receipt(e.to_string()))
}
