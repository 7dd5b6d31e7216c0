//! The web console (issue 18): static pages embedded in the binary and the
//! peer's JSON API, served to browsers on `console_listen` over TLS with a
//! server certificate only (browsers cannot easily present client
//! certificates; see `docs/console.md`).
//!
//! ```text
//! browser ──TLS (console certificate, P-256, pinned by SPKI)──► console router
//!   GET  /, /app.js, /receipt.js, /style.css          static, no login
//!   GET  /console/challenge                           32 random bytes, one use, 2 min
//!   POST /console/login {certificate, challenge, signature}
//!        certificate ─► Trust::identify (the mTLS API's MSP checks) ─► client/admin only
//!        signature over LOGIN_TAG ‖ challenge ─► session cookie (HttpOnly, Secure,
//!        SameSite=Strict, 15 min)
//!   /api/v1/...  session ─► re-identify ─► Caller(identity) ─► crate::http::router
//!                (the same handlers and checks as over mutual TLS; GETs and
//!                 POST .../evaluate only: the console reads, it never submits)
//! ```
//!
//! Invariants:
//! - a request reaches the JSON API only as the identity a valid session
//!   names, re-identified against the current trust on every request (a
//!   revoked certificate loses its session at once); there is no other way
//!   to get a [`Caller`] on this listener;
//! - the private key never reaches the peer: the page signs the challenge;
//! - the console adds no data path of its own: what a user sees comes from
//!   the JSON API handlers, so a non-member org gets private data as hashes
//!   only (`WritesDoc`), and the contract's collection checks refuse it the
//!   values;
//! - logs carry the route shape, org and role, never arguments or results.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use cairn_crypto::{Certificate, Identity, Role};
use cairn_net::Caller;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use tracing::{debug, info, warn};

use crate::error::PeerError;
use crate::node::Shared;

/// What a login signature covers before the challenge bytes.
pub(crate) const LOGIN_TAG: &[u8] = b"cairn-console-login-v1\0";

/// The session cookie's name, before a suffix naming the peer: browsers
/// share cookies between ports of one host, so two consoles on 127.0.0.1
/// must not overwrite each other's session.
const COOKIE_PREFIX: &str = "cairn_console_";
/// How long a challenge may be answered.
const CHALLENGE_TTL: Duration = Duration::from_secs(120);
/// How long a session lasts.
const SESSION_TTL: Duration = Duration::from_secs(15 * 60);
/// Outstanding challenges or sessions kept at most (expired ones are dropped first).
const MAX_ENTRIES: usize = 10_000;

const INDEX_HTML: &str = include_str!("console/index.html");
const APP_JS: &str = include_str!("console/app.js");
const RECEIPT_JS: &str = include_str!("console/receipt.js");
const STYLE_CSS: &str = include_str!("console/style.css");

/// Only scripts and styles from the console itself; no inline code, no
/// other origin (the page holds a private key while it signs).
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
                   img-src 'self' data:; connect-src 'self'; form-action 'none'; \
                   frame-ancestors 'none'; base-uri 'none'";

/// Sessions and challenges of one console.
struct Console {
    shared: Arc<Shared>,
    /// This console's session cookie name.
    cookie: String,
    challenges: Mutex<HashMap<String, Instant>>,
    sessions: Mutex<HashMap<String, Session>>,
}

/// A logged-in identity: its certificate, re-identified on every request.
struct Session {
    cert: Vec<u8>,
    expires: Instant,
}

/// `POST /console/login`.
#[derive(Deserialize)]
struct Login {
    /// The org identity's certificate, PEM.
    certificate: String,
    /// The challenge from `/console/challenge`, hex.
    challenge: String,
    /// The identity's signature over [`LOGIN_TAG`] ‖ challenge bytes, hex.
    signature: String,
}

/// Who is logged in.
#[derive(Serialize)]
struct Whoami {
    msp_id: String,
    subject: String,
    role: String,
    peer_msp_id: String,
    peer: String,
}

