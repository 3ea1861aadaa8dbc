//! `corridor serve`, `corridor token` and `corridor demo --serve`: the
//! operations server over a data directory, its tokens, and the reference
//! case replayed into a live server in accelerated time.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use chrono::{DateTime, Utc};
use corridor_geo::export;
use corridor_model::{Body, Operation};
use corridor_server::witness::{serve_witness, Witness, WitnessConfig};
use corridor_server::{AppState, Options, Role};

use corridor::datadir::{Backend, DataDir};

use crate::cli::{ServeArgs, TokenRole};
use crate::cmd::key_arg;

/// The map the dashboard draws: the operation's map (`DATA_DIR/map.cnet`,
/// or `--map FILE`, either checked against the SHA-256 the log declares);
/// for a log that declares no operation, `--map FILE` as given, or none.
fn map_geojson(d: &DataDir, op: Option<&Operation>, map: Option<&Path>) -> Result<Option<String>> {
    let net = match (op, map) {
        (Some(op), Some(m)) => d.declared_map_file(m, op)?.net,
        (Some(op), None) => d.operation_map(op)?.net,
        (None, Some(m)) => corridor::map::load(m)?.net,
        (None, None) => {
            eprintln!("note: the log declares no operation (operation_declared) and no --map was given: the dashboard shows no map, and hours are in UTC");
            return Ok(None);
        }
    };
    Ok(Some(serde_json::to_string(&export::collection(export::network_features(&net), &net.meta.attribution))?))
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    // What the server notes as it runs (a witness that cannot be reached, a
    // failed read) goes to standard error.
    let _ = tracing_subscriber::fmt().with_writer(std::io::stderr).with_max_level(tracing_subscriber::filter::LevelFilter::INFO).with_target(false).with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())).try_init();
    tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the async runtime")
}

async fn bind(listen: &str) -> Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen} (in use? try another --listen)"))
}

/// How a server joins the other servers of its PostgreSQL log.
pub struct Join {
    /// Where the others reach this server.
    pub advertise: String,
    pub lease: Duration,
}

/// `corridor serve`: its flags checked and gathered, then [`serve`].
pub fn run(dir: &Path, a: ServeArgs) -> Result<()> {
    let ServeArgs { listen, map, public_rate, max_clock_skew, witness, witness_key, header_timeout, body_timeout, max_connections, field_app, advertise, lease } = a;
    if witness.len() != witness_key.len() {
        anyhow::bail!("{} --witness but {} --witness-key: give each witness its key, in the same order", witness.len(), witness_key.len());
    }
    let witnesses = witness
        .into_iter()
        .zip(witness_key)
        .map(|(url, key)| {
            let key = corridor_ledger::note::Verifier::from_vkey(&key_arg(&key)?).with_context(|| format!("--witness-key for {url} is not a verifier key"))?;
            Ok(WitnessConfig { url, key })
        })
        .collect::<Result<Vec<_>>>()?;
    let secs = |d: chrono::Duration| std::time::Duration::from_secs(d.num_seconds().max(1) as u64);
    let limits = corridor_server::conn::Limits { header_timeout: secs(header_timeout), body_timeout: secs(body_timeout), max_connections: max_connections.max(1), ..Default::default() };
    if let Some(f) = field_app.as_deref().filter(|f| !f.join("app.js").is_file()) {
        anyhow::bail!("--field-app {}: no app.js there; give a copy of crates/corridor-server/field/", f.display());
    }
    let cluster = advertise.map(|url| Join { advertise: url, lease: secs(lease) });
    serve(dir, &listen, map.as_deref(), public_rate, max_clock_skew, witnesses, limits, field_app, cluster)
}

