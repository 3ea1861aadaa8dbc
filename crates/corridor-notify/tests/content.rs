//! Notice chains from a small hand-built log: an opening, a window moved,
//! a halt and a reopening, each referencing the one before; and the errors
//! a user meets (unknown corridor or window, a window in the past, a
//! template with a field the notice lacks).

mod common;

use chrono::{DateTime, Utc};
use corridor_model::{Body, Checkpoint, Corridor, CorridorRef, Event, GroupsDefined, Position, Site, SiteKind, TruceWindow};
use corridor_notify::content::{current, notices};
use corridor_notify::{Kind, Lang, NotifyError, Part, Renderer};

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn ev(id: &str, time: &str, body: Body) -> Event {
    Event::new(id, at(time), "hq", body)
}

fn window(id: &str, start: &str, end: &str) -> TruceWindow {
    TruceWindow { window: id.into(), corridors: vec!["c1".into()], start: at(start), end: at(end) }
}

/// Arabic names for some places; "1070 apartments" has none, so the
/// Arabic notice keeps the recorded name.
fn arabic(name: &str) -> Option<String> {
    match name {
        "Ramouseh bridge" => Some("جسر الراموسة".into()),
        "Rashidin-4 district" => Some("حي الراشدين الرابعة".into()),
        _ => None,
    }
}

/// The log, declared in Asia/Damascus.
fn log() -> Vec<Event> {
    common::declared("Asia/Damascus", undeclared())
}

fn undeclared() -> Vec<Event> {
    let site = |id: &str, name: &str, kind| Body::SiteDeclared(Site { site: id.into(), name: name.into(), name_ar: arabic(name), kind, position: Some(Position { lat: 36.2, lon: 37.1 }) });
    let cp = |id: &str, name: &str| Checkpoint { id: id.into(), name: name.into(), name_ar: arabic(name), position: None };
    vec![
        ev("groups", "2016-12-15T04:00:00Z", Body::GroupsDefined(GroupsDefined::standard())),
        ev("s-east", "2016-12-15T04:00:00Z", site("east", "Eastern Aleppo", SiteKind::Besieged)),
        ev("s-west", "2016-12-15T04:00:00Z", site("west", "Rashidin-4 district", SiteKind::Destination)),
        ev(
            "c1",
            "2016-12-15T04:00:00Z",
            Body::CorridorDeclared(Corridor {
                corridor: "c1".into(),
                name: "Ramouseh bridge to Rashidin-4".into(),
                name_ar: Some("جسر الراموسة إلى الراشدين الرابعة".into()),
                from: "east".into(),
                to: "west".into(),
                checkpoints: vec![cp("k1", "Ramouseh bridge"), cp("k2", "1070 apartments"), cp("k3", "Rashidin-4")],
                groups: vec!["women".into(), "children".into()],
                max_transit_minutes: 120,
            }),
        ),
        ev("w1", "2016-12-15T04:00:00Z", Body::TruceWindowDeclared(window("w15", "2016-12-15T05:00:00Z", "2016-12-15T17:00:00Z"))),
        ev("w2", "2016-12-15T04:00:00Z", Body::TruceWindowDeclared(window("w16", "2016-12-16T04:00:00Z", "2016-12-16T18:00:00Z"))),
        // The first window is extended by two hours.
        ev("w1x", "2016-12-15T12:00:00Z", Body::TruceWindowChanged(window("w15", "2016-12-15T05:00:00Z", "2016-12-15T19:00:00Z"))),
        // Closed at the window's end: routine, no notice.
        ev("close-w15", "2016-12-15T19:00:00Z", Body::CorridorClosed(CorridorRef { corridor: "c1".into(), reason: "window ends".into() })),
        // Halted during the second window, then reopened.
        ev("halt", "2016-12-16T09:00:00Z", Body::CorridorClosed(CorridorRef { corridor: "c1".into(), reason: "halted after shooting".into() })),
        ev("reopen", "2016-12-16T11:00:00Z", Body::CorridorOpened(CorridorRef { corridor: "c1".into(), reason: "resumed".into() })),
    ]
}

