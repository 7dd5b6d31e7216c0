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
//! Invariants:
//! - `decode(encode(x)) == x`;
//! - one form per value: [`Canonical::decode`] accepts exactly the bytes
//!   [`Canonical::encode`] produces, so `encode(decode(b)) == b` for every
//!   accepted `b`. postcard alone is laxer: it reads non-minimal varints
//!   (`80 00` as 0), map entries in any order and with repeated keys, and
//!   digests in uppercase hex. Decoding therefore re-encodes the value and
//!   refuses bytes that differ ([`EncodingError::NonCanonical`]) or trail it
//!   ([`EncodingError::TrailingBytes`]);
//! - encoding never yields empty or partial bytes: a value serde cannot
//!   encode is an error ([`EncodingError::Unencodable`]), which callers pass on;
//! - hashes and signatures are always taken over the stored bytes themselves,
//!   never over a re-encoding, so any change to stored bytes changes the hash.
//!
//! The re-encoding costs one more serialization per decode, compared byte by
//! byte as it is produced without allocating; see `docs/encoding.md` for its
//! measured cost.

use postcard::ser_flavors::Flavor;
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
    /// The bytes decode, but are not the one canonical encoding of the value.
    #[error(
        "non-canonical {what}: byte {offset} differs from the canonical encoding of the \
         decoded value (a non-minimal varint, map keys out of order or repeated, or hex \
         not in lowercase); re-encode it with Cairn's canonical encoding"
    )]
    NonCanonical {
        /// The type being decoded.
        what: &'static str,
        /// Offset of the first byte that differs.
        offset: usize,
    },
    /// Valid encoding followed by extra bytes; refused so encodings stay unique.
    #[error("malformed {what}: {extra} trailing bytes after the value")]
    TrailingBytes {
        /// The type being decoded.
        what: &'static str,
        /// How many bytes were left over.
        extra: usize,
    },
    /// The value has no encoding (its serde implementation failed).
    #[error("cannot encode {what}: {reason}")]
    Unencodable {
        /// The type being encoded.
        what: &'static str,
        /// What postcard reported.
        reason: String,
    },
}

/// Canonical encoding and decoding, implemented for every serde type.
pub trait Canonical: Serialize + DeserializeOwned {
    /// Encodes the value canonically; fails only if the value's serde
    /// implementation reports an error (none of the ledger's types does).
    fn encode(&self) -> Result<Vec<u8>, EncodingError> {
        cairn_counters::inc(cairn_counters::Counter::Encode);
        postcard::to_stdvec(self).map_err(|e| EncodingError::Unencodable {
            what: type_label::<Self>(),
            reason: e.to_string(),
        })
    }

    /// Decodes a value, refusing trailing bytes and any byte string that is
    /// not the value's canonical encoding.
    fn decode(bytes: &[u8]) -> Result<Self, EncodingError> {
        cairn_counters::inc(cairn_counters::Counter::Decode);
        let what = type_label::<Self>();
        let (value, rest) =
            postcard::take_from_bytes::<Self>(bytes).map_err(|e| EncodingError::Malformed {
                what,
                reason: decode_reason(&e),
            })?;
        if !rest.is_empty() {
            return Err(EncodingError::TrailingBytes {
                what,
                extra: rest.len(),
            });
        }
        check_canonical(&value, bytes, what)?;
        Ok(value)
    }
}

impl<T: Serialize + DeserializeOwned> Canonical for T {}

/// The last path segment of `T`'s name, for error messages.
fn type_label<T>() -> &'static str {
    std::any::type_name::<T>()
        .rsplit("::")
        .next()
        .unwrap_or("value")
}

/// postcard's message, made specific where it is only "Serde Deserialization
/// Error": that is a type refusing a value that is not in its one form.
fn decode_reason(e: &postcard::Error) -> String {
    match e {
        postcard::Error::SerdeDeCustom => "a value is outside its one accepted form (e.g. a \
            digest not written as 64 lowercase hex digits, or timestamp nanos of a second \
            or more)"
            .to_string(),
        other => other.to_string(),
    }
}

