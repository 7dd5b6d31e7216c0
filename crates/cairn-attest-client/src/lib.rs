//! Cairn attestation client: the workload's and the relying party's side of the
//! attestation service's HTTPS API.
//!
//! Layer: attestation (client). Uses `cairn-attest` for every check, `cairn-ledger`
//! only for the channel config type, and `reqwest` (rustls, ring provider) for
//! transport. Nothing here decides trust: tokens are verified by
//! `cairn_attest::verify_token` against keys from the JWKS the caller chose (a URL it
//! configured, or the JWKS pinned in a channel config), never one named by a token.
//!
//! - [`AttestationClient`]: nonce, attest, key release, JWKS, admin calls.
//! - [`obtain_token`]: what an attested node or workload does to get a token for itself
//!   (issue 5 part 5: the node-side API).
//! - [`JwksCache`]: a relying party's cached JWKS, refreshed when a token names an
//!   unknown `kid` (at most once per `min_refresh`).
//! - [`admit_node`]: a channel member's check of a joining node's token against the
//!   channel config's [`cairn_ledger::config::AttestationRequirement`] (pure).
//! - [`NodeGate`]: the same check for a serving node, cached per channel config,
//!   token and caller key until the token expires.

mod admission;
mod cache;
mod client;
mod gate;

pub use admission::{NodeKey, admit_node};
pub use cache::{JwksCache, VerifyError};
pub use cairn_attest::{AdmissionError, AdmittedNode};
pub use client::{
    AttestationClient, ClientError, KeyRelease, NonceResponse, fetch_jwks, install_crypto_provider,
    obtain_token,
};
pub use gate::{GateRefusal, NodeGate};
