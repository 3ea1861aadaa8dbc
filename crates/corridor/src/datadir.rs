//! A data directory: the log's signing key, which storage backend holds the
//! log, and a lock so that only one process writes it at a time.
//!
//! Layout of `DIR`:
//! `DIR`, when `init` makes it, is readable by its owner only (0700), and
//! so are the files `init` creates (0600): the ledger holds every vehicle and convoy
//! record, the config may hold a database password, the key signs the log.
//!
//! - `corridor.json`: the log's origin and backend (SQLite file or PostgreSQL URL + schema);
//! - `log.key`: the signing key, C2SP `PRIVATE+KEY+…` form, mode 0600; a key
//!   others can read is refused (as ssh refuses one);
//! - `ledger.sqlite` (+ WAL files): the log, when the backend is SQLite;
//! - `lock`: held (advisory lock) by the process writing the log;
//! - `signed-checkpoint.txt`: the latest checkpoint this key signed, kept
//!   outside the store: a log smaller than it, or with another root at its
//!   size (a deleted or replaced ledger), is refused rather than continued
//!   as a second history under the same key;
//! - `map.cnet`: the operation's prepared road network, whose SHA-256 the
//!   log's `operation_declared` event names ([`MAP_FILE`]). Every command
//!   that draws or routes on the operation's map reads it through
//!   [`DataDir::operation_map`], which refuses a missing file or one whose
//!   hash differs from the declared one.

use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use corridor_ledger::note::Signer;
use corridor_ledger::store::postgres::PostgresStore;
use corridor_ledger::store::sqlite::SqliteStore;
use corridor_ledger::store::Store;
use corridor_ledger::Ledger;
use corridor_geo::{netfile, PreparedNetwork};
use corridor_model::Operation;
use serde::{Deserialize, Serialize};

const CONFIG: &str = "corridor.json";
const KEY: &str = "log.key";
/// The latest checkpoint this key signed, kept beside it (fork safety).
pub const SIGNED: &str = "signed-checkpoint.txt";
/// The operation's map in the data directory.
pub const MAP_FILE: &str = "map.cnet";

/// SHA-256 (hex) of bytes: how the log names a map file.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Backend {
    Sqlite { file: String },
    Postgres { url: String, schema: String },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Config {
    pub origin: String,
    pub backend: Backend,
}

/// The writer lock is held by another process (a running `corridor serve`,
/// or another command appending): `DataDir::ledger` fails with this, so a
/// caller can offer another way to write (e.g. through the server's API).
#[derive(Debug)]
pub struct Locked {
    pub path: PathBuf,
    /// Who holds the log's sequencer lease, for a PostgreSQL log.
    pub holder: Option<String>,
}

impl std::fmt::Display for Locked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.holder {
            None => write!(f, "another corridor process is writing the log in {} (a running `corridor serve`?); stop it first", self.path.display()),
            Some(h) => write!(f, "another corridor process sequences the log of {} in PostgreSQL ({h}); stop it first, or write through its server", self.path.display()),
        }
    }
}

/// How long a PostgreSQL writer's lease lasts without renewal: a server
/// that stops renewing (paused, cut off) is replaced after this long; one
/// whose process died, at once.
pub const DEFAULT_LEASE: std::time::Duration = std::time::Duration::from_secs(3);

/// Who a lease holder is, as others see it: `WHAT pid N on HOST`.
pub fn holder_name(what: &str) -> String {
    let host = fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_string()).unwrap_or_else(|_| "this host".into());
    format!("{what} pid {} on {host}", std::process::id())
}

impl std::error::Error for Locked {}

pub struct DataDir {
    pub path: PathBuf,
    pub config: Config,
    _lock: Option<File>,
}

