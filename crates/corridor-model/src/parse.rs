//! Client JSON in, [`Event`]s out, with errors naming the event and field.
//!
//! Input is either one JSON array of events or JSON lines (one event per
//! line). Each event is parsed strictly (unknown fields and kinds are
//! errors) and then checked with [`Event::check`].

use std::io::{BufRead as _, Read as _};

use serde_json::value::RawValue;
use serde_json::Value;

use crate::{Event, FieldError};

/// Why an event in a batch was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("input is not valid JSON: {0} (send one JSON array of events, or one JSON event per line)")]
    Json(String),
    #[error("event #{position}{}: {error}", id_suffix(.id))]
    Event { position: usize, id: Option<String>, error: FieldError },
}

fn id_suffix(id: &Option<String>) -> String {
    id.as_ref().map(|id| format!(" (id {id:?})")).unwrap_or_default()
}

/// Parses a batch: a JSON array, or JSON lines. Positions in errors are
/// 0-based within the batch.
pub fn parse_batch(input: &str) -> Result<Vec<Event>, ParseError> {
    let trimmed = input.trim_start();
    // Each event is kept as its raw text, so that it is read exactly once,
    // strictly (a generic JSON value would silently merge repeated keys).
    let raws: Vec<&RawValue> = if trimmed.starts_with('[') {
        serde_json::from_str(trimmed).map_err(|e| ParseError::Json(e.to_string()))?
    } else {
        let mut out = Vec::new();
        for (line_no, line) in input.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let v = serde_json::from_str(line)
                .map_err(|e| ParseError::Json(format!("line {}: {e}", line_no + 1)))?;
            out.push(v);
        }
        out
    };
    raws.into_iter().enumerate().map(|(i, raw)| parse_raw(i, raw.get())).collect()
}

/// The longest line [`parse_stream`] reads (an event is at most
/// [`crate::MAX_EVENT_BYTES`] in its canonical form; its text may be
/// spaced out more).
const MAX_LINE: usize = 1 << 20;

/// Why reading a stream of events stopped.
#[derive(Debug, thiserror::Error)]
pub enum StreamError<E: std::error::Error + 'static> {
    #[error(transparent)]
    Parse(#[from] ParseError),
    #[error("cannot read the events: {0}")]
    Read(#[source] std::io::Error),
    /// What the caller's `each` answered.
    #[error(transparent)]
    Stopped(E),
}

/// Reads a batch as [`parse_batch`] does (a JSON array, or JSON lines) one
/// event at a time from `input`, handing each to `each` with its 0-based
/// position: memory holds one event, whatever the input's size. Stops at
/// the first fault, in the input or answered by `each`. Answers how many
/// events were read.
pub fn parse_stream<R: std::io::BufRead, E: std::error::Error + 'static>(mut input: R, each: &mut dyn FnMut(usize, Event) -> Result<(), E>) -> Result<usize, StreamError<E>> {
    // The first byte that is not white space tells the form.
    let first = loop {
        let buf = input.fill_buf().map_err(StreamError::Read)?;
        match buf.iter().position(|b| !b.is_ascii_whitespace()) {
            Some(i) => {
                let b = buf[i];
                input.consume(i);
                break Some(b);
            }
            None if buf.is_empty() => break None,
            None => {
                let n = buf.len();
                input.consume(n);
            }
        }
    };
    let mut stopped = None;
    let mut count = 0usize;
    let mut take = |raw: &str, stopped: &mut Option<StreamError<E>>| -> bool {
        let result = parse_raw(count, raw).map_err(StreamError::Parse).and_then(|e| each(count, e).map_err(StreamError::Stopped));
        count += 1;
        match result {
            Ok(()) => true,
            Err(e) => {
                *stopped = Some(e);
                false
            }
        }
    };
    if first == Some(b'[') {
        // One array: its elements taken one at a time as raw text.
        struct Elements<'a>(&'a mut dyn FnMut(&str) -> bool);
        impl<'de> serde::de::Visitor<'de> for Elements<'_> {
            type Value = ();
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an array of events")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
                while let Some(raw) = seq.next_element::<Box<RawValue>>()? {
                    if !(self.0)(raw.get()) {
                        return Err(serde::de::Error::custom("stopped"));
                    }
                }
                Ok(())
            }
        }
        let mut de = serde_json::Deserializer::from_reader(&mut input);
        let mut f = |raw: &str| take(raw, &mut stopped);
        let read = serde::Deserializer::deserialize_seq(&mut de, Elements(&mut f)).and_then(|()| de.end());
        match (read, stopped) {
            (_, Some(e)) => return Err(e),
            (Err(e), None) if e.is_io() => return Err(StreamError::Read(e.into())),
            (Err(e), None) => return Err(ParseError::Json(e.to_string()).into()),
            (Ok(()), None) => {}
        }
    } else {
        let mut line = String::new();
        let mut line_no = 0usize;
        loop {
            line.clear();
            let read = (&mut input).take(MAX_LINE as u64 + 1).read_line(&mut line).map_err(|e| ParseError::Json(format!("line {}: {e}", line_no + 1)))?;
            if read == 0 {
                break;
            }
            line_no += 1;
            if line.len() > MAX_LINE {
                return Err(ParseError::Json(format!("line {line_no} is longer than {MAX_LINE} bytes: one event per line, each at most {} bytes", crate::MAX_EVENT_BYTES)).into());
            }
            if line.trim().is_empty() {
                continue;
            }
            let raw: &RawValue = serde_json::from_str(line.trim_end_matches(['\n', '\r'])).map_err(|e| ParseError::Json(format!("line {line_no}: {e}")))?;
            if !take(raw.get(), &mut stopped) {
                return Err(stopped.expect("set when take answers false"));
            }
        }
    }
    Ok(count)
}

