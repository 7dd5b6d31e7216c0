//! RFC 7515 A.3 (ES256), RFC 8037 A.4 (EdDSA), RFC 7517 A.1 (JWKS) and RFC 7638
//! thumbprint vectors from testdata/jwt.json, through Cairn's JWS layer.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use cairn_attest::jwk::b64url;
use cairn_attest::jws::{Algorithm, verify_with_jwks, verify_with_key};
use cairn_attest::relying_party::check_validity;
use cairn_attest::{Expectations, Jwks, PublicJwk, Refusal, UnixTime, verify_token};
use ed25519_dalek::Signer;
use serde_json::Value;

fn doc() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/jwt.json");
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn vector(name: &str) -> Value {
    doc()["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == name)
        .unwrap_or_else(|| panic!("no vector {name}"))
        .clone()
}

fn jwk(v: &Value) -> PublicJwk {
    serde_json::from_value(v["jwk_public"].clone()).unwrap()
}

#[test]
fn rfc7515_a3_es256_verifies_before_exp_and_is_expired_now() {
    let v = vector("RFC 7515 A.3 ES256 JWS");
    let jws = verify_with_key(v["compact"].as_str().unwrap(), &jwk(&v)).unwrap();
    assert_eq!(jws.payload, v["payload_utf8"].as_str().unwrap().as_bytes());
    let claims: Value = serde_json::from_slice(&jws.payload).unwrap();
    assert_eq!(claims, v["claims"]);
    let exp = claims["exp"].as_u64().unwrap();
    // The vector's own test time, 380 s before exp.
    check_validity(exp, None, None, UnixTime(1_300_819_000), 0).unwrap();
    assert!(matches!(
        check_validity(exp, None, None, UnixTime::now(), 0),
        Err(Refusal::Expired { .. })
    ));
    assert!(matches!(
        check_validity(exp, None, None, UnixTime(exp), 0),
        Err(Refusal::Expired { .. })
    ));
}

#[test]
fn rfc8037_a4_eddsa_verifies_and_signing_with_d_reproduces_it() {
    let v = vector("RFC 8037 A.4/A.5 EdDSA (Ed25519) JWS");
    let compact = v["compact"].as_str().unwrap();
    let jws = verify_with_key(compact, &jwk(&v)).unwrap();
    assert_eq!(jws.payload, v["payload_utf8"].as_str().unwrap().as_bytes());
    // Ed25519 is deterministic: the private key must give the same signature.
    let d = cairn_attest::jwk::b64url_decode(v["jwk_private"]["d"].as_str().unwrap()).unwrap();
    let key = ed25519_dalek::SigningKey::from_bytes(&d.try_into().unwrap());
    let (signing_input, sig) = compact.rsplit_once('.').unwrap();
    assert_eq!(b64url(&key.sign(signing_input.as_bytes()).to_bytes()), sig);
}

#[test]
fn an_attestation_layer_refuses_the_eddsa_vector() {
    // Not ES256, no kid, and not a JSON claims set: refused before any claim is read.
    let v = vector("RFC 8037 A.4/A.5 EdDSA (Ed25519) JWS");
    let mut key = v["jwk_public"].clone();
    key["kid"] = "ed".into();
    let jwks = Jwks::parse(serde_json::json!({ "keys": [key] }).to_string().as_bytes()).unwrap();
    let err = verify_token(
        v["compact"].as_str().unwrap(),
        &jwks,
        &Expectations::new("joe"),
        UnixTime(0),
    )
    .unwrap_err();
    assert_eq!(err, Refusal::UnsupportedAlgorithm("EdDSA".into()));
    let err =
        verify_with_jwks(v["compact"].as_str().unwrap(), &jwks, &[Algorithm::EdDSA]).unwrap_err();
    assert_eq!(err, Refusal::MissingKid);
}

#[test]
fn negative_vectors_are_refused_with_their_reason() {
    let v = vector("ES256 token presented with the Ed25519 key");
    assert!(matches!(
        verify_with_key(v["compact"].as_str().unwrap(), &jwk(&v)),
        Err(Refusal::KeyNotForSignatures { .. })
    ));
    for name in [
        "EdDSA token with modified payload",
        "ES256 token with modified payload",
    ] {
        let v = vector(name);
        assert_eq!(
            verify_with_key(v["compact"].as_str().unwrap(), &jwk(&v)).err(),
            Some(Refusal::BadSignature),
            "{name}"
        );
    }
    let v = vector("alg none refused");
    let es = jwk(&vector("RFC 7515 A.3 ES256 JWS"));
    for header in v["header_json_variants"].as_array().unwrap() {
        let token = format!(
            "{}.{}.",
            b64url(header.as_str().unwrap().as_bytes()),
            b64url(v["payload_json"].as_str().unwrap().as_bytes())
        );
        assert!(matches!(
            verify_with_key(&token, &es),
            Err(Refusal::UnsupportedAlgorithm(_))
        ));
    }
}

#[test]
fn rfc7517_a1_jwks_keys_cannot_verify_signatures() {
    let jwks = Jwks::parse(
        doc()["jwks"]["rfc7517_a1_public_keys"]
            .to_string()
            .as_bytes(),
    )
    .unwrap();
    assert_eq!(jwks.kids().collect::<Vec<_>>(), ["1", "2011-04-29"]);
    let es = vector("RFC 7515 A.3 ES256 JWS");
    let (_, rest) = es["compact"].as_str().unwrap().split_once('.').unwrap();
    for kid in ["1", "2011-04-29"] {
        let header = b64url(format!(r#"{{"alg":"ES256","kid":"{kid}"}}"#).as_bytes());
        let err =
            verify_with_jwks(&format!("{header}.{rest}"), &jwks, &[Algorithm::ES256]).unwrap_err();
        assert!(
            matches!(err, Refusal::KeyNotForSignatures { .. }),
            "{kid}: {err}"
        );
    }
    let header = b64url(br#"{"alg":"ES256","kid":"absent"}"#);
    assert_eq!(
        verify_with_jwks(&format!("{header}.{rest}"), &jwks, &[Algorithm::ES256]).err(),
        Some(Refusal::UnknownKid("absent".into()))
    );
}

#[test]
fn header_key_references_are_refused() {
    let es = vector("RFC 7515 A.3 ES256 JWS");
    let (_, rest) = es["compact"].as_str().unwrap().split_once('.').unwrap();
    let jwks = Jwks::parse(br#"{"keys":[]}"#).unwrap();
    for member in ["jku", "x5u", "jwk", "x5c"] {
        let header =
            b64url(format!(r#"{{"alg":"ES256","kid":"k","{member}":"https://evil"}}"#).as_bytes());
        assert_eq!(
            verify_with_jwks(&format!("{header}.{rest}"), &jwks, &[Algorithm::ES256]).err(),
            Some(Refusal::EmbeddedKeyReference(member.into()))
        );
    }
}

#[test]
fn rfc7638_thumbprints() {
    for case in doc()["jwk_thumbprints_rfc7638"].as_array().unwrap() {
        let key: PublicJwk = serde_json::from_value(case["jwk"].clone()).unwrap();
        assert_eq!(
            key.thumbprint_b64(),
            case["sha256_thumbprint_b64url"].as_str().unwrap(),
            "{}",
            case["jwk"]
        );
    }
}
