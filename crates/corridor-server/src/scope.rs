//! Which token may write which event. A write outside its scope is refused
//! (403) with a message saying which scope it lacks.

use std::collections::{BTreeMap, BTreeSet};

use corridor_model::{Body, Event};

use crate::tokens::{Role, TokenRecord};

/// Why a write was refused (403).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("event #{position} ({id:?}): {why}")]
pub struct Forbidden {
    pub position: usize,
    pub id: String,
    pub why: String,
}

/// Checks every event of a batch against the token. `corridors_of` maps a
/// checkpoint id to the corridors it is on (from the log);
/// `passage_checkpoint` gives the checkpoint a passage (by event id) stands
/// at now, for corrections.
pub fn authorize(
    t: &TokenRecord,
    events: &[Event],
    corridors_of: &BTreeMap<String, BTreeSet<String>>,
    passage_checkpoint: &dyn Fn(&str) -> Option<String>,
) -> Result<(), Forbidden> {
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
                        match in_batch.or_else(|| passage_checkpoint(&c.corrects)) {
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
                    Body::Incident(i) => {
                        let ours = corridors_of.get(own);
                        match &i.corridor {
                            Some(c) if ours.is_some_and(|s| s.contains(c)) => {}
                            Some(c) => {
                                return Err(no(format!("this token records incidents on the corridors through checkpoint {own:?} only, and {c:?} is not one of them: it lacks the scope corridor:{c}")));
                            }
                            None => return Err(no(format!("an incident from checkpoint {own:?} must name its corridor (\"corridor\": one through {own:?})"))),
                        }
                    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use corridor_model::{Incident, IncidentKind, Passage};

    fn token(role: Role, checkpoint: Option<&str>) -> TokenRecord {
        TokenRecord { id: "t".into(), sha256: String::new(), role, checkpoint: checkpoint.map(String::from), key: None, created: Utc::now(), expires: None, revoked: None }
    }

    fn passage(author: &str, checkpoint: &str) -> Event {
        Event::new(
            format!("p-{checkpoint}"),
            Utc::now(),
            author,
            Body::Passage(Passage { vehicle: "bus-1".into(), convoy: "c-1".into(), corridor: "k".into(), checkpoint: checkpoint.into(), counts: Default::default(), wounded: 0 }),
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
        let on: BTreeMap<String, BTreeSet<String>> = [("cp1".to_string(), ["k".to_string()].into())].into();
        let cp1 = token(Role::Checkpoint, Some("cp1"));
        let at = |id: &str| match id {
            "p-cp1" => Some("cp1".to_string()),
            "p-cp2" => Some("cp2".to_string()),
            _ => None,
        };
        assert!(authorize(&cp1, &[passage("cp1", "cp1"), incident("cp1", Some("k"))], &on, &at).is_ok());
        let e = authorize(&cp1, &[passage("cp1", "cp1"), passage("cp1", "cp2")], &on, &at).unwrap_err();
        assert_eq!((e.position, e.why.contains("lacks the scope checkpoint:cp2")), (1, true), "{e}");
        assert!(authorize(&cp1, &[incident("cp1", Some("other"))], &on, &at).unwrap_err().why.contains("lacks the scope corridor:other"));
        assert!(authorize(&cp1, &[incident("cp1", None)], &on, &at).unwrap_err().why.contains("must name its corridor"));
        // Writing under another name is refused too.
        assert!(authorize(&cp1, &[passage("hq", "cp1")], &on, &at).unwrap_err().why.contains("this token writes as \"cp1\""));
        let monitor = token(Role::Monitor, None);
        assert!(authorize(&monitor, &[passage("monitor", "cp1")], &on, &at).unwrap_err().why.starts_with("a monitor token cannot write operational events"));
        let hq = token(Role::Hq, None);
        assert!(authorize(&hq, &[passage("hq", "cp2"), incident("hq", None)], &on, &at).is_ok());
        // Corrections: a checkpoint's own passages only, into its own checkpoint.
        let fix = |target: &str, body: Option<Event>| {
            Event::new(
                format!("fix-{target}"),
                Utc::now(),
                "cp1",
                Body::EntryCorrected(corridor_model::Correction { corrects: target.into(), reason: "miscount".into(), time: None, body: body.map(|e| Box::new(e.body)), void: false }),
            )
        };
        assert!(authorize(&cp1, &[fix("p-cp1", Some(passage("cp1", "cp1")))], &on, &at).is_ok());
        assert!(authorize(&cp1, &[fix("p-cp2", Some(passage("cp1", "cp2")))], &on, &at).unwrap_err().why.contains("was counted at \"cp2\""));
        assert!(authorize(&cp1, &[fix("p-cp1", Some(passage("cp1", "cp2")))], &on, &at).unwrap_err().why.contains("moving a count elsewhere is for hq"));
        assert!(authorize(&cp1, &[fix("nope", Some(passage("cp1", "cp1")))], &on, &at).unwrap_err().why.contains("is not a passage there"));
        // A passage sent in the same batch can be corrected at once.
        let mut p = passage("cp1", "cp1");
        p.id = "fresh".into();
        assert!(authorize(&cp1, &[p, fix("fresh", Some(passage("cp1", "cp1")))], &on, &at).is_ok());
        assert!(authorize(&hq, &[Event { author: "hq".into(), ..fix("p-cp2", Some(passage("cp1", "cp2"))) }], &on, &at).is_ok());
    }
}
