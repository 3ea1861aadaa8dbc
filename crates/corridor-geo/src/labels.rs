//! Distance labels on the top of the elimination tree, and the
//! distance query that uses them.
//!
//! # Why
//! A CCH distance query walks the elimination-tree path of each end and
//! relaxes every upward arc on it. On a million-node grid city that is
//! about 550 nodes and 52,000 arcs per side. Most of those arcs belong
//! to the top of the tree (the big separators). The same top nodes
//! appear on almost every query's path, so their part of the search can
//! be done once, ahead of time.
//!
//! # What is stored
//! The *top* is every node whose depth in the elimination tree is below
//! `k`; it is closed upwards (an ancestor of a top node is a top node).
//! Every ancestor of a node `x` is identified by its depth, so for each
//! top node `x` at depth `d` two arrays of `d + 1` travel times are kept:
//!
//! - `fwd(x)[i]` is the shortest *upward* path from `x` to its ancestor
//!   at depth `i`, on the forward weights;
//! - `bwd(x)[i]` is the same from that ancestor down to `x`, on the
//!   backward weights.
//!
//! They obey `label(x)[i] = min over up-arcs (x, u) of w(x, u) + label(u)[i]`,
//! computed from the root down. `k` is the deepest cut whose labels fit
//! a budget of [`ENTRIES_PER_NODE`] entries per node of the network: on
//! small networks (Monaco, Helsinki, Aleppo's districts) every node is a
//! top node and the query is a pure hub-label query.
//!
//! # The query
//! Every up-arc of a node on a path leads to an ancestor, so a search
//! works on small arrays indexed by depth (no per-node scratch to reset).
//! From the source upward, node by node:
//! - below the top, or at a top node whose label is stale (see below),
//!   the node's up-arcs are relaxed, as in the plain CCH query;
//! - at a top node with a fresh label, the label is added to the node's
//!   distance and min-combined into every shallower depth at once (a
//!   vectorised loop). A top node whose distance came from a deeper
//!   node's label is skipped: that label already covers every upward
//!   path through it (upward paths compose, so `label(b)[i] ≤
//!   label(b)[d] + label(x)[i]`).
//!
//! The same runs from the target on the backward weights, and the answer
//! is the minimum over the common ancestors (the common prefix of the
//! two paths) of the two distances: the CCH query's meeting rule. The
//! answer is the same as the plain query's whatever `k` is.
//!
//! # Hazards
//! When a hazard changes CCH arcs, a top node's label is *stale* if one
//! of its ancestors-or-self has a changed up-arc (only those labels can
//! change). [`TopLabels::mark_stale`] marks them in one pass over the
//! top. The query stays exact with stale labels: it relaxes the arcs of
//! stale nodes instead. [`TopLabels::refresh`] recomputes the stale
//! labels, deepest ancestors first.

use cch::{Cch, Metric, INF_WEIGHT};

const NONE: u32 = u32::MAX;

/// How many label entries (both directions together count once) the top
/// may hold per node of the network: 40 entries are 320 bytes per node.
pub const ENTRIES_PER_NODE: u64 = 40;

