//! The notices the log calls for, as of an instant.
//!
//! Each corridor in each truce window has one chain of notices:
//! - it starts with an **opening** when the window (or the corridor, if it
//!   comes later) is declared; a window declared after a halt opens its own
//!   chain, since the declaration is the news that the halt is over;
//! - a window changed (`truce_window_changed`) adds a **change**, except to a
//!   chain left closed by a halt: new hours do not reopen a halted corridor;
//! - a corridor closed by hq other than at a window's end, or halted by an
//!   incident, adds a **closing** to every chain of its windows not yet
//!   ended; once it is open again (hq opened it and no halt is in force)
//!   a **change** goes to every chain that closing left closed;
//! - a chain whose newest notice has ended is over and is not announced.
//!
//! Whether a corridor is open, closed or halted is the views' decision
//! ([`corridor_views::Switch`], the same the dashboard and reports show):
//! the entries recorded at one instant that open, close, halt or resume
//! corridors are taken together, and a notice follows from how each
//! corridor stood before them and after. A closing names hq's closing of
//! that instant when there is one, else the incident that halted it.
//!
//! Every notice after the first references the one before, so an update
//! always says which notice it replaces. Ids are `CORRIDOR.WINDOW.N`, N
//! counting from 0: the same log gives the same notices.
//!
//! Hours are given in the time zone the log's `operation_declared` names
//! ([`zone`]); a log that declares no operation gets UTC, never a zone
//! guessed for it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use corridor_model::{Body, Event, IncidentKind, Operation, Position};
use corridor_views::{CorridorStatus, Switch};
use serde::{Serialize, Serializer};

use crate::NotifyError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Opening,
    Change,
    Closing,
}

impl Kind {
    /// The snake_case name, as JSON writes it.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Opening => "opening",
            Kind::Change => "change",
            Kind::Closing => "closing",
        }
    }
}

/// A named place, with its position when the log has one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Place {
    pub id: String,
    pub name: String,
    /// The name in Arabic, when the log has one.
    pub name_ar: Option<String>,
    pub position: Option<Position>,
}

/// One notice: what it announces and which notice it replaces.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NoticeSpec {
    /// `CORRIDOR.WINDOW.N`.
    pub id: String,
    pub kind: Kind,
    /// The notice this one replaces (the previous one in its chain).
    pub references: Option<String>,
    /// The `issued` of the notice it replaces (so a CAP update can name
    /// that alert's `sent`).
    pub references_issued: Option<DateTime<Utc>>,
    /// When the fact it announces was recorded (the causing event's time).
    pub issued: DateTime<Utc>,
    /// The id of the event that calls for it.
    pub cause: String,
    /// Why, for a change or closing (the event's reason).
    pub reason: String,
    pub corridor: String,
    pub corridor_name: String,
    pub corridor_name_ar: Option<String>,
    /// Where people board: the corridor's origin site.
    pub origin: Place,
    /// The checkpoints in order; the first is the entry.
    pub checkpoints: Vec<Place>,
    pub destination: Place,
    /// Group ids allowed on the corridor, with their labels.
    pub groups: Vec<(String, String)>,
    pub window: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// The time zone hours are given in: the operation's ([`zone`]).
    #[serde(serialize_with = "tz_name")]
    pub zone: Tz,
}

fn tz_name<S: Serializer>(z: &Tz, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(z.name())
}

/// The time zone the log declares (its `operation_declared`), or `None`
/// when it declares no operation (notices then give hours in UTC).
pub fn zone(events: &[Event]) -> Option<Tz> {
    Operation::declared(events).and_then(Operation::tz)
}

impl NoticeSpec {
    /// The entry checkpoint (the first), or the origin when there is none.
    pub fn entry(&self) -> &Place {
        self.checkpoints.first().unwrap_or(&self.origin)
    }
}

struct CorridorInfo {
    name: String,
    name_ar: Option<String>,
    from: String,
    to: String,
    checkpoints: Vec<Place>,
    groups: Vec<String>,
}

