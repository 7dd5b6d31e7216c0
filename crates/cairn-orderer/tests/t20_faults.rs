//! Faults: the Raft leader is killed while clients submit; a follower that
//! was down while the log was compacted catches up through a snapshot.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cairn_ledger::config::BatchConfig;
use cairn_ledger::encoding::Canonical;
use cairn_ledger::ids::TxId;
use cairn_ledger::validation::ValidationCode;
use cairn_orderer::RaftSettings;
use cairn_orderer::api::BroadcastResponse;
use common::{Cluster, define_basic, fast_raft, submit, write_tx};

/// One submission: when it started, when it was answered, and the answer.
struct Outcome {
    txid: TxId,
    env: Vec<u8>,
    started: Instant,
    answered: Instant,
    result: Result<BroadcastResponse, String>,
}

#[test]
fn t20_leader_killed_while_clients_submit() {
    let batch = BatchConfig {
        max_tx_count: 10,
        max_bytes: 1024 * 1024,
        timeout_ms: 50,
    };
    let mut cluster = Cluster::start(3, batch, fast_raft());
    let leader = cluster.wait_leader(Duration::from_secs(10));
    let client = cluster.client(&cluster.net.orgs[0].user);
    let urls = cluster.urls();
    let define = define_basic(&cluster.net);
    cluster
        .rt
        .block_on(submit(
            &client,
            &urls,
            0,
            &define,
            Instant::now() + Duration::from_secs(10),
        ))
        .unwrap();

    // Four clients submit one envelope after another, to all orderers.
    let outcomes = Arc::new(Mutex::new(Vec::<Outcome>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let envs: Vec<_> = (0..150)
                .map(|i| write_tx(&cluster.net, &format!("w{w}-{i}")))
                .collect();
            let (client, urls, outcomes, stop) =
                (client.clone(), urls.clone(), outcomes.clone(), stop.clone());
            cluster.rt.spawn(async move {
                for (txid, env) in envs {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let started = Instant::now();
                    let result =
                        submit(&client, &urls, w, &env, started + Duration::from_secs(8)).await;
                    outcomes.lock().unwrap().push(Outcome {
                        txid,
                        env: env.encode().unwrap(),
                        started,
                        answered: Instant::now(),
                        result,
                    });
                }
            })
        })
        .collect();

    std::thread::sleep(Duration::from_millis(1500));
    let killed_at = Instant::now();
    cluster.kill(leader);
    std::thread::sleep(Duration::from_millis(4000));
    stop.store(true, Ordering::SeqCst);
    for w in workers {
        cluster.rt.block_on(w).unwrap();
    }

    let outcomes = std::mem::take(&mut *outcomes.lock().unwrap());
    let ok: Vec<&Outcome> = outcomes.iter().filter(|o| o.result.is_ok()).collect();
    assert!(
        ok.iter().any(|o| o.answered < killed_at),
        "no commits before the kill"
    );
    // Submissions succeed again within 5 s of the kill.
    let recovered = ok
        .iter()
        .filter(|o| o.started >= killed_at)
        .map(|o| o.answered)
        .min()
        .expect("no submission started after the kill succeeded");
    let gap = recovered - killed_at;
    eprintln!(
        "leader {} killed; first submission started after the kill committed {gap:?} later; {} committed, {} failed",
        leader + 1,
        ok.len(),
        outcomes.len() - ok.len()
    );
    assert!(gap < Duration::from_secs(5), "recovery took {gap:?}");

    // Every tx reported committed is on every surviving orderer, in the
    // block it was reported in, and the survivors hold identical blocks.
    let survivors = cluster.alive();
    let height = survivors
        .iter()
        .map(|i| cluster.ledger(*i).height())
        .max()
        .unwrap();
    cluster.wait_height(height, Duration::from_secs(10));
    for o in &ok {
        let r = o.result.as_ref().unwrap();
        for i in &survivors {
            let block = cluster
                .ledger(*i)
                .block(r.block)
                .unwrap()
                .expect("reported block exists");
            let index = block.data.iter().position(|d| *d == o.env);
            let index = index.unwrap_or_else(|| {
                panic!(
                    "tx {} missing from block {} on node {}",
                    o.txid,
                    r.block,
                    i + 1
                )
            });
            assert_eq!(block.metadata.validation_codes[index], r.code);
            let loc = cluster.ledger(*i).tx(&o.txid).unwrap().expect("tx indexed");
            if r.code == ValidationCode::Valid {
                assert_eq!(loc.block, r.block);
            }
        }
    }
    let reference = cluster.blocks(survivors[0]);
    assert_eq!(cluster.blocks(survivors[1]), reference);

    // The killed leader restarts from its files and converges: no block
    // number ever held two different blocks on any node.
    cluster.start_node(leader);
    cluster.wait_height(height, Duration::from_secs(15));
    let restarted = cluster.blocks(leader);
    assert_eq!(restarted[..reference.len()], reference[..]);
}

