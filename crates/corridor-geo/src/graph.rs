//! The road graph: nodes with positions, directed arcs in compressed sparse
//! row order with length, travel time, capacity, class and street name.
//!
//! Every node of every usable way is a graph node (shape points included),
//! so an arc is a straight segment and a route's geometry is its nodes.

use std::collections::HashMap;

use crate::profile::{way_rule, Profile, RoadClass, Tags};
use crate::turns::{split_turns, Restriction, TurnRule};
use crate::GeoError;

/// Mean Earth radius (IUGG), metres.
pub const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// Great-circle distance in metres between two `(lat, lon)` in degrees.
pub fn haversine_m(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = p2 - p1;
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_M * a.sqrt().asin()
}

/// What an import read and what it kept.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImportStats {
    /// Ways (or LineStrings) read that carry a `highway` tag.
    pub highway_ways: u64,
    /// Of those, the ways a convoy may use.
    pub usable_ways: u64,
    /// Way nodes whose position the file did not hold (clipped extracts).
    pub missing_nodes: u64,
    pub nodes_before: u64,
    pub arcs_before: u64,
    pub km_before: f64,
    /// After keeping the largest strongly connected component.
    pub nodes: u64,
    pub arcs: u64,
    pub km: f64,
    /// Turn restriction relations read (`type=restriction`, `restriction:*`).
    pub restrictions: u64,
    /// Of those, the ones built into the network.
    pub restrictions_applied: u64,
    /// Not for this vehicle: `except=` names it, or another mode's tag.
    pub restrictions_not_for_vehicle: u64,
    /// Time-conditional only (`restriction:conditional`): not applied.
    pub restrictions_conditional: u64,
    /// Via-way restrictions: not supported, not applied.
    pub restrictions_via_way: u64,
    /// On roads not in this vehicle's network (its ways unusable, not in
    /// the extract, outside the largest component, or one-way so that the
    /// turn cannot be taken anyway).
    pub restrictions_off_network: u64,
    /// Broken relations (missing members, a via node not at the end of its
    /// ways, an unknown value): not applied.
    pub restrictions_broken: u64,
    /// A few broken relations, `relation ID: why`.
    pub broken_restrictions: Vec<String>,
    /// Junction copies and arcs the restrictions added ([`crate::turns`]).
    pub turn_nodes: u64,
    pub turn_arcs: u64,
}

/// How many broken restriction relations an import names.
pub const BROKEN_NAMED: usize = 10;

impl ImportStats {
    /// Counts a broken restriction relation, naming the first few.
    pub fn note_broken(&mut self, relation: i64, why: &str) {
        self.restrictions_broken += 1;
        if self.broken_restrictions.len() < BROKEN_NAMED {
            self.broken_restrictions.push(format!("relation {relation}: {why}"));
        }
    }
    pub fn dropped_nodes(&self) -> u64 {
        self.nodes_before - self.nodes
    }
    pub fn dropped_share(&self) -> f64 {
        if self.nodes_before == 0 { 0.0 } else { self.dropped_nodes() as f64 / self.nodes_before as f64 }
    }
}

/// Where a network came from, shown wherever it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NetworkMeta {
    /// The file or generator it was built from.
    pub source: String,
    /// The data's attribution (e.g. "© OpenStreetMap contributors").
    pub attribution: String,
    /// True for a derived, coarse network (e.g. one derived from district polygons, not surveyed streets).
    pub approximate: bool,
    /// The vehicle whose rules chose the roads, speeds and directions.
    pub profile: Profile,
    pub stats: ImportStats,
}

/// A directed road graph (CSR: arcs of node `v` are `first_out[v]..first_out[v+1]`).
#[derive(Debug, Clone, PartialEq)]
pub struct RoadNetwork {
    pub lat: Vec<f64>,
    pub lon: Vec<f64>,
    pub first_out: Vec<u32>,
    pub tail: Vec<u32>,
    pub head: Vec<u32>,
    /// Travel time, milliseconds (at least 1).
    pub time_ms: Vec<u32>,
    pub length_m: Vec<f32>,
    /// Vehicles (passenger-car units) per hour.
    pub capacity_vph: Vec<u32>,
    /// [`RoadClass`] as `u8`.
    pub class: Vec<u8>,
    /// True where the arc is open only to a route that starts or ends on
    /// it (`access=destination`): a route may drive such arcs only from its
    /// start and up to its end, never between two open roads.
    pub destination: Vec<bool>,
    /// Index into `names` (0 = no name).
    pub name: Vec<u32>,
    pub names: Vec<String>,
    /// The junction each node belongs to: itself, or for a copy made for a
    /// turn restriction ([`crate::turns`]) the junction it copies (same
    /// position). Snapping and geometry see junctions.
    pub junction: Vec<u32>,
    pub meta: NetworkMeta,
}