struct WindowInfo {
    corridors: Vec<String>,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
}

/// Every notice the events (in log order) call for up to `at`, for windows
/// that have not ended by then; oldest first.
pub fn notices(events: &[Event], at: DateTime<Utc>) -> Vec<NoticeSpec> {
    let mut labels: BTreeMap<String, String> = BTreeMap::new();
    let mut sites: BTreeMap<String, Place> = BTreeMap::new();
    let mut corridors: BTreeMap<String, CorridorInfo> = BTreeMap::new();
    let mut windows: BTreeMap<String, WindowInfo> = BTreeMap::new();
    let tz = zone(events).unwrap_or(Tz::UTC);
    // (corridor, window) → the chain so far.
    let mut chains: BTreeMap<(String, String), Vec<NoticeSpec>> = BTreeMap::new();

    let spec = |kind: Kind, e: &Event, reason: &str, c: &str, w: &str, corridors: &BTreeMap<String, CorridorInfo>, windows: &BTreeMap<String, WindowInfo>, sites: &BTreeMap<String, Place>, labels: &BTreeMap<String, String>| -> Option<NoticeSpec> {
        let ci = corridors.get(c)?;
        let wi = windows.get(w)?;
        let site = |id: &str| sites.get(id).cloned().unwrap_or(Place { id: id.into(), name: id.into(), name_ar: None, position: None });
        Some(NoticeSpec {
            id: String::new(),
            kind,
            references: None,
            references_issued: None,
            issued: e.time,
            cause: e.id.clone(),
            reason: reason.into(),
            corridor: c.into(),
            corridor_name: ci.name.clone(),
            corridor_name_ar: ci.name_ar.clone(),
            origin: site(&ci.from),
            checkpoints: ci.checkpoints.clone(),
            destination: site(&ci.to),
            groups: ci.groups.iter().map(|g| (g.clone(), labels.get(g).cloned().unwrap_or_else(|| g.clone()))).collect(),
            window: w.into(),
            start: wi.start,
            end: wi.end,
            zone: tz,
        })
    };
    // The first notice of a chain is its opening, whatever made it; a
    // chain is not started by a closing (nothing was announced to close).
    let push = |chains: &mut BTreeMap<(String, String), Vec<NoticeSpec>>, mut n: NoticeSpec| {
        let chain = chains.entry((n.corridor.clone(), n.window.clone())).or_default();
        if chain.is_empty() {
            if n.kind == Kind::Closing {
                return;
            }
            n.kind = Kind::Opening;
        }
        n.id = format!("{}.{}.{}", n.corridor, n.window, chain.len());
        n.references = chain.last().map(|p| p.id.clone());
        n.references_issued = chain.last().map(|p| p.issued);
        chain.push(n);
    };
    let last = |chains: &BTreeMap<(String, String), Vec<NoticeSpec>>, c: &str, w: &str| chains.get(&(c.to_string(), w.to_string())).and_then(|ch| ch.last()).map(|n| n.kind);
    // The windows of corridor `c` not ended at `t`.
    let live = |windows: &BTreeMap<String, WindowInfo>, c: &str, t: DateTime<Utc>| -> Vec<String> {
        windows.iter().filter(|(_, w)| w.end > t && w.corridors.iter().any(|x| x == c)).map(|(id, _)| id.clone()).collect()
    };

    // Each declared corridor's switch, as the views keep it.
    let mut switches: BTreeMap<String, Switch> = BTreeMap::new();
    let seen: Vec<&Event> = events.iter().filter(|e| e.time <= at).collect();
    let mut next = 0;
    while next < seen.len() {
        let e = seen[next];
        if Switch::corridor(&e.body).is_some() {
            // The entries of this instant that open, close, halt or resume
            // corridors, taken together.
            let run = seen[next..].iter().take_while(|x| x.time == e.time && Switch::corridor(&x.body).is_some()).count();
            let run = &seen[next..next + run];
            next += run.len();
            let mut touched: Vec<&str> = Vec::new();
            for x in run {
                let c = Switch::corridor(&x.body).expect("in the run");
                if !touched.contains(&c) {
                    touched.push(c);
                }
            }
            for c in touched {
                let Some(switch) = switches.get_mut(c) else { continue };
                let before = switch.status();
                // hq's closing other than at a window's end (the routine
                // close), the incident that halted it, what opened it.
                let (mut closed_by, mut halted_by, mut opened_by) = (None, None, None);
                for x in run.iter().filter(|x| Switch::corridor(&x.body) == Some(c)) {
                    let was = switch.status();
                    switch.apply(&x.body);
                    let now = switch.status();
                    match &x.body {
                        Body::CorridorClosed(r) if !windows.values().any(|w| w.end == x.time && w.corridors.contains(&r.corridor)) => closed_by = Some((*x, r.reason.as_str())),
                        Body::Incident(i) if now == CorridorStatus::Halted && was != CorridorStatus::Halted && halted_by.is_none() => halted_by = Some((*x, i.description.as_str())),
                        _ => {}
                    }
                    if now == CorridorStatus::Open && was != CorridorStatus::Open {
                        let reason = match &x.body {
                            Body::CorridorOpened(r) => r.reason.as_str(),
                            Body::Incident(i) if i.kind == IncidentKind::Resumed => i.description.as_str(),
                            _ => "",
                        };
                        opened_by = Some((*x, reason));
                    }
                }
                let after = switch.status();
                let halted = after == CorridorStatus::Halted && before != CorridorStatus::Halted;
                let (kind, by) = if after != CorridorStatus::Open && (closed_by.is_some() || halted) {
                    (Kind::Closing, closed_by.or(halted_by))
                } else if after == CorridorStatus::Open && before != CorridorStatus::Open {
                    (Kind::Change, opened_by)
                } else {
                    continue;
                };
                let Some((x, reason)) = by else { continue };
                for w in live(&windows, c, x.time) {
                    // A closing goes to every chain not closed yet; a change to every chain left closed.
                    let closed = last(&chains, c, &w) == Some(Kind::Closing);
                    if (kind == Kind::Closing && last(&chains, c, &w).is_some() && !closed) || (kind == Kind::Change && closed) {
                        if let Some(n) = spec(kind, x, reason, c, &w, &corridors, &windows, &sites, &labels) {
                            push(&mut chains, n);
                        }
                    }
                }
            }
            continue;
        }
        next += 1;
        match &e.body {
            Body::GroupsDefined(g) => {
                for g in &g.groups {
                    labels.insert(g.id.clone(), g.label.clone());
                }
            }
            Body::SiteDeclared(s) => {
                sites.insert(s.site.clone(), Place { id: s.site.clone(), name: s.name.clone(), name_ar: s.name_ar.clone(), position: s.position });
            }
            Body::CorridorDeclared(c) => {
                switches.insert(c.corridor.clone(), Switch::default());
                corridors.insert(
                    c.corridor.clone(),
                    CorridorInfo {
                        name: c.name.clone(),
                        name_ar: c.name_ar.clone(),
                        from: c.from.clone(),
                        to: c.to.clone(),
                        checkpoints: c.checkpoints.iter().map(|k| Place { id: k.id.clone(), name: k.name.clone(), name_ar: k.name_ar.clone(), position: k.position }).collect(),
                        groups: c.groups.clone(),
                    },
                );
                // Windows declared before the corridor open their chains now.
                for w in live(&windows, &c.corridor, e.time) {
                    if last(&chains, &c.corridor, &w).is_none() {
                        if let Some(n) = spec(Kind::Opening, e, "", &c.corridor, &w, &corridors, &windows, &sites, &labels) {
                            push(&mut chains, n);
                        }
                    }
                }
            }
            Body::TruceWindowDeclared(w) => {
                windows.insert(w.window.clone(), WindowInfo { corridors: w.corridors.clone(), start: w.start, end: w.end });
                // A window declared after a halt is the news that the halt is over.
                for c in &w.corridors {
                    if let Some(n) = spec(Kind::Opening, e, "", c, &w.window, &corridors, &windows, &sites, &labels) {
                        push(&mut chains, n);
                    }
                }
            }
            Body::TruceWindowChanged(w) => {
                let before: Vec<String> = windows.get(&w.window).map(|x| x.corridors.clone()).unwrap_or_default();
                windows.insert(w.window.clone(), WindowInfo { corridors: w.corridors.clone(), start: w.start, end: w.end });
                for c in &w.corridors {
                    // A halted corridor stays closed: new hours do not reopen it.
                    if last(&chains, c, &w.window) == Some(Kind::Closing) {
                        continue;
                    }
                    if let Some(n) = spec(Kind::Change, e, "the truce window changed", c, &w.window, &corridors, &windows, &sites, &labels) {
                        push(&mut chains, n);
                    }
                }
                for c in before.iter().filter(|c| !w.corridors.contains(c)) {
                    if last(&chains, c, &w.window).is_some_and(|k| k != Kind::Closing) {
                        if let Some(n) = spec(Kind::Closing, e, "the corridor was taken out of the truce window", c, &w.window, &corridors, &windows, &sites, &labels) {
                            push(&mut chains, n);
                        }
                    }
                }
            }
            _ => {}
        }
    }
    // A chain whose newest notice has ended is over, whatever its first said.
    chains.retain(|_, ch| ch.last().is_some_and(|n| n.end > at));
    let mut out: Vec<NoticeSpec> = chains.into_values().flatten().collect();
    out.sort_by(|a, b| (a.issued, &a.id).cmp(&(b.issued, &b.id)));
    out
}

