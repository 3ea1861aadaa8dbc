//! Fast queries equal plain Dijkstra on real OpenStreetMap extracts (Monaco,
//! OSRM's own test extract; central Helsinki), with and without hazards;
//! routes never cross an active hazard; the prepared file round-trips.

use corridor_geo::corridor::{self, CheckpointSpec, CorridorSpec, Placement};
use corridor_geo::router::DijkstraState;
use corridor_geo::turns::TurnRule;
use corridor_geo::{netfile, HazardArea, HazardSet, LatLon, NoProgress, PreparedNetwork, RoadNetwork, Router};

mod common;
use corridor_model::{HazardKind, HazardStatus};
use geo::{Coord, Intersects, Line, LineString, MultiPolygon, Polygon};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn data(rel: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data").join(rel)
}

fn prepared(map: &str) -> PreparedNetwork {
    let net = corridor_geo::import_file(&data(map), corridor_geo::Profile::Car, &NoProgress).expect("import");
    PreparedNetwork::prepare(net)
}

/// The map with its destination roads opened to through traffic, for the
/// tests of snapping and queries against plain Dijkstra between segment
/// ends (destination roads have their own oracle in `tests/profiles.rs`).
fn prepared_open(map: &str) -> PreparedNetwork {
    let mut net = corridor_geo::import_file(&data(map), corridor_geo::Profile::Car, &NoProgress).expect("import");
    net.destination.iter_mut().for_each(|d| *d = false);
    PreparedNetwork::prepare(net)
}

/// The map with its destination roads opened, without its turn
/// restrictions (one node per junction) and with them built in, and the
/// turns they govern: the turn-aware oracle runs on the first.
fn open_parts(map: &str) -> (RoadNetwork, Vec<TurnRule>, PreparedNetwork) {
    let bytes = std::fs::read(data(map)).unwrap();
    let (mut net, rules) = corridor_geo::osm::import_pbf_parts(&bytes, map, corridor_geo::Profile::Car, &NoProgress).expect("import");
    net.destination.iter_mut().for_each(|d| *d = false);
    let split = corridor_geo::turns::split_turns(net.clone(), &rules);
    (net, rules, PreparedNetwork::prepare(split))
}

/// A square hazard of `half` metres around a node.
fn square(id: &str, lat: f64, lon: f64, half: f64) -> HazardArea {
    let dlat = half / 111_000.0;
    let dlon = half / (111_000.0 * lat.to_radians().cos());
    let ring = vec![
        Coord { x: lon - dlon, y: lat - dlat },
        Coord { x: lon + dlon, y: lat - dlat },
        Coord { x: lon + dlon, y: lat + dlat },
        Coord { x: lon - dlon, y: lat + dlat },
        Coord { x: lon - dlon, y: lat - dlat },
    ];
    HazardArea {
        id: id.into(),
        kind: HazardKind::UnderFire,
        status: HazardStatus::Active,
        area: MultiPolygon::new(vec![Polygon::new(LineString::new(ring), vec![])]),
    }
}

/// `pairs` random node pairs: CCH time == Dijkstra time (both `None` when cut off).
fn check_pairs(router: &Router, rng: &mut StdRng, pairs: usize) -> (usize, usize) {
    let n = router.network().node_count() as u32;
    let mut st = router.new_state();
    let mut dj = DijkstraState::new(n as usize);
    let mut unreachable = 0;
    for i in 0..pairs {
        let (s, t) = (rng.gen_range(0..n), rng.gen_range(0..n));
        let fast = router.node_time(&mut st, s, t);
        let slow = router.dijkstra(&mut dj, s, t);
        assert_eq!(fast, slow, "pair {i}: {s} -> {t}");
        unreachable += usize::from(slow.is_none());
    }
    (pairs, unreachable)
}

fn hazards_around(router: &Router, rng: &mut StdRng, count: usize) -> HazardSet {
    let net = router.network();
    let mut set = HazardSet::default();
    for k in 0..count {
        let v = rng.gen_range(0..net.node_count());
        let h = square(&format!("h{k}"), net.lat[v], net.lon[v], rng.gen_range(30.0..250.0));
        set.areas.insert(h.id.clone(), h);
    }
    set
}

