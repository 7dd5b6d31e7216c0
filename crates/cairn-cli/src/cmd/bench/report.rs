//! The benchmark's figures, computed from what the load observed and the
//! CPU counters, printed as a table or as JSON.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use cairn_ledger::validation::ValidationCode;
use serde::Serialize;

use super::load::{Outcome, TxRecord};

/// How many distinct error messages the report quotes.
const ERROR_SAMPLES: usize = 5;

/// The whole report (`--json` prints exactly this).
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// The network driven.
    pub network: NetworkInfo,
    /// The workload.
    pub workload: Workload,
    /// Measured transactions committed `VALID` on every peer.
    pub committed: u64,
    /// Transactions some peer recorded invalid, by validation code.
    pub invalid: BTreeMap<String, u64>,
    /// Transactions that failed before ordering, by stage (`endorse`, `submit`, ...).
    pub errors: BTreeMap<String, u64>,
    /// A few of those errors' messages.
    pub error_samples: Vec<String>,
    /// Transactions ordered or in flight that not every peer reported in time.
    pub uncommitted: u64,
    /// Transactions the peers gave different validation codes (must be 0).
    pub disagreements: u64,
    /// Transactions submitted during the warm-up (not in the figures).
    pub warmup_txs: u64,
    /// Seconds from the start of the measured phase to its last commit.
    pub window_s: f64,
    /// Committed measured transactions per second over that window.
    pub tps: f64,
    /// Blocks holding the committed measured transactions.
    pub blocks: u64,
    /// Their average number of bench transactions per block (the batch
    /// size the orderer reached: per-block costs are spread over these).
    pub txs_per_block: f64,
    /// Submit → commit on every peer, measured valid transactions.
    pub latency_ms: Latency,
    /// Where the time goes: medians of each stage of a transaction.
    pub stages_ms: Stages,
    /// CPU used during the window.
    pub cpu: CpuReport,
    /// Event streams that broke (and were resumed), by peer.
    pub watch_errors: BTreeMap<String, String>,
    /// Each node's event counters per committed transaction (same window
    /// and denominator as `cpu`).
    pub counters: Vec<super::counters::NodeCounts>,
}

/// The network driven.
#[derive(Clone, Debug, Serialize)]
pub struct NetworkInfo {
    /// Its directory.
    pub dir: String,
    /// Whether `cairn bench` started it (and so stops it unless `--keep`).
    pub started: bool,
    /// The channel.
    pub channel: String,
    /// Orderer processes.
    pub orderers: usize,
    /// Peer processes.
    pub peers: usize,
    /// The Raft leader's node name, if known.
    pub raft_leader: Option<String>,
}

/// The workload.
#[derive(Clone, Debug, Serialize)]
pub struct Workload {
    /// The contract and function.
    pub contract: String,
    /// Bytes of every value.
    pub value_bytes: usize,
    /// Keys written into the state before measuring (`--preload`).
    pub preloaded_keys: u64,
    /// Seconds the preload took.
    pub preload_s: f64,
    /// The contract's endorsement policy.
    pub endorsement: String,
    /// Concurrent clients.
    pub clients: usize,
    /// Transactions per client between proposal and broadcast answer.
    pub window: usize,
    /// Warm-up seconds.
    pub warmup_s: f64,
    /// `txs` (a count) or `duration` (seconds).
    pub mode: String,
    /// The count or the seconds asked for.
    pub target: f64,
}

/// Latency percentiles (nearest rank), milliseconds.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Latency {
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Slowest.
    pub max: f64,
    /// Mean.
    pub mean: f64,
}

/// Medians of each stage, milliseconds.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Stages {
    /// Proposal sent → agreeing endorsements back (gateway and endorsers).
    pub endorse_p50: f64,
    /// Endorsed → the orderer's answer (assemble, broadcast, Raft, block cut).
    pub order_p50: f64,
    /// Orderer's answer → every peer's commit event.
    pub commit_p50: f64,
}

