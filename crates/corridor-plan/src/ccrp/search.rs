//! The time-dependent earliest-arrival search both planners run: from the
//! sources of one family, the earliest each node can be reached given the
//! reservations (a vehicle waits at a node until the next arc has room or
//! its gate opens), as a tree of parent arcs. The search is A* towards the
//! nearest exit and lazy: it stops once the earliest exit is known.
//!
//! The two planners differ in what they ask of it, and only there:
//!
//! - The free-flow batches ([`super::batches`]) keep one tree per family
//!   across rounds and repair it ([`Tree::repair`]; [`Use::Kept`]).
//! - The fleet planner ([`super::fleet`]) searches afresh every round (its
//!   sources start when a vehicle can be there, which every round
//!   changes), from the vehicles' ready times, and takes the earliest exit,
//!   the lowest-numbered among equals ([`Use::Fresh`]). Its route is read
//!   back from the labels in label order ([`Tree::route`]): among routes
//!   of equal arrival, the one a plain Dijkstra in label order would take,
//!   the order its plans have always been made in.

use std::collections::BinaryHeap;
use std::cmp::Reverse;

use super::slots::Reservations;
use super::Problem;
use crate::net::{FlowNet, NONE};

/// How a [`Tree`] is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Use {
    /// Kept across rounds and repaired; the search stops once no key is
    /// below the earliest exit label.
    Kept,
    /// Searched afresh ([`Tree::reset`]); the search stops once no key is
    /// at or below the earliest exit label, so that every label a route
    /// of that arrival could pass through is exact, and the route is read
    /// back from the labels ([`Tree::route`]).
    Fresh,
}

/// One family's earliest-arrival tree from every source with loads left.
///
/// A [`Use::Kept`] tree (no fleet) is kept exact across rounds: a
/// reservation only removes room, and an emptied source only removes a
/// start, so no label can fall, and a label stays right as long as the arc
/// slot its tree path enters still has room and its tail's label stands.
/// After each round, only the subtrees below the slots that filled (and
/// below emptied sources) are searched again, from the labels around them.
///
/// The search is goal-directed and lazy: its heap is keyed by label plus
/// the free-flow time to the nearest exit (a lower bound of what is left,
/// so the key never falls along a route: A* with a consistent potential),
/// and it stops as soon as no key is below the earliest exit label, which
/// is then exact. Nodes left in the heap are expanded in a later round, if
/// the earliest exit arrival ever passes their key; a label is thus exact
/// where its key is below the heap's top, a valid route's time elsewhere.
///
/// A [`Use::Fresh`] tree's search stops only past the earliest exit label.
pub(super) struct Tree {
    pub(super) family: u32,
    bit: u64,
    /// Whether some arc is closed to the family (else arcs are not checked).
    check_family: bool,
    pub(super) nodes: Vec<TreeNode>,
    /// The source a route starts from, at its first node (meaningful where
    /// the node is labelled and has no parent arc).
    pub(super) origin: Vec<u32>,
    epoch: u32,
    /// Nodes whose label is not yet expanded, keyed by label plus the
    /// potential (stale entries are skipped). An entry is the key (see
    /// [`heap_entry`]) shifted by [`NODE_BITS`], or'ed with the node: one
    /// 64-bit compare.
    heap: BinaryHeap<Reverse<u64>>,
    /// The earliest label of an exit.
    best: u64,
    /// 0 for a [`Use::Kept`] tree, 1 for a [`Use::Fresh`] one: the search
    /// stops at the first key at or above `best + past`.
    past: u64,
    /// In a [`Use::Fresh`] tree, the nodes labelled since the last
    /// [`Tree::reset`].
    labelled: Vec<u32>,
    affected: Vec<u32>,
    stack: Vec<u32>,
    order: NodeSet,
}

/// Bits of a heap entry that hold the node (networks of up to 2³⁰ nodes).
const NODE_BITS: u32 = 30;
const NODE_MASK: u64 = (1 << NODE_BITS) - 1;
/// The largest key a heap entry holds exactly: 2³⁴ ms, 198 days. A later
/// key is held as this one (the search then still finds every label, in a
/// less strict order); plan horizons are days to weeks.
const KEY_MAX: u64 = (1 << (64 - NODE_BITS)) - 1;

