//! Bad input is refused with a clear error, never a panic: truncated and
//! corrupted PBF extracts, XML and GeoJSON (proptest mutations of real
//! files), an extract without roads, broken turn restriction relations,
//! and stale or damaged prepared files.

mod common;
use corridor_geo::{osm, roads, HazardSet, NoProgress, Profile};
use proptest::prelude::*;

fn data(rel: &str) -> Vec<u8> {
    std::fs::read(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data").join(rel)).unwrap()
}

fn pbf() -> &'static [u8] {
    static PBF: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    PBF.get_or_init(|| data("osm/pyrosm-test.osm.pbf"))
}

const ROADS: &str = r#"{"type":"FeatureCollection","features":[
 {"type":"Feature","properties":{"highway":"primary","name":"A","maxspeed":"50"},"geometry":{"type":"LineString","coordinates":[[37.0,36.0],[37.01,36.0],[37.01,36.01]]}},
 {"type":"Feature","properties":{"highway":"residential","oneway":"yes"},"geometry":{"type":"LineString","coordinates":[[37.01,36.01],[37.0,36.0]]}}]}"#;

const HAZARDS: &str = r#"{"type":"FeatureCollection","features":[
 {"type":"Feature","properties":{"id":"h1","status":"active","kind":"under_fire"},"geometry":{"type":"Polygon","coordinates":[[[37.0,36.0],[37.01,36.0],[37.01,36.01],[37.0,36.0]]]}}]}"#;

#[test]
fn truncated_pbf_is_refused() {
    let bytes = pbf();
    for cut in [0, 1, 4, 13, 100, bytes.len() / 3, bytes.len() / 2, bytes.len() - 1] {
        let e = osm::import_pbf(&bytes[..cut], "cut.osm.pbf", Profile::Car, &NoProgress).unwrap_err().to_string();
        assert!(e.starts_with("cut.osm.pbf: "), "{e}");
    }
}

#[test]
fn an_extract_without_roads_is_refused() {
    // The POI extract of Syria: nodes only, no ways.
    let e = osm::import_xml(&data("osm/syria-poi-2017.osm"), "syria-poi-2017.osm", Profile::Car, &NoProgress).unwrap_err().to_string();
    assert!(e.contains("no road a bus or ambulance may use"), "{e}");
    let e = osm::import_xml(b"<html></html>", "page.osm", Profile::Car, &NoProgress).unwrap_err().to_string();
    assert!(e.contains("not an OpenStreetMap XML file"), "{e}");
    let e = osm::import_pbf(b"not a pbf at all, just text", "t.pbf", Profile::Car, &NoProgress).unwrap_err().to_string();
    assert!(e.contains("t.pbf"), "{e}");
}

