//! Receipts: offline proof that a transaction is in a channel's ledger, with
//! its validation code, checkable by anyone who trusts only the ordering
//! org's CA certificate.
//!
//! A receipt holds the transaction's Merkle leaf (envelope hash and code),
//! its RFC 9162 inclusion proof in the tree of the block that holds it, and
//! that block's header with the orderer signatures over it.
//!
//! Invariant: [`Receipt::verify`] accepts only if (1) a header signature
//! verifies under a certificate issued by the trusted CA with the `orderer`
//! role, valid at the block's time, and (2) the leaf recomputed from the
//! envelope hash and code, with the proof, yields the signed tree root.

use cairn_crypto::{Certificate, Digest, Msp};
use cairn_merkle::InclusionProof;
use serde::{Deserialize, Serialize};
use serde_with::{Bytes, IfIsHumanReadable, hex::Hex, serde_as};

use crate::block::{BlockHeader, HeaderSignature, tx_leaf};
use crate::ids::TxId;
use crate::validation::ValidationCode;

/// Why a receipt does not verify.
#[derive(Debug, thiserror::Error)]
pub enum ReceiptError {
    /// The trusted CA certificate could not be loaded.
    #[error("trusted CA certificate unusable: {0}")]
    BadCa(String),
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
    /// The inclusion proof does not lead to the signed root.
    #[error("inclusion proof does not match the signed tree root: {0}")]
    BadProof(String),
    /// The proof is for a different tree size than the signed header.
    #[error("proof is for a tree of size {proof}, but the signed header has size {header}")]
    SizeMismatch {
        /// Size in the proof.
        proof: u64,
        /// Size in the header.
        header: u64,
    },
    /// No header signature verifies under the trusted CA.
    #[error("block header is not signed by an orderer of the trusted CA: {0}")]
    UntrustedHeader(String),
}

/// Proof that a transaction is on the ledger with a given validation code.
#[serde_as]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// The transaction id.
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
    /// The envelope itself, when the receipt carries it.
    #[serde_as(as = "Option<IfIsHumanReadable<Hex, Bytes>>")]
    pub envelope: Option<Vec<u8>>,
}

/// What a verified receipt proves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedReceipt {
    /// The transaction.
    pub txid: TxId,
    /// Its validation code.
    pub code: ValidationCode,
    /// Channel and block number.
    pub channel: String,
    /// The block that holds it.
    pub block: u64,
    /// Who signed the header (the orderer's subject).
    pub signer: String,
}

impl Receipt {
    /// Verifies the receipt trusting only `orderer_ca_pem`.
    pub fn verify(&self, orderer_ca_pem: &str) -> Result<VerifiedReceipt, ReceiptError> {
        let ca = Certificate::from_pem(orderer_ca_pem)
            .map_err(|e| ReceiptError::BadCa(e.to_string()))?;
        // The CA names its org; a CA that does not is trusted under a placeholder id.
        let msp_id = ca.msp_id_claim().unwrap_or("TrustedOrdererOrg").to_string();
        let msp = Msp::new(&msp_id, ca, &[] as &[&str])
            .map_err(|e| ReceiptError::BadCa(e.to_string()))?;
        let signer = verify_header(&self.header, &self.signatures, &msp)
            .map_err(ReceiptError::UntrustedHeader)?;
        if let Some(env) = &self.envelope {
            let actual = cairn_crypto::sha256(env);
            if actual != self.envelope_hash {
                return Err(ReceiptError::EnvelopeMismatch {
                    expected: self.envelope_hash,
                    actual,
                });
            }
        }
        if self.proof.size != self.header.tree_size {
            return Err(ReceiptError::SizeMismatch {
                proof: self.proof.size,
                header: self.header.tree_size,
            });
        }
        let leaf = cairn_merkle::leaf_hash(&tx_leaf(&self.envelope_hash, self.code));
        let root = cairn_merkle::Hash::from(*self.header.tree_root.as_bytes());
        self.proof
            .verify(&leaf, &root)
            .map_err(|e| ReceiptError::BadProof(e.to_string()))?;
        Ok(VerifiedReceipt {
            txid: self.txid,
            code: self.code,
            channel: self.header.channel.clone(),
            block: self.header.number,
            signer,
        })
    }
}

/// Checks that at least one signature over `header` is by an orderer whose
/// certificate `msp` validates at the block's time; returns its subject.
pub fn verify_header(
    header: &BlockHeader,
    signatures: &[HeaderSignature],
    msp: &Msp,
) -> Result<String, String> {
    let mut reasons = Vec::new();
    for s in signatures {
        let id = match msp.validate(&s.signer, header.timestamp.seconds) {
            Ok(id) => id,
            Err(e) => {
                reasons.push(e.to_string());
                continue;
            }
        };
        if id.role() != cairn_crypto::Role::Orderer {
            reasons.push(format!(
                "{} is a {}, not an orderer",
                id.subject(),
                id.role()
            ));
            continue;
        }
        match id
            .public_key()
            .verify(&header.signed_bytes(&s.signer), &s.signature)
        {
            Ok(()) => return Ok(id.subject().to_string()),
            Err(e) => reasons.push(format!(
                "signature by {} does not verify: {e}",
                id.subject()
            )),
        }
    }
    if reasons.is_empty() {
        reasons.push("the header has no signatures".to_string());
    }
    Err(reasons.join("; "))
}
