//! Following a log from outside: C2SP tiles read by an independent client
//! (cloudflare/azul's `tlog_tiles` and `signed_note`), `corridor monitor
//! follow` through an honest server's growth, and its alarms on a rewrite,
//! a fork and a public summary that disagrees with the log; fork safety at
//! home (a deleted ledger is refused).

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{corridor, ok, token, Served};

/// `n` airdrops `prefix-0..n` (events that need no declaration).
fn airdrops(prefix: &str, n: usize, tonnes: f64) -> serde_json::Value {
    let events: Vec<serde_json::Value> = (0..n)
        .map(|i| {
            serde_json::json!({"v": 1, "id": format!("{prefix}-{i}"), "time": "2016-12-23T09:00:00Z", "author": "hq",
                "body": {"airdrop": {"airdrop": format!("{prefix}-{i}"), "position": {"lat": 36.2, "lon": 37.15}, "contents": "food", "tonnes": tonnes, "recovered": true}}})
        })
        .collect();
    serde_json::Value::Array(events)
}

fn post(s: &Served, hq: &str, events: &serde_json::Value) {
    let r = reqwest::blocking::Client::new().post(s.url("/api/v1/events")).bearer_auth(hq).json(events).send().unwrap();
    assert!(r.status().is_success(), "{}", r.text().unwrap());
}

fn append(dir: &Path, events: &serde_json::Value) {
    let f = dir.join("batch.json");
    std::fs::write(&f, events.to_string()).unwrap();
    ok(dir, &["log", "append", f.to_str().unwrap()]);
}

