//! Handing encoded SMS to something that delivers them, to any number of
//! recipients in bounded memory, without ever calling a message sent that
//! was not, and without sending anyone a message twice after a crash.
//!
//! A run first stores its **recipient list** once: the numbers, checked one
//! line at a time ([`read_recipients`]), are streamed to
//! `OUTBOX/lists/SHA256.txt` (one number a line; owner-only, like every
//! file here holding numbers). Every message is then **queued**: one small
//! JSON file in `OUTBOX/pending/` naming its list, written to a temporary
//! name and renamed, so a crash leaves either the whole file or none.
//! [`deliver`] offers each pending message, oldest first, to a [`Sender`],
//! reading its list in batches ([`Sender::batch_size`]); before a batch
//! goes, `sending A B` is appended (and synced) to `OUTBOX/journal/ID.log`,
//! after it `done B` (synced with the next batch's `sending`). A message every recipient has is moved to
//! `OUTBOX/sent/`; a failed one stays pending, its error is returned, and
//! the next run goes on from where the journal says it stopped.
//!
//! A batch a crash interrupted (`sending A B` with no `done`) is handed to
//! the sender's [`Sender::recover`], which says what it is:
//! - the [`Folder`] sender (`OUTBOX/out/`) appends each batch to
//!   `out/.ID.json.part`, synced, and renames it to `out/ID.json` at the
//!   end; after a crash it cuts the part file back to the recipients the
//!   journal has as done and writes the batch again: **exactly once**.
//! - the [`Kannel`] gateway cannot be asked what it took, so an interrupted
//!   batch is not sent again (**at most once**): its numbers go to
//!   `OUTBOX/uncertain/ID.txt` and are counted as [`Receipt::uncertain`].
//!
//! Phone numbers are operational and stay in the outbox files on this
//! machine. Nothing this module returns carries them (a [`Receipt`] counts,
//! a [`SendError`] names the gateway, the step or the line of a list); the
//! ledger records [`RecipientsDigest`] instead.
//!
//! The [`Kannel`] sender submits every segment itself through Kannel's HTTP
//! `sendsms` interface, with the segment's own user data header (`udh`) and
//! coding (`coding=0` for GSM-7, `coding=2` with the UTF-16BE bytes and
//! `charset=UTF-16BE` for UCS-2), one request per segment and recipient.
//! Kannel could split a long text itself, but then the segments, their
//! reference and their count would be Kannel's, not the ones counted,
//! stored and shown here; submitting them one by one means each segment has
//! its own accepted or refused answer.

use std::fs;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use hmac::Mac;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::sms::{Encoded, Encoding, Segment};

type HmacSha256 = hmac::Hmac<Sha256>;

/// One message to send: one notice in one language. Its recipients are a
/// list stored in the outbox ([`RecipientList`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutMessage {
    /// The notice id and language (`CORRIDOR.WINDOW.N.ar`): unique in an outbox.
    pub id: String,
    pub text: String,
    pub encoded: Encoded,
}

/// What a sender accepted. Counts only: no phone numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Receipt {
    /// The message's segments, each accepted for every one of `recipients`.
    pub segments_sent: usize,
    /// How many recipients it was accepted for.
    pub recipients: u64,
    /// Recipients of a batch a crash interrupted at a sender that cannot
    /// tell what it took (Kannel): not sent again, so each has the message
    /// once or not at all. Their numbers are in `OUTBOX/uncertain/ID.txt`.
    pub uncertain: u64,
}

/// Why a message was not sent; each message says what to do. None carries
/// a phone number, a password or a full request URL.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("cannot reach the Kannel gateway at {url}: {reason}; are bearerbox and smsbox running, and is {url} the smsbox's sendsms-port? The message stays in the outbox and is retried by the next `corridor notice --send`")]
    Unreachable { url: String, reason: String },
    #[error("the Kannel gateway at {url} refused segment {segment} of {segments}: HTTP {status} {body:?}; {hint}. The message stays in the outbox and is retried by the next `corridor notice --send`")]
    Refused { url: String, segment: usize, segments: usize, status: u16, body: String, hint: &'static str },
    #[error("the Kannel URL {url:?} is not usable: {reason}; give the smsbox's sendsms URL, e.g. http://127.0.0.1:13013/cgi-bin/sendsms")]
    BadUrl { url: String, reason: String },
    #[error("message {id:?} has no recipients: add phone numbers (E.164, e.g. +963…) to the recipient list and queue it again")]
    NoRecipients { id: String },
    #[error("{done} of {of} recipients already have message {id:?}; the rest failed: {source}. The outbox remembers who has it, so a retry sends only to the rest")]
    Partial { id: String, done: u64, of: u64, source: Box<SendError> },
    #[error("cannot {action} {path}: {source}; check that the folder exists and is writable (disk full?). Nothing was marked as sent")]
    Io { action: &'static str, path: PathBuf, source: std::io::Error },
    #[error("outbox file {path} is unreadable: {reason}; move it out of the outbox and queue the notice again")]
    BadFile { path: PathBuf, reason: String },
    #[error("no pending message {id:?} in {dir}: `corridor notice --send` queues the notices first")]
    NotPending { id: String, dir: PathBuf },
    /// The line is not shown: it is likely a phone number.
    #[error("{list}:{line}: not a phone number in E.164 form (+ then 7 to 15 digits, e.g. +963944000000); fix or remove that line (blank lines and lines starting with # are skipped)")]
    BadRecipient { list: String, line: u64 },
    #[error("{list}: no phone numbers (one a line, E.164, e.g. +963944000000)")]
    NoNumbers { list: String },
    #[error("cannot read the recipient list {list}: {source}")]
    ReadList { list: String, source: std::io::Error },
}

impl SendError {
    fn io(action: &'static str, path: &Path, source: std::io::Error) -> Self {
        SendError::Io { action, path: path.to_path_buf(), source }
    }

    fn bad(path: &Path, reason: impl Into<String>) -> Self {
        SendError::BadFile { path: path.to_path_buf(), reason: reason.into() }
    }
}

/// What a sender makes of a batch a crash interrupted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recovered {
    /// None of it was delivered (or the sender undid it): send it again.
    Resend,
    /// Some of it may have been delivered: do not send it again, report it.
    Uncertain,
}

