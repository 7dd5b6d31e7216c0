//! Receipts: offline proof that a transaction is in a channel's ledger, with
//! its validation code, checkable by anyone who trusts only the ordering
//! org's CA certificate.
//!
//! A receipt holds the transaction's envelope and its Merkle leaf (envelope
//! hash and code), the leaf's RFC 9162 inclusion proof in the tree of the
//! block that holds it, that block's header with the orderer signatures over
//! it, and the previous block's header (absent for block 0).
//!
//! # Rule: a receipt binds every field it states
//!
//! [`Receipt::verify`] accepts only if each field is proven, and
//! [`VerifiedReceipt`] carries only proven values:
//!
//! | field | proven by |
//! |---|---|
//! | `signatures` | every one verifies over `header`, by an orderer whose certificate the trusted CA issued, valid at the block's time; at least one |
//! | `header` (channel, number, hashes, time, tree size and root) | those signatures |
//! | `previous_header` | its hash is the signed `header.previous_hash`; present exactly when the block is not block 0 |
//! | `proof.size` | equals the signed `header.tree_size` |
//! | `proof.index` (leaf index) | the inclusion proof, and it lies in this block's leaves: `previous_header.tree_size <= index < header.tree_size` (from 0 for block 0), so the block number and the position in the block are proven |
//! | `envelope_hash`, `code` | the leaf `tx_leaf(envelope_hash, code)` with the proof yields the signed tree root |
//! | `envelope` | its SHA-256 is `envelope_hash` |
//! | `txid` | equals the txid in the header of the transaction inside `envelope` |
//!
//! The envelope is required: the Merkle leaf commits to the envelope's hash,
//! not to the txid, so without the envelope nothing would prove which
//! transaction the receipt is about. (Committing the txid in the leaf would
//! change the leaf format, and so every tree root already signed in blocks.)
//! Unknown JSON fields are refused, so a receipt file cannot display a value
//! that nothing checks.

use cairn_crypto::{Certificate, Digest, Msp};
use cairn_merkle::InclusionProof;
use serde::{Deserialize, Serialize};
use serde_with::{Bytes, IfIsHumanReadable, hex::Hex, serde_as};

use crate::block::{Block, BlockHeader, HeaderSignature, tx_leaf};
use crate::encoding::Canonical;
use crate::ids::{Timestamp, TxId};
use crate::tx::Envelope;
use crate::validation::ValidationCode;

/// Why a receipt does not verify.
#[derive(Debug, thiserror::Error)]
pub enum ReceiptError {
    /// The trusted CA certificate could not be loaded.
    #[error("trusted CA certificate unusable: {0}")]
    BadCa(String),
    /// The inclusion proof does not lead to the signed root.
    #[error("inclusion proof does not match the signed tree root: {0}")]
    BadProof(String),
    /// The included envelope does not hash to the receipt's envelope hash.
    #[error(
        "envelope does not match the receipt: its hash is {actual}, the receipt says {expected}"
    )]
    EnvelopeMismatch {
        /// Hash in the receipt.
        expected: Digest,
        /// Hash of the included envelope.
        actual: Digest,
    },
    /// A block other than block 0 without the previous block's header.
    #[error(
        "the receipt has no previous_header, so nothing proves the transaction was added in \
         block {block} rather than an earlier one; fetch the receipt again with `cairn ledger \
         receipt` or `cairn receipt get`"
    )]
    MissingPreviousHeader {
        /// The block the receipt names.
        block: u64,
    },
    /// The leaf is in the signed tree, but not among this block's leaves.
    #[error(
        "the transaction's leaf {index} is not one of block {block}'s leaves \
         ({first}..{end}): the receipt names the wrong block"
    )]
    NotInBlock {
        /// The proof's leaf index.
        index: u64,
        /// The block the receipt names.
        block: u64,
        /// First leaf of the block.
        first: u64,
        /// One past its last leaf.
        end: u64,
    },
    /// The previous header is not the one the signed header links to.
    #[error("previous_header does not belong to block {block}: {reason}")]
    PreviousHeaderMismatch {
        /// The block the receipt names.
        block: u64,
        /// What differs.
        reason: String,
    },
    /// The proof is for a different tree size than the signed header.
    #[error("proof is for a tree of size {proof}, but the signed header has size {header}")]
    SizeMismatch {
        /// Size in the proof.
        proof: u64,
        /// Size in the header.
        header: u64,
    },
    /// The receipt's txid is not the one in its envelope.
    #[error("txid {receipt} is not the transaction in the receipt's envelope, which is {envelope}")]
    TxidMismatch {
        /// The txid the receipt states.
        receipt: TxId,
        /// The txid in the envelope's transaction header.
        envelope: TxId,
    },
    /// The envelope bytes are not an envelope with a readable transaction.
    #[error("the receipt's envelope does not decode, so its txid is unproven: {0}")]
    UnreadableEnvelope(String),
    /// Some header signature verifies under the trusted CA, another does not.
    #[error(
        "signature {index} of the receipt is not proven by the trusted CA ({reason}); a \
         receipt may carry only signatures the trusted CA vouches for: remove it"
    )]
    UnprovenSignature {
        /// Its position in `signatures`.
        index: usize,
        /// Why it does not verify.
        reason: String,
    },
    /// No header signature verifies under the trusted CA.
    #[error("block header is not signed by an orderer of the trusted CA: {0}")]
    UntrustedHeader(String),
}

