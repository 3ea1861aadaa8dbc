//! `sms::encode` against an independent implementation: the npm package
//! `sms-segments-calculator` (Twilio's segment calculator, smart encoding off),
//! run by node through `tests/sms_independent.js`.
//!
//! The package is looked for in `$CORRIDOR_SMS_CALC` (the package folder),
//! else in `<target>/notify-npm/node_modules/sms-segments-calculator`, where
//! `npm install --prefix target/notify-npm sms-segments-calculator@1.3.0` puts
//! it. Without node or the package the test prints "skipped: …" and passes
//! (fails under `CORRIDOR_TEST_REQUIRE_ALL=1`, as in CI).
//!
//! The messages come from a seeded generator: mixes of ASCII, the extension
//! characters, accented GSM characters, non-GSM Latin (ç), Arabic, emoji and
//! U+001B, and texts of exact boundary lengths with an extension character or
//! an emoji placed across each boundary. The calculator cuts between
//! grapheme clusters while `encode` cuts between chars (never inside an escape
//! or a surrogate pair); the generator uses no combining marks, joiners,
//! variation selectors or other multi-char clusters, where the two
//! legitimately differ.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use corridor_notify::sms::{self, Encoding};
use serde_json::Value;

/// splitmix64: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick(&mut self, pool: &[char]) -> char {
        pool[self.below(pool.len())]
    }
}

const ASCII: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:!?-+*/=<>#%&'\"()";
const EXTENSION: &[char] = &['€', '[', ']', '{', '}', '~', '^', '\\', '|', '\u{0C}'];
const ACCENTED_GSM: &[char] = &[
    'é', 'è', 'ù', 'ì', 'ò', 'Ç', 'Ø', 'ø', 'Å', 'å', 'Ä', 'Ö', 'Ñ', 'Ü', 'ä', 'ö', 'ñ', 'ü', 'à', 'ß', 'É', 'Æ',
    'æ', '£', '¥', '§', '¿', '¡', '¤', '@', '$', '_', 'Δ', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', '\n', '\r',
];
const NON_GSM_LATIN: &[char] = &['ç', 'á', 'í', 'ó', 'ú', 'â', 'ê', 'ô', 'ã', 'õ', 'ë', 'ï', 'Ë', 'ş', 'ğ', '`', '\t'];
const EMOJI: &[char] = &['😀', '🚑', '🏥', '🚨', '🆘', '📍', '🕊', '🙏', '⚠', '✅', '𝄞'];

fn arabic() -> Vec<char> {
    let mut v: Vec<char> = ('\u{0621}'..='\u{063A}').chain('\u{0641}'..='\u{064A}').collect();
    v.extend('\u{0660}'..='\u{0669}');
    v.extend(['،', '؟', ' ']);
    v
}

struct Pools {
    ascii: Vec<char>,
    arabic: Vec<char>,
}

impl Pools {
    fn char_of(&self, rng: &mut Rng, kind: usize) -> char {
        match kind {
            0 => rng.pick(&self.ascii),
            1 => rng.pick(EXTENSION),
            2 => rng.pick(ACCENTED_GSM),
            3 => rng.pick(NON_GSM_LATIN),
            4 => rng.pick(&self.arabic),
            5 => rng.pick(EMOJI),
            _ => '\u{1B}',
        }
    }
}

/// A random message under one of several profiles (weights per pool kind).
fn random_message(rng: &mut Rng, pools: &Pools) -> String {
    const PROFILES: &[[u32; 7]] = &[
        [1, 0, 0, 0, 0, 0, 0],         // plain ASCII
        [20, 3, 0, 0, 0, 0, 0],        // GSM with extension chars
        [20, 2, 5, 0, 0, 0, 0],        // GSM with accents
        [200, 5, 5, 1, 0, 0, 0],       // GSM but a rare ç forces UCS-2
        [0, 0, 0, 0, 1, 0, 0],         // Arabic
        [0, 1, 0, 0, 20, 3, 0],        // Arabic with emoji and €
        [2, 0, 0, 0, 0, 1, 0],         // ASCII with emoji
        [0, 0, 0, 0, 0, 1, 0],         // only emoji
        [5, 2, 2, 1, 5, 2, 0],         // everything
        [300, 5, 0, 0, 0, 0, 1],       // a literal ESC
    ];
    let weights = PROFILES[rng.below(PROFILES.len())];
    let total: u32 = weights.iter().sum();
    let len = match rng.below(4) {
        0 => rng.below(80),
        1 => rng.below(200),
        _ => rng.below(700),
    };
    (0..len)
        .map(|_| {
            let mut r = rng.below(total as usize) as u32;
            let mut kind = 0;
            while r >= weights[kind] {
                r -= weights[kind];
                kind += 1;
            }
            pools.char_of(rng, kind)
        })
        .collect()
}

