//! The HTTPS client for the attestation service.

use std::sync::Arc;

use cairn_attest::{Attester, Jwks, Platform, PolicyRef, PublicJwk, RuntimeData, SealedSecret};
use reqwest::{Method, StatusCode};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use serde::Deserialize;
use serde_json::{Value, json};

/// Why a call to the attestation service failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The evidence could not be produced.
    #[error("attester: {0}")]
    Attester(#[from] cairn_attest::AttesterError),
    /// The trusted CA certificate is not usable PEM.
    #[error("trusted CA certificate: {0}")]
    Ca(String),
    /// The service answered with something that is not the expected JSON.
    #[error("unexpected response from {url}: {detail}")]
    Decode {
        /// The request URL.
        url: String,
        /// What was wrong.
        detail: String,
    },
    /// The service refused the request; `code` and `reason` are its own words.
    #[error("service refused ({status}, {code}): {reason}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// The service's error code (e.g. `appraisal_refused`).
        code: String,
        /// The service's reason.
        reason: String,
    },
    /// Connecting or transferring failed.
    #[error("request to {url} failed: {detail}")]
    Transport {
        /// The request URL.
        url: String,
        /// What failed.
        detail: String,
    },
}

/// Installs rustls' ring provider as the process default (idempotent). reqwest is
/// built without a provider so that the whole workspace stays on ring.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A fresh nonce from the service.
#[derive(Clone, Debug, Deserialize)]
pub struct NonceResponse {
    /// The nonce.
    pub nonce: String,
    /// When it expires (seconds since the epoch).
    pub expires_at: u64,
}

/// A released secret, sealed to the workload's key.
#[derive(Clone, Debug, Deserialize)]
pub struct KeyRelease {
    /// The secret's name.
    pub name: String,
    /// The `jti` of the token it was released against (part of the HPKE aad).
    pub jti: String,
    /// The HPKE-sealed value.
    pub sealed: SealedSecret,
}

/// A client for one attestation service.
#[derive(Clone)]
pub struct AttestationClient {
    base: String,
    http: reqwest::Client,
}

impl AttestationClient {
    /// A client for the service at `base_url`. With `ca_pem`, only that CA (or
    /// self-signed certificate) is trusted; otherwise the platform's trust store is.
    pub fn new(base_url: &str, ca_pem: Option<&[u8]>) -> Result<Self, ClientError> {
        install_crypto_provider();
        let builder = reqwest::Client::builder().timeout(std::time::Duration::from_secs(30));
        let builder = match ca_pem {
            Some(pem) => {
                let mut roots = rustls::RootCertStore::empty();
                for cert in CertificateDer::pem_slice_iter(pem) {
                    let cert = cert.map_err(|e| ClientError::Ca(e.to_string()))?;
                    roots
                        .add(cert)
                        .map_err(|e| ClientError::Ca(e.to_string()))?;
                }
                if roots.is_empty() {
                    return Err(ClientError::Ca("no certificate in the PEM".into()));
                }
                let provider = Arc::new(rustls::crypto::ring::default_provider());
                let tls = rustls::ClientConfig::builder_with_provider(provider)
                    .with_safe_default_protocol_versions()
                    .map_err(|e| ClientError::Ca(e.to_string()))?
                    .with_root_certificates(roots)
                    .with_no_client_auth();
                builder.tls_backend_preconfigured(tls)
            }
            None => builder,
        };
        let http = builder.build().map_err(|e| ClientError::Transport {
            url: base_url.to_owned(),
            detail: e.to_string(),
        })?;
        Ok(Self {
            base: base_url.trim_end_matches('/').to_owned(),
            http,
        })
    }

