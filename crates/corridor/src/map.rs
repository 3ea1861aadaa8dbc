//! The map commands: `import`, `route`, `corridor` and `map-geojson`.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use corridor_aleppo as aleppo;
use corridor_geo::corridor::{self, CheckpointSpec, CorridorSpec, Placement};
use corridor_geo::{export, netfile, roads, HazardSet, LatLon, PreparedNetwork, Profile, Progress, Route, Router};
use indicatif::{ProgressBar, ProgressStyle};

/// A progress bar on a terminal; nothing in CI or when piped.
pub struct Bar(ProgressBar);

impl Bar {
    pub fn new(msg: &'static str) -> Self {
        let on = std::io::stderr().is_terminal() && std::env::var_os("CI").is_none();
        let bar = if on { ProgressBar::new(0) } else { ProgressBar::hidden() };
        bar.set_style(ProgressStyle::with_template("{msg} [{bar:40}] {percent}%").expect("valid template"));
        bar.set_message(msg);
        Bar(bar)
    }
}

impl Progress for Bar {
    fn set(&self, done: u64, total: u64) {
        self.0.set_length(total);
        self.0.set_position(done);
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.0.finish_and_clear();
    }
}

/// The default output next to the input: `monaco.osm.pbf` → `monaco.cnet`.
fn default_out(map: &Path) -> PathBuf {
    let name = map.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_else(|| "map".into());
    let stem = ["osm.pbf", "pbf", "osm", "geojson", "json"].iter().find_map(|e| name.strip_suffix(&format!(".{e}"))).unwrap_or(&name);
    PathBuf::from(format!("{stem}.cnet"))
}

/// `corridor import`.
pub fn import(map: &Path, out: Option<PathBuf>, districts: bool, profile: Profile) -> Result<()> {
    let t0 = Instant::now();
    let net = if districts {
        let text = std::fs::read_to_string(map).with_context(|| format!("cannot read {}", map.display()))?;
        let fc = aleppo::district_network(&text).with_context(|| format!("{}: cannot derive the district network", map.display()))?;
        roads::import_geojson_for(&fc.to_string(), &format!("Aleppo district network derived from {}", map.display()), profile)?
    } else {
        corridor_geo::import_file(map, profile, &Bar::new("reading the extract"))?
    };
    let import_s = t0.elapsed().as_secs_f64();
    let s = net.meta.stats.clone();
    let t1 = Instant::now();
    let spin = Bar::new("preparing the routing structure (contraction order, CCH)");
    spin.0.set_style(ProgressStyle::with_template("{spinner} {msg} {elapsed}").expect("valid template"));
    spin.0.enable_steady_tick(std::time::Duration::from_millis(120));
    let prepared = PreparedNetwork::prepare(net);
    drop(spin);
    let prep_s = t1.elapsed().as_secs_f64();
    let out = out.unwrap_or_else(|| if districts { PathBuf::from("aleppo-districts.cnet") } else { default_out(map) });
    let bytes = netfile::write(&prepared, &out)?;
    let m = &prepared.net.meta;
    println!("{}{}", m.source, if m.approximate { " (APPROXIMATE: a coarse derived network, not surveyed roads)" } else { "" });
    println!("  ways with a highway tag  {:>10}", s.highway_ways);
    println!("  vehicle profile          {:>10}", m.profile);
    println!("  usable by this vehicle   {:>10}", s.usable_ways);
    if s.missing_nodes > 0 {
        println!("  way nodes not in the file {:>9} (clipped extract: ways split there)", s.missing_nodes);
    }
    println!("  road graph               {:>10} nodes, {} arcs, {:.1} km of road", s.nodes_before, s.arcs_before, s.km_before);
    println!(
        "  largest strongly connected component kept: {} nodes, {} arcs, {:.1} km; dropped {} nodes ({:.1}%), {:.1} km",
        s.nodes,
        s.arcs,
        s.km,
        s.dropped_nodes(),
        100.0 * s.dropped_share(),
        s.km_before - s.km
    );
    if s.restrictions > 0 {
        println!(
            "  turn restrictions        {:>10} read, {} applied ({} junction copies, {} arcs added); not applied: {} not for this vehicle (except=, another mode), {} conditional, {} via-way (not supported), {} off this vehicle's roads, {} broken",
            s.restrictions,
            s.restrictions_applied,
            s.turn_nodes,
            s.turn_arcs,
            s.restrictions_not_for_vehicle,
            s.restrictions_conditional,
            s.restrictions_via_way,
            s.restrictions_off_network,
            s.restrictions_broken
        );
        if s.restrictions_broken > 0 {
            let more = s.restrictions_broken.saturating_sub(s.broken_restrictions.len() as u64);
            eprintln!(
                "warning: {} broken turn restriction relation(s) not applied: {}{}",
                s.restrictions_broken,
                s.broken_restrictions.join("; "),
                if more > 0 { format!("; and {more} more") } else { String::new() }
            );
        }
    }
    println!("  routing structure (CCH)  {:>10} arcs", prepared.cch.cch_arc_count());
    println!("  import {import_s:.2} s, preparation {prep_s:.2} s");
    println!("wrote {} ({:.1} MB, format version {})", out.display(), bytes as f64 / 1e6, netfile::FORMAT_VERSION);
    println!("data: {}", m.attribution);
    Ok(())
}

