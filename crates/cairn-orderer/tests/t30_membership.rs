//! Orderer membership from the channel configuration: the genesis config's
//! orderer list forms the cluster, a config update signed by a majority of
//! admins grows it (the new orderer becomes a voting member) or shrinks it
//! (the removed orderer stops serving the channel), and an update signed by
//! too few admins is refused before it is ordered.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use cairn_crypto::SigningIdentity;
use cairn_ledger::client::config_update;
use cairn_ledger::config::{ChannelConfig, OrdererEndpoint};
use cairn_ledger::tx::Envelope;
use cairn_ledger::validation::ValidationCode;
use cairn_orderer::api;
use cairn_testkit::{nonce, now};
use common::{Cluster, define_basic, fast_raft, submit, write_tx};

/// A config update to `new`, signed by the admins of orgs `admins` (indexes).
fn update(cluster: &Cluster, new: &ChannelConfig, admins: &[usize]) -> Envelope {
    let orgs = &cluster.net.orgs;
    let signers: Vec<&SigningIdentity> = admins.iter().map(|i| &orgs[*i].admin).collect();
    config_update(new, &orgs[admins[0]].admin, &signers, nonce(), now()).unwrap()
}

fn ids(v: &[u64]) -> BTreeSet<u64> {
    v.iter().copied().collect()
}

