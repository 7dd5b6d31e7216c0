//! Shared by the portal's browser tests: the portal files as the server embeds
//! them, tokens minted with `cairn_attest`'s issuer, and a stand-in for the
//! portal server (policy, JWKS, nonces, attestation, patients, diagnoses,
//! receipts) whose handlers record what the page sent.

#![allow(
    dead_code,
    reason = "each test file uses its own part of this support module"
)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cairn_attest::{
    AttestationClaims, KeyRing, Platform, PolicyRef, PublicJwk, RuntimeData, UnixTime, fresh_jti,
};
use cairn_testkit::browser::Browser;
use cairn_testkit::browser::fantoccini::Locator;
use serde_json::{Value, json};

pub const INDEX: &str = include_str!("../../portal/index.html");
pub const APP: &str = include_str!("../../portal/app.js");
pub const VERIFY: &str = include_str!("../../portal/verify.js");
pub const STYLE: &str = include_str!("../../portal/style.css");

/// A page that exposes verify.js to WebDriver scripts.
pub const TEST_PAGE: &str = r#"<!doctype html>
<meta charset="utf-8"><title>verify.js under test</title>
<script type="module">
import { verifyToken, CHECKS } from "/verify.js";
window.__verify = (token, policy) => verifyToken(token, policy);
window.__checks = CHECKS;
window.__testReady = true;
</script>"#;

pub const ISSUER: &str = "https://127.0.0.1:8443";
pub const PLATFORM_MEASUREMENT: &str = "9f2c7a0e5b1d4c3a8e6f0b2d4a6c8e0f1a3b5c7d9e1f3a5b7c9d1e3f5a7b9c1d3e5f7a9b1c3d5e7f9a1b3c5d7e9f1a3b";
pub const DIAGNOSTICS_MEASUREMENT: &str =
    "1111111111111111111111111111111111111111111111111111111111111111";
pub const NONCE: &str = "n-0123456789abcdef";
/// Every check verify.js reports, in its order.
pub const CHECKS: [&str; 9] = [
    "format",
    "algorithm",
    "key",
    "signature",
    "issuer",
    "expiry",
    "nonce",
    "measurement",
    "platform",
];
pub const WAIT: Duration = Duration::from_secs(30);

pub fn now() -> u64 {
    UnixTime::now().secs()
}

/// Claims as the attestation service would issue them for the platform.
pub fn claims(platform: Platform, measurement: &str, nonce: &str) -> AttestationClaims {
    let t = now();
    let runtime = RuntimeData::new(nonce, PublicJwk::X25519([7; 32])).with_user_data(
        [("audience".to_string(), "diagnostics.org3".to_string())]
            .into_iter()
            .collect(),
    );
    AttestationClaims {
        iss: ISSUER.into(),
        iat: t,
        nbf: t,
        exp: t + 300,
        jti: fresh_jti().unwrap(),
        platform,
        hardware: platform.is_hardware(),
        measurement: measurement.into(),
        measurements: BTreeMap::new(),
        debug: false,
        tcb: Default::default(),
        flags: BTreeMap::new(),
        runtime_data: Some(runtime),
        nonce: Some(nonce.into()),
        policy: PolicyRef {
            id: "health-platform".into(),
            hash: "sha256:00".into(),
        },
    }
}

pub fn good_claims() -> AttestationClaims {
    claims(Platform::Sgx, PLATFORM_MEASUREMENT, NONCE)
}

pub fn b64_json(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

pub fn part(token: &str, i: usize) -> Value {
    let raw = token.split('.').nth(i).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(raw).unwrap()).unwrap()
}

