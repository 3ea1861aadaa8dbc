//! Handing encoded SMS to something that delivers them, without ever
//! calling a message sent that was not.
//!
//! Every message is first **queued**: one JSON file in `OUTBOX/pending/`,
//! written to a temporary name and renamed, so a crash leaves either the
//! whole file or none. [`deliver`] then offers each pending message, oldest
//! first, to a [`Sender`]: the [`Kannel`] gateway, or the [`Folder`] sender,
//! which writes it to a folder (`OUTBOX/out/` by default) for a person or
//! another system to pick up. Only a message the sender accepted is moved
//! to `OUTBOX/sent/`; a failed one stays pending, its error is returned, and
//! the next run tries it again. Delivery is at least once: a crash after
//! the gateway accepted a message but before the move sends it again.
//!
//! Phone numbers are operational and stay in the outbox files on this
//! machine. Nothing this module returns carries them (a [`Receipt`] counts,
//! a [`SendError`] names the gateway and the step); the ledger records
//! [`recipients_hmac`] instead.
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
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::sms::{Encoded, Encoding, Segment};

/// One message to send: one notice in one language, to its recipients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutMessage {
    /// The notice id and language (`CORRIDOR.WINDOW.N.ar`): unique in an outbox.
    pub id: String,
    pub text: String,
    pub encoded: Encoded,
    /// Phone numbers in E.164 (`+963…`).
    pub recipients: Vec<String>,
}

/// What a sender accepted. Counts only: no phone numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Receipt {
    /// The message's segments, each accepted for every one of `recipients`.
    pub segments_sent: usize,
    /// How many recipients it was accepted for.
    pub recipients: usize,
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
    Partial { id: String, done: usize, of: usize, source: Box<SendError> },
    #[error("cannot {action} {path}: {source}; check that the folder exists and is writable (disk full?). Nothing was marked as sent")]
    Io { action: &'static str, path: PathBuf, source: std::io::Error },
    #[error("outbox file {path} is unreadable: {reason}; move it out of the outbox and queue the notice again")]
    BadFile { path: PathBuf, reason: String },
    #[error("no pending message {id:?} in {dir}: `corridor notice --send` queues the notices first")]
    NotPending { id: String, dir: PathBuf },
}

impl SendError {
    fn io(action: &'static str, path: &Path, source: std::io::Error) -> Self {
        SendError::Io { action, path: path.to_path_buf(), source }
    }
}

/// Something that takes a message for delivery.
pub trait Sender {
    /// Hands `msg` over; `Ok` only when every segment was accepted for every
    /// recipient. On an error after some recipients have it, returns
    /// [`SendError::Partial`] with how many (the first `done`, in order).
    fn send(&mut self, msg: &OutMessage) -> Result<Receipt, SendError>;
    /// A short name for logs and the ledger: "kannel", "folder".
    fn name(&self) -> &str;
}

/// HMAC-SHA-256 (lowercase hex) of the recipients, sorted and joined with
/// "\n", under `key`: what the ledger records instead of the numbers. A
/// plain hash of a few phone numbers could be reversed by trying every
/// number; without the key (kept on the sending machine, never in the log)
/// it cannot, and with it the same list always gives the same value.
pub fn recipients_hmac(key: &[u8], recipients: &[String]) -> String {
    use hmac::Mac;
    let mut sorted: Vec<&str> = recipients.iter().map(String::as_str).collect();
    sorted.sort_unstable();
    let mut mac = hmac::Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(sorted.join("\n").as_bytes());
    hex::encode(mac.finalize().into_bytes())
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
    recipients: Vec<String>,
    /// How many of `recipients` (the first ones) already have it.
    #[serde(default)]
    done: usize,
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
    recipients: usize,
}

impl FileMessage {
    fn from_message(m: &OutMessage) -> Self {
        FileMessage {
            id: m.id.clone(),
            queued: now(),
            text: m.text.clone(),
            encoding: m.encoded.encoding.name().into(),
            dcs: m.encoded.encoding.dcs(),
            segments: m
                .encoded
                .segments
                .iter()
                .map(|s| FileSegment { udh: hex::encode(&s.udh), text: s.text.clone(), units: s.units, payload: hex::encode(&s.payload) })
                .collect(),
            recipients: m.recipients.clone(),
            done: 0,
            sent: None,
        }
    }

