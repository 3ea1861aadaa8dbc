//! The operations API's refusals, end to end: the real `corridor serve` on a
//! demo log, driven over HTTP, on SQLite and, when DATABASE_URL is set,
//! PostgreSQL (a fresh schema per test). Every refused write leaves the log
//! as it was (its size before == after); a good passage grows it by exactly
//! one.

mod common;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;

use common::token;
use reqwest::blocking::Client;
use reqwest::StatusCode;
use serde_json::{json, Value};

/// A demo log served on a free loopback port; killed on drop, its
/// PostgreSQL schema (if any) dropped after.
struct Server {
    served: common::Served,
    dir: PathBuf,
    hq: String,
    http: Client,
    _tmp: tempfile::TempDir,
    _schema: common::DropSchema,
}

impl Server {
    /// `init` is the data directory's `corridor init` arguments (see
    /// `common::backends`).
    fn start(init: &[String]) -> Server {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("ops");
        if !init.is_empty() {
            let mut args = vec!["init", "--origin", "corridor.invalid/server-api"];
            args.extend(init.iter().map(String::as_str));
            common::ok(&dir, &args);
        }
        let schema = common::DropSchema(init.to_vec());
        common::ok(&dir, &["demo"]);
        let (hq, _) = token(&dir, &["--role", "hq"]);
        let served = common::Served::start(&dir, &[]);
        Server { served, dir, hq, http: Client::new(), _tmp: tmp, _schema: schema }
    }

    fn url(&self, path: &str) -> String {
        self.served.url(path)
    }

    /// The log's size, as the server's ledger has it.
    fn size(&self) -> u64 {
        let r: Value = self.http.get(self.url("/api/v1/events?from=0&to=0")).bearer_auth(&self.hq).send().unwrap().json().unwrap();
        r["size"].as_u64().expect("size")
    }

    /// POSTs `body` to /api/v1/events with `token`: status and the JSON answer.
    fn post(&self, token: &str, body: impl Into<reqwest::blocking::Body>) -> (StatusCode, Value) {
        let r = self.http.post(self.url("/api/v1/events")).bearer_auth(token).header("content-type", "application/json").body(body).send().unwrap();
        let status = r.status();
        let text = r.text().unwrap();
        (status, serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}")))
    }

    /// A refused write: its status, its message, and the log unchanged.
    fn refused(&self, token: &str, body: impl Into<reqwest::blocking::Body>, status: StatusCode) -> String {
        let before = self.size();
        let (got, answer) = self.post(token, body);
        assert_eq!(got, status, "{answer}");
        assert_eq!(self.size(), before, "a refused write changed the log");
        answer["error"].as_str().unwrap_or_else(|| panic!("no error message: {answer}")).to_string()
    }
}

fn passage(id: &str, author: &str, convoy: &str, vehicle: &str, checkpoint: &str) -> Value {
    json!({
        "v": 1, "id": id, "time": "2016-12-22T10:00:00Z", "author": author,
        "body": {"passage": {"vehicle": vehicle, "convoy": convoy, "corridor": "ramouseh-rashidin4", "checkpoint": checkpoint, "counts": {"women": 2, "children": 3}, "wounded": 0}}
    })
}

