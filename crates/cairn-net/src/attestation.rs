//! The attestation token a node presents with its calls (issue 5, attested
//! nodes), and the extractor that reads it on the serving side.
//!
//! The transport only carries the token: it is a header next to the mutual
//! TLS identity, never a substitute for it. Whoever serves a channel that
//! requires attested nodes checks it (`cairn_attest_client::admit_node`)
//! against the channel's requirement and the caller's TLS certificate key,
//! which the token must bind, so a token copied from another node is useless.

use std::fmt;
use std::sync::{Arc, RwLock};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

/// The HTTP header a node's attestation token travels in.
pub const ATTESTATION_HEADER: &str = "x-cairn-attestation";

/// Longest token accepted from a caller (a compact JWS is well under this).
const MAX_TOKEN_LEN: usize = 16 * 1024;

/// The node's current attestation token, shared by every client built from
/// the same [`crate::TlsIdentity`] and replaced in place when it is renewed.
/// Empty until set: a node without `--attest` presents nothing.
#[derive(Clone, Default)]
pub struct AttestationToken(Arc<RwLock<Option<Arc<str>>>>);

impl AttestationToken {
    /// An empty slot.
    pub fn new() -> AttestationToken {
        AttestationToken::default()
    }

    /// Sets (or renews) the token presented from now on.
    pub fn set(&self, token: impl Into<Arc<str>>) {
        let token = token.into();
        match self.0.write() {
            Ok(mut slot) => *slot = Some(token),
            // A writer panicked mid-assignment; the slot holds a whole value either way.
            Err(poisoned) => *poisoned.into_inner() = Some(token),
        }
    }

    /// The token to present now, if any.
    pub fn current(&self) -> Option<Arc<str>> {
        match self.0.read() {
            Ok(slot) => slot.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

/// Equal when they present the same token now (configs holding a slot compare by value).
impl PartialEq for AttestationToken {
    fn eq(&self, other: &AttestationToken) -> bool {
        self.current() == other.current()
    }
}

impl Eq for AttestationToken {}

impl fmt::Debug for AttestationToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = if self.current().is_some() {
            "set"
        } else {
            "empty"
        };
        f.debug_tuple("AttestationToken").field(&state).finish()
    }
}

/// The attestation token the caller of a request presented, if any (an
/// absent, oversized or non-ASCII header reads as none).
#[derive(Clone, Debug, Default)]
pub struct PresentedToken(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for PresentedToken {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(ATTESTATION_HEADER)
            .filter(|v| v.len() <= MAX_TOKEN_LEN)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Ok(PresentedToken(token))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_renewed_token_replaces_the_old_one_for_every_clone() {
        let slot = AttestationToken::new();
        let shared = slot.clone();
        assert!(shared.current().is_none());
        slot.set("first");
        assert_eq!(shared.current().as_deref(), Some("first"));
        slot.set("second");
        assert_eq!(shared.current().as_deref(), Some("second"));
        assert_eq!(format!("{shared:?}"), "AttestationToken(\"set\")");
    }
}
