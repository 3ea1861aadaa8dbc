//! Client JSON in, [`Event`]s out, with errors naming the event and field.
//!
//! Input is either one JSON array of events or JSON lines (one event per
//! line). Each event is parsed strictly (unknown fields and kinds are
//! errors) and then checked with [`Event::check`].

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
    if bytes.len() > crate::MAX_EVENT_BYTES {
        return Err(FieldError::new("(leaf)", format!("{} bytes, over the {} an entry may hold", bytes.len(), crate::MAX_EVENT_BYTES)));
    }
    let event: Event = serde_json::from_slice(bytes)
        .map_err(|e| FieldError::new("(leaf)", format!("not a valid event: {e}")))?;
    if !event.is_canonical(bytes) {
        return Err(FieldError::new("(leaf)", "bytes are not the canonical form of the event they encode"));
    }
    Ok(event)
}
