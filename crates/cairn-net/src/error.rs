//! Transport errors, sorted by who is at fault: our own configuration
//! ([`NetError`]), the remote party's certificate ([`Refusal`]), or a call to
//! another node ([`ClientError`]).

use std::path::PathBuf;

use cairn_crypto::{CryptoError, Role};

/// Why the transport could not be set up (our side's configuration).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NetError {
    /// The node's identity (certificate and key) could not be loaded.
    #[error("cannot load the node identity from {path}: {reason}")]
    Identity {
        /// The identity directory.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The channel organizations' CAs cannot be used as TLS trust anchors.
    #[error("cannot trust the channel organizations: {reason}")]
    Trust {
        /// What is wrong (names the org when known).
        reason: String,
    },
    /// rustls refused our configuration (e.g. a key type it cannot use for TLS).
    #[error("TLS configuration refused: {reason}")]
    Tls {
        /// rustls's message.
        reason: String,
    },
    /// Binding or reading the listening socket failed.
    #[error("listener: {0}")]
    Io(#[from] std::io::Error),
}

/// Why a remote party's certificate or request was refused. Logged with
/// `tracing::warn!` where the refusal happens; the remote party only sees a
/// failed handshake or a fixed HTTP 403 message.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// The certificate does not chain to a channel org CA, or its TLS usage is wrong.
    #[error("certificate chain refused: {reason}")]
    Chain {
        /// What webpki reported, in words.
        reason: String,
    },
    /// The certificate chains to an org CA but is not a valid identity of that
    /// org now (revoked, expired, no role, wrong MSP id, ...).
    #[error("not a valid channel identity: {0}")]
    Identity(CryptoError),
    /// No certificate was presented.
    #[error("no client certificate presented")]
    NoCertificate,
    /// The identity is valid but its role may not use this endpoint.
    #[error(
        "{subject} ({msp_id}, role {role}) may not use {endpoint}: allowed roles are {allowed}"
    )]
    Role {
        /// The refused subject.
        subject: String,
        /// Its org.
        msp_id: String,
        /// Its role.
        role: Role,
        /// The endpoint.
        endpoint: &'static str,
        /// The roles the endpoint accepts.
        allowed: String,
    },
    /// A server proved an identity other than the one the call is for
    /// (see [`crate::ServerRequirement`]): nothing was sent to it.
    #[error(
        "the server presented {subject} ({msp_id}, role {role}), but this call may only go to {expected}"
    )]
    WrongServer {
        /// The subject the server's certificate names.
        subject: String,
        /// Its org, from the certificate.
        msp_id: String,
        /// Its role, from the certificate.
        role: Role,
        /// Who the call was for, in words.
        expected: String,
    },
}

/// Why a call to another node failed.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The node could not be reached, or the TLS handshake failed (for
    /// example because it refused our certificate, or its own is not trusted).
    #[error("cannot reach {url}: {reason}")]
    Connect {
        /// The URL called.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// The node answered with an error status and message.
    #[error("{url} answered {status}: {message}")]
    Status {
        /// The URL called.
        url: String,
        /// HTTP status code.
        status: u16,
        /// The node's message.
        message: String,
    },
    /// The call did not complete in time.
    #[error("{url} did not answer in time")]
    Timeout {
        /// The URL called.
        url: String,
    },
    /// The answer did not decode as the expected type.
    #[error("{url} sent a malformed answer: {reason}")]
    Decode {
        /// The URL called.
        url: String,
        /// What postcard reported.
        reason: String,
    },
    /// The connection failed while the answer was being read.
    #[error("{url}: connection failed while reading the answer: {reason}")]
    Body {
        /// The URL called.
        url: String,
        /// What went wrong.
        reason: String,
    },
}

impl ClientError {
    /// The HTTP status the node answered with, if it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether the call may succeed if retried (node unreachable, timed out,
    /// or answered 503 Service Unavailable).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            ClientError::Connect { .. } | ClientError::Timeout { .. } | ClientError::Body { .. }
        ) || self.status() == Some(503)
    }
}
