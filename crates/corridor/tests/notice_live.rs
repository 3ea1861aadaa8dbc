//! Notices issued while `corridor serve` holds the log: without `--server`
//! the CLI says the log is held and what to pass (and sends nothing); with
//! `--server URL --token HQ` (or CORRIDOR_SERVER / CORRIDOR_TOKEN) the
//! records go through the server's API, grow its log by exactly the
//! notices, and a second identical run records nothing.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::ok;
use serde_json::Value;

const AT: &str = "2016-12-15T04:30:00Z";

/// `corridor serve` on `dir`, on a free loopback port; killed on drop.
/// `corridor serve` (the shared test helper) and what this test reads of it.
struct Server(common::Served);

impl std::ops::Deref for Server {
    type Target = common::Served;
    fn deref(&self) -> &common::Served {
        &self.0
    }
}

impl Server {
    fn start(dir: &Path) -> Server {
        Server(common::Served::start(dir, &[]))
    }

    /// The server's log: its size and its notice_issued events.
    fn log(&self, hq: &str) -> (u64, Vec<Value>) {
        let http = reqwest::blocking::Client::new();
        let r: Value = http.get(format!("{}/api/v1/events?from=0&to=0", self.base)).bearer_auth(hq).send().unwrap().json().unwrap();
        let size = r["size"].as_u64().unwrap();
        let mut notices = Vec::new();
        let mut from = 0;
        while from < size {
            let page: Value = http.get(format!("{}/api/v1/events?from={from}", self.base)).bearer_auth(hq).send().unwrap().json().unwrap();
            let entries = page["entries"].as_array().unwrap();
            assert!(!entries.is_empty());
            from += entries.len() as u64;
            notices.extend(entries.iter().map(|e| e["event"].clone()).filter(|e| e["body"].get("notice_issued").is_some()));
        }
        (size, notices)
    }
}

/// The corridor binary with extra environment variables.
fn corridor_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_corridor"));
    c.arg("--data-dir").arg(dir).args(args).env_remove("CORRIDOR_DATABASE_URL").env_remove("CORRIDOR_SERVER").env_remove("CORRIDOR_TOKEN");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("the corridor binary runs")
}

fn succeeds(out: Output, what: &str) -> String {
    assert!(out.status.success(), "{what} failed:\n{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn refused(out: Output, what: &str) -> String {
    assert!(!out.status.success(), "{what} should have failed:\n{}", String::from_utf8_lossy(&out.stdout));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn files_in(dir: &Path) -> usize {
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

#[test]
fn hq_issues_notices_through_the_running_server_once() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("d");
    ok(&dir, &["demo"]);
    let hq = ok(&dir, &["token", "create", "--role", "hq"]).trim().to_string();
    let monitor_key = ok(&dir, &["log", "key"]).trim().to_string();
    let monitor = ok(&dir, &["token", "create", "--role", "monitor", "--key", &monitor_key]).trim().to_string();
    let numbers = tmp.path().join("numbers.txt");
    std::fs::write(&numbers, "+963944000001\n+963944000002\n").unwrap();
    let cap = tmp.path().join("cap");

    let server = Server::start(&dir);
    let (size0, notices) = server.log(&hq);
    assert!(notices.is_empty());
    let send = ["notice", "--format", "sms", "--at", AT, "--corridor", "ramouseh-rashidin4", "--window", "window-15dec", "--send", "outbox", "--recipients", numbers.to_str().unwrap()];

    // The server holds the log: the CLI says so and what to pass, and sends nothing.
    let err = refused(corridor_env(&dir, &send, &[]), "send while the server runs");
    assert!(err.contains("held by another process") && err.contains("--server http://HOST:PORT --token HQ_TOKEN") && err.contains("CORRIDOR_SERVER"), "{err}");
    assert_eq!(files_in(&dir.join("sms/outbox/out")), 0, "nothing is sent when it could not be recorded");
    let mut issue_cap = vec!["notice", "--format", "cap", "--at", AT, "--out", cap.to_str().unwrap(), "--issue"];
    let err = refused(corridor_env(&dir, &issue_cap, &[]), "--issue while the server runs");
    assert!(err.contains("--server"), "{err}");
    // Printing and writing files need no lock and record nothing.
    let out = succeeds(corridor_env(&dir, &issue_cap[..issue_cap.len() - 1], &[]), "cap files while the server runs");
    assert!(out.contains("nothing recorded"), "{out}");
    assert_eq!(server.log(&hq).0, size0);

    // A token that cannot write notices is refused before anything is sent.
    let mut with = send.to_vec();
    with.extend(["--server", &server.base, "--token", &monitor]);
    let err = refused(corridor_env(&dir, &with, &[]), "a monitor token");
    assert!(err.contains("monitor token") && err.contains("hq token"), "{err}");
    let mut with = send.to_vec();
    with.extend(["--server", &server.base, "--token", "crd_hq_not-a-token"]);
    let err = refused(corridor_env(&dir, &with, &[]), "an unknown token");
    assert!(err.contains("refused the token") && err.contains("401"), "{err}");
    assert_eq!(files_in(&dir.join("sms/outbox/out")), 0);

    // Through the server: sent, and recorded in the server's log.
    let mut with = send.to_vec();
    with.extend(["--server", &server.base, "--token", &hq]);
    let out = succeeds(corridor_env(&dir, &with, &[]), "send through the server");
    assert!(out.contains(&format!("2 notice(s) recorded in the log as notice_issued (through the server at {})", server.base)), "{out}");
    let (size1, notices) = server.log(&hq);
    assert_eq!(size1, size0 + 2, "the log grows by exactly the notices sent");
    assert_eq!(notices.len(), 2);
    for n in &notices {
        assert_eq!(n["author"], "hq");
        assert_eq!(n["body"]["notice_issued"]["channel"], "sms");
        assert_eq!(n["body"]["notice_issued"]["recipients"], 2);
    }
    assert_eq!(files_in(&dir.join("sms/outbox/out")), 2);

    // The same command again: already sent, nothing recorded twice.
    let out = succeeds(corridor_env(&dir, &with, &[]), "the same send again");
    assert!(out.contains("already sent (in the log)") && !out.contains("recorded in the log"), "{out}");
    assert_eq!(server.log(&hq).0, size1);
    assert_eq!(files_in(&dir.join("sms/outbox/out")), 2);

    // CAP alerts marked issued, the server and token from the environment.
    let env = [("CORRIDOR_SERVER", server.base.as_str()), ("CORRIDOR_TOKEN", hq.as_str())];
    let out = succeeds(corridor_env(&dir, &issue_cap, &env), "cap --issue through the server");
    assert!(out.contains("4 notice(s) recorded"), "{out}");
    let (size2, notices) = server.log(&hq);
    assert_eq!(size2, size1 + 4);
    assert_eq!(notices.iter().filter(|n| n["body"]["notice_issued"]["channel"] == "cap").count(), 4);
    issue_cap.push("--lang");
    issue_cap.push("both");
    let out = succeeds(corridor_env(&dir, &issue_cap, &env), "cap --issue again");
    assert!(out.contains("nothing new to record"), "{out}");
    assert_eq!(server.log(&hq).0, size2);

    drop(server);
    let out = ok(&dir, &["verify"]);
    assert!(out.contains("verified:"), "{out}");
    assert!(out.contains(&format!("entries: {size2},")), "{out}");
}
