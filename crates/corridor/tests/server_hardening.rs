//! Faults that probing the server found (issue 20), each driven end to end
//! against the real `corridor serve`, on SQLite and, when DATABASE_URL is
//! set, on PostgreSQL.

mod common;

use std::time::{Duration, Instant};

use common::{backends, ok, token, Served};
use reqwest::blocking::Client;
use reqwest::StatusCode;
use serde_json::{json, Value};

/// A new log in `tmp/ops` on the backend `init` names.
fn init(tmp: &std::path::Path, init: &[String]) -> std::path::PathBuf {
    let dir = tmp.join("ops");
    let mut args = vec!["init", "--origin", "ops.example.org/hardening"];
    args.extend(init.iter().map(String::as_str));
    ok(&dir, &args);
    dir
}

fn drop_pg(init: &[String]) {
    if let [_, url, _, schema] = init {
        corridor_ledger::store::postgres::drop_schema(url, schema).expect("drop test schema");
    }
}

fn airdrops(prefix: &str, n: usize) -> Value {
    let events: Vec<Value> = (0..n)
        .map(|i| {
            json!({"v": 1, "id": format!("{prefix}-{i}"), "time": "2016-12-23T09:00:00Z", "author": "hq",
                "body": {"airdrop": {"airdrop": format!("{prefix}-{i}"), "position": {"lat": 36.2, "lon": 37.15}, "contents": "food", "tonnes": 1.5, "recovered": true}}})
        })
        .collect();
    Value::Array(events)
}

fn post(http: &Client, s: &Served, token: &str, events: &Value) -> (StatusCode, Value) {
    let r = http.post(s.url("/api/v1/events")).bearer_auth(token).json(events).send().unwrap();
    let status = r.status();
    (status, r.json().unwrap())
}

/// Polls `check` for up to 5 s.
fn eventually(what: &str, mut check: impl FnMut() -> Result<(), String>) {
    let start = Instant::now();
    loop {
        match check() {
            Ok(()) => return,
            Err(e) if start.elapsed() > Duration::from_secs(5) => panic!("{what}: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// Issue 20, item 1: on PostgreSQL the first `GET /api/v1/events` ran the
/// blocking client on an async worker and panicked, poisoning the
/// ledger's reader lock; from then on writes got 201 while the public
/// summary and the figures stayed frozen. Reads are answered, and a later
/// write shows in both.
#[test]
fn reading_events_keeps_the_views_live_on_every_backend() {
    for (name, args) in backends("events_read") {
        let tmp = tempfile::tempdir().unwrap();
        let dir = init(tmp.path(), &args);
        let (hq, _) = token(&dir, &["--role", "hq"]);
        let s = Served::start(&dir, &[]);
        let http = Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
        let (status, answer) = post(&http, &s, &hq, &airdrops("a", 3));
        assert_eq!(status, StatusCode::CREATED, "{name}: {answer}");
        for _ in 0..3 {
            let r = http.get(s.url("/api/v1/events?from=0")).bearer_auth(&hq).send().unwrap_or_else(|e| panic!("{name}: GET /api/v1/events failed: {e}"));
            assert_eq!(r.status(), StatusCode::OK, "{name}");
            let entries: Value = r.json().unwrap();
            assert_eq!(entries["entries"].as_array().map(Vec::len), Some(3), "{name}: {entries}");
        }
        let (status, answer) = post(&http, &s, &hq, &airdrops("b", 2));
        assert_eq!(status, StatusCode::CREATED, "{name}: {answer}");
        eventually(&format!("{name}: the public summary shows the later write"), || {
            let v: Value = http.get(s.url("/api/v1/public/summary")).send().map_err(|e| e.to_string())?.json().map_err(|e| e.to_string())?;
            (v["size"] == json!(5)).then_some(()).ok_or_else(|| format!("size {}", v["size"]))
        });
        eventually(&format!("{name}: the figures show the later write"), || {
            let v: Value = http.get(s.url("/api/v1/figures")).bearer_auth(&hq).send().map_err(|e| e.to_string())?.json().map_err(|e| e.to_string())?;
            (v["recovery"]["airdrops"] == json!(5)).then_some(()).ok_or_else(|| format!("airdrops {}", v["recovery"]["airdrops"]))
        });
        drop(s);
        drop_pg(&args);
    }
}
