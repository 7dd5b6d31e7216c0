//! `cairn bench --sweep AXIS[,AXIS...]`: one ordinary bench per point of
//! each axis, each on a fresh network in `DIR/AXIS-POINT` that is removed
//! afterwards, and per axis a CSV of the figures and an SVG chart of them.
//!
//! Invariants: a point changes exactly one option of the bench (the axis's;
//! the others keep the values given on the command line), so a row differs
//! from its neighbours only along the axis; the CSV and the chart are
//! rewritten after every point, so an interrupted sweep leaves the points it
//! finished; a point that failed or was not clean is reported, and the
//! sweep ends with exit code 1.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};

use super::super::up::layout::{LAYOUT_FILE, Network};
use super::super::up::process;
use super::report::Report;
use super::{BenchArgs, MAX_VALUE_BYTES, chart, run_one};

/// An option the sweep varies.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Axis {
    /// Concurrent clients (`--clients`).
    Clients,
    /// Organizations of the network, one peer each (`--orgs`; orderers as
    /// `--orderers` says).
    Orgs,
    /// Public state against a private data collection (`--private`).
    Private,
    /// Keys in the state before measuring (`--preload`).
    State,
    /// Bytes of every value (`--value-bytes`).
    Value,
}

impl Axis {
    /// Its name on the command line and in file names.
    pub fn name(self) -> &'static str {
        match self {
            Axis::Clients => "clients",
            Axis::Orgs => "orgs",
            Axis::Private => "private",
            Axis::State => "state",
            Axis::Value => "value",
        }
    }

    /// The x axis's caption on the chart.
    pub fn caption(self) -> &'static str {
        match self {
            Axis::Clients => "concurrent clients (log scale)",
            Axis::Orgs => "organizations (1 peer each)",
            Axis::Private => "where the value is written",
            Axis::State => "keys in the state before measuring (log scale)",
            Axis::Value => "value size, bytes (log scale)",
        }
    }

    /// Whether the chart spaces its points on a log scale.
    pub fn log_scale(self) -> bool {
        matches!(self, Axis::Clients | Axis::State | Axis::Value)
    }

    fn default_points(self) -> &'static [&'static str] {
        match self {
            Axis::Clients => &["1", "4", "16", "64", "128", "256"],
            Axis::Orgs => &["3", "5", "7"],
            Axis::Private => &["public", "private"],
            Axis::State => &["1000", "10000", "100000", "1000000", "10000000"],
            Axis::Value => &["100", "1024", "4096", "16384", "65536"],
        }
    }

    /// Reads one point of this axis.
    pub fn point(self, text: &str) -> anyhow::Result<Point> {
        let text = text.trim();
        let whole = |min: u64, max: u64| -> anyhow::Result<u64> {
            match text.replace('_', "").parse::<u64>() {
                Ok(n) if (min..=max).contains(&n) => Ok(n),
                _ => bail!(
                    "--points: {text:?} is not a point of the {} axis (a whole number from {min} to {max})",
                    self.name()
                ),
            }
        };
        let value = match self {
            Axis::Clients => whole(1, 4096)?,
            Axis::Orgs => whole(1, 9)?,
            Axis::State => whole(1, 100_000_000)?,
            Axis::Value => whole(1, MAX_VALUE_BYTES as u64)?,
            Axis::Private => match text {
                "public" => 0,
                "private" => 1,
                _ => bail!(
                    "--points: the private axis has the points public and private, not {text:?}"
                ),
            },
        };
        Ok(Point {
            label: match self {
                Axis::Private => text.to_string(),
                _ => value.to_string(),
            },
            value,
        })
    }
}

/// One point of an axis.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Point {
    /// How it is written (`16`, `private`).
    pub label: String,
    /// Its value (for `private`: 0 public, 1 private).
    pub value: u64,
}

impl Point {
    /// Sets the bench option of `axis` to this point.
    fn apply(&self, axis: Axis, args: &mut BenchArgs) {
        match axis {
            Axis::Clients => args.clients = self.value as usize,
            Axis::Orgs => args.orgs = self.value as u32,
            Axis::Private => args.private = self.value == 1,
            Axis::State => args.preload = self.value,
            Axis::Value => args.value_bytes = self.value as usize,
        }
    }
}

