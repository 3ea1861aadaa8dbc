//! One behavioural suite for every `Store` backend, plus backend-specific
//! checks (durability settings, schema versions, read-only opening, the raw
//! SQLite baseline, PostgreSQL schema names and connection errors).
//!
//! SQLite always runs. PostgreSQL runs when `DATABASE_URL` is set (e.g.
//! `postgres://postgres@127.0.0.1:5432/test`); each test uses a schema of its
//! own and drops it at the end.

use std::time::{Duration, Instant};

use corridor_ledger::store::postgres::{drop_schema, validate_schema_name, PostgresStore, SCHEMA_VERSION};
use corridor_ledger::store::sqlite::{raw_baseline_insert, SqliteStore, BUSY_TIMEOUT};
use corridor_ledger::store::{Store, StoreError, StoredCheckpoint, StoredEntry};
use sha2::{Digest, Sha256};

// ---------------------------------------------------------------------------
// Test data and the model the stores are compared against.

/// Leaf bytes that are not valid UTF-8 and hold NULs, so a backend that
/// treats them as text or C strings fails.
fn leaf(index: u64, id: &str) -> Vec<u8> {
    let mut b = format!("{{\"id\":\"{id}\",\"n\":{index}}}").into_bytes();
    b.extend_from_slice(&[0x00, 0xff, 0xfe, (index % 251) as u8, 0x00]);
    b
}

fn entry(index: u64, id: &str) -> StoredEntry {
    let leaf = leaf(index, id);
    let hash: [u8; 32] = Sha256::new().chain_update([0u8]).chain_update(&leaf).finalize().into();
    StoredEntry { index, leaf, hash }
}

fn entries(start: u64, n: u64, prefix: &str) -> Vec<StoredEntry> {
    (start..start + n).map(|i| entry(i, &format!("{prefix}-{i}"))).collect()
}

fn cp(size: u64) -> StoredCheckpoint {
    StoredCheckpoint { size, note: format!("corridor.test/log\n{size}\nROOT{size}=\n\n\u{2014} corridor.test/log SIG{size}\n") }
}

/// What a store must hold.
#[derive(Default)]
struct Model {
    log: Vec<StoredEntry>,
    checkpoints: Vec<StoredCheckpoint>,
}

impl Model {
    fn add(&mut self, es: &[StoredEntry], c: Option<&StoredCheckpoint>) {
        self.log.extend_from_slice(es);
        if let Some(c) = c {
            self.checkpoints.push(c.clone());
            self.checkpoints.sort_by_key(|c| c.size);
        }
    }
}

fn scan_all(s: &mut dyn Store) -> Vec<StoredEntry> {
    let mut out = Vec::new();
    s.scan(&mut |e| {
        out.push(e);
        Ok(())
    })
    .expect("scan");
    out
}

/// Checks every read method of `s` against `m`.
fn check(s: &mut dyn Store, m: &Model, ctx: &str) {
    let n = m.log.len() as u64;
    assert_eq!(s.len().unwrap(), n, "{ctx}: len");
    let all = s.read(0, u64::MAX).unwrap();
    assert!(all == m.log, "{ctx}: read(0, MAX) returned {} entries that differ from the {} expected", all.len(), n);
    let scanned = scan_all(s);
    assert!(scanned == m.log, "{ctx}: scan returned {} entries that differ from the {} expected", scanned.len(), n);
    assert_eq!(s.checkpoints().unwrap(), m.checkpoints, "{ctx}: checkpoints");
    assert_eq!(s.latest_checkpoint().unwrap(), m.checkpoints.last().cloned(), "{ctx}: latest checkpoint");
}

/// An append that must fail and store nothing (`check` compares `len`,
/// `read`, `scan` and the checkpoints with the model, which the refused
/// append did not change); returns its error's message.
fn refused(s: &mut dyn Store, m: &Model, es: &[StoredEntry], c: Option<&StoredCheckpoint>, ctx: &str) -> String {
    let err = match s.append(es, c) {
        Ok(()) => panic!("{ctx}: the append was accepted"),
        Err(e) => e,
    };
    check(s, m, &format!("after refused append ({ctx})"));
    err.to_string()
}

