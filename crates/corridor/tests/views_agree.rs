//! The server's monitor view agrees with the log (issue 20, item 11): over
//! the reference demo, replayed entry by entry, an arrived convoy is shown
//! at its exit (not at the entry with `"checkpoint": null`), and the public
//! summary never says "all reconciled" beside a trip in transit; a convoy's
//! detail shows each vehicle on that convoy's trip, not on a later one.

use corridor_server::Fold;
use serde_json::Value;

#[test]
fn the_monitor_view_agrees_with_the_log_through_the_reference_replay() {
    let (_, out) = corridor::demo::reference().unwrap();
    let mut fold = Fold::default();
    let mut in_transit_seen = 0;
    for (i, e) in out.events.iter().enumerate() {
        fold.apply(i as u64, e);
        if i % 200 != 0 && i + 1 != out.events.len() {
            continue;
        }
        let answers = fold.answers();
        fold.install(answers);
        let summary: Value = serde_json::from_str(&fold.summary_json()).unwrap();
        let r = &summary["reconciliation"];
        let busy = r["in_transit"].as_u64().unwrap() + r["overdue"].as_u64().unwrap() + r["discrepancies"].as_u64().unwrap();
        in_transit_seen += usize::from(r["in_transit"].as_u64().unwrap() > 0);
        assert_eq!(r["all_reconciled"].as_bool(), Some(busy == 0), "after {}: {r}", e.id);
    }
    assert!(in_transit_seen > 0, "the replay should have trips in transit at some point");
    let summary: Value = serde_json::from_str(&fold.summary_json()).unwrap();
    assert_eq!(summary["reconciliation"]["all_reconciled"], true);
    let convoys: Vec<Value> = serde_json::from_str(&fold.convoys_json()).unwrap();
    let exit = |corridor: &str| fold.views().checkpoints(corridor).and_then(|k| k.last().cloned());
    let (mut arrived, mut reused) = (0, 0);
    for c in &convoys {
        if c["status"] == "arrived" {
            arrived += 1;
            assert_eq!(c["checkpoint"].as_str().map(String::from), exit(c["corridor"].as_str().unwrap()), "{c}");
            // Its detail shows each vehicle on this trip (out at the exit,
            // or idle if a halt turned it back before it was counted), not
            // on the later convoy it went on with.
            let id = c["convoy"].as_str().unwrap();
            let views = fold.views();
            for v in &views.convoy(id).unwrap().vehicles {
                let on = views.vehicle_on_trip(id, v).unwrap();
                let counted = views.trips().any(|t| t.convoy == id && t.vehicle == *v);
                let expect = if counted { (corridor_views::VehicleStatus::Exited, exit(c["corridor"].as_str().unwrap())) } else { (corridor_views::VehicleStatus::Idle, None) };
                assert_eq!(on.convoy.as_deref(), Some(id), "{id} {v}");
                assert_eq!((on.status, on.checkpoint.clone()), expect, "{id} {v}");
                reused += usize::from(views.vehicle(v).unwrap().convoy.as_deref() != Some(id));
            }
        }
    }
    assert!(arrived > 20, "{arrived} arrived convoys");
    assert!(reused > 0, "some vehicles of arrived convoys went on with later ones");
    // No vehicle is left dispatched when the operation is over.
    let f = fold.views().figures();
    for (kind, states) in &f.vehicles {
        assert_eq!(states.get(&corridor_views::VehicleStatus::Dispatched), None, "{kind:?}: {states:?}");
    }
}

/// The server's fold built in the ledger's opening walk (`serve` on an
/// existing log) answers exactly as the fold read by catching up after
/// opening: every summary and convoy figure the same, every entry once.
#[test]
fn the_fold_built_while_the_ledger_opens_answers_as_one_caught_up() {
    use corridor_server::{AppState, Options};
    let (_, out) = corridor::demo::reference().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut d = corridor::datadir::DataDir::open_or_init(tmp.path(), Some("corridor.invalid/one-walk".into())).unwrap();
    let ledger = d.ledger().unwrap();
    for chunk in out.events.chunks(500) {
        ledger.append(chunk.to_vec()).unwrap();
    }
    let n = ledger.len();
    assert_eq!(n, out.events.len() as u64);
    drop(ledger);
    drop(d);

    let answers = |state: &AppState| {
        let f = state.fold.read().unwrap();
        (f.size(), f.summary_json().to_string(), f.convoys_json().to_string())
    };
    let mut d = corridor::datadir::DataDir::open(tmp.path()).unwrap();
    let caught_up = AppState::new(std::sync::Arc::new(d.ledger().unwrap()), d.tokens(), Options::default(), tmp.path()).unwrap();
    let expected = answers(&caught_up);
    drop(caught_up);
    drop(d);

    let mut d = corridor::datadir::DataDir::open(tmp.path()).unwrap();
    let mut fold = Fold::default();
    let mut handed = 0u64;
    let ledger = d
        .ledger_folding(&mut |i, e| {
            assert_eq!(i, handed, "entries are handed on in order, once each");
            handed += 1;
            fold.apply(i, e);
        })
        .unwrap();
    assert_eq!(handed, n);
    let folded = AppState::with_fold(std::sync::Arc::new(ledger), fold, d.tokens(), Options::default(), tmp.path()).unwrap();
    let got = answers(&folded);
    assert_eq!(got.0, n);
    assert_eq!(got, expected);
}
