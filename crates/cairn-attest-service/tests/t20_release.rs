//! Secret release: an allowed workload gets the secret sealed to its key; another
//! measurement is refused; only the workload's private key opens it.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod support;

use cairn_attest::{SealError, WorkloadKey, release_context};
use cairn_attest_client::ClientError;
use cairn_attest_service::SecretStore;
use support::*;

const DIAGNOSTICS: &[u8] = b"inference.toml: model=diagnostics";
const PORTAL: &[u8] = b"portal.toml";
const DEK: &[u8] = b"0123456789abcdef0123456789abcdef";

fn secrets() -> SecretStore {
    SecretStore::default().with(
        "model-dek",
        DEK.to_vec(),
        release(&[running_measurement(DIAGNOSTICS).hex()]),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn an_allowed_workload_gets_the_secret_and_only_its_key_opens_it() {
    // The appraisal policy accepts both workloads; only the secret's release policy
    // tells them apart.
    let h = start_with_policy(&[DIAGNOSTICS, PORTAL], secrets()).await;
    let (key, token, _) = workload(&h, DIAGNOSTICS).await;
    let released = h.client.release_key("model-dek", &token).await.unwrap();
    assert_eq!(released.name, "model-dek");
    let (info, aad) = release_context("model-dek", &released.jti);
    assert_eq!(key.open(&released.sealed, &info, &aad).unwrap(), DEK);
    // Neither another key, nor the right key with another token's context, opens it.
    let stranger = WorkloadKey::generate().unwrap();
    assert_eq!(
        stranger.open(&released.sealed, &info, &aad),
        Err(SealError::Open)
    );
    let (_, other_aad) = release_context("model-dek", "another-jti");
    assert_eq!(
        key.open(&released.sealed, &info, &other_aad),
        Err(SealError::Open)
    );

    // A different measurement is refused, with the reason.
    let (_, portal_token, _) = workload(&h, PORTAL).await;
    match h
        .client
        .release_key("model-dek", &portal_token)
        .await
        .unwrap_err()
    {
        ClientError::Refused {
            status: 403,
            code,
            reason,
        } => {
            assert_eq!(code, "release_refused");
            assert!(
                reason.contains(&running_measurement(PORTAL).hex()),
                "{reason}"
            );
        }
        other => panic!("{other:?}"),
    }
    h.service.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn release_needs_a_valid_token_and_a_known_secret() {
    let h = start_with_policy(&[DIAGNOSTICS], secrets()).await;
    let (_, token, _) = workload(&h, DIAGNOSTICS).await;
    assert!(matches!(
        h.client.release_key("no-such-secret", &token).await,
        Err(ClientError::Refused { status: 404, .. })
    ));
    let mut forged = token.clone();
    forged.pop();
    forged.push(if token.ends_with('A') { 'B' } else { 'A' });
    match h
        .client
        .release_key("model-dek", &forged)
        .await
        .unwrap_err()
    {
        ClientError::Refused {
            status: 401, code, ..
        } => assert_eq!(code, "invalid_token"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        h.client.release_key("model-dek", "not-a-token").await,
        Err(ClientError::Refused { status: 401, .. })
    ));
    h.service.shutdown().await;
}

#[test]
fn secrets_files_are_checked() {
    let ok = format!(
        r#"{{"secrets":{{"dek":{{"value_b64":"c2VjcmV0","release":{{"platforms":["sev-snp"],"allowed_measurements":["{}"]}}}}}}}}"#,
        hex::encode([1u8; 48])
    );
    assert!(SecretStore::parse(ok.as_bytes()).is_ok());
    let empty = r#"{"secrets":{"dek":{"value_b64":"c2VjcmV0","release":{"platforms":[],"allowed_measurements":[]}}}}"#;
    assert!(SecretStore::parse(empty.as_bytes()).is_err());
    let typo = r#"{"secrets":{"dek":{"value":"c2VjcmV0","release":{"platforms":["sgx"],"allowed_measurements":["aa"]}}}}"#;
    assert!(SecretStore::parse(typo.as_bytes()).is_err());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_admin_sets_a_secret_that_is_then_released_and_survives_a_restart() {
    let h = start_with_policy(&[DIAGNOSTICS], SecretStore::default()).await;
    let (key, token, _) = workload(&h, DIAGNOSTICS).await;
    let allowed = release(&[running_measurement(DIAGNOSTICS).hex()]);
    // Positive control first: unknown before it is set.
    match h.client.release_key("rotated", &token).await.unwrap_err() {
        ClientError::Refused { status: 404, .. } => {}
        other => panic!("expected unknown_secret, got {other:?}"),
    }
    // The wrong admin token and a name that is not a file name are refused.
    match h
        .client
        .replace_secret("not-the-admin", "rotated", b"v1", &allowed)
        .await
        .unwrap_err()
    {
        ClientError::Refused { status: 401, .. } => {}
        other => panic!("expected 401, got {other:?}"),
    }
    match h
        .client
        .replace_secret(ADMIN, ".hidden", b"v1", &allowed)
        .await
        .unwrap_err()
    {
        ClientError::Refused {
            status: 400,
            reason,
            ..
        } => assert!(reason.contains("letters, digits"), "{reason}"),
        other => panic!("expected 400, got {other:?}"),
    }

    h.client
        .replace_secret(ADMIN, "rotated", b"value-1", &allowed)
        .await
        .unwrap();
    h.client
        .replace_secret(ADMIN, "rotated", b"value-2", &allowed)
        .await
        .unwrap();
    let released = h.client.release_key("rotated", &token).await.unwrap();
    let (info, aad) = release_context("rotated", &released.jti);
    assert_eq!(key.open(&released.sealed, &info, &aad).unwrap(), b"value-2");
    let stored = std::fs::metadata(h.dir.path().join("secrets/rotated.json")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(stored.permissions().mode() & 0o777, 0o600);

    // A restarted service on the same state directory still releases it.
    let Harness { service, dir, .. } = h;
    drop(service);
    let h = start_in(dir, SecretStore::default()).await;
    let (key, token, _) = workload(&h, DIAGNOSTICS).await;
    let released = h.client.release_key("rotated", &token).await.unwrap();
    let (info, aad) = release_context("rotated", &released.jti);
    assert_eq!(key.open(&released.sealed, &info, &aad).unwrap(), b"value-2");
}
