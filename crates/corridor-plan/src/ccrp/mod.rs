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
//!
//! Here the problem, the plan and [`plan`]; `slots` holds the reserved
//! capacity per arc and slot, `search` the time-dependent search both
//! planners run, `fleet` the planner with a fleet, `batches` the one
//! without.

use std::collections::HashMap;

use crate::net::FlowNet;

mod batches;
mod fleet;
mod search;
mod slots;

use slots::Reservations;

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

impl Plan {
    fn new(trips: Vec<Trip>, searches: u64, rounds: u64, fleet: Option<Vec<VehicleState>>) -> Plan {
        let completion_ms = trips.iter().map(|t| t.arrive_ms).max().unwrap_or(0);
        Plan { trips, completion_ms, searches, rounds, fleet }
    }
}

impl PlanError {
    /// The horizon came before `remaining` loads could be sent; `partial`
    /// is what was planned.
    fn out_of_time(p: &Problem, partial: Plan, remaining: Vec<u64>) -> PlanError {
        let left: u64 = remaining.iter().sum();
        let sent = p.sources.iter().map(|s| s.loads).sum::<u64>() - left;
        PlanError::OutOfTime { remaining: left, sent, remaining_by_source: remaining, partial: Box::new(partial) }
    }
}

/// Plans the evacuation (see the module doc).
pub fn plan(p: &Problem) -> Result<Plan, PlanError> {
    let net = p.net;
    let res = Reservations::new(net, p.slot_ms.max(1));
    let remaining: Vec<u64> = p.sources.iter().map(|s| s.loads).collect();
    if let Some(f) = &p.fleet {
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
    match &p.fleet {
        None => batches::plan(p, res, remaining),
        Some(f) => fleet::plan(p, res, remaining, f.clone()),
    }
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
