//! `corridor notice` on the demo's log: SMS printed with encoding and
//! segments, sent through the outbox and recorded once (counts and hashes,
//! no phone numbers); an unreachable gateway leaves the message pending and
//! unrecorded; CAP and speech files written and recorded only with
//! `--issue`; bad requests refused; a broadcast killed half-way resumes
//! with every recipient getting every message exactly once.

mod common;
use common::{fails, ok};

const AT: &str = "2016-12-15T04:30:00Z";

fn notices_in_log(dir: &std::path::Path) -> Vec<serde_json::Value> {
    let out = ok(dir, &["log", "show", "--json"]);
    out.lines().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["event"].clone()).filter(|e| e["body"].get("notice_issued").is_some()).collect()
}

#[test]
fn notices_are_printed_sent_once_and_recorded_without_numbers() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("d");
    ok(&dir, &["demo"]);

    let out = ok(&dir, &["notice", "--format", "sms", "--at", AT, "--corridor", "ramouseh-rashidin4", "--window", "window-15dec"]);
    assert!(out.contains("── ramouseh-rashidin4.window-15dec.0 (ar): UCS-2, "), "{out}");
    assert!(out.contains("── ramouseh-rashidin4.window-15dec.0 (en): GSM-7, "), "{out}");
    assert!(out.contains("07:00 to 19:00 Damascus time (UTC+2)"), "{out}");
    assert!(notices_in_log(&dir).is_empty(), "printing sends nothing and records nothing");

    let numbers = tmp.path().join("numbers.txt");
    std::fs::write(&numbers, "# test numbers\n+963944000001\n+963944000002\n+963944000003\n").unwrap();
    let send = ["notice", "--format", "sms", "--at", AT, "--corridor", "ramouseh-rashidin4", "--window", "window-15dec", "--send", "outbox", "--recipients", numbers.to_str().unwrap()];

    // The gateway is down: nothing is recorded, the messages wait.
    let mut args: Vec<&str> = send.iter().map(|&a| if a == "outbox" { "kannel" } else { a }).collect();
    args.extend(["--kannel-url", "http://127.0.0.1:9/cgi-bin/sendsms"]);
    let err = fails(&dir, &args);
    assert!(err.contains("cannot reach the Kannel gateway") && err.contains("retried by the next `corridor notice --send`"), "{err}");
    assert!(!err.contains("+963"), "an error must not carry phone numbers: {err}");
    assert!(notices_in_log(&dir).is_empty(), "a failed send is never recorded as sent");
    assert_eq!(std::fs::read_dir(dir.join("sms/kannel/pending")).unwrap().count(), 2);

    // Through the outbox folder: both languages go and are recorded.
    let out = ok(&dir, &send);
    assert!(out.contains("2 notice(s) recorded in the log as notice_issued"), "{out}");
    let recorded = notices_in_log(&dir);
    assert_eq!(recorded.len(), 2);
    for e in &recorded {
        let n = &e["body"]["notice_issued"];
        assert_eq!(n["recipients"], 3);
        assert_eq!(n["channel"], "sms");
        assert_eq!(n["recipients_hmac"].as_str().unwrap().len(), 64);
        assert!(!e.to_string().contains("+963"), "the log keeps no phone numbers: {e}");
    }
    assert_eq!(std::fs::read_dir(dir.join("sms/outbox/pending")).unwrap().count(), 0);
    assert_eq!(std::fs::read_dir(dir.join("sms/outbox/out")).unwrap().count(), 2);
    // Each sender keeps its own outbox: the gateway's messages still wait for it.
    assert_eq!(std::fs::read_dir(dir.join("sms/kannel/pending")).unwrap().count(), 2);

    // Again: already sent, nothing new.
    let out = ok(&dir, &send);
    assert!(out.contains("already sent (in the log)") && !out.contains("recorded in the log"), "{out}");
    assert_eq!(notices_in_log(&dir).len(), 2);
    ok(&dir, &["verify"]);

    // CAP alerts and loudspeaker scripts are files: writing them records
    // nothing (a preview is not a notice issued)…
    let size = log_size(&dir);
    let cap = tmp.path().join("cap");
    let out = ok(&dir, &["notice", "--format", "cap", "--at", AT, "--out", cap.to_str().unwrap()]);
    assert!(out.contains("nothing recorded") && out.contains("--issue"), "{out}");
    assert_eq!(log_size(&dir), size, "writing CAP files appends nothing");
    let xml = std::fs::read_to_string(cap.join("ramouseh-rashidin4.window-15dec.0.cap.xml")).unwrap();
    assert!(xml.contains("urn:oasis:names:tc:emergency:cap:1.2") && xml.contains("<cap:msgType>Alert</cap:msgType>"), "{xml}");
    let speech = tmp.path().join("speech");
    let script = ["notice", "--format", "speech", "--lang", "en", "--at", AT, "--corridor", "fuah-kafarya-aleppo", "--out", speech.to_str().unwrap()];
    let out = ok(&dir, &script);
    assert!(out.contains("Attention, please."), "{out}");
    assert!(speech.join("fuah-kafarya-aleppo.window-fk-18dec.0.en.txt").is_file());
    assert_eq!(log_size(&dir), size, "writing scripts appends nothing");

    // …until hq marks them issued: then each is recorded once, at the real time.
    let before = chrono::Utc::now();
    let out = ok(&dir, &["notice", "--format", "cap", "--at", AT, "--out", cap.to_str().unwrap(), "--issue"]);
    assert!(out.contains("4 notice(s) recorded in the log as notice_issued"), "{out}");
    assert_eq!(log_size(&dir), size + 4);
    let caps: Vec<_> = notices_in_log(&dir).into_iter().filter(|e| e["body"]["notice_issued"]["channel"] == "cap").collect();
    assert_eq!(caps.len(), 4);
    for e in &caps {
        let t: chrono::DateTime<chrono::Utc> = e["time"].as_str().unwrap().parse().unwrap();
        assert!(t >= before - chrono::Duration::seconds(1), "stamped with the real time, not --at: {e}");
        assert_eq!(e["author"], "hq");
    }
    let out = ok(&dir, &["notice", "--format", "cap", "--at", AT, "--out", cap.to_str().unwrap(), "--issue"]);
    assert!(out.contains("nothing new to record"), "{out}");
    assert_eq!(log_size(&dir), size + 4, "issuing again records nothing twice");
    let mut issue = script.to_vec();
    issue.push("--issue");
    assert!(ok(&dir, &issue).contains("1 notice(s) recorded"));
    assert_eq!(log_size(&dir), size + 5);
    ok(&dir, &["verify"]);
}

