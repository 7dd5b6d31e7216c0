//! Request helpers and response builders: headers, XML documents, object
//! bodies with ranges, S3 error documents.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;

use super::S3Error;
use crate::keys::AccessKey;
use crate::sigv4;
use crate::store::{Listing, VersionInfo};
use crate::worm::{Bypass, Mode, Retention, Timestamp};
use crate::xml::{self, escape};

pub(super) fn put_versioning(body: &[u8]) -> Result<Response, S3Error> {
    match xml::text(&body_text(body)?, "Status").as_deref() {
        Some("Enabled") => Ok(empty(StatusCode::OK)),
        _ => Err(S3Error::new(
            "InvalidBucketState",
            409,
            "versioning is always Enabled in Cairn's blob store and cannot be suspended",
        )),
    }
}

pub(super) fn push_prefixes(out: &mut String, listing: &Listing) {
    for p in &listing.common_prefixes {
        out.push_str(&format!(
            "<CommonPrefixes><Prefix>{}</Prefix></CommonPrefixes>",
            escape(p)
        ));
    }
}

pub(super) fn max_keys(q: &BTreeMap<String, String>) -> Result<usize, S3Error> {
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

pub(super) fn parse_retention(mode: &str, until: &str) -> Result<Retention, S3Error> {
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

pub(super) fn bypass(h: &HeaderMap, caller: &AccessKey) -> Bypass {
    Bypass {
        requested: header(h, "x-amz-bypass-governance-retention")
            .is_some_and(|v| v.eq_ignore_ascii_case("true")),
        allowed: caller.bypass_governance,
    }
}

pub(super) fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

pub(super) fn body_text(body: &[u8]) -> Result<String, S3Error> {
    String::from_utf8(body.to_vec()).map_err(|_| S3Error::malformed("the body is not UTF-8"))
}

/// The query's parameters, decoded (a name without `=` maps to "").
pub(super) fn query_map(raw: &str) -> BTreeMap<String, String> {
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (sigv4::decode(k), sigv4::decode(v))
        })
        .collect()
}

/// The subresource named in the query, if any.
pub(super) fn sub(q: &BTreeMap<String, String>) -> Option<&str> {
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

pub(super) fn set(resp: &mut Response, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        resp.headers_mut().insert(name, v);
    }
}

pub(super) fn empty(status: StatusCode) -> Response {
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = status;
    resp
}

pub(super) fn xml_response(body: String) -> Response {
    let mut resp = Response::new(Body::from(format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{body}"
    )));
    set(&mut resp, "content-type", "application/xml");
    resp
}

pub(super) fn with_version(mut resp: Response, v: &VersionInfo) -> Response {
    set(&mut resp, "x-amz-version-id", &v.version_id);
    resp
}

/// GET/HEAD of a version: content (or only headers), object-lock headers, one byte range.
pub(super) fn object_response(
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
pub(super) fn parse_range(r: &str, len: usize) -> Option<(usize, usize)> {
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

pub(super) fn error_response(e: S3Error, resource: &str, head: bool) -> Response {
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