/// Something that takes a message for delivery, a batch of recipients at a
/// time. For each message [`deliver`] calls `recover` once, then `send`
/// for each batch in list order, then `finish`.
pub trait Sender {
    /// Hands `msg` over for `batch`, the next recipients in list order.
    /// `Ok` only when every segment was accepted for every one of them. On
    /// an error after some have it, returns [`SendError::Partial`] with
    /// how many (the first `done` of the batch).
    fn send(&mut self, msg: &OutMessage, batch: &[String]) -> Result<(), SendError>;
    /// Recipients per batch: the journal is written (and synced) before
    /// and after each.
    fn batch_size(&self) -> usize;
    /// Prepares to send `msg` to the recipients after the first `done`
    /// (0 for a message not started). `in_flight` is the batch a crash
    /// interrupted, sent or not: the sender says whether it goes again.
    fn recover(&mut self, msg: &OutMessage, done: u64, in_flight: Option<&[String]>) -> Result<Recovered, SendError>;
    /// Every one of the message's `recipients` has been handled.
    fn finish(&mut self, msg: &OutMessage, recipients: u64) -> Result<(), SendError>;
    /// A short name for logs and the ledger: "kannel", "folder".
    fn name(&self) -> &str;
}

// ---------------------------------------------------------------------------
// The recipients' digest.

/// What the ledger records of a recipient list instead of the numbers:
/// `HMAC(key, "corridor-recipients-v2\n" ‖ S ‖ count)`, where S is the sum
/// of `HMAC(key, number)` over the numbers modulo 2^256 (32 bytes, big
/// endian) and count a u64 (big endian). One pass, constant memory, and
/// the order of the list does not matter. A plain hash of a few phone
/// numbers could be reversed by trying every number; without the key
/// (kept on the sending machine, never in the log) it cannot, and with it
/// the same list always gives the same value.
#[derive(Clone)]
pub struct RecipientsDigest {
    keyed: HmacSha256,
    sum: [u8; 32],
    count: u64,
}

impl RecipientsDigest {
    pub fn new(key: &[u8]) -> Self {
        RecipientsDigest { keyed: HmacSha256::new_from_slice(key).expect("HMAC takes a key of any length"), sum: [0; 32], count: 0 }
    }

    pub fn add(&mut self, number: &str) {
        let mut m = self.keyed.clone();
        m.update(number.as_bytes());
        let h = m.finalize().into_bytes();
        let mut carry = 0u16;
        for i in (0..32).rev() {
            let s = self.sum[i] as u16 + h[i] as u16 + carry;
            self.sum[i] = s as u8;
            carry = s >> 8;
        }
        self.count += 1;
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    /// The digest, lowercase hex.
    pub fn finish(self) -> String {
        let mut m = self.keyed;
        m.update(b"corridor-recipients-v2\n");
        m.update(&self.sum);
        m.update(&self.count.to_be_bytes());
        hex::encode(m.finalize().into_bytes())
    }
}

/// The [`RecipientsDigest`] of `recipients` under `key`.
pub fn recipients_hmac(key: &[u8], recipients: &[String]) -> String {
    let mut d = RecipientsDigest::new(key);
    for r in recipients {
        d.add(r);
    }
    d.finish()
}

// ---------------------------------------------------------------------------
// Recipient lists.

/// The longest line a recipient list may have (a number is at most 16).
const MAX_LINE: usize = 4096;

/// Reads the next line of `r` into `buf` (without the newline), at most
/// `MAX_LINE` bytes: `None` at the end, `Some(false)` for a longer line.
fn next_line(r: &mut impl BufRead, buf: &mut Vec<u8>) -> io::Result<Option<bool>> {
    buf.clear();
    loop {
        let avail = r.fill_buf()?;
        if avail.is_empty() {
            return Ok(if buf.is_empty() { None } else { Some(true) });
        }
        match avail.iter().position(|&b| b == b'\n') {
            Some(i) => {
                let fits = buf.len() + i <= MAX_LINE;
                if fits {
                    buf.extend_from_slice(&avail[..i]);
                }
                r.consume(i + 1);
                return Ok(Some(fits));
            }
            None => {
                let n = avail.len();
                if buf.len() + n > MAX_LINE {
                    return Ok(Some(false));
                }
                buf.extend_from_slice(avail);
                r.consume(n);
            }
        }
    }
}

/// Whether `s` is a phone number in E.164 form: `+` then 7 to 15 digits.
pub fn is_e164(s: &str) -> bool {
    let digits = s.strip_prefix('+').unwrap_or("");
    (7..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
}

/// Reads a recipient list one line at a time (memory does not grow with
/// it): one number a line in E.164 form; blank lines and lines starting
/// with `#` are skipped, spaces around a number ignored. Calls `each` with
/// every number, in order, and returns how many there were. A line that is
/// not a number is an error naming `list` and the line (not its content).
pub fn read_recipients(reader: impl Read, list: &str, mut each: impl FnMut(&str) -> Result<(), SendError>) -> Result<u64, SendError> {
    let mut r = BufReader::with_capacity(1 << 16, reader);
    let mut buf = Vec::with_capacity(64);
    let mut line = 0u64;
    let mut count = 0u64;
    while let Some(fits) = next_line(&mut r, &mut buf).map_err(|e| SendError::ReadList { list: list.into(), source: e })? {
        line += 1;
        let bad = || SendError::BadRecipient { list: list.into(), line };
        if !fits {
            return Err(bad());
        }
        let l = buf.trim_ascii();
        if l.is_empty() || l[0] == b'#' {
            continue;
        }
        let n = std::str::from_utf8(l).map_err(|_| bad())?;
        if !is_e164(n) {
            return Err(bad());
        }
        each(n)?;
        count += 1;
    }
    Ok(count)
}

/// A recipient list stored in an outbox: `OUTBOX/lists/NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipientList {
    /// `SHA256.txt`, the SHA-256 of the stored list: the same list is
    /// stored once however many runs send to it.
    pub name: String,
    pub count: u64,
    /// Its [`RecipientsDigest`], when a key was given.
    pub hmac: Option<String>,
}

/// Reads the next `n` numbers of a stored list.
struct ListReader {
    r: BufReader<fs::File>,
    path: PathBuf,
    buf: Vec<u8>,
}

impl ListReader {
    fn open(path: &Path) -> Result<Self, SendError> {
        let f = fs::File::open(path).map_err(|e| SendError::io("read the recipient list", path, e))?;
        Ok(ListReader { r: BufReader::with_capacity(1 << 16, f), path: path.to_path_buf(), buf: Vec::with_capacity(64) })
    }

