//! `admit_node` against tokens from a real attestation service (HTTPS on 127.0.0.1):
//! a virtual node whose build is on the channel's list is admitted with the key of its
//! TLS certificate; every other case is refused with a reason that names the problem.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::sync::OnceLock;

use cairn_attest::{
    Platform, PlatformKey, PublicJwk, Refusal, UnixTime, VirtualAttester, VirtualMeasurement,
};
use cairn_attest_client::{AdmissionError, AttestationClient, NodeKey, admit_node, obtain_token};
use cairn_attest_service::{RunningService, ServiceConfig, serve};
use cairn_ledger::config::AttestationRequirement;
use serde_json::json;

const ADMIN: &str = "admin-token-for-admission-tests";
const PEER: &[u8] = b"peer.toml: role = peer";
const ROGUE: &[u8] = b"peer.toml: role = peer, debug_hooks = on";

fn platform_key() -> PlatformKey {
    PlatformKey::from_seed([21; 32])
}

/// The measurement of this test binary running with `config`.
fn measurement(config: &[u8]) -> VirtualMeasurement {
    static BINARY: OnceLock<VirtualMeasurement> = OnceLock::new();
    BINARY
        .get_or_init(|| VirtualMeasurement::of_running_binary(b"").unwrap())
        .with_config(config)
}

/// A node's TLS key: its certificate's SubjectPublicKeyInfo and the same key as a JWK.
fn tls_key(seed: u8) -> (Vec<u8>, PublicJwk) {
    use ed25519_dalek::pkcs8::EncodePublicKey as _;
    let key = ed25519_dalek::SigningKey::from_bytes(&[seed; 32]).verifying_key();
    let spki = key.to_public_key_der().unwrap().as_bytes().to_vec();
    (spki, PublicJwk::Ed25519(key.to_bytes()))
}

struct Service {
    running: RunningService,
    client: AttestationClient,
    _dir: tempfile::TempDir,
}

/// A service whose appraisal policy accepts both builds: the channel, not the service,
/// decides which builds may join.
async fn service() -> Service {
    let dir = tempfile::tempdir().unwrap();
    let config = ServiceConfig::new(
        "127.0.0.1:0".parse().unwrap(),
        dir.path().to_owned(),
        ADMIN.into(),
    );
    let running = serve(config).await.unwrap();
    let client = AttestationClient::new(running.issuer(), Some(running.tls_cert_pem())).unwrap();
    let policy = json!({
        "id": "nodes",
        "platform": "virtual",
        "allowed_measurements": [measurement(PEER).hex(), measurement(ROGUE).hex()],
        "trusted_platform_keys": [platform_key().public_hex()],
        "token_ttl_secs": 300,
    });
    client
        .replace_policy(ADMIN, Platform::Virtual, policy.to_string().as_bytes())
        .await
        .unwrap();
    Service {
        running,
        client,
        _dir: dir,
    }
}

async fn node_token(s: &Service, config: &[u8], key: &PublicJwk) -> String {
    let attester = VirtualAttester::new(platform_key(), measurement(config));
    obtain_token(&s.client, &attester, key).await.unwrap().0
}