/// Loads the console's TLS certificate and key from `dir`, creating a
/// self-signed ECDSA P-256 pair (names `127.0.0.1`, `localhost`) the first
/// time: browsers do not accept the Ed25519 keys org identities use.
/// Returns (certificate DER, PKCS#8 key DER).
pub(crate) fn load_or_create_tls(dir: &Path) -> Result<(Vec<u8>, Vec<u8>), PeerError> {
    let cert_path = dir.join("cert.pem");
    let key_path = dir.join("key.pem");
    let io = |path: &Path, source: std::io::Error| PeerError::Io {
        path: path.to_path_buf(),
        source,
    };
    if !cert_path.exists() {
        cairn_crypto::private_file::create_dir_all(dir).map_err(|e| io(dir, e.source))?;
        let made = rcgen::generate_simple_self_signed(vec![
            "127.0.0.1".to_string(),
            "localhost".to_string(),
        ])
        .map_err(|e| PeerError::Config {
            reason: format!("cannot make the console's TLS certificate: {e}"),
        })?;
        let key_pem = made.signing_key.serialize_pem();
        cairn_crypto::private_file::write_atomic(&key_path, key_pem.as_bytes())
            .map_err(|e| io(&key_path, e.source))?;
        std::fs::write(&cert_path, made.cert.pem()).map_err(|e| io(&cert_path, e))?;
    }
    let cert_pem = std::fs::read_to_string(&cert_path).map_err(|e| io(&cert_path, e))?;
    let key_pem = std::fs::read_to_string(&key_path).map_err(|e| io(&key_path, e))?;
    let bad = |what: &Path, why: String| PeerError::Config {
        reason: format!(
            "{} is not usable ({why}); delete {} and restart the peer to make a new one",
            what.display(),
            dir.display()
        ),
    };
    let cert = pem_body(&cert_pem, "CERTIFICATE")
        .ok_or_else(|| bad(&cert_path, "no CERTIFICATE block".into()))?;
    let key = pem_body(&key_pem, "PRIVATE KEY")
        .ok_or_else(|| bad(&key_path, "no PRIVATE KEY block".into()))?;
    Ok((cert, key))
}

/// The base64 body of the first `label` block of a PEM text, decoded.
fn pem_body(text: &str, label: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = text.find(&begin)? + begin.len();
    let stop = start + text[start..].find(&end)?;
    let b64: String = text[start..stop]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD.decode(b64).ok()
}

/// The console's routes (see the module diagram).
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let peer_tag = cairn_crypto::sha256(shared.signer.identity().der()).to_string();
    let console = Arc::new(Console {
        cookie: format!("{COOKIE_PREFIX}{}", &peer_tag[..16]),
        shared: shared.clone(),
        challenges: Mutex::new(HashMap::new()),
        sessions: Mutex::new(HashMap::new()),
    });
    let api = crate::http::router(shared.clone())
        .layer(axum::middleware::from_fn_with_state(
            shared,
            crate::attested::admission,
        ))
        .layer(axum::middleware::from_fn_with_state(
            console.clone(),
            as_session_identity,
        ));
    Router::new()
        .route("/", get(|| page(INDEX_HTML, "text/html; charset=utf-8")))
        .route(
            "/app.js",
            get(|| page(APP_JS, "text/javascript; charset=utf-8")),
        )
        .route(
            "/receipt.js",
            get(|| page(RECEIPT_JS, "text/javascript; charset=utf-8")),
        )
        .route(
            "/style.css",
            get(|| page(STYLE_CSS, "text/css; charset=utf-8")),
        )
        .route("/console/challenge", get(challenge))
        .route("/console/login", post(login))
        .route("/console/logout", post(logout))
        .route("/console/session", get(session))
        .with_state(console)
        .merge(api)
        .layer(axum::middleware::from_fn(security_headers))
}

async fn page(body: &'static str, content_type: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

async fn security_headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    resp
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (
        status,
        Json(crate::http::ErrorDoc {
            error: message.into(),
        }),
    )
        .into_response()
}

fn random_hex() -> String {
    let mut b = [0u8; 32];
    rand::rng().fill_bytes(&mut b);
    hex::encode(b)
}