// ---------------------------------------------------------------------------
// The suite: `open` returns a new connection to the same storage each time.

fn suite(backend: &str, open: &mut dyn FnMut() -> Box<dyn Store>) {
    let mut m = Model::default();
    let mut s = open();

    // Empty.
    check(s.as_mut(), &m, "empty");
    assert!(s.read(0, 10).unwrap().is_empty());
    s.append(&[], None).expect("an empty append is a no-op");
    check(s.as_mut(), &m, "after empty append");

    // First append with its checkpoint.
    let first = vec![entry(0, "e-0"), entry(1, "e-\u{1F6D1}-1"), entry(2, "e 2 with space")];
    s.append(&first, Some(&cp(3))).unwrap();
    m.add(&first, Some(&cp(3)));
    check(s.as_mut(), &m, "after first append");
    assert_eq!(s.read(1, 2).unwrap(), vec![first[1].clone()], "read(1, 2)");
    assert_eq!(s.read(2, 100).unwrap(), vec![first[2].clone()], "read(2, 100)");
    assert!(s.read(3, 10).unwrap().is_empty(), "read past the end");
    assert!(s.read(2, 1).unwrap().is_empty(), "read with start > end");
    assert!(s.read(1, 1).unwrap().is_empty(), "read of an empty range");

    // A second connection (the ledger reads through one) sees the writes
    // and can itself append where the log ends.
    let mut r = open();
    check(r.as_mut(), &m, "second connection");
    let more = entries(3, 2, "r");
    r.append(&more, None).unwrap();
    m.add(&more, None);
    check(s.as_mut(), &m, "first connection after the second appended");
    let more = entries(5, 1, "s");
    s.append(&more, None).unwrap();
    m.add(&more, None);
    check(r.as_mut(), &m, "second connection after the first appended");
    drop(r);

    // Checkpoints: stored alone, out of size order; latest is the largest.
    s.append(&[], Some(&cp(6))).unwrap();
    m.add(&[], Some(&cp(6)));
    s.append(&[], Some(&cp(5))).unwrap();
    m.add(&[], Some(&cp(5)));
    check(s.as_mut(), &m, "after checkpoint-only appends");
    assert_eq!(s.checkpoints().unwrap().iter().map(|c| c.size).collect::<Vec<_>>(), vec![3, 5, 6]);
    assert_eq!(s.latest_checkpoint().unwrap().map(|c| c.size), Some(6));

    // Meta.
    let version = if backend == "postgres" { SCHEMA_VERSION } else { corridor_ledger::store::sqlite::SCHEMA_VERSION };
    assert_eq!(s.get_meta("origin").unwrap(), None);
    s.set_meta("origin", "corridor.test/log").unwrap();
    assert_eq!(s.get_meta("origin").unwrap().as_deref(), Some("corridor.test/log"));
    s.set_meta("origin", "other \u{e9}\n'quoted'").unwrap();
    assert_eq!(s.get_meta("origin").unwrap().as_deref(), Some("other \u{e9}\n'quoted'"));
    s.set_meta("empty", "").unwrap();
    assert_eq!(s.get_meta("empty").unwrap().as_deref(), Some(""));
    assert_eq!(s.get_meta("Origin").unwrap(), None, "meta keys are exact");
    assert_eq!(s.get_meta("schema_version").unwrap(), Some(version.to_string()));
    match s.set_meta("schema_version", "99") {
        Err(StoreError::Unusable(msg)) => assert!(msg.contains("reserved"), "{msg}"),
        other => panic!("setting schema_version: {other:?}"),
    }
    assert_eq!(s.get_meta("schema_version").unwrap(), Some(version.to_string()));

    // Refused appends store nothing, not even their checkpoint, and leave the
    // store usable.
    let n = m.log.len() as u64; // 6
    for (es, what) in [
        (entries(n + 2, 1, "ahead"), "first index past the end"),
        (entries(n - 1, 2, "behind"), "first index already used"),
        (vec![entry(n, "gap-a"), entry(n + 2, "gap-b")], "gap inside the call"),
        (vec![entry(n, "dup-a"), entry(n + 1, "dup-b"), entry(n + 1, "dup-c")], "index repeated inside the call"),
    ] {
        let msg = refused(s.as_mut(), &m, &es, Some(&cp(100)), what);
        assert!(msg.contains("index") && msg.contains("nothing was stored"), "{what}: {msg}");
    }
    match s.append(&entries(n + 1, 1, "x"), None) {
        Err(StoreError::Corrupt(msg)) => assert!(msg.contains(&format!("index {n}")), "{msg}"),
        other => panic!("non-contiguous append: {other:?}"),
    }
    // A checkpoint size already stored fails the whole call, entries too.
    let msg = refused(s.as_mut(), &m, &entries(n, 2, "cpdup"), Some(&cp(3)), "checkpoint size already stored");
    assert!(msg.contains("checkpoints"), "duplicate checkpoint: {msg}");

    // Still usable after every refusal.
    let more = entries(n, 3, "after");
    s.append(&more, Some(&cp(n + 3))).unwrap();
    m.add(&more, Some(&cp(n + 3)));
    check(s.as_mut(), &m, "after refusals");

    // Event ids are the ledger's business: the store keeps a leaf that
    // repeats one as given.
    let again = vec![entry(n + 3, "e-0"), entry(n + 4, "e-0")];
    s.append(&again, None).expect("the store does not check event ids");
    m.add(&again, None);
    check(s.as_mut(), &m, "after an append that repeats an event id");

    // scan stops at the first error of its callback and returns it as is.
    let mut calls = 0;
    let res = s.scan(&mut |e| {
        calls += 1;
        if e.index == 1 {
            Err(StoreError::Corrupt("stop\u{1}here".into()))
        } else {
            Ok(())
        }
    });
    match res {
        Err(StoreError::Corrupt(msg)) => assert_eq!(msg, "stop\u{1}here"),
        other => panic!("scan with a failing callback: {other:?}"),
    }
    assert_eq!(calls, 2, "scan went on after its callback failed");
    check(s.as_mut(), &m, "after an interrupted scan");

    // 20,000 entries in one call (one transaction).
    let start = m.log.len() as u64;
    let big = entries(start, 20_000, "big");
    let t = Instant::now();
    s.append(&big, Some(&cp(start + 20_000))).unwrap();
    eprintln!("{backend}: one append of 20,000 entries (+ checkpoint) took {:.1} ms", t.elapsed().as_secs_f64() * 1e3);
    m.add(&big, Some(&cp(start + 20_000)));
    let t = Instant::now();
    assert_eq!(scan_all(s.as_mut()).len(), m.log.len());
    eprintln!("{backend}: scan of {} entries took {:.1} ms", m.log.len(), t.elapsed().as_secs_f64() * 1e3);
    check(s.as_mut(), &m, "after the 20,000-entry append");
    let (a, b) = (start + 9_990, start + 10_010);
    assert_eq!(s.read(a, b).unwrap(), m.log[a as usize..b as usize].to_vec(), "read across 10,000");
    let last = m.log.len() as u64;
    assert_eq!(s.read(last - 3, last + 3).unwrap(), m.log[last as usize - 3..].to_vec(), "read at the end");
    // A 20,000-entry append that fails after writing all its entries (its
    // checkpoint's size is already stored: refused by the database's
    // primary key, not by a check before the inserts) stores nothing.
    let bad = entries(last, 20_000, "bigfail");
    let msg = refused(s.as_mut(), &m, &bad, Some(&cp(3)), "large append with a checkpoint size already stored");
    assert!(msg.contains("checkpoints"), "{msg}");
    // And one whose last entry breaks the index sequence stores nothing.
    let mut bad = entries(last, 20_000, "bigfail");
    bad.last_mut().unwrap().index = last + 20_000;
    let msg = refused(s.as_mut(), &m, &bad, Some(&cp(last + 20_000)), "large append with a gap at the end");
    assert!(msg.contains(&format!("index {}", last + 20_000)) && msg.contains("nothing was stored"), "{msg}");

    // Everything is there after closing and reopening.
    drop(s);
    let mut s = open();
    check(s.as_mut(), &m, "after reopening");
    assert_eq!(s.get_meta("origin").unwrap().as_deref(), Some("other \u{e9}\n'quoted'"));
    assert_eq!(s.get_meta("empty").unwrap().as_deref(), Some(""));
    let more = entries(m.log.len() as u64, 1, "reopened");
    s.append(&more, None).unwrap();
    m.add(&more, None);
    check(s.as_mut(), &m, "append after reopening");
}

