//! The client side: typed postcard calls to other nodes over mutual TLS.

use std::marker::PhantomData;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::attestation::{ATTESTATION_HEADER, AttestationToken};
use crate::error::{ClientError, NetError};
use crate::server::{MAX_FRAME, POSTCARD, decode};
use crate::tls::TlsIdentity;
use crate::trust::ServerRequirement;

/// Default limit for one call (not for [`Client::frames`] streams).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Connecting (TCP and TLS handshake) must finish within this time.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// Calls other nodes as `tls`'s identity, checking that each server is a
/// peer or orderer of a trusted org. Cheap to clone; connections are pooled.
#[derive(Clone, Debug)]
pub struct Client {
    http: reqwest::Client,
    timeout: Duration,
    attestation: AttestationToken,
}

impl Client {
    /// A client with [`DEFAULT_TIMEOUT`] per call.
    pub fn new(tls: &TlsIdentity) -> Result<Client, NetError> {
        Client::with_timeout(tls, DEFAULT_TIMEOUT)
    }

    /// A client with this limit per call.
    pub fn with_timeout(tls: &TlsIdentity, timeout: Duration) -> Result<Client, NetError> {
        Client::build(tls, tls.client_config(), timeout)
    }

    /// A client whose every connection proves `require` in its handshake:
    /// a server with another org's or role's certificate fails the
    /// handshake, so no request byte (a proposal with transient data,
    /// private data) reaches it, whatever address or label it was listed
    /// under. Its connections are its own pool.
    pub fn pinned(
        tls: &TlsIdentity,
        require: &ServerRequirement,
        timeout: Duration,
    ) -> Result<Client, NetError> {
        Client::build(tls, tls.pinned_client_config(require)?, timeout)
    }

    fn build(
        tls: &TlsIdentity,
        config: std::sync::Arc<rustls::ClientConfig>,
        timeout: Duration,
    ) -> Result<Client, NetError> {
        let http = reqwest::Client::builder()
            .use_preconfigured_tls((*config).clone())
            .https_only(true)
            .connect_timeout(CONNECT_TIMEOUT)
            .tcp_nodelay(true)
            .tls_info(true)
            .http2_keep_alive_interval(Duration::from_secs(10))
            .http2_keep_alive_while_idle(true)
            .no_proxy()
            .build()
            .map_err(|e| NetError::Tls {
                reason: format!("HTTP client: {}", chain(&e)),
            })?;
        Ok(Client {
            http,
            timeout,
            attestation: tls.attestation().clone(),
        })
    }

    /// Adds the node's attestation token, when it has one.
    fn attest(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self.attestation.current() {
            Some(token) => req.header(ATTESTATION_HEADER, &*token),
            None => req,
        }
    }

    /// Sends `req` (postcard) to `url`; the answer is not read yet.
    async fn send_post<Req: Serialize + ?Sized>(
        &self,
        url: &str,
        req: &Req,
        timeout: Duration,
    ) -> Result<reqwest::Response, ClientError> {
        let body = postcard::to_stdvec(req).map_err(|e| ClientError::Decode {
            url: url.to_string(),
            reason: format!("encoding the request: {e}"),
        })?;
        cairn_counters::sent("POST", url);
        self.attest(self.http.post(url))
            .header(reqwest::header::CONTENT_TYPE, POSTCARD)
            .timeout(timeout)
            .body(body)
            .send()
            .await
            .map_err(|e| send_error(url, &e))
    }

    /// The limit per call.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// POSTs `req` (postcard) to `url` and decodes the postcard answer.
    pub async fn post<Req, Resp>(&self, url: &str, req: &Req) -> Result<Resp, ClientError>
    where
        Req: Serialize + ?Sized,
        Resp: DeserializeOwned,
    {
        self.post_within(url, req, self.timeout).await
    }

