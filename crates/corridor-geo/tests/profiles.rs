//! The vehicle profiles on small maps, each built in the test as OSM XML
//! from a node map in the style of OSRM's cucumber tests
//! (`features/car/*.feature` in Project-OSRM/osrm-backend: a character
//! grid, 100 m between neighbouring cells, ways named by their nodes):
//! one-ways, barriers, weight and height limits and the Helsinki service
//! tunnel, routed on the CCH and checked against plain Dijkstra; and the
//! profile a prepared network was made for, kept in its file and checked.

mod common;
use corridor_geo::{netfile, osm, LatLon, NoProgress, PreparedNetwork, Profile, Route, Router};

/// Degrees per 100 m at the equator (the grid's cell).
const CELL: f64 = 100.0 / 111_320.0;

struct Map {
    /// Node character → (id, lat, lon).
    nodes: Vec<(char, i64, f64, f64)>,
    xml: String,
}

/// A turn restriction as OSRM's feature tables write it: from way, via
/// node, to way (ways by their names, which may be written backwards as
/// OSRM's tables do), and the relation's tags besides `type=restriction`.
type Rel<'a> = (&'a str, char, &'a str, &'a [(&'a str, &'a str)]);

impl Map {
    /// `grid`: a node map; `ways`: node characters and extra tags (the
    /// way is named after its nodes, `highway=primary` unless given);
    /// `node_tags`: tags on single nodes.
    fn new(grid: &str, ways: &[(&str, &[(&str, &str)])], node_tags: &[(char, &[(&str, &str)])]) -> Map {
        Map::with_cell(CELL, grid, ways, node_tags)
    }

    /// As [`Map::new`], with `cell` degrees between neighbouring cells.
    fn with_cell(cell: f64, grid: &str, ways: &[(&str, &[(&str, &str)])], node_tags: &[(char, &[(&str, &str)])]) -> Map {
        let mut nodes = Vec::new();
        for (row, line) in grid.lines().enumerate() {
            for (col, c) in line.chars().enumerate() {
                if c.is_ascii_alphanumeric() {
                    nodes.push((c, nodes.len() as i64 + 1, 1.0 - row as f64 * cell, 1.0 + col as f64 * cell));
                }
            }
        }
        let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<osm version=\"0.6\" generator=\"test\">\n");
        for &(c, id, lat, lon) in &nodes {
            let tags = node_tags.iter().find(|(n, _)| *n == c).map(|(_, t)| *t).unwrap_or(&[]);
            xml += &format!("  <node id=\"{id}\" lat=\"{lat:.9}\" lon=\"{lon:.9}\">");
            for (k, v) in tags {
                xml += &format!("<tag k=\"{k}\" v=\"{v}\"/>");
            }
            xml += "</node>\n";
        }
        for (i, (way, tags)) in ways.iter().enumerate() {
            xml += &format!("  <way id=\"{}\">", 100 + i);
            for c in way.chars() {
                let id = nodes.iter().find(|n| n.0 == c).unwrap_or_else(|| panic!("node {c} is not on the map")).1;
                xml += &format!("<nd ref=\"{id}\"/>");
            }
            if !tags.iter().any(|(k, _)| *k == "highway") {
                xml += "<tag k=\"highway\" v=\"primary\"/>";
            }
            xml += &format!("<tag k=\"name\" v=\"{way}\"/>");
            for (k, v) in tags.iter() {
                xml += &format!("<tag k=\"{k}\" v=\"{v}\"/>");
            }
            xml += "</way>\n";
        }
        xml += "</osm>\n";
        Map { nodes, xml }
    }

    /// As [`Map::new`] with turn restriction relations (ids 1000, 1001, …).
    fn restricted(grid: &str, ways: &[(&str, &[(&str, &str)])], rels: &[Rel]) -> Map {
        let mut map = Map::new(grid, ways, &[]);
        let way_id = |name: &str| {
            let back: String = name.chars().rev().collect();
            ways.iter().position(|(w, _)| *w == name || *w == back).map(|i| 100 + i as i64)
        };
        let mut xml = String::new();
        for (i, &(from, via, to, tags)) in rels.iter().enumerate() {
            xml += &format!("  <relation id=\"{}\">", 1000 + i);
            if let Some(id) = way_id(from) {
                xml += &format!("<member type=\"way\" ref=\"{id}\" role=\"from\"/>");
            }
            if let Some(n) = map.nodes.iter().find(|n| n.0 == via) {
                xml += &format!("<member type=\"node\" ref=\"{}\" role=\"via\"/>", n.1);
            }
            if let Some(id) = way_id(to) {
                xml += &format!("<member type=\"way\" ref=\"{id}\" role=\"to\"/>");
            }
            if !tags.iter().any(|(k, _)| *k == "type") {
                xml += "<tag k=\"type\" v=\"restriction\"/>";
            }
            for (k, v) in tags {
                xml += &format!("<tag k=\"{k}\" v=\"{v}\"/>");
            }
            xml += "</relation>\n";
        }
        map.xml = map.xml.replace("</osm>\n", &(xml + "</osm>\n"));
        map
    }

    /// The network without its turn restrictions built in, and the turns
    /// they govern (for the turn-aware oracle), and the router on the
    /// network with them built in.
    fn turn_router(&self, profile: Profile) -> (corridor_geo::RoadNetwork, Vec<corridor_geo::turns::TurnRule>, Router) {
        let (net, rules) = osm::import_xml_parts(self.xml.as_bytes(), "test.osm", profile, &NoProgress).expect("import");
        let split = corridor_geo::turns::split_turns(net.clone(), &rules);
        assert_eq!(split, osm::import_xml(self.xml.as_bytes(), "test.osm", profile, &NoProgress).unwrap());
        (net, rules, Router::new(PreparedNetwork::prepare(split)))
    }

    fn at(&self, c: char) -> LatLon {
        let n = self.nodes.iter().find(|n| n.0 == c).unwrap_or_else(|| panic!("no node {c}"));
        LatLon::new(n.2, n.3)
    }

    fn router(&self, profile: Profile) -> Router {
        let net = osm::import_xml(self.xml.as_bytes(), "test.osm", profile, &NoProgress).expect("import");
        assert_eq!(net.meta.profile, profile);
        Router::new(PreparedNetwork::prepare(net))
    }
}

