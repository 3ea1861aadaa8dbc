//! The reference case's data: eastern Aleppo's neighbourhoods (Columbia CSR,
//! MIT), the places of the December 2016 evacuation, the coarse,
//! **approximate** district road network derived from them, the
//! neighbourhoods as districts for aid, clearance and returns, and UNOSAT's
//! building damage counted by district.
//!
//! # Where it sits
//!
//! Data flows one way: this crate reads polygons and hands out plain data
//! (a GeoJSON road collection, a [`corridor_geo::RoadNetwork`],
//! [`DistrictRecord`]s, damage counts). It uses `corridor-geo` (to import
//! the derived network like any GeoJSON road file) and `corridor-model`; the
//! map library knows nothing of Aleppo. `corridor-plan` depends on this crate
//! for one thing only: a scenario whose `[aftermath]` names the built-in
//! district set (`districts = "aleppo-neighbourhoods"`) resolves it through
//! [`districts`] when the scenario is parsed, so that every reference to a
//! district is checked at its line of the file. Passing the records in from
//! the caller instead would make every caller of `Scenario::parse` load
//! Aleppo's polygons (or forget to), for the one district set there is. The
//! command line uses it for the built-in map (`corridor demo`), `corridor
//! import --districts` and `corridor import-damage`.
//!
//! No OpenStreetMap road extract of Aleppo is available offline, so this
//! crate derives a stand-in network from the real neighbourhood polygons of
//! the "Conflict Urbanism: Aleppo" project
//! (`CenterForSpatialResearch/aleppo_test`, commit 3f750b9,
//! `map/data/neighborhoods.geojson`: 133 MultiPolygons with `NAME`, `NAME_A`,
//! `Id`).
//!
//! **Attribution.** Neighbourhood geometry © 2019 Columbia Center for Spatial
//! Research, MIT licence (`shared/data/aleppo/LICENSE-columbia-csr.txt`; the
//! copy built in is `data/aleppo-neighborhoods.geojson`, licence and
//! attribution beside it in `data/`).
//! Every feature this crate emits carries [`ATTRIBUTION`]; keep it wherever
//! the network or anything derived from it ships.
//!
//! # What the network is
//!
//! [`district_network`] returns a GeoJSON FeatureCollection (RFC 7946,
//! `[lon, lat]`) whose `LineString` features carry OpenStreetMap-style tags
//! (`highway`, `name`, `maxspeed`, `lanes`, `oneway`), so the ordinary GeoJSON
//! road importer reads it like a real humanitarian road dataset. It is built
//! as follows.
//!
//! 1. **District nodes.** One node per neighbourhood feature (all 133; the
//!    data repeats some names and `Id`s, so node ids are taken from the
//!    feature's position in the file: `district-000` …). The node is the
//!    centroid of the feature's largest polygon part, or an interior point of
//!    that part when the centroid falls outside it.
//! 2. **District links.** The polygons are street blocks digitised with the
//!    streets left out: no two neighbourhoods share a vertex; neighbours are
//!    separated by a gap the width of the street between them (typically
//!    5–10 m, 20–60 m across boulevards: 47 m between Ad-Ramouseh I and II)
//!    and a single pair overlaps. A vertex of one district *faces* another
//!    when it lies inside it, or within [`NEIGHBOUR_TOLERANCE_M`] of its
//!    boundary with no third district on the straight line between them. Two
//!    districts are neighbours when they overlap (or their boundaries cross)
//!    or face each other along at least [`MIN_FACING_M`] of border, which
//!    drops diagonal corner contacts across a crossroads. Each pair of
//!    neighbours gets one LineString `node A → crossing point → node B`; the
//!    crossing point is the facing contact (midway between a vertex and the
//!    other boundary, i.e. in the middle of the street) nearest to the mean
//!    of all contacts: roughly the middle of the shared border.
//! 3. **Gap links.** Groups of neighbourhoods that face no other group (in
//!    the data: the airport / an-Nayrab / Jibreen cluster and Sheikh Najjar)
//!    are joined to the rest by the shortest gap between groups, one at a
//!    time (a minimum spanning forest over groups), by a LineString
//!    `node A → nearest point of A → nearest point of B → node B`.
//! 4. **Road classes.** City links touching a site that streets go around
//!    (a cemetery, park, the Citadel or a barrack: [`SITE_WORDS`]) are
//!    `tertiary`. Of the rest, the [`PRIMARY_SHARE`] with the highest edge
//!    betweenness (the number of shortest district-to-district paths through
//!    the link, lengths along the geometry, site links counted
//!    [`SITE_THROUGH_PENALTY`] times longer) are `primary`; everything else
//!    is `secondary`. Tags follow the class: `maxspeed` 80 / 60 / 50 / 40
//!    and `lanes` 4 / 4 / 2 / 2 for trunk / primary / secondary / tertiary,
//!    `oneway=no` everywhere. Betweenness marks the links that carry through
//!    traffic in this graph; it is a structural stand-in for the main axes,
//!    not a survey of them (it forms a ring around the old city and radial
//!    axes to the west, south and the airport, but some of its "primary"
//!    links cross dense old quarters whose real streets are lanes).
//! 5. **The corridor west.** A `Ramouseh bridge` node south of the Ad-Ramouseh
//!    industrial districts, joined to the nodes of the four Ad-Ramouseh
//!    districts (`secondary`; straight lines of 0.8–2.6 km, the longest to
//!    District IV at the south-east end); the `primary` "Ramouseh–Rashidin corridor road
//!    (approximate)" from the bridge around the south-west of the city to
//!    al-Rashideen 4; the `trunk` "road towards Idlib (approximate)" from
//!    al-Rashideen 4 via a junction near Binnish to Idlib; and `secondary`
//!    feeder roads from that junction to al-Fu'ah and Kafarya, plus a
//!    `tertiary` road between the two towns. Positions and their sources are
//!    listed on [`places`].
//!
//! # Lengths: `detour_factor`
//!
//! Geometry is straight lines between the points above: no fake factor is
//! built into it. Real streets are roughly 1.2–1.4 times longer than such
//! straight lines, so every LineString has a numeric `detour_factor`
//! property ([`URBAN_DETOUR_FACTOR`] for the two- and three-segment city links,
//! [`ROAD_DETOUR_FACTOR`] for the roads outside the city, whose geometry
//! already bends through waypoints). Corridor's GeoJSON importer multiplies
//! the geometric length by it.
//!
//! # Other features and properties
//!
//! Every feature has `approximate: true`, `source` (the derivation) and
//! `attribution`. LineStrings also carry `link` (`district`, `gap`,
//! `access`, `corridor`, `trunk` or `feeder`), `from` / `to` node ids and
//! `length_m` (geometric); city links add the diagnostics `gap_m` (street
//! gap), `facing_border_m` (district links) and `betweenness`. An importer
//! that keeps unknown properties as tags keeps these too; they are harmless.
//! The collection also holds `Point` features for the district nodes
//! (`kind: "district"`, `name`, `name_ar`, `node_id`, the source `Id`) and
//! for the places (`kind: "place"`), which a road importer ignores. Every
//! Point sits on a LineString vertex with bit-identical coordinates, as do
//! all shared endpoints. Output is deterministic (vectors and sorted maps
//! only). A foreign member `summary` on the collection gives the counts.
//!
//! Do not use this network for anything but coarse planning and tests: it
//! knows nothing of real streets, bridges, checkpoints or damage.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use geo::{Area, Centroid, Contains, Coord, Distance, Haversine, InteriorPoint, Intersects, Point, Polygon};
use serde_json::{json, Map, Value};

/// Attribution carried by every feature and by the collection.
pub const ATTRIBUTION: &str = "Neighbourhood geometry © 2019 Columbia Center for Spatial Research (MIT); derived network approximate";

/// How the network was derived (the `source` property of every feature).
pub const SOURCE: &str = "corridor-geo aleppo::district_network, derived from the Conflict Urbanism: Aleppo neighbourhood polygons (CenterForSpatialResearch/aleppo_test 3f750b9, map/data/neighborhoods.geojson); not a road survey";

/// Widest street gap (metres) across which two neighbourhoods can face each
/// other (see the module documentation).
///
/// Chosen from the data, where the gap between neighbours is the width of
/// the street between them: most are 5–10 m, boulevards 20–60 m (Ad-Ramouseh
/// I–II 47 m, Sheikh Sa'eed–Ad-Ramouseh III 41 m, Ad-Ramouseh II–Tal
/// az-Zarazir 37 m). With 30 m the four Ad-Ramouseh districts and a Tishreen
/// part would be cut off from the city; with 60 m the city is one piece
/// except the airport cluster and Sheikh Najjar, which are separated by
/// open land (219 m and 2.6 km) and get gap links.
pub const NEIGHBOUR_TOLERANCE_M: f64 = 60.0;

/// Two neighbourhoods that do not overlap must face each other along at
/// least this much border (metres) to be neighbours; this drops diagonal
/// corner-to-corner contacts across a crossroads.
pub const MIN_FACING_M: f64 = 40.0;

/// Share of city links (by edge betweenness) tagged `highway=primary`.
pub const PRIMARY_SHARE: f64 = 0.12;

/// Neighbourhoods whose `NAME` contains one of these words (case-insensitive)
/// are sites that streets go around rather than through: their links are
/// `tertiary`, and count [`SITE_THROUGH_PENALTY`] times their length when
/// the primary axes are chosen.
pub const SITE_WORDS: [&str; 4] = ["cemetery", "park", "citadel", "barrack"];

