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
/// checkpoint id to the corridors it is on (from the log).
pub fn authorize(t: &TokenRecord, events: &[Event], corridors_of: &BTreeMap<String, BTreeSet<String>>) -> Result<(), Forbidden> {
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
                            "a checkpoint token writes passages and incidents only, not {}: that needs an hq token",
                            other.kind()
                        )))
                    }
                }
            }
        }
    }
    Ok(())
}
