//! Partial re-customization of a CCH metric: when a few input arcs change
//! weight (a hazard closes roads: their travel time becomes
//! [`cch::INF_WEIGHT`]; it lifts: they get their old time back), only the
//! CCH arcs those changes can reach are recomputed, instead of running
//! [`cch::Cch::customize`] over the whole hierarchy again.
//!
//! The method is the partial customization of Dibbelt, Strasser and Wagner,
//! "Customizable Contraction Hierarchies", ACM Journal of Experimental
//! Algorithmics 21 (2016), in its section on partial (incremental)
//! updates, as implemented by `RoutingKit`'s
//! `CustomizableContractionHierarchyPartialCustomization`.
//!
//! # What the full customization computes
//!
//! `cch` 0.3 ports `RoutingKit`'s *basic* customization (no perfect
//! customization, no pruning of arcs). Let up-arc `(x, z)`, `x < z` in
//! rank order, carry `forward` = the weight from `x` to `z` (lower rank to
//! higher rank) and `backward` = the weight from `z` to `x`. The result
//! of `Cch::customize(weights)` is, for every up-arc:
//!
//! ```text
//! forward[xz]  = min(init_f(xz), min over y: add(backward[yx], forward[yz]))
//! backward[xz] = min(init_b(xz), min over y: add(forward[yx],  backward[yz]))
//! ```
//!
//! where `y` ranges over the lower triangles `{y, x, z}` (`y < x` adjacent
//! to both), `init_f(xz)` is `weights[forward_input_arc_of_cch[xz]]` (or
//! `INF_WEIGHT` when there is none) min-combined with the extra parallel
//! input arcs, likewise `init_b` with the backward lists, and `add` is a
//! *wrapping* `u32` addition (the C++ adds raw `unsigned`s; with weights
//! `<= INF_WEIGHT = 2^31 - 1` it cannot wrap, so `INF + INF` stays above
//! `INF`). The value of an arc depends only on arcs whose lower endpoint
//! (`up_tail`) has a smaller rank, and a minimum does not depend on the
//! order it is taken in, so recomputing one arc from scratch from the
//! current values of its lower triangles yields exactly the bits the full
//! customization writes, whatever the weights (even weights above
//! `INF_WEIGHT`, where sums may wrap: the wrap is reproduced too).
//!
//! # The update
//!
//! 1. The CCH arcs the changed input arcs map to
//!    (`input_arc_to_cch_arc`, self-loops map to nothing) are queued.
//! 2. Queued arcs are taken node by node, in increasing rank of their
//!    lower endpoint `x` (smallest arc id first: up-arcs are sorted by
//!    tail, then head). Every arc they depend on is final by then, and
//!    the up-arcs of one node do not depend on each other.
//! 3. The queued up-arcs `(x, z)` of `x` are recomputed from scratch as
//!    above: input weights, then every lower triangle, found either per
//!    arc (for each down-neighbour `y` of `x`, binary search `z` among the
//!    up-arcs of `y`) or once for the node like the full customization
//!    does (scan the up-arcs of each `y` above `x`), whichever an estimate
//!    says is cheaper.
//! 4. The arcs whose weights changed are written. Up-neighbourhoods are
//!    cliques in the chordal CCH, so any two up-arcs `(x, a)`, `(x, b)`,
//!    `a < b`, are the lower edges of the triangle with top `(a, b)`. For
//!    each such pair with a changed arc, the top is queued only if the
//!    change can move its minimum, as in `RoutingKit`: the old candidate
//!    through the triangle was *tight* (equal to the top's weight, so the
//!    minimum may rise), or the new candidate is *smaller* (it falls).
//!    Otherwise the top's minimum is attained by another term and stays.
//!    Each triangle is tested once with the old and new weights of both
//!    lower arcs, so the test is exact.
//!
//! Each arc is recomputed at most once per update (tops always have a
//! strictly higher tail than the arc that queues them). Closing roads that
//! no shortcut's shortest path used recomputes only the CCH arcs the
//! closed roads map to. The work is that of the lower and upper triangles
//! of the recomputed arcs: arcs high in the hierarchy have the most, so a
//! change right under a top-level separator costs the most.
//!
//! The queue is a binary heap of arc ids plus a bit per arc; both persist
//! in [`PartialCustomizer`], so an update allocates nothing once warm.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use cch::bundle::INVALID_ID;
use cch::{Cch, Metric, INF_WEIGHT};

