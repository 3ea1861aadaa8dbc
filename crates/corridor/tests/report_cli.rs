//! `corridor report` is honest about its source: it checks the log against
//! its signed checkpoints as `verify` does, names the checkpoint it
//! verified against, and refuses a log with a changed entry (naming the
//! entry, writing nothing). The other readers that fold the log (notices,
//! token creation) refuse it too; `token create --checkpoint` refuses a
//! checkpoint the log does not declare.

mod common;

use std::path::{Path, PathBuf};

use common::{fails, ok};

/// The demo's log, with its WAL folded into the SQLite file so that a copy
/// of the directory is the whole log.
fn demo(tmp: &Path) -> PathBuf {
    let dir = tmp.join("d");
    ok(&dir, &["demo"]);
    rusqlite::Connection::open(dir.join("ledger.sqlite")).unwrap().execute_batch("PRAGMA wal_checkpoint(TRUNCATE);").unwrap();
    dir
}

/// A copy of data directory `from` (config, key, SQLite file).
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for f in ["corridor.json", "log.key", "ledger.sqlite"] {
        std::fs::copy(from.join(f), to.join(f)).unwrap();
    }
}

/// Changes one head count of a stored passage (its leaf bytes only, as an
/// editor of the database would); returns the entry's index.
fn change_a_passage(db: &Path, nth: i64, fix_hash: bool) -> u64 {
    let c = rusqlite::Connection::open(db).unwrap();
    let (idx, leaf): (i64, Vec<u8>) = c
        .query_row("SELECT idx, leaf FROM entries WHERE CAST(leaf AS TEXT) LIKE '%\"passage\"%\"women\":%' ORDER BY idx LIMIT 1 OFFSET ?1", [nth], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap();
    let text = String::from_utf8(leaf).unwrap();
    let at = text.find("\"women\":").unwrap() + "\"women\":".len();
    let n: u64 = text[at..].chars().take_while(char::is_ascii_digit).collect::<String>().parse().unwrap();
    let digits = n.to_string().len();
    let changed = format!("{}{}{}", &text[..at], n + 10, &text[at + digits..]);
    c.execute("UPDATE entries SET leaf = ?1 WHERE idx = ?2", rusqlite::params![changed.as_bytes(), idx]).unwrap();
    if fix_hash {
        let mut h = vec![0u8];
        h.extend_from_slice(changed.as_bytes());
        let hash = <sha2::Sha256 as sha2::Digest>::digest(&h).to_vec();
        c.execute("UPDATE entries SET hash = ?1 WHERE idx = ?2", rusqlite::params![hash, idx]).unwrap();
    }
    idx as u64
}

#[test]
fn report_names_the_checkpoint_it_verified_and_refuses_a_changed_log() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = demo(tmp.path());
    let cp = ok(&dir, &["log", "checkpoint"]);
    let size: u64 = cp.lines().nth(1).unwrap().parse().unwrap();
    let root = cp.lines().nth(2).unwrap();
    let key = ok(&dir, &["log", "key"]).trim().to_string();

    let report = ok(&dir, &["report"]);
    assert!(report.contains(&format!("verified against its signed checkpoint of size {size} with root `{root}` (key `{key}`)")), "{report}");
    assert!(report.contains("31,284"), "{report}");
    // With the key published for the log, and as HXL (the check said on stderr).
    let out = common::corridor(&dir, &["report", "--format", "hxl", "--key", &key]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!("verified {size} entries against the signed checkpoint of size {size}")));
    // A key that is not the log's: refused.
    let other = tmp.path().join("other");
    ok(&other, &["init", "--origin", "corridor.invalid/other"]);
    let other_key = ok(&other, &["log", "key"]).trim().to_string();
    let err = fails(&dir, &["report", "--key", &other_key]);
    assert!(err.contains("no report was made") && err.contains("fails verification"), "{err}");

    // One passage's count raised by 10 in a copy of the log.
    let bad = tmp.path().join("bad");
    copy_dir(&dir, &bad);
    let index = change_a_passage(&bad.join("ledger.sqlite"), 100, false);
    let out_file = tmp.path().join("sitrep.md");
    for format in ["md", "html", "hxl"] {
        let err = fails(&bad, &["report", "--format", format, "--out", out_file.to_str().unwrap()]);
        assert!(err.contains("no report was made") && err.contains("fails verification"), "{format}: {err}");
        assert!(err.contains(&format!("entry {index}: its bytes do not hash")), "{format}: the entry is named: {err}");
        assert!(err.contains("corridor verify"), "{format}: says what to do: {err}");
        assert!(!out_file.exists(), "{format}: nothing is written from a log that fails");
    }
    // The stored hash changed too: the signed checkpoints no longer match.
    let bad2 = tmp.path().join("bad2");
    copy_dir(&dir, &bad2);
    change_a_passage(&bad2.join("ledger.sqlite"), 100, true);
    let err = fails(&bad2, &["report"]);
    assert!(err.contains(&format!("an entry in 0..{size} was altered")) || err.contains("does not match the stored entries"), "{err}");
    // The other readers of the log refuse it too.
    let err = fails(&bad, &["notice", "--format", "sms", "--at", "2016-12-15T04:30:00Z"]);
    assert!(err.contains(&format!("entry {index}:")), "{err}");
    let err = fails(&bad, &["token", "create", "--role", "checkpoint", "--checkpoint", "cp1-ramouseh-bridge"]);
    assert!(err.contains(&format!("entry {index}:")), "{err}");

    // The original still reports, to a file.
    ok(&dir, &["report", "--out", out_file.to_str().unwrap()]);
    assert!(std::fs::read_to_string(&out_file).unwrap().contains(&format!("signed checkpoint of size {size}")));
}

#[test]
fn checkpoint_tokens_are_only_for_declared_checkpoints() {
    let tmp = tempfile::tempdir().unwrap();
    // A new log declares no checkpoints yet.
    let empty = tmp.path().join("empty");
    ok(&empty, &["init", "--origin", "corridor.invalid/new-op"]);
    let err = fails(&empty, &["token", "create", "--role", "checkpoint", "--checkpoint", "cp1"]);
    assert!(err.contains("declares no checkpoints yet") && err.contains("corridor apply"), "{err}");

    let dir = tmp.path().join("d");
    ok(&dir, &["demo"]);
    let err = fails(&dir, &["token", "create", "--role", "checkpoint", "--checkpoint", "nope"]);
    assert!(err.contains("no checkpoint \"nope\""), "{err}");
    assert!(err.contains("cp1-ramouseh-bridge (corridor ramouseh-rashidin4)"), "the message lists the declared checkpoints: {err}");
    let err = fails(&dir, &["token", "create", "--role", "checkpoint"]);
    assert!(err.contains("needs --checkpoint ID"), "{err}");
    assert!(ok(&dir, &["token", "list"]).trim().is_empty(), "no token was made");
    let secret = ok(&dir, &["token", "create", "--role", "checkpoint", "--checkpoint", "cp1-ramouseh-bridge"]);
    assert!(secret.starts_with("crd_checkpoint_"), "{secret}");
    assert!(ok(&dir, &["token", "list"]).contains("cp1-ramouseh-bridge"));
}
