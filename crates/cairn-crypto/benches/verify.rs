//! Signature verification throughput: Ed25519 single, Ed25519 batch of 64
//! (one `verify_batch` call, one chunk, so no rayon), a mixed 1024-item
//! batch (parallel chunks), and P-256 single.
//!
//! Run: `cargo bench -p cairn-crypto --bench verify`. Criterion reports
//! elements/s, i.e. signatures verified per second.

use std::hint::black_box;

use cairn_crypto::{KeyType, PublicKey, SigningKey, verify_batch};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

struct Signed {
    key: PublicKey,
    msg: Vec<u8>,
    sig: Vec<u8>,
}

fn signed(n: usize, key_type: impl Fn(usize) -> KeyType) -> Vec<Signed> {
    (0..n)
        .map(|i| {
            let sk = SigningKey::generate(key_type(i)).expect("system RNG");
            // A transaction-sized message.
            let msg = vec![i as u8; 512];
            let sig = sk.sign(&msg);
            Signed {
                key: sk.public_key(),
                msg,
                sig,
            }
        })
        .collect()
}

fn items(s: &[Signed]) -> Vec<(&PublicKey, &[u8], &[u8])> {
    s.iter()
        .map(|s| (&s.key, s.msg.as_slice(), s.sig.as_slice()))
        .collect()
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("verify");

    let ed = signed(1, |_| KeyType::Ed25519);
    group.throughput(Throughput::Elements(1));
    group.bench_function("ed25519_single", |b| {
        b.iter(|| {
            ed[0]
                .key
                .verify(black_box(&ed[0].msg), black_box(&ed[0].sig))
        })
    });

    let p = signed(1, |_| KeyType::P256);
    group.bench_function("p256_single", |b| {
        b.iter(|| p[0].key.verify(black_box(&p[0].msg), black_box(&p[0].sig)))
    });

    let batch = signed(64, |_| KeyType::Ed25519);
    let batch_items = items(&batch);
    group.throughput(Throughput::Elements(64));
    group.bench_function("ed25519_batch_64", |b| {
        b.iter(|| verify_batch(black_box(&batch_items)))
    });

    let big = signed(1024, |_| KeyType::Ed25519);
    let big_items = items(&big);
    group.throughput(Throughput::Elements(1024));
    group.bench_function("ed25519_batch_1024_parallel", |b| {
        b.iter(|| verify_batch(black_box(&big_items)))
    });

    let mixed = signed(1024, |i| {
        if i % 8 == 0 {
            KeyType::P256
        } else {
            KeyType::Ed25519
        }
    });
    let mixed_items = items(&mixed);
    group.bench_function("mixed_batch_1024_one_in_8_p256", |b| {
        b.iter(|| verify_batch(black_box(&mixed_items)))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
