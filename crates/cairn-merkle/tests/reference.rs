//! The store-backed tree against the recursive RFC 6962 definitions in `support`, for random
//! trees of up to 300 leaves, and tamper checks on every byte of the proofs and roots.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod support;

use cairn_merkle::{
    Hash, MemoryStore, Node, VerifyError, append, consistency_proof, inclusion_proof, root,
    root_from_inclusion, verify_consistency, verify_inclusion,
};
use proptest::prelude::*;

fn to_hashes(raw: &[[u8; 32]]) -> Vec<Hash> {
    raw.iter().copied().map(Hash::new).collect()
}

/// Leaf hashes of `n` distinct entries derived from `seed`.
fn leaves(seed: u64, n: usize) -> Vec<[u8; 32]> {
    (0..n as u64)
        .map(|i| support::leaf(&[seed.to_le_bytes(), i.to_le_bytes()].concat()))
        .collect()
}

/// Builds the store the way the ledger does: `append`, then write the returned nodes.
fn build(raw: &[[u8; 32]]) -> MemoryStore {
    let mut store = MemoryStore::new();
    for (size, leaf) in raw.iter().enumerate() {
        let nodes: Vec<Node> = append(&store, size as u64, Hash::new(*leaf)).unwrap();
        assert_eq!(
            nodes[0],
            Node {
                level: 0,
                index: size as u64,
                hash: Hash::new(*leaf)
            }
        );
        for node in nodes {
            store.insert(node).unwrap();
        }
    }
    store
}

