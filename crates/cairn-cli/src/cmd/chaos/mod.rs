//! `cairn chaos`: faults at random on a `cairn up` network under load, then
//! proof that nothing was lost.
//!
//! For `--duration`, with a seeded generator (`--seed`; the same seed picks
//! the same faults, nodes and timings), it repeatedly picks a fault kind
//! (every kind once per round, rounds shuffled) and a node, injects the
//! fault, heals it, and waits until every peer has caught up, while client
//! tasks submit transactions and record each one a gateway reports
//! committed. Then it stops the nodes and checks their ledger files
//! ([`check`]), and prints a report ([`report`]).
//!
//! Invariant: one fault at a time; the next is injected only after the
//! previous one is healed and the network has caught up (or the wait for it
//! timed out, which is itself reported as a problem).

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use crate::cmd::bench::{self, deploy};
use crate::cmd::up::layout::{Network, Node, Role};
use crate::cmd::up::{process, setup};

mod check;
mod faults;
mod load;
mod report;

/// How long the network may take to catch up after a fault is healed.
const CATCH_UP: Duration = Duration::from_secs(120);

/// A kind of fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FaultKind {
    /// SIGKILL a node (the Raft leader, a follower orderer or a peer), then restart it.
    Kill,
    /// SIGSTOP a node (the leader included) for 2–5 s, then SIGCONT.
    Pause,
    /// Fill a peer's data filesystem (a tmpfs of --disk-mb), then free it.
    Disk,
    /// Flip a byte of a stored block of a stopped peer; it must refuse to
    /// start naming the block; repair it from the other nodes.
    Corrupt,
}

/// `cairn chaos` options.
#[derive(clap::Args, Debug)]
pub struct ChaosArgs {
    /// The network directory; a network is started there (`cairn up
    /// --detach`) if none is running, and stopped at the end.
    #[arg(long, default_value = "cairn-network")]
    pub dir: PathBuf,
    /// How long to inject faults: seconds, or with a unit (90s, 30m, 1h).
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub duration: Duration,
    /// The seed of the fault schedule (default: random, printed).
    #[arg(long)]
    pub seed: Option<u64>,
    /// The fault kinds to inject (comma-separated).
    #[arg(long, value_delimiter = ',', default_values = ["kill", "pause", "disk", "corrupt"])]
    pub faults: Vec<FaultKind>,
    /// Concurrent clients submitting transactions.
    #[arg(long, default_value_t = 8)]
    pub clients: usize,
    /// Size in MiB of each peer's data filesystem for disk faults (a
    /// 30-minute run writes about 600 MiB per peer; the tmpfs uses memory
    /// only for what is written).
    #[arg(long, default_value_t = 2048)]
    pub disk_mb: u64,
    /// First port, when a new network is generated (see `cairn up`).
    #[arg(long, default_value_t = 7050)]
    pub base_port: u16,
    /// Also write the report as JSON to this file.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Also draw the run (commits per second, faults as bands) as SVG to this file.
    #[arg(long)]
    pub svg: Option<PathBuf>,
}

/// Parses `90`, `90s`, `30m`, `1h`.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration: give seconds, or e.g. 90s, 30m, 1h"))?;
    let secs = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        other => return Err(format!("unknown unit {other:?}: use s, m or h")),
    };
    if secs == 0 {
        return Err("the duration must be at least 1 s".into());
    }
    Ok(Duration::from_secs(secs))
}

/// One injected fault, as reported.
#[derive(Clone, Debug)]
pub struct FaultRecord {
    /// The kind.
    pub kind: FaultKind,
    /// The node, with its role at the time (`orderer0.org1 (leader)`).
    pub node: String,
    /// When it was injected.
    pub at: Instant,
    /// When it was healed and the network had caught up.
    pub done: Instant,
    /// What was done.
    pub detail: String,
    /// Rules broken.
    pub problems: Vec<String>,
}