#[test]
fn chains_reference_the_notice_before() {
    let all = notices(&log(), at("2016-12-16T12:00:00Z"));
    let got: Vec<(&str, Kind, Option<&str>)> = all.iter().map(|n| (n.id.as_str(), n.kind, n.references.as_deref())).collect();
    // The first window has ended by then: only the second's chain remains.
    assert_eq!(
        got,
        vec![
            ("c1.w16.0", Kind::Opening, None),
            ("c1.w16.1", Kind::Closing, Some("c1.w16.0")),
            ("c1.w16.2", Kind::Change, Some("c1.w16.1")),
        ]
    );
    let early = notices(&log(), at("2016-12-15T13:00:00Z"));
    let w15: Vec<(&str, Kind, DateTime<Utc>)> = early.iter().filter(|n| n.window == "w15").map(|n| (n.id.as_str(), n.kind, n.end)).collect();
    assert_eq!(w15, vec![("c1.w15.0", Kind::Opening, at("2016-12-15T17:00:00Z")), ("c1.w15.1", Kind::Change, at("2016-12-15T19:00:00Z"))]);
    // Nothing is known before it is recorded.
    assert!(notices(&log(), at("2016-12-15T03:59:59Z")).is_empty());
}

#[test]
fn the_update_says_what_changed_and_what_it_replaces() {
    let r = Renderer::built_in();
    let n = current(&log(), at("2016-12-15T13:00:00Z"), None, Some("w15")).unwrap().remove(0);
    let en = r.render(&n, Lang::En, Part::Message).unwrap();
    // 05:00 to 19:00 UTC is 07:00 to 21:00 in Damascus (EET, UTC+2).
    assert!(en.starts_with("UPDATE to notice c1.w15.0: Corridor Ramouseh bridge to Rashidin-4 is open Thursday 15 December 2016 07:00 to 21:00 Damascus time (UTC+2)."), "{en}");
    assert!(en.contains("Enter at Ramouseh bridge, then 1070 apartments, to Rashidin-4 district."), "{en}");
    assert!(en.contains("For: women, children."), "{en}");
    let ar = r.render(&n, Lang::Ar, Part::Message).unwrap();
    assert!(ar.starts_with("تحديث للإشعار c1.w15.0:"), "{ar}");
    assert!(ar.contains("الساعة ٠٧:٠٠ حتى الساعة ٢١:٠٠ بتوقيت دمشق (غرينتش+٢)"), "{ar}");
    assert!(ar.contains("النساء، الأطفال"), "{ar}");
    assert!(ar.contains("ممر جسر الراموسة إلى الراشدين الرابعة مفتوح"), "{ar}");
    assert!(ar.contains("الدخول من جسر الراموسة، عبر 1070 apartments، إلى حي الراشدين الرابعة."), "{ar}");
    let halted = current(&log(), at("2016-12-16T10:00:00Z"), Some("c1"), None).unwrap().remove(0);
    assert_eq!(halted.kind, Kind::Closing);
    let en = r.render(&halted, Lang::En, Part::Message).unwrap();
    assert_eq!(en, "CLOSED: corridor Ramouseh bridge to Rashidin-4 is closed until further notice. Do not go to Ramouseh bridge. Notice c1.w16.0 no longer applies; wait for a new notice.");
}

#[test]
fn a_log_without_an_operation_gives_hours_in_utc() {
    let n = current(&undeclared(), at("2016-12-15T13:00:00Z"), None, Some("w15")).unwrap().remove(0);
    assert_eq!(n.zone, chrono_tz::Tz::UTC);
    let en = Renderer::built_in().render(&n, Lang::En, Part::Message).unwrap();
    assert!(en.contains("Thursday 15 December 2016 05:00 to 19:00 UTC (UTC+0)."), "{en}");
    assert!(!en.contains("Damascus"), "{en}");
}

#[test]
fn bad_requests_are_refused_with_what_to_do() {
    let e = current(&log(), at("2016-12-16T12:00:00Z"), Some("nowhere"), None).unwrap_err();
    assert!(matches!(e, NotifyError::UnknownCorridor(..)));
    assert_eq!(e.to_string(), "unknown corridor \"nowhere\": the ledger declares \"c1\"");
    let e = current(&log(), at("2016-12-16T12:00:00Z"), None, Some("w99")).unwrap_err();
    assert_eq!(e.to_string(), "unknown truce window \"w99\": the ledger declares \"w15\", \"w16\"");
    let e = current(&log(), at("2016-12-16T12:00:00Z"), None, Some("w15")).unwrap_err();
    assert!(e.to_string().starts_with("truce window \"w15\" ended at 2016-12-15T19:00:00+00:00 (before 2016-12-16T12:00:00+00:00): there is nothing to announce"), "{e}");
}