    fn next(&mut self) -> Result<Option<&str>, SendError> {
        self.buf.clear();
        let n = self.r.read_until(b'\n', &mut self.buf).map_err(|e| SendError::io("read the recipient list", &self.path, e))?;
        if n == 0 {
            return Ok(None);
        }
        if self.buf.last() == Some(&b'\n') {
            self.buf.pop();
        }
        std::str::from_utf8(&self.buf).map(Some).map_err(|_| SendError::bad(&self.path, "a line is not UTF-8"))
    }

    fn skip(&mut self, n: u64) -> Result<(), SendError> {
        for i in 0..n {
            if self.next()?.is_none() {
                return Err(SendError::bad(&self.path, format!("it has {i} numbers, the journal says {n} were handled")));
            }
        }
        Ok(())
    }

    fn batch(&mut self, n: u64) -> Result<Vec<String>, SendError> {
        let mut out = Vec::with_capacity(n.min(1 << 16) as usize);
        while (out.len() as u64) < n {
            match self.next()? {
                Some(s) => out.push(s.to_string()),
                None => break,
            }
        }
        Ok(out)
    }
}

// ---------------------------------------------------------------------------
// The outbox files.

#[derive(Debug, Clone, Serialize, Deserialize)]
struct FileSegment {
    /// Hex; empty for a single-segment message.
    udh: String,
    text: String,
    units: usize,
    /// Hex: GSM-7 unpacked septets one per byte, UCS-2 UTF-16BE.
    payload: String,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

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

/// The message as the [`Folder`] sender writes it, before its recipients.
#[derive(Serialize)]
struct FileHeader<'a> {
    id: &'a str,
    text: &'a str,
    encoding: &'a str,
    dcs: u8,
    segments: Vec<FileSegment>,
}

fn file_segments(e: &Encoded) -> Vec<FileSegment> {
    e.segments.iter().map(|s| FileSegment { udh: hex::encode(&s.udh), text: s.text.clone(), units: s.units, payload: hex::encode(&s.payload) }).collect()
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

fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Nanos, true)
}

/// The file name for a message id: the id itself when it is a plain name
/// (letters, digits, `.`, `-`, `_`, not starting with `.`), else the
/// unsafe characters replaced and a hash of the id appended, so two ids
/// never share a file.
fn file_name(id: &str) -> String {
    format!("{}.json", file_stem(id))
}

fn file_stem(id: &str) -> String {
    let plain = !id.is_empty() && !id.starts_with('.') && id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if plain {
        return id.to_string();
    }
    let safe: String = id.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_') { c } else { '_' }).take(80).collect();
    let h = hex::encode(&Sha256::digest(id.as_bytes())[..6]);
    format!("{safe}-{h}")
}

/// Creates (or truncates) `path`, readable and writable by its owner only:
/// outbox files hold phone numbers.
fn create_private(path: &Path) -> io::Result<fs::File> {
    let mut o = fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(path)
}

