//! The server side: an accept loop that terminates mutual TLS and hands
//! requests to an axum [`Router`] with the caller's [`Identity`] attached,
//! plus the pieces handlers use: the [`Caller`] extractor, the
//! [`RequireRoles`] layer, the [`Postcard`] body type, [`ApiError`] and
//! [`frames`] for long-lived streams.
//!
//! ```text
//! TCP accept ──► TLS 1.3 handshake (ClientVerifier: org CA chain, then
//!                MspSet::identify — unknown CA / revoked / no role: refused,
//!                warn! with the reason)
//!            ──► per request: re-identify if the trust changed since the
//!                handshake ──► Caller(identity) in the request extensions
//!            ──► Router (RequireRoles per endpoint ──► handler)
//! ```

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use cairn_crypto::{Identity, Role};
use futures_util::{Stream, StreamExt};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tower::{Layer, Service, ServiceExt};
use tracing::{debug, error, info, warn};

use crate::attestation::{ATTESTATION_HEADER, AttestationToken};
use crate::error::{NetError, Refusal};
use crate::tls::TlsIdentity;
use crate::trust::Trust;

/// The media type of postcard bodies.
pub const POSTCARD: &str = "application/vnd.cairn.postcard";

/// A handshake that has not finished in this time is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Largest frame [`frames`] produces or `FrameStream` accepts.
pub(crate) const MAX_FRAME: usize = 256 * 1024 * 1024;

/// Serves `router` on `listener` over mutual TLS until the returned future
/// is dropped (which also closes every open connection: the node stops
/// answering at once, as if killed).
pub async fn serve(
    listener: TcpListener,
    tls: &TlsIdentity,
    router: Router,
) -> Result<(), NetError> {
    let acceptor = TlsAcceptor::from(tls.server_config());
    let trust = tls.trust().clone();
    // Counted per route pattern (`/channels/{channel}/...`), so keys stay few.
    let router = router.route_layer(axum::middleware::from_fn(count_route));
    let local = listener.local_addr()?;
    info!(addr = %local, identity = %tls.signer().identity().subject(), "serving mutual TLS");
    let mut conns = JoinSet::new();
    loop {
        while conns.try_join_next().is_some() {}
        let (tcp, addr) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                // Out of file descriptors and the like: back off, keep serving.
                warn!(addr = %local, error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        conns.spawn(connection(
            tcp,
            addr,
            acceptor.clone(),
            router.clone(),
            trust.clone(),
            tls.attestation().clone(),
        ));
    }
}

async fn connection(
    tcp: TcpStream,
    addr: SocketAddr,
    acceptor: TlsAcceptor,
    router: Router,
    trust: Arc<Trust>,
    attestation: AttestationToken,
) {
    let _ = tcp.set_nodelay(true);
    let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            warn!(peer = %addr, reason = %e, "TLS connection refused");
            return;
        }
        Err(_) => {
            warn!(peer = %addr, "TLS connection refused: handshake timed out");
            return;
        }
    };
    let Some(cert) = stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c| c.to_vec())
    else {
        warn!(peer = %addr, reason = %Refusal::NoCertificate, "TLS connection refused");
        return;
    };
    cairn_counters::inc(cairn_counters::Counter::TlsAccept);
    let peer = Arc::new(PeerCert::new(cert, trust));
    if let Err(r) = peer.identity() {
        warn!(peer = %addr, reason = %r, "TLS connection refused");
        return;
    }
    let service =
        hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
            let router = router.clone();
            let peer = peer.clone();
            let attestation = attestation.clone();
            async move {
                match peer.identity() {
                    Ok(id) => {
                        req.extensions_mut().insert(Caller(id));
                        let mut resp = router.oneshot(req.map(Body::new)).await?;
                        // An attested node answers with its token too, so callers
                        // that require attestation can check whom they talk to.
                        if let Some(token) = attestation.current()
                            && let Ok(value) = header::HeaderValue::from_str(&token)
                        {
                            resp.headers_mut().insert(ATTESTATION_HEADER, value);
                        }
                        Ok(resp)
                    }
                    Err(r) => {
                        warn!(peer = %addr, reason = %r, "request refused");
                        Ok::<_, Infallible>(ApiError::forbidden().into_response())
                    }
                }
            }
        });
    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    if let Err(e) = builder
        .serve_connection(TokioIo::new(stream), service)
        .await
    {
        debug!(peer = %addr, error = %e, "connection closed with an error");
    }
}

