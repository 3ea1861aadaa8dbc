//! Notices for the bundled reference scenario, from its simulated log:
//! what residents would have been told, and when.

mod common;

use chrono::{DateTime, Utc};
use corridor_aleppo as aleppo;
use corridor_geo::{PreparedNetwork, Router};
use corridor_model::Event;
use corridor_notify::{content, Kind, Lang, Part, Renderer};
use corridor_plan::scenario::{Scenario, ALEPPO_2016};

fn events() -> Vec<Event> {
    let sc = Scenario::parse(ALEPPO_2016, "aleppo-2016.toml").unwrap();
    let router = Router::new(PreparedNetwork::prepare(aleppo::builtin_network().unwrap()));
    common::declared("Asia/Damascus", corridor_plan::sim::simulate(&sc, &router).unwrap().events)
}

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn chain(ev: &[Event], t: &str) -> Vec<(String, Kind, Option<String>)> {
    content::notices(ev, at(t)).into_iter().map(|n| (n.id, n.kind, n.references)).collect()
}

#[test]
fn the_reference_log_calls_for_the_notices_residents_needed() {
    let ev = events();
    let o = |id: &str| (id.to_string(), Kind::Opening, None);
    // At the start: the three Aleppo windows and the Fu'ah/Kafarya one.
    assert_eq!(
        chain(&ev, "2016-12-15T04:30:00Z"),
        vec![o("fuah-kafarya-aleppo.window-fk-18dec.0"), o("ramouseh-rashidin4.window-15dec.0"), o("ramouseh-rashidin4.window-16dec.0"), o("ramouseh-rashidin4.window-17dec.0")]
    );
    // The halt of 17 December closes the Aleppo corridor's window that day.
    let halted = chain(&ev, "2016-12-17T12:00:00Z");
    assert!(halted.contains(&("ramouseh-rashidin4.window-17dec.1".into(), Kind::Closing, Some("ramouseh-rashidin4.window-17dec.0".into()))), "{halted:?}");
    // The attack on the Fu'ah/Kafarya convoy closes that corridor's window.
    let attacked = chain(&ev, "2016-12-18T16:00:00Z");
    assert!(attacked.contains(&("fuah-kafarya-aleppo.window-fk-18dec.1".into(), Kind::Closing, Some("fuah-kafarya-aleppo.window-fk-18dec.0".into()))), "{attacked:?}");
    // The agreement of 20 December announces both evacuations' new windows.
    let resumed = chain(&ev, "2016-12-20T11:00:00Z");
    for c in ["fuah-kafarya-aleppo", "ramouseh-rashidin4"] {
        for w in ["20dec", "21dec", "22dec"] {
            assert!(resumed.contains(&o(&format!("{c}.window-{w}.0"))), "{c} {w}: {resumed:?}");
        }
    }
    // Nothing is left to announce once the last window has ended.
    assert!(content::notices(&ev, at("2016-12-22T20:00:00Z")).is_empty());
}

#[test]
fn the_first_notice_reads_as_residents_would_hear_it() {
    let ev = events();
    let r = Renderer::built_in();
    let n = content::current(&ev, at("2016-12-15T04:30:00Z"), Some("ramouseh-rashidin4"), Some("window-15dec")).unwrap().remove(0);
    let en = r.render(&n, Lang::En, Part::Message).unwrap();
    // 05:00–17:00 UTC is 07:00–19:00 in Damascus in December 2016 (EET).
    assert_eq!(
        en,
        "Corridor Ramouseh bridge to Rashidin-4 is open Thursday 15 December 2016 07:00 to 19:00 Damascus time (UTC+2).\n\
         Enter at Ramouseh bridge, then Ramouseh road, 1070 apartments, Hamdaniyah edge, Rashidin junction, to Rashidin-4 district.\n\
         For: armed people under the agreement, women, children, men, elderly. Bring ID and medicines. Notice ramouseh-rashidin4.window-15dec.0."
    );
    let ar = r.render(&n, Lang::Ar, Part::Message).unwrap();
    assert!(ar.contains("من الخميس ١٥ كانون الأول ٢٠١٦ الساعة ٠٧:٠٠ حتى الساعة ١٩:٠٠ بتوقيت دمشق"), "{ar}");
}
