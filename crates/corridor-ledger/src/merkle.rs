//! RFC 6962 / RFC 9162 Merkle tree: hashing, an append-only in-memory tree,
//! inclusion and consistency proof generation, and proof verification.
//!
//! Hashing (RFC 9162 §2.1.1, SHA-256):
//!
//! * leaf hash  = `SHA256(0x00 || leaf bytes)`
//! * node hash  = `SHA256(0x01 || left || right)`
//! * empty tree = `SHA256("")`
//!
//! The Merkle Tree Hash of `n > 1` leaves splits them at `k`, the largest
//! power of two strictly smaller than `n`: `MTH(D[0:n]) =
//! node(MTH(D[0:k]), MTH(D[k:n]))`.
//!
//! Verification follows the bit-walking algorithms of RFC 9162 §2.1.3.2
//! (inclusion) and §2.1.4.2 (consistency), with the stricter input checks of
//! the transparency-dev/merkle Go library: wrong proof lengths, out-of-range
//! indexes and consistency proofs from an empty tree are all rejected.

use sha2::{Digest, Sha256};
use std::sync::OnceLock;

/// A SHA-256 hash: a leaf hash, an interior node hash or a tree root.
pub type Hash = [u8; 32];

/// RFC 6962 leaf hash: `SHA256(0x00 || data)`.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(data);
    h.finalize().into()
}

/// RFC 6962 interior node hash: `SHA256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut input = [0u8; 65];
    input[0] = 0x01;
    input[1..33].copy_from_slice(left);
    input[33..].copy_from_slice(right);
    Sha256::digest(input).into()
}

/// Root of the empty tree: `SHA256("")`.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// Why a proof could not be produced or did not verify.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProofError {
    /// The leaf index is not inside the tree (`index >= size`).
    #[error("leaf index {index} is out of range for tree size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    /// A proof or root was requested for more leaves than the tree holds.
    #[error("tree size {size} exceeds the number of leaves in the tree ({len})")]
    SizeTooLarge { size: u64, len: u64 },
    /// Consistency proofs need `old_size <= new_size`.
    #[error("old tree size {old_size} is larger than new tree size {new_size}")]
    OldSizeTooLarge { old_size: u64, new_size: u64 },
    /// Consistency proofs from the empty tree are not supported (as in
    /// transparency-dev/merkle): every tree is trivially consistent with the
    /// empty one, so such a "proof" would prove nothing.
    #[error("consistency proof from an empty tree (old size 0) is not supported")]
    EmptyOldTree,
    /// The proof does not have the number of hashes the sizes require.
    #[error("wrong proof length: got {got} hashes, expected {expected}")]
    WrongProofLength { got: usize, expected: usize },
    /// The proof's hashes do not lead to the expected (new) root.
    #[error("the proof does not lead to the expected root hash")]
    RootMismatch,
    /// The consistency proof's hashes do not lead to the old root.
    #[error("the consistency proof does not lead to the expected old root hash")]
    OldRootMismatch,
}

/// Append-only in-memory tree storing every complete subtree hash level by
/// level (`levels[0]` = leaf hashes, `levels[k][i]` = hash of leaves
/// `[i*2^k, (i+1)*2^k)`).
///
/// Storing every complete subtree costs about `2 * 32` bytes per leaf (64 MB
/// for a million leaves). Any proof then needs only `O(log n)` lookups plus
/// the hashes of the incomplete subtrees on the tree's right edge, which are
/// cached for the current size (computed once per size, in O(log n)).
#[derive(Clone, Default)]
pub struct Tree {
    levels: Vec<Vec<Hash>>,
    /// Right-edge hashes for the current size, computed on first use and
    /// dropped whenever the size changes.
    border: OnceLock<Border>,
}

/// The right-edge ("border") hashes of a tree of `size` leaves.
///
/// Write `size` in binary: each set bit `b` is one complete subtree of `2^b`
/// leaves, largest on the left. `hashes[b]` (for a set bit `b`) is the hash
/// of that subtree together with every smaller one to its right, i.e. of
/// leaves `[start_b, size)` where `start_b` is `size` with bits `0..=b`
/// cleared. These are exactly the incomplete subtrees RFC 6962 proofs can
/// need; the entry for the highest bit is the root.
#[derive(Clone)]
struct Border {
    hashes: [Hash; 64],
}

