//! Crash safety, with `corridor-bench crash-writer` as the writer: a writer
//! is killed with SIGKILL at random moments; every append it had
//! acknowledged must survive, the log must verify, and nothing may be
//! half-written. And while it appends, the real `corridor` (built beside
//! `corridor-bench`: `cargo build -p corridor`) reads, exports and verifies
//! the log, and refuses to write.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use corridor::datadir::DataDir;
use rand::{Rng, SeedableRng};

/// The `corridor` program beside `corridor-bench` in the same target directory.
fn corridor_exe() -> PathBuf {
    let exe = Path::new(env!("CARGO_BIN_EXE_corridor-bench")).with_file_name(format!("corridor{}", std::env::consts::EXE_SUFFIX));
    assert!(exe.is_file(), "{} is missing: run `cargo build -p corridor` first", exe.display());
    exe
}

fn corridor(dir: &Path, args: &[&str]) -> Output {
    Command::new(corridor_exe()).arg("--data-dir").arg(dir).args(args).env_remove("CORRIDOR_DATABASE_URL").output().expect("the corridor binary runs")
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let out = corridor(dir, args);
    assert!(out.status.success(), "corridor {args:?} failed:\n{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8 output")
}

fn fails(dir: &Path, args: &[&str]) -> String {
    let out = corridor(dir, args);
    assert!(!out.status.success(), "corridor {args:?} should have failed:\n{}", String::from_utf8_lossy(&out.stdout));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `init` arguments for each backend: SQLite, and PostgreSQL when DATABASE_URL is set.
fn backends(tag: &str) -> Vec<Vec<String>> {
    let mut v = vec![vec![]];
    if let Some(url) = corridor_testkit::database_url() {
        v.push(vec!["--database-url".into(), url, "--pg-schema".into(), corridor_testkit::unique_schema(tag)]);
    }
    v
}

/// `corridor-bench crash-writer --data DIR`, its acknowledgements on a pipe.
fn crash_writer(dir: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_corridor-bench"))
        .args(["crash-writer", "--data"])
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("corridor-bench runs")
}

fn crash_run(init: &[String], kills: usize) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("d");
    let mut args = vec!["init"];
    args.extend(init.iter().map(String::as_str));
    ok(&dir, &args);
    let seed: u64 = rand::random();
    eprintln!("crash test seed {seed}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut acks_per_run = Vec::new();
    for run in 0..kills {
        let mut child = crash_writer(&dir);
        let stdout = child.stdout.take().unwrap();
        let acked2 = acked.clone();
        let (first_ack, got_first) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut n = 0;
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                // Only a complete line is an acknowledgement.
                if let Some(ids) = line.strip_prefix("ACK ") {
                    let mut a = acked2.lock().unwrap();
                    a.extend(ids.split(' ').map(String::from));
                    n += 1;
                    if n == 1 {
                        let _ = first_ack.send(());
                    }
                }
            }
            n
        });
        // Every fourth run is killed at a random moment from its start (often
        // while it reopens the log); the others at a random moment after
        // their first acknowledged append, so that most kills land mid-write.
        if run % 4 != 0 {
            let _ = got_first.recv_timeout(Duration::from_secs(60));
        }
        std::thread::sleep(Duration::from_millis(rng.gen_range(5..300)));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        acks_per_run.push(reader.join().unwrap());
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acks_per_run.iter().filter(|&&n| n > 0).count() >= kills / 2,
        "the writer should make progress in most runs (acknowledged batches per run: {acks_per_run:?})"
    );
    let mut d = DataDir::open(&dir).unwrap();
    let ledger = d.ledger().expect("the log reopens after every crash");
    for id in &acked {
        assert!(ledger.position_of(id).is_some(), "acknowledged event {id} was lost");
    }
    eprintln!("{} kills, {} acknowledged events, {} in the log", kills, acked.len(), ledger.len());
    drop(ledger);
    drop(d);
    let out = ok(&dir, &["verify"]);
    assert!(out.contains("verified:"), "{out}");
    if let [_, url, _, schema] = init {
        corridor_ledger::store::postgres::drop_schema(url, schema).unwrap();
    }
}

#[test]
fn sigkill_never_loses_an_acknowledged_append() {
    for init in backends("crash") {
        crash_run(&init, 24);
    }
}

#[test]
fn reads_and_verify_work_while_another_process_appends() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("d");
    let out = ok(&dir, &["demo"]);
    assert!(out.contains("— all reconciled"), "{out}");
    let mut writer = crash_writer(&dir);
    // Wait until it holds the lock and has appended; keep reading its
    // acknowledgements so that it keeps writing.
    let stdout = writer.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let _ = tx.send(line);
        }
    });
    let first = rx.recv().unwrap().unwrap();
    assert!(first.starts_with("ACK "), "{first}");
    let result = std::panic::catch_unwind(|| {
        let err = fails(&dir, &["log", "append", "-"]);
        assert!(err.contains("another corridor process is writing"), "{err}");
        for _ in 0..3 {
            let leaves = tmp.path().join("live.b64");
            let cp_file = tmp.path().join("live-cp.txt");
            ok(&dir, &["log", "export", "--out", leaves.to_str().unwrap(), "--checkpoint-out", cp_file.to_str().unwrap()]);
            let size: usize = std::fs::read_to_string(&cp_file).unwrap().lines().nth(1).unwrap().parse().unwrap();
            assert_eq!(std::fs::read_to_string(&leaves).unwrap().lines().count(), size, "export stops at its checkpoint");
            assert!(ok(&dir, &["log", "checkpoint"]).contains("corridor.invalid/aleppo-2016-demo\n"));
            assert!(ok(&dir, &["log", "show", "--from", "6000"]).contains("aid_delivered"));
            assert!(ok(&dir, &["report", "--format", "hxl"]).contains("#adm2"), "a report reads the log while it grows");
            let out = ok(&dir, &["verify"]);
            assert!(out.contains("verified:"), "{out}");
        }
    });
    writer.kill().unwrap();
    writer.wait().unwrap();
    result.unwrap();
}

/// The writer is tooling: refused with a readable error, not a panic, when
/// the directory holds no log.
#[test]
fn the_crash_writer_needs_a_data_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_corridor-bench")).args(["crash-writer", "--data"]).arg(tmp.path().join("none")).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no Corridor log in") && err.contains("corridor init"), "{err}");
}
