//! The spatial index of road segments, computed at preparation and kept
//! in the prepared file as two plain arrays, so that a router is ready
//! without building a tree.
//!
//! One segment per pair of junctions (named by its first arc, either way,
//! see [`SegIndex::new`]), in a local flat projection (metres) around the
//! network's centre. The segments are sorted along a Hilbert curve of
//! their boxes' centres and packed [`NODE_SIZE`] to a node, nodes
//! [`NODE_SIZE`] to a parent, up to one root (a packed static R-tree, as
//! Flatbush lays it out); the boxes of the nodes above the segments are
//! stored, and each segment's projected ends in leaf order (the search
//! reads them in a row rather than through the network's arrays). Node
//! `i` of a level holds entries `i * NODE_SIZE ..` of the level below;
//! the level sizes follow from the number of segments alone.
//!
//! The nearest-segment search is best-first, so segments come out nearest
//! first; equal distances come out by arc number (an R-tree of `rstar`
//! gave them in an order of its own making). Distances are `rstar`'s
//! ([`rstar::primitives::Line`]), so they are the same to the bit as the
//! R-tree's were. A node's distance is its box's, a hair less (a lower
//! bound of its segments'). The heap holds only what may come out before
//! the nearest segment measured so far: a node or segment farther than
//! that goes to a plain list, moved into the heap only once the heap has
//! nothing nearer (after that segment is taken), so a search for the
//! nearest few sorts a few dozen entries, not every one it saw. The heap
//! and list are reused by the next search on the same thread, and
//! [`Nearest::limit`] drops everything beyond a distance the caller no
//! longer wants (the router's [`crate::router::SNAP_TIE_M`] past the
//! nearest). 8 to a node: in a loop of 20,000 snaps on Monaco the
//! search took 1.3 to 1.5 µs with 8 or 4 to a node, about a fifth more
//! with 16, and 3.6 to 4.7 µs before (16 to a node, every node and
//! segment through the heap, a fresh heap each search). `corridor-bench
//! route --maps monaco,helsinki --pairs 200 --hazard-trials 1 --table
//! 10`, three runs alternated with the build before (2026-12-08):
//! snapping both ends in Monaco, median 4.5 to 5.4 µs against 8.4 to 9.0
//! µs (the `rstar` tree built at load took 4.5 to 4.8 µs); in Helsinki
//! 2.6 to 2.9 µs against 5.4 to 8.4 µs.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use rstar::PointDistance;

use crate::graph::RoadNetwork;

/// Children per node (see the module doc).
pub const NODE_SIZE: usize = 8;

/// A local flat projection (metres) around the network's centre, good
/// enough to rank nearby segments.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Proj {
    pub lat0: f64,
    pub lon0: f64,
    pub kx: f64,
    pub ky: f64,
}

impl Proj {
    /// Around the mean of the network's coordinates.
    pub fn of(net: &RoadNetwork) -> Proj {
        let n = net.node_count().max(1) as f64;
        let lat0 = net.lat.iter().sum::<f64>() / n;
        let lon0 = net.lon.iter().sum::<f64>() / n;
        Proj { lat0, lon0, kx: 111_320.0 * lat0.to_radians().cos(), ky: 110_574.0 }
    }
    pub fn xy(&self, lat: f64, lon: f64) -> [f64; 2] {
        [(lon - self.lon0) * self.kx, (lat - self.lat0) * self.ky]
    }
}

/// The packed segment index (see the module doc).
#[derive(Debug, Clone, PartialEq)]
pub struct SegIndex {
    pub proj: Proj,
    /// The segments' first arcs, in leaf order.
    pub arcs: Vec<u32>,
    /// Their projected ends `[from x, from y, to x, to y]`, in leaf order.
    pub ends: Vec<[f64; 4]>,
    /// `[min x, min y, max x, max y]` of each node above the segments,
    /// level by level from the lowest (node `i` of the lowest level holds
    /// segments `i * NODE_SIZE ..`), the root last.
    pub boxes: Vec<[f64; 4]>,
}

