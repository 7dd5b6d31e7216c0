//! The client and endorser halves of a transaction, without I/O: build a
//! proposal, sign an endorsement of a simulation result, assemble the
//! endorsed transaction into a signed envelope.
//!
//! Invariant: [`assemble`] refuses endorsements that do not all sign the
//! same response payload, so an envelope never mixes simulation results.

use std::collections::BTreeMap;

use cairn_crypto::SigningIdentity;

use crate::encoding::{Canonical, EncodingError};
use crate::ids::{Timestamp, TxId};
use crate::tx::{
    EndorsedTx, Endorsement, Envelope, Invocation, Proposal, ProposalResponse,
    ProposalResponsePayload, Transaction, TxHeader,
};

/// Why endorsed responses cannot be assembled into a transaction.
#[derive(Debug, thiserror::Error)]
pub enum AssembleError {
    /// No endorsements were given.
    #[error("no endorsements: a transaction needs at least one proposal response")]
    NoEndorsements,
    /// The transaction could not be encoded.
    #[error(transparent)]
    Encoding(#[from] EncodingError),
    /// Endorsers returned different results (non-deterministic contract or divergent state).
    #[error("endorsers disagree: response {index} differs from response 0")]
    Mismatch {
        /// The first differing response.
        index: usize,
    },
}

/// Builds a proposal for `invocation` on `channel` created by `creator`,
/// with the given nonce (at least 24 random bytes) and time.
pub fn proposal(
    channel: &str,
    creator: &SigningIdentity,
    invocation: Invocation,
    transient: BTreeMap<String, Vec<u8>>,
    nonce: Vec<u8>,
    timestamp: Timestamp,
) -> Proposal {
    let creator = creator.identity().der().to_vec();
    Proposal {
        header: TxHeader {
            channel: channel.to_string(),
            txid: TxId::compute(&nonce, &creator),
            creator,
            nonce,
            timestamp,
        },
        invocation,
        transient,
    }
}

/// An endorser signs a simulation result of a proposal.
pub fn endorse(
    payload: &ProposalResponsePayload,
    endorser: &SigningIdentity,
) -> Result<ProposalResponse, EncodingError> {
    let payload = payload.encode()?;
    let cert = endorser.identity().der().to_vec();
    Ok(ProposalResponse {
        endorsement: Endorsement {
            signature: endorser.sign(&Endorsement::signed_bytes(&payload, &cert)),
            endorser: cert,
        },
        payload,
    })
}

/// The client assembles matching endorsements into an envelope it signs.
/// The transient map stays behind: it is not part of the transaction.
pub fn assemble(
    proposal: &Proposal,
    responses: &[ProposalResponse],
    client: &SigningIdentity,
) -> Result<Envelope, AssembleError> {
    let first = responses.first().ok_or(AssembleError::NoEndorsements)?;
    if let Some(index) = responses.iter().position(|r| r.payload != first.payload) {
        return Err(AssembleError::Mismatch { index });
    }
    let tx = Transaction::Endorsed(EndorsedTx {
        header: proposal.header.clone(),
        invocation: proposal.invocation.clone(),
        response_payload: first.payload.clone(),
        endorsements: responses.iter().map(|r| r.endorsement.clone()).collect(),
    });
    let payload = tx.encode()?;
    Ok(Envelope {
        signature: client.sign(&payload),
        payload,
    })
}

/// Builds a signed channel configuration update: `new` must carry the next
/// sequence number; each admin signs header and config; `creator` signs the envelope.
pub fn config_update(
    new: &crate::config::ChannelConfig,
    creator: &SigningIdentity,
    admins: &[&SigningIdentity],
    nonce: Vec<u8>,
    timestamp: Timestamp,
) -> Result<Envelope, EncodingError> {
    let cert = creator.identity().der().to_vec();
    let header = TxHeader {
        channel: new.name.clone(),
        txid: TxId::compute(&nonce, &cert),
        creator: cert,
        nonce,
        timestamp,
    };
    let msg = crate::tx::ConfigTx::signed_bytes(&header, new)?;
    let signatures = admins
        .iter()
        .map(|a| Endorsement {
            endorser: a.identity().der().to_vec(),
            signature: a.sign(&msg),
        })
        .collect();
    let tx = Transaction::Config(crate::tx::ConfigTx {
        header,
        config: new.clone(),
        signatures,
    });
    let payload = tx.encode()?;
    Ok(Envelope {
        signature: creator.sign(&payload),
        payload,
    })
}
