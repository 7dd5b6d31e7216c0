//! Issue 16, item 8: blocks in a redb table (what `cairn-store` does) against
//! an append-only block file with an offset index in redb. Each commit writes
//! one block and 32 small state entries in one redb transaction, as a block
//! commit does; the block file variant appends the block's bytes to the file
//! and records (offset, length) in the transaction instead of the bytes.
//!
//! Both durable (an fsync per block: the file's fdatasync, then redb's
//! commit) and deferred (an orderer's: no sync but every 64th block).
//!
//! Run: `cargo bench -p cairn-store --bench block_file`

#![allow(
    clippy::unwrap_used,
    reason = "benchmark code: a panic is the failure report"
)]

use std::fs::File;
use std::io::Write;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use redb::{Database, Durability, TableDefinition};

const BLOCKS: TableDefinition<u64, &[u8]> = TableDefinition::new("blocks");
const OFFSETS: TableDefinition<u64, (u64, u64)> = TableDefinition::new("offsets");
const STATE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("state");
const WRITES: u64 = 32;
const DURABLE_EVERY: u64 = 64;

/// Where blocks go.
enum Store {
    Table,
    File { file: File, len: u64 },
}

struct Bench {
    _dir: tempfile::TempDir,
    db: Database,
    store: Store,
    next: u64,
}

impl Bench {
    fn new(file: bool) -> Bench {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::create(dir.path().join("ledger.redb")).unwrap();
        let store = if file {
            let file = File::options()
                .create(true)
                .append(true)
                .open(dir.path().join("blocks.bin"))
                .unwrap();
            Store::File { file, len: 0 }
        } else {
            Store::Table
        };
        Bench {
            _dir: dir,
            db,
            store,
            next: 0,
        }
    }

    /// Commits the next block (`bytes`) and its state writes.
    fn commit(&mut self, bytes: &[u8], deferred: bool) {
        let n = self.next;
        self.next += 1;
        let durable = !deferred || n % DURABLE_EVERY == DURABLE_EVERY - 1;
        let mut w = self.db.begin_write().unwrap();
        if !durable {
            w.set_durability(Durability::None).unwrap();
        }
        {
            let mut state = w.open_table(STATE).unwrap();
            for i in 0..WRITES {
                let key = format!("asset\0key-{}", (n * WRITES + i) % 100_000);
                state.insert(key.as_bytes(), [7u8; 120].as_slice()).unwrap();
            }
            match &mut self.store {
                Store::Table => {
                    w.open_table(BLOCKS).unwrap().insert(n, bytes).unwrap();
                }
                Store::File { file, len } => {
                    file.write_all(bytes).unwrap();
                    if durable {
                        // The bytes must be on disk before the index that
                        // points at them.
                        file.sync_data().unwrap();
                    }
                    w.open_table(OFFSETS)
                        .unwrap()
                        .insert(n, (*len, bytes.len() as u64))
                        .unwrap();
                    *len += bytes.len() as u64;
                }
            }
        }
        w.commit().unwrap();
    }
}

fn blocks(c: &mut Criterion) {
    let mut g = c.benchmark_group("block_store");
    g.throughput(Throughput::Elements(1));
    g.measurement_time(Duration::from_secs(8));
    for size in [8 * 1024, 64 * 1024] {
        let bytes: Vec<u8> = (0..size).map(|i| (i * 31 % 251) as u8).collect();
        for (mode, deferred) in [("durable", false), ("deferred", true)] {
            for (store, file) in [("redb_table", false), ("file_and_index", true)] {
                let mut bench = Bench::new(file);
                g.bench_function(
                    BenchmarkId::new(format!("{mode}_{store}"), format!("{}KiB", size / 1024)),
                    |b| b.iter(|| bench.commit(&bytes, deferred)),
                );
            }
        }
    }
    g.finish();
}

criterion_group!(benches, blocks);
criterion_main!(benches);