#[allow(clippy::too_many_arguments)]
fn serve(dir: &Path, listen: &str, map: Option<&Path>, public_rate: f64, max_clock_skew: chrono::Duration, witnesses: Vec<WitnessConfig>, limits: corridor_server::conn::Limits, field_dir: Option<std::path::PathBuf>, join: Option<Join>) -> Result<()> {
    let mut d = DataDir::open(dir)?;
    let database = match &d.config.backend {
        Backend::Postgres { url, schema } => Some((url.clone(), schema.clone())),
        Backend::Sqlite { .. } => None,
    };
    let cluster = match (join, &database) {
        (None, _) => None,
        (Some(_), None) => bail!("--advertise needs a log in PostgreSQL (servers share it there); this data directory's log is in SQLite. Create one with `corridor init --database-url URL`, or join one with `corridor init --join`"),
        (Some(j), Some((url, schema))) => {
            let u = reqwest::Url::parse(&j.advertise).ok().filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some());
            if u.is_none() {
                bail!("--advertise {:?} is not an http(s) URL: give the address the other servers reach this one at, e.g. http://10.0.0.2:8080", j.advertise);
            }
            Some(corridor_server::cluster::Config {
                database_url: url.clone(),
                schema: schema.clone(),
                holder: corridor::datadir::holder_name(&format!("corridor serve {}", j.advertise)),
                advertise: j.advertise,
                lease: j.lease,
            })
        }
    };
    // One walk of the log: the ledger checks each entry as it opens and the
    // fold (the served views) takes it in the same pass.
    let mut fold = corridor_server::Fold::default();
    let mut op = None;
    let mut on_event = |i: u64, e: &corridor_model::Event| {
        if let (None, Body::OperationDeclared(o)) = (&op, &e.body) {
            op = Some(o.clone());
        }
        fold.apply(i, e);
    };
    let ledger = Arc::new(if cluster.is_some() {
        d.lock()?;
        d.follower_folding(&mut on_event)?
    } else {
        d.ledger_folding(&mut on_event)?
    });
    let options = Options { public_rate, map_geojson: map_geojson(&d, op.as_ref(), map)?, max_clock_skew, witnesses, limits, field_dir, database, cluster };
    let state = AppState::with_fold(ledger, fold, d.tokens(), options, dir)?;
    runtime()?.block_on(async {
        let listener = bind(listen).await?;
        let addr = listener.local_addr()?;
        println!("serving the log {} ({} entries) at http://{addr}/ (API under /api/v1, OpenAPI at /openapi.json, field app at /field/); Ctrl-C stops", state.ledger.origin(), state.ledger.len());
        corridor_server::serve(state, listener).await.context("the server failed")
    })
}

/// `corridor monitor witness`: cosigns, with the monitor's key, the
/// checkpoints of `logs` that servers send to `POST /add-checkpoint`.
pub fn witness(dir: &Path, listen: &str, logs: Vec<corridor_ledger::note::Verifier>) -> Result<()> {
    let m = corridor::monitor::MonitorDir::new(dir);
    let signer = m.signer()?;
    let names: Vec<String> = logs.iter().map(|l| l.name().to_string()).collect();
    let w = Arc::new(Witness::open(signer, logs, dir.join("witness.json")).context("cannot open the witness's state")?);
    runtime()?.block_on(async {
        let listener = bind(listen).await?;
        let addr = listener.local_addr()?;
        println!("witnessing {} at http://{addr}/add-checkpoint; Ctrl-C stops", names.join(", "));
        serve_witness(w, listener).await.context("the witness failed")
    })
}

/// How to hand a token to a phone: the field app's link, as text, a
/// terminal QR code and a PNG.
pub struct Link {
    pub url: Option<String>,
    pub qr: bool,
    pub png: Option<std::path::PathBuf>,
}

/// The field app's link: the token and the log's key in the fragment,
/// which browsers never send to a server (nor proxies log).
pub fn field_link(server: &str, token: &str, log_key: &str) -> Result<String> {
    let u = reqwest::Url::parse(server).with_context(|| format!("--link {server:?} is not a URL: give the server's address as phones reach it, e.g. https://ops.example.org"))?;
    if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none() {
        bail!("--link {server:?} is not an http(s) address: give the server's address as phones reach it, e.g. https://ops.example.org");
    }
    if u.query().is_some() || u.fragment().is_some() {
        bail!("--link {server:?} has a query or a fragment: give the server's address alone (e.g. https://ops.example.org, or https://example.org/ops behind a proxy's path)");
    }
    // The app's own address given instead of the server's: the same link.
    let base = server.trim_end_matches('/');
    let base = base.strip_suffix("/field").unwrap_or(base);
    let enc = |s: &str| s.replace('%', "%25").replace('+', "%2B").replace('&', "%26").replace('#', "%23").replace('=', "%3D");
    Ok(format!("{base}/field/#token={}&key={}", enc(token), enc(log_key)))
}

/// The QR code of `text` for a terminal: two modules per character row.
pub fn qr_terminal(text: &str) -> Result<String> {
    let code = qrcode::QrCode::with_error_correction_level(text, qrcode::EcLevel::M).context("the link is too long for a QR code")?;
    Ok(code.render::<qrcode::render::unicode::Dense1x2>().dark_color(qrcode::render::unicode::Dense1x2::Light).light_color(qrcode::render::unicode::Dense1x2::Dark).quiet_zone(true).build())
}