// ---------------------------------------------------------------------------
// SQLite.

fn sqlite_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temporary directory")
}

#[test]
fn sqlite_suite() {
    let dir = sqlite_dir();
    let path = dir.path().join("ledger.sqlite");
    suite("sqlite", &mut || Box::new(SqliteStore::open(&path).expect("open SQLite store")));
}

#[test]
fn sqlite_is_wal_with_full_sync() {
    let dir = sqlite_dir();
    let path = dir.path().join("ledger.sqlite");
    let s = SqliteStore::open(&path).unwrap();
    assert_eq!(s.durability_settings().unwrap(), "journal_mode=wal synchronous=FULL");
    // WAL is recorded in the file itself.
    let raw = rusqlite::Connection::open(&path).unwrap();
    let mode: String = raw.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
    assert_eq!(mode, "wal");
    let tables: Vec<String> = raw
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(tables, ["checkpoints", "entries", "meta"]);
}

#[test]
fn sqlite_refuses_newer_schema() {
    let dir = sqlite_dir();
    let path = dir.path().join("ledger.sqlite");
    drop(SqliteStore::open(&path).unwrap());
    let raw = rusqlite::Connection::open(&path).unwrap();
    let v: String = raw.query_row("SELECT value FROM meta WHERE key = 'schema_version'", [], |r| r.get(0)).unwrap();
    assert_eq!(v, "1");
    raw.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'", []).unwrap();
    drop(raw);
    for (what, res) in [("open", SqliteStore::open(&path)), ("open_read_only", SqliteStore::open_read_only(&path))] {
        match res {
            Err(StoreError::Unusable(msg)) => {
                assert!(msg.contains("schema version 2") && msg.contains("newer") && msg.contains("upgrade"), "{what}: {msg}")
            }
            other => panic!("{what} of a newer schema: {other:?}"),
        }
    }
}

