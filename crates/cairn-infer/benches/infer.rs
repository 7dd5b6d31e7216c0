//! Sealed inference against plain tract, on the same model and input.
//!
//! Run: `cargo bench -p cairn-infer --bench infer`. For each model (the bundled
//! breast-cancer MLP, and `models/bench-cnn/model.onnx` when present):
//!
//! - `plain`: `Model::predict` of one row (tract alone);
//! - `sealed`: the whole confidential path in one process, without sockets: the
//!   client encodes the row (binary f32 rows, as `InferClient::infer` sends them) and
//!   seals it (OHTTP, AES-256-GCM), the node decapsulates,
//!   predicts, signs the receipt and seals the answer, the client opens it and checks
//!   the receipt's signature and hashes.
//!
//! The ratio sealed/plain is what issue 12 bounds (≤ 1.1×); the difference is the
//! fixed cost of confidentiality per request (three X25519 operations, an Ed25519
//! signature and its verification, AEADs, JSON), so the ratio depends on how long the
//! model itself runs. The bench prints both and the ratio at the end.
//!
//! Then requests per second of one node over loopback HTTP: an in-process
//! attestation service and node (the same code `cairn attest serve` and `cairn infer
//! serve` run), 16 concurrent verified clients for 10 s, one row per request.

#![allow(
    clippy::unwrap_used,
    reason = "a benchmark's setup failing is a failed run"
)]
#![allow(missing_docs, reason = "criterion macros generate undocumented items")]

use std::hint::black_box;
use std::time::{Duration, Instant};

use cairn_attest::{
    AppraisalPolicy, AttestationClaims, Attester, EvidenceVerifier, KeyRing, PlatformKey,
    RuntimeData, UnixTime, VirtualAttester, VirtualMeasurement, VirtualVerifier,
};
use cairn_infer::binding;
use cairn_infer::client::{InferClient, VerifiedNode};
use cairn_infer::model::{Model, breast_cancer_onnx};
use cairn_infer::ohttp::{Aead, ServerKey, decapsulate_request};
use cairn_infer::policy::ClientPolicy;
use cairn_infer::protocol::BodyFormat;
use cairn_infer::receipt::ReceiptSigner;
use cairn_infer::service::answer;
use criterion::{Criterion, criterion_group, criterion_main};
use ed25519_dalek::SigningKey;
use serde_json::json;

struct Setup {
    model: Model,
    row: Vec<f32>,
    key: ServerKey,
    signer: ReceiptSigner,
    node: VerifiedNode,
    client: InferClient,
}

fn setup(model: Model) -> Setup {
    let now = UnixTime::now();
    let key = ServerKey::generate(1, vec![Aead::Aes256Gcm, Aead::ChaCha20Poly1305]).unwrap();
    let receipt_key = SigningKey::from_bytes(&[7; 32]);
    let platform = PlatformKey::from_seed([1; 32]);
    let measurement = VirtualMeasurement::of(b"inference binary", b"infer.toml");
    let policy = AppraisalPolicy::parse(
        json!({
            "id": "bench", "platform": "virtual",
            "allowed_measurements": [measurement.hex()],
            "trusted_platform_keys": [platform.public_hex()],
        })
        .to_string()
        .as_bytes(),
    )
    .unwrap();
    let attester = VirtualAttester::new(platform, measurement);
    let rd = RuntimeData::new("bench-nonce", binding::tee_pubkey(key.config())).with_user_data(
        binding::user_data(
            model.sha256_hex(),
            key.config(),
            &receipt_key.verifying_key(),
        ),
    );
    let evidence = attester.evidence(&rd.report_data()).unwrap();
    let verified = VirtualVerifier.verify(&evidence, now).unwrap();
    let appraisal = policy.appraise(&verified, Some(&rd.report_data())).unwrap();
    let claims = AttestationClaims::new(
        "https://attest.bench",
        &verified,
        Some(&rd),
        &appraisal,
        now,
        "jti".into(),
    );
    let ring = KeyRing::generate(now, 3_600).unwrap();
    let token = ring.sign(&claims).unwrap();
    let signer = ReceiptSigner::new(receipt_key.clone(), token.clone(), claims.clone());
    let node = VerifiedNode {
        key_config: key.config().clone(),
        claims,
        token,
        model_sha256: model.sha256_hex().to_owned(),
        receipt_key: receipt_key.verifying_key(),
        registered: None,
        notice: None,
    };
    let client = InferClient::new(
        "http://127.0.0.1:1",
        ClientPolicy {
            attestation_url: "https://attest.bench".into(),
            attestation_ca: None,
            issuer: "https://attest.bench".into(),
            measurements: Default::default(),
            models: Default::default(),
            allow_virtual: true,
            require_registered: false,
            aead: Aead::Aes256Gcm,
        },
    )
    .unwrap();
    let row: Vec<f32> = (0..model.features())
        .map(|i| (i % 7) as f32 * 0.5)
        .collect();
    Setup {
        model,
        row,
        key,
        signer,
        node,
        client,
    }
}

