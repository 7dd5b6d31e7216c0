//! AWS Signature Version 4, header authentication, as S3 computes it:
//! canonical request → string to sign → HMAC-SHA256 chain from the secret.
//! The server side ([`verify`]) and the client side ([`authorization`]) share
//! every step, and both are checked against AWS's published S3 examples
//! (`testdata/aws-sigv4-s3-examples.json`).
//!
//! S3's canonical URI encodes the path once (not twice, as other services
//! do): the raw path is percent-decoded, then each byte outside
//! `A-Za-z0-9-._~/` is encoded again, so any client encoding of the same key
//! gives the same string.

use hmac::{Hmac, KeyInit, Mac};
use percent_encoding::percent_decode_str;
use sha2::{Digest, Sha256};

/// The only algorithm accepted.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// SHA-256 of the empty body.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
/// The payload hash value that leaves the body unsigned.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

type HmacSha256 = Hmac<Sha256>;

/// Why a request's signature was not accepted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The Authorization header is not SigV4's form.
    #[error("the Authorization header is malformed: {0}")]
    Malformed(String),
    /// No Authorization header.
    #[error(
        "anonymous requests are refused: sign the request with an access key (AWS Signature Version 4)"
    )]
    Missing,
    /// `x-amz-content-sha256` does not match the body.
    #[error("the x-amz-content-sha256 header does not match the body's SHA-256")]
    PayloadMismatch,
    /// The signature does not match.
    #[error(
        "the request signature we calculated does not match the signature you provided; check the secret key and signing method"
    )]
    SignatureMismatch,
    /// The request's date is too far from the server's clock.
    #[error(
        "the difference between the request time {request} and the server's time is more than 15 minutes"
    )]
    Skewed {
        /// The request's `x-amz-date`.
        request: String,
    },
    /// The access key is not known.
    #[error("the access key id {0} does not exist; issue one with `cairn blob key issue`")]
    UnknownKey(String),
    /// A SigV4 variant this server does not take (streaming payloads, presigned URLs).
    #[error("{0} is not supported; send a single-chunk payload signed in the Authorization header")]
    Unsupported(String),
}

impl AuthError {
    /// The S3 error code and HTTP status.
    pub fn s3_code(&self) -> (&'static str, u16) {
        match self {
            AuthError::Malformed(_) => ("AuthorizationHeaderMalformed", 400),
            AuthError::Missing => ("AccessDenied", 403),
            AuthError::PayloadMismatch => ("XAmzContentSHA256Mismatch", 400),
            AuthError::SignatureMismatch => ("SignatureDoesNotMatch", 403),
            AuthError::Skewed { .. } => ("RequestTimeTooSkewed", 403),
            AuthError::UnknownKey(_) => ("InvalidAccessKeyId", 403),
            AuthError::Unsupported(_) => ("NotImplemented", 501),
        }
    }
}

/// A parsed `Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authorization {
    /// The access key id.
    pub access_key: String,
    /// The scope's date (`YYYYMMDD`).
    pub date: String,
    /// The scope's region.
    pub region: String,
    /// The scope's service (`s3`).
    pub service: String,
    /// The signed header names, lower case, in order.
    pub signed_headers: Vec<String>,
    /// The signature, hex.
    pub signature: String,
}

impl Authorization {
    /// Parses the header's value.
    pub fn parse(value: &str) -> Result<Authorization, AuthError> {
        let rest = value
            .strip_prefix(ALGORITHM)
            .ok_or_else(|| AuthError::Malformed(format!("the algorithm must be {ALGORITHM}")))?;
        let (mut credential, mut signed, mut signature) = (None, None, None);
        for part in rest.split(',') {
            let part = part.trim();
            if let Some(v) = part.strip_prefix("Credential=") {
                credential = Some(v);
            } else if let Some(v) = part.strip_prefix("SignedHeaders=") {
                signed = Some(v);
            } else if let Some(v) = part.strip_prefix("Signature=") {
                signature = Some(v);
            }
        }
        let missing = |what: &str| AuthError::Malformed(format!("{what} is missing"));
        let credential = credential.ok_or_else(|| missing("Credential"))?;
        let fields: Vec<&str> = credential.split('/').collect();
        let [access_key, date, region, service, "aws4_request"] = fields.as_slice() else {
            return Err(AuthError::Malformed(
                "Credential must be KEY/YYYYMMDD/REGION/SERVICE/aws4_request".to_owned(),
            ));
        };
        let signed_headers: Vec<String> = signed
            .ok_or_else(|| missing("SignedHeaders"))?
            .split(';')
            .map(str::to_owned)
            .collect();
        let signature = signature.ok_or_else(|| missing("Signature"))?;
        if signature.len() != 64 || !signature.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(AuthError::Malformed(
                "Signature must be 64 hex digits".to_owned(),
            ));
        }
        if !signed_headers.iter().any(|h| h == "host") {
            return Err(AuthError::Malformed(
                "SignedHeaders must include host".to_owned(),
            ));
        }
        Ok(Authorization {
            access_key: (*access_key).to_owned(),
            date: (*date).to_owned(),
            region: (*region).to_owned(),
            service: (*service).to_owned(),
            signed_headers,
            signature: signature.to_ascii_lowercase(),
        })
    }

    /// The credential scope, `YYYYMMDD/REGION/SERVICE/aws4_request`.
    pub fn scope(&self) -> String {
        format!(
            "{}/{}/{}/aws4_request",
            self.date, self.region, self.service
        )
    }
}

