//! Known-answer tests for `corridor_ledger::merkle` against the published
//! RFC 6962 / RFC 9162 vectors in `shared/data/merkle/` (see its README.md).
//!
//! Hashes in the vectors are hex and may deliberately have the wrong length
//! (e.g. 0 bytes): such a hash can never verify, so a probe containing one
//! counts as a failed verification.

use corridor_ledger::merkle::{
    empty_root, leaf_hash, node_hash, verify_consistency, verify_inclusion, Hash, ProofError,
    Tree,
};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::path::PathBuf;

fn data_dir() -> PathBuf {
    let dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/merkle"
    ));
    assert!(
        dir.is_dir(),
        "Merkle test vectors not found: expected them in {} (the `shared` checkout must sit beside the repository root)",
        dir.display()
    );
    dir
}

fn load(name: &str) -> Value {
    let path = data_dir().join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("bad JSON in {}: {e}", path.display()))
}

fn bytes(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().expect("hex string")).expect("valid hex")
}

/// A 32-byte hash, or `None` if the vector's hash has another length.
fn hash32(v: &Value) -> Option<Hash> {
    bytes(v).try_into().ok()
}

fn hash(v: &Value) -> Hash {
    hash32(v).expect("a 32-byte hash")
}

/// Parses a proof; `None` if any of its hashes is not 32 bytes.
fn proof32(v: &Value) -> Option<Vec<Hash>> {
    v.as_array().expect("proof array").iter().map(hash32).collect()
}

fn proof(v: &Value) -> Vec<Hash> {
    proof32(v).expect("proof of 32-byte hashes")
}

fn u64_of(v: &Value, key: &str) -> u64 {
    v[key].as_u64().unwrap_or_else(|| panic!("missing integer {key} in {v}"))
}

/// The 8-leaf reference tree and its roots by size.
fn reference_tree() -> (Tree, Vec<Hash>) {
    let r = load("reference-tree-8.json");
    let mut tree = Tree::new();
    for leaf in r["leaves_hex"].as_array().unwrap() {
        tree.push(leaf_hash(&bytes(leaf)));
    }
    let roots = r["roots_by_size"].as_array().unwrap().iter().map(hash).collect();
    (tree, roots)
}

#[test]
fn rfc6962_hasher_kats() {
    let v = load("rfc6962-hasher.json");
    assert_eq!(empty_root(), hash(&v["empty_tree"]));
    let leaves = v["leaf"].as_array().unwrap();
    assert_eq!(leaves.len(), 3);
    for case in leaves {
        assert_eq!(leaf_hash(&bytes(&case["data_hex"])), hash(&case["hash"]), "{case}");
    }
    let nodes = v["node"].as_array().unwrap();
    assert_eq!(nodes.len(), 2);
    let mut checked_with_node_hash = 0;
    for case in nodes {
        let (l, r) = (bytes(&case["left_hex"]), bytes(&case["right_hex"]));
        let want = hash(&case["hash"]);
        match (<Hash>::try_from(l.as_slice()), <Hash>::try_from(r.as_slice())) {
            (Ok(l), Ok(r)) => {
                assert_eq!(node_hash(&l, &r), want, "{case}");
                checked_with_node_hash += 1;
            }
            // `node_hash` only takes 32-byte children; the "N123"/"N456" KAT
            // has 4-byte inputs, so check the formula node_hash implements.
            _ => {
                let got: Hash = Sha256::new()
                    .chain_update([0x01])
                    .chain_update(&l)
                    .chain_update(&r)
                    .finalize()
                    .into();
                assert_eq!(got, want, "{case}");
            }
        }
    }
    assert_eq!(checked_with_node_hash, 1);
}

