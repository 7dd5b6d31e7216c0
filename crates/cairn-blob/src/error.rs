//! The store's errors: who is at fault decides the S3 code ([`StoreError::s3_code`]).

use std::path::PathBuf;

use crate::worm::{Refusal, RefusalKind};

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A bucket of that name exists.
    #[error("the bucket {bucket} already exists; choose another name")]
    BucketExists {
        /// The bucket.
        bucket: String,
    },
    /// A bucket with versions cannot be deleted.
    #[error("the bucket {bucket} is not empty: it still holds object versions or delete markers")]
    BucketNotEmpty {
        /// The bucket.
        bucket: String,
    },
    /// The metadata database failed.
    #[error("the metadata database failed while {action}: {source}")]
    Db {
        /// What the store was doing.
        action: &'static str,
        /// redb's error.
        source: Box<redb::Error>,
    },
    /// The key's current version is a delete marker.
    #[error(
        "{key} is hidden by the delete marker {version_id}; its versions can still be read by version id"
    )]
    DeleteMarker {
        /// The key.
        key: String,
        /// The marker's version id.
        version_id: String,
    },
    /// An earlier write failed between the log and the database; the store
    /// serves nothing until reopened.
    #[error(
        "the store stopped after a write to its log or database failed; restart `cairn blob serve` (opening the store replays the log)"
    )]
    Halted,
    /// Another process holds the store.
    #[error("the store at {} is in use by another process (is `cairn blob serve` running?)", path.display())]
    InUse {
        /// The store's directory.
        path: PathBuf,
    },
    /// A malformed argument.
    #[error("invalid argument: {0}")]
    Invalid(String),
    /// A file operation failed.
    #[error("{action} {} failed: {source}", path.display())]
    Io {
        /// What the store was doing.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// A version id names a delete marker, which has no content.
    #[error("version {version_id} of {key} is a delete marker and has no content")]
    MarkerHasNoContent {
        /// The key.
        key: String,
        /// The marker's version id.
        version_id: String,
    },
    /// The bucket does not exist.
    #[error("the bucket {bucket} does not exist")]
    NoSuchBucket {
        /// The bucket.
        bucket: String,
    },
    /// The key has no versions.
    #[error("the key {key} does not exist in {bucket}")]
    NoSuchKey {
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
    },
    /// The version does not exist.
    #[error("the version {version_id} of {key} does not exist")]
    NoSuchVersion {
        /// The key.
        key: String,
        /// The version id.
        version_id: String,
    },
    /// A stored record could not be read back.
    #[error(
        "a stored record is unreadable ({what}); the store directory was changed outside Cairn"
    )]
    Record {
        /// Which kind of record, or which version (never an object key: keys
        /// can be private, and this message reaches the log).
        what: String,
    },
    /// A WORM rule refused the operation.
    #[error(transparent)]
    Refused(#[from] Refusal),
}

impl StoreError {
    pub(crate) fn db(action: &'static str) -> impl FnOnce(redb::Error) -> StoreError {
        move |source| StoreError::Db {
            action,
            source: Box::new(source),
        }
    }

    pub(crate) fn io(
        action: &'static str,
        path: &std::path::Path,
    ) -> impl FnOnce(std::io::Error) -> StoreError {
        let path = path.to_path_buf();
        move |source| StoreError::Io {
            action,
            path,
            source,
        }
    }

    /// The S3 error code and HTTP status for this error.
    pub fn s3_code(&self) -> (&'static str, u16) {
        match self {
            StoreError::BucketExists { .. } => ("BucketAlreadyOwnedByYou", 409),
            StoreError::BucketNotEmpty { .. } => ("BucketNotEmpty", 409),
            StoreError::Db { .. }
            | StoreError::Halted
            | StoreError::Io { .. }
            | StoreError::Record { .. } => ("InternalError", 500),
            StoreError::DeleteMarker { .. } | StoreError::NoSuchKey { .. } => ("NoSuchKey", 404),
            StoreError::InUse { .. } => ("ServiceUnavailable", 503),
            StoreError::Invalid(_) => ("InvalidArgument", 400),
            StoreError::MarkerHasNoContent { .. } => ("MethodNotAllowed", 405),
            StoreError::NoSuchBucket { .. } => ("NoSuchBucket", 404),
            StoreError::NoSuchVersion { .. } => ("NoSuchVersion", 404),
            StoreError::Refused(r) => match r.kind() {
                RefusalKind::Protected => ("AccessDenied", 403),
                RefusalKind::Conflict => ("InvalidBucketState", 409),
                RefusalKind::Invalid => ("InvalidRequest", 400),
            },
        }
    }
}
