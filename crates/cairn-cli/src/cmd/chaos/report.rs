//! The chaos report: faults with their recovery time (from the fault to the
//! first commit of a transaction started after it), the checks, and a
//! drawing of the run.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::check::Check;
use super::load::Committed;
use super::{FaultKind, FaultRecord};

/// What [`build`] needs.
pub struct Input<'a> {
    pub seed: u64,
    pub duration: Duration,
    pub started: Instant,
    pub faults_end: Instant,
    pub records: &'a [FaultRecord],
    pub committed: &'a [Committed],
    pub failed_calls: u64,
    pub checks: Vec<Check>,
    pub problems: Vec<String>,
}

/// One fault in the report.
#[derive(Clone, Debug, Serialize)]
pub struct Fault {
    /// Its kind.
    pub kind: FaultKind,
    /// The node and its role.
    pub node: String,
    /// Seconds from the start of the run.
    pub at_s: f64,
    /// Seconds until healed and caught up.
    pub healed_after_s: f64,
    /// Milliseconds from the fault to the first commit of a transaction
    /// started after it (none if none committed).
    pub recovery_ms: Option<u64>,
    /// What was done.
    pub detail: String,
    /// Rules broken.
    pub problems: Vec<String>,
}

/// Recovery times of one kind.
#[derive(Clone, Debug, Serialize)]
pub struct KindSummary {
    /// Faults of this kind.
    pub count: usize,
    /// Median recovery, ms.
    pub p50_ms: u64,
    /// 99th percentile, ms.
    pub p99_ms: u64,
    /// Longest, ms.
    pub max_ms: u64,
}

/// The whole report.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// The schedule's seed.
    pub seed: u64,
    /// Seconds of faults asked for.
    pub duration_s: u64,
    /// Transactions reported committed.
    pub committed: usize,
    /// Client calls that failed or timed out (retried as new transactions).
    pub failed_calls: u64,
    /// Commits per second of the run, from its start.
    pub commits_per_s: Vec<u32>,
    /// Every fault.
    pub faults: Vec<Fault>,
    /// Per kind, and `all`.
    pub summary: BTreeMap<String, KindSummary>,
    /// The end checks.
    pub checks: Vec<Check>,
    /// Problems outside any fault.
    pub problems: Vec<String>,
    /// Every check held and no fault found a problem.
    pub passed: bool,
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn summarize(mut v: Vec<u64>, count: usize) -> KindSummary {
    v.sort_unstable();
    KindSummary {
        count,
        p50_ms: percentile(&v, 0.5),
        p99_ms: percentile(&v, 0.99),
        max_ms: v.last().copied().unwrap_or(0),
    }
}

/// Builds the report.
pub fn build(input: Input<'_>) -> Report {
    let secs = |t: Instant| t.saturating_duration_since(input.started).as_secs_f64();
    let faults: Vec<Fault> = input
        .records
        .iter()
        .map(|r| Fault {
            kind: r.kind,
            node: r.node.clone(),
            at_s: secs(r.at),
            healed_after_s: r.done.saturating_duration_since(r.at).as_secs_f64(),
            recovery_ms: input
                .committed
                .iter()
                .filter(|c| c.started >= r.at)
                .map(|c| c.reported.saturating_duration_since(r.at))
                .min()
                .map(|d| d.as_millis() as u64),
            detail: r.detail.clone(),
            problems: r.problems.clone(),
        })
        .collect();
    let mut by_kind: BTreeMap<String, (Vec<u64>, usize)> = BTreeMap::new();
    for f in &faults {
        for key in [format!("{:?}", f.kind).to_lowercase(), "all".to_string()] {
            let e = by_kind.entry(key).or_default();
            e.1 += 1;
            e.0.extend(f.recovery_ms);
        }
    }
    let span = input
        .faults_end
        .saturating_duration_since(input.started)
        .as_secs() as usize
        + 1;
    let mut commits_per_s = vec![0u32; span];
    for c in input.committed {
        let s = c
            .reported
            .saturating_duration_since(input.started)
            .as_secs() as usize;
        if let Some(slot) = commits_per_s.get_mut(s) {
            *slot += 1;
        }
    }
    let passed = input.problems.is_empty()
        && input.checks.iter().all(|c| c.passed)
        && faults.iter().all(|f| f.problems.is_empty());
    Report {
        seed: input.seed,
        duration_s: input.duration.as_secs(),
        committed: input.committed.len(),
        failed_calls: input.failed_calls,
        commits_per_s,
        summary: by_kind
            .into_iter()
            .map(|(k, (v, n))| (k, summarize(v, n)))
            .collect(),
        faults,
        checks: input.checks,
        problems: input.problems,
        passed,
    }
}

