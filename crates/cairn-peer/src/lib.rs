//! Cairn's peer: holds channel ledgers, pulls blocks from the ordering
//! service and commits them, endorses proposals by running contracts, serves
//! queries and events, and runs the gateway (Fabric Gateway's semantics) and
//! an HTTP/JSON API; plus [`GatewayClient`], the client side of the gateway.
//!
//! Owns: the peer's configuration ([`PeerConfig`]), joining channels from
//! their genesis blocks (one [`cairn_store::Ledger`] per channel directory,
//! rejoined on restart), block pulling with orderer failover, endorsement
//! (creator checks, `Writers`/`Readers`, simulation, signing), event
//! streams, the gateway (endorsement planning from the contract's committed
//! definition, collection, agreement check, ordering, commit status), the
//! APIs ([`api`] postcard, [`http`] JSON with OpenAPI), and the operations
//! service (`/healthz`, `/metrics`); private data on the network: the
//! transient store, dissemination at endorsement, commit with private data,
//! reconciliation, and private data events; the web console (`console`
//! module: static pages, and the JSON API for browsers that log in with an
//! org identity, on its own server-authenticated TLS listener).
//!
//! May use: `cairn-crypto`, `cairn-policy`, `cairn-ledger`, `cairn-store`,
//! `cairn-contract` (runtime, lifecycle, packages), `cairn-net` (mutual
//! TLS, call streams), and `cairn-orderer`'s public client API (`broadcast`,
//! broadcast streams, `deliver`, `status`), `cairn-counters`.
//!
//! ```text
//!  client ─(signed proposal)─► gateway peer ─► plan from the definition's policy
//!          ◄─ endorsements ──   │ local endorse ─► derive policies from its writes
//!                               │ /endorse/stream ─► peers of other orgs (mTLS,
//!                               │   one call stream per peer, pinned to its org)
//!  client assembles and signs the envelope ─► gateway ─► /broadcast/stream
//!                               ─► Raft leader (failover; resends marked)
//!  every peer: deliver from orderer ─► Ledger::commit_with_private (full
//!              re-validation; private data from the transient store)
//!              ─► height watch ─► events, commit status
//!  private data: endorser ─► own transient store (member collections)
//!                          └► POST /private/push ─► member peers' transient stores
//!                reconciliation ─► POST /private/fetch ─► Ledger::reconcile
//! ```
//!
//! Invariants:
//! - a block reaches a ledger only through
//!   [`cairn_store::Ledger::commit_with_private`],
//!   called by the channel's single puller task, so every commit re-validates
//!   the block and checks the orderer's signature and codes;
//! - the peer never signs for a client: proposals and envelopes are signed
//!   by the client and forwarded unchanged; the peer signs only its own
//!   endorsements;
//! - nothing is simulated before the creator's certificate is validated
//!   against the channel's orgs, its signature verified and the channel
//!   policy checked; a client of an org outside the channel gets a 403 that
//!   names the org and the channel's members;
//! - channels are isolated: each has its own ledger, config, policies and
//!   puller; the TLS layer trusts the union of the joined channels' orgs and
//!   every request is then checked against its own channel;
//! - transient data and private keys are never logged (`Debug` of proposals
//!   and of [`http::InvokeDoc`] shows transient keys only);
//! - the transient log is created 0600 and rewritten atomically through
//!   `cairn_crypto::private_file` (`transient` module: what compaction does
//!   and does not erase);
//! - a collection's cleartext private data is pushed, served and stored
//!   only to and by peers of its member orgs (the sender filters, the
//!   receiver refuses otherwise), never goes to clients of non-member orgs
//!   (events filter by the subscriber's org), and is never logged;
//! - a target's org is the one its certificate proves in the TLS handshake
//!   ([`cairn_net::Client::pinned`], `Shared::peer_client`), never a
//!   configured label: proposals, pushes and private data requests go only
//!   over pinned clients;
//! - a proposal with transient data is sent (by `gateway::Collection::ask`,
//!   the one place that sends proposals) only to peers of the gateway's and
//!   the client's orgs until the first simulation, then only to members of
//!   every collection it touched;
//! - a push is taken only from the peer that signed the endorsement it
//!   carries, for that transaction, and only as signed; differing copies are
//!   kept side by side and the block's hashes choose;
//! - the web console serves the JSON API only as a logged-in client or
//!   admin identity (a signed challenge, the certificate identified by the
//!   same [`cairn_net::Trust`] as mutual TLS, re-identified per request),
//!   read-only (GETs and query evaluation), through the same handlers and
//!   checks; the private key stays in the browser;
//! - attestation admission is one layer (`attested::admission`) over the
//!   whole router; only `GET /channels` and `GET /openapi.json` are open to
//!   nodes that are not admitted.

#![forbid(unsafe_code)]

pub mod api;
mod attested;
mod channel;
mod client;
mod config;
mod console;
mod deliver;
mod endorse;
mod error;
mod events;
mod gateway;
pub mod http;
mod metrics;
mod node;
mod ops;
mod plan;
mod private;
mod reconcile;
mod service;
mod transient;

pub use client::{Committed, DEFAULT_COMMIT_WAIT, Endorsed, GatewayClient, invocation};
pub use config::{
    DeliverSettings, GatewaySettings, KnownPeer, PeerConfig, PrivateDataSettings, RuntimeSettings,
};
pub use error::{GatewayError, PeerError};
pub use node::PeerNode;