/// Opens `path` for appending, creating it owner-only.
fn append_private(path: &Path) -> io::Result<fs::File> {
    let mut o = fs::OpenOptions::new();
    o.append(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(path)
}

/// Makes `dir` (and its parents), the last one owner-only.
fn create_private_dir(dir: &Path) -> Result<(), SendError> {
    fs::create_dir_all(dir).map_err(|e| SendError::io("create", dir, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(|e| SendError::io("restrict to its owner", dir, e))?;
    }
    Ok(())
}

/// Writes `path` through a temporary file in the same folder and a
/// rename, syncing both, so `path` is either the old or the new file.
/// `fill` writes the content.
fn write_atomic_with(path: &Path, fill: impl FnOnce(&mut BufWriter<fs::File>) -> Result<(), SendError>) -> Result<(), SendError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let f = create_private(&tmp).map_err(|e| SendError::io("write", path, e))?;
        let mut w = BufWriter::with_capacity(1 << 16, f);
        fill(&mut w)?;
        let f = w.into_inner().map_err(|e| SendError::io("write", path, e.into_error()))?;
        f.sync_all().map_err(|e| SendError::io("write", path, e))?;
        fs::rename(&tmp, path).map_err(|e| SendError::io("write", path, e))?;
        sync_dir(dir).map_err(|e| SendError::io("write", path, e))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), SendError> {
    write_atomic_with(path, |w| w.write_all(bytes).map_err(|e| SendError::io("write", path, e)))
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    // A directory fsync makes the rename durable (Unix); elsewhere opening
    // a directory may fail and the rename is all there is.
    match fs::File::open(dir) {
        Ok(d) => d.sync_all().or(Ok(())),
        Err(_) => Ok(()),
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

    /// Reads the journal (none: nothing done). A last line without its
    /// newline is a write a crash cut short, and did not happen.
    fn read(path: &Path) -> Result<JournalState, SendError> {
        let bytes = match fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(JournalState::default()),
            Err(e) => return Err(SendError::io("read", path, e)),
        };
        let mut st = JournalState::default();
        let complete = match bytes.iter().rposition(|&b| b == b'\n') {
            Some(i) => &bytes[..=i],
            None => &[][..],
        };
        for (i, line) in complete.split(|&b| b == b'\n').filter(|l| !l.is_empty()).enumerate() {
            let bad = || SendError::bad(path, format!("line {} is not `sending A B`, `done B` or `uncertain A B`", i + 1));
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

// ---------------------------------------------------------------------------
// The folder sender.

/// Delivers a message by writing it to a folder, for a person or another
/// system to pick up: `out/ID.json`, the message (id, text, encoding,
/// segments) with its `recipients`, one a line. The file is built as
/// `out/.ID.json.part`, a batch at a time (each synced), and renamed when
/// complete, so what is in `out/` under a message's name is whole; after a
/// crash the part file is cut back to what the journal has as done, so each
/// recipient is in the file exactly once.
#[derive(Debug)]
pub struct Folder {
    pub dir: PathBuf,
    /// Recipients per batch (default 100,000: a few MB in memory, and
    /// few syncs).
    pub batch: usize,
    /// The message being written: its id, the part file and how many recipients it holds.
    part: Option<(String, fs::File, u64)>,
}

/// How each recipient line starts in a [`Folder`] file.
const FOLDER_INDENT: &[u8] = b"    ";

impl Folder {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Folder { dir: dir.into(), batch: 100_000, part: None }
    }

    pub fn part_path(&self, id: &str) -> PathBuf {
        self.dir.join(format!(".{}.part", file_name(id)))
    }

    pub fn final_path(&self, id: &str) -> PathBuf {
        self.dir.join(file_name(id))
    }

    /// The file's beginning, up to and including `"recipients": [`.
    fn header(msg: &OutMessage) -> Vec<u8> {
        let h = FileHeader { id: &msg.id, text: &msg.text, encoding: msg.encoded.encoding.name(), dcs: msg.encoded.encoding.dcs(), segments: file_segments(&msg.encoded) };
        let mut s = serde_json::to_vec_pretty(&h).expect("a message header serializes");
        // `{ … \n}` without its closing brace, then the recipients' array.
        s.truncate(s.len() - 2);
        s.extend_from_slice(b",\n  \"recipients\": [");
        s
    }

    /// The length of `part` holding the header and its first `keep`
    /// recipients (read a line at a time).
    fn cut_point(part: &Path, f: &mut fs::File, header: &[u8], keep: u64) -> Result<u64, SendError> {
        let bad = |reason: String| SendError::bad(part, reason);
        f.seek(SeekFrom::Start(0)).map_err(|e| SendError::io("read", part, e))?;
        let mut r = BufReader::with_capacity(1 << 16, &mut *f);
        let mut head = vec![0; header.len()];
        r.read_exact(&mut head).map_err(|_| bad("it is shorter than the message's header".into()))?;
        if head != header {
            return Err(bad("it does not start with this message (another message's partial file?)".into()));
        }
        let mut pos = header.len() as u64;
        if keep == 0 {
            return Ok(pos);
        }
        let mut line = Vec::with_capacity(64);
        // The rest of the header's last line: just its newline.
        r.read_until(b'\n', &mut line).map_err(|e| SendError::io("read", part, e))?;
        let mut next = pos + line.len() as u64;
        for i in 0..keep {
            line.clear();
            let n = r.read_until(b'\n', &mut line).map_err(|e| SendError::io("read", part, e))?;
            let body = line.strip_suffix(b"\n").unwrap_or(&line);
            let body = body.strip_suffix(b",").unwrap_or(body);
            if n == 0 || !body.starts_with(FOLDER_INDENT) || body.len() < FOLDER_INDENT.len() + 2 || !body.ends_with(b"\"") {
                return Err(bad(format!("it holds {i} whole recipients, the journal says {keep} were written")));
            }
            pos = next + body.len() as u64;
            next += n as u64;
        }
        Ok(pos)
    }
}

impl Sender for Folder {
    fn send(&mut self, msg: &OutMessage, batch: &[String]) -> Result<(), SendError> {
        let part = self.part_path(&msg.id);
        let Some((id, f, written)) = self.part.as_mut().filter(|(id, ..)| *id == msg.id) else {
            return Err(SendError::bad(&part, "the folder sender was not prepared for this message (recover first)"));
        };
        let _ = id;
        let mut w = BufWriter::with_capacity(1 << 16, &*f);
        let io = |e: io::Error| SendError::io("write", &part, e);
        for (i, n) in batch.iter().enumerate() {
            w.write_all(if *written + i as u64 == 0 { b"\n" } else { b",\n" }).map_err(io)?;
            w.write_all(FOLDER_INDENT).map_err(io)?;
            serde_json::to_writer(&mut w, n).map_err(|e| io(e.into()))?;
        }
        w.flush().map_err(io)?;
        drop(w);
        f.sync_data().map_err(io)?;
        *written += batch.len() as u64;
        Ok(())
    }

    fn batch_size(&self) -> usize {
        self.batch
    }

    fn recover(&mut self, msg: &OutMessage, done: u64, _in_flight: Option<&[String]>) -> Result<Recovered, SendError> {
        self.part = None;
        create_private_dir(&self.dir)?;
        let part = self.part_path(&msg.id);
        let header = Self::header(msg);
        let mut f = match fs::OpenOptions::new().read(true).write(true).open(&part) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if done > 0 {
                    // Renamed already: finish() has nothing left to do.
                    if self.final_path(&msg.id).exists() {
                        return Ok(Recovered::Resend);
                    }
                    return Err(SendError::bad(&part, format!("it is missing, but the journal says {done} recipients were written to it; move the message's journal away to write it anew")));
                }
                let mut f = create_private(&part).map_err(|e| SendError::io("create", &part, e))?;
                f.write_all(&header).map_err(|e| SendError::io("write", &part, e))?;
                sync_dir(&self.dir).map_err(|e| SendError::io("sync", &self.dir, e))?;
                self.part = Some((msg.id.clone(), f, 0));
                return Ok(Recovered::Resend);
            }
            Err(e) => return Err(SendError::io("open", &part, e)),
        };
        // Anything after the recipients the journal has as done (the
        // interrupted batch, or the closing of a file not yet renamed) is
        // cut: it is written again.
        let cut = if done == 0 { 0 } else { Self::cut_point(&part, &mut f, &header, done)? };
        f.set_len(cut).map_err(|e| SendError::io("cut back", &part, e))?;
        f.seek(SeekFrom::End(0)).map_err(|e| SendError::io("write", &part, e))?;
        if cut == 0 {
            f.write_all(&header).map_err(|e| SendError::io("write", &part, e))?;
        }
        f.sync_data().map_err(|e| SendError::io("write", &part, e))?;
        self.part = Some((msg.id.clone(), f, done));
        Ok(Recovered::Resend)
    }

    fn finish(&mut self, msg: &OutMessage, recipients: u64) -> Result<(), SendError> {
        let part = self.part_path(&msg.id);
        let dest = self.final_path(&msg.id);
        match self.part.take().filter(|(id, ..)| *id == msg.id) {
            Some((_, mut f, written)) => {
                if written != recipients {
                    return Err(SendError::bad(&part, format!("it holds {written} recipients, the message has {recipients}")));
                }
                let io = |e: io::Error| SendError::io("write", &part, e);
                f.write_all(b"\n  ]\n}\n").map_err(io)?;
                f.sync_all().map_err(io)?;
                drop(f);
                fs::rename(&part, &dest).map_err(|e| SendError::io("rename", &part, e))?;
                sync_dir(&self.dir).map_err(|e| SendError::io("sync", &self.dir, e))
            }
            None if dest.exists() && !part.exists() => Ok(()),
            None => Err(SendError::bad(&part, "the folder sender was not prepared for this message (recover first)")),
        }
    }

    fn name(&self) -> &str {
        "folder"
    }
}

// ---------------------------------------------------------------------------
// Kannel.

/// Kannel's HTTP `sendsms` interface (smsbox's sendsms-port), with the
/// credentials of a `sendsms-user` group.
pub struct Kannel {
    /// `http://127.0.0.1:13013/cgi-bin/sendsms`
    pub url: String,
    pub username: String,
    pub password: String,
    /// The sender id (`from`); `None` leaves it to the `default-sender` of
    /// the sendsms-user group (or smsbox's `global-sender`).
    pub from: Option<String>,
    /// How long to wait for a connection and for each answer.
    pub connect_timeout: Duration,
    pub timeout: Duration,
    /// Recipients per batch (default 20): a batch a crash interrupts is
    /// not sent again, and its recipients are reported uncertain.
    pub batch: usize,
    agent: Option<ureq::Agent>,
}

impl Kannel {
    /// Timeouts 3 s to connect, 15 s for an answer: an unreachable gateway
    /// fails fast, a busy one has time.
    pub fn new(url: impl Into<String>, username: impl Into<String>, password: impl Into<String>, from: Option<String>) -> Self {
        Kannel {
            url: url.into(),
            username: username.into(),
            password: password.into(),
            from,
            connect_timeout: Duration::from_secs(3),
            timeout: Duration::from_secs(15),
            batch: 20,
            agent: None,
        }
    }

    fn agent(&mut self) -> &ureq::Agent {
        let (c, t) = (self.connect_timeout, self.timeout);
        self.agent.get_or_insert_with(|| ureq::AgentBuilder::new().timeout_connect(c).timeout_read(t).timeout_write(t).redirects(0).build())
    }

    /// The sendsms request for one segment to one recipient (query string
    /// after `?`), every value percent-encoded byte by byte.
    pub fn query(&self, encoding: Encoding, segment: &Segment, to: &str) -> String {
        let mut q: Vec<(&str, Vec<u8>)> = vec![
            ("username", self.username.as_bytes().to_vec()),
            ("password", self.password.as_bytes().to_vec()),
            ("to", to.as_bytes().to_vec()),
        ];
        if let Some(from) = &self.from {
            q.push(("from", from.as_bytes().to_vec()));
        }
        match encoding {
            Encoding::Gsm7 => {
                q.push(("coding", b"0".to_vec()));
                q.push(("charset", b"UTF-8".to_vec()));
                q.push(("text", segment.text.as_bytes().to_vec()));
            }
            Encoding::Ucs2 => {
                q.push(("coding", b"2".to_vec()));
                q.push(("charset", b"UTF-16BE".to_vec()));
                q.push(("text", segment.payload.clone()));
            }
        }
        if !segment.udh.is_empty() {
            q.push(("udh", segment.udh.clone()));
        }
        q.iter().map(|(k, v)| format!("{k}={}", percent(v))).collect::<Vec<_>>().join("&")
    }
}

/// Percent-encodes every byte but the unreserved ones (RFC 3986).
fn percent(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 3);
    for &b in bytes {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            s.push(b as char);
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    s
}

/// What to check for a refusal, by Kannel's answer.
fn refusal_hint(status: u16, body: &str) -> &'static str {
    let b = body.to_ascii_lowercase();
    if status == 403 || b.contains("authorization") {
        "check the username and password against the sendsms-user group in kannel.conf"
    } else if b.contains("sender missing") {
        "give a sender (from) or set default-sender in the sendsms-user group"
    } else if b.contains("receiver") || b.contains("number") {
        "check the recipient numbers (E.164) and the sendsms-user's allowed-prefix / denied-prefix"
    } else if status >= 500 {
        "the gateway failed; look at smsbox's and bearerbox's logs"
    } else {
        "look at smsbox's log for why"
    }
}