/// The crate's `add`: raw `u32` addition, wrapping like the C++ `unsigned`.
#[inline]
fn add(a: u32, b: u32) -> u32 {
    a.wrapping_add(b)
}

/// The crate's `min_to`.
#[inline]
fn min_to(x: &mut u32, y: u32) {
    if y < *x {
        *x = y;
    }
}

/// Scratch state for partial updates of the metrics of one [`Cch`].
///
/// It holds no reference to the `Cch` (so it can live next to it in one
/// struct); [`Self::update`] takes the `Cch` again and checks that its
/// sizes are those it was made for.
#[derive(Debug, Clone)]
pub struct PartialCustomizer {
    node_count: usize,
    cch_arc_count: usize,
    input_arc_count: usize,
    /// One bit per CCH arc: set while the arc is in `queue`.
    queued: Vec<u64>,
    /// CCH arcs to recompute, smallest id first.
    queue: BinaryHeap<Reverse<u32>>,
    /// The queued up-arcs of the node being processed, and their new
    /// forward / backward weights.
    batch: Vec<u32>,
    batch_f: Vec<u32>,
    batch_b: Vec<u32>,
    /// The old weights of all up-arcs of that node, and the positions
    /// among them of the arcs that changed.
    old_f: Vec<u32>,
    old_b: Vec<u32>,
    changed_pos: Vec<u32>,
    /// Per node `z`: index in `batch` of the batch arc `(x, z)`, or
    /// `INVALID_ID`. All `INVALID_ID` between nodes.
    slot_of_head: Vec<u32>,
    /// How CCH arcs are recomputed (tests force each way).
    strategy: Strategy,
    /// How many CCH arcs changed value in the last update.
    last_changed: usize,
    /// The lower endpoints (ranks) of those arcs, each once.
    changed_tails: Vec<u32>,
}

/// How the lower triangles of the queued up-arcs of one node `x` are found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(test), allow(dead_code))] // only tests force one way
enum Strategy {
    /// Per queued arc `(x, z)`: for each down-neighbour `y` of `x`, binary
    /// search `z` among the up-arcs of `y`. Costs about
    /// `k * |down(x)| * log(up-degree)` for `k` queued arcs.
    PerArc,
    /// Once for the node, like the full customization: for each
    /// down-neighbour `y` of `x`, scan the up-arcs of `y` above `x` and
    /// relax those whose head has a queued arc. Costs the number of
    /// lower triangles of all up-arcs of `x`, however few are queued.
    PerNode,
    /// Whichever of the two is estimated cheaper, node by node.
    Auto,
}

impl PartialCustomizer {
    /// Scratch space for partial updates of metrics of `cch`.
    ///
    /// # Panics
    /// If the arrays of `cch` do not have consistent lengths.
    #[must_use]
    pub fn new(cch: &Cch) -> Self {
        let n = cch.node_count();
        let m = cch.cch_arc_count();
        assert!(
            cch.up_first_out.len() == n + 1
                && cch.down_first_out.len() == n + 1
                && cch.up_first_out[n] as usize == m
                && cch.down_first_out[n] as usize == m
                && cch.up_tail.len() == m
                && cch.down_head.len() == m
                && cch.down_to_up.len() == m
                && cch.forward_input_arc_of_cch.len() == m
                && cch.backward_input_arc_of_cch.len() == m
                && cch.first_extra_forward_input_arc_of_cch.len() == m + 1
                && cch.first_extra_backward_input_arc_of_cch.len() == m + 1,
            "malformed Cch: inconsistent array lengths"
        );
        PartialCustomizer {
            node_count: n,
            cch_arc_count: m,
            input_arc_count: cch.input_arc_to_cch_arc.len(),
            queued: vec![0; m.div_ceil(64)],
            queue: BinaryHeap::new(),
            batch: Vec::new(),
            batch_f: Vec::new(),
            batch_b: Vec::new(),
            old_f: Vec::new(),
            old_b: Vec::new(),
            changed_pos: Vec::new(),
            slot_of_head: vec![INVALID_ID; n],
            strategy: Strategy::Auto,
            last_changed: 0,
            changed_tails: Vec::new(),
        }
    }

