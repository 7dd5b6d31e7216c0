//! `cairn bench`: drives a local network with load and reports committed
//! tx/s, submit → commit latency, and the CPU each node process used per
//! committed transaction (the figure that stays stable on a noisy machine).
//!
//! If the directory holds no running network, the bench starts one with
//! `cairn up --detach` (a child process of this executable) and stops it
//! afterwards unless `--keep`. It commits the `benchkv` contract
//! (`contracts/bench-kv`, endorsement `MAJORITY Endorsement`) once, then
//! runs [`load`] and prints the [`report`].
//!
//! `--sweep AXIS` runs many such benches, one per point of the axis, and
//! writes their figures as CSV and SVG charts ([`sweep`], [`chart`]).
//!
//! Transactions are counted from the transaction events of every peer: a
//! transaction is committed when every peer has reported it `VALID`, so the
//! figure is what the whole network agreed on, not what one gateway saw.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};

use super::up::layout::{Network, Node, Role};
use super::up::{process, setup};

mod chart;
mod counters;
mod cpu;
pub(crate) mod deploy;
mod load;
mod preload;
mod report;
mod sweep;

use load::MAX_VALUE_BYTES;
pub(crate) use load::VALUE_BYTES;

/// The benchmark contract package deployed when `--contract` is not given.
pub(crate) const DEFAULT_CONTRACT: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/../../contracts/bench-kv");
/// Organizations of a network the bench starts (as `cairn up`'s default).
pub(crate) const DEFAULT_ORGS: u32 = 3;
/// How long to wait for outstanding commits after the clients stop.
const DRAIN: Duration = Duration::from_secs(30);

/// `cairn bench` options.
#[derive(clap::Args, Clone, Debug)]
pub struct BenchArgs {
    /// The network directory; a network is started there (`cairn up
    /// --detach`) if none is running.
    #[arg(long, default_value = "cairn-network")]
    pub dir: PathBuf,
    /// Concurrent clients (each an org's user through its own org's peer,
    /// orgs taken in turn).
    #[arg(long, default_value_t = 16)]
    pub clients: usize,
    /// Transactions each client may have between proposal and the
    /// orderer's answer (clients never wait for commits).
    #[arg(long, default_value_t = 1)]
    pub window: usize,
    /// Measure for this many seconds (default 20 unless --txs is given;
    /// with --sweep, at each point).
    #[arg(long, conflicts_with = "txs")]
    pub duration: Option<u64>,
    /// Measure exactly this many transactions.
    #[arg(long)]
    pub txs: Option<u64>,
    /// Seconds of load before measuring (its transactions are not counted).
    #[arg(long, default_value_t = 2.0)]
    pub warmup: f64,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// First port, when a new network is generated (see `cairn up`).
    #[arg(long, default_value_t = 7050)]
    pub base_port: u16,
    /// Leave a network that the bench started running.
    #[arg(long)]
    pub keep: bool,
    /// The benchmark contract package directory.
    #[arg(long, default_value = DEFAULT_CONTRACT)]
    pub contract: PathBuf,
    /// Every transaction writes its value (--value-bytes) into a private data
    /// collection of two orgs (Org1, Org2; requiredPeerCount 1, maxPeerCount
    /// 1) as transient data, instead of public state.
    #[arg(long)]
    pub private: bool,
    /// Bytes of every value written, 1 to 65536 (the contract checks the
    /// size; 100 sends no size argument, as before the option existed).
    #[arg(long, default_value_t = VALUE_BYTES)]
    pub value_bytes: usize,
    /// Organizations of a network the bench starts (each runs one orderer
    /// and one peer); a network that runs already keeps its own.
    #[arg(long, default_value_t = DEFAULT_ORGS)]
    pub orgs: u32,
    /// Orderers of a network the bench starts: the first N orgs run one
    /// each (default: every org; at most --orgs).
    #[arg(long)]
    pub orderers: Option<u32>,
    /// Keys written into the contract's state before measuring (through
    /// `benchkv.putBatch`, 1,000 keys of --value-bytes per transaction, each
    /// committed), so the peers measure against a state of that size.
    #[arg(long, default_value_t = 0)]
    pub preload: u64,
    /// Run a sweep instead of one bench: for each point of each AXIS
    /// (comma-separated: clients, orgs, state, value, private), a fresh
    /// network in DIR/AXIS-POINT is started, measured and removed; figures go
    /// to OUT/sweep-AXIS.csv and charts to OUT/sweep-AXIS.svg. The other
    /// options give the fixed values of the axes not swept.
    #[arg(long, value_delimiter = ',', value_enum, conflicts_with_all = ["json", "keep"])]
    pub sweep: Vec<sweep::Axis>,
    /// The sweep's points, for a single axis (comma-separated; e.g.
    /// `1,4,16` clients, `3,5` orgs, `1000,100000` keys, `100,4096` bytes,
    /// `public,private`). Default: clients 1,4,16,64,128,256; orgs 3,5,7;
    /// state 1000 to 10000000 by tens; value 100,1024,4096,16384,65536;
    /// private public,private.
    #[arg(long, value_delimiter = ',', requires = "sweep")]
    pub points: Vec<String>,
    /// The directory the sweep writes its CSV and SVG files into.
    #[arg(long, default_value = "docs/perf")]
    pub out: PathBuf,
    /// Shown before the progress bar's message (a sweep names its point).
    #[arg(skip)]
    pub label: String,
}

