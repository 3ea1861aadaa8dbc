//! Public notices from the operation's own data. What residents are told is
//! rendered from the ledger's corridors and truce windows, never typed per
//! notice, so it always matches them.
//!
//! - [`content`] folds the log into notices: one chain per corridor and
//!   truce window, an opening, then an update for each change (a window
//!   moved, a corridor halted or reopened), each referencing the one before.
//! - [`render`] fills the templates in `templates/` (Arabic and English;
//!   hours in the time zone the log's `operation_declared` names, from
//!   the tz database; UTC when the log declares no operation).
//! - [`sms`] encodes a text as GSM 03.38 or UCS-2 and cuts it into
//!   concatenated segments; [`send`] hands them to an outbox folder or a
//!   Kannel gateway.
//! - [`cap`] writes OASIS CAP 1.2 alerts; [`leaflet`] an A4 page per
//!   corridor and window; [`speech`] a loudspeaker script and its audio.

pub mod cap;
pub mod content;
pub mod leaflet;
pub mod render;
pub mod send;
pub mod sms;
pub mod speech;

pub use content::{notices, Kind, NoticeSpec};
pub use render::{Lang, Part, Renderer};

/// What went wrong making a notice; each message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("unknown corridor {0:?}: the ledger declares {1}")]
    UnknownCorridor(String, String),
    #[error("unknown truce window {0:?}: the ledger declares {1}")]
    UnknownWindow(String, String),
    #[error("truce window {window:?} ended at {end} (before {at}): there is nothing to announce; pick a window that is open or scheduled")]
    WindowPast { window: String, end: String, at: String },
    #[error("template {name}: {message}; fix the template, or drop --templates to use the built-in ones")]
    Template { name: String, message: String },
    #[error("{0}")]
    Other(String),
}