/// The streets a route drives, each once per stretch (OSRM's `route`
/// column without the repeated arrival name).
fn streets(r: &Router, route: &Route) -> Vec<String> {
    let net = r.network();
    let mut out: Vec<String> = Vec::new();
    let whole = route.arcs.iter().map(|&a| (a, 1.0));
    for (a, share) in route.first_part.into_iter().chain(whole).chain(route.last_part) {
        if share < 1e-6 {
            continue;
        }
        let name = net.name_of(a as usize).to_string();
        if out.last() != Some(&name) {
            out.push(name);
        }
    }
    out
}

/// What plain Dijkstra (over phases, see [`phase_dijkstra`]) says of a
/// route between two positions, from all their snap candidates: the best
/// time, and whether a start and an end candidate share a segment (the
/// router may then drive along it, which Dijkstra between nodes does not
/// see).
fn oracle(r: &Router, p: LatLon, q: LatLon) -> (Option<u64>, bool) {
    let net = r.network();
    let w = |a: u32| f64::from(net.time_ms[a as usize]);
    let (Ok(fs), Ok(ts)) = (r.snap_candidates(p, "start"), r.snap_candidates(q, "destination")) else { return (None, false) };
    let dest = |s: &corridor_geo::Snap| [s.ab, s.ba].into_iter().flatten().any(|a| net.destination[a as usize]);
    let mut starts = vec![];
    for f in &fs {
        if let Some(ab) = f.ab {
            starts.push((f.b, ((1.0 - f.t) * w(ab)).round() as u32, dest(f)));
        }
        if let Some(ba) = f.ba {
            starts.push((f.a, (f.t * w(ba)).round() as u32, dest(f)));
        }
    }
    let mut ends = vec![];
    for t in &ts {
        if let Some(ab) = t.ab {
            ends.push((t.a, (t.t * w(ab)).round() as u32, dest(t)));
        }
        if let Some(ba) = t.ba {
            ends.push((t.b, ((1.0 - t.t) * w(ba)).round() as u32, dest(t)));
        }
    }
    let shares = fs.iter().any(|f| ts.iter().any(|t| (f.a, f.b) == (t.a, t.b)));
    (phase_dijkstra(r, &starts, &ends), shares)
}

/// Routes `from → to` and checks the time against Dijkstra; returns the
/// streets driven, or `None` if there is no route.
fn route(map: &Map, r: &Router, from: char, to: char) -> Option<Vec<String>> {
    let mut st = r.new_state();
    let got = r.route(&mut st, map.at(from), map.at(to));
    let (want, shares) = oracle(r, map.at(from), map.at(to));
    match got {
        Ok(route) => {
            let want = want.unwrap_or_else(|| panic!("{from} → {to}: the router finds a route, Dijkstra none"));
            if shares {
                assert!(route.time_ms <= want, "{from} → {to}: slower than Dijkstra");
            } else {
                assert_eq!(route.time_ms, want, "{from} → {to}: the CCH and Dijkstra disagree");
            }
            Some(streets(r, &route))
        }
        Err(_) => {
            assert!(want.is_none(), "{from} → {to}: Dijkstra finds a route, the router none");
            None
        }
    }
}

fn names(v: &[&str]) -> Option<Vec<String>> {
    Some(v.iter().map(|s| s.to_string()).collect())
}

/// OSRM `oneway.feature`, "Car - Around the Block".
#[test]
fn osrm_around_the_block() {
    let map = Map::new(
        "  a b\nf d c e",
        &[("ab", &[("oneway", "yes")]), ("bc", &[]), ("cd", &[]), ("da", &[]), ("ce", &[]), ("df", &[])],
        &[],
    );
    for p in Profile::ALL {
        let r = map.router(p);
        assert_eq!(route(&map, &r, 'a', 'b'), names(&["ab"]), "{p}");
        assert_eq!(route(&map, &r, 'b', 'a'), names(&["bc", "cd", "da"]), "{p}");
    }
}

/// A bollard in the middle of the direct street: every profile goes
/// around (OSRM `barrier.feature`: a bollard is not passable); an
/// `emergency=yes` on it lets the ambulance through, a bus trap the bus.
#[test]
fn barriers_cut_a_street() {
    let grid = "a b c\n\nd   e";
    let ways: &[(&str, &[(&str, &str)])] = &[("abc", &[]), ("ad", &[]), ("de", &[]), ("ec", &[])];
    let map = Map::new(grid, ways, &[('b', &[("barrier", "bollard")])]);
    for p in Profile::ALL {
        assert_eq!(route(&map, &map.router(p), 'a', 'c'), names(&["ad", "de", "ec"]), "{p}");
    }
    let map = Map::new(grid, ways, &[('b', &[("barrier", "bollard"), ("emergency", "yes")])]);
    assert_eq!(route(&map, &map.router(Profile::Ambulance), 'a', 'c'), names(&["abc"]));
    assert_eq!(route(&map, &map.router(Profile::Car), 'a', 'c'), names(&["ad", "de", "ec"]));
    let map = Map::new(grid, ways, &[('b', &[("barrier", "bus_trap")])]);
    assert_eq!(route(&map, &map.router(Profile::Bus), 'a', 'c'), names(&["abc"]));
    assert_eq!(route(&map, &map.router(Profile::Car), 'a', 'c'), names(&["ad", "de", "ec"]));
    let map = Map::new(grid, ways, &[('b', &[("barrier", "gate")])]);
    assert_eq!(route(&map, &map.router(Profile::Car), 'a', 'c'), names(&["abc"]));
    let map = Map::new(grid, ways, &[('b', &[("barrier", "height_restrictor"), ("maxheight", "3.0")])]);
    assert_eq!(route(&map, &map.router(Profile::Car), 'a', 'c'), names(&["abc"]));
    assert_eq!(route(&map, &map.router(Profile::Bus), 'a', 'c'), names(&["ad", "de", "ec"]));
}

