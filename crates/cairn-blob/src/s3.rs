//! The S3-compatible API: path-style requests over HTTP on loopback, every
//! one authenticated with SigV4 ([`crate::sigv4`]) against [`KeyRing`], then
//! dispatched to [`Store`], whose WORM checks decide. Refusals keep S3's
//! codes (AccessDenied 403, InvalidRequest 400, InvalidBucketState 409) with
//! a message naming the rule; internal failures answer a fixed message and
//! are logged without object data.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, request::Parts};
use axum::response::Response;
use sha2::{Digest, Sha256};

use crate::error::StoreError;
use crate::keys::{AccessKey, KeyRing};
use crate::sigv4::{self, AuthError, Authorization};
use crate::store::{Listing, PutOptions, Store, VersionInfo};
use crate::worm::{Bypass, DefaultRetention, Mode, Now, Retention, Timestamp};
use crate::xml::{self, NS, escape};

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

fn put_versioning(body: &[u8]) -> Result<Response, S3Error> {
    match xml::text(&body_text(body)?, "Status").as_deref() {
        Some("Enabled") => Ok(empty(StatusCode::OK)),
        _ => Err(S3Error::new(
            "InvalidBucketState",
            409,
            "versioning is always Enabled in Cairn's blob store and cannot be suspended",
        )),
    }
}

fn push_prefixes(out: &mut String, listing: &Listing) {
    for p in &listing.common_prefixes {
        out.push_str(&format!(
            "<CommonPrefixes><Prefix>{}</Prefix></CommonPrefixes>",
            escape(p)
        ));
    }
}

fn max_keys(q: &BTreeMap<String, String>) -> Result<usize, S3Error> {
    match q.get("max-keys") {
        None => Ok(1000),
        Some(t) => t.parse::<usize>().map(|n| n.min(1000)).map_err(|_| {
            S3Error::new(
                "InvalidArgument",
                400,
                format!("max-keys {t:?} is not a number"),
            )
        }),
    }
}

fn parse_retention(mode: &str, until: &str) -> Result<Retention, S3Error> {
    let mode = Mode::parse(mode).ok_or_else(|| {
        S3Error::new(
            "InvalidArgument",
            400,
            format!("unknown object lock mode {mode:?}: use GOVERNANCE or COMPLIANCE"),
        )
    })?;
    let until = Timestamp::parse_rfc3339(until).ok_or_else(|| {
        S3Error::new(
            "InvalidArgument",
            400,
            format!("the retain until date {until:?} is not an ISO 8601 date"),
        )
    })?;
    Ok(Retention { mode, until })
}

fn bypass(h: &HeaderMap, caller: &AccessKey) -> Bypass {
    Bypass {
        requested: header(h, "x-amz-bypass-governance-retention")
            .is_some_and(|v| v.eq_ignore_ascii_case("true")),
        allowed: caller.bypass_governance,
    }
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

fn body_text(body: &[u8]) -> Result<String, S3Error> {
    String::from_utf8(body.to_vec()).map_err(|_| S3Error::malformed("the body is not UTF-8"))
}

/// The query's parameters, decoded (a name without `=` maps to "").
fn query_map(raw: &str) -> BTreeMap<String, String> {
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (sigv4::decode(k), sigv4::decode(v))
        })
        .collect()
}

/// The subresource named in the query, if any.
fn sub(q: &BTreeMap<String, String>) -> Option<&str> {
    const SUBRESOURCES: [&str; 10] = [
        "object-lock",
        "versioning",
        "versions",
        "location",
        "delete",
        "retention",
        "legal-hold",
        "acl",
        "tagging",
        "uploads",
    ];
    SUBRESOURCES.into_iter().find(|s| q.contains_key(*s))
}

fn set(resp: &mut Response, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        resp.headers_mut().insert(name, v);
    }
}

fn empty(status: StatusCode) -> Response {
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = status;
    resp
}