fn equals_dijkstra(map: &str) {
    // Open roads only, no turn restrictions: one strongly connected
    // component. (A turn restriction can leave a junction's own node with
    // no way in, every arc into it restricted: the router reaches such a
    // junction through its copies, see `corridor_geo::turns`.)
    let (net, _, _) = open_parts(map);
    let open = Router::new(PreparedNetwork::prepare(net));
    let (_, cut) = check_pairs(&open, &mut StdRng::seed_from_u64(7946), 2_000);
    assert_eq!(cut, 0, "{map}: one strongly connected component, every pair reachable");
    // With the turn restrictions: still the node-to-node Dijkstra's answers.
    let open = Router::new(prepared_open(map));
    let (n, cut) = check_pairs(&open, &mut StdRng::seed_from_u64(7946), 2_000);
    eprintln!("{map}: with turn restrictions, {n} pairs equal Dijkstra ({cut} cut off)");
    // With destination roads closed to through routes, node to node.
    let mut router = Router::new(prepared(map));
    assert!(router.network().destination.iter().any(|&d| d), "{map} has destination roads");
    let mut rng = StdRng::seed_from_u64(7946);
    // A new router has no top labels yet (the plain query answers).
    assert!(router.labels().is_none(), "{map}: labels computed by Router::new");
    let (n, _) = check_pairs(&router, &mut rng, 2_000);
    eprintln!("{map}: {n} pairs equal Dijkstra without hazards, before the labels");
    let computed = router.refresh_labels();
    assert!(computed > 0 && router.labels().is_some_and(|l| l.stale_count() == 0), "{map}: refresh_labels computes them ({computed})");
    let (n, _) = check_pairs(&router, &mut rng, 10_000);
    eprintln!("{map}: {n} pairs equal Dijkstra without hazards, with the labels");
    // Hazards on, changed, then lifted: each time the partial update must
    // give Dijkstra's answers on the new weights.
    for round in 0..3 {
        let set = hazards_around(&router, &mut rng, 4 + 4 * round);
        let up = router.set_hazards(set);
        assert!(up.blocked_arcs > 0, "{map}: the hazards close some road");
        let (n, cut) = check_pairs(&router, &mut rng, 10_000 / 3 + 1);
        eprintln!("{map}: round {round}: {} arcs closed, {n} pairs equal Dijkstra ({cut} cut off)", up.blocked_arcs);
    }
    let up = router.set_hazards(HazardSet::default());
    assert_eq!(up.blocked_arcs, 0);
    check_pairs(&router, &mut rng, 1_000);
}

#[test]
fn monaco_equals_dijkstra() {
    equals_dijkstra("osm/monaco.osm.pbf");
}

#[test]
fn helsinki_equals_dijkstra() {
    equals_dijkstra("osm/helsinki.osm.pbf");
}

/// Labels first computed after a hazard closed roads are the hazard's:
/// node queries stay equal to Dijkstra before and after, and after the
/// hazard is lifted.
#[test]
fn labels_computed_after_a_hazard_are_exact() {
    let mut router = Router::new(prepared_open("osm/monaco.osm.pbf"));
    let mut rng = StdRng::seed_from_u64(2212);
    let set = hazards_around(&router, &mut rng, 6);
    let up = router.set_hazards(set);
    assert!(up.blocked_arcs > 0 && up.labels_stale == 0, "{up:?}");
    check_pairs(&router, &mut rng, 1_000);
    assert!(router.refresh_labels() > 0);
    assert_eq!(router.refresh_labels(), 0, "nothing stale the second time");
    check_pairs(&router, &mut rng, 2_000);
    let up = router.set_hazards(HazardSet::default());
    assert!(up.labels_stale > 0, "lifting the hazard makes labels stale: {up:?}");
    check_pairs(&router, &mut rng, 1_000);
    assert!(router.refresh_labels() > 0);
    check_pairs(&router, &mut rng, 1_000);
}

