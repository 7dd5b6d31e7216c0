//! The S3-compatible API: path-style requests over HTTP on loopback, every
//! one authenticated with SigV4 ([`crate::sigv4`]) against [`KeyRing`], then
//! dispatched to [`Store`], whose WORM checks decide. Refusals keep S3's
//! codes (AccessDenied 403, InvalidRequest 400, InvalidBucketState 409) with
//! a message naming the rule; internal failures answer a fixed message and
//! are logged without object data.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, request::Parts};
use axum::response::Response;
use sha2::{Digest, Sha256};

use crate::error::StoreError;
use crate::keys::{AccessKey, KeyRing};
use crate::sigv4::{self, AuthError, Authorization};
use crate::store::{PutOptions, Store};
use crate::worm::{DefaultRetention, Mode, Now};
use crate::xml::{self, NS, escape};

mod respond;
use respond::*;

/// The largest request body accepted by default (S3's single PUT allows 5 GiB;
/// this server holds a body in memory while it hashes and stores it).
pub const DEFAULT_MAX_BODY: usize = 256 * 1024 * 1024;
/// How far a request's `x-amz-date` may be from the server's clock.
const MAX_SKEW_MS: i64 = 15 * 60 * 1000;

/// What the server shares between requests.
#[derive(Debug)]
pub struct S3Server {
    store: Arc<Store>,
    keys: Arc<KeyRing>,
    max_body: usize,
}

/// An S3 error response.
#[derive(Debug)]
struct S3Error {
    code: &'static str,
    status: u16,
    message: String,
    headers: Vec<(&'static str, String)>,
}

impl S3Error {
    fn new(code: &'static str, status: u16, message: impl Into<String>) -> S3Error {
        S3Error {
            code,
            status,
            message: message.into(),
            headers: Vec::new(),
        }
    }

    fn invalid(message: impl Into<String>) -> S3Error {
        S3Error::new("InvalidRequest", 400, message)
    }

    fn malformed(what: &str) -> S3Error {
        S3Error::new(
            "MalformedXML",
            400,
            format!("the XML you provided was not well-formed or did not validate: {what}"),
        )
    }
}

impl From<StoreError> for S3Error {
    fn from(e: StoreError) -> S3Error {
        let (code, status) = e.s3_code();
        let mut err = if status == 500 {
            tracing::error!(error = %e, "store failure");
            S3Error::new(
                code,
                status,
                "We encountered an internal error. Please try again.",
            )
        } else {
            S3Error::new(code, status, e.to_string())
        };
        if let StoreError::DeleteMarker { version_id, .. }
        | StoreError::MarkerHasNoContent { version_id, .. } = &e
        {
            err.headers.push(("x-amz-delete-marker", "true".to_owned()));
            err.headers.push(("x-amz-version-id", version_id.clone()));
        }
        err
    }
}

impl From<AuthError> for S3Error {
    fn from(e: AuthError) -> S3Error {
        let (code, status) = e.s3_code();
        S3Error::new(code, status, e.to_string())
    }
}

/// The router serving `store` to holders of `keys`.
pub fn router(store: Arc<Store>, keys: Arc<KeyRing>, max_body: usize) -> axum::Router {
    let server = Arc::new(S3Server {
        store,
        keys,
        max_body,
    });
    axum::Router::new().fallback(move |req: axum::extract::Request| {
        let server = server.clone();
        async move { server.handle(req).await }
    })
}

/// Serves `router` on `listener` until the task is dropped.
pub async fn serve(listener: tokio::net::TcpListener, router: axum::Router) -> std::io::Result<()> {
    axum::serve(listener, router).await
}

impl S3Server {
    async fn handle(&self, req: axum::extract::Request) -> Response {
        let (parts, body) = req.into_parts();
        let head = parts.method == Method::HEAD;
        let resource = parts.uri.path().to_owned();
        let result = match axum::body::to_bytes(body, self.max_body).await {
            Ok(bytes) => self.dispatch(&parts, bytes).await,
            Err(_) => Err(S3Error::new(
                "EntityTooLarge",
                400,
                format!(
                    "the body exceeds this server's limit of {} bytes",
                    self.max_body
                ),
            )),
        };
        result.unwrap_or_else(|e| error_response(e, &resource, head))
    }

