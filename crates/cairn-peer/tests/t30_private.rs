//! Private data collections on a network (issue 4), end to end over real
//! mutual TLS: Org1..Org4 on one channel, `PDC1 = OR(Org1, Org2)`,
//! `PDC2 = OR(Org3, Org4)` (the seed's AcmeChain), dissemination at
//! endorsement with `requiredPeerCount` / `maxPeerCount`, commit from the
//! transient store, reconciliation after a restart, blockToLive, private
//! data events, and the gateway's choice of endorsers for collection
//! policies and private reads. See `common/pdc.rs` for the network.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod common;

use std::time::{Duration, Instant};

use cairn_ledger::private::{MissingPrivateData, PrivateWriteSet, key_hash};
use cairn_net::ClientError;
use cairn_peer::{GatewayError, api, invocation};
use common::CHANNEL;
use common::pdc::*;
use rand::RngCore;
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(20);

fn marker(tag: &str) -> String {
    let mut b = [0u8; 8];
    rand::rng().fill_bytes(&mut b);
    format!("{tag}-marker-{}", hex::encode(b))
}

/// The status and message of a refused call.
fn refusal(e: &GatewayError) -> (u16, String) {
    match e {
        GatewayError::Call(ClientError::Status {
            status, message, ..
        }) => (*status, message.clone()),
        other => panic!("expected a refusal, got {other}"),
    }
}