#[test]
fn routes_follow_roads_and_avoid_hazards() {
    let mut router = Router::new(prepared("osm/monaco.osm.pbf"));
    let mut st = router.new_state();
    // Across Monaco: Fontvieille to Monte-Carlo.
    let (a, b) = (LatLon::new(43.7296, 7.4167), LatLon::new(43.7425, 7.4270));
    let r = router.route(&mut st, a, b).unwrap();
    assert!(r.length_m > 1_000.0 && r.length_m < 6_000.0, "{}", r.length_m);
    // The time is the sum of the arcs driven plus the two partial segments.
    let net = router.network();
    let arcs: u64 = r.arcs.iter().map(|&x| u64::from(net.time_ms[x as usize])).sum();
    assert!(arcs <= r.time_ms, "{arcs} > {}", r.time_ms);
    for w in r.arcs.windows(2) {
        assert_eq!(net.head[w[0] as usize], net.tail[w[1] as usize], "arcs chain");
    }
    // Close a square over the middle of that route: the new route is slower
    // and no segment of it touches the square.
    let mid = r.points[r.points.len() / 2];
    let h = square("mid", mid.lat, mid.lon, 60.0);
    let area = h.area.clone();
    let mut set = HazardSet::default();
    set.areas.insert(h.id.clone(), h);
    router.set_hazards(set);
    let r2 = router.route(&mut st, a, b).unwrap();
    assert!(r2.time_ms > r.time_ms, "{} vs {}", r2.time_ms, r.time_ms);
    for w in r2.points.windows(2) {
        let l = Line::new((w[0].lon, w[0].lat), (w[1].lon, w[1].lat));
        assert!(!l.intersects(&area), "the detour crosses the hazard at {:?}", w);
    }
    // A table agrees with one-to-one routes.
    let pts = [a, b, LatLon::new(43.7350, 7.4210), LatLon::new(43.7390, 7.4240)];
    let snaps: Vec<_> = pts.iter().map(|&p| router.snap(p, "point").unwrap()).collect();
    let table = router.table(&mut st, &snaps, &snaps);
    for (i, &p) in pts.iter().enumerate() {
        for (j, &q) in pts.iter().enumerate() {
            let one = router.route_snapped(&mut st, snaps[i].clone(), snaps[j].clone()).map(|r| r.time_ms as u32).ok();
            assert_eq!(table[i * pts.len() + j], one, "{i} -> {j}");
            // A route may start and end on other candidates near p and q: never slower.
            if let (Some(one), Ok(r)) = (one, router.route(&mut st, p, q)) {
                assert!(r.time_ms as u32 <= one, "{i} -> {j}");
            }
        }
    }
}

#[test]
fn far_points_and_enclosed_destinations_are_refused() {
    let mut router = Router::new(prepared("osm/monaco.osm.pbf"));
    let mut st = router.new_state();
    let far = router.route(&mut st, LatLon::new(43.7296, 7.4167), LatLon::new(43.30, 7.42)).unwrap_err().to_string();
    assert!(far.contains("from the nearest road this vehicle may use"), "{far}");
    // A ring of hazard around a destination: a big square with a hole.
    let (lat, lon) = (43.7390, 7.4240);
    let outer = square("o", lat, lon, 400.0).area.0[0].exterior().clone();
    let inner = square("i", lat, lon, 250.0).area.0[0].exterior().clone();
    let mut set = HazardSet::default();
    set.areas.insert(
        "ring".into(),
        HazardArea { id: "ring".into(), kind: HazardKind::FrontLine, status: HazardStatus::Active, area: MultiPolygon::new(vec![Polygon::new(outer, vec![inner])]) },
    );
    router.set_hazards(set);
    let e = router.route(&mut st, LatLon::new(43.7296, 7.4167), LatLon::new(lat, lon)).unwrap_err().to_string();
    assert!(e.contains("no route") && e.contains("ring"), "{e}");
}

