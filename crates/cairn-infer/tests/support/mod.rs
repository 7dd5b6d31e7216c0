//! A real attestation service on 127.0.0.1 (ephemeral port, real TLS), virtual
//! workloads measured from this test binary, and inference nodes over real sockets.

#![allow(dead_code, reason = "each test binary uses a different subset")]
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::sync::Arc;

use cairn_attest::{Platform, PlatformKey, ReleasePolicy, VirtualAttester, VirtualMeasurement};
use cairn_attest_client::AttestationClient;
use cairn_attest_service::{RunningService, SecretStore, ServiceConfig, serve};
use cairn_infer::caller::CallerPolicy;
use cairn_infer::model::{Model, breast_cancer_onnx};
use cairn_infer::ohttp::Aead;
use cairn_infer::policy::ClientPolicy;
use cairn_infer::registry::{Lookup, ModelRegistry, RegisteredModel};
use cairn_infer::service::{self, KeySource, RunningInference, ServeConfig};
use serde_json::json;

pub const ADMIN: &str = "admin-token-for-tests-0123456789";
/// The configuration of the diagnostics node (part of its measurement).
pub const NODE: &[u8] = b"infer.toml: model=breast-cancer";
/// Another workload's configuration: attested, but not allowed to receive keys.
pub const OTHER: &[u8] = b"infer.toml: model=breast-cancer, debug shell";
/// The medical platform's configuration: an attested caller of the diagnostics node.
pub const PLATFORM: &[u8] = b"platform.toml: medical platform";
/// The audience of the diagnostics node in the caller tests.
pub const AUDIENCE: &str = "https://diagnostics.org3.cairn.test/infer";
/// The release secret holding the key bundle.
pub const KEY_SECRET: &str = "infer-ohttp-keys";

pub fn platform_key() -> PlatformKey {
    PlatformKey::from_seed([42; 32])
}

pub fn measurement(config: &[u8]) -> String {
    static BINARY: std::sync::OnceLock<VirtualMeasurement> = std::sync::OnceLock::new();
    BINARY
        .get_or_init(|| VirtualMeasurement::of_running_binary(b"").unwrap())
        .with_config(config)
        .hex()
}

pub fn attester(config: &[u8]) -> Arc<VirtualAttester> {
    static BINARY: std::sync::OnceLock<VirtualMeasurement> = std::sync::OnceLock::new();
    let m = BINARY
        .get_or_init(|| VirtualMeasurement::of_running_binary(b"").unwrap())
        .with_config(config);
    Arc::new(VirtualAttester::new(platform_key(), m))
}

pub fn model() -> Model {
    Model::from_bytes(breast_cancer_onnx()).unwrap()
}

/// Stands in for the ledger's `FindByHash` in this crate's tests (the registry
/// contract and the gateway lookup are tested with a real network in
/// `cairn-cli/tests/infer_cli.rs`).
pub struct Registered(pub Vec<RegisteredModel>);

impl ModelRegistry for Registered {
    fn find_by_hash<'a>(&'a self, sha256: &'a str) -> Lookup<'a> {
        let found = self.0.iter().find(|m| m.sha256 == sha256).cloned();
        Box::pin(async move { Ok(found) })
    }
}

pub fn registered(model: &Model) -> Arc<Registered> {
    Arc::new(Registered(vec![RegisteredModel {
        name: "breast-cancer".into(),
        version: "1".into(),
        sha256: model.sha256_hex().into(),
        signature: model.signature().clone(),
        owner: "DiagnosticsMSP".into(),
        txid: "00".into(),
        revoked: false,
        revocation: None,
    }]))
}

pub struct World {
    pub service: RunningService,
    pub admin: AttestationClient,
    pub dir: tempfile::TempDir,
}

/// An attestation service whose virtual policy accepts NODE and OTHER, and whose
/// secret `KEY_SECRET` (if `bundle` is given) is released to NODE only.
pub async fn world(bundle: Option<&[u8]>) -> World {
    let dir = tempfile::tempdir().unwrap();
    let mut config = ServiceConfig::new(
        "127.0.0.1:0".parse().unwrap(),
        dir.path().to_owned(),
        ADMIN.to_owned(),
    );
    if let Some(b) = bundle {
        config.secrets = SecretStore::default().with(KEY_SECRET, b.to_vec(), release_to_node());
    }
    let service = serve(config).await.unwrap();
    let admin = AttestationClient::new(service.issuer(), Some(service.tls_cert_pem())).unwrap();
    let policy = json!({
        "id": "infer-virtual",
        "platform": "virtual",
        "allowed_measurements": [measurement(NODE), measurement(OTHER), measurement(PLATFORM)],
        "trusted_platform_keys": [platform_key().public_hex()],
        "token_ttl_secs": 300,
    });
    admin
        .replace_policy(ADMIN, Platform::Virtual, policy.to_string().as_bytes())
        .await
        .unwrap();
    World {
        service,
        admin,
        dir,
    }
}

pub fn release_to_node() -> ReleasePolicy {
    serde_json::from_value(json!({
        "platforms": ["virtual"],
        "allowed_measurements": [measurement(NODE)],
    }))
    .unwrap()
}

impl World {
    pub fn attestation_client(&self) -> AttestationClient {
        AttestationClient::new(self.service.issuer(), Some(self.service.tls_cert_pem())).unwrap()
    }

    /// Starts a node running `config` with `keys`.
    pub async fn node(
        &self,
        config: &[u8],
        keys: KeySource,
    ) -> Result<RunningInference, service::ServeError> {
        self.node_for(config, keys, None).await
    }

    /// Starts a node answering only the attested callers `callers` admits.
    pub async fn node_for(
        &self,
        config: &[u8],
        keys: KeySource,
        callers: Option<CallerPolicy>,
    ) -> Result<RunningInference, service::ServeError> {
        let model = model();
        service::serve(ServeConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            registry: registered(&model),
            model,
            attestation: self.attestation_client(),
            attester: attester(config),
            keys,
            callers,
        })
        .await
    }

    /// A policy accepting NODE's measurement and the bundled model, virtual allowed.
    pub fn policy(&self) -> ClientPolicy {
        let ca = self.dir.path().join("attest-ca.pem");
        std::fs::write(&ca, self.service.tls_cert_pem()).unwrap();
        ClientPolicy {
            attestation_url: self.service.issuer().to_owned(),
            attestation_ca: Some(ca),
            issuer: self.service.issuer().to_owned(),
            measurements: [measurement(NODE)].into(),
            models: [model().sha256_hex().to_owned()].into(),
            allow_virtual: true,
            require_registered: false,
            aead: Aead::Aes256Gcm,
        }
    }
}

pub fn url(node: &RunningInference) -> String {
    format!("http://{}", node.addr)
}

/// The committed test set: rows and onnxruntime's probabilities.
pub fn vectors() -> (Vec<Vec<f32>>, Vec<f32>) {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../models/breast-cancer/vectors.json"
    ))
    .unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let rows = serde_json::from_value(v["inputs"].clone()).unwrap();
    let probs = serde_json::from_value(v["onnxruntime_probability"].clone()).unwrap();
    (rows, probs)
}
