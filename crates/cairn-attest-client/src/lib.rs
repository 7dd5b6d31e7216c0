//! Cairn attestation client: the workload's and the relying party's side of the
//! attestation service's HTTPS API.
//!
//! Layer: attestation (client). Uses `cairn-attest` for every check and `reqwest`
//! (rustls, ring provider) for transport. Nothing here decides trust: tokens are
//! verified by `cairn_attest::verify_token` against keys fetched from the JWKS URL the
//! caller chose (never one named by a token).
//!
//! - [`AttestationClient`]: nonce, attest, key release, JWKS, admin calls.
//! - [`obtain_token`]: what an attested node or workload does to get a token for itself
//!   (issue 5 part 5: the node-side API).
//! - [`JwksCache`]: a relying party's cached JWKS, refreshed when a token names an
//!   unknown `kid` (at most once per `min_refresh`).

mod cache;
mod client;

pub use cache::{JwksCache, VerifyError};
pub use client::{
    AttestationClient, ClientError, KeyRelease, NonceResponse, fetch_jwks, install_crypto_provider,
    obtain_token,
};