/// Position of `(x, y)` (each below 2^16) along a Hilbert curve.
fn hilbert(x: u32, y: u32) -> u32 {
    // Flatbush's (after Rawrunprotected's public-domain version).
    let mut a = x ^ y;
    let mut b = 0xFFFF ^ a;
    let mut c = 0xFFFF ^ (x | y);
    let mut d = x & (y ^ 0xFFFF);
    let mut aa = a | (b >> 1);
    let mut bb = (a >> 1) ^ a;
    let mut cc = ((c >> 1) ^ (b & (d >> 1))) ^ c;
    let mut dd = ((a & (c >> 1)) ^ (d >> 1)) ^ d;
    a = aa;
    b = bb;
    c = cc;
    d = dd;
    aa = (a & (a >> 2)) ^ (b & (b >> 2));
    bb = (a & (b >> 2)) ^ (b & ((a ^ b) >> 2));
    cc ^= (a & (c >> 2)) ^ (b & (d >> 2));
    dd ^= (b & (c >> 2)) ^ ((a ^ b) & (d >> 2));
    a = aa;
    b = bb;
    c = cc;
    d = dd;
    aa = (a & (a >> 4)) ^ (b & (b >> 4));
    bb = (a & (b >> 4)) ^ (b & ((a ^ b) >> 4));
    cc ^= (a & (c >> 4)) ^ (b & (d >> 4));
    dd ^= (b & (c >> 4)) ^ ((a ^ b) & (d >> 4));
    a = aa;
    b = bb;
    c = cc;
    d = dd;
    cc ^= (a & (c >> 8)) ^ (b & (d >> 8));
    dd ^= (b & (c >> 8)) ^ ((a ^ b) & (d >> 8));
    a = cc ^ (cc >> 1);
    b = dd ^ (dd >> 1);
    let mut i0 = x ^ y;
    let mut i1 = b | (0xFFFF ^ (i0 | a));
    i0 = (i0 | (i0 << 8)) & 0x00FF_00FF;
    i0 = (i0 | (i0 << 4)) & 0x0F0F_0F0F;
    i0 = (i0 | (i0 << 2)) & 0x3333_3333;
    i0 = (i0 | (i0 << 1)) & 0x5555_5555;
    i1 = (i1 | (i1 << 8)) & 0x00FF_00FF;
    i1 = (i1 | (i1 << 4)) & 0x0F0F_0F0F;
    i1 = (i1 | (i1 << 2)) & 0x3333_3333;
    i1 = (i1 | (i1 << 1)) & 0x5555_5555;
    (i1 << 1) | i0
}

fn bbox(a: [f64; 2], b: [f64; 2]) -> [f64; 4] {
    [a[0].min(b[0]), a[1].min(b[1]), a[0].max(b[0]), a[1].max(b[1])]
}

fn union(a: [f64; 4], b: [f64; 4]) -> [f64; 4] {
    [a[0].min(b[0]), a[1].min(b[1]), a[2].max(b[2]), a[3].max(b[3])]
}

/// Squared distance from `q` to a box (0 inside), made a hair smaller so
/// that it never exceeds a segment's inside it whatever the rounding.
fn box_d2(b: &[f64; 4], q: [f64; 2]) -> f64 {
    let gap = |lo: f64, hi: f64, x: f64| {
        if x < lo {
            lo - x
        } else if x > hi {
            x - hi
        } else {
            0.0
        }
    };
    let (dx, dy) = (gap(b[0], b[2], q[0]), gap(b[1], b[3], q[1]));
    (dx * dx + dy * dy) * (1.0 - 1e-9)
}

/// An entry of the search: a node (`tie` its level, `at` its index in
/// its level) or a segment (`tie` is `SEGMENT | arc`, `at` its place in
/// leaf order), ordered by distance, then nodes before segments, then
/// segments by arc.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Entry {
    /// The squared distance as [`key`] orders it.
    d2: u64,
    tie: u64,
    at: u32,
}

const SEGMENT: u64 = 1 << 32;

