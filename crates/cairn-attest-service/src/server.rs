//! Startup and the HTTPS accept loop (axum behind tokio-rustls).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};

use axum::Router;
use axum::extract::ConnectInfo;
use axum::routing::{get, post, put};
use cairn_attest::UnixTime;
use cairn_attest::policy::MAX_TOKEN_TTL_SECS;
use hyper_util::rt::{TokioExecutor, TokioIo};
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use crate::api;
use crate::error::ServiceError;
use crate::nonces::{NonceLimits, NonceStore};
use crate::secrets::SecretStore;
use crate::state::{AppState, load_or_create_keys, load_policies, load_stored_secrets};
use crate::tls;

/// Where the service's TLS certificate comes from.
#[derive(Clone, Debug)]
pub enum TlsSource {
    /// PEM certificate chain and private key files.
    Files {
        /// Certificate chain (leaf first).
        cert: PathBuf,
        /// Private key.
        key: PathBuf,
    },
    /// A self-signed certificate generated once into `<state>/tls/`.
    SelfSigned,
}

/// How to run the service.
#[derive(Debug)]
pub struct ServiceConfig {
    /// Address to listen on (port 0 picks a free port).
    pub listen: SocketAddr,
    /// The `iss` of tokens and the base of the JWKS URL; defaults to `https://<listen address>`.
    pub issuer: Option<String>,
    /// Directory for policies, signing keys and the generated TLS identity.
    pub state_dir: PathBuf,
    /// The bearer token admin requests must present.
    pub admin_token: String,
    /// Offline collateral for SNP (certificates, AMD CRLs `crl-<product>.der` and
    /// `crl-vlek-<product>.der`) and DCAP (`<fmspc>.json`).
    pub collateral_dir: Option<PathBuf>,
    /// Secrets the key broker may release.
    pub secrets: SecretStore,
    /// TLS identity.
    pub tls: TlsSource,
    /// How long a nonce stays valid.
    pub nonce_ttl_secs: u64,
    /// Unexpired nonces one client (source address; IPv6 per /64) may hold; more
    /// are answered 429 with `Retry-After`.
    pub nonces_per_client: usize,
    /// Unexpired nonces the service holds in total (at the bound, expired ones are
    /// dropped first, then the oldest of the client holding the most).
    pub max_outstanding_nonces: usize,
    /// Rotate the signing key this often, if set.
    pub rotate_every_secs: Option<u64>,
}

impl ServiceConfig {
    /// A configuration with defaults: self-signed TLS, no secrets, 5-minute nonces (16
    /// per client, 100,000 in all), no automatic rotation.
    pub fn new(listen: SocketAddr, state_dir: PathBuf, admin_token: String) -> Self {
        Self {
            listen,
            issuer: None,
            state_dir,
            admin_token,
            collateral_dir: None,
            secrets: SecretStore::default(),
            tls: TlsSource::SelfSigned,
            nonce_ttl_secs: 300,
            nonces_per_client: 16,
            max_outstanding_nonces: 100_000,
            rotate_every_secs: None,
        }
    }
}

/// A started service.
pub struct RunningService {
    local_addr: SocketAddr,
    issuer: String,
    tls_cert_pem: Vec<u8>,
    shutdown: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl RunningService {
    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The token issuer (also the service's base URL).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The service's TLS certificate chain (PEM), for clients to trust.
    pub fn tls_cert_pem(&self) -> &[u8] {
        &self.tls_cert_pem
    }

    /// Stops accepting connections and waits for the accept loop to end.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        let _ = self.task.await;
    }

    /// Runs until the accept loop ends (it ends only on shutdown).
    pub async fn wait(self) {
        let _ = self.task.await;
    }
}

fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/attest/nonce", post(api::nonce))
        .route("/attest/{platform}", post(api::attest))
        .route(
            "/.well-known/openid-configuration",
            get(api::openid_configuration),
        )
        .route("/.well-known/jwks.json", get(api::jwks))
        .route("/keys/{name}", post(api::release_key))
        .route(
            "/admin/policies/{platform}",
            put(api::replace_policy).get(api::read_policy),
        )
        .route("/admin/keys/rotate", post(api::rotate_key))
        .route("/admin/secrets/{name}", put(api::replace_secret))
        .with_state(state)
}