/// A weight-limited bridge (Monaco's Avenue Prince Albert Ier carries
/// `maxweight=3.5`): the car and the ambulance cross it, the 18 t bus goes
/// around; a 3.2 m underpass is the same for the bus alone.
#[test]
fn weight_and_height_limits_route_the_bus_around() {
    let grid = "a b c\n\nd   e";
    for limit in [("maxweight", "3.5"), ("maxheight", "3.2")] {
        let map = Map::new(grid, &[("abc", &[limit]), ("ad", &[]), ("de", &[]), ("ec", &[])], &[]);
        assert_eq!(route(&map, &map.router(Profile::Car), 'a', 'c'), names(&["abc"]), "{limit:?}");
        assert_eq!(route(&map, &map.router(Profile::Ambulance), 'a', 'c'), names(&["abc"]), "{limit:?}");
        assert_eq!(route(&map, &map.router(Profile::Bus), 'a', 'c'), names(&["ad", "de", "ec"]), "{limit:?}");
    }
}

/// A bus street: closed to other traffic (`access=no`, `bus=designated`),
/// the bus's shortcut; a car and an ambulance go around.
#[test]
fn bus_streets_are_for_buses() {
    let map = Map::new("a b c\n\nd   e", &[("abc", &[("access", "no"), ("bus", "designated")]), ("ad", &[]), ("de", &[]), ("ec", &[])], &[]);
    assert_eq!(route(&map, &map.router(Profile::Bus), 'a', 'c'), names(&["abc"]));
    assert_eq!(route(&map, &map.router(Profile::Car), 'a', 'c'), names(&["ad", "de", "ec"]));
    assert_eq!(route(&map, &map.router(Profile::Ambulance), 'a', 'c'), names(&["ad", "de", "ec"]));
}

/// A driveway is routable at reduced speed (OSRM `service.feature`): a
/// house reached only through one is still on the map, and a route does
/// not cut through a parking aisle when the street is as long.
#[test]
fn driveways_are_kept_slow() {
    let map = Map::new(
        "a b c\n  h\n  d",
        &[("abc", &[]), ("bh", &[("highway", "service"), ("service", "driveway")]), ("hd", &[("highway", "service"), ("service", "driveway")])],
        &[],
    );
    let r = map.router(Profile::Car);
    assert_eq!(route(&map, &r, 'a', 'd'), names(&["abc", "bh", "hd"]));
    let mut st = r.new_state();
    let drive = r.route(&mut st, map.at('b'), map.at('d')).unwrap();
    let street = r.route(&mut st, map.at('a'), map.at('c')).unwrap();
    // 200 m of driveway at half the service speed (7.5 km/h) against 200 m of primary (65 km/h).
    assert!((drive.time_ms as f64 / 1000.0 - 200.0 / (7.5 / 3.6)).abs() < 2.0, "{}", drive.time_ms);
    assert!(drive.time_ms > 4 * street.time_ms, "{} {}", drive.time_ms, street.time_ms);
}

/// The Helsinki case of issue 22 in small: a service tunnel tagged as OSM
/// ways 43997242/609208672 are (`motorcar=no`, `hgv=yes`,
/// `access=destination`, `layer=-4`) joins two side streets; a point 10 m
/// from the tunnel and 90 m from a street snaps onto the street for every
/// profile (the tunnel is closed to cars, so to buses; an ambulance obeys
/// `motorcar` too), never into the tunnel.
#[test]
fn a_point_near_a_forbidden_tunnel_snaps_onto_the_street() {
    let tunnel: &[(&str, &str)] = &[("highway", "service"), ("tunnel", "yes"), ("layer", "-4"), ("motorcar", "no"), ("hgv", "yes"), ("access", "destination")];
    let res: &[(&str, &str)] = &[("highway", "residential")];
    let map = Map::new("a   b\nf   g\nd   e", &[("ab", res), ("afd", res), ("bge", res), ("de", res), ("fg", tunnel)], &[]);
    let near = LatLon::new(map.at('f').lat - 10.0 / 111_320.0, map.at('f').lon + 2.0 * CELL);
    for p in Profile::ALL {
        let r = map.router(p);
        let service = (0..r.network().arc_count()).filter(|&a| r.network().class_of(a).tag() == "service").count();
        assert_eq!(service, 0, "{p}: the tunnel is not in the network");
        let route = r.route(&mut r.new_state(), near, map.at('a')).unwrap();
        assert!((route.from.distance_m - 90.0).abs() < 1.0, "{p}: snapped {} m away", route.from.distance_m);
        assert_eq!(streets(&r, &route).first().map(String::as_str), Some("de"), "{p}");
    }
}

