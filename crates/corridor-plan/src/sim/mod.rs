//! The operation simulator: builds the planner's network from a scenario
//! on a road map, plans, and runs the plan through time as a discrete-event
//! simulation, emitting the events a live operation would record.
//!
//! - **Network.** One node per site; per corridor, a pair of nodes per
//!   checkpoint. Arcs: the approach from the site to the entry (its road
//!   route), each checkpoint's counting (`count_minutes`, at its
//!   `vehicles_per_hour`), the road between checkpoints, the road from the
//!   exit to the destination. A road piece admits the capacity of its
//!   narrowest road. The entry's counting arc is gated by the corridor's
//!   truce windows (a vehicle is counted in only if it can reach the exit
//!   before the window ends) and closed while the corridor is halted.
//! - **Loads.** Ambulances carry every wounded person (one per stretcher)
//!   with a companion per wounded where seats allow; buses carry everyone
//!   else. Who is in which load is drawn from the site's groups (seeded).
//! - **Simulation.** Vehicles follow their planned trips; driving and
//!   boarding times vary (seeded); every checkpoint is a first-come server
//!   with a headway of one vehicle per `3600 / vehicles_per_hour` s, so
//!   vehicles queue there. A trip is committed once counted in at the
//!   entry.
//! - **Disruptions.** At each incident or agreement the simulator applies
//!   it, cancels the trips not yet counted in (vehicles on their way return;
//!   their loads wait again), and plans again from the state of that
//!   instant: people left, vehicles where they are, windows known.
//!   A halt closes a corridor; an attack destroys vehicles on their way
//!   along the corridor that are not yet counted in (loaded vehicles inside
//!   it drive on) and halts it; an agreement declares its windows,
//!   reopens the corridors halted until it, and may link a corridor to
//!   another site's evacuation (a halt there halts it too).
//!
//! Deterministic: the same scenario and seed give the same events.
//!
//! Here the [`Simulator`]'s state and its steps (declarations, each
//! disruption, the windows' edges); `operation` lays the scenario on the
//! map and forms the loads, `plans` plans from the state of an instant and
//! groups convoys, `run` drives a plan through time.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, Utc};
use corridor_geo::{GeoError, Router};
use corridor_model::{Body, CorridorRef, Event, Incident, IncidentKind};
use rand::rngs::StdRng;
use rand::SeedableRng;

use crate::bound::Bounds;
use crate::ccrp::VehicleState;
use crate::declare;
use crate::scenario::{IncidentKindSpec, Scenario};

mod operation;
mod plans;
mod run;

use operation::ms;
pub use operation::{Load, Operation};
pub use plans::{plan_only, ConvoyPlan};
use run::OnRoad;

/// What can stop a simulation, in one sentence with what would fix it.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("map: {0}")]
    Map(#[from] GeoError),
    #[error("the plan is infeasible: {0}")]
    Infeasible(String),
}

/// One planning of the operation, as the simulator made it.
#[derive(Debug, Clone)]
pub struct PlanReport {
    pub at: DateTime<Utc>,
    pub why: String,
    pub loads: u64,
    pub completion: Option<DateTime<Utc>>,
    /// None when the known windows cannot carry everyone.
    pub bound: Option<DateTime<Utc>>,
    pub bounds: Bounds,
    /// Loads the known windows cannot carry, and what would.
    pub short: Option<String>,
    pub took: std::time::Duration,
}

impl PlanReport {
    /// Completion over lower bound, both measured from the planning instant.
    pub fn ratio(&self) -> Option<f64> {
        let c = (self.completion? - self.at).num_milliseconds() as f64;
        let b = (self.bound? - self.at).num_milliseconds() as f64;
        (b > 0.0 && self.short.is_none()).then_some(c / b)
    }
}

/// What a simulation produced.
pub struct Outcome {
    /// Every event, in log order.
    pub events: Vec<Event>,
    pub plans: Vec<PlanReport>,
    pub vehicles_lost: usize,
}

#[derive(Clone)]
struct Disruption {
    time: DateTime<Utc>,
    kind: DKind,
}

