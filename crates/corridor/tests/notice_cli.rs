//! `corridor notice` on the demo's log: SMS printed with encoding and
//! segments, sent through the outbox and recorded once (counts and hashes,
//! no phone numbers); an unreachable gateway leaves the message pending and
//! unrecorded; CAP and speech files written and recorded only with
//! `--issue`; bad requests refused.

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
    std::fs::write(&bad, "0944 000 001\n").unwrap();
    let err = fails(&dir, &["notice", "--format", "sms", "--at", AT, "--send", "outbox", "--recipients", bad.to_str().unwrap()]);
    assert!(err.contains("bad.txt:1: not a phone number in E.164 form"), "{err}");
    assert!(!err.contains("0944"), "the bad line is likely a phone number: not echoed: {err}");
    // Today, long after the reference case: nothing to announce, and it says why.
    let out = ok(&dir, &["notice", "--format", "sms"]);
    assert!(out.starts_with("no corridor is open or scheduled in the log as of"), "{out}");
}
