//! Property tests for `corridor_ledger::merkle` on random trees of up to
//! 10,000 leaves:
//!
//! * every generated inclusion / consistency proof verifies;
//! * tampered proofs fail (a flipped bit, a dropped or added hash, a wrong
//!   root, a wrong index or size);
//! * roots and proofs are byte-identical to the independent `ct-merkle`
//!   crate's. ct-merkle hashes a byte-string leaf as `SHA256(0x00 || bytes)`,
//!   exactly RFC 6962, so both trees are fed the same raw leaf data.

use corridor_ledger::merkle::{
    leaf_hash, verify_consistency, verify_inclusion, Hash, ProofError, Tree,
};
use ct_merkle::mem_backed_tree::MemoryBackedTree;
use proptest::prelude::*;

/// SHA-256 for ct-merkle, which uses the `digest` 0.11 traits (this crate's
/// `sha2` is 0.10): a thin adapter around `sha2::Sha256`.
#[derive(Clone, Default)]
struct CtSha256(sha2::Sha256);

impl ct_merkle::digest::HashMarker for CtSha256 {}

impl ct_merkle::digest::OutputSizeUser for CtSha256 {
    type OutputSize = ct_merkle::digest::consts::U32;
}

impl ct_merkle::digest::Update for CtSha256 {
    fn update(&mut self, data: &[u8]) {
        sha2::Digest::update(&mut self.0, data);
    }
}

impl ct_merkle::digest::FixedOutput for CtSha256 {
    fn finalize_into(self, out: &mut ct_merkle::digest::Output<Self>) {
        out.copy_from_slice(&sha2::Digest::finalize(self.0));
    }
}

type CtTree = MemoryBackedTree<CtSha256, Vec<u8>>;

/// Leaf `i` of the tree with this seed: a few bytes of varying length.
fn leaf_data(seed: u64, i: u64) -> Vec<u8> {
    let mut data = seed.to_be_bytes().to_vec();
    data.extend_from_slice(&i.to_le_bytes()[..1 + (i % 8) as usize]);
    data
}

fn build(seed: u64, size: u64) -> Tree {
    let mut tree = Tree::new();
    for i in 0..size {
        assert_eq!(tree.push(leaf_hash(&leaf_data(seed, i))), i);
    }
    tree
}

fn concat(proof: &[Hash]) -> Vec<u8> {
    proof.concat()
}

