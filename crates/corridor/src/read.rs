//! How the CLI reads a log: in one checked walk, the one `corridor verify`
//! makes (`corridor_ledger::verify`: every leaf re-hashed and re-parsed,
//! the tree rebuilt, every signed checkpoint matched against it), and a
//! log that fails is refused whole, naming the entries at fault. A reader
//! that needs entries a second time (a fold redone after a correction, a
//! range shown after the check) reads them again through
//! [`corridor_ledger::verify::replay`], checked against the root the first
//! walk verified. Every command that reads a data directory's log reads
//! it here.

use std::path::Path;

use anyhow::{bail, Context, Result};
use corridor::datadir::DataDir;
use corridor_ledger::merkle::Hash;
use corridor_ledger::note::Verifier;
use corridor_ledger::store::Store;
use corridor_ledger::verify::{replay, verify_log};
use corridor_model::Event;
use corridor_views::Views;

/// `views` if it needs no replay; else the log's entries `0..size` (those
/// `keep` takes) folded again knowing every correction (see
/// [`Views::needs_replay`]), read through [`replay`]: re-checked against
/// `root`, the root the walk that made `views` verified at `size`.
pub fn replayed(d: &DataDir, size: u64, root: &Hash, views: Views, keep: &dyn Fn(&Event) -> bool) -> Result<Views> {
    if !views.needs_replay() {
        return Ok(views);
    }
    replayed_from(d.store()?.as_mut(), size, root, &views, keep)
}

/// The fold after `views` (which met a correction) redone from `store`:
/// see [`replayed`].
pub fn replayed_from(store: &mut dyn Store, size: u64, root: &Hash, views: &Views, keep: &dyn Fn(&Event) -> bool) -> Result<Views> {
    let mut again = views.replaying();
    replay(store, size, root, &mut |index, _, event| {
        if keep(event) {
            again.apply(index, event);
        }
    })
    .context("the log changed after it was checked, and nothing is read from it")?;
    Ok(again)
}

/// Every event of the log, in order, from one checked walk
/// ([`checked_walk`]): a log that fails verification is refused.
pub fn read_events(d: &mut DataDir) -> Result<Vec<corridor_model::Event>> {
    let mut out = Vec::new();
    checked_walk(d, None, &mut |_, e| out.push(e.clone()))?;
    Ok(out)
}

/// What a [`checked_walk`] verified the log against.
pub struct Checked {
    /// The latest signed checkpoint, matching the entries read.
    pub checkpoint: corridor_ledger::checkpoint::Checkpoint,
    /// The verifier key it was checked with (`name+hash+base64`).
    pub key: String,
}

/// The log read in one walk and checked exactly as `corridor verify` checks
/// it (every leaf re-hashed and re-parsed, the tree rebuilt, every signed
/// checkpoint matched against it), calling `on_event` for each entry in log
/// order. A log that fails is refused, naming each entry at fault: nothing
/// read from it may be published. `key` is the log's published verifier key
/// (or a file holding it); default the data directory's own. Reads the
/// store directly, without the writer lock, so it works while a server
/// appends (the walk ends at a signed checkpoint).
pub fn checked_walk(d: &mut DataDir, key: Option<&str>, on_event: &mut dyn FnMut(u64, &corridor_model::Event)) -> Result<Checked> {
    let verifier = verifier_for(d, key)?;
    let mut store = d.store()?;
    if store.latest_checkpoint()?.is_none() {
        // A log never opened for writing: opening it signs the empty tree.
        d.ledger()?;
    }
    // The checkpoint kept beside the key is read before the walk, as
    // `verify` reads it: a writer stores its entries before it keeps their
    // checkpoint there, so what it says is in what the walk reads (read
    // after, it may be newer than the walk's snapshot: a false fork).
    let signed = std::fs::read_to_string(d.path.join(corridor::datadir::SIGNED)).ok();
    let mut report = verify_log(store.as_mut(), &verifier, None, on_event)?;
    if let Some(p) = signed.and_then(|s| fork_problem(&s, &verifier, &report)) {
        report.problems.push(p);
    }
    if !report.ok() {
        let mut msg = format!("the log in {} fails verification ({} problem(s)); nothing is read from it:", d.path.display(), report.problems.len());
        // The entries at fault first; of the checkpoints they break (every
        // later one), the first.
        let (named, other): (Vec<_>, Vec<_>) = report.problems.iter().partition(|p| p.index.is_some());
        let shown: Vec<_> = named.iter().take(10).chain(other.first()).collect();
        for p in &shown {
            msg.push_str(&format!("\n  {p}"));
        }
        if report.problems.len() > shown.len() {
            msg.push_str(&format!("\n  … and {} more", report.problems.len() - shown.len()));
        }
        msg.push_str(&format!(
            "\nrun `corridor verify --data-dir {}` for the whole check, and restore the log from a copy that verifies (or from a monitor's copy) before using it",
            d.path.display()
        ));
        bail!(msg);
    }
    let checkpoint = report.checkpoint.ok_or_else(|| anyhow::anyhow!("the log in {} has no signed checkpoint that verifies; run `corridor verify`", d.path.display()))?;
    Ok(Checked { checkpoint, key: verifier.to_vkey() })
}

