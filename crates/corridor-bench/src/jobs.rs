//! `corridor-bench jobs`: the million-scale jobs on a generated operation.
//!
//! Writes a valid operation of `--events` events (default 1,000,000) into a
//! fresh data directory through the ledger: groups, two sites, a corridor
//! with four checkpoints, `--vehicles` registered vehicles, then convoys of
//! `--convoy-size` vehicles one after another, each dispatched, every
//! vehicle counted at the four checkpoints, and arrived. Then runs the real
//! `corridor` binary on it as a user would and reports each command's wall
//! time and peak memory (the child's maximum resident set): `verify` and
//! `log export` (the baselines: a checked walk, a plain read), `report`
//! (Markdown) and `report --format hxl` (the evacuation table and the
//! districts table).

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use chrono::{DateTime, TimeZone, Utc};
use clap::Args;
use corridor::datadir::DataDir;
use corridor_model::{Body, Checkpoint, Convoy, ConvoyArrived, Corridor, CorridorRef, Event, GroupsDefined, Passage, Site, SiteKind, TruceWindow, Vehicle, VehicleKind};

#[derive(Args)]
pub struct JobsBenchArgs {
    /// Events in the generated operation.
    #[arg(long, default_value_t = 1_000_000)]
    pub events: u64,
    /// Vehicles registered (convoys take them in turn).
    #[arg(long, default_value_t = 10_000)]
    pub vehicles: usize,
    /// Vehicles per convoy (each counted at 4 checkpoints): 50 gives about 4,900 convoys in a million events.
    #[arg(long, default_value_t = 50)]
    pub convoy_size: usize,
    /// Times each command is run (the median is shown).
    #[arg(long, default_value_t = 3)]
    pub reps: usize,
    /// Where the temporary data directory goes (default: the system's temporary directory).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// The `corridor` program to measure (default: the one built beside
    /// this benchmark), e.g. an older build to compare with.
    #[arg(long)]
    pub corridor: Option<PathBuf>,
    /// Keep the operation in this data directory: generated there if it
    /// does not exist, reused as it is if it does.
    #[arg(long, conflicts_with = "dir")]
    pub data: Option<PathBuf>,
    /// Only generate the operation into this new data directory (the
    /// benchmark runs the generator as its own process, so that the
    /// generator's memory is not counted in the measured commands' peaks:
    /// a child inherits its parent's high-water mark).
    #[arg(long, hide = true)]
    pub generate_into: Option<PathBuf>,
}

const CHECKPOINTS: usize = 4;
const CORRIDOR: &str = "jobs-corridor";