/// Runs `cairn bench`.
pub fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    check(&args)?;
    if !args.sweep.is_empty() {
        return sweep::run(&args);
    }
    let report = run_one(&args)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        report::print_table(&report);
    }
    // The figures are printed either way; the exit code tells scripts
    // whether they describe a clean run.
    Ok(match report.problem() {
        None => ExitCode::SUCCESS,
        Some(why) => {
            eprintln!("error: not a clean run: {why}");
            ExitCode::from(1)
        }
    })
}

/// Refuses options no bench can run with.
fn check(args: &BenchArgs) -> anyhow::Result<()> {
    if !(1..=MAX_VALUE_BYTES).contains(&args.value_bytes) {
        bail!("--value-bytes must be from 1 to {MAX_VALUE_BYTES}");
    }
    if args.clients == 0 {
        bail!("--clients must be at least 1");
    }
    if !(args.warmup.is_finite() && args.warmup >= 0.0) {
        bail!("--warmup must be a number of seconds, 0 or more");
    }
    if args.txs == Some(0) || args.duration == Some(0) {
        bail!("--txs and --duration must be at least 1");
    }
    Ok(())
}

/// One bench: starts a network if none runs in `--dir`, measures it, stops
/// what it started (unless `--keep`), and answers the figures.
fn run_one(args: &BenchArgs) -> anyhow::Result<report::Report> {
    let dir = std::path::absolute(&args.dir)?;
    let orderers = args.orderers.map(|n| n.min(args.orgs));
    let (net, started) = ensure_network(&dir, args.base_port, args.orgs, orderers)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let result = rt.block_on(bench(&net, started, args));
    drop(rt);
    if started && !args.keep {
        eprintln!("==> stopping the network the bench started");
        stop_network(&net);
    } else if started {
        eprintln!(
            "==> the network keeps running; stop it with: cairn down --dir {}",
            dir.display()
        );
    }
    result
}