impl DataDir {
    /// Creates a new data directory with a fresh signing key.
    pub fn init(path: &Path, origin: Option<String>, database_url: Option<String>, pg_schema: &str) -> Result<DataDir> {
        if path.join(CONFIG).exists() {
            bail!("{} already holds a Corridor log (found {CONFIG}); use another --data-dir", path.display());
        }
        private_dir(path)?;
        let origin = origin.unwrap_or_else(|| format!("corridor.invalid/log-{:08x}", rand::random::<u32>()));
        let signer = Signer::generate(&origin).with_context(|| format!("cannot make a key named {origin:?}"))?;
        let backend = match database_url {
            Some(url) => Backend::Postgres { url, schema: pg_schema.to_string() },
            None => Backend::Sqlite { file: "ledger.sqlite".into() },
        };
        if let Backend::Sqlite { file } = &backend {
            // SQLite gives its WAL and shared-memory files the mode of the database file.
            write_private(&path.join(file), "")?;
        }
        let config = Config { origin, backend };
        write_private(&path.join(KEY), &signer.to_skey())?;
        let dir = DataDir { path: path.to_path_buf(), config, _lock: None };
        // Create the store before the config, so that a bad URL leaves no
        // half-made log behind.
        if let Err(e) = dir.open_store(true) {
            let _ = fs::remove_file(path.join(KEY));
            if let Backend::Sqlite { file } = &dir.config.backend {
                let _ = fs::remove_file(path.join(file));
            }
            return Err(e);
        }
        write_private(&path.join(CONFIG), serde_json::to_string_pretty(&dir.config)?.as_str())?;
        // The empty tree is signed now: a new log verifies from the start.
        let mut dir = dir;
        drop(dir.ledger().context("cannot open the new log")?);
        dir._lock = None;
        Ok(dir)
    }

    /// A data directory for one more server of an existing PostgreSQL log
    /// (`url`, `schema`), signing with `key_file` (the log's `log.key`,
    /// copied here readable by its owner only). Refuses a key that is not
    /// the log's, and a schema that holds no log.
    pub fn join(path: &Path, key_file: &Path, url: String, schema: &str) -> Result<DataDir> {
        if path.join(CONFIG).exists() {
            bail!("{} already holds a Corridor log (found {CONFIG}); use another --data-dir", path.display());
        }
        let skey = fs::read_to_string(key_file).with_context(|| format!("cannot read the key file {}", key_file.display()))?;
        let signer = Signer::from_skey(skey.trim()).with_context(|| format!("{} is not a signing key (give the log's log.key)", key_file.display()))?;
        let no_log = || anyhow::anyhow!("PostgreSQL schema {schema:?} holds no log yet: create it with `corridor init --database-url URL --pg-schema {schema}`, then join it");
        let mut store = match PostgresStore::connect_existing(&url, schema) {
            Err(corridor_ledger::store::StoreError::NoLog(_)) => return Err(no_log()),
            other => other.with_context(|| format!("cannot open PostgreSQL schema {schema:?}"))?,
        };
        let origin = store.get_meta("origin")?.ok_or_else(no_log)?;
        if origin != signer.name() {
            bail!("the key in {} is for log {:?}, but schema {schema:?} holds log {origin:?}: give that log's log.key", key_file.display(), signer.name());
        }
        if let Some(vkey) = store.get_meta(corridor_ledger::VERIFIER_KEY)? {
            if vkey != signer.verifier().to_vkey() {
                bail!("the key in {} is named like log {origin:?} but is not its key (the log's verifier key is {vkey}): give that log's log.key", key_file.display());
            }
        }
        drop(store);
        private_dir(path)?;
        write_private(&path.join(KEY), &signer.to_skey())?;
        let config = Config { origin, backend: Backend::Postgres { url, schema: schema.to_string() } };
        write_private(&path.join(CONFIG), serde_json::to_string_pretty(&config)?.as_str())?;
        Ok(DataDir { path: path.to_path_buf(), config, _lock: None })
    }

    /// Opens an existing data directory (without locking it).
    pub fn open(path: &Path) -> Result<DataDir> {
        let file = path.join(CONFIG);
        let text = fs::read_to_string(&file).map_err(|e| {
            anyhow::anyhow!(
                "no Corridor log in {} ({}: {e}); create one with `corridor init --data-dir {}`",
                path.display(),
                file.display(),
                path.display()
            )
        })?;
        let config: Config = serde_json::from_str(&text).with_context(|| format!("{} is not a valid Corridor config", file.display()))?;
        Ok(DataDir { path: path.to_path_buf(), config, _lock: None })
    }

    /// Opens the data directory, creating it first if it does not exist.
    pub fn open_or_init(path: &Path, origin: Option<String>) -> Result<DataDir> {
        if path.join(CONFIG).exists() {
            Self::open(path)
        } else {
            Self::init(path, origin, None, "corridor")
        }
    }

    pub fn signer(&self) -> Result<Signer> {
        let file = self.path.join(KEY);
        let skey = read_private(&file, "the log's signing key")?;
        Signer::from_skey(skey.trim()).with_context(|| format!("{} is not a valid signing key", file.display()))
    }

    /// Where the operation's map is kept.
    pub fn map_path(&self) -> PathBuf {
        self.path.join(MAP_FILE)
    }

