//! Loudspeaker announcements of the reference scenario: the script says the
//! hours and the entry twice, and espeak-ng (when installed) records it.

mod common;

use chrono::{DateTime, Utc};
use corridor_aleppo as aleppo;
use corridor_geo::{PreparedNetwork, Router};
use corridor_notify::render::arabic_digits;
use corridor_notify::{content, speech, Lang, Renderer};
use corridor_plan::scenario::{Scenario, ALEPPO_2016};

#[test]
fn the_script_repeats_the_key_facts_and_is_recorded() {
    let sc = Scenario::parse(ALEPPO_2016, "aleppo-2016.toml").unwrap();
    let router = Router::new(PreparedNetwork::prepare(aleppo::builtin_network().unwrap()));
    let events = common::declared("Asia/Damascus", corridor_plan::sim::simulate(&sc, &router).unwrap().events);
    let at: DateTime<Utc> = "2016-12-15T04:30:00Z".parse().unwrap();
    let n = content::current(&events, at, Some("ramouseh-rashidin4"), Some("window-15dec")).unwrap().remove(0);
    let local = |t: DateTime<Utc>| t.with_timezone(&n.zone).format("%H:%M").to_string();
    let (start, end) = (local(n.start), local(n.end));
    let r = Renderer::built_in();
    let artifacts = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("notify");
    std::fs::create_dir_all(&artifacts).unwrap();
    for (lang, start, end, entry) in [
        (Lang::En, start.clone(), end.clone(), n.entry().name.clone()),
        (Lang::Ar, arabic_digits(&start), arabic_digits(&end), n.entry().name_ar.clone().unwrap()),
    ] {
        let text = speech::script(&n, &r, lang).unwrap();
        for fact in [&start, &end, &entry] {
            assert!(text.matches(fact.as_str()).count() >= 2, "{lang:?}: {fact:?} said fewer than twice:\n{text}");
        }
        if speech::espeak().is_none() {
            corridor_testkit::skip("espeak-ng not installed (apt-get install espeak-ng); the script alone was checked");
            continue;
        }
        let wav = artifacts.join(format!("speech-{}.{}.wav", n.id, lang.code()));
        speech::wav(&text, lang, &wav).unwrap();
        let secs = speech::wav_seconds(&std::fs::read(&wav).unwrap()).unwrap();
        // A crowd needs the whole script: tens of seconds, not a blip.
        assert!(secs > 20.0, "{lang:?}: only {secs:.1} s of audio");
        println!("{lang:?}: {secs:.1} s of audio in {}", wav.display());
    }
}
