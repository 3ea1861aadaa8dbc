//! `corridor monitor`: the tool an independent monitor (ICRC, WHO, UN) runs
//! on its own machine to follow an operation's log from outside, and the
//! reading of a log from its C2SP tiles that `corridor verify --tiles`
//! shares.
//!
//! A monitor keeps its own copy of the log (every leaf, and every
//! checkpoint it accepted) in its own data directory. On each new signed
//! checkpoint it checks the signature with the log's published key,
//! downloads the new entries from the entry bundles, checks that the
//! entries it already holds are unchanged, re-validates each new event
//! through the model, recomputes the tree (the new root over its own old
//! leaves plus the new ones is the consistency check, stronger than a
//! proof), recomputes the public figures and compares them with the
//! server's, and only then keeps the checkpoint and countersigns it
//! (`cosignature/v1`). Anything else is an alarm: a message naming sizes
//! and roots, the evidence (both signed checkpoints) written to a file
//! anyone can check, and a non-zero exit.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use base64::Engine as _;
use corridor_ledger::checkpoint::Checkpoint;
use corridor_ledger::merkle::{leaf_hash, verify_consistency, Hash, Tree};
use corridor_ledger::note::{self, Alg, Signer, Verifier};
use corridor_ledger::store::sqlite::SqliteStore;
use corridor_ledger::store::{Store, StoredCheckpoint, StoredEntry};
use corridor_ledger::verify::replay;
use corridor_ledger::tiles::{unbundle, Tile, TileKind, TILE_WIDTH};
use corridor_model::parse::parse_leaf;
use corridor_model::Registry;
use corridor_server::Fold;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Where a log's tiles are read from: a directory (a static copy, from
/// `corridor log export --tiles`) or a URL prefix (`https://…/log`).
pub enum Source {
    Dir(PathBuf),
    Http { base: String, client: reqwest::blocking::Client, token: Option<String> },
}

impl Source {
    /// `s` is a URL (`http://` or `https://`) or a directory.
    pub fn new(s: &str, token: Option<String>) -> Result<Source> {
        if s.starts_with("http://") || s.starts_with("https://") {
            let client = reqwest::blocking::Client::builder().timeout(Duration::from_secs(30)).build().context("cannot make an HTTP client")?;
            Ok(Source::Http { base: s.trim_end_matches('/').to_string(), client, token })
        } else {
            let p = PathBuf::from(s);
            if !p.join("checkpoint").is_file() {
                bail!("{s} holds no log (no {s}/checkpoint): give the directory `corridor log export --tiles` wrote, or a URL such as http://HOST:8080/log");
            }
            Ok(Source::Dir(p))
        }
    }

    fn describe(&self, rel: &str) -> String {
        match self {
            Source::Dir(d) => d.join(rel).display().to_string(),
            Source::Http { base, .. } => format!("{base}/{rel}"),
        }
    }

    /// The bytes at `rel`, or `None` if there is nothing there (404, no file).
    pub fn get(&self, rel: &str) -> Result<Option<Vec<u8>>> {
        match self {
            Source::Dir(d) => match std::fs::read(d.join(rel)) {
                Ok(b) => Ok(Some(b)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e).with_context(|| format!("cannot read {}", self.describe(rel))),
            },
            Source::Http { base, client, token } => {
                let mut req = client.get(format!("{base}/{rel}"));
                if let Some(t) = token {
                    req = req.bearer_auth(t);
                }
                let mut tries = 0;
                loop {
                    tries += 1;
                    let r = req.try_clone().expect("a GET can be cloned").send();
                    match r {
                        Ok(r) if r.status() == reqwest::StatusCode::NOT_FOUND => return Ok(None),
                        Ok(r) if r.status().is_success() => return Ok(Some(r.bytes().with_context(|| format!("reading {}", self.describe(rel)))?.to_vec())),
                        Ok(r) if (r.status().is_server_error() || r.status() == reqwest::StatusCode::TOO_MANY_REQUESTS) && tries < 5 => {}
                        Ok(r) => bail!("{} answered {}: {}", self.describe(rel), r.status(), r.text().unwrap_or_default()),
                        Err(e) if tries < 5 => tracing_retry(&e),
                        Err(e) => return Err(e).with_context(|| format!("cannot reach {}", self.describe(rel))),
                    }
                    std::thread::sleep(Duration::from_millis(200 << tries));
                }
            }
        }
    }

