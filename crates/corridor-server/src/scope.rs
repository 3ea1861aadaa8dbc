//! Which token may write which event. A write outside its scope is refused
//! (403) with a message saying which scope it lacks.

use corridor_model::{Body, Event, Incident, Registry};

use crate::tokens::{Role, TokenRecord};

/// Why a write was refused (403).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("event #{position} ({id:?}): {why}")]
pub struct Forbidden {
    pub position: usize,
    pub id: String,
    pub why: String,
}

/// Checks every event of a batch against the token, and every id a
/// checkpoint token's event names (corridor, convoy, vehicles, site,
/// corrected passage) against what `reg` (the log, with what is being
/// appended) says of it. Ids the log does not know are left to the model
/// to refuse.
pub fn authorize(t: &TokenRecord, events: &[Event], reg: &Registry) -> Result<(), Forbidden> {
    for (position, e) in events.iter().enumerate() {
        let no = |why: String| Forbidden { position, id: e.id.clone(), why };
        if e.author != t.author() {
            return Err(no(format!("its author is {:?}, but this token writes as {:?}: set \"author\": {:?}", e.author, t.author(), t.author())));
        }
        match t.role {
            Role::Hq => {}
            Role::Monitor => {
                return Err(no(format!(
                    "a monitor token cannot write operational events (this is a {}); monitors read everything and countersign checkpoints (POST /api/v1/checkpoint/cosign)",
                    e.body.kind()
                )))
            }
            Role::Checkpoint => {
                let own = t.checkpoint.as_deref().unwrap_or("");
                match &e.body {
                    Body::Passage(p) if p.checkpoint == own => {}
                    Body::Passage(p) => {
                        return Err(no(format!("this token records passages at checkpoint {own:?} only, not at {:?}: it lacks the scope checkpoint:{}", p.checkpoint, p.checkpoint)));
                    }
                    Body::EntryCorrected(c) => {
                        // Its own checkpoint's passages (earlier in this
                        // batch, or in the log), into passages there.
                        let in_batch = events[..position].iter().find(|x| x.id == c.corrects).and_then(|x| match &x.body {
                            Body::Passage(p) => Some(p.checkpoint.clone()),
                            _ => None,
                        });
                        match in_batch.or_else(|| reg.passage_checkpoint(&c.corrects)) {
                            Some(k) if k == own => {}
                            Some(k) => {
                                return Err(no(format!("this token corrects passages at checkpoint {own:?} only, and {:?} was counted at {k:?}: ask hq (an hq token corrects anything)", c.corrects)))
                            }
                            None => {
                                return Err(no(format!(
                                    "a checkpoint token corrects passages counted at its checkpoint only, and {:?} is not a passage there (or no longer stands): ask hq",
                                    c.corrects
                                )))
                            }
                        }
                        if let Some(b) = c.body.as_deref() {
                            match b {
                                Body::Passage(p) if p.checkpoint == own => {}
                                _ => return Err(no(format!("a correction from checkpoint {own:?} gives a passage at {own:?}; moving a count elsewhere is for hq"))),
                            }
                        }
                    }
                    Body::Incident(i) => incident_in_scope(own, i, reg).map_err(no)?,
                    other => {
                        return Err(no(format!(
                            "a checkpoint token writes passages, their corrections and incidents only, not {}: that needs an hq token",
                            other.kind()
                        )))
                    }
                }
            }
        }
    }
    Ok(())
}

