//! A 3-orderer Raft cluster over real mutual TLS on 127.0.0.1: ordering,
//! block cutting, delivery from every orderer, and who is refused.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod common;

use std::time::{Duration, Instant};

use cairn_crypto::Role;
use cairn_ledger::config::BatchConfig;
use cairn_ledger::encoding::Canonical;
use cairn_ledger::tx::{Envelope, Transaction};
use cairn_ledger::validation::ValidationCode;
use cairn_net::{Client, ClientError, TlsIdentity, Trust};
use cairn_orderer::api;
use common::{Cluster, define_basic, fast_raft, submit, write_tx};

#[test]
fn t10_envelopes_are_ordered_and_every_orderer_delivers_the_same_blocks() {
    let batch = BatchConfig {
        max_tx_count: 4,
        max_bytes: 1024 * 1024,
        timeout_ms: 100,
    };
    let cluster = Cluster::start(3, batch, fast_raft());
    cluster.wait_leader(Duration::from_secs(10));
    let client = cluster.client(&cluster.net.orgs[1].user);
    let urls = cluster.urls();
    let deadline = Instant::now() + Duration::from_secs(20);

    // Define the contract, then 20 writes submitted concurrently to all
    // three orderers (followers relay to the leader).
    let define = define_basic(&cluster.net);
    let defined = cluster
        .rt
        .block_on(submit(&client, &urls, 1, &define, deadline))
        .unwrap();
    assert_eq!(defined.code, ValidationCode::Valid);
    let txs: Vec<_> = (0..20)
        .map(|i| write_tx(&cluster.net, &format!("k{i}")))
        .collect();
    let answers = cluster.rt.block_on(async {
        let tasks: Vec<_> = txs
            .iter()
            .enumerate()
            .map(|(i, (_, env))| {
                let (client, urls, env) = (client.clone(), urls.clone(), env.clone());
                tokio::spawn(async move { submit(&client, &urls, i, &env, deadline).await })
            })
            .collect();
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap().unwrap());
        }
        out
    });
    for ((txid, _), answer) in txs.iter().zip(&answers) {
        assert_eq!(answer.txid, *txid);
        assert_eq!(answer.code, ValidationCode::Valid, "tx {txid}");
    }
    let height = answers.iter().map(|a| a.block).max().unwrap() + 1;
    cluster.wait_height(height, Duration::from_secs(10));

    // Every orderer delivers the same blocks 0..height over TLS.
    let delivered: Vec<Vec<cairn_ledger::block::Block>> = (0..3)
        .map(|i| {
            cluster.rt.block_on(async {
                let mut stream = api::deliver(&client, &cluster.url(i), 0).await.unwrap();
                let mut blocks = Vec::new();
                while (blocks.len() as u64) < height {
                    let b = tokio::time::timeout(Duration::from_secs(5), stream.next()).await;
                    blocks.push(b.unwrap().unwrap().unwrap());
                }
                blocks
            })
        })
        .collect();
    assert_eq!(delivered[0], delivered[1]);
    assert_eq!(delivered[0], delivered[2]);
    for (n, b) in delivered[0].iter().enumerate() {
        assert_eq!(b.header.number, n as u64);
        assert!(
            b.data.len() <= 4,
            "block {n} has {} txs, over max_tx_count",
            b.data.len()
        );
    }
    assert!(
        delivered[0].iter().any(|b| b.data.len() > 1),
        "concurrent submissions should share blocks"
    );
    // Each answer names the block that holds the envelope, with its code.
    for ((_, env), answer) in txs.iter().zip(&answers) {
        let block = &delivered[0][answer.block as usize];
        let index = block
            .data
            .iter()
            .position(|d| *d == env.encode().unwrap())
            .expect("tx in its block");
        assert_eq!(block.metadata.validation_codes[index], answer.code);
    }
    // Deliver resumes from any block number.
    let resumed = cluster.rt.block_on(async {
        let mut stream = api::deliver(&client, &cluster.url(2), height - 2)
            .await
            .unwrap();
        vec![
            stream.next().await.unwrap().unwrap(),
            stream.next().await.unwrap().unwrap(),
        ]
    });
    assert_eq!(resumed, delivered[0][(height - 2) as usize..].to_vec());
    // A live stream sees the next block as it is committed.
    cluster.rt.block_on(async {
        let mut stream = api::deliver(&client, &cluster.url(0), height)
            .await
            .unwrap();
        let (_, env) = write_tx(&cluster.net, "late");
        let answer = submit(
            &client,
            &urls,
            2,
            &env,
            Instant::now() + Duration::from_secs(10),
        )
        .await
        .unwrap();
        let next = tokio::time::timeout(Duration::from_secs(5), stream.next())
            .await
            .unwrap();
        assert_eq!(next.unwrap().unwrap().header.number, answer.block);
    });
    let status = cluster
        .rt
        .block_on(api::status(&client, &cluster.url(1)))
        .unwrap();
    assert_eq!(status.id, 2);
    assert!(status.leader.is_some());
}

