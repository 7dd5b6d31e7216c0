//! Receipts verify offline trusting only the ordering org's CA; a flipped
//! bit, a wrong proof or a header signed by a key that is not the ordering
//! org's each fail with a clear reason. Consistency proofs show the ledger
//! only grew.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a panic is the failure report"
)]

use cairn_ledger::block::HeaderSignature;
use cairn_ledger::receipt::Receipt;
use cairn_ledger::validation::ValidationCode;
use cairn_testkit::{TestNet, now, write_set};

fn ledger_with_txs() -> (
    TestNet,
    tempfile::TempDir,
    cairn_store::Ledger,
    Vec<cairn_ledger::ids::TxId>,
) {
    let net = TestNet::new(2);
    let dir = tempfile::tempdir().unwrap();
    let ledger = net.ledger(dir.path());
    let (_, def) = net.define_contract_tx("asset", "");
    ledger.append(vec![def], now(), net.orderer()).unwrap();
    let mut ids = Vec::new();
    for b in 0..3 {
        let mut data = Vec::new();
        for i in 0..5 {
            let key = format!("k{b}-{i}");
            let (id, tx) = net.endorsed_tx(
                &net.orgs[0].user,
                "asset",
                write_set("asset", &[(key.as_str(), b"v")]),
                &[&net.orgs[0].peer, &net.orgs[1].peer],
            );
            ids.push(id);
            data.push(tx);
        }
        ledger.append(data, now(), net.orderer()).unwrap();
    }
    (net, dir, ledger, ids)
}

fn ca(net: &TestNet) -> String {
    std::fs::read_to_string(net.orgs[0].dir.join("ca/ca.pem")).unwrap()
}

#[test]
fn receipt_verifies_offline_and_survives_json() {
    let (net, _d, ledger, ids) = ledger_with_txs();
    for id in &ids {
        let r = ledger.receipt(id).unwrap();
        let json = serde_json::to_string(&r).unwrap();
        let back: Receipt = serde_json::from_str(&json).unwrap();
        let v = back.verify(&ca(&net)).unwrap();
        assert_eq!(v.txid, *id);
        assert_eq!(v.code, ValidationCode::Valid);
        assert_eq!(v.channel, cairn_testkit::CHANNEL);
    }
}

#[test]
fn tampered_receipts_fail_with_a_reason() {
    let (net, _d, ledger, ids) = ledger_with_txs();
    let good = ledger.receipt(&ids[7]).unwrap();
    let ca = ca(&net);

    // A flipped bit in the envelope.
    let mut r = good.clone();
    r.envelope[10] ^= 1;
    assert!(
        r.verify(&ca)
            .unwrap_err()
            .to_string()
            .contains("envelope does not match")
    );

    // A flipped bit in the leaf's envelope hash.
    let mut r = good.clone();
    let mut h = *r.envelope_hash.as_bytes();
    h[0] ^= 1;
    r.envelope_hash = cairn_crypto::Digest::from(h);
    assert!(
        r.verify(&ca)
            .unwrap_err()
            .to_string()
            .contains("inclusion proof")
    );

    // A different validation code claimed.
    let mut r = good.clone();
    r.code = ValidationCode::MvccReadConflict;
    assert!(
        r.verify(&ca)
            .unwrap_err()
            .to_string()
            .contains("inclusion proof")
    );

    // A wrong proof: a path element changed, or the wrong index.
    let mut r = good.clone();
    let mut p = *r.proof.path[0].as_bytes();
    p[31] ^= 0x80;
    r.proof.path[0] = cairn_merkle::Hash::from(p);
    assert!(
        r.verify(&ca)
            .unwrap_err()
            .to_string()
            .contains("inclusion proof")
    );
    let mut r = good.clone();
    r.proof.index += 1;
    assert!(r.verify(&ca).is_err());

    // A flipped bit in the signed header.
    let mut r = good.clone();
    let mut root = *r.header.tree_root.as_bytes();
    root[3] ^= 4;
    r.header.tree_root = cairn_crypto::Digest::from(root);
    assert!(
        r.verify(&ca)
            .unwrap_err()
            .to_string()
            .contains("not signed by an orderer")
    );

    // A header re-signed by Org2's orderer: valid orderer, but not of the trusted CA.
    let mut r = good.clone();
    let o2 = &net.orgs[1].orderer;
    r.signatures = vec![HeaderSignature {
        signer: o2.identity().der().to_vec(),
        signature: o2.sign(&r.header.signed_bytes(o2.identity().der()).unwrap()),
    }];
    let e = r.verify(&ca).unwrap_err().to_string();
    assert!(
        e.contains("not signed by an orderer of the trusted CA"),
        "{e}"
    );

    // Signed by the trusted org's peer (right CA, wrong role).
    let mut r = good.clone();
    let p1 = &net.orgs[0].peer;
    r.signatures = vec![HeaderSignature {
        signer: p1.identity().der().to_vec(),
        signature: p1.sign(&r.header.signed_bytes(p1.identity().der()).unwrap()),
    }];
    let e = r.verify(&ca).unwrap_err().to_string();
    assert!(e.contains("not an orderer"), "{e}");

    // The untouched receipt still verifies.
    good.verify(&ca).unwrap();
}

#[test]
fn consistency_proofs_show_the_ledger_only_grew() {
    let (_net, _d, ledger, _ids) = ledger_with_txs();
    let size = ledger.tree_size();
    let snap = ledger.snapshot().unwrap();
    let root_at = |n: u64| cairn_merkle::root(&snap, n).unwrap();
    for old in 1..size {
        let proof = ledger.consistency_proof(old, size).unwrap();
        proof.verify(&root_at(old), &root_at(size)).unwrap();
        // Against a different old root it fails.
        let wrong = root_at(if old > 1 { old - 1 } else { old + 1 });
        assert!(proof.verify(&wrong, &root_at(size)).is_err());
    }
}
