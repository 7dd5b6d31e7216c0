//! The hospital's portal server (`cairn health portal serve`): the static web
//! portal (`portal/`: HTML, CSS and JavaScript, embedded in the binary), the pinned
//! policy the browser verifies the platform against, the attestation service's
//! JWKS and nonces, the hospital's own receipts, and the platform's API, all on one
//! origin.
//!
//! The browser does the verifying (WebCrypto ES256 against the JWKS; issuer, expiry,
//! nonce, measurement): this server only relays. The pinned policy is the
//! hospital's, fixed when the server starts; receipts come from the hospital's own
//! peer, not from the platform.
//!
//! Invariants:
//! - every response carries a Content-Security-Policy allowing only this origin, so
//!   the pages load no script and send no data anywhere else;
//! - the relay to the platform passes method, path, query, body and content type,
//!   and logs only method, path shape and status (never bodies).

use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use cairn_attest_client::AttestationClient;
use cairn_ledger::ids::TxId;
use cairn_peer::GatewayClient;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tracing::{info, warn};

use crate::platform::MAX_BODY_BYTES;

/// The portal's files, embedded at build time.
const FILES: &[(&str, &str, &str)] = &[
    (
        "/",
        "text/html; charset=utf-8",
        include_str!("../portal/index.html"),
    ),
    (
        "/index.html",
        "text/html; charset=utf-8",
        include_str!("../portal/index.html"),
    ),
    (
        "/app.js",
        "text/javascript; charset=utf-8",
        include_str!("../portal/app.js"),
    ),
    (
        "/verify.js",
        "text/javascript; charset=utf-8",
        include_str!("../portal/verify.js"),
    ),
    (
        "/style.css",
        "text/css; charset=utf-8",
        include_str!("../portal/style.css"),
    ),
];

/// What the browser checks tokens against (`/portal/config.json`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinnedPolicy {
    /// The attestation service tokens must name.
    pub issuer: String,
    /// The platform measurements the hospital accepts.
    pub platform_measurements: Vec<String>,
    /// The diagnostics measurements the hospital accepts.
    pub diagnostics_measurements: Vec<String>,
    /// Whether virtual (software-only) tokens are accepted, and then labelled.
    pub allow_virtual: bool,
    /// The hospital's MSP id.
    pub hospital: String,
    /// The platform's.
    pub platform: String,
    /// The diagnostics provider's.
    pub diagnostics: String,
}

/// What the portal server needs to start.
pub struct PortalConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// The medical platform's base URL.
    pub platform_url: String,
    /// The attestation service (nonces and JWKS).
    pub attestation: AttestationClient,
    /// The policy the browser verifies against.
    pub pinned: PinnedPolicy,
    /// The hospital's client on its own peer (receipts).
    pub hospital: GatewayClient,
}

/// Why the portal server did not start.
#[derive(Debug, thiserror::Error)]
pub enum PortalError {
    /// The listening socket.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The error.
        source: std::io::Error,
    },
    /// The relay's HTTP client.
    #[error("HTTP client: {0}")]
    Client(String),
}

/// A running portal server.
pub struct RunningPortal {
    /// The address it listens on.
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl RunningPortal {
    /// The portal's URL.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }
}

impl Drop for RunningPortal {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Portal {
    platform_url: String,
    attestation: AttestationClient,
    pinned: PinnedPolicy,
    hospital: GatewayClient,
    http: reqwest::Client,
}

/// Starts the portal server.
pub async fn serve(config: PortalConfig) -> Result<RunningPortal, PortalError> {
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(120))
        .build()
        .map_err(|e| PortalError::Client(e.to_string()))?;
    let portal = Arc::new(Portal {
        platform_url: config.platform_url.trim_end_matches('/').to_owned(),
        attestation: config.attestation,
        pinned: config.pinned,
        hospital: config.hospital,
        http,
    });
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| PortalError::Bind {
            addr: config.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| PortalError::Bind {
        addr: config.listen,
        source,
    })?;
    info!(%addr, platform = %portal.platform_url, "hospital portal serving");
    let app = router(portal);
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            warn!(error = %e, "portal listener stopped");
        }
    });
    Ok(RunningPortal { addr, task })
}

fn router(portal: Arc<Portal>) -> Router {
    let mut r = Router::new();
    for (path, _, _) in FILES {
        r = r.route(path, get(file_handler));
    }
    r.route("/portal/config.json", get(config_handler))
        .route("/portal/jwks.json", get(jwks_handler))
        .route("/portal/nonce", post(nonce_handler))
        .route("/portal/receipt/{txid}", get(receipt_handler))
        .route("/api/{*rest}", any(relay_handler))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::map_response(security_headers))
        .with_state(portal)
}