impl RoadNetwork {
    pub fn node_count(&self) -> usize {
        self.lat.len()
    }
    pub fn arc_count(&self) -> usize {
        self.head.len()
    }
    pub fn arcs_of(&self, v: u32) -> std::ops::Range<usize> {
        self.first_out[v as usize] as usize..self.first_out[v as usize + 1] as usize
    }
    pub fn class_of(&self, arc: usize) -> RoadClass {
        RoadClass::from_u8(self.class[arc]).unwrap_or(RoadClass::Road)
    }
    pub fn name_of(&self, arc: usize) -> &str {
        &self.names[self.name[arc] as usize]
    }
    /// Arc weights for routing through: the travel time, [`cch::INF_WEIGHT`]
    /// on `destination` arcs (driven only at a route's ends, see
    /// [`crate::router`]).
    pub fn through_weights(&self) -> Vec<u32> {
        self.time_ms.iter().zip(&self.destination).map(|(&t, &d)| if d { cch::INF_WEIGHT } else { t }).collect()
    }

    /// The arc with the least time among those allowed from node `u` to
    /// any node of junction `v` (see [`Self::junction`]): the segment
    /// `u`–`v` driven from `u`.
    pub fn segment_arc(&self, u: u32, v: u32, allowed: impl Fn(usize) -> bool) -> Option<usize> {
        self.arcs_of(u).filter(|&a| self.junction[self.head[a] as usize] == v && allowed(a)).min_by_key(|&a| self.time_ms[a])
    }

    /// The arc `u → v` with the least time among those allowed, if any.
    pub fn best_arc(&self, u: u32, v: u32, allowed: impl Fn(usize) -> bool) -> Option<usize> {
        self.arcs_of(u).filter(|&a| self.head[a] == v && allowed(a)).min_by_key(|&a| self.time_ms[a])
    }
}

struct RawArc {
    /// The OSM way (0 for none).
    way: i64,
    tail: u32,
    head: u32,
    time_ms: u32,
    length_m: f32,
    capacity: u32,
    class: u8,
    name: u32,
    destination: bool,
}

/// Collects usable ways and turns them into a [`RoadNetwork`].
pub struct NetworkBuilder {
    ids: HashMap<i64, u32>,
    lat: Vec<f64>,
    lon: Vec<f64>,
    arcs: Vec<RawArc>,
    names: HashMap<String, u32>,
    name_list: Vec<String>,
    stats: ImportStats,
    profile: Profile,
    restrictions: Vec<Restriction>,
}

impl Default for NetworkBuilder {
    fn default() -> Self {
        NetworkBuilder {
            ids: HashMap::new(),
            lat: Vec::new(),
            lon: Vec::new(),
            arcs: Vec::new(),
            names: HashMap::new(),
            name_list: vec![String::new()],
            stats: ImportStats::default(),
            profile: Profile::default(),
            restrictions: Vec::new(),
        }
    }
}

impl NetworkBuilder {
    /// A builder for the car profile.
    pub fn new() -> Self {
        Self::default()
    }

    /// A builder whose ways follow `profile`'s rules.
    pub fn for_profile(profile: Profile) -> Self {
        NetworkBuilder { profile, ..Self::default() }
    }

    pub fn profile(&self) -> Profile {
        self.profile
    }

    /// The counts an importer keeps as it reads (ways read, usable, nodes
    /// missing); `finish` adds the rest.
    pub fn stats_mut(&mut self) -> &mut ImportStats {
        &mut self.stats
    }

    /// Adds a way: its nodes as `(key, lat, lon)` (a key joins ways that
    /// share a node) and its tags. `detour_factor` (≥ 1) stretches the
    /// straight-line length of a coarse, derived geometry. Returns whether
    /// the builder's profile may use it.
    pub fn add_way(&mut self, nodes: &[(i64, f64, f64)], tags: &(impl Tags + ?Sized), detour_factor: f64) -> bool {
        self.add_osm_way(0, nodes, tags, detour_factor)
    }