/// Largest power of two strictly smaller than `n` (`n >= 2`): the RFC 6962 split point.
fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (63 - (n - 1).leading_zeros())
}

/// Number of hashes in the inclusion proof of leaf `index` in a tree of `size`
/// leaves (`index < size`): one per level below the point where the paths to
/// `index` and to the last leaf `size - 1` join (`inner`), plus one per left
/// sibling above it (`border`).
fn inclusion_proof_len(index: u64, size: u64) -> usize {
    let inner = 64 - (index ^ (size - 1)).leading_zeros();
    let border = (index >> inner).count_ones();
    (inner + border) as usize
}

/// Number of hashes in a consistency proof (`0 < old_size < new_size`).
///
/// Like the inclusion proof of the old tree's last leaf, except that the
/// `shift` lowest levels (the old tree's last complete subtree, of `2^shift`
/// leaves) collapse into one seed hash, which is left out when the old tree
/// is itself that complete subtree (a power of two).
fn consistency_proof_len(old_size: u64, new_size: u64) -> usize {
    let shift = old_size.trailing_zeros() as usize;
    let seed = usize::from(!old_size.is_power_of_two());
    inclusion_proof_len(old_size - 1, new_size) - shift + seed
}

impl Tree {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty tree with room for `leaves` leaves (and their subtrees)
    /// reserved at once.
    pub fn with_capacity(leaves: usize) -> Self {
        let mut levels = Vec::new();
        let mut n = leaves;
        while n > 0 {
            levels.push(Vec::with_capacity(n));
            n /= 2;
        }
        Tree { levels, border: OnceLock::new() }
    }

    /// Appends a leaf hash and returns its index. Amortised O(1): every
    /// subtree the new leaf completes is hashed once, here.
    pub fn push(&mut self, leaf_hash: Hash) -> u64 {
        self.border.take();
        if self.levels.is_empty() {
            self.levels.push(Vec::new());
        }
        self.levels[0].push(leaf_hash);
        let index = self.levels[0].len() as u64 - 1;
        // While level k has an even number of nodes, its last two form a
        // newly completed subtree at level k + 1.
        let mut k = 0;
        while self.levels[k].len() & 1 == 0 {
            let n = self.levels[k].len();
            let parent = node_hash(&self.levels[k][n - 2], &self.levels[k][n - 1]);
            if self.levels.len() == k + 1 {
                self.levels.push(Vec::new());
            }
            self.levels[k + 1].push(parent);
            k += 1;
        }
        index
    }

    /// Number of leaves.
    pub fn len(&self) -> u64 {
        self.levels.first().map_or(0, |l| l.len() as u64)
    }

    /// True when the tree has no leaves.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The leaf hash at `index`, if present.
    pub fn leaf(&self, index: u64) -> Option<Hash> {
        self.levels.first()?.get(usize::try_from(index).ok()?).copied()
    }

    /// The hashes of the complete subtrees of `2^level` leaves numbered
    /// `start..end` (subtree `i` covers leaves `[i*2^level, (i+1)*2^level)`):
    /// what a C2SP tlog-tiles hash tile holds. `None` if any is not complete
    /// in the tree as it is.
    pub fn level_hashes(&self, level: usize, start: u64, end: u64) -> Option<&[Hash]> {
        let (start, end) = (usize::try_from(start).ok()?, usize::try_from(end).ok()?);
        if start > end {
            return None;
        }
        self.levels.get(level).and_then(|l| l.get(start..end)).or_else(|| (start == end).then_some(&[][..]))
    }

    /// Drops every leaf with index `>= size` (and the subtree hashes that
    /// covered them). Used to roll back a failed write. No-op if `size >= len()`.
    pub fn truncate(&mut self, size: u64) {
        if size >= self.len() {
            return;
        }
        self.border.take();
        for (k, level) in self.levels.iter_mut().enumerate() {
            level.truncate((size >> k) as usize);
        }
        while self.levels.last().is_some_and(|l| l.is_empty()) {
            self.levels.pop();
        }
    }

    /// Root of the whole tree (`empty_root()` when empty).
    pub fn root(&self) -> Hash {
        self.root_at(self.len()).expect("the current size is always valid")
    }