/// Roads that no vehicle can drive both ways between any two points (one
/// one-way street, or one-way streets that never come back): the largest
/// set of mutually reachable junctions is a single junction, so nothing
/// can be routed. Refused with what to do, not kept as a network of one
/// node that every route then fails on.
#[test]
fn roads_that_never_connect_both_ways_are_refused() {
    let one_way_line = r#"<osm>
  <node id="1" lat="43.730" lon="7.420"/><node id="2" lat="43.731" lon="7.421"/><node id="3" lat="43.732" lon="7.422"/>
  <way id="10"><nd ref="1"/><nd ref="2"/><nd ref="3"/><tag k="highway" v="primary"/><tag k="oneway" v="yes"/></way>
</osm>"#;
    for p in Profile::ALL {
        let e = osm::import_xml(one_way_line.as_bytes(), "line.osm", p, &NoProgress).unwrap_err().to_string();
        assert!(e.starts_with("line.osm: "), "{p}: {e}");
        assert!(e.contains("no two junctions") && e.contains("one-way"), "{p}: {e}");
    }
    let e = roads::import_geojson(
        r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"highway":"primary","oneway":"yes"},"geometry":{"type":"LineString","coordinates":[[37.0,36.0],[37.01,36.0]]}}]}"#,
        "line.geojson",
    )
    .unwrap_err()
    .to_string();
    assert!(e.starts_with("line.geojson: ") && e.contains("no two junctions"), "{e}");
    // The same street both ways is a network.
    let both = one_way_line.replace(r#"<tag k="oneway" v="yes"/>"#, "");
    let net = osm::import_xml(both.as_bytes(), "line.osm", Profile::Car, &NoProgress).unwrap();
    assert_eq!(net.meta.stats.nodes, 3);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Flipped bytes anywhere in a real extract: an error or a network, never a panic.
    #[test]
    fn corrupt_pbf_never_panics(flips in prop::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 1..8)) {
        let mut b = pbf().to_vec();
        for (i, x) in flips {
            let at = i.index(b.len());
            b[at] ^= x;
        }
        let _ = osm::import_pbf(&b, "corrupt.osm.pbf", Profile::Car, &NoProgress);
    }

    /// Truncated or mutated GeoJSON roads and hazards: an error or a value, never a panic.
    #[test]
    fn mutated_geojson_never_panics(cut in 0usize..400, flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..6)) {
        for text in [ROADS, HAZARDS] {
            let mut b = text.as_bytes().to_vec();
            for (i, x) in &flips {
                let at = i.index(b.len());
                b[at] = *x;
            }
            b.truncate(cut.min(b.len()).max(if flips.is_empty() { 0 } else { b.len() }));
            let s = String::from_utf8_lossy(&b);
            let _ = roads::import_geojson(&s, "roads.geojson");
            let _ = HazardSet::from_geojson(&s, "hazards.geojson");
        }
    }

    /// Truncated or mutated restriction relations (members dropped, roles
    /// and types changed, ids out of the map): a network, with the broken
    /// ones counted, or an error; never a panic.
    #[test]
    fn mutated_restrictions_never_panic(cut in 0usize..2000, flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4)) {
        let mut b = BROKEN_RESTRICTIONS.as_bytes().to_vec();
        for (i, x) in &flips {
            let at = i.index(b.len());
            b[at] = *x;
        }
        b.truncate(cut.max(b.len() / 2));
        for p in Profile::ALL {
            let _ = osm::import_xml(&b, "r.osm", p, &NoProgress);
        }
    }

    /// Arbitrary strings as OSM XML: an error or a network, never a panic.
    #[test]
    fn arbitrary_xml_never_panics(s in "(<osm>|<node id=\"1\" lat=\"[0-9.-]{1,6}\" lon=\"[0-9.-]{1,6}\"/>|<way id=\"2\">|<nd ref=\"[0-9]{1,2}\"/>|<tag k=\"highway\" v=\"primary\"/>|</way>|</osm>|[ <>/a-z\"=]){0,40}") {
        let _ = osm::import_xml(s.as_bytes(), "x.osm", Profile::Car, &NoProgress);
    }

    /// Arbitrary bytes as a prepared network: refused, never a panic.
    #[test]
    fn arbitrary_netfile_never_panics(tail in prop::collection::vec(any::<u8>(), 0..200)) {
        let mut b = corridor_geo::netfile::MAGIC.to_vec();
        b.extend_from_slice(&corridor_geo::netfile::FORMAT_VERSION.to_le_bytes());
        b.extend_from_slice(&((tail.len() as u64).to_le_bytes()));
        b.extend_from_slice(&common::crc32(&tail).to_le_bytes());
        b.extend_from_slice(&tail);
        prop_assert!(corridor_geo::netfile::from_bytes(&b, "x.cnet").is_err());
    }
}

#[test]
fn crc_matches_the_file_format() {
    // The check value of CRC-32/ISO-HDLC.
    assert_eq!(common::crc32(b"123456789"), 0xCBF4_3926);
}

#[test]
fn osm_xml_imports_like_pbf() {
    let xml = br#"<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6" generator="hand">
  <node id="1" lat="36.2000" lon="37.1000"/>
  <node id="2" lat="36.2000" lon="37.1010"/>
  <node id="3" lat="36.2010" lon="37.1010"/>
  <node id="4" lat="36.2010" lon="37.1000"/>
  <node id="5" lat="36.2020" lon="37.1000"/>
  <way id="10"><nd ref="1"/><nd ref="2"/><nd ref="3"/><nd ref="4"/><nd ref="1"/>
    <tag k="highway" v="residential"/><tag k="name" v="Sh&#257;ri&#8216; al-Quds"/></way>
  <way id="11"><nd ref="4"/><nd ref="5"/><tag k="highway" v="footway"/></way>
  <way id="12"><nd ref="3"/><nd ref="99"/><nd ref="5"/><tag k="highway" v="primary"/><tag k="oneway" v="yes"/></way>
</osm>"#;
    let net = osm::import_xml(xml, "hand.osm", Profile::Car, &NoProgress).unwrap();
    let s = &net.meta.stats;
    assert_eq!((s.highway_ways, s.usable_ways, s.missing_nodes), (3, 2, 1));
    // The square (4 nodes, 8 arcs) is the strongly connected part; node 5
    // was only reachable through the missing node 99.
    assert_eq!((net.node_count(), net.arc_count()), (4, 8));
    assert_eq!(net.name_of(0), "Shāri‘ al-Quds");
    assert!(net.meta.attribution.contains("OpenStreetMap"));
}

