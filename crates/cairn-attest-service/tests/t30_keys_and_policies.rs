//! Discovery, signing-key rotation with old keys kept in the JWKS, the JWKS cache's
//! refresh on an unknown kid, authenticated policy replacement with its log, and
//! state surviving a restart.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod support;

use std::time::Duration;

use cairn_attest::{Expectations, Platform, UnixTime, verify_token};
use cairn_attest_client::{ClientError, JwksCache};
use support::*;

const CONFIG: &[u8] = b"svc.toml";

fn kid(token: &str) -> String {
    let header = cairn_attest::jwk::b64url_decode(token.split('.').next().unwrap()).unwrap();
    let header: serde_json::Value = serde_json::from_slice(&header).unwrap();
    header["kid"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn discovery_documents_point_at_the_jwks() {
    let h = start(Default::default()).await;
    let conf = h.client.openid_configuration().await.unwrap();
    assert_eq!(conf["issuer"], h.service.issuer());
    assert_eq!(
        conf["jwks_uri"],
        format!("{}/.well-known/jwks.json", h.service.issuer())
    );
    assert_eq!(
        conf["id_token_signing_alg_values_supported"],
        serde_json::json!(["ES256"])
    );
    let jwks: serde_json::Value =
        serde_json::from_slice(&h.client.jwks_json().await.unwrap()).unwrap();
    let key = &jwks["keys"][0];
    assert_eq!(
        (
            key["kty"].as_str(),
            key["crv"].as_str(),
            key["use"].as_str(),
            key["alg"].as_str()
        ),
        (Some("EC"), Some("P-256"), Some("sig"), Some("ES256"))
    );
    h.service.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn rotation_keeps_old_keys_published_and_the_cache_refreshes_on_a_new_kid() {
    let h = start_with_policy(&[CONFIG], Default::default()).await;
    let expect = Expectations::new(h.service.issuer()).allowing_virtual();
    let (_, old_token, _) = workload(&h, CONFIG).await;
    let cache = JwksCache::new(h.client.clone(), Duration::from_millis(0));
    cache
        .verify(&old_token, &expect, UnixTime::now())
        .await
        .unwrap();

    assert!(matches!(
        h.client.rotate_signing_key("wrong-admin-token-xxxxx").await,
        Err(ClientError::Refused { status: 401, .. })
    ));
    let new_kid = h.client.rotate_signing_key(ADMIN).await.unwrap();
    assert_ne!(new_kid, kid(&old_token));
    let jwks = h.client.jwks().await.unwrap();
    assert!(
        jwks.contains(&new_kid) && jwks.contains(&kid(&old_token)),
        "old key still published"
    );
    verify_token(&old_token, &jwks, &expect, UnixTime::now()).unwrap();

    let (_, new_token, _) = workload(&h, CONFIG).await;
    assert_eq!(kid(&new_token), new_kid);
    // The cache still holds the pre-rotation JWKS; the unknown kid triggers a refresh.
    let v = cache
        .verify(&new_token, &expect, UnixTime::now())
        .await
        .unwrap();
    assert_eq!(v.kid, new_kid);
    h.service.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn only_an_admin_replaces_policies_and_every_change_is_logged() {
    let h = start(Default::default()).await;
    let m1 = running_measurement(CONFIG).hex();
    let policy = virtual_policy("v1", std::slice::from_ref(&m1));
    assert!(matches!(
        h.client
            .replace_policy("not-the-admin-token-xx", Platform::Virtual, &policy)
            .await,
        Err(ClientError::Refused { status: 401, .. })
    ));
    assert!(matches!(
        h.client.replace_policy(ADMIN, Platform::SevSnp, &policy).await,
        Err(ClientError::Refused { status: 400, code, .. }) if code == "invalid_policy"
    ));
    assert!(matches!(
        h.client
            .replace_policy(
                ADMIN,
                Platform::Virtual,
                br#"{"id":"x","platform":"virtual"}"#
            )
            .await,
        Err(ClientError::Refused { status: 400, .. })
    ));
    let r1 = h
        .client
        .replace_policy(ADMIN, Platform::Virtual, &policy)
        .await
        .unwrap();
    let r2 = h
        .client
        .replace_policy(
            ADMIN,
            Platform::Virtual,
            &virtual_policy("v2", &[m1, hex::encode([3u8; 48])]),
        )
        .await
        .unwrap();
    assert_eq!(r1.id, "v1");
    assert_ne!(r1.hash, r2.hash);
    let log = read(h.dir.path(), "policies/changes.log");
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["hash"], r1.hash.as_str());
    assert_eq!(lines[0]["previous_hash"], serde_json::Value::Null);
    assert_eq!(lines[1]["hash"], r2.hash.as_str());
    assert_eq!(lines[1]["previous_hash"], r1.hash.as_str());
    // The token names the policy that is active now.
    let (_, token, _) = workload(&h, CONFIG).await;
    let jwks = h.client.jwks().await.unwrap();
    let v = verify_token(
        &token,
        &jwks,
        &Expectations::new(h.service.issuer()).allowing_virtual(),
        UnixTime::now(),
    )
    .unwrap();
    assert_eq!(
        (v.claims.policy.id.as_str(), v.claims.policy.hash.as_str()),
        ("v2", r2.hash.as_str())
    );
    h.service.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn policies_and_signing_keys_survive_a_restart() {
    let h = start_with_policy(&[CONFIG], Default::default()).await;
    let (_, token, _) = workload(&h, CONFIG).await;
    let issuer = h.service.issuer().to_owned();
    let dir = h.dir;
    h.service.shutdown().await;

    let h = start_in(dir, Default::default()).await;
    // The port (and so the issuer) changed, but the key did not: the old token's
    // signature still verifies with the new service's JWKS.
    let jwks = h.client.jwks().await.unwrap();
    verify_token(
        &token,
        &jwks,
        &Expectations::new(issuer).allowing_virtual(),
        UnixTime::now(),
    )
    .unwrap();
    // And the policy is still active.
    workload(&h, CONFIG).await;
    h.service.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn scheduled_rotation_signs_with_a_new_key_and_keeps_the_old_one_published() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = cairn_attest_service::ServiceConfig::new(
        "127.0.0.1:0".parse().unwrap(),
        dir.path().to_owned(),
        ADMIN.to_owned(),
    );
    config.rotate_every_secs = Some(1);
    let service = cairn_attest_service::serve(config).await.unwrap();
    let client =
        cairn_attest_client::AttestationClient::new(service.issuer(), Some(service.tls_cert_pem()))
            .unwrap();
    let first: Vec<String> = client
        .jwks()
        .await
        .unwrap()
        .kids()
        .map(str::to_owned)
        .collect();
    assert_eq!(first.len(), 1);
    // The first rotation is due one second after start.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let now = loop {
        let jwks = client.jwks().await.unwrap();
        if jwks.kids().count() >= 2 {
            break jwks;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no rotation within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        now.contains(&first[0]),
        "the retired key is still published"
    );
    let stored: Vec<serde_json::Value> =
        serde_json::from_str(&read(dir.path(), "signing-keys.json")).unwrap();
    assert!(stored.len() >= 2, "the rotation was persisted");
    assert!(
        stored
            .iter()
            .any(|k| k["kid"] == first[0].as_str() && !k["retired_at"].is_null())
    );
    service.shutdown().await;
}
