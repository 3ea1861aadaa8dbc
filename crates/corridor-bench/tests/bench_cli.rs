//! The benchmark programs run, on loads small enough for the suite.

use std::process::Command;

fn bench(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_corridor-bench")).args(args).output().expect("corridor-bench runs");
    assert!(out.status.success(), "corridor-bench {args:?} failed:\n{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8 output")
}

#[test]
fn every_benchmark_has_help() {
    for b in ["ledger", "route", "plan", "serve", "monitor", "cluster", "jobs", "broadcast", "crash-writer"] {
        assert!(bench(&[b, "--help"]).contains("Usage: corridor-bench"), "{b}");
    }
}

#[test]
fn the_ledger_benchmark_runs_on_a_small_load() {
    let tmp = tempfile::tempdir().unwrap();
    let out = bench(&["ledger", "--events", "9000", "--rounds", "1", "--writers", "3", "--tree", "1000", "--proofs", "100", "--dir", tmp.path().to_str().unwrap()]);
    assert!(out.contains("median: ledger") && out.contains("proofs/s"), "{out}");
}

#[test]
fn the_monitor_benchmark_runs_on_a_small_log() {
    let tmp = tempfile::tempdir().unwrap();
    let out = bench(&["monitor", "--entries", "3000", "--seconds", "0.5", "--connections", "4", "--dir", tmp.path().to_str().unwrap()]);
    assert!(out.contains("server / static:") && out.contains("size 3000: 3000 new entries") && out.contains("follow / download:"), "{out}");
}

#[test]
fn the_cluster_benchmark_says_it_needs_postgresql() {
    let out = Command::new(env!("CARGO_BIN_EXE_corridor-bench")).args(["cluster"]).env_remove("DATABASE_URL").output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("needs PostgreSQL") && err.contains("--database-url"), "{err}");
}

/// The jobs benchmark generates a valid operation and runs the real
/// `corridor` program on it (built beside this one by `cargo test
/// --workspace`): every command must succeed, `verify` included, so a
/// generated log the views or the checks refuse fails here.
#[test]
fn the_jobs_benchmark_runs_on_a_small_operation() {
    let tmp = tempfile::tempdir().unwrap();
    let out = bench(&["jobs", "--events", "3000", "--vehicles", "100", "--convoy-size", "20", "--reps", "1", "--dir", tmp.path().to_str().unwrap()]);
    for line in ["events appended", "verify (baseline", "log export", "report (Markdown)", "report --format hxl --table evacuation", "report --format hxl (districts)"] {
        assert!(out.contains(line), "{line:?} missing from:\n{out}");
    }
}

#[test]
fn the_broadcast_benchmark_kills_resumes_and_checks_every_recipient_once() {
    // It runs the real `corridor` next to corridor-bench (`cargo build -p corridor` builds it).
    let corridor = std::path::Path::new(env!("CARGO_BIN_EXE_corridor-bench")).with_file_name(format!("corridor{}", std::env::consts::EXE_SUFFIX));
    assert!(corridor.is_file(), "{} is missing: run `cargo build -p corridor` first", corridor.display());
    let tmp = tempfile::tempdir().unwrap();
    let out = bench(&["broadcast", "--recipients", "30000", "--dir", tmp.path().to_str().unwrap()]);
    assert!(out.contains("8 messages × 30000 recipients, each recipient in each exactly once; 8 notices recorded"), "{out}");
    assert!(out.contains("crash: SIGKILL after") && out.contains("resumed: "), "{out}");
    let peak = |line: &str| -> f64 {
        let l = out.lines().find(|l| l.contains(line)).unwrap_or_else(|| panic!("{out}"));
        l.split("peak RSS ").nth(1).and_then(|r| r.split(' ').next()).and_then(|m| m.parse().ok()).unwrap_or_else(|| panic!("{l}"))
    };
    assert!(peak("  broadcast:") > 1.0 && peak("  broadcast:") < 100.0, "{out}");
    // Half a message was on disk when it was killed, and the resumed run made it whole.
    let crash = out.lines().find(|l| l.contains("crash:")).unwrap();
    assert!(crash.contains("1 being written"), "{crash}");
}