/// Loads the network of `dir`, starting it (`cairn up --detach`) if no node
/// runs, with `orgs` organizations (and `orderers` of them running an
/// orderer; default all) if it is new. Answers whether this call started it.
pub(crate) fn ensure_network(
    dir: &Path,
    base_port: u16,
    orgs: u32,
    orderers: Option<u32>,
) -> anyhow::Result<(Network, bool)> {
    if let Ok(net) = Network::load(dir) {
        let running = net
            .nodes
            .iter()
            .filter(|n| process::running(&net.files(n)).is_some())
            .count();
        if running == net.nodes.len() && net.setup_done {
            return Ok((net, false));
        }
        if running == net.nodes.len() {
            bail!(
                "the network in {} is still being set up, or its setup failed: wait for `cairn up` to finish, or run `cairn down --dir {}` and retry",
                dir.display(),
                dir.display()
            );
        }
        if running > 0 {
            bail!(
                "{running} of the {} nodes of {} are running: run `cairn down --dir {}` or `cairn up --dir {}` first",
                net.nodes.len(),
                dir.display(),
                dir.display(),
                dir.display()
            );
        }
    }
    eprintln!("==> no network runs in {}: starting one", dir.display());
    let exe = std::env::current_exe().context("cannot find the cairn executable")?;
    // `up` narrates on stdout; keep ours for the report.
    let mut up = Command::new(exe);
    up.arg("up")
        .arg("--dir")
        .arg(dir)
        .arg("--base-port")
        .arg(base_port.to_string())
        .arg("--orgs")
        .arg(orgs.to_string())
        .arg("--detach");
    if let Some(n) = orderers {
        up.arg("--orderers").arg(n.to_string());
    }
    let status = up
        .stdin(Stdio::null())
        .stdout(Stdio::from(std::io::stderr()))
        .status()
        .context("cannot run `cairn up`")?;
    if !status.success() {
        // `up` stops its nodes when setup fails; a crash may leave some.
        if let Ok(net) = Network::load(dir) {
            stop_network(&net);
        }
        bail!("`cairn up --dir {}` failed ({status})", dir.display());
    }
    Ok((Network::load(dir)?, true))
}

/// Stops every node of the network, peers first.
pub(crate) fn stop_network(net: &Network) {
    for n in net.peers().chain(net.orderers()) {
        match process::stop(&net.files(n)) {
            Ok(Some(true)) => eprintln!("warning: {} ignored SIGTERM and was killed", n.name),
            Ok(_) => {}
            Err(e) => eprintln!("warning: cannot stop {}: {e:#}", n.name),
        }
    }
}

/// CPU counters at one instant.
#[derive(Clone, Debug)]
struct Snapshot {
    at: Instant,
    nodes: Vec<Option<u64>>,
    client: Option<u64>,
    /// The event watchers' thread (part of `client`).
    watchers: Option<u64>,
    machine: Option<(u64, u64)>,
}

fn snapshot(pids: &[i32], watch_tid: i32) -> Snapshot {
    Snapshot {
        at: Instant::now(),
        nodes: pids.iter().map(|p| cpu::process_ticks(*p)).collect(),
        client: cpu::process_ticks(std::process::id() as i32),
        watchers: (watch_tid > 0)
            .then(|| cpu::thread_ticks(watch_tid))
            .flatten(),
        machine: cpu::machine_ticks(),
    }
}

