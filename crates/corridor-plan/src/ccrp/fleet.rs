//! The planner with a fleet: each round sends one route's worth of
//! vehicles, each carrying one load; a vehicle that unloads at an exit
//! becomes ready there again after `unload_ms` and reaches a source after
//! the free-flow repositioning time the problem gives.
//!
//! The fleet is kept in groups of one vehicle class at one place
//! ([`Fleet`]): every vehicle of a group reaches a given source after the
//! same repositioning time, so when a source's first vehicle could leave
//! it is a minimum over the few groups, not over the vehicles.

use std::collections::{BTreeSet, HashMap};

use super::search::{Shared, Tree, Use};
use super::slots::Reservations;
use super::{Plan, PlanError, Problem, Trip, VehicleState};

/// The vehicles of one class at one place, by when they are free.
struct Group {
    /// (ready_ms, vehicle), earliest first, then by vehicle number.
    free: BTreeSet<(u64, usize)>,
}

/// The fleet, grouped by class and place.
struct Fleet {
    vehicles: Vec<VehicleState>,
    groups: Vec<Group>,
    group_of: HashMap<(usize, u32), usize>,
    /// Per source, the groups of its class that can reach it, with the
    /// repositioning time plus the boarding time (a vehicle of the group
    /// ready at `r` can leave the source loaded at `r` plus this).
    reach: Vec<Vec<(usize, u64)>>,
}

impl Fleet {
    fn new(p: &Problem, vehicles: Vec<VehicleState>) -> Fleet {
        let mut f = Fleet { vehicles: Vec::new(), groups: Vec::new(), group_of: HashMap::new(), reach: vec![Vec::new(); p.sources.len()] };
        for v in vehicles {
            let g = f.group(p, v.class, v.at);
            f.groups[g].free.insert((v.ready_ms, f.vehicles.len()));
            f.vehicles.push(v);
        }
        f
    }

    /// The group of `class` at `at`, made if there is none.
    fn group(&mut self, p: &Problem, class: usize, at: u32) -> usize {
        if let Some(&g) = self.group_of.get(&(class, at)) {
            return g;
        }
        let g = self.groups.len();
        self.groups.push(Group { free: BTreeSet::new() });
        self.group_of.insert((class, at), g);
        for (s, src) in p.sources.iter().enumerate() {
            if src.class != class {
                continue;
            }
            let move_ms = if at == src.node { Some(0) } else { p.reposition_ms.get(&(at, src.node)).copied() };
            if let Some(m) = move_ms {
                self.reach[s].push((g, m + src.load_ms));
            }
        }
        g
    }

    /// When the first vehicle able to reach source `s` could leave it loaded.
    fn first_ready(&self, s: usize) -> Option<u64> {
        self.reach[s].iter().filter_map(|&(g, d)| self.groups[g].free.first().map(|&(r, _)| r + d)).min()
    }

    /// The first `n` vehicles (when each could leave source `s` loaded, and
    /// which) that could leave it by `depart`, earliest first, then by number.
    fn ready_by(&self, s: usize, depart: u64, n: usize) -> Vec<(u64, usize)> {
        let mut out: Vec<(u64, usize)> = Vec::new();
        for &(g, d) in &self.reach[s] {
            out.extend(self.groups[g].free.iter().map(|&(r, v)| (r + d, v)).take_while(|&(r, _)| r <= depart).take(n));
        }
        out.sort_unstable();
        out.truncate(n);
        out
    }

    /// Vehicle `v` is at `at`, free from `ready_ms`.
    fn place(&mut self, p: &Problem, v: usize, at: u32, ready_ms: u64) {
        let old = &self.vehicles[v];
        let g = self.group_of[&(old.class, old.at)];
        self.groups[g].free.remove(&(old.ready_ms, v));
        let g = self.group(p, old.class, at);
        self.groups[g].free.insert((ready_ms, v));
        self.vehicles[v].at = at;
        self.vehicles[v].ready_ms = ready_ms;
    }
}

/// A search of `family` from every source with loads left and a vehicle
/// able to reach it (from when the first can leave it loaded): the
/// earliest exit reached, and when.
fn search(sh: &Shared, res: &Reservations, tree: &mut Tree, family: u32, remaining: &[u64], fleet: &Fleet) -> Option<(u64, u32)> {
    tree.reset(sh, family);
    tree.build(sh, res, |i| start(sh, remaining, fleet, i));
    tree.first_exit(sh)
}

/// When source `i`'s first load could leave: its people ready and a
/// vehicle there (`None`: no loads left, or no vehicle can reach it).
fn start(sh: &Shared, remaining: &[u64], fleet: &Fleet, i: usize) -> Option<u64> {
    if remaining[i] == 0 {
        return None;
    }
    fleet.first_ready(i).map(|r| r.max(sh.p.sources[i].ready_ms))
}

