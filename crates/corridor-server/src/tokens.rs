//! API tokens: created once, shown once, stored only as SHA-256 hashes,
//! revocable, optionally expiring. They live beside the log: in
//! `DATA_DIR/tokens.json` for a SQLite log (changed under a file lock), in
//! the `tokens` table of the log's schema for a PostgreSQL log (which
//! several servers may share: each looks a token up at every request).
//!
//! Roles: `hq` writes everything; `checkpoint` writes passages and incidents
//! at its own checkpoint only; `monitor` reads everything and countersigns
//! checkpoints with its own key. The public needs no token.
//!
//! `corridor token revoke` takes effect on every running server at its next
//! request: the file is re-read when it changes, the table is asked each time.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Hq,
    Checkpoint,
    Monitor,
}

impl Role {
    pub fn parse(s: &str) -> Result<Role, TokenError> {
        match s {
            "hq" => Ok(Role::Hq),
            "checkpoint" => Ok(Role::Checkpoint),
            "monitor" => Ok(Role::Monitor),
            _ => Err(TokenError::Invalid(format!("unknown role {s:?}: use hq, checkpoint or monitor (the public needs no token)"))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Role::Hq => "hq",
            Role::Checkpoint => "checkpoint",
            Role::Monitor => "monitor",
        }
    }
}

/// A token as stored: its hash, never the token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenRecord {
    /// Short id for listing and revoking (the first 12 hex digits of the hash).
    pub id: String,
    pub sha256: String,
    pub role: Role,
    /// For a checkpoint token: the checkpoint it writes for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<String>,
    /// For a monitor token: its verifier key (`name+hash+base64`), which
    /// checks its countersignatures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    pub created: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked: Option<DateTime<Utc>>,
}

impl TokenRecord {
    /// The author name its events must carry: `hq`, the checkpoint id, or `monitor`.
    pub fn author(&self) -> &str {
        match (self.role, &self.checkpoint) {
            (Role::Checkpoint, Some(c)) => c,
            (r, _) => r.name(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("{0}")]
    Invalid(String),
    #[error("{path}: {what}")]
    File { path: PathBuf, what: String },
    #[error("the tokens in PostgreSQL: {0}")]
    Database(String),
}

/// Why a request's token was not accepted (401).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("no such token: check it was copied whole (tokens are shown once, by `corridor token create`)")]
    Unknown,
    #[error("token {0} was revoked at {1}: ask HQ for a new one")]
    Revoked(String, String),
    #[error("token {0} expired at {1}: ask HQ for a new one")]
    Expired(String, String),
    /// The tokens could not be read (503, not 401: the token may be fine).
    #[error("cannot check the token now ({0}); try again shortly")]
    Unavailable(String),
}

#[derive(Serialize, Deserialize, Default)]
struct File {
    tokens: Vec<TokenRecord>,
}

/// Where the tokens are kept.
pub struct TokenStore {
    backing: Backing,
}

enum Backing {
    File(TokenFile),
    Postgres(TokenTable),
}

/// The token file, cached and re-read when it changes.
struct TokenFile {
    path: PathBuf,
    /// The file's identity when read (inode, size, mtime: every write
    /// renames a new file into place, so the inode changes) and its tokens.
    cache: Mutex<(Option<(u64, u64, SystemTime)>, Vec<TokenRecord>)>,
}

#[cfg(unix)]
fn inode(m: &std::fs::Metadata) -> u64 {
    std::os::unix::fs::MetadataExt::ino(m)
}

#[cfg(not(unix))]
fn inode(_: &std::fs::Metadata) -> u64 {
    0
}

pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

impl TokenFile {
    fn open(path: &Path) -> TokenFile {
        TokenFile { path: path.to_path_buf(), cache: Mutex::new((None, Vec::new())) }
    }

