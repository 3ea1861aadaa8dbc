//! `corridor-bench plan`: what the evacuation planner (`corridor_plan`,
//! CCRP) is worth and what it costs, on generated and real road networks.
//!
//! **Quality.** Evacuees in bus loads of `--load` people (no fleet limit:
//! every load is its own vehicle, ready at its node at time 0) spread
//! evenly over the nodes of each network (node `i` gets
//! `⌊(i+1)L/n⌋ − ⌊iL/n⌋` of the `L` loads, so every node when there are more
//! loads than nodes, evenly spaced pickup points when there are fewer).
//! Exits are a few nodes on the border, as a real city has a few exit
//! roads: for a grid city of `r × c` blocks, 4 (side midpoints) or 8 (the
//! thirds of each side); for the Helsinki extract, the nodes on a primary
//! or larger road nearest to the midpoints of the extract's sides and its
//! corners; for the Aleppo district network, al-Rashideen 4, Idlib and the
//! northernmost and easternmost nodes. The number of loads is set so
//! that the exits' own capacity would need `--hours` of operation
//! (`loads = hours × Σ capacity of the arcs into exits`), i.e. evacuees
//! proportional to what the city can let out. Reported per network:
//! nodes, evacuees, the plan's completion time, the lower bound
//! (`corridor_plan::bound`, and which bound binds), their ratio and the
//! planning time. Every plan is checked: every load sent, routes
//! contiguous, no arc over its capacity in any slot, never faster than
//! the bound. Floor (issue 23): ratio ≤ 1.02 everywhere.
//!
//! **Scaling.** Planning time for 10k, 100k, 1M and 2M evacuees (same
//! spread and exits) on the Aleppo district network and on a generated
//! city of `--scale-grid`² (default 320², over 100k intersections), the
//! median of several runs, and the growth factor per 10× evacuees
//! (`(t₂/t₁)^(1/log₁₀(e₂/e₁))`). Floor (issue 23): 2M evacuees in under 1 s.
//!
//! The fleet case plans the same city with a fleet (by default 1,000
//! buses and 400 ambulances staged at the exits, 1 evacuee in 100
//! wounded), for 10k to 2M evacuees (`--fleet-evacuees`).
//!
//! The scaling runs put the evacuees at `--pickups` (default 1,024)
//! evenly spaced pickup points (every node of the Aleppo network, which has
//! fewer); `--pickups 0` spreads them over every node.
//!
//! Results go to stdout, progress to stderr.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use corridor_aleppo as aleppo;
use corridor_geo::{grid, roads, NoProgress, RoadNetwork};
use corridor_plan::bound::bounds;
use corridor_plan::{plan, FlowNet, Plan, Problem, Source, VehicleState};

use corridor::print::thousands;

const DEFAULT_OSM_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/osm");
const DEFAULT_ALEPPO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/aleppo/neighborhoods.geojson");

/// The floors the issue sets.
const MAX_RATIO: f64 = 1.02;
const MAX_2M: Duration = Duration::from_secs(1);