/// The portal files, the test page and, with `mock`, stand-ins for the portal
/// server's routes. Returns the base URL.
pub async fn serve(mock: Option<Arc<Mock>>) -> String {
    let js = |body: &'static str| ([(header::CONTENT_TYPE, "text/javascript")], body);
    let mut app = Router::new()
        .route("/", get(move || async move { axum::response::Html(INDEX) }))
        .route("/app.js", get(move || async move { js(APP) }))
        .route("/verify.js", get(move || async move { js(VERIFY) }))
        .route(
            "/style.css",
            get(|| async { ([(header::CONTENT_TYPE, "text/css")], STYLE) }),
        )
        .route(
            "/test.html",
            get(|| async { axum::response::Html(TEST_PAGE) }),
        );
    if let Some(mock) = mock {
        app = app.merge(
            Router::new()
                .route("/portal/config.json", get(mock_config))
                .route("/portal/jwks.json", get(mock_jwks))
                .route("/portal/nonce", post(mock_nonce))
                .route("/api/attestation", post(mock_attestation))
                .route("/api/patients", post(mock_admit))
                .route("/api/patients/search", post(mock_search))
                .route("/api/patients/{id}", get(mock_patient))
                .route("/api/patients/{id}/diagnoses", post(mock_diagnose))
                .route("/portal/receipt/{txid}", get(mock_receipt))
                .with_state(mock),
        );
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

/// The opaque id the stand-in gives the admitted patient.
pub const PATIENT_ID: &str = "pt_Qm9ndXNQYXRpZW50SWQw";
/// The audit transaction of the stand-in's diagnoses.
pub const AUDIT_TXID: &str = "5eed0000aabbccdd00112233445566778899aabbccddeeff0011223344556677";

/// What the stand-in portal server knows (the issuer's keys, the platform's
/// kind) and what it was sent (nonces handed out, intakes, diagnostic inputs).
pub struct Mock {
    /// The attestation service's signing keys.
    pub ring: KeyRing,
    /// The platform the platform's tokens name.
    pub platform: Platform,
    /// Nonces handed out by `POST /portal/nonce`.
    pub nonces: Mutex<Vec<String>>,
    /// Bodies of `POST /api/patients`.
    pub intakes: Mutex<Vec<Value>>,
    /// Bodies of `POST /api/patients/{id}/diagnoses`.
    pub inputs: Mutex<Vec<Value>>,
}

impl Mock {
    /// A stand-in whose platform tokens name `platform`.
    pub fn new(platform: Platform) -> Arc<Mock> {
        Arc::new(Mock {
            ring: KeyRing::generate(UnixTime::now(), 3600).unwrap(),
            platform,
            nonces: Mutex::new(Vec::new()),
            intakes: Mutex::new(Vec::new()),
            inputs: Mutex::new(Vec::new()),
        })
    }
}

fn refuse(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

pub async fn mock_config() -> impl IntoResponse {
    Json(json!({
        "issuer": ISSUER,
        "platform_measurements": [PLATFORM_MEASUREMENT],
        "diagnostics_measurements": [DIAGNOSTICS_MEASUREMENT],
        "allow_virtual": true,
        "hospital": "Org1MSP", "platform": "Org2MSP", "diagnostics": "Org3MSP",
    }))
}

pub async fn mock_jwks(State(mock): State<Arc<Mock>>) -> impl IntoResponse {
    Json(serde_json::to_value(mock.ring.jwks(UnixTime::now())).unwrap())
}

pub async fn mock_nonce(State(mock): State<Arc<Mock>>) -> impl IntoResponse {
    let nonce = cairn_attest::fresh_nonce().unwrap();
    mock.nonces.lock().unwrap().push(nonce.clone());
    Json(json!({ "nonce": nonce, "expires_at": now() + 120 }))
}

pub async fn mock_attestation(State(mock): State<Arc<Mock>>, Json(body): Json<Value>) -> Response {
    let nonce = body["nonce"].as_str().unwrap_or_default().to_owned();
    if !mock.nonces.lock().unwrap().contains(&nonce) {
        return refuse(StatusCode::BAD_REQUEST, "unknown nonce");
    }
    let token = mock
        .ring
        .sign(&claims(mock.platform, PLATFORM_MEASUREMENT, &nonce))
        .unwrap();
    Json(json!({ "token": token })).into_response()
}

pub async fn mock_admit(State(mock): State<Arc<Mock>>, Json(intake): Json<Value>) -> Response {
    if intake["familyName"].as_str().is_none_or(str::is_empty) {
        return refuse(StatusCode::BAD_REQUEST, "familyName is required");
    }
    mock.intakes.lock().unwrap().push(intake);
    let created = json!({ "id": PATIENT_ID, "txid": "ab01" });
    (StatusCode::CREATED, Json(created)).into_response()
}

pub async fn mock_search(State(mock): State<Arc<Mock>>, Json(query): Json<Value>) -> Response {
    let patients: Vec<Value> = mock
        .intakes
        .lock()
        .unwrap()
        .iter()
        .filter(|p| p["familyName"] == query["familyName"])
        .map(|p| {
            json!({ "id": PATIENT_ID, "givenName": p["givenName"],
                    "familyName": p["familyName"], "dateOfBirth": p["dateOfBirth"] })
        })
        .collect();
    Json(json!({ "patients": patients })).into_response()
}

pub async fn mock_patient(State(mock): State<Arc<Mock>>, Path(id): Path<String>) -> Response {
    let Some(mut patient) = mock.intakes.lock().unwrap().last().cloned() else {
        return refuse(StatusCode::NOT_FOUND, "no such patient");
    };
    if id != PATIENT_ID {
        return refuse(StatusCode::NOT_FOUND, "no such patient");
    }
    patient["id"] = json!(PATIENT_ID);
    patient["admittedAt"] = json!(now());
    patient["admittedBy"] = json!("clerk@Org1MSP");
    let diagnoses: Vec<Value> = (0..mock.inputs.lock().unwrap().len())
        .map(|i| {
            json!({ "id": format!("dx_{i}"), "createdAt": now(), "label": "benign", "probability": 0.12 })
        })
        .collect();
    Json(json!({ "patient": patient, "diagnoses": diagnoses })).into_response()
}

pub async fn mock_diagnose(
    State(mock): State<Arc<Mock>>,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    let features = body["features"].as_array().map_or(0, Vec::len);
    if id != PATIENT_ID || features != 30 {
        return refuse(
            StatusCode::BAD_REQUEST,
            "expected 30 features for a known patient",
        );
    }
    mock.inputs.lock().unwrap().push(body);
    let nonce = cairn_attest::fresh_nonce().unwrap();
    let platform_token = mock
        .ring
        .sign(&claims(mock.platform, PLATFORM_MEASUREMENT, &nonce))
        .unwrap();
    let diagnostics_token = mock
        .ring
        .sign(&claims(
            Platform::Sgx,
            DIAGNOSTICS_MEASUREMENT,
            "diagnostics-nonce",
        ))
        .unwrap();
    let model_sha = "7".repeat(64);
    Json(json!({
        "diagnosis": {
            "id": "dx_0", "patientId": PATIENT_ID, "label": "benign", "probability": 0.12,
            "model": { "name": "breast-cancer-mlp", "version": "1", "sha256": model_sha },
            "createdAt": now(),
        },
        "chain": {
            "platform_token": platform_token, "diagnostics_token": diagnostics_token,
            "audience": "https://diagnostics.org3.example", "nonce": nonce,
        },
        "audit": {
            "txid": AUDIT_TXID, "block": 7,
            "record": { "diagnosisId": "dx_0", "modelSha256": model_sha, "recordedBy": "Org2MSP" },
        },
    }))
    .into_response()
}

pub async fn mock_receipt(Path(txid): Path<String>) -> Response {
    if txid != AUDIT_TXID {
        return refuse(StatusCode::NOT_FOUND, "no such transaction");
    }
    Json(json!({
        "txid": txid, "code": "Valid", "envelope_hash": "ee".repeat(32),
        "header": { "number": 7, "tree_size": 12 },
        "signatures": [{ "signer": "orderer0.org1" }],
    }))
    .into_response()
}

/// The checks rendered in the page under `#id`: (overall, [(name, result, text)]).
pub async fn rendered_checks(
    browser: &Browser,
    id: &str,
) -> (String, Vec<(String, String, String)>) {
    let script = "const ul = document.getElementById(arguments[0]);
        if (!ul) return null;
        return [ul.dataset.overall, [...ul.querySelectorAll('li.check')]
            .map((li) => [li.dataset.check, li.dataset.result, li.textContent])];";
    let v = browser
        .client()
        .execute(script, vec![json!(id)])
        .await
        .unwrap();
    serde_json::from_value(v).unwrap()
}

pub async fn text_of(browser: &Browser, id: &str) -> String {
    browser
        .client()
        .find(Locator::Id(id))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}