/// The QR code of `text` as a greyscale PNG, 8 pixels a module, with the
/// standard quiet zone of 4 modules.
pub fn qr_png(text: &str) -> Result<Vec<u8>> {
    let code = qrcode::QrCode::with_error_correction_level(text, qrcode::EcLevel::M).context("the link is too long for a QR code")?;
    let (w, scale, quiet) = (code.width(), 8usize, 4usize);
    let side = (w + 2 * quiet) * scale;
    let colors = code.to_colors();
    let mut pixels = vec![255u8; side * side];
    for (i, c) in colors.iter().enumerate() {
        if *c == qrcode::Color::Dark {
            let (x, y) = ((i % w + quiet) * scale, (i / w + quiet) * scale);
            for row in y..y + scale {
                pixels[row * side + x..row * side + x + scale].fill(0);
            }
        }
    }
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, side as u32, side as u32);
    enc.set_color(png::ColorType::Grayscale);
    enc.set_depth(png::BitDepth::Eight);
    enc.write_header()?.write_image_data(&pixels)?;
    Ok(out)
}

pub fn token_create(dir: &Path, role: TokenRole, checkpoint: Option<String>, key: Option<String>, expires_hours: Option<f64>, link: Link) -> Result<()> {
    let mut d = DataDir::open(dir)?;
    let role = match role {
        TokenRole::Hq => Role::Hq,
        TokenRole::Checkpoint => Role::Checkpoint,
        TokenRole::Monitor => Role::Monitor,
    };
    match (role, &checkpoint) {
        (Role::Checkpoint, None) => bail!("a checkpoint token needs --checkpoint ID: the checkpoint it records passages for (`corridor token create --role checkpoint --checkpoint ID`)"),
        (Role::Checkpoint, Some(id)) => declared_checkpoint(&mut d, id)?,
        _ => {}
    }
    let expires = expires_hours.map(|h| Utc::now() + chrono::Duration::seconds((h * 3600.0) as i64));
    let key = match key {
        Some(k) if Path::new(&k).is_file() => Some(std::fs::read_to_string(&k)?.trim().to_string()),
        k => k,
    };
    // The link is checked before a token exists that nobody could use.
    // The log's public key, for a link only (it is read from the signing key).
    let log_key = match &link.url {
        Some(u) => {
            let k = d.signer()?.verifier().to_vkey();
            field_link(u, "x", &k)?;
            k
        }
        None => String::new(),
    };
    // The QR file is made (empty, owner-only) before the token, so that a
    // path that cannot be written leaves no token behind.
    let png_file = match link.png.as_deref() {
        Some(p) if p.exists() => bail!("{} already exists: give --qr-png a new file (it will hold the token)", p.display()),
        Some(p) => Some(corridor::datadir::create_private(p).with_context(|| format!("cannot write the QR code to {}", p.display()))?),
        None => None,
    };
    let (secret, rec) = match d.tokens().create(role, checkpoint, key, expires) {
        Ok(made) => made,
        Err(e) => {
            if let Some(p) = &link.png {
                let _ = std::fs::remove_file(p);
            }
            return Err(e.into());
        }
    };
    println!("{secret}");
    if let Some(u) = &link.url {
        let url = field_link(u, &secret, &log_key)?;
        eprintln!("field app: {url}");
        if link.qr {
            eprintln!("{}", qr_terminal(&url)?);
        }
        if let (Some(p), Some(mut f)) = (&link.png, png_file) {
            use std::io::Write;
            f.write_all(&qr_png(&url)?).and_then(|()| f.sync_all()).with_context(|| format!("cannot write the QR code to {}", p.display()))?;
            eprintln!("QR code written to {} (it holds the token: hand it over and delete it)", p.display());
        }
    }
    eprintln!(
        "token {} ({}{}{}): shown once, stored only as its hash; revoke with `corridor token revoke {}`",
        rec.id,
        rec.role.name(),
        rec.checkpoint.as_deref().map(|c| format!(" for {c}")).unwrap_or_default(),
        rec.expires.map(|x| format!(", expires {}", x.to_rfc3339())).unwrap_or_default(),
        rec.id
    );
    Ok(())
}

/// Refuses a checkpoint the log does not declare (a corridor's
/// checkpoints), listing those it does.
fn declared_checkpoint(d: &mut DataDir, id: &str) -> Result<()> {
    let mut declared: Vec<(String, String)> = Vec::new();
    crate::read::checked_walk(d, None, &mut |_, e| {
        if let Body::CorridorDeclared(c) = &e.body {
            declared.extend(c.checkpoints.iter().map(|cp| (cp.id.clone(), c.corridor.clone())));
        }
    })
    .context("cannot check the checkpoint against the log")?;
    if declared.iter().any(|(cp, _)| cp == id) {
        return Ok(());
    }
    if declared.is_empty() {
        bail!(
            "no checkpoint {id:?}: the log in {} declares no checkpoints yet; declare the operation's corridors first (`corridor apply FILE.toml`), then make the token",
            d.path.display()
        );
    }
    let list: Vec<String> = declared.iter().map(|(cp, c)| format!("{cp} (corridor {c})")).collect();
    bail!("no checkpoint {id:?} in the log in {}; it declares: {}", d.path.display(), list.join(", "));
}

