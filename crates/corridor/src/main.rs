//! `corridor`: plan, run and prove humanitarian evacuations.

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use base64::Engine as _;
use clap::{Args, Parser, Subcommand};
use corridor::datadir::DataDir;
use corridor::{demo, map, print};
use corridor_ledger::note::Verifier;
use corridor_ledger::verify::verify_log;
use corridor_ledger::Appended;
use corridor_model::parse::{parse_batch, parse_leaf};
use corridor_views::Views;
use indicatif::{ProgressBar, ProgressStyle};

mod apply;
mod notice;
mod record;
mod serve;

#[derive(Subcommand)]
enum TokenCommand {
    /// A new token, printed once on stdout (only its hash is kept).
    Create {
        /// hq (every write), checkpoint (passages and incidents at its checkpoint), monitor (reads, proofs, countersignatures).
        #[arg(long, value_parser = ["hq", "checkpoint", "monitor"])]
        role: String,
        /// For a checkpoint token: the checkpoint id.
        #[arg(long)]
        checkpoint: Option<String>,
        /// For a monitor token: its verifier key (name+hash+base64) or a file holding it.
        #[arg(long)]
        key: Option<String>,
        /// Expire after this many hours (more than 0, at most 87600: ten years).
        #[arg(long, value_parser = parse_expires_hours)]
        expires_hours: Option<f64>,
        /// The server's address as phones reach it (e.g. https://ops.example.org):
        /// prints the field app's link, which carries the token and the log's key.
        #[arg(long, value_name = "URL")]
        link: Option<String>,
        /// Also print the link as a QR code in the terminal (needs --link).
        #[arg(long, requires = "link")]
        qr: bool,
        /// Also write the link's QR code as a PNG (readable by its owner only; needs --link).
        #[arg(long, value_name = "FILE", requires = "link")]
        qr_png: Option<std::path::PathBuf>,
    },
    /// Every token: id, role, checkpoint, created, revoked or expiry.
    List,
    /// Revoke a token by its id (from `token list`).
    Revoke { id: String },
}