#[test]
fn sqlite_read_only() {
    let dir = sqlite_dir();
    let path = dir.path().join("ledger.sqlite");
    let mut w = SqliteStore::open(&path).unwrap();
    w.append(&entries(0, 3, "ro"), Some(&cp(3))).unwrap();
    let mut r = SqliteStore::open_read_only(&path).unwrap();
    assert_eq!(r.len().unwrap(), 3);
    assert_eq!(scan_all(&mut r), entries(0, 3, "ro"));
    assert_eq!(r.latest_checkpoint().unwrap(), Some(cp(3)));
    // It sees later commits of the writer.
    w.append(&entries(3, 1, "ro"), None).unwrap();
    assert_eq!(r.len().unwrap(), 4);
    assert!(r.append(&entries(4, 1, "ro"), None).is_err(), "a read-only store wrote");
    assert!(r.set_meta("origin", "x").is_err(), "a read-only store wrote meta");
    assert_eq!(w.len().unwrap(), 4);

    let missing = dir.path().join("missing.sqlite");
    match SqliteStore::open_read_only(&missing) {
        Err(StoreError::Unusable(msg)) => assert!(msg.contains("missing.sqlite") && msg.contains("for reading"), "{msg}"),
        other => panic!("open_read_only of a missing file: {other:?}"),
    }
    assert!(!missing.exists(), "open_read_only created a file");

    let other = dir.path().join("other.sqlite");
    rusqlite::Connection::open(&other).unwrap().execute_batch("CREATE TABLE t (x)").unwrap();
    match SqliteStore::open_read_only(&other) {
        Err(StoreError::Unusable(msg)) => assert!(msg.contains("no Corridor ledger"), "{msg}"),
        other => panic!("open_read_only of a foreign database: {other:?}"),
    }
}

