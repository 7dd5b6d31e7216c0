//! A ledger created without the key history index (an orderer's): the same
//! blocks commit to the same state and blocks as on a ledger with history,
//! no history entry is written, `verify_ledger` passes and refuses an entry
//! added by hand, and a history query says where to ask instead.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a panic is the failure report"
)]

use cairn_ledger::state::StateView;
use cairn_store::verify::verify_ledger;
use cairn_store::{LEDGER_FILE, Ledger};
use cairn_testkit::{TestNet, now, write_set};
use redb::{ReadableDatabase, ReadableTableMetadata, TableDefinition};

const HISTORY: TableDefinition<&[u8], ()> = TableDefinition::new("history");

fn history_entries(dir: &std::path::Path) -> u64 {
    let db = redb::Database::open(dir.join(LEDGER_FILE)).unwrap();
    let r = db.begin_read().unwrap();
    r.open_table(HISTORY).unwrap().len().unwrap()
}

#[test]
fn a_ledger_without_history_commits_the_same_blocks_and_keeps_no_index() {
    let net = TestNet::new(2);
    let (with, without) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let genesis = net.genesis();
    let a = Ledger::create(with.path(), &genesis).unwrap();
    let b = Ledger::create_without_history(without.path(), &genesis).unwrap();
    let (_, def) = net.define_contract_tx("asset", "");
    let first = a.append(vec![def], now(), net.orderer()).unwrap();
    b.commit(&first).unwrap();
    for i in 0..4 {
        let (_, tx) = net.endorsed_tx(
            &net.orgs[0].user,
            "asset",
            write_set("asset", &[("k", format!("v{i}").as_bytes())]),
            &[&net.orgs[0].peer, &net.orgs[1].peer],
        );
        let block = a.append(vec![tx], now(), net.orderer()).unwrap();
        b.commit(&block).unwrap();
    }
    assert_eq!(a.height(), b.height());
    for n in 0..a.height() {
        assert_eq!(a.block(n).unwrap(), b.block(n).unwrap(), "block {n}");
    }
    let (sa, sb) = (a.snapshot().unwrap(), b.snapshot().unwrap());
    assert_eq!(
        sa.state("asset", "k").unwrap(),
        sb.state("asset", "k").unwrap()
    );
    // The control: with history, the key's four versions are there.
    assert_eq!(sa.history("asset", "k").unwrap().len(), 4);
    let refused = sb.history("asset", "k").unwrap_err().to_string();
    assert!(refused.contains("keeps no key history"), "{refused}");
    drop((sa, sb, a, b));

    // Four writes of `k`, and the contract definition's own key.
    assert_eq!(history_entries(with.path()), 5);
    assert_eq!(history_entries(without.path()), 0);
    verify_ledger(with.path(), |_, _| {}).unwrap();
    verify_ledger(without.path(), |_, _| {}).unwrap();
    // The setting survives reopening.
    let b = Ledger::open(without.path()).unwrap();
    let (_, tx) = net.endorsed_tx(
        &net.orgs[0].user,
        "asset",
        write_set("asset", &[("k", b"after reopen")]),
        &[&net.orgs[0].peer, &net.orgs[1].peer],
    );
    b.append(vec![tx], now(), net.orderer()).unwrap();
    drop(b);
    assert_eq!(history_entries(without.path()), 0);

    // An entry added by hand to the ledger without history is caught.
    {
        let db = redb::Database::open(without.path().join(LEDGER_FILE)).unwrap();
        let w = db.begin_write().unwrap();
        w.open_table(HISTORY)
            .unwrap()
            .insert(b"asset\0k\0\0\0\0\0\0\0\0\x02\0\0\0\0".as_slice(), ())
            .unwrap();
        w.commit().unwrap();
    }
    let err = verify_ledger(without.path(), |_, _| {})
        .unwrap_err()
        .to_string();
    assert!(err.contains("history index differs"), "{err}");
}
