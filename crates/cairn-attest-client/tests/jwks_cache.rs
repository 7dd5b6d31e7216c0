//! The relying party's JWKS cache: fetched on first use, refreshed when a token names
//! an unknown `kid` (key rotation), but not more often than `min_refresh`, so tokens
//! with made-up `kid`s cannot make it hammer the service.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::time::Duration;

use cairn_attest::{
    Expectations, Platform, PlatformKey, Refusal, UnixTime, VirtualAttester, VirtualMeasurement,
    WorkloadKey,
};
use cairn_attest_client::{AttestationClient, JwksCache, VerifyError, obtain_token};
use cairn_attest_service::{ServiceConfig, serve};
use serde_json::json;

const ADMIN: &str = "admin-token-for-cache-tests-0123";

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_kid_refreshes_the_cache_at_most_once_per_min_refresh() {
    let dir = tempfile::tempdir().unwrap();
    let service = serve(ServiceConfig::new(
        "127.0.0.1:0".parse().unwrap(),
        dir.path().to_owned(),
        ADMIN.into(),
    ))
    .await
    .unwrap();
    let client = AttestationClient::new(service.issuer(), Some(service.tls_cert_pem())).unwrap();
    let host = PlatformKey::from_seed([5; 32]);
    let measurement = VirtualMeasurement::of(b"relying-party test binary", b"config");
    let policy = json!({
        "id": "cache",
        "platform": "virtual",
        "allowed_measurements": [measurement.hex()],
        "trusted_platform_keys": [host.public_hex()],
    });
    client
        .replace_policy(ADMIN, Platform::Virtual, policy.to_string().as_bytes())
        .await
        .unwrap();
    let attester = VirtualAttester::new(host, measurement);
    let key = WorkloadKey::generate().unwrap().public_jwk();
    let expect = Expectations::new(service.issuer()).allowing_virtual();

    let slow = JwksCache::new(client.clone(), Duration::from_secs(3_600));
    let fast = JwksCache::new(client.clone(), Duration::ZERO);
    let (old, _) = obtain_token(&client, &attester, &key).await.unwrap();
    slow.verify(&old, &expect, UnixTime::now()).await.unwrap();
    fast.verify(&old, &expect, UnixTime::now()).await.unwrap();

    let new_kid = client.rotate_signing_key(ADMIN).await.unwrap();
    let (new, _) = obtain_token(&client, &attester, &key).await.unwrap();
    // Within min_refresh the cache keeps what it has and says which kid it lacks ...
    match slow.verify(&new, &expect, UnixTime::now()).await {
        Err(VerifyError::Refused(Refusal::UnknownKid(kid))) => assert_eq!(kid, new_kid),
        other => panic!("{other:?}"),
    }
    // ... while a cache allowed to refresh fetches the new JWKS and accepts the token,
    // and still accepts the old one (the retired key stays published).
    assert_eq!(
        fast.verify(&new, &expect, UnixTime::now())
            .await
            .unwrap()
            .kid,
        new_kid
    );
    fast.verify(&old, &expect, UnixTime::now()).await.unwrap();
    service.shutdown().await;
}
