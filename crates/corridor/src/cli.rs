//! The command line's definitions: every command, its flags and their help
//! (clap derive), the formats as [`ValueEnum`]s, and the parsers of flag
//! values. What each command does is in [`crate::cmd`].

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(name = "corridor", version, about = "Plan, run and prove humanitarian evacuations: one tamper-evident log, many views.")]
pub struct Cli {
    /// The data directory holding the log, its key and its storage.
    #[arg(long, global = true, default_value = "./corridor-data", env = "CORRIDOR_DATA_DIR")]
    pub data_dir: PathBuf,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
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
    Verify(VerifyArgs),
    /// Declare the operation from a scenario file: append what it declares and the log lacks (operation with its time zone and map, sites, corridors with checkpoints placed on the map, windows, vehicles, agreements) and the changes it makes (truce_window_changed); the same file twice appends nothing.
    Apply(ApplyArgs),
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
    Serve(ServeArgs),
    /// API tokens: create (shown once), list, revoke.
    #[command(subcommand)]
    Token(TokenCommand),
    /// A situation report folded from the log, checked first against its signed checkpoints as `verify` does (a log that fails is refused): Markdown, HTML, PDF, or HXL CSV.
    Report(ReportArgs),
    /// Public notices for the corridors open or scheduled in the log: SMS (with encoding and segments), CAP 1.2 alerts, A4 PDF leaflets, loudspeaker scripts (and WAV with espeak-ng); Arabic and English.
    Notice(NoticeArgs),
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
        /// The vehicle whose road rules the network follows (one prepared network per vehicle).
        #[arg(long, value_enum, default_value_t = ProfileArg::Car)]
        profile: ProfileArg,
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
        /// The vehicle: refuse a map prepared for another (default: the map's own).
        #[arg(long, value_enum)]
        profile: Option<ProfileArg>,
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
        /// The vehicle: refuse a map prepared for another (default: the map's own).
        #[arg(long, value_enum)]
        profile: Option<ProfileArg>,
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


#[derive(Args)]
pub struct VerifyArgs {
    /// A signed checkpoint kept earlier (a file): the log must be consistent with it. With --export: the checkpoint of the exported leaves.
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// Verify an export (`corridor log export --out leaves.b64 --checkpoint-out cp.txt`) instead of a data directory; needs --checkpoint and --key.
    #[arg(long, conflicts_with = "tiles", requires_all = ["checkpoint", "key"])]
    pub export: Option<PathBuf>,
    /// Verify a log served as C2SP tiles (a directory from `log export --tiles`, or a URL such as http://HOST:8080/log) instead of a data directory; needs --key.
    #[arg(long, requires = "key")]
    pub tiles: Option<String>,
    /// The log's verifier key (`name+hash+base64`) or a file holding it; default: the data directory's own key.
    #[arg(long)]
    pub key: Option<String>,
    /// Print the figures as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct ApplyArgs {
    /// The scenario (TOML), e.g. crates/corridor-plan/scenarios/aleppo-2016.toml; its map is kept in the data directory.
    pub file: PathBuf,
    /// Print the events it would append, append nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub record: RecordArgs,
}

#[derive(Args)]
pub struct ServeArgs {
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// The road network the dashboard draws (.cnet); default the operation's map (DATA_DIR/map.cnet). For a log that declares an operation, it must be the file the log declares (same SHA-256).
    #[arg(long)]
    pub map: Option<PathBuf>,
    /// Public requests per second allowed from one address (bursts of twice that).
    #[arg(long, default_value_t = 20.0)]
    pub public_rate: f64,
    /// Refuse events dated further than this ahead of the server's clock (e.g. 5m, 90s, 1h).
    #[arg(long, default_value = "5m", value_parser = parse_skew)]
    pub max_clock_skew: chrono::Duration,
    /// A witness to ask for a cosignature of each new checkpoint (C2SP tlog-witness), e.g. http://witness.example:8090; repeat for several, each with its --witness-key in the same order.
    #[arg(long)]
    pub witness: Vec<String>,
    /// The witness's verifier key (`corridor monitor key` printed it), or a file holding it.
    #[arg(long)]
    pub witness_key: Vec<String>,
    /// Close a connection whose request head has not arrived within this time, and an idle keep-alive connection after it (e.g. 10s).
    #[arg(long, default_value = "10s", value_parser = parse_skew)]
    pub header_timeout: chrono::Duration,
    /// Answer 408 to a request whose body has not arrived within this time.
    #[arg(long, default_value = "30s", value_parser = parse_skew)]
    pub body_timeout: chrono::Duration,
    /// Connections open at once; past that, the next waits until one closes.
    #[arg(long, default_value_t = 1024)]
    pub max_connections: usize,
    /// Serve the field app (/field/) from this directory instead of the built-in copy, re-read at each request: to try a changed or translated app without rebuilding (its files as in crates/corridor-server/field/).
    #[arg(long, value_name = "DIR")]
    pub field_app: Option<PathBuf>,
    /// Run as one of several servers of a PostgreSQL log, reachable by the others at this base URL (e.g. http://10.0.0.2:8080): one of them sequences the log at a time and the others forward writes to it, taking over within seconds if it fails. See the README, "Several servers on one log".
    #[arg(long, value_name = "URL")]
    pub advertise: Option<String>,
    /// With --advertise: how long the sequencer's lease lasts without renewal: a paused or cut-off sequencer is replaced after this long (one whose process died, at once).
    #[arg(long, default_value = "3s", value_parser = parse_skew, requires = "advertise")]
    pub lease: chrono::Duration,
}

#[derive(Args)]
pub struct ReportArgs {
    /// md (Markdown), html (one page, inline SVG charts), pdf (printed from the HTML by headless Chromium; needs --out), hxl (CSV).
    #[arg(long, value_enum, default_value_t = ReportFormat::Md)]
    pub format: ReportFormat,
    /// With --format hxl: the districts' figures (aid, clearance, returns) or the evacuation by day and group.
    #[arg(long, value_enum, default_value_t = HxlTable::Districts)]
    pub table: HxlTable,
    /// Only events at or after this instant (RFC 3339, e.g. 2016-12-15T00:00:00Z).
    #[arg(long)]
    pub from: Option<chrono::DateTime<chrono::Utc>>,
    /// Only events before this instant.
    #[arg(long)]
    pub to: Option<chrono::DateTime<chrono::Utc>>,
    /// Write to this file instead of standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Check the log against this verifier key (`name+hash+base64`, or a file holding it), the one published for the log; default the data directory's own.
    #[arg(long)]
    pub key: Option<String>,
}

#[derive(Args)]
pub struct NoticeArgs {
    /// sms (printed; sent with --send), cap (CAP 1.2 XML files), pdf (A4 leaflets, needs Chromium), speech (scripts; WAV files with --out).
    #[arg(long, value_enum)]
    pub format: NoticeFormat,
    /// Only this corridor (default: every corridor open or scheduled in the log).
    #[arg(long)]
    pub corridor: Option<String>,
    /// Only this truce window.
    #[arg(long)]
    pub window: Option<String>,
    /// ar, en or both (default: the languages the operation declares; both when it declares none).
    #[arg(long, value_enum)]
    pub lang: Option<NoticeLang>,
    /// Send the SMS: `outbox` (files in DATA_DIR/sms/outbox/out for another system to pick up) or `kannel` (its HTTP sendsms interface); what was accepted is recorded as `notice_issued`. Unsent messages stay in DATA_DIR/sms/SENDER/pending and are retried by the next --send.
    #[arg(long, value_enum)]
    pub send: Option<SendVia>,
    /// The instant to look from (RFC 3339; default now): the log's events up to it, the windows not ended by it. A replayed 2016 log needs e.g. --at 2016-12-15T04:30:00Z.
    #[arg(long)]
    pub at: Option<chrono::DateTime<chrono::Utc>>,
    /// The folder for CAP, PDF and audio files.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// A folder of templates replacing the built-in ones (same names as crates/corridor-notify/templates).
    #[arg(long)]
    pub templates: Option<PathBuf>,
    /// With --send: the recipients, one E.164 phone number per line. They stay on this machine; the log keeps only their count and a hash.
    #[arg(long)]
    pub recipients: Option<PathBuf>,
    /// With --send kannel: smsbox's sendsms URL.
    #[arg(long, env = "CORRIDOR_KANNEL_URL", default_value = "http://127.0.0.1:13013/cgi-bin/sendsms")]
    pub kannel_url: String,
    /// The sendsms-user's name and password (from the environment rather than the command line, so they stay out of shell history).
    #[arg(long, env = "CORRIDOR_KANNEL_USER", default_value = "corridor")]
    pub kannel_user: String,
    #[arg(long, env = "CORRIDOR_KANNEL_PASSWORD", default_value = "")]
    pub kannel_password: String,
    /// The sender id Kannel puts on the messages (default: the sendsms-user's default-sender).
    #[arg(long, env = "CORRIDOR_KANNEL_FROM")]
    pub kannel_from: Option<String>,
    /// The CAP alerts' sender (default: the log's origin), unique to this operation.
    #[arg(long)]
    pub cap_sender: Option<String>,
    /// Record the CAP alerts, leaflets or scripts as issued (`notice_issued`): they were published, handed out or read out. Without it, files and previews record nothing.
    #[arg(long)]
    pub issue: bool,
    #[command(flatten)]
    pub record: NoticeRecordArgs,
}

/// Where a command that records events sends them: the log itself, or a
/// running server that holds it (`apply`).
#[derive(Args)]
pub struct RecordArgs {
    /// Record through this running `corridor serve` of the log (it holds the log while it runs), e.g. http://127.0.0.1:8080.
    #[arg(long, env = "CORRIDOR_SERVER")]
    pub server: Option<String>,
    /// With --server: an hq token (`corridor token create --role hq`).
    #[arg(long, env = "CORRIDOR_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

/// [`RecordArgs`] as `notice` words its help.
#[derive(Args)]
pub struct NoticeRecordArgs {
    /// Record through this running `corridor serve` (e.g. http://127.0.0.1:8080) instead of writing the log directly: how hq issues notices while the server holds the log.
    #[arg(long, env = "CORRIDOR_SERVER")]
    pub server: Option<String>,
    /// With --server: an hq token (`corridor token create --role hq`).
    #[arg(long, env = "CORRIDOR_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

// The formats and choices of flags. Their help is the flag's (a doc
// comment here would change `--help`): plain comments only.

/// `import --profile`, `route --profile`, `corridor --profile`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, ValueEnum)]
pub enum ProfileArg {
    Car,
    Bus,
    Ambulance,
}

impl From<ProfileArg> for corridor_geo::Profile {
    fn from(p: ProfileArg) -> Self {
        match p {
            ProfileArg::Car => corridor_geo::Profile::Car,
            ProfileArg::Bus => corridor_geo::Profile::Bus,
            ProfileArg::Ambulance => corridor_geo::Profile::Ambulance,
        }
    }
}

/// `report --format`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, ValueEnum)]
pub enum ReportFormat {
    Md,
    Html,
    Pdf,
    Hxl,
}

/// `report --table` (with `--format hxl`).
#[derive(Clone, Copy, PartialEq, Eq, Debug, ValueEnum)]
pub enum HxlTable {
    Districts,
    Evacuation,
}

/// `notice --format`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, ValueEnum)]
pub enum NoticeFormat {
    Sms,
    Cap,
    Pdf,
    Speech,
}

impl NoticeFormat {
    /// As written on the command line.
    pub fn name(self) -> &'static str {
        match self {
            NoticeFormat::Sms => "sms",
            NoticeFormat::Cap => "cap",
            NoticeFormat::Pdf => "pdf",
            NoticeFormat::Speech => "speech",
        }
    }
}

/// `notice --lang`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, ValueEnum)]
pub enum NoticeLang {
    Ar,
    En,
    Both,
}

/// `notice --send`: how SMS leave.
#[derive(Clone, Copy, PartialEq, Eq, Debug, ValueEnum)]
pub enum SendVia {
    Outbox,
    Kannel,
}

impl SendVia {
    /// As written on the command line, and the name of its folder under DATA_DIR/sms.
    pub fn name(self) -> &'static str {
        match self {
            SendVia::Outbox => "outbox",
            SendVia::Kannel => "kannel",
        }
    }
}

/// `token create --role`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, ValueEnum)]
pub enum TokenRole {
    Hq,
    Checkpoint,
    Monitor,
}

/// The prepared network and the hazards to route around.
#[derive(Args)]
pub struct MapArgs {
    /// A prepared network file from `corridor import`.
    #[arg(long)]
    pub map: PathBuf,
    /// Hazard areas: a GeoJSON FeatureCollection of Polygons with an `id` (and `status`, `kind`).
    #[arg(long)]
    pub hazards: Option<PathBuf>,
    /// Also follow the hazard events in the log of --data-dir (declared, status changed, cleared).
    #[arg(long)]
    pub log_hazards: bool,
}

#[derive(Subcommand)]
pub enum MonitorCommand {
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
pub enum LogCommand {
    /// Append events (a JSON array, or one JSON event per line) from FILE or stdin. All or nothing: the whole input is checked against the log before anything is appended, then appended 10,000 at a time; if the command is stopped part-way, run it again to append the rest (events already in the log are not appended twice).
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


#[derive(Subcommand)]
pub enum TokenCommand {
    /// A new token, printed once on stdout (only its hash is kept).
    Create {
        /// hq (every write), checkpoint (passages and incidents at its checkpoint), monitor (reads, proofs, countersignatures).
        #[arg(long, value_enum)]
        role: TokenRole,
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

/// The most a token may live: ten years, in hours.
pub const MAX_TOKEN_HOURS: f64 = 10.0 * 8760.0;

/// `--expires-hours`: a finite number of hours, more than 0 and at most ten
/// years (0 or NaN would make a token that is expired when made; 1e12 or
/// inf a date no clock reaches).
pub fn parse_expires_hours(s: &str) -> Result<f64, String> {
    let h: f64 = s.trim().parse().map_err(|_| format!("{s:?} is not a number of hours: write e.g. 12 or 0.5"))?;
    if !(h.is_finite() && h > 0.0 && h <= MAX_TOKEN_HOURS) {
        return Err(format!("{s:?} is out of range: a token expires after more than 0 and at most {MAX_TOKEN_HOURS} hours (ten years); leave --expires-hours out for a token that does not expire"));
    }
    Ok(h)
}

/// `5m`, `90s`, `1h`, or seconds.
pub fn parse_skew(s: &str) -> Result<chrono::Duration, String> {
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

