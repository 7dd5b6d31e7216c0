//! Ledger tables against plain tables with the same columns, on SQLite (a file in the
//! temporary directory, WAL, synchronous=NORMAL) and on a throwaway PostgreSQL cluster
//! (fsync off): transactions of prepared statements inserting or updating 100 rows,
//! and single-row transactions; and verification throughput (row events per second).
//!
//! `cargo bench -p cairn-sql --bench ledger` (PostgreSQL groups need Debian's
//! `postgresql`; see tests/support/pg.rs).
#![allow(clippy::unwrap_used, reason = "a benchmark that cannot set up fails")]

#[path = "../tests/support/pg.rs"]
#[allow(dead_code, reason = "the benchmarks use the cluster, not psql")]
mod pg;

use std::hint::black_box;
use std::time::Duration;

use cairn_sql::{Ledger, TableKind, Value};
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

/// One transaction of prepared statements, as an application (or ORM) runs them.
fn write(ledger: &mut Ledger, table: &str, sql: &str, rows: &[Vec<Value>]) {
    let db = ledger.backend();
    if table == "plain" {
        db.batch("BEGIN").unwrap();
    } else {
        db.begin_user().unwrap();
    }
    for params in rows {
        db.execute(sql, params).unwrap();
    }
    if table == "plain" {
        db.batch("COMMIT").unwrap();
    } else {
        db.commit_user().unwrap();
    }
}

fn insert_rows(from: i64, n: i64) -> Vec<Vec<Value>> {
    (from..from + n)
        .map(|i| {
            vec![
                Value::Integer(i),
                Value::Text(format!("customer {i}")),
                Value::Integer(i),
            ]
        })
        .collect()
}

fn bench_writes(c: &mut Criterion, name: &str, ledger: &mut Ledger) {
    let mut group = c.benchmark_group(format!("{name}_writes"));
    group.measurement_time(Duration::from_secs(5));
    for table in ["plain", "ledgered"] {
        let insert = format!("INSERT INTO {table} (id, name, balance) VALUES (?, ?, ?)");
        let update = format!("UPDATE {table} SET balance = balance + 1 WHERE id = ?");
        let mut next = 1_000_000i64;
        group.throughput(Throughput::Elements(BATCH as u64));
        group.bench_function(BenchmarkId::new("insert_100_per_txn", table), |b| {
            b.iter(|| {
                write(ledger, table, &insert, &insert_rows(next, BATCH));
                next += BATCH;
            });
        });
        // The same 100 rows again and again (history grows for the ledger table).
        let keys: Vec<Vec<Value>> = (1_000_000..1_000_000 + BATCH)
            .map(|i| vec![Value::Integer(i)])
            .collect();
        group.bench_function(BenchmarkId::new("update_100_per_txn", table), |b| {
            b.iter(|| write(ledger, table, &update, &keys));
        });
        group.throughput(Throughput::Elements(1));
        let mut next = 1i64;
        group.bench_function(BenchmarkId::new("insert_1_per_txn", table), |b| {
            b.iter(|| {
                write(ledger, table, &insert, &insert_rows(next, 1));
                next += 1;
            });
        });
        group.bench_function(BenchmarkId::new("update_1_per_txn", table), |b| {
            b.iter(|| write(ledger, table, &update, &keys[..1]));
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
    // Durable commits (synchronous=FULL) cost one fsync each, which on this machine's
    // shared disk varies more than the whole difference being measured; NORMAL (in WAL
    // mode: no fsync at commit) measures what the ledger itself costs.
    ledger
        .backend()
        .batch("PRAGMA synchronous = NORMAL")
        .unwrap();
    bench_writes(c, "sqlite", &mut ledger);
    let mut fresh = Ledger::open(&format!(
        "sqlite:{}",
        dir.path().join("verify.db").display()
    ))
    .unwrap();
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