/// The generated operation, in order: `f` is called with batches of events.
fn operation(a: &JobsBenchArgs, mut f: impl FnMut(Vec<Event>) -> Result<()>) -> Result<u64> {
    let t0: DateTime<Utc> = Utc.with_ymd_and_hms(2016, 12, 15, 6, 0, 0).single().context("start time")?;
    let n = std::cell::Cell::new(0u64);
    let mut batch = Vec::with_capacity(10_000);
    let push = |id: String, author: &str, body: Body, batch: &mut Vec<Event>| {
        batch.push(Event::new(id, t0 + chrono::Duration::milliseconds(n.get() as i64 * 100), author, body));
        n.set(n.get() + 1);
    };
    let groups = GroupsDefined::standard();
    let group_ids: Vec<String> = groups.groups.iter().map(|g| g.id.clone()).collect();
    push("jobs-groups".into(), "hq", Body::GroupsDefined(groups), &mut batch);
    for (site, kind) in [("jobs-from", SiteKind::Besieged), ("jobs-to", SiteKind::Destination)] {
        push(format!("{site}-declared"), "hq", Body::SiteDeclared(Site { site: site.into(), name: site.into(), name_ar: None, kind, position: None }), &mut batch);
    }
    let checkpoints: Vec<Checkpoint> = (0..CHECKPOINTS).map(|c| Checkpoint { id: format!("jobs-cp-{}", c + 1), name: format!("Checkpoint {}", c + 1), name_ar: None, position: None }).collect();
    push(
        "jobs-corridor-declared".into(),
        "hq",
        Body::CorridorDeclared(Corridor {
            corridor: CORRIDOR.into(),
            name: "Generated corridor".into(),
            name_ar: None,
            from: "jobs-from".into(),
            to: "jobs-to".into(),
            checkpoints: checkpoints.clone(),
            groups: group_ids,
            max_transit_minutes: 600,
        }),
        &mut batch,
    );
    // One truce window over the whole operation (an event every 100 ms; the
    // last convoy may run past `events`).
    let size = a.convoy_size.clamp(1, a.vehicles);
    let end = t0 + chrono::Duration::milliseconds((a.events + a.vehicles as u64 + (size * CHECKPOINTS) as u64 + 100) as i64 * 100);
    push("jobs-window".into(), "hq", Body::TruceWindowDeclared(TruceWindow { window: "jobs-window".into(), corridors: vec![CORRIDOR.into()], start: t0, end }), &mut batch);
    push("jobs-corridor-opened".into(), "hq", Body::CorridorOpened(CorridorRef { corridor: CORRIDOR.into(), reason: String::new() }), &mut batch);
    for v in 0..a.vehicles {
        push(format!("jobs-veh-{v}"), "hq", Body::VehicleRegistered(Vehicle { vehicle: format!("jobs-veh-{v}"), kind: VehicleKind::Bus, seats: 50, stretchers: 0, operator: "jobs".into() }), &mut batch);
    }
    let mut next_vehicle = 0usize;
    let mut c = 0usize;
    while n.get() < a.events {
        let convoy = format!("jobs-cv-{c}");
        let vehicles: Vec<String> = (0..size).map(|k| format!("jobs-veh-{}", (next_vehicle + k) % a.vehicles)).collect();
        next_vehicle = (next_vehicle + size) % a.vehicles;
        push(format!("{convoy}-dispatched"), "hq", Body::ConvoyDispatched(Convoy { convoy: convoy.clone(), corridor: CORRIDOR.into(), vehicles: vehicles.clone() }), &mut batch);
        for cp in &checkpoints {
            for (k, v) in vehicles.iter().enumerate() {
                let trip = c * size + k;
                let counts = [("women".to_string(), 10 + (trip % 7) as u32), ("children".to_string(), 12 + (trip % 5) as u32), ("men".to_string(), 6)].into_iter().collect();
                let p = Passage { vehicle: v.clone(), convoy: convoy.clone(), corridor: CORRIDOR.into(), checkpoint: cp.id.clone(), counts, wounded: (trip % 3) as u32 };
                push(format!("{convoy}-{v}-{}", cp.id), &cp.id, Body::Passage(p), &mut batch);
            }
        }
        push(format!("{convoy}-arrived"), "hq", Body::ConvoyArrived(ConvoyArrived { convoy, site: "jobs-to".into() }), &mut batch);
        if batch.len() >= 10_000 {
            f(std::mem::take(&mut batch))?;
        }
        c += 1;
    }
    if !batch.is_empty() {
        f(batch)?;
    }
    Ok(n.get())
}

/// One run of a child process: wall time and peak resident memory.
pub struct Measured {
    pub wall: Duration,
    pub peak_bytes: u64,
}

/// Runs `cmd` to its end and measures it (`wait4`'s resource usage: the
/// child's own maximum resident set). A failed command is an error with its
/// standard error.
pub fn measured(cmd: &mut Command) -> Result<Measured> {
    let started = Instant::now();
    let child = cmd.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::piped()).spawn().with_context(|| format!("cannot start {cmd:?}"))?;
    let pid = child.id();
    // Drain standard error on a thread so a chatty child cannot block.
    let mut stderr = child.stderr.context("no stderr")?;
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut s);
        s
    });
    let (code, signal, peak_bytes) = crate::child::wait4(pid, false)?.context("the child process vanished")?;
    let wall = started.elapsed();
    let err = reader.join().unwrap_or_default();
    if code != Some(0) {
        bail!("{cmd:?} failed (exit code {code:?}, signal {signal:?}):\n{err}");
    }
    Ok(Measured { wall, peak_bytes })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Writes the generated operation into a new data directory `dir`.
