//! GeoJSON (RFC 7946) export: the drivable network, corridors, checkpoints
//! and hazard areas. Positions are `[lon, lat]` in WGS 84 rounded to 7
//! decimals (about 1 cm); polygon rings follow the right-hand rule
//! (exterior counter-clockwise); no `crs` member. Every collection carries
//! the data's attribution as a foreign member and on each network feature.

use std::collections::{BTreeMap, HashSet};

use geo::orient::{Direction, Orient};
use serde_json::{json, Value};

use crate::corridor::CorridorRoute;
use crate::graph::RoadNetwork;
use crate::hazard::HazardSet;
use crate::LatLon;

fn r7(v: f64) -> f64 {
    (v * 1e7).round() / 1e7
}

fn pos(p: LatLon) -> Value {
    json!([r7(p.lon), r7(p.lat)])
}

/// One feature collection from features, with the attribution.
pub fn collection(features: Vec<Value>, attribution: &str) -> Value {
    json!({ "type": "FeatureCollection", "attribution": attribution, "features": features })
}

/// The drivable network: one MultiLineString per road class (each street
/// segment once), with the class's one-way share and capacity range.
pub fn network_features(net: &RoadNetwork) -> Vec<Value> {
    let mut by_class: BTreeMap<u8, Vec<Value>> = BTreeMap::new();
    let mut seen: HashSet<(u32, u32)> = HashSet::new();
    for a in 0..net.arc_count() {
        let (u, v) = (net.tail[a], net.head[a]);
        if !seen.insert((u.min(v), u.max(v))) {
            continue;
        }
        let p = |x: u32| pos(LatLon::new(net.lat[x as usize], net.lon[x as usize]));
        by_class.entry(net.class[a]).or_default().push(json!([p(u), p(v)]));
    }
    by_class
        .into_iter()
        .map(|(c, lines)| {
            let class = net.class_of(net.class.iter().position(|&x| x == c).unwrap_or(0));
            json!({
                "type": "Feature",
                "properties": {
                    "kind": "road", "highway": class.tag(), "segments": lines.len(),
                    "approximate": net.meta.approximate, "source": net.meta.source, "attribution": net.meta.attribution,
                },
                "geometry": { "type": "MultiLineString", "coordinates": lines },
            })
        })
        .collect()
}

/// A corridor's route and its checkpoints.
pub fn corridor_features(c: &CorridorRoute, approximate: bool) -> Vec<Value> {
    let mut out = vec![json!({
        "type": "Feature",
        "id": c.id,
        "properties": {
            "kind": "corridor", "id": c.id, "name": c.name,
            "length_m": (c.length_m * 10.0).round() / 10.0, "time_s": c.time_s.round(),
            "checkpoints": c.checkpoints.len(), "approximate": approximate,
        },
        "geometry": { "type": "LineString", "coordinates": c.points.iter().map(|&p| pos(p)).collect::<Vec<_>>() },
    })];
    for (i, cp) in c.checkpoints.iter().enumerate() {
        out.push(json!({
            "type": "Feature",
            "id": format!("{}/{}", c.id, cp.id),
            "properties": {
                "kind": "checkpoint", "corridor": c.id, "id": cp.id, "name": cp.name, "order": i + 1,
                "distance_m": cp.distance_m.round(), "time_s": cp.time_s.round(),
            },
            "geometry": { "type": "Point", "coordinates": pos(cp.point) },
        }));
    }
    out
}

/// Hazard areas with their status and whether they close roads.
pub fn hazard_features(h: &HazardSet) -> Vec<Value> {
    h.areas
        .values()
        .map(|a| {
            let polys: Vec<Value> = a
                .area
                .orient(Direction::Default)
                .0
                .iter()
                .map(|p| {
                    let ring = |l: &geo::LineString<f64>| l.0.iter().map(|c| json!([r7(c.x), r7(c.y)])).collect::<Vec<_>>();
                    let mut rings = vec![ring(p.exterior())];
                    rings.extend(p.interiors().iter().map(ring));
                    json!(rings)
                })
                .collect();
            let kind = serde_json::to_value(a.kind).unwrap_or(Value::Null);
            let status = serde_json::to_value(a.status).unwrap_or(Value::Null);
            json!({
                "type": "Feature",
                "id": a.id,
                "properties": { "kind": "hazard", "id": a.id, "hazard_kind": kind, "status": status, "blocks": a.blocks() },
                "geometry": { "type": "MultiPolygon", "coordinates": polys },
            })
        })
        .collect()
}