fn flip(hash: &Hash, byte: usize) -> Hash {
    let mut bytes = hash.to_bytes();
    bytes[byte] ^= 0x01;
    Hash::new(bytes)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// Roots of every prefix, and inclusion proofs of every leaf at the full size and of
    /// leaves at a random past size, equal the RFC definitions and verify.
    #[test]
    fn roots_and_inclusion_match_reference(seed in any::<u64>(), n in 1usize..=300, past in any::<prop::sample::Index>()) {
        let raw = leaves(seed, n);
        let store = build(&raw);
        prop_assert_eq!(MemoryStore::from_leaves(to_hashes(&raw)), store.clone());
        for (size, expected) in support::all_roots(&raw).iter().enumerate() {
            prop_assert_eq!(root(&store, size as u64).unwrap(), Hash::new(*expected));
        }
        let m = past.index(n) + 1;
        for size in [n, m] {
            let head = Hash::new(support::mth(&raw[..size]));
            // Every leaf of the full tree; every 7th (and the last) of the past one, to bound
            // the reference's quadratic cost.
            let step = if size == n { 1 } else { 7 };
            for index in (0..size).step_by(step).chain([size - 1]) {
                let proof = inclusion_proof(&store, index as u64, size as u64).unwrap();
                prop_assert_eq!(&proof.path, &to_hashes(&support::path(index, &raw[..size])));
                let leaf = Hash::new(raw[index]);
                prop_assert_eq!(proof.verify(&leaf, &head), Ok(()));
                prop_assert_eq!(proof.root(&leaf), Ok(head));
            }
        }
    }

    /// Consistency proofs for random pairs of sizes equal the RFC definition and verify.
    #[test]
    fn consistency_matches_reference(seed in any::<u64>(), n in 1usize..=300, pairs in prop::collection::vec((any::<prop::sample::Index>(), any::<prop::sample::Index>()), 24)) {
        let raw = leaves(seed, n);
        let store = build(&raw);
        for (a, b) in pairs {
            let (x, y) = (a.index(n) + 1, b.index(n) + 1);
            let (old, new) = (x.min(y), x.max(y));
            let proof = consistency_proof(&store, old as u64, new as u64).unwrap();
            prop_assert_eq!(&proof.path, &to_hashes(&support::proof(old, &raw[..new])));
            let old_root = Hash::new(support::mth(&raw[..old]));
            let new_root = Hash::new(support::mth(&raw[..new]));
            prop_assert_eq!(proof.verify(&old_root, &new_root), Ok(()));
        }
    }

    /// Changing any byte of an inclusion proof, the leaf or the root, or the index or size,
    /// makes verification fail.
    #[test]
    fn tampered_inclusion_fails(seed in any::<u64>(), n in 1usize..=300, pick in any::<prop::sample::Index>()) {
        let raw = leaves(seed, n);
        let store = build(&raw);
        let index = pick.index(n);
        let proof = inclusion_proof(&store, index as u64, n as u64).unwrap();
        let leaf = Hash::new(raw[index]);
        let head = root(&store, n as u64).unwrap();
        prop_assert_eq!(proof.verify(&leaf, &head), Ok(()));
        for byte in 0..Hash::LEN {
            prop_assert!(proof.verify(&leaf, &flip(&head, byte)).is_err());
            prop_assert!(proof.verify(&flip(&leaf, byte), &head).is_err());
            for i in 0..proof.path.len() {
                let mut bad = proof.clone();
                bad.path[i] = flip(&bad.path[i], byte);
                let result = bad.verify(&leaf, &head);
                prop_assert!(matches!(result, Err(VerifyError::RootMismatch { .. })), "{:?}", result);
            }
        }
        // Another index of the same tree takes the path through different sides. The size
        // is not tampered with here: the path does not always bind it (leaf 0 has the same
        // path shape in trees of 3 and 4 leaves), which is why a receipt must take the size
        // from its signed tree head. The golden vectors cover size mutations.
        let (i, s) = (index as u64, n as u64);
        for bad_index in [i + 1, i ^ 1, i.wrapping_sub(1)] {
            if bad_index != i && bad_index < s {
                prop_assert!(verify_inclusion(&leaf, bad_index, s, &proof.path, &head).is_err(),
                    "leaf {} of {} accepted as leaf {}", i, s, bad_index);
            }
        }
        let mut longer = proof.path.clone();
        longer.push(head);
        let result = root_from_inclusion(&leaf, i, s, &longer);
        prop_assert!(matches!(result, Err(VerifyError::WrongProofLength { .. })), "{:?}", result);
        if !proof.path.is_empty() {
            let result = root_from_inclusion(&leaf, i, s, &proof.path[1..]);
            prop_assert!(matches!(result, Err(VerifyError::WrongProofLength { .. })), "{:?}", result);
        }
    }

    /// Changing any byte of a consistency proof or of either root makes verification fail.
    #[test]
    fn tampered_consistency_fails(seed in any::<u64>(), n in 2usize..=300, a in any::<prop::sample::Index>(), b in any::<prop::sample::Index>()) {
        let raw = leaves(seed, n);
        let store = build(&raw);
        let (x, y) = (a.index(n) + 1, b.index(n) + 1);
        let (old, new) = (x.min(y) as u64, x.max(y) as u64);
        let proof = consistency_proof(&store, old, new).unwrap();
        let old_root = root(&store, old).unwrap();
        let new_root = root(&store, new).unwrap();
        prop_assert_eq!(proof.verify(&old_root, &new_root), Ok(()));
        for byte in 0..Hash::LEN {
            prop_assert!(proof.verify(&flip(&old_root, byte), &new_root).is_err());
            prop_assert!(proof.verify(&old_root, &flip(&new_root, byte)).is_err());
            for i in 0..proof.path.len() {
                let mut bad = proof.clone();
                bad.path[i] = flip(&bad.path[i], byte);
                prop_assert!(bad.verify(&old_root, &new_root).is_err());
            }
        }
        if old < new {
            prop_assert!(verify_consistency(old, new, &old_root, &new_root, &proof.path[1..]).is_err());
            let mut longer = proof.path.clone();
            longer.push(new_root);
            let result = verify_consistency(old, new, &old_root, &new_root, &longer);
            prop_assert!(matches!(result, Err(VerifyError::WrongProofLength { .. })), "{:?}", result);
        }
    }
}

/// The RFC 9162 loops reject wrong-length proofs by themselves; the up-front length check
/// only names the failure. This runs the loops' accounting with lengths off by one in both
/// directions for every pair of sizes up to 64, so a wrong length formula would show up as
/// a rejected valid proof in the proptests above or as an accepted proof here.
#[test]
fn length_check_agrees_with_generation_for_all_small_sizes() {
    let raw = leaves(7, 64);
    let store = build(&raw);
    for new in 1..=64u64 {
        let new_root = root(&store, new).unwrap();
        for index in 0..new {
            let proof = inclusion_proof(&store, index, new).unwrap();
            assert_eq!(
                proof.verify(&Hash::new(raw[index as usize]), &new_root),
                Ok(())
            );
        }
        for old in 1..=new {
            let proof = consistency_proof(&store, old, new).unwrap();
            let old_root = root(&store, old).unwrap();
            assert_eq!(proof.verify(&old_root, &new_root), Ok(()), "{old} -> {new}");
        }
    }
}
