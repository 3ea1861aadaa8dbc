//! C2SP tlog-witness: cosignatures from witnesses over `add-checkpoint`.
//!
//! - [`spawn_pusher`]: the operations server sends each new checkpoint to
//!   its configured witnesses, with the consistency proof from the size
//!   each last cosigned (learnt from a `409` answer when unknown), and
//!   keeps the `cosignature/v1` lines they return beside its checkpoint.
//! - [`witness_app`]: a witness (`corridor monitor witness`): for each log
//!   it trusts, it keeps the latest checkpoint it cosigned and cosigns a
//!   new one only if it is signed by the log and consistent with it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use corridor_ledger::checkpoint::Checkpoint;
use corridor_ledger::merkle::{verify_consistency, Hash};
use corridor_ledger::note::{self, Signer, Verifier};
use serde::{Deserialize, Serialize};

use crate::AppState;

/// A witness the log asks for cosignatures: its submission prefix and key.
#[derive(Debug, Clone)]
pub struct WitnessConfig {
    /// `http://HOST:PORT[/prefix]`: `add-checkpoint` is posted below it.
    pub url: String,
    pub key: Verifier,
}

/// The body of an `add-checkpoint` request.
pub fn request_body(old: u64, proof: &[Hash], note_text: &str) -> String {
    let mut body = format!("old {old}\n");
    for h in proof {
        body.push_str(&STANDARD.encode(h));
        body.push('\n');
    }
    body.push('\n');
    body.push_str(note_text);
    body
}

/// A parsed `add-checkpoint` request.
#[derive(Debug)]
pub struct AddCheckpoint {
    pub old: u64,
    pub proof: Vec<Hash>,
    pub note: String,
}

/// Parses an `add-checkpoint` body; `Err` is a 400's message.
pub fn parse_request(body: &str) -> Result<AddCheckpoint, String> {
    let (head, note) = body.split_once("\n\n").ok_or("no empty line between the old size and proof, and the checkpoint")?;
    let mut lines = head.split('\n');
    let old = lines.next().and_then(|l| l.strip_prefix("old ")).ok_or("the first line must be `old SIZE`")?;
    if old.is_empty() || !old.bytes().all(|b| b.is_ascii_digit()) || (old.len() > 1 && old.starts_with('0')) {
        return Err("the old size must be a decimal number without leading zeros".into());
    }
    let old: u64 = old.parse().map_err(|_| "the old size is too large")?;
    let proof = lines
        .map(|l| STANDARD.decode(l).ok().and_then(|b| Hash::try_from(b).ok()).ok_or_else(|| format!("{l:?} is not a base64 hash")))
        .collect::<Result<Vec<_>, _>>()?;
    if proof.len() > 63 {
        return Err("more than 63 proof lines".into());
    }
    Ok(AddCheckpoint { old, proof, note: note.to_string() })
}

/// What the pusher knows of one witness.
struct Peer {
    config: WitnessConfig,
    /// The size the witness last cosigned, if known.
    known: Option<u64>,
    /// The size last cosigned for us (nothing to send until the log grows).
    done: Option<u64>,
    /// After a failure: when to try again (doubling up to a minute), and
    /// the error last reported (reported again only when it changes).
    retry_at: tokio::time::Instant,
    backoff: Duration,
    failing: Option<String>,
}