    /// As [`Self::add_way`], for OSM way `way` (turn restrictions name it).
    pub fn add_osm_way(&mut self, way: i64, nodes: &[(i64, f64, f64)], tags: &(impl Tags + ?Sized), detour_factor: f64) -> bool {
        let Some(rule) = way_rule(self.profile, tags) else { return false };
        let name = match tags.get("name").filter(|n| !n.is_empty()).or(tags.get("ref")) {
            None => 0,
            Some(n) => match self.names.get(n) {
                Some(&i) => i,
                None => {
                    let i = self.name_list.len() as u32;
                    self.name_list.push(n.to_string());
                    self.names.insert(n.to_string(), i);
                    i
                }
            },
        };
        let speed_ms = rule.speed_kmh / 3.6;
        let factor = if detour_factor.is_finite() && detour_factor >= 1.0 { detour_factor } else { 1.0 };
        let mut prev: Option<u32> = None;
        for &(key, lat, lon) in nodes {
            let v = self.node(key, lat, lon);
            if let Some(u) = prev.filter(|&u| u != v) {
                let (ui, vi) = (u as usize, v as usize);
                let len = haversine_m(self.lat[ui], self.lon[ui], self.lat[vi], self.lon[vi]) * factor;
                let time_ms = ((len / speed_ms) * 1000.0).round().max(1.0) as u32;
                let mut push = |tail, head, capacity, destination| {
                    self.arcs.push(RawArc { way, tail, head, time_ms, length_m: len as f32, capacity, class: rule.class as u8, name, destination })
                };
                if rule.forward {
                    push(u, v, rule.capacity_forward, rule.destination_forward);
                }
                if rule.backward {
                    push(v, u, rule.capacity_backward, rule.destination_backward);
                }
            }
            prev = Some(v);
        }
        true
    }

    fn node(&mut self, key: i64, lat: f64, lon: f64) -> u32 {
        *self.ids.entry(key).or_insert_with(|| {
            self.lat.push(lat);
            self.lon.push(lon);
            (self.lat.len() - 1) as u32
        })
    }

    /// A turn restriction to build in at [`Self::finish`] (its ways and
    /// via node by OSM id, as given to [`Self::add_osm_way`]).
    pub fn add_restriction(&mut self, r: Restriction) {
        self.restrictions.push(r);
    }

    /// Keeps the largest strongly connected component, builds the CSR
    /// graph and builds the turn restrictions into it ([`crate::turns`]).
    pub fn finish(self, meta: NetworkMeta) -> Result<RoadNetwork, GeoError> {
        let (net, rules) = self.finish_parts(meta)?;
        Ok(split_turns(net, &rules))
    }