/// Length multiplier for links touching a site (see [`SITE_WORDS`]) in the
/// betweenness computation only; their geometry and `detour_factor` are
/// unchanged.
pub const SITE_THROUGH_PENALTY: f64 = 3.0;

/// `detour_factor` of the straight-line city links (real streets are about
/// 1.2–1.4 times longer than the straight line).
pub const URBAN_DETOUR_FACTOR: f64 = 1.3;

/// `detour_factor` of the roads outside the city, whose geometry already
/// follows a few waypoints.
pub const ROAD_DETOUR_FACTOR: f64 = 1.15;

/// Mean Earth radius (IUGG), metres, for the local projection.
const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// Reference point for the "is this Aleppo?" sanity check: the Citadel.
const ALEPPO_CENTRE: (f64, f64) = (37.1626, 36.1994);

/// District nodes further than this from [`ALEPPO_CENTRE`] are rejected
/// (typically swapped `[lat, lon]` or a different city).
const MAX_DISTRICT_DISTANCE_M: f64 = 30_000.0;

/// Errors from [`district_network`].
#[derive(Debug, thiserror::Error)]
pub enum AleppoError {
    /// The input is not valid JSON / GeoJSON.
    #[error("neighbourhood input is not valid GeoJSON: {0}")]
    Parse(#[from] geojson::Error),
    /// The input is GeoJSON but not a FeatureCollection.
    #[error("neighbourhood input must be a GeoJSON FeatureCollection, found a {found}")]
    NotFeatureCollection {
        /// What was found instead (`Feature` or the geometry type).
        found: String,
    },
    /// The FeatureCollection has no features.
    #[error("neighbourhood FeatureCollection has no features")]
    Empty,
    /// A feature has no usable `NAME` property.
    #[error("neighbourhood feature #{index} has no NAME property (a non-empty string is required)")]
    MissingName {
        /// Position of the feature in the collection.
        index: usize,
    },
    /// A feature has a null geometry.
    #[error("neighbourhood feature #{index} ({name}) has no geometry")]
    MissingGeometry {
        /// Position of the feature in the collection.
        index: usize,
        /// Its `NAME`.
        name: String,
    },
    /// A feature's geometry is neither Polygon nor MultiPolygon.
    #[error("neighbourhood feature #{index} ({name}) has a {found} geometry; expected Polygon or MultiPolygon")]
    NotPolygonal {
        /// Position of the feature in the collection.
        index: usize,
        /// Its `NAME`.
        name: String,
        /// The geometry type found.
        found: String,
    },
    /// A polygon has an exterior ring with fewer than 4 positions or no area.
    #[error("neighbourhood feature #{index} ({name}) has an empty or degenerate polygon")]
    DegenerateGeometry {
        /// Position of the feature in the collection.
        index: usize,
        /// Its `NAME`.
        name: String,
    },
    /// A coordinate is not a finite WGS84 longitude/latitude.
    #[error("neighbourhood feature #{index} ({name}) has a coordinate outside WGS84 lon/lat range: [{lon}, {lat}]")]
    CoordinateOutOfRange {
        /// Position of the feature in the collection.
        index: usize,
        /// Its `NAME`.
        name: String,
        /// Offending longitude.
        lon: f64,
        /// Offending latitude.
        lat: f64,
    },
    /// A neighbourhood lies far from Aleppo (often: coordinates given as `[lat, lon]`).
    #[error("neighbourhood feature #{index} ({name}) lies {distance_km:.0} km from Aleppo; coordinates must be [lon, lat] and the data must be Aleppo's neighbourhoods")]
    OutsideAleppo {
        /// Position of the feature in the collection.
        index: usize,
        /// Its `NAME`.
        name: String,
        /// Distance of its node from the Citadel, km.
        distance_km: f64,
    },
    /// No neighbourhood named `Ad-Ramouseh …`, so the corridor cannot be attached.
    #[error("no neighbourhood whose NAME starts with \"Ad-Ramouseh\": cannot attach the Ramouseh bridge and the corridor road")]
    NoRamousehDistricts,
}

/// Named places of the district network (for corridors and the scenario), each [lon, lat].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Place {
    /// Stable id, also the `node_id` of the place's Point feature.
    pub id: &'static str,
    /// English name.
    pub name_en: &'static str,
    /// Arabic name.
    pub name_ar: &'static str,
    /// Longitude, WGS84 degrees.
    pub lon: f64,
    /// Latitude, WGS84 degrees.
    pub lat: f64,
    /// Where the position comes from and how approximate it is.
    pub position_source: &'static str,
}

/// Id of the Ramouseh bridge place.
pub const RAMOUSEH_BRIDGE: &str = "ramouseh-bridge";
/// Id of the al-Rashideen 4 place.
pub const RASHIDIN_4: &str = "rashidin-4";
/// Id of the junction on the Idlib road near Binnish where the Fu'ah/Kafarya roads join.
pub const BINNISH_JUNCTION: &str = "binnish-junction";
/// Id of the Idlib place.
pub const IDLIB: &str = "idlib";
/// Id of the al-Fu'ah place.
pub const FUAH: &str = "fuah";
/// Id of the Kafarya place.
pub const KAFARYA: &str = "kafarya";

/// Named places of the district network, each `[lon, lat]`:
/// `ramouseh-bridge`, `rashidin-4`, `binnish-junction`, `idlib`, `fuah`,
/// `kafarya`. All positions are approximate; `position_source` says why
/// each is where it is.
pub fn places() -> Vec<Place> {
    vec![
        Place {
            id: RAMOUSEH_BRIDGE,
            name_en: "Ramouseh bridge",
            name_ar: "جسر الراموسة",
            lon: 37.1222,
            lat: 36.1540,
            position_source: "approximate: southern end of the border between Ad-Ramouseh Industrial Districts I and II in the Columbia CSR neighbourhood polygons, where the road south of the Ramouseh districts meets the road between them; not surveyed",
        },
        Place {
            id: RASHIDIN_4,
            name_en: "al-Rashideen 4",
            name_ar: "الراشدين الرابعة",
            lon: 37.0700,
            lat: 36.1700,
            position_source: "approximate (36.170 N, 37.070 E): south-western suburb about 1.4 km west of the Tishreen neighbourhoods; the OSM POI file of 2017 has no Rashidin/Rashideen node",
        },
        Place {
            id: BINNISH_JUNCTION,
            name_en: "Idlib road junction near Binnish",
            name_ar: "مفرق بنش",
            lon: 36.7120,
            lat: 35.9580,
            position_source: "approximate: junction placed on the approximate Idlib road near Binnish (about 35.96 N, 36.71 E, from general knowledge, not in the POI file), south of al-Fu'ah and Kafarya",
        },
        Place {
            id: IDLIB,
            name_en: "Idlib",
            name_ar: "إدلب",
            lon: 36.6310,
            lat: 35.9279,
            position_source: "mean of the 17 named OSM POIs (mosques, a church, roundabouts, a park) in Idlib city, 35.91-35.94 N 36.615-36.645 E, syria-poi-2017.osm (© OpenStreetMap contributors, ODbL)",
        },
        Place {
            id: FUAH,
            name_en: "al-Fu'ah",
            name_ar: "الفوعة",
            lon: 36.7000,
            lat: 35.9900,
            position_source: "approximate (35.99 N, 36.70 E), north-east of Idlib; not in the OSM POI file of 2017",
        },
        Place {
            id: KAFARYA,
            name_en: "Kafarya",
            name_ar: "كفريا",
            lon: 36.6800,
            lat: 35.9800,
            position_source: "approximate (35.98 N, 36.68 E), west of al-Fu'ah; not in the OSM POI file of 2017",
        },
    ]
}

/// The place with this id, if any.
pub fn place(id: &str) -> Option<Place> {
    places().into_iter().find(|p| p.id == id)
}

/// Waypoints of the corridor road between the Ramouseh bridge and
/// al-Rashideen 4: just south of Ad-Ramouseh I, south of the southern
/// Tishreen neighbourhood, and west of it (`[lon, lat]`). A plausible path
/// around the south-west of the city, not a surveyed one.
const CORRIDOR_WAYPOINTS: [(f64, f64); 3] = [(37.1150, 36.1510), (37.1000, 36.1550), (37.0850, 36.1610)];

/// Waypoints of the road from al-Rashideen 4 to the Binnish junction
/// (`[lon, lat]`): a smooth approximate line south-west across the plain,
/// not a surveyed road.
const IDLIB_ROAD_WAYPOINTS: [(f64, f64); 3] = [(37.0000, 36.1400), (36.9000, 36.0800), (36.8000, 36.0100)];

