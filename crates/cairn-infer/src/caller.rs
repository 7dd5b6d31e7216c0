//! Attested callers: the token chain from a relying party that is itself attested
//! (the healthcare scenario's medical platform) to an inference node.
//!
//! A node configured with a [`CallerPolicy`] answers only callers that present their
//! own attestation token inside the sealed request ([`CALLER_TOKEN_HEADER`] of the
//! inner request). The token must bind, through its report data:
//!
//! - a nonce this node handed out ([`CHALLENGE_PATH`]), used once, before it expires:
//!   a replayed request (OHTTP itself has no replay protection) is refused;
//! - this node's audience ([`AUDIENCE_KEY`] in the token's user data): a token made
//!   for another service is refused here;
//! - the request's encapsulated key (`enc`) as the token's `tee_pubkey`: the token
//!   is good for exactly one encapsulated request, so it cannot be lifted onto
//!   another channel;
//!
//! and be signed by the node's attestation service for a measurement the policy
//! allows. Bearer tokens with no audience, nonce or channel, as in the published
//! version of the scenario, are refused.
//!
//! Invariants:
//! - [`CallerGate::check`] is the one place a caller is admitted; the service calls
//!   it from `service::answer` for every request before the model runs, so its
//!   refusals are sealed like every other answer about a request;
//! - a nonce is consumed only by a request whose token passed every other check, and
//!   then never accepted again;
//! - outstanding challenges are bounded ([`MAX_OUTSTANDING_CHALLENGES`]).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use cairn_attest::claims::AttestationClaims;
use cairn_attest::{Attester, Expectations, Jwks, PublicJwk, RuntimeData, UnixTime, verify_token};
use cairn_attest_client::{AttestationClient, ClientError};
use serde::{Deserialize, Serialize};

use crate::client::{
    Answer, InferClient, InferError, Refusal, VerifiedNode, success_body, transport,
};
use crate::ohttp::{ClientContext, InnerRequest, PreparedRequest, prepare_request};
use crate::protocol::{BodyFormat, PREDICT_PATH};

/// Where a caller gets a challenge (a fresh nonce and the node's audience).
pub const CHALLENGE_PATH: &str = "/v1/challenge";
/// The inner request header carrying the caller's attestation token.
pub const CALLER_TOKEN_HEADER: &str = "cairn-caller-token";
/// The user-data name under which a caller's token binds the audience.
pub const AUDIENCE_KEY: &str = "cairn.chain.audience";
/// How long a challenge stays usable.
pub const CHALLENGE_TTL_SECS: u64 = 120;
/// At most this many unexpired challenges are outstanding; beyond, the oldest go.
pub const MAX_OUTSTANDING_CHALLENGES: usize = 4096;
/// The JWKS is fetched again when a challenge is issued and it is older than this.
pub const JWKS_MAX_AGE: Duration = Duration::from_secs(30);

/// What a node requires of its callers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallerPolicy {
    /// This node's audience: the name callers' tokens must bind.
    pub audience: String,
    /// The callers' measurements this node accepts (lowercase hex); never empty.
    pub measurements: BTreeSet<String>,
    /// Whether callers on the virtual (software-only) platform are accepted.
    #[serde(default)]
    pub allow_virtual: bool,
}

/// A challenge for one call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Challenge {
    /// The nonce (from the attestation service) the caller's token must carry.
    pub nonce: String,
    /// The audience the caller's token must bind.
    pub audience: String,
    /// When the challenge expires (seconds since the epoch).
    pub expires_at: u64,
}

/// Why a caller policy cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CallerPolicyError {
    /// No measurement listed.
    #[error(
        "the caller policy lists no measurement: list the measurements of the workloads allowed to call"
    )]
    NoMeasurement,
    /// A measurement is not lowercase hex.
    #[error("caller measurement {0:?} is not lowercase hexadecimal")]
    BadMeasurement(String),
    /// The audience is empty.
    #[error("the caller policy's audience is empty: name this service")]
    NoAudience,
}

impl CallerPolicy {
    /// Checks the policy can be enforced as written.
    pub fn validate(&self) -> Result<(), CallerPolicyError> {
        if self.audience.trim().is_empty() {
            return Err(CallerPolicyError::NoAudience);
        }
        if self.measurements.is_empty() {
            return Err(CallerPolicyError::NoMeasurement);
        }
        for m in &self.measurements {
            if m.is_empty()
                || !m
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            {
                return Err(CallerPolicyError::BadMeasurement(m.clone()));
            }
        }
        Ok(())
    }
}

