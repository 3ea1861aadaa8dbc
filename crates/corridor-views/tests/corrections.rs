//! Corrections, corridor status and flagged counts, on a small operation
//! checked by the registry as the ledger checks it.

use chrono::{DateTime, Duration, TimeZone, Utc};
use corridor_model::*;
use corridor_views::{CorridorStatus, Views};

fn t(min: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 4, 7, 0, 0).unwrap() + Duration::minutes(min)
}

/// A log under construction: every event is checked and recorded by a
/// registry, as the ledger does.
struct Log {
    events: Vec<Event>,
    registry: Registry,
}

impl Log {
    fn new() -> Log {
        let mut l = Log { events: Vec::new(), registry: Registry::new() };
        l.push("op", 0, Body::OperationDeclared(Operation {
            operation: "monaco".into(),
            name: "Monaco".into(),
            timezone: "Europe/Monaco".into(),
            languages: vec!["en".into()],
            map: MapRef { name: "monaco".into(), attribution: "© OpenStreetMap contributors".into(), sha256: "0".repeat(64) },
        }))
        .unwrap();
        l.push("groups", 0, Body::GroupsDefined(GroupsDefined::standard())).unwrap();
        for s in ["a", "b"] {
            l.push(&format!("site-{s}"), 0, Body::SiteDeclared(Site { site: s.into(), name: s.into(), name_ar: None, kind: SiteKind::Besieged, position: None })).unwrap();
        }
        l.push(
            "corridor",
            0,
            Body::CorridorDeclared(Corridor {
                corridor: "c".into(),
                name: "C".into(),
                name_ar: None,
                from: "a".into(),
                to: "b".into(),
                checkpoints: ["in", "out"].iter().map(|id| Checkpoint { id: id.to_string(), name: id.to_string(), name_ar: None, position: None }).collect(),
                groups: vec!["women".into(), "children".into()],
                max_transit_minutes: 60,
            }),
        )
        .unwrap();
        // 08:00–16:00 in Monaco (UTC+1 in winter).
        l.push("w1", 0, Body::TruceWindowDeclared(TruceWindow { window: "w1".into(), corridors: vec!["c".into()], start: t(0), end: t(8 * 60) })).unwrap();
        for v in ["v1", "v2"] {
            l.push(&format!("veh-{v}"), 0, Body::VehicleRegistered(Vehicle { vehicle: v.into(), kind: VehicleKind::Bus, seats: 50, stretchers: 0, operator: "x".into() })).unwrap();
        }
        l.push("convoy", 1, Body::ConvoyDispatched(Convoy { convoy: "k".into(), corridor: "c".into(), vehicles: vec!["v1".into(), "v2".into()] })).unwrap();
        l.push("open", 1, Body::CorridorOpened(CorridorRef { corridor: "c".into(), reason: String::new() })).unwrap();
        l
    }

    fn push(&mut self, id: &str, min: i64, body: Body) -> Result<(), FieldError> {
        let e = Event::new(id, t(min), "hq", body);
        e.check()?;
        self.registry.apply(&e)?;
        self.events.push(e);
        Ok(())
    }

    fn passage(vehicle: &str, cp: &str, women: u32) -> Body {
        Body::Passage(Passage { vehicle: vehicle.into(), convoy: "k".into(), corridor: "c".into(), checkpoint: cp.into(), counts: [("women".to_string(), women)].into(), wounded: 0 })
    }

    fn correct(&mut self, id: &str, target: &str, time: Option<DateTime<Utc>>, body: Option<Body>, void: bool) -> Result<(), FieldError> {
        self.push(id, 100, Body::EntryCorrected(Correction { corrects: target.into(), reason: "miscount at the gate".into(), time, body: body.map(Box::new), void }))
    }

    /// The views folded event by event (replaying when a correction asks).
    fn views(&self) -> Views {
        let mut v = Views::new();
        for (i, e) in self.events.iter().enumerate() {
            v.apply(i as u64, e);
        }
        if v.needs_replay() {
            let mut again = v.replaying();
            for (i, e) in self.events.iter().enumerate() {
                again.apply(i as u64, e);
            }
            assert!(!again.needs_replay());
            return again;
        }
        v
    }
}