fn sealed_once(s: &Setup) -> Vec<Vec<f32>> {
    let body = BodyFormat::Rows
        .encode_rows(std::slice::from_ref(&s.row))
        .unwrap();
    let (sealed, ctx) = s.client.seal_as(&s.node, &body, BodyFormat::Rows).unwrap();
    let (request, server_ctx) = decapsulate_request(&[&s.key], &sealed).unwrap();
    let answered = answer(
        &s.model,
        &s.signer,
        None,
        &request,
        server_ctx,
        1,
        UnixTime::now(),
    )
    .unwrap();
    s.client
        .open(&s.node, ctx, &answered, body)
        .unwrap()
        .outputs
}

fn models() -> Vec<(&'static str, Model)> {
    let mut out = vec![(
        "breast-cancer-mlp",
        Model::from_bytes(breast_cancer_onnx()).unwrap(),
    )];
    let cnn = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../models/bench-cnn/model.onnx"
    );
    if let Ok(bytes) = std::fs::read(cnn) {
        out.push(("bench-cnn", Model::from_bytes(&bytes).unwrap()));
    }
    out
}

/// Medians of `n` timings each of `a` and `b`, in microseconds, taken alternately so
/// that drift in the machine's speed (it is shared) affects both alike.
fn interleaved_medians(n: usize, mut a: impl FnMut(), mut b: impl FnMut()) -> (f64, f64) {
    let time = |f: &mut dyn FnMut()| {
        let start = Instant::now();
        f();
        start.elapsed().as_secs_f64() * 1e6
    };
    let (mut ta, mut tb) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for _ in 0..n {
        ta.push(time(&mut a));
        tb.push(time(&mut b));
    }
    ta.sort_by(f64::total_cmp);
    tb.sort_by(f64::total_cmp);
    (ta[n / 2], tb[n / 2])
}

fn bench(c: &mut Criterion) {
    let mut summary = Vec::new();
    for (name, model) in models() {
        let s = setup(model);
        // Same answer both ways (the bench measures the real thing).
        assert_eq!(
            sealed_once(&s),
            s.model.predict(std::slice::from_ref(&s.row)).unwrap()
        );
        let mut group = c.benchmark_group(format!("infer/{name}"));
        group.measurement_time(Duration::from_secs(5));
        group.bench_function("plain", |b| {
            b.iter(|| black_box(s.model.predict(std::slice::from_ref(&s.row)).unwrap()))
        });
        group.bench_function("sealed", |b| b.iter(|| black_box(sealed_once(&s))));
        group.finish();
        // Interleaved medians for the summary line (one run, same conditions).
        let n = if name == "breast-cancer-mlp" {
            4_000
        } else {
            200
        };
        let (plain, sealed) = interleaved_medians(
            n,
            || {
                black_box(s.model.predict(std::slice::from_ref(&s.row)).unwrap());
            },
            || {
                black_box(sealed_once(&s));
            },
        );
        summary.push(format!(
            "{name}: plain tract {plain:.1} µs, sealed {sealed:.1} µs, ratio {:.3}, overhead {:.1} µs",
            sealed / plain,
            sealed - plain
        ));
    }
    summary.push(throughput(16, Duration::from_secs(10)));
    for line in summary {
        println!("{line}");
    }
}