/// A square of two-way streets 1-2-3-4 (ways 10-13, each one side) and a
/// spur 3-5 (way 14), with one sound restriction and one of each broken kind.
const BROKEN_RESTRICTIONS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6" generator="hand">
  <node id="1" lat="36.2000" lon="37.1000"/>
  <node id="2" lat="36.2000" lon="37.1010"/>
  <node id="3" lat="36.2010" lon="37.1010"/>
  <node id="4" lat="36.2010" lon="37.1000"/>
  <node id="5" lat="36.2020" lon="37.1020"/>
  <way id="10"><nd ref="1"/><nd ref="2"/><tag k="highway" v="residential"/></way>
  <way id="11"><nd ref="2"/><nd ref="3"/><tag k="highway" v="residential"/></way>
  <way id="12"><nd ref="3"/><nd ref="4"/><tag k="highway" v="residential"/></way>
  <way id="13"><nd ref="4"/><nd ref="1"/><tag k="highway" v="residential"/></way>
  <way id="14"><nd ref="3"/><nd ref="5"/><nd ref="2"/><tag k="highway" v="residential"/></way>
  <relation id="500"><member type="way" ref="10" role="from"/><member type="node" ref="2" role="via"/><member type="way" ref="11" role="to"/><tag k="type" v="restriction"/><tag k="restriction" v="no_left_turn"/></relation>
  <relation id="501"><member type="node" ref="2" role="via"/><member type="way" ref="11" role="to"/><tag k="type" v="restriction"/><tag k="restriction" v="no_left_turn"/></relation>
  <relation id="502"><member type="way" ref="10" role="from"/><member type="way" ref="11" role="to"/><tag k="type" v="restriction"/><tag k="restriction" v="no_left_turn"/></relation>
  <relation id="503"><member type="way" ref="10" role="from"/><member type="node" ref="2" role="via"/><tag k="type" v="restriction"/><tag k="restriction" v="no_left_turn"/></relation>
  <relation id="504"><member type="way" ref="10" role="from"/><member type="node" ref="3" role="via"/><member type="way" ref="11" role="to"/><tag k="type" v="restriction"/><tag k="restriction" v="no_left_turn"/></relation>
  <relation id="505"><member type="way" ref="14" role="from"/><member type="node" ref="5" role="via"/><member type="way" ref="11" role="to"/><tag k="type" v="restriction"/><tag k="restriction" v="only_straight_on"/></relation>
  <relation id="506"><member type="way" ref="10" role="from"/><member type="node" ref="2" role="via"/><member type="way" ref="11" role="to"/><tag k="type" v="restriction"/></relation>
  <relation id="507"><member type="relation" ref="1" role="from"/><member type="node" ref="2" role="via"/><member type="way" ref="11" role="to"/><tag k="type" v="restriction"/><tag k="restriction" v="no_u_turn"/></relation>
  <relation id="508"><member type="way" ref="999" role="from"/><member type="node" ref="2" role="via"/><member type="way" ref="11" role="to"/><tag k="type" v="restriction"/><tag k="restriction" v="no_right_turn"/></relation>
</osm>"#;

/// The issue's "a restriction relation that is broken (missing members)":
/// the import goes on, counts each broken relation, names it with what is
/// wrong, and applies the sound one; nothing panics.
#[test]
fn broken_restriction_relations_are_named_not_applied() {
    for p in Profile::ALL {
        let net = osm::import_xml(BROKEN_RESTRICTIONS.as_bytes(), "r.osm", p, &NoProgress).unwrap();
        let s = &net.meta.stats;
        // 500 applies; 508's from way is not in the extract (off the network).
        assert_eq!((s.restrictions, s.restrictions_applied, s.restrictions_broken, s.restrictions_off_network), (9, 1, 7, 1), "{p}: {s:?}");
        let named = s.broken_restrictions.join("\n");
        for (id, why) in [
            (501, "no from way"),
            (502, "no via member"),
            (503, "no to way"),
            (504, "via node 3 is not on its from way 10"),
            (505, "via node 5 is not an end of its from way 14"),
            (506, "no restriction tag"),
            (507, "its from member is a relation, not a way"),
        ] {
            assert!(named.contains(&format!("relation {id}: {why}")), "{p}: {id} {why}: {named}");
        }
        assert!(s.turn_nodes >= 1, "{p}");
    }
}
