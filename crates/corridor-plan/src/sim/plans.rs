//! Planning from the simulation's state, and the convoys a plan forms.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use corridor_geo::Router;

use super::operation::{ms, net_arc, Operation};
use super::{PlanReport, SimError, Simulator};
use crate::bound::bounds;
use crate::ccrp::{plan, Plan, PlanError, Problem, Source, VehicleState};
use crate::net::FlowNet;
use crate::scenario::Scenario;

impl Simulator<'_> {
    /// Plans from the state now: the loads left, the fleet where it is
    /// (lost vehicles excluded), the gates of `net`; with its report.
    pub(super) fn plan_now(&self, net: &FlowNet, why: &str) -> Result<(Plan, PlanReport), SimError> {
        let (op, sc, fleet, alive, now_ms) = (&self.op, self.sc, &self.fleet, &self.alive, self.now_ms);
        let epoch = op.epoch;
        let slot_ms = u64::from(sc.scenario.slot_minutes) * 60_000;
        let fleets: Vec<&crate::scenario::FleetSpec> = sc.fleet.iter().map(|f| f.get_ref()).collect();
        let sources: Vec<Source> = op
            .pools
            .iter()
            .map(|p| Source {
                node: op.site_node[p.site],
                family: p.family,
                class: p.class,
                loads: p.loads.len() as u64,
                ready_ms: now_ms,
                load_ms: u64::from(sc.sites[p.site].get_ref().board_minutes) * 60_000,
            })
            .collect();
        let live_fleet: Vec<VehicleState> = fleet
            .iter()
            .zip(alive)
            .map(|(v, &a)| {
                if a {
                    v.clone()
                } else {
                    VehicleState {
                        class: usize::MAX,
                        ..v.clone()
                    }
                }
            })
            .collect();
        let problem = Problem {
            net,
            sources,
            fleet: Some(live_fleet),
            reposition_ms: op.reposition_ms.clone(),
            slot_ms,
            unload_ms: u64::from(sc.scenario.unload_minutes) * 60_000,
            horizon_ms: ms(epoch + Duration::days(60), epoch),
        };
        let started = std::time::Instant::now();
        let loads: u64 = problem.sources.iter().map(|s| s.loads).sum();
        let (the_plan, short) = match plan(&problem) {
            Ok(p) => (p, None),
            Err(PlanError::OutOfTime { partial, remaining, sent, .. }) => {
                let per_hour: f64 = op.corridors.iter().map(|c| f64::from(c.vph.iter().copied().min().unwrap_or(1))).sum();
                let hours = (remaining as f64 / per_hour).ceil();
                let b = bounds(&problem);
                let msg = if b.gates_ms < problem.horizon_ms {
                    // The windows could count everyone in: the round trips are too few.
                    let vehicles = alive.iter().filter(|&&a| a).count() as u64;
                    let more = (vehicles * remaining).div_ceil(sent.max(1));
                    format!("{remaining} vehicle loads do not fit: the truce windows known now could count everyone in, but the fleet cannot make enough round trips in them; about {more} more vehicles, or about {hours} more hours of truce, would carry them")
                } else {
                    format!("{remaining} vehicle loads do not fit in the truce windows known now: they need about {hours} more hours of truce at the corridors' counting rates")
                };
                (*partial, Some(msg))
            }
            Err(PlanError::NoVehicles { source_index, loads, .. }) => {
                let p = &op.pools[source_index];
                return Err(SimError::Infeasible(format!(
                    "site {} has {loads} vehicle loads of {:?} passengers but every vehicle of its fleet is lost: add vehicles that serve it",
                    sc.sites[p.site].get_ref().id,
                    fleets[p.class].kind
                )));
            }
            Err(PlanError::NoRoute { source_index, .. }) => {
                let p = &op.pools[source_index];
                return Err(SimError::Infeasible(format!(
                    "no corridor from site {} reaches an exit: declare one",
                    sc.sites[p.site].get_ref().id
                )));
            }
        };
        let b = bounds(&problem);
        let report = PlanReport {
            at: epoch + Duration::milliseconds(now_ms as i64),
            why: why.to_string(),
            loads,
            completion: (!the_plan.trips.is_empty()).then(|| epoch + Duration::milliseconds(the_plan.completion_ms as i64)),
            bound: (b.best() < problem.horizon_ms).then(|| epoch + Duration::milliseconds(b.best() as i64)),
            bounds: b,
            short,
            took: started.elapsed(),
        };
        Ok((the_plan, report))
    }
}