    /// As [`Self::finish`] without building the restrictions in: one node
    /// per junction, and the turns the restrictions govern (the network a
    /// turn-aware search runs on, e.g. a test's oracle).
    pub fn finish_parts(mut self, mut meta: NetworkMeta) -> Result<(RoadNetwork, Vec<TurnRule>), GeoError> {
        let n = self.lat.len();
        if self.arcs.is_empty() {
            return Err(GeoError::Empty { source_name: meta.source.clone(), ways: self.stats.highway_ways });
        }
        self.stats.nodes_before = n as u64;
        self.stats.arcs_before = self.arcs.len() as u64;
        self.stats.km_before = road_km(&self.arcs);

        // CSR over all nodes, for the component search.
        let (first, order) = csr(n, &self.arcs);
        let heads: Vec<u32> = order.iter().map(|&i| self.arcs[i].head).collect();
        let comp = largest_scc(n, &first, &heads);

        let mut new_id = vec![u32::MAX; n];
        let (mut lat, mut lon) = (Vec::new(), Vec::new());
        for v in 0..n {
            if comp[v] {
                new_id[v] = lat.len() as u32;
                lat.push(self.lat[v]);
                lon.push(self.lon[v]);
            }
        }
        let kept: Vec<RawArc> = self
            .arcs
            .into_iter()
            .filter(|a| comp[a.tail as usize] && comp[a.head as usize])
            .map(|a| RawArc { tail: new_id[a.tail as usize], head: new_id[a.head as usize], ..a })
            .collect();
        if kept.is_empty() {
            // The largest strongly connected component is one junction.
            return Err(GeoError::NotConnected { source_name: meta.source.clone(), segments: self.stats.arcs_before });
        }
        let (first_out, order) = csr(lat.len(), &kept);
        let pick = |f: &dyn Fn(&RawArc) -> u32| order.iter().map(|&i| f(&kept[i])).collect::<Vec<u32>>();
        self.stats.nodes = lat.len() as u64;
        self.stats.arcs = kept.len() as u64;
        self.stats.km = road_km(&kept);

        // The turns each restriction governs: its from ways' arcs into the
        // via node, its to ways' arcs out of it.
        let mut rules = Vec::new();
        if !self.restrictions.is_empty() {
            let named: std::collections::HashSet<i64> = self.restrictions.iter().flat_map(|r| r.from.iter().chain(&r.to).copied()).collect();
            let mut arcs_of_way: HashMap<i64, Vec<u32>> = HashMap::new();
            for (i, &k) in order.iter().enumerate() {
                if named.contains(&kept[k].way) {
                    arcs_of_way.entry(kept[k].way).or_default().push(i as u32);
                }
            }
            for r in &self.restrictions {
                let via = self.ids.get(&r.via).map_or(u32::MAX, |&v| new_id[v as usize]);
                let arcs = |ways: &[i64], end: &dyn Fn(usize) -> u32| -> Vec<u32> {
                    ways.iter().flat_map(|w| arcs_of_way.get(w).into_iter().flatten().copied()).filter(|&a| end(order[a as usize]) == via).collect()
                };
                let from = arcs(&r.from, &|k| kept[k].head);
                let to = arcs(&r.to, &|k| kept[k].tail);
                if via == u32::MAX || from.is_empty() || to.is_empty() {
                    self.stats.restrictions_off_network += 1;
                    continue;
                }
                self.stats.restrictions_applied += 1;
                for &f in &from {
                    for &t in &to {
                        rules.push(TurnRule { id: r.id, from: f, to: t, only: r.only });
                    }
                }
            }
        }
        meta.stats = self.stats;
        meta.profile = self.profile;
        let junction = (0..lat.len() as u32).collect();
        let net = RoadNetwork {
            first_out,
            tail: pick(&|a| a.tail),
            head: pick(&|a| a.head),
            time_ms: pick(&|a| a.time_ms),
            length_m: order.iter().map(|&i| kept[i].length_m).collect(),
            capacity_vph: pick(&|a| a.capacity),
            class: order.iter().map(|&i| kept[i].class).collect(),
            destination: order.iter().map(|&i| kept[i].destination).collect(),
            name: pick(&|a| a.name),
            names: self.name_list,
            lat,
            lon,
            junction,
            meta,
        };
        Ok((net, rules))
    }
}

/// Kilometres of road: each two-way street once.
fn road_km(arcs: &[RawArc]) -> f64 {
    let mut pairs: HashMap<(u32, u32), f32> = HashMap::new();
    for a in arcs {
        let key = (a.tail.min(a.head), a.tail.max(a.head));
        pairs.entry(key).or_insert(a.length_m);
    }
    pairs.values().map(|&m| f64::from(m)).sum::<f64>() / 1000.0
}

/// Counting sort of arcs by tail: the CSR offsets and the arc order.
fn csr(n: usize, arcs: &[RawArc]) -> (Vec<u32>, Vec<usize>) {
    let mut first = vec![0u32; n + 1];
    for a in arcs {
        first[a.tail as usize + 1] += 1;
    }
    for i in 0..n {
        first[i + 1] += first[i];
    }
    let mut next = first.clone();
    let mut order = vec![0usize; arcs.len()];
    for (i, a) in arcs.iter().enumerate() {
        let slot = &mut next[a.tail as usize];
        order[*slot as usize] = i;
        *slot += 1;
    }
    (first, order)
}

