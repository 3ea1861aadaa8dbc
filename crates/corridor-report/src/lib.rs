//! Situation reports rendered from the views' [`Figures`]: a Markdown
//! sitrep (evacuation by corridor, day and group, wounded, incidents,
//! reconciliation; aid, airdrops, mine clearance and returns by district, in
//! English and Arabic; claims from other sources beside the ledger's
//! figures) and an HXL CSV of the districts' figures (Humanitarian Exchange
//! Language hashtags, as the HXL tools read them).
//!
//! The same blocks ([`document`]) render as Markdown, as one HTML page with
//! inline SVG charts ([`html`], [`charts`]), and as PDF printed from that
//! page by headless Chromium ([`pdf`]).
//!
//! Nothing here computes a figure: every number comes from the fold over
//! the log, so a report says exactly what the log says.
//!
//! Times (incidents, overdue vehicles) are written in the operation's time
//! zone with their offset (`2016-12-16 14:30+02:00`); the tables by day
//! are by UTC day, as the views count them, and say so.

use std::fmt::Write;

pub mod charts;
pub mod html;
pub mod pdf;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use corridor_views::{Figures, Tally};

/// `t` in `zone`, minutes and offset: `2016-12-16 14:30+02:00`.
pub fn local_time(t: DateTime<Utc>, zone: Tz) -> String {
    t.with_timezone(&zone).format("%Y-%m-%d %H:%M%:z").to_string()
}

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

/// A hazard area's status, in the words of land release.
fn land_release(s: corridor_model::HazardStatus) -> &'static str {
    use corridor_model::HazardStatus::*;
    match s {
        Suspected => "suspected hazard",
        Confirmed => "confirmed hazard",
        InClearance => "in clearance",
        Cleared => "released (cleared)",
        Active => "active",
        Lifted => "lifted",
    }
}

/// "31,284 = armed 14,891 + women 7,606 + children 8,787, of whom 701 wounded"
pub fn tally_line(t: &Tally, groups: &[String]) -> String {
    let parts: Vec<String> = groups.iter().filter_map(|g| t.by_group.get(g).filter(|&&n| n > 0).map(|&n| format!("{g} {}", thousands(n)))).collect();
    if parts.is_empty() {
        return format!("{} people, of whom {} wounded", thousands(t.people), thousands(t.wounded));
    }
    format!("{} = {}, of whom {} wounded", thousands(t.people), parts.join(" + "), thousands(t.wounded))
}

/// The English and Arabic names of a district id.
fn names(f: &Figures, id: &str) -> (String, String) {
    f.aftermath.districts.get(id).map_or((id.to_string(), String::new()), |d| (d.name.clone(), d.name_ar.clone()))
}

/// A piece of a report, rendered as Markdown or HTML.
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    Heading(u8, String),
    Para(String),
    List(Vec<String>),
    /// Header cells, which columns are numbers (right-aligned), rows.
    Table(Vec<String>, Vec<bool>, Vec<Vec<String>>),
    /// An SVG chart and its title.
    Chart(String, String),
}

fn table(head: &[&str], numeric: &[bool], rows: Vec<Vec<String>>) -> Block {
    Block::Table(head.iter().map(|h| h.to_string()).collect(), numeric.to_vec(), rows)
}

