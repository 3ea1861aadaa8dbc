//! `corridor-bench serve`: the operations server under load, on loopback.
//!
//! Starts the server in this process (its own tokio runtime) on a fresh
//! SQLite data directory, declares (as hq, over HTTP) the groups, two sites,
//! a corridor with four checkpoints, vehicles and convoys, makes one token
//! per checkpoint, then:
//!
//! 1. writes passages open-loop at `--rate` per second for `--seconds`:
//!    every passage has a scheduled send time, fixed in advance, and its
//!    latency runs from that time (not from when a connection was free), so
//!    a stalled server is charged for the requests that queued behind it
//!    (no coordinated omission). Each checkpoint sends its own passages over
//!    `--connections` connections.
//! 2. checks that the log holds exactly the acknowledged writes: its size
//!    is the setup plus the 201s, every acknowledged id is in it, nothing
//!    else was added.
//! 3. reads `/api/v1/public/summary` open-loop at `--read-rate` per second
//!    for `--read-seconds` (the server's public rate limit is set far above
//!    that, since every request comes from one address).
//!
//! The load generator runs in the same process and shares the machine's
//! cores with the server: the figures are a floor for a server alone.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use chrono::{DateTime, Utc};
use corridor_model::{Body, Checkpoint, Convoy, Corridor, CorridorRef, Event, GroupsDefined, Passage, Site, SiteKind, Vehicle, VehicleKind};
use corridor_server::{AppState, Options, Role, TokenStore};

use corridor::datadir::DataDir;

