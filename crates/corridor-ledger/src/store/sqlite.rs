//! SQLite backend: one file, WAL journal, `synchronous=FULL`.
//!
//! Durability: in WAL mode with `synchronous=FULL` SQLite fsyncs the WAL at
//! every commit, so [`Store::append`] returns only once its transaction is on
//! disk. Each `append` call is one transaction, so the ledger's group commit
//! (many clients' events in one call) shares one fsync.
//!
//! Concurrency: one writer connection and any number of readers (the ledger
//! keeps a second connection for reads; tools may use
//! [`SqliteStore::open_read_only`]). WAL lets readers run while the writer
//! commits. A second writer process waits up to [`BUSY_TIMEOUT`] for the
//! write lock, then fails with "database is locked".
//!
//! Layout (version [`SCHEMA_VERSION`], recorded as `schema_version` in
//! `meta`):
//!
//! ```sql
//! entries(idx INTEGER PRIMARY KEY, leaf BLOB NOT NULL, hash BLOB NOT NULL)
//! checkpoints(size INTEGER PRIMARY KEY, note TEXT NOT NULL)
//! meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{params, Connection, ErrorCode, OpenFlags, OptionalExtension, Row, TransactionBehavior};

use super::{Store, StoreError, StoredCheckpoint, StoredEntry};

/// The layout this build writes and reads. A file with a larger version was
/// written by a newer Corridor and is refused.
pub const SCHEMA_VERSION: u32 = 1;

