//! `corridor report`: a situation report folded from the checked log.

use std::path::Path;

use anyhow::{bail, Context, Result};
use base64::Engine as _;
use corridor::datadir::DataDir;
use corridor_views::Views;

use crate::cli::{HxlTable, ReportArgs, ReportFormat};
use crate::cmd::stdout_write;
use crate::read::{checked_walk, replayed};

/// `corridor report`: the log checked against its signed checkpoints (as
/// `verify` checks it), folded (within --from/--to) and rendered. A log
/// that fails is refused and nothing is written.
pub fn run(dir: &Path, a: &ReportArgs) -> Result<()> {
    let ReportArgs { format, table, from, to, ref out, ref key } = *a;
    let (out, key) = (out.as_deref(), key.as_deref());
    if format == ReportFormat::Pdf && out.is_none() {
        bail!("--format pdf needs --out FILE.pdf");
    }
    let mut d = DataDir::open(dir)?;
    let mut views = Views::new();
    // Declarations always count (a district declared before --from is still
    // that district); other facts only within the range.
    let checked = checked_walk(&mut d, key, &mut |i, event| {
        let inside = from.is_none_or(|f| event.time >= f) && to.is_none_or(|t| event.time < t);
        if inside || event.body.declares() {
            views.apply(i, event);
        }
    })
    .context("no report was made")?;
    let keep = |event: &corridor_model::Event| from.is_none_or(|f| event.time >= f) && to.is_none_or(|t| event.time < t) || event.body.declares();
    let views = replayed(&d, checked.checkpoint.size, &checked.checkpoint.root, views, &keep).context("no report was made")?;
    let figures = views.figures();
    let cp = &checked.checkpoint;
    let root = base64::engine::general_purpose::STANDARD.encode(cp.root);
    let range = match (from, to) {
        (None, None) => String::new(),
        (f, t) => format!(", events from {} to {}", f.map_or("the start".into(), |f| f.to_rfc3339()), t.map_or("the end".into(), |t| t.to_rfc3339())),
    };
    // The operation and the zone its times are given in.
    let (zone, operation) = match &figures.operation {
        Some(o) => (
            o.tz().unwrap_or(chrono_tz::Tz::UTC),
            format!("Operation `{}` ({}); times in {} local time, with their UTC offset.", o.operation, o.name, o.timezone),
        ),
        None => (chrono_tz::Tz::UTC, "The log declares no operation (operation_declared): times in UTC.".to_string()),
    };
    let provenance = format!(
        "{operation} Log `{}` in {}, every entry verified against its signed checkpoint of size {} with root `{root}` (key `{}`){range}.",
        cp.origin,
        dir.display(),
        cp.size,
        checked.key
    );
    // Said on stderr too: a CSV has no room for it.
    eprintln!("verified {} entries against the signed checkpoint of size {} with root {root} (key {})", cp.size, cp.size, checked.key);
    let title = "Situation report";
    let text = match format {
        ReportFormat::Hxl => match table {
            HxlTable::Evacuation => corridor_report::hxl_evacuation(&figures),
            HxlTable::Districts => corridor_report::hxl_districts(&figures),
        },
        ReportFormat::Html => corridor_report::html::page(&corridor_report::document(&figures, title, &provenance, zone)),
        ReportFormat::Pdf => {
            let out = out.ok_or_else(|| anyhow::anyhow!("--format pdf needs --out FILE.pdf"))?;
            let html = corridor_report::html::page(&corridor_report::document(&figures, title, &provenance, zone));
            corridor_report::pdf::html_to_pdf(&html, out).map_err(|e| anyhow::anyhow!(e))?;
            println!("wrote {}", out.display());
            return Ok(());
        }
        ReportFormat::Md => corridor_report::markdown(&figures, title, &provenance, zone),
    };
    match out {
        Some(p) => std::fs::write(p, text).with_context(|| format!("cannot write {}", p.display()))?,
        None => stdout_write(text.as_bytes())?,
    }
    Ok(())
}