/// A transport error without the URL (it carries the password and the number).
fn transport_reason(t: &ureq::Transport) -> String {
    let mut s = t.kind().to_string();
    if let Some(m) = t.message() {
        s.push_str(": ");
        s.push_str(m);
    }
    if let Some(src) = std::error::Error::source(t) {
        s.push_str(": ");
        s.push_str(&src.to_string());
    }
    s
}


impl Kannel {
    /// Checks the URL before anything is sent: the base URL without a query.
    fn base(&self) -> Result<String, SendError> {
        let base = self.url.trim_end_matches('?').to_string();
        if !base.starts_with("http://") {
            let reason = if base.starts_with("https://") { "only plain http is built in (smsbox's sendsms-port speaks http; keep it on loopback or a private link)" } else { "it is not an http:// URL" };
            return Err(SendError::BadUrl { url: base, reason: reason.into() });
        }
        if base.contains('?') {
            return Err(SendError::BadUrl { url: "(hidden: it has a query string)".into(), reason: "give the URL without ?… parameters; the credentials are set separately".into() });
        }
        Ok(base)
    }
}

impl Sender for Kannel {
    fn send(&mut self, msg: &OutMessage, batch: &[String]) -> Result<(), SendError> {
        if batch.is_empty() {
            return Ok(());
        }
        let base = self.base()?;
        let total = msg.encoded.segments.len();
        for (done, to) in batch.iter().enumerate() {
            for (i, seg) in msg.encoded.segments.iter().enumerate() {
                let url = format!("{base}?{}", self.query(msg.encoded.encoding, seg, to));
                let answer = self.agent().get(&url).call();
                let err = match answer {
                    // 202 "0: Accepted for delivery" or "3: Queued for later
                    // delivery": either way Kannel has it in its store.
                    Ok(r) if (200..300).contains(&r.status()) => continue,
                    Ok(r) => {
                        let status = r.status();
                        let body = r.into_string().unwrap_or_default();
                        refused(&base, i, total, status, &body)
                    }
                    Err(ureq::Error::Status(status, r)) => {
                        let body = r.into_string().unwrap_or_default();
                        refused(&base, i, total, status, &body)
                    }
                    Err(ureq::Error::Transport(t)) => SendError::Unreachable { url: base.clone(), reason: transport_reason(&t) },
                };
                return Err(if done > 0 { SendError::Partial { id: msg.id.clone(), done: done as u64, of: batch.len() as u64, source: Box::new(err) } } else { err });
            }
        }
        Ok(())
    }

