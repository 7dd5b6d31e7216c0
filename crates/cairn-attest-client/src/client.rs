//! The HTTPS client for the attestation service.
//!
//! Invariant: a client talks to the service only over TLS. [`AttestationClient::new`]
//! and [`ClientBuilder::build`] refuse any URL that is not `https://` before anything
//! is sent, reqwest is told to send nothing but HTTPS, and redirects are not followed
//! (the service never redirects, and a redirect could lead to plain http). The one
//! exception is the opt-in named for what it is,
//! [`ClientBuilder::danger_allow_insecure_loopback_http`], which admits `http://` only
//! to a loopback IP address (127.0.0.0/8, `::1`) for tests.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use cairn_attest::{Attester, Jwks, Platform, PolicyRef, PublicJwk, RuntimeData, SealedSecret};
use reqwest::{Method, StatusCode, Url};
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
    /// The service URL is not `https://` (or is plain http to a host the loopback
    /// opt-in does not cover); nothing was sent.
    #[error("refusing attestation service URL {url}: {reason}")]
    InsecureUrl {
        /// The URL as given.
        url: String,
        /// What is wrong and what to use instead.
        reason: String,
    },
    /// The service is rate limiting this client (HTTP 429); retry after the delay.
    #[error("rate limited by the service ({limit}, Retry-After {retry_after_secs} s): {reason}")]
    RateLimited {
        /// The request URL.
        url: String,
        /// The limit that was reached, as the service names it (e.g. `nonces_per_client`).
        limit: String,
        /// Seconds to wait, from the `Retry-After` header.
        retry_after_secs: u64,
        /// The service's reason.
        reason: String,
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

/// How to build an [`AttestationClient`]: the trusted CA, the local address, and the
/// loopback-only plain-http opt-in for tests.
#[derive(Clone, Debug)]
pub struct ClientBuilder {
    base_url: String,
    ca_pem: Option<Vec<u8>>,
    local_address: Option<IpAddr>,
    insecure_loopback_http: bool,
}

const HTTPS_ONLY: &str = "plain http would show nonces, tokens and released secrets to anyone on \
     the path; use https:// (the attestation service serves only HTTPS). Only tests against a \
     loopback address may opt in, with \
     AttestationClient::builder(url).danger_allow_insecure_loopback_http()";

/// Parses `url` and checks that it may be used: `https://`, or `http://` to a loopback
/// IP address when `allow_loopback_http` is set.
fn checked_url(url: &str, allow_loopback_http: bool) -> Result<Url, ClientError> {
    let refuse = |reason: String| ClientError::InsecureUrl {
        url: url.to_owned(),
        reason,
    };
    let parsed = Url::parse(url)
        .map_err(|e| refuse(format!("not a URL ({e}); expected https://HOST[:PORT]")))?;
    match parsed.scheme() {
        "https" => Ok(parsed),
        "http" if !allow_loopback_http => Err(refuse(HTTPS_ONLY.into())),
        "http" => {
            // An IP literal only: a name (even "localhost") resolves to whatever the
            // resolver says.
            let loopback = parsed
                .host_str()
                .map(|h| h.trim_start_matches('[').trim_end_matches(']'))
                .and_then(|h| h.parse::<IpAddr>().ok())
                .is_some_and(|ip| ip.is_loopback());
            if loopback {
                Ok(parsed)
            } else {
                Err(refuse(format!(
                    "danger_allow_insecure_loopback_http allows plain http only to a loopback IP \
                     address (127.0.0.0/8 or [::1]), not {}; use https://",
                    parsed.host_str().unwrap_or("a URL without a host")
                )))
            }
        }
        other => Err(refuse(format!(
            "scheme {other}: is not https:; the attestation service is reached only over https://"
        ))),
    }
}

impl ClientBuilder {
    /// Trusts only this CA (or self-signed certificate), PEM, instead of the platform's
    /// trust store.
    pub fn trust_ca_pem(mut self, pem: &[u8]) -> Self {
        self.ca_pem = Some(pem.to_vec());
        self
    }

    /// Sends from this local address (a multi-homed host choosing its interface;
    /// tests use it to be several clients on 127.0.0.0/8).
    pub fn local_address(mut self, ip: IpAddr) -> Self {
        self.local_address = Some(ip);
        self
    }

    /// For tests only: also accepts a plain `http://` URL whose host is a loopback IP
    /// address. Any other host is still refused, and https URLs are unaffected.
    pub fn danger_allow_insecure_loopback_http(mut self) -> Self {
        self.insecure_loopback_http = true;
        self
    }

    /// Checks the URL and builds the client; nothing is sent yet.
    pub fn build(self) -> Result<AttestationClient, ClientError> {
        install_crypto_provider();
        let url = checked_url(&self.base_url, self.insecure_loopback_http)?;
        let builder = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .https_only(url.scheme() == "https")
            .redirect(reqwest::redirect::Policy::none())
            .local_address(self.local_address);
        let builder = match &self.ca_pem {
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
            url: self.base_url.clone(),
            detail: e.to_string(),
        })?;
        Ok(AttestationClient {
            base: self.base_url.trim_end_matches('/').to_owned(),
            http,
        })
    }
}

