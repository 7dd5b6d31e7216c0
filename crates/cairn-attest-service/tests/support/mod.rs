//! A real service on 127.0.0.1 (ephemeral port, real TLS) and a virtual workload.

#![allow(dead_code, reason = "each test binary uses a different subset")]

use std::path::Path;

use cairn_attest::{
    Platform, PlatformKey, PublicJwk, ReleasePolicy, RuntimeData, VirtualAttester,
    VirtualMeasurement, WorkloadKey,
};
use cairn_attest_client::{AttestationClient, obtain_token};
use cairn_attest_service::{RunningService, SecretStore, ServiceConfig, serve};
use serde_json::json;

pub const ADMIN: &str = "admin-token-for-tests-0123456789";

pub struct Harness {
    pub service: RunningService,
    pub client: AttestationClient,
    pub platform_key_hex: String,
    pub dir: tempfile::TempDir,
}

/// The host's platform key (fixed seed so tests can make several attesters).
pub fn platform_key() -> PlatformKey {
    PlatformKey::from_seed([42; 32])
}

/// The measurement of this test binary running with `config` (the binary is hashed once).
pub fn running_measurement(config: &[u8]) -> VirtualMeasurement {
    static BINARY: std::sync::OnceLock<VirtualMeasurement> = std::sync::OnceLock::new();
    BINARY
        .get_or_init(|| VirtualMeasurement::of_running_binary(b"").unwrap())
        .with_config(config)
}

pub fn attester(config: &[u8]) -> VirtualAttester {
    VirtualAttester::new(platform_key(), running_measurement(config))
}

pub fn virtual_policy(id: &str, measurements: &[String]) -> Vec<u8> {
    json!({
        "id": id,
        "platform": "virtual",
        "allowed_measurements": measurements,
        "trusted_platform_keys": [platform_key().public_hex()],
        "token_ttl_secs": 120,
    })
    .to_string()
    .into_bytes()
}

pub async fn start_in(dir: tempfile::TempDir, secrets: SecretStore) -> Harness {
    let mut config = ServiceConfig::new(
        "127.0.0.1:0".parse().unwrap(),
        dir.path().to_owned(),
        ADMIN.to_owned(),
    );
    config.secrets = secrets;
    let service = serve(config).await.unwrap();
    let client = AttestationClient::new(service.issuer(), Some(service.tls_cert_pem())).unwrap();
    Harness {
        service,
        client,
        platform_key_hex: platform_key().public_hex(),
        dir,
    }
}

pub async fn start(secrets: SecretStore) -> Harness {
    start_in(tempfile::tempdir().unwrap(), secrets).await
}

/// Starts a service whose virtual policy allows the measurements of `configs`.
pub async fn start_with_policy(configs: &[&[u8]], secrets: SecretStore) -> Harness {
    let h = start(secrets).await;
    let allowed: Vec<String> = configs
        .iter()
        .map(|c| running_measurement(c).hex())
        .collect();
    h.client
        .replace_policy(
            ADMIN,
            Platform::Virtual,
            &virtual_policy("dev-virtual", &allowed),
        )
        .await
        .unwrap();
    h
}

pub fn release(measurements: &[String]) -> ReleasePolicy {
    serde_json::from_value(json!({
        "platforms": ["virtual"],
        "allowed_measurements": measurements,
    }))
    .unwrap()
}

/// A workload: its attester, its key, a token and the runtime data the token binds.
pub async fn workload(h: &Harness, config: &[u8]) -> (WorkloadKey, String, RuntimeData) {
    let key = WorkloadKey::generate().unwrap();
    let (token, rd) = obtain_token(&h.client, &attester(config), &key.public_jwk())
        .await
        .unwrap();
    (key, token, rd)
}

pub fn jwk_of(key: &WorkloadKey) -> PublicJwk {
    key.public_jwk()
}

pub fn read(dir: &Path, rel: &str) -> String {
    std::fs::read_to_string(dir.join(rel)).unwrap()
}
