//! Orderers commit blocks to their ledgers with deferred durability (the Raft
//! log holds them durably): SIGKILLs of orderers, the leader included, on a
//! `cairn up` network whose Raft logs are snapshotted and purged every few
//! entries. Each killed orderer's ledger reopens behind the height it had
//! reported in some kill (the deferred commits were lost, so the recovery path
//! ran), it restarts and catches up, and in the end every transaction
//! reported committed is on every peer and no block number holds two
//! different blocks on any of the six nodes.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a panic is the failure report"
)]

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use cairn_net::{Client, TlsIdentity, Trust};
use cairn_orderer::api::{NodeStatus, status};
use common::{Down, cairn, text};

const ORGS: [&str; 3] = ["org1", "org2", "org3"];
const CLIENTS: usize = 24;

#[test]
fn orderer_kills_around_log_purges_lose_nothing_and_fork_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("net");
    let d = dir.to_str().unwrap();
    let ports = common::port_block();
    let base = ports.base;
    let _guard = Down(dir.clone());
    let up = cairn(&[
        "up",
        "--dir",
        d,
        "--base-port",
        &base.to_string(),
        "--detach",
    ]);
    assert!(up.status.success(), "{}", text(&up));

    // Snapshot every 24 entries and keep none behind it: the log is purged
    // far past the ledger's durable point unless the ledger is synced first.
    let orderers: Vec<(String, String)> = ORGS
        .iter()
        .enumerate()
        .map(|(i, o)| {
            (
                format!("orderer0.{o}"),
                format!("https://127.0.0.1:{}", base + i as u16),
            )
        })
        .collect();
    for (name, _) in &orderers {
        let stop = cairn(&["node", "stop", name, "--dir", d]);
        assert!(stop.status.success(), "{}", text(&stop));
        let toml = dir.join("nodes").join(name).join("node.toml");
        let edited = std::fs::read_to_string(&toml)
            .unwrap()
            .replace("snapshot_every = 1000", "snapshot_every = 24")
            .replace("keep_after_snapshot = 1000", "keep_after_snapshot = 0");
        assert!(
            edited.contains("snapshot_every = 24") && edited.contains("keep_after_snapshot = 0")
        );
        std::fs::write(&toml, edited).unwrap();
    }
    for (name, _) in &orderers {
        let start = cairn(&["node", "start", name, "--dir", d]);
        assert!(start.status.success(), "{}", text(&start));
    }

    let msps = common::up_msps(&dir, &ORGS);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let tls = TlsIdentity::new(common::up_user(&dir, "org1"), Trust::new(&msps).unwrap()).unwrap();
    let admin = Client::with_timeout(&tls, Duration::from_secs(3)).unwrap();
    let statuses = || -> Vec<Option<NodeStatus>> {
        orderers
            .iter()
            .map(|(_, url)| rt.block_on(status(&admin, url)).ok())
            .collect()
    };

    // Load: clients of every org until told to stop, each through its org's peer.
    let load = common::GatewayLoad::start(&rt, &dir, &ORGS, CLIENTS, "c");
    let wait_commits = |n: usize| load.wait_commits(n);

    // Kill an orderer five times (leader and followers), each after some
    // load: open its ledger while it is down, restart it, let it catch up.
    let mut lost = 0;
    for round in 0..5 {
        wait_commits(300 * (round + 1));
        let st = statuses();
        let leader = st.iter().flatten().find_map(|s| s.leader).unwrap();
        let victim = if round % 2 == 0 {
            leader as usize - 1
        } else {
            (leader as usize) % orderers.len()
        };
        let (name, _) = &orderers[victim];
        let before = st[victim].as_ref().unwrap();
        assert!(
            before.purged.is_some_and(|p| p > 0),
            "{name}'s Raft log was never purged: {before:?}"
        );
        common::sigkill(common::node_pid(&dir, name));
        let ledger_dir = dir.join("nodes").join(name).join("data/ledger");
        let reopened = common::open_after_kill(&ledger_dir).height();
        if reopened < before.height {
            lost += 1;
        }
        eprintln!(
            "round {round}: killed {name} at height {} (applied {:?}, purged {:?}); its ledger reopened at {reopened}",
            before.height, before.applied, before.purged
        );
        let start = cairn(&["node", "start", name, "--dir", d]);
        assert!(start.status.success(), "{}", text(&start));
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let st = statuses();
            let top = st.iter().flatten().map(|s| s.height).max().unwrap();
            if st[victim]
                .as_ref()
                .is_some_and(|s| s.height + 2 >= top && s.height > before.height)
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{name} did not catch up after its restart: {st:?}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    wait_commits(300 * 6);
    let committed = load.stop(&rt);
    // Let every node reach the same height before stopping them.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let heights: BTreeSet<u64> = statuses().iter().flatten().map(|s| s.height).collect();
        if heights.len() == 1 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "orderers did not converge: {heights:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    drop(rt);
    let down = cairn(&["down", "--dir", d]);
    assert!(down.status.success(), "{}", text(&down));
    assert!(
        lost > 0,
        "no kill lost a deferred commit: the test did not exercise re-applying from the log"
    );

    let names: Vec<String> = ORGS
        .iter()
        .map(|o| format!("peer0.{o}"))
        .chain(orderers.iter().map(|(n, _)| n.clone()))
        .collect();
    let ledgers = common::node_ledgers(&dir, names.iter().map(String::as_str));
    common::assert_committed_and_one_chain(&ledgers, committed.keys());
    let dirs: Vec<(String, std::path::PathBuf)> = ledgers
        .iter()
        .map(|(n, l)| (n.clone(), l.dir().to_path_buf()))
        .collect();
    drop(ledgers);
    for (name, path) in dirs {
        if let Err(e) = cairn_store::verify::verify_ledger(&path, |_, _| {}) {
            panic!("{name}: cairn ledger verify fails: {e}");
        }
    }
    eprintln!(
        "{} committed; {lost} of 5 kills reopened a ledger behind its reported height",
        committed.len()
    );
}