/// Tree sizes: small trees often (all the edge cases live there), large ones too.
fn tree_size() -> impl Strategy<Value = u64> {
    prop_oneof![1u64..=40, 1u64..=10_000]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Inclusion proofs verify, and every kind of tampering is rejected.
    #[test]
    fn inclusion_proofs_verify_and_tampering_fails(
        size in tree_size(),
        seed in any::<u64>(),
        picks in prop::collection::vec((any::<u64>(), any::<u64>(), any::<u64>()), 12),
    ) {
        let tree = build(seed, size);
        for &(a, b, c) in &picks {
            let n = 1 + a % size; // 1..=size
            let index = b % n;
            let leaf = tree.leaf(index).unwrap();
            let root = tree.root_at(n).unwrap();
            let proof = tree.inclusion_proof(index, n).unwrap();
            prop_assert_eq!(verify_inclusion(index, n, &leaf, &proof, &root), Ok(()));

            // Wrong root (one bit flipped).
            let mut bad_root = root;
            bad_root[(c % 32) as usize] ^= 1 << (c % 8);
            prop_assert_eq!(verify_inclusion(index, n, &leaf, &proof, &bad_root), Err(ProofError::RootMismatch));

            // Wrong leaf.
            let mut bad_leaf = leaf;
            bad_leaf[(c % 32) as usize] ^= 1 << (c % 8);
            prop_assert!(verify_inclusion(index, n, &bad_leaf, &proof, &root).is_err());

            // Added hash, at the end or at the front.
            let mut longer = proof.clone();
            longer.push(root);
            prop_assert!(verify_inclusion(index, n, &leaf, &longer, &root).is_err());
            let mut longer = vec![leaf];
            longer.extend_from_slice(&proof);
            prop_assert!(verify_inclusion(index, n, &leaf, &longer, &root).is_err());

            // Index out of range.
            prop_assert_eq!(
                verify_inclusion(n, n, &leaf, &proof, &root),
                Err(ProofError::IndexOutOfRange { index: n, size: n })
            );

            if !proof.is_empty() {
                // One bit flipped in one hash.
                let mut flipped = proof.clone();
                let k = (c as usize / 256) % proof.len();
                flipped[k][(c % 32) as usize] ^= 1 << (c % 8);
                prop_assert_eq!(verify_inclusion(index, n, &leaf, &flipped, &root), Err(ProofError::RootMismatch));

                // One hash dropped.
                let mut shorter = proof.clone();
                shorter.remove(k);
                prop_assert!(verify_inclusion(index, n, &leaf, &shorter, &root).is_err());

                // Two hashes swapped (when they differ).
                if proof.len() >= 2 && proof[0] != proof[1] {
                    let mut swapped = proof.clone();
                    swapped.swap(0, 1);
                    prop_assert!(verify_inclusion(index, n, &leaf, &swapped, &root).is_err());
                }
            }

            // Wrong index: the proof must not verify another leaf, unless it
            // happens to be that leaf's genuine proof.
            if n > 1 {
                let other = (index + 1 + c % (n - 1)) % n;
                let other_leaf = tree.leaf(other).unwrap();
                let genuine = tree.inclusion_proof(other, n).unwrap() == proof;
                prop_assert_eq!(verify_inclusion(other, n, &other_leaf, &proof, &root).is_ok(), genuine);
                prop_assert!(verify_inclusion(other, n, &leaf, &proof, &root).is_err());
            }

            // Wrong size: checked against the genuine root of that size, the
            // proof verifies only where it is also that size's genuine proof.
            let other_n = index + 1 + c % (size - index);
            if other_n != n {
                let other_root = tree.root_at(other_n).unwrap();
                let genuine = tree.inclusion_proof(index, other_n).unwrap() == proof;
                prop_assert_eq!(verify_inclusion(index, other_n, &leaf, &proof, &other_root).is_ok(), genuine);
            }
        }
    }

    /// Consistency proofs verify, and every kind of tampering is rejected.
    #[test]
    fn consistency_proofs_verify_and_tampering_fails(
        size in tree_size(),
        seed in any::<u64>(),
        picks in prop::collection::vec((any::<u64>(), any::<u64>(), any::<u64>()), 12),
    ) {
        let tree = build(seed, size);
        for &(a, b, c) in &picks {
            let n = 1 + a % size;
            let m = 1 + b % n; // 1..=n
            let (old_root, new_root) = (tree.root_at(m).unwrap(), tree.root_at(n).unwrap());
            let proof = tree.consistency_proof(m, n).unwrap();
            prop_assert_eq!(verify_consistency(m, n, &old_root, &new_root, &proof), Ok(()));

            // Roots swapped or tampered.
            let mut bad = old_root;
            bad[(c % 32) as usize] ^= 1 << (c % 8);
            prop_assert!(verify_consistency(m, n, &bad, &new_root, &proof).is_err());
            let mut bad = new_root;
            bad[(c % 32) as usize] ^= 1 << (c % 8);
            prop_assert!(verify_consistency(m, n, &old_root, &bad, &proof).is_err());
            if m != n {
                prop_assert!(verify_consistency(m, n, &new_root, &old_root, &proof).is_err());
            }

            // Added hash.
            let mut longer = proof.clone();
            longer.push(new_root);
            prop_assert!(verify_consistency(m, n, &old_root, &new_root, &longer).is_err());
            let mut longer = vec![old_root];
            longer.extend_from_slice(&proof);
            prop_assert!(verify_consistency(m, n, &old_root, &new_root, &longer).is_err());

            // Size 0 and old > new are refused.
            prop_assert_eq!(verify_consistency(0, n, &old_root, &new_root, &proof), Err(ProofError::EmptyOldTree));
            if m != n {
                prop_assert!(verify_consistency(n, m, &new_root, &old_root, &proof).is_err());
            }

            if !proof.is_empty() {
                let k = (c as usize / 256) % proof.len();
                let mut flipped = proof.clone();
                flipped[k][(c % 32) as usize] ^= 1 << (c % 8);
                prop_assert!(verify_consistency(m, n, &old_root, &new_root, &flipped).is_err());

                let mut shorter = proof.clone();
                shorter.remove(k);
                prop_assert!(verify_consistency(m, n, &old_root, &new_root, &shorter).is_err());
            }

            // Wrong old size / new size, with the genuine roots of those
            // sizes: verifies only if it is also their genuine proof.
            let other_m = 1 + c % n;
            if other_m != m {
                let other_root = tree.root_at(other_m).unwrap();
                let genuine = tree.consistency_proof(other_m, n).unwrap() == proof;
                prop_assert_eq!(verify_consistency(other_m, n, &other_root, &new_root, &proof).is_ok(), genuine);
            }
            let other_n = m + c % (size - m + 1);
            if other_n != n {
                let other_root = tree.root_at(other_n).unwrap();
                let genuine = tree.consistency_proof(m, other_n).unwrap() == proof;
                prop_assert_eq!(verify_consistency(m, other_n, &old_root, &other_root, &proof).is_ok(), genuine);
            }
        }
    }

    /// Roots, inclusion proofs and consistency proofs match ct-merkle's
    /// byte for byte, and our proofs pass ct-merkle's verifier.
    #[test]
    fn matches_ct_merkle(
        size in tree_size(),
        seed in any::<u64>(),
        picks in prop::collection::vec((any::<u64>(), any::<u64>()), 8),
    ) {
        let tree = build(seed, size);
        // ct-merkle proves only against its current size, so grow it and
        // stop at each sampled size.
        let mut sizes: Vec<u64> = picks.iter().map(|&(a, _)| 1 + a % size).collect();
        sizes.push(size);
        sizes.sort_unstable();
        sizes.dedup();
        let mut ct = CtTree::new();
        for (&(_, b), &n) in picks.iter().cycle().zip(&sizes) {
            while ct.len() < n {
                ct.push(leaf_data(seed, ct.len()));
            }
            let ct_root = ct.root();
            prop_assert_eq!(ct_root.as_bytes().to_vec(), tree.root_at(n).unwrap().to_vec());

            let index = b % n;
            let ours = tree.inclusion_proof(index, n).unwrap();
            let theirs = ct.prove_inclusion(index as usize);
            prop_assert_eq!(theirs.as_bytes().to_vec(), concat(&ours));
            let ours_for_ct = ct_merkle::InclusionProof::<CtSha256>::from_bytes(concat(&ours));
            prop_assert!(ct_root.verify_inclusion(&leaf_data(seed, index), index, &ours_for_ct).is_ok());

            let m = 1 + b % n;
            let ours = tree.consistency_proof(m, n).unwrap();
            if m < n {
                let theirs = ct.prove_consistency((n - m) as usize);
                prop_assert_eq!(theirs.as_bytes().to_vec(), concat(&ours));
            }
            let old_root = ct_merkle::RootHash::<CtSha256>::new(
                tree.root_at(m).unwrap().into(),
                m,
            );
            let ours_for_ct = ct_merkle::ConsistencyProof::<CtSha256>::try_from_bytes(concat(&ours)).unwrap();
            prop_assert!(ct_root.verify_consistency(&old_root, &ours_for_ct).is_ok());
        }
    }

    /// Truncating (rolling back) and re-appending gives the same tree.
    #[test]
    fn truncate_then_regrow(size in tree_size(), seed in any::<u64>(), cut in any::<u64>()) {
        let full = build(seed, size);
        let keep = cut % (size + 1);
        let mut t = full.clone();
        // Warm the cached right edge first: truncate must drop it.
        prop_assert_eq!(t.root(), full.root());
        t.truncate(keep);
        prop_assert_eq!(t.len(), keep);
        prop_assert_eq!(t.root(), full.root_at(keep).unwrap());
        if keep > 0 {
            prop_assert_eq!(t.inclusion_proof(keep - 1, keep), full.inclusion_proof(keep - 1, keep));
        }
        for i in keep..size {
            t.push(full.leaf(i).unwrap());
        }
        prop_assert_eq!(t.root(), full.root());
        prop_assert_eq!(t.consistency_proof(1 + keep % size, size), full.consistency_proof(1 + keep % size, size));
    }
}

