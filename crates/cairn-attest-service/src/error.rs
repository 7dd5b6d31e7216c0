//! Errors: startup failures ([`ServiceError`]) and HTTP error responses ([`ApiError`]).

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::nonces::{ClientId, NonceLimit, Throttled};

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
    /// Seconds for the `Retry-After` header (429 answers).
    retry_after_secs: Option<u64>,
    /// The limit a 429 answer names in its body.
    limit: Option<NonceLimit>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &'static str, reason: impl Into<String>) -> Self {
        Self {
            status,
            code,
            reason: reason.into(),
            retry_after_secs: None,
            limit: None,
        }
    }

    /// 429 for a nonce request over a limit: the body names the limit, the
    /// `Retry-After` header says when a slot frees up.
    pub(crate) fn throttled(client: ClientId, t: Throttled) -> Self {
        let reason = match t.limit {
            NonceLimit::PerClient(n) => format!(
                "this client ({client}) already holds {n} unexpired nonces, the limit per client \
                 (nonces_per_client); use one (POST /attest/{{platform}}) or retry after {} s",
                t.retry_after_secs
            ),
            NonceLimit::Total(n) => format!(
                "the service holds {n} unexpired nonces, its total limit (outstanding_nonces); \
                 retry after {} s",
                t.retry_after_secs
            ),
        };
        Self {
            retry_after_secs: Some(t.retry_after_secs),
            limit: Some(t.limit),
            ..Self::new(StatusCode::TOO_MANY_REQUESTS, "too_many_nonces", reason)
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
        let mut body = json!({ "error": self.code, "reason": self.reason });
        if let Some(limit) = self.limit {
            body["limit"] = json!({ "name": limit.name(), "value": limit.value() });
        }
        if let Some(secs) = self.retry_after_secs {
            body["retry_after_secs"] = Value::from(secs);
        }
        let mut response = (self.status, Json(body)).into_response();
        if let Some(secs) = self.retry_after_secs {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}
