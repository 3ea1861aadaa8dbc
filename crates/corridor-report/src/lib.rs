//! Situation reports rendered from the views' [`Figures`]: a Markdown
//! sitrep (evacuation by corridor, day and group, wounded, incidents,
//! reconciliation; aid, airdrops, mine clearance and returns by district, in
//! English and Arabic; claims from other sources beside the ledger's
//! figures) and an HXL CSV of the districts' figures (Humanitarian Exchange
//! Language hashtags, as the HXL tools read them).
//!
//! Nothing here computes a figure: every number comes from the fold over
//! the log, so a report says exactly what the log says.

use std::fmt::Write;

use corridor_views::{Figures, Tally};

/// `31,284`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn tally(t: &Tally, groups: &[String]) -> String {
    let parts: Vec<String> = groups.iter().filter_map(|g| t.by_group.get(g).filter(|&&n| n > 0).map(|&n| format!("{g} {}", thousands(n)))).collect();
    format!("{} ({}), of whom {} wounded", thousands(t.people), parts.join(", "), thousands(t.wounded))
}

/// The English and Arabic names of a district id.
fn names(f: &Figures, id: &str) -> (String, String) {
    f.aftermath.districts.get(id).map_or((id.to_string(), String::new()), |d| (d.name.clone(), d.name_ar.clone()))
}

/// Escapes a Markdown table cell.
fn cell(s: &str) -> String {
    s.replace('|', "\\|")
}

/// The Markdown situation report. `title` heads it, `provenance` says
/// which log and checkpoint it was folded from.
pub fn markdown(f: &Figures, title: &str, provenance: &str) -> String {
    let mut s = String::new();
    let w = &mut s;
    let _ = writeln!(w, "# {title}\n");
    let _ = writeln!(w, "{provenance}\n");
    let _ = writeln!(w, "Every figure below is folded from the log's {} events; `corridor verify` recomputes them.\n", thousands(f.events));
    let _ = writeln!(w, "## Evacuation\n");
    let _ = writeln!(w, "- Withdrawn (counted out at a corridor's exit): {}", tally(&f.withdrawn, &f.groups));
    let _ = writeln!(w, "- Counted in at a corridor's entry: {}", tally(&f.entered, &f.groups));
    for (c, t) in &f.by_corridor {
        let _ = writeln!(w, "- Corridor `{c}`: {}", tally(t, &f.groups));
    }
    let _ = writeln!(w, "\n| day (UTC) | people | wounded |\n|---|---:|---:|");
    for (d, t) in &f.by_day {
        let _ = writeln!(w, "| {d} | {} | {} |", thousands(t.people), thousands(t.wounded));
    }
    let lost: usize = f.incidents.iter().map(|i| i.vehicles_lost).sum();
    let killed: u32 = f.incidents.iter().map(|i| i.killed).sum();
    let _ = writeln!(w, "\n### Incidents ({lost} vehicles lost, {killed} killed)\n");
    for i in &f.incidents {
        let _ = writeln!(w, "- {} {:?}: {}", i.time.format("%Y-%m-%d %H:%MZ"), i.kind, i.description);
    }
    let r = &f.reconciliation;
    let _ = writeln!(
        w,
        "\n### Reconciliation\n\n{} trips: {} reconciled (entry = exit), {} in transit, {} discrepancies, {} overdue or lost{}.",
        r.trips,
        r.reconciled,
        r.in_transit,
        r.discrepancies.len(),
        r.overdue.len(),
        if r.all_reconciled() { " — everyone who entered came out" } else { "" }
    );
    for d in &r.discrepancies {
        let _ = writeln!(w, "- DISCREPANCY {} / {}: {}", d.convoy, d.vehicle, d.what);
    }
    for o in &r.overdue {
        let _ = writeln!(w, "- {} {} / {}: {} aboard, last counted at {} at {}", if o.lost { "LOST" } else { "OVERDUE" }, o.convoy, o.vehicle, o.aboard, o.last_checkpoint, o.since.format("%Y-%m-%d %H:%MZ"));
    }
    let a = &f.aftermath;
    let rec = &f.recovery;
    let _ = writeln!(w, "\n## Aid\n\n{:.1} t to {} families ({} people) in {} deliveries; {} airdrops ({:.1} t).\n", rec.aid_tonnes, thousands(rec.aid_families), thousands(rec.aid_people), a.aid_by_district.values().map(|t| t.deliveries).sum::<u64>(), rec.airdrops, rec.airdrop_tonnes);
    let _ = writeln!(w, "| district | الحي | tonnes | families | people |\n|---|---|---:|---:|---:|");
    for (id, t) in &a.aid_by_district {
        let (en, ar) = names(f, id);
        let _ = writeln!(w, "| {} | {} | {:.1} | {} | {} |", cell(&en), cell(&ar), t.tonnes, thousands(t.families), thousands(t.people));
    }
    let _ = writeln!(w, "\n| commodity | tonnes | families |\n|---|---:|---:|");
    for (c, t) in &a.aid_by_commodity {
        let _ = writeln!(w, "| {} | {:.1} | {} |", cell(c), t.tonnes, thousands(t.families));
    }
    let area: f64 = a.areas.iter().map(|x| x.hectares).sum();
    let _ = writeln!(
        w,
        "\n## Mine clearance\n\n{} ha cleared of {} ha in {} hazard areas ({} released as cleared), {} km of road, {} buildings.\n",
        thousands(rec.cleared_hectares.round() as u64),
        thousands(area.round() as u64),
        a.areas.len(),
        a.areas.iter().filter(|x| !x.status.blocks()).count(),
        thousands(rec.cleared_road_km.round() as u64),
        thousands(rec.cleared_buildings)
    );
    let _ = writeln!(w, "| district | الحي | area (ha) | cleared (ha) | share | road km | buildings | status |\n|---|---|---:|---:|---:|---:|---:|---|");
    for x in &a.areas {
        let (en, ar) = names(f, &x.district);
        let share = if x.hectares > 0.0 { 100.0 * x.cleared_hectares / x.hectares } else { 0.0 };
        let _ = writeln!(w, "| {} | {} | {:.1} | {:.1} | {share:.0}% | {:.1} | {} | {:?} |", cell(&en), cell(&ar), x.hectares, x.cleared_hectares, x.cleared_road_km, x.cleared_buildings, x.status);
    }
    let flagged = a.returns.iter().filter(|r| !r.uncleared.is_empty()).count();
    let _ = writeln!(w, "\n## Returns\n\n{} families ({} people) returned; {flagged} returns went to a district with hazard areas not yet cleared.\n", thousands(rec.returned_families), thousands(rec.returned_people));
    let _ = writeln!(w, "| date | district | الحي | families | people | flag |\n|---|---|---|---:|---:|---|");
    for r in &a.returns {
        let (en, ar) = names(f, &r.district);
        let flag = if r.uncleared.is_empty() { String::new() } else { format!("UNCLEARED: {}", r.uncleared.join(", ")) };
        let _ = writeln!(w, "| {} | {} | {} | {} | {} | {} |", r.time.format("%Y-%m-%d"), cell(&en), cell(&ar), r.families, r.people, flag);
    }
    if !a.claims.is_empty() {
        let _ = writeln!(w, "\n## Claims from other sources\n\n| claim | source | date | measure | claimed | ledger | difference |\n|---|---|---|---|---:|---:|---:|");
        for c in &a.claims {
            let _ = writeln!(w, "| {} | {} | {} | `{}` | {} | {} | {:+} |", cell(&c.text), cell(&c.source), c.date, c.measure, fmt_num(c.figure), fmt_num(c.ledger), c.difference);
        }
    }
    s
}