/// How long a statement waits for another connection's lock before failing.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The `meta` key holding the layout version; reserved for the store.
const SCHEMA_VERSION_KEY: &str = "schema_version";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS entries (
    idx      INTEGER PRIMARY KEY,
    leaf     BLOB NOT NULL,
    hash     BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS checkpoints (
    size INTEGER PRIMARY KEY,
    note TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
";

const NEXT_INDEX: &str = "SELECT COALESCE(MAX(idx) + 1, 0) FROM entries";
const INSERT_ENTRY: &str = "INSERT INTO entries (idx, leaf, hash) VALUES (?1, ?2, ?3)";
const INSERT_CHECKPOINT: &str = "INSERT INTO checkpoints (size, note) VALUES (?1, ?2)";
const SELECT_RANGE: &str = "SELECT idx, leaf, hash FROM entries WHERE idx >= ?1 AND idx < ?2 ORDER BY idx";
const SELECT_ALL: &str = "SELECT idx, leaf, hash FROM entries ORDER BY idx";
const SELECT_LATEST_CHECKPOINT: &str = "SELECT size, note FROM checkpoints ORDER BY size DESC LIMIT 1";
const SELECT_CHECKPOINTS: &str = "SELECT size, note FROM checkpoints ORDER BY size";
const SELECT_META: &str = "SELECT value FROM meta WHERE key = ?1";
const UPSERT_META: &str =
    "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value";

/// The log's storage in one SQLite file.
pub struct SqliteStore {
    conn: Connection,
    path: PathBuf,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").field("path", &self.path).finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens the ledger file at `path` for reading and writing, creating the
    /// file and its tables if missing. Refuses a file written by a newer
    /// Corridor (a larger `schema_version`).
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let fail = |e: rusqlite::Error| {
            StoreError::Unusable(format!("cannot open SQLite ledger at {}: {e} ({})", path.display(), open_hint(&e, path)))
        };
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(fail)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(fail)?;
        // journal_mode is stored in the file; switching a fresh file to WAL
        // takes the write lock, an existing WAL file needs no lock.
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0)).map_err(fail)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Unusable(format!(
                "cannot open SQLite ledger at {}: it cannot use write-ahead logging (journal mode stays \
                 {mode:?}); put the ledger on a local filesystem",
                path.display()
            )));
        }
        // Per connection: fsync the WAL at every commit.
        conn.pragma_update(None, "synchronous", "FULL").map_err(fail)?;
        conn.set_prepared_statement_cache_capacity(32);
        let mut store = SqliteStore { conn, path: path.to_path_buf() };
        store.ensure_schema().map_err(|e| match e {
            StoreError::Sqlite(e) => fail(e),
            other => other,
        })?;
        Ok(store)
    }

    /// Opens an existing ledger file for reading only (for tools such as
    /// `corridor verify`). Nothing is created; every write fails.
    pub fn open_read_only(path: &Path) -> Result<SqliteStore, StoreError> {
        let fail = |e: &dyn std::fmt::Display, hint: &str| {
            StoreError::Unusable(format!("cannot open SQLite ledger at {} for reading: {e} ({hint})", path.display()))
        };
        let sql_fail = |e: rusqlite::Error| match e.sqlite_error_code() {
            Some(ErrorCode::CannotOpen) => fail(&e, "does the file exist, and is it readable?"),
            _ => fail(&e, &open_hint(&e, path)),
        };
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(sql_fail)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(sql_fail)?;
        conn.set_prepared_statement_cache_capacity(32);
        let store = SqliteStore { conn, path: path.to_path_buf() };
        match store.stored_version() {
            Err(StoreError::Sqlite(e)) => Err(sql_fail(e)),
            Err(other) => Err(other),
            Ok(None) => Err(fail(&"it holds no Corridor ledger (no schema_version)", "check the path")),
            Ok(Some(v)) => {
                store.check_version(v)?;
                Ok(store)
            }
        }
    }

    /// The file this store was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// This connection's durability settings, as SQLite reports them:
    /// `journal_mode=wal synchronous=FULL` when opened with [`open`](Self::open).
    pub fn durability_settings(&self) -> Result<String, StoreError> {
        let mode: String = self.conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
        let sync: i64 = self.conn.query_row("PRAGMA synchronous", [], |r| r.get(0))?;
        let sync = match sync {
            0 => "OFF".to_string(),
            1 => "NORMAL".to_string(),
            2 => "FULL".to_string(),
            3 => "EXTRA".to_string(),
            n => n.to_string(),
        };
        Ok(format!("journal_mode={} synchronous={sync}", mode.to_ascii_lowercase()))
    }

    /// The `schema_version` recorded in the file, if it has a `meta` table
    /// holding one.
    fn stored_version(&self) -> Result<Option<u32>, StoreError> {
        let has_meta: bool = self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta')",
            [],
            |r| r.get(0),
        )?;
        if !has_meta {
            return Ok(None);
        }
        let v: Option<String> = self
            .conn
            .query_row(SELECT_META, [SCHEMA_VERSION_KEY], |r| r.get(0))
            .optional()?;
        v.map(|v| {
            v.parse::<u32>().map_err(|_| {
                StoreError::Corrupt(format!(
                    "SQLite ledger at {} records schema_version {v:?}, which is not a number",
                    self.path.display()
                ))
            })
        })
        .transpose()
    }

    fn check_version(&self, v: u32) -> Result<(), StoreError> {
        if v > SCHEMA_VERSION {
            return Err(StoreError::Unusable(format!(
                "SQLite ledger at {} has schema version {v}, newer than the version {SCHEMA_VERSION} this \
                 corridor understands: it was written by a newer corridor; upgrade corridor to use it",
                self.path.display()
            )));
        }
        Ok(())
    }

    /// Creates the tables and records the version if missing. An up-to-date
    /// file needs no write (and so no lock): opening a second connection
    /// while the writer is busy does not wait.
    fn ensure_schema(&mut self) -> Result<(), StoreError> {
        if let Some(v) = self.stored_version()? {
            self.check_version(v)?;
            if v == SCHEMA_VERSION {
                return Ok(());
            }
        }
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Re-read under the write lock: another connection may have set up
        // the file in between.
        let has_meta: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta')",
            [],
            |r| r.get(0),
        )?;
        let version: Option<String> = if has_meta {
            tx.query_row(SELECT_META, [SCHEMA_VERSION_KEY], |r| r.get(0)).optional()?
        } else {
            None
        };
        match version.as_deref().map(str::parse::<u32>) {
            Some(Ok(v)) if v > SCHEMA_VERSION => {
                drop(tx);
                return self.check_version(v);
            }
            Some(Ok(_)) | None => {}
            Some(Err(_)) => {
                return Err(StoreError::Corrupt(format!(
                    "SQLite ledger at {} records a schema_version that is not a number",
                    self.path.display()
                )))
            }
        }
        tx.execute_batch(SCHEMA)?;
        // Only version 1 exists: there is nothing to migrate yet.
        tx.execute(UPSERT_META, params![SCHEMA_VERSION_KEY, SCHEMA_VERSION.to_string()])?;
        tx.commit()?;
        Ok(())
    }
}

