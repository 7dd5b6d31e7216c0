//! Faults on the in-process network: a killed peer misses blocks, is
//! restarted from its data directory, rejoins its channels and catches up
//! to the same state; the gateway fails over to another endorser while it
//! is down; killing the orderer a peer pulls from makes it fail over.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod common;

use std::time::{Duration, Instant};

use common::{CHANNEL, Net, state_map};

const WAIT: Duration = Duration::from_secs(30);

#[test]
fn t20_peer_restart_and_orderer_failover() {
    let mut net = Net::start();
    net.deploy_asset_transfer();
    let org1 = net.user(0);

    // Org3's peer dies. Org1's gateway lists it first among the others, so
    // its first plan (Org1 + Org3) fails and it must fail over to Org2.
    net.kill_peer(2);
    let mut last = 0;
    for k in 0..3 {
        let id = format!("down{k}");
        let c = net
            .rt
            .block_on(org1.submit("basic", "CreateAsset", &[&id, "grey", "1", "Ann", "5"]))
            .unwrap();
        assert_eq!(c.endorsers, ["Org1MSP", "Org2MSP"]);
        last = c.block;
    }
    net.wait_peers(last + 1, WAIT);

    // Restarted, it rejoins the channel from its data directory and catches up.
    net.start_peer(2);
    let names: Vec<String> = net.peer(2).channels().into_iter().map(|c| c.name).collect();
    assert_eq!(names, [CHANNEL]);
    net.wait_peers(last + 1, WAIT);
    let states: Vec<_> = (0..3).map(|i| state_map(&net.state(i))).collect();
    assert!(states[2].contains_key(&("basic".to_string(), "down2".to_string())));
    assert_eq!(states[0], states[2]);
    assert_eq!(states[1], states[2]);
    for n in 0..=last {
        let block = |i: usize| {
            net.peer(i)
                .ledger(CHANNEL)
                .unwrap()
                .block(n)
                .unwrap()
                .unwrap()
        };
        assert_eq!(block(0), block(2), "block {n}");
    }
    // It endorses again: a transaction only Org3 and Org2 endorse commits.
    let via3 = net
        .rt
        .block_on(org1.submit_invocation(
            cairn_peer::invocation("basic", "CreateAsset", &["back", "teal", "1", "Bo", "5"]),
            Default::default(),
            &["Org3MSP".to_string(), "Org2MSP".to_string()],
        ))
        .unwrap();
    net.wait_peers(via3.block + 1, WAIT);

    stalled_orderer(&net);

    // Kill the orderer peer 1 pulls from: it fails over to another one.
    let source = wait_source(&net, 0);
    let dead = net.orderer_index(&source);
    net.kill_orderer(dead);
    let after = net
        .rt
        .block_on(org1.submit("basic", "CreateAsset", &["failover", "red", "1", "Cy", "5"]))
        .unwrap();
    net.wait_peers(after.block + 1, WAIT);
    let now = wait_source(&net, 0);
    assert_ne!(now, source, "peer 1 still names the dead orderer");
    assert!(net.orderer_height() > after.block);
    let states: Vec<_> = (0..3).map(|i| state_map(&net.state(i))).collect();
    assert!(states[0].contains_key(&("basic".to_string(), "failover".to_string())));
    assert_eq!(states[0], states[1]);
    assert_eq!(states[0], states[2]);

    revocation_updates_tls_trust(&net);
}

/// An orderer that keeps its connections open but sends nothing while
/// the others are ahead: the peer notices and moves. Freezing its relay
/// cuts every connection *to* it (peers' deliver streams, and the leader's
/// replication if it is a follower), as a network fault would.
fn stalled_orderer(net: &Net) {
    let source = wait_source(net, 0);
    let stalled = net.orderer_index(&source);
    net.proxies[stalled].freeze(true);
    let user = net.user(0);
    // The leader's own calls go out through the others' relays, so it
    // orders with a majority whichever orderer is frozen.
    let leader = net.orderer((stalled + 1) % 3).leader().unwrap() as usize - 1;
    let block = net.rt.block_on(async {
        let proposal = user.proposal(
            cairn_peer::invocation("basic", "CreateAsset", &["stall", "ochre", "1", "Di", "5"]),
            Default::default(),
        );
        let endorsed = user.endorse(&proposal, &[]).await.unwrap();
        let envelope = user.assemble(&endorsed).unwrap();
        // Straight to the leader, not through any relay.
        cairn_orderer::api::broadcast(user.transport(), &net.orderer_url(leader), &envelope)
            .await
            .unwrap()
            .block
    });
    // Stall timeout (1.5 s) plus a status round: well within the wait.
    assert!(
        net.rt.block_on(
            net.peer(0)
                .wait_for_height(CHANNEL, block + 1, Duration::from_secs(15))
        ),
        "peer 1 did not leave the stalled orderer"
    );
    assert_ne!(wait_source(net, 0), source);
    net.proxies[stalled].freeze(false);
}

/// A config block that revokes a client certificate updates every peer's
/// TLS trust: that client's next handshake is refused.
fn revocation_updates_tls_trust(net: &Net) {
    let org2_user = &net.orgs.orgs[1].user;
    let before = net.gateway(org2_user, 0, CHANNEL);
    net.rt
        .block_on(before.evaluate("basic", "AssetExists", &["failover"]))
        .unwrap();
    let mut config = net.peer(0).ledger(CHANNEL).unwrap().config();
    config.sequence += 1;
    let org2 = config
        .orgs
        .iter_mut()
        .find(|o| o.msp_id == "Org2MSP")
        .unwrap();
    org2.revoke(org2_user.identity().serial_hex()).unwrap();
    let admins: Vec<&cairn_crypto::SigningIdentity> =
        net.orgs.orgs[..2].iter().map(|o| &o.admin).collect();
    let envelope = cairn_ledger::client::config_update(
        &config,
        admins[0],
        &admins,
        cairn_testkit::nonce(),
        cairn_ledger::ids::Timestamp::now(),
    )
    .unwrap();
    let admin = net.gateway(admins[0], 0, CHANNEL);
    let ordered = net.rt.block_on(admin.submit_envelope(&envelope)).unwrap();
    assert_eq!(
        ordered.code,
        cairn_ledger::validation::ValidationCode::Valid
    );
    net.wait_peers(ordered.block + 1, WAIT);
    for i in 0..3 {
        let after = net.gateway(org2_user, i, CHANNEL);
        let err = net
            .rt
            .block_on(after.evaluate("basic", "AssetExists", &["failover"]))
            .unwrap_err();
        assert!(
            matches!(
                err,
                cairn_peer::GatewayError::Call(cairn_net::ClientError::Connect { .. })
            ),
            "peer {i}: expected a refused handshake, got {err}"
        );
    }
    // Other clients of the org are unaffected.
    let org2_admin = net.gateway(&net.orgs.orgs[1].admin, 1, CHANNEL);
    net.rt
        .block_on(org2_admin.evaluate("basic", "AssetExists", &["failover"]))
        .unwrap();
}

/// The orderer URL peer `i` streams blocks from, once it is connected.
fn wait_source(net: &Net, i: usize) -> String {
    let start = Instant::now();
    loop {
        if let Some(url) = net.peer(i).channels()[0].orderer.clone() {
            return url;
        }
        assert!(
            start.elapsed() < WAIT,
            "peer {i} is not connected to an orderer"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