#[test]
fn t11_refusals_unknown_ca_wrong_role_and_unauthorized_envelopes() {
    // Only clients of Org1 and Org2 may write on this channel.
    let writers = "OR('Org1MSP.client','Org2MSP.client')";
    let cluster = Cluster::start_with(3, fast_raft(), |c| {
        c.policies.insert("Writers".into(), writers.into());
    });
    cluster.wait_leader(Duration::from_secs(10));
    let url = cluster.url(0);

    // A client whose certificate comes from a CA outside the channel is
    // refused at the TLS handshake.
    let rogue_dir = tempfile::tempdir().unwrap();
    cairn_crypto::generate(
        &["Rogue".to_string()],
        rogue_dir.path(),
        &Default::default(),
    )
    .unwrap();
    let rogue =
        cairn_crypto::SigningIdentity::from_dir(&rogue_dir.path().join("rogue/users/user1"))
            .unwrap();
    let rogue_msp =
        cairn_crypto::MspConfig::load(&rogue_dir.path().join("rogue/msp.json")).unwrap();
    let mut trust = cluster.orgs();
    trust.push(rogue_msp);
    let rogue_client =
        Client::new(&TlsIdentity::new(rogue, Trust::new(&trust).unwrap()).unwrap()).unwrap();
    let err = cluster
        .rt
        .block_on(api::status(&rogue_client, &url))
        .unwrap_err();
    assert!(
        matches!(err, ClientError::Connect { .. } | ClientError::Body { .. }),
        "{err}"
    );

    // A client certificate (valid member) used on a Raft endpoint: 403.
    let user = cluster.client(&cluster.net.orgs[0].user);
    let vote = openraft::raft::VoteRequest::<u64>::new(openraft::Vote::new(99, 1), None);
    let err =
        cluster
            .rt
            .block_on(user.post::<_, Result<
                openraft::raft::VoteResponse<u64>,
                openraft::error::RaftError<u64>,
            >>(&format!("{url}/raft/vote"), &vote))
            .unwrap_err();
    assert_eq!(err.status(), Some(403), "{err}");
    // The channel's Writers policy decides who may submit: a peer's
    // envelope and Org3's client's are refused, whoever relays them.
    let peer = cluster.client(&cluster.net.orgs[0].peer);
    cluster.rt.block_on(api::status(&peer, &url)).unwrap();
    for creator in [&cluster.net.orgs[0].peer, &cluster.net.orgs[2].user] {
        let rwset = cairn_testkit::write_set("basic", &[("k", b"v")]);
        let (_, bytes) =
            cluster
                .net
                .endorsed_tx(creator, "basic", rwset, &[&cluster.net.orgs[0].peer]);
        let env = Envelope::decode(&bytes).unwrap();
        let err = cluster
            .rt
            .block_on(api::broadcast(&peer, &url, &env))
            .unwrap_err();
        assert_eq!(err.status(), Some(403), "{err}");
        assert!(err.to_string().contains(writers), "{err}");
    }
    assert_eq!(cluster.net.orgs[0].peer.identity().role(), Role::Peer);
    // A tampered envelope: its signature no longer verifies.
    let (_, mut env) = write_tx(&cluster.net, "k");
    env.signature[0] ^= 1;
    let err = cluster
        .rt
        .block_on(api::broadcast(&user, &url, &env))
        .unwrap_err();
    assert_eq!(err.status(), Some(403), "{err}");
    assert!(err.to_string().contains("signature"), "{err}");
    // An envelope for another channel.
    let (_, env) = write_tx(&cluster.net, "k");
    let Transaction::Endorsed(mut tx) = env.transaction().unwrap() else {
        unreachable!()
    };
    tx.header.channel = "other".into();
    let payload = Transaction::Endorsed(tx).encode().unwrap();
    let other = Envelope {
        signature: cluster.net.orgs[0].user.sign(&payload),
        payload,
    };
    let err = cluster
        .rt
        .block_on(api::broadcast(&user, &url, &other))
        .unwrap_err();
    assert_eq!(err.status(), Some(400), "{err}");
    // Nothing refused reached the ledger; a writer's envelope does, even
    // when a peer relays it and a follower forwards it.
    assert_eq!(cluster.ledger(0).height(), 1);
    let follower = (cluster.wait_leader(Duration::from_secs(5)) + 1) % 3;
    let (txid, env) = write_tx(&cluster.net, "ok");
    let answer = cluster
        .rt
        .block_on(api::broadcast(&peer, &cluster.url(follower), &env))
        .unwrap();
    assert_eq!((answer.txid, answer.block), (txid, 1));
}

