//! An operation that is not Aleppo, through the real binary: a Monaco
//! drill declared in Europe/Monaco on a map imported from the Monaco
//! OpenStreetMap extract (© OpenStreetMap contributors, ODbL). Its notices
//! give Monaco's local hours (CET, UTC+1 in December), its leaflet is drawn
//! on the Monaco map, `serve` draws that map and names the operation, and a
//! map whose SHA-256 differs from the declared one is refused. A log that
//! declares no operation gets UTC and no map, each said so.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use common::*;
use serde_json::{json, Value};

/// The Monaco extract imported once for all tests here.
fn monaco_cnet() -> &'static Path {
    static CNET: OnceLock<PathBuf> = OnceLock::new();
    CNET.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("operation-cli");
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join(format!("monaco-{}.cnet", std::process::id()));
        ok(&dir, &["import", &shared("osm/monaco.osm.pbf"), "--out", out.to_str().unwrap()]);
        out
    })
}

/// Another map: the Aleppo district network.
fn other_cnet(tmp: &Path) -> PathBuf {
    let out = tmp.join("aleppo-districts.cnet");
    ok(tmp, &["import", "--districts", &shared("aleppo/neighborhoods.geojson"), "--out", out.to_str().unwrap()]);
    out
}

/// Sites, a corridor through two checkpoints on Monaco streets (Fontvieille
/// → Boulevard Albert 1er by the port → Avenue de Monte-Carlo by the casino
/// → Larvotto) and a truce window 07:00–15:00 UTC on 4 December 2026.
fn declarations(dir: &Path) {
    let t = "2026-12-01T08:05:00Z";
    let ev = |id: &str, body: Value| json!({"v": 1, "id": id, "time": t, "author": "hq", "body": body});
    let lines = [
        ev("groups", json!({"groups_defined": {"groups": [{"id": "women", "label": "women"}, {"id": "children", "label": "children"}, {"id": "men", "label": "men"}]}})),
        ev("site-fontvieille", json!({"site_declared": {"site": "fontvieille", "name": "Fontvieille", "kind": "besieged", "position": {"lat": 43.7307, "lon": 7.4168}}})),
        ev("site-larvotto", json!({"site_declared": {"site": "larvotto", "name": "Larvotto", "kind": "destination", "position": {"lat": 43.7468, "lon": 7.4352}}})),
        ev(
            "corridor-coast",
            json!({"corridor_declared": {
                "corridor": "coast", "name": "Fontvieille to Larvotto", "from": "fontvieille", "to": "larvotto",
                "checkpoints": [
                    {"id": "cp-port", "name": "Boulevard Albert 1er", "position": {"lat": 43.7352, "lon": 7.4213}},
                    {"id": "cp-casino", "name": "Avenue de Monte-Carlo", "position": {"lat": 43.7391, "lon": 7.4268}}
                ],
                "groups": ["women", "children", "men"], "max_transit_minutes": 60
            }}),
        ),
        ev("window-4dec", json!({"truce_window_declared": {"window": "w-4dec", "corridors": ["coast"], "start": "2026-12-04T07:00:00Z", "end": "2026-12-04T15:00:00Z"}})),
    ];
    let file = dir.join("declarations.jsonl");
    std::fs::write(&file, lines.iter().map(|l| l.to_string() + "\n").collect::<String>()).unwrap();
    ok(dir, &["log", "append", file.to_str().unwrap()]);
}

/// A data directory holding the Monaco drill: the operation declared
/// (Europe/Monaco, the imported map copied to DATA_DIR/map.cnet with its
/// SHA-256), then its declarations.
fn monaco_dir(tmp: &Path) -> PathBuf {
    let dir = tmp.join("monaco");
    ok(&dir, &["init", "--origin", "corridor.invalid/monaco-drill"]);
    declare_operation(&dir, "monaco-drill", "Monaco evacuation drill", "Europe/Monaco", monaco_cnet(), "monaco", "2026-12-01T08:00:00Z");
    declarations(&dir);
    dir
}

const AT: &str = "2026-12-04T06:00:00Z";

/// `corridor serve` on a free port; killed on drop.
use common::Served;

fn serve(dir: &Path) -> Served {
    Served::start(dir, &[])
}