/// The handler of `GET /counters` on every node: this process's
/// [`cairn_counters::snapshot`] (counts only: no keys, values or names of
/// anything stored). Read by `cairn bench` before and after its window.
pub async fn counters() -> Postcard<std::collections::BTreeMap<String, u64>> {
    Postcard(cairn_counters::snapshot())
}

/// Counts a request that matched a route (see `cairn_counters::served`).
async fn count_route(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    if let Some(path) = req.extensions().get::<axum::extract::MatchedPath>() {
        cairn_counters::served(req.method().as_str(), path.as_str());
    }
    next.run(req).await
}

/// The client certificate of one connection and its identity, re-checked
/// when the trust changes (e.g. a revocation arrives while it is open).
struct PeerCert {
    der: Vec<u8>,
    trust: Arc<Trust>,
    checked: Mutex<(u64, Result<Identity, Refusal>)>,
}

impl PeerCert {
    fn new(der: Vec<u8>, trust: Arc<Trust>) -> PeerCert {
        let generation = trust.generation();
        let result = trust.identify(&der);
        PeerCert {
            der,
            trust,
            checked: Mutex::new((generation, result)),
        }
    }

    fn identity(&self) -> Result<Identity, Refusal> {
        let mut checked = self.checked.lock().unwrap_or_else(|p| p.into_inner());
        let generation = self.trust.generation();
        let expired = matches!(&checked.1, Ok(id) if id.not_after() < cairn_crypto::unix_now());
        if checked.0 != generation || expired {
            *checked = (generation, self.trust.identify(&self.der));
        }
        checked.1.clone()
    }
}

/// The authenticated caller of a request: the identity its TLS client
/// certificate proves. Only requests served by [`serve`] have one.
#[derive(Clone, Debug)]
pub struct Caller(pub Identity);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        parts.extensions.get::<Caller>().cloned().ok_or_else(|| {
            ApiError::internal(
                "request has no authenticated caller: route not served by cairn_net::serve",
            )
        })
    }
}

/// Checks that `caller` has one of `roles` for `endpoint`.
pub fn check_role(
    caller: &Identity,
    endpoint: &'static str,
    roles: &[Role],
) -> Result<(), Refusal> {
    if roles.contains(&caller.role()) {
        return Ok(());
    }
    Err(Refusal::Role {
        subject: caller.subject().to_string(),
        msp_id: caller.msp_id().to_string(),
        role: caller.role(),
        endpoint,
        allowed: roles
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(", "),
    })
}

/// A layer refusing (403, logged) callers whose role is not in `roles`.
/// Apply with `Router::route_layer` so it guards only matched routes.
#[derive(Clone, Copy, Debug)]
pub struct RequireRoles {
    endpoint: &'static str,
    roles: &'static [Role],
}

impl RequireRoles {
    /// Allows only `roles` on `endpoint` (the name appears in refusals).
    pub const fn new(endpoint: &'static str, roles: &'static [Role]) -> RequireRoles {
        RequireRoles { endpoint, roles }
    }
}

impl<S> Layer<S> for RequireRoles {
    type Service = RoleCheck<S>;

    fn layer(&self, inner: S) -> RoleCheck<S> {
        RoleCheck { inner, rule: *self }
    }
}

/// The service [`RequireRoles`] wraps routes in.
#[derive(Clone, Debug)]
pub struct RoleCheck<S> {
    inner: S,
    rule: RequireRoles,
}

