//! The state directory holds the token signing keys, the TLS key and the
//! policies: every file in it is the owner's only (0600, directories 0700),
//! from the first start through a policy change and a key rotation.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
#![cfg(unix)]

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use cairn_attest::Platform;
use support::*;

/// Every file and directory under `dir` with its permission bits.
fn walk(dir: &Path, out: &mut Vec<(PathBuf, bool, u32)>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let meta = e.metadata().unwrap();
        out.push((e.path(), meta.is_dir(), meta.permissions().mode() & 0o777));
        if meta.is_dir() {
            walk(&e.path(), out);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_state_file_is_owner_only_after_a_policy_change_and_a_rotation() {
    let tmp = tempfile::tempdir().unwrap();
    // A state directory the service creates itself.
    let state = tmp.path().join("attest");
    let config = cairn_attest_service::ServiceConfig::new(
        "127.0.0.1:0".parse().unwrap(),
        state.clone(),
        ADMIN.to_owned(),
    );
    let service = cairn_attest_service::serve(config).await.unwrap();
    let client =
        cairn_attest_client::AttestationClient::new(service.issuer(), Some(service.tls_cert_pem()))
            .unwrap();
    let allowed = [running_measurement(b"svc.toml").hex()];
    client
        .replace_policy(ADMIN, Platform::Virtual, &virtual_policy("p1", &allowed))
        .await
        .unwrap();
    client.rotate_signing_key(ADMIN).await.unwrap();
    service.shutdown().await;

    let mut entries = Vec::new();
    walk(&state, &mut entries);
    let names: Vec<String> = entries
        .iter()
        .map(|(p, _, _)| p.strip_prefix(&state).unwrap().display().to_string())
        .collect();
    // The walk sees what the service wrote (the positive control).
    for expected in [
        "signing-keys.json",
        "tls/key.pem",
        "tls/cert.pem",
        "policies/virtual.json",
        "policies/changes.log",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} not in {names:?}"
        );
    }
    let state_mode = std::fs::metadata(&state).unwrap().permissions().mode() & 0o777;
    assert_eq!(state_mode, 0o700, "the state directory");
    for (path, is_dir, mode) in &entries {
        let want = if *is_dir { 0o700 } else { 0o600 };
        assert_eq!(*mode, want, "{} is {mode:o}", path.display());
    }
}