    /// The signed checkpoint as served (with any cosignatures).
    pub fn checkpoint(&self) -> Result<String> {
        let bytes = self.get("checkpoint")?.ok_or_else(|| anyhow::anyhow!("{} is not there", self.describe("checkpoint")))?;
        String::from_utf8(bytes).with_context(|| format!("{} is not text", self.describe("checkpoint")))
    }

    /// Leaves `start..end` from the entry bundles, each passed to `f` with
    /// its index. The first bundle is read whole from its start, so `f`
    /// also sees the leaves before `start` in it (to check they are
    /// unchanged).
    pub fn entries(&self, start: u64, end: u64, f: &mut dyn FnMut(u64, &[u8]) -> Result<()>) -> Result<()> {
        let mut n = start / TILE_WIDTH;
        while n * TILE_WIDTH < end {
            let width = (end - n * TILE_WIDTH).min(TILE_WIDTH) as u16;
            let tile = Tile { kind: TileKind::Entries, index: n, width };
            let data = match self.get(&tile.path())? {
                Some(d) => d,
                // A log may drop a partial bundle once the full one exists.
                None if !tile.is_full() => self.get(&Tile::full(TileKind::Entries, n).path())?.ok_or_else(|| anyhow::anyhow!("{} is not there", self.describe(&tile.path())))?,
                None => bail!("{} is not there", self.describe(&tile.path())),
            };
            let leaves = unbundle(&data).with_context(|| format!("{} is not an entry bundle", self.describe(&tile.path())))?;
            if leaves.len() < usize::from(width) {
                bail!("{} holds {} entries, not {width}", self.describe(&tile.path()), leaves.len());
            }
            for (k, leaf) in leaves.into_iter().take(usize::from(width)).enumerate() {
                f(n * TILE_WIDTH + k as u64, leaf)?;
            }
            n += 1;
        }
        Ok(())
    }
}

fn tracing_retry(e: &reqwest::Error) {
    eprintln!("retrying after: {e}");
}

/// Opens a signed checkpoint with the log's key: the note must carry a
/// valid signature by it, and its origin must be the key's name.
pub fn open_checkpoint(note_text: &str, log: &Verifier) -> Result<Checkpoint> {
    note::open(note_text, std::slice::from_ref(log)).map_err(|e| anyhow::anyhow!("the checkpoint is not signed by the log's key {}: {e}", log.to_vkey()))?;
    let cp = corridor_ledger::parse_checkpoint(note_text, log).map_err(|e| anyhow::anyhow!("{e}"))?;
    if cp.origin != log.name() {
        bail!("the checkpoint's origin {:?} is not the log key's name {:?}", cp.origin, log.name());
    }
    Ok(cp)
}

/// The monitor's data directory.
pub struct MonitorDir {
    pub path: PathBuf,
}

const KEY_FILE: &str = "monitor.key";
const STORE_FILE: &str = "monitor.sqlite";

impl MonitorDir {
    pub fn new(path: &Path) -> MonitorDir {
        MonitorDir { path: path.to_path_buf() }
    }

    /// `corridor monitor key`: makes the monitor's `cosignature/v1` key
    /// (kept in `monitor.key`, readable by its owner only) and returns its
    /// public key. An existing key is kept, never replaced.
    pub fn make_key(&self, name: &str) -> Result<(String, bool)> {
        let p = self.path.join(KEY_FILE);
        if p.exists() {
            return Ok((self.signer()?.verifier().to_vkey(), false));
        }
        crate::datadir::private_dir(&self.path)?;
        let signer = Signer::generate_for(name, Alg::CosignatureV1).with_context(|| format!("{name:?} cannot name a key (no spaces or '+'; e.g. icrc.example/monitor-1)"))?;
        crate::datadir::write_private(&p, &signer.to_skey())?;
        Ok((signer.verifier().to_vkey(), true))
    }