    /// Keeps `bytes` (a prepared network) as the operation's map, replacing
    /// the file atomically; returns its SHA-256 (hex).
    pub fn install_map(&self, bytes: &[u8]) -> Result<String> {
        let dest = self.map_path();
        let tmp = self.path.join(format!("{MAP_FILE}.tmp"));
        fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
        File::open(&tmp).and_then(|f| f.sync_all()).with_context(|| format!("cannot sync {}", tmp.display()))?;
        fs::rename(&tmp, &dest).with_context(|| format!("cannot write {}", dest.display()))?;
        Ok(sha256_hex(bytes))
    }

    /// The operation's map: `DATA_DIR/map.cnet`, checked against the
    /// SHA-256 the log declares for it. A missing file, a file with another
    /// hash or one that does not parse is refused, saying what to do.
    pub fn operation_map(&self, op: &Operation) -> Result<PreparedNetwork> {
        let path = self.map_path();
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
                "{} is missing, but the log declares operation {:?} on map {:?} (SHA-256 {}): copy the .cnet file the operation was declared with to {} (`corridor apply` keeps it there)",
                path.display(),
                op.operation,
                op.map.name,
                op.map.sha256,
                path.display()
            ),
            Err(e) => return Err(e).with_context(|| format!("cannot read the operation's map {}", path.display())),
        };
        check_map(&bytes, &path, op, &format!("restore the file the operation was declared with to {}", path.display()))
    }

    /// A map file given on the command line (`--map FILE`) for a log that
    /// declares an operation: refused unless its SHA-256 is the declared one.
    pub fn declared_map_file(&self, file: &Path, op: &Operation) -> Result<PreparedNetwork> {
        let bytes = fs::read(file).with_context(|| format!("cannot read {}; make one with `corridor import MAP.osm.pbf --out {}`", file.display(), file.display()))?;
        check_map(&bytes, file, op, &format!("give the file the operation was declared with, or drop --map to use {}", self.map_path().display()))
    }

    /// A new connection to the log's storage. A PostgreSQL schema that
    /// holds no log (dropped since) is refused, not made anew.
    pub fn store(&self) -> Result<Box<dyn Store>> {
        self.open_store(false)
    }

    fn open_store(&self, create: bool) -> Result<Box<dyn Store>> {
        Ok(match &self.config.backend {
            Backend::Sqlite { file } => {
                let p = self.path.join(file);
                Box::new(SqliteStore::open(&p).with_context(|| format!("cannot open {}", p.display()))?)
            }
            Backend::Postgres { url, schema } => Box::new(
                if create { PostgresStore::connect(url, schema) } else { PostgresStore::connect_existing(url, schema) }
                    .with_context(|| format!("cannot open PostgreSQL schema {schema:?}"))?,
            ),
        })
    }

    /// The API tokens, kept beside the log (see `corridor_server::tokens`).
    pub fn tokens(&self) -> corridor_server::TokenStore {
        match &self.config.backend {
            Backend::Sqlite { .. } => corridor_server::TokenStore::open(&self.path),
            Backend::Postgres { url, schema } => corridor_server::TokenStore::postgres(&self.path, url, schema),
        }
    }

    /// Takes the writer lock and opens the ledger.
    pub fn ledger(&mut self) -> Result<Ledger> {
        self.ledger_folding(&mut |_, _| {})
    }

    /// [`DataDir::ledger`], calling `on_event` with each entry as the
    /// opening walk checks it (see [`Ledger::open_folding`]).
    pub fn ledger_folding(&mut self, on_event: &mut dyn FnMut(u64, &corridor_model::Event)) -> Result<Ledger> {
        self.lock()?;
        let writer = match &self.config.backend {
            Backend::Sqlite { .. } => self.store()?,
            Backend::Postgres { .. } => {
                // A holder whose process just ended may keep its database
                // session a moment longer (killed, not dropped): retry for
                // up to a second before saying the log is held.
                let mut tries = 0;
                loop {
                    match self.leased_store(&holder_name("corridor"), "", DEFAULT_LEASE)? {
                        Ok(store) => break Box::new(store),
                        Err(_) if tries < 10 => {
                            tries += 1;
                            std::thread::sleep(std::time::Duration::from_millis(100));
                        }
                        Err(s) => return Err(Locked { path: self.path.clone(), holder: Some(s.holder) }.into()),
                    }
                }
            }
        };
        let ledger = Ledger::open_folding(writer, self.store()?, self.signer()?, on_event)?;
        ledger.remember_signed(&self.path.join(SIGNED))?;
        Ok(ledger)
    }

    /// A connection to a PostgreSQL log that holds its writer's lease for
    /// `holder` (reachable at `url`), or who holds it now.
    pub fn leased_store(&self, holder: &str, url: &str, lease: std::time::Duration) -> Result<std::result::Result<PostgresStore, corridor_ledger::store::postgres::Sequencer>> {
        let Backend::Postgres { url: db, schema } = &self.config.backend else { bail!("only a PostgreSQL log has a writer's lease") };
        let mut store = PostgresStore::connect_existing(db, schema).with_context(|| format!("cannot open PostgreSQL schema {schema:?}"))?;
        Ok(store.acquire(holder, url, lease).context("cannot take the log's writer lease")?.map(|_| store))
    }

    /// Opens the ledger to read only, as a server of a cluster that does not
    /// sequence (yet): see `corridor serve --advertise`.
    pub fn follower(&self) -> Result<Ledger> {
        self.follower_folding(&mut |_, _| {})
    }

    /// [`DataDir::follower`], calling `on_event` as [`DataDir::ledger_folding`] does.
    pub fn follower_folding(&self, on_event: &mut dyn FnMut(u64, &corridor_model::Event)) -> Result<Ledger> {
        let ledger = Ledger::open_follower_folding(self.store()?, self.signer()?, on_event)?;
        ledger.remember_signed(&self.path.join(SIGNED))?;
        Ok(ledger)
    }

    /// Takes the data directory's own lock (one process per directory).
    pub fn lock(&mut self) -> Result<()> {
        if self._lock.is_none() {
            let p = self.path.join("lock");
            let f = OpenOptions::new().create(true).truncate(false).write(true).open(&p).with_context(|| format!("cannot open {}", p.display()))?;
            match f.try_lock() {
                Ok(()) => {}
                Err(fs::TryLockError::WouldBlock) => return Err(Locked { path: self.path.clone(), holder: None }.into()),
                Err(fs::TryLockError::Error(e)) => return Err(e).context("cannot lock the data directory"),
            }
            self._lock = Some(f);
        }
        Ok(())
    }
}

