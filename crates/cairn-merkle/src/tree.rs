//! Store-backed tree operations: append, tree heads and proofs for any past size.
//!
//! Every function reads complete-subtree nodes through a [`NodeStore`] and never writes:
//! [`append`] returns the nodes to persist so the caller can write them in the same
//! database transaction as the entries themselves.
//!
//! A subtree that RFC 9162 needs but that is not complete (it ends at the tree's right
//! edge) always starts on a boundary aligned to its own width, so it is the fold of the
//! complete subtrees named by the binary digits of its length, largest first; see
//! [`edge_hash`].

use crate::hash::{Hash, empty_root, node_hash};
use crate::proof::{ConsistencyProof, InclusionProof};
use crate::store::{Node, NodeStore};
use crate::verify::{consistency_path_len, inclusion_path_len};

/// Why a tree operation on a store failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TreeError<E> {
    /// A consistency proof from the empty tree was asked for.
    #[error(
        "no consistency proof exists from an empty tree (old size 0); every tree extends it, so there is nothing to prove"
    )]
    EmptyOldTree,
    /// The leaf index is not inside the tree.
    #[error("leaf index {index} is outside a tree of size {size}")]
    IndexOutOfRange {
        /// Requested leaf index.
        index: u64,
        /// Tree size the proof was asked for.
        size: u64,
    },
    /// The store lacks a node that a tree of the requested size must have.
    #[error(
        "the node store has no node ({level}, {index}): the requested size is beyond the stored tree, or the store lost nodes written by append"
    )]
    MissingNode {
        /// Level of the missing node.
        level: u8,
        /// Index of the missing node.
        index: u64,
    },
    /// The old size of a consistency proof is larger than the new size.
    #[error("old tree size {old_size} is larger than new tree size {new_size}; a tree only grows")]
    OldSizeExceedsNewSize {
        /// Size of the older tree head.
        old_size: u64,
        /// Size of the newer tree head.
        new_size: u64,
    },
    /// Appending would overflow the 64-bit leaf count.
    #[error("appending {added} leaves to a tree of {size} would overflow the 64-bit tree size")]
    SizeOverflow {
        /// Current tree size.
        size: u64,
        /// Number of leaves being appended.
        added: u64,
    },
    /// The node store itself failed.
    #[error("node store read failed: {0}")]
    Store(#[source] E),
}

/// Appends one leaf to a tree of `size` leaves.
///
/// Returns the nodes that become complete, to be written by the caller: the leaf at
/// `(0, size)` first, then each parent it completes, bottom up. Reads one stored left
/// sibling per completed parent (one on average).
pub fn append<S>(store: &S, size: u64, leaf: Hash) -> Result<Vec<Node>, TreeError<S::Error>>
where
    S: NodeStore + ?Sized,
{
    append_batch(store, size, &[leaf])
}

/// Appends several leaves, in order, to a tree of `size` leaves.
///
/// Returns every node that becomes complete, each level's nodes in index order, as if
/// [`append`] had been called per leaf with its nodes written in between; the store is only
/// read for left siblings that existed before the batch.
pub fn append_batch<S>(
    store: &S,
    size: u64,
    leaves: &[Hash],
) -> Result<Vec<Node>, TreeError<S::Error>>
where
    S: NodeStore + ?Sized,
{
    let added = u64::try_from(leaves.len()).unwrap_or(u64::MAX);
    if size.checked_add(added).is_none() {
        return Err(TreeError::SizeOverflow { size, added });
    }
    let mut nodes = Vec::with_capacity(leaves.len().saturating_mul(2));
    // The newest node built at each level in this batch: a left sibling is either that node
    // or one that was complete before the batch and so is in the store.
    let mut newest: [Option<(u64, Hash)>; 64] = [None; 64];
    for (index, leaf) in (size..).zip(leaves) {
        let mut level: u8 = 0;
        let mut index = index;
        let mut hash = *leaf;
        loop {
            let slot = usize::from(level);
            let left = if index & 1 == 1 {
                let sibling = index - 1;
                match newest[slot] {
                    Some((built, left)) if built == sibling => Some(left),
                    _ => Some(read(store, level, sibling)?),
                }
            } else {
                None
            };
            newest[slot] = Some((index, hash));
            nodes.push(Node { level, index, hash });
            let Some(left) = left else { break };
            // An odd index at level L means the size is at least 2^(L+1), and sizes are
            // below 2^64, so the parent level is at most 63 and `newest` has its slot.
            hash = node_hash(&left, &hash);
            index >>= 1;
            level += 1;
        }
    }
    Ok(nodes)
}

/// The tree head (RFC 9162 MTH) of the first `size` leaves; any size up to the stored one.
///
/// Reads one node per set bit of `size`.
pub fn root<S>(store: &S, size: u64) -> Result<Hash, TreeError<S::Error>>
where
    S: NodeStore + ?Sized,
{
    if size == 0 {
        return Ok(empty_root());
    }
    edge_hash(store, 0, size)
}

