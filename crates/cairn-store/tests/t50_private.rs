//! Private data on real redb ledgers of four orgs (the seed's AcmeChain:
//! `PDC1 = OR('Org1MSP.member','Org2MSP.member')`,
//! `PDC2 = OR('Org3MSP.member','Org4MSP.member')`): hashes everywhere,
//! cleartext only on member ledgers and only when it matches the block,
//! missing data and reconciliation, MVCC on hashed reads, collection
//! endorsement policies, blockToLive and purge, across restarts; and blockToLive,
//! delete and purge against a model over random blocks.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a panic is the failure report"
)]

use std::path::Path;

use cairn_crypto::SigningIdentity;
use cairn_ledger::block::Block;
use cairn_ledger::encoding::Canonical;
use cairn_ledger::ids::{TxId, Version};
use cairn_ledger::lifecycle::{
    CollectionConfig, CollectionEndorsementPolicy, ContractDefinition, LIFECYCLE_NS, definition_key,
};
use cairn_ledger::private::{
    CollectionPrivateWrites, PrivateData, PrivateWrite, PrivateWriteSet, key_hash, value_hash,
};
use cairn_ledger::rwset::{CollectionHashedRwSet, KvReadHash, KvWrite, NsRwSet, TxRwSet};
use cairn_ledger::state::StateView;
use cairn_ledger::validation::ValidationCode;
use cairn_store::{LEDGER_FILE, Ledger};
use cairn_testkit::{TestNet, now};
use tempfile::TempDir;

const CC: &str = "acme";
const ANY_PEER: &str = "OR('Org1MSP.peer','Org2MSP.peer','Org3MSP.peer','Org4MSP.peer')";

fn collection(name: &str, policy: &str, btl: u64) -> CollectionConfig {
    CollectionConfig {
        name: name.into(),
        policy: policy.into(),
        required_peer_count: 0,
        max_peer_count: 3,
        block_to_live: btl,
        member_only_read: false,
        member_only_write: false,
        endorsement_policy: None,
    }
}

/// Four orgs; an orderer ledger that seals blocks and one peer ledger per
/// org (each set to its org), all from the same genesis block.
struct World {
    net: TestNet,
    dirs: Vec<TempDir>,
    orderer: Ledger,
    peers: Vec<Ledger>,
}

impl World {
    fn new() -> World {
        let net = TestNet::new(4);
        let genesis = net.genesis();
        let odir = tempfile::tempdir().unwrap();
        let orderer = Ledger::create(odir.path(), &genesis).unwrap();
        let mut dirs = vec![odir];
        let mut peers = Vec::new();
        for org in &net.orgs {
            let d = tempfile::tempdir().unwrap();
            let l = Ledger::create(d.path(), &genesis).unwrap();
            l.set_member_org(&org.msp_id).unwrap();
            peers.push(l);
            dirs.push(d);
        }
        let mut pdc3 = collection("PDC3", "OR('Org3MSP.member')", 3);
        pdc3.endorsement_policy = Some(CollectionEndorsementPolicy::SignaturePolicy(
            "OR('Org3MSP.peer')".into(),
        ));
        let def = ContractDefinition {
            name: CC.into(),
            version: "1".into(),
            sequence: 1,
            endorsement_policy: ANY_PEER.into(),
            init_required: false,
            collections: vec![
                collection("PDC1", "OR('Org1MSP.member','Org2MSP.member')", 0),
                collection("PDC2", "OR('Org3MSP.member','Org4MSP.member')", 0),
                pdc3,
            ],
        };
        let rwset = TxRwSet {
            namespaces: vec![NsRwSet {
                namespace: LIFECYCLE_NS.into(),
                writes: vec![KvWrite {
                    key: definition_key(CC),
                    is_delete: false,
                    value: def.encode().unwrap(),
                }],
                ..NsRwSet::default()
            }],
        };
        let all: Vec<&SigningIdentity> = net.orgs.iter().map(|o| &o.peer).collect();
        let (_, tx) = net.endorsed_tx(&net.orgs[0].admin, LIFECYCLE_NS, rwset, &all);
        let w = World {
            net,
            dirs,
            orderer,
            peers,
        };
        w.block(vec![tx], &PrivateData::new());
        w
    }

    fn peer(&self, org: usize) -> &SigningIdentity {
        &self.net.orgs[org].peer
    }

