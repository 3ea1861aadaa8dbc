//! Every command that reads a data directory's log reads it through the
//! one checked walk: an entry altered in the store (its bytes still a
//! valid, canonical event) is refused by `log show` and by `report` after
//! a correction (the fold redone), naming the entry; nothing is printed
//! from it.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use corridor_model::{AidDelivery, Body, Correction, District, Event, Position};

fn aid(tonnes: f64) -> Body {
    Body::AidDelivered(AidDelivery { delivery: "aid-1".into(), commodity: "flour".into(), tonnes, families: 3, people: 14, district: "d-1".into(), organisation: "test".into() })
}

/// A district, an aid delivery to it, and a correction of the delivery
/// (so a report folds the log a second time).
fn corrected_log(tmp: &Path) -> PathBuf {
    let dir = tmp.join("d");
    ok(&dir, &["init", "--origin", "corridor.invalid/test"]);
    let t = chrono::DateTime::parse_from_rfc3339("2016-12-23T00:00:00Z").unwrap().to_utc();
    let district = District { district: "d-1".into(), name: "D 1".into(), name_ar: String::new(), position: Position { lat: 36.2, lon: 37.15 }, hectares: 100.0 };
    let fix = Correction { corrects: "aid-1".into(), reason: "two tonnes, not one".into(), time: None, body: Some(Box::new(aid(2.0))), void: false };
    let events = vec![
        Event::new("district-1", t, "hq", Body::DistrictDeclared(district)),
        Event::new("aid-1", t, "hq", aid(1.0)),
        Event::new("fix-1", t, "hq", Body::EntryCorrected(fix)),
    ];
    let file = tmp.join("events.json");
    std::fs::write(&file, serde_json::to_string(&events).unwrap()).unwrap();
    ok(&dir, &["log", "append", file.to_str().unwrap()]);
    dir
}

/// Alters entry `index` in the store so that it still parses, canonical:
/// its author `hq` becomes `hp`; with `also_fix_hash` its recorded leaf
/// hash is made to match the new bytes.
fn alter(dir: &Path, index: i64, also_fix_hash: bool) {
    let c = rusqlite::Connection::open(dir.join("ledger.sqlite")).unwrap();
    let leaf: Vec<u8> = c.query_row("SELECT leaf FROM entries WHERE idx = ?1", [index], |r| r.get(0)).unwrap();
    let altered = String::from_utf8(leaf).unwrap().replace("\"author\":\"hq\"", "\"author\":\"hp\"").into_bytes();
    assert!(corridor_model::parse::parse_leaf(&altered).is_ok(), "the altered entry is still a valid, canonical event");
    c.execute("UPDATE entries SET leaf = ?1 WHERE idx = ?2", rusqlite::params![altered, index]).unwrap();
    if also_fix_hash {
        let mut h = vec![0u8];
        h.extend_from_slice(&altered);
        let hash = <sha2::Sha256 as sha2::Digest>::digest(&h).to_vec();
        c.execute("UPDATE entries SET hash = ?1 WHERE idx = ?2", rusqlite::params![hash, index]).unwrap();
    }
}

/// A copy of the log's directory, to alter.
fn copy(from: &Path, to: &Path) -> PathBuf {
    rusqlite::Connection::open(from.join("ledger.sqlite")).unwrap().execute_batch("PRAGMA wal_checkpoint(TRUNCATE);").unwrap();
    std::fs::create_dir_all(to).unwrap();
    for f in std::fs::read_dir(from).unwrap() {
        let f = f.unwrap();
        if f.file_type().unwrap().is_file() {
            std::fs::copy(f.path(), to.join(f.file_name())).unwrap();
        }
    }
    to.to_path_buf()
}

#[test]
fn log_show_refuses_an_altered_log_and_prints_nothing_from_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = corrected_log(tmp.path());
    let shown = ok(&dir, &["log", "show"]);
    assert_eq!(shown.lines().count(), 3, "{shown}");
    let json = ok(&dir, &["log", "show", "--json", "--from", "1", "--to", "2"]);
    let line: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
    assert_eq!((line["index"].as_u64(), line["event"]["id"].as_str()), (Some(1), Some("aid-1")), "{json}");
    for also_fix_hash in [false, true] {
        let altered = copy(&dir, &tmp.path().join(format!("altered-{also_fix_hash}")));
        alter(&altered, 1, also_fix_hash);
        for range in [&["log", "show"][..], &["log", "show", "--json"], &["log", "show", "--from", "2"]] {
            let out = corridor(&altered, range);
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success(), "{range:?} (hash fixed too: {also_fix_hash}) printed an altered log:\n{}", String::from_utf8_lossy(&out.stdout));
            assert!(out.stdout.is_empty(), "nothing is printed from an altered log: {}", String::from_utf8_lossy(&out.stdout));
            assert!(err.contains("fails verification"), "{err}");
            if !also_fix_hash {
                assert!(err.contains("entry 1: its bytes do not hash"), "the entry is named: {err}");
            }
        }
    }
}

#[test]
fn report_after_a_correction_refuses_an_altered_log() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = corrected_log(tmp.path());
    for format in ["md", "hxl"] {
        ok(&dir, &["report", "--format", format]);
    }
    for also_fix_hash in [false, true] {
        let altered = copy(&dir, &tmp.path().join(format!("altered-{also_fix_hash}")));
        alter(&altered, 1, also_fix_hash);
        let out = corridor(&altered, &["report"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && out.stdout.is_empty(), "a report of an altered log:\n{}", String::from_utf8_lossy(&out.stdout));
        assert!(err.contains("no report was made") && err.contains("fails verification"), "{err}");
        if !also_fix_hash {
            assert!(err.contains("entry 1: its bytes do not hash"), "the entry is named: {err}");
        }
    }
}
