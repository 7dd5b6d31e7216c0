//! Oblivious HTTP cost per message for a 1 KiB body with the default suite
//! (X25519, HKDF-SHA256, AES-256-GCM): the client's encapsulation, the gateway's
//! decapsulation plus response sealing, and the client's opening of the response.
//!
//! Run: `cargo bench -p cairn-infer --bench ohttp`. Wall-clock time, single-threaded;
//! on a shared machine the figures include waiting for a core.

#![allow(
    clippy::unwrap_used,
    reason = "a benchmark's setup failing is a failed run"
)]
#![allow(missing_docs, reason = "criterion macros generate undocumented items")]

use std::hint::black_box;

use cairn_infer::ohttp::{Aead, ServerKey, decapsulate_request, encapsulate_request};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

const BODY_LEN: usize = 1024;

fn bench(c: &mut Criterion) {
    let aead = Aead::default();
    let key = ServerKey::derive(1, &[0x5c; 32], vec![aead]).unwrap();
    let config = key.config().clone();
    let body = vec![0xa5u8; BODY_LEN];
    let (enc_request, _) = encapsulate_request(&config, aead, &body).unwrap();

    let mut group = c.benchmark_group("ohttp-1KiB");
    group.throughput(Throughput::Bytes(BODY_LEN as u64));
    group.bench_function("client encapsulate", |b| {
        b.iter(|| encapsulate_request(black_box(&config), aead, black_box(&body)).unwrap())
    });
    group.bench_function("server decapsulate + seal", |b| {
        b.iter(|| {
            let (request, server) = decapsulate_request(&[&key], black_box(&enc_request)).unwrap();
            server.seal_response(black_box(&request)).unwrap()
        })
    });
    group.bench_function("client open", |b| {
        b.iter_batched(
            || {
                let (enc_request, client) = encapsulate_request(&config, aead, &body).unwrap();
                let (request, server) = decapsulate_request(&[&key], &enc_request).unwrap();
                (client, server.seal_response(&request).unwrap())
            },
            |(client, enc_response)| client.open_response(black_box(&enc_response)).unwrap(),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
