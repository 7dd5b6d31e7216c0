//! Peers commit most blocks without an fsync (the channel's orderers hold
//! every block durably): SIGKILLs of a committing peer under load on a
//! `cairn up` network. Its ledger reopens behind the height it had reported
//! in some kill (deferred commits were lost, so the recovery path ran), it
//! restarts, fetches the lost blocks again and catches up; in the end every
//! transaction reported committed is on every peer, no block number holds two
//! different blocks on any node, and the killed peer's ledger verifies.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a panic is the failure report"
)]

mod common;

use std::time::{Duration, Instant};

use cairn_peer::api::channels;
use common::{cairn, text};

const ORGS: [&str; 3] = ["org1", "org2", "org3"];
const KILLS: usize = 4;

#[test]
fn peer_kills_lose_only_deferred_commits_and_it_catches_up() {
    let net = common::UpNet::start(&ORGS);
    let (dir, d, rt, admin) = (&net.dir, net.d(), &net.rt, &net.admin);
    let peers = net.nodes("peer0", &ORGS);
    let height = |i: usize| -> Option<u64> {
        let list = rt.block_on(channels(admin, &peers[i].1)).ok()?;
        list.iter()
            .find(|c| c.name == "mychannel")
            .map(|c| c.height)
    };

    // Load through the gateways of org1 and org2; peer0.org3 only commits
    // (and is never asked to endorse: MAJORITY is met by the other two).
    let load = common::GatewayLoad::start(rt, dir, &ORGS[..2], 16, "p");
    let victim = 2;
    let (name, _) = &peers[victim];
    let ledger_dir = dir.join("nodes").join(name).join("data/channels/mychannel");
    let mut lost = 0;
    for round in 0..KILLS {
        load.wait_commits(300 * (round + 1));
        let before = height(victim).unwrap();
        common::sigkill(common::node_pid(dir, name));
        let reopened = common::open_after_kill(&ledger_dir).height();
        if reopened < before {
            lost += 1;
        }
        eprintln!(
            "round {round}: killed {name} at height {before}; its ledger reopened at {reopened}"
        );
        let start = cairn(&["node", "start", name, "--dir", d]);
        assert!(start.status.success(), "{}", text(&start));
        let deadline = Instant::now() + Duration::from_secs(60);
        while height(victim).is_none_or(|h| h <= before) {
            assert!(
                Instant::now() < deadline,
                "{name} did not catch up after its restart"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    load.wait_commits(300 * (KILLS + 1));
    let told = load.stop(rt);

    // Deferral was in effect on the peers that were never killed.
    for (name, url) in &peers[..2] {
        let counts = rt.block_on(admin.counters(url)).unwrap();
        let (durable, blocks) = (counts["durable_commit"], counts["block"]);
        assert!(
            blocks > 100 && durable * 4 < blocks,
            "{name}: {durable} durable commits for {blocks} blocks"
        );
    }
    // Every peer at the same height, then stopped.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let heights: Vec<Option<u64>> = (0..3).map(height).collect();
        if heights.iter().all(Option::is_some) && heights.windows(2).all(|w| w[0] == w[1]) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "peers did not converge: {heights:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let down = cairn(&["down", "--dir", d]);
    assert!(down.status.success(), "{}", text(&down));
    assert!(
        lost > 0,
        "no kill lost a deferred commit: the test did not exercise fetching blocks again"
    );

    let names: Vec<String> = ORGS
        .iter()
        .flat_map(|o| [format!("peer0.{o}"), format!("orderer0.{o}")])
        .collect();
    let ledgers = common::node_ledgers(dir, names.iter().map(String::as_str));
    common::assert_committed_and_one_chain(&ledgers, told.keys());
    drop(ledgers);
    if let Err(e) = cairn_store::verify::verify_ledger(&ledger_dir, |_, _| {}) {
        panic!("{name}: cairn ledger verify fails: {e}");
    }
    eprintln!(
        "{} committed; {lost} of {KILLS} kills reopened the peer's ledger behind its reported height",
        told.len()
    );
}
