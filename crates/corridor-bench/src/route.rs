//! `corridor-bench route`: what routing costs, measured on real and
//! generated maps in one run, against plain Dijkstra on the same queries.
//!
//! Maps, one after the other (each dropped before the next is built; the
//! extracts imported for `--profile`, default car):
//!
//! 1. `monaco`: the Monaco OpenStreetMap extract (the one OSRM tests itself on);
//! 2. `helsinki`: the central Helsinki extract;
//! 3. `quarters`: a generated grid city of `--grid`² (default 1000², over
//!    a million) intersections cut into `--quarters`² quarters that meet
//!    only on bridges, like real cities (small separators);
//! 4. `uniform`: the same grid without quarters, the worst case for
//!    contraction hierarchies (skip it with `--no-uniform`).
//!
//! For each map:
//!
//! - **build**: import time (generation time for grids), preparation time
//!   (`PreparedNetwork::prepare`: contraction order, CCH structure, first
//!   customization), writing and reading the prepared file in a temporary
//!   directory, and building the router on the file just read (the
//!   segment index comes with the file; the partial customizer; no top
//!   labels): READY TO ANSWER is read + build. The same file is read a
//!   second time (not counted), to tell a slow first read from a slow
//!   read. Everything after that runs on the network read back from the
//!   file: node queries and snapped routes first right after loading,
//!   then `Router::refresh_labels` is timed (READY WITH LABELS is read +
//!   build + labels) and both are measured again on the same pairs and
//!   positions; only the second run counts for the floors.
//! - **node queries**: `--pairs` random node pairs (fixed `--seed`), each
//!   timed alone: CCH distance queries (`Router::node_time`, with the
//!   top-of-tree labels of `corridor_geo::labels`), then plain
//!   Dijkstra (`Router::dijkstra`) on the same pairs. Every CCH answer
//!   must equal Dijkstra's, or the benchmark fails.
//! - **snapped routes**: `--route-pairs` random positions (a random node
//!   moved up to 30 m), `Router::route`: R-tree snapping of both ends,
//!   the query and unpacking the path to road arcs and points; then, on
//!   the same positions, snapping, the distance alone (a 1×1 table) and
//!   `Router::route_snapped` (query + unpacking) timed apart, to show
//!   where the time goes.
//! - **hazards**: `--hazard-trials` times: a random route is computed, a
//!   square hazard `--hazard-m` wide is declared around the middle node
//!   of its path (so it cuts a road the route uses), and the time from
//!   `set_hazards` to the first answer of the query between the route's
//!   end nodes is measured (partial re-customization included; the top
//!   labels the change can alter are marked stale, and the query relaxes
//!   arcs there instead); the answer is checked against Dijkstra on the
//!   new weights. Then `Router::refresh_labels` is timed, and the same
//!   query again. Then the hazard is lifted and the same is measured
//!   again. One full
//!   re-customization (`Cch::customize`, parallel on all cores) with
//!   the first hazard's weights is timed as the baseline.
//! - **table**: a `--table` × `--table` travel-time table between snapped
//!   random positions (`Router::table`, bucket many-to-many), and 100
//!   random cells checked against `Router::route`.
//!
//! Medians and 99th percentiles are nearest-rank over the individual
//! timings (`std::time::Instant`); ratios compare figures of this run. The
//! floors the issue sets are printed as FLOOR MET / FLOOR MISSED, per map.
//! Results go to stdout, progress to stderr.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use corridor_geo::router::DijkstraState;
use corridor_geo::{grid, netfile, HazardSet, LatLon, NoProgress, PreparedNetwork, RoadNetwork, Router, Snap};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// `cch::INF_WEIGHT` (the weight of a closed arc); `cch` is not a
/// dependency of this crate.
const CLOSED: u32 = 2_147_483_647;

/// Where the OpenStreetMap extracts live in this checkout.
const DEFAULT_OSM_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/osm");