/// Drops expired entries; refuses a new one when the map is still full.
fn make_room<V>(map: &mut HashMap<String, V>, expires: impl Fn(&V) -> Instant) -> bool {
    if map.len() >= MAX_ENTRIES {
        let now = Instant::now();
        map.retain(|_, v| expires(v) > now);
    }
    map.len() < MAX_ENTRIES
}

async fn challenge(State(console): State<Arc<Console>>) -> Response {
    let c = random_hex();
    let mut map = console.challenges.lock().unwrap_or_else(|p| p.into_inner());
    if !make_room(&mut map, |t| *t + CHALLENGE_TTL) {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "too many logins in progress; try again in two minutes",
        );
    }
    map.insert(c.clone(), Instant::now());
    Json(serde_json::json!({ "challenge": c })).into_response()
}

/// Checks a login and names what was wrong.
fn check_login(console: &Console, login: &Login) -> Result<Identity, (StatusCode, String)> {
    let issued = console
        .challenges
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(login.challenge.trim());
    if issued.is_none_or(|t| t.elapsed() >= CHALLENGE_TTL) {
        return Err((
            StatusCode::UNAUTHORIZED,
            "the login challenge is unknown, used or expired: sign in again".into(),
        ));
    }
    let challenge = hex::decode(login.challenge.trim())
        .map_err(|_| (StatusCode::BAD_REQUEST, "challenge is not hex".to_string()))?;
    let cert = Certificate::from_pem(&login.certificate).map_err(|e| {
        (
            StatusCode::BAD_REQUEST,
            format!(
                "certificate: not a PEM X.509 certificate ({e}); choose the identity's cert.pem"
            ),
        )
    })?;
    let id = console
        .shared
        .trust
        .identify(cert.der())
        .map_err(|r| (StatusCode::FORBIDDEN, format!("certificate refused: {r}")))?;
    if !matches!(id.role(), Role::Client | Role::Admin) {
        return Err((
            StatusCode::FORBIDDEN,
            format!(
                "{} is a {}: log in with a client or admin identity of an org",
                id.subject(),
                id.role()
            ),
        ));
    }
    let signature = hex::decode(login.signature.trim())
        .map_err(|_| (StatusCode::BAD_REQUEST, "signature is not hex".to_string()))?;
    let mut message = LOGIN_TAG.to_vec();
    message.extend_from_slice(&challenge);
    id.verify(&message, &signature).map_err(|e| {
        (
            StatusCode::UNAUTHORIZED,
            format!("the signature does not verify with the certificate's key ({e}): the key file and the certificate must be the same identity's"),
        )
    })?;
    Ok(id)
}

async fn login(State(console): State<Arc<Console>>, Json(login): Json<Login>) -> Response {
    let id = match check_login(&console, &login) {
        Ok(id) => id,
        Err((status, message)) => {
            warn!(status = status.as_u16(), "console login refused");
            return error(status, message);
        }
    };
    let token = random_hex();
    {
        let mut sessions = console.sessions.lock().unwrap_or_else(|p| p.into_inner());
        if !make_room(&mut sessions, |s| s.expires) {
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                "too many console sessions; try again later",
            );
        }
        sessions.insert(
            token.clone(),
            Session {
                cert: id.der().to_vec(),
                expires: Instant::now() + SESSION_TTL,
            },
        );
    }
    info!(msp_id = %id.msp_id(), role = %id.role(), "console login");
    let cookie = format!(
        "{}={token}; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age={}",
        console.cookie,
        SESSION_TTL.as_secs()
    );
    let mut resp = Json(whoami(&console.shared, &id)).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp
}

fn whoami(shared: &Shared, id: &Identity) -> Whoami {
    Whoami {
        msp_id: id.msp_id().to_string(),
        subject: id.subject().to_string(),
        role: id.role().to_string(),
        peer_msp_id: shared.msp_id().to_string(),
        peer: shared.signer.identity().subject().to_string(),
    }
}

async fn logout(State(console): State<Arc<Console>>, req: Request) -> Response {
    if let Some(token) = session_token(&console, &req) {
        console
            .sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&token);
    }
    let mut resp = StatusCode::NO_CONTENT.into_response();
    let expired = format!(
        "{}=; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=0",
        console.cookie
    );
    if let Ok(v) = HeaderValue::from_str(&expired) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp
}

