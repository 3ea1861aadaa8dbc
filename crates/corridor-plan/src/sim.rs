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

use crate::declare;
use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, Utc};
use corridor_geo::{GeoError, LatLon, Router};
use corridor_model::{Body, Convoy, ConvoyArrived, CorridorRef, Counts, Event, Incident, IncidentKind, Passage};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::bound::{bounds, Bounds};
use crate::ccrp::{plan, Plan, PlanError, Problem, Source, VehicleState};
use crate::net::{ArcSpec, FlowNet};
use crate::scenario::{IncidentKindSpec, Scenario, VehicleKindSpec};

/// What can stop a simulation, in one sentence with what would fix it.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("map: {0}")]
    Map(#[from] GeoError),
    #[error("the plan is infeasible: {0}")]
    Infeasible(String),
}

struct BuiltCorridor {
    id: String,
    from: usize,
    to: usize,
    /// Arc index of the approach, each checkpoint's count, each leg, the exit road.
    approach: usize,
    counts: Vec<usize>,
    /// Checkpoint ids and names, entry first.
    checkpoints: Vec<(String, String, LatLon)>,
    /// Free-flow ms from the start of counting in to the exit.
    entry_to_exit_ms: u64,
    vph: Vec<u32>,
    count_ms: Vec<u64>,
}

/// A load: who rides one vehicle.
#[derive(Debug, Clone, PartialEq)]
pub struct Load {
    pub counts: Counts,
    pub wounded: u32,
}

struct Pool {
    site: usize,
    class: usize,
    family: u32,
    loads: std::collections::VecDeque<Load>,
}

struct VehicleInfo {
    id: String,
    class: usize,
    kind: VehicleKindSpec,
}

/// The scenario on its map, ready to plan.
pub struct Operation<'s> {
    sc: &'s Scenario,
    net_arcs: Vec<ArcSpec>,
    nodes: usize,
    corridors: Vec<BuiltCorridor>,
    site_node: Vec<u32>,
    vehicles: Vec<VehicleInfo>,
    depot: Vec<u32>,
    reposition_ms: HashMap<(u32, u32), u64>,
    pools: Vec<Pool>,
    epoch: DateTime<Utc>,
}

fn ms(d: DateTime<Utc>, epoch: DateTime<Utc>) -> u64 {
    (d - epoch).num_milliseconds().max(0) as u64
}

fn latlon(p: [f64; 2]) -> LatLon {
    LatLon::new(p[0], p[1])
}