#[test]
fn t30_config_updates_grow_and_shrink_the_ordering_service() {
    // Four orgs; the channel lists the orderers of Org1..Org3 (ids 1..3).
    let mut cluster = Cluster::listed(4, 3, fast_raft());
    let leader = cluster.wait_leader(Duration::from_secs(10));
    let client = cluster.client(&cluster.net.orgs[0].user);
    let urls = cluster.urls();
    let originals = urls[..3].to_vec();
    let deadline = || Instant::now() + Duration::from_secs(15);
    let define = define_basic(&cluster.net);
    cluster
        .rt
        .block_on(submit(&client, &originals, 0, &define, deadline()))
        .unwrap();
    assert_eq!(ids(&cluster.node(leader).status().voters), ids(&[1, 2, 3]));

    // Org4's orderer starts from the genesis block. The channel does not
    // list it, so it is not a member and does not serve the channel.
    cluster.start_node(3);
    let (_, env) = write_tx(&cluster.net, "early");
    let err = cluster
        .rt
        .block_on(api::broadcast(&client, &urls[3], &env))
        .unwrap_err();
    assert_eq!(err.status(), Some(503), "{err}");
    assert!(
        err.to_string()
            .contains("does not serve channel testchannel"),
        "{err}"
    );
    assert!(!cluster.node(3).status().serving);

    // One admin of four is not `MAJORITY Admins`: refused before ordering,
    // with the reason; no block, no membership change.
    let mut grown = cluster.ledger(leader).config();
    grown.sequence += 1;
    grown.orderers.push(OrdererEndpoint {
        id: 4,
        msp_id: "Org4MSP".into(),
        url: urls[3].clone(),
    });
    let height = cluster.ledger(leader).height();
    let err = cluster
        .rt
        .block_on(api::broadcast(
            &client,
            &urls[leader],
            &update(&cluster, &grown, &[0]),
        ))
        .unwrap_err();
    assert_eq!(err.status(), Some(403), "{err}");
    let text = err.to_string();
    assert!(text.contains("Admins policy `MAJORITY Admins`"), "{text}");
    assert!(
        text.contains("valid admin signatures from: Org1MSP"),
        "{text}"
    );
    std::thread::sleep(Duration::from_millis(800));
    for i in 0..3 {
        assert_eq!(cluster.ledger(i).height(), height, "node {}", i + 1);
        assert_eq!(cluster.ledger(i).config().sequence, 0);
    }
    let status = cluster.node(leader).status();
    assert_eq!(ids(&status.voters), ids(&[1, 2, 3]));
    assert!(status.learners.is_empty());

    // Three admins of four: ordered and valid; the leader adds orderer 4
    // as a learner, then makes it a voter, and it serves the channel.
    let answer = cluster
        .rt
        .block_on(submit(
            &client,
            &originals,
            leader,
            &update(&cluster, &grown, &[0, 1, 2]),
            deadline(),
        ))
        .unwrap();
    assert_eq!(answer.code, ValidationCode::Valid);
    cluster.wait_until(
        "all four see voters {1,2,3,4}",
        Duration::from_secs(20),
        |c| {
            (0..4).all(|i| {
                let s = c.node(i).status();
                ids(&s.voters) == ids(&[1, 2, 3, 4]) && s.serving
            })
        },
    );

    // The four order together: writes through every orderer, including
    // the new one, land in the same blocks everywhere.
    let answers = cluster.rt.block_on(async {
        let tasks: Vec<_> = (0..12)
            .map(|i| {
                let (_, env) = write_tx(&cluster.net, &format!("grown{i}"));
                let (client, urls) = (client.clone(), urls.clone());
                tokio::spawn(async move { submit(&client, &urls, i, &env, deadline()).await })
            })
            .collect();
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap().unwrap());
        }
        out
    });
    assert!(answers.iter().all(|a| a.code == ValidationCode::Valid));
    let height = answers.iter().map(|a| a.block).max().unwrap() + 1;
    cluster.wait_height(height, Duration::from_secs(10));
    let reference = cluster.blocks(leader);
    for i in 0..4 {
        assert_eq!(
            cluster.blocks(i)[..height as usize],
            reference[..height as usize]
        );
    }

    // Remove an original follower. It stops serving the channel and does
    // not campaign; the other three keep ordering without disturbance.
    let leader = cluster.wait_leader(Duration::from_secs(5));
    let removed = (0..3).find(|i| *i != leader).unwrap();
    let kept: Vec<usize> = (0..4).filter(|i| *i != removed).collect();
    let mut shrunk = cluster.ledger(leader).config();
    shrunk.sequence += 1;
    shrunk.orderers.retain(|o| o.id != removed as u64 + 1);
    let kept_ids: Vec<u64> = shrunk.orderers.iter().map(|o| o.id).collect();
    let answer = cluster
        .rt
        .block_on(submit(
            &client,
            &[urls[leader].clone()],
            0,
            &update(&cluster, &shrunk, &[1, 2, 3]),
            deadline(),
        ))
        .unwrap();
    assert_eq!(answer.code, ValidationCode::Valid);
    cluster.wait_until(
        "the kept three see the new voters",
        Duration::from_secs(20),
        |c| {
            kept.iter()
                .all(|i| ids(&c.node(*i).status().voters) == ids(&kept_ids))
        },
    );
    let term = cluster.node(leader).status().term;
    let removed_status = cluster.node(removed).status();
    assert!(!removed_status.serving, "{removed_status:?}");
    let (_, env) = write_tx(&cluster.net, "to-the-removed");
    let err = cluster
        .rt
        .block_on(api::broadcast(&client, &urls[removed], &env))
        .unwrap_err();
    assert_eq!(err.status(), Some(503), "{err}");
    assert!(err.to_string().contains("does not serve channel"), "{err}");
    let err = cluster
        .rt
        .block_on(api::deliver(&client, &urls[removed], 0))
        .unwrap_err();
    assert_eq!(err.status(), Some(503), "{err}");
    let kept_urls: Vec<String> = kept.iter().map(|i| urls[*i].clone()).collect();
    let answer = cluster
        .rt
        .block_on(submit(&client, &kept_urls, 0, &env, deadline()))
        .unwrap();
    assert_eq!(answer.code, ValidationCode::Valid);
    cluster.wait_height_on(&kept, answer.block + 1, Duration::from_secs(10));
    // Well past the election timeout, the removed orderer has not
    // campaigned (its term is unchanged) and the leader kept its term.
    std::thread::sleep(Duration::from_millis(2000));
    assert_eq!(cluster.node(removed).status().term, removed_status.term);
    assert_eq!(cluster.node(leader).status().term, term);
    assert!(cluster.ledger(removed).height() <= answer.block);

    // Orderer 4 is a voter: with the third member stopped, the leader and
    // orderer 4 are the only quorum left, and ordering goes on.
    let third = *kept.iter().find(|i| **i != leader && **i != 3).unwrap();
    cluster.kill(third);
    let (_, env) = write_tx(&cluster.net, "quorum-with-4");
    let answer = cluster
        .rt
        .block_on(submit(
            &client,
            &[urls[leader].clone(), urls[3].clone()],
            0,
            &env,
            deadline(),
        ))
        .unwrap();
    assert_eq!(answer.code, ValidationCode::Valid);
    cluster.wait_height_on(&[leader, 3], answer.block + 1, Duration::from_secs(10));
}