/// Waits until `cond` holds (polling), or fails with `what`.
fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < WAIT, "{what} did not happen in {WAIT:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn t30_acmechain_over_the_network() {
    let net = PdcNet::start();
    let secret = marker("acmechain");
    let value = format!("{{\"secret\":\"{secret}\"}}");
    let from = net.peer(ORG3).height(CHANNEL).unwrap();
    // An Org1 client subscribed on an Org3 peer gets nothing of PDC2 either.
    let org1_on_org3 = net.gateway(&net.orgs.orgs[0].user, ORG3);
    let (mut org3_events, mut org1_events, mut org1_on_org3_events) = net.rt.block_on(async {
        (
            net.user(ORG3).private_block_events(from).await.unwrap(),
            net.user(ORG1).private_block_events(from).await.unwrap(),
            org1_on_org3.private_block_events(from).await.unwrap(),
        )
    });

    // --- An Org1 client writes PDC2 through an Org1 peer: it commits.
    let written = net
        .submit(ORG1, "writePDC2", &["k1"], Some(value.as_bytes()))
        .unwrap();
    assert_eq!(written.endorsers, ["Org1MSP"], "the contract's OR policy");
    net.wait_peers(written.block + 1);

    // Readable on every member peer (Org3's two, Org4's).
    for i in [ORG3, ORG3B, ORG4] {
        assert_eq!(
            net.evaluate(i, "readPDC2", &["k1"]).unwrap(),
            value,
            "peer {i}"
        );
        // Moved once the block is durable (peers defer most commits).
        assert_eq!(transient_settles(&net, i, 0), Some(0), "moved at commit");
    }
    // Nowhere in Org1's or Org2's storage, and the search does find it on Org3's.
    for i in [ORG1, ORG2] {
        assert_eq!(
            dir_contains(&net.data_dir(i), secret.as_bytes()),
            None,
            "peer {i}"
        );
        assert_eq!(net.peer(i).transient_entries(CHANNEL), Some(0));
    }
    assert!(dir_contains(&net.data_dir(ORG3), secret.as_bytes()).is_some());

    // readPDC2 on the Org1 peer fails clearly, without the value.
    let e = net.evaluate(ORG1, "readPDC2", &["k1"]).unwrap_err();
    let (status, message) = refusal(&e);
    assert_eq!(status, 422, "{message}");
    assert!(
        message.contains("Org1MSP is not a member of collection PDC2"),
        "{message}"
    );
    assert!(!message.contains(&secret));
    // getPrivateDataHash on the Org1 peer matches the value.
    assert_eq!(
        net.evaluate(ORG1, "hash", &["PDC2", "k1"]).unwrap(),
        cairn_crypto::sha256(value.as_bytes()).to_hex()
    );
    // The JSON API of Org1's and Org2's peers: block, transaction, query.
    let http = net.http();
    for i in [ORG1, ORG2] {
        let base = net.peer_url(i);
        let answers: Vec<String> = net.rt.block_on(async {
            let mut out = Vec::new();
            for path in [
                format!("/api/v1/channels/{CHANNEL}/blocks/{}", written.block),
                format!("/api/v1/channels/{CHANNEL}/transactions/{}", written.txid),
            ] {
                let r = http.get(format!("{base}{path}")).send().await.unwrap();
                assert!(r.status().is_success(), "{path}");
                out.push(r.text().await.unwrap());
            }
            let r = http
                .post(format!("{base}/api/v1/channels/{CHANNEL}/evaluate"))
                .json(&serde_json::json!({"contract": CC, "function": "readPDC2", "args": ["k1"]}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 422);
            out.push(r.text().await.unwrap());
            out
        });
        for a in answers {
            assert!(!a.contains(&secret), "peer {i} answered {a}");
        }
    }

    // Nor in any node's log (debug level), which did record the dissemination.
    let logged = logs();
    assert!(contains(&logged, b"private data disseminated"));
    assert!(!contains(&logged, secret.as_bytes()), "a value was logged");

    // --- Peer-to-peer endpoints: a fetch answers only collections of the
    // CALLER's org; a push of another org's collection is refused; clients
    // may not call them at all.
    let loc = net
        .peer(ORG3)
        .ledger(CHANNEL)
        .unwrap()
        .tx(&written.txid)
        .unwrap()
        .unwrap();
    let fetch = api::FetchRequest {
        channel: CHANNEL.into(),
        wanted: vec![MissingPrivateData {
            block: loc.block,
            tx: loc.index,
            namespace: CC.into(),
            collection: "PDC2".into(),
            key_hashes: vec![key_hash("k1")],
        }],
    };
    let as_peer = |org: usize| net.client(&net.orgs.orgs[org].peer);
    let (by_org4, by_org1) = net.rt.block_on(async {
        let url = net.peer_url(ORG3);
        (
            api::fetch_private(&as_peer(3), &url, &fetch, WAIT)
                .await
                .unwrap(),
            api::fetch_private(&as_peer(0), &url, &fetch, WAIT)
                .await
                .unwrap(),
        )
    });
    assert_eq!(by_org4.len(), 1);
    let got = by_org4[0].writes.collection(CC, "PDC2").unwrap();
    assert_eq!(got.writes[0].value, value.as_bytes());
    assert!(by_org1.is_empty(), "Org1 is not a member of PDC2");
    let mut pdc2 = PrivateWriteSet::default();
    pdc2.insert(CC, "PDC2", got.writes[0].clone());
    // The transaction's own endorsement (Org1's), pushed again by Org3's
    // peer, which did not sign it.
    let tx = net.endorsed_tx(ORG3, &written.txid);
    let push = api::PushRequest {
        channel: CHANNEL.into(),
        txid: written.txid,
        writes: pdc2,
        header: tx.header.clone(),
        invocation: tx.invocation.clone(),
        endorsement: cairn_ledger::tx::ProposalResponse {
            payload: tx.response_payload.clone(),
            endorsement: tx.endorsements[0].clone(),
        },
    };
    net.rt.block_on(async {
        let e = api::push_private(&as_peer(2), &net.peer_url(ORG2), &push, WAIT)
            .await
            .unwrap_err();
        let ClientError::Status {
            status, message, ..
        } = &e
        else {
            panic!("{e}")
        };
        assert_eq!(*status, 403);
        assert!(
            message.contains("did not sign the endorsement it carries"),
            "{message}"
        );
        let user = net.client(&net.orgs.orgs[2].user);
        let e = api::push_private(&user, &net.peer_url(ORG4), &push, WAIT)
            .await
            .unwrap_err();
        assert!(matches!(e, ClientError::Status { status: 403, .. }), "{e}");
    });
    assert_eq!(dir_contains(&net.data_dir(ORG2), secret.as_bytes()), None);

    // --- Private data events: Org3 gets PDC2's write, Org1 does not.
    let pdc1_secret = marker("pdc1");
    let pdc1 = net
        .submit(ORG1, "writePDC1", &["k2"], Some(pdc1_secret.as_bytes()))
        .unwrap();
    net.rt.block_on(async {
        let e = common::next_matching(&mut org3_events, WAIT, |e| {
            e.block.header.number == written.block
        })
        .await;
        let (_, writes) = &e.private[0];
        let pdc2 = writes.collection(CC, "PDC2").unwrap();
        assert_eq!(pdc2.writes[0].value, value.as_bytes());
        let e = common::next_matching(&mut org3_events, WAIT, |e| {
            e.block.header.number == pdc1.block
        })
        .await;
        assert!(e.private.is_empty(), "Org3 is not a member of PDC1");
        let e = common::next_matching(&mut org1_events, WAIT, |e| {
            e.block.header.number == written.block
        })
        .await;
        assert!(e.private.is_empty(), "Org1 is not a member of PDC2");
        let e = common::next_matching(&mut org1_on_org3_events, WAIT, |e| {
            e.block.header.number == written.block
        })
        .await;
        assert!(
            e.private.is_empty(),
            "an Org3 peer holds PDC2, Org1 may not get it"
        );
        let e = common::next_matching(&mut org1_events, WAIT, |e| {
            e.block.header.number == pdc1.block
        })
        .await;
        let (_, writes) = &e.private[0];
        assert_eq!(writes.collections().count(), 1);
        assert_eq!(
            writes.collection(CC, "PDC1").unwrap().writes[0].value,
            pdc1_secret.as_bytes()
        );
    });

    // --- Gateway: a collection's policy replaces the contract's. EP34 needs
    // Org3 and Org4 although the contract's policy is any one org.
    let ep = net
        .submit(ORG1, "put", &["EP34", "k3"], Some(b"needs-two"))
        .unwrap();
    assert!(
        ep.endorsers.contains(&"Org3MSP".to_string())
            && ep.endorsers.contains(&"Org4MSP".to_string()),
        "{:?}",
        ep.endorsers
    );
    // Transient data goes only to member orgs beyond the gateway's own (as
    // Fabric's gateway does): TRN (held by Org3, Org4) takes any two
    // endorsers, and Org2 would otherwise be preferred as the second.
    let trn = net
        .submit(ORG1, "put", &["TRN", "k6"], Some(b"for-members"))
        .unwrap();
    assert_eq!(trn.endorsers[0], "Org1MSP");
    assert_eq!(trn.endorsers.len(), 2);
    assert!(
        !trn.endorsers.contains(&"Org2MSP".to_string()),
        "{:?}",
        trn.endorsers
    );
    // When member orgs cannot satisfy the policy, the gateway refuses, saying why.
    let e = net
        .submit(ORG1, "put", &["TRN12", "k7"], Some(b"nobody"))
        .unwrap_err();
    let (_, message) = refusal(&e);
    assert!(
        message.contains("member of collection(s) TRN12") && message.contains("transient data"),
        "{message}"
    );
    // A private read needs endorsers of member orgs: Org3 copies PDC2 → ALL2
    // (2 orgs must endorse); Org1 and Org2 cannot read PDC2, so Org4 is chosen.
    net.submit(ORG3, "writePDC2", &["k4"], Some(b"shared-later"))
        .unwrap();
    let copied = net
        .submit(ORG3, "copy", &["PDC2", "k4", "ALL2"], None)
        .unwrap();
    let mut endorsers = copied.endorsers.clone();
    endorsers.sort();
    assert_eq!(endorsers, ["Org3MSP", "Org4MSP"]);
    net.wait_peers(copied.block + 1);
    assert_eq!(
        net.evaluate(ORG1, "get", &["ALL2", "k4"]).unwrap(),
        "shared-later"
    );

    // --- The JSON API takes transient data; the transaction the client
    // signs carries only hashes.
    let json_value = marker("json");
    let base = net.peer_url(ORG1);
    let user = net.orgs.orgs[0].user.clone();
    let (txid, tx) = net.rt.block_on(async {
        let call = serde_json::json!({"contract": CC, "function": "writePDC2",
            "args": ["kj"], "transient": {"value": json_value}});
        let flow = common::json_submit(&http, &base, &user, &call).await;
        let (submitted, tx) = (flow.submitted, flow.tx);
        (submitted["txid"].as_str().unwrap().to_string(), tx)
    });
    assert!(
        !contains(&tx, json_value.as_bytes()),
        "only hashes in {txid}"
    );
    eventually("Org4 committing the JSON write", || {
        net.evaluate(ORG4, "readPDC2", &["kj"])
            .is_ok_and(|v| v == json_value)
    });

    // --- memberOnlyWrite: Org1's client may no longer write PDC2.
    let mut stricter = collections();
    stricter[1]["memberOnlyWrite"] = Value::Bool(true);
    net.define(2, &stricter);
    let e = net
        .submit(ORG1, "writePDC2", &["k5"], Some(b"refused"))
        .unwrap_err();
    let (_, message) = refusal(&e);
    assert!(
        message.contains("Org1MSP may not write collection PDC2 (memberOnlyWrite"),
        "{message}"
    );
    net.submit(ORG3, "writePDC2", &["k5"], Some(b"a member writes"))
        .unwrap();
    let logged = logs();
    for value in [&secret, &pdc1_secret, &json_value] {
        assert!(!contains(&logged, value.as_bytes()), "{value} was logged");
    }
}

