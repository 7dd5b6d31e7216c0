//! Trust boundaries of private and transient data (issue 11), over real
//! mutual TLS on the private data network of `common/pdc.rs`:
//! - a gateway sends a proposal carrying transient data only to peers of
//!   its own (and the client's) org before the first simulation, and then
//!   only to members of the collections it touches: when its org is outside
//!   the plan, and when its own endorsement fails, no other org gets it;
//! - private data and proposals go to peers by the org their certificate
//!   proves in the handshake, not by the label they are listed under: a
//!   peer of a non-member org listed under a member's label gets nothing;
//! - a push is taken only from the endorser of that transaction and only
//!   as signed; an early push with other contents does not block the
//!   right one.
//!
//! The listed-under-a-false-label peer is a recorder holding a real
//! certificate of Org2 (its second peer): it plays the adversary, taking
//! and acknowledging whatever reaches it.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::http::{Method, Uri, header};
use axum::response::IntoResponse;
use cairn_crypto::SigningIdentity;
use cairn_ledger::private::{PrivateWrite, PrivateWriteSet};
use cairn_ledger::rwset::{CollectionHashedRwSet, NsRwSet, TxRwSet};
use cairn_ledger::tx::{ContractId, ProposalResponse, ProposalResponsePayload, Response};
use cairn_net::{ClientError, TlsIdentity, Trust};
use cairn_peer::{GatewayError, KnownPeer, api, invocation};
use common::CHANNEL;
use common::pdc::*;
use rand::RngCore;

fn marker(tag: &str) -> String {
    let mut b = [0u8; 8];
    rand::rng().fill_bytes(&mut b);
    format!("{tag}-marker-{}", hex::encode(b))
}

fn refusal(e: &GatewayError) -> (u16, String) {
    match e {
        GatewayError::Call(ClientError::Status {
            status, message, ..
        }) => (*status, message.clone()),
        other => panic!("expected a refusal, got {other}"),
    }
}

const ENDORSEMENTS: &str = "cairn_peer_endorsements_total";

/// Requests seen: "METHOD /path" and the body.
type Seen = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

/// A node that records every request it gets and acknowledges it.
struct Recorder {
    urls: Vec<String>,
    seen: Seen,
}

impl Recorder {
    /// Listens on `n` addresses as `id`.
    fn start(net: &PdcNet, id: SigningIdentity, n: usize) -> Recorder {
        let seen: Seen = Arc::default();
        let tls = TlsIdentity::new(id, Trust::new(&net.all_orgs()).unwrap()).unwrap();
        let mut urls = Vec::new();
        for _ in 0..n {
            let log = seen.clone();
            let router = Router::new().fallback(move |method: Method, uri: Uri, body: Bytes| {
                let log = log.clone();
                async move {
                    log.lock()
                        .unwrap()
                        .push((format!("{method} {}", uri.path()), body.to_vec()));
                    ([(header::CONTENT_TYPE, cairn_net::POSTCARD)], Vec::new()).into_response()
                }
            });
            let listener = net
                .rt
                .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
                .unwrap();
            urls.push(format!(
                "https://127.0.0.1:{}",
                listener.local_addr().unwrap().port()
            ));
            let tls = tls.clone();
            net.rt.spawn(async move {
                let _ = cairn_net::serve(listener, &tls, router).await;
            });
        }
        Recorder { urls, seen }
    }

    fn requests(&self) -> Vec<String> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .map(|(r, _)| r.clone())
            .collect()
    }

    fn got(&self, needle: &str) -> bool {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .any(|(_, body)| contains(body, needle.as_bytes()))
    }
}

