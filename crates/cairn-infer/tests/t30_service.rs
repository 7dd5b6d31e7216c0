//! End to end over real sockets: a verified client seals rows to an attested node
//! and gets the model's answer with a receipt; every check of the client's policy
//! refuses on its own, with its own message; altered bytes fail both ways; errors
//! about a request come back sealed.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod support;

use cairn_attest::{Jwks, Refusal as TokenRefusal, UnixTime};
use cairn_infer::client::{InferClient, InferError, Refusal, VIRTUAL_NOTICE};
use cairn_infer::ohttp::{Aead, KeyConfig};
use cairn_infer::protocol::AttestResponse;
use cairn_infer::service::KeySource;
use support::*;

async fn jwks(w: &World) -> Jwks {
    w.admin.jwks().await.unwrap()
}

/// Asks `node` for an attestation bound to a fresh nonce; returns it with the nonce.
async fn attestation(w: &World, client: &InferClient) -> (AttestResponse, String) {
    let nonce = w.admin.nonce().await.unwrap().nonce;
    (client.fetch_attestation(&nonce).await.unwrap(), nonce)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sealed_request_gets_the_models_answer_and_a_receipt_that_verifies_offline() {
    let w = world(None).await;
    let node = w.node(NODE, KeySource::Generate).await.unwrap();
    let client = InferClient::new(&url(&node), w.policy()).unwrap();
    let verified = client.attest().await.unwrap();
    assert_eq!(verified.notice, Some(VIRTUAL_NOTICE));
    assert_eq!(verified.claims.measurement, measurement(NODE));

    let (rows, expected) = vectors();
    let answer = client.infer(&verified, rows[..20].to_vec()).await.unwrap();
    assert_eq!(answer.outputs.len(), 20);
    for (i, (out, want)) in answer.outputs.iter().zip(&expected).enumerate() {
        assert!(
            (out[0] - want).abs() <= 1e-5,
            "row {i}: {} vs {want}",
            out[0]
        );
    }
    assert_eq!(answer.notice, Some(VIRTUAL_NOTICE));
    assert_eq!(answer.outdated_key, None);

    // Offline: the receipt verifies with nothing but the JWKS, and covers exactly
    // this request and answer.
    let v = answer
        .receipt
        .verify(&jwks(&w).await, Some(w.service.issuer()))
        .unwrap();
    assert_eq!(v.model_sha256, model().sha256_hex());
    assert_eq!(v.measurement, measurement(NODE));
    assert!(!v.hardware);
    v.check_content(Some(&answer.request_body), Some(&answer.response_body))
        .unwrap();
    assert!(v.check_content(Some(b"another request"), None).is_err());
    // A receipt with one changed field no longer verifies.
    let mut forged = answer.receipt.clone();
    forged.response_sha256 = "00".repeat(32);
    assert_eq!(
        forged.verify(&jwks(&w).await, None).unwrap_err(),
        cairn_infer::receipt::ReceiptError::Signature
    );
    // Another attestation service's JWKS does not vouch for it.
    let stranger = world(None).await;
    assert!(matches!(
        answer.receipt.verify(&jwks(&stranger).await, None),
        Err(cairn_infer::receipt::ReceiptError::Token(
            TokenRefusal::UnknownKid(_)
        ))
    ));
}

fn refusal(r: Result<cairn_infer::client::VerifiedNode, InferError>) -> Refusal {
    match r {
        Err(InferError::Refused(r)) => r,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn each_check_of_the_policy_refuses_on_its_own_with_its_own_message() {
    let w = world(None).await;
    let node = w.node(NODE, KeySource::Generate).await.unwrap();
    let base = url(&node);
    let keys = jwks(&w).await;

    // Positive control: the unmodified policy accepts the node.
    let ok = InferClient::new(&base, w.policy()).unwrap();
    let (resp, nonce) = attestation(&w, &ok).await;
    ok.verify(&resp, &keys, &nonce).await.unwrap();

    // Wrong issuer.
    let mut p = w.policy();
    p.issuer = "https://someone-else.example".into();
    let r = refusal(InferClient::new(&base, p).unwrap().attest().await);
    assert!(
        matches!(r, Refusal::Token(TokenRefusal::IssuerMismatch { .. })),
        "{r}"
    );
    assert!(r.to_string().contains("someone-else.example"), "{r}");

    // Expired: a client whose clock is a day ahead sees the token as expired.
    fn tomorrow() -> UnixTime {
        UnixTime::now().plus(86_400)
    }
    let r = refusal(
        InferClient::new(&base, w.policy())
            .unwrap()
            .with_clock(tomorrow)
            .attest()
            .await,
    );
    assert!(
        matches!(r, Refusal::Token(TokenRefusal::Expired { .. })),
        "{r}"
    );
    assert!(r.to_string().contains("expired"), "{r}");

    // Nonce: an attestation made for another nonce (a replayed one).
    let (replayed, _) = attestation(&w, &ok).await;
    let r = refusal(ok.verify(&replayed, &keys, &nonce).await);
    assert!(
        matches!(r, Refusal::Token(TokenRefusal::NonceMismatch { .. })),
        "{r}"
    );
    assert!(r.to_string().contains("nonce"), "{r}");

    // Measurement not on the list.
    let mut p = w.policy();
    p.measurements = [measurement(OTHER)].into();
    let r = refusal(InferClient::new(&base, p).unwrap().attest().await);
    assert!(
        matches!(r, Refusal::Token(TokenRefusal::MeasurementNotExpected(_))),
        "{r}"
    );
    assert!(r.to_string().contains(&measurement(NODE)), "{r}");

    // Model hash not the expected one.
    let mut p = w.policy();
    p.models = ["ab".repeat(32)].into();
    let r = refusal(InferClient::new(&base, p).unwrap().attest().await);
    assert!(matches!(r, Refusal::ModelNotExpected { .. }), "{r}");
    assert!(r.to_string().contains(model().sha256_hex()), "{r}");

    // Key binding, 1: the host swaps in another key (e.g. one it holds itself).
    let other = w.node(NODE, KeySource::Generate).await.unwrap();
    let other_client = InferClient::new(&url(&other), w.policy()).unwrap();
    let (theirs, _) = attestation(&w, &other_client).await;
    let swapped = AttestResponse {
        token: resp.token.clone(),
        key_config: theirs.key_config.clone(),
    };
    let r = refusal(ok.verify(&swapped, &keys, &nonce).await);
    assert!(
        matches!(r, Refusal::Token(TokenRefusal::KeyBindingMismatch { .. })),
        "{r}"
    );
    // Key binding, 2: the same key offered with a weaker AEAD list.
    let bytes = cairn_attest::jwk::b64url_decode(&resp.key_config).unwrap();
    let mut weaker = KeyConfig::decode(&bytes).unwrap();
    weaker.aeads = vec![Aead::Aes128Gcm];
    let downgraded = AttestResponse {
        token: resp.token.clone(),
        key_config: cairn_attest::jwk::b64url(&weaker.encode()),
    };
    let r = refusal(ok.verify(&downgraded, &keys, &nonce).await);
    assert!(matches!(r, Refusal::KeyConfigMismatch { .. }), "{r}");
    assert!(r.to_string().contains("key binding"), "{r}");

    // The virtual platform only where the policy says so.
    let mut p = w.policy();
    p.allow_virtual = false;
    let r = refusal(InferClient::new(&base, p).unwrap().attest().await);
    assert!(
        matches!(r, Refusal::Token(TokenRefusal::VirtualNotAllowed)),
        "{r}"
    );

    // The messages are all different.
    let messages = [
        "someone-else.example",
        "expired",
        "nonce",
        "measurement",
        "the policy does not list",
        "key binding",
        "virtual",
    ];
    assert_eq!(
        messages
            .iter()
            .collect::<std::collections::BTreeSet<_>>()
            .len(),
        messages.len()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn one_flipped_byte_in_a_request_or_an_answer_fails() {
    let w = world(None).await;
    let node = w.node(NODE, KeySource::Generate).await.unwrap();
    let client = InferClient::new(&url(&node), w.policy()).unwrap();
    let verified = client.attest().await.unwrap();
    let (rows, _) = vectors();
    let body = serde_json::to_vec(&serde_json::json!({ "rows": [rows[0]] })).unwrap();

    // Request: every position we try (header, enc, ciphertext, tag) is refused.
    let (sealed, _) = client.seal(&verified, &body).unwrap();
    for pos in [0, 3, 8, 40, sealed.len() / 2, sealed.len() - 1] {
        let mut bad = sealed.clone();
        bad[pos] ^= 0x01;
        match client.send(&bad).await {
            Err(InferError::Status { status, .. }) => {
                assert!(status == 400 || status == 422, "byte {pos}: {status}")
            }
            other => panic!("byte {pos}: expected a refusal, got {other:?}"),
        }
    }
    // Positive control: the unaltered request is answered.
    let (sealed, ctx) = client.seal(&verified, &body).unwrap();
    let answer = client.send(&sealed).await.unwrap();
    // Answer: a flipped byte anywhere fails to open.
    for pos in [0, answer.len() / 2, answer.len() - 1] {
        let (sealed, ctx) = client.seal(&verified, &body).unwrap();
        let mut bad = client.send(&sealed).await.unwrap();
        bad[pos] ^= 0x80;
        assert!(
            matches!(
                client.open(&verified, ctx, &bad, body.clone()),
                Err(InferError::Ohttp(_))
            ),
            "answer byte {pos}"
        );
    }
    client.open(&verified, ctx, &answer, body).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn errors_about_a_request_come_back_sealed_with_a_receipt() {
    let w = world(None).await;
    let node = w.node(NODE, KeySource::Generate).await.unwrap();
    let client = InferClient::new(&url(&node), w.policy()).unwrap();
    let verified = client.attest().await.unwrap();

    for (body, status, says) in [
        (&br#"{"rows": [[1.0, 2.0]]}"#[..], 422, "30"),
        (br#"{"rows": []}"#, 422, "no rows"),
        (br#"{"rows": "#, 400, "rows"),
    ] {
        let (sealed, ctx) = client.seal(&verified, body).unwrap();
        let wire = client.send(&sealed).await.unwrap();
        match client.open(&verified, ctx, &wire, body.to_vec()) {
            Err(InferError::Inner {
                status: s,
                error,
                receipt,
            }) => {
                assert_eq!(s, status, "{error}");
                assert!(error.contains(says), "{error}");
                // What crossed the wire is sealed: the (whole) error text is not in it.
                assert!(
                    !wire.windows(error.len()).any(|w| w == error.as_bytes()),
                    "plaintext error on the wire"
                );
                // The refusal is receipted too.
                receipt.verify(&jwks(&w).await, None).unwrap();
            }
            other => panic!("expected a sealed error, got {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_node_refuses_to_serve_an_unregistered_or_revoked_model() {
    let w = world(None).await;
    let model = model();
    for (registry, says) in [
        (Registered(vec![]), "not registered"),
        (
            Registered(vec![cairn_infer::registry::RegisteredModel {
                revoked: true,
                revocation: Some(cairn_infer::registry::Revocation {
                    reason: "recalled".into(),
                    txid: "01".into(),
                    revoked_at: "2026-12-06T00:00:00Z".into(),
                }),
                ..registered(&model).0[0].clone()
            }]),
            "recalled",
        ),
    ] {
        let err = cairn_infer::service::serve(cairn_infer::service::ServeConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            model: model.clone(),
            registry: std::sync::Arc::new(registry),
            attestation: w.attestation_client(),
            attester: attester(NODE),
            keys: KeySource::Generate,
            callers: None,
        })
        .await
        .err()
        .unwrap();
        assert!(err.to_string().contains(says), "{err}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn oversize_and_malformed_outer_requests_get_clear_refusals() {
    let w = world(None).await;
    let node = w.node(NODE, KeySource::Generate).await.unwrap();
    let client = InferClient::new(&url(&node), w.policy()).unwrap();
    let verified = client.attest().await.unwrap();
    let http = reqwest::Client::new();

    // More than MAX_REQUEST_BYTES: refused before anything is decapsulated.
    let big = vec![0u8; cairn_infer::protocol::MAX_REQUEST_BYTES + 1];
    match client.send(&big).await {
        Err(InferError::Status { status: 413, .. }) => {}
        other => panic!("expected 413, got {other:?}"),
    }
    // An attestation request without a nonce says what to send.
    let resp = http
        .post(format!(
            "{}{}",
            url(&node),
            cairn_infer::protocol::ATTEST_PATH
        ))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("nonce"));
    // A nonce the attestation service never issued is refused by it, through the node.
    let resp = client.fetch_attestation("made-up-nonce").await.unwrap_err();
    assert!(
        matches!(resp, InferError::Status { status: 502, .. }),
        "{resp}"
    );
    assert!(resp.to_string().contains("nonce"), "{resp}");
    // Positive control: the node still answers a proper request.
    let (rows, _) = vectors();
    client
        .infer(&verified, vec![rows[0].clone()])
        .await
        .unwrap();
}