/// One point's figures: a line of the CSV, a point of the chart.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// The point.
    pub point: Point,
    /// Committed transactions per second.
    pub tps: f64,
    /// All nodes' CPU per committed transaction, milliseconds.
    pub node_ms_per_tx: f64,
    /// Orderers' CPU per committed transaction, milliseconds.
    pub orderer_ms_per_tx: f64,
    /// Peers' CPU per committed transaction, milliseconds.
    pub peer_ms_per_tx: f64,
    /// The bench client's CPU per committed transaction, milliseconds.
    pub client_ms_per_tx: f64,
    /// Median submit → commit latency, milliseconds.
    pub p50_ms: f64,
    /// 99th percentile latency, milliseconds.
    pub p99_ms: f64,
    /// Measured transactions committed.
    pub committed: u64,
    /// Bench transactions per block.
    pub txs_per_block: f64,
    /// The machine's busy cores during the measurement.
    pub busy_cores: f64,
    /// Of which cores kept busy by processes other than the network's nodes
    /// and the bench (another build or benchmark on a shared machine).
    pub others_cores: f64,
    /// Seconds the preload took (the state axis).
    pub preload_s: f64,
    /// Why the run was not clean, or empty.
    pub problem: String,
}

impl Row {
    /// The row of a bench's report.
    pub fn new(point: Point, r: &Report) -> Row {
        let role = |role: &str| -> f64 {
            r.cpu
                .nodes
                .iter()
                .filter(|n| n.role == role)
                .map(|n| n.ms_per_tx)
                .sum()
        };
        Row {
            point,
            tps: r.tps,
            node_ms_per_tx: r.cpu.node_ms_per_tx,
            orderer_ms_per_tx: role("orderer"),
            peer_ms_per_tx: role("peer"),
            client_ms_per_tx: r.cpu.client_ms_per_tx,
            p50_ms: r.latency_ms.p50,
            p99_ms: r.latency_ms.p99,
            committed: r.committed,
            txs_per_block: r.txs_per_block,
            busy_cores: r.cpu.machine_busy_cores,
            others_cores: if r.cpu.window_s > 0.0 {
                (r.cpu.machine_busy_cores - (r.cpu.node_total_s + r.cpu.client_s) / r.cpu.window_s)
                    .max(0.0)
            } else {
                0.0
            },
            preload_s: r.workload.preload_s,
            problem: r.problem().unwrap_or_default(),
        }
    }
}

/// The CSV of an axis's rows: a header line, then one line per row.
pub fn csv(axis: Axis, rows: &[Row]) -> String {
    let mut out = format!(
        "{},committed_tx_per_s,node_cpu_ms_per_tx,orderer_cpu_ms_per_tx,peer_cpu_ms_per_tx,client_cpu_ms_per_tx,latency_p50_ms,latency_p99_ms,committed,txs_per_block,machine_busy_cores,others_busy_cores,preload_s,problem\n",
        axis.name()
    );
    for r in rows {
        let _ = writeln!(
            out,
            "{},{:.1},{:.3},{:.3},{:.3},{:.3},{:.1},{:.1},{},{:.1},{:.2},{:.2},{:.1},{}",
            r.point.label,
            r.tps,
            r.node_ms_per_tx,
            r.orderer_ms_per_tx,
            r.peer_ms_per_tx,
            r.client_ms_per_tx,
            r.p50_ms,
            r.p99_ms,
            r.committed,
            r.txs_per_block,
            r.busy_cores,
            r.others_cores,
            r.preload_s,
            csv_field(&r.problem)
        );
    }
    out
}

/// A CSV field: quoted (quotes doubled) when it holds a comma, quote or line break.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The axes and their points, as the options ask.
fn plan(args: &BenchArgs) -> anyhow::Result<Vec<(Axis, Vec<Point>)>> {
    let mut axes: Vec<Axis> = Vec::new();
    for a in &args.sweep {
        if !axes.contains(a) {
            axes.push(*a);
        }
    }
    if !args.points.is_empty() && axes.len() != 1 {
        bail!("--points needs exactly one --sweep axis");
    }
    axes.iter()
        .map(|&axis| {
            let texts: Vec<&str> = if args.points.is_empty() {
                axis.default_points().to_vec()
            } else {
                args.points.iter().map(String::as_str).collect()
            };
            let points = texts
                .iter()
                .map(|t| axis.point(t))
                .collect::<anyhow::Result<Vec<_>>>()?;
            Ok((axis, points))
        })
        .collect()
}

/// What the points of `axis` share: the options the sweep does not vary.
fn fixed(args: &BenchArgs, axis: Axis) -> String {
    let mut parts = Vec::new();
    if axis != Axis::Orgs {
        parts.push(format!("{} orgs", args.orgs));
    }
    if let Some(n) = args.orderers {
        parts.push(format!("{n} orderers"));
    }
    if axis != Axis::Clients {
        parts.push(format!("{} clients", args.clients));
    }
    if axis != Axis::Value {
        parts.push(format!("{}-byte values", args.value_bytes));
    }
    if axis != Axis::Private {
        parts.push(if args.private { "private" } else { "public" }.into());
    }
    if axis != Axis::State {
        parts.push(format!("{} keys preloaded", args.preload));
    }
    let measure = match (args.txs, args.duration) {
        (Some(n), _) => format!("{n} txs per point"),
        (None, d) => format!("{} s per point", d.unwrap_or(20)),
    };
    parts.push(measure);
    parts.push(format!("{} cores", super::cpu::cores()));
    parts.join(", ")
}