fn fmt_num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        thousands(x as u64)
    } else {
        format!("{x:.1}")
    }
}

/// Quotes a CSV field when it needs it (RFC 4180).
fn csv(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The districts' figures as HXL CSV: a header row, the HXL hashtag row,
/// then one row per district that has aid, clearance or returns.
pub fn hxl_districts(f: &Figures) -> String {
    let a = &f.aftermath;
    let mut ids: std::collections::BTreeSet<&String> = a.aid_by_district.keys().collect();
    ids.extend(a.cleared_by_district.keys());
    ids.extend(a.returns.iter().map(|r| &r.district));
    ids.extend(a.areas.iter().map(|x| &x.district));
    let mut s = String::new();
    s.push_str("District code,District,District (Arabic),Aid (tonnes),Families reached,People reached,Hazard area (ha),Cleared (ha),Road cleared (km),Buildings cleared,Returned families,Returned people,Returns to uncleared areas\n");
    s.push_str("#adm2+code,#adm2+name,#adm2+name+i_ar,#indicator+aid+tonnes,#reached+households,#reached+ind,#targeted+area_ha,#indicator+cleared+area_ha,#indicator+cleared+road_km,#indicator+cleared+buildings,#affected+returnees+households,#affected+returnees+ind,#indicator+flagged+returns\n");
    for id in ids {
        let (en, ar) = names(f, id);
        let aid = a.aid_by_district.get(id).cloned().unwrap_or_default();
        let cleared = a.cleared_by_district.get(id).cloned().unwrap_or_default();
        let area: f64 = a.areas.iter().filter(|x| &x.district == id).map(|x| x.hectares).sum();
        let rets: Vec<_> = a.returns.iter().filter(|r| &r.district == id).collect();
        let _ = writeln!(
            s,
            "{},{},{},{:.2},{},{},{:.2},{:.2},{:.2},{},{},{},{}",
            csv(id),
            csv(&en),
            csv(&ar),
            aid.tonnes,
            aid.families,
            aid.people,
            area,
            cleared.hectares,
            cleared.road_km,
            cleared.buildings,
            rets.iter().map(|r| u64::from(r.families)).sum::<u64>(),
            rets.iter().map(|r| u64::from(r.people)).sum::<u64>(),
            rets.iter().filter(|r| !r.uncleared.is_empty()).count()
        );
    }
    s
}

/// People withdrawn by day and corridor-independent group, as HXL CSV.
pub fn hxl_evacuation(f: &Figures) -> String {
    let mut s = String::new();
    let groups = &f.groups;
    let _ = write!(s, "Date,People");
    for g in groups {
        let _ = write!(s, ",{}", csv(g));
    }
    s.push_str(",Wounded\n#date,#affected+ind+total");
    for g in groups {
        let _ = write!(s, ",#affected+ind+{}", g.to_lowercase().replace(|c: char| !c.is_ascii_alphanumeric(), "_"));
    }
    s.push_str(",#affected+ind+wounded\n");
    for (d, t) in &f.by_day {
        let _ = write!(s, "{d},{}", t.people);
        for g in groups {
            let _ = write!(s, ",{}", t.by_group.get(g).copied().unwrap_or(0));
        }
        let _ = writeln!(s, ",{}", t.wounded);
    }
    s
}