/// The floors the issue sets.
const MAX_MEDIAN_QUERY: Duration = Duration::from_micros(50);
const MIN_SPEEDUP: f64 = 1_000.0;
const MAX_HAZARD_TO_QUERY: Duration = Duration::from_millis(100);
const MAX_TABLE: Duration = Duration::from_secs(1);
/// Table cells checked against `Router::route`.
const TABLE_CHECKS: usize = 100;

/// Options of `corridor-bench route`.
#[derive(clap::Args, Debug, Clone)]
pub struct RouteBenchArgs {
    /// Random node pairs per map: CCH queries and plain Dijkstra on the same pairs.
    #[arg(long, default_value_t = 10_000)]
    pub pairs: usize,
    /// Random position pairs per map for snapped routes (snap, query, unpack).
    #[arg(long, default_value_t = 2_000)]
    pub route_pairs: usize,
    /// Hazard trials per map (declare, query, lift, query).
    #[arg(long, default_value_t = 20)]
    pub hazard_trials: usize,
    /// Side of the square hazard, metres.
    #[arg(long, default_value_t = 200.0)]
    pub hazard_m: f64,
    /// Sources (and targets) of the travel-time table.
    #[arg(long, default_value_t = 1_000)]
    pub table: usize,
    /// Rows (and columns) of the generated grid cities.
    #[arg(long, default_value_t = 1_000)]
    pub grid: u32,
    /// Quarters per side of the grid city with quarters.
    #[arg(long, default_value_t = 10)]
    pub quarters: u32,
    /// Skip the uniform grid (the worst case; its preparation takes longest).
    #[arg(long)]
    pub no_uniform: bool,
    /// Only these maps, comma separated: monaco, helsinki, quarters, uniform.
    #[arg(long, value_delimiter = ',')]
    pub maps: Vec<String>,
    /// Seed of every random choice.
    #[arg(long, default_value_t = 2016)]
    pub seed: u64,
    /// The vehicle profile the extracts are imported for: car, bus or ambulance.
    #[arg(long, default_value = "car", value_parser = parse_profile)]
    pub profile: corridor_geo::Profile,
    /// Directory holding monaco.osm.pbf and helsinki.osm.pbf.
    #[arg(long, default_value = DEFAULT_OSM_DIR)]
    pub osm_dir: PathBuf,
}

fn parse_profile(s: &str) -> Result<corridor_geo::Profile, String> {
    corridor_geo::Profile::from_name(s).ok_or_else(|| format!("no vehicle profile {s:?}: use car, bus or ambulance"))
}

/// Where a map comes from.
enum Source {
    Osm(PathBuf),
    Grid { side: u32, quarters: u32 },
}

struct MapSpec {
    key: &'static str,
    title: String,
    source: Source,
}

/// One line of a map's results.
struct Row {
    what: String,
    value: String,
}

/// One floor of the issue, as measured on one map.
struct Floor {
    map: &'static str,
    what: String,
    measured: String,
    met: bool,
}

/// A map's results, printed as they come.
struct Report {
    key: &'static str,
    rows: Vec<Row>,
    floors: Vec<Floor>,
}

impl Report {
    fn row(&mut self, what: impl Into<String>, value: impl Into<String>) {
        self.rows.push(Row { what: what.into(), value: value.into() });
    }
    fn floor(&mut self, what: impl Into<String>, measured: impl Into<String>, met: bool) {
        self.floors.push(Floor { map: self.key, what: what.into(), measured: measured.into(), met });
    }
}

/// Median, 99th percentile and maximum of a set of timings.
struct Stats {
    median: Duration,
    p99: Duration,
    max: Duration,
}

impl Stats {
    fn of(mut v: Vec<Duration>) -> Stats {
        v.sort_unstable();
        Stats { median: percentile(&v, 50.0), p99: percentile(&v, 99.0), max: v.last().copied().unwrap_or_default() }
    }
    fn show(&self) -> String {
        format!("median {}, p99 {}, max {}", fmt_d(self.median), fmt_d(self.p99), fmt_d(self.max))
    }
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Runs `f` and says how long it took.
fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let t = Instant::now();
    let out = f();
    (out, t.elapsed())
}