/// Many threads allocate events and free them on the ledger's threads;
/// mimalloc handles that cross-thread traffic far better than the system
/// allocator (measured with `corridor-bench ledger`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "corridor", version, about = "Plan, run and prove humanitarian evacuations: one tamper-evident log, many views.")]
struct Cli {
    /// The data directory holding the log, its key and its storage.
    #[arg(long, global = true, default_value = "./corridor-data", env = "CORRIDOR_DATA_DIR")]
    data_dir: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create a new log: a signing key, and SQLite storage (or PostgreSQL with --database-url).
    Init {
        /// The log's origin line (and key name), e.g. `ops.example.org/aleppo-2016`.
        #[arg(long)]
        origin: Option<String>,
        /// Store the log in PostgreSQL instead of SQLite, e.g. postgres://postgres@127.0.0.1:5432/test
        #[arg(long, env = "CORRIDOR_DATABASE_URL")]
        database_url: Option<String>,
        /// The PostgreSQL schema to keep the log in ([a-z0-9_]).
        #[arg(long, default_value = "corridor")]
        pg_schema: String,
        /// Join an existing PostgreSQL log as one more server of it (see `serve --advertise`), with its signing key: needs --database-url, --pg-schema and --key-file; creates no log.
        #[arg(long, requires_all = ["database_url", "key_file"], conflicts_with = "origin")]
        join: bool,
        /// With --join: the log's signing key (the `log.key` of the data directory that created it), copied into this one.
        #[arg(long, requires = "join", value_name = "FILE")]
        key_file: Option<PathBuf>,
    },
    /// Append, show and export log entries; print the signed checkpoint and the key.
    #[command(subcommand)]
    Log(LogCommand),
    /// Re-read the whole log, check every leaf and signed checkpoint, and recompute every figure.
    Verify {
        /// A signed checkpoint kept earlier (a file): the log must be consistent with it. With --export: the checkpoint of the exported leaves.
        #[arg(long)]
        checkpoint: Option<PathBuf>,
        /// Verify an export (`corridor log export --out leaves.b64 --checkpoint-out cp.txt`) instead of a data directory; needs --checkpoint and --key.
        #[arg(long, conflicts_with = "tiles", requires_all = ["checkpoint", "key"])]
        export: Option<PathBuf>,
        /// Verify a log served as C2SP tiles (a directory from `log export --tiles`, or a URL such as http://HOST:8080/log) instead of a data directory; needs --key.
        #[arg(long, requires = "key")]
        tiles: Option<String>,
        /// The log's verifier key (`name+hash+base64`) or a file holding it; default: the data directory's own key.
        #[arg(long)]
        key: Option<String>,
        /// Print the figures as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Declare the operation from a scenario file: append what it declares and the log lacks (operation with its time zone and map, sites, corridors with checkpoints placed on the map, windows, vehicles, agreements) and the changes it makes (truce_window_changed); the same file twice appends nothing.
    Apply {
        /// The scenario (TOML), e.g. crates/corridor-plan/scenarios/aleppo-2016.toml; its map is kept in the data directory.
        file: PathBuf,
        /// Print the events it would append, append nothing.
        #[arg(long)]
        dry_run: bool,
        /// Record through this running `corridor serve` of the log (it holds the log while it runs), e.g. http://127.0.0.1:8080.
        #[arg(long, env = "CORRIDOR_SERVER")]
        server: Option<String>,
        /// With --server: an hq token (`corridor token create --role hq`).
        #[arg(long, env = "CORRIDOR_TOKEN", hide_env_values = true)]
        token: Option<String>,
    },
    /// Plan and simulate the reference case (eastern Aleppo, 15–22 December 2016) into the log and print its figures.
    Demo {
        /// Another scenario file (TOML) instead of the bundled one.
        #[arg(long)]
        scenario: Option<PathBuf>,
        /// Replay the operation into a live server in accelerated time instead (into an empty --data-dir), and print the dashboard's URL.
        #[arg(long)]
        serve: bool,
        /// With --serve: where to listen.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        /// With --serve: the whole operation in this many minutes.
        #[arg(long, default_value_t = 2.0)]
        replay_minutes: f64,
    },
    /// The operations server: the JSON API (/api/v1), live feed, OpenAPI (/openapi.json) and the offline dashboard (/).
    Serve {
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        /// The road network the dashboard draws (.cnet); default the operation's map (DATA_DIR/map.cnet). For a log that declares an operation, it must be the file the log declares (same SHA-256).
        #[arg(long)]
        map: Option<PathBuf>,
        /// Public requests per second allowed from one address (bursts of twice that).
        #[arg(long, default_value_t = 20.0)]
        public_rate: f64,
        /// Refuse events dated further than this ahead of the server's clock (e.g. 5m, 90s, 1h).
        #[arg(long, default_value = "5m", value_parser = parse_skew)]
        max_clock_skew: chrono::Duration,
        /// A witness to ask for a cosignature of each new checkpoint (C2SP tlog-witness), e.g. http://witness.example:8090; repeat for several, each with its --witness-key in the same order.
        #[arg(long)]
        witness: Vec<String>,
        /// The witness's verifier key (`corridor monitor key` printed it), or a file holding it.
        #[arg(long)]
        witness_key: Vec<String>,
        /// Close a connection whose request head has not arrived within this time, and an idle keep-alive connection after it (e.g. 10s).
        #[arg(long, default_value = "10s", value_parser = parse_skew)]
        header_timeout: chrono::Duration,
        /// Answer 408 to a request whose body has not arrived within this time.
        #[arg(long, default_value = "30s", value_parser = parse_skew)]
        body_timeout: chrono::Duration,
        /// Connections open at once; past that, the next waits until one closes.
        #[arg(long, default_value_t = 1024)]
        max_connections: usize,
        /// Serve the field app (/field/) from this directory instead of the built-in copy, re-read at each request: to try a changed or translated app without rebuilding (its files as in crates/corridor-server/field/).
        #[arg(long, value_name = "DIR")]
        field_app: Option<PathBuf>,
        /// Run as one of several servers of a PostgreSQL log, reachable by the others at this base URL (e.g. http://10.0.0.2:8080): one of them sequences the log at a time and the others forward writes to it, taking over within seconds if it fails. See the README, "Several servers on one log".
        #[arg(long, value_name = "URL")]
        advertise: Option<String>,
        /// With --advertise: how long the sequencer's lease lasts without renewal: a paused or cut-off sequencer is replaced after this long (one whose process died, at once).
        #[arg(long, default_value = "3s", value_parser = parse_skew, requires = "advertise")]
        lease: chrono::Duration,
    },
    /// API tokens: create (shown once), list, revoke.
    #[command(subcommand)]
    Token(TokenCommand),
    /// A situation report folded from the log, checked first against its signed checkpoints as `verify` does (a log that fails is refused): Markdown, HTML, PDF, or HXL CSV.
    Report {
        /// md (Markdown), html (one page, inline SVG charts), pdf (printed from the HTML by headless Chromium; needs --out), hxl (CSV).
        #[arg(long, default_value = "md", value_parser = ["md", "html", "pdf", "hxl"])]
        format: String,
        /// With --format hxl: the districts' figures (aid, clearance, returns) or the evacuation by day and group.
        #[arg(long, default_value = "districts", value_parser = ["districts", "evacuation"])]
        table: String,
        /// Only events at or after this instant (RFC 3339, e.g. 2016-12-15T00:00:00Z).
        #[arg(long)]
        from: Option<chrono::DateTime<chrono::Utc>>,
        /// Only events before this instant.
        #[arg(long)]
        to: Option<chrono::DateTime<chrono::Utc>>,
        /// Write to this file instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Check the log against this verifier key (`name+hash+base64`, or a file holding it), the one published for the log; default the data directory's own.
        #[arg(long)]
        key: Option<String>,
    },
    /// Public notices for the corridors open or scheduled in the log: SMS (with encoding and segments), CAP 1.2 alerts, A4 PDF leaflets, loudspeaker scripts (and WAV with espeak-ng); Arabic and English.
    Notice {
        /// sms (printed; sent with --send), cap (CAP 1.2 XML files), pdf (A4 leaflets, needs Chromium), speech (scripts; WAV files with --out).
        #[arg(long, value_parser = ["sms", "cap", "pdf", "speech"])]
        format: String,
        /// Only this corridor (default: every corridor open or scheduled in the log).
        #[arg(long)]
        corridor: Option<String>,
        /// Only this truce window.
        #[arg(long)]
        window: Option<String>,
        /// ar, en or both (default: the languages the operation declares; both when it declares none).
        #[arg(long, value_parser = ["ar", "en", "both"])]
        lang: Option<String>,
        /// Send the SMS: `outbox` (files in DATA_DIR/sms/outbox/out for another system to pick up) or `kannel` (its HTTP sendsms interface); what was accepted is recorded as `notice_issued`. Unsent messages stay in DATA_DIR/sms/SENDER/pending and are retried by the next --send.
        #[arg(long, value_parser = ["outbox", "kannel"])]
        send: Option<String>,
        /// The instant to look from (RFC 3339; default now): the log's events up to it, the windows not ended by it. A replayed 2016 log needs e.g. --at 2016-12-15T04:30:00Z.
        #[arg(long)]
        at: Option<chrono::DateTime<chrono::Utc>>,
        /// The folder for CAP, PDF and audio files.
        #[arg(long)]
        out: Option<PathBuf>,
        /// A folder of templates replacing the built-in ones (same names as crates/corridor-notify/templates).
        #[arg(long)]
        templates: Option<PathBuf>,
        /// With --send: the recipients, one E.164 phone number per line. They stay on this machine; the log keeps only their count and a hash.
        #[arg(long)]
        recipients: Option<PathBuf>,
        /// With --send kannel: smsbox's sendsms URL.
        #[arg(long, env = "CORRIDOR_KANNEL_URL", default_value = "http://127.0.0.1:13013/cgi-bin/sendsms")]
        kannel_url: String,
        /// The sendsms-user's name and password (from the environment rather than the command line, so they stay out of shell history).
        #[arg(long, env = "CORRIDOR_KANNEL_USER", default_value = "corridor")]
        kannel_user: String,
        #[arg(long, env = "CORRIDOR_KANNEL_PASSWORD", default_value = "")]
        kannel_password: String,
        /// The sender id Kannel puts on the messages (default: the sendsms-user's default-sender).
        #[arg(long, env = "CORRIDOR_KANNEL_FROM")]
        kannel_from: Option<String>,
        /// The CAP alerts' sender (default: the log's origin), unique to this operation.
        #[arg(long)]
        cap_sender: Option<String>,
        /// Record the CAP alerts, leaflets or scripts as issued (`notice_issued`): they were published, handed out or read out. Without it, files and previews record nothing.
        #[arg(long)]
        issue: bool,
        /// Record through this running `corridor serve` (e.g. http://127.0.0.1:8080) instead of writing the log directly: how hq issues notices while the server holds the log.
        #[arg(long, env = "CORRIDOR_SERVER")]
        server: Option<String>,
        /// With --server: an hq token (`corridor token create --role hq`).
        #[arg(long, env = "CORRIDOR_TOKEN", hide_env_values = true)]
        token: Option<String>,
    },
    /// Plan a scenario (default: the bundled reference case) with the truce windows known at its start, and print the convoy schedule; nothing is written.
    Plan {
        /// A scenario file (TOML); see crates/corridor-plan/scenarios/aleppo-2016.toml.
        #[arg(long)]
        scenario: Option<PathBuf>,
    },
    /// Append UNOSAT's building damage sites (shared/data/aleppo/unosat-damage-sites.geojson) to the log as damaged buildings per district: the work list for clearance and returns. Run after the districts are declared (`corridor demo`).
    ImportDamage {
        /// The UNOSAT damage sites (GeoJSON points with `Main_Dam_2`).
        file: PathBuf,
    },
    /// Import a road map (.osm.pbf, .osm, GeoJSON LineStrings) into a prepared network file (.cnet).
    Import {
        /// The map: an OpenStreetMap extract, or GeoJSON roads with OSM tags as properties.
        map: PathBuf,
        /// The prepared network to write (default: the map's name with .cnet, in the current directory).
        #[arg(long)]
        out: Option<PathBuf>,
        /// MAP is a neighbourhoods GeoJSON (../shared/data/aleppo/neighborhoods.geojson): derive Aleppo's approximate district network from it.
        #[arg(long)]
        districts: bool,
    },
    /// The fastest route between two points, around active hazard areas.
    Route {
        #[command(flatten)]
        map: MapArgs,
        /// Start, LAT,LON.
        #[arg(long, allow_hyphen_values = true)]
        from: corridor_geo::LatLon,
        /// Destination, LAT,LON.
        #[arg(long, allow_hyphen_values = true)]
        to: corridor_geo::LatLon,
        /// Points to pass through, in order (repeat).
        #[arg(long, allow_hyphen_values = true)]
        via: Vec<corridor_geo::LatLon>,
        /// Print the route (and hazards) as GeoJSON (RFC 7946).
        #[arg(long)]
        geojson: bool,
        /// Refuse points farther than this from any usable road, km.
        #[arg(long, default_value_t = 5.0)]
        max_snap_km: f64,
    },
    /// Route a corridor from its entry to its exit and place its checkpoints on it.
    Corridor {
        #[command(flatten)]
        map: MapArgs,
        #[arg(long, default_value = "corridor-1")]
        id: String,
        #[arg(long, default_value = "")]
        name: String,
        /// Entry point, LAT,LON.
        #[arg(long, allow_hyphen_values = true)]
        entry: corridor_geo::LatLon,
        /// Exit point, LAT,LON.
        #[arg(long, allow_hyphen_values = true)]
        exit: corridor_geo::LatLon,
        #[arg(long, allow_hyphen_values = true)]
        via: Vec<corridor_geo::LatLon>,
        /// A checkpoint, ID:NAME@PLACE where PLACE is LAT,LON, a distance from the entry (2.5km, 800m) or a share (40%). Repeat.
        #[arg(long)]
        checkpoint: Vec<String>,
        /// Print the corridor, its checkpoints and the hazards as GeoJSON (RFC 7946).
        #[arg(long)]
        geojson: bool,
    },
    /// Export the drivable network (and hazards) as GeoJSON (RFC 7946).
    MapGeojson {
        #[command(flatten)]
        map: MapArgs,
        /// Write to FILE instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Follow an operation's log from outside, as an independent monitor: make a key, keep a checked copy, countersign.
    #[command(subcommand)]
    Monitor(MonitorCommand),
}

/// The prepared network and the hazards to route around.
#[derive(Args)]
struct MapArgs {
    /// A prepared network file from `corridor import`.
    #[arg(long)]
    map: PathBuf,
    /// Hazard areas: a GeoJSON FeatureCollection of Polygons with an `id` (and `status`, `kind`).
    #[arg(long)]
    hazards: Option<PathBuf>,
    /// Also follow the hazard events in the log of --data-dir (declared, status changed, cleared).
    #[arg(long)]
    log_hazards: bool,
}

#[derive(Subcommand)]
enum MonitorCommand {
    /// Make this monitor's cosignature/v1 key (kept in DATA_DIR/monitor.key) and print its public key, which HQ passes to `corridor token create --role monitor --key`.
    Key {
        /// The monitor's name, e.g. icrc.example/monitor-1.
        #[arg(long)]
        name: String,
    },
    /// Follow a server's log: check each new signed checkpoint, its entries and the public figures; countersign what checks out. Any fork, rewrite or mismatch is an alarm (exit status 2, evidence file in DATA_DIR).
    Follow {
        /// The server, e.g. http://127.0.0.1:8080 (tiles under /log/).
        url: String,
        /// The log's verifier key (`corridor log key` on the server, published by HQ), or a file holding it.
        #[arg(long)]
        log_key: String,
        /// A monitor token: post a cosignature of each checkpoint that checks out.
        #[arg(long, env = "CORRIDOR_TOKEN")]
        token: Option<String>,
        /// One round, then exit (0: all checks out).
        #[arg(long)]
        once: bool,
        /// Seconds between rounds.
        #[arg(long, default_value_t = 10)]
        interval: u64,
    },
    /// Be a C2SP tlog-witness for the logs given: cosign (with DATA_DIR/monitor.key) each checkpoint a server sends to POST /add-checkpoint if the log signed it and it extends the last one cosigned. The server is started with `corridor serve --witness URL --witness-key KEY`.
    Witness {
        #[arg(long, default_value = "127.0.0.1:8090")]
        listen: String,
        /// A log's verifier key, or a file holding it; repeat for several logs.
        #[arg(long, required = true)]
        log_key: Vec<String>,
    },
}

#[derive(Subcommand)]
enum LogCommand {
    /// Append events (a JSON array, or one JSON event per line) from FILE or stdin. All or nothing.
    Append {
        /// File of events; `-` or nothing reads stdin.
        file: Option<PathBuf>,
    },
    /// Show entries.
    Show {
        #[arg(long, default_value_t = 0)]
        from: u64,
        /// Exclusive end (default: the end of the log).
        #[arg(long)]
        to: Option<u64>,
        /// One JSON object per line: index, leaf hash, event.
        #[arg(long)]
        json: bool,
    },
    /// Every entry's exact leaf bytes (what is hashed), one base64 line per entry, in log order.
    Export {
        /// Write to FILE instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Also write the signed checkpoint that covers exactly the exported entries.
        #[arg(long)]
        checkpoint_out: Option<PathBuf>,
        /// Instead, write the log as C2SP tlog-tiles into DIR (DIR/checkpoint, DIR/tile/…), for static hosting.
        #[arg(long, conflicts_with_all = ["out", "checkpoint_out"])]
        tiles: Option<PathBuf>,
    },
    /// The latest signed checkpoint, as a C2SP signed note.
    Checkpoint,
    /// The log's verifier key, in signed-note `name+hash+base64` form.
    Key,
}

/// The most a token may live: ten years, in hours.
const MAX_TOKEN_HOURS: f64 = 10.0 * 8760.0;

/// `--expires-hours`: a finite number of hours, more than 0 and at most ten
/// years (0 or NaN would make a token that is expired when made; 1e12 or
/// inf a date no clock reaches).
fn parse_expires_hours(s: &str) -> Result<f64, String> {
    let h: f64 = s.trim().parse().map_err(|_| format!("{s:?} is not a number of hours: write e.g. 12 or 0.5"))?;
    if !(h.is_finite() && h > 0.0 && h <= MAX_TOKEN_HOURS) {
        return Err(format!("{s:?} is out of range: a token expires after more than 0 and at most {MAX_TOKEN_HOURS} hours (ten years); leave --expires-hours out for a token that does not expire"));
    }
    Ok(h)
}

/// `5m`, `90s`, `1h`, or seconds.
fn parse_skew(s: &str) -> Result<chrono::Duration, String> {
    let (n, unit) = s.trim().split_at(s.trim().find(|c: char| !c.is_ascii_digit()).unwrap_or(s.trim().len()));
    let n: i64 = n.parse().map_err(|_| format!("{s:?} is not a duration: write e.g. 5m, 90s or 1h"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" | "min" => n * 60,
        "h" => n * 3600,
        _ => return Err(format!("{s:?}: the unit is s, m or h (e.g. 5m)")),
    };
    if !(0..=7 * 86_400).contains(&secs) {
        return Err(format!("{s:?} is out of range: at most 7 days"));
    }
    Ok(chrono::Duration::seconds(secs))
}

/// The exit code of a command whose standard output was closed (`| head`):
/// 128 + SIGPIPE, as a shell reports a process that SIGPIPE ended.
const CLOSED_PIPE: i32 = 141;

/// Whether `e` is the reader of standard output having gone away.
fn closed_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe))
}

