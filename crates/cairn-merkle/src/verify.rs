//! Proof verification with no store: RFC 9162 §2.1.3.2 (inclusion) and §2.1.4.2 (consistency).
//!
//! The loops are the RFC's algorithms step for step. Before running them, the proof length
//! is compared with the one the sizes imply, only to name the failure precisely: the RFC
//! loops reject every proof of the wrong length on their own.

use crate::hash::{Hash, node_hash};

/// Why a proof did not verify.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// A consistency proof starts from the empty tree.
    #[error(
        "a consistency proof from an empty tree (old size 0) is meaningless and is rejected; start from a non-empty tree head"
    )]
    EmptyOldTree,
    /// Two tree heads of the same size have different roots.
    #[error(
        "two tree heads of the same size have different roots: the log presented two different histories"
    )]
    EqualSizeRootsDiffer,
    /// The leaf index is not inside the tree.
    #[error("leaf index {index} is outside a tree of size {size}")]
    IndexOutOfRange {
        /// Claimed leaf index.
        index: u64,
        /// Claimed tree size.
        size: u64,
    },
    /// The consistency proof does not lead to the new tree head.
    #[error(
        "the consistency proof does not lead to the new root: the new tree does not extend the old one, or the proof is corrupt"
    )]
    NewRootMismatch,
    /// The consistency proof does not lead back to the old tree head.
    #[error(
        "the consistency proof does not lead to the old root: the old tree head is not a prefix of this log, or the proof is corrupt"
    )]
    OldRootMismatch,
    /// The old size of a consistency proof is larger than the new size.
    #[error("old tree size {old_size} is larger than new tree size {new_size}; a tree only grows")]
    OldSizeExceedsNewSize {
        /// Claimed older size.
        old_size: u64,
        /// Claimed newer size.
        new_size: u64,
    },
    /// The inclusion proof leads to a different root.
    #[error(
        "the inclusion proof leads to root {computed}, not the expected {expected}: the leaf is not at this index of this tree, or the proof is corrupt"
    )]
    RootMismatch {
        /// Root the leaf and path hash to.
        computed: Hash,
        /// Root the proof was checked against.
        expected: Hash,
    },
    /// The proof has the wrong number of hashes for the claimed sizes.
    #[error("the proof has {actual} hashes but these tree sizes need exactly {expected}")]
    WrongProofLength {
        /// Number of hashes the sizes require.
        expected: usize,
        /// Number of hashes supplied.
        actual: usize,
    },
}

/// Checks that `leaf` is at `index` in the tree of `size` leaves whose root is `root`.
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    path: &[Hash],
    root: &Hash,
) -> Result<(), VerifyError> {
    let computed = root_from_inclusion(leaf, index, size, path)?;
    if computed == *root {
        Ok(())
    } else {
        Err(VerifyError::RootMismatch {
            computed,
            expected: *root,
        })
    }
}