fn generate(a: &JobsBenchArgs, dir: &std::path::Path) -> Result<()> {
    let started = Instant::now();
    let mut d = DataDir::init(dir, Some("corridor.invalid/bench-jobs".into()), None, "corridor")?;
    let ledger = d.ledger()?;
    let n = operation(a, |batch| {
        ledger.append(batch)?;
        Ok(())
    })?;
    println!("  {n} events appended in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

pub fn run(a: &JobsBenchArgs) -> Result<()> {
    if let Some(dir) = &a.generate_into {
        return generate(a, dir);
    }
    let exe = match &a.corridor {
        Some(p) => p.clone(),
        None => crate::child::corridor_binary()?,
    };
    let tmp = match &a.dir {
        Some(d) => tempfile::tempdir_in(d)?,
        None => tempfile::tempdir()?,
    };
    let dir = a.data.clone().unwrap_or_else(|| tmp.path().join("data"));
    if a.data.is_some() && dir.exists() {
        println!("reusing the operation in {}", dir.display());
    } else {
        println!("generating an operation of {} events ({} vehicles, convoys of {}, {CHECKPOINTS} checkpoints) in {}", a.events, a.vehicles, a.convoy_size, dir.display());
        let me = std::env::current_exe().context("cannot find the corridor-bench binary")?;
        let status = Command::new(me)
            .args(["jobs", "--events", &a.events.to_string(), "--vehicles", &a.vehicles.to_string(), "--convoy-size", &a.convoy_size.to_string(), "--generate-into"])
            .arg(&dir)
            .status()
            .context("cannot start the generator")?;
        if !status.success() {
            bail!("generating the operation failed ({status})");
        }
    }
    let out = tmp.path().join("out");
    let data = dir.to_str().context("the temporary directory's path is not UTF-8")?;
    let out_s = out.to_str().context("the temporary directory's path is not UTF-8")?;
    let jobs: [(&str, Vec<&str>); 5] = [
        ("verify (baseline: the checked walk)", vec!["verify", "--data-dir", data]),
        ("log export (baseline: a plain read)", vec!["log", "--data-dir", data, "export", "--out", out_s]),
        ("report (Markdown)", vec!["report", "--data-dir", data, "--out", out_s]),
        ("report --format hxl --table evacuation", vec!["report", "--data-dir", data, "--format", "hxl", "--table", "evacuation", "--out", out_s]),
        ("report --format hxl (districts)", vec!["report", "--data-dir", data, "--format", "hxl", "--out", out_s]),
    ];
    println!("{:<42} {:>10} {:>12}   (median of {} runs)", "command", "wall", "peak memory", a.reps);
    for (name, args) in jobs {
        let mut walls = Vec::new();
        let mut peaks = Vec::new();
        for _ in 0..a.reps.max(1) {
            let m = measured(Command::new(&exe).args(&args))?;
            walls.push(m.wall.as_secs_f64());
            peaks.push(m.peak_bytes as f64);
        }
        println!("{name:<42} {:>8.2} s {:>9.0} MB", median(walls), median(peaks) / 1e6);
    }
    Ok(())
}

/// The generated operation's events, for tests of the generator.
#[cfg(test)]
fn all(a: &JobsBenchArgs) -> Vec<Event> {
    let mut out = Vec::new();
    operation(a, |b| {
        out.extend(b);
        Ok(())
    })
    .expect("generates");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The generated operation is valid: the views find nothing to flag,
    /// every convoy arrives and every vehicle's counts reconcile.
    #[test]
    fn the_generated_operation_is_valid() {
        let a = JobsBenchArgs { events: 5_000, vehicles: 120, convoy_size: 50, reps: 1, dir: None, corridor: None, data: None, generate_into: None };
        let events = all(&a);
        assert!(events.len() as u64 >= a.events);
        let mut views = corridor_views::Views::new();
        for (i, e) in events.iter().enumerate() {
            views.apply(i as u64, e);
        }
        let f = views.figures();
        let r = &f.reconciliation;
        assert!(r.discrepancies.is_empty() && r.flags.is_empty() && r.overdue.is_empty(), "{:?} {:?}", r.discrepancies.first(), r.flags.first());
        assert_eq!(r.trips, r.reconciled);
        assert!(r.trips > 1_000);
        let convoys: u64 = f.convoys.values().sum();
        assert_eq!(f.convoys.get(&corridor_views::ConvoyStatus::Arrived), Some(&convoys));
    }
}
