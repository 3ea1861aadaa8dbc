//! The outbox: messages queued in `pending/`, moved to `sent/` once a
//! sender took them for everyone, each message's journal of how far it
//! got, and [`deliver`], which offers them to a [`Sender`].

use std::fs;
use std::io::{self, BufRead, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::files::{append_private, create_private, create_private_dir, file_name, file_segments, file_stem, is_zero, now, sync_dir, write_atomic, write_atomic_with, FileSegment};
use super::recipients::{read_recipients, ListReader, RecipientList, RecipientsDigest};
use super::{OutMessage, Receipt, Recovered, SendError, Sender};
use crate::sms::{Encoded, Encoding, Segment};

/// One outbox file.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct FileMessage {
    id: String,
    /// When it was queued (RFC 3339, UTC): pending messages go oldest first.
    queued: String,
    text: String,
    /// "GSM-7" or "UCS-2".
    encoding: String,
    /// TP-DCS.
    dcs: u8,
    segments: Vec<FileSegment>,
    /// The recipient list's file name in `OUTBOX/lists/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    recipients_list: Option<String>,
    #[serde(default)]
    recipients_count: u64,
    /// The list's [`RecipientsDigest`] (no numbers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    recipients_hmac: Option<String>,
    /// Outboxes written before recipient lists held the numbers here, and
    /// in `done` how many of them (the first) had the message; such a file
    /// is converted when read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    recipients: Vec<String>,
    #[serde(default, skip_serializing_if = "is_zero")]
    done: u64,
    /// Set once a sender accepted it for everyone: the file is then moved
    /// to `sent/` (a file in `pending/` with this set only missed the move).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sent: Option<SentInfo>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct SentInfo {
    at: String,
    sender: String,
    segments: usize,
    recipients: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    uncertain: u64,
}

impl FileMessage {
    fn new(m: &OutMessage, list: &RecipientList) -> Self {
        FileMessage {
            id: m.id.clone(),
            queued: now(),
            text: m.text.clone(),
            encoding: m.encoded.encoding.name().into(),
            dcs: m.encoded.encoding.dcs(),
            segments: file_segments(&m.encoded),
            recipients_list: Some(list.name.clone()),
            recipients_count: list.count,
            recipients_hmac: list.hmac.clone(),
            recipients: Vec::new(),
            done: 0,
            sent: None,
        }
    }

    fn to_message(&self, path: &Path) -> Result<OutMessage, SendError> {
        let bad = |reason: String| SendError::bad(path, reason);
        let encoding = match self.encoding.as_str() {
            "GSM-7" => Encoding::Gsm7,
            "UCS-2" => Encoding::Ucs2,
            other => return Err(bad(format!("unknown encoding {other:?} (GSM-7 or UCS-2)"))),
        };
        let mut segments = Vec::with_capacity(self.segments.len());
        for (i, s) in self.segments.iter().enumerate() {
            let udh = hex::decode(&s.udh).map_err(|e| bad(format!("segment {}: udh is not hex: {e}", i + 1)))?;
            let payload = hex::decode(&s.payload).map_err(|e| bad(format!("segment {}: payload is not hex: {e}", i + 1)))?;
            segments.push(Segment { udh, text: s.text.clone(), units: s.units, payload });
        }
        Ok(OutMessage { id: self.id.clone(), text: self.text.clone(), encoded: Encoded { encoding, segments } })
    }
}


fn to_json(m: &FileMessage) -> Vec<u8> {
    let mut s = serde_json::to_vec_pretty(m).expect("an outbox message serializes");
    s.push(b'\n');
    s
}

/// What [`Outbox::queue`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Queued {
    /// Written to `pending/`.
    Added,
    /// A message with this id is already pending: left as it is (it may
    /// have reached some recipients already).
    AlreadyPending,
    /// A message with this id was sent: not queued again, so running
    /// `--send` twice never sends a notice twice.
    AlreadySent,
}

/// A pending file and what reading it gave.
type Entry = (PathBuf, Result<FileMessage, SendError>);

/// A pending message as read back from its file.
#[derive(Debug, Clone)]
pub struct Pending {
    pub message: OutMessage,
    /// When it was queued (RFC 3339).
    pub queued: String,
    /// Its recipient list (`OUTBOX/lists/…`) and how many numbers it holds.
    pub list: PathBuf,
    pub recipients: u64,
    /// The list's [`RecipientsDigest`] when it was queued with a key
    /// (messages queued by older versions have none: compute it from `list`).
    pub recipients_hmac: Option<String>,
    pub path: PathBuf,
}

