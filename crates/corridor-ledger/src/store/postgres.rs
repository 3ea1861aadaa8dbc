//! PostgreSQL backend: the same three tables in a schema of their own.
//!
//! Blocking, on the sync `postgres` client: the ledger calls the store from
//! its own writer thread. Every `append` is one transaction committed with
//! `synchronous_commit = on` (set explicitly for the session, whatever the
//! server's or role's default), so it returns only once the commit is
//! flushed to the server's WAL. Entries go in with `COPY ... FROM STDIN
//! BINARY`: no bind-parameter limit, so a 10,000+ entry batch is one
//! statement.
//!
//! Connections are plain TCP or Unix socket, without TLS. A lost connection
//! is not re-established: the call fails and the ledger stops writing.
//!
//! Several servers may share one schema (a cluster): exactly one of them,
//! the sequencer, writes. It holds the lease row `sequencer` (see
//! [`PostgresStore::acquire`]) with a fencing epoch: every append it makes
//! first renews the lease of ITS epoch in the same transaction, so once
//! another server has taken the lease (a new epoch) the old one can never
//! commit again, even after a pause or a network partition.
//!
//! Layout (version [`SCHEMA_VERSION`], recorded as `schema_version` in
//! `meta`), in schema `<schema>`:
//!
//! ```sql
//! entries(idx BIGINT PRIMARY KEY, leaf BYTEA NOT NULL, hash BYTEA NOT NULL)
//! checkpoints(size BIGINT PRIMARY KEY, note TEXT NOT NULL)
//! meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)
//! sequencer(id INT PRIMARY KEY CHECK (id = 1), epoch BIGINT, holder TEXT,
//!           url TEXT, backend_pid INT, lease_until TIMESTAMPTZ)      -- v2
//! cosignatures(size BIGINT, key_name TEXT, key_hash BIGINT, line TEXT,
//!              PRIMARY KEY (size, key_name, key_hash))               -- v2
//! ```
//!
//! Event ids live in the leaf bytes only: the ledger enforces their
//! uniqueness (see [`Store`]).

use std::time::Duration;

use postgres::binary_copy::BinaryCopyInWriter;
use postgres::config::Host;
use postgres::types::Type;
use postgres::{Client, Config, NoTls, Row, Statement};

use super::sqlite::{check_contiguous, reserved_meta_key};
use super::{Store, StoreError, StoredCheckpoint, StoredEntry};

/// The layout this build writes and reads. A schema with a larger version
/// was written by a newer Corridor and is refused.
pub const SCHEMA_VERSION: u32 = 2;

/// Rows fetched per round trip by [`Store::scan`].
pub const SCAN_CHUNK: i32 = 10_000;

const SCHEMA_VERSION_KEY: &str = "schema_version";

const CREATE_TABLES: &str = "
CREATE TABLE IF NOT EXISTS entries (
    idx      BIGINT PRIMARY KEY,
    leaf     BYTEA NOT NULL,
    hash     BYTEA NOT NULL
);
CREATE TABLE IF NOT EXISTS checkpoints (
    size BIGINT PRIMARY KEY,
    note TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sequencer (
    id          INT PRIMARY KEY CHECK (id = 1),
    epoch       BIGINT NOT NULL,
    holder      TEXT NOT NULL,
    url         TEXT NOT NULL,
    backend_pid INT NOT NULL,
    lease_until TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS cosignatures (
    size     BIGINT NOT NULL,
    key_name TEXT NOT NULL,
    key_hash BIGINT NOT NULL,
    line     TEXT NOT NULL,
    PRIMARY KEY (size, key_name, key_hash)
);
";

/// Takes the lease when it is free: never held, run out, or held by a
/// session that no longer exists (its process died: no need to wait for
/// the lease to run out). Answers the new epoch, or no row.
const ACQUIRE: &str = "
INSERT INTO sequencer AS s (id, epoch, holder, url, backend_pid, lease_until)
VALUES (1, 1, $1, $2, pg_backend_pid(), clock_timestamp() + $3::float8 * interval '1 millisecond')
ON CONFLICT (id) DO UPDATE SET
    epoch = s.epoch + 1, holder = EXCLUDED.holder, url = EXCLUDED.url,
    backend_pid = EXCLUDED.backend_pid, lease_until = EXCLUDED.lease_until
WHERE s.lease_until < clock_timestamp()
   OR NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = s.backend_pid)
RETURNING epoch";

/// Extends the lease of epoch $1 by $2 ms: the fence. No row means another
/// server holds the lease now.
const RENEW: &str =
    "UPDATE sequencer SET lease_until = clock_timestamp() + $2::float8 * interval '1 millisecond' WHERE id = 1 AND epoch = $1";

const SELECT_SEQUENCER: &str = "
SELECT epoch, holder, url,
       lease_until > clock_timestamp() AND EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = s.backend_pid)
