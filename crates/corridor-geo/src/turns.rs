//! OpenStreetMap turn restrictions (`type=restriction` relations) and how
//! the road graph carries them.
//!
//! **What is read** ([`read_relation`]): `restriction=no_*` (a turn that
//! may not be taken) and `restriction=only_*` (the one turn that may be
//! taken) with `from` way(s), one `via` node and `to` way(s), as OSRM's
//! car profile reads them (any `no_*`/`only_*` value, `no_entry` with
//! several `from` ways, `no_exit` with several `to` ways).
//! `restriction:MODE=*` and `type=restriction:MODE` bind a vehicle only
//! for the modes of [`Profile::restriction_modes`] (the most specific tag
//! first); `except=psv;bus;…` waives it for a vehicle that
//! [`Profile::restriction_exempt_modes`] names. **Not applied, counted**
//! ([`crate::ImportStats`]): via-way restrictions, time-conditional ones
//! (`restriction:conditional`), restrictions on roads the vehicle does not
//! use, and broken relations (a missing `from`/`via`/`to` member, a via
//! node that is not an end of its `from` or `to` way, an unknown value),
//! whose ids the import names.
//!
//! **How the graph carries them** ([`split_turns`]): a junction where a
//! restriction starts gets one extra node (same position) per restricted
//! incoming arc; that arc now ends at its copy, and the copy leaves only
//! by the arcs the turn rules allow. The junction's own node keeps every
//! other incoming arc and every outgoing arc, so a route that starts at
//! the junction, or arrives by an unrestricted road, turns freely.
//! [`crate::RoadNetwork::junction`] maps every node to the junction it
//! belongs to, so snapping and geometry see one junction. The graph stays
//! node-based, so the CCH, its customization and its queries do not
//! change; every path in it is a path of the original roads that obeys
//! the rules, and every such path is one in it.

use std::collections::HashMap;

use crate::graph::RoadNetwork;
use crate::profile::{Profile, Tags};

/// A relation member's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberKind {
    Node,
    Way,
    Relation,
}

/// A turn restriction as read from OSM: OSM ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restriction {
    /// The relation's id.
    pub id: i64,
    /// `only_*` (true) or `no_*`.
    pub only: bool,
    pub from: Vec<i64>,
    pub via: i64,
    pub to: Vec<i64>,
}

/// What a restriction relation means for one vehicle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reading {
    /// A restriction the vehicle obeys (if its roads are in the network).
    Applies(Restriction),
    /// `except=` names the vehicle, or only another mode is restricted.
    NotForVehicle,
    /// Only a time-conditional restriction (`restriction:conditional`).
    Conditional,
    /// A via-way restriction: not supported, not applied.
    ViaWay,
    /// A relation that cannot be applied, and why.
    Broken(String),
}

/// Reads a relation for `profile`: `None` if it is not a turn restriction.
pub fn read_relation(profile: Profile, tags: &[(String, String)], members: &[(MemberKind, i64, String)], id: i64) -> Option<Reading> {
    let ty = Tags::get(tags, "type")?;
    let value = if ty == "restriction" {
        let specific = profile.restriction_modes().iter().find_map(|m| Tags::get(tags, &format!("restriction:{m}")));
        match specific.or(Tags::get(tags, "restriction")) {
            Some(v) => v,
            None if tags.iter().any(|(k, _)| k == "restriction:conditional") => return Some(Reading::Conditional),
            None if tags.iter().any(|(k, _)| k.starts_with("restriction:")) => return Some(Reading::NotForVehicle),
            None => return Some(Reading::Broken("no restriction tag".into())),
        }
    } else if let Some(mode) = ty.strip_prefix("restriction:") {
        if !profile.restriction_modes().contains(&mode) {
            return Some(Reading::NotForVehicle);
        }
        match Tags::get(tags, "restriction") {
            Some(v) => v,
            None => return Some(Reading::Broken("no restriction tag".into())),
        }
    } else {
        return None;
    };
    if let Some(except) = Tags::get(tags, "except") {
        if except.split(';').map(str::trim).any(|m| profile.restriction_exempt_modes().contains(&m)) {
            return Some(Reading::NotForVehicle);
        }
    }
    let value = value.trim();
    let only = if value.starts_with("only_") {
        true
    } else if value.starts_with("no_") {
        false
    } else {
        return Some(Reading::Broken(format!("restriction={value} is neither no_* nor only_*")));
    };
    let (mut from, mut via_nodes, mut via_ways, mut to) = (Vec::new(), Vec::new(), 0, Vec::new());
    for (kind, r, role) in members {
        match (role.as_str(), kind) {
            ("from", MemberKind::Way) => from.push(*r),
            ("to", MemberKind::Way) => to.push(*r),
            ("via", MemberKind::Node) => via_nodes.push(*r),
            ("via", MemberKind::Way) => via_ways += 1,
            ("from" | "to" | "via", k) => return Some(Reading::Broken(format!("its {role} member is a {k:?}, not a way{}", if role == "via" { " or a node" } else { "" }).to_lowercase())),
            _ => {}
        }
    }
    if from.is_empty() {
        return Some(Reading::Broken("no from way".into()));
    }
    if to.is_empty() {
        return Some(Reading::Broken("no to way".into()));
    }
    if via_ways > 0 && via_nodes.is_empty() {
        return Some(Reading::ViaWay);
    }
    match via_nodes[..] {
        [via] if via_ways == 0 => Some(Reading::Applies(Restriction { id, only, from, via, to })),
        [] => Some(Reading::Broken("no via member".into())),
        _ => Some(Reading::Broken("more than one via member".into())),
    }
}