#[test]
fn notices_and_the_report_use_monacos_time_zone() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = monaco_dir(tmp.path());
    let out = corridor(&dir, &["notice", "--format", "sms", "--at", AT]);
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("Corridor Fontvieille to Larvotto is open Friday 4 December 2026 08:00 to 16:00 Monaco time (UTC+1)."), "{stdout}");
    assert!(stdout.contains("الساعة ٠٨:٠٠ حتى الساعة ١٦:٠٠ بتوقيت موناكو (غرينتش+١)"), "{stdout}");
    assert!(!stdout.contains("Damascus") && !stdout.contains("دمشق"), "{stdout}");
    assert!(!stderr.contains("declares no operation"), "{stderr}");

    let cap = tmp.path().join("cap");
    ok(&dir, &["notice", "--format", "cap", "--at", AT, "--out", cap.to_str().unwrap()]);
    let xml = std::fs::read_to_string(cap.join("coast.w-4dec.0.cap.xml")).unwrap();
    assert!(xml.contains("2026-12-04T08:00:00+01:00</cap:onset>") && xml.contains("2026-12-04T16:00:00+01:00</cap:expires>"), "{xml}");
    assert!(xml.contains("2026-12-01T09:05:00+01:00</cap:sent>"), "{xml}");

    let report = ok(&dir, &["report"]);
    assert!(report.contains("Operation `monaco-drill` (Monaco evacuation drill); times in Europe/Monaco local time"), "{report}");
}

#[test]
fn the_leaflet_is_drawn_on_the_declared_monaco_map() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = monaco_dir(tmp.path());
    let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("operation-cli").join(format!("leaflet-{}", std::process::id()));
    let out = corridor(&dir, &["notice", "--format", "pdf", "--at", AT, "--out", out_dir.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() && stderr.contains("needs Chromium") {
        return common::skip(&stderr);
    }
    assert!(out.status.success(), "{stderr}");
    let pdf = out_dir.join("coast.w-4dec.0.pdf");
    assert!(std::fs::metadata(&pdf).unwrap().len() > 10_000, "a leaflet with a map");
    match Command::new("pdftotext").arg(&pdf).arg("-").output() {
        Ok(t) if t.status.success() => {
            let text = String::from_utf8_lossy(&t.stdout).split_whitespace().collect::<Vec<_>>().join(" ");
            assert!(text.contains("08:00 to 16:00 Monaco time (UTC+1)"), "{text}");
            assert!(text.contains("Boulevard Albert 1er") && text.contains("Avenue de Monte-Carlo"), "the checkpoints are on the map: {text}");
            assert!(text.contains("Hours are Monaco time (UTC+1)."), "{text}");
            assert!(!text.contains("Damascus"), "{text}");
            assert!(text.contains("© OpenStreetMap contributors"), "the map's attribution: {text}");
            // Page 1 as a PNG, to look at.
            let png = out_dir.join("monaco-leaflet");
            let _ = Command::new("pdftoppm").args(["-png", "-r", "60", "-f", "1", "-l", "1", "-singlefile"]).arg(&pdf).arg(&png).status();
        }
        _ => common::skip("the leaflet's text: pdftotext is not installed (apt-get install poppler-utils)"),
    }
}

#[test]
fn a_map_other_than_the_declared_one_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = monaco_dir(tmp.path());
    let other = other_cnet(tmp.path());

    // serve --map with another map: refused before it listens.
    let err = fails(&dir, &["serve", "--listen", "127.0.0.1:0", "--map", other.to_str().unwrap()]);
    assert!(err.contains("aleppo-districts.cnet has SHA-256 ") && err.contains("but the log declares ") && err.contains("for map \"monaco\""), "{err}");
    assert!(err.contains("give the file the operation was declared with"), "{err}");

    // DATA_DIR/map.cnet replaced by another map: serve and leaflets refuse it.
    std::fs::copy(&other, dir.join("map.cnet")).unwrap();
    let err = fails(&dir, &["serve", "--listen", "127.0.0.1:0"]);
    assert!(err.contains("map.cnet has SHA-256 ") && err.contains("restore the file the operation was declared with"), "{err}");
    let err = fails(&dir, &["notice", "--format", "pdf", "--at", AT, "--out", tmp.path().join("pdf").to_str().unwrap()]);
    assert!(err.contains("map.cnet has SHA-256 ") && err.contains("for map \"monaco\""), "{err}");
    assert!(!err.contains("panicked"), "{err}");

    // No map at all.
    std::fs::remove_file(dir.join("map.cnet")).unwrap();
    let err = fails(&dir, &["serve", "--listen", "127.0.0.1:0"]);
    assert!(err.contains("map.cnet is missing, but the log declares operation \"monaco-drill\" on map \"monaco\""), "{err}");

    // The declared file given with --map is accepted even then.
    let s = serve_with_map(&dir, monaco_cnet());
    let r = reqwest::blocking::get(format!("{}/api/v1/public/map", s.base)).unwrap();
    assert_eq!(r.status(), 200);
}

