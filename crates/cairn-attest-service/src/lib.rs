//! Cairn attestation service: the HTTPS/JSON front of `cairn-attest`.
//!
//! Layer: attestation (service). Uses `cairn-attest` for all protocol logic and
//! `cairn-attest-hw` for hardware verifiers; this crate adds only transport (axum over
//! rustls with the ring provider), state (nonces, active policies, signing keys,
//! secrets) and persistence under a state directory (files written through
//! `cairn_crypto::private_file`).
//!
//! Endpoints:
//!
//! | method | path | who | does |
//! |---|---|---|---|
//! | POST | `/attest/nonce` | anyone (bounded per source address) | a fresh single-use nonce |
//! | POST | `/attest/{platform}` | workload | evidence + runtime data → verify → appraise → ES256 token |
//! | GET | `/.well-known/openid-configuration` | anyone | issuer metadata |
//! | GET | `/.well-known/jwks.json` | anyone | token verification keys (current and recently retired) |
//! | POST | `/keys/{name}` | token holder | the secret, HPKE-sealed to the token's key, if its release policy allows |
//! | PUT/GET | `/admin/policies/{platform}` | admin | replace / read the active appraisal policy |
//! | POST | `/admin/keys/rotate` | admin | rotate the token signing key |
//! | PUT | `/admin/secrets/{name}` | admin | create or replace a releasable secret (stored under `secrets/`) |
//!
//! The service speaks only HTTPS (rustls; operator-supplied or self-signed
//! certificate): there is no plain-http listener, and `cairn-attest-client` refuses
//! `http://` service URLs.
//!
//! Invariants:
//! - a nonce is accepted once, before it expires;
//! - nonces are bounded per client and in total (`nonces`): a client (source IP
//!   address, IPv6 per /64) holding `nonces_per_client` unexpired nonces is answered
//!   429 with `Retry-After` (seconds until its oldest expires) and a JSON error naming
//!   the limit; at `max_outstanding_nonces` expired nonces are dropped first, then the
//!   oldest of the client holding the most, so a flooder exhausts only its own
//!   allowance and a node renewing its token is served during the flood;
//! - runtime data is put in a token only if the evidence's report data binds it;
//! - policies change only through an authenticated admin request, and every change is
//!   logged at info with the old and new policy hash and appended to `policies/changes.log`;
//! - a retired signing key stays in the JWKS until every token it signed has expired;
//! - every file the service writes under its state directory (signing keys, TLS key,
//!   policies, the change log) is mode 0600 in a 0700 directory, and key files are
//!   replaced atomically;
//! - error responses carry a fixed code and the reason the caller can act on;
//!   internal failures say only "internal error" (details go to the log).

mod api;
mod error;
mod nonces;
mod secrets;
mod server;
mod state;
mod tls;

pub use error::ServiceError;
pub use secrets::{SecretStore, SecretsError};
pub use server::{RunningService, ServiceConfig, TlsSource, serve};
