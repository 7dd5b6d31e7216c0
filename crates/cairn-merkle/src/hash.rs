//! The SHA-256 tree hash of RFC 9162 §2.1: domain-separated leaf and interior-node hashes.

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use sha2::{Digest, Sha256};

/// Prefix byte that marks a leaf hash (RFC 9162 §2.1.1), so a leaf can never pose as a node.
const LEAF_PREFIX: u8 = 0x00;
/// Prefix byte that marks an interior-node hash (RFC 9162 §2.1.1).
const NODE_PREFIX: u8 = 0x01;

/// A 32-byte SHA-256 tree hash: a leaf hash, a node hash or a tree head.
///
/// Displays and parses as 64 lowercase hex digits. With serde it is a hex string in
/// human-readable formats (JSON receipts) and 32 raw bytes in binary ones (postcard).
/// `Hash::default()` is all zeros: a placeholder that is the root of no tree.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Hash([u8; 32]);

impl Hash {
    /// Length of a hash in bytes.
    pub const LEN: usize = 32;

    /// Wraps 32 bytes that already are a tree hash.
    pub const fn new(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The hash as a byte array.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The hash as an owned byte array.
    pub const fn to_bytes(self) -> [u8; 32] {
        self.0
    }

    /// Parses a hash from 64 hex digits (either case).
    pub fn from_hex(text: &str) -> Result<Self, ParseHashError> {
        let bytes = hex::decode(text).map_err(|_| ParseHashError::InvalidHex)?;
        Self::try_from(bytes.as_slice())
    }

    /// The hash as 64 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl From<[u8; 32]> for Hash {
    fn from(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }
}

impl From<Hash> for [u8; 32] {
    fn from(hash: Hash) -> Self {
        hash.0
    }
}

impl TryFrom<&[u8]> for Hash {
    type Error = ParseHashError;

    fn try_from(bytes: &[u8]) -> Result<Self, Self::Error> {
        <[u8; 32]>::try_from(bytes)
            .map(Self)
            .map_err(|_| ParseHashError::WrongLength {
                actual: bytes.len(),
            })
    }
}

impl AsRef<[u8]> for Hash {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({self})")
    }
}

impl FromStr for Hash {
    type Err = ParseHashError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::from_hex(text)
    }
}

impl Serialize for Hash {
    fn serialize<S>(&self, serializer: S) -> Result<S::Ok, S::Error>
    where
        S: Serializer,
    {
        if serializer.is_human_readable() {
            serializer.collect_str(self)
        } else {
            self.0.serialize(serializer)
        }
    }
}

impl<'de> Deserialize<'de> for Hash {
    fn deserialize<D>(deserializer: D) -> Result<Self, D::Error>
    where
        D: Deserializer<'de>,
    {
        if deserializer.is_human_readable() {
            deserializer.deserialize_str(HexVisitor)
        } else {
            <[u8; 32]>::deserialize(deserializer).map(Self)
        }
    }
}

/// Reads a hash from its hex string form.
struct HexVisitor;

impl Visitor<'_> for HexVisitor {
    type Value = Hash;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a SHA-256 hash as 64 hex digits")
    }

    fn visit_str<E>(self, text: &str) -> Result<Hash, E>
    where
        E: de::Error,
    {
        Hash::from_hex(text).map_err(E::custom)
    }
}

/// Why text or bytes could not be read as a [`Hash`](struct@Hash).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseHashError {
    /// The text is not hex.
    #[error("a tree hash must be written as 64 hex digits; the text is not valid hex")]
    InvalidHex,
    /// The bytes are not exactly 32 long.
    #[error(
        "a tree hash is 32 bytes (SHA-256), got {actual}; check the proof or root was not truncated or padded"
    )]
    WrongLength {
        /// Number of bytes supplied.
        actual: usize,
    },
}

/// Hash of a leaf entry: `SHA-256(0x00 || data)` (RFC 9162 §2.1.1).
pub fn leaf_hash(data: &[u8]) -> Hash {
    prefixed_hash(LEAF_PREFIX, data, &[])
}