fn follow(mon: &Path, url: &str, key: &str, extra: &[&str]) -> Output {
    let mut args = vec!["monitor", "follow", url, "--log-key", key, "--once"];
    args.extend_from_slice(extra);
    corridor(mon, &args)
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// An alarm: exit status 2, the message, and an evidence file holding both
/// signed checkpoints, each verifiable with the log's key.
fn assert_alarm(o: &Output, mon: &Path, says: &str, log_key: &str) {
    let t = text(o);
    assert_eq!(o.status.code(), Some(2), "an alarm exits with 2: {t}");
    assert!(t.contains("ALARM") && t.contains(says), "{says:?} in: {t}");
    let evidence: PathBuf = t.lines().find_map(|l| l.strip_prefix("evidence: ")).map(PathBuf::from).expect("the evidence file is named");
    let ev = std::fs::read_to_string(&evidence).unwrap();
    let verifier = corridor_ledger::note::Verifier::from_vkey(log_key).unwrap();
    let notes: Vec<&str> = ev.split("\n## ").skip(1).map(|s| s.split_once('\n').unwrap().1).collect();
    assert_eq!(notes.len(), 2, "{ev}");
    for n in &notes {
        if n.trim_start().starts_with('{') {
            continue; // a public summary, not a note
        }
        corridor_ledger::note::open(n, std::slice::from_ref(&verifier)).unwrap_or_else(|e| panic!("evidence note does not verify ({e}): {n}"));
    }
    assert!(evidence.starts_with(mon));
}

fn setup(tmp: &Path, init: &[String]) -> (PathBuf, String) {
    let dir = tmp.join("ops");
    let mut args = vec!["init", "--origin", "ops.example.org/monitor-test"];
    args.extend(init.iter().map(String::as_str));
    ok(&dir, &args);
    let key = ok(&dir, &["log", "key"]).trim().to_string();
    (dir, key)
}

#[test]
fn monitor_follows_an_honest_server_through_ten_growth_steps() {
    for (name, init) in common::backends("monitor") {
        let tmp = tempfile::tempdir().unwrap();
        let (dir, key) = setup(tmp.path(), &init);
        let mon = tmp.path().join("icrc");
        let vkey = ok(&mon, &["monitor", "key", "--name", "icrc.example/monitor-1"]).trim().to_string();
        assert!(vkey.starts_with("icrc.example/monitor-1+"), "{vkey}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(mon.join("monitor.key")).unwrap().permissions().mode() & 0o777, 0o600);
        }
        // A second `key` keeps the first.
        assert_eq!(ok(&mon, &["monitor", "key", "--name", "other"]).trim(), vkey);
        let (hq, _) = token(&dir, &["--role", "hq"]);
        let (mt, _) = token(&dir, &["--role", "monitor", "--key", &vkey]);
        let s = Served::start(&dir, &[]);
        let mut total = 0;
        for step in 0..10 {
            let n = step * 61 + 3;
            post(&s, &hq, &airdrops(&format!("s{step}"), n, 1.5));
            total += n;
            let o = follow(&mon, &s.base, &key, &["--token", &mt]);
            let t = text(&o);
            assert!(o.status.success(), "{name} step {step}: {t}");
            assert!(t.contains(&format!("size {total}: {n} new entries")) && t.contains("figures match") && t.contains("cosigned"), "{name} step {step}: {t}");
        }
        // Again with nothing new: nothing to check, the cosignature kept once.
        let o = follow(&mon, &s.base, &key, &["--token", &mt]);
        assert!(o.status.success() && text(&o).contains(&format!("size {total}: 0 new entries")), "{}", text(&o));
        let cp = reqwest::blocking::get(s.url("/log/checkpoint")).unwrap().text().unwrap();
        assert_eq!(cp.lines().filter(|l| l.starts_with("— icrc.example/monitor-1 ")).count(), 1, "{name}: one cosignature line: {cp}");
        assert!(cp.starts_with(&format!("ops.example.org/monitor-test\n{total}\n")), "{cp}");
        // The copy is a log: `verify --tiles` on the server agrees with it.
        let v = ok(&mon, &["verify", "--tiles", &s.url("/log"), "--key", &key]);
        assert!(v.contains(&format!("entries: {total}")), "{v}");
    }
}

/// An independent client (cloudflare/azul's crates) reads the tiles: the
/// hash tiles authenticate against the signed root, every entry bundle's
/// leaves are in the tree, and the checkpoint's signature and a monitor's
/// cosignature/v1 verify.
#[test]
fn an_independent_client_reads_the_tiles_and_checks_the_cosignatures() {
    use signed_note::{Note, StandardVerifier, VerifierList};
    use tlog_tiles::{check_record, prove_record, record_hash, tree_hash, Checkpoint, Hash, Tile, TileHashReader, TileReader};

    /// A `cosignature/v1` verifier written from the C2SP spec.
    struct CosignatureV1 {
        name: String,
        id: u32,
        key: ed25519_dalek::VerifyingKey,
    }
    impl signed_note::Verifier for CosignatureV1 {
        fn name(&self) -> &str {
            &self.name
        }
        fn key_id(&self) -> u32 {
            self.id
        }
        fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
            use ed25519_dalek::Verifier as _;
            if sig.len() != 72 {
                return false;
            }
            let time = u64::from_be_bytes(sig[..8].try_into().unwrap());
            let mut m = format!("cosignature/v1\ntime {time}\n").into_bytes();
            m.extend_from_slice(msg);
            self.key.verify(&m, &ed25519_dalek::Signature::from_slice(&sig[8..]).unwrap()).is_ok()
        }
    }

    struct Http(String);
    impl TileReader for Http {
        fn height(&self) -> u8 {
            8
        }
        fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, tlog_tiles::Error> {
            Ok(tiles
                .iter()
                .map(|t| {
                    // C2SP paths: no height element, `entries` for data tiles.
                    let go = t.path();
                    let rest = go.strip_prefix("tile/8/").unwrap();
                    let rest = rest.strip_prefix("data/").map_or(rest.to_string(), |r| format!("entries/{r}"));
                    let r = reqwest::blocking::get(format!("{}/tile/{rest}", self.0)).unwrap();
                    assert!(r.status().is_success(), "{rest}: {}", r.status());
                    r.bytes().unwrap().to_vec()
                })
                .collect())
        }
        fn save_tiles(&self, _: &[Tile], _: &[Vec<u8>]) {}
    }

    let tmp = tempfile::tempdir().unwrap();
    let (dir, key) = setup(tmp.path(), &[]);
    append(&dir, &airdrops("a", 70_000 / 100, 2.0));
    append(&dir, &airdrops("b", 77, 2.0));
    let mon = tmp.path().join("who");
    let vkey = ok(&mon, &["monitor", "key", "--name", "who.example/monitor"]).trim().to_string();
    let (mt, _) = token(&dir, &["--role", "monitor", "--key", &vkey]);
    let s = Served::start(&dir, &[]);
    let o = follow(&mon, &s.base, &key, &["--token", &mt]);
    assert!(o.status.success(), "{}", text(&o));

    let note_bytes = reqwest::blocking::get(s.url("/log/checkpoint")).unwrap().bytes().unwrap();
    let note = Note::from_bytes(&note_bytes).unwrap();
    let raw = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, vkey.splitn(3, '+').nth(2).unwrap()).unwrap();
    assert_eq!(raw[0], 0x04);
    let cosigner = CosignatureV1 { name: "who.example/monitor".into(), id: signed_note::key_id("who.example/monitor", &raw), key: ed25519_dalek::VerifyingKey::from_bytes(&raw[1..].try_into().unwrap()).unwrap() };
    let list = VerifierList::new(vec![Box::new(StandardVerifier::new(&key).unwrap()), Box::new(cosigner)]);
    let (verified, unverified) = note.verify(&list).unwrap();
    assert_eq!(verified.len(), 2, "the log's signature and the monitor's cosignature verify");
    assert!(unverified.is_empty());

    let cp = Checkpoint::from_bytes(note.text()).unwrap();
    assert_eq!(cp.origin(), "ops.example.org/monitor-test");
    let size = cp.size();
    assert_eq!(size, 777);
    let reader = Http(s.url("/log"));
    let hr = TileHashReader::new(size, *cp.hash(), &reader);
    assert_eq!(tree_hash(size, &hr).unwrap(), *cp.hash(), "the hash tiles give the signed root");
    // Every leaf of two entry bundles (one full, one partial) is in the tree.
    for n in [0u64, 3] {
        let width = (size - n * 256).min(256);
        let path = if width == 256 { format!("{n:03}") } else { format!("{n:03}.p/{width}") };
        let bundle = reqwest::blocking::get(s.url(&format!("/log/tile/entries/{path}"))).unwrap().bytes().unwrap();
        let mut at = 0;
        for k in 0..width {
            let len = u16::from_be_bytes([bundle[at], bundle[at + 1]]) as usize;
            let leaf = &bundle[at + 2..at + 2 + len];
            at += 2 + len;
            let i = n * 256 + k;
            let proof = prove_record(size, i, &hr).unwrap();
            check_record(&proof, size, *cp.hash(), i, record_hash(leaf)).unwrap_or_else(|e| panic!("entry {i}: {e:?}"));
        }
        assert_eq!(at, bundle.len());
    }
    let _: Hash = record_hash(b"");
}