    async fn dispatch(&self, parts: &Parts, body: Bytes) -> Result<Response, S3Error> {
        let caller = self.authenticate(parts, &body)?;
        let path = sigv4::decode(parts.uri.path());
        let path = path.strip_prefix('/').unwrap_or(&path);
        let (bucket, key) = path.split_once('/').unwrap_or((path, ""));
        let (bucket, key) = (bucket.to_owned(), key.to_owned());
        let q = query_map(parts.uri.query().unwrap_or(""));
        let h = &parts.headers;
        let m = &parts.method;
        if bucket.is_empty() {
            return match *m {
                Method::GET => self.list_buckets(&caller).await,
                _ => Err(S3Error::new(
                    "MethodNotAllowed",
                    405,
                    "only GET is allowed on /",
                )),
            };
        }
        if key.is_empty() {
            return match (m.as_str(), sub(&q)) {
                ("PUT", Some("object-lock")) => self.put_lock_config(&bucket, &body, &caller).await,
                ("GET", Some("object-lock")) => self.get_lock_config(&bucket).await,
                ("PUT", Some("versioning")) => put_versioning(&body),
                ("GET", Some("versioning")) => self.get_versioning(&bucket).await,
                ("GET", Some("versions")) => self.list_versions(&bucket, &q).await,
                ("GET", Some("location")) => {
                    self.run(move |s| s.bucket(&bucket)).await?;
                    Ok(xml_response(format!(
                        "<LocationConstraint xmlns=\"{NS}\"></LocationConstraint>"
                    )))
                }
                ("POST", Some("delete")) => self.delete_objects(&bucket, h, &body, &caller).await,
                ("PUT", None) => self.create_bucket(&bucket, h, &caller).await,
                ("GET", None) => self.list_objects(&bucket, &q).await,
                ("HEAD", None) => {
                    self.run(move |s| s.bucket(&bucket)).await?;
                    Ok(empty(StatusCode::OK))
                }
                ("DELETE", None) => {
                    self.run(move |s| s.delete_bucket(&bucket)).await?;
                    Ok(empty(StatusCode::NO_CONTENT))
                }
                (_, Some(other)) => Err(S3Error::new(
                    "NotImplemented",
                    501,
                    format!(
                        "the bucket subresource ?{other} is not implemented by Cairn's blob store"
                    ),
                )),
                _ => Err(S3Error::new(
                    "MethodNotAllowed",
                    405,
                    "method not allowed on a bucket",
                )),
            };
        }
        let version = q.get("versionId").cloned();
        match (m.as_str(), sub(&q)) {
            ("PUT", Some("retention")) => {
                self.put_retention(&bucket, &key, version, h, &body, &caller)
                    .await
            }
            ("GET", Some("retention")) => {
                let v = self
                    .run(move |s| s.head(&bucket, &key, version.as_deref()))
                    .await?;
                match v.retention {
                    Some(r) => Ok(xml_response(format!(
                        "<Retention xmlns=\"{NS}\"><Mode>{}</Mode><RetainUntilDate>{}</RetainUntilDate></Retention>",
                        r.mode,
                        r.until.rfc3339()
                    ))),
                    None => Err(S3Error::new(
                        "NoSuchObjectLockConfiguration",
                        404,
                        "the specified object does not have a retention configuration",
                    )),
                }
            }
            ("PUT", Some("legal-hold")) => {
                let status = xml::text(&body_text(&body)?, "Status");
                let on = match status.as_deref() {
                    Some("ON") => true,
                    Some("OFF") => false,
                    _ => {
                        return Err(S3Error::new(
                            "InvalidArgument",
                            400,
                            "Legal Hold must be either of 'ON' or 'OFF'",
                        ));
                    }
                };
                let by = caller.holder();
                let v = self
                    .run(move |s| s.set_legal_hold(&bucket, &key, version.as_deref(), on, &by))
                    .await?;
                Ok(with_version(empty(StatusCode::OK), &v))
            }
            ("GET", Some("legal-hold")) => {
                let v = self
                    .run(move |s| s.head(&bucket, &key, version.as_deref()))
                    .await?;
                let bucket_lock = self.run(move |s| s.bucket(&v.bucket)).await?.object_lock;
                if !bucket_lock {
                    return Err(S3Error::invalid(
                        "Bucket is missing Object Lock Configuration",
                    ));
                }
                Ok(xml_response(format!(
                    "<LegalHold xmlns=\"{NS}\"><Status>{}</Status></LegalHold>",
                    if v.legal_hold { "ON" } else { "OFF" }
                )))
            }
            ("PUT", None) => self.put_object(&bucket, &key, h, body, &caller).await,
            ("GET", None) => {
                let (v, bytes) = self
                    .run(move |s| s.get(&bucket, &key, version.as_deref()))
                    .await?;
                Ok(object_response(&v, Some(bytes), h.get("range"))?)
            }
            ("HEAD", None) => {
                let v = self
                    .run(move |s| s.head(&bucket, &key, version.as_deref()))
                    .await?;
                if v.delete_marker {
                    return Err(StoreError::MarkerHasNoContent {
                        key: v.key.clone(),
                        version_id: v.version_id,
                    }
                    .into());
                }
                object_response(&v, None, None)
            }
            ("DELETE", None) => {
                let bypass = bypass(h, &caller);
                let by = caller.holder();
                let out = self
                    .run(move |s| s.delete(&bucket, &key, version.as_deref(), bypass, &by))
                    .await?;
                let mut resp = empty(StatusCode::NO_CONTENT);
                set(&mut resp, "x-amz-version-id", &out.version_id);
                if out.delete_marker {
                    set(&mut resp, "x-amz-delete-marker", "true");
                }
                Ok(resp)
            }
            (_, Some(other)) => Err(S3Error::new(
                "NotImplemented",
                501,
                format!("the object subresource ?{other} is not implemented by Cairn's blob store"),
            )),
            _ => Err(S3Error::new(
                "MethodNotAllowed",
                405,
                "method not allowed on an object",
            )),
        }
    }

