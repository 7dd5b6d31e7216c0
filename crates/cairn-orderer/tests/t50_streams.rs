//! Broadcast streams on a 3-orderer cluster over real mutual TLS: many
//! envelopes on one request, opened on the leader only, and a transaction
//! sent again (after a stream broke or a leader failed) never ordered twice.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod common;

use std::time::Duration;

use cairn_ledger::config::BatchConfig;
use cairn_ledger::validation::ValidationCode;
use cairn_orderer::api::{self, BroadcastResponse};
use common::{Cluster, define_basic, fast_raft, write_tx};

#[test]
fn t50_a_resent_envelope_gets_its_block_and_concurrent_copies_share_one_outcome() {
    let cluster = Cluster::start(3, BatchConfig::default(), fast_raft());
    let leader = cluster.wait_leader(Duration::from_secs(10));
    let follower = (leader + 1) % 3;
    let client = cluster.client(&cluster.net.orgs[0].user);
    let streams = api::broadcast_streams(Duration::from_secs(10));
    let send = |url: &str, env, resent| {
        cluster
            .rt
            .block_on(api::broadcast_streamed(&streams, &client, url, env, resent))
    };
    let lead = cluster.url(leader);

    // A follower does not take a stream: it names the leader.
    let define = define_basic(&cluster.net);
    let err = send(&cluster.url(follower), &define, false).unwrap_err();
    assert_eq!(err.status(), Some(api::NOT_LEADER), "{err}");
    assert_eq!(api::leader_of(&err), Some(lead.as_str()));

    let opened = || {
        cairn_counters::snapshot()
            .get("served POST /broadcast/stream")
            .copied()
            .unwrap_or(0)
    };
    let opened_before = opened();
    let first = send(&lead, &define, false).unwrap();
    assert_eq!(first.code, ValidationCode::Valid);

    // Sent again as a resend: answered with the block that holds it, and
    // no block is added.
    let height = cluster.ledger(leader).height();
    let again = send(&lead, &define, true).unwrap();
    assert_eq!(again, first);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(cluster.ledger(leader).height(), height);

    // Control: the same envelope not marked as a resend is ordered again,
    // and validation marks the copy a duplicate (Fabric's rule), so the
    // lookup is what kept the resend out of a block.
    let plain = send(&lead, &define, false).unwrap();
    assert_eq!(plain.block, height);
    assert_eq!(plain.code, ValidationCode::DuplicateTxid);

    // Five copies of one envelope at once: the first is ordered, the others
    // wait for its outcome; one block holds it, once.
    let (txid, env) = write_tx(&cluster.net, "copies");
    let answers: Vec<BroadcastResponse> = cluster.rt.block_on(async {
        let calls = (0..5).map(|_| api::broadcast_streamed(&streams, &client, &lead, &env, false));
        futures_util::future::join_all(calls)
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect()
    });
    assert!(answers.iter().all(|a| *a == answers[0]), "{answers:?}");
    assert_eq!(answers[0].txid, txid);
    assert_eq!(answers[0].code, ValidationCode::Valid);
    let ledger = cluster.ledger(leader);
    let block = ledger.block(answers[0].block).unwrap().unwrap();
    assert_eq!(block.data.len(), 1, "the copies were not ordered");
    assert_eq!(ledger.height(), answers[0].block + 1);

    // A forgery of a transaction (its envelope with a signature that does
    // not verify) that arrives first does not get the genuine copy refused:
    // the forgery is refused, the genuine copy is ordered.
    let (txid, env) = write_tx(&cluster.net, "forged");
    let mut forged = env.clone();
    forged.signature[0] ^= 0xff;
    let (refused, genuine) = cluster.rt.block_on(async {
        let genuine = (1..=4u64).map(|ms| {
            let env = &env;
            let (streams, client, lead) = (&streams, &client, &lead);
            async move {
                tokio::time::sleep(Duration::from_micros(500 * ms)).await;
                api::broadcast_streamed(streams, client, lead, env, false).await
            }
        });
        futures_util::join!(
            api::broadcast_streamed(&streams, &client, &lead, &forged, false),
            futures_util::future::join_all(genuine)
        )
    });
    let refused = refused.unwrap_err();
    assert_eq!(refused.status(), Some(403), "{refused}");
    for g in genuine {
        let g = g.unwrap();
        assert_eq!((g.txid, g.code), (txid, ValidationCode::Valid));
    }

    // All of it on the one stream the pool opened.
    assert_eq!(opened() - opened_before, 1);
}
