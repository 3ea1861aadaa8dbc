//! Road networks from GeoJSON: `LineString` / `MultiLineString` features
//! whose properties are OpenStreetMap tags (`highway`, `name`, `oneway`,
//! `maxspeed`, `lanes`, …), the form humanitarian data portals distribute
//! roads in. Lines join where they share a coordinate exactly. Other
//! geometries are skipped. Two optional properties are Corridor's own:
//! `detour_factor` (a number ≥ 1 that stretches a coarse straight-line
//! geometry to street length) and `approximate` (true marks the whole
//! network approximate); `attribution` is carried into the network.

use std::collections::HashMap;

use geojson::{GeoJson, GeometryValue as Value};

use crate::graph::{NetworkBuilder, NetworkMeta, RoadNetwork};
use crate::profile::Profile;
use crate::GeoError;

/// Imports a GeoJSON road layer for the car profile. `name` names it in
/// errors and the network's metadata.
pub fn import_geojson(text: &str, name: &str) -> Result<RoadNetwork, GeoError> {
    import_geojson_for(text, name, Profile::Car)
}

/// Imports a GeoJSON road layer with `profile`'s rules.
pub fn import_geojson_for(text: &str, name: &str, profile: Profile) -> Result<RoadNetwork, GeoError> {
    let bad = |reason: String| GeoError::GeoJson { file: name.to_string(), reason };
    let gj: GeoJson = text.parse().map_err(|e| bad(format!("not GeoJSON: {e}")))?;
    let GeoJson::FeatureCollection(fc) = gj else {
        return Err(bad("expected a FeatureCollection of LineString roads".into()));
    };
    let mut b = NetworkBuilder::for_profile(profile);
    let mut keys: HashMap<(u64, u64), i64> = HashMap::new();
    let mut meta = NetworkMeta { source: name.to_string(), ..Default::default() };
    let (mut highway, mut usable) = (0u64, 0u64);
    for (i, f) in fc.features.iter().enumerate() {
        let Some(geom) = &f.geometry else { continue };
        let lines: Vec<&Vec<geojson::Position>> = match &geom.value {
            Value::LineString { coordinates: l } => vec![l],
            Value::MultiLineString { coordinates: ls } => ls.iter().collect(),
            _ => continue,
        };
        let mut tags: Vec<(String, String)> = Vec::new();
        let mut detour = 1.0;
        if let Some(props) = &f.properties {
            for (k, v) in props {
                match (k.as_str(), v) {
                    ("detour_factor", v) => {
                        detour = v.as_f64().filter(|d| d.is_finite() && *d >= 1.0).ok_or_else(|| {
                            bad(format!("feature {i}: detour_factor must be a number ≥ 1, not {v}"))
                        })?;
                    }
                    ("approximate", serde_json::Value::Bool(true)) => meta.approximate = true,
                    ("attribution", serde_json::Value::String(s)) if meta.attribution.is_empty() => meta.attribution = s.clone(),
                    (_, serde_json::Value::String(s)) => tags.push((k.clone(), s.clone())),
                    (_, serde_json::Value::Number(n)) => tags.push((k.clone(), n.to_string())),
                    (_, serde_json::Value::Bool(t)) => tags.push((k.clone(), if *t { "yes" } else { "no" }.into())),
                    _ => {}
                }
            }
        }
        if tags.iter().any(|(k, _)| k == "highway") {
            highway += 1;
        }
        let mut any = false;
        for line in lines {
            let mut nodes = Vec::with_capacity(line.len());
            for (j, p) in line.iter().enumerate() {
                let (lon, lat) = match p.as_slice() {
                    [lon, lat, ..] => (*lon, *lat),
                    _ => return Err(bad(format!("feature {i}: position {j} needs [lon, lat]"))),
                };
                if !(lat.is_finite() && lon.is_finite() && (-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon)) {
                    return Err(bad(format!("feature {i}: position {j} [{lon}, {lat}] is not a WGS 84 [lon, lat]")));
                }
                let n = keys.len() as i64;
                let key = *keys.entry((lon.to_bits(), lat.to_bits())).or_insert(n);
                nodes.push((key, lat, lon));
            }
            if nodes.len() >= 2 {
                any |= b.add_way(&nodes, &tags, detour);
            }
        }
        usable += u64::from(any);
    }
    b.stats_mut().highway_ways = highway;
    b.stats_mut().usable_ways = usable;
    b.finish(meta)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_join_on_shared_coordinates() {
        let text = r#"{"type":"FeatureCollection","features":[
          {"type":"Feature","properties":{"highway":"primary","name":"A","detour_factor":1.5,"approximate":true},
           "geometry":{"type":"LineString","coordinates":[[37.0,36.0],[37.01,36.0]]}},
          {"type":"Feature","properties":{"highway":"primary","name":"B"},
           "geometry":{"type":"LineString","coordinates":[[37.01,36.0],[37.0,36.0]]}},
          {"type":"Feature","properties":{"name":"a point"},"geometry":{"type":"Point","coordinates":[37.0,36.0]}}]}"#;
        let net = import_geojson(text, "t.geojson").unwrap();
        assert_eq!(net.node_count(), 2);
        assert_eq!(net.arc_count(), 4);
        assert!(net.meta.approximate);
        let a = (0..4).find(|&a| net.name_of(a) == "A").unwrap();
        let b = (0..4).find(|&a| net.name_of(a) == "B").unwrap();
        assert!((net.length_m[a] / net.length_m[b] - 1.5).abs() < 1e-4);
    }

    #[test]
    fn bad_input_is_named() {
        for (text, want) in [
            ("[1,2]", "not GeoJSON"),
            (r#"{"type":"Point","coordinates":[1,2]}"#, "FeatureCollection"),
            (r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"highway":"primary"},"geometry":{"type":"LineString","coordinates":[[37,136],[37,36]]}}]}"#, "feature 0: position 0"),
            (r#"{"type":"FeatureCollection","features":[]}"#, "no road"),
        ] {
            let e = import_geojson(text, "t.geojson").unwrap_err().to_string();
            assert!(e.contains(want), "{e}");
        }
    }
}