    pub fn signer(&self) -> Result<Signer> {
        let p = self.path.join(KEY_FILE);
        if !p.exists() {
            bail!("no monitor key in {}: make one with `corridor monitor key --name NAME`", self.path.display());
        }
        let text = crate::datadir::read_private(&p, "the monitor's key")?;
        Signer::from_skey(text.trim()).with_context(|| format!("{} is not a signer key", p.display()))
    }
}

/// The monitor's copy of the log, as verified so far. An alarm ends the
/// process, so entries are checked into it in place: what failed is
/// never written to its store.
struct Copy {
    store: SqliteStore,
    tree: Tree,
    /// What the log declared, and its event ids.
    registry: Registry,
    fold: Fold,
    /// The last checkpoint accepted (the signed note as received).
    last: Option<StoredCheckpoint>,
}

impl Copy {
    /// Opens the copy and re-reads it (the same checks as when it was made).
    fn open(dir: &MonitorDir, log: &Verifier) -> Result<Copy> {
        crate::datadir::private_dir(&dir.path)?;
        let mut store = SqliteStore::open(&dir.path.join(STORE_FILE)).with_context(|| format!("cannot open the monitor's copy in {}", dir.path.display()))?;
        match store.get_meta("log_key")? {
            Some(k) if k != log.to_vkey() => bail!("{} follows the log with key {k}, not {}: use another --data-dir for another log", dir.path.display(), log.to_vkey()),
            Some(_) => {}
            None => store.set_meta("log_key", &log.to_vkey())?,
        }
        let mut scan = SqliteStore::open(&dir.path.join(STORE_FILE))?;
        let last = store.latest_checkpoint()?;
        let changed = |why: String| anyhow::anyhow!("the monitor's own copy in {} fails its checks ({why}); it was changed on this machine: start a new --data-dir", dir.path.display());
        // Read back through the ledger's one walk, against the last
        // checkpoint this monitor accepted (signed by the log's key): each
        // leaf's bytes against the hash kept with it, its canonical form,
        // the tree against the signed root; and each event through the
        // model again, as when it was accepted.
        let (size, root) = match &last {
            Some(c) => open_checkpoint(&c.note, log).map(|cp| (cp.size, cp.root)).map_err(|e| changed(format!("its last checkpoint: {e:#}")))?,
            None => (0, corridor_ledger::merkle::empty_root()),
        };
        let mut copy = Copy { store, tree: Tree::new(), registry: Registry::new(), fold: Fold::default(), last };
        let mut problem = None;
        let walked = replay(&mut scan, size, &root, &mut |index, hash, event| {
            if problem.is_none() {
                match copy.check(index, event) {
                    Ok(()) => {
                        copy.tree.push(*hash);
                    }
                    Err(err) => problem = Some(err.to_string()),
                }
            }
        });
        if let Some(p) = problem {
            return Err(changed(p));
        }
        walked.map_err(|e| changed(e.to_string()))?;
        if size != copy.store.len()? {
            bail!("the monitor's own copy in {} holds {} entries but its last checkpoint another size; start a new --data-dir", dir.path.display(), copy.store.len()?);
        }
        Ok(copy)
    }

    fn size(&self) -> u64 {
        self.tree.len()
    }

    /// One entry served by the log (not yet kept: its bytes, from the
    /// server's tiles, are parsed here, and the tree they make is held to
    /// the signed root before anything is kept), checked through the model
    /// at its position; its leaf hash.
    fn accept(&mut self, index: u64, leaf: &[u8]) -> Result<Hash> {
        let event = parse_leaf(leaf).map_err(|e| anyhow::anyhow!("entry {index} is not a valid event: {e}"))?;
        self.check(index, &event)?;
        let h = leaf_hash(leaf);
        self.tree.push(h);
        Ok(h)
    }

    /// An event checked through the model at its position: a new id,
    /// valid against what the log declared before it; folded.
    fn check(&mut self, index: u64, event: &corridor_model::Event) -> Result<()> {
        if let Some(first) = self.registry.position(&event.id) {
            bail!("entry {index}: event id {:?} is already used by entry {first}: an event counted twice", event.id);
        }
        self.registry.apply(event).map_err(|e| anyhow::anyhow!("entry {index} (event {:?}) is not valid at this position: {e}", event.id))?;
        self.fold.apply(index, event);
        Ok(())
    }