#[test]
fn monitor_raises_the_alarm_on_a_rewritten_history() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, key) = setup(tmp.path(), &[]);
    append(&dir, &airdrops("x", 300, 1.0));
    let mon = tmp.path().join("mon");
    {
        let s = Served::start(&dir, &[]);
        let o = follow(&mon, &s.base, &key, &[]);
        assert!(o.status.success(), "{}", text(&o));
    }
    // The same key signs another history: entry 5 changed, then more.
    let forged = tmp.path().join("forged");
    std::fs::create_dir_all(&forged).unwrap();
    for f in ["corridor.json", "log.key"] {
        std::fs::copy(dir.join(f), forged.join(f)).unwrap();
    }
    let mut events = airdrops("x", 300, 1.0);
    events[5]["body"]["airdrop"]["tonnes"] = serde_json::json!(900.0);
    append(&forged, &events);
    append(&forged, &airdrops("y", 20, 1.0));
    let s = Served::start(&forged, &[]);
    let o = follow(&mon, &s.base, &key, &[]);
    assert_alarm(&o, &mon, "is not consistent with the checkpoint of size 300", &key);
    // The monitor's copy is untouched: still the honest 300 entries.
    let o = follow(&mon, &s.base, &key, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("the copy holds 300 entries"), "{}", text(&o));
    drop(s);
    // An entry in the bundle the monitor reads again: caught byte for byte.
    let forged = tmp.path().join("forged2");
    std::fs::create_dir_all(&forged).unwrap();
    for f in ["corridor.json", "log.key"] {
        std::fs::copy(dir.join(f), forged.join(f)).unwrap();
    }
    let mut events = airdrops("x", 300, 1.0);
    events[290]["body"]["airdrop"]["contents"] = serde_json::json!("water");
    append(&forged, &events);
    append(&forged, &airdrops("y", 1, 1.0));
    let s = Served::start(&forged, &[]);
    assert_alarm(&follow(&mon, &s.base, &key, &[]), &mon, "entry 290, already checked at size 300, is served with other bytes now", &key);
}