    /// Updates `metric` to `cch.customize(weights)`, bit for bit,
    /// recomputing only the CCH arcs the `changed` input arcs reach.
    ///
    /// `metric` must equal `cch.customize(old)` for some weight vector `old`
    /// that differs from `weights` at most at the input arcs listed in
    /// `changed` (listing an arc whose weight did not change, or an arc
    /// twice, is harmless). Returns how many CCH arcs were recomputed;
    /// [`Self::last_changed_arcs`] tells how many of them changed value.
    ///
    /// # Panics
    /// If `cch` does not have the sizes this customizer was made for, if
    /// `weights` or `metric` do not fit `cch`, or if `changed` names an
    /// input arc that does not exist.
    pub fn update(
        &mut self,
        cch: &Cch,
        weights: &[u32],
        changed: &[u32],
        metric: &mut Metric,
    ) -> usize {
        assert!(
            cch.node_count() == self.node_count
                && cch.cch_arc_count() == self.cch_arc_count
                && cch.input_arc_to_cch_arc.len() == self.input_arc_count,
            "PartialCustomizer used with another Cch than it was made for"
        );
        assert_eq!(
            weights.len(),
            self.input_arc_count,
            "weights length must equal input arc count"
        );
        assert!(
            metric.forward.len() == self.cch_arc_count
                && metric.backward.len() == self.cch_arc_count,
            "metric does not belong to this Cch"
        );

        for &input_arc in changed {
            let arc = cch.input_arc_to_cch_arc[input_arc as usize];
            if arc != INVALID_ID {
                self.push(arc);
            }
        }

        let mut recomputed = 0;
        let mut changed_arcs = 0;
        self.changed_tails.clear();
        // Node by node, in increasing rank of the lower endpoint `x`: the
        // queued up-arcs of `x` depend only on arcs of lower nodes (final
        // by now), not on each other, so they are recomputed together.
        while let Some(&Reverse(first)) = self.queue.peek() {
            let x = cch.up_tail[first as usize];
            self.batch.clear();
            while let Some(&Reverse(arc)) = self.queue.peek() {
                if cch.up_tail[arc as usize] != x {
                    break;
                }
                self.queue.pop();
                self.queued[arc as usize / 64] &= !(1u64 << (arc % 64));
                self.batch.push(arc);
            }
            recomputed += self.batch.len();
            self.recompute_batch(cch, weights, metric, x as usize);
            let changed_here = self.write_and_propagate(cch, metric, x as usize);
            if changed_here > 0 {
                self.changed_tails.push(x);
            }
            changed_arcs += changed_here;
        }
        self.last_changed = changed_arcs;
        recomputed
    }

    /// How many CCH arcs changed value in the last [`Self::update`].
    #[must_use]
    pub fn last_changed_arcs(&self) -> usize {
        self.last_changed
    }

    /// The lower endpoints (ranks) of the CCH arcs that changed value in
    /// the last [`Self::update`], in increasing rank, each once.
    #[must_use]
    pub fn last_changed_tails(&self) -> &[u32] {
        &self.changed_tails
    }

    #[inline]
    fn is_queued(&self, arc: u32) -> bool {
        self.queued[arc as usize / 64] & (1u64 << (arc % 64)) != 0
    }

    #[inline]
    fn push(&mut self, arc: u32) {
        let word = &mut self.queued[arc as usize / 64];
        let bit = 1u64 << (arc % 64);
        if *word & bit == 0 {
            *word |= bit;
            self.queue.push(Reverse(arc));
        }
    }

