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
//! answer is the same as the plain query's whatever `k` is. When both
//! ends are top nodes with fresh labels, the query is a plain hub-label
//! query: the two labels' sums over the common ancestors, nothing else.
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
/// may hold per node of the network: 100 entries are 800 bytes per node
/// (the grid city's prepared network takes about 1,200; the query also
/// keeps 4 bytes per CCH arc and 20 per node). On the million-node
/// grid city of `corridor-bench route` that puts the cut at depth 530 of
/// 609, and the median query at about 30 µs, against about 45 µs with
/// 40 entries and 175 µs with none (`k = 0`).
pub const ENTRIES_PER_NODE: u64 = 100;

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
    /// Parent, up-arcs and label start of each node (rank space).
    node: Vec<Node>,
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
    /// Labels for `metric` with the deepest top that fits
    /// [`ENTRIES_PER_NODE`].
    #[must_use]
    pub fn new(cch: &Cch, metric: &Metric) -> Self {
        Self::with_budget(cch, metric, ENTRIES_PER_NODE)
    }

    /// Labels for `metric` with the deepest top whose labels hold at most
    /// `entries_per_node` entries per node of the network.
    #[must_use]
    pub fn with_budget(cch: &Cch, metric: &Metric, entries_per_node: u64) -> Self {
        let depth = depths(cch);
        let n = depth.len() as u64;
        let mut per_depth = vec![0u64; depth.iter().max().map_or(0, |&d| d as usize + 1)];
        for &d in &depth {
            per_depth[d as usize] += 1;
        }
        // Label starts are u32 offsets.
        let budget = entries_per_node.saturating_mul(n.max(1)).min(u64::from(u32::MAX));
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
    /// query is the plain CCH query on depth-indexed arrays). Their
    /// entries must number below 2^32 ([`Self::with_budget`] sees to it).
    #[must_use]
    fn with_depth(cch: &Cch, metric: &Metric, k: u32) -> Self {
        let depth = depths(cch);
        let n = depth.len();
        let head_depth = cch.up_head.iter().map(|&h| depth[h as usize]).collect();
        let mut node: Vec<Node> = (0..n)
            .map(|x| Node { parent: cch.elimination_tree_parent[x], first_out: cch.up_first_out[x], end_out: cch.up_first_out[x + 1], off: NONE })
            .collect();
        let mut top = Vec::new();
        let mut total = 0usize;
        // Highest rank first: a node's up-neighbours come before it.
        for x in (0..n).rev() {
            if depth[x] < k {
                node[x].off = u32::try_from(total).expect("fewer than 2^32 label entries");
                total += depth[x] as usize + 1;
                top.push(x as u32);
            }
        }
        let max_depth = depth.iter().copied().max().unwrap_or(0);
        let stale_count = top.len();
        // Every label starts stale: `refresh` computes them all.
        let stale = depth.iter().map(|&d| d < k).collect();
        let mut labels = TopLabels {
            k,
            depth,
            head_depth,
            node,
            fwd: vec![INF_WEIGHT; total],
            bwd: vec![INF_WEIGHT; total],
            stale,
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
            let (o, d) = (self.node[x as usize].off as usize, self.depth[x as usize] as usize);
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
            let (ou, du) = (self.node[u].off as usize, self.depth[u] as usize);
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
    pub fn distance(&self, _cch: &Cch, metric: &Metric, q: &mut LabelQuery, s: u32, t: u32) -> Option<u32> {
        if let Some(d) = self.hub_distance(s, t) {
            return d;
        }
        let len = self.max_depth as usize + 1;
        for side in 0..2 {
            q.path[side].resize(len, NONE);
            q.arc[side].resize(len, INF_WEIGHT);
            q.lab[side].resize(len, INF_WEIGHT);
        }
        let [ps, pt] = &mut q.path;
        let (ds, dt) = self.walk(s, t, ps, pt);
        if ps[0] != pt[0] {
            return None; // different trees: no path
        }
        let [as_, at] = &mut q.arc;
        let [ls, lt] = &mut q.lab;
        let (ps, pt) = (&ps[..=ds], &pt[..=dt]);
        let (as_, at, ls, lt) = (&mut as_[..=ds], &mut at[..=dt], &mut ls[..=ds], &mut lt[..=dt]);
        // The common ancestors: the paths' common prefix.
        let common = ps.iter().zip(pt).take_while(|(a, b)| a == b).count();
        // Memory latency dominates: each phase first asks for what the
        // next needs, for both sides, then works.
        self.prefetch_arcs(metric, ps, pt);
        self.below(&metric.forward, ps, as_, ls);
        self.below(&metric.backward, pt, at, lt);
        self.prefetch_labels(ps, as_, common, &self.fwd);
        self.prefetch_labels(pt, at, common, &self.bwd);
        self.above(&metric.forward, &self.fwd, ps, common, as_, ls);
        self.above(&metric.backward, &self.bwd, pt, common, at, lt);
        let mut best = u64::from(INF_WEIGHT);
        for j in 0..common {
            let f = as_[j].min(ls[j]);
            let b = at[j].min(lt[j]);
            best = best.min(u64::from(f) + u64::from(b));
        }
        (best < u64::from(INF_WEIGHT)).then_some(best as u32)
    }

    /// When `s` and `t` both have fresh labels, the distance from them
    /// alone (a hub-label query): the minimum over the common ancestors,
    /// found by walking up from both ends until they meet, of the two
    /// labels' sums. `None` when either label is missing or stale.
    #[allow(clippy::option_option)]
    fn hub_distance(&self, s: u32, t: u32) -> Option<Option<u32>> {
        let (ds, dt) = (self.depth[s as usize], self.depth[t as usize]);
        if ds >= self.k || dt >= self.k || (self.stale_count > 0 && (self.stale[s as usize] || self.stale[t as usize])) {
            return None;
        }
        // The lowest common ancestor: equal depths, then up together.
        let (mut x, mut y) = (s, t);
        for _ in dt..ds {
            x = self.node[x as usize].parent;
        }
        for _ in ds..dt {
            y = self.node[y as usize].parent;
        }
        while x != y {
            x = self.node[x as usize].parent;
            y = self.node[y as usize].parent;
            if x == NONE {
                return Some(None); // different trees: no path
            }
        }
        let common = self.depth[x as usize] as usize + 1;
        let (os, ot) = (self.node[s as usize].off as usize, self.node[t as usize].off as usize);
        // Entries are at most INF_WEIGHT: a sum cannot wrap.
        let best = self.fwd[os..os + common].iter().zip(&self.bwd[ot..ot + common]).map(|(&f, &b)| f + b).min().unwrap_or(INF_WEIGHT);
        Some((best < INF_WEIGHT).then_some(best))
    }

    /// Fills `ps[d]` (`pt[d]`) with the ancestor of `s` (`t`) at depth `d`,
    /// both walks interleaved (each step waits on memory); returns the
    /// depths of `s` and `t`.
    fn walk(&self, s: u32, t: u32, ps: &mut [u32], pt: &mut [u32]) -> (usize, usize) {
        let (ds, dt) = (self.depth[s as usize] as usize, self.depth[t as usize] as usize);
        let (mut x, mut y) = (s, t);
        let (mut i, mut j) = (ds + 1, dt + 1);
        while i > 0 || j > 0 {
            if i > 0 {
                i -= 1;
                ps[i] = x;
                x = self.node[x as usize].parent;
            }
            if j > 0 {
                j -= 1;
                pt[j] = y;
                y = self.node[y as usize].parent;
            }
        }
        debug_assert_eq!((x, y), (NONE, NONE));
        (ds, dt)
    }

    /// Asks for the up-arcs of the nodes both sides relax below the top.
    fn prefetch_arcs(&self, metric: &Metric, ps: &[u32], pt: &[u32]) {
        let k = self.k as usize;
        for (path, w) in [(ps, &metric.forward), (pt, &metric.backward)] {
            for &x in path.get(k..).unwrap_or(&[]) {
                let first = self.node[x as usize].first_out as usize;
                prefetch(&self.head_depth[first..]);
                prefetch(&w[first..]);
            }
        }
    }

    /// Asks for the labels [`Self::above`] may apply.
    fn prefetch_labels(&self, path: &[u32], arc: &[u32], common: usize, labels: &[u32]) {
        let top = path.len().min(self.k as usize);
        for j in 0..top {
            if arc[j] < INF_WEIGHT {
                let nd = &self.node[path[j] as usize];
                let o = nd.off as usize;
                prefetch(&labels[o..]);
                if j.min(common) > 16 {
                    prefetch(&labels[o + 16..]);
                }
            }
        }
    }

    /// Relaxes the up-arcs of the path's nodes below the top, deepest
    /// first, into `arc` (indexed by depth); resets `lab`.
    fn below(&self, w: &[u32], path: &[u32], arc: &mut [u32], lab: &mut [u32]) {
        arc.fill(INF_WEIGHT);
        lab.fill(INF_WEIGHT);
        let d = path.len() - 1;
        arc[d] = 0;
        for j in (self.k as usize..=d).rev() {
            self.relax(w, path[j], arc[j], arc);
        }
    }

    /// Relaxes the up-arcs of `x` from distance `v` into `arc`.
    #[inline]
    fn relax(&self, w: &[u32], x: u32, v: u32, arc: &mut [u32]) {
        if v >= INF_WEIGHT {
            return;
        }
        let nd = &self.node[x as usize];
        let arcs = nd.first_out as usize..nd.end_out as usize;
        for (&h, &we) in self.head_depth[arcs.clone()].iter().zip(&w[arcs]) {
            let cand = v.saturating_add(we);
            if cand < arc[h as usize] {
                arc[h as usize] = cand;
            }
        }
    }

    /// The top of one side's search (see the module doc): fresh labels
    /// go into `lab`, stale nodes relax their arcs into `arc`. Labels are
    /// applied to the first `common` depths only (the meeting needs no
    /// more): `lab` is exact there, and an upper bound below, which only
    /// makes the skip rule skip less. Stale nodes never read `lab`: they
    /// all lie below the fresh ones, whose labels write only above them.
    fn above(&self, w: &[u32], labels: &[u32], path: &[u32], common: usize, arc: &mut [u32], lab: &mut [u32]) {
        let any_stale = self.stale_count > 0;
        let top = path.len().min(self.k as usize);
        for j in (0..top).rev() {
            let x = path[j];
            let (a, l) = (arc[j], lab[j]);
            if any_stale && self.stale[x as usize] {
                self.relax(w, x, a.min(l), arc);
            } else if a < l {
                let o = self.node[x as usize].off as usize;
                let m = j.min(common);
                min_plus(&mut lab[..m], a, &labels[o..o + m]);
                lab[j] = a;
            }
        }
    }
}

/// Asks the CPU to bring the cache line holding `v[0]` in (a hint: no
/// effect on results).
#[inline(always)]
fn prefetch(v: &[u32]) {
    #[cfg(target_arch = "x86_64")]
    if let Some(first) = v.first() {
        // SAFETY: a prefetch never faults and reads nothing visible; the
        // pointer comes from a live reference.
        unsafe { std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(std::ptr::from_ref(first).cast()) };
    }
}

/// What a query reads about a node, in one cache line's quarter.
#[derive(Debug, Clone, Copy)]
struct Node {
    parent: u32,
    first_out: u32,
    end_out: u32,
    /// Start of the node's label, `NONE` below the top.
    off: u32,
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
        let entries = |k: u32| depths(&cch).iter().filter(|&&d| d < k).map(|&d| u64::from(d) + 1).sum::<u64>();
        let max_depth = depths(&cch).into_iter().max().unwrap();
        let everything = entries(max_depth + 1);
        let mut cuts = Vec::new();
        for budget in [0, 1, 3, 8, everything / 900, everything / 900 + 1] {
            let labels = TopLabels::with_budget(&cch, &metric, budget);
            let k = labels.top_depth();
            assert!(entries(k) <= budget * 900, "budget {budget}: k {k} holds {} entries", entries(k));
            assert!(k > max_depth || entries(k + 1) > budget * 900, "budget {budget}: k {k} could go deeper");
            assert_eq!(labels.size().1 as u64, entries(k));
            cuts.push(k);
        }
        // The budget binds below the whole tree, and not above it.
        assert!(cuts.windows(2).all(|w| w[0] <= w[1]), "{cuts:?}");
        assert!(cuts[2] > 0 && cuts[2] <= max_depth, "{cuts:?}");
        assert_eq!(*cuts.last().unwrap(), max_depth + 1, "{cuts:?}");
    }
}
