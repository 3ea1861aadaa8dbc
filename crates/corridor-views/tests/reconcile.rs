//! Totals and reconciliation on small hand-made operations.

use chrono::{DateTime, Duration, TimeZone, Utc};
use corridor_model::*;
use corridor_views::{ConvoyStatus, VehicleStatus, Views};

fn t(min: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2016, 12, 15, 6, 0, 0).unwrap() + Duration::minutes(min)
}

struct Op {
    views: Views,
    n: u64,
}

impl Op {
    fn new() -> Op {
        let mut op = Op { views: Views::new(), n: 0 };
        op.push(0, Body::GroupsDefined(GroupsDefined::standard()));
        for s in ["a", "b"] {
            op.push(0, Body::SiteDeclared(Site { site: s.into(), name: s.into(), name_ar: None, kind: SiteKind::Besieged, position: None }));
        }
        op.push(
            0,
            Body::CorridorDeclared(Corridor {
                corridor: "c".into(),
                name: "C".into(),
                name_ar: None,
                from: "a".into(),
                to: "b".into(),
                checkpoints: ["in", "mid", "out"].iter().map(|id| Checkpoint { id: id.to_string(), name: id.to_string(), name_ar: None, position: None }).collect(),
                groups: vec!["women".into(), "children".into()],
                max_transit_minutes: 60,
            }),
        );
        for v in ["v1", "v2", "v3"] {
            op.push(0, Body::VehicleRegistered(Vehicle { vehicle: v.into(), kind: VehicleKind::Bus, seats: 50, stretchers: 0, operator: "x".into() }));
        }
        op.push(1, Body::ConvoyDispatched(Convoy { convoy: "k".into(), corridor: "c".into(), vehicles: vec!["v1".into(), "v2".into(), "v3".into()] }));
        op
    }

    fn push(&mut self, min: i64, body: Body) {
        let e = Event::new(format!("e{}", self.n), t(min), "hq", body);
        self.views.apply(self.n, &e);
        self.n += 1;
    }

    fn pass(&mut self, min: i64, vehicle: &str, cp: &str, women: u32, children: u32, wounded: u32) {
        let counts = [("women".to_string(), women), ("children".to_string(), children)].into_iter().collect();
        self.push(
            min,
            Body::Passage(Passage { vehicle: vehicle.into(), convoy: "k".into(), corridor: "c".into(), checkpoint: cp.into(), counts, wounded }),
        );
    }

    fn trip(&mut self, start: i64, vehicle: &str, women: u32, children: u32, wounded: u32) {
        for (i, cp) in ["in", "mid", "out"].iter().enumerate() {
            self.pass(start + 10 * i as i64, vehicle, cp, women, children, wounded);
        }
    }
}

#[test]
fn clean_trips_reconcile_and_total_by_group_and_day() {
    let mut op = Op::new();
    op.trip(10, "v1", 20, 25, 2);
    op.trip(12, "v2", 10, 30, 0);
    op.trip(60 * 24, "v3", 5, 5, 1); // the next day
    let f = op.views.figures();
    assert_eq!(f.withdrawn.people, 95);
    assert_eq!(f.withdrawn.wounded, 3);
    assert_eq!(f.withdrawn.by_group["women"], 35);
    assert_eq!(f.withdrawn.by_group["children"], 60);
    assert_eq!(f.by_day.len(), 2);
    assert_eq!(f.by_day.values().next().unwrap().people, 85);
    assert_eq!(f.by_corridor["c"].people, 95);
    let r = &f.reconciliation;
    assert_eq!((r.trips, r.reconciled), (3, 3));
    assert!(r.all_reconciled());
    assert_eq!(f.convoys[&ConvoyStatus::Exited], 1);
    assert_eq!(op.views.vehicle("v1").unwrap().status, VehicleStatus::Exited);
}