/// The profile is kept in the prepared file; a route for another vehicle
/// is refused with a message that says how to make the right file.
#[test]
fn the_profile_is_kept_and_checked() {
    let map = Map::new("a b\nc d", &[("ab", &[]), ("bd", &[]), ("dc", &[]), ("ca", &[])], &[]);
    let dir = tempfile::tempdir().unwrap();
    for p in Profile::ALL {
        let net = osm::import_xml(map.xml.as_bytes(), "test.osm", p, &NoProgress).unwrap();
        let path = dir.path().join(format!("{p}.cnet"));
        netfile::write(&PreparedNetwork::prepare(net), &path).unwrap();
        let q = netfile::read(&path).unwrap();
        assert_eq!(q.net.meta.profile, p);
        assert!(q.check_profile(p, "x.cnet").is_ok());
        for other in Profile::ALL.into_iter().filter(|&o| o != p) {
            let e = q.check_profile(other, "x.cnet").unwrap_err().to_string();
            assert!(e.contains(&format!("prepared for the {p} profile")) && e.contains(&format!("--profile {other}")), "{e}");
        }
    }
    // A profile number this version does not know is refused, not misread.
    let net = osm::import_xml(map.xml.as_bytes(), "test.osm", Profile::Car, &NoProgress).unwrap();
    let mut bytes = netfile::to_bytes(&PreparedNetwork::prepare(net));
    // The payload starts: source (8-byte length + text), attribution, approximate (8), profile (8).
    let header = 32;
    let src_len = u64::from_le_bytes(bytes[header..header + 8].try_into().unwrap()) as usize;
    let at = header + 8 + src_len;
    let attr_len = u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap()) as usize;
    let profile_at = at + 8 + attr_len + 8;
    bytes[profile_at] = 9;
    let crc = common::crc32(&bytes[header..]);
    bytes[28..32].copy_from_slice(&crc.to_le_bytes());
    let e = netfile::from_bytes(&bytes, "x.cnet").unwrap_err().to_string();
    assert!(e.contains("unknown vehicle profile"), "{e}");
}

/// Issue 22's near-tie: a point 4.5 m from a one-way lane that leads away
/// from the destination and 5.5 m from the two-way street beside it. The
/// nearest segment alone sends the route the wrong way round the block
/// (85 m); with both offered to the query it starts on the street (25 m).
/// Also the same-segment case: a destination on the street itself.
#[test]
fn near_ties_are_chosen_by_the_query() {
    let cell = 10.0 / 111_320.0;
    let map = Map::with_cell(cell, "a    b\nc    d", &[("ab", &[("oneway", "-1")]), ("cd", &[]), ("ac", &[]), ("bd", &[])], &[]);
    let from = LatLon::new(map.at('a').lat - 4.5 / 111_320.0, map.at('a').lon + 2.5 * cell);
    for p in Profile::ALL {
        let r = map.router(p);
        let mut st = r.new_state();
        let cands = r.snap_candidates(from, "start").unwrap();
        assert!(cands.len() >= 2 && (cands[0].distance_m - 4.5).abs() < 0.1, "{p}: {cands:?}");
        let route = r.route(&mut st, from, map.at('d')).unwrap();
        assert_eq!(streets(&r, &route), vec!["cd".to_string()], "{p}");
        assert!((route.length_m - 25.0).abs() < 0.5, "{p}: {} m", route.length_m);
        assert!((route.from.distance_m - 5.5).abs() < 0.1, "{p}: {}", route.from.distance_m);
        // The nearest segment alone: round the block.
        let alone = r.route_snapped(&mut st, cands[0].clone(), r.snap(map.at('d'), "destination").unwrap()).unwrap();
        assert!((alone.length_m - 85.0).abs() < 0.5, "{p}: {} m", alone.length_m);
        assert!(alone.time_ms > 3 * route.time_ms);
        let on_street = LatLon::new(map.at('c').lat, map.at('c').lon + 4.0 * cell);
        let short = r.route(&mut st, from, on_street).unwrap();
        assert!((short.length_m - 15.0).abs() < 0.5 && short.arcs.is_empty(), "{p}: {short:?}");
    }
}

/// A profile name that does not exist is refused by name.
#[test]
fn profile_names() {
    for p in Profile::ALL {
        assert_eq!(Profile::from_name(p.name()), Some(p));
    }
    assert_eq!(Profile::from_name("truck"), None);
}

/// OSRM `destination.feature`, "Car - Destination only street" (both
/// maps): a destination road is driven to reach a point on it, never
/// through. (OSRM's `route` column names a way once per instruction; ours
/// lists every street driven, so `ab,bc,cd` where OSRM writes `ab,cd`.)
#[test]
fn osrm_destination_only_street() {
    let grid = "a       e\n  b c d\n\nx       y";
    let dest: &[(&str, &str)] = &[("access", "destination")];
    let map = Map::new(grid, &[("ab", &[]), ("bcd", dest), ("de", &[]), ("axye", &[])], &[]);
    for p in Profile::ALL {
        let r = map.router(p);
        assert_eq!(route(&map, &r, 'a', 'b'), names(&["ab"]), "{p}");
        assert_eq!(route(&map, &r, 'a', 'c'), names(&["ab", "bcd"]), "{p}");
        assert_eq!(route(&map, &r, 'a', 'd'), names(&["ab", "bcd"]), "{p}");
        assert_eq!(route(&map, &r, 'a', 'e'), names(&["axye"]), "{p}");
        assert_eq!(route(&map, &r, 'e', 'd'), names(&["de"]), "{p}");
        assert_eq!(route(&map, &r, 'e', 'c'), names(&["de", "bcd"]), "{p}");
        assert_eq!(route(&map, &r, 'e', 'b'), names(&["de", "bcd"]), "{p}");
        assert_eq!(route(&map, &r, 'e', 'a'), names(&["axye"]), "{p}");
    }
    let grid = "a         e\n   b c d\n\nx         y";
    let map = Map::new(grid, &[("ab", &[]), ("bc", dest), ("cd", dest), ("de", &[]), ("axye", &[])], &[]);
    let r = map.router(Profile::Bus);
    assert_eq!(route(&map, &r, 'a', 'b'), names(&["ab"]));
    assert_eq!(route(&map, &r, 'a', 'c'), names(&["ab", "bc"]));
    assert_eq!(route(&map, &r, 'a', 'd'), names(&["ab", "bc", "cd"]));
    assert_eq!(route(&map, &r, 'a', 'e'), names(&["axye"]));
    assert_eq!(route(&map, &r, 'e', 'c'), names(&["de", "cd"]));
    assert_eq!(route(&map, &r, 'e', 'b'), names(&["de", "cd", "bc"]));
    assert_eq!(route(&map, &r, 'e', 'a'), names(&["axye"]));
}