/// The root cache must follow pushes: every intermediate root equals the
/// root computed from scratch by an independent recursive RFC 6962 MTH.
#[test]
fn incremental_roots_match_recursive_definition() {
    fn mth(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => corridor_ledger::merkle::empty_root(),
            1 => leaves[0],
            n => {
                let k = 1 << (usize::BITS - 1 - (n - 1).leading_zeros());
                corridor_ledger::merkle::node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
            }
        }
    }
    let mut tree = Tree::new();
    let mut leaves = Vec::new();
    for i in 0..300u64 {
        assert_eq!(tree.root(), mth(&leaves), "size {i}");
        let h = leaf_hash(&leaf_data(7, i));
        tree.push(h);
        leaves.push(h);
        assert_eq!(tree.root_at(i / 2 + 1).unwrap(), mth(&leaves[..(i / 2 + 1) as usize]));
    }
}

/// A tree made with room reserved (`Tree::with_capacity`, as `verify` makes
/// it from the log's signed size) is the same tree whatever the room: fewer
/// leaves than reserved, exactly as many, or more. Every root and every
/// proof up to 70 leaves equals the plain tree's.
#[test]
fn reserved_room_changes_nothing() {
    for size in 0u64..=70 {
        let leaves: Vec<Hash> = (0..size).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        let mut plain = Tree::new();
        for l in &leaves {
            plain.push(*l);
        }
        for room in [0, size / 2, size, size + 1, 2 * size + 3] {
            let mut t = Tree::with_capacity(room as usize);
            for l in &leaves {
                t.push(*l);
            }
            assert_eq!(t.len(), size);
            assert_eq!(t.root(), plain.root(), "size {size}, room {room}");
            for n in 1..=size {
                assert_eq!(t.root_at(n).unwrap(), plain.root_at(n).unwrap(), "root at {n} of {size}, room {room}");
                for i in 0..n {
                    assert_eq!(t.inclusion_proof(i, n).unwrap(), plain.inclusion_proof(i, n).unwrap());
                }
                for m in 1..=n {
                    assert_eq!(t.consistency_proof(m, n).unwrap(), plain.consistency_proof(m, n).unwrap());
                }
            }
        }
    }
}

