//! Full verification of a stored log, trusting nothing stored but the
//! verifier key: every leaf is re-read, re-hashed, re-parsed and re-checked,
//! the tree is rebuilt from the leaf bytes, and every signed checkpoint the
//! log wrote must match the rebuilt tree at its size.


use corridor_model::{parse::parse_leaf, Event, IdMap, Registry};

use crate::checkpoint::Checkpoint;
use crate::ledger::parse_checkpoint;
use crate::merkle::{leaf_hash, verify_consistency, Hash, Tree};
use crate::note::Verifier;
use crate::store::{Store, StoreError, StoredEntry};

/// Something wrong with the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The entry at fault, when it can be named.
    pub index: Option<u64>,
    pub what: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.index {
            Some(i) => write!(f, "entry {i}: {}", self.what),
            None => write!(f, "{}", self.what),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Report {
    pub entries: u64,
    /// Root of the tree rebuilt from the stored leaf bytes.
    pub root: Hash,
    /// The latest signed checkpoint, when it verifies.
    pub checkpoint: Option<Checkpoint>,
    pub checkpoints_checked: usize,
    /// Checkpoints beyond the entries read: written while verifying.
    pub checkpoints_later: usize,
    /// The earlier checkpoint given, when it is consistent with this log.
    pub consistent_with: Option<Checkpoint>,
    pub problems: Vec<Problem>,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// One entry as the reading thread leaves it.
struct Read {
    /// The position the store gave it.
    index: u64,
    /// The hash of its bytes, as read.
    hash: Hash,
    /// Whether that is the hash recorded when it was appended.
    hash_matches: bool,
    event: Result<Event, corridor_model::FieldError>,
    /// The entry that used this event's id before, if one did.
    id_first_used_at: Option<u64>,
}

const CHUNK: usize = 1024;

/// Reads every stored entry, hashes and parses it and checks that its id
/// is new, and sends the results on in chunks. Stops early, without an
/// error, when the receiving side is gone.
fn read_entries(store: &mut dyn Store, expected: usize, tx: std::sync::mpsc::SyncSender<Vec<Read>>) -> Result<(), StoreError> {
    let mut ids: IdMap<u64> = IdMap::with_capacity(expected, 0);
    let mut chunk = Vec::with_capacity(CHUNK);
    let mut position = 0u64;
    let mut gone = false;
    store.scan(&mut |e: StoredEntry| {
        if gone {
            return Ok(());
        }
        let hash = leaf_hash(&e.leaf);
        let event = parse_leaf(&e.leaf);
        let id_first_used_at = match &event {
            Ok(ev) => match ids.get(&ev.id) {
                Some(&first) => Some(first),
                None => {
                    ids.insert(&ev.id, position);
                    None
                }
            },
            Err(_) => None,
        };
        chunk.push(Read { index: e.index, hash, hash_matches: hash == e.hash, event, id_first_used_at });
        position += 1;
        if chunk.len() == CHUNK && tx.send(std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK))).is_err() {
            gone = true;
        }
        Ok(())
    })?;
    if !chunk.is_empty() {
        let _ = tx.send(chunk);
    }
    Ok(())
}