#[test]
fn t12_envelopes_from_outside_the_channel_or_badly_signed_are_never_ordered() {
    let cluster = Cluster::start(3, BatchConfig::default(), fast_raft());
    let leader = cluster.wait_leader(Duration::from_secs(10));
    let follower = (leader + 1) % 3;
    // Org1's user relays (as a gateway would) envelopes created by others.
    let relay = cluster.client(&cluster.net.orgs[0].user);

    // A client of an org that is not on the channel signs an envelope.
    let rogue_dir = tempfile::tempdir().unwrap();
    cairn_crypto::generate(
        &["Rogue".to_string()],
        rogue_dir.path(),
        &Default::default(),
    )
    .unwrap();
    let rogue =
        cairn_crypto::SigningIdentity::from_dir(&rogue_dir.path().join("rogue/users/user1"))
            .unwrap();
    let rwset = cairn_testkit::write_set("basic", &[("k", b"v")]);
    let (_, bytes) = cluster
        .net
        .endorsed_tx(&rogue, "basic", rwset, &[&cluster.net.orgs[0].peer]);
    let outsider = Envelope::decode(&bytes).unwrap();
    // A channel member's envelope whose signature does not match its payload.
    let (_, mut forged) = write_tx(&cluster.net, "forged");
    let last = forged.signature.len() - 1;
    forged.signature[last] ^= 0x80;

    for url in [cluster.url(leader), cluster.url(follower)] {
        let err = cluster
            .rt
            .block_on(api::broadcast(&relay, &url, &outsider))
            .unwrap_err();
        assert_eq!(err.status(), Some(403), "{err}");
        let text = err.to_string();
        assert!(text.contains("creator certificate"), "{text}");
        assert!(
            text.contains("no organization in this channel has the CA"),
            "{text}"
        );
        let err = cluster
            .rt
            .block_on(api::broadcast(&relay, &url, &forged))
            .unwrap_err();
        assert_eq!(err.status(), Some(403), "{err}");
        assert!(
            err.to_string()
                .contains("signature does not verify with its creator's certificate"),
            "{err}"
        );
    }

    // Nothing was ordered: every orderer still has only the genesis block,
    // and the next valid envelope becomes block 1 holding just itself.
    std::thread::sleep(Duration::from_millis(300));
    for i in 0..3 {
        assert_eq!(cluster.ledger(i).height(), 1, "node {}", i + 1);
    }
    let define = define_basic(&cluster.net);
    let answer = cluster
        .rt
        .block_on(api::broadcast(&relay, &cluster.url(follower), &define))
        .unwrap();
    assert_eq!(answer.block, 1);
    cluster.wait_height(2, Duration::from_secs(10));
    for i in 0..3 {
        let block = cluster.ledger(i).block(1).unwrap().unwrap();
        assert_eq!(block.data, vec![define.encode().unwrap()], "node {}", i + 1);
    }

    // A forged envelope sent together with valid ones (so they may share a
    // batch): only it is refused, the others are ordered, no block holds it.
    let (_, valid) = write_tx(&cluster.net, "beside-forged");
    let leader_url = cluster.url(leader);
    let (forged_answer, valid_answer) = cluster.rt.block_on(async {
        tokio::join!(
            api::broadcast(&relay, &leader_url, &forged),
            api::broadcast(&relay, &leader_url, &valid)
        )
    });
    let err = forged_answer.unwrap_err();
    assert_eq!(err.status(), Some(403), "{err}");
    let ordered = valid_answer.unwrap();
    cluster.wait_height(ordered.block + 1, Duration::from_secs(10));
    let forged_bytes = forged.encode().unwrap();
    for i in 0..3 {
        let ledger = cluster.ledger(i);
        for n in 0..ledger.height() {
            let block = ledger.block(n).unwrap().unwrap();
            assert!(
                !block.data.contains(&forged_bytes),
                "node {} block {n}",
                i + 1
            );
        }
        let block = ledger.block(ordered.block).unwrap().unwrap();
        assert!(block.data.contains(&valid.encode().unwrap()));
    }
}

