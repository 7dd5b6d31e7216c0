//! The one canonical binary encoding for everything hashed or signed.
//!
//! Every ledger structure is encoded with postcard (serde): integers as
//! LEB128 varints (signed ones zig-zag), byte strings and sequences prefixed
//! with their varint length, structs as their fields in declaration order,
//! enums as a varint variant index followed by the variant's fields, maps as
//! a length then key/value pairs in key order (only `BTreeMap` is used, so the
//! order is canonical). The byte layout of each type is documented in
//! `docs/encoding.md`.
//!
//! Invariants: `decode(encode(x)) == x`; decoding rejects trailing bytes.
//! Hashes and signatures are always taken over the stored bytes themselves,
//! never over a re-encoding, so any change to stored bytes changes the hash.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Why bytes could not be decoded into a ledger structure.
#[derive(Debug, thiserror::Error)]
pub enum EncodingError {
    /// The bytes are not a valid encoding of the expected type.
    #[error("malformed {what}: {reason}")]
    Malformed {
        /// The type being decoded.
        what: &'static str,
        /// What postcard reported.
        reason: String,
    },
    /// Valid encoding followed by extra bytes; refused so encodings stay unique.
    #[error("malformed {what}: {extra} trailing bytes after the value")]
    TrailingBytes {
        /// The type being decoded.
        what: &'static str,
        /// How many bytes were left over.
        extra: usize,
    },
}

/// Canonical encoding and decoding, implemented for every serde type.
pub trait Canonical: Serialize + DeserializeOwned {
    /// Encodes the value canonically.
    fn encode(&self) -> Vec<u8> {
        // Serializing our own types into a Vec cannot fail: every type is
        // plain data (no maps with non-string keys, no custom failing impls).
        postcard::to_stdvec(self).unwrap_or_default()
    }

    /// Decodes a value, refusing trailing bytes.
    fn decode(bytes: &[u8]) -> Result<Self, EncodingError> {
        let what = std::any::type_name::<Self>()
            .rsplit("::")
            .next()
            .unwrap_or("value");
        let (value, rest) =
            postcard::take_from_bytes(bytes).map_err(|e| EncodingError::Malformed {
                what,
                reason: e.to_string(),
            })?;
        if !rest.is_empty() {
            return Err(EncodingError::TrailingBytes {
                what,
                extra: rest.len(),
            });
        }
        Ok(value)
    }
}

impl<T: Serialize + DeserializeOwned> Canonical for T {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block::{Block, BlockHeader, BlockMetadata};
    use crate::ids::Timestamp;
    use crate::validation::ValidationCode;

    fn block() -> Block {
        Block {
            header: BlockHeader {
                channel: "c".into(),
                number: 7,
                previous_hash: cairn_crypto::sha256(b"p"),
                data_hash: cairn_crypto::sha256(b"d"),
                timestamp: Timestamp {
                    seconds: -5,
                    nanos: 9,
                },
                tree_size: 3,
                tree_root: cairn_crypto::sha256(b"r"),
            },
            data: vec![vec![1, 2, 3], vec![]],
            metadata: BlockMetadata {
                validation_codes: vec![ValidationCode::Valid, ValidationCode::MvccReadConflict],
                signatures: vec![],
                last_config: 0,
            },
        }
    }

    #[test]
    fn round_trips_and_refuses_trailing_bytes() {
        let b = block();
        let bytes = b.encode();
        assert_eq!(Block::decode(&bytes).unwrap(), b);
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(matches!(
            Block::decode(&longer),
            Err(EncodingError::TrailingBytes { extra: 1, .. })
        ));
        assert!(Block::decode(&bytes[..bytes.len() - 1]).is_err());
    }

    #[test]
    fn validation_codes_encode_as_fabric_numbers() {
        assert_eq!(ValidationCode::MvccReadConflict.encode(), vec![11]);
        assert_eq!(ValidationCode::InvalidOtherReason.encode(), vec![255]);
        for c in ValidationCode::ALL {
            assert_eq!(ValidationCode::decode(&c.encode()).unwrap(), c);
            assert_eq!(c.name().parse::<ValidationCode>().unwrap(), c);
        }
        assert!(
            ValidationCode::decode(&[7]).is_err(),
            "7 is not a Fabric code we use"
        );
    }

    #[test]
    fn json_uses_hex_for_bytes() {
        let j = serde_json::to_value(block()).unwrap();
        assert_eq!(j["data"][0], "010203");
        assert_eq!(j["metadata"]["validation_codes"][1], 11);
    }
}