/// Refuses `bytes` unless they are exactly the encoding of `value`.
fn check_canonical<T: Serialize>(
    value: &T,
    bytes: &[u8],
    what: &'static str,
) -> Result<(), EncodingError> {
    let mut progress = Progress::default();
    let compared = postcard::serialize_with_flavor(
        value,
        Compare {
            expected: bytes,
            progress: &mut progress,
        },
    );
    if let Some(offset) = progress.mismatch {
        return Err(EncodingError::NonCanonical { what, offset });
    }
    if let Err(e) = compared {
        return Err(EncodingError::Unencodable {
            what,
            reason: e.to_string(),
        });
    }
    if progress.matched != bytes.len() {
        // The canonical encoding is a strict prefix of the input.
        return Err(EncodingError::NonCanonical {
            what,
            offset: progress.matched,
        });
    }
    Ok(())
}

/// How far a re-encoding matched the input, and where it first differed.
#[derive(Default)]
struct Progress {
    matched: usize,
    mismatch: Option<usize>,
}

/// A postcard output that compares each byte with the expected bytes
/// instead of storing it, and stops at the first difference.
struct Compare<'a> {
    expected: &'a [u8],
    progress: &'a mut Progress,
}

impl Flavor for Compare<'_> {
    type Output = ();

    fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
        let at = self.progress.matched;
        let have = self.expected.get(at..).unwrap_or_default();
        // The common case, and a memcmp: byte strings arrive here whole.
        if have.starts_with(data) {
            self.progress.matched += data.len();
            return Ok(());
        }
        let differs = data
            .iter()
            .zip(have)
            .position(|(a, b)| a != b)
            .unwrap_or(have.len());
        self.progress.mismatch = Some(at + differs);
        // Any error stops the serializer; `mismatch` says it was ours.
        Err(postcard::Error::SerializeBufferFull)
    }

    fn try_push(&mut self, byte: u8) -> postcard::Result<()> {
        self.try_extend(&[byte])
    }

    fn finalize(self) -> postcard::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::block::{Block, BlockHeader, BlockMetadata};
    use crate::ids::{Timestamp, TxId, Version};
    use crate::tx::{Invocation, Proposal, TxHeader};
    use crate::validation::ValidationCode;

    fn proposal() -> Proposal {
        Proposal {
            header: TxHeader {
                channel: "c".into(),
                txid: TxId(cairn_crypto::sha256(b"t")),
                creator: vec![9],
                nonce: vec![8],
                timestamp: Timestamp::default(),
            },
            invocation: Invocation {
                contract: "k".into(),
                function: "f".into(),
                args: vec![],
                is_init: false,
            },
            transient: BTreeMap::new(),
        }
    }

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
        let bytes = b.encode().unwrap();
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
    fn non_minimal_varints_are_refused() {
        let v = Version { block: 7, tx: 1 };
        assert_eq!(v.encode().unwrap(), vec![7, 1]);
        assert_eq!(Version::decode(&[7, 1]).unwrap(), v);
        // postcard reads `87 00` as 7 too: a second encoding of the same value.
        let e = Version::decode(&[0x87, 0x00, 1]).unwrap_err();
        assert!(
            matches!(e, EncodingError::NonCanonical { offset: 0, .. }),
            "{e}"
        );
        assert!(e.to_string().contains("non-minimal varint"), "{e}");
        // In the second field, the offset names the differing byte.
        let e = Version::decode(&[7, 0x81, 0x80, 0x00]).unwrap_err();
        assert!(
            matches!(e, EncodingError::NonCanonical { offset: 1, .. }),
            "{e}"
        );
    }

    #[test]
    fn maps_must_be_sorted_without_repeated_keys() {
        let map: BTreeMap<String, String> = [
            ("a".to_string(), "y".to_string()),
            ("b".to_string(), "x".to_string()),
        ]
        .into();
        let sorted = map.encode().unwrap();
        assert_eq!(sorted, b"\x02\x01a\x01y\x01b\x01x");
        assert_eq!(BTreeMap::<String, String>::decode(&sorted).unwrap(), map);
        // The same entries in the other order decode to the same map.
        let unsorted = b"\x02\x01b\x01x\x01a\x01y";
        let e = BTreeMap::<String, String>::decode(unsorted).unwrap_err();
        assert!(matches!(e, EncodingError::NonCanonical { .. }), "{e}");
        // A repeated key: postcard keeps the last value, a one-entry map.
        let repeated = b"\x02\x01a\x01x\x01a\x01y";
        let e = BTreeMap::<String, String>::decode(repeated).unwrap_err();
        assert!(matches!(e, EncodingError::NonCanonical { .. }), "{e}");
        // Nested in a ledger structure: a proposal's transient map.
        let mut p = proposal();
        p.transient = [("a".to_string(), vec![1]), ("b".to_string(), vec![2])].into();
        let bytes = p.encode().unwrap();
        assert_eq!(Proposal::decode(&bytes).unwrap(), p);
        let tail = b"\x02\x01a\x01\x01\x01b\x01\x02";
        assert!(bytes.ends_with(tail));
        let mut swapped = bytes[..bytes.len() - tail.len()].to_vec();
        swapped.extend_from_slice(b"\x02\x01b\x01\x02\x01a\x01\x01");
        assert!(matches!(
            Proposal::decode(&swapped),
            Err(EncodingError::NonCanonical { .. })
        ));
    }

    #[test]
    fn digests_in_uppercase_are_refused() {
        let id = TxId(cairn_crypto::sha256(b"x"));
        let bytes = id.encode().unwrap();
        assert_eq!(bytes[0], 64);
        assert_eq!(&bytes[1..], id.to_string().as_bytes());
        assert_eq!(TxId::decode(&bytes).unwrap(), id);
        let mut upper = bytes.clone();
        upper[1..].make_ascii_uppercase();
        assert_ne!(upper, bytes, "the digest has letters to uppercase");
        let e = TxId::decode(&upper).unwrap_err().to_string();
        assert!(e.contains("lowercase hex"), "{e}");
    }

    #[test]
    fn validation_codes_encode_as_fabric_numbers() {
        assert_eq!(ValidationCode::MvccReadConflict.encode().unwrap(), vec![11]);
        assert_eq!(
            ValidationCode::InvalidOtherReason.encode().unwrap(),
            vec![255]
        );
        for c in ValidationCode::ALL {
            assert_eq!(ValidationCode::decode(&c.encode().unwrap()).unwrap(), c);
            assert_eq!(c.name().parse::<ValidationCode>().unwrap(), c);
        }
        assert!(
            ValidationCode::decode(&[7]).is_err(),
            "7 is not a Fabric code we use"
        );
    }

    /// The bytes listed under `<!-- encoded-example: TxHeader -->` in
    /// `docs/encoding.md`: hex pairs before each line's `#` comment.
    fn documented_example() -> Vec<u8> {
        let doc = include_str!("../../../docs/encoding.md");
        let (_, after) = doc
            .split_once("<!-- encoded-example: TxHeader -->\n```text\n")
            .expect("docs/encoding.md has the example");
        let (block, _) = after.split_once("```").expect("the example block ends");
        block
            .lines()
            .flat_map(|line| line.split('#').next().unwrap_or("").split_whitespace())
            .map(|pair| u8::from_str_radix(pair, 16).expect("a hex byte"))
            .collect()
    }

    #[test]
    fn documented_example_matches_the_bytes() {
        let header = TxHeader {
            channel: "ch".into(),
            txid: TxId(cairn_crypto::sha256(b"")),
            creator: vec![0xc1],
            nonce: vec![1, 2],
            timestamp: Timestamp {
                seconds: -1,
                nanos: 300,
            },
        };
        let documented = documented_example();
        assert_eq!(documented.len(), 76, "the doc says 76 bytes");
        assert_eq!(header.encode().unwrap(), documented);
        assert_eq!(TxHeader::decode(&documented).unwrap(), header);
    }

    /// A value whose serde implementation always fails.
    #[derive(Debug, serde::Deserialize)]
    struct Refuses;

    impl Serialize for Refuses {
        fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
            Err(serde::ser::Error::custom("this value has no encoding"))
        }
    }

    #[test]
    fn an_encoding_failure_is_an_error_not_empty_bytes() {
        // It used to be `unwrap_or_default()`: empty bytes, hashed and signed
        // as if they were the value.
        let e = Refuses.encode().unwrap_err();
        assert!(
            matches!(
                e,
                EncodingError::Unencodable {
                    what: "Refuses",
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().starts_with("cannot encode Refuses"), "{e}");
        // Positive control: a value that can be encoded is.
        assert_eq!(Version { block: 1, tx: 2 }.encode().unwrap(), vec![1, 2]);
    }

    #[test]
    fn json_uses_hex_for_bytes() {
        let j = serde_json::to_value(block()).unwrap();
        assert_eq!(j["data"][0], "010203");
        assert_eq!(j["metadata"]["validation_codes"][1], 11);
    }
}
