//! Shared by the portal's browser tests: the portal files as the server embeds
//! them and tokens minted with `cairn_attest`'s issuer.

#![allow(
    dead_code,
    reason = "each test file uses its own part of this support module"
)]

use std::collections::BTreeMap;
use std::time::Duration;

use axum::Router;
use axum::http::header;
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cairn_attest::{
    AttestationClaims, Platform, PolicyRef, PublicJwk, RuntimeData, UnixTime, fresh_jti,
};
use cairn_testkit::browser::Browser;
use cairn_testkit::browser::fantoccini::Locator;
use serde_json::Value;

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

/// The portal files and the test page (no backend: the end-to-end browser test
/// with the real services is `cairn-cli/tests/health_cli.rs`). Returns the base URL.
pub async fn serve() -> String {
    let js = |body: &'static str| ([(header::CONTENT_TYPE, "text/javascript")], body);
    let app = Router::new()
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
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

/// The text of the element with id `id`.
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
