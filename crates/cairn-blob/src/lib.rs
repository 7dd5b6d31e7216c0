//! Cairn's immutable blob storage: buckets of versioned, content-addressed
//! objects on the local filesystem, kept write-once by S3 Object Lock's and
//! Azure immutability's rules, served over an S3-compatible API that
//! unmodified clients (boto3, `aws s3api`) use.
//!
//! Owns: the WORM rules ([`worm`]: retention modes, legal holds, bucket
//! default retention, Azure container policies and protected appends), the
//! store ([`store`]: buckets, versions, delete markers, durable content),
//! the fail-closed clock ([`clock`]), access keys per org identity
//! ([`keys`]), Signature V4 ([`sigv4`]), the S3 API server ([`s3`]) and
//! the client other parts use to write blobs ([`client::BlobClient`]).
//!
//! May use: no other Cairn crate (the ledger anchoring client talks to a
//! peer through the CLI); redb for metadata, axum/tokio for the API.
//!
//! ```text
//!  client ─ SigV4 ─► s3 (authenticate: key ring, payload hash, signature)
//!                     └► Store (spawn_blocking) ─► worm::check_* (pure)
//!                          ├► content: tmp/ ─fsync─► objects/ab/<sha256> ─fsync dir
//!                          ├► new versions: a record in meta.wal (fdatasync), then
//!                          │   the meta.redb transaction without an fsync
//!                          └► every other change: one meta.redb transaction (fsync)
//! ```
//!
//! Invariants:
//! - every delete, overwrite, append and policy change goes through one
//!   function of [`worm`] before it is written, with the time from
//!   [`clock::TrustedClock`]; no other code decides whether data is protected;
//! - a version is visible only once its content is durable: the content file
//!   is fsynced and renamed (directory fsynced) before the metadata
//!   transaction that names it commits;
//! - a change is acknowledged only once durable: in the write-ahead log
//!   (new versions) or by redb's fsync (everything else), and opening the
//!   store replays every logged version the database lacks, once;
//! - versions are never modified in content: an overwrite is a new version,
//!   an append is a new version whose content extends the old one, a delete
//!   without a version id is a delete marker;
//! - the clock never goes backwards across restarts (its high-water mark is
//!   written with every change) and an unknown time keeps every retention in
//!   force;
//! - object lock is enabled only at bucket creation and never disabled; a
//!   compliance retention is only extended; a locked container policy is
//!   only extended (at most five times) and never removed;
//! - refusals name the rule (mode, retain-until, legal hold, container
//!   policy) and keep S3's code; secrets and object bytes are never logged.

#![forbid(unsafe_code)]

pub mod client;
pub mod clock;
pub mod error;
pub mod keys;
pub mod s3;
pub mod sigv4;
pub mod store;
pub mod worm;
mod xml;

pub use clock::{ManualClock, SystemClock, TimeSource, TrustedClock};
pub use error::StoreError;
pub use keys::{AccessKey, KeyRing};
pub use store::{BucketInfo, DeleteOutcome, PutOptions, Store, VersionInfo};
pub use worm::{Bypass, Mode, Now, Refusal, Retention, Timestamp};