fn serve_with_map(dir: &Path, map: &Path) -> Served {
    Served::start(dir, &["--map", map.to_str().unwrap()])
}

#[test]
fn serve_draws_the_operations_map_and_names_the_operation() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = monaco_dir(tmp.path());
    let s = serve(&dir);
    let map: Value = reqwest::blocking::get(format!("{}/api/v1/public/map", s.base)).unwrap().json().unwrap();
    assert!(map["attribution"].as_str().unwrap_or_default().contains("OpenStreetMap"), "{}", map["attribution"]);
    // Every road is in Monaco, none in Aleppo (roads are MultiLineStrings).
    let mut coords: Vec<(f64, f64)> = Vec::new();
    for f in map["features"].as_array().unwrap() {
        for line in f["geometry"]["coordinates"].as_array().into_iter().flatten() {
            for p in line.as_array().into_iter().flatten() {
                if let (Some(lon), Some(lat)) = (p[0].as_f64(), p[1].as_f64()) {
                    coords.push((lon, lat));
                }
            }
        }
    }
    assert!(coords.len() > 100, "{} points", coords.len());
    // The extract reaches a little into France around Monaco.
    assert!(coords.iter().all(|&(lon, lat)| (7.3..7.6).contains(&lon) && (43.6..43.8).contains(&lat)), "a point far from Monaco");

    let summary: Value = reqwest::blocking::get(format!("{}/api/v1/public/summary", s.base)).unwrap().json().unwrap();
    let op = &summary["operation"];
    assert_eq!(op["id"], "monaco-drill");
    assert_eq!(op["name"], "Monaco evacuation drill");
    assert_eq!(op["timezone"], "Europe/Monaco");
    assert_eq!(op["languages"], json!(["ar", "en"]));
    assert_eq!(op["map"], json!({"name": "monaco", "attribution": "© OpenStreetMap contributors, ODbL"}));
    let notices: Value = reqwest::blocking::get(format!("{}/api/v1/public/notices", s.base)).unwrap().json().unwrap();
    // The log's clock is its last event (1 December): the 4 December window is announced.
    assert!(notices[0]["en"].as_str().unwrap().contains("08:00 to 16:00 Monaco time (UTC+1)"), "{notices}");
}

#[test]
fn a_log_without_an_operation_gets_utc_and_no_map() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("bare");
    ok(&dir, &["init"]);
    declarations(&dir);
    let out = corridor(&dir, &["notice", "--format", "sms", "--lang", "en", "--at", AT]);
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("07:00 to 15:00 UTC (UTC+0)."), "{stdout}");
    assert!(stderr.contains("note: the log declares no operation (operation_declared), so hours are given in UTC"), "{stderr}");
    assert!(ok(&dir, &["report"]).contains("The log declares no operation (operation_declared): times in UTC."));

    let s = serve(&dir);
    let r = reqwest::blocking::get(format!("{}/api/v1/public/map", s.base)).unwrap();
    assert_eq!(r.status(), 404);
    let body: Value = r.json().unwrap();
    assert!(body["error"].as_str().unwrap().contains("the log declares no operation"), "{body}");
    let summary: Value = reqwest::blocking::get(format!("{}/api/v1/public/summary", s.base)).unwrap().json().unwrap();
    assert_eq!(summary["operation"], Value::Null);
}