/// A request as the signature covers it.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    /// `GET`, `PUT`, …
    pub method: &'a str,
    /// The path as sent (percent-encoded).
    pub path: &'a str,
    /// The query string as sent, without `?`.
    pub query: &'a str,
    /// Every header, name in any case, value as sent.
    pub headers: &'a [(String, String)],
}

/// S3's URI encoding: every byte outside `A-Za-z0-9-._~` as `%XX`, `/` kept when `keep_slash`.
pub fn uri_encode(text: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'.' | b'_' | b'~')
            || (keep_slash && b == b'/')
        {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Percent-decodes (bytes that are not UTF-8 are replaced, which no S3 key has).
pub fn decode(text: &str) -> String {
    percent_decode_str(text).decode_utf8_lossy().into_owned()
}

/// The canonical URI of a raw path.
pub fn canonical_uri(raw_path: &str) -> String {
    let path = if raw_path.is_empty() { "/" } else { raw_path };
    uri_encode(&decode(path), true)
}

/// The canonical query string: names and values decoded, re-encoded, sorted.
pub fn canonical_query(raw_query: &str) -> String {
    let mut pairs: Vec<(String, String)> = raw_query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (uri_encode(&decode(k), false), uri_encode(&decode(v), false))
        })
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// The canonical request for `req` with `signed_headers` and the payload hash.
pub fn canonical_request(
    req: &Request<'_>,
    signed_headers: &[String],
    payload_hash: &str,
) -> String {
    let mut out = format!(
        "{}\n{}\n{}\n",
        req.method,
        canonical_uri(req.path),
        canonical_query(req.query)
    );
    for name in signed_headers {
        let values: Vec<String> = req
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        out.push_str(&format!("{name}:{}\n", values.join(",")));
    }
    out.push_str(&format!("\n{}\n{payload_hash}", signed_headers.join(";")));
    out
}

/// The string to sign.
pub fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    )
}

/// The signing key: HMAC chain over date, region, service, `aws4_request`.
pub fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> Vec<u8> {
    let mut key = format!("AWS4{secret}").into_bytes();
    for part in [date, region, service, "aws4_request"] {
        key = hmac(&key, part.as_bytes());
    }
    key
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC takes keys of any length, so this never fails.
    let mut mac = match HmacSha256::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => return Vec::new(),
    };
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// The signature (hex) of `req` under `secret`.
pub fn signature(
    req: &Request<'_>,
    auth_scope: (&str, &str, &str),
    signed_headers: &[String],
    payload_hash: &str,
    amz_date: &str,
    secret: &str,
) -> String {
    let (date, region, service) = auth_scope;
    let scope = format!("{date}/{region}/{service}/aws4_request");
    let sts = string_to_sign(
        amz_date,
        &scope,
        &canonical_request(req, signed_headers, payload_hash),
    );
    hex::encode(hmac(
        &signing_key(secret, date, region, service),
        sts.as_bytes(),
    ))
}

/// Checks `auth`'s signature of `req` with `secret` (constant-time comparison).
pub fn verify(
    req: &Request<'_>,
    auth: &Authorization,
    secret: &str,
    payload_hash: &str,
    amz_date: &str,
) -> Result<(), AuthError> {
    if !amz_date.starts_with(&auth.date) {
        return Err(AuthError::Malformed(
            "the credential's date is not the request's x-amz-date".to_owned(),
        ));
    }
    let sts = string_to_sign(
        amz_date,
        &auth.scope(),
        &canonical_request(req, &auth.signed_headers, payload_hash),
    );
    let key = signing_key(secret, &auth.date, &auth.region, &auth.service);
    let mut mac = HmacSha256::new_from_slice(&key).map_err(|_| AuthError::SignatureMismatch)?;
    mac.update(sts.as_bytes());
    let given = hex::decode(&auth.signature).map_err(|_| AuthError::SignatureMismatch)?;
    mac.verify_slice(&given)
        .map_err(|_| AuthError::SignatureMismatch)
}

/// The `Authorization` header value a client sends for `req`, signing every
/// header in `req.headers` (which must include `host`, `x-amz-date` and
/// `x-amz-content-sha256`).
pub fn authorization(
    req: &Request<'_>,
    access_key: &str,
    secret: &str,
    region: &str,
    amz_date: &str,
    payload_hash: &str,
) -> String {
    let mut signed: Vec<String> = req
        .headers
        .iter()
        .map(|(n, _)| n.to_ascii_lowercase())
        .collect();
    signed.sort();
    signed.dedup();
    let date = amz_date.get(..8).unwrap_or(amz_date);
    let sig = signature(
        req,
        (date, region, "s3"),
        &signed,
        payload_hash,
        amz_date,
        secret,
    );
    format!(
        "{ALGORITHM} Credential={access_key}/{date}/{region}/s3/aws4_request,SignedHeaders={},Signature={sig}",
        signed.join(";")
    )
}

