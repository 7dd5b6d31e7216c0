//! SHA-256 digests: the [`Digest`] newtype, one-shot [`sha256`] and the
//! streaming [`Sha256Hasher`].
//!
//! Invariant: a digest has exactly one text form, 64 lowercase hex digits.
//! Parsing (and so serde, in JSON and in the ledger's binary encoding, where
//! a digest is that text) refuses uppercase digits and any other length, so
//! two different strings never decode to the same digest.

use std::fmt;
use std::str::FromStr;

use sha2::Digest as _;

/// A SHA-256 digest. Displays, parses and serializes as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Digest([u8; 32]);

impl Digest {
    /// Number of bytes in a digest.
    pub const LEN: usize = 32;

    /// Wraps 32 raw bytes.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The raw bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The raw bytes, by value.
    pub const fn to_bytes(self) -> [u8; 32] {
        self.0
    }

    /// Lowercase hex form (same as `Display`).
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl AsRef<[u8]> for Digest {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl From<[u8; 32]> for Digest {
    fn from(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({})", self.to_hex())
    }
}

/// Why a string is not a [`Digest`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid SHA-256 digest {input:?}: expected exactly 64 lowercase hex digits (0-9, a-f); \
     write uppercase digits in lowercase"
)]
pub struct ParseDigestError {
    /// The rejected input (truncated to 80 characters).
    pub input: String,
}

impl FromStr for Digest {
    type Err = ParseDigestError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // `hex` accepts either case; only lowercase is a digest's form.
        let lowercase = s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        let mut out = [0u8; 32];
        if !lowercase || hex::decode_to_slice(s, &mut out).is_err() {
            return Err(ParseDigestError {
                input: s.chars().take(80).collect(),
            });
        }
        Ok(Self(out))
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> Digest {
    Digest(sha2::Sha256::digest(data).into())
}

/// Incremental SHA-256, for data that arrives in pieces. Also an `io::Write`.
#[derive(Clone, Default)]
pub struct Sha256Hasher(sha2::Sha256);

impl Sha256Hasher {
    /// A hasher with nothing absorbed yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Absorbs `data`.
    pub fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    /// Absorbs `data` and returns the hasher, for chaining.
    #[must_use]
    pub fn chain(mut self, data: &[u8]) -> Self {
        self.update(data);
        self
    }

    /// The digest of everything absorbed.
    pub fn finalize(self) -> Digest {
        Digest(self.0.finalize().into())
    }
}

impl fmt::Debug for Sha256Hasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sha256Hasher")
    }
}

impl std::io::Write for Sha256Hasher {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::*;

    // FIPS 180-2 appendix B.1 / B.2.
    const ABC: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    const TWO_BLOCK: &str = "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1";

    #[test]
    fn known_answers() {
        assert_eq!(sha256(b"abc").to_string(), ABC);
        let msg = b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
        assert_eq!(sha256(msg).to_string(), TWO_BLOCK);
    }

    #[test]
    fn streaming_matches_one_shot() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let mut h = Sha256Hasher::new();
        for piece in data.chunks(37) {
            h.update(piece);
        }
        assert_eq!(h.finalize(), sha256(&data));
        let mut w = Sha256Hasher::new();
        std::io::copy(&mut &data[..], &mut w).unwrap();
        assert_eq!(w.finalize(), sha256(&data));
        assert_eq!(
            Sha256Hasher::new()
                .chain(b"a")
                .chain(b"bc")
                .finalize()
                .to_string(),
            ABC
        );
    }

    #[test]
    fn hex_and_serde_round_trip() {
        let d: Digest = ABC.parse().unwrap();
        assert_eq!(d, sha256(b"abc"));
        let json = serde_json::to_string(&d).unwrap();
        assert_eq!(json, format!("\"{ABC}\""));
        let back: Digest = serde_json::from_str(&json).unwrap();
        assert_eq!(back, d);
        assert!("abcd".parse::<Digest>().is_err());
        assert!(ABC.replace('a', "g").parse::<Digest>().is_err());
        assert!(serde_json::from_str::<Digest>("\"00\"").is_err());
        assert_eq!(format!("{d:?}"), format!("Digest({ABC})"));
    }

    #[test]
    fn only_lowercase_hex_of_exact_length_parses() {
        // One text form per digest: uppercase would be a second spelling of
        // the same 32 bytes (and, in the ledger's binary encoding, a second
        // byte string decoding to the same value).
        let upper = ABC.to_uppercase();
        let e = upper.parse::<Digest>().unwrap_err();
        assert!(e.to_string().contains("lowercase"), "{e}");
        let mixed = format!("B{}", &ABC[1..]);
        assert!(mixed.parse::<Digest>().is_err());
        assert!(serde_json::from_str::<Digest>(&format!("\"{upper}\"")).is_err());
        assert!(format!("{ABC}00").parse::<Digest>().is_err());
        assert!(ABC[..62].parse::<Digest>().is_err());
        assert!(format!(" {}", &ABC[1..]).parse::<Digest>().is_err());
        assert!(format!("+{}", &ABC[1..]).parse::<Digest>().is_err());
        // Positive control: the lowercase form of the same bytes parses.
        assert_eq!(ABC.parse::<Digest>().unwrap(), sha256(b"abc"));
        assert_eq!(
            upper.to_lowercase().parse::<Digest>().unwrap(),
            sha256(b"abc")
        );
    }
}