/// Why a receipt cannot be built from a block.
#[derive(Debug, thiserror::Error)]
pub enum BuildReceiptError {
    /// The block has no transaction at that position.
    #[error("block {block} has no transaction at position {position}")]
    NoSuchTransaction {
        /// The block.
        block: u64,
        /// The requested position.
        position: u64,
    },
    /// The previous header is required exactly for blocks after block 0.
    #[error(
        "block {block}: the previous block's header is required for every block but block 0, \
         and refused for block 0"
    )]
    PreviousHeader {
        /// The block.
        block: u64,
    },
    /// The proof is not for this transaction's leaf in this block's tree.
    #[error(
        "the inclusion proof is for leaf {index} of {size}, but the transaction is leaf \
         {leaf} of {tree_size}"
    )]
    ProofMismatch {
        /// The proof's leaf index.
        index: u64,
        /// The proof's tree size.
        size: u64,
        /// The transaction's leaf index.
        leaf: u64,
        /// The block's tree size.
        tree_size: u64,
    },
    /// The envelope does not decode, so the receipt could not state its txid.
    #[error("the envelope at position {position} does not decode: {reason}")]
    UnreadableEnvelope {
        /// Its position in the block.
        position: u64,
        /// The decoding error.
        reason: String,
    },
}

/// Proof that a transaction is on the ledger with a given validation code.
#[serde_as]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Receipt {
    /// The transaction id; must equal the one in `envelope`.
    pub txid: TxId,
    /// Hash of the transaction's envelope.
    pub envelope_hash: Digest,
    /// Its validation code.
    pub code: ValidationCode,
    /// Inclusion proof of the leaf in the tree as of `header`.
    pub proof: InclusionProof,
    /// The header of the block that holds the transaction.
    pub header: BlockHeader,
    /// Orderer signatures over the header.
    pub signatures: Vec<HeaderSignature>,
    /// The previous block's header (`None` for block 0): its tree size is
    /// where this block's leaves start.
    pub previous_header: Option<BlockHeader>,
    /// The envelope itself.
    #[serde_as(as = "IfIsHumanReadable<Hex, Bytes>")]
    pub envelope: Vec<u8>,
}

/// What a verified receipt proves; every value here is checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedReceipt {
    /// The transaction, as its envelope names it.
    pub txid: TxId,
    /// Its validation code.
    pub code: ValidationCode,
    /// The channel of the block.
    pub channel: String,
    /// The block that holds the transaction.
    pub block: u64,
    /// The transaction's position in that block, from 0.
    pub position: u64,
    /// Its leaf index in the channel's transaction tree.
    pub leaf_index: u64,
    /// SHA-256 of its envelope.
    pub envelope_hash: Digest,
    /// When the block was cut.
    pub block_time: Timestamp,
    /// Subjects of the orderers that signed the header, in receipt order.
    pub signers: Vec<String>,
}