/// One turn a restriction governs, on a network with one node per
/// junction: arc `from` into the via node, arc `to` out of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TurnRule {
    /// The OSM relation.
    pub id: i64,
    pub from: u32,
    pub to: u32,
    /// `only_*`: from `from`, only the `to` arcs of `only` rules are allowed.
    pub only: bool,
}

/// Whether each turn `from → to` is allowed under `rules` (grouped by
/// their `from` arc): not named by a `no` rule, and named by an `only`
/// rule if `from` has any.
pub struct TurnTable {
    by_from: HashMap<u32, (Vec<u32>, Vec<u32>)>,
}

impl TurnTable {
    pub fn new(rules: &[TurnRule]) -> Self {
        let mut by_from: HashMap<u32, (Vec<u32>, Vec<u32>)> = HashMap::new();
        for r in rules {
            let e = by_from.entry(r.from).or_default();
            if r.only { e.1.push(r.to) } else { e.0.push(r.to) }
        }
        TurnTable { by_from }
    }
    /// Whether arc `from` has rules.
    pub fn restricted(&self, from: u32) -> bool {
        self.by_from.contains_key(&from)
    }
    pub fn allowed(&self, from: u32, to: u32) -> bool {
        match self.by_from.get(&from) {
            None => true,
            Some((no, only)) => !no.contains(&to) && (only.is_empty() || only.contains(&to)),
        }
    }
}