FROM sequencer s WHERE id = 1";

/// Who sequences a log shared by several servers, as the lease row says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sequencer {
    /// The fencing epoch: incremented at every change of holder.
    pub epoch: i64,
    /// Who holds (or last held) the lease, e.g. `http://10.0.0.2:8080 pid 4242`.
    pub holder: String,
    /// Where the holder takes writes (its advertised URL).
    pub url: String,
    /// The lease is current and its holder's session exists.
    pub live: bool,
}

/// The lease row of the schema `client` uses, if any server ever held it.
pub fn sequencer(client: &mut Client) -> Result<Option<Sequencer>, StoreError> {
    Ok(client.query_opt(SELECT_SEQUENCER, &[])?.map(|r| Sequencer { epoch: r.get(0), holder: r.get(1), url: r.get(2), live: r.get(3) }))
}

const SELECT_META: &str = "SELECT value FROM meta WHERE key = $1";
const UPSERT_META: &str =
    "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value";

/// A PostgreSQL failure in one line: the server's own message, with
/// its SQLSTATE, detail and hint, or the client's error and its causes.
pub(crate) fn describe(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let mut s = format!("{}: {} (SQLSTATE {})", db.severity(), db.message(), db.code().code());
        if let Some(detail) = db.detail() {
            s.push_str(&format!("; {detail}"));
        }
        if let Some(hint) = db.hint() {
            s.push_str(&format!("; hint: {hint}"));
        }
        return s;
    }
    let mut s = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        s.push_str(&format!(": {c}"));
        cause = c.source();
    }
    s
}

/// Checks a schema name before it is put into SQL: 1 to 63 characters, each
/// a lowercase ASCII letter, a digit or `_`.
pub fn validate_schema_name(schema: &str) -> Result<(), StoreError> {
    let ok_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_';
    if schema.is_empty() || schema.len() > 63 || !schema.chars().all(ok_char) {
        return Err(StoreError::Unusable(format!(
            "invalid PostgreSQL schema name {schema:?}: use 1 to 63 characters, each a lowercase letter \
             a-z, a digit or _ (for example \"corridor\")"
        )));
    }
    Ok(())
}

/// Opens a client for `url`, with errors that never echo the URL (it may
/// hold a password).
fn connect_client(url: &str) -> Result<Client, StoreError> {
    let mut config: Config = url.parse().map_err(|e: postgres::Error| {
        StoreError::Unusable(format!(
            "invalid PostgreSQL URL: {} (expected e.g. postgres://USER@HOST:5432/DATABASE)",
            describe(&e)
        ))
    })?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(15));
    }
    if config.get_application_name().is_none() {
        config.application_name("corridor");
    }
    config.connect(NoTls).map_err(|e| {
        StoreError::Unusable(format!(
            "cannot connect to PostgreSQL at {}: {} (is the server running and reachable, and are the \
             user, password and database in the URL right? TLS is not supported)",
            target(&config),
            describe(&e)
        ))
    })
}

