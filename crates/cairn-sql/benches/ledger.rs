//! Ledger tables against plain tables, on SQLite and on a throwaway PostgreSQL cluster:
//! one transaction inserting 100 rows, one updating 100 rows; and verification
//! throughput (row events per second).
//!
//! `cargo bench -p cairn-sql --bench ledger` (PostgreSQL groups need Debian's
//! `postgresql`; see tests/support/pg.rs).
#![allow(clippy::unwrap_used, reason = "a benchmark that cannot set up fails")]

#[path = "../tests/support/pg.rs"]
#[allow(dead_code, reason = "the benchmarks use the cluster, not psql")]
mod pg;

use std::hint::black_box;
use std::time::Duration;

use cairn_sql::{Ledger, TableKind};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

const BATCH: i64 = 100;
const COLUMNS: &str = "id integer primary key, name text not null, balance integer";

fn inserts(from: i64) -> String {
    (from..from + BATCH)
        .map(|i| {
            format!("INSERT INTO {{t}} (id, name, balance) VALUES ({i}, 'customer {i}', {i});")
        })
        .collect()
}

/// Sets up `ledgered` and `plain` tables with the same columns.
fn setup(ledger: &mut Ledger, plain_ddl: &str) {
    ledger.enable().unwrap();
    ledger
        .create_table("ledgered", TableKind::Updatable, COLUMNS)
        .unwrap();
    ledger.backend().batch(plain_ddl).unwrap();
}

fn bench_backend(c: &mut Criterion, name: &str, ledger: &mut Ledger) {
    let mut group = c.benchmark_group(format!("{name}_100_rows_per_transaction"));
    group.throughput(Throughput::Elements(BATCH as u64));
    group.measurement_time(Duration::from_secs(8));
    for table in ["plain", "ledgered"] {
        let mut next = 1_000_000i64;
        group.bench_function(BenchmarkId::new("insert", table), |b| {
            b.iter(|| {
                let sql = inserts(next).replace("{t}", table);
                next += BATCH;
                if table == "plain" {
                    ledger
                        .backend()
                        .batch(&format!("BEGIN; {sql} COMMIT;"))
                        .unwrap();
                } else {
                    ledger.exec(&sql).unwrap();
                }
            });
        });
        // Updates touch the same first 100 rows again and again (history grows for the
        // ledger table, as it would in use).
        let sql = format!(
            "UPDATE {table} SET balance = balance + 1 WHERE id >= 1000000 AND id < {};",
            1_000_000 + BATCH
        );
        group.bench_function(BenchmarkId::new("update", table), |b| {
            b.iter(|| {
                if table == "plain" {
                    ledger
                        .backend()
                        .batch(&format!("BEGIN; {sql} COMMIT;"))
                        .unwrap();
                } else {
                    ledger.exec(&sql).unwrap();
                }
            });
        });
    }
    group.finish();

    // Verification of everything written above (and a block over it).
    ledger.close_block().unwrap();
    let events = ledger.verify(&[]).unwrap().row_events as u64;
    let mut group = c.benchmark_group(format!("{name}_verify"));
    group.throughput(Throughput::Elements(events));
    group.sample_size(10);
    group.bench_function(BenchmarkId::new("row_events", events), |b| {
        b.iter(|| assert!(black_box(ledger.verify(&[]).unwrap()).is_ok()));
    });
    group.finish();
}

fn sqlite(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let mut ledger =
        Ledger::open(&format!("sqlite:{}", dir.path().join("bench.db").display())).unwrap();
    setup(
        &mut ledger,
        "CREATE TABLE plain (id INTEGER NOT NULL, name TEXT NOT NULL, balance INTEGER, PRIMARY KEY (id)) STRICT;",
    );
    bench_backend(c, "sqlite", &mut ledger);
}

fn postgres(c: &mut Criterion) {
    let cluster = pg::Cluster::start();
    let mut ledger = Ledger::open(&cluster.url("postgres")).unwrap();
    setup(
        &mut ledger,
        "CREATE TABLE plain (id bigint PRIMARY KEY, name text NOT NULL, balance bigint);",
    );
    bench_backend(c, "postgres", &mut ledger);
}

criterion_group!(benches, sqlite, postgres);
criterion_main!(benches);
