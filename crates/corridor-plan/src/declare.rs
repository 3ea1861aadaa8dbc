//! The declarations a scenario makes, as events: the operation (its zone,
//! languages and map), the groups, the sites, the corridors with their
//! checkpoints placed on the route of the operation's map, the truce
//! windows, the fleet's vehicles and the agreements.
//!
//! The simulator (`corridor demo`) and `corridor apply` both make their
//! declarations here, with the same event ids, and [`changes`] compares a
//! scenario's declarations with a log's: what to append (new things, and
//! `truce_window_changed` for a window that moved), or why the log cannot
//! follow the file (a corridor's checkpoints moved, a vehicle changed…).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use corridor_geo::corridor::{CheckpointSpec as GeoCheckpoint, CorridorSpec as GeoCorridor, Placement};
use corridor_geo::{GeoError, LatLon, PreparedNetwork, Router};
use corridor_model::{Agreement, Body, Checkpoint, Corridor, Event, GroupsDefined, MapRef, Operation, Position, Site, SiteKind, TruceWindow, Vehicle};

use crate::scenario::{Scenario, SiteKindSpec, WindowSpec};

/// The map a scenario runs on, as the log names it: the SHA-256 of the
/// prepared network's bytes (`corridor_geo::netfile::to_bytes`, which is
/// what the data directory keeps as `map.cnet`).
pub fn map_ref(sc: &Scenario, net: &PreparedNetwork, bytes: &[u8]) -> MapRef {
    use sha2::Digest;
    let name = match (&sc.map.builtin, &sc.map.file) {
        (Some(b), _) => b.clone(),
        (None, Some(f)) => std::path::Path::new(f).file_stem().map_or(f.clone(), |s| s.to_string_lossy().to_string()),
        (None, None) => "map".into(),
    };
    MapRef { name, attribution: net.net.meta.attribution.clone(), sha256: hex::encode(sha2::Sha256::digest(bytes)) }
}

/// A scenario's corridor as the router lays it out.
pub fn geo_corridor(c: &crate::scenario::CorridorSpec) -> GeoCorridor {
    let at = |p: [f64; 2]| LatLon::new(p[0], p[1]);
    GeoCorridor {
        id: c.id.clone(),
        name: c.name.clone(),
        entry: at(c.entry),
        exit: at(c.exit),
        via: c.via.iter().map(|&p| at(p)).collect(),
        checkpoints: c
            .checkpoints
            .iter()
            .map(|cp| GeoCheckpoint { id: cp.id.clone(), name: cp.name.clone(), at: cp.at.parse::<Placement>().expect("checked by the scenario") })
            .collect(),
    }
}

/// Every corridor's checkpoints placed on its route: (id, name, point).
pub fn place(sc: &Scenario, router: &Router) -> Result<Vec<Vec<(String, String, LatLon)>>, GeoError> {
    let mut st = router.new_state();
    sc.corridors
        .iter()
        .map(|c| {
            let route = corridor_geo::corridor::plan(router, &mut st, &geo_corridor(c.get_ref()))?;
            Ok(route.checkpoints.into_iter().map(|p| (p.id, p.name, p.point)).collect())
        })
        .collect()
}

/// Every declaration of the scenario, dated `now` (agreements at their own
/// time): the operation, groups, sites, corridors (checkpoints `placed`),
/// vehicles, the agreements made by `now` and the windows not waiting for
/// an agreement still to come. Also the ids of the agreements still to come.
pub fn all(sc: &Scenario, map: MapRef, placed: &[Vec<(String, String, LatLon)>], now: DateTime<Utc>) -> (Vec<Event>, Vec<String>) {
    let mut out = vec![operation(sc, map, now), groups(now)];
    out.extend(sites(sc, now));
    for (c, p) in placed.iter().enumerate() {
        out.push(corridor(sc, c, p, now));
    }
    out.extend(vehicles(sc, now));
    let mut waiting = Vec::new();
    for (i, a) in sc.agreements.iter().enumerate() {
        if a.get_ref().time <= now {
            out.push(agreement(sc, i));
        } else {
            waiting.push(a.get_ref().id.clone());
        }
    }
    for w in sc.windows.iter().map(|w| w.get_ref()) {
        if w.agreement.as_ref().is_none_or(|a| !waiting.contains(a)) {
            out.push(window(w, now));
        }
    }
    (out, waiting)
}

fn hq(id: String, t: DateTime<Utc>, body: Body) -> Event {
    Event::new(id, t, "hq", body)
}

/// `operation_declared`.
pub fn operation(sc: &Scenario, map: MapRef, t: DateTime<Utc>) -> Event {
    let m = &sc.scenario;
    hq(
        "operation".into(),
        t,
        Body::OperationDeclared(Operation { operation: sc.operation_id(), name: m.name.clone(), timezone: m.timezone.clone(), languages: m.languages.clone(), map }),
    )
}

/// `groups_defined`: the standard groups.
pub fn groups(t: DateTime<Utc>) -> Event {
    hq("groups".into(), t, Body::GroupsDefined(GroupsDefined::standard()))
}