/// What to do about an error met while opening the ledger file at `path`.
/// Only a busy or locked database blames another process; an I/O error is
/// explained by the error writing in the file's directory gives (e.g. "No
/// space left on device"), which SQLite's "disk I/O error" hides.
fn open_hint(e: &rusqlite::Error, path: &Path) -> String {
    let io = || write_probe(path).err().map(|io| format!("writing in its directory fails: {io}; free some space or fix the file system, then start again"));
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
            "another corridor process is holding it; stop that process or wait for it to finish".into()
        }
        Some(ErrorCode::NotADatabase) => "the file is not a SQLite database; check the path".into(),
        Some(ErrorCode::DatabaseCorrupt) => "the file is damaged; restore it from a backup".into(),
        Some(ErrorCode::CannotOpen | ErrorCode::PermissionDenied | ErrorCode::ReadOnly) => {
            io().unwrap_or_else(|| "check that its directory exists and that this user may write there".into())
        }
        Some(ErrorCode::DiskFull) => io().unwrap_or_else(|| "the disk is full; free some space".into()),
        _ => io().unwrap_or_else(|| "check the disk and the file system (free space, `dmesg`) and that this user may write in its directory".into()),
    }
}

/// Writes, syncs and removes a small file next to `path`: the operating
/// system's own error when the directory cannot take a write.
fn write_probe(path: &Path) -> std::io::Result<()> {
    use std::io::Write as _;
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let probe = dir.join(format!(".corridor-write-probe-{}", std::process::id()));
    let wrote = std::fs::File::create(&probe).and_then(|mut f| f.write_all(&[0; 4096]).and_then(|()| f.sync_all()));
    let _ = std::fs::remove_file(&probe);
    wrote
}

fn to_sql_index(what: &str, n: u64) -> Result<i64, StoreError> {
    i64::try_from(n).map_err(|_| StoreError::Corrupt(format!("{what} {n} is too large to store (limit {})", i64::MAX)))
}

fn entry_from_row(row: &Row<'_>) -> Result<StoredEntry, StoreError> {
    let index: i64 = row.get(0)?;
    // Borrowed from the row: no copy of the hash before it is checked.
    let hash = row.get_ref(2)?.as_blob().map_err(|e| StoreError::Corrupt(format!("entry {index}: its stored leaf hash is not a blob ({e})")))?;
    let hash = <[u8; 32]>::try_from(hash).map_err(|_| {
        StoreError::Corrupt(format!("entry {index}: its stored leaf hash is {} bytes long, not 32", hash.len()))
    })?;
    let index = u64::try_from(index).map_err(|_| StoreError::Corrupt(format!("an entry has a negative index {index}")))?;
    Ok(StoredEntry { index, leaf: row.get(1)?, hash })
}

fn checkpoint_from_row(row: &Row<'_>) -> Result<StoredCheckpoint, StoreError> {
    let size: i64 = row.get(0)?;
    let size = u64::try_from(size).map_err(|_| StoreError::Corrupt(format!("a checkpoint has a negative size {size}")))?;
    Ok(StoredCheckpoint { size, note: row.get(1)? })
}