#[test]
fn reference_tree_roots_and_subtrees() {
    let r = load("reference-tree-8.json");
    let (tree, roots) = reference_tree();
    assert_eq!(roots.len(), 9);
    assert_eq!(roots[0], hash(&r["empty_root"]));
    assert_eq!(Tree::new().root(), roots[0]);
    for (size, root) in roots.iter().enumerate() {
        assert_eq!(tree.root_at(size as u64).unwrap(), *root, "root of size {size}");
    }
    assert_eq!(tree.root(), roots[8]);
    assert_eq!(tree.root_at(9), Err(ProofError::SizeTooLarge { size: 9, len: 8 }));

    // Every complete subtree hash: level l, index i covers leaves
    // [i*2^l, (i+1)*2^l); rebuild each subtree on its own and compare roots.
    let leaves: Vec<Vec<u8>> = r["leaves_hex"].as_array().unwrap().iter().map(bytes).collect();
    let levels = r["node_hashes_by_level"].as_array().unwrap();
    assert_eq!(levels.len(), 4);
    let mut count = 0;
    for (level, hashes) in levels.iter().enumerate() {
        let hashes = hashes.as_array().unwrap();
        assert_eq!(hashes.len(), 8 >> level);
        for (i, h) in hashes.iter().enumerate() {
            let width = 1 << level;
            let mut sub = Tree::new();
            for leaf in &leaves[i * width..(i + 1) * width] {
                sub.push(leaf_hash(leaf));
            }
            assert_eq!(sub.root(), hash(h), "subtree level {level} index {i}");
            if level == 0 {
                assert_eq!(tree.leaf(i as u64), Some(hash(h)));
            }
            count += 1;
        }
    }
    assert_eq!(count, 15);
    assert_eq!(tree.leaf(8), None);
}

#[test]
fn truncate_restores_every_earlier_root() {
    let (full, roots) = reference_tree();
    for size in 0..=8u64 {
        let mut t = full.clone();
        // Warm the cached right edge first: truncate must drop it.
        assert_eq!(t.root(), roots[8]);
        t.truncate(size);
        assert_eq!(t.len(), size);
        assert_eq!(t.root(), roots[size as usize], "after truncate({size})");
        // Appending the same leaves again gives the same tree.
        for i in size..8 {
            assert_eq!(t.push(full.leaf(i).unwrap()), i);
        }
        assert_eq!(t.root(), roots[8]);
        assert_eq!(t.inclusion_proof(3, 7), full.inclusion_proof(3, 7));
    }
}

/// Checks a list of `{index/leaf_index, size/tree_size, proof}` inclusion
/// KATs: generation is byte-identical and the proof verifies.
fn check_inclusion_kats(cases: &[Value], index_key: &str, size_key: &str) {
    let (tree, roots) = reference_tree();
    for case in cases {
        let (index, size) = (u64_of(case, index_key), u64_of(case, size_key));
        let want = proof(&case["proof"]);
        assert_eq!(tree.inclusion_proof(index, size).unwrap(), want, "{case}");
        let leaf = tree.leaf(index).unwrap();
        verify_inclusion(index, size, &leaf, &want, &roots[size as usize])
            .unwrap_or_else(|e| panic!("{case}: {e}"));
    }
}

/// Checks `{size1, size2, proof}` consistency KATs: generation is
/// byte-identical and the proof verifies.
fn check_consistency_kats(cases: &[Value]) {
    let (tree, roots) = reference_tree();
    for case in cases {
        let (m, n) = (u64_of(case, "size1"), u64_of(case, "size2"));
        let want = proof(&case["proof"]);
        assert_eq!(tree.consistency_proof(m, n).unwrap(), want, "{case}");
        verify_consistency(m, n, &roots[m as usize], &roots[n as usize], &want)
            .unwrap_or_else(|e| panic!("{case}: {e}"));
    }
}

#[test]
fn tdmerkle_reference_kats() {
    let v = load("tdmerkle-reference-kat.json");
    let inclusion = v["inclusion"].as_array().unwrap();
    let consistency = v["consistency"].as_array().unwrap();
    assert_eq!((inclusion.len(), consistency.len()), (7, 4));
    check_inclusion_kats(inclusion, "index", "size");
    check_consistency_kats(consistency);
}