    /// Seals `txs` into the next block and commits it on every peer ledger
    /// with the same private data.
    fn block(&self, txs: Vec<Vec<u8>>, private: &PrivateData) -> Block {
        let b = self.orderer.append(txs, now(), self.net.orderer()).unwrap();
        for p in &self.peers {
            p.commit_with_private(&b, private).unwrap();
        }
        b
    }

    fn dir(&self, org: usize) -> &Path {
        self.dirs[org + 1].path()
    }
}

/// A private write set and the transaction carrying its hashes (plus hashed
/// reads), endorsed by `endorsers`.
fn private_tx(
    w: &World,
    writes: &[(&str, PrivateWrite)],
    reads: &[(&str, &str, Option<Version>)],
    endorsers: &[&SigningIdentity],
) -> (TxId, Vec<u8>, PrivateWriteSet) {
    let mut set = PrivateWriteSet::default();
    for (coll, write) in writes {
        set.insert(CC, coll, write.clone());
    }
    let mut colls: Vec<CollectionHashedRwSet> = set
        .collections()
        .map(|(_, c)| CollectionHashedRwSet {
            collection: c.collection.clone(),
            hashed_reads: Vec::new(),
            hashed_writes: c.writes.iter().map(PrivateWrite::hashed).collect(),
            private_rwset_hash: c.rwset_hash().unwrap(),
        })
        .collect();
    for (coll, key, version) in reads {
        let read = KvReadHash {
            key_hash: key_hash(key),
            version: *version,
        };
        match colls.iter_mut().find(|c| c.collection == *coll) {
            Some(c) => c.hashed_reads.push(read),
            None => colls.push(CollectionHashedRwSet {
                collection: (*coll).into(),
                hashed_reads: vec![read],
                hashed_writes: Vec::new(),
                private_rwset_hash: CollectionPrivateWrites::default().rwset_hash().unwrap(),
            }),
        }
    }
    colls.sort_by(|a, b| a.collection.cmp(&b.collection));
    let rwset = TxRwSet {
        namespaces: vec![NsRwSet {
            namespace: CC.into(),
            collections: colls,
            ..NsRwSet::default()
        }],
    };
    let (txid, env) = w.net.endorsed_tx(&w.net.orgs[0].user, CC, rwset, endorsers);
    (txid, env, set)
}

fn put(key: &str, value: &[u8]) -> PrivateWrite {
    PrivateWrite {
        key: key.into(),
        is_delete: false,
        is_purge: false,
        value: value.to_vec(),
    }
}

fn purge(key: &str) -> PrivateWrite {
    PrivateWrite {
        key: key.into(),
        is_delete: true,
        is_purge: true,
        value: Vec::new(),
    }
}

fn value(l: &Ledger, coll: &str, key: &str) -> Option<Vec<u8>> {
    l.snapshot()
        .unwrap()
        .private_state(CC, coll, key)
        .unwrap()
        .map(|v| v.value)
}

fn hash(l: &Ledger, coll: &str, key: &str) -> Option<cairn_crypto::Digest> {
    l.snapshot()
        .unwrap()
        .private_hash(CC, coll, &key_hash(key))
        .unwrap()
        .map(|h| h.value_hash)
}

fn file_contains(dir: &Path, marker: &[u8]) -> bool {
    let bytes = std::fs::read(dir.join(LEDGER_FILE)).unwrap();
    bytes.windows(marker.len()).any(|w| w == marker)
}