#[test]
fn t40_transient_and_private_data_reach_only_orgs_proven_in_the_handshake() {
    let mut net = PdcNet::start();
    let org2_second_peer =
        SigningIdentity::from_dir(&net.orgs.orgs[1].dir.join("peers/peer1")).unwrap();
    let rogue = Recorder::start(&net, org2_second_peer, 2);
    // Org1's peer lists Org2's certificate holder as a peer of its own org
    // and as a peer of Org3 (a member of every Org3/Org4 collection).
    net.extra_known = vec![
        KnownPeer {
            msp_id: "Org1MSP".into(),
            url: rogue.urls[0].clone(),
        },
        KnownPeer {
            msp_id: "Org3MSP".into(),
            url: rogue.urls[1].clone(),
        },
    ];
    net.kill_peer(ORG1);
    net.start_peer(ORG1);
    net.wait_peers(net.peer(ORG3).height(CHANNEL).unwrap());

    // --- Item 3: WIDE goes to every member peer known (maxPeerCount 10),
    // the one listed as Org3's included: its handshake proves Org2, so it
    // gets nothing, while the real member peers get the value.
    let wide = marker("wide");
    let w = net
        .submit(ORG1, "put", &["WIDE", "k1"], Some(wide.as_bytes()))
        .unwrap();
    net.wait_peers(w.block + 1);
    for i in [ORG3, ORG3B, ORG4] {
        assert_eq!(
            net.private_state(i, "WIDE"),
            vec![("k1".to_string(), wide.as_bytes().to_vec())],
            "member peer {i}"
        );
    }
    let failed = "cairn_peer_private_data_pushes_total{channel=\"testchannel\",collection=\"WIDE\",outcome=\"failed\"}";
    assert_eq!(
        net.metric(ORG1, failed),
        1,
        "the falsely labelled target was tried, and its handshake failed"
    );
    assert!(rogue.requests().is_empty(), "{:?}", rogue.requests());
    // The search finds the value where it is, and not at Org2.
    assert!(dir_contains(&net.data_dir(ORG3), wide.as_bytes()).is_some());
    assert_eq!(dir_contains(&net.data_dir(ORG2), wide.as_bytes()), None);

    // --- Item 1a: the gateway's org is outside the plan. `far` is the same
    // contract endorsed by Org2 alone; a transient write to PDC2 (Org3,
    // Org4) must not reach Org2.
    net.define_contract(
        "far",
        net.package_id(),
        1,
        "OR('Org2MSP.peer')",
        &collections(),
    );
    let org2_endorsed = net.metric(ORG2, ENDORSEMENTS);
    let far = marker("far");
    let transient: BTreeMap<String, Vec<u8>> =
        [("value".to_string(), far.as_bytes().to_vec())].into();
    let e = net
        .rt
        .block_on(net.user(ORG1).submit_invocation(
            invocation("far", "put", &["PDC2", "k2"]),
            transient,
            &[],
        ))
        .unwrap_err();
    let (status, message) = refusal(&e);
    assert_eq!(status, 403, "{message}");
    assert!(
        message.contains("transient data") && message.contains("name the endorsing orgs"),
        "{message}"
    );
    assert_eq!(
        net.metric(ORG2, ENDORSEMENTS),
        org2_endorsed,
        "the proposal reached Org2"
    );
    // Positive control: a public call of `far` does reach Org2's endorser.
    net.rt
        .block_on(net.user(ORG1).submit("far", "setPublic", &["p1", "v1"]))
        .unwrap();
    assert_eq!(net.metric(ORG2, ENDORSEMENTS), org2_endorsed + 1);

    // --- Item 1b: the gateway's own endorsement fails (503: REQ2 needs two
    // member peers and only Org3's first is up). The retry goes to Org1's
    // other listed peer, whose handshake proves Org2: nothing is sent, and
    // no other org is tried.
    net.kill_peer(ORG3B);
    net.kill_peer(ORG4);
    let (org2_before, org3_before) = (
        net.metric(ORG2, ENDORSEMENTS),
        net.metric(ORG3, ENDORSEMENTS),
    );
    let req2 = marker("req2");
    let e = net
        .submit(ORG1, "put", &["REQ2", "k3"], Some(req2.as_bytes()))
        .unwrap_err();
    let (status, message) = refusal(&e);
    assert_eq!(status, 503, "{message}");
    assert!(
        message.contains("the first endorser must be a peer of Org1MSP")
            && message.contains("collection REQ2")
            && message.contains("Org2MSP"),
        "names the rule, the failure, and the certificate the retry met: {message}"
    );
    assert_eq!(net.metric(ORG2, ENDORSEMENTS), org2_before);
    assert_eq!(net.metric(ORG3, ENDORSEMENTS), org3_before);
    assert_eq!(dir_contains(&net.data_dir(ORG2), req2.as_bytes()), None);
    // Positive control: Org1's own endorsement did push REQ2 to Org3 (a
    // member) before failing, and the search finds it there.
    assert!(dir_contains(&net.data_dir(ORG3), req2.as_bytes()).is_some());
    assert!(rogue.requests().is_empty(), "{:?}", rogue.requests());
    for m in [&wide, &far, &req2] {
        assert!(!rogue.got(m));
        assert!(!contains(&logs(), m.as_bytes()), "a value was logged");
    }
}

/// A push of `writes` for `proposal`, carrying an endorsement that `signer`
/// signs over a payload whose hashes are those of `writes`.
fn self_endorsed_push(
    proposal: &cairn_ledger::tx::Proposal,
    writes: &PrivateWriteSet,
    signer: &SigningIdentity,
) -> api::PushRequest {
    let collections = writes
        .collections()
        .map(|(_, c)| CollectionHashedRwSet {
            collection: c.collection.clone(),
            hashed_reads: Vec::new(),
            hashed_writes: c.writes.iter().map(PrivateWrite::hashed).collect(),
            private_rwset_hash: c.rwset_hash().unwrap(),
        })
        .collect();
    let payload = ProposalResponsePayload {
        proposal_hash: proposal.hash().unwrap(),
        contract: ContractId {
            name: CC.into(),
            version: "1".into(),
        },
        rwset: TxRwSet {
            namespaces: vec![NsRwSet {
                namespace: CC.into(),
                reads: Vec::new(),
                range_queries: Vec::new(),
                writes: Vec::new(),
                metadata_writes: Vec::new(),
                collections,
            }],
        },
        events: Vec::new(),
        response: Response {
            status: 200,
            message: String::new(),
            payload: Vec::new(),
        },
    };
    let endorsement: ProposalResponse = cairn_ledger::client::endorse(&payload, signer).unwrap();
    api::PushRequest {
        channel: CHANNEL.into(),
        txid: proposal.header.txid,
        writes: writes.clone(),
        header: proposal.header.clone(),
        invocation: proposal.invocation.clone(),
        endorsement,
    }
}