async fn bench(net: &Network, started: bool, args: &BenchArgs) -> anyhow::Result<report::Report> {
    if args.private
        && !["Org1MSP", "Org2MSP"]
            .iter()
            .all(|o| net.peers().any(|p| p.msp_id == *o))
    {
        bail!(
            "--private writes into a collection of Org1 and Org2: the network needs both (cairn up --orgs 2 or more)"
        );
    }
    let contract = deploy::contract_name(args.private);
    if deploy::ensure(net, &args.contract, args.private).await? {
        eprintln!("==> {contract} committed on {}", net.channel);
    }
    let preloaded = if args.preload > 0 {
        let gateways = deploy::org_peers(net)
            .iter()
            .map(|p| Ok(Arc::new(setup::gateway(net, p, "users/user1")?)))
            .collect::<anyhow::Result<Vec<_>>>()?;
        eprintln!("==> preloading {} keys into {contract}", args.preload);
        let seed = hex::encode(rand::random::<[u8; 4]>());
        let done = preload::run(gateways, contract, args.preload, args.value_bytes, &seed).await?;
        eprintln!(
            "==> preloaded {} keys in {:.1} s",
            done.keys,
            done.took.as_secs_f64()
        );
        // Every peer must hold the whole state before the measurement.
        deploy::wait_same_height(net).await?;
        Some(done)
    } else {
        None
    };
    let heights = deploy::heights(net).await?;
    let from_block = heights.iter().flatten().copied().min().unwrap_or(0);
    let nodes: Vec<(Node, i32)> = net
        .nodes
        .iter()
        .map(|n| {
            process::running(&net.files(n))
                .map(|pid| (n.clone(), pid))
                .with_context(|| format!("node {} is not running", n.name))
        })
        .collect::<anyhow::Result<_>>()?;
    let raft_leader = raft_leader(net).await;

    let plan = load::Plan {
        clients: clients(net, args.clients)?,
        watchers: net
            .peers()
            .map(|p| Ok((p.name.clone(), setup::gateway(net, p, "users/user1")?)))
            .collect::<anyhow::Result<_>>()?,
        from_block,
        window: args.window.max(1),
        warmup: Duration::from_secs_f64(args.warmup),
        stop: match (args.txs, args.duration) {
            (Some(n), _) => load::Stop::Txs(n),
            (None, d) => load::Stop::Duration(Duration::from_secs(d.unwrap_or(20))),
        },
        drain: DRAIN,
        private: args.private,
        value_bytes: args.value_bytes,
    };
    let stop = plan.stop;
    let progress = Arc::new(load::Progress::default());
    let pids: Vec<i32> = nodes.iter().map(|(_, p)| *p).collect();
    let first: Arc<Mutex<Option<Snapshot>>> = Arc::default();
    let first_counts: Arc<Mutex<Vec<counters::Counts>>> = Arc::default();
    let on_measure = {
        let (first, first_counts, pids) = (first.clone(), first_counts.clone(), pids.clone());
        let (net, nodes, progress) = (net.clone(), nodes.clone(), progress.clone());
        async move {
            let tid = progress.watch_tid.load(Ordering::Relaxed);
            if let Ok(mut f) = first.lock() {
                *f = Some(snapshot(&pids, tid));
            }
            let counts = counters::read(&net, &nodes).await;
            if let Ok(mut f) = first_counts.lock() {
                *f = counts;
            }
        }
    };
    let bar = progress_bar(stop, &args.label);
    let ticker = tokio::spawn(tick(bar.clone(), progress.clone(), stop));
    let ctrl_c = {
        let progress = progress.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                progress.stop.store(true, Ordering::Relaxed);
            }
        })
    };
    let outcome = load::run(plan, progress.clone(), on_measure).await;
    let mut last = snapshot(&pids, 0);
    // The watchers' thread has ended by now; it left its count.
    last.watchers = Some(progress.watch_ticks_end.load(Ordering::Relaxed));
    let last_counts = counters::read(net, &nodes).await;
    ticker.abort();
    ctrl_c.abort();
    bar.finish_and_clear();

    let first = first
        .lock()
        .ok()
        .and_then(|f| f.clone())
        .unwrap_or_else(|| last.clone());
    let delta = |a: Option<u64>, b: Option<u64>| b.unwrap_or(0).saturating_sub(a.unwrap_or(0));
    let hz = cpu::ticks_per_second();
    let samples = report::CpuSamples {
        window: last.at.saturating_duration_since(first.at),
        nodes: nodes
            .iter()
            .zip(first.nodes.iter().zip(&last.nodes))
            .map(|((n, pid), (a, b))| report::NodeSample {
                name: n.name.clone(),
                role: role_name(n.role).into(),
                pid: *pid,
                cpu: cpu::to_duration(delta(*a, *b), hz),
            })
            .collect(),
        client: cpu::to_duration(delta(first.client, last.client), hz),
        watchers: cpu::to_duration(delta(first.watchers, last.watchers), hz),
        machine: match (first.machine, last.machine) {
            (Some((b0, t0)), Some((b1, t1))) => (b1.saturating_sub(b0), t1.saturating_sub(t0)),
            _ => (0, 0),
        },
        ticks_per_s: hz,
        from: first.at,
    };
    let (mode, target) = match stop {
        load::Stop::Txs(n) => ("txs", n as f64),
        load::Stop::Duration(d) => ("duration", d.as_secs_f64()),
    };
    Ok(report::build(
        report::NetworkInfo {
            dir: net.dir().display().to_string(),
            started,
            channel: net.channel.clone(),
            orderers: net.orderers().count(),
            peers: net.peers().count(),
            raft_leader,
        },
        report::Workload {
            contract: if args.private {
                format!("{contract}.putPrivate (collection bench of Org1, Org2)")
            } else {
                format!("{contract}.put")
            },
            value_bytes: args.value_bytes,
            preloaded_keys: preloaded.map_or(0, |p| p.keys),
            preload_s: preloaded.map_or(0.0, |p| p.took.as_secs_f64()),
            endorsement: deploy::ENDORSEMENT.into(),
            clients: args.clients,
            window: args.window.max(1),
            warmup_s: args.warmup,
            mode: mode.into(),
            target,
        },
        &outcome,
        &samples,
        |txs| {
            let roles: Vec<&str> = nodes.iter().map(|(n, _)| role_name(n.role)).collect();
            let first_counts = first_counts.lock().map(|f| f.clone()).unwrap_or_default();
            counters::per_tx(&nodes, &roles, &first_counts, &last_counts, txs)
        },
    ))
}