/// Whether a checkpoint's incident stays on the corridor through that
/// checkpoint: it names that corridor, and the convoy, vehicles and site it
/// names are that corridor's.
fn incident_in_scope(own: &str, i: &Incident, reg: &Registry) -> Result<(), String> {
    let ours = reg.corridor_of_checkpoint(own).unwrap_or_default();
    let lacks = |what: &str, id: &str, theirs: &str| {
        format!("this token records incidents on corridor {ours:?} (through checkpoint {own:?}) only, and {what} {id:?} is on {theirs:?}: it lacks the scope corridor:{theirs} (ask hq, or the checkpoints of {theirs:?})")
    };
    let c = match &i.corridor {
        Some(c) if c == ours => c,
        Some(c) => return Err(format!("this token records incidents on the corridors through checkpoint {own:?} only, and {c:?} is not one of them: it lacks the scope corridor:{c}")),
        None => return Err(format!("an incident from checkpoint {own:?} must name its corridor (\"corridor\": one through {own:?})")),
    };
    if let Some(convoy) = &i.convoy {
        match reg.convoy_corridor(convoy) {
            Some(k) if k != c => return Err(lacks("convoy", convoy, k)),
            Some(_) => {
                if let Some(v) = i.vehicles.iter().find(|v| !reg.in_convoy(convoy, v)) {
                    return Err(format!("vehicle {v:?} is not one of convoy {convoy:?}'s vehicles: a checkpoint's incident names vehicles of the convoy it names"));
                }
            }
            None => {} // unknown: the model refuses it.
        }
    } else if let Some(v) = i.vehicles.first() {
        return Err(format!("an incident from checkpoint {own:?} naming vehicles ({v:?}, …) must name their convoy on {c:?} (\"convoy\")"));
    }
    if let (Some(site), Some(k)) = (&i.site, reg.corridor(c)) {
        if *site != k.from && *site != k.to {
            return Err(format!("this token records incidents on corridor {c:?} only, whose sites are {:?} and {:?}, not {site:?}: ask hq", k.from, k.to));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use corridor_model::{IncidentKind, Passage};
    use serde_json::json;

    fn token(role: Role, checkpoint: Option<&str>) -> TokenRecord {
        TokenRecord { id: "t".into(), sha256: String::new(), role, checkpoint: checkpoint.map(String::from), key: None, created: Utc::now(), expires: None, revoked: None }
    }

    fn event(id: &str, body: serde_json::Value) -> Event {
        serde_json::from_value(json!({"v": 1, "id": id, "time": "2016-12-15T04:00:00Z", "author": "hq", "body": body})).unwrap()
    }

    /// Two corridors: k (cp1, cp2; from site a to b), with convoy c-1
    /// (bus-1), and k2 (cp3, cp4; from c to d), with convoy c-2 (bus-2);
    /// passages p-cp1 and p-cp2 of bus-1.
    fn registry() -> Registry {
        let mut r = Registry::new();
        let corridor = |id: &str, from: &str, to: &str, cps: [&str; 2]| {
            json!({"corridor_declared": {"corridor": id, "name": id, "from": from, "to": to, "groups": ["women"], "max_transit_minutes": 60,
                "checkpoints": cps.iter().map(|c| json!({"id": c, "name": c})).collect::<Vec<_>>()}})
        };
        let mut events = vec![event("groups", json!({"groups_defined": {"groups": [{"id": "women", "label": "women"}]}}))];
        for site in ["a", "b", "c", "d"] {
            events.push(event(&format!("site-{site}"), json!({"site_declared": {"site": site, "name": site, "kind": "besieged"}})));
        }
        events.push(event("k", corridor("k", "a", "b", ["cp1", "cp2"])));
        events.push(event("k2", corridor("k2", "c", "d", ["cp3", "cp4"])));
        for (v, c, k) in [("bus-1", "c-1", "k"), ("bus-2", "c-2", "k2")] {
            events.push(event(v, json!({"vehicle_registered": {"vehicle": v, "kind": "bus", "operator": "x", "seats": 50, "stretchers": 0}})));
            events.push(event(c, json!({"convoy_dispatched": {"convoy": c, "corridor": k, "vehicles": [v]}})));
        }
        events.push(passage("hq", "cp1"));
        events.push(passage("hq", "cp2"));
        for e in &events {
            r.apply(e).unwrap_or_else(|err| panic!("{}: {err}", e.id));
        }
        r
    }

    fn passage(author: &str, checkpoint: &str) -> Event {
        Event::new(
            format!("p-{checkpoint}"),
            Utc::now(),
            author,
            Body::Passage(Passage { vehicle: "bus-1".into(), convoy: "c-1".into(), corridor: "k".into(), checkpoint: checkpoint.into(), counts: [("women".to_string(), 1)].into(), wounded: 0 }),
        )
    }

    fn incident(author: &str, corridor: Option<&str>) -> Event {
        Event::new(
            "i-1",
            Utc::now(),
            author,
            Body::Incident(Incident { incident: "i-1".into(), kind: IncidentKind::Halt, corridor: corridor.map(String::from), convoy: None, site: None, vehicles: vec![], killed: 0, description: "shots".into() }),
        )
    }

    #[test]
    fn each_role_writes_only_in_its_scope() {
        let reg = registry();
        let cp1 = token(Role::Checkpoint, Some("cp1"));
        assert!(authorize(&cp1, &[passage("cp1", "cp1"), incident("cp1", Some("k"))], &reg).is_ok());
        let e = authorize(&cp1, &[passage("cp1", "cp1"), passage("cp1", "cp2")], &reg).unwrap_err();
        assert_eq!((e.position, e.why.contains("lacks the scope checkpoint:cp2")), (1, true), "{e}");
        assert!(authorize(&cp1, &[incident("cp1", Some("k2"))], &reg).unwrap_err().why.contains("lacks the scope corridor:k2"));
        assert!(authorize(&cp1, &[incident("cp1", None)], &reg).unwrap_err().why.contains("must name its corridor"));
        // Writing under another name is refused too.
        assert!(authorize(&cp1, &[passage("hq", "cp1")], &reg).unwrap_err().why.contains("this token writes as \"cp1\""));
        let monitor = token(Role::Monitor, None);
        assert!(authorize(&monitor, &[passage("monitor", "cp1")], &reg).unwrap_err().why.starts_with("a monitor token cannot write operational events"));
        let hq = token(Role::Hq, None);
        assert!(authorize(&hq, &[passage("hq", "cp2"), incident("hq", None)], &reg).is_ok());
        // Corrections: a checkpoint's own passages only, into its own checkpoint.
        let fix = |target: &str, body: Option<Event>| {
            Event::new(
                format!("fix-{target}"),
                Utc::now(),
                "cp1",
                Body::EntryCorrected(corridor_model::Correction { corrects: target.into(), reason: "miscount".into(), time: None, body: body.map(|e| Box::new(e.body)), void: false }),
            )
        };
        assert!(authorize(&cp1, &[fix("p-cp1", Some(passage("cp1", "cp1")))], &reg).is_ok());
        assert!(authorize(&cp1, &[fix("p-cp2", Some(passage("cp1", "cp2")))], &reg).unwrap_err().why.contains("was counted at \"cp2\""));
        assert!(authorize(&cp1, &[fix("p-cp1", Some(passage("cp1", "cp2")))], &reg).unwrap_err().why.contains("moving a count elsewhere is for hq"));
        assert!(authorize(&cp1, &[fix("nope", Some(passage("cp1", "cp1")))], &reg).unwrap_err().why.contains("is not a passage there"));
        // A passage sent in the same batch can be corrected at once.
        let mut p = passage("cp1", "cp1");
        p.id = "fresh".into();
        assert!(authorize(&cp1, &[p, fix("fresh", Some(passage("cp1", "cp1")))], &reg).is_ok());
        assert!(authorize(&hq, &[Event { author: "hq".into(), ..fix("p-cp2", Some(passage("cp1", "cp2"))) }], &reg).is_ok());
    }

    /// Issue 20, item 4: an incident on its own corridor naming another
    /// corridor's convoy, vehicles or site was accepted from a checkpoint.
    #[test]
    fn a_checkpoints_incident_names_only_its_own_corridors_ids() {
        let reg = registry();
        let cp1 = token(Role::Checkpoint, Some("cp1"));
        let with = |convoy: Option<&str>, vehicles: &[&str], site: Option<&str>| {
            let mut e = incident("cp1", Some("k"));
            if let Body::Incident(i) = &mut e.body {
                i.kind = IncidentKind::VehicleLost;
                i.convoy = convoy.map(String::from);
                i.vehicles = vehicles.iter().map(|v| v.to_string()).collect();
                i.site = site.map(String::from);
            }
            authorize(&cp1, &[e], &reg).map_err(|e| e.why)
        };
        assert_eq!(with(Some("c-1"), &["bus-1"], Some("a")), Ok(()));
        assert_eq!(with(None, &[], Some("b")), Ok(()));
        assert!(with(Some("c-2"), &["bus-2"], None).unwrap_err().contains("lacks the scope corridor:k2"));
        assert!(with(Some("c-2"), &[], None).unwrap_err().contains("convoy \"c-2\" is on \"k2\""));
        assert!(with(Some("c-1"), &["bus-2"], None).unwrap_err().contains("\"bus-2\" is not one of convoy \"c-1\"'s vehicles"));
        assert!(with(None, &["bus-2"], None).unwrap_err().contains("must name their convoy"));
        assert!(with(None, &[], Some("c")).unwrap_err().contains("not \"c\""));
        // hq names anything.
        let mut e = incident("hq", Some("k"));
        if let Body::Incident(i) = &mut e.body {
            (i.convoy, i.vehicles) = (Some("c-2".into()), vec!["bus-2".into()]);
        }
        assert!(authorize(&token(Role::Hq, None), &[e], &reg).is_ok());
    }
}
