//! The medical platform (`cairn health platform serve`): the hospital's patients
//! and diagnoses, kept in the `hospitalPlatform` private data collection of the
//! `health-records` contract (members: the hospital and the platform orgs), and
//! diagnoses asked of the diagnostics provider's attested inference node.
//!
//! The platform runs attested: it answers `POST /api/attestation` with a token bound
//! to the caller's nonce, and it calls the diagnostics node as an attested caller
//! ([`cairn_infer::caller`]): its token binds the node's audience, the node's fresh
//! nonce and the request's encapsulated key. It verifies the node first (measurement,
//! model on the registry, key binding), and records an audit of each diagnosis on
//! the channel.
//!
//! Invariants:
//! - patient data travels only in transient data and into the collection: never in
//!   a transaction's arguments (which every channel member and the orderers see),
//!   never in a URL (patients are named by opaque random ids, `pt_` + 128 bits), never
//!   in a log line (logs carry ids, statuses, sizes);
//! - the diagnostics node receives only the model input, sealed to its attested key;
//! - no diagnosis is returned unless its audit record committed.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use cairn_attest::claims::AttestationClaims;
use cairn_attest::jwk::b64url_decode;
use cairn_attest::{Attester, RuntimeData, WorkloadKey};
use cairn_attest_client::{AttestationClient, obtain_token};
use cairn_infer::caller::Caller;
use cairn_infer::client::{InferClient, InferError};
use cairn_infer::policy::ClientPolicy;
use cairn_infer::registry::ModelRegistry;
use cairn_peer::{GatewayClient, GatewayError, invocation};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tracing::{info, warn};

/// The records contract's name on the channel.
pub const RECORDS_CONTRACT: &str = "health-records";
/// The largest request body the platform reads.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// The user-data name under which the platform's token says what it is.
pub const SERVICE_KEY: &str = "cairn.health.service";
/// Its value.
pub const SERVICE_NAME: &str = "medical-platform";

/// The diagnostics provider as the platform calls it.
pub struct DiagnosticsLink {
    /// The inference node's URL.
    pub url: String,
    /// What the node must prove (measurement, model, issuer...).
    pub policy: ClientPolicy,
    /// The node's audience (what the platform's token binds).
    pub audience: String,
    /// The model registry on the ledger.
    pub registry: Arc<dyn ModelRegistry>,
}

/// What the platform needs to start.
pub struct PlatformConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// The platform org's client on its own peer.
    pub gateway: GatewayClient,
    /// The records contract's name.
    pub contract: String,
    /// The attestation service.
    pub attestation: AttestationClient,
    /// The platform's own evidence source.
    pub attester: Arc<dyn Attester>,
    /// The diagnostics node.
    pub diagnostics: DiagnosticsLink,
}

/// Why the platform did not start.
#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    /// The attestation service refused the platform's own evidence.
    #[error("the attestation service refused this platform: {0}")]
    Attestation(#[from] cairn_attest_client::ClientError),
    /// The diagnostics client could not be made.
    #[error("diagnostics client: {0}")]
    Diagnostics(#[from] InferError),
    /// A key or token could not be made or read.
    #[error("{0}")]
    Internal(String),
    /// The listening socket.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The error.
        source: std::io::Error,
    },
}

/// Public facts about a running platform.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PlatformInfo {
    /// Its measurement (from its first token).
    pub measurement: String,
    /// Its platform (`virtual` here).
    pub platform: String,
    /// Whether hardware vouches for it.
    pub hardware: bool,
    /// The diagnostics node it calls.
    pub diagnostics_url: String,
    /// That node's audience.
    pub diagnostics_audience: String,
}

