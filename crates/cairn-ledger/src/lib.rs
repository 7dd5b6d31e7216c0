//! Cairn's ledger: the data model, its canonical encoding, validation and
//! receipts. No I/O: storage lives in `cairn-store`, networking in the node.
//!
//! Owns: proposals, endorsements, envelopes, blocks, channel configuration,
//! read/write sets, private data collections and private write sets,
//! validation codes, the block validation engine, and
//! receipts (a transaction's envelope, its Merkle inclusion proof, the
//! orderer-signed block header and the previous block's header).
//!
//! May use: `cairn-crypto` (hashes, signatures, identities), `cairn-policy`
//! (endorsement policies), `cairn-merkle` (RFC 9162 proofs), `cairn-counters`
//! (it counts canonical decodes and encodes).
//!
//! Invariants (each module states its own):
//! - everything hashed or signed is encoded with [`encoding::Canonical`],
//!   which has one encoding per value: decoding accepts exactly the bytes
//!   encoding produces, `encode(decode(b)) == b`, and an encoding failure
//!   is an error, never empty bytes ([`encoding`]);
//! - a receipt binds every field it states: [`receipt::Receipt::verify`]
//!   checks each one against the inclusion proof, the orderer signatures or
//!   the envelope, refuses the receipt otherwise, and returns only proven
//!   values ([`receipt`]);
//! - a transient map never leaves a [`tx::Proposal`], and cleartext private
//!   data never enters a block: only its hashes do ([`private`]);
//! - `Debug` never prints a transient value or a cleartext private value
//!   ([`tx::Proposal`], [`tx::SignedProposal`], [`private::PrivateWriteSet`]
//!   have hand-written impls), so `{:?}` in a log line leaks neither;
//! - validation is deterministic: the same block on the same state gives the
//!   same codes and the same state updates on every node.

pub mod block;
pub mod client;
pub mod config;
pub mod encoding;
pub mod ids;
pub mod lifecycle;
pub mod memory;
pub mod private;
pub mod receipt;
pub mod rwset;
pub mod state;
pub mod tx;
pub mod validate;
pub mod validation;
