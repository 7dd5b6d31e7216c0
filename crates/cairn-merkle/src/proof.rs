//! Serializable proofs, as embedded in receipts.

use serde::{Deserialize, Serialize};

use crate::hash::Hash;
use crate::verify::{self, VerifyError};

/// Proof that a leaf is at `index` in the tree of `size` leaves (RFC 9162 §2.1.3).
///
/// `path` lists sibling subtree hashes from the leaf upward.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InclusionProof {
    /// Zero-based position of the leaf.
    pub index: u64,
    /// Size of the tree the proof is for.
    pub size: u64,
    /// Sibling hashes, bottom up.
    pub path: Vec<Hash>,
}

impl InclusionProof {
    /// Checks that `leaf` is at this proof's index in the tree with `root`.
    pub fn verify(&self, leaf: &Hash, root: &Hash) -> Result<(), VerifyError> {
        verify::verify_inclusion(leaf, self.index, self.size, &self.path, root)
    }

    /// The root this proof implies for `leaf`.
    pub fn root(&self, leaf: &Hash) -> Result<Hash, VerifyError> {
        verify::root_from_inclusion(leaf, self.index, self.size, &self.path)
    }
}

/// Proof that the tree of `new_size` leaves extends the tree of `old_size` leaves
/// (RFC 9162 §2.1.4).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyProof {
    /// Size of the older tree.
    pub old_size: u64,
    /// Size of the newer tree.
    pub new_size: u64,
    /// Subtree hashes as produced by RFC 9162 SUBPROOF.
    pub path: Vec<Hash>,
}

impl ConsistencyProof {
    /// Checks that the tree with `new_root` extends the tree with `old_root`.
    pub fn verify(&self, old_root: &Hash, new_root: &Hash) -> Result<(), VerifyError> {
        verify::verify_consistency(self.old_size, self.new_size, old_root, new_root, &self.path)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::*;
    use crate::hash::{leaf_hash, node_hash};

    #[test]
    fn json_shape_is_stable() {
        let (a, b) = (leaf_hash(b"a"), leaf_hash(b"b"));
        let proof = InclusionProof {
            index: 0,
            size: 2,
            path: vec![b],
        };
        let json = serde_json::to_string(&proof).unwrap();
        assert_eq!(json, format!(r#"{{"index":0,"size":2,"path":["{b}"]}}"#));
        let back: InclusionProof = serde_json::from_str(&json).unwrap();
        assert_eq!(back, proof);
        assert_eq!(back.verify(&a, &node_hash(&a, &b)), Ok(()));
        assert_eq!(back.root(&a), Ok(node_hash(&a, &b)));

        let consistency = ConsistencyProof {
            old_size: 1,
            new_size: 2,
            path: vec![b],
        };
        let json = serde_json::to_string(&consistency).unwrap();
        assert_eq!(
            json,
            format!(r#"{{"old_size":1,"new_size":2,"path":["{b}"]}}"#)
        );
        let back: ConsistencyProof = serde_json::from_str(&json).unwrap();
        assert_eq!(back.verify(&a, &node_hash(&a, &b)), Ok(()));
    }

    #[test]
    fn binary_encoding_uses_raw_hash_bytes() {
        let proof = InclusionProof {
            index: 5,
            size: 9,
            path: vec![leaf_hash(b"a"), leaf_hash(b"b")],
        };
        let bytes = postcard::to_allocvec(&proof).unwrap();
        // index, size and path length are one varint byte each, then 32 bytes per hash.
        assert_eq!(bytes.len(), 3 + 2 * 32);
        assert_eq!(&bytes[3..35], leaf_hash(b"a").as_bytes());
        assert_eq!(
            postcard::from_bytes::<InclusionProof>(&bytes).unwrap(),
            proof
        );
    }

    #[test]
    fn json_rejects_bad_hashes_and_unknown_fields() {
        let short = r#"{"index":0,"size":2,"path":["abcd"]}"#;
        assert!(serde_json::from_str::<InclusionProof>(short).is_err());
        let extra = r#"{"index":0,"size":1,"path":[],"leaf":"x"}"#;
        assert!(serde_json::from_str::<InclusionProof>(extra).is_err());
    }
}