/// A running platform.
pub struct RunningPlatform {
    /// The address it listens on.
    pub addr: SocketAddr,
    /// Its public facts.
    pub info: PlatformInfo,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for RunningPlatform {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Platform {
    gateway: GatewayClient,
    contract: String,
    attestation: AttestationClient,
    attester: Arc<dyn Attester>,
    workload_key: WorkloadKey,
    infer: InferClient,
    caller: Caller,
    info: PlatformInfo,
}

/// Claims of a token the attestation service just issued (already trusted here).
pub fn claims_of(token: &str) -> Option<AttestationClaims> {
    let payload = b64url_decode(token.split('.').nth(1)?)?;
    serde_json::from_slice(&payload).ok()
}

/// Starts the platform: attests itself once (so a refused platform fails now), then
/// serves the API.
pub async fn serve(config: PlatformConfig) -> Result<RunningPlatform, PlatformError> {
    let workload_key =
        WorkloadKey::generate().map_err(|e| PlatformError::Internal(e.to_string()))?;
    let (token, _) = obtain_token(
        &config.attestation,
        config.attester.as_ref(),
        &workload_key.public_jwk(),
    )
    .await?;
    let claims = claims_of(&token).ok_or_else(|| {
        PlatformError::Internal("the attestation service's token is not a JWS".into())
    })?;
    let info = PlatformInfo {
        measurement: claims.measurement.clone(),
        platform: claims.platform.to_string(),
        hardware: claims.hardware,
        diagnostics_url: config.diagnostics.url.clone(),
        diagnostics_audience: config.diagnostics.audience.clone(),
    };
    let infer = InferClient::new(&config.diagnostics.url, config.diagnostics.policy)?
        .with_registry(config.diagnostics.registry);
    let caller = Caller {
        attestation: config.attestation.clone(),
        attester: config.attester.clone(),
        audience: config.diagnostics.audience,
    };
    let platform = Arc::new(Platform {
        gateway: config.gateway,
        contract: config.contract,
        attestation: config.attestation,
        attester: config.attester,
        workload_key,
        infer,
        caller,
        info: info.clone(),
    });
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| PlatformError::Bind {
            addr: config.listen,
            source,
        })?;
    let addr = listener
        .local_addr()
        .map_err(|source| PlatformError::Bind {
            addr: config.listen,
            source,
        })?;
    info!(%addr, measurement = %info.measurement, platform = %info.platform, "medical platform serving");
    if !info.hardware {
        warn!("virtual platform: the medical platform is not hardware-attested");
    }
    let app = router(platform);
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            warn!(error = %e, "platform listener stopped");
        }
    });
    Ok(RunningPlatform { addr, info, task })
}

fn router(platform: Arc<Platform>) -> Router {
    Router::new()
        .route("/api/info", get(info_handler))
        .route("/api/attestation", post(attestation_handler))
        .route("/api/patients", post(admit_handler))
        .route("/api/patients/search", post(search_handler))
        .route("/api/patients/{id}", get(patient_handler))
        .route("/api/patients/{id}/diagnoses", post(diagnose_handler))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(platform)
}

/// An API error: a status and a message for people.
#[derive(Debug)]
struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, axum::Json(json!({ "error": self.1 }))).into_response()
    }
}

fn bad_request(msg: impl Into<String>) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, msg.into())
}

/// A gateway failure: the contract's own refusals (4xx from the peer) pass through
/// with their message; anything else is the network's failure (502).
fn gateway_error(what: &str, e: GatewayError) -> ApiError {
    if let GatewayError::Call(cairn_net::ClientError::Status {
        status, message, ..
    }) = &e
        && (400..500).contains(status)
    {
        let code = if message.contains("not found") {
            StatusCode::NOT_FOUND
        } else {
            StatusCode::BAD_REQUEST
        };
        return ApiError(code, message.clone());
    }
    warn!(error = %e, "{what} failed");
    ApiError(StatusCode::BAD_GATEWAY, format!("{what} failed: {e}"))
}

/// `N` bytes from the OS random source.
fn random_bytes<const N: usize>() -> Result<[u8; N], ApiError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| {
        ApiError(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("OS random source: {e}"),
        )
    })?;
    Ok(bytes)
}

/// `prefix` + 128 random bits, base64url (22 characters).
fn opaque_id(prefix: &str) -> Result<String, ApiError> {
    let bytes = random_bytes::<16>()?;
    Ok(format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    ))
}

