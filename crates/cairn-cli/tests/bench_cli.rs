//! `cairn bench` end to end on a real multi-process network: it starts a
//! network, commits the benchmark contract, counts every transaction from
//! every peer's events, reports CPU of every node, and stops only what it
//! started, leaving no `cairn node` process behind.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a panic is the failure report"
)]

mod common;

use std::path::Path;
use std::process::Output;

use common::cairn;
use serde_json::Value;

fn json(out: &Output) -> Value {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "cairn bench failed:\n{stderr}");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\nstderr:\n{stderr}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// Live (not zombie) `cairn node` processes whose config is under `dir`.
fn nodes_running_under(dir: &Path) -> Vec<String> {
    let want = dir.as_os_str().as_encoded_bytes();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        let is_node =
            args.iter().any(|a| *a == b"node") && args.iter().any(|a| a.starts_with(want));
        let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| {
                s.rsplit(')')
                    .next()
                    .unwrap_or("")
                    .trim_start()
                    .starts_with('Z')
            })
            .unwrap_or(true);
        if is_node && !zombie {
            let shown = cmdline
                .iter()
                .map(|b| if *b == 0 { ' ' } else { *b as char });
            found.push(shown.collect());
        }
    }
    found
}

/// Stops the network of a directory when dropped, so a failed assertion
/// leaves no node behind.
struct Down<'a>(&'a str);

impl Drop for Down<'_> {
    fn drop(&mut self) {
        let _ = cairn(&["down", "--dir", self.0]);
    }
}

/// The figures every successful run must show.
fn assert_sound(r: &Value, txs: u64) {
    assert_sound_with(r, txs, 100);
}

/// [`assert_sound`] for values of `bytes` bytes.
fn assert_sound_with(r: &Value, txs: u64, bytes: u64) {
    assert_eq!(r["committed"], txs, "{r:#}");
    assert_eq!(r["invalid"], serde_json::json!({}), "{r:#}");
    assert_eq!(r["errors"], serde_json::json!({}), "{r:#}");
    assert_eq!(r["uncommitted"], 0, "{r:#}");
    assert_eq!(r["disagreements"], 0, "{r:#}");
    assert!(r["tps"].as_f64().unwrap() > 0.0, "{r:#}");
    let blocks = r["blocks"].as_u64().unwrap();
    assert!((1..=txs).contains(&blocks), "{r:#}");
    let l = &r["latency_ms"];
    let (p50, p95, p99) = (
        l["p50"].as_f64().unwrap(),
        l["p95"].as_f64().unwrap(),
        l["p99"].as_f64().unwrap(),
    );
    assert!(0.0 < p50 && p50 <= p95 && p95 <= p99, "{r:#}");
    assert_eq!(r["workload"]["endorsement"], "MAJORITY Endorsement");
    assert_eq!(r["workload"]["value_bytes"], bytes);
    let nodes = r["cpu"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 6, "3 orderers and 3 peers: {r:#}");
    for role in ["orderer", "peer"] {
        assert_eq!(nodes.iter().filter(|n| n["role"] == role).count(), 3);
    }
    for n in nodes {
        assert!(n["cpu_s"].as_f64().unwrap() > 0.0, "idle node? {n:#}");
    }
    assert!(r["cpu"]["node_ms_per_tx"].as_f64().unwrap() > 0.0, "{r:#}");
}

#[test]
fn bench_starts_a_network_measures_it_and_stops_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("net");
    let d = dir.to_str().unwrap();
    let ports = common::port_block();
    let port = ports.base.to_string();
    let out = cairn(&[
        "bench",
        "--txs",
        "300",
        "--clients",
        "8",
        "--json",
        "--dir",
        d,
        "--base-port",
        &port,
    ]);
    let r = json(&out);
    assert_sound(&r, 300);
    assert_eq!(r["network"]["started"], true);
    assert_eq!(r["workload"]["clients"], 8);
    let left = nodes_running_under(&dir);
    assert!(left.is_empty(), "nodes left running: {left:?}");
}

