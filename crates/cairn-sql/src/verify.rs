//! Verification as a pure function: given everything read from the database (a
//! [`Snapshot`]) and the digests the caller trusts, list every inconsistency and the last
//! block that verified. No I/O here, so the decision "which rows are reported" is tested
//! without a database.
//!
//! The chain of trust, from the outside in: a trusted digest fixes a block hash; each block
//! fixes the previous block's hash and its transactions' root; each transaction entry fixes
//! its table hashes; each table hash is the Merkle root of the stored row-event leaf
//! hashes; and each stored leaf hash must equal the hash recomputed from the row version
//! that is in the table or its history now. Because the stored leaves are themselves
//! checked against the table hash, a mismatch between a stored leaf and a recomputed row
//! names the exact row, transaction and sequence number.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use cairn_merkle::Hash;
use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::encoding::{self, Block, OP_DELETE, OP_INSERT, TransactionEntry};
use crate::schema::TableSchema;

/// A transaction as stored in `cairn_ledger_transactions`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredTransaction {
    /// Transaction id.
    pub transaction_id: i64,
    /// Commit time as stored.
    pub commit_time: String,
    /// Principal as stored.
    pub principal_name: String,
    /// The block it is in, once one closed over it.
    pub block_id: Option<i64>,
    /// Its position in that block.
    pub transactional_ordinal: Option<i64>,
}

/// A row-event leaf hash as stored when its block closed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredLeaf {
    /// Table id.
    pub table_id: u32,
    /// Transaction id.
    pub transaction_id: i64,
    /// Sequence number.
    pub sequence_number: i64,
    /// 1 INSERT, 2 DELETE.
    pub operation: i64,
    /// The row's key as recorded then (JSON object).
    pub row_key: String,
    /// The leaf hash.
    pub hash: Hash,
}

/// A row event recomputed from a row version in a table or its history now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// Table id.
    pub table_id: u32,
    /// Transaction and sequence number; `None` when the hidden columns are NULL (a row
    /// written with the triggers disabled).
    pub stamp: Option<(i64, i64)>,
    /// 1 INSERT, 2 DELETE.
    pub operation: u8,
    /// The recomputed leaf hash.
    pub hash: Hash,
    /// The row's key now (JSON object).
    pub row_key: String,
    /// Whether the row version is in the history table.
    pub in_history: bool,
}

/// Everything verification reads from the database.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// Blocks as stored.
    pub blocks: Vec<Block>,
    /// Transactions as stored.
    pub transactions: Vec<StoredTransaction>,
    /// `(transaction_id, table_id, hash)` as stored.
    pub table_hashes: Vec<(i64, u32, Hash)>,
    /// Leaf hashes as stored.
    pub leaves: Vec<StoredLeaf>,
    /// The ledger tables (dropped ones too).
    pub tables: Vec<TableSchema>,
    /// Events recomputed from the rows.
    pub events: Vec<Event>,
    /// Tables whose physical table or history could not be read, with the reason.
    pub unreadable: Vec<(u32, String)>,
}

/// What kind of inconsistency was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A block's `previous_block_hash` is not the hash of the block before it, or a block
    /// is missing from the sequence.
    BlockChainBroken,
    /// A trusted digest does not match the block it names.
    DigestMismatch,
    /// A row version that ended (DELETE event) is not in the history table.
    HistoryMissing,
    /// A row version differs from what was hashed.
    RowChanged,
    /// A row version that was created (INSERT event) is in neither the table nor its history.
    RowMissing,
    /// A ledger table or its history table is gone or unreadable.
    TableMissing,
    /// The stored row hashes of a transaction on a table do not make its table hash.
    TableHashMismatch,
    /// A block's stored transactions do not make its transactions root.
    TransactionsRootMismatch,
    /// A row version that no ledger transaction created (written with triggers disabled,
    /// or its hidden columns were changed).
    UnexpectedRow,
}

/// One inconsistency, with every coordinate that is known.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inconsistency {
    /// What is wrong.
    pub kind: Kind,
    /// The block concerned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub block_id: Option<i64>,
    /// The table's name (as created).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    /// The transaction concerned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<i64>,
    /// The sequence number within it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sequence_number: Option<i64>,
    /// The row's key (JSON object).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub row_key: Option<String>,
    /// A sentence saying what differs.
    pub detail: String,
}