fn main() {
    // A reader that stops reading (`corridor demo | head`) ends the command
    // quietly, whether the write that noticed was a `println!` (which
    // panics) or one that returned its error: no panic message, no
    // backtrace, exit code 141. Decided here, once, for every command.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let msg = info.payload().downcast_ref::<String>().map(String::as_str).or_else(|| info.payload().downcast_ref::<&str>().copied()).unwrap_or("");
        if msg.starts_with("failed printing to stdout") && msg.contains("os error 32") {
            std::process::exit(CLOSED_PIPE);
        }
        default_hook(info)
    }));
    let cli = Cli::parse();
    if let Err(e) = run(cli) {
        if closed_pipe(&e) {
            std::process::exit(CLOSED_PIPE);
        }
        if let Some(a) = e.downcast_ref::<corridor::monitor::Alarm>() {
            eprintln!("{a}");
            std::process::exit(2);
        }
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> Result<()> {
    let dir = cli.data_dir.as_path();
    match cli.command {
        Command::Init { database_url: Some(url), pg_schema, join: true, key_file: Some(key), .. } => {
            let d = DataDir::join(dir, &key, url, &pg_schema)?;
            println!("joined log {:?} (PostgreSQL schema {pg_schema:?}) in {}", d.config.origin, dir.display());
            println!("verifier key: {}", d.signer()?.verifier().to_vkey());
            println!("start this server with `corridor --data-dir {} serve --advertise http://ADDRESS:PORT --listen ADDRESS:PORT`", dir.display());
        }
        Command::Init { origin, database_url, pg_schema, .. } => {
            let d = DataDir::init(dir, origin, database_url, &pg_schema)?;
            println!("created log {:?} in {}", d.config.origin, dir.display());
            println!("verifier key: {}", d.signer()?.verifier().to_vkey());
        }
        Command::Log(cmd) => log(dir, cmd)?,
        Command::Verify { checkpoint, key, json, export, tiles } => match (export, tiles) {
            (None, None) => verify(dir, checkpoint.as_deref(), key.as_deref(), json)?,
            (export, tiles) => verify_outside(export.as_deref(), tiles.as_deref(), checkpoint.as_deref(), key.as_deref().unwrap_or_default(), json)?,
        },
        Command::Demo { scenario, serve: true, listen, replay_minutes } => serve::demo_serve(dir, scenario.as_deref(), &listen, replay_minutes)?,
        Command::Demo { scenario, .. } => demo_cmd(dir, scenario.as_deref())?,
        Command::Serve { listen, map, public_rate, max_clock_skew, witness, witness_key, header_timeout, body_timeout, max_connections, field_app, advertise, lease } => {
            if witness.len() != witness_key.len() {
                anyhow::bail!("{} --witness but {} --witness-key: give each witness its key, in the same order", witness.len(), witness_key.len());
            }
            let witnesses = witness
                .into_iter()
                .zip(witness_key)
                .map(|(url, key)| {
                    let key = Verifier::from_vkey(&key_arg(&key)?).with_context(|| format!("--witness-key for {url} is not a verifier key"))?;
                    Ok(corridor_server::witness::WitnessConfig { url, key })
                })
                .collect::<Result<Vec<_>>>()?;
            let secs = |d: chrono::Duration| std::time::Duration::from_secs(d.num_seconds().max(1) as u64);
            let limits = corridor_server::conn::Limits { header_timeout: secs(header_timeout), body_timeout: secs(body_timeout), max_connections: max_connections.max(1), ..Default::default() };
            if let Some(f) = field_app.as_deref().filter(|f| !f.join("app.js").is_file()) {
                anyhow::bail!("--field-app {}: no app.js there; give a copy of crates/corridor-server/field/", f.display());
            }
            let cluster = advertise.map(|url| serve::Join { advertise: url, lease: secs(lease) });
            serve::serve(dir, &listen, map.as_deref(), public_rate, max_clock_skew, witnesses, limits, field_app, cluster)?
        }
        Command::Token(TokenCommand::Create { role, checkpoint, key, expires_hours, link, qr, qr_png }) => {
            serve::token_create(dir, &role, checkpoint, key, expires_hours, serve::Link { url: link, qr, png: qr_png })?
        }
        Command::Token(TokenCommand::List) => serve::token_list(dir)?,
        Command::Token(TokenCommand::Revoke { id }) => serve::token_revoke(dir, &id)?,
        Command::Plan { scenario } => plan_cmd(scenario.as_deref())?,
        Command::Apply { file, dry_run, server, token } => apply::run(dir, &file, dry_run, server.as_deref(), token.as_deref())?,
        Command::Notice { format, corridor, window, lang, send, at, out, templates, recipients, kannel_url, kannel_user, kannel_password, kannel_from, cap_sender, issue, server, token } => notice::run(
            dir,
            &notice::NoticeArgs { format, corridor, window, lang, send, issue, at, out, templates, recipients, kannel_url, kannel_user, kannel_password, kannel_from, cap_sender, server, token },
        )?,
        Command::Report { format, table, from, to, out, key } => report_cmd(dir, &format, &table, from, to, out.as_deref(), key.as_deref())?,
        Command::Import { map, out, districts } => map::import(&map, out, districts)?,
        Command::ImportDamage { file } => import_damage(dir, &file)?,
        Command::Route { map: m, from, to, via, geojson, max_snap_km } => {
            let hz = map_hazards(dir, &m)?;
            map::route(&m.map, from, to, &via, hz, geojson, max_snap_km)?
        }
        Command::Corridor { map: m, id, name, entry, exit, via, checkpoint, geojson } => {
            let hz = map_hazards(dir, &m)?;
            let name = if name.is_empty() { id.clone() } else { name };
            map::corridor(&m.map, &id, &name, entry, exit, &via, &checkpoint, hz, geojson)?
        }
        Command::MapGeojson { map: m, out } => {
            let hz = map_hazards(dir, &m)?;
            map::map_geojson(&m.map, hz, out.as_deref())?
        }
        Command::Monitor(MonitorCommand::Key { name }) => {
            let (vkey, new) = corridor::monitor::MonitorDir::new(dir).make_key(&name)?;
            if !new {
                eprintln!("{} already holds a monitor key; it is kept:", dir.display());
            }
            println!("{vkey}");
        }
        Command::Monitor(MonitorCommand::Follow { url, log_key, token, once, interval }) => {
            let log_key = key_arg(&log_key)?;
            let f = corridor::monitor::Follow { url, log_key, token, once, interval: std::time::Duration::from_secs(interval) };
            corridor::monitor::follow(&corridor::monitor::MonitorDir::new(dir), &f)?;
        }
        Command::Monitor(MonitorCommand::Witness { listen, log_key }) => {
            let logs = log_key.iter().map(|k| Verifier::from_vkey(&key_arg(k)?).with_context(|| format!("--log-key {k:?} is not a verifier key"))).collect::<Result<Vec<_>>>()?;
            serve::witness(dir, &listen, logs)?
        }
    }
    Ok(())
}

/// A key given on the command line, or the file that holds it.
fn key_arg(k: &str) -> Result<String> {
    Ok(if Path::new(k).is_file() { std::fs::read_to_string(k).with_context(|| format!("cannot read {k}"))?.trim().to_string() } else { k.trim().to_string() })
}

/// The hazards of `--hazards`, on top of the log's when `--log-hazards`.
fn map_hazards(dir: &Path, m: &MapArgs) -> Result<corridor_geo::HazardSet> {
    let mut set = corridor_geo::HazardSet::default();
    if m.log_hazards {
        let mut d = DataDir::open(dir)?;
        checked_walk(&mut d, None, &mut |_, e| {
            set.apply(e);
        })?;
    }
    map::hazards(m.hazards.as_deref(), set)
}

fn log(dir: &Path, cmd: LogCommand) -> Result<()> {
    let mut d = DataDir::open(dir)?;
    match cmd {
        LogCommand::Append { file } => {
            let mut input = String::new();
            match file.as_deref() {
                None => std::io::stdin().read_to_string(&mut input).context("cannot read events from stdin")?,
                Some(p) if p == Path::new("-") => std::io::stdin().read_to_string(&mut input).context("cannot read events from stdin")?,
                Some(p) => std::fs::read_to_string(p)
                    .map(|s| {
                        input = s;
                        input.len()
                    })
                    .with_context(|| format!("cannot read {}", p.display()))?,
            };
            let events = parse_batch(&input).context("nothing was appended")?;
            let ledger = d.ledger()?;
            let n = events.len();
            let ids: Vec<String> = events.iter().map(|e| e.id.clone()).collect();
            let outcomes = ledger.append(events)?;
            let new = outcomes.iter().filter(|o| matches!(o, Appended::New(_))).count();
            // Small batches: say where each event is (a retry learns its original position).
            if n <= 20 {
                for (id, o) in ids.iter().zip(&outcomes) {
                    match o {
                        Appended::New(i) => println!("{id}: appended at index {i}"),
                        Appended::Duplicate(i) => println!("{id}: already in the log at index {i}, not appended again"),
                    }
                }
            }
            println!("appended {new} new event(s), {} already in the log; log size {}", n - new, ledger.len());
        }
        // Reads go to the store directly, without the writer lock: they work
        // while another process (a server) appends. They stop at the latest
        // signed checkpoint, so what they show is always covered by one.
        LogCommand::Show { from, to, json } => {
            let (mut store, cp) = signed_store(&mut d)?;
            let end = to.unwrap_or(u64::MAX).min(cp.size);
            let mut out = std::io::stdout().lock();
            each_entry(store.as_mut(), from, end, |e| {
                let ev = parse_leaf(&e.leaf).map_err(|err| anyhow::anyhow!("entry {}: {err}; run `corridor verify`", e.index))?;
                let i = e.index;
                if json {
                    writeln!(out, "{}", serde_json::json!({ "index": i, "leaf_hash": hex::encode(e.hash), "event": ev }))?;
                } else {
                    writeln!(out, "{i:>7}  {}  {:<22} {:<14} {}", ev.time.format("%Y-%m-%d %H:%M:%SZ"), ev.body.kind(), ev.author, ev.id)?;
                }
                Ok(())
            })?;
        }
        LogCommand::Export { tiles: Some(to), .. } => {
            let (n, files) = export_tiles(&mut d, &to)?;
            eprintln!("exported {n} entries as {files} tiles and the checkpoint to {}", to.display());
        }
        LogCommand::Export { out, checkpoint_out, tiles: None } => {
            let (mut store, cp) = signed_store(&mut d)?;
            if let Some(p) = &checkpoint_out {
                std::fs::write(p, &cp.note).with_context(|| format!("cannot write {}", p.display()))?;
            }
            let mut w: Box<dyn Write> = match &out {
                Some(p) => Box::new(std::io::BufWriter::new(std::fs::File::create(p).with_context(|| format!("cannot create {}", p.display()))?)),
                None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
            };
            let n = cp.size;
            let b64 = base64::engine::general_purpose::STANDARD;
            each_entry(store.as_mut(), 0, n, |e| Ok(writeln!(w, "{}", b64.encode(&e.leaf))?))?;
            w.flush()?;
            if let Some(p) = out {
                eprintln!("exported {n} entries to {}", p.display());
            }
        }
        LogCommand::Checkpoint => print!("{}", signed_store(&mut d)?.1.note),
        LogCommand::Key => println!("{}", d.signer()?.verifier().to_vkey()),
    }
    Ok(())
}

/// `log export --tiles`: the checkpoint and every tile of the log at its
/// latest signed checkpoint, as files a static web server can serve.
fn export_tiles(d: &mut DataDir, to: &Path) -> Result<(u64, u64)> {
    use corridor_ledger::merkle::Tree;
    use corridor_ledger::tiles::{bundle, Tile, TileKind, TILE_WIDTH};
    let (mut store, cp) = signed_store(d)?;
    let mut tree = Tree::new();
    let write = |t: &Tile, data: &[u8]| -> Result<()> {
        let p = to.join(t.path());
        std::fs::create_dir_all(p.parent().expect("a tile path has a parent")).with_context(|| format!("cannot create {}", to.display()))?;
        std::fs::write(&p, data).with_context(|| format!("cannot write {}", p.display()))
    };
    let mut files = 0;
    let mut leaves: Vec<Vec<u8>> = Vec::with_capacity(TILE_WIDTH as usize);
    let mut n = 0;
    each_entry(store.as_mut(), 0, cp.size, |e| {
        tree.push(e.hash);
        leaves.push(e.leaf);
        if leaves.len() as u64 == TILE_WIDTH || e.index + 1 == cp.size {
            let t = Tile { kind: TileKind::Entries, index: n, width: leaves.len() as u16 };
            write(&t, &bundle(leaves.iter().map(Vec::as_slice))?)?;
            files += 1;
            leaves.clear();
            n += 1;
        }
        Ok(())
    })?;
    let root = tree.root();
    let signed = corridor_ledger::parse_checkpoint(&cp.note, &d.signer()?.verifier()).map_err(|e| anyhow::anyhow!("{e}"))?;
    if signed.root != root || tree.len() != cp.size {
        bail!("the stored entries do not hash to the latest signed checkpoint; run `corridor verify`");
    }
    for t in Tile::all(cp.size).filter(|t| t.kind != TileKind::Entries) {
        let TileKind::Hash(level) = t.kind else { continue };
        let r = t.range();
        let hashes = tree.level_hashes(Tile::tree_level(level), r.start, r.end).expect("the tree has every tile of its size");
        write(&t, &hashes.concat())?;
        files += 1;
    }
    std::fs::write(to.join("checkpoint"), &cp.note).with_context(|| format!("cannot write {}", to.join("checkpoint").display()))?;
    Ok((cp.size, files))
}

/// Calls `f` on entries `start..end`, read 10,000 at a time.
fn each_entry(
    store: &mut dyn corridor_ledger::store::Store,
    start: u64,
    end: u64,
    mut f: impl FnMut(corridor_ledger::store::StoredEntry) -> Result<()>,
) -> Result<()> {
    let mut at = start;
    while at < end {
        let stop = (at + 10_000).min(end);
        for e in store.read(at, stop)? {
            f(e)?;
        }
        at = stop;
    }
    Ok(())
}

/// `views` if it needs no replay; else the log's entries `0..end` (those
/// `keep` takes; already checked by the walk that made `views`) folded
/// again knowing every correction (see [`Views::needs_replay`]).
fn replayed(d: &DataDir, end: u64, views: Views, keep: &dyn Fn(&corridor_model::Event) -> bool) -> Result<Views> {
    if !views.needs_replay() {
        return Ok(views);
    }
    replayed_from(d.store()?.as_mut(), end, views, keep)
}

/// [`replayed`] from a store.
fn replayed_from(store: &mut dyn corridor_ledger::store::Store, end: u64, views: Views, keep: &dyn Fn(&corridor_model::Event) -> bool) -> Result<Views> {
    if !views.needs_replay() {
        return Ok(views);
    }
    let mut again = views.replaying();
    each_entry(store, 0, end, |e| {
        let event = parse_leaf(&e.leaf).map_err(|err| anyhow::anyhow!("entry {}: {err}; run `corridor verify`", e.index))?;
        if keep(&event) {
            again.apply(e.index, &event);
        }
        Ok(())
    })?;
    Ok(again)
}

/// Every event of the log, in order, from one checked walk
/// ([`checked_walk`]): a log that fails verification is refused.
fn read_events(d: &mut DataDir) -> Result<Vec<corridor_model::Event>> {
    let mut out = Vec::new();
    checked_walk(d, None, &mut |_, e| out.push(e.clone()))?;
    Ok(out)
}

/// What a [`checked_walk`] verified the log against.
struct Checked {
    /// The latest signed checkpoint, matching the entries read.
    checkpoint: corridor_ledger::checkpoint::Checkpoint,
    /// The verifier key it was checked with (`name+hash+base64`).
    key: String,
}

/// The log read in one walk and checked exactly as `corridor verify` checks
/// it (every leaf re-hashed and re-parsed, the tree rebuilt, every signed
/// checkpoint matched against it), calling `on_event` for each entry in log
/// order. A log that fails is refused, naming each entry at fault: nothing
/// read from it may be published. `key` is the log's published verifier key
/// (or a file holding it); default the data directory's own. Reads the
/// store directly, without the writer lock, so it works while a server
/// appends (the walk ends at a signed checkpoint).
fn checked_walk(d: &mut DataDir, key: Option<&str>, on_event: &mut dyn FnMut(u64, &corridor_model::Event)) -> Result<Checked> {
    let verifier = verifier_for(d, key)?;
    let mut store = d.store()?;
    if store.latest_checkpoint()?.is_none() {
        // A log never opened for writing: opening it signs the empty tree.
        d.ledger()?;
    }
    let mut report = verify_log(store.as_mut(), &verifier, None, on_event)?;
    let signed = std::fs::read_to_string(d.path.join(corridor::datadir::SIGNED)).ok();
    if let Some(p) = signed.and_then(|s| fork_problem(&s, &verifier, &report)) {
        report.problems.push(p);
    }
    if !report.ok() {
        let mut msg = format!("the log in {} fails verification ({} problem(s)); nothing is read from it:", d.path.display(), report.problems.len());
        // The entries at fault first; of the checkpoints they break (every
        // later one), the first.
        let (named, other): (Vec<_>, Vec<_>) = report.problems.iter().partition(|p| p.index.is_some());
        let shown: Vec<_> = named.iter().take(10).chain(other.first()).collect();
        for p in &shown {
            msg.push_str(&format!("\n  {p}"));
        }
        if report.problems.len() > shown.len() {
            msg.push_str(&format!("\n  … and {} more", report.problems.len() - shown.len()));
        }
        msg.push_str(&format!(
            "\nrun `corridor verify --data-dir {}` for the whole check, and restore the log from a copy that verifies (or from a monitor's copy) before using it",
            d.path.display()
        ));
        bail!(msg);
    }
    let checkpoint = report.checkpoint.ok_or_else(|| anyhow::anyhow!("the log in {} has no signed checkpoint that verifies; run `corridor verify`", d.path.display()))?;
    Ok(Checked { checkpoint, key: verifier.to_vkey() })
}

/// Fork safety for readers: the checkpoint this key signed last, kept
/// beside it, against the log as read. A log smaller than it, or with
/// another root at its size, is a second history under the same key.
fn fork_problem(signed: &str, verifier: &Verifier, report: &corridor_ledger::verify::Report) -> Option<corridor_ledger::verify::Problem> {
    let what = match corridor_ledger::parse_checkpoint(signed, verifier) {
        Err(e) => format!("the checkpoint kept beside the key ({}) does not verify: {e}", corridor::datadir::SIGNED),
        Ok(cp) if cp.size > report.entries => format!("this key signed {} entries ({}) but the log holds {}: the ledger was replaced, truncated or lost", cp.size, corridor::datadir::SIGNED, report.entries),
        Ok(cp) if cp.size == report.entries && cp.root != report.root => format!("this key signed another root at size {} ({}): the ledger was replaced", cp.size, corridor::datadir::SIGNED),
        Ok(_) => return None,
    };
    Some(corridor_ledger::verify::Problem { index: None, what })
}

/// The key a log is checked with: `key` (a verifier key, or a file holding
/// one), or the data directory's own.
fn verifier_for(d: &DataDir, key: Option<&str>) -> Result<Verifier> {
    match key {
        None => Ok(d.signer()?.verifier()),
        Some(k) => {
            let text = if Path::new(k).is_file() { std::fs::read_to_string(k).with_context(|| format!("cannot read the key file {k}"))? } else { k.to_string() };
            Verifier::from_vkey(text.trim()).with_context(|| format!("{k:?} is not a verifier key (name+hash+base64)"))
        }
    }
}

/// The store and its latest signed checkpoint. A log that has never been
/// opened for writing has none yet: the ledger is opened once to sign the
/// empty tree.
fn signed_store(d: &mut DataDir) -> Result<(Box<dyn corridor_ledger::store::Store>, corridor_ledger::store::StoredCheckpoint)> {
    let mut store = d.store()?;
    let cp = match store.latest_checkpoint()? {
        Some(cp) => cp,
        None => {
            let note = d.ledger()?.checkpoint().note;
            corridor_ledger::store::StoredCheckpoint { size: 0, note }
        }
    };
    Ok((store, cp))
}

fn verify(dir: &Path, checkpoint: Option<&Path>, key: Option<&str>, json: bool) -> Result<()> {
    let d = DataDir::open(dir)?;
    if key.is_none() {
        eprintln!(
            "note: checking against the key stored beside the log ({}); for an independent check pass --key with the key published for this log",
            dir.join("log.key").display()
        );
    }
    let verifier = verifier_for(&d, key)?;
    let earlier = match checkpoint {
        Some(p) => Some(std::fs::read_to_string(p).with_context(|| format!("cannot read checkpoint {}", p.display()))?),
        None => None,
    };
    let mut store = d.store()?;
    let signed = std::fs::read_to_string(dir.join(corridor::datadir::SIGNED)).ok();
    verify_store(store.as_mut(), &verifier, earlier.as_deref(), signed.as_deref(), json, &dir.display().to_string())
}

/// `verify --export | --tiles`: a log read from outside, into memory, then
/// checked as a stored one is.
fn verify_outside(export: Option<&Path>, tiles: Option<&str>, checkpoint: Option<&Path>, key: &str, json: bool) -> Result<()> {
    use corridor_ledger::store::{memory::MemoryStore, Store, StoredCheckpoint, StoredEntry};
    let key = if Path::new(key).is_file() { std::fs::read_to_string(key).with_context(|| format!("cannot read the key file {key}"))? } else { key.to_string() };
    let verifier = Verifier::from_vkey(key.trim()).with_context(|| format!("{key:?} is not a verifier key (name+hash+base64)"))?;
    let read = |p: &Path| std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()));
    let mut store = MemoryStore::new();
    let push = |store: &mut MemoryStore, index: u64, leaf: Vec<u8>| store.append(&[StoredEntry { index, hash: corridor_ledger::merkle::leaf_hash(&leaf), leaf }], None);
    let (what, earlier) = if let Some(p) = export {
        let note = read(checkpoint.expect("clap requires --checkpoint with --export"))?;
        let text = read(p)?;
        for (i, line) in text.lines().enumerate() {
            let leaf = base64::engine::general_purpose::STANDARD.decode(line.trim()).with_context(|| format!("{} line {}: not base64", p.display(), i + 1))?;
            push(&mut store, i as u64, leaf)?;
        }
        let size = corridor_ledger::parse_checkpoint(&note, &verifier).map_err(|e| anyhow::anyhow!("{}: {e}", checkpoint.unwrap().display()))?.size;
        let n = store.len()?;
        if size != n {
            bail!("{} holds {n} leaves but the checkpoint covers {size}: export them together (`corridor log export --out leaves.b64 --checkpoint-out cp.txt`)", p.display());
        }
        store.append(&[], Some(&StoredCheckpoint { size, note }))?;
        (p.display().to_string(), None)
    } else {
        let src = corridor::monitor::Source::new(tiles.expect("one of the two"), None)?;
        let note = src.checkpoint()?;
        let cp = corridor::monitor::open_checkpoint(&note, &verifier)?;
        src.entries(0, cp.size, &mut |i, leaf| Ok(push(&mut store, i, leaf.to_vec())?))?;
        store.append(&[], Some(&StoredCheckpoint { size: cp.size, note }))?;
        (tiles.unwrap().to_string(), checkpoint.map(read).transpose()?)
    };
    verify_store(&mut store, &verifier, earlier.as_deref(), None, json, &what)
}

