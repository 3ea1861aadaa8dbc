//! A whole new operation on a map that is not Aleppo, as a team would run
//! it: the Monaco extract imported, the operation declared from one file
//! (`corridor apply`) in Europe/Monaco time, tokens, passages over HTTP,
//! a resend, a reused id, a future-dated event, a count outside the truce
//! window, a correction, notices in Monaco's hours, a leaflet on the Monaco
//! map, `report` and `verify` — and `report` refusing a changed log.

mod common;

use std::path::Path;

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use common::{corridor, fails, ok, token, Served};
use reqwest::blocking::Client;
use reqwest::StatusCode;
use serde_json::{json, Value};

const MONACO_PBF: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/osm/monaco.osm.pbf");
const EXAMPLE: &str = include_str!("../../../docs/examples/monaco.toml");

fn rfc(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The README's example scenario with its window moved to now (from
/// `now − 30 min` for 6 h), written beside the map.
fn scenario(dir: &Path, now: DateTime<Utc>, edit: impl Fn(String) -> String) -> std::path::PathBuf {
    let text = EXAMPLE
        .replace("2026-12-04T06:00:00Z", &rfc(now - Duration::hours(2)))
        .replace("2026-12-04T07:00:00Z", &rfc(now - Duration::minutes(30)))
        .replace("2026-12-04T15:00:00Z", &rfc(now + Duration::hours(6)));
    let path = dir.join(format!("monaco-{}.toml", rand_tag()));
    std::fs::write(&path, edit(text)).unwrap();
    path
}

fn rand_tag() -> u32 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos()
}

struct Api<'a> {
    s: &'a Served,
    http: Client,
}

