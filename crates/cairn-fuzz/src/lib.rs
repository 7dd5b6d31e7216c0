//! Fuzz bodies (issue 17, item 1; in progress): one function per parser that
//! takes bytes from outside the process. Each must return normally for every
//! input; a panic is a finding. Where a structure round-trips, the body also
//! checks that decode(encode(x)) = x.
//!
//! The cargo-fuzz targets in `fuzz/fuzz_targets/` (nightly, libFuzzer) call these
//! functions, and `tests/replay.rs` runs every file of `fuzz/corpus/<target>/`
//! through them in the ordinary test suite, so CI replays the corpora on stable
//! without building the sanitizers.
//!
//! May use: the crates whose parsers it exercises. Only tests and the fuzz
//! targets depend on it.

#![allow(
    clippy::panic,
    reason = "a fuzz body reports a finding by panicking; libFuzzer catches it"
)]

use cairn_ledger::block::Block;
use cairn_ledger::encoding::Canonical;
use cairn_ledger::receipt::Receipt;
use cairn_ledger::tx::{Envelope, ProposalResponse, SignedProposal};
use cairn_policy::{ChannelPolicy, SignaturePolicy};

/// A fuzz body: takes any bytes, panics only on a finding.
pub type Body = fn(&[u8]);

/// The fuzz targets, by name (each has `fuzz/fuzz_targets/<name>.rs` and
/// `fuzz/corpus/<name>/`).
pub const TARGETS: [(&str, Body); 6] = [
    ("policy", policy),
    ("block", block),
    ("envelope", envelope),
    ("signed_proposal", signed_proposal),
    ("proposal_response", proposal_response),
    ("receipt_json", receipt_json),
];

/// Fabric's policy language: signature policies and channel (implicit meta) policies.
/// A parsed signature policy prints as text that parses back to the same policy.
pub fn policy(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(p) = text.parse::<SignaturePolicy>() {
        let shown = p.to_string();
        match shown.parse::<SignaturePolicy>() {
            Ok(again) if again == p => {}
            Ok(again) => panic!("{text:?} printed as {shown:?}, which parses as {again:?}"),
            Err(e) => panic!("{text:?} printed as {shown:?}, which does not parse: {e}"),
        }
    }
    let _ = text.parse::<ChannelPolicy>();
}

/// Canonical decoding: a value that decodes re-encodes to exactly the input
/// (the one-form rule of `docs/encoding.md`).
fn canonical<T: Canonical + PartialEq + std::fmt::Debug>(data: &[u8]) {
    if let Ok(v) = T::decode(data) {
        match v.encode() {
            Ok(bytes) if bytes == data => {}
            Ok(bytes) => panic!(
                "{} decoded from {} bytes re-encodes to {} other bytes",
                std::any::type_name::<T>(),
                data.len(),
                bytes.len()
            ),
            Err(e) => panic!("a decoded value does not encode: {e}"),
        }
    }
}

/// Blocks as peers receive them from orderers and other peers.
pub fn block(data: &[u8]) {
    canonical::<Block>(data);
}

/// Transaction envelopes as the orderer receives them.
pub fn envelope(data: &[u8]) {
    canonical::<Envelope>(data);
}

/// Signed proposals as endorsers receive them.
pub fn signed_proposal(data: &[u8]) {
    canonical::<SignedProposal>(data);
}

/// Proposal responses as gateways receive them from endorsers.
pub fn proposal_response(data: &[u8]) {
    canonical::<ProposalResponse>(data);
}

/// Receipt files given to `cairn receipt verify`: parsing must not panic, and a
/// parsed receipt serializes back to JSON that parses to the same receipt.
pub fn receipt_json(data: &[u8]) {
    if let Ok(r) = serde_json::from_slice::<Receipt>(data) {
        let json = serde_json::to_vec(&r).unwrap_or_else(|e| panic!("cannot re-serialize: {e}"));
        let again: Receipt = serde_json::from_slice(&json)
            .unwrap_or_else(|e| panic!("a re-serialized receipt does not parse: {e}"));
        if again != r {
            panic!("a receipt changed through JSON");
        }
    }
}