/// Checks that `entries` continue a log of `len` entries without gaps.
pub(crate) fn check_contiguous(len: u64, entries: &[StoredEntry]) -> Result<(), StoreError> {
    for (i, e) in entries.iter().enumerate() {
        let expected = len + i as u64;
        if e.index != expected {
            let what = if i == 0 {
                let noun = if len == 1 { "entry" } else { "entries" };
                format!("the store holds {len} {noun}, so the next must have index {len}")
            } else {
                format!("entry {i} of this append must have index {expected} (indexes must be contiguous)")
            };
            return Err(StoreError::Corrupt(format!(
                "refused an append of {} entries: entry {i} has index {}, but {what}; nothing was stored \
                 (is another process writing this log?)",
                entries.len(),
                e.index
            )));
        }
    }
    Ok(())
}

impl Store for SqliteStore {
    fn append(&mut self, entries: &[StoredEntry], checkpoint: Option<&StoredCheckpoint>) -> Result<(), StoreError> {
        if entries.is_empty() && checkpoint.is_none() {
            return Ok(());
        }
        // IMMEDIATE: take the write lock now, so the length read below cannot
        // go stale before the inserts.
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if !entries.is_empty() {
            // The next index, read inside the transaction: one B-tree seek,
            // and right even if another connection appended meanwhile.
            let next: i64 = tx.prepare_cached(NEXT_INDEX)?.query_row([], |r| r.get(0))?;
            check_contiguous(next as u64, entries)?;
            // The indexes were checked above, so no insert here can hit a
            // constraint.
            let mut insert = tx.prepare_cached(INSERT_ENTRY)?;
            for e in entries {
                insert.execute(params![to_sql_index("index", e.index)?, e.leaf, &e.hash[..]])?;
            }
        }
        if let Some(cp) = checkpoint {
            tx.prepare_cached(INSERT_CHECKPOINT)?
                .execute(params![to_sql_index("checkpoint size", cp.size)?, cp.note])
                .map_err(|err| match is_primary_key_violation(&err) {
                    true => StoreError::Corrupt(format!(
                        "refused an append: the checkpoints table already holds a checkpoint for size {}; \
                         nothing was stored",
                        cp.size
                    )),
                    false => StoreError::Sqlite(err),
                })?;
        }
        // With synchronous=FULL the commit returns after the WAL is fsync'd.
        // On any error above, dropping `tx` rolls everything back.
        tx.commit()?;
        Ok(())
    }

    fn len(&mut self) -> Result<u64, StoreError> {
        // Appends are contiguous from 0, so this is the count, at the cost
        // of one seek instead of a full count.
        let next: i64 = self.conn.prepare_cached(NEXT_INDEX)?.query_row([], |r| r.get(0))?;
        Ok(next as u64)
    }

    fn read(&mut self, start: u64, end: u64) -> Result<Vec<StoredEntry>, StoreError> {
        if start >= end {
            return Ok(Vec::new());
        }
        let clamp = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        let mut stmt = self.conn.prepare_cached(SELECT_RANGE)?;
        let mut rows = stmt.query(params![clamp(start), clamp(end)])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(entry_from_row(row)?);
        }
        Ok(out)
    }

    fn scan(&mut self, f: &mut dyn FnMut(StoredEntry) -> Result<(), StoreError>) -> Result<(), StoreError> {
        // One statement: rows come from SQLite one at a time, from one
        // consistent snapshot of the file.
        let mut stmt = self.conn.prepare_cached(SELECT_ALL)?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            f(entry_from_row(row)?)?;
        }
        Ok(())
    }

    fn latest_checkpoint(&mut self) -> Result<Option<StoredCheckpoint>, StoreError> {
        let mut stmt = self.conn.prepare_cached(SELECT_LATEST_CHECKPOINT)?;
        let mut rows = stmt.query([])?;
        match rows.next()? {
            Some(row) => Ok(Some(checkpoint_from_row(row)?)),
            None => Ok(None),
        }
    }

    fn checkpoints(&mut self) -> Result<Vec<StoredCheckpoint>, StoreError> {
        let mut stmt = self.conn.prepare_cached(SELECT_CHECKPOINTS)?;
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(checkpoint_from_row(row)?);
        }
        Ok(out)
    }

    fn get_meta(&mut self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self.conn.prepare_cached(SELECT_META)?.query_row([key], |r| r.get(0)).optional()?)
    }

    fn set_meta(&mut self, key: &str, value: &str) -> Result<(), StoreError> {
        reserved_meta_key(key)?;
        // Autocommit: one durable transaction.
        self.conn.prepare_cached(UPSERT_META)?.execute(params![key, value])?;
        Ok(())
    }
}

