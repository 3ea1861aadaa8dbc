//! The reference case's map: the approximate Aleppo district network derived
//! from the real neighbourhood geometry. The corridor from the Ad-Ramouseh
//! districts to Rashidin-4 is found; a hazard across the direct road forces
//! a detour that never crosses it; a destination enclosed by hazards is
//! refused as unreachable.

use corridor_geo::{roads, HazardArea, HazardSet, LatLon, PreparedNetwork, Router};
use corridor_model::{Body, Clearance, Event, HazardKind, HazardStatus, HazardStatusChange};
use geo::{Coord, Intersects, Line, LineString, MultiPolygon, Polygon};

fn network() -> (Router, serde_json::Value) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/aleppo/neighborhoods.geojson");
    let text = std::fs::read_to_string(path).expect("the shared data folder beside the project");
    let fc = corridor_aleppo::district_network(&text).unwrap();
    let net = roads::import_geojson(&fc.to_string(), "aleppo districts").unwrap();
    assert!(net.meta.approximate, "the derived network is labelled approximate");
    assert_eq!(net.meta.stats.dropped_nodes(), 0, "the district network is strongly connected");
    (Router::new(PreparedNetwork::prepare(net)), fc)
}

fn place(id: &str) -> LatLon {
    let p = corridor_aleppo::place(id).unwrap();
    LatLon::new(p.lat, p.lon)
}

fn districts(fc: &serde_json::Value, prefix: &str) -> Vec<LatLon> {
    fc["features"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["properties"]["kind"] == "district" && f["properties"]["name"].as_str().unwrap().starts_with(prefix))
        .map(|f| LatLon::new(f["geometry"]["coordinates"][1].as_f64().unwrap(), f["geometry"]["coordinates"][0].as_f64().unwrap()))
        .collect()
}

/// A circle (as a 32-gon) of `r` metres, optionally with a hole of `hole` metres.
fn disc(c: LatLon, r: f64, hole: Option<f64>) -> MultiPolygon<f64> {
    let ring = |r: f64| {
        let mut pts: Vec<Coord<f64>> = (0..32)
            .map(|i| {
                let a = f64::from(i) / 32.0 * std::f64::consts::TAU;
                Coord { x: c.lon + r * a.cos() / (111_320.0 * c.lat.to_radians().cos()), y: c.lat + r * a.sin() / 110_574.0 }
            })
            .collect();
        pts.push(pts[0]);
        LineString::new(pts)
    };
    MultiPolygon::new(vec![Polygon::new(ring(r), hole.map(ring).into_iter().collect())])
}

fn crosses(points: &[LatLon], area: &MultiPolygon<f64>) -> bool {
    points.windows(2).any(|w| Line::new((w[0].lon, w[0].lat), (w[1].lon, w[1].lat)).intersects(area))
}