    fn to_message(&self, path: &Path) -> Result<OutMessage, SendError> {
        let bad = |reason: String| SendError::BadFile { path: path.to_path_buf(), reason };
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
        if self.done > self.recipients.len() {
            return Err(bad(format!("done = {} but only {} recipients", self.done, self.recipients.len())));
        }
        Ok(OutMessage { id: self.id.clone(), text: self.text.clone(), encoded: Encoded { encoding, segments }, recipients: self.recipients.clone() })
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
    let plain = !id.is_empty() && !id.starts_with('.') && id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if plain {
        return format!("{id}.json");
    }
    let safe: String = id.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_') { c } else { '_' }).take(80).collect();
    let h = hex::encode(&Sha256::digest(id.as_bytes())[..6]);
    format!("{safe}-{h}.json")
}

/// Writes `bytes` to `path` through a temporary file in the same folder
/// and a rename, syncing both, so `path` is either the old or the new file.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), SendError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        sync_dir(dir)
    })();
    result.map_err(|e| {
        let _ = fs::remove_file(&tmp);
        SendError::io("write", path, e)
    })
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
    /// How many of `message.recipients` (the first ones) already have it.
    pub done: usize,
    pub path: PathBuf,
}

/// A folder of messages: `pending/` waiting, `sent/` accepted by a sender.
#[derive(Debug, Clone)]
pub struct Outbox {
    dir: PathBuf,
}

impl Outbox {
    /// The outbox in `dir`, creating `pending/` and `sent/`.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, SendError> {
        let ob = Outbox { dir: dir.into() };
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

    /// Writes `msg` to `pending/ID.json` (atomically), unless a message
    /// with its id is already pending or sent.
    pub fn queue(&self, msg: &OutMessage) -> Result<Queued, SendError> {
        if msg.recipients.is_empty() {
            return Err(SendError::NoRecipients { id: msg.id.clone() });
        }
        if self.sent_path(&msg.id).exists() {
            return Ok(Queued::AlreadySent);
        }
        let path = self.pending_path(&msg.id);
        if path.exists() {
            return Ok(Queued::AlreadyPending);
        }
        write_atomic(&path, &to_json(&FileMessage::from_message(msg)))?;
        Ok(Queued::Added)
    }

    fn read(path: &Path) -> Result<FileMessage, SendError> {
        let bytes = fs::read(path).map_err(|e| SendError::io("read", path, e))?;
        serde_json::from_slice(&bytes).map_err(|e| SendError::BadFile { path: path.to_path_buf(), reason: e.to_string() })
    }

    /// Every pending file, oldest first (by queue time, then id), each
    /// read or its error; temporary files of an interrupted write are not
    /// messages and are skipped.
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
            let read = Self::read(&path);
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
                Ok(Pending { message: f.to_message(&path)?, queued: f.queued, done: f.done, path })
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

/// Offers every pending message, oldest first, to `sender`; moves each one
/// it accepted to `sent/` and leaves the others pending. Returns each
/// message id with its receipt or error. A message some recipients already
/// have (an earlier partial failure) goes only to the rest; its receipt
/// counts all of them.
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
    if let Some(s) = &file.sent {
        // Accepted before, and the move to sent/ did not happen: finish it.
        let receipt = Receipt { segments_sent: s.segments, recipients: s.recipients };
        outbox.mark_sent(&file.id)?;
        return Ok(receipt);
    }
    let mut msg = file.to_message(path)?;
    let all = msg.recipients.len();
    let before = file.done;
    msg.recipients.drain(..before);
    let result = if msg.recipients.is_empty() { Ok(Receipt { segments_sent: msg.encoded.segments.len(), recipients: 0 }) } else { sender.send(&msg) };
    match result {
        Ok(r) => {
            let receipt = Receipt { segments_sent: r.segments_sent, recipients: before + r.recipients };
            file.done = all;
            file.sent = Some(SentInfo { at: now(), sender: sender.name().into(), segments: receipt.segments_sent, recipients: receipt.recipients });
            write_atomic(path, &to_json(file))?;
            outbox.mark_sent(&file.id)?;
            Ok(receipt)
        }
        Err(SendError::Partial { done, source, .. }) => {
            let done = done.min(msg.recipients.len());
            file.done = before + done;
            // Remember who has it so a retry does not send it to them again.
            write_atomic(path, &to_json(file))?;
            Err(SendError::Partial { id: file.id.clone(), done: file.done, of: all, source })
        }
        Err(e) if before > 0 => Err(SendError::Partial { id: file.id.clone(), done: before, of: all, source: Box::new(e) }),
        Err(e) => Err(e),
    }
}

