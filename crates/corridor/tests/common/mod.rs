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

#[allow(unused_imports)]
pub use corridor_testkit::{database_url, skip, unique_schema};

/// The backends a test runs on: `init` arguments for each.
pub fn backends(tag: &str) -> Vec<(String, Vec<String>)> {
    let mut v = vec![("sqlite".to_string(), vec![])];
    if let Some(url) = database_url() {
        v.push(("postgres".into(), vec!["--database-url".into(), url, "--pg-schema".into(), unique_schema(tag)]));
    }
    v
}

/// Drops the PostgreSQL schema named in `init` arguments from [`backends`]
/// (`--database-url URL --pg-schema SCHEMA`; nothing for SQLite's) when
/// dropped: keep it after whatever holds the schema open.
pub struct DropSchema(pub Vec<String>);

impl Drop for DropSchema {
    fn drop(&mut self) {
        if let [_, url, _, schema] = self.0.as_slice() {
            if let Err(e) = corridor_ledger::store::postgres::drop_schema(url, schema) {
                eprintln!("cannot drop the test schema {schema}: {e}");
            }
        }
    }
}

/// `../shared/data/PATH`.
pub fn shared(path: &str) -> String {
    format!("{}/../../../shared/data/{path}", env!("CARGO_MANIFEST_DIR"))
}

/// Declares operation `id` in `zone` on the prepared network `cnet`: copies
/// it to `DIR/map.cnet` and appends the `operation_declared` event with its
/// SHA-256, dated `time`.
pub fn declare_operation(dir: &Path, id: &str, name: &str, zone: &str, cnet: &Path, map_name: &str, time: &str) {
    let bytes = std::fs::read(cnet).unwrap();
    std::fs::write(dir.join("map.cnet"), &bytes).unwrap();
    let event = serde_json::json!({
        "v": 1, "id": format!("operation-{id}"), "time": time, "author": "hq",
        "body": {"operation_declared": {
            "operation": id, "name": name, "timezone": zone, "languages": ["ar", "en"],
            "map": {"name": map_name, "attribution": "© OpenStreetMap contributors, ODbL", "sha256": corridor::datadir::sha256_hex(&bytes)}
        }}
    });
    let file = dir.join(format!("operation-{id}.json"));
    std::fs::write(&file, event.to_string()).unwrap();
    ok(dir, &["log", "append", file.to_str().unwrap()]);
}


/// A `corridor` server (`serve`, `monitor witness`) on a loopback port over
/// `dir`; killed on drop.
pub struct Served {
    pub child: std::process::Child,
    /// `http://127.0.0.1:PORT`
    pub base: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Served {
    /// With the public rate limit far above what a test sends.
    pub fn start(dir: &Path, extra: &[&str]) -> Served {
        let mut args = vec!["--public-rate", "100000"];
        args.extend_from_slice(extra);
        Served::start_with(dir, &args)
    }

    /// One of several servers of a PostgreSQL log (`serve --advertise`),
    /// on a free loopback port.
    pub fn join(dir: &Path) -> Served {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let (listen, base) = (format!("127.0.0.1:{port}"), format!("http://127.0.0.1:{port}"));
        Served::start(dir, &["--listen", &listen, "--advertise", &base])
    }

    /// `corridor serve --listen 127.0.0.1:0 ARGS…` (unless ARGS has a --listen).
    pub fn start_with(dir: &Path, args: &[&str]) -> Served {
        let listen: &[&str] = if args.contains(&"--listen") { &[] } else { &["--listen", "127.0.0.1:0"] };
        Served::spawn(dir, &[&["serve"], listen, args].concat())
    }

    /// `corridor --data-dir DIR ARGS…`, a command that serves: its address
    /// is the first `http://ADDR/` of the first line it prints ("serving
    /// the log … at http://ADDR/ (…)", "witnessing … at http://ADDR/add-checkpoint").
    pub fn spawn(dir: &Path, args: &[&str]) -> Served {
        use std::io::{BufRead, BufReader};
        let mut child = Command::new(env!("CARGO_BIN_EXE_corridor"))
            .arg("--data-dir")
            .arg(dir)
            .args(args)
            .env_remove("CORRIDOR_DATABASE_URL")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("corridor {args:?} does not start: {e}"));
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("the server's first line");
        let addr = line.split("http://").nth(1).and_then(|r| r.split('/').next()).unwrap_or_else(|| panic!("corridor {args:?}: no address in {line:?}")).to_string();
        Served { child, base: format!("http://{addr}") }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

/// A new token: (secret, id).
pub fn token(dir: &Path, args: &[&str]) -> (String, String) {
    let mut all = vec!["token", "create"];
    all.extend_from_slice(args);
    let out = corridor(dir, &all);
    assert!(out.status.success(), "token create {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    let secret = String::from_utf8(out.stdout).expect("utf-8").trim().to_string();
    // stderr: "token ID (role…): shown once…"
    let id = String::from_utf8_lossy(&out.stderr).split_whitespace().nth(1).expect("a token id").to_string();
    (secret, id)
}

/// A child process killed on drop.
#[allow(dead_code)]
pub struct Killed(pub std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What a browser test needs (node, playwright-core in
/// `target/dashboard-npm` or `PLAYWRIGHT_CORE_DIR`, Chromium at
/// `/usr/bin/chromium` or `CHROMIUM`): (playwright-core's folder,
/// Chromium), or why it cannot run.
#[allow(dead_code)]
pub fn browser_tools() -> Result<(std::path::PathBuf, std::path::PathBuf), String> {
    use std::path::PathBuf;
    match Command::new("node").arg("--version").output() {
        Ok(o) if o.status.success() => {}
        _ => return Err("node is not installed".into()),
    }
    // CARGO_TARGET_TMPDIR is <target>/tmp.
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).parent().expect("target dir").to_path_buf();
    let npm = std::env::var_os("PLAYWRIGHT_CORE_DIR").map(PathBuf::from).unwrap_or_else(|| target.join("dashboard-npm"));
    if !npm.join("node_modules/playwright-core/package.json").exists() {
        return Err(format!("playwright-core is not in {} (npm install --prefix target/dashboard-npm --no-audit --no-fund playwright-core@1)", npm.display()));
    }
    let chromium = std::env::var_os("CHROMIUM").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    if !chromium.exists() {
        return Err(format!("no Chromium at {} (apt-get install chromium, or set CHROMIUM)", chromium.display()));
    }
    Ok((npm, chromium))
}