async fn session(State(console): State<Arc<Console>>, req: Request) -> Response {
    match identity(&console, &req) {
        Ok(id) => Json(whoami(&console.shared, &id)).into_response(),
        Err((status, message)) => error(status, message),
    }
}

fn session_token(console: &Console, req: &Request) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == console.cookie)
        .map(|(_, v)| v.to_string())
}

/// The session's identity, checked again against the current trust.
fn identity(console: &Console, req: &Request) -> Result<Identity, (StatusCode, String)> {
    let unauthorized = || {
        (
            StatusCode::UNAUTHORIZED,
            "not logged in: sign in with an org identity".to_string(),
        )
    };
    let token = session_token(console, req).ok_or_else(unauthorized)?;
    let cert = {
        let mut sessions = console.sessions.lock().unwrap_or_else(|p| p.into_inner());
        match sessions.get(&token) {
            Some(s) if s.expires > Instant::now() => s.cert.clone(),
            Some(_) => {
                sessions.remove(&token);
                return Err(unauthorized());
            }
            None => return Err(unauthorized()),
        }
    };
    console.shared.trust.identify(&cert).map_err(|r| {
        console
            .sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&token);
        warn!(reason = %r, "console session ended: its certificate is no longer valid");
        (StatusCode::FORBIDDEN, format!("certificate refused: {r}"))
    })
}

/// Lets a request into the JSON API as the session's identity; the console
/// only reads (GET) and evaluates queries.
async fn as_session_identity(
    State(console): State<Arc<Console>>,
    mut req: Request,
    next: Next,
) -> Response {
    let read_only = req.method() == Method::GET
        || (req.method() == Method::POST
            && req.uri().path().starts_with("/api/v1/channels/")
            && req.uri().path().ends_with("/evaluate"));
    if !read_only {
        return error(
            StatusCode::METHOD_NOT_ALLOWED,
            "the console only reads and evaluates queries: submit transactions with `cairn invoke` or the gateway API over mutual TLS",
        );
    }
    let id = match identity(&console, &req) {
        Ok(id) => id,
        Err((status, message)) => return error(status, message),
    };
    debug!(method = %req.method(), msp_id = %id.msp_id(), "console API call");
    req.extensions_mut().insert(Caller(id));
    next.run(req).await
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::*;

    #[test]
    fn the_console_certificate_is_made_once_and_is_p256() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = load_or_create_tls(dir.path()).unwrap();
        let (again, key_again) = load_or_create_tls(dir.path()).unwrap();
        assert_eq!(cert, again, "a restart keeps the pinned certificate");
        assert_eq!(key, key_again);
        let parsed = Certificate::from_der(&cert).unwrap();
        assert_eq!(
            parsed.public_key().key_type(),
            cairn_crypto::KeyType::P256,
            "browsers refuse Ed25519 server keys"
        );
        assert!(cairn_net::browser_server_config(cert, key).is_ok());
    }

    #[test]
    fn full_maps_drop_expired_entries_before_refusing() {
        let now = Instant::now();
        let mut map: HashMap<String, Instant> = (0..MAX_ENTRIES)
            .map(|i| (i.to_string(), now + Duration::from_secs(60)))
            .collect();
        assert!(
            !make_room(&mut map, |t| *t),
            "full of live entries: refused"
        );
        map.insert("0".into(), now - Duration::from_secs(1));
        assert!(make_room(&mut map, |t| *t), "an expired entry makes room");
        assert_eq!(map.len(), MAX_ENTRIES - 1);
    }

    #[test]
    fn pem_bodies_are_found_by_label() {
        let text = "junk\n-----BEGIN PRIVATE KEY-----\nAAEC\n-----END PRIVATE KEY-----\n";
        assert_eq!(pem_body(text, "PRIVATE KEY"), Some(vec![0, 1, 2]));
        assert_eq!(pem_body(text, "CERTIFICATE"), None);
    }
}
