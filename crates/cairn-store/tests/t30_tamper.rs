//! Changing any single byte of a stored block or state entry makes
//! `verify_ledger` fail and name the block.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a panic is the failure report"
)]

use cairn_store::LEDGER_FILE;
use cairn_store::verify::{VerifyError, verify_database, verify_ledger};
use cairn_testkit::{TestNet, now, write_set};
use redb::{ReadableDatabase, ReadableTable, TableDefinition};

const BLOCKS: TableDefinition<u64, &[u8]> = TableDefinition::new("blocks");
const STATE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("state");

fn build() -> (TestNet, tempfile::TempDir) {
    let net = TestNet::new(2);
    let dir = tempfile::tempdir().unwrap();
    let ledger = net.sample_ledger(dir.path(), 2);
    let (_, one) = net.endorsed_tx(
        &net.orgs[0].user,
        "asset",
        write_set("asset", &[("solo", b"one tx")]),
        &[&net.orgs[0].peer, &net.orgs[1].peer],
    );
    ledger.append(vec![one], now(), net.orderer()).unwrap();
    drop(ledger);
    verify_ledger(dir.path(), |_, _| {}).expect("the untouched ledger verifies");
    (net, dir)
}

fn rewrite_block(db: &redb::Database, n: u64, f: impl FnOnce(&mut Vec<u8>)) {
    let mut w = db.begin_write().unwrap();
    // Nothing here needs to survive a crash; skipping fsync keeps the sweep fast.
    w.set_durability(redb::Durability::None).unwrap();
    {
        let mut t = w.open_table(BLOCKS).unwrap();
        let mut v = t.get(n).unwrap().unwrap().value().to_vec();
        f(&mut v);
        t.insert(n, v.as_slice()).unwrap();
    }
    w.commit().unwrap();
}

fn rewrite_state(db: &redb::Database, key: &[u8], f: impl FnOnce(&mut Vec<u8>)) {
    let mut w = db.begin_write().unwrap();
    w.set_durability(redb::Durability::None).unwrap();
    {
        let mut t = w.open_table(STATE).unwrap();
        let mut v = t.get(key).unwrap().unwrap().value().to_vec();
        f(&mut v);
        t.insert(key, v.as_slice()).unwrap();
    }
    w.commit().unwrap();
}

fn blamed_block(db: &redb::Database) -> Option<u64> {
    match verify_database(db, |_, _| {}) {
        Err(VerifyError::BadBlock { number, .. }) => Some(number),
        _ => None,
    }
}

#[test]
fn every_byte_of_a_stored_block_is_covered() {
    let (_net, dir) = build();
    let db = redb::Database::open(dir.path().join(LEDGER_FILE)).unwrap();
    let len = db
        .begin_read()
        .unwrap()
        .open_table(BLOCKS)
        .unwrap()
        .get(4)
        .unwrap()
        .unwrap()
        .value()
        .len();
    // Every byte position of block 4 (one transaction), each flipped alone, then restored.
    for pos in 0..len {
        rewrite_block(&db, 4, |v| v[pos] ^= 0x01);
        let n = blamed_block(&db);
        assert_eq!(
            n,
            Some(4),
            "flipping byte {pos} of {len} of block 4 blamed block {n:?}"
        );
        rewrite_block(&db, 4, |v| v[pos] ^= 0x01);
    }
    verify_database(&db, |_, _| {}).expect("restored ledger verifies again");
}

#[test]
fn every_byte_of_a_state_entry_is_covered() {
    let (_net, dir) = build();
    let key = {
        let mut k = b"asset\0".to_vec();
        k.extend_from_slice(b"key01");
        k
    };
    let db = redb::Database::open(dir.path().join(LEDGER_FILE)).unwrap();
    let len = db
        .begin_read()
        .unwrap()
        .open_table(STATE)
        .unwrap()
        .get(key.as_slice())
        .unwrap()
        .unwrap()
        .value()
        .len();
    for pos in 0..len {
        rewrite_state(&db, key.as_slice(), |v| v[pos] ^= 0x01);
        let n = blamed_block(&db);
        assert_eq!(
            n,
            Some(2),
            "flipping byte {pos} of the state entry blamed block {n:?}"
        );
        rewrite_state(&db, key.as_slice(), |v| v[pos] ^= 0x01);
    }
}

#[test]
fn a_deleted_or_added_state_entry_is_caught() {
    let (_net, dir) = build();
    let db = redb::Database::open(dir.path().join(LEDGER_FILE)).unwrap();
    let w = db.begin_write().unwrap();
    w.open_table(STATE)
        .unwrap()
        .remove(b"asset\0key12".as_slice())
        .unwrap();
    w.commit().unwrap();
    assert_eq!(blamed_block(&db), Some(3));
}

#[test]
fn a_wrong_tree_node_is_blamed_on_the_block_that_completed_it() {
    const TREE: TableDefinition<(u8, u64), &[u8]> = TableDefinition::new("tree");
    let (_net, dir) = build();
    let db = redb::Database::open(dir.path().join(LEDGER_FILE)).unwrap();
    let mut w = db.begin_write().unwrap();
    w.set_durability(redb::Durability::None).unwrap();
    {
        let mut t = w.open_table(TREE).unwrap();
        // Leaves: genesis 0, definition 1, block 2 → 2..5, block 3 → 5..8.
        // Node (1, 3) covers leaves 6 and 7, both in block 3.
        let mut v = t.get((1u8, 3u64)).unwrap().unwrap().value().to_vec();
        v[0] ^= 1;
        t.insert((1u8, 3u64), v.as_slice()).unwrap();
    }
    w.commit().unwrap();
    assert_eq!(blamed_block(&db), Some(3));
}