#[test]
fn monitor_raises_the_alarm_on_a_fork_and_home_refuses_a_lost_ledger() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, key) = setup(tmp.path(), &[]);
    append(&dir, &airdrops("x", 40, 1.0));
    let mon = tmp.path().join("mon");
    {
        let s = Served::start(&dir, &[]);
        assert!(follow(&mon, &s.base, &key, &[]).status.success());
    }
    // The ledger file goes missing: the server refuses a new history under the same key.
    std::fs::rename(dir.join("ledger.sqlite"), tmp.path().join("ledger.bak")).unwrap();
    let _ = std::fs::remove_file(dir.join("ledger.sqlite-wal"));
    let _ = std::fs::remove_file(dir.join("ledger.sqlite-shm"));
    let err = common::fails(&dir, &["serve", "--listen", "127.0.0.1:0"]);
    assert!(err.contains("signed a checkpoint of 40 entries") && err.contains("second history"), "{err}");
    let err = common::fails(&dir, &["report"]);
    assert!(err.contains("this key signed 40 entries"), "{err}");
    // An operator who deletes the guard too starts a fork: the monitor sees it.
    std::fs::remove_file(dir.join("signed-checkpoint.txt")).unwrap();
    for f in ["ledger.sqlite", "ledger.sqlite-wal", "ledger.sqlite-shm"] {
        let _ = std::fs::remove_file(dir.join(f));
    }
    append(&dir, &airdrops("z", 3, 1.0));
    let s = Served::start(&dir, &[]);
    let o = follow(&mon, &s.base, &key, &[]);
    assert_alarm(&o, &mon, "the log served a checkpoint of size 3", &key);
    assert!(text(&o).contains("after one of size 40"), "{}", text(&o));
}

/// A server whose public summary does not follow from its log: a proxy in
/// front of an honest one changes one figure.
#[test]
fn monitor_raises_the_alarm_when_the_public_summary_disagrees_with_the_log() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, key) = setup(tmp.path(), &[]);
    append(&dir, &airdrops("x", 12, 1.0));
    let s = Served::start(&dir, &[]);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy = format!("http://{}", listener.local_addr().unwrap());
    let upstream = s.base.clone();
    std::thread::spawn(move || {
        use std::io::{BufRead, BufReader, Write};
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut line = String::new();
            let mut r = BufReader::new(conn.try_clone().unwrap());
            if r.read_line(&mut line).is_err() {
                continue;
            }
            loop {
                let mut h = String::new();
                if r.read_line(&mut h).is_err() || h == "\r\n" || h.is_empty() {
                    break;
                }
            }
            let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
            let resp = reqwest::blocking::get(format!("{upstream}{path}")).unwrap();
            let status = resp.status().as_u16();
            let mut body = resp.bytes().unwrap().to_vec();
            if path == "/api/v1/public/summary" {
                let mut v: serde_json::Value = serde_json::from_slice(&body).unwrap();
                v["vehicles_lost"] = serde_json::json!(v["vehicles_lost"].as_u64().unwrap() + 3);
                body = v.to_string().into_bytes();
            }
            let _ = write!(conn, "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n", body.len());
            let _ = conn.write_all(&body);
        }
    });
    let mon = tmp.path().join("mon");
    let o = follow(&mon, &proxy, &key, &[]);
    assert_alarm(&o, &mon, "the server's public summary at size 12 disagrees with the figures recomputed from the log (summary.vehicles_lost: log 0 vs server 3)", &key);
    // The same monitor on the honest server: all checks out.
    let o = follow(&mon, &s.base, &key, &[]);
    assert!(o.status.success(), "{}", text(&o));
}

