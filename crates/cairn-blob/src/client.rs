//! The client library other parts of Cairn use to write and read blobs (the
//! ledger tables' digests, the healthcare scenario's inputs and results):
//! plain S3 requests signed with SigV4, so it works against `cairn blob
//! serve` and any S3 implementation alike.
//!
//! ```no_run
//! # async fn demo() -> Result<(), cairn_blob::client::ClientError> {
//! let client = cairn_blob::client::BlobClient::new("http://127.0.0.1:9400", "CAIRN…", "secret")?;
//! let ack = client.put("digests", "ledger/2026-12-07.json", b"{...}".to_vec()).await?;
//! let bytes = client.get("digests", "ledger/2026-12-07.json", Some(&ack.version_id)).await?;
//! # Ok(()) }
//! ```

use std::time::{SystemTime, UNIX_EPOCH};

use http_body_util::{BodyExt, Full};
use hyper::HeaderMap;
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use sha2::{Digest, Sha256};

use crate::sigv4;
use crate::xml;

/// Why a client call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The endpoint is not a usable URL.
    #[error("invalid endpoint {0:?}: use http://HOST:PORT")]
    Endpoint(String),
    /// The request did not reach the server or the answer was cut.
    #[error("the blob server did not answer: {0}")]
    Transport(String),
    /// The server refused; `code` is S3's.
    #[error("the blob server answered {status} {code}: {message}")]
    S3 {
        /// HTTP status.
        status: u16,
        /// S3 error code (`AccessDenied`, `NoSuchKey`, …).
        code: String,
        /// The server's message (names the rule that fired).
        message: String,
    },
}

/// What the server acknowledged for a PUT.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PutAck {
    /// The new version's id.
    pub version_id: String,
    /// Its ETag.
    pub etag: String,
    /// SHA-256 of what was sent (hex), which the store records.
    pub sha256: String,
}

/// An S3 client bound to one endpoint and one access key.
#[derive(Clone)]
pub struct BlobClient {
    http: Client<HttpConnector, Full<Bytes>>,
    endpoint: String,
    host: String,
    key_id: String,
    secret: String,
}