/// Fork safety for readers: the checkpoint this key signed last, kept
/// beside it, against the log as read. A log smaller than it, or with
/// another root at its size, is a second history under the same key.
pub fn fork_problem(signed: &str, verifier: &Verifier, report: &corridor_ledger::verify::Report) -> Option<corridor_ledger::verify::Problem> {
    let what = match corridor_ledger::parse_checkpoint(signed, verifier) {
        Err(e) => format!("the checkpoint kept beside the key ({}) does not verify: {e}", corridor::datadir::SIGNED),
        Ok(cp) if cp.size > report.entries => format!("this key signed {} entries ({}) but the log holds {}: the ledger was replaced, truncated or lost", cp.size, corridor::datadir::SIGNED, report.entries),
        Ok(cp) if cp.size == report.entries && cp.root != report.root => format!("this key signed another root at size {} ({}): the ledger was replaced", cp.size, corridor::datadir::SIGNED),
        Ok(_) => return None,
    };
    Some(corridor_ledger::verify::Problem { index: None, what })
}

/// The key a log is checked with: `key` (a verifier key, or a file holding
/// one), or the data directory's own.
pub fn verifier_for(d: &DataDir, key: Option<&str>) -> Result<Verifier> {
    match key {
        None => Ok(d.signer()?.verifier()),
        Some(k) => {
            let text = if Path::new(k).is_file() { std::fs::read_to_string(k).with_context(|| format!("cannot read the key file {k}"))? } else { k.to_string() };
            Verifier::from_vkey(text.trim()).with_context(|| format!("{k:?} is not a verifier key (name+hash+base64)"))
        }
    }
}

/// The store and its latest signed checkpoint. A log that has never been
/// opened for writing has none yet: the ledger is opened once to sign the
/// empty tree.
pub fn signed_store(d: &mut DataDir) -> Result<(Box<dyn corridor_ledger::store::Store>, corridor_ledger::store::StoredCheckpoint)> {
    let mut store = d.store()?;
    let cp = match store.latest_checkpoint()? {
        Some(cp) => cp,
        None => {
            let note = d.ledger()?.checkpoint().note;
            corridor_ledger::store::StoredCheckpoint { size: 0, note }
        }
    };
    Ok((store, cp))
}

#[cfg(test)]
mod tests {
    use super::*;
    use corridor_model::{AidDelivery, Body, Correction, District, Position};

    fn aid(tonnes: f64) -> Body {
        Body::AidDelivered(AidDelivery { delivery: "aid-1".into(), commodity: "flour".into(), tonnes, families: 3, people: 14, district: "d-1".into(), organisation: "test".into() })
    }

    /// A log whose fold needs the replay: an aid delivery, then its correction.
    fn corrected_log(dir: &Path) -> DataDir {
        let mut d = DataDir::init(dir, Some("corridor.invalid/test".into()), None, "corridor").unwrap();
        let t = chrono::DateTime::parse_from_rfc3339("2016-12-23T00:00:00Z").unwrap().to_utc();
        let district = District { district: "d-1".into(), name: "D 1".into(), name_ar: String::new(), position: Position { lat: 36.2, lon: 37.15 }, hectares: 100.0 };
        let fix = Correction { corrects: "aid-1".into(), reason: "two tonnes, not one".into(), time: None, body: Some(Box::new(aid(2.0))), void: false };
        let events = vec![
            Event::new("district-1", t, "hq", Body::DistrictDeclared(district)),
            Event::new("aid-1", t, "hq", aid(1.0)),
            Event::new("fix-1", t, "hq", Body::EntryCorrected(fix)),
        ];
        d.ledger().unwrap().append(events).unwrap();
        d
    }

    /// Alters entry `index` in place so that it still parses, canonical:
    /// its author `hq` becomes `hp` (the recorded hash is left as it was).
    fn alter(dir: &Path, index: i64) {
        let c = rusqlite::Connection::open(dir.join("ledger.sqlite")).unwrap();
        let leaf: Vec<u8> = c.query_row("SELECT leaf FROM entries WHERE idx = ?1", [index], |r| r.get(0)).unwrap();
        let altered = String::from_utf8(leaf).unwrap().replace("\"author\":\"hq\"", "\"author\":\"hp\"");
        assert!(corridor_model::parse::parse_leaf(altered.as_bytes()).is_ok(), "the altered entry still parses");
        c.execute("UPDATE entries SET leaf = ?1 WHERE idx = ?2", rusqlite::params![altered.into_bytes(), index]).unwrap();
    }

    #[test]
    fn the_replay_after_a_correction_reads_the_entries_the_walk_checked() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("d");
        let mut d = corrected_log(&dir);
        let mut views = Views::new();
        let checked = checked_walk(&mut d, None, &mut |i, e| views.apply(i, e)).unwrap();
        assert!(views.needs_replay());
        let (size, root) = (checked.checkpoint.size, checked.checkpoint.root);
        let again = replayed_from(d.store().unwrap().as_mut(), size, &root, &views, &|_| true);
        assert!(again.is_ok_and(|v| !v.needs_replay()), "the log as checked replays");
        // Altered between the walk and the replay: the replay refuses it.
        alter(&dir, 1);
        let err = replayed(&d, size, &root, views, &|_| true).err().expect("an altered entry is refused");
        assert!(format!("{err:#}").contains("entry 1: its bytes do not hash"), "{err:#}");
    }

    #[test]
    fn a_log_altered_before_the_walk_is_refused_whole() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("d");
        let mut d = corrected_log(&dir);
        alter(&dir, 1);
        let mut seen = 0;
        let err = read_events(&mut d).err().expect("refused");
        assert!(format!("{err:#}").contains("entry 1:"), "{err:#}");
        let err = checked_walk(&mut d, None, &mut |_, _| seen += 1).err().expect("refused");
        assert!(format!("{err:#}").contains("fails verification"), "{err:#}");
    }
}