fn fmt_d(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 1.0 {
        format!("{s:.2} s")
    } else if s >= 1e-3 {
        format!("{:.2} ms", s * 1e3)
    } else {
        format!("{:.2} µs", s * 1e6)
    }
}

fn ratio(slow: Duration, fast: Duration) -> f64 {
    slow.as_secs_f64() / fast.as_secs_f64().max(1e-12)
}

fn thousands(n: usize) -> String {
    corridor::print::thousands(n as u64)
}

fn met(ok: bool) -> &'static str {
    if ok {
        "FLOOR MET"
    } else {
        "FLOOR MISSED"
    }
}

/// Progress on stderr, prefixed with the map.
fn progress(key: &str, msg: impl std::fmt::Display) {
    eprintln!("[{key}] {msg}");
}

/// Progress of a long loop every 1,000 steps, once it has run 5 s.
fn eta(key: &str, what: &str, done: usize, total: usize, started: Instant) {
    let el = started.elapsed().as_secs_f64();
    if done.is_multiple_of(1000) && done < total && el > 5.0 {
        progress(key, format!("  {what} {done}/{total}, {el:.0} s, about {:.0} s left", el / done as f64 * (total - done) as f64));
    }
}

fn maps(a: &RouteBenchArgs) -> Result<Vec<MapSpec>> {
    let side = a.grid;
    let all = vec![
        MapSpec { key: "monaco", title: "Monaco, OpenStreetMap extract monaco.osm.pbf".into(), source: Source::Osm(a.osm_dir.join("monaco.osm.pbf")) },
        MapSpec {
            key: "helsinki",
            title: "central Helsinki, OpenStreetMap extract helsinki.osm.pbf".into(),
            source: Source::Osm(a.osm_dir.join("helsinki.osm.pbf")),
        },
        MapSpec {
            key: "quarters",
            title: format!("generated grid city {side}×{side} with {q}×{q} quarters (grid_city({side}, {side}, {q}))", q = a.quarters),
            source: Source::Grid { side, quarters: a.quarters },
        },
        MapSpec {
            key: "uniform",
            title: format!("generated uniform grid {side}×{side}, no quarters (grid_city({side}, {side}, 1)), the worst case"),
            source: Source::Grid { side, quarters: 1 },
        },
    ];
    for m in &a.maps {
        if !all.iter().any(|s| s.key == m) {
            bail!("unknown map {m:?}: choose among monaco, helsinki, quarters, uniform");
        }
    }
    Ok(all.into_iter().filter(|s| a.maps.is_empty() || a.maps.iter().any(|m| m == s.key)).filter(|s| !(a.no_uniform && s.key == "uniform")).collect())
}

/// Runs the benchmark (see the module doc).
pub fn run(a: &RouteBenchArgs) -> Result<()> {
    let started = Instant::now();
    let specs = maps(a)?;
    println!("corridor-bench route: {} map(s), {} node pairs, {} routes, {} hazard trials, {}×{} table, seed {}", specs.len(), a.pairs, a.route_pairs, a.hazard_trials, a.table, a.table, a.seed);
    println!("(all figures below were measured in this run, on this machine, each map's on that map)");
    let mut floors = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        let t = Instant::now();
        let report = bench_map(spec, a, a.seed.wrapping_add(i as u64))?;
        print_report(spec, &report, t.elapsed());
        floors.extend(report.floors);
    }
    println!();
    println!("== floors, all maps ==");
    for f in &floors {
        println!("  {:<9} {:<58} {:<16} {}", f.map, f.what, f.measured, met(f.met));
    }
    let missed = floors.iter().filter(|f| !f.met).count();
    println!("{} of {} floors met; whole run {}", floors.len() - missed, floors.len(), fmt_d(started.elapsed()));
    Ok(())
}

fn print_report(spec: &MapSpec, r: &Report, took: Duration) {
    println!();
    println!("== {}: {} ==", spec.key, spec.title);
    let w = r.rows.iter().map(|x| x.what.chars().count()).chain(r.floors.iter().map(|f| f.what.chars().count())).max().unwrap_or(0);
    for x in &r.rows {
        println!("  {:<w$}  {}", x.what, x.value);
    }
    for f in &r.floors {
        println!("  {:<w$}  {} ({})", f.what, met(f.met), f.measured);
    }
    println!("  ({} for this map)", fmt_d(took));
}