/// The situation report as blocks. `title` heads it, `provenance` says
/// which log and checkpoint it was folded from; times are given in `zone`
/// (the operation's).
pub fn document(f: &Figures, title: &str, provenance: &str, zone: Tz) -> Vec<Block> {
    use Block::*;
    let mut d = vec![
        Heading(1, title.to_string()),
        Para(provenance.to_string()),
        Para(format!("Every figure below is folded from the log's {} events; `corridor verify` recomputes them.", thousands(f.events))),
        Heading(2, "Evacuation".into()),
    ];
    let mut items = vec![
        format!("Withdrawn (counted out at a corridor's exit): {}", tally_line(&f.withdrawn, &f.groups)),
        format!("Counted in at a corridor's entry: {}", tally_line(&f.entered, &f.groups)),
    ];
    items.extend(f.by_corridor.iter().map(|(c, t)| format!("Corridor `{c}`: {}", tally_line(t, &f.groups))));
    d.push(List(items));
    let day = format!("day ({})", f.timezone);
    d.push(table(&[&day, "people", "wounded"], &[false, true, true], f.by_day.iter().map(|(day, t)| vec![day.to_string(), thousands(t.people), thousands(t.wounded)]).collect()));
    d.extend(charts::daily_throughput(f).map(|svg| Chart("People withdrawn per day".into(), svg)));
    d.extend(charts::cumulative_evacuees(f).map(|svg| Chart("Cumulative evacuees".into(), svg)));
    let lost: usize = f.incidents.iter().map(|i| i.vehicles_lost).sum();
    let killed: u64 = f.incidents.iter().map(|i| u64::from(i.killed)).sum();
    d.push(Heading(3, format!("Incidents ({lost} vehicles lost, {killed} killed)")));
    d.push(List(f.incidents.iter().map(|i| format!("{} {:?}: {}", local_time(i.time, zone), i.kind, i.description)).collect()));
    let r = &f.reconciliation;
    d.push(Heading(3, "Reconciliation".into()));
    d.push(Para(format!(
        "{} trips: {} reconciled (entry = exit), {} in transit, {} discrepancies, {} overdue or lost{}.",
        r.trips,
        r.reconciled,
        r.in_transit,
        r.discrepancies.len(),
        r.overdue.len(),
        if r.all_reconciled() { " — everyone who entered came out" } else { "" }
    )));
    let mut problems: Vec<String> = r.discrepancies.iter().map(|x| format!("DISCREPANCY {} / {}: {}", x.convoy, x.vehicle, x.what)).collect();
    problems.extend(r.overdue.iter().map(|o| {
        format!("{} {} / {}: {} aboard, last counted at {} at {}", if o.lost { "LOST" } else { "OVERDUE" }, o.convoy, o.vehicle, o.aboard, o.last_checkpoint, local_time(o.since, zone))
    }));
    if !problems.is_empty() {
        d.push(List(problems));
    }
    if !r.flags.is_empty() {
        d.push(Heading(3, format!("Counted where they should not have been ({})", r.flags.len())));
        d.push(Para("Kept as facts (people were counted), and flagged: a vehicle counted in outside every truce window of its corridor, or while the corridor was closed or halted.".into()));
        d.push(List(r.flags.iter().map(|x| format!("FLAGGED {} / {} at {} ({}, entry {}): {}", x.convoy, x.vehicle, x.checkpoint, x.time.format("%Y-%m-%d %H:%MZ"), x.index, x.what)).collect()));
    }
    if !f.corrections.is_empty() {
        d.push(Heading(3, format!("Corrections ({})", f.corrections.len())));
        d.push(Para("Entries are never edited: a correction is a new entry naming the one it corrects. The figures above use the corrected facts.".into()));
        d.push(table(
            &["entry", "corrected by", "when", "why", "before", "after"],
            &[false, false, false, false, false, false],
            f.corrections.iter().map(|c| vec![c.corrects.clone(), c.author.clone(), c.time.format("%Y-%m-%d %H:%MZ").to_string(), c.reason.clone(), c.before.clone(), c.after.clone()]).collect(),
        ));
    }
    let a = &f.aftermath;
    let rec = &f.recovery;
    d.push(Heading(2, "Aid".into()));
    d.push(Para(format!(
        "{:.1} t to {} families ({} people) in {} deliveries; {} airdrops ({:.1} t).",
        rec.aid_tonnes,
        thousands(rec.aid_families),
        thousands(rec.aid_people),
        a.aid_by_district.values().map(|t| t.deliveries).sum::<u64>(),
        rec.airdrops,
        rec.airdrop_tonnes
    )));
    d.push(table(
        &["district", "الحي", "tonnes", "families", "people"],
        &[false, false, true, true, true],
        a.aid_by_district
            .iter()
            .map(|(id, t)| {
                let (en, ar) = names(f, id);
                vec![en, ar, format!("{:.1}", t.tonnes), thousands(t.families), thousands(t.people)]
            })
            .collect(),
    ));
    d.push(table(&[&day, "tonnes", "families", "people"], &[false, true, true, true], a.aid_by_day.iter().map(|(day, t)| vec![day.to_string(), format!("{:.1}", t.tonnes), thousands(t.families), thousands(t.people)]).collect()));
    d.push(table(&["commodity", "tonnes", "families"], &[false, true, true], a.aid_by_commodity.iter().map(|(c, t)| vec![c.clone(), format!("{:.1}", t.tonnes), thousands(t.families)]).collect()));
    let area: f64 = a.areas.iter().map(|x| x.hectares).sum();
    d.push(Heading(2, "Mine clearance".into()));
    d.push(Para(format!(
        "{} ha cleared of {} ha in {} hazard areas ({} released as cleared), {} km of road, {} buildings.",
        thousands(rec.cleared_hectares.round() as u64),
        thousands(area.round() as u64),
        a.areas.len(),
        a.areas.iter().filter(|x| !x.status.blocks()).count(),
        thousands(rec.cleared_road_km.round() as u64),
        thousands(rec.cleared_buildings)
    )));
    d.extend(charts::clearance_progress(f).map(|svg| Chart("Mine clearance progress".into(), svg)));
    let damaged = |district: &str| a.damage_by_district.get(district).map_or(String::new(), |c| thousands(c.iter().sum()));
    d.push(table(
        &["district", "الحي", "area (ha)", "technical clearance (ha)", "share", "road km", "buildings", "damaged (assessed)", "land release"],
        &[false, false, true, true, true, true, true, true, false],
        a.areas
            .iter()
            .map(|x| {
                let (en, ar) = names(f, &x.district);
                let share = if x.hectares > 0.0 { 100.0 * x.cleared_hectares / x.hectares } else { 0.0 };
                vec![
                    en,
                    ar,
                    format!("{:.1}", x.hectares),
                    format!("{:.1}", x.cleared_hectares),
                    format!("{share:.0}%"),
                    format!("{:.1}", x.cleared_road_km),
                    x.cleared_buildings.to_string(),
                    damaged(&x.district),
                    land_release(x.status).into(),
                ]
            })
            .collect(),
    ));
    d.push(Para(
        "Technical clearance is the ground deminers searched and cleared; land release is the decision that a whole area is safe, and a survey can release land that was never searched, so an area can be released with less than 100% technically cleared.".into(),
    ));
    if !a.damage_by_district.is_empty() {
        let total: u64 = a.damage_by_district.values().map(|c| c.iter().sum::<u64>()).sum();
        let destroyed: u64 = a.damage_by_district.values().map(|c| c[0]).sum();
        d.push(Para(format!("Damaged buildings assessed: {} in {} districts, {} destroyed. Source: {}.", thousands(total), a.damage_by_district.len(), thousands(destroyed), a.damage_sources.join("; "))));
    }
    let flagged = a.returns.iter().filter(|r| !r.uncleared.is_empty()).count();
    d.push(Heading(2, "Returns".into()));
    d.push(Para(format!(
        "{} families ({} people) returned; {flagged} returns went to a district with hazard areas not yet cleared.",
        thousands(rec.returned_families),
        thousands(rec.returned_people)
    )));
    d.push(table(
        &["date", "district", "الحي", "families", "people", "flag"],
        &[false, false, false, true, true, false],
        a.returns
            .iter()
            .map(|r| {
                let (en, ar) = names(f, &r.district);
                let flag = if r.uncleared.is_empty() { String::new() } else { format!("UNCLEARED: {}", r.uncleared.join(", ")) };
                vec![r.time.format("%Y-%m-%d").to_string(), en, ar, r.families.to_string(), r.people.to_string(), flag]
            })
            .collect(),
    ));
    if !a.claims.is_empty() {
        d.push(Heading(2, "Claims from other sources".into()));
        d.push(table(
            &["claim", "source", "date", "measure", "claimed", "ledger", "difference"],
            &[false, false, false, false, true, true, true],
            a.claims.iter().map(|c| vec![c.text.clone(), c.source.clone(), c.date.to_string(), format!("`{}`", c.measure), fmt_num(c.figure), fmt_num(c.ledger), format!("{:+}", c.difference)]).collect(),
        ));
    }
    d
}