    /// The service's base URL.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        bearer: Option<&str>,
        body: Option<Vec<u8>>,
    ) -> Result<Value, ClientError> {
        let url = format!("{}{path}", self.base);
        let mut req = self.http.request(method, &url);
        if let Some(token) = bearer {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.header("content-type", "application/json").body(body);
        }
        let resp = req.send().await.map_err(|e| ClientError::Transport {
            url: url.clone(),
            detail: format!("{e:#}"),
        })?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|e| ClientError::Transport {
            url: url.clone(),
            detail: e.to_string(),
        })?;
        let value: Value = serde_json::from_slice(&bytes).map_err(|e| ClientError::Decode {
            url: url.clone(),
            detail: format!("{status}: {e}"),
        })?;
        if status != StatusCode::OK {
            let field = |k: &str| {
                value
                    .get(k)
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned()
            };
            return Err(ClientError::Refused {
                status: status.as_u16(),
                code: field("error"),
                reason: field("reason"),
            });
        }
        Ok(value)
    }

    fn decode<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        v: Value,
    ) -> Result<T, ClientError> {
        serde_json::from_value(v).map_err(|e| ClientError::Decode {
            url: format!("{}{path}", self.base),
            detail: e.to_string(),
        })
    }

    /// A fresh single-use nonce.
    pub async fn nonce(&self) -> Result<NonceResponse, ClientError> {
        let v = self.call(Method::POST, "/attest/nonce", None, None).await?;
        self.decode("/attest/nonce", v)
    }

    /// Submits evidence (and the runtime data it binds) and returns the token.
    pub async fn attest(
        &self,
        platform: Platform,
        evidence: &Value,
        runtime_data: Option<&RuntimeData>,
    ) -> Result<String, ClientError> {
        let path = format!("/attest/{platform}");
        let mut body = json!({ "evidence": evidence });
        if let Some(rd) = runtime_data {
            body["runtime_data"] = json!(rd);
        }
        let v = self
            .call(
                Method::POST,
                &path,
                None,
                Some(body.to_string().into_bytes()),
            )
            .await?;
        v.get("token")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| ClientError::Decode {
                url: format!("{}{path}", self.base),
                detail: "no token in the response".into(),
            })
    }

    /// Asks for secret `name`, presenting `token`.
    pub async fn release_key(&self, name: &str, token: &str) -> Result<KeyRelease, ClientError> {
        let path = format!("/keys/{name}");
        let v = self.call(Method::POST, &path, Some(token), None).await?;
        self.decode(&path, v)
    }

    /// The service's JWKS document, as JSON bytes.
    pub async fn jwks_json(&self) -> Result<Vec<u8>, ClientError> {
        let v = self
            .call(Method::GET, "/.well-known/jwks.json", None, None)
            .await?;
        Ok(v.to_string().into_bytes())
    }

    /// The service's JWKS, parsed.
    pub async fn jwks(&self) -> Result<Jwks, ClientError> {
        let json = self.jwks_json().await?;
        Jwks::parse(&json).map_err(|e| ClientError::Decode {
            url: format!("{}/.well-known/jwks.json", self.base),
            detail: e.to_string(),
        })
    }

    /// The service's OpenID configuration document.
    pub async fn openid_configuration(&self) -> Result<Value, ClientError> {
        self.call(Method::GET, "/.well-known/openid-configuration", None, None)
            .await
    }

    /// Replaces the active policy for `platform` (admin).
    pub async fn replace_policy(
        &self,
        admin_token: &str,
        platform: Platform,
        policy: &[u8],
    ) -> Result<PolicyRef, ClientError> {
        let path = format!("/admin/policies/{platform}");
        let v = self
            .call(Method::PUT, &path, Some(admin_token), Some(policy.to_vec()))
            .await?;
        self.decode(&path, v)
    }

    /// Rotates the token signing key (admin); returns the new `kid`.
    pub async fn rotate_signing_key(&self, admin_token: &str) -> Result<String, ClientError> {
        let v = self
            .call(Method::POST, "/admin/keys/rotate", Some(admin_token), None)
            .await?;
        v.get("kid")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| ClientError::Decode {
                url: format!("{}/admin/keys/rotate", self.base),
                detail: "no kid in the response".into(),
            })
    }
}

/// Fetches and parses the JWKS document at `url` (any URL; nothing is appended).
pub async fn fetch_jwks(url: &str, ca_pem: Option<&[u8]>) -> Result<Jwks, ClientError> {
    let client = AttestationClient::new(url, ca_pem)?;
    let v = client.call(Method::GET, "", None, None).await?;
    Jwks::parse(v.to_string().as_bytes()).map_err(|e| ClientError::Decode {
        url: url.to_owned(),
        detail: e.to_string(),
    })
}

/// Gets a token for the workload `attester` runs, binding `key`: fetches a nonce,
/// binds (nonce, key) into fresh evidence, and submits it. Returns the token and the
/// runtime data it binds.
pub async fn obtain_token(
    client: &AttestationClient,
    attester: &dyn Attester,
    key: &PublicJwk,
) -> Result<(String, RuntimeData), ClientError> {
    let nonce = client.nonce().await?;
    let runtime_data = RuntimeData::new(nonce.nonce, key.clone());
    let evidence = attester.evidence(&runtime_data.report_data())?;
    let token = client
        .attest(attester.platform(), &evidence, Some(&runtime_data))
        .await?;
    Ok((token, runtime_data))
}