/// Prints the report for people.
pub fn print(r: &Report) {
    println!(
        "chaos run, seed {}: {} faults in {} s, {} transactions reported committed, {} client calls failed and were retried",
        r.seed,
        r.faults.len(),
        r.duration_s,
        r.committed,
        r.failed_calls
    );
    println!();
    println!("fault      count  recovery p50    p99    max");
    for (kind, s) in &r.summary {
        println!(
            "{kind:<9} {:>6} {:>11} ms {:>6} {:>6}",
            s.count, s.p50_ms, s.p99_ms, s.max_ms
        );
    }
    println!();
    for f in r.faults.iter().filter(|f| !f.problems.is_empty()) {
        for p in &f.problems {
            println!("PROBLEM at {:.0} s, {:?} {}: {p}", f.at_s, f.kind, f.node);
        }
    }
    for p in &r.problems {
        println!("PROBLEM: {p}");
    }
    for c in &r.checks {
        println!(
            "{} {}: {}",
            if c.passed { "PASS" } else { "FAIL" },
            c.name,
            c.detail
        );
    }
    println!();
    println!(
        "{}",
        if r.passed {
            "nothing lost, nothing forked: every check passed"
        } else {
            "the run found problems"
        }
    );
}

/// Colour of a fault kind's band.
fn colour(kind: FaultKind) -> &'static str {
    match kind {
        FaultKind::Kill => "#d62728",
        FaultKind::Pause => "#ff7f0e",
        FaultKind::Disk => "#9467bd",
        FaultKind::Corrupt => "#8c564b",
    }
}

/// The run drawn: commits per second as bars, each fault a coloured band
/// from injection to healed-and-caught-up.
pub fn svg(r: &Report) -> String {
    let (w, h, left, bottom, top) = (960.0, 320.0, 50.0, 40.0, 30.0);
    let plot_w = w - left - 20.0;
    let plot_h = h - bottom - top;
    let n = r.commits_per_s.len().max(1) as f64;
    let peak = r.commits_per_s.iter().copied().max().unwrap_or(1).max(1) as f64;
    let x = |s: f64| left + s / n * plot_w;
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(
        out,
        r#"<text x="{left}" y="18">cairn chaos, seed {}: {} faults, {} committed, {}</text>"#,
        r.seed,
        r.faults.len(),
        r.committed,
        if r.passed {
            "all checks passed"
        } else {
            "PROBLEMS FOUND"
        }
    );
    for f in &r.faults {
        let _ = writeln!(
            out,
            r#"<rect x="{:.1}" y="{top}" width="{:.1}" height="{plot_h}" fill="{}" opacity="0.25"><title>{:?} {}: {}</title></rect>"#,
            x(f.at_s),
            (x(f.at_s + f.healed_after_s) - x(f.at_s)).max(1.0),
            colour(f.kind),
            f.kind,
            f.node,
            f.detail.replace('&', "&amp;").replace('<', "&lt;")
        );
    }
    let bar_w = (plot_w / n).max(0.5);
    for (i, c) in r.commits_per_s.iter().enumerate() {
        let bh = f64::from(*c) / peak * plot_h;
        let _ = writeln!(
            out,
            r##"<rect x="{:.1}" y="{:.1}" width="{bar_w:.2}" height="{bh:.1}" fill="#1f77b4"/>"##,
            x(i as f64),
            top + plot_h - bh
        );
    }
    let base = top + plot_h;
    let _ = writeln!(
        out,
        r#"<line x1="{left}" y1="{base}" x2="{}" y2="{base}" stroke="black"/>"#,
        left + plot_w
    );
    let _ = writeln!(
        out,
        r#"<text x="{left}" y="{}">0 s</text><text x="{}" y="{}" text-anchor="end">{} s</text>"#,
        base + 15.0,
        left + plot_w,
        base + 15.0,
        r.commits_per_s.len()
    );
    let _ = writeln!(out, r#"<text x="4" y="{}">{peak:.0}/s</text>"#, top + 10.0);
    let mut lx = left;
    for kind in [
        FaultKind::Kill,
        FaultKind::Pause,
        FaultKind::Disk,
        FaultKind::Corrupt,
    ] {
        let _ = writeln!(
            out,
            r#"<rect x="{lx}" y="{}" width="12" height="12" fill="{}" opacity="0.4"/><text x="{}" y="{}">{:?}</text>"#,
            base + 22.0,
            colour(kind),
            lx + 16.0,
            base + 32.0,
            kind
        );
        lx += 90.0;
    }
    let _ = writeln!(
        out,
        r##"<rect x="{lx}" y="{}" width="12" height="12" fill="#1f77b4"/><text x="{}" y="{}">commits per second</text>"##,
        base + 22.0,
        lx + 16.0,
        base + 32.0
    );
    out.push_str("</svg>\n");
    out
}
