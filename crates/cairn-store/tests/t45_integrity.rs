//! A byte flipped in a stored block, on disk under redb, makes the ledger
//! refuse to open and name the block; a good copy of the block repairs it,
//! and a copy that is not the committed block is refused.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a panic is the failure report"
)]

use cairn_ledger::encoding::Canonical;
use cairn_store::integrity::{Repaired, damaged_blocks, repair_block};
use cairn_store::verify::verify_ledger;
use cairn_store::{LEDGER_FILE, Ledger, StoreError};
use cairn_testkit::TestNet;
use redb::TableDefinition;

const BLOCK_SUMS: TableDefinition<u64, &[u8]> = TableDefinition::new("block_sums");

/// A ledger of four blocks (genesis, a definition, two of writes).
fn build() -> (TestNet, tempfile::TempDir) {
    let net = TestNet::new(2);
    let dir = tempfile::tempdir().unwrap();
    drop(net.sample_ledger(dir.path(), 2));
    (net, dir)
}

/// Flips one byte in the middle of every copy of `needle` in the file
/// (redb may still hold an older copy of a page); answers how many.
fn flip_in_file(path: &std::path::Path, needle: &[u8]) -> usize {
    let mut bytes = std::fs::read(path).unwrap();
    let mut hits = 0;
    let mut i = 0;
    while i + needle.len() <= bytes.len() {
        if bytes[i..i + needle.len()] == *needle {
            bytes[i + needle.len() / 2] ^= 0x01;
            hits += 1;
            i += needle.len();
        } else {
            i += 1;
        }
    }
    std::fs::write(path, bytes).unwrap();
    hits
}

fn damaged_number(e: StoreError) -> u64 {
    match e {
        StoreError::DamagedBlock { number, .. } => number,
        other => panic!("expected a damaged-block error, got {other}"),
    }
}

#[test]
fn a_flipped_byte_on_disk_is_named_and_a_good_copy_repairs_it() {
    let (_net, dir) = build();
    let ledger = Ledger::open(dir.path()).expect("an untouched ledger opens");
    let good = ledger.block(2).unwrap().unwrap();
    drop(ledger);
    assert!(damaged_blocks(dir.path()).unwrap().is_empty());

    let hits = flip_in_file(&dir.path().join(LEDGER_FILE), &good.encode().unwrap());
    assert!(hits >= 1, "block 2's bytes are in the file");
    let err = Ledger::open(dir.path())
        .err()
        .expect("a damaged ledger is refused");
    let text = err.to_string();
    assert_eq!(damaged_number(err), 2, "{text}");
    assert!(
        text.contains("cairn node repair"),
        "says what to do: {text}"
    );
    assert_eq!(
        damaged_blocks(dir.path())
            .unwrap()
            .iter()
            .map(|d| d.number)
            .collect::<Vec<_>>(),
        vec![2]
    );
    assert!(verify_ledger(dir.path(), |_, _| {}).is_err());

    // A block that is not the committed one is refused, and changes nothing.
    let mut forged = good.clone();
    forged.metadata.last_config += 1;
    let refused = repair_block(dir.path(), &forged).unwrap_err();
    assert!(
        refused
            .to_string()
            .contains("not the block this ledger committed")
    );
    assert_eq!(damaged_blocks(dir.path()).unwrap().len(), 1);

    assert_eq!(repair_block(dir.path(), &good).unwrap(), Repaired::Block);
    assert_eq!(repair_block(dir.path(), &good).unwrap(), Repaired::Nothing);
    let ledger = Ledger::open(dir.path()).expect("the repaired ledger opens");
    assert_eq!(ledger.block(2).unwrap().unwrap(), good);
    drop(ledger);
    verify_ledger(dir.path(), |_, _| {}).expect("the repaired ledger verifies");
}

#[test]
fn a_damaged_record_is_named_and_rewritten_from_the_intact_block() {
    let (_net, dir) = build();
    let ledger = Ledger::open(dir.path()).unwrap();
    let good = ledger.block(3).unwrap().unwrap();
    drop(ledger);
    {
        let db = redb::Database::open(dir.path().join(LEDGER_FILE)).unwrap();
        let w = db.begin_write().unwrap();
        w.open_table(BLOCK_SUMS)
            .unwrap()
            .insert(3, [7u8; 32].as_slice())
            .unwrap();
        w.commit().unwrap();
    }
    assert_eq!(damaged_number(Ledger::open(dir.path()).err().unwrap()), 3);
    assert_eq!(repair_block(dir.path(), &good).unwrap(), Repaired::Record);
    Ledger::open(dir.path()).expect("the repaired ledger opens");
}