#[test]
fn t30_dissemination_limits_and_reconciliation() {
    let mut net = PdcNet::start();
    let delivered = "cairn_peer_private_data_pushes_total{channel=\"testchannel\",collection=\"MAX1\",outcome=\"delivered\"}";
    let received =
        "cairn_peer_private_data_received_total{channel=\"testchannel\",collection=\"MAX1\"}";

    // --- maxPeerCount 1: each write goes to exactly one of the 3 member
    // peers; the other two reconcile it from there.
    for k in ["m1", "m2", "m3"] {
        net.submit(ORG1, "put", &["MAX1", k], Some(format!("v-{k}").as_bytes()))
            .unwrap();
    }
    assert_eq!(net.metric(ORG1, delivered), 3);
    let total: u64 = (0..PEERS.len()).map(|i| net.metric(i, received)).sum();
    assert_eq!(total, 3, "3 writes, at most one delivery each");
    for i in [ORG1, ORG2] {
        assert_eq!(net.metric(i, received), 0, "never to a non-member");
    }
    eventually("every MAX1 member holding the 3 values", || {
        [ORG3, ORG3B, ORG4]
            .iter()
            .all(|i| net.private_state(*i, "MAX1").len() == 3)
    });
    assert_eq!(
        net.private_state(ORG3, "MAX1"),
        net.private_state(ORG4, "MAX1")
    );

    // --- requiredPeerCount 2 with two of the three member peers down.
    net.kill_peer(ORG3B);
    net.kill_peer(ORG4);
    let e = net
        .submit(ORG1, "put", &["REQ2", "r1"], Some(b"unreachable"))
        .unwrap_err();
    let (status, message) = refusal(&e);
    assert_eq!(status, 503, "{message}");
    assert!(
        message.contains("collection REQ2")
            && message.contains("reached 1 of the 2 peer(s) its requiredPeerCount asks for"),
        "{message}"
    );

    // --- A member peer down during a write reconciles after its restart.
    let secret = marker("reconcile");
    let w = net
        .submit(ORG1, "writePDC2", &["k1"], Some(secret.as_bytes()))
        .unwrap();
    net.wait_peers(w.block + 1);
    assert_eq!(net.private_state(ORG3, "PDC2").len(), 1);
    net.start_peer(ORG3B);
    net.start_peer(ORG4);
    net.wait_peers(w.block + 1);
    eventually("Org3's second peer and Org4's reconciling PDC2", || {
        net.private_state(ORG3B, "PDC2") == net.private_state(ORG3, "PDC2")
            && net.private_state(ORG4, "PDC2") == net.private_state(ORG3, "PDC2")
    });
    assert_eq!(
        net.private_state(ORG3B, "PDC2"),
        vec![("k1".to_string(), secret.as_bytes().to_vec())]
    );
    assert!(
        net.metric(ORG3B, "cairn_peer_private_data_reconciled_total") >= 1,
        "fetched by reconciliation"
    );
    assert!(
        net.peer(ORG3B)
            .ledger(CHANNEL)
            .unwrap()
            .missing_private_data(0)
            .unwrap()
            .is_empty()
    );
    assert_eq!(net.evaluate(ORG3B, "readPDC2", &["k1"]).unwrap(), secret);
    assert!(!contains(&logs(), secret.as_bytes()), "a value was logged");
}

