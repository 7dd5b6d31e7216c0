//! Per-transaction validation codes, with Fabric's names and numbers
//! (`peer/transaction.proto`, `TxValidationCode`).

use std::fmt;

use serde::{Deserialize, Serialize};

/// The outcome of validating one transaction. Only `Valid` transactions change state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "u8", try_from = "u8")]
#[repr(u8)]
pub enum ValidationCode {
    /// Committed.
    Valid = 0,
    /// The envelope is empty.
    NilEnvelope = 1,
    /// The payload does not decode.
    BadPayload = 2,
    /// The header is malformed.
    BadCommonHeader = 3,
    /// The creator's signature or certificate is invalid.
    BadCreatorSignature = 4,
    /// The endorsed transaction is malformed (e.g. endorsements disagree).
    InvalidEndorserTransaction = 5,
    /// A configuration transaction is not authorized or malformed.
    InvalidConfigTransaction = 6,
    /// The txid is not the hash of nonce and creator.
    BadProposalTxid = 8,
    /// The txid was already used.
    DuplicateTxid = 9,
    /// The endorsements do not satisfy the endorsement policy.
    EndorsementPolicyFailure = 10,
    /// A key read has changed since it was read.
    MvccReadConflict = 11,
    /// A range read would now return different keys.
    PhantomReadConflict = 12,
    /// The transaction is for another channel.
    TargetChainNotFound = 14,
    /// The contract's response was not a success.
    BadResponsePayload = 21,
    /// The read/write set is malformed.
    BadRwset = 22,
    /// A write touches a namespace it may not.
    IllegalWriteset = 23,
    /// The contract has no committed definition.
    InvalidChaincode = 25,
    /// Not yet validated.
    NotValidated = 254,
    /// Invalid for another reason.
    InvalidOtherReason = 255,
}

impl ValidationCode {
    /// Fabric's name for the code, e.g. `MVCC_READ_CONFLICT`.
    pub fn name(self) -> &'static str {
        match self {
            ValidationCode::Valid => "VALID",
            ValidationCode::NilEnvelope => "NIL_ENVELOPE",
            ValidationCode::BadPayload => "BAD_PAYLOAD",
            ValidationCode::BadCommonHeader => "BAD_COMMON_HEADER",
            ValidationCode::BadCreatorSignature => "BAD_CREATOR_SIGNATURE",
            ValidationCode::InvalidEndorserTransaction => "INVALID_ENDORSER_TRANSACTION",
            ValidationCode::InvalidConfigTransaction => "INVALID_CONFIG_TRANSACTION",
            ValidationCode::BadProposalTxid => "BAD_PROPOSAL_TXID",
            ValidationCode::DuplicateTxid => "DUPLICATE_TXID",
            ValidationCode::EndorsementPolicyFailure => "ENDORSEMENT_POLICY_FAILURE",
            ValidationCode::MvccReadConflict => "MVCC_READ_CONFLICT",
            ValidationCode::PhantomReadConflict => "PHANTOM_READ_CONFLICT",
            ValidationCode::TargetChainNotFound => "TARGET_CHAIN_NOT_FOUND",
            ValidationCode::BadResponsePayload => "BAD_RESPONSE_PAYLOAD",
            ValidationCode::BadRwset => "BAD_RWSET",
            ValidationCode::IllegalWriteset => "ILLEGAL_WRITESET",
            ValidationCode::InvalidChaincode => "INVALID_CHAINCODE",
            ValidationCode::NotValidated => "NOT_VALIDATED",
            ValidationCode::InvalidOtherReason => "INVALID_OTHER_REASON",
        }
    }

    /// All codes, for tables and round-trip tests.
    pub const ALL: [ValidationCode; 19] = [
        ValidationCode::Valid,
        ValidationCode::NilEnvelope,
        ValidationCode::BadPayload,
        ValidationCode::BadCommonHeader,
        ValidationCode::BadCreatorSignature,
        ValidationCode::InvalidEndorserTransaction,
        ValidationCode::InvalidConfigTransaction,
        ValidationCode::BadProposalTxid,
        ValidationCode::DuplicateTxid,
        ValidationCode::EndorsementPolicyFailure,
        ValidationCode::MvccReadConflict,
        ValidationCode::PhantomReadConflict,
        ValidationCode::TargetChainNotFound,
        ValidationCode::BadResponsePayload,
        ValidationCode::BadRwset,
        ValidationCode::IllegalWriteset,
        ValidationCode::InvalidChaincode,
        ValidationCode::NotValidated,
        ValidationCode::InvalidOtherReason,
    ];
}

impl fmt::Display for ValidationCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl From<ValidationCode> for u8 {
    fn from(c: ValidationCode) -> u8 {
        c as u8
    }
}

/// A byte that is not a known validation code.
#[derive(Debug, thiserror::Error)]
#[error("unknown validation code {0}")]
pub struct UnknownCode(pub u8);

impl TryFrom<u8> for ValidationCode {
    type Error = UnknownCode;

    fn try_from(b: u8) -> Result<Self, UnknownCode> {
        ValidationCode::ALL
            .iter()
            .copied()
            .find(|c| *c as u8 == b)
            .ok_or(UnknownCode(b))
    }
}

impl std::str::FromStr for ValidationCode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        ValidationCode::ALL
            .iter()
            .copied()
            .find(|c| c.name() == s)
            .ok_or_else(|| format!("unknown validation code name {s:?}"))
    }
}
