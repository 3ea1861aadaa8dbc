//! Full verification of a stored log, trusting nothing stored but the
//! verifier key: every leaf is re-read, re-hashed, re-parsed and re-checked,
//! the tree is rebuilt from the leaf bytes, and every signed checkpoint the
//! log wrote must match the rebuilt tree at its size.


use corridor_model::{parse::{parse_leaf, parse_signed_leaf}, Event, Registry};

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

/// One entry as the reading thread of [`walk`] leaves it.
pub(crate) struct Read {
    /// The position the store gave it.
    pub index: u64,
    /// The hash of its bytes, as read.
    pub hash: Hash,
    /// Whether that is the hash recorded when it was appended.
    pub hash_matches: bool,
    pub event: Result<Event, corridor_model::FieldError>,
}

/// How a walk's reading thread checks each leaf's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leaves {
    /// Parsed, and re-serialized to check they are the canonical form
    /// (`verify`, which checks the signer's work too).
    Canonical,
    /// Parsed only ([`parse_signed_leaf`]): the bytes a signed checkpoint
    /// covers, checked canonical when appended; the walker compares the
    /// root they hash to with that checkpoint's, which proves them.
    Signed,
}

impl Read {
    /// `e` read, hashed and parsed here (an entry not from a [`walk`]).
    pub(crate) fn of(e: &StoredEntry, leaves: Leaves) -> Read {
        let hash = leaf_hash(&e.leaf);
        let event = match leaves {
            Leaves::Canonical => parse_leaf(&e.leaf),
            Leaves::Signed => parse_signed_leaf(&e.leaf),
        };
        Read { index: e.index, hash, hash_matches: hash == e.hash, event }
    }
}

const CHUNK: usize = 1024;

/// Reads every stored entry, hashes and parses it, and sends the results
/// on in chunks; drops the chunks that come `back` (so that freeing them
/// is not the walker's work). Stops early, without an error, when the
/// receiving side is gone.
fn read_entries(store: &mut dyn Store, leaves: Leaves, tx: std::sync::mpsc::SyncSender<Vec<Read>>, back: std::sync::mpsc::Receiver<Vec<Read>>) -> Result<(), StoreError> {
    let mut chunk = Vec::with_capacity(CHUNK);
    let mut gone = false;
    let scanned = store.scan(&mut |e: StoredEntry| {
        chunk.push(Read::of(&e, leaves));
        if chunk.len() == CHUNK {
            back.try_iter().for_each(drop);
        }
        if chunk.len() == CHUNK && tx.send(std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK))).is_err() {
            // No one reads on: the scan stops here.
            gone = true;
            return Err(StoreError::Corrupt(String::new()));
        }
        Ok(())
    });
    match scanned {
        Err(_) if gone => return Ok(()),
        other => other?,
    }
    if !chunk.is_empty() {
        let _ = tx.send(chunk);
    }
    Ok(())
}