#[test]
fn a_correction_changes_the_figures_and_is_listed() {
    let mut l = Log::new();
    l.push("p1", 10, Log::passage("v1", "in", 40)).unwrap();
    l.push("p2", 20, Log::passage("v1", "out", 40)).unwrap();
    assert_eq!(l.views().figures().withdrawn.people, 40);
    // The exit count was 42, not 40.
    l.correct("fix1", "p2", None, Some(Log::passage("v1", "out", 42)), false).unwrap();
    let f = l.views().figures();
    assert_eq!(f.withdrawn.people, 42);
    assert_eq!(f.reconciliation.discrepancies.len(), 1, "{:?}", f.reconciliation.discrepancies);
    assert_eq!(f.corrections.len(), 1);
    let c = &f.corrections[0];
    assert_eq!((c.corrects.as_str(), c.author.as_str(), c.reason.as_str()), ("p2", "hq", "miscount at the gate"));
    assert!(c.before.contains("women 40") && c.after.contains("women 42"), "{c:?}");
    // And the entry count too: reconciled again.
    l.correct("fix2", "p1", None, Some(Log::passage("v1", "in", 42)), false).unwrap();
    let f = l.views().figures();
    assert!(f.reconciliation.discrepancies.is_empty() && f.reconciliation.reconciled == 1);
    // Views::of gives the same as the replay.
    assert_eq!(Views::of(&l.events).figures().withdrawn.people, 42);
    // Voiding the first correction brings back 40 out; correcting the void's… void restores it.
    l.correct("fix3", "fix1", None, None, true).unwrap();
    assert_eq!(l.views().figures().withdrawn.people, 40);
    l.correct("fix4", "fix3", None, None, true).unwrap();
    assert_eq!(l.views().figures().withdrawn.people, 42);
}

#[test]
fn a_void_removes_a_count_and_frees_the_vehicle_to_be_counted_again() {
    let mut l = Log::new();
    l.push("p1", 10, Log::passage("v1", "in", 40)).unwrap();
    // Counted twice is refused…
    assert!(l.push("p1b", 11, Log::passage("v1", "in", 40)).unwrap_err().message.contains("already counted"));
    // …but a passage recorded against the wrong vehicle can be moved to the right one,
    l.correct("fix1", "p1", None, Some(Log::passage("v2", "in", 40)), false).unwrap();
    // and then v1 may be counted there, and v2 may not again.
    l.push("p3", 12, Log::passage("v1", "in", 30)).unwrap();
    assert!(l.push("p4", 13, Log::passage("v2", "in", 30)).is_err());
    let f = l.views().figures();
    assert_eq!(f.entered.people, 70);
    // A void leaves the passage out.
    l.correct("fix2", "p3", None, None, true).unwrap();
    assert_eq!(l.views().figures().entered.people, 40);
    l.push("p5", 14, Log::passage("v1", "in", 30)).unwrap();
    assert_eq!(l.views().figures().entered.people, 70);
}

#[test]
fn corrections_are_checked() {
    let mut l = Log::new();
    l.push("p1", 10, Log::passage("v1", "in", 40)).unwrap();
    let e = l.correct("x", "nope", None, Some(Log::passage("v1", "in", 1)), false).unwrap_err();
    assert!(e.message.contains("no entry with id \"nope\""), "{e}");
    let e = l.correct("x", "corridor", None, Some(Log::passage("v1", "in", 1)), false).unwrap_err();
    assert!(e.message.contains("can be corrected"), "{e}");
    let e = l.correct("x", "p1", None, Some(Body::ConvoyArrived(ConvoyArrived { convoy: "k".into(), site: "b".into() })), false).unwrap_err();
    assert!(e.message.contains("must be a passage too"), "{e}");
    let e = l.correct("x", "p1", None, Some(Log::passage("v9", "in", 1)), false).unwrap_err();
    assert!(e.message.contains("unknown vehicle"), "{e}");
    // Neither content nor void, or both: refused by the event's own check.
    let e = l.correct("x", "p1", None, None, false).unwrap_err();
    assert!(e.field.ends_with("void"), "{e}");
    let e = l.correct("x", "p1", Some(t(5)), None, true).unwrap_err();
    assert!(e.field.ends_with("void"), "{e}");
}

