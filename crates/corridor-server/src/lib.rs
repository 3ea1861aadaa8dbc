//! The operations server: a versioned JSON API over the ledger under
//! `/api/v1`, a live feed of server-sent events, the OpenAPI document at
//! `/openapi.json` (generated from the handlers by utoipa), and the
//! embedded dashboard at `/`, which needs no internet.
//!
//! - Every write is an event appended through [`corridor_ledger::Ledger`]
//!   and acknowledged only once durable; the token's role and scope decide
//!   what it may write ([`scope`], [`tokens`]).
//! - Reads come from one fold of the log ([`corridor_views::Views`] plus the
//!   server's own small fold of corridors), refreshed by a follower task a
//!   few times a second and served from cached JSON.
//! - The public sees aggregates and notices only: no vehicle, convoy or
//!   event record is reachable without a token.

pub mod api;
pub mod auth;
pub mod cluster;
pub mod conn;
pub mod error;
pub mod field;
pub mod fold;
pub mod limit;
pub mod log;
pub mod scope;
pub mod tokens;
pub mod witness;

use std::collections::HashSet;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use corridor_ledger::{Appended, Ledger, LedgerError};
use corridor_model::Event;
use tokio::sync::{broadcast, Notify};

pub use api::app;
pub use fold::Fold;
pub use tokens::{Role, TokenRecord, TokenStore};

/// How the server runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Public requests allowed per second from one address (a burst of
    /// twice that is allowed).
    pub public_rate: f64,
    /// The road network and corridors as GeoJSON, for the dashboard's map.
    pub map_geojson: Option<String>,
    /// An event dated further than this ahead of the server's clock is
    /// refused (a device with a wrong clock, a typo in a year).
    pub max_clock_skew: chrono::Duration,
    /// Witnesses asked to cosign each new checkpoint (C2SP tlog-witness).
    pub witnesses: Vec<witness::WitnessConfig>,
    /// Timeouts and the connection limit.
    pub limits: conn::Limits,
    /// Serve the field app from this directory (its files as in
    /// `crates/corridor-server/field/`) instead of the built-in copy: to try
    /// a changed or translated app without rebuilding.
    pub field_dir: Option<std::path::PathBuf>,
    /// A PostgreSQL log's URL and schema: cosignatures are kept there,
    /// shared by every server of the log (else in `cosignatures.log`).
    pub database: Option<(String, String)>,
    /// This server is one of several on one PostgreSQL log (see [`cluster`]).
    pub cluster: Option<cluster::Config>,
}

impl Default for Options {
    fn default() -> Self {
        Options { public_rate: 20.0, map_geojson: None, max_clock_skew: chrono::Duration::minutes(5), witnesses: vec![], limits: conn::Limits::default(), field_dir: None, database: None, cluster: None }
    }
}

/// One message of the live feed.
#[derive(Debug, Clone)]
pub struct FeedMsg {
    /// `summary` (public) or `event` (tokens only).
    pub name: &'static str,
    pub public: bool,
    pub data: Arc<str>,
    /// The log index of an `event` message.
    pub index: Option<u64>,
}

/// Everything the handlers share.
pub struct AppState {
    pub ledger: Arc<Ledger>,
    pub tokens: TokenStore,
    pub options: Options,
    pub fold: RwLock<Fold>,
    pub feed: broadcast::Sender<FeedMsg>,
    pub limiter: limit::Limiter,
    /// This server's place among several on one log, if it is one of them.
    pub cluster: Option<Arc<cluster::Cluster>>,
    pub(crate) wake: Notify,
    /// The ids of the batches being appended now (checked and reserved
    /// together with the duplicate pre-check, released once the ledger has
    /// answered): concurrent appends go to the ledger together and share
    /// its group commits, and a replay of an id still in flight is refused
    /// like one of an id already stored.
    in_flight: InFlight,
    /// Feed tickets (by their SHA-256): the token each stands for, and
    /// until when it may be used, once (see `api::post_feed_ticket`).
    pub(crate) tickets: std::sync::Mutex<std::collections::HashMap<String, (String, std::time::Instant)>>,
    /// One catch-up of the fold at a time.
    catch_up_lock: std::sync::Mutex<()>,
    /// Monitors' and witnesses' cosignatures, one signature line per
    /// checkpoint size and key, kept in `cosignatures.log` or in the log's
    /// PostgreSQL schema.
    cosignatures: std::sync::Mutex<Cosignatures>,
    /// One cosignature written at a time, without holding `cosignatures`
    /// (read by every checkpoint request) across the write and its fsync.
    cosign_write: std::sync::Mutex<()>,
    cosign_keep: CosignKeep,
}

