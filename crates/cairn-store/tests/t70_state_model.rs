//! Model-based test of the world state (issue 17 item 2), in the style of redb's
//! fuzzing against a `BTreeMap`: random blocks of transactions that read (at the
//! version seen when the block was built, or a stale one), write and delete a small
//! pool of keys. A separate model applies Fabric's rules — a transaction is valid
//! only if every read version equals the state left by the valid transactions
//! before it, in earlier blocks and earlier in the same block; valid writes get
//! version (block, index) and a history entry — and after every block the ledger's
//! validation codes, state with versions and per-key history must equal the
//! model's. At the end the ledger reopens to the same state and `verify_ledger`
//! accepts it.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a panic is the failure report"
)]

use std::collections::BTreeMap;

use cairn_ledger::ids::{TxId, Version};
use cairn_ledger::rwset::{KvRead, KvWrite, NsRwSet, TxRwSet};
use cairn_ledger::state::StateView;
use cairn_ledger::validation::ValidationCode;
use cairn_store::Ledger;
use cairn_store::verify::verify_ledger;
use cairn_testkit::{TestNet, now};
use proptest::prelude::*;

const NS: &str = "asset";
const KEYS: usize = 5;

/// One generated transaction.
#[derive(Clone, Debug)]
struct Op {
    /// Keys read, and whether the read version is made stale on purpose.
    reads: Vec<(usize, bool)>,
    /// Keys written (`Some(byte)`: a value; `None`: a delete).
    writes: Vec<(usize, Option<u8>)>,
}

fn op() -> impl Strategy<Value = Op> {
    (
        prop::collection::vec((0..KEYS, prop::bool::weighted(0.15)), 0..3),
        prop::collection::vec((0..KEYS, prop::option::weighted(0.8, any::<u8>())), 1..4),
    )
        .prop_map(|(reads, writes)| Op { reads, writes })
}

fn key(i: usize) -> String {
    format!("k{i}")
}

/// What the model says the ledger holds.
#[derive(Default)]
struct Model {
    state: BTreeMap<String, (Vec<u8>, Version)>,
    /// Per key, newest first: (txid, is_delete, value).
    history: BTreeMap<String, Vec<(TxId, bool, Vec<u8>)>>,
}

/// The transaction's read/write set, with read versions taken from `seen`.
fn rwset(op: &Op, seen: &BTreeMap<String, (Vec<u8>, Version)>) -> TxRwSet {
    let mut reads: BTreeMap<String, Option<Version>> = BTreeMap::new();
    for (k, stale) in &op.reads {
        let current = seen.get(&key(*k)).map(|(_, v)| *v);
        let version = if *stale {
            // A version that never existed for this key.
            Some(Version {
                block: 9_999,
                tx: 7,
            })
        } else {
            current
        };
        reads.entry(key(*k)).or_insert(version);
    }
    let mut writes: BTreeMap<String, KvWrite> = BTreeMap::new();
    for (k, v) in &op.writes {
        writes.insert(
            key(*k),
            KvWrite {
                key: key(*k),
                is_delete: v.is_none(),
                value: v.map(|b| vec![b'v', b]).unwrap_or_default(),
            },
        );
    }
    TxRwSet {
        namespaces: vec![NsRwSet {
            namespace: NS.into(),
            reads: reads
                .into_iter()
                .map(|(key, version)| KvRead { key, version })
                .collect(),
            writes: writes.into_values().collect(),
            ..NsRwSet::default()
        }],
    }
}

impl Model {
    /// Applies one block; returns the expected code of each transaction.
    fn apply(&mut self, block: u64, txs: &[(TxId, TxRwSet)]) -> Vec<ValidationCode> {
        let mut codes = Vec::new();
        for (i, (txid, set)) in txs.iter().enumerate() {
            let ns = &set.namespaces[0];
            let fresh = ns
                .reads
                .iter()
                .all(|r| self.state.get(&r.key).map(|(_, v)| *v) == r.version);
            if !fresh {
                codes.push(ValidationCode::MvccReadConflict);
                continue;
            }
            let version = Version {
                block,
                tx: i as u32,
            };
            for w in &ns.writes {
                if w.is_delete {
                    self.state.remove(&w.key);
                } else {
                    self.state.insert(w.key.clone(), (w.value.clone(), version));
                }
                self.history
                    .entry(w.key.clone())
                    .or_default()
                    .insert(0, (*txid, w.is_delete, w.value.clone()));
            }
            codes.push(ValidationCode::Valid);
        }
        codes
    }

