//! Tokens issued per second (virtual evidence verification + appraisal + ES256
//! signing, the service's per-request work without HTTP) and token verifications per
//! second (a relying party with the JWKS).
//!
//! Run: `cargo bench -p cairn-attest --bench tokens`. Criterion reports throughput in
//! elements (tokens) per second. Each operation is measured twice: group `tokens` in
//! wall-clock time, group `tokens-cpu` in this thread's CPU time (on a shared machine
//! the CPU figure is the cost of one operation; the wall figure includes waiting for
//! a core). Both are single-threaded.

#![allow(
    clippy::unwrap_used,
    reason = "a benchmark's setup failing is a failed run"
)]
#![allow(missing_docs, reason = "criterion macros generate undocumented items")]

use std::hint::black_box;
use std::time::Duration;

use cairn_attest::{
    AppraisalPolicy, AttestationClaims, Attester, EvidenceVerifier, Expectations, Jwks, KeyRing,
    PlatformKey, RuntimeData, UnixTime, VirtualAttester, VirtualMeasurement, VirtualVerifier,
    WorkloadKey, verify_token,
};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::json;

fn bench(c: &mut Criterion) {
    let now = UnixTime(1_800_000_000);
    let key = PlatformKey::from_seed([1; 32]);
    let measurement = VirtualMeasurement::of(b"node binary", b"node config");
    let policy = AppraisalPolicy::parse(
        json!({
            "id": "bench",
            "platform": "virtual",
            "allowed_measurements": [measurement.hex()],
            "trusted_platform_keys": [key.public_hex()],
        })
        .to_string()
        .as_bytes(),
    )
    .unwrap();
    let attester = VirtualAttester::new(key, measurement);
    let workload = WorkloadKey::derive(&[2; 32]);
    let rd = RuntimeData::new("bench-nonce", workload.public_jwk());
    let evidence = attester.evidence(&rd.report_data()).unwrap();
    let ring = KeyRing::generate(now, 3_600).unwrap();
    let issuer = "https://attest.bench";

    let issue = || {
        let verified = VirtualVerifier.verify(&evidence, now).unwrap();
        let binding = rd.report_data();
        let appraisal = policy.appraise(&verified, Some(&binding)).unwrap();
        let claims =
            AttestationClaims::new(issuer, &verified, Some(&rd), &appraisal, now, "jti".into());
        ring.sign(&claims).unwrap()
    };
    let token = issue();
    let jwks = Jwks::from_set(&ring.jwks(now)).unwrap();
    let expect = Expectations::new(issuer)
        .allowing_virtual()
        .with_nonce("bench-nonce")
        .with_tee_pubkey(workload.public_jwk());
    verify_token(&token, &jwks, &expect, now).unwrap();

    let verify = || verify_token(black_box(&token), &jwks, &expect, now).unwrap();
    const ISSUE: &str = "issue (verify virtual evidence + appraise + sign ES256)";
    const VERIFY: &str = "verify (JWKS kid lookup + ES256 + claims checks)";

    let mut group = c.benchmark_group("tokens");
    group.throughput(Throughput::Elements(1));
    group.bench_function(ISSUE, |b| b.iter(|| black_box(issue())));
    group.bench_function(VERIFY, |b| b.iter(|| black_box(verify())));
    group.finish();

    let mut group = c.benchmark_group("tokens-cpu");
    group.throughput(Throughput::Elements(1));
    group.bench_function(ISSUE, |b| {
        b.iter_custom(|iters| cpu_time(|| (0..iters).for_each(|_| drop(black_box(issue())))))
    });
    group.bench_function(VERIFY, |b| {
        b.iter_custom(|iters| cpu_time(|| (0..iters).for_each(|_| drop(black_box(verify())))))
    });
    group.finish();
}

/// The CPU time this thread spends running `f`.
fn cpu_time(f: impl FnOnce()) -> Duration {
    use rustix::time::{ClockId, clock_gettime};
    let to_duration = |t: rustix::time::Timespec| {
        Duration::new(
            u64::try_from(t.tv_sec).unwrap(),
            u32::try_from(t.tv_nsec).unwrap(),
        )
    };
    let start = to_duration(clock_gettime(ClockId::ThreadCPUTime));
    f();
    to_duration(clock_gettime(ClockId::ThreadCPUTime)) - start
}

criterion_group!(benches, bench);
criterion_main!(benches);
