//! Block validation end to end on a real redb ledger: in one block, a forged
//! client signature, an endorsement-policy failure, a duplicate txid and a
//! stale read each get Fabric's code and change nothing, while the valid
//! transactions of that block commit.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a panic is the failure report"
)]

use cairn_ledger::encoding::Canonical;
use cairn_ledger::ids::Version;
use cairn_ledger::rwset::{KvRead, NsRwSet, TxRwSet};
use cairn_ledger::state::StateView;
use cairn_ledger::tx::Envelope;
use cairn_ledger::validation::ValidationCode;
use cairn_testkit::{TestNet, now, write_set};

const POLICY: &str = "AND('Org1MSP.peer','Org2MSP.peer')";

fn setup() -> (TestNet, tempfile::TempDir, cairn_store::Ledger) {
    let net = TestNet::new(3);
    let dir = tempfile::tempdir().unwrap();
    let ledger = net.ledger(dir.path());
    let (_, def) = net.define_contract_tx("asset", POLICY);
    let b = ledger.append(vec![def], now(), net.orderer()).unwrap();
    assert_eq!(b.metadata.validation_codes, vec![ValidationCode::Valid]);
    (net, dir, ledger)
}

#[test]
fn mixed_block_gets_fabric_codes_and_only_valid_txs_commit() {
    let (net, _dir, ledger) = setup();
    let [o1, o2, o3] = [&net.orgs[0], &net.orgs[1], &net.orgs[2]];
    let endorsers = [&o1.peer, &o2.peer];

    // Block 2: seed a key so a later tx can read a stale version of it.
    let (_, seed) = net.endorsed_tx(
        &o1.user,
        "asset",
        write_set("asset", &[("k", b"v1")]),
        &endorsers,
    );
    ledger.append(vec![seed], now(), net.orderer()).unwrap();
    let seeded = ledger
        .snapshot()
        .unwrap()
        .state("asset", "k")
        .unwrap()
        .unwrap();
    assert_eq!(seeded.version, Version { block: 2, tx: 0 });

    // Valid.
    let (ok1, good1) = net.endorsed_tx(
        &o1.user,
        "asset",
        write_set("asset", &[("a", b"1")]),
        &endorsers,
    );
    // Forged client signature: flip a bit of the envelope signature.
    let (bad_sig_id, bad_sig) = net.endorsed_tx(
        &o2.user,
        "asset",
        write_set("asset", &[("forged", b"x")]),
        &endorsers,
    );
    let mut env = Envelope::decode(&bad_sig).unwrap();
    env.signature[5] ^= 0x01;
    let bad_sig = env.encode().unwrap();
    // Endorsed by Org1 and Org3, but the policy needs Org1 AND Org2.
    let (pol_id, pol) = net.endorsed_tx(
        &o1.user,
        "asset",
        write_set("asset", &[("policy", b"x")]),
        &[&o1.peer, &o3.peer],
    );
    // A stale read: reads k at a version that a tx earlier in this block overwrites.
    let (ok2, good2) = net.endorsed_tx(
        &o1.user,
        "asset",
        write_set("asset", &[("k", b"v2")]),
        &endorsers,
    );
    let stale_rw = TxRwSet {
        namespaces: vec![NsRwSet {
            namespace: "asset".into(),
            reads: vec![KvRead {
                key: "k".into(),
                version: Some(seeded.version),
            }],
            writes: write_set("asset", &[("stale", b"x")]).namespaces[0]
                .writes
                .clone(),
            ..NsRwSet::default()
        }],
    };
    let (stale_id, stale) = net.endorsed_tx(&o1.user, "asset", stale_rw, &endorsers);
    // The same envelope twice: the second is a duplicate.
    let (ok3, good3) = net.endorsed_tx(
        &o3.user,
        "asset",
        write_set("asset", &[("b", b"2")]),
        &endorsers,
    );
    let dup = good3.clone();

    let block = ledger
        .append(
            vec![good1, bad_sig, pol, good2, stale, good3, dup],
            now(),
            net.orderer(),
        )
        .unwrap();
    assert_eq!(
        block.metadata.validation_codes,
        vec![
            ValidationCode::Valid,
            ValidationCode::BadCreatorSignature,
            ValidationCode::EndorsementPolicyFailure,
            ValidationCode::Valid,
            ValidationCode::MvccReadConflict,
            ValidationCode::Valid,
            ValidationCode::DuplicateTxid,
        ]
    );

    let snap = ledger.snapshot().unwrap();
    let get = |k: &str| snap.state("asset", k).unwrap().map(|v| v.value);
    assert_eq!(get("a"), Some(b"1".to_vec()));
    assert_eq!(get("b"), Some(b"2".to_vec()));
    assert_eq!(get("k"), Some(b"v2".to_vec()));
    for invalid in ["forged", "policy", "stale"] {
        assert_eq!(get(invalid), None, "{invalid} must not be written");
    }

    // Codes are queryable per txid.
    let code = |id| ledger.tx(&id).unwrap().unwrap().code;
    assert_eq!(code(ok1), ValidationCode::Valid);
    assert_eq!(code(ok2), ValidationCode::Valid);
    assert_eq!(
        code(ok3),
        ValidationCode::Valid,
        "the first occurrence keeps its code"
    );
    assert_eq!(code(bad_sig_id), ValidationCode::BadCreatorSignature);
    assert_eq!(code(pol_id), ValidationCode::EndorsementPolicyFailure);
    assert_eq!(code(stale_id), ValidationCode::MvccReadConflict);

    // A duplicate in a later block is refused against the stored index too.
    let again = ledger
        .append(vec![block.data[0].clone()], now(), net.orderer())
        .unwrap();
    assert_eq!(
        again.metadata.validation_codes,
        vec![ValidationCode::DuplicateTxid]
    );

    // History lists every write of a key, newest first.
    let h = snap.history("asset", "k").unwrap();
    assert_eq!(
        h.iter().map(|e| e.value.clone()).collect::<Vec<_>>(),
        vec![b"v2".to_vec(), b"v1".to_vec()]
    );
}