/// OSRM `destination.feature`, "Routing inside a destination only area":
/// a route that starts and ends in the area drives through it.
#[test]
fn osrm_routing_inside_a_destination_area() {
    let dest: &[(&str, &str)] = &[("access", "destination")];
    let map = Map::new("a   c   e\n  b   d\nx       y", &[("ab", dest), ("bc", dest), ("cd", dest), ("de", dest), ("axye", &[])], &[]);
    for p in Profile::ALL {
        let r = map.router(p);
        assert_eq!(route(&map, &r, 'a', 'e'), names(&["ab", "bc", "cd", "de"]), "{p}");
        assert_eq!(route(&map, &r, 'e', 'a'), names(&["de", "cd", "bc", "ab"]), "{p}");
        assert_eq!(route(&map, &r, 'b', 'd'), names(&["bc", "cd"]), "{p}");
        assert_eq!(route(&map, &r, 'd', 'b'), names(&["cd", "bc"]), "{p}");
    }
}

/// OSRM `destination.feature`, the last "Routing around a way that becomes
/// destination only": a route between open roads goes round the
/// destination road `cd`; one ending at `d` may arrive by it. (OSRM also
/// routes `d → a` round it; a point exactly at the junction `d` is on `cd`
/// as much as on `de` for us, so we may start down `cd`: not ported.)
#[test]
fn osrm_routing_around_a_destination_road() {
    let map = Map::new(
        "   a   c   b\n\n\n       d\n\n            e",
        &[("acbe", &[]), ("cd", &[("access", "destination")]), ("de", &[])],
        &[],
    );
    let r = map.router(Profile::Car);
    assert_eq!(route(&map, &r, 'e', 'a'), names(&["acbe"]));
    assert_eq!(route(&map, &r, 'c', 'd'), names(&["cd"]));
    // The bus at a point of `de` near d, bound for a: not through cd.
    let near_d = LatLon::new(map.at('d').lat - 0.2 * CELL, map.at('d').lon + 0.8 * CELL);
    let got = r.route(&mut r.new_state(), near_d, map.at('a')).unwrap();
    assert_eq!(streets(&r, &got), names(&["de", "acbe"]).unwrap());
}

/// A forward Dijkstra over (node, phase): phase 0 on destination roads
/// from a start on one, 1 on open roads, 2 on destination roads to an end
/// on one; the oracle for routes with destination roads.
fn phase_dijkstra(r: &Router, starts: &[(u32, u32, bool)], ends: &[(u32, u32, bool)]) -> Option<u64> {
    use std::cmp::Reverse;
    let net = r.network();
    let n = net.node_count();
    let mut dist = vec![u64::MAX; 3 * n];
    let mut heap = std::collections::BinaryHeap::new();
    for &(v, d, on_dest) in starts {
        let s = if on_dest { v as usize } else { n + v as usize };
        if u64::from(d) < dist[s] {
            dist[s] = u64::from(d);
            heap.push(Reverse((u64::from(d), s)));
        }
    }
    while let Some(Reverse((d, s))) = heap.pop() {
        if d > dist[s] {
            continue;
        }
        let (phase, v) = (s / n, (s % n) as u32);
        for a in net.arcs_of(v) {
            let next = match (phase, net.destination[a]) {
                (0, true) => 0,
                (0 | 1, false) => 1,
                (1 | 2, true) => 2,
                _ => continue,
            };
            let x = next * n + net.head[a] as usize;
            let nd = d + u64::from(net.time_ms[a]);
            if nd < dist[x] {
                dist[x] = nd;
                heap.push(Reverse((nd, x)));
            }
        }
    }
    let mut best: Option<u64> = None;
    for &(v, off, on_dest) in ends {
        let phases: &[usize] = if on_dest { &[0, 1, 2] } else { &[0, 1] };
        for &p in phases {
            let d = dist[p * n + v as usize];
            if d != u64::MAX {
                best = Some(best.map_or(d + u64::from(off), |b| b.min(d + u64::from(off))));
            }
        }
    }
    best
}