/// GSM-7 text of exactly `septets` septets, with an extension char starting
/// at septet `ext_at` (0-based) when given: plain chars around it.
fn gsm_exact(rng: &mut Rng, pools: &Pools, septets: usize, ext_at: Option<usize>, accents: bool) -> String {
    let mut s = String::new();
    let mut used = 0;
    while used < septets {
        if ext_at == Some(used) && used + 2 <= septets {
            s.push(rng.pick(EXTENSION));
            used += 2;
        } else {
            s.push(if accents && rng.below(4) == 0 { rng.pick(ACCENTED_GSM) } else { rng.pick(&pools.ascii) });
            used += 1;
        }
    }
    s
}

/// UCS-2 text of exactly `units` UTF-16 units (Arabic, or GSM chars with
/// one ç first), with an emoji starting at unit `emoji_at` when given.
fn ucs2_exact(rng: &mut Rng, pools: &Pools, units: usize, emoji_at: Option<usize>, latin: bool) -> String {
    let mut s = String::new();
    let mut used = 0;
    if latin {
        s.push('ç');
        used += 1;
    }
    while used < units {
        if emoji_at == Some(used) && used + 2 <= units {
            // Supplementary-plane emoji only (2 units).
            let e = loop {
                let e = rng.pick(EMOJI);
                if e.len_utf16() == 2 {
                    break e;
                }
            };
            s.push(e);
            used += 2;
        } else if latin {
            s.push(if rng.below(3) == 0 { rng.pick(EXTENSION) } else { rng.pick(&pools.ascii) });
            used += 1;
        } else {
            s.push(rng.pick(&pools.arabic));
            used += 1;
        }
    }
    s
}

fn messages() -> Vec<String> {
    let pools = Pools { ascii: ASCII.chars().collect(), arabic: arabic() };
    let mut rng = Rng(SEED);
    let mut out = Vec::new();

    // Exact GSM lengths around 160 and multiples of 153, plain, with
    // accents, and with an extension char across or just before each cut.
    let gsm_cuts = [153usize, 160, 306, 459, 612];
    for &t in &[0usize, 1, 152, 153, 154, 159, 160, 161, 162, 305, 306, 307, 458, 459, 460, 611, 612, 613, 765, 766] {
        for accents in [false, true] {
            out.push(gsm_exact(&mut rng, &pools, t, None, accents));
            for &cut in &gsm_cuts {
                for ext_at in [cut.wrapping_sub(2), cut.wrapping_sub(1), cut] {
                    if ext_at < t {
                        out.push(gsm_exact(&mut rng, &pools, t, Some(ext_at), accents));
                    }
                }
            }
        }
    }
    // Exact UCS-2 lengths around 70 and multiples of 67, with an emoji
    // across or just before each cut.
    let ucs_cuts = [67usize, 70, 134, 201, 268];
    for &t in &[1usize, 2, 66, 67, 68, 69, 70, 71, 72, 133, 134, 135, 136, 200, 201, 202, 267, 268, 269] {
        for latin in [false, true] {
            out.push(ucs2_exact(&mut rng, &pools, t, None, latin));
            for &cut in &ucs_cuts {
                for at in [cut.wrapping_sub(2), cut.wrapping_sub(1), cut] {
                    if at < t {
                        out.push(ucs2_exact(&mut rng, &pools, t, Some(at), latin));
                    }
                }
            }
        }
    }
    // Only extension chars / only emoji, around the limits.
    for n in [76usize, 77, 79, 80, 81, 152, 153, 154, 230] {
        out.push((0..n).map(|_| rng.pick(EXTENSION)).collect());
    }
    for n in [33usize, 34, 35, 36, 66, 67, 68, 100, 101] {
        out.push("😀".repeat(n));
    }
    // A GSM text of 160 septets but one ç: UCS-2, 160 units, 3 segments.
    out.push(format!("{}ç", "a".repeat(159)));
    out.push(format!("ç{}", "€".repeat(80)));
    // Random mixes up to 3,000 messages in all.
    while out.len() < 3000 {
        out.push(random_message(&mut rng, &pools));
    }
    out
}

