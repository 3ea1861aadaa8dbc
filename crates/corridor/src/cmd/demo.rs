//! `corridor plan` and `corridor demo`: the reference case planned, and simulated into the log.

use std::io::IsTerminal;
use std::path::Path;

use anyhow::{Context, Result};
use corridor::datadir::DataDir;
use corridor::{demo, print};
use corridor_ledger::Appended;
use corridor_views::Views;
use indicatif::{ProgressBar, ProgressStyle};

use crate::read::{checked_walk, replayed};

/// `corridor plan`: the plan at the scenario's start and its convoys.
pub fn plan(scenario_file: Option<&Path>) -> Result<()> {
    let (sc, router) = demo::load(scenario_file)?;
    let (report, convoys) = corridor_plan::sim::plan_only(&sc, &router)?;
    let tz: chrono_tz::Tz = sc.scenario.timezone.parse().context("the scenario's time zone")?;
    let local = |t: chrono::DateTime<chrono::Utc>| t.with_timezone(&tz).format("%d %b %H:%M").to_string();
    println!("{} — plan at the start, with the truce windows known then (times {})", sc.scenario.name, sc.scenario.timezone);
    println!("{:<4} {:<22} {:>13} {:>13} {:>13} {:>8} {:>8} {:>8}", "#", "corridor", "leaves depot", "first in", "last out", "vehicles", "people", "wounded");
    for (i, c) in convoys.iter().enumerate() {
        println!(
            "{:<4} {:<22} {:>13} {:>13} {:>13} {:>8} {:>8} {:>8}",
            i + 1,
            c.corridor,
            local(c.leaves),
            local(c.first_in),
            local(c.last_out),
            c.vehicles,
            print::thousands(c.people),
            c.wounded
        );
    }
    println!("{}", print::plan_line(&report, &local));
    Ok(())
}

/// `corridor demo`: the scenario simulated into the log, its figures read back from it.
pub fn demo(dir: &Path, scenario_file: Option<&Path>) -> Result<()> {
    let started = std::time::Instant::now();
    let (sc, router) = demo::load(scenario_file)?;
    let outcome = corridor_plan::sim::simulate(&sc, &router)?;
    let meta = &router.network().meta;
    let origin = sc.scenario.origin.clone().unwrap_or_else(|| "corridor.invalid/scenario".into());
    let mut d = DataDir::open_or_init(dir, Some(origin))?;
    let ledger = d.ledger()?;
    // The map the operation declares, kept beside its log.
    d.install_map(&corridor_geo::netfile::to_bytes(router.prepared()))?;
    let total = outcome.events.len() as u64;
    let bar = if std::io::stderr().is_terminal() { ProgressBar::new(total) } else { ProgressBar::hidden() };
    bar.set_style(ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} events").expect("valid template"));
    bar.set_message("appending the simulated operation");
    let mut new = 0;
    // In log order, in batches, through the same append a live operation uses.
    for chunk in outcome.events.chunks(500) {
        let outcomes = ledger.append(chunk.to_vec())?;
        new += outcomes.iter().filter(|o| matches!(o, Appended::New(_))).count();
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    println!("{}", sc.scenario.name);
    println!(
        "map: {}{}; {}",
        meta.source,
        if meta.approximate { " (APPROXIMATE: a coarse derived network, not surveyed roads)" } else { "" },
        meta.attribution
    );
    println!("{total} events simulated, {new} newly appended to {}", dir.display());
    println!();
    let tz: chrono_tz::Tz = sc.scenario.timezone.parse().context("the scenario's time zone")?;
    let local = |t: chrono::DateTime<chrono::Utc>| t.with_timezone(&tz).format("%d %b %H:%M %Z").to_string();
    println!("plans (the planner ran at the start and after every disruption; times in {}):", sc.scenario.timezone);
    for p in &outcome.plans {
        println!("  {}", print::plan_line(p, &local));
    }
    println!("everyone who had to leave was carried out");
    println!();
    // Every figure below is recomputed from the ledger, not from the simulator.
    // Read back in one checked walk, as `verify` reads it.
    let mut views = Views::new();
    let checked = checked_walk(&mut d, None, &mut |i, e| views.apply(i, e))?;
    let views = replayed(&d, checked.checkpoint.size, &checked.checkpoint.root, views, &|_| true)?;
    let figures = views.figures();
    print!("{}", print::figures(&figures));
    println!();
    println!("signed checkpoint (C2SP tlog-checkpoint, verifier key {}):", ledger.verifier_key());
    print!("{}", ledger.checkpoint().note);
    println!();
    println!("check it: corridor verify --data-dir {}", dir.display());
    println!(
        "notices as residents got them on the first morning: corridor notice --data-dir {} --format sms --at {}",
        dir.display(),
        (sc.scenario.start + chrono::Duration::minutes(30)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    println!("watch it live: corridor demo --serve --data-dir corridor-live (or corridor serve --data-dir {})", dir.display());
    println!("done in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