/// One gateway client per client task: org users in turn, each through a
/// peer of its own org (the org's peers in turn).
fn clients(net: &Network, n: usize) -> anyhow::Result<Vec<Arc<cairn_peer::GatewayClient>>> {
    let orgs = deploy::org_peers(net);
    if orgs.is_empty() {
        bail!("the network has no peers");
    }
    (0..n)
        .map(|i| {
            let org = &orgs[i % orgs.len()];
            let peers: Vec<&Node> = net.peers().filter(|p| p.msp_id == org.msp_id).collect();
            let peer = peers[(i / orgs.len()) % peers.len()];
            Ok(Arc::new(setup::gateway(net, peer, "users/user1")?))
        })
        .collect()
}

/// The name of the orderer the Raft cluster follows, if one answers.
pub(crate) async fn raft_leader(net: &Network) -> Option<String> {
    for o in net.orderers() {
        let Ok(client) = setup::transport(net, o, "admins/admin") else {
            continue;
        };
        if let Ok(s) = cairn_orderer::api::status(&client, &o.url()).await
            && let Some(l) = s.leader
        {
            // Raft ids are the orderers' positions, from 1.
            return net
                .orderers()
                .nth(l.saturating_sub(1) as usize)
                .map(|n| n.name.clone());
        }
    }
    None
}

fn role_name(r: Role) -> &'static str {
    match r {
        Role::Orderer => "orderer",
        Role::Peer => "peer",
    }
}

fn progress_bar(stop: load::Stop, label: &str) -> ProgressBar {
    let (len, template) = match stop {
        load::Stop::Txs(n) => (n, "{spinner} {prefix}{msg} {wide_bar} {pos}/{len} txs"),
        load::Stop::Duration(d) => (
            d.as_secs(),
            "{spinner} {prefix}{msg} {wide_bar} {pos}/{len} s",
        ),
    };
    let bar = ProgressBar::with_draw_target(Some(len), indicatif::ProgressDrawTarget::stderr())
        .with_style(
            ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
    bar.set_prefix(label.to_string());
    bar.set_message("warming up");
    bar
}

/// Refreshes the progress bar from the collector's counters.
async fn tick(bar: ProgressBar, progress: Arc<load::Progress>, stop: load::Stop) {
    let mut every = tokio::time::interval(Duration::from_millis(250));
    let mut since: Option<Instant> = None;
    loop {
        every.tick().await;
        if !progress.measuring.load(Ordering::Relaxed) {
            bar.tick();
            continue;
        }
        let t0 = *since.get_or_insert_with(Instant::now);
        let committed = progress.committed.load(Ordering::Relaxed);
        let secs = t0.elapsed().as_secs_f64();
        match stop {
            load::Stop::Txs(_) => bar.set_position(committed),
            load::Stop::Duration(d) => bar.set_position(t0.elapsed().min(d).as_secs()),
        }
        bar.set_message(format!(
            "{committed} committed ({:.0} tx/s), {} invalid, {} failed",
            committed as f64 / secs.max(0.001),
            progress.invalid.load(Ordering::Relaxed),
            progress.failed.load(Ordering::Relaxed)
        ));
    }
}