/// Runs `cairn chaos`.
pub fn run(args: ChaosArgs) -> anyhow::Result<ExitCode> {
    if args.faults.is_empty() {
        bail!("--faults names no fault kind: give some of kill, pause, disk, corrupt");
    }
    if args.clients == 0 {
        bail!("--clients must be at least 1");
    }
    let seed = args.seed.unwrap_or_else(|| rand::rng().random());
    eprintln!(
        "==> chaos for {} s, seed {seed} (repeat with --seed {seed})",
        args.duration.as_secs()
    );
    let dir = std::path::absolute(&args.dir)?;
    let (net, _) = bench::ensure_network(&dir, args.base_port, bench::DEFAULT_ORGS, None)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    if rt.block_on(deploy::ensure(
        &net,
        std::path::Path::new(bench::DEFAULT_CONTRACT),
        false,
    ))? {
        eprintln!("==> {} committed on {}", deploy::CONTRACT, net.channel);
    }

    let mut mounted = Vec::new();
    if args.faults.contains(&FaultKind::Disk) {
        for p in net.peers() {
            process::stop(&net.files(p))?;
            let m = faults::mount_small_disk(&net, p, args.disk_mb);
            start(&net, &p.name)?;
            mounted.push(m.with_context(|| format!("preparing {} for disk faults", p.name))?);
        }
        eprintln!(
            "==> every peer's data is on a {} MiB tmpfs for the run",
            args.disk_mb
        );
    }

    let shared = Arc::new(load::Shared::default());
    let run_id = format!("{seed:x}");
    let gateways = |first: usize| -> anyhow::Result<Vec<cairn_peer::GatewayClient>> {
        let peers: Vec<&Node> = net.peers().collect();
        (0..peers.len())
            .map(|i| {
                let p = peers[(first + i) % peers.len()];
                Ok(setup::gateway(&net, p, "users/user1")?
                    .with_commit_wait(Duration::from_secs(15)))
            })
            .collect()
    };
    let mut clients = Vec::new();
    for id in 0..args.clients {
        clients.push(rt.spawn(load::client(
            id,
            run_id.clone(),
            gateways(id)?,
            shared.clone(),
        )));
    }

    let started = Instant::now();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut round: Vec<FaultKind> = Vec::new();
    let mut records = Vec::new();
    let bar = indicatif::ProgressBar::new(args.duration.as_secs()).with_style(
        indicatif::ProgressStyle::with_template("{spinner} {wide_msg} {pos}/{len} s")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    while started.elapsed() < args.duration {
        if round.is_empty() {
            round = args.faults.clone();
            round.sort();
            round.dedup();
            round.shuffle(&mut rng);
        }
        let Some(kind) = round.pop() else { break };
        std::thread::sleep(Duration::from_millis(rng.random_range(1_000..3_000)));
        let (node, label) = pick(&net, &rt, kind, &mut rng)?;
        bar.set_position(started.elapsed().as_secs().min(args.duration.as_secs()));
        bar.set_message(format!(
            "{} faults, {} committed; now {kind:?} {label}",
            records.len(),
            shared.committed_count()
        ));
        let at = Instant::now();
        let outcome = match kind {
            FaultKind::Kill => faults::kill(&net, &node, &mut rng),
            FaultKind::Pause => faults::pause(&net, &node, &mut rng),
            FaultKind::Disk => faults::disk_full(&net, &node, &mut rng),
            FaultKind::Corrupt => faults::corrupt_block(&net, &node, &mut rng),
        };
        let mut outcome = match outcome {
            Ok(o) => o,
            Err(e) => faults::Outcome {
                detail: "could not be carried out".into(),
                problems: vec![format!("{e:#}")],
            },
        };
        // A node the fault left down is started again, so the run goes on.
        for n in &net.nodes {
            if process::running(&net.files(n)).is_none() {
                outcome.problems.push(format!(
                    "{} was down after the fault{}",
                    n.name,
                    exit_of(&n.name)
                ));
                let _ = start(&net, &n.name);
            }
        }
        if let Err(e) = rt.block_on(caught_up(&net)) {
            outcome.problems.push(format!("{e:#}"));
        }
        // Without a terminal the bar is hidden: a line per fault instead.
        let tty = std::io::stderr().is_terminal();
        if !tty {
            eprintln!(
                "[{:>5} s] {kind:?} {label}: {} ({} committed so far)",
                at.saturating_duration_since(started).as_secs(),
                outcome.detail,
                shared.committed_count()
            );
        }
        for p in &outcome.problems {
            let line = format!("problem after {kind:?} {label}: {p}");
            if tty {
                bar.println(line);
            } else {
                eprintln!("{line}");
            }
        }
        records.push(FaultRecord {
            kind,
            node: label,
            at,
            done: Instant::now(),
            detail: outcome.detail,
            problems: outcome.problems,
        });
    }
    bar.finish_and_clear();
    let faults_end = Instant::now();
    eprintln!("==> {} faults injected; stopping the load", records.len());
    shared.stop.store(true, Ordering::Relaxed);
    for c in clients {
        let _ = rt.block_on(c);
    }
    let mut last_problems = Vec::new();
    if let Err(e) = rt.block_on(caught_up(&net)) {
        last_problems.push(format!("at the end: {e:#}"));
    }
    drop(rt);
    eprintln!("==> stopping the nodes to check their ledgers");
    bench::stop_network(&net);
    let committed = shared
        .committed
        .lock()
        .map(|c| c.clone())
        .unwrap_or_default();
    let checks = check::run(&net, &committed, |step| eprintln!("    {step}"));
    for m in &mounted {
        if let Err(e) = faults::unmount(m) {
            last_problems.push(format!("cannot move data back from tmpfs: {e:#}"));
        }
    }
    let report = report::build(report::Input {
        seed,
        duration: args.duration,
        started,
        faults_end,
        records: &records,
        committed: &committed,
        failed_calls: shared.failed.load(Ordering::Relaxed),
        checks,
        problems: last_problems,
    });
    report::print(&report);
    if let Some(path) = &args.report {
        std::fs::write(path, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if let Some(path) = &args.svg {
        std::fs::write(path, report::svg(&report))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    eprintln!(
        "==> the network is stopped; start it again with: cairn up --dir {}",
        dir.display()
    );
    Ok(if report.passed {
        ExitCode::SUCCESS
    } else {
        eprintln!("error: the chaos run found problems (see the report above)");
        ExitCode::from(1)
    })
}

/// The node processes this run started, by name, so that one found dead
/// can say how it ended (an exit code, or the signal that killed it).
static CHILDREN: std::sync::Mutex<BTreeMap<String, std::process::Child>> =
    std::sync::Mutex::new(BTreeMap::new());

/// Starts node `name` (see [`crate::cmd::up::start_node`]) and keeps its process handle.
fn start(net: &Network, name: &str) -> anyhow::Result<()> {
    let (child, _) = crate::cmd::up::start_node(net, name)?;
    if let Ok(mut c) = CHILDREN.lock()
        && let Some(mut old) = c.insert(name.to_string(), child)
    {
        // Reap the process this one replaces (killed by a fault).
        let _ = old.try_wait();
    }
    Ok(())
}

/// How the process this run started for `name` ended, if it has: ` (it
/// exited: signal 9)`, or nothing when unknown.
fn exit_of(name: &str) -> String {
    use std::os::unix::process::ExitStatusExt;
    let Ok(mut c) = CHILDREN.lock() else {
        return String::new();
    };
    let Some(child) = c.get_mut(name) else {
        return " (a process this run did not start: its exit status is unknown)".into();
    };
    match child.try_wait() {
        Ok(Some(status)) => match (status.code(), status.signal()) {
            (Some(code), _) => format!(" (it exited with code {code})"),
            (None, Some(sig)) => format!(" (it was killed by signal {sig})"),
            _ => format!(" (it ended: {status})"),
        },
        _ => String::new(),
    }
}

/// Picks the node for a fault of `kind`, with a label naming its role.
fn pick(
    net: &Network,
    rt: &tokio::runtime::Runtime,
    kind: FaultKind,
    rng: &mut StdRng,
) -> anyhow::Result<(Node, String)> {
    let peers: Vec<Node> = net.peers().cloned().collect();
    let orderers: Vec<Node> = net.orderers().cloned().collect();
    let leader = rt.block_on(bench::raft_leader(net));
    let label = |n: &Node| {
        if leader.as_deref() == Some(n.name.as_str()) {
            format!("{} (Raft leader)", n.name)
        } else if n.role == Role::Orderer {
            format!("{} (follower)", n.name)
        } else {
            n.name.clone()
        }
    };
    let node = match kind {
        FaultKind::Disk | FaultKind::Corrupt => peers[rng.random_range(0..peers.len())].clone(),
        FaultKind::Kill | FaultKind::Pause => match rng.random_range(0..3) {
            0 => match leader
                .as_ref()
                .and_then(|l| orderers.iter().find(|o| o.name == *l))
            {
                Some(l) => l.clone(),
                None => orderers[rng.random_range(0..orderers.len())].clone(),
            },
            1 => {
                let followers: Vec<&Node> = orderers
                    .iter()
                    .filter(|o| Some(&o.name) != leader.as_ref())
                    .collect();
                followers[rng.random_range(0..followers.len())].clone()
            }
            _ => peers[rng.random_range(0..peers.len())].clone(),
        },
    };
    let l = label(&node);
    Ok((node, l))
}

/// Waits until every peer answers with the orderers' height.
async fn caught_up(net: &Network) -> anyhow::Result<()> {
    let deadline = Instant::now() + CATCH_UP;
    // The height to reach is fixed when first known: under load the
    // orderers move on, and the peers always trail them by a block or two.
    let mut target = None;
    loop {
        if target.is_none() {
            target = orderer_height(net).await;
        }
        let heights = deploy::heights(net).await?;
        if let Some(t) = target
            && heights.iter().all(|h| h.is_some_and(|h| h >= t))
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!(
                "the peers did not catch up with the orderers within {} s: peers {heights:?}, orderers {target:?}",
                CATCH_UP.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The highest height any orderer reports.
async fn orderer_height(net: &Network) -> Option<u64> {
    let mut best = None;
    for o in net.orderers() {
        if let Ok(c) = setup::transport(net, o, "admins/admin")
            && let Ok(s) = cairn_orderer::api::status(&c, &o.url()).await
        {
            best = best.max(Some(s.height));
        }
    }
    best
}
