//! Figures as text for a terminal.

use std::fmt::Write;

use corridor_views::Figures;

/// `31,284` style thousands separators.
pub use corridor_report::thousands;

pub use corridor_report::tally_line;

pub fn figures(f: &Figures) -> String {
    let mut s = String::new();
    let w = &mut s;
    let _ = writeln!(w, "events in the log: {}", thousands(f.events));
    let _ = writeln!(w, "withdrawn (counted out at a corridor exit): {}", tally_line(&f.withdrawn, &f.groups));
    let _ = writeln!(w, "counted in at a corridor entry:           {}", tally_line(&f.entered, &f.groups));
    for (c, t) in &f.by_corridor {
        let _ = writeln!(w, "  corridor {c}: {}", tally_line(t, &f.groups));
    }
    if let Some(o) = &f.operation {
        let _ = writeln!(w, "operation: {} ({}), times and days in {}", o.name, o.operation, f.timezone);
    }
    let _ = writeln!(w, "by day ({}):", f.timezone);
    for (d, t) in &f.by_day {
        let _ = writeln!(w, "  {d}: {:>7}  ({} wounded)", thousands(t.people), t.wounded);
    }
    let _ = writeln!(w, "vehicles:");
    for (kind, states) in &f.vehicles {
        let list: Vec<String> = states.iter().map(|(s, n)| format!("{s:?} {n}").to_lowercase()).collect();
        let _ = writeln!(w, "  {kind:?}: {}", list.join(", ").to_lowercase());
    }
    let convoys: Vec<String> = f.convoys.iter().map(|(s, n)| format!("{s:?} {n}").to_lowercase()).collect();
    let _ = writeln!(w, "convoys: {}", convoys.join(", "));
    let _ = writeln!(w, "incidents:");
    for i in &f.incidents {
        let _ = writeln!(
            w,
            "  {} {:?}{}: {}",
            i.time.format("%Y-%m-%d %H:%MZ"),
            i.kind,
            if i.vehicles_lost > 0 { format!(" ({} vehicles lost, {} killed)", i.vehicles_lost, i.killed) } else { String::new() },
            i.description
        );
    }
    let r = &f.reconciliation;
    let _ = writeln!(
        w,
        "reconciliation: {} trips, {} reconciled entry = exit, {} in transit, {} discrepancies, {} overdue, {} flagged{}",
        r.trips,
        r.reconciled,
        r.in_transit,
        r.discrepancies.len(),
        r.overdue.len(),
        r.flags.len(),
        if r.all_reconciled() { " — all reconciled" } else { "" }
    );
    for d in &r.discrepancies {
        let _ = writeln!(w, "  DISCREPANCY {} / {} at {}: {}", d.convoy, d.vehicle, d.checkpoint.as_deref().unwrap_or("entry"), d.what);
    }
    for x in &r.flags {
        let _ = writeln!(w, "  FLAGGED {} / {} at {} ({}): {}", x.convoy, x.vehicle, x.checkpoint, x.time.format("%Y-%m-%d %H:%MZ"), x.what);
    }
    for o in &r.overdue {
        let _ = writeln!(
            w,
            "  {} {} / {}: {} aboard, last counted at {} at {}",
            if o.lost { "LOST" } else { "OVERDUE" },
            o.convoy,
            o.vehicle,
            o.aboard,
            o.last_checkpoint,
            o.since.format("%Y-%m-%d %H:%MZ")
        );
    }
    if !f.corrections.is_empty() {
        let _ = writeln!(w, "corrections ({}):", f.corrections.len());
        for c in &f.corrections {
            let _ = writeln!(w, "  {} by {} at {}: {} — {} → {}", c.corrects, c.author, c.time.format("%Y-%m-%d %H:%MZ"), c.reason, c.before, c.after);
        }
    }
    let (rec, a) = (&f.recovery, &f.aftermath);
    if rec.aid_tonnes > 0.0 || !a.areas.is_empty() || !a.returns.is_empty() {
        let _ = writeln!(w, "after the evacuation (`corridor report` for districts by name):");
        let _ = writeln!(w, "  aid: {:.1} t to {} families; {} airdrops ({:.1} t)", rec.aid_tonnes, thousands(rec.aid_families), rec.airdrops, rec.airdrop_tonnes);
        let _ = writeln!(
            w,
            "  mine clearance: {} ha, {} km of road, {} buildings in {} hazard areas",
            thousands(rec.cleared_hectares.round() as u64),
            thousands(rec.cleared_road_km.round() as u64),
            thousands(rec.cleared_buildings),
            a.areas.len()
        );
        let flagged = a.returns.iter().filter(|r| !r.uncleared.is_empty()).count();
        let _ = writeln!(w, "  returns: {} families ({} people); {flagged} to a district not yet cleared", thousands(rec.returned_families), thousands(rec.returned_people));
        for c in &a.claims {
            let _ = writeln!(w, "  claim ({}, {}): {:?} = {} against the ledger's {} ({:+})", c.source, c.date, c.text, c.figure, c.ledger, c.difference);
        }
    }
    s
}

/// One planning: when and why, its completion against its lower bound, and
/// what does not fit.
pub fn plan_line(p: &corridor_plan::sim::PlanReport, local: &dyn Fn(chrono::DateTime<chrono::Utc>) -> String) -> String {
    let ratio = p.ratio().map_or("—".to_string(), |r| format!("{r:.3}"));
    let mut s = format!(
        "{} {}: {} vehicle loads; completion {} against a lower bound of {} ({}): ratio {ratio}; planned in {:.0} ms",
        local(p.at),
        p.why,
        thousands(p.loads),
        p.completion.map_or("—".into(), local),
        p.bound.map_or("— (the known windows cannot carry everyone)".into(), local),
        p.bounds.binding(),
        p.took.as_secs_f64() * 1000.0
    );
    if let Some(short) = &p.short {
        s.push_str("\n    ");
        s.push_str(short);
    }
    s
}
