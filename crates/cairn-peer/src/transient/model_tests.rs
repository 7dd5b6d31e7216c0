//! The transient store against a model (issue 17 item 2), over random sequences
//! of persists (plain and durable; a second persist of a transaction adds
//! collections), cleanups (commits and purges by arrival height) and reopens.
//!
//! - Without damage, every reopen replays to exactly the model's entries.
//! - With the log cut at an arbitrary byte (a crash mid-write, or a lost tail),
//!   opening succeeds, the store holds only collections that were really persisted
//!   for a transaction, with their values, and a second reopen finds the same (the
//!   damaged tail was cut off for good). The model is then reset along with the
//!   store (a cleanup of everything), so later steps are checked exactly again.

use std::collections::{BTreeMap, BTreeSet};

use cairn_crypto::Digest;
use cairn_ledger::ids::TxId;
use cairn_ledger::private::{PrivateWrite, PrivateWriteSet};
use proptest::prelude::*;

use super::{TRANSIENT_FILE, TransientStore};

const TXS: u8 = 6;
const COLLECTIONS: [&str; 2] = ["A", "B"];

#[derive(Clone, Debug)]
enum Op {
    Persist {
        tx: u8,
        height: u64,
        coll: usize,
        durable: bool,
    },
    Cleanup {
        committed: Vec<u8>,
        purge_below: u64,
    },
    Reopen {
        /// Bytes to cut off the log's end (modulo its length + 1), if any.
        cut: Option<u16>,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..TXS, 0u64..8, 0..COLLECTIONS.len(), any::<bool>()).prop_map(
            |(tx, height, coll, durable)| Op::Persist { tx, height, coll, durable }
        ),
        2 => (prop::collection::vec(0..TXS, 0..3), 0u64..8)
            .prop_map(|(committed, purge_below)| Op::Cleanup { committed, purge_below }),
        1 => prop::option::weighted(0.5, any::<u16>()).prop_map(|cut| Op::Reopen { cut }),
    ]
}

fn txid(n: u8) -> TxId {
    TxId(Digest::from([n + 1; 32]))
}

/// The one value a (transaction, collection) pair ever carries.
fn value(tx: u8, coll: usize) -> Vec<u8> {
    vec![b'v', tx, coll as u8]
}

fn set(tx: u8, coll: usize) -> PrivateWriteSet {
    let mut s = PrivateWriteSet::default();
    s.insert(
        "cc",
        COLLECTIONS[coll],
        PrivateWrite {
            key: "k".into(),
            is_delete: false,
            is_purge: false,
            value: value(tx, coll),
        },
    );
    s
}

/// What the store holds for `tx`: collection name → value.
fn held(store: &TransientStore, tx: u8) -> BTreeMap<String, Vec<u8>> {
    let Some(writes) = store.get(&txid(tx)).unwrap() else {
        return BTreeMap::new();
    };
    writes
        .collections()
        .map(|(ns, c)| {
            assert_eq!(ns, "cc");
            assert_eq!(c.writes.len(), 1, "one write per collection");
            (c.collection.clone(), c.writes[0].value.clone())
        })
        .collect()
}

/// Entry per transaction: arrival height and collections.
type Model = BTreeMap<u8, (u64, BTreeSet<usize>)>;

fn expected(model: &Model, tx: u8) -> BTreeMap<String, Vec<u8>> {
    model
        .get(&tx)
        .map(|(_, colls)| {
            colls
                .iter()
                .map(|c| (COLLECTIONS[*c].to_owned(), value(tx, *c)))
                .collect()
        })
        .unwrap_or_default()
}

fn check_exact(store: &TransientStore, model: &Model, when: &str) {
    for tx in 0..TXS {
        assert_eq!(held(store, tx), expected(model, tx), "{when}: tx {tx}");
    }
    assert_eq!(store.len().unwrap(), model.len() as u64, "{when}: entries");
}

fn run(ops: Vec<Op>) {
    let dir = tempfile::tempdir().unwrap();
    let mut store = TransientStore::open(dir.path()).unwrap();
    let mut model = Model::new();
    for (i, op) in ops.into_iter().enumerate() {
        let when = format!("step {i} ({op:?})");
        match op {
            Op::Persist {
                tx,
                height,
                coll,
                durable,
            } => {
                let s = set(tx, coll);
                if durable {
                    store.persist_durable(&txid(tx), height, &s).unwrap();
                } else {
                    store.persist(&txid(tx), height, &s).unwrap();
                }
                model
                    .entry(tx)
                    .or_insert_with(|| (height, BTreeSet::new()))
                    .1
                    .insert(coll);
            }
            Op::Cleanup {
                committed,
                purge_below,
            } => {
                let ids: Vec<TxId> = committed.iter().map(|t| txid(*t)).collect();
                store.cleanup(&ids, purge_below).unwrap();
                for t in &committed {
                    model.remove(t);
                }
                model.retain(|_, (h, _)| *h >= purge_below);
            }
            Op::Reopen { cut: None } => {
                drop(store);
                store = TransientStore::open(dir.path()).unwrap();
            }
            Op::Reopen { cut: Some(n) } => {
                drop(store);
                let path = dir.path().join(TRANSIENT_FILE);
                let bytes = std::fs::read(&path).unwrap();
                let keep = bytes.len() - usize::from(n) % (bytes.len() + 1);
                std::fs::write(&path, &bytes[..keep]).unwrap();
                store = TransientStore::open(dir.path()).unwrap();
                let after: Vec<_> = (0..TXS).map(|tx| held(&store, tx)).collect();
                for (tx, h) in after.iter().enumerate() {
                    for (coll, v) in h {
                        let c = COLLECTIONS.iter().position(|x| x == coll).unwrap();
                        assert_eq!(v, &value(tx as u8, c), "{when}: tx {tx} {coll}");
                    }
                }
                drop(store);
                store = TransientStore::open(dir.path()).unwrap();
                let again: Vec<_> = (0..TXS).map(|tx| held(&store, tx)).collect();
                assert_eq!(after, again, "{when}: a second reopen differs");
                if keep == bytes.len() {
                    check_exact(&store, &model, &when);
                }
                // Reset both, so the following steps are checked exactly.
                let all: Vec<TxId> = (0..TXS).map(txid).collect();
                store.cleanup(&all, u64::MAX).unwrap();
                model.clear();
            }
        }
        check_exact(&store, &model, &when);
    }
    drop(store);
    let store = TransientStore::open(dir.path()).unwrap();
    check_exact(&store, &model, "after the last reopen");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn the_transient_store_matches_the_model_across_reopens_and_cut_logs(
        ops in prop::collection::vec(op(), 1..40)
    ) {
        run(ops);
    }
}

/// A fixed sequence with a merge, a purge by height, a commit and a cut.
#[test]
fn merge_purge_commit_and_a_cut_log() {
    let p = |tx, height, coll| Op::Persist {
        tx,
        height,
        coll,
        durable: true,
    };
    run(vec![
        p(0, 1, 0),
        p(0, 5, 1),
        p(1, 2, 0),
        p(2, 6, 1),
        Op::Reopen { cut: None },
        Op::Cleanup {
            committed: vec![1],
            purge_below: 3,
        },
        p(3, 7, 0),
        Op::Reopen { cut: Some(5) },
        p(4, 7, 1),
        Op::Reopen { cut: None },
    ]);
}
