//! The seed's AcmeChain scenario in process, on real ledgers: Org1..Org4 on
//! one channel, `PDC1 = OR('Org1MSP.member','Org2MSP.member')`,
//! `PDC2 = OR('Org3MSP.member','Org4MSP.member')` (testdata
//! `collections/acmechain.json`, defined through `_lifecycle`).
//!
//! An Org1 client's `writePDC2` endorsed on an Org1 peer commits; Org3 and
//! Org4 (given the private data, as dissemination will) hold the value;
//! Org1 and Org2 do not, down to the raw bytes of their ledger files, even
//! though the endorsing Org1 peer offers its transient copy at commit.
//! `readPDC2` on an Org1 peer fails clearly; `getPrivateDataHash` there
//! matches the value; with `memberOnlyWrite` the same write is refused.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod pdc;

use cairn_ledger::encoding::Canonical;
use cairn_ledger::private::parse_collections_config;
use cairn_ledger::validation::ValidationCode;
use pdc::*;

const MARKER: &str = "acmechain-marker-c41f7e09b2d5";
const POLICY: &str = "OR('Org1MSP.peer','Org2MSP.peer','Org3MSP.peer','Org4MSP.peer')";

#[test]
fn acmechain_write_by_a_non_member_reaches_only_members() {
    let collections = parse_collections_config(&testdata("collections/acmechain.json")).unwrap();
    let chain = Chain::new(4, collections.clone(), POLICY);
    let org1_client = &chain.net.orgs[0].user;
    let org3_client = &chain.net.orgs[2].user;
    let value = format!("{{\"secret\":\"{MARKER}\"}}");

    // Endorsement on an Org1 peer: the proposal response carries hashes only.
    let e = chain
        .invoke(
            0,
            org1_client,
            "writePDC2",
            &["k1"],
            &[("value", value.as_bytes())],
        )
        .unwrap();
    assert_eq!(
        e.simulation.response.status, 200,
        "{:?}",
        e.simulation.response
    );
    let signed = e
        .simulation
        .response_payload(&e.proposal)
        .unwrap()
        .encode()
        .unwrap();
    assert!(
        !contains(&signed, MARKER.as_bytes()),
        "the endorsement holds no cleartext"
    );
    let pdc2 = e
        .simulation
        .private_writes()
        .collection(CC, "PDC2")
        .unwrap();
    assert_eq!(pdc2.writes[0].value, value.as_bytes());

    // Commit: Org3/Org4 receive the data by dissemination; the endorsing Org1
    // peer offers its transient copy too; Org2 has nothing.
    let code = chain.commit(&e, org1_client, &[0], &[0, 2, 3]);
    assert_eq!(code, ValidationCode::Valid);

    for org in [2, 3] {
        let who = &chain.net.orgs[org].user;
        let read = chain.invoke(org, who, "readPDC2", &["k1"], &[]).unwrap();
        assert_eq!(payload(&read.simulation), value, "Org{} reads it", org + 1);
        assert!(contains(&chain.ledger_file(org), MARKER.as_bytes()));
    }
    for org in [0, 1] {
        assert!(
            !contains(&chain.ledger_file(org), MARKER.as_bytes()),
            "Org{}'s ledger file must not hold the marker",
            org + 1
        );
        assert!(
            chain.peers[org]
                .ledger
                .missing_private_data(0)
                .unwrap()
                .is_empty()
        );
    }
    assert!(!contains(
        &std::fs::read(chain.orderer.dir().join(cairn_store::LEDGER_FILE)).unwrap(),
        MARKER.as_bytes()
    ));

    // readPDC2 on an Org1 peer fails clearly.
    let err = chain
        .invoke(0, org1_client, "readPDC2", &["k1"], &[])
        .unwrap()
        .simulation;
    assert_eq!(err.response.status, 500);
    assert!(
        err.response
            .message
            .starts_with("this peer's org Org1MSP is not a member of collection PDC2"),
        "{}",
        err.response.message
    );
    // Even an Org3 client cannot read PDC2 through an Org1 peer.
    let err = chain
        .invoke(0, org3_client, "readPDC2", &["k1"], &[])
        .unwrap()
        .simulation;
    assert!(
        err.response
            .message
            .contains("not a member of collection PDC2")
    );

    // getPrivateDataHash works on the Org1 peer and matches the value.
    let hash = chain
        .invoke(0, org1_client, "hashPDC", &["PDC2", "k1"], &[])
        .unwrap();
    assert_eq!(
        payload(&hash.simulation),
        cairn_crypto::sha256(value.as_bytes()).to_hex()
    );

    // memberOnlyWrite, in sequence 2: CheckCommitReadiness sees the
    // collections differ until every org approved the new ones.
    let mut stricter = collections.clone();
    stricter[1].member_only_write = true;
    let admin1 = &chain.net.orgs[0].admin;
    let approve = chain
        .lifecycle(
            0,
            admin1,
            "ApproveChaincodeDefinitionForMyOrg",
            &chain.definition_args(2, &stricter, POLICY),
        )
        .unwrap();
    let env = chain.envelope(&approve, admin1, &[0]);
    chain.commit_block(vec![env], &Default::default(), &chain.all());
    let readiness = chain
        .lifecycle(
            0,
            admin1,
            "CheckCommitReadiness",
            &chain.definition_args(2, &collections, POLICY),
        )
        .unwrap();
    let readiness: serde_json::Value =
        serde_json::from_slice(&readiness.simulation.response.payload).unwrap();
    assert_eq!(
        readiness["mismatches"]["Org1MSP"],
        serde_json::json!(["collections"])
    );
    chain.define(2, &stricter, POLICY);

    let refused = chain
        .invoke(0, org1_client, "writePDC2", &["k2"], &[("value", b"nope")])
        .unwrap()
        .simulation;
    assert_eq!(refused.response.status, 500);
    assert!(
        refused
            .response
            .message
            .starts_with("the client's org Org1MSP may not write collection PDC2 (memberOnlyWrite"),
        "{}",
        refused.response.message
    );
    assert!(refused.private_writes().is_empty());
    // A member's client still writes through a non-member's peer.
    let code = chain.submit(
        0,
        org3_client,
        "writePDC2",
        &["k2"],
        &[("value", b"ok")],
        &[2, 3],
    );
    assert_eq!(code, ValidationCode::Valid);
}
