//! The little XML S3 needs: escaping for the documents we write, and
//! reading the text of flat elements from the few small bodies clients send
//! (Retention, LegalHold, ObjectLockConfiguration, Delete). Those bodies have
//! no attributes we use, no CDATA and no nesting of the same element, so a
//! tag scanner is enough; anything it cannot read is `MalformedXML`.

/// The S3 namespace.
pub const NS: &str = "http://s3.amazonaws.com/doc/2006-03-01/";

/// Escapes text for element content.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// Undoes [`escape`] (and numeric character references).
pub fn unescape(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find('&') {
        out.push_str(&rest[..pos]);
        let end = rest[pos..].find(';')? + pos;
        let entity = &rest[pos + 1..end];
        let c = match entity {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            e => {
                let code = if let Some(hex) = e.strip_prefix("#x") {
                    u32::from_str_radix(hex, 16).ok()?
                } else {
                    e.strip_prefix('#')?.parse().ok()?
                };
                char::from_u32(code)?
            }
        };
        out.push(c);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

/// The raw inner text of every `<tag …>…</tag>` in `xml`, in order.
pub fn elements<'a>(xml: &'a str, tag: &str) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut rest = xml;
    let close = format!("</{tag}>");
    while let Some(start) = find_open(rest, tag) {
        let after_open = &rest[start..];
        let Some(gt) = after_open.find('>') else {
            break;
        };
        if after_open[..gt].ends_with('/') {
            out.push("");
            rest = &after_open[gt + 1..];
            continue;
        }
        let body = &after_open[gt + 1..];
        let Some(end) = body.find(&close) else { break };
        out.push(&body[..end]);
        rest = &body[end + close.len()..];
    }
    out
}

/// The unescaped, trimmed text of the first `<tag>` in `xml`.
pub fn text(xml: &str, tag: &str) -> Option<String> {
    elements(xml, tag).first().and_then(|t| unescape(t.trim()))
}

/// Where `<tag` starts as a whole element name (not a longer name sharing its start).
fn find_open(xml: &str, tag: &str) -> Option<usize> {
    let open = format!("<{tag}");
    let mut from = 0;
    while let Some(pos) = xml[from..].find(&open) {
        let at = from + pos;
        let next = xml[at + open.len()..].chars().next();
        if matches!(next, Some('>' | '/' | ' ' | '\t' | '\n' | '\r')) {
            return Some(at);
        }
        from = at + open.len();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_clients_send() {
        let body = r#"<?xml version="1.0" encoding="UTF-8"?>
<Retention xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Mode>GOVERNANCE</Mode><RetainUntilDate>2030-01-01T00:00:00Z</RetainUntilDate></Retention>"#;
        assert_eq!(text(body, "Mode").as_deref(), Some("GOVERNANCE"));
        assert_eq!(
            text(body, "RetainUntilDate").as_deref(),
            Some("2030-01-01T00:00:00Z")
        );
        assert_eq!(text(body, "Retain"), None);
        let delete = "<Delete><Object><Key>a&amp;b</Key></Object><Object><Key>c</Key><VersionId>1</VersionId></Object><Quiet>true</Quiet></Delete>";
        let objects = elements(delete, "Object");
        assert_eq!(objects.len(), 2);
        assert_eq!(text(objects[0], "Key").as_deref(), Some("a&b"));
        assert_eq!(text(objects[1], "VersionId").as_deref(), Some("1"));
        assert_eq!(escape("<a&'\">"), "&lt;a&amp;&apos;&quot;&gt;");
        assert_eq!(unescape("&#x41;&#66;").as_deref(), Some("AB"));
        assert_eq!(unescape("&bogus;"), None);
    }
}
