//! Corridors: a route from an entry point to an exit point (through
//! optional via points) with named checkpoints placed on it, at a given
//! position (snapped onto the route), a distance from the entry, or a
//! share of the length.

use crate::graph::haversine_m;
use crate::router::{QueryState, Route, Router};
use crate::{GeoError, LatLon};

/// How far from the route a checkpoint given by position may be.
pub const MAX_CHECKPOINT_OFFSET_M: f64 = 1_000.0;

#[derive(Debug, Clone, PartialEq)]
pub enum Placement {
    Position(LatLon),
    /// Metres from the entry along the route.
    Distance(f64),
    /// Share of the route's length, 0..=1.
    Fraction(f64),
}

impl std::str::FromStr for Placement {
    type Err = GeoError;
    /// `LAT,LON`, `2.5km`, `800m` or `40%`.
    fn from_str(s: &str) -> Result<Self, GeoError> {
        let t = s.trim();
        let num = |v: &str| v.trim().parse::<f64>().ok().filter(|x| x.is_finite() && *x >= 0.0);
        let bad = || GeoError::BadPoint { text: s.into(), reason: "expected LAT,LON, a distance (2.5km, 800m) or a share (40%)".into() };
        if let Some(v) = t.strip_suffix('%') {
            let f = num(v).filter(|f| *f <= 100.0).ok_or_else(bad)?;
            Ok(Placement::Fraction(f / 100.0))
        } else if let Some(v) = t.strip_suffix("km") {
            Ok(Placement::Distance(num(v).ok_or_else(bad)? * 1000.0))
        } else if let Some(v) = t.strip_suffix('m') {
            Ok(Placement::Distance(num(v).ok_or_else(bad)?))
        } else {
            Ok(Placement::Position(t.parse()?))
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct CheckpointSpec {
    pub id: String,
    pub name: String,
    pub at: Placement,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CorridorSpec {
    pub id: String,
    pub name: String,
    pub entry: LatLon,
    pub exit: LatLon,
    pub via: Vec<LatLon>,
    pub checkpoints: Vec<CheckpointSpec>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PlacedCheckpoint {
    pub id: String,
    pub name: String,
    pub point: LatLon,
    /// Metres from the entry along the route.
    pub distance_m: f64,
    /// Seconds from the entry at free-flow speed.
    pub time_s: f64,
    /// How far the given position was from the route (0 for a distance).
    pub offset_m: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CorridorRoute {
    pub id: String,
    pub name: String,
    pub legs: Vec<Route>,
    pub points: Vec<LatLon>,
    /// Cumulative metres and seconds at each point.
    pub cum_m: Vec<f64>,
    pub cum_s: Vec<f64>,
    pub length_m: f64,
    pub time_s: f64,
    /// Ordered from entry to exit.
    pub checkpoints: Vec<PlacedCheckpoint>,
}

impl CorridorRoute {
    /// The point, and the time, `d` metres along the route.
    pub fn at_distance(&self, d: f64) -> (LatLon, f64) {
        let d = d.clamp(0.0, self.length_m);
        let i = self.cum_m.partition_point(|&c| c < d).clamp(1, self.points.len() - 1);
        let (d0, d1) = (self.cum_m[i - 1], self.cum_m[i]);
        let f = if d1 > d0 { (d - d0) / (d1 - d0) } else { 0.0 };
        let (a, b) = (self.points[i - 1], self.points[i]);
        let p = LatLon::new(a.lat + f * (b.lat - a.lat), a.lon + f * (b.lon - a.lon));
        (p, self.cum_s[i - 1] + f * (self.cum_s[i] - self.cum_s[i - 1]))
    }

    /// The route's point nearest to `p`: `(distance along, offset from p)`.
    pub fn project(&self, p: LatLon) -> (f64, f64) {
        let mut best = (0.0, f64::MAX);
        let k = p.lat.to_radians().cos();
        for i in 1..self.points.len() {
            let (a, b) = (self.points[i - 1], self.points[i]);
            let (ax, ay, bx, by, px, py) = (a.lon * k, a.lat, b.lon * k, b.lat, p.lon * k, p.lat);
            let (dx, dy) = (bx - ax, by - ay);
            let l2 = dx * dx + dy * dy;
            let t = if l2 > 0.0 { (((px - ax) * dx + (py - ay) * dy) / l2).clamp(0.0, 1.0) } else { 0.0 };
            let q = LatLon::new(a.lat + t * (b.lat - a.lat), a.lon + t * (b.lon - a.lon));
            let off = haversine_m(p.lat, p.lon, q.lat, q.lon);
            if off < best.1 {
                best = (self.cum_m[i - 1] + t * (self.cum_m[i] - self.cum_m[i - 1]), off);
            }
        }
        best
    }
}

/// Routes a corridor and places its checkpoints.
pub fn plan(router: &Router, st: &mut QueryState, spec: &CorridorSpec) -> Result<CorridorRoute, GeoError> {
    let err = |reason: String| GeoError::Corridor { corridor: spec.id.clone(), reason };
    let stops: Vec<LatLon> = std::iter::once(spec.entry).chain(spec.via.iter().copied()).chain(std::iter::once(spec.exit)).collect();
    let mut legs = Vec::new();
    let (mut points, mut cum_m, mut cum_s) = (Vec::new(), Vec::new(), Vec::new());
    let (mut m, mut s) = (0.0, 0.0);
    for (k, w) in stops.windows(2).enumerate() {
        let leg = router.route(st, w[0], w[1]).map_err(|e| err(format!("leg {} ({} → {}): {e}", k + 1, w[0], w[1])))?;
        // Seconds per metre on this leg, spread by length between its points.
        let per_m = if leg.length_m > 0.0 { leg.time_ms as f64 / 1000.0 / leg.length_m } else { 0.0 };
        for (i, p) in leg.points.iter().enumerate() {
            if i == 0 && !points.is_empty() {
                continue;
            }
            if let Some(prev) = points.last() {
                let prev: &LatLon = prev;
                let d = haversine_m(prev.lat, prev.lon, p.lat, p.lon);
                m += d;
                s += d * per_m;
            }
            points.push(*p);
            cum_m.push(m);
            cum_s.push(s);
        }
        legs.push(leg);
    }
    // Haversine between points can differ from the arcs' stored lengths by
    // rounding (and the detour factor of coarse networks): scale to the legs'.
    let length_m: f64 = legs.iter().map(|l| l.length_m).sum();
    let time_s: f64 = legs.iter().map(|l| l.time_ms as f64 / 1000.0).sum();
    if m > 0.0 {
        cum_m.iter_mut().for_each(|c| *c *= length_m / m);
    }
    if s > 0.0 {
        cum_s.iter_mut().for_each(|c| *c *= time_s / s);
    }
    let mut route = CorridorRoute { id: spec.id.clone(), name: spec.name.clone(), legs, points, cum_m, cum_s, length_m, time_s, checkpoints: vec![] };
    let mut placed = Vec::new();
    for cp in &spec.checkpoints {
        let (d, offset) = match cp.at {
            Placement::Position(p) => {
                let (d, off) = route.project(p);
                if off > MAX_CHECKPOINT_OFFSET_M {
                    return Err(err(format!(
                        "checkpoint {} is {:.1} km from the corridor's route (at most {:.1} km): move it onto the route or add a via point",
                        cp.id,
                        off / 1000.0,
                        MAX_CHECKPOINT_OFFSET_M / 1000.0
                    )));
                }
                (d, off)
            }
            Placement::Distance(d) if d > route.length_m + 1.0 => {
                return Err(err(format!("checkpoint {} is placed {:.2} km along a route of {:.2} km", cp.id, d / 1000.0, route.length_m / 1000.0)))
            }
            Placement::Distance(d) => (d, 0.0),
            Placement::Fraction(f) => (f * route.length_m, 0.0),
        };
        let (point, time_s) = route.at_distance(d);
        placed.push(PlacedCheckpoint { id: cp.id.clone(), name: cp.name.clone(), point, distance_m: d.min(route.length_m), time_s, offset_m: offset });
    }
    placed.sort_by(|a, b| a.distance_m.total_cmp(&b.distance_m));
    route.checkpoints = placed;
    Ok(route)
}