/// Most levels of nodes above the segments (`NODE_SIZE` ≥ 2 and fewer
/// than 2^32 segments).
const MAX_LEVELS: usize = 32;

/// `x`'s bits, turned so that unsigned order is `f64::total_cmp`'s.
fn key(x: f64) -> u64 {
    let b = x.to_bits();
    if b >> 63 == 0 {
        b | 1 << 63
    } else {
        !b
    }
}

/// The inverse of [`key`].
fn unkey(k: u64) -> f64 {
    f64::from_bits(if k >> 63 == 1 { k & !(1 << 63) } else { !k })
}

impl SegIndex {
    /// The index of `net`'s segments: one per pair of junctions, named by
    /// its first arc (either way).
    pub fn new(net: &RoadNetwork) -> SegIndex {
        let proj = Proj::of(net);
        let (copies_first, copies) = junction_copies(net);
        let nodes_of = |j: u32| std::iter::once(j).chain(copies[copies_first[j as usize] as usize..copies_first[j as usize + 1] as usize].iter().copied());
        let earlier = |a: usize, x: u32, y: u32| nodes_of(x).any(|w| net.arcs_of(w).take_while(|&b| b < a).any(|b| net.junction[net.head[b] as usize] == y));
        let mut arcs = Vec::with_capacity(net.arc_count() / 2 + 1);
        for a in 0..net.arc_count() {
            let (u, v) = (net.junction[net.tail[a] as usize], net.junction[net.head[a] as usize]);
            if !earlier(a, u, v) && !earlier(a, v, u) {
                arcs.push(a as u32);
            }
        }
        Self::pack(net, proj, arcs)
    }

    /// Sorts `arcs` (the segments) along the Hilbert curve and computes the
    /// nodes' boxes.
    fn pack(net: &RoadNetwork, proj: Proj, mut arcs: Vec<u32>) -> SegIndex {
        let seg_box = |a: u32| {
            let (p, q) = seg_of(net, &proj, a);
            bbox(p, q)
        };
        let all = arcs.iter().fold([f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY], |acc, &a| union(acc, seg_box(a)));
        let (w, h) = ((all[2] - all[0]).max(f64::MIN_POSITIVE), (all[3] - all[1]).max(f64::MIN_POSITIVE));
        let scale = |v: f64, lo: f64, span: f64| {
            let x = ((v - lo) / span * 65535.0).floor();
            if x.is_finite() { x.clamp(0.0, 65535.0) as u32 } else { 0 }
        };
        let mut keyed: Vec<(u32, u32)> = arcs
            .iter()
            .map(|&a| {
                let b = seg_box(a);
                (hilbert(scale((b[0] + b[2]) / 2.0, all[0], w), scale((b[1] + b[3]) / 2.0, all[1], h)), a)
            })
            .collect();
        keyed.sort_unstable();
        arcs = keyed.into_iter().map(|(_, a)| a).collect();
        let ends: Vec<[f64; 4]> = arcs
            .iter()
            .map(|&a| {
                let (p, q) = seg_of(net, &proj, a);
                [p[0], p[1], q[0], q[1]]
            })
            .collect();
        let mut boxes = Vec::new();
        let mut below: Vec<[f64; 4]> = arcs.iter().map(|&a| seg_box(a)).collect();
        let shape = Shape::of(arcs.len());
        for l in 1..=shape.levels {
            let level: Vec<[f64; 4]> = below
                .chunks(NODE_SIZE)
                .map(|c| c.iter().copied().fold(c[0], union))
                .collect();
            debug_assert_eq!(level.len(), shape.count[l] as usize);
            boxes.extend_from_slice(&level);
            below = level;
        }
        SegIndex { proj, arcs, ends, boxes }
    }

    /// Whether the arrays fit together and name arcs of `net` (checked
    /// when a prepared file is read).
    pub fn fits(&self, net: &RoadNetwork) -> bool {
        let shape = Shape::of(self.arcs.len());
        self.boxes.len()
            == (1..=shape.levels)
                .map(|l| shape.count[l] as usize)
                .sum::<usize>()
            && self.ends.len() == self.arcs.len()
            && self.arcs.iter().all(|&a| (a as usize) < net.arc_count())
    }