#[test]
fn corridor_places_checkpoints_in_order() {
    let router = Router::new(prepared("osm/monaco.osm.pbf"));
    let mut st = router.new_state();
    let spec = CorridorSpec {
        id: "c1".into(),
        name: "test".into(),
        entry: LatLon::new(43.7296, 7.4167),
        exit: LatLon::new(43.7425, 7.4270),
        via: vec![LatLon::new(43.7350, 7.4210)],
        checkpoints: vec![
            CheckpointSpec { id: "end".into(), name: "near the end".into(), at: Placement::Fraction(0.9) },
            CheckpointSpec { id: "start".into(), name: "start".into(), at: Placement::Distance(0.0) },
            CheckpointSpec { id: "via".into(), name: "at the via point".into(), at: Placement::Position(LatLon::new(43.7350, 7.4210)) },
        ],
    };
    let c = corridor::plan(&router, &mut st, &spec).unwrap();
    let ids: Vec<_> = c.checkpoints.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["start", "via", "end"]);
    assert!((c.checkpoints[2].distance_m - 0.9 * c.length_m).abs() < 1.0);
    assert!(c.checkpoints[1].offset_m < 100.0);
    assert_eq!(c.legs.len(), 2);
    let fc = corridor_geo::export::collection(corridor_geo::export::corridor_features(&c, false), "© OpenStreetMap contributors");
    assert_eq!(fc["features"].as_array().unwrap().len(), 4);
}

#[test]
fn prepared_file_round_trips_and_refuses_damage() {
    let p = prepared("osm/pyrosm-test.osm.pbf");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.cnet");
    netfile::write(&p, &path).unwrap();
    let q = netfile::read(&path).unwrap();
    assert_eq!(p.net, q.net);
    assert_eq!(p.cch, q.cch);
    assert_eq!(p.base_metric, q.base_metric);
    let bytes = std::fs::read(&path).unwrap();
    let name = "k.cnet";
    // A flipped byte, a truncation, an older version, another file.
    let mut flipped = bytes.clone();
    let i = bytes.len() / 2;
    flipped[i] ^= 0x40;
    assert!(netfile::from_bytes(&flipped, name).unwrap_err().to_string().contains("checksum"));
    assert!(netfile::from_bytes(&bytes[..bytes.len() - 10], name).unwrap_err().to_string().contains("truncated"));
    let mut old = bytes.clone();
    old[16..20].copy_from_slice(&0u32.to_le_bytes());
    let e = netfile::from_bytes(&old, name).unwrap_err().to_string();
    assert!(e.contains("stale") && e.contains("corridor import"), "{e}");
    assert!(netfile::from_bytes(b"hello", name).unwrap_err().to_string().contains("not a Corridor"));
    // The same from files on disk (`read` streams the arrays from the
    // file, checksumming as it goes): each refused, naming the file.
    let on_disk = |b: &[u8]| {
        let f = dir.path().join("d.cnet");
        std::fs::write(&f, b).unwrap();
        let e = netfile::read(&f).unwrap_err().to_string();
        assert!(e.contains("d.cnet"), "{e}");
        e
    };
    assert!(on_disk(&flipped).contains("checksum"));
    assert!(on_disk(&bytes[..bytes.len() - 10]).contains("truncated"));
    assert!(on_disk(&old).contains("stale"));
    assert!(on_disk(b"hello").contains("not a Corridor"));
    assert!(on_disk(&bytes[..40]).contains("truncated"));
    // A damaged array length with a checksum that matches the damage:
    // refused as inconsistent, not read past the end or allocated.
    let payload_at = 32;
    let mut long = bytes.clone();
    // The first field is the source's length.
    long[payload_at..payload_at + 8].copy_from_slice(&u64::MAX.to_le_bytes());
    let crc = crc32fast::hash(&long[payload_at..]);
    long[28..32].copy_from_slice(&crc.to_le_bytes());
    let e = on_disk(&long);
    assert!(e.contains("inconsistent") && e.contains("longer than the file"), "{e}");
    // The same damage with the old checksum: called corrupt.
    long[28..32].copy_from_slice(&bytes[28..32]);
    assert!(on_disk(&long).contains("checksum"));
}