#[test]
fn a_template_with_a_missing_field_is_an_error_not_a_gap() {
    let dir = tempfile::tempdir().unwrap();
    for lang in ["ar", "en"] {
        for part in Part::ALL {
            let src = if part == Part::Message && lang == "en" { "Corridor {{ corridor_name }} opens at {{ opening_hour }}." } else { "{{ corridor_name }}" };
            std::fs::write(dir.path().join(format!("{}.{lang}.j2", part.name())), src).unwrap();
        }
    }
    let r = Renderer::from_dir(dir.path()).unwrap();
    let n = current(&log(), at("2016-12-16T12:00:00Z"), None, None).unwrap().remove(0);
    assert_eq!(r.render(&n, Lang::Ar, Part::Message).unwrap(), "جسر الراموسة إلى الراشدين الرابعة");
    let e = r.render(&n, Lang::En, Part::Message).unwrap_err().to_string();
    assert!(e.starts_with("template message.en.j2: line 1: undefined value"), "{e}");
    // A folder lacking a template is refused as a whole.
    std::fs::remove_file(dir.path().join("speech.ar.j2")).unwrap();
    let e = Renderer::from_dir(dir.path()).err().unwrap().to_string();
    assert!(e.contains("speech.ar.j2: cannot read it"), "{e}");
}

#[test]
fn every_built_in_template_renders_every_kind() {
    let r = Renderer::built_in();
    for t in ["2016-12-15T04:30:00Z", "2016-12-15T13:00:00Z", "2016-12-16T10:00:00Z", "2016-12-16T12:00:00Z"] {
        for n in notices(&log(), at(t)) {
            for lang in Lang::ALL {
                for part in Part::ALL {
                    let text = r.render(&n, lang, part).unwrap();
                    assert!(!text.is_empty() && !text.contains("{{"), "{} {lang:?} {part:?}: {text}", n.id);
                }
            }
        }
    }
}

fn kinds(events: &[Event], t: &str) -> Vec<(String, Kind)> {
    notices(events, at(t)).into_iter().map(|n| (n.id, n.kind)).collect()
}

#[test]
fn a_shortened_window_is_not_announced_with_its_old_hours() {
    let mut ev = undeclared();
    ev.truncate(6); // up to both windows' declarations
    ev.push(moved_w15("cut", "2016-12-15T10:00:00Z", "2016-12-15T05:00:00Z", "2016-12-15T15:00:00Z"));
    // At 16:00 the window has ended (at 15:00), though the opening said 17:00.
    assert!(kinds(&ev, "2016-12-15T16:00:00Z").iter().all(|(id, _)| !id.starts_with("c1.w15")), "{:?}", kinds(&ev, "2016-12-15T16:00:00Z"));
    assert!(current(&ev, at("2016-12-15T16:00:00Z"), None, Some("w15")).is_err());
}

fn moved_w15(id: &str, time: &str, start: &str, end: &str) -> Event {
    ev(id, time, Body::TruceWindowChanged(window("w15", start, end)))
}

#[test]
fn new_hours_do_not_reopen_a_halted_corridor_but_reopening_does() {
    let mut evs = undeclared();
    evs.truncate(6);
    // Halted during the first window: both windows' chains close.
    evs.push(ev("halt", "2016-12-15T08:00:00Z", Body::CorridorClosed(CorridorRef { corridor: "c1".into(), reason: "halted".into() })));
    evs.push(moved_w15("moved", "2016-12-15T09:00:00Z", "2016-12-15T05:00:00Z", "2016-12-15T20:00:00Z"));
    let k = kinds(&evs, "2016-12-15T09:30:00Z");
    assert_eq!(k.iter().filter(|(id, _)| id.starts_with("c1.w15")).last().unwrap().1, Kind::Closing, "{k:?}");
    assert_eq!(k.iter().filter(|(id, _)| id.starts_with("c1.w16")).last().unwrap().1, Kind::Closing, "{k:?}");
    // Reopened: every chain the halt closed gets a change.
    evs.push(ev("reopen", "2016-12-15T10:00:00Z", Body::CorridorOpened(CorridorRef { corridor: "c1".into(), reason: "resumed".into() })));
    let k = kinds(&evs, "2016-12-15T10:30:00Z");
    assert!(k.contains(&("c1.w15.2".into(), Kind::Change)) && k.contains(&("c1.w16.2".into(), Kind::Change)), "{k:?}");
}

