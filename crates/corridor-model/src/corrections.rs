//! Chains of corrections: which version of an entry stands.
//!
//! An entry is corrected by `entry_corrected` events naming it; a
//! correction is itself an entry and can be corrected (its content
//! replaced) or voided (it then changes nothing). The entry's effective
//! version is given by its latest correction that still stands.

use chrono::{DateTime, Utc};

use crate::{Body, Correction};

type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::quality::RandomState>;

/// What a correction says of its target.
#[derive(Debug, Clone, PartialEq)]
enum Change {
    Replace { time: Option<DateTime<Utc>>, body: Option<Body> },
    Void,
}

/// How an entry stands after its corrections.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Effective<'a> {
    /// As recorded.
    Unchanged,
    /// With this time and/or this body instead of its own.
    Replaced { time: Option<&'a DateTime<Utc>>, body: Option<&'a Body> },
    /// Left out: it should not have been recorded.
    Voided,
}

/// Every correction seen, by id and by target.
#[derive(Debug, Clone, Default)]
pub struct Corrections {
    /// Correction id → its target and what it says.
    of: HashMap<String, (String, Change)>,
    /// Entry id → the ids of its direct corrections, in log order.
    by_target: HashMap<String, Vec<String>>,
}

enum State<'a> {
    Replace(Option<&'a DateTime<Utc>>, Option<&'a Body>),
    Void,
    /// A correction voided by a later one: it changes nothing.
    Nullified,
}

impl Corrections {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records correction `id` (in log order).
    pub fn add(&mut self, id: &str, c: &Correction) {
        let change = if c.void { Change::Void } else { Change::Replace { time: c.time, body: c.body.as_deref().cloned() } };
        self.of.insert(id.to_string(), (c.corrects.clone(), change));
        self.by_target.entry(c.corrects.clone()).or_default().push(id.to_string());
    }

    pub fn is_empty(&self) -> bool {
        self.of.is_empty()
    }

    /// Whether `id` is a correction this set holds.
    pub fn contains(&self, id: &str) -> bool {
        self.of.contains_key(id)
    }

    /// Whether `id` has been corrected (directly).
    pub fn is_corrected(&self, id: &str) -> bool {
        self.by_target.contains_key(id)
    }

    /// The entry a correction (or chain of corrections) is about: `id`
    /// itself when it is not a correction.
    pub fn root<'a>(&'a self, mut id: &'a str) -> &'a str {
        // Chains are acyclic: a correction names an entry already in the log.
        while let Some((t, _)) = self.of.get(id) {
            id = t;
        }
        id
    }

    fn state(&self, id: &str) -> State<'_> {
        for c in self.by_target.get(id).into_iter().flatten().rev() {
            match self.state(c) {
                State::Nullified => continue,
                State::Void => return State::Nullified,
                State::Replace(t, b) => {
                    // A correction of a correction replaces what it changes.
                    let (own_t, own_b) = match self.of.get(id) {
                        Some((_, Change::Replace { time, body })) => (time.as_ref(), body.as_ref()),
                        _ => (None, None),
                    };
                    return State::Replace(t.or(own_t), b.or(own_b));
                }
            }
        }
        match self.of.get(id) {
            Some((_, Change::Replace { time, body })) => State::Replace(time.as_ref(), body.as_ref()),
            Some((_, Change::Void)) => State::Void,
            None => State::Replace(None, None),
        }
    }

    /// How entry `id` (not itself a correction) stands.
    pub fn effective(&self, id: &str) -> Effective<'_> {
        for c in self.by_target.get(id).into_iter().flatten().rev() {
            match self.state(c) {
                State::Nullified => continue,
                State::Void => return Effective::Voided,
                State::Replace(time, body) => return Effective::Replaced { time, body },
            }
        }
        Effective::Unchanged
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Body, ConvoyArrived};

    fn arrived(site: &str) -> Body {
        Body::ConvoyArrived(ConvoyArrived { convoy: "c".into(), site: site.into() })
    }

    fn corr(target: &str, body: Option<Body>, void: bool) -> Correction {
        Correction { corrects: target.into(), reason: "r".into(), time: None, body: body.map(Box::new), void }
    }

    #[test]
    fn chains_resolve_to_the_latest_standing_version() {
        let mut c = Corrections::new();
        assert_eq!(c.effective("e"), Effective::Unchanged);
        c.add("c1", &corr("e", Some(arrived("a")), false));
        assert_eq!(c.effective("e"), Effective::Replaced { time: None, body: Some(&arrived("a")) });
        // A correction of the correction replaces its content.
        c.add("c2", &corr("c1", Some(arrived("b")), false));
        assert_eq!(c.root("c2"), "e");
        assert_eq!(c.effective("e"), Effective::Replaced { time: None, body: Some(&arrived("b")) });
        // Voiding the correction of the correction restores c1's content.
        c.add("c3", &corr("c2", None, true));
        assert_eq!(c.effective("e"), Effective::Replaced { time: None, body: Some(&arrived("a")) });
        // Voiding c1 restores the entry as recorded.
        c.add("c4", &corr("c1", None, true));
        assert_eq!(c.effective("e"), Effective::Unchanged);
        // A void of the entry leaves it out; voiding that void brings it back.
        c.add("c5", &corr("e", None, true));
        assert_eq!(c.effective("e"), Effective::Voided);
        c.add("c6", &corr("c5", None, true));
        assert_eq!(c.effective("e"), Effective::Unchanged);
        // A time-only correction of a correction keeps its body.
        let t = chrono::DateTime::parse_from_rfc3339("2026-01-01T10:00:00Z").unwrap().to_utc();
        c.add("c7", &corr("e", Some(arrived("x")), false));
        c.add("c8", &Correction { time: Some(t), ..corr("c7", None, false) });
        assert_eq!(c.effective("e"), Effective::Replaced { time: Some(&t), body: Some(&arrived("x")) });
    }
}