    /// The public summary at the copy's size, as the server renders it.
    fn summary(&mut self) -> Result<serde_json::Value> {
        if self.fold.needs_replay() {
            // The copy read again through the one walk, held to the root
            // this monitor checked it at.
            let mut again = self.fold.replaying();
            let (size, root) = (self.size(), self.tree.root());
            replay(&mut self.store, size, &root, &mut |index, _, event| again.apply(index, event))
                .with_context(|| "the monitor's own copy changed while it ran; start it again")?;
            self.fold = again;
        }
        Ok(serde_json::from_str(&self.fold.answers().summary)?)
    }
}

/// An alarm: what is wrong, and the evidence file.
#[derive(Debug)]
pub struct Alarm {
    pub message: String,
    pub evidence: PathBuf,
}

impl std::fmt::Display for Alarm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ALARM: {}\nevidence: {}", self.message, self.evidence.display())
    }
}

impl std::error::Error for Alarm {}

fn alarm(dir: &MonitorDir, message: String, notes: &[(&str, &str)]) -> anyhow::Error {
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ");
    let evidence = dir.path.join(format!("evidence-{stamp}.txt"));
    let mut text = format!("# corridor monitor: {message}\n# Each note below is as the log served it, signed with its key: check them with any C2SP signed-note verifier.\n");
    for (what, n) in notes {
        text.push_str(&format!("\n## {what}\n{n}"));
    }
    if let Err(e) = std::fs::write(&evidence, text) {
        return anyhow::anyhow!("ALARM: {message} (and the evidence could not be written to {}: {e})", evidence.display());
    }
    Alarm { message, evidence }.into()
}

/// What `follow` was asked to do.
pub struct Follow {
    /// The server's base URL (`http://HOST:PORT`): tiles under `/log/`,
    /// the public summary under `/api/v1/public/summary`.
    pub url: String,
    pub log_key: String,
    /// A monitor token: post a cosignature of each accepted checkpoint.
    pub token: Option<String>,
    pub once: bool,
    pub interval: Duration,
}

/// What one round found.
#[derive(Debug)]
pub struct Round {
    pub size: u64,
    pub new_entries: u64,
    pub summary_compared: bool,
    pub cosigned: bool,
}

/// `corridor monitor follow`: rounds until an alarm (or one with `once`).
pub fn follow(dir: &MonitorDir, f: &Follow) -> Result<()> {
    let log = Verifier::from_vkey(f.log_key.trim()).with_context(|| format!("{:?} is not the log's verifier key (name+hash+base64, from `corridor log key`)", f.log_key))?;
    let mut copy = Copy::open(dir, &log)?;
    let base = f.url.trim_end_matches('/').to_string();
    let source = Source::new(&format!("{base}/log"), None)?;
    let signer = if f.token.is_some() { Some(dir.signer()?) } else { None };
    println!("following {base} (log {}) into {}; the copy holds {} entries", log.name(), dir.path.display(), copy.size());
    loop {
        let t = Instant::now();
        let r = match round(dir, &mut copy, &log, &base, &source, f.token.as_deref(), signer.as_ref()) {
            Ok(r) => r,
            // An unreachable server is not an alarm: a monitor that runs on
            // says so and tries again next round.
            Err(e) if !f.once && e.downcast_ref::<Alarm>().is_none() => {
                eprintln!("warning: this round failed ({e:#}); trying again in {} s", f.interval.as_secs());
                std::thread::sleep(f.interval);
                // What the failed round held in memory is dropped: the copy
                // on disk is what was checked and kept.
                copy = Copy::open(dir, &log)?;
                continue;
            }
            Err(e) => return Err(e),
        };
        println!(
            "size {}: {} new entries checked in {:.1} s; figures {}; {}",
            r.size,
            r.new_entries,
            t.elapsed().as_secs_f64(),
            if r.summary_compared { "match the server's public summary" } else { "not compared (the server's summary is at another size; next round)" },
            if r.cosigned { "cosigned" } else { "not cosigned" }
        );
        if f.once {
            return Ok(());
        }
        std::thread::sleep(f.interval);
    }
}