/// The whole check of a log in `store`, its figures printed. `signed` is
/// the checkpoint kept beside the key (fork safety), if any.
fn verify_store(store: &mut dyn corridor_ledger::store::Store, verifier: &Verifier, earlier: Option<&str>, signed: Option<&str>, json: bool, what: &str) -> Result<()> {
    let mut views = Views::new();
    let mut report = verify_log(store, verifier, earlier, &mut |i, e| views.apply(i, e))?;
    if let Some(p) = signed.and_then(|s| fork_problem(s, verifier, &report)) {
        report.problems.push(p);
    }
    let views = replayed_from(store, report.entries, views, &|_| true)?;
    let figures = views.figures();
    if json {
        println!("{}", serde_json::to_string_pretty(&serde_json::json!({
            "ok": report.ok(),
            "entries": report.entries,
            "root": hex::encode(report.root),
            "problems": report.problems.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "figures": figures,
        }))?);
    } else {
        print!("{}", print::figures(&figures));
        println!("entries: {}, root {}", report.entries, base64::engine::general_purpose::STANDARD.encode(report.root));
        println!("signed checkpoints checked: {}", report.checkpoints_checked);
        if report.checkpoints_later > 0 {
            println!("{} newer checkpoint(s) were written while verifying; run verify again to check them", report.checkpoints_later);
        }
        if let Some(old) = &report.consistent_with {
            println!("consistent with the earlier checkpoint at size {}", old.size);
        }
    }
    if !report.ok() {
        for p in &report.problems {
            eprintln!("FAILED: {p}");
        }
        bail!("verification failed: {} problem(s) in the log in {what}", report.problems.len());
    }
    if !json {
        println!("verified: every leaf, the tree and every signed checkpoint check out with key {}", verifier.to_vkey());
    }
    Ok(())
}