fn build(spec: &MapSpec, profile: corridor_geo::Profile) -> Result<RoadNetwork> {
    Ok(match &spec.source {
        Source::Osm(path) => corridor_geo::import_file(path, profile, &NoProgress).with_context(|| format!("importing {}", path.display()))?,
        Source::Grid { side, quarters } => grid::grid_city(*side, *side, *quarters)?,
    })
}

fn bench_map(spec: &MapSpec, a: &RouteBenchArgs, seed: u64) -> Result<Report> {
    let key = spec.key;
    let mut r = Report { key, rows: Vec::new(), floors: Vec::new() };
    let mut rng = StdRng::seed_from_u64(seed);

    // Build, prepare, write, read.
    progress(key, "importing / generating");
    let (net, t_import) = timed(|| build(spec, a.profile));
    let net = net?;
    let import_label = if matches!(spec.source, Source::Osm(_)) { "import (read + parse + graph)" } else { "generation" };
    r.row(import_label, fmt_d(t_import));
    progress(key, format!("{} nodes, {} arcs; preparing (order, CCH, customization)", thousands(net.node_count()), thousands(net.arc_count())));
    let (prepared, t_prep) = timed(|| PreparedNetwork::prepare(net));
    r.row("preparation (PreparedNetwork::prepare)", fmt_d(t_prep));
    let (nodes, arcs, cch_arcs) = (prepared.net.node_count(), prepared.net.arc_count(), prepared.cch.up_head.len());
    r.row("nodes / arcs / CCH arcs", format!("{} / {} / {}", thousands(nodes), thousands(arcs), thousands(cch_arcs)));
    progress(key, format!("prepared in {}; writing and reading the prepared file", fmt_d(t_prep)));
    let dir = tempfile::tempdir().context("creating a temporary directory")?;
    let path = dir.path().join(format!("{key}.cnet"));
    let (bytes, t_write) = timed(|| netfile::write(&prepared, &path));
    let bytes = bytes?;
    drop(prepared);
    let (loaded, t_read) = timed(|| netfile::read(&path));
    let loaded = loaded?;
    r.row("prepared file write / read", format!("{} / {} ({:.1} MB)", fmt_d(t_write), fmt_d(t_read), bytes as f64 / 1e6));
    let (mut router, t_router) = timed(|| Router::new(loaded));
    r.row("router build on the file read (no tree to build, no top labels)", fmt_d(t_router));
    r.row("READY TO ANSWER: file read + router build", fmt_d(t_read + t_router));
    let (again, t_again) = timed(|| netfile::read(&path));
    drop(again?);
    r.row("  (the same file read a second time, not in the figure above)", fmt_d(t_again));
    drop(dir);

    // Right after loading, before the top labels, on the same pairs and
    // positions as below.
    r.row("right after loading, no top labels (routes, snapping, tables never use them):", "");
    let mut fresh = rng.clone();
    node_queries(&router, a.pairs, &mut fresh, &mut r, false)?;
    snapped_routes(&router, a.route_pairs, &mut fresh, &mut r)?;
    let (computed, t_labels) = timed(|| router.refresh_labels());
    r.row("top labels (Router::refresh_labels, after the router is ready)", format!("{} labels in {}", thousands(computed), fmt_d(t_labels)));
    r.row("READY WITH LABELS: file read + router build + labels", fmt_d(t_read + t_router + t_labels));
    r.row("with the top labels:", "");
    node_queries(&router, a.pairs, &mut rng, &mut r, true)?;
    snapped_routes(&router, a.route_pairs, &mut rng, &mut r)?;
    hazards(&mut router, a.hazard_trials, a.hazard_m, &mut rng, &mut r)?;
    table(&router, a.table, &mut rng, &mut r)?;
    Ok(r)
}

