//! Helpers shared by the integration tests.

/// CRC-32 (ISO-HDLC, the IEEE polynomial), as the `.cnet` format uses,
/// written out here so a test that forges a file's checksum does not lean
/// on the code it checks (`bad_input.rs` checks it against the standard
/// check value).
#[allow(dead_code)]
pub fn crc32(b: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &x in b {
        crc ^= u32::from(x);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

use corridor_geo::turns::TurnRule;
use corridor_geo::{RoadNetwork, Snap};
use std::collections::{BinaryHeap, HashMap, HashSet};

/// The independent oracle for routes under turn restrictions: an
/// edge-based Dijkstra (a state is the arc just driven) on the network
/// with one node per junction (`osm::import_*_parts`), reading the turn
/// rules directly: a turn `x → y` is refused if a `no` rule names it, or
/// if `x` has `only` rules and none names `y`. Written apart from
/// `turns::split_turns`, so a fault in the split shows as a disagreement.
/// Destination roads are not modelled: give it networks without them.
#[allow(dead_code)]
pub struct TurnOracle<'a> {
    pub net: &'a RoadNetwork,
    no: HashSet<(u32, u32)>,
    only: HashMap<u32, HashSet<u32>>,
    /// The arcs into each node.
    into: Vec<Vec<u32>>,
}

#[allow(dead_code)]
impl<'a> TurnOracle<'a> {
    pub fn new(net: &'a RoadNetwork, rules: &[TurnRule]) -> Self {
        let mut no = HashSet::new();
        let mut only: HashMap<u32, HashSet<u32>> = HashMap::new();
        for r in rules {
            assert_eq!(net.head[r.from as usize], net.tail[r.to as usize], "a rule's arcs meet at its via node");
            if r.only {
                only.entry(r.from).or_default().insert(r.to);
            } else {
                no.insert((r.from, r.to));
            }
        }
        let mut into = vec![Vec::new(); net.node_count()];
        for a in 0..net.arc_count() {
            into[net.head[a] as usize].push(a as u32);
        }
        TurnOracle { net, no, only, into }
    }

    pub fn allowed(&self, x: u32, y: u32) -> bool {
        !self.no.contains(&(x, y)) && self.only.get(&x).is_none_or(|s| s.contains(&y))
    }

    /// The least time from any start to any end. A start `(arc, ms)` is
    /// at the head of `arc` having driven it (part of it: `ms`); an end
    /// `(arc, ms)` enters `arc` from its tail by an allowed turn and drives
    /// `ms` of it.
    pub fn best(&self, starts: &[(u32, u64)], ends: &[(u32, u64)]) -> Option<u64> {
        let net = self.net;
        let mut dist = vec![u64::MAX; net.arc_count()];
        let mut heap = BinaryHeap::new();
        for &(a, d) in starts {
            if d < dist[a as usize] {
                dist[a as usize] = d;
                heap.push(std::cmp::Reverse((d, a)));
            }
        }
        while let Some(std::cmp::Reverse((d, x))) = heap.pop() {
            if d > dist[x as usize] {
                continue;
            }
            let v = net.head[x as usize];
            for y in net.first_out[v as usize]..net.first_out[v as usize + 1] {
                if !self.allowed(x, y) {
                    continue;
                }
                let nd = d + u64::from(net.time_ms[y as usize]);
                if nd < dist[y as usize] {
                    dist[y as usize] = nd;
                    heap.push(std::cmp::Reverse((nd, y)));
                }
            }
        }
        let mut best: Option<u64> = None;
        for &(e, off) in ends {
            let u = net.tail[e as usize];
            for &x in &self.into[u as usize] {
                if dist[x as usize] != u64::MAX && self.allowed(x, e) {
                    let d = dist[x as usize] + off;
                    best = Some(best.map_or(d, |b| b.min(d)));
                }
            }
        }
        best
    }

    /// The arc of this network that a router's snapped segment `u → v`
    /// drives (the router's junctions are this network's nodes).
    pub fn arc(&self, u: u32, v: u32) -> u32 {
        let net = self.net;
        (net.first_out[u as usize]..net.first_out[u as usize + 1]).filter(|&a| net.head[a as usize] == v).min_by_key(|&a| net.time_ms[a as usize]).expect("the segment is a road")
    }

    /// The best time between a router's snap candidates (as a router
    /// rounds the partial segments), and whether a start and an end share
    /// a segment (the router may then drive along it, which this does not
    /// see).
    pub fn between(&self, from: &[Snap], to: &[Snap]) -> (Option<u64>, bool) {
        let w = |a: u32| self.net.time_ms[a as usize] as f64;
        let mut starts = vec![];
        for f in from {
            if f.ab.is_some() {
                let a = self.arc(f.a, f.b);
                starts.push((a, ((1.0 - f.t) * w(a)).round() as u64));
            }
            if f.ba.is_some() {
                let a = self.arc(f.b, f.a);
                starts.push((a, (f.t * w(a)).round() as u64));
            }
        }
        let mut ends = vec![];
        for t in to {
            if t.ab.is_some() {
                let a = self.arc(t.a, t.b);
                ends.push((a, (t.t * w(a)).round() as u64));
            }
            if t.ba.is_some() {
                let a = self.arc(t.b, t.a);
                ends.push((a, ((1.0 - t.t) * w(a)).round() as u64));
            }
        }
        let shares = from.iter().any(|f| to.iter().any(|t| (f.a, f.b) == (t.a, t.b)));
        (self.best(&starts, &ends), shares)
    }
}