/// The one walk of a stored log: every entry read, hashed and parsed
/// (its bytes checked as `leaves` says) on a second thread, and handed to
/// `each` on this one, in store order, until `each` answers false.
/// (Whether its id is new is for `each` to ask the registry it builds, the
/// log's one index of ids.) Chunks keep the hand-over cheap, and go back
/// to the reading thread to be freed; a bounded channel keeps the memory
/// bounded.
pub(crate) fn walk(store: &mut dyn Store, leaves: Leaves, each: &mut dyn FnMut(&Read) -> bool) -> Result<(), StoreError> {
    std::thread::scope(|scope| -> Result<(), StoreError> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Read>>(8);
        let (back_tx, back_rx) = std::sync::mpsc::channel::<Vec<Read>>();
        let reader = scope.spawn(move || read_entries(store, leaves, tx, back_rx));
        'entries: for chunk in rx {
            for r in &chunk {
                if !each(r) {
                    break 'entries;
                }
            }
            // The reading thread may have ended: then it is freed here.
            let _ = back_tx.send(chunk);
        }
        match reader.join() {
            Ok(result) => result,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// How many entries a walk of `store` should make room for: what was
/// signed and is stored. Only a hint, read before anything is checked, so
/// held to what is plausible: a tampered size must not reserve the
/// machine's memory.
pub(crate) fn expected_entries(store: &mut dyn Store, signed: u64) -> Result<usize, StoreError> {
    Ok(usize::try_from(signed.min(store.len()?).min(1 << 28)).unwrap_or(0))
}

/// Why a [`replay`] stopped: the entry at fault, or the tree against the
/// size and root it must reach.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("entry {index} is stored at position {stored_at}: an entry is missing or duplicated; run `corridor verify`")]
    OutOfPlace { index: u64, stored_at: u64 },
    #[error("entry {index}: its bytes do not hash to the leaf hash recorded when it was appended: the entry was altered; run `corridor verify`")]
    Altered { index: u64 },
    #[error("entry {index} is not a valid event: {error}; run `corridor verify`")]
    Invalid { index: u64, error: corridor_model::FieldError },
    #[error("the log holds {stored} entries but was checked at {size}: entries from index {stored} on were removed; run `corridor verify`")]
    Missing { size: u64, stored: u64 },
    #[error("the first {size} stored entries do not hash to the root they were checked at: the log was altered since; run `corridor verify`")]
    Root { size: u64 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ReplayError {
    /// The entry at fault, when one can be named.
    pub fn index(&self) -> Option<u64> {
        match self {
            ReplayError::OutOfPlace { index, .. } | ReplayError::Altered { index } | ReplayError::Invalid { index, .. } => Some(*index),
            ReplayError::Missing { stored, .. } => Some(*stored),
            ReplayError::Root { .. } | ReplayError::Store(_) => None,
        }
    }
}

/// The first `size` entries of a log already checked whole (by
/// [`verify_log`] or a ledger's opening walk) read again through the same
/// [`walk`], for a reader that needs them twice (a fold redone after a
/// correction, a range shown after the check): each entry in order, its
/// bytes re-hashed against the hash recorded when it was appended and
/// re-parsed ([`Leaves::Signed`]), and the tree they make against `root`, the
/// root the first walk verified at `size`. The first fault stops it.
/// `on_entry` gets each entry's index, leaf hash and event before the
/// root is compared: on an error, what it was given is to be discarded.
/// (The registry and ids are not checked again: the same bytes passed
/// them in the first walk, which the root proves.)
pub fn replay(store: &mut dyn Store, size: u64, root: &Hash, on_entry: &mut dyn FnMut(u64, &Hash, &Event)) -> Result<(), ReplayError> {
    let expected = expected_entries(store, size)?;
    let mut tree = Tree::new();
    let mut fault = None;
    if size > 0 {
        walk(store, Leaves::Signed, &mut |r| {
            if tree.is_empty() {
                // Room made here, while the reading thread reads on.
                tree = Tree::with_capacity(expected);
            }
            let index = tree.len();
            let stop = |fault: &mut Option<ReplayError>, e| {
                *fault = Some(e);
                false
            };
            if r.index != index {
                return stop(&mut fault, ReplayError::OutOfPlace { index, stored_at: r.index });
            }
            if !r.hash_matches {
                return stop(&mut fault, ReplayError::Altered { index });
            }
            match &r.event {
                Err(error) => return stop(&mut fault, ReplayError::Invalid { index, error: error.clone() }),
                Ok(event) => on_entry(index, &r.hash, event),
            }
            tree.push(r.hash);
            tree.len() < size
        })?;
    }
    if let Some(f) = fault {
        return Err(f);
    }
    if tree.len() < size {
        return Err(ReplayError::Missing { size, stored: tree.len() });
    }
    if tree.root() != *root {
        return Err(ReplayError::Root { size });
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
    let expected = expected_entries(store, signed_before)?;
    let (mut tree, mut registry) = (Tree::new(), Registry::default());
    // This thread checks each event's id and references against the
    // registry, hands it on, and builds the tree; the walk's thread reads,
    // hashes and parses (nothing there depends on earlier events).
    walk(store, Leaves::Canonical, &mut |r| {
        if tree.is_empty() && registry.is_empty() {
            // Room made here, while the reading thread reads on.
            (tree, registry) = (Tree::with_capacity(expected), Registry::with_capacity(expected));
        }
        let index = tree.len();
        let mut bad = |what: String| problems.push(Problem { index: Some(index), what });
        if r.index != index {
            bad(format!("stored at position {} but found at position {index} (an entry is missing or duplicated)", r.index));
        }
        if !r.hash_matches {
            bad("its bytes do not hash to the leaf hash recorded when it was appended: the entry was altered".into());
        }
        match &r.event {
            Err(err) => {
                bad(format!("not a valid event: {err}"));
                registry.skip();
            }
            Ok(event) => {
                if let Some(first) = registry.position(&event.id) {
                    bad(format!("event id {:?} is already used by entry {first}: an event was counted twice", event.id));
                    registry.skip();
                } else if let Err(err) = registry.apply(event) {
                    bad(format!("event {:?} is not valid at this position: {err}", event.id));
                    registry.skip();
                }
                on_event(index, event);
            }
        }
        tree.push(r.hash);
        true
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::memory::MemoryStore;

    /// The model's example events as a stored log, and its root.
    fn log() -> (MemoryStore, Vec<Vec<u8>>, Hash) {
        let leaves: Vec<Vec<u8>> = corridor_model::examples().iter().map(|e| e.leaf_bytes().unwrap()).collect();
        let mut store = MemoryStore::new();
        let mut tree = Tree::new();
        for (i, leaf) in leaves.iter().enumerate() {
            store.append(&[StoredEntry { index: i as u64, hash: leaf_hash(leaf), leaf: leaf.clone() }], None).unwrap();
            tree.push(leaf_hash(leaf));
        }
        (store, leaves, tree.root())
    }

    /// `leaves` stored at their positions, each with the hash `hash_of` gives it.
    fn stored(leaves: &[Vec<u8>], hash_of: impl Fn(usize, &[u8]) -> Hash) -> MemoryStore {
        let mut store = MemoryStore::new();
        for (i, leaf) in leaves.iter().enumerate() {
            store.append(&[StoredEntry { index: i as u64, hash: hash_of(i, leaf), leaf: leaf.clone() }], None).unwrap();
        }
        store
    }

    #[test]
    fn replay_gives_each_entry_once_in_order_and_checks_the_root() {
        let (mut store, leaves, root) = log();
        let n = leaves.len() as u64;
        let mut seen = Vec::new();
        replay(&mut store, n, &root, &mut |i, h, e| seen.push((i, *h, e.id.clone()))).unwrap();
        let want: Vec<_> = corridor_model::examples().iter().enumerate().map(|(i, e)| (i as u64, leaf_hash(&leaves[i]), e.id.clone())).collect();
        assert_eq!(seen, want);
        // Another root at that size, or more entries than stored, is refused.
        assert!(matches!(replay(&mut store, n, &[7; 32], &mut |_, _, _| {}), Err(ReplayError::Root { size }) if size == n));
        assert!(matches!(replay(&mut store, n + 1, &root, &mut |_, _, _| {}), Err(ReplayError::Missing { size, stored }) if size == n + 1 && stored == n));
        // A prefix replays against its own root.
        let mut prefix = Tree::new();
        for l in &leaves[..2] {
            prefix.push(leaf_hash(l));
        }
        replay(&mut store, 2, &prefix.root(), &mut |_, _, _| {}).unwrap();
        replay(&mut MemoryStore::new(), 0, &crate::merkle::empty_root(), &mut |_, _, _| {}).unwrap();
    }

    #[test]
    fn replay_names_the_entry_at_fault_and_stops_there() {
        let (_, leaves, root) = log();
        let n = leaves.len() as u64;
        let k = 2;
        // Still an event, with other bytes than were hashed when appended.
        let mut altered = leaves.clone();
        let text = String::from_utf8(altered[k].clone()).unwrap();
        let author = corridor_model::examples()[k].author.clone();
        altered[k] = text.replacen(&format!("\"author\":\"{author}\""), "\"author\":\"zz\"", 1).into_bytes();
        assert_ne!(altered[k], leaves[k]);
        let mut store = stored(&altered, |i, l| if i == k { leaf_hash(&leaves[k]) } else { leaf_hash(l) });
        let mut seen = 0;
        let err = replay(&mut store, n, &root, &mut |_, _, _| seen += 1).unwrap_err();
        assert!(matches!(err, ReplayError::Altered { index } if index == k as u64), "{err}");
        assert_eq!((err.index(), seen), (Some(k as u64), k), "stops at the entry: {err}");
        // Its hash altered with it: the root no longer matches.
        let mut store = stored(&altered, |_, l| leaf_hash(l));
        assert!(matches!(replay(&mut store, n, &root, &mut |_, _, _| {}), Err(ReplayError::Root { .. })));
        // Not an event.
        let mut broken = leaves.clone();
        broken[k] = b"{\"v\":1,".to_vec();
        let mut store = stored(&broken, |_, l| leaf_hash(l));
        assert!(matches!(replay(&mut store, n, &root, &mut |_, _, _| {}), Err(ReplayError::Invalid { index, .. }) if index == k as u64));
    }
}