/// Runs the sweep.
pub fn run(args: &BenchArgs) -> anyhow::Result<ExitCode> {
    let plan = plan(args)?;
    let total: usize = plan.iter().map(|(_, p)| p.len()).sum();
    let base = std::path::absolute(&args.dir)?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let mut done = 0;
    let mut failed = 0;
    for (axis, points) in plan {
        let mut rows = Vec::new();
        let subtitle = fixed(args, axis);
        for p in points {
            done += 1;
            let dir = base.join(format!("{}-{}", axis.name(), p.label));
            clear(&dir)?;
            let mut one = args.clone();
            one.sweep.clear();
            one.keep = false;
            one.dir = dir.clone();
            one.label = format!("[{done}/{total} {} {}] ", axis.name(), p.label);
            p.apply(axis, &mut one);
            eprintln!(
                "==> sweep point {done}/{total}: {} = {}",
                axis.name(),
                p.label
            );
            match run_one(&one) {
                Ok(r) => {
                    let row = Row::new(p, &r);
                    eprintln!(
                        "==> {} = {}: {:.1} tx/s, {:.3} node CPU ms/tx, p50 {:.1} ms ({:.2} cores busy with other processes)",
                        axis.name(),
                        row.point.label,
                        row.tps,
                        row.node_ms_per_tx,
                        row.p50_ms,
                        row.others_cores
                    );
                    if !row.problem.is_empty() {
                        eprintln!("warning: not a clean run: {}", row.problem);
                        failed += 1;
                    }
                    rows.push(row);
                }
                Err(e) => {
                    eprintln!("error: {} = {} failed: {e:#}", axis.name(), p.label);
                    failed += 1;
                }
            }
            if let Err(e) = std::fs::remove_dir_all(&dir) {
                eprintln!("warning: cannot remove {}: {e}", dir.display());
            }
            write(&args.out, axis, &rows, &subtitle)?;
        }
        print_rows(axis, &rows);
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        eprintln!("error: {failed} of {total} points failed or were not clean");
        ExitCode::from(1)
    })
}

/// Writes `OUT/sweep-AXIS.csv` and `OUT/sweep-AXIS.svg`.
fn write(out: &Path, axis: Axis, rows: &[Row], subtitle: &str) -> anyhow::Result<()> {
    let path = out.join(format!("sweep-{}.csv", axis.name()));
    std::fs::write(&path, csv(axis, rows))
        .with_context(|| format!("cannot write {}", path.display()))?;
    let svg = chart::svg(axis, rows, subtitle)?;
    let path = out.join(format!("sweep-{}.svg", axis.name()));
    std::fs::write(&path, svg).with_context(|| format!("cannot write {}", path.display()))
}

/// Removes what an earlier sweep left in a point's directory; refuses if
/// nodes run there, or if it holds something that is not a network.
fn clear(dir: &PathBuf) -> anyhow::Result<()> {
    if !dir.exists() {
        return Ok(());
    }
    if !dir.join(LAYOUT_FILE).exists() {
        if std::fs::read_dir(dir)?.next().is_none() {
            return Ok(());
        }
        bail!(
            "{} holds something other than a network: move it away or choose another --dir",
            dir.display()
        );
    }
    let net = Network::load(dir)?;
    if net
        .nodes
        .iter()
        .any(|n| process::running(&net.files(n)).is_some())
    {
        bail!(
            "a network runs in {}: stop it with `cairn down --dir {}` first",
            dir.display(),
            dir.display()
        );
    }
    std::fs::remove_dir_all(dir).with_context(|| format!("cannot remove {}", dir.display()))
}

