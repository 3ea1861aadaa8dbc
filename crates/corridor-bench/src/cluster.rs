//! `corridor-bench cluster`: servers on one PostgreSQL log. Closed-loop
//! writers send one event per request for a while to one server, then
//! spread over three (followers forward to the sequencer); then the
//! sequencer is killed (SIGKILL) again and again under the same load, and
//! each failover is timed from the last 201 before the kill to the first
//! 201 of a write sent after it. At the end every acknowledged id is
//! checked to be in the log exactly once.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use corridor_ledger::store::postgres::{drop_schema, PostgresStore};
use corridor_ledger::store::Store;

use corridor::datadir::DataDir;

#[derive(clap::Args)]
pub struct ClusterBenchArgs {
    /// The PostgreSQL server to use (a new schema is made and dropped).
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
    /// Seconds of writes with one server, and again with three.
    #[arg(long, default_value_t = 10.0)]
    pub seconds: f64,
    /// Concurrent writers (each sends its next event once the last is acknowledged).
    #[arg(long, default_value_t = 16)]
    pub writers: usize,
    /// Sequencer kills in the failover phase.
    #[arg(long, default_value_t = 10)]
    pub kills: usize,
    /// The sequencer's lease (seconds).
    #[arg(long, default_value_t = 3)]
    pub lease: u64,
}

struct Server {
    dir: PathBuf,
    port: u16,
    lease: u64,
    child: Option<Child>,
}