/// `acc[i] = min(acc[i], base + lab[i])`; `base < INF_WEIGHT` and every
/// label entry `<= INF_WEIGHT`, so the sum cannot wrap.
#[inline(always)]
fn min_plus_portable(acc: &mut [u32], base: u32, lab: &[u32]) {
    for (a, &l) in acc.iter_mut().zip(lab) {
        *a = (*a).min(base + l);
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn min_plus_avx2(acc: &mut [u32], base: u32, lab: &[u32]) {
    min_plus_portable(acc, base, lab);
}

#[inline]
fn min_plus(acc: &mut [u32], base: u32, lab: &[u32]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2 (checked just above); the function is
        // safe Rust compiled with AVX2 enabled.
        unsafe { min_plus_avx2(acc, base, lab) };
        return;
    }
    min_plus_portable(acc, base, lab);
}

/// The labels of the top of one CCH's elimination tree, for one metric.
#[derive(Debug, Clone)]
pub struct TopLabels {
    /// Top nodes are those of depth `< k`.
    k: u32,
    /// Depth of each node (rank space) in the elimination tree.
    depth: Vec<u32>,
    /// Depth of the head of each up-arc.
    head_depth: Vec<u32>,
    /// Start of each top node's label in `fwd` / `bwd`; `NONE` below the top.
    off: Vec<u32>,
    fwd: Vec<u32>,
    bwd: Vec<u32>,
    /// Top nodes, highest rank (root) first.
    top: Vec<u32>,
    stale: Vec<bool>,
    stale_count: usize,
    max_depth: u32,
}

/// Scratch space of [`TopLabels::distance`], reused between queries.
#[derive(Debug, Clone, Default)]
pub struct LabelQuery {
    path: [Vec<u32>; 2],
    arc: [Vec<u32>; 2],
    lab: [Vec<u32>; 2],
}

impl TopLabels {
    /// Labels for `metric` with the deepest top that fits the budget.
    #[must_use]
    pub fn new(cch: &Cch, metric: &Metric) -> Self {
        let depth = depths(cch);
        let n = depth.len() as u64;
        let mut per_depth = vec![0u64; depth.iter().max().map_or(0, |&d| d as usize + 1)];
        for &d in &depth {
            per_depth[d as usize] += 1;
        }
        let budget = ENTRIES_PER_NODE * n.max(1);
        let (mut k, mut used) = (0u32, 0u64);
        for (d, &count) in per_depth.iter().enumerate() {
            used += count * (d as u64 + 1);
            if used > budget {
                break;
            }
            k = d as u32 + 1;
        }
        Self::with_depth(cch, metric, k)
    }

    /// Labels for `metric` on the nodes of depth `< k` (0: none, the
    /// query is the plain CCH query on depth-indexed arrays).
    #[must_use]
    pub fn with_depth(cch: &Cch, metric: &Metric, k: u32) -> Self {
        let depth = depths(cch);
        let n = depth.len();
        let head_depth = cch.up_head.iter().map(|&h| depth[h as usize]).collect();
        let mut off = vec![NONE; n];
        let mut top = Vec::new();
        let mut total = 0usize;
        // Highest rank first: a node's up-neighbours come before it.
        for x in (0..n).rev() {
            if depth[x] < k {
                off[x] = u32::try_from(total).expect("fewer than 2^32 label entries");
                total += depth[x] as usize + 1;
                top.push(x as u32);
            }
        }
        let max_depth = depth.iter().copied().max().unwrap_or(0);
        let stale_count = top.len();
        let mut labels = TopLabels {
            k,
            depth,
            head_depth,
            off,
            fwd: vec![INF_WEIGHT; total],
            bwd: vec![INF_WEIGHT; total],
            stale: vec![true; n],
            top,
            stale_count,
            max_depth,
        };
        labels.refresh(cch, metric);
        labels
    }

    /// The depth below which nodes are labelled.
    #[must_use]
    pub fn top_depth(&self) -> u32 {
        self.k
    }
    /// How many nodes are labelled, and how many label entries each
    /// direction holds.
    #[must_use]
    pub fn size(&self) -> (usize, usize) {
        (self.top.len(), self.fwd.len())
    }
    /// How many labels are stale (see the module doc).
    #[must_use]
    pub fn stale_count(&self) -> usize {
        self.stale_count
    }

    /// Marks stale the labels that CCH arcs leaving `changed_tails` (rank
    /// space) can change: those of the tails and of all their top
    /// descendants. Returns how many labels are stale now.
    pub fn mark_stale(&mut self, cch: &Cch, changed_tails: &[u32]) -> usize {
        let mut any = false;
        for &y in changed_tails {
            if self.depth[y as usize] < self.k && !self.stale[y as usize] {
                self.stale[y as usize] = true;
                any = true;
            }
        }
        if any {
            // Parents before children: a node is stale if its parent is.
            for &x in &self.top {
                let p = cch.elimination_tree_parent[x as usize];
                if p != NONE && self.stale[p as usize] {
                    self.stale[x as usize] = true;
                }
            }
            self.stale_count = self.top.iter().filter(|&&x| self.stale[x as usize]).count();
        }
        self.stale_count
    }

    /// Recomputes the stale labels from `metric`. Returns how many.
    pub fn refresh(&mut self, cch: &Cch, metric: &Metric) -> usize {
        if self.stale_count == 0 {
            return 0;
        }
        let todo: Vec<u32> = self.top.iter().copied().filter(|&x| self.stale[x as usize]).collect();
        let (fwd, bwd) = (std::mem::take(&mut self.fwd), std::mem::take(&mut self.bwd));
        let me = &*self;
        let (fwd, bwd) = std::thread::scope(|s| {
            let f = s.spawn(|| me.compute(cch, &metric.forward, fwd, &todo));
            let b = me.compute(cch, &metric.backward, bwd, &todo);
            (f.join().expect("label thread"), b)
        });
        self.fwd = fwd;
        self.bwd = bwd;
        for &x in &todo {
            self.stale[x as usize] = false;
        }
        self.stale_count = 0;
        todo.len()
    }

    /// Recomputes the labels of `todo` (highest rank first) on weights `w`.
    fn compute(&self, cch: &Cch, w: &[u32], mut lab: Vec<u32>, todo: &[u32]) -> Vec<u32> {
        for &x in todo {
            let (o, d) = (self.off[x as usize] as usize, self.depth[x as usize] as usize);
            // Up-neighbours rank higher, so their labels lie before `o`.
            let (done, rest) = lab.split_at_mut(o);
            self.label_of(cch, w, done, x, &mut rest[..=d]);
        }
        lab
    }

    /// The label of top node `x` on weights `w` into `out`, from the
    /// labels of its up-neighbours in `done` (all entries before `x`'s).
    fn label_of(&self, cch: &Cch, w: &[u32], done: &[u32], x: u32, out: &mut [u32]) {
        let x = x as usize;
        let d = self.depth[x] as usize;
        out.fill(INF_WEIGHT);
        out[d] = 0;
        let arcs = cch.up_first_out[x] as usize..cch.up_first_out[x + 1] as usize;
        for (&u, &wa) in cch.up_head[arcs.clone()].iter().zip(&w[arcs]) {
            if wa >= INF_WEIGHT {
                continue;
            }
            let u = u as usize;
            let (ou, du) = (self.off[u] as usize, self.depth[u] as usize);
            min_plus(&mut out[..=du], wa, &done[ou..=ou + du]);
        }
        for v in out.iter_mut() {
            *v = (*v).min(INF_WEIGHT);
        }
    }

    /// Travel time from `s` to `t` (rank space) on `metric`, which must be
    /// the metric the labels were computed for, except where they are
    /// marked stale.
    #[must_use]
    pub fn distance(&self, cch: &Cch, metric: &Metric, q: &mut LabelQuery, s: u32, t: u32) -> Option<u32> {
        let len = self.max_depth as usize + 1;
        for side in 0..2 {
            q.path[side].resize(len, NONE);
            q.arc[side].resize(len, INF_WEIGHT);
            q.lab[side].resize(len, INF_WEIGHT);
        }
        let ds = self.walk(cch, s, &mut q.path[0]);
        let dt = self.walk(cch, t, &mut q.path[1]);
        if q.path[0][0] != q.path[1][0] {
            return None; // different trees: no path
        }
        let [ps, pt] = &q.path;
        let [as_, at] = &mut q.arc;
        let [ls, lt] = &mut q.lab;
        self.up(cch, &metric.forward, &self.fwd, &ps[..=ds], &mut as_[..=ds], &mut ls[..=ds]);
        self.up(cch, &metric.backward, &self.bwd, &pt[..=dt], &mut at[..=dt], &mut lt[..=dt]);
        let common = ps[..=ds].iter().zip(&pt[..=dt]).take_while(|(a, b)| a == b).count();
        let mut best = u64::from(INF_WEIGHT);
        for j in 0..common {
            let f = as_[j].min(ls[j]);
            let b = at[j].min(lt[j]);
            best = best.min(u64::from(f) + u64::from(b));
        }
        (best < u64::from(INF_WEIGHT)).then_some(best as u32)
    }

    /// Fills `path[d] = ` the ancestor of `x` at depth `d`; returns the
    /// depth of `x`.
    fn walk(&self, cch: &Cch, x: u32, path: &mut [u32]) -> usize {
        let dx = self.depth[x as usize] as usize;
        let mut y = x;
        for slot in path[..=dx].iter_mut().rev() {
            *slot = y;
            y = cch.elimination_tree_parent[y as usize];
        }
        debug_assert_eq!(y, NONE);
        dx
    }

    /// One side's upward search along `path` (see the module doc): `arc`
    /// gets the distances arcs give, `lab` those labels give.
    fn up(&self, cch: &Cch, w: &[u32], labels: &[u32], path: &[u32], arc: &mut [u32], lab: &mut [u32]) {
        arc.fill(INF_WEIGHT);
        lab.fill(INF_WEIGHT);
        let d = path.len() - 1;
        arc[d] = 0;
        for j in (0..=d).rev() {
            let x = path[j] as usize;
            let (a, l) = (arc[j], lab[j]);
            if (j as u32) < self.k && !self.stale[x] {
                if a < l {
                    let o = self.off[x] as usize;
                    min_plus(&mut lab[..j], a, &labels[o..o + j]);
                    lab[j] = a;
                }
                continue;
            }
            let v = a.min(l);
            if v >= INF_WEIGHT {
                continue;
            }
            let arcs = cch.up_first_out[x] as usize..cch.up_first_out[x + 1] as usize;
            for (&h, &we) in self.head_depth[arcs.clone()].iter().zip(&w[arcs]) {
                let cand = v.saturating_add(we);
                if cand < arc[h as usize] {
                    arc[h as usize] = cand;
                }
            }
        }
    }
}

/// Depth of every node (rank space) in the elimination tree (roots: 0).
fn depths(cch: &Cch) -> Vec<u32> {
    let n = cch.elimination_tree_parent.len();
    let mut depth = vec![0u32; n];
    // Parents rank higher than their children.
    for x in (0..n).rev() {
        let p = cch.elimination_tree_parent[x];
        if p != NONE {
            depth[x] = depth[p as usize] + 1;
        }
    }
    depth
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::customize::PartialCustomizer;
    use crate::router::{dijkstra, DijkstraState};
    use cch::graph::Graph;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    /// A `side`² grid with random weights; some streets one-way, some
    /// links missing, and (if `split`) a second component.
    fn graph(rng: &mut StdRng, side: u32, split: bool) -> (Graph, Vec<f32>, Vec<f32>) {
        let id = |r: u32, c: u32| r * side + c;
        let mut arcs = Vec::new();
        for r in 0..side {
            for c in 0..side {
                for (u, v) in [(c + 1 < side).then(|| (id(r, c), id(r, c + 1))), (r + 1 < side).then(|| (id(r, c), id(r + 1, c)))].into_iter().flatten() {
                    if split && (u % side < side / 2) != (v % side < side / 2) {
                        continue;
                    }
                    match rng.gen_range(0..10) {
                        0 => {}
                        1 => arcs.push((u, v)),
                        2 => arcs.push((v, u)),
                        _ => arcs.extend([(u, v), (v, u)]),
                    }
                }
            }
        }
        let n = (side * side) as usize;
        arcs.sort_unstable();
        let mut first_out = vec![0u32; n + 1];
        for &(t, _) in &arcs {
            first_out[t as usize + 1] += 1;
        }
        for v in 0..n {
            first_out[v + 1] += first_out[v];
        }
        let weight = arcs.iter().map(|_| rng.gen_range(1..1000)).collect();
        let g = Graph { first_out, head: arcs.iter().map(|a| a.1).collect(), weight };
        let lat = (0..n as u32).map(|v| (v / side) as f32 + rng.gen_range(0.0..0.1)).collect();
        let lon = (0..n as u32).map(|v| (v % side) as f32).collect();
        (g, lat, lon)
    }

    fn tails(g: &Graph) -> Vec<u32> {
        (0..g.first_out.len() - 1).flat_map(|v| (g.first_out[v]..g.first_out[v + 1]).map(move |_| v as u32)).collect()
    }

    /// Every pair (or `pairs` random ones) against Dijkstra on `w`.
    fn check(cch: &Cch, metric: &Metric, labels: &TopLabels, g: &Graph, w: &[u32], rng: &mut StdRng, pairs: usize) {
        let n = g.first_out.len() as u32 - 1;
        let mut q = LabelQuery::default();
        let mut dj = DijkstraState::new(n as usize);
        for _ in 0..pairs {
            let (s, t) = (rng.gen_range(0..n), rng.gen_range(0..n));
            let fast = labels.distance(cch, metric, &mut q, cch.rank[s as usize], cch.rank[t as usize]);
            let slow = dijkstra(&mut dj, &g.first_out, &g.head, w, &[(s, 0)], t);
            assert_eq!(fast, slow, "{s} -> {t}, top depth {}, {} stale", labels.k, labels.stale_count);
        }
    }

    #[test]
    fn labels_equal_dijkstra_at_every_cut_and_while_stale() {
        let mut rng = StdRng::seed_from_u64(2016);
        let mut cuts_seen = 0;
        for round in 0..12 {
            let side = rng.gen_range(3..14);
            let (g, lat, lon) = graph(&mut rng, side, round % 4 == 3);
            let order = cch::inertial_order(g.first_out.len() as u32 - 1, &tails(&g), &g.head, &lat, &lon);
            let cch = Cch::build(&g, &order);
            let base = cch.customize(&g.weight);
            let max_depth = depths(&cch).into_iter().max().unwrap_or(0);
            for k in [0, 1, max_depth / 3, max_depth / 2, max_depth, max_depth + 1] {
                cuts_seen += 1;
                let mut metric = base.clone();
                let mut labels = TopLabels::with_depth(&cch, &metric, k);
                assert_eq!(labels.stale_count(), 0);
                check(&cch, &metric, &labels, &g, &g.weight, &mut rng, 300);
                // Close random roads, then reopen them: exact while the
                // labels are stale and after they are refreshed.
                let mut pc = PartialCustomizer::new(&cch);
                let mut w = g.weight.clone();
                let closed: Vec<u32> = (0..g.head.len() as u32).filter(|_| rng.gen_range(0..8) == 0).collect();
                for &a in &closed {
                    w[a as usize] = INF_WEIGHT;
                }
                for weights in [w, g.weight.clone()] {
                    pc.update(&cch, &weights, &closed, &mut metric);
                    let stale = labels.mark_stale(&cch, pc.last_changed_tails());
                    check(&cch, &metric, &labels, &g, &weights, &mut rng, 300);
                    assert_eq!(labels.refresh(&cch, &metric), stale);
                    assert_eq!(labels.stale_count(), 0);
                    check(&cch, &metric, &labels, &g, &weights, &mut rng, 300);
                    // The refreshed labels are those a fresh build gives.
                    let fresh = TopLabels::with_depth(&cch, &metric, k);
                    assert_eq!((&labels.fwd, &labels.bwd), (&fresh.fwd, &fresh.bwd));
                }
            }
        }
        assert_eq!(cuts_seen, 72);
    }

    #[test]
    fn the_budget_picks_the_deepest_cut_that_fits() {
        let mut rng = StdRng::seed_from_u64(5);
        let (g, lat, lon) = graph(&mut rng, 30, false);
        let order = cch::inertial_order(900, &tails(&g), &g.head, &lat, &lon);
        let cch = Cch::build(&g, &order);
        let metric = cch.customize(&g.weight);
        let labels = TopLabels::new(&cch, &metric);
        let entries = |k: u32| depths(&cch).iter().filter(|&&d| d < k).map(|&d| u64::from(d) + 1).sum::<u64>();
        let k = labels.top_depth();
        assert!(entries(k) <= ENTRIES_PER_NODE * 900);
        let max_depth = depths(&cch).into_iter().max().unwrap();
        assert!(k > max_depth || entries(k + 1) > ENTRIES_PER_NODE * 900, "k {k} could go deeper");
        assert_eq!(labels.size().1 as u64, entries(k));
    }
}
