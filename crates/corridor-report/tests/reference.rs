//! The report of the bundled reference scenario: every seed figure appears,
//! computed from the events, with districts by their real names in English
//! and Arabic, the claim beside the ledger's figure, a flagged return; and
//! the HXL CSV is read by the reference HXL library (libhxl) when Python has it.

use corridor_aleppo as aleppo;
use corridor_geo::{PreparedNetwork, Router};
use corridor_plan::scenario::{Scenario, ALEPPO_2016};
use corridor_views::{Figures, Views};

fn figures() -> Figures {
    let sc = Scenario::parse(ALEPPO_2016, "aleppo-2016.toml").unwrap();
    let router = Router::new(PreparedNetwork::prepare(aleppo::builtin_network().unwrap()));
    let out = corridor_plan::sim::simulate(&sc, &router).unwrap();
    let mut v = Views::new();
    for (i, e) in out.events.iter().enumerate() {
        v.apply(i as u64, e);
    }
    v.figures()
}

#[test]
fn the_report_shows_every_seed_figure_from_events() {
    let f = figures();
    let md = corridor_report::markdown(&f, "Situation report", "test", chrono_tz::Asia::Damascus);
    for want in [
        "Corridor `ramouseh-rashidin4`: 31,284 = armed 14,891 + women 7,606 + children 8,787, of whom 701 wounded",
        "280.0 t to 1,040 families",
        "| Hanano | هنانو | 280.0 | 1,040 |",
        "3,000 ha cleared of",
        "1,000 km of road, 5,000 buildings",
        "| almost 34,000 people left eastern Aleppo | 001 | 2016-12-23 | `withdrawn:ramouseh-rashidin4` | 34,000 | 31,284 | +2716 |",
        "UNCLEARED: uxo-2017-hanano",
        "everyone who entered came out",
        "| land release |",
        "| released (cleared) |",
    ] {
        assert!(md.contains(want), "missing {want:?} in\n{md}");
    }
    // Exactly one return went to an area not yet cleared.
    assert_eq!(f.aftermath.returns.iter().filter(|r| !r.uncleared.is_empty()).count(), 1);
    let artifacts = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("report");
    std::fs::create_dir_all(&artifacts).unwrap();
    std::fs::write(artifacts.join("sitrep.md"), &md).unwrap();
}

