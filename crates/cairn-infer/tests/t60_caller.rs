//! The token chain (issue 13 item 1) over real sockets: a diagnostics node with a
//! caller policy answers the medical platform only when the platform's own token,
//! inside the sealed request, binds this node's audience, a nonce this node issued
//! (once) and the request's encapsulated key, for an allowed measurement. Each
//! refusal comes back sealed, with its own message.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod support;

use cairn_attest::Refusal as TokenRefusal;
use cairn_attest::jwk::b64url_decode;
use cairn_infer::caller::{AUDIENCE_KEY, Caller, CallerPolicy, Challenge, obtain_caller_token};
use cairn_infer::client::{InferClient, InferError, Refusal, VerifiedNode};
use cairn_infer::protocol::BodyFormat;
use cairn_infer::service::{KeySource, RunningInference, ServeError};
use support::*;

fn callers() -> CallerPolicy {
    CallerPolicy {
        audience: AUDIENCE.into(),
        measurements: [measurement(PLATFORM)].into(),
        allow_virtual: true,
    }
}

struct Setup {
    w: World,
    _node: RunningInference,
    client: InferClient,
    verified: VerifiedNode,
}

async fn setup() -> Setup {
    let w = world(None).await;
    let node = w
        .node_for(NODE, KeySource::Generate, Some(callers()))
        .await
        .unwrap();
    let client = InferClient::new(&url(&node), w.policy()).unwrap();
    let verified = client.attest().await.unwrap();
    Setup {
        w,
        _node: node,
        client,
        verified,
    }
}

impl Setup {
    fn caller(&self, config: &[u8]) -> Caller {
        Caller {
            attestation: self.w.attestation_client(),
            attester: attester(config),
            audience: AUDIENCE.into(),
        }
    }

    fn body(&self) -> Vec<u8> {
        BodyFormat::Rows.encode_rows(&vectors().0[..1]).unwrap()
    }

    /// Seals one row with `token` (for `prepared`'s channel or not), sends it, and
    /// opens the answer: the node's status and error text.
    async fn send_with(
        &self,
        prepared: cairn_infer::ohttp::PreparedRequest,
        token: Option<&str>,
    ) -> Result<Vec<Vec<f32>>, (u16, String)> {
        let body = self.body();
        let (sealed, ctx) = self
            .client
            .seal_prepared(prepared, &body, BodyFormat::Rows, token)
            .unwrap();
        let answer = self.client.send(&sealed).await.unwrap();
        match self.client.open(&self.verified, ctx, &answer, body) {
            Ok(a) => Ok(a.outputs),
            Err(InferError::Inner { status, error, .. }) => Err((status, error)),
            Err(e) => panic!("unexpected failure: {e}"),
        }
    }

    async fn token(&self, config: &[u8], challenge: &Challenge, enc: &[u8; 32]) -> String {
        obtain_caller_token(
            &self.w.attestation_client(),
            attester(config).as_ref(),
            challenge,
            enc,
        )
        .await
        .unwrap()
    }
}