/// Where UNOSAT's sites came from, carried by every event made of them.
const UNOSAT_SOURCE: &str = "UNOSAT building damage assessment of Aleppo (Pleiades imagery of April/May 2015), as distributed by CenterForSpatialResearch/aleppo_test (MIT, © 2019 Columbia Center for Spatial Research)";

/// `corridor import-damage`: damaged buildings per district, appended once.
fn import_damage(dir: &Path, file: &Path) -> Result<()> {
    use corridor_model::{Body, DamageAssessment, Event};
    let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let (rows, outside) = corridor_aleppo::damage_by_district(&text, corridor_aleppo::NEIGHBORHOODS_GEOJSON)
        .with_context(|| format!("{}: not UNOSAT damage sites (a GeoJSON FeatureCollection of points)", file.display()))?;
    let at = chrono::DateTime::parse_from_rfc3339("2015-05-01T00:00:00Z").expect("a valid instant").to_utc();
    let events: Vec<Event> = rows
        .iter()
        .map(|(district, c)| {
            Event::new(
                format!("damage-unosat-2015-{district}"),
                at,
                "hq",
                Body::DamageAssessed(DamageAssessment {
                    assessment: format!("unosat-2015-{district}"),
                    district: district.clone(),
                    source: UNOSAT_SOURCE.into(),
                    destroyed: c[0],
                    severe: c[1],
                    moderate: c[2],
                    other: c[3],
                }),
            )
        })
        .collect();
    let mut d = DataDir::open(dir)?;
    let ledger = d.ledger()?;
    let outcomes = ledger.append(events).context("append the damage assessment (are the districts declared? run `corridor demo` first)")?;
    let new = outcomes.iter().filter(|o| matches!(o, Appended::New(_))).count();
    let sites: u64 = rows.iter().map(|(_, c)| c.iter().map(|&n| u64::from(n)).sum::<u64>()).sum();
    println!("{} damaged buildings in {} districts ({} sites lie outside the 133 neighbourhood polygons); {new} events newly appended", print::thousands(sites), rows.len(), print::thousands(outside as u64));
    println!("data: {UNOSAT_SOURCE}");
    Ok(())
}