#[test]
fn ct_reference_kats() {
    let v = load("ct-reference-kat.json");
    let inclusion = v["inclusion"].as_array().unwrap();
    let consistency = v["consistency"].as_array().unwrap();
    assert_eq!((inclusion.len(), consistency.len()), (5, 4));
    check_inclusion_kats(inclusion, "leaf_index", "tree_size");
    check_consistency_kats(consistency);

    // The C++ original returns an empty path for "leaf 0 (1-based) of the
    // empty tree"; with 0-based indexes no leaf exists in an empty tree, so
    // both generation and verification must refuse.
    let invalid = v["inclusion_invalid_request"].as_array().unwrap();
    assert_eq!(invalid.len(), 1);
    let size = u64_of(&invalid[0], "tree_size");
    assert_eq!(size, 0);
    let (tree, roots) = reference_tree();
    assert_eq!(
        tree.inclusion_proof(0, size),
        Err(ProofError::IndexOutOfRange { index: 0, size: 0 })
    );
    assert!(verify_inclusion(0, 0, &roots[1], &[], &roots[0]).is_err());
}

#[test]
fn ct_real_log_inclusion() {
    let v = load("ct-real-log-inclusion.json");
    let leaf = leaf_hash(&bytes(&v["leaf_input_hex"]));
    assert_eq!(leaf, hash(&v["leaf_hash"]));
    let (index, size) = (u64_of(&v, "leaf_index"), u64_of(&v, "tree_size"));
    let path = proof(&v["proof"]);
    assert_eq!(path.len(), 22);
    let root = hash(&v["root"]);
    verify_inclusion(index, size, &leaf, &path, &root).unwrap();

    // Controls: the same proof must not verify anything else.
    let mut flipped = path.clone();
    flipped[21][0] ^= 1;
    assert_eq!(verify_inclusion(index, size, &leaf, &flipped, &root), Err(ProofError::RootMismatch));
    assert!(verify_inclusion(index + 1, size, &leaf, &path, &root).is_err());
    assert!(verify_inclusion(index, size, &leaf, &path[..21], &root).is_err());
}

/// What happened to one transparency-dev probe.
#[derive(Debug)]
enum Outcome {
    Verified,
    Rejected(ProofError),
    /// A root, leaf or proof hash is not 32 bytes: our typed API cannot even
    /// take it, so it can never verify.
    NotExpressible,
}

fn outcome(r: Result<(), ProofError>) -> Outcome {
    match r {
        Ok(()) => Outcome::Verified,
        Err(e) => Outcome::Rejected(e),
    }
}

/// Runs one tdmerkle inclusion probe.
fn run_inclusion_probe(v: &Value) -> Outcome {
    let (Some(root), Some(leaf), Some(path)) = (hash32(&v["root"]), hash32(&v["leafHash"]), proof32(&v["proof"]))
    else {
        return Outcome::NotExpressible;
    };
    outcome(verify_inclusion(u64_of(v, "leafIdx"), u64_of(v, "treeSize"), &leaf, &path, &root))
}

/// Runs one tdmerkle consistency probe.
fn run_consistency_probe(v: &Value) -> Outcome {
    let (Some(root1), Some(root2), Some(path)) = (hash32(&v["root1"]), hash32(&v["root2"]), proof32(&v["proof"]))
    else {
        return Outcome::NotExpressible;
    };
    outcome(verify_consistency(u64_of(v, "size1"), u64_of(v, "size2"), &root1, &root2, &path))
}

/// Tally of one tdmerkle file.
#[derive(Debug, Default, PartialEq, Eq)]
struct Tally {
    total: usize,
    /// `wantErr` probes, all of which failed.
    rejected: usize,
    /// Positive probes that verified.
    verified: usize,
    /// Positive probes whose hashes are not 32 bytes (file names).
    positive_not_expressible: Vec<String>,
    /// Probes carrying a README `policy_note`.
    policy: usize,
}