/// The newest notice of each chain, keeping only `corridor` and `window`
/// when given. An unknown id, or a window that has ended by `at`, is an
/// error rather than an empty answer.
pub fn current(events: &[Event], at: DateTime<Utc>, corridor: Option<&str>, window: Option<&str>) -> Result<Vec<NoticeSpec>, NotifyError> {
    let seen = events.iter().filter(|e| e.time <= at);
    let list = |ids: Vec<&String>| {
        if ids.is_empty() {
            "none".to_string()
        } else {
            ids.iter().map(|k| format!("{k:?}")).collect::<Vec<_>>().join(", ")
        }
    };
    if let Some(c) = corridor {
        let all: std::collections::BTreeSet<&String> = seen
            .clone()
            .filter_map(|e| match &e.body {
                Body::CorridorDeclared(c) => Some(&c.corridor),
                _ => None,
            })
            .collect();
        if !all.iter().any(|k| *k == c) {
            return Err(NotifyError::UnknownCorridor(c.into(), list(all.into_iter().collect())));
        }
    }
    if let Some(w) = window {
        // The latest end each window was given.
        let all: BTreeMap<&String, DateTime<Utc>> = seen
            .filter_map(|e| match &e.body {
                Body::TruceWindowDeclared(w) | Body::TruceWindowChanged(w) => Some((&w.window, w.end)),
                _ => None,
            })
            .collect();
        match all.iter().find(|(k, _)| **k == w) {
            None => return Err(NotifyError::UnknownWindow(w.into(), list(all.keys().copied().collect()))),
            Some((_, end)) if *end <= at => {
                return Err(NotifyError::WindowPast { window: w.into(), end: end.to_rfc3339(), at: at.to_rfc3339() });
            }
            _ => {}
        }
    }
    let mut newest: BTreeMap<(String, String), NoticeSpec> = BTreeMap::new();
    for n in notices(events, at) {
        if corridor.is_some_and(|c| c != n.corridor) || window.is_some_and(|w| w != n.window) {
            continue;
        }
        newest.insert((n.corridor.clone(), n.window.clone()), n);
    }
    let mut out: Vec<NoticeSpec> = newest.into_values().collect();
    out.sort_by(|a, b| (a.start, &a.corridor).cmp(&(b.start, &b.corridor)));
    Ok(out)
}