/// Binds, loads state and starts serving HTTPS in the background.
pub async fn serve(config: ServiceConfig) -> Result<RunningService, ServiceError> {
    if config.admin_token.len() < 16 {
        return Err(ServiceError::Config(
            "the admin token must be at least 16 characters".into(),
        ));
    }
    if config.nonces_per_client == 0 || config.max_outstanding_nonces < config.nonces_per_client {
        return Err(ServiceError::Config(format!(
            "nonce limits: nonces_per_client ({}) must be at least 1 and at most \
             max_outstanding_nonces ({})",
            config.nonces_per_client, config.max_outstanding_nonces
        )));
    }
    let state_dir = config.state_dir.clone();
    cairn_crypto::private_file::create_dir_all(&state_dir)?;
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|e| ServiceError::Config(format!("cannot listen on {}: {e}", config.listen)))?;
    let local_addr = listener
        .local_addr()
        .map_err(|e| ServiceError::Config(e.to_string()))?;
    let host = if local_addr.ip().is_unspecified() {
        format!("localhost:{}", local_addr.port())
    } else {
        local_addr.to_string()
    };
    let issuer = config
        .issuer
        .clone()
        .unwrap_or_else(|| format!("https://{host}"))
        .trim_end_matches('/')
        .to_owned();
    let (cert_pem, key_pem) = match &config.tls {
        TlsSource::Files { cert, key } => (
            std::fs::read(cert).map_err(|e| ServiceError::io(cert, e))?,
            std::fs::read(key).map_err(|e| ServiceError::io(key, e))?,
        ),
        TlsSource::SelfSigned => {
            let mut names = vec!["localhost".to_owned(), local_addr.ip().to_string()];
            if let Some(h) = issuer
                .strip_prefix("https://")
                .and_then(|r| r.split([':', '/']).next())
                .filter(|h| !names.iter().any(|n| n == h))
            {
                names.push(h.to_owned());
            }
            tls::self_signed(&state_dir, &names)?
        }
    };
    let acceptor = TlsAcceptor::from(tls::server_config(&cert_pem, &key_pem)?);
    let now = UnixTime::now();
    let state = Arc::new(AppState {
        issuer: issuer.clone(),
        verifiers: cairn_attest_hw::all_verifiers(config.collateral_dir.clone()),
        policies: RwLock::new(load_policies(&state_dir)?),
        keys: RwLock::new(load_or_create_keys(
            &state_dir,
            MAX_TOKEN_TTL_SECS + 60,
            now,
        )?),
        nonces: Mutex::new(NonceStore::new(
            config.nonce_ttl_secs,
            NonceLimits {
                per_client: config.nonces_per_client,
                total: config.max_outstanding_nonces,
            },
        )),
        secrets: RwLock::new(load_stored_secrets(&state_dir, config.secrets)?),
        admin_token_sha256: Sha256::digest(config.admin_token.as_bytes()).into(),
        state_dir,
    });
    let (shutdown, mut stop) = watch::channel(false);
    if let Some(every) = config.rotate_every_secs.filter(|s| *s > 0) {
        let st = state.clone();
        let mut stop_rotation = shutdown.subscribe();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(every));
            tick.tick().await;
            loop {
                tokio::select! {
                    _ = tick.tick() => { let _ = api::rotate(&st); }
                    _ = stop_rotation.changed() => break,
                }
            }
        });
    }
    let app = router(state);
    tracing::info!(%local_addr, %issuer, "attestation service listening (HTTPS)");
    let task = tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                a = listener.accept() => a,
                _ = stop.changed() => break,
            };
            let Ok((tcp, peer)) = accepted else { continue };
            let (acceptor, app) = (acceptor.clone(), app.clone());
            tokio::spawn(async move {
                let tls = match acceptor.accept(tcp).await {
                    Ok(t) => t,
                    Err(e) => {
                        tracing::debug!(%peer, error = %e, "TLS handshake failed");
                        return;
                    }
                };
                // The peer address is the nonce route's notion of "client".
                let app = tower::ServiceBuilder::new()
                    .map_request(move |mut req: axum::extract::Request<_>| {
                        req.extensions_mut().insert(ConnectInfo(peer));
                        req
                    })
                    .service(app);
                let service = hyper_util::service::TowerToHyperService::new(app);
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    Ok(RunningService {
        local_addr,
        issuer,
        tls_cert_pem: cert_pem,
        shutdown,
        task,
    })
}
