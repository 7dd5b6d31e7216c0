//! Where complete-subtree hashes live: the [`NodeStore`] trait and an in-memory [`MemoryStore`].

use std::convert::Infallible;

use crate::hash::Hash;
use crate::tree::{self, TreeError};

/// A complete-subtree hash: node `(level, index)` is the Merkle tree hash of leaves
/// `[index * 2^level, (index + 1) * 2^level)`; level 0 holds the leaf hashes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Node {
    /// Height above the leaves (0 = leaf).
    pub level: u8,
    /// Position among the nodes of this level, counted from the left.
    pub index: u64,
    /// Merkle tree hash of the subtree's leaves.
    pub hash: Hash,
}

/// Read access to the complete-subtree hashes of one append-only tree.
///
/// A store that holds a tree of size `n` must hold every node whose leaf range ends at or
/// before `n`, and nothing else needs to be there. Implementations answer `Ok(None)` for an
/// absent node; the tree functions turn that into [`TreeError::MissingNode`].
pub trait NodeStore {
    /// Failure of the underlying storage (I/O, corruption, closed transaction...).
    type Error: std::error::Error + Send + Sync + 'static;

    /// The hash of complete subtree `(level, index)`, or `None` if it is not stored.
    fn node(&self, level: u8, index: u64) -> Result<Option<Hash>, Self::Error>;
}

impl<S> NodeStore for &S
where
    S: NodeStore + ?Sized,
{
    type Error = S::Error;

    fn node(&self, level: u8, index: u64) -> Result<Option<Hash>, Self::Error> {
        (**self).node(level, index)
    }
}

/// An in-memory [`NodeStore`]: one vector of hashes per level.
///
/// Used by tests, benches and tools that rebuild a tree from its leaves; the ledger keeps
/// the same nodes in its database.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemoryStore {
    levels: Vec<Vec<Hash>>,
}

impl MemoryStore {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// A tree holding the given leaf hashes, in order.
    pub fn from_leaves<I>(leaves: I) -> Self
    where
        I: IntoIterator<Item = Hash>,
    {
        let mut store = Self::new();
        let leaves: Vec<Hash> = leaves.into_iter().collect();
        store.extend(&leaves);
        store
    }

    /// Number of leaves in the tree.
    pub fn size(&self) -> u64 {
        self.levels.first().map_or(0, |leaves| leaves.len() as u64)
    }

    /// Appends one leaf hash and every node it completes; returns the leaf's index.
    pub fn push(&mut self, leaf: Hash) -> u64 {
        let index = self.size();
        self.extend(&[leaf]);
        index
    }

    /// Appends leaf hashes in order, with every node they complete.
    pub fn extend(&mut self, leaves: &[Hash]) {
        let size = self.size();
        let nodes = match tree::append_batch(&*self, size, leaves) {
            Ok(nodes) => nodes,
            // A MemoryStore only ever grows through this method, so every left sibling that
            // append_batch reads is present and its store error is uninhabited.
            Err(TreeError::Store(never)) => match never {},
            Err(error) => unreachable!("MemoryStore lost its own nodes: {error}"),
        };
        for node in nodes {
            // append_batch emits nodes of each level in index order, starting right after
            // the last stored one, so a plain push keeps `levels[l][i]` = node (l, i).
            let level = usize::from(node.level);
            if self.levels.len() <= level {
                self.levels.resize_with(level + 1, Vec::new);
            }
            self.levels[level].push(node.hash);
        }
    }

    /// Stores one node written by a caller that runs [`append`](crate::append) itself.
    ///
    /// Nodes of a level must arrive in index order; rewriting a node with the same hash is
    /// accepted (an idempotent replay), any other rewrite or gap is refused.
    pub fn insert(&mut self, node: Node) -> Result<(), MemoryStoreError> {
        let level = usize::from(node.level);
        if self.levels.len() <= level {
            self.levels.resize_with(level + 1, Vec::new);
        }
        let nodes = &mut self.levels[level];
        let next = nodes.len() as u64;
        match node.index.cmp(&next) {
            std::cmp::Ordering::Equal => {
                nodes.push(node.hash);
                Ok(())
            }
            std::cmp::Ordering::Less => {
                let stored = usize::try_from(node.index)
                    .ok()
                    .and_then(|i| nodes.get(i).copied());
                if stored == Some(node.hash) {
                    Ok(())
                } else {
                    Err(MemoryStoreError::Conflict {
                        level: node.level,
                        index: node.index,
                    })
                }
            }
            std::cmp::Ordering::Greater => Err(MemoryStoreError::Gap {
                level: node.level,
                index: node.index,
                next,
            }),
        }
    }
}

impl NodeStore for MemoryStore {
    type Error = Infallible;

    fn node(&self, level: u8, index: u64) -> Result<Option<Hash>, Self::Error> {
        let found = self
            .levels
            .get(usize::from(level))
            .zip(usize::try_from(index).ok())
            .and_then(|(nodes, index)| nodes.get(index).copied());
        Ok(found)
    }
}

/// Why [`MemoryStore::insert`] refused a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MemoryStoreError {
    /// A different hash is already stored at this position.
    #[error(
        "node ({level}, {index}) is already stored with a different hash; the tree is append-only"
    )]
    Conflict {
        /// Level of the refused node.
        level: u8,
        /// Index of the refused node.
        index: u64,
    },
    /// The node would leave a hole in its level.
    #[error(
        "node ({level}, {index}) skips ahead: the next node of level {level} is index {next}; write nodes in the order append returns them"
    )]
    Gap {
        /// Level of the refused node.
        level: u8,
        /// Index of the refused node.
        index: u64,
        /// Index the level expects next.
        next: u64,
    },
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::*;
    use crate::hash::{leaf_hash, node_hash};

    fn leaves(n: u64) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(&i.to_le_bytes())).collect()
    }

    #[test]
    fn push_stores_complete_subtrees_only() {
        let l = leaves(3);
        let mut store = MemoryStore::new();
        assert_eq!(store.size(), 0);
        assert_eq!(store.push(l[0]), 0);
        assert_eq!(store.push(l[1]), 1);
        assert_eq!(store.push(l[2]), 2);
        assert_eq!(store.size(), 3);
        assert_eq!(store.node(0, 2), Ok(Some(l[2])));
        assert_eq!(store.node(1, 0), Ok(Some(node_hash(&l[0], &l[1]))));
        // Leaves [2, 4) are not complete yet, and neither is anything at level 2.
        assert_eq!(store.node(1, 1), Ok(None));
        assert_eq!(store.node(2, 0), Ok(None));
        assert_eq!(store.node(200, u64::MAX), Ok(None));
        assert_eq!(store, MemoryStore::from_leaves(l));
    }

    #[test]
    fn insert_refuses_gaps_and_conflicts() {
        let l = leaves(2);
        let mut store = MemoryStore::new();
        let node = |level, index, hash| Node { level, index, hash };
        assert_eq!(store.insert(node(0, 0, l[0])), Ok(()));
        assert_eq!(
            store.insert(node(0, 2, l[1])),
            Err(MemoryStoreError::Gap {
                level: 0,
                index: 2,
                next: 1
            })
        );
        assert_eq!(
            store.insert(node(0, 0, l[1])),
            Err(MemoryStoreError::Conflict { level: 0, index: 0 })
        );
        assert_eq!(store.insert(node(0, 0, l[0])), Ok(()));
        assert_eq!(store.insert(node(0, 1, l[1])), Ok(()));
        assert_eq!(store.size(), 2);
    }
}