/// The outcome of a verification.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// Every inconsistency found, ordered by block, table, transaction, sequence number.
    pub inconsistencies: Vec<Inconsistency>,
    /// The last block such that it and every block before it verified.
    pub last_verified_block_id: Option<i64>,
    /// The last verified block that a trusted digest covers (the guarantee holds up to it).
    pub last_anchored_block_id: Option<i64>,
    /// Number of blocks checked.
    pub blocks: usize,
    /// Number of row events recomputed.
    pub row_events: usize,
    /// Number of digests checked.
    pub digests: usize,
}

impl Report {
    /// Whether nothing was found.
    pub fn is_ok(&self) -> bool {
        self.inconsistencies.is_empty()
    }
}

struct Finder<'a> {
    names: HashMap<u32, &'a str>,
    txn_block: HashMap<i64, Option<i64>>,
    found: Vec<Inconsistency>,
}

impl Finder<'_> {
    fn add(
        &mut self,
        kind: Kind,
        table: Option<u32>,
        txn: Option<i64>,
        seq: Option<i64>,
        key: Option<&str>,
        detail: String,
    ) {
        let block_id = txn.and_then(|t| self.txn_block.get(&t).copied().flatten());
        let table = table.map(|id| {
            self.names
                .get(&id)
                .map_or_else(|| format!("#{id}"), |n| (*n).to_owned())
        });
        self.found.push(Inconsistency {
            kind,
            block_id,
            table,
            transaction_id: txn,
            sequence_number: seq,
            row_key: key.map(str::to_owned),
            detail,
        });
    }
}

/// Checks `snapshot` against itself and against `digests`.
pub fn verify(snapshot: &Snapshot, digests: &[Digest]) -> Report {
    let mut f = Finder {
        names: snapshot
            .tables
            .iter()
            .map(|t| (t.table_id, t.name.as_str()))
            .collect(),
        txn_block: snapshot
            .transactions
            .iter()
            .map(|t| (t.transaction_id, t.block_id))
            .collect(),
        found: Vec::new(),
    };
    let block_hashes = check_chain(snapshot, &mut f);
    check_blocks(snapshot, &mut f);
    check_table_hashes(snapshot, &mut f);
    check_rows(snapshot, &mut f);
    for (id, reason) in &snapshot.unreadable {
        f.add(
            Kind::TableMissing,
            Some(*id),
            None,
            None,
            None,
            reason.clone(),
        );
    }
    let mut anchored = Vec::new();
    for d in digests {
        match block_hashes.get(&d.block_id) {
            None => f.found.push(Inconsistency {
                kind: Kind::DigestMismatch,
                block_id: Some(d.block_id),
                table: None,
                transaction_id: None,
                sequence_number: None,
                row_key: None,
                detail: format!(
                    "the digest names block {}, which the database does not have",
                    d.block_id
                ),
            }),
            Some(hash) if d.hash_bytes() != Some(*hash) => f.found.push(Inconsistency {
                kind: Kind::DigestMismatch,
                block_id: Some(d.block_id),
                table: None,
                transaction_id: None,
                sequence_number: None,
                row_key: None,
                detail: format!(
                    "the hash of block {} in the database ledger is {} but the digest says {}",
                    d.block_id,
                    crate::digest::format_hash(hash),
                    d.hash
                ),
            }),
            Some(_) => anchored.push(d.block_id),
        }
    }
    let mut found = f.found;
    found.sort_by(|a, b| {
        (
            a.block_id,
            &a.table,
            a.transaction_id,
            a.sequence_number,
            a.kind,
        )
            .cmp(&(
                b.block_id,
                &b.table,
                b.transaction_id,
                b.sequence_number,
                b.kind,
            ))
    });
    // A DigestMismatch, unlike the others, says nothing about the blocks before it, but
    // the block it names is not verified.
    let first_bad = found.iter().filter_map(|i| i.block_id).min();
    let last_block = snapshot.blocks.iter().map(|b| b.block_id).max();
    let last_verified = match first_bad {
        Some(0) => None,
        Some(bad) => Some(bad - 1).filter(|b| last_block.is_some_and(|l| *b <= l)),
        None => last_block,
    };
    let last_anchored = anchored
        .into_iter()
        .filter(|b| last_verified.is_some_and(|v| *b <= v))
        .max();
    Report {
        inconsistencies: found,
        last_verified_block_id: last_verified,
        last_anchored_block_id: last_anchored,
        blocks: snapshot.blocks.len(),
        row_events: snapshot.events.len(),
        digests: digests.len(),
    }
}

