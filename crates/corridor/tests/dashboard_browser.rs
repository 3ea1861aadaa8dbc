//! The dashboard end to end in a real browser: `corridor demo --serve`
//! replays the reference evacuation into a live server, and headless
//! Chromium (driven by playwright-core, `crates/corridor-server/tests/browser/dashboard.mjs`)
//! follows it in the monitor view, opens a convoy, switches to Arabic and
//! checks the public view shows aggregates only. Screenshots land in
//! `target/tmp/dashboard/`.
//!
//! Needs node, playwright-core in `target/dashboard-npm`
//! (`npm install --prefix target/dashboard-npm --no-audit --no-fund playwright-core@1`)
//! and Chromium (`/usr/bin/chromium`, or `CHROMIUM`); prints `skipped: …`
//! and passes without them (fails under `CORRIDOR_TEST_REQUIRE_ALL=1`, as in CI).

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

#[test]
fn dashboard_in_a_browser() {
    let (npm, chromium) = match common::browser_tools() {
        Ok(t) => t,
        Err(why) => return common::skip(&why),
    };
    let t0 = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("live");
    let child = Command::new(env!("CARGO_BIN_EXE_corridor"))
        .arg("--data-dir")
        .arg(&dir)
        .args(["demo", "--serve", "--listen", "127.0.0.1:0", "--replay-minutes", "0.5"])
        .env_remove("CORRIDOR_DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the corridor binary runs");
    // Killed when the test ends, however it ends.
    let mut server = common::Killed(child);

    // The URLs it prints; then keep draining its output.
    let stdout = server.0.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            println!("server: {line}");
            let _ = tx.send(line);
        }
    });
    let (mut public, mut monitor) = (None, None);
    let deadline = Instant::now() + Duration::from_secs(90);
    while public.is_none() || monitor.is_none() {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx.recv_timeout(left).unwrap_or_else(|_| panic!("`corridor demo --serve` printed no URLs within 90 s"));
        let url = line.split_whitespace().find(|w| w.starts_with("http://")).map(String::from);
        if line.starts_with("dashboard:") {
            public = url;
        } else if line.starts_with("monitor view:") {
            monitor = url;
        }
    }
    let (public, monitor) = (public.unwrap(), monitor.unwrap());
    assert!(monitor.contains("#token="), "{monitor}");

    // A checkpoint officer's link, for the checkpoint view: made once the
    // replay has declared the corridors, written to a file the browser
    // script reads when it gets there.
    let checkpoint_file = tmp.path().join("checkpoint-url");
    {
        let (dir, file, public) = (dir.clone(), checkpoint_file.clone(), public.clone());
        std::thread::spawn(move || {
            for _ in 0..600 {
                let out = Command::new(env!("CARGO_BIN_EXE_corridor"))
                    .arg("--data-dir")
                    .arg(&dir)
                    .args(["token", "create", "--role", "checkpoint", "--checkpoint", "cp1-ramouseh-bridge"])
                    .env_remove("CORRIDOR_DATABASE_URL")
                    .output()
                    .unwrap();
                if out.status.success() {
                    let url = format!("{public}#token={}", String::from_utf8_lossy(&out.stdout).trim());
                    std::fs::write(file.with_extension("tmp"), url).unwrap();
                    std::fs::rename(file.with_extension("tmp"), &file).unwrap();
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        });
    }

    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../corridor-server/tests/browser/dashboard.mjs");
    let status = Command::new("node")
        .arg(&script)
        .arg(&monitor)
        .arg(&public)
        .arg(&shots)
        .env("PLAYWRIGHT_CORE_DIR", &npm)
        .env("CHECKPOINT_URL_FILE", &checkpoint_file)
        .env("CHROMIUM", &chromium)
        .status()
        .expect("node runs");
    assert!(status.success(), "the browser test failed ({status}); screenshots so far in {}", shots.display());
    for name in ["monitor-en", "monitor-ar", "public", "convoy-details", "checkpoint"] {
        let p = shots.join(format!("{name}.png"));
        assert!(std::fs::metadata(&p).map(|m| m.len() > 10_000).unwrap_or(false), "no screenshot {}", p.display());
    }
    println!("dashboard browser test passed in {:.1} s; screenshots in {}", t0.elapsed().as_secs_f64(), shots.display());
    drop(server);
}