/// The heap entry of node `v` at `key` (label plus potential).
#[inline]
fn heap_entry(key: u64, v: u32) -> u64 {
    key.min(KEY_MAX) << NODE_BITS | u64::from(v)
}

/// Sorts sets of nodes by number, through a bitset the size of the network.
struct NodeSet {
    words: Vec<u64>,
}

impl NodeSet {
    fn new(nodes: usize) -> Self {
        NodeSet { words: vec![0; nodes.div_ceil(64)] }
    }
    /// Sorts `nodes` (distinct) and leaves the set empty.
    fn sort(&mut self, nodes: &mut Vec<u32>) {
        if nodes.len() < 64 {
            nodes.sort_unstable();
            return;
        }
        let (mut lo, mut hi) = (usize::MAX, 0);
        for &v in nodes.iter() {
            let w = v as usize / 64;
            self.words[w] |= 1 << (v % 64);
            (lo, hi) = (lo.min(w), hi.max(w));
        }
        nodes.clear();
        for w in lo..=hi {
            let mut bits = std::mem::take(&mut self.words[w]);
            while bits != 0 {
                nodes.push((w * 64) as u32 + bits.trailing_zeros());
                bits &= bits - 1;
            }
        }
    }
}

/// What a [`Tree`] holds per node, together.
#[derive(Debug, Clone, Copy)]
pub(super) struct TreeNode {
    /// Earliest arrival (`u64::MAX`: none); the parent arc is entered
    /// its transit time before.
    pub(super) label: u64,
    /// The search's potential: 0 at an exit and only there (transit times
    /// are at least 1 ms), `u64::MAX` where no exit can be reached, else
    /// the free-flow time to the nearest exit.
    pot: u64,
    /// The arc the label comes by ([`NONE`]: a source starts there).
    pub(super) parent: u32,
    /// The repair (epoch) that last invalidated the node.
    mark: u32,
}

/// What every tree of a plan shares: the problem, the reverse arcs, the
/// sources by node, the potential.
pub(super) struct Shared<'p, 'a> {
    pub(super) p: &'p Problem<'a>,
    first_in: Vec<u32>,
    /// The arcs into each node (from `first_in`), with their tails and
    /// transit times.
    arcs_in: Vec<(u32, u32, u32)>,
    src_first: Vec<u32>,
    src_list: Vec<u32>,
    /// The search's potential per node (see [`TreeNode::pot`]).
    pot: Vec<u64>,
    /// The exits, in node order.
    pub(super) sinks: Vec<u32>,
    /// Bit f set when some arc is closed to family f.
    closed_to: u64,
}

impl<'p, 'a> Shared<'p, 'a> {
    pub(super) fn new(p: &'p Problem<'a>) -> Self {
        let net = p.net;
        let n = net.node_count();
        let (first_in, arcs_in) = net.reverse_index();
        let mut src_first = vec![0u32; n + 1];
        for s in &p.sources {
            src_first[s.node as usize + 1] += 1;
        }
        for v in 0..n {
            src_first[v + 1] += src_first[v];
        }
        let mut fill = src_first.clone();
        let mut src_list = vec![0u32; p.sources.len()];
        for (i, s) in p.sources.iter().enumerate() {
            src_list[fill[s.node as usize] as usize] = i as u32;
            fill[s.node as usize] += 1;
        }
        let pot = net.free_flow_to_exits(&first_in, &arcs_in);
        let sinks: Vec<u32> = (0..n as u32).filter(|&v| net.sink[v as usize]).collect();
        let arcs_in = arcs_in.iter().map(|&a| (a, net.tail[a as usize], net.transit_ms[a as usize])).collect();
        let closed_to = net.families.iter().fold(0, |c, &f| c | !f);
        Shared { p, first_in, arcs_in, src_first, src_list, pot, sinks, closed_to }
    }
    fn sources_at(&self, v: u32) -> &[u32] {
        &self.src_list[self.src_first[v as usize] as usize..self.src_first[v as usize + 1] as usize]
    }
    fn arcs_into(&self, v: u32) -> &[(u32, u32, u32)] {
        &self.arcs_in[self.first_in[v as usize] as usize..self.first_in[v as usize + 1] as usize]
    }
    /// When source `i`'s first load may leave without a fleet.
    pub(super) fn start(&self, i: usize) -> u64 {
        let s = &self.p.sources[i];
        s.ready_ms + s.load_ms
    }
}