/// `bytes` (read from `path`) as a prepared network, if their SHA-256 is
/// the one `op` declares; `restore` says what to do when it is not.
fn check_map(bytes: &[u8], path: &Path, op: &Operation, restore: &str) -> Result<PreparedNetwork> {
    let got = sha256_hex(bytes);
    if !got.eq_ignore_ascii_case(&op.map.sha256) {
        bail!(
            "{} has SHA-256 {got} but the log declares {} for map {:?} of operation {:?}: {restore}; a different map needs a new operation (a new log, `corridor init`)",
            path.display(),
            op.map.sha256,
            op.map.name,
            op.operation
        );
    }
    netfile::from_bytes(bytes, &path.display().to_string()).with_context(|| format!("the operation's map {} has the declared SHA-256 but cannot be read", path.display()))
}

/// Creates `path` (and its parents), readable by their owner only (0700);
/// a directory that exists already is left as it is.
pub fn private_dir(path: &Path) -> Result<()> {
    if path.is_dir() {
        return Ok(());
    }
    let mut b = fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(path).with_context(|| format!("cannot create the directory {}", path.display()))
}

/// Reads a secret (`what`: a signing key), refusing a file that its group
/// or others can read, as ssh refuses such a key.
pub fn read_private(path: &Path, what: &str) -> Result<String> {
    let text = fs::read_to_string(path).with_context(|| format!("cannot read {what} {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(path)?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            bail!(
                "{} holds {what} but others can read it (mode {mode:03o}): make it private with `chmod 600 {}`; if anyone else may have copied it, it is no longer secret",
                path.display(),
                path.display()
            );
        }
    }
    Ok(text)
}

/// Writes a new text file (with a final newline) readable by its owner
/// only (0600), synced.
pub fn write_private(path: &Path, text: &str) -> Result<()> {
    write_private_bytes(path, if text.is_empty() { String::new() } else { format!("{text}\n") }.as_bytes())
}

/// Creates a new file readable by its owner only (0600); an existing file
/// is not overwritten.
pub fn create_private(path: &Path) -> Result<fs::File> {
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path).with_context(|| format!("cannot create {}", path.display()))
}

/// Writes a new file readable by its owner only (0600), synced; an
/// existing file is not overwritten.
pub fn write_private_bytes(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut f = create_private(path)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(())
}