async fn security_headers(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        ),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    resp
}

fn error(status: StatusCode, msg: impl Into<String>) -> Response {
    (status, axum::Json(json!({ "error": msg.into() }))).into_response()
}

async fn file_handler(req: Request) -> Response {
    let path = req.uri().path();
    match FILES.iter().find(|(p, _, _)| *p == path) {
        Some((_, mime, text)) => ([(header::CONTENT_TYPE, *mime)], *text).into_response(),
        None => error(StatusCode::NOT_FOUND, format!("no file {path}")),
    }
}

async fn config_handler(State(p): State<Arc<Portal>>) -> Response {
    axum::Json(p.pinned.clone()).into_response()
}

async fn jwks_handler(State(p): State<Arc<Portal>>) -> Response {
    match p.attestation.jwks_json().await {
        Ok(bytes) => ([(header::CONTENT_TYPE, "application/json")], bytes).into_response(),
        Err(e) => error(
            StatusCode::BAD_GATEWAY,
            format!("cannot fetch the attestation service's JWKS: {e}"),
        ),
    }
}

async fn nonce_handler(State(p): State<Arc<Portal>>) -> Response {
    match p.attestation.nonce().await {
        Ok(n) => {
            axum::Json(json!({ "nonce": n.nonce, "expires_at": n.expires_at })).into_response()
        }
        Err(e) => error(
            StatusCode::BAD_GATEWAY,
            format!("cannot get a nonce from the attestation service: {e}"),
        ),
    }
}

async fn receipt_handler(State(p): State<Arc<Portal>>, Path(txid): Path<String>) -> Response {
    let Ok(id) = TxId::from_str(&txid) else {
        return error(
            StatusCode::BAD_REQUEST,
            "a transaction id is 64 hexadecimal characters",
        );
    };
    match cairn_peer::api::receipt(
        p.hospital.transport(),
        p.hospital.gateway(),
        p.hospital.channel(),
        &id,
    )
    .await
    {
        Ok(r) => axum::Json(r).into_response(),
        Err(e) => error(
            StatusCode::BAD_GATEWAY,
            format!("the hospital's peer has no receipt for {txid}: {e}"),
        ),
    }
}

/// Relays `/api/...` to the platform.
async fn relay_handler(State(p): State<Arc<Portal>>, req: Request) -> Response {
    let method = req.method().clone();
    if method != Method::GET && method != Method::POST {
        return error(
            StatusCode::METHOD_NOT_ALLOWED,
            "the platform API takes GET and POST",
        );
    }
    let path_and_query = req
        .uri()
        .path_and_query()
        .map(|pq| pq.as_str().to_owned())
        .unwrap_or_default();
    let content_type = req.headers().get(header::CONTENT_TYPE).cloned();
    let body: Bytes = match axum::body::to_bytes(req.into_body(), MAX_BODY_BYTES).await {
        Ok(b) => b,
        Err(_) => {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("request bodies are limited to {MAX_BODY_BYTES} bytes"),
            );
        }
    };
    let url = format!("{}{path_and_query}", p.platform_url);
    let mut out = p.http.request(method.clone(), &url).body(body);
    if let Some(ct) = content_type {
        out = out.header(header::CONTENT_TYPE, ct);
    }
    match out.send().await {
        Ok(resp) => {
            let status = resp.status();
            let ct = resp.headers().get(header::CONTENT_TYPE).cloned();
            let bytes = resp.bytes().await.unwrap_or_default();
            info!(%method, route = %route_shape(&path_and_query), status = status.as_u16(), "relayed to the platform");
            let mut r = Response::new(Body::from(bytes));
            *r.status_mut() = status;
            if let Some(ct) = ct {
                r.headers_mut().insert(header::CONTENT_TYPE, ct);
            }
            r
        }
        Err(e) => {
            warn!(error = %e, "the platform did not answer");
            error(
                StatusCode::BAD_GATEWAY,
                format!("the medical platform did not answer: {e}"),
            )
        }
    }
}

/// The path with ids replaced, for logs.
fn route_shape(path: &str) -> String {
    let path = path.split('?').next().unwrap_or("");
    path.split('/')
        .map(|seg| {
            if seg.starts_with("pt_") || seg.starts_with("dx_") {
                ":id"
            } else {
                seg
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}