impl Tree {
    pub(super) fn new(sh: &Shared, family: u32, usage: Use) -> Self {
        assert!((sh.pot.len() as u64) <= NODE_MASK, "the planner takes networks of up to 2^30 nodes");
        let bit = 1u64 << (family % 64);
        Tree {
            family,
            bit,
            check_family: sh.closed_to & bit != 0,
            nodes: sh.pot.iter().map(|&pot| TreeNode { label: u64::MAX, pot, parent: NONE, mark: 0 }).collect(),
            origin: vec![NONE; sh.pot.len()],
            epoch: 0,
            heap: BinaryHeap::new(),
            best: u64::MAX,
            past: u64::from(usage == Use::Fresh),
            labelled: Vec::new(),
            affected: Vec::new(),
            stack: Vec::new(),
            order: NodeSet::new(sh.pot.len()),
        }
    }

    /// Forgets every label (a [`Use::Fresh`] tree), for a search of `family`.
    pub(super) fn reset(&mut self, sh: &Shared, family: u32) {
        debug_assert_eq!(self.past, 1, "only fresh trees are reset");
        for &v in &self.labelled {
            let x = &mut self.nodes[v as usize];
            x.label = u64::MAX;
            x.parent = NONE;
        }
        self.labelled.clear();
        self.heap.clear();
        self.best = u64::MAX;
        self.family = family;
        self.bit = 1u64 << (family % 64);
        self.check_family = sh.closed_to & self.bit != 0;
    }

    pub(super) fn label(&self, v: u32) -> u64 {
        self.nodes[v as usize].label
    }

    /// The earliest exit reached, the lowest-numbered among equals, and when.
    pub(super) fn first_exit(&self, sh: &Shared) -> Option<(u64, u32)> {
        let t = self.best;
        (t != u64::MAX).then(|| (t, *sh.sinks.iter().find(|&&z| self.label(z) == t).expect("the best label is an exit's")))
    }

    /// When `v`'s parent arc is entered.
    pub(super) fn enter(&self, net: &FlowNet, v: u32) -> u64 {
        let x = &self.nodes[v as usize];
        x.label - u64::from(net.transit_ms[x.parent as usize])
    }

    /// Sets `v`'s label to `t` if that is earlier; true if it was.
    #[inline]
    fn offer(&mut self, v: u32, t: u64, parent: u32) -> bool {
        let x = &mut self.nodes[v as usize];
        if t >= x.label {
            return false;
        }
        if self.past == 1 && x.label == u64::MAX {
            self.labelled.push(v);
        }
        x.label = t;
        x.parent = parent;
        if x.pot == 0 {
            self.best = self.best.min(t);
        } else if x.pot != u64::MAX {
            self.heap.push(Reverse(heap_entry(t + x.pot, v)));
        }
        true
    }

    /// The tree from the sources of its family that `start` gives a time
    /// (in source order), on a tree without labels.
    pub(super) fn build(&mut self, sh: &Shared, res: &Reservations, start: impl Fn(usize) -> Option<u64>) {
        for (i, s) in sh.p.sources.iter().enumerate() {
            if s.family != self.family {
                continue;
            }
            if let Some(t) = start(i) {
                if self.offer(s.node, t, NONE) {
                    self.origin[s.node as usize] = i as u32;
                }
            }
        }
        self.run(sh, res);
    }