pub fn token_list(dir: &Path) -> Result<()> {
    for t in DataDir::open(dir)?.tokens().list()? {
        let state = match (t.revoked, t.expires) {
            (Some(r), _) => format!("revoked {}", r.to_rfc3339()),
            (None, Some(x)) if x <= Utc::now() => format!("expired {}", x.to_rfc3339()),
            (None, Some(x)) => format!("expires {}", x.to_rfc3339()),
            (None, None) => "valid".into(),
        };
        println!("{}  {:<10} {:<24} created {}  {state}", t.id, t.role.name(), t.checkpoint.as_deref().unwrap_or("-"), t.created.to_rfc3339());
    }
    Ok(())
}

pub fn token_revoke(dir: &Path, id: &str) -> Result<()> {
    let t = DataDir::open(dir)?.tokens().revoke(id)?;
    println!("revoked token {} ({}); a running server refuses it from its next request", t.id, t.role.name());
    Ok(())
}

/// Replays the reference scenario's events into a live server, the whole
/// operation in `minutes` of wall time, then keeps serving until Ctrl-C.
pub fn demo_serve(dir: &Path, scenario: Option<&Path>, listen: &str, minutes: f64) -> Result<()> {
    if !(minutes > 0.0 && minutes.is_finite()) {
        bail!("--replay-minutes must be above 0");
    }
    let mut d = DataDir::open_or_init(dir, Some("corridor.invalid/aleppo-2016-live".into()))?;
    let ledger = Arc::new(d.ledger()?);
    if !ledger.is_empty() {
        bail!("{} already holds a log of {} entries: `demo --serve` replays into an empty one; give a new --data-dir (e.g. --data-dir corridor-live)", dir.display(), ledger.len());
    }
    let (sc, router) = corridor::demo::load(scenario)?;
    let outcome = corridor_plan::sim::simulate(&sc, &router)?;
    let events = outcome.events;
    let tokens = d.tokens();
    let (hq, _) = tokens.create(Role::Hq, None, None, Some(Utc::now() + chrono::Duration::days(1)))?;
    let net = router.network();
    let map = serde_json::to_string(&export::collection(export::network_features(net), &net.meta.attribution))?;
    let state = AppState::new(ledger, tokens, Options { public_rate: 50.0, map_geojson: Some(map), ..Options::default() }, dir)?;
    runtime()?.block_on(async {
        let listener = bind(listen).await?;
        let addr = listener.local_addr()?;
        let t0: DateTime<Utc> = events.first().map(|e| e.time).unwrap_or_else(Utc::now);
        // The evacuation (up to the last vehicle counted or arrived) takes
        // `minutes`; the months of aftermath after it a tenth of that more.
        let t_end = events.iter().filter(|e| matches!(e.body, Body::Passage(_) | Body::ConvoyArrived(_))).map(|e| e.time).max().unwrap_or(t0);
        let t_last = events.last().map_or(t0, |e| e.time);
        let wall = minutes * 60_000.0;
        let ms = |a: DateTime<Utc>, b: DateTime<Utc>| (b - a).num_milliseconds().max(0) as f64;
        let due = move |t: DateTime<Utc>| -> f64 {
            if t <= t_end {
                wall * ms(t0, t) / ms(t0, t_end).max(1.0)
            } else {
                wall + 0.1 * wall * ms(t_end, t) / ms(t_end, t_last).max(1.0)
            }
        };
        println!("dashboard: http://{addr}/  (public view)");
        println!("monitor view: http://{addr}/#token={hq}");
        println!(
            "replaying {} events: the evacuation ({} to {}) in {minutes} min, then its aftermath to {}; Ctrl-C stops",
            events.len(),
            t0.to_rfc3339(),
            t_end.to_rfc3339(),
            t_last.to_rfc3339()
        );
        let server = tokio::spawn(corridor_server::serve(state.clone(), listener));
        let started = tokio::time::Instant::now();
        let mut i = 0;
        while i < events.len() {
            tokio::time::sleep_until(started + Duration::from_millis(due(events[i].time) as u64)).await;
            // Everything due by now goes in one batch.
            let now = started.elapsed().as_millis() as f64;
            let mut j = i + 1;
            while j < events.len() && due(events[j].time) <= now && j - i < 2000 {
                j += 1;
            }
            state.append(events[i..j].to_vec()).await.context("replaying into the log")?;
            i = j;
        }
        println!("replay done: {} entries; still serving until Ctrl-C", state.ledger.len());
        server.await.context("the server task failed")?.context("the server failed")
    })
}
