//! The planner without a fleet: every load is a vehicle that starts at its
//! source, and rounds come in batches with one repair of the trees each
//! (see [`super`]'s doc).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::search::{Shared, Tree, Use};
use super::slots::Reservations;
use super::{Plan, PlanError, Problem, Trip};
use crate::net::NONE;

/// The earliest timing of `route` (the arcs of a path) leaving its first
/// node at `start` or later, given the reservations (waiting where an arc
/// is full), and its arrival; `None` if it cannot be driven before the
/// horizon.
fn retime(p: &Problem, res: &Reservations, route: &[(u32, u64)], start: u64) -> Option<(Vec<(u32, u64)>, u64)> {
    let mut t = start;
    let mut legs = Vec::with_capacity(route.len());
    for &(a, _) in route {
        let e = res.earliest_entry(p.net, a as usize, t, p.horizon_ms)?;
        legs.push((a, e));
        t = e + u64::from(p.net.transit_ms[a as usize]);
    }
    Some((legs, t))
}

/// CCRP without a fleet: every batch starts from the earliest arrival at
/// any exit over every family's tree (exactly as a new search would find
/// it), sends as many loads along each of its routes as their sources have
/// and their tightest slots admit, and repairs the trees (module doc).
pub(super) fn plan(p: &Problem, mut res: Reservations, mut remaining: Vec<u64>) -> Result<Plan, PlanError> {
    let net = p.net;
    let sh = Shared::new(p);
    let mut families: Vec<u32> = p.sources.iter().zip(&remaining).filter(|(_, &r)| r > 0).map(|(s, _)| s.family).collect();
    families.sort_unstable();
    families.dedup();
    let sinks = sh.sinks.clone();
    let mut trees: Vec<Tree> = families.iter().map(|&f| Tree::new(&sh, f, Use::Kept)).collect();
    for t in &mut trees {
        t.build(&sh, &res, |i| (remaining[i] > 0).then(|| sh.start(i)));
    }
    let (mut searches, mut rounds) = (trees.len() as u64, 0u64);
    let mut trips: Vec<Trip> = Vec::new();
    let mut left: u64 = remaining.iter().sum();
    let mut filled: Vec<(u32, u64)> = Vec::new();
    let mut roots: Vec<u32> = Vec::new();
    let mut emptied: Vec<usize> = Vec::new();
    // Candidate routes of a batch: (arrival no earlier than, tree, exit).
    let mut cands: BinaryHeap<Reverse<(u64, usize, u32)>> = BinaryHeap::new();
    // Per (tree, exit): the candidate's route as last timed in the batch.
    struct Timed {
        legs: Vec<(u32, u64)>,
        arrive: u64,
        source: usize,
        /// Slots filled in the batch when it was timed.
        fills: usize,
    }
    let mut timed: Vec<Option<Timed>> = (0..trees.len() * sinks.len()).map(|_| None).collect();
    while left > 0 {
        // The earliest exit over every tree: exact, the batch's start.
        let mut best: Option<u64> = None;
        cands.clear();
        for (ti, tree) in trees.iter().enumerate() {
            for &z in &sinks {
                let t = tree.label(z);
                if t != u64::MAX {
                    best = Some(best.map_or(t, |b: u64| b.min(t)));
                    cands.push(Reverse((t, ti, z)));
                }
            }
        }
        let Some(t0) = best else {
            return Err(PlanError::out_of_time(p, Plan::new(trips, searches, rounds, None), remaining));
        };
        // The batch: routes arriving within one slot of `t0`, earliest
        // first. No route can arrive before `t0` any more (reservations
        // only delay), so each is within a slot of the earliest. A tree
        // path, even where the batch has made the tree stale, is a route:
        // driven again under the current reservations it arrives no
        // earlier than its label, so the labels order the candidates
        // lazily (a candidate that got later goes back with its new time).
        let window = t0.saturating_add(res.slot_ms);
        filled.clear();
        emptied.clear();
        let rounds_before = rounds;
        timed.iter_mut().for_each(|c| *c = None);
        while let Some(Reverse((key, ti, z))) = cands.pop() {
            if key > window || left == 0 {
                break;
            }
            let ci = ti * sinks.len() + sinks.binary_search(&z).expect("an exit");
            // The candidate's route and timing: the tree's own while no
            // slot has filled in the batch (the tree is exact until then),
            // the last timing while no slot has filled since, else driven
            // again.
            let stale = timed[ci].as_ref().is_none_or(|c| c.fills != filled.len());
            if stale {
                let (route, s) = trees[ti].path(net, z);
                if remaining[s] == 0 {
                    continue;
                }
                let timing = if filled.is_empty() { Some((route, trees[ti].label(z))) } else { retime(p, &res, &route, sh.start(s)) };
                let Some((legs, arrive)) = timing else { continue };
                timed[ci] = Some(Timed { legs, arrive, source: s, fills: filled.len() });
            }
            let c = timed[ci].as_ref().expect("timed above");
            let (s, t) = (c.source, c.arrive);
            if remaining[s] == 0 {
                continue;
            }
            if t > key {
                cands.push(Reverse((t, ti, z)));
                continue;
            }
            let legs = c.legs.clone();
            let mut b = remaining[s];
            for &(a, e) in &legs {
                b = b.min(u64::from(res.residual(net, a as usize, e / res.slot_ms)));
            }
            if b == 0 {
                // A timing enters only slots with room: never reached.
                debug_assert!(false, "a timed route through a full slot");
                timed[ci] = None;
                continue;
            }
            for &(a, e) in &legs {
                let k = e / res.slot_ms;
                if res.reserve(net, a as usize, k, b as u32) {
                    filled.push((a, k));
                }
            }
            rounds += 1;
            remaining[s] -= b;
            left -= b;
            if remaining[s] == 0 {
                emptied.push(s);
            }
            let depart = legs.first().map_or(t, |&(_, e)| e);
            trips.push(Trip { source: s, vehicle: None, units: b as u32, approach_ms: depart, depart_ms: depart, legs, arrive_ms: t, sink: z });
            cands.push(Reverse((t, ti, z)));
        }
        if rounds == rounds_before {
            // The exact earliest exit is always sendable: never reached.
            debug_assert!(false, "a batch sent nothing");
            for tree in &mut trees {
                *tree = Tree::new(&sh, tree.family, Use::Kept);
                tree.build(&sh, &res, |i| (remaining[i] > 0).then(|| sh.start(i)));
                searches += 1;
            }
            continue;
        }
        for tree in &mut trees {
            roots.clear();
            for &(a, k) in &filled {
                let v = net.head[a as usize];
                let x = &tree.nodes[v as usize];
                if x.parent == a && tree.enter(net, v) / res.slot_ms == k {
                    roots.push(v);
                }
            }
            for &s in &emptied {
                let v = p.sources[s].node;
                let x = &tree.nodes[v as usize];
                if tree.family == p.sources[s].family && x.parent == NONE && x.label != u64::MAX && tree.origin[v as usize] == s as u32 {
                    roots.push(v);
                }
            }
            if !roots.is_empty() {
                searches += 1;
                let r = std::mem::take(&mut roots);
                tree.repair(&sh, &res, &remaining, &r);
                roots = r;
            }
        }
    }
    Ok(Plan::new(trips, searches, rounds, None))
}