/// `corridor report`: the log checked against its signed checkpoints (as
/// `verify` checks it), folded (within --from/--to) and rendered. A log
/// that fails is refused and nothing is written.
#[allow(clippy::too_many_arguments)]
fn report_cmd(
    dir: &Path,
    format: &str,
    table: &str,
    from: Option<chrono::DateTime<chrono::Utc>>,
    to: Option<chrono::DateTime<chrono::Utc>>,
    out: Option<&Path>,
    key: Option<&str>,
) -> Result<()> {
    if format == "pdf" && out.is_none() {
        bail!("--format pdf needs --out FILE.pdf");
    }
    let mut d = DataDir::open(dir)?;
    let mut views = Views::new();
    // Declarations always count (a district declared before --from is still
    // that district); other facts only within the range.
    let checked = checked_walk(&mut d, key, &mut |i, event| {
        let inside = from.is_none_or(|f| event.time >= f) && to.is_none_or(|t| event.time < t);
        if inside || event.body.declares() {
            views.apply(i, event);
        }
    })
    .context("no report was made")?;
    let keep = |event: &corridor_model::Event| from.is_none_or(|f| event.time >= f) && to.is_none_or(|t| event.time < t) || event.body.declares();
    let views = replayed(&d, checked.checkpoint.size, views, &keep)?;
    let figures = views.figures();
    let cp = &checked.checkpoint;
    let root = base64::engine::general_purpose::STANDARD.encode(cp.root);
    let range = match (from, to) {
        (None, None) => String::new(),
        (f, t) => format!(", events from {} to {}", f.map_or("the start".into(), |f| f.to_rfc3339()), t.map_or("the end".into(), |t| t.to_rfc3339())),
    };
    // The operation and the zone its times are given in.
    let (zone, operation) = match &figures.operation {
        Some(o) => (
            o.tz().unwrap_or(chrono_tz::Tz::UTC),
            format!("Operation `{}` ({}); times in {} local time, with their UTC offset.", o.operation, o.name, o.timezone),
        ),
        None => (chrono_tz::Tz::UTC, "The log declares no operation (operation_declared): times in UTC.".to_string()),
    };
    let provenance = format!(
        "{operation} Log `{}` in {}, every entry verified against its signed checkpoint of size {} with root `{root}` (key `{}`){range}.",
        cp.origin,
        dir.display(),
        cp.size,
        checked.key
    );
    // Said on stderr too: a CSV has no room for it.
    eprintln!("verified {} entries against the signed checkpoint of size {} with root {root} (key {})", cp.size, cp.size, checked.key);
    let title = "Situation report";
    let text = match (format, table) {
        ("hxl", "evacuation") => corridor_report::hxl_evacuation(&figures),
        ("hxl", _) => corridor_report::hxl_districts(&figures),
        ("html", _) => corridor_report::html::page(&corridor_report::document(&figures, title, &provenance, zone)),
        ("pdf", _) => {
            let out = out.ok_or_else(|| anyhow::anyhow!("--format pdf needs --out FILE.pdf"))?;
            let html = corridor_report::html::page(&corridor_report::document(&figures, title, &provenance, zone));
            corridor_report::pdf::html_to_pdf(&html, out).map_err(|e| anyhow::anyhow!(e))?;
            println!("wrote {}", out.display());
            return Ok(());
        }
        _ => corridor_report::markdown(&figures, title, &provenance, zone),
    };
    match out {
        Some(p) => std::fs::write(p, text).with_context(|| format!("cannot write {}", p.display()))?,
        None => stdout_write(text.as_bytes())?,
    }
    Ok(())
}