/// CCH node-to-node queries vs plain Dijkstra on the same random pairs.
/// `floors`: whether this run's figures count against the issue's floors
/// (the run with the top labels).
fn node_queries(router: &Router, pairs: usize, rng: &mut StdRng, r: &mut Report, floors: bool) -> Result<()> {
    let key = r.key;
    let n = router.network().node_count() as u32;
    let pairs: Vec<(u32, u32)> = (0..pairs).map(|_| (rng.gen_range(0..n), rng.gen_range(0..n))).collect();
    progress(key, format!("{} CCH queries", pairs.len()));
    let mut st = router.new_state();
    let mut fast = Vec::with_capacity(pairs.len());
    let mut cch_times = Vec::with_capacity(pairs.len());
    let started = Instant::now();
    for (i, &(s, t)) in pairs.iter().enumerate() {
        let (d, took) = timed(|| router.node_time(&mut st, s, t));
        fast.push(d);
        cch_times.push(took);
        eta(key, "CCH", i + 1, pairs.len(), started);
    }
    progress(key, format!("{} plain Dijkstra queries on the same pairs", pairs.len()));
    let mut dj = DijkstraState::new(n as usize);
    let mut dij_times = Vec::with_capacity(pairs.len());
    let started = Instant::now();
    for (i, &(s, t)) in pairs.iter().enumerate() {
        let (d, took) = timed(|| router.dijkstra(&mut dj, s, t));
        if d != fast[i] {
            bail!("{key}: pair {i} ({s} → {t}): the CCH says {:?} ms, Dijkstra {d:?} ms", fast[i]);
        }
        dij_times.push(took);
        eta(key, "Dijkstra", i + 1, pairs.len(), started);
    }
    let unreachable = fast.iter().filter(|d| d.is_none()).count();
    let (chain, relaxed) = search_space(router, &pairs);
    let (c, d) = (Stats::of(cch_times), Stats::of(dij_times));
    let speedup = ratio(d.median, c.median);
    r.row(format!("CCH node query ({} pairs)", thousands(pairs.len())), c.show());
    r.row("plain Dijkstra, same pairs", d.show());
    r.row("Dijkstra median / CCH median", format!("{speedup:.0}×"));
    r.row("  CCH search space per side (elimination-tree path)", format!("median {} nodes, {} up-arcs relaxed", thousands(chain), thousands(relaxed)));
    match router.labels() {
        Some(l) => {
            let (top, entries) = l.size();
            r.row(
                "  top labels (labels::TopLabels)",
                format!("depth < {}: {} nodes labelled, {:.1} MB both directions", l.top_depth(), thousands(top), entries as f64 * 8.0 / 1e6),
            );
        }
        None => r.row("  top labels (labels::TopLabels)", "not computed: the plain CCH query"),
    }
    r.row("CCH answers equal to Dijkstra's", format!("all {} ({} unreachable pairs)", thousands(pairs.len()), unreachable));
    if !floors {
        return Ok(());
    }
    r.floor("median CCH query under 50 µs", fmt_d(c.median), c.median < MAX_MEDIAN_QUERY);
    r.floor("median CCH query ≥ 1,000× faster than Dijkstra", format!("{speedup:.0}×"), speedup >= MIN_SPEEDUP);
    Ok(())
}

/// What a CCH query walks: the median length of the elimination-tree path
/// from a query's end (nodes), and the median number of upward arcs on it
/// (each relaxed once per query side). Computed from the structure alone.
fn search_space(router: &Router, pairs: &[(u32, u32)]) -> (usize, usize) {
    let c = &router.prepared().cch;
    let (mut nodes, mut arcs) = (Vec::new(), Vec::new());
    for &(s, _) in pairs.iter().take(1000) {
        let (mut k, mut a) = (0, 0);
        let mut x = c.rank[s as usize];
        while x != u32::MAX {
            k += 1;
            a += (c.up_first_out[x as usize + 1] - c.up_first_out[x as usize]) as usize;
            x = c.elimination_tree_parent[x as usize];
        }
        nodes.push(k);
        arcs.push(a);
    }
    nodes.sort_unstable();
    arcs.sort_unstable();
    (nodes.get(nodes.len() / 2).copied().unwrap_or(0), arcs.get(arcs.len() / 2).copied().unwrap_or(0))
}