    fn read(&self) -> Result<Vec<TokenRecord>, TokenError> {
        match std::fs::read_to_string(&self.path) {
            Ok(text) => serde_json::from_str::<File>(&text).map(|f| f.tokens).map_err(|e| TokenError::File { path: self.path.clone(), what: format!("not a token file: {e}") }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(TokenError::File { path: self.path.clone(), what: e.to_string() }),
        }
    }

    /// Reads the tokens, changes them with `f` and writes them back, holding
    /// an exclusive lock (`tokens.lock`) throughout: concurrent `token
    /// create` and `revoke` (several processes) each see the other's
    /// change, and none is lost.
    fn update<T>(&self, f: impl FnOnce(&mut Vec<TokenRecord>) -> Result<T, TokenError>) -> Result<T, TokenError> {
        let err = |e: std::io::Error| TokenError::File { path: self.path.clone(), what: e.to_string() };
        let lock = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(self.path.with_extension("lock")).map_err(err)?;
        lock.lock().map_err(err)?;
        let mut all = self.read()?;
        let out = f(&mut all)?;
        let tmp = self.path.with_extension("json.tmp");
        let text = serde_json::to_string_pretty(&File { tokens: all }).expect("tokens serialize");
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut file = opts.open(&tmp).map_err(err)?;
        std::io::Write::write_all(&mut file, text.as_bytes()).map_err(err)?;
        file.sync_all().map_err(err)?;
        std::fs::rename(&tmp, &self.path).map_err(err)?;
        drop(lock);
        Ok(out)
    }

    fn insert(&self, record: &TokenRecord) -> Result<(), TokenError> {
        self.update(|all| {
            all.push(record.clone());
            Ok(())
        })
    }

    fn revoke(&self, id: &str) -> Result<TokenRecord, TokenError> {
        self.update(|all| {
            let t = all.iter_mut().find(|t| t.id == id).ok_or_else(|| no_such(id))?;
            revoke(t)?;
            Ok(t.clone())
        })
    }
    fn find(&self, h: &str) -> Option<TokenRecord> {
        let mtime = std::fs::metadata(&self.path).ok().and_then(|m| Some((inode(&m), m.len(), m.modified().ok()?)));
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.0 != mtime || mtime.is_none() {
            if let Ok(all) = self.read() {
                *cache = (mtime, all);
            }
        }
        cache.1.iter().find(|t| t.sha256 == h).cloned()
    }
}

fn no_such(id: &str) -> TokenError {
    TokenError::Invalid(format!("no token with id {id:?}: `corridor token list` shows them"))
}

/// Marks `t` revoked now; revoking twice is an error.
fn revoke(t: &mut TokenRecord) -> Result<(), TokenError> {
    if let Some(when) = t.revoked {
        return Err(TokenError::Invalid(format!("token {} was already revoked at {}", t.id, when.to_rfc3339())));
    }
    t.revoked = Some(Utc::now());
    Ok(())
}

/// The `tokens` table of a PostgreSQL log's schema, one row per token (its
/// record as JSON). The synchronous client runs on a thread of its own for
/// each call, never on an async worker; a lost connection is reopened at
/// the next call.
struct TokenTable {
    url: String,
    schema: String,
    /// A `tokens.json` left from before the log's tokens moved here: imported
    /// (and renamed `tokens.json.imported`) at the first connection.
    legacy: PathBuf,
    client: Mutex<Option<postgres::Client>>,
}

const CREATE_TOKENS: &str = "CREATE TABLE IF NOT EXISTS tokens (id TEXT PRIMARY KEY, sha256 TEXT NOT NULL UNIQUE, record TEXT NOT NULL)";

impl TokenTable {
    /// Runs `f` with a connection, on a thread of its own.
    fn run<T: Send>(&self, f: impl FnOnce(&mut postgres::Client) -> Result<T, TokenError> + Send) -> Result<T, TokenError> {
        std::thread::scope(|s| {
            s.spawn(|| {
                let mut client = self.client.lock().unwrap_or_else(|p| p.into_inner());
                if client.as_ref().is_none_or(|c| c.is_closed()) {
                    *client = Some(self.connect()?);
                }
                let c = client.as_mut().expect("connected above");
                let out = f(c);
                if c.is_closed() {
                    *client = None;
                }
                out
            })
            .join()
            .unwrap_or_else(|_| Err(TokenError::Database("the token lookup thread failed".into())))
        })
    }

