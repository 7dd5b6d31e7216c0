//! HTTP handlers. Each one does transport work only and delegates every decision to
//! `cairn-attest`.

use std::net::SocketAddr;
use std::sync::{Arc, PoisonError};

use axum::Json;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cairn_attest::{
    AppraisalPolicy, AttestationClaims, Expectations, Jwks, Platform, RuntimeData, UnixTime,
    fresh_jti, fresh_nonce, release_context, seal, verify_token,
};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::ApiError;
use crate::nonces::ClientId;
use crate::state::{AppState, persist_keys, persist_policy};

type Shared = State<Arc<AppState>>;

fn platform(name: &str) -> Result<Platform, ApiError> {
    name.parse()
        .map_err(|e: cairn_attest::platform::UnknownPlatform| {
            ApiError::new(StatusCode::NOT_FOUND, "unknown_platform", e.to_string())
        })
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

/// A fresh nonce, counted against the asking client's allowance (its source address:
/// the route has no credentials, and the service terminates TLS itself, so the
/// address is the TCP peer's; behind a proxy every client would share the proxy's).
pub(crate) async fn nonce(
    State(st): Shared,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
) -> Result<Json<Value>, ApiError> {
    let nonce = fresh_nonce().map_err(|e| ApiError::internal("nonce", e))?;
    let now = UnixTime::now();
    let client = ClientId::from_ip(peer.ip());
    let exp = st
        .nonces
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(nonce.clone(), client, now)
        .map_err(|t| {
            tracing::debug!(%client, limit = t.limit.name(), "nonce request throttled");
            ApiError::throttled(client, t)
        })?;
    Ok(Json(json!({ "nonce": nonce, "expires_at": exp.secs() })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AttestRequest {
    evidence: Value,
    #[serde(default)]
    runtime_data: Option<RuntimeData>,
}

pub(crate) async fn attest(
    State(st): Shared,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let platform = platform(&name)?;
    let req: AttestRequest = serde_json::from_slice(&body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            format!("request body: {e}"),
        )
    })?;
    // Verification is CPU-bound (RSA, ECDSA, X.509): keep it off the async workers.
    let token = tokio::task::spawn_blocking(move || issue(&st, platform, req, UnixTime::now()))
        .await
        .map_err(|e| ApiError::internal("attest task", e))??;
    Ok(Json(json!({ "token": token })))
}

fn issue(
    st: &AppState,
    platform: Platform,
    req: AttestRequest,
    now: UnixTime,
) -> Result<String, ApiError> {
    let policy = st
        .policies
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&platform)
        .cloned()
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::FORBIDDEN,
                "no_policy",
                format!("no appraisal policy is active for {platform}; an admin must install one"),
            )
        })?;
    if let Some(rd) = &req.runtime_data {
        // Consumed before verification, so a failed attempt cannot be retried with it.
        let fresh = st
            .nonces
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take(&rd.nonce, now);
        if !fresh {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_nonce",
                "nonce is unknown, already used or expired; get a fresh one from POST /attest/nonce",
            ));
        }
    }
    let evidence = st
        .verifiers
        .verify(platform, &req.evidence, now)
        .map_err(|e| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "evidence_rejected",
                e.to_string(),
            )
        })?;
    let binding = req.runtime_data.as_ref().map(RuntimeData::report_data);
    let appraisal = policy.appraise(&evidence, binding.as_ref()).map_err(|e| {
        tracing::info!(%platform, measurement = %evidence.measurement, policy = %policy.reference().id, reason = %e, "appraisal refused");
        ApiError::new(StatusCode::FORBIDDEN, "appraisal_refused", e.to_string())
    })?;
    let jti = fresh_jti().map_err(|e| ApiError::internal("jti", e))?;
    let claims = AttestationClaims::new(
        &st.issuer,
        &evidence,
        req.runtime_data.as_ref(),
        &appraisal,
        now,
        jti,
    );
    let token = st
        .keys
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .sign(&claims)
        .map_err(|e| ApiError::internal("sign", e))?;
    if evidence.hardware {
        tracing::info!(%platform, hardware = true, measurement = %claims.measurement, policy = %claims.policy.id, jti = %claims.jti, "issued attestation token");
    } else {
        tracing::info!(%platform, hardware = false, measurement = %claims.measurement, policy = %claims.policy.id, jti = %claims.jti, "issued attestation token for VIRTUAL evidence (software only, not hardware-backed)");
    }
    Ok(token)
}

pub(crate) async fn openid_configuration(State(st): Shared) -> Json<Value> {
    Json(json!({
        "issuer": st.issuer,
        "jwks_uri": format!("{}/.well-known/jwks.json", st.issuer),
        "id_token_signing_alg_values_supported": ["ES256"],
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
        "claims_supported": [
            "iss", "iat", "nbf", "exp", "jti", "platform", "hardware", "measurement",
            "measurements", "debug", "tcb", "flags", "runtime_data", "nonce", "policy"
        ],
    }))
}

pub(crate) async fn jwks(State(st): Shared) -> Json<Value> {
    let set = st
        .keys
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .jwks(UnixTime::now());
    Json(serde_json::to_value(set).unwrap_or_else(|_| json!({ "keys": [] })))
}

pub(crate) async fn release_key(
    State(st): Shared,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let token = bearer(&headers)
        .ok_or_else(|| {
            ApiError::unauthorized("send the attestation token as Authorization: Bearer <token>")
        })?
        .to_owned();
    tokio::task::spawn_blocking(move || release(&st, &name, &token, UnixTime::now()))
        .await
        .map_err(|e| ApiError::internal("release task", e))?
        .map(Json)
}