#[test]
fn a_wrong_time_is_corrected_and_counts_outside_the_window_are_flagged() {
    let mut l = Log::new();
    // 16:30 in Monaco: after the window (08:00–16:00).
    l.push("p1", 8 * 60 + 30, Log::passage("v1", "in", 40)).unwrap();
    let f = l.views().figures();
    assert_eq!(f.reconciliation.flags.len(), 1);
    let flag = &f.reconciliation.flags[0].what;
    assert!(flag.contains("outside every truce window") && flag.contains("04 Dec 08:00–04 Dec 16:00") && flag.contains("Europe/Monaco"), "{flag}");
    assert_eq!(f.timezone, "Europe/Monaco");
    // A typo'd year makes "as of" a year ahead; its correction puts it back.
    l.push("p2", 365 * 24 * 60, Log::passage("v2", "in", 10)).unwrap();
    assert_eq!(l.views().figures().as_of, Some(t(365 * 24 * 60)));
    l.correct("fix", "p2", Some(t(30)), None, false).unwrap();
    let f = l.views().figures();
    assert_eq!(f.as_of, Some(t(8 * 60 + 30)), "the latest fact is p1 again");
    assert_eq!(f.reconciliation.flags.len(), 1, "the corrected time is inside the window");
}

#[test]
fn a_halt_closes_the_corridor_until_it_resumes() {
    let mut l = Log::new();
    assert_eq!(l.views().corridors()["c"].status, CorridorStatus::Open);
    let incident = |id: &str, kind| Body::Incident(Incident { incident: id.into(), kind, corridor: Some("c".into()), convoy: None, site: None, vehicles: vec![], killed: 0, description: "shots".into() });
    l.push("halt", 20, incident("halt", IncidentKind::Halt)).unwrap();
    assert_eq!(l.views().corridors()["c"].status, CorridorStatus::Halted);
    l.push("p1", 21, Log::passage("v1", "in", 40)).unwrap();
    let f = l.views().figures();
    assert!(f.reconciliation.flags[0].what.contains("while corridor \"c\" was halted"), "{:?}", f.reconciliation.flags);
    l.push("resumed", 30, incident("resumed", IncidentKind::Resumed)).unwrap();
    assert_eq!(l.views().corridors()["c"].status, CorridorStatus::Open);
    l.push("close", 40, Body::CorridorClosed(CorridorRef { corridor: "c".into(), reason: String::new() })).unwrap();
    assert_eq!(l.views().corridors()["c"].status, CorridorStatus::Closed);
    // Days are the operation's: 23:30 UTC on 4 December is 5 December in Monaco.
    l.push("open2", 41, Body::CorridorOpened(CorridorRef { corridor: "c".into(), reason: String::new() })).unwrap();
    l.push("p2", 16 * 60 + 30, Log::passage("v1", "out", 40)).unwrap();
    let days: Vec<String> = l.views().figures().by_day.keys().map(|d| d.to_string()).collect();
    assert_eq!(days, ["2026-12-05"]);
}

#[test]
fn an_operation_is_declared_once_with_a_real_zone() {
    let mut l = Log::new();
    let op = |tz: &str| Body::OperationDeclared(Operation { operation: "x".into(), name: "x".into(), timezone: tz.into(), languages: vec!["en".into()], map: MapRef { name: "m".into(), attribution: "a".into(), sha256: "0".repeat(64) } });
    assert!(l.push("op2", 0, op("Europe/Monaco")).unwrap_err().message.contains("declared once"));
    let e = Event::new("op3", t(0), "hq", op("Mars/Olympus"));
    assert!(e.check().unwrap_err().message.contains("not a time zone"));
}