#[test]
fn ramouseh_to_rashidin_4() {
    let (mut router, fc) = network();
    let mut st = router.new_state();
    let ramouseh = districts(&fc, "Ad-Ramouseh");
    assert_eq!(ramouseh.len(), 4);
    let bridge = router.route(&mut st, place(corridor_aleppo::RAMOUSEH_BRIDGE), place(corridor_aleppo::RASHIDIN_4)).unwrap();
    eprintln!("Ramouseh bridge → Rashidin-4: {:.2} km, {:.1} min", bridge.length_m / 1000.0, bridge.time_ms as f64 / 60_000.0);
    // The seeds say "about 6 km".
    assert!((5_000.0..7_500.0).contains(&bridge.length_m), "{}", bridge.length_m);
    for (i, &d) in ramouseh.iter().enumerate() {
        let r = router.route(&mut st, d, place(corridor_aleppo::RASHIDIN_4)).unwrap();
        eprintln!("Ad-Ramouseh district {} → Rashidin-4: {:.2} km", i + 1, r.length_m / 1000.0);
        assert!(r.length_m > bridge.length_m * 0.8 && r.length_m < bridge.length_m + 5_000.0, "{}", r.length_m);
    }

    // A hazard across the corridor road, mid-way: the detour never crosses it.
    let mid = bridge.points[bridge.points.len() / 2];
    let area = disc(mid, 400.0, None);
    let mut set = HazardSet::default();
    set.areas.insert("fire".into(), HazardArea { id: "fire".into(), kind: HazardKind::UnderFire, status: HazardStatus::Active, area: area.clone() });
    let up = router.set_hazards(set.clone());
    assert!(up.blocked_arcs >= 2, "the hazard closes the corridor road");
    let detour = router.route(&mut st, place(corridor_aleppo::RAMOUSEH_BRIDGE), place(corridor_aleppo::RASHIDIN_4)).unwrap();
    eprintln!("with a hazard across it: {:.2} km, {:.1} min", detour.length_m / 1000.0, detour.time_ms as f64 / 60_000.0);
    assert!(detour.time_ms > bridge.time_ms);
    assert!(!crosses(&detour.points, &area), "the detour crosses the hazard");
    assert!(crosses(&bridge.points, &area), "the test hazard does lie across the direct road");

    // The hazard is cleared through the log's events: the direct road is used again.
    let ev = |id: &str, body: Body| Event { v: 1, id: id.into(), time: "2016-12-16T08:00:00Z".parse().unwrap(), author: "hq".into(), body };
    let mut set2 = set;
    assert!(set2.apply(&ev("c1", Body::ClearanceRecorded(Clearance {
        record: "c1".into(),
        hazard: Some("fire".into()),
        district: "x".into(),
        hectares: 1.0,
        road_km: 0.5,
        buildings: 0,
        team: "t".into(),
        completes: true,
    }))));
    router.set_hazards(set2.clone());
    let again = router.route(&mut st, place(corridor_aleppo::RAMOUSEH_BRIDGE), place(corridor_aleppo::RASHIDIN_4)).unwrap();
    assert_eq!(again.time_ms, bridge.time_ms);
    // …and closed again by a status change.
    assert!(set2.apply(&ev("s1", Body::HazardStatusChanged(HazardStatusChange { hazard: "fire".into(), status: HazardStatus::Active }))));
    router.set_hazards(set2);
    assert_eq!(router.route(&mut st, place(corridor_aleppo::RAMOUSEH_BRIDGE), place(corridor_aleppo::RASHIDIN_4)).unwrap().time_ms, detour.time_ms);
}

#[test]
fn an_enclosed_destination_is_unreachable() {
    let (mut router, fc) = network();
    let mut st = router.new_state();
    // A district in the middle of the city, ringed by a front line: the
    // roads inside the ring are usable but lead nowhere.
    // The hole holds the district's node and its streets to its borders.
    let target = districts(&fc, "Bustan al-Qasr").into_iter().next().unwrap_or_else(|| districts(&fc, "")[60]);
    let net = router.network();
    let v = (0..net.node_count()).min_by(|&a, &b| {
        let d = |x: usize| (net.lat[x] - target.lat).powi(2) + (net.lon[x] - target.lon).powi(2);
        d(a).total_cmp(&d(b))
    }).unwrap() as u32;
    let reach = net.arcs_of(v).map(|a| f64::from(net.length_m[a])).fold(0.0, f64::max);
    let ring = disc(target, reach + 1500.0, Some(reach + 50.0));
    let mut set = HazardSet::default();
    set.areas.insert("ring".into(), HazardArea { id: "ring".into(), kind: HazardKind::FrontLine, status: HazardStatus::Active, area: ring });
    router.set_hazards(set);
    let snap = router.snap(target, "destination").unwrap();
    assert!(snap.distance_m < 1.0, "the destination snaps to a road inside the ring ({} m)", snap.distance_m);
    let e = router.route(&mut st, place(corridor_aleppo::RAMOUSEH_BRIDGE), target).unwrap_err().to_string();
    eprintln!("{e}");
    assert!(e.contains("no route") && e.contains("crosses an active hazard area (ring)"), "{e}");
}
