//! The ledger: validated, deduplicated, group-committed appends to a
//! [`Store`], with the Merkle tree and the latest signed checkpoint in memory.
//!
//! One writer thread owns the store. Callers send batches; the writer takes
//! every batch waiting, checks each (all or nothing per batch), writes all
//! accepted entries and one new signed checkpoint in ONE transaction (one
//! fsync), and only then answers each caller. An event id already in the log
//! with the same content answers with its original position and writes
//! nothing; with different content it is refused.

use std::collections::HashMap;
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;

use corridor_model::{parse::parse_leaf, Event, FieldError, Registry};

use crate::checkpoint::Checkpoint;
use crate::merkle::{leaf_hash, Hash, ProofError, Tree};
use crate::note::{self, Signer, Verifier};
use crate::store::{StoreError, StoredCheckpoint, StoredEntry, Store};

/// Most events one group commit writes; more wait for the next one.
const MAX_GROUP: usize = 50_000;

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
    #[error(transparent)]
    Proof(#[from] ProofError),
    #[error("tree size {size} is beyond the log's {committed} durable entries")]
    BeyondLog { size: u64, committed: u64 },
    #[error("cannot sign the checkpoint: {0}")]
    Note(#[from] note::NoteError),
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
    ids: HashMap<String, (u64, Hash)>,
    registry: Registry,
    /// Entries durable in the store (the tree may hold staged ones beyond).
    committed: u64,
    checkpoint: SignedCheckpoint,
    failed: Option<String>,
}

struct Shared {
    state: RwLock<State>,
    reader: Mutex<Box<dyn Store>>,
    signer: Signer,
    origin: String,
}

struct Request {
    events: Vec<Event>,
    reply: SyncSender<Result<Vec<Appended>, LedgerError>>,
}

/// The log. Cheap to share behind an `Arc`; appends from many threads are
/// group-committed.
pub struct Ledger {
    shared: Arc<Shared>,
    tx: Option<Sender<Request>>,
    writer: Option<JoinHandle<()>>,
}

impl Ledger {
    /// Opens the log held in `writer_store` (a second connection,
    /// `reader_store`, serves reads), reloading and re-hashing every entry.
    /// `signer`'s name is the log's origin; an empty log is bound to it.
    pub fn open(
        mut writer_store: Box<dyn Store>,
        reader_store: Box<dyn Store>,
        signer: Signer,
    ) -> Result<Ledger, LedgerError> {
        let origin = signer.name().to_string();
        match writer_store.get_meta("origin")? {
            Some(stored) if stored != origin => return Err(LedgerError::WrongLog { stored, expected: origin }),
            Some(_) => {}
            None => writer_store.set_meta("origin", &origin)?,
        }
        let mut tree = Tree::new();
        let mut ids = HashMap::new();
        let mut registry = Registry::new();
        let mut corrupt = None;
        writer_store.scan(&mut |e: StoredEntry| {
            let fail = |what: String| StoreError::Corrupt(format!("{}\u{1}{what}", e.index));
            if e.index != tree.len() {
                return Err(fail(format!("expected index {}", tree.len())));
            }
            if leaf_hash(&e.leaf) != e.hash {
                return Err(fail("its bytes do not match its stored hash".into()));
            }
            let event = parse_leaf(&e.leaf).map_err(|err| fail(err.to_string()))?;
            registry.apply(&event).map_err(|err| fail(err.to_string()))?;
            tree.push(e.hash);
            ids.insert(e.event_id, (e.index, e.hash));
            Ok(())
        })
        .or_else(|err| match err {
            StoreError::Corrupt(msg) if msg.contains('\u{1}') => {
                let (i, what) = msg.split_once('\u{1}').expect("checked");
                corrupt = Some(LedgerError::Corrupt { index: i.parse().unwrap_or(0), what: what.into() });
                Ok(())
            }
            other => Err(other),
        })?;
        if let Some(c) = corrupt {
            return Err(c);
        }
        let committed = tree.len();
        let checkpoint = match writer_store.latest_checkpoint()? {
            Some(c) if c.size == committed => {
                let cp = parse_checkpoint(&c.note, &signer.verifier())
                    .map_err(|what| LedgerError::Corrupt { index: committed.saturating_sub(1), what })?;
                if cp.root != tree.root() {
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
                // A new log: sign its empty checkpoint.
                let cp = sign_checkpoint(&signer, committed, tree.root())?;
                writer_store.append(&[], Some(&StoredCheckpoint { size: cp.size, note: cp.note.clone() }))?;
                cp
            }
        };
        let shared = Arc::new(Shared {
            state: RwLock::new(State { tree, ids, registry, committed, checkpoint, failed: None }),
            reader: Mutex::new(reader_store),
            signer,
            origin,
        });
        let (tx, rx) = mpsc::channel();
        let s = shared.clone();
        let writer = std::thread::Builder::new()
            .name("ledger-writer".into())
            .spawn(move || writer_loop(s, writer_store, rx))
            .expect("can spawn the ledger writer thread");
        Ok(Ledger { shared, tx: Some(tx), writer: Some(writer) })
    }

    /// Appends a batch, all or nothing, and returns once it is durable.
    pub fn append(&self, events: Vec<Event>) -> Result<Vec<Appended>, LedgerError> {
        let (reply, rx) = mpsc::sync_channel(1);
        let stopped = || LedgerError::Stopped("the writer thread has stopped".into());
        self.tx.as_ref().ok_or_else(stopped)?.send(Request { events, reply }).map_err(|_| stopped())?;
        rx.recv().map_err(|_| stopped())?
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
        self.read().committed
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The latest signed checkpoint (covers every durable entry).
    pub fn checkpoint(&self) -> SignedCheckpoint {
        self.read().checkpoint.clone()
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
        s.ids.get(id).map(|&(i, _)| i).filter(|&i| i < s.committed)
    }

    /// Stored entries `start..end` (clamped to the durable size).
    pub fn entries(&self, start: u64, end: u64) -> Result<Vec<StoredEntry>, LedgerError> {
        let end = end.min(self.len());
        if start >= end {
            return Ok(vec![]);
        }
        Ok(self.shared.reader.lock().expect("reader lock").read(start, end)?)
    }

    /// Events `start..end`, parsed.
    pub fn events(&self, start: u64, end: u64) -> Result<Vec<(u64, Event)>, LedgerError> {
        self.entries(start, end)?
            .into_iter()
            .map(|e| {
                let ev = parse_leaf(&e.leaf).map_err(|err| LedgerError::Corrupt { index: e.index, what: err.to_string() })?;
                Ok((e.index, ev))
            })
            .collect()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.shared.state.read().expect("ledger state lock")
    }
}

impl Drop for Ledger {
    fn drop(&mut self) {
        self.tx.take();
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
    }
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

/// Opens a signed checkpoint note with `verifier` and parses its body.
pub fn parse_checkpoint(note_text: &str, verifier: &Verifier) -> Result<Checkpoint, String> {
    let opened = note::open(note_text, std::slice::from_ref(verifier)).map_err(|e| format!("checkpoint signature: {e}"))?;
    let cp = Checkpoint::parse(&opened.text).map_err(|e| format!("checkpoint body: {e}"))?;
    if cp.origin != verifier.name() {
        return Err(format!("checkpoint origin {:?} is not the key's name {:?}", cp.origin, verifier.name()));
    }
    Ok(cp)
}

fn writer_loop(shared: Arc<Shared>, mut store: Box<dyn Store>, rx: Receiver<Request>) {
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
        commit_group(&shared, store.as_mut(), requests);
    }
}

/// Stages every request (each all or nothing), writes the accepted entries
/// with one checkpoint in one transaction, then answers.
fn commit_group(shared: &Shared, store: &mut dyn Store, requests: Vec<Request>) {
    let mut entries = Vec::new();
    let mut answers = Vec::with_capacity(requests.len());
    let checkpoint = {
        let mut guard = shared.state.write().expect("ledger state lock");
        let state = &mut *guard;
        if let Some(why) = &state.failed {
            for r in requests {
                let _ = r.reply.send(Err(LedgerError::Stopped(why.clone())));
            }
            return;
        }
        for r in requests {
            let result = stage(state, &r.events, &mut entries);
            answers.push((r.reply, result));
        }
        if entries.is_empty() {
            None
        } else {
            match sign_checkpoint(&shared.signer, state.tree.len(), state.tree.root()) {
                Ok(cp) => Some(cp),
                Err(e) => {
                    state.failed = Some(e.to_string());
                    None
                }
            }
        }
    };
    let outcome = match (&checkpoint, entries.is_empty()) {
        (_, true) => Ok(()),
        (None, false) => Err("could not sign a checkpoint".to_string()),
        (Some(cp), false) => store
            .append(&entries, Some(&StoredCheckpoint { size: cp.size, note: cp.note.clone() }))
            .map_err(|e| e.to_string()),
    };
    {
        let mut state = shared.state.write().expect("ledger state lock");
        match &outcome {
            Ok(()) => {
                if let Some(cp) = checkpoint {
                    state.committed = cp.size;
                    state.checkpoint = cp;
                }
            }
            Err(why) => state.failed = Some(why.clone()),
        }
    }
    for (reply, result) in answers {
        let answer = match (&outcome, result) {
            (Err(why), Ok(outcomes)) if outcomes.iter().any(|o| matches!(o, Appended::New(_))) => {
                Err(LedgerError::Stopped(why.clone()))
            }
            (_, result) => result,
        };
        let _ = reply.send(answer);
    }
}

/// Checks one batch against the state and, if every event passes, stages it
/// (tree, ids, registry) and adds its new entries to `out`.
fn stage(state: &mut State, events: &[Event], out: &mut Vec<StoredEntry>) -> Result<Vec<Appended>, LedgerError> {
    let mut outcomes = Vec::with_capacity(events.len());
    let mut fresh: Vec<(usize, Vec<u8>, Hash)> = Vec::with_capacity(events.len());
    let mut in_batch: HashMap<&str, (usize, Hash)> = HashMap::new();
    for (position, e) in events.iter().enumerate() {
        let invalid = |error: FieldError| LedgerError::Invalid { position, id: e.id.clone(), error };
        e.check().map_err(invalid)?;
        let bytes = e.canonical_bytes();
        let hash = leaf_hash(&bytes);
        if let Some(&(index, stored)) = state.ids.get(&e.id) {
            if stored != hash {
                return Err(LedgerError::Conflict { position, id: e.id.clone(), index });
            }
            outcomes.push(Some(Appended::Duplicate(index)));
        } else if let Some(&(first, h)) = in_batch.get(e.id.as_str()) {
            if h != hash {
                return Err(invalid(FieldError::new("id", format!("used twice in this batch with different content (first at #{first})"))));
            }
            outcomes.push(None); // resolved to the first one's position below
        } else {
            in_batch.insert(&e.id, (position, hash));
            fresh.push((position, bytes, hash));
            outcomes.push(None);
        }
    }
    let new_events = fresh.iter().map(|(p, _, _)| &events[*p]);
    state.registry.apply_batch(new_events).map_err(|(i, error)| {
        let position = fresh[i].0;
        LedgerError::Invalid { position, id: events[position].id.clone(), error }
    })?;
    let mut index_of: HashMap<&str, u64> = HashMap::with_capacity(fresh.len());
    for (position, bytes, hash) in fresh {
        let e = &events[position];
        let index = state.tree.push(hash);
        state.ids.insert(e.id.clone(), (index, hash));
        index_of.insert(&e.id, index);
        outcomes[position] = Some(Appended::New(index));
        out.push(StoredEntry { index, event_id: e.id.clone(), leaf: bytes, hash });
    }
    Ok(outcomes
        .into_iter()
        .zip(events)
        .map(|(o, e)| o.unwrap_or_else(|| Appended::Duplicate(index_of[e.id.as_str()])))
        .collect())
}