    /// As [`Client::post`], with its own time limit.
    pub async fn post_within<Req, Resp>(
        &self,
        url: &str,
        req: &Req,
        timeout: Duration,
    ) -> Result<Resp, ClientError>
    where
        Req: Serialize + ?Sized,
        Resp: DeserializeOwned,
    {
        let resp = self.send_post(url, req, timeout).await?;
        read(url, resp).await
    }

    /// As [`Client::post_within`], also returning what the server proved
    /// about itself: the key of its TLS certificate and the attestation
    /// token it answered with, for callers that must check the server's
    /// attestation (a Raft vote counts only from an admitted orderer).
    pub async fn post_attested<Req, Resp>(
        &self,
        url: &str,
        req: &Req,
        timeout: Duration,
    ) -> Result<(Resp, ServerProof), ClientError>
    where
        Req: Serialize + ?Sized,
        Resp: DeserializeOwned,
    {
        let resp = self.send_post(url, req, timeout).await?;
        let proof = server_proof(url, &resp)?;
        Ok((read(url, resp).await?, proof))
    }

    /// As [`Client::get`], also returning what the server proved about
    /// itself (see [`Client::post_attested`]).
    pub async fn get_attested<Resp: DeserializeOwned>(
        &self,
        url: &str,
    ) -> Result<(Resp, ServerProof), ClientError> {
        cairn_counters::sent("GET", url);
        let resp = self
            .attest(self.http.get(url))
            .timeout(self.timeout)
            .send()
            .await
            .map_err(|e| send_error(url, &e))?;
        let proof = server_proof(url, &resp)?;
        Ok((read(url, resp).await?, proof))
    }

    /// The event counters of the node at `base` (its `GET /counters`).
    pub async fn counters(
        &self,
        base: &str,
    ) -> Result<std::collections::BTreeMap<String, u64>, ClientError> {
        self.get(&format!("{}/counters", base.trim_end_matches('/')))
            .await
    }

    /// GETs `url` and decodes the postcard answer.
    pub async fn get<Resp: DeserializeOwned>(&self, url: &str) -> Result<Resp, ClientError> {
        cairn_counters::sent("GET", url);
        let resp = self
            .attest(self.http.get(url))
            .timeout(self.timeout)
            .send()
            .await
            .map_err(|e| send_error(url, &e))?;
        read(url, resp).await
    }

    /// GETs `url` and reads its answer as a stream of frames (see
    /// [`crate::frames`]). Only connecting is time-limited.
    pub async fn frames<T: DeserializeOwned>(
        &self,
        url: &str,
    ) -> Result<FrameStream<T>, ClientError> {
        cairn_counters::sent("GET", url);
        let resp = self
            .attest(self.http.get(url))
            .send()
            .await
            .map_err(|e| send_error(url, &e))?;
        let resp = check_status(url, resp).await?;
        Ok(FrameStream {
            url: url.to_string(),
            resp,
            buf: BytesMut::new(),
            _item: PhantomData,
        })
    }
}

impl Client {
    /// POSTs to `url` with a body that streams as `body` yields, and returns
    /// once the answer's headers arrive (at most `timeout`); the answer body
    /// is read by the caller. For call streams ([`crate::CallStream`]).
    pub(crate) async fn open_upload<B>(
        &self,
        url: &str,
        body: B,
        timeout: Duration,
    ) -> Result<reqwest::Response, ClientError>
    where
        B: http_body::Body<Data = bytes::Bytes> + Send + Sync + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        cairn_counters::sent("POST", url);
        let send = self
            .attest(self.http.post(url))
            .header(reqwest::header::CONTENT_TYPE, POSTCARD)
            .body(reqwest::Body::wrap(body))
            .send();
        let resp = tokio::time::timeout(timeout, send)
            .await
            .map_err(|_| ClientError::Timeout {
                url: url.to_string(),
            })?
            .map_err(|e| send_error(url, &e))?;
        check_status(url, resp).await
    }
}

/// What a server proved about itself in one answer.
#[derive(Clone, Debug)]
pub struct ServerProof {
    /// The DER SubjectPublicKeyInfo of the server's TLS certificate.
    pub spki: Vec<u8>,
    /// The attestation token it answered with, if any.
    pub token: Option<String>,
}

