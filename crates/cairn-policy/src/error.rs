//! Errors: what is wrong with a policy ([`PolicyError`]) and, for text, where ([`ParseError`]).

use crate::limits::{MAX_DEPTH, MAX_PRINCIPALS};

/// What is wrong with a policy, a principal or a signer.
///
/// Returned on its own by constructors that take already-structured input
/// (there is no position to name), and inside a [`ParseError`] by the parsers.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PolicyError {
    /// A gate has no rules; Fabric rejects `AND()`, `OR()` and `OutOf(n)`.
    #[error("{gate} needs at least one principal or nested gate inside its parentheses")]
    EmptyGate {
        /// The gate as written (`AND`, `OR`, `OutOf`).
        gate: String,
    },
    /// An implicit meta policy names a sub-policy that is not a valid policy name.
    #[error(
        "invalid sub-policy name '{name}': use letters, digits, '.', '_' or '-' (e.g. MAJORITY Endorsement)"
    )]
    InvalidSubPolicyName {
        /// The name as written.
        name: String,
    },
    /// An MSP id is empty or has characters Fabric does not allow.
    #[error("invalid MSP id '{msp_id}': use ASCII letters, digits, '.' or '-' (e.g. Org1MSP)")]
    InvalidMspId {
        /// The MSP id as written.
        msp_id: String,
    },
    /// A principal or signer is not of the form `MSPID.role`.
    #[error("invalid principal '{text}': expected MSPID.role, e.g. 'Org1MSP.peer'")]
    InvalidPrincipal {
        /// The text as written.
        text: String,
    },
    /// The threshold of `OutOf` is not a whole number.
    #[error("OutOf threshold '{text}' is not a whole number")]
    InvalidThreshold {
        /// The threshold as written.
        text: String,
    },
    /// A signature policy's top level is a principal; Fabric wants a gate.
    #[error("a policy must start with a gate: write OR('{principal}') instead of '{principal}'")]
    PrincipalAtRoot {
        /// The principal, unquoted.
        principal: String,
    },
    /// `OutOf(n, ...)` with n < 0 or n > (number of rules + 1), which Fabric rejects.
    #[error(
        "OutOf threshold {n} is out of range for {rules} rule(s): use 0..={max} ({max} is never satisfied)",
        max = rules + 1
    )]
    ThresholdOutOfRange {
        /// The threshold as written.
        n: i64,
        /// How many rules the gate has.
        rules: usize,
    },
    /// Gates nest deeper than [`MAX_DEPTH`].
    #[error("gates nest deeper than {MAX_DEPTH} levels; flatten the policy")]
    TooDeep,
    /// More than [`MAX_PRINCIPALS`] principals.
    #[error("the policy has more than {MAX_PRINCIPALS} principals")]
    TooManyPrincipals,
    /// Text after a complete policy.
    #[error("unexpected {found} after the end of the policy")]
    TrailingInput {
        /// What was found.
        found: String,
    },
    /// A parenthesis that is never closed.
    #[error("the '(' opened at byte {open} is never closed")]
    UnclosedParen {
        /// Byte offset of the unmatched `(`.
        open: usize,
    },
    /// A character that is not part of the policy language.
    #[error("unexpected character {found:?}")]
    UnexpectedCharacter {
        /// The character.
        found: char,
    },
    /// The input ended where more was needed.
    #[error("the policy ends too early: expected {expected}")]
    UnexpectedEnd {
        /// What was expected.
        expected: &'static str,
    },
    /// A token that does not fit here.
    #[error("unexpected {found}: expected {expected}")]
    UnexpectedToken {
        /// What was found.
        found: String,
        /// What was expected.
        expected: &'static str,
    },
    /// A `)` with no matching `(`.
    #[error("unbalanced ')': no '(' is open here")]
    UnmatchedCloseParen,
    /// An identifier used as a gate that Fabric does not know.
    #[error("unknown gate '{name}': use AND, OR or OutOf")]
    UnknownGate {
        /// The name as written.
        name: String,
    },
    /// An implicit meta rule other than `ANY`, `ALL`, `MAJORITY`.
    #[error("unknown implicit meta rule '{rule}': use ANY, ALL or MAJORITY (upper case)")]
    UnknownMetaRule {
        /// The rule as written.
        rule: String,
    },
    /// A role that is not one of the allowed ones.
    #[error("unknown role '{role}': use {allowed}")]
    UnknownRole {
        /// The role as written.
        role: String,
        /// The roles allowed where it was written.
        allowed: &'static str,
    },
    /// A principal written without quotes, e.g. `Org1MSP.peer`.
    #[error("principal {text} must be quoted: '{text}'")]
    UnquotedPrincipal {
        /// The text as written.
        text: String,
    },
    /// A string literal that is never closed.
    #[error("the string starting here is never closed: add the closing quote")]
    UnterminatedString,
}

/// A [`PolicyError`] found at a byte offset of the parsed text.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
#[error("{kind} (at byte {position})")]
pub struct ParseError {
    /// Byte offset in the input where the problem starts.
    pub position: usize,
    /// What is wrong.
    pub kind: PolicyError,
}

impl ParseError {
    /// A `kind` error at byte `position`.
    pub fn new(position: usize, kind: PolicyError) -> Self {
        Self { position, kind }
    }

    /// The 1-based character column of the error in `input` (the text that was parsed).
    pub fn column(&self, input: &str) -> usize {
        let end = self.position.min(input.len());
        input.char_indices().take_while(|(i, _)| *i < end).count() + 1
    }
}
