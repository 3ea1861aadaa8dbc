//! OpenStreetMap import: `.osm.pbf` (with `osmpbf`) and `.osm` XML (with
//! `quick-xml`) into a [`RoadNetwork`]. Two passes over the data: the ways
//! the profile may use, then the positions of their nodes and the nodes it
//! may not pass (barriers, node access tags), where the ways are cut.
//! Turn restriction relations are read with the ways and built into the
//! network ([`crate::turns`]); [`import_pbf_parts`] and
//! [`import_xml_parts`] give the network without them built in and the
//! turns they govern.

use std::collections::{HashMap, HashSet};
use std::io::{Cursor, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use osmpbf::{BlobDecode, BlobReader, Element};

use crate::graph::{NetworkBuilder, NetworkMeta, RoadNetwork};
use crate::profile::{node_passable, way_rule, Profile};
use crate::turns::{read_relation, split_turns, MemberKind, Reading, TurnRule};
use crate::{GeoError, Progress};

/// The attribution every network made from OpenStreetMap carries.
pub const OSM_ATTRIBUTION: &str = "© OpenStreetMap contributors (ODbL 1.0)";

/// A way's id, node ids and tags.
type RawWay = (i64, Vec<i64>, Vec<(String, String)>);

/// A relation's members: kind, id, role.
type Members = Vec<(MemberKind, i64, String)>;

/// A relation being read from XML: id, tags, members.
type RawRelation = (i64, Vec<(String, String)>, Members);

/// Imports an `.osm.pbf` extract held in memory. `name` names it in errors.
pub fn import_pbf(bytes: &[u8], name: &str, profile: Profile, progress: &dyn Progress) -> Result<RoadNetwork, GeoError> {
    let (net, rules) = import_pbf_parts(bytes, name, profile, progress)?;
    Ok(split_turns(net, &rules))
}

/// Imports an OpenStreetMap XML (`.osm`) file held in memory.
pub fn import_xml(text: &[u8], name: &str, profile: Profile, progress: &dyn Progress) -> Result<RoadNetwork, GeoError> {
    let (net, rules) = import_xml_parts(text, name, profile, progress)?;
    Ok(split_turns(net, &rules))
}

/// As [`import_pbf`], without the turn restrictions built in: the network
/// with one node per junction and the turns the restrictions govern.
pub fn import_pbf_parts(bytes: &[u8], name: &str, profile: Profile, progress: &dyn Progress) -> Result<(RoadNetwork, Vec<TurnRule>), GeoError> {
    let bad = |e: osmpbf::Error| GeoError::Pbf { file: name.to_string(), reason: e.to_string() };
    if bytes.is_empty() {
        return Err(GeoError::Pbf { file: name.to_string(), reason: "the file is empty".into() });
    }
    let total = bytes.len() as u64 * 2;
    let mut ways: Vec<RawWay> = Vec::new();
    let mut relations: Vec<(i64, Reading)> = Vec::new();
    let mut highway_ways = 0u64;
    let mut saw_header = false;

    // Pass 1: ways.
    let read = Arc::new(AtomicU64::new(0));
    for blob in BlobReader::new(Counting { inner: Cursor::new(bytes), read: read.clone() }) {
        let blob = blob.map_err(bad)?;
        match blob.decode().map_err(bad)? {
            BlobDecode::OsmHeader(_) => saw_header = true,
            BlobDecode::OsmData(block) => {
                for el in block.elements() {
                    match el {
                        Element::Way(w) => {
                            let tags: Vec<(String, String)> = w.tags().map(|(k, v)| (k.to_string(), v.to_string())).collect();
                            if tags.iter().any(|(k, _)| k == "highway") {
                                highway_ways += 1;
                                if way_rule(profile, &tags).is_some() {
                                    ways.push((w.id(), w.refs().collect(), tags));
                                }
                            }
                        }
                        Element::Relation(r) => {
                            let tags: Vec<(String, String)> = r.tags().map(|(k, v)| (k.to_string(), v.to_string())).collect();
                            if !tags.iter().any(|(k, v)| k == "type" && v.starts_with("restriction")) {
                                continue;
                            }
                            // osmpbf converts a member's type with protobuf's
                            // panicking `unwrap` (a corrupt file may hold an
                            // unknown type): such a relation counts as broken.
                            let members = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                                r.members()
                                    .map(|m| {
                                        let kind = match m.member_type {
                                            osmpbf::RelMemberType::Node => MemberKind::Node,
                                            osmpbf::RelMemberType::Way => MemberKind::Way,
                                            osmpbf::RelMemberType::Relation => MemberKind::Relation,
                                        };
                                        (kind, m.member_id, m.role().unwrap_or("").to_string())
                                    })
                                    .collect::<Members>()
                            }));
                            let reading = match members {
                                Ok(members) => read_relation(profile, &tags, &members, r.id()),
                                Err(_) => Some(Reading::Broken("a member of an unknown type".into())),
                            };
                            if let Some(reading) = reading {
                                relations.push((r.id(), reading));
                            }
                        }
                        _ => {}
                    }
                }
            }
            BlobDecode::Unknown(_) => {}
        }
        progress.set(read.load(Ordering::Relaxed), total);
    }
    if !saw_header {
        return Err(GeoError::Pbf { file: name.to_string(), reason: "no OSMHeader block: not an OpenStreetMap PBF file".into() });
    }

    // Pass 2: the positions of the nodes those ways use, and which of them
    // the profile may not pass.
    let mut blocked: HashSet<i64> = HashSet::new();
    let mut pos: HashMap<i64, (f64, f64)> = ways.iter().flat_map(|w| w.1.iter().map(|&r| (r, (f64::NAN, f64::NAN)))).collect();
    let read = Arc::new(AtomicU64::new(0));
    for blob in BlobReader::new(Counting { inner: Cursor::new(bytes), read: read.clone() }) {
        let blob = blob.map_err(bad)?;
        if let BlobDecode::OsmData(block) = blob.decode().map_err(bad)? {
            for el in block.elements() {
                let (id, lat, lon, tags): (i64, f64, f64, Vec<(String, String)>) = match el {
                    Element::Node(n) => (n.id(), n.lat(), n.lon(), n.tags().map(|(k, v)| (k.to_string(), v.to_string())).collect()),
                    Element::DenseNode(n) => (n.id(), n.lat(), n.lon(), n.tags().map(|(k, v)| (k.to_string(), v.to_string())).collect()),
                    _ => continue,
                };
                if let Some(p) = pos.get_mut(&id) {
                    *p = (lat, lon);
                    if !tags.is_empty() && !node_passable(profile, &tags) {
                        blocked.insert(id);
                    }
                }
            }
        }
        progress.set(bytes.len() as u64 + read.load(Ordering::Relaxed), total);
    }
    build(ways, relations, &pos, &blocked, highway_ways, name, profile)
}