/// The RFC 9162 §2.1.3.1 inclusion proof (PATH) of leaf `index` in the tree of `size` leaves.
///
/// `size` may be any past size of the stored tree. Reads at most 2·log2(size) nodes.
pub fn inclusion_proof<S>(
    store: &S,
    index: u64,
    size: u64,
) -> Result<InclusionProof, TreeError<S::Error>>
where
    S: NodeStore + ?Sized,
{
    if index >= size {
        return Err(TreeError::IndexOutOfRange { index, size });
    }
    let mut path = Vec::with_capacity(inclusion_path_len(index, size - 1));
    sibling_path(store, 0, index, size, &mut path)?;
    Ok(InclusionProof { index, size, path })
}

/// The RFC 9162 §2.1.4.1 consistency proof (SUBPROOF) from `old_size` to `new_size`.
///
/// Both sizes may be any past sizes of the stored tree; equal sizes give an empty proof.
/// Reads at most 2·log2(new_size) + 1 nodes.
pub fn consistency_proof<S>(
    store: &S,
    old_size: u64,
    new_size: u64,
) -> Result<ConsistencyProof, TreeError<S::Error>>
where
    S: NodeStore + ?Sized,
{
    if old_size > new_size {
        return Err(TreeError::OldSizeExceedsNewSize { old_size, new_size });
    }
    if old_size == 0 {
        return Err(TreeError::EmptyOldTree);
    }
    let mut path = Vec::new();
    if old_size < new_size {
        path.reserve_exact(consistency_path_len(old_size, new_size));
        // The old tree's rightmost complete subtree is a node of the new tree too; the proof
        // is that node (unless it is the whole old tree, whose root the verifier has) and
        // then its inclusion path in the new tree.
        let level = old_size.trailing_zeros();
        let node = (old_size - 1) >> level;
        let level = level_u8(level);
        if node != 0 {
            path.push(read(store, level, node)?);
        }
        sibling_path(store, level, node, new_size, &mut path)?;
    }
    Ok(ConsistencyProof {
        old_size,
        new_size,
        path,
    })
}

/// Pushes the hashes of the siblings on the way from node `(level, index)` up to the root
/// of the tree of `size` leaves, skipping levels where the node has no sibling (RFC 9162
/// trees are unbalanced on the right). The node must be complete in that tree.
fn sibling_path<S>(
    store: &S,
    level: u8,
    index: u64,
    size: u64,
    path: &mut Vec<Hash>,
) -> Result<(), TreeError<S::Error>>
where
    S: NodeStore + ?Sized,
{
    let last = (size - 1) >> level;
    // Below `inner` the node and the last leaf's ancestor differ, so each sibling is
    // complete, except the top one: it holds the last leaf and may be cut by the edge.
    let inner = u64::BITS - (index ^ last).leading_zeros();
    for step in 0..inner {
        let sibling_level = level_u8(u32::from(level) + step);
        let sibling = (index >> step) ^ 1;
        let hash = if step + 1 == inner {
            edge_hash(store, sibling << sibling_level, size)?
        } else {
            read(store, sibling_level, sibling)?
        };
        path.push(hash);
    }
    // From `inner` up, the node is on the right edge: it has a sibling (a complete one, on
    // its left) exactly where its index is odd.
    for step in inner..(u64::BITS - u32::from(level)) {
        let ancestor = index >> step;
        if ancestor & 1 == 1 {
            let sibling_level = level_u8(u32::from(level) + step);
            path.push(read(store, sibling_level, ancestor ^ 1)?);
        }
    }
    Ok(())
}

/// MTH of leaves `[start, end)` where `start` is a multiple of a power of two that is at
/// least `end - start` (a node of the tree of size `end`, maybe cut by its right edge).
///
/// Folds, right to left, the complete subtrees given by the set bits of `end - start`:
/// iterating bits from low to high visits them in exactly that order, without a buffer.
fn edge_hash<S>(store: &S, start: u64, end: u64) -> Result<Hash, TreeError<S::Error>>
where
    S: NodeStore + ?Sized,
{
    let width = end - start;
    let mut folded: Option<Hash> = None;
    for bit in 0..u64::BITS {
        if (width >> bit) & 1 == 0 {
            continue;
        }
        // Larger parts come first, so this part starts after all higher bits of `width`.
        let before = width & !(u64::MAX >> (63 - bit));
        let part = read(store, level_u8(bit), (start + before) >> bit)?;
        folded = Some(match folded {
            None => part,
            Some(right) => node_hash(&part, &right),
        });
    }
    Ok(folded.unwrap_or_else(empty_root))
}

/// Reads a node that must be present.
fn read<S>(store: &S, level: u8, index: u64) -> Result<Hash, TreeError<S::Error>>
where
    S: NodeStore + ?Sized,
{
    store
        .node(level, index)
        .map_err(TreeError::Store)?
        .ok_or(TreeError::MissingNode { level, index })
}

