//! Issue 5 part 5 at library level: a node obtains a token for itself, and a channel
//! member admits it against the channel's allowed measurements using the JWKS alone.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod support;

use std::collections::BTreeSet;

use cairn_attest::{AdmissionPolicy, Platform, Refusal, UnixTime, WorkloadKey};
use cairn_attest_client::obtain_token;
use support::*;

const PEER: &[u8] = b"peer.toml";

#[tokio::test(flavor = "multi_thread")]
async fn a_node_with_an_allowed_measurement_and_its_own_key_is_admitted() {
    let h = start_with_policy(&[PEER, b"rogue.toml"], Default::default()).await;
    let node_key = WorkloadKey::generate().unwrap().public_jwk();
    let (token, _) = obtain_token(&h.client, &attester(PEER), &node_key)
        .await
        .unwrap();
    let jwks = h.client.jwks().await.unwrap();
    let channel = AdmissionPolicy {
        issuer: h.service.issuer().to_owned(),
        allowed_measurements: BTreeSet::from([running_measurement(PEER).hex()]),
        allow_virtual: true,
    };
    let admitted = channel
        .admit(&token, &node_key, &jwks, UnixTime::now())
        .unwrap();
    assert_eq!(admitted.platform, Platform::Virtual);
    assert!(!admitted.hardware);
    assert_eq!(admitted.measurement, running_measurement(PEER).hex());
    assert_eq!(admitted.key_thumbprint, node_key.thumbprint_b64());

    // A production channel does not take virtual nodes.
    let production = AdmissionPolicy {
        allow_virtual: false,
        ..channel.clone()
    };
    assert_eq!(
        production
            .admit(&token, &node_key, &jwks, UnixTime::now())
            .unwrap_err(),
        Refusal::VirtualNotAllowed
    );
    // Someone replaying the token with their own key.
    let thief = WorkloadKey::generate().unwrap().public_jwk();
    assert!(matches!(
        channel.admit(&token, &thief, &jwks, UnixTime::now()),
        Err(Refusal::KeyBindingMismatch { .. })
    ));
    // A node running another build (attested fine, but not in the channel's list).
    let (rogue, _) = obtain_token(&h.client, &attester(b"rogue.toml"), &node_key)
        .await
        .unwrap();
    assert!(matches!(
        channel.admit(&rogue, &node_key, &jwks, UnixTime::now()),
        Err(Refusal::MeasurementNotExpected(_))
    ));
    // A channel that lists no builds admits nobody.
    let empty = AdmissionPolicy {
        allowed_measurements: BTreeSet::new(),
        ..channel
    };
    assert!(
        empty
            .admit(&token, &node_key, &jwks, UnixTime::now())
            .is_err()
    );
    h.service.shutdown().await;
}
