//! Routing on a prepared network: snapping a position to the nearest
//! usable road (the packed R-tree of road segments computed at
//! preparation, [`crate::segindex`]), fastest routes and travel-time
//! tables on the CCH, hazard updates, and plain Dijkstra as the baseline
//! every fast answer is tested against.
//!
//! **Snapping rule**: a position snaps to the nearest point of the nearest
//! road segment (at equal distances, the segment named by the lower arc)
//! that is usable now (not closed by an active hazard) in the
//! network, which holds the largest strongly connected component only, so
//! every snapped point can reach every other one unless hazards cut it off.
//! The network holds only the roads its vehicle profile may use, so a point
//! never lands on a tunnel or a bridge closed to that vehicle. A route
//! considers every usable segment within [`SNAP_TIE_M`] of the nearest one
//! (at most [`MAX_SNAP_CANDIDATES`]) at each end, and the query chooses
//! among them: a near-tie (a point between a street and a one-way lane
//! beside it) no longer decides the route. The route starts and ends at the
//! snapped points, part-way along their segments, in whichever direction
//! the segment may be driven.
//!
//! **Destination roads** (`access=destination`, [`crate::graph::RoadNetwork::destination`])
//! weigh infinity in the metric, so no query passes through one; a start
//! (end) snapped onto one first searches the destination roads leading
//! from (to) it, and every node reached is a start (end) of the query, its
//! path prefixed (suffixed) to the route ([`Router::route_among`]).
//!
//! **Queries** walk the elimination tree upwards from the source's and the
//! target's snapped segment ends (the CCH elimination-tree query) with
//! state reused between queries ([`QueryState`]), then unpack shortcuts
//! back to road arcs through their middles, looked up
//! ([`crate::prepare::Middles`], computed at preparation and kept in the
//! prepared file) while no hazard is in force, searched among the
//! shortcut's lower triangles otherwise (the same path). Node-to-node
//! distances ([`Router::node_time`]) use the top-of-tree labels of
//! [`crate::labels`] once [`Router::refresh_labels`] has computed them
//! (the plain query, exact but slower, until then: a router is ready to
//! answer without them, and routes, tables and snapping never use them);
//! a hazard change marks the labels it can change stale (queries stay
//! exact) and [`Router::refresh_labels`] recomputes them.

use std::collections::{BinaryHeap, HashMap};
use std::cmp::Reverse;
use std::time::{Duration, Instant};

use cch::{Metric, INF_WEIGHT};
use geo::{Intersects, Line};

use crate::customize::PartialCustomizer;
use crate::labels::{LabelQuery, TopLabels};
use crate::graph::haversine_m;
use crate::hazard::HazardSet;
use crate::prepare::PreparedNetwork;
use crate::segindex::Proj;
use crate::{GeoError, LatLon};

const NONE: u32 = u32::MAX;

/// Snapping gives up beyond this distance unless told otherwise.
pub const DEFAULT_MAX_SNAP_M: f64 = 5_000.0;

/// Segments this much farther than the nearest one are still offered to a
/// route's query as start or end, metres (about a GPS fix's error).
pub const SNAP_TIE_M: f64 = 15.0;

/// At most this many candidate segments per end of a route.
pub const MAX_SNAP_CANDIDATES: usize = 4;

/// A position snapped onto a road segment `a`–`b`.
#[derive(Debug, Clone, PartialEq)]
pub struct Snap {
    pub asked: LatLon,
    pub point: LatLon,
    pub distance_m: f64,
    pub a: u32,
    pub b: u32,
    /// Where along `a → b` (0 at `a`, 1 at `b`).
    pub t: f64,
    /// The usable arcs `a → b` and `b → a`, if any.
    pub ab: Option<u32>,
    pub ba: Option<u32>,
}

/// A fastest route.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    pub from: Snap,
    pub to: Snap,
    pub time_ms: u64,
    pub length_m: f64,
    /// The road arcs driven whole, in order.
    pub arcs: Vec<u32>,
    /// The arcs driven in part before and after them, with the share driven.
    pub first_part: Option<(u32, f64)>,
    pub last_part: Option<(u32, f64)>,
    /// The geometry, snapped start to snapped end.
    pub points: Vec<LatLon>,
}

/// Where a route may leave a start or reach an end (see [`Router::end_points`]).
struct EndPoints {
    /// `(node, ms from the start to it / from it to the end)`.
    points: Vec<(u32, u32)>,
    /// On a destination segment: each node's time and the destination arc
    /// it was reached by (`NONE` at the segment's own ends).
    via: Option<HashMap<u32, (u32, u32)>>,
}

/// What a hazard update did.
#[derive(Debug, Clone, PartialEq)]
pub struct HazardUpdate {
    pub blocking: Vec<String>,
    pub blocked_arcs: usize,
    pub changed_arcs: usize,
    pub recomputed_cch_arcs: usize,
    /// Top labels stale after the change (see [`crate::labels`]): queries
    /// are exact but slower until [`Router::refresh_labels`].
    /// (0 while the labels are not computed.)
    pub labels_stale: usize,
    pub took: Duration,
}

/// Reusable per-thread query buffers (size of the network).
pub struct QueryState {
    df: Vec<u32>,
    db: Vec<u32>,
    pf: Vec<u32>,
    pb: Vec<u32>,
    sf: Vec<u32>,
    sb: Vec<u32>,
    epoch: u32,
    fwd: Vec<u32>,
    bwd: Vec<u32>,
    /// The meeting node of the last query.
    meet: u32,
    labels: LabelQuery,
}

