//! End to end through the real binary: demo, verify, tampering, bad input,
//! duplicates, export checked by independent implementations — on SQLite,
//! and on PostgreSQL when DATABASE_URL is set.

mod common;

use std::path::Path;

use base64::Engine as _;
use common::*;

const TOTALS: &str = "31,284 = armed 14,891 + women 7,606 + children 8,787, of whom 701 wounded";

fn demo_dir(tmp: &Path, init: &[String]) -> std::path::PathBuf {
    let dir = tmp.join("d");
    if !init.is_empty() {
        let mut args = vec!["init", "--origin", "corridor.invalid/test"];
        args.extend(init.iter().map(String::as_str));
        ok(&dir, &args);
    }
    let out = ok(&dir, &["demo"]);
    assert!(out.contains(&format!("corridor ramouseh-rashidin4: {TOTALS}")), "{out}");
    assert!(out.contains("everyone who had to leave was carried out"), "{out}");
    assert!(out.contains("(20 vehicles lost, 2 killed)"), "the attack on the Fu'ah/Kafarya convoy:\n{out}");
    assert!(out.contains("— all reconciled"), "{out}");
    assert!(out.contains("\n— "), "the demo prints the signed checkpoint:\n{out}");
    dir
}

#[test]
fn demo_then_verify_recomputes_the_published_figures() {
    for (name, init) in backends("demo") {
        let tmp = tempfile::tempdir().unwrap();
        let dir = demo_dir(tmp.path(), &init);
        let out = ok(&dir, &["verify"]);
        assert!(out.contains(TOTALS), "{name}: {out}");
        assert!(out.contains("verified:"), "{name}: {out}");
        // Running the demo again appends nothing: every id is already stored.
        let again = ok(&dir, &["demo"]);
        assert!(again.contains(", 0 newly appended"), "{name}: {again}");
        assert!(again.contains(TOTALS), "{name}: {again}");
        drop_pg(&init);
    }
}

fn drop_pg(init: &[String]) {
    if let [_, url, _, schema] = init {
        corridor_ledger::store::postgres::drop_schema(url, schema).expect("drop test schema");
    }
}

/// Changes one byte of entry `index`'s stored leaf in the SQLite file.
fn flip_byte(db: &Path, index: u64, offset: usize, also_fix_hash: bool) {
    let c = rusqlite::Connection::open(db).unwrap();
    let mut leaf: Vec<u8> = c.query_row("SELECT leaf FROM entries WHERE idx = ?1", [index as i64], |r| r.get(0)).unwrap();
    let at = offset % leaf.len();
    leaf[at] ^= 0x01;
    c.execute("UPDATE entries SET leaf = ?1 WHERE idx = ?2", rusqlite::params![leaf, index as i64]).unwrap();
    if also_fix_hash {
        let mut h = vec![0u8];
        h.extend_from_slice(&leaf);
        let hash = <sha2::Sha256 as sha2::Digest>::digest(&h).to_vec();
        c.execute("UPDATE entries SET hash = ?1 WHERE idx = ?2", rusqlite::params![hash, index as i64]).unwrap();
    }
}

#[test]
fn one_changed_byte_fails_verify_and_names_the_entry() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = demo_dir(tmp.path(), &[]);
    let pristine = tmp.path().join("pristine.sqlite");
    let db = dir.join("ledger.sqlite");
    // Fold the WAL into the main file so a copy is the whole log.
    rusqlite::Connection::open(&db).unwrap().execute_batch("PRAGMA wal_checkpoint(TRUNCATE);").unwrap();
    std::fs::copy(&db, &pristine).unwrap();
    let n: u64 = rusqlite::Connection::open(&db).unwrap().query_row("SELECT COUNT(*) FROM entries", [], |r| r.get::<_, i64>(0)).unwrap() as u64;
    for (k, index) in [0, 1, n / 3, n / 2, n - 1].into_iter().enumerate() {
        std::fs::copy(&pristine, &db).unwrap();
        flip_byte(&db, index, 7 + 31 * k, false);
        let err = fails(&dir, &["verify"]);
        assert!(err.contains(&format!("entry {index}:")), "index {index}: {err}");
        // Altering the stored hash as well does not hide it: the signed checkpoints no longer match.
        std::fs::copy(&pristine, &db).unwrap();
        flip_byte(&db, index, 7 + 31 * k, true);
        let err = fails(&dir, &["verify"]);
        assert!(err.contains("FAILED"), "index {index}: {err}");
        assert!(err.contains(&format!("entry {index}:")) || err.contains("does not match the stored entries"), "index {index}: {err}");
    }
    // Removing the last entries is named too: the log had signed them.
    std::fs::copy(&pristine, &db).unwrap();
    rusqlite::Connection::open(&db).unwrap().execute("DELETE FROM entries WHERE idx >= ?1", [(n - 3) as i64]).unwrap();
    let err = fails(&dir, &["verify"]);
    assert!(err.contains(&format!("entry {}:", n - 3)) && err.contains("were removed"), "{err}");
    std::fs::copy(&pristine, &db).unwrap();
    ok(&dir, &["verify"]);
}