/// A random position near the network: a random node moved up to 30 m.
fn random_position(router: &Router, rng: &mut StdRng) -> LatLon {
    let net = router.network();
    let v = rng.gen_range(0..net.node_count());
    let (lat, lon) = (net.lat[v], net.lon[v]);
    let m = 30.0 / 111_000.0;
    LatLon::new(lat + rng.gen_range(-m..m), lon + rng.gen_range(-m..m) / lat.to_radians().cos())
}

/// `Router::route` between random positions: snapping, query, unpacking.
fn snapped_routes(router: &Router, pairs: usize, rng: &mut StdRng, r: &mut Report) -> Result<()> {
    progress(r.key, format!("{pairs} snapped routes"));
    let mut st = router.new_state();
    let positions: Vec<(LatLon, LatLon)> = (0..pairs).map(|_| (random_position(router, rng), random_position(router, rng))).collect();
    let mut times = Vec::with_capacity(pairs);
    let mut arcs = Vec::with_capacity(pairs);
    // Positions on open roads reached only through destination roads
    // cannot be joined (see corridor_geo::router): counted, not timed.
    let mut reachable = Vec::with_capacity(pairs);
    for (i, &(from, to)) in positions.iter().enumerate() {
        let (route, took) = timed(|| router.route(&mut st, from, to));
        let route = match route {
            Err(corridor_geo::GeoError::Unreachable { .. }) => continue,
            other => other.with_context(|| format!("{}: route {i} from {from} to {to}", r.key))?,
        };
        reachable.push((from, to));
        times.push(took);
        arcs.push(route.arcs.len());
    }
    let unreachable = positions.len() - reachable.len();
    let positions = reachable;
    // Where the time goes, on the same positions: snapping both ends; the
    // distance alone (a 1×1 table: the same upward searches, no unpacking);
    // the query with unpacking (`route_snapped`).
    let (mut snap_t, mut dist_t, mut path_t) = (Vec::with_capacity(pairs), Vec::with_capacity(pairs), Vec::with_capacity(pairs));
    for &(from, to) in &positions {
        let (snaps, took) = timed(|| router.snap(from, "start").and_then(|f| Ok((f, router.snap(to, "destination")?))));
        let (fs, ts) = snaps?;
        snap_t.push(took);
        let ((), took) = timed(|| drop(router.table(&mut st, std::slice::from_ref(&fs), std::slice::from_ref(&ts))));
        dist_t.push(took);
        let (route, took) = timed(|| router.route_snapped(&mut st, fs, ts));
        // The nearest segments alone may not join where other candidates did.
        match route {
            Err(corridor_geo::GeoError::Unreachable { .. }) => {}
            other => {
                other?;
                path_t.push(took);
            }
        }
    }
    arcs.sort_unstable();
    r.row(format!("snapped route, snap + query + unpack ({} pairs, {unreachable} unreachable left out)", thousands(pairs)), Stats::of(times).show());
    r.row("  of which snapping both ends (same positions)", Stats::of(snap_t).show());
    r.row("  distance only, no unpacking (1×1 table)", Stats::of(dist_t).show());
    r.row("  query + unpacking (route_snapped)", Stats::of(path_t).show());
    r.row("  road arcs per route", format!("median {}, max {}", arcs.get(arcs.len() / 2).copied().unwrap_or(0), arcs.last().copied().unwrap_or(0)));
    Ok(())
}

/// A square hazard `side_m` wide centred on a position, through the
/// GeoJSON reader (this crate does not depend on `geo`).
fn square_hazard(id: &str, lat: f64, lon: f64, side_m: f64) -> Result<HazardSet> {
    let dlat = side_m / 2.0 / 111_000.0;
    let dlon = dlat / lat.to_radians().cos();
    let (w, e, s, n) = (lon - dlon, lon + dlon, lat - dlat, lat + dlat);
    let text = format!(
        r#"{{"type":"FeatureCollection","features":[{{"type":"Feature","properties":{{"id":"{id}","kind":"under_fire","status":"active"}},"geometry":{{"type":"Polygon","coordinates":[[[{w},{s}],[{e},{s}],[{e},{n}],[{w},{n}],[{w},{s}]]]}}}}]}}"#
    );
    Ok(HazardSet::from_geojson(&text, "bench hazard")?)
}