fn round(dir: &MonitorDir, copy: &mut Copy, log: &Verifier, base: &str, source: &Source, token: Option<&str>, signer: Option<&Signer>) -> Result<Round> {
    let mut compared = false;
    let mut new_entries = 0;
    // The server's summary may lag its checkpoint by a moment, or run
    // ahead of it: a few tries to find both at one size.
    for attempt in 0..5 {
        let note_text = source.checkpoint()?;
        let cp = open_checkpoint(&note_text, log)?;
        new_entries += advance(dir, copy, source, &note_text, &cp)?;
        let summary = fetch_summary(base)?;
        let at = summary.get("size").and_then(serde_json::Value::as_u64).unwrap_or(u64::MAX);
        if at == copy.size() {
            let ours = copy.summary()?;
            if ours != summary {
                let diff = first_difference(&ours, &summary);
                let last = copy.last.as_ref().map_or(String::new(), |c| c.note.clone());
                return Err(alarm(
                    dir,
                    format!("the server's public summary at size {at} disagrees with the figures recomputed from the log ({diff})"),
                    &[("the checkpoint the figures were recomputed at", &last), ("the server's public summary", &serde_json::to_string_pretty(&summary)?)],
                ));
            }
            compared = true;
            break;
        }
        if attempt < 4 {
            std::thread::sleep(Duration::from_millis(300));
        }
    }
    let mut cosigned = false;
    if let (Some(token), Some(signer), Some(last)) = (token, signer, &copy.last) {
        cosigned = post_cosignature(base, token, signer, &last.note)?;
    }
    Ok(Round { size: copy.size(), new_entries, summary_compared: compared, cosigned })
}

/// Checks and keeps the checkpoint `cp` (signed note `note_text`); returns
/// how many new entries it brought.
fn advance(dir: &MonitorDir, copy: &mut Copy, source: &Source, note_text: &str, cp: &Checkpoint) -> Result<u64> {
    let old_size = copy.size();
    let last_note = copy.last.as_ref().map_or(String::new(), |c| c.note.clone());
    let old_root = copy.tree.root();
    let evidence = |why: String| alarm(dir, why, &[("the checkpoint seen before", &last_note), ("the checkpoint served now", note_text)]);
    let b64 = |h: &Hash| B64.encode(h);
    if cp.size < old_size {
        return Err(evidence(format!(
            "the log served a checkpoint of size {} (root {}) after one of size {old_size} (root {}): the log shrank, its history was replaced (a fork)",
            cp.size,
            b64(&cp.root),
            b64(&old_root)
        )));
    }
    if cp.size == old_size {
        if cp.root != old_root {
            return Err(evidence(format!("two checkpoints of size {old_size} with different roots ({} before, {} now): a fork", b64(&old_root), b64(&cp.root))));
        }
        return Ok(0);
    }
    // The new entries, and the ones already held in the first bundle,
    // which must be unchanged.
    let mut fresh: Vec<(u64, Vec<u8>)> = Vec::new();
    let mut changed = None;
    let mut mine_altered = None;
    let held: Vec<StoredEntry> = copy.store.read((old_size / TILE_WIDTH) * TILE_WIDTH, old_size)?;
    source.entries(old_size, cp.size, &mut |i, leaf| {
        if i < old_size {
            let mine = &held[(i - (old_size / TILE_WIDTH) * TILE_WIDTH) as usize];
            // Our own copy's bytes, held to the leaf this monitor checked.
            if mine_altered.is_none() && copy.tree.leaf(i) != Some(leaf_hash(&mine.leaf)) {
                mine_altered = Some(i);
            }
            if mine.leaf != leaf && changed.is_none() {
                changed = Some(i);
            }
        } else {
            fresh.push((i, leaf.to_vec()));
        }
        Ok(())
    })?;
    if let Some(i) = mine_altered {
        bail!("entry {i} of the monitor's own copy in {} changed on this machine since it was checked: start a new --data-dir", dir.path.display());
    }
    if let Some(i) = changed {
        return Err(evidence(format!("entry {i}, already checked at size {old_size}, is served with other bytes now: the log's history was rewritten")));
    }
    let mut hashes = Vec::with_capacity(fresh.len());
    for (i, leaf) in &fresh {
        match copy.accept(*i, leaf) {
            Ok(h) => hashes.push(h),
            Err(e) => return Err(evidence(format!("the checkpoint of size {} covers an entry the model refuses: {e}", cp.size))),
        }
    }
    let root = copy.tree.root();
    if root != cp.root {
        return Err(evidence(format!(
            "the checkpoint of size {} has root {}, but the {old_size} entries checked before plus the {} served now hash to {}: this checkpoint is not consistent with the checkpoint of size {old_size} (root {}) seen before, or the entries served are not the ones signed",
            cp.size,
            b64(&cp.root),
            cp.size - old_size,
            b64(&root),
            b64(&old_root)
        )));
    }
    if old_size > 0 {
        let proof = copy.tree.consistency_proof(old_size, cp.size)?;
        verify_consistency(old_size, cp.size, &old_root, &cp.root, &proof).map_err(|e| evidence(format!("consistency from {old_size} to {}: {e}", cp.size)))?;
    }
    // Kept only now, entries and checkpoint in one transaction.
    let entries: Vec<StoredEntry> = fresh.into_iter().zip(hashes).map(|((index, leaf), hash)| StoredEntry { index, leaf, hash }).collect();
    let stored = StoredCheckpoint { size: cp.size, note: note_text.to_string() };
    copy.store.append(&entries, Some(&stored))?;
    copy.last = Some(stored);
    Ok(entries.len() as u64)
}

