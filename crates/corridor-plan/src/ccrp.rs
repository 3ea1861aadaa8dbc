//! The capacity-constrained route planner (CCRP, Lu, George and Shekhar,
//! "Capacity Constrained Routing Algorithms for Evacuation Planning", 2005).
//!
//! Time is cut into slots (`slot_ms`); an arc admits `cap_vph` vehicles per
//! hour spread exactly over the slots ([`FlowNet::slot_cap`]). Each round
//! searches, from every source that still has people and a vehicle to carry
//! them, the route reaching an exit earliest given what earlier rounds
//! reserved (a time-dependent Dijkstra: a vehicle waits at a node until the
//! next arc has room or its gate opens), then sends as many loads along it
//! as the source, the vehicles ready there and the tightest slot allow, and
//! reserves that capacity. Rounds repeat until every load is sent.
//!
//! With a fleet, each load is one vehicle: a vehicle that unloads at an exit
//! becomes ready again at the exit after `unload_ms`, and reaches a source
//! after the free-flow repositioning time the problem gives. Without a fleet
//! (network benchmarks), loads are vehicles that start at their source.
//!
//! Without a fleet, one search serves several rounds: after a reservation,
//! the route the same search found to another exit, if it uses no slot
//! that was reserved, is still feasible at the same times and no new
//! search could reach that exit earlier (reservations only delay), so it is
//! taken next, exits in order of arrival. This departs from strict CCRP
//! only in that the first exit might have had a second route arriving
//! before the next exit's; the lower bound ([`crate::bound`]) measures
//! what that costs.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use crate::net::{FlowNet, NONE};

/// People waiting at a node, in vehicle loads of one vehicle class.
#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    pub node: u32,
    /// Which arcs the source may use ([`FlowNet::families`] bit).
    pub family: u32,
    /// Vehicle class (e.g. 0 bus, 1 ambulance); with a fleet, only
    /// vehicles of this class carry its loads.
    pub class: usize,
    pub loads: u64,
    /// Nobody leaves before this instant (ms).
    pub ready_ms: u64,
    /// Time to board a vehicle at the source.
    pub load_ms: u64,
}

/// A vehicle of the fleet: where it is and when it is free.
#[derive(Debug, Clone, PartialEq)]
pub struct VehicleState {
    pub class: usize,
    pub at: u32,
    pub ready_ms: u64,
}

/// What to plan.
#[derive(Debug, Clone)]
pub struct Problem<'a> {
    pub net: &'a FlowNet,
    pub sources: Vec<Source>,
    /// `None`: no fleet limit (every load is its own vehicle at its source).
    pub fleet: Option<Vec<VehicleState>>,
    /// Free-flow time for an empty vehicle from a node to a source's node.
    pub reposition_ms: HashMap<(u32, u32), u64>,
    pub slot_ms: u64,
    pub unload_ms: u64,
    /// Nothing is planned to enter an arc at or after this instant.
    pub horizon_ms: u64,
}

/// One vehicle (or, without a fleet, `units` vehicles together) sent from
/// a source to an exit.
#[derive(Debug, Clone, PartialEq)]
pub struct Trip {
    pub source: usize,
    pub vehicle: Option<usize>,
    pub units: u32,
    /// When the vehicle leaves where it was, empty, for the source.
    pub approach_ms: u64,
    /// When it leaves the source, loaded.
    pub depart_ms: u64,
    /// Every arc driven and when the vehicle enters it.
    pub legs: Vec<(u32, u64)>,
    pub arrive_ms: u64,
    pub sink: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub trips: Vec<Trip>,
    /// When the last load reaches an exit (ms), 0 when nothing was to move.
    pub completion_ms: u64,
    /// Searches run, and rounds (reservations) made.
    pub searches: u64,
    pub rounds: u64,
    /// The fleet after the plan.
    pub fleet: Option<Vec<VehicleState>>,
}

/// Why there is no plan, with what would make one.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    #[error("source {source_index} has {loads} loads of vehicle class {class} but the fleet has no vehicle of that class")]
    NoVehicles { source_index: usize, class: usize, loads: u64 },
    #[error("source {source_index}: no exit can be reached from node {node}")]
    NoRoute { source_index: usize, node: u32 },
    #[error("{remaining} loads cannot be sent before the planning horizon: the gates (truce windows) close first")]
    OutOfTime { remaining: u64, sent: u64, remaining_by_source: Vec<u64>, partial: Box<Plan> },
}

/// Reserved capacity per arc and slot, allocated for arcs that carry some.
struct Reservations {
    slot_ms: u64,
    used: Vec<Vec<u32>>,
}

impl Reservations {
    fn residual(&self, net: &FlowNet, a: usize, k: u64) -> u32 {
        let cap = net.slot_cap(a, k, self.slot_ms);
        let used = self.used[a].get(k as usize).copied().unwrap_or(0);
        cap.saturating_sub(used)
    }
    fn reserve(&mut self, a: usize, k: u64, n: u32) {
        let v = &mut self.used[a];
        if v.len() <= k as usize {
            v.resize(k as usize + 1, 0);
        }
        v[k as usize] += n;
    }