/// Runs every probe of a tdmerkle file: every `wantErr` probe must fail and
/// every other probe must verify (or be listed as not expressible).
fn run_probes(file: &str, run: fn(&Value) -> Outcome) -> Tally {
    let v = load(file);
    let vectors = v["vectors"].as_array().unwrap();
    let mut tally = Tally { total: vectors.len(), ..Tally::default() };
    for probe in vectors {
        let want_err = probe["wantErr"].as_bool().expect("wantErr");
        let name = probe["file"].as_str().unwrap();
        match (run(probe), want_err) {
            (Outcome::Verified, true) => panic!("{name}: tampered probe verified"),
            (Outcome::Verified, false) => tally.verified += 1,
            (Outcome::Rejected(_) | Outcome::NotExpressible, true) => tally.rejected += 1,
            (Outcome::Rejected(e), false) => panic!("{name}: valid proof rejected: {e}"),
            (Outcome::NotExpressible, false) => tally.positive_not_expressible.push(name.to_string()),
        }
        if probe.get("policy_note").is_some() {
            assert!(want_err, "{name}: policy notes are all on rejected probes");
            tally.policy += 1;
        }
    }
    tally
}

#[test]
fn tdmerkle_inclusion_probes() {
    let tally = run_probes("tdmerkle-inclusion.json", run_inclusion_probe);
    assert_eq!((tally.total, tally.rejected, tally.verified), (98, 92, 6));
    assert!(tally.positive_not_expressible.is_empty());
    assert_eq!(tally.policy, 1, "empty-root-and-leaf (0-byte hashes)");
}

#[test]
fn tdmerkle_consistency_probes() {
    let tally = run_probes("tdmerkle-consistency.json", run_consistency_probe);
    assert_eq!((tally.total, tally.rejected), (98, 92));
    assert_eq!(tally.policy, 3, "the three size1 = 0 probes");
    // One positive probe uses 12-byte placeholder roots ("don't care 2"):
    // transparency-dev compares roots as byte strings, so with equal sizes,
    // an empty proof and equal roots it passes. Our roots are 32-byte
    // `Hash`es, so it cannot be fed in as is; check the same rule with
    // 32-byte roots instead.
    assert_eq!(tally.verified, 5);
    assert_eq!(
        tally.positive_not_expressible,
        ["testdata/consistency/additional/sizes-are-equal-one-and-proof-is-empty.json"]
    );
    let placeholder: Hash = Sha256::digest(b"don't care 2").into();
    assert_eq!(verify_consistency(1, 1, &placeholder, &placeholder, &[]), Ok(()));
    assert_eq!(verify_consistency(7, 7, &placeholder, &placeholder, &[]), Ok(()));
    assert_eq!(
        verify_consistency(1, 1, &placeholder, &empty_root(), &[]),
        Err(ProofError::RootMismatch)
    );
}

#[test]
fn derived_all_proofs_8() {
    let v = load("derived-all-proofs-8.json");
    let inclusion = v["inclusion"].as_array().unwrap();
    let consistency = v["consistency"].as_array().unwrap();
    assert_eq!((inclusion.len(), consistency.len()), (36, 36));
    check_inclusion_kats(inclusion, "leaf_index", "tree_size");
    check_consistency_kats(consistency);

    // The file is complete: every (index, size) and (size1, size2) pair occurs.
    let mut pairs: Vec<(u64, u64)> =
        inclusion.iter().map(|c| (u64_of(c, "leaf_index"), u64_of(c, "tree_size"))).collect();
    pairs.sort();
    pairs.dedup();
    assert_eq!(pairs.len(), 36);
    let mut pairs: Vec<(u64, u64)> =
        consistency.iter().map(|c| (u64_of(c, "size1"), u64_of(c, "size2"))).collect();
    pairs.sort();
    pairs.dedup();
    assert_eq!(pairs.len(), 36);
}