/// Monaco with twenty random quarters (every street within 150 m of a
/// random node) made destination-only: every route between random positions equals the phase
/// Dijkstra from all start candidates to all end candidates.
#[test]
fn destination_routes_equal_phase_dijkstra_on_monaco() {
    use rand::{Rng, SeedableRng};
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/osm/monaco.osm.pbf");
    // Without the turn restrictions built in: the phase Dijkstra is node-based.
    let bytes = std::fs::read(&path).unwrap();
    let (mut net, _) = osm::import_pbf_parts(&bytes, "monaco.osm.pbf", Profile::Bus, &NoProgress).unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(2222);
    // Twenty "gated quarters": every segment within 150 m of a random node.
    let centres: Vec<usize> = (0..20).map(|_| rng.gen_range(0..net.node_count())).collect();
    let near = |v: usize| centres.iter().any(|&c| corridor_geo::graph::haversine_m(net.lat[v], net.lon[v], net.lat[c], net.lon[c]) < 150.0);
    let flags: Vec<bool> = (0..net.arc_count()).map(|a| near(net.tail[a] as usize) && near(net.head[a] as usize)).collect();
    net.destination = flags;
    let r = Router::new(PreparedNetwork::prepare(net));
    let net = r.network();
    let mut st = r.new_state();
    let w = |a: u32| f64::from(net.time_ms[a as usize]);
    let (mut checked, mut on_dest, mut unreachable) = (0, 0, 0);
    for i in 0..600 {
        let (v, u) = (rng.gen_range(0..net.node_count()), rng.gen_range(0..net.node_count()));
        let m = 20.0 / 111_000.0;
        let p = LatLon::new(net.lat[v] + rng.gen_range(-m..m), net.lon[v] + rng.gen_range(-m..m));
        let q = LatLon::new(net.lat[u] + rng.gen_range(-m..m), net.lon[u] + rng.gen_range(-m..m));
        let fs = r.snap_candidates(p, "start").unwrap();
        let ts = r.snap_candidates(q, "destination").unwrap();
        let dest = |s: &corridor_geo::Snap| [s.ab, s.ba].into_iter().flatten().any(|a| net.destination[a as usize]);
        on_dest += usize::from(fs.iter().chain(&ts).any(dest));
        let (want, shares_segment) = oracle(&r, p, q);
        let got = r.route(&mut st, p, q);
        match (got, want) {
            (Ok(route), Some(want)) => {
                if shares_segment {
                    assert!(route.time_ms <= want, "route {i}");
                } else {
                    assert_eq!(route.time_ms, want, "route {i}");
                    checked += 1;
                }
                // The pieces add up, and no open road is driven between two destination arcs.
                let arcs: u64 = route.arcs.iter().map(|&a| u64::from(net.time_ms[a as usize])).sum();
                let part = |x: Option<(u32, f64)>| x.map(|(a, s)| (s * w(a)).round() as u64).unwrap_or(0);
                assert!((arcs + part(route.first_part) + part(route.last_part)).abs_diff(route.time_ms) <= 2, "route {i}");
                let kinds: Vec<bool> = route.arcs.iter().map(|&a| net.destination[a as usize]).collect();
                let first_open = kinds.iter().position(|&d| !d);
                let last_open = kinds.iter().rposition(|&d| !d);
                if let (Some(a), Some(b)) = (first_open, last_open) {
                    assert!(kinds[a..=b].iter().all(|&d| !d), "route {i} passes through a destination road: {kinds:?}");
                }
            }
            (Err(e), None) => {
                assert!(e.to_string().contains("no route"), "{e}");
                unreachable += 1;
            }
            (got, want) => panic!("route {i}: router {:?}, Dijkstra {want:?}", got.map(|r| r.time_ms)),
        }
    }
    eprintln!("{checked} routes equal to the phase Dijkstra, {on_dest} with an end on a destination road, {unreachable} unreachable by both");
    assert!(checked > 300 && on_dest > 50, "checked {checked}, on destination roads {on_dest}, unreachable {unreachable}");
}

/// Routes `from → to` on a map with turn restrictions and checks the time
/// against the turn-aware Dijkstra on the network without them built in
/// (`common::TurnOracle`); returns the streets driven, or `None` if there
/// is no route.
fn turn_route(map: &Map, t: &(corridor_geo::RoadNetwork, Vec<corridor_geo::turns::TurnRule>, Router), from: char, to: char) -> Option<Vec<String>> {
    let (net0, rules, r) = t;
    let oracle = common::TurnOracle::new(net0, rules);
    let fs = r.snap_candidates(map.at(from), "start").unwrap();
    let ts = r.snap_candidates(map.at(to), "destination").unwrap();
    let (want, shares) = oracle.between(&fs, &ts);
    match r.route(&mut r.new_state(), map.at(from), map.at(to)) {
        Ok(route) => {
            let want = want.unwrap_or_else(|| panic!("{from} → {to}: the router finds a route, the turn-aware Dijkstra none"));
            if shares {
                assert!(route.time_ms <= want, "{from} → {to}: slower than the turn-aware Dijkstra");
            } else {
                assert_eq!(route.time_ms, want, "{from} → {to}: the router and the turn-aware Dijkstra disagree");
            }
            for w in route.arcs.windows(2) {
                assert_eq!(r.network().head[w[0] as usize], r.network().tail[w[1] as usize]);
            }
            Some(streets(r, &route))
        }
        Err(e) => {
            assert!(want.is_none(), "{from} → {to}: the turn-aware Dijkstra finds a route, the router none");
            assert!(e.to_string().contains("no route"), "{e}");
            None
        }
    }
}

/// OSRM's restriction maps (`features/car/restrictions.feature`): a
/// one-way `sj` into a junction `j` whose other arms `nj`, `wj`, `ej` are
/// one-way out of it. OSRM's maps end there; ours need one strongly
/// connected network (the import keeps the largest component), so one-way
/// roads lead from the arms' ends back to `s` (`ny`, `yq`, `eq`, `qs`,
/// `wz`, `zs`), never into `n`, `w` or `e`: a turn forbidden at `j` still
/// leaves its arm unreachable, as in OSRM.
const CROSS: &str = "    n     y\nw   j   e\nz   s     q";

fn cross(rels: &[Rel]) -> Map {
    let one: &[(&str, &str)] = &[("oneway", "yes")];
    let back: &[(&str, &str)] = &[("oneway", "-1")];
    Map::restricted(
        CROSS,
        &[("sj", one), ("nj", back), ("wj", back), ("ej", back), ("ny", one), ("yq", one), ("eq", one), ("qs", one), ("wz", one), ("zs", one)],
        rels,
    )
}

/// OSRM "Car - No left turn", "No right turn", "No u-turn" (a `no_u_turn`
/// from `sj` to `wj`: any `no_*` forbids the turn it names) and "Handle
/// any no_* relation".
#[test]
fn osrm_no_turns() {
    for value in ["no_left_turn", "no_u_turn", "no_weird_zigzags"] {
        let map = cross(&[("sj", 'j', "wj", &[("restriction", value)])]);
        for p in Profile::ALL {
            let t = map.turn_router(p);
            assert_eq!(t.0.meta.stats.restrictions_applied, 1, "{value} {p}");
            assert_eq!(turn_route(&map, &t, 's', 'w'), None, "{value} {p}");
            assert_eq!(turn_route(&map, &t, 's', 'n'), names(&["sj", "nj"]), "{value} {p}");
            assert_eq!(turn_route(&map, &t, 's', 'e'), names(&["sj", "ej"]), "{value} {p}");
        }
    }
    let map = cross(&[("sj", 'j', "ej", &[("restriction", "no_right_turn")])]);
    let t = map.turn_router(Profile::Car);
    assert_eq!(turn_route(&map, &t, 's', 'w'), names(&["sj", "wj"]));
    assert_eq!(turn_route(&map, &t, 's', 'n'), names(&["sj", "nj"]));
    assert_eq!(turn_route(&map, &t, 's', 'e'), None);
    // Without the restriction every arm is reached (the map is sound).
    let map = cross(&[]);
    let t = map.turn_router(Profile::Car);
    for to in ['w', 'n', 'e'] {
        assert!(turn_route(&map, &t, 's', to).is_some(), "{to}");
    }
}

