//! Scale-out through secret release: nodes with the allowed measurement obtain the
//! same key bundle and present one key configuration; a node with another
//! measurement gets nothing; a rotation keeps the old key for its grace period and
//! tells clients their configuration is outdated.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod support;

use std::time::Duration;

use cairn_attest::UnixTime;
use cairn_infer::client::{InferClient, InferError};
use cairn_infer::keys::KeyBundle;
use cairn_infer::service::{KeySource, ServeError};
use support::*;

fn released() -> KeySource {
    KeySource::Release {
        secret: KEY_SECRET.into(),
        refresh: Duration::from_secs(3600),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_node_serves_with_the_released_key_and_another_measurement_gets_none() {
    let bundle = KeyBundle::generate(1).unwrap();
    let w = world(Some(&bundle.to_json())).await;
    let a = w.node(NODE, released()).await.unwrap();
    let b = w.node(NODE, released()).await.unwrap();
    assert_eq!(a.info().key_config_sha256, b.info().key_config_sha256);
    // Positive control: a self-generated key differs.
    let own = w.node(NODE, KeySource::Generate).await.unwrap();
    assert_ne!(own.info().key_config_sha256, a.info().key_config_sha256);

    // A client verified against node A can send the same sealed request to node B.
    let client_a = InferClient::new(&url(&a), w.policy()).unwrap();
    let verified = client_a.attest().await.unwrap();
    let (rows, expected) = vectors();
    let client_b = InferClient::new(&url(&b), w.policy()).unwrap();
    let answer = client_b
        .infer(&verified, vec![rows[1].clone()])
        .await
        .unwrap();
    assert!((answer.outputs[0][0] - expected[1]).abs() <= 1e-5);

    // Another measurement: attested (the appraisal policy accepts it) but the
    // release policy does not, so it gets no key and does not start.
    let err = w.node(OTHER, released()).await.err().unwrap();
    assert!(matches!(err, ServeError::Attestation(_)), "{err}");
    let text = err.to_string();
    assert!(text.contains("403") || text.contains("release"), "{text}");
    assert!(text.contains(&measurement(OTHER)), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn rotation_keeps_the_old_key_for_its_grace_period_and_says_it_is_outdated() {
    let bundle = KeyBundle::generate(1).unwrap();
    let w = world(Some(&bundle.to_json())).await;
    let node = w.node(NODE, released()).await.unwrap();
    let client = InferClient::new(&url(&node), w.policy()).unwrap();
    let old = client.attest().await.unwrap();
    assert_eq!(old.key_config.key_id, 1);
    let (rows, _) = vectors();

    // Rotate with a 3 s grace period; the node picks the bundle up.
    let rotated = bundle.rotate(3, UnixTime::now()).unwrap();
    w.admin
        .replace_secret(ADMIN, KEY_SECRET, &rotated.to_json(), &release_to_node())
        .await
        .unwrap();
    assert!(node.refresh_keys().await.unwrap());
    assert_eq!(node.info().key_id, 2);

    // During the grace period the old key still works, and the answer says so.
    let answer = client.infer(&old, vec![rows[0].clone()]).await.unwrap();
    assert_eq!(answer.outdated_key, Some(2));
    // A fresh attestation gives the new key, which is not outdated.
    let new = client.attest().await.unwrap();
    assert_eq!(new.key_config.key_id, 2);
    let answer = client.infer(&new, vec![rows[0].clone()]).await.unwrap();
    assert_eq!(answer.outdated_key, None);

    // After the grace period, the old key opens nothing.
    tokio::time::sleep(Duration::from_secs(4)).await;
    match client.infer(&old, vec![rows[0].clone()]).await {
        Err(InferError::Status { status: 422, text }) => {
            assert!(text.contains("key id 1"), "{text}")
        }
        other => panic!("expected the retired key to be refused, got {other:?}"),
    }
}