impl AttestationClient {
    /// A client for the service at `base_url`, which must be `https://`. With
    /// `ca_pem`, only that CA (or self-signed certificate) is trusted; otherwise the
    /// platform's trust store is.
    pub fn new(base_url: &str, ca_pem: Option<&[u8]>) -> Result<Self, ClientError> {
        let builder = Self::builder(base_url);
        match ca_pem {
            Some(pem) => builder.trust_ca_pem(pem),
            None => builder,
        }
        .build()
    }

    /// A builder for the service at `base_url`, for the options [`Self::new`] lacks.
    pub fn builder(base_url: &str) -> ClientBuilder {
        ClientBuilder {
            base_url: base_url.to_owned(),
            ca_pem: None,
            local_address: None,
            insecure_loopback_http: false,
        }
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
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let bytes = resp.bytes().await.map_err(|e| ClientError::Transport {
            url: url.clone(),
            detail: e.to_string(),
        })?;
        let value: Value = serde_json::from_slice(&bytes).map_err(|e| ClientError::Decode {
            url: url.clone(),
            detail: format!("{status}: {e}"),
        })?;
        if status == StatusCode::TOO_MANY_REQUESTS {
            // The header is the contract (RFC 9110 10.2.3); the body names the limit.
            let retry_after_secs = retry_after.ok_or_else(|| ClientError::Decode {
                url: url.clone(),
                detail: "429 without a Retry-After header in seconds".into(),
            })?;
            let text = |k: &str| {
                value
                    .get(k)
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned()
            };
            return Err(ClientError::RateLimited {
                url,
                limit: value
                    .pointer("/limit/name")
                    .and_then(Value::as_str)
                    .unwrap_or("unnamed")
                    .to_owned(),
                retry_after_secs,
                reason: text("reason"),
            });
        }
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

    /// Creates or replaces the releasable secret `name` (admin): its value and release
    /// policy (the JSON the service stores, `{"value_b64", "release"}`).
    pub async fn replace_secret(
        &self,
        admin_token: &str,
        name: &str,
        value: &[u8],
        release: &cairn_attest::ReleasePolicy,
    ) -> Result<(), ClientError> {
        use base64::Engine as _;
        let path = format!("/admin/secrets/{name}");
        let body = json!({
            "value_b64": base64::engine::general_purpose::STANDARD.encode(value),
            "release": release,
        });
        self.call(
            Method::PUT,
            &path,
            Some(admin_token),
            Some(body.to_string().into_bytes()),
        )
        .await?;
        Ok(())
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
    obtain_token_binding(client, attester, key, BTreeMap::new()).await
}

/// [`obtain_token`], also binding the workload's `user_data` (named values the
/// token then carries in `runtime_data.user_data`).
pub async fn obtain_token_binding(
    client: &AttestationClient,
    attester: &dyn Attester,
    key: &PublicJwk,
    user_data: BTreeMap<String, String>,
) -> Result<(String, RuntimeData), ClientError> {
    let nonce = client.nonce().await?;
    let runtime_data = RuntimeData::new(nonce.nonce, key.clone()).with_user_data(user_data);
    let evidence = attester.evidence(&runtime_data.report_data())?;
    let token = client
        .attest(attester.platform(), &evidence, Some(&runtime_data))
        .await?;
    Ok((token, runtime_data))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(url: &str, opt_in: bool) -> String {
        match checked_url(url, opt_in) {
            Err(ClientError::InsecureUrl { reason, .. }) => reason,
            other => panic!("{url} (opt-in {opt_in}): expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn only_https_is_accepted_without_the_opt_in() {
        for ok in [
            "https://attest.example:8443",
            "https://127.0.0.1:1/",
            "https://[::1]:9",
        ] {
            assert!(checked_url(ok, false).is_ok(), "{ok}");
            assert!(checked_url(ok, true).is_ok(), "{ok} with the opt-in");
        }
        let reason = refusal("http://127.0.0.1:8443", false);
        assert!(reason.contains("use https://"), "{reason}");
        assert!(
            reason.contains("danger_allow_insecure_loopback_http"),
            "{reason}"
        );
        assert!(refusal("ftp://attest.example", false).contains("https://"));
        assert!(refusal("attest.example:8443", false).contains("https://"));
    }

    #[test]
    fn the_opt_in_admits_plain_http_to_loopback_ip_addresses_only() {
        for ok in [
            "http://127.0.0.1:8443",
            "http://127.0.0.2:1/x",
            "http://[::1]:80",
        ] {
            assert!(checked_url(ok, true).is_ok(), "{ok}");
        }
        for refused in [
            "http://192.0.2.1:8443",
            "http://attest.example",
            "http://localhost:8443",
            "http://[::ffff:192.0.2.1]:1",
            "http://127.0.0.1.nip.io",
        ] {
            let reason = refusal(refused, true);
            assert!(reason.contains("loopback"), "{refused}: {reason}");
        }
    }
}