/// Recomputes every block hash and checks the links; returns the hashes by block id.
fn check_chain(snapshot: &Snapshot, f: &mut Finder<'_>) -> BTreeMap<i64, Hash> {
    let mut blocks: Vec<&Block> = snapshot.blocks.iter().collect();
    blocks.sort_by_key(|b| b.block_id);
    let mut hashes = BTreeMap::new();
    let mut previous = Hash::new([0; 32]);
    for (expected_id, block) in (0i64..).zip(&blocks) {
        let mut problem = None;
        if block.block_id != expected_id {
            problem = Some(format!(
                "block {expected_id} is missing: the next block stored is {}",
                block.block_id
            ));
        } else if block.previous_block_hash != previous {
            problem = Some(format!(
                "previous_block_hash of block {} is {} but the hash of block {} is {}",
                block.block_id,
                crate::digest::format_hash(&block.previous_block_hash),
                block.block_id - 1,
                crate::digest::format_hash(&previous)
            ));
        }
        if let Some(detail) = problem {
            f.found.push(Inconsistency {
                kind: Kind::BlockChainBroken,
                block_id: Some(block.block_id),
                table: None,
                transaction_id: None,
                sequence_number: None,
                row_key: None,
                detail,
            });
        }
        previous = encoding::block_hash(block);
        hashes.insert(block.block_id, previous);
    }
    hashes
}

/// Recomputes each block's transactions root from the stored transaction entries.
fn check_blocks(snapshot: &Snapshot, f: &mut Finder<'_>) {
    let mut by_txn: HashMap<i64, Vec<(u32, Hash)>> = HashMap::new();
    for (txn, table, hash) in &snapshot.table_hashes {
        by_txn.entry(*txn).or_default().push((*table, *hash));
    }
    let mut by_block: BTreeMap<i64, Vec<&StoredTransaction>> = BTreeMap::new();
    for t in &snapshot.transactions {
        if let Some(b) = t.block_id {
            by_block.entry(b).or_default().push(t);
        }
    }
    for block in &snapshot.blocks {
        let mut txns = by_block.remove(&block.block_id).unwrap_or_default();
        txns.sort_by_key(|t| (t.transactional_ordinal, t.transaction_id));
        let leaves: Vec<Hash> = txns
            .iter()
            .map(|t| {
                encoding::transaction_hash(&TransactionEntry {
                    transaction_id: t.transaction_id,
                    commit_time: t.commit_time.clone(),
                    principal_name: t.principal_name.clone(),
                    table_hashes: by_txn.get(&t.transaction_id).cloned().unwrap_or_default(),
                })
            })
            .collect();
        let root = encoding::merkle_root(&leaves);
        if root != block.transactions_root_hash || txns.len() as i64 != block.block_size {
            let ids: Vec<String> = txns.iter().map(|t| t.transaction_id.to_string()).collect();
            f.found.push(Inconsistency {
                kind: Kind::TransactionsRootMismatch,
                block_id: Some(block.block_id),
                table: None,
                transaction_id: None,
                sequence_number: None,
                row_key: None,
                detail: format!(
                    "block {} holds {} transactions ({}) whose entries do not make its transactions root (block_size {}): a transaction's commit time, principal, table hashes or block assignment changed",
                    block.block_id,
                    txns.len(),
                    ids.join(", "),
                    block.block_size
                ),
            });
        }
    }
    // Transactions claiming a block that does not exist.
    for (block_id, txns) in by_block {
        for t in txns {
            f.found.push(Inconsistency {
                kind: Kind::BlockChainBroken,
                block_id: Some(block_id),
                table: None,
                transaction_id: Some(t.transaction_id),
                sequence_number: None,
                row_key: None,
                detail: format!(
                    "transaction {} claims block {block_id}, which does not exist",
                    t.transaction_id
                ),
            });
        }
    }
}