#[test]
fn sqlite_open_errors_name_the_file() {
    let dir = sqlite_dir();
    let garbage = dir.path().join("garbage.sqlite");
    std::fs::write(&garbage, vec![b'x'; 8192]).unwrap();
    match SqliteStore::open(&garbage) {
        Err(StoreError::Unusable(msg)) => {
            assert!(msg.contains("cannot open SQLite ledger at") && msg.contains("garbage.sqlite"), "{msg}")
        }
        other => panic!("open of a file that is not SQLite: {other:?}"),
    }
    let nodir = dir.path().join("no/such/dir/ledger.sqlite");
    match SqliteStore::open(&nodir) {
        Err(StoreError::Unusable(msg)) => assert!(msg.contains("no/such/dir"), "{msg}"),
        other => panic!("open in a missing directory: {other:?}"),
    }
}

#[test]
fn sqlite_open_does_not_wait_for_a_busy_writer() {
    let dir = sqlite_dir();
    let path = dir.path().join("ledger.sqlite");
    let mut w = SqliteStore::open(&path).unwrap();
    w.append(&entries(0, 2, "busy"), None).unwrap();
    // Another connection holds the write lock with an uncommitted append.
    let other = rusqlite::Connection::open(&path).unwrap();
    other.execute_batch("BEGIN IMMEDIATE; INSERT INTO entries VALUES (2, x'00', x'00');").unwrap();
    let t = Instant::now();
    let mut r = SqliteStore::open(&path).expect("open while another connection writes");
    assert_eq!(r.len().unwrap(), 2, "saw an uncommitted row");
    assert!(t.elapsed() < BUSY_TIMEOUT / 4, "open waited {:?} for the write lock", t.elapsed());
    other.execute_batch("ROLLBACK").unwrap();
    // And the lock holder's rows never appear.
    assert_eq!(r.read(0, 10).unwrap(), entries(0, 2, "busy"), "saw a rolled-back row");
    w.append(&entries(2, 1, "busy"), None).unwrap();
    assert_eq!(r.len().unwrap(), 3);
    assert_eq!(r.read(0, 10).unwrap(), entries(0, 3, "busy"));
}

#[test]
fn sqlite_raw_baseline() {
    let dir = sqlite_dir();
    let path = dir.path().join("raw.sqlite");
    let payloads: Vec<Vec<u8>> = (0..1_000u32).map(|i| leaf(i as u64, &format!("p{i}")).repeat(1 + (i % 3) as usize)).collect();
    raw_baseline_insert(&path, &payloads, 64).unwrap();
    let raw = rusqlite::Connection::open(&path).unwrap();
    let mode: String = raw.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
    assert_eq!(mode, "wal");
    let got: Vec<(i64, Vec<u8>)> = raw
        .prepare("SELECT idx, payload FROM raw ORDER BY idx")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(got.len(), payloads.len());
    for (i, (idx, p)) in got.iter().enumerate() {
        assert_eq!(*idx, i as i64);
        assert_eq!(p, &payloads[i], "payload {i}");
    }
    match raw_baseline_insert(&path, &payloads, 64) {
        Err(StoreError::Unusable(msg)) => assert!(msg.contains("already exists"), "{msg}"),
        other => panic!("baseline over an existing file: {other:?}"),
    }
    assert!(raw_baseline_insert(&dir.path().join("zero.sqlite"), &payloads, 0).is_err(), "batch 0 accepted");
    let empty = dir.path().join("empty.sqlite");
    raw_baseline_insert(&empty, &[], 10).unwrap();
    let n: i64 = rusqlite::Connection::open(&empty).unwrap().query_row("SELECT COUNT(*) FROM raw", [], |r| r.get(0)).unwrap();
    assert_eq!(n, 0);
}