/// CPU used by each node and by this client during the window.
#[derive(Clone, Debug, Serialize)]
pub struct CpuReport {
    /// Seconds between the two CPU snapshots.
    pub window_s: f64,
    /// Bench transactions (of any phase) committed between the snapshots:
    /// the denominator of the per-transaction figures.
    pub txs_in_window: u64,
    /// Processors of the machine.
    pub cores: usize,
    /// Kernel clock ticks per second of the counters.
    pub ticks_per_s: u64,
    /// Per node.
    pub nodes: Vec<NodeCpu>,
    /// All nodes together, seconds.
    pub node_total_s: f64,
    /// All nodes' CPU per committed transaction, milliseconds.
    pub node_ms_per_tx: f64,
    /// This process (the clients and event watchers), seconds.
    pub client_s: f64,
    /// Its CPU per committed transaction, milliseconds.
    pub client_ms_per_tx: f64,
    /// Of which the event watchers' thread (counting commits), seconds.
    pub watchers_s: f64,
    /// The watchers' CPU per committed transaction, milliseconds.
    pub watchers_ms_per_tx: f64,
    /// The machine's busy cores over the window (all processes, also
    /// others'): near `cores` means the figures are CPU-bound.
    pub machine_busy_cores: f64,
}

/// One node's CPU.
#[derive(Clone, Debug, Serialize)]
pub struct NodeCpu {
    /// Its name.
    pub name: String,
    /// `orderer` or `peer`.
    pub role: String,
    /// Its pid.
    pub pid: i32,
    /// User plus system seconds in the window.
    pub cpu_s: f64,
    /// Cores it kept busy on average (`cpu_s / window_s`).
    pub cores_used: f64,
    /// Its CPU per committed transaction, milliseconds.
    pub ms_per_tx: f64,
}

/// One node's CPU counters at the two snapshots.
#[derive(Clone, Debug)]
pub struct NodeSample {
    /// Its name.
    pub name: String,
    /// `orderer` or `peer`.
    pub role: String,
    /// Its pid.
    pub pid: i32,
    /// CPU used in the window.
    pub cpu: Duration,
}

/// The CPU snapshots' differences.
#[derive(Clone, Debug)]
pub struct CpuSamples {
    /// Between the snapshots.
    pub window: Duration,
    /// Per node.
    pub nodes: Vec<NodeSample>,
    /// This process.
    pub client: Duration,
    /// Its event watchers' thread.
    pub watchers: Duration,
    /// The machine's busy ticks and all ticks.
    pub machine: (u64, u64),
    /// Counter unit.
    pub ticks_per_s: u64,
    /// When the first snapshot was taken.
    pub from: Instant,
}

/// Computes the report's figures.
pub fn build(
    network: NetworkInfo,
    workload: Workload,
    outcome: &Outcome,
    cpu: &CpuSamples,
    counters: impl FnOnce(u64) -> Vec<super::counters::NodeCounts>,
) -> Report {
    let measured: Vec<&TxRecord> = outcome.txs.iter().filter(|t| t.measured).collect();
    let valid: Vec<&TxRecord> = measured
        .iter()
        .copied()
        .filter(|t| t.committed.is_some() && t.code == ValidationCode::Valid)
        .collect();
    let mut invalid = BTreeMap::new();
    let mut errors = BTreeMap::new();
    let mut samples: Vec<String> = Vec::new();
    let mut uncommitted = 0;
    for t in &outcome.txs {
        if let Some((stage, msg)) = &t.failure {
            *errors.entry(stage.to_string()).or_insert(0) += 1;
            let line = format!("{stage}: {msg}");
            if samples.len() < ERROR_SAMPLES && !samples.contains(&line) {
                samples.push(line);
            }
        } else if t.committed.is_none() {
            uncommitted += 1;
        } else if t.code != ValidationCode::Valid {
            *invalid.entry(t.code.name().to_string()).or_insert(0) += 1;
        }
    }
    let last_commit = valid.iter().filter_map(|t| t.committed).max();
    let window = last_commit.map_or(Duration::ZERO, |l| {
        l.saturating_duration_since(outcome.measure_start)
    });
    let committed = valid.len() as u64;
    let tps = if window.is_zero() {
        0.0
    } else {
        committed as f64 / window.as_secs_f64()
    };
    let latencies: Vec<Duration> = valid
        .iter()
        .filter_map(|t| Some(t.committed?.saturating_duration_since(t.start)))
        .collect();
    let stage = |f: &dyn Fn(&TxRecord) -> Option<Duration>| {
        ms(percentile(
            &valid.iter().filter_map(|t| f(t)).collect::<Vec<_>>(),
            50.0,
        ))
    };
    let stages = Stages {
        endorse_p50: stage(&|t| Some(t.endorsed?.saturating_duration_since(t.start))),
        order_p50: stage(&|t| Some(t.ordered?.saturating_duration_since(t.endorsed?))),
        commit_p50: stage(&|t| Some(t.committed?.saturating_duration_since(t.ordered?))),
    };
    let blocks = valid
        .iter()
        .filter_map(|t| t.block)
        .collect::<std::collections::BTreeSet<u64>>()
        .len() as u64;
    let in_window = outcome
        .txs
        .iter()
        .filter(|t| t.committed.is_some_and(|c| c >= cpu.from))
        .count() as u64;
    Report {
        network,
        workload,
        committed,
        invalid,
        errors,
        error_samples: samples,
        uncommitted,
        disagreements: outcome.txs.iter().filter(|t| t.disagree).count() as u64,
        warmup_txs: outcome.txs.iter().filter(|t| !t.measured).count() as u64,
        window_s: window.as_secs_f64(),
        tps,
        blocks,
        txs_per_block: if blocks == 0 {
            0.0
        } else {
            committed as f64 / blocks as f64
        },
        latency_ms: latency(&latencies),
        stages_ms: stages,
        cpu: cpu_report(cpu, in_window),
        watch_errors: outcome.watch_errors.clone(),
        counters: counters(in_window),
    }
}