/// OSRM "Car - Only right turn", "Only straight on", "Handle any only_*
/// restriction" (and "Only left turn", whose table OSRM leaves empty).
#[test]
fn osrm_only_turns() {
    let cases: [(&str, &str, [bool; 3]); 4] = [
        ("only_right_turn", "ej", [false, false, true]),
        ("only_straight_on", "nj", [false, true, false]),
        ("only_weird_zigzags", "nj", [false, true, false]),
        ("only_left_turn", "wj", [true, false, false]),
    ];
    for (value, to, open) in cases {
        let map = cross(&[("sj", 'j', to, &[("restriction", value)])]);
        for p in Profile::ALL {
            let t = map.turn_router(p);
            for (arm, ok) in ['w', 'n', 'e'].into_iter().zip(open) {
                let want = ok.then(|| vec!["sj".to_string(), format!("{arm}j")]);
                assert_eq!(turn_route(&map, &t, 's', arm), want, "{value} {p} s → {arm}");
            }
        }
    }
}

/// OSRM "Car - Only right turn, invalid": the to way `er` does not touch
/// the via node; the relation is broken, named, and not applied.
#[test]
fn osrm_invalid_only_turn_is_ignored() {
    let one: &[(&str, &str)] = &[("oneway", "yes")];
    let back: &[(&str, &str)] = &[("oneway", "-1")];
    let map = Map::restricted(
        "    n     y\nw   j   e r\nz   s     q",
        &[("sj", one), ("nj", back), ("wj", back), ("ej", back), ("re", back), ("ny", one), ("yq", one), ("rq", one), ("qs", one), ("wz", one), ("zs", one)],
        &[("sj", 'j', "er", &[("restriction", "only_right_on")])],
    );
    let t = map.turn_router(Profile::Car);
    let s = &t.0.meta.stats;
    assert_eq!((s.restrictions, s.restrictions_applied, s.restrictions_broken), (1, 0, 1));
    assert!(s.broken_restrictions[0].contains("relation 1000") && s.broken_restrictions[0].contains("not on its to way"), "{:?}", s.broken_restrictions);
    assert_eq!(turn_route(&map, &t, 's', 'r'), names(&["sj", "ej", "re"]));
    assert_eq!(turn_route(&map, &t, 's', 'w'), names(&["sj", "wj"]));
}

/// OSRM "Car - :hgv-qualified on a standard turn restriction" and
/// ":motorcar-qualified": `restriction:hgv` binds the bus (it obeys `hgv`
/// as an access key), not the car or the ambulance; `restriction:motorcar`
/// binds all three (the bus and the ambulance read `motorcar` access too).
#[test]
fn osrm_mode_specific_restrictions() {
    let map = cross(&[("sj", 'j', "nj", &[("restriction:hgv", "no_straight_on")])]);
    for p in Profile::ALL {
        let t = map.turn_router(p);
        let want = if p == Profile::Bus { None } else { names(&["sj", "nj"]) };
        assert_eq!(turn_route(&map, &t, 's', 'n'), want, "{p}");
        assert_eq!(turn_route(&map, &t, 's', 'w'), names(&["sj", "wj"]), "{p}");
        assert_eq!(turn_route(&map, &t, 's', 'e'), names(&["sj", "ej"]), "{p}");
        let s = &t.0.meta.stats;
        assert_eq!(s.restrictions_not_for_vehicle, u64::from(p != Profile::Bus), "{p}");
    }
    let map = cross(&[("sj", 'j', "nj", &[("restriction:motorcar", "no_straight_on")])]);
    for p in Profile::ALL {
        let t = map.turn_router(p);
        assert_eq!(turn_route(&map, &t, 's', 'n'), None, "{p}");
        assert_eq!(turn_route(&map, &t, 's', 'w'), names(&["sj", "wj"]), "{p}");
    }
    // The older tagging: type=restriction:hgv.
    let map = cross(&[("sj", 'j', "nj", &[("type", "restriction:hgv"), ("restriction", "no_straight_on")])]);
    assert_eq!(turn_route(&map, &map.turn_router(Profile::Bus), 's', 'n'), None);
    assert_eq!(turn_route(&map, &map.turn_router(Profile::Car), 's', 'n'), names(&["sj", "nj"]));
}