#[test]
fn libhxl_reads_the_hxl_csv() {
    let f = figures();
    let districts = corridor_report::hxl_districts(&f);
    let evacuation = corridor_report::hxl_evacuation(&f);
    assert!(districts.lines().nth(1).unwrap().starts_with("#adm2+code,#adm2+name,#adm2+name+i_ar"));
    let hanano = districts.lines().find(|l| l.starts_with("hanano,")).expect("a Hanano row");
    assert!(hanano.starts_with("hanano,Hanano,هنانو,280.00,1040,5340,"), "{hanano}");
    let tmp = tempfile::tempdir().unwrap();
    let (d, e) = (tmp.path().join("districts.csv"), tmp.path().join("evacuation.csv"));
    std::fs::write(&d, &districts).unwrap();
    std::fs::write(&e, &evacuation).unwrap();
    let has_hxl = std::process::Command::new("python3").args(["-c", "import hxl"]).status().is_ok_and(|s| s.success());
    if !has_hxl {
        corridor_testkit::skip("the Python package libhxl is not installed (python3 -m pip install libhxl; .ci/run installs it)");
        return;
    }
    let script = r#"
import sys, hxl
d = hxl.data(sys.argv[1], hxl.InputOptions(allow_local=True))
tags = [c.display_tag for c in d.columns]
assert '#adm2+name' in tags and '#reached+households' in tags and '#indicator+cleared+area_ha' in tags, tags
rows = {r.get('#adm2+code'): r for r in d}
assert float(rows['hanano'].get('#indicator+aid+tonnes')) == 280.0
assert int(rows['hanano'].get('#reached+households')) == 1040
total_ha = sum(float(r.get('#indicator+cleared+area_ha')) for r in rows.values())
assert abs(total_ha - 3000.0) < 0.01, total_ha
e = hxl.data(sys.argv[2], hxl.InputOptions(allow_local=True))
assert '#date' in [c.display_tag for c in e.columns] and '#loc+corridor+code' in [c.display_tag for c in e.columns]
by_corridor = {}
for r in e:
    c = r.get('#loc+corridor+code')
    by_corridor[c] = by_corridor.get(c, 0) + int(r.get('#affected+ind+total'))
assert by_corridor['ramouseh-rashidin4'] == 31284 and by_corridor['fuah-kafarya-aleppo'] == 1540, by_corridor
print('OK', len(rows), 'districts', round(total_ha, 2), 'ha')
"#;
    let out = std::process::Command::new("python3").args(["-c", script]).arg(&d).arg(&e).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && stdout.starts_with("OK"), "libhxl: {stdout}{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn the_pdf_and_the_charts_render() {
    let f = figures();
    let blocks = corridor_report::document(&f, "Situation report", "test", chrono_tz::Asia::Damascus);
    let charts: Vec<(String, String)> = blocks.iter().filter_map(|b| if let corridor_report::Block::Chart(t, svg) = b { Some((t.clone(), svg.clone())) } else { None }).collect();
    assert_eq!(charts.len(), 3, "daily throughput, cumulative evacuees, clearance progress");
    for (_, svg) in &charts {
        assert!(svg.contains("<svg") && svg.contains("</svg>"));
    }
    // The halt (18 and 19 December, no passages) is on the evacuation charts, at 0.
    for (_, svg) in &charts[..2] {
        assert!(svg.contains("18 Dec") && svg.contains("19 Dec"), "the days of the halt are drawn");
    }
    let html = corridor_report::html::page(&blocks);
    assert!(html.contains("<td dir=\"rtl\" lang=\"ar\">هنانو</td>"), "Arabic cells are right-to-left");
    if corridor_report::pdf::chromium().is_none() {
        corridor_testkit::skip("no Chromium on the PATH (apt-get install chromium; .ci/run installs it), so no PDF or PNG");
        return;
    }
    // Kept as test artifacts in target/tmp/report/.
    let artifacts = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("report");
    std::fs::create_dir_all(&artifacts).unwrap();
    let pdf = artifacts.join("sitrep.pdf");
    corridor_report::pdf::html_to_pdf(&html, &pdf).unwrap();
    assert!(std::fs::metadata(&pdf).unwrap().len() > 20_000);
    // A4 (595 × 842 pt) like the leaflets, not US Letter (612 × 792).
    let bytes = std::fs::read(&pdf).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    let boxes: Vec<(f64, f64)> = text
        .split("/MediaBox [")
        .skip(1)
        .map(|r| {
            let n: Vec<f64> = r.split(']').next().unwrap().split_whitespace().map(|x| x.parse().unwrap()).collect();
            (n[2] - n[0], n[3] - n[1])
        })
        .collect();
    assert!(!boxes.is_empty(), "no page size found in the PDF");
    for (w, h) in boxes {
        assert!((w - 595.3).abs() < 2.0 && (h - 841.9).abs() < 2.0, "a page of {w} × {h} pt is not A4");
    }
    for (i, (_, svg)) in charts.iter().enumerate() {
        let png = artifacts.join(format!("chart-{}.png", i + 1));
        corridor_report::pdf::svg_to_png(svg, &png, 720, 300).unwrap();
        let bytes = std::fs::read(&png).unwrap();
        assert!(bytes.starts_with(b"\x89PNG") && bytes.len() > 5_000, "{}", png.display());
    }
}

#[test]
fn times_are_given_in_the_operations_zone() {
    let f = figures();
    assert!(!f.incidents.is_empty(), "the reference case has incidents");
    let zone = chrono_tz::Asia::Damascus;
    let md = corridor_report::markdown(&f, "Situation report", "test", zone);
    for i in &f.incidents {
        // December 2016 in Damascus: EET, UTC+2.
        let t = corridor_report::local_time(i.time, zone);
        assert!(t.ends_with("+02:00"), "{t}");
        assert!(md.contains(&format!("{t} ")), "incident at {t} missing");
    }
    let utc = corridor_report::markdown(&f, "Situation report", "test", chrono_tz::Tz::UTC);
    assert!(f.incidents.iter().all(|i| utc.contains(&corridor_report::local_time(i.time, chrono_tz::Tz::UTC))));
    assert_ne!(md, utc);
}
