//! Throughput at ledger scale: a tree of 2^20 (about 1M) leaves in a `MemoryStore`.
//!
//! Run: `cargo bench -p cairn-merkle --bench merkle`.
//!
//! Proof generation cost is dominated by node reads, so these numbers are an upper bound
//! for a database-backed store, whose reads cost more than a `Vec` index.

#![allow(missing_docs)] // criterion_group! generates undocumented public items.

use std::hint::black_box;

use cairn_merkle::{
    Hash, MemoryStore, append, consistency_proof, inclusion_proof, leaf_hash, root,
    verify_consistency, verify_inclusion,
};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

const SIZE: u64 = 1 << 20;
/// Leaves whose proofs are measured, spread over the tree by a multiplicative hash.
const SAMPLES: u64 = 1024;

fn leaf(i: u64) -> Hash {
    leaf_hash(&i.to_le_bytes())
}

fn sample_index(i: u64, size: u64) -> u64 {
    i.wrapping_mul(0x9e37_79b9_7f4a_7c15) % size
}

fn tree() -> MemoryStore {
    MemoryStore::from_leaves((0..SIZE).map(leaf))
}

fn bench_append(c: &mut Criterion) {
    let mut group = c.benchmark_group("append");
    group.throughput(Throughput::Elements(1));
    let base = tree();
    // Compute only: the nodes one leaf completes, read from a 1M-leaf store.
    group.bench_function("compute_nodes_at_1M", |b| {
        let mut i = 0;
        b.iter(|| {
            // Vary the size so the number of completed parents follows its real average.
            let size = SIZE - (i % 4096);
            i += 1;
            black_box(append(&base, size, leaf(size)))
        })
    });
    // Compute and write, the tree growing past 1M leaves.
    group.bench_function("push_at_1M", |b| {
        let mut store = base.clone();
        let mut i = SIZE;
        b.iter(|| {
            i += 1;
            black_box(store.push(leaf(i)))
        })
    });
    // Hashing the entry into its leaf hash, for scale.
    group.bench_function("leaf_hash_64B", |b| {
        let entry = [7u8; 64];
        b.iter(|| black_box(leaf_hash(black_box(&entry))))
    });
    group.finish();

    let mut group = c.benchmark_group("build");
    group.sample_size(10);
    group.throughput(Throughput::Elements(SIZE));
    let leaves: Vec<Hash> = (0..SIZE).map(leaf).collect();
    group.bench_function("extend_1M_from_empty", |b| {
        b.iter_batched(
            MemoryStore::new,
            |mut store| {
                store.extend(&leaves);
                store
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

fn bench_proofs(c: &mut Criterion) {
    let store = tree();
    let head = root(&store, SIZE).expect("the 1M-leaf tree has a root");
    let inclusion: Vec<_> = (0..SAMPLES)
        .map(|i| inclusion_proof(&store, sample_index(i, SIZE), SIZE).expect("leaf is in the tree"))
        .collect();

    let mut group = c.benchmark_group("inclusion_at_1M");
    group.throughput(Throughput::Elements(1));
    group.bench_function("generate", |b| {
        let mut i = 0;
        b.iter(|| {
            i += 1;
            black_box(inclusion_proof(&store, sample_index(i, SIZE), SIZE))
        })
    });
    group.bench_function("generate_past_size", |b| {
        let mut i = 0;
        b.iter(|| {
            i += 1;
            // A past tree head of odd size: the right edge needs a multi-node fold.
            let size = SIZE - 1 - (sample_index(i, SIZE / 2) | 1);
            black_box(inclusion_proof(&store, sample_index(i, size), size))
        })
    });
    group.bench_function("verify", |b| {
        let mut i = 0;
        b.iter(|| {
            let proof = &inclusion[i % inclusion.len()];
            i += 1;
            black_box(verify_inclusion(
                &leaf(proof.index),
                proof.index,
                proof.size,
                &proof.path,
                &head,
            ))
        })
    });
    group.finish();

    let mut group = c.benchmark_group("tree_head_at_1M");
    group.throughput(Throughput::Elements(1));
    group.bench_function("root_of_past_size", |b| {
        let mut i = 0;
        b.iter(|| {
            i += 1;
            black_box(root(&store, SIZE - sample_index(i, SIZE / 2)))
        })
    });
    group.finish();

    let mut group = c.benchmark_group("consistency_at_1M");
    group.throughput(Throughput::Elements(1));
    let old_sizes: Vec<u64> = (1..=SAMPLES)
        .map(|i| 1 + sample_index(i, SIZE - 1))
        .collect();
    let proofs: Vec<_> = old_sizes
        .iter()
        .map(|&old| {
            let proof = consistency_proof(&store, old, SIZE).expect("old size is in the tree");
            (root(&store, old).expect("old size is in the tree"), proof)
        })
        .collect();
    group.bench_function("generate", |b| {
        let mut i = 0;
        b.iter(|| {
            let old = old_sizes[i % old_sizes.len()];
            i += 1;
            black_box(consistency_proof(&store, old, SIZE))
        })
    });
    group.bench_function("verify", |b| {
        let mut i = 0;
        b.iter(|| {
            let (old_root, proof) = &proofs[i % proofs.len()];
            i += 1;
            black_box(verify_consistency(
                proof.old_size,
                proof.new_size,
                old_root,
                &head,
                &proof.path,
            ))
        })
    });
    group.finish();
}

criterion_group!(benches, bench_append, bench_proofs);
criterion_main!(benches);