// ---------------------------------------------------------------------------
// PostgreSQL.

/// A schema of this test's own, dropped when the test ends (even by panic).
struct PgSchema {
    url: String,
    name: String,
}

impl PgSchema {
    fn new(url: &str) -> PgSchema {
        PgSchema { url: url.to_string(), name: corridor_testkit::unique_schema("store") }
    }

    fn connect(&self) -> PostgresStore {
        PostgresStore::connect(&self.url, &self.name).expect("connect to PostgreSQL")
    }

    fn exists(&self) -> bool {
        let mut c = postgres::Client::connect(&self.url, postgres::NoTls).unwrap();
        c.query_opt("SELECT 1 FROM information_schema.schemata WHERE schema_name = $1", &[&self.name])
            .unwrap()
            .is_some()
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        if let Err(e) = drop_schema(&self.url, &self.name) {
            eprintln!("could not drop test schema {}: {e}", self.name);
        }
    }
}

/// `url` with one more `key=value` query parameter.
fn with_param(url: &str, param: &str) -> String {
    format!("{url}{}{param}", if url.contains('?') { '&' } else { '?' })
}

#[test]
fn postgres_suite() {
    let Some(url) = corridor_testkit::database_url() else { return };
    let schema = PgSchema::new(&url);
    suite("postgres", &mut || Box::new(schema.connect()));
    assert!(schema.exists());
}

#[test]
fn postgres_forces_synchronous_commit() {
    let Some(url) = corridor_testkit::database_url() else { return };
    // A session whose default is synchronous_commit=off ...
    let url_off = with_param(&url, "options=-c%20synchronous_commit%3Doff");
    let mut plain = postgres::Client::connect(&url_off, postgres::NoTls).unwrap();
    let setting: String = plain.query_one("SHOW synchronous_commit", &[]).unwrap().get(0);
    assert_eq!(setting, "off", "the test URL did not turn synchronous_commit off");
    // ... is switched back on by the store.
    let schema = PgSchema::new(&url);
    let mut s = PostgresStore::connect(&url_off, &schema.name).unwrap();
    assert_eq!(s.durability_settings().unwrap(), "synchronous_commit=on");
    s.append(&entries(0, 2, "sync"), Some(&cp(2))).unwrap();
    assert_eq!(s.durability_settings().unwrap(), "synchronous_commit=on", "a transaction reset the setting");
}

#[test]
fn postgres_refuses_newer_schema() {
    let Some(url) = corridor_testkit::database_url() else { return };
    let schema = PgSchema::new(&url);
    drop(schema.connect());
    let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let newer = SCHEMA_VERSION + 1;
    let q = format!("UPDATE \"{}\".meta SET value = '{newer}' WHERE key = 'schema_version'", schema.name);
    assert_eq!(c.execute(q.as_str(), &[]).unwrap(), 1);
    match PostgresStore::connect(&url, &schema.name) {
        Err(StoreError::Unusable(msg)) => {
            assert!(msg.contains(&format!("schema version {newer}")) && msg.contains("newer") && msg.contains("upgrade"), "{msg}")
        }
        other => panic!("connect to a newer schema: {other:?}"),
    }
}

#[test]
fn postgres_schemas_are_separate_and_dropped() {
    let Some(url) = corridor_testkit::database_url() else { return };
    let (a, b) = (PgSchema::new(&url), PgSchema::new(&url));
    let mut sa = a.connect();
    let mut sb = b.connect();
    sa.append(&entries(0, 3, "a"), Some(&cp(3))).unwrap();
    sa.set_meta("origin", "a").unwrap();
    assert_eq!(sb.len().unwrap(), 0);
    assert!(sb.read(0, 10).unwrap().is_empty());
    assert_eq!(sb.get_meta("origin").unwrap(), None);
    assert_eq!(sb.latest_checkpoint().unwrap(), None);
    // The same event id and index may exist in another log.
    sb.append(&entries(0, 1, "a"), None).unwrap();
    drop((sa, sb));
    assert!(a.exists());
    drop_schema(&url, &a.name).unwrap();
    assert!(!a.exists(), "drop_schema left the schema");
    drop_schema(&url, &a.name).expect("dropping a missing schema is not an error");
    assert!(b.exists());
}

