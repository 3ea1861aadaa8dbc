//! The ledger: validated, deduplicated, group-committed appends to a
//! [`Store`], with the Merkle tree and the latest signed checkpoint in memory.
//!
//! Callers check each event on its own, canonicalize and hash it on their own
//! thread, then send the batch. A stager thread takes every batch waiting,
//! checks each against the log (duplicates, references; all or nothing per
//! batch), extends the tree and signs the checkpoint of the new size; a
//! committer thread writes the group's entries and that checkpoint in ONE
//! transaction (one fsync) and only then answers each caller. The stager
//! prepares the next group while the committer writes one. An event id already in the log
//! with the same content answers with its original position and writes
//! nothing; with different content it is refused.

use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;

use corridor_model::{parse::parse_signed_leaf, Event, FieldError, Registry};

use crate::checkpoint::Checkpoint;
use crate::merkle::{leaf_hash, Hash, ProofError, Tree};
use crate::verify::{expected_entries, walk, Leaves, Read};
use crate::note::{self, Signer, Verifier};
use crate::tiles::{self, Tile, TileKind};
use crate::store::{StoreError, StoredCheckpoint, StoredEntry, Store};

/// Most events one group commit writes; more wait for the next one.
const MAX_GROUP: usize = 10_000;

/// An input too long to hold in memory, checked as the ledger would check
/// it appended in one batch after what the log holds (each event on its
/// own, its id against the log and the input before it, its references
/// against what both declare), one event at a time and without appending
/// anything: memory holds the input's ids and declarations, not its
/// events. Appended afterwards in batches by the one writer (nothing else
/// appending meanwhile), none of them can then be refused, so the input
/// is appended all or nothing; a crash part-way leaves whole batches
/// appended, which a second run answers as duplicates.
pub struct Precheck<'a> {
    ledger: &'a Ledger,
    /// What the log and the input so far declare, and their ids.
    registry: Registry,
    /// Where the input's entries begin in `registry`.
    base: u64,
    /// The leaf hashes of the input's new entries, in order.
    hashes: Vec<Hash>,
}

impl Precheck<'_> {
    /// Checks the event at 0-based `position` in the input, after those
    /// before it, as [`Ledger::append`] would (the same errors).
    pub fn check(&mut self, position: usize, event: &Event) -> Result<(), LedgerError> {
        let invalid = |error| LedgerError::Invalid { position, id: event.id.clone(), error };
        event.check().map_err(invalid)?;
        let hash = leaf_hash(&event.leaf_bytes().map_err(invalid)?);
        {
            let s = self.ledger.read();
            if let Some(index) = s.registry.position(&event.id) {
                return match s.tree.leaf(index) == Some(hash) {
                    true => Ok(()),
                    false => Err(LedgerError::Conflict { position, id: event.id.clone(), index }),
                };
            }
        }
        if let Some(earlier) = self.registry.position(&event.id).and_then(|at| at.checked_sub(self.base)) {
            return match self.hashes.get(earlier as usize) == Some(&hash) {
                // Answered as a duplicate of the first once appended.
                true => Ok(()),
                false => Err(invalid(FieldError::new("id", "used earlier in this input with different content (choose a new id for a new fact)"))),
            };
        }
        self.registry.check(event).map_err(invalid)?;
        self.registry.record(event);
        self.hashes.push(hash);
        Ok(())
    }
}

/// Where an appended event is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Appended {
    /// Newly written at this position.
    New(u64),
    /// Already stored at this position with the same content: nothing written.
    Duplicate(u64),
}