fn log_size(dir: &std::path::Path) -> usize {
    ok(dir, &["log", "show"]).lines().count()
}

#[test]
fn bad_requests_say_what_to_do() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("d");
    ok(&dir, &["demo"]);
    let err = fails(&dir, &["notice", "--format", "sms", "--at", AT, "--corridor", "nowhere"]);
    assert!(err.contains("unknown corridor \"nowhere\": the ledger declares \"fuah-kafarya-aleppo\", \"ramouseh-rashidin4\""), "{err}");
    let err = fails(&dir, &["notice", "--format", "sms", "--at", "2016-12-16T12:00:00Z", "--window", "window-15dec"]);
    assert!(err.contains("truce window \"window-15dec\" ended at"), "{err}");
    let err = fails(&dir, &["notice", "--format", "cap", "--at", AT]);
    assert!(err.contains("--format cap writes files: give --out DIR"), "{err}");
    let err = fails(&dir, &["notice", "--format", "sms", "--at", AT, "--issue"]);
    assert!(err.contains("use --send outbox|kannel"), "{err}");
    let err = fails(&dir, &["notice", "--format", "cap", "--at", AT, "--out", tmp.path().join("c").to_str().unwrap(), "--issue", "--server", "http://127.0.0.1:9"]);
    assert!(err.contains("--server needs --token"), "{err}");
    let err = fails(&dir, &["notice", "--format", "cap", "--at", AT, "--out", tmp.path().join("c").to_str().unwrap(), "--issue", "--server", "http://127.0.0.1:9", "--token", "t"]);
    assert!(err.contains("cannot reach the server at http://127.0.0.1:9") && err.contains("Nothing was sent, written or recorded"), "{err}");
    assert!(!tmp.path().join("c").exists(), "nothing is written before the server is known to take the records");
    let bad = tmp.path().join("bad.txt");
    std::fs::write(&bad, "# hq\n+963944000001\n\n0944 000 001\n").unwrap();
    let err = fails(&dir, &["notice", "--format", "sms", "--at", AT, "--send", "outbox", "--recipients", bad.to_str().unwrap()]);
    assert!(err.contains("bad.txt:4: not a phone number in E.164 form"), "{err}");
    assert!(!err.contains("0944"), "the bad line is likely a phone number: not echoed: {err}");
    assert_eq!(std::fs::read_dir(dir.join("sms/outbox/out")).map(|d| d.count()).unwrap_or(0), 0, "a bad list sends nothing");
    let err = fails(&dir, &["notice", "--format", "sms", "--at", AT, "--recipients", bad.to_str().unwrap()]);
    assert!(err.contains("bad.txt:4: not a phone number"), "{err}");
    let none = tmp.path().join("none.txt");
    std::fs::write(&none, "# nobody yet\n").unwrap();
    let err = fails(&dir, &["notice", "--format", "sms", "--at", AT, "--send", "outbox", "--recipients", none.to_str().unwrap()]);
    assert!(err.contains("none.txt: no phone numbers"), "{err}");
    // Today, long after the reference case: nothing to announce, and it says why.
    let out = ok(&dir, &["notice", "--format", "sms"]);
    assert!(out.starts_with("no corridor is open or scheduled in the log as of"), "{out}");
}

