//! Several servers on one PostgreSQL log: which one sequences, and the
//! others following it.
//!
//! Every server of a cluster serves reads from its own copy of the log,
//! read from the database. Exactly one, the sequencer, appends: it holds
//! the log's lease row (see `corridor_ledger::store::postgres`) with a
//! fencing epoch that each of its appends renews in the same transaction,
//! so a sequencer that was paused or cut off can never store (or publish a
//! checkpoint signed) after another took over. A write sent to any other
//! server is forwarded to the sequencer's advertised address
//! (`api::post_events`).
//!
//! [`spawn`] runs one thread per server that, a few times a second:
//! - on a follower, reads what the sequencer stored (checked entry by entry
//!   and against the signed checkpoint) and wakes the fold, then takes the
//!   lease if no live server holds it (the holder's lease ran out, or its
//!   database session is gone because its process died), and becomes the
//!   sequencer from the stored tree;
//! - on the sequencer, steps down as soon as its ledger stopped (the lease
//!   was lost, or storage failed), reloading the log as stored.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use corridor_ledger::store::postgres::{self, PostgresStore, Sequencer};
use serde::Serialize;

use crate::AppState;

/// How a server joins a cluster.
#[derive(Debug, Clone)]
pub struct Config {
    /// The log's PostgreSQL URL and schema.
    pub database_url: String,
    pub schema: String,
    /// Where the other servers reach this one (its base URL, e.g.
    /// `http://10.0.0.2:8080`): writes are forwarded there while it
    /// sequences.
    pub advertise: String,
    /// Who this server is, as the lease row shows it.
    pub holder: String,
    /// How long the lease lasts without renewal: a paused or cut-off
    /// sequencer is replaced after this long (a dead one at once).
    pub lease: Duration,
}

/// What this server is in its cluster now.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Status {
    /// `sequencer` or `follower`.
    pub role: &'static str,
    /// The sequencer's advertised URL, when a live one is known.
    pub sequencer: Option<String>,
    /// The lease's fencing epoch (one more at every change of sequencer).
    pub epoch: i64,
}

/// A server's place in its cluster.
pub struct Cluster {
    pub config: Config,
    status: RwLock<Status>,
    /// When this server last read the log's database successfully.
    last_ok: RwLock<std::time::Instant>,
}

impl Cluster {
    pub fn new(config: Config) -> Cluster {
        Cluster { config, status: RwLock::new(Status { role: "follower", sequencer: None, epoch: 0 }), last_ok: RwLock::new(std::time::Instant::now()) }
    }

    /// How long since this server last read the log's database: its copy
    /// of the log may be that far behind.
    pub fn out_of_touch(&self) -> Duration {
        self.last_ok.read().unwrap_or_else(|p| p.into_inner()).elapsed()
    }

    pub fn status(&self) -> Status {
        self.status.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn set(&self, s: Status) {
        *self.status.write().unwrap_or_else(|p| p.into_inner()) = s;
    }
}

/// Runs the cluster thread of `state` (which has a cluster) until the
/// process ends.
pub fn spawn(state: Arc<AppState>) {
    let Some(cluster) = state.cluster.clone() else { return };
    std::thread::Builder::new()
        .name("cluster".into())
        .spawn(move || {
            let mut admin = None;
            let mut said = String::new();
            loop {
                match step(&state, &cluster, &mut admin) {
                    Ok(()) => *cluster.last_ok.write().unwrap_or_else(|p| p.into_inner()) = std::time::Instant::now(),
                    Err(e) => {
                        if e != said {
                            tracing::warn!("cluster: {e}");
                            said = e;
                        }
                        admin = None;
                    }
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        })
        .expect("can spawn the cluster thread");
}

fn step(state: &Arc<AppState>, cluster: &Cluster, admin: &mut Option<::postgres::Client>) -> Result<(), String> {
    let c = &cluster.config;
    let ledger = &state.ledger;
    if ledger.is_writer() {
        if let Some(why) = ledger.failed() {
            tracing::warn!("stepping down as the log's sequencer: {why}");
            ledger.demote().map_err(|e| format!("cannot reload the log after stepping down: {e}"))?;
            cluster.set(Status { role: "follower", sequencer: None, epoch: cluster.status().epoch });
        }
        return state.refresh_cosignatures();
    }
    if ledger.refresh().map_err(|e| format!("cannot read the log the sequencer stores: {e}"))? > 0 {
        state.wake.notify_one();
    }
    state.refresh_cosignatures()?;
    if admin.is_none() {
        *admin = Some(postgres::session_existing(&c.database_url, &c.schema).map_err(|e| e.to_string())?);
    }
    let client = admin.as_mut().expect("just set");
    let row = postgres::sequencer(client).map_err(|e| e.to_string())?;
    match row {
        Some(Sequencer { live: true, url, epoch, .. }) => {
            // (No URL: a command such as `corridor log append` holds the
            // lease for a moment, or a server started without --advertise.)
            cluster.set(Status { role: "follower", sequencer: Some(url).filter(|u| !u.is_empty()), epoch });
        }
        _ => {
            let mut store = PostgresStore::connect_existing(&c.database_url, &c.schema).map_err(|e| e.to_string())?;
            match store.acquire(&c.holder, &c.advertise, c.lease).map_err(|e| e.to_string())? {
                Ok(epoch) => {
                    // Dropping the store on failure gives the lease back.
                    ledger.promote(Box::new(store)).map_err(|e| format!("took the lease (epoch {epoch}) but cannot continue the log: {e}"))?;
                    tracing::info!("sequencing the log from entry {} (epoch {epoch})", ledger.len());
                    cluster.set(Status { role: "sequencer", sequencer: Some(c.advertise.clone()), epoch });
                    state.wake.notify_one();
                }
                Err(s) => cluster.set(Status { role: "follower", sequencer: Some(s.url).filter(|u| s.live && !u.is_empty()), epoch: s.epoch }),
            }
        }
    }
    Ok(())
}
