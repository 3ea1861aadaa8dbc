//! Hazard areas: front lines, suspected or confirmed mined areas, closed
//! roads, areas under fire. An area whose status blocks
//! ([`HazardStatus::blocks`]) closes every road segment that crosses it or
//! lies inside it.
//!
//! Areas come from a GeoJSON file (Polygon or MultiPolygon features with
//! properties `id`, optional `status` and `kind`) or from the log's events:
//! `hazard_declared` opens an area, `hazard_status_changed` changes its
//! status (`cleared` or `lifted` reopen its roads: a clearance, a reopening),
//! and a `clearance_recorded` with `completes: true` marks its area cleared.

use std::collections::BTreeMap;

use corridor_model::{Body, Event, HazardKind, HazardStatus};
use geo::{Coord, LineString, MultiPolygon, Polygon, Validation};
use geojson::{GeoJson, GeometryValue as Value};

use crate::GeoError;

/// One hazard area.
#[derive(Debug, Clone, PartialEq)]
pub struct HazardArea {
    pub id: String,
    pub kind: HazardKind,
    pub status: HazardStatus,
    /// `x` = longitude, `y` = latitude.
    pub area: MultiPolygon<f64>,
}

impl HazardArea {
    pub fn blocks(&self) -> bool {
        self.status.blocks()
    }
}

/// The hazard areas known at a moment, by id.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HazardSet {
    pub areas: BTreeMap<String, HazardArea>,
}

fn kind_from(s: &str) -> Option<HazardKind> {
    serde_json::from_value(serde_json::Value::String(s.to_string())).ok()
}

fn status_from(s: &str) -> Option<HazardStatus> {
    serde_json::from_value(serde_json::Value::String(s.to_string())).ok()
}

/// A ring from GeoJSON positions, checked: at least 4 positions, closed, finite WGS 84.
fn ring(positions: &[geojson::Position], at: &str) -> Result<LineString<f64>, String> {
    if positions.len() < 4 {
        return Err(format!("{at}: a polygon ring needs at least 4 positions, it has {}", positions.len()));
    }
    let mut coords = Vec::with_capacity(positions.len());
    for (j, p) in positions.iter().enumerate() {
        let [lon, lat] = match p.as_slice() {
            [lon, lat, ..] => [*lon, *lat],
            _ => return Err(format!("{at}: position {j} needs [lon, lat]")),
        };
        if !(lat.is_finite() && lon.is_finite() && (-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon)) {
            return Err(format!("{at}: position {j} [{lon}, {lat}] is not a WGS 84 [lon, lat]"));
        }
        coords.push(Coord { x: lon, y: lat });
    }
    if coords.first() != coords.last() {
        return Err(format!("{at}: the ring is not closed: its last position must equal its first"));
    }
    Ok(LineString::new(coords))
}

fn polygon(rings: &[Vec<geojson::Position>], at: &str) -> Result<Polygon<f64>, String> {
    let mut it = rings.iter().enumerate();
    let (_, outer) = it.next().ok_or_else(|| format!("{at}: a polygon needs an outer ring"))?;
    let outer = ring(outer, &format!("{at}, outer ring"))?;
    let holes = it.map(|(i, r)| ring(r, &format!("{at}, hole {i}"))).collect::<Result<Vec<_>, _>>()?;
    let p = Polygon::new(outer, holes);
    if let Err(e) = p.check_validation() {
        return Err(format!("{at}: not a valid polygon ({e}); a ring must not cross itself"));
    }
    Ok(p)
}