/// Parses `x-amz-date` (`YYYYMMDDTHHMMSSZ`) to milliseconds since the epoch.
pub fn parse_amz_date(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |range: std::ops::Range<usize>| text.get(range)?.parse::<u32>().ok();
    let month = time::Month::try_from(u8::try_from(num(4..6)?).ok()?).ok()?;
    let date = time::Date::from_calendar_date(
        i32::try_from(num(0..4)?).ok()?,
        month,
        u8::try_from(num(6..8)?).ok()?,
    )
    .ok()?;
    let clock = time::Time::from_hms(
        u8::try_from(num(9..11)?).ok()?,
        u8::try_from(num(11..13)?).ok()?,
        u8::try_from(num(13..15)?).ok()?,
    )
    .ok()?;
    let t = time::PrimitiveDateTime::new(date, clock).assume_utc();
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

/// Formats milliseconds since the epoch as `x-amz-date`.
pub fn format_amz_date(ms: i64) -> String {
    match time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000) {
        Ok(t) => format!(
            "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        ),
        Err(_) => "19700101T000000Z".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

    use super::*;

    /// AWS's published S3 examples (source in the file).
    #[test]
    fn aws_published_s3_examples_verify_and_sign() {
        let text = include_str!("../testdata/aws-sigv4-s3-examples.json");
        let doc: serde_json::Value = serde_json::from_str(text).unwrap();
        let cases = doc["cases"].as_array().unwrap();
        assert!(cases.len() >= 4);
        for case in cases {
            let name = case["name"].as_str().unwrap();
            let headers: Vec<(String, String)> = case["headers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| {
                    (
                        h[0].as_str().unwrap().to_owned(),
                        h[1].as_str().unwrap().to_owned(),
                    )
                })
                .collect();
            let req = Request {
                method: case["method"].as_str().unwrap(),
                path: case["path"].as_str().unwrap(),
                query: case["query"].as_str().unwrap(),
                headers: &headers,
            };
            let payload = case["payload_sha256"].as_str().unwrap();
            if let Some(body) = case["body"].as_str() {
                assert_eq!(
                    hex::encode(Sha256::digest(body.as_bytes())),
                    payload,
                    "{name}"
                );
            }
            let expected = case["authorization"].as_str().unwrap();
            let auth = Authorization::parse(expected).unwrap();
            let secret = doc["secret_key"].as_str().unwrap();
            let amz_date = doc["amz_date"].as_str().unwrap();
            verify(&req, &auth, secret, payload, amz_date)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            // The client side produces the very same header.
            let signed = authorization(
                &req,
                &auth.access_key,
                secret,
                &auth.region,
                amz_date,
                payload,
            );
            assert_eq!(
                signed.replace(", ", ","),
                expected.replace(", ", ","),
                "{name}"
            );
            // One changed byte anywhere is refused.
            let mut bad = auth.clone();
            bad.signature.replace_range(
                0..1,
                if bad.signature.starts_with('0') {
                    "1"
                } else {
                    "0"
                },
            );
            assert_eq!(
                verify(&req, &bad, secret, payload, amz_date),
                Err(AuthError::SignatureMismatch)
            );
            assert_eq!(
                verify(&req, &auth, "wrong-secret", payload, amz_date),
                Err(AuthError::SignatureMismatch)
            );
            let other = Request {
                method: "DELETE",
                ..req
            };
            assert_eq!(
                verify(&other, &auth, secret, payload, amz_date),
                Err(AuthError::SignatureMismatch)
            );
        }
    }

    #[test]
    fn the_canonical_uri_encodes_once_whatever_the_client_sent() {
        assert_eq!(canonical_uri("/test%24file.text"), "/test%24file.text");
        assert_eq!(canonical_uri("/test$file.text"), "/test%24file.text");
        assert_eq!(canonical_uri("/b/a%20b/c+d"), "/b/a%20b/c%2Bd");
        assert_eq!(
            canonical_query("prefix=J&max-keys=2"),
            "max-keys=2&prefix=J"
        );
        assert_eq!(canonical_query("versioning"), "versioning=");
    }

    #[test]
    fn malformed_headers_are_named() {
        for (value, what) in [
            (
                "AWS4-HMAC-SHA1 Credential=a/b/c/d/aws4_request",
                "algorithm",
            ),
            (
                "AWS4-HMAC-SHA256 SignedHeaders=host, Signature=00",
                "Credential",
            ),
            (
                "AWS4-HMAC-SHA256 Credential=a/b/c, SignedHeaders=host, Signature=00",
                "Credential must be",
            ),
        ] {
            let err = Authorization::parse(value).unwrap_err().to_string();
            assert!(err.contains(what), "{err}");
        }
        assert_eq!(parse_amz_date("20130524T000000Z"), Some(1_369_353_600_000));
        assert_eq!(format_amz_date(1_369_353_600_000), "20130524T000000Z");
    }
}