#[test]
fn bench_targets_a_running_network_and_leaves_it_running() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("net");
    let d = dir.to_str().unwrap();
    let ports = common::port_block();
    let port = ports.base.to_string();
    let small = [
        "bench",
        "--txs",
        "60",
        "--clients",
        "3",
        "--warmup",
        "0",
        "--json",
    ];
    let _down = Down(d);
    let first = cairn(&[&small[..], &["--dir", d, "--base-port", &port, "--keep"]].concat());
    let r = json(&first);
    assert_sound(&r, 60);
    assert_eq!(r["network"]["started"], true);
    assert_eq!(
        nodes_running_under(&dir).len(),
        6,
        "--keep keeps every node"
    );

    // The second run reuses the network and the committed contract.
    let second = cairn(&[&small[..], &["--dir", d]].concat());
    let r2 = json(&second);
    assert_sound(&r2, 60);
    assert_eq!(r2["network"]["started"], false);
    assert_eq!(r2["warmup_txs"], 0);
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(!stderr.contains("install benchkv"), "{stderr}");
    assert_eq!(
        nodes_running_under(&dir).len(),
        6,
        "a network the bench did not start keeps running"
    );

    // --private: the same load writing into a collection of Org1 and Org2.
    let private = cairn(&[&small[..], &["--dir", d, "--private"]].concat());
    let r3 = json(&private);
    assert_sound(&r3, 60);
    let contract = r3["workload"]["contract"].as_str().unwrap();
    assert!(contract.starts_with("benchpdc.putPrivate"), "{contract}");

    // Bigger values against a preloaded state: the contract checks the size.
    let sized = cairn(
        &[
            &small[..],
            &["--dir", d, "--value-bytes", "4096", "--preload", "1500"],
        ]
        .concat(),
    );
    let r4 = json(&sized);
    assert_sound_with(&r4, 60, 4096);
    assert_eq!(r4["workload"]["preloaded_keys"], 1500);
    let private_sized = cairn(
        &[
            &small[..],
            &["--dir", d, "--private", "--value-bytes", "1024"],
        ]
        .concat(),
    );
    assert_sound_with(&json(&private_sized), 60, 1024);

    let down = cairn(&["down", "--dir", d]);
    assert!(down.status.success());
    let left = nodes_running_under(&dir);
    assert!(left.is_empty(), "nodes left running: {left:?}");
}

#[test]
fn bench_sweep_writes_a_csv_row_and_a_chart_point_per_point() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("nets");
    let out = tmp.path().join("perf");
    let ports = common::port_block();
    let port = ports.base.to_string();
    let run = cairn(&[
        "bench",
        "--sweep",
        "orgs",
        "--points",
        "3,4",
        "--orderers",
        "3",
        "--clients",
        "4",
        "--duration",
        "2",
        "--warmup",
        "0",
        "--dir",
        dir.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--base-port",
        &port,
    ]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        run.status.success(),
        "cairn bench --sweep failed:\n{stderr}"
    );
    let csv = std::fs::read_to_string(out.join("sweep-orgs.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3, "a header and 2 rows:\n{csv}");
    assert!(lines[0].starts_with("orgs,committed_tx_per_s,node_cpu_ms_per_tx"));
    for (line, orgs) in lines[1..].iter().zip(["3", "4"]) {
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(f[0], orgs, "{csv}");
        let tps: f64 = f[1].parse().unwrap();
        let cpu: f64 = f[2].parse().unwrap();
        assert!(tps > 0.0 && cpu > 0.0, "{csv}");
        assert_eq!(*f.last().unwrap(), "", "a clean run has no problem: {csv}");
    }
    let svg = std::fs::read_to_string(out.join("sweep-orgs.svg")).unwrap();
    assert_eq!(svg.matches("<circle").count(), 4, "2 points in 2 panels");
    // Each point ran on its own network (the 4-org one with orderers in
    // the first 3 orgs only), stopped and removed afterwards.
    assert!(stderr.contains("sweep point 2/2: orgs = 4"), "{stderr}");
    assert!(
        stderr.contains("Org1, Org2, Org3, Org4 (1 peer(s) each; orderers in Org1, Org2, Org3)"),
        "{stderr}"
    );
    assert!(!dir.join("orgs-3").exists() && !dir.join("orgs-4").exists());
    let left = nodes_running_under(&dir);
    assert!(left.is_empty(), "nodes left running: {left:?}");
}
