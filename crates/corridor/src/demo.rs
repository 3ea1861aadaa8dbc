//! The reference case's stage 2 (eastern Aleppo, 15–22 December 2016) as a
//! generated event stream.
//!
//! Until the planner and simulator exist, this is how `corridor demo` makes
//! an operation: the corridor from the Ramouseh bridge to Rashidin-4 with six
//! checkpoints, ~300 buses and ~400 ambulances in waves of convoys, every
//! vehicle counted at every checkpoint, the halt of 17 December, the attack on
//! the Fu'ah/Kafarya convoy, the agreement of 20 December and the resumption.
//!
//! The published head counts are the generator's *input* (who must leave);
//! every figure `corridor demo` prints is computed back from the ledger. The
//! stream is deterministic: the same seed gives byte-identical events, so
//! running the demo twice appends nothing the second time.

use chrono::{DateTime, Duration, TimeZone, Utc};
use corridor_model::{
    Agreement, Body, Checkpoint, Convoy, ConvoyArrived, Corridor, CorridorRef, Counts, Event, GroupsDefined, Incident,
    IncidentKind, Passage, Position, Site, SiteKind, TruceWindow, Vehicle, VehicleKind,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Who must leave eastern Aleppo in stage 2 (book chapter, source 004).
pub const ARMED: u32 = 14_891;
pub const WOMEN: u32 = 7_606;
pub const CHILDREN: u32 = 8_787;
pub const WOUNDED: u32 = 701;
pub const BUSES: usize = 300;
pub const AMBULANCES: usize = 400;

pub const CORRIDOR: &str = "ramouseh-rashidin4";
const FK_CORRIDOR: &str = "fuah-kafarya-aleppo";
const BUS_SEATS: u32 = 50;
const BUSES_PER_WAVE: usize = 25;
const AMBULANCES_PER_WAVE: usize = 18;
/// Minutes between consecutive checkpoints of the 6 km corridor.
const LEG_MINUTES: i64 = 9;

fn t(day: u32, hour: u32, min: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2016, 12, day, hour, min, 0).single().expect("valid time")
}

/// Operating periods of the corridor (UTC): opened 15 December, halted on
/// the 17th, resumed after the agreement of the 20th, done on the 22nd.
fn periods() -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    vec![
        (t(15, 6, 0), t(15, 20, 0)),
        (t(16, 4, 0), t(16, 20, 0)),
        (t(17, 4, 0), t(17, 8, 0)),
        (t(20, 14, 0), t(20, 21, 0)),
        (t(21, 4, 0), t(21, 21, 0)),
        (t(22, 4, 0), t(22, 18, 0)),
    ]
}

/// Draws the groups of `n` people from the pool without replacement.
fn draw(pool: &mut [(String, u32)], n: u32, rng: &mut StdRng) -> Counts {
    let mut counts = Counts::new();
    for _ in 0..n {
        let left: u32 = pool.iter().map(|(_, k)| k).sum();
        if left == 0 {
            break;
        }
        let mut pick = rng.gen_range(0..left);
        for (g, k) in pool.iter_mut() {
            if pick < *k {
                *k -= 1;
                *counts.entry(g.clone()).or_default() += 1;
                break;
            }
            pick -= *k;
        }
    }
    counts
}

struct Load {
    vehicle: String,
    counts: Counts,
    wounded: u32,
}