/// Hazard declared → first correct query, and lifted → first correct query.
fn hazards(router: &mut Router, trials: usize, side_m: f64, rng: &mut StdRng, r: &mut Report) -> Result<()> {
    let key = r.key;
    if trials == 0 {
        return Ok(());
    }
    progress(key, format!("{trials} hazard trials"));
    let n = router.network().node_count();
    let cch_arcs = router.prepared().cch.up_head.len();
    let mut st = router.new_state();
    let mut dj = DijkstraState::new(n);
    let (mut declare, mut lift, mut set_only) = (Vec::new(), Vec::new(), Vec::new());
    let (mut recomputed, mut recomputed_lift, mut closed) = (Vec::new(), Vec::new(), Vec::new());
    let mut rerouted = 0;
    let mut full: Option<Duration> = None;
    let (mut stale, mut refresh, mut after_refresh) = (Vec::new(), Vec::new(), Vec::new());
    for trial in 0..trials {
        // A route of some length, and a hazard on the middle of its path.
        let route = loop {
            let (from, to) = (random_position(router, rng), random_position(router, rng));
            let route = match router.route(&mut st, from, to) {
                Err(corridor_geo::GeoError::Unreachable { .. }) => continue,
                other => other.with_context(|| format!("{key}: hazard trial {trial}: route"))?,
            };
            if route.arcs.len() >= 20 {
                break route;
            }
        };
        let (s, t, set) = {
            let net = router.network();
            let (s, t) = (net.tail[route.arcs[0] as usize], net.head[*route.arcs.last().expect("20 arcs") as usize]);
            let mid = net.head[route.arcs[route.arcs.len() / 2] as usize] as usize;
            (s, t, square_hazard(&format!("bench-{trial}"), net.lat[mid], net.lon[mid], side_m)?)
        };
        let before = router.node_time(&mut st, s, t);

        let t0 = Instant::now();
        let up = router.set_hazards(set);
        let d = router.node_time(&mut st, s, t);
        declare.push(t0.elapsed());
        set_only.push(up.took);
        recomputed.push(up.recomputed_cch_arcs);
        closed.push(up.changed_arcs);
        let want = router.dijkstra(&mut dj, s, t);
        if d != want {
            bail!("{key}: hazard trial {trial}: with the hazard the CCH says {d:?} ms from {s} to {t}, Dijkstra {want:?} ms");
        }
        rerouted += usize::from(d != before);
        stale.push(up.labels_stale);
        let (n_refreshed, took) = timed(|| router.refresh_labels());
        refresh.push(took);
        let (d2, took) = timed(|| router.node_time(&mut st, s, t));
        after_refresh.push(took);
        if n_refreshed != up.labels_stale || d2 != want {
            bail!("{key}: hazard trial {trial}: {n_refreshed} labels refreshed of {} stale; after the refresh the CCH says {d2:?} ms, Dijkstra {want:?} ms", up.labels_stale);
        }

        if full.is_none() {
            let through = router.network().through_weights();
            let weights: Vec<u32> = (0..through.len()).map(|x| if router.is_blocked(x) { CLOSED } else { through[x] }).collect();
            let (_metric, took) = timed(|| router.prepared().cch.customize(&weights));
            full = Some(took);
        }

        let t0 = Instant::now();
        let up = router.set_hazards(HazardSet::default());
        let d = router.node_time(&mut st, s, t);
        lift.push(t0.elapsed());
        recomputed_lift.push(up.recomputed_cch_arcs);
        router.refresh_labels();
        let want = router.dijkstra(&mut dj, s, t);
        if d != want || d != before {
            bail!("{key}: hazard trial {trial}: after lifting the CCH says {d:?} ms from {s} to {t}, Dijkstra {want:?} ms, before the hazard {before:?} ms");
        }
    }
    let full = full.expect("at least one trial");
    let (declare, lift, set_only) = (Stats::of(declare), Stats::of(lift), Stats::of(set_only));
    let show_counts = |mut v: Vec<usize>| {
        v.sort_unstable();
        format!("median {}, max {}", thousands(v[v.len() / 2]), thousands(*v.last().expect("trials")))
    };
    r.row(format!("hazard trials ({trials}, {side_m:.0} m squares on a route's path)"), format!("{rerouted} of {trials} answers changed by the hazard, all equal to Dijkstra's"));
    r.row("  arcs closed per hazard", show_counts(closed));
    r.row("  declare: set_hazards + first query", format!("median {}, max {}", fmt_d(declare.median), fmt_d(declare.max)));
    r.row("    of which set_hazards alone", format!("median {}, max {}", fmt_d(set_only.median), fmt_d(set_only.max)));
    r.row(format!("    CCH arcs recomputed (of {})", thousands(cch_arcs)), show_counts(recomputed));
    let top = router.labels().map_or(0, |l| l.size().0);
    r.row(format!("    top labels made stale (of {}; queries exact meanwhile)", thousands(top)), show_counts(stale));
    let (refresh, after_refresh) = (Stats::of(refresh), Stats::of(after_refresh));
    r.row("    then refresh_labels (not in the time above)", format!("median {}, max {}", fmt_d(refresh.median), fmt_d(refresh.max)));
    r.row("    then the same query again", format!("median {}, max {}", fmt_d(after_refresh.median), fmt_d(after_refresh.max)));
    r.row("  lift: set_hazards + first query", format!("median {}, max {}", fmt_d(lift.median), fmt_d(lift.max)));
    r.row(format!("    CCH arcs recomputed (of {})", thousands(cch_arcs)), show_counts(recomputed_lift));
    r.row("  full re-customization (Cch::customize, once)", format!("{} ({:.0}× the median declare)", fmt_d(full), ratio(full, declare.median)));
    r.floor("hazard declared → first correct query under 100 ms (max)", format!("max {}", fmt_d(declare.max)), declare.max < MAX_HAZARD_TO_QUERY);
    r.floor("hazard lifted → first correct query under 100 ms (max)", format!("max {}", fmt_d(lift.max)), lift.max < MAX_HAZARD_TO_QUERY);
    Ok(())
}

