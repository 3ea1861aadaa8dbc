//! Recording events from a command: into the log directly (taking its
//! writer lock), or, while `corridor serve` holds the log, through that
//! server's API with an hq token (`--server URL --token HQ_TOKEN`). Event
//! ids are the caller's and deterministic, so a retry records nothing twice.

use std::time::Duration;

use anyhow::{bail, Context, Result};
use corridor_ledger::{Appended, Ledger};
use corridor_model::Event;

use corridor::datadir::{DataDir, Locked};

/// Where events a command records go: the log itself (this process takes
/// its writer lock), or a running server's API when it holds the lock.
pub enum Recorder {
    Local(Box<Ledger>),
    Server(Api),
}

impl Recorder {
    /// `what`: what is recorded, for messages ("notices", "declarations").
    pub fn open(d: &mut DataDir, server: Option<&str>, token: Option<&str>, what: &str) -> Result<Recorder> {
        if let Some(url) = server {
            return Ok(Recorder::Server(Api::connect(url, token, d, what)?));
        }
        match d.ledger() {
            Ok(l) => Ok(Recorder::Local(Box::new(l))),
            Err(e) if e.downcast_ref::<Locked>().is_some() => bail!(
                "the log in {} is held by another process, most likely a running `corridor serve`, so the {what} cannot be recorded here; \
                 record them through that server: pass --server http://HOST:PORT --token HQ_TOKEN (or set CORRIDOR_SERVER and CORRIDOR_TOKEN; \
                 an hq token comes from `corridor token create --role hq`). Nothing was sent, written or recorded.",
                d.path.display(),
            ),
            Err(e) => Err(e),
        }
    }

    /// Appends `events` (none already in the log as read); returns how many
    /// are in the log now that were not before this call (or identical
    /// resends the server answered with their index).
    pub fn record(&mut self, d: &mut DataDir, events: Vec<Event>) -> Result<usize> {
        match self {
            Recorder::Local(ledger) => Ok(ledger.append(events)?.iter().filter(|o| matches!(o, Appended::New(_))).count()),
            Recorder::Server(api) => api.record(d, events),
        }
    }

    pub fn via(&self) -> String {
        match self {
            Recorder::Local(_) => String::new(),
            Recorder::Server(api) => format!(" (through the server at {})", api.base),
        }
    }
}

/// A running `corridor serve` of this data directory's log, written with
/// an hq token.
pub struct Api {
    http: reqwest::blocking::Client,
    pub base: String,
    token: String,
    what: String,
}

/// The `{"error": …}` of an API answer, or its text.
fn api_error(r: reqwest::blocking::Response) -> String {
    let status = r.status();
    let text = r.text().unwrap_or_default();
    let msg = serde_json::from_str::<serde_json::Value>(&text).ok().and_then(|v| v["error"].as_str().map(str::to_string)).unwrap_or(text);
    format!("{status}: {}", msg.trim())
}