/// As [`import_xml`], without the turn restrictions built in (see
/// [`import_pbf_parts`]).
pub fn import_xml_parts(text: &[u8], name: &str, profile: Profile, progress: &dyn Progress) -> Result<(RoadNetwork, Vec<TurnRule>), GeoError> {
    use quick_xml::events::Event as X;
    let bad = |pos: u64, reason: String| GeoError::OsmXml { file: name.to_string(), position: pos, reason };
    let mut reader = quick_xml::Reader::from_reader(text);
    let mut buf = Vec::new();
    let mut pos: HashMap<i64, (f64, f64)> = HashMap::new();
    let mut ways: Vec<RawWay> = Vec::new();
    let mut highway_ways = 0u64;
    let mut current: Option<RawWay> = None;
    // The relation being read: id, tags, members.
    let mut relation: Option<RawRelation> = None;
    let mut relations: Vec<(i64, Reading)> = Vec::new();
    // The node being read (its id and tags), and the nodes the profile may not pass.
    let mut node: Option<(i64, Vec<(String, String)>)> = None;
    let mut blocked: HashSet<i64> = HashSet::new();
    let mut saw_osm = false;
    loop {
        let at = reader.buffer_position();
        let ev = reader.read_event_into(&mut buf).map_err(|e| bad(at, e.to_string()))?;
        let (start, empty) = match &ev {
            X::Start(s) => (Some(s.clone()), false),
            X::Empty(s) => (Some(s.clone()), true),
            X::End(e) if e.name().as_ref() == b"way" => {
                if let Some((id, refs, tags)) = current.take() {
                    if tags.iter().any(|(k, _)| k == "highway") {
                        highway_ways += 1;
                        if way_rule(profile, &tags).is_some() {
                            ways.push((id, refs, tags));
                        }
                    }
                }
                (None, false)
            }
            X::End(e) if e.name().as_ref() == b"relation" => {
                if let Some((id, tags, members)) = relation.take() {
                    if let Some(reading) = read_relation(profile, &tags, &members, id) {
                        relations.push((id, reading));
                    }
                }
                (None, false)
            }
            X::End(e) if e.name().as_ref() == b"node" => {
                if let Some((id, tags)) = node.take() {
                    if !node_passable(profile, &tags) {
                        blocked.insert(id);
                    }
                }
                (None, false)
            }
            X::Eof => break,
            _ => (None, false),
        };
        if let Some(s) = start {
            let attr = |key: &[u8]| -> Result<Option<String>, GeoError> {
                for a in s.attributes() {
                    let a = a.map_err(|e| bad(at, e.to_string()))?;
                    if a.key.as_ref() == key {
                        let v = a.unescape_value().map_err(|e| bad(at, e.to_string()))?;
                        return Ok(Some(v.into_owned()));
                    }
                }
                Ok(None)
            };
            let num = |key: &[u8]| -> Result<f64, GeoError> {
                let v = attr(key)?.ok_or_else(|| bad(at, format!("<{}> has no {} attribute", String::from_utf8_lossy(s.name().as_ref()), String::from_utf8_lossy(key))))?;
                v.parse::<f64>().map_err(|_| bad(at, format!("{}=\"{v}\" is not a number", String::from_utf8_lossy(key))))
            };
            match s.name().as_ref() {
                b"osm" => saw_osm = true,
                b"node" => {
                    let id = num(b"id")? as i64;
                    let (lat, lon) = (num(b"lat")?, num(b"lon")?);
                    pos.insert(id, (lat, lon));
                    node = if empty { None } else { Some((id, Vec::new())) };
                }
                b"way" => {
                    current = if empty { None } else { Some((opt_id(attr(b"id")?), Vec::new(), Vec::new())) };
                }
                b"relation" => {
                    relation = if empty { None } else { Some((opt_id(attr(b"id")?), Vec::new(), Vec::new())) };
                }
                b"member" => {
                    if let Some((_, _, members)) = relation.as_mut() {
                        let kind = match attr(b"type")?.as_deref() {
                            Some("node") => MemberKind::Node,
                            Some("way") => MemberKind::Way,
                            _ => MemberKind::Relation,
                        };
                        members.push((kind, num(b"ref")? as i64, attr(b"role")?.unwrap_or_default()));
                    }
                }
                b"nd" => {
                    if let Some((_, refs, _)) = current.as_mut() {
                        refs.push(num(b"ref")? as i64);
                    }
                }
                b"tag" => {
                    if let Some(tags) = current.as_mut().map(|(_, _, t)| t).or(node.as_mut().map(|(_, t)| t)).or(relation.as_mut().map(|(_, t, _)| t)) {
                        let k = attr(b"k")?.unwrap_or_default();
                        let v = attr(b"v")?.unwrap_or_default();
                        tags.push((k, v));
                    }
                }
                _ => {}
            }
        }
        buf.clear();
        progress.set(reader.buffer_position(), text.len() as u64);
    }
    if !saw_osm {
        return Err(bad(0, "no <osm> element: not an OpenStreetMap XML file".into()));
    }
    build(ways, relations, &pos, &blocked, highway_ways, name, profile)
}