/// Requests per second of one node over HTTP, with `clients` concurrent clients.
fn throughput(clients: usize, period: Duration) -> String {
    use std::sync::Arc;

    use cairn_attest::Platform;
    use cairn_attest_client::AttestationClient;
    use cairn_attest_service::{ServiceConfig, serve as serve_attestation};
    use cairn_infer::registry::{Lookup, ModelRegistry, RegisteredModel};
    use cairn_infer::service::{KeySource, ServeConfig, serve};

    struct Registered(RegisteredModel);
    impl ModelRegistry for Registered {
        fn find_by_hash<'a>(&'a self, _: &'a str) -> Lookup<'a> {
            let m = self.0.clone();
            Box::pin(async move { Ok(Some(m)) })
        }
    }

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        cairn_attest_client::install_crypto_provider();
        let dir = tempfile::tempdir().unwrap();
        let admin = "bench-admin-token-0123456789";
        let service = serve_attestation(ServiceConfig::new(
            "127.0.0.1:0".parse().unwrap(),
            dir.path().to_owned(),
            admin.into(),
        ))
        .await
        .unwrap();
        let attestation =
            || AttestationClient::new(service.issuer(), Some(service.tls_cert_pem())).unwrap();
        let platform = PlatformKey::from_seed([3; 32]);
        let measurement = VirtualMeasurement::of(b"inference binary", b"infer.toml");
        let policy = json!({
            "id": "bench", "platform": "virtual",
            "allowed_measurements": [measurement.hex()],
            "trusted_platform_keys": [platform.public_hex()],
        });
        attestation()
            .replace_policy(admin, Platform::Virtual, policy.to_string().as_bytes())
            .await
            .unwrap();
        let model = Model::from_bytes(breast_cancer_onnx()).unwrap();
        let registered = RegisteredModel {
            name: "breast-cancer".into(),
            version: "1".into(),
            sha256: model.sha256_hex().into(),
            signature: model.signature().clone(),
            owner: "Org3MSP".into(),
            txid: String::new(),
            revoked: false,
            revocation: None,
        };
        let sha = model.sha256_hex().to_owned();
        let features = model.features();
        let node = serve(ServeConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            model,
            registry: Arc::new(Registered(registered)),
            attestation: attestation(),
            attester: Arc::new(VirtualAttester::new(platform, measurement.clone())),
            keys: KeySource::Generate,
            callers: None,
        })
        .await
        .unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, service.tls_cert_pem()).unwrap();
        let policy = ClientPolicy {
            attestation_url: service.issuer().into(),
            attestation_ca: Some(ca),
            issuer: service.issuer().into(),
            measurements: [measurement.hex()].into(),
            models: [sha].into(),
            allow_virtual: true,
            require_registered: false,
            aead: Aead::Aes256Gcm,
        };
        let url = format!("http://{}", node.addr);
        let deadline = Instant::now() + period;
        let mut tasks = Vec::new();
        for _ in 0..clients {
            let client = InferClient::new(&url, policy.clone()).unwrap();
            let verified = client.attest().await.unwrap();
            let row: Vec<f32> = (0..features).map(|i| i as f32 * 0.1).collect();
            tasks.push(tokio::spawn(async move {
                let mut latencies = Vec::new();
                while Instant::now() < deadline {
                    let start = Instant::now();
                    client.infer(&verified, vec![row.clone()]).await.unwrap();
                    latencies.push(start.elapsed().as_secs_f64() * 1e3);
                }
                latencies
            }));
        }
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.unwrap());
        }
        all.sort_by(f64::total_cmp);
        format!(
            "one node over HTTP, {clients} clients: {:.0} requests/s, latency p50 {:.2} ms, p99 {:.2} ms (breast-cancer-mlp)",
            all.len() as f64 / period.as_secs_f64(),
            all[all.len() / 2],
            all[all.len() * 99 / 100]
        )
    })
}

criterion_group!(benches, bench);
criterion_main!(benches);
