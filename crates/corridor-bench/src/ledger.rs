//! `corridor-bench ledger`: durable appends of the ledger against a raw
//! SQLite batched insert of the same payloads with the same durability, and
//! proof generation on a large tree. Both sides run in the same process, one
//! after the other, several rounds; medians are reported, and ratios within a
//! round, because shared machines are noisy.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use corridor_ledger::merkle::{leaf_hash, Tree};
use corridor_ledger::note::Signer;
use corridor_ledger::store::sqlite::{raw_baseline_insert, SqliteStore};
use corridor_ledger::store::{Store, StoredEntry};
use corridor_ledger::Ledger;
use corridor_model::{Body, Event};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use corridor::demo;

pub struct LedgerBench {
    pub events: usize,
    pub batch: usize,
    pub writers: usize,
    pub rounds: usize,
}

pub struct Round {
    pub ledger: f64,
    pub raw: f64,
}

/// The demo's declarations followed by `n` passages: the demo's convoys
/// run again and again (each repetition a new convoy, so every vehicle is
/// counted once per checkpoint and trip), a realistic payload that the
/// ledger accepts.
pub fn workload(n: usize) -> (Vec<Event>, Vec<Event>) {
    let all = demo::reference().expect("the bundled scenario simulates").1.events;
    let (passages, mut setup): (Vec<Event>, Vec<Event>) = all.into_iter().partition(|e| matches!(e.body, Body::Passage(_)));
    let dispatches: Vec<Event> = setup.iter().filter(|e| matches!(e.body, Body::ConvoyDispatched(_))).cloned().collect();
    let mut out = Vec::with_capacity(n);
    let mut round = 0;
    while out.len() < n {
        if round > 0 {
            for d in &dispatches {
                let mut d = d.clone();
                d.id = format!("{}#{round}", d.id);
                if let Body::ConvoyDispatched(c) = &mut d.body {
                    c.convoy = format!("{}#{round}", c.convoy);
                }
                setup.push(d);
            }
        }
        for p in &passages {
            if out.len() == n {
                break;
            }
            let mut e = p.clone();
            e.id = format!("{}#{round}", e.id);
            if let (Body::Passage(p), true) = (&mut e.body, round > 0) {
                p.convoy = format!("{}#{round}", p.convoy);
            }
            out.push(e);
        }
        round += 1;
    }
    (setup, out)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Runs the append benchmark and returns each round's rates (events/s).
pub fn ledger_appends(cfg: &LedgerBench, dir: &Path, progress: &dyn Fn(&str)) -> Result<Vec<Round>> {
    let (setup, events) = workload(cfg.events);
    let payloads: Vec<Vec<u8>> = events.iter().map(Event::canonical_bytes).collect();
    let mut rounds = Vec::new();
    for r in 0..cfg.rounds {
        // Raw SQLite: the same bytes, same pragmas, same batch size.
        let raw_path = dir.join(format!("raw-{r}.sqlite"));
        let t = Instant::now();
        raw_baseline_insert(&raw_path, &payloads, cfg.batch)?;
        let raw = cfg.events as f64 / t.elapsed().as_secs_f64();

        // The ledger's store alone, with entries prepared beforehand.
        let store_path = dir.join(format!("store-{r}.sqlite"));
        let entries: Vec<StoredEntry> = events
            .iter()
            .zip(&payloads)
            .enumerate()
            .map(|(i, (_, p))| StoredEntry { index: i as u64, leaf: p.clone(), hash: leaf_hash(p) })
            .collect();
        let mut store = SqliteStore::open(&store_path)?;
        let t = Instant::now();
        for chunk in entries.chunks(cfg.batch) {
            store.append(chunk, None)?;
        }
        let store_rate = cfg.events as f64 / t.elapsed().as_secs_f64();
        drop(store);
        drop(entries);

        // The ledger: validate, canonicalize, hash, dedup, tree, sign, store.
        let path = dir.join(format!("ledger-{r}.sqlite"));
        let signer = Signer::generate("bench.invalid/ledger")?;
        let ledger = Arc::new(Ledger::open(Box::new(SqliteStore::open(&path)?), Box::new(SqliteStore::open(&path)?), signer)?);
        ledger.append(setup.clone())?;
        let chunks: Vec<Vec<Event>> = events.chunks(cfg.batch).map(<[Event]>::to_vec).collect();
        let per_writer = chunks.len().div_ceil(cfg.writers);
        let mut work: Vec<Vec<Vec<Event>>> = chunks.chunks(per_writer).map(<[Vec<Event>]>::to_vec).collect();
        let t = Instant::now();
        std::thread::scope(|s| -> Result<()> {
            let handles: Vec<_> = work
                .drain(..)
                .map(|mine| {
                    let ledger = ledger.clone();
                    s.spawn(move || -> Result<()> {
                        for batch in mine {
                            ledger.append(batch)?;
                        }
                        Ok(())
                    })
                })
                .collect();
            for h in handles {
                h.join().expect("writer thread")?;
            }
            Ok(())
        })?;
        let ledger_rate = cfg.events as f64 / t.elapsed().as_secs_f64();
        anyhow::ensure!(
            ledger.len() == (setup.len() + cfg.events) as u64,
            "the ledger holds {} entries, expected {}",
            ledger.len(),
            setup.len() + cfg.events
        );
        drop(ledger);
        for p in [raw_path, path, store_path] {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", p.display()));
            }
        }
        progress(&format!(
            "round {}: ledger {:.0} events/s, raw SQLite {:.0} rows/s, ratio {:.2} (the ledger's store alone: {:.0} entries/s)",
            r + 1,
            ledger_rate,
            raw,
            ledger_rate / raw,
            store_rate
        ));
        rounds.push(Round { ledger: ledger_rate, raw });
    }
    Ok(rounds)
}