impl std::fmt::Debug for BlobClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobClient")
            .field("endpoint", &self.endpoint)
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl BlobClient {
    /// A client for `endpoint` (`http://host:port`) with this access key.
    pub fn new(endpoint: &str, key_id: &str, secret: &str) -> Result<BlobClient, ClientError> {
        let endpoint = endpoint.trim_end_matches('/').to_owned();
        let host = endpoint
            .strip_prefix("http://")
            .filter(|h| !h.is_empty() && !h.contains('/'))
            .ok_or_else(|| ClientError::Endpoint(endpoint.clone()))?;
        // HTTP clients leave the default port out of Host, and Host is signed.
        let host = host.strip_suffix(":80").unwrap_or(host).to_owned();
        Ok(BlobClient {
            http: Client::builder(TokioExecutor::new()).build_http(),
            endpoint,
            host,
            key_id: key_id.to_owned(),
            secret: secret.to_owned(),
        })
    }

    /// Creates a bucket, with S3 Object Lock enabled or not.
    pub async fn create_bucket(&self, bucket: &str, object_lock: bool) -> Result<(), ClientError> {
        let extra = if object_lock {
            vec![(
                "x-amz-bucket-object-lock-enabled".to_owned(),
                "true".to_owned(),
            )]
        } else {
            Vec::new()
        };
        self.send("PUT", &format!("/{bucket}"), "", extra, Vec::new())
            .await?;
        Ok(())
    }

    /// Writes a new version of `key`.
    pub async fn put(&self, bucket: &str, key: &str, body: Vec<u8>) -> Result<PutAck, ClientError> {
        let sha256 = hex::encode(Sha256::digest(&body));
        let resp = self
            .send("PUT", &object_path(bucket, key), "", Vec::new(), body)
            .await?;
        let header = |name: &str| {
            resp.0
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        Ok(PutAck {
            version_id: header("x-amz-version-id"),
            etag: header("etag"),
            sha256,
        })
    }

    /// Reads the current version of `key`, or the one named.
    pub async fn get(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<Vec<u8>, ClientError> {
        let query = version_id.map_or(String::new(), |v| {
            format!("versionId={}", sigv4::uri_encode(v, false))
        });
        let resp = self
            .send(
                "GET",
                &object_path(bucket, key),
                &query,
                Vec::new(),
                Vec::new(),
            )
            .await?;
        Ok(resp.1)
    }

    /// Sets or clears the legal hold of a version (the current one if `version_id` is `None`).
    pub async fn set_legal_hold(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        on: bool,
    ) -> Result<(), ClientError> {
        let mut query = "legal-hold".to_owned();
        if let Some(v) = version_id {
            query = format!("legal-hold&versionId={}", sigv4::uri_encode(v, false));
        }
        let body = format!(
            "<LegalHold xmlns=\"{}\"><Status>{}</Status></LegalHold>",
            xml::NS,
            if on { "ON" } else { "OFF" }
        );
        self.send(
            "PUT",
            &object_path(bucket, key),
            &query,
            Vec::new(),
            body.into_bytes(),
        )
        .await?;
        Ok(())
    }

    /// Every version id under `prefix` (delete markers included), by key then newest first.
    pub async fn list_versions(
        &self,
        bucket: &str,
        prefix: &str,
    ) -> Result<Vec<(String, String)>, ClientError> {
        let query = format!("prefix={}&versions", sigv4::uri_encode(prefix, false));
        let resp = self
            .send("GET", &format!("/{bucket}"), &query, Vec::new(), Vec::new())
            .await?;
        let text = String::from_utf8_lossy(&resp.1).into_owned();
        let mut out = Vec::new();
        for tag in ["Version", "DeleteMarker"] {
            for entry in xml::elements(&text, tag) {
                if let (Some(k), Some(v)) = (xml::text(entry, "Key"), xml::text(entry, "VersionId"))
                {
                    out.push((k, v));
                }
            }
        }
        out.sort();
        Ok(out)
    }

    async fn send(
        &self,
        method: &str,
        path: &str,
        query: &str,
        extra: Vec<(String, String)>,
        body: Vec<u8>,
    ) -> Result<(HeaderMap, Vec<u8>), ClientError> {
        let payload = hex::encode(Sha256::digest(&body));
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(0));
        let amz_date = sigv4::format_amz_date(now);
        let mut headers = vec![
            ("host".to_owned(), self.host.clone()),
            ("x-amz-content-sha256".to_owned(), payload.clone()),
            ("x-amz-date".to_owned(), amz_date.clone()),
        ];
        headers.extend(extra);
        let req = sigv4::Request {
            method,
            path,
            query,
            headers: &headers,
        };
        let auth = sigv4::authorization(
            &req,
            &self.key_id,
            &self.secret,
            "us-east-1",
            &amz_date,
            &payload,
        );
        let uri = if query.is_empty() {
            format!("{}{path}", self.endpoint)
        } else {
            format!("{}{path}?{query}", self.endpoint)
        };
        let mut builder = hyper::Request::builder()
            .method(method)
            .uri(&uri)
            .header("authorization", auth);
        for (name, value) in &headers {
            builder = builder.header(name, value);
        }
        let request = builder
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| ClientError::Endpoint(format!("{uri}: {e}")))?;
        let resp = self
            .http
            .request(request)
            .await
            .map_err(|e| ClientError::Transport(e.to_string()))?;
        let status = resp.status().as_u16();
        let (parts, body) = resp.into_parts();
        let bytes = body
            .collect()
            .await
            .map_err(|e| ClientError::Transport(e.to_string()))?
            .to_bytes()
            .to_vec();
        if (200..300).contains(&status) {
            return Ok((parts.headers, bytes));
        }
        let text = String::from_utf8_lossy(&bytes);
        Err(ClientError::S3 {
            status,
            code: xml::text(&text, "Code").unwrap_or_else(|| status.to_string()),
            message: xml::text(&text, "Message").unwrap_or_default(),
        })
    }
}

/// `/bucket/key`, the key encoded as S3 signs it.
fn object_path(bucket: &str, key: &str) -> String {
    format!("/{bucket}/{}", sigv4::uri_encode(key, true))
}
