//! Server-authenticated TLS for browsers (the peer's web console): a browser
//! cannot easily present an org client certificate, so this listener asks
//! for none; the application authenticates users itself (the console's
//! signed-challenge login) and must never treat a request here as a
//! [`crate::Caller`] by itself.
//!
//! ```text
//! TCP accept ──► TLS 1.3/1.2 handshake (server certificate only)
//!            ──► Router (no Caller in the extensions)
//! ```
//!
//! Browsers do not accept Ed25519 server keys, so the certificate given here
//! is an ECDSA P-256 one (the console makes its own; see `cairn-peer`).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::ServerConfig;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;
use tracing::{debug, info, warn};

use crate::error::NetError;
use crate::trust::provider;

/// A handshake that has not finished in this time is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A rustls server configuration presenting `cert_der` (with its PKCS#8
/// `key_der`) and asking for no client certificate.
pub fn browser_server_config(
    cert_der: Vec<u8>,
    key_der: Vec<u8>,
) -> Result<Arc<ServerConfig>, NetError> {
    let tls_err = |e: rustls::Error| NetError::Tls {
        reason: e.to_string(),
    };
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(tls_err)?
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(cert_der)],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_der)),
        )
        .map_err(tls_err)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Serves `router` to browsers over server-authenticated TLS until the
/// returned future is dropped (which closes every open connection).
pub async fn serve_browsers(
    listener: TcpListener,
    config: Arc<ServerConfig>,
    router: Router,
) -> Result<(), NetError> {
    let acceptor = TlsAcceptor::from(config);
    let local = listener.local_addr()?;
    info!(addr = %local, "serving the web console over TLS");
    let mut conns = JoinSet::new();
    loop {
        while conns.try_join_next().is_some() {}
        let (tcp, addr) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                warn!(addr = %local, error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let acceptor = acceptor.clone();
        let router = router.clone();
        conns.spawn(async move {
            let _ = tcp.set_nodelay(true);
            let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    debug!(peer = %addr, reason = %e, "browser TLS handshake failed");
                    return;
                }
                Err(_) => {
                    debug!(peer = %addr, "browser TLS handshake timed out");
                    return;
                }
            };
            let service =
                hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    router.clone().oneshot(req.map(Body::new))
                });
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            if let Err(e) = builder
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                debug!(peer = %addr, error = %e, "browser connection closed with an error");
            }
        });
    }
}
