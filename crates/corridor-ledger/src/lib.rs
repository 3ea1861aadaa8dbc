//! # corridor-ledger
//!
//! Corridor's one tamper-evident log. Every event is appended as a leaf of an
//! RFC 6962 Merkle tree over its canonical bytes; the log signs C2SP
//! `tlog-checkpoint` notes (Ed25519, `signed-note` format) and serves
//! inclusion and consistency proofs, so that anyone holding the exported
//! leaves and a checkpoint can check that nothing was edited or removed.
//!
//! - [`merkle`]: hashing, the in-memory tree, proof generation and verification.
//! - [`note`]: C2SP signed notes and Ed25519 keys in `name+hash+base64` form.
//! - [`checkpoint`]: the C2SP `tlog-checkpoint` body.
//! - [`store`]: durable storage (SQLite by default, PostgreSQL).
//! - [`Ledger`]: validated, deduplicated, group-committed appends.
//! - [`tiles`]: C2SP tlog-tiles paths, hash tiles and entry bundles.
//! - [`verify`]: full re-verification of a stored log.

pub mod checkpoint;
mod ledger;
pub mod merkle;
pub mod note;
pub mod store;
pub mod tiles;
pub mod verify;

pub use ledger::{parse_checkpoint, sign_checkpoint, Appended, Ledger, LedgerError, Precheck, SignedCheckpoint, VERIFIER_KEY};
