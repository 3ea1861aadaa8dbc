//! Corridor's engine: plans an evacuation and runs it through time.
//!
//! ```text
//! scenario (TOML) ─► net (segments: approach, checkpoints, corridor legs) ─┐
//! road network (geo) ─► net::from_roads (grids, extracts) ────────────────┤
//!                                                                          ▼
//!                          ccrp (capacity-constrained route planner) ─► Plan (trips, convoys)
//!                          bound (flow over time, fleet, windows)   ─► lower bound, quality ratio
//!                                                                          │
//!                          sim (discrete events, incidents, replanning) ─► Events for the ledger
//! ```
//!
//! The planner is CCRP (Lu, George and Shekhar 2005): it repeatedly sends
//! the next group of evacuees along the route that reaches an exit
//! earliest given the capacity already reserved on every road, checkpoint
//! and time slot. Every plan reports its own quality: its completion time
//! against a lower bound no plan can beat ([`bound`]).

pub mod aftermath;
pub mod bound;
pub mod ccrp;
pub mod check;
pub mod declare;
pub mod maxflow;
pub mod net;
pub mod scenario;
pub mod sim;

pub use ccrp::{plan, Plan, PlanError, Problem, Source, Trip, VehicleState};
pub use net::FlowNet;