impl Server {
    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn start(&mut self) -> Result<()> {
        use std::io::{BufRead, BufReader};
        let exe = crate::child::corridor_binary()?;
        let base = self.base();
        let mut child = Command::new(exe)
            .arg("--data-dir")
            .arg(&self.dir)
            .args(["serve", "--listen", &format!("127.0.0.1:{}", self.port), "--advertise", &base, "--lease", &format!("{}s", self.lease), "--public-rate", "1000000"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start corridor serve")?;
        let mut line = String::new();
        BufReader::new(child.stdout.take().context("no stdout")?).read_line(&mut line)?;
        if !line.contains(&base) {
            let _ = child.kill();
            bail!("a server did not start ({line:?})");
        }
        self.child = Some(child);
        Ok(())
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn event(id: &str) -> String {
    serde_json::json!({"v": 1, "id": id, "time": "2016-12-23T09:00:00Z", "author": "hq",
        "body": {"airdrop": {"airdrop": id, "position": {"lat": 36.2, "lon": 37.15}, "contents": "food", "tonnes": 1.0, "recovered": true}}})
    .to_string()
}

fn sequencer(http: &reqwest::blocking::Client, bases: &[String]) -> Option<String> {
    bases.iter().find_map(|b| {
        let h: serde_json::Value = http.get(format!("{b}/api/v1/health")).send().ok()?.json().ok()?;
        (h["role"] == "sequencer").then(|| b.clone())
    })
}

/// What the writers saw: for each 201, when it was sent and answered.
#[derive(Default)]
struct Seen {
    acked: Vec<String>,
    created: Vec<(Instant, Instant)>,
}

/// Runs `writers` closed-loop writers over `bases` until `stop`; each
/// write is retried (same id) through the next server on 503 or a lost
/// connection until acknowledged.
fn writers(n: usize, bases: Vec<String>, token: String, tag: &'static str, stop: Arc<AtomicBool>, seen: Arc<Mutex<Seen>>) -> Vec<std::thread::JoinHandle<Result<()>>> {
    (0..n)
        .map(|w| {
            let (bases, token, stop, seen) = (bases.clone(), token.clone(), stop.clone(), seen.clone());
            std::thread::spawn(move || -> Result<()> {
                let http = reqwest::blocking::Client::builder().timeout(Duration::from_secs(10)).build()?;
                let mut k = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    let id = format!("{tag}-{w}-{k}");
                    let sent = Instant::now();
                    let mut i = w + k;
                    let status = loop {
                        if sent.elapsed() > Duration::from_secs(60) {
                            bail!("event {id} was not acknowledged within 60 s");
                        }
                        let b = &bases[i % bases.len()];
                        i += 1;
                        match http.post(format!("{b}/api/v1/events")).bearer_auth(&token).header("content-type", "application/json").body(event(&id)).send() {
                            Ok(r) if r.status().is_success() => break r.status().as_u16(),
                            Ok(r) if matches!(r.status().as_u16(), 503 | 409) => {}
                            Ok(r) => bail!("event {id}: {} {}", r.status(), r.text().unwrap_or_default()),
                            Err(_) => {}
                        }
                        std::thread::sleep(Duration::from_millis(20));
                    };
                    let mut s = seen.lock().unwrap_or_else(|p| p.into_inner());
                    if status == 201 {
                        s.created.push((sent, Instant::now()));
                    }
                    s.acked.push(id);
                    k += 1;
                }
                Ok(())
            })
        })
        .collect()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Writes for `seconds` through `bases`: (writes/s, p50, p99).
fn load(bases: &[String], token: &str, writers_n: usize, seconds: f64, tag: &'static str) -> Result<(f64, Duration, Duration)> {
    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(Mutex::new(Seen::default()));
    let t0 = Instant::now();
    let ws = writers(writers_n, bases.to_vec(), token.to_string(), tag, stop.clone(), seen.clone());
    std::thread::sleep(Duration::from_secs_f64(seconds));
    stop.store(true, Ordering::Relaxed);
    for w in ws {
        w.join().map_err(|_| anyhow::anyhow!("a writer panicked"))??;
    }
    let elapsed = t0.elapsed().as_secs_f64();
    let s = seen.lock().unwrap_or_else(|p| p.into_inner());
    let mut lat: Vec<Duration> = s.created.iter().map(|(a, b)| *b - *a).collect();
    lat.sort();
    Ok((s.created.len() as f64 / elapsed, percentile(&lat, 0.5), percentile(&lat, 0.99)))
}

pub fn run(a: &ClusterBenchArgs) -> Result<()> {
    let Some(url) = a.database_url.clone() else { bail!("bench cluster needs PostgreSQL: pass --database-url postgres://USER@HOST:5432/DATABASE (or set DATABASE_URL)") };
    let tmp = tempfile::tempdir()?;
    let schema = format!("bench_cluster_{}", std::process::id());
    let result = run_in(a, &url, &schema, tmp.path());
    if let Err(e) = drop_schema(&url, &schema) {
        eprintln!("warning: could not drop schema {schema}: {e}");
    }
    result
}

fn run_in(a: &ClusterBenchArgs, url: &str, schema: &str, root: &Path) -> Result<()> {
    let first = root.join("s0");
    let d = DataDir::init(&first, Some("bench.invalid/cluster".into()), Some(url.to_string()), schema)?;
    drop(d);
    let (token, _) = DataDir::open(&first)?.tokens().create(corridor_server::Role::Hq, None, None, None)?;
    let mut servers = vec![Server { dir: first.clone(), port: free_port()?, lease: a.lease, child: None }];
    for i in 1..3 {
        let dir = root.join(format!("s{i}"));
        DataDir::join(&dir, &first.join("log.key"), url.to_string(), schema)?;
        servers.push(Server { dir, port: free_port()?, lease: a.lease, child: None });
    }
    let http = reqwest::blocking::Client::builder().timeout(Duration::from_secs(5)).build()?;
    let wait_sequencer = |bases: &[String]| -> Result<String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(s) = sequencer(&http, bases) {
                return Ok(s);
            }
            if Instant::now() > deadline {
                bail!("no server became the sequencer within 30 s");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    println!("servers on one PostgreSQL log ({} closed-loop writers, one event per request, {} s each)", a.writers, a.seconds);
    println!("| servers | writes/s | p50 | p99 |\n|---|---|---|---|");
    servers[0].start()?;
    let one = [servers[0].base()];
    wait_sequencer(&one)?;
    let (rate, p50, p99) = load(&one, &token, a.writers, a.seconds, "one")?;
    println!("| 1 | {rate:.0} | {:.1} ms | {:.1} ms |", p50.as_secs_f64() * 1e3, p99.as_secs_f64() * 1e3);
    servers[1].start()?;
    servers[2].start()?;
    let bases: Vec<String> = servers.iter().map(Server::base).collect();
    wait_sequencer(&bases)?;
    let (rate, p50, p99) = load(&bases, &token, a.writers, a.seconds, "three")?;
    println!("| 3 (writes spread over all) | {rate:.0} | {:.1} ms | {:.1} ms |", p50.as_secs_f64() * 1e3, p99.as_secs_f64() * 1e3);

    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(Mutex::new(Seen::default()));
    let ws = writers(a.writers, bases.clone(), token.clone(), "failover", stop.clone(), seen.clone());
    let mut times = Vec::new();
    for k in 0..a.kills {
        std::thread::sleep(Duration::from_millis(500 + (k as u64 * 211) % 700));
        let seq = wait_sequencer(&bases)?;
        let victim = servers.iter_mut().find(|s| s.base() == seq).context("the sequencer is not one of ours")?;
        let before = seen.lock().unwrap_or_else(|p| p.into_inner()).created.len();
        victim.kill();
        let dead = Instant::now();
        victim.start()?;
        let deadline = dead + Duration::from_secs(60);
        loop {
            {
                let s = seen.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(&(_, first)) = s.created.iter().filter(|(sent, _)| *sent > dead).min_by_key(|(_, answered)| *answered) {
                    let last = s.created[..before].iter().map(|&(_, answered)| answered).max().unwrap_or(dead);
                    times.push(first.saturating_duration_since(last));
                    break;
                }
            }
            if Instant::now() > deadline {
                bail!("no write was acknowledged within 60 s of killing the sequencer");
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    stop.store(true, Ordering::Relaxed);
    for w in ws {
        w.join().map_err(|_| anyhow::anyhow!("a writer panicked"))??;
    }
    for s in &mut servers {
        s.kill();
    }
    times.sort();
    println!(
        "\nfailover (SIGKILL of the sequencer; last 201 before the kill to the first 201 of a write sent after it), {} kills: median {:.0} ms, max {:.0} ms",
        times.len(),
        percentile(&times, 0.5).as_secs_f64() * 1e3,
        times.last().copied().unwrap_or_default().as_secs_f64() * 1e3
    );
    // Every acknowledged id, exactly once.
    let mut store = PostgresStore::connect(url, schema)?;
    let mut ids: HashMap<String, u32> = HashMap::new();
    store.scan(&mut |e| {
        let v: serde_json::Value = serde_json::from_slice(&e.leaf).map_err(|err| corridor_ledger::store::StoreError::Corrupt(err.to_string()))?;
        *ids.entry(v["id"].as_str().unwrap_or_default().to_string()).or_default() += 1;
        Ok(())
    })?;
    let acked = seen.lock().unwrap_or_else(|p| p.into_inner()).acked.len();
    let missing = seen.lock().unwrap_or_else(|p| p.into_inner()).acked.iter().filter(|id| ids.get(*id) != Some(&1)).count();
    println!("log: {} entries; of the {acked} writes acknowledged in the failover phase, {missing} missing or doubled", ids.len());
    if missing > 0 {
        bail!("{missing} acknowledged writes are missing from the log or in it twice");
    }
    Ok(())
}