impl<S> Service<Request> for RoleCheck<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let verdict = match req.extensions().get::<Caller>() {
            Some(Caller(id)) => check_role(id, self.rule.endpoint, self.rule.roles).map_err(|r| {
                warn!(endpoint = self.rule.endpoint, reason = %r, "request refused");
                ApiError::forbidden()
            }),
            None => Err(ApiError::internal("request has no authenticated caller")),
        };
        match verdict {
            Ok(()) => Box::pin(self.inner.call(req)),
            Err(e) => Box::pin(async move { Ok(e.into_response()) }),
        }
    }
}

/// A postcard-encoded body: extract it from a request, or answer with it.
#[derive(Clone, Debug)]
pub struct Postcard<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Postcard<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::new(e.status(), e.body_text()))?;
        decode(&bytes).map(Postcard).map_err(ApiError::bad_request)
    }
}

impl<T: Serialize> IntoResponse for Postcard<T> {
    fn into_response(self) -> Response {
        match postcard::to_stdvec(&self.0) {
            Ok(bytes) => ([(header::CONTENT_TYPE, POSTCARD)], bytes).into_response(),
            Err(e) => ApiError::internal(format!("encoding the answer: {e}")).into_response(),
        }
    }
}

/// Decodes a postcard value, refusing trailing bytes.
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    let what = std::any::type_name::<T>()
        .rsplit("::")
        .next()
        .unwrap_or("value");
    let (value, rest) =
        postcard::take_from_bytes(bytes).map_err(|e| format!("not a valid {what}: {e}"))?;
    if !rest.is_empty() {
        return Err(format!("not a valid {what}: {} trailing bytes", rest.len()));
    }
    Ok(value)
}

/// An error answer: a status and a short message for the caller. Internal
/// details are logged, never sent.
#[derive(Clone, Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    /// An answer with this status and message.
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }

    /// 400: the request is malformed or invalid; the message says why.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    /// 403 with a fixed message (the reason is logged by whoever refuses).
    pub fn forbidden() -> ApiError {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden: your identity may not use this endpoint (the node's log says why)",
        )
    }

    /// 503: temporarily unable (no leader, leadership changed); retry.
    pub fn unavailable(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, message)
    }

    /// 500 with a fixed message; `detail` is logged.
    pub fn internal(detail: impl std::fmt::Display) -> ApiError {
        error!(%detail, "internal error");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal error (the node's log has the details)",
        )
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            self.message,
        )
            .into_response()
    }
}

/// A streaming answer: each item as a frame (4-byte big-endian length, then
/// its postcard encoding). The stream may be endless; a client reads it with
/// [`crate::Client::frames`].
pub fn frames<S, T>(items: S) -> Response
where
    S: Stream<Item = T> + Send + 'static,
    T: Serialize + Send + 'static,
{
    encoded_frames(
        items.map(|item| {
            postcard::to_stdvec(&item).map_err(|e| std::io::Error::other(e.to_string()))
        }),
    )
}

/// [`frames`] of items already in their postcard encoding (e.g. blocks as
/// stored), so that serving them costs no decode and no encode; an error
/// ends the stream.
pub fn encoded_frames<S>(items: S) -> Response
where
    S: Stream<Item = Result<Vec<u8>, std::io::Error>> + Send + 'static,
{
    let body = items.map(|bytes| {
        let bytes = bytes?;
        let len = u32::try_from(bytes.len())
            .ok()
            .filter(|l| (*l as usize) <= MAX_FRAME)
            .ok_or_else(|| std::io::Error::other("frame too large"))?;
        cairn_counters::inc(cairn_counters::Counter::Frame);
        let mut frame = Vec::with_capacity(4 + bytes.len());
        frame.extend_from_slice(&len.to_be_bytes());
        frame.extend_from_slice(&bytes);
        Ok::<_, std::io::Error>(Bytes::from(frame))
    });
    ([(header::CONTENT_TYPE, POSTCARD)], Body::from_stream(body)).into_response()
}
