//! `corridor serve` killed with SIGKILL while four clients write over HTTP,
//! three times, on SQLite and on PostgreSQL: every event acknowledged
//! (201 or 200) is in the log exactly once, a batch resent after the
//! restart keeps its indexes or is appended whole, and the log verifies.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{ok, token, Served};

fn airdrop(id: &str) -> serde_json::Value {
    serde_json::json!({"v": 1, "id": id, "time": "2016-12-23T09:00:00Z", "author": "hq",
        "body": {"airdrop": {"airdrop": id, "position": {"lat": 36.2, "lon": 37.15}, "contents": "food", "tonnes": 1.0, "recovered": true}}})
}

#[test]
fn serve_killed_under_concurrent_writes_loses_nothing_acknowledged() {
    for (name, init) in common::backends("servecrash") {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("ops");
        let mut args = vec!["init"];
        args.extend(init.iter().map(String::as_str));
        ok(&dir, &args);
        let (hq, _) = token(&dir, &["--role", "hq"]);
        let mut acked: HashMap<String, u64> = HashMap::new();
        let mut resend: Vec<Vec<serde_json::Value>> = Vec::new();
        for round in 0..3 {
            let s = Served::start(&dir, &[]);
            // What was in flight at the last kill, sent again: either kept
            // (200, its indexes) or appended now (201), never twice.
            let http = reqwest::blocking::Client::new();
            for batch in resend.drain(..) {
                let r = http.post(s.url("/api/v1/events")).bearer_auth(&hq).json(&batch).send().unwrap();
                assert!(r.status().as_u16() == 201 || r.status().as_u16() == 200, "{name}: resend answered {}", r.status());
                let body: serde_json::Value = r.json().unwrap();
                for (e, i) in batch.iter().zip(body["indexes"].as_array().unwrap()) {
                    acked.insert(e["id"].as_str().unwrap().to_string(), i.as_u64().unwrap());
                }
            }
            let stop = Arc::new(AtomicBool::new(false));
            let got = Arc::new(Mutex::new(HashMap::new()));
            let lost = Arc::new(Mutex::new(Vec::new()));
            let writers: Vec<_> = (0..4)
                .map(|w| {
                    let (url, hq, stop, got, lost) = (s.url("/api/v1/events"), hq.clone(), stop.clone(), got.clone(), lost.clone());
                    std::thread::spawn(move || {
                        let http = reqwest::blocking::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
                        let mut n = 0;
                        while !stop.load(Ordering::Relaxed) {
                            let batch: Vec<serde_json::Value> = (0..5).map(|k| airdrop(&format!("r{round}-w{w}-{n}-{k}"))).collect();
                            n += 1;
                            match http.post(&url).bearer_auth(&hq).json(&batch).send().and_then(|r| {
                                let status = r.status().as_u16();
                                r.json::<serde_json::Value>().map(|b| (status, b))
                            }) {
                                Ok((201 | 200, body)) => {
                                    let mut g = got.lock().unwrap();
                                    for (e, i) in batch.iter().zip(body["indexes"].as_array().unwrap()) {
                                        g.insert(e["id"].as_str().unwrap().to_string(), i.as_u64().unwrap());
                                    }
                                }
                                Ok((status, body)) => panic!("a write answered {status}: {body}"),
                                Err(_) => {
                                    lost.lock().unwrap().push(batch);
                                    return;
                                }
                            }
                        }
                    })
                })
                .collect();
            std::thread::sleep(Duration::from_millis(700));
            drop(s); // SIGKILL, mid-write
            stop.store(true, Ordering::Relaxed);
            for w in writers {
                w.join().unwrap();
            }
            acked.extend(got.lock().unwrap().drain());
            resend.extend(lost.lock().unwrap().drain(..));
        }
        assert!(acked.len() > 100, "{name}: only {} events acknowledged", acked.len());
        // Every acknowledged event is in the log once, at its index.
        let shown = ok(&dir, &["log", "show", "--json"]);
        let mut seen: HashMap<String, u64> = HashMap::new();
        for line in shown.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let id = v["event"]["id"].as_str().unwrap().to_string();
            assert!(seen.insert(id.clone(), v["index"].as_u64().unwrap()).is_none(), "{name}: {id} twice in the log");
        }
        for (id, i) in &acked {
            assert_eq!(seen.get(id), Some(i), "{name}: acknowledged {id} at {i} is not there");
        }
        eprintln!("{name}: {} events acknowledged over 3 kills, {} in the log", acked.len(), seen.len());
        let v = ok(&dir, &["verify"]);
        assert!(v.contains(&format!("entries: {}", seen.len())), "{name}: {v}");
        if let [_, url, _, schema] = init.as_slice() {
            corridor_ledger::store::postgres::drop_schema(url, schema).unwrap();
        }
    }
}