/// Options of `corridor-bench plan`.
#[derive(clap::Args, Debug, Clone)]
pub struct PlanBenchArgs {
    /// People per vehicle load (a bus).
    #[arg(long, default_value_t = 50)]
    pub load: u64,
    /// Capacity slot of the planner, seconds.
    #[arg(long, default_value_t = 60)]
    pub slot_s: u64,
    /// Hours the exits' capacity alone would need for the quality runs' evacuees.
    #[arg(long, default_value_t = 3.0)]
    pub hours: f64,
    /// Side of the generated city of the scaling runs.
    #[arg(long, default_value_t = 320)]
    pub scale_grid: u32,
    /// Timed runs per scaling case (the median is reported; fewer for slow cases).
    #[arg(long, default_value_t = 5)]
    pub reps: usize,
    /// Pickup points of the scaling runs (evacuees spread evenly over at
    /// most this many nodes; 0: every node).
    #[arg(long, default_value_t = 1024)]
    pub pickups: usize,
    /// Skip the largest cases (300×300 quality, 2M scaling).
    #[arg(long)]
    pub quick: bool,
    /// Only the quality table, or only the scaling table.
    #[arg(long, value_parser = ["quality", "scaling"])]
    pub only: Option<String>,
    /// Evacuee counts of the scaling runs (default 10k, 100k, 1M, 2M;
    /// without 2M with `--quick`).
    #[arg(long, value_delimiter = ',')]
    pub evacuees: Vec<u64>,
    /// Networks of the scaling runs: `aleppo`, `grid` (the generated
    /// city without a fleet limit), `fleet` (the same city with a fleet).
    #[arg(long, value_delimiter = ',', default_value = "aleppo,grid,fleet", value_parser = ["aleppo", "grid", "fleet"])]
    pub networks: Vec<String>,
    /// Buses (of `--load` seats) of the fleet scaling case.
    #[arg(long, default_value_t = 1000)]
    pub buses: usize,
    /// Ambulances of the fleet scaling case.
    #[arg(long, default_value_t = 400)]
    pub ambulances: usize,
    /// Evacuee counts of the fleet scaling case.
    #[arg(long, value_delimiter = ',', default_value = "10000,100000,1000000,2000000")]
    pub fleet_evacuees: Vec<u64>,
    /// Directory holding helsinki.osm.pbf.
    #[arg(long, default_value = DEFAULT_OSM_DIR)]
    pub osm_dir: PathBuf,
    /// The Aleppo neighbourhood polygons.
    #[arg(long, default_value = DEFAULT_ALEPPO)]
    pub aleppo: PathBuf,
}

/// A network ready to plan on.
struct Case {
    name: String,
    net: FlowNet,
    exits: Vec<u32>,
}

fn grid_case(side: u32, exits: usize) -> Result<Case> {
    let roads = grid::grid_city(side, side, 1)?;
    let (lat0, lat1, lon0, lon1) = bbox(&roads);
    let (mlat, mlon) = ((lat0 + lat1) / 2.0, (lon0 + lon1) / 2.0);
    let targets: Vec<(f64, f64)> = if exits <= 4 {
        vec![(lat0, mlon), (lat1, mlon), (mlat, lon0), (mlat, lon1)]
    } else {
        let third = |a: f64, b: f64, k: f64| a + (b - a) * k / 3.0;
        [1.0, 2.0]
            .iter()
            .flat_map(|&k| [(lat0, third(lon0, lon1, k)), (lat1, third(lon0, lon1, k)), (third(lat0, lat1, k), lon0), (third(lat0, lat1, k), lon1)])
            .collect()
    };
    let exits = nearest_nodes(&roads, &targets, |_| true);
    Ok(Case { name: format!("grid {side}×{side}"), net: FlowNet::from_roads(&roads, &exits), exits })
}

fn helsinki_case(dir: &std::path::Path) -> Result<Case> {
    let path = dir.join("helsinki.osm.pbf");
    let roads = corridor_geo::import_file(&path, corridor_geo::Profile::Car, &NoProgress).with_context(|| format!("importing {}", path.display()))?;
    let (lat0, lat1, lon0, lon1) = bbox(&roads);
    let (mlat, mlon) = ((lat0 + lat1) / 2.0, (lon0 + lon1) / 2.0);
    let targets = [(lat0, mlon), (lat1, mlon), (mlat, lon0), (mlat, lon1), (lat0, lon0), (lat0, lon1), (lat1, lon0), (lat1, lon1)];
    // Exits on main roads: a node entered by an arc of 1800 vehicles/hour or more.
    let mut main = vec![false; roads.node_count()];
    for a in 0..roads.arc_count() {
        if roads.capacity_vph[a] >= 1800 {
            main[roads.head[a] as usize] = true;
        }
    }
    let exits = nearest_nodes(&roads, &targets, |v| main[v as usize]);
    Ok(Case { name: "helsinki".into(), net: FlowNet::from_roads(&roads, &exits), exits })
}

