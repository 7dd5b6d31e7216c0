//! RFC 8032 §7.1 Ed25519 vectors (and derived negatives) through our
//! `SigningKey` and `PublicKey::verify`, one by one and as a batch.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use cairn_crypto::{CryptoError, PublicKey, SigningKey, verify_batch};
use serde::Deserialize;

const VECTORS: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../testdata/ed25519.json"
));

#[derive(Deserialize)]
struct File {
    vectors: Vec<Case>,
    negative_vectors: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    secret_key_seed: Option<String>,
    public_key: String,
    message: String,
    signature: String,
    valid: bool,
    source: String,
}

struct Decoded {
    name: String,
    seed: Option<[u8; 32]>,
    public: PublicKey,
    message: Vec<u8>,
    signature: Vec<u8>,
    valid: bool,
}

fn load() -> (Vec<Decoded>, Vec<Decoded>) {
    let file: File = serde_json::from_str(VECTORS).unwrap();
    let decode = |c: Case| {
        assert!(!c.source.is_empty(), "{} has no source", c.name);
        let pk: [u8; 32] = hex::decode(&c.public_key).unwrap().try_into().unwrap();
        Decoded {
            seed: c
                .secret_key_seed
                .map(|s| hex::decode(s).unwrap().try_into().unwrap()),
            public: PublicKey::Ed25519(ed25519_dalek::VerifyingKey::from_bytes(&pk).unwrap()),
            message: hex::decode(&c.message).unwrap(),
            signature: hex::decode(&c.signature).unwrap(),
            valid: c.valid,
            name: c.name,
        }
    };
    (
        file.vectors.into_iter().map(decode).collect(),
        file.negative_vectors.into_iter().map(decode).collect(),
    )
}

#[test]
fn every_positive_vector_signs_and_verifies() {
    let (positives, _) = load();
    assert_eq!(positives.len(), 3, "RFC 8032 §7.1 TEST 1-3 are expected");
    for case in &positives {
        assert!(case.valid, "{}", case.name);
        let seed = case.seed.expect("positive vectors carry the secret key");
        let sk = SigningKey::from_ed25519_seed(&seed);
        assert_eq!(
            sk.public_key(),
            case.public,
            "{}: derived public key",
            case.name
        );
        // Ed25519 is deterministic: our signature must equal the RFC's bytes.
        assert_eq!(
            sk.sign(&case.message),
            case.signature,
            "{}: signature",
            case.name
        );
        case.public
            .verify(&case.message, &case.signature)
            .unwrap_or_else(|e| panic!("{}: {e}", case.name));
    }
}

#[test]
fn every_negative_vector_is_rejected() {
    let (_, negatives) = load();
    assert_eq!(negatives.len(), 3);
    for case in &negatives {
        assert!(!case.valid, "{}", case.name);
        assert_eq!(
            case.public.verify(&case.message, &case.signature),
            Err(CryptoError::BadSignature),
            "{}",
            case.name
        );
    }
}

#[test]
fn the_file_as_one_batch_reports_exactly_the_negatives() {
    let (positives, negatives) = load();
    let all: Vec<&Decoded> = positives.iter().chain(negatives.iter()).collect();
    let items: Vec<(&PublicKey, &[u8], &[u8])> = all
        .iter()
        .map(|c| (&c.public, c.message.as_slice(), c.signature.as_slice()))
        .collect();
    let expected: Vec<usize> = all
        .iter()
        .enumerate()
        .filter(|(_, c)| !c.valid)
        .map(|(i, _)| i)
        .collect();
    let err = verify_batch(&items).unwrap_err();
    assert_eq!(err.indices(), expected);
    let valid_only: Vec<_> = items[..positives.len()].to_vec();
    assert!(verify_batch(&valid_only).is_ok());
}
