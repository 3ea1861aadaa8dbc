//! Several `corridor serve` on one PostgreSQL log (issue 21): writers
//! spread over three servers while the sequencer is killed again and
//! again; a sequencer paused long enough to be replaced, then resumed.
//! Every acknowledged event must be in the log exactly once, the log must
//! verify, and every checkpoint any server published (or stored) must be
//! a prefix of the final log.
//!
//! Needs PostgreSQL: runs when DATABASE_URL is set (CI sets it).

mod common;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{database_url, ok, token, unique_schema, Served};
use corridor_ledger::merkle::{verify_consistency, Tree};
use corridor_ledger::note::Verifier;
use corridor_ledger::store::postgres::{drop_schema, PostgresStore};
use corridor_ledger::store::Store;

/// One server of the cluster: its data directory and port, and its process
/// while it runs.
struct Server {
    dir: PathBuf,
    port: u16,
    running: Option<Served>,
}

impl Server {
    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn start(&mut self) {
        let (listen, base) = (format!("127.0.0.1:{}", self.port), self.base());
        let served = Served::start(&self.dir, &["--listen", &listen, "--advertise", &base, "--lease", "2s"]);
        assert_eq!(served.base, base);
        self.running = Some(served);
    }

    /// SIGKILL, and wait for the process to end.
    fn kill(&mut self) {
        self.running = None;
    }

