//! `corridor-bench monitor`: following a large log from outside.
//!
//! Builds a log of `--entries` events (the demo's declarations, then its
//! passages run again and again: [`crate::ledger::workload`]) in a fresh
//! SQLite data directory, serves it in this process, then:
//!
//! 1. **Tile throughput**: `--connections` clients fetch the log's full
//!    tiles (hash tiles and entry bundles, in a shuffled order) for
//!    `--seconds`, from the server (`/log/tile/…`, built from the tree in
//!    memory and the store) and, as the baseline, from the same tiles
//!    written to disk and served as static files (`log export --tiles` for
//!    static hosting; tower-http's `ServeDir`). Tiles/s and MB/s of each.
//! 2. **Catch-up**: `corridor monitor follow --once` from an empty copy:
//!    every entry bundle downloaded, every entry re-validated through the
//!    model, the tree rebuilt and checked against the signed root, the
//!    figures recomputed and compared with the server's public summary.
//!    The baseline is the download alone (the same bundles, one client,
//!    nothing checked): the ratio is what the checks cost.
//!
//! Client and server share the machine's cores: the figures are a floor.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use corridor_ledger::tiles::{Tile, TileKind};
use corridor_server::{AppState, Options, TokenStore};
use rand::seq::SliceRandom;
use rand::SeedableRng;

use corridor::datadir::DataDir;
use corridor::monitor::{Follow, MonitorDir, Source};

#[derive(clap::Args)]
pub struct MonitorBenchArgs {
    /// Entries in the log.
    #[arg(long, default_value_t = 1_000_000)]
    pub entries: usize,
    /// Seconds of tile reads, for each of the server and the static files.
    #[arg(long, default_value_t = 10.0)]
    pub seconds: f64,
    /// Concurrent clients reading tiles.
    #[arg(long, default_value_t = 16)]
    pub connections: usize,
    /// Worker threads of the server's runtime (the clients have their own two).
    #[arg(long, default_value_t = 2)]
    pub server_threads: usize,
    /// Where the temporary directories go (default: the system's temporary directory).
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

/// What one tile-read run did.
struct Reads {
    tiles: u64,
    bytes: u64,
    seconds: f64,
}

pub fn run(a: &MonitorBenchArgs) -> Result<()> {
    if a.entries == 0 || !(a.seconds > 0.0) || a.connections == 0 {
        bail!("--entries, --seconds and --connections must be above 0");
    }
    let tmp = match &a.dir {
        Some(d) => tempfile::tempdir_in(d)?,
        None => tempfile::tempdir()?,
    };
    let dir = tmp.path().join("data");
    let mut d = DataDir::init(&dir, Some("corridor.invalid/bench-monitor".into()), None, "corridor")?;
    let ledger = Arc::new(d.ledger()?);
    let log_key = d.signer()?.verifier().to_vkey();

    let t = Instant::now();
    let (setup, events) = crate::ledger::workload(a.entries);
    let setup: Vec<_> = setup.into_iter().take(a.entries).collect();
    let rest = a.entries - setup.len();
    ledger.append(setup).context("appending the setup")?;
    for chunk in events[..rest].chunks(10_000) {
        ledger.append(chunk.to_vec()).context("appending the passages")?;
    }
    drop(events);
    let size = ledger.len();
    println!("log: {size} entries (the demo's declarations, then its passages again and again) built in {:.1} s in {}", t.elapsed().as_secs_f64(), dir.display());

    // The same tiles as files, for the static baseline.
    let files = tmp.path().join("tiles");
    let t = Instant::now();
    let mut tiles: Vec<Tile> = Vec::new();
    for tile in Tile::all(size) {
        let p = files.join(tile.path());
        std::fs::create_dir_all(p.parent().expect("a tile path has a parent"))?;
        std::fs::write(&p, ledger.tile(tile)?)?;
        if tile.is_full() {
            tiles.push(tile);
        }
    }
    let entry_tiles = tiles.iter().filter(|t| t.kind == TileKind::Entries).count();
    println!(
        "tiles: {} full ({} entry bundles, {} hash tiles), written as files in {:.1} s",
        tiles.len(),
        entry_tiles,
        tiles.len() - entry_tiles,
        t.elapsed().as_secs_f64()
    );
    tiles.shuffle(&mut rand::rngs::StdRng::seed_from_u64(7));

    let state = AppState::new(ledger, TokenStore::open(&dir), Options { public_rate: 1e9, ..Options::default() }, &dir)?;
    let server_rt = tokio::runtime::Builder::new_multi_thread().worker_threads(a.server_threads.max(1)).thread_name("server").enable_all().build()?;
    let listener = server_rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let base = format!("http://{}", listener.local_addr()?);
    server_rt.spawn(corridor_server::serve(state.clone(), listener));
    let static_listener = server_rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let static_base = format!("http://{}", static_listener.local_addr()?);
    let static_app = axum::Router::new().nest_service("/log", tower_http::services::ServeDir::new(&files));
    // ServeDir streams the body after the head: without TCP_NODELAY each
    // answer would wait on the peer's delayed ACK.
    let static_listener = {
        use axum::serve::ListenerExt;
        static_listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        })
    };
    server_rt.spawn(async move { axum::serve(static_listener, static_app).await });
    println!(
        "server: 127.0.0.1 loopback, {} runtime threads; clients: this process, 2 runtime threads, {} connections; {} cores in all",
        a.server_threads,
        a.connections,
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0)
    );

    let client_rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).thread_name("client").enable_all().build()?;
    let tiles = Arc::new(tiles);
    let ours = client_rt.block_on(read_tiles(&format!("{base}/log"), tiles.clone(), a.connections, a.seconds))?;
    let baseline = client_rt.block_on(read_tiles(&format!("{static_base}/log"), tiles.clone(), a.connections, a.seconds))?;
    let rate = |r: &Reads| (r.tiles as f64 / r.seconds, r.bytes as f64 / r.seconds / 1e6);
    let ((ot, om), (bt, bm)) = (rate(&ours), rate(&baseline));
    println!("tile reads, {:.0} s each, full tiles in a shuffled order:", a.seconds);
    println!("  server /log/tile/…       {ot:>9.0} tiles/s  {om:>7.1} MB/s");
    println!("  static files (ServeDir)  {bt:>9.0} tiles/s  {bm:>7.1} MB/s");
    println!("  server / static: {:.2}", ot / bt);

    // Catch-up from an empty copy, and the download alone.
    let source = Source::new(&format!("{base}/log"), None)?;
    let t = Instant::now();
    let mut bytes = 0u64;
    source.entries(0, size, &mut |_, leaf| {
        bytes += leaf.len() as u64;
        Ok(())
    })?;
    let download = t.elapsed().as_secs_f64();
    let mon = MonitorDir::new(&tmp.path().join("monitor"));
    let t = Instant::now();
    let f = Follow { url: base.clone(), log_key, token: None, once: true, interval: Duration::from_secs(1) };
    corridor::monitor::follow(&mon, &f).context("the monitor did not catch up")?;
    let catch_up = t.elapsed().as_secs_f64();
    println!("monitor catch-up from empty to {size} entries ({:.0} MB of leaves in {} bundles):", bytes as f64 / 1e6, size.div_ceil(256));
    println!("  monitor follow --once (download, re-validate, tree, root, figures)  {catch_up:>6.1} s  {:>8.0} entries/s", size as f64 / catch_up);
    println!("  download alone (same bundles, nothing checked)                     {download:>6.1} s  {:>8.0} entries/s", size as f64 / download);
    println!("  follow / download: {:.2}", catch_up / download);
    drop(state);
    Ok(())
}