#[derive(clap::Args)]
pub struct ServeBenchArgs {
    /// Seconds of writes.
    #[arg(long, default_value_t = 60.0)]
    pub seconds: f64,
    /// Passages written per second (spread over the four checkpoints).
    #[arg(long, default_value_t = 2_000.0)]
    pub rate: f64,
    /// Public summary reads per second.
    #[arg(long, default_value_t = 5_000.0)]
    pub read_rate: f64,
    /// Seconds of reads.
    #[arg(long, default_value_t = 20.0)]
    pub read_seconds: f64,
    /// Connections per checkpoint for the writes.
    #[arg(long, default_value_t = 8)]
    pub connections: usize,
    /// Connections for the reads.
    #[arg(long, default_value_t = 64)]
    pub read_connections: usize,
    /// Worker threads of the server's runtime (the load generator has its own two).
    #[arg(long, default_value_t = 2)]
    pub server_threads: usize,
    /// Seconds between the setup and the first write (the setup's writes
    /// settle on disk: a run that starts at once pays for their writeback).
    #[arg(long, default_value_t = 2.0)]
    pub settle: f64,
    /// Write every passage's scheduled time (ms), latency (µs) and status to FILE as CSV.
    #[arg(long)]
    pub trace: Option<PathBuf>,
    /// Where the temporary data directory goes (default: the system's temporary directory).
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

const CHECKPOINTS: usize = 4;
const CONVOY_SIZE: usize = 100;
const VEHICLES: usize = 1_000;
const CORRIDOR: &str = "bench-corridor";

fn checkpoint_id(c: usize) -> String {
    format!("bench-cp-{}", c + 1)
}

/// Latency percentiles of a set of samples (microseconds).
struct Latencies {
    p50: f64,
    p90: f64,
    p99: f64,
    max: f64,
}

fn percentiles(mut us: Vec<u32>) -> Latencies {
    if us.is_empty() {
        return Latencies { p50: f64::NAN, p90: f64::NAN, p99: f64::NAN, max: f64::NAN };
    }
    us.sort_unstable();
    let at = |q: f64| us[((us.len() as f64 * q).ceil() as usize).clamp(1, us.len()) - 1] as f64 / 1000.0;
    Latencies { p50: at(0.50), p90: at(0.90), p99: at(0.99), max: *us.last().unwrap() as f64 / 1000.0 }
}

/// The setup the hq token declares: groups, sites, corridor (opened),
/// vehicles and `convoys` convoys of `CONVOY_SIZE` vehicles.
fn setup_events(t0: DateTime<Utc>, convoys: usize) -> Vec<Event> {
    let mut out = Vec::new();
    let mut n = 0i64;
    let mut ev = |id: String, body: Body| {
        n += 1;
        Event::new(id, t0 + chrono::Duration::milliseconds(n), "hq", body)
    };
    let groups = GroupsDefined::standard();
    let group_ids: Vec<String> = groups.groups.iter().map(|g| g.id.clone()).collect();
    out.push(ev("bench-groups".into(), Body::GroupsDefined(groups)));
    for (site, kind) in [("bench-from", SiteKind::Besieged), ("bench-to", SiteKind::Destination)] {
        out.push(ev(format!("{site}-declared"), Body::SiteDeclared(Site { site: site.into(), name: site.into(), name_ar: None, kind, position: None })));
    }
    let checkpoints = (0..CHECKPOINTS).map(|c| Checkpoint { id: checkpoint_id(c), name: format!("Checkpoint {}", c + 1), name_ar: None, position: None }).collect();
    out.push(ev(
        "bench-corridor-declared".into(),
        Body::CorridorDeclared(Corridor {
            corridor: CORRIDOR.into(),
            name: "Bench corridor".into(),
            name_ar: None,
            from: "bench-from".into(),
            to: "bench-to".into(),
            checkpoints,
            groups: group_ids,
            max_transit_minutes: 600,
        }),
    ));
    out.push(ev("bench-corridor-opened".into(), Body::CorridorOpened(CorridorRef { corridor: CORRIDOR.into(), reason: String::new() })));
    for v in 0..VEHICLES {
        out.push(ev(
            format!("bench-veh-{v}-registered"),
            Body::VehicleRegistered(Vehicle { vehicle: format!("bench-veh-{v}"), kind: VehicleKind::Bus, seats: 50, stretchers: 0, operator: "bench".into() }),
        ));
    }
    for c in 0..convoys {
        let vehicles = (0..CONVOY_SIZE).map(|k| format!("bench-veh-{}", (c * CONVOY_SIZE + k) % VEHICLES)).collect();
        out.push(ev(format!("bench-cv-{c}-dispatched"), Body::ConvoyDispatched(Convoy { convoy: format!("bench-cv-{c}"), corridor: CORRIDOR.into(), vehicles })));
    }
    out
}

/// One scheduled write: when (from the start), its id and its body.
struct Write {
    at: Duration,
    id: String,
    body: String,
}

/// Passage `i` of the run goes to checkpoint `i % 4` as trip `i / 4`
/// (convoy `trip / 100`, its vehicle `trip % 100`), at `i / rate` seconds.
fn schedule(t0: DateTime<Utc>, total: usize, rate: f64) -> Vec<Vec<Write>> {
    let mut per: Vec<Vec<Write>> = (0..CHECKPOINTS).map(|_| Vec::with_capacity(total / CHECKPOINTS + 1)).collect();
    for i in 0..total {
        let (c, trip) = (i % CHECKPOINTS, i / CHECKPOINTS);
        let (convoy, slot) = (trip / CONVOY_SIZE, trip % CONVOY_SIZE);
        let cp = checkpoint_id(c);
        let id = format!("bench-p-{trip}-{}", c + 1);
        let counts = [("women".to_string(), 10 + (trip % 7) as u32), ("children".to_string(), 12 + (trip % 5) as u32), ("men".to_string(), 6)].into_iter().collect();
        let p = Passage {
            vehicle: format!("bench-veh-{}", (convoy * CONVOY_SIZE + slot) % VEHICLES),
            convoy: format!("bench-cv-{convoy}"),
            corridor: CORRIDOR.into(),
            checkpoint: cp.clone(),
            counts,
            wounded: (trip % 3) as u32,
        };
        let e = Event::new(id.clone(), t0 + chrono::Duration::milliseconds(10_000 + i as i64), cp, Body::Passage(p));
        let at = Duration::from_secs_f64(i as f64 / rate);
        per[c].push(Write { at, id, body: serde_json::to_string(&e).expect("serializes") });
    }
    per
}

/// What one request came to.
struct Outcome {
    status: u16,
    latency_us: u32,
    /// Index of the write in its checkpoint's schedule.
    k: usize,
}

fn client(connections: usize, token: Option<&str>) -> Result<reqwest::Client> {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(t) = token {
        headers.insert(reqwest::header::AUTHORIZATION, format!("Bearer {t}").parse()?);
    }
    headers.insert(reqwest::header::CONTENT_TYPE, "application/json".parse()?);
    Ok(reqwest::Client::builder()
        .default_headers(headers)
        .pool_max_idle_per_host(connections)
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(30))
        .build()?)
}

