//! `corridor import-damage`: UNOSAT's damage sites as damaged buildings per district.

use std::path::Path;

use anyhow::{Context, Result};
use corridor::datadir::DataDir;
use corridor::print;
use corridor_ledger::Appended;

/// Where UNOSAT's sites came from, carried by every event made of them.
const UNOSAT_SOURCE: &str = "UNOSAT building damage assessment of Aleppo (Pleiades imagery of April/May 2015), as distributed by CenterForSpatialResearch/aleppo_test (MIT, © 2019 Columbia Center for Spatial Research)";

/// `corridor import-damage`: damaged buildings per district, appended once.
pub fn import_damage(dir: &Path, file: &Path) -> Result<()> {
    use corridor_model::{Body, DamageAssessment, Event};
    let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let (rows, outside) = corridor_aleppo::damage_by_district(&text, corridor_aleppo::NEIGHBORHOODS_GEOJSON)
        .with_context(|| format!("{}: not UNOSAT damage sites (a GeoJSON FeatureCollection of points)", file.display()))?;
    let at = chrono::DateTime::parse_from_rfc3339("2015-05-01T00:00:00Z").expect("a valid instant").to_utc();
    let events: Vec<Event> = rows
        .iter()
        .map(|(district, c)| {
            Event::new(
                format!("damage-unosat-2015-{district}"),
                at,
                "hq",
                Body::DamageAssessed(DamageAssessment {
                    assessment: format!("unosat-2015-{district}"),
                    district: district.clone(),
                    source: UNOSAT_SOURCE.into(),
                    destroyed: c[0],
                    severe: c[1],
                    moderate: c[2],
                    other: c[3],
                }),
            )
        })
        .collect();
    let mut d = DataDir::open(dir)?;
    let ledger = d.ledger()?;
    let outcomes = ledger.append(events).context("append the damage assessment (are the districts declared? run `corridor demo` first)")?;
    let new = outcomes.iter().filter(|o| matches!(o, Appended::New(_))).count();
    let sites: u64 = rows.iter().map(|(_, c)| c.iter().map(|&n| u64::from(n)).sum::<u64>()).sum();
    println!("{} damaged buildings in {} districts ({} sites lie outside the 133 neighbourhood polygons); {new} events newly appended", print::thousands(sites), rows.len(), print::thousands(outside as u64));
    println!("data: {UNOSAT_SOURCE}");
    Ok(())
}