    /// Small batches: one interrupted by a crash is reported uncertain.
    fn batch_size(&self) -> usize {
        self.batch
    }

    /// The gateway cannot be asked what it took: a batch a crash
    /// interrupted is not sent again (at most once).
    fn recover(&mut self, _msg: &OutMessage, _done: u64, in_flight: Option<&[String]>) -> Result<Recovered, SendError> {
        self.base()?;
        Ok(if in_flight.is_some_and(|b| !b.is_empty()) { Recovered::Uncertain } else { Recovered::Resend })
    }

    fn finish(&mut self, _msg: &OutMessage, _recipients: u64) -> Result<(), SendError> {
        Ok(())
    }

    fn name(&self) -> &str {
        "kannel"
    }
}

fn refused(base: &str, i: usize, total: usize, status: u16, body: &str) -> SendError {
    let body: String = body.trim().chars().take(200).collect();
    SendError::Refused { url: base.into(), segment: i + 1, segments: total, status, hint: refusal_hint(status, &body), body }
}


#[cfg(test)]
mod tests {
    use super::*;
    use crate::sms;
    use std::panic::{catch_unwind, AssertUnwindSafe};

    fn message(id: &str, text: &str) -> OutMessage {
        OutMessage { id: id.into(), text: text.into(), encoded: sms::encode(text, 7) }
    }

