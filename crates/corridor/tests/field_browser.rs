//! The field app in a real browser, as checkpoint officers and HQ use it
//! on phones: a Monaco operation is declared, `corridor token create
//! --link --qr-png` makes the officer's link (its QR code is read back by
//! an independent decoder), and headless Chromium (playwright-core,
//! `crates/corridor-server/tests/browser/field.mjs`) records passages
//! online and offline, across a reload, a browser restart and an app
//! update, then checks every receipt against the signed log; 503s, a
//! killed server, a revoked token and a tampered proof; HQ's halt reaching
//! the checkpoint screen; entries from the app's first storage schema.
//! Screenshots at phone size, in English and Arabic, land in
//! `target/tmp/field/`.
//!
//! On SQLite, and on PostgreSQL when DATABASE_URL is set (the PostgreSQL
//! run's screenshots go to `target/tmp/field-postgres/`).
//!
//! Needs what the dashboard's browser test needs (node, playwright-core in
//! `target/dashboard-npm`, Chromium); prints `skipped: …` without them.
//! `FIELD_N` (default 200) sets the passages recorded offline, `FIELD_BIG`
//! adds a queue of that many imported offline (the figure in the README).

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use common::{ok, token};

const MONACO_PBF: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/osm/monaco.osm.pbf");
const EXAMPLE: &str = include_str!("../../../docs/examples/monaco.toml");

fn rfc(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Reads a QR code from a greyscale PNG with an independent decoder (rqrr).
fn read_qr(png_path: &Path) -> String {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(png_path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.color_type, png::ColorType::Grayscale);
    let (w, h) = (info.width as usize, info.height as usize);
    let mut img = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| buf[y * w + x]);
    let grids = img.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code in the PNG");
    grids[0].decode().expect("the QR code decodes").1
}

/// On SQLite, and on PostgreSQL when DATABASE_URL is set.
#[test]
fn the_field_app_in_a_browser() {
    let (npm, chromium) = match common::browser_tools() {
        Ok(t) => t,
        Err(why) => return common::skip(&why),
    };
    for (backend, init) in common::backends("field") {
        run(&npm, &chromium, &backend, &init);
        if let [_, url, _, schema] = init.as_slice() {
            corridor_ledger::store::postgres::drop_schema(url, schema).expect("drop test schema");
        }
    }
}