    /// The earliest instant at or after `t` when arc `a` may be entered
    /// (gate open, room in the slot), before `horizon`.
    fn earliest_entry(&self, net: &FlowNet, a: usize, mut t: u64, horizon: u64) -> Option<u64> {
        loop {
            t = net.next_open(a, t)?;
            if t >= horizon || net.cap_vph[a] == 0 {
                return None;
            }
            let k = t / self.slot_ms;
            if self.residual(net, a, k) > 0 {
                return Some(t);
            }
            // Skip full slots; a slot of a fractional rate may hold none.
            let mut k = k + 1;
            while self.residual(net, a, k) == 0 {
                k += 1;
                if k * self.slot_ms >= horizon {
                    return None;
                }
            }
            t = k * self.slot_ms;
        }
    }
}

/// Search buffers reused between rounds.
struct Search {
    label: Vec<u64>,
    parent: Vec<u32>,
    enter: Vec<u64>,
    origin: Vec<u32>,
    stamp: Vec<u32>,
    epoch: u32,
    heap: BinaryHeap<Reverse<(u64, u32)>>,
}

impl Search {
    fn new(n: usize) -> Self {
        Search { label: vec![0; n], parent: vec![NONE; n], enter: vec![0; n], origin: vec![NONE; n], stamp: vec![0; n], epoch: 0, heap: BinaryHeap::new() }
    }
    fn get(&self, v: u32) -> u64 {
        if self.stamp[v as usize] == self.epoch {
            self.label[v as usize]
        } else {
            u64::MAX
        }
    }
    fn set(&mut self, v: u32, t: u64, parent: u32, enter: u64, origin: u32) {
        let i = v as usize;
        self.stamp[i] = self.epoch;
        self.label[i] = t;
        self.parent[i] = parent;
        self.enter[i] = enter;
        self.origin[i] = origin;
    }
}

/// When each vehicle could be loaded and leave source `s`.
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

/// Plans the evacuation (see the module doc).
pub fn plan(p: &Problem) -> Result<Plan, PlanError> {
    let net = p.net;
    let n = net.node_count();
    let mut res = Reservations { slot_ms: p.slot_ms.max(1), used: vec![Vec::new(); net.arc_count()] };
    let mut remaining: Vec<u64> = p.sources.iter().map(|s| s.loads).collect();
    let mut fleet = p.fleet.clone();
    if let Some(f) = &fleet {
        for (i, s) in p.sources.iter().enumerate() {
            if s.loads > 0 && !f.iter().any(|v| v.class == s.class) {
                return Err(PlanError::NoVehicles { source_index: i, class: s.class, loads: s.loads });
            }
        }
    }
    for (i, s) in p.sources.iter().enumerate() {
        if s.loads > 0 {
            let d = net.free_flow_from(s.node, false);
            let reach = (0..n).any(|v| net.sink[v] && d[v] != u64::MAX);
            if !reach {
                return Err(PlanError::NoRoute { source_index: i, node: s.node });
            }
        }
    }
    let mut families: Vec<u32> = p.sources.iter().map(|s| s.family).collect();
    families.sort_unstable();
    families.dedup();

    let mut st = Search::new(n);
    let mut trips = Vec::new();
    let (mut searches, mut rounds) = (0u64, 0u64);
    let mut ready_lists: Vec<Option<Vec<(u64, usize)>>> = vec![None; p.sources.len()];
    loop {
        if remaining.iter().all(|&r| r == 0) {
            break;
        }
        // One search per family with people left; keep the earliest exit.
        let mut best: Option<(u64, u32, u32)> = None; // (arrival, sink, family)
        let mut found: Vec<(u64, u32)> = Vec::new();
        for &f in &families {
            if !p.sources.iter().enumerate().any(|(i, s)| s.family == f && remaining[i] > 0) {
                continue;
            }
            if let Some(fl) = &fleet {
                for (i, s) in p.sources.iter().enumerate() {
                    if s.family == f && remaining[i] > 0 && ready_lists[i].is_none() {
                        ready_lists[i] = Some(vehicle_ready_at(p, fl, i));
                    }
                }
            }
            searches += 1;
            let sinks = search(p, &res, &mut st, f, &remaining, &ready_lists);
            if let Some(&(t, z)) = sinks.first() {
                if best.is_none_or(|(bt, _, _)| t < bt) {
                    best = Some((t, z, f));
                    found = sinks;
                }
            }
        }
        let Some((_, _, fam)) = best else {
            let left: u64 = remaining.iter().sum();
            let sent: u64 = p.sources.iter().map(|s| s.loads).sum::<u64>() - left;
            let completion_ms = trips.iter().map(|t: &Trip| t.arrive_ms).max().unwrap_or(0);
            let partial = Box::new(Plan { trips, completion_ms, searches, rounds, fleet });
            return Err(PlanError::OutOfTime { remaining: left, sent, remaining_by_source: remaining, partial });
        };
        // The winning family's search is not the last one run unless it
        // was alone: run it again so its tree is in the buffers.
        if families.len() > 1 {
            searches += 1;
            found = search(p, &res, &mut st, fam, &remaining, &ready_lists);
        }
        // Take the earliest exit, then further exits of the same tree
        // whose routes the reservations left untouched.
        let mut touched: Vec<(u32, u64)> = Vec::new();
        for (i, &(t, z)) in found.iter().enumerate() {
            let legs = path(net, &st, z);
            let s = st.origin[z as usize] as usize;
            if remaining[s] == 0 {
                continue;
            }
            if i > 0 && legs.iter().any(|&(a, e)| touched.contains(&(a, e / res.slot_ms))) {
                break;
            }
            let mut b = remaining[s];
            for &(a, e) in &legs {
                b = b.min(u64::from(res.residual(net, a as usize, e / res.slot_ms)));
            }
            let depart = legs.first().map_or(t, |&(_, e)| e);
            let mut chosen: Vec<(u64, usize)> = Vec::new();
            if fleet.is_some() {
                let list = ready_lists[s].as_ref().expect("ready list made before the search");
                chosen = list.iter().copied().take_while(|&(r, _)| r <= depart).take(b as usize).collect();
                b = b.min(chosen.len() as u64);
            }
            if b == 0 {
                break;
            }
            rounds += 1;
            for &(a, e) in &legs {
                res.reserve(a as usize, e / res.slot_ms, b as u32);
                touched.push((a, e / res.slot_ms));
            }
            remaining[s] -= b;
            let src = &p.sources[s];
            match &mut fleet {
                Some(fl) => {
                    for &(r, v) in &chosen {
                        let veh = &fl[v];
                        let move_ms = r - veh.ready_ms - src.load_ms;
                        trips.push(Trip {
                            source: s,
                            vehicle: Some(v),
                            units: 1,
                            approach_ms: depart - src.load_ms - move_ms,
                            depart_ms: depart,
                            legs: legs.clone(),
                            arrive_ms: t,
                            sink: z,
                        });
                        fl[v].at = z;
                        fl[v].ready_ms = t + p.unload_ms;
                    }
                    // Every source's vehicle list changed.
                    ready_lists.iter_mut().for_each(|l| *l = None);
                }
                None => trips.push(Trip { source: s, vehicle: None, units: b as u32, approach_ms: depart, depart_ms: depart, legs, arrive_ms: t, sink: z }),
            }
            if fleet.is_some() {
                break;
            }
        }
    }
    let completion_ms = trips.iter().map(|t| t.arrive_ms).max().unwrap_or(0);
    Ok(Plan { trips, completion_ms, searches, rounds, fleet })
}