#[test]
fn bad_input_is_refused_whole_with_the_field_named() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = demo_dir(tmp.path(), &[]);
    let size = |dir: &Path| ok(dir, &["log", "show"]).lines().count();
    let before = size(&dir);
    let good = r#"{"v":1,"id":"new-ok","time":"2016-12-23T10:00:00Z","author":"hq","body":{"agreement":{"agreement":"a2","sites":["east-aleppo"],"terms":"ceasefire"}}}"#;
    let passage = |id: &str, counts: &str, wounded: i32, cp: &str, vehicle: &str| {
        format!(r#"{{"v":1,"id":"{id}","time":"2016-12-22T10:00:00Z","author":"cp","body":{{"passage":{{"vehicle":"{vehicle}","convoy":"convoy-001","corridor":"ramouseh-rashidin4","checkpoint":"{cp}","counts":{counts},"wounded":{wounded}}}}}}}"#)
    };
    let cases: Vec<(String, &str)> = vec![
        ("{\"v\":1,".into(), "not valid JSON"),
        (r#"{"v":1,"id":"x1","time":"2016-12-22T10:00:00Z","author":"hq","body":{"teleport":{}}}"#.into(), "unknown variant `teleport`"),
        (passage("x2", r#"{"women":-1}"#, 0, "cp1-ramouseh-bridge", "bus-001"), "body.passage.counts.women"),
        (passage("x3", r#"{"women":1}"#, 2, "cp1-ramouseh-bridge", "bus-001"), "body.passage.wounded"),
        (passage("x4", r#"{"women":1}"#, 0, "cp9", "bus-001"), "body.passage.checkpoint"),
        (passage("x5", r#"{"women":1}"#, 0, "cp1-ramouseh-bridge", "bus-999"), "body.passage.vehicle"),
        (passage("x6", r#"{"women":1}"#, 0, "cp1-ramouseh-bridge", "bus-001").replace("ramouseh-rashidin4", "nowhere"), "body.passage.corridor"),
        (passage("x7", r#"{"women":1}"#, 0, "cp1-ramouseh-bridge", "bus-001").replace(r#""wounded":0"#, r#""wounded":0,"name":"x""#), "unknown field `name`"),
        // A stored id with different content.
        (good.replace("new-ok", "groups"), "with different content"),
    ];
    for (bad, want) in cases {
        let file = tmp.path().join("batch.jsonl");
        std::fs::write(&file, format!("{good}\n{bad}\n")).unwrap();
        let err = fails(&dir, &["log", "append", file.to_str().unwrap()]);
        assert!(err.contains(want), "want {want:?} in: {err}");
        if !want.contains("JSON") {
            assert!(err.contains("event #1"), "the error names the event: {err}");
        }
        assert_eq!(size(&dir), before, "nothing from a rejected batch is appended ({want})");
    }
    // The good event alone is appended, and a retry of it is a no-op.
    let file = tmp.path().join("good.json");
    std::fs::write(&file, format!("[{good}]")).unwrap();
    assert!(ok(&dir, &["log", "append", file.to_str().unwrap()]).contains("appended 1 new event(s), 0 already"));
    let again = ok(&dir, &["log", "append", file.to_str().unwrap()]);
    assert!(again.contains("appended 0 new event(s), 1 already"), "{again}");
    assert!(again.contains(&format!("new-ok: already in the log at index {before}")), "a retry learns the original position: {again}");
    assert_eq!(size(&dir), before + 1);
    ok(&dir, &["verify"]);
}

/// An input longer than one append batch (10,000 events) is read twice
/// from disk rather than held: still all or nothing for anything wrong in
/// it (a bad event after the first batches, an id used twice in it with
/// different content), read from stdin as from a file, and a run stopped
/// part-way is finished by running it again.
#[test]
fn a_long_input_is_appended_all_or_nothing_and_a_second_run_finishes_the_first() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = demo_dir(tmp.path(), &[]);
    let size = || ok(&dir, &["log", "checkpoint"]).lines().nth(1).unwrap().parse::<u64>().unwrap();
    let before = size();
    let agreement = |i: usize, terms: &str| format!(r#"{{"v":1,"id":"long-{i}","time":"2016-12-23T10:00:00Z","author":"hq","body":{{"agreement":{{"agreement":"long-{i}","sites":["east-aleppo"],"terms":"{terms}"}}}}}}"#);
    const N: usize = 25_000;
    let lines: Vec<String> = (0..N).map(|i| agreement(i, "ceasefire")).collect();
    let write = |name: &str, lines: &[String]| {
        let p = tmp.path().join(name);
        std::fs::write(&p, lines.join("\n")).unwrap();
        p
    };
    // A bad reference in the last event: nothing of the 25,000 goes in.
    let mut bad = lines.clone();
    bad.push(r#"{"v":1,"id":"long-bad","time":"2016-12-23T10:00:00Z","author":"hq","body":{"agreement":{"agreement":"long-bad","sites":["nowhere"],"terms":"x"}}}"#.to_string());
    let err = fails(&dir, &["log", "append", write("bad.jsonl", &bad).to_str().unwrap()]);
    assert!(err.contains(&format!("event #{N}")) && err.contains("nowhere"), "{err}");
    assert!(err.contains("nothing was appended"), "{err}");
    assert_eq!(size(), before, "nothing of a refused long input is appended");
    // The same id twice with different content, far apart.
    let mut twice = lines.clone();
    twice[N - 2] = agreement(3, "other terms");
    let err = fails(&dir, &["log", "append", write("twice.jsonl", &twice).to_str().unwrap()]);
    assert!(err.contains(&format!("event #{}", N - 2)) && err.contains("used earlier in this input with different content"), "{err}");
    assert_eq!(size(), before);
    // A run that stopped after its first batch: the first 10,000 are in.
    let first = write("first.jsonl", &lines[..10_000]);
    assert!(ok(&dir, &["log", "append", first.to_str().unwrap()]).contains("appended 10000 new event(s), 0 already"));
    // Run again on the whole input, from stdin, as a JSON array: the rest is appended.
    let all = tmp.path().join("all.json");
    std::fs::write(&all, format!("[{}]", lines.join(",\n"))).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_corridor"))
        .args(["--data-dir", dir.to_str().unwrap(), "log", "append"])
        .stdin(std::fs::File::open(&all).unwrap())
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains(&format!("appended {} new event(s), 10000 already in the log; log size {}", N - 10_000, before + N as u64)), "{stdout}");
    assert!(stderr.contains(&format!("appended 20000 of {N} events")), "progress on a long input: {stderr}");
    assert!(std::fs::read_dir(&dir).unwrap().all(|e| !e.unwrap().file_name().to_string_lossy().starts_with("append-")), "stdin's copy is removed");
    ok(&dir, &["verify"]);
}

#[test]
fn export_checkpoint_and_key_check_out_independently() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = demo_dir(tmp.path(), &[]);
    let leaves_file = tmp.path().join("leaves.b64");
    let cp_out = tmp.path().join("export-checkpoint.txt");
    ok(&dir, &["log", "export", "--out", leaves_file.to_str().unwrap(), "--checkpoint-out", cp_out.to_str().unwrap()]);
    let note = ok(&dir, &["log", "checkpoint"]);
    assert_eq!(std::fs::read_to_string(&cp_out).unwrap(), note, "export writes the checkpoint of what it exported");
    let vkey = ok(&dir, &["log", "key"]).trim().to_string();
    let b64 = base64::engine::general_purpose::STANDARD;
    let leaves: Vec<Vec<u8>> = std::fs::read_to_string(&leaves_file).unwrap().lines().map(|l| b64.decode(l).unwrap()).collect();

    // RFC 6962 root by the ct-merkle crate (an independent implementation).
    let mut tree = ct_merkle::mem_backed_tree::MemoryBackedTree::<sha2_ct::Sha256, Vec<u8>>::new();
    for l in &leaves {
        tree.push(l.clone());
    }
    let ct_root = tree.root();

    // The note and key parsed by hand from the C2SP text formats; Ed25519 by ed25519-dalek.
    let (text, sigs) = note.split_once("\n\n").expect("blank line before signatures");
    let text = format!("{text}\n");
    let body: Vec<&str> = text.lines().collect();
    assert_eq!(body[1].parse::<usize>().unwrap(), leaves.len(), "checkpoint size = number of exported entries");
    assert_eq!(b64.decode(body[2]).unwrap(), ct_root.as_bytes().to_vec(), "checkpoint root = RFC 6962 root of the exported leaves");
    let parts: Vec<&str> = vkey.splitn(3, '+').collect();
    let key = b64.decode(parts[2]).unwrap();
    assert_eq!(key[0], 1);
    let vk = ed25519_dalek::VerifyingKey::from_bytes(key[1..].try_into().unwrap()).unwrap();
    let line = sigs.lines().next().unwrap();
    let rest = line.strip_prefix("\u{2014} ").expect("signature line starts with an em dash");
    let (name, sig_b64) = rest.split_once(' ').unwrap();
    assert_eq!(name, parts[0]);
    let sig = b64.decode(sig_b64).unwrap();
    assert_eq!(hex::encode(&sig[..4]), parts[1], "key hash prefix");
    vk.verify_strict(text.as_bytes(), &ed25519_dalek::Signature::from_slice(&sig[4..]).unwrap()).expect("signature verifies");

    // And the Python tool written from the standards alone (hashlib + cryptography).
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tools/verify_log.py");
    let cp_file = tmp.path().join("checkpoint.txt");
    std::fs::write(&cp_file, &note).unwrap();
    let has_crypto = std::process::Command::new("python3").args(["-c", "import cryptography"]).output().is_ok_and(|o| o.status.success());
    if has_crypto {
        let out = std::process::Command::new("python3").arg(script).arg(&leaves_file).arg(&cp_file).arg(&vkey).output().unwrap();
        assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        // One changed leaf and the independent tool refuses it.
        let mut lines: Vec<String> = std::fs::read_to_string(&leaves_file).unwrap().lines().map(String::from).collect();
        let mut l = b64.decode(&lines[5]).unwrap();
        l[10] ^= 1;
        lines[5] = b64.encode(l);
        std::fs::write(&leaves_file, lines.join("\n") + "\n").unwrap();
        let out = std::process::Command::new("python3").arg(script).arg(&leaves_file).arg(&cp_file).arg(&vkey).output().unwrap();
        assert!(!out.status.success());
    } else {
        common::skip("python3 with the `cryptography` package not found (independent Python verifier: python3 -m pip install cryptography)");
    }
}

#[test]
fn verify_checks_consistency_with_an_earlier_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = demo_dir(tmp.path(), &[]);
    let early = tmp.path().join("early.txt");
    std::fs::write(&early, ok(&dir, &["log", "checkpoint"])).unwrap();
    let more = tmp.path().join("more.json");
    std::fs::write(&more, r#"[{"v":1,"id":"later","time":"2016-12-23T10:00:00Z","author":"hq","body":{"return_recorded":{"record":"r1","district":"hanano","families":10,"people":52}}}]"#).unwrap();
    ok(&dir, &["log", "append", more.to_str().unwrap()]);
    let out = ok(&dir, &["verify", "--checkpoint", early.to_str().unwrap()]);
    assert!(out.contains("consistent with the earlier checkpoint"), "{out}");
    // A checkpoint from another log (another key) is refused.
    let other = tmp.path().join("other");
    ok(&other, &["init"]);
    let foreign = tmp.path().join("foreign.txt");
    std::fs::write(&foreign, ok(&other, &["log", "checkpoint"])).unwrap();
    let err = fails(&dir, &["verify", "--checkpoint", foreign.to_str().unwrap()]);
    assert!(err.contains("earlier checkpoint"), "{err}");
}

#[test]
fn help_works_on_every_command() {
    let tmp = tempfile::tempdir().unwrap();
    for args in [
        vec!["--help"],
        vec!["init", "--help"],
        vec!["log", "--help"],
        vec!["log", "append", "--help"],
        vec!["log", "show", "--help"],
        vec!["log", "export", "--help"],
        vec!["log", "checkpoint", "--help"],
        vec!["log", "key", "--help"],
        vec!["verify", "--help"],
        vec!["demo", "--help"],
    ] {
        let out = ok(tmp.path(), &args);
        assert!(out.contains("Usage:"), "{args:?}: {out}");
    }
    let err = fails(&tmp.path().join("none"), &["verify"]);
    assert!(err.contains("corridor init"), "a missing log says how to make one: {err}");
    // The crash tests' writer is tooling (`corridor-bench crash-writer`), not a hidden command of the product.
    let err = fails(&tmp.path().join("none"), &["debug", "crash-writer"]);
    assert!(err.contains("unrecognized subcommand 'debug'"), "{err}");
}

/// The ledger holds every vehicle record, the config may hold a database
/// password, the keys sign: readable by their owner only, and a key that
/// others can read is refused.
#[cfg(unix)]
#[test]
fn a_new_data_directory_is_private_and_a_key_others_can_read_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ops");
    ok(&dir, &["init"]);
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    for f in ["corridor.json", "log.key", "ledger.sqlite"] {
        assert_eq!(mode(&dir.join(f)), 0o600, "{f}");
    }
    let event = r#"{"v":1,"id":"a-1","time":"2016-12-23T09:00:00Z","author":"hq","body":{"airdrop":{"airdrop":"a-1","position":{"lat":36.2,"lon":37.15},"contents":"food","tonnes":1.0,"recovered":true}}}"#;
    std::fs::write(tmp.path().join("e.json"), event).unwrap();
    ok(&dir, &["log", "append", tmp.path().join("e.json").to_str().unwrap()]);
    assert_eq!(mode(&dir.join("ledger.sqlite")), 0o600);
    std::fs::set_permissions(dir.join("log.key"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = fails(&dir, &["log", "append", tmp.path().join("e.json").to_str().unwrap()]);
    assert!(err.contains("others can read it (mode 644)") && err.contains("chmod 600"), "{err}");
    // A monitor's key likewise.
    let mon = tmp.path().join("mon");
    ok(&mon, &["monitor", "key", "--name", "m.example/1"]);
    assert_eq!(mode(&mon), 0o700);
    std::fs::set_permissions(mon.join("monitor.key"), std::fs::Permissions::from_mode(0o640)).unwrap();
    let err = fails(&mon, &["monitor", "key", "--name", "m.example/1"]);
    assert!(err.contains("others can read it (mode 640)"), "{err}");
}

/// `init` then `verify`, the first thing a newcomer tries, on both backends:
/// the empty log verifies (it failed with "no signed checkpoint") and its
/// figures read as numbers ("0 = , of whom 0 wounded" before).
#[test]
fn a_new_log_verifies() {
    for (name, init) in common::backends("newlog") {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("d");
        let mut args = vec!["init"];
        args.extend(init.iter().map(String::as_str));
        ok(&dir, &args);
        let out = ok(&dir, &["verify"]);
        assert!(out.contains("entries: 0") && out.contains("0 people, of whom 0 wounded") && !out.contains("= ,"), "{name}: {out}");
        drop_pg(&init);
    }
}

/// 100 concurrent `token create` keep 100 tokens (16 of 20 were kept when
/// each rewrote tokens.json unlocked), and a revoke racing creates is
/// always in effect afterwards: on SQLite (tokens.json under a lock) and on
/// PostgreSQL (the log's `tokens` table; 40 at once there, within the
/// server's default 100 connections shared with the other tests).
#[test]
fn tokens_survive_concurrent_creates_and_revokes() {
    use std::process::{Command, Stdio};
    for (name, init) in backends("token_race") {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("ops");
        let mut args = vec!["init"];
        args.extend(init.iter().map(String::as_str));
        ok(&dir, &args);
        let spawn = |args: &[&str]| {
            Command::new(env!("CARGO_BIN_EXE_corridor")).arg("--data-dir").arg(&dir).args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
        };
        let n = if name == "sqlite" { 100 } else { 40 };
        let creates: Vec<_> = (0..n).map(|_| spawn(&["token", "create", "--role", "hq"])).collect();
        for c in creates {
            let o = c.wait_with_output().unwrap();
            assert!(o.status.success(), "{name}: {}", String::from_utf8_lossy(&o.stderr));
        }
        assert_eq!(ok(&dir, &["token", "list"]).lines().count(), n, "{name}");
        for round in 0..10 {
            let (_, id) = token(&dir, &["--role", "hq"]);
            let mut racing: Vec<_> = (0..5).map(|_| spawn(&["token", "create", "--role", "hq"])).collect();
            racing.push(spawn(&["token", "revoke", &id]));
            for c in racing {
                let o = c.wait_with_output().unwrap();
                assert!(o.status.success(), "{name}: {}", String::from_utf8_lossy(&o.stderr));
            }
            let list = ok(&dir, &["token", "list"]);
            let line = list.lines().find(|l| l.starts_with(&id)).unwrap_or_else(|| panic!("{name} round {round}: token {id} is gone"));
            assert!(line.contains("revoked"), "{name} round {round}: {line}");
            assert_eq!(list.lines().count(), n + 6 * (round + 1), "{name} round {round}");
        }
        drop_pg(&init);
    }
}

#[test]
fn damage_sites_become_each_districts_work_list_once() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = demo_dir(tmp.path(), &[]);
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/aleppo/unosat-damage-sites.geojson");
    let sites = serde_json::from_str::<serde_json::Value>(&std::fs::read_to_string(file).unwrap()).unwrap()["features"].as_array().unwrap().len() as u64;
    let out = ok(&dir, &["import-damage", file]);
    let num = |s: &str| s.replace(',', "").parse::<u64>().unwrap();
    let words: Vec<&str> = out.split_whitespace().collect();
    let (placed, outside) = (num(words[0]), num(words[6].trim_start_matches('(')));
    assert_eq!(placed + outside, sites, "every site is counted once: {out}");
    assert!(placed > sites / 2, "{out}");
    assert!(out.contains("UNOSAT") && out.contains("Columbia Center for Spatial Research"), "the attribution is shown: {out}");
    assert!(ok(&dir, &["import-damage", file]).contains(" 0 events newly appended"), "a second import appends nothing");
    let report = ok(&dir, &["report"]);
    assert!(report.contains(&format!("Damaged buildings assessed: {}", corridor::print::thousands(placed))), "{report}");
    // Districts must be declared first.
    let empty = tmp.path().join("empty");
    ok(&empty, &["init"]);
    assert!(fails(&empty, &["import-damage", file]).contains("unknown district"));
}

#[test]
fn bad_aftermath_records_are_refused_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = demo_dir(tmp.path(), &[]);
    let size = |dir: &Path| ok(dir, &["log", "show"]).lines().count();
    let before = size(&dir);
    let good = r#"{"v":1,"id":"aid-extra","time":"2017-07-01T10:00:00Z","author":"hq","body":{"aid_delivered":{"delivery":"aid-extra","commodity":"flour","tonnes":5.0,"families":40,"people":200,"district":"hanano","organisation":"SARC"}}}"#;
    let clearance = |hazard: &str, ha: f64| format!(r#"{{"v":1,"id":"c-extra","time":"2017-07-01T10:00:00Z","author":"hq","body":{{"clearance_recorded":{{"record":"c-extra","hazard":"{hazard}","district":"hanano","hectares":{ha},"road_km":1.0,"buildings":3,"team":"t"}}}}}}"#);
    let hazard = |ring: &str| format!(r#"{{"v":1,"id":"h-extra","time":"2017-07-01T10:00:00Z","author":"hq","body":{{"hazard_declared":{{"hazard":"h-extra","kind":"suspected_mined","status":"suspected","ring":{ring},"district":"hanano"}}}}}}"#);
    let cases = [
        (good.replace("\"tonnes\":5.0", "\"tonnes\":-5.0").replace("aid-extra", "aid-neg"), "body.aid_delivered.tonnes"),
        (clearance("no-such-area", 1.0), "unknown hazard area \"no-such-area\""),
        // Hanano's area is about 327 ha, 154 ha of it cleared already.
        (clearance("uxo-2017-hanano", 200.0), "which has 327."),
        (hazard("[[37.18,36.21],[37.19,36.21],[37.19,36.22],[37.18,36.22]]"), "does not close"),
        (hazard("[[37.18,36.21],[37.19,36.22],[37.19,36.21],[37.18,36.22],[37.18,36.21]]"), "crosses itself"),
    ];
    for (bad, want) in cases {
        let file = tmp.path().join("batch.jsonl");
        std::fs::write(&file, format!("{good}\n{bad}\n")).unwrap();
        let err = fails(&dir, &["log", "append", file.to_str().unwrap()]);
        assert!(err.contains(want) && err.contains("nothing"), "want {want:?} in: {err}");
        assert_eq!(size(&dir), before, "nothing appended ({want})");
    }
}