/// Whether `id` has the shape of an opaque id with `prefix`.
pub fn is_opaque_id(prefix: &str, id: &str) -> bool {
    id.strip_prefix(prefix).is_some_and(|rest| {
        rest.len() == 22
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

fn patient_id(id: &str) -> Result<(), ApiError> {
    if is_opaque_id("pt_", id) {
        Ok(())
    } else {
        Err(bad_request(
            "a patient id is pt_ followed by 22 base64url characters (ids are opaque: look the patient up by name and date of birth)",
        ))
    }
}

fn json_object(body: &[u8], what: &str) -> Result<Value, ApiError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err(bad_request(format!("{what} must be a JSON object"))),
        Err(e) => Err(bad_request(format!("{what} is not JSON: {e}"))),
    }
}

fn payload_json(payload: &[u8], what: &str) -> Result<Value, ApiError> {
    serde_json::from_slice(payload).map_err(|e| {
        ApiError(
            StatusCode::BAD_GATEWAY,
            format!("{what}: the contract answered no JSON: {e}"),
        )
    })
}

impl Platform {
    async fn evaluate(
        &self,
        function: &str,
        args: &[&str],
        transient: BTreeMap<String, Vec<u8>>,
    ) -> Result<Value, ApiError> {
        let proposal = self
            .gateway
            .proposal(invocation(&self.contract, function, args), transient);
        let response = self
            .gateway
            .evaluate_proposal(&proposal)
            .await
            .map_err(|e| gateway_error(function, e))?;
        payload_json(&response.payload, function)
    }

    async fn submit(
        &self,
        function: &str,
        args: &[&str],
        transient: BTreeMap<String, Vec<u8>>,
    ) -> Result<(cairn_peer::Committed, Value), ApiError> {
        let committed = self
            .gateway
            .submit_invocation(invocation(&self.contract, function, args), transient, &[])
            .await
            .map_err(|e| gateway_error(function, e))?;
        let value = payload_json(&committed.payload, function)?;
        Ok((committed, value))
    }
}

async fn info_handler(State(p): State<Arc<Platform>>) -> Response {
    axum::Json(p.info.clone()).into_response()
}

#[derive(Deserialize)]
struct NonceBody {
    nonce: String,
}

/// The platform's token, bound to the caller's nonce (from the attestation service).
async fn attestation_handler(State(p): State<Arc<Platform>>, body: Bytes) -> Response {
    let Ok(req) = serde_json::from_slice::<NonceBody>(&body) else {
        return bad_request(
            "expected JSON {\"nonce\": \"...\"} with a fresh nonce from the attestation service",
        )
        .into_response();
    };
    let rd =
        RuntimeData::new(req.nonce, p.workload_key.public_jwk()).with_user_data(BTreeMap::from([
            (SERVICE_KEY.to_owned(), SERVICE_NAME.to_owned()),
        ]));
    let evidence = match p.attester.evidence(&rd.report_data()) {
        Ok(e) => e,
        Err(e) => {
            warn!(error = %e, "cannot produce evidence");
            return ApiError(
                StatusCode::INTERNAL_SERVER_ERROR,
                "cannot produce evidence".into(),
            )
            .into_response();
        }
    };
    match p
        .attestation
        .attest(p.attester.platform(), &evidence, Some(&rd))
        .await
    {
        Ok(token) => axum::Json(json!({ "token": token })).into_response(),
        Err(e) => ApiError(
            StatusCode::BAD_GATEWAY,
            format!("the attestation service refused the platform's evidence: {e}"),
        )
        .into_response(),
    }
}

async fn admit_handler(State(p): State<Arc<Platform>>, body: Bytes) -> Result<Response, ApiError> {
    json_object(&body, "the intake")?;
    let id = opaque_id("pt_")?;
    let (committed, _) = p
        .submit(
            "AdmitPatient",
            &[&id],
            BTreeMap::from([("patient".to_owned(), body.to_vec())]),
        )
        .await?;
    info!(patient = %id, txid = %committed.txid, "patient admitted");
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({ "id": id, "txid": committed.txid.to_string() })),
    )
        .into_response())
}

async fn search_handler(State(p): State<Arc<Platform>>, body: Bytes) -> Result<Response, ApiError> {
    json_object(&body, "the search")?;
    let found = p
        .evaluate(
            "FindPatients",
            &[],
            BTreeMap::from([("query".to_owned(), body.to_vec())]),
        )
        .await?;
    Ok(axum::Json(found).into_response())
}

