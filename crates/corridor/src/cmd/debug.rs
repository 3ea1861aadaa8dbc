//! `corridor debug crash-writer` (hidden): a writer for the crash test.

use std::io::Write;
use std::path::Path;

use anyhow::Result;
use corridor::datadir::DataDir;

/// Appends batches of 1–40 aid events forever from two threads; prints the
/// ids of each batch once `append` has returned (the batch is durable).
pub fn crash_writer(dir: &Path) -> Result<()> {
    use corridor_model::{AidDelivery, Body, District, Event, Position};
    let mut d = DataDir::open(dir)?;
    let ledger = d.ledger()?;
    // The district the deliveries go to (the same event every run: a no-op after the first).
    let t0 = chrono::DateTime::parse_from_rfc3339("2016-12-23T00:00:00Z").expect("a valid instant").to_utc();
    let district = District { district: "crash-test".into(), name: "Crash test".into(), name_ar: String::new(), position: Position { lat: 36.2, lon: 37.15 }, hectares: 100.0 };
    ledger.append(vec![Event::new("district-crash-test", t0, "crash-test", Body::DistrictDeclared(district))])?;
    let pid = std::process::id();
    let out = std::sync::Mutex::new(std::io::stdout());
    std::thread::scope(|s| {
        for thread in 0..2u32 {
            let ledger = &ledger;
            let out = &out;
            s.spawn(move || -> Result<()> {
                let mut seq = 0u64;
                loop {
                    let n = 1 + (seq % 40) as usize;
                    let events: Vec<Event> = (0..n)
                        .map(|k| {
                            let id = format!("crash-{pid}-{thread}-{seq}-{k}");
                            Event::new(
                                id.clone(),
                                chrono::Utc::now(),
                                "crash-test",
                                Body::AidDelivered(AidDelivery {
                                    delivery: id,
                                    commodity: "flour".into(),
                                    tonnes: 0.5,
                                    families: 3,
                                    people: 14,
                                    district: "crash-test".into(),
                                    organisation: "test".into(),
                                }),
                            )
                        })
                        .collect();
                    let ids: Vec<String> = events.iter().map(|e| e.id.clone()).collect();
                    ledger.append(events)?;
                    let mut o = out.lock().expect("stdout lock");
                    writeln!(o, "ACK {}", ids.join(" "))?;
                    o.flush()?;
                    seq += 1;
                }
            });
        }
    });
    Ok(())
}