#[derive(Clone)]
enum DKind {
    Incident(usize),
    Agreement(usize),
}

/// Runs the whole operation (see the module doc): the declarations, then
/// a plan run until each disruption, the disruption, and a plan again;
/// the corridors' window edges and the aftermath last.
pub fn simulate(sc: &Scenario, router: &Router) -> Result<Outcome, SimError> {
    let mut sim = Simulator::new(sc, router)?;
    sim.declare(router);
    let mut why = "initial plan".to_string();
    for d in disruptions(sc) {
        let cut_off = sim.plan_and_run(ms(d.time, sim.op.epoch), &why)?;
        let destroyed = match d.kind {
            DKind::Incident(i) => {
                let destroyed = sim.incident(i, d.time, &cut_off);
                let x = sc.incidents[i].get_ref();
                why = format!("after {} ({:?})", x.id, x.kind).to_lowercase();
                destroyed
            }
            DKind::Agreement(i) => {
                sim.agreement(i, d.time);
                why = format!("after {}", sc.agreements[i].get_ref().id);
                Vec::new()
            }
        };
        sim.turn_back(d.time, &cut_off, &destroyed);
    }
    sim.plan_and_run(u64::MAX, &why)?;
    sim.window_edges();
    sim.finish()
}

/// The incidents and agreements in time order (an agreement before an
/// incident at the same instant).
fn disruptions(sc: &Scenario) -> Vec<Disruption> {
    let mut disruptions: Vec<Disruption> = Vec::new();
    for (i, x) in sc.incidents.iter().enumerate() {
        disruptions.push(Disruption {
            time: x.get_ref().time,
            kind: DKind::Incident(i),
        });
    }
    for (i, a) in sc.agreements.iter().enumerate() {
        disruptions.push(Disruption {
            time: a.get_ref().time,
            kind: DKind::Agreement(i),
        });
    }
    disruptions.sort_by_key(|d| (d.time, matches!(d.kind, DKind::Incident(_))));
    disruptions
}

/// A simulation under way: the events so far, and the state of the
/// corridors, the agreements and the fleet.
struct Simulator<'s> {
    sc: &'s Scenario,
    op: Operation<'s>,
    /// Draws the driving, boarding and counting times.
    rng: StdRng,
    /// Every event so far, with its time and the order it was made in.
    out: Vec<(DateTime<Utc>, u64, Event)>,
    halted: Vec<bool>,
    /// The agreement a halted corridor waits for.
    halted_until: Vec<Option<String>>,
    agreements_made: Vec<String>,
    /// (corridor, site whose evacuation it depends on).
    links: Vec<(usize, usize)>,
    fleet: Vec<VehicleState>,
    alive: Vec<bool>,
    /// When each checkpoint's counting arc is free again.
    server_free: HashMap<usize, u64>,
    /// Convoys formed so far (they are numbered on).
    convoy_no: usize,
    plans: Vec<PlanReport>,
    /// When the plan now running was made.
    now_ms: u64,
    vehicles_lost: usize,
    /// Every halt: the corridor, from, and until (`None` while it lasts).
    halt_log: Vec<(usize, u64, Option<u64>)>,
}

