//! `corridor verify`: a data directory's log, an export or tiles, checked whole.

use std::path::Path;

use anyhow::{bail, Context, Result};
use base64::Engine as _;
use corridor::datadir::DataDir;
use corridor::print;
use corridor_ledger::note::Verifier;
use corridor_ledger::verify::verify_log;
use corridor_views::Views;

use crate::cli::VerifyArgs;
use crate::read::{fork_problem, replayed_from, verifier_for};

pub fn run(dir: &Path, a: &VerifyArgs) -> Result<()> {
    match (&a.export, &a.tiles) {
        (None, None) => verify(dir, a.checkpoint.as_deref(), a.key.as_deref(), a.json),
        (export, tiles) => verify_outside(export.as_deref(), tiles.as_deref(), a.checkpoint.as_deref(), a.key.as_deref().unwrap_or_default(), a.json),
    }
}

fn verify(dir: &Path, checkpoint: Option<&Path>, key: Option<&str>, json: bool) -> Result<()> {
    let d = DataDir::open(dir)?;
    if key.is_none() {
        eprintln!(
            "note: checking against the key stored beside the log ({}); for an independent check pass --key with the key published for this log",
            dir.join("log.key").display()
        );
    }
    let verifier = verifier_for(&d, key)?;
    let earlier = match checkpoint {
        Some(p) => Some(std::fs::read_to_string(p).with_context(|| format!("cannot read checkpoint {}", p.display()))?),
        None => None,
    };
    let mut store = d.store()?;
    let signed = std::fs::read_to_string(dir.join(corridor::datadir::SIGNED)).ok();
    verify_store(store.as_mut(), &verifier, earlier.as_deref(), signed.as_deref(), json, &dir.display().to_string())
}

/// `verify --export | --tiles`: a log read from outside, into memory, then
/// checked as a stored one is.
fn verify_outside(export: Option<&Path>, tiles: Option<&str>, checkpoint: Option<&Path>, key: &str, json: bool) -> Result<()> {
    use corridor_ledger::store::{memory::MemoryStore, Store, StoredCheckpoint, StoredEntry};
    let key = if Path::new(key).is_file() { std::fs::read_to_string(key).with_context(|| format!("cannot read the key file {key}"))? } else { key.to_string() };
    let verifier = Verifier::from_vkey(key.trim()).with_context(|| format!("{key:?} is not a verifier key (name+hash+base64)"))?;
    let read = |p: &Path| std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()));
    let mut store = MemoryStore::new();
    let push = |store: &mut MemoryStore, index: u64, leaf: Vec<u8>| store.append(&[StoredEntry { index, hash: corridor_ledger::merkle::leaf_hash(&leaf), leaf }], None);
    let (what, earlier) = if let Some(p) = export {
        let note = read(checkpoint.expect("clap requires --checkpoint with --export"))?;
        let text = read(p)?;
        for (i, line) in text.lines().enumerate() {
            let leaf = base64::engine::general_purpose::STANDARD.decode(line.trim()).with_context(|| format!("{} line {}: not base64", p.display(), i + 1))?;
            push(&mut store, i as u64, leaf)?;
        }
        let size = corridor_ledger::parse_checkpoint(&note, &verifier).map_err(|e| anyhow::anyhow!("{}: {e}", checkpoint.unwrap().display()))?.size;
        let n = store.len()?;
        if size != n {
            bail!("{} holds {n} leaves but the checkpoint covers {size}: export them together (`corridor log export --out leaves.b64 --checkpoint-out cp.txt`)", p.display());
        }
        store.append(&[], Some(&StoredCheckpoint { size, note }))?;
        (p.display().to_string(), None)
    } else {
        let src = corridor::monitor::Source::new(tiles.expect("one of the two"), None)?;
        let note = src.checkpoint()?;
        let cp = corridor::monitor::open_checkpoint(&note, &verifier)?;
        src.entries(0, cp.size, &mut |i, leaf| Ok(push(&mut store, i, leaf.to_vec())?))?;
        store.append(&[], Some(&StoredCheckpoint { size: cp.size, note }))?;
        (tiles.unwrap().to_string(), checkpoint.map(read).transpose()?)
    };
    verify_store(&mut store, &verifier, earlier.as_deref(), None, json, &what)
}

/// The whole check of a log in `store`, its figures printed. `signed` is
/// the checkpoint kept beside the key (fork safety), if any.
fn verify_store(store: &mut dyn corridor_ledger::store::Store, verifier: &Verifier, earlier: Option<&str>, signed: Option<&str>, json: bool, what: &str) -> Result<()> {
    let mut views = Views::new();
    let mut report = verify_log(store, verifier, earlier, &mut |i, e| views.apply(i, e))?;
    if let Some(p) = signed.and_then(|s| fork_problem(s, verifier, &report)) {
        report.problems.push(p);
    }
    // The fold redone after a correction, from the same bytes the walk
    // checked (the replay holds them to the root it rebuilt). A log that
    // already fails, and fails the replay too, is shown with the first
    // fold: its problems are printed below and the command fails.
    let views = match views.needs_replay() {
        false => views,
        true => match replayed_from(store, report.entries, &report.root, &views, &|_| true) {
            Ok(again) => again,
            Err(_) if !report.ok() => views,
            Err(e) => return Err(e),
        },
    };
    let figures = views.figures();
    if json {
        println!("{}", serde_json::to_string_pretty(&serde_json::json!({
            "ok": report.ok(),
            "entries": report.entries,
            "root": hex::encode(report.root),
            "problems": report.problems.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "figures": figures,
        }))?);
    } else {
        print!("{}", print::figures(&figures));
        println!("entries: {}, root {}", report.entries, base64::engine::general_purpose::STANDARD.encode(report.root));
        println!("signed checkpoints checked: {}", report.checkpoints_checked);
        if report.checkpoints_later > 0 {
            println!("{} newer checkpoint(s) were written while verifying; run verify again to check them", report.checkpoints_later);
        }
        if let Some(old) = &report.consistent_with {
            println!("consistent with the earlier checkpoint at size {}", old.size);
        }
    }
    if !report.ok() {
        for p in &report.problems {
            eprintln!("FAILED: {p}");
        }
        bail!("verification failed: {} problem(s) in the log in {what}", report.problems.len());
    }
    if !json {
        println!("verified: every leaf, the tree and every signed checkpoint check out with key {}", verifier.to_vkey());
    }
    Ok(())
}