/// Writes `bytes` to standard output (a reader that has gone away, `| head`,
/// ends the command quietly in `main`).
fn stdout_write(bytes: &[u8]) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes).and_then(|()| out.flush()).context("cannot write to standard output")
}

/// `corridor plan`: the plan at the scenario's start and its convoys.
fn plan_cmd(scenario_file: Option<&Path>) -> Result<()> {
    let (sc, router) = demo::load(scenario_file)?;
    let (report, convoys) = corridor_plan::sim::plan_only(&sc, &router)?;
    let tz: chrono_tz::Tz = sc.scenario.timezone.parse().context("the scenario's time zone")?;
    let local = |t: chrono::DateTime<chrono::Utc>| t.with_timezone(&tz).format("%d %b %H:%M").to_string();
    println!("{} — plan at the start, with the truce windows known then (times {})", sc.scenario.name, sc.scenario.timezone);
    println!("{:<4} {:<22} {:>13} {:>13} {:>13} {:>8} {:>8} {:>8}", "#", "corridor", "leaves depot", "first in", "last out", "vehicles", "people", "wounded");
    for (i, c) in convoys.iter().enumerate() {
        println!(
            "{:<4} {:<22} {:>13} {:>13} {:>13} {:>8} {:>8} {:>8}",
            i + 1,
            c.corridor,
            local(c.leaves),
            local(c.first_in),
            local(c.last_out),
            c.vehicles,
            print::thousands(c.people),
            c.wounded
        );
    }
    println!("{}", print::plan_line(&report, &local));
    Ok(())
}