#[test]
fn a_chain_starts_with_an_opening_whatever_starts_it() {
    // The window is declared before its corridor.
    let mut ev: Vec<Event> = undeclared().into_iter().filter(|e| e.id != "c1").collect();
    ev.truncate(5);
    let corridor = undeclared().into_iter().find(|e| e.id == "c1").unwrap();
    ev.push(Event { time: at("2016-12-15T04:30:00Z"), ..corridor });
    let k = kinds(&ev, "2016-12-15T04:45:00Z");
    assert_eq!(k, vec![("c1.w15.0".into(), Kind::Opening), ("c1.w16.0".into(), Kind::Opening)]);
    let r = Renderer::built_in();
    for n in notices(&ev, at("2016-12-15T04:45:00Z")) {
        assert!(!r.render(&n, Lang::En, Part::Message).unwrap().contains("none"));
    }
}

fn incident(id: &str, time: &str, kind: corridor_model::IncidentKind) -> Event {
    let i = corridor_model::Incident { incident: id.into(), kind, corridor: Some("c1".into()), convoy: None, site: None, vehicles: vec![], killed: 0, description: format!("{id} reported") };
    ev(id, time, Body::Incident(i))
}

fn hq(id: &str, time: &str, open: bool) -> Event {
    let r = CorridorRef { corridor: "c1".into(), reason: format!("{id} by hq") };
    ev(id, time, if open { Body::CorridorOpened(r) } else { Body::CorridorClosed(r) })
}

/// The second window's chain at `t`: (id, kind, cause, reason) of each notice.
fn w16(events: &[Event], t: &str) -> Vec<(String, Kind, String, String)> {
    notices(events, at(t)).into_iter().filter(|n| n.window == "w16").map(|n| (n.id, n.kind, n.cause, n.reason)).collect()
}

#[test]
fn a_halt_reported_alone_closes_the_corridor_and_only_its_resumption_reopens_it() {
    use corridor_model::IncidentKind::{Halt, Resumed};
    let mut evs = undeclared();
    evs.truncate(6);
    evs.push(hq("open", "2016-12-16T04:00:00Z", true));
    // A checkpoint reports a halt; hq records no closing. (The notices
    // used to go on saying the corridor was open.)
    evs.push(incident("halt", "2016-12-16T09:00:00Z", Halt));
    let closing = ("c1.w16.1".to_string(), Kind::Closing, "halt".to_string(), "halt reported".to_string());
    assert_eq!(w16(&evs, "2016-12-16T09:30:00Z")[1..], *std::slice::from_ref(&closing));
    // hq's opening does not end a halt (the notices used to announce the corridor open again).
    evs.push(hq("open-again", "2016-12-16T10:00:00Z", true));
    assert_eq!(w16(&evs, "2016-12-16T10:30:00Z")[1..], *std::slice::from_ref(&closing));
    // Its resumption does.
    evs.push(incident("resumed", "2016-12-16T11:00:00Z", Resumed));
    let change = ("c1.w16.2".to_string(), Kind::Change, "resumed".to_string(), "resumed reported".to_string());
    assert_eq!(w16(&evs, "2016-12-16T11:30:00Z")[1..], [closing, change]);
}

#[test]
fn a_halt_and_hqs_closing_at_one_instant_are_one_closing_naming_hqs() {
    use corridor_model::IncidentKind::{Halt, Resumed};
    let mut evs = undeclared();
    evs.truncate(6);
    evs.push(hq("open", "2016-12-16T04:00:00Z", true));
    // As the simulator records a halt: the incident, hq's closing, then the
    // convoys turned back, all at once.
    evs.push(incident("halt", "2016-12-16T09:00:00Z", Halt));
    evs.push(hq("close", "2016-12-16T09:00:00Z", false));
    evs.push(incident("turned-back", "2016-12-16T09:00:00Z", Halt));
    let closing = ("c1.w16.1".to_string(), Kind::Closing, "close".to_string(), "close by hq".to_string());
    assert_eq!(w16(&evs, "2016-12-16T09:30:00Z")[1..], *std::slice::from_ref(&closing));
    // Resumed but still closed by hq: nothing to announce; hq opens it: a change.
    evs.push(incident("resumed", "2016-12-16T10:00:00Z", Resumed));
    assert_eq!(w16(&evs, "2016-12-16T10:30:00Z")[1..], *std::slice::from_ref(&closing));
    evs.push(hq("reopen", "2016-12-16T11:00:00Z", true));
    let change = ("c1.w16.2".to_string(), Kind::Change, "reopen".to_string(), "reopen by hq".to_string());
    assert_eq!(w16(&evs, "2016-12-16T11:30:00Z")[1..], [closing, change]);
}

#[test]
fn the_kinds_names_are_their_json_names() {
    for k in [Kind::Opening, Kind::Change, Kind::Closing] {
        assert_eq!(serde_json::to_value(k).unwrap(), k.name());
    }
}