/// `user@host:port/database`, without the password.
fn target(config: &Config) -> String {
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let host = match h {
                Host::Tcp(name) => name.clone(),
                #[cfg(unix)]
                Host::Unix(path) => path.display().to_string(),
            };
            match config.get_ports().get(i).or(config.get_ports().first()) {
                Some(port) => format!("{host}:{port}"),
                None => host,
            }
        })
        .collect();
    format!(
        "{}@{}/{}",
        config.get_user().unwrap_or("(default user)"),
        if hosts.is_empty() { "(default host)".to_string() } else { hosts.join(",") },
        config.get_dbname().unwrap_or("(default database)")
    )
}

/// The prepared statements of one session.
struct Statements {
    next_index: Statement,
    insert_checkpoint: Statement,
    select_range: Statement,
    latest_checkpoint: Statement,
    checkpoints: Statement,
    select_meta: Statement,
    upsert_meta: Statement,
}

/// The log's storage in one PostgreSQL schema.
pub struct PostgresStore {
    client: Client,
    schema: String,
    stmts: Statements,
    /// The lease this store holds: its epoch and length.
    fence: Option<(i64, Duration)>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore").field("schema", &self.schema).finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Connects to `url` and uses the tables in `schema` (only `[a-z0-9_]`,
    /// at most 63 characters), creating the schema and tables if missing.
    /// Refuses a schema written by a newer Corridor.
    pub fn connect(url: &str, schema: &str) -> Result<PostgresStore, StoreError> {
        Self::open(url, schema, true)
    }

    /// Like [`PostgresStore::connect`], for a log that must exist already:
    /// a schema that holds no log (dropped, or another database) is
    /// refused, never made anew, so that a server or command never starts
    /// a second, empty history in its place.
    pub fn connect_existing(url: &str, schema: &str) -> Result<PostgresStore, StoreError> {
        Self::open(url, schema, false)
    }

    fn open(url: &str, schema: &str, create: bool) -> Result<PostgresStore, StoreError> {
        let mut client = session_with(url, schema, create)?;
        let stmts = Statements {
            next_index: client.prepare("SELECT COALESCE(MAX(idx) + 1, 0) FROM entries")?,
            insert_checkpoint: client.prepare_typed(
                "INSERT INTO checkpoints (size, note) VALUES ($1, $2)",
                &[Type::INT8, Type::TEXT],
            )?,
            select_range: client.prepare_typed(
                "SELECT idx, leaf, hash FROM entries WHERE idx >= $1 AND idx < $2 ORDER BY idx",
                &[Type::INT8, Type::INT8],
            )?,
            latest_checkpoint: client.prepare("SELECT size, note FROM checkpoints ORDER BY size DESC LIMIT 1")?,
            checkpoints: client.prepare("SELECT size, note FROM checkpoints ORDER BY size")?,
            select_meta: client.prepare_typed(SELECT_META, &[Type::TEXT])?,
            upsert_meta: client.prepare_typed(UPSERT_META, &[Type::TEXT, Type::TEXT])?,
        };
        Ok(PostgresStore { client, schema: schema.to_string(), stmts, fence: None })
    }

    /// Tries to become the log's only writer for `lease` (renewed by every
    /// append and by [`Store::renew`]): answers the fencing epoch taken, or
    /// who holds the lease now. Once taken, every append renews the lease of
    /// this epoch first and fails with [`StoreError::Fenced`] if another
    /// server has taken it meanwhile.
    ///
    /// The session is set so that a paused or cut-off holder cannot keep
    /// the lease row locked: a transaction idle longer than the lease is
    /// ended by the server, a statement by `statement_timeout`, and a dead
    /// peer is found by TCP keepalives.
    pub fn acquire(&mut self, holder: &str, url: &str, lease: Duration) -> Result<Result<i64, Sequencer>, StoreError> {
        let ms = lease.as_millis().max(1) as u64;
        self.client.batch_execute(&format!(
            "SET idle_in_transaction_session_timeout = {ms}; SET statement_timeout = {}; \
             SET tcp_keepalives_idle = 5; SET tcp_keepalives_interval = 2; SET tcp_keepalives_count = 3",
            ms.max(5_000)
        ))?;
        let mut tx = self.client.transaction()?;
        // Wait at most a second behind the holder's commit (it renews the row).
        tx.batch_execute("SET LOCAL lock_timeout = 1000")?;
        let taken = match tx.query_opt(ACQUIRE, &[&holder, &url, &(ms as f64)]) {
            Ok(row) => row.map(|r| r.get::<_, i64>(0)),
            Err(e) if e.code() == Some(&postgres::error::SqlState::LOCK_NOT_AVAILABLE) => None,
            Err(e) => return Err(e.into()),
        };
        tx.commit()?;
        match taken {
            Some(epoch) => {
                self.fence = Some((epoch, lease));
                Ok(Ok(epoch))
            }
            None => Ok(Err(sequencer(&mut self.client)?.unwrap_or(Sequencer { epoch: 0, holder: String::new(), url: String::new(), live: true }))),
        }
    }