fn demo_cmd(dir: &Path, scenario_file: Option<&Path>) -> Result<()> {
    let started = std::time::Instant::now();
    let (sc, router) = demo::load(scenario_file)?;
    let outcome = corridor_plan::sim::simulate(&sc, &router)?;
    let meta = &router.network().meta;
    let origin = sc.scenario.origin.clone().unwrap_or_else(|| "corridor.invalid/scenario".into());
    let mut d = DataDir::open_or_init(dir, Some(origin))?;
    let ledger = d.ledger()?;
    // The map the operation declares, kept beside its log.
    d.install_map(&corridor_geo::netfile::to_bytes(router.prepared()))?;
    let total = outcome.events.len() as u64;
    let bar = if std::io::stderr().is_terminal() { ProgressBar::new(total) } else { ProgressBar::hidden() };
    bar.set_style(ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} events").expect("valid template"));
    bar.set_message("appending the simulated operation");
    let mut new = 0;
    // In log order, in batches, through the same append a live operation uses.
    for chunk in outcome.events.chunks(500) {
        let outcomes = ledger.append(chunk.to_vec())?;
        new += outcomes.iter().filter(|o| matches!(o, Appended::New(_))).count();
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    println!("{}", sc.scenario.name);
    println!(
        "map: {}{}; {}",
        meta.source,
        if meta.approximate { " (APPROXIMATE: a coarse derived network, not surveyed roads)" } else { "" },
        meta.attribution
    );
    println!("{total} events simulated, {new} newly appended to {}", dir.display());
    println!();
    let tz: chrono_tz::Tz = sc.scenario.timezone.parse().context("the scenario's time zone")?;
    let local = |t: chrono::DateTime<chrono::Utc>| t.with_timezone(&tz).format("%d %b %H:%M %Z").to_string();
    println!("plans (the planner ran at the start and after every disruption; times in {}):", sc.scenario.timezone);
    for p in &outcome.plans {
        println!("  {}", print::plan_line(p, &local));
    }
    println!("everyone who had to leave was carried out");
    println!();
    // Every figure below is recomputed from the ledger, not from the simulator.
    // Read back in one checked walk, as `verify` reads it.
    let mut views = Views::new();
    let checked = checked_walk(&mut d, None, &mut |i, e| views.apply(i, e))?;
    let views = replayed(&d, checked.checkpoint.size, views, &|_| true)?;
    let figures = views.figures();
    print!("{}", print::figures(&figures));
    println!();
    println!("signed checkpoint (C2SP tlog-checkpoint, verifier key {}):", ledger.verifier_key());
    print!("{}", ledger.checkpoint().note);
    println!();
    println!("check it: corridor verify --data-dir {}", dir.display());
    println!(
        "notices as residents got them on the first morning: corridor notice --data-dir {} --format sms --at {}",
        dir.display(),
        (sc.scenario.start + chrono::Duration::minutes(30)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    println!("watch it live: corridor demo --serve --data-dir corridor-live (or corridor serve --data-dir {})", dir.display());
    println!("done in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}
