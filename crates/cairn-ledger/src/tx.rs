//! Proposals, endorsements and the client-signed envelope: one transaction's
//! journey from client to block (execute–order–validate).
//!
//! Invariants:
//! - The transient map travels only in [`Proposal`]; it is never part of a
//!   [`Transaction`], so it never reaches the orderer or a block.
//! - `Debug` of a [`Proposal`] or a [`SignedProposal`] never prints a
//!   transient value (keys only, and sizes of the encoded proposal), so a
//!   `{:?}` in a log line cannot leak one.
//! - Every endorsement of one transaction signs the same
//!   [`ProposalResponsePayload`] bytes followed by the endorser's certificate.
//! - The client signs the encoded [`Transaction`]; the envelope carries those
//!   exact bytes so the signature is checked over what was signed.

use std::collections::BTreeMap;
use std::fmt;

use cairn_crypto::Digest;
use serde::{Deserialize, Serialize};
use serde_with::{Bytes, IfIsHumanReadable, hex::Hex, serde_as};

use crate::config::ChannelConfig;
use crate::encoding::{Canonical, EncodingError};
use crate::ids::{Timestamp, TxId};
use crate::rwset::TxRwSet;

/// Who proposes and when: the header shared by the proposal and the transaction.
#[serde_as]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxHeader {
    /// The channel the transaction is for.
    pub channel: String,
    /// The transaction id (see [`TxId::compute`]).
    pub txid: TxId,
    /// The creator's X.509 certificate (DER).
    #[serde_as(as = "IfIsHumanReadable<Hex, Bytes>")]
    pub creator: Vec<u8>,
    /// A random nonce chosen by the client.
    #[serde_as(as = "IfIsHumanReadable<Hex, Bytes>")]
    pub nonce: Vec<u8>,
    /// The client's timestamp; contracts see it as the transaction time.
    pub timestamp: Timestamp,
}

/// What to run: contract, function and arguments.
#[serde_as]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invocation {
    /// The contract (Fabric: chaincode) name.
    pub contract: String,
    /// The function, possibly `Contract:function` as Fabric routes it.
    pub function: String,
    /// Arguments, as bytes.
    #[serde_as(as = "Vec<IfIsHumanReadable<Hex, Bytes>>")]
    pub args: Vec<Vec<u8>>,
    /// Whether this is the contract's `init` call (Fabric's `--isInit`).
    pub is_init: bool,
}

/// A transaction proposal as the client sends it to endorsers. Its `Debug`
/// shows the transient keys but never their values.
#[serde_as]
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    /// Who and when.
    pub header: TxHeader,
    /// What to run.
    pub invocation: Invocation,
    /// Private inputs for the contract; never written to the ledger.
    #[serde_as(as = "BTreeMap<_, IfIsHumanReadable<Hex, Bytes>>")]
    pub transient: BTreeMap<String, Vec<u8>>,
}

impl Proposal {
    /// The hash endorsers bind their response to: header and invocation,
    /// excluding the transient map (so a transaction can be checked against it
    /// without the private inputs).
    pub fn hash(&self) -> Result<Digest, EncodingError> {
        proposal_hash(&self.header, &self.invocation)
    }
}

/// Hash of a proposal's public part, see [`Proposal::hash`].
pub fn proposal_hash(header: &TxHeader, invocation: &Invocation) -> Result<Digest, EncodingError> {
    let mut bytes = header.encode()?;
    bytes.extend_from_slice(&invocation.encode()?);
    Ok(cairn_crypto::sha256(&bytes))
}

/// A proposal with the client's signature over its encoding. Its `Debug`
/// shows sizes only: the encoded proposal holds the transient values.
#[serde_as]
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedProposal {
    /// The encoded [`Proposal`].
    #[serde_as(as = "IfIsHumanReadable<Hex, Bytes>")]
    pub proposal: Vec<u8>,
    /// The creator's signature over `proposal`.
    #[serde_as(as = "IfIsHumanReadable<Hex, Bytes>")]
    pub signature: Vec<u8>,
}

/// Transient values in `Debug` output: the keys, and a placeholder for each
/// value, as [`crate::private::PrivateWriteSet`] shows only hashes.
struct RedactedTransient<'a>(&'a BTreeMap<String, Vec<u8>>);