/// OSRM "Car - Except tag and on no_ restrictions", with `except=psv`
/// and `except=emergency` beside OSRM's `except=motorcar`: each waives the
/// turn for the vehicles it names (the bus for psv, the ambulance for
/// emergency and motorcar), never for the others.
#[test]
fn osrm_except_on_no_restrictions() {
    let one: &[(&str, &str)] = &[("oneway", "yes")];
    let back: &[(&str, &str)] = &[("oneway", "-1")];
    let two: &[(&str, &str)] = &[];
    let ways: &[(&str, &[(&str, &str)])] =
        &[("sj", two), ("xj", back), ("aj", back), ("bj", two), ("cj", two), ("dj", back), ("xy", one), ("yq", one), ("dq", one), ("qs", one), ("ar", one), ("rs", one)];
    let grid = "    y\nb x c\na j d\n  s   q\nr";
    for except in ["motorcar", "psv", "emergency"] {
        let map = Map::restricted(
            grid,
            ways,
            &[
                ("sj", 'j', "aj", &[("restriction", "no_left_turn"), ("except", except)]),
                ("sj", 'j', "bj", &[("restriction", "no_left_turn")]),
                ("sj", 'j', "cj", &[("restriction", "no_right_turn")]),
                ("sj", 'j', "dj", &[("restriction", "no_right_turn"), ("except", except)]),
            ],
        );
        for p in Profile::ALL {
            let t = map.turn_router(p);
            let waived = match except {
                "motorcar" => p != Profile::Bus,
                "psv" => p == Profile::Bus,
                _ => p == Profile::Ambulance,
            };
            assert_eq!(t.0.meta.stats.restrictions_not_for_vehicle, 2 * u64::from(waived), "{except} {p}");
            assert_eq!(turn_route(&map, &t, 's', 'a'), waived.then(|| vec!["sj".to_string(), "aj".to_string()]), "{except} {p}");
            assert_eq!(turn_route(&map, &t, 's', 'd'), waived.then(|| vec!["sj".to_string(), "dj".to_string()]), "{except} {p}");
            // b and c are reached only from j, and every way into j but sj is one of theirs.
            assert!(turn_route(&map, &t, 's', 'b').is_none_or(|r| r.first().map(String::as_str) != Some("sj") || r.len() > 2), "{except} {p}");
        }
    }
}

/// OSRM "Car - Except tag and on only_ restrictions": `only_straight_on`
/// from `sj` to `aj` except motorcar. The car takes `bj`; the bus, not
/// waived, must go on to `a` and come back (we allow a u-turn at a node,
/// OSRM only at a dead end, as `a` is).
#[test]
fn osrm_except_on_only_restrictions() {
    let map = Map::restricted(
        "a   b\n  j\n  s\nz",
        &[("sj", &[("oneway", "yes")]), ("aj", &[]), ("bj", &[]), ("az", &[("oneway", "yes")]), ("zs", &[("oneway", "yes")])],
        &[("sj", 'j', "aj", &[("restriction", "only_straight_on"), ("except", "motorcar")])],
    );
    let t = map.turn_router(Profile::Car);
    assert_eq!(turn_route(&map, &t, 's', 'a'), names(&["sj", "aj"]));
    assert_eq!(turn_route(&map, &t, 's', 'b'), names(&["sj", "bj"]));
    let t = map.turn_router(Profile::Bus);
    assert_eq!(turn_route(&map, &t, 's', 'a'), names(&["sj", "aj"]));
    assert_eq!(turn_route(&map, &t, 's', 'b'), names(&["sj", "aj", "bj"]));
}

/// OSRM "Restriction On Compressed Geometry": no right turn from `abc`
/// onto `cgh` at `c`. OSRM drives the loop `cde`, `efc`; we may turn back
/// at `f` (a u-turn at a node is allowed unless a `no_u_turn` forbids it;
/// OSRM allows one only at a dead end), which arrives at `c` along `efc`,
/// from where the turn is allowed. With `no_u_turn` at `f` and `d` the
/// route takes OSRM's loop.
#[test]
fn osrm_restriction_on_compressed_geometry() {
    let grid = "      i\n    f e\na b c d\n    g\n    h";
    let ways: &[(&str, &[(&str, &str)])] = &[("abc", &[]), ("cde", &[]), ("efc", &[]), ("cgh", &[]), ("ei", &[])];
    let rule: Rel = ("abc", 'c', "cgh", &[("restriction", "no_right_turn")]);
    let map = Map::restricted(grid, ways, &[rule]);
    let t = map.turn_router(Profile::Car);
    assert_eq!(turn_route(&map, &t, 'a', 'h'), names(&["abc", "efc", "cgh"]));
    // Ways split at d and f so that a no_u_turn may name them (a via node must end its ways).
    let ways: &[(&str, &[(&str, &str)])] = &[("abc", &[]), ("cd", &[]), ("de", &[]), ("ef", &[]), ("fc", &[]), ("cgh", &[]), ("ei", &[])];
    let no_u: &[(&str, &str)] = &[("restriction", "no_u_turn")];
    let map = Map::restricted(grid, ways, &[rule, ("cd", 'd', "cd", no_u), ("cf", 'f', "fc", no_u)]);
    let t = map.turn_router(Profile::Car);
    assert_eq!(t.0.meta.stats.restrictions_applied, 3);
    // The loop either way round: the same length.
    let got = turn_route(&map, &t, 'a', 'h');
    assert!(got == names(&["abc", "cd", "de", "ef", "fc", "cgh"]) || got == names(&["abc", "fc", "ef", "de", "cd", "cgh"]), "{got:?}");
}

/// OSRM "Car - prohibit turn" (`@restriction-way`): a via-way restriction
/// is not supported; it is counted, not applied (the route takes the turn).
#[test]
fn via_way_restrictions_are_counted_not_applied() {
    let map = Map::new("c\n\nb   f\na   e   d", &[("ab", &[]), ("bc", &[]), ("be", &[]), ("de", &[]), ("ef", &[])], &[]);
    let rel = "  <relation id=\"9\"><member type=\"way\" ref=\"100\" role=\"from\"/><member type=\"way\" ref=\"102\" role=\"via\"/><member type=\"way\" ref=\"103\" role=\"to\"/><tag k=\"type\" v=\"restriction\"/><tag k=\"restriction\" v=\"no_right_turn\"/></relation>\n";
    let map = Map { xml: map.xml.replace("</osm>\n", &format!("{rel}</osm>\n")), ..map };
    let t = map.turn_router(Profile::Car);
    let s = &t.0.meta.stats;
    assert_eq!((s.restrictions, s.restrictions_via_way, s.restrictions_applied), (1, 1, 0));
    assert_eq!(turn_route(&map, &t, 'a', 'd'), names(&["ab", "be", "de"]));
}