#[test]
fn undefined_contract_and_unknown_org_are_refused() {
    let (net, _dir, ledger) = setup();
    let endorsers = [&net.orgs[0].peer, &net.orgs[1].peer];
    let (_, undefined) = net.endorsed_tx(
        &net.orgs[0].user,
        "nosuch",
        write_set("nosuch", &[("a", b"1")]),
        &endorsers,
    );

    // A client of an org that is not on the channel.
    let outsider = TestNet::new(1);
    let (_, foreign) = net.endorsed_tx(
        &outsider.orgs[0].user,
        "asset",
        write_set("asset", &[("f", b"1")]),
        &endorsers,
    );
    // A write to _lifecycle smuggled into an ordinary contract's transaction.
    let mut rw = write_set("asset", &[("x", b"1")]);
    rw.namespaces.insert(
        0,
        write_set("_lifecycle", &[("namespaces/evil", b"x")])
            .namespaces
            .remove(0),
    );
    let (_, smuggled) = net.endorsed_tx(&net.orgs[0].user, "asset", rw, &endorsers);

    let b = ledger
        .append(vec![undefined, foreign, smuggled], now(), net.orderer())
        .unwrap();
    assert_eq!(
        b.metadata.validation_codes,
        vec![
            ValidationCode::InvalidChaincode,
            ValidationCode::BadCreatorSignature,
            ValidationCode::IllegalWriteset,
        ]
    );
}

#[test]
fn a_peer_refuses_a_block_whose_codes_disagree_with_its_own_validation() {
    let (net, dir, ledger) = setup();
    let endorsers = [&net.orgs[0].peer, &net.orgs[1].peer];
    let (_, tx) = net.endorsed_tx(
        &net.orgs[0].user,
        "asset",
        write_set("asset", &[("a", b"1")]),
        &endorsers,
    );
    let mut block = ledger.seal(vec![tx], now(), net.orderer()).unwrap();
    block.metadata.validation_codes[0] = ValidationCode::MvccReadConflict;
    let err = ledger.commit(&block).unwrap_err();
    assert!(
        err.to_string()
            .contains("this node's validation says VALID"),
        "{err}"
    );
    assert_eq!(ledger.height(), 2, "nothing committed");
    drop(ledger);
    // And the ledger reopens where it was.
    let reopened = cairn_store::Ledger::open(dir.path()).unwrap();
    assert_eq!(reopened.height(), 2);
}

/// An orderer applying its own leader's block skips re-verifying the
/// signatures of the transactions the leader found valid, and nothing else:
/// a forged signature the leader flagged is verified (and flagged) again, the
/// state comes out as a full validation's, and codes that disagree with its
/// own checks are still refused.
#[test]
fn a_block_sealed_by_the_own_leader_commits_with_the_same_codes_and_state() {
    let (net, _dir, leader) = setup();
    let full_dir = tempfile::tempdir().unwrap();
    let sealed_dir = tempfile::tempdir().unwrap();
    let genesis = leader.block(0).unwrap().unwrap();
    let full = cairn_store::Ledger::create(full_dir.path(), &genesis).unwrap();
    let sealed = cairn_store::Ledger::create(sealed_dir.path(), &genesis).unwrap();
    let def = leader.block(1).unwrap().unwrap();
    full.commit(&def).unwrap();
    sealed.commit_sealed(&def).unwrap();

    let endorsers = [&net.orgs[0].peer, &net.orgs[1].peer];
    let (_, good) = net.endorsed_tx(
        &net.orgs[0].user,
        "asset",
        write_set("asset", &[("a", b"1")]),
        &endorsers,
    );
    let (_, forged) = net.endorsed_tx(
        &net.orgs[1].user,
        "asset",
        write_set("asset", &[("forged", b"x")]),
        &endorsers,
    );
    let mut env = Envelope::decode(&forged).unwrap();
    env.signature[5] ^= 0x01;
    let block = leader
        .append(vec![good, env.encode().unwrap()], now(), net.orderer())
        .unwrap();
    assert_eq!(
        block.metadata.validation_codes,
        vec![ValidationCode::Valid, ValidationCode::BadCreatorSignature]
    );
    let a = full.commit(&block).unwrap();
    let b = sealed.commit_sealed(&block).unwrap();
    assert_eq!(a, b);
    for l in [&full, &sealed] {
        let snap = l.snapshot().unwrap();
        assert_eq!(
            snap.state("asset", "a").unwrap().map(|v| v.value),
            Some(b"1".to_vec())
        );
        assert_eq!(snap.state("asset", "forged").unwrap(), None);
        assert_eq!(l.block(2).unwrap().unwrap(), block);
    }

    let (_, next) = net.endorsed_tx(
        &net.orgs[0].user,
        "asset",
        write_set("asset", &[("c", b"3")]),
        &endorsers,
    );
    let mut lying = leader.seal(vec![next], now(), net.orderer()).unwrap();
    lying.metadata.validation_codes[0] = ValidationCode::MvccReadConflict;
    let err = sealed.commit_sealed(&lying).unwrap_err();
    assert!(
        err.to_string()
            .contains("this node's validation says VALID"),
        "{err}"
    );
    assert_eq!(sealed.height(), 3, "nothing committed");
}