/// Build the approximate district road network from the neighbourhood
/// GeoJSON (`shared/data/aleppo/neighborhoods.geojson`).
///
/// Returns a GeoJSON FeatureCollection of LineString roads (OSM-style tags),
/// district Point features and place Point features; see the module
/// documentation for the construction and the properties.
pub fn district_network(neighborhoods_geojson: &str) -> Result<Value, AleppoError> {
    let districts = parse_districts(neighborhoods_geojson)?;
    let proj = LocalProjection::new(ALEPPO_CENTRE.0, ALEPPO_CENTRE.1);
    let shapes: Vec<Shape> = districts.iter().map(|d| Shape::new(&d.parts, &proj)).collect();

    let mut roads: Vec<Road> = Vec::new();

    // 2. District links between neighbours.
    let mut neighbour_pairs = 0usize;
    for i in 0..districts.len() {
        for j in (i + 1)..districts.len() {
            if !shapes[i].bbox_within(&shapes[j], NEIGHBOUR_TOLERANCE_M) {
                continue;
            }
            if let Some(contact) = contact(&shapes, i, j, NEIGHBOUR_TOLERANCE_M, MIN_FACING_M) {
                neighbour_pairs += 1;
                let via = round_coord(proj.to_deg(contact.point));
                roads.push(Road {
                    coords: vec![districts[i].node, via, districts[j].node],
                    highway: city_class(&districts[i], &districts[j]),
                    name: format!("{} – {} link (approximate)", districts[i].name, districts[j].name),
                    link: "district",
                    from: districts[i].node_id(),
                    to: districts[j].node_id(),
                    from_district: Some(i),
                    to_district: Some(j),
                    detour_factor: URBAN_DETOUR_FACTOR,
                    extra: vec![
                        ("facing_border_m", json!(round_dp(contact.facing_m, 0))),
                        ("gap_m", json!(round_dp(contact.min_gap_m, 1))),
                    ],
                });
            }
        }
    }

    // 3. Gap links: join components shortest gap first.
    let mut uf = UnionFind::new(districts.len());
    for r in &roads {
        uf.union(r.from_district.unwrap(), r.to_district.unwrap());
    }
    let mut gap_links = 0usize;
    while uf.components() > 1 {
        let (i, j, gap) = shortest_gap_between_components(&shapes, &mut uf);
        let a = round_coord(proj.to_deg(gap.a));
        let b = round_coord(proj.to_deg(gap.b));
        let mut coords = vec![districts[i].node];
        for c in [a, b] {
            if coords.last() != Some(&c) {
                coords.push(c);
            }
        }
        if coords.last() != Some(&districts[j].node) {
            coords.push(districts[j].node);
        }
        roads.push(Road {
            coords,
            highway: city_class(&districts[i], &districts[j]),
            name: format!("{} – {} link (approximate)", districts[i].name, districts[j].name),
            link: "gap",
            from: districts[i].node_id(),
            to: districts[j].node_id(),
            from_district: Some(i),
            to_district: Some(j),
            detour_factor: URBAN_DETOUR_FACTOR,
            extra: vec![("gap_m", json!(round_dp(gap.distance, 1)))],
        });
        uf.union(i, j);
        gap_links += 1;
    }

    // 4. Primary axes by edge betweenness.
    let betweenness = edge_betweenness(&districts, &roads);
    let n_primary = ((roads.len() as f64) * PRIMARY_SHARE).round() as usize;
    let mut order: Vec<usize> = (0..roads.len()).filter(|&k| roads[k].highway == "secondary").collect();
    order.sort_by(|&a, &b| betweenness[b].total_cmp(&betweenness[a]).then(a.cmp(&b)));
    for &k in order.iter().take(n_primary) {
        roads[k].highway = "primary";
    }
    for (k, r) in roads.iter_mut().enumerate() {
        r.extra.push(("betweenness", json!(round_dp(betweenness[k], 1))));
    }
    let city_links = roads.len();

    // 5. The corridor and the roads west.
    let ramouseh: Vec<usize> =
        districts.iter().enumerate().filter(|(_, d)| d.name.to_lowercase().starts_with("ad-ramouseh")).map(|(i, _)| i).collect();
    if ramouseh.is_empty() {
        return Err(AleppoError::NoRamousehDistricts);
    }
    let pl = |id: &str| {
        let p = place(id).expect("known place id");
        round_coord(Coord { x: p.lon, y: p.lat })
    };
    let bridge = pl(RAMOUSEH_BRIDGE);
    let rashidin = pl(RASHIDIN_4);
    let junction = pl(BINNISH_JUNCTION);
    let idlib = pl(IDLIB);
    let fuah = pl(FUAH);
    let kafarya = pl(KAFARYA);
    for &i in &ramouseh {
        roads.push(Road {
            coords: vec![bridge, districts[i].node],
            highway: "secondary",
            name: format!("Ramouseh bridge – {} access (approximate)", districts[i].name),
            link: "access",
            from: RAMOUSEH_BRIDGE.to_string(),
            to: districts[i].node_id(),
            from_district: None,
            to_district: Some(i),
            detour_factor: URBAN_DETOUR_FACTOR,
            extra: vec![],
        });
    }
    let with_waypoints = |start: Coord, waypoints: &[(f64, f64)], end: Coord| {
        let mut v = vec![start];
        v.extend(waypoints.iter().map(|&(x, y)| round_coord(Coord { x, y })));
        v.push(end);
        v
    };
    roads.push(Road {
        coords: with_waypoints(bridge, &CORRIDOR_WAYPOINTS, rashidin),
        highway: "primary",
        name: "Ramouseh–Rashidin corridor road (approximate)".to_string(),
        link: "corridor",
        from: RAMOUSEH_BRIDGE.to_string(),
        to: RASHIDIN_4.to_string(),
        from_district: None,
        to_district: None,
        detour_factor: ROAD_DETOUR_FACTOR,
        extra: vec![],
    });
    // Rashidin-4 is a suburb, reached from the city's western districts
    // by streets too: link it to the two nearest district nodes, so that a
    // closed corridor road leaves a (longer) way round, as in the real city.
    let mut by_distance: Vec<(f64, usize)> = districts
        .iter()
        .enumerate()
        .map(|(i, d)| ((d.node.x - rashidin.x).powi(2) * 0.65 + (d.node.y - rashidin.y).powi(2), i))
        .collect();
    by_distance.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    for &(_, i) in by_distance.iter().take(2) {
        roads.push(Road {
            coords: vec![rashidin, districts[i].node],
            highway: "tertiary",
            name: format!("al-Rashideen 4 – {} streets (approximate)", districts[i].name),
            link: "suburb",
            from: RASHIDIN_4.to_string(),
            to: districts[i].node_id(),
            from_district: None,
            to_district: Some(i),
            detour_factor: URBAN_DETOUR_FACTOR,
            extra: vec![],
        });
    }
    roads.push(Road {
        coords: with_waypoints(rashidin, &IDLIB_ROAD_WAYPOINTS, junction),
        highway: "trunk",
        name: "road towards Idlib (approximate)".to_string(),
        link: "trunk",
        from: RASHIDIN_4.to_string(),
        to: BINNISH_JUNCTION.to_string(),
        from_district: None,
        to_district: None,
        detour_factor: ROAD_DETOUR_FACTOR,
        extra: vec![],
    });
    roads.push(Road {
        coords: vec![junction, idlib],
        highway: "trunk",
        name: "road towards Idlib (approximate)".to_string(),
        link: "trunk",
        from: BINNISH_JUNCTION.to_string(),
        to: IDLIB.to_string(),
        from_district: None,
        to_district: None,
        detour_factor: ROAD_DETOUR_FACTOR,
        extra: vec![],
    });
    for (id, at, name) in [(FUAH, fuah, "al-Fu'ah"), (KAFARYA, kafarya, "Kafarya")] {
        roads.push(Road {
            coords: vec![junction, at],
            highway: "secondary",
            name: format!("{name} road (approximate)"),
            link: "feeder",
            from: BINNISH_JUNCTION.to_string(),
            to: id.to_string(),
            from_district: None,
            to_district: None,
            detour_factor: ROAD_DETOUR_FACTOR,
            extra: vec![],
        });
    }
    roads.push(Road {
        coords: vec![fuah, kafarya],
        highway: "tertiary",
        name: "al-Fu'ah – Kafarya road (approximate)".to_string(),
        link: "feeder",
        from: FUAH.to_string(),
        to: KAFARYA.to_string(),
        from_district: None,
        to_district: None,
        detour_factor: ROAD_DETOUR_FACTOR,
        extra: vec![],
    });

    // Assemble the FeatureCollection.
    let mut features: Vec<Value> = Vec::with_capacity(roads.len() + districts.len() + 6);
    for r in &roads {
        features.push(r.to_feature());
    }
    for d in &districts {
        let mut p = Map::new();
        p.insert("kind".into(), json!("district"));
        p.insert("node_id".into(), json!(d.node_id()));
        p.insert("name".into(), json!(d.name));
        if let Some(ar) = &d.name_ar {
            p.insert("name_ar".into(), json!(ar));
        }
        if let Some(id) = &d.source_id {
            p.insert("source_id".into(), id.clone());
        }
        p.insert("feature_index".into(), json!(d.index));
        common_properties(&mut p);
        features.push(point_feature(d.node, p));
    }
    for pl in places() {
        let mut p = Map::new();
        p.insert("kind".into(), json!("place"));
        p.insert("node_id".into(), json!(pl.id));
        p.insert("name".into(), json!(pl.name_en));
        p.insert("name_ar".into(), json!(pl.name_ar));
        p.insert("position_source".into(), json!(pl.position_source));
        common_properties(&mut p);
        features.push(point_feature(round_coord(Coord { x: pl.lon, y: pl.lat }), p));
    }

    Ok(json!({
        "type": "FeatureCollection",
        "name": "aleppo-district-network-approximate",
        "attribution": ATTRIBUTION,
        "summary": {
            "districts": districts.len(),
            "neighbour_pairs": neighbour_pairs,
            "neighbour_tolerance_m": NEIGHBOUR_TOLERANCE_M,
            "gap_links": gap_links,
            "city_links": city_links,
            "primary_city_links": n_primary,
            "roads": roads.len(),
            "places": places().len(),
        },
        "features": features,
    }))
}