fn aleppo_case(path: &std::path::Path) -> Result<Case> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let fc = aleppo::district_network(&text)?;
    let roads = roads::import_geojson(&fc.to_string(), "aleppo districts")?;
    let place = |id: &str| aleppo::place(id).map(|p| (p.lat, p.lon)).context("a named place of the district network");
    let mut exits = nearest_nodes(&roads, &[place(aleppo::RASHIDIN_4)?, place(aleppo::IDLIB)?], |_| true);
    let north = (0..roads.node_count() as u32).max_by(|&a, &b| roads.lat[a as usize].total_cmp(&roads.lat[b as usize])).context("nodes")?;
    let east = (0..roads.node_count() as u32).max_by(|&a, &b| roads.lon[a as usize].total_cmp(&roads.lon[b as usize])).context("nodes")?;
    for v in [north, east] {
        if !exits.contains(&v) {
            exits.push(v);
        }
    }
    Ok(Case { name: "aleppo districts".into(), net: FlowNet::from_roads(&roads, &exits), exits })
}

fn bbox(r: &RoadNetwork) -> (f64, f64, f64, f64) {
    let f = |v: &[f64]| (v.iter().copied().fold(f64::INFINITY, f64::min), v.iter().copied().fold(f64::NEG_INFINITY, f64::max));
    let (lat0, lat1) = f(&r.lat);
    let (lon0, lon1) = f(&r.lon);
    (lat0, lat1, lon0, lon1)
}

/// For each target (lat, lon), the nearest node allowed (distinct nodes).
fn nearest_nodes(r: &RoadNetwork, targets: &[(f64, f64)], ok: impl Fn(u32) -> bool) -> Vec<u32> {
    let mut out: Vec<u32> = Vec::new();
    for &(lat, lon) in targets {
        let k = lat.to_radians().cos();
        let best = (0..r.node_count() as u32)
            .filter(|&v| ok(v) && !out.contains(&v))
            .min_by(|&a, &b| {
                let d = |v: u32| (r.lat[v as usize] - lat).powi(2) + ((r.lon[v as usize] - lon) * k).powi(2);
                d(a).total_cmp(&d(b))
            });
        if let Some(v) = best {
            out.push(v);
        }
    }
    out
}

/// Vehicles per hour the exits admit (the arcs into them).
fn exit_capacity_vph(net: &FlowNet) -> u64 {
    (0..net.arc_count()).filter(|&a| net.sink[net.head[a] as usize] && !net.sink[net.tail[a] as usize]).map(|a| u64::from(net.cap_vph[a])).sum()
}

/// `loads` spread evenly over the nodes that are not exits.
fn problem<'a>(c: &'a Case, loads: u64, slot_ms: u64) -> Problem<'a> {
    problem_at(c, loads, slot_ms, usize::MAX)
}

/// `loads` spread evenly over at most `points` pickup points.
fn problem_at<'a>(c: &'a Case, loads: u64, slot_ms: u64, points: usize) -> Problem<'a> {
    let sources = corridor_plan::check::spread(&c.net, loads, points);
    Problem { net: &c.net, sources, fleet: None, reposition_ms: HashMap::new(), slot_ms, unload_ms: 0, horizon_ms: 7 * 24 * 3_600_000 }
}

/// People per ambulance, the share of evacuees who need one (wounded,
/// 1 in 100), and the boarding and unloading times of the fleet case.
const AMBULANCE_SEATS: u64 = 4;
const WOUNDED_PER: u64 = 100;
const BUS_BOARD_MS: u64 = 5 * 60_000;
const AMBULANCE_BOARD_MS: u64 = 10 * 60_000;
const UNLOAD_MS: u64 = 5 * 60_000;

