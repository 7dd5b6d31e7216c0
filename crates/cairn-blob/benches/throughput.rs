//! PUT and GET throughput of the blob store at 4 KiB and 16 MiB, beside plain
//! file writes and reads on the same disk (the goal: store ÷ plain ≥ 0.5).
//!
//! Both sides are durable: a plain write is create + write + fsync of a new
//! file (`plain`), and the same plus an fsync of the directory
//! (`plain+dirsync`, what a new file's name needs to survive a crash); a
//! store PUT is hash + (inline, or temp file + fsync + rename + directory
//! fsync) + its record in the write-ahead log (fdatasync) + the metadata
//! commit with its anchoring outbox entry (no fsync: the log made it
//! durable), and every 1,024 PUTs a durable database commit.
//! Every iteration writes new content (a counter in the first bytes), so
//! content addressing never turns a write into a no-op. Large objects are
//! removed after they are timed (the disk is shared); small ones are kept on
//! both sides, so the store's periodic durable commits (checkpoints of its
//! write-ahead log) fall inside the measurement, as they do under load.
//! Reads come from the page cache on both sides.
//!
//! `cargo bench -p cairn-blob --bench throughput`; criterion prints the time
//! per object (objects/s = 1 / time) and MiB/s.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use cairn_blob::{Bypass, PutOptions, Store, SystemClock};
use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

const SIZES: [(usize, &str); 2] = [(4 * 1024, "4KiB"), (16 * 1024 * 1024, "16MiB")];
/// Objects up to this size are kept until the end of the run on both sides
/// (a few hundred MB at most); larger ones are removed after each is timed.
const SMALL: usize = 64 * 1024;

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A copy of `base` with a fresh counter in its first 8 bytes, and the counter.
fn fresh(base: &[u8]) -> (u64, Vec<u8>) {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut data = base.to_vec();
    data[..8].copy_from_slice(&n.to_le_bytes());
    (n, data)
}

/// A durable plain write: create, write, fsync (and, with `dir_sync`, fsync
/// the directory, which a new file's name needs to survive a crash).
fn plain_write(dir: &Path, name: u64, data: &[u8], dir_sync: bool) -> PathBuf {
    let path = dir.join(format!("{name}"));
    let mut f = fs::File::create(&path).expect("create");
    f.write_all(data).expect("write");
    f.sync_all().expect("fsync");
    if dir_sync {
        fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .expect("dir fsync");
    }
    path
}

/// Removes what one measured write created, after the measurement (the disk
/// is shared: a run must not pile up gigabytes).
enum Written<'a> {
    File(PathBuf),
    Version(&'a Store, String, String),
    /// Small objects stay: a delete is a durable commit, which would do the
    /// store's periodic checkpoint work outside the measurement.
    Kept,
}

impl Drop for Written<'_> {
    fn drop(&mut self) {
        match self {
            Written::File(path) => {
                let _ = fs::remove_file(path);
            }
            Written::Version(store, key, version) => {
                let _ = store.delete("bench", key, Some(version), Bypass::NONE, "bench");
            }
            Written::Kept => {}
        }
    }
}

/// A plain file kept (small) or removed after it is timed (large).
fn plain_written(path: PathBuf, size: usize) -> Written<'static> {
    if size > SMALL {
        Written::File(path)
    } else {
        Written::Kept
    }
}

fn bench(c: &mut Criterion) {
    // Under the target directory: the same disk as the build, not a tmpfs /tmp
    // (CAIRN_BLOB_BENCH_DIR chooses another disk, or a tmpfs to see CPU costs alone).
    let base_dir = std::env::var_os("CAIRN_BLOB_BENCH_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/blob-bench"),
        |dir| PathBuf::from(dir).join("blob-bench"),
    );
    let _ = fs::remove_dir_all(&base_dir);
    fs::create_dir_all(&base_dir).expect("bench dir");
    let tmp = tempfile::tempdir_in(&base_dir).expect("bench dir");
    let store = Store::open(&tmp.path().join("store"), Box::new(SystemClock)).expect("store");
    store
        .create_bucket("bench", false, "bench")
        .expect("bucket");
    let plain = tmp.path().join("plain");
    fs::create_dir_all(&plain).expect("plain dir");

    let mut put = c.benchmark_group("put");
    put.sample_size(10);
    for (size, label) in SIZES {
        put.throughput(Throughput::Bytes(size as u64));
        let base = vec![7u8; size];
        put.bench_with_input(BenchmarkId::new("store", label), &size, |b, _| {
            b.iter_batched(
                || fresh(&base),
                |(n, data)| {
                    let key = format!("k{n}");
                    let v = store
                        .put("bench", &key, &data, PutOptions::default())
                        .expect("put");
                    if size > SMALL {
                        Written::Version(&store, key, v.version_id)
                    } else {
                        Written::Kept
                    }
                },
                BatchSize::PerIteration,
            );
        });
        put.bench_with_input(BenchmarkId::new("plain", label), &size, |b, _| {
            b.iter_batched(
                || fresh(&base),
                |(n, data)| plain_written(plain_write(&plain, n, &data, false), size),
                BatchSize::PerIteration,
            );
        });
        put.bench_with_input(BenchmarkId::new("plain+dirsync", label), &size, |b, _| {
            b.iter_batched(
                || fresh(&base),
                |(n, data)| plain_written(plain_write(&plain, n, &data, true), size),
                BatchSize::PerIteration,
            );
        });
    }
    put.finish();

    let mut get = c.benchmark_group("get");
    get.sample_size(10);
    for (size, label) in SIZES {
        get.throughput(Throughput::Bytes(size as u64));
        let (n, data) = fresh(&vec![9u8; size]);
        let key = format!("g{n}");
        store
            .put("bench", &key, &data, PutOptions::default())
            .expect("put");
        let path = plain_write(&plain, n, &data, false);
        get.bench_with_input(BenchmarkId::new("store", label), &size, |b, _| {
            b.iter(|| store.get("bench", &key, None).expect("get").1.len());
        });
        get.bench_with_input(BenchmarkId::new("plain", label), &size, |b, _| {
            b.iter(|| fs::read(&path).expect("read").len());
        });
    }
    get.finish();
    drop(store);
    let _ = fs::remove_dir_all(&base_dir);
}

criterion_group!(benches, bench);
criterion_main!(benches);
