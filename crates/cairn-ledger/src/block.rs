//! Blocks: ordered batches of envelopes, chained by hash, each carrying the
//! channel's Merkle tree head over every transaction ever ordered.
//!
//! Invariants:
//! - `header.previous_hash` is [`BlockHeader::hash`] of the block before (zero for block 0).
//! - `header.data_hash` is [`Block::compute_data_hash`] over `data`.
//! - `metadata.validation_codes` has one code per envelope in `data`.
//! - The tree after this block holds one leaf per envelope of every block so
//!   far; leaf = [`tx_leaf`] (envelope hash and validation code), so the
//!   header's `tree_size`/`tree_root` commit to every validation result.
//! - Orderer signatures sign [`BlockHeader::signed_bytes`] (header and signer certificate).

use cairn_crypto::Digest;
use serde::{Deserialize, Serialize};
use serde_with::{Bytes, IfIsHumanReadable, hex::Hex, serde_as};

use crate::encoding::{Canonical, EncodingError};
use crate::ids::Timestamp;
use crate::validation::ValidationCode;

/// A block header: what orderers sign and receipts carry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockHeader {
    /// The channel the block belongs to.
    pub channel: String,
    /// Block number, from 0 (the genesis block).
    pub number: u64,
    /// Hash of the previous block's header (zero for the genesis block).
    pub previous_hash: Digest,
    /// Hash over the block's envelopes.
    pub data_hash: Digest,
    /// The time the block was cut; certificates are checked at this time.
    pub timestamp: Timestamp,
    /// Number of leaves in the channel's transaction tree after this block.
    pub tree_size: u64,
    /// RFC 9162 root of that tree.
    pub tree_root: Digest,
}

impl BlockHeader {
    /// The header's hash, which the next block links to.
    pub fn hash(&self) -> Result<Digest, EncodingError> {
        Ok(cairn_crypto::sha256(&self.encode()?))
    }

    /// The bytes an orderer signs: a domain tag, the encoded header and the
    /// signer's own certificate, so the certificate bytes are covered too.
    pub fn signed_bytes(&self, signer_cert: &[u8]) -> Result<Vec<u8>, EncodingError> {
        let mut b = b"cairn-block-header-v1\0".to_vec();
        b.extend_from_slice(&self.encode()?);
        b.extend_from_slice(signer_cert);
        Ok(b)
    }
}

/// An orderer's signature over a block header.
#[serde_as]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderSignature {
    /// The orderer's certificate (DER).
    #[serde_as(as = "IfIsHumanReadable<Hex, Bytes>")]
    pub signer: Vec<u8>,
    /// Signature over [`BlockHeader::signed_bytes`].
    #[serde_as(as = "IfIsHumanReadable<Hex, Bytes>")]
    pub signature: Vec<u8>,
}

/// What a block says about itself besides its data.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockMetadata {
    /// One validation code per envelope.
    pub validation_codes: Vec<ValidationCode>,
    /// Orderer signatures over the header.
    pub signatures: Vec<HeaderSignature>,
    /// Number of the block holding the channel configuration in force.
    pub last_config: u64,
}

/// A block.
#[serde_as]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Block {
    /// The signed header.
    pub header: BlockHeader,
    /// Encoded envelopes, in order.
    #[serde_as(as = "Vec<IfIsHumanReadable<Hex, Bytes>>")]
    pub data: Vec<Vec<u8>>,
    /// Validation codes and signatures.
    pub metadata: BlockMetadata,
}

impl Block {
    /// The data hash: SHA-256 over the concatenation of each envelope's SHA-256.
    pub fn compute_data_hash(data: &[Vec<u8>]) -> Digest {
        let mut all = Vec::with_capacity(data.len() * 32);
        for env in data {
            all.extend_from_slice(cairn_crypto::sha256(env).as_bytes());
        }
        cairn_crypto::sha256(&all)
    }
}

/// The Merkle leaf for one transaction: its envelope hash followed by its
/// one-byte validation code (33 bytes).
pub fn tx_leaf(envelope_hash: &Digest, code: ValidationCode) -> Vec<u8> {
    let mut leaf = Vec::with_capacity(33);
    leaf.extend_from_slice(envelope_hash.as_bytes());
    leaf.push(code as u8);
    leaf
}