/// Marks the nodes of the largest strongly connected component (iterative
/// Tarjan, so a long road cannot overflow the stack).
pub fn largest_scc(n: usize, first_out: &[u32], head: &[u32]) -> Vec<bool> {
    const NONE: u32 = u32::MAX;
    let mut index = vec![NONE; n];
    let mut low = vec![0u32; n];
    let mut on_stack = vec![false; n];
    let mut stack: Vec<u32> = Vec::new();
    let mut comp_of = vec![NONE; n];
    let mut comp_sizes: Vec<u32> = Vec::new();
    let mut next_index = 0u32;
    // Call stack: (node, next arc to look at).
    let mut calls: Vec<(u32, u32)> = Vec::new();
    for root in 0..n as u32 {
        if index[root as usize] != NONE {
            continue;
        }
        calls.push((root, first_out[root as usize]));
        index[root as usize] = next_index;
        low[root as usize] = next_index;
        next_index += 1;
        stack.push(root);
        on_stack[root as usize] = true;
        while let Some(&mut (v, ref mut arc)) = calls.last_mut() {
            let end = first_out[v as usize + 1];
            if *arc < end {
                let w = head[*arc as usize];
                *arc += 1;
                if index[w as usize] == NONE {
                    index[w as usize] = next_index;
                    low[w as usize] = next_index;
                    next_index += 1;
                    stack.push(w);
                    on_stack[w as usize] = true;
                    calls.push((w, first_out[w as usize]));
                } else if on_stack[w as usize] {
                    low[v as usize] = low[v as usize].min(index[w as usize]);
                }
            } else {
                calls.pop();
                if let Some(&(parent, _)) = calls.last() {
                    low[parent as usize] = low[parent as usize].min(low[v as usize]);
                }
                if low[v as usize] == index[v as usize] {
                    let c = comp_sizes.len() as u32;
                    let mut size = 0;
                    loop {
                        let w = stack.pop().expect("Tarjan stack holds the component");
                        on_stack[w as usize] = false;
                        comp_of[w as usize] = c;
                        size += 1;
                        if w == v {
                            break;
                        }
                    }
                    comp_sizes.push(size);
                }
            }
        }
    }
    let best = comp_sizes.iter().enumerate().max_by_key(|&(i, &s)| (s, std::cmp::Reverse(i))).map(|(i, _)| i as u32);
    comp_of.iter().map(|&c| Some(c) == best).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn largest_component_is_kept_and_counted() {
        let mut b = NetworkBuilder::new();
        // A two-way square 1-2-3-4 and a one-way spur 4 -> 5 (5 is a dead end).
        let sq = [(1, 0.0, 0.0), (2, 0.0, 0.001), (3, 0.001, 0.001), (4, 0.001, 0.0), (1, 0.0, 0.0)];
        assert!(b.add_way(&sq, &t(&[("highway", "residential")]), 1.0));
        assert!(b.add_way(&[(4, 0.001, 0.0), (5, 0.002, 0.0)], &t(&[("highway", "residential"), ("oneway", "yes")]), 1.0));
        assert!(!b.add_way(&[(6, 0.0, 0.0), (7, 1.0, 1.0)], &t(&[("highway", "footway")]), 1.0));
        let net = b.finish(NetworkMeta::default()).unwrap();
        assert_eq!(net.node_count(), 4);
        assert_eq!(net.arc_count(), 8);
        assert_eq!(net.meta.stats.nodes_before, 5);
        assert_eq!(net.meta.stats.dropped_nodes(), 1);
        // ~111 m per side at the equator.
        assert!((net.meta.stats.km - 0.4448).abs() < 0.001, "{}", net.meta.stats.km);
        for v in 0..4u32 {
            for a in net.arcs_of(v) {
                assert_eq!(net.tail[a], v);
            }
        }
    }

    #[test]
    fn no_usable_road_is_an_error() {
        let mut b = NetworkBuilder::new();
        b.add_way(&[(1, 0.0, 0.0), (2, 0.0, 0.001)], &t(&[("highway", "footway")]), 1.0);
        let e = b.finish(NetworkMeta { source: "x.pbf".into(), ..Default::default() }).unwrap_err();
        assert!(e.to_string().contains("x.pbf"), "{e}");
    }

    #[test]
    fn scc_on_a_cycle_and_a_tail() {
        // 0 -> 1 -> 2 -> 0, 2 -> 3
        let first = [0, 1, 2, 4, 4];
        let head = [1, 2, 0, 3];
        assert_eq!(largest_scc(4, &first, &head), vec![true, true, true, false]);
    }
}