/// A plan's trips in departure order, the corridor of each, and the
/// convoys they form: per corridor, trips counted in within
/// `convoy_minutes` of the convoy's first, at most `convoy_size`, each
/// vehicle once.
pub(super) struct Convoys<'p> {
    pub(super) trips: Vec<&'p crate::Trip>,
    pub(super) corridor: Vec<usize>,
    pub(super) convoys: Vec<(usize, Vec<usize>)>,
    pub(super) convoy_of: Vec<usize>,
}

pub(super) fn group_convoys<'p>(op: &Operation, net: &FlowNet, plan: &'p Plan, sc: &Scenario) -> Convoys<'p> {
    let approach_arcs: Vec<usize> = op.corridors.iter().map(|c| net_arc(net, op, c.approach)).collect();
    let mut trips: Vec<&crate::Trip> = plan.trips.iter().collect();
    trips.sort_by_key(|t| (t.legs[1].1, t.vehicle));
    let corridor: Vec<usize> = trips
        .iter()
        .map(|t| {
            approach_arcs
                .iter()
                .position(|&a| a == t.legs[0].0 as usize)
                .expect("a trip starts with a corridor's approach")
        })
        .collect();
    // Convoys: per corridor, trips leaving the site within convoy_minutes, at most convoy_size.
    let window = u64::from(sc.scenario.convoy_minutes) * 60_000;
    let mut convoy_of: Vec<usize> = vec![usize::MAX; trips.len()];
    let mut convoys: Vec<(usize, Vec<usize>)> = Vec::new();
    let mut open: HashMap<usize, (usize, u64)> = HashMap::new();
    for (i, t) in trips.iter().enumerate() {
        let c = corridor[i];
        let start_new = match open.get(&c) {
            Some(&(k, first)) => {
                t.legs[1].1 >= first + window
                    || convoys[k].1.len() >= sc.scenario.convoy_size as usize
                    || convoys[k].1.iter().any(|&j| trips[j].vehicle == t.vehicle)
            }
            None => true,
        };
        if start_new {
            open.insert(c, (convoys.len(), t.legs[1].1));
            convoys.push((c, Vec::new()));
        }
        let k = open[&c].0;
        convoys[k].1.push(i);
        convoy_of[i] = k;
    }
    Convoys { trips, corridor, convoys, convoy_of }
}

/// When a trip's vehicle must leave where it is to be counted in at the
/// entry when the plan says (the plan lets it wait at the entry instead).
pub(super) fn just_in_time(net: &FlowNet, t: &crate::Trip) -> u64 {
    t.legs[1].1.saturating_sub(u64::from(net.transit_ms[t.legs[0].0 as usize]) + (t.depart_ms - t.approach_ms))
}

/// One convoy of a plan, as `corridor plan` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ConvoyPlan {
    pub corridor: String,
    /// When its first vehicle leaves its depot, empty.
    pub leaves: DateTime<Utc>,
    pub first_in: DateTime<Utc>,
    pub last_out: DateTime<Utc>,
    pub vehicles: usize,
    pub people: u64,
    pub wounded: u64,
}

/// The plan made at the scenario's start, with the windows known then and
/// no disruption: its convoys and its report. Nothing is simulated.
pub fn plan_only(sc: &Scenario, router: &Router) -> Result<(PlanReport, Vec<ConvoyPlan>), SimError> {
    let sim = Simulator::new(sc, router)?;
    let net = sim.op.network(&sim.known_windows(), &sim.halted);
    let (the_plan, report) = sim.plan_now(&net, "plan at the start")?;
    let op = &sim.op;
    let Convoys { trips, convoys, .. } = group_convoys(op, &net, &the_plan, sc);
    let at = |t: u64| op.epoch + Duration::milliseconds(t as i64);
    let mut next_load: HashMap<usize, usize> = HashMap::new();
    let mut out = Vec::new();
    for (c, members) in &convoys {
        let mut row = ConvoyPlan {
            corridor: op.corridors[*c].id.clone(),
            leaves: at(members.iter().map(|&i| just_in_time(&net, trips[i])).min().unwrap_or(0)),
            first_in: at(members.iter().map(|&i| trips[i].legs[1].1).min().unwrap_or(0)),
            last_out: at(members.iter().map(|&i| trips[i].arrive_ms).max().unwrap_or(0)),
            vehicles: members.len(),
            people: 0,
            wounded: 0,
        };
        for &i in members {
            let k = next_load.entry(trips[i].source).or_default();
            if let Some(l) = op.pools[trips[i].source].loads.get(*k) {
                row.people += corridor_model::people(&l.counts);
                row.wounded += u64::from(l.wounded);
            }
            *k += 1;
        }
        out.push(row);
    }
    Ok((report, out))
}
