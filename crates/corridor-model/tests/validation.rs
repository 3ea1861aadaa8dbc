//! Bad input is refused with an error naming the event and the field.

use corridor_model::parse::{parse_batch, parse_leaf, ParseError};
use corridor_model::Registry;

const SETUP: &str = r#"
{"v":1,"id":"g","time":"2016-12-15T04:00:00Z","author":"hq","body":{"groups_defined":{"groups":[{"id":"women","label":"women"},{"id":"children","label":"children"},{"id":"armed","label":"armed"}]}}}
{"v":1,"id":"s1","time":"2016-12-15T04:00:00Z","author":"hq","body":{"site_declared":{"site":"east","name":"Eastern Aleppo","kind":"besieged"}}}
{"v":1,"id":"s2","time":"2016-12-15T04:00:00Z","author":"hq","body":{"site_declared":{"site":"r4","name":"Rashidin-4","kind":"destination"}}}
{"v":1,"id":"c","time":"2016-12-15T04:00:00Z","author":"hq","body":{"corridor_declared":{"corridor":"ramouseh","name":"Ramouseh","from":"east","to":"r4","checkpoints":[{"id":"cp1","name":"Entry"},{"id":"cp2","name":"Exit"}],"groups":["women","children"],"max_transit_minutes":90}}}
{"v":1,"id":"v","time":"2016-12-15T04:00:00Z","author":"hq","body":{"vehicle_registered":{"vehicle":"bus-1","kind":"bus","seats":50,"operator":"SARC"}}}
{"v":1,"id":"k","time":"2016-12-15T04:00:00Z","author":"hq","body":{"convoy_dispatched":{"convoy":"c1","corridor":"ramouseh","vehicles":["bus-1"]}}}
"#;

fn passage(counts: &str, wounded: i64, checkpoint: &str, vehicle: &str, corridor: &str) -> String {
    format!(
        r#"{{"v":1,"id":"p1","time":"2016-12-15T05:00:00Z","author":"cp1","body":{{"passage":{{"vehicle":"{vehicle}","convoy":"c1","corridor":"{corridor}","checkpoint":"{checkpoint}","counts":{counts},"wounded":{wounded}}}}}}}"#
    )
}

fn registry() -> Registry {
    let events = parse_batch(SETUP).expect("setup parses");
    let mut r = Registry::new();
    r.apply_batch(&events).expect("setup is consistent");
    r
}

fn err_of(json: &str) -> String {
    match parse_batch(json) {
        Err(e) => e.to_string(),
        Ok(events) => {
            let mut r = registry();
            match r.apply_batch(&events) {
                Err((i, e)) => format!("event #{i}: {e}"),
                Ok(()) => panic!("accepted: {json}"),
            }
        }
    }
}

