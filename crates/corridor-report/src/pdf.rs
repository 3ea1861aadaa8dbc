//! PDF from the HTML page, printed by headless Chromium (Debian's
//! `chromium`), which lays out and shapes Arabic right-to-left correctly.
//! Nothing is fetched: the page is self-contained and Chromium runs with its
//! network features off.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The first Chromium on the PATH.
pub fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"].iter().find_map(|name| {
        std::env::var_os("PATH").and_then(|paths| std::env::split_paths(&paths).map(|p| p.join(name)).find(|p| p.is_file()))
    })
}

/// Runs headless Chromium on `input` (an HTML or SVG file) with `extra` flags.
pub fn run_chromium(input: &Path, extra: &[String]) -> Result<(), String> {
    let bin = chromium().ok_or("PDF and PNG output need Chromium: install it (apt-get install chromium), or use --format html")?;
    let profile = tempdir()?;
    let out = Command::new(&bin)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(format!("file://{}", input.canonicalize().map_err(|e| format!("{}: {e}", input.display()))?.display()))
        .output()
        .map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
    if !out.status.success() {
        return Err(format!("{} failed: {}", bin.display(), String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or("")));
    }
    Ok(())
}

fn tempdir() -> Result<tempfile::TempDir, String> {
    tempfile::tempdir().map_err(|e| format!("cannot make a temporary folder: {e}"))
}

/// Prints `html` to the PDF file `out` (A4).
pub fn html_to_pdf(html: &str, out: &Path) -> Result<(), String> {
    let dir = tempdir()?;
    let page = dir.path().join("report.html");
    std::fs::write(&page, html).map_err(|e| format!("{}: {e}", page.display()))?;
    let abs = std::env::current_dir().map_err(|e| e.to_string())?.join(out);
    run_chromium(&page, &["--no-pdf-header-footer".into(), format!("--print-to-pdf={}", abs.display())])?;
    match std::fs::read(&abs) {
        Ok(b) if b.starts_with(b"%PDF") => Ok(()),
        _ => Err(format!("Chromium wrote no PDF to {}", abs.display())),
    }
}

/// A PNG screenshot of an SVG chart (`width`×`height`).
pub fn svg_to_png(svg: &str, out: &Path, width: u32, height: u32) -> Result<(), String> {
    let dir = tempdir()?;
    let file = dir.path().join("chart.svg");
    std::fs::write(&file, svg).map_err(|e| format!("{}: {e}", file.display()))?;
    let abs = std::env::current_dir().map_err(|e| e.to_string())?.join(out);
    run_chromium(&file, &[format!("--screenshot={}", abs.display()), format!("--window-size={width},{height}"), "--hide-scrollbars".into()])
}