    fn numbers(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("+9639000{i:05}")).collect()
    }

    fn store(ob: &Outbox, nums: &[String]) -> RecipientList {
        let text: String = nums.iter().map(|n| format!("{n}\n")).collect();
        ob.store_recipients(text.as_bytes(), "test.txt", Some(b"k")).unwrap()
    }

    /// Fails every send, or after `ok_for` recipients of the first batch.
    struct Failing {
        ok_for: u64,
        calls: usize,
    }

    impl Sender for Failing {
        fn send(&mut self, msg: &OutMessage, batch: &[String]) -> Result<(), SendError> {
            self.calls += 1;
            let err = SendError::Unreachable { url: "http://127.0.0.1:1/cgi-bin/sendsms".into(), reason: "Connection Failed: Connection refused".into() };
            if self.ok_for > 0 && self.ok_for < batch.len() as u64 {
                return Err(SendError::Partial { id: msg.id.clone(), done: self.ok_for, of: batch.len() as u64, source: Box::new(err) });
            }
            Err(err)
        }
        fn batch_size(&self) -> usize {
            100
        }
        fn recover(&mut self, _: &OutMessage, _: u64, _: Option<&[String]>) -> Result<Recovered, SendError> {
            Ok(Recovered::Resend)
        }
        fn finish(&mut self, _: &OutMessage, _: u64) -> Result<(), SendError> {
            Ok(())
        }
        fn name(&self) -> &str {
            "failing"
        }
    }

    /// Accepts everything, remembering what it got; with `crash_after`,
    /// takes that many batches then one more and panics before returning
    /// (a crash between sending and `done`); with `at_most_once`, treats an
    /// interrupted batch as Kannel does.
    #[derive(Default)]
    struct Accepting {
        got: Vec<(String, String)>,
        batch: usize,
        crash_after: Option<usize>,
        at_most_once: bool,
        recovered: Vec<(u64, Option<usize>)>,
    }

    impl Sender for Accepting {
        fn send(&mut self, msg: &OutMessage, batch: &[String]) -> Result<(), SendError> {
            self.got.extend(batch.iter().map(|n| (msg.id.clone(), n.clone())));
            if let Some(c) = self.crash_after.as_mut() {
                if *c == 0 {
                    panic!("crash");
                }
                *c -= 1;
            }
            Ok(())
        }
        fn batch_size(&self) -> usize {
            if self.batch == 0 {
                1000
            } else {
                self.batch
            }
        }
        fn recover(&mut self, _: &OutMessage, done: u64, in_flight: Option<&[String]>) -> Result<Recovered, SendError> {
            self.recovered.push((done, in_flight.map(<[String]>::len)));
            Ok(if self.at_most_once && in_flight.is_some() { Recovered::Uncertain } else { Recovered::Resend })
        }
        fn finish(&mut self, _: &OutMessage, _: u64) -> Result<(), SendError> {
            Ok(())
        }
        fn name(&self) -> &str {
            "accepting"
        }
    }

    /// The recipients of a folder sender's output file, in order.
    fn out_recipients(path: &Path) -> Vec<String> {
        let v: serde_json::Value = serde_json::from_slice(&fs::read(path).unwrap()).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        v["recipients"].as_array().unwrap().iter().map(|r| r.as_str().unwrap().to_string()).collect()
    }

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
    fn the_folder_sender_writes_every_recipient_once_in_a_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let ob = Outbox::open(dir.path()).unwrap();
        let m = message("a.w.0.en", "Corridor \"A\" open.");
        let nums = numbers(25);
        ob.queue(&m, &store(&ob, &nums)).unwrap();
        let mut folder = Folder::new(ob.out_dir());
        folder.batch = 7;
        let r = deliver(&ob, &mut folder);
        assert_eq!(r[0].1.as_ref().unwrap().recipients, 25);
        let out = ob.out_dir().join("a.w.0.en.json");
        let v: serde_json::Value = serde_json::from_slice(&fs::read(&out).unwrap()).unwrap();
        assert_eq!(v["text"], "Corridor \"A\" open.");
        assert_eq!(v["segments"][0]["text"], "Corridor \"A\" open.");
        assert_eq!(out_recipients(&out), nums);
        assert!(!folder.part_path(&m.id).exists());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(fs::metadata(&out).unwrap().permissions().mode() & 0o777, 0o600);
        }
        assert!(ob.sent_path("a.w.0.en").exists());
        assert!(matches!(ob.mark_sent("a.w.0.en"), Err(SendError::NotPending { .. })));
    }

    /// The folder sender wrapped to crash (panic) after writing a batch,
    /// before `done` is journaled.
    struct CrashingFolder {
        inner: Folder,
        crash_after: usize,
    }

    impl Sender for CrashingFolder {
        fn send(&mut self, msg: &OutMessage, batch: &[String]) -> Result<(), SendError> {
            self.inner.send(msg, batch)?;
            if self.crash_after == 0 {
                panic!("crash between sending and done");
            }
            self.crash_after -= 1;
            Ok(())
        }
        fn batch_size(&self) -> usize {
            self.inner.batch_size()
        }
        fn recover(&mut self, msg: &OutMessage, done: u64, in_flight: Option<&[String]>) -> Result<Recovered, SendError> {
            self.inner.recover(msg, done, in_flight)
        }
        fn finish(&mut self, msg: &OutMessage, n: u64) -> Result<(), SendError> {
            self.inner.finish(msg, n)
        }
        fn name(&self) -> &str {
            "folder"
        }
    }

    #[test]
    fn a_folder_crash_between_sending_and_done_duplicates_no_one() {
        let dir = tempfile::tempdir().unwrap();
        let ob = Outbox::open(dir.path()).unwrap();
        let m = message("a.w.0.en", "Corridor A open.");
        let nums = numbers(25);
        ob.queue(&m, &store(&ob, &nums)).unwrap();
        let mut folder = Folder::new(ob.out_dir());
        folder.batch = 10;
        let mut crashing = CrashingFolder { inner: folder, crash_after: 1 };
        assert!(catch_unwind(AssertUnwindSafe(|| deliver(&ob, &mut crashing))).is_err());
        assert_eq!(fs::read_to_string(ob.journal_path(&m.id)).unwrap(), "sending 0 10\ndone 10\nsending 10 20\n");
        let part = crashing.inner.part_path(&m.id);
        // The second batch is in the part file although not journaled as
        // done, and a write cut short follows it.
        let text = fs::read_to_string(&part).unwrap();
        assert_eq!(text.matches("+9639").count(), 20);
        fs::OpenOptions::new().append(true).open(&part).unwrap().write_all(b",\n    \"+96390").unwrap();
        assert!(!ob.out_dir().join("a.w.0.en.json").exists(), "nothing is in out/ under its name before it is whole");

        let mut folder = Folder::new(ob.out_dir());
        folder.batch = 10;
        let r = deliver(&ob, &mut folder);
        assert_eq!(r[0].1.as_ref().unwrap(), &Receipt { segments_sent: 1, recipients: 25, uncertain: 0 });
        assert_eq!(out_recipients(&ob.out_dir().join("a.w.0.en.json")), nums, "each recipient exactly once, in order");
        assert!(!part.exists());

        // A crash after the closing was written but before the rename:
        // the journal has everyone done; the file is cut back and closed once.
        let m2 = message("b.w.0.en", "Corridor B open.");
        ob.queue(&m2, &store(&ob, &nums)).unwrap();
        let mut f = Folder::new(ob.out_dir());
        f.recover(&m2, 0, None).unwrap();
        f.send(&m2, &nums).unwrap();
        fs::OpenOptions::new().append(true).open(f.part_path(&m2.id)).unwrap().write_all(b"\n  ]\n}\n").unwrap();
        fs::write(ob.journal_path(&m2.id), "sending 0 25\ndone 25\n").unwrap();
        let r = deliver(&ob, &mut Folder::new(ob.out_dir()));
        assert_eq!(r[0].1.as_ref().unwrap().recipients, 25);
        assert_eq!(out_recipients(&ob.out_dir().join("b.w.0.en.json")), nums);
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

    #[test]
    fn recipient_lists_are_checked_line_by_line() {
        let read = |text: &str| {
            let mut got = Vec::new();
            read_recipients(text.as_bytes(), "numbers.txt", |n| {
                got.push(n.to_string());
                Ok(())
            })
            .map(|c| (c, got))
        };
        assert_eq!(read("# hq list\n\n +963944000001 \r\n+12345678\n+963944000002").unwrap(), (3, vec!["+963944000001".into(), "+12345678".into(), "+963944000002".into()]));
        for (text, line) in [("+963944000001\n0944 000 001\n", 2), ("+123456\n", 1), ("\n\n+1234567890123456\n", 3), ("+96394400000a\n", 1), ("+963\u{0663}44000001\n", 1)] {
            let e = read(text).unwrap_err();
            assert!(matches!(e, SendError::BadRecipient { line: l, .. } if l == line), "{text:?}: {e}");
            let s = e.to_string();
            assert!(s.starts_with(&format!("numbers.txt:{line}: not a phone number in E.164 form")), "{s}");
            let bad = text.lines().nth(line as usize - 1).unwrap().trim();
            assert!(!s.contains(bad), "the line is not echoed: {s}");
        }
        // Not UTF-8, and a line with no end: errors, not panics or a huge buffer.
        assert!(matches!(read_recipients(&b"+963944000001\n\xff\xfe\n"[..], "n", |_| Ok(())), Err(SendError::BadRecipient { line: 2, .. })));
        let huge = vec![b'1'; 10 * MAX_LINE];
        assert!(matches!(read_recipients(&huge[..], "n", |_| Ok(())), Err(SendError::BadRecipient { line: 1, .. })));
        // A list with no numbers is not stored.
        let dir = tempfile::tempdir().unwrap();
        let ob = Outbox::open(dir.path()).unwrap();
        let e = ob.store_recipients(&b"# nothing yet\n\n"[..], "numbers.txt", None).unwrap_err();
        assert!(matches!(e, SendError::NoNumbers { .. }), "{e}");
        assert_eq!(fs::read_dir(ob.lists_dir()).unwrap().count(), 0, "no temporary file left");
    }

    #[test]
    fn the_recipients_digest_ignores_order_needs_the_key_and_is_the_defined_formula() {
        let a = recipients_hmac(b"k", &["+963900000002".into(), "+963900000001".into(), "+963900000003".into()]);
        let b = recipients_hmac(b"k", &["+963900000001".into(), "+963900000003".into(), "+963900000002".into()]);
        assert_eq!(a, b);
        assert_ne!(a, recipients_hmac(b"other key", &["+963900000001".into(), "+963900000002".into(), "+963900000003".into()]));
        assert_ne!(a, recipients_hmac(b"k", &["+963900000001".into(), "+963900000002".into()]));
        // A number twice is not the number once.
        assert_ne!(recipients_hmac(b"k", &["+963900000001".into()]), recipients_hmac(b"k", &["+963900000001".into(), "+963900000001".into()]));
        // Computed directly: the sum of the numbers' HMACs as a 256-bit
        // integer (two u128 halves), then the outer HMAC.
        let h = |key: &[u8], data: &[u8]| {
            let mut m = HmacSha256::new_from_slice(key).unwrap();
            m.update(data);
            m.finalize().into_bytes().to_vec()
        };
        // RFC 4231, test case 2: the HMAC used is the standard one.
        assert_eq!(hex::encode(h(b"Jefe", b"what do ya want for nothing?")), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
        let nums = numbers(300);
        let (mut hi, mut lo) = (0u128, 0u128);
        for n in &nums {
            let x = h(b"key", n.as_bytes());
            let (xh, xl) = (u128::from_be_bytes(x[..16].try_into().unwrap()), u128::from_be_bytes(x[16..].try_into().unwrap()));
            let (l, carry) = lo.overflowing_add(xl);
            lo = l;
            hi = hi.wrapping_add(xh).wrapping_add(carry as u128);
        }
        let mut outer = b"corridor-recipients-v2\n".to_vec();
        outer.extend(hi.to_be_bytes());
        outer.extend(lo.to_be_bytes());
        outer.extend(300u64.to_be_bytes());
        assert_eq!(recipients_hmac(b"key", &nums), hex::encode(h(b"key", &outer)));
        let mut rev = nums.clone();
        rev.reverse();
        assert_eq!(recipients_hmac(b"key", &rev), hex::encode(h(b"key", &outer)));
    }

    #[test]
    fn odd_ids_get_distinct_safe_file_names() {
        assert_eq!(file_name("east.w1.0.ar"), "east.w1.0.ar.json");
        let a = file_name("../x");
        let b = file_name("__x");
        assert!(!a.contains('/') && !a.starts_with('.'));
        assert_ne!(a, b);
        assert_ne!(file_name("a/b"), file_name("a_b"));
    }

    #[test]
    fn kannel_query_carries_udh_and_coding() {
        let k = Kannel::new("http://127.0.0.1:13013/cgi-bin/sendsms", "corridor", "p&w", Some("Corridor".into()));
        let e = sms::encode(&"ا".repeat(80), 9);
        let q = k.query(e.encoding, &e.segments[0], "+963900000001");
        assert!(q.contains("password=p%26w"), "{q}");
        assert!(q.contains("to=%2B963900000001"), "{q}");
        assert!(q.contains("coding=2&charset=UTF-16BE&text=%06%27%06%27"), "{q}");
        assert!(q.ends_with("udh=%05%00%03%09%02%01"), "{q}");
        let g = sms::encode("a b", 0);
        let q = k.query(g.encoding, &g.segments[0], "+1");
        assert!(q.contains("coding=0&charset=UTF-8&text=a%20b") && !q.contains("udh"), "{q}");
    }

    #[test]
    fn kannel_is_at_most_once_after_a_crash() {
        let mut k = Kannel::new("http://127.0.0.1:13013/cgi-bin/sendsms", "corridor", "pw", None);
        let m = message("a.w.0.en", "x");
        assert_eq!(k.recover(&m, 0, None).unwrap(), Recovered::Resend);
        assert_eq!(k.recover(&m, 40, Some(&numbers(20))).unwrap(), Recovered::Uncertain);
        assert_eq!(k.batch_size(), 20);
    }

    #[test]
    fn an_unreachable_gateway_fails_fast_without_secrets() {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let url = format!("http://127.0.0.1:{port}/cgi-bin/sendsms");
        let mut k = Kannel::new(&url, "corridor", "hunter2", None);
        let t = std::time::Instant::now();
        let e = k.send(&message("a.w.0.en", "x"), &numbers(2)).unwrap_err();
        assert!(t.elapsed() < Duration::from_secs(5));
        let s = e.to_string();
        assert!(matches!(e, SendError::Unreachable { .. }), "{s}");
        assert!(s.contains(&url) && s.contains("stays in the outbox"), "{s}");
        assert!(!s.contains("hunter2") && !s.contains("+963"), "{s}");
    }
}