    /// SigV4 over the raw request; the payload hash must match the body.
    fn authenticate(&self, parts: &Parts, body: &[u8]) -> Result<AccessKey, S3Error> {
        let query = parts.uri.query().unwrap_or("");
        if query.contains("X-Amz-Signature=") {
            return Err(AuthError::Unsupported(
                "query-string authentication (presigned URLs)".to_owned(),
            )
            .into());
        }
        let headers: Vec<(String, String)> = parts
            .headers
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
        let auth = Authorization::parse(header("authorization").ok_or(AuthError::Missing)?)?;
        let key = self
            .keys
            .find(&auth.access_key)
            .ok_or_else(|| AuthError::UnknownKey(auth.access_key.clone()))?;
        let amz_date = header("x-amz-date")
            .ok_or_else(|| AuthError::Malformed("x-amz-date is missing".to_owned()))?;
        let at = sigv4::parse_amz_date(amz_date).ok_or_else(|| {
            AuthError::Malformed(format!("x-amz-date {amz_date:?} is not YYYYMMDDTHHMMSSZ"))
        })?;
        if let Now::Known(now) = self.store.now()
            && (now.0 - at).abs() > MAX_SKEW_MS
        {
            return Err(AuthError::Skewed {
                request: amz_date.to_owned(),
            }
            .into());
        }
        let payload = header("x-amz-content-sha256")
            .ok_or_else(|| AuthError::Malformed("x-amz-content-sha256 is missing".to_owned()))?;
        if payload.starts_with("STREAMING-")
            || header("content-encoding").is_some_and(|e| e.contains("aws-chunked"))
        {
            return Err(AuthError::Unsupported(format!("the chunked payload {payload}")).into());
        }
        if payload != sigv4::UNSIGNED_PAYLOAD
            && hex::encode(Sha256::digest(body)) != payload.to_ascii_lowercase()
        {
            return Err(AuthError::PayloadMismatch.into());
        }
        let req = sigv4::Request {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            query,
            headers: &headers,
        };
        sigv4::verify(&req, &auth, &key.secret, payload, amz_date)?;
        Ok(key)
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, S3Error> {
        let store = self.store.clone();
        match tokio::task::spawn_blocking(move || f(&store)).await {
            Ok(r) => r.map_err(S3Error::from),
            Err(e) => {
                tracing::error!(error = %e, "a store task failed");
                Err(S3Error::new(
                    "InternalError",
                    500,
                    "We encountered an internal error. Please try again.",
                ))
            }
        }
    }

    async fn list_buckets(&self, caller: &AccessKey) -> Result<Response, S3Error> {
        let buckets = self.run(|s| s.buckets()).await?;
        let mut out = format!(
            "<ListAllMyBucketsResult xmlns=\"{NS}\"><Owner><ID>{0}</ID><DisplayName>{0}</DisplayName></Owner><Buckets>",
            escape(&caller.holder())
        );
        for b in buckets {
            out.push_str(&format!(
                "<Bucket><Name>{}</Name><CreationDate>{}</CreationDate></Bucket>",
                escape(&b.name),
                b.created.rfc3339()
            ));
        }
        out.push_str("</Buckets></ListAllMyBucketsResult>");
        Ok(xml_response(out))
    }

    async fn create_bucket(
        &self,
        bucket: &str,
        h: &HeaderMap,
        caller: &AccessKey,
    ) -> Result<Response, S3Error> {
        let lock = header(h, "x-amz-bucket-object-lock-enabled")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let (name, by) = (bucket.to_owned(), caller.holder());
        self.run(move |s| s.create_bucket(&name, lock, &by)).await?;
        let mut resp = empty(StatusCode::OK);
        set(&mut resp, "location", &format!("/{bucket}"));
        Ok(resp)
    }

    async fn get_lock_config(&self, bucket: &str) -> Result<Response, S3Error> {
        let name = bucket.to_owned();
        let b = self.run(move |s| s.bucket(&name)).await?;
        if !b.object_lock {
            return Err(S3Error::new(
                "ObjectLockConfigurationNotFoundError",
                404,
                "Object Lock configuration does not exist for this bucket",
            ));
        }
        let rule = b.default_retention.map_or(String::new(), |d| {
            format!(
                "<Rule><DefaultRetention><Mode>{}</Mode><Days>{}</Days></DefaultRetention></Rule>",
                d.mode, d.days
            )
        });
        Ok(xml_response(format!(
            "<ObjectLockConfiguration xmlns=\"{NS}\"><ObjectLockEnabled>Enabled</ObjectLockEnabled>{rule}</ObjectLockConfiguration>"
        )))
    }

    async fn put_lock_config(
        &self,
        bucket: &str,
        body: &[u8],
        caller: &AccessKey,
    ) -> Result<Response, S3Error> {
        let text = body_text(body)?;
        let enabled = match xml::text(&text, "ObjectLockEnabled").as_deref() {
            Some("Enabled") => true,
            None => false,
            Some(other) => {
                return Err(S3Error::malformed(&format!(
                    "ObjectLockEnabled {other:?} (only Enabled)"
                )));
            }
        };
        let default = match xml::text(&text, "DefaultRetention") {
            None => None,
            Some(_) => {
                let inner = xml::elements(&text, "DefaultRetention")
                    .first()
                    .copied()
                    .unwrap_or("")
                    .to_owned();
                let mode = xml::text(&inner, "Mode")
                    .and_then(|m| Mode::parse(&m))
                    .ok_or_else(|| {
                        S3Error::malformed("DefaultRetention needs Mode GOVERNANCE or COMPLIANCE")
                    })?;
                let number = |tag| xml::text(&inner, tag).map(|t| t.parse::<u32>());
                let days = match (number("Days"), number("Years")) {
                    (Some(Ok(d)), None) => d,
                    (None, Some(Ok(y))) => y.saturating_mul(365),
                    _ => {
                        return Err(S3Error::malformed(
                            "DefaultRetention needs exactly one of Days or Years",
                        ));
                    }
                };
                Some(DefaultRetention { mode, days })
            }
        };
        let (name, by) = (bucket.to_owned(), caller.holder());
        self.run(move |s| s.set_lock_configuration(&name, enabled, default, &by))
            .await?;
        Ok(empty(StatusCode::OK))
    }

    async fn get_versioning(&self, bucket: &str) -> Result<Response, S3Error> {
        let name = bucket.to_owned();
        self.run(move |s| s.bucket(&name)).await?;
        // Every bucket is versioned: versions are how nothing gets overwritten.
        Ok(xml_response(format!(
            "<VersioningConfiguration xmlns=\"{NS}\"><Status>Enabled</Status></VersioningConfiguration>"
        )))
    }

    async fn put_object(
        &self,
        bucket: &str,
        key: &str,
        h: &HeaderMap,
        body: Bytes,
        caller: &AccessKey,
    ) -> Result<Response, S3Error> {
        if h.contains_key("x-amz-copy-source") {
            return Err(S3Error::new(
                "NotImplemented",
                501,
                "CopyObject is not implemented; upload the bytes",
            ));
        }
        let mode = header(h, "x-amz-object-lock-mode");
        let until = header(h, "x-amz-object-lock-retain-until-date");
        let retention = match (mode, until) {
            (None, None) => None,
            (Some(m), Some(u)) => Some(parse_retention(m, u)?),
            _ => {
                return Err(S3Error::invalid(
                    "x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied",
                ));
            }
        };
        let legal_hold = match header(h, "x-amz-object-lock-legal-hold") {
            None | Some("OFF") => false,
            Some("ON") => true,
            Some(_) => {
                return Err(S3Error::new(
                    "InvalidArgument",
                    400,
                    "Legal Hold must be either of 'ON' or 'OFF'",
                ));
            }
        };
        let opts = PutOptions {
            content_type: header(h, "content-type").map(str::to_owned),
            retention,
            legal_hold,
            owner: caller.holder(),
        };
        let (b, k) = (bucket.to_owned(), key.to_owned());
        let v = self.run(move |s| s.put(&b, &k, &body, opts)).await?;
        let mut resp = with_version(empty(StatusCode::OK), &v);
        set(&mut resp, "etag", &v.etag());
        Ok(resp)
    }

    async fn put_retention(
        &self,
        bucket: &str,
        key: &str,
        version: Option<String>,
        h: &HeaderMap,
        body: &[u8],
        caller: &AccessKey,
    ) -> Result<Response, S3Error> {
        let text = body_text(body)?;
        let new = match (
            xml::text(&text, "Mode"),
            xml::text(&text, "RetainUntilDate"),
        ) {
            (None, None) => None,
            (Some(m), Some(u)) => Some(parse_retention(&m, &u)?),
            _ => {
                return Err(S3Error::malformed(
                    "Retention needs both Mode and RetainUntilDate, or neither",
                ));
            }
        };
        let bypass = bypass(h, caller);
        let (b, k, by) = (bucket.to_owned(), key.to_owned(), caller.holder());
        let v = self
            .run(move |s| s.set_retention(&b, &k, version.as_deref(), new, bypass, &by))
            .await?;
        Ok(with_version(empty(StatusCode::OK), &v))
    }

    async fn list_objects(
        &self,
        bucket: &str,
        q: &BTreeMap<String, String>,
    ) -> Result<Response, S3Error> {
        let v2 = q.get("list-type").is_some_and(|t| t == "2");
        let prefix = q.get("prefix").cloned().unwrap_or_default();
        let delimiter = q.get("delimiter").cloned().filter(|d| !d.is_empty());
        let max = max_keys(q)?;
        let after = if v2 {
            q.get("continuation-token")
                .or(q.get("start-after"))
                .cloned()
        } else {
            q.get("marker").cloned()
        };
        let (b, p, a, d) = (
            bucket.to_owned(),
            prefix.clone(),
            after.clone(),
            delimiter.clone(),
        );
        let listing = self
            .run(move |s| s.list_objects(&b, &p, a.as_deref(), d.as_deref(), max))
            .await?;
        let mut out = format!(
            "<ListBucketResult xmlns=\"{NS}\"><Name>{}</Name><Prefix>{}</Prefix><MaxKeys>{max}</MaxKeys><IsTruncated>{}</IsTruncated>",
            escape(bucket),
            escape(&prefix),
            listing.truncated
        );
        if let Some(d) = &delimiter {
            out.push_str(&format!("<Delimiter>{}</Delimiter>", escape(d)));
        }
        if v2 {
            out.push_str(&format!(
                "<KeyCount>{}</KeyCount>",
                listing.entries.len() + listing.common_prefixes.len()
            ));
            if let Some(t) = q.get("continuation-token") {
                out.push_str(&format!(
                    "<ContinuationToken>{}</ContinuationToken>",
                    escape(t)
                ));
            }
            if let Some(t) = q.get("start-after") {
                out.push_str(&format!("<StartAfter>{}</StartAfter>", escape(t)));
            }
            if listing.truncated
                && let Some(next) = &listing.next_marker
            {
                out.push_str(&format!(
                    "<NextContinuationToken>{}</NextContinuationToken>",
                    escape(next)
                ));
            }
        } else {
            out.push_str(&format!(
                "<Marker>{}</Marker>",
                escape(after.as_deref().unwrap_or(""))
            ));
            if listing.truncated
                && let Some(next) = &listing.next_marker
            {
                out.push_str(&format!("<NextMarker>{}</NextMarker>", escape(next)));
            }
        }
        for (v, _) in &listing.entries {
            out.push_str(&format!(
                "<Contents><Key>{}</Key><LastModified>{}</LastModified><ETag>{}</ETag><Size>{}</Size><StorageClass>STANDARD</StorageClass></Contents>",
                escape(&v.key),
                v.created.rfc3339(),
                escape(&v.etag()),
                v.size
            ));
        }
        push_prefixes(&mut out, &listing);
        out.push_str("</ListBucketResult>");
        Ok(xml_response(out))
    }

    async fn list_versions(
        &self,
        bucket: &str,
        q: &BTreeMap<String, String>,
    ) -> Result<Response, S3Error> {
        let prefix = q.get("prefix").cloned().unwrap_or_default();
        let delimiter = q.get("delimiter").cloned().filter(|d| !d.is_empty());
        let max = max_keys(q)?;
        let after = q.get("key-marker").cloned().filter(|m| !m.is_empty());
        let (b, p, a, d) = (
            bucket.to_owned(),
            prefix.clone(),
            after.clone(),
            delimiter.clone(),
        );
        let listing = self
            .run(move |s| s.list_versions(&b, &p, a.as_deref(), d.as_deref(), max))
            .await?;
        let mut out = format!(
            "<ListVersionsResult xmlns=\"{NS}\"><Name>{}</Name><Prefix>{}</Prefix><KeyMarker>{}</KeyMarker><VersionIdMarker></VersionIdMarker><MaxKeys>{max}</MaxKeys><IsTruncated>{}</IsTruncated>",
            escape(bucket),
            escape(&prefix),
            escape(after.as_deref().unwrap_or("")),
            listing.truncated
        );
        if listing.truncated
            && let Some(next) = &listing.next_marker
        {
            out.push_str(&format!("<NextKeyMarker>{}</NextKeyMarker>", escape(next)));
        }
        for (v, latest) in &listing.entries {
            let owner = format!(
                "<Owner><ID>{0}</ID><DisplayName>{0}</DisplayName></Owner>",
                escape(&v.owner)
            );
            if v.delete_marker {
                out.push_str(&format!(
                    "<DeleteMarker><Key>{}</Key><VersionId>{}</VersionId><IsLatest>{latest}</IsLatest><LastModified>{}</LastModified>{owner}</DeleteMarker>",
                    escape(&v.key),
                    v.version_id,
                    v.created.rfc3339()
                ));
            } else {
                out.push_str(&format!(
                    "<Version><Key>{}</Key><VersionId>{}</VersionId><IsLatest>{latest}</IsLatest><LastModified>{}</LastModified><ETag>{}</ETag><Size>{}</Size><StorageClass>STANDARD</StorageClass>{owner}</Version>",
                    escape(&v.key),
                    v.version_id,
                    v.created.rfc3339(),
                    escape(&v.etag()),
                    v.size
                ));
            }
        }
        push_prefixes(&mut out, &listing);
        out.push_str("</ListVersionsResult>");
        Ok(xml_response(out))
    }

    async fn delete_objects(
        &self,
        bucket: &str,
        h: &HeaderMap,
        body: &[u8],
        caller: &AccessKey,
    ) -> Result<Response, S3Error> {
        let text = body_text(body)?;
        let quiet = xml::text(&text, "Quiet").is_some_and(|q| q == "true");
        let mut targets = Vec::new();
        for obj in xml::elements(&text, "Object") {
            let key = xml::text(obj, "Key")
                .ok_or_else(|| S3Error::malformed("an Object without a Key"))?;
            targets.push((key, xml::text(obj, "VersionId")));
        }
        if targets.len() > 1000 {
            return Err(S3Error::malformed("more than 1000 objects in one Delete"));
        }
        let bypass = bypass(h, caller);
        let (b, by) = (bucket.to_owned(), caller.holder());
        let results = self
            .run(move |s| {
                s.bucket(&b)?;
                Ok(targets
                    .into_iter()
                    .map(|(k, v)| {
                        let r = s.delete(&b, &k, v.as_deref(), bypass, &by);
                        (k, v, r)
                    })
                    .collect::<Vec<_>>())
            })
            .await?;
        let mut out = format!("<DeleteResult xmlns=\"{NS}\">");
        for (key, version, result) in results {
            match result {
                Ok(done) if !quiet => {
                    out.push_str(&format!("<Deleted><Key>{}</Key>", escape(&key)));
                    if done.delete_marker {
                        out.push_str(&format!(
                            "<DeleteMarker>true</DeleteMarker><DeleteMarkerVersionId>{}</DeleteMarkerVersionId>",
                            done.version_id
                        ));
                    }
                    if let Some(v) = &version {
                        out.push_str(&format!("<VersionId>{}</VersionId>", escape(v)));
                    }
                    out.push_str("</Deleted>");
                }
                Ok(_) => {}
                Err(e) => {
                    let e = S3Error::from(e);
                    out.push_str(&format!(
                        "<Error><Key>{}</Key><VersionId>{}</VersionId><Code>{}</Code><Message>{}</Message></Error>",
                        escape(&key),
                        escape(version.as_deref().unwrap_or("")),
                        e.code,
                        escape(&e.message)
                    ));
                }
            }
        }
        out.push_str("</DeleteResult>");
        Ok(xml_response(out))
    }
}