/// Hash of an interior node: `SHA-256(0x01 || left || right)` (RFC 9162 §2.1.1).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    prefixed_hash(NODE_PREFIX, &left.0, &right.0)
}

/// Root of the empty tree: `SHA-256("")` (RFC 9162 §2.1.1).
pub fn empty_root() -> Hash {
    Hash(Sha256::digest([]).into())
}

/// `SHA-256(prefix || first || second)`; node hashing over raw bytes lives here so the
/// hasher test vectors (which hash non-32-byte children) exercise the real code path.
fn prefixed_hash(prefix: u8, first: &[u8], second: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([prefix]);
    hasher.update(first);
    hasher.update(second);
    Hash(hasher.finalize().into())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::*;

    fn vectors() -> serde_json::Value {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../testdata/merkle_vectors.json"
        );
        let text = std::fs::read_to_string(path).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    fn hex_field(value: &serde_json::Value, key: &str) -> Hash {
        Hash::from_hex(value[key].as_str().unwrap()).unwrap()
    }

    /// Covers every field of the `hasher_vectors` section (transparency-dev TestRFC6962Hasher).
    #[test]
    fn hasher_vectors_section() {
        let all = vectors();
        let section = &all["hasher_vectors"];
        let keys: Vec<&str> = section
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys.len(),
            5,
            "hasher_vectors gained fields this test does not check: {keys:?}"
        );
        assert!(
            section["source"]
                .as_str()
                .unwrap()
                .contains("TestRFC6962Hasher")
        );

        assert_eq!(empty_root(), hex_field(section, "empty_tree_root"));
        assert_eq!(
            leaf_hash(b""),
            hex_field(section, "leaf_hash_of_empty_leaf")
        );

        let leaf = &section["leaf_hash"];
        let data = leaf["leaf_ascii"].as_str().unwrap().as_bytes();
        assert_eq!(leaf_hash(data), hex_field(leaf, "hash"));

        let node = &section["node_hash"];
        let left = node["left_ascii"].as_str().unwrap().as_bytes();
        let right = node["right_ascii"].as_str().unwrap().as_bytes();
        assert_eq!(
            prefixed_hash(NODE_PREFIX, left, right),
            hex_field(node, "hash")
        );
    }

    #[test]
    fn node_hash_is_prefixed_concatenation() {
        let left = leaf_hash(b"a");
        let right = leaf_hash(b"b");
        let mut bytes = vec![0x01];
        bytes.extend_from_slice(left.as_bytes());
        bytes.extend_from_slice(right.as_bytes());
        assert_eq!(
            node_hash(&left, &right),
            Hash(Sha256::digest(&bytes).into())
        );
        assert_ne!(node_hash(&left, &right), node_hash(&right, &left));
    }

    #[test]
    fn hex_round_trip_and_errors() {
        let hash = leaf_hash(b"x");
        let text = hash.to_string();
        assert_eq!(text.len(), 64);
        assert_eq!(text, hash.to_hex());
        assert_eq!(text.parse::<Hash>().unwrap(), hash);
        assert_eq!(Hash::from_hex(&text.to_uppercase()).unwrap(), hash);
        assert_eq!(Hash::from_hex("zz"), Err(ParseHashError::InvalidHex));
        assert_eq!(
            Hash::from_hex(""),
            Err(ParseHashError::WrongLength { actual: 0 })
        );
        assert_eq!(
            Hash::from_hex(&text[..62]),
            Err(ParseHashError::WrongLength { actual: 31 })
        );
        assert_eq!(
            Hash::try_from(&[0u8; 33][..]),
            Err(ParseHashError::WrongLength { actual: 33 })
        );
        assert_eq!(format!("{hash:?}"), format!("Hash({text})"));
    }

    #[test]
    fn serde_is_hex_in_json() {
        let hash = leaf_hash(b"y");
        let json = serde_json::to_string(&hash).unwrap();
        assert_eq!(json, format!("\"{hash}\""));
        assert_eq!(serde_json::from_str::<Hash>(&json).unwrap(), hash);
        assert!(serde_json::from_str::<Hash>("\"abcd\"").is_err());
        assert!(serde_json::from_str::<Hash>("\"not hex\"").is_err());
    }
}