/// CCRP with a fleet: each round searches every family with people left,
/// takes the earliest exit, and sends along its route as many of the
/// vehicles ready at its source by the departure as the source's loads
/// and the route's tightest slot allow.
pub(super) fn plan(p: &Problem, mut res: Reservations, mut remaining: Vec<u64>, vehicles: Vec<VehicleState>) -> Result<Plan, PlanError> {
    let net = p.net;
    let mut families: Vec<u32> = p.sources.iter().map(|s| s.family).collect();
    families.sort_unstable();
    families.dedup();
    let sh = Shared::new(p);
    let mut tree = Tree::new(&sh, families.first().copied().unwrap_or(0), Use::Fresh);
    let mut trips = Vec::new();
    let (mut searches, mut rounds) = (0u64, 0u64);
    let mut fleet = Fleet::new(p, vehicles);
    while remaining.iter().any(|&r| r > 0) {
        // One search per family with people left; keep the earliest exit.
        let mut best: Option<(u64, u32, u32)> = None; // (arrival, exit, family)
        for &f in &families {
            if !p.sources.iter().enumerate().any(|(i, s)| s.family == f && remaining[i] > 0) {
                continue;
            }
            searches += 1;
            if let Some((t, z)) = search(&sh, &res, &mut tree, f, &remaining, &fleet) {
                if best.is_none_or(|(bt, _, _)| t < bt) {
                    best = Some((t, z, f));
                }
            }
        }
        let Some((t, z, fam)) = best else {
            return Err(PlanError::out_of_time(p, Plan::new(trips, searches, rounds, Some(fleet.vehicles)), remaining));
        };
        // The winning family's search is not the last one run unless it
        // was alone: run it again so its tree is in the buffers.
        if families.len() > 1 {
            searches += 1;
            search(&sh, &res, &mut tree, fam, &remaining, &fleet);
        }
        let (legs, s) = tree.route(&sh, &res, z, |i| start(&sh, &remaining, &fleet, i));
        let mut b = remaining[s];
        for &(a, e) in &legs {
            b = b.min(u64::from(res.residual(net, a as usize, e / res.slot_ms)));
        }
        let depart = legs.first().map_or(t, |&(_, e)| e);
        // The search started at the first vehicle's time and entered only
        // slots with room: at least one vehicle goes.
        let chosen = fleet.ready_by(s, depart, b as usize);
        let b = b.min(chosen.len() as u64);
        rounds += 1;
        for &(a, e) in &legs {
            res.reserve(net, a as usize, e / res.slot_ms, b as u32);
        }
        remaining[s] -= b;
        let src = &p.sources[s];
        for &(r, v) in &chosen {
            let move_ms = r - fleet.vehicles[v].ready_ms - src.load_ms;
            trips.push(Trip { source: s, vehicle: Some(v), units: 1, approach_ms: depart - src.load_ms - move_ms, depart_ms: depart, legs: legs.clone(), arrive_ms: t, sink: z });
            fleet.place(p, v, z, t + p.unload_ms);
        }
    }
    Ok(Plan::new(trips, searches, rounds, Some(fleet.vehicles)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ccrp::Source;
    use crate::net::{ArcSpec, FlowNet};

    /// Each vehicle's time to leave source `s` loaded, by scanning the
    /// whole fleet (what the planner did before the groups).
    fn scan(p: &Problem, fleet: &[VehicleState], s: usize) -> Vec<(u64, usize)> {
        let src = &p.sources[s];
        let mut out: Vec<(u64, usize)> = fleet
            .iter()
            .enumerate()
            .filter(|(_, v)| v.class == src.class)
            .filter_map(|(i, v)| {
                let m = if v.at == src.node { Some(0) } else { p.reposition_ms.get(&(v.at, src.node)).copied() }?;
                Some((v.ready_ms + m + src.load_ms, i))
            })
            .collect();
        out.sort_unstable();
        out
    }

    #[test]
    fn groups_give_what_a_scan_of_the_fleet_gives() {
        let arcs: Vec<ArcSpec> = (0..5).map(|v| ArcSpec { tail: v, head: 5, transit_ms: 60_000, cap_vph: 60, gate: None, families: u64::MAX }).collect();
        let net = FlowNet::build(6, &arcs, &[5]);
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        let mut rng = move |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        for _ in 0..50 {
            let sources: Vec<Source> = (0..4).map(|_| Source { node: rng(6) as u32, family: 0, class: rng(2) as usize, loads: 5, ready_ms: 0, load_ms: rng(3) * 60_000 }).collect();
            let mut reposition_ms = HashMap::new();
            for u in 0..6u32 {
                for v in 0..6u32 {
                    if rng(4) > 0 {
                        reposition_ms.insert((u, v), rng(5) * 60_000);
                    }
                }
            }
            let vehicles: Vec<VehicleState> = (0..rng(12) + 1).map(|_| VehicleState { class: rng(2) as usize, at: rng(6) as u32, ready_ms: rng(4) * 60_000 }).collect();
            let p = Problem { net: &net, sources, fleet: None, reposition_ms, slot_ms: 60_000, unload_ms: 0, horizon_ms: u64::MAX };
            let mut fleet = Fleet::new(&p, vehicles.clone());
            let mut plain = vehicles;
            for _ in 0..20 {
                for s in 0..p.sources.len() {
                    let want = scan(&p, &plain, s);
                    assert_eq!(fleet.first_ready(s), want.first().map(|&(r, _)| r));
                    let (depart, n) = (rng(12) * 60_000, rng(5) as usize);
                    let by: Vec<(u64, usize)> = want.iter().copied().take_while(|&(r, _)| r <= depart).take(n).collect();
                    assert_eq!(fleet.ready_by(s, depart, n), by);
                }
                // A vehicle goes somewhere and is free later.
                let v = rng(plain.len() as u64) as usize;
                let (at, ready) = (rng(6) as u32, plain[v].ready_ms + rng(10) * 60_000);
                fleet.place(&p, v, at, ready);
                plain[v].at = at;
                plain[v].ready_ms = ready;
                assert_eq!(fleet.vehicles, plain);
            }
        }
    }
}