/// Verifies the log in `store` with `verifier` (the log's public key). Calls
/// `on_event` for every entry that parses, in log order, so the caller can
/// recompute views. `earlier` is a signed checkpoint note a monitor kept:
/// the log must be consistent with it.
pub fn verify_log(
    store: &mut dyn Store,
    verifier: &Verifier,
    earlier: Option<&str>,
    on_event: &mut dyn FnMut(u64, &Event),
) -> Result<Report, StoreError> {
    let mut problems = Vec::new();
    // What the log had signed before reading: the entries read must reach it.
    let signed_before = store.latest_checkpoint()?.map_or(0, |c| c.size);
    // Room for what was signed and is stored, reserved at once. Only a
    // hint (more or fewer entries cost growing or spare room), read before
    // anything is checked, so held to what is plausible: a tampered size
    // must not reserve the machine's memory.
    let expected = signed_before.min(store.len()?).min(1 << 28);
    let mut tree = Tree::with_capacity(expected);
    let expected = usize::try_from(expected).unwrap_or(0);
    let mut registry = Registry::with_capacity(expected);
    // Two threads: one reads, hashes and parses the entries and checks that
    // each id is new (nothing there depends on earlier events); this one
    // checks each event against the registry, hands it on, and builds the
    // tree. Chunks keep the hand-over cheap; a bounded channel keeps the
    // memory bounded.
    let reading: &mut dyn Store = &mut *store;
    std::thread::scope(|scope| -> Result<(), StoreError> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Read>>(8);
        let reader = scope.spawn(move || read_entries(reading, expected, tx));
        for chunk in rx {
            for r in chunk {
                let index = tree.len();
                let mut bad = |what: String| problems.push(Problem { index: Some(index), what });
                if r.index != index {
                    bad(format!("stored at position {} but found at position {index} (an entry is missing or duplicated)", r.index));
                }
                if !r.hash_matches {
                    bad("its bytes do not hash to the leaf hash recorded when it was appended: the entry was altered".into());
                }
                match r.event {
                    Err(err) => bad(format!("not a valid event: {err}")),
                    Ok(event) => {
                        if let Some(first) = r.id_first_used_at {
                            bad(format!("event id {:?} is already used by entry {first}: an event was counted twice", event.id));
                        }
                        if let Err(err) = registry.apply(&event) {
                            bad(format!("event {:?} is not valid at this position: {err}", event.id));
                        }
                        on_event(index, &event);
                    }
                }
                tree.push(r.hash);
            }
        }
        match reader.join() {
            Ok(result) => result,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })?;
    let n = tree.len();

    let mut checkpoint = None;
    let mut checked = 0;
    let mut last_good: Option<u64> = None;
    // Read after the entries: a writer may have committed more entries and
    // their checkpoints since the scan's snapshot; those are left for the
    // next run (a group's entries and checkpoint are written together, so
    // the snapshot ends exactly at a checkpoint).
    let mut history = store.checkpoints()?;
    let later = history.iter().filter(|c| c.size > n).count();
    history.retain(|c| c.size <= n);
    if signed_before > n {
        problems.push(Problem {
            index: Some(n),
            what: format!("the log signed {signed_before} entries but only {n} are stored: entries from index {n} on were removed"),
        });
    }
    for stored in &history {
        checked += 1;
        match parse_checkpoint(&stored.note, verifier) {
            Err(what) => problems.push(Problem { index: None, what: format!("checkpoint at size {}: {what}", stored.size) }),
            Ok(cp) if cp.size != stored.size => problems.push(Problem {
                index: None,
                what: format!("checkpoint for size {} is stored as size {}", cp.size, stored.size),
            }),
            Ok(cp) => {
                let root = tree.root_at(cp.size).expect("size checked");
                if root == cp.root {
                    last_good = Some(cp.size);
                    checkpoint = Some(cp);
                } else {
                    let from = last_good.unwrap_or(0);
                    problems.push(Problem {
                        index: None,
                        what: format!(
                            "the signed checkpoint at size {} does not match the stored entries: an entry in {from}..{} was altered",
                            cp.size, cp.size
                        ),
                    });
                }
            }
        }
    }
    match history.last() {
        None => problems.push(Problem { index: None, what: "the log has no signed checkpoint".into() }),
        Some(last) if last.size != n => problems.push(Problem {
            index: None,
            what: format!("the latest signed checkpoint covers {} entries but the log holds {n}", last.size),
        }),
        Some(_) => {}
    }

    let mut consistent_with = None;
    if let Some(text) = earlier {
        match parse_checkpoint(text, verifier) {
            Err(what) => problems.push(Problem { index: None, what: format!("earlier checkpoint: {what}") }),
            Ok(old) if old.size > n => problems.push(Problem {
                index: None,
                what: format!("earlier checkpoint covers {} entries but the log now holds only {n}: entries were removed", old.size),
            }),
            Ok(old) if old.size == 0 => {
                // Every log extends the empty tree; there is no proof to check
                // (a consistency proof from size 0 is refused by policy).
                if old.root == crate::merkle::empty_root() {
                    consistent_with = Some(old);
                } else {
                    problems.push(Problem { index: None, what: "earlier checkpoint of size 0 has a root that is not the empty root".into() });
                }
            }
            Ok(old) => {
                let proof = tree.consistency_proof(old.size, n);
                match proof.map_err(|e| e.to_string()).and_then(|p| {
                    verify_consistency(old.size, n, &old.root, &tree.root(), &p).map_err(|e| e.to_string())
                }) {
                    Ok(()) => consistent_with = Some(old),
                    Err(e) => problems.push(Problem {
                        index: None,
                        what: format!("the log is not consistent with the earlier checkpoint at size {}: {e}", old.size),
                    }),
                }
            }
        }
    }
    Ok(Report {
        entries: n,
        root: tree.root(),
        checkpoint,
        checkpoints_checked: checked,
        checkpoints_later: later,
        consistent_with,
        problems,
    })
}