fn fetch_summary(base: &str) -> Result<serde_json::Value> {
    let url = format!("{base}/api/v1/public/summary");
    let r = reqwest::blocking::Client::new().get(&url).timeout(Duration::from_secs(30)).send().with_context(|| format!("cannot reach {url}"))?;
    if !r.status().is_success() {
        bail!("{url} answered {}", r.status());
    }
    r.json().with_context(|| format!("{url} is not JSON"))
}

/// Where two JSON values first differ (a path and both values).
fn first_difference(a: &serde_json::Value, b: &serde_json::Value) -> String {
    fn walk(a: &serde_json::Value, b: &serde_json::Value, at: &str) -> Option<String> {
        use serde_json::Value::{Array, Object};
        match (a, b) {
            (Object(x), Object(y)) => x.keys().chain(y.keys()).find_map(|k| {
                let path = format!("{at}.{k}");
                match (x.get(k), y.get(k)) {
                    (Some(p), Some(q)) => walk(p, q, &path),
                    (p, q) => Some(format!("{path}: log {} vs server {}", p.map_or("nothing".into(), ToString::to_string), q.map_or("nothing".into(), ToString::to_string))),
                }
            }),
            (Array(x), Array(y)) if x.len() == y.len() => x.iter().zip(y).enumerate().find_map(|(i, (p, q))| walk(p, q, &format!("{at}[{i}]"))),
            _ if a == b => None,
            _ => Some(format!("{at}: log {a} vs server {b}")),
        }
    }
    walk(a, b, "summary").unwrap_or_else(|| "no difference found".into())
}

/// Countersigns `note_text` and posts it; true if the server kept it (or
/// had it already).
fn post_cosignature(base: &str, token: &str, signer: &Signer, note_text: &str) -> Result<bool> {
    let body = note::cosign(note_text, signer).context("cannot countersign the checkpoint")?;
    let url = format!("{base}/api/v1/checkpoint/cosign");
    let r = reqwest::blocking::Client::new().post(&url).bearer_auth(token).body(body).timeout(Duration::from_secs(30)).send().with_context(|| format!("cannot reach {url}"))?;
    let status = r.status();
    if status.is_success() {
        return Ok(true);
    }
    eprintln!("warning: the server did not keep the cosignature ({status}: {})", r.text().unwrap_or_default());
    Ok(false)
}