impl fmt::Debug for RedactedTransient<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.keys().map(|k| (k, format_args!("<redacted>"))))
            .finish()
    }
}

impl fmt::Debug for Proposal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Proposal")
            .field("header", &self.header)
            .field("invocation", &self.invocation)
            .field("transient", &RedactedTransient(&self.transient))
            .finish()
    }
}

impl fmt::Debug for SignedProposal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedProposal")
            .field(
                "proposal",
                &format_args!(
                    "<{} bytes, transient values included: redacted>",
                    self.proposal.len()
                ),
            )
            .field(
                "signature",
                &format_args!("<{} bytes>", self.signature.len()),
            )
            .finish()
    }
}

/// A contract event set with `setEvent`.
#[serde_as]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContractEvent {
    /// The emitting contract.
    pub contract: String,
    /// The event name.
    pub name: String,
    /// The event payload.
    #[serde_as(as = "IfIsHumanReadable<Hex, Bytes>")]
    pub payload: Vec<u8>,
}

/// The contract's answer: status (200 OK, 500 error, as Fabric's shim), message and payload.
#[serde_as]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Response {
    /// 200 for success; 400..=599 for errors.
    pub status: u32,
    /// Error message, if any.
    pub message: String,
    /// The returned bytes.
    #[serde_as(as = "IfIsHumanReadable<Hex, Bytes>")]
    pub payload: Vec<u8>,
}

/// The contract that was run and its definition at the time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContractId {
    /// Contract name.
    pub name: String,
    /// Its committed version string.
    pub version: String,
}

/// What endorsers sign: the simulation result bound to the proposal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProposalResponsePayload {
    /// [`Proposal::hash`] of the proposal that was simulated.
    pub proposal_hash: Digest,
    /// The contract that ran.
    pub contract: ContractId,
    /// What the simulation read and wrote.
    pub rwset: TxRwSet,
    /// The contract's event, if it set one (Fabric keeps the last).
    pub events: Vec<ContractEvent>,
    /// The contract's response.
    pub response: Response,
}

/// One endorser's signature over a proposal response payload.
#[serde_as]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endorsement {
    /// The endorser's certificate (DER).
    #[serde_as(as = "IfIsHumanReadable<Hex, Bytes>")]
    pub endorser: Vec<u8>,
    /// Signature over `payload bytes || endorser`.
    #[serde_as(as = "IfIsHumanReadable<Hex, Bytes>")]
    pub signature: Vec<u8>,
}

impl Endorsement {
    /// The bytes an endorser signs: the encoded payload followed by its certificate.
    pub fn signed_bytes(payload: &[u8], endorser: &[u8]) -> Vec<u8> {
        let mut msg = Vec::with_capacity(payload.len() + endorser.len());
        msg.extend_from_slice(payload);
        msg.extend_from_slice(endorser);
        msg
    }
}

/// An endorser's reply to a proposal.
#[serde_as]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProposalResponse {
    /// The encoded [`ProposalResponsePayload`].
    #[serde_as(as = "IfIsHumanReadable<Hex, Bytes>")]
    pub payload: Vec<u8>,
    /// The endorsement over `payload`.
    pub endorsement: Endorsement,
}

/// An endorsed transaction, as the client assembles it for ordering.
#[serde_as]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndorsedTx {
    /// Who and when (same as the proposal's).
    pub header: TxHeader,
    /// What was run (the proposal without its transient map).
    pub invocation: Invocation,
    /// The encoded [`ProposalResponsePayload`] all endorsers signed.
    #[serde_as(as = "IfIsHumanReadable<Hex, Bytes>")]
    pub response_payload: Vec<u8>,
    /// The endorsements, one per endorser.
    pub endorsements: Vec<Endorsement>,
}

/// A channel configuration update, signed by enough admins.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigTx {
    /// Who and when.
    pub header: TxHeader,
    /// The complete new configuration.
    pub config: ChannelConfig,
    /// Admin signatures over [`ConfigTx::signed_bytes`].
    pub signatures: Vec<Endorsement>,
}

impl ConfigTx {
    /// The bytes each admin signs: the encoded header and new config.
    pub fn signed_bytes(
        header: &TxHeader,
        config: &ChannelConfig,
    ) -> Result<Vec<u8>, EncodingError> {
        let mut b = header.encode()?;
        b.extend_from_slice(&config.encode()?);
        Ok(b)
    }
}