#[test]
fn t40_a_push_is_taken_only_from_its_endorser_as_signed_and_never_blocks_the_right_one() {
    let net = PdcNet::start();
    let real = marker("real");
    let bogus = marker("bogus");
    let client = net.user(ORG1);
    let transient: BTreeMap<String, Vec<u8>> =
        [("value".to_string(), real.as_bytes().to_vec())].into();
    let proposal = client.proposal(invocation(CC, "put", &["WIDE", "k1"]), transient);
    let mut fake = PrivateWriteSet::default();
    fake.insert(
        CC,
        "WIDE",
        PrivateWrite {
            key: "k1".into(),
            is_delete: false,
            is_purge: false,
            value: bogus.as_bytes().to_vec(),
        },
    );
    let org3b = SigningIdentity::from_dir(&net.orgs.orgs[2].dir.join("peers/peer1")).unwrap();
    let org3 = net.orgs.orgs[2].peer.clone();
    let as_org3b = net.client(&org3b);
    let received =
        "cairn_peer_private_data_received_total{channel=\"testchannel\",collection=\"WIDE\"}";
    let push = |req: &api::PushRequest| {
        net.rt.block_on(api::push_private(
            &as_org3b,
            &net.peer_url(ORG4),
            req,
            std::time::Duration::from_secs(10),
        ))
    };
    let forbidden = |r: Result<(), ClientError>, needle: &str| {
        let e = r.unwrap_err();
        assert_eq!(e.status(), Some(403), "{e}");
        assert!(e.to_string().contains(needle), "{needle:?} in {e}");
    };

    // Another peer's endorsement, pushed by Org3's second peer: refused.
    forbidden(
        push(&self_endorsed_push(&proposal, &fake, &org3)),
        "did not sign the endorsement it carries",
    );
    // Its own endorsement, but writes other than the ones it signed: refused.
    let mut signed_other = self_endorsed_push(&proposal, &fake, &org3b);
    signed_other.writes.namespaces[0].collections[0].writes[0].value = b"other".to_vec();
    forbidden(push(&signed_other), "do not match the hashes");
    // Its own endorsement of another proposal: refused.
    let other = client.proposal(invocation(CC, "put", &["WIDE", "k9"]), BTreeMap::new());
    let mut replayed = self_endorsed_push(&other, &fake, &org3b);
    replayed.txid = proposal.header.txid;
    replayed.header.txid = proposal.header.txid;
    forbidden(push(&replayed), "refused");
    assert_eq!(net.metric(ORG4, received), 0, "nothing refused was counted");

    // A well-formed early push of other contents (a peer that signs what it
    // pushes) is kept, but does not block the right copy: the real
    // endorsement's push is stored beside it and the commit takes the copy
    // the block's hashes name.
    push(&self_endorsed_push(&proposal, &fake, &org3b)).unwrap();
    let endorsed = net
        .rt
        .block_on(client.endorse(&proposal, &["Org1MSP".to_string()]))
        .unwrap();
    let envelope = client.assemble(&endorsed).unwrap();
    net.rt.block_on(client.submit_envelope(&envelope)).unwrap();
    let status = net
        .rt
        .block_on(client.commit_status(&proposal.header.txid, std::time::Duration::from_secs(30)))
        .unwrap();
    net.wait_peers(status.block + 1);
    // Every member peer holds the real value from the commit itself:
    // Org4 did not need reconciliation to replace a blocked copy.
    for i in [ORG3, ORG3B, ORG4] {
        assert_eq!(
            net.private_state(i, "WIDE"),
            vec![("k1".to_string(), real.as_bytes().to_vec())],
            "peer {i} holds the real value"
        );
    }
    assert_eq!(
        net.metric(ORG4, "cairn_peer_private_data_reconciled_total"),
        0,
        "Org4 committed the right copy; nothing was missing"
    );
    assert_eq!(
        net.evaluate(ORG1, "hash", &["WIDE", "k1"]).unwrap(),
        cairn_crypto::sha256(real.as_bytes()).to_hex()
    );
    assert!(!contains(&logs(), bogus.as_bytes()), "a value was logged");
}