/// Where cosignatures are kept durably.
enum CosignKeep {
    File(std::path::PathBuf),
    /// In the log's schema, shared by its servers (a connection opened
    /// when first needed, again after a failure).
    Postgres { url: String, schema: String, client: std::sync::Mutex<Option<postgres::Client>> },
}

impl CosignKeep {
    /// Runs `f` on the database connection (opened if needed; dropped after
    /// an error so the next call reconnects).
    fn with_db<R>(&self, f: impl FnOnce(&mut postgres::Client) -> Result<R, corridor_ledger::store::StoreError>) -> std::io::Result<R> {
        let CosignKeep::Postgres { url, schema, client } = self else { return Err(std::io::Error::other("not a database")) };
        let mut c = client.lock().unwrap_or_else(|p| p.into_inner());
        if c.is_none() {
            *c = Some(corridor_ledger::store::postgres::session_existing(url, schema).map_err(std::io::Error::other)?);
        }
        let out = f(c.as_mut().expect("just set"));
        if out.is_err() {
            *c = None;
        }
        out.map_err(std::io::Error::other)
    }
}

/// Cosignature lines by (checkpoint size, key name, key hash).
type Cosignatures = std::collections::BTreeMap<(u64, String, u32), String>;

/// Whether a countersignature was new.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kept {
    New,
    AlreadyKept,
}

/// Reads `cosignatures.log` (`SIZE<TAB>SIGNATURE LINE` per line), and the
/// whole countersigned notes an older version kept in `cosignatures.txt`.
fn load_cosignatures(data_dir: &std::path::Path, origin: &str) -> Cosignatures {
    let mut out = Cosignatures::new();
    let mut keep = |size: u64, line: &str| {
        if let Some((name, hash)) = signature_key(line) {
            out.entry((size, name, hash)).or_insert_with(|| line.to_string());
        }
    };
    if let Ok(old) = std::fs::read_to_string(data_dir.join("cosignatures.txt")) {
        // Whole notes one after another: text lines (origin, size, root),
        // a blank line, signature lines.
        let (mut size, mut text_line) = (None, 0);
        for l in old.lines() {
            if l.starts_with('\u{2014}') {
                text_line = 0;
                if let Some(size) = size.filter(|_| !l.starts_with(&format!("\u{2014} {origin} "))) {
                    keep(size, l);
                }
            } else if l.is_empty() {
                text_line = 0;
            } else {
                text_line += 1;
                if text_line == 2 {
                    size = l.parse().ok();
                }
            }
        }
    }
    if let Ok(text) = std::fs::read_to_string(data_dir.join("cosignatures.log")) {
        for (size, line) in text.lines().filter_map(|l| l.split_once('\t')) {
            if let Ok(size) = size.parse() {
                keep(size, line);
            }
        }
    }
    out
}

/// The key name and key hash of a signature line `— name base64`.
fn signature_key(line: &str) -> Option<(String, u32)> {
    use base64::Engine as _;
    let (name, b64) = line.strip_prefix("\u{2014} ")?.split_once(' ')?;
    let raw = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    let hash = u32::from_be_bytes(raw.get(..4)?.try_into().ok()?);
    Some((name.to_string(), hash))
}

/// The ids of the batches being appended now.
#[derive(Default)]
struct InFlight(Arc<std::sync::Mutex<HashSet<String>>>);

/// Ids reserved for one batch: released when dropped, whether the append
/// answered, failed or panicked (a panic must not leave them reserved,
/// every retry answered 409 "in flight" for good).
struct Reserved {
    set: Arc<std::sync::Mutex<HashSet<String>>>,
    ids: Vec<String>,
}