/// `connections` clients fetch `tiles` round-robin from `base` for
/// `seconds`; every answer must be a 200 of the tile's size.
async fn read_tiles(base: &str, tiles: Arc<Vec<Tile>>, connections: usize, seconds: f64) -> Result<Reads> {
    let client = reqwest::Client::builder().pool_max_idle_per_host(connections).tcp_nodelay(true).timeout(Duration::from_secs(30)).build()?;
    let next = Arc::new(AtomicU64::new(0));
    let bytes = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let stop = start + Duration::from_secs_f64(seconds);
    let mut runs = Vec::new();
    for _ in 0..connections {
        let (client, tiles, next, bytes, base) = (client.clone(), tiles.clone(), next.clone(), bytes.clone(), base.to_string());
        runs.push(tokio::spawn(async move {
            while Instant::now() < stop {
                let i = next.fetch_add(1, Ordering::Relaxed) as usize % tiles.len();
                let path = tiles[i].path();
                let r = client.get(format!("{base}/{path}")).send().await?;
                if r.status() != reqwest::StatusCode::OK {
                    bail!("{base}/{path} answered {}", r.status());
                }
                let body = r.bytes().await?;
                if tiles[i].kind != TileKind::Entries && body.len() != 32 * 256 {
                    bail!("{base}/{path} holds {} bytes, not a full hash tile", body.len());
                }
                bytes.fetch_add(body.len() as u64, Ordering::Relaxed);
            }
            anyhow::Ok(())
        }));
    }
    for r in runs {
        r.await??;
    }
    let seconds = start.elapsed().as_secs_f64();
    Ok(Reads { tiles: next.load(Ordering::Relaxed), bytes: bytes.load(Ordering::Relaxed), seconds })
}