/// The fleet case: `evacuees` at `points` pickup points, 1 in
/// [`WOUNDED_PER`] of them wounded (ambulance loads of
/// [`AMBULANCE_SEATS`], class 1), the others in bus loads of `load`
/// (class 0); `buses` and `ambulances` staged at the exits (vehicle `i` of
/// a kind at exit `i mod exits`) and repositioning empty at free-flow
/// speed from any exit to any pickup point.
fn fleet_problem<'a>(c: &'a Case, evacuees: u64, load: u64, buses: usize, ambulances: usize, slot_ms: u64, points: usize) -> Problem<'a> {
    let wounded = evacuees / WOUNDED_PER;
    let bus_loads = (evacuees - wounded).div_ceil(load.max(1));
    let mut sources = corridor_plan::check::spread(&c.net, bus_loads, points);
    sources.iter_mut().for_each(|s| s.load_ms = BUS_BOARD_MS);
    sources.extend(corridor_plan::check::spread(&c.net, wounded.div_ceil(AMBULANCE_SEATS), points).into_iter().map(|s| Source { class: 1, load_ms: AMBULANCE_BOARD_MS, ..s }));
    let exits = &c.exits;
    let fleet: Vec<VehicleState> = (0..buses)
        .map(|i| VehicleState { class: 0, at: exits[i % exits.len()], ready_ms: 0 })
        .chain((0..ambulances).map(|i| VehicleState { class: 1, at: exits[i % exits.len()], ready_ms: 0 }))
        .collect();
    let mut reposition_ms = HashMap::new();
    for &z in exits {
        let d = c.net.free_flow_from(z, false);
        for s in &sources {
            if d[s.node as usize] != u64::MAX {
                reposition_ms.insert((z, s.node), d[s.node as usize]);
            }
        }
    }
    Problem { net: &c.net, sources, fleet: Some(fleet), reposition_ms, slot_ms, unload_ms: UNLOAD_MS, horizon_ms: 7 * 24 * 3_600_000 }
}

/// What every plan must satisfy.
fn check(p: &Problem, plan: &Plan) -> Result<()> {
    corridor_plan::check::check(p, plan).map_err(|e| anyhow::anyhow!(e))
}

fn hm(ms: u64) -> String {
    let m = (ms + 30_000) / 60_000;
    format!("{}h{:02}", m / 60, m % 60)
}

