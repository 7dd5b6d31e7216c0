//! Broadcast throughput of a 3-orderer Raft cluster in this process, over
//! the production code and mutual-TLS transport on 127.0.0.1: 64
//! concurrent clients each submit an envelope and wait until it is in a
//! committed block, then submit the next. Envelopes write a 100-byte value
//! under a unique key with 2 endorsements (`MAJORITY Endorsement` of 3
//! orgs), so every orderer verifies 3 signatures per envelope when it
//! commits, and the leader also when it seals. Clients spread over the
//! three orderers as gateways would; followers relay to the leader.
//!
//! Besides criterion's time per envelope (and envelopes/s), it prints the
//! CPU time spent per 1000 envelopes, split into the orderers (every
//! thread but the clients') and the clients (TLS and HTTP on their side).
//!
//! Run: `cargo bench -p cairn-orderer --bench broadcast`

#![allow(missing_docs, reason = "criterion macros generate undocumented items")]
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed bench")]

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cairn_ledger::config::BatchConfig;
use cairn_ledger::encoding::Canonical;
use cairn_ledger::tx::Envelope;
use cairn_ledger::validation::ValidationCode;
use cairn_orderer::RaftSettings;
use cairn_orderer::api;
use cairn_testkit::{TestNet, write_set};
use common::{Cluster, submit};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// Concurrent clients, each with one envelope in flight.
const CLIENTS: usize = 64;

/// Linux reports CPU times in clock ticks of 1/100 s (`getconf CLK_TCK`).
const TICK: f64 = 0.01;

/// CPU seconds used so far by the whole process and by its `client` threads.
fn cpu() -> (f64, f64) {
    let ticks = |stat: &str| -> f64 {
        // Fields after the parenthesized command: state is the 3rd field,
        // utime and stime the 14th and 15th.
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        let f: Vec<&str> = rest.split_whitespace().collect();
        (f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()) as f64 * TICK
    };
    let total = ticks(&std::fs::read_to_string("/proc/self/stat").unwrap());
    let mut clients = 0.0;
    for task in std::fs::read_dir("/proc/self/task").unwrap() {
        let dir = task.unwrap().path();
        let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        if comm.trim() == "client"
            && let Ok(stat) = std::fs::read_to_string(dir.join("stat"))
        {
            clients += ticks(&stat);
        }
    }
    (total, clients)
}

fn envelope(net: &TestNet, key: &str) -> Envelope {
    let (_, bytes) = net.endorsed_tx(
        &net.orgs[0].user,
        "basic",
        write_set("basic", &[(key, &[7u8; 100])]),
        &[&net.orgs[0].peer, &net.orgs[1].peer],
    );
    Envelope::decode(&bytes).unwrap()
}

/// Submits `envs` with [`CLIENTS`] concurrent clients; returns the time taken.
fn run(cluster: &Cluster, clients: &[cairn_net::Client], envs: Vec<Envelope>) -> Duration {
    let urls = cluster.urls();
    let queue = Arc::new(Mutex::new(VecDeque::from(envs)));
    let start = Instant::now();
    cluster.rt.block_on(async {
        let tasks: Vec<_> = (0..CLIENTS)
            .map(|i| {
                let (queue, client, url) = (
                    queue.clone(),
                    clients[i % clients.len()].clone(),
                    urls[i % urls.len()].clone(),
                );
                tokio::spawn(async move {
                    loop {
                        let Some(env) = queue.lock().unwrap().pop_front() else {
                            return;
                        };
                        let answer = api::broadcast(&client, &url, &env).await.unwrap();
                        assert_eq!(answer.code, ValidationCode::Valid);
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
    });
    start.elapsed()
}

fn bench(c: &mut Criterion) {
    // Quiet unless asked (RUST_LOG): nodes log every refused connection
    // when the cluster is dropped at the end.
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "off".into());
    let _ = tracing_subscriber::fmt().with_env_filter(filter).try_init();
    let batch = BatchConfig::default();
    let cluster = Cluster::start(3, batch, RaftSettings::default());
    cluster.wait_leader(Duration::from_secs(10));
    // Three gateways (one per org) carry the clients' envelopes.
    let clients: Vec<_> = (0..3)
        .map(|i| cluster.client(&cluster.net.orgs[i].peer))
        .collect();
    let (_, define) = cluster
        .net
        .define_contract_tx("basic", "MAJORITY Endorsement");
    cluster
        .rt
        .block_on(submit(
            &clients[0],
            &cluster.urls(),
            0,
            &Envelope::decode(&define).unwrap(),
            Instant::now() + Duration::from_secs(10),
        ))
        .unwrap();

    let mut round = 0u64;
    let totals = Mutex::new((0u64, Duration::ZERO, 0.0f64, 0.0f64));
    let mut g = c.benchmark_group("orderer");
    g.throughput(Throughput::Elements(1));
    g.sample_size(10);
    g.warm_up_time(Duration::from_secs(3));
    g.measurement_time(Duration::from_secs(15));
    g.bench_function("broadcast, 3 orderers, 64 clients", |b| {
        b.iter_custom(|iters| {
            round += 1;
            let envs: Vec<Envelope> = (0..iters)
                .map(|i| envelope(&cluster.net, &format!("r{round}-{i}")))
                .collect();
            let (cpu0, client0) = cpu();
            let took = run(&cluster, &clients, envs);
            let (cpu1, client1) = cpu();
            let mut t = totals.lock().unwrap();
            t.0 += iters;
            t.1 += took;
            t.2 += cpu1 - cpu0;
            t.3 += client1 - client0;
            took
        })
    });
    g.finish();
    let (n, took, cpu, client) = *totals.lock().unwrap();
    let k = n as f64 / 1000.0;
    println!(
        "broadcast: {n} envelopes in {took:.1?}: {:.0} envelopes/s; CPU per 1000 envelopes: \
         {:.3} s total = {:.3} s orderers + {:.3} s clients; final height {}",
        n as f64 / took.as_secs_f64(),
        cpu / k,
        (cpu - client) / k,
        client / k,
        cluster.ledger(0).height(),
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