impl InFlight {
    /// Reserves the batch's ids, or says which one is being appended by
    /// another request. (An id twice in one batch is the ledger's to judge.)
    fn reserve(&self, events: &[Event]) -> Result<Reserved, AppendError> {
        let mut busy = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((position, e)) = events.iter().enumerate().find(|(_, e)| busy.contains(&e.id)) {
            return Err(AppendError::InFlight { position, id: e.id.clone() });
        }
        let ids = events.iter().filter(|e| busy.insert(e.id.clone())).map(|e| e.id.clone()).collect();
        Ok(Reserved { set: self.0.clone(), ids })
    }
}

impl Drop for Reserved {
    fn drop(&mut self) {
        let mut busy = self.set.lock().unwrap_or_else(|p| p.into_inner());
        for id in &self.ids {
            busy.remove(id);
        }
    }
}

/// What an append did.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    #[error("event #{position}: id {id:?} is being appended by a concurrent request; nothing from this batch was appended (a retry of a write needs no resend while the first is in flight; a new fact needs a new id)")]
    InFlight { position: usize, id: String },
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

impl AppState {
    /// A state over `ledger`, reading the log once into the fold.
    pub fn new(ledger: Arc<Ledger>, tokens: TokenStore, options: Options, data_dir: &std::path::Path) -> Result<Arc<AppState>, LedgerError> {
        Self::with_fold(ledger, Fold::default(), tokens, options, data_dir)
    }

    /// A state over `ledger` whose `fold` already holds the log's first
    /// entries, folded as the ledger opened ([`Ledger::open_folding`]): only
    /// what follows them is read again.
    pub fn with_fold(ledger: Arc<Ledger>, fold: Fold, tokens: TokenStore, options: Options, data_dir: &std::path::Path) -> Result<Arc<AppState>, LedgerError> {
        let (feed, _) = broadcast::channel(4096);
        let cosignatures = load_cosignatures(data_dir, ledger.origin());
        let cosign_keep = match &options.database {
            None => CosignKeep::File(data_dir.join("cosignatures.log")),
            Some((url, schema)) => CosignKeep::Postgres { url: url.clone(), schema: schema.clone(), client: std::sync::Mutex::new(None) },
        };
        if matches!(cosign_keep, CosignKeep::Postgres { .. }) && !cosignatures.is_empty() {
            // Kept in a file by an earlier version: shared from now on.
            let kept = cosign_keep.with_db(|c| {
                for ((size, name, hash), line) in &cosignatures {
                    corridor_ledger::store::postgres::keep_cosignature(c, *size, name, *hash, line)?;
                }
                Ok(())
            });
            if let Err(e) = kept {
                tracing::warn!("cannot copy the cosignatures of cosignatures.log to the database: {e}");
            }
        }
        let state = Arc::new(AppState {
            cluster: options.cluster.clone().map(|c| Arc::new(cluster::Cluster::new(c))),
            limiter: limit::Limiter::new(options.public_rate),
            ledger,
            tokens,
            options,
            fold: RwLock::new(fold),
            feed,
            wake: Notify::new(),
            in_flight: InFlight::default(),
            tickets: std::sync::Mutex::new(std::collections::HashMap::new()),
            catch_up_lock: std::sync::Mutex::new(()),
            cosignatures: std::sync::Mutex::new(cosignatures),
            cosign_write: std::sync::Mutex::new(()),
            cosign_keep,
        });
        if let Err(e) = state.refresh_cosignatures() {
            tracing::warn!("{e}");
        }
        // No one can be listening yet: the feed is not told.
        state.catch_up_telling(false)?;
        Ok(state)
    }

    /// Applies the entries appended since the last call to the fold and
    /// tells the feed; returns how many there were.
    ///
    /// One call at a time. The fold's write lock is held only to apply the
    /// new entries and to install the answers: the answers themselves (the
    /// costly part, growing with the log) are rendered under a read lock,
    /// so writes (scope checks) and reads are not held up meanwhile.
    pub fn catch_up(&self) -> Result<u64, LedgerError> {
        self.catch_up_telling(true)
    }