/// Why a caller was refused.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum CallerRefusal {
    /// The request carries no caller token.
    #[error(
        "this node answers only attested callers: put your attestation token in the inner \
         request's {CALLER_TOKEN_HEADER} header (its nonce from POST {CHALLENGE_PATH})"
    )]
    Missing,
    /// The token failed a relying-party check (signature, issuer, expiry, measurement,
    /// platform, or the channel binding).
    #[error("caller token refused: {0}")]
    Token(cairn_attest::Refusal),
    /// The token carries no runtime data, so it binds nothing.
    #[error("caller token binds no runtime data (no nonce, audience or channel)")]
    Unbound,
    /// The token was made for another audience.
    #[error("caller token is for audience {actual:?}; this node is {expected:?}")]
    Audience {
        /// This node's audience.
        expected: String,
        /// The token's (`none` if absent).
        actual: String,
    },
    /// The nonce was not issued here, was used already, or expired.
    #[error(
        "caller token's nonce {0:?} was not issued by this node, is used already or expired: \
         get a fresh one from POST {CHALLENGE_PATH}"
    )]
    Nonce(String),
}

impl CallerRefusal {
    /// The HTTP status of the sealed answer.
    pub fn status(&self) -> u16 {
        match self {
            CallerRefusal::Missing => 401,
            _ => 403,
        }
    }
}

/// A caller that passed every check.
#[derive(Clone, Debug)]
pub struct VerifiedCaller {
    /// Its token's claims.
    pub claims: AttestationClaims,
}

/// The node's side: issued challenges, the JWKS, and the check.
pub struct CallerGate {
    policy: CallerPolicy,
    issuer: String,
    jwks: RwLock<(Arc<Jwks>, Instant)>,
    challenges: Mutex<HashMap<String, u64>>,
}

impl std::fmt::Debug for CallerGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallerGate")
            .field("policy", &self.policy)
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl CallerGate {
    /// A gate for `policy`, trusting tokens of `issuer` signed with `jwks`.
    pub fn new(policy: CallerPolicy, issuer: &str, jwks: Jwks) -> Result<Self, CallerPolicyError> {
        policy.validate()?;
        Ok(Self {
            policy,
            issuer: issuer.to_owned(),
            jwks: RwLock::new((Arc::new(jwks), Instant::now())),
            challenges: Mutex::new(HashMap::new()),
        })
    }

    /// The policy.
    pub fn policy(&self) -> &CallerPolicy {
        &self.policy
    }

    /// Replaces the JWKS (after fetching it again).
    pub fn replace_jwks(&self, jwks: Jwks) {
        let mut g = self
            .jwks
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *g = (Arc::new(jwks), Instant::now());
    }

    /// How long ago the JWKS was fetched.
    pub fn jwks_age(&self) -> Duration {
        let g = self
            .jwks
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        g.1.elapsed()
    }

    fn jwks(&self) -> Arc<Jwks> {
        let g = self
            .jwks
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        g.0.clone()
    }

    /// Records `nonce` (fresh from the attestation service) as a challenge.
    pub fn issue(&self, nonce: String, now: UnixTime) -> Challenge {
        let expires_at = now.secs() + CHALLENGE_TTL_SECS;
        let mut c = lock(&self.challenges);
        if c.len() >= MAX_OUTSTANDING_CHALLENGES {
            c.retain(|_, exp| *exp > now.secs());
        }
        while c.len() >= MAX_OUTSTANDING_CHALLENGES {
            let Some(oldest) = c.iter().min_by_key(|(_, e)| **e).map(|(n, _)| n.clone()) else {
                break;
            };
            c.remove(&oldest);
        }
        c.insert(nonce.clone(), expires_at);
        Challenge {
            nonce,
            audience: self.policy.audience.clone(),
            expires_at,
        }
    }

    /// Admits a caller: `token` (the inner request's header) must pass the relying
    /// party checks, bind `enc` (the request's encapsulated key), this node's audience
    /// and an outstanding nonce, which is then consumed.
    pub fn check(
        &self,
        token: Option<&str>,
        enc: &[u8; 32],
        now: UnixTime,
    ) -> Result<VerifiedCaller, CallerRefusal> {
        let token = token.ok_or(CallerRefusal::Missing)?;
        let mut expect = Expectations::new(&self.issuer)
            .with_measurements(&self.policy.measurements)
            .with_tee_pubkey(PublicJwk::X25519(*enc));
        expect.allow_virtual = self.policy.allow_virtual;
        let verified =
            verify_token(token, &self.jwks(), &expect, now).map_err(CallerRefusal::Token)?;
        let claims = verified.claims;
        let rd = claims.runtime_data.as_ref().ok_or(CallerRefusal::Unbound)?;
        let audience = rd.user_data.get(AUDIENCE_KEY);
        if audience != Some(&self.policy.audience) {
            return Err(CallerRefusal::Audience {
                expected: self.policy.audience.clone(),
                actual: audience.cloned().unwrap_or_else(|| "none".into()),
            });
        }
        let mut c = lock(&self.challenges);
        match c.remove(&rd.nonce) {
            Some(exp) if exp > now.secs() => Ok(VerifiedCaller { claims }),
            _ => Err(CallerRefusal::Nonce(rd.nonce.clone())),
        }
    }
}