#[test]
fn good_passage_is_accepted_and_canonical() {
    let events = parse_batch(&passage(r#"{"women":3,"children":4}"#, 1, "cp1", "bus-1", "ramouseh")).unwrap();
    registry().apply_batch(&events).unwrap();
    let bytes = events[0].canonical_bytes();
    assert_eq!(parse_leaf(&bytes).unwrap(), events[0]);
    let text = String::from_utf8(bytes).unwrap();
    assert!(text.contains(r#""time":"2016-12-15T05:00:00Z""#), "{text}");
}

#[test]
fn malformed_json_is_refused() {
    let e = err_of("{\"v\":1,");
    assert!(e.contains("not valid JSON"), "{e}");
}

#[test]
fn unknown_kind_names_the_kind() {
    let e = err_of(r#"{"v":1,"id":"x","time":"2016-12-15T05:00:00Z","author":"hq","body":{"teleport":{}}}"#);
    assert!(e.contains("event #0") && e.contains("id \"x\"") && e.contains("unknown variant `teleport`"), "{e}");
}

#[test]
fn unknown_field_names_the_field() {
    let j = passage(r#"{"women":3}"#, 0, "cp1", "bus-1", "ramouseh").replace(r#""wounded":0"#, r#""wounded":0,"name":"x""#);
    let e = err_of(&j);
    assert!(e.contains("body.passage") && e.contains("unknown field `name`"), "{e}");
}

#[test]
fn negative_count_names_the_group() {
    let e = err_of(&passage(r#"{"women":-3}"#, 0, "cp1", "bus-1", "ramouseh"));
    assert!(e.contains("body.passage.counts.women") && e.contains("-3"), "{e}");
}

#[test]
fn wounded_more_than_people() {
    let e = err_of(&passage(r#"{"women":1,"children":1}"#, 3, "cp1", "bus-1", "ramouseh"));
    assert!(e.contains("body.passage.wounded") && e.contains("3 wounded"), "{e}");
}

#[test]
fn unknown_references() {
    let e = err_of(&passage(r#"{"women":1}"#, 0, "cp9", "bus-1", "ramouseh"));
    assert!(e.contains("body.passage.checkpoint") && e.contains("cp9"), "{e}");
    let e = err_of(&passage(r#"{"women":1}"#, 0, "cp1", "bus-9", "ramouseh"));
    assert!(e.contains("body.passage.vehicle") && e.contains("bus-9"), "{e}");
    let e = err_of(&passage(r#"{"women":1}"#, 0, "cp1", "bus-1", "nowhere"));
    assert!(e.contains("body.passage.corridor") && e.contains("nowhere"), "{e}");
    let e = err_of(&passage(r#"{"wounded":1}"#, 0, "cp1", "bus-1", "ramouseh"));
    assert!(e.contains("counts.wounded") && e.contains("unknown group"), "{e}");
    let e = err_of(&passage(r#"{"armed":1}"#, 0, "cp1", "bus-1", "ramouseh"));
    assert!(e.contains("may not use corridor"), "{e}");
}

#[test]
fn wrong_version_and_empty_id() {
    let e = err_of(r#"{"v":2,"id":"x","time":"2016-12-15T05:00:00Z","author":"hq","body":{"agreement":{"agreement":"a","sites":[],"terms":"t"}}}"#);
    assert!(e.contains("schema version 2"), "{e}");
    let e = err_of(r#"{"v":1,"id":"","time":"2016-12-15T05:00:00Z","author":"hq","body":{"agreement":{"agreement":"a","sites":[],"terms":"t"}}}"#);
    assert!(e.contains("id: must not be empty"), "{e}");
}

#[test]
fn batch_error_carries_position() {
    let good = passage(r#"{"women":1}"#, 0, "cp1", "bus-1", "ramouseh");
    let bad = passage(r#"{"women":1}"#, 5, "cp1", "bus-1", "ramouseh").replace("p1", "p2");
    match parse_batch(&format!("{good}\n{bad}\n")) {
        Err(ParseError::Event { position, id, .. }) => {
            assert_eq!(position, 1);
            assert_eq!(id.as_deref(), Some("p2"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn registry_batch_is_all_or_nothing() {
    let mut r = registry();
    let batch = parse_batch(
        r#"{"v":1,"id":"v2","time":"2016-12-15T04:00:00Z","author":"hq","body":{"vehicle_registered":{"vehicle":"bus-2","kind":"bus","seats":50,"operator":"SARC"}}}
{"v":1,"id":"k2","time":"2016-12-15T04:00:00Z","author":"hq","body":{"convoy_dispatched":{"convoy":"c2","corridor":"nowhere","vehicles":["bus-2"]}}}"#,
    )
    .unwrap();
    assert_eq!(r.apply_batch(&batch).unwrap_err().0, 1);
    assert!(r.vehicle("bus-2").is_none(), "a rejected batch must leave nothing behind");
}

#[test]
fn non_canonical_leaf_is_refused() {
    let events = parse_batch(&passage(r#"{"women":3}"#, 0, "cp1", "bus-1", "ramouseh")).unwrap();
    let canonical = events[0].canonical_bytes();
    assert!(parse_leaf(&canonical).is_ok() && events[0].is_canonical(&canonical));
    let mut bytes = canonical.clone();
    bytes.insert(1, b' ');
    assert!(parse_leaf(&bytes).is_err());
    // Trailing white space parses as JSON; the bytes are not canonical.
    let mut bytes = canonical.clone();
    bytes.push(b'\n');
    assert!(parse_leaf(&bytes).is_err() && !events[0].is_canonical(&bytes));
    assert!(!events[0].is_canonical(&canonical[..canonical.len() - 1]));
    let mut bytes = canonical.clone();
    let at = bytes.len() / 2;
    bytes[at] ^= 1;
    assert!(!events[0].is_canonical(&bytes));
}

#[test]
fn a_vehicle_is_counted_once_per_checkpoint_and_trip() {
    let mut r = registry();
    let first = parse_batch(&passage(r#"{"women":45}"#, 0, "cp2", "bus-1", "ramouseh")).unwrap();
    r.apply_batch(&first).unwrap();
    // The same bus at the same checkpoint again, under a new id (a resent count).
    let again = parse_batch(&passage(r#"{"women":45}"#, 0, "cp2", "bus-1", "ramouseh").replace("\"p1\"", "\"p1-resent\"")).unwrap();
    let (_, e) = r.apply_batch(&again).unwrap_err();
    assert!(e.field == "body.passage.checkpoint" && e.message.contains("already counted at checkpoint \"cp2\""), "{e}");
    // Within one batch too, and the refused batch leaves no mark behind.
    let mut r = registry();
    let entry = passage(r#"{"women":45}"#, 0, "cp1", "bus-1", "ramouseh");
    let batch = parse_batch(&format!("{entry}\n{}", entry.replace("\"p1\"", "\"p2\""))).unwrap();
    assert_eq!(r.apply_batch(&batch).unwrap_err().0, 1);
    r.apply_batch(&batch[..1]).expect("the refused batch marked nothing");
}

#[test]
fn positions_and_digests_are_checked() {
    let e = err_of(r#"{"v":1,"id":"s9","time":"2016-12-15T04:00:00Z","author":"hq","body":{"site_declared":{"site":"x","name":"x","kind":"besieged","position":{"lat":999,"lon":0}}}}"#);
    assert!(e.contains("body.site_declared.position"), "{e}");
    let e = err_of(r#"{"v":1,"id":"n1","time":"2016-12-15T04:00:00Z","author":"hq","body":{"notice_issued":{"notice":"","channel":"sms","language":"ar","recipients":1,"content_sha256":"00"}}}"#);
    assert!(e.contains("body.notice_issued.notice: must not be empty"), "{e}");
}

#[test]
fn a_group_counted_twice_in_one_passage_is_refused() {
    let e = err_of(&passage(r#"{"children":12,"children":9}"#, 0, "cp1", "bus-1", "ramouseh"));
    assert!(e.contains("body.passage.counts") && e.contains("\"children\" is counted twice"), "{e}");
}

/// A district, a hazard area of about 1.0 km × 1.1 km (≈ 111 ha) in it,
/// then `tail`.
fn aftermath(tail: &str) -> String {
    let district = r#"{"v":1,"id":"d","time":"2017-01-01T00:00:00Z","author":"hq","body":{"district_declared":{"district":"hanano","name":"Hanano","name_ar":"هنانو","position":{"lat":36.22,"lon":37.19},"hectares":300.0}}}"#;
    let hazard = r#"{"v":1,"id":"h","time":"2017-01-01T00:00:00Z","author":"hq","body":{"hazard_declared":{"hazard":"area-1","kind":"suspected_mined","status":"suspected","ring":[[37.18,36.21],[37.19,36.21],[37.19,36.22],[37.18,36.22],[37.18,36.21]],"district":"hanano"}}}"#;
    format!("{district}\n{hazard}\n{tail}")
}

#[test]
fn aftermath_records_are_checked() {
    let clearance = |id: &str, hazard: &str, ha: f64| {
        format!(r#"{{"v":1,"id":"{id}","time":"2017-01-10T00:00:00Z","author":"hq","body":{{"clearance_recorded":{{"record":"{id}","hazard":"{hazard}","district":"hanano","hectares":{ha},"road_km":3.0,"buildings":12,"team":"t1"}}}}}}"#)
    };
    // The area is computed from its ring: about 100 ha.
    let ha = corridor_model::ring_hectares(&[[37.18, 36.21], [37.19, 36.21], [37.19, 36.22], [37.18, 36.22], [37.18, 36.21]]);
    assert!((99.0..101.0).contains(&ha), "{ha}");
    let ok = aftermath(&format!("{}\n{}", clearance("c1", "area-1", 60.0), clearance("c2", "area-1", 39.0)));
    let mut r = registry();
    r.apply_batch(&parse_batch(&ok).unwrap()).expect("within the area");
    let e = err_of(&aftermath(&format!("{}\n{}", clearance("c1", "area-1", 60.0), clearance("c2", "area-1", 60.0))));
    assert!(e.contains("event #3") && e.contains("body.clearance_recorded.hectares") && e.contains("which has 99."), "{e}");
    let e = err_of(&aftermath(&clearance("c1", "area-9", 1.0)));
    assert!(e.contains("body.clearance_recorded.hazard") && e.contains("unknown hazard area \"area-9\""), "{e}");
    let aid = |t: &str, d: &str| format!(r#"{{"v":1,"id":"a","time":"2017-01-10T00:00:00Z","author":"hq","body":{{"aid_delivered":{{"delivery":"a","commodity":"food","tonnes":{t},"families":10,"people":50,"district":"{d}","organisation":"SARC"}}}}}}"#);
    let e = err_of(&aftermath(&aid("-2.5", "hanano")));
    assert!(e.contains("body.aid_delivered.tonnes") && e.contains("-2.5 is not a non-negative number"), "{e}");
    let e = err_of(&aftermath(&aid("2.5", "atlantis")));
    assert!(e.contains("body.aid_delivered.district") && e.contains("unknown district \"atlantis\""), "{e}");
    let ret = r#"{"v":1,"id":"r","time":"2017-01-10T00:00:00Z","author":"hq","body":{"return_recorded":{"record":"r","district":"nowhere","families":1,"people":4}}}"#;
    assert!(err_of(&aftermath(ret)).contains("unknown district \"nowhere\""));
}

#[test]
fn hazard_polygons_must_close_and_not_cross_themselves() {
    let hazard = |ring: &str| format!(r#"{{"v":1,"id":"h","time":"2017-01-01T00:00:00Z","author":"hq","body":{{"hazard_declared":{{"hazard":"x","kind":"suspected_mined","status":"suspected","ring":{ring}}}}}}}"#);
    let e = err_of(&hazard("[[37.18,36.21],[37.19,36.21],[37.19,36.22],[37.18,36.22]]"));
    assert!(e.contains("body.hazard_declared.ring") && e.contains("does not close"), "{e}");
    // A bow tie: edges 0 and 2 cross.
    let e = err_of(&hazard("[[37.18,36.21],[37.19,36.22],[37.19,36.21],[37.18,36.22],[37.18,36.21]]"));
    assert!(e.contains("crosses itself"), "{e}");
    let e = err_of(&hazard("[[37.18,36.21],[37.19,36.21],[37.18,36.21]]"));
    assert!(e.contains("at least 4 positions"), "{e}");
}

#[test]
fn claims_name_a_measure_the_ledger_has() {
    let claim = |m: &str| format!(r#"{{"v":1,"id":"cl","time":"2017-01-01T00:00:00Z","author":"hq","body":{{"claim_recorded":{{"claim":"cl","source":"001","date":"2016-12-23","text":"almost 34,000 left","figure":34000,"measure":"{m}"}}}}}}"#);
    let mut r = registry();
    r.apply_batch(&parse_batch(&claim("withdrawn:ramouseh")).unwrap()).expect("a declared corridor");
    assert!(err_of(&claim("happiness")).contains("is not a measure"));
    assert!(err_of(&claim("withdrawn:nowhere")).contains("unknown corridor"));
    assert!(err_of(&claim("group:dragons")).contains("body.claim_recorded.measure"));
}

/// Issue 20, item 9: ids took right-to-left overrides, zero-width joiners,
/// byte order marks and line separators, and the NFC and NFD spellings of
/// one id were two ids. Invisible and control characters are refused,
/// naming the character, and a non-NFC id is refused showing its NFC form.
#[test]
fn ids_are_visible_and_in_nfc() {
    let vehicle = |id: &str| {
        let body = serde_json::json!({"vehicle_registered": {"vehicle": id, "kind": "bus", "seats": 50, "operator": "SARC"}});
        serde_json::json!({"v": 1, "id": "v2", "time": "2016-12-15T04:00:00Z", "author": "hq", "body": body}).to_string()
    };
    for (c, name) in [('\u{202E}', "U+202E"), ('\u{200D}', "U+200D"), ('\u{FEFF}', "U+FEFF"), ('\u{2028}', "U+2028"), ('\u{2029}', "U+2029"), ('\u{7}', "U+0007"), ('\u{200B}', "U+200B"), ('\u{2066}', "U+2066")] {
        let e = err_of(&vehicle(&format!("bus{c}-2")));
        assert!(e.contains("vehicle") && e.contains(name) && e.contains("invisible"), "{name}: {e}");
    }
    // The envelope's id and author too.
    let good = vehicle("bus-2");
    let e = err_of(&good.replace(r#""id":"v2""#, "\"id\":\"v2\u{202E}\""));
    assert!(e.contains("id") && e.contains("U+202E"), "{e}");
    let e = err_of(&good.replace(r#""author":"hq""#, "\"author\":\"h\u{200D}q\""));
    assert!(e.contains("author") && e.contains("U+200D"), "{e}");
    // NFD "café" (e + combining acute) is refused, naming the NFC spelling; NFC is accepted.
    let e = err_of(&vehicle("cafe\u{301}-bus"));
    assert!(e.contains("normal form C") && e.contains("\"caf\u{e9}-bus\""), "{e}");
    let events = parse_batch(&vehicle("caf\u{e9}-bus")).expect("NFC is accepted");
    registry().apply_batch(&events).expect("NFC is accepted");
    // Visible non-Latin ids stay welcome.
    let events = parse_batch(&vehicle("حافلة-٢")).expect("Arabic is visible");
    registry().apply_batch(&events).expect("Arabic is visible");
}

/// Issue 20, item 5: counts were bounded only by u32, so `killed:
/// 4294967294` was accepted (and wrapped a 32-bit total). Every count of
/// the model is bounded by what is physically possible and a count over
/// its bound is refused, naming the field and the bound.
#[test]
fn counts_over_their_bound_are_refused() {
    let over = corridor_model::MAX_PEOPLE + 1;
    let e = err_of(&passage(&format!(r#"{{"women":{over}}}"#), 0, "cp1", "bus-1", "ramouseh"));
    assert!(e.contains("counts.women") && e.contains("at most 10000000"), "{e}");
    let half = corridor_model::MAX_PEOPLE / 2 + 1;
    let e = err_of(&passage(&format!(r#"{{"women":{half},"children":{half}}}"#), 0, "cp1", "bus-1", "ramouseh"));
    assert!(e.contains("counts") && e.contains("in all"), "{e}");
    let event = |body: serde_json::Value| serde_json::json!({"v": 1, "id": "x", "time": "2016-12-15T05:00:00Z", "author": "hq", "body": body}).to_string();
    let cases = [
        (serde_json::json!({"incident": {"incident": "i", "kind": "attack", "killed": 4294967294u32, "description": "d"}}), "killed"),
        (serde_json::json!({"vehicle_registered": {"vehicle": "bus-9", "kind": "bus", "seats": 10001, "operator": "SARC"}}), "seats"),
        (serde_json::json!({"vehicle_registered": {"vehicle": "bus-9", "kind": "bus", "seats": 1, "stretchers": 4000000000u32, "operator": "SARC"}}), "stretchers"),
    ];
    for (body, field) in cases {
        let e = err_of(&event(body));
        assert!(e.contains(field) && e.contains("at most"), "{field}: {e}");
    }
    // At the bound is accepted.
    let ok = passage(&format!(r#"{{"women":{}}}"#, corridor_model::MAX_PEOPLE), 0, "cp1", "bus-1", "ramouseh");
    registry().apply_batch(&parse_batch(&ok).unwrap()).expect("the bound itself is accepted");
}

/// Everything `parse_stream` reads one event at a time.
fn stream(input: &str) -> Result<Vec<corridor_model::Event>, String> {
    let mut out = Vec::new();
    corridor_model::parse::parse_stream::<_, std::io::Error>(std::io::BufReader::with_capacity(7, input.as_bytes()), &mut |i, e| {
        assert_eq!(i, out.len(), "positions count from 0, in order");
        out.push(e);
        Ok(())
    })
    .map(|n| {
        assert_eq!(n, out.len());
        out
    })
    .map_err(|e| e.to_string())
}

/// The streaming reader reads what `parse_batch` reads, in both forms, and
/// refuses what it refuses with the same messages (a reader buffer of 7
/// bytes: an event is taken across many reads).
#[test]
fn the_stream_reads_as_the_batch_does() {
    let lines: Vec<&str> = SETUP.lines().filter(|l| !l.trim().is_empty()).collect();
    let array = format!("  \n[{}]\n", lines.join(" ,\n"));
    let crlf = lines.join("\r\n");
    for input in [SETUP.to_string(), array.clone(), crlf, String::new(), "  \n\n".into(), "[]".into()] {
        let batch = parse_batch(&input).map_err(|e| e.to_string());
        assert_eq!(stream(&input).map(|v| v.iter().map(|e| e.canonical_bytes()).collect::<Vec<_>>()), batch.map(|v| v.iter().map(|e| e.canonical_bytes()).collect()), "{input:?}");
    }
    assert_eq!(stream(SETUP).unwrap().len(), 6);
    // The same errors, naming the event or the line.
    let bad_field = format!("{}\n{}\n", lines[0], passage(r#"{"women":-1}"#, 0, "cp1", "bus-1", "ramouseh"));
    let bad_line = format!("{}\n{}\n{{\"v\":1,\n", lines[0], lines[1]);
    let bad_array = format!("[{},{}", lines[0], lines[1]);
    let trailing = format!("[{}] x", lines[0]);
    for input in [bad_field, bad_line, bad_array, trailing] {
        let want = parse_batch(&input).expect_err("refused").to_string();
        assert_eq!(stream(&input).expect_err("refused"), want, "{input:?}");
    }
    assert!(stream(&format!("{}\n{{\"v\":1,\n", lines[0])).unwrap_err().contains("line 2"));
    // A line longer than any event is refused without being held whole.
    let long = format!("{}\n\"{}\"\n", lines[0], "x".repeat(3 << 20));
    assert!(stream(&long).unwrap_err().contains("line 2 is longer than"), "{}", stream(&long).unwrap_err());
}

/// The caller's error stops the stream at that event: nothing after it is read.
#[test]
fn the_stream_stops_where_the_caller_says() {
    let mut seen = 0;
    let r = corridor_model::parse::parse_stream(SETUP.as_bytes(), &mut |i, _| {
        seen += 1;
        if i == 2 {
            return Err(std::io::Error::other("third refused"));
        }
        Ok(())
    });
    assert!(matches!(r, Err(corridor_model::parse::StreamError::Stopped(ref e)) if e.to_string() == "third refused"), "{r:?}");
    assert_eq!(seen, 3);
    let array = format!("[{}]", SETUP.lines().filter(|l| !l.trim().is_empty()).collect::<Vec<_>>().join(","));
    let mut seen = 0;
    let r = corridor_model::parse::parse_stream(array.as_bytes(), &mut |i, _| {
        seen += 1;
        if i == 1 {
            return Err(std::io::Error::other("second refused"));
        }
        Ok(())
    });
    assert!(matches!(r, Err(corridor_model::parse::StreamError::Stopped(_))), "{r:?}");
    assert_eq!(seen, 2);
}

proptest::proptest! {
    /// An event's time is written as chrono writes an instant (the model
    /// writes it whole, chrono a piece at a time): any instant from year 1
    /// to 9999, whole seconds, milli-, micro- and nanoseconds, and a leap
    /// second; and what is written reads back as the same instant.
    #[test]
    fn an_events_time_is_written_as_chrono_writes_it(secs in -62_135_596_800i64..253_402_300_799, nanos in 0u32..2_000_000_000, digits in 0usize..4) {
        // Whole seconds, then 3, 6 or 9 fractional digits (and, past 1e9
        // nanoseconds, chrono's leap second).
        let nanos = match digits { 0 => 0, 1 => nanos / 1_000_000 * 1_000_000, 2 => nanos / 1_000 * 1_000, _ => nanos };
        let Some(time) = chrono::DateTime::from_timestamp(secs, nanos) else { return Ok(()) };
        let event = corridor_model::Event::new("e", time, "hq", corridor_model::Body::SiteDeclared(serde_json::from_str(r#"{"site":"s","name":"S","kind":"destination"}"#).unwrap()));
        let ours = String::from_utf8(event.canonical_bytes()).unwrap();
        let chronos = serde_json::to_string(&time).unwrap();
        proptest::prop_assert!(ours.contains(&format!(r#""time":{chronos},"#)), "{ours} against chrono's {chronos}");
        let back: corridor_model::Event = serde_json::from_str(&ours).unwrap();
        proptest::prop_assert_eq!(back.time, time);
    }
}

/// The registry is the log's one index of event ids: every event recorded
/// has its position, and its id is found from its position; a refused
/// batch (with or without a declaration in it) leaves no id, position or
/// mark behind; a skipped position holds no id.
#[test]
fn the_registry_indexes_every_id_by_position() {
    let mut r = registry();
    let setup = ["g", "s1", "s2", "c", "v", "k"];
    assert_eq!(r.len(), setup.len() as u64);
    for (i, id) in setup.iter().enumerate() {
        assert_eq!((r.position(id), r.id_at(i as u64)), (Some(i as u64), Some(*id)));
    }
    let entry = passage(r#"{"women":45}"#, 0, "cp1", "bus-1", "ramouseh");
    // Refused at its second event: the first, recorded straight in the
    // registry, is forgotten again.
    let refused = parse_batch(&format!("{entry}\n{}", entry.replace("\"p1\"", "\"p2\""))).unwrap();
    assert_eq!(r.apply_batch(&refused).unwrap_err().0, 1);
    assert_eq!((r.len(), r.position("p1"), r.id_at(6)), (6, None, None));
    // A declaration, then a refused passage: the copy is dropped.
    let site = r#"{"v":1,"id":"s3","time":"2016-12-15T04:00:00Z","author":"hq","body":{"site_declared":{"site":"west","name":"West","kind":"destination"}}}"#;
    let refused = parse_batch(&format!("{entry}\n{site}\n{}", entry.replace("\"p1\"", "\"p2\""))).unwrap();
    assert_eq!(r.apply_batch(&refused).unwrap_err().0, 2);
    assert_eq!((r.len(), r.position("p1"), r.position("s3")), (6, None, None));
    // Passed: each at the next position.
    let passed = parse_batch(&format!("{entry}\n{site}")).unwrap();
    r.apply_batch(&passed).unwrap();
    assert_eq!((r.position("p1"), r.position("s3"), r.id_at(6), r.id_at(7), r.len()), (Some(6), Some(7), Some("p1"), Some("s3"), 8));
    assert_eq!(r.entry("p1").map(|e| e.kind), Some("passage"));
    assert!(r.entry("s3").is_none(), "a declaration is not an entry a correction may name");
    // A position passed over holds nothing; the next event goes after it.
    r.skip();
    let later = parse_batch(&passage(r#"{"women":45}"#, 0, "cp2", "bus-1", "ramouseh").replace("\"p1\"", "\"p3\"")).unwrap();
    r.apply_batch(&later).unwrap();
    assert_eq!((r.id_at(8), r.position("p3"), r.id_at(9), r.len()), (None, Some(9), Some("p3"), 10));
    // Truncated back: the passage's mark goes with it, so the bus may be
    // counted at that checkpoint again.
    r.truncate(8);
    assert_eq!((r.position("p3"), r.id_at(9), r.len()), (None, None, 8));
    r.apply_batch(&later).expect("the truncated passage left no mark");
    assert_eq!(r.position("p3"), Some(8));
}

#[test]
fn a_leaf_that_is_not_utf8_is_refused_with_its_reason() {
    let events = parse_batch(&passage(r#"{"women":3}"#, 0, "cp1", "bus-1", "ramouseh")).unwrap();
    let canonical = events[0].canonical_bytes();
    assert_eq!(corridor_model::parse::parse_signed_leaf(&canonical).unwrap(), events[0]);
    // A byte that ends UTF-8 inside a string, and one outside any string.
    let at = canonical.windows(5).position(|w| w == b"bus-1").unwrap();
    for at in [at, 0] {
        let mut bytes = canonical.clone();
        bytes[at] = 0xff;
        for err in [corridor_model::parse::parse_signed_leaf(&bytes).unwrap_err(), parse_leaf(&bytes).unwrap_err()] {
            assert!(err.to_string().contains("not UTF-8"), "{err}");
        }
    }
}