#[test]
fn t13_concurrent_broadcasts_share_blocks_and_raft_entries() {
    // A batch timeout far longer than the test may take: an idle cluster
    // must not wait for it.
    let batch = BatchConfig {
        max_tx_count: 500,
        max_bytes: 10 * 1024 * 1024,
        timeout_ms: 5_000,
    };
    let cluster = Cluster::start(3, batch, fast_raft());
    let leader = cluster.wait_leader(Duration::from_secs(10));
    let client = cluster.client(&cluster.net.orgs[0].user);
    let urls = cluster.urls();
    let define = define_basic(&cluster.net);
    let started = Instant::now();
    cluster
        .rt
        .block_on(api::broadcast(&client, &urls[leader], &define))
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "a lone envelope waited {:?}",
        started.elapsed()
    );
    let before = cluster.node(leader).status();

    let txs: Vec<_> = (0..60)
        .map(|i| write_tx(&cluster.net, &format!("many{i}")).1)
        .collect();
    let started = Instant::now();
    let answers = cluster.rt.block_on(async {
        let tasks: Vec<_> = txs
            .into_iter()
            .enumerate()
            .map(|(i, env)| {
                let (client, url) = (client.clone(), urls[i % 3].clone());
                tokio::spawn(async move { api::broadcast(&client, &url, &env).await })
            })
            .collect();
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap().unwrap());
        }
        out
    });
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "took {:?}",
        started.elapsed()
    );
    let blocks: std::collections::BTreeSet<u64> = answers.iter().map(|a| a.block).collect();
    assert!(
        blocks.len() <= 10,
        "60 concurrent envelopes took {} blocks",
        blocks.len()
    );
    // One Raft entry per block, not per envelope.
    let after = cluster.node(leader).status();
    assert_eq!(
        after.term, before.term,
        "leadership changed during the test"
    );
    assert_eq!(
        after.applied.unwrap() - before.applied.unwrap(),
        blocks.len() as u64
    );
    assert_eq!(after.height - before.height, blocks.len() as u64);
}

#[test]
fn t14_a_follower_names_the_leader_instead_of_relaying_when_asked() {
    let cluster = Cluster::start(3, BatchConfig::default(), fast_raft());
    let leader = cluster.wait_leader(Duration::from_secs(10));
    let follower = (leader + 1) % 3;
    let client = cluster.client(&cluster.net.orgs[0].user);
    let define = define_basic(&cluster.net);
    let err = cluster
        .rt
        .block_on(api::broadcast_to_leader(
            &client,
            &cluster.url(follower),
            &define,
        ))
        .unwrap_err();
    assert_eq!(err.status(), Some(api::NOT_LEADER), "{err}");
    assert_eq!(api::leader_of(&err), Some(cluster.url(leader).as_str()));
    // Nothing was relayed, so nothing was ordered: the leader still has
    // only the genesis block.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(cluster.ledger(leader).height(), 1);
    // The leader orders it; a plain broadcast to a follower is still relayed.
    let answer = cluster
        .rt
        .block_on(api::broadcast_to_leader(
            &client,
            &cluster.url(leader),
            &define,
        ))
        .unwrap();
    assert_eq!(answer.block, 1);
    let (_, tx) = write_tx(&cluster.net, "relayed");
    let relayed = cluster
        .rt
        .block_on(api::broadcast(&client, &cluster.url(follower), &tx))
        .unwrap();
    assert_eq!(relayed.block, 2);
}