#[test]
fn proof_requests_outside_the_tree_fail() {
    let (tree, _) = reference_tree();
    assert_eq!(tree.inclusion_proof(8, 8), Err(ProofError::IndexOutOfRange { index: 8, size: 8 }));
    assert_eq!(tree.inclusion_proof(0, 9), Err(ProofError::SizeTooLarge { size: 9, len: 8 }));
    assert_eq!(tree.consistency_proof(0, 8), Err(ProofError::EmptyOldTree));
    assert_eq!(tree.consistency_proof(0, 0), Err(ProofError::EmptyOldTree));
    assert_eq!(
        tree.consistency_proof(5, 4),
        Err(ProofError::OldSizeTooLarge { old_size: 5, new_size: 4 })
    );
    assert_eq!(tree.consistency_proof(3, 9), Err(ProofError::SizeTooLarge { size: 9, len: 8 }));
    assert_eq!(tree.consistency_proof(8, 8), Ok(vec![]));
}

/// RFC 9162 §2.1.1 MTH, written from the definition (recursive, over the
/// leaf hashes): an independent reference for the tree's roots.
fn reference_root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let k = split(n);
            node_hash(&reference_root(&leaves[..k]), &reference_root(&leaves[k..]))
        }
    }
}

/// The largest power of two smaller than `n` (n > 1).
fn split(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// RFC 9162 §2.1.3.1 PATH(m, D[n]).
fn reference_path(m: usize, leaves: &[Hash]) -> Vec<Hash> {
    let n = leaves.len();
    if n == 1 {
        return vec![];
    }
    let k = split(n);
    if m < k {
        let mut p = reference_path(m, &leaves[..k]);
        p.push(reference_root(&leaves[k..]));
        p
    } else {
        let mut p = reference_path(m - k, &leaves[k..]);
        p.push(reference_root(&leaves[..k]));
        p
    }
}

/// RFC 9162 §2.1.4.1 SUBPROOF(m, D[n], b).
fn reference_subproof(m: usize, leaves: &[Hash], complete: bool) -> Vec<Hash> {
    let n = leaves.len();
    if m == n {
        return if complete { vec![] } else { vec![reference_root(leaves)] };
    }
    let k = split(n);
    if m <= k {
        let mut p = reference_subproof(m, &leaves[..k], complete);
        p.push(reference_root(&leaves[k..]));
        p
    } else {
        let mut p = reference_subproof(m - k, &leaves[k..], false);
        p.push(reference_root(&leaves[..k]));
        p
    }
}

/// Every (index, size) and every (old, new) up to 64 leaves, as
/// transparency-dev/merkle tests its proofs: the tree's roots, inclusion
/// and consistency proofs equal the RFC's recursive definitions, each
/// verifies, and none verifies once corrupted: one hash changed, a hash
/// too few or too many, another leaf, index, size or root.
#[test]
fn every_proof_up_to_64_leaves_matches_the_rfc_definition() {
    const N: usize = 64;
    let leaves: Vec<Hash> = (0..N).map(|i| leaf_hash(format!("leaf {i}").as_bytes())).collect();
    let mut tree = Tree::new();
    for l in &leaves {
        tree.push(*l);
    }
    let flip = |p: &[Hash], i: usize| {
        let mut bad = p.to_vec();
        bad[i][0] ^= 1;
        bad
    };
    for size in 0..=N {
        let root = reference_root(&leaves[..size]);
        assert_eq!(tree.root_at(size as u64).unwrap(), root, "root of {size}");
        for index in 0..size {
            let proof = tree.inclusion_proof(index as u64, size as u64).unwrap();
            assert_eq!(proof, reference_path(index, &leaves[..size]), "inclusion proof of {index} in {size}");
            verify_inclusion(index as u64, size as u64, &leaves[index], &proof, &root).unwrap();
            for i in 0..proof.len() {
                assert!(verify_inclusion(index as u64, size as u64, &leaves[index], &flip(&proof, i), &root).is_err(), "a changed inclusion proof of {index} in {size} verifies");
            }
            // As transparency-dev corrupts a verification: another leaf,
            // another index, a root of another size, an index beyond the
            // tree, a hash too few or too many.
            for other in (0..size).filter(|&o| o != index) {
                assert!(verify_inclusion(index as u64, size as u64, &leaves[other], &proof, &root).is_err(), "leaf {other} verifies at {index} in {size}");
                assert!(verify_inclusion(other as u64, size as u64, &leaves[index], &proof, &root).is_err(), "leaf {index} verifies at {other} in {size}");
            }
            for other in [size - 1, size + 1].into_iter().filter(|&o| o >= 1 && o <= N) {
                assert!(verify_inclusion(index as u64, size as u64, &leaves[index], &proof, &reference_root(&leaves[..other])).is_err(), "{index} in {size} verifies against the root of {other}");
            }
            assert!(verify_inclusion(size as u64, size as u64, &leaves[index], &proof, &root).is_err());
            assert!(verify_inclusion(index as u64, index as u64, &leaves[index], &proof, &root).is_err());
            if let Some((_, shorter)) = proof.split_last() {
                assert!(verify_inclusion(index as u64, size as u64, &leaves[index], shorter, &root).is_err(), "{index} in {size} verifies with a hash too few");
            }
            for longer in [[proof.clone(), vec![root]].concat(), [vec![leaves[index]], proof.clone()].concat()] {
                assert!(verify_inclusion(index as u64, size as u64, &leaves[index], &longer, &root).is_err(), "{index} in {size} verifies with a hash too many");
            }
        }
        for old in 1..=size {
            let proof = tree.consistency_proof(old as u64, size as u64).unwrap();
            let want = if old == size { vec![] } else { reference_subproof(old, &leaves[..size], true) };
            assert_eq!(proof, want, "consistency proof {old} -> {size}");
            let old_root = reference_root(&leaves[..old]);
            verify_consistency(old as u64, size as u64, &old_root, &root, &proof).unwrap();
            for i in 0..proof.len() {
                assert!(verify_consistency(old as u64, size as u64, &old_root, &root, &flip(&proof, i)).is_err(), "a changed consistency proof {old} -> {size} verifies");
            }
            // Roots swapped or of other sizes, other sizes, a hash too few
            // or too many.
            if old != size {
                assert!(verify_consistency(old as u64, size as u64, &root, &old_root, &proof).is_err(), "{old} -> {size} verifies with the roots swapped");
            }
            for other in [old - 1, old + 1].into_iter().filter(|&o| o >= 1 && o <= size && o != old) {
                let other_root = reference_root(&leaves[..other]);
                assert!(verify_consistency(old as u64, size as u64, &other_root, &root, &proof).is_err(), "{old} -> {size} verifies from the root of {other}");
                assert!(verify_consistency(other as u64, size as u64, &old_root, &root, &proof).is_err(), "{old} -> {size} verifies as {other} -> {size}");
            }
            // (Not "as OLD -> SIZE+1" with the same roots: a proof's hashes
            // do not say the size, and 1 -> 3 has the shape of 1 -> 4; the
            // signed checkpoint binds the root to its size.)
            if size < N {
                assert!(verify_consistency(old as u64, size as u64, &old_root, &reference_root(&leaves[..size + 1]), &proof).is_err(), "{old} -> {size} verifies to the root of {}", size + 1);
            }
            if let Some((_, shorter)) = proof.split_last() {
                assert!(verify_consistency(old as u64, size as u64, &old_root, &root, shorter).is_err(), "{old} -> {size} verifies with a hash too few");
            }
            let longer = [proof.clone(), vec![root]].concat();
            assert!(verify_consistency(old as u64, size as u64, &old_root, &root, &longer).is_err(), "{old} -> {size} verifies with a hash too many");
        }
    }
}