#[test]
fn verify_reads_an_export_and_a_static_copy_without_a_data_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, key) = setup(tmp.path(), &[]);
    append(&dir, &airdrops("x", 600, 1.0));
    let site = tmp.path().join("site");
    ok(&dir, &["log", "export", "--tiles", site.to_str().unwrap()]);
    assert!(site.join("tile/0/002.p/88").is_file() && site.join("tile/1/000.p/2").is_file() && site.join("tile/entries/001").is_file());
    let (l, c) = (tmp.path().join("leaves.b64"), tmp.path().join("cp.txt"));
    ok(&dir, &["log", "export", "--out", l.to_str().unwrap(), "--checkpoint-out", c.to_str().unwrap()]);
    let nowhere = tmp.path().join("nowhere");
    let out = ok(&nowhere, &["verify", "--tiles", site.to_str().unwrap(), "--key", &key]);
    assert!(out.contains("entries: 600") && out.contains("verified:"), "{out}");
    let out = ok(&nowhere, &["verify", "--export", l.to_str().unwrap(), "--checkpoint", c.to_str().unwrap(), "--key", &key]);
    assert!(out.contains("entries: 600") && out.contains("verified:"), "{out}");
    assert!(!nowhere.exists(), "no data directory is made");
    // A changed leaf in the static copy fails.
    let bundle = site.join("tile/entries/001");
    let mut b = std::fs::read(&bundle).unwrap();
    let at = b.windows(4).position(|w| w == b"food").unwrap();
    b[at] = b'g';
    std::fs::write(&bundle, b).unwrap();
    let err = common::fails(&nowhere, &["verify", "--tiles", site.to_str().unwrap(), "--key", &key]);
    assert!(err.contains("verification failed"), "{err}");
    // The key is required: a log read from outside is checked against its published key.
    let err = common::fails(&nowhere, &["verify", "--tiles", site.to_str().unwrap()]);
    assert!(err.contains("--key"), "{err}");
}

/// `corridor monitor witness` on a free port.
fn start_witness(dir: &Path, log_key: &str) -> Served {
    Served::spawn(dir, &["monitor", "witness", "--listen", "127.0.0.1:0", "--log-key", log_key])
}

