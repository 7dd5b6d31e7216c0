//! Invocations per second of a small `putState` contract (`contracts/kv`),
//! from a warm runtime pool and from a cold start (a new QuickJS runtime,
//! Cairn's built-ins and the package's modules compiled for every call).
//!
//! `cargo bench -p cairn-contract --bench invoke`
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed benchmark")]

#[path = "../tests/support/mod.rs"]
mod support;

use std::cell::Cell;
use std::hint::black_box;
use std::sync::Arc;

use cairn_contract::ContractPackage;
use cairn_crypto::Role;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use support::*;

fn invoke(c: &mut Criterion) {
    let org = Org::new("Org1");
    let package = Arc::new(ContractPackage::load(&contract_dir("kv"), "kv_1").unwrap());
    let id = package.id().clone();
    let peer = Peer::new(
        "Org1MSP",
        channel(&[&org]),
        FixedResolver::with("kv", package),
    );
    let who = org.identity("bench@org1.cairn", Role::Client, &[]);
    let nonce = Cell::new(0u64);
    let next = || {
        nonce.set(nonce.get() + 1);
        let key = format!("key{}", nonce.get());
        proposal(&who, "kv", "Put", &[&key, "a small value"], nonce.get())
    };

    let mut group = c.benchmark_group("kv_put");
    group.throughput(Throughput::Elements(1));
    group.bench_function("warm", |b| {
        b.iter(|| {
            let sim = peer.simulate(&next(), &who).unwrap();
            assert_eq!(sim.response.status, 200);
            black_box(sim)
        })
    });
    group.bench_function("cold", |b| {
        b.iter(|| {
            peer.runtime.evict(&id);
            let sim = peer.simulate(&next(), &who).unwrap();
            assert_eq!(sim.response.status, 200);
            black_box(sim)
        })
    });
    group.finish();
}

criterion_group!(benches, invoke);
criterion_main!(benches);