    fn connect(&self) -> Result<postgres::Client, TokenError> {
        let mut c = corridor_ledger::store::postgres::session_existing(&self.url, &self.schema).map_err(|e| TokenError::Database(e.to_string()))?;
        // Under the lock that serializes set-ups of the schema: concurrent
        // CREATE TABLE IF NOT EXISTS collide otherwise.
        let mut tx = c.transaction().map_err(db)?;
        tx.execute("SELECT pg_advisory_xact_lock(hashtext('corridor schema ' || $1::text))", &[&self.schema]).map_err(db)?;
        tx.batch_execute(CREATE_TOKENS).map_err(db)?;
        tx.commit().map_err(db)?;
        if let Some(old) = TokenFile::open(&self.legacy).read().ok().filter(|t| !t.is_empty()) {
            for t in &old {
                insert_row(&mut c, t, "ON CONFLICT DO NOTHING")?;
            }
            let _ = std::fs::rename(&self.legacy, self.legacy.with_extension("json.imported"));
        }
        Ok(c)
    }

    fn list(&self) -> Result<Vec<TokenRecord>, TokenError> {
        self.run(|c| c.query("SELECT record FROM tokens", &[]).map_err(db)?.iter().map(|r| row(r.get(0))).collect())
    }

    fn insert(&self, record: &TokenRecord) -> Result<(), TokenError> {
        self.run(|c| insert_row(c, record, ""))
    }

    fn revoke(&self, id: &str) -> Result<TokenRecord, TokenError> {
        self.run(|c| {
            let mut tx = c.transaction().map_err(db)?;
            let text: String = tx.query_opt("SELECT record FROM tokens WHERE id = $1 FOR UPDATE", &[&id]).map_err(db)?.ok_or_else(|| no_such(id))?.get(0);
            let mut t = row(text)?;
            revoke(&mut t)?;
            tx.execute("UPDATE tokens SET record = $2 WHERE id = $1", &[&id, &to_json(&t)]).map_err(db)?;
            tx.commit().map_err(db)?;
            Ok(t)
        })
    }

    fn find(&self, h: &str) -> Result<Option<TokenRecord>, TokenError> {
        self.run(|c| c.query_opt("SELECT record FROM tokens WHERE sha256 = $1", &[&h]).map_err(db)?.map(|r| row(r.get(0))).transpose())
    }
}

fn insert_row(c: &mut postgres::Client, t: &TokenRecord, conflict: &str) -> Result<(), TokenError> {
    c.execute(&format!("INSERT INTO tokens (id, sha256, record) VALUES ($1, $2, $3) {conflict}"), &[&t.id, &t.sha256, &to_json(t)]).map_err(db)?;
    Ok(())
}

fn to_json(t: &TokenRecord) -> String {
    serde_json::to_string(t).expect("a token record serializes")
}

fn row(text: String) -> Result<TokenRecord, TokenError> {
    serde_json::from_str(&text).map_err(|e| TokenError::Database(format!("a stored token is not a token record: {e}")))
}

fn db(e: postgres::Error) -> TokenError {
    TokenError::Database(corridor_ledger::store::StoreError::Postgres(e).to_string())
}

impl TokenStore {
    /// The tokens of a SQLite log in data directory `dir`: `tokens.json`
    /// (none yet is fine).
    pub fn open(dir: &Path) -> TokenStore {
        TokenStore { backing: Backing::File(TokenFile::open(&dir.join("tokens.json"))) }
    }

    /// The tokens of a PostgreSQL log (`url`, `schema`), whose data
    /// directory is `dir`. Connects at the first use.
    pub fn postgres(dir: &Path, url: &str, schema: &str) -> TokenStore {
        TokenStore {
            backing: Backing::Postgres(TokenTable { url: url.into(), schema: schema.into(), legacy: dir.join("tokens.json"), client: Mutex::new(None) }),
        }
    }

    /// Every token record (hashes only), oldest first.
    pub fn list(&self) -> Result<Vec<TokenRecord>, TokenError> {
        let mut all = match &self.backing {
            Backing::File(f) => f.read()?,
            Backing::Postgres(t) => t.list()?,
        };
        all.sort_by_key(|t| t.created);
        Ok(all)
    }