pub fn load(map: &Path) -> Result<PreparedNetwork> {
    if !map.exists() {
        bail!("{}: no such prepared network; make one with `corridor import MAP.osm.pbf --out {}`", map.display(), map.display());
    }
    Ok(netfile::read(map)?)
}

/// Hazards from a GeoJSON file, on top of those the log holds.
pub fn hazards(file: Option<&Path>, mut from_log: HazardSet) -> Result<HazardSet> {
    if let Some(f) = file {
        let text = std::fs::read_to_string(f).with_context(|| format!("cannot read {}", f.display()))?;
        let set = HazardSet::from_geojson(&text, &f.display().to_string())?;
        from_log.areas.extend(set.areas);
    }
    Ok(from_log)
}

/// A router on `map`, refusing it if it was prepared for another vehicle than `profile`.
fn router(map: &Path, profile: Option<Profile>, hz: HazardSet, max_snap_km: f64) -> Result<Router> {
    let p = load(map)?;
    if let Some(want) = profile {
        p.check_profile(want, &map.display().to_string())?;
    }
    let mut r = Router::new(p);
    r.max_snap_m = max_snap_km * 1000.0;
    let up = r.set_hazards(hz);
    if !up.blocking.is_empty() {
        eprintln!("hazards closing roads: {} ({} road arcs closed)", up.blocking.join(", "), up.blocked_arcs);
    }
    Ok(r)
}

