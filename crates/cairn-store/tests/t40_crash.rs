//! SIGKILL of a process in the middle of committing blocks, many times at
//! random points, always reopens a consistent ledger that `verify_ledger`
//! accepts, at a height no lower than any height the writer had reported.
//!
//! The writer is this same test binary re-run with `--ignored` on
//! [`crash_writer_child`], so the process that dies is a real one using the
//! production store; the parent kills it with SIGKILL (`Child::kill`).

#![allow(
    clippy::unwrap_used,
    reason = "test code: a panic is the failure report"
)]

use std::io::{BufRead, BufReader, Lines};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

use cairn_store::Ledger;
use cairn_store::verify::verify_ledger;
use cairn_testkit::{TestNet, now, write_set};
use rand::Rng;

const ORGS: usize = 2;

/// A generated network in `root/crypto` and a ledger in `root/ledger` with
/// the contract `asset` defined; returns both paths.
fn prepare(root: &Path) -> (PathBuf, PathBuf) {
    let crypto = root.join("crypto");
    let ledger_dir = root.join("ledger");
    let net = TestNet::generate_at(&crypto, ORGS);
    let ledger = net.ledger(&ledger_dir);
    let (_, def) = net.define_contract_tx("asset", "");
    ledger.append(vec![def], now(), net.orderer()).unwrap();
    (crypto, ledger_dir)
}

/// Runs this test binary's ignored test `name` as a writer process on the
/// ledger; returns it and its standard output's lines.
fn spawn_writer(
    name: &str,
    crypto: &Path,
    ledger_dir: &Path,
) -> (Child, Lines<BufReader<ChildStdout>>) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            name,
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("CAIRN_CRASH_CRYPTO", crypto)
        .env("CAIRN_CRASH_LEDGER", ledger_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = BufReader::new(child.stdout.take().unwrap()).lines();
    (child, lines)
}

/// A writer process's network and ledger, from the paths its parent set.
fn writer_env() -> (TestNet, Ledger) {
    let (Some(crypto), Some(dir)) = (
        std::env::var_os("CAIRN_CRASH_CRYPTO"),
        std::env::var_os("CAIRN_CRASH_LEDGER"),
    ) else {
        panic!("run only by the crash test (CAIRN_CRASH_CRYPTO and CAIRN_CRASH_LEDGER unset)");
    };
    let net = TestNet::load(Path::new(&crypto), ORGS);
    let ledger = Ledger::open(Path::new(&dir)).unwrap();
    (net, ledger)
}

#[test]
fn sigkill_during_commits_always_reopens_consistent() {
    let root = tempfile::tempdir().unwrap();
    let (crypto, ledger_dir) = prepare(root.path());

    let mut rng = rand::rng();
    let mut reported = 0u64;
    let rounds = 12;
    for round in 0..rounds {
        let (mut child, mut lines) = spawn_writer("crash_writer_child", &crypto, &ledger_dir);
        // Wait until the writer is committing, then kill it at a random point.
        // Skip the test harness's own lines up to the first commit.
        let first = lines
            .by_ref()
            .map_while(Result::ok)
            .find(|l| l.starts_with("committed "))
            .expect("the writer never committed");
        reported = reported.max(first["committed ".len()..].trim().parse().unwrap());
        std::thread::sleep(Duration::from_millis(rng.random_range(5..250)));
        child.kill().unwrap();
        child.wait().unwrap();
        // Heights the writer reported as committed before it died.
        for line in lines.map_while(Result::ok) {
            if let Some(h) = line.strip_prefix("committed ") {
                reported = reported.max(h.trim().parse().unwrap());
            }
        }
        let report = verify_ledger(&ledger_dir, |_, _| {})
            .unwrap_or_else(|e| panic!("round {round}: ledger inconsistent after SIGKILL: {e}"));
        assert!(
            report.blocks >= reported,
            "round {round}: lost committed blocks: {} < {reported}",
            report.blocks
        );
        let reopened = Ledger::open(&ledger_dir).unwrap();
        assert_eq!(reopened.height(), report.blocks);
    }
    assert!(
        reported > 2 + rounds,
        "the writer committed too little to test anything ({reported})"
    );
}