    /// A new token: returns the secret (show it once) and its record.
    pub fn create(&self, role: Role, checkpoint: Option<String>, key: Option<String>, expires: Option<DateTime<Utc>>) -> Result<(String, TokenRecord), TokenError> {
        match (role, &checkpoint, &key) {
            (Role::Checkpoint, None, _) => return Err(TokenError::Invalid("a checkpoint token needs --checkpoint ID (the checkpoint it records passages for)".into())),
            (Role::Hq | Role::Monitor, Some(_), _) => return Err(TokenError::Invalid("--checkpoint is only for checkpoint tokens".into())),
            (Role::Monitor, _, None) => return Err(TokenError::Invalid("a monitor token needs --key VKEY: the monitor's verifier key (name+hash+base64), which checks its countersignatures".into())),
            (Role::Monitor, _, Some(k)) => {
                corridor_ledger::note::Verifier::from_vkey(k).map_err(|e| TokenError::Invalid(format!("--key is not a verifier key: {e}")))?;
            }
            (_, _, Some(_)) => return Err(TokenError::Invalid("--key is only for monitor tokens".into())),
            _ => {}
        }
        let mut raw = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut raw);
        let secret = format!("crd_{}_{}", role.name(), base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw));
        let sha256 = hash(&secret);
        let record = TokenRecord { id: sha256[..12].to_string(), sha256, role, checkpoint, key, created: Utc::now(), expires, revoked: None };
        match &self.backing {
            Backing::File(f) => f.insert(&record)?,
            Backing::Postgres(t) => t.insert(&record)?,
        }
        Ok((secret, record))
    }

    /// Revokes token `id` (from `list`); revoking twice is an error.
    pub fn revoke(&self, id: &str) -> Result<TokenRecord, TokenError> {
        match &self.backing {
            Backing::File(f) => f.revoke(id),
            Backing::Postgres(t) => t.revoke(id),
        }
    }

    /// The record of `secret`, if it is valid now.
    pub fn authenticate(&self, secret: &str, now: DateTime<Utc>) -> Result<TokenRecord, AuthError> {
        let h = hash(secret);
        let t = match &self.backing {
            Backing::File(f) => f.find(&h),
            Backing::Postgres(t) => t.find(&h).map_err(|e| AuthError::Unavailable(e.to_string()))?,
        };
        let t = t.ok_or(AuthError::Unknown)?;
        if let Some(r) = t.revoked {
            return Err(AuthError::Revoked(t.id.clone(), r.to_rfc3339()));
        }
        if let Some(x) = t.expires.filter(|&x| x <= now) {
            return Err(AuthError::Expired(t.id.clone(), x.to_rfc3339()));
        }
        Ok(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_stored_as_hashes_and_can_be_revoked() {
        let dir = tempfile::tempdir().unwrap();
        let store = TokenStore::open(dir.path());
        let (secret, rec) = store.create(Role::Checkpoint, Some("cp1".into()), None, None).unwrap();
        let file = std::fs::read_to_string(dir.path().join("tokens.json")).unwrap();
        assert!(!file.contains(&secret) && file.contains(&rec.sha256));
        assert_eq!(store.authenticate(&secret, Utc::now()).unwrap().author(), "cp1");
        assert_eq!(store.authenticate("crd_hq_nope", Utc::now()), Err(AuthError::Unknown));
        store.revoke(&rec.id).unwrap();
        assert!(matches!(store.authenticate(&secret, Utc::now()), Err(AuthError::Revoked(..))));
        assert!(store.revoke(&rec.id).unwrap_err().to_string().contains("already revoked"));
        let past = Utc::now() - chrono::Duration::hours(1);
        let (s2, _) = store.create(Role::Hq, None, None, Some(past)).unwrap();
        assert!(matches!(store.authenticate(&s2, Utc::now()), Err(AuthError::Expired(..))));
        assert!(store.create(Role::Checkpoint, None, None, None).unwrap_err().to_string().contains("needs --checkpoint"));
        assert!(store.create(Role::Monitor, None, None, None).unwrap_err().to_string().contains("needs --key"));
    }
}