/// `site_declared` for every site.
pub fn sites(sc: &Scenario, t: DateTime<Utc>) -> Vec<Event> {
    sc.sites
        .iter()
        .map(|s| s.get_ref())
        .map(|s| {
            let kind = match s.kind {
                SiteKindSpec::Besieged => SiteKind::Besieged,
                SiteKindSpec::Destination | SiteKindSpec::Depot => SiteKind::Destination,
            };
            hq(
                format!("site-{}", s.id),
                t,
                Body::SiteDeclared(Site { name_ar: s.name_ar.clone(), site: s.id.clone(), name: s.name.clone(), kind, position: Some(Position { lat: s.at[0], lon: s.at[1] }) }),
            )
        })
        .collect()
}

/// `corridor_declared` for corridor `c` (by position in the scenario), its
/// checkpoints placed at `placed` (id, name, point) on its route.
pub fn corridor(sc: &Scenario, c: usize, placed: &[(String, String, LatLon)], t: DateTime<Utc>) -> Event {
    let spec = sc.corridors[c].get_ref();
    let groups = if spec.groups.is_empty() { GroupsDefined::standard().groups.into_iter().map(|g| g.id).collect() } else { spec.groups.clone() };
    hq(
        format!("corridor-{}", spec.id),
        t,
        Body::CorridorDeclared(Corridor {
            corridor: spec.id.clone(),
            name: spec.name.clone(),
            name_ar: spec.name_ar.clone(),
            from: spec.from.clone(),
            to: spec.to.clone(),
            checkpoints: placed
                .iter()
                .map(|(id, name, p)| Checkpoint {
                    id: id.clone(),
                    name: name.clone(),
                    name_ar: spec.checkpoints.iter().find(|k| &k.id == id).and_then(|k| k.name_ar.clone()),
                    position: Some(Position { lat: (p.lat * 1e6).round() / 1e6, lon: (p.lon * 1e6).round() / 1e6 }),
                })
                .collect(),
            groups,
            max_transit_minutes: spec.max_transit_minutes,
        }),
    )
}

/// The fleet's vehicle ids in order (`PREFIX-001`, …) with their fleet entry.
pub fn vehicle_ids(sc: &Scenario) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    for (k, f) in sc.fleet.iter().map(|f| f.get_ref()).enumerate() {
        for i in 1..=f.count {
            out.push((format!("{}-{i:03}", f.prefix), k));
        }
    }
    out
}

/// `vehicle_registered` for every vehicle of the fleet.
pub fn vehicles(sc: &Scenario, t: DateTime<Utc>) -> Vec<Event> {
    vehicle_ids(sc)
        .into_iter()
        .map(|(id, k)| {
            let f = sc.fleet[k].get_ref();
            hq(format!("vehicle-{id}"), t, Body::VehicleRegistered(Vehicle { vehicle: id, kind: f.kind, seats: f.seats, stretchers: f.stretchers, operator: f.operator.clone() }))
        })
        .collect()
}

/// `truce_window_declared` for a window.
pub fn window(w: &WindowSpec, t: DateTime<Utc>) -> Event {
    hq(format!("window-{}", w.id), t, Body::TruceWindowDeclared(TruceWindow { window: w.id.clone(), corridors: w.corridors.clone(), start: w.start, end: w.end }))
}

/// `agreement` for agreement `a` (by position), at its own time.
pub fn agreement(sc: &Scenario, a: usize) -> Event {
    let a = sc.agreements[a].get_ref();
    hq(format!("agreement-{}", a.id), a.time, Body::Agreement(Agreement { agreement: a.id.clone(), sites: a.sites.clone(), terms: a.terms.clone() }))
}

/// Why a log cannot take a scenario's declarations.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    #[error("this log is operation {log:?}, but the file declares operation {file:?}: nothing was appended. Apply the file to its own data directory (a new --data-dir), or set `operation = {log:?}` in its [scenario] if it is the same operation")]
    OtherOperation { log: String, file: String },
    #[error("this log has {entries} entries but no operation_declared (it was not started by `corridor apply`): nothing was appended. Apply the file to a new data directory")]
    NoOperation { entries: usize },
    #[error("{what} {id:?} is already in the log and the file declares it differently ({how}): nothing was appended. The log cannot change it in place: {todo}")]
    Changed { what: &'static str, id: String, how: String, todo: String },
}

/// What the log already declares, by id (latest version for windows).
#[derive(Debug, Default)]
struct Declared {
    operation: Option<Operation>,
    groups: bool,
    sites: BTreeMap<String, Site>,
    corridors: BTreeMap<String, (Corridor, bool)>,
    windows: BTreeMap<String, (TruceWindow, usize)>,
    vehicles: BTreeMap<String, Vehicle>,
    agreements: BTreeMap<String, Agreement>,
}

