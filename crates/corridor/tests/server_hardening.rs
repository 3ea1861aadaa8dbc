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

/// The messages of a live feed, each `event: NAME\ndata: …`, read on a
/// thread until the stream ends (the channel then disconnects).
fn open_feed(s: &Served, token: &str) -> std::sync::mpsc::Receiver<String> {
    use std::io::{BufRead, BufReader};
    let (tx, rx) = std::sync::mpsc::channel();
    let r = Client::builder().timeout(Duration::from_secs(60)).build().unwrap().get(s.url("/api/v1/feed")).bearer_auth(token).send().unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    std::thread::spawn(move || {
        let mut lines = BufReader::new(r);
        let mut msg = String::new();
        loop {
            let mut line = String::new();
            match lines.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) if line == "\n" => {
                    if !msg.starts_with(':') && tx.send(std::mem::take(&mut msg)).is_err() {
                        return;
                    }
                    msg.clear();
                }
                Ok(_) => msg.push_str(&line),
            }
        }
    });
    rx
}

/// Waits until the feed ends (by `deadline`): its last message.
fn feed_end(rx: &std::sync::mpsc::Receiver<String>, deadline: Instant) -> String {
    let mut last = String::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(m) => last = m,
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return last,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => panic!("the feed still streams (last message: {last:?})"),
        }
    }
}

/// Issue 20, item 3: a feed opened with a token kept streaming every new
/// entry after `token revoke` or the token's expiry. It now ends, with a
/// `closed` message saying why, within a second of either.
#[test]
fn a_live_feed_ends_when_its_token_is_revoked_or_expires() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = init(tmp.path(), &[]);
    let (hq, hq_id) = token(&dir, &["--role", "hq"]);
    let (other_hq, _) = token(&dir, &["--role", "hq"]);
    let vkey = ok(&dir, &["log", "key"]).trim().to_string();
    let (monitor, _) = token(&dir, &["--role", "monitor", "--key", &vkey]);
    let s = Served::start(&dir, &[]);
    let http = Client::new();

    // Revoked: both feeds get the new entries until then; the hq one ends.
    let by_hq = open_feed(&s, &hq);
    let by_monitor = open_feed(&s, &monitor);
    assert!(by_hq.recv_timeout(Duration::from_secs(5)).unwrap().starts_with("event: summary"));
    let (status, answer) = post(&http, &s, &hq, &airdrops("a", 1));
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let seen = |rx: &std::sync::mpsc::Receiver<String>| loop {
        let m = rx.recv_timeout(Duration::from_secs(5)).expect("a message");
        if m.starts_with("event: event") {
            return m;
        }
    };
    assert!(seen(&by_hq).contains("\"a-0\""));
    assert!(seen(&by_monitor).contains("\"a-0\""));
    ok(&dir, &["token", "revoke", &hq_id]);
    let last = feed_end(&by_hq, Instant::now() + Duration::from_secs(2));
    assert!(last.starts_with("event: closed\ndata: {\"reason\":") && last.contains("revoked"), "{last:?}");
    // The monitor's feed goes on.
    let (status, answer) = post(&http, &s, &other_hq, &airdrops("b", 1));
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    assert!(seen(&by_monitor).contains("\"b-0\""));

    // Expired: a token valid for 3 s.
    let made = Instant::now();
    let (short, _) = token(&dir, &["--role", "hq", "--expires-hours", "0.001"]);
    let by_short = open_feed(&s, &short);
    let last = feed_end(&by_short, made + Duration::from_millis(4500));
    assert!(last.starts_with("event: closed") && last.contains("expired"), "{last:?}");
}

