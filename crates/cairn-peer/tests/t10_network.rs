//! The network end to end on loopback, over real mutual TLS: deploy
//! asset-transfer with the lifecycle, submit through the gateway, evaluate,
//! events resumable from a block, endorsement policy outcomes, clients of
//! other or unknown orgs, channel isolation, the JSON API and the
//! operations service.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod common;

use std::time::Duration;

use cairn_ledger::validation::ValidationCode;
use cairn_net::ClientError;
use cairn_peer::{GatewayError, api, invocation};
use common::{CHANNEL, Net, OTHER, next_matching, state_map};

const WAIT: Duration = Duration::from_secs(20);

#[test]
fn t10_network_end_to_end() {
    let mut net = Net::start();
    net.deploy_asset_transfer();

    // --- submit through Org1's gateway; committed on all 3 peers, equal state.
    let org1 = net.user(0);
    let before = cairn_counters::snapshot();
    let created = net
        .rt
        .block_on(org1.submit(
            "basic",
            "CreateAsset",
            &["asset1", "blue", "5", "Tomoko", "300"],
        ))
        .unwrap();
    // The gateway submitted straight to the Raft leader, over the broadcast
    // stream it opened for the deployment (no request per envelope), and
    // the client's submit waited for the commit in the same call, on the
    // stream the client opened to its gateway (orderers, peers and client
    // share this process, so its counters cover them all).
    let after = cairn_counters::snapshot();
    let hops = cairn_counters::delta(&before, &after);
    assert!(
        after
            .get("served POST /broadcast/stream")
            .is_some_and(|n| *n >= 1),
        "{after:?}"
    );
    assert_eq!(hops.get("served POST /broadcast"), None, "{hops:?}");
    assert_eq!(hops.get("served POST /broadcast/stream"), None, "{hops:?}");
    assert!(hops.get("frame").is_some_and(|n| *n >= 2), "{hops:?}");
    assert_eq!(hops.get("served POST /raft/forward"), None, "{hops:?}");
    assert_eq!(
        hops.get("served POST /gateway/commit-status"),
        None,
        "{hops:?}"
    );
    // The client's calls too went over its one gateway stream.
    assert_eq!(hops.get("served POST /gateway/submit"), None, "{hops:?}");
    assert_eq!(hops.get("served POST /gateway/endorse"), None, "{hops:?}");
    assert!(
        after
            .get("served POST /gateway/stream")
            .is_some_and(|n| *n >= 1),
        "{after:?}"
    );
    assert_eq!(created.endorsers.len(), 2, "MAJORITY of 3 orgs");
    assert_eq!(
        created.endorsers[0], "Org1MSP",
        "the gateway prefers its own org"
    );
    net.wait_peers(created.block + 1, WAIT);
    let states: Vec<_> = (0..3).map(|i| state_map(&net.state(i))).collect();
    assert!(
        states[0]
            .keys()
            .any(|(ns, k)| ns == "basic" && k == "asset1")
    );
    assert_eq!(states[0], states[1]);
    assert_eq!(states[0], states[2]);

    // --- evaluate on another org's peer, no ordering.
    let height = net.peer(1).height(CHANNEL).unwrap();
    let org2 = net.user(1);
    let asset = net
        .rt
        .block_on(org2.evaluate("basic", "ReadAsset", &["asset1"]))
        .unwrap();
    let asset: serde_json::Value = serde_json::from_slice(&asset).unwrap();
    assert_eq!(asset["Owner"], "Tomoko");
    assert_eq!(
        net.peer(1).height(CHANNEL).unwrap(),
        height,
        "evaluate orders nothing"
    );
    let missing = net
        .rt
        .block_on(org2.evaluate("basic", "ReadAsset", &["nope"]))
        .unwrap_err();
    let GatewayError::Call(ClientError::Status {
        status, message, ..
    }) = &missing
    else {
        panic!("{missing}");
    };
    assert_eq!(*status, 422);
    assert!(
        message.contains("nope"),
        "the contract's message: {message}"
    );

    // --- events, resumable from a block number.
    net.rt.block_on(async {
        let mut from_start = org2
            .contract_events(0, "basic", Some("CreateAsset"))
            .await
            .unwrap();
        let first = next_matching(&mut from_start, WAIT, |_| true).await;
        assert_eq!((first.block, first.txid), (created.block, created.txid));
        let mut resumed = org2
            .contract_events(created.block + 1, "basic", None)
            .await
            .unwrap();
        let mut blocks = org2.block_events(created.block).await.unwrap();
        let b = next_matching(&mut blocks, WAIT, |_| true).await;
        assert_eq!(b.header.number, created.block);
        let mut statuses = org2.tx_events(created.block).await.unwrap();
        // One frame per block, with every transaction's outcome.
        let frame = next_matching(&mut statuses, WAIT, |_| true).await;
        assert_eq!(frame.block, created.block);
        let s = frame
            .statuses
            .iter()
            .find(|s| s.txid == Some(created.txid))
            .expect("the transaction's status is in its block's frame");
        assert_eq!((s.block, s.code), (created.block, ValidationCode::Valid));

        let moved = org1
            .submit("basic", "TransferAsset", &["asset1", "Max"])
            .await
            .unwrap();
        let e = next_matching(&mut resumed, WAIT, |_| true).await;
        assert_eq!(
            (e.block, e.txid, e.name.as_str()),
            (moved.block, moved.txid, "TransferAsset")
        );
        let payload: serde_json::Value = serde_json::from_slice(&e.payload).unwrap();
        assert_eq!(payload["to"], "Max");
        let b = next_matching(&mut blocks, WAIT, |b| b.header.number == moved.block).await;
        assert_eq!(b.metadata.validation_codes, [ValidationCode::Valid]);
    });

    // --- the unary postcard routes the stream stands for answer the same.
    let served = |route: &str| {
        cairn_counters::snapshot()
            .get(&format!("served POST {route}"))
            .copied()
            .unwrap_or(0)
    };
    let (transport, gw) = (org2.transport(), org2.gateway());
    let read = org2.proposal(
        invocation("basic", "ReadAsset", &["asset1"]),
        Default::default(),
    );
    let unary = net
        .rt
        .block_on(api::evaluate(transport, gw, &org2.sign(&read).unwrap()))
        .unwrap();
    let streamed = net
        .rt
        .block_on(org2.evaluate("basic", "ReadAsset", &["asset1"]))
        .unwrap();
    assert_eq!(unary.payload, streamed);
    let read = org2.proposal(
        invocation("basic", "ReadAsset", &["nope"]),
        Default::default(),
    );
    let e = net
        .rt
        .block_on(api::evaluate(transport, gw, &org2.sign(&read).unwrap()))
        .unwrap_err();
    assert_eq!(e.status(), Some(422), "{e}");
    assert!(e.to_string().contains("nope"), "{e}");
    let (endorses, submits) = (served("/gateway/endorse"), served("/gateway/submit"));
    let create = org2.proposal(
        invocation("basic", "CreateAsset", &["unary1", "red", "1", "Ana", "9"]),
        Default::default(),
    );
    let request = api::EndorseRequest {
        proposal: org2.sign(&create).unwrap(),
        endorsing_orgs: Vec::new(),
    };
    let r = net
        .rt
        .block_on(api::gateway_endorse(transport, gw, &request))
        .unwrap();
    let envelope = org2
        .assemble(&cairn_peer::Endorsed {
            proposal: create.clone(),
            responses: r.responses,
            result: r.result,
            endorsers: r.endorsers,
        })
        .unwrap();
    let done = net
        .rt
        .block_on(api::submit_and_wait(transport, gw, &envelope, WAIT))
        .unwrap();
    assert_eq!(done.txid, create.header.txid);
    assert_eq!(done.code, ValidationCode::Valid);
    assert_eq!(served("/gateway/endorse"), endorses + 1);
    assert_eq!(served("/gateway/submit"), submits + 1);

    // --- endorsement policy: 2 of 3 orgs commit, 1 org is refused by validation.
    let orgs2 = vec!["Org2MSP".to_string(), "Org3MSP".to_string()];
    let two = net
        .rt
        .block_on(org1.submit_invocation(
            invocation(
                "basic",
                "CreateAsset",
                &["asset2", "red", "3", "Brad", "100"],
            ),
            Default::default(),
            &orgs2,
        ))
        .unwrap();
    assert_eq!(two.endorsers, orgs2);
    let one = net
        .rt
        .block_on(org1.submit_invocation(
            invocation(
                "basic",
                "CreateAsset",
                &["asset3", "green", "3", "Jin", "100"],
            ),
            Default::default(),
            &["Org3MSP".to_string()],
        ))
        .unwrap_err();
    let GatewayError::Invalid { code, block, txid } = one else {
        panic!("expected an invalid transaction, got {one}");
    };
    assert_eq!(code, ValidationCode::EndorsementPolicyFailure);
    net.wait_peers(block + 1, WAIT);
    for i in 0..3 {
        let loc = net
            .peer(i)
            .ledger(CHANNEL)
            .unwrap()
            .tx(&txid)
            .unwrap()
            .unwrap();
        assert_eq!(
            loc.code,
            ValidationCode::EndorsementPolicyFailure,
            "peer {i}"
        );
    }
    let gone = net
        .rt
        .block_on(org2.evaluate("basic", "AssetExists", &["asset3"]))
        .unwrap();
    assert_eq!(gone, b"false");

    // --- a client of an org outside the channel: refused with a clear reason.
    net.create_other_channel();
    let org4 = net.gateway(&net.orgs.orgs[3].user, 0, CHANNEL);
    let refused = net
        .rt
        .block_on(org4.evaluate("basic", "ReadAsset", &["asset1"]))
        .unwrap_err();
    let GatewayError::Call(ClientError::Status {
        status, message, ..
    }) = &refused
    else {
        panic!("{refused}");
    };
    assert_eq!(*status, 403);
    assert!(
        message.contains("Org4MSP") && message.contains("not a member of channel testchannel"),
        "{message}"
    );
    let refused = net
        .rt
        .block_on(org4.submit("basic", "CreateAsset", &["x", "c", "1", "o", "1"]))
        .unwrap_err();
    assert!(
        refused
            .to_string()
            .contains("not a member of channel testchannel"),
        "{refused}"
    );

    // --- channels are isolated: `other` has its own ledger and no contract.
    let org1_other = net.gateway(&net.orgs.orgs[0].user, 0, OTHER);
    let not_there = net
        .rt
        .block_on(org1_other.evaluate("basic", "ReadAsset", &["asset1"]))
        .unwrap_err();
    assert!(not_there.to_string().contains("404"), "{not_there}");
    let infos = net.peer(0).channels();
    let names: Vec<&str> = infos.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, [OTHER, CHANNEL]);
    assert_eq!(infos[0].height, 1, "nothing of testchannel reached other");
    let org4_on_other = net.gateway(&net.orgs.orgs[3].user, 0, OTHER);
    let block0 = net
        .rt
        .block_on(api::block(
            org4_on_other.transport(),
            &net.peer_url(0),
            OTHER,
            0,
        ))
        .unwrap();
    assert_eq!(block0.header.channel, OTHER);
    let cross = net
        .rt
        .block_on(api::block(
            org4_on_other.transport(),
            &net.peer_url(0),
            CHANNEL,
            0,
        ))
        .unwrap_err();
    assert_eq!(cross.status(), Some(403), "{cross}");

    let listed = net
        .rt
        .block_on(api::channels(org4_on_other.transport(), &net.peer_url(0)))
        .unwrap();
    let listed: Vec<&str> = listed.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(listed, [OTHER], "Org4 is not even told testchannel exists");

    // --- only admins of the peer's own org administer it.
    let user_join = net
        .rt
        .block_on(api::join_channel(
            org1.transport(),
            &net.peer_url(0),
            &net.genesis,
        ))
        .unwrap_err();
    assert_eq!(user_join.status(), Some(403), "{user_join}");
    let org2_admin = net.client(&net.orgs.orgs[1].admin);
    let foreign = net
        .rt
        .block_on(api::installed_packages(&org2_admin, &net.peer_url(0)))
        .unwrap_err();
    let ClientError::Status {
        status, message, ..
    } = &foreign
    else {
        panic!("{foreign}");
    };
    assert_eq!(*status, 403);
    assert!(message.contains("admins of Org1MSP"), "{message}");
    let org1_admin = net.client(&net.orgs.orgs[0].admin);
    let installed = net
        .rt
        .block_on(api::installed_packages(&org1_admin, &net.peer_url(0)))
        .unwrap();
    assert_eq!(installed.len(), 1);
    assert_eq!(installed[0].label, "basic_1.0");
    let again = net
        .rt
        .block_on(api::join_channel(
            &org1_admin,
            &net.peer_url(0),
            &net.genesis,
        ))
        .unwrap_err();
    assert!(again.to_string().contains("already joined"), "{again}");

    // --- a certificate from an unknown CA fails the TLS handshake itself.
    // The rogue client trusts the channel orgs (and its own CA, or it could
    // not even load its identity); no node trusts the rogue CA.
    let mut trusted = net.all_orgs();
    trusted.push(net.rogue_msp.clone());
    let rogue =
        cairn_peer::GatewayClient::new(net.rogue.clone(), &trusted, &net.peer_url(0), CHANNEL)
            .unwrap();
    let err = net
        .rt
        .block_on(rogue.evaluate("basic", "ReadAsset", &["asset1"]))
        .unwrap_err();
    assert!(
        matches!(err, GatewayError::Call(ClientError::Connect { .. })),
        "expected a handshake failure, got {err}"
    );

    let http = json_api(&net);
    operations(&net, &http);
}