impl Receipt {
    /// Builds the receipt of the transaction at `position` in `block`.
    /// `previous` is the previous block's header (`None` for block 0) and
    /// `proof` the inclusion proof of the transaction's leaf in the tree of
    /// `block.header.tree_size` leaves.
    pub fn build(
        block: &Block,
        previous: Option<&BlockHeader>,
        position: u64,
        proof: InclusionProof,
    ) -> Result<Receipt, BuildReceiptError> {
        let number = block.header.number;
        let missing = || BuildReceiptError::NoSuchTransaction {
            block: number,
            position,
        };
        let at = usize::try_from(position).map_err(|_| missing())?;
        let envelope = block.data.get(at).ok_or_else(missing)?;
        let code = *block
            .metadata
            .validation_codes
            .get(at)
            .ok_or_else(missing)?;
        let first = match (number, previous) {
            (0, None) => 0,
            (n, Some(p)) if n > 0 => p.tree_size,
            _ => return Err(BuildReceiptError::PreviousHeader { block: number }),
        };
        let leaf = first.saturating_add(position);
        if proof.index != leaf || proof.size != block.header.tree_size {
            return Err(BuildReceiptError::ProofMismatch {
                index: proof.index,
                size: proof.size,
                leaf,
                tree_size: block.header.tree_size,
            });
        }
        let txid = envelope_txid(envelope)
            .map_err(|reason| BuildReceiptError::UnreadableEnvelope { position, reason })?;
        Ok(Receipt {
            txid,
            envelope_hash: cairn_crypto::sha256(envelope),
            code,
            proof,
            header: block.header.clone(),
            signatures: block.metadata.signatures.clone(),
            previous_header: previous.cloned(),
            envelope: envelope.clone(),
        })
    }

    /// Verifies the receipt trusting only `orderer_ca_pem`; see the module
    /// doc for what each field is checked against.
    pub fn verify(&self, orderer_ca_pem: &str) -> Result<VerifiedReceipt, ReceiptError> {
        let ca = Certificate::from_pem(orderer_ca_pem)
            .map_err(|e| ReceiptError::BadCa(e.to_string()))?;
        // The CA names its org; a CA that does not is trusted under a placeholder id.
        let msp_id = ca.msp_id_claim().unwrap_or("TrustedOrdererOrg").to_string();
        let msp = Msp::new(&msp_id, ca, &[] as &[&str])
            .map_err(|e| ReceiptError::BadCa(e.to_string()))?;
        let signers = verify_every_signature(&self.header, &self.signatures, &msp)?;
        if self.proof.size != self.header.tree_size {
            return Err(ReceiptError::SizeMismatch {
                proof: self.proof.size,
                header: self.header.tree_size,
            });
        }
        let first = self.first_leaf()?;
        let (index, end) = (self.proof.index, self.header.tree_size);
        if index < first || index >= end {
            return Err(ReceiptError::NotInBlock {
                index,
                block: self.header.number,
                first,
                end,
            });
        }
        let leaf = cairn_merkle::leaf_hash(&tx_leaf(&self.envelope_hash, self.code));
        let root = cairn_merkle::Hash::from(*self.header.tree_root.as_bytes());
        self.proof
            .verify(&leaf, &root)
            .map_err(|e| ReceiptError::BadProof(e.to_string()))?;
        let actual = cairn_crypto::sha256(&self.envelope);
        if actual != self.envelope_hash {
            return Err(ReceiptError::EnvelopeMismatch {
                expected: self.envelope_hash,
                actual,
            });
        }
        let txid = envelope_txid(&self.envelope).map_err(ReceiptError::UnreadableEnvelope)?;
        if txid != self.txid {
            return Err(ReceiptError::TxidMismatch {
                receipt: self.txid,
                envelope: txid,
            });
        }
        Ok(VerifiedReceipt {
            txid,
            code: self.code,
            channel: self.header.channel.clone(),
            block: self.header.number,
            position: index - first,
            leaf_index: index,
            envelope_hash: actual,
            block_time: self.header.timestamp,
            signers,
        })
    }