/// The content of an envelope.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Transaction {
    /// A configuration transaction (genesis or update).
    Config(ConfigTx),
    /// A contract invocation with its endorsements.
    Endorsed(EndorsedTx),
}

impl Transaction {
    /// The transaction's header.
    pub fn header(&self) -> &TxHeader {
        match self {
            Transaction::Config(c) => &c.header,
            Transaction::Endorsed(e) => &e.header,
        }
    }
}

/// A client-signed transaction: what the orderer orders and blocks hold.
#[serde_as]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// The encoded [`Transaction`].
    #[serde_as(as = "IfIsHumanReadable<Hex, Bytes>")]
    pub payload: Vec<u8>,
    /// The creator's signature over `payload`.
    #[serde_as(as = "IfIsHumanReadable<Hex, Bytes>")]
    pub signature: Vec<u8>,
}

impl Envelope {
    /// Decodes the transaction inside.
    pub fn transaction(&self) -> Result<Transaction, EncodingError> {
        Transaction::decode(&self.payload)
    }

    /// SHA-256 of the encoded envelope: the Merkle leaf's transaction hash.
    pub fn hash(&self) -> Result<Digest, EncodingError> {
        Ok(cairn_crypto::sha256(&self.encode()?))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::*;
    use crate::encoding::Canonical;

    fn proposal(transient: &[(&str, &[u8])]) -> Proposal {
        Proposal {
            header: TxHeader {
                channel: "mychannel".into(),
                txid: TxId(cairn_crypto::sha256(b"tx")),
                creator: b"creator-der".to_vec(),
                nonce: vec![7; 24],
                timestamp: Timestamp {
                    seconds: 1,
                    nanos: 0,
                },
            },
            invocation: Invocation {
                contract: "pkv".into(),
                function: "writePDC2".into(),
                args: vec![b"public-arg".to_vec()],
                is_init: false,
            },
            transient: transient
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.to_vec()))
                .collect(),
        }
    }

    /// Whether `shown` holds `value` as text or as the list of numbers a
    /// derived `Debug` prints for bytes.
    fn leaks(shown: &str, value: &[u8]) -> bool {
        let numbers = format!("{:?}", value.to_vec());
        shown.contains(std::str::from_utf8(value).unwrap())
            || shown.contains(&numbers[1..numbers.len() - 1])
    }

    #[test]
    fn debug_of_a_proposal_shows_transient_keys_but_not_values() {
        let p = proposal(&[
            ("value", b"transient-marker-1"),
            ("price", b"transient-marker-2"),
        ]);
        let shown = format!("{p:?}");
        assert!(!leaks(&shown, b"transient-marker-1"), "{shown}");
        assert!(!leaks(&shown, b"transient-marker-2"), "{shown}");
        // The rest is still there: keys, contract, function, public arguments.
        for part in ["\"value\": <redacted>", "\"price\"", "writePDC2", "pkv"] {
            assert!(shown.contains(part), "{part} missing from {shown}");
        }
        let pretty = format!("{p:#?}");
        assert!(!pretty.contains("transient-marker"), "{pretty}");
        // Public arguments are not redacted (they go on the ledger anyway),
        // and the check finds bytes where they are (the positive control).
        assert!(leaks(&shown, b"public-arg"), "{shown}");
    }

    #[test]
    fn debug_of_a_signed_proposal_shows_no_proposal_bytes() {
        let p = proposal(&[("value", b"transient-marker-3")]);
        let encoded = p.encode().unwrap();
        let signed = SignedProposal {
            proposal: encoded.clone(),
            signature: vec![1; 64],
        };
        let shown = format!("{signed:?}");
        assert!(
            shown.contains(&format!(
                "<{} bytes, transient values included: redacted>",
                encoded.len()
            )),
            "{shown}"
        );
        // Neither the text nor the numbers a derived Debug would print.
        assert!(!leaks(&shown, b"transient-marker-3"), "{shown}");
        assert!(
            leaks(&format!("{encoded:?}"), b"transient-marker-3"),
            "the control: the bytes are in the encoding"
        );
    }
}
