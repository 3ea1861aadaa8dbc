//! Notices give hours in the time zone the log's `operation_declared`
//! names, not in a zone built into the crate: a Monaco operation's window
//! of 07:00–15:00 UTC on 4 December 2026 reads 08:00–16:00, UTC+1 (CET), in
//! the SMS text, the leaflet, the loudspeaker script and the CAP alert; in
//! July the same hours are UTC+2 (CEST).

mod common;

use chrono::{DateTime, Utc};
use corridor_model::{Body, Checkpoint, Corridor, Event, GroupsDefined, Position, Site, SiteKind, TruceWindow};
use corridor_notify::cap::{self, CapOptions};
use corridor_notify::{content, leaflet, speech, Lang, NoticeSpec, Part, Renderer};

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

/// A small Monaco operation: Fontvieille to the Larvotto beach through two
/// checkpoints, open `start`–`end`, declared in `zone`.
fn monaco(zone: &str, start: &str, end: &str) -> Vec<Event> {
    let t = "2026-06-01T06:00:00Z";
    let ev = |id: &str, body| Event::new(id, at(t), "hq", body);
    let pos = |lat, lon| Some(Position { lat, lon });
    let site = |id: &str, name: &str, kind, p| Body::SiteDeclared(Site { site: id.into(), name: name.into(), name_ar: None, kind, position: p });
    let events = vec![
        ev("groups", Body::GroupsDefined(GroupsDefined::standard())),
        ev("s-fontvieille", site("fontvieille", "Fontvieille", SiteKind::Besieged, pos(43.7305, 7.4170))),
        ev("s-larvotto", site("larvotto", "Larvotto beach", SiteKind::Destination, pos(43.7465, 7.4350))),
        ev(
            "c-coast",
            Body::CorridorDeclared(Corridor {
                corridor: "coast".into(),
                name: "Fontvieille to Larvotto".into(),
                name_ar: None,
                from: "fontvieille".into(),
                to: "larvotto".into(),
                checkpoints: vec![
                    Checkpoint { id: "port".into(), name: "Port Hercule".into(), name_ar: None, position: pos(43.7347, 7.4206) },
                    Checkpoint { id: "casino".into(), name: "Casino square".into(), name_ar: None, position: pos(43.7396, 7.4276) },
                ],
                groups: vec!["women".into(), "children".into()],
                max_transit_minutes: 60,
            }),
        ),
        ev("w-1", Body::TruceWindowDeclared(TruceWindow { window: "w1".into(), corridors: vec!["coast".into()], start: at(start), end: at(end) })),
    ];
    common::declared(zone, events)
}

fn notice(events: &[Event], start: &str) -> NoticeSpec {
    let at = at(start) - chrono::Duration::hours(1);
    content::current(events, at, Some("coast"), None).unwrap().remove(0)
}

#[test]
fn a_monaco_window_reads_in_monaco_time_everywhere() {
    let events = monaco("Europe/Monaco", "2026-12-04T07:00:00Z", "2026-12-04T15:00:00Z");
    let n = notice(&events, "2026-12-04T07:00:00Z");
    assert_eq!(n.zone, chrono_tz::Europe::Monaco);
    let r = Renderer::built_in();

    // SMS: the message part.
    let en = r.render(&n, Lang::En, Part::Message).unwrap();
    assert!(en.contains("Corridor Fontvieille to Larvotto is open Friday 4 December 2026 08:00 to 16:00 Monaco time (UTC+1)."), "{en}");
    let ar = r.render(&n, Lang::Ar, Part::Message).unwrap();
    assert!(ar.contains("الساعة ٠٨:٠٠ حتى الساعة ١٦:٠٠ بتوقيت موناكو (غرينتش+١)"), "{ar}");
    for text in [&en, &ar] {
        assert!(!text.contains("Damascus") && !text.contains("دمشق"), "{text}");
    }
    assert!(r.render(&n, Lang::En, Part::Instruction).unwrap().contains("Hours are Monaco time (UTC+1)."));

    // Leaflet: the same hours and offset on the page.
    let page = leaflet::html(&n, &r, None).unwrap();
    assert!(page.contains("08:00 to 16:00 Monaco time (UTC+1)"), "leaflet page lacks the Monaco hours");
    assert!(page.contains("٠٨:٠٠") && page.contains("١٦:٠٠"));
    assert!(!page.contains("Damascus") && !page.contains("10:00"));

    // Loudspeaker.
    let script = speech::script(&n, &r, Lang::En).unwrap();
    assert!(script.contains("from 08:00 until 16:00, Monaco time."), "{script}");

    // CAP: sent, onset and expires carry Monaco's offset.
    let xml = cap::alert(&n, &r, &CapOptions::default()).unwrap();
    assert!(xml.contains("<cap:sent>2026-06-01T08:00:00+02:00</cap:sent>"), "{xml}");
    assert!(xml.contains("<cap:onset>2026-12-04T08:00:00+01:00</cap:onset>"), "{xml}");
    assert!(xml.contains("<cap:expires>2026-12-04T16:00:00+01:00</cap:expires>"), "{xml}");
    assert!(!xml.contains("+03:00") && !xml.contains("Z</cap:"), "{xml}");
}

#[test]
fn summer_time_follows_the_tz_database() {
    let events = monaco("Europe/Monaco", "2026-07-10T07:00:00Z", "2026-07-10T15:00:00Z");
    let n = notice(&events, "2026-07-10T07:00:00Z");
    let en = Renderer::built_in().render(&n, Lang::En, Part::Message).unwrap();
    assert!(en.contains("Friday 10 July 2026 09:00 to 17:00 Monaco time (UTC+2)."), "{en}");
}

#[test]
fn the_same_window_in_another_zone_reads_in_that_zone() {
    // The declaration, not the map or the places, decides the zone.
    let events = monaco("Asia/Damascus", "2026-12-04T07:00:00Z", "2026-12-04T15:00:00Z");
    let n = notice(&events, "2026-12-04T07:00:00Z");
    let en = Renderer::built_in().render(&n, Lang::En, Part::Message).unwrap();
    assert!(en.contains("10:00 to 18:00 Damascus time (UTC+3)."), "{en}");
}