    /// [`AppState::catch_up`]; `tell` whether to send the new entries on
    /// the feed. Reads the new entries a chunk at a time.
    fn catch_up_telling(&self, tell: bool) -> Result<u64, LedgerError> {
        let _one = self.catch_up_lock.lock().unwrap_or_else(|p| p.into_inner());
        let (from, to, rendered) = {
            let f = self.fold.read().unwrap_or_else(|p| p.into_inner());
            (f.size(), self.ledger.len(), !f.summary_json().is_empty())
        };
        // (An empty log is rendered once too: its summary is served.)
        if to <= from && rendered {
            return Ok(0);
        }
        let mut fresh = Vec::new();
        let mut applied = 0;
        let mut at = from;
        while at < to {
            let end = (at + 10_000).min(to);
            let events = self.ledger.events(at, end)?;
            let mut f = self.fold.write().unwrap_or_else(|p| p.into_inner());
            for (i, e) in events {
                if i == f.size() {
                    f.apply(i, &e);
                    applied += 1;
                    if tell {
                        fresh.push((i, e));
                    }
                }
            }
            at = end;
        }
        let stale = {
            let f = self.fold.read().unwrap_or_else(|p| p.into_inner());
            f.needs_replay().then(|| (f.replaying(), f.size()))
        };
        if let Some((mut again, size)) = stale {
            // A correction of an entry already folded: fold the log again
            // (from storage, a chunk at a time) knowing every correction.
            let mut at = 0;
            while at < size {
                let end = (at + 10_000).min(size);
                for (i, e) in self.ledger.events(at, end)? {
                    again.apply(i, &e);
                }
                at = end;
            }
            // Rendered before it replaces the served fold: readers never
            // see a fold without its answers (an empty summary).
            let rendered = again.answers();
            again.install(rendered);
            *self.fold.write().unwrap_or_else(|p| p.into_inner()) = again;
        }
        let rendered = self.fold.read().unwrap_or_else(|p| p.into_inner()).answers();
        let summary = rendered.summary.clone();
        // Nothing else applies meanwhile (one catch-up at a time).
        self.fold.write().unwrap_or_else(|p| p.into_inner()).install(rendered);
        for (i, e) in &fresh {
            let data = serde_json::json!({ "index": i, "event": e }).to_string();
            let _ = self.feed.send(FeedMsg { name: "event", public: false, data: data.into(), index: Some(*i) });
        }
        if tell {
            let _ = self.feed.send(FeedMsg { name: "summary", public: true, data: summary, index: None });
        }
        Ok(applied)
    }

    /// Appends a batch already authorized, all or nothing: an event already
    /// in the log with the same content keeps its index and is not written
    /// again; an id in the log with other content, or in a batch being
    /// appended now, refuses the batch. Returns where each event is, once
    /// durable.
    ///
    /// No lock is held across the append: the ids are checked against the
    /// log and reserved in `in_flight` under one short mutex, and released
    /// only after the ledger has answered (so an id is, at every moment,
    /// either durable, reserved, or free to append). Concurrent batches thus
    /// reach the ledger together and are written in one group commit.
    pub async fn append(self: &Arc<Self>, events: Vec<Event>) -> Result<Vec<Appended>, AppendError> {
        let reserved = self.in_flight.reserve(&events)?;
        let state = self.clone();
        // The reservation is released inside the blocking task, after the
        // ledger's answer, even if this request is dropped meanwhile, and
        // by its drop if the append panics.
        let outcome = tokio::task::spawn_blocking(move || {
            let outcome = state.ledger.append(events);
            drop(reserved);
            outcome
        })
        .await
        .map_err(|e| LedgerError::Stopped(e.to_string()))??;
        self.wake.notify_one();
        Ok(outcome)
    }

    /// The latest signed checkpoint with the cosignatures of that same
    /// checkpoint (one line per key, however often it was posted).
    pub fn checkpoint_note(&self) -> String {
        let mut note = self.ledger.checkpoint().note;
        let size = self.ledger.checkpoint().size;
        let cos = self.cosignatures.lock().unwrap_or_else(|p| p.into_inner());
        for line in cos.range((size, String::new(), 0)..).take_while(|((s, _, _), _)| *s == size).map(|(_, l)| l) {
            note.push_str(line);
            note.push('\n');
        }
        note
    }