/// The legs (arc, entry time) of the tree path to `z`.
fn path(net: &FlowNet, st: &Search, z: u32) -> Vec<(u32, u64)> {
    let mut legs = Vec::new();
    let mut v = z;
    while st.parent[v as usize] != NONE {
        let a = st.parent[v as usize];
        legs.push((a, st.enter[v as usize]));
        v = net.tail[a as usize];
    }
    legs.reverse();
    legs
}

/// Time-dependent Dijkstra for one family from every source with loads
/// left (and, with a fleet, a vehicle able to reach it); returns the exits
/// reached, earliest first.
fn search(
    p: &Problem,
    res: &Reservations,
    st: &mut Search,
    family: u32,
    remaining: &[u64],
    ready_lists: &[Option<Vec<(u64, usize)>>],
) -> Vec<(u64, u32)> {
    let net = p.net;
    st.epoch = st.epoch.wrapping_add(1);
    if st.epoch == 0 {
        st.stamp.iter_mut().for_each(|s| *s = 0);
        st.epoch = 1;
    }
    st.heap.clear();
    let bit = 1u64 << (family % 64);
    for (i, s) in p.sources.iter().enumerate() {
        if s.family != family || remaining[i] == 0 {
            continue;
        }
        let start = match (&p.fleet, &ready_lists[i]) {
            (Some(_), Some(list)) => match list.first() {
                Some(&(r, _)) => r.max(s.ready_ms),
                None => continue,
            },
            (Some(_), None) => continue,
            (None, _) => s.ready_ms + s.load_ms,
        };
        if start < st.get(s.node) {
            st.set(s.node, start, NONE, 0, i as u32);
            st.heap.push(Reverse((start, s.node)));
        }
    }
    let total_sinks = net.sink.iter().filter(|&&b| b).count();
    let mut sinks = Vec::new();
    while let Some(Reverse((t, u))) = st.heap.pop() {
        if t > st.get(u) {
            continue;
        }
        if net.sink[u as usize] {
            sinks.push((t, u));
            if sinks.len() == total_sinks || p.fleet.is_some() {
                break;
            }
            continue;
        }
        let origin = st.origin[u as usize];
        for a in net.arcs_of(u) {
            if net.families[a] & bit == 0 {
                continue;
            }
            let Some(e) = res.earliest_entry(net, a, t, p.horizon_ms) else { continue };
            let arr = e + u64::from(net.transit_ms[a]);
            let v = net.head[a];
            if arr < st.get(v) {
                st.set(v, arr, a as u32, e, origin);
                st.heap.push(Reverse((arr, v)));
            }
        }
    }
    sinks
}
