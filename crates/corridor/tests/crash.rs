//! Crash safety: a writer is killed with SIGKILL at random moments; every
//! append it had acknowledged must survive, the log must verify, and nothing
//! may be half-written.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use corridor::datadir::DataDir;
use rand::{Rng, SeedableRng};

fn crash_run(init: &[String], kills: usize) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("d");
    let mut args = vec!["init"];
    args.extend(init.iter().map(String::as_str));
    ok(&dir, &args);
    let seed: u64 = rand::random();
    eprintln!("crash test seed {seed}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut acks_per_run = Vec::new();
    for run in 0..kills {
        let mut child = Command::new(env!("CARGO_BIN_EXE_corridor"))
            .arg("--data-dir")
            .arg(&dir)
            .args(["debug", "crash-writer"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let acked2 = acked.clone();
        let (first_ack, got_first) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut n = 0;
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                // Only a complete line is an acknowledgement.
                if let Some(ids) = line.strip_prefix("ACK ") {
                    let mut a = acked2.lock().unwrap();
                    a.extend(ids.split(' ').map(String::from));
                    n += 1;
                    if n == 1 {
                        let _ = first_ack.send(());
                    }
                }
            }
            n
        });
        // Every fourth run is killed at a random moment from its start (often
        // while it reopens the log); the others at a random moment after
        // their first acknowledged append, so that most kills land mid-write.
        if run % 4 != 0 {
            let _ = got_first.recv_timeout(Duration::from_secs(60));
        }
        std::thread::sleep(Duration::from_millis(rng.gen_range(5..300)));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        acks_per_run.push(reader.join().unwrap());
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acks_per_run.iter().filter(|&&n| n > 0).count() >= kills / 2,
        "the writer should make progress in most runs (acknowledged batches per run: {acks_per_run:?})"
    );
    let mut d = DataDir::open(&dir).unwrap();
    let ledger = d.ledger().expect("the log reopens after every crash");
    for id in &acked {
        assert!(ledger.position_of(id).is_some(), "acknowledged event {id} was lost");
    }
    eprintln!("{} kills, {} acknowledged events, {} in the log", kills, acked.len(), ledger.len());
    drop(ledger);
    drop(d);
    let out = ok(&dir, &["verify"]);
    assert!(out.contains("verified:"), "{out}");
    if let [_, url, _, schema] = init {
        corridor_ledger::store::postgres::drop_schema(url, schema).unwrap();
    }
}

#[test]
fn sigkill_never_loses_an_acknowledged_append() {
    for (_, init) in backends("crash") {
        crash_run(&init, 24);
    }
}