    /// Root of the first `size` leaves (`empty_root()` for 0).
    pub fn root_at(&self, size: u64) -> Result<Hash, ProofError> {
        self.check_size(size)?;
        if size == 0 {
            return Ok(empty_root());
        }
        let top = 63 - size.leading_zeros();
        Ok(self.border(size).hashes[top as usize])
    }

    /// Inclusion proof (RFC 9162 §2.1.3.1 `PATH`) for leaf `index` in the
    /// tree of the first `size` leaves, ordered from the leaf up to the root.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, ProofError> {
        self.check_size(size)?;
        if index >= size {
            return Err(ProofError::IndexOutOfRange { index, size });
        }
        let border = self.border(size);
        let mut proof = Vec::with_capacity(inclusion_proof_len(index, size));
        // Walk down from the root range [lo, hi) = [0, size), recording the
        // sibling of the half that contains `index` at each split.
        let (mut lo, mut hi) = (0, size);
        while hi - lo > 1 {
            let mid = lo + split_point(hi - lo);
            if index < mid {
                proof.push(self.range_hash(mid, hi, size, &border));
                hi = mid;
            } else {
                proof.push(self.range_hash(lo, mid, size, &border));
                lo = mid;
            }
        }
        proof.reverse();
        Ok(proof)
    }

    /// Consistency proof (RFC 9162 §2.1.4.1 `SUBPROOF`) between the trees of
    /// the first `old_size` and `new_size` leaves, ordered bottom-up.
    ///
    /// `old_size == 0` is an error ([`ProofError::EmptyOldTree`]), as in
    /// transparency-dev/merkle; `old_size == new_size` gives an empty proof.
    pub fn consistency_proof(&self, old_size: u64, new_size: u64) -> Result<Vec<Hash>, ProofError> {
        self.check_size(new_size)?;
        if old_size > new_size {
            return Err(ProofError::OldSizeTooLarge { old_size, new_size });
        }
        if old_size == 0 {
            return Err(ProofError::EmptyOldTree);
        }
        if old_size == new_size {
            return Ok(Vec::new());
        }
        let border = self.border(new_size);
        let mut proof = Vec::with_capacity(consistency_proof_len(old_size, new_size));
        // SUBPROOF(m, D[lo:hi], whole_old_tree) walked iteratively: `m` is the
        // number of old leaves inside [lo, hi); `whole_old_tree` stays true
        // while [lo, lo + m) is the entire old tree (whose root the verifier
        // already has, so it is not sent).
        let (mut lo, mut hi, mut m) = (0, new_size, old_size);
        let mut whole_old_tree = true;
        while m != hi - lo {
            let k = split_point(hi - lo);
            if m <= k {
                proof.push(self.range_hash(lo + k, hi, new_size, &border));
                hi = lo + k;
            } else {
                proof.push(self.range_hash(lo, lo + k, new_size, &border));
                lo += k;
                m -= k;
                whole_old_tree = false;
            }
        }
        if !whole_old_tree {
            proof.push(self.range_hash(lo, hi, new_size, &border));
        }
        proof.reverse();
        Ok(proof)
    }

    fn check_size(&self, size: u64) -> Result<(), ProofError> {
        let len = self.len();
        if size > len {
            return Err(ProofError::SizeTooLarge { size, len });
        }
        Ok(())
    }

    /// Border hashes for `size` (`0 < size <= len`): cached for the current
    /// size, computed in O(log size) otherwise.
    fn border(&self, size: u64) -> std::borrow::Cow<'_, Border> {
        if size == self.len() {
            std::borrow::Cow::Borrowed(self.border.get_or_init(|| self.compute_border(size)))
        } else {
            std::borrow::Cow::Owned(self.compute_border(size))
        }
    }

    /// Computes [`Border`] for `size` from the stored complete subtrees,
    /// smallest subtree first: one node hash per set bit of `size`.
    fn compute_border(&self, size: u64) -> Border {
        let mut hashes = [[0u8; 32]; 64];
        let mut acc: Option<Hash> = None;
        for (b, slot) in hashes.iter_mut().enumerate() {
            if size & (1 << b) == 0 {
                continue;
            }
            // The subtree for bit b starts where the larger ones (bits > b) end.
            let start = size & !((1u64 << b) | ((1u64 << b) - 1));
            let subtree = self.levels[b][(start >> b) as usize];
            let h = match acc {
                None => subtree,
                Some(right) => node_hash(&subtree, &right),
            };
            *slot = h;
            acc = Some(h);
        }
        Border { hashes }
    }

    /// Hash of leaves `[lo, hi)` in the tree of `size` leaves. Proof
    /// generation only asks for complete aligned subtrees (a stored hash) or
    /// right-edge ranges ending at `size` (a border hash).
    fn range_hash(&self, lo: u64, hi: u64, size: u64, border: &Border) -> Hash {
        let n = hi - lo;
        if n.is_power_of_two() && lo & (n - 1) == 0 {
            let level = n.trailing_zeros() as usize;
            self.levels[level][(lo >> level) as usize]
        } else {
            debug_assert_eq!(hi, size, "incomplete subtrees only occur on the right edge");
            let b = 63 - n.leading_zeros();
            border.hashes[b as usize]
        }
    }
}