impl Appended {
    pub fn index(self) -> u64 {
        match self {
            Appended::New(i) | Appended::Duplicate(i) => i,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("event #{position} (id {id:?}) rejected, nothing from this batch was appended: {error}")]
    Invalid { position: usize, id: String, error: FieldError },
    #[error("event #{position}: id {id:?} is already stored at index {index} with different content, nothing from this batch was appended (choose a new id for a new fact)")]
    Conflict { position: usize, id: String, index: u64 },
    #[error("storage failed, nothing from this batch was acknowledged: {0}")]
    Store(#[from] StoreError),
    #[error("the ledger stopped after a storage failure ({0}); reopen it (restart the command or server)")]
    Stopped(String),
    #[error("stored entry {index} is corrupt: {what}; run `corridor verify` for a full report")]
    Corrupt { index: u64, what: String },
    #[error("the store belongs to log {stored:?}, but this data directory's key is for {expected:?}")]
    WrongLog { stored: String, expected: String },
    #[error("the log {origin:?} was signed by key {origin}+{signed:08x}, but the key given to open it (the data directory's log.key) is {origin}+{given:08x}: the key was replaced. Restore the log.key that signed this log (from a backup); the entries were not checked and nothing was changed")]
    WrongKey { origin: String, signed: u32, given: u32 },
    #[error(transparent)]
    Proof(#[from] ProofError),
    #[error("tree size {size} is beyond the log's {committed} durable entries")]
    BeyondLog { size: u64, committed: u64 },
    #[error("this key signed a checkpoint of {signed} entries (kept in {path}), but the log holds {stored}{detail}: the ledger was replaced, truncated or lost, and appending now would start a second history under the same key. Restore the log from a backup or from a monitor's copy; only if you are sure this log is the right one, delete {path}")]
    Forked { path: String, signed: u64, stored: u64, detail: String },
    #[error("cannot keep the latest signed checkpoint in {path}: {why}")]
    Remember { path: String, why: String },
    #[error("the log (size {size}) has no tile {path}")]
    NoSuchTile { path: String, size: u64 },
    #[error("cannot sign the checkpoint: {0}")]
    Note(#[from] note::NoteError),
    #[error("this server does not sequence the log now (another server of the cluster does): nothing was appended; send the write again")]
    NotWriter,
}

/// A signed checkpoint and what it commits to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCheckpoint {
    pub size: u64,
    pub root: Hash,
    /// The full C2SP signed note.
    pub note: String,
}

struct State {
    tree: Tree,
    /// What the tree's entries (staged or durable) declare, and every
    /// event id in it with its position (its leaf hash is the tree's).
    registry: Registry,
    /// Entries durable in the store (the tree may hold staged ones beyond).
    committed: u64,
}

struct Shared {
    state: RwLock<State>,
    /// The latest signed checkpoint, of the `committed` entries (set under
    /// `state`'s write lock together with `committed`): read without
    /// waiting for `state`, which
    /// the writer holds while it stages a group, so that a server's
    /// handlers never wait on the writer for the log's size.
    served: RwLock<SignedCheckpoint>,
    /// Why the writer stopped (a storage failure, a lost lease), if it did.
    failed: Mutex<Option<String>>,
    /// Where the latest signed checkpoint is kept outside the store, and
    /// the size written there last ([`Ledger::remember_signed`]).
    remembered: Mutex<Option<(std::path::PathBuf, u64)>>,
    reader: Mutex<Box<dyn Store>>,
    signer: Signer,
    origin: String,
}

impl Shared {
    /// Serves `cp` (called under `state`'s write lock, as `committed` moves to its size).
    fn serve(&self, cp: &SignedCheckpoint) {
        *self.served.write().unwrap_or_else(|p| p.into_inner()) = cp.clone();
    }

    /// Stops the writer for `why`, unless it already stopped (the first
    /// failure is the one reported).
    fn fail(&self, why: String) {
        self.failed.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert(why);
    }
}

/// An event checked on its own, with its canonical bytes and leaf hash,
/// prepared on the caller's thread so the writer thread does only what must
/// be serial.
struct Prepared {
    event: Event,
    bytes: Vec<u8>,
    hash: Hash,
}

struct Request {
    events: Vec<Prepared>,
    reply: Reply,
}

/// The log. Cheap to share behind an `Arc`; appends from many threads are
/// group-committed.
pub struct Ledger {
    shared: Arc<Shared>,
    /// The stager and committer threads, when this ledger writes.
    writer: Mutex<Option<Writer>>,
}

impl Ledger {
    /// Opens the log held in `writer_store` (a second connection,
    /// `reader_store`, serves reads), reloading and re-hashing every entry,
    /// and starts writing. `signer`'s name is the log's origin; an empty
    /// log is bound to it.
    pub fn open(writer_store: Box<dyn Store>, reader_store: Box<dyn Store>, signer: Signer) -> Result<Ledger, LedgerError> {
        Self::open_folding(writer_store, reader_store, signer, &mut |_, _| {})
    }

    /// [`Ledger::open`], calling `on_event` with each entry of the log, in
    /// order, as the opening walk checks it: whoever keeps views of the log
    /// (the server's fold) builds them in the same walk instead of reading
    /// the log again. On an error the events seen are to be discarded.
    pub fn open_folding(
        mut writer_store: Box<dyn Store>,
        reader_store: Box<dyn Store>,
        signer: Signer,
        on_event: &mut dyn FnMut(u64, &Event),
    ) -> Result<Ledger, LedgerError> {
        let origin = signer.name().to_string();
        match writer_store.get_meta("origin")? {
            Some(stored) if stored != origin => return Err(LedgerError::WrongLog { stored, expected: origin }),
            Some(_) => {}
            None => writer_store.set_meta("origin", &origin)?,
        }
        if writer_store.get_meta(VERIFIER_KEY)?.is_none() {
            writer_store.set_meta(VERIFIER_KEY, &signer.verifier().to_vkey())?;
        }
        let (state, checkpoint, empty) = load(&mut *writer_store, &signer, false, on_event)?;
        if let Some(cp) = empty {
            writer_store.append(&[], Some(&cp))?;
        }
        let ledger = Ledger::new(state, checkpoint, reader_store, signer);
        ledger.start(writer_store);
        Ok(ledger)
    }

    /// Opens the log held in `reader_store` to read only: a server of a
    /// cluster that does not sequence. [`Ledger::refresh`] reads what the
    /// sequencer appended since; [`Ledger::promote`] makes it the writer.
    pub fn open_follower(reader_store: Box<dyn Store>, signer: Signer) -> Result<Ledger, LedgerError> {
        Self::open_follower_folding(reader_store, signer, &mut |_, _| {})
    }

    /// [`Ledger::open_follower`], calling `on_event` as
    /// [`Ledger::open_folding`] does.
    pub fn open_follower_folding(mut reader_store: Box<dyn Store>, signer: Signer, on_event: &mut dyn FnMut(u64, &Event)) -> Result<Ledger, LedgerError> {
        let origin = signer.name().to_string();
        match reader_store.get_meta("origin")? {
            Some(stored) if stored != origin => return Err(LedgerError::WrongLog { stored, expected: origin }),
            Some(_) => {}
            None => return Err(LedgerError::Store(StoreError::Unusable(format!("the store holds no log yet (no origin): open log {origin:?} once with a writer (`corridor init`) before servers join it")))),
        }
        let (state, checkpoint, empty) = load(&mut *reader_store, &signer, true, on_event)?;
        if empty.is_some() {
            return Err(LedgerError::Corrupt { index: 0, what: "the log has no signed checkpoint yet: open it once with a writer".into() });
        }
        Ok(Ledger::new(state, checkpoint, reader_store, signer))
    }

    fn new(state: State, checkpoint: SignedCheckpoint, reader_store: Box<dyn Store>, signer: Signer) -> Ledger {
        let origin = signer.name().to_string();
        let shared = Arc::new(Shared {
            served: RwLock::new(checkpoint),
            failed: Mutex::new(None),
            state: RwLock::new(state),
            reader: Mutex::new(reader_store),
            remembered: Mutex::new(None),
            signer,
            origin,
        });
        Ledger { shared, writer: Mutex::new(None) }
    }

    /// Starts the stager and committer threads writing to `store`.
    fn start(&self, store: Box<dyn Store>) {
        let (tx, rx) = mpsc::channel();
        let (commit_tx, commit_rx) = mpsc::sync_channel(1);
        let (s1, s2) = (self.shared.clone(), self.shared.clone());
        let stager = std::thread::Builder::new()
            .name("ledger-stager".into())
            .spawn(move || stager_loop(s1, rx, commit_tx))
            .expect("can spawn the ledger stager thread");
        let committer = std::thread::Builder::new()
            .name("ledger-committer".into())
            .spawn(move || committer_loop(s2, store, commit_rx))
            .expect("can spawn the ledger committer thread");
        *self.writer.lock().unwrap_or_else(|p| p.into_inner()) = Some(Writer { tx, threads: vec![stager, committer] });
    }

    /// Whether this ledger writes (it opened as the writer, or was promoted).
    pub fn is_writer(&self) -> bool {
        self.writer.lock().unwrap_or_else(|p| p.into_inner()).is_some()
    }

    /// Why the writer stopped (a storage failure, a lost lease), if it did.
    pub fn failed(&self) -> Option<String> {
        self.shared.failed.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// A follower: reads the entries and the signed checkpoint the writer
    /// stored since the last call, checking each entry as [`Ledger::open`]
    /// does and the checkpoint's signature and root. Answers how many
    /// entries were new. A writer has nothing to read: 0.
    pub fn refresh(&self) -> Result<u64, LedgerError> {
        if self.is_writer() {
            return Ok(0);
        }
        let mut reader = self.shared.reader.lock().unwrap_or_else(|p| p.into_inner());
        self.refresh_from(&mut **reader)
    }

    fn refresh_from(&self, store: &mut dyn Store) -> Result<u64, LedgerError> {
        let from = self.len();
        let latest = store.latest_checkpoint()?;
        let result = (|| {
            let Some(latest) = latest else {
                // A new log has its empty checkpoint from the start.
                return Err(LedgerError::Corrupt { index: 0, what: "the store holds no signed checkpoint any more: the log was removed or replaced".into() });
            };
            if latest.size == from {
                // The same size: the same tree, or another history.
                let ours = self.checkpoint();
                if latest.note != ours.note {
                    let cp = parse_checkpoint(&latest.note, &self.verifier()).map_err(|what| LedgerError::Corrupt { index: from.saturating_sub(1), what })?;
                    if cp.root != ours.root {
                        return Err(LedgerError::Corrupt { index: from.saturating_sub(1), what: "the stored log's signed root differs from the one this server holds at the same size: the log was replaced".into() });
                    }
                }
                return Ok(0);
            }
            if latest.size < from {
                return Err(LedgerError::Corrupt {
                    index: latest.size,
                    what: format!("the stored log shrank from {from} to {} entries: it was truncated or replaced", latest.size),
                });
            }
            let cp = parse_checkpoint(&latest.note, &self.verifier()).map_err(|what| LedgerError::Corrupt { index: latest.size - 1, what })?;
            // Every entry up to the signed size (stored in the same
            // transactions as the checkpoints, so all there).
            let mut at = from;
            let mut entries = Vec::new();
            while at < latest.size {
                let end = (at + 10_000).min(latest.size);
                let chunk = store.read(at, end)?;
                if chunk.len() as u64 != end - at {
                    return Err(LedgerError::Corrupt { index: at, what: format!("the signed checkpoint covers {} entries but entries {at}..{end} are not all stored", latest.size) });
                }
                entries.extend(chunk);
                at = end;
            }
            let mut guard = self.shared.state.write().unwrap_or_else(|p| p.into_inner());
            let state = &mut *guard;
            if state.committed != from {
                return Ok(0); // another refresh did it meanwhile
            }
            // Applied in place; `committed` (what is served) moves only once
            // the signed root matches. A mismatch stops this ledger for good.
            let checked = entries.iter().try_for_each(|e| load_entry(&mut state.tree, &mut state.registry, &Read::of(e, Leaves::Signed), &mut |_, _| {})).and_then(|()| {
                if state.tree.root() != cp.root || cp.size != latest.size {
                    return Err(LedgerError::Corrupt { index: latest.size - 1, what: "the stored entries do not hash to the root of the latest signed checkpoint".into() });
                }
                Ok(())
            });
            if let Err(e) = checked {
                state.tree.truncate(from);
                state.registry.truncate(from);
                return Err(e);
            }
            state.committed = latest.size;
            let cp = SignedCheckpoint { size: cp.size, root: cp.root, note: latest.note.clone() };
            self.shared.serve(&cp);
            drop(guard);
            if let Err(e) = remember(&self.shared, &cp) {
                tracing_free_warn(&e);
            }
            Ok(latest.size - from)
        })();
        if let Err(e) = &result {
            if matches!(e, LedgerError::Corrupt { .. }) {
                self.shared.fail(e.to_string());
            }
        }
        result
    }

    /// Makes a follower the writer, appending through `store`, which must
    /// hold the writer's lease (so that nothing else appends meanwhile):
    /// reads what the previous writer stored, then starts writing from
    /// there.
    pub fn promote(&self, mut store: Box<dyn Store>) -> Result<(), LedgerError> {
        if self.is_writer() {
            return Ok(());
        }
        self.refresh_from(&mut *store)?;
        let stored = store.len()?;
        if stored != self.len() {
            return Err(LedgerError::Corrupt { index: stored.min(self.len()), what: format!("{stored} entries are stored but the latest signed checkpoint covers {}", self.len()) });
        }
        self.start(store);
        Ok(())
    }

    /// Stops writing (the lease was lost) and reloads the log as stored:
    /// what was staged but never stored is forgotten. The ledger is a
    /// follower afterwards.
    pub fn demote(&self) -> Result<(), LedgerError> {
        let writer = self.writer.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(w) = writer {
            w.stop();
        }
        let mut reader = self.shared.reader.lock().unwrap_or_else(|p| p.into_inner());
        let (state, checkpoint, _) = load(&mut **reader, &self.shared.signer, true, &mut |_, _| {})?;
        let mut current = self.shared.state.write().unwrap_or_else(|p| p.into_inner());
        // What was served stays served: the stored log must extend it.
        let served = current.committed;
        if state.committed < served || state.tree.root_at(served).ok() != current.tree.root_at(served).ok() {
            let why = format!("the stored log no longer extends the {served} entries this server served: it was truncated or replaced");
            self.shared.fail(why.clone());
            return Err(LedgerError::Corrupt { index: served.saturating_sub(1), what: why });
        }
        self.shared.serve(&checkpoint);
        *current = state;
        // Reloaded from what is stored: whatever stopped the writer is behind it.
        *self.shared.failed.lock().unwrap_or_else(|p| p.into_inner()) = None;
        Ok(())
    }

    /// Appends a batch, all or nothing, and returns once it is durable.
    pub fn append(&self, events: Vec<Event>) -> Result<Vec<Appended>, LedgerError> {
        let events = events
            .into_iter()
            .enumerate()
            .map(|(position, event)| {
                let invalid = |error| LedgerError::Invalid { position, id: event.id.clone(), error };
                event.check().map_err(invalid)?;
                let bytes = event.leaf_bytes().map_err(invalid)?;
                let hash = leaf_hash(&bytes);
                Ok(Prepared { event, bytes, hash })
            })
            .collect::<Result<Vec<_>, LedgerError>>()?;
        let (reply, rx) = mpsc::sync_channel(1);
        let stopped = || LedgerError::Stopped("the writer thread has stopped".into());
        let tx = self.writer.lock().unwrap_or_else(|p| p.into_inner()).as_ref().map(|w| w.tx.clone()).ok_or(LedgerError::NotWriter)?;
        tx.send(Request { events, reply }).map_err(|_| stopped())?;
        drop(tx);
        let (answer, spent) = rx.recv().map_err(|_| stopped())?;
        drop(spent);
        answer
    }

    /// A dry run of appending a long input as one batch, one event at a
    /// time (see [`Precheck`]).
    pub fn precheck(&self) -> Precheck<'_> {
        let registry = self.read().registry.clone();
        Precheck { ledger: self, base: registry.len(), registry, hashes: Vec::new() }
    }

    /// Reads the registry of what the log (with what is being appended)
    /// declares: to check a write's scope against the entries it names.
    pub fn with_registry<R>(&self, f: impl FnOnce(&Registry) -> R) -> R {
        f(&self.shared.state.read().unwrap_or_else(|p| p.into_inner()).registry)
    }

    /// The log's origin line (also its key name).
    pub fn origin(&self) -> &str {
        &self.shared.origin
    }

    /// The verifier key, `name+hash+base64`.
    pub fn verifier_key(&self) -> String {
        self.shared.signer.verifier().to_vkey()
    }

    pub fn verifier(&self) -> Verifier {
        self.shared.signer.verifier()
    }

    /// Number of durable entries.
    pub fn len(&self) -> u64 {
        self.served().size
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The latest signed checkpoint (covers every durable entry).
    pub fn checkpoint(&self) -> SignedCheckpoint {
        self.served().clone()
    }

    /// Root of the first `size` entries.
    pub fn root_at(&self, size: u64) -> Result<Hash, LedgerError> {
        let s = self.read();
        check_size(size, s.committed)?;
        Ok(s.tree.root_at(size)?)
    }

    /// Leaf hash of entry `index`.
    pub fn leaf_hash(&self, index: u64) -> Option<Hash> {
        let s = self.read();
        (index < s.committed).then(|| s.tree.leaf(index)).flatten()
    }

    /// Inclusion proof of entry `index` in the tree of `size` entries.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, LedgerError> {
        let s = self.read();
        check_size(size, s.committed)?;
        Ok(s.tree.inclusion_proof(index, size)?)
    }

    /// Consistency proof between the trees of `old_size` and `new_size`.
    pub fn consistency_proof(&self, old_size: u64, new_size: u64) -> Result<Vec<Hash>, LedgerError> {
        let s = self.read();
        check_size(new_size, s.committed)?;
        Ok(s.tree.consistency_proof(old_size, new_size)?)
    }

    /// Where the event with this id is, if stored.
    pub fn position_of(&self, id: &str) -> Option<u64> {
        let s = self.read();
        s.registry.position(id).filter(|&i| i < s.committed)
    }

    /// The ids of the stored entries at `indices` (`None` past the durable
    /// size), answered from memory.
    pub fn ids_at(&self, indices: impl IntoIterator<Item = u64>) -> Vec<Option<String>> {
        let s = self.read();
        indices.into_iter().map(|i| s.registry.id_at(i).filter(|_| i < s.committed).map(str::to_owned)).collect()
    }

    /// Stored entries `start..end` (clamped to the durable size), each
    /// checked as the opening walk checked it: its bytes must hash to the
    /// leaf this ledger holds at its position (which that walk, or this
    /// ledger's own append, verified against a signed checkpoint). An entry
    /// altered in the store since is refused, not served.
    pub fn entries(&self, start: u64, end: u64) -> Result<Vec<StoredEntry>, LedgerError> {
        let end = end.min(self.len());
        if start >= end {
            return Ok(vec![]);
        }
        // A read that failed (even by a panic) leaves the connection usable
        // or failing with an error: never a poisoned lock that stops reads.
        let entries = self.shared.reader.lock().unwrap_or_else(|p| p.into_inner()).read(start, end)?;
        // The leaves are copied out under the lock and hashed after it: the
        // writer is not held up by the hashing.
        let leaves: Vec<Option<Hash>> = {
            let s = self.read();
            (start..end).map(|i| s.tree.leaf(i)).collect()
        };
        if entries.len() != leaves.len() {
            return Err(LedgerError::Corrupt { index: start + entries.len() as u64, what: format!("entries {start}..{end} are covered by a signed checkpoint but not all stored") });
        }
        for ((e, leaf), index) in entries.iter().zip(&leaves).zip(start..) {
            if e.index != index || *leaf != Some(leaf_hash(&e.leaf)) {
                return Err(LedgerError::Corrupt { index, what: "its bytes do not hash to the leaf this log verified at its position: the entry was altered in the store".into() });
            }
        }
        Ok(entries)
    }

    /// Events `start..end`, parsed from [`Ledger::entries`] (checked
    /// against the leaves this log verified, so their form is not checked
    /// again: see [`crate::verify::Leaves::Signed`]).
    pub fn events(&self, start: u64, end: u64) -> Result<Vec<(u64, Event)>, LedgerError> {
        self.entries(start, end)?
            .into_iter()
            .map(|e| {
                let ev = parse_signed_leaf(&e.leaf).map_err(|err| LedgerError::Corrupt { index: e.index, what: err.to_string() })?;
                Ok((e.index, ev))
            })
            .collect()
    }

    /// Fork safety: checks the log against the latest checkpoint this key
    /// signed as kept in `path` (outside the store, beside the key), and
    /// from now on keeps each new one there. A log smaller than what was
    /// signed, or with another root at that size (a deleted, replaced or
    /// truncated ledger), is refused: it would start a second history
    /// under the same key.
    pub fn remember_signed(&self, path: &std::path::Path) -> Result<(), LedgerError> {
        let shown = path.display().to_string();
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let cp = parse_checkpoint(&text, &self.verifier()).map_err(|why| LedgerError::Remember {
                    path: shown.clone(),
                    why: format!("it is not a checkpoint signed by this key ({why}); if the log is intact, delete the file"),
                })?;
                let stored = self.len();
                let fork = |detail: String| LedgerError::Forked { path: shown.clone(), signed: cp.size, stored, detail };
                if cp.size > stored {
                    return Err(fork(String::new()));
                }
                if self.root_at(cp.size)? != cp.root {
                    return Err(fork(format!(", whose first {} do not hash to the signed root", cp.size)));
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(LedgerError::Remember { path: shown, why: e.to_string() }),
        }
        *self.shared.remembered.lock().unwrap_or_else(|p| p.into_inner()) = Some((path.to_path_buf(), 0));
        remember(&self.shared, &self.checkpoint())
    }

    /// The bytes of a C2SP tlog-tiles tile of the durable tree: subtree
    /// hashes (from memory) or an entry bundle (from the store).
    pub fn tile(&self, tile: Tile) -> Result<Vec<u8>, LedgerError> {
        let size = self.len();
        if !tile.exists_in(size) {
            return Err(LedgerError::NoSuchTile { path: tile.path(), size });
        }
        let r = tile.range();
        match tile.kind {
            TileKind::Hash(level) => {
                let s = self.read();
                let hashes = s.tree.level_hashes(Tile::tree_level(level), r.start, r.end);
                Ok(hashes.ok_or(LedgerError::NoSuchTile { path: tile.path(), size })?.concat())
            }
            TileKind::Entries => {
                let entries = self.entries(r.start, r.end)?;
                tiles::bundle(entries.iter().map(|e| &e.leaf[..])).map_err(|e| LedgerError::Corrupt { index: r.start, what: e.to_string() })
            }
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.shared.state.read().unwrap_or_else(|p| p.into_inner())
    }

    fn served(&self) -> std::sync::RwLockReadGuard<'_, SignedCheckpoint> {
        self.shared.served.read().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for Ledger {
    fn drop(&mut self) {
        if let Some(w) = self.writer.get_mut().unwrap_or_else(|p| p.into_inner()).take() {
            w.stop();
        }
    }
}

/// The writer's two threads and the way to them.
struct Writer {
    tx: Sender<Request>,
    threads: Vec<JoinHandle<()>>,
}

impl Writer {
    /// Lets the threads finish what they were given, and waits for them.
    fn stop(self) {
        drop(self.tx);
        for t in self.threads {
            let _ = t.join();
        }
    }
}

/// The meta key under which the log's verifier key (its public part) is
/// kept in the store, for the servers and tools that share the log.
pub const VERIFIER_KEY: &str = "verifier_key";

/// The one check of a stored entry, wherever the log is loaded: its index
/// continues the tree, its bytes match its hash, it parses, it is valid
/// against what the log declared before it, and its id is new. Adds it to
/// the tree and the registry (which keeps its id).
fn load_entry(tree: &mut Tree, registry: &mut Registry, r: &Read, on_event: &mut dyn FnMut(u64, &Event)) -> Result<(), LedgerError> {
    let fail = |what: String| LedgerError::Corrupt { index: r.index, what };
    if r.index != tree.len() {
        return Err(fail(format!("expected index {}", tree.len())));
    }
    if !r.hash_matches {
        return Err(fail("its bytes do not match its stored hash".into()));
    }
    let event = r.event.as_ref().map_err(|err| fail(err.to_string()))?;
    if let Some(first) = registry.position(&event.id) {
        return Err(fail(format!("its event id is already used by entry {first}: an event was counted twice")));
    }
    registry.apply(event).map_err(|err| fail(err.to_string()))?;
    on_event(r.index, event);
    tree.push(r.hash);
    Ok(())
}

/// Reads and checks the whole log in `store` against its latest signed
/// checkpoint. A new, empty log also answers the empty tree's checkpoint,
/// signed, for the caller to store.
///
/// `follower`: another process may be appending meanwhile, so the log is
/// read up to the latest signed checkpoint as it was when reading began
/// (entries and checkpoints are stored together, one transaction each).
/// Otherwise this process holds the writer's lock and an entry beyond the
/// latest checkpoint was added outside the ledger.
fn load(store: &mut dyn Store, signer: &Signer, follower: bool, on_event: &mut dyn FnMut(u64, &Event)) -> Result<(State, SignedCheckpoint, Option<StoredCheckpoint>), LedgerError> {
    let origin = signer.name().to_string();
    // Read once, before the entries: a follower reads up to it; a writer
    // holds the lock, so nothing is added meanwhile. Room is made for what
    // it signed and is stored (a writer's log ends at its latest
    // checkpoint, or it is refused below).
    let latest = store.latest_checkpoint()?;
    let limit = if follower { latest.as_ref().map_or(u64::MAX, |c| c.size) } else { u64::MAX };
    let expected = expected_entries(store, latest.as_ref().map_or(0, |c| c.size))?;
    let (mut tree, mut registry) = (Tree::new(), Registry::default());
    let mut bad = None;
    // The one walk (`verify` reads so too): read, hashed and parsed on a
    // second thread, checked and folded here; the first fault stops it.
    // Every entry read is one the latest signed checkpoint covers (a
    // writer's log ends there or is refused below; a follower stops
    // there), and the root is compared with it below: their form is not
    // checked again ([`Leaves::Signed`]); ids and references are.
    walk(store, Leaves::Signed, &mut |r| {
        if r.index >= limit {
            return false;
        }
        if tree.is_empty() && registry.is_empty() {
            // Room made here, while the reading thread reads on.
            (tree, registry) = (Tree::with_capacity(expected), Registry::with_capacity(expected));
        }
        match load_entry(&mut tree, &mut registry, r, on_event) {
            Ok(()) => true,
            Err(err) => {
                bad = Some(err);
                false
            }
        }
    })?;
    if let Some(b) = bad {
        return Err(b);
    }
    let committed = tree.len();
    if let Some(signed) = latest.as_ref().and_then(|c| signed_by_other_key(&c.note, &signer.verifier())) {
        return Err(LedgerError::WrongKey { origin, signed, given: signer.key_hash() });
    }
    let mut empty = None;
    let checkpoint = match latest {
        Some(c) if c.size == committed => {
            let cp = parse_checkpoint(&c.note, &signer.verifier())
                .map_err(|what| LedgerError::Corrupt { index: committed.saturating_sub(1), what })?;
            if cp.size != committed || cp.root != tree.root() {
                return Err(LedgerError::Corrupt {
                    index: committed.saturating_sub(1),
                    what: "the entries do not hash to the root of the latest signed checkpoint".into(),
                });
            }
            SignedCheckpoint { size: c.size, root: cp.root, note: c.note }
        }
        Some(c) => {
            return Err(LedgerError::Corrupt {
                index: committed.min(c.size).saturating_sub(1),
                what: format!("the latest signed checkpoint covers {} entries but {committed} are stored (entries were removed or added outside the ledger)", c.size),
            })
        }
        None if committed > 0 => {
            return Err(LedgerError::Corrupt { index: 0, what: "the log has entries but no signed checkpoint".into() })
        }
        None => {
            // A new log: its empty checkpoint, signed.
            let cp = sign_checkpoint(signer, committed, tree.root())?;
            empty = Some(StoredCheckpoint { size: cp.size, note: cp.note.clone() });
            cp
        }
    };
    Ok((State { tree, registry, committed }, checkpoint, empty))
}

/// Writes `cp` where [`Ledger::remember_signed`] keeps it, unless a
/// checkpoint as large is there already (atomic replace, no fsync: after a
/// power cut the file holds an earlier checkpoint, which still guards).
fn remember(shared: &Shared, cp: &SignedCheckpoint) -> Result<(), LedgerError> {
    let mut r = shared.remembered.lock().unwrap_or_else(|p| p.into_inner());
    let Some((path, written)) = r.as_mut() else { return Ok(()) };
    if *written >= cp.size && *written != 0 {
        return Ok(());
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, &cp.note)
        .and_then(|()| std::fs::rename(&tmp, &*path))
        .map_err(|e| LedgerError::Remember { path: path.display().to_string(), why: e.to_string() })?;
    *written = cp.size;
    Ok(())
}

/// A failure to keep the signed checkpoint beside the key does not stop
/// the log (the store has it); it is said on stderr once.
fn tracing_free_warn(e: &LedgerError) {
    static SAID: std::sync::Once = std::sync::Once::new();
    SAID.call_once(|| eprintln!("warning: {e}"));
}

fn check_size(size: u64, committed: u64) -> Result<(), LedgerError> {
    if size > committed {
        return Err(LedgerError::BeyondLog { size, committed });
    }
    Ok(())
}

/// Signs the checkpoint for a tree of `size` with root `root`.
pub fn sign_checkpoint(signer: &Signer, size: u64, root: Hash) -> Result<SignedCheckpoint, LedgerError> {
    let body = Checkpoint { origin: signer.name().to_string(), size, root, extensions: vec![] }.to_text();
    let note = note::sign(&body, &[signer])?;
    Ok(SignedCheckpoint { size, root, note })
}

/// The key hash of the key named like `verifier` that signed `note_text`,
/// when `verifier` itself did not: the same log name under another key (a
/// replaced `log.key`), not a damaged note.
pub fn signed_by_other_key(note_text: &str, verifier: &Verifier) -> Option<u32> {
    let sigs = note::signatures(note_text).ok()?;
    let ours = |s: &&note::NoteSignature| s.name == verifier.name();
    if sigs.iter().filter(ours).any(|s| s.key_hash == verifier.key_hash()) {
        return None;
    }
    sigs.iter().find(ours).map(|s| s.key_hash)
}

/// Opens a signed checkpoint note with `verifier` and parses its body.
pub fn parse_checkpoint(note_text: &str, verifier: &Verifier) -> Result<Checkpoint, String> {
    if let Some(other) = signed_by_other_key(note_text, verifier) {
        return Err(format!(
            "signed by key {}+{other:08x}, not by the key checking it ({}+{:08x}): is this the log's key?",
            verifier.name(),
            verifier.name(),
            verifier.key_hash()
        ));
    }
    let opened = note::open(note_text, std::slice::from_ref(verifier)).map_err(|e| format!("checkpoint signature: {e}"))?;
    let cp = Checkpoint::parse(&opened.text).map_err(|e| format!("checkpoint body: {e}"))?;
    if cp.origin != verifier.name() {
        return Err(format!("checkpoint origin {:?} is not the key's name {:?}", cp.origin, verifier.name()));
    }
    Ok(cp)
}

/// The answer to a batch, and its events handed back so that the caller's
/// thread, not the writer's, frees them.
type Reply = SyncSender<(Result<Vec<Appended>, LedgerError>, Vec<Event>)>;

/// Where to answer a batch, the answer if it was refused or staged, and its
/// spent events.
type Answer = (Reply, Result<Vec<Appended>, LedgerError>, Vec<Event>);

/// One group commit, staged and waiting to be written.
struct Commit {
    entries: Vec<StoredEntry>,
    checkpoint: Option<SignedCheckpoint>,
    answers: Vec<Answer>,
}

/// First stage of the writer: takes every batch waiting, stages each (all
/// or nothing per batch), signs the checkpoint of the new size, and hands
/// the group to the committer. While the committer writes one group, the
/// stager prepares the next.
fn stager_loop(shared: Arc<Shared>, rx: Receiver<Request>, tx: SyncSender<Commit>) {
    while let Ok(first) = rx.recv() {
        let mut requests = vec![first];
        let mut n = requests[0].events.len();
        while n < MAX_GROUP {
            match rx.try_recv() {
                Ok(r) => {
                    n += r.events.len();
                    requests.push(r);
                }
                Err(_) => break,
            }
        }
        if tx.send(stage_group(&shared, requests)).is_err() {
            break;
        }
    }
}

fn stage_group(shared: &Shared, requests: Vec<Request>) -> Commit {
    let mut entries = Vec::new();
    let mut answers = Vec::with_capacity(requests.len());
    let mut guard = shared.state.write().unwrap_or_else(|p| p.into_inner());
    let state = &mut *guard;
    if shared.failed.lock().unwrap_or_else(|p| p.into_inner()).is_some() {
        // The committer answers "stopped" to all of them.
        answers.extend(requests.into_iter().map(|r| (r.reply, Ok(vec![]), vec![])));
        return Commit { entries, checkpoint: None, answers };
    }
    for r in requests {
        let mut spent = Vec::with_capacity(r.events.len());
        let result = stage(state, r.events, &mut entries, &mut spent);
        answers.push((r.reply, result, spent));
    }
    let mut checkpoint = None;
    if !entries.is_empty() {
        match sign_checkpoint(&shared.signer, state.tree.len(), state.tree.root()) {
            Ok(cp) => checkpoint = Some(cp),
            Err(e) => shared.fail(e.to_string()),
        }
    }
    Commit { entries, checkpoint, answers }
}

/// Second stage of the writer: writes a staged group and its checkpoint in
/// one transaction, then answers every caller in it. After a failure it
/// writes nothing more and answers "stopped".
fn committer_loop(shared: Arc<Shared>, mut store: Box<dyn Store>, rx: Receiver<Commit>) {
    let every = store.renew_every();
    loop {
        let c = match every {
            None => match rx.recv() {
                Ok(c) => c,
                Err(_) => break,
            },
            Some(every) => match rx.recv_timeout(every) {
                Ok(c) => c,
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    // Idle: keep the writer's lease; once it is lost, write nothing more.
                    if let Err(e) = store.renew() {
                        shared.fail(e.to_string());
                    }
                    continue;
                }
            },
        };
        let failed = shared.failed.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let outcome = match (failed, &c.checkpoint) {
            (Some(why), _) => Err(why),
            (None, _) if c.entries.is_empty() => Ok(()),
            (None, None) => Err("could not sign a checkpoint".to_string()),
            (None, Some(cp)) => store
                .append(&c.entries, Some(&StoredCheckpoint { size: cp.size, note: cp.note.clone() }))
                .map_err(|e| e.to_string()),
        };
        {
            let mut state = shared.state.write().unwrap_or_else(|p| p.into_inner());
            match &outcome {
                Ok(()) => {
                    if let Some(cp) = c.checkpoint {
                        if let Err(e) = remember(&shared, &cp) {
                            tracing_free_warn(&e);
                        }
                        state.committed = cp.size;
                        shared.serve(&cp);
                    }
                }
                Err(why) => {
                    shared.fail(why.clone());
                }
            }
        }
        for (reply, result, spent) in c.answers {
            let answer = match (&outcome, result) {
                // A refused batch stays refused; anything else in a failed
                // group was not made durable.
                (_, Err(e)) => Err(e),
                (Err(why), Ok(_)) => Err(LedgerError::Stopped(why.clone())),
                (Ok(()), ok) => ok,
            };
            let _ = reply.send((answer, spent));
        }
    }
}

/// Checks one batch against the state and, if every event passes, stages it
/// (tree, ids, registry) and adds its new entries to `out`. On a refusal the
/// state and `out` are left as they were.
fn stage(
    state: &mut State,
    events: Vec<Prepared>,
    out: &mut Vec<StoredEntry>,
    spent: &mut Vec<Event>,
) -> Result<Vec<Appended>, LedgerError> {
    let (tree_len, out_len, spent_len) = (state.tree.len(), out.len(), spent.len());
    let result = stage_inner(state, events, out, spent);
    if result.is_err() {
        state.tree.truncate(tree_len);
        state.registry.truncate(tree_len);
        out.truncate(out_len);
        spent.truncate(spent_len);
    }
    result
}

/// Stages a batch (what [`stage`] undoes on refusal: the entries added to
/// the tree, and to the live registry before any declaration).
fn stage_inner(state: &mut State, events: Vec<Prepared>, out: &mut Vec<StoredEntry>, spent: &mut Vec<Event>) -> Result<Vec<Appended>, LedgerError> {
    let mut outcomes = Vec::with_capacity(events.len());
    // Declarations change the registry a lot: they go to a copy, kept only
    // if the whole batch passes. Anything else before them is recorded in
    // the live registry and undone on refusal (see
    // `Registry::record_staged`).
    let mut scratch: Option<Registry> = None;
    for (position, p) in events.into_iter().enumerate() {
        let e = &p.event;
        let registry = scratch.as_ref().unwrap_or(&state.registry);
        // Already stored, or earlier in this batch: same content is a no-op.
        if let Some(index) = registry.position(&e.id) {
            if state.tree.leaf(index) != Some(p.hash) {
                return Err(if index >= state.committed {
                    LedgerError::Invalid {
                        position,
                        id: e.id.clone(),
                        error: FieldError::new(
                            "id",
                            format!("already being appended at index {index} with different content (choose a new id for a new fact)"),
                        ),
                    }
                } else {
                    LedgerError::Conflict { position, id: e.id.clone(), index }
                });
            }
            outcomes.push(Appended::Duplicate(index));
            continue;
        }
        registry.check(e).map_err(|error| LedgerError::Invalid { position, id: e.id.clone(), error })?;
        state.registry.record_staged(&mut scratch, e);
        let index = state.tree.push(p.hash);
        outcomes.push(Appended::New(index));
        let Prepared { event, bytes, hash } = p;
        out.push(StoredEntry { index, leaf: bytes, hash });
        spent.push(event);
    }
    if let Some(s) = scratch {
        state.registry = s;
    }
    Ok(outcomes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::memory::MemoryStore;

    /// A server's handlers ask the log's size, checkpoint and health on
    /// the async workers: they must not wait for the writer, which holds
    /// the state's write lock while it stages a group.
    #[test]
    fn the_size_checkpoint_and_health_are_answered_while_the_writer_stages() {
        let signer = Signer::generate("test.invalid/served").unwrap();
        let ledger = Arc::new(Ledger::open(Box::new(MemoryStore::new()), Box::new(MemoryStore::new()), signer).unwrap());
        let staging = ledger.shared.state.write().unwrap();
        let (tx, rx) = mpsc::channel();
        let l = ledger.clone();
        std::thread::spawn(move || tx.send((l.len(), l.checkpoint().size, l.failed())).unwrap());
        let answered = rx.recv_timeout(std::time::Duration::from_secs(10));
        drop(staging);
        assert_eq!(answered.expect("answered while the state was locked"), (0, 0, None));
    }
}