impl QueryState {
    pub fn new(nodes: usize) -> Self {
        QueryState {
            df: vec![INF_WEIGHT; nodes],
            db: vec![INF_WEIGHT; nodes],
            pf: vec![NONE; nodes],
            pb: vec![NONE; nodes],
            sf: vec![0; nodes],
            sb: vec![0; nodes],
            epoch: 0,
            fwd: Vec::new(),
            bwd: Vec::new(),
            meet: NONE,
            labels: LabelQuery::default(),
        }
    }
}

/// Routes on one prepared network with the hazards it was last given.
pub struct Router {
    p: PreparedNetwork,
    proj: Proj,
    weights: Vec<u32>,
    metric: Metric,
    blocked: Vec<bool>,
    hazards: HazardSet,
    partial: PartialCustomizer,
    /// The top labels, once [`Self::refresh_labels`] computed them.
    labels: Option<TopLabels>,
    /// The copies of each junction made for turn restrictions (CSR:
    /// `copies[copies_first[v]..copies_first[v + 1]]`, see [`crate::turns`]).
    copies_first: Vec<u32>,
    copies: Vec<u32>,
    /// Destination arcs into each node (CSR): `dest_in[dest_first_in[v]..dest_first_in[v + 1]]`.
    dest_first_in: Vec<u32>,
    dest_in: Vec<u32>,
    /// No arc is blocked: the metric is the prepared one, bit for bit
    /// (partial updates are exact), and so are the stored middles.
    base_metric_now: bool,
    /// Whether unpacking may look the middles up (tests turn it off to
    /// compare with the search).
    stored_middles: bool,
    pub max_snap_m: f64,
}

impl Router {
    /// A router on `p`, ready to answer: the arrays the queries need
    /// (the segment index comes with `p`). The top labels are not
    /// computed (on a million-node city they take longer than reading the
    /// file): call [`Self::refresh_labels`] before many
    /// [`Self::node_time`] queries.
    pub fn new(p: PreparedNetwork) -> Self {
        let net = &p.net;
        let n = net.node_count();
        let proj = p.segments.proj;
        let (copies_first, copies) = crate::segindex::junction_copies(net);
        let weights = net.through_weights();
        // Destination arcs into each node (for searches back from a route's end).
        let mut dest_first_in = vec![0u32; n + 1];
        for a in (0..net.arc_count()).filter(|&a| net.destination[a]) {
            dest_first_in[net.head[a] as usize + 1] += 1;
        }
        for v in 0..n {
            dest_first_in[v + 1] += dest_first_in[v];
        }
        let mut next = dest_first_in.clone();
        let mut dest_in = vec![0u32; dest_first_in[n] as usize];
        for a in (0..net.arc_count()).filter(|&a| net.destination[a]) {
            let slot = &mut next[net.head[a] as usize];
            dest_in[*slot as usize] = a as u32;
            *slot += 1;
        }
        let metric = p.base_metric.clone();
        let blocked = vec![false; net.arc_count()];
        let partial = PartialCustomizer::new(&p.cch);
        Router {
            p,
            proj,
            weights,
            metric,
            blocked,
            hazards: HazardSet::default(),
            partial,
            labels: None,
            copies_first,
            copies,
            dest_first_in,
            dest_in,
            base_metric_now: true,
            stored_middles: true,
            max_snap_m: DEFAULT_MAX_SNAP_M,
        }
    }