impl std::fmt::Debug for Tree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tree")
            .field("len", &self.len())
            .field("root", &hex::encode(self.root()))
            .finish()
    }
}

/// Verifies that `leaf_hash` is leaf `index` of the tree of `size` leaves
/// whose root is `root`, using RFC 9162 §2.1.3.2.
///
/// Fails if `index >= size`, if the proof has the wrong number of hashes, or
/// if the computed root differs from `root`.
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf_hash: &Hash,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let expected = inclusion_proof_len(index, size);
    if proof.len() != expected {
        return Err(ProofError::WrongProofLength { got: proof.len(), expected });
    }
    // RFC 9162 §2.1.3.2 from here on. `fn_` is the index of the current node
    // within its level, `sn` the index of the last node of that level; both
    // move up one level per step. (The `sn` checks below cannot fire after the
    // length check above; they are kept so the code reads like the RFC.)
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r = *leaf_hash;
    for p in proof {
        if sn == 0 {
            return Err(ProofError::WrongProofLength { got: proof.len(), expected });
        }
        if fn_ & 1 == 1 || fn_ == sn {
            // We are a right child, or the last node of the level (which is
            // promoted unchanged until it becomes a right child).
            r = node_hash(p, &r);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(ProofError::WrongProofLength { got: proof.len(), expected });
    }
    if r != *root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// Verifies that the tree of `new_size` leaves with root `new_root` extends
/// the tree of `old_size` leaves with root `old_root`, using RFC 9162 §2.1.4.2.
///
/// * `old_size == 0` is an error ([`ProofError::EmptyOldTree`]), even when
///   `new_size == 0`: as in transparency-dev/merkle (bare RFC 9162 would call
///   it trivially consistent).
/// * `old_size == new_size` requires an empty proof and equal roots.
/// * `old_size > new_size` and proofs of the wrong length are errors.
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if old_size == 0 {
        return Err(ProofError::EmptyOldTree);
    }
    if old_size > new_size {
        return Err(ProofError::OldSizeTooLarge { old_size, new_size });
    }
    if old_size == new_size {
        if !proof.is_empty() {
            return Err(ProofError::WrongProofLength { got: proof.len(), expected: 0 });
        }
        return if old_root == new_root { Ok(()) } else { Err(ProofError::RootMismatch) };
    }
    let expected = consistency_proof_len(old_size, new_size);
    if proof.len() != expected {
        return Err(ProofError::WrongProofLength { got: proof.len(), expected });
    }
    // If the old tree is a complete subtree, its root is the first hash of
    // the path (RFC 9162 step 2: "prepend first_hash").
    let (seed, rest) = if old_size.is_power_of_two() {
        (old_root, proof)
    } else {
        (&proof[0], &proof[1..])
    };
    // RFC 9162 §2.1.4.2 from here on (the `sn` checks, as in
    // `verify_inclusion`, back up the length check above).
    let (mut fn_, mut sn) = (old_size - 1, new_size - 1);
    // Skip the levels inside the old tree's last complete subtree.
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let (mut fr, mut sr) = (*seed, *seed);
    for c in rest {
        if sn == 0 {
            return Err(ProofError::WrongProofLength { got: proof.len(), expected });
        }
        if fn_ & 1 == 1 || fn_ == sn {
            // A left sibling: part of both the old and the new tree.
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            // A right sibling: only in the new tree.
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(ProofError::WrongProofLength { got: proof.len(), expected });
    }
    if fr != *old_root {
        return Err(ProofError::OldRootMismatch);
    }
    if sr != *new_root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}