/// An element's id attribute (0 if it has none).
fn opt_id(v: Option<String>) -> i64 {
    v.and_then(|v| v.trim().parse().ok()).unwrap_or(0)
}

/// Builds the network; a node in `blocked` is cut: each way that passes it
/// ends there and starts again, each end its own copy joined to nothing
/// else, so no route passes it.
fn build(
    ways: Vec<RawWay>,
    relations: Vec<(i64, Reading)>,
    pos: &HashMap<i64, (f64, f64)>,
    blocked: &HashSet<i64>,
    highway_ways: u64,
    name: &str,
    profile: Profile,
) -> Result<(RoadNetwork, Vec<TurnRule>), GeoError> {
    let mut b = NetworkBuilder::for_profile(profile);
    // Keys of the cut copies: below every OSM id.
    let mut next_cut = i64::MIN;
    b.stats_mut().highway_ways = highway_ways;
    b.stats_mut().usable_ways = ways.len() as u64;
    add_restrictions(&mut b, relations, &ways);
    let mut nodes: Vec<(i64, f64, f64)> = Vec::new();
    for (id, refs, tags) in ways {
        // A way whose nodes are partly outside a clipped extract splits at
        // the missing nodes.
        let mut missing = 0;
        nodes.clear();
        for r in refs {
            match pos.get(&r) {
                Some(&(lat, lon)) if lat.is_finite() && (-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon) => {
                    if blocked.contains(&r) {
                        // End the piece so far at one copy, start the next at another.
                        next_cut += 1;
                        nodes.push((next_cut, lat, lon));
                        if nodes.len() >= 2 {
                            b.add_osm_way(id, &nodes, &tags, 1.0);
                        }
                        nodes.clear();
                        next_cut += 1;
                        nodes.push((next_cut, lat, lon));
                    } else {
                        nodes.push((r, lat, lon))
                    }
                }
                _ => {
                    missing += 1;
                    if nodes.len() >= 2 {
                        b.add_osm_way(id, &nodes, &tags, 1.0);
                    }
                    nodes.clear();
                }
            }
        }
        if nodes.len() >= 2 {
            b.add_osm_way(id, &nodes, &tags, 1.0);
        }
        b.stats_mut().missing_nodes += missing;
    }
    b.finish_parts(NetworkMeta { source: name.to_string(), attribution: OSM_ATTRIBUTION.into(), approximate: false, ..Default::default() })
}