#[test]
fn postgres_errors_are_readable() {
    let Some(url) = corridor_testkit::database_url() else { return };
    let schema = PgSchema::new(&url);
    let mut s = schema.connect();
    s.append(&entries(0, 1, "r"), Some(&cp(1))).unwrap();
    // A checkpoint size already stored: the entry passes the client-side
    // index check, then the server refuses the checkpoint's primary key.
    let err = s.append(&entries(1, 1, "r"), Some(&cp(1))).unwrap_err();
    assert!(matches!(err, StoreError::Postgres(_)), "not a server error: {err:?}");
    let msg = err.to_string();
    // The server's message with its SQLSTATE and detail, not just "db error".
    assert!(
        msg.starts_with("PostgreSQL storage error: ERROR: duplicate key value violates unique constraint")
            && msg.contains("checkpoints_pkey")
            && msg.contains("SQLSTATE 23505")
            && msg.contains("Key (size)=(1) already exists"),
        "{msg}"
    );
    assert_eq!(s.len().unwrap(), 1, "the refused append stored its entry");
}

#[test]
fn postgres_scan_follows_index_order() {
    let Some(url) = corridor_testkit::database_url() else { return };
    let schema = PgSchema::new(&url);
    let mut s = schema.connect();
    let log = entries(0, 30, "order");
    s.append(&log, None).unwrap();
    // Rewritten rows move to the end of the table's heap, so a scan that
    // relied on physical order would return them last.
    let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let q = format!("UPDATE \"{}\".entries SET leaf = leaf WHERE idx < 5", schema.name);
    assert_eq!(c.execute(q.as_str(), &[]).unwrap(), 5);
    assert_eq!(scan_all(&mut s), log);
    assert_eq!(s.read(0, 30).unwrap(), log);
}

/// These need no server: names are checked before connecting, and a
/// refused connection is reported with its target.
#[test]
fn postgres_schema_names_are_validated() {
    for good in ["corridor", "t_1_2_3", "_", "9lives", &"a".repeat(63)] {
        validate_schema_name(good).unwrap_or_else(|e| panic!("{good:?} refused: {e}"));
    }
    let nowhere = "postgres://nobody@127.0.0.1:1/none";
    for bad in ["", "Corridor", "a-b", "a b", "a;drop schema public", "x\"", "caf\u{e9}", "a.b", &"a".repeat(64)] {
        for res in [PostgresStore::connect(nowhere, bad).map(|_| ()), drop_schema(nowhere, bad)] {
            match res {
                Err(StoreError::Unusable(msg)) => assert!(msg.contains("invalid PostgreSQL schema name"), "{bad:?}: {msg}"),
                other => panic!("schema name {bad:?}: {other:?}"),
            }
        }
    }
}

#[test]
fn postgres_unreachable_server_is_reported() {
    let t = Instant::now();
    match PostgresStore::connect("postgres://corridor:sekrit@127.0.0.1:1/ledger", "corridor") {
        Err(StoreError::Unusable(msg)) => {
            assert!(msg.contains("cannot connect to PostgreSQL at corridor@127.0.0.1:1/ledger"), "{msg}");
            assert!(!msg.contains("sekrit"), "the password was printed: {msg}");
        }
        other => panic!("connect to a closed port: {:?}", other.map(|_| ())),
    }
    assert!(t.elapsed() < Duration::from_secs(20));
    match PostgresStore::connect("postgres://host:notaport/db", "corridor") {
        Err(StoreError::Unusable(msg)) => assert!(msg.contains("invalid PostgreSQL URL"), "{msg}"),
        other => panic!("connect with a bad URL: {:?}", other.map(|_| ())),
    }
}