// ---------------------------------------------------------------------------
// Input

struct District {
    index: usize,
    source_id: Option<Value>,
    name: String,
    name_ar: Option<String>,
    /// Polygon parts, lon/lat.
    parts: Vec<Polygon<f64>>,
    /// Node position, lon/lat, rounded.
    node: Coord<f64>,
    /// A cemetery, park, citadel or barrack (see [`SITE_WORDS`]).
    site: bool,
}

impl District {
    fn node_id(&self) -> String {
        format!("district-{:03}", self.index)
    }
}

fn parse_districts(input: &str) -> Result<Vec<District>, AleppoError> {
    let gj: geojson::GeoJson = input.parse()?;
    let fc = match gj {
        geojson::GeoJson::FeatureCollection(fc) => fc,
        geojson::GeoJson::Feature(_) => return Err(AleppoError::NotFeatureCollection { found: "Feature".into() }),
        geojson::GeoJson::Geometry(g) => {
            return Err(AleppoError::NotFeatureCollection { found: format!("{} geometry", g.value.type_name()) })
        }
    };
    if fc.features.is_empty() {
        return Err(AleppoError::Empty);
    }
    let centre = Point::new(ALEPPO_CENTRE.0, ALEPPO_CENTRE.1);
    let mut out = Vec::with_capacity(fc.features.len());
    for (index, f) in fc.features.iter().enumerate() {
        let prop = |k: &str| f.properties.as_ref().and_then(|p| p.get(k));
        let name = match prop("NAME").and_then(Value::as_str).map(str::trim) {
            Some(n) if !n.is_empty() => n.to_string(),
            _ => return Err(AleppoError::MissingName { index }),
        };
        let name_ar = prop("NAME_A").and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty()).map(String::from);
        let source_id = prop("Id").filter(|v| !v.is_null()).cloned();
        let Some(geometry) = &f.geometry else {
            return Err(AleppoError::MissingGeometry { index, name });
        };
        let parts: Vec<Polygon<f64>> = match &geometry.value {
            v @ geojson::GeometryValue::Polygon { .. } => vec![Polygon::try_from(v)?],
            v @ geojson::GeometryValue::MultiPolygon { .. } => geo::MultiPolygon::try_from(v)?.0,
            other => return Err(AleppoError::NotPolygonal { index, name, found: other.type_name().to_string() }),
        };
        if parts.is_empty() {
            return Err(AleppoError::DegenerateGeometry { index, name });
        }
        for part in &parts {
            if part.exterior().0.len() < 4 {
                return Err(AleppoError::DegenerateGeometry { index, name });
            }
            for ring in std::iter::once(part.exterior()).chain(part.interiors()) {
                for c in &ring.0 {
                    if !(c.x.is_finite() && c.y.is_finite() && c.x.abs() <= 180.0 && c.y.abs() <= 90.0) {
                        return Err(AleppoError::CoordinateOutOfRange { index, name, lon: c.x, lat: c.y });
                    }
                }
            }
        }
        // Largest part by area (first one on ties).
        let mut largest = 0;
        for (k, p) in parts.iter().enumerate() {
            if p.unsigned_area() > parts[largest].unsigned_area() {
                largest = k;
            }
        }
        let part = &parts[largest];
        if part.unsigned_area() <= 0.0 {
            return Err(AleppoError::DegenerateGeometry { index, name });
        }
        let node = match part.centroid() {
            Some(c) if part.contains(&c) => c,
            _ => match part.interior_point() {
                Some(p) => p,
                None => return Err(AleppoError::DegenerateGeometry { index, name }),
            },
        };
        let node = round_coord(node.0);
        let distance = Haversine.distance(centre, Point(node));
        if distance > MAX_DISTRICT_DISTANCE_M {
            return Err(AleppoError::OutsideAleppo { index, name, distance_km: distance / 1000.0 });
        }
        let lower = name.to_lowercase();
        let site = SITE_WORDS.iter().any(|w| lower.contains(w));
        out.push(District { index, source_id, name, name_ar, parts, node, site });
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// Geometry helpers (local metric projection around Aleppo)

/// Equirectangular projection to metres around a reference point: accurate to
/// well under a metre per kilometre over the city, which is all the
/// neighbour test needs.
struct LocalProjection {
    lon0: f64,
    lat0: f64,
    kx: f64,
    ky: f64,
}

impl LocalProjection {
    fn new(lon0: f64, lat0: f64) -> Self {
        let ky = EARTH_RADIUS_M * std::f64::consts::PI / 180.0;
        LocalProjection { lon0, lat0, kx: ky * lat0.to_radians().cos(), ky }
    }
    fn to_m(&self, c: Coord<f64>) -> Coord<f64> {
        Coord { x: (c.x - self.lon0) * self.kx, y: (c.y - self.lat0) * self.ky }
    }
    fn to_deg(&self, c: Coord<f64>) -> Coord<f64> {
        Coord { x: c.x / self.kx + self.lon0, y: c.y / self.ky + self.lat0 }
    }
}

/// A district's polygons in metres, as rings of points, with a bounding box.
struct Shape {
    polygons: Vec<Polygon<f64>>,
    /// Every ring (exteriors and holes) as closed point lists.
    rings: Vec<Vec<Coord<f64>>>,
    min: Coord<f64>,
    max: Coord<f64>,
}

impl Shape {
    fn new(parts: &[Polygon<f64>], proj: &LocalProjection) -> Self {
        let polygons: Vec<Polygon<f64>> = parts
            .iter()
            .map(|p| {
                let ring = |ls: &geo::LineString<f64>| geo::LineString(ls.0.iter().map(|&c| proj.to_m(c)).collect());
                Polygon::new(ring(p.exterior()), p.interiors().iter().map(ring).collect())
            })
            .collect();
        let rings: Vec<Vec<Coord<f64>>> =
            polygons.iter().flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors())).map(|ls| ls.0.clone()).collect();
        let mut min = Coord { x: f64::INFINITY, y: f64::INFINITY };
        let mut max = Coord { x: f64::NEG_INFINITY, y: f64::NEG_INFINITY };
        for c in rings.iter().flatten() {
            min.x = min.x.min(c.x);
            min.y = min.y.min(c.y);
            max.x = max.x.max(c.x);
            max.y = max.y.max(c.y);
        }
        Shape { polygons, rings, min, max }
    }

    /// Distance between the bounding boxes (0 when they overlap).
    fn bbox_gap(&self, other: &Shape) -> f64 {
        let dx = (other.min.x - self.max.x).max(self.min.x - other.max.x).max(0.0);
        let dy = (other.min.y - self.max.y).max(self.min.y - other.max.y).max(0.0);
        dx.hypot(dy)
    }

    fn bbox_within(&self, other: &Shape, tol: f64) -> bool {
        self.bbox_gap(other) <= tol
    }

    fn contains(&self, c: Coord<f64>) -> bool {
        self.polygons.iter().any(|p| p.contains(&c))
    }

    /// The vertices of every ring, without the closing repeat.
    fn vertices(&self) -> impl Iterator<Item = Coord<f64>> + '_ {
        self.rings.iter().flat_map(|r| r[..r.len().saturating_sub(1)].iter().copied())
    }

    fn segments(&self) -> impl Iterator<Item = (Coord<f64>, Coord<f64>)> + '_ {
        self.rings.iter().flat_map(|r| r.windows(2).map(|w| (w[0], w[1])))
    }

    /// Nearest point on the boundary, and its distance.
    fn nearest_on_boundary(&self, p: Coord<f64>) -> (f64, Coord<f64>) {
        let mut best = (f64::INFINITY, p);
        for (a, b) in self.segments() {
            let q = project_on_segment(p, a, b);
            let d = dist(p, q);
            if d < best.0 {
                best = (d, q);
            }
        }
        best
    }

    /// Distance from `p` to the shape (0 inside), and the nearest boundary point.
    fn gap(&self, p: Coord<f64>) -> (f64, Coord<f64>) {
        let (d, q) = self.nearest_on_boundary(p);
        if self.contains(p) {
            (0.0, q)
        } else {
            (d, q)
        }
    }
}

fn dist(a: Coord<f64>, b: Coord<f64>) -> f64 {
    (a.x - b.x).hypot(a.y - b.y)
}

fn mid(a: Coord<f64>, b: Coord<f64>) -> Coord<f64> {
    Coord { x: (a.x + b.x) / 2.0, y: (a.y + b.y) / 2.0 }
}

fn project_on_segment(p: Coord<f64>, a: Coord<f64>, b: Coord<f64>) -> Coord<f64> {
    let (dx, dy) = (b.x - a.x, b.y - a.y);
    let len2 = dx * dx + dy * dy;
    if len2 == 0.0 {
        return a;
    }
    let t = (((p.x - a.x) * dx + (p.y - a.y) * dy) / len2).clamp(0.0, 1.0);
    Coord { x: a.x + t * dx, y: a.y + t * dy }
}