    /// Expands what is in the heap, in key order (the potential is
    /// consistent: waiting only adds to an arc's transit time), until the
    /// earliest exit label is exact: no unexpanded node's key is below it
    /// (in a [`Use::Fresh`] tree: at or below it). Exits are not passed
    /// through. What is left in the heap waits for later rounds.
    fn run(&mut self, sh: &Shared, res: &Reservations) {
        let p = sh.p;
        let net = p.net;
        while let Some(&Reverse(entry)) = self.heap.peek() {
            let (k, u) = (entry >> NODE_BITS, (entry & NODE_MASK) as u32);
            if k >= self.best.saturating_add(self.past) {
                break;
            }
            self.heap.pop();
            let x = self.nodes[u as usize];
            if x.label == u64::MAX || k != (x.label + x.pot).min(KEY_MAX) {
                continue;
            }
            for a in net.arcs_of(u) {
                let (w, transit) = (net.head[a], u64::from(net.transit_ms[a]));
                // Not even free flow would improve the head's label.
                if self.nodes[w as usize].label <= x.label + transit || (self.check_family && net.families[a] & self.bit == 0) {
                    continue;
                }
                let Some(e) = res.earliest_entry(net, a, x.label, p.horizon_ms) else { continue };
                self.offer(w, e + transit, a as u32);
            }
        }
    }