/// Waits until the served checkpoint has `size` entries and a valid
/// cosignature by `witness`; returns it.
fn witnessed(s: &Served, size: usize, witness: &str) -> String {
    let v = corridor_ledger::note::Verifier::from_vkey(witness).unwrap();
    let start = std::time::Instant::now();
    loop {
        let cp = reqwest::blocking::get(s.url("/log/checkpoint")).unwrap().text().unwrap();
        let head = format!("\n{size}\n");
        if cp.contains(&head) {
            if let Ok(opened) = corridor_ledger::note::open(&cp, std::slice::from_ref(&v)) {
                assert!(opened.verified.iter().any(|sig| sig.name == v.name()));
                return cp;
            }
        }
        assert!(start.elapsed() < std::time::Duration::from_secs(30), "no cosignature by the witness at size {size}: {cp}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

fn add_checkpoint(w: &str, body: &str) -> (u16, String, String) {
    let r = reqwest::blocking::Client::new().post(format!("{w}/add-checkpoint")).body(body.to_string()).send().unwrap();
    let ctype = r.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    (r.status().as_u16(), ctype, r.text().unwrap())
}

/// The C2SP tlog-witness protocol: the server pushes each new checkpoint
/// with a consistency proof, recovers its place from a 409 after a restart,
/// and keeps the cosignatures; the witness refuses what it must.
#[test]
fn a_witness_cosigns_each_new_checkpoint_over_add_checkpoint() {
    for (name, init) in common::backends("witness") {
        let tmp = tempfile::tempdir().unwrap();
        let (dir, key) = setup(tmp.path(), &init);
        let wdir = tmp.path().join("who");
        let wkey = ok(&wdir, &["monitor", "key", "--name", "who.example/witness"]).trim().to_string();
        let witness = start_witness(&wdir, &key);
        let w = witness.base.clone();
        let (hq, _) = token(&dir, &["--role", "hq"]);
        let args = ["--witness", w.as_str(), "--witness-key", wkey.as_str()];
        let mut total = 0;
        {
            let s = Served::start(&dir, &args);
            for step in 0..3 {
                let n = 17 * step + 5;
                post(&s, &hq, &airdrops(&format!("a{step}"), n, 1.0));
                total += n;
                witnessed(&s, total, &wkey);
            }
        }
        // A restarted server does not know where the witness is: its 409 tells it.
        let s = Served::start(&dir, &args);
        post(&s, &hq, &airdrops("b", 9, 1.0));
        total += 9;
        let cp = witnessed(&s, total, &wkey);
        let state = std::fs::read_to_string(wdir.join("witness.json")).unwrap();
        assert!(state.contains(&format!("\"size\": {total}")), "{name}: {state}");
        drop(s);
        // The witness's state survives its restart.
        drop(witness);
        let witness = start_witness(&wdir, &key);
        let w = witness.base.clone();
        let (status, ctype, body) = add_checkpoint(&w, &format!("old 0\n\n{cp}"));
        assert_eq!((status, ctype.as_str(), body.as_str()), (409, "text/x.tlog.size", format!("{total}\n").as_str()), "{name}");
        // The same checkpoint again: cosigned again (nothing new, nothing against it).
        let (status, _, body) = add_checkpoint(&w, &format!("old {total}\n\n{cp}"));
        assert_eq!(status, 200, "{name}: {body}");
        assert!(body.starts_with("— who.example/witness "), "{body}");
        // A bigger checkpoint with a wrong proof: 422.
        let s = Served::start(&dir, &[]);
        post(&s, &hq, &airdrops("c", 4, 1.0));
        let bigger = reqwest::blocking::get(s.url("/log/checkpoint")).unwrap().text().unwrap();
        let bogus = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [7u8; 32]);
        let (status, _, body) = add_checkpoint(&w, &format!("old {total}\n{bogus}\n\n{bigger}"));
        assert_eq!(status, 422, "{name}: {body}");
        // Not the size it cosigned: 409 with that size.
        let (status, _, body) = add_checkpoint(&w, &format!("old 3\n{bogus}\n\n{bigger}"));
        assert_eq!((status, body), (409, format!("{total}\n")), "{name}");
        // The same origin signed by another key: 403.
        let other = tmp.path().join("other");
        ok(&other, &["init", "--origin", "ops.example.org/monitor-test"]);
        append(&other, &airdrops("x", 2, 1.0));
        let so = Served::start(&other, &[]);
        let forged = reqwest::blocking::get(so.url("/log/checkpoint")).unwrap().text().unwrap();
        assert_eq!(add_checkpoint(&w, &format!("old {total}\n\n{forged}")).0, 403, "{name}");
        // A log it does not follow: 404; not a request: 400.
        let stranger = forged.replacen("ops.example.org/monitor-test", "elsewhere.example/log", 1);
        assert_eq!(add_checkpoint(&w, &format!("old 0\n\n{stranger}")).0, 404, "{name}");
        assert_eq!(add_checkpoint(&w, "hello").0, 400, "{name}");
        assert_eq!(add_checkpoint(&w, &format!("old 01\n\n{bigger}")).0, 400, "{name}");
    }
}