fn claims(token: &str) -> serde_json::Value {
    serde_json::from_slice(&b64url_decode(token.split('.').nth(1).unwrap()).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_platform_with_a_bound_token_gets_the_models_answer() {
    let s = setup().await;
    let (rows, expected) = vectors();
    let (answer, proof) = s
        .client
        .infer_as(&s.verified, rows[..3].to_vec(), &s.caller(PLATFORM))
        .await
        .unwrap();
    for (out, want) in answer.outputs.iter().zip(&expected) {
        assert!((out[0] - want).abs() <= 1e-5);
    }
    // The token the platform presented binds the audience and the challenge's nonce.
    let c = claims(&proof.token);
    assert_eq!(c["measurement"], measurement(PLATFORM));
    assert_eq!(c["nonce"], proof.nonce.as_str());
    assert_eq!(c["runtime_data"]["user_data"][AUDIENCE_KEY], AUDIENCE);
    assert_eq!(proof.audience, AUDIENCE);
    assert_eq!(c["runtime_data"]["tee_pubkey"]["crv"], "X25519");
    // Positive control for the refusals below: a hand-built call the same way passes.
    let challenge = s.client.challenge().await.unwrap();
    let prepared = s.client.prepare(&s.verified).unwrap();
    let token = s.token(PLATFORM, &challenge, prepared.enc()).await;
    assert!(s.send_with(prepared, Some(&token)).await.is_ok());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_call_without_a_platform_token_is_refused() {
    let s = setup().await;
    // The plain client path (no caller token) and a hand-built request without one.
    match s.client.infer(&s.verified, vectors().0[..1].to_vec()).await {
        Err(InferError::Inner { status, error, .. }) => {
            assert_eq!(status, 401);
            assert!(error.contains("only attested callers"), "{error}");
        }
        other => panic!("expected a sealed refusal, got {other:?}"),
    }
    let prepared = s.client.prepare(&s.verified).unwrap();
    let (status, error) = s.send_with(prepared, None).await.unwrap_err();
    assert_eq!(status, 401, "{error}");
    // A token that is not a JWS at all.
    let prepared = s.client.prepare(&s.verified).unwrap();
    let (status, error) = s
        .send_with(prepared, Some("not-a-token"))
        .await
        .unwrap_err();
    assert_eq!(status, 403);
    assert!(error.contains("caller token refused"), "{error}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_for_another_audience_is_refused() {
    let s = setup().await;
    let mut challenge = s.client.challenge().await.unwrap();
    assert_eq!(challenge.audience, AUDIENCE);
    challenge.audience = "https://billing.org2.cairn.test/api".into();
    let prepared = s.client.prepare(&s.verified).unwrap();
    let token = s.token(PLATFORM, &challenge, prepared.enc()).await;
    let (status, error) = s.send_with(prepared, Some(&token)).await.unwrap_err();
    assert_eq!(status, 403);
    assert!(
        error.contains("is for audience \"https://billing.org2.cairn.test/api\""),
        "{error}"
    );
    // And the client refuses a node whose challenge names another audience.
    let mut other = s.caller(PLATFORM);
    other.audience = "https://diagnostics.elsewhere.test/infer".into();
    match s
        .client
        .infer_as(&s.verified, vectors().0[..1].to_vec(), &other)
        .await
    {
        Err(InferError::Refused(Refusal::Audience { actual, .. })) => assert_eq!(actual, AUDIENCE),
        other => panic!("expected an audience refusal, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replayed_request_and_a_foreign_nonce_are_refused() {
    let s = setup().await;
    let challenge = s.client.challenge().await.unwrap();
    let prepared = s.client.prepare(&s.verified).unwrap();
    let token = s.token(PLATFORM, &challenge, prepared.enc()).await;
    let body = s.body();
    let (sealed, ctx) = s
        .client
        .seal_prepared(prepared, &body, BodyFormat::Rows, Some(&token))
        .unwrap();
    // The first delivery is answered (not opened here: its context opens the replay's).
    s.client.send(&sealed).await.unwrap();
    // The same bytes again: OHTTP would open them, the used nonce refuses them.
    let replay = s.client.send(&sealed).await.unwrap();
    match s.client.open(&s.verified, ctx, &replay, body) {
        Err(InferError::Inner { status, error, .. }) => {
            assert_eq!(status, 403);
            assert!(error.contains("is used already or expired"), "{error}");
            assert!(error.contains(&challenge.nonce), "{error}");
        }
        other => panic!("expected a nonce refusal, got {other:?}"),
    }
    // A nonce the attestation service issued, but not through this node's challenge.
    let foreign = Challenge {
        nonce: s.w.admin.nonce().await.unwrap().nonce,
        ..challenge
    };
    let prepared = s.client.prepare(&s.verified).unwrap();
    let token = s.token(PLATFORM, &foreign, prepared.enc()).await;
    let (status, error) = s.send_with(prepared, Some(&token)).await.unwrap_err();
    assert_eq!(status, 403);
    assert!(error.contains("was not issued by this node"), "{error}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_bound_to_another_channel_is_refused() {
    let s = setup().await;
    let challenge = s.client.challenge().await.unwrap();
    let first = s.client.prepare(&s.verified).unwrap();
    let token = s.token(PLATFORM, &challenge, first.enc()).await;
    // The token lifted onto another encapsulated request (another `enc`).
    let second = s.client.prepare(&s.verified).unwrap();
    assert_ne!(first.enc(), second.enc());
    let (status, error) = s.send_with(second, Some(&token)).await.unwrap_err();
    assert_eq!(status, 403);
    assert!(error.contains("but the presented key is"), "{error}");
    // The nonce was not consumed by the refused call: the right channel still works.
    assert!(s.send_with(first, Some(&token)).await.is_ok());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_caller_whose_measurement_is_not_allowed_is_refused() {
    let s = setup().await;
    // OTHER is a workload the attestation service vouches for, not on the caller list.
    match s
        .client
        .infer_as(&s.verified, vectors().0[..1].to_vec(), &s.caller(OTHER))
        .await
    {
        Err(InferError::Inner { status, error, .. }) => {
            assert_eq!(status, 403);
            let expected = TokenRefusal::MeasurementNotExpected(measurement(OTHER)).to_string();
            assert!(error.contains(&expected), "{error}");
        }
        other => panic!("expected a measurement refusal, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_node_without_a_caller_policy_gives_no_challenge_and_bad_policies_do_not_start() {
    let w = world(None).await;
    let node = w.node(NODE, KeySource::Generate).await.unwrap();
    let client = InferClient::new(&url(&node), w.policy()).unwrap();
    match client.challenge().await {
        Err(InferError::Status { status, text }) => {
            assert_eq!(status, 404);
            assert!(text.contains("does not take attested callers"), "{text}");
        }
        other => panic!("expected 404, got {other:?}"),
    }
    let empty = CallerPolicy {
        measurements: Default::default(),
        ..callers()
    };
    match w.node_for(NODE, KeySource::Generate, Some(empty)).await {
        Err(ServeError::Callers(e)) => assert!(e.to_string().contains("lists no measurement")),
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("a node with an empty caller list started"),
    }
}