/// Intersection point of two segments, if they cross at a single point.
fn segment_crossing(p1: Coord<f64>, p2: Coord<f64>, q1: Coord<f64>, q2: Coord<f64>) -> Option<Coord<f64>> {
    let r = Coord { x: p2.x - p1.x, y: p2.y - p1.y };
    let s = Coord { x: q2.x - q1.x, y: q2.y - q1.y };
    let denom = r.x * s.y - r.y * s.x;
    if denom == 0.0 {
        return None;
    }
    let qp = Coord { x: q1.x - p1.x, y: q1.y - p1.y };
    let t = (qp.x * s.y - qp.y * s.x) / denom;
    let u = (qp.x * r.y - qp.y * r.x) / denom;
    if (0.0..=1.0).contains(&t) && (0.0..=1.0).contains(&u) {
        Some(Coord { x: p1.x + t * r.x, y: p1.y + t * r.y })
    } else {
        None
    }
}

/// How two neighbouring districts meet.
struct Contact {
    /// Point on (or midway across the street gap of) the shared border, metres.
    point: Coord<f64>,
    /// Length of border along which the two face each other, metres.
    facing_m: f64,
    /// Smallest vertex-to-shape distance (0 when they overlap), metres.
    min_gap_m: f64,
}

/// Whether the segment `p`–`q` runs through any district other than `i` and `j`.
fn blocked(shapes: &[Shape], i: usize, j: usize, p: Coord<f64>, q: Coord<f64>) -> bool {
    let line = geo::Line::new(p, q);
    shapes.iter().enumerate().any(|(k, s)| {
        k != i
            && k != j
            && s.max.x >= p.x.min(q.x)
            && s.min.x <= p.x.max(q.x)
            && s.max.y >= p.y.min(q.y)
            && s.min.y <= p.y.max(q.y)
            && s.polygons.iter().any(|poly| poly.intersects(&line))
    })
}

/// Whether and where districts `i` and `j` meet (see the module documentation):
/// a vertex of one *faces* the other when it lies inside it, or within `tol`
/// of its boundary with no third district in between. They are neighbours
/// when they overlap, or face each other along at least `min_facing` metres
/// of border.
fn contact(shapes: &[Shape], i: usize, j: usize, tol: f64, min_facing: f64) -> Option<Contact> {
    let mut points: Vec<Coord<f64>> = Vec::new();
    let mut min_gap = f64::INFINITY;
    let mut facing = 0.0;
    for (this, other) in [(i, j), (j, i)] {
        for ring in &shapes[this].rings {
            let faces: Vec<Option<(f64, Coord<f64>)>> = ring
                .iter()
                .map(|&v| {
                    let (g, q) = shapes[other].gap(v);
                    (g == 0.0 || (g <= tol && !blocked(shapes, i, j, v, q))).then_some((g, q))
                })
                .collect();
            let n = ring.len().saturating_sub(1);
            for k in 0..n {
                if let Some((g, q)) = faces[k] {
                    points.push(mid(ring[k], q));
                    min_gap = min_gap.min(g);
                    if faces[k + 1].is_some() {
                        facing += dist(ring[k], ring[k + 1]);
                    }
                }
            }
        }
    }
    facing /= 2.0;
    let mut overlap = min_gap == 0.0;
    if points.is_empty() {
        // Boundaries that cross between far-apart vertices.
        for (p1, p2) in shapes[i].segments() {
            for (q1, q2) in shapes[j].segments() {
                if let Some(x) = segment_crossing(p1, p2, q1, q2) {
                    points.push(x);
                    min_gap = 0.0;
                    overlap = true;
                }
            }
        }
    }
    if points.is_empty() || !(overlap || facing >= min_facing) {
        return None;
    }
    let n = points.len() as f64;
    let mean = Coord { x: points.iter().map(|c| c.x).sum::<f64>() / n, y: points.iter().map(|c| c.y).sum::<f64>() / n };
    let mut best = points[0];
    for &p in &points[1..] {
        if dist(p, mean) < dist(best, mean) {
            best = p;
        }
    }
    Some(Contact { point: best, facing_m: facing, min_gap_m: min_gap })
}

/// Closest pair of points between two shapes (boundaries), metres.
struct Gap {
    distance: f64,
    a: Coord<f64>,
    b: Coord<f64>,
}

fn closest_points(a: &Shape, b: &Shape) -> Gap {
    let mut best = Gap { distance: f64::INFINITY, a: Coord { x: 0.0, y: 0.0 }, b: Coord { x: 0.0, y: 0.0 } };
    for v in a.vertices() {
        let (d, q) = b.nearest_on_boundary(v);
        if d < best.distance {
            best = Gap { distance: d, a: v, b: q };
        }
    }
    for v in b.vertices() {
        let (d, q) = a.nearest_on_boundary(v);
        if d < best.distance {
            best = Gap { distance: d, a: q, b: v };
        }
    }
    best
}

/// The shortest gap between two districts in different components
/// (ties: lowest indices), as `(i, j, gap)` with `i < j`.
fn shortest_gap_between_components(shapes: &[Shape], uf: &mut UnionFind) -> (usize, usize, Gap) {
    let mut candidates: Vec<(f64, usize, usize)> = Vec::new();
    for i in 0..shapes.len() {
        for j in (i + 1)..shapes.len() {
            if uf.find(i) != uf.find(j) {
                candidates.push((shapes[i].bbox_gap(&shapes[j]), i, j));
            }
        }
    }
    candidates.sort_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)).then(x.2.cmp(&y.2)));
    let mut best: Option<(usize, usize, Gap)> = None;
    for (lower_bound, i, j) in candidates {
        if let Some((_, _, g)) = &best {
            if lower_bound > g.distance {
                break;
            }
        }
        let g = closest_points(&shapes[i], &shapes[j]);
        let better = match &best {
            None => true,
            Some((bi, bj, bg)) => g.distance < bg.distance || (g.distance == bg.distance && (i, j) < (*bi, *bj)),
        };
        if better {
            best = Some((i, j, g));
        }
    }
    best.expect("at least two components")
}

struct UnionFind {
    parent: Vec<usize>,
}

impl UnionFind {
    fn new(n: usize) -> Self {
        UnionFind { parent: (0..n).collect() }
    }
    fn find(&mut self, mut x: usize) -> usize {
        while self.parent[x] != x {
            self.parent[x] = self.parent[self.parent[x]];
            x = self.parent[x];
        }
        x
    }
    fn union(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            // Smaller root wins: deterministic.
            let (lo, hi) = if ra < rb { (ra, rb) } else { (rb, ra) };
            self.parent[hi] = lo;
        }
    }
    fn components(&mut self) -> usize {
        (0..self.parent.len()).filter(|&x| self.find(x) == x).count()
    }
}

// ---------------------------------------------------------------------------
// Road classes

/// Class of a city link before the primary axes are chosen: `tertiary` when
/// it touches a site (see [`SITE_WORDS`]), else `secondary`.
fn city_class(a: &District, b: &District) -> &'static str {
    if a.site || b.site {
        "tertiary"
    } else {
        "secondary"
    }
}

/// Edge betweenness (Brandes) of the city links over shortest paths between
/// all pairs of districts; lengths along the link geometry, times
/// [`SITE_THROUGH_PENALTY`] for links touching a site.
fn edge_betweenness(districts: &[District], roads: &[Road]) -> Vec<f64> {
    let n = districts.len();
    let mut adj: Vec<Vec<(usize, usize, f64)>> = vec![Vec::new(); n];
    for (k, r) in roads.iter().enumerate() {
        let (a, b) = (r.from_district.unwrap(), r.to_district.unwrap());
        let penalty = if districts[a].site || districts[b].site { SITE_THROUGH_PENALTY } else { 1.0 };
        let w = r.length_m() * penalty;
        adj[a].push((b, k, w));
        adj[b].push((a, k, w));
    }
    let mut cb = vec![0.0; roads.len()];
    for s in 0..n {
        let mut dist = vec![f64::INFINITY; n];
        let mut sigma = vec![0.0f64; n];
        let mut preds: Vec<Vec<(usize, usize)>> = vec![Vec::new(); n];
        let mut stack = Vec::with_capacity(n);
        let mut done = vec![false; n];
        let mut heap = BinaryHeap::new();
        dist[s] = 0.0;
        sigma[s] = 1.0;
        heap.push(HeapItem { dist: 0.0, node: s });
        while let Some(HeapItem { dist: d, node: v }) = heap.pop() {
            if done[v] {
                continue;
            }
            done[v] = true;
            stack.push(v);
            for &(w, k, len) in &adj[v] {
                let nd = d + len;
                if nd < dist[w] {
                    dist[w] = nd;
                    sigma[w] = sigma[v];
                    preds[w] = vec![(v, k)];
                    heap.push(HeapItem { dist: nd, node: w });
                } else if nd == dist[w] && !done[w] {
                    sigma[w] += sigma[v];
                    preds[w].push((v, k));
                }
            }
        }
        let mut delta = vec![0.0; n];
        while let Some(w) = stack.pop() {
            for &(v, k) in &preds[w] {
                let c = sigma[v] / sigma[w] * (1.0 + delta[w]);
                cb[k] += c;
                delta[v] += c;
            }
        }
    }
    // Each unordered pair was counted from both ends.
    cb.iter().map(|c| c / 2.0).collect()
}

#[derive(PartialEq)]
struct HeapItem {
    dist: f64,
    node: usize,
}

