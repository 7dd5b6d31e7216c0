//! A relying party's JWKS cache.

use std::time::{Duration, Instant};

use cairn_attest::{Expectations, Jwks, Refusal, UnixTime, VerifiedToken, verify_token};
use tokio::sync::RwLock;

use crate::client::{AttestationClient, ClientError};

/// Why a token could not be verified through the cache.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The JWKS could not be fetched.
    #[error("fetching the JWKS: {0}")]
    Fetch(#[from] ClientError),
    /// The token was refused.
    #[error("token refused: {0}")]
    Refused(#[from] Refusal),
}

struct Cached {
    jwks: Option<Jwks>,
    fetched: Option<Instant>,
}

/// The JWKS of one attestation service, fetched on first use and again when a token
/// names a `kid` the cached set lacks (key rotation), but at most once per
/// `min_refresh` so that tokens with made-up `kid`s cannot make it hammer the service.
pub struct JwksCache {
    client: AttestationClient,
    min_refresh: Duration,
    cached: RwLock<Cached>,
}

impl JwksCache {
    /// A cache over `client`'s JWKS endpoint.
    pub fn new(client: AttestationClient, min_refresh: Duration) -> Self {
        Self {
            client,
            min_refresh,
            cached: RwLock::new(Cached {
                jwks: None,
                fetched: None,
            }),
        }
    }

    async fn refresh(&self) -> Result<(), ClientError> {
        let mut c = self.cached.write().await;
        if c.fetched.is_some_and(|t| t.elapsed() < self.min_refresh) && c.jwks.is_some() {
            return Ok(());
        }
        let jwks = self.client.jwks().await?;
        tracing::debug!(kids = ?jwks.kids().collect::<Vec<_>>(), "fetched JWKS");
        c.jwks = Some(jwks);
        c.fetched = Some(Instant::now());
        Ok(())
    }

    /// Verifies `token`, refreshing the JWKS once if its `kid` is unknown.
    pub async fn verify(
        &self,
        token: &str,
        expect: &Expectations,
        now: UnixTime,
    ) -> Result<VerifiedToken, VerifyError> {
        if self.cached.read().await.jwks.is_none() {
            self.refresh().await?;
        }
        let first = {
            let c = self.cached.read().await;
            match &c.jwks {
                Some(jwks) => verify_token(token, jwks, expect, now),
                None => Err(Refusal::UnknownKid(String::new())),
            }
        };
        match first {
            Err(Refusal::UnknownKid(_)) => {
                self.refresh().await?;
                let c = self.cached.read().await;
                let jwks = c.jwks.as_ref().ok_or(Refusal::UnknownKid(String::new()))?;
                Ok(verify_token(token, jwks, expect, now)?)
            }
            other => Ok(other?),
        }
    }
}
