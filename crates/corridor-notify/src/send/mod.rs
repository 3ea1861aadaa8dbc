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
//!
//! The parts: `recipients.rs` (lists read, stored and digested),
//! `outbox.rs` (pending and sent files, the journal, [`deliver`]),
//! `folder.rs` and `kannel.rs` (the two senders), `files.rs` (the
//! owner-only files they write). What they share is here.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::sms::Encoded;

mod files;
mod folder;
mod kannel;
mod outbox;
mod recipients;
#[cfg(test)]
mod testing;

pub use folder::Folder;
pub use kannel::Kannel;
pub use outbox::{deliver, Outbox, Pending, Queued};
pub use recipients::{is_e164, read_recipients, recipients_hmac, RecipientList, RecipientsDigest};

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
    pub(super) fn io(action: &'static str, path: &Path, source: std::io::Error) -> Self {
        SendError::Io { action, path: path.to_path_buf(), source }
    }

    pub(super) fn bad(path: &Path, reason: impl Into<String>) -> Self {
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