impl HazardSet {
    /// Reads a GeoJSON FeatureCollection of Polygon/MultiPolygon hazard
    /// areas. Each feature needs a string `id`; `status` defaults to
    /// `active`, `kind` to `closed_road`.
    pub fn from_geojson(text: &str, name: &str) -> Result<HazardSet, GeoError> {
        let bad = |reason: String| GeoError::GeoJson { file: name.to_string(), reason };
        let gj: GeoJson = text.parse().map_err(|e| bad(format!("not GeoJSON: {e}")))?;
        let features = match gj {
            GeoJson::FeatureCollection(fc) => fc.features,
            GeoJson::Feature(f) => vec![f],
            GeoJson::Geometry(_) => return Err(bad("expected a FeatureCollection of hazard polygons with an id each".into())),
        };
        let mut set = HazardSet::default();
        for (i, f) in features.iter().enumerate() {
            let prop = |k: &str| f.properties.as_ref().and_then(|p| p.get(k)).and_then(|v| v.as_str());
            let id = prop("id")
                .map(str::to_string)
                .or_else(|| f.id.as_ref().map(|id| match id {
                    geojson::feature::Id::String(s) => s.clone(),
                    geojson::feature::Id::Number(n) => n.to_string(),
                }))
                .ok_or_else(|| bad(format!("feature {i}: a hazard needs an \"id\" property")))?;
            let at = format!("feature {i} ({id})");
            let status = match prop("status") {
                None => HazardStatus::Active,
                Some(s) => status_from(s).ok_or_else(|| {
                    bad(format!("{at}: status {s:?} is not one of suspected, confirmed, in_clearance, cleared, active, lifted"))
                })?,
            };
            let kind = match prop("kind") {
                None => HazardKind::ClosedRoad,
                Some(s) => kind_from(s).ok_or_else(|| {
                    bad(format!("{at}: kind {s:?} is not one of front_line, suspected_mined, confirmed_mined, closed_road, under_fire"))
                })?,
            };
            let area = match f.geometry.as_ref().map(|g| &g.value) {
                Some(Value::Polygon { coordinates: rings }) => MultiPolygon::new(vec![polygon(rings, &at).map_err(bad)?]),
                Some(Value::MultiPolygon { coordinates: polys }) => MultiPolygon::new(
                    polys.iter().enumerate().map(|(k, p)| polygon(p, &format!("{at}, polygon {k}"))).collect::<Result<_, _>>().map_err(bad)?,
                ),
                Some(other) => {
                    return Err(bad(format!("{at}: a hazard area must be a Polygon or MultiPolygon, not a {}", other.type_name())))
                }
                None => return Err(bad(format!("{at}: no geometry"))),
            };
            if set.areas.insert(id.clone(), HazardArea { id, kind, status, area }).is_some() {
                return Err(bad(format!("{at}: the id is used twice")));
            }
        }
        Ok(set)
    }

    /// Follows one event of the log. Returns true when the set of areas
    /// that block roads changed.
    pub fn apply(&mut self, event: &Event) -> bool {
        let before: Vec<String> = self.blocking_ids().into_iter().map(String::from).collect();
        match &event.body {
            Body::HazardDeclared(h) => {
                let coords = h.ring.iter().map(|&[lon, lat]| Coord { x: lon, y: lat }).collect::<Vec<_>>();
                let area = MultiPolygon::new(vec![Polygon::new(LineString::new(coords), vec![])]);
                self.areas.insert(h.hazard.clone(), HazardArea { id: h.hazard.clone(), kind: h.kind, status: h.status, area });
            }
            Body::HazardStatusChanged(c) => {
                if let Some(a) = self.areas.get_mut(&c.hazard) {
                    a.status = c.status;
                }
            }
            Body::ClearanceRecorded(c) if c.completes => {
                if let Some(a) = c.hazard.as_ref().and_then(|h| self.areas.get_mut(h)) {
                    a.status = HazardStatus::Cleared;
                }
            }
            _ => return false,
        }
        self.blocking_ids() != before.iter().map(String::as_str).collect::<Vec<_>>()
    }

    /// Ids of the areas that block roads now.
    pub fn blocking_ids(&self) -> Vec<&str> {
        self.areas.values().filter(|a| a.blocks()).map(|a| a.id.as_str()).collect()
    }

    pub fn blocking(&self) -> impl Iterator<Item = &HazardArea> {
        self.areas.values().filter(|a| a.blocks())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fc(geom: &str, props: &str) -> String {
        format!(r#"{{"type":"FeatureCollection","features":[{{"type":"Feature","properties":{props},"geometry":{geom}}}]}}"#)
    }

    #[test]
    fn reads_polygons() {
        let t = fc(r#"{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,1],[0,0]]]}"#, r#"{"id":"h1","status":"suspected","kind":"suspected_mined"}"#);
        let s = HazardSet::from_geojson(&t, "h.geojson").unwrap();
        let a = &s.areas["h1"];
        assert_eq!((a.status, a.kind), (HazardStatus::Suspected, HazardKind::SuspectedMined));
        assert!(a.blocks());
    }

    #[test]
    fn refuses_bad_areas() {
        for (geom, props, want) in [
            (r#"{"type":"LineString","coordinates":[[0,0],[1,1]]}"#, r#"{"id":"a"}"#, "must be a Polygon"),
            (r#"{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,1]]]}"#, r#"{"id":"a"}"#, "not closed"),
            (r#"{"type":"Polygon","coordinates":[[[0,0],[1,0],[0,0]]]}"#, r#"{"id":"a"}"#, "at least 4"),
            (r#"{"type":"Polygon","coordinates":[[[0,0],[1,1],[1,0],[0,1],[0,0]]]}"#, r#"{"id":"a"}"#, "cross itself"),
            (r#"{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}"#, r#"{}"#, "needs an \"id\""),
            (r#"{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}"#, r#"{"id":"a","status":"gone"}"#, "status \"gone\""),
        ] {
            let e = HazardSet::from_geojson(&fc(geom, props), "h.geojson").unwrap_err().to_string();
            assert!(e.contains(want), "{want}: {e}");
        }
        assert!(HazardSet::from_geojson("{", "h").unwrap_err().to_string().contains("not GeoJSON"));
    }
}