    /// The first leaf of the receipt's block, proven through the previous
    /// header's hash, which the signed header carries.
    fn first_leaf(&self) -> Result<u64, ReceiptError> {
        let block = self.header.number;
        let mismatch = |reason: String| ReceiptError::PreviousHeaderMismatch { block, reason };
        let Some(previous) = &self.previous_header else {
            return match block {
                0 => Ok(0),
                _ => Err(ReceiptError::MissingPreviousHeader { block }),
            };
        };
        if block == 0 {
            return Err(mismatch(
                "block 0 has no previous block; remove previous_header".to_string(),
            ));
        }
        let hash = previous
            .hash()
            .map_err(|e| mismatch(format!("it has no hash: {e}")))?;
        if hash != self.header.previous_hash {
            return Err(mismatch(format!(
                "its hash is {hash}, the signed header links to {}",
                self.header.previous_hash
            )));
        }
        // Implied by the hash chain on a well-formed ledger; checked so a
        // receipt never relies on it.
        if previous.number != block - 1 || previous.channel != self.header.channel {
            return Err(mismatch(format!(
                "it is block {} of channel {}",
                previous.number, previous.channel
            )));
        }
        if previous.tree_size > self.header.tree_size {
            return Err(mismatch(format!(
                "its tree has {} leaves, more than the block's {}",
                previous.tree_size, self.header.tree_size
            )));
        }
        Ok(previous.tree_size)
    }
}

/// The txid in the header of the transaction inside an encoded envelope.
fn envelope_txid(envelope: &[u8]) -> Result<TxId, String> {
    let envelope = Envelope::decode(envelope).map_err(|e| e.to_string())?;
    let tx = envelope.transaction().map_err(|e| e.to_string())?;
    Ok(tx.header().txid)
}

/// Checks that every signature over `header` is by an orderer whose
/// certificate `msp` validates at the block's time (and that there is at
/// least one); returns their subjects.
fn verify_every_signature(
    header: &BlockHeader,
    signatures: &[HeaderSignature],
    msp: &Msp,
) -> Result<Vec<String>, ReceiptError> {
    let mut signers = Vec::new();
    let mut failures = Vec::new();
    for (i, s) in signatures.iter().enumerate() {
        match verify_signature(header, s, msp) {
            Ok(subject) => signers.push(subject),
            Err(reason) => failures.push((i, reason)),
        }
    }
    if signers.is_empty() {
        let mut reasons: Vec<String> = failures.into_iter().map(|(_, r)| r).collect();
        if reasons.is_empty() {
            reasons.push("the header has no signatures".to_string());
        }
        return Err(ReceiptError::UntrustedHeader(reasons.join("; ")));
    }
    match failures.into_iter().next() {
        Some((index, reason)) => Err(ReceiptError::UnprovenSignature { index, reason }),
        None => Ok(signers),
    }
}

/// Checks that at least one signature over `header` is by an orderer whose
/// certificate `msp` validates at the block's time; returns its subject.
/// (Receipts are stricter: every signature they carry must verify.)
pub fn verify_header(
    header: &BlockHeader,
    signatures: &[HeaderSignature],
    msp: &Msp,
) -> Result<String, String> {
    let mut reasons = Vec::new();
    for s in signatures {
        match verify_signature(header, s, msp) {
            Ok(subject) => return Ok(subject),
            Err(reason) => reasons.push(reason),
        }
    }
    if reasons.is_empty() {
        reasons.push("the header has no signatures".to_string());
    }
    Err(reasons.join("; "))
}

/// One signature over `header`: by an orderer `msp` validates at the
/// block's time, over [`BlockHeader::signed_bytes`]. Returns its subject.
fn verify_signature(
    header: &BlockHeader,
    s: &HeaderSignature,
    msp: &Msp,
) -> Result<String, String> {
    let id = msp
        .validate(&s.signer, header.timestamp.seconds)
        .map_err(|e| e.to_string())?;
    if id.role() != cairn_crypto::Role::Orderer {
        return Err(format!(
            "{} is a {}, not an orderer",
            id.subject(),
            id.role()
        ));
    }
    let signed = header
        .signed_bytes(&s.signer)
        .map_err(|e| format!("the header has no signed form: {e}"))?;
    id.public_key()
        .verify(&signed, &s.signature)
        .map_err(|e| format!("signature by {} does not verify: {e}", id.subject()))?;
    Ok(id.subject().to_string())
}