fn server_proof(url: &str, resp: &reqwest::Response) -> Result<ServerProof, ClientError> {
    let no_cert = || ClientError::Connect {
        url: url.to_string(),
        reason: "the TLS session has no server certificate to check".into(),
    };
    let der = resp
        .extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|info| info.peer_certificate())
        .ok_or_else(no_cert)?;
    let cert =
        cairn_crypto::Identity::parse_unvalidated(der).map_err(|e| ClientError::Connect {
            url: url.to_string(),
            reason: format!("the server certificate cannot be read: {e}"),
        })?;
    let token = resp
        .headers()
        .get(ATTESTATION_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    Ok(ServerProof {
        spki: cert.public_key().to_spki_der(),
        token,
    })
}

/// Frames of a streaming answer, decoded one at a time.
#[derive(Debug)]
pub struct FrameStream<T> {
    url: String,
    resp: reqwest::Response,
    buf: BytesMut,
    _item: PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned> FrameStream<T> {
    /// Frames of `resp`, an answer from `url` whose status was checked.
    pub(crate) fn new(url: &str, resp: reqwest::Response) -> FrameStream<T> {
        FrameStream {
            url: url.to_string(),
            resp,
            buf: BytesMut::new(),
            _item: PhantomData,
        }
    }

    /// The next item; `None` when the server ended the stream cleanly.
    pub async fn next(&mut self) -> Option<Result<T, ClientError>> {
        loop {
            if self.buf.len() >= 4 {
                let len = u32::from_be_bytes([self.buf[0], self.buf[1], self.buf[2], self.buf[3]])
                    as usize;
                if len > MAX_FRAME {
                    return Some(Err(ClientError::Decode {
                        url: self.url.clone(),
                        reason: format!("frame of {len} bytes exceeds the limit"),
                    }));
                }
                if self.buf.len() >= 4 + len {
                    self.buf.advance(4);
                    let frame = self.buf.split_to(len);
                    return Some(decode(&frame).map_err(|reason| ClientError::Decode {
                        url: self.url.clone(),
                        reason,
                    }));
                }
            }
            match self.resp.chunk().await {
                Ok(Some(chunk)) => self.buf.extend_from_slice(&chunk),
                Ok(None) if self.buf.is_empty() => return None,
                Ok(None) => {
                    return Some(Err(ClientError::Body {
                        url: self.url.clone(),
                        reason: "the stream ended inside a frame".into(),
                    }));
                }
                Err(e) => {
                    return Some(Err(ClientError::Body {
                        url: self.url.clone(),
                        reason: chain(&e),
                    }));
                }
            }
        }
    }
}

async fn check_status(
    url: &str,
    resp: reqwest::Response,
) -> Result<reqwest::Response, ClientError> {
    let status = resp.status();
    if status.is_success() {
        return Ok(resp);
    }
    let message = resp.text().await.unwrap_or_default();
    Err(ClientError::Status {
        url: url.to_string(),
        status: status.as_u16(),
        message,
    })
}

async fn read<Resp: DeserializeOwned>(
    url: &str,
    resp: reqwest::Response,
) -> Result<Resp, ClientError> {
    let resp = check_status(url, resp).await?;
    let bytes = resp.bytes().await.map_err(|e| {
        if e.is_timeout() {
            ClientError::Timeout {
                url: url.to_string(),
            }
        } else {
            ClientError::Body {
                url: url.to_string(),
                reason: chain(&e),
            }
        }
    })?;
    decode(&bytes).map_err(|reason| ClientError::Decode {
        url: url.to_string(),
        reason,
    })
}

fn send_error(url: &str, e: &reqwest::Error) -> ClientError {
    if e.is_timeout() {
        ClientError::Timeout {
            url: url.to_string(),
        }
    } else {
        ClientError::Connect {
            url: url.to_string(),
            reason: chain(e),
        }
    }
}

/// An error with all its sources, so the TLS reason is not lost.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}