/// A folder of messages: `pending/` waiting, `sent/` accepted by a sender,
/// `lists/` their recipients, `journal/` how far each got.
#[derive(Debug, Clone)]
pub struct Outbox {
    dir: PathBuf,
}

impl Outbox {
    /// The outbox in `dir` (owner-only), creating `pending/` and `sent/`.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, SendError> {
        let ob = Outbox { dir: dir.into() };
        create_private_dir(&ob.dir)?;
        for d in [ob.pending_dir(), ob.sent_dir()] {
            fs::create_dir_all(&d).map_err(|e| SendError::io("create", &d, e))?;
        }
        Ok(ob)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn pending_dir(&self) -> PathBuf {
        self.dir.join("pending")
    }

    pub fn sent_dir(&self) -> PathBuf {
        self.dir.join("sent")
    }

    pub fn lists_dir(&self) -> PathBuf {
        self.dir.join("lists")
    }

    pub fn journal_dir(&self) -> PathBuf {
        self.dir.join("journal")
    }

    pub fn uncertain_dir(&self) -> PathBuf {
        self.dir.join("uncertain")
    }

    /// Where the [`Folder`] sender writes by default: `DIR/out/`.
    pub fn out_dir(&self) -> PathBuf {
        self.dir.join("out")
    }

    /// The path of message `id` in `pending/`.
    pub fn pending_path(&self, id: &str) -> PathBuf {
        self.pending_dir().join(file_name(id))
    }

    /// The path of message `id` in `sent/`.
    pub fn sent_path(&self, id: &str) -> PathBuf {
        self.sent_dir().join(file_name(id))
    }

    /// Message `id`'s journal: `journal/ID.log`.
    pub fn journal_path(&self, id: &str) -> PathBuf {
        self.journal_dir().join(format!("{}.log", file_stem(id)))
    }

    /// The numbers message `id` may or may not have reached (see [`Receipt::uncertain`]).
    pub fn uncertain_path(&self, id: &str) -> PathBuf {
        self.uncertain_dir().join(format!("{}.txt", file_stem(id)))
    }

    pub fn list_path(&self, name: &str) -> PathBuf {
        self.lists_dir().join(name)
    }

