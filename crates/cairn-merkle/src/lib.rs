//! Cairn's Merkle tree: RFC 9162 (RFC 6962) hashing, tree heads, inclusion and consistency
//! proofs over a store of complete-subtree hashes, and proof verification for receipts.
//!
//! # Layer
//!
//! A pure library at the bottom of the stack: no I/O, no logging, no async. It may use only
//! `sha2`, `hex`, `serde` and `thiserror`. The ledger store persists nodes through
//! [`NodeStore`]; receipts embed [`InclusionProof`] / [`ConsistencyProof`]; `cairn verify`
//! calls the `verify_*` functions, which need no store.
//!
//! # Definitions
//!
//! - Leaf hash `SHA-256(0x00 || entry)`, node hash `SHA-256(0x01 || left || right)`, empty
//!   root `SHA-256("")` (RFC 9162 §2.1.1).
//! - Node `(level, index)` is the tree hash of leaves `[index·2^level, (index+1)·2^level)`;
//!   it exists once the tree has at least `(index+1)·2^level` leaves and never changes after.
//! - The tree head of size `n` folds, right to left, the nodes named by the set bits of `n`.
//!
//! # Invariants
//!
//! - A store holding a tree of size `n` holds every node whose range ends at or before `n`.
//!   [`append`] / [`append_batch`] return exactly the nodes that a new leaf completes, and
//!   the caller must write all of them, with the leaf, atomically.
//! - Stored nodes are immutable, so roots and proofs for every past size `m <= n` come from
//!   the same store: [`root`], [`inclusion_proof`] and [`consistency_proof`] take the size.
//! - Verification follows RFC 9162 §2.1.3.2 / §2.1.4.2 exactly, and additionally rejects a
//!   consistency proof from size 0 (see [`verify_consistency`]).
//!
//! # Example
//!
//! ```
//! use cairn_merkle::{MemoryStore, consistency_proof, inclusion_proof, leaf_hash, root};
//!
//! let mut store = MemoryStore::new();
//! for entry in [&b"tx0"[..], b"tx1", b"tx2"] {
//!     store.push(leaf_hash(entry));
//! }
//! let head2 = root(&store, 2)?;
//! let head3 = root(&store, 3)?;
//! let proof = inclusion_proof(&store, 1, 3)?;
//! proof.verify(&leaf_hash(b"tx1"), &head3)?;
//! consistency_proof(&store, 2, 3)?.verify(&head2, &head3)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod hash;
mod proof;
mod store;
mod tree;
mod verify;

pub use crate::hash::{Hash, ParseHashError, empty_root, leaf_hash, node_hash};
pub use crate::proof::{ConsistencyProof, InclusionProof};
pub use crate::store::{MemoryStore, MemoryStoreError, Node, NodeStore};
pub use crate::tree::{TreeError, append, append_batch, consistency_proof, inclusion_proof, root};
pub use crate::verify::{VerifyError, root_from_inclusion, verify_consistency, verify_inclusion};
