//! The map commands through the real binary: import, route (with hazards
//! from a file and from the log), corridor, GeoJSON export, and the errors
//! a user can cause.

mod common;

use common::*;

fn shared(rel: &str) -> String {
    format!("{}/../../../shared/data/{rel}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn import_route_corridor_and_export_on_the_aleppo_districts() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("d");
    let net = tmp.path().join("aleppo.cnet");
    let net = net.to_str().unwrap();
    let out = ok(&d, &["import", "--districts", &shared("aleppo/neighborhoods.geojson"), "--out", net]);
    assert!(out.contains("APPROXIMATE") && out.contains("Columbia Center for Spatial Research"), "{out}");
    let r = ok(&d, &["route", "--map", net, "--from", "36.1540,37.1222", "--to", "36.1700,37.0700"]);
    assert!(r.contains("distance 6.13 km"), "{r}");

    // A hazard across the corridor road, from a file: a detour.
    let hz = tmp.path().join("h.geojson");
    std::fs::write(
        &hz,
        r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"id":"fire-1","kind":"under_fire"},
        "geometry":{"type":"Polygon","coordinates":[[[37.095,36.150],[37.105,36.150],[37.105,36.160],[37.095,36.160],[37.095,36.150]]]}}]}"#,
    )
    .unwrap();
    let r2 = ok(&d, &["route", "--map", net, "--from", "36.1540,37.1222", "--to", "36.1700,37.0700", "--hazards", hz.to_str().unwrap()]);
    assert!(!r2.contains("distance 6.13 km"), "{r2}");

    // The same hazard declared in the log, then cleared there.
    ok(&d, &["init", "--origin", "corridor.invalid/map-test"]);
    let ev = tmp.path().join("e.jsonl");
    std::fs::write(&ev, r#"{"v":1,"id":"hz-1","time":"2016-12-15T06:00:00Z","author":"hq","body":{"hazard_declared":{"hazard":"fire-1","kind":"under_fire","status":"active","ring":[[37.095,36.150],[37.105,36.150],[37.105,36.160],[37.095,36.160],[37.095,36.150]]}}}"#).unwrap();
    ok(&d, &["log", "append", ev.to_str().unwrap()]);
    let r3 = ok(&d, &["route", "--map", net, "--from", "36.1540,37.1222", "--to", "36.1700,37.0700", "--log-hazards"]);
    assert_eq!(r3.lines().nth(1), r2.lines().nth(1), "log hazard = file hazard:\n{r3}\n{r2}");
    std::fs::write(&ev, r#"{"v":1,"id":"hz-1-clear","time":"2016-12-16T06:00:00Z","author":"hq","body":{"hazard_status_changed":{"hazard":"fire-1","status":"cleared"}}}"#).unwrap();
    ok(&d, &["log", "append", ev.to_str().unwrap()]);
    let r4 = ok(&d, &["route", "--map", net, "--from", "36.1540,37.1222", "--to", "36.1700,37.0700", "--log-hazards"]);
    assert!(r4.contains("distance 6.13 km"), "{r4}");

    // A corridor with six checkpoints, as GeoJSON.
    let mut args = vec!["corridor", "--map", net, "--id", "ramouseh-rashidin4", "--entry", "36.1540,37.1222", "--exit", "36.1700,37.0700", "--geojson"];
    let cps: Vec<String> = (0..6).map(|i| format!("cp{}:Checkpoint {}@{}%", i + 1, i + 1, i * 20)).collect();
    for c in &cps {
        args.push("--checkpoint");
        args.push(c);
    }
    let gj: serde_json::Value = serde_json::from_str(&ok(&d, &args)).unwrap();
    let feats = gj["features"].as_array().unwrap();
    assert_eq!(feats.iter().filter(|f| f["properties"]["kind"] == "checkpoint").count(), 6);
    assert_eq!(gj["type"], "FeatureCollection");

    let all = tmp.path().join("net.geojson");
    ok(&d, &["map-geojson", "--map", net, "--out", all.to_str().unwrap()]);
    let gj: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&all).unwrap()).unwrap();
    assert!(gj["attribution"].as_str().unwrap().contains("Columbia"));
}

#[test]
fn user_errors_are_clear() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("d");
    let net = tmp.path().join("k.cnet");
    let net = net.to_str().unwrap();
    let out = ok(&d, &["import", &shared("osm/pyrosm-test.osm.pbf"), "--out", net]);
    assert!(out.contains("largest strongly connected component kept") && out.contains("OpenStreetMap contributors"), "{out}");
    let e = fails(&d, &["route", "--map", net, "--from", "60.53,26.95", "--to", "60.0,26.95"]);
    assert!(e.contains("from the nearest road this vehicle may use"), "{e}");
    let e = fails(&d, &["route", "--map", net, "--from", "260.53,26.95", "--to", "60.0,26.95"]);
    assert!(e.contains("swap"), "{e}");
    let e = fails(&d, &["route", "--map", "/nonexistent.cnet", "--from", "60.53,26.95", "--to", "60.53,26.95"]);
    assert!(e.contains("corridor import"), "{e}");
    let bad = tmp.path().join("bad.osm.pbf");
    std::fs::write(&bad, b"\0\0\0\x0dgarbage").unwrap();
    let e = fails(&d, &["import", bad.to_str().unwrap()]);
    assert!(e.contains("not a readable OpenStreetMap PBF file"), "{e}");
    let hz = tmp.path().join("h.geojson");
    std::fs::write(&hz, r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"id":"x"},"geometry":{"type":"Point","coordinates":[26.95,60.53]}}]}"#).unwrap();
    let e = fails(&d, &["route", "--map", net, "--from", "60.53,26.95", "--to", "60.53,26.95", "--hazards", hz.to_str().unwrap()]);
    assert!(e.contains("must be a Polygon"), "{e}");
}
