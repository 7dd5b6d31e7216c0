//! Gateways send envelopes to the Raft leader over one long-lived stream per
//! orderer. SIGKILLs of the leader on a `cairn up` network under load break
//! those streams with envelopes on them; the gateways send those again to the
//! next leader, marked as resent. In the end every transaction a client was
//! told is committed is on every peer in the block it was told, and no block
//! on any node holds a transaction twice or a copy invalidated as a duplicate:
//! the leader dropped the copies by transaction id.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a panic is the failure report"
)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use cairn_ledger::encoding::Canonical;
use cairn_ledger::tx::Envelope;
use cairn_ledger::validation::ValidationCode;
use cairn_orderer::api::{NodeStatus, status};
use common::{cairn, text};

const ORGS: [&str; 3] = ["org1", "org2", "org3"];
const CLIENTS: usize = 24;
const KILLS: usize = 3;

#[test]
fn leader_kills_break_broadcast_streams_and_nothing_is_ordered_twice() {
    let net = common::UpNet::start(&ORGS);
    let (dir, d, rt, admin) = (&net.dir, net.d(), &net.rt, &net.admin);
    let orderers = net.nodes("orderer0", &ORGS);
    let peers = net.nodes("peer0", &ORGS);
    let statuses = || -> Vec<Option<NodeStatus>> {
        orderers
            .iter()
            .map(|(_, url)| rt.block_on(status(admin, url)).ok())
            .collect()
    };

    // Load: clients of every org, each through its org's gateway, recording
    // what they were told.
    let load = common::GatewayLoad::start(rt, dir, &ORGS, CLIENTS, "s");
    let wait_commits = |n: usize| load.wait_commits(n);

    // SIGKILL the leader under load, restart it, and go on.
    for round in 0..KILLS {
        wait_commits(400 * (round + 1));
        let leader = statuses().iter().flatten().find_map(|s| s.leader).unwrap();
        let (name, _) = &orderers[leader as usize - 1];
        common::sigkill(common::node_pid(dir, name));
        eprintln!("round {round}: killed the leader {name}");
        wait_commits(400 * (round + 1) + 100);
        let start = cairn(&["node", "start", name, "--dir", d]);
        assert!(start.status.success(), "{}", text(&start));
    }
    wait_commits(400 * (KILLS + 1));
    let told = load.stop(rt);

    // The gateways did send envelopes again (the path under test ran), and
    // none sent an envelope as a request of its own.
    let mut resent = 0;
    for (name, url) in &peers {
        let counts = rt.block_on(admin.counters(url)).unwrap();
        resent += counts.get("broadcast_resent").copied().unwrap_or(0);
        assert_eq!(
            counts.get("sent POST /broadcast"),
            None,
            "{name}: {counts:?}"
        );
        assert!(
            counts
                .get("sent POST /broadcast/stream")
                .is_some_and(|n| *n >= 1),
            "{name}: {counts:?}"
        );
    }
    assert!(
        resent > 0,
        "no envelope was sent again: no kill broke a stream with one on it"
    );

    // Every node at the same height, then stopped.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let heights: BTreeSet<u64> = statuses().iter().flatten().map(|s| s.height).collect();
        if heights.len() == 1 && statuses().iter().all(Option::is_some) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "orderers did not converge: {heights:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let down = cairn(&["down", "--dir", d]);
    assert!(down.status.success(), "{}", text(&down));

    let names: Vec<String> = peers
        .iter()
        .chain(orderers.iter())
        .map(|(n, _)| n.clone())
        .collect();
    let ledgers = common::node_ledgers(dir, names.iter().map(String::as_str));
    common::assert_committed_and_one_chain(&ledgers, told.keys());
    for (name, ledger) in &ledgers {
        let mut seen = BTreeMap::new();
        for n in 0..ledger.height() {
            let block = ledger.block(n).unwrap().unwrap();
            for (i, data) in block.data.iter().enumerate() {
                let txid = Envelope::decode(data)
                    .unwrap()
                    .transaction()
                    .unwrap()
                    .header()
                    .txid;
                let code = block.metadata.validation_codes[i];
                if let Some((m, first)) = seen.insert(txid, (n, code)) {
                    panic!(
                        "{name}: block {n} holds {txid} again ({code}; first in block {m}, {first})"
                    );
                }
                assert_ne!(
                    block.metadata.validation_codes[i],
                    ValidationCode::DuplicateTxid,
                    "{name}: block {n} holds a duplicate of {txid}"
                );
            }
        }
        if name.starts_with("peer") {
            for (txid, block) in &told {
                let loc = ledger.tx(txid).unwrap().unwrap();
                assert_eq!(loc.block, *block, "{name}: {txid}");
                assert_eq!(loc.code, ValidationCode::Valid, "{name}: {txid}");
            }
        }
    }
    eprintln!(
        "{} committed across {KILLS} leader kills; {resent} envelopes sent again",
        told.len()
    );
}