impl<'s> Operation<'s> {
    /// Lays the scenario's corridors on the map and forms the loads.
    pub fn build(sc: &'s Scenario, router: &Router) -> Result<Operation<'s>, SimError> {
        let mut st = router.new_state();
        let net = router.network();
        let epoch = sc.scenario.start;
        let sites: Vec<&crate::scenario::SiteSpec> = sc.sites.iter().map(|s| s.get_ref()).collect();
        let site_ix = |id: &str| sites.iter().position(|s| s.id == id).expect("checked by the scenario");
        let site_node: Vec<u32> = (0..sites.len() as u32).collect();
        let mut nodes = sites.len();
        let mut arcs = Vec::new();
        let mut corridors = Vec::new();
        let min_cap = |route: &corridor_geo::Route| route.arcs.iter().map(|&a| net.capacity_vph[a as usize]).min().unwrap_or(u32::MAX).max(1);
        for c in sc.corridors.iter().map(|c| c.get_ref()) {
            let spec = declare::geo_corridor(c);
            let route = corridor_geo::corridor::plan(router, &mut st, &spec)?;
            let (from, to) = (site_ix(&c.from), site_ix(&c.to));
            let approach = router.route(&mut st, latlon(sites[from].at), latlon(c.entry))?;
            let away = router.route(&mut st, latlon(c.exit), latlon(sites[to].at))?;
            let road_cap = route.legs.iter().map(min_cap).min().unwrap_or(u32::MAX);
            let families = 0u64; // filled in when the pools are known
            let base = nodes as u32;
            nodes += 2 * route.checkpoints.len();
            let approach_arc = arcs.len();
            arcs.push(ArcSpec {
                tail: from as u32,
                head: base,
                transit_ms: approach.time_ms as u32,
                cap_vph: min_cap(&approach),
                gate: None,
                families,
            });
            let mut counts = Vec::new();
            let mut vph = Vec::new();
            let mut count_ms = Vec::new();
            for (k, cp) in route.checkpoints.iter().enumerate() {
                let given = c.checkpoints.iter().find(|x| x.id == cp.id).expect("placed from the spec");
                let (i, o) = (base + 2 * k as u32, base + 2 * k as u32 + 1);
                counts.push(arcs.len());
                vph.push(given.vehicles_per_hour);
                count_ms.push(u64::from(given.count_minutes) * 60_000);
                arcs.push(ArcSpec {
                    tail: i,
                    head: o,
                    transit_ms: given.count_minutes * 60_000,
                    cap_vph: given.vehicles_per_hour,
                    gate: None,
                    families,
                });
                if k + 1 < route.checkpoints.len() {
                    let leg_ms = ((route.checkpoints[k + 1].time_s - cp.time_s) * 1000.0).round().max(1.0) as u32;
                    arcs.push(ArcSpec {
                        tail: o,
                        head: o + 1,
                        transit_ms: leg_ms,
                        cap_vph: road_cap,
                        gate: None,
                        families,
                    });
                }
            }
            let last_out = base + 2 * route.checkpoints.len() as u32 - 1;
            arcs.push(ArcSpec {
                tail: last_out,
                head: to as u32,
                transit_ms: away.time_ms as u32,
                cap_vph: min_cap(&away),
                gate: None,
                families,
            });
            let entry_to_exit_ms = count_ms.iter().sum::<u64>() + ((route.time_s - route.checkpoints[0].time_s) * 1000.0).round() as u64;
            corridors.push(BuiltCorridor {
                id: c.id.clone(),
                from,
                to,
                approach: approach_arc,
                counts,
                checkpoints: route.checkpoints.iter().map(|p| (p.id.clone(), p.name.clone(), p.point)).collect(),
                entry_to_exit_ms,
                vph,
                count_ms,
            });
        }
        // Vehicles: one class per fleet entry.
        let mut vehicles = Vec::new();
        let mut depot = Vec::new();
        for (k, f) in sc.fleet.iter().map(|f| f.get_ref()).enumerate() {
            for i in 1..=f.count {
                vehicles.push(VehicleInfo {
                    id: format!("{}-{i:03}", f.prefix),
                    class: k,
                    kind: f.kind,
                });
                depot.push(site_ix(&f.depot) as u32);
            }
        }
        // Empty runs between every depot/destination and every site with people.
        let mut reposition_ms = HashMap::new();
        let places: Vec<usize> = (0..sites.len()).collect();
        for &a in &places {
            for &b in &places {
                if a != b && !sites[b].people.is_empty() {
                    if let Ok(r) = router.route(&mut st, latlon(sites[a].at), latlon(sites[b].at)) {
                        reposition_ms.insert((a as u32, b as u32), r.time_ms);
                    }
                }
            }
        }
        let mut op = Operation {
            sc,
            net_arcs: arcs,
            nodes,
            corridors,
            site_node,
            vehicles,
            depot,
            reposition_ms,
            pools: Vec::new(),
            epoch,
        };
        op.form_loads()?;
        Ok(op)
    }

    /// Splits each site's people into loads (see the module doc).
    fn form_loads(&mut self) -> Result<(), SimError> {
        let sc = self.sc;
        let mut rng = StdRng::seed_from_u64(sc.scenario.seed);
        let fleets: Vec<&crate::scenario::FleetSpec> = sc.fleet.iter().map(|f| f.get_ref()).collect();
        for (si, s) in sc.sites.iter().map(|s| s.get_ref()).enumerate() {
            if s.people.values().all(|&n| n == 0) {
                continue;
            }
            let serving = |kind: VehicleKindSpec| fleets.iter().position(|f| f.kind == kind && (f.serves.is_empty() || f.serves.contains(&s.id)));
            let corridors: Vec<usize> = (0..self.corridors.len()).filter(|&c| self.corridors[c].from == si).collect();
            // Groups that may use the same corridors travel together.
            let mut partitions: BTreeMap<Vec<usize>, Vec<(String, u32)>> = BTreeMap::new();
            for (g, &n) in &s.people {
                let allowed: Vec<usize> = corridors
                    .iter()
                    .copied()
                    .filter(|&c| {
                        let spec = sc.corridors[c].get_ref();
                        spec.groups.is_empty() || spec.groups.contains(g)
                    })
                    .collect();
                partitions.entry(allowed).or_default().push((g.clone(), n));
            }
            let total: u64 = s.people.values().map(|&n| u64::from(n)).sum();
            let mut wounded_left = s.wounded;
            let parts = partitions.len();
            for (part, (allowed, mut pool)) in partitions.into_iter().enumerate() {
                let family = self.pools.iter().map(|p| p.family + 1).max().unwrap_or(0);
                if family >= 64 {
                    return Err(SimError::Infeasible("more than 64 groups of sites and corridors: split the scenario".into()));
                }
                for &c in &allowed {
                    let bc = &self.corridors[c];
                    let mut ids = vec![bc.approach];
                    ids.extend(bc.approach + 1..=bc.counts.last().copied().unwrap_or(bc.approach) + 1);
                    for a in ids {
                        self.net_arcs[a].families |= 1 << family;
                    }
                }
                let people: u64 = pool.iter().map(|p| u64::from(p.1)).sum();
                // This partition's share of the wounded (the last takes the rest).
                let wounded = if part + 1 == parts { wounded_left } else { (u64::from(s.wounded) * people / total.max(1)) as u32 };
                let wounded = wounded.min(wounded_left);
                wounded_left -= wounded;
                let mut amb = std::collections::VecDeque::new();
                if wounded > 0 {
                    let Some(k) = serving(VehicleKindSpec::Ambulance) else {
                        return Err(SimError::Infeasible(format!(
                            "site {} has {} wounded but no ambulance serves it: add a [[fleet]] of kind = \"ambulance\" that serves {:?}",
                            s.id, s.wounded, s.id
                        )));
                    };
                    let f = fleets[k];
                    let mut w = wounded;
                    while w > 0 {
                        let n = f.stretchers.min(w);
                        w -= n;
                        let companions = f.seats.min(n);
                        let mut counts = draw(&mut pool, n + companions, &mut rng);
                        counts.retain(|_, v| *v > 0);
                        amb.push_back(Load { counts, wounded: n });
                    }
                    self.pools.push(Pool {
                        site: si,
                        class: k,
                        family,
                        loads: amb,
                    });
                }
                let left: u64 = pool.iter().map(|p| u64::from(p.1)).sum();
                if left > 0 {
                    let Some(k) = serving(VehicleKindSpec::Bus) else {
                        return Err(SimError::Infeasible(format!(
                            "site {} has {left} people to carry but no bus serves it: add a [[fleet]] of kind = \"bus\" that serves {:?}",
                            s.id, s.id
                        )));
                    };
                    let seats = fleets[k].seats.saturating_add(fleets[k].stretchers);
                    let mut bus = std::collections::VecDeque::new();
                    while pool.iter().any(|p| p.1 > 0) {
                        let mut counts = draw(&mut pool, seats, &mut rng);
                        counts.retain(|_, v| *v > 0);
                        bus.push_back(Load { counts, wounded: 0 });
                    }
                    self.pools.push(Pool {
                        site: si,
                        class: k,
                        family,
                        loads: bus,
                    });
                }
            }
        }
        Ok(())
    }

    /// The planner's network with the gates of the corridors' windows as
    /// known at `now`, closed where a corridor is halted.
    fn network(&self, windows: &[(usize, u64, u64)], halted: &[bool]) -> FlowNet {
        let mut arcs = self.net_arcs.clone();
        for (c, bc) in self.corridors.iter().enumerate() {
            let mut g: Vec<(u64, u64)> = if halted[c] {
                Vec::new()
            } else {
                windows
                    .iter()
                    .filter(|w| w.0 == c)
                    .filter_map(|&(_, s, e)| (e > s + bc.entry_to_exit_ms).then(|| (s, e - bc.entry_to_exit_ms)))
                    .collect()
            };
            g.sort_unstable();
            arcs[bc.counts[0]].gate = Some(g);
        }
        let sinks: Vec<u32> = self.corridors.iter().map(|c| c.to as u32).collect();
        FlowNet::build(self.nodes, &arcs, &sinks)
    }
}

/// Draws `n` people from the pool without replacement.
fn draw(pool: &mut [(String, u32)], n: u32, rng: &mut StdRng) -> Counts {
    let mut counts = Counts::new();
    for _ in 0..n {
        // A site holds at most MAX_PEOPLE (the scenario is checked), so
        // this u32 sum cannot wrap; u32 keeps the simulation's draws as
        // they were.
        let left: u32 = pool.iter().map(|(_, k)| k).sum();
        if left == 0 {
            break;
        }
        let mut pick = rng.gen_range(0..left);
        for (g, k) in pool.iter_mut() {
            if pick < *k {
                *k -= 1;
                *counts.entry(g.clone()).or_default() += 1;
                break;
            }
            pick -= *k;
        }
    }
    counts
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

/// Runs the whole operation (see the module doc).
pub fn simulate(sc: &Scenario, router: &Router) -> Result<Outcome, SimError> {
    let mut op = Operation::build(sc, router)?;
    let epoch = op.epoch;
    let mut rng = StdRng::seed_from_u64(sc.scenario.seed ^ 0x5EED);
    let mut out: Vec<(DateTime<Utc>, u64, Event)> = Vec::new();
    let mut seq = 0u64;
    let mut emit = |out: &mut Vec<(DateTime<Utc>, u64, Event)>, e: Event| {
        seq += 1;
        out.push((e.time, seq, e));
    };
    let hq = |id: String, t: DateTime<Utc>, body: Body| Event::new(id, t, "hq", body);
    let t0 = epoch;
    let corridor_ids: Vec<String> = op.corridors.iter().map(|c| c.id.clone()).collect();
    let cid = |c: usize| corridor_ids[c].clone();

    // Declarations.
    let bytes = corridor_geo::netfile::to_bytes(router.prepared());
    emit(&mut out, declare::operation(sc, declare::map_ref(sc, router.prepared(), &bytes), t0));
    emit(&mut out, declare::groups(t0));
    for e in declare::sites(sc, t0) {
        emit(&mut out, e);
    }
    for c in 0..sc.corridors.len() {
        emit(&mut out, declare::corridor(sc, c, &op.corridors[c].checkpoints, t0));
    }
    for e in declare::vehicles(sc, t0) {
        emit(&mut out, e);
    }

    // The disruptions, in time order (an agreement before an incident at the same instant).
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

    // State.
    let n_corr = op.corridors.len();
    let mut halted = vec![false; n_corr];
    let mut halted_until: Vec<Option<String>> = vec![None; n_corr];
    let mut agreements_made: Vec<String> = Vec::new();
    let mut links: Vec<(usize, usize)> = Vec::new(); // (corridor, site whose evacuation it depends on)
    let mut fleet: Vec<VehicleState> = op
        .depot
        .iter()
        .zip(&op.vehicles)
        .map(|(&d, v)| VehicleState {
            class: v.class,
            at: d,
            ready_ms: 0,
        })
        .collect();
    let mut alive = vec![true; fleet.len()];
    let mut server_free: HashMap<usize, u64> = HashMap::new();
    let mut convoy_no = 0usize;
    let mut plans = Vec::new();
    let mut now_ms = 0u64;
    let mut vehicles_lost = 0usize;
    let mut halt_log: Vec<(usize, u64, Option<u64>)> = Vec::new();

    let declare_windows = |out: &mut Vec<(DateTime<Utc>, u64, Event)>,
                           emit: &mut dyn FnMut(&mut Vec<(DateTime<Utc>, u64, Event)>, Event),
                           agreement: Option<&str>,
                           at: DateTime<Utc>| {
        for w in sc.windows.iter().map(|w| w.get_ref()).filter(|w| w.agreement.as_deref() == agreement) {
            emit(out, declare::window(w, at));
        }
    };
    declare_windows(&mut out, &mut emit, None, t0);

    let known_windows = |made: &[String]| -> Vec<(usize, u64, u64)> {
        let mut v = Vec::new();
        for w in sc.windows.iter().map(|w| w.get_ref()) {
            if w.agreement.as_ref().is_none_or(|a| made.contains(a)) {
                for c in &w.corridors {
                    let ci = sc.corridors.iter().position(|x| &x.get_ref().id == c).expect("checked");
                    v.push((ci, ms(w.start, epoch), ms(w.end, epoch)));
                }
            }
        }
        v
    };

    let mut next = 0usize;
    let mut why = "initial plan".to_string();
    loop {
        let until = disruptions.get(next).map_or(u64::MAX, |d| ms(d.time, epoch));
        let windows = known_windows(&agreements_made);
        let net = op.network(&windows, &halted);
        let (the_plan, report) = plan_now(&op, sc, &net, &fleet, &alive, now_ms, &why)?;
        plans.push(report);

        // Run the plan until the next disruption.
        let outcome = run_plan(
            &mut op,
            &the_plan,
            &net,
            now_ms,
            until,
            &mut fleet,
            &alive,
            &mut server_free,
            &mut convoy_no,
            &mut rng,
            sc,
        );
        for e in outcome.events {
            emit(&mut out, e);
        }
        // Trips cut off by the disruption: loads wait again, vehicles turn back.
        if next >= disruptions.len() {
            break;
        }
        let d = disruptions[next].clone();
        next += 1;
        now_ms = until;
        let at = d.time;
        let mut destroyed = Vec::new();
        match d.kind {
            DKind::Incident(i) => {
                let x = sc.incidents[i].get_ref();
                let c = op.corridors.iter().position(|b| b.id == x.corridor).expect("checked");
                if x.kind == IncidentKindSpec::Attack {
                    let mut on_road: Vec<&OnRoad> = outcome.on_road.iter().filter(|r| r.corridor == c).collect();
                    on_road.sort_by_key(|r| (r.convoy.clone(), r.vehicle));
                    for r in on_road {
                        if destroyed.len() as u32 >= x.vehicles {
                            break;
                        }
                        if x.vehicle_kind.is_some_and(|k| k != op.vehicles[r.vehicle].kind) {
                            continue;
                        }
                        alive[r.vehicle] = false;
                        destroyed.push(r.vehicle);
                    }
                    vehicles_lost += destroyed.len();
                }
                let convoy = outcome
                    .on_road
                    .iter()
                    .find(|r| r.corridor == c && destroyed.contains(&r.vehicle))
                    .map(|r| r.convoy.clone());
                let kind = if x.kind == IncidentKindSpec::Attack {
                    IncidentKind::Attack
                } else {
                    IncidentKind::Halt
                };
                emit(
                    &mut out,
                    hq(
                        format!("incident-{}", x.id),
                        at,
                        Body::Incident(Incident {
                            incident: x.id.clone(),
                            kind,
                            corridor: Some(x.corridor.clone()),
                            convoy,
                            site: None,
                            vehicles: destroyed.iter().map(|&v| op.vehicles[v].id.clone()).collect(),
                            killed: x.killed,
                            description: x.description.clone(),
                        }),
                    ),
                );
                let mut to_halt = vec![c];
                // A corridor linked to this corridor's site halts with it,
                // while that site still has people to evacuate.
                let site_left = op.pools.iter().any(|p| p.site == op.corridors[c].from && !p.loads.is_empty());
                for &(lc, site) in &links {
                    if op.corridors[c].from == site && site_left && !to_halt.contains(&lc) && !halted[lc] {
                        to_halt.push(lc);
                        let (what, whose) = (cid(lc), sc.sites[site].get_ref().id.clone());
                        emit(
                            &mut out,
                            hq(
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
                            ),
                        );
                    }
                }
                for h in to_halt {
                    if !halted[h] {
                        halt_log.push((h, until, None));
                        halted[h] = true;
                        halted_until[h] = x.until_agreement.clone();
                        emit(
                            &mut out,
                            hq(
                                format!("halt-{}-{}", cid(h), x.id),
                                at,
                                Body::CorridorClosed(CorridorRef {
                                    corridor: cid(h),
                                    reason: format!("halted: {}", x.id),
                                }),
                            ),
                        );
                    }
                }
                why = format!("after {} ({:?})", x.id, x.kind).to_lowercase();
            }
            DKind::Agreement(i) => {
                let a = sc.agreements[i].get_ref();
                agreements_made.push(a.id.clone());
                emit(&mut out, declare::agreement(sc, i));
                declare_windows(&mut out, &mut emit, Some(&a.id), at);
                if let (Some(c), Some(s)) = (&a.corridor, &a.while_site) {
                    let ci = op.corridors.iter().position(|b| &b.id == c).expect("checked");
                    let si = sc.sites.iter().position(|x| &x.get_ref().id == s).expect("checked");
                    links.push((ci, si));
                }
                for h in 0..n_corr {
                    if halted[h] && halted_until[h].as_deref() == Some(a.id.as_str()) {
                        if let Some(l) = halt_log.iter_mut().rev().find(|l| l.0 == h && l.2.is_none()) {
                            l.2 = Some(until);
                        }
                        halted[h] = false;
                        halted_until[h] = None;
                        emit(
                            &mut out,
                            hq(
                                format!("resumed-{}-{}", cid(h), a.id),
                                at,
                                Body::Incident(Incident {
                                    incident: format!("resumed-{}-{}", cid(h), a.id),
                                    kind: IncidentKind::Resumed,
                                    corridor: Some(cid(h)),
                                    convoy: None,
                                    site: None,
                                    vehicles: vec![],
                                    killed: 0,
                                    description: format!("corridor {} resumes under {}", cid(h), a.id),
                                }),
                            ),
                        );
                    }
                }
                why = format!("after {}", a.id);
            }
        }
        // The vehicles cut off on their way that the disruption did not
        // destroy turn back, recorded after it so that no vehicle is both
        // lost and turning back.
        let mut back: BTreeMap<&str, (usize, u32)> = BTreeMap::new();
        for r in outcome.on_road.iter().filter(|r| !destroyed.contains(&r.vehicle)) {
            let e = back.entry(r.convoy.as_str()).or_insert((r.corridor, 0));
            e.1 += 1;
        }
        for (id, (c, n)) in back {
            emit(
                &mut out,
                hq(
                    format!("turned-back-{id}"),
                    at,
                    Body::Incident(Incident {
                        incident: format!("turned-back-{id}"),
                        kind: IncidentKind::Halt,
                        corridor: Some(cid(c)),
                        convoy: Some(id.to_string()),
                        site: None,
                        vehicles: vec![],
                        killed: 0,
                        description: format!("{n} vehicles of {id} not yet counted in turn back: the corridor was halted"),
                    }),
                ),
            );
        }
    }
    // The corridors open and close at their windows' edges, except while halted.
    for (c, s, e) in known_windows(&agreements_made) {
        let halted_at = |t: u64| halt_log.iter().any(|&(h, from, to)| h == c && from <= t && to.is_none_or(|to| t < to));
        let w = sc
            .windows
            .iter()
            .map(|w| w.get_ref())
            .find(|w| ms(w.start, epoch) == s && ms(w.end, epoch) == e)
            .map_or("window".to_string(), |w| w.id.clone());
        let mut edge = |out: &mut Vec<(DateTime<Utc>, u64, Event)>, id: String, at: u64, open: bool, reason: String| {
            let r = CorridorRef { corridor: cid(c), reason };
            emit(out, hq(id, epoch + Duration::milliseconds(at as i64), if open { Body::CorridorOpened(r) } else { Body::CorridorClosed(r) }));
        };
        if !halted_at(s) {
            edge(&mut out, format!("open-{}-{w}", cid(c)), s, true, format!("truce window {w}"));
        }
        if !halted_at(e) {
            edge(&mut out, format!("close-{}-{w}", cid(c)), e, false, format!("truce window {w} ends"));
        }
        for (k, &(h, _, to)) in halt_log.iter().enumerate() {
            if let Some(to) = to.filter(|&to| h == c && s < to && to < e) {
                edge(&mut out, format!("reopen-{}-{w}-{k}", cid(c)), to, true, format!("resumed in truce window {w}"));
            }
        }
    }
    for e in crate::aftermath::events(sc) {
        emit(&mut out, e);
    }
    out.sort_by_key(|(t, s, _)| (*t, *s));
    let stranded = op
        .pools
        .iter()
        .filter(|p| !p.loads.is_empty())
        .fold(BTreeMap::new(), |mut m: BTreeMap<String, u64>, p| {
            *m.entry(sc.sites[p.site].get_ref().id.clone()).or_default() += p.loads.iter().map(|l| corridor_model::people(&l.counts)).sum::<u64>();
            m
        });
    if !stranded.is_empty() {
        let who: Vec<String> = stranded.iter().map(|(s, n)| format!("{n} people at {s}")).collect();
        let why = plans
            .iter()
            .rev()
            .find_map(|p| p.short.clone())
            .unwrap_or_else(|| "no vehicle can reach them".into());
        return Err(SimError::Infeasible(format!("{} cannot be carried out: {why}", who.join(" and "))));
    }
    Ok(Outcome {
        events: out.into_iter().map(|(_, _, e)| e).collect(),
        plans,
        vehicles_lost,
    })
}

/// Plans from the state at `now_ms`: the loads left, the fleet where it is
/// (lost vehicles excluded), the gates of `net`; with its report.
#[allow(clippy::too_many_arguments)]
fn plan_now(
    op: &Operation,
    sc: &Scenario,
    net: &FlowNet,
    fleet: &[VehicleState],
    alive: &[bool],
    now_ms: u64,
    why: &str,
) -> Result<(Plan, PlanReport), SimError> {
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

/// A vehicle on its way along a corridor's road, not yet counted in, when
/// its trip was cut off: it turns back unless the disruption destroys it.
struct OnRoad {
    vehicle: usize,
    corridor: usize,
    convoy: String,
}

struct Ran {
    events: Vec<Event>,
    /// Vehicles on a corridor's road (empty or loaded) at the cut-off.
    on_road: Vec<OnRoad>,
}

/// A plan's trips in departure order, the corridor of each, and the
/// convoys they form: per corridor, trips counted in within
/// `convoy_minutes` of the convoy's first, at most `convoy_size`, each
/// vehicle once.
struct Convoys<'p> {
    trips: Vec<&'p crate::Trip>,
    corridor: Vec<usize>,
    convoys: Vec<(usize, Vec<usize>)>,
    convoy_of: Vec<usize>,
}

fn group_convoys<'p>(op: &Operation, net: &FlowNet, plan: &'p Plan, sc: &Scenario) -> Convoys<'p> {
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
fn just_in_time(net: &FlowNet, t: &crate::Trip) -> u64 {
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
    let op = Operation::build(sc, router)?;
    let windows: Vec<(usize, u64, u64)> = sc
        .windows
        .iter()
        .map(|w| w.get_ref())
        .filter(|w| w.agreement.is_none())
        .flat_map(|w| {
            w.corridors.iter().map(|c| {
                let ci = op.corridors.iter().position(|x| &x.id == c).expect("checked by the scenario");
                (ci, ms(w.start, op.epoch), ms(w.end, op.epoch))
            })
        })
        .collect();
    let net = op.network(&windows, &vec![false; op.corridors.len()]);
    let fleet: Vec<VehicleState> = op.depot.iter().zip(&op.vehicles).map(|(&d, v)| VehicleState { class: v.class, at: d, ready_ms: 0 }).collect();
    let (the_plan, report) = plan_now(&op, sc, &net, &fleet, &vec![true; fleet.len()], 0, "plan at the start")?;
    let Convoys { trips, convoys, .. } = group_convoys(&op, &net, &the_plan, sc);
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

/// Runs `plan`'s trips from `now` until `until` (see the module doc): a
/// discrete-event simulation in which each vehicle drives its planned trips
/// in order and every checkpoint serves vehicles first come, first served.
#[allow(clippy::too_many_arguments)]
fn run_plan(
    op: &mut Operation,
    plan: &Plan,
    net: &FlowNet,
    now: u64,
    until: u64,
    fleet: &mut [VehicleState],
    alive: &[bool],
    server_free: &mut HashMap<usize, u64>,
    convoy_no: &mut usize,
    rng: &mut StdRng,
    sc: &Scenario,
) -> Ran {
    use std::cmp::Reverse;
    let epoch = op.epoch;
    let at = |t: u64| epoch + Duration::milliseconds(t as i64);
    let Convoys { trips, corridor, convoys, convoy_of } = group_convoys(op, net, plan, sc);
    // A convoy leaves together: when its first member must leave to be
    // counted in on time (the others then queue at the entry).
    let just_in_time = |t: &crate::Trip| {
        t.legs[1]
            .1
            .saturating_sub(u64::from(net.transit_ms[t.legs[0].0 as usize]) + (t.depart_ms - t.approach_ms))
    };
    let convoy_start: Vec<u64> = convoys
        .iter()
        .map(|(_, m)| m.iter().map(|&i| just_in_time(trips[i])).min().unwrap_or(0))
        .collect();
    // Each vehicle's trips, in order.
    let mut queue: HashMap<usize, std::collections::VecDeque<usize>> = HashMap::new();
    for (i, t) in trips.iter().enumerate() {
        queue.entry(t.vehicle.expect("the simulator plans with a fleet")).or_default().push_back(i);
    }
    #[derive(PartialEq, Eq, PartialOrd, Ord)]
    enum Step {
        Start(usize),
        Checkpoint(usize, usize),
    }
    let mut heap: std::collections::BinaryHeap<Reverse<(u64, u64, Step)>> = std::collections::BinaryHeap::new();
    let mut seq = 0u64;
    let mut vehicles: Vec<usize> = queue.keys().copied().filter(|&v| alive[v]).collect();
    vehicles.sort_unstable();
    for v in vehicles {
        seq += 1;
        heap.push(Reverse((fleet[v].ready_ms.max(now), seq, Step::Start(v))));
    }
    let mut started: Vec<Option<u64>> = vec![None; trips.len()];
    let mut passages: Vec<Vec<u64>> = vec![Vec::new(); trips.len()];
    let mut arrived: Vec<Option<u64>> = vec![None; trips.len()];
    let mut current: HashMap<usize, usize> = HashMap::new();
    let mut on_road = Vec::new();
    let j = |rng: &mut StdRng, ms: u64, lo: f64, hi: f64| (ms as f64 * rng.gen_range(lo..hi)) as u64;
    while let Some(Reverse((t, _, step))) = heap.pop() {
        match step {
            Step::Start(v) => {
                let Some(i) = queue.get_mut(&v).and_then(|q| q.pop_front()) else { continue };
                let trip = trips[i];
                let src = &op.pools[trip.source];
                let site = op.site_node[src.site];
                let board = u64::from(sc.sites[src.site].get_ref().board_minutes) * 60_000;
                let move_ms = if fleet[v].at == site {
                    0
                } else {
                    op.reposition_ms.get(&(fleet[v].at, site)).copied().unwrap_or(0)
                };
                // Leave just in time for the planned count-in (nobody waits
                // in a bus overnight at the entry).
                let approach_ms = u64::from(net.transit_ms[trip.legs[0].0 as usize]);
                let planned_in = trip.legs[1].1;
                let approach_start = trip
                    .approach_ms
                    .max(t)
                    .max(convoy_start[convoy_of[i]].min(planned_in.saturating_sub(approach_ms + board + move_ms)));
                let depart = approach_start + j(rng, move_ms, 0.97, 1.08) + j(rng, board, 0.9, 1.15);
                let reach = depart + j(rng, approach_ms, 0.97, 1.08);
                if planned_in >= until {
                    // Not counted in before the cut-off: cancelled; if already
                    // on its way, it turns back.
                    if approach_start < until {
                        started[i] = Some(approach_start);
                        on_road.push(OnRoad {
                            vehicle: v,
                            corridor: corridor[i],
                            convoy: format!("convoy-{:03}", *convoy_no + convoy_of[i] + 1),
                        });
                        fleet[v].ready_ms = until + (until - approach_start);
                    }
                    queue.remove(&v);
                    continue;
                }
                started[i] = Some(approach_start);
                current.insert(v, i);
                seq += 1;
                heap.push(Reverse((reach, seq, Step::Checkpoint(v, 0))));
            }
            Step::Checkpoint(v, k) => {
                let i = current[&v];
                let c = &op.corridors[corridor[i]];
                let arc = c.counts[k];
                let headway = 3_600_000 / u64::from(c.vph[k].max(1));
                let mut start = t.max(server_free.get(&arc).copied().unwrap_or(0));
                if k == 0 {
                    start = net.next_open(net_arc(net, op, arc), start).unwrap_or(u64::MAX);
                    if start >= until {
                        // The queue at the entry outlasted the cut-off: it turns back.
                        let began = started[i].unwrap_or(t);
                        on_road.push(OnRoad {
                            vehicle: v,
                            corridor: corridor[i],
                            convoy: format!("convoy-{:03}", *convoy_no + convoy_of[i] + 1),
                        });
                        fleet[v].ready_ms = until.max(t) + (t - began);
                        queue.remove(&v);
                        continue;
                    }
                }
                server_free.insert(arc, start + headway);
                let done = start + j(rng, c.count_ms[k], 0.8, 1.2);
                passages[i].push(done);
                let next = done + j(rng, u64::from(net.transit_ms[net_arc(net, op, arc + 1)]), 0.97, 1.08);
                seq += 1;
                if k + 1 < c.counts.len() {
                    heap.push(Reverse((next, seq, Step::Checkpoint(v, k + 1))));
                } else {
                    arrived[i] = Some(next);
                    fleet[v].at = op.site_node[c.to];
                    fleet[v].ready_ms = next + u64::from(sc.scenario.unload_minutes) * 60_000;
                    heap.push(Reverse((fleet[v].ready_ms, seq, Step::Start(v))));
                }
            }
        }
    }
    // Events, convoy by convoy.
    let mut events = Vec::new();
    for (k, (c, members)) in convoys.iter().enumerate() {
        let left: Vec<usize> = members.iter().copied().filter(|&i| started[i].is_some()).collect();
        if left.is_empty() {
            continue;
        }
        let bc = &op.corridors[*c];
        let id = format!("convoy-{:03}", *convoy_no + k + 1);
        let dispatched = left.iter().filter_map(|&i| started[i]).min().expect("started").max(now);
        events.push(Event::new(
            format!("dispatch-{id}"),
            at(dispatched),
            "hq",
            Body::ConvoyDispatched(Convoy {
                convoy: id.clone(),
                corridor: bc.id.clone(),
                vehicles: left.iter().map(|&i| op.vehicles[trips[i].vehicle.expect("fleet")].id.clone()).collect(),
            }),
        ));
        let mut last = None;
        for &i in &left {
            if passages[i].is_empty() {
                continue;
            }
            let vid = op.vehicles[trips[i].vehicle.expect("fleet")].id.clone();
            let load = op.pools[trips[i].source]
                .loads
                .pop_front()
                .expect("the plan sends no more loads than the pool has");
            for (cp, &t) in bc.checkpoints.iter().zip(&passages[i]) {
                events.push(Event::new(
                    format!("passage-{id}-{vid}-{}", cp.0),
                    at(t),
                    cp.0.clone(),
                    Body::Passage(Passage {
                        vehicle: vid.clone(),
                        convoy: id.clone(),
                        corridor: bc.id.clone(),
                        checkpoint: cp.0.clone(),
                        counts: load.counts.clone(),
                        wounded: load.wounded,
                    }),
                ));
            }
            last = last.max(arrived[i]);
        }
        if let Some(last) = last {
            events.push(Event::new(
                format!("arrived-{id}"),
                at(last),
                "hq",
                Body::ConvoyArrived(ConvoyArrived {
                    convoy: id.clone(),
                    site: sc.sites[bc.to].get_ref().id.clone(),
                }),
            ));
        }
    }
    *convoy_no += convoys.len();
    Ran { events, on_road }
}

/// The FlowNet index of the builder's arc `spec` (the CSR sorts arcs by
/// tail and head, which are unique per arc here).
fn net_arc(net: &FlowNet, op: &Operation, spec: usize) -> usize {
    let a = &op.net_arcs[spec];
    net.arcs_of(a.tail).find(|&x| net.head[x] == a.head).expect("every built arc is in the network")
}
