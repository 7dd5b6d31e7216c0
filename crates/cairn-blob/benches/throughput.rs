//! PUT and GET throughput of the blob store at 4 KiB and 16 MiB, beside plain
//! file writes and reads on the same disk (the goal: store ÷ plain ≥ 0.5).
//!
//! Both sides are durable: a plain write is create + write + fsync of a new
//! file; a store PUT is hash + (inline, or temp file + fsync + rename +
//! directory fsync) + one metadata commit (fsync). Every iteration writes
//! new content (a counter in the first bytes), so content addressing never
//! turns a write into a no-op. Reads come from the page cache on both sides.
//!
//! `cargo bench -p cairn-blob --bench throughput`; criterion prints MiB/s
//! (and elements/s = objects/s under the `objects` groups).

use std::fs;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use cairn_blob::{PutOptions, Store, SystemClock};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

const SIZES: [(usize, &str); 2] = [(4 * 1024, "4KiB"), (16 * 1024 * 1024, "16MiB")];

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// `base` with a fresh counter in its first 8 bytes.
fn fresh(base: &mut [u8]) -> u64 {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    base[..8].copy_from_slice(&n.to_le_bytes());
    n
}

fn plain_write(dir: &Path, name: u64, data: &[u8]) {
    let path = dir.join(format!("{name}"));
    let mut f = fs::File::create(&path).expect("create");
    f.write_all(data).expect("write");
    f.sync_all().expect("fsync");
}

fn bench(c: &mut Criterion) {
    // Under the target directory: the same disk as the build, not a tmpfs /tmp.
    let base_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/blob-bench");
    let _ = fs::remove_dir_all(&base_dir);
    fs::create_dir_all(&base_dir).expect("bench dir");
    let tmp = tempfile::tempdir_in(&base_dir).expect("bench dir");
    let store = Store::open(&tmp.path().join("store"), Box::new(SystemClock)).expect("store");
    store
        .create_bucket("bench", false, "bench")
        .expect("bucket");
    let plain = tmp.path().join("plain");
    fs::create_dir_all(&plain).expect("plain dir");

    for unit in ["bytes", "objects"] {
        let mut put = c.benchmark_group(format!("put_{unit}"));
        put.sample_size(10);
        for (size, label) in SIZES {
            put.throughput(if unit == "bytes" {
                Throughput::Bytes(size as u64)
            } else {
                Throughput::Elements(1)
            });
            let mut data = vec![7u8; size];
            put.bench_with_input(BenchmarkId::new("store", label), &size, |b, _| {
                b.iter(|| {
                    let n = fresh(&mut data);
                    store
                        .put("bench", &format!("k{n}"), &data, PutOptions::default())
                        .expect("put")
                });
            });
            put.bench_with_input(BenchmarkId::new("plain", label), &size, |b, _| {
                b.iter(|| {
                    let n = fresh(&mut data);
                    plain_write(&plain, n, &data);
                });
            });
        }
        put.finish();

        let mut get = c.benchmark_group(format!("get_{unit}"));
        get.sample_size(10);
        for (size, label) in SIZES {
            get.throughput(if unit == "bytes" {
                Throughput::Bytes(size as u64)
            } else {
                Throughput::Elements(1)
            });
            let mut data = vec![9u8; size];
            let n = fresh(&mut data);
            let key = format!("g{n}");
            store
                .put("bench", &key, &data, PutOptions::default())
                .expect("put");
            plain_write(&plain, n, &data);
            get.bench_with_input(BenchmarkId::new("store", label), &size, |b, _| {
                b.iter(|| store.get("bench", &key, None).expect("get").1.len());
            });
            let path = plain.join(format!("{n}"));
            get.bench_with_input(BenchmarkId::new("plain", label), &size, |b, _| {
                b.iter(|| fs::read(&path).expect("read").len());
            });
        }
        get.finish();
    }
    drop(store);
    let _ = fs::remove_dir_all(&base_dir);
}

criterion_group!(benches, bench);
criterion_main!(benches);