#[test]
fn t30_block_to_live() {
    let mut net = PdcNet::start();
    let secret = marker("btl");
    let w = net
        .submit(ORG1, "put", &["PDC3", "k1"], Some(secret.as_bytes()))
        .unwrap();
    net.wait_peers(w.block + 1);
    let hash = cairn_crypto::sha256(secret.as_bytes()).to_hex();
    let members = [ORG3, ORG3B, ORG4];

    // A transaction endorsed but never submitted: its private data waits in
    // the members' transient stores (across a restart) until the retention
    // of 3 blocks runs out.
    let org1 = net.user(ORG1);
    let proposal = org1.proposal(
        invocation(CC, "put", &["PDC3", "never"]),
        [("value".to_string(), b"never committed".to_vec())].into(),
    );
    net.rt.block_on(org1.endorse(&proposal, &[])).unwrap();
    for i in members {
        assert_eq!(transient_settles(&net, i, 1), Some(1), "peer {i}");
    }
    assert_eq!(
        net.peer(ORG1).transient_entries(CHANNEL),
        Some(0),
        "not a member"
    );
    net.kill_peer(ORG4);
    net.start_peer(ORG4);
    assert_eq!(
        net.peer(ORG4).transient_entries(CHANNEL),
        Some(1),
        "kept on disk"
    );

    // Fabric's rule: data written in block b lives through block b + 3 and
    // is purged when block b + 4 commits.
    for n in 1..=4u64 {
        for i in members {
            assert_eq!(
                net.evaluate(i, "get", &["PDC3", "k1"]).unwrap(),
                secret,
                "peer {i} after {n} block(s)"
            );
        }
        let b = net
            .submit(ORG1, "setPublic", &["tick", &n.to_string()], None)
            .unwrap();
        net.wait_peers(b.block + 1);
        assert_eq!(b.block, w.block + n);
    }
    for i in members {
        assert_eq!(transient_settles(&net, i, 0), Some(0), "purged: peer {i}");
    }
    let gone = |net: &PdcNet| {
        for i in members {
            let e = net.evaluate(i, "get", &["PDC3", "k1"]).unwrap_err();
            assert!(
                refusal(&e).1.contains("k1 does not exist in PDC3"),
                "peer {i}"
            );
            assert!(net.private_state(i, "PDC3").is_empty(), "peer {i}");
            // The hash stays on every peer.
            assert_eq!(net.evaluate(i, "hash", &["PDC3", "k1"]).unwrap(), hash);
        }
        assert_eq!(net.evaluate(ORG1, "hash", &["PDC3", "k1"]).unwrap(), hash);
    };
    gone(&net);
    // A restart does not bring it back (reconciliation included).
    net.kill_peer(ORG3);
    net.start_peer(ORG3);
    std::thread::sleep(Duration::from_millis(800));
    gone(&net);
}

