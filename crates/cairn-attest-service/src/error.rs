//! Errors: startup failures ([`ServiceError`]) and HTTP error responses ([`ApiError`]).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Why the service could not start or persist its state.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The configuration is unusable.
    #[error("configuration: {0}")]
    Config(String),
    /// Reading or writing the state directory failed.
    #[error("state directory {path}: {source}")]
    Io {
        /// The file or directory.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Creating or writing a private file (keys, state) failed.
    #[error("state directory: {0}")]
    PrivateFile(#[from] cairn_crypto::PrivateFileError),
    /// A stored policy is invalid.
    #[error("stored policy {path}: {reason}")]
    Policy {
        /// The policy file.
        path: String,
        /// Why it was refused.
        reason: String,
    },
    /// The signing keys could not be created or restored.
    #[error("signing keys: {0}")]
    Keys(#[from] cairn_attest::IssueError),
    /// TLS setup failed.
    #[error("TLS: {0}")]
    Tls(String),
}

impl ServiceError {
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.display().to_string(),
            source,
        }
    }
}

/// An HTTP error: a status, a stable machine-readable code and a reason for the caller.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    code: &'static str,
    reason: String,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &'static str, reason: impl Into<String>) -> Self {
        Self {
            status,
            code,
            reason: reason.into(),
        }
    }

    /// A server-side failure: the details are logged, the caller learns nothing more.
    pub(crate) fn internal(context: &str, detail: impl std::fmt::Display) -> Self {
        tracing::error!(context, %detail, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error",
        )
    }

    pub(crate) fn unauthorized(reason: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", reason)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Json(json!({ "error": self.code, "reason": self.reason }));
        (self.status, body).into_response()
    }
}