/// The writer process for the crash test; does nothing unless run by it.
#[test]
#[ignore = "run by sigkill_during_commits_always_reopens_consistent as its child process"]
fn crash_writer_child() {
    let (net, ledger) = writer_env();
    let mut i = 0u64;
    loop {
        let txs = (0..20)
            .map(|j| {
                // Keys repeat across blocks so state, history and versions all change.
                let key = format!("k{}", (i * 20 + j) % 97);
                let value = format!("value {i} {j}");
                net.endorsed_tx(
                    &net.orgs[1].user,
                    "asset",
                    write_set("asset", &[(key.as_str(), value.as_bytes())]),
                    &[&net.orgs[0].peer, &net.orgs[1].peer],
                )
                .1
            })
            .collect();
        ledger.append(txs, now(), net.orderer()).unwrap();
        println!("committed {}", ledger.height());
        i += 1;
    }
}

/// Deferred commits (an orderer's, see `cairn_store::durability`): SIGKILL
/// at random points reopens a consistent ledger at or above the last
/// durable point, whose sidecar value names exactly its height (the two
/// are never apart); and the deferred commits after that point are really
/// lost in some rounds (so the test exercises the loss it guards against).
#[test]
fn sigkill_during_deferred_commits_keeps_sidecar_and_blocks_together() {
    let root = tempfile::tempdir().unwrap();
    let (crypto, ledger_dir) = prepare(root.path());

    let mut rng = rand::rng();
    let mut lost_rounds = 0;
    let rounds = 10;
    for round in 0..rounds {
        let (mut child, mut lines) = spawn_writer("deferred_writer_child", &crypto, &ledger_dir);
        let (mut durable, mut committed) = (0u64, 0u64);
        let note = |line: &str, durable: &mut u64, committed: &mut u64| {
            if let Some(h) = line.strip_prefix("durable ") {
                *durable = (*durable).max(h.trim().parse().unwrap());
            }
            if let Some(h) = line.strip_prefix("committed ") {
                *committed = (*committed).max(h.trim().parse().unwrap());
            }
        };
        for line in lines.by_ref().map_while(Result::ok) {
            note(&line, &mut durable, &mut committed);
            if durable > 0 {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(rng.random_range(20..400)));
        child.kill().unwrap();
        child.wait().unwrap();
        for line in lines.map_while(Result::ok) {
            note(&line, &mut durable, &mut committed);
        }
        let report = verify_ledger(&ledger_dir, |_, _| {})
            .unwrap_or_else(|e| panic!("round {round}: ledger inconsistent after SIGKILL: {e}"));
        assert!(
            report.blocks >= durable,
            "round {round}: lost durable blocks: {} < {durable}",
            report.blocks
        );
        let reopened = Ledger::open(&ledger_dir).unwrap();
        let pointer = reopened.sidecar("applied").unwrap().unwrap();
        assert_eq!(
            u64::from_be_bytes(pointer.try_into().unwrap()),
            reopened.height(),
            "round {round}: the sidecar and the blocks came apart"
        );
        if reopened.height() < committed {
            lost_rounds += 1;
        }
        eprintln!(
            "round {round}: durable {durable}, committed {committed}, reopened at {}",
            reopened.height()
        );
    }
    assert!(
        lost_rounds > 0,
        "no round lost a deferred commit: the test did not exercise deferral"
    );
}

/// The writer process for the deferred-commit crash test.
#[test]
#[ignore = "run by sigkill_during_deferred_commits_keeps_sidecar_and_blocks_together as its child process"]
fn deferred_writer_child() {
    let (net, ledger) = writer_env();
    let mut i = 0u64;
    loop {
        let txs = (0..5)
            .map(|j| {
                let key = format!("k{}", (i * 5 + j) % 31);
                net.endorsed_tx(
                    &net.orgs[1].user,
                    "asset",
                    write_set("asset", &[(key.as_str(), b"v")]),
                    &[&net.orgs[0].peer, &net.orgs[1].peer],
                )
                .1
            })
            .collect();
        let block = ledger.seal(txs, now(), net.orderer()).unwrap();
        let height = block.header.number + 1;
        let pointer = [("applied", height.to_be_bytes().to_vec())];
        let every_8th = height.is_multiple_of(8);
        let durability = if every_8th {
            cairn_store::Durability::Immediate
        } else {
            cairn_store::Durability::Deferred
        };
        ledger
            .commit_sealed_with(&block, &pointer, durability)
            .unwrap();
        println!("committed {height}");
        if every_8th {
            println!("durable {height}");
        } else if height.is_multiple_of(13) {
            ledger.sync().unwrap();
            println!("durable {height}");
        }
        i += 1;
    }
}