fn release(st: &AppState, name: &str, token: &str, now: UnixTime) -> Result<Value, ApiError> {
    let secrets = st.secrets.read().unwrap_or_else(PoisonError::into_inner);
    let secret = secrets.secrets.get(name).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_secret",
            format!("no secret named {name:?}"),
        )
    })?;
    let set = st
        .keys
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .jwks(now);
    let jwks = Jwks::from_set(&set).map_err(|e| ApiError::internal("jwks", e))?;
    // The secret's release policy decides about virtual and debug TEEs.
    let mut expect = Expectations::new(st.issuer.clone()).allowing_virtual();
    expect.allow_debug = true;
    let verified = verify_token(token, &jwks, &expect, now)
        .map_err(|e| ApiError::new(StatusCode::UNAUTHORIZED, "invalid_token", e.to_string()))?;
    let claims = verified.claims;
    let key = secret.release.check(name, &claims).map_err(|e| {
        tracing::info!(secret = name, measurement = %claims.measurement, platform = %claims.platform, reason = %e, "secret release refused");
        ApiError::new(StatusCode::FORBIDDEN, "release_refused", e.to_string())
    })?;
    let (info, aad) = release_context(name, &claims.jti);
    let sealed =
        seal(key, &info, &aad, &secret.value).map_err(|e| ApiError::internal("seal", e))?;
    tracing::info!(secret = name, measurement = %claims.measurement, platform = %claims.platform, hardware = claims.hardware, jti = %claims.jti, "released secret");
    Ok(json!({ "name": name, "jti": claims.jti, "sealed": sealed }))
}

/// `PUT /admin/secrets/{name}`: creates or replaces a releasable secret (e.g. a
/// rotated key bundle). Stored before it takes effect; the value is never logged.
pub(crate) async fn replace_secret(
    State(st): Shared,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    check_admin(&st, &headers)?;
    if !crate::secrets::valid_name(&name) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_secret",
            format!(
                "secret name {name:?}: use 1-128 letters, digits, '-', '_' or '.', not starting with '.'"
            ),
        ));
    }
    let secret = crate::secrets::parse_one(&name, &body)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_secret", e.to_string()))?;
    let mut secrets = st.secrets.write().unwrap_or_else(PoisonError::into_inner);
    crate::state::persist_secret(&st.state_dir, &name, &body)
        .map_err(|e| ApiError::internal("persist secret", e))?;
    let replaced = secrets.secrets.insert(name.clone(), secret).is_some();
    drop(secrets);
    tracing::info!(secret = %name, replaced, "secret set by admin");
    Ok(Json(json!({ "name": name, "replaced": replaced })))
}

fn check_admin(st: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let presented = bearer(headers).unwrap_or_default();
    let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
    if bool::from(digest.ct_eq(&st.admin_token_sha256)) {
        Ok(())
    } else {
        tracing::warn!("admin request with a missing or wrong admin token");
        Err(ApiError::unauthorized("admin token missing or wrong"))
    }
}

pub(crate) async fn replace_policy(
    State(st): Shared,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    check_admin(&st, &headers)?;
    let platform = platform(&name)?;
    let policy = AppraisalPolicy::parse(&body)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_policy", e.to_string()))?;
    if policy.platform() != platform {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_policy",
            format!("policy is for {}, not {platform}", policy.platform()),
        ));
    }
    let now = UnixTime::now();
    let reference = policy.reference().clone();
    let mut policies = st.policies.write().unwrap_or_else(PoisonError::into_inner);
    let previous = policies.get(&platform).map(|p| p.reference().hash.clone());
    // Disk first: if it fails, the active policy and the stored one still agree.
    persist_policy(&st.state_dir, &policy, previous.as_deref(), now)
        .map_err(|e| ApiError::internal("persist policy", e))?;
    policies.insert(platform, policy);
    drop(policies);
    tracing::info!(
        %platform,
        id = %reference.id,
        hash = %reference.hash,
        previous_hash = previous.as_deref().unwrap_or("none"),
        "appraisal policy replaced by admin"
    );
    Ok(Json(
        json!({ "platform": platform, "id": reference.id, "hash": reference.hash }),
    ))
}

pub(crate) async fn read_policy(
    State(st): Shared,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    check_admin(&st, &headers)?;
    let platform = platform(&name)?;
    let raw = st
        .policies
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&platform)
        .map(|p| p.raw().to_vec())
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "no_policy",
                format!("no policy for {platform}"),
            )
        })?;
    Ok(([(header::CONTENT_TYPE, "application/json")], raw).into_response())
}

pub(crate) async fn rotate_key(
    State(st): Shared,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    check_admin(&st, &headers)?;
    let kid = rotate(&st)?;
    Ok(Json(json!({ "kid": kid })))
}

/// Rotates the signing key and stores the ring.
pub(crate) fn rotate(st: &AppState) -> Result<String, ApiError> {
    let mut ring = st.keys.write().unwrap_or_else(PoisonError::into_inner);
    let kid = ring
        .rotate(UnixTime::now())
        .map_err(|e| ApiError::internal("rotate", e))?;
    persist_keys(&st.state_dir, &ring).map_err(|e| ApiError::internal("persist keys", e))?;
    Ok(kid)
}
