//! A single row version with its proof up to a digest (immudb's verified read, for
//! ledger tables): the row event's leaf is in its table tree, whose root is in the
//! transaction entry, whose hash is in the block's transactions tree, whose block hash
//! chains forward to the block a digest names. [`RowProof::verify`] needs nothing but the
//! proof and the digest.

use cairn_merkle::{Hash, InclusionProof};
use serde::{Deserialize, Serialize};

use crate::digest::{Digest, format_hash};
use crate::encoding::{self, Block, Stamp, TransactionEntry};
use crate::schema::{Column, Value};

/// A block header as carried in a proof (hashes as hex).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockHeader {
    /// Block id.
    pub block_id: i64,
    /// Merkle root over its transactions.
    pub transactions_root_hash: Hash,
    /// Number of transactions.
    pub block_size: i64,
    /// The previous block's hash.
    pub previous_block_hash: Hash,
}

impl From<&Block> for BlockHeader {
    fn from(b: &Block) -> Self {
        Self {
            block_id: b.block_id,
            transactions_root_hash: b.transactions_root_hash,
            block_size: b.block_size,
            previous_block_hash: b.previous_block_hash,
        }
    }
}

impl BlockHeader {
    fn block(&self) -> Block {
        Block {
            block_id: self.block_id,
            transactions_root_hash: self.transactions_root_hash,
            block_size: self.block_size,
            previous_block_hash: self.previous_block_hash,
        }
    }
}

/// A row version and the proof that it was recorded, up to a digest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RowProof {
    /// The table's name.
    pub table: String,
    /// The table's id (part of the leaf).
    pub table_id: u32,
    /// The columns, in ordinal order (names, ordinals and types enter the encoding).
    pub columns: Vec<Column>,
    /// The row's values, in column order.
    pub values: Vec<Value>,
    /// The transaction and sequence number that created this version.
    pub start_transaction_id: i64,
    /// See `start_transaction_id`.
    pub start_sequence_number: i64,
    /// The row event's position among its transaction's events on this table.
    pub event_proof: InclusionProof,
    /// The transaction's entry: id, commit time, principal, table hashes.
    pub commit_time: String,
    /// See `commit_time`.
    pub principal_name: String,
    /// `(table_id, table hash)` of every table the transaction wrote.
    pub table_hashes: Vec<(u32, Hash)>,
    /// The transaction's position in its block.
    pub transaction_proof: InclusionProof,
    /// The block holding the transaction, then every later block up to the digest's.
    pub blocks: Vec<BlockHeader>,
}

/// Why a row proof does not hold.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProofError {
    /// The row event is not in the table hash the transaction entry carries.
    #[error(
        "the row is not in table {table}'s hash for transaction {transaction_id}: a value, a stamp or the proof was changed"
    )]
    Row {
        /// Table name.
        table: String,
        /// Transaction id.
        transaction_id: i64,
    },
    /// The transaction entry has no hash for this table.
    #[error("transaction {0}'s entry has no hash for this table")]
    NoTableHash(i64),
    /// The transaction entry is not in the block's transactions root.
    #[error("transaction {transaction_id} is not in block {block_id}'s transactions root")]
    Transaction {
        /// Transaction id.
        transaction_id: i64,
        /// Block id.
        block_id: i64,
    },
    /// A block does not chain to the next.
    #[error("block {0} does not chain to the block after it")]
    Chain(i64),
    /// The last block is not the digest's, or its hash differs.
    #[error(
        "the proof ends at block {block_id} with hash {hash}, but the digest names block {digest_block} with hash {digest_hash}"
    )]
    Digest {
        /// Last block of the proof.
        block_id: i64,
        /// Its hash.
        hash: String,
        /// The digest's block.
        digest_block: i64,
        /// The digest's hash.
        digest_hash: String,
    },
    /// The proof carries no block.
    #[error("the proof carries no block")]
    NoBlock,
}

impl RowProof {
    /// Checks the whole chain from the row to `digest`.
    pub fn verify(&self, digest: &Digest) -> Result<(), ProofError> {
        let start = Stamp {
            transaction_id: self.start_transaction_id,
            sequence_number: self.start_sequence_number,
        };
        let leaf = encoding::event_hash(self.table_id, start, None, &self.columns, &self.values);
        let root = self.event_proof.root(&leaf).map_err(|_| self.row_error())?;
        let table_hash = self
            .table_hashes
            .iter()
            .find(|(id, _)| *id == self.table_id)
            .map(|(_, h)| *h)
            .ok_or(ProofError::NoTableHash(self.start_transaction_id))?;
        if root != table_hash {
            return Err(self.row_error());
        }
        let first = self.blocks.first().ok_or(ProofError::NoBlock)?;
        let txn = encoding::transaction_hash(&TransactionEntry {
            transaction_id: self.start_transaction_id,
            commit_time: self.commit_time.clone(),
            principal_name: self.principal_name.clone(),
            table_hashes: self.table_hashes.clone(),
        });
        self.transaction_proof
            .verify(&txn, &first.transactions_root_hash)
            .map_err(|_| ProofError::Transaction {
                transaction_id: self.start_transaction_id,
                block_id: first.block_id,
            })?;
        let mut hash = encoding::block_hash(&first.block());
        let mut last = first;
        for next in &self.blocks[1..] {
            if next.previous_block_hash != hash || next.block_id != last.block_id + 1 {
                return Err(ProofError::Chain(last.block_id));
            }
            hash = encoding::block_hash(&next.block());
            last = next;
        }
        if last.block_id != digest.block_id || digest.hash_bytes() != Some(hash) {
            return Err(ProofError::Digest {
                block_id: last.block_id,
                hash: format_hash(&hash),
                digest_block: digest.block_id,
                digest_hash: digest.hash.clone(),
            });
        }
        Ok(())
    }

    fn row_error(&self) -> ProofError {
        ProofError::Row {
            table: self.table.clone(),
            transaction_id: self.start_transaction_id,
        }
    }
}