    /// Reads a recipient list ([`read_recipients`]) and stores it in
    /// `lists/` under its SHA-256, streaming: memory does not grow with
    /// the list. With `key`, also computes its [`RecipientsDigest`].
    /// `list` names the source in errors.
    pub fn store_recipients(&self, reader: impl Read, list: &str, key: Option<&[u8]>) -> Result<RecipientList, SendError> {
        let dir = self.lists_dir();
        create_private_dir(&dir)?;
        let tmp = dir.join(format!(".import.{}.tmp", std::process::id()));
        let result = (|| {
            let f = create_private(&tmp).map_err(|e| SendError::io("write", &tmp, e))?;
            let mut w = BufWriter::with_capacity(1 << 16, f);
            let mut sha = Sha256::new();
            let mut digest = key.map(RecipientsDigest::new);
            let count = read_recipients(reader, list, |n| {
                w.write_all(n.as_bytes()).and_then(|_| w.write_all(b"\n")).map_err(|e| SendError::io("write", &tmp, e))?;
                sha.update(n.as_bytes());
                sha.update(b"\n");
                if let Some(d) = digest.as_mut() {
                    d.add(n);
                }
                Ok(())
            })?;
            if count == 0 {
                return Err(SendError::NoNumbers { list: list.into() });
            }
            let f = w.into_inner().map_err(|e| SendError::io("write", &tmp, e.into_error()))?;
            f.sync_all().map_err(|e| SendError::io("write", &tmp, e))?;
            let name = format!("{}.txt", hex::encode(sha.finalize()));
            let path = dir.join(&name);
            fs::rename(&tmp, &path).map_err(|e| SendError::io("write", &path, e))?;
            sync_dir(&dir).map_err(|e| SendError::io("write", &path, e))?;
            Ok(RecipientList { name, count, hmac: digest.map(RecipientsDigest::finish) })
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }

    /// Queues `msg` for the recipients of `list` (stored with
    /// [`Outbox::store_recipients`]): writes `pending/ID.json`
    /// (atomically), unless a message with its id is already pending or
    /// sent.
    pub fn queue(&self, msg: &OutMessage, list: &RecipientList) -> Result<Queued, SendError> {
        if list.count == 0 {
            return Err(SendError::NoRecipients { id: msg.id.clone() });
        }
        if self.sent_path(&msg.id).exists() {
            return Ok(Queued::AlreadySent);
        }
        let path = self.pending_path(&msg.id);
        if path.exists() {
            return Ok(Queued::AlreadyPending);
        }
        let lp = self.list_path(&list.name);
        if !lp.is_file() {
            return Err(SendError::io("find the recipient list", &lp, io::Error::from(io::ErrorKind::NotFound)));
        }
        // A journal left by a message of this id that was set aside
        // (superseded) is not this message's.
        let jp = self.journal_path(&msg.id);
        if jp.exists() {
            fs::remove_file(&jp).map_err(|e| SendError::io("remove the old journal", &jp, e))?;
        }
        write_atomic(&path, &to_json(&FileMessage::new(msg, list)))?;
        Ok(Queued::Added)
    }

    fn read(path: &Path) -> Result<FileMessage, SendError> {
        let bytes = fs::read(path).map_err(|e| SendError::io("read", path, e))?;
        serde_json::from_slice(&bytes).map_err(|e| SendError::bad(path, e.to_string()))
    }

    /// A file written before recipient lists (the numbers inside it) is
    /// converted: its numbers stored in `lists/`, how many of them already
    /// have the message written to its journal, then the file rewritten
    /// naming the list. Each step can be repeated after a crash.
    fn convert(&self, path: &Path, mut f: FileMessage) -> Result<FileMessage, SendError> {
        if f.recipients_list.is_some() {
            return Ok(f);
        }
        if f.recipients.is_empty() {
            return Err(SendError::bad(path, "it names no recipient list and holds no recipients"));
        }
        let text: String = f.recipients.iter().flat_map(|r| [r.as_str(), "\n"]).collect();
        let list = self.store_recipients(text.as_bytes(), &path.display().to_string(), None)?;
        if f.done > list.count {
            return Err(SendError::bad(path, format!("done = {} but only {} recipients", f.done, list.count)));
        }
        if f.done > 0 {
            create_private_dir(&self.journal_dir())?;
            Journal::new(self.journal_path(&f.id)).append(&format!("done {}", f.done))?;
        }
        f.recipients_list = Some(list.name);
        f.recipients_count = list.count;
        f.recipients = Vec::new();
        f.done = 0;
        write_atomic(path, &to_json(&f))?;
        Ok(f)
    }

    /// Every pending file, oldest first (by queue time, then id), each
    /// read (and converted from the older format) or its error; temporary
    /// files of an interrupted write are not messages and are skipped.
    fn entries(&self) -> Result<Vec<Entry>, SendError> {
        let dir = self.pending_dir();
        let rd = fs::read_dir(&dir).map_err(|e| SendError::io("list", &dir, e))?;
        let mut out = Vec::new();
        for entry in rd {
            let entry = entry.map_err(|e| SendError::io("list", &dir, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || !name.ends_with(".json") {
                continue;
            }
            let path = entry.path();
            let read = Self::read(&path).and_then(|f| self.convert(&path, f));
            out.push((path, read));
        }
        let key = |(p, r): &Entry| match r {
            Ok(m) => (m.queued.clone(), m.id.clone()),
            Err(_) => (String::new(), p.display().to_string()),
        };
        out.sort_by_key(key);
        Ok(out)
    }

    /// The pending messages, oldest first. An unreadable file is an error
    /// naming it.
    pub fn pending(&self) -> Result<Vec<Pending>, SendError> {
        self.entries()?
            .into_iter()
            .map(|(path, r)| {
                let f = r?;
                let list = self.list_path(f.recipients_list.as_deref().unwrap_or_default());
                Ok(Pending { message: f.to_message(&path)?, queued: f.queued, list, recipients: f.recipients_count, recipients_hmac: f.recipients_hmac, path })
            })
            .collect()
    }

    /// Moves message `id` from `pending/` to `sent/` (one rename).
    pub fn mark_sent(&self, id: &str) -> Result<(), SendError> {
        let from = self.pending_path(id);
        if !from.exists() {
            return Err(SendError::NotPending { id: id.into(), dir: self.pending_dir() });
        }
        let to = self.sent_path(id);
        fs::rename(&from, &to).map_err(|e| SendError::io("move to sent/", &from, e))?;
        sync_dir(&self.sent_dir()).and_then(|_| sync_dir(&self.pending_dir())).map_err(|e| SendError::io("sync", &self.dir, e))
    }
}

// ---------------------------------------------------------------------------
// The journal.

/// Where a message's delivery stands, from its journal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct JournalState {
    /// The first `done` recipients of the list were handled.
    done: u64,
    /// `sending A B` with no `done` after it: a batch a crash interrupted.
    in_flight: Option<(u64, u64)>,
    /// Batches recorded as uncertain (`uncertain A B`).
    uncertain: Vec<(u64, u64)>,
}

/// `journal/ID.log`: `sending A B` before recipients A..B (0-based, B
/// excluded) are handed to the sender, `done B` once they were (or `done
/// A` when none was), `uncertain A B` for an interrupted batch not sent
/// again. A `sending` line is synced before its batch goes; a batch's
/// `done` is written and synced with the next batch's `sending` (or alone
/// after the last).
struct Journal {
    path: PathBuf,
    file: Option<fs::File>,
}

impl Journal {
    fn new(path: PathBuf) -> Self {
        Journal { path, file: None }
    }

    /// Reads the journal (none: nothing done) a line at a time: a sender
    /// with small batches (Kannel's 20) writes a line per batch, so the
    /// file grows with the list but the memory reading it does not. A last
    /// line without its newline is a write a crash cut short, and did not
    /// happen.
    fn read(path: &Path) -> Result<JournalState, SendError> {
        let f = match fs::File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(JournalState::default()),
            Err(e) => return Err(SendError::io("read", path, e)),
        };
        let mut r = io::BufReader::with_capacity(1 << 16, f);
        let mut st = JournalState::default();
        let mut buf = Vec::with_capacity(64);
        let mut i = 0u64;
        loop {
            buf.clear();
            r.read_until(b'\n', &mut buf).map_err(|e| SendError::io("read", path, e))?;
            let Some(line) = buf.strip_suffix(b"\n") else { break };
            if line.is_empty() {
                continue;
            }
            i += 1;
            let bad = || SendError::bad(path, format!("line {i} is not `sending A B`, `done B` or `uncertain A B`"));
            let line = std::str::from_utf8(line).map_err(|_| bad())?;
            let mut w = line.split(' ');
            let word = w.next().unwrap_or("");
            let nums: Vec<u64> = w.map(|n| n.parse().map_err(|_| bad())).collect::<Result<_, _>>()?;
            match (word, nums.as_slice()) {
                ("sending", &[a, b]) if a == st.done && b >= a => st.in_flight = Some((a, b)),
                ("done", &[b]) if b >= st.done && st.in_flight.is_none_or(|(_, e)| b <= e) => {
                    st.done = b;
                    st.in_flight = None;
                }
                ("uncertain", &[a, b]) if a == st.done && b >= a => {
                    st.uncertain.push((a, b));
                    st.done = b;
                    st.in_flight = None;
                }
                _ => return Err(bad()),
            }
        }
        Ok(st)
    }

    fn append(&mut self, line: &str) -> Result<(), SendError> {
        if self.file.is_none() {
            self.file = Some(append_private(&self.path).map_err(|e| SendError::io("write the journal", &self.path, e))?);
        }
        let f = self.file.as_mut().expect("opened above");
        f.write_all(format!("{line}\n").as_bytes()).and_then(|_| f.sync_data()).map_err(|e| SendError::io("write the journal", &self.path, e))
    }
}

/// Offers every pending message, oldest first, to `sender`; moves each one
/// every recipient has to `sent/` and leaves the others pending. Returns
/// each message id with its receipt or error. A message some recipients
/// already have (an earlier failure or crash) goes only to the rest; its
/// receipt counts all of them.
///
/// An error listing the outbox itself is returned as one entry with the
/// id `""`.
pub fn deliver(outbox: &Outbox, sender: &mut dyn Sender) -> Vec<(String, Result<Receipt, SendError>)> {
    let entries = match outbox.entries() {
        Ok(e) => e,
        Err(e) => return vec![(String::new(), Err(e))],
    };
    let mut out = Vec::with_capacity(entries.len());
    for (path, read) in entries {
        let mut file = match read {
            Ok(f) => f,
            Err(e) => {
                let id = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
                out.push((id, Err(e)));
                continue;
            }
        };
        let id = file.id.clone();
        let result = deliver_one(outbox, sender, &path, &mut file);
        out.push((id, result));
    }
    out
}

fn deliver_one(outbox: &Outbox, sender: &mut dyn Sender, path: &Path, file: &mut FileMessage) -> Result<Receipt, SendError> {
    let jpath = outbox.journal_path(&file.id);
    if let Some(s) = &file.sent {
        // Accepted before, and the move to sent/ did not happen: finish it.
        let receipt = Receipt { segments_sent: s.segments, recipients: s.recipients, uncertain: s.uncertain };
        outbox.mark_sent(&file.id)?;
        let _ = fs::remove_file(&jpath);
        return Ok(receipt);
    }
    let msg = file.to_message(path)?;
    let count = file.recipients_count;
    let list_path = outbox.list_path(file.recipients_list.as_deref().ok_or_else(|| SendError::bad(path, "it names no recipient list"))?);
    if count == 0 {
        return Err(SendError::NoRecipients { id: msg.id });
    }
    create_private_dir(&outbox.journal_dir())?;
    let state = Journal::read(&jpath)?;
    if state.done > count {
        return Err(SendError::bad(&jpath, format!("it has {} recipients done, the message has {count}", state.done)));
    }
    let mut journal = Journal::new(jpath);
    let mut done = state.done;
    let mut uncertain = state.uncertain;
    let mut list = ListReader::open(&list_path)?;
    list.skip(done)?;
    let mut resend = None;
    match state.in_flight {
        None => {
            sender.recover(&msg, done, None)?;
        }
        Some((a, b)) => {
            let batch = list.batch(b - a)?;
            if batch.len() as u64 != b - a {
                return Err(SendError::bad(&list_path, format!("it ends before recipient {b} the journal names")));
            }
            match sender.recover(&msg, done, Some(&batch))? {
                Recovered::Resend => resend = Some(batch),
                Recovered::Uncertain => {
                    journal.append(&format!("uncertain {a} {b}"))?;
                    uncertain.push((a, b));
                    done = b;
                }
            }
        }
    }
    if !uncertain.is_empty() {
        write_uncertain(&outbox.uncertain_dir(), &outbox.uncertain_path(&msg.id), &list_path, &uncertain)?;
    }
    let size = sender.batch_size().max(1) as u64;
    let mut last_done = None;
    loop {
        let batch = match resend.take() {
            Some(b) => b,
            None => list.batch(size.min(count - done))?,
        };
        if batch.is_empty() {
            break;
        }
        let (a, b) = (done, done + batch.len() as u64);
        // The previous batch's `done` goes with this one's `sending`, in
        // one sync: lost, it would only leave that batch in flight, which
        // the sender recovers (sent again by the folder, which cuts it
        // back first; reported uncertain by Kannel, never sent twice).
        let line = match last_done.take() {
            Some(d) => format!("done {d}\nsending {a} {b}"),
            None => format!("sending {a} {b}"),
        };
        journal.append(&line)?;
        match sender.send(&msg, &batch) {
            Ok(()) => {
                last_done = Some(b);
                done = b;
            }
            Err(SendError::Partial { done: k, source, .. }) => {
                done = a + k.min(b - a);
                // Remember who has it so a retry does not send it to them again.
                journal.append(&format!("done {done}"))?;
                return Err(SendError::Partial { id: msg.id, done, of: count, source });
            }
            Err(e) => {
                // None of the batch was accepted: it goes again next time.
                // (Unwritten, the batch is left in flight, which is safe.)
                let _ = journal.append(&format!("done {a}"));
                return Err(if done > 0 { SendError::Partial { id: msg.id, done, of: count, source: Box::new(e) } } else { e });
            }
        }
    }
    if let Some(d) = last_done {
        journal.append(&format!("done {d}"))?;
    }
    if done != count {
        return Err(SendError::bad(&list_path, format!("it holds {done} numbers, the message was queued for {count}")));
    }
    sender.finish(&msg, count)?;
    let unsure: u64 = uncertain.iter().map(|(a, b)| b - a).sum();
    let receipt = Receipt { segments_sent: msg.encoded.segments.len(), recipients: count - unsure, uncertain: unsure };
    file.sent = Some(SentInfo { at: now(), sender: sender.name().into(), segments: receipt.segments_sent, recipients: receipt.recipients, uncertain: unsure });
    write_atomic(path, &to_json(file))?;
    outbox.mark_sent(&file.id)?;
    let _ = fs::remove_file(&journal.path);
    Ok(receipt)
}

/// Writes the numbers of the `ranges` of the list to `path` (owner-only),
/// in full each time, so a crash while writing it changes nothing.
fn write_uncertain(dir: &Path, path: &Path, list: &Path, ranges: &[(u64, u64)]) -> Result<(), SendError> {
    create_private_dir(dir)?;
    let mut r = ListReader::open(list)?;
    write_atomic_with(path, |w| {
        let mut i = 0u64;
        let end = ranges.iter().map(|r| r.1).max().unwrap_or(0);
        while i < end {
            let Some(n) = r.next()? else { break };
            if ranges.iter().any(|&(a, b)| (a..b).contains(&i)) {
                w.write_all(n.as_bytes()).and_then(|_| w.write_all(b"\n")).map_err(|e| SendError::io("write", path, e))?;
            }
            i += 1;
        }
        Ok(())
    })
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::send::testing::{message, numbers, store, Accepting, Failing};
    use crate::send::recipients_hmac;
    use std::panic::{catch_unwind, AssertUnwindSafe};


    #[test]
    fn queue_writes_a_pending_file_that_names_its_list() {
        let dir = tempfile::tempdir().unwrap();
        let ob = Outbox::open(dir.path()).unwrap();
        let long = "ممر إنساني مفتوح ".repeat(12);
        let m = message("east.w1.0.ar", &long);
        assert!(m.encoded.segments.len() > 1);
        let list = store(&ob, &numbers(2));
        assert_eq!(list.count, 2);
        assert_eq!(list.name, format!("{}.txt", hex::encode(Sha256::digest(b"+963900000000\n+963900000001\n"))));
        assert_eq!(list.hmac.as_deref(), Some(recipients_hmac(b"k", &numbers(2)).as_str()));
        assert_eq!(ob.queue(&m, &list).unwrap(), Queued::Added);
        let path = dir.path().join("pending/east.w1.0.ar.json");
        let raw = fs::read_to_string(&path).unwrap();
        assert!(!raw.contains("+963"), "a pending file names its list, it holds no numbers: {raw}");
        let json: serde_json::Value = serde_json::from_str(&raw).unwrap();
        assert_eq!(json["encoding"], "UCS-2");
        assert_eq!(json["dcs"], 8);
        assert_eq!(json["segments"][0]["udh"].as_str().unwrap(), format!("05000307{:02x}01", m.encoded.segments.len()));
        assert_eq!(json["recipients_list"], list.name.as_str());
        assert_eq!(json["recipients_count"], 2);
        let p = ob.pending().unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].message, m);
        assert_eq!((p[0].recipients, p[0].list.clone()), (2, ob.list_path(&list.name)));
        assert_eq!(fs::read_to_string(&p[0].list).unwrap(), "+963900000000\n+963900000001\n");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(fs::metadata(&p[0].list).unwrap().permissions().mode() & 0o777, 0o600, "lists hold numbers: owner only");
            assert_eq!(fs::metadata(dir.path()).unwrap().permissions().mode() & 0o777, 0o700);
        }
        // Queuing again leaves it alone.
        assert_eq!(ob.queue(&m, &list).unwrap(), Queued::AlreadyPending);
        // The same list stored again is the same file.
        assert_eq!(store(&ob, &numbers(2)).name, list.name);
        assert_eq!(fs::read_dir(ob.lists_dir()).unwrap().count(), 1);
        let names: Vec<String> = fs::read_dir(dir.path().join("pending")).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        assert_eq!(names, vec!["east.w1.0.ar.json".to_string()]);
    }

    #[test]
    fn an_interrupted_write_is_not_a_message() {
        let dir = tempfile::tempdir().unwrap();
        let ob = Outbox::open(dir.path()).unwrap();
        fs::write(dir.path().join("pending/.east.w1.0.en.json.4242.tmp"), b"{\"id\": \"east.w1.0.en\", \"te").unwrap();
        assert!(ob.pending().unwrap().is_empty());
        let mut s = Accepting::default();
        assert!(deliver(&ob, &mut s).is_empty());
        let m = message("east.w1.0.en", "Corridor open from 10:00 to 16:00.");
        assert_eq!(ob.queue(&m, &store(&ob, &numbers(3))).unwrap(), Queued::Added);
        assert_eq!(ob.pending().unwrap()[0].message, m);
        let missing = dir.path().join("no-such-folder/x.json");
        assert!(matches!(write_atomic(&missing, b"{}"), Err(SendError::Io { .. })));
        assert!(!missing.exists());
    }

    #[test]
    fn a_failed_send_stays_pending_and_a_good_one_moves_to_sent() {
        let dir = tempfile::tempdir().unwrap();
        let ob = Outbox::open(dir.path()).unwrap();
        let list = store(&ob, &numbers(2));
        let a = message("a.w.0.en", "Corridor A open.");
        let b = message("b.w.0.en", "Corridor B open.");
        ob.queue(&a, &list).unwrap();
        ob.queue(&b, &list).unwrap();

        let mut bad = Failing { ok_for: 0, calls: 0 };
        let r = deliver(&ob, &mut bad);
        assert_eq!(r.len(), 2);
        assert_eq!(bad.calls, 2);
        let msg = r[0].1.as_ref().unwrap_err().to_string();
        assert!(msg.contains("stays in the outbox"), "{msg}");
        assert!(!msg.contains("+963"), "an error must not carry numbers: {msg}");
        assert_eq!(ob.pending().unwrap().len(), 2);
        assert!(fs::read_dir(ob.sent_dir()).unwrap().next().is_none());

        let mut good = Accepting::default();
        let r = deliver(&ob, &mut good);
        assert_eq!(r.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>(), ["a.w.0.en", "b.w.0.en"]);
        assert_eq!(r[0].1.as_ref().unwrap(), &Receipt { segments_sent: 1, recipients: 2, uncertain: 0 });
        assert_eq!(good.got.len(), 4, "the failed batch went again, once");
        assert!(ob.pending().unwrap().is_empty());
        assert!(ob.sent_path("a.w.0.en").exists() && ob.sent_path("b.w.0.en").exists());
        assert!(!ob.journal_path("a.w.0.en").exists(), "a sent message's journal is removed");
        let sent: serde_json::Value = serde_json::from_slice(&fs::read(ob.sent_path("a.w.0.en")).unwrap()).unwrap();
        assert_eq!(sent["sent"]["sender"], "accepting");
        assert_eq!(ob.queue(&a, &list).unwrap(), Queued::AlreadySent);
        assert!(deliver(&ob, &mut good).is_empty());
        assert_eq!(good.got.len(), 4);
    }

    #[test]
    fn a_partial_failure_is_remembered_and_not_resent() {
        let dir = tempfile::tempdir().unwrap();
        let ob = Outbox::open(dir.path()).unwrap();
        ob.queue(&message("a.w.0.ar", "الممر مفتوح"), &store(&ob, &numbers(3))).unwrap();
        let r = deliver(&ob, &mut Failing { ok_for: 1, calls: 0 });
        let e = r[0].1.as_ref().unwrap_err();
        assert!(matches!(e, SendError::Partial { done: 1, of: 3, .. }), "{e}");
        assert_eq!(fs::read_to_string(ob.journal_path("a.w.0.ar")).unwrap(), "sending 0 3\ndone 1\n");
        let mut good = Accepting::default();
        let r = deliver(&ob, &mut good);
        assert_eq!(r[0].1.as_ref().unwrap(), &Receipt { segments_sent: 1, recipients: 3, uncertain: 0 });
        assert_eq!(good.got.iter().map(|g| g.1.as_str()).collect::<Vec<_>>(), ["+963900000001", "+963900000002"]);
        assert_eq!(good.recovered, [(1, None)]);
        assert!(ob.sent_path("a.w.0.ar").exists());
    }

    #[test]
    fn a_missed_move_is_finished_without_sending_again() {
        let dir = tempfile::tempdir().unwrap();
        let ob = Outbox::open(dir.path()).unwrap();
        let m = message("a.w.0.en", "Corridor A open.");
        ob.queue(&m, &store(&ob, &numbers(2))).unwrap();
        let path = ob.pending_path(&m.id);
        let mut f: FileMessage = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        f.sent = Some(SentInfo { at: now(), sender: "kannel".into(), segments: 1, recipients: 2, uncertain: 0 });
        write_atomic(&path, &to_json(&f)).unwrap();
        let mut good = Accepting::default();
        let r = deliver(&ob, &mut good);
        assert!(r[0].1.is_ok());
        assert!(good.got.is_empty());
        assert!(ob.sent_path(&m.id).exists() && !path.exists());
    }


    #[test]
    fn an_at_most_once_sender_reports_an_interrupted_batch_and_never_resends_it() {
        let dir = tempfile::tempdir().unwrap();
        let ob = Outbox::open(dir.path()).unwrap();
        let m = message("a.w.0.en", "Corridor A open.");
        let nums = numbers(25);
        ob.queue(&m, &store(&ob, &nums)).unwrap();
        let mut s = Accepting { batch: 10, crash_after: Some(1), at_most_once: true, ..Default::default() };
        assert!(catch_unwind(AssertUnwindSafe(|| deliver(&ob, &mut s))).is_err());
        assert_eq!(s.got.len(), 20);
        let mut again = Accepting { batch: 10, at_most_once: true, ..Default::default() };
        let r = deliver(&ob, &mut again);
        assert_eq!(r[0].1.as_ref().unwrap(), &Receipt { segments_sent: 1, recipients: 15, uncertain: 10 });
        assert_eq!(again.recovered, [(10, Some(10))]);
        let all: Vec<&str> = s.got.iter().chain(&again.got).map(|g| g.1.as_str()).collect();
        assert_eq!(all, nums.iter().map(String::as_str).collect::<Vec<_>>(), "no one twice, no one left out");
        let uncertain = fs::read_to_string(ob.uncertain_path(&m.id)).unwrap();
        assert_eq!(uncertain, nums[10..20].iter().map(|n| format!("{n}\n")).collect::<String>());
        let sent: serde_json::Value = serde_json::from_slice(&fs::read(ob.sent_path(&m.id)).unwrap()).unwrap();
        assert_eq!((sent["sent"]["recipients"].as_u64(), sent["sent"]["uncertain"].as_u64()), (Some(15), Some(10)));
    }

    #[test]
    fn the_journal_reads_what_was_written_and_refuses_nonsense() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("j.log");
        fs::write(&p, "sending 0 10\ndone 10\nsending 10 20\nuncertain 10 20\nsending 20 30\ndone 2").unwrap();
        // The last line was cut short by a crash: it did not happen.
        assert_eq!(Journal::read(&p).unwrap(), JournalState { done: 20, in_flight: Some((20, 30)), uncertain: vec![(10, 20)] });
        fs::write(&p, "sending 0 10\ndone 10\nsending 5 15\n").unwrap();
        let e = Journal::read(&p).unwrap_err().to_string();
        assert!(e.contains("line 3 is not"), "{e}");
        fs::write(&p, "done 10\ndone 4\n").unwrap();
        assert!(Journal::read(&p).is_err(), "done never goes back");
        assert_eq!(Journal::read(&dir.path().join("none.log")).unwrap(), JournalState::default());
        // A long journal (Kannel's batches of 20 for 2M recipients: 100,000
        // batches, 2.6 MB) is read through, a buffer at a time, to the same state.
        let mut long = String::new();
        for a in (0..2_000_000u64).step_by(20) {
            long.push_str(&format!("sending {a} {}\n", a + 20));
            if a == 1_000_000 {
                long.push_str(&format!("uncertain {a} {}\n", a + 20));
            } else {
                long.push_str(&format!("done {}\n", a + 20));
            }
        }
        long.push_str("sending 2000000 2000020\ndone 20000");
        fs::write(&p, &long).unwrap();
        assert_eq!(Journal::read(&p).unwrap(), JournalState { done: 2_000_000, in_flight: Some((2_000_000, 2_000_020)), uncertain: vec![(1_000_000, 1_000_020)] });
    }

    #[test]
    fn an_older_pending_file_with_numbers_inside_is_converted() {
        let dir = tempfile::tempdir().unwrap();
        let ob = Outbox::open(dir.path()).unwrap();
        let m = message("a.w.0.en", "Corridor A open.");
        let old = serde_json::json!({
            "id": m.id, "queued": now(), "text": m.text, "encoding": "GSM-7", "dcs": 0,
            "segments": file_segments(&m.encoded),
            "recipients": ["+963900000001", "+963900000002", "+963900000003"], "done": 1
        });
        fs::write(ob.pending_path(&m.id), old.to_string()).unwrap();
        let p = ob.pending().unwrap();
        assert_eq!((p[0].recipients, p[0].recipients_hmac.clone()), (3, None));
        assert!(!fs::read_to_string(&p[0].path).unwrap().contains("+963"), "converted: the numbers moved to lists/");
        let mut good = Accepting::default();
        let r = deliver(&ob, &mut good);
        assert_eq!(r[0].1.as_ref().unwrap().recipients, 3);
        assert_eq!(good.got.iter().map(|g| g.1.as_str()).collect::<Vec<_>>(), ["+963900000002", "+963900000003"], "the first already had it");
    }

}