impl<'s> Simulator<'s> {
    fn new(sc: &'s Scenario, router: &Router) -> Result<Simulator<'s>, SimError> {
        let op = Operation::build(sc, router)?;
        let n_corr = op.corridors.len();
        let fleet: Vec<VehicleState> = op
            .depot
            .iter()
            .zip(&op.vehicles)
            .map(|(&d, v)| VehicleState {
                class: v.class,
                at: d,
                ready_ms: 0,
            })
            .collect();
        Ok(Simulator {
            sc,
            rng: StdRng::seed_from_u64(sc.scenario.seed ^ 0x5EED),
            out: Vec::new(),
            halted: vec![false; n_corr],
            halted_until: vec![None; n_corr],
            agreements_made: Vec::new(),
            links: Vec::new(),
            alive: vec![true; fleet.len()],
            fleet,
            server_free: HashMap::new(),
            convoy_no: 0,
            plans: Vec::new(),
            now_ms: 0,
            vehicles_lost: 0,
            halt_log: Vec::new(),
            op,
        })
    }

    fn emit(&mut self, e: Event) {
        let seq = self.out.len() as u64 + 1;
        self.out.push((e.time, seq, e));
    }

    /// An event of headquarters.
    fn hq(&mut self, id: String, t: DateTime<Utc>, body: Body) {
        self.emit(Event::new(id, t, "hq", body));
    }

    fn cid(&self, c: usize) -> String {
        self.op.corridors[c].id.clone()
    }

    /// The operation, groups, sites, corridors, vehicles and the windows
    /// known at the start.
    fn declare(&mut self, router: &Router) {
        let (sc, t0) = (self.sc, self.op.epoch);
        let bytes = corridor_geo::netfile::to_bytes(router.prepared());
        self.emit(declare::operation(sc, declare::map_ref(sc, router.prepared(), &bytes), t0));
        self.emit(declare::groups(t0));
        for e in declare::sites(sc, t0) {
            self.emit(e);
        }
        for c in 0..sc.corridors.len() {
            let e = declare::corridor(sc, c, &self.op.corridors[c].checkpoints, t0);
            self.emit(e);
        }
        for e in declare::vehicles(sc, t0) {
            self.emit(e);
        }
        self.declare_windows(None, t0);
    }

    /// The windows of `agreement` (`None`: those agreed before the start).
    fn declare_windows(&mut self, agreement: Option<&str>, at: DateTime<Utc>) {
        for w in self.sc.windows.iter().map(|w| w.get_ref()).filter(|w| w.agreement.as_deref() == agreement) {
            self.emit(declare::window(w, at));
        }
    }

    /// The windows known now: (corridor, start, end).
    fn known_windows(&self) -> Vec<(usize, u64, u64)> {
        let (sc, epoch) = (self.sc, self.op.epoch);
        let mut v = Vec::new();
        for w in sc.windows.iter().map(|w| w.get_ref()) {
            if w.agreement.as_ref().is_none_or(|a| self.agreements_made.contains(a)) {
                for c in &w.corridors {
                    let ci = sc.corridors.iter().position(|x| &x.get_ref().id == c).expect("checked");
                    v.push((ci, ms(w.start, epoch), ms(w.end, epoch)));
                }
            }
        }
        v
    }

    /// Plans from now and runs the plan until `until`, when the next
    /// disruption comes; the vehicles cut off on a corridor's road then.
    fn plan_and_run(&mut self, until: u64, why: &str) -> Result<Vec<OnRoad>, SimError> {
        let net = self.op.network(&self.known_windows(), &self.halted);
        let (the_plan, report) = self.plan_now(&net, why)?;
        self.plans.push(report);
        let (events, on_road) = self.run_plan(&the_plan, &net, until);
        for e in events {
            self.emit(e);
        }
        self.now_ms = until;
        Ok(on_road)
    }

    /// Incident `i` at `at`: an attack destroys vehicles on the corridor's
    /// road that are not yet counted in; the corridor, and those linked to
    /// its site's evacuation, halt. The vehicles destroyed.
    fn incident(&mut self, i: usize, at: DateTime<Utc>, on_road: &[OnRoad]) -> Vec<usize> {
        let sc = self.sc;
        let until = ms(at, self.op.epoch);
        let x = sc.incidents[i].get_ref();
        let c = self.op.corridors.iter().position(|b| b.id == x.corridor).expect("checked");
        let mut destroyed = Vec::new();
        if x.kind == IncidentKindSpec::Attack {
            let mut on_road: Vec<&OnRoad> = on_road.iter().filter(|r| r.corridor == c).collect();
            on_road.sort_by_key(|r| (r.convoy.clone(), r.vehicle));
            for r in on_road {
                if destroyed.len() as u32 >= x.vehicles {
                    break;
                }
                if x.vehicle_kind.is_some_and(|k| k != self.op.vehicles[r.vehicle].kind) {
                    continue;
                }
                self.alive[r.vehicle] = false;
                destroyed.push(r.vehicle);
            }
            self.vehicles_lost += destroyed.len();
        }
        let convoy = on_road.iter().find(|r| r.corridor == c && destroyed.contains(&r.vehicle)).map(|r| r.convoy.clone());
        let kind = if x.kind == IncidentKindSpec::Attack {
            IncidentKind::Attack
        } else {
            IncidentKind::Halt
        };
        let vehicles = destroyed.iter().map(|&v| self.op.vehicles[v].id.clone()).collect();
        self.hq(
            format!("incident-{}", x.id),
            at,
            Body::Incident(Incident {
                incident: x.id.clone(),
                kind,
                corridor: Some(x.corridor.clone()),
                convoy,
                site: None,
                vehicles,
                killed: x.killed,
                description: x.description.clone(),
            }),
        );
        let mut to_halt = vec![c];
        // A corridor linked to this corridor's site halts with it,
        // while that site still has people to evacuate.
        let from = self.op.corridors[c].from;
        let site_left = self.op.pools.iter().any(|p| p.site == from && !p.loads.is_empty());
        for (lc, site) in self.links.clone() {
            if from == site && site_left && !to_halt.contains(&lc) && !self.halted[lc] {
                to_halt.push(lc);
                let (what, whose) = (self.cid(lc), sc.sites[site].get_ref().id.clone());
                self.hq(
                    format!("linked-halt-{what}-{}", x.id),
                    at,
                    Body::Incident(Incident {
                        incident: format!("linked-halt-{what}-{}", x.id),
                        kind: IncidentKind::Halt,
                        corridor: Some(what.clone()),
                        convoy: None,
                        site: Some(whose.clone()),
                        vehicles: vec![],
                        killed: 0,
                        description: format!("corridor {what} stays open only while the evacuation of {whose} proceeds, which {} stopped", x.id),
                    }),
                );
            }
        }
        for h in to_halt {
            if !self.halted[h] {
                self.halt_log.push((h, until, None));
                self.halted[h] = true;
                self.halted_until[h] = x.until_agreement.clone();
                self.hq(
                    format!("halt-{}-{}", self.cid(h), x.id),
                    at,
                    Body::CorridorClosed(CorridorRef {
                        corridor: self.cid(h),
                        reason: format!("halted: {}", x.id),
                    }),
                );
            }
        }
        destroyed
    }

    /// Agreement `i` at `at`: its windows are declared, a corridor it ties
    /// to a site's evacuation is linked, the corridors halted until it resume.
    fn agreement(&mut self, i: usize, at: DateTime<Utc>) {
        let sc = self.sc;
        let until = ms(at, self.op.epoch);
        let a = sc.agreements[i].get_ref();
        self.agreements_made.push(a.id.clone());
        self.emit(declare::agreement(sc, i));
        self.declare_windows(Some(&a.id), at);
        if let (Some(c), Some(s)) = (&a.corridor, &a.while_site) {
            let ci = self.op.corridors.iter().position(|b| &b.id == c).expect("checked");
            let si = sc.sites.iter().position(|x| &x.get_ref().id == s).expect("checked");
            self.links.push((ci, si));
        }
        for h in 0..self.halted.len() {
            if self.halted[h] && self.halted_until[h].as_deref() == Some(a.id.as_str()) {
                if let Some(l) = self.halt_log.iter_mut().rev().find(|l| l.0 == h && l.2.is_none()) {
                    l.2 = Some(until);
                }
                self.halted[h] = false;
                self.halted_until[h] = None;
                let cid = self.cid(h);
                self.hq(
                    format!("resumed-{cid}-{}", a.id),
                    at,
                    Body::Incident(Incident {
                        incident: format!("resumed-{cid}-{}", a.id),
                        kind: IncidentKind::Resumed,
                        corridor: Some(cid.clone()),
                        convoy: None,
                        site: None,
                        vehicles: vec![],
                        killed: 0,
                        description: format!("corridor {cid} resumes under {}", a.id),
                    }),
                );
            }
        }
    }

    /// The vehicles cut off on their way that the disruption did not
    /// destroy turn back, recorded after it so that no vehicle is both
    /// lost and turning back (their loads wait again).
    fn turn_back(&mut self, at: DateTime<Utc>, on_road: &[OnRoad], destroyed: &[usize]) {
        let mut back: BTreeMap<&str, (usize, u32)> = BTreeMap::new();
        for r in on_road.iter().filter(|r| !destroyed.contains(&r.vehicle)) {
            let e = back.entry(r.convoy.as_str()).or_insert((r.corridor, 0));
            e.1 += 1;
        }
        for (id, (c, n)) in back {
            self.hq(
                format!("turned-back-{id}"),
                at,
                Body::Incident(Incident {
                    incident: format!("turned-back-{id}"),
                    kind: IncidentKind::Halt,
                    corridor: Some(self.cid(c)),
                    convoy: Some(id.to_string()),
                    site: None,
                    vehicles: vec![],
                    killed: 0,
                    description: format!("{n} vehicles of {id} not yet counted in turn back: the corridor was halted"),
                }),
            );
        }
    }

    /// The corridors open and close at their windows' edges, except while halted.
    fn window_edges(&mut self) {
        let (sc, epoch) = (self.sc, self.op.epoch);
        for (c, s, e) in self.known_windows() {
            let halted_at = |t: u64| self.halt_log.iter().any(|&(h, from, to)| h == c && from <= t && to.is_none_or(|to| t < to));
            let (open_at_start, open_at_end) = (!halted_at(s), !halted_at(e));
            let w = sc
                .windows
                .iter()
                .map(|w| w.get_ref())
                .find(|w| ms(w.start, epoch) == s && ms(w.end, epoch) == e)
                .map_or("window".to_string(), |w| w.id.clone());
            let cid = self.cid(c);
            if open_at_start {
                self.edge(format!("open-{cid}-{w}"), s, CorridorRef { corridor: cid.clone(), reason: format!("truce window {w}") }, true);
            }
            if open_at_end {
                self.edge(format!("close-{cid}-{w}"), e, CorridorRef { corridor: cid.clone(), reason: format!("truce window {w} ends") }, false);
            }
            let reopened: Vec<(usize, u64)> = self.halt_log.iter().enumerate().filter_map(|(k, &(h, _, to))| to.filter(|&to| h == c && s < to && to < e).map(|to| (k, to))).collect();
            for (k, to) in reopened {
                self.edge(format!("reopen-{cid}-{w}-{k}"), to, CorridorRef { corridor: cid.clone(), reason: format!("resumed in truce window {w}") }, true);
            }
        }
    }

    /// A corridor opens or closes at `at`.
    fn edge(&mut self, id: String, at: u64, r: CorridorRef, open: bool) {
        let t = self.op.epoch + Duration::milliseconds(at as i64);
        self.hq(id, t, if open { Body::CorridorOpened(r) } else { Body::CorridorClosed(r) });
    }

    /// The aftermath, the events in log order, or why people were left behind.
    fn finish(mut self) -> Result<Outcome, SimError> {
        let sc = self.sc;
        for e in crate::aftermath::events(sc) {
            self.emit(e);
        }
        let mut out = self.out;
        out.sort_by_key(|(t, s, _)| (*t, *s));
        let stranded = self
            .op
            .pools
            .iter()
            .filter(|p| !p.loads.is_empty())
            .fold(BTreeMap::new(), |mut m: BTreeMap<String, u64>, p| {
                *m.entry(sc.sites[p.site].get_ref().id.clone()).or_default() += p.loads.iter().map(|l| corridor_model::people(&l.counts)).sum::<u64>();
                m
            });
        if !stranded.is_empty() {
            let who: Vec<String> = stranded.iter().map(|(s, n)| format!("{n} people at {s}")).collect();
            let why = self
                .plans
                .iter()
                .rev()
                .find_map(|p| p.short.clone())
                .unwrap_or_else(|| "no vehicle can reach them".into());
            return Err(SimError::Infeasible(format!("{} cannot be carried out: {why}", who.join(" and "))));
        }
        Ok(Outcome {
            events: out.into_iter().map(|(_, _, e)| e).collect(),
            plans: self.plans,
            vehicles_lost: self.vehicles_lost,
        })
    }
}