/// The root that `leaf` at `index` and `path` imply for a tree of `size` leaves
/// (RFC 9162 §2.1.3.2 steps 1–4).
pub fn root_from_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    path: &[Hash],
) -> Result<Hash, VerifyError> {
    // Step 1.
    if index >= size {
        return Err(VerifyError::IndexOutOfRange { index, size });
    }
    let expected = inclusion_path_len(index, size - 1);
    let wrong_length = VerifyError::WrongProofLength {
        expected,
        actual: path.len(),
    };
    if path.len() != expected {
        return Err(wrong_length);
    }
    // Steps 2–4.
    let mut f = index;
    let mut s = size - 1;
    let mut r = *leaf;
    for p in path {
        if s == 0 {
            return Err(wrong_length);
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    // Step 5 (first half); the caller compares the root.
    if s != 0 {
        return Err(wrong_length);
    }
    Ok(r)
}

/// Checks that the tree of `new_size` leaves with `new_root` extends the tree of `old_size`
/// leaves with `old_root` (RFC 9162 §2.1.4.2).
///
/// Equal sizes need an empty proof and equal roots. A proof from size 0 is always rejected
/// (transparency-dev/merkle does the same since 2026): it would prove nothing, and accepting
/// it lets a caller skip the check by claiming an empty old tree.
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    path: &[Hash],
) -> Result<(), VerifyError> {
    if old_size > new_size {
        return Err(VerifyError::OldSizeExceedsNewSize { old_size, new_size });
    }
    if old_size == 0 {
        return Err(VerifyError::EmptyOldTree);
    }
    if old_size == new_size {
        if !path.is_empty() {
            return Err(VerifyError::WrongProofLength {
                expected: 0,
                actual: path.len(),
            });
        }
        if old_root != new_root {
            return Err(VerifyError::EqualSizeRootsDiffer);
        }
        return Ok(());
    }
    let expected = consistency_path_len(old_size, new_size);
    let wrong_length = VerifyError::WrongProofLength {
        expected,
        actual: path.len(),
    };
    // Step 1 (an empty path has the wrong length for any old_size < new_size).
    if path.len() != expected {
        return Err(wrong_length);
    }
    // Step 2: when the old tree is a perfect subtree, its root starts the path.
    let (seed, rest) = if old_size.is_power_of_two() {
        (old_root, path)
    } else {
        match path.split_first() {
            Some(split) => split,
            None => return Err(wrong_length),
        }
    };
    // Steps 3–4.
    let mut f = old_size - 1;
    let mut s = new_size - 1;
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    // Steps 5–6.
    let mut fr = *seed;
    let mut sr = *seed;
    for c in rest {
        if s == 0 {
            return Err(wrong_length);
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    // Step 7.
    if s != 0 {
        return Err(wrong_length);
    }
    if fr != *old_root {
        return Err(VerifyError::OldRootMismatch);
    }
    if sr != *new_root {
        return Err(VerifyError::NewRootMismatch);
    }
    Ok(())
}

/// Number of hashes in the inclusion path of node `index` when the last node of its level
/// is `last` (`index <= last`): one per level where the two still differ, plus one per odd
/// ancestor once they have merged into the right edge.
pub(crate) fn inclusion_path_len(index: u64, last: u64) -> usize {
    let inner = u64::BITS - (index ^ last).leading_zeros();
    let border = index.checked_shr(inner).unwrap_or(0).count_ones();
    (inner + border) as usize
}

/// Number of hashes in a consistency proof for `0 < old_size < new_size`.
pub(crate) fn consistency_path_len(old_size: u64, new_size: u64) -> usize {
    let level = old_size.trailing_zeros();
    let node = (old_size - 1) >> level;
    let seed = usize::from(node != 0);
    seed + inclusion_path_len(node, (new_size - 1) >> level)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::*;
    use crate::hash::leaf_hash;

    #[test]
    fn path_lengths_match_rfc_examples() {
        // RFC 9162 §2.1.5 example tree of 7 leaves (a..g).
        assert_eq!(inclusion_path_len(0, 6), 3);
        assert_eq!(inclusion_path_len(3, 6), 3);
        assert_eq!(inclusion_path_len(4, 6), 3);
        assert_eq!(inclusion_path_len(6, 6), 2);
        assert_eq!(inclusion_path_len(0, 0), 0);
        assert_eq!(consistency_path_len(3, 7), 4);
        assert_eq!(consistency_path_len(4, 7), 1);
        assert_eq!(consistency_path_len(6, 7), 3);
        assert_eq!(consistency_path_len(1, 2), 1);
        assert_eq!(inclusion_path_len(0, u64::MAX), 64);
    }

    #[test]
    fn four_leaf_consistency_by_hand() {
        let [a, b, c, d] = [b"a", b"b", b"c", b"d"].map(|x| leaf_hash(x));
        let ab = node_hash(&a, &b);
        let old_root = node_hash(&ab, &c);
        let new_root = node_hash(&ab, &node_hash(&c, &d));
        let path = [c, d, ab];
        assert_eq!(
            verify_consistency(3, 4, &old_root, &new_root, &path),
            Ok(())
        );
        assert_eq!(
            verify_consistency(3, 4, &new_root, &new_root, &path),
            Err(VerifyError::OldRootMismatch)
        );
        assert_eq!(
            verify_consistency(3, 4, &old_root, &old_root, &path),
            Err(VerifyError::NewRootMismatch)
        );
    }

    #[test]
    fn two_leaf_tree_by_hand() {
        let (a, b) = (leaf_hash(b"a"), leaf_hash(b"b"));
        let root = node_hash(&a, &b);
        assert_eq!(verify_inclusion(&a, 0, 2, &[b], &root), Ok(()));
        assert_eq!(verify_inclusion(&b, 1, 2, &[a], &root), Ok(()));
        assert_eq!(
            verify_inclusion(&a, 1, 2, &[b], &root),
            Err(VerifyError::RootMismatch {
                computed: node_hash(&b, &a),
                expected: root
            })
        );
        assert_eq!(
            verify_inclusion(&a, 2, 2, &[b], &root),
            Err(VerifyError::IndexOutOfRange { index: 2, size: 2 })
        );
        assert_eq!(
            verify_inclusion(&a, 0, 2, &[], &root),
            Err(VerifyError::WrongProofLength {
                expected: 1,
                actual: 0
            })
        );
        assert_eq!(verify_consistency(1, 2, &a, &root, &[b]), Ok(()));
        // With a power-of-two old size the old root seeds the path, so a wrong old root
        // shows up as a wrong new root.
        assert_eq!(
            verify_consistency(1, 2, &b, &root, &[b]),
            Err(VerifyError::NewRootMismatch)
        );
        assert_eq!(
            verify_consistency(1, 2, &a, &a, &[b]),
            Err(VerifyError::NewRootMismatch)
        );
        assert_eq!(
            verify_consistency(2, 2, &a, &root, &[]),
            Err(VerifyError::EqualSizeRootsDiffer)
        );
        assert_eq!(
            verify_consistency(0, 2, &a, &root, &[b]),
            Err(VerifyError::EmptyOldTree)
        );
        assert_eq!(
            verify_consistency(3, 2, &a, &root, &[b]),
            Err(VerifyError::OldSizeExceedsNewSize {
                old_size: 3,
                new_size: 2
            })
        );
    }
}