fn hms(s: f64) -> String {
    let s = s.round() as u64;
    format!("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
}

/// Streets of a route in order, each once per stretch: "A (1.2 km) → B (300 m)".
fn streets(r: &Router, route: &Route) -> Vec<(String, f64)> {
    let net = r.network();
    let mut out: Vec<(String, f64)> = Vec::new();
    let whole = route.arcs.iter().map(|&a| (a, 1.0));
    for (a, share) in route.first_part.into_iter().chain(whole).chain(route.last_part) {
        let name = net.name_of(a as usize);
        let name = if name.is_empty() { format!("({})", net.class_of(a as usize).tag()) } else { name.to_string() };
        let len = share * f64::from(net.length_m[a as usize]);
        match out.last_mut() {
            Some((n, l)) if *n == name => *l += len,
            _ => out.push((name, len)),
        }
    }
    out
}

fn meters(m: f64) -> String {
    if m >= 1000.0 { format!("{:.2} km", m / 1000.0) } else { format!("{m:.0} m") }
}

/// `corridor route`.
#[allow(clippy::too_many_arguments)]
pub fn route(map: &Path, profile: Option<Profile>, from: LatLon, to: LatLon, via: &[LatLon], hz: HazardSet, geojson: bool, max_snap_km: f64) -> Result<()> {
    let r = router(map, profile, hz, max_snap_km)?;
    let mut st = r.new_state();
    let approx = r.network().meta.approximate;
    if geojson {
        let spec = CorridorSpec { id: "route".into(), name: "route".into(), entry: from, exit: to, via: via.to_vec(), checkpoints: vec![] };
        let c = corridor::plan(&r, &mut st, &spec)?;
        let mut f = export::corridor_features(&c, approx);
        f.extend(export::hazard_features(r.hazards()));
        println!("{}", serde_json::to_string_pretty(&export::collection(f, &r.network().meta.attribution))?);
        return Ok(());
    }
    let stops: Vec<LatLon> = std::iter::once(from).chain(via.iter().copied()).chain(std::iter::once(to)).collect();
    let mut legs = Vec::new();
    for w in stops.windows(2) {
        legs.push(r.route(&mut st, w[0], w[1])?);
    }
    let length: f64 = legs.iter().map(|l| l.length_m).sum();
    let time: f64 = legs.iter().map(|l| l.time_ms as f64 / 1000.0).sum();
    println!("route {} → {}{}", from, to, if approx { "  (APPROXIMATE network)" } else { "" });
    println!("  distance {}", meters(length));
    println!("  time     {} (free-flow, convoy speeds, {} profile)", hms(time), r.network().meta.profile);
    for (i, l) in legs.iter().enumerate() {
        println!("  leg {}: start snapped {} from {}, end snapped {} from {}", i + 1, meters(l.from.distance_m), l.from.asked, meters(l.to.distance_m), l.to.asked);
        for (name, len) in streets(&r, l) {
            println!("    {name}  {}", meters(len));
        }
    }
    let pts: Vec<String> = legs.iter().flat_map(|l| l.points.iter()).map(|p| p.to_string()).collect();
    println!("  path ({} points): {}", pts.len(), pts.join(" "));
    println!("map data: {}", r.network().meta.attribution);
    Ok(())
}

/// `ID:NAME@PLACE`, e.g. `cp1:Ramouseh bridge@36.1540,37.1222`, `cp3:Checkpoint 3@2.5km`, `cp6:Exit@100%`.
pub fn parse_checkpoint(s: &str) -> Result<CheckpointSpec> {
    let (head, at) = s.rsplit_once('@').context("a checkpoint is ID:NAME@PLACE, e.g. cp1:Ramouseh bridge@36.1540,37.1222 or cp3:Third@2.5km or cp6:Exit@100%")?;
    let (id, name) = head.split_once(':').unwrap_or((head, head));
    if id.is_empty() {
        bail!("checkpoint {s:?} has no id");
    }
    let at: Placement = at.parse()?;
    Ok(CheckpointSpec { id: id.to_string(), name: name.to_string(), at })
}

/// `corridor corridor`.
#[allow(clippy::too_many_arguments)]
pub fn corridor(map: &Path, profile: Option<Profile>, id: &str, name: &str, entry: LatLon, exit: LatLon, via: &[LatLon], checkpoints: &[String], hz: HazardSet, geojson: bool) -> Result<()> {
    let r = router(map, profile, hz, corridor_geo::router::DEFAULT_MAX_SNAP_M / 1000.0)?;
    let mut st = r.new_state();
    let cps = checkpoints.iter().map(|c| parse_checkpoint(c)).collect::<Result<Vec<_>>>()?;
    let spec = CorridorSpec { id: id.into(), name: name.into(), entry, exit, via: via.to_vec(), checkpoints: cps };
    let c = corridor::plan(&r, &mut st, &spec)?;
    let approx = r.network().meta.approximate;
    if geojson {
        let mut f = export::corridor_features(&c, approx);
        f.extend(export::hazard_features(r.hazards()));
        println!("{}", serde_json::to_string_pretty(&export::collection(f, &r.network().meta.attribution))?);
        return Ok(());
    }
    println!("corridor {} \"{}\"{}", c.id, c.name, if approx { "  (APPROXIMATE network)" } else { "" });
    println!("  {} → {}: {} , {} at convoy speed", entry, exit, meters(c.length_m), hms(c.time_s));
    for (i, cp) in c.checkpoints.iter().enumerate() {
        let off = if cp.offset_m > 1.0 { format!(" (given position {} off the route)", meters(cp.offset_m)) } else { String::new() };
        println!("  {}. {:<10} {:<30} {:>9}  +{}  at {}{}", i + 1, cp.id, cp.name, meters(cp.distance_m), hms(cp.time_s), cp.point, off);
    }
    println!("map data: {}", r.network().meta.attribution);
    Ok(())
}

/// `corridor map-geojson`: the drivable network and hazards as GeoJSON.
pub fn map_geojson(map: &Path, hz: HazardSet, out: Option<&Path>) -> Result<()> {
    let p = load(map)?;
    let mut f = export::network_features(&p.net);
    f.extend(export::hazard_features(&hz));
    let text = serde_json::to_string(&export::collection(f, &p.net.meta.attribution))?;
    match out {
        Some(o) => {
            std::fs::write(o, text).with_context(|| format!("cannot write {}", o.display()))?;
            println!("wrote {}", o.display());
        }
        None => println!("{text}"),
    }
    Ok(())
}