fn is_primary_key_violation(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error(),
        Some(rusqlite::ffi::Error { code: ErrorCode::ConstraintViolation, extended_code })
            if *extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
    )
}

/// `schema_version` belongs to the store itself.
pub(crate) fn reserved_meta_key(key: &str) -> Result<(), StoreError> {
    if key == SCHEMA_VERSION_KEY {
        return Err(StoreError::Unusable(format!(
            "the meta key {key:?} is reserved for the store's own layout version; use another key"
        )));
    }
    Ok(())
}

/// The benchmark's baseline: the same payloads written to a plain table
/// `raw(idx INTEGER PRIMARY KEY, payload BLOB NOT NULL)` in a new database
/// file at `path`, with the same durability as [`SqliteStore`] (WAL,
/// `synchronous=FULL`), `batch` rows per transaction through one prepared
/// statement. No hashing, no event ids, no checkpoints: what any
/// durable batched SQLite insert costs.
///
/// Refuses an existing `path`, so a stale file never skews a measurement.
pub fn raw_baseline_insert(path: &Path, payloads: &[Vec<u8>], batch: usize) -> Result<(), StoreError> {
    if batch == 0 {
        return Err(StoreError::Unusable("the raw SQLite baseline needs a batch size of at least 1".into()));
    }
    if path.exists() {
        return Err(StoreError::Unusable(format!(
            "the raw SQLite baseline needs a new database file, but {} already exists; remove it (and its \
             -wal and -shm files) or choose another directory",
            path.display()
        )));
    }
    let fail = |e: &dyn std::fmt::Display| {
        StoreError::Unusable(format!("cannot create the raw SQLite baseline at {}: {e}", path.display()))
    };
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let mut conn = Connection::open_with_flags(path, flags).map_err(|e| fail(&e))?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(|e| fail(&e))?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0)).map_err(|e| fail(&e))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(fail(&format!("journal mode stays {mode:?} instead of WAL; use a local filesystem")));
    }
    conn.pragma_update(None, "synchronous", "FULL").map_err(|e| fail(&e))?;
    conn.execute_batch("CREATE TABLE raw (idx INTEGER PRIMARY KEY, payload BLOB NOT NULL)")
        .map_err(|e| fail(&e))?;
    let mut idx: i64 = 0;
    for chunk in payloads.chunks(batch) {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut insert = tx.prepare_cached("INSERT INTO raw (idx, payload) VALUES (?1, ?2)")?;
            for p in chunk {
                insert.execute(params![idx, p])?;
                idx += 1;
            }
        }
        tx.commit()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 20, item 10: a full disk at start ("disk I/O error" from
    /// SQLite) was blamed on "another corridor process". Only a busy or
    /// locked database blames one; an I/O error gives the error writing in
    /// the directory gives.
    #[test]
    fn an_io_error_at_open_names_the_real_error_not_another_process() {
        let io = rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_IOERR), None);
        let dir = tempfile::tempdir().unwrap();
        let hint = open_hint(&io, &dir.path().join("ledger.sqlite"));
        assert!(!hint.contains("another"), "{hint}");
        // A directory that cannot take a write: the operating system's own words.
        let hint = open_hint(&io, &dir.path().join("gone").join("ledger.sqlite"));
        assert!(hint.contains("writing in its directory fails") && hint.contains("No such file or directory"), "{hint}");
        assert!(!hint.contains("another"), "{hint}");
        let busy = rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY), None);
        assert!(open_hint(&busy, &dir.path().join("ledger.sqlite")).contains("another corridor process"));
    }
}
