//! The A4 leaflet of a reference notice, printed to PDF by Chromium and
//! read back with poppler-utils: one A4 page whose text layer holds the
//! hours in English and in Arabic (Arabic-Indic digits, logical order), the
//! Arabic font embedded. Page 1 is kept as a PNG in
//! `target/tmp/notify/leaflet-ID.png` to look at.

mod common;

use std::path::Path;
use std::process::Command;

use chrono::{DateTime, Utc};
use corridor_aleppo as aleppo;
use corridor_geo::{PreparedNetwork, Router};
use corridor_model::Event;
use corridor_notify::render::arabic_digits;
use corridor_notify::{content, leaflet, Lang, Part, Renderer};
use corridor_plan::scenario::{Scenario, ALEPPO_2016};

fn setup() -> (Vec<Event>, Router) {
    let sc = Scenario::parse(ALEPPO_2016, "aleppo-2016.toml").unwrap();
    let router = Router::new(PreparedNetwork::prepare(aleppo::builtin_network().unwrap()));
    let events = common::declared("Asia/Damascus", corridor_plan::sim::simulate(&sc, &router).unwrap().events);
    (events, router)
}

fn have(tool: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
}

fn run(tool: &str, args: &[&str]) -> String {
    let out = Command::new(tool).args(args).output().unwrap_or_else(|e| panic!("{tool}: {e}"));
    assert!(out.status.success(), "{tool} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// The page's text: tags dropped, entities kept.
fn strip_tags(s: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in s.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

/// Text with whitespace runs (including line breaks) made single spaces.
fn flat(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// pdftotext's text with the pieces of an Arabic word (RLE-wrapped and
/// adjacent, in visual order) joined in reading order and the other bidi
/// marks made spaces.
fn normalize(s: &str) -> String {
    let (rle, pdf) = ('\u{202B}', '\u{202C}');
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find(rle) {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let mut pieces = Vec::new();
        while let Some(body) = rest.strip_prefix(rle) {
            let Some(j) = body.find(pdf) else { break };
            pieces.push(&body[..j]);
            rest = &body[j + pdf.len_utf8()..];
        }
        pieces.reverse();
        // A run's space may sit at its far end: keep a space at its edges.
        out.push(' ');
        out.push_str(&pieces.concat());
        out.push(' ');
    }
    out.push_str(rest);
    out.chars().map(|c| if matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}') { ' ' } else { c }).collect()
}

/// The runs of adjacent Arabic-only words (letters only: no digits, Latin,
/// punctuation or short vowels, which pdftotext may split off) of `text`,
/// per line.
fn arabic_words(text: &str) -> Vec<Vec<String>> {
    let arabic = |w: &str| !w.is_empty() && w.chars().all(|c| ('\u{0621}'..='\u{064A}').contains(&c));
    let mut runs = Vec::new();
    for line in text.lines() {
        let mut run: Vec<String> = Vec::new();
        for tok in line.split(' ') {
            let core = tok.trim_end_matches(|c: char| "،؛.:)".contains(c)).trim_start_matches('(');
            if arabic(core) {
                run.push(core.to_string());
            } else if !run.is_empty() {
                runs.push(std::mem::take(&mut run));
            }
            // Punctuation ends a run (it may sit between two wrapped lines).
            if core.len() != tok.len() && !run.is_empty() {
                runs.push(std::mem::take(&mut run));
            }
        }
        if !run.is_empty() {
            runs.push(run);
        }
    }
    runs
}

#[test]
fn reference_leaflet_is_one_a4_page_with_the_hours_in_both_languages() {
    let (events, router) = setup();
    let at: DateTime<Utc> = "2016-12-15T04:30:00Z".parse().unwrap();
    let n = content::current(&events, at, Some("ramouseh-rashidin4"), Some("window-15dec")).unwrap().remove(0);
    let r = Renderer::built_in();

    let map = leaflet::map_layer(&router, &n).unwrap();
    assert!(map.route.len() >= 2 && !map.roads.is_empty(), "a route and roads around it");
    assert_eq!(map.attribution, router.network().meta.attribution);
    assert!(!map.attribution.is_empty());
    let page = leaflet::html(&n, &r, Some(&map)).unwrap();

    // Self-contained: nothing to fetch, and the notice text from the templates.
    for bad in ["http:", "https:", "src=", "<link", "@import", "@font-face", "url(http", "url(data", "//"] {
        assert!(!page.contains(bad), "the page refers to something outside it ({bad})");
    }
    assert!(page.contains(r#"lang="ar" dir="rtl""#));
    assert!(page.contains("@page { size: A4"));
    assert!(page.contains("Noto Naskh Arabic"));
    let text_of_page = strip_tags(&page);
    for lang in Lang::ALL {
        for part in [Part::Headline, Part::Message, Part::Instruction] {
            for line in r.render(&n, lang, part).unwrap().lines() {
                let line = line.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;");
                assert!(text_of_page.contains(&line), "{part:?} {lang:?} line missing: {line}");
            }
        }
    }
    for c in &n.checkpoints {
        assert!(page.contains(&c.name), "checkpoint {} not on the map", c.name);
    }

    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("notify");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("leaflet-{}.html", n.id)), &page).unwrap();

    // Without Chromium the error says how to install it (PATH emptied for
    // the look-up only; this file's only test, so no other thread reads it).
    if let Some(path) = std::env::var_os("PATH") {
        std::env::set_var("PATH", "");
        let e = leaflet::pdf(&page, &dir.join("never.pdf"));
        std::env::set_var("PATH", path);
        let e = e.unwrap_err().to_string();
        assert!(e.contains("apt-get install chromium"), "{e}");
    }

    if corridor_report::pdf::chromium().is_none() {
        corridor_testkit::skip("no Chromium on the PATH (apt-get install chromium)");
        return;
    }
    if !["pdfinfo", "pdftotext", "pdffonts", "pdftoppm"].iter().all(|t| have(t)) {
        corridor_testkit::skip("poppler-utils missing (apt-get install poppler-utils)");
        return;
    }
    let pdf = dir.join(format!("leaflet-{}.pdf", n.id));
    let _ = std::fs::remove_file(&pdf);
    leaflet::pdf(&page, &pdf).unwrap();
    let pdf_s = pdf.to_str().unwrap();

    let info = run("pdfinfo", &[pdf_s]);
    let line = |key: &str| info.lines().find(|l| l.starts_with(key)).unwrap_or_else(|| panic!("pdfinfo has no {key}: {info}")).to_string();
    assert_eq!(flat(&line("Pages:")), "Pages: 1", "{info}");
    assert!(line("Page size:").contains("(A4)"), "{info}");

    // The Arabic font is embedded (as a subset), so the page prints as seen.
    let fonts = run("pdffonts", &[pdf_s]);
    let naskh: Vec<&str> = fonts.lines().filter(|l| l.contains("NotoNaskhArabic")).collect();
    assert!(!naskh.is_empty() && naskh.iter().all(|l| l.contains(" yes ")), "Noto Naskh Arabic not embedded: {fonts}");

    // The hours, as the renderer writes them: Damascus local time.
    let hm = |t: DateTime<Utc>| t.with_timezone(&chrono_tz::Asia::Damascus).format("%H:%M").to_string();
    let (start, end) = (hm(n.start), hm(n.end));
    let (start_ar, end_ar) = (arabic_digits(&start), arabic_digits(&end));
    assert_ne!(start, start_ar);

    // What pdftotext (poppler 22.12) makes of Chromium's Arabic:
    // - `-layout`: each run of Arabic words in logical (reading) order,
    //   wrapped in U+202B … U+202C (RLE … PDF); the runs and the Latin and
    //   digit runs between them placed in visual order, left to right.
    // - `-raw`: every Arabic word wrapped on its own, the words of a line in
    //   visual order (the last word first); a word with a lam-alef ligature
    //   comes in pieces, each logical, the pieces in visual order.
    // Digits, Arabic-Indic included, read left to right in both.
    let words = |part: Part| arabic_words(&r.render(&n, Lang::Ar, part).unwrap());
    let all: Vec<String> = [Part::Headline, Part::Message, Part::Instruction].into_iter().flat_map(|p| words(p).into_iter().flatten()).collect();
    let pairs: Vec<(String, String)> = [Part::Headline, Part::Message, Part::Instruction]
        .into_iter()
        .flat_map(words)
        .flat_map(|run| run.windows(2).map(|w| (w[0].clone(), w[1].clone())).collect::<Vec<_>>())
        .collect();
    assert!(all.len() > 40 && pairs.len() > 20, "{all:?}");
    let english = flat(r.render(&n, Lang::En, Part::Message).unwrap().lines().next().unwrap());
    for mode in ["-layout", "-raw"] {
        let text = run("pdftotext", &[mode, pdf_s, "-"]);
        let text = normalize(&text);
        for hours in [&start, &end, &start_ar, &end_ar] {
            assert!(text.contains(hours.as_str()), "pdftotext {mode}: no {hours} in {text}");
        }
        let tokens: Vec<&str> = text.split(|c: char| c.is_whitespace() || "،؛.:()".contains(c)).filter(|t| !t.is_empty()).collect();
        for w in &all {
            assert!(tokens.contains(&w.as_str()), "pdftotext {mode}: the Arabic word {w} is not in the text layer whole: {text}");
        }
        let flat_text = flat(&text);
        let logical = pairs.iter().filter(|(a, b)| flat_text.contains(&format!("{a} {b}"))).count();
        let visual = pairs.iter().filter(|(a, b)| flat_text.contains(&format!("{b} {a}"))).count();
        println!("pdftotext {mode}: of {} Arabic word pairs, {logical} in logical order, {visual} in visual order", pairs.len());
        // A pair the page wraps between two lines is in neither.
        let (want, other) = if mode == "-layout" { (logical, visual) } else { (visual, logical) };
        assert!(want * 10 >= pairs.len() * 8 && other * 10 <= pairs.len(), "pdftotext {mode}: {logical} pairs logical, {visual} visual of {}: {text}", pairs.len());
        if mode == "-layout" {
            assert!(flat_text.contains("بتوقيت دمشق"), "{text}");
        } else {
            assert!(flat_text.contains("دمشق بتوقيت"), "{text}");
        }
        // -layout sets the columns side by side on its lines.
        if mode == "-raw" {
            assert!(flat_text.contains(&english), "pdftotext {mode}: the English hours sentence is not whole: {english}\n{text}");
        }
    }

    // -singlefile: the prefix plus ".png", no page number.
    let prefix = dir.join(format!("leaflet-{}", n.id));
    run("pdftoppm", &["-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile", pdf_s, prefix.to_str().unwrap()]);
    let png = dir.join(format!("leaflet-{}.png", n.id));
    assert!(std::fs::metadata(&png).is_ok_and(|m| m.len() > 10_000), "no page image at {}", png.display());
    println!("leaflet page 1: {}", png.display());

    // Other notices fit one page too: a closing, the long Fu'ah/Kafarya
    // corridor, and an update (the longest wording: it names the notice
    // it replaces).
    let pick = |t: &str, id: &str| content::notices(&events, t.parse().unwrap()).into_iter().find(|n| n.id == id).unwrap_or_else(|| panic!("no notice {id} at {t}"));
    let mut update = n.clone();
    update.kind = content::Kind::Change;
    update.references = Some(n.id.clone());
    update.id = format!("{}.update", n.id);
    let others = [pick("2016-12-17T12:00:00Z", "ramouseh-rashidin4.window-17dec.1"), pick("2016-12-20T11:00:00Z", "fuah-kafarya-aleppo.window-20dec.0"), update];
    for o in &others {
        let map = leaflet::map_layer(&router, o).unwrap();
        let page = leaflet::html(o, &r, Some(&map)).unwrap();
        let pdf = dir.join(format!("leaflet-{}.pdf", o.id));
        leaflet::pdf(&page, &pdf).unwrap();
        let info = run("pdfinfo", &[pdf.to_str().unwrap()]);
        assert!(info.lines().any(|l| flat(l) == "Pages: 1"), "{}: {info}", o.id);
        let prefix = dir.join(format!("leaflet-{}", o.id));
        run("pdftoppm", &["-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile", pdf.to_str().unwrap(), prefix.to_str().unwrap()]);
    }
}