    /// The lease row: who sequences this log.
    pub fn sequencer(&mut self) -> Result<Option<Sequencer>, StoreError> {
        sequencer(&mut self.client)
    }

    /// The epoch of the lease this store holds, if it holds one.
    pub fn epoch(&self) -> Option<i64> {
        self.fence.map(|(e, _)| e)
    }

    /// The schema this store uses.
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// This session's durability setting, as the server reports it:
    /// `synchronous_commit=on` once connected.
    pub fn durability_settings(&mut self) -> Result<String, StoreError> {
        let row = self.client.query_one("SELECT current_setting('synchronous_commit')", &[])?;
        Ok(format!("synchronous_commit={}", row.get::<_, String>(0)))
    }
}

/// A connection to `url` whose unqualified names mean `schema` (created
/// with the log's tables if missing), for state kept beside the log, such
/// as the server's tokens. Refuses what [`PostgresStore::connect`] refuses.
pub fn session(url: &str, schema: &str) -> Result<Client, StoreError> {
    session_with(url, schema, true)
}

/// [`session`] for a log that must exist already (see
/// [`PostgresStore::connect_existing`]).
pub fn session_existing(url: &str, schema: &str) -> Result<Client, StoreError> {
    session_with(url, schema, false)
}

fn session_with(url: &str, schema: &str, create: bool) -> Result<Client, StoreError> {
    validate_schema_name(schema)?;
    let mut client = connect_client(url)?;
    // Session settings, outside any transaction so they persist: commits
    // wait for the WAL flush; unqualified names mean this schema.
    client.batch_execute(&format!("SET synchronous_commit = on; SET search_path = \"{schema}\""))?;
    ensure_schema(&mut client, schema, create)?;
    Ok(client)
}

/// Drops `schema` and everything in it (for tests and `corridor` tooling
/// that discards a log). Nothing happens if it does not exist.
pub fn drop_schema(url: &str, schema: &str) -> Result<(), StoreError> {
    validate_schema_name(schema)?;
    let mut client = connect_client(url)?;
    client.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))?;
    Ok(())
}

fn ensure_schema(client: &mut Client, schema: &str, create: bool) -> Result<(), StoreError> {
    let mut tx = client.transaction()?;
    // Serialize concurrent set-ups of the same schema (CREATE ... IF NOT
    // EXISTS races otherwise).
    tx.execute("SELECT pg_advisory_xact_lock(hashtext('corridor schema ' || $1::text))", &[&schema])?;
    let has_meta: bool = tx
        .query_one("SELECT to_regclass(format('%I.meta', $1::text)) IS NOT NULL", &[&schema])?
        .get(0);
    if !has_meta && !create {
        return Err(StoreError::NoLog(schema.to_string()));
    }
    tx.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))?;
    if has_meta {
        let version: Option<String> =
            tx.query_opt(SELECT_META, &[&SCHEMA_VERSION_KEY])?.map(|r| r.get::<_, String>(0));
        match version.as_deref().map(str::parse::<u32>) {
            Some(Ok(v)) if v > SCHEMA_VERSION => {
                return Err(StoreError::Unusable(format!(
                    "PostgreSQL schema {schema:?} has schema version {v}, newer than the version \
                     {SCHEMA_VERSION} this corridor understands: it was written by a newer corridor; \
                     upgrade corridor to use it"
                )));
            }
            Some(Ok(v)) if v == SCHEMA_VERSION => return Ok(()), // up to date: nothing to write
            Some(Ok(_)) | None => {}
            Some(Err(_)) => {
                return Err(StoreError::Corrupt(format!(
                    "PostgreSQL schema {schema:?} records a schema_version that is not a number"
                )))
            }
        }
    }
    tx.batch_execute(CREATE_TABLES)?;
    // Version 1 lacked the sequencer and cosignatures tables, which
    // CREATE ... IF NOT EXISTS adds: nothing else changed.
    tx.execute(UPSERT_META, &[&SCHEMA_VERSION_KEY, &SCHEMA_VERSION.to_string()])?;
    tx.commit()?;
    Ok(())
}