fn print_rows(axis: Axis, rows: &[Row]) {
    println!(
        "{:<10} {:>10} {:>12} {:>10} {:>10} {:>13}  problem",
        axis.name(),
        "tx/s",
        "node ms/tx",
        "p50 ms",
        "p99 ms",
        "others cores"
    );
    for r in rows {
        println!(
            "{:<10} {:>10.1} {:>12.3} {:>10.1} {:>10.1} {:>13.2}  {}",
            r.point.label, r.tps, r.node_ms_per_tx, r.p50_ms, r.p99_ms, r.others_cores, r.problem
        );
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A row with the given throughput and CPU, the rest plausible.
    pub(crate) fn row(axis: Axis, label: &str, tps: f64, ms: f64) -> Row {
        Row {
            point: axis.point(label).unwrap(),
            tps,
            node_ms_per_tx: ms,
            orderer_ms_per_tx: ms / 3.0,
            peer_ms_per_tx: ms * 2.0 / 3.0,
            client_ms_per_tx: 0.5,
            p50_ms: 40.0,
            p99_ms: 90.0,
            committed: 1000,
            txs_per_block: 12.5,
            busy_cores: 1.9,
            others_cores: 0.1,
            preload_s: 0.0,
            problem: String::new(),
        }
    }

    #[test]
    fn csv_has_a_header_and_one_line_per_row() {
        let mut rows = vec![
            row(Axis::Clients, "1", 100.0, 4.0),
            row(Axis::Clients, "16", 812.25, 2.5),
        ];
        rows[1].problem = "3 invalid, \"late\"".into();
        let text = csv(Axis::Clients, &rows);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines[0].starts_with("clients,committed_tx_per_s,node_cpu_ms_per_tx,"));
        assert!(lines[1].starts_with("1,100.0,4.000,"), "{}", lines[1]);
        assert!(lines[2].starts_with("16,812.2,2.500,"), "{}", lines[2]);
        // The problem is one quoted field, so every line has the header's columns.
        assert!(
            lines[2].ends_with(",\"3 invalid, \"\"late\"\"\""),
            "{}",
            lines[2]
        );
        let columns = lines[0].split(',').count();
        assert_eq!(lines[1].split(',').count(), columns);
    }

    #[test]
    fn points_are_parsed_per_axis() {
        assert_eq!(Axis::Value.point("65536").unwrap().value, 65536);
        assert_eq!(Axis::State.point("10_000").unwrap().label, "10000");
        assert_eq!(Axis::Private.point("private").unwrap().value, 1);
        assert!(Axis::Value.point("65537").is_err());
        assert!(Axis::Orgs.point("10").is_err());
        assert!(Axis::Clients.point("0").is_err());
        assert!(Axis::Private.point("secret").is_err());
    }

    #[test]
    fn a_point_changes_only_its_option() {
        use clap::Parser;
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            bench: BenchArgs,
        }
        let base = Cli::parse_from(["cairn", "--sweep", "value"]).bench;
        let mut one = base.clone();
        Axis::Value
            .point("4096")
            .unwrap()
            .apply(Axis::Value, &mut one);
        assert_eq!(one.value_bytes, 4096);
        assert_eq!(
            (one.clients, one.orgs, one.private, one.preload),
            (16, 3, false, 0)
        );
        Axis::Private
            .point("private")
            .unwrap()
            .apply(Axis::Private, &mut one);
        assert!(one.private);
        Axis::State
            .point("1000")
            .unwrap()
            .apply(Axis::State, &mut one);
        assert_eq!(one.preload, 1000);
    }

    #[test]
    fn sweep_options_parse_and_plan() {
        use clap::Parser;
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            bench: BenchArgs,
        }
        let args = Cli::parse_from([
            "cairn",
            "--sweep",
            "clients",
            "--points",
            "1,4,16",
            "--duration",
            "5",
            "--out",
            "/tmp/x",
        ])
        .bench;
        assert_eq!(args.sweep, [Axis::Clients]);
        assert_eq!(args.duration, Some(5));
        let p = plan(&args).unwrap();
        let labels: Vec<&str> = p[0].1.iter().map(|p| p.label.as_str()).collect();
        assert_eq!(labels, ["1", "4", "16"]);

        let all = Cli::parse_from(["cairn", "--sweep", "orgs,value,orgs"]).bench;
        let p = plan(&all).unwrap();
        assert_eq!(p.len(), 2, "an axis named twice runs once");
        assert_eq!(p[0].1.len(), 3);
        assert_eq!(p[1].1.len(), 5);
        assert_eq!(all.out, PathBuf::from("docs/perf"));

        let two = Cli::parse_from(["cairn", "--sweep", "orgs,value", "--points", "3"]).bench;
        assert!(plan(&two).is_err(), "--points needs one axis");
        assert!(Cli::try_parse_from(["cairn", "--points", "1"]).is_err());
        assert!(Cli::try_parse_from(["cairn", "--sweep", "disk"]).is_err());
        assert!(Cli::try_parse_from(["cairn", "--sweep", "orgs", "--json"]).is_err());
        let bad = Cli::parse_from(["cairn", "--sweep", "value", "--points", "100,big"]).bench;
        assert!(plan(&bad).is_err());
    }

    #[test]
    fn the_fixed_options_name_everything_but_the_axis() {
        use clap::Parser;
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            bench: BenchArgs,
        }
        let args = Cli::parse_from(["cairn", "--sweep", "clients", "--duration", "10"]).bench;
        let f = fixed(&args, Axis::Clients);
        assert!(!f.contains("clients"), "{f}");
        assert!(f.contains("3 orgs") && f.contains("100-byte values"), "{f}");
        assert!(f.contains("10 s per point"), "{f}");
    }
}