impl Api<'_> {
    fn post(&self, token: &str, body: &Value) -> (StatusCode, Value) {
        let r = self.http.post(self.s.url("/api/v1/events")).bearer_auth(token).json(body).send().unwrap();
        let status = r.status();
        (status, r.json().unwrap())
    }
    /// Waits until the server's views have folded every entry of its log.
    fn settle(&self, hq: &str) {
        let size = self.get(hq, "/api/v1/events?from=0&to=0")["size"].clone();
        for _ in 0..100 {
            if self.get("", "/api/v1/public/summary")["size"] == size {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("the views did not reach the log's size {size}");
    }

    fn get(&self, token: &str, path: &str) -> Value {
        let r = self.http.get(self.s.url(path)).bearer_auth(token).send().unwrap();
        assert!(r.status().is_success(), "GET {path}: {}", r.status());
        r.json().unwrap()
    }
}

fn passage(id: &str, t: DateTime<Utc>, author: &str, vehicle: &str, checkpoint: &str, women: u32, children: u32) -> Value {
    json!({"v": 1, "id": id, "time": rfc(t), "author": author, "body": {"passage": {
        "vehicle": vehicle, "convoy": "convoy-1", "corridor": "fontvieille-larvotto", "checkpoint": checkpoint,
        "counts": {"women": women, "children": children}, "wounded": 0}}})
}

/// The operation on one backend (`init` arguments); `tamper` also checks
/// that `report` refuses a log with a changed entry (SQLite).
fn run_operation(init: &[String], tamper: bool) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let now = Utc::now();
    // 1. The map.
    let out = ok(tmp.path(), &["import", MONACO_PBF, "--out", tmp.path().join("monaco.cnet").to_str().unwrap()]);
    assert!(out.contains("OpenStreetMap"), "{out}");
    if !init.is_empty() {
        let mut args = vec!["init".to_string()];
        args.extend_from_slice(init);
        ok(&dir, &args.iter().map(String::as_str).collect::<Vec<_>>());
    }
    // 2. The operation from one file: a dry run writes nothing, then apply, then apply again.
    let file = scenario(tmp.path(), now, |t| t);
    let f = file.to_str().unwrap();
    let dry = ok(&dir, &["apply", f, "--dry-run"]);
    assert!(dry.contains("\"operation_declared\"") && dry.contains("Europe/Monaco") && dry.contains("would append 14 event(s)"), "{dry}");
    let applied = ok(&dir, &["apply", f]);
    assert!(applied.contains("14 event(s) appended") && applied.contains("times in Europe/Monaco"), "{applied}");
    assert!(ok(&dir, &["apply", f]).contains("nothing appended"), "applying twice appends nothing");
    let size = |d: &Path| -> usize { ok(d, &["log", "show"]).lines().count() };
    assert_eq!(size(&dir), 14);
    // A window moved in the file becomes truce_window_changed.
    let moved = scenario(tmp.path(), now, |t| t.replace(&rfc(now + Duration::hours(6)), &rfc(now + Duration::hours(7))));
    assert!(ok(&dir, &["apply", moved.to_str().unwrap()]).contains("1 truce_window_changed"));
    // Bad input, each refused with the log unchanged.
    let other = scenario(tmp.path(), now, |t| t.replace("operation = \"monaco-example\"", "operation = \"another-op\""));
    let e = fails(&dir, &["apply", other.to_str().unwrap()]);
    assert!(e.contains("this log is operation \"monaco-example\"") && e.contains("nothing was appended"), "{e}");
    let atlantis = scenario(tmp.path(), now, |t| t.replace("Europe/Monaco", "Europe/Atlantis"));
    let e = fails(&dir, &["apply", atlantis.to_str().unwrap()]);
    assert!(e.contains("\"Europe/Atlantis\" is not a time zone") && e.contains("IANA"), "{e}");
    let moved_cp = scenario(tmp.path(), now, |t| t.replace("at = \"50%\"", "at = \"60%\""));
    let e = fails(&dir, &["apply", moved_cp.to_str().unwrap()]);
    assert!(e.contains("checkpoints moved") && e.contains("new corridor with a new id"), "{e}");
    assert_eq!(size(&dir), 15);

    // 3. Tokens: hq and the two counting checkpoints; an unknown checkpoint is refused.
    let (hq, _) = token(&dir, &["--role", "hq"]);
    let (entry, _) = token(&dir, &["--role", "checkpoint", "--checkpoint", "cp-fontvieille"]);
    let (exit, _) = token(&dir, &["--role", "checkpoint", "--checkpoint", "cp-larvotto"]);

    // 4. The live operation over HTTP.
    let served = Served::start(&dir, &[]);
    let api = Api { s: &served, http: Client::new() };
    let hq_event = |id: &str, body: Value| json!({"v": 1, "id": id, "time": rfc(now - Duration::minutes(40)), "author": "hq", "body": body});
    let (st, a) = api.post(&hq, &json!([
        hq_event("open-1", json!({"corridor_opened": {"corridor": "fontvieille-larvotto"}})),
        hq_event("convoy-1", json!({"convoy_dispatched": {"convoy": "convoy-1", "corridor": "fontvieille-larvotto", "vehicles": ["bus-001", "bus-002", "bus-003"]}})),
    ]));
    assert_eq!(st, StatusCode::CREATED, "{a}");
    // While the server holds the log, apply goes through it (hq token).
    let more = scenario(tmp.path(), now, |t| t.replace("count = 6", "count = 7").replace(&rfc(now + Duration::hours(6)), &rfc(now + Duration::hours(7))));
    let e = fails(&dir, &["apply", more.to_str().unwrap()]);
    assert!(e.contains("held by another process") && e.contains("--server"), "{e}");
    let out = ok(&dir, &["apply", more.to_str().unwrap(), "--server", &served.base, "--token", &hq]);
    assert!(out.contains("1 event(s) appended (1 vehicle_registered) (through the server at"), "{out}");
    assert!(ok(&dir, &["apply", more.to_str().unwrap(), "--server", &served.base, "--token", &hq]).contains("nothing appended"));
    // A passage in the window, counted in.
    let p1 = passage("p1", now - Duration::minutes(10), "cp-fontvieille", "bus-001", "cp-fontvieille", 20, 25);
    let (st, a) = api.post(&entry, &p1);
    assert_eq!(st, StatusCode::CREATED, "{a}");
    let index = a["indexes"][0].clone();
    // Its resend (the answer was lost): 200, same index, nothing written.
    let (st, a) = api.post(&entry, &p1);
    assert_eq!((st, a["indexes"][0].clone(), a["new"].clone()), (StatusCode::OK, index.clone(), json!(0)), "{a}");
    // Another event under the same id: 409, saying it is a different event.
    let (st, a) = api.post(&entry, &passage("p1", now - Duration::minutes(10), "cp-fontvieille", "bus-001", "cp-fontvieille", 21, 25));
    assert_eq!(st, StatusCode::CONFLICT, "{a}");
    assert!(a["error"].as_str().unwrap().contains("different event"), "{a}");
    // Dated a year ahead by a typo: refused.
    let (st, a) = api.post(&entry, &passage("p-typo", now + Duration::days(365), "cp-fontvieille", "bus-002", "cp-fontvieille", 1, 1));
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{a}");
    assert!(a["error"].as_str().unwrap().contains("ahead of this server's clock"), "{a}");
    // Counted in before the window opened: kept, flagged.
    let (st, a) = api.post(&entry, &passage("p2", now - Duration::minutes(45), "cp-fontvieille", "bus-002", "cp-fontvieille", 10, 10));
    assert_eq!(st, StatusCode::CREATED, "{a}");
    // Out at Larvotto, but a child was missed in the count.
    for (id, cp, tok) in [("p1-port", "cp-port", &hq), ("p1-out", "cp-larvotto", &exit)] {
        let author = if cp == "cp-larvotto" { "cp-larvotto" } else { "hq" };
        let (st, a) = api.post(tok, &passage(id, now - Duration::minutes(5), author, "bus-001", cp, 20, if cp == "cp-larvotto" { 24 } else { 25 }));
        assert_eq!(st, StatusCode::CREATED, "{a}");
    }
    api.settle(&hq);
    let rec = api.get(&hq, "/api/v1/reconciliation");
    assert_eq!(rec["discrepancies"].as_array().unwrap().len(), 1, "{rec}");
    let flags = rec["flags"].as_array().unwrap();
    assert_eq!(flags.len(), 1, "{rec}");
    assert!(flags[0]["what"].as_str().unwrap().contains("outside every truce window") && flags[0]["vehicle"] == "bus-002", "{rec}");
    let figures = api.get(&hq, "/api/v1/figures");
    assert_eq!(figures["withdrawn"]["people"], 44);
    // The exit's officer corrects the count; a correction of the entry's passage by the exit is refused, as is one of an unknown id.
    let fix = |id: &str, author: &str, target: &str, body: Value| json!({"v": 1, "id": id, "time": rfc(now - Duration::minutes(1)), "author": author,
        "body": {"entry_corrected": {"corrects": target, "reason": "a child asleep on the back seat was missed", "body": body}}});
    let corrected = passage("x", now, "x", "bus-001", "cp-larvotto", 20, 25)["body"].clone();
    let (st, a) = api.post(&exit, &fix("fix-entry", "cp-larvotto", "p1", passage("x", now, "x", "bus-001", "cp-fontvieille", 20, 26)["body"].clone()));
    assert_eq!(st, StatusCode::FORBIDDEN, "{a}");
    let (st, a) = api.post(&exit, &fix("fix-unknown", "cp-larvotto", "p-nowhere", corrected.clone()));
    assert!(st == StatusCode::FORBIDDEN || st == StatusCode::UNPROCESSABLE_ENTITY, "{st} {a}");
    let (st, a) = api.post(&hq, &fix("fix-unknown-hq", "hq", "p-nowhere", corrected.clone()));
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{a}");
    assert!(a["error"].as_str().unwrap().contains("no entry with id \"p-nowhere\""), "{a}");
    let (st, a) = api.post(&exit, &fix("fix-1", "cp-larvotto", "p1-out", corrected));
    assert_eq!(st, StatusCode::CREATED, "{a}");
    api.settle(&hq);
    let figures = api.get(&hq, "/api/v1/figures");
    assert_eq!(figures["withdrawn"]["people"], 45, "the correction changes the figures");
    assert_eq!(figures["reconciliation"]["discrepancies"].as_array().unwrap().len(), 0);
    assert_eq!(figures["corrections"][0]["corrects"], "p1-out");
    assert_eq!(figures["timezone"], "Europe/Monaco");
    // The checkpoint reads its own view.
    let view = api.get(&exit, "/api/v1/checkpoints/cp-larvotto");
    assert_eq!((view["corridor"]["status"].clone(), view["passages"][0]["counts"]["children"].clone()), (json!("open"), json!(25)));
    // The public sees the corridor open, in Monaco's zone.
    let public = api.get("", "/api/v1/public/summary");
    assert_eq!(public["corridors"][0]["status"], "open", "{}", public["corridors"]);
    drop(served);

    // 5. Notices in Monaco's hours (CET/CEST from the tz database), recording nothing.
    let tz: chrono_tz::Tz = "Europe/Monaco".parse().unwrap();
    let start = (now - Duration::minutes(30)).with_timezone(&tz);
    let before = size(&dir);
    // In the languages the operation declares (English only here).
    let sms = ok(&dir, &["notice", "--format", "sms"]);
    assert!(sms.contains(" (en): ") && !sms.contains(" (ar): "), "{sms}");
    assert!(sms.contains(&start.format("%H:%M").to_string()), "the SMS gives Monaco's local start {}: {sms}", start.format("%H:%M"));
    assert!(!sms.contains("Damascus"), "{sms}");
    let cap_dir = tmp.path().join("cap");
    ok(&dir, &["notice", "--format", "cap", "--out", cap_dir.to_str().unwrap()]);
    let cap: String = std::fs::read_dir(&cap_dir).unwrap().map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap()).collect();
    let offset = start.format("%:z").to_string();
    assert!(cap.contains(&offset) && cap.contains("<cap:onset>"), "CAP times carry Monaco's offset {offset}: {cap}");
    assert_eq!(size(&dir), before, "printing and writing notices records nothing");
    // A leaflet drawn on the Monaco map (needs Chromium).
    if Path::new("/usr/bin/chromium").exists() {
        let pdf_dir = tmp.path().join("pdf");
        let out = ok(&dir, &["notice", "--format", "pdf", "--out", pdf_dir.to_str().unwrap()]);
        assert!(out.contains(".pdf"), "{out}");
    } else {
        common::skip("the leaflet: chromium is not installed (apt-get install chromium)");
    }

    // 6. The report: figures corrected, the correction and the flag listed; verify passes.
    let report = ok(&dir, &["report"]);
    assert!(report.contains("a child asleep on the back seat was missed"), "{report}");
    assert!(report.contains("outside every truce window"), "{report}");
    assert!(report.contains("Europe/Monaco"), "{report}");
    let verified = ok(&dir, &["verify"]);
    assert!(verified.contains("withdrawn (counted out at a corridor exit): 45"), "{verified}");
    if tamper {
        let copy = tmp.path().join("copy");
        std::fs::create_dir_all(&copy).unwrap();
        let db = dir.join("ledger.sqlite");
        rusqlite::Connection::open(&db).unwrap().execute_batch("PRAGMA wal_checkpoint(TRUNCATE);").unwrap();
        for f in ["corridor.json", "log.key", "ledger.sqlite", "map.cnet"] {
            std::fs::copy(dir.join(f), copy.join(f)).unwrap();
        }
        let c = rusqlite::Connection::open(copy.join("ledger.sqlite")).unwrap();
        let leaf: Vec<u8> = c.query_row("SELECT leaf FROM entries WHERE idx = ?1", [index.as_i64().unwrap()], |r| r.get(0)).unwrap();
        let changed = String::from_utf8(leaf).unwrap().replace("\"women\":20", "\"women\":90");
        c.execute("UPDATE entries SET leaf = ?1 WHERE idx = ?2", rusqlite::params![changed.as_bytes(), index.as_i64().unwrap()]).unwrap();
        drop(c);
        let e = fails(&copy, &["report"]);
        assert!(e.contains(&format!("entry {}", index)), "report names the changed entry: {e}");
        ok(&dir, &["report"]);
    }
    let _ = corridor;
}

#[test]
fn a_new_operation_on_the_monaco_map_runs_end_to_end() {
    run_operation(&[], true);
}

#[test]
fn a_new_operation_runs_on_postgresql_too() {
    let Some(url) = common::database_url() else { return };
    run_operation(&["--database-url".into(), url, "--pg-schema".into(), common::unique_schema("monaco")], false);
}
