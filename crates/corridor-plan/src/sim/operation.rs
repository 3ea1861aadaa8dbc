//! The scenario laid on its map: the planner's network (sites,
//! checkpoints, corridor legs) and the loads each site's people form.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use corridor_geo::{LatLon, Router};
use corridor_model::Counts;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::SimError;
use crate::declare;
use crate::net::{ArcSpec, FlowNet};
use crate::scenario::{Scenario, VehicleKindSpec};

pub(super) struct BuiltCorridor {
    pub(super) id: String,
    pub(super) from: usize,
    pub(super) to: usize,
    /// Arc index of the approach, each checkpoint's count, each leg, the exit road.
    pub(super) approach: usize,
    pub(super) counts: Vec<usize>,
    /// Checkpoint ids and names, entry first.
    pub(super) checkpoints: Vec<(String, String, LatLon)>,
    /// Free-flow ms from the start of counting in to the exit.
    pub(super) entry_to_exit_ms: u64,
    pub(super) vph: Vec<u32>,
    pub(super) count_ms: Vec<u64>,
}

/// A load: who rides one vehicle.
#[derive(Debug, Clone, PartialEq)]
pub struct Load {
    pub counts: Counts,
    pub wounded: u32,
}

pub(super) struct Pool {
    pub(super) site: usize,
    pub(super) class: usize,
    pub(super) family: u32,
    pub(super) loads: std::collections::VecDeque<Load>,
}

pub(super) struct VehicleInfo {
    pub(super) id: String,
    pub(super) class: usize,
    pub(super) kind: VehicleKindSpec,
}

/// The scenario on its map, ready to plan.
pub struct Operation<'s> {
    pub(super) sc: &'s Scenario,
    pub(super) net_arcs: Vec<ArcSpec>,
    pub(super) nodes: usize,
    pub(super) corridors: Vec<BuiltCorridor>,
    pub(super) site_node: Vec<u32>,
    pub(super) vehicles: Vec<VehicleInfo>,
    pub(super) depot: Vec<u32>,
    pub(super) reposition_ms: HashMap<(u32, u32), u64>,
    pub(super) pools: Vec<Pool>,
    pub(super) epoch: DateTime<Utc>,
}

pub(super) fn ms(d: DateTime<Utc>, epoch: DateTime<Utc>) -> u64 {
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
    pub(super) fn network(&self, windows: &[(usize, u64, u64)], halted: &[bool]) -> FlowNet {
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

/// The FlowNet index of the builder's arc `spec` (the CSR sorts arcs by
/// tail and head, which are unique per arc here).
pub(super) fn net_arc(net: &FlowNet, op: &Operation, spec: usize) -> usize {
    let a = &op.net_arcs[spec];
    net.arcs_of(a.tail).find(|&x| net.head[x] == a.head).expect("every built arc is in the network")
}