/// Routes between random positions: the time is the arcs driven plus the
/// partial segments at both ends, and equals the turn-aware Dijkstra
/// (`common::TurnOracle`, on the network without the restrictions built
/// in) from the start's segment to the destination's.
#[test]
fn snapped_routes_equal_dijkstra_between_segment_ends() {
    let (net0, rules, p) = open_parts("osm/monaco.osm.pbf");
    assert!(!rules.is_empty(), "Monaco has turn restrictions");
    let oracle = common::TurnOracle::new(&net0, &rules);
    let router = Router::new(p);
    let net = router.network();
    let mut st = router.new_state();
    let mut rng = StdRng::seed_from_u64(6962);
    let (lat0, lat1) = net.lat.iter().fold((f64::MAX, f64::MIN), |(a, b), &x| (a.min(x), b.max(x)));
    let (lon0, lon1) = net.lon.iter().fold((f64::MAX, f64::MIN), |(a, b), &x| (a.min(x), b.max(x)));
    let w = |a: u32| f64::from(net.time_ms[a as usize]);
    let mut checked = 0;
    for i in 0..1_000 {
        let p = LatLon::new(rng.gen_range(lat0..lat1), rng.gen_range(lon0..lon1));
        let q = LatLon::new(rng.gen_range(lat0..lat1), rng.gen_range(lon0..lon1));
        let Ok(r) = router.route(&mut st, p, q) else { continue };
        let (f, t) = (&r.from, &r.to);
        // Sum of the pieces.
        let arcs: u64 = r.arcs.iter().map(|&a| u64::from(net.time_ms[a as usize])).sum();
        let part = |x: Option<(u32, f64)>| x.map(|(a, s)| (s * w(a)).round() as u64).unwrap_or(0);
        let pieces = arcs + part(r.first_part) + part(r.last_part);
        assert!(pieces.abs_diff(r.time_ms) <= 1, "route {i}: {} vs pieces {pieces}", r.time_ms);
        for w in r.arcs.windows(2) {
            assert_eq!(net.head[w[0] as usize], net.tail[w[1] as usize], "route {i}: arcs chain");
        }
        // The turn-aware Dijkstra between the chosen snaps.
        let (best, shares) = oracle.between(std::slice::from_ref(f), std::slice::from_ref(t));
        let best = best.unwrap_or_else(|| panic!("route {i}: the router finds a route, the oracle none"));
        if shares {
            assert!(r.time_ms <= best, "route {i}");
        } else {
            assert_eq!(r.time_ms, best, "route {i}");
            checked += 1;
        }
    }
    assert!(checked > 500, "{checked}");
}

/// Routes between random positions choose among each end's snap
/// candidates: the time equals the turn-aware Dijkstra from every start
/// candidate at once to the best end candidate (or a drive along one
/// segment, when a start and an end candidate share it), and is never
/// slower than the nearest segments alone.
#[test]
fn routes_choose_among_snap_candidates_as_dijkstra_does() {
    let (net0, rules, p) = open_parts("osm/monaco.osm.pbf");
    let oracle = common::TurnOracle::new(&net0, &rules);
    let router = Router::new(p);
    let net = router.network();
    let mut st = router.new_state();
    let mut rng = StdRng::seed_from_u64(22);
    let (mut several, mut unreachable) = (0, 0);
    for i in 0..1_000 {
        let v = rng.gen_range(0..net.node_count());
        let u = rng.gen_range(0..net.node_count());
        let m = 30.0 / 111_000.0;
        let p = LatLon::new(net.lat[v] + rng.gen_range(-m..m), net.lon[v] + rng.gen_range(-m..m));
        let q = LatLon::new(net.lat[u] + rng.gen_range(-m..m), net.lon[u] + rng.gen_range(-m..m));
        let (Ok(fs), Ok(ts)) = (router.snap_candidates(p, "start"), router.snap_candidates(q, "destination")) else { continue };
        several += usize::from(fs.len() > 1 || ts.len() > 1);
        let (best, shares_segment) = oracle.between(&fs, &ts);
        let Ok(r) = router.route(&mut st, p, q) else {
            assert!(best.is_none(), "route {i}: the oracle finds a route, the router none");
            unreachable += 1;
            continue;
        };
        let best = best.unwrap_or(u64::MAX);
        if shares_segment {
            assert!(r.time_ms <= best, "route {i}");
        } else {
            assert_eq!(r.time_ms, best, "route {i}");
        }
        if let Ok(alone) = router.route_snapped(&mut st, fs[0].clone(), ts[0].clone()) {
            assert!(r.time_ms <= alone.time_ms, "route {i}");
        }
    }
    assert!(several > 100, "only {several} positions had more than one candidate");
    assert!(unreachable < 20, "{unreachable} unreachable");
}