    fn pid(&self) -> u32 {
        self.running.as_ref().expect("running").child.id()
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A log in PostgreSQL with `n` servers' data directories (the first
/// created it, the others joined with its key), and an hq token.
fn cluster(root: &Path, url: &str, schema: &str, n: usize) -> (Vec<Server>, String, Verifier) {
    let first = root.join("s0");
    ok(&first, &["init", "--origin", "cluster.test/log", "--database-url", url, "--pg-schema", schema]);
    let key = first.join("log.key");
    let mut servers = vec![Server { dir: first.clone(), port: free_port(), running: None }];
    for i in 1..n {
        let dir = root.join(format!("s{i}"));
        ok(&dir, &["init", "--join", "--database-url", url, "--pg-schema", schema, "--key-file", key.to_str().unwrap()]);
        servers.push(Server { dir, port: free_port(), running: None });
    }
    let (hq, _) = token(&first, &["--role", "hq"]);
    let vkey = ok(&first, &["log", "key"]);
    let verifier = Verifier::from_vkey(vkey.trim()).expect("the log's verifier key");
    for s in &mut servers {
        s.start();
    }
    (servers, hq, verifier)
}

fn event(id: &str) -> String {
    serde_json::json!({"v": 1, "id": id, "time": "2016-12-23T09:00:00Z", "author": "hq",
        "body": {"airdrop": {"airdrop": id, "position": {"lat": 36.2, "lon": 37.15}, "contents": "food", "tonnes": 1.0, "recovered": true}}})
    .to_string()
}

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder().timeout(Duration::from_secs(10)).build().unwrap()
}

/// The server of `bases` that says it sequences the log, if one does.
fn sequencer(http: &reqwest::blocking::Client, bases: &[String]) -> Option<String> {
    bases.iter().find_map(|b| {
        let h: serde_json::Value = http.get(format!("{b}/api/v1/health")).send().ok()?.json().ok()?;
        (h["role"] == "sequencer").then(|| b.clone())
    })
}

/// Waits (at most 30 s) until one of `bases` says it sequences the log.
fn wait_sequencer(http: &reqwest::blocking::Client, bases: &[String]) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(s) = sequencer(http, bases) {
            return s;
        }
        assert!(Instant::now() < deadline, "no server became the sequencer within 30 s");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Sends `id` to the servers in turn (from `start`) until one acknowledges
/// it: 201 (new) or 200 (already in the log: a retry of a write whose
/// answer was lost). 503 and lost connections are retried; anything else
/// fails the test. Answers the status.
fn write(http: &reqwest::blocking::Client, bases: &[String], start: usize, token: &str, id: &str) -> u16 {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut i = start;
    loop {
        assert!(Instant::now() < deadline, "event {id} was not acknowledged within 60 s");
        let b = &bases[i % bases.len()];
        i += 1;
        match http.post(format!("{b}/api/v1/events")).bearer_auth(token).header("content-type", "application/json").body(event(id)).send() {
            Ok(r) if r.status().as_u16() == 201 || r.status().as_u16() == 200 => return r.status().as_u16(),
            Ok(r) if r.status().as_u16() == 503 => {}
            // The same id in flight through another server (a retry while
            // the first attempt is still being answered): wait for it.
            Ok(r) if r.status().as_u16() == 409 => {
                let text = r.text().unwrap_or_default();
                assert!(text.contains("concurrent request"), "event {id}: 409 {text}");
            }
            Ok(r) => {
                let s = r.status();
                panic!("event {id}: unexpected {s} from {b}: {}", r.text().unwrap_or_default());
            }
            Err(_) => {} // a killed server
        }
        std::thread::sleep(Duration::from_millis(30));
    }
}

/// Polls every server's checkpoint and keeps each distinct note.
fn collect_checkpoints(bases: Vec<String>, stop: Arc<AtomicBool>, notes: Arc<Mutex<HashSet<String>>>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let http = client();
        while !stop.load(Ordering::Relaxed) {
            for b in &bases {
                if let Ok(r) = http.get(format!("{b}/api/v1/checkpoint")).send() {
                    if r.status().is_success() {
                        if let Ok(t) = r.text() {
                            notes.lock().unwrap().insert(t);
                        }
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    })
}

/// Reads the whole stored log: its tree, and how often each event id is in it.
fn stored_log(url: &str, schema: &str) -> (Tree, HashMap<String, usize>, Vec<String>) {
    let mut store = PostgresStore::connect(url, schema).unwrap();
    let mut tree = Tree::new();
    let mut ids = HashMap::new();
    store
        .scan(&mut |e| {
            tree.push(e.hash);
            let v: serde_json::Value = serde_json::from_slice(&e.leaf).unwrap();
            *ids.entry(v["id"].as_str().unwrap().to_string()).or_insert(0) += 1;
            Ok(())
        })
        .unwrap();
    let stored = store.checkpoints().unwrap().into_iter().map(|c| c.note).collect();
    (tree, ids, stored)
}

/// Every note is a checkpoint signed by the log's key whose tree is a
/// prefix of the final log (checked by root and by a consistency proof).
fn all_consistent(notes: &[String], tree: &Tree, verifier: &Verifier) -> usize {
    let (final_size, final_root) = (tree.len(), tree.root());
    for note in notes {
        let cp = corridor_ledger::parse_checkpoint(note, verifier).unwrap_or_else(|e| panic!("a published checkpoint does not verify ({e}):\n{note}"));
        assert!(cp.size <= final_size, "a checkpoint of {} entries was published but the log holds {final_size}", cp.size);
        assert_eq!(tree.root_at(cp.size).unwrap(), cp.root, "the checkpoint of size {} is not a prefix of the final log: a fork", cp.size);
        if cp.size > 0 {
            let proof = tree.consistency_proof(cp.size, final_size).unwrap();
            verify_consistency(cp.size, final_size, &cp.root, &final_root, &proof).unwrap();
        }
    }
    notes.len()
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[test]
fn three_servers_lose_no_acknowledged_event_through_ten_sequencer_kills() {
    let Some(url) = database_url() else { return };
    let root = tempfile::tempdir().unwrap();
    let schema = unique_schema("cluster");
    let (mut servers, hq, verifier) = cluster(root.path(), &url, &schema, 3);
    let bases: Vec<String> = servers.iter().map(Server::base).collect();
    let http = client();
    wait_sequencer(&http, &bases);

    let stop = Arc::new(AtomicBool::new(false));
    let notes = Arc::new(Mutex::new(HashSet::new()));
    let collector = collect_checkpoints(bases.clone(), stop.clone(), notes.clone());
    // Acknowledged ids, and for each 201 when its request was sent and
    // when it was answered.
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let created = Arc::new(Mutex::new(Vec::<(Instant, Instant)>::new()));
    let writers: Vec<_> = (0..6)
        .map(|w| {
            let (bases, hq, stop, acked, created) = (bases.clone(), hq.clone(), stop.clone(), acked.clone(), created.clone());
            std::thread::spawn(move || {
                let http = client();
                let mut n = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    let id = format!("w{w}-{n}");
                    let sent = Instant::now();
                    let status = write(&http, &bases, w + n, &hq, &id);
                    if status == 201 {
                        created.lock().unwrap().push((sent, Instant::now()));
                    }
                    acked.lock().unwrap().push(id);
                    n += 1;
                }
            })
        })
        .collect();

    let mut failovers = Vec::new();
    for kill in 0..10 {
        std::thread::sleep(Duration::from_millis(300 + (kill * 137) % 600));
        let seq = wait_sequencer(&http, &bases);
        let victim = servers.iter_mut().find(|s| s.base() == seq).expect("the sequencer is one of ours");
        let before = created.lock().unwrap().len();
        victim.kill();
        // Failover: from the last 201 answered before the kill to the first
        // 201 of a write sent once the sequencer was dead.
        let dead = Instant::now();
        victim.start(); // back as a follower (or the next sequencer)
        let deadline = dead + Duration::from_secs(30);
        loop {
            {
                let c = created.lock().unwrap();
                if let Some(&(_, first_after)) = c.iter().filter(|(sent, _)| *sent > dead).min_by_key(|(_, answered)| *answered) {
                    let last_before = c[..before].iter().map(|&(_, answered)| answered).max().unwrap_or(dead);
                    failovers.push(first_after.saturating_duration_since(last_before));
                    break;
                }
            }
            assert!(Instant::now() < deadline, "no write was acknowledged within 30 s of killing the sequencer (kill {kill})");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().expect("a writer failed");
    }
    collector.join().unwrap();
    for s in &mut servers {
        s.kill();
    }

    let (tree, ids, stored) = stored_log(&url, &schema);
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() > 100, "only {} writes were acknowledged", acked.len());
    for id in &acked {
        assert_eq!(ids.get(id), Some(&1), "acknowledged event {id} is in the log {} times", ids.get(id).unwrap_or(&0));
    }
    assert!(ids.values().all(|&n| n == 1), "an event id is in the log twice");
    let out = ok(&servers[0].dir, &["verify"]);
    assert!(out.contains(&tree.len().to_string()), "{out}");
    let notes: Vec<String> = notes.lock().unwrap().iter().cloned().collect();
    let published = all_consistent(&notes, &tree, &verifier);
    let kept = all_consistent(&stored, &tree, &verifier);
    let max = *failovers.iter().max().unwrap();
    eprintln!(
        "cluster: {} events acknowledged ({} in the log), {} failovers, failover (last 201 before the kill to first 201 after) median {:?} max {:?}; {published} published and {kept} stored checkpoints consistent with the final one",
        acked.len(),
        tree.len(),
        failovers.len(),
        median(&mut failovers.clone()),
        max
    );
    assert_eq!(failovers.len(), 10);
    drop(servers);
    drop_schema(&url, &schema).unwrap();
}

#[test]
fn a_paused_sequencer_neither_extends_nor_signs_the_log_once_replaced() {
    let Some(url) = database_url() else { return };
    let root = tempfile::tempdir().unwrap();
    let schema = unique_schema("split");
    let (mut servers, hq, verifier) = cluster(root.path(), &url, &schema, 2);
    let bases: Vec<String> = servers.iter().map(Server::base).collect();
    let http = client();
    let seq = wait_sequencer(&http, &bases);
    for i in 0..20 {
        assert_eq!(write(&http, &bases, i, &hq, &format!("before-{i}")), 201);
    }
    let (old, other) = if servers[0].base() == seq { (0, 1) } else { (1, 0) };
    let pid = servers[old].pid().to_string();
    let stop = Arc::new(AtomicBool::new(false));
    let notes = Arc::new(Mutex::new(HashSet::new()));
    let collector = collect_checkpoints(bases.clone(), stop.clone(), notes.clone());

    // Paused, with writes sent to it meanwhile (they wait in its socket).
    assert!(Command::new("kill").args(["-STOP", &pid]).status().unwrap().success());
    let stuck: Vec<_> = (0..5)
        .map(|i| {
            let (b, hq) = (seq.clone(), hq.clone());
            std::thread::spawn(move || {
                let r = client().post(format!("{b}/api/v1/events")).bearer_auth(&hq).header("content-type", "application/json").body(event(&format!("stuck-{i}"))).send();
                r.map(|r| r.status().as_u16()).ok()
            })
        })
        .collect();
    // The other server takes over once the 2 s lease has run out.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let h: Option<serde_json::Value> = http.get(format!("{}/api/v1/health", bases[other])).send().ok().and_then(|r| r.json().ok());
        if h.is_some_and(|h| h["role"] == "sequencer") {
            break;
        }
        assert!(Instant::now() < deadline, "the other server did not take over from the paused sequencer");
        std::thread::sleep(Duration::from_millis(50));
    }
    for i in 0..20 {
        assert_eq!(write(&http, &[bases[other].clone()], 0, &hq, &format!("after-{i}")), 201);
    }
    assert!(Command::new("kill").args(["-CONT", &pid]).status().unwrap().success());
    let answers: Vec<Option<u16>> = stuck.into_iter().map(|t| t.join().unwrap()).collect();
    eprintln!("split brain: the writes held by the paused sequencer were answered {answers:?}");
    // The resumed server steps down and follows the new sequencer.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let h: Option<serde_json::Value> = http.get(format!("{seq}/api/v1/health")).send().ok().and_then(|r| r.json().ok());
        if h.as_ref().is_some_and(|h| h["role"] == "follower" && h["sequencer"] == bases[other].as_str()) {
            break;
        }
        assert!(Instant::now() < deadline, "the resumed server did not step down: {h:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    for i in 0..5 {
        assert_eq!(write(&http, &[seq.clone()], 0, &hq, &format!("late-{i}")), 201, "a write through the resumed server goes to the new sequencer");
    }
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    collector.join().unwrap();
    for s in &mut servers {
        s.kill();
    }

    let (tree, ids, stored) = stored_log(&url, &schema);
    for (i, a) in answers.iter().enumerate() {
        // A write held by the paused server is refused (503) or, once it
        // has stepped down, forwarded (201): never acknowledged and lost.
        if matches!(a, Some(200 | 201)) {
            assert_eq!(ids.get(&format!("stuck-{i}")), Some(&1), "stuck-{i} was acknowledged but is not in the log");
        } else {
            assert!(matches!(a, Some(503) | None), "stuck-{i}: {a:?}");
        }
    }
    for p in ["before", "after"] {
        for i in 0..20 {
            assert_eq!(ids.get(&format!("{p}-{i}")), Some(&1));
        }
    }
    let notes: Vec<String> = notes.lock().unwrap().iter().cloned().collect();
    all_consistent(&notes, &tree, &verifier);
    all_consistent(&stored, &tree, &verifier);
    // One signed checkpoint per size: the paused server signed none of its own.
    let mut by_size = HashMap::new();
    for n in notes.iter().chain(&stored) {
        let cp = corridor_ledger::parse_checkpoint(n, &verifier).unwrap();
        assert_eq!(*by_size.entry(cp.size).or_insert(cp.root), cp.root, "two roots for size {}", cp.size);
    }
    ok(&servers[old].dir, &["verify"]);
    drop(servers);
    drop_schema(&url, &schema).unwrap();
}

/// `init --join` takes only the log's own key, for a schema that holds a
/// log; a second server started without --advertise is refused while
/// another holds the log, saying who does; --advertise needs PostgreSQL.
#[test]
fn joining_needs_the_logs_key_and_a_second_writer_is_refused() {
    let Some(url) = database_url() else { return };
    let root = tempfile::tempdir().unwrap();
    let schema = unique_schema("join");
    let (mut servers, _, _) = cluster(root.path(), &url, &schema, 1);
    let other = root.path().join("other");
    ok(&other, &["init", "--origin", "cluster.test/log"]);
    let e = common::fails(&root.path().join("j1"), &["init", "--join", "--database-url", &url, "--pg-schema", &schema, "--key-file", other.join("log.key").to_str().unwrap()]);
    assert!(e.contains("is not its key") && e.contains("log.key"), "{e}");
    let e = common::fails(&root.path().join("j2"), &["init", "--join", "--database-url", &url, "--pg-schema", &unique_schema("none"), "--key-file", servers[0].dir.join("log.key").to_str().unwrap()]);
    assert!(e.contains("holds no log yet"), "{e}");
    assert!(!root.path().join("j1").join("corridor.json").exists() && !root.path().join("j2").join("corridor.json").exists());
    let joined = root.path().join("j3");
    ok(&joined, &["init", "--join", "--database-url", &url, "--pg-schema", &schema, "--key-file", servers[0].dir.join("log.key").to_str().unwrap()]);
    // Give the cluster's server the lease, then try a lone writer beside it.
    let http = client();
    wait_sequencer(&http, &[servers[0].base()]);
    let e = common::fails(&joined, &["serve", "--listen", "127.0.0.1:0"]);
    assert!(e.contains("sequences the log") && e.contains(&format!("corridor serve {}", servers[0].base())), "{e}");
    let e = common::fails(&other, &["serve", "--listen", "127.0.0.1:0", "--advertise", "http://127.0.0.1:1"]);
    assert!(e.contains("--advertise needs a log in PostgreSQL"), "{e}");
    servers[0].kill();
    drop(servers);
    drop_schema(&url, &schema).unwrap();
}

/// What a monitor countersigns through one server is served by the others
/// (cosignatures live in the database), and a monitor following any server
/// checks the same log.
#[test]
fn a_cosignature_kept_by_one_server_is_served_by_the_others() {
    let Some(url) = database_url() else { return };
    let root = tempfile::tempdir().unwrap();
    let schema = unique_schema("cosign");
    let (servers, hq, verifier) = cluster(root.path(), &url, &schema, 2);
    let bases: Vec<String> = servers.iter().map(Server::base).collect();
    let http = client();
    for i in 0..30 {
        write(&http, &bases, i, &hq, &format!("e-{i}"));
    }
    let mon = root.path().join("monitor");
    let vkey = ok(&mon, &["monitor", "key", "--name", "icrc.example/monitor-1"]).trim().to_string();
    let (mt, _) = token(&servers[0].dir, &["--role", "monitor", "--key", &vkey]);
    let out = ok(&mon, &["monitor", "follow", &bases[0], "--log-key", &verifier.to_vkey(), "--token", &mt, "--once"]);
    assert!(out.contains("cosigned"), "{out}");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let cp = http.get(format!("{}/log/checkpoint", bases[1])).send().unwrap().text().unwrap();
        if cp.lines().any(|l| l.starts_with("— icrc.example/monitor-1 ")) {
            assert!(cp.starts_with("cluster.test/log\n30\n"), "{cp}");
            break;
        }
        assert!(Instant::now() < deadline, "the other server does not serve the cosignature: {cp}");
        std::thread::sleep(Duration::from_millis(100));
    }
    // Following the other server: the same log, already cosigned at this size.
    let out = ok(&mon, &["monitor", "follow", &bases[1], "--log-key", &verifier.to_vkey(), "--token", &mt, "--once"]);
    assert!(out.contains("size 30: 0 new entries"), "{out}");
    drop(servers);
    drop_schema(&url, &schema).unwrap();
}

/// Health: every server of a running cluster is ready and names the same
/// sequencer; one whose database is gone says it is not ready, and why.
#[test]
fn health_tells_a_balancer_which_servers_are_ready() {
    let Some(url) = database_url() else { return };
    let root = tempfile::tempdir().unwrap();
    let schema = unique_schema("health");
    let (servers, hq, _) = cluster(root.path(), &url, &schema, 2);
    let bases: Vec<String> = servers.iter().map(Server::base).collect();
    let http = client();
    for i in 0..12 {
        write(&http, &bases, i, &hq, &format!("h-{i}"));
    }
    let seq = wait_sequencer(&http, &bases);
    for b in &bases {
        let r = http.get(format!("{b}/api/v1/health")).send().unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let h: serde_json::Value = r.json().unwrap();
        assert_eq!((h["ready"].as_bool(), h["sequencer"].as_str()), (Some(true), Some(seq.as_str())), "{h}");
    }
    // The schema is dropped under the servers: neither is ready any more,
    // and neither starts a new, empty log in its place (a second history
    // under the same key).
    drop_schema(&url, &schema).unwrap();
    for b in &bases {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let r = http.get(format!("{b}/api/v1/health")).send().unwrap();
            if r.status().as_u16() == 503 {
                let h: serde_json::Value = r.json().unwrap();
                assert!(!h["ready"].as_bool().unwrap() && h["problem"].is_string(), "{h}");
                assert_eq!(h["size"], 12, "{b} serves another log: {h}");
                break;
            }
            assert!(Instant::now() < deadline, "{b}, which cannot read the log, still says it is ready");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    std::thread::sleep(Duration::from_secs(1));
    let exists = PostgresStore::connect_existing(&url, &schema);
    assert!(matches!(exists, Err(corridor_ledger::store::StoreError::NoLog(_))), "a server made the dropped schema anew");
    drop(servers);
}