pub fn summarize(rounds: &[Round]) -> (f64, f64, f64) {
    (
        median(rounds.iter().map(|r| r.ledger).collect()),
        median(rounds.iter().map(|r| r.raw).collect()),
        median(rounds.iter().map(|r| r.ledger / r.raw).collect()),
    )
}

pub struct ProofRates {
    pub build: Duration,
    pub inclusion_per_s: f64,
    pub consistency_per_s: f64,
    pub both_per_s: f64,
}

/// Builds a tree of `leaves` and generates `proofs` random inclusion and
/// `proofs` random consistency proofs against its full size.
pub fn proofs(leaves: u64, proofs: usize, seed: u64) -> Result<ProofRates> {
    let mut rng = StdRng::seed_from_u64(seed);
    let t = Instant::now();
    let mut tree = Tree::new();
    for i in 0..leaves {
        tree.push(leaf_hash(&i.to_le_bytes()));
    }
    let build = t.elapsed();
    let n = tree.len();
    let idx: Vec<u64> = (0..proofs).map(|_| rng.gen_range(0..n)).collect();
    let old: Vec<u64> = (0..proofs).map(|_| rng.gen_range(1..n)).collect();
    let mut sink = 0u8;
    let t = Instant::now();
    for &i in &idx {
        let p = tree.inclusion_proof(i, n).context("inclusion proof")?;
        sink ^= p.first().map_or(0, |h| h[0]);
    }
    let inc = t.elapsed();
    let t = Instant::now();
    for &m in &old {
        let p = tree.consistency_proof(m, n).context("consistency proof")?;
        sink ^= p.first().map_or(0, |h| h[0]);
    }
    let cons = t.elapsed();
    std::hint::black_box(sink);
    let per = |d: Duration| proofs as f64 / d.as_secs_f64();
    Ok(ProofRates {
        build,
        inclusion_per_s: per(inc),
        consistency_per_s: per(cons),
        both_per_s: (2 * proofs) as f64 / (inc + cons).as_secs_f64(),
    })
}
