//! The HTTP messages inside the encapsulation: RFC 9292 binary HTTP, through the
//! `bhttp` crate.
//!
//! We encode known-length messages and decode both known- and indeterminate-length
//! ones. What a message may hold is narrower than RFC 9292, and checked both ways:
//! - a method is an HTTP token and a path is non-empty visible ASCII, so neither can
//!   smuggle a second request line when a message is forwarded as HTTP/1.1;
//! - field names are tokens (encoded in lowercase, as RFC 9292 §3.6 requires, and
//!   compared case-insensitively), field values hold no CR, LF or NUL;
//! - trailers are refused, informational (1xx) responses before the final one are
//!   dropped, and bytes after a message must be zero padding (RFC 9292 §3.8);
//! - scheme and authority are not kept: the gateway serves its own resources, so a
//!   decoded request carries only its method and path, and an encoded one uses
//!   `https` and an empty authority.
//!
//! `Debug` shows the method, path or status, header names and the body's length,
//! never header values or body bytes (they are the request's confidential content).

use std::io::Cursor;

use bhttp::{ControlData, Message, Mode, StatusCode};

use super::OhttpError;

/// A request inside an encapsulated request.
#[derive(Clone, PartialEq, Eq)]
pub struct InnerRequest {
    /// The method, e.g. `POST`.
    pub method: String,
    /// The path with any query, e.g. `/v1/infer`.
    pub path: String,
    /// Header fields in order; names are compared case-insensitively.
    pub headers: Vec<(String, String)>,
    /// The content.
    pub body: Vec<u8>,
}

/// A response inside an encapsulated response.
#[derive(Clone, PartialEq, Eq)]
pub struct InnerResponse {
    /// The final status code, 200 to 599.
    pub status: u16,
    /// Header fields in order; names are compared case-insensitively.
    pub headers: Vec<(String, String)>,
    /// The content.
    pub body: Vec<u8>,
}

impl InnerRequest {
    /// Encodes as a known-length binary HTTP request.
    pub fn encode(&self) -> Result<Vec<u8>, OhttpError> {
        check_token("method", &self.method)?;
        check_path(&self.path)?;
        let mut message = Message::request(
            self.method.as_bytes().to_vec(),
            b"https".to_vec(),
            Vec::new(),
            self.path.as_bytes().to_vec(),
        );
        put_headers(&mut message, &self.headers)?;
        message.write_content(&self.body);
        write(&message)
    }

    /// Decodes a binary HTTP request.
    pub fn decode(bytes: &[u8]) -> Result<InnerRequest, OhttpError> {
        let message = read(bytes)?;
        let ControlData::Request { method, path, .. } = message.control() else {
            return Err(invalid("expected a request, found a response"));
        };
        let method = utf8("method", method)?;
        check_token("method", &method)?;
        let path = utf8("path", path)?;
        check_path(&path)?;
        Ok(InnerRequest {
            method,
            path,
            headers: headers(&message)?,
            body: message.content().to_vec(),
        })
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }
}

impl InnerResponse {
    /// Encodes as a known-length binary HTTP response.
    pub fn encode(&self) -> Result<Vec<u8>, OhttpError> {
        if !(200..=599).contains(&self.status) {
            return Err(invalid(&format!(
                "status {}: a final response's status is 200 to 599",
                self.status
            )));
        }
        let status = StatusCode::try_from(self.status)
            .map_err(|e| OhttpError::Bhttp(format!("status {}: {e}", self.status)))?;
        let mut message = Message::response(status);
        put_headers(&mut message, &self.headers)?;
        message.write_content(&self.body);
        write(&message)
    }

    /// Decodes a binary HTTP response; informational responses before it are dropped.
    pub fn decode(bytes: &[u8]) -> Result<InnerResponse, OhttpError> {
        let message = read(bytes)?;
        let Some(status) = message.control().status() else {
            return Err(invalid("expected a response, found a request"));
        };
        Ok(InnerResponse {
            status: status.code(),
            headers: headers(&message)?,
            body: message.content().to_vec(),
        })
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }
}

impl std::fmt::Debug for InnerRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InnerRequest")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("header_names", &names(&self.headers))
            .field("body_len", &self.body.len())
            .finish()
    }
}

impl std::fmt::Debug for InnerResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InnerResponse")
            .field("status", &self.status)
            .field("header_names", &names(&self.headers))
            .field("body_len", &self.body.len())
            .finish()
    }
}

fn names(headers: &[(String, String)]) -> Vec<&str> {
    headers.iter().map(|(n, _)| n.as_str()).collect()
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn put_headers(message: &mut Message, headers: &[(String, String)]) -> Result<(), OhttpError> {
    for (name, value) in headers {
        check_token("header name", name)?;
        check_value(name, value)?;
        message.put_header(name.to_ascii_lowercase(), value.as_bytes());
    }
    Ok(())
}

fn write(message: &Message) -> Result<Vec<u8>, OhttpError> {
    let mut out = Vec::new();
    message
        .write_bhttp(Mode::KnownLength, &mut out)
        .map_err(|e| OhttpError::Bhttp(e.to_string()))?;
    Ok(out)
}

fn read(bytes: &[u8]) -> Result<Message, OhttpError> {
    let mut cursor = Cursor::new(bytes);
    let message = Message::read_bhttp::<_, Cursor<&[u8]>>(&mut cursor)
        .map_err(|e| OhttpError::Bhttp(e.to_string()))?;
    // The cursor never moves past the end of its slice.
    let used = usize::try_from(cursor.position()).unwrap_or(bytes.len());
    if let Some(at) = bytes.iter().skip(used).position(|&b| b != 0) {
        return Err(invalid(&format!(
            "non-zero byte at offset {} after the message; only zero padding may follow",
            used + at
        )));
    }
    if !message.trailer().is_empty() {
        return Err(invalid("trailer fields are not supported"));
    }
    Ok(message)
}

fn headers(message: &Message) -> Result<Vec<(String, String)>, OhttpError> {
    message
        .header()
        .fields()
        .iter()
        .map(|field| {
            let name = utf8("header name", field.name())?;
            check_token("header name", &name)?;
            let value = utf8("header value", field.value())?;
            check_value(&name, &value)?;
            Ok((name, value))
        })
        .collect()
}

fn utf8(what: &str, bytes: &[u8]) -> Result<String, OhttpError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| invalid(&format!("{what} is not UTF-8")))
}