/// The HTTP/JSON API: OpenAPI document, evaluate, and the two-step signed
/// submit flow a client without Cairn's encoding uses.
fn json_api(net: &Net) -> reqwest::Client {
    let user = net.orgs.orgs[1].user.clone();
    let tls = cairn_net::TlsIdentity::new(
        user.clone(),
        cairn_net::Trust::new(&net.channel_orgs()).unwrap(),
    )
    .unwrap();
    let http = reqwest::Client::builder()
        .use_preconfigured_tls((*tls.client_config()).clone())
        .build()
        .unwrap();
    let base = net.peer_url(1);
    net.rt.block_on(async {
        let doc: serde_json::Value = http
            .get(format!("{base}/openapi.json"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(doc["paths"]["/api/v1/gateway/submit"]["post"].is_object());

        let r: serde_json::Value = http
            .post(format!("{base}/api/v1/channels/{CHANNEL}/evaluate"))
            .json(&serde_json::json!({"contract": "basic", "function": "ReadAsset", "args": ["asset1"]}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(r["text"].as_str().unwrap().contains("\"Owner\":\"Max\""), "{r}");

        let call = serde_json::json!({"contract": "basic", "function": "CreateAsset",
            "args": ["asset9", "pink", "1", "Ana", "10"]});
        let common::JsonFlow {
            prepared,
            proposal,
            submitted,
            ..
        } = common::json_submit(&http, &base, &user, &call).await;
        assert_eq!(submitted["txid"], prepared["txid"]);
        let status: serde_json::Value = http
            .get(format!(
                "{base}/api/v1/channels/{CHANNEL}/transactions/{}/status?wait_ms=10000",
                prepared["txid"].as_str().unwrap()
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(status["block"], submitted["block"]);

        // A forged signature is refused before anything runs.
        let forged = http
            .post(format!("{base}/api/v1/gateway/endorse"))
            .json(&serde_json::json!({"proposal": hex::encode(&proposal),
                "signature": hex::encode(net.orgs.orgs[0].user.sign(&proposal))}))
            .send()
            .await
            .unwrap();
        assert_eq!(forged.status(), 403);
        let body: serde_json::Value = forged.json().await.unwrap();
        assert!(body["error"].as_str().unwrap().contains("signature"), "{body}");

        let block: serde_json::Value = http
            .get(format!("{base}/api/v1/channels/{CHANNEL}/blocks/0"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(block["number"], 0);
    });
    http
}

/// `/healthz` and `/metrics` on the plain HTTP operations listener.
fn operations(net: &Net, http: &reqwest::Client) {
    let ops = net.ops_url(0);
    net.rt.block_on(async {
        let health: serde_json::Value = http
            .get(format!("{ops}/healthz"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(health["status"], "OK");
        let metrics = http
            .get(format!("{ops}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            metrics.contains(
                "cairn_peer_transactions_total{channel=\"testchannel\",code=\"ENDORSEMENT_POLICY_FAILURE\"} 1"
            ),
            "{metrics}"
        );
        assert!(metrics.contains("cairn_peer_blocks_committed_total{channel=\"testchannel\"}"));
        assert!(metrics.contains("cairn_peer_endorse_duration_seconds_count{channel=\"testchannel\"}"));
        assert!(metrics.contains("cairn_peer_endorsements_total{channel=\"testchannel\",outcome=\"endorsed\"}"));
    });
}