    /// Computes into `batch_f` / `batch_b` the weights `Cch::customize`
    /// gives the up-arcs of `x` in `batch`, from their input arcs and the
    /// current (final) weights of their lower triangles `{y, x, z}`,
    /// `y < x < z`:
    /// `forward[xz] <- add(backward[yx], forward[yz])`,
    /// `backward[xz] <- add(forward[yx], backward[yz])`.
    fn recompute_batch(&mut self, cch: &Cch, weights: &[u32], metric: &Metric, x: usize) {
        let fwd = &metric.forward;
        let bwd = &metric.backward;
        self.batch_f.clear();
        self.batch_b.clear();
        for &arc in &self.batch {
            let (f, b) = initial_weights(cch, weights, arc as usize);
            self.batch_f.push(f);
            self.batch_b.push(b);
        }
        let downs = cch.down_first_out[x] as usize..cch.down_first_out[x + 1] as usize;
        let k = self.batch.len();
        let per_node = match self.strategy {
            Strategy::PerArc => false,
            Strategy::PerNode => true,
            Strategy::Auto => {
                // Scanning costs the up-arcs above `x` of every `y`; the
                // binary searches cost about log2 of that, per queued arc.
                k > 1 && {
                    let (mut scan, mut search) = (0usize, 0usize);
                    for d in downs.clone() {
                        let bottom = cch.down_to_up[d] as usize;
                        let y = cch.down_head[d] as usize;
                        let above = cch.up_first_out[y + 1] as usize - bottom - 1;
                        scan += above;
                        search += (usize::BITS - above.leading_zeros()) as usize + 1;
                    }
                    scan < search * k
                }
            }
        };
        if per_node {
            for (i, &arc) in self.batch.iter().enumerate() {
                #[allow(clippy::cast_possible_truncation)] // batch <= up-degree
                let slot = i as u32;
                self.slot_of_head[cch.up_head[arc as usize] as usize] = slot;
            }
            for d in downs {
                let bottom = cch.down_to_up[d] as usize; // (y, x)
                let y = cch.down_head[d] as usize;
                let (bf, bb) = (fwd[bottom], bwd[bottom]);
                // The up-arcs of y above x follow (y, x): heads sorted.
                for mid in bottom + 1..cch.up_first_out[y + 1] as usize {
                    let slot = self.slot_of_head[cch.up_head[mid] as usize];
                    if slot != INVALID_ID {
                        let i = slot as usize;
                        min_to(&mut self.batch_f[i], add(bb, fwd[mid]));
                        min_to(&mut self.batch_b[i], add(bf, bwd[mid]));
                    }
                }
            }
            for &arc in &self.batch {
                self.slot_of_head[cch.up_head[arc as usize] as usize] = INVALID_ID;
            }
        } else {
            for (i, &arc) in self.batch.iter().enumerate() {
                let z = cch.up_head[arc as usize];
                let (mut f, mut b) = (self.batch_f[i], self.batch_b[i]);
                for d in downs.clone() {
                    let bottom = cch.down_to_up[d] as usize; // (y, x)
                    let y = cch.down_head[d] as usize;
                    // (y, z) lies after (y, x) among y's up-arcs.
                    let lo = bottom + 1;
                    let hi = cch.up_first_out[y + 1] as usize;
                    if let Ok(offset) = cch.up_head[lo..hi].binary_search(&z) {
                        let mid = lo + offset; // (y, z)
                        min_to(&mut f, add(bwd[bottom], fwd[mid]));
                        min_to(&mut b, add(fwd[bottom], bwd[mid]));
                    }
                }
                self.batch_f[i] = f;
                self.batch_b[i] = b;
            }
        }
    }

    /// Writes the new weights of the batch arcs of `y` into `metric` and
    /// queues the top arcs of the triangles they are lower edges of whose
    /// minimum may have changed. Returns how many arcs changed value.
    ///
    /// The up-neighbours of `y` form a clique, so any two up-arcs
    /// `i = (y, a)`, `j = (y, b)`, `a < b`, are the bottom and mid arcs of
    /// the triangle with top `(a, b)`, which gets
    /// `forward[ab]  <- add(backward[i], forward[j])` and
    /// `backward[ab] <- add(forward[i], backward[j])`.
    /// For every such pair with at least one changed arc, the top is
    /// queued if its old candidate was tight (equal to the top's weight,
    /// which is still the old one: its tail is above `y`) or its new
    /// candidate is smaller. Each triangle is tested once, with the old and
    /// new weights of both lower arcs, so the test is exact however many
    /// of them changed.
    fn write_and_propagate(&mut self, cch: &Cch, metric: &mut Metric, y: usize) -> usize {
        let begin = cch.up_first_out[y] as usize;
        let end = cch.up_first_out[y + 1] as usize;
        self.old_f.clear();
        self.old_f.extend_from_slice(&metric.forward[begin..end]);
        self.old_b.clear();
        self.old_b.extend_from_slice(&metric.backward[begin..end]);
        self.changed_pos.clear();
        for (i, &arc) in self.batch.iter().enumerate() {
            let a = arc as usize;
            if self.batch_f[i] != metric.forward[a] || self.batch_b[i] != metric.backward[a] {
                metric.forward[a] = self.batch_f[i];
                metric.backward[a] = self.batch_b[i];
                #[allow(clippy::cast_possible_truncation)] // < up-degree
                self.changed_pos.push((a - begin) as u32);
            }
        }
        if self.changed_pos.is_empty() {
            return 0;
        }
        // batch is sorted, so changed_pos is too.
        let fwd = &metric.forward;
        let bwd = &metric.backward;
        let up_head = &cch.up_head;
        let up_count = end - begin;
        let mut next_changed = 0; // first index in changed_pos with pos > i
        for i in 0..up_count {
            let i_changed = self
                .changed_pos
                .get(next_changed)
                .is_some_and(|&p| p as usize == i);
            if i_changed {
                next_changed += 1;
            }
            if !i_changed && next_changed == self.changed_pos.len() {
                break; // no changed arc at or above i: no pair left
            }
            let a = up_head[begin + i] as usize;
            let (of_i, ob_i, nf_i, nb_i) =
                (self.old_f[i], self.old_b[i], fwd[begin + i], bwd[begin + i]);
            // Tops (a, b) lie in a's up-arcs, sorted by b like y's.
            let mut t = cch.up_first_out[a] as usize;
            let t_end = cch.up_first_out[a + 1] as usize;
            let test = |j: usize, t: &mut usize, this: &mut Self| {
                let b = up_head[begin + j];
                *t = gallop(up_head, *t, t_end, b);
                assert!(*t < t_end && up_head[*t] == b, "malformed Cch: not chordal");
                #[allow(clippy::cast_possible_truncation)] // arc ids fit u32 in cch
                let top = *t as u32;
                if this.is_queued(top) {
                    return;
                }
                let (ft, bt) = (fwd[*t], bwd[*t]);
                let (of_j, ob_j, nf_j, nb_j) =
                    (this.old_f[j], this.old_b[j], fwd[begin + j], bwd[begin + j]);
                if add(ob_i, of_j) == ft
                    || add(of_i, ob_j) == bt
                    || add(nb_i, nf_j) < ft
                    || add(nf_i, nb_j) < bt
                {
                    this.push(top);
                }
            };
            if i_changed {
                for j in i + 1..up_count {
                    test(j, &mut t, self);
                }
            } else {
                for k in next_changed..self.changed_pos.len() {
                    test(self.changed_pos[k] as usize, &mut t, self);
                }
            }
        }
        self.changed_pos.len()
    }
}

