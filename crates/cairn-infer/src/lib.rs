//! Cairn confidential inference: an ONNX model served inside an attested workload,
//! reached only through Oblivious HTTP (RFC 9458) sealed to a key that the
//! workload's attestation token binds.
//!
//! Layer: a service beside the ledger network. Uses `cairn-attest` for tokens,
//! appraisal types and sealing, `cairn-attest-client` to obtain tokens and released
//! secrets, `tract-onnx` for inference, `hpke` + `bhttp` for the encapsulation,
//! axum/reqwest for transport. It does not use the peer or gateway crates: the
//! model registry on the ledger is reached through the [`registry::ModelRegistry`]
//! trait, which the CLI implements with a gateway client.
//!
//! Modules:
//! - [`model`]: loading an ONNX model with tract, its SHA-256 and input/output signature;
//! - [`ohttp`]: RFC 9458 key configurations and encapsulation, RFC 9292 inner messages;
//! - [`caller`]: attested callers (the token chain): challenges, and the check of a
//!   caller's token bound to this node's audience, a nonce and the request's channel;
//! - [`binding`]: what a node's attestation token binds (HPKE key, key configuration,
//!   model hash, receipt key);
//! - [`service`]: the node (`cairn infer serve`) and [`protocol`], its HTTP surface;
//! - [`client`] and [`policy`]: verifying a node against a policy, then sealing to it;
//! - [`receipt`]: signed inference receipts, verified offline with the JWKS;
//! - [`registry`]: what a model registry lookup returns, and its checks;
//! - [`keys`]: the key bundle secret release shares between nodes, and rotation.
//!
//! Invariants:
//! - no request or result leaves the encapsulation in plaintext: errors about a
//!   request's content are answered inside the sealed response (`service::answer`
//!   is the one place that reads a request and the one way an answer leaves); only
//!   failures to decapsulate (which carry no request content) are answered in the
//!   clear;
//! - nothing from a request body is logged;
//! - no request is sealed to an unverified node: [`client::InferClient::infer`]
//!   takes a [`client::VerifiedNode`], which the CLI and every product path get
//!   only from [`client::InferClient::attest`] (or `verify`), and a policy cannot
//!   list "any" measurement or model. (Its fields are public so the benchmark can
//!   build one without a service; a caller that builds its own skips the checks.)
//! - a node serves only a model the registry knows and has not revoked.

pub mod binding;
pub mod caller;
pub mod client;
pub mod keys;
pub mod model;
pub mod ohttp;
pub mod policy;
pub mod protocol;
pub mod receipt;
pub mod registry;
pub mod service;
