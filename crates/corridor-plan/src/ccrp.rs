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
//! Without a fleet, the earliest-arrival trees are kept across rounds and
//! repaired where a reservation filled a slot ([`Tree`]), and rounds come
//! in batches with one repair each: a batch starts at the exact earliest
//! arrival `t₀` and takes, earliest first, every route (a tree path, driven
//! again under the current reservations) arriving within one slot of it.
//! As reservations only delay, no route could arrive before `t₀` any more,
//! so every load goes on a route within one slot (the planner's time
//! resolution) of the earliest; strict CCRP would repair after each
//! reservation. On the 320×320 grid with 2M evacuees this cuts the repairs
//! from 17,387 to about 400 and the planning time by about 3×; the lower
//! bound ([`crate::bound`]) measures what it costs (`corridor-bench plan`).

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

/// An arc's reservations, for arcs that have some (and arcs of no
/// capacity, with a gate or a fractional rate).
#[derive(Debug, Clone, Copy)]
struct ArcSlots {
    /// The arc's capacity in every slot when it has no gate and its hourly
    /// rate divides evenly into slots ([`VARYING`] otherwise: gates and
    /// [`FlowNet::slot_cap`] are looked up in the network).
    per_slot: u32,
    /// Every slot before this one has no room left (a hint that spares
    /// the search rescanning the full slots of busy arcs).
    full_before: u32,
    /// The arc's reserved slots are `used[off..off + len]` (later slots
    /// hold none yet).
    off: u32,
    len: u32,
}

/// Reserved capacity per arc and slot. Most arcs of a large network never
/// carry any: one small index per arc tells them apart ([`FREE`]: no gate,
/// room in every slot), and only the others have [`ArcSlots`], their
/// reserved slots in one array (moved to its end when they outgrow their
/// place). The searches thus touch little memory per arc.
struct Reservations {
    slot_ms: u64,
    /// Per arc, [`FREE`] or its index in `slots`.
    slot_of: Vec<u32>,
    slots: Vec<ArcSlots>,
    used: Vec<u32>,
}

const VARYING: u32 = u32::MAX;
const FREE: u32 = u32::MAX;

impl Reservations {
    fn new(net: &FlowNet, slot_ms: u64) -> Self {
        let mut res = Reservations { slot_ms, slot_of: vec![FREE; net.arc_count()], slots: Vec::new(), used: Vec::new() };
        for a in 0..net.arc_count() {
            let c = u64::from(net.cap_vph[a]) * slot_ms;
            let per_slot = if net.gate[a] == NONE && c.is_multiple_of(3_600_000) && c / 3_600_000 < u64::from(VARYING) { (c / 3_600_000) as u32 } else { VARYING };
            if per_slot == 0 || per_slot == VARYING {
                res.slot_of[a] = res.slots.len() as u32;
                res.slots.push(ArcSlots { per_slot, full_before: 0, off: 0, len: 0 });
            }
        }
        res
    }
    /// Arc `a`'s [`ArcSlots`], made if it has none.
    fn slots_mut(&mut self, net: &FlowNet, a: usize) -> &mut ArcSlots {
        if self.slot_of[a] == FREE {
            let c = u64::from(net.cap_vph[a]) * self.slot_ms;
            debug_assert!(net.gate[a] == NONE && c.is_multiple_of(3_600_000) && c > 0);
            self.slot_of[a] = self.slots.len() as u32;
            self.slots.push(ArcSlots { per_slot: (c / 3_600_000) as u32, full_before: 0, off: 0, len: 0 });
        }
        &mut self.slots[self.slot_of[a] as usize]
    }
    fn cap(&self, net: &FlowNet, a: usize, k: u64) -> u32 {
        match self.slot_of[a] {
            FREE => (u64::from(net.cap_vph[a]) * self.slot_ms / 3_600_000) as u32,
            i => match self.slots[i as usize].per_slot {
                VARYING => net.slot_cap(a, k, self.slot_ms),
                c => c,
            },
        }
    }
    fn used(&self, a: usize, k: u64) -> u32 {
        match self.slot_of[a] {
            FREE => 0,
            i => {
                let r = &self.slots[i as usize];
                if k < u64::from(r.len) {
                    self.used[r.off as usize + k as usize]
                } else {
                    0
                }
            }
        }
    }
    fn residual(&self, net: &FlowNet, a: usize, k: u64) -> u32 {
        self.cap(net, a, k).saturating_sub(self.used(a, k))
    }
    /// Reserves `n` vehicles on arc `a` in slot `k`; true when that fills the slot.
    fn reserve(&mut self, net: &FlowNet, a: usize, k: u64, n: u32) -> bool {
        let r = *self.slots_mut(net, a);
        let i = self.slot_of[a] as usize;
        if u64::from(r.len) <= k {
            // Room for the slot and as many again, at the end.
            let len = (k as usize + 1).max(2 * r.len as usize).max(16);
            let off = self.used.len();
            assert!(off + len <= u32::MAX as usize, "reservations beyond 2³² slots");
            self.used.extend_from_within(r.off as usize..(r.off + r.len) as usize);
            self.used.resize(off + len, 0);
            self.slots[i].off = off as u32;
            self.slots[i].len = len as u32;
        }
        let j = self.slots[i].off as usize + k as usize;
        self.used[j] += n;
        let full = self.residual(net, a, k) == 0;
        if full && u64::from(self.slots[i].full_before) == k {
            let mut h = k + 1;
            // A fractional rate's slots may hold none: bounded by 3600 s / slot.
            while self.residual(net, a, h) == 0 && h < k + 3_600_000 / self.slot_ms + 2 {
                h += 1;
            }
            self.slots[i].full_before = h.min(u64::from(u32::MAX)) as u32;
        }
        full
    }