#[test]
fn a_different_count_later_is_a_discrepancy() {
    let mut op = Op::new();
    op.pass(10, "v1", "in", 20, 25, 2);
    op.pass(20, "v1", "mid", 20, 25, 2);
    op.pass(30, "v1", "out", 19, 25, 2);
    let r = op.views.reconcile(None);
    assert_eq!(r.discrepancies.len(), 1, "{:?}", r.discrepancies);
    let d = &r.discrepancies[0];
    assert_eq!((d.vehicle.as_str(), d.checkpoint.as_deref()), ("v1", Some("out")));
    assert!(d.what.contains("women: 20 in, 19 here (-1)"), "{}", d.what);
    assert!(!r.all_reconciled());
}

#[test]
fn skipping_a_checkpoint_or_the_entry_is_flagged() {
    let mut op = Op::new();
    op.pass(10, "v1", "in", 1, 1, 0);
    op.pass(30, "v1", "out", 1, 1, 0);
    op.pass(40, "v2", "mid", 1, 1, 0);
    let r = op.views.reconcile(None);
    let whats: Vec<_> = r.discrepancies.iter().map(|d| (d.vehicle.clone(), d.checkpoint.clone())).collect();
    assert!(whats.contains(&("v1".into(), Some("mid".into()))), "{whats:?}");
    assert!(whats.contains(&("v2".into(), None)), "{whats:?}");
}

#[test]
fn a_vehicle_inside_too_long_is_overdue_and_a_lost_one_is_missing() {
    let mut op = Op::new();
    op.pass(10, "v1", "in", 20, 25, 0);
    op.pass(20, "v1", "mid", 20, 25, 0);
    op.pass(15, "v2", "in", 3, 4, 0);
    op.push(
        30,
        Body::Incident(Incident {
            incident: "i".into(),
            kind: IncidentKind::Attack,
            corridor: Some("c".into()),
            convoy: Some("k".into()),
            site: None,
            vehicles: vec!["v2".into()],
            killed: 1,
            description: "attack".into(),
        }),
    );
    // 40 minutes after entry: v1 is in transit, v2 is lost with 7 aboard.
    let r = op.views.reconcile(Some(t(50)));
    assert_eq!(r.in_transit, 1);
    assert_eq!(r.overdue.len(), 1);
    assert!(r.overdue[0].lost && r.overdue[0].aboard == 7 && r.overdue[0].vehicle == "v2");
    // 70 minutes after entry, v1 is overdue at "mid", 45 aboard.
    let r = op.views.reconcile(Some(t(80)));
    let v1 = r.overdue.iter().find(|o| o.vehicle == "v1").expect("v1 overdue");
    assert_eq!((v1.last_checkpoint.as_str(), v1.aboard, v1.lost), ("mid", 45, false));
    assert_eq!(op.views.convoy("k").unwrap().status, ConvoyStatus::Attacked);
}

#[test]
fn more_people_than_places_never_reconciles() {
    let mut op = Op::new();
    op.trip(10, "v1", 400, 50, 0); // a 50-seat bus: a typo for 40?
    op.trip(12, "v2", 20, 30, 0); // exactly full
    let r = op.views.reconcile(None);
    assert_eq!(r.discrepancies.len(), 1, "{:?}", r.discrepancies);
    assert_eq!(r.discrepancies[0].vehicle, "v1");
    assert!(r.discrepancies[0].what.contains("450 aboard a vehicle with 50 places"), "{}", r.discrepancies[0].what);
    assert_eq!(r.reconciled, 1);
}