/// Escapes a Markdown table cell.
fn cell(s: &str) -> String {
    s.replace('|', "\\|")
}

/// The situation report as Markdown (charts are in the HTML and PDF forms).
pub fn markdown(f: &Figures, title: &str, provenance: &str, zone: Tz) -> String {
    let mut s = String::new();
    for b in document(f, title, provenance, zone) {
        match b {
            Block::Heading(level, text) => {
                let _ = writeln!(s, "{} {text}\n", "#".repeat(level as usize));
            }
            Block::Para(text) => {
                let _ = writeln!(s, "{text}\n");
            }
            Block::List(items) => {
                for i in items {
                    let _ = writeln!(s, "- {i}");
                }
                s.push('\n');
            }
            Block::Table(head, numeric, rows) => {
                let _ = writeln!(s, "| {} |", head.iter().map(|h| cell(h)).collect::<Vec<_>>().join(" | "));
                let _ = writeln!(s, "|{}|", numeric.iter().map(|&n| if n { "---:" } else { "---" }).collect::<Vec<_>>().join("|"));
                for r in rows {
                    let _ = writeln!(s, "| {} |", r.iter().map(|c| cell(c)).collect::<Vec<_>>().join(" | "));
                }
                s.push('\n');
            }
            Block::Chart(..) => {}
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
    ids.extend(a.damage_by_district.keys());
    let mut s = String::new();
    s.push_str("District code,District,District (Arabic),Aid (tonnes),Families reached,People reached,Hazard area (ha),Cleared (ha),Road cleared (km),Buildings cleared,Returned families,Returned people,Returns to uncleared areas,Damaged buildings (assessed),Destroyed buildings\n");
    s.push_str("#adm2+code,#adm2+name,#adm2+name+i_ar,#indicator+aid+tonnes,#reached+households,#reached+ind,#targeted+area_ha,#indicator+cleared+area_ha,#indicator+cleared+road_km,#indicator+cleared+buildings,#affected+returnees+households,#affected+returnees+ind,#indicator+flagged+returns,#indicator+damaged+buildings,#indicator+destroyed+buildings\n");
    for id in ids {
        let (en, ar) = names(f, id);
        let aid = a.aid_by_district.get(id).cloned().unwrap_or_default();
        let cleared = a.cleared_by_district.get(id).cloned().unwrap_or_default();
        let area: f64 = a.areas.iter().filter(|x| &x.district == id).map(|x| x.hectares).sum();
        let rets: Vec<_> = a.returns.iter().filter(|r| &r.district == id).collect();
        let _ = writeln!(
            s,
            "{},{},{},{:.2},{},{},{:.2},{:.2},{:.2},{},{},{},{},{},{}",
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
            rets.iter().filter(|r| !r.uncleared.is_empty()).count(),
            a.damage_by_district.get(id).map_or(0, |c| c.iter().sum::<u64>()),
            a.damage_by_district.get(id).map_or(0, |c| c[0])
        );
    }
    s
}

/// People withdrawn by day and corridor-independent group, as HXL CSV.
pub fn hxl_evacuation(f: &Figures) -> String {
    let mut s = String::new();
    let groups = &f.groups;
    let _ = write!(s, "Date,Corridor,People");
    for g in groups {
        let _ = write!(s, ",{}", csv(g));
    }
    s.push_str(",Wounded\n#date,#loc+corridor+code,#affected+ind+total");
    for g in groups {
        let _ = write!(s, ",#affected+ind+{}", g.to_lowercase().replace(|c: char| !c.is_ascii_alphanumeric(), "_"));
    }
    s.push_str(",#affected+ind+wounded\n");
    for (d, corridors) in &f.by_day_and_corridor {
        for (c, t) in corridors {
            let _ = write!(s, "{d},{},{}", csv(c), t.people);
            for g in groups {
                let _ = write!(s, ",{}", t.by_group.get(g).copied().unwrap_or(0));
            }
            let _ = writeln!(s, ",{}", t.wounded);
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use corridor_model::{Body, Event, Incident, IncidentKind};

    /// Two incidents of u32::MAX killed each (the event format's largest
    /// count) are summed without overflow: the report printed nothing and
    /// panicked ("attempt to add with overflow") on such a log.
    #[test]
    fn incident_totals_do_not_overflow() {
        let mut v = corridor_views::Views::new();
        for i in 0..2u64 {
            let incident = Incident { incident: format!("i{i}"), kind: IncidentKind::Attack, corridor: None, convoy: None, site: None, vehicles: vec![], killed: u32::MAX, description: "shelling".into() };
            v.apply(i, &Event::new(format!("e{i}"), "2026-03-14T10:00:00Z".parse().unwrap(), "hq", Body::Incident(incident)));
        }
        let md = super::markdown(&v.figures(), "Situation report", "test", chrono_tz::UTC);
        assert!(md.contains(&format!("Incidents (0 vehicles lost, {} killed)", 2 * u64::from(u32::MAX))), "{md}");
    }
}