fn to_sql_index(what: &str, n: u64) -> Result<i64, StoreError> {
    i64::try_from(n).map_err(|_| StoreError::Corrupt(format!("{what} {n} is too large to store (limit {})", i64::MAX)))
}

fn entry_from_row(row: &Row) -> Result<StoredEntry, StoreError> {
    let index: i64 = row.try_get(0)?;
    let hash: &[u8] = row.try_get(2)?;
    let hash = <[u8; 32]>::try_from(hash).map_err(|_| {
        StoreError::Corrupt(format!("entry {index}: its stored leaf hash is {} bytes long, not 32", hash.len()))
    })?;
    let index = u64::try_from(index).map_err(|_| StoreError::Corrupt(format!("an entry has a negative index {index}")))?;
    Ok(StoredEntry { index, leaf: row.try_get(1)?, hash })
}

fn checkpoint_from_row(row: &Row) -> Result<StoredCheckpoint, StoreError> {
    let size: i64 = row.try_get(0)?;
    let size = u64::try_from(size).map_err(|_| StoreError::Corrupt(format!("a checkpoint has a negative size {size}")))?;
    Ok(StoredCheckpoint { size, note: row.try_get(1)? })
}

fn next_index(rows: &[Row]) -> Result<u64, StoreError> {
    let next: i64 = rows.first().ok_or_else(|| StoreError::Corrupt("MAX(idx) returned no row".into()))?.try_get(0)?;
    Ok(next as u64)
}

impl Store for PostgresStore {
    fn append(&mut self, entries: &[StoredEntry], checkpoint: Option<&StoredCheckpoint>) -> Result<(), StoreError> {
        if entries.is_empty() && checkpoint.is_none() {
            return Ok(());
        }
        // Dropping `tx` on any error below rolls the whole call back.
        let mut tx = self.client.transaction()?;
        if let Some((epoch, lease)) = self.fence {
            // First: holds the lease row until the commit, so no one takes
            // the lease while this transaction may still commit.
            if tx.execute(RENEW, &[&epoch, &(lease.as_millis() as f64)])? == 0 {
                return Err(StoreError::Fenced(epoch));
            }
        }
        if !entries.is_empty() {
            // The next index, read inside the transaction (an index seek). A
            // concurrent writer that read the same value fails on the
            // primary key when the first one commits.
            let next = next_index(&tx.query(&self.stmts.next_index, &[])?)?;
            check_contiguous(next, entries)?;
            let sink = tx.copy_in("COPY entries (idx, leaf, hash) FROM STDIN (FORMAT binary)")?;
            let mut writer = BinaryCopyInWriter::new(sink, &[Type::INT8, Type::BYTEA, Type::BYTEA]);
            for e in entries {
                let idx = to_sql_index("index", e.index)?;
                let hash: &[u8] = &e.hash;
                writer.write(&[&idx, &e.leaf, &hash])?;
            }
            writer.finish()?;
        }
        if let Some(cp) = checkpoint {
            tx.execute(&self.stmts.insert_checkpoint, &[&to_sql_index("checkpoint size", cp.size)?, &cp.note])?;
        }
        // synchronous_commit = on: returns once the commit record is flushed.
        tx.commit()?;
        Ok(())
    }

    fn len(&mut self) -> Result<u64, StoreError> {
        // Appends are contiguous from 0, so MAX(idx) + 1 is the count, read
        // from the primary key index instead of counting every row.
        next_index(&self.client.query(&self.stmts.next_index, &[])?)
    }