/// A square travel-time table between snapped random positions.
fn table(router: &Router, size: usize, rng: &mut StdRng, r: &mut Report) -> Result<()> {
    let key = r.key;
    if size == 0 {
        return Ok(());
    }
    progress(key, format!("{size}×{size} table"));
    let snaps = |rng: &mut StdRng| -> Result<Vec<Snap>> { (0..size).map(|_| Ok(router.snap(random_position(router, rng), "table point")?)).collect() };
    let (snapped, t_snap) = timed(|| -> Result<_> { Ok((snaps(rng)?, snaps(rng)?)) });
    let (sources, targets) = snapped?;
    let mut st = router.new_state();
    let (cells, took) = timed(|| router.table(&mut st, &sources, &targets));
    let missing = cells.iter().filter(|c| c.is_none()).count();
    for _ in 0..TABLE_CHECKS {
        let (i, j) = (rng.gen_range(0..size), rng.gen_range(0..size));
        let route = router.route_snapped(&mut st, sources[i].clone(), targets[j].clone()).ok().map(|x| x.time_ms);
        if route != cells[i * size + j].map(u64::from) {
            bail!("{key}: table cell ({i}, {j}) says {:?} ms, Router::route {route:?} ms", cells[i * size + j]);
        }
    }
    r.row(format!("travel-time table {size}×{size} (snapped positions)"), format!("{} ({} cells unreachable)", fmt_d(took), missing));
    r.row(format!("  snapping its {} positions (not in the table time)", 2 * size), fmt_d(t_snap));
    r.row("  table cells checked against Router::route", format!("{TABLE_CHECKS}, all equal"));
    r.floor(format!("{size}×{size} table under 1 s"), fmt_d(took), took < MAX_TABLE);
    Ok(())
}