/// Issue 20, item 5: sums of many maximal values do not wrap. A thousand
/// records at the model's largest count or tonnage sum exactly (1e10 people,
/// beyond u32) and finitely; a vehicle whose places overflow a u32 (the
/// view is handed events unchecked) saturates instead of panicking.
#[test]
fn sums_of_many_maximal_values_do_not_wrap() {
    let mut op = Op::new();
    op.push(0, Body::VehicleRegistered(Vehicle { vehicle: "huge".into(), kind: VehicleKind::Bus, seats: u32::MAX, stretchers: u32::MAX, operator: "x".into() }));
    assert_eq!(op.views.vehicle("huge").unwrap().capacity, u32::MAX);
    op.trip(10, "v1", MAX_PEOPLE / 2, MAX_PEOPLE / 2, MAX_PEOPLE);
    for i in 0..1000 {
        op.push(
            20,
            Body::AidDelivered(AidDelivery { delivery: format!("d{i}"), commodity: "food".into(), tonnes: MAX_TONNES, families: MAX_PEOPLE, people: MAX_PEOPLE, district: "x".into(), organisation: "o".into() }),
        );
        op.push(20, Body::Incident(Incident { incident: format!("i{i}"), kind: IncidentKind::Attack, corridor: None, convoy: None, site: None, vehicles: vec![], killed: MAX_PEOPLE, description: "shelling".into() }));
    }
    let f = op.views.figures();
    let n = 1000 * u64::from(MAX_PEOPLE);
    assert!(n > u64::from(u32::MAX));
    assert_eq!((f.recovery.aid_people, f.recovery.aid_families), (n, n));
    assert!(f.recovery.aid_tonnes.is_finite() && f.recovery.aid_tonnes == 1000.0 * MAX_TONNES, "{}", f.recovery.aid_tonnes);
    assert_eq!(f.incidents.iter().map(|i| u64::from(i.killed)).sum::<u64>(), n);
    assert_eq!((f.withdrawn.people, f.withdrawn.wounded), (u64::from(MAX_PEOPLE), u64::from(MAX_PEOPLE)));
}

/// Vehicles, convoys, discrepancies and overdue trips are listed in id
/// order (convoy, then vehicle; a trip's discrepancies in checkpoint
/// order), whatever order they were met in: the views keep them hashed.
#[test]
fn lists_are_in_id_order_whatever_the_order_met() {
    let mut op = Op::new();
    let ids: Vec<String> = (0..40).rev().map(|i| format!("w{:02}", (i * 7) % 40)).collect();
    for v in &ids {
        op.push(2, Body::VehicleRegistered(Vehicle { vehicle: v.clone(), kind: VehicleKind::Bus, seats: 50, stretchers: 0, operator: "x".into() }));
    }
    for (k, pair) in ids.chunks(2).enumerate() {
        op.push(3, Body::ConvoyDispatched(Convoy { convoy: format!("q{:02}", (k * 11) % 20), corridor: "c".into(), vehicles: pair.to_vec() }));
    }
    // Each pair: the first counted in with 3 women, then 4 at "mid" and 5
    // at "out" (two discrepancies, "mid" before "out"); the second left
    // inside after its count-in (overdue).
    for (k, pair) in ids.chunks(2).enumerate() {
        let convoy = format!("q{:02}", (k * 11) % 20);
        for (j, v) in pair.iter().enumerate() {
            let cps: &[(&str, u32)] = if j == 0 { &[("in", 3), ("mid", 4), ("out", 5)] } else { &[("in", 3)] };
            for &(cp, women) in cps {
                let counts = [("women".to_string(), women)].into_iter().collect();
                op.push(5, Body::Passage(Passage { vehicle: v.clone(), convoy: convoy.clone(), corridor: "c".into(), checkpoint: cp.into(), counts, wounded: 0 }));
            }
        }
    }
    op.push(500, Body::GroupsDefined(GroupsDefined::standard()));
    let r = op.views.reconcile(None);
    let order: Vec<(&str, &str, Option<&str>)> = r.discrepancies.iter().map(|d| (d.convoy.as_str(), d.vehicle.as_str(), d.checkpoint.as_deref())).collect();
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(order.len(), 40, "two per exited vehicle");
    assert_eq!(order, sorted, "by convoy, vehicle, then checkpoint (mid < out)");
    let overdue: Vec<(&str, &str)> = r.overdue.iter().map(|o| (o.convoy.as_str(), o.vehicle.as_str())).collect();
    assert_eq!(overdue.len(), 20);
    assert!(overdue.windows(2).all(|w| w[0] < w[1]), "{overdue:?}");
    let vehicles: Vec<&String> = op.views.vehicles().into_iter().map(|(id, _)| id).collect();
    assert_eq!(vehicles.len(), 43);
    assert!(vehicles.windows(2).all(|w| w[0] < w[1]));
    let convoys: Vec<&String> = op.views.convoys().into_iter().map(|(id, _)| id).collect();
    assert_eq!(convoys.len(), 21);
    assert!(convoys.windows(2).all(|w| w[0] < w[1]));
}