    pub fn network(&self) -> &crate::RoadNetwork {
        &self.p.net
    }
    pub fn prepared(&self) -> &PreparedNetwork {
        &self.p
    }
    pub fn hazards(&self) -> &HazardSet {
        &self.hazards
    }
    pub fn is_blocked(&self, arc: usize) -> bool {
        self.blocked[arc]
    }
    /// The nodes of junction `j`: itself and its copies ([`crate::turns`]).
    pub fn junction_nodes(&self, j: u32) -> impl Iterator<Item = u32> + '_ {
        let copies = &self.copies[self.copies_first[j as usize] as usize..self.copies_first[j as usize + 1] as usize];
        std::iter::once(j).chain(copies.iter().copied())
    }

    /// Every arc of the segment between junctions `u` and `v`, both ways.
    fn segment_arcs(&self, u: u32, v: u32, out: &mut Vec<u32>) {
        let net = &self.p.net;
        for (x, y) in [(u, v), (v, u)] {
            for w in self.junction_nodes(x) {
                out.extend(net.arcs_of(w).filter(|&b| net.junction[net.head[b] as usize] == y).map(|b| b as u32));
            }
        }
    }

    /// Whether paths are unpacked with the prepared shortcut middles
    /// (the default) or by searching each shortcut's lower triangles; the
    /// path is the same either way (for tests and benchmarks).
    #[doc(hidden)]
    pub fn set_stored_middles(&mut self, on: bool) {
        self.stored_middles = on;
    }

    pub fn new_state(&self) -> QueryState {
        QueryState::new(self.p.net.node_count())
    }

    /// The arcs an area closes: segments that cross it or lie inside it.
    pub fn arcs_in(&self, area: &geo::MultiPolygon<f64>) -> Vec<u32> {
        use geo::BoundingRect;
        let net = &self.p.net;
        let Some(r) = area.bounding_rect() else { return Vec::new() };
        let (lo, hi) = (self.proj.xy(r.min().y, r.min().x), self.proj.xy(r.max().y, r.max().x));
        let mut out = Vec::new();
        let mut hits = Vec::new();
        self.p.segments.intersecting(lo, hi, &mut hits);
        for a in hits {
            let a = a as usize;
            let (u, v) = (net.junction[net.tail[a] as usize], net.junction[net.head[a] as usize]);
            let (ui, vi) = (u as usize, v as usize);
            let line = Line::new((net.lon[ui], net.lat[ui]), (net.lon[vi], net.lat[vi]));
            if line.intersects(area) {
                self.segment_arcs(u, v, &mut out);
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Routes from now on around the areas of `hazards` that block; only
    /// the part of the metric the changed roads reach is recomputed.
    pub fn set_hazards(&mut self, hazards: HazardSet) -> HazardUpdate {
        let start = Instant::now();
        let mut blocked = vec![false; self.blocked.len()];
        for h in hazards.blocking() {
            for a in self.arcs_in(&h.area) {
                blocked[a as usize] = true;
            }
        }
        let changed: Vec<u32> = (0..blocked.len()).filter(|&a| blocked[a] != self.blocked[a]).map(|a| a as u32).collect();
        for &a in &changed {
            let a = a as usize;
            self.weights[a] = if blocked[a] || self.p.net.destination[a] { INF_WEIGHT } else { self.p.net.time_ms[a] };
        }
        let recomputed = if changed.is_empty() { 0 } else { self.partial.update(&self.p.cch, &self.weights, &changed, &mut self.metric) };
        let labels_stale = match &mut self.labels {
            None => 0,
            Some(l) if changed.is_empty() => l.stale_count(),
            Some(l) => l.mark_stale(&self.p.cch, self.partial.last_changed_tails()),
        };
        self.blocked = blocked;
        self.base_metric_now = !self.blocked.iter().any(|&b| b);
        let blocking = hazards.blocking_ids().iter().map(|s| s.to_string()).collect();
        self.hazards = hazards;
        HazardUpdate {
            blocking,
            blocked_arcs: self.blocked.iter().filter(|&&b| b).count(),
            changed_arcs: changed.len(),
            recomputed_cch_arcs: recomputed,
            labels_stale,
            took: start.elapsed(),
        }
    }

    /// The nearest usable road point to `at` (see the module doc).
    pub fn snap(&self, at: LatLon, what: &str) -> Result<Snap, GeoError> {
        let mut v = self.snap_within(at, what, 1)?;
        Ok(v.swap_remove(0))
    }

    /// The usable road points near `at` a route may start or end at: the
    /// nearest, then those on segments at most [`SNAP_TIE_M`] farther, at
    /// most [`MAX_SNAP_CANDIDATES`], nearest first.
    pub fn snap_candidates(&self, at: LatLon, what: &str) -> Result<Vec<Snap>, GeoError> {
        self.snap_within(at, what, MAX_SNAP_CANDIDATES)
    }

    fn snap_within(&self, at: LatLon, what: &str, max: usize) -> Result<Vec<Snap>, GeoError> {
        let net = &self.p.net;
        let q = self.proj.xy(at.lat, at.lon);
        let mut out: Vec<Snap> = Vec::new();
        let mut nearest = f64::INFINITY;
        let mut near = self.p.segments.nearest(q);
        while let Some((a0, [ax, ay], [bx, by], d2)) = near.next() {
            if d2.sqrt() > nearest + SNAP_TIE_M {
                break;
            }
            let a0 = a0 as usize;
            let (a, b) = (net.junction[net.tail[a0] as usize], net.junction[net.head[a0] as usize]);
            let usable = |u: u32, v: u32| net.segment_arc(u, v, |x| !self.blocked[x]).map(|x| x as u32);
            let (ab, ba) = (usable(a, b), usable(b, a));
            if ab.is_none() && ba.is_none() {
                continue;
            }
            let (dx, dy) = (bx - ax, by - ay);
            let len2 = dx * dx + dy * dy;
            let t = if len2 > 0.0 { (((q[0] - ax) * dx + (q[1] - ay) * dy) / len2).clamp(0.0, 1.0) } else { 0.0 };
            let (ai, bi) = (a as usize, b as usize);
            let point = LatLon::new(net.lat[ai] + t * (net.lat[bi] - net.lat[ai]), net.lon[ai] + t * (net.lon[bi] - net.lon[ai]));
            let distance_m = haversine_m(at.lat, at.lon, point.lat, point.lon);
            if out.is_empty() && (d2.sqrt() > self.max_snap_m * 1.1 || distance_m > self.max_snap_m) {
                return Err(GeoError::TooFar {
                    what: what.into(),
                    at,
                    distance_km: distance_m / 1000.0,
                    max_km: self.max_snap_m / 1000.0,
                    bbox: self.bbox_text(),
                });
            }
            if out.is_empty() {
                nearest = d2.sqrt();
                // Farther ones are left out below; a hair more, whatever
                // the rounding.
                near.limit((nearest + SNAP_TIE_M).powi(2) * (1.0 + 1e-9));
            }
            out.push(Snap { asked: at, point, distance_m, a, b, t, ab, ba });
            if out.len() >= max {
                break;
            }
        }
        if out.is_empty() {
            return Err(GeoError::NoUsableRoad { what: what.into(), at });
        }
        Ok(out)
    }

    fn bbox_text(&self) -> String {
        let net = &self.p.net;
        let f = |v: &[f64], max: bool| v.iter().copied().fold(if max { f64::MIN } else { f64::MAX }, if max { f64::max } else { f64::min });
        format!("lat {:.4}..{:.4}, lon {:.4}..{:.4}", f(&net.lat, false), f(&net.lat, true), f(&net.lon, false), f(&net.lon, true))
    }

    /// Where a search leaving a snapped point starts: `(node, ms to reach
    /// it)`: the head of the arc it drives (at a junction with turn
    /// restrictions, the copy that arc leads to).
    fn sources(&self, s: &Snap) -> Vec<(u32, u32)> {
        let net = &self.p.net;
        let mut v = Vec::with_capacity(2);
        if let Some(ab) = s.ab {
            v.push((net.head[ab as usize], ((1.0 - s.t) * f64::from(net.time_ms[ab as usize])).round() as u32));
        }
        if let Some(ba) = s.ba {
            v.push((net.head[ba as usize], (s.t * f64::from(net.time_ms[ba as usize])).round() as u32));
        }
        v
    }

    /// Where a search reaching a snapped point ends: `(node, ms from it)`:
    /// the nodes of the junction behind it from which its segment may be
    /// driven (at a junction with turn restrictions, the copies whose
    /// turn onto it is allowed).
    fn targets(&self, s: &Snap) -> Vec<(u32, u32)> {
        let net = &self.p.net;
        let mut v = Vec::with_capacity(2);
        for (arc, from, share) in [(s.ab, s.a, s.t), (s.ba, s.b, 1.0 - s.t)] {
            let Some(arc) = arc else { continue };
            let off = (share * f64::from(net.time_ms[arc as usize])).round() as u32;
            let to = net.head[arc as usize];
            for x in self.junction_nodes(from) {
                if x == from || net.arcs_of(x).any(|b| net.head[b] == to && !self.blocked[b]) {
                    v.push((x, off));
                }
            }
        }
        v
    }

    /// Whether a snapped point lies on a destination segment (one of its
    /// usable arcs is a destination arc): a route may then drive the
    /// destination roads around it, and only those, before (at a start) or
    /// after (at an end) the open roads.
    fn on_destination(&self, s: &Snap) -> bool {
        [s.ab, s.ba].into_iter().flatten().any(|a| self.p.net.destination[a as usize])
    }

    /// Where a route may leave a snapped start (`forward`) or reach a
    /// snapped end: its segment's ends, and on a destination segment every
    /// node the destination roads around it lead to (from it, or to it),
    /// with the arcs that do.
    fn end_points(&self, s: &Snap, forward: bool) -> EndPoints {
        let roots = if forward { self.sources(s) } else { self.targets(s) };
        if !self.on_destination(s) {
            return EndPoints { points: roots, via: None };
        }
        let net = &self.p.net;
        let mut via: HashMap<u32, (u32, u32)> = HashMap::new();
        let mut heap = BinaryHeap::new();
        for &(v, d) in &roots {
            if via.get(&v).is_none_or(|&(old, _)| d < old) {
                via.insert(v, (d, NONE));
                heap.push(Reverse((d, v)));
            }
        }
        while let Some(Reverse((d, v))) = heap.pop() {
            if via.get(&v).is_some_and(|&(best, _)| d > best) {
                continue;
            }
            let arcs: Vec<u32> = if forward {
                net.arcs_of(v).filter(|&a| net.destination[a]).map(|a| a as u32).collect()
            } else {
                self.dest_in[self.dest_first_in[v as usize] as usize..self.dest_first_in[v as usize + 1] as usize].to_vec()
            };
            for a in arcs {
                if self.blocked[a as usize] {
                    continue;
                }
                let x = if forward { net.head[a as usize] } else { net.tail[a as usize] };
                let nd = d.saturating_add(net.time_ms[a as usize]);
                if via.get(&x).is_none_or(|&(old, _)| nd < old) {
                    via.insert(x, (nd, a));
                    heap.push(Reverse((nd, x)));
                }
            }
        }
        let points = via.iter().map(|(&v, &(d, _))| (v, d)).collect();
        EndPoints { points, via: Some(via) }
    }

    /// Driving along one segment from one snapped point to another.
    fn same_segment(&self, f: &Snap, t: &Snap) -> Option<u32> {
        if (f.a, f.b) != (t.a, t.b) {
            return None;
        }
        let along = |arc: Option<u32>, d: f64| arc.filter(|_| d >= 0.0).map(|a| (d * f64::from(self.p.net.time_ms[a as usize])).round() as u32);
        [along(f.ab, t.t - f.t), along(f.ba, f.t - t.t)].into_iter().flatten().min()
    }

    /// The fastest route between two positions, starting and ending on
    /// whichever of their snap candidates ([`Self::snap_candidates`]) gives
    /// the fastest route.
    pub fn route(&self, st: &mut QueryState, from: LatLon, to: LatLon) -> Result<Route, GeoError> {
        let fs = self.snap_candidates(from, "start")?;
        let ts = self.snap_candidates(to, "destination")?;
        self.route_among(st, &fs, &ts)
    }

    /// The fastest route between two snapped points.
    pub fn route_snapped(&self, st: &mut QueryState, fs: Snap, ts: Snap) -> Result<Route, GeoError> {
        self.route_among(st, std::slice::from_ref(&fs), std::slice::from_ref(&ts))
    }

    /// The fastest route from any of the snapped points `from` to any of
    /// `to` (each non-empty, all of one position: its snap candidates).
    pub fn route_among(&self, st: &mut QueryState, from: &[Snap], to: &[Snap]) -> Result<Route, GeoError> {
        let net = &self.p.net;
        let (Some(f0), Some(t0)) = (from.first(), to.first()) else {
            return Err(GeoError::Unreachable {
                from: from.first().map_or(LatLon::new(f64::NAN, f64::NAN), |s| s.asked),
                to: to.first().map_or(LatLon::new(f64::NAN, f64::NAN), |s| s.asked),
                reason: "no snapped point at one end".into(),
            });
        };
        let direct = from
            .iter()
            .flat_map(|f| to.iter().filter_map(move |t| self.same_segment(f, t).map(|d| (d, f, t))))
            .min_by_key(|&(d, _, _)| d);
        let starts: Vec<EndPoints> = from.iter().map(|s| self.end_points(s, true)).collect();
        let ends: Vec<EndPoints> = to.iter().map(|s| self.end_points(s, false)).collect();
        let sources: Vec<(u32, u32)> = starts.iter().flat_map(|e| e.points.iter().copied()).collect();
        let targets: Vec<(u32, u32)> = ends.iter().flat_map(|e| e.points.iter().copied()).collect();
        let best = self.query(st, &sources, &targets);
        let via_graph = best.map(|(d, _, _)| d);
        if let Some((d, fs, ts)) = direct.filter(|&(d, _, _)| d <= via_graph.unwrap_or(u32::MAX)) {
            let (fs, ts) = (fs.clone(), ts.clone());
            let share = (ts.t - fs.t).abs();
            let arc = if ts.t >= fs.t { fs.ab.or(fs.ba) } else { fs.ba.or(fs.ab) }.expect("a snapped segment has a usable arc");
            let length_m = share * f64::from(net.length_m[arc as usize]);
            let points = vec![fs.point, ts.point];
            return Ok(Route { from: fs, to: ts, time_ms: u64::from(d), length_m, arcs: vec![], first_part: Some((arc, share)), last_part: None, points });
        }
        let Some((d, s_node, t_node)) = best else {
            return Err(GeoError::Unreachable { from: f0.asked, to: t0.asked, reason: self.unreachable_reason() });
        };
        // The candidates the best path hangs from: at its first node, the
        // one with the least time to it (the query started that node there).
        let offset_at = |e: &EndPoints, v: u32| e.points.iter().filter(|&&(x, _)| x == v).map(|&(_, o)| o).min();
        let pick = |eps: &[EndPoints], v: u32| {
            eps.iter().enumerate().filter_map(|(i, e)| offset_at(e, v).map(|o| (o, i))).min().map(|(_, i)| i).expect("the best path hangs from a candidate")
        };
        let (i, j) = (pick(&starts, s_node), pick(&ends, t_node));
        let (fs, ts) = (from[i].clone(), to[j].clone());
        // Destination arcs from the start's segment to the query's first
        // node, the query's path, destination arcs on to the end's segment.
        let mut arcs: Vec<u32> = Vec::new();
        let mut s_root = s_node;
        if let Some(via) = &starts[i].via {
            while let Some(&(_, a)) = via.get(&s_root).filter(|&&(_, a)| a != NONE) {
                arcs.push(a);
                s_root = net.tail[a as usize];
            }
            arcs.reverse();
        }
        let nodes = self.unpack(st, s_node, t_node);
        for w in nodes.windows(2) {
            let a = net.best_arc(w[0], w[1], |x| !self.blocked[x] && self.weights[x] < INF_WEIGHT).expect("an unpacked step is a usable arc");
            arcs.push(a as u32);
        }
        let mut t_root = t_node;
        if let Some(via) = &ends[j].via {
            while let Some(&(_, a)) = via.get(&t_root).filter(|&&(_, a)| a != NONE) {
                arcs.push(a);
                t_root = net.head[a as usize];
            }
        }
        let (s_node, t_node) = (s_root, t_root);
        let nodes: Vec<u32> = std::iter::once(s_node).chain(arcs.iter().map(|&a| net.head[a as usize])).collect();
        let mut length_m: f64 = arcs.iter().map(|&a| f64::from(net.length_m[a as usize])).sum();
        // The partial segments at both ends.
        let (s_j, t_j) = (net.junction[s_node as usize], net.junction[t_node as usize]);
        let first = if s_j == fs.b { fs.ab } else { fs.ba };
        let last = if t_j == ts.a { ts.ab } else { ts.ba };
        let frac_first = if s_j == fs.b { 1.0 - fs.t } else { fs.t };
        let frac_last = if t_j == ts.a { ts.t } else { 1.0 - ts.t };
        let (first, last) = (first.expect("a source arc"), last.expect("a target arc"));
        length_m += frac_first * f64::from(net.length_m[first as usize]);
        length_m += frac_last * f64::from(net.length_m[last as usize]);
        let mut points: Vec<LatLon> = Vec::with_capacity(nodes.len() + 2);
        for p in std::iter::once(fs.point).chain(nodes.iter().map(|&v| LatLon::new(net.lat[v as usize], net.lon[v as usize]))).chain([ts.point]) {
            if points.last() != Some(&p) {
                points.push(p);
            }
        }
        if points.len() == 1 {
            points.push(ts.point);
        }
        let part = |arc: u32, share: f64| (share > 0.0).then_some((arc, share));
        Ok(Route {
            from: fs,
            to: ts,
            time_ms: u64::from(d),
            length_m,
            arcs,
            first_part: part(first, frac_first),
            last_part: part(last, frac_last),
            points,
        })
    }

    fn unreachable_reason(&self) -> String {
        let ids = self.hazards.blocking_ids();
        if ids.is_empty() && self.p.net.destination.iter().any(|&d| d) {
            "the roads between them do not connect, or only through roads for access to their destinations only (access=destination), which a route may drive only at its start and end".into()
        } else if ids.is_empty() {
            "the roads between them do not connect".into()
        } else {
            format!("every road between them crosses an active hazard area ({})", ids.join(", "))
        }
    }

    /// Travel time between two nodes of the network (ms), on the CCH
    /// with the top labels ([`crate::labels`]) once computed, with the
    /// plain CCH query before (the same answer, slower).
    pub fn node_time(&self, st: &mut QueryState, s: u32, t: u32) -> Option<u32> {
        let c = &self.p.cch;
        match &self.labels {
            Some(l) => l.distance(c, &self.metric, &mut st.labels, c.rank[s as usize], c.rank[t as usize]),
            None => self.query(st, &[(s, 0)], &[(t, 0)]).map(|(d, _, _)| d),
        }
    }

    /// The top labels, if computed (for reports).
    pub fn labels(&self) -> Option<&TopLabels> {
        self.labels.as_ref()
    }

    /// Computes the top labels (the first time, on the metric in force)
    /// or recomputes those a hazard change made stale, so that
    /// [`Self::node_time`] is fast (it is exact meanwhile). Returns how
    /// many labels were computed. Call it once the router has answered
    /// what is urgent, when many node queries are to follow.
    pub fn refresh_labels(&mut self) -> usize {
        match &mut self.labels {
            Some(l) => l.refresh(&self.p.cch, &self.metric),
            None => {
                let l = TopLabels::new(&self.p.cch, &self.metric);
                let n = l.size().0;
                self.labels = Some(l);
                n
            }
        }
    }

    /// The elimination-tree ancestors of `points` (`(node, offset)`), sorted
    /// by rank, into `chain`, with their distances reset and the points'
    /// offsets set.
    #[allow(clippy::too_many_arguments)]
    fn chain_up(&self, points: &[(u32, u32)], dist: &mut [u32], pred: &mut [u32], stamp: &mut [u32], epoch: u32, chain: &mut Vec<u32>) {
        let c = &self.p.cch;
        chain.clear();
        for &(v, off) in points {
            let r = c.rank[v as usize];
            let mut x = r;
            while x != NONE && stamp[x as usize] != epoch {
                stamp[x as usize] = epoch;
                dist[x as usize] = INF_WEIGHT;
                pred[x as usize] = NONE;
                chain.push(x);
                x = c.elimination_tree_parent[x as usize];
            }
            if off < dist[r as usize] {
                dist[r as usize] = off;
            }
        }
        if points.len() > 1 {
            chain.sort_unstable();
        }
    }

    /// Relaxes the upward arcs of `x` with `weights`.
    #[inline]
    fn relax(&self, x: u32, weights: &[u32], dist: &mut [u32], pred: &mut [u32]) {
        let c = &self.p.cch;
        let dx = dist[x as usize];
        let range = c.up_first_out[x as usize] as usize..c.up_first_out[x as usize + 1] as usize;
        for (arc, (&y, &w)) in range.clone().zip(c.up_head[range.clone()].iter().zip(&weights[range])) {
            let cand = dx.saturating_add(w);
            if cand < dist[y as usize] {
                dist[y as usize] = cand;
                pred[y as usize] = arc as u32;
            }
        }
    }

    /// A whole upward search (for tables, where no bound prunes it).
    #[allow(clippy::too_many_arguments)]
    fn search_up(&self, points: &[(u32, u32)], weights: &[u32], dist: &mut [u32], pred: &mut [u32], stamp: &mut [u32], epoch: u32, chain: &mut Vec<u32>) {
        self.chain_up(points, dist, pred, stamp, epoch, chain);
        for &x in chain.iter() {
            if dist[x as usize] < INF_WEIGHT {
                self.relax(x, weights, dist, pred);
            }
        }
    }

    /// Best `(time, source node, target node)` over the given start and end
    /// points. Both chains are walked together in rank order; a node's arcs
    /// are relaxed only while its distance is below the best meeting found
    /// so far (every path on from it costs at least that much).
    fn query(&self, st: &mut QueryState, from: &[(u32, u32)], to: &[(u32, u32)]) -> Option<(u32, u32, u32)> {
        st.meet = NONE;
        if from.is_empty() || to.is_empty() {
            return None;
        }
        st.epoch = st.epoch.wrapping_add(1);
        if st.epoch == 0 {
            st.sf.iter_mut().for_each(|x| *x = 0);
            st.sb.iter_mut().for_each(|x| *x = 0);
            st.epoch = 1;
        }
        let e = st.epoch;
        let mut fwd = std::mem::take(&mut st.fwd);
        let mut bwd = std::mem::take(&mut st.bwd);
        self.chain_up(from, &mut st.df, &mut st.pf, &mut st.sf, e, &mut fwd);
        self.chain_up(to, &mut st.db, &mut st.pb, &mut st.sb, e, &mut bwd);
        let mut best = (INF_WEIGHT, NONE);
        let (mut i, mut j) = (0, 0);
        while i < fwd.len() || j < bwd.len() {
            let x = match (fwd.get(i), bwd.get(j)) {
                (Some(&a), Some(&b)) => a.min(b),
                (Some(&a), None) => a,
                (None, Some(&b)) => b,
                (None, None) => unreachable!(),
            };
            let in_f = fwd.get(i) == Some(&x);
            let in_b = bwd.get(j) == Some(&x);
            if in_f && in_b {
                let d = st.df[x as usize].saturating_add(st.db[x as usize]);
                if d < best.0 {
                    best = (d, x);
                }
            }
            if in_f {
                if st.df[x as usize] < best.0 {
                    self.relax(x, &self.metric.forward, &mut st.df, &mut st.pf);
                }
                i += 1;
            }
            if in_b {
                if st.db[x as usize] < best.0 {
                    self.relax(x, &self.metric.backward, &mut st.db, &mut st.pb);
                }
                j += 1;
            }
        }
        st.fwd = fwd;
        st.bwd = bwd;
        if best.0 >= INF_WEIGHT {
            return None;
        }
        st.meet = best.1;
        // Which start and end point the best path hangs from.
        let c = &self.p.cch;
        let mut x = best.1;
        while st.pf[x as usize] != NONE {
            x = c.up_tail[st.pf[x as usize] as usize];
        }
        let s_node = c.order[x as usize];
        let mut y = best.1;
        while st.pb[y as usize] != NONE {
            y = c.up_tail[st.pb[y as usize] as usize];
        }
        let t_node = c.order[y as usize];
        Some((best.0, s_node, t_node))
    }

    /// The road nodes of the last query's best path, `s` to `t`.
    fn unpack(&self, st: &QueryState, s: u32, t: u32) -> Vec<u32> {
        let c = &self.p.cch;
        let m = st.meet;
        // Up arcs from s to m (forward), then from m down to t (backward).
        let mut up = Vec::new();
        let mut x = m;
        while st.pf[x as usize] != NONE {
            let a = st.pf[x as usize];
            up.push(a);
            x = c.up_tail[a as usize];
        }
        up.reverse();
        let mut out = vec![c.rank[s as usize]];
        let mut stack = Vec::with_capacity(64);
        for a in up {
            self.unpack_arc(a, true, &mut out, &mut stack);
        }
        let mut y = m;
        while st.pb[y as usize] != NONE {
            let a = st.pb[y as usize];
            self.unpack_arc(a, false, &mut out, &mut stack);
            y = c.up_tail[a as usize];
        }
        debug_assert_eq!(*out.last().expect("a path"), c.rank[t as usize]);
        out.into_iter().map(|r| c.order[r as usize]).collect()
    }

    /// Appends the rank-space nodes of CCH arc `arc` driven upwards
    /// (`tail → head`) or downwards (`head → tail`), without its first node.
    ///
    /// With no hazard in force the metric is the prepared one, and each
    /// shortcut's middle is looked up ([`crate::prepare::Middles`]: the
    /// first tight lower triangle in down-arc order). Otherwise the
    /// lower triangles of the shortcut are searched for that same first
    /// tight one. Either way the path is the same.
    fn unpack_arc(&self, arc: u32, upward: bool, out: &mut Vec<u32>, stack: &mut Vec<(u32, bool)>) {
        use crate::prepare::{MIDDLE_NONE, MIDDLE_SEARCH};
        let c = &self.p.cch;
        let mids = &self.p.middles;
        // Explicit stack: (arc, upward).
        stack.clear();
        stack.push((arc, upward));
        while let Some((a, up)) = stack.pop() {
            let (top, back) = if self.base_metric_now && self.stored_middles {
                let rec = &mids.arcs[a as usize];
                if up { (rec[0], rec[2] & 0xFFFF) } else { (rec[1], rec[2] >> 16) }
            } else {
                (MIDDLE_SEARCH, 0)
            };
            let split = match top {
                MIDDLE_NONE => None,
                // A stored middle is a lower triangle (the file's checksum
                // vouches for it): its arcs leave a node below `a`'s tail,
                // so their ids are below `a` (up-arcs are sorted by tail)
                // and the unpacking ends whatever the file says. Were it
                // not so, search.
                top if top == MIDDLE_SEARCH || back == 0 || back > top || top >= a => self.search_middle(a, up),
                top => {
                    let (zh, zl) = (top, top - back); // (y, hi), (y, lo)
                    Some(if up { ((zl, false), (zh, true)) } else { ((zh, false), (zl, true)) })
                }
            };
            match split {
                // Push the second half first: the stack pops the first.
                Some((first, second)) => {
                    stack.push(second);
                    stack.push(first);
                }
                None => out.push(if up { c.up_head[a as usize] } else { c.up_tail[a as usize] }),
            }
        }
    }

    /// The first lower triangle of CCH arc `a` (in down-arc order) whose
    /// two arcs add up to its weight in direction `up` under the current
    /// metric, as the halves to unpack in order; `None` for a road arc.
    fn search_middle(&self, a: u32, up: bool) -> Option<((u32, bool), (u32, bool))> {
        let c = &self.p.cch;
        let (lo, hi) = (c.up_tail[a as usize], c.up_head[a as usize]);
        let w = if up { self.metric.forward[a as usize] } else { self.metric.backward[a as usize] };
        for d in c.down_first_out[lo as usize] as usize..c.down_first_out[lo as usize + 1] as usize {
            let z = c.down_head[d];
            let zl = c.down_to_up[d]; // arc (z, lo)
            let Some(zh) = self.up_arc(z, hi) else { continue };
            if up {
                // lo → z → hi
                if self.metric.backward[zl as usize].saturating_add(self.metric.forward[zh as usize]) == w {
                    return Some(((zl, false), (zh, true)));
                }
            } else if self.metric.backward[zh as usize].saturating_add(self.metric.forward[zl as usize]) == w {
                // hi → z → lo
                return Some(((zh, false), (zl, true)));
            }
        }
        None
    }

    /// The up arc `(lo, hi)`, if the CCH has it (up arcs are sorted by head).
    fn up_arc(&self, lo: u32, hi: u32) -> Option<u32> {
        let c = &self.p.cch;
        let range = c.up_first_out[lo as usize] as usize..c.up_first_out[lo as usize + 1] as usize;
        let heads = &c.up_head[range.clone()];
        heads.binary_search(&hi).ok().map(|i| (range.start + i) as u32)
    }

    /// Travel times (ms) from every source to every target, row-major;
    /// `None` where a target cannot be reached. Bucket many-to-many on
    /// the elimination tree: each target's upward search is stored once.
    pub fn table(&self, st: &mut QueryState, sources: &[Snap], targets: &[Snap]) -> Vec<Option<u32>> {
        let mut out = vec![None; sources.len() * targets.len()];
        let mut buckets: HashMap<u32, Vec<(u32, u32)>> = HashMap::new();
        let mut chain = Vec::new();
        for (j, t) in targets.iter().enumerate() {
            st.epoch = st.epoch.wrapping_add(1).max(1);
            let e = st.epoch;
            self.search_up(&self.end_points(t, false).points, &self.metric.backward, &mut st.db, &mut st.pb, &mut st.sb, e, &mut chain);
            for &x in &chain {
                let d = st.db[x as usize];
                if d < INF_WEIGHT {
                    buckets.entry(x).or_default().push((j as u32, d));
                }
            }
        }
        for (i, s) in sources.iter().enumerate() {
            st.epoch = st.epoch.wrapping_add(1).max(1);
            let e = st.epoch;
            self.search_up(&self.end_points(s, true).points, &self.metric.forward, &mut st.df, &mut st.pf, &mut st.sf, e, &mut chain);
            let row = &mut out[i * targets.len()..(i + 1) * targets.len()];
            for &x in &chain {
                let d = st.df[x as usize];
                if d >= INF_WEIGHT {
                    continue;
                }
                if let Some(b) = buckets.get(&x) {
                    for &(j, dt) in b {
                        let total = d.saturating_add(dt);
                        if total < INF_WEIGHT && row[j as usize].is_none_or(|cur| total < cur) {
                            row[j as usize] = Some(total);
                        }
                    }
                }
            }
            for (j, t) in targets.iter().enumerate() {
                if let Some(d) = self.same_segment(s, t) {
                    if row[j].is_none_or(|cur| d < cur) {
                        row[j] = Some(d);
                    }
                }
            }
        }
        out
    }

    /// Plain Dijkstra between two nodes on the current (hazard-aware)
    /// weights: the baseline and the test oracle.
    pub fn dijkstra(&self, st: &mut DijkstraState, s: u32, t: u32) -> Option<u32> {
        dijkstra(st, &self.p.net.first_out, &self.p.net.head, &self.weights, &[(s, 0)], t)
    }

}

/// Reusable buffers for [`dijkstra`].
pub struct DijkstraState {
    dist: Vec<u32>,
    touched: Vec<u32>,
    heap: BinaryHeap<Reverse<(u32, u32)>>,
}

impl DijkstraState {
    pub fn new(nodes: usize) -> Self {
        DijkstraState { dist: vec![INF_WEIGHT; nodes], touched: Vec::new(), heap: BinaryHeap::new() }
    }
}

/// Plain Dijkstra from `sources` (`(node, initial time)`) to `target`, on a
/// CSR graph, stopping when the target is settled; arcs weighing
/// [`INF_WEIGHT`] or more are closed.
pub fn dijkstra(st: &mut DijkstraState, first_out: &[u32], head: &[u32], weight: &[u32], sources: &[(u32, u32)], target: u32) -> Option<u32> {
    for v in st.touched.drain(..) {
        st.dist[v as usize] = INF_WEIGHT;
    }
    st.heap.clear();
    for &(s, d) in sources {
        if d < st.dist[s as usize] {
            st.dist[s as usize] = d;
            st.touched.push(s);
            st.heap.push(Reverse((d, s)));
        }
    }
    while let Some(Reverse((d, v))) = st.heap.pop() {
        if v == target {
            return Some(d);
        }
        if d > st.dist[v as usize] {
            continue;
        }
        for a in first_out[v as usize] as usize..first_out[v as usize + 1] as usize {
            let w = weight[a];
            if w >= INF_WEIGHT {
                continue;
            }
            let nd = d + w;
            let h = head[a] as usize;
            if nd < st.dist[h] {
                if st.dist[h] == INF_WEIGHT {
                    st.touched.push(h as u32);
                }
                st.dist[h] = nd;
                st.heap.push(Reverse((nd, h as u32)));
            }
        }
    }
    None
}