#[test]
fn malformed_json_and_wrong_types_are_400() {
    for (backend, init) in common::backends("api_400") {
        eprintln!("{backend}:");
        let s = Server::start(&init);
        let msg = s.refused(&s.hq, r#"{"v": 1, "id": "x", "#, StatusCode::BAD_REQUEST);
        assert!(msg.contains("line 1"), "the message says where: {msg}");
        let msg = s.refused(&s.hq, "this is not JSON", StatusCode::BAD_REQUEST);
        assert!(msg.contains("expected") || msg.contains("JSON"), "{msg}");
        // Wrong types: a string for the version, a string for a head count.
        let mut e = passage("p-wrong-v", "hq", "convoy-001", "amb-001", "cp1-ramouseh-bridge");
        e["v"] = json!("one");
        let msg = s.refused(&s.hq, e.to_string(), StatusCode::BAD_REQUEST);
        assert!(msg.contains("invalid type"), "{msg}");
        let mut e = passage("p-wrong-count", "hq", "convoy-001", "amb-001", "cp1-ramouseh-bridge");
        e["body"]["passage"]["counts"]["women"] = json!("two");
        let msg = s.refused(&s.hq, e.to_string(), StatusCode::BAD_REQUEST);
        assert!(msg.contains("invalid type") && msg.contains("counts"), "the message names the field: {msg}");
    }
}

#[test]
fn a_body_over_1_mib_is_413() {
    for (backend, init) in common::backends("api_413") {
        eprintln!("{backend}:");
        let s = Server::start(&init);
        // A valid-looking array padded past the limit.
        let big = format!("[{}]", vec![passage("p", "hq", "convoy-001", "amb-001", "cp1-ramouseh-bridge").to_string(); 6000].join(","));
        assert!(big.len() > 1 << 20);
        let msg = s.refused(&s.hq, big, StatusCode::PAYLOAD_TOO_LARGE);
        assert!(msg.contains("1 MiB"), "{msg}");
    }
}

#[test]
fn a_resent_event_is_200_with_its_index_and_a_reused_id_is_409() {
    for (backend, init) in common::backends("api_409") {
        eprintln!("{backend}:");
        let s = Server::start(&init);
        let first: Value = s.http.get(s.url("/api/v1/events?from=5&to=6")).bearer_auth(&s.hq).send().unwrap().json().unwrap();
        let event = first["entries"][0]["event"].clone();
        assert_eq!(event["author"], "hq", "{event}");
        // The same event again (a retry after a lost answer): 200, its index, nothing written.
        let before = s.size();
        let (status, answer) = s.post(&s.hq, event.to_string());
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!((answer["indexes"].clone(), answer["new"].clone()), (json!([5]), json!(0)), "{answer}");
        assert_eq!(s.size(), before);
        // The same id with other content is another event: 409, saying so.
        let mut other = event.clone();
        other["time"] = json!("2016-01-01T00:00:00Z");
        let msg = s.refused(&s.hq, other.to_string(), StatusCode::CONFLICT);
        assert!(msg.contains("as a different event"), "{msg}");
        // A batch of a stored event and a new one appends only the new one.
        let aid = json!({"v": 1, "id": "new-claim", "time": "2016-12-30T00:00:00Z", "author": "hq",
            "body": {"claim_recorded": {"claim": "c-new", "source": "x", "date": "2016-12-30", "text": "t", "figure": 1.0, "measure": "withdrawn"}}});
        let (status, answer) = s.post(&s.hq, json!([event, aid]).to_string());
        assert_eq!(status, StatusCode::CREATED, "{answer}");
        assert_eq!((answer["indexes"].clone(), answer["new"].clone()), (json!([5, before]), json!(1)), "{answer}");
        assert_eq!(s.size(), before + 1);
        // An event dated in the server's future (a typo in the year) is refused.
        let mut future = aid.clone();
        future["id"] = json!("future-claim");
        future["time"] = json!("2099-12-03T10:00:00Z");
        let msg = s.refused(&s.hq, future.to_string(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(msg.contains("ahead of this server's clock") && msg.contains("2099-12-03T10:00:00Z"), "{msg}");
    }
}

#[test]
fn expired_and_revoked_tokens_are_401() {
    for (backend, init) in common::backends("api_401") {
        eprintln!("{backend}:");
        let s = Server::start(&init);
        // A lifetime must be more than 0 hours: one of about a second, run out.
        let (expired, _) = token(&s.dir, &["--role", "hq", "--expires-hours", "0.0003"]);
        std::thread::sleep(std::time::Duration::from_millis(1500));
        let e = passage("p-expired", "hq", "convoy-001", "amb-001", "cp1-ramouseh-bridge");
        let msg = s.refused(&expired, e.to_string(), StatusCode::UNAUTHORIZED);
        assert!(msg.contains("expired"), "{msg}");

        let (secret, id) = token(&s.dir, &["--role", "hq"]);
        let ok = s.http.get(s.url("/api/v1/figures")).bearer_auth(&secret).send().unwrap();
        assert_eq!(ok.status(), StatusCode::OK);
        // Revoked while the server runs.
        common::ok(&s.dir, &["token", "revoke", &id]);
        let msg = s.refused(&secret, e.to_string(), StatusCode::UNAUTHORIZED);
        assert!(msg.contains("revoked"), "{msg}");
        let r = s.http.get(s.url("/api/v1/figures")).bearer_auth(&secret).send().unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        let msg = s.refused("crd_hq_made-up", e.to_string(), StatusCode::UNAUTHORIZED);
        assert!(msg.contains("no such token"), "{msg}");
    }
}

#[test]
fn scopes_are_enforced_403() {
    for (backend, init) in common::backends("api_403") {
        eprintln!("{backend}:");
        let s = Server::start(&init);
        let (cp1, _) = token(&s.dir, &["--role", "checkpoint", "--checkpoint", "cp1-ramouseh-bridge"]);
        // A passage at another checkpoint, even with this token's author.
        let e = passage("p-other-cp", "cp1-ramouseh-bridge", "convoy-001", "amb-001", "cp2-ramouseh-road");
        let msg = s.refused(&cp1, e.to_string(), StatusCode::FORBIDDEN);
        assert!(msg.contains("checkpoint:cp2-ramouseh-road"), "the message names the scope: {msg}");
        // Writing as someone else.
        let e = passage("p-as-hq", "hq", "convoy-001", "amb-001", "cp1-ramouseh-bridge");
        let msg = s.refused(&cp1, e.to_string(), StatusCode::FORBIDDEN);
        assert!(msg.contains("writes as \"cp1-ramouseh-bridge\""), "{msg}");
        // A convoy dispatch is hq's.
        let dispatch = json!({"v": 1, "id": "cv-by-cp", "time": "2016-12-22T10:00:00Z", "author": "cp1-ramouseh-bridge",
            "body": {"convoy_dispatched": {"convoy": "convoy-x", "corridor": "ramouseh-rashidin4", "vehicles": ["amb-001"]}}});
        let msg = s.refused(&cp1, dispatch.to_string(), StatusCode::FORBIDDEN);
        assert!(msg.contains("needs an hq token"), "{msg}");

        // A monitor cannot write operational events.
        let vkey = common::ok(&s.dir, &["log", "key"]).trim().to_string();
        let (monitor, _) = token(&s.dir, &["--role", "monitor", "--key", &vkey]);
        let mut e = passage("p-monitor", "monitor", "convoy-001", "amb-001", "cp1-ramouseh-bridge");
        let msg = s.refused(&monitor, e.to_string(), StatusCode::FORBIDDEN);
        assert!(msg.contains("monitor token cannot write operational events"), "{msg}");
        e["body"] = json!({"corridor_closed": {"corridor": "ramouseh-rashidin4", "reason": "test"}});
        let msg = s.refused(&monitor, e.to_string(), StatusCode::FORBIDDEN);
        assert!(msg.contains("monitor token cannot write"), "{msg}");
    }
}

#[test]
fn public_endpoints_name_no_vehicle_or_convoy() {
    for (backend, init) in common::backends("api_public") {
        eprintln!("{backend}:");
        let s = Server::start(&init);
        // Every vehicle and convoy id in the demo's log.
        let log = common::ok(&s.dir, &["log", "show", "--json"]);
        let mut ids = std::collections::BTreeSet::new();
        for line in log.lines() {
            let v: Value = serde_json::from_str(line).unwrap();
            let body = &v["event"]["body"];
            if let Some(x) = body["vehicle_registered"]["vehicle"].as_str() {
                ids.insert(x.to_string());
            }
            if let Some(x) = body["convoy_dispatched"]["convoy"].as_str() {
                ids.insert(x.to_string());
            }
        }
        assert!(ids.len() > 700 && ids.iter().any(|i| i.starts_with("bus-")) && ids.iter().any(|i| i.starts_with("convoy-")), "{} ids", ids.len());
        let mut bodies = Vec::new();
        for p in ["/api/v1/public/summary", "/api/v1/public/notices", "/api/v1/public/map"] {
            let r = s.http.get(s.url(p)).send().unwrap();
            assert_eq!(r.status(), StatusCode::OK, "{p}");
            bodies.push((p.to_string(), r.text().unwrap()));
        }
        // The feed's first message.
        let mut feed = BufReader::new(s.http.get(s.url("/api/v1/feed")).send().unwrap());
        let mut first = String::new();
        while !first.ends_with("\n\n") {
            let mut line = String::new();
            assert!(feed.read_line(&mut line).unwrap() > 0, "the feed ended");
            first.push_str(&line);
        }
        assert!(first.starts_with("event: summary\ndata: {"), "{first}");
        bodies.push(("/api/v1/feed".into(), first));
        let summary: Value = serde_json::from_str(&bodies[0].1).unwrap();
        assert!(summary["withdrawn"]["people"].as_u64().unwrap() > 0, "the summary has the aggregates");
        for (p, text) in &bodies {
            for bad in ["bus-", "amb-", "convoy-", "\"vehicle\"", "\"convoy\""] {
                assert!(!text.contains(bad), "{p} contains {bad:?}");
            }
            for id in &ids {
                assert!(!text.contains(&format!("\"{id}\"")), "{p} names {id:?}");
            }
        }
    }
}

#[test]
fn a_good_passage_by_its_checkpoint_is_201_and_grows_the_log_by_one() {
    for (backend, init) in common::backends("api_201") {
        eprintln!("{backend}:");
        let s = Server::start(&init);
        let (cp1, _) = token(&s.dir, &["--role", "checkpoint", "--checkpoint", "cp1-ramouseh-bridge"]);
        // A new trip: hq dispatches a convoy of one demo vehicle.
        let dispatch = json!({"v": 1, "id": "test-convoy-dispatched", "time": "2016-12-22T09:00:00Z", "author": "hq",
            "body": {"convoy_dispatched": {"convoy": "test-convoy", "corridor": "ramouseh-rashidin4", "vehicles": ["bus-001"]}}});
        let (status, answer) = s.post(&s.hq, dispatch.to_string());
        assert_eq!(status, StatusCode::CREATED, "{answer}");
        let before = s.size();
        let e = passage("test-passage-1", "cp1-ramouseh-bridge", "test-convoy", "bus-001", "cp1-ramouseh-bridge");
        let (status, answer) = s.post(&cp1, e.to_string());
        assert_eq!(status, StatusCode::CREATED, "{answer}");
        assert_eq!(answer["indexes"], json!([before]), "{answer}");
        assert_eq!(answer["size"], json!(before + 1));
        assert_eq!(s.size(), before + 1);
        // The same passage again (a resend): its index, nothing written.
        let (status, answer) = s.post(&cp1, e.to_string());
        assert_eq!((status, answer["indexes"].clone()), (StatusCode::OK, json!([before])), "{answer}");
        assert_eq!(s.size(), before + 1);
        // The checkpoint reads its own view: the passage, the vehicle no longer expected.
        let view: Value = s.http.get(s.url("/api/v1/checkpoints/cp1-ramouseh-bridge")).bearer_auth(&cp1).send().unwrap().json().unwrap();
        assert_eq!(view["passages"][0]["id"], "test-passage-1");
        assert_eq!(view["corridor"]["id"], "ramouseh-rashidin4");
        assert!(view["expected"].as_array().unwrap().iter().all(|v| v["convoy"] != "test-convoy"), "bus-001 was counted here");
        // …and not another checkpoint's.
        let r = s.http.get(s.url("/api/v1/checkpoints/cp6-rashidin4")).bearer_auth(&cp1).send().unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        // It corrects its own passage (a miscount), and the view shows the correction.
        let fix = json!({"v": 1, "id": "fix-1", "time": "2016-12-22T10:05:00Z", "author": "cp1-ramouseh-bridge",
            "body": {"entry_corrected": {"corrects": "test-passage-1", "reason": "children miscounted",
                "body": {"passage": {"vehicle": "bus-001", "convoy": "test-convoy", "corridor": "ramouseh-rashidin4", "checkpoint": "cp1-ramouseh-bridge", "counts": {"women": 2, "children": 4}, "wounded": 0}}}}});
        let (status, answer) = s.post(&cp1, fix.to_string());
        assert_eq!(status, StatusCode::CREATED, "{answer}");
        let view: Value = s.http.get(s.url("/api/v1/checkpoints/cp1-ramouseh-bridge")).bearer_auth(&cp1).send().unwrap().json().unwrap();
        assert_eq!(view["passages"][0]["counts"]["children"], 4, "{}", view["passages"][0]);
        assert_eq!(view["corrections"][0]["reason"], "children miscounted", "{}", view["corrections"]);
        // A correction of another checkpoint's passage is refused.
        let demo_passage: Value = s.http.get(s.url("/api/v1/checkpoints/cp6-rashidin4")).bearer_auth(&s.hq).send().unwrap().json().unwrap();
        let other_id = demo_passage["passages"][0]["id"].as_str().unwrap().to_string();
        let bad = json!({"v": 1, "id": "fix-2", "time": "2016-12-22T10:05:00Z", "author": "cp1-ramouseh-bridge",
            "body": {"entry_corrected": {"corrects": other_id, "reason": "x", "void": true}}});
        let msg = s.refused(&cp1, bad.to_string(), StatusCode::FORBIDDEN);
        assert!(msg.contains("was counted at \"cp6-rashidin4\""), "{msg}");
        // The same vehicle counted twice at one checkpoint in one trip: refused by the model.
        let again = passage("test-passage-2", "cp1-ramouseh-bridge", "test-convoy", "bus-001", "cp1-ramouseh-bridge");
        let msg = s.refused(&cp1, again.to_string(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(msg.contains("already counted"), "{msg}");
    }
}