fn xml_response(body: String) -> Response {
    let mut resp = Response::new(Body::from(format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{body}"
    )));
    set(&mut resp, "content-type", "application/xml");
    resp
}

fn with_version(mut resp: Response, v: &VersionInfo) -> Response {
    set(&mut resp, "x-amz-version-id", &v.version_id);
    resp
}

/// GET/HEAD of a version: content (or only headers), object-lock headers, one byte range.
fn object_response(
    v: &VersionInfo,
    bytes: Option<Vec<u8>>,
    range: Option<&HeaderValue>,
) -> Result<Response, S3Error> {
    let mut status = StatusCode::OK;
    let mut content_range = None;
    let body = match (bytes, range.and_then(|r| r.to_str().ok())) {
        (Some(b), Some(r)) => {
            let (start, end) = parse_range(r, b.len()).ok_or_else(|| {
                S3Error::new(
                    "InvalidRange",
                    416,
                    format!("the range {r:?} is not satisfiable for {} bytes", b.len()),
                )
            })?;
            status = StatusCode::PARTIAL_CONTENT;
            content_range = Some(format!("bytes {start}-{end}/{}", b.len()));
            Body::from(b[start..=end].to_vec())
        }
        (Some(b), None) => Body::from(b),
        (None, _) => Body::empty(),
    };
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    let modified = std::time::UNIX_EPOCH
        + std::time::Duration::from_millis(u64::try_from(v.created.0).unwrap_or(0));
    set(&mut resp, "etag", &v.etag());
    set(
        &mut resp,
        "last-modified",
        &httpdate::fmt_http_date(modified),
    );
    set(&mut resp, "x-amz-version-id", &v.version_id);
    set(&mut resp, "accept-ranges", "bytes");
    set(
        &mut resp,
        "content-type",
        v.content_type.as_deref().unwrap_or("binary/octet-stream"),
    );
    if let Some(cr) = content_range {
        set(&mut resp, "content-range", &cr);
    } else {
        set(&mut resp, "content-length", &v.size.to_string());
    }
    if let Some(r) = v.retention {
        set(&mut resp, "x-amz-object-lock-mode", r.mode.as_str());
        set(
            &mut resp,
            "x-amz-object-lock-retain-until-date",
            &r.until.rfc3339(),
        );
    }
    set(
        &mut resp,
        "x-amz-object-lock-legal-hold",
        if v.legal_hold { "ON" } else { "OFF" },
    );
    Ok(resp)
}

/// `bytes=a-b`, `bytes=a-` or `bytes=-n` → inclusive bounds.
fn parse_range(r: &str, len: usize) -> Option<(usize, usize)> {
    let spec = r.strip_prefix("bytes=")?;
    let (a, b) = spec.split_once('-')?;
    if len == 0 {
        return None;
    }
    let (start, end) = match (a.trim(), b.trim()) {
        ("", n) => {
            let n: usize = n.parse().ok()?;
            (len.saturating_sub(n), len - 1)
        }
        (a, "") => (a.parse().ok()?, len - 1),
        (a, b) => (a.parse().ok()?, b.parse::<usize>().ok()?.min(len - 1)),
    };
    (start <= end && start < len).then_some((start, end))
}

fn error_response(e: S3Error, resource: &str, head: bool) -> Response {
    let request_id = format!("{:016X}", rand::random::<u64>());
    let body = if head {
        Body::empty()
    } else {
        Body::from(format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>{}</Message><Resource>{}</Resource><RequestId>{request_id}</RequestId></Error>",
            e.code,
            escape(&e.message),
            escape(resource)
        ))
    };
    let mut resp = Response::new(body);
    *resp.status_mut() =
        StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    set(&mut resp, "content-type", "application/xml");
    set(&mut resp, "x-amz-request-id", &request_id);
    for (name, value) in &e.headers {
        set(&mut resp, name, value);
    }
    resp
}