/// The network with its turn rules built in (see the module doc): node
/// `v < net.node_count()` stays the junction it was; each restricted arc
/// gets a copy of its head, appended. Arcs keep their order by tail; with
/// no rules the network is returned as it is.
pub fn split_turns(net: RoadNetwork, rules: &[TurnRule]) -> RoadNetwork {
    if rules.is_empty() {
        return net;
    }
    let n0 = net.node_count();
    let m0 = net.arc_count();
    let table = TurnTable::new(rules);
    // A copy per restricted arc, in arc order.
    let restricted: Vec<u32> = (0..m0 as u32).filter(|&a| table.restricted(a)).collect();
    let mut copy_of: HashMap<u32, u32> = HashMap::with_capacity(restricted.len());
    let mut junction: Vec<u32> = net.junction.clone();
    let (mut lat, mut lon) = (net.lat.clone(), net.lon.clone());
    // The restricted arcs into each node, and the copies they lead to.
    let mut copies_at: HashMap<u32, Vec<(u32, u32)>> = HashMap::new();
    for &a in &restricted {
        let v = net.head[a as usize];
        let c = lat.len() as u32;
        lat.push(net.lat[v as usize]);
        lon.push(net.lon[v as usize]);
        junction.push(junction[v as usize]);
        copy_of.insert(a, c);
        copies_at.entry(v).or_default().push((a, c));
    }
    // Each original arc: from its tail (any turn onto it from there), and
    // from every copy at its tail whose turn onto it is allowed.
    let mut arcs: Vec<(u32, u32, usize)> = Vec::with_capacity(m0 + restricted.len() * 4);
    for o in 0..m0 {
        let (u, v) = (net.tail[o], net.head[o]);
        let head = copy_of.get(&(o as u32)).copied().unwrap_or(v);
        arcs.push((u, head, o));
        for &(f, c) in copies_at.get(&u).map(Vec::as_slice).unwrap_or(&[]) {
            if table.allowed(f, o as u32) {
                arcs.push((c, head, o));
            }
        }
    }
    arcs.sort_by_key(|&(t, _, o)| (t, o));
    let n = lat.len();
    let mut first_out = vec![0u32; n + 1];
    for &(t, _, _) in &arcs {
        first_out[t as usize + 1] += 1;
    }
    for i in 0..n {
        first_out[i + 1] += first_out[i];
    }
    let pick = |v: &[u32]| arcs.iter().map(|&(_, _, o)| v[o]).collect::<Vec<u32>>();
    let mut meta = net.meta.clone();
    meta.stats.turn_nodes = (n - n0) as u64;
    meta.stats.turn_arcs = (arcs.len() - m0) as u64;
    RoadNetwork {
        first_out,
        tail: arcs.iter().map(|a| a.0).collect(),
        head: arcs.iter().map(|a| a.1).collect(),
        time_ms: pick(&net.time_ms),
        length_m: arcs.iter().map(|&(_, _, o)| net.length_m[o]).collect(),
        capacity_vph: pick(&net.capacity_vph),
        class: arcs.iter().map(|&(_, _, o)| net.class[o]).collect(),
        destination: arcs.iter().map(|&(_, _, o)| net.destination[o]).collect(),
        name: pick(&net.name),
        names: net.names,
        lat,
        lon,
        junction,
        meta,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn m(list: &[(MemberKind, i64, &str)]) -> Vec<(MemberKind, i64, String)> {
        list.iter().map(|&(k, r, role)| (k, r, role.to_string())).collect()
    }

    #[test]
    fn reads_restrictions_per_vehicle() {
        use MemberKind::*;
        let members = m(&[(Way, 1, "from"), (Node, 5, "via"), (Way, 2, "to")]);
        let read = |p, tags: &[(&str, &str)]| read_relation(p, &t(tags), &members, 7);
        let applies = |only| Some(Reading::Applies(Restriction { id: 7, only, from: vec![1], via: 5, to: vec![2] }));
        assert_eq!(read(Profile::Car, &[("type", "restriction"), ("restriction", "no_left_turn")]), applies(false));
        assert_eq!(read(Profile::Car, &[("type", "restriction"), ("restriction", "only_straight_on")]), applies(true));
        assert_eq!(read(Profile::Car, &[("type", "multipolygon")]), None);
        // except= per vehicle.
        let except = [("type", "restriction"), ("restriction", "no_left_turn"), ("except", "psv; bicycle")];
        assert_eq!(read(Profile::Car, &except), applies(false));
        assert_eq!(read(Profile::Bus, &except), Some(Reading::NotForVehicle));
        assert_eq!(read(Profile::Ambulance, &except), applies(false));
        let except = [("type", "restriction"), ("restriction", "no_left_turn"), ("except", "emergency")];
        assert_eq!(read(Profile::Ambulance, &except), Some(Reading::NotForVehicle));
        assert_eq!(read(Profile::Bus, &[("type", "restriction"), ("restriction", "no_left_turn"), ("except", "motorcar")]), applies(false));
        // Mode-specific tags.
        let hgv = [("type", "restriction"), ("restriction:hgv", "no_left_turn")];
        assert_eq!(read(Profile::Car, &hgv), Some(Reading::NotForVehicle));
        assert_eq!(read(Profile::Bus, &hgv), applies(false));
        assert_eq!(read(Profile::Bus, &[("type", "restriction:hgv"), ("restriction", "no_left_turn")]), applies(false));
        assert_eq!(read(Profile::Car, &[("type", "restriction:hgv"), ("restriction", "no_left_turn")]), Some(Reading::NotForVehicle));
        let both = [("type", "restriction"), ("restriction", "no_left_turn"), ("restriction:bus", "only_straight_on")];
        assert_eq!(read(Profile::Bus, &both), applies(true));
        assert_eq!(read(Profile::Car, &both), applies(false));
        let cond = [("type", "restriction"), ("restriction:conditional", "no_left_turn @ (Mo-Fr 07:00-09:00)")];
        assert_eq!(read(Profile::Car, &cond), Some(Reading::Conditional));
        assert!(matches!(read(Profile::Car, &[("type", "restriction"), ("restriction", "yield")]), Some(Reading::Broken(_))));
        assert!(matches!(read(Profile::Car, &[("type", "restriction")]), Some(Reading::Broken(_))));
    }

    #[test]
    fn broken_members_are_named() {
        use MemberKind::*;
        let tags = t(&[("type", "restriction"), ("restriction", "no_u_turn")]);
        let read = |list: &[(MemberKind, i64, &str)]| read_relation(Profile::Car, &tags, &m(list), 1).unwrap();
        let broken = |r: Reading| match r {
            Reading::Broken(why) => why,
            other => panic!("{other:?}"),
        };
        assert_eq!(broken(read(&[(Node, 5, "via"), (Way, 2, "to")])), "no from way");
        assert_eq!(broken(read(&[(Way, 1, "from"), (Node, 5, "via")])), "no to way");
        assert_eq!(broken(read(&[(Way, 1, "from"), (Way, 2, "to")])), "no via member");
        assert_eq!(broken(read(&[(Way, 1, "from"), (Node, 5, "via"), (Node, 6, "via"), (Way, 2, "to")])), "more than one via member");
        assert!(broken(read(&[(Node, 1, "from"), (Node, 5, "via"), (Way, 2, "to")])).contains("from member is a node"));
        assert_eq!(read(&[(Way, 1, "from"), (Way, 3, "via"), (Way, 2, "to")]), Reading::ViaWay);
        // no_entry: several from ways.
        assert_eq!(
            read(&[(Way, 1, "from"), (Way, 3, "from"), (Node, 5, "via"), (Way, 2, "to")]),
            Reading::Applies(Restriction { id: 1, only: false, from: vec![1, 3], via: 5, to: vec![2] })
        );
    }
}