/// The stage-2 event stream, in log order.
pub fn stage2_events(seed: u64) -> Vec<Event> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut out = Vec::new();
    let hq = |out: &mut Vec<Event>, id: String, time, body| out.push(Event::new(id, time, "hq", body));
    let t0 = t(15, 4, 0);

    hq(&mut out, "groups".into(), t0, Body::GroupsDefined(GroupsDefined::standard()));
    let site = |id: &str, name: &str, kind, lat, lon| {
        Body::SiteDeclared(Site { site: id.into(), name: name.into(), kind, position: Some(Position { lat, lon }) })
    };
    for (id, name, kind, lat, lon) in [
        ("east-aleppo", "Eastern Aleppo (besieged districts)", SiteKind::Besieged, 36.1900, 37.1800),
        ("rashidin-4", "Rashidin-4 district", SiteKind::Destination, 36.1650, 37.0850),
        ("idlib", "Idlib governorate", SiteKind::Destination, 35.9306, 36.6339),
        ("fuah-kafarya", "Fu'ah and Kafarya", SiteKind::Besieged, 35.9960, 36.6950),
        ("west-aleppo", "Western Aleppo", SiteKind::Destination, 36.2100, 37.1300),
    ] {
        hq(&mut out, format!("site-{id}"), t0, site(id, name, kind, lat, lon));
    }
    let cps = [
        ("cp1-ramouseh-bridge", "Ramouseh bridge (entry)", 36.1688, 37.1389),
        ("cp2-ramouseh-roundabout", "Ramouseh roundabout", 36.1672, 37.1290),
        ("cp3-1070-apartments", "1070 apartments", 36.1660, 37.1180),
        ("cp4-hamdaniyah-edge", "Hamdaniyah edge", 36.1655, 37.1080),
        ("cp5-rashidin-junction", "Rashidin junction", 36.1652, 37.0960),
        ("cp6-rashidin4", "Rashidin-4 (exit)", 36.1650, 37.0850),
    ];
    let all_groups: Vec<String> = GroupsDefined::standard().groups.into_iter().map(|g| g.id).collect();
    hq(
        &mut out,
        format!("corridor-{CORRIDOR}"),
        t0,
        Body::CorridorDeclared(Corridor {
            corridor: CORRIDOR.into(),
            name: "Ramouseh bridge to Rashidin-4".into(),
            from: "east-aleppo".into(),
            to: "rashidin-4".into(),
            checkpoints: cps
                .iter()
                .map(|&(id, name, lat, lon)| Checkpoint { id: id.into(), name: name.into(), position: Some(Position { lat, lon }) })
                .collect(),
            groups: all_groups.clone(),
            max_transit_minutes: 120,
        }),
    );
    hq(
        &mut out,
        format!("corridor-{FK_CORRIDOR}"),
        t0,
        Body::CorridorDeclared(Corridor {
            corridor: FK_CORRIDOR.into(),
            name: "Fu'ah/Kafarya to Aleppo".into(),
            from: "fuah-kafarya".into(),
            to: "west-aleppo".into(),
            checkpoints: vec![
                Checkpoint { id: "fk-entry".into(), name: "Fu'ah (entry)".into(), position: None },
                Checkpoint { id: "fk-exit".into(), name: "Ramouseh (exit)".into(), position: None },
            ],
            groups: all_groups,
            max_transit_minutes: 360,
        }),
    );
    hq(
        &mut out,
        "window-1".into(),
        t0,
        Body::TruceWindowDeclared(TruceWindow {
            window: "window-1".into(),
            corridors: vec![CORRIDOR.into()],
            start: t(15, 5, 0),
            end: t(17, 22, 0),
        }),
    );
    for i in 1..=BUSES {
        let v = Vehicle { vehicle: format!("bus-{i:03}"), kind: VehicleKind::Bus, seats: BUS_SEATS, stretchers: 0, operator: "SARC".into() };
        hq(&mut out, format!("vehicle-{}", v.vehicle), t0, Body::VehicleRegistered(v));
    }
    for i in 1..=AMBULANCES {
        let operator = if i % 2 == 0 { "ICRC" } else { "SARC" };
        let v = Vehicle { vehicle: format!("amb-{i:03}"), kind: VehicleKind::Ambulance, seats: 2, stretchers: 2, operator: operator.into() };
        hq(&mut out, format!("vehicle-{}", v.vehicle), t0, Body::VehicleRegistered(v));
    }
    for i in 1..=50 {
        let v = Vehicle { vehicle: format!("fk-bus-{i:02}"), kind: VehicleKind::Bus, seats: BUS_SEATS, stretchers: 0, operator: "SARC".into() };
        hq(&mut out, format!("vehicle-{}", v.vehicle), t0, Body::VehicleRegistered(v));
    }
    hq(&mut out, "open-1".into(), t(15, 5, 0), Body::CorridorOpened(CorridorRef { corridor: CORRIDOR.into(), reason: "suspension of hostilities".into() }));

    // Who must leave: ambulances carry every wounded person (1–2 on
    // stretchers, with up to 2 companions); buses carry everyone else.
    let mut pool: Vec<(String, u32)> = vec![("armed".into(), ARMED), ("women".into(), WOMEN), ("children".into(), CHILDREN)];
    let mut amb_loads = Vec::new();
    let mut wounded_left = WOUNDED;
    let mut a = 0usize;
    while wounded_left > 0 {
        let w = rng.gen_range(1..=2).min(wounded_left);
        wounded_left -= w;
        let companions = rng.gen_range(0..=2);
        let counts = draw(&mut pool, w + companions, &mut rng);
        amb_loads.push(Load { vehicle: format!("amb-{:03}", a % AMBULANCES + 1), counts, wounded: w });
        a += 1;
    }
    let mut bus_loads = Vec::new();
    let mut b = 0usize;
    while pool.iter().any(|(_, k)| *k > 0) {
        let n = rng.gen_range(38..=BUS_SEATS);
        bus_loads.push(Load { vehicle: format!("bus-{:03}", b % BUSES + 1), counts: draw(&mut pool, n, &mut rng), wounded: 0 });
        b += 1;
    }

    // Waves of convoys, spread evenly over the operating periods.
    let waves = bus_loads.len().div_ceil(BUSES_PER_WAVE).max(amb_loads.len().div_ceil(AMBULANCES_PER_WAVE));
    let total_minutes: i64 = periods().iter().map(|(a, b)| (*b - *a).num_minutes()).sum();
    let step = total_minutes / waves as i64;
    let mut slot_starts = Vec::new();
    let mut carry = 0i64;
    for (a, b) in periods() {
        let mut m = carry;
        while m < (b - a).num_minutes() && slot_starts.len() < waves {
            slot_starts.push(a + Duration::minutes(m));
            m += step;
        }
        carry = 0;
    }
    while slot_starts.len() < waves {
        let last = *slot_starts.last().expect("at least one slot");
        slot_starts.push(last + Duration::minutes(step));
    }

    let mut timeline: Vec<Event> = Vec::new();
    let mut buses = bus_loads.into_iter();
    let mut ambs = amb_loads.into_iter();
    for (w, start) in slot_starts.into_iter().enumerate() {
        let convoy = format!("convoy-{:03}", w + 1);
        let loads: Vec<Load> = buses.by_ref().take(BUSES_PER_WAVE).chain(ambs.by_ref().take(AMBULANCES_PER_WAVE)).collect();
        if loads.is_empty() {
            break;
        }
        timeline.push(Event::new(
            format!("dispatch-{convoy}"),
            start,
            "hq",
            Body::ConvoyDispatched(Convoy {
                convoy: convoy.clone(),
                corridor: CORRIDOR.into(),
                vehicles: loads.iter().map(|l| l.vehicle.clone()).collect(),
            }),
        ));
        let entry = start + Duration::minutes(30);
        let mut last = entry;
        for (k, load) in loads.iter().enumerate() {
            let mut at = entry + Duration::seconds(40 * k as i64);
            for (c, &(cp, _, _, _)) in cps.iter().enumerate() {
                if c > 0 {
                    at += Duration::minutes(LEG_MINUTES) + Duration::seconds(rng.gen_range(0..120));
                }
                timeline.push(Event::new(
                    format!("passage-{convoy}-{}-{}", load.vehicle, c + 1),
                    at,
                    cp,
                    Body::Passage(Passage {
                        vehicle: load.vehicle.clone(),
                        convoy: convoy.clone(),
                        corridor: CORRIDOR.into(),
                        checkpoint: cp.into(),
                        counts: load.counts.clone(),
                        wounded: load.wounded,
                    }),
                ));
            }
            last = last.max(at);
        }
        timeline.push(Event::new(
            format!("arrived-{convoy}"),
            last + Duration::minutes(5),
            "hq",
            Body::ConvoyArrived(ConvoyArrived { convoy, site: "rashidin-4".into() }),
        ));
    }

    // The halt, the attack on the linked sites' convoy, the agreement.
    let incident = |id: &str, kind, corridor: Option<&str>, convoy: Option<&str>, vehicles: Vec<String>, killed, text: &str| Body::Incident(Incident {
        incident: id.into(),
        kind,
        corridor: corridor.map(Into::into),
        convoy: convoy.map(Into::into),
        site: None,
        vehicles,
        killed,
        description: text.into(),
    });
    let halt = t(17, 8, 0) + Duration::minutes(59);
    timeline.push(Event::new("incident-halt", halt, "hq", incident("halt-17dec", IncidentKind::Halt, Some(CORRIDOR), None, vec![], 0,
        "evacuation halted: an armed group demands a parallel evacuation of Fu'ah and Kafarya")));
    timeline.push(Event::new("close-1", halt, "hq", Body::CorridorClosed(CorridorRef { corridor: CORRIDOR.into(), reason: "halt".into() })));
    timeline.push(Event::new("window-1-cut", halt, "hq", Body::TruceWindowChanged(TruceWindow {
        window: "window-1".into(), corridors: vec![CORRIDOR.into()], start: t(15, 5, 0), end: halt,
    })));
    let fk_buses: Vec<String> = (1..=50).map(|i| format!("fk-bus-{i:02}")).collect();
    timeline.push(Event::new("dispatch-fk-convoy-1", t(18, 9, 0), "hq", Body::ConvoyDispatched(Convoy {
        convoy: "fk-convoy-1".into(), corridor: FK_CORRIDOR.into(), vehicles: fk_buses.clone(),
    })));
    timeline.push(Event::new("incident-fk-attack", t(18, 13, 30), "hq", incident("fk-attack", IncidentKind::Attack, Some(FK_CORRIDOR), Some("fk-convoy-1"),
        fk_buses[..20].to_vec(), 2, "convoy of 50 buses attacked on its way to Fu'ah/Kafarya: 20 buses burned, 2 drivers killed")));
    timeline.push(Event::new("agreement-20dec", t(20, 10, 0), "hq", Body::Agreement(Agreement {
        agreement: "agreement-20dec".into(),
        sites: vec!["east-aleppo".into(), "fuah-kafarya".into()],
        terms: "the evacuation of eastern Aleppo continues together with the evacuation of Fu'ah and Kafarya".into(),
    })));
    timeline.push(Event::new("window-2", t(20, 12, 0), "hq", Body::TruceWindowDeclared(TruceWindow {
        window: "window-2".into(), corridors: vec![CORRIDOR.into(), FK_CORRIDOR.into()], start: t(20, 13, 0), end: t(22, 22, 0),
    })));
    timeline.push(Event::new("incident-resumed", t(20, 13, 0), "hq", incident("resumed-20dec", IncidentKind::Resumed, Some(CORRIDOR), None, vec![], 0,
        "evacuation resumes under the agreement of 20 December")));
    timeline.push(Event::new("open-2", t(20, 13, 0), "hq", Body::CorridorOpened(CorridorRef { corridor: CORRIDOR.into(), reason: "agreement of 20 December".into() })));
    timeline.push(Event::new("close-2", t(22, 22, 0), "hq", Body::CorridorClosed(CorridorRef { corridor: CORRIDOR.into(), reason: "evacuation complete".into() })));

    // Log order is time order; the sort is stable, so declarations made at
    // the same instant stay before what refers to them.
    timeline.sort_by_key(|e| e.time);
    out.extend(timeline);
    out
}
