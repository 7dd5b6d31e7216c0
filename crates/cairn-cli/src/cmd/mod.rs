//! One module per `cairn` subcommand group.

pub mod attest;
pub mod bench;
pub mod blob;
pub mod channel_create;
pub mod chaos;
pub mod client;
pub mod crypto;
pub mod demo;
pub mod health;
pub mod infer;
pub mod ledger;
pub mod node;
pub mod node_attest;
pub mod policy;
pub mod receipt;
pub mod sql;
pub mod supply;
pub mod transient;
pub mod up;
