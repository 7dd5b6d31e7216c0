//! Cairn attestation client: the workload's and the relying party's side of the
//! attestation service's HTTPS API.
//!
//! Layer: attestation (client). Uses `cairn-attest` for every check, `cairn-ledger`
//! only for the channel config type, and `reqwest` (rustls, ring provider) for
//! transport. Nothing here decides trust: tokens are verified by
//! `cairn_attest::verify_token` against keys from the JWKS the caller chose (a URL it
//! configured, or the JWKS pinned in a channel config), never one named by a token.
//!
//! Rules this crate enforces (in [`client`](AttestationClient)):
//! - **HTTPS only.** Every call to the attestation service (nonces, tokens, JWKS, key
//!   release, admin) goes over TLS: a service URL that is not `https://` is refused
//!   with [`ClientError::InsecureUrl`] before anything is sent, and redirects are
//!   never followed. The only exception is
//!   [`ClientBuilder::danger_allow_insecure_loopback_http`], for tests, which admits
//!   `http://` to a loopback IP address (127.0.0.0/8, `::1`) and nothing else.
//! - **Rate limits are reported, not retried.** An HTTP 429 from the service becomes
//!   [`ClientError::RateLimited`] with the limit's name and the `Retry-After` delay;
//!   the caller decides when to retry.
//!
//! - [`AttestationClient`]: nonce, attest, key release, JWKS, admin calls;
//!   [`ClientBuilder`] for a trusted CA, a local address or the loopback opt-in.
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
    AttestationClient, ClientBuilder, ClientError, KeyRelease, NonceResponse, fetch_jwks,
    install_crypto_provider, obtain_token, obtain_token_binding,
};
pub use gate::{GateRefusal, NodeGate};