/// Sends each new checkpoint to the witnesses, about once a second, until
/// the process ends; what they return is kept with the checkpoint.
pub fn spawn_pusher(state: Arc<AppState>, witnesses: Vec<WitnessConfig>) {
    if witnesses.is_empty() {
        return;
    }
    tokio::spawn(async move {
        let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("an HTTP client builds");
        let now = tokio::time::Instant::now();
        let mut peers: Vec<Peer> = witnesses.into_iter().map(|config| Peer { config, known: None, done: None, retry_at: now, backoff: Duration::ZERO, failing: None }).collect();
        loop {
            if state.cluster.is_some() && !state.ledger.is_writer() {
                // In a cluster the sequencer asks the witnesses; the
                // cosignatures it keeps are shared through the database.
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
            let cp = state.ledger.checkpoint();
            let now = tokio::time::Instant::now();
            for p in peers.iter_mut().filter(|p| p.done != Some(cp.size) && p.retry_at <= now) {
                match push(&state, &client, p, &cp).await {
                    Ok(()) => {
                        if p.failing.take().is_some() {
                            tracing::info!("witness {} ({}) cosigned again, at size {}", p.config.key.name(), p.config.url, cp.size);
                        }
                        (p.done, p.backoff) = (Some(cp.size), Duration::ZERO);
                    }
                    Err(e) => {
                        p.backoff = (p.backoff * 2).clamp(Duration::from_secs(1), Duration::from_secs(60));
                        p.retry_at = tokio::time::Instant::now() + p.backoff;
                        if p.failing.as_deref() != Some(e.as_str()) {
                            tracing::warn!("witness {} ({}): {e}; retrying, every minute at most, until it answers", p.config.key.name(), p.config.url);
                            p.failing = Some(e);
                        }
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    });
}

async fn push(state: &Arc<AppState>, client: &reqwest::Client, p: &mut Peer, cp: &corridor_ledger::SignedCheckpoint) -> Result<(), String> {
    let url = format!("{}/add-checkpoint", p.config.url.trim_end_matches('/'));
    for _ in 0..2 {
        let old = p.known.unwrap_or(0).min(cp.size);
        if p.known.is_some_and(|k| k > cp.size) {
            return Err(format!("the witness has cosigned size {} but this log holds {}: it saw another history of this log", p.known.unwrap_or(0), cp.size));
        }
        let proof = if old == 0 || old == cp.size {
            vec![]
        } else {
            // The tree is behind the ledger's lock: off the async workers.
            let (ledger, size) = (state.ledger.clone(), cp.size);
            tokio::task::spawn_blocking(move || ledger.consistency_proof(old, size)).await.map_err(|e| e.to_string())?.map_err(|e| e.to_string())?
        };
        let r = client.post(&url).body(request_body(old, &proof, &cp.note)).send().await.map_err(|e| format!("cannot reach it: {e}"))?;
        let status = r.status();
        let text = r.text().await.unwrap_or_default();
        if status == reqwest::StatusCode::CONFLICT {
            // The size it last cosigned: send again from there.
            p.known = Some(text.trim().parse().map_err(|_| format!("409 without a size: {text:?}"))?);
            continue;
        }
        if !status.is_success() {
            return Err(format!("answered {status}: {}", text.trim()));
        }
        let opened = note::open(&format!("{}{text}", cp.note), std::slice::from_ref(&p.config.key)).map_err(|e| format!("its answer carries no valid cosignature by its key: {e}"))?;
        for sig in opened.verified.iter().filter(|s| s.name == p.config.key.name()) {
            let line = format!("\u{2014} {} {}", sig.name, sig.base64);
            let (s, size) = (state.clone(), cp.size);
            tokio::task::spawn_blocking(move || s.keep_cosignature(size, &line)).await.map_err(|e| e.to_string())?.map_err(|e| format!("cannot keep its cosignature: {e}"))?;
        }
        p.known = Some(cp.size);
        return Ok(());
    }
    Err("it kept answering 409".into())
}

/// A witness: its key, the logs it follows and what it last cosigned.
pub struct Witness {
    signer: Signer,
    logs: Vec<Verifier>,
    state_file: PathBuf,
    /// By origin: the size and root last cosigned (and persisted).
    latest: Mutex<BTreeMap<String, Latest>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Latest {
    size: u64,
    root: String,
}

impl Witness {
    /// A witness signing with `signer` (a `cosignature/v1` key) for `logs`,
    /// keeping its state in `state_file`.
    pub fn open(signer: Signer, logs: Vec<Verifier>, state_file: PathBuf) -> std::io::Result<Witness> {
        let latest = match std::fs::read_to_string(&state_file) {
            Ok(t) => serde_json::from_str(&t).map_err(|e| std::io::Error::other(format!("{} is not a witness state: {e}", state_file.display())))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(e),
        };
        Ok(Witness { signer, logs, state_file, latest: Mutex::new(latest) })
    }

    /// One `add-checkpoint`: the status and body to answer.
    pub fn add_checkpoint(&self, body: &str) -> (StatusCode, &'static str, String) {
        let text = |s: StatusCode, m: String| (s, "text/plain; charset=utf-8", m);
        let req = match parse_request(body) {
            Ok(r) => r,
            Err(m) => return text(StatusCode::BAD_REQUEST, m),
        };
        let origin = req.note.split('\n').next().unwrap_or("");
        let Some(log) = self.logs.iter().find(|l| l.name() == origin) else {
            return text(StatusCode::NOT_FOUND, format!("this witness does not follow the log {origin:?}"));
        };
        let Ok(opened) = note::open(&req.note, std::slice::from_ref(log)) else {
            return text(StatusCode::FORBIDDEN, "the checkpoint carries no valid signature by the log's key".into());
        };
        let cp = match Checkpoint::parse(&opened.text) {
            Ok(c) => c,
            Err(e) => return text(StatusCode::BAD_REQUEST, e.to_string()),
        };
        if req.old > cp.size {
            return text(StatusCode::BAD_REQUEST, format!("old size {} is beyond the checkpoint's {}", req.old, cp.size));
        }
        // Checked and updated under one lock: no rollback by a slower request.
        let mut latest = self.latest.lock().unwrap_or_else(|p| p.into_inner());
        let known = latest.get(origin).cloned();
        let known_size = known.as_ref().map_or(0, |l| l.size);
        if req.old != known_size {
            return (StatusCode::CONFLICT, "text/x.tlog.size", format!("{known_size}\n"));
        }
        let root = STANDARD.encode(cp.root);
        match &known {
            // From size 0 any checkpoint is consistent; the proof is empty.
            _ if req.old == 0 => {
                if !req.proof.is_empty() {
                    return text(StatusCode::UNPROCESSABLE_ENTITY, "the proof must be empty from size 0".into());
                }
            }
            Some(k) if req.old == cp.size => {
                if k.root != root {
                    return (StatusCode::CONFLICT, "text/x.tlog.size", format!("{known_size}\n"));
                }
            }
            Some(k) => {
                let old_root = STANDARD.decode(&k.root).ok().and_then(|b| Hash::try_from(b).ok());
                let ok = old_root.is_some_and(|r| verify_consistency(req.old, cp.size, &r, &cp.root, &req.proof).is_ok());
                if !ok {
                    return text(StatusCode::UNPROCESSABLE_ENTITY, format!("the consistency proof from {} to {} does not verify", req.old, cp.size));
                }
            }
            // Knowing nothing of the log, it answered 409 to any old size but 0.
            None => {}
        }
        let mut next = latest.clone();
        next.insert(origin.to_string(), Latest { size: cp.size, root });
        if let Err(e) = persist(&self.state_file, &next) {
            return text(StatusCode::SERVICE_UNAVAILABLE, format!("cannot keep the state: {e}"));
        }
        *latest = next;
        let time = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let mut raw = self.signer.key_hash().to_be_bytes().to_vec();
        raw.extend_from_slice(&self.signer.sign_note_at(&opened.text, time));
        text(StatusCode::OK, format!("\u{2014} {} {}\n", self.signer.name(), STANDARD.encode(raw)))
    }
}

fn persist(path: &std::path::Path, latest: &BTreeMap<String, Latest>) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(serde_json::to_string_pretty(latest).map_err(std::io::Error::other)?.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

async fn add_checkpoint(State(w): State<Arc<Witness>>, body: Bytes) -> Response {
    let Ok(body) = String::from_utf8(body.to_vec()) else {
        return (StatusCode::BAD_REQUEST, "the body is not UTF-8").into_response();
    };
    let w2 = w.clone();
    match tokio::task::spawn_blocking(move || w2.add_checkpoint(&body)).await {
        Ok((status, ctype, text)) => (status, [(header::CONTENT_TYPE, ctype)], text).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// The witness's HTTP interface: `POST /add-checkpoint`.
pub fn witness_app(w: Arc<Witness>) -> Router {
    Router::new().route("/add-checkpoint", post(add_checkpoint)).layer(axum::extract::DefaultBodyLimit::max(64 * 1024)).with_state(w)
}

/// Serves [`witness_app`] on `listener` until SIGINT or SIGTERM, with the
/// operations server's connection limits.
pub async fn serve_witness(w: Arc<Witness>, listener: tokio::net::TcpListener) -> std::io::Result<()> {
    crate::conn::serve_connections(listener, witness_app(w), &crate::conn::Limits::default(), crate::conn::stop_signal()).await
}