/// The recipients of an outbox message file (`sms/outbox/out/ID.json`).
fn out_recipients(path: &std::path::Path) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    v["recipients"].as_array().unwrap().iter().map(|r| r.as_str().unwrap().to_string()).collect()
}

#[test]
fn a_broadcast_killed_half_way_resumes_and_no_one_gets_a_message_twice() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("d");
    ok(&dir, &["demo"]);
    let n = 300_000;
    let numbers: Vec<String> = (0..n).map(|i| format!("+96390{i:08}")).collect();
    let list = tmp.path().join("numbers.txt");
    std::fs::write(&list, numbers.iter().map(|x| format!("{x}\n")).collect::<String>()).unwrap();

    // Without --send: the count and digest, nothing sent or stored.
    let out = ok(&dir, &["notice", "--format", "sms", "--at", AT, "--recipients", list.to_str().unwrap()]);
    let digest = out.lines().find_map(|l| l.split_once(&format!("numbers.txt: {n} recipient(s), digest "))).map(|(_, d)| d[..64].to_string()).unwrap_or_else(|| panic!("{out}"));
    assert!(!dir.join("sms").exists(), "a count sends nothing: {out}");

    let send = ["notice", "--format", "sms", "--at", AT, "--send", "outbox", "--recipients", list.to_str().unwrap()];
    let out_dir = dir.join("sms/outbox/out");
    let whole = || std::fs::read_dir(&out_dir).map(|d| d.filter_map(|e| e.ok()).filter(|e| !e.file_name().to_string_lossy().starts_with('.')).count()).unwrap_or(0);
    let writing = || {
        std::fs::read_dir(&out_dir)
            .map(|d| d.filter_map(|e| e.ok()).any(|e| e.file_name().to_string_lossy().ends_with(".part") && e.metadata().is_ok_and(|m| m.len() > 2_300_000)))
            .unwrap_or(false)
    };
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_corridor"))
        .arg("--data-dir")
        .arg(&dir)
        .args(send)
        .env_remove("CORRIDOR_DATABASE_URL")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // SIGKILL in the middle of a message, after at least one is whole, and
    // past the message's first batch of 100,000 (22 bytes each): the
    // resumed run must cut back what the journal does not have as done.
    let t = std::time::Instant::now();
    loop {
        assert!(child.try_wait().unwrap().is_none(), "the broadcast ended before it could be killed half-way");
        if whole() >= 1 && writing() {
            child.kill().unwrap();
            break;
        }
        assert!(t.elapsed() < std::time::Duration::from_secs(120));
        std::thread::sleep(std::time::Duration::from_micros(300));
    }
    child.wait().unwrap();
    let done_before = whole();
    assert!(done_before < 8, "killed after the end");
    assert!(notices_in_log(&dir).is_empty(), "nothing is recorded before the run ends");

    // Run again: it goes on where it stopped.
    let out = ok(&dir, &send);
    assert!(out.contains("8 notice(s) recorded in the log as notice_issued"), "{out}");
    let files: Vec<_> = std::fs::read_dir(&out_dir).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(files.len(), 8, "eight whole messages, no part file left: {files:?}");
    for f in &files {
        assert_eq!(out_recipients(f), numbers, "{}: each recipient exactly once, in order", f.display());
    }
    let recorded = notices_in_log(&dir);
    assert_eq!(recorded.len(), 8);
    for e in &recorded {
        let notice = &e["body"]["notice_issued"];
        assert_eq!(notice["recipients"], n);
        assert_eq!(notice["recipients_hmac"], digest.as_str(), "the log records the digest the count printed");
    }
    // Phone numbers stay in owner-only files: none in pending/ or the log.
    for entry in std::fs::read_dir(dir.join("sms/outbox/sent")).unwrap() {
        assert!(!std::fs::read_to_string(entry.unwrap().path()).unwrap().contains("+96390"));
    }
    assert!(!ok(&dir, &["log", "show", "--json"]).contains("+96390"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(dir.join("sms/outbox")).unwrap().permissions().mode() & 0o077, 0, "the outbox is its owner's only");
        for f in files.iter().chain(std::fs::read_dir(dir.join("sms/outbox/lists")).unwrap().map(|e| e.unwrap().path()).collect::<Vec<_>>().iter()) {
            assert_eq!(std::fs::metadata(f).unwrap().permissions().mode() & 0o077, 0, "{}", f.display());
        }
    }
    // Sent is sent.
    let out = ok(&dir, &send);
    assert!(out.contains("already sent (in the log)") && !out.contains("recorded in the log"), "{out}");
    ok(&dir, &["verify"]);
}