    /// The earliest instant at or after `t` when arc `a` may be entered
    /// (gate open, room in the slot), before `horizon`.
    #[inline]
    fn earliest_entry(&self, net: &FlowNet, a: usize, t: u64, horizon: u64) -> Option<u64> {
        let i = self.slot_of[a];
        if i == FREE {
            return (t < horizon).then_some(t);
        }
        let r = &self.slots[i as usize];
        if r.per_slot != VARYING {
            // No gate, the same capacity in every slot.
            if r.per_slot == 0 {
                return None;
            }
            let mut k = (t / self.slot_ms).max(u64::from(r.full_before));
            let slots = &self.used[r.off as usize..(r.off + r.len) as usize];
            while let Some(&u) = slots.get(k as usize) {
                if u < r.per_slot {
                    break;
                }
                k += 1;
            }
            let e = t.max(k * self.slot_ms);
            return (e < horizon).then_some(e);
        }
        self.earliest_entry_varying(net, a, t, horizon)
    }

    /// [`Self::earliest_entry`] for an arc with a gate or a fractional rate.
    fn earliest_entry_varying(&self, net: &FlowNet, a: usize, mut t: u64, horizon: u64) -> Option<u64> {
        if net.cap_vph[a] == 0 {
            return None;
        }
        loop {
            t = net.next_open(a, t)?;
            if t >= horizon {
                return None;
            }
            let mut k = t / self.slot_ms;
            let hint = u64::from(self.slots[self.slot_of[a] as usize].full_before);
            if k < hint {
                k = hint;
                t = k * self.slot_ms;
                if net.next_open(a, t) != Some(t) {
                    continue;
                }
                if t >= horizon {
                    return None;
                }
            }
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
    let mut res = Reservations::new(net, p.slot_ms.max(1));
    let mut remaining: Vec<u64> = p.sources.iter().map(|s| s.loads).collect();
    let mut fleet = p.fleet.clone();
    if let Some(f) = &fleet {
        for (i, s) in p.sources.iter().enumerate() {
            if s.loads > 0 && !f.iter().any(|v| v.class == s.class) {
                return Err(PlanError::NoVehicles { source_index: i, class: s.class, loads: s.loads });
            }
        }
    }
    let reaches = reaches_exit(net);
    for (i, s) in p.sources.iter().enumerate() {
        if s.loads > 0 && !reaches[s.node as usize] {
            return Err(PlanError::NoRoute { source_index: i, node: s.node });
        }
    }
    if fleet.is_none() {
        return plan_free(p, res, remaining);
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
            let legs = path(net, &st.parent, &st.enter, z);
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
                res.reserve(net, a as usize, e / res.slot_ms, b as u32);
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

/// The legs (arc, entry time) of a search tree's path to `z`, given each
/// node's parent arc and the time it was entered.
fn path(net: &FlowNet, parent: &[u32], enter: &[u64], z: u32) -> Vec<(u32, u64)> {
    let mut legs = Vec::new();
    let mut v = z;
    while parent[v as usize] != NONE {
        let a = parent[v as usize];
        legs.push((a, enter[v as usize]));
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

/// Which nodes have a path to an exit (any arc, as free-flow routing would).
fn reaches_exit(net: &FlowNet) -> Vec<bool> {
    let (first_in, arcs_in) = net.reverse_index();
    let mut seen = net.sink.clone();
    let mut stack: Vec<u32> = (0..net.node_count() as u32).filter(|&v| net.sink[v as usize]).collect();
    while let Some(v) = stack.pop() {
        for &a in &arcs_in[first_in[v as usize] as usize..first_in[v as usize + 1] as usize] {
            let u = net.tail[a as usize];
            if !seen[u as usize] {
                seen[u as usize] = true;
                stack.push(u);
            }
        }
    }
    seen
}

/// One family's earliest-arrival tree from every source with loads left,
/// kept exact across rounds (no fleet): a reservation only removes room,
/// and an emptied source only removes a start, so no label can fall, and a
/// label stays right as long as the arc slot its tree path enters still
/// has room and its tail's label stands. After each round, only the
/// subtrees below the slots that filled (and below emptied sources) are
/// searched again, from the labels around them.
///
/// The search is goal-directed and lazy: its heap is keyed by label plus
/// the free-flow time to the nearest exit (a lower bound of what is left,
/// so the key never falls along a route: A* with a consistent potential),
/// and it stops as soon as no key is below the earliest exit label, which
/// is then exact. Nodes left in the heap are expanded in a later round, if
/// the earliest exit arrival ever passes their key; a label is thus exact
/// where its key is below the heap's top, a valid route's time elsewhere.
struct Tree {
    family: u32,
    bit: u64,
    /// Whether some arc is closed to the family (else arcs are not checked).
    check_family: bool,
    nodes: Vec<TreeNode>,
    /// The source a route starts from, at its first node (meaningful where
    /// the node is labelled and has no parent arc).
    origin: Vec<u32>,
    epoch: u32,
    /// Nodes whose label is not yet expanded, keyed by label plus the
    /// free-flow time to the nearest exit (stale entries are skipped).
    /// An entry is the key (see [`heap_entry`]) shifted by [`NODE_BITS`],
    /// or'ed with the node: one 64-bit compare.
    heap: BinaryHeap<Reverse<u64>>,
    /// The earliest label of an exit.
    best: u64,
    affected: Vec<u32>,
    stack: Vec<u32>,
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

/// What a [`Tree`] holds per node, together.
#[derive(Debug, Clone, Copy)]
struct TreeNode {
    /// Earliest arrival (`u64::MAX`: none); the parent arc is entered
    /// its transit time before.
    label: u64,
    /// Free-flow time to the nearest exit, the search's potential: 0 at an
    /// exit and only there (transit times are at least 1 ms), `u64::MAX`
    /// where no exit can be reached.
    pot: u64,
    /// The arc the label comes by ([`NONE`]: a source starts there).
    parent: u32,
    /// The repair (epoch) that last invalidated the node.
    mark: u32,
}

/// What every tree shares: the problem, the reverse arcs, the sources by node.
struct Shared<'p, 'a> {
    p: &'p Problem<'a>,
    first_in: Vec<u32>,
    /// The arcs into each node (from `first_in`), with their tails and
    /// transit times.
    arcs_in: Vec<(u32, u32, u32)>,
    src_first: Vec<u32>,
    src_list: Vec<u32>,
    /// Free-flow time to the nearest exit (the search's potential).
    pot: Vec<u64>,
    sinks: Vec<u32>,
}

impl Shared<'_, '_> {
    fn sources_at(&self, v: u32) -> &[u32] {
        &self.src_list[self.src_first[v as usize] as usize..self.src_first[v as usize + 1] as usize]
    }
    fn arcs_into(&self, v: u32) -> &[(u32, u32, u32)] {
        &self.arcs_in[self.first_in[v as usize] as usize..self.first_in[v as usize + 1] as usize]
    }
    fn start(&self, i: usize) -> u64 {
        let s = &self.p.sources[i];
        s.ready_ms + s.load_ms
    }
}

impl Tree {
    fn new(sh: &Shared, family: u32) -> Self {
        assert!((sh.pot.len() as u64) <= NODE_MASK, "the planner takes networks of up to 2^30 nodes");
        let bit = 1u64 << (family % 64);
        Tree {
            family,
            bit,
            check_family: sh.p.net.families.iter().any(|&f| f & bit == 0),
            nodes: sh.pot.iter().map(|&pot| TreeNode { label: u64::MAX, pot, parent: NONE, mark: 0 }).collect(),
            origin: vec![NONE; sh.pot.len()],
            epoch: 0,
            heap: BinaryHeap::new(),
            best: u64::MAX,
            affected: Vec::new(),
            stack: Vec::new(),
        }
    }

    fn label(&self, v: u32) -> u64 {
        self.nodes[v as usize].label
    }

    /// When `v`'s parent arc is entered.
    fn enter(&self, net: &FlowNet, v: u32) -> u64 {
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
        x.label = t;
        x.parent = parent;
        if x.pot == 0 {
            self.best = self.best.min(t);
        } else if x.pot != u64::MAX {
            self.heap.push(Reverse(heap_entry(t + x.pot, v)));
        }
        true
    }

    /// Source `i` starts at its node.
    fn offer_source(&mut self, sh: &Shared, i: usize) {
        let v = sh.p.sources[i].node;
        if self.offer(v, sh.start(i), NONE) {
            self.origin[v as usize] = i as u32;
        }
    }

    /// The whole tree, from scratch.
    fn build(&mut self, sh: &Shared, res: &Reservations, remaining: &[u64]) {
        for (i, s) in sh.p.sources.iter().enumerate() {
            if s.family == self.family && remaining[i] > 0 {
                self.offer_source(sh, i);
            }
        }
        self.run(sh, res);
    }

    /// A* from what is in the heap (the potential is consistent: waiting
    /// only adds to an arc's transit time), until the earliest exit label
    /// is exact: no unexpanded node's key is below it. Exits are not
    /// passed through. What is left in the heap waits for later rounds.
    fn run(&mut self, sh: &Shared, res: &Reservations) {
        let p = sh.p;
        let net = p.net;
        while let Some(&Reverse(entry)) = self.heap.peek() {
            let (k, u) = (entry >> NODE_BITS, (entry & NODE_MASK) as u32);
            if k >= self.best {
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

    /// Searches again below `roots` (nodes whose label no longer holds).
    fn repair(&mut self, sh: &Shared, res: &Reservations, remaining: &[u64], roots: &[u32]) {
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
        affected.sort_unstable();
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

    /// The legs (arc, entry time) of the tree path to `z`, and the source
    /// it starts from.
    fn path(&self, net: &FlowNet, z: u32) -> (Vec<(u32, u64)>, usize) {
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
fn plan_free(p: &Problem, mut res: Reservations, mut remaining: Vec<u64>) -> Result<Plan, PlanError> {
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
    let sh = Shared { p, first_in, arcs_in, src_first, src_list, pot, sinks };
    let mut families: Vec<u32> = p.sources.iter().zip(&remaining).filter(|(_, &r)| r > 0).map(|(s, _)| s.family).collect();
    families.sort_unstable();
    families.dedup();
    let sinks = sh.sinks.clone();
    let mut trees: Vec<Tree> = families.iter().map(|&f| Tree::new(&sh, f)).collect();
    for t in &mut trees {
        t.build(&sh, &res, &remaining);
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
            let sent: u64 = p.sources.iter().map(|s| s.loads).sum::<u64>() - left;
            let completion_ms = trips.iter().map(|t| t.arrive_ms).max().unwrap_or(0);
            let partial = Box::new(Plan { trips, completion_ms, searches, rounds, fleet: None });
            return Err(PlanError::OutOfTime { remaining: left, sent, remaining_by_source: remaining, partial });
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
                *tree = Tree::new(&sh, tree.family);
                tree.build(&sh, &res, &remaining);
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
    let completion_ms = trips.iter().map(|t| t.arrive_ms).max().unwrap_or(0);
    Ok(Plan { trips, completion_ms, searches, rounds, fleet: None })
}

#[cfg(test)]
mod tests {
    use super::*;

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