/// Counts the restriction relations read and hands the builder those the
/// vehicle obeys whose via node is an end of each of their usable from and
/// to ways (the OSM rule: a way that passes the via node must be split
/// there); the others are counted as broken, with their ids.
fn add_restrictions(b: &mut NetworkBuilder, relations: Vec<(i64, Reading)>, ways: &[RawWay]) {
    if relations.is_empty() {
        return;
    }
    let refs: HashMap<i64, &[i64]> = ways.iter().map(|(id, r, _)| (*id, r.as_slice())).collect();
    for (id, reading) in relations {
        let s = b.stats_mut();
        s.restrictions += 1;
        match reading {
            Reading::NotForVehicle => s.restrictions_not_for_vehicle += 1,
            Reading::Conditional => s.restrictions_conditional += 1,
            Reading::ViaWay => s.restrictions_via_way += 1,
            Reading::Broken(why) => s.note_broken(id, &why),
            Reading::Applies(r) => {
                let off_end = |role: &str, ways: &[i64]| {
                    ways.iter().find_map(|w| {
                        let nodes = refs.get(w)?;
                        (nodes.first() != Some(&r.via) && nodes.last() != Some(&r.via)).then(|| {
                            if nodes.contains(&r.via) {
                                format!("via node {} is not an end of its {role} way {w} (the way must be split there)", r.via)
                            } else {
                                format!("via node {} is not on its {role} way {w}", r.via)
                            }
                        })
                    })
                };
                match off_end("from", &r.from).or_else(|| off_end("to", &r.to)) {
                    Some(why) => s.note_broken(id, &why),
                    None => b.add_restriction(r),
                }
            }
        }
    }
}

struct Counting<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}
