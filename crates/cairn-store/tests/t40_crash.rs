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

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use cairn_store::Ledger;
use cairn_store::verify::verify_ledger;
use cairn_testkit::{TestNet, now, write_set};
use rand::Rng;

const ORGS: usize = 2;

#[test]
fn sigkill_during_commits_always_reopens_consistent() {
    let root = tempfile::tempdir().unwrap();
    let crypto = root.path().join("crypto");
    let ledger_dir = root.path().join("ledger");
    let net = TestNet::generate_at(&crypto, ORGS);
    let ledger = net.ledger(&ledger_dir);
    let (_, def) = net.define_contract_tx("asset", "");
    ledger.append(vec![def], now(), net.orderer()).unwrap();
    drop(ledger);

    let mut rng = rand::rng();
    let mut reported = 0u64;
    let rounds = 12;
    for round in 0..rounds {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "crash_writer_child",
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("CAIRN_CRASH_CRYPTO", &crypto)
            .env("CAIRN_CRASH_LEDGER", &ledger_dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Wait until the writer is committing, then kill it at a random point.
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
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
    let (Some(crypto), Some(dir)) = (
        std::env::var_os("CAIRN_CRASH_CRYPTO"),
        std::env::var_os("CAIRN_CRASH_LEDGER"),
    ) else {
        panic!("run only by the crash test (CAIRN_CRASH_CRYPTO and CAIRN_CRASH_LEDGER unset)");
    };
    let net = TestNet::load(Path::new(&crypto), ORGS);
    let ledger = Ledger::open(Path::new(&dir)).unwrap();
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