fn run(npm: &Path, chromium: &Path, backend: &str, init: &[String]) {
    let t0 = Instant::now();
    let n: usize = std::env::var("FIELD_N").ok().and_then(|s| s.parse().ok()).unwrap_or(200);
    let big: usize = std::env::var("FIELD_BIG").ok().and_then(|s| s.parse().ok()).unwrap_or(0);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ops");
    let now = chrono::Utc::now();
    if !init.is_empty() {
        let mut args = vec!["init", "--origin", "ops.example.org/monaco-example"];
        args.extend(init.iter().map(String::as_str));
        ok(&dir, &args);
    }
    // The operation: the README's Monaco example, its window open now, and
    // enough buses for every passage (each counted once on its trip).
    let cnet = tmp.path().join("monaco.cnet");
    ok(tmp.path(), &["import", MONACO_PBF, "--out", cnet.to_str().unwrap()]);
    let buses = (n + 300 + big).to_string();
    let text = EXAMPLE
        .replace("2026-12-04T06:00:00Z", &rfc(now - chrono::Duration::hours(2)))
        .replace("2026-12-04T07:00:00Z", &rfc(now - chrono::Duration::minutes(30)))
        .replace("2026-12-04T15:00:00Z", &rfc(now + chrono::Duration::hours(6)))
        .replace("count = 6", &format!("count = {buses}"));
    let scenario = tmp.path().join("monaco.toml");
    std::fs::write(&scenario, text).unwrap();
    ok(&dir, &["apply", scenario.to_str().unwrap()]);
    let vehicles: Vec<String> = (1..=n + 300 + big).map(|i| format!("bus-{i:03}")).collect();
    let t = rfc(now - chrono::Duration::minutes(20));
    let live = tmp.path().join("live.jsonl");
    std::fs::write(
        &live,
        format!(
            "{}\n{}\n",
            serde_json::json!({"v": 1, "id": "open-1", "time": t, "author": "hq", "body": {"corridor_opened": {"corridor": "fontvieille-larvotto"}}}),
            serde_json::json!({"v": 1, "id": "convoy-1", "time": t, "author": "hq", "body": {"convoy_dispatched": {"convoy": "convoy-1", "corridor": "fontvieille-larvotto", "vehicles": vehicles}}})
        ),
    )
    .unwrap();
    ok(&dir, &["log", "append", live.to_str().unwrap()]);

    // A port for the app's origin, the same across the server's restarts.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let base = format!("http://127.0.0.1:{port}");
    let png_path = tmp.path().join("cp-fontvieille.png");
    let out = common::corridor(&dir, &["token", "create", "--role", "checkpoint", "--checkpoint", "cp-fontvieille", "--link", &base, "--qr", "--qr-png", png_path.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let link = stderr.lines().find_map(|l| l.strip_prefix("field app: ")).expect("the link").to_string();
    let secret = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let id = stderr.lines().find_map(|l| l.strip_prefix("token ")).and_then(|l| l.split_whitespace().next()).expect("the token id").to_string();
    assert!(link.starts_with(&format!("{base}/field/#token={secret}&key=ops.example.org/monaco-example%2B")), "{link}");
    assert!(stderr.contains('█'), "a QR code in the terminal");
    assert_eq!(read_qr(&png_path), link, "the PNG's QR code is the link");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&png_path).unwrap().permissions().mode() & 0o777, 0o600, "the QR code holds the token: owner only");
    }
    let (hq, _) = token(&dir, &["--role", "hq"]);
    let hq_out = common::corridor(&dir, &["token", "create", "--role", "hq", "--link", &base]);
    let hq_link = String::from_utf8_lossy(&hq_out.stderr).lines().find_map(|l| l.strip_prefix("field app: ")).expect("HQ's link").to_string();

    // The app the server serves, in a folder the test can publish a new version to.
    let field = tmp.path().join("field-app");
    std::fs::create_dir(&field).unwrap();
    for f in ["index.html", "app.js", "sw.js", "manifest.webmanifest", "icon.svg"] {
        std::fs::copy(Path::new(env!("CARGO_MANIFEST_DIR")).join("../corridor-server/field").join(f), field.join(f)).unwrap();
    }
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join(if backend == "sqlite" { "field".to_string() } else { format!("field-{backend}") });
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../corridor-server/tests/browser/field.mjs");
    let out = Command::new("node")
        .arg(&script)
        .env("CORRIDOR_BIN", env!("CARGO_BIN_EXE_corridor"))
        .env("DATA_DIR", &dir)
        .env("PORT", port.to_string())
        .env("FIELD_DIR", &field)
        .env("CP_LINK", &link)
        .env("CP_TOKEN_ID", &id)
        .env("HQ_LINK", &hq_link)
        .env("HQ_TOKEN", &hq)
        .env("SHOTS", &shots)
        .env("N", n.to_string())
        .env("BIG", big.to_string())
        .env("EXPORT_FILE", tmp.path().join("exported.jsonl"))
        .env("PLAYWRIGHT_CORE_DIR", npm)
        .env("CHROMIUM", chromium)
        .env_remove("CORRIDOR_DATABASE_URL")
        .stderr(std::process::Stdio::inherit())
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(out.status.success(), "{backend}: the field browser test failed; screenshots in {}", shots.display());
    for name in ["checkpoint-en", "checkpoint-ar", "checkpoint-offline", "hq-en", "hq-ar"] {
        let p = shots.join(format!("{name}.png"));
        assert!(std::fs::metadata(&p).map(|m| m.len() > 10_000).unwrap_or(false), "no screenshot {}", p.display());
    }
    // The queue the app exported is what `corridor log append` takes: its
    // entries, sent since, are in the log already, so nothing is added.
    let appended = ok(&dir, &["log", "append", tmp.path().join("exported.jsonl").to_str().unwrap()]);
    assert!(appended.contains("appended 0 new event(s), 2 already in the log"), "{appended}");
    // The log checks out after all of it.
    let v = ok(&dir, &["verify"]);
    assert!(v.contains("verified"), "{v}");
    println!("{backend}: field browser test passed in {:.1} s; screenshots in {}", t0.elapsed().as_secs_f64(), shots.display());
}
