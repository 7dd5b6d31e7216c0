//! The service issues tokens for a running node's virtual evidence, and relying
//! parties check them with the JWKS alone; each kind of bad token is refused with
//! its reason.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod support;

use cairn_attest::jwk::b64url;
use cairn_attest::{
    AttestationClaims, Expectations, Jwks, KeyRing, Platform, Refusal, RuntimeData, UnixTime,
    WorkloadKey, verify_token,
};
use cairn_attest_client::{ClientError, obtain_token};
use support::*;

const CONFIG: &[u8] = b"node.toml: role=peer";

fn claims_of(token: &str) -> AttestationClaims {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&cairn_attest::jwk::b64url_decode(payload).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_running_nodes_virtual_token_verifies_with_the_jwks_alone() {
    let h = start_with_policy(&[CONFIG], Default::default()).await;
    let (key, token, rd) = workload(&h, CONFIG).await;
    // The relying party knows only the JWKS document (fetched once), nothing else.
    let jwks = Jwks::parse(&h.client.jwks_json().await.unwrap()).unwrap();
    let expect = Expectations::new(h.service.issuer())
        .allowing_virtual()
        .with_nonce(rd.nonce.clone())
        .with_tee_pubkey(key.public_jwk())
        .with_measurements([running_measurement(CONFIG).hex()]);
    let v = verify_token(&token, &jwks, &expect, UnixTime::now()).unwrap();
    let c = v.claims;
    assert_eq!(c.platform, Platform::Virtual);
    assert!(!c.hardware);
    assert!(!c.debug);
    assert_eq!(c.measurement, running_measurement(CONFIG).hex());
    assert_eq!(c.measurements["platform_key"], h.platform_key_hex);
    assert_eq!(c.iss, h.service.issuer());
    assert_eq!(c.nonce.as_deref(), Some(rd.nonce.as_str()));
    assert_eq!(c.runtime_data, Some(rd));
    assert_eq!(c.policy.id, "dev-virtual");
    assert!(c.policy.hash.starts_with("sha256:"));
    assert_eq!(c.exp - c.iat, 120);
    assert!(c.nbf <= c.iat && !c.jti.is_empty());
    let header = token.split('.').next().unwrap();
    let header: serde_json::Value =
        serde_json::from_slice(&cairn_attest::jwk::b64url_decode(header).unwrap()).unwrap();
    assert_eq!(header["alg"], "ES256");
    assert!(jwks.contains(header["kid"].as_str().unwrap()));

    // A hardware-only relying party (the default) refuses it.
    let strict = Expectations::new(h.service.issuer());
    assert_eq!(
        verify_token(&token, &jwks, &strict, UnixTime::now()).unwrap_err(),
        Refusal::VirtualNotAllowed
    );
    h.service.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_tokens_are_refused_each_with_its_reason() {
    let h = start_with_policy(&[CONFIG], Default::default()).await;
    let (key, token, rd) = workload(&h, CONFIG).await;
    let jwks = h.client.jwks().await.unwrap();
    let now = UnixTime::now();
    let expect = Expectations::new(h.service.issuer()).allowing_virtual();
    verify_token(&token, &jwks, &expect, now).unwrap();
    let claims = claims_of(&token);

    // Expired.
    let later = UnixTime(claims.exp + expect.leeway_secs);
    assert!(matches!(
        verify_token(&token, &jwks, &expect, later),
        Err(Refusal::Expired { .. })
    ));

    // Signed by a key that is not in the JWKS.
    let rogue = KeyRing::generate(now, 60).unwrap();
    let forged = rogue.sign(&claims).unwrap();
    assert_eq!(
        verify_token(&forged, &jwks, &expect, now).unwrap_err(),
        Refusal::UnknownKid(rogue.active_kid().unwrap().to_owned())
    );
    // ... even when it claims the service's kid.
    let service_kid = jwks.kids().next().unwrap().to_owned();
    let (_, rest) = forged.split_once('.').unwrap();
    let relabelled = format!(
        "{}.{rest}",
        b64url(format!(r#"{{"alg":"ES256","kid":"{service_kid}","typ":"JWT"}}"#).as_bytes())
    );
    assert_eq!(
        verify_token(&relabelled, &jwks, &expect, now).unwrap_err(),
        Refusal::BadSignature
    );

    // A measurement outside what the relying party expects.
    let other = Expectations::new(h.service.issuer())
        .allowing_virtual()
        .with_measurements([hex::encode([7u8; 48])]);
    assert!(
        matches!(verify_token(&token, &jwks, &other, now), Err(Refusal::MeasurementNotExpected(m)) if m == claims.measurement)
    );

    // The nonce or the key binding does not match.
    let wrong_nonce = Expectations::new(h.service.issuer())
        .allowing_virtual()
        .with_nonce("another");
    assert!(matches!(
        verify_token(&token, &jwks, &wrong_nonce, now),
        Err(Refusal::NonceMismatch { .. })
    ));
    let other_key = WorkloadKey::generate().unwrap();
    let wrong_key = Expectations::new(h.service.issuer())
        .allowing_virtual()
        .with_tee_pubkey(other_key.public_jwk());
    match verify_token(&token, &jwks, &wrong_key, now) {
        Err(Refusal::KeyBindingMismatch { expected, actual }) => {
            assert_eq!(expected, other_key.public_jwk().thumbprint_b64());
            assert_eq!(actual, key.public_jwk().thumbprint_b64());
        }
        other => panic!("{other:?}"),
    }

    // Another issuer.
    let elsewhere = Expectations::new("https://attest.example").allowing_virtual();
    assert!(matches!(
        verify_token(&token, &jwks, &elsewhere, now),
        Err(Refusal::IssuerMismatch { .. })
    ));

    // A changed claim breaks the signature.
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let mut tampered = claims.clone();
    tampered.measurement = hex::encode([7u8; 48]);
    parts[1] = b64url(&serde_json::to_vec(&tampered).unwrap());
    assert_eq!(
        verify_token(&parts.join("."), &jwks, &expect, now).unwrap_err(),
        Refusal::BadSignature
    );
    drop(rd);
    h.service.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_service_refuses_what_it_must_not_sign() {
    let h = start_with_policy(&[CONFIG], Default::default()).await;
    let key = WorkloadKey::generate().unwrap();

    // A measurement outside the policy.
    let err = obtain_token(&h.client, &attester(b"tampered config"), &key.public_jwk())
        .await
        .unwrap_err();
    match err {
        ClientError::Refused {
            status: 403,
            code,
            reason,
        } => {
            assert_eq!(code, "appraisal_refused");
            assert!(
                reason.contains("is not allowed by policy dev-virtual"),
                "{reason}"
            );
        }
        other => panic!("{other:?}"),
    }

    // Evidence bound to one nonce, submitted with another (fresh) one.
    let n1 = h.client.nonce().await.unwrap().nonce;
    let n2 = h.client.nonce().await.unwrap().nonce;
    let ev = cairn_attest::Attester::evidence(
        &attester(CONFIG),
        &RuntimeData::new(n1, key.public_jwk()).report_data(),
    )
    .unwrap();
    let err = h
        .client
        .attest(
            Platform::Virtual,
            &ev,
            Some(&RuntimeData::new(n2, key.public_jwk())),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ClientError::Refused { code, reason, .. } if code == "appraisal_refused" && reason.contains("does not bind")),
        "{err}"
    );

    // Evidence bound to one key, submitted with another.
    let n = h.client.nonce().await.unwrap().nonce;
    let ev = cairn_attest::Attester::evidence(
        &attester(CONFIG),
        &RuntimeData::new(n.clone(), key.public_jwk()).report_data(),
    )
    .unwrap();
    let other = WorkloadKey::generate().unwrap();
    let err = h
        .client
        .attest(
            Platform::Virtual,
            &ev,
            Some(&RuntimeData::new(n.clone(), other.public_jwk())),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ClientError::Refused { code, .. } if code == "appraisal_refused"),
        "{err}"
    );

    // The nonce was consumed by that attempt: replaying it is refused.
    let err = h
        .client
        .attest(
            Platform::Virtual,
            &ev,
            Some(&RuntimeData::new(n, key.public_jwk())),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ClientError::Refused { status: 400, code, .. } if code == "bad_nonce"),
        "{err}"
    );

    // A nonce the service never issued.
    let rd = RuntimeData::new("made-up", key.public_jwk());
    let ev = cairn_attest::Attester::evidence(&attester(CONFIG), &rd.report_data()).unwrap();
    assert!(matches!(
        h.client.attest(Platform::Virtual, &ev, Some(&rd)).await,
        Err(ClientError::Refused { status: 400, .. })
    ));

    // Virtual evidence from an untrusted platform key.
    let n = h.client.nonce().await.unwrap().nonce;
    let rd = RuntimeData::new(n, key.public_jwk());
    let rogue_host = cairn_attest::VirtualAttester::new(
        cairn_attest::PlatformKey::from_seed([9; 32]),
        running_measurement(CONFIG),
    );
    let ev = cairn_attest::Attester::evidence(&rogue_host, &rd.report_data()).unwrap();
    let err = h
        .client
        .attest(Platform::Virtual, &ev, Some(&rd))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ClientError::Refused { code, reason, .. } if code == "appraisal_refused" && reason.contains("trusted_platform_keys")),
        "{err}"
    );

    // Virtual evidence posted as SEV-SNP, and a platform with no policy.
    let n = h.client.nonce().await.unwrap().nonce;
    let rd = RuntimeData::new(n, key.public_jwk());
    let ev = cairn_attest::Attester::evidence(&attester(CONFIG), &rd.report_data()).unwrap();
    let err = h
        .client
        .attest(Platform::SevSnp, &ev, Some(&rd))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ClientError::Refused { status: 403, code, .. } if code == "no_policy"),
        "{err}"
    );
    h.service.shutdown().await;
}