async fn patient_handler(
    State(p): State<Arc<Platform>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    patient_id(&id)?;
    let patient = p.evaluate("GetPatient", &[&id], BTreeMap::new()).await?;
    let diagnoses = p.evaluate("ListDiagnoses", &[&id], BTreeMap::new()).await?;
    Ok(axum::Json(json!({
        "patient": patient,
        "diagnoses": diagnoses.get("diagnoses").cloned().unwrap_or(Value::Array(vec![])),
    }))
    .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DiagnoseBody {
    features: Vec<f64>,
}

/// The most input values one diagnosis takes.
const MAX_FEATURES: usize = 4096;

async fn diagnose_handler(
    State(p): State<Arc<Platform>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    patient_id(&id)?;
    let req: DiagnoseBody = serde_json::from_slice(&body).map_err(|e| {
        bad_request(format!(
            "expected JSON {{\"features\": [numbers]}} (the model's input row): {e}"
        ))
    })?;
    if req.features.is_empty() || req.features.len() > MAX_FEATURES {
        return Err(bad_request(format!(
            "features: {} values; give one input row of 1 to {MAX_FEATURES} numbers",
            req.features.len()
        )));
    }
    let row: Vec<f32> = req.features.iter().map(|v| *v as f32).collect();
    if row.iter().any(|v| !v.is_finite()) {
        return Err(bad_request(
            "features: every value must be a finite 32-bit number",
        ));
    }
    // The patient must exist before anything leaves for the diagnostics provider.
    p.evaluate("GetPatient", &[&id], BTreeMap::new()).await?;

    let node = p.infer.attest().await.map_err(|e| {
        warn!(error = %e, "the diagnostics node failed verification");
        ApiError(
            StatusCode::BAD_GATEWAY,
            format!("the diagnostics service failed verification: {e}"),
        )
    })?;
    let (answer, proof) = p
        .infer
        .infer_as(&node, vec![row], &p.caller)
        .await
        .map_err(|e| {
            warn!(error = %e, "the diagnostics node did not answer");
            ApiError(
                StatusCode::BAD_GATEWAY,
                format!("the diagnostics service did not answer: {e}"),
            )
        })?;
    let probability = answer
        .outputs
        .first()
        .and_then(|r| r.first())
        .copied()
        .ok_or_else(|| {
            ApiError(
                StatusCode::BAD_GATEWAY,
                "the diagnostics service answered no output".into(),
            )
        })?;
    let label = if probability >= 0.5 {
        "malignant"
    } else {
        "benign"
    };
    let platform_claims = claims_of(&proof.token).ok_or_else(|| {
        ApiError(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the platform's own token is not a JWS".into(),
        )
    })?;
    let receipt_json = serde_json::to_vec(&answer.receipt).unwrap_or_default();
    let receipt_sha256 = hex::encode(Sha256::digest(&receipt_json));
    let (model_name, model_version) = node
        .registered
        .as_ref()
        .map(|m| (m.name.clone(), m.version.clone()))
        .unwrap_or_default();
    let dx = opaque_id("dx_")?;
    let result = json!({ "label": label, "probability": probability, "outputs": answer.outputs });
    let record = json!({
        "patientId": id,
        "features": req.features,
        "result": result,
        "model": { "name": model_name, "version": model_version, "sha256": node.model_sha256 },
        "platform": { "measurement": platform_claims.measurement, "tokenJti": platform_claims.jti },
        "diagnostics": { "measurement": node.claims.measurement, "tokenJti": node.claims.jti },
        "inferenceReceiptSha256": receipt_sha256,
    });
    // A secret salt seed: without it the audit's salt would follow from public data
    // (txid, diagnosis id) and the hashes could be tested against guesses.
    let seed = random_bytes::<32>()?;
    let (committed, recorded) = p
        .submit(
            "RecordDiagnosis",
            &[&dx],
            BTreeMap::from([
                ("diagnosis".to_owned(), record.to_string().into_bytes()),
                ("saltSeed".to_owned(), seed.to_vec()),
            ]),
        )
        .await?;
    info!(patient = %id, diagnosis = %dx, txid = %committed.txid, block = committed.block, "diagnosis recorded");
    let created_at = recorded
        .get("audit")
        .and_then(|a| a.get("recordedAt"))
        .cloned()
        .unwrap_or(Value::Null);
    Ok(axum::Json(json!({
        "diagnosis": {
            "id": dx,
            "patientId": id,
            "label": label,
            "probability": probability,
            "model": { "name": model_name, "version": model_version, "sha256": node.model_sha256 },
            "createdAt": created_at,
        },
        "chain": {
            "platform_token": proof.token,
            "diagnostics_token": node.token,
            "audience": proof.audience,
            "nonce": proof.nonce,
        },
        "audit": {
            "txid": committed.txid.to_string(),
            "block": committed.block,
            "record": recorded.get("audit").cloned().unwrap_or(Value::Null),
        },
        "inference_receipt": answer.receipt,
        "notice": answer.notice,
    }))
    .into_response())
}