    /// Searches again below `roots` (nodes whose label no longer holds), a
    /// [`Use::Kept`] tree whose sources start at [`Shared::start`].
    pub(super) fn repair(&mut self, sh: &Shared, res: &Reservations, remaining: &[u64], roots: &[u32]) {
        let net = sh.p.net;
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            self.nodes.iter_mut().for_each(|x| x.mark = 0);
            self.epoch = 1;
        }
        let epoch = self.epoch;
        self.affected.clear();
        self.stack.clear();
        self.stack.extend_from_slice(roots);
        while let Some(v) = self.stack.pop() {
            let x = &mut self.nodes[v as usize];
            if x.mark == epoch {
                continue;
            }
            x.mark = epoch;
            self.affected.push(v);
            if x.label == u64::MAX || x.pot == 0 {
                continue;
            }
            for a in net.arcs_of(v) {
                let w = net.head[a];
                if self.nodes[w as usize].parent == a as u32 {
                    self.stack.push(w);
                }
            }
        }
        let mut sink_hit = false;
        for &v in &self.affected {
            let x = &mut self.nodes[v as usize];
            x.label = u64::MAX;
            x.parent = NONE;
            sink_hit |= x.pot == 0;
        }
        if sink_hit {
            self.best = sh.sinks.iter().map(|&z| self.label(z)).min().unwrap_or(u64::MAX);
        }
        // Each invalidated node's best offer from the sources there and
        // the arcs from labels that stand (one heap entry for it). Each
        // offer depends on labels that stand only, so the order does not
        // matter: by node, the arrays are read in address order.
        let mut affected = std::mem::take(&mut self.affected);
        self.order.sort(&mut affected);
        for &v in &affected {
            let (mut t, mut parent, mut source) = (u64::MAX, NONE, NONE);
            for &i in sh.sources_at(v) {
                let i = i as usize;
                if sh.p.sources[i].family == self.family && remaining[i] > 0 && sh.start(i) < t {
                    (t, source) = (sh.start(i), i as u32);
                }
            }
            for &(a, u, transit) in sh.arcs_into(v) {
                let a = a as usize;
                let u = &self.nodes[u as usize];
                let transit = u64::from(transit);
                if u.mark == epoch || u.label == u64::MAX || u.label + transit >= t || u.pot == 0 || (self.check_family && net.families[a] & self.bit == 0) {
                    continue;
                }
                if let Some(e) = res.earliest_entry(net, a, u.label, sh.p.horizon_ms) {
                    if e + transit < t {
                        (t, parent) = (e + transit, a as u32);
                    }
                }
            }
            if t != u64::MAX {
                self.offer(v, t, parent);
                if parent == NONE {
                    self.origin[v as usize] = source;
                }
            }
        }
        self.affected = affected;
        self.run(sh, res);
    }

    /// The route to exit `z` of a [`Use::Fresh`] tree searched with
    /// `start`, as its legs (arc, entry time) and the source it starts
    /// from: the route a plain Dijkstra in label order (label, then node)
    /// would have taken, whose first offer of a label holds. At each node
    /// from the exit back: the first source, in source order, that starts
    /// there at the node's label; else, of the arcs that reach it at its
    /// label, the one from the earliest tail label, then the lowest tail,
    /// then the lowest arc.
    ///
    /// Every node such a route could pass through has a key (label plus
    /// potential) at or below the exit's label, so the search has made its
    /// label exact; a label that is not exact is later than the node's
    /// true one, and later than any route of that arrival could pass it.
    pub(super) fn route(&self, sh: &Shared, res: &Reservations, z: u32, start: impl Fn(usize) -> Option<u64>) -> (Vec<(u32, u64)>, usize) {
        debug_assert_eq!(self.past, 1, "routes are read back from fresh trees");
        let net = sh.p.net;
        let mut legs = Vec::new();
        let mut v = z;
        loop {
            let t = self.label(v);
            debug_assert!(t <= self.best, "a route node is labelled no later than its exit");
            if let Some(&i) = sh.sources_at(v).iter().find(|&&i| sh.p.sources[i as usize].family == self.family && start(i as usize) == Some(t)) {
                legs.reverse();
                return (legs, i as usize);
            }
            let mut parent: Option<(u64, u32, u32)> = None; // (tail label, tail, arc)
            for &(a, u, transit) in sh.arcs_into(v) {
                let x = &self.nodes[u as usize];
                let transit = u64::from(transit);
                if x.label == u64::MAX || x.pot == 0 || x.pot == u64::MAX || x.label + transit > t || (self.check_family && net.families[a as usize] & self.bit == 0) {
                    continue;
                }
                if parent.is_some_and(|best| best <= (x.label, u, a)) {
                    continue;
                }
                if res.earliest_entry(net, a as usize, x.label, sh.p.horizon_ms).is_some_and(|e| e + transit == t) {
                    parent = Some((x.label, u, a));
                }
            }
            let (_, u, a) = parent.expect("a labelled node is reached from a source or an arc at its label");
            legs.push((a, t - u64::from(net.transit_ms[a as usize])));
            v = u;
        }
    }

    /// The legs (arc, entry time) of the tree path to `z`, and the source
    /// it starts from.
    pub(super) fn path(&self, net: &FlowNet, z: u32) -> (Vec<(u32, u64)>, usize) {
        let mut legs = Vec::new();
        let mut v = z;
        loop {
            let x = &self.nodes[v as usize];
            if x.parent == NONE {
                break;
            }
            legs.push((x.parent, self.enter(net, v)));
            v = net.tail[x.parent as usize];
        }
        legs.reverse();
        (legs, self.origin[v as usize] as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_sets_sort_nodes() {
        let mut set = NodeSet::new(1000);
        for n in [0usize, 5, 63, 64, 65, 300, 1000] {
            // Distinct nodes in a scrambled order.
            let mut nodes: Vec<u32> = (0..n as u32).map(|i| (i * 617 + 11) % 1000).collect();
            let mut want = nodes.clone();
            want.sort_unstable();
            set.sort(&mut nodes);
            assert_eq!(nodes, want);
        }
        assert!(set.words.iter().all(|&w| w == 0), "the set is left empty");
    }

    #[test]
    fn heap_entries_order_by_key_then_node_and_saturate() {
        let week = 7 * 24 * 3_600_000;
        let max_node = NODE_MASK as u32;
        // The key decides, whatever the nodes.
        assert!(heap_entry(week, max_node) < heap_entry(week + 1, 0));
        assert!(heap_entry(5, 7) < heap_entry(5, 8));
        // Key and node come back out.
        let e = heap_entry(week, 123_456);
        assert_eq!((e >> NODE_BITS, (e & NODE_MASK) as u32), (week, 123_456));
        // Beyond 2^34 ms the key is held as the largest, and still above every exact key.
        assert_eq!(heap_entry(u64::MAX / 2, 3) >> NODE_BITS, KEY_MAX);
        assert!(heap_entry(KEY_MAX - 1, max_node) < heap_entry(u64::MAX / 2, 0));
    }
}