    /// The segments nearest `q` first (see the module doc): `(arc, from,
    /// to, squared distance)`.
    pub fn nearest<'a>(&'a self, q: [f64; 2]) -> Nearest<'a> {
        let shape = Shape::of(self.arcs.len());
        let (mut heap, later) = SCRATCH.take().unwrap_or_default();
        if let Some(root) = self.boxes.last() {
            heap.push(Reverse(Entry {
                d2: key(box_d2(root, q)),
                tie: shape.levels as u64,
                at: 0,
            }));
        }
        Nearest {
            index: self,
            q,
            heap,
            later,
            bound: u64::MAX,
            limit: u64::MAX,
            shape,
        }
    }

    /// The arcs naming segments whose box meets the box `lo`–`hi`.
    pub fn intersecting(&self, lo: [f64; 2], hi: [f64; 2], out: &mut Vec<u32>) {
        let shape = Shape::of(self.arcs.len());
        if shape.levels == 0 {
            return;
        }
        let meets = |b: &[f64; 4]| b[0] <= hi[0] && b[2] >= lo[0] && b[1] <= hi[1] && b[3] >= lo[1];
        let mut stack = vec![(shape.levels, 0usize)];
        while let Some((level, i)) = stack.pop() {
            if level == 0 {
                let e = self.ends[i];
                if meets(&bbox([e[0], e[1]], [e[2], e[3]])) {
                    out.push(self.arcs[i]);
                }
                continue;
            }
            if !meets(&self.boxes[shape.first[level] as usize + i]) {
                continue;
            }
            for c in i * NODE_SIZE..((i + 1) * NODE_SIZE).min(shape.count[level - 1] as usize) {
                stack.push((level - 1, c));
            }
        }
    }
}

/// The copies of each junction made for turn restrictions (see
/// [`crate::turns`]), as CSR: junction `j`'s are
/// `copies[first[j]..first[j + 1]]`.
pub(crate) fn junction_copies(net: &RoadNetwork) -> (Vec<u32>, Vec<u32>) {
    let n = net.node_count();
    let mut first = vec![0u32; n + 1];
    for v in (0..n).filter(|&v| net.junction[v] as usize != v) {
        first[net.junction[v] as usize + 1] += 1;
    }
    for v in 0..n {
        first[v + 1] += first[v];
    }
    let mut next = first.clone();
    let mut copies = vec![0u32; first[n] as usize];
    for v in (0..n).filter(|&v| net.junction[v] as usize != v) {
        let slot = &mut next[net.junction[v] as usize];
        copies[*slot as usize] = v as u32;
        *slot += 1;
    }
    (first, copies)
}

/// The geometry of segment `a` (its junctions' positions, projected).
fn seg_of(net: &RoadNetwork, proj: &Proj, a: u32) -> ([f64; 2], [f64; 2]) {
    let (u, v) = (net.junction[net.tail[a as usize] as usize] as usize, net.junction[net.head[a as usize] as usize] as usize);
    (proj.xy(net.lat[u], net.lon[u]), proj.xy(net.lat[v], net.lon[v]))
}

/// The shape of the tree above `items` segments.
#[derive(Debug, Clone, Copy)]
struct Shape {
    /// Levels of nodes above the segments.
    levels: usize,
    /// Entries at each level (0: the segments).
    count: [u32; MAX_LEVELS + 1],
    /// Where each level's boxes start in [`SegIndex::boxes`].
    first: [u32; MAX_LEVELS + 1],
}

impl Shape {
    fn of(items: usize) -> Shape {
        let mut shape = Shape {
            levels: 0,
            count: [0; MAX_LEVELS + 1],
            first: [0; MAX_LEVELS + 1],
        };
        shape.count[0] = items as u32;
        let mut at = 0;
        let mut s = items;
        while s > 1 || (s == 1 && shape.levels == 0) {
            s = s.div_ceil(NODE_SIZE);
            shape.levels += 1;
            shape.count[shape.levels] = s as u32;
            shape.first[shape.levels] = at;
            at += s as u32;
        }
        shape
    }
}