/// The events that bring `log` up to the scenario's `declared` events:
/// those it lacks, and `truce_window_changed` for a window whose hours or
/// corridors changed (dated `now`). Applying the same declarations twice
/// gives nothing the second time.
pub fn changes(declared: &[Event], log: &[Event], now: DateTime<Utc>) -> Result<Vec<Event>, ApplyError> {
    let mut d = Declared::default();
    for e in log {
        match &e.body {
            Body::OperationDeclared(o) => d.operation = Some(o.clone()),
            Body::GroupsDefined(_) => d.groups = true,
            Body::SiteDeclared(s) => {
                d.sites.insert(s.site.clone(), s.clone());
            }
            Body::CorridorDeclared(c) => {
                d.corridors.insert(c.corridor.clone(), (c.clone(), false));
            }
            Body::Passage(p) => {
                if let Some(c) = d.corridors.get_mut(&p.corridor) {
                    c.1 = true;
                }
            }
            Body::TruceWindowDeclared(w) | Body::TruceWindowChanged(w) => {
                let n = d.windows.get(&w.window).map_or(0, |x| x.1) + 1;
                d.windows.insert(w.window.clone(), (w.clone(), n));
            }
            Body::VehicleRegistered(v) => {
                d.vehicles.insert(v.vehicle.clone(), v.clone());
            }
            Body::Agreement(a) => {
                d.agreements.insert(a.agreement.clone(), a.clone());
            }
            _ => {}
        }
    }
    match (&d.operation, declared.iter().find_map(|e| if let Body::OperationDeclared(o) = &e.body { Some(o) } else { None })) {
        (Some(l), Some(f)) if l.operation != f.operation => return Err(ApplyError::OtherOperation { log: l.operation.clone(), file: f.operation.clone() }),
        (None, Some(_)) if !log.is_empty() => return Err(ApplyError::NoOperation { entries: log.len() }),
        _ => {}
    }
    let changed = |what: &'static str, id: &str, how: String, todo: &str| Err(ApplyError::Changed { what, id: id.to_string(), how, todo: todo.to_string() });
    let mut out = Vec::new();
    for e in declared {
        match &e.body {
            Body::OperationDeclared(o) => match &d.operation {
                None => out.push(e.clone()),
                Some(l) if l == o => {}
                Some(l) => {
                    let how = if l.map.sha256 != o.map.sha256 {
                        format!("its map is {} (SHA-256 {}) in the log and {} (SHA-256 {}) in the file", l.map.name, l.map.sha256, o.map.name, o.map.sha256)
                    } else {
                        format!("time zone {} / {}, languages {} / {}, name {:?} / {:?} (log / file)", l.timezone, o.timezone, l.languages.join("+"), o.languages.join("+"), l.name, o.name)
                    };
                    return changed("operation", &o.operation, how, "an operation's zone, languages and map are fixed when it is declared; restore them in the file, or start a new operation in a new data directory");
                }
            },
            Body::GroupsDefined(_) => {
                if !d.groups {
                    out.push(e.clone());
                }
            }
            Body::SiteDeclared(s) => match d.sites.get(&s.site) {
                None => out.push(e.clone()),
                Some(l) if l == s => {}
                Some(_) => return changed("site", &s.site, "its name, kind or position".into(), "restore it in the file, or declare the new place as a new site with a new id"),
            },
            Body::CorridorDeclared(c) => match d.corridors.get(&c.corridor) {
                None => out.push(e.clone()),
                Some((l, _)) if l == c => {}
                Some((l, counted)) => {
                    let moved = l.checkpoints.iter().map(|k| (&k.id, k.position)).ne(c.checkpoints.iter().map(|k| (&k.id, k.position)));
                    let how = if moved { "its checkpoints moved or changed".to_string() } else { "its name, sites, groups or transit time".to_string() };
                    let todo = if *counted {
                        "passages were already counted at its checkpoints; declare the new route as a new corridor with a new id (and new checkpoint ids), and close this one (corridor_closed)"
                    } else {
                        "declare the new route as a new corridor with a new id (and new checkpoint ids)"
                    };
                    return changed("corridor", &c.corridor, how, todo);
                }
            },
            Body::TruceWindowDeclared(w) => match d.windows.get(&w.window) {
                None => out.push(e.clone()),
                Some((l, _)) if l == w => {}
                Some((_, n)) => out.push(Event::new(format!("window-{}-v{}", w.window, n + 1), now, "hq", Body::TruceWindowChanged(w.clone()))),
            },
            Body::VehicleRegistered(v) => match d.vehicles.get(&v.vehicle) {
                None => out.push(e.clone()),
                Some(l) if l == v => {}
                Some(_) => return changed("vehicle", &v.vehicle, "its kind, places or operator".into(), "restore it in the file, or register the changed vehicle under a new id (a new fleet prefix)"),
            },
            Body::Agreement(a) => match d.agreements.get(&a.agreement) {
                None => out.push(e.clone()),
                Some(l) if l == a => {}
                Some(_) => return changed("agreement", &a.agreement, "its sites or terms".into(), "an agreement made stays made; record a new agreement with a new id"),
            },
            _ => out.push(e.clone()),
        }
    }
    Ok(out)
}
