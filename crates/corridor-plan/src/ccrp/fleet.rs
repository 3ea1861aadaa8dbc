//! The planner with a fleet: each round sends one route's worth of
//! vehicles, each carrying one load; a vehicle that unloads at an exit
//! becomes ready there again after `unload_ms` and reaches a source after
//! the free-flow repositioning time the problem gives.

use super::search::{Order, Shared, Tree};
use super::slots::Reservations;
use super::{Plan, PlanError, Problem, Trip, VehicleState};

/// When each vehicle could be loaded and leave source `s`, earliest first.
fn vehicle_ready_at(p: &Problem, fleet: &[VehicleState], s: usize) -> Vec<(u64, usize)> {
    let src = &p.sources[s];
    let mut out: Vec<(u64, usize)> = fleet
        .iter()
        .enumerate()
        .filter(|(_, v)| v.class == src.class)
        .filter_map(|(i, v)| {
            let move_ms = if v.at == src.node { Some(0) } else { p.reposition_ms.get(&(v.at, src.node)).copied() }?;
            Some((v.ready_ms + move_ms + src.load_ms, i))
        })
        .collect();
    out.sort_unstable();
    out
}

/// A search of `family` from every source with loads left and a vehicle
/// able to reach it (from when the first can leave it loaded): the
/// earliest exit reached, and when.
fn search(sh: &Shared, res: &Reservations, tree: &mut Tree, family: u32, remaining: &[u64], ready_lists: &[Option<Vec<(u64, usize)>>]) -> Option<(u64, u32)> {
    tree.reset(sh, family);
    tree.build(sh, res, |i| {
        let first = ready_lists[i].as_ref()?.first()?;
        (remaining[i] > 0).then(|| first.0.max(sh.p.sources[i].ready_ms))
    });
    tree.first_exit(sh)
}

/// CCRP with a fleet: each round searches every family with people left,
/// takes the earliest exit, and sends along its route as many of the
/// vehicles ready at its source by the departure as the source's loads
/// and the route's tightest slot allow.
pub(super) fn plan(p: &Problem, mut res: Reservations, mut remaining: Vec<u64>, mut fleet: Vec<VehicleState>) -> Result<Plan, PlanError> {
    let net = p.net;
    let mut families: Vec<u32> = p.sources.iter().map(|s| s.family).collect();
    families.sort_unstable();
    families.dedup();
    let sh = Shared::new(p, Order::Label);
    let mut tree = Tree::new(&sh, families.first().copied().unwrap_or(0));
    let mut trips = Vec::new();
    let (mut searches, mut rounds) = (0u64, 0u64);
    let mut ready_lists: Vec<Option<Vec<(u64, usize)>>> = vec![None; p.sources.len()];
    while remaining.iter().any(|&r| r > 0) {
        // One search per family with people left; keep the earliest exit.
        let mut best: Option<(u64, u32, u32)> = None; // (arrival, exit, family)
        for &f in &families {
            if !p.sources.iter().enumerate().any(|(i, s)| s.family == f && remaining[i] > 0) {
                continue;
            }
            for (i, s) in p.sources.iter().enumerate() {
                if s.family == f && remaining[i] > 0 && ready_lists[i].is_none() {
                    ready_lists[i] = Some(vehicle_ready_at(p, &fleet, i));
                }
            }
            searches += 1;
            if let Some((t, z)) = search(&sh, &res, &mut tree, f, &remaining, &ready_lists) {
                if best.is_none_or(|(bt, _, _)| t < bt) {
                    best = Some((t, z, f));
                }
            }
        }
        let Some((t, z, fam)) = best else {
            return Err(PlanError::out_of_time(p, Plan::new(trips, searches, rounds, Some(fleet)), remaining));
        };
        // The winning family's search is not the last one run unless it
        // was alone: run it again so its tree is in the buffers.
        if families.len() > 1 {
            searches += 1;
            search(&sh, &res, &mut tree, fam, &remaining, &ready_lists);
        }
        let (legs, s) = tree.path(net, z);
        let mut b = remaining[s];
        for &(a, e) in &legs {
            b = b.min(u64::from(res.residual(net, a as usize, e / res.slot_ms)));
        }
        let depart = legs.first().map_or(t, |&(_, e)| e);
        // The search started at the first vehicle's time and entered only
        // slots with room: at least one vehicle goes.
        let list = ready_lists[s].as_ref().expect("ready list made before the search");
        let chosen: Vec<(u64, usize)> = list.iter().copied().take_while(|&(r, _)| r <= depart).take(b as usize).collect();
        let b = b.min(chosen.len() as u64);
        rounds += 1;
        for &(a, e) in &legs {
            res.reserve(net, a as usize, e / res.slot_ms, b as u32);
        }
        remaining[s] -= b;
        let src = &p.sources[s];
        for &(r, v) in &chosen {
            let move_ms = r - fleet[v].ready_ms - src.load_ms;
            trips.push(Trip { source: s, vehicle: Some(v), units: 1, approach_ms: depart - src.load_ms - move_ms, depart_ms: depart, legs: legs.clone(), arrive_ms: t, sink: z });
            fleet[v].at = z;
            fleet[v].ready_ms = t + p.unload_ms;
        }
        // Every source's vehicle list changed.
        ready_lists.iter_mut().for_each(|l| *l = None);
    }
    Ok(Plan::new(trips, searches, rounds, Some(fleet)))
}
