//! Batch verification: exact failure indices, mixed key types, parallel chunks.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use cairn_crypto::{BATCH_CHUNK, CryptoError, KeyType, PublicKey, SigningKey, verify_batch};

struct Signed {
    key: PublicKey,
    msg: Vec<u8>,
    sig: Vec<u8>,
}

/// `n` signed messages; key type chosen by `kind(i)`; items in `bad` get a
/// signature over a different message.
fn make(n: usize, kind: impl Fn(usize) -> KeyType, bad: &[usize]) -> Vec<Signed> {
    let keys = [
        SigningKey::generate(KeyType::Ed25519).unwrap(),
        SigningKey::generate(KeyType::Ed25519).unwrap(),
        SigningKey::generate(KeyType::P256).unwrap(),
    ];
    (0..n)
        .map(|i| {
            let sk = match kind(i) {
                KeyType::Ed25519 => &keys[i % 2],
                KeyType::P256 => &keys[2],
            };
            let msg = format!("transaction {i}").into_bytes();
            let sig = if bad.contains(&i) {
                sk.sign(b"something else")
            } else {
                sk.sign(&msg)
            };
            Signed {
                key: sk.public_key(),
                msg,
                sig,
            }
        })
        .collect()
}

fn items(signed: &[Signed]) -> Vec<(&PublicKey, &[u8], &[u8])> {
    signed
        .iter()
        .map(|s| (&s.key, s.msg.as_slice(), s.sig.as_slice()))
        .collect()
}

#[test]
fn an_all_good_batch_passes() {
    let signed = make(40, |_| KeyType::Ed25519, &[]);
    verify_batch(&items(&signed)).unwrap();
    let mixed = make(
        3 * BATCH_CHUNK + 5,
        |i| {
            if i % 8 == 0 {
                KeyType::P256
            } else {
                KeyType::Ed25519
            }
        },
        &[],
    );
    verify_batch(&items(&mixed)).unwrap();
}

#[test]
fn bad_signatures_at_3_and_7_are_reported_exactly() {
    let signed = make(10, |_| KeyType::Ed25519, &[3, 7]);
    let err = verify_batch(&items(&signed)).unwrap_err();
    assert_eq!(err.indices(), vec![3, 7]);
    assert!(
        err.failures
            .iter()
            .all(|(_, e)| *e == CryptoError::BadSignature)
    );
    assert!(err.to_string().contains("[3, 7]"), "{err}");
}

#[test]
fn mixed_ed25519_and_p256_batches_report_exact_indices() {
    // Index 3 is P-256, index 7 is Ed25519.
    let signed = make(
        10,
        |i| {
            if i % 3 == 0 {
                KeyType::P256
            } else {
                KeyType::Ed25519
            }
        },
        &[3, 7],
    );
    assert_eq!(signed[3].key.key_type(), KeyType::P256);
    assert_eq!(signed[7].key.key_type(), KeyType::Ed25519);
    assert_eq!(
        verify_batch(&items(&signed)).unwrap_err().indices(),
        vec![3, 7]
    );
}

#[test]
fn large_parallel_batches_report_indices_across_chunks() {
    let n = 4 * BATCH_CHUNK + 17;
    let bad = [
        0,
        3,
        7,
        BATCH_CHUNK - 1,
        BATCH_CHUNK,
        2 * BATCH_CHUNK + 2,
        n - 1,
    ];
    let signed = make(
        n,
        |i| {
            if i % 16 == 0 {
                KeyType::P256
            } else {
                KeyType::Ed25519
            }
        },
        &bad,
    );
    assert_eq!(
        verify_batch(&items(&signed)).unwrap_err().indices(),
        bad.to_vec()
    );
}

#[test]
fn reasons_are_kept_per_item() {
    let mut signed = make(
        6,
        |i| {
            if i < 3 {
                KeyType::Ed25519
            } else {
                KeyType::P256
            }
        },
        &[],
    );
    signed[1].sig.truncate(10);
    signed[4].sig = vec![0x30, 0x00];
    // Item 5: wrong key (an Ed25519 signature checked against a P-256 key).
    signed[5].sig = signed[0].sig.clone();
    let err = verify_batch(&items(&signed)).unwrap_err();
    assert_eq!(err.indices(), vec![1, 4, 5]);
    assert!(matches!(
        err.failures[0].1,
        CryptoError::MalformedSignature { .. }
    ));
    assert!(matches!(
        err.failures[1].1,
        CryptoError::MalformedSignature { .. }
    ));
}