/// Every inclusion proof (index, size) and every consistency proof
/// (old size, size) of every tree of up to 64 leaves, as transparency-dev's
/// merkle tests go through them all: byte for byte ct-merkle's, verified
/// by this crate's verifiers, and refused with one bit flipped.
#[test]
fn every_proof_up_to_64_leaves_matches_ct_merkle_and_verifies() {
    let seed = 64;
    let tree = build(seed, 64);
    let mut ct = CtTree::new();
    let (mut inclusions, mut consistencies) = (0, 0);
    for n in 1..=64u64 {
        ct.push(leaf_data(seed, n - 1));
        let root = tree.root_at(n).unwrap();
        assert_eq!(ct.root().as_bytes().to_vec(), root.to_vec(), "root of {n}");
        for index in 0..n {
            let proof = tree.inclusion_proof(index, n).unwrap();
            assert_eq!(ct.prove_inclusion(index as usize).as_bytes().to_vec(), concat(&proof), "inclusion ({index}, {n})");
            let leaf = leaf_hash(&leaf_data(seed, index));
            assert_eq!(verify_inclusion(index, n, &leaf, &proof, &root), Ok(()), "inclusion ({index}, {n})");
            if !proof.is_empty() {
                let mut bad = proof.clone();
                bad[0][31] ^= 1;
                assert!(verify_inclusion(index, n, &leaf, &bad, &root).is_err(), "tampered inclusion ({index}, {n})");
            }
            inclusions += 1;
        }
        for m in 1..n {
            let proof = tree.consistency_proof(m, n).unwrap();
            assert_eq!(ct.prove_consistency((n - m) as usize).as_bytes().to_vec(), concat(&proof), "consistency ({m}, {n})");
            let old = tree.root_at(m).unwrap();
            assert_eq!(verify_consistency(m, n, &old, &root, &proof), Ok(()), "consistency ({m}, {n})");
            let mut bad = proof.clone();
            let last = bad.len() - 1;
            bad[last][0] ^= 0x80;
            assert!(verify_consistency(m, n, &old, &root, &bad).is_err(), "tampered consistency ({m}, {n})");
            consistencies += 1;
        }
    }
    assert_eq!((inclusions, consistencies), (64 * 65 / 2, 63 * 64 / 2));
}