/// A search's heap and list of entries kept for later.
type Scratch = (BinaryHeap<Reverse<Entry>>, Vec<Entry>);

thread_local! {
    /// The heap and list of a finished search on this thread, reused by
    /// the next one (a search allocates nothing once they are big enough).
    static SCRATCH: std::cell::Cell<Option<Scratch>> = const { std::cell::Cell::new(None) };
}

/// The search of [`SegIndex::nearest`].
pub struct Nearest<'a> {
    index: &'a SegIndex,
    q: [f64; 2],
    heap: BinaryHeap<Reverse<Entry>>,
    /// Entries farther than `bound`, kept out of the heap until it holds
    /// nothing nearer.
    later: Vec<Entry>,
    /// The least distance of a segment in the heap, or `u64::MAX`.
    bound: u64,
    /// Nothing farther is wanted ([`Nearest::limit`]).
    limit: u64,
    shape: Shape,
}

impl Drop for Nearest<'_> {
    fn drop(&mut self) {
        let (mut heap, mut later) = (
            std::mem::take(&mut self.heap),
            std::mem::take(&mut self.later),
        );
        heap.clear();
        later.clear();
        SCRATCH.set(Some((heap, later)));
    }
}

impl Nearest<'_> {
    /// Ends the search at squared distance `max_d2`: segments farther
    /// than that are not returned (nor nodes farther searched).
    pub fn limit(&mut self, max_d2: f64) {
        self.limit = self.limit.min(key(max_d2));
    }

    fn put(&mut self, e: Entry) {
        if e.d2 > self.limit {
            return;
        }
        if e.d2 <= self.bound {
            self.heap.push(Reverse(e));
        } else {
            self.later.push(e);
        }
    }
}

impl Iterator for Nearest<'_> {
    type Item = (u32, [f64; 2], [f64; 2], f64);

    fn next(&mut self) -> Option<Self::Item> {
        let ix = self.index;
        loop {
            // Everything in `later` is farther than `bound`; while a
            // segment at `bound` is in the heap, the heap's least entry
            // is the least of all.
            if self.heap.peek().is_none_or(|Reverse(e)| e.d2 > self.bound) {
                if self.later.is_empty() && self.heap.is_empty() {
                    return None;
                }
                let limit = self.limit;
                self.heap
                    .extend(self.later.drain(..).filter(|e| e.d2 <= limit).map(Reverse));
                self.bound = u64::MAX;
            }
            let Reverse(e) = self.heap.pop()?;
            if e.d2 > self.limit {
                return None;
            }
            if e.tie & SEGMENT != 0 {
                let s = ix.ends[e.at as usize];
                return Some((
                    (e.tie & !SEGMENT) as u32,
                    [s[0], s[1]],
                    [s[2], s[3]],
                    unkey(e.d2),
                ));
            }
            let level = e.tie as usize;
            let i = e.at as usize;
            let children =
                i * NODE_SIZE..((i + 1) * NODE_SIZE).min(self.shape.count[level - 1] as usize);
            if level == 1 {
                let mut d2 = [0u64; NODE_SIZE];
                for (k, c) in children.clone().enumerate() {
                    let s = ix.ends[c];
                    d2[k] = key(rstar::primitives::Line::new([s[0], s[1]], [s[2], s[3]])
                        .distance_2(&self.q));
                }
                let n = children.len();
                self.bound = self
                    .bound
                    .min(d2[..n].iter().copied().min().unwrap_or(u64::MAX));
                for (k, c) in children.enumerate() {
                    self.put(Entry {
                        d2: d2[k],
                        tie: SEGMENT | u64::from(ix.arcs[c]),
                        at: c as u32,
                    });
                }
            } else {
                let first = self.shape.first[level - 1] as usize;
                for c in children {
                    self.put(Entry {
                        d2: key(box_d2(&ix.boxes[first + c], self.q)),
                        tie: (level - 1) as u64,
                        at: c as u32,
                    });
                }
            }
        }
    }
}