/// Runs `n` scheduled requests with `workers` tasks: each takes the next
/// request in schedule order, waits for its time, sends it and records the
/// time from the schedule to the end of the answer.
async fn open_loop<F, Fut>(n: usize, workers: usize, start: tokio::time::Instant, at: Arc<dyn Fn(usize) -> Duration + Send + Sync>, send: F) -> Vec<Outcome>
where
    F: Fn(usize) -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = u16> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..workers {
        let (next, at, send) = (next.clone(), at.clone(), send.clone());
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::with_capacity(n / workers + 16);
            loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                if k >= n {
                    break;
                }
                let due = start + at(k);
                tokio::time::sleep_until(due).await;
                let status = send(k).await;
                let latency_us = tokio::time::Instant::now().saturating_duration_since(due).as_micros().min(u32::MAX as u128) as u32;
                out.push(Outcome { status, latency_us, k });
            }
            out
        }));
    }
    let mut all = Vec::with_capacity(n);
    for t in tasks {
        all.extend(t.await.expect("a load task panicked"));
    }
    all
}

/// The p99 latency (ms) of the requests scheduled in each second, the
/// worst of them and the second it was in.
fn worst_second(outcomes: &[(Duration, Duration)]) -> (f64, usize) {
    let mut by: Vec<Vec<u32>> = Vec::new();
    for (at, lat) in outcomes {
        let s = at.as_secs() as usize;
        if by.len() <= s {
            by.resize(s + 1, Vec::new());
        }
        by[s].push(lat.as_micros() as u32);
    }
    by.into_iter().map(percentiles).enumerate().filter(|(_, l)| !l.p99.is_nan()).map(|(s, l)| (l.p99, s)).fold((0.0, 0), |a, b| if b.0 > a.0 { b } else { a })
}

/// Completions per whole second of the run, from the schedule start.
fn per_second(outcomes: &[(Duration, Duration)]) -> Vec<usize> {
    let mut buckets = Vec::new();
    for (at, lat) in outcomes {
        let s = (*at + *lat).as_secs() as usize;
        if buckets.len() <= s {
            buckets.resize(s + 1, 0);
        }
        buckets[s] += 1;
    }
    buckets
}