    fn check(&self, ledger: &Ledger, when: &str) {
        let snap = ledger.snapshot().unwrap();
        let state: BTreeMap<String, (Vec<u8>, Version)> = snap
            .range(NS, "", "", 0)
            .unwrap()
            .into_iter()
            .map(|(k, v)| (k, (v.value, v.version)))
            .collect();
        assert_eq!(state, self.state, "{when}: state");
        for i in 0..KEYS {
            let got: Vec<(TxId, bool, Vec<u8>)> = snap
                .history(NS, &key(i))
                .unwrap()
                .into_iter()
                .map(|h| (h.txid, h.is_delete, h.value))
                .collect();
            let want = self.history.get(&key(i)).cloned().unwrap_or_default();
            assert_eq!(got, want, "{when}: history of {}", key(i));
        }
    }
}

/// Runs the blocks; answers how many transactions were valid and how many had a
/// read conflict.
fn run(blocks: Vec<Vec<Op>>) -> (usize, usize) {
    let dir = tempfile::tempdir().unwrap();
    let net = TestNet::new(2);
    let ledger = net.ledger(&dir.path().join("ledger"));
    let (_, def) = net.define_contract_tx(NS, "");
    ledger.append(vec![def], now(), net.orderer()).unwrap();
    let endorsers = [&net.orgs[0].peer, &net.orgs[1].peer];
    let mut model = Model::default();
    let mut valid = 0;
    let mut conflicts = 0;
    for (b, ops) in blocks.iter().enumerate() {
        let number = ledger.height();
        // Every transaction of a block is built against the state before it.
        let seen = model.state.clone();
        let txs: Vec<(TxId, TxRwSet, Vec<u8>)> = ops
            .iter()
            .map(|op| {
                let set = rwset(op, &seen);
                let (txid, env) =
                    net.endorsed_tx(&net.orgs[b % 2].user, NS, set.clone(), &endorsers);
                (txid, set, env)
            })
            .collect();
        let block = ledger
            .append(
                txs.iter().map(|t| t.2.clone()).collect(),
                now(),
                net.orderer(),
            )
            .unwrap();
        assert_eq!(block.header.number, number);
        let expected = model.apply(
            number,
            &txs.iter().map(|t| (t.0, t.1.clone())).collect::<Vec<_>>(),
        );
        for ((txid, _, _), want) in txs.iter().zip(&expected) {
            let got = ledger.tx(txid).unwrap().unwrap().code;
            assert_eq!(got, *want, "block {number}: tx {txid}");
            valid += usize::from(*want == ValidationCode::Valid);
            conflicts += usize::from(*want == ValidationCode::MvccReadConflict);
        }
        model.check(&ledger, &format!("after block {number}"));
    }
    // Reopened from disk: the same state and history, and the ledger verifies.
    let path = ledger.dir().to_owned();
    drop(ledger);
    let reopened = Ledger::open(&path).unwrap();
    model.check(&reopened, "after reopening");
    drop(reopened);
    verify_ledger(&path, |_, _| {}).unwrap();
    (valid, conflicts)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn world_state_versions_and_history_match_the_model(
        blocks in prop::collection::vec(prop::collection::vec(op(), 1..6), 1..7)
    ) {
        run(blocks);
    }
}

/// A fixed case with each rule at least once: a read at the version seen, a read
/// made stale by an earlier transaction of the same block, a deliberately stale
/// read, a delete, and a write after a delete.
#[test]
fn each_mvcc_rule_is_exercised_by_a_fixed_case() {
    let w = |k, v| (k, Some(v));
    let (valid, conflicts) = run(vec![
        vec![Op {
            reads: vec![],
            writes: vec![w(0, 1), w(1, 2)],
        }],
        vec![
            Op {
                reads: vec![(0, false)],
                writes: vec![w(0, 3)],
            },
            // Read k0 at the version before the block: the first tx changed it.
            Op {
                reads: vec![(0, false)],
                writes: vec![w(2, 4)],
            },
            Op {
                reads: vec![(1, true)],
                writes: vec![w(3, 5)],
            },
            Op {
                reads: vec![(1, false)],
                writes: vec![(1, None)],
            },
        ],
        vec![Op {
            reads: vec![(1, false)],
            writes: vec![w(1, 6)],
        }],
    ]);
    // Valid: block 1's write, block 2's first and fourth, block 3's. Conflicts: the
    // read overtaken within the block and the deliberately stale read.
    assert_eq!((valid, conflicts), (4, 2));
}
