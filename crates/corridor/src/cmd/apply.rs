//! `corridor apply FILE.toml [--dry-run]`: the scenario file as the
//! operation's declaration. Appends what the file declares and the log
//! lacks — the operation (zone, languages, map), groups, sites, corridors
//! with their checkpoints placed on the route of the operation's map,
//! truce windows, vehicles, agreements — and `truce_window_changed` for a
//! window whose hours changed; refuses what the log cannot follow. Applying
//! the same file twice appends nothing. Simulated passages stay in `demo`.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use chrono::Utc;
use corridor_plan::declare;

use corridor::datadir::DataDir;

use crate::cli::ApplyArgs;
use crate::record::Recorder;

pub fn run(dir: &Path, a: &ApplyArgs) -> Result<()> {
    let (file, dry_run) = (a.file.as_path(), a.dry_run);
    let (sc, router) = corridor::demo::load(Some(file))?;
    let now = Utc::now();
    let bytes = corridor_geo::netfile::to_bytes(router.prepared());
    let map = declare::map_ref(&sc, router.prepared(), &bytes);
    let placed = declare::place(&sc, &router).with_context(|| format!("{}: cannot lay the corridors on the map {}", file.display(), map.name))?;
    let (declared, waiting) = declare::all(&sc, map.clone(), &placed, now);
    let mut d = if dry_run { DataDir::open(dir).ok() } else { Some(DataDir::open_or_init(dir, sc.scenario.origin.clone())?) };
    let log = match d.as_mut() {
        Some(d) => crate::read::read_events(d)?,
        None => Vec::new(),
    };
    let events = declare::changes(&declared, &log, now)?;
    for a in &waiting {
        println!("agreement {a:?} is dated in the future: it and its windows are declared by an `apply` once it is made");
    }
    let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
    for e in &events {
        *kinds.entry(e.body.kind()).or_default() += 1;
    }
    let summary = kinds.iter().map(|(k, n)| format!("{n} {k}")).collect::<Vec<_>>().join(", ");
    if dry_run {
        for e in &events {
            println!("{}", serde_json::to_string(e)?);
        }
        println!("dry run: would append {} event(s){}; nothing was written", events.len(), if summary.is_empty() { String::new() } else { format!(" ({summary})") });
        return Ok(());
    }
    let d = d.as_mut().expect("opened above");
    // The map first: the log must never name a map the directory lacks.
    // (A log that declares another map was refused by `changes`.)
    if std::fs::read(d.map_path()).map_or(true, |b| corridor::datadir::sha256_hex(&b) != map.sha256) {
        d.install_map(&bytes)?;
    }
    if events.is_empty() {
        println!("the log already declares everything in {}: nothing appended", file.display());
        return Ok(());
    }
    let mut recorder = Recorder::open(d, a.record.server.as_deref(), a.record.token.as_deref(), "declarations")?;
    let new = recorder.record(d, events).context("nothing was appended")?;
    println!("applied {}: {new} event(s) appended ({summary}){}", file.display(), recorder.via());
    println!("operation {:?} ({}), times in {}, map {} (SHA-256 {}) kept in {}", sc.operation_id(), sc.scenario.name, sc.scenario.timezone, map.name, &map.sha256[..12], d.map_path().display());
    Ok(())
}
