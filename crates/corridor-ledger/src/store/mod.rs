//! Durable storage behind the ledger: one trait, two backends.
//!
//! Only the ledger talks to a [`Store`]; everything else reads through the
//! ledger. A store holds the log's entries (exact leaf bytes, their leaf hash,
//! the event id), the signed checkpoints the ledger wrote, and a little
//! metadata (the log's origin name). A store does no hashing and checks
//! little: it keeps what it is given, durably, and hands it back. See
//! [`Store`] for what it does and does not enforce.

pub mod memory;
pub mod postgres;
pub mod sqlite;

use crate::merkle::Hash;

/// One log entry as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEntry {
    /// 0-based position in the log.
    pub index: u64,
    /// The exact leaf bytes (canonical JSON of the event): what is hashed.
    pub leaf: Vec<u8>,
    /// RFC 6962 leaf hash of `leaf`, as computed at append time.
    pub hash: Hash,
}

/// A signed checkpoint as stored: the tree size it commits to and the full
/// C2SP signed-note text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCheckpoint {
    pub size: u64,
    pub note: String,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("SQLite storage error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// Shown with the server's own message: `postgres::Error`'s Display
    /// alone says only "db error".
    #[error("PostgreSQL storage error: {}", self::postgres::describe(.0))]
    Postgres(::postgres::Error),
    #[error("storage is inconsistent: {0}")]
    Corrupt(String),
    /// The store cannot be used as asked: it could not be opened or reached,
    /// it was written by a newer version, or a name or key is not allowed.
    /// The message says what was wrong and what to do.
    #[error("{0}")]
    Unusable(String),
    /// A PostgreSQL schema that should hold a log holds none.
    #[error("PostgreSQL schema {0:?} holds no Corridor log (was it dropped, or does the URL name another database?); nothing was created: restore the log there, or point the data directory's corridor.json at it")]
    NoLog(String),
    /// Another server took the log's sequencer lease (epoch given here was
    /// this one's): this process must not write any more.
    #[error("another server now sequences this log (this one's lease, epoch {0}, was taken over): nothing from this write was stored; it goes to the new sequencer")]
    Fenced(i64),
}

impl From<::postgres::Error> for StoreError {
    fn from(e: ::postgres::Error) -> Self {
        StoreError::Postgres(e)
    }
}

/// The storage contract. Every method is blocking; the ledger calls them from
/// its own writer thread (never from an async task).
///
/// What a store enforces: contiguous indexes (the `idx` primary key, plus a
/// check that each append continues the log from its current length without
/// gaps or repeats), one checkpoint per tree size, and all-or-nothing
/// appends (one transaction per call).
///
/// What it does not: event ids. An event's id lives in its leaf bytes only
/// (one source of truth; a separate indexed id column cut the insert rate by
/// about 3x). The ledger is the authority on ids: it keeps an in-memory id
/// index over the leaves, rebuilt on every open, so an id already in the log
/// never reaches the store a second time; `corridor verify` re-checks
/// uniqueness over the whole log.
pub trait Store: Send {
    /// Appends `entries` (whose indexes continue the log contiguously) and,
    /// if given, a checkpoint, in ONE transaction. Returns only once the
    /// transaction is durable (fsync'd / committed with synchronous commit).
    /// On error nothing of the call is stored.
    fn append(
        &mut self,
        entries: &[StoredEntry],
        checkpoint: Option<&StoredCheckpoint>,
    ) -> Result<(), StoreError>;

    /// Number of stored entries.
    fn len(&mut self) -> Result<u64, StoreError>;

    /// Whether no entry is stored.
    fn is_empty(&mut self) -> Result<bool, StoreError> {
        Ok(self.len()? == 0)
    }

    /// Entries with `start <= index < end`, in index order.
    fn read(&mut self, start: u64, end: u64) -> Result<Vec<StoredEntry>, StoreError>;

    /// Calls `f` on every entry in index order without holding them all in
    /// memory. Stops at the first error `f` returns.
    fn scan(
        &mut self,
        f: &mut dyn FnMut(StoredEntry) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>;

    /// The checkpoint with the largest size, if any.
    fn latest_checkpoint(&mut self) -> Result<Option<StoredCheckpoint>, StoreError>;

    /// Every stored checkpoint, by increasing size.
    fn checkpoints(&mut self) -> Result<Vec<StoredCheckpoint>, StoreError>;

    /// Small key/value metadata (e.g. the log origin).
    fn get_meta(&mut self, key: &str) -> Result<Option<String>, StoreError>;
    fn set_meta(&mut self, key: &str, value: &str) -> Result<(), StoreError>;

    /// How often an idle writer must call [`Store::renew`] to keep its
    /// writer's lease, if the store has one (a PostgreSQL log shared by
    /// several servers).
    fn renew_every(&self) -> Option<std::time::Duration> {
        None
    }

    /// Renews the writer's lease; fails with [`StoreError::Fenced`] once
    /// another writer holds it.
    fn renew(&mut self) -> Result<(), StoreError> {
        Ok(())
    }
}
