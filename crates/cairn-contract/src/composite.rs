//! Fabric's composite keys: `\u{0}objectType\u{0}attr1\u{0}attr2\u{0}`.
//!
//! The leading NUL keeps composite keys out of simple-key range queries
//! (which start at `\u{1}` when the contract passes an empty start key), and
//! `U+10FFFF` after a partial key bounds a prefix scan. The JavaScript shim
//! implements the same rules in JavaScript, as fabric-shim does.

use crate::error::StubError;

/// The namespace marker that starts every composite key.
pub const COMPOSITE_KEY_NS: char = '\u{0}';
/// Separates the object type and attributes.
pub const MIN_UNICODE_RUNE: char = '\u{0}';
/// Appended to a partial composite key to bound a prefix scan.
pub const MAX_UNICODE_RUNE: char = '\u{10FFFF}';

/// Builds a composite key; refuses empty parts and parts holding the
/// separator or `U+10FFFF`, as Fabric does.
pub fn create_composite_key(object_type: &str, attributes: &[&str]) -> Result<String, StubError> {
    validate_part(object_type)?;
    let mut key = String::with_capacity(2 + object_type.len() + attributes.len() * 16);
    key.push(COMPOSITE_KEY_NS);
    key.push_str(object_type);
    key.push(MIN_UNICODE_RUNE);
    for attr in attributes {
        validate_part(attr)?;
        key.push_str(attr);
        key.push(MIN_UNICODE_RUNE);
    }
    Ok(key)
}

/// Splits a composite key into its object type and attributes; `None` if the
/// key is not a composite key.
pub fn split_composite_key(key: &str) -> Option<(String, Vec<String>)> {
    let rest = key.strip_prefix(COMPOSITE_KEY_NS)?;
    let mut parts: Vec<String> = rest.split(MIN_UNICODE_RUNE).map(str::to_owned).collect();
    // A well-formed key ends with the separator, leaving an empty last part.
    parts.pop();
    if parts.is_empty() {
        return None;
    }
    let object_type = parts.remove(0);
    Some((object_type, parts))
}

/// The `[start, end)` bounds of a scan over every key that extends `partial`.
pub fn partial_key_range(
    object_type: &str,
    attributes: &[&str],
) -> Result<(String, String), StubError> {
    let start = create_composite_key(object_type, attributes)?;
    let mut end = start.clone();
    end.push(MAX_UNICODE_RUNE);
    Ok((start, end))
}

fn validate_part(part: &str) -> Result<(), StubError> {
    if part.is_empty() {
        return Err(StubError::InvalidArgument(
            "object type or attribute not a non-zero length string".into(),
        ));
    }
    if part.contains(MIN_UNICODE_RUNE) || part.contains(MAX_UNICODE_RUNE) {
        return Err(StubError::InvalidArgument(format!(
            "object type or attribute {part:?} contains U+0000 or U+10FFFF, which composite keys reserve"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_fabric_layout() {
        let key = create_composite_key("owner~asset", &["Tom", "asset1"]).unwrap();
        assert_eq!(key, "\u{0}owner~asset\u{0}Tom\u{0}asset1\u{0}");
        let (t, attrs) = split_composite_key(&key).unwrap();
        assert_eq!(t, "owner~asset");
        assert_eq!(attrs, vec!["Tom".to_string(), "asset1".to_string()]);
        assert_eq!(split_composite_key("asset1"), None);
    }

    #[test]
    fn refuses_reserved_and_empty_parts() {
        assert!(create_composite_key("", &[]).is_err());
        assert!(create_composite_key("a", &[""]).is_err());
        assert!(create_composite_key("a\u{0}b", &[]).is_err());
        assert!(create_composite_key("a", &["\u{10FFFF}"]).is_err());
    }

    #[test]
    fn partial_range_covers_extensions_only() {
        let (start, end) = partial_key_range("color", &["blue"]).unwrap();
        let inside = create_composite_key("color", &["blue", "a1"]).unwrap();
        let outside = create_composite_key("color", &["bluer", "a1"]).unwrap();
        assert!(start <= inside && inside < end);
        assert!(!(start <= outside && outside < end));
    }
}