pub fn run(a: &ServeBenchArgs) -> Result<()> {
    if !(a.rate > 0.0 && a.seconds > 0.0 && a.read_rate >= 0.0 && a.read_seconds >= 0.0) {
        bail!("--rate and --seconds must be above 0, --read-rate and --read-seconds at least 0");
    }
    let tmp = match &a.dir {
        Some(d) => tempfile::tempdir_in(d)?,
        None => tempfile::tempdir()?,
    };
    let dir = tmp.path().join("data");
    let mut d = DataDir::init(&dir, Some("corridor.invalid/bench-serve".into()), None, "corridor")?;
    let ledger = Arc::new(d.ledger()?);
    let store = ledger_store_line(&dir);
    let tokens = TokenStore::open(&dir);
    let (hq, _) = tokens.create(Role::Hq, None, None, None)?;
    let cp_tokens: Vec<String> = (0..CHECKPOINTS).map(|c| tokens.create(Role::Checkpoint, Some(checkpoint_id(c)), None, None).map(|t| t.0)).collect::<Result<_, _>>()?;
    // The load generator's requests all come from 127.0.0.1: the per-address
    // public limit must be far above the read rate.
    let public_rate = (a.read_rate * 100.0).max(1e6);
    let state = AppState::new(ledger, TokenStore::open(&dir), Options { public_rate, map_geojson: None, ..Options::default() }, &dir)?;

    let server_rt = tokio::runtime::Builder::new_multi_thread().worker_threads(a.server_threads.max(1)).thread_name("server").enable_all().build()?;
    let listener = server_rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let addr = listener.local_addr()?;
    server_rt.spawn(corridor_server::serve(state.clone(), listener));
    let base = format!("http://{addr}");

    let total = (a.rate * a.seconds).round() as usize;
    let trips = total.div_ceil(CHECKPOINTS);
    let convoys = trips.div_ceil(CONVOY_SIZE).max(1);
    let t0 = Utc::now();
    println!(
        "server: 127.0.0.1 loopback {addr}, {} runtime threads, SQLite ({store}) in {}; public rate limit {public_rate:.0}/s per address (one address sends all the reads)",
        a.server_threads,
        dir.display()
    );
    println!("load generator: this process, 2 runtime threads, sharing the machine's {} cores with the server", std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0));

    let client_rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).thread_name("load").enable_all().build()?;
    client_rt.block_on(async {
        // Setup, as hq, in batches under the 1 MiB body limit.
        let setup = setup_events(t0, convoys);
        let hq_client = client(2, Some(&hq))?;
        let started = Instant::now();
        for chunk in setup.chunks(200) {
            let r = hq_client.post(format!("{base}/api/v1/events")).body(serde_json::to_string(chunk)?).send().await?;
            let status = r.status();
            if status.as_u16() != 201 {
                bail!("setup refused ({status}): {}", r.text().await.unwrap_or_default());
            }
        }
        let setup_size = state.ledger.len();
        println!("setup: {setup_size} events as hq (groups, 2 sites, 1 corridor with {CHECKPOINTS} checkpoints, {VEHICLES} vehicles, {convoys} convoys of {CONVOY_SIZE}) in {:.1} s; {CHECKPOINTS} checkpoint tokens", started.elapsed().as_secs_f64());
        anyhow::Ok(setup_size)
    })?;
    let setup_size = state.ledger.len();

    // Writes.
    let plan = schedule(t0, total, a.rate);
    println!("writes: {total} passages at {:.0}/s for {:.0} s, open loop, {} connections per checkpoint ({} in all), latency from each scheduled send time", a.rate, a.seconds, a.connections, a.connections * CHECKPOINTS);
    let plan = Arc::new(plan);
    let results: Vec<Vec<Outcome>> = client_rt.block_on(async {
        let start = tokio::time::Instant::now() + Duration::from_secs_f64(a.settle);
        let mut runs = Vec::new();
        for (c, token) in cp_tokens.iter().enumerate() {
            let cl = client(a.connections, Some(token))?;
            let url: Arc<str> = format!("{base}/api/v1/events").into();
            let p = plan.clone();
            let at: Arc<dyn Fn(usize) -> Duration + Send + Sync> = { let p = plan.clone(); Arc::new(move |k| p[c][k].at) };
            let send = move |k: usize| {
                let (cl, url, p) = (cl.clone(), url.clone(), p.clone());
                async move {
                    match cl.post(&*url).body(p[c][k].body.clone()).send().await {
                        Ok(r) => {
                            let s = r.status().as_u16();
                            let _ = r.bytes().await;
                            s
                        }
                        Err(_) => 0,
                    }
                }
            };
            runs.push(tokio::spawn(open_loop(plan[c].len(), a.connections, start, at, send)));
        }
        let mut out = Vec::new();
        for r in runs {
            out.push(r.await?);
        }
        anyhow::Ok(out)
    })?;
    let mut lat = Vec::new();
    let mut acked: HashSet<&str> = HashSet::new();
    let mut unknown = 0usize;
    let mut statuses: std::collections::BTreeMap<u16, usize> = Default::default();
    let mut timeline = Vec::new();
    for (c, rs) in results.iter().enumerate() {
        for o in rs {
            *statuses.entry(o.status).or_default() += 1;
            lat.push(o.latency_us);
            timeline.push((plan[c][o.k].at, Duration::from_micros(o.latency_us as u64)));
            match o.status {
                201 => {
                    acked.insert(&plan[c][o.k].id);
                }
                0 | 500..=599 => unknown += 1,
                _ => {}
            }
        }
    }
    if let Some(f) = &a.trace {
        // Every write as `scheduled ms,latency µs,status` (for plotting).
        let mut rows: Vec<_> = timeline.iter().zip(results.iter().flatten()).map(|((at, lat), o)| (at.as_secs_f64() * 1000.0, lat.as_micros(), o.status)).collect();
        rows.sort_by(|a, b| a.0.total_cmp(&b.0));
        std::fs::write(&f, rows.iter().map(|(a, l, s)| format!("{a:.3},{l},{s}\n")).collect::<String>())?;
    }
    let w = percentiles(lat);
    let secs = per_second(&timeline);
    let full: Vec<usize> = secs.iter().copied().take(a.seconds.floor() as usize).collect();
    println!(
        "  answers: {}; acknowledged (201): {}; per second: min {} max {} over the {} whole seconds",
        statuses.iter().map(|(s, n)| format!("{}×{n}", if *s == 0 { "no answer".to_string() } else { s.to_string() })).collect::<Vec<_>>().join(", "),
        acked.len(),
        full.iter().min().unwrap_or(&0),
        full.iter().max().unwrap_or(&0),
        full.len()
    );
    let (worst, at) = worst_second(&timeline);
    println!("  write latency ms: p50 {:.2}  p90 {:.2}  p99 {:.2}  max {:.2}  (worst second: p99 {worst:.2} in second {at})", w.p50, w.p90, w.p99, w.max);

    // The log holds exactly the acknowledged writes.
    let size = state.ledger.len();
    let mut found = HashSet::new();
    let mut from = setup_size;
    while from < size {
        let to = (from + 5_000).min(size);
        for (_, e) in state.ledger.events(from, to)? {
            found.insert(e.id);
        }
        from = to;
    }
    let missing = acked.iter().filter(|id| !found.contains(**id)).count();
    let extra = found.iter().filter(|id| !acked.contains(id.as_str())).count();
    let exact = size - setup_size == acked.len() as u64 && missing == 0 && extra == 0;
    println!(
        "  log: {size} entries = {setup_size} setup + {} passages; acknowledged ids missing from the log: {missing}; entries not acknowledged: {extra}{}; {}",
        size - setup_size,
        if unknown > 0 { format!(" ({unknown} requests had no answer or a 5xx)") } else { String::new() },
        if exact { "the log holds exactly the acknowledged writes" } else { "MISMATCH" }
    );

    // Reads.
    let mut read_line = None;
    if a.read_rate > 0.0 && a.read_seconds > 0.0 {
        let n = (a.read_rate * a.read_seconds).round() as usize;
        let rate = a.read_rate;
        println!("reads: GET /api/v1/public/summary at {rate:.0}/s for {:.0} s, open loop, {} connections", a.read_seconds, a.read_connections);
        let outcomes = client_rt.block_on(async {
            let cl = client(a.read_connections, None)?;
            let url: Arc<str> = format!("{base}/api/v1/public/summary").into();
            let start = tokio::time::Instant::now() + Duration::from_millis(200);
            let send = move |_k: usize| {
                let (cl, url) = (cl.clone(), url.clone());
                async move {
                    match cl.get(&*url).send().await {
                        Ok(r) => {
                            let s = r.status().as_u16();
                            match r.bytes().await {
                                Ok(b) if !b.is_empty() => s,
                                _ => 0,
                            }
                        }
                        Err(_) => 0,
                    }
                }
            };
            let at: Arc<dyn Fn(usize) -> Duration + Send + Sync> = Arc::new(move |k| Duration::from_secs_f64(k as f64 / rate));
            let t = Instant::now();
            let out = open_loop(n, a.read_connections, start, at, send).await;
            anyhow::Ok((out, t.elapsed()))
        })?;
        let (outcomes, elapsed) = outcomes;
        let ok = outcomes.iter().filter(|o| o.status == 200).count();
        let mut statuses: std::collections::BTreeMap<u16, usize> = Default::default();
        for o in &outcomes {
            *statuses.entry(o.status).or_default() += 1;
        }
        let timeline: Vec<(Duration, Duration)> = outcomes.iter().map(|o| (Duration::from_secs_f64(o.k as f64 / rate), Duration::from_micros(o.latency_us as u64))).collect();
        let secs = per_second(&timeline);
        let full: Vec<usize> = secs.iter().copied().take(a.read_seconds.floor() as usize).collect();
        let r = percentiles(outcomes.iter().map(|o| o.latency_us).collect());
        let achieved = ok as f64 / (elapsed.as_secs_f64() - 0.2);
        println!(
            "  answers: {}; achieved {achieved:.0} OK/s ({ok} in {:.2} s); per second: min {} max {}",
            statuses.iter().map(|(s, n)| format!("{}×{n}", if *s == 0 { "no answer".to_string() } else { s.to_string() })).collect::<Vec<_>>().join(", "),
            elapsed.as_secs_f64() - 0.2,
            full.iter().min().unwrap_or(&0),
            full.iter().max().unwrap_or(&0)
        );
        let (worst, at) = worst_second(&timeline);
        println!("  read latency ms: p50 {:.2}  p90 {:.2}  p99 {:.2}  max {:.2}  (worst second: p99 {worst:.2} in second {at})", r.p50, r.p90, r.p99, r.max);
        read_line = Some((achieved, r.p99, ok == n));
    }
    println!(
        "result: write p99 {:.2} ms (floor < 20 ms: {}); log exact: {}{}",
        w.p99,
        if w.p99 < 20.0 { "met" } else { "MISSED" },
        if exact { "yes" } else { "NO" },
        read_line.map(|(rate, p99, all)| format!("; reads {rate:.0}/s, p99 {p99:.2} ms (floor 5000/s sustained: {})", if rate >= 0.98 * 5000.0_f64.min(a.read_rate) && all { "met" } else { "MISSED" })).unwrap_or_default()
    );
    client_rt.shutdown_timeout(Duration::from_secs(1));
    server_rt.shutdown_timeout(Duration::from_secs(1));
    drop(state);
    if !exact {
        bail!("the log does not hold exactly the acknowledged writes");
    }
    Ok(())
}

fn ledger_store_line(dir: &std::path::Path) -> String {
    corridor_ledger::store::sqlite::SqliteStore::open(&dir.join("ledger.sqlite")).ok().and_then(|s| s.durability_settings().ok()).unwrap_or_else(|| "ledger.sqlite".into())
}