/// Regression: when the restarted follower was node 1, installing the
/// snapshot fetched its missing blocks from the first member of the
/// membership, itself; its own deliver stream waited for blocks only the
/// install could bring, for 10 s per attempt. Meanwhile the leader sent it
/// no heartbeats, so it campaigned term after term, and when the install
/// finished its inflated term deposed the healthy leader. Now the install
/// fetches only from other orderers that report having the blocks, and a
/// node installing a snapshot does not campaign.
#[test]
fn t21_follower_behind_a_compacted_log_catches_up_by_snapshot() {
    let raft = RaftSettings {
        snapshot_every: 4,
        keep_after_snapshot: 0,
        ..fast_raft()
    };
    let mut cluster = Cluster::start(3, BatchConfig::default(), raft);
    let leader = cluster.wait_leader(Duration::from_secs(10));
    // The lowest-numbered follower: when it is node 1, its own URL comes
    // first in the membership, which once made it fetch the snapshot's
    // blocks from itself and stall.
    let follower = (0..3).find(|i| *i != leader).unwrap();
    let client = cluster.client(&cluster.net.orgs[1].user);
    let urls = cluster.urls();
    let submit_all = |cluster: &Cluster, from: usize, to: usize| {
        for i in from..to {
            let (_, env) = write_tx(&cluster.net, &format!("k{i}"));
            cluster
                .rt
                .block_on(submit(
                    &client,
                    &urls,
                    leader,
                    &env,
                    Instant::now() + Duration::from_secs(10),
                ))
                .unwrap();
        }
    };
    submit_all(&cluster, 0, 3);
    cluster.wait_height(4, Duration::from_secs(10));
    let behind = cluster.node(follower).status().applied.unwrap();
    cluster.kill(follower);
    submit_all(&cluster, 3, 15);
    // The leader has compacted its log past what the follower has.
    let start = Instant::now();
    while cluster
        .node(leader)
        .status()
        .purged
        .is_none_or(|p| p <= behind)
    {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "leader never purged its log"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let term = cluster.node(leader).status().term;
    cluster.start_node(follower);
    let height = cluster.ledger(leader).height();
    cluster.wait_height(height, Duration::from_secs(15));
    // Catching up did not disturb the cluster: the follower did not
    // campaign while it fetched blocks, so the leader kept its term.
    assert_eq!(cluster.wait_leader(Duration::from_secs(5)), leader);
    assert_eq!(cluster.node(leader).status().term, term);
    assert_eq!(
        cluster.blocks(follower),
        cluster.blocks(leader)[..height as usize]
    );
    let status = cluster.node(follower).status();
    assert!(status.snapshot.is_some_and(|s| s > behind), "{status:?}");
    // And it keeps following afterwards.
    submit_all(&cluster, 15, 16);
    cluster.wait_height(height + 1, Duration::from_secs(10));
}