fn cpu_report(cpu: &CpuSamples, txs: u64) -> CpuReport {
    let window = cpu.window.as_secs_f64();
    let per_tx = |d: Duration| {
        if txs == 0 {
            0.0
        } else {
            d.as_secs_f64() * 1000.0 / txs as f64
        }
    };
    let share = |d: Duration| {
        if window > 0.0 {
            d.as_secs_f64() / window
        } else {
            0.0
        }
    };
    let total: Duration = cpu.nodes.iter().map(|n| n.cpu).sum();
    let (busy, all) = cpu.machine;
    let cores = super::cpu::cores();
    CpuReport {
        window_s: window,
        txs_in_window: txs,
        cores,
        ticks_per_s: cpu.ticks_per_s,
        nodes: cpu
            .nodes
            .iter()
            .map(|n| NodeCpu {
                name: n.name.clone(),
                role: n.role.clone(),
                pid: n.pid,
                cpu_s: n.cpu.as_secs_f64(),
                cores_used: share(n.cpu),
                ms_per_tx: per_tx(n.cpu),
            })
            .collect(),
        node_total_s: total.as_secs_f64(),
        node_ms_per_tx: per_tx(total),
        client_s: cpu.client.as_secs_f64(),
        client_ms_per_tx: per_tx(cpu.client),
        watchers_s: cpu.watchers.as_secs_f64(),
        watchers_ms_per_tx: per_tx(cpu.watchers),
        machine_busy_cores: if all > 0 {
            busy as f64 / all as f64 * cores as f64
        } else {
            0.0
        },
    }
}

/// Nearest-rank percentile of unsorted samples.
fn percentile(samples: &[Duration], p: f64) -> Duration {
    let mut v = samples.to_vec();
    v.sort_unstable();
    nearest_rank(&v, p)
}

fn nearest_rank(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn latency(samples: &[Duration]) -> Latency {
    let mut v = samples.to_vec();
    v.sort_unstable();
    let mean = if v.is_empty() {
        Duration::ZERO
    } else {
        v.iter().sum::<Duration>() / v.len() as u32
    };
    Latency {
        p50: ms(nearest_rank(&v, 50.0)),
        p95: ms(nearest_rank(&v, 95.0)),
        p99: ms(nearest_rank(&v, 99.0)),
        max: ms(v.last().copied().unwrap_or_default()),
        mean: ms(mean),
    }
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1_000_000.0).round() / 1000.0
}

impl Report {
    /// Why this run is not a clean measurement (some transaction failed,
    /// was invalid, was not committed everywhere, or peers disagreed), if so.
    pub fn problem(&self) -> Option<String> {
        let invalid: u64 = self.invalid.values().sum();
        let failed: u64 = self.errors.values().sum();
        (invalid + failed + self.uncommitted + self.disagreements > 0 || self.committed == 0)
            .then(|| {
                format!(
                    "{} committed, {invalid} invalid, {failed} failed before ordering, {} not committed on every peer, {} with peers disagreeing",
                    self.committed, self.uncommitted, self.disagreements
                )
            })
    }
}