/// Checks the stored leaf hashes of each (transaction, table) against its table hash.
fn check_table_hashes(snapshot: &Snapshot, f: &mut Finder<'_>) {
    let mut leaves: BTreeMap<(i64, u32), Vec<&StoredLeaf>> = BTreeMap::new();
    for leaf in &snapshot.leaves {
        leaves
            .entry((leaf.transaction_id, leaf.table_id))
            .or_default()
            .push(leaf);
    }
    let stored: BTreeMap<(i64, u32), Hash> = snapshot
        .table_hashes
        .iter()
        .map(|(t, id, h)| ((*t, *id), *h))
        .collect();
    let keys: BTreeSet<(i64, u32)> = leaves.keys().chain(stored.keys()).copied().collect();
    for key in keys {
        let mut list = leaves.get(&key).cloned().unwrap_or_default();
        list.sort_by_key(|l| l.sequence_number);
        let root = encoding::table_root(&list.iter().map(|l| l.hash).collect::<Vec<_>>());
        if stored.get(&key) != Some(&root) {
            f.add(
                Kind::TableHashMismatch,
                Some(key.1),
                Some(key.0),
                None,
                None,
                format!(
                    "the {} stored row hashes of transaction {} on this table do not make its table hash: the ledger's row-hash records were changed",
                    list.len(),
                    key.0
                ),
            );
        }
    }
}

/// Compares each stored leaf with the row version now in the table or its history.
fn check_rows(snapshot: &Snapshot, f: &mut Finder<'_>) {
    let mut actual: HashMap<(u32, i64, i64), Vec<&Event>> = HashMap::new();
    for e in &snapshot.events {
        match e.stamp {
            Some((txn, seq)) => actual.entry((e.table_id, txn, seq)).or_default().push(e),
            None => f.add(
                Kind::UnexpectedRow,
                Some(e.table_id),
                None,
                None,
                Some(&e.row_key),
                format!(
                    "a row version in the {} has no ledger transaction (its hidden columns are NULL): it was written with the ledger's triggers disabled",
                    if e.in_history { "history table" } else { "table" }
                ),
            ),
        }
    }
    for leaf in &snapshot.leaves {
        let key = (leaf.table_id, leaf.transaction_id, leaf.sequence_number);
        let Some(mut events) = actual.remove(&key) else {
            let (kind, what) = if leaf.operation == i64::from(OP_DELETE) {
                (
                    Kind::HistoryMissing,
                    "the ended row version is not in the history table",
                )
            } else {
                (
                    Kind::RowMissing,
                    "the created row version is in neither the table nor its history",
                )
            };
            f.add(
                kind,
                Some(leaf.table_id),
                Some(leaf.transaction_id),
                Some(leaf.sequence_number),
                Some(&leaf.row_key),
                what.to_owned(),
            );
            continue;
        };
        // The one that matches, if any, is the row; any other is unexpected.
        let position = events.iter().position(|e| e.hash == leaf.hash);
        let first = match position {
            Some(p) => events.remove(p),
            None => {
                let e = events.remove(0);
                let changed_key = if e.row_key == leaf.row_key {
                    String::new()
                } else {
                    format!(" (the key was {} when hashed)", leaf.row_key)
                };
                f.add(
                    Kind::RowChanged,
                    Some(leaf.table_id),
                    Some(leaf.transaction_id),
                    Some(leaf.sequence_number),
                    Some(&e.row_key),
                    format!(
                        "the {} version of the row in the {} differs from what was hashed{changed_key}",
                        if leaf.operation == i64::from(OP_INSERT) { "created" } else { "ended" },
                        if e.in_history { "history table" } else { "table" }
                    ),
                );
                e
            }
        };
        let _ = first;
        for e in events {
            f.add(
                Kind::UnexpectedRow,
                Some(e.table_id),
                Some(leaf.transaction_id),
                Some(leaf.sequence_number),
                Some(&e.row_key),
                "a second row version claims this transaction and sequence number".into(),
            );
        }
    }
    // What is left was never hashed: fine for transactions not yet in a block.
    let mut rest: Vec<&Event> = actual.into_values().flatten().collect();
    rest.sort_by_key(|e| (e.table_id, e.stamp));
    for e in rest {
        let Some((txn, seq)) = e.stamp else { continue };
        let pending = matches!(f.txn_block.get(&txn), Some(None));
        if !pending {
            let why = if f.txn_block.contains_key(&txn) {
                "this transaction's closed block does not list it"
            } else {
                "no such ledger transaction exists"
            };
            f.add(
                Kind::UnexpectedRow,
                Some(e.table_id),
                Some(txn),
                Some(seq),
                Some(&e.row_key),
                format!(
                    "a row version in the {} claims transaction {txn}, sequence {seq}, but {why}",
                    if e.in_history {
                        "history table"
                    } else {
                        "table"
                    }
                ),
            );
        }
    }
}