#[test]
fn postgres_version_1_schema_is_migrated() {
    let Some(url) = corridor_testkit::database_url() else { return };
    let schema = PgSchema::new(&url);
    let mut s = schema.connect();
    s.append(&entries(0, 3, "a"), Some(&cp(3))).unwrap();
    drop(s);
    // As version 1 left it: no sequencer or cosignatures table.
    let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    c.batch_execute(&format!(
        "SET search_path = \"{}\"; DROP TABLE sequencer; DROP TABLE cosignatures; UPDATE meta SET value = '1' WHERE key = 'schema_version'",
        schema.name
    ))
    .unwrap();
    let mut s = schema.connect();
    assert_eq!(s.get_meta("schema_version").unwrap(), Some(SCHEMA_VERSION.to_string()));
    assert_eq!(s.len().unwrap(), 3, "the entries are kept");
    assert!(s.acquire("a", "http://a", Duration::from_secs(3)).unwrap().is_ok(), "the lease table exists again");
}

/// The writer's lease: one holder at a time; a holder whose lease was
/// taken over can neither append nor renew, and nothing of its write is
/// stored; a holder whose session died is replaced at once.
#[test]
fn postgres_lease_fences_the_old_writer() {
    let Some(url) = corridor_testkit::database_url() else { return };
    let schema = PgSchema::new(&url);
    let lease = Duration::from_secs(30);
    let mut a = schema.connect();
    assert_eq!(a.sequencer().unwrap(), None);
    assert_eq!(a.acquire("a", "http://a", lease).unwrap(), Ok(1));
    a.append(&entries(0, 2, "a"), Some(&cp(2))).unwrap();

    let mut b = schema.connect();
    let held = b.acquire("b", "http://b", lease).unwrap().expect_err("the lease is held");
    assert_eq!((held.epoch, held.holder.as_str(), held.url.as_str(), held.live), (1, "a", "http://a", true));
    // b is not a writer: it may not write while a holds the lease... but
    // the store does not stop a non-holder (the ledger never writes without
    // the lease). What matters is that a, once replaced, cannot write.

    // The lease runs out (as if a were paused), and b takes it over.
    let mut admin = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    admin.execute(format!("UPDATE \"{}\".sequencer SET lease_until = clock_timestamp() - interval '1 second'", schema.name).as_str(), &[]).unwrap();
    assert_eq!(b.sequencer().unwrap().map(|s| s.live), Some(false));
    assert_eq!(b.acquire("b", "http://b", lease).unwrap(), Ok(2));
    assert!(matches!(a.append(&entries(2, 1, "late"), Some(&cp(3))), Err(StoreError::Fenced(1))));
    assert!(matches!(a.renew(), Err(StoreError::Fenced(1))));
    assert_eq!(b.len().unwrap(), 2, "nothing of the fenced write was stored");
    b.append(&entries(2, 1, "b"), Some(&cp(3))).unwrap();
    b.renew().unwrap();

    // b's session dies (its process was killed): c takes over at once,
    // although b's lease has not run out.
    let mut c = schema.connect();
    assert!(c.acquire("c", "http://c", lease).unwrap().is_err());
    admin.execute(format!("SELECT pg_terminate_backend(backend_pid) FROM \"{}\".sequencer", schema.name).as_str(), &[]).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let epoch = loop {
        match c.acquire("c", "http://c", lease).unwrap() {
            Ok(e) => break e,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Err(s) => panic!("the lease of a dead session was not taken over: {s:?}"),
        }
    };
    assert_eq!(epoch, 3);
    assert!(b.append(&entries(3, 1, "dead"), Some(&cp(4))).is_err());

    // A holder that ends gives the lease up at once.
    drop(c);
    let mut d = schema.connect();
    assert_eq!(d.acquire("d", "http://d", lease).unwrap(), Ok(4));
}
