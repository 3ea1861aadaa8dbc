//! Test helpers shared by the workspace's test suites (a dev-dependency,
//! never published): one rule for a test whose outside tool (Chromium,
//! xmllint, kannel, …) or PostgreSQL database is missing.
//!
//! Such a test calls [`skip`] and returns: on a developer's machine it
//! prints `skipped: WHY` and passes. Under `CORRIDOR_TEST_REQUIRE_ALL=1`
//! (`.ci/run` sets it, after installing every tool) the same call fails the
//! test, so CI cannot pass a test that did not run.

/// The variable under which a missing tool or database fails the test
/// instead of skipping it.
pub const REQUIRE_ALL: &str = "CORRIDOR_TEST_REQUIRE_ALL";

/// Whether every test must run: [`REQUIRE_ALL`] is set to anything but
/// empty or `0`.
pub fn require_all() -> bool {
    std::env::var_os(REQUIRE_ALL).is_some_and(|v| !v.is_empty() && v != "0")
}

/// A test, or a part of one, cannot run here: `why` says what is missing
/// and how to install it. Prints `skipped: WHY` and returns; under
/// [`REQUIRE_ALL`] panics with `why` instead.
#[track_caller]
pub fn skip(why: &str) {
    if require_all() {
        panic!("{why}\n({REQUIRE_ALL} is set, as .ci/run sets it: a test that cannot run fails. Install what is missing (.ci/run's install lines say how), or unset {REQUIRE_ALL} to skip it.)");
    }
    eprintln!("skipped: {why}");
}

/// The PostgreSQL URL (`DATABASE_URL`) when the PostgreSQL tests run; else
/// [`skip`]s them.
#[track_caller]
pub fn database_url() -> Option<String> {
    match std::env::var("DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            skip("DATABASE_URL not set (PostgreSQL tests): set it, e.g. DATABASE_URL=postgres://postgres@127.0.0.1:5432/test (.ci/pg-up starts a server)");
            None
        }
    }
}

/// A PostgreSQL schema name no other test or test run uses: `t_TAG_PID_N`.
pub fn unique_schema(tag: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    format!("t_{tag}_{}_{nanos}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemas_differ_within_one_run() {
        assert_ne!(unique_schema("a"), unique_schema("a"));
        assert!(unique_schema("x").starts_with(&format!("t_x_{}_", std::process::id())));
    }
}
