//! `docs/events.md` is what `corridor_model::reference::events_markdown`
//! generates from the model (as ripgrep checks its generated docs).

use std::path::Path;

use corridor_model::reference::{events_markdown, REGENERATE};

#[test]
fn docs_events_md_is_generated_from_the_model() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/events.md");
    let want = events_markdown() + "\n";
    if std::env::var_os("CORRIDOR_REGENERATE_DOCS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &want).unwrap();
        eprintln!("wrote {}", path.display());
        return;
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    if have != want {
        let line = have.lines().zip(want.lines()).position(|(a, b)| a != b).unwrap_or_else(|| have.lines().count().min(want.lines().count()));
        panic!(
            "docs/events.md is not what the model generates (first difference at line {}):\n  in the file:   {:?}\n  generated:     {:?}\nThe event types or their examples changed: regenerate it with\n\n    {REGENERATE}\n\nand commit docs/events.md.",
            line + 1,
            have.lines().nth(line).unwrap_or("(end of file)"),
            want.lines().nth(line).unwrap_or("(end of file)"),
        );
    }
}