/// Narrows a level computed from bit positions of a `u64`, which never exceed 63.
fn level_u8(level: u32) -> u8 {
    u8::try_from(level).unwrap_or(u8::MAX)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::*;
    use crate::hash::leaf_hash;
    use crate::store::MemoryStore;

    fn store(n: u64) -> MemoryStore {
        MemoryStore::from_leaves((0..n).map(|i| leaf_hash(&i.to_le_bytes())))
    }

    #[test]
    fn append_reports_leaf_then_completed_parents() {
        let s = store(3);
        let leaf = leaf_hash(b"fourth");
        let nodes = append(&s, 3, leaf).unwrap();
        let l = |i: u64| s.node(0, i).unwrap().unwrap();
        let n23 = node_hash(&l(2), &leaf);
        let n03 = node_hash(&s.node(1, 0).unwrap().unwrap(), &n23);
        assert_eq!(
            nodes,
            vec![
                Node {
                    level: 0,
                    index: 3,
                    hash: leaf
                },
                Node {
                    level: 1,
                    index: 1,
                    hash: n23
                },
                Node {
                    level: 2,
                    index: 0,
                    hash: n03
                },
            ]
        );
        assert_eq!(append(&s, 2, leaf).unwrap().len(), 1);
    }

    #[test]
    fn append_batch_matches_single_appends() {
        let base = store(5);
        let extra: Vec<Hash> = (100..111u64).map(|i| leaf_hash(&i.to_le_bytes())).collect();
        let batch = append_batch(&base, 5, &extra).unwrap();
        let mut one_by_one = Vec::new();
        let mut s = base.clone();
        for leaf in &extra {
            let nodes = append(&s, s.size(), *leaf).unwrap();
            for node in &nodes {
                s.insert(*node).unwrap();
            }
            one_by_one.extend(nodes);
        }
        assert_eq!(batch, one_by_one);
        assert_eq!(
            root(&s, 16).unwrap(),
            root(&store_with(&base, &extra), 16).unwrap()
        );
    }

    fn store_with(base: &MemoryStore, extra: &[Hash]) -> MemoryStore {
        let mut s = base.clone();
        s.extend(extra);
        s
    }

    #[test]
    fn append_with_missing_sibling_names_the_node() {
        let s = store(2);
        // Size 3 claims leaf 2 exists, but the store only has two leaves.
        assert_eq!(
            append(&s, 3, leaf_hash(b"x")),
            Err(TreeError::MissingNode { level: 0, index: 2 })
        );
        assert_eq!(
            append_batch(&s, u64::MAX, &[leaf_hash(b"x")]),
            Err(TreeError::SizeOverflow {
                size: u64::MAX,
                added: 1
            })
        );
    }

    #[test]
    fn roots_of_past_sizes_and_beyond() {
        let s = store(7);
        assert_eq!(root(&s, 0).unwrap(), empty_root());
        assert_eq!(root(&s, 1).unwrap(), leaf_hash(&0u64.to_le_bytes()));
        assert_eq!(root(&s, 4).unwrap(), s.node(2, 0).unwrap().unwrap());
        assert_eq!(
            root(&s, 8),
            Err(TreeError::MissingNode { level: 3, index: 0 })
        );
    }

    #[test]
    fn proof_argument_errors() {
        let s = store(4);
        assert_eq!(
            inclusion_proof(&s, 4, 4),
            Err(TreeError::IndexOutOfRange { index: 4, size: 4 })
        );
        assert_eq!(
            inclusion_proof(&s, 0, 0),
            Err(TreeError::IndexOutOfRange { index: 0, size: 0 })
        );
        assert_eq!(consistency_proof(&s, 0, 4), Err(TreeError::EmptyOldTree));
        assert_eq!(
            consistency_proof(&s, 3, 2),
            Err(TreeError::OldSizeExceedsNewSize {
                old_size: 3,
                new_size: 2
            })
        );
        assert!(consistency_proof(&s, 4, 4).unwrap().path.is_empty());
        assert!(matches!(
            inclusion_proof(&s, 0, 5),
            Err(TreeError::MissingNode { .. })
        ));
    }

    #[test]
    fn edge_hash_of_full_width_range_handles_top_bit() {
        // A width with bit 63 set must not overflow the "parts before" arithmetic.
        struct Constant;
        impl NodeStore for Constant {
            type Error = std::convert::Infallible;
            fn node(&self, _: u8, _: u64) -> Result<Option<Hash>, Self::Error> {
                Ok(Some(Hash::new([7; 32])))
            }
        }
        let size = u64::MAX;
        assert!(root(&Constant, size).is_ok());
        let proof = inclusion_proof(&Constant, size - 1, size).unwrap();
        assert_eq!(proof.path.len(), 63);
        let proof = consistency_proof(&Constant, size - 1, size).unwrap();
        assert_eq!(
            proof.path.len(),
            crate::verify::consistency_path_len(size - 1, size)
        );
    }
}