impl Eq for HeapItem {}

impl Ord for HeapItem {
    fn cmp(&self, other: &Self) -> Ordering {
        // Min-heap on distance, then node.
        other.dist.total_cmp(&self.dist).then_with(|| other.node.cmp(&self.node))
    }
}

impl PartialOrd for HeapItem {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

// ---------------------------------------------------------------------------
// Output

struct Road {
    /// lon/lat, rounded.
    coords: Vec<Coord<f64>>,
    highway: &'static str,
    name: String,
    link: &'static str,
    from: String,
    to: String,
    from_district: Option<usize>,
    to_district: Option<usize>,
    detour_factor: f64,
    extra: Vec<(&'static str, Value)>,
}

impl Road {
    fn length_m(&self) -> f64 {
        self.coords.windows(2).map(|w| Haversine.distance(Point(w[0]), Point(w[1]))).sum()
    }

    fn to_feature(&self) -> Value {
        let (maxspeed, lanes) = match self.highway {
            "trunk" => ("80", "4"),
            "primary" => ("60", "4"),
            "secondary" => ("50", "2"),
            _ => ("40", "2"),
        };
        let mut p = Map::new();
        p.insert("highway".into(), json!(self.highway));
        p.insert("name".into(), json!(self.name));
        p.insert("maxspeed".into(), json!(maxspeed));
        p.insert("lanes".into(), json!(lanes));
        p.insert("oneway".into(), json!("no"));
        p.insert("detour_factor".into(), json!(self.detour_factor));
        p.insert("link".into(), json!(self.link));
        p.insert("from".into(), json!(self.from));
        p.insert("to".into(), json!(self.to));
        p.insert("length_m".into(), json!(round_dp(self.length_m(), 0)));
        for (k, v) in &self.extra {
            p.insert((*k).into(), v.clone());
        }
        common_properties(&mut p);
        json!({
            "type": "Feature",
            "geometry": {
                "type": "LineString",
                "coordinates": self.coords.iter().map(|c| json!([c.x, c.y])).collect::<Vec<_>>(),
            },
            "properties": p,
        })
    }
}

fn common_properties(p: &mut Map<String, Value>) {
    p.insert("approximate".into(), json!(true));
    p.insert("source".into(), json!(SOURCE));
    p.insert("attribution".into(), json!(ATTRIBUTION));
}

fn point_feature(c: Coord<f64>, properties: Map<String, Value>) -> Value {
    json!({
        "type": "Feature",
        "geometry": { "type": "Point", "coordinates": [c.x, c.y] },
        "properties": properties,
    })
}

/// Round to 1e-7 degrees (about 1 cm); every shared position is computed
/// once and reused, so shared endpoints are bit-identical.
fn round_coord(c: Coord<f64>) -> Coord<f64> {
    Coord { x: (c.x * 1e7).round() / 1e7, y: (c.y * 1e7).round() / 1e7 }
}

/// Round to `decimals` decimal places (for readable metadata only).
fn round_dp(x: f64, decimals: i32) -> f64 {
    let k = 10f64.powi(decimals);
    (x * k).round() / k
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, BTreeSet};
    use std::sync::OnceLock;

    /// The real neighbourhood file (the shared data folder sits beside the project root).
    const NEIGHBOURHOODS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/aleppo/neighborhoods.geojson");

    fn input() -> &'static str {
        static INPUT: OnceLock<String> = OnceLock::new();
        INPUT.get_or_init(|| std::fs::read_to_string(NEIGHBOURHOODS).unwrap_or_else(|e| panic!("read {NEIGHBOURHOODS}: {e}")))
    }

