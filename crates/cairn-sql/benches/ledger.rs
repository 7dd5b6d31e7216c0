//! Ledger tables against plain tables with the same columns, on SQLite (a file in the
//! temporary directory, WAL, synchronous=FULL) and on a throwaway PostgreSQL cluster
//! (fsync off): transactions inserting or updating 100 rows, and single-row
//! transactions; and verification throughput (row events per second).
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

fn write(ledger: &mut Ledger, table: &str, sql: &str) {
    if table == "plain" {
        ledger
            .backend()
            .batch(&format!("BEGIN; {sql} COMMIT;"))
            .unwrap();
    } else {
        ledger.exec(sql).unwrap();
    }
}

fn bench_writes(c: &mut Criterion, name: &str, ledger: &mut Ledger) {
    let mut group = c.benchmark_group(format!("{name}_writes"));
    group.measurement_time(Duration::from_secs(5));
    for table in ["plain", "ledgered"] {
        let mut next = 1_000_000i64;
        group.throughput(Throughput::Elements(BATCH as u64));
        group.bench_function(BenchmarkId::new("insert_100_per_txn", table), |b| {
            b.iter(|| {
                write(ledger, table, &inserts(next).replace("{t}", table));
                next += BATCH;
            });
        });
        // The same 100 rows again and again (history grows for the ledger table).
        let sql = format!(
            "UPDATE {table} SET balance = balance + 1 WHERE id >= 1000000 AND id < {};",
            1_000_000 + BATCH
        );
        group.bench_function(BenchmarkId::new("update_100_per_txn", table), |b| {
            b.iter(|| write(ledger, table, &sql))
        });
        group.throughput(Throughput::Elements(1));
        let mut next = 1i64;
        group.bench_function(BenchmarkId::new("insert_1_per_txn", table), |b| {
            b.iter(|| {
                write(
                    ledger,
                    table,
                    &format!(
                        "INSERT INTO {table} (id, name, balance) VALUES ({next}, 'one {next}', 1);"
                    ),
                );
                next += 1;
            });
        });
        group.bench_function(BenchmarkId::new("update_1_per_txn", table), |b| {
            b.iter(|| {
                write(
                    ledger,
                    table,
                    &format!("UPDATE {table} SET balance = balance + 1 WHERE id = 1000000;"),
                )
            });
        });
    }
    group.finish();
}

/// Verification of a fixed database: 10,000 rows in 100 transactions, 2,000 updated.
fn bench_verify(c: &mut Criterion, name: &str, ledger: &mut Ledger) {
    ledger.enable().unwrap();
    ledger
        .create_table("ledgered", TableKind::Updatable, COLUMNS)
        .unwrap();
    for k in 0..100 {
        ledger
            .exec(&inserts(k * BATCH).replace("{t}", "ledgered"))
            .unwrap();
    }
    for k in 0..20 {
        ledger
            .exec(&format!(
                "UPDATE ledgered SET balance = balance + 1 WHERE id >= {} AND id < {};",
                k * BATCH,
                (k + 1) * BATCH
            ))
            .unwrap();
    }
    let digest = ledger.digest().unwrap();
    let events = ledger
        .verify(std::slice::from_ref(&digest))
        .unwrap()
        .row_events as u64;
    let mut group = c.benchmark_group(format!("{name}_verify"));
    group.throughput(Throughput::Elements(events));
    group.sample_size(10);
    group.bench_function(BenchmarkId::new("row_events", events), |b| {
        b.iter(|| {
            assert!(black_box(ledger.verify(std::slice::from_ref(&digest)).unwrap()).is_ok())
        });
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
    bench_writes(c, "sqlite", &mut ledger);
    let mut fresh =
        Ledger::open(&format!("sqlite:{}", dir.path().join("verify.db").display())).unwrap();
    bench_verify(c, "sqlite", &mut fresh);
}

fn postgres(c: &mut Criterion) {
    let cluster = pg::Cluster::start();
    let mut ledger = Ledger::open(&cluster.url("postgres")).unwrap();
    setup(
        &mut ledger,
        "CREATE TABLE plain (id bigint PRIMARY KEY, name text NOT NULL, balance bigint);",
    );
    bench_writes(c, "postgres", &mut ledger);
    ledger.backend().batch("CREATE DATABASE verify").unwrap();
    let mut fresh = Ledger::open(&cluster.url("verify")).unwrap();
    bench_verify(c, "postgres", &mut fresh);
}

criterion_group!(benches, sqlite, postgres);
criterion_main!(benches);
