//! Private data through Fabric's JavaScript API (`contracts/private-transfer`
//! in this crate's tests), on two orgs with real ledgers: the transfer flow
//! that hands an asset over by comparing hashes across collections, and the
//! stub's private data methods with the seed's access rules.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod pdc;

use cairn_ledger::lifecycle::CollectionConfig;
use cairn_ledger::validation::ValidationCode;
use pdc::*;
use serde_json::{Value, json};

const POLICY: &str = "OR('Org1MSP.peer','Org2MSP.peer')";

fn collections() -> Vec<CollectionConfig> {
    serde_json::from_value(json!([
        { "name": "assetCollection", "policy": "OR('Org1MSP.member', 'Org2MSP.member')",
          "requiredPeerCount": 0, "maxPeerCount": 1, "blockToLive": 0,
          "memberOnlyRead": true, "memberOnlyWrite": true },
        { "name": "PDC1", "policy": "OR('Org1MSP.member')", "memberOnlyRead": true },
        { "name": "PDC2", "policy": "OR('Org1MSP.member', 'Org2MSP.member')", "blockToLive": 2 }
    ]))
    .unwrap()
}

fn json_of(e: &Endorsed) -> Value {
    serde_json::from_str(&payload(&e.simulation)).unwrap()
}

fn message(e: &Endorsed) -> String {
    assert_eq!(
        e.simulation.response.status, 500,
        "{:?}",
        e.simulation.response
    );
    e.simulation.response.message.clone()
}