    fn network() -> &'static Value {
        static NETWORK: OnceLock<Value> = OnceLock::new();
        NETWORK.get_or_init(|| district_network(input()).expect("district network builds from the real file"))
    }

    fn features() -> &'static [Value] {
        network()["features"].as_array().expect("features array")
    }

    fn lines() -> impl Iterator<Item = &'static Value> {
        features().iter().filter(|f| f["geometry"]["type"] == "LineString")
    }

    fn points(kind: &str) -> Vec<&'static Value> {
        features().iter().filter(|f| f["geometry"]["type"] == "Point" && f["properties"]["kind"] == kind).collect()
    }

    fn coord(v: &Value) -> (f64, f64) {
        (v[0].as_f64().expect("lon"), v[1].as_f64().expect("lat"))
    }

    fn key(v: &Value) -> (u64, u64) {
        let (x, y) = coord(v);
        (x.to_bits(), y.to_bits())
    }

    fn line_coords(f: &Value) -> &Vec<Value> {
        f["geometry"]["coordinates"].as_array().expect("coordinates")
    }

    fn km(a: (f64, f64), b: (f64, f64)) -> f64 {
        Haversine.distance(Point::new(a.0, a.1), Point::new(b.0, b.1)) / 1000.0
    }

    fn place_coord(id: &str) -> (f64, f64) {
        let p = place(id).unwrap_or_else(|| panic!("place {id}"));
        (p.lon, p.lat)
    }

    #[test]
    fn aleppo_all_133_neighbourhoods_become_nodes() {
        let districts = points("district");
        assert_eq!(districts.len(), 133);
        let ids: BTreeSet<&str> = districts.iter().map(|f| f["properties"]["node_id"].as_str().unwrap()).collect();
        assert_eq!(ids.len(), 133, "district node ids are unique");

        // Each node lies inside its own neighbourhood, and keeps its names.
        let fc: geojson::FeatureCollection = input().parse().unwrap();
        for f in &districts {
            let idx = f["properties"]["feature_index"].as_u64().unwrap() as usize;
            let src = &fc.features[idx];
            let props = src.properties.as_ref().unwrap();
            assert_eq!(f["properties"]["name"], props["NAME"]);
            assert_eq!(f["properties"]["name_ar"], props["NAME_A"]);
            assert_eq!(f["properties"]["source_id"], props["Id"]);
            let mp = geo::MultiPolygon::<f64>::try_from(&src.geometry.as_ref().unwrap().value).unwrap();
            let (x, y) = coord(&f["geometry"]["coordinates"]);
            assert!(mp.contains(&Point::new(x, y)), "node of {} lies inside it", props["NAME"]);
        }
        let summary = &network()["summary"];
        println!("summary: {summary}");
        assert_eq!(summary["districts"], 133);
    }

    #[test]
    fn aleppo_network_is_connected() {
        // Join LineStrings the way the importer does: on bit-identical
        // coordinates at endpoints or interior vertices; lines are undirected.
        let mut index: BTreeMap<(u64, u64), usize> = BTreeMap::new();
        let mut parent: Vec<usize> = Vec::new();
        fn find(parent: &mut [usize], mut x: usize) -> usize {
            while parent[x] != x {
                parent[x] = parent[parent[x]];
                x = parent[x];
            }
            x
        }
        let mut id = |k: (u64, u64), parent: &mut Vec<usize>| {
            *index.entry(k).or_insert_with(|| {
                parent.push(parent.len());
                parent.len() - 1
            })
        };
        let mut edges = 0;
        for f in lines() {
            let c = line_coords(f);
            for w in c.windows(2) {
                let (a, b) = (id(key(&w[0]), &mut parent), id(key(&w[1]), &mut parent));
                let (ra, rb) = (find(&mut parent, a), find(&mut parent, b));
                parent[ra.max(rb)] = ra.min(rb);
            }
            edges += 1;
        }
        let mut roots = BTreeSet::new();
        let mut named = 0;
        for kind in ["district", "place"] {
            for f in points(kind) {
                let k = key(&f["geometry"]["coordinates"]);
                let n = *index.get(&k).unwrap_or_else(|| panic!("{} is not on any road vertex", f["properties"]["name"]));
                roots.insert(find(&mut parent, n));
                named += 1;
            }
        }
        println!("{} road vertices, {edges} LineStrings, {named} district + place nodes", index.len());
        assert_eq!(named, 133 + places().len());
        assert_eq!(roots.len(), 1, "every district and place is in one component");
        // And the whole graph is one component.
        let all: BTreeSet<usize> = (0..parent.len()).map(|x| find(&mut parent, x)).collect();
        assert_eq!(all.len(), 1);
    }

    #[test]
    fn aleppo_ramouseh_bridge_to_rashidin_4_is_plausible() {
        let d = km(place_coord(RAMOUSEH_BRIDGE), place_coord(RASHIDIN_4));
        println!("Ramouseh bridge -> al-Rashideen 4: {d:.2} km straight line");
        assert!((3.0..=9.0).contains(&d), "{d} km");
        let corridor = lines().find(|f| f["properties"]["link"] == "corridor").expect("corridor road");
        let p = &corridor["properties"];
        assert_eq!(p["highway"], "primary");
        assert_eq!(p["name"], "Ramouseh–Rashidin corridor road (approximate)");
        let c = line_coords(corridor);
        assert!(c.len() >= 4, "corridor has intermediate vertices");
        assert_eq!(coord(&c[0]), place_coord(RAMOUSEH_BRIDGE));
        assert_eq!(coord(c.last().unwrap()), place_coord(RASHIDIN_4));
        let len: f64 = c.windows(2).map(|w| km(coord(&w[0]), coord(&w[1]))).sum();
        println!(
            "corridor road geometry {len:.2} km, x detour_factor {} = {:.2} km",
            p["detour_factor"],
            len * p["detour_factor"].as_f64().unwrap()
        );
        assert!(len >= d && len < 1.5 * d);

        let to_idlib = km(place_coord(RASHIDIN_4), place_coord(IDLIB));
        println!("al-Rashideen 4 -> Idlib: {to_idlib:.1} km straight line");
        assert!((35.0..=60.0).contains(&to_idlib));
    }

    #[test]
    fn aleppo_bridge_is_linked_to_the_four_ramouseh_districts() {
        let districts: BTreeMap<&str, &Value> =
            points("district").into_iter().map(|f| (f["properties"]["node_id"].as_str().unwrap(), f)).collect();
        let access: Vec<&Value> = lines().filter(|f| f["properties"]["link"] == "access").collect();
        assert_eq!(access.len(), 4);
        for f in access {
            let c = line_coords(f);
            assert_eq!(coord(&c[0]), place_coord(RAMOUSEH_BRIDGE));
            let to = districts[f["properties"]["to"].as_str().unwrap()];
            assert!(to["properties"]["name"].as_str().unwrap().starts_with("Ad-Ramouseh Industrial District"));
            assert_eq!(key(c.last().unwrap()), key(&to["geometry"]["coordinates"]));
            let d = km(coord(&c[0]), coord(c.last().unwrap()));
            assert!(d < 3.0, "bridge is near {} ({d:.2} km)", to["properties"]["name"]);
        }
    }

    #[test]
    fn aleppo_roads_to_idlib_fuah_and_kafarya() {
        let trunk: Vec<&Value> = lines().filter(|f| f["properties"]["highway"] == "trunk").collect();
        assert_eq!(trunk.len(), 2);
        for f in &trunk {
            assert_eq!(f["properties"]["name"], "road towards Idlib (approximate)");
        }
        let ends: BTreeSet<(u64, u64)> = trunk
            .iter()
            .flat_map(|f| {
                let c = line_coords(f);
                [key(&c[0]), key(c.last().unwrap())]
            })
            .collect();
        let k = |id: &str| {
            let (x, y) = place_coord(id);
            (x.to_bits(), y.to_bits())
        };
        assert!(ends.contains(&k(RASHIDIN_4)) && ends.contains(&k(IDLIB)) && ends.contains(&k(BINNISH_JUNCTION)));
        for town in [FUAH, KAFARYA] {
            assert!(lines().any(|f| {
                let c = line_coords(f);
                let e = [key(&c[0]), key(c.last().unwrap())];
                e.contains(&k(town)) && e.contains(&k(BINNISH_JUNCTION))
            }));
            let d = km(place_coord(town), place_coord(IDLIB));
            assert!((3.0..=15.0).contains(&d), "{town} is {d:.1} km from Idlib");
        }
    }

    #[test]
    fn aleppo_coordinates_are_finite_and_in_a_sane_bbox() {
        let mut n = 0;
        for f in features() {
            let g = &f["geometry"];
            let coords: Vec<&Value> = match g["type"].as_str().unwrap() {
                "LineString" => line_coords(f).iter().collect(),
                "Point" => vec![&g["coordinates"]],
                other => panic!("unexpected geometry {other}"),
            };
            if g["type"] == "LineString" {
                assert!(coords.len() >= 2);
                for w in coords.windows(2) {
                    assert_ne!(key(w[0]), key(w[1]), "no zero-length segment in {}", f["properties"]["name"]);
                }
            }
            for c in coords {
                let (x, y) = coord(c);
                assert!(x.is_finite() && y.is_finite());
                assert!((36.55..=37.35).contains(&x) && (35.85..=36.35).contains(&y), "[{x}, {y}]");
                n += 1;
            }
        }
        assert!(n > 1000);
    }

    #[test]
    fn aleppo_roads_carry_osm_style_tags_and_attribution() {
        let mut classes: BTreeMap<String, usize> = BTreeMap::new();
        let mut links: BTreeMap<String, usize> = BTreeMap::new();
        for f in lines() {
            let p = &f["properties"];
            let hw = p["highway"].as_str().unwrap();
            assert!(["trunk", "primary", "secondary", "tertiary"].contains(&hw));
            *classes.entry(hw.to_string()).or_default() += 1;
            *links.entry(p["link"].as_str().unwrap().to_string()).or_default() += 1;
            assert!(!p["name"].as_str().unwrap().is_empty());
            assert!(p["maxspeed"].as_str().unwrap().parse::<u32>().is_ok());
            assert!(p["lanes"].as_str().unwrap().parse::<u32>().is_ok());
            assert_eq!(p["oneway"], "no");
            assert_eq!(p["approximate"], true);
            assert_eq!(p["attribution"], ATTRIBUTION);
            assert_eq!(p["source"], SOURCE);
            let df = p["detour_factor"].as_f64().unwrap();
            assert!((1.0..=1.5).contains(&df));
        }
        for f in features() {
            assert_eq!(f["properties"]["attribution"], ATTRIBUTION);
        }
        assert_eq!(network()["attribution"], ATTRIBUTION);
        println!("highway classes: {classes:?}; links: {links:?}");
        assert!(classes["primary"] > 0 && classes["secondary"] > classes["primary"]);
    }

    #[test]
    fn aleppo_neighbours_are_local_and_include_wide_boulevards() {
        let names: BTreeMap<&str, &str> = points("district")
            .into_iter()
            .map(|f| (f["properties"]["node_id"].as_str().unwrap(), f["properties"]["name"].as_str().unwrap()))
            .collect();
        let mut pairs = BTreeSet::new();
        for f in lines().filter(|f| f["properties"]["link"] == "district") {
            let p = &f["properties"];
            let (a, b) = (names[p["from"].as_str().unwrap()], names[p["to"].as_str().unwrap()]);
            pairs.insert((a.min(b), a.max(b)));
            let len = p["length_m"].as_f64().unwrap();
            assert!(len < 4000.0, "{a} – {b} link is {len} m");
            assert!(p["gap_m"].as_f64().unwrap() <= NEIGHBOUR_TOLERANCE_M);
        }
        // Separated by the ~47 m wide road between them: a 30 m tolerance would miss them.
        assert!(pairs.contains(&("Ad-Ramouseh Industrial District I", "Ad-Ramouseh Industrial District II")));
        assert!(pairs.contains(&("Aleppo Citadel", "al-Farafra")));
        assert!(!pairs.iter().any(|&(a, b)| a == "Aleppo Citadel" && b == "Sheikh Najjar"));
    }

    #[test]
    fn aleppo_output_is_deterministic() {
        let a = serde_json::to_string(&district_network(input()).unwrap()).unwrap();
        let b = serde_json::to_string(network()).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn aleppo_places_are_unique_and_emitted() {
        let ps = places();
        let ids: BTreeSet<&str> = ps.iter().map(|p| p.id).collect();
        assert_eq!(ids.len(), ps.len());
        for id in [RAMOUSEH_BRIDGE, RASHIDIN_4, IDLIB, FUAH, KAFARYA, BINNISH_JUNCTION] {
            assert!(ids.contains(id));
        }
        assert!(place("nowhere").is_none());
        let emitted = points("place");
        assert_eq!(emitted.len(), ps.len());
        for (f, p) in emitted.iter().zip(&ps) {
            assert_eq!(f["properties"]["node_id"], p.id);
            assert_eq!(coord(&f["geometry"]["coordinates"]), (p.lon, p.lat));
        }
    }

    #[test]
    fn aleppo_malformed_input_gives_the_right_error() {
        let square = |lon: f64, lat: f64| {
            let d = 0.002;
            json!({"type": "Polygon", "coordinates": [[[lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d], [lon, lat]]]})
        };
        let fc = |features: Vec<Value>| json!({"type": "FeatureCollection", "features": features}).to_string();
        let feature = |props: Value, geometry: Value| json!({"type": "Feature", "properties": props, "geometry": geometry});
        let err = |s: &str| district_network(s).expect_err("input must be rejected");

        assert!(matches!(err("not json"), AleppoError::Parse(_)));
        assert!(matches!(err(r#"{"type": "Feature", "properties": {}, "geometry": null}"#),
            AleppoError::NotFeatureCollection { found } if found == "Feature"));
        assert!(matches!(err(r#"{"type": "Point", "coordinates": [37.1, 36.2]}"#),
            AleppoError::NotFeatureCollection { found } if found.contains("Point")));
        assert!(matches!(err(&fc(vec![])), AleppoError::Empty));
        assert!(matches!(err(&fc(vec![feature(json!({"NAME_A": "x"}), square(37.15, 36.2))])), AleppoError::MissingName { index: 0 }));
        assert!(matches!(err(&fc(vec![feature(json!({"NAME": "  "}), square(37.15, 36.2))])), AleppoError::MissingName { index: 0 }));
        assert!(matches!(err(&fc(vec![feature(json!({"NAME": "A"}), Value::Null)])), AleppoError::MissingGeometry { index: 0, .. }));
        assert!(matches!(err(&fc(vec![feature(json!({"NAME": "A"}), json!({"type": "Point", "coordinates": [37.1, 36.2]}))])),
            AleppoError::NotPolygonal { index: 0, found, .. } if found == "Point"));
        assert!(matches!(
            err(&fc(vec![feature(
                json!({"NAME": "A"}),
                json!({"type": "Polygon", "coordinates": [[[37.1, 36.2], [37.2, 36.2], [37.1, 36.2]]]})
            )])),
            AleppoError::DegenerateGeometry { .. }
        ));
        assert!(matches!(err(&fc(vec![feature(json!({"NAME": "A"}), square(37.15, 136.2))])), AleppoError::CoordinateOutOfRange { .. }));
        // [lat, lon] instead of [lon, lat].
        assert!(matches!(err(&fc(vec![feature(json!({"NAME": "A"}), square(36.2, 37.15))])), AleppoError::OutsideAleppo { .. }));
        // Valid, but no Ad-Ramouseh district to hang the corridor on.
        assert!(matches!(err(&fc(vec![feature(json!({"NAME": "A"}), square(37.15, 36.2))])), AleppoError::NoRamousehDistricts));
        // Error messages are readable.
        let msg =
            err(&fc(vec![feature(json!({"NAME": "Hanano"}), json!({"type": "LineString", "coordinates": [[37.1, 36.2], [37.2, 36.2]]}))]))
                .to_string();
        assert_eq!(msg, "neighbourhood feature #0 (Hanano) has a LineString geometry; expected Polygon or MultiPolygon");

        // A minimal valid input works: two touching squares, one of them Ad-Ramouseh.
        let ok = fc(vec![
            feature(json!({"NAME": "Ad-Ramouseh Industrial District I"}), square(37.120, 36.155)),
            feature(json!({"NAME": "B"}), square(37.122, 36.155)),
        ]);
        let net = district_network(&ok).unwrap();
        assert_eq!(net["summary"]["neighbour_pairs"], 1);
        assert_eq!(net["summary"]["gap_links"], 0);
    }
}

/// The neighbourhood polygons built into the binary (a copy of
/// `shared/data/aleppo/neighborhoods.geojson`; attribution and licence in
/// `crates/corridor-aleppo/data/`).
pub const NEIGHBORHOODS_GEOJSON: &str = include_str!("../data/aleppo-neighborhoods.geojson");

/// The approximate district network derived from the built-in polygons,
/// ready to route on.
pub fn builtin_network() -> Result<corridor_geo::RoadNetwork, corridor_geo::GeoError> {
    let fc = district_network(NEIGHBORHOODS_GEOJSON).map_err(|e| corridor_geo::GeoError::GeoJson { file: "built-in Aleppo neighbourhoods".into(), reason: e.to_string() })?;
    corridor_geo::roads::import_geojson(&fc.to_string(), "Aleppo district network (built in; derived from the Columbia CSR neighbourhood polygons)")
}

/// A neighbourhood as a district for aid, clearance and returns.
#[derive(Debug, Clone, PartialEq)]
pub struct DistrictRecord {
    /// A slug of the English name (`hanano`, `al-kallaseh`); names the data
    /// repeats get `-2`, `-3` in file order (`tishreen`, `tishreen-2`).
    pub id: String,
    pub name: String,
    pub name_ar: String,
    /// The district's node: a point inside its largest part.
    pub lat: f64,
    pub lon: f64,
    /// Area of all parts less their holes, on the sphere (hectares).
    pub hectares: f64,
    /// The outer ring of the largest part, `[lon, lat]`, closed.
    pub ring: Vec<[f64; 2]>,
}

/// The 133 neighbourhoods of the polygons as districts (see [`DistrictRecord`]).
pub fn districts(neighborhoods_geojson: &str) -> Result<Vec<DistrictRecord>, AleppoError> {
    let mut seen: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    let ring_of = |r: &geo::LineString<f64>| r.0.iter().map(|c| [c.x, c.y]).collect::<Vec<[f64; 2]>>();
    Ok(parse_districts(neighborhoods_geojson)?
        .into_iter()
        .map(|d| {
            let mut slug = String::new();
            for ch in d.name.to_lowercase().chars() {
                if ch.is_ascii_alphanumeric() {
                    slug.push(ch);
                } else if ch == ' ' || ch == '-' || ch == '/' || ch == '(' {
                    if !slug.ends_with('-') && !slug.is_empty() {
                        slug.push('-');
                    }
                }
            }
            let slug = slug.trim_end_matches('-').to_string();
            let n = seen.entry(slug.clone()).or_default();
            *n += 1;
            let id = if *n == 1 { slug } else { format!("{slug}-{n}") };
            let hectares = d
                .parts
                .iter()
                .map(|p| corridor_model::ring_hectares(&ring_of(p.exterior())) - p.interiors().iter().map(|h| corridor_model::ring_hectares(&ring_of(h))).sum::<f64>())
                .sum();
            let largest = d.parts.iter().max_by(|a, b| a.unsigned_area().total_cmp(&b.unsigned_area())).expect("at least one part");
            DistrictRecord { id, name: d.name, name_ar: d.name_ar.unwrap_or_default(), lat: d.node.y, lon: d.node.x, hectares, ring: ring_of(largest.exterior()) }
        })
        .collect())
}

#[cfg(test)]
mod district_tests {
    #[test]
    fn districts_have_unique_readable_ids_names_and_areas() {
        let d = super::districts(super::NEIGHBORHOODS_GEOJSON).unwrap();
        assert_eq!(d.len(), 133);
        let ids: std::collections::BTreeSet<&str> = d.iter().map(|x| x.id.as_str()).collect();
        assert_eq!(ids.len(), 133, "ids are unique");
        let hanano = d.iter().find(|x| x.id == "hanano").unwrap();
        assert_eq!(hanano.name, "Hanano");
        assert!(!hanano.name_ar.is_empty());
        assert!((300.0..360.0).contains(&hanano.hectares), "{}", hanano.hectares);
        assert!(ids.contains("tishreen-3") && ids.contains("al-amiriyeh"), "{ids:?}");
        assert!(d.iter().all(|x| x.ring.first() == x.ring.last() && x.ring.len() >= 4));
    }
}

/// A damage site in the street between neighbourhood blocks belongs to the
/// nearest block within this distance (metres).
pub const DAMAGE_SNAP_M: f64 = 60.0;

/// Damaged buildings per district from UNOSAT's damage sites (points with a
/// damage level `Main_Dam_2`: 1 destroyed, 2 severe, 3 moderate, anything
/// else other), each placed in the neighbourhood polygon that contains it
/// (the sites' own neighbourhood names follow another spelling), or, for a
/// site in the street between blocks, the nearest within [`DAMAGE_SNAP_M`]. Returns
/// `(district id, [destroyed, severe, moderate, other])` for districts with
/// damage, and how many sites lie in no polygon.
pub fn damage_by_district(unosat_geojson: &str, neighborhoods_geojson: &str) -> Result<(Vec<(String, [u32; 4])>, usize), AleppoError> {
    use geo::BoundingRect;
    let parsed = parse_districts(neighborhoods_geojson)?;
    let ids: Vec<String> = districts(neighborhoods_geojson)?.into_iter().map(|d| d.id).collect();
    let boxes: Vec<Vec<(geo::Rect<f64>, &Polygon<f64>)>> =
        parsed.iter().map(|d| d.parts.iter().filter_map(|p| p.bounding_rect().map(|r| (r, p))).collect()).collect();
    let gj: geojson::GeoJson = unosat_geojson.parse()?;
    let geojson::GeoJson::FeatureCollection(fc) = gj else {
        return Err(AleppoError::NotFeatureCollection { found: "something else".into() });
    };
    let mut counts = vec![[0u32; 4]; parsed.len()];
    let mut outside = 0;
    for f in &fc.features {
        let Some(geojson::GeometryValue::Point { coordinates: c }) = f.geometry.as_ref().map(|g| &g.value) else { continue };
        let p = Point::new(c[0], c[1]);
        let level = f.properties.as_ref().and_then(|p| p.get("Main_Dam_2")).and_then(|v| v.as_str().map(String::from).or_else(|| v.as_u64().map(|n| n.to_string())));
        let k = match level.as_deref() {
            Some("1") => 0,
            Some("2") => 1,
            Some("3") => 2,
            _ => 3,
        };
        let within = |r: &geo::Rect<f64>, m: f64| r.min().x - m <= p.x() && p.x() <= r.max().x + m && r.min().y - m <= p.y() && p.y() <= r.max().y + m;
        let hit = boxes.iter().position(|parts| parts.iter().any(|(r, poly)| within(r, 0.0) && poly.contains(&p))).or_else(|| {
            // In the street between two blocks: the nearest neighbourhood within DAMAGE_SNAP_M.
            let margin = DAMAGE_SNAP_M / 90_000.0;
            let scale = p.y().to_radians().cos();
            boxes
                .iter()
                .enumerate()
                .flat_map(|(i, parts)| parts.iter().filter(|(r, _)| within(r, margin)).map(move |(_, poly)| (i, poly)))
                .map(|(i, poly)| {
                    let q = poly.exterior().0.iter().map(|c| Coord { x: (c.x - p.x()) * scale, y: c.y - p.y() }).collect::<Vec<_>>();
                    let d = geo::Euclidean.distance(&Point::new(0.0, 0.0), &geo::LineString::new(q)) * 111_320.0;
                    (i, d)
                })
                .filter(|&(_, d)| d <= DAMAGE_SNAP_M)
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .map(|(i, _)| i)
        });
        match hit {
            Some(i) => counts[i][k] += 1,
            None => outside += 1,
        }
    }
    Ok((ids.into_iter().zip(counts).filter(|(_, c)| c.iter().any(|&n| n > 0)).collect(), outside))
}