const TRANSFER: &str = "transfer";

fn transfer_call(
    net: &PdcNet,
    i: usize,
    function: &str,
    args: &[&str],
    transient: &[(&str, &[u8])],
) -> Result<cairn_peer::Committed, GatewayError> {
    let t = transient
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_vec()))
        .collect();
    net.rt.block_on(
        net.user(i)
            .submit_invocation(invocation(TRANSFER, function, args), t, &[]),
    )
}

fn transfer_query(
    net: &PdcNet,
    i: usize,
    function: &str,
    args: &[&str],
    transient: &[(&str, &[u8])],
) -> Result<String, GatewayError> {
    let user = net.user(i);
    let t = transient
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_vec()))
        .collect();
    let p = user.proposal(invocation(TRANSFER, function, args), t);
    net.rt
        .block_on(user.evaluate_proposal(&p))
        .map(|r| String::from_utf8(r.payload).unwrap())
}

/// The issue's transfer flow with Fabric's JavaScript API (the contract
/// tests' `private-transfer`): the asset's shared part in `assetCollection`
/// (Org1, Org2), each owner's valuation in its implicit org collection, and
/// the hand-over decided by comparing the buyer's hash on the ledger with
/// the seller's own valuation. Every endorsement is chosen by the gateway.
#[test]
fn t30_transfer_by_hash_with_implicit_collections() {
    let net = PdcNet::start();
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../cairn-contract/tests/contracts/private-transfer"
    );
    let id = net.install_package(std::path::Path::new(dir), "transfer_1");
    let collections = vec![serde_json::json!({
        "name": "assetCollection", "policy": "OR('Org1MSP.member', 'Org2MSP.member')",
        "requiredPeerCount": 0, "maxPeerCount": 1, "blockToLive": 0,
        "memberOnlyRead": true, "memberOnlyWrite": true})];
    net.define_contract(
        TRANSFER,
        &id,
        1,
        "OR('Org1MSP.peer','Org2MSP.peer')",
        &collections,
    );
    let color = marker("color");
    let props = format!(
        r#"{{"objectType":"asset","assetID":"asset1","color":"{color}","size":5,"appraisedValue":300}}"#
    );
    let created = transfer_call(
        &net,
        ORG1,
        "CreateAsset",
        &[],
        &[("asset_properties", props.as_bytes())],
    )
    .unwrap();
    assert_eq!(created.endorsers, ["Org1MSP"]);
    net.wait_peers(created.block + 1);
    let asset: Value =
        serde_json::from_str(&transfer_query(&net, ORG2, "ReadAsset", &["asset1"], &[]).unwrap())
            .unwrap();
    assert_eq!(
        (asset["ownerOrg"].as_str(), asset["color"].as_str()),
        (Some("Org1MSP"), Some(color.as_str()))
    );
    // Only Org1 and Org2 hold the asset.
    for i in [ORG3, ORG3B, ORG4] {
        assert_eq!(
            dir_contains(&net.data_dir(i), color.as_bytes()),
            None,
            "peer {i}"
        );
    }
    assert!(dir_contains(&net.data_dir(ORG2), color.as_bytes()).is_some());

    // The buyer checks what the seller told it against the ledger's hash.
    let told = br#"{"assetID":"asset1","appraisedValue":300}"#;
    let check = transfer_query(
        &net,
        ORG2,
        "VerifyValuation",
        &["Org1MSP"],
        &[("valuation", told)],
    );
    assert_eq!(check.unwrap(), "true");

    // A buyer valuing it differently: the seller's transfer is refused.
    let low = br#"{"assetID":"asset1","appraisedValue":250}"#;
    let agreed =
        transfer_call(&net, ORG2, "AgreeToTransfer", &[], &[("asset_value", low)]).unwrap();
    net.wait_peers(agreed.block + 1);
    let owner = br#"{"assetID":"asset1","buyerMSP":"Org2MSP"}"#;
    let e = transfer_call(&net, ORG1, "TransferAsset", &[], &[("asset_owner", owner)]).unwrap_err();
    let (_, message) = refusal(&e);
    assert!(
        message.contains("valuations of asset1 by Org1MSP and Org2MSP differ"),
        "{message}"
    );

    // The same valuation: the hashes match, the asset moves.
    let same = br#"{"assetID":"asset1","appraisedValue":300}"#;
    let agreed =
        transfer_call(&net, ORG2, "AgreeToTransfer", &[], &[("asset_value", same)]).unwrap();
    net.wait_peers(agreed.block + 1);
    let moved = transfer_call(&net, ORG1, "TransferAsset", &[], &[("asset_owner", owner)]).unwrap();
    assert_eq!(
        moved.endorsers,
        ["Org1MSP"],
        "only Org1 holds its valuation"
    );
    net.wait_peers(moved.block + 1);
    let asset: Value =
        serde_json::from_str(&transfer_query(&net, ORG2, "ReadAsset", &["asset1"], &[]).unwrap())
            .unwrap();
    assert_eq!(asset["ownerOrg"], "Org2MSP");
    assert_eq!(
        transfer_query(&net, ORG1, "ReadValuation", &["Org1MSP", "asset1"], &[]).unwrap(),
        "",
        "the seller's valuation was deleted"
    );
    assert_eq!(
        transfer_query(&net, ORG2, "ReadValuation", &["Org2MSP", "asset1"], &[]).unwrap(),
        String::from_utf8(same.to_vec()).unwrap()
    );
    // Org2's first valuation never reached Org1's peer; Org2 keeps it in
    // its private history.
    assert_eq!(
        dir_contains(&net.data_dir(ORG1), br#""appraisedValue":250"#),
        None
    );
    assert!(dir_contains(&net.data_dir(ORG2), br#""appraisedValue":250"#).is_some());
    assert!(!contains(&logs(), color.as_bytes()), "a value was logged");
}

/// Peer `i`'s transient entries once they reach `want` (within 5 s; a
/// committed block's entries leave when the block is durable, which a peer
/// may defer until it is idle), or as they are then.
fn transient_settles(net: &PdcNet, i: usize, want: u64) -> Option<u64> {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let n = net.peer(i).transient_entries(CHANNEL);
        if n == Some(want) || std::time::Instant::now() >= deadline {
            return n;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