impl Api {
    /// Checks, before anything is sent, that `url` serves the log of `d`
    /// and takes `token`.
    fn connect(url: &str, token: Option<&str>, d: &DataDir, what: &str) -> Result<Api> {
        let token = token
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(|| anyhow::anyhow!("--server needs --token HQ_TOKEN (or CORRIDOR_TOKEN): an hq token from `corridor token create --role hq`"))?
            .trim()
            .to_string();
        if let Some(role) = token.strip_prefix("crd_").and_then(|r| r.split('_').next()).filter(|r| *r != "hq") {
            bail!("--token is a {role} token; {what} are recorded by hq: pass an hq token (`corridor token create --role hq`)");
        }
        let base = url.trim_end_matches('/').to_string();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            bail!("--server {url:?} is not an http:// or https:// URL; give the address `corridor serve` prints, e.g. http://127.0.0.1:8080");
        }
        let http = reqwest::blocking::Client::builder().timeout(Duration::from_secs(30)).build().context("cannot make an HTTP client")?;
        let unreachable = |e: reqwest::Error| anyhow::anyhow!("cannot reach the server at {base}: {e}; is `corridor serve` running there? Nothing was sent, written or recorded.");
        let r = http.get(format!("{base}/api/v1/checkpoint")).send().map_err(unreachable)?;
        if !r.status().is_success() {
            bail!("the server at {base} did not give its checkpoint ({}); is it a `corridor serve`?", api_error(r));
        }
        let note = r.text().map_err(unreachable)?;
        let served = note.lines().next().unwrap_or("");
        if served != d.config.origin {
            bail!(
                "the server at {base} serves the log {served:?}, but {} holds the log {:?}: pass the --server of this data directory (or the --data-dir of that server)",
                d.path.display(),
                d.config.origin
            );
        }
        let r = http.get(format!("{base}/api/v1/events?from=0&to=0")).bearer_auth(&token).send().map_err(unreachable)?;
        if !r.status().is_success() {
            bail!("the server at {base} refused the token ({}); pass a valid hq token (`corridor token create --role hq`). Nothing was sent, written or recorded.", api_error(r));
        }
        Ok(Api { http, base, token, what: what.to_string() })
    }

    /// POSTs `events` to /api/v1/events, 100 at a time. A request whose
    /// answer is lost is sent again with the same bytes (the server answers
    /// an identical resend with its index). A 409 is an id the log already
    /// holds: fine if the log holds exactly this event, an error otherwise.
    fn record(&self, d: &mut DataDir, events: Vec<Event>) -> Result<usize> {
        let mut recorded = 0;
        for chunk in events.chunks(100) {
            let body = serde_json::to_vec(chunk)?;
            let mut attempt = 0u32;
            let r = loop {
                let sent = self.http.post(format!("{}/api/v1/events", self.base)).bearer_auth(&self.token).header(reqwest::header::CONTENT_TYPE, "application/json").body(body.clone()).send();
                match sent {
                    Ok(r) => break r,
                    Err(e) if attempt < 2 && !e.is_builder() => {
                        attempt += 1;
                        eprintln!("no answer from {} ({e}); sending the same events again", self.base);
                        std::thread::sleep(Duration::from_secs(u64::from(attempt)));
                    }
                    Err(e) => bail!(
                        "cannot reach the server at {}: {e}; {recorded} of the {} recorded so far. Run the same command again: what is in the log is not recorded twice",
                        self.base,
                        self.what
                    ),
                }
            };
            let status = r.status();
            if status == reqwest::StatusCode::OK || status == reqwest::StatusCode::CREATED {
                recorded += chunk.len();
                continue;
            }
            let msg = api_error(r);
            if status == reqwest::StatusCode::CONFLICT {
                // Identical events already in the log are recorded; any
                // other content under one of these ids is not ours to change.
                let stored = crate::read::read_events(d)?;
                let mut differs = None;
                for e in chunk {
                    match stored.iter().find(|s| s.id == e.id) {
                        Some(s) if s.canonical_bytes() == e.canonical_bytes() => {}
                        Some(_) => differs = Some(e.id.clone()),
                        None => differs = differs.or_else(|| Some(e.id.clone())),
                    }
                }
                match differs {
                    None => {
                        recorded += chunk.len();
                        continue;
                    }
                    Some(id) => bail!(
                        "the server at {} already holds a different event under id {id:?} ({msg}): it was recorded differently, e.g. by another run at the same time; \
                         this batch was not recorded and the log is unchanged. Run the same command again to record the others; `corridor log show` shows what is recorded",
                        self.base
                    ),
                }
            }
            let hint = match status {
                reqwest::StatusCode::UNAUTHORIZED | reqwest::StatusCode::FORBIDDEN => "; pass a valid hq token (`corridor token create --role hq`)",
                _ => "",
            };
            bail!("the server at {} refused the {} ({msg}){hint}; {recorded} recorded so far", self.base, self.what);
        }
        Ok(recorded)
    }
}