    /// Keeps a cosignature line (already checked) of the checkpoint of
    /// `size`, durably, unless that key's is already kept. Blocking: call
    /// it off the async runtime.
    pub fn keep_cosignature(&self, size: u64, line: &str) -> std::io::Result<Kept> {
        use std::io::Write;
        let (name, hash) = signature_key(line).ok_or_else(|| std::io::Error::other("not a signature line"))?;
        let _one = self.cosign_write.lock().unwrap_or_else(|p| p.into_inner());
        if self.cosignatures.lock().unwrap_or_else(|p| p.into_inner()).contains_key(&(size, name.clone(), hash)) {
            return Ok(Kept::AlreadyKept);
        }
        let new = match &self.cosign_keep {
            CosignKeep::File(path) => {
                let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
                f.write_all(format!("{size}\t{line}\n").as_bytes())?;
                f.sync_all()?;
                true
            }
            db => db.with_db(|c| corridor_ledger::store::postgres::keep_cosignature(c, size, &name, hash, line))?,
        };
        self.cosignatures.lock().unwrap_or_else(|p| p.into_inner()).insert((size, name, hash), line.to_string());
        Ok(if new { Kept::New } else { Kept::AlreadyKept })
    }

    /// Reads the cosignatures other servers of the log kept for the latest
    /// checkpoint (a log in PostgreSQL only). Blocking.
    pub fn refresh_cosignatures(&self) -> Result<(), String> {
        if matches!(self.cosign_keep, CosignKeep::File(_)) {
            return Ok(());
        }
        let size = self.ledger.checkpoint().size;
        let lines = self
            .cosign_keep
            .with_db(|c| corridor_ledger::store::postgres::cosignatures(c, size))
            .map_err(|e| format!("cannot read the cosignatures kept in the database: {e}"))?;
        let mut cos = self.cosignatures.lock().unwrap_or_else(|p| p.into_inner());
        for (name, hash, line) in lines {
            cos.entry((size, name, hash)).or_insert(line);
        }
        Ok(())
    }
}

/// Runs the follower (refreshing the fold and the feed after appends, at
/// most every 200 ms) until the process ends.
pub fn spawn_follower(state: Arc<AppState>) {
    tokio::spawn(async move {
        loop {
            let _ = tokio::time::timeout(Duration::from_secs(1), state.wake.notified()).await;
            let s = state.clone();
            match tokio::task::spawn_blocking(move || s.catch_up()).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::error!("cannot read the log: {e}"),
                Err(e) => tracing::error!("the follower failed: {e}"),
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
}

/// Serves the API and dashboard on `listener` until SIGINT or SIGTERM
/// (see [`conn`]).
pub async fn serve(state: Arc<AppState>, listener: tokio::net::TcpListener) -> std::io::Result<()> {
    spawn_follower(state.clone());
    cluster::spawn(state.clone());
    witness::spawn_pusher(state.clone(), state.options.witnesses.clone());
    let limits = state.options.limits.clone();
    conn::serve_connections(listener, app(state), &limits, conn::stop_signal()).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: &str) -> Event {
        serde_json::from_value(serde_json::json!({"v": 1, "id": id, "time": "2016-12-15T04:00:00Z", "author": "hq", "body": {"incident": {"incident": id, "kind": "halt", "killed": 0, "description": "x"}}})).unwrap()
    }

    /// A panic while a batch is appended releases its ids: a retry is not
    /// answered "in flight" for good.
    #[test]
    fn a_panic_during_an_append_releases_its_ids() {
        let f = InFlight::default();
        let batch = vec![event("a"), event("b")];
        let reserved = f.reserve(&batch).unwrap();
        assert!(matches!(f.reserve(&[event("b")]), Err(AppendError::InFlight { position: 0, .. })));
        let panicked = std::thread::spawn(move || {
            let _held = reserved;
            panic!("the ledger panicked mid-append");
        })
        .join();
        assert!(panicked.is_err());
        assert!(f.reserve(&batch).is_ok(), "the ids are free again");
    }
}
