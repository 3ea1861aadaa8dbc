//! One example event of every kind, from a small operation on the Monaco
//! map (an evacuation drill from La Condamine to the Fontvieille stadium):
//! the examples of the event reference (`docs/events.md`) and of
//! `/openapi.json`.

use chrono::{DateTime, NaiveDate, Utc};

use crate::*;

/// The destination site the examples' corridor leads to. [`examples`]
/// holds one event of each kind, so its one `site_declared` is the
/// corridor's start; declare this one too to apply the examples as a log.
pub fn example_destination() -> Event {
    Event::new(
        "hq-site-stade-louis-ii",
        at("2026-03-14T05:31:00Z"),
        "hq",
        Body::SiteDeclared(Site {
            site: "stade-louis-ii".into(),
            name: "Stade Louis II, Fontvieille".into(),
            name_ar: None,
            kind: SiteKind::Destination,
            position: Some(Position { lat: 43.7275, lon: 7.4154 }),
        }),
    )
}

fn at(t: &str) -> DateTime<Utc> {
    t.parse().expect("an example time parses")
}

/// One realistic event of every [`Body`] kind, in an order a log could
/// hold them (after [`example_destination`], which the corridor needs).
pub fn examples() -> Vec<Event> {
    let corridor = "condamine-fontvieille";
    let hq = |id: &str, time: &str, body: Body| Event::new(id, at(time), "hq", body);
    let passage = Passage {
        vehicle: "bus-07".into(),
        convoy: "convoy-01".into(),
        corridor: corridor.into(),
        checkpoint: "cp-port".into(),
        counts: [("children", 19), ("elderly", 6), ("men", 9), ("women", 14)].into_iter().map(|(g, n)| (g.to_string(), n)).collect(),
        wounded: 1,
    };
    let mut corrected = passage.clone();
    corrected.counts.insert("children".into(), 21);
    vec![
        hq(
            "hq-operation",
            "2026-03-14T05:00:00Z",
            Body::OperationDeclared(Operation {
                operation: "monaco-drill-2026".into(),
                name: "Monaco evacuation drill, March 2026".into(),
                timezone: "Europe/Monaco".into(),
                languages: vec!["en".into()],
                map: MapRef {
                    name: "monaco.osm.pbf".into(),
                    attribution: "© OpenStreetMap contributors (ODbL 1.0)".into(),
                    sha256: "5f2c1a7be0d94c3e8a61b27f4d0c9e13a8b6f5d2c7e4019b3a5d8f6e2c1b7a94".into(),
                },
            }),
        ),
        hq(
            "hq-groups",
            "2026-03-14T05:05:00Z",
            Body::GroupsDefined(GroupsDefined {
                groups: vec![
                    Group { id: "women".into(), label: "women".into() },
                    Group { id: "children".into(), label: "children (under 18)".into() },
                    Group { id: "men".into(), label: "men".into() },
                    Group { id: "elderly".into(), label: "elderly (70 and over)".into() },
                ],
            }),
        ),
        hq(
            "hq-district-fontvieille",
            "2026-03-14T05:10:00Z",
            Body::DistrictDeclared(District {
                district: "fontvieille".into(),
                name: "Fontvieille".into(),
                name_ar: String::new(),
                position: Position { lat: 43.7284, lon: 7.4167 },
                hectares: 32.9,
            }),
        ),
        hq(
            "hq-site-la-condamine",
            "2026-03-14T05:30:00Z",
            Body::SiteDeclared(Site {
                site: "la-condamine".into(),
                name: "La Condamine".into(),
                name_ar: None,
                kind: SiteKind::Besieged,
                position: Some(Position { lat: 43.7350, lon: 7.4195 }),
            }),
        ),
        hq(
            "hq-corridor",
            "2026-03-14T05:40:00Z",
            Body::CorridorDeclared(Corridor {
                corridor: corridor.into(),
                name: "La Condamine to Fontvieille".into(),
                name_ar: None,
                from: "la-condamine".into(),
                to: "stade-louis-ii".into(),
                checkpoints: vec![
                    Checkpoint { id: "cp-port".into(), name: "Port Hercule".into(), name_ar: None, position: Some(Position { lat: 43.7337, lon: 7.4213 }) },
                    Checkpoint { id: "cp-rocher".into(), name: "Avenue de la Quarantaine".into(), name_ar: None, position: Some(Position { lat: 43.7303, lon: 7.4215 }) },
                    Checkpoint { id: "cp-stade".into(), name: "Stade Louis II".into(), name_ar: None, position: Some(Position { lat: 43.7279, lon: 7.4160 }) },
                ],
                groups: vec!["women".into(), "children".into(), "men".into(), "elderly".into()],
                max_transit_minutes: 45,
            }),
        ),
        hq(
            "hq-window-1",
            "2026-03-14T05:45:00Z",
            Body::TruceWindowDeclared(TruceWindow {
                window: "w1".into(),
                corridors: vec![corridor.into()],
                start: at("2026-03-14T07:00:00Z"),
                end: at("2026-03-14T15:00:00Z"),
            }),
        ),
        hq(
            "hq-window-1-extended",
            "2026-03-14T06:30:00Z",
            Body::TruceWindowChanged(TruceWindow {
                window: "w1".into(),
                corridors: vec![corridor.into()],
                start: at("2026-03-14T07:00:00Z"),
                end: at("2026-03-14T17:00:00Z"),
            }),
        ),
        hq(
            "hq-bus-07",
            "2026-03-14T06:35:00Z",
            Body::VehicleRegistered(Vehicle { vehicle: "bus-07".into(), kind: VehicleKind::Bus, seats: 50, stretchers: 0, operator: "Compagnie des Autobus de Monaco".into() }),
        ),
        hq(
            "hq-notice-w1-sms-en",
            "2026-03-14T06:40:00Z",
            Body::NoticeIssued(Notice {
                notice: "w1-sms-en".into(),
                channel: Channel::Sms,
                language: "en".into(),
                corridor: Some(corridor.into()),
                window: Some("w1".into()),
                references: None,
                recipients: 5200,
                recipients_hmac: Some("0b9d4e7c2a61f8359ce2d0a4b7f1863e5c29a0d7e4b8f16c3a5e9d2074b1c8f6".into()),
                content_sha256: "c4e81f0a9b2d735e6f18a0c4d9b3e7265a1f0c8d4e9b2a73f5c6d1e80b4a9f27".into(),
            }),
        ),
        hq("hq-open", "2026-03-14T07:00:00Z", Body::CorridorOpened(CorridorRef { corridor: corridor.into(), reason: "truce window w1 began".into() })),
        hq(
            "hq-convoy-01",
            "2026-03-14T07:20:00Z",
            Body::ConvoyDispatched(Convoy { convoy: "convoy-01".into(), corridor: corridor.into(), vehicles: vec!["bus-07".into()] }),
        ),
        Event::new("cp-port-2026-03-14-bus-07", at("2026-03-14T07:41:00Z"), "cp-port", Body::Passage(passage)),
        hq(
            "hq-correct-cp-port-bus-07",
            "2026-03-14T08:05:00Z",
            Body::EntryCorrected(Correction {
                corrects: "cp-port-2026-03-14-bus-07".into(),
                reason: "children miscounted at the port: 21, not 19 (recount at cp-rocher)".into(),
                time: None,
                body: Some(Box::new(Body::Passage(corrected))),
                void: false,
            }),
        ),
        hq("hq-convoy-01-arrived", "2026-03-14T08:12:00Z", Body::ConvoyArrived(ConvoyArrived { convoy: "convoy-01".into(), site: "stade-louis-ii".into() })),
        hq(
            "hq-incident-rockfall",
            "2026-03-14T09:50:00Z",
            Body::Incident(Incident {
                incident: "rockfall-basse-corniche".into(),
                kind: IncidentKind::RoadClosed,
                corridor: Some(corridor.into()),
                convoy: None,
                site: None,
                vehicles: vec![],
                killed: 0,
                description: "Rockfall on the Avenue de la Quarantaine: convoys held at the port until the road is cleared".into(),
            }),
        ),
        hq("hq-close", "2026-03-14T17:00:00Z", Body::CorridorClosed(CorridorRef { corridor: corridor.into(), reason: "truce window w1 ended".into() })),
        hq(
            "hq-agreement-day-2",
            "2026-03-14T18:00:00Z",
            Body::Agreement(Agreement {
                agreement: "day-2".into(),
                sites: vec!["la-condamine".into(), "stade-louis-ii".into()],
                terms: "The evacuation of La Condamine continues on 15 March, 07:00 to 15:00 UTC, through the same corridor".into(),
            }),
        ),
        hq(
            "hq-aid-water-fontvieille",
            "2026-03-14T19:00:00Z",
            Body::AidDelivered(AidDelivery {
                delivery: "water-fontvieille-1".into(),
                commodity: "bottled drinking water".into(),
                tonnes: 12.5,
                families: 140,
                people: 520,
                district: "fontvieille".into(),
                organisation: "Croix-Rouge monégasque".into(),
            }),
        ),
        hq(
            "hq-airdrop-heliport",
            "2026-03-14T19:30:00Z",
            Body::Airdrop(Airdrop {
                airdrop: "heliport-medical-1".into(),
                position: Position { lat: 43.7258, lon: 7.4196 },
                contents: "medical supplies (trauma kits)".into(),
                tonnes: 0.8,
                recovered: true,
            }),
        ),
        hq(
            "hq-hazard-uxo",
            "2026-03-15T08:00:00Z",
            Body::HazardDeclared(Hazard {
                hazard: "uxo-fontvieille".into(),
                kind: HazardKind::SuspectedMined,
                status: HazardStatus::Suspected,
                ring: vec![[7.4150, 43.7290], [7.4165, 43.7290], [7.4165, 43.7300], [7.4150, 43.7300], [7.4150, 43.7290]],
                district: "fontvieille".into(),
            }),
        ),
        hq(
            "hq-hazard-uxo-in-clearance",
            "2026-03-15T09:00:00Z",
            Body::HazardStatusChanged(HazardStatusChange { hazard: "uxo-fontvieille".into(), status: HazardStatus::InClearance }),
        ),
        hq(
            "hq-claim-press",
            "2026-03-15T10:00:00Z",
            Body::ClaimRecorded(Claim {
                claim: "press-2026-03-15".into(),
                source: "a local daily".into(),
                date: NaiveDate::from_ymd_opt(2026, 3, 15).expect("a date"),
                text: "About 50 residents of La Condamine were taken to Fontvieille on Saturday".into(),
                figure: 50.0,
                measure: "withdrawn".into(),
            }),
        ),
        hq(
            "hq-clearance-uxo",
            "2026-03-15T16:00:00Z",
            Body::ClearanceRecorded(Clearance {
                record: "clearance-uxo-1".into(),
                hazard: Some("uxo-fontvieille".into()),
                district: "fontvieille".into(),
                hectares: 1.2,
                road_km: 0.4,
                buildings: 3,
                team: "Sapeurs-pompiers de Monaco, EOD team 1".into(),
                completes: true,
            }),
        ),
        hq(
            "hq-damage-fontvieille",
            "2026-03-16T10:00:00Z",
            Body::DamageAssessed(DamageAssessment {
                assessment: "damage-fontvieille-1".into(),
                district: "fontvieille".into(),
                source: "drone survey of 15 March 2026 by the city's planning department".into(),
                destroyed: 0,
                severe: 2,
                moderate: 7,
                other: 15,
            }),
        ),
        hq(
            "hq-return-fontvieille",
            "2026-03-17T12:00:00Z",
            Body::ReturnRecorded(Return { record: "return-fontvieille-1".into(), district: "fontvieille".into(), families: 130, people: 480 }),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::parse::parse_leaf;

    #[test]
    fn every_example_checks_and_round_trips() {
        for e in examples().iter().chain([&example_destination()]) {
            e.check().unwrap_or_else(|err| panic!("example {} ({}) fails its check: {err}", e.id, e.body.kind()));
            let bytes = e.canonical_bytes();
            assert_eq!(&parse_leaf(&bytes).unwrap_or_else(|err| panic!("example {}: {err}", e.id)), e);
            let batch = crate::parse::parse_batch(std::str::from_utf8(&bytes).unwrap()).unwrap();
            assert_eq!(&batch[0], e);
        }
    }

    #[test]
    fn examples_form_a_log_the_registry_accepts() {
        let mut log = examples();
        let corridor_at = log.iter().position(|e| e.body.kind() == "corridor_declared").unwrap();
        log.insert(corridor_at, example_destination());
        let mut r = Registry::new();
        for e in &log {
            r.apply(e).unwrap_or_else(|err| panic!("example {} ({}) is refused after the ones before it: {err}", e.id, e.body.kind()));
        }
        let mut ids = BTreeSet::new();
        assert!(log.iter().all(|e| ids.insert(&e.id)), "example ids are unique");
    }

    #[test]
    fn every_kind_has_exactly_one_example() {
        // The kinds as the schema (derived from `Body`) has them: a new
        // variant appears here without anyone listing it.
        let schemas = crate::reference::schemas_json();
        let from_schema: BTreeSet<String> = schemas["Body"]["oneOf"]
            .as_array()
            .expect("Body is a oneOf")
            .iter()
            .map(|v| v["required"][0].as_str().expect("each variant names its kind").to_string())
            .collect();
        assert!(from_schema.len() >= 25, "{from_schema:?}");
        let kinds: Vec<&str> = examples().iter().map(|e| e.body.kind()).collect();
        let unique: BTreeSet<String> = kinds.iter().map(|k| k.to_string()).collect();
        assert_eq!(unique.len(), kinds.len(), "one example per kind: {kinds:?}");
        let missing: Vec<&String> = from_schema.difference(&unique).collect();
        assert!(missing.is_empty(), "no example for {missing:?}: add one to corridor_model::examples()");
        assert_eq!(from_schema, unique);
    }
}
