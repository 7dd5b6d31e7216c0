//! Byte codecs behind the JavaScript `Buffer`, with Node's lenient rules:
//! hex decoding stops at the first invalid pair, base64 decoding accepts
//! both alphabets, skips whitespace and stops at padding.

/// Bytes from a "binary string" (one char per byte, as JavaScript sends them).
pub(crate) fn bin_to_bytes(s: &str) -> Option<Vec<u8>> {
    s.chars().map(|c| u8::try_from(u32::from(c)).ok()).collect()
}

/// UTF-8 decoding; invalid sequences become U+FFFD unless `fatal`.
pub(crate) fn utf8_decode(bytes: Vec<u8>, fatal: bool) -> Option<String> {
    match String::from_utf8(bytes) {
        Ok(s) => Some(s),
        Err(e) if !fatal => Some(String::from_utf8_lossy(e.as_bytes()).into_owned()),
        Err(_) => None,
    }
}

/// Lowercase hex.
pub(crate) fn hex_encode(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

/// Node's hex decoding: pairs until the first invalid one.
pub(crate) fn hex_decode(s: &str) -> Vec<u8> {
    let digits = s.as_bytes();
    let mut out = Vec::with_capacity(digits.len() / 2);
    for pair in digits.chunks_exact(2) {
        let (Some(hi), Some(lo)) = (hex_value(pair[0]), hex_value(pair[1])) else {
            break;
        };
        out.push(hi << 4 | lo);
    }
    out
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

const STD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Base64 (padded) or base64url (unpadded), as Node prints them.
pub(crate) fn base64_encode(bytes: &[u8], url: bool) -> String {
    let alphabet = if url { URL } else { STD };
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(chunk.get(1).copied().unwrap_or(0)) << 8)
            | u32::from(chunk.get(2).copied().unwrap_or(0));
        let emit = chunk.len() + 1;
        for i in 0..4 {
            if i < emit {
                out.push(char::from(alphabet[((n >> (18 - 6 * i)) & 63) as usize]));
            } else if !url {
                out.push('=');
            }
        }
    }
    out
}

/// Node's base64 decoding: both alphabets, other characters ignored, stops at `=`.
pub(crate) fn base64_decode(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for b in s.bytes() {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' => break,
            _ => continue,
        };
        acc = acc << 6 | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_compatible_codecs() {
        assert_eq!(hex_decode("0aFFzz12"), vec![0x0a, 0xff]);
        assert_eq!(hex_decode("abc"), vec![0xab]);
        assert_eq!(base64_encode(b"hello", false), "aGVsbG8=");
        assert_eq!(base64_encode(b"\xfb\xff", true), "-_8");
        assert_eq!(base64_decode("aGVs bG8="), b"hello");
        assert_eq!(base64_decode("-_8"), b"\xfb\xff");
        assert_eq!(base64_decode("+/8="), b"\xfb\xff");
        assert_eq!(bin_to_bytes("\u{0}\u{ff}a"), Some(vec![0, 255, b'a']));
        assert_eq!(bin_to_bytes("\u{100}"), None);
        assert_eq!(
            utf8_decode(vec![b'a', 0xff], false).as_deref(),
            Some("a\u{fffd}")
        );
        assert_eq!(utf8_decode(vec![0xff], true), None);
    }
}
