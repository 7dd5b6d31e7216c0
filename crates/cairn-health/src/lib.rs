//! Cairn's healthcare scenario (issue 13): a hospital's staff use a static web
//! portal; the portal calls a medical platform that runs attested; the platform asks
//! the diagnostics provider's confidential inference service for a diagnosis,
//! presenting its own attestation token, and records an audit of each diagnosis on
//! the channel.
//!
//! Layer: an application over the network. Uses `cairn-peer`'s gateway client (as
//! the platform org's client), `cairn-infer`'s verifying client, `cairn-attest*` for
//! tokens. Nothing here is used by the ledger crates.
//!
//! Modules:
//! - [`platform`]: the medical platform's API (`cairn health platform serve`);
//! - [`portal`]: the hospital's portal server and the static portal it serves;
//! - [`registry`]: the model registry on the ledger through a gateway.

pub mod platform;
pub mod portal;
pub mod registry;