/// The first index `>= t` (and `<= end`) whose head is `>= b`, in the
/// sorted `heads[t..end]`, by exponential then binary search from `t`.
#[inline]
fn gallop(heads: &[u32], t: usize, end: usize, b: u32) -> usize {
    if t >= end || heads[t] >= b {
        return t;
    }
    // heads[lo] < b
    let mut lo = t;
    let mut step = 1;
    while lo + step < end && heads[lo + step] < b {
        lo += step;
        step *= 2;
    }
    let hi = (lo + step).min(end);
    lo + 1 + heads[lo + 1..hi].partition_point(|&h| h < b)
}

/// The weights phase 1 of `Cch::customize` gives arc `xz` (its input arcs
/// only). The first input arc is assigned, not min-combined with INF, then
/// the extra parallel ones are min'ed in, exactly as the crate does.
fn initial_weights(cch: &Cch, weights: &[u32], xz: usize) -> (u32, u32) {
    let mut f = INF_WEIGHT;
    let mut b = INF_WEIGHT;
    let fwd_in = cch.forward_input_arc_of_cch[xz];
    if fwd_in != INVALID_ID {
        f = weights[fwd_in as usize];
    }
    let bwd_in = cch.backward_input_arc_of_cch[xz];
    if bwd_in != INVALID_ID {
        b = weights[bwd_in as usize];
    }
    let ef = &cch.first_extra_forward_input_arc_of_cch;
    for j in ef[xz]..ef[xz + 1] {
        min_to(
            &mut f,
            weights[cch.extra_forward_input_arc_of_cch[j as usize] as usize],
        );
    }
    let eb = &cch.first_extra_backward_input_arc_of_cch;
    for j in eb[xz]..eb[xz + 1] {
        min_to(
            &mut b,
            weights[cch.extra_backward_input_arc_of_cch[j as usize] as usize],
        );
    }
    (f, b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cch::graph::Graph;
    use proptest::prelude::any;
    use rand::rngs::StdRng;
    use rand::seq::SliceRandom;
    use rand::{Rng, SeedableRng};

    /// CSR graph from an arc list (arcs keep their relative order per tail).
    fn csr(n: usize, arcs: &[(u32, u32)], weight: Vec<u32>) -> Graph {
        let mut idx: Vec<usize> = (0..arcs.len()).collect();
        idx.sort_by_key(|&i| arcs[i].0); // stable
        let mut first_out = vec![0u32; n + 1];
        for &(t, _) in arcs {
            first_out[t as usize + 1] += 1;
        }
        for v in 0..n {
            first_out[v + 1] += first_out[v];
        }
        Graph {
            first_out,
            head: idx.iter().map(|&i| arcs[i].1).collect(),
            weight: idx.iter().map(|&i| weight[i]).collect(),
        }
    }

    fn tails(g: &Graph) -> Vec<u32> {
        let mut t = Vec::with_capacity(g.arc_count());
        for v in 0..g.node_count() {
            for _ in g.first_out[v]..g.first_out[v + 1] {
                t.push(v as u32);
            }
        }
        t
    }

    /// A weight: mostly small, sometimes 0 or `INF_WEIGHT`, and (if
    /// `beyond_inf`) sometimes above `INF_WEIGHT`, where sums wrap.
    fn weight(rng: &mut StdRng, beyond_inf: bool) -> u32 {
        match rng.gen_range(0..24) {
            0..=2 => INF_WEIGHT,
            3 => 0,
            4 if beyond_inf => rng.gen_range(INF_WEIGHT + 1..=u32::MAX),
            5 => rng.gen_range(0..1_000_000),
            _ => rng.gen_range(1..100),
        }
    }

    /// A random `w` x `h` grid with missing arcs, one-way arcs, parallel
    /// arcs, self-loops and a few long arcs, with its node coordinates.
    fn random_graph(
        rng: &mut StdRng,
        w: u32,
        h: u32,
        beyond_inf: bool,
    ) -> (Graph, Vec<f32>, Vec<f32>) {
        let n = (w * h) as usize;
        let id = |r: u32, c: u32| r * w + c;
        let mut arcs = Vec::new();
        for r in 0..h {
            for c in 0..w {
                let mut pairs = Vec::new();
                if c + 1 < w {
                    pairs.push((id(r, c), id(r, c + 1)));
                }
                if r + 1 < h {
                    pairs.push((id(r, c), id(r + 1, c)));
                }
                for (u, v) in pairs {
                    match rng.gen_range(0..10) {
                        0 | 1 => {}
                        2 | 3 => arcs.push((u, v)),
                        4 | 5 => arcs.push((v, u)),
                        _ => {
                            arcs.push((u, v));
                            arcs.push((v, u));
                        }
                    }
                }
            }
        }
        let extra = rng.gen_range(0..=n / 3 + 1);
        for _ in 0..extra {
            match rng.gen_range(0..4) {
                0 if !arcs.is_empty() => {
                    // parallel (same or opposite direction)
                    let (u, v) = arcs[rng.gen_range(0..arcs.len())];
                    arcs.push(if rng.gen() { (u, v) } else { (v, u) });
                }
                1 => {
                    let u = rng.gen_range(0..n as u32);
                    arcs.push((u, u));
                }
                _ => arcs.push((rng.gen_range(0..n as u32), rng.gen_range(0..n as u32))),
            }
        }
        arcs.shuffle(rng);
        let weights = (0..arcs.len()).map(|_| weight(rng, beyond_inf)).collect();
        let g = csr(n, &arcs, weights);
        let lat = (0..n as u32)
            .map(|v| (v / w) as f32 + rng.gen_range(-0.3..0.3))
            .collect();
        let lon = (0..n as u32)
            .map(|v| (v % w) as f32 + rng.gen_range(-0.3..0.3))
            .collect();
        (g, lat, lon)
    }

    fn random_order(rng: &mut StdRng, g: &Graph, lat: &[f32], lon: &[f32], kind: u8) -> Vec<u32> {
        let n = g.node_count() as u32;
        match kind {
            0 => cch::degree_order(g),
            1 => cch::inertial_order(n, &tails(g), &g.head, lat, lon),
            2 => (0..n).collect(),
            3 => (0..n).rev().collect(),
            _ => {
                let mut o: Vec<u32> = (0..n).collect();
                o.shuffle(rng);
                o
            }
        }
    }

    /// One random graph, order and sequence of updates; returns
    /// (updates, CCH arcs, arcs recomputed, arcs changed) summed over rounds.
    fn run_case(
        seed: u64,
        w: u32,
        h: u32,
        order_kind: u8,
        beyond_inf: bool,
        rounds: usize,
        strategy: u8,
    ) -> [usize; 4] {
        let mut rng = StdRng::seed_from_u64(seed);
        let (g, lat, lon) = random_graph(&mut rng, w, h, beyond_inf);
        let order = random_order(&mut rng, &g, &lat, &lon, order_kind);
        let cch = Cch::build(&g, &order);
        let base = g.weight.clone();
        let mut weights = base.clone();
        let mut metric = cch.customize(&weights);
        let mut pc = PartialCustomizer::new(&cch);
        pc.strategy = [Strategy::Auto, Strategy::PerArc, Strategy::PerNode][strategy as usize];
        let m = weights.len();
        let mut closed: Vec<u32> = Vec::new();
        let (mut updates, mut recomputed_total, mut changed_total) = (0, 0, 0);

        for round in 0..rounds {
            let mut changed: Vec<u32> = Vec::new();
            let k = if m == 0 {
                0
            } else {
                rng.gen_range(1..=m.min(6))
            };
            let mode = rng.gen_range(0..6);
            match mode {
                // close: raise to INF
                0 => {
                    for _ in 0..k {
                        let a = rng.gen_range(0..m) as u32;
                        weights[a as usize] = INF_WEIGHT;
                        closed.push(a);
                        changed.push(a);
                    }
                }
                // reopen everything closed so far
                1 => {
                    for &a in &closed {
                        weights[a as usize] = base[a as usize];
                    }
                    changed.append(&mut closed);
                }
                // arbitrary change
                2 => {
                    for _ in 0..k {
                        let a = rng.gen_range(0..m);
                        weights[a] = weight(&mut rng, beyond_inf);
                        changed.push(a as u32);
                    }
                }
                // lower
                3 => {
                    for _ in 0..k {
                        let a = rng.gen_range(0..m);
                        weights[a] = rng.gen_range(0..=weights[a].min(INF_WEIGHT) / 2);
                        changed.push(a as u32);
                    }
                }
                // no actual change, but listed (with duplicates)
                4 => {
                    for _ in 0..k {
                        let a = rng.gen_range(0..m) as u32;
                        changed.push(a);
                        changed.push(a);
                    }
                }
                // many arcs at once: everything random
                _ => {
                    for (a, w) in weights.iter_mut().enumerate() {
                        if rng.gen_range(0..3) == 0 {
                            *w = weight(&mut rng, beyond_inf);
                            changed.push(a as u32);
                        }
                    }
                }
            }
            let before = metric.clone();
            let recomputed = pc.update(&cch, &weights, &changed, &mut metric);
            let expected = cch.customize(&weights);
            assert_eq!(
                metric, expected,
                "seed {seed} {w}x{h} order {order_kind} beyond_inf {beyond_inf} strategy {strategy} round {round} mode {mode}"
            );
            assert!(recomputed <= cch.cch_arc_count());
            let mapped = {
                let mut v: Vec<u32> = changed
                    .iter()
                    .map(|&a| cch.input_arc_to_cch_arc[a as usize])
                    .filter(|&c| c != INVALID_ID)
                    .collect();
                v.sort_unstable();
                v.dedup();
                v.len()
            };
            assert!(recomputed >= mapped);
            if mode == 4 {
                // nothing changed: exactly the mapped arcs are recomputed
                assert_eq!(metric, before);
                assert_eq!(recomputed, mapped);
                assert_eq!(pc.last_changed_arcs(), 0);
            }
            updates += 1;
            recomputed_total += recomputed;
            changed_total += pc.last_changed_arcs();
        }
        [
            updates,
            cch.cch_arc_count() * updates,
            recomputed_total,
            changed_total,
        ]
    }

    #[test]
    fn partial_update_equals_full_customization() {
        use proptest::test_runner::{Config, TestRunner};
        let cases = std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(1500);
        let mut runner = TestRunner::new(Config {
            cases,
            failure_persistence: None,
            ..Config::default()
        });
        let strategy = (
            any::<u64>(),
            1u32..=7,
            1u32..=7,
            0u8..5,
            proptest::bool::weighted(0.25),
            1usize..=8,
            0u8..3,
        );
        let stats = std::cell::RefCell::new([0usize; 5]);
        runner
            .run(
                &strategy,
                |(seed, w, h, order_kind, beyond_inf, rounds, way)| {
                    let r = run_case(seed, w, h, order_kind, beyond_inf, rounds, way);
                    let mut s = stats.borrow_mut();
                    s[0] += 1;
                    for i in 0..4 {
                        s[i + 1] += r[i];
                    }
                    Ok(())
                },
            )
            .unwrap();
        let s = stats.into_inner();
        println!(
            "{} random graphs, {} updates checked against Cch::customize; \
             {} CCH arcs in total over the updates, {} recomputed, {} changed value",
            s[0], s[1], s[2], s[3], s[4]
        );
    }

    fn grid(side: u32) -> (Graph, Vec<f32>, Vec<f32>) {
        let id = |r: u32, c: u32| r * side + c;
        let mut arcs = Vec::new();
        for r in 0..side {
            for c in 0..side {
                if c + 1 < side {
                    arcs.push((id(r, c), id(r, c + 1)));
                    arcs.push((id(r, c + 1), id(r, c)));
                }
                if r + 1 < side {
                    arcs.push((id(r, c), id(r + 1, c)));
                    arcs.push((id(r + 1, c), id(r, c)));
                }
            }
        }
        let mut rng = StdRng::seed_from_u64(7);
        let weights = (0..arcs.len()).map(|_| rng.gen_range(100..1000)).collect();
        let n = (side * side) as usize;
        let lat = (0..n as u32).map(|v| (v / side) as f32).collect();
        let lon = (0..n as u32).map(|v| (v % side) as f32).collect();
        (csr(n, &arcs, weights), lat, lon)
    }

    #[test]
    fn no_change_recomputes_nothing() {
        let (g, lat, lon) = grid(12);
        let order = cch::inertial_order(g.node_count() as u32, &tails(&g), &g.head, &lat, &lon);
        let cch = Cch::build(&g, &order);
        let mut metric = cch.customize(&g.weight);
        let full = metric.clone();
        let mut pc = PartialCustomizer::new(&cch);
        assert_eq!(pc.update(&cch, &g.weight, &[], &mut metric), 0);
        // Listing arcs whose weight did not change recomputes just their
        // CCH arcs (the two directions of a road share one), nothing more.
        let listed = [0, 1, 2, 3, 2];
        let mut mapped: Vec<u32> = listed
            .iter()
            .map(|&a| cch.input_arc_to_cch_arc[a as usize])
            .collect();
        mapped.sort_unstable();
        mapped.dedup();
        let recomputed = pc.update(&cch, &g.weight, &listed, &mut metric);
        assert_eq!(recomputed, mapped.len());
        assert_eq!(pc.last_changed_arcs(), 0);
        assert_eq!(metric, full);
    }

    /// Closes (to `INF_WEIGHT`) every arc touching the `k` x `k` block of
    /// nodes at (`r0`, `c0`) of the `side` x `side` grid `g`, then reopens
    /// them; checks both results against the full customization and
    /// returns the recomputed counts.
    fn close_and_reopen(
        g: &Graph,
        cch: &Cch,
        side: u32,
        (r0, c0): (u32, u32),
        k: u32,
    ) -> (usize, usize) {
        let tail = tails(g);
        let in_block =
            |v: u32| (r0..r0 + k).contains(&(v / side)) && (c0..c0 + k).contains(&(v % side));
        let closed: Vec<u32> = (0..g.arc_count() as u32)
            .filter(|&a| in_block(tail[a as usize]) || in_block(g.head[a as usize]))
            .collect();

        let mut metric = cch.customize(&g.weight);
        let mut pc = PartialCustomizer::new(cch);
        let mut weights = g.weight.clone();
        for &a in &closed {
            weights[a as usize] = INF_WEIGHT;
        }
        let t = std::time::Instant::now();
        let on_close = pc.update(cch, &weights, &closed, &mut metric);
        let close_time = t.elapsed();
        let close_changed = pc.last_changed_arcs();
        assert_eq!(metric, cch.customize(&weights));

        let t = std::time::Instant::now();
        let on_reopen = pc.update(cch, &g.weight, &closed, &mut metric);
        let reopen_time = t.elapsed();
        assert_eq!(metric, cch.customize(&g.weight));

        let t = std::time::Instant::now();
        let _ = cch.customize(&g.weight);
        let full_time = t.elapsed();
        println!(
            "{side}x{side} grid, {k}x{k} block at ({r0},{c0}), {} input arcs closed: \
             {on_close} of {} CCH arcs recomputed ({close_changed} changed) in {close_time:?}; \
             reopened: {on_reopen} recomputed in {reopen_time:?}; full customize {full_time:?}",
            closed.len(),
            cch.cch_arc_count(),
        );
        (on_close, on_reopen)
    }

    #[test]
    fn closing_a_cluster_recomputes_few_arcs() {
        let side = 100;
        let (g, lat, lon) = grid(side);
        let order = cch::inertial_order(g.node_count() as u32, &tails(&g), &g.head, &lat, &lon);
        let cch = Cch::build(&g, &order);
        let total = cch.cch_arc_count();
        for at in [(20, 70), (48, 48), (3, 3)] {
            let (on_close, on_reopen) = close_and_reopen(&g, &cch, side, at, 3);
            assert!(on_close * 10 < total, "{on_close} of {total}");
            assert!(on_reopen * 10 < total, "{on_reopen} of {total}");
        }
    }
}
