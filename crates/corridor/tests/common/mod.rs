//! Helpers for the end-to-end tests: run the real `corridor` binary.

#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

pub fn corridor(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_corridor"))
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .env_remove("CORRIDOR_DATABASE_URL")
        .output()
        .expect("the corridor binary runs")
}

pub fn ok(dir: &Path, args: &[&str]) -> String {
    let out = corridor(dir, args);
    assert!(out.status.success(), "corridor {args:?} failed:\n{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8 output")
}

pub fn fails(dir: &Path, args: &[&str]) -> String {
    let out = corridor(dir, args);
    assert!(!out.status.success(), "corridor {args:?} should have failed:\n{}", String::from_utf8_lossy(&out.stdout));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The PostgreSQL URL when the PostgreSQL tests should run.
pub fn database_url() -> Option<String> {
    match std::env::var("DATABASE_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            eprintln!("skipped: DATABASE_URL not set (PostgreSQL tests)");
            None
        }
    }
}

/// A schema name no other test run uses.
pub fn unique_schema(tag: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    format!("t_{tag}_{}_{nanos}", std::process::id())
}

/// The backends a test runs on: `init` arguments for each.
pub fn backends(tag: &str) -> Vec<(String, Vec<String>)> {
    let mut v = vec![("sqlite".to_string(), vec![])];
    if let Some(url) = database_url() {
        v.push(("postgres".into(), vec!["--database-url".into(), url, "--pg-schema".into(), unique_schema(tag)]));
    }
    v
}
