//! # corridor (the command line)
//!
//! The `corridor` binary and the pieces its commands share: the data
//! directory ([`datadir`]), the reference scenario planned and simulated ([`demo`]), the
//! text rendering of figures ([`print`]), the map commands ([`map`]) and
//! the benchmarks ([`bench`], [`bench_route`]).
//! Everything here reads and writes through `corridor-ledger` and computes
//! figures with `corridor-views`.

pub mod bench;
pub mod bench_cluster;
pub mod bench_plan;
pub mod bench_route;
pub mod bench_monitor;
pub mod bench_serve;
pub mod datadir;
pub mod demo;
pub mod map;
pub mod monitor;
pub mod print;