async fn requirement(s: &Service, allow_virtual: bool) -> AttestationRequirement {
    AttestationRequirement {
        issuer: s.running.issuer().to_owned(),
        jwks: String::from_utf8(s.client.jwks_json().await.unwrap()).unwrap(),
        measurements: vec![measurement(PEER).hex().to_uppercase()],
        allow_virtual,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_listed_virtual_node_is_admitted_with_its_tls_key() {
    let s = service().await;
    let (spki, jwk) = tls_key(1);
    let token = node_token(&s, PEER, &jwk).await;
    let req = requirement(&s, true).await;
    let now = UnixTime::now();

    let admitted = admit_node(&token, &req, NodeKey::SpkiDer(&spki), now).unwrap();
    assert_eq!(admitted.platform, Platform::Virtual);
    assert!(!admitted.hardware);
    assert_eq!(admitted.measurement, measurement(PEER).hex());
    assert_eq!(admitted.key_thumbprint, jwk.thumbprint_b64());
    assert!(admitted.expires_at > now && admitted.expires_at <= now.plus(301));
    // The same check with the key already as a JWK.
    assert_eq!(
        admit_node(&token, &req, NodeKey::Jwk(&jwk), now).unwrap(),
        admitted
    );
    s.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_node_whose_measurement_is_not_listed_is_refused_naming_it() {
    let s = service().await;
    let (spki, jwk) = tls_key(2);
    // The service attests the rogue build (its policy allows it), but the channel does not list it.
    let token = node_token(&s, ROGUE, &jwk).await;
    let req = requirement(&s, true).await;
    let err = admit_node(&token, &req, NodeKey::SpkiDer(&spki), UnixTime::now()).unwrap_err();
    let rogue = measurement(ROGUE).hex();
    assert_eq!(
        err,
        AdmissionError::Refused(Refusal::MeasurementNotExpected(rogue.clone()))
    );
    assert!(err.to_string().contains(&rogue), "{err}");
    s.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_other_mismatch_is_refused_with_its_reason() {
    let s = service().await;
    let (spki, jwk) = tls_key(3);
    let token = node_token(&s, PEER, &jwk).await;
    let req = requirement(&s, true).await;
    let now = UnixTime::now();

    // A production channel takes no virtual nodes.
    let production = requirement(&s, false).await;
    let err = admit_node(&token, &production, NodeKey::SpkiDer(&spki), now).unwrap_err();
    assert_eq!(err, AdmissionError::Refused(Refusal::VirtualNotAllowed));
    assert!(err.to_string().contains("virtual"), "{err}");

    // The token presented over another node's TLS connection (a stolen token).
    let (thief, thief_jwk) = tls_key(4);
    match admit_node(&token, &req, NodeKey::SpkiDer(&thief), now) {
        Err(AdmissionError::Refused(Refusal::KeyBindingMismatch { expected, actual })) => {
            assert_eq!(expected, thief_jwk.thumbprint_b64());
            assert_eq!(actual, jwk.thumbprint_b64());
        }
        other => panic!("{other:?}"),
    }

    // Expired (the service's policy gives 300 s; 30 s leeway).
    assert!(matches!(
        admit_node(&token, &req, NodeKey::SpkiDer(&spki), now.plus(400)),
        Err(AdmissionError::Refused(Refusal::Expired { .. }))
    ));

    // Another issuer, or a JWKS from another service: the pinned config decides.
    let elsewhere = AttestationRequirement {
        issuer: "https://attest.other.example".into(),
        ..req.clone()
    };
    assert!(matches!(
        admit_node(&token, &elsewhere, NodeKey::SpkiDer(&spki), now),
        Err(AdmissionError::Refused(Refusal::IssuerMismatch { .. }))
    ));
    let other = service().await;
    let foreign_keys = AttestationRequirement {
        jwks: requirement(&other, true).await.jwks,
        ..req.clone()
    };
    assert!(matches!(
        admit_node(&token, &foreign_keys, NodeKey::SpkiDer(&spki), now),
        Err(AdmissionError::Refused(Refusal::UnknownKid(_)))
    ));
    other.running.shutdown().await;

    // Unusable requirements and keys are reported as such, not as a bad token.
    let no_list = AttestationRequirement {
        measurements: vec![],
        ..req.clone()
    };
    assert!(matches!(
        admit_node(&token, &no_list, NodeKey::SpkiDer(&spki), now),
        Err(AdmissionError::InvalidRequirement(_))
    ));
    let bad_jwks = AttestationRequirement {
        jwks: "not json".into(),
        ..req.clone()
    };
    assert!(matches!(
        admit_node(&token, &bad_jwks, NodeKey::SpkiDer(&spki), now),
        Err(AdmissionError::InvalidRequirement(_))
    ));
    assert!(matches!(
        admit_node(&token, &req, NodeKey::SpkiDer(b"garbage"), now),
        Err(AdmissionError::NodeKey(_))
    ));
    s.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_p256_tls_key_works_too() {
    use p256::pkcs8::EncodePublicKey as _;
    let s = service().await;
    let secret = p256::SecretKey::from_slice(&[9; 32]).unwrap();
    let spki = secret.public_key().to_public_key_der().unwrap();
    let jwk = PublicJwk::from_spki_der(spki.as_bytes()).unwrap();
    let token = node_token(&s, PEER, &jwk).await;
    let req = requirement(&s, true).await;
    let admitted = admit_node(
        &token,
        &req,
        NodeKey::SpkiDer(spki.as_bytes()),
        UnixTime::now(),
    )
    .unwrap();
    assert_eq!(admitted.key_thumbprint, jwk.thumbprint_b64());
    s.running.shutdown().await;
}