/// What a caller binds into its token for one request.
pub fn caller_runtime_data(challenge: &Challenge, enc: &[u8; 32]) -> RuntimeData {
    RuntimeData::new(challenge.nonce.clone(), PublicJwk::X25519(*enc)).with_user_data(
        BTreeMap::from([(AUDIENCE_KEY.to_owned(), challenge.audience.clone())]),
    )
}

/// Obtains the caller's token for one request: fresh evidence binding the
/// challenge's nonce and audience and the request's `enc`, appraised by the
/// attestation service.
pub async fn obtain_caller_token(
    attestation: &AttestationClient,
    attester: &dyn Attester,
    challenge: &Challenge,
    enc: &[u8; 32],
) -> Result<String, ClientError> {
    let rd = caller_runtime_data(challenge, enc);
    let evidence = attester.evidence(&rd.report_data())?;
    attestation
        .attest(attester.platform(), &evidence, Some(&rd))
        .await
}

/// An attested caller: how it attests each of its requests, and the audience it
/// expects to call.
#[derive(Clone)]
pub struct Caller {
    /// Its attestation service.
    pub attestation: AttestationClient,
    /// Its own evidence source.
    pub attester: Arc<dyn Attester>,
    /// The audience the node must name (the service this caller means to call).
    pub audience: String,
}

/// What a caller presented with one request (for its audit records).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallerProof {
    /// The caller's token.
    pub token: String,
    /// The challenge's nonce the token binds.
    pub nonce: String,
    /// The audience the token binds.
    pub audience: String,
}

impl InferClient {
    /// A fresh challenge from the node.
    pub async fn challenge(&self) -> Result<Challenge, InferError> {
        let url = format!("{}{CHALLENGE_PATH}", self.base);
        let resp = self
            .http
            .post(&url)
            .send()
            .await
            .map_err(|e| transport(&url, e))?;
        let body = success_body(&url, resp).await?;
        serde_json::from_slice(&body)
            .map_err(|e| InferError::Protocol(format!("{url} answered no challenge: {e}")))
    }

    /// Sets up the encapsulation of one request to a verified node (its `enc` is
    /// then known, for the caller's token to bind).
    pub fn prepare(&self, node: &VerifiedNode) -> Result<PreparedRequest, InferError> {
        Ok(prepare_request(&node.key_config, self.policy.aead)?)
    }

    /// Seals one request body in `format`, with the caller's token if given.
    pub fn seal_prepared(
        &self,
        prepared: PreparedRequest,
        body: &[u8],
        format: BodyFormat,
        caller_token: Option<&str>,
    ) -> Result<(Vec<u8>, ClientContext), InferError> {
        let mut headers = vec![("content-type".to_owned(), format.media_type().to_owned())];
        if let Some(t) = caller_token {
            headers.push((CALLER_TOKEN_HEADER.to_owned(), t.to_owned()));
        }
        let inner = InnerRequest {
            method: "POST".into(),
            path: PREDICT_PATH.into(),
            headers,
            body: body.to_vec(),
        }
        .encode()?;
        Ok(prepared.seal(&inner)?)
    }

    /// [`infer`](InferClient::infer) as an attested caller: a challenge from the node
    /// (its audience must be the caller's), a token binding its nonce, the audience
    /// and this request's `enc`, sent inside the sealed request.
    pub async fn infer_as(
        &self,
        node: &VerifiedNode,
        rows: Vec<Vec<f32>>,
        caller: &Caller,
    ) -> Result<(Answer, CallerProof), InferError> {
        let body = BodyFormat::Rows
            .encode_rows(&rows)
            .map_err(|e| InferError::Protocol(format!("cannot encode the rows: {e}")))?;
        let challenge = self.challenge().await?;
        if challenge.audience != caller.audience {
            return Err(Refusal::Audience {
                expected: caller.audience.clone(),
                actual: challenge.audience,
            }
            .into());
        }
        let prepared = self.prepare(node)?;
        let token = obtain_caller_token(
            &caller.attestation,
            caller.attester.as_ref(),
            &challenge,
            prepared.enc(),
        )
        .await?;
        let (sealed, ctx) = self.seal_prepared(prepared, &body, BodyFormat::Rows, Some(&token))?;
        let answer = self.send(&sealed).await?;
        let answer = self.open(node, ctx, &answer, body)?;
        Ok((
            answer,
            CallerProof {
                token,
                nonce: challenge.nonce,
                audience: challenge.audience,
            },
        ))
    }
}