/// Parses one event from its JSON text.
fn parse_raw(position: usize, text: &str) -> Result<Event, ParseError> {
    #[derive(serde::Deserialize)]
    struct IdOnly {
        id: Option<Value>,
    }
    let id = serde_json::from_str::<IdOnly>(text).ok().and_then(|v| v.id).and_then(|v| v.as_str().map(str::to_owned));
    let fail = |error: FieldError| ParseError::Event { position, id: id.clone(), error };
    let mut de = serde_json::Deserializer::from_str(text);
    let event: Event = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." { "(event)".to_string() } else { path };
        fail(FieldError::new(field, e.into_inner().to_string()))
    })?;
    event.check().map_err(fail)?;
    Ok(event)
}

/// Parses the exact leaf bytes of a stored event and checks that they are
/// canonical (serializing the parsed event gives the same bytes).
pub fn parse_leaf(bytes: &[u8]) -> Result<Event, FieldError> {
    let event = parse_signed_leaf(bytes)?;
    if !event.is_canonical(bytes) {
        return Err(FieldError::new("(leaf)", "bytes are not the canonical form of the event they encode"));
    }
    Ok(event)
}

/// Parses the leaf bytes of a stored event without checking their form:
/// for bytes a signed checkpoint covers, which were checked canonical when
/// they were appended, read by a walker that compares the root they hash
/// to with that checkpoint's (a ledger opening its log). Re-serializing
/// each event to compare is a tenth of such a walk; `verify`, which checks
/// the signer's work too, keeps it ([`parse_leaf`]).
pub fn parse_signed_leaf(bytes: &[u8]) -> Result<Event, FieldError> {
    if bytes.len() > crate::MAX_EVENT_BYTES {
        return Err(FieldError::new("(leaf)", format!("{} bytes, over the {} an entry may hold", bytes.len(), crate::MAX_EVENT_BYTES)));
    }
    // UTF-8 checked once for the whole leaf, not string by string as
    // `from_slice` does (a tenth of the parse for short strings).
    let text = std::str::from_utf8(bytes).map_err(|e| FieldError::new("(leaf)", format!("not a valid event: not UTF-8 text ({e})")))?;
    serde_json::from_str(text).map_err(|e| FieldError::new("(leaf)", format!("not a valid event: {e}")))
}