#[test]
fn transfer_flow_hands_an_asset_over_by_hash() {
    let chain = Chain::new(2, collections(), POLICY);
    let (seller, buyer) = (&chain.net.orgs[0].user, &chain.net.orgs[1].user);
    let props = br#"{"objectType":"asset","assetID":"asset1","color":"blue","size":5,"appraisedValue":300}"#;
    let both = [0, 1];
    assert_eq!(
        chain.submit(
            0,
            seller,
            "CreateAsset",
            &[],
            &[("asset_properties", props)],
            &both
        ),
        ValidationCode::Valid
    );
    // The shared part is on both orgs; the valuation only with the owner.
    let asset = json_of(
        &chain
            .invoke(1, buyer, "ReadAsset", &["asset1"], &[])
            .unwrap(),
    );
    assert_eq!(asset["ownerOrg"], "Org1MSP");
    assert_eq!(asset["color"], "blue");
    let mine = chain
        .invoke(0, seller, "ReadValuation", &["Org1MSP", "asset1"], &[])
        .unwrap();
    assert_eq!(
        payload(&mine.simulation),
        r#"{"assetID":"asset1","appraisedValue":300}"#
    );
    let theirs = chain
        .invoke(1, buyer, "ReadValuation", &["Org1MSP", "asset1"], &[])
        .unwrap();
    assert!(message(&theirs).starts_with(
        "this peer's org Org2MSP is not a member of collection _implicit_org_Org1MSP"
    ));

    // The buyer checks what the seller told it against the ledger's hash.
    let told = br#"{"assetID":"asset1","appraisedValue":300}"#;
    let check = chain
        .invoke(
            1,
            buyer,
            "VerifyValuation",
            &["Org1MSP"],
            &[("valuation", told)],
        )
        .unwrap();
    assert_eq!(payload(&check.simulation), "true");
    let lie = br#"{"assetID":"asset1","appraisedValue":299}"#;
    let check = chain
        .invoke(
            1,
            buyer,
            "VerifyValuation",
            &["Org1MSP"],
            &[("valuation", lie)],
        )
        .unwrap();
    assert_eq!(payload(&check.simulation), "false");

    // A buyer that values it differently: the seller's transfer is refused.
    let low = br#"{"assetID":"asset1","appraisedValue":250}"#;
    assert_eq!(
        chain.submit(
            1,
            buyer,
            "AgreeToTransfer",
            &[],
            &[("asset_value", low)],
            &both
        ),
        ValidationCode::Valid
    );
    let owner = br#"{"assetID":"asset1","buyerMSP":"Org2MSP"}"#;
    let refused = chain
        .invoke(0, seller, "TransferAsset", &[], &[("asset_owner", owner)])
        .unwrap();
    assert!(
        message(&refused).contains("valuations of asset1 by Org1MSP and Org2MSP differ"),
        "{}",
        message(&refused)
    );

    // Agreement on the same valuation: the hashes match, the asset moves.
    let same = br#"{"assetID":"asset1","appraisedValue":300}"#;
    assert_eq!(
        chain.submit(
            1,
            buyer,
            "AgreeToTransfer",
            &[],
            &[("asset_value", same)],
            &both
        ),
        ValidationCode::Valid
    );
    assert_eq!(
        chain.submit(
            0,
            seller,
            "TransferAsset",
            &[],
            &[("asset_owner", owner)],
            &both
        ),
        ValidationCode::Valid
    );
    let asset = json_of(
        &chain
            .invoke(1, buyer, "ReadAsset", &["asset1"], &[])
            .unwrap(),
    );
    assert_eq!(asset["ownerOrg"], "Org2MSP");
    assert_eq!(asset["owner"], buyer_id(&chain));
    let gone = chain
        .invoke(0, seller, "ReadValuation", &["Org1MSP", "asset1"], &[])
        .unwrap();
    assert_eq!(
        payload(&gone.simulation),
        "",
        "the seller's valuation was deleted"
    );
    let kept = chain
        .invoke(1, buyer, "ReadValuation", &["Org2MSP", "asset1"], &[])
        .unwrap();
    assert_eq!(
        payload(&kept.simulation),
        r#"{"assetID":"asset1","appraisedValue":300}"#
    );
    // Org1's ledger never held Org2's first valuation, although every
    // private write set was offered to both ledgers at commit; Org2 keeps it
    // in its history.
    assert!(!contains(&chain.ledger_file(0), br#""appraisedValue":250"#));
    assert!(contains(&chain.ledger_file(1), br#""appraisedValue":250"#));
}

fn buyer_id(chain: &Chain) -> String {
    cairn_contract::CreatorInfo::from_identity(chain.net.orgs[1].user.identity())
        .id()
        .to_owned()
}

#[test]
fn stub_private_data_methods_follow_fabric() {
    let chain = Chain::new(2, collections(), POLICY);
    let (c1, c2) = (&chain.net.orgs[0].user, &chain.net.orgs[1].user);
    for key in ["a", "b", "c"] {
        let v = format!("value-{key}");
        assert_eq!(
            chain.submit(0, c1, "writePDC1", &[key], &[("value", v.as_bytes())], &[0]),
            ValidationCode::Valid
        );
    }
    let range = json_of(
        &chain
            .invoke(0, c1, "rangePDC", &["PDC1", "a", "c"], &[])
            .unwrap(),
    );
    assert_eq!(
        range,
        json!([{"key": "a", "value": "value-a"}, {"key": "b", "value": "value-b"}])
    );
    for (color, id) in [("blue", "x1"), ("red", "x3"), ("blue", "x2")] {
        assert_eq!(
            chain.submit(0, c1, "indexPDC", &["PDC2", color, id], &[], &[0, 1]),
            ValidationCode::Valid
        );
    }
    let blue = json_of(
        &chain
            .invoke(1, c2, "byColorPDC", &["PDC2", "blue"], &[])
            .unwrap(),
    );
    assert_eq!(blue, json!(["x1", "x2"]));

    // memberOnlyRead refuses a client of a non-member org, even on a member peer.
    let err = chain.invoke(0, c2, "readPDC1", &["a"], &[]).unwrap();
    assert!(
        message(&err)
            .starts_with("the client's org Org2MSP may not read collection PDC1 (memberOnlyRead"),
        "{}",
        message(&err)
    );
    // A non-member peer may endorse a write (without memberOnlyWrite), and
    // its answer equals a member peer's: hashes only.
    let w = chain
        .invoke(0, c1, "writePDC1", &["d"], &[("value", b"value-d")])
        .unwrap();
    let on_non_member = chain.endorse_also(&w, 1, c1);
    assert_eq!(on_non_member.rwset, w.simulation.rwset);
    assert_eq!(
        on_non_member.private_writes(),
        w.simulation.private_writes()
    );
    assert!(
        !format!("{:?}", w.simulation).contains("value-d"),
        "Debug must not print private values"
    );

    // Delete and purge.
    assert_eq!(
        chain.submit(0, c1, "deletePDC", &["PDC1", "a"], &[], &[0]),
        ValidationCode::Valid
    );
    assert_eq!(
        chain.submit(0, c1, "purgePDC", &["PDC1", "b"], &[], &[0]),
        ValidationCode::Valid
    );
    for key in ["a", "b"] {
        assert!(
            message(&chain.invoke(0, c1, "readPDC1", &[key], &[]).unwrap())
                .contains("does not exist")
        );
        assert_eq!(
            payload(
                &chain
                    .invoke(1, c2, "hashPDC", &["PDC1", key], &[])
                    .unwrap()
                    .simulation
            ),
            ""
        );
    }
    let c = payload(
        &chain
            .invoke(1, c2, "hashPDC", &["PDC1", "c"], &[])
            .unwrap()
            .simulation,
    );
    assert_eq!(
        c,
        cairn_crypto::sha256(b"value-c").to_hex(),
        "any channel peer reads hashes"
    );

    let err = chain.invoke(0, c1, "hashPDC", &["Nope", "k"], &[]).unwrap();
    assert!(message(&err).starts_with("collection Nope is not defined for contract private"));
}

#[test]
fn a_member_missing_data_says_so_until_reconciled_and_block_to_live_ends_it() {
    let chain = Chain::new(2, collections(), POLICY);
    let (c1, c2) = (&chain.net.orgs[0].user, &chain.net.orgs[1].user);
    // PDC2 (both orgs, blockToLive 2): only Org1 receives the value.
    let e = chain
        .invoke(0, c1, "writePDC2", &["m"], &[("value", b"late")])
        .unwrap();
    let env = chain.envelope(&e, c1, &[0]);
    let b = chain.commit_block(
        vec![env],
        &private_data(
            e.proposal.header.txid,
            e.simulation.private_writes().clone(),
        ),
        &[0],
    );
    let err = chain.invoke(1, c2, "readPDC2", &["m"], &[]).unwrap();
    assert!(
        message(&err).contains("is not available on this peer yet"),
        "{}",
        message(&err)
    );

    // Reconciliation: Org1 serves what it holds; Org2 checks it against the block.
    let org2 = &chain.peers[1].ledger;
    let missing = org2.missing_private_data(0).unwrap();
    assert_eq!(missing.len(), 1);
    let served = chain.peers[0]
        .ledger
        .private_writes(missing[0].block, missing[0].tx)
        .unwrap();
    assert_eq!(
        org2.reconcile(missing[0].block, missing[0].tx, &served)
            .unwrap()
            .stored,
        1
    );
    assert_eq!(
        payload(
            &chain
                .invoke(1, c2, "readPDC2", &["m"], &[])
                .unwrap()
                .simulation
        ),
        "late"
    );

    // blockToLive 2: still there after two more blocks, gone after the third;
    // the hash stays and getPrivateData reads it as absent, as in Fabric.
    for i in 0..3 {
        assert_eq!(
            payload(
                &chain
                    .invoke(1, c2, "readPDC2", &["m"], &[])
                    .unwrap()
                    .simulation
            ),
            "late",
            "{i}"
        );
        chain.submit(
            0,
            c1,
            "writePDC1",
            &[&format!("f{i}")],
            &[("value", b"x")],
            &[0],
        );
    }
    assert_eq!(chain.orderer.height(), b.header.number + 4);
    for (peer, who) in [(0, c1), (1, c2)] {
        assert!(
            message(&chain.invoke(peer, who, "readPDC2", &["m"], &[]).unwrap())
                .contains("does not exist")
        );
        let h = payload(
            &chain
                .invoke(peer, who, "hashPDC", &["PDC2", "m"], &[])
                .unwrap()
                .simulation,
        );
        assert_eq!(h, cairn_crypto::sha256(b"late").to_hex());
    }
}

#[test]
fn verifying_a_valuation_that_is_not_on_the_ledger_fails() {
    let chain = Chain::new(2, collections(), POLICY);
    let buyer = &chain.net.orgs[1].user;
    // VerifyValuation without a valuation on the ledger fails; the hash of a
    // handed value is computed with require('crypto').createHash('sha256').
    let none = chain
        .invoke(
            1,
            buyer,
            "VerifyValuation",
            &["Org1MSP"],
            &[("valuation", br#"{"assetID":"zz"}"#)],
        )
        .unwrap();
    assert!(message(&none).contains("Org1MSP has no valuation of zz"));
}
