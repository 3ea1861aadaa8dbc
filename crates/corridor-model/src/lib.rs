//! # corridor-model
//!
//! Corridor's domain: the one [`Event`] type every operational fact is
//! written as, the head-count groups, and validation.
//!
//! - An [`Event`] is an envelope (schema version, client-chosen unique id,
//!   UTC time, author) around one [`Body`] variant: a site, a corridor with
//!   its ordered checkpoints, a truce window, a vehicle, a convoy, a passage
//!   with head counts, an incident, an agreement, aid, an airdrop, a
//!   clearance record, a return, a notice, a hazard area.
//! - Head counts are by *group* ([`Counts`]); groups are disjoint and
//!   declared by a [`Body::GroupsDefined`] event. "Wounded" is a condition
//!   counted across groups, never a group.
//! - [`Event::canonical_bytes`] is the exact byte string the ledger hashes.
//! - [`parse`] turns client JSON into events with errors that name the
//!   event and the field; [`Registry`] checks references (unknown corridor,
//!   checkpoint, vehicle, group…) against what the log has declared so far.

mod corrections;
mod idmap;
mod event;
mod examples;
pub mod parse;
pub mod reference;
mod registry;

pub use corrections::{Corrections, Effective};
pub use idmap::IdMap;
pub use event::*;
pub use examples::{example_destination, examples};
pub use registry::{CorridorInfo, Registry};

/// The schema version every event written by this code carries (`"v"`).
pub const SCHEMA_VERSION: u32 = 1;

/// The largest event the log takes, in canonical bytes: C2SP tlog-tiles
/// entry bundles give each entry a 16-bit length.
pub const MAX_EVENT_BYTES: usize = 65_535;

/// What is wrong with an event, naming the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    /// Dotted path of the offending field, e.g. `body.passage.counts.women`.
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError { field: field.into(), message: message.into() }
    }
}
