//! Cairn's node transport: every connection between nodes, and from
//! clients, is TLS 1.3 (rustls, ring provider) with mutual authentication by
//! org-CA certificates; requests and answers are postcard bodies over HTTP/2
//! (or HTTP/1.1).
//!
//! Owns: the trust anchors of a node ([`Trust`]: the channel orgs' CAs and
//! revocation lists), its TLS identity ([`TlsIdentity`]), the accept loop
//! ([`serve`]) that hands each request to an axum router together with the
//! authenticated [`Caller`], per-endpoint role checks ([`RequireRoles`]), and
//! the typed client ([`Client`]), call streams (many calls over one HTTP/2
//! stream: [`serve_calls`], [`CallStream`], [`StreamPool`]; for the hops that
//! carry one call per transaction), and the attestation token a node presents
//! with its calls ([`AttestationToken`], read by servers as [`PresentedToken`]);
//! and, apart from all that, a server-authenticated TLS accept loop for
//! browsers ([`serve_browsers`], the peer's web console), which attaches no
//! [`Caller`]: the application authenticates those users itself.
//!
//! May use: `cairn-crypto` (identities, MSPs), `cairn-counters` (requests per
//! route, TLS connections, stream frames; served at `GET /counters` by
//! [`counters`]). Knows nothing of ledgers,
//! orderers or peers: those crates build their routers on top of this one.
//!
//! Invariants:
//! - no request reaches a handler served by [`serve`] unless its TLS client certificate chains to
//!   a trusted org CA *and* [`cairn_crypto::MspSet::identify`] accepts it now
//!   (not revoked, valid, one NodeOU role); a certificate from an unknown CA
//!   fails the handshake itself;
//! - every refusal is logged with `tracing::warn!` naming the reason; the
//!   remote party gets a failed handshake or a fixed 403 message;
//! - a client only talks to servers whose certificate is a peer or orderer of
//!   a trusted org and names the host it called; a [`Client::pinned`] client
//!   only to a node of one org and role ([`ServerRequirement`]), checked in
//!   the handshake before any request byte is sent: whoever must reach a
//!   particular org (private data, transient data) pins it, since host names
//!   and configured labels prove nothing.
//!
//! ```no_run
//! # async fn demo(dir: &std::path::Path, orgs: &[cairn_crypto::MspConfig]) -> Result<(), Box<dyn std::error::Error>> {
//! use axum::{Router, routing::post};
//! use cairn_crypto::Role;
//! use cairn_net::{Caller, Postcard, RequireRoles, TlsIdentity, Trust};
//!
//! let tls = TlsIdentity::load(dir, Trust::new(orgs)?)?;
//! async fn echo(Caller(who): Caller, Postcard(x): Postcard<u32>) -> Postcard<(String, u32)> {
//!     Postcard((who.msp_id().to_string(), x))
//! }
//! let router = Router::new()
//!     .route("/echo", post(echo))
//!     .route_layer(RequireRoles::new("/echo", &[Role::Peer, Role::Orderer]));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:7050").await?;
//! tokio::spawn({ let tls = tls.clone(); async move { cairn_net::serve(listener, &tls, router).await } });
//! let client = cairn_net::Client::new(&tls)?;
//! let (org, n): (String, u32) = client.post("https://127.0.0.1:7050/echo", &7u32).await?;
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]

mod attestation;
mod browser;
mod client;
mod error;
mod server;
mod stream;
mod tls;
mod trust;

pub use attestation::{ATTESTATION_HEADER, AttestationToken, PresentedToken};
pub use browser::{browser_server_config, serve_browsers};
pub use client::{Client, DEFAULT_TIMEOUT, FrameStream, ServerProof};
pub use error::{ClientError, NetError, Refusal};
pub use server::{
    ApiError, Caller, POSTCARD, Postcard, RequireRoles, RoleCheck, check_role, counters,
    encoded_frames, frames, serve,
};
pub use stream::{Answer, Call, CallStream, Down, StreamLimits, StreamPool, serve_calls};
pub use tls::TlsIdentity;
pub use trust::{ServerRequirement, Trust};