    fn read(&mut self, start: u64, end: u64) -> Result<Vec<StoredEntry>, StoreError> {
        if start >= end {
            return Ok(Vec::new());
        }
        let clamp = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        let rows = self.client.query(&self.stmts.select_range, &[&clamp(start), &clamp(end)])?;
        rows.iter().map(entry_from_row).collect()
    }

    fn scan(&mut self, f: &mut dyn FnMut(StoredEntry) -> Result<(), StoreError>) -> Result<(), StoreError> {
        // A portal (server-side cursor) read SCAN_CHUNK rows at a time, all
        // from the one snapshot of this read-only transaction.
        let mut tx = self.client.build_transaction().read_only(true).start()?;
        let portal = tx.bind("SELECT idx, leaf, hash FROM entries ORDER BY idx", &[])?;
        loop {
            let rows = tx.query_portal(&portal, SCAN_CHUNK)?;
            let n = rows.len();
            for row in rows {
                f(entry_from_row(&row)?)?;
            }
            if n < SCAN_CHUNK as usize {
                break;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn latest_checkpoint(&mut self) -> Result<Option<StoredCheckpoint>, StoreError> {
        match self.client.query_opt(&self.stmts.latest_checkpoint, &[])? {
            Some(row) => Ok(Some(checkpoint_from_row(&row)?)),
            None => Ok(None),
        }
    }

    fn checkpoints(&mut self) -> Result<Vec<StoredCheckpoint>, StoreError> {
        let rows = self.client.query(&self.stmts.checkpoints, &[])?;
        rows.iter().map(checkpoint_from_row).collect()
    }

    fn get_meta(&mut self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self.client.query_opt(&self.stmts.select_meta, &[&key])?.map(|r| r.get::<_, String>(0)))
    }

    fn set_meta(&mut self, key: &str, value: &str) -> Result<(), StoreError> {
        reserved_meta_key(key)?;
        self.client.execute(&self.stmts.upsert_meta, &[&key, &value])?;
        Ok(())
    }

    fn renew_every(&self) -> Option<Duration> {
        self.fence.map(|(_, lease)| lease / 3)
    }

    fn renew(&mut self) -> Result<(), StoreError> {
        if let Some((epoch, lease)) = self.fence {
            if self.client.execute(RENEW, &[&epoch, &(lease.as_millis() as f64)])? == 0 {
                return Err(StoreError::Fenced(epoch));
            }
        }
        Ok(())
    }
}

impl Drop for PostgresStore {
    /// Gives the lease up at once (a CLI command ending, a server stopping),
    /// rather than leaving it to run out.
    fn drop(&mut self) {
        if let Some((epoch, _)) = self.fence {
            let _ = self.client.execute("UPDATE sequencer SET lease_until = '-infinity' WHERE id = 1 AND epoch = $1", &[&epoch]);
        }
    }
}

/// Cosignatures of a log's checkpoints, kept in its schema and shared by
/// its servers: `(size, key name, key hash)` to the signature line.
/// Answers whether the line was new.
pub fn keep_cosignature(client: &mut Client, size: u64, key_name: &str, key_hash: u32, line: &str) -> Result<bool, StoreError> {
    let n = client.execute(
        "INSERT INTO cosignatures (size, key_name, key_hash, line) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        &[&to_sql_index("checkpoint size", size)?, &key_name, &i64::from(key_hash), &line],
    )?;
    Ok(n == 1)
}

/// The cosignature lines kept for the checkpoint of `size`, by key.
pub fn cosignatures(client: &mut Client, size: u64) -> Result<Vec<(String, u32, String)>, StoreError> {
    let rows = client.query("SELECT key_name, key_hash, line FROM cosignatures WHERE size = $1 ORDER BY key_name, key_hash", &[&to_sql_index("checkpoint size", size)?])?;
    Ok(rows.iter().map(|r| (r.get(0), r.get::<_, i64>(1) as u32, r.get(2))).collect())
}