/// Issue 20, item 4: a checkpoint token posted, on its own corridor, an
/// incident naming another corridor's convoy and vehicles (`vehicle_lost`
/// for `fk-amb-001`), and it was accepted. Every id it names is now
/// checked against its corridor.
#[test]
fn a_checkpoint_token_cannot_name_another_corridors_convoy_or_vehicles() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    ok(&dir, &["demo"]);
    let (hq, _) = token(&dir, &["--role", "hq"]);
    let (cp1, _) = token(&dir, &["--role", "checkpoint", "--checkpoint", "cp1-ramouseh-bridge"]);
    let s = Served::start(&dir, &[]);
    let http = Client::new();
    let size = || -> u64 {
        let v: Value = http.get(s.url("/api/v1/events?from=0&to=0")).bearer_auth(&hq).send().unwrap().json().unwrap();
        v["size"].as_u64().unwrap()
    };
    let lost = |id: &str, convoy: &str, vehicle: &str| {
        json!({"v": 1, "id": id, "time": "2016-12-22T10:00:00Z", "author": "cp1-ramouseh-bridge",
            "body": {"incident": {"incident": id, "kind": "vehicle_lost", "corridor": "ramouseh-rashidin4", "convoy": convoy, "vehicles": [vehicle], "killed": 0, "description": "hit a mine"}}})
    };
    let before = size();
    // The Fu'ah/Kafarya convoy and its ambulance, on the Ramouseh corridor.
    let (status, answer) = post(&http, &s, &cp1, &lost("lost-fk", "convoy-023", "fk-amb-001"));
    assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
    assert!(answer["error"].as_str().unwrap().contains("lacks the scope corridor:fuah-kafarya-aleppo"), "{answer}");
    // Its own corridor's convoy with the other corridor's vehicle.
    let (status, answer) = post(&http, &s, &cp1, &lost("lost-mixed", "convoy-001", "fk-amb-001"));
    assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
    assert!(answer["error"].as_str().unwrap().contains("\"fk-amb-001\" is not one of convoy \"convoy-001\"'s vehicles"), "{answer}");
    assert_eq!(size(), before, "a refused write changed the log");
    // Its own convoy and vehicle: accepted.
    let (status, answer) = post(&http, &s, &cp1, &lost("lost-own", "convoy-001", "amb-001"));
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    // hq may name any.
    let mut e = lost("lost-fk-by-hq", "convoy-023", "fk-amb-001");
    e["author"] = json!("hq");
    e["body"]["incident"]["corridor"] = json!("fuah-kafarya-aleppo");
    let (status, answer) = post(&http, &s, &hq, &e);
    assert_eq!(status, StatusCode::CREATED, "{answer}");
}

/// Tokens of a PostgreSQL log live in its schema, so every server on the
/// log sees them: a token made through one data directory works on a
/// server started from another (tokens.json lived in each directory, so
/// only one server knew it), and a revocation holds on both at their next
/// request. A tokens.json from before is imported at the first use.
#[test]
fn servers_sharing_a_postgres_log_share_its_tokens_and_revocations() {
    let Some(url) = common::database_url() else { return };
    let schema = common::unique_schema("shared_tokens");
    let args = vec!["--database-url".to_string(), url, "--pg-schema".into(), schema];
    let tmp = tempfile::tempdir().unwrap();
    let a = init(tmp.path(), &args);
    // A second server of the same log, with its own data directory.
    let b = tmp.path().join("ops-b");
    ok(&b, &["init", "--join", &args[0], &args[1], &args[2], &args[3], "--key-file", a.join("log.key").to_str().unwrap()]);
    // A token from before tokens moved into the database.
    let (old, _) = corridor_server::TokenStore::open(&a).create(corridor_server::Role::Hq, None, None, None).unwrap();
    let (sa, sb) = (Served::join(&a), Served::join(&b));
    let (hq, id) = token(&b, &["--role", "hq"]);
    let http = Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    let status = |s: &Served, t: &str| http.get(s.url("/api/v1/figures")).bearer_auth(t).send().unwrap().status();
    for s in [&sa, &sb] {
        assert_eq!(status(s, &hq), StatusCode::OK, "a token made through the other data directory");
        assert_eq!(status(s, &old), StatusCode::OK, "a token from tokens.json");
    }
    assert!(!a.join("tokens.json").exists() && a.join("tokens.json.imported").exists());
    ok(&a, &["token", "revoke", &id]);
    for s in [&sa, &sb] {
        assert_eq!(status(s, &hq), StatusCode::UNAUTHORIZED, "revoked, at the next request");
        assert_eq!(status(s, &old), StatusCode::OK);
    }
    let list = ok(&b, &["token", "list"]);
    assert_eq!(list.lines().count(), 2, "{list}");
    assert!(list.lines().any(|l| l.starts_with(&id) && l.contains("revoked")), "{list}");
    drop((sa, sb));
    drop_pg(&args);
}