/// The generator's seed: the same messages on every run.
const SEED: u64 = 0x000C_01D0_2016;

fn package_dir() -> Option<PathBuf> {
    if let Ok(dir) = std::env::var("CORRIDOR_SMS_CALC") {
        let dir = PathBuf::from(dir);
        return dir.join("package.json").is_file().then_some(dir);
    }
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut targets = Vec::new();
    if let Ok(t) = std::env::var("CARGO_TARGET_DIR") {
        targets.push(PathBuf::from(t));
    }
    targets.push(manifest.join("../../target"));
    targets
        .into_iter()
        .map(|t| t.join("notify-npm/node_modules/sms-segments-calculator"))
        .find(|d| d.join("package.json").is_file())
}

#[test]
fn agrees_with_sms_segments_calculator() {
    let node_ok = Command::new("node").arg("--version").output().map(|o| o.status.success()).unwrap_or(false);
    if !node_ok {
        corridor_testkit::skip("node is not installed (apt-get install nodejs npm)");
        return;
    }
    let Some(dir) = package_dir() else {
        corridor_testkit::skip("the npm package sms-segments-calculator is not installed (npm install --prefix target/notify-npm sms-segments-calculator@1.3.0)");
        return;
    };
    let version = std::fs::read_to_string(dir.join("package.json"))
        .ok()
        .and_then(|s| serde_json::from_str::<Value>(&s).ok())
        .and_then(|v| v["version"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "?".into());

    let msgs = messages();
    assert!(msgs.len() >= 1000);
    let input = serde_json::to_vec(&msgs).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sms_independent.js");
    let mut child = Command::new("node")
        .arg(&script)
        .arg(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start node");
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let output = child.wait_with_output().expect("run node");
    writer.join().unwrap().expect("write messages to node");
    assert!(output.status.success(), "node failed: {}", String::from_utf8_lossy(&output.stderr));
    let answers: Vec<Value> = serde_json::from_slice(&output.stdout).expect("node's answers are JSON");
    assert_eq!(answers.len(), msgs.len());

    let mut mismatches = 0;
    let (mut gsm, mut ucs, mut multi, mut segments_total) = (0, 0, 0, 0);
    for (text, theirs) in msgs.iter().zip(&answers) {
        let e = sms::encode(text, 0);
        let ours = serde_json::json!({
            "encoding": e.encoding.name(),
            "segments": e.segments.len(),
            "units": e.units(),
            "segmentUnits": e.segments.iter().map(|s| s.units).collect::<Vec<_>>(),
            "segmentTexts": e.segments.iter().map(|s| s.text.as_str()).collect::<Vec<_>>(),
        });
        // Units as numbers, whatever JSON type node wrote (e.g. 160 vs 160.0).
        let same = ours["encoding"] == theirs["encoding"]
            && ours["segments"].as_u64() == theirs["segments"].as_u64()
            && ours["units"].as_f64() == theirs["units"].as_f64()
            && ours["segmentUnits"].as_array().map(|a| a.iter().map(|v| v.as_f64()).collect::<Vec<_>>())
                == theirs["segmentUnits"].as_array().map(|a| a.iter().map(|v| v.as_f64()).collect::<Vec<_>>())
            && ours["segmentTexts"] == theirs["segmentTexts"];
        if !same {
            mismatches += 1;
            if mismatches <= 20 {
                println!("MISMATCH for {text:?}\n  ours:   {ours}\n  theirs: {theirs}");
            }
        }
        match e.encoding {
            Encoding::Gsm7 => gsm += 1,
            Encoding::Ucs2 => ucs += 1,
        }
        if e.segments.len() > 1 {
            multi += 1;
        }
        segments_total += e.segments.len();
    }
    println!(
        "compared {} messages ({gsm} GSM-7, {ucs} UCS-2, {multi} concatenated, {segments_total} segments) \
         with sms-segments-calculator {version}: {mismatches} mismatches",
        msgs.len()
    );
    assert_eq!(mismatches, 0, "{mismatches} of {} messages differ (first 20 printed above)", msgs.len());
}
