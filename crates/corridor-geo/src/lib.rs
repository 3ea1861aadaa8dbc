//! Corridor's map side: road networks from OpenStreetMap (`.osm.pbf`,
//! `.osm`) or GeoJSON LineStrings, hazard areas that close roads, fast
//! routing that follows hazards as they open and close, corridors with
//! checkpoints, and GeoJSON (RFC 7946) export.
//!
//! The pipeline, each stage its own module:
//!
//! ```text
//! osm / roads (import) ─► graph (RoadNetwork, turns) ─► prepare (CCH order + structure) ─► netfile (.cnet)
//!                                                                                      │
//!             hazard (polygons, events) ─► router (snap, customize, labels, query, tables) ◄───┘
//!                                               │
//!                                    corridor (route, checkpoints) ─► export (GeoJSON)
//! ```
//!
//! Turn restrictions ([`turns`]) are built into the graph by giving each
//! restricted incoming arc its own copy of the junction node, so the
//! router stays node-based.
//!
//! Routing uses customizable contraction hierarchies (the `cch` crate, a
//! Rust port of RoutingKit): the metric-independent structure is built once
//! at import; a hazard change only re-customizes the metric, and only the
//! part of it the changed roads reach ([`customize`]).

pub mod corridor;
pub mod customize;
pub mod export;
pub mod graph;
pub mod grid;
pub mod hazard;
pub mod labels;
pub mod netfile;
pub mod osm;
pub mod prepare;
pub mod profile;
pub mod roads;
pub mod router;
pub mod segindex;
pub mod turns;

pub use graph::{ImportStats, NetworkMeta, RoadNetwork};
pub use hazard::{HazardArea, HazardSet};
pub use prepare::PreparedNetwork;
pub use profile::Profile;
pub use router::{Route, Router, Snap};

use std::path::Path;

/// A position, WGS 84 degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LatLon {
    pub lat: f64,
    pub lon: f64,
}

impl LatLon {
    pub fn new(lat: f64, lon: f64) -> Self {
        LatLon { lat, lon }
    }
}

impl std::fmt::Display for LatLon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.6},{:.6}", self.lat, self.lon)
    }
}

impl std::str::FromStr for LatLon {
    type Err = GeoError;
    /// `LAT,LON` in decimal degrees, e.g. `36.1710,37.1050`.
    fn from_str(s: &str) -> Result<Self, GeoError> {
        let bad = |why: &str| GeoError::BadPoint { text: s.to_string(), reason: why.to_string() };
        let (a, b) = s.split_once(',').ok_or_else(|| bad("expected LAT,LON, e.g. 36.1710,37.1050"))?;
        let lat: f64 = a.trim().parse().map_err(|_| bad("the latitude is not a number"))?;
        let lon: f64 = b.trim().parse().map_err(|_| bad("the longitude is not a number"))?;
        if !(-90.0..=90.0).contains(&lat) {
            return Err(bad("the latitude must lie in -90..90 (did you swap LAT and LON?)"));
        }
        if !(-180.0..=180.0).contains(&lon) {
            return Err(bad("the longitude must lie in -180..180"));
        }
        Ok(LatLon { lat, lon })
    }
}

/// Reports progress of long work (an import); the CLI draws a bar.
pub trait Progress {
    fn set(&self, done: u64, total: u64);
}

/// Progress nobody watches.
pub struct NoProgress;

impl Progress for NoProgress {
    fn set(&self, _: u64, _: u64) {}
}

/// Everything the map side can refuse, each saying what to do.
#[derive(Debug, thiserror::Error)]
pub enum GeoError {
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{file}: not a readable OpenStreetMap PBF file ({reason}); is it truncated or corrupt? Download the extract again")]
    Pbf { file: String, reason: String },
    #[error("{file}: OpenStreetMap XML error at byte {position}: {reason}")]
    OsmXml { file: String, position: u64, reason: String },
    #[error("{file}: {reason}")]
    GeoJson { file: String, reason: String },
    #[error("{source_name}: no road a bus or ambulance may use ({ways} ways with a highway tag); is this the right extract?")]
    Empty { source_name: String, ways: u64 },
    #[error("{source_name}: no two junctions are connected both ways ({segments} road segments, each one-way with no way back): nothing could be routed there and back; is this the right extract (a town's roads, not one street)?")]
    NotConnected { source_name: String, segments: u64 },
    #[error("{path}: {reason}")]
    NetFile { path: String, reason: String },
    #[error("{path} was prepared for the {has} profile, not for the {want} profile: import the map again with `corridor import MAP --profile {want}` (one prepared network per vehicle profile)")]
    WrongProfile { path: String, has: Profile, want: Profile },
    #[error("{text:?} is not a position: {reason}")]
    BadPoint { text: String, reason: String },
    #[error("the {what} point {at} is {} from the nearest road this vehicle may use (the limit is {}): is it inside the map's area ({bbox}), and not over a road closed to it (a tunnel, a weight limit)?", km_text(*distance_km), km_text(*max_km))]
    TooFar { what: String, at: LatLon, distance_km: f64, max_km: f64, bbox: String },
    #[error("no usable road near the {what} point {at}: every road of the map is closed by a hazard")]
    NoUsableRoad { what: String, at: LatLon },
    #[error("no route from {from} to {to}: {reason}")]
    Unreachable { from: LatLon, to: LatLon, reason: String },
    #[error("corridor {corridor}: {reason}")]
    Corridor { corridor: String, reason: String },
}

/// `0.03` → `30 m`, `2.5` → `2.5 km`.
fn km_text(km: f64) -> String {
    if km < 1.0 { format!("{:.0} m", km * 1000.0) } else { format!("{km:.1} km") }
}

impl GeoError {
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        GeoError::Io { path: path.display().to_string(), source }
    }
}

/// Imports a road network from a file, by its extension: `.osm.pbf`/`.pbf`,
/// `.osm` (XML), `.geojson`/`.json` (LineStrings with OSM tags as properties),
/// keeping the roads, directions and speeds of `profile`.
pub fn import_file(path: &Path, profile: Profile, progress: &dyn Progress) -> Result<RoadNetwork, GeoError> {
    let bytes = std::fs::read(path).map_err(|e| GeoError::io(path, e))?;
    let name = path.display().to_string();
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".pbf") {
        osm::import_pbf(&bytes, &name, profile, progress)
    } else if lower.ends_with(".osm") || lower.ends_with(".xml") {
        osm::import_xml(&bytes, &name, profile, progress)
    } else if lower.ends_with(".geojson") || lower.ends_with(".json") {
        let text = String::from_utf8(bytes).map_err(|_| GeoError::GeoJson { file: name.clone(), reason: "not UTF-8 text".into() })?;
        roads::import_geojson_for(&text, &name, profile)
    } else {
        Err(GeoError::Io {
            path: name,
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "unknown map format: use .osm.pbf, .osm or .geojson"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_points() {
        let p: LatLon = "36.171, 37.105".parse().unwrap();
        assert_eq!((p.lat, p.lon), (36.171, 37.105));
        assert!("37.1".parse::<LatLon>().is_err());
        let e = "137,36".parse::<LatLon>().unwrap_err().to_string();
        assert!(e.contains("swap"), "{e}");
    }
}