/// Prints the report as a table.
pub fn print_table(r: &Report) {
    let w = &r.workload;
    println!(
        "cairn bench: {} orderers, {} peers on {} (Raft leader {}); {} clients × window {}",
        r.network.orderers,
        r.network.peers,
        r.network.channel,
        r.network.raft_leader.as_deref().unwrap_or("?"),
        w.clients,
        w.window
    );
    println!(
        "workload:    {} with a {}-byte value under a new key, endorsement {}",
        w.contract, w.value_bytes, w.endorsement
    );
    if w.preloaded_keys > 0 {
        println!(
            "state:       {} keys preloaded in {:.1} s before measuring",
            w.preloaded_keys, w.preload_s
        );
    }
    println!();
    println!(
        "committed    {} txs in {:.2} s (after {} warm-up txs)",
        r.committed, r.window_s, r.warmup_txs
    );
    println!(
        "throughput   {:.1} tx/s   ({} blocks, {:.1} txs per block)",
        r.tps, r.blocks, r.txs_per_block
    );
    let l = &r.latency_ms;
    println!(
        "latency      p50 {:.1} ms   p95 {:.1} ms   p99 {:.1} ms   max {:.1} ms   (submit → commit on every peer)",
        l.p50, l.p95, l.p99, l.max
    );
    let s = &r.stages_ms;
    println!(
        "stages p50   endorse {:.1} ms   order {:.1} ms   commit {:.1} ms",
        s.endorse_p50, s.order_p50, s.commit_p50
    );
    let invalid: u64 = r.invalid.values().sum();
    let errors: u64 = r.errors.values().sum();
    println!(
        "problems     invalid {invalid} {:?}   failed {errors} {:?}   uncommitted {}   peers disagree {}",
        r.invalid, r.errors, r.uncommitted, r.disagreements
    );
    for e in &r.error_samples {
        println!("             {e}");
    }
    for (peer, e) in &r.watch_errors {
        println!("             events of {peer}: {e}");
    }
    let c = &r.cpu;
    println!();
    println!(
        "CPU over {:.2} s, {} txs committed in it ({} cores, machine busy {:.2} cores):",
        c.window_s, c.txs_in_window, c.cores, c.machine_busy_cores
    );
    println!(
        "  {:<16} {:<8} {:>8} {:>9} {:>7} {:>10}",
        "PROCESS", "ROLE", "PID", "CPU s", "cores", "ms/tx"
    );
    for n in &c.nodes {
        println!(
            "  {:<16} {:<8} {:>8} {:>9.2} {:>7.2} {:>10.3}",
            n.name, n.role, n.pid, n.cpu_s, n.cores_used, n.ms_per_tx
        );
    }
    let share = |s: f64| {
        if c.window_s > 0.0 {
            s / c.window_s
        } else {
            0.0
        }
    };
    println!(
        "  {:<16} {:<8} {:>8} {:>9.2} {:>7.2} {:>10.3}",
        "all nodes",
        "",
        "",
        c.node_total_s,
        share(c.node_total_s),
        c.node_ms_per_tx
    );
    println!(
        "  {:<16} {:<8} {:>8} {:>9.2} {:>7.2} {:>10.3}",
        "bench client",
        "client",
        std::process::id(),
        c.client_s,
        share(c.client_s),
        c.client_ms_per_tx
    );
    println!(
        "  {:<16} {:<8} {:>8} {:>9.2} {:>7.2} {:>10.3}",
        "  of which events",
        "watchers",
        "",
        c.watchers_s,
        share(c.watchers_s),
        c.watchers_ms_per_tx
    );
    super::counters::print(&r.counters);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&v, 50.0), Duration::from_millis(50));
        assert_eq!(percentile(&v, 99.0), Duration::from_millis(99));
        assert_eq!(percentile(&v, 100.0), Duration::from_millis(100));
        assert_eq!(percentile(&[], 50.0), Duration::ZERO);
        let one = [Duration::from_millis(7)];
        assert_eq!(percentile(&one, 1.0), Duration::from_millis(7));
        let l = latency(&v);
        assert!(l.p50 <= l.p95 && l.p95 <= l.p99 && l.p99 <= l.max);
        assert_eq!(l.mean, 50.5);
    }
}
