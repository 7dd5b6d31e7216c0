//! The short form of the chaos campaign (the long form is in the README):
//! `cairn chaos` for 60 s with a fixed seed on a fresh `cairn up` network,
//! all four fault kinds. It must pass its own checks; this test then looks
//! at the report and, independently, at every peer's ledger file.
//!
//! Disk faults mount a tmpfs per peer, so this test runs as root (CI does).

#![allow(
    clippy::unwrap_used,
    reason = "test code: a panic is the failure report"
)]

mod common;

use cairn_ledger::state::StateView;
use common::{Down, cairn, text};
use serde_json::Value;

#[test]
fn a_minute_of_every_fault_loses_nothing_and_forks_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("net");
    let d = dir.to_str().unwrap();
    let _guard = Down(dir.clone());
    let ports = common::port_block();
    let port = ports.base.to_string();
    let report = tmp.path().join("report.json");
    let svg = tmp.path().join("run.svg");
    let out = cairn(&[
        "chaos",
        "--dir",
        d,
        "--base-port",
        &port,
        "--duration",
        "60s",
        "--seed",
        "17",
        "--disk-mb",
        "256",
        "--report",
        report.to_str().unwrap(),
        "--svg",
        svg.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(r["passed"], true, "{r:#}");
    let checks = r["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 5, "{checks:?}");
    assert!(checks.iter().all(|c| c["passed"] == true), "{checks:?}");
    let faults = r["faults"].as_array().unwrap();
    for kind in ["kill", "pause", "disk", "corrupt"] {
        assert!(
            faults.iter().any(|f| f["kind"] == kind),
            "no {kind} fault in {faults:?}"
        );
    }
    for f in faults {
        assert!(f["problems"].as_array().unwrap().is_empty(), "{f}");
        if f["kind"] == "corrupt" {
            let detail = f["detail"].as_str().unwrap();
            assert!(detail.contains("refused, repaired from"), "{detail}");
        }
    }
    let committed = r["committed"].as_u64().unwrap();
    assert!(committed > 100, "the load ran: {committed}");
    let svg = std::fs::read_to_string(&svg).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("commits per second"));

    // Independently: every peer holds at least one chaos key per reported
    // commit (a retried call may have committed too), and the same ones.
    let mut key_sets = Vec::new();
    for peer in ["peer0.org1", "peer0.org2", "peer0.org3"] {
        let ledger = cairn_store::Ledger::open(
            &dir.join("nodes").join(peer).join("data/channels/mychannel"),
        )
        .unwrap();
        let keys: Vec<String> = ledger
            .snapshot()
            .unwrap()
            .range("benchkv", "chaos-", "chaos.", 0)
            .unwrap()
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert!(
            keys.len() as u64 >= committed,
            "{peer} holds {} chaos keys for {committed} commits",
            keys.len()
        );
        key_sets.push(keys);
    }
    assert!(key_sets.windows(2).all(|w| w[0] == w[1]));
    // The tmpfs mounts are gone and the data is back on disk.
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap();
    assert!(!mounts.contains(d), "{mounts}");
}