// ---------------------------------------------------------------------------
// The folder sender.

/// Delivers a message by writing it (the same JSON as the outbox file) to a
/// folder, for a person or another system to pick up: `out/ID.json`.
#[derive(Debug, Clone)]
pub struct Folder {
    pub dir: PathBuf,
}

impl Folder {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Folder { dir: dir.into() }
    }
}

impl Sender for Folder {
    fn send(&mut self, msg: &OutMessage) -> Result<Receipt, SendError> {
        if msg.recipients.is_empty() {
            return Err(SendError::NoRecipients { id: msg.id.clone() });
        }
        fs::create_dir_all(&self.dir).map_err(|e| SendError::io("create", &self.dir, e))?;
        let path = self.dir.join(file_name(&msg.id));
        write_atomic(&path, &to_json(&FileMessage::from_message(msg)))?;
        Ok(Receipt { segments_sent: msg.encoded.segments.len(), recipients: msg.recipients.len() })
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

impl Sender for Kannel {
    fn send(&mut self, msg: &OutMessage) -> Result<Receipt, SendError> {
        if msg.recipients.is_empty() {
            return Err(SendError::NoRecipients { id: msg.id.clone() });
        }
        let base = self.url.trim_end_matches('?').to_string();
        if !base.starts_with("http://") {
            let reason = if base.starts_with("https://") { "only plain http is built in (smsbox's sendsms-port speaks http; keep it on loopback or a private link)" } else { "it is not an http:// URL" };
            return Err(SendError::BadUrl { url: base, reason: reason.into() });
        }
        if base.contains('?') {
            return Err(SendError::BadUrl { url: "(hidden: it has a query string)".into(), reason: "give the URL without ?… parameters; the credentials are set separately".into() });
        }
        let total = msg.encoded.segments.len();
        for (done, to) in msg.recipients.iter().enumerate() {
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
                return Err(if done > 0 { SendError::Partial { id: msg.id.clone(), done, of: msg.recipients.len(), source: Box::new(err) } } else { err });
            }
        }
        Ok(Receipt { segments_sent: total, recipients: msg.recipients.len() })
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

    fn message(id: &str, text: &str) -> OutMessage {
        OutMessage { id: id.into(), text: text.into(), encoded: sms::encode(text, 7), recipients: vec!["+963900000001".into(), "+963900000002".into()] }
    }

    /// Fails every send, or after `ok_for` recipients.
    struct Failing {
        ok_for: usize,
        calls: usize,
    }

    impl Sender for Failing {
        fn send(&mut self, msg: &OutMessage) -> Result<Receipt, SendError> {
            self.calls += 1;
            let err = SendError::Unreachable { url: "http://127.0.0.1:1/cgi-bin/sendsms".into(), reason: "Connection Failed: Connection refused".into() };
            if self.ok_for > 0 && self.ok_for < msg.recipients.len() {
                return Err(SendError::Partial { id: msg.id.clone(), done: self.ok_for, of: msg.recipients.len(), source: Box::new(err) });
            }
            Err(err)
        }
        fn name(&self) -> &str {
            "failing"
        }
    }

    /// Accepts everything, remembering what it got.
    #[derive(Default)]
    struct Accepting {
        got: Vec<OutMessage>,
    }

    impl Sender for Accepting {
        fn send(&mut self, msg: &OutMessage) -> Result<Receipt, SendError> {
            self.got.push(msg.clone());
            Ok(Receipt { segments_sent: msg.encoded.segments.len(), recipients: msg.recipients.len() })
        }
        fn name(&self) -> &str {
            "accepting"
        }
    }

    #[test]
    fn queue_writes_a_pending_file_that_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let ob = Outbox::open(dir.path()).unwrap();
        let long = "ممر إنساني مفتوح ".repeat(12);
        let m = message("east.w1.0.ar", &long);
        assert!(m.encoded.segments.len() > 1);
        assert_eq!(ob.queue(&m).unwrap(), Queued::Added);
        let path = dir.path().join("pending/east.w1.0.ar.json");
        assert!(path.exists());
        let json: serde_json::Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        assert_eq!(json["encoding"], "UCS-2");
        assert_eq!(json["dcs"], 8);
        assert_eq!(json["segments"][0]["udh"].as_str().unwrap(), format!("05000307{:02x}01", m.encoded.segments.len()));
        assert_eq!(json["recipients"][1], "+963900000002");
        let p = ob.pending().unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].message, m);
        // Queuing again leaves it alone.
        assert_eq!(ob.queue(&m).unwrap(), Queued::AlreadyPending);
        // Nothing temporary is left behind.
        let names: Vec<String> = fs::read_dir(dir.path().join("pending")).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        assert_eq!(names, vec!["east.w1.0.ar.json".to_string()]);
    }

    #[test]
    fn an_interrupted_write_is_not_a_message() {
        let dir = tempfile::tempdir().unwrap();
        let ob = Outbox::open(dir.path()).unwrap();
        // What a crash between create and rename leaves: a half-written temp file.
        fs::write(dir.path().join("pending/.east.w1.0.en.json.4242.tmp"), b"{\"id\": \"east.w1.0.en\", \"te").unwrap();
        assert!(ob.pending().unwrap().is_empty());
        let mut s = Accepting::default();
        assert!(deliver(&ob, &mut s).is_empty());
        // Queuing the message then writes the whole file under its real name.
        let m = message("east.w1.0.en", "Corridor open from 10:00 to 16:00.");
        assert_eq!(ob.queue(&m).unwrap(), Queued::Added);
        assert_eq!(ob.pending().unwrap()[0].message, m);
        // The write goes through a temp file and a rename: the final file never
        // exists half-written, and a failed write leaves no final file.
        let missing = dir.path().join("no-such-folder/x.json");
        assert!(matches!(write_atomic(&missing, b"{}"), Err(SendError::Io { .. })));
        assert!(!missing.exists());
    }

    #[test]
    fn a_failed_send_stays_pending_and_a_good_one_moves_to_sent() {
        let dir = tempfile::tempdir().unwrap();
        let ob = Outbox::open(dir.path()).unwrap();
        let a = message("a.w.0.en", "Corridor A open.");
        let b = message("b.w.0.en", "Corridor B open.");
        ob.queue(&a).unwrap();
        ob.queue(&b).unwrap();

        let mut bad = Failing { ok_for: 0, calls: 0 };
        let r = deliver(&ob, &mut bad);
        assert_eq!(r.len(), 2);
        assert_eq!(bad.calls, 2);
        assert!(r.iter().all(|(_, r)| r.is_err()));
        let msg = r[0].1.as_ref().unwrap_err().to_string();
        assert!(msg.contains("stays in the outbox"), "{msg}");
        assert!(!msg.contains("+963"), "an error must not carry numbers: {msg}");
        assert_eq!(ob.pending().unwrap().len(), 2);
        assert!(fs::read_dir(ob.sent_dir()).unwrap().next().is_none());

        let mut good = Accepting::default();
        let r = deliver(&ob, &mut good);
        // Oldest first.
        assert_eq!(r.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>(), ["a.w.0.en", "b.w.0.en"]);
        assert_eq!(r[0].1.as_ref().unwrap(), &Receipt { segments_sent: 1, recipients: 2 });
        assert!(ob.pending().unwrap().is_empty());
        assert!(ob.sent_path("a.w.0.en").exists() && ob.sent_path("b.w.0.en").exists());
        let sent: serde_json::Value = serde_json::from_slice(&fs::read(ob.sent_path("a.w.0.en")).unwrap()).unwrap();
        assert_eq!(sent["sent"]["sender"], "accepting");
        // Sent is sent: not queued again, not delivered again.
        assert_eq!(ob.queue(&a).unwrap(), Queued::AlreadySent);
        assert!(deliver(&ob, &mut good).is_empty());
        assert_eq!(good.got.len(), 2);
    }

    #[test]
    fn a_partial_failure_is_remembered_and_not_resent() {
        let dir = tempfile::tempdir().unwrap();
        let ob = Outbox::open(dir.path()).unwrap();
        let mut m = message("a.w.0.ar", "الممر مفتوح");
        m.recipients.push("+963900000003".into());
        ob.queue(&m).unwrap();
        let r = deliver(&ob, &mut Failing { ok_for: 1, calls: 0 });
        let e = r[0].1.as_ref().unwrap_err();
        assert!(matches!(e, SendError::Partial { done: 1, of: 3, .. }), "{e}");
        assert_eq!(ob.pending().unwrap()[0].done, 1);
        let mut good = Accepting::default();
        let r = deliver(&ob, &mut good);
        assert_eq!(r[0].1.as_ref().unwrap(), &Receipt { segments_sent: 1, recipients: 3 });
        assert_eq!(good.got[0].recipients, vec!["+963900000002".to_string(), "+963900000003".to_string()]);
        assert!(ob.sent_path("a.w.0.ar").exists());
    }

    #[test]
    fn a_missed_move_is_finished_without_sending_again() {
        let dir = tempfile::tempdir().unwrap();
        let ob = Outbox::open(dir.path()).unwrap();
        let m = message("a.w.0.en", "Corridor A open.");
        ob.queue(&m).unwrap();
        // Accepted and recorded, then a crash before the rename.
        let path = ob.pending_path(&m.id);
        let mut f: FileMessage = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        f.sent = Some(SentInfo { at: now(), sender: "kannel".into(), segments: 1, recipients: 2 });
        write_atomic(&path, &to_json(&f)).unwrap();
        let mut good = Accepting::default();
        let r = deliver(&ob, &mut good);
        assert!(r[0].1.is_ok());
        assert!(good.got.is_empty());
        assert!(ob.sent_path(&m.id).exists() && !path.exists());
    }

    #[test]
    fn the_folder_sender_writes_out_and_mark_sent_moves() {
        let dir = tempfile::tempdir().unwrap();
        let ob = Outbox::open(dir.path()).unwrap();
        let m = message("a.w.0.en", "Corridor A open.");
        ob.queue(&m).unwrap();
        let mut folder = Folder::new(ob.out_dir());
        let r = deliver(&ob, &mut folder);
        assert_eq!(r[0].1.as_ref().unwrap().recipients, 2);
        let out: serde_json::Value = serde_json::from_slice(&fs::read(ob.out_dir().join("a.w.0.en.json")).unwrap()).unwrap();
        assert_eq!(out["text"], "Corridor A open.");
        assert!(ob.sent_path("a.w.0.en").exists());
        assert!(matches!(ob.mark_sent("a.w.0.en"), Err(SendError::NotPending { .. })));
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
    fn recipients_hmac_ignores_order_and_needs_the_key() {
        let a = recipients_hmac(b"k", &["+963900000002".into(), "+963900000001".into()]);
        let b = recipients_hmac(b"k", &["+963900000001".into(), "+963900000002".into()]);
        assert_eq!(a, b);
        assert_ne!(a, recipients_hmac(b"other key", &["+963900000001".into(), "+963900000002".into()]));
        assert_ne!(a, hex::encode(Sha256::digest(b"+963900000001\n+963900000002")));
        // RFC 4231, test case 2.
        assert_eq!(recipients_hmac(b"Jefe", &["what do ya want for nothing?".into()]), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
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
    fn an_unreachable_gateway_fails_fast_without_secrets() {
        // A port nothing listens on.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let url = format!("http://127.0.0.1:{port}/cgi-bin/sendsms");
        let mut k = Kannel::new(&url, "corridor", "hunter2", None);
        let t = std::time::Instant::now();
        let e = k.send(&message("a.w.0.en", "x")).unwrap_err();
        assert!(t.elapsed() < Duration::from_secs(5));
        let s = e.to_string();
        assert!(matches!(e, SendError::Unreachable { .. }), "{s}");
        assert!(s.contains(&url) && s.contains("stays in the outbox"), "{s}");
        assert!(!s.contains("hunter2") && !s.contains("+963"), "{s}");
    }
}
