//! Messages that misled (issue 20, item 10), each through the real binary:
//! a malformed request body, token lifetimes out of range, a reader that
//! closes standard output early; and field app links checked first.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::*;

fn init(tmp: &Path, init: &[String]) -> PathBuf {
    let dir = tmp.join("d");
    let mut args = vec!["init", "--origin", "corridor.invalid/messages"];
    args.extend(init.iter().map(String::as_str));
    ok(&dir, &args);
    dir
}

fn drop_pg(init: &[String]) {
    if let [_, url, _, schema] = init {
        corridor_ledger::store::postgres::drop_schema(url, schema).expect("drop test schema");
    }
}

/// Sends `request` as is and answers the status line and body.
fn raw(s: &Served, request: &[u8]) -> (String, String) {
    let mut c = TcpStream::connect(s.base.trim_start_matches("http://")).unwrap();
    c.set_read_timeout(Some(std::time::Duration::from_secs(30))).unwrap();
    c.write_all(request).unwrap();
    let mut answer = Vec::new();
    let _ = c.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer.lines().next().unwrap_or("").to_string();
    let body = answer.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

fn chunked(token: &str, chunks: &str) -> Vec<u8> {
    format!(
        "POST /api/v1/events HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{chunks}"
    )
    .into_bytes()
}

/// A malformed chunked body was answered "413 over 1 MiB": it is a 400
/// that says the body is malformed; 413 stays for a body really over 1 MiB.
#[test]
fn a_malformed_body_is_a_400_not_413() {
    for (name, init_args) in backends("badbody") {
        let tmp = tempfile::tempdir().unwrap();
        let dir = init(tmp.path(), &init_args);
        let (secret, _) = token(&dir, &["--role", "hq"]);
        let s = Served::start(&dir, &[]);
        // "zz" is not a chunk size.
        let (status, body) = raw(&s, &chunked(&secret, "zz\r\n{}\r\n0\r\n\r\n"));
        assert!(status.contains(" 400 "), "{name}: {status}\n{body}");
        assert!(body.contains("malformed") && !body.contains("1 MiB"), "{name}: {body}");
        // A well-formed chunked body over 1 MiB is still a 413.
        let big = format!("{:x}\r\n{}\r\n0\r\n\r\n", 2 << 20, " ".repeat(2 << 20));
        let (status, body) = raw(&s, &chunked(&secret, &big));
        assert!(status.contains(" 413 "), "{name}: {status}\n{body}");
        drop(s);
        drop_pg(&init_args);
    }
}

/// `--expires-hours 1e12|inf` panicked and `NaN|0` made a token that was
/// expired when made: each is refused with the range, and nothing is stored.
#[test]
fn token_lifetimes_out_of_range_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = init(tmp.path(), &[]);
    for bad in ["1e12", "inf", "NaN", "0", "-1", "87601", "soon"] {
        let err = fails(&dir, &["token", "create", "--role", "hq", &format!("--expires-hours={bad}")]);
        assert!(!err.contains("panicked"), "{bad}: {err}");
        assert!(err.contains("out of range") || err.contains("not a number of hours"), "{bad}: {err}");
    }
    assert!(!ok(&dir, &["token", "list"]).contains("hq"), "a refused token was stored");
    token(&dir, &["--role", "hq", "--expires-hours", "0.5"]);
    token(&dir, &["--role", "hq", "--expires-hours", "87600"]);
}

/// A field app link is checked before the token exists: a bad address or
/// a QR file that would be overwritten makes no token nobody could use.
#[test]
fn field_links_are_checked_before_a_token_is_made() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = init(tmp.path(), &[]);
    let taken = tmp.path().join("taken.png");
    std::fs::write(&taken, b"someone's file").unwrap();
    for (args, says) in [
        (vec!["--link", "not a url"], "is not a URL"),
        (vec!["--link", "ftp://ops.example.org"], "not an http(s) address"),
        (vec!["--link", "https://ops.example.org", "--qr-png", taken.to_str().unwrap()], "already exists"),
        (vec!["--qr"], "--link"),
        (vec!["--link", "https://ops.example.org/?x=1#y"], "has a query or a fragment"),
        (vec!["--link", "https://ops.example.org", "--qr-png", "/nonexistent-dir/x.png"], "cannot write the QR code"),
    ] {
        let mut all = vec!["token", "create", "--role", "hq"];
        all.extend(args.iter().copied());
        let err = fails(&dir, &all);
        assert!(err.contains(says) && !err.contains("panicked"), "{args:?}: {err}");
    }
    assert_eq!(std::fs::read(&taken).unwrap(), b"someone's file");
    assert!(!ok(&dir, &["token", "list"]).contains("hq"), "a refused token was stored");
    // The app's own address is taken for the server's.
    for given in ["https://ops.example.org/field/", "https://ops.example.org/field", "https://ops.example.org/"] {
        let out = corridor(&dir, &["token", "create", "--role", "hq", "--link", given]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("field app: https://ops.example.org/field/#token="), "{given}: {err}");
    }
}

/// Runs `corridor ARGS` with its standard output closed before it writes.
fn with_stdout_closed(dir: &Path, args: &[&str]) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_corridor"))
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .env_remove("CORRIDOR_DATABASE_URL")
        .env("RUST_BACKTRACE", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    child.wait_with_output().unwrap()
}

/// `corridor demo | head` and `corridor verify --json | head` panicked on
/// the closed pipe: the command ends quietly (exit 141, or 0), with no
/// panic message and no backtrace, and the log is whole.
#[test]
fn a_closed_stdout_ends_the_command_quietly() {
    for (name, init_args) in backends("pipe") {
        let tmp = tempfile::tempdir().unwrap();
        let dir = init(tmp.path(), &init_args);
        for args in [&["demo"][..], &["verify", "--json"], &["verify"]] {
            let out = with_stdout_closed(&dir, args);
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(matches!(out.status.code(), Some(141 | 0)), "{name} {args:?}: {:?}\n{err}", out.status);
            assert!(!err.contains("panicked") && !err.contains("backtrace") && !err.contains("Broken pipe"), "{name} {args:?}: {err}");
        }
        assert!(ok(&dir, &["verify"]).contains("verified:"), "{name}");
        drop_pg(&init_args);
    }
}
