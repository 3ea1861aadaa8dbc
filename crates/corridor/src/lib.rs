//! # corridor (the command line)
//!
//! The `corridor` binary and the pieces its commands share: the data
//! directory ([`datadir`]), the reference scenario planned and simulated ([`demo`]), the
//! text rendering of figures ([`print`]), the map commands ([`map`]) and
//! an independent monitor ([`monitor`]). The benchmarks are a program of
//! their own, `corridor-bench` (crates/corridor-bench).
//! Everything here reads and writes through `corridor-ledger` and computes
//! figures with `corridor-views`.

pub mod datadir;
pub mod demo;
pub mod map;
pub mod monitor;
pub mod print;
