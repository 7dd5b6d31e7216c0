//! tract inference latency on the committed breast-cancer model:
//! `cargo bench -p cairn-infer --bench model`.
//!
//! - `predict/1 row`: one request's worth of work for a single patient;
//! - `predict/143 rows`: the whole test set in one batch;
//! - `load`: parsing, optimizing and planning the model (once per service start).
#![allow(
    missing_docs,
    reason = "criterion's macros generate undocumented items"
)]
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed benchmark")]

use std::hint::black_box;

use cairn_infer::model::{Model, breast_cancer_onnx};
use criterion::{Criterion, criterion_group, criterion_main};

/// A plausible row (the first test row's magnitudes), varied per index so rows differ.
fn row(i: usize) -> Vec<f32> {
    (0..30)
        .map(|c| 0.05 + (c as f32) * 0.7 + (i % 17) as f32 * 0.01)
        .collect()
}

fn bench(c: &mut Criterion) {
    let model = Model::from_bytes(breast_cancer_onnx()).unwrap();
    let mut group = c.benchmark_group("predict");
    let one = vec![row(0)];
    group.bench_function("1 row", |b| {
        b.iter(|| model.predict(black_box(&one)).unwrap())
    });
    let batch: Vec<Vec<f32>> = (0..143).map(row).collect();
    group.bench_function("143 rows", |b| {
        b.iter(|| model.predict(black_box(&batch)).unwrap())
    });
    group.finish();
    c.bench_function("load", |b| {
        b.iter(|| Model::from_bytes(black_box(breast_cancer_onnx())).unwrap())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