#[test]
fn members_keep_values_and_everyone_else_only_hashes() {
    let w = World::new();
    let marker = b"acme-marker-7b1f0c2e9d4a";
    // An Org1 peer endorses a write into PDC2 (Org3/Org4 only), as the seed allows.
    let (txid, tx, set) = private_tx(&w, &[("PDC2", put("k1", marker))], &[], &[w.peer(0)]);
    // Every peer is handed the private data, even the non-members: the store
    // itself must refuse to keep it.
    let pd: PrivateData = [(txid, set)].into_iter().collect();
    let b = w.block(vec![tx], &pd);
    assert_eq!(b.metadata.validation_codes, vec![ValidationCode::Valid]);

    for (org, member) in [(0, false), (1, false), (2, true), (3, true)] {
        let l = &w.peers[org];
        assert_eq!(hash(l, "PDC2", "k1"), Some(value_hash(marker)), "org {org}");
        assert_eq!(value(l, "PDC2", "k1").is_some(), member, "org {org}");
        assert!(l.missing_private_data(0).unwrap().is_empty());
        assert_eq!(
            file_contains(w.dir(org), marker),
            member,
            "raw bytes of org {org}'s ledger"
        );
    }
    assert!(!file_contains(w.dirs[0].path(), marker), "orderer ledger");
    assert_eq!(
        w.peers[2]
            .private_writes(b.header.number, 0)
            .unwrap()
            .collection(CC, "PDC2")
            .unwrap()
            .writes[0]
            .value,
        marker
    );
    assert!(
        w.peers[0]
            .private_writes(b.header.number, 0)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn tampered_or_absent_values_are_missing_until_reconciled() {
    let w = World::new();
    let (txid, tx, set) = private_tx(
        &w,
        &[("PDC2", put("k", b"right")), ("PDC2", put("j", b"also"))],
        &[],
        &[w.peer(2)],
    );
    let mut wrong = set.clone();
    wrong.namespaces[0].collections[0].writes[1].value = b"wrong".to_vec();
    let b = w.orderer.append(vec![tx], now(), w.net.orderer()).unwrap();
    let org3 = &w.peers[2];
    let summary = org3
        .commit_with_private(&b, &[(txid, wrong.clone())].into_iter().collect())
        .unwrap();
    assert_eq!(
        (
            summary.private.stored,
            summary.private.missing,
            summary.private.rejected
        ),
        (1, 1, 1)
    );
    assert_eq!(value(org3, "PDC2", "j").as_deref(), Some(&b"also"[..]));
    assert_eq!(value(org3, "PDC2", "k"), None);
    let missing = org3.missing_private_data(0).unwrap();
    assert_eq!(missing.len(), 1);
    assert_eq!(
        (
            missing[0].block,
            missing[0].tx,
            missing[0].collection.as_str()
        ),
        (b.header.number, 0, "PDC2")
    );
    assert_eq!(missing[0].key_hashes, vec![key_hash("k")]);

    // Reconciliation checks against the block too.
    let r = org3.reconcile(b.header.number, 0, &wrong).unwrap();
    assert_eq!((r.stored, r.rejected, r.ignored), (0, 1, 1));
    let r = org3.reconcile(b.header.number, 0, &set).unwrap();
    assert_eq!((r.stored, r.rejected, r.ignored), (1, 0, 1));
    assert_eq!(value(org3, "PDC2", "k").as_deref(), Some(&b"right"[..]));
    assert!(org3.missing_private_data(0).unwrap().is_empty());
    assert_eq!(org3.private_writes(b.header.number, 0).unwrap(), set);
    assert!(
        org3.reconcile(b.header.number + 5, 0, &set).is_err(),
        "no such transaction"
    );

    // A non-member records nothing missing and accepts nothing.
    let org1 = &w.peers[0];
    org1.commit(&b).unwrap();
    assert!(org1.missing_private_data(0).unwrap().is_empty());
    assert_eq!(org1.reconcile(b.header.number, 0, &set).unwrap().stored, 0);
    assert_eq!(value(org1, "PDC2", "k"), None);
}

#[test]
fn a_reconciled_old_value_does_not_replace_a_newer_one() {
    let w = World::new();
    let org4 = &w.peers[3];
    let (_, tx1, set1) = private_tx(&w, &[("PDC2", put("k", b"v1"))], &[], &[w.peer(2)]);
    let b1 = w.block(vec![tx1], &PrivateData::new());
    let (id2, tx2, set2) = private_tx(&w, &[("PDC2", put("k", b"v2"))], &[], &[w.peer(2)]);
    w.block(vec![tx2], &[(id2, set2)].into_iter().collect());
    assert_eq!(value(org4, "PDC2", "k").as_deref(), Some(&b"v2"[..]));
    assert_eq!(
        org4.reconcile(b1.header.number, 0, &set1).unwrap().stored,
        1
    );
    assert_eq!(
        value(org4, "PDC2", "k").as_deref(),
        Some(&b"v2"[..]),
        "state keeps the newer value"
    );
    assert_eq!(
        org4.private_writes(b1.header.number, 0).unwrap(),
        set1,
        "history has the old one"
    );
}

#[test]
fn hashed_reads_are_checked_for_mvcc() {
    let w = World::new();
    let (id, seed, set) = private_tx(&w, &[("PDC1", put("k", b"1"))], &[], &[w.peer(0)]);
    let b = w.block(vec![seed], &[(id, set)].into_iter().collect());
    let v = Some(Version {
        block: b.header.number,
        tx: 0,
    });
    // Same block: a write of k, then a read of k at the old version.
    let (_, write, _) = private_tx(
        &w,
        &[("PDC1", put("k", b"2"))],
        &[("PDC1", "k", v)],
        &[w.peer(0)],
    );
    let (_, stale, _) = private_tx(
        &w,
        &[("PDC1", put("x", b"3"))],
        &[("PDC1", "k", v)],
        &[w.peer(0)],
    );
    let (_, absent, _) = private_tx(&w, &[], &[("PDC1", "nope", None)], &[w.peer(0)]);
    let (_, wrong, _) = private_tx(&w, &[], &[("PDC1", "nope", v)], &[w.peer(0)]);
    let b = w.block(vec![write, stale, absent, wrong], &PrivateData::new());
    assert_eq!(
        b.metadata.validation_codes,
        vec![
            ValidationCode::Valid,
            ValidationCode::MvccReadConflict,
            ValidationCode::Valid,
            ValidationCode::MvccReadConflict
        ]
    );
}

#[test]
fn collection_policies_replace_the_contracts_and_unknown_collections_fail() {
    let w = World::new();
    let cases: Vec<(&str, usize, ValidationCode)> = vec![
        // PDC3's endorsementPolicy is OR('Org3MSP.peer'): Org1's peer, which
        // satisfies the contract's policy, is not enough.
        ("PDC3", 0, ValidationCode::EndorsementPolicyFailure),
        ("PDC3", 2, ValidationCode::Valid),
        // Implicit collections use their org's Endorsement policy.
        (
            "_implicit_org_Org2MSP",
            0,
            ValidationCode::EndorsementPolicyFailure,
        ),
        ("_implicit_org_Org2MSP", 1, ValidationCode::Valid),
        (
            "_implicit_org_Org9MSP",
            0,
            ValidationCode::EndorsementPolicyFailure,
        ),
        (
            "NoSuchCollection",
            0,
            ValidationCode::EndorsementPolicyFailure,
        ),
        // No collection policy: the contract's applies.
        ("PDC1", 3, ValidationCode::Valid),
    ];
    let txs: Vec<Vec<u8>> = cases
        .iter()
        .enumerate()
        .map(|(i, (coll, org, _))| {
            private_tx(
                &w,
                &[(coll, put(&format!("k{i}"), b"v"))],
                &[],
                &[w.peer(*org)],
            )
            .1
        })
        .collect();
    let b = w.block(txs, &PrivateData::new());
    let want: Vec<ValidationCode> = cases.iter().map(|c| c.2).collect();
    assert_eq!(b.metadata.validation_codes, want);
    // No data was supplied: each member recorded what it misses, per
    // collection; nobody else did.
    let missing = |org: usize| -> Vec<String> {
        w.peers[org]
            .missing_private_data(0)
            .unwrap()
            .into_iter()
            .map(|m| m.collection)
            .collect()
    };
    assert_eq!(missing(1), ["_implicit_org_Org2MSP", "PDC1"]);
    assert_eq!(missing(0), ["PDC1"]);
    assert_eq!(missing(2), ["PDC3"]);
    assert!(missing(3).is_empty());
}

#[test]
fn block_to_live_purges_exactly_and_a_restart_does_not_bring_it_back() {
    let w = World::new();
    let (id, tx, set) = private_tx(&w, &[("PDC3", put("price", b"99"))], &[], &[w.peer(2)]);
    let written = w
        .block(vec![tx], &[(id, set.clone())].into_iter().collect())
        .header
        .number;
    let org3 = &w.peers[2];
    // blockToLive 3: kept while blocks written+1 ..= written+3 commit.
    for i in 1..=3 {
        assert_eq!(
            value(org3, "PDC3", "price").as_deref(),
            Some(&b"99"[..]),
            "before filler {i}"
        );
        let (_, filler, _) = private_tx(
            &w,
            &[("PDC1", put(&format!("f{i}"), b"x"))],
            &[],
            &[w.peer(0)],
        );
        w.block(vec![filler], &PrivateData::new());
    }
    assert_eq!(
        value(org3, "PDC3", "price").as_deref(),
        Some(&b"99"[..]),
        "height written+4"
    );
    let (_, filler, _) = private_tx(&w, &[("PDC1", put("f4", b"x"))], &[], &[w.peer(0)]);
    let last = w.block(vec![filler], &PrivateData::new());
    assert_eq!(last.header.number, written + 4);
    assert_eq!(
        value(org3, "PDC3", "price"),
        None,
        "purged when block written+4 committed"
    );
    assert_eq!(
        hash(org3, "PDC3", "price"),
        Some(value_hash(b"99")),
        "the hash stays"
    );
    assert!(
        org3.private_writes(written, 0).unwrap().is_empty(),
        "history purged too"
    );

    // Restart: the member org and the purge persist.
    let dir = w.dir(2).to_path_buf();
    let World { peers, dirs, .. } = w;
    drop(peers);
    let reopened = Ledger::open(&dir).unwrap();
    assert_eq!(reopened.member_org().as_deref(), Some("Org3MSP"));
    assert_eq!(value(&reopened, "PDC3", "price"), None);
    assert_eq!(hash(&reopened, "PDC3", "price"), Some(value_hash(b"99")));
    drop(dirs);
}

#[test]
fn purge_removes_the_value_and_its_history_on_every_member() {
    let w = World::new();
    let mut history = Vec::new();
    for v in [b"v1", b"v2"] {
        let (id, tx, set) = private_tx(&w, &[("PDC1", put("secret", v))], &[], &[w.peer(0)]);
        history.push(
            w.block(vec![tx], &[(id, set)].into_iter().collect())
                .header
                .number,
        );
    }
    let org2 = &w.peers[1];
    assert_eq!(value(org2, "PDC1", "secret").as_deref(), Some(&b"v2"[..]));
    assert!(!org2.private_writes(history[0], 0).unwrap().is_empty());
    let (id, tx, set) = private_tx(&w, &[("PDC1", purge("secret"))], &[], &[w.peer(1)]);
    w.block(vec![tx], &[(id, set)].into_iter().collect());
    for org in [0, 1] {
        let l = &w.peers[org];
        assert_eq!(value(l, "PDC1", "secret"), None);
        assert_eq!(
            hash(l, "PDC1", "secret"),
            None,
            "a purge deletes the hash from state"
        );
        for b in &history {
            assert!(
                l.private_writes(*b, 0).unwrap().is_empty(),
                "org {org} block {b}"
            );
        }
        let reopened_dir = w.dir(org).to_path_buf();
        assert!(reopened_dir.exists());
    }
    let dir = w.dir(1).to_path_buf();
    let World { peers, dirs, .. } = w;
    drop(peers);
    let reopened = Ledger::open(&dir).unwrap();
    assert_eq!(value(&reopened, "PDC1", "secret"), None);
    for b in &history {
        assert!(reopened.private_writes(*b, 0).unwrap().is_empty());
    }
    drop(dirs);
}

#[test]
fn a_ledger_belongs_to_one_org() {
    let w = World::new();
    w.peers[0].set_member_org("Org1MSP").unwrap();
    let err = w.peers[0].set_member_org("Org3MSP").unwrap_err();
    assert!(
        err.to_string()
            .contains("keeps the private data of Org1MSP"),
        "{err}"
    );
    assert_eq!(w.orderer.member_org(), None);
}

#[test]
fn verification_rebuilds_the_hashed_state() {
    let w = World::new();
    let (id, tx, set) = private_tx(
        &w,
        &[("PDC2", put("k", b"v")), ("PDC1", put("k", b"w"))],
        &[],
        &[w.peer(0)],
    );
    w.block(vec![tx], &[(id, set)].into_iter().collect());
    let dir = w.dir(2).to_path_buf();
    let World { peers, dirs, .. } = w;
    drop(peers);
    let report = cairn_store::verify::verify_ledger(&dir, |_, _| {}).unwrap();
    assert_eq!(report.blocks, 3);
    drop(dirs);
}

/// One block of the model test: a transaction writing PDC3 (blockToLive 3), or a
/// block with only another collection's write.
#[derive(Clone, Debug)]
enum PdcStep {
    /// (key index, what): `Some(Some(v))` put, `Some(None)` delete, `None` purge.
    Write(Vec<(usize, Option<Option<u8>>)>),
    Filler,
}

fn pdc_step() -> impl proptest::strategy::Strategy<Value = PdcStep> {
    use proptest::prelude::*;
    prop_oneof![
        3 => prop::collection::vec(
            (0usize..3, prop::option::weighted(0.85, prop::option::weighted(0.8, any::<u8>()))),
            1..3,
        )
        .prop_map(PdcStep::Write),
        1 => Just(PdcStep::Filler),
    ]
}

/// Collection purge against a model of what must remain (issue 17 item 2): on
/// the member's ledger a value lives from the block that last wrote it until
/// blockToLive more blocks have committed, a delete or a purge removes it at
/// once; the hash stays until a delete or purge removes it; the non-member
/// never holds a value and holds the same hashes.
fn run_pdc_model(steps: Vec<PdcStep>) {
    const BTL: u64 = 3;
    let w = World::new();
    let keys = ["a", "b", "c"];
    // key → (value, block written); key → value hash.
    let mut values: std::collections::BTreeMap<&str, (Vec<u8>, u64)> = Default::default();
    let mut hashes: std::collections::BTreeMap<&str, cairn_crypto::Digest> = Default::default();
    for (i, step) in steps.iter().enumerate() {
        let block = match step {
            PdcStep::Filler => {
                let (_, filler, _) = private_tx(
                    &w,
                    &[("PDC1", put(&format!("f{i}"), b"x"))],
                    &[],
                    &[w.peer(0)],
                );
                w.block(vec![filler], &PrivateData::new())
            }
            PdcStep::Write(writes) => {
                // One write per key per transaction (the last one given wins).
                let mut per_key: std::collections::BTreeMap<usize, Option<Option<u8>>> =
                    Default::default();
                for (k, what) in writes {
                    per_key.insert(*k, *what);
                }
                let list: Vec<(&str, PrivateWrite)> = per_key
                    .iter()
                    .map(|(k, what)| {
                        let write = match what {
                            Some(Some(v)) => put(keys[*k], &[b'v', *v]),
                            Some(None) => PrivateWrite {
                                key: keys[*k].into(),
                                is_delete: true,
                                is_purge: false,
                                value: Vec::new(),
                            },
                            None => purge(keys[*k]),
                        };
                        ("PDC3", write)
                    })
                    .collect();
                let (id, tx, set) = private_tx(&w, &list, &[], &[w.peer(2)]);
                let b = w.block(vec![tx], &[(id, set)].into_iter().collect());
                for (k, what) in &per_key {
                    match what {
                        Some(Some(v)) => {
                            values.insert(keys[*k], (vec![b'v', *v], b.header.number));
                            hashes.insert(keys[*k], value_hash(&[b'v', *v]));
                        }
                        _ => {
                            values.remove(keys[*k]);
                            hashes.remove(keys[*k]);
                        }
                    }
                }
                b
            }
        };
        let n = block.header.number;
        values.retain(|_, (_, written)| *written + BTL >= n);
        for key in keys {
            let when = format!("after block {n} (step {i}: {step:?}), key {key}");
            assert_eq!(
                value(&w.peers[2], "PDC3", key),
                values.get(key).map(|(v, _)| v.clone()),
                "member value {when}"
            );
            assert_eq!(
                hash(&w.peers[2], "PDC3", key),
                hashes.get(key).copied(),
                "member hash {when}"
            );
            assert_eq!(
                value(&w.peers[0], "PDC3", key),
                None,
                "non-member value {when}"
            );
            assert_eq!(
                hash(&w.peers[0], "PDC3", key),
                hashes.get(key).copied(),
                "non-member hash {when}"
            );
        }
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 24, ..Default::default() })]

    #[test]
    fn collection_purge_matches_the_model(steps in proptest::collection::vec(pdc_step(), 1..12)) {
        run_pdc_model(steps);
    }
}

#[test]
fn collection_purge_model_fixed_case_rewrite_resets_the_clock() {
    run_pdc_model(vec![
        PdcStep::Write(vec![(0, Some(Some(1)))]),
        PdcStep::Filler,
        PdcStep::Write(vec![(0, Some(Some(2))), (1, Some(Some(3)))]),
        PdcStep::Filler,
        PdcStep::Filler,
        PdcStep::Filler,
        PdcStep::Write(vec![(1, None)]),
        PdcStep::Filler,
    ]);
}