fn fmt_d(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 1.0 {
        format!("{:.1} ms", s * 1000.0)
    } else {
        format!("{s:.2} s")
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

struct QualityRow {
    name: String,
    nodes: usize,
    exits: usize,
    evacuees: u64,
    completion_ms: u64,
    bound_ms: u64,
    binding: &'static str,
    ratio: f64,
    plan_time: Duration,
    bound_time: Duration,
    rounds: u64,
    searches: u64,
}

fn quality(c: &Case, a: &PlanBenchArgs) -> Result<QualityRow> {
    let slot_ms = a.slot_s.max(1) * 1000;
    let loads = ((exit_capacity_vph(&c.net) as f64 * a.hours).round() as u64).max(1);
    let p = problem(c, loads, slot_ms);
    let t = Instant::now();
    let pl = plan(&p).map_err(|e| anyhow::anyhow!("{}: {e}", c.name))?;
    let plan_time = t.elapsed();
    check(&p, &pl).with_context(|| format!("{}: the plan breaks a rule", c.name))?;
    let t = Instant::now();
    let b = bounds(&p);
    let bound_time = t.elapsed();
    let lb = b.best();
    if pl.completion_ms < lb {
        bail!("{}: plan {} ms beats its lower bound {lb} ms", c.name, pl.completion_ms);
    }
    Ok(QualityRow {
        name: c.name.clone(),
        nodes: c.net.node_count(),
        exits: c.exits.len(),
        evacuees: loads * a.load,
        completion_ms: pl.completion_ms,
        bound_ms: lb,
        binding: b.binding(),
        ratio: pl.completion_ms as f64 / lb.max(1) as f64,
        plan_time,
        bound_time,
        rounds: pl.rounds,
        searches: pl.searches,
    })
}

struct ScaleRow {
    evacuees: u64,
    median: Duration,
    runs: usize,
    completion_ms: u64,
    rounds: u64,
    searches: u64,
}

fn scaling(c: &Case, a: &PlanBenchArgs, evacuees: &[u64], with_fleet: bool) -> Result<Vec<ScaleRow>> {
    let slot_ms = a.slot_s.max(1) * 1000;
    let points = if a.pickups == 0 { usize::MAX } else { a.pickups };
    let mut rows = Vec::new();
    for &e in evacuees {
        let p = if with_fleet { fleet_problem(c, e, a.load, a.buses, a.ambulances, slot_ms, points) } else { problem_at(c, e.div_ceil(a.load), slot_ms, points) };
        let mut times = Vec::new();
        let mut last = None;
        let started = Instant::now();
        while times.len() < a.reps.max(1) && (times.is_empty() || started.elapsed() < Duration::from_secs(20)) {
            let t = Instant::now();
            let pl = plan(&p).map_err(|err| anyhow::anyhow!("{} {e} evacuees: {err}", c.name))?;
            times.push(t.elapsed());
            last = Some(pl);
        }
        let pl = last.expect("at least one run");
        check(&p, &pl).with_context(|| format!("{} {e} evacuees: the plan breaks a rule", c.name))?;
        eprintln!("  {} {}: {} ({} runs)", c.name, thousands(e), fmt_d(median(times.clone())), times.len());
        rows.push(ScaleRow { evacuees: e, runs: times.len(), median: median(times), completion_ms: pl.completion_ms, rounds: pl.rounds, searches: pl.searches });
    }
    Ok(rows)
}

pub fn run(a: &PlanBenchArgs) -> Result<()> {
    let started = Instant::now();
    let mut floors: Vec<(String, String, bool)> = Vec::new();
    println!(
        "corridor-bench plan: CCRP (corridor_plan::plan) against its lower bound (corridor_plan::bound); loads of {} people, no fleet limit but in the fleet case, {} s slots",
        a.load, a.slot_s
    );
    println!("(all figures measured in this run, on this machine)");
    if a.only.as_deref() != Some("scaling") {
        let mut specs: Vec<Box<dyn Fn() -> Result<Case>>> = vec![
            Box::new(|| grid_case(10, 4)),
            Box::new(|| grid_case(30, 4)),
            Box::new(|| grid_case(100, 8)),
        ];
        if !a.quick {
            specs.push(Box::new(|| grid_case(300, 8)));
        }
        specs.push(Box::new(|| helsinki_case(&a.osm_dir)));
        specs.push(Box::new(|| aleppo_case(&a.aleppo)));
        println!();
        println!("== quality: evacuees for {} h of the exits' capacity, spread over every node ==", a.hours);
        println!(
            "  {:<17} {:>7} {:>5} {:>10} {:>8} {:>8} {:>6}  {:>10} {:>9} {:>8} {:>8}  binding bound",
            "network", "nodes", "exits", "evacuees", "plan", "bound", "ratio", "planning", "bound in", "rounds", "searches"
        );
        for spec in &specs {
            let c = spec()?;
            eprintln!("  planning {} ({} nodes)…", c.name, c.net.node_count());
            let r = quality(&c, a)?;
            println!(
                "  {:<17} {:>7} {:>5} {:>10} {:>8} {:>8} {:>6.3}  {:>10} {:>9} {:>8} {:>8}  {}",
                r.name,
                thousands(r.nodes as u64),
                r.exits,
                thousands(r.evacuees),
                hm(r.completion_ms),
                hm(r.bound_ms),
                r.ratio,
                fmt_d(r.plan_time),
                fmt_d(r.bound_time),
                thousands(r.rounds),
                thousands(r.searches),
                r.binding
            );
            floors.push((format!("{}: plan / lower bound ≤ {MAX_RATIO:.2}", r.name), format!("{:.3}", r.ratio), r.ratio <= MAX_RATIO));
        }
    }
    if a.only.as_deref() != Some("quality") {
        let evacuees: Vec<u64> = if !a.evacuees.is_empty() {
            a.evacuees.clone()
        } else if a.quick {
            vec![10_000, 100_000, 1_000_000]
        } else {
            vec![10_000, 100_000, 1_000_000, 2_000_000]
        };
        let fleet_evacuees: Vec<u64> = a.fleet_evacuees.iter().copied().filter(|&e| !a.quick || e < 2_000_000).collect();
        println!();
        println!("== scaling: planning time against evacuees (median of up to {} runs) ==", a.reps);
        let mut grid: Option<Case> = None;
        for kind in &a.networks {
            let with_fleet = kind == "fleet";
            let c = match kind.as_str() {
                "aleppo" => aleppo_case(&a.aleppo)?,
                _ => match grid.take() {
                    Some(g) => g,
                    None => grid_case(a.scale_grid, 8)?,
                },
            };
            let rows = scaling(&c, a, if with_fleet { &fleet_evacuees } else { &evacuees }, with_fleet)?;
            let fleet = if with_fleet {
                format!(
                    "; a fleet of {} buses ({} seats, {} min boarding) and {} ambulances ({AMBULANCE_SEATS} seats, 1 evacuee in {WOUNDED_PER}, {} min), staged at the exits, {} min unloading",
                    thousands(a.buses as u64),
                    a.load,
                    BUS_BOARD_MS / 60_000,
                    thousands(a.ambulances as u64),
                    AMBULANCE_BOARD_MS / 60_000,
                    UNLOAD_MS / 60_000
                )
            } else {
                String::new()
            };
            println!("  {} ({} nodes, {} arcs, {} exits{fleet})", c.name, thousands(c.net.node_count() as u64), thousands(c.net.arc_count() as u64), c.exits.len());
            println!("    {:>10} {:>10} {:>5} {:>8} {:>8} {:>8}  {:>14}", "evacuees", "planning", "runs", "plan", "rounds", "searches", "growth per 10×");
            let mut prev: Option<&ScaleRow> = None;
            for r in &rows {
                let growth = prev.map_or(String::new(), |p| {
                    let f = (r.median.as_secs_f64() / p.median.as_secs_f64().max(1e-9)).powf(1.0 / (r.evacuees as f64 / p.evacuees as f64).log10());
                    format!("×{f:.2}")
                });
                println!(
                    "    {:>10} {:>10} {:>5} {:>8} {:>8} {:>8}  {:>14}",
                    thousands(r.evacuees),
                    fmt_d(r.median),
                    r.runs,
                    hm(r.completion_ms),
                    thousands(r.rounds),
                    thousands(r.searches),
                    growth
                );
                prev = Some(r);
            }
            if let Some(r) = rows.iter().find(|r| r.evacuees == 2_000_000).filter(|_| !with_fleet) {
                floors.push((format!("{}: 2M evacuees planned in < {} s", c.name, MAX_2M.as_secs()), fmt_d(r.median), r.median < MAX_2M));
            }
            if kind != "aleppo" {
                grid = Some(c);
            }
        }
    }
    println!();
    println!("== floors ==");
    for (what, measured, met) in &floors {
        println!("  {:<52} {:<10} {}", what, measured, if *met { "FLOOR MET" } else { "FLOOR MISSED" });
    }
    let missed = floors.iter().filter(|f| !f.2).count();
    println!("{} of {} floors met; whole run {}", floors.len() - missed, floors.len(), fmt_d(started.elapsed()));
    Ok(())
}
