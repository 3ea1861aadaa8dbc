//! The server's connections under abuse and at a stop: slow and idle
//! connections are closed after their timeouts and a real client still
//! gets in; SIGINT and SIGTERM stop `serve` within seconds while a live
//! feed is open, and the data directory is free again.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{ok, Served};

/// Whether the server has closed `s` (EOF or reset) by `deadline`.
fn closed_by(s: &mut TcpStream, deadline: Instant) -> bool {
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        s.set_read_timeout(Some(left)).unwrap();
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue, // a 408 before the close
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => return false,
            Err(_) => return true,
        }
    }
}

#[test]
fn slow_and_idle_connections_are_closed_and_a_real_client_gets_in() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ops");
    ok(&dir, &["init"]);
    let s = Served::start(&dir, &["--header-timeout", "1s", "--body-timeout", "1s", "--max-connections", "64"]);
    let addr = s.base.trim_start_matches("http://").to_string();
    let mut conns = Vec::new();
    for i in 0..90 {
        let mut c = TcpStream::connect(&addr).unwrap();
        match i % 3 {
            0 => c.write_all(b"GET /api/v1/public/summary HTTP/1.1\r\nHost: x\r\nAccept: */").unwrap(),
            1 => c.write_all(b"POST /api/v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n[{\"v\":").unwrap(),
            _ => {} // silent
        }
        conns.push(c);
    }
    // 64 are served at once; the rest wait until the first are closed.
    let deadline = Instant::now() + Duration::from_secs(8);
    let open = conns.iter_mut().map(|c| closed_by(c, deadline)).filter(|closed| !closed).count();
    assert_eq!(open, 0, "connections still open after their timeouts");
    let t = Instant::now();
    let r = reqwest::blocking::Client::new().get(s.url("/api/v1/public/summary")).timeout(Duration::from_secs(5)).send().unwrap();
    assert!(r.status().is_success() && t.elapsed() < Duration::from_secs(3), "{} after {:?}", r.status(), t.elapsed());
}

/// Sends `signal` to a server with a live feed open: it must exit within
/// seconds and leave the data directory to the next writer.
fn stops_on(signal: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ops");
    ok(&dir, &["init"]);
    let mut s = Served::start(&dir, &[]);
    let mut feed = reqwest::blocking::Client::new().get(s.url("/api/v1/feed")).send().unwrap();
    let mut first = [0u8; 16];
    feed.read_exact(&mut first).unwrap();
    let t = Instant::now();
    let status = std::process::Command::new("kill").args([&format!("-{signal}"), &s.child.id().to_string()]).status().unwrap();
    assert!(status.success());
    loop {
        if let Some(code) = s.child.try_wait().unwrap() {
            assert!(code.success() || signal == "TERM", "serve exited with {code} on SIG{signal}");
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(10), "serve still running {:?} after SIG{signal} with a feed open", t.elapsed());
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(feed);
    // The lock is free: another writer opens the log.
    let event = r#"{"v":1,"id":"a-1","time":"2016-12-23T09:00:00Z","author":"hq","body":{"airdrop":{"airdrop":"a-1","position":{"lat":36.2,"lon":37.15},"contents":"food","tonnes":1.0,"recovered":true}}}"#;
    std::fs::write(tmp.path().join("e.json"), event).unwrap();
    ok(&dir, &["log", "append", tmp.path().join("e.json").to_str().unwrap()]);
}

#[test]
fn ctrl_c_stops_serve_while_a_feed_is_open() {
    stops_on("INT");
}

#[test]
fn sigterm_stops_serve_while_a_feed_is_open() {
    stops_on("TERM");
}

/// Every endpoint is under a limit: the dashboard, the OpenAPI document,
/// the checkpoint and a feed opened with a checkpoint token (a token gave
/// a feed outside every limit) answer 429 past the public rate; an hq
/// token's feed is outside it.
#[test]
fn every_endpoint_is_rate_limited() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ops");
    ok(&dir, &["demo"]);
    let (cp, _) = common::token(&dir, &["--role", "checkpoint", "--checkpoint", "cp1-ramouseh-bridge"]);
    let (hq, _) = common::token(&dir, &["--role", "hq"]);
    let s = Served::start_with(&dir, &["--public-rate", "1"]);
    let http = reqwest::blocking::Client::new();
    for (path, token) in [("/", None), ("/openapi.json", None), ("/api/v1/checkpoint", None), ("/api/v1/feed", Some(&cp))] {
        // A burst of twice the rate passes; then 429.
        let statuses: Vec<u16> = (0..6)
            .map(|_| {
                let mut req = http.get(s.url(path)).timeout(Duration::from_secs(5));
                if let Some(t) = token {
                    req = req.bearer_auth(t);
                }
                req.send().map(|r| r.status().as_u16()).unwrap_or(0)
            })
            .collect();
        assert!(statuses.contains(&429), "{path}: {statuses:?}");
        std::thread::sleep(Duration::from_secs(3)); // the bucket refills
    }
    for _ in 0..6 {
        let r = http.get(s.url("/api/v1/feed")).bearer_auth(&hq).timeout(Duration::from_secs(5)).send().unwrap();
        assert_eq!(r.status().as_u16(), 200);
    }
}

/// The token stays out of URLs (proxies log them): `?token=` is refused,
/// a browser opens its feed with a one-use ticket that expires.
#[test]
fn the_feed_takes_a_header_or_a_one_use_ticket_never_a_token_in_the_url() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ops");
    ok(&dir, &["init"]);
    let (hq, _) = common::token(&dir, &["--role", "hq"]);
    let s = Served::start(&dir, &[]);
    let http = reqwest::blocking::Client::new();
    let r = http.get(s.url(&format!("/api/v1/feed?token={hq}"))).send().unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert!(r.text().unwrap().contains("ticket"));
    assert_eq!(http.post(s.url("/api/v1/feed/ticket")).send().unwrap().status().as_u16(), 401);
    let t: serde_json::Value = http.post(s.url("/api/v1/feed/ticket")).bearer_auth(&hq).send().unwrap().json().unwrap();
    let ticket = t["ticket"].as_str().unwrap();
    assert!(!ticket.contains(&hq[4..]) && t["expires_in"] == 30, "{t}");
    let mut feed = http.get(s.url(&format!("/api/v1/feed?ticket={ticket}"))).send().unwrap();
    assert_eq!(feed.status().as_u16(), 200);
    let mut first = [0u8; 14];
    feed.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"event: summary");
    // Once only.
    assert_eq!(http.get(s.url(&format!("/api/v1/feed?ticket={ticket}"))).send().unwrap().status().as_u16(), 401);
}