/// RFC 9110 §5.6.2 `token`: one or more `tchar`.
fn check_token(what: &str, s: &str) -> Result<(), OhttpError> {
    let tchar = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if s.is_empty() || !s.bytes().all(tchar) {
        return Err(invalid(&format!(
            "{what} {s:?}: must be an HTTP token (letters, digits and !#$%&'*+-.^_`|~)"
        )));
    }
    Ok(())
}

fn check_path(path: &str) -> Result<(), OhttpError> {
    if path.is_empty() || !path.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(invalid(&format!(
            "path {path:?}: must be non-empty visible ASCII (percent-encode anything else)"
        )));
    }
    Ok(())
}

fn check_value(name: &str, value: &str) -> Result<(), OhttpError> {
    if value.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0)) {
        return Err(invalid(&format!(
            "value of header {name:?} holds CR, LF or NUL"
        )));
    }
    Ok(())
}

fn invalid(detail: &str) -> OhttpError {
    OhttpError::Bhttp(detail.to_string())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

    use super::*;

    fn request() -> InnerRequest {
        InnerRequest {
            method: "POST".into(),
            path: "/v1/infer?model=m".into(),
            headers: vec![
                ("Content-Type".into(), "application/json".into()),
                ("x-marker".into(), "SECRET-HEADER".into()),
            ],
            body: b"SECRET-BODY".to_vec(),
        }
    }

    #[test]
    fn request_round_trip_lowercases_names_and_finds_headers_case_insensitively() {
        let decoded = InnerRequest::decode(&request().encode().unwrap()).unwrap();
        assert_eq!(decoded.method, "POST");
        assert_eq!(decoded.path, "/v1/infer?model=m");
        assert_eq!(decoded.headers[0].0, "content-type");
        assert_eq!(decoded.header("CONTENT-type"), Some("application/json"));
        assert_eq!(decoded.header("absent"), None);
        assert_eq!(decoded.body, b"SECRET-BODY");
    }

    #[test]
    fn response_round_trip_and_status_range() {
        let response = InnerResponse {
            status: 422,
            headers: vec![("content-type".into(), "application/problem+json".into())],
            body: b"{}".to_vec(),
        };
        let decoded = InnerResponse::decode(&response.encode().unwrap()).unwrap();
        assert_eq!(decoded, response);
        for status in [0, 103, 600] {
            let bad = InnerResponse {
                status,
                ..response.clone()
            };
            assert!(bad.encode().is_err(), "status {status} must be refused");
        }
    }

    #[test]
    fn kinds_padding_and_trailers() {
        let bytes = request().encode().unwrap();
        assert!(matches!(
            InnerResponse::decode(&bytes),
            Err(OhttpError::Bhttp(m)) if m.contains("found a request")
        ));
        let mut padded = bytes.clone();
        padded.extend_from_slice(&[0; 5]);
        assert_eq!(InnerRequest::decode(&padded).unwrap(), {
            let mut r = request();
            r.headers[0].0 = "content-type".into();
            r
        });
        let mut junk = bytes.clone();
        junk.extend_from_slice(&[0, 1]);
        assert!(matches!(
            InnerRequest::decode(&junk),
            Err(OhttpError::Bhttp(m)) if m.contains(&format!("offset {}", bytes.len() + 1))
        ));
        let mut with_trailer = Message::response(StatusCode::OK);
        with_trailer.put_trailer("digest", "x");
        let bytes = write(&with_trailer).unwrap();
        assert!(matches!(
            InnerResponse::decode(&bytes),
            Err(OhttpError::Bhttp(m)) if m.contains("trailer")
        ));
    }

    #[test]
    fn injection_is_refused_both_ways() {
        let mut bad = request();
        bad.headers.push(("x".into(), "a\r\nhost: evil".into()));
        assert!(bad.encode().is_err());
        let mut bad = request();
        bad.method = "GET /x HTTP/1.1\r\n".into();
        assert!(bad.encode().is_err());
        let mut bad = request();
        bad.path = "/a b".into();
        assert!(bad.encode().is_err());

        // The same content written by bhttp directly is refused on decode.
        let mut raw = Message::request(b"GET".to_vec(), b"https".to_vec(), vec![], b"/".to_vec());
        raw.put_header("x", "a\nb");
        assert!(matches!(
            InnerRequest::decode(&write(&raw).unwrap()),
            Err(OhttpError::Bhttp(m)) if m.contains("CR, LF or NUL")
        ));
        let good = Message::request(b"GET".to_vec(), b"https".to_vec(), vec![], b"/".to_vec());
        assert!(
            InnerRequest::decode(&write(&good).unwrap()).is_ok(),
            "positive control"
        );
    }

    #[test]
    fn debug_hides_values_and_body() {
        let shown = format!("{:?}", request());
        assert!(
            shown.contains("x-marker") && shown.contains("body_len: 11"),
            "{shown}"
        );
        assert!(!shown.contains("SECRET"), "{shown}");
    }
}