/// A correction of an entry already folded makes the server fold the log
/// again; the new fold used to be served before its answers were rendered,
/// so a reader could get `200` with an empty body (operation_monaco on
/// PostgreSQL failed on it in CI). Readers hammer the summary while
/// corrections force refolds of a 20,000-entry log: every answer is JSON.
#[test]
fn a_refold_never_serves_an_empty_summary() {
    for (backend, init_args) in backends("refold") {
        let tmp = tempfile::tempdir().unwrap();
        let dir = init(tmp.path(), &init_args);
        let file = tmp.path().join("drops.jsonl");
        let lines: Vec<String> = airdrops("d", 20_000).as_array().unwrap().iter().map(|e| e.to_string()).collect();
        std::fs::write(&file, lines.join("\n")).unwrap();
        ok(&dir, &["log", "append", file.to_str().unwrap()]);
        let (hq, _) = token(&dir, &["--role", "hq"]);
        let s = Served::start(&dir, &[]);
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let reader = {
            let (url, stop) = (s.url("/api/v1/public/summary"), stop.clone());
            std::thread::spawn(move || {
                let http = Client::new();
                let mut reads = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let r = http.get(&url).send().unwrap();
                    assert_eq!(r.status(), StatusCode::OK);
                    let body = r.text().unwrap();
                    assert!(serde_json::from_str::<Value>(&body).is_ok(), "a summary that is not JSON: {body:?}");
                    reads += 1;
                }
                reads
            })
        };
        let http = Client::new();
        for i in 0..5 {
            let fix = json!({"v": 1, "id": format!("fix-{i}"), "time": "2016-12-23T10:00:00Z", "author": "hq",
                "body": {"entry_corrected": {"corrects": format!("d-{i}"), "reason": "counted twice", "void": true}}});
            let (st, a) = post(&http, &s, &hq, &fix);
            assert_eq!(st, StatusCode::CREATED, "{backend}: {a}");
            std::thread::sleep(Duration::from_millis(300));
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let reads = reader.join().expect("every summary read was JSON");
        assert!(reads > 10, "{backend}: only {reads} reads");
        drop(s);
        drop_pg(&init_args);
    }
}

/// A server on a new, empty log serves its summary (size 0) and says it is
/// ready: the summary used to be an empty body until the first entry.
#[test]
fn an_empty_log_serves_its_summary_and_is_ready() {
    for (name, args) in backends("empty_summary") {
        let tmp = tempfile::tempdir().unwrap();
        let dir = init(tmp.path(), &args);
        let s = Served::start(&dir, &[]);
        let http = Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
        let text = http.get(s.url("/api/v1/public/summary")).send().unwrap().text().unwrap();
        let summary: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: the summary is not JSON ({e}): {text:?}"));
        assert_eq!(summary["size"], 0, "{name}: {summary}");
        let health = http.get(s.url("/api/v1/health")).send().unwrap();
        assert_eq!(health.status(), StatusCode::OK, "{name}");
        let h: Value = health.json().unwrap();
        assert_eq!((h["role"].as_str(), h["ready"].as_bool(), h["size"].as_u64()), (Some("single"), Some(true), Some(0)), "{name}: {h}");
        drop(s);
        drop_pg(&args);
    }
}

/// Issue 24: a reader of every entry that does not keep up used to miss
/// entries silently (the feed skipped what it could not hold). Now its
/// feed ends with a `closed` message giving the index to resume from: the
/// entries it got run without a gap up to just before that index.
#[test]
fn a_feed_reader_that_falls_behind_is_told_where_to_resume() {
    use std::io::{BufRead, BufReader};
    let tmp = tempfile::tempdir().unwrap();
    let dir = init(tmp.path(), &[]);
    let (hq, _) = token(&dir, &["--role", "hq"]);
    let s = Served::start(&dir, &[]);
    let http = Client::builder().timeout(Duration::from_secs(60)).build().unwrap();
    // Opened, then not read while far more is appended than the feed holds
    // (4,096 messages) and the sockets buffer.
    let feed = http.get(s.url("/api/v1/feed")).bearer_auth(&hq).send().unwrap();
    assert_eq!(feed.status(), StatusCode::OK);
    let total = 80_000;
    for b in 0..total / 2000 {
        let (status, answer) = post(&http, &s, &hq, &airdrops(&format!("lag{b}"), 2000));
        assert_eq!(status, StatusCode::CREATED, "{answer}");
    }
    let mut lines = BufReader::new(feed);
    let (mut indexes, mut closed) = (Vec::new(), None);
    let mut data = String::new();
    let mut name = String::new();
    loop {
        let mut line = String::new();
        if lines.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        if let Some(n) = line.strip_prefix("event: ") {
            name = n.trim().to_string();
        } else if let Some(d) = line.strip_prefix("data: ") {
            data = d.trim().to_string();
        } else if line == "\n" {
            let v: Value = serde_json::from_str(&data).unwrap_or(Value::Null);
            match name.as_str() {
                "event" => indexes.push(v["index"].as_u64().unwrap()),
                "closed" => {
                    closed = Some(v);
                    break;
                }
                _ => {}
            }
            if indexes.last() == Some(&(total as u64 - 1)) {
                break; // every entry came through: it never fell behind
            }
        }
    }
    let closed = closed.unwrap_or_else(|| panic!("the feed delivered {} of {total} entries and never said it fell behind", indexes.len()));
    let reason = closed["reason"].as_str().unwrap();
    assert!(reason.contains("fell behind") && reason.contains("/api/v1/events?from="), "{reason}");
    let resume = closed["resume_from"].as_u64().unwrap();
    assert!(resume < total as u64, "{closed}");
    assert_eq!(indexes, (resume - indexes.len() as u64..resume).collect::<Vec<_>>(), "the entries delivered run without a gap up to resume_from");
}
