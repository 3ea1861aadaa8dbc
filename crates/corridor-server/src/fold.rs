//! The server's fold of the log: the views' figures, plus what the server
//! itself needs (corridors' names and checkpoints, which checkpoint is on
//! which corridor, the events notices are made from), with the JSON answers
//! cached so reads cost a clone of an `Arc`. Every state it serves (a
//! corridor open, closed or halted, a convoy's or vehicle's status) and
//! every name of one is the views' ([`corridor_views`]); the notices read
//! the same corridor switch ([`corridor_views::Switch`]).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use corridor_model::{Body, Event};
use corridor_notify::{content, Lang, Part, Renderer};
use corridor_views::{ConvoyStatus, CorridorStatus, Switch, Tally, Views, VehicleStatus};
use serde::Serialize;
use utoipa::ToSchema;

/// Head counts: people, wounded, by group.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PublicTally {
    pub people: u64,
    pub wounded: u64,
    pub by_group: BTreeMap<String, u64>,
}

impl From<&Tally> for PublicTally {
    fn from(t: &Tally) -> Self {
        PublicTally { people: t.people, wounded: t.wounded, by_group: t.by_group.clone() }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PublicCorridor {
    pub id: String,
    pub name: String,
    pub name_ar: Option<String>,
    /// Open to traffic now (neither closed by hq nor halted).
    pub open: bool,
    /// `open`, `closed` or `halted` (an incident stopped it until it resumes).
    pub status: String,
    /// Checkpoints in order (entry first).
    pub checkpoints: Vec<PublicCheckpoint>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PublicCheckpoint {
    pub id: String,
    pub name: String,
    pub name_ar: Option<String>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
}

/// A convoy as the monitor view lists it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConvoyRow {
    pub convoy: String,
    pub corridor: String,
    /// dispatched, in_corridor, arrived, …
    pub status: String,
    pub vehicles: usize,
    pub people_out: u64,
    pub dispatched_at: DateTime<Utc>,
    /// The furthest checkpoint any of its vehicles has passed.
    pub checkpoint: Option<String>,
}

/// Reconciliation counts (no vehicle or convoy named).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PublicReconciliation {
    pub trips: usize,
    pub reconciled: usize,
    pub in_transit: usize,
    pub discrepancies: usize,
    pub overdue: usize,
    /// Every trip counted in was counted out with the same people, none is
    /// overdue and none is in transit (decided by the views).
    pub all_reconciled: bool,
    /// Vehicles counted in outside every truce window or while their corridor was closed or halted.
    pub flagged: usize,
    /// Entries corrected (or voided) by later entries.
    pub corrections: usize,
}

/// The operation, as the public sees it: what it is called, the time zone
/// its hours are given in, its languages and whose map it is drawn on.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PublicOperation {
    pub id: String,
    pub name: String,
    /// IANA time zone, e.g. `Europe/Monaco`.
    pub timezone: String,
    pub languages: Vec<String>,
    pub map: PublicMap,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PublicMap {
    pub name: String,
    pub attribution: String,
}

/// Everything the public may see: aggregates only.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PublicSummary {
    /// The operation the log declares (none for a log without
    /// `operation_declared`: times are then shown in UTC).
    pub operation: Option<PublicOperation>,
    /// Entries in the log.
    pub size: u64,
    /// The time of the latest event (the operation's clock).
    pub as_of: Option<DateTime<Utc>>,
    pub groups: Vec<String>,
    pub withdrawn: PublicTally,
    pub entered: PublicTally,
    pub by_corridor: BTreeMap<String, PublicTally>,
    /// By UTC day (`YYYY-MM-DD`).
    pub by_day: BTreeMap<String, PublicTally>,
    pub corridors: Vec<PublicCorridor>,
    /// Incidents by kind.
    pub incidents: BTreeMap<String, u64>,
    pub vehicles_lost: u64,
    pub reconciliation: PublicReconciliation,
}

/// A public notice as the dashboard shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PublicNotice {
    pub id: String,
    /// opening, change or closing.
    pub kind: String,
    pub corridor: String,
    pub window: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub en: String,
    pub ar: String,
}

#[derive(Default)]
struct CorridorState {
    name: String,
    name_ar: Option<String>,
    checkpoints: Vec<PublicCheckpoint>,
}

/// What a checkpoint's officer sees: their checkpoint, its corridor's
/// status and windows, the passages counted there with their corrections,
/// and the vehicles expected there (`GET /api/v1/checkpoints/{id}`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CheckpointView {
    pub checkpoint: PublicCheckpoint,
    /// Its position on the corridor: 0 is the entry (counts people in), the last the exit.
    pub position: usize,
    pub corridor: CheckpointCorridor,
    /// The operation's time zone (screens show times in it).
    pub timezone: String,
    /// Passages counted here, as they stand (corrections applied), newest first.
    pub passages: Vec<CheckpointPassage>,
    /// Corrections of passages counted here.
    #[schema(value_type = Vec<Object>)]
    pub corrections: Vec<corridor_views::CorrectionRow>,
    /// Vehicles of convoys on this corridor not yet counted here on their trip.
    pub expected: Vec<ExpectedVehicle>,
    /// Every registered vehicle (id, kind, places), to pick from.
    pub vehicles: Vec<ExpectedVehicle>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CheckpointCorridor {
    pub id: String,
    pub name: String,
    /// open, closed or halted.
    pub status: String,
    /// Its checkpoints in order (entry first).
    pub checkpoints: Vec<String>,
    /// The groups that may use it (one count each).
    pub groups: Vec<String>,
    /// Each group's label, as declared (`groups_defined`).
    pub group_labels: BTreeMap<String, String>,
    /// The corridor's name in Arabic, if declared.
    pub name_ar: Option<String>,
    #[schema(value_type = Vec<Object>)]
    pub windows: Vec<corridor_model::TruceWindow>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CheckpointPassage {
    pub index: u64,
    /// The passage's event id (the handler fills it in from the ledger:
    /// the views keep positions, not ids).
    pub id: String,
    pub time: DateTime<Utc>,
    pub convoy: String,
    pub vehicle: String,
    pub counts: BTreeMap<String, u32>,
    pub wounded: u32,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ExpectedVehicle {
    pub vehicle: String,
    /// bus, ambulance or truck.
    pub kind: String,
    /// Seats plus stretcher places.
    pub places: u32,
    /// Its convoy on this corridor (expected vehicles only).
    pub convoy: Option<String>,
}

/// The cached answers, rendered from the fold at `size` entries.
pub struct Rendered {
    pub size: u64,
    pub summary: Arc<str>,
    pub figures: Arc<str>,
    pub reconciliation: Arc<str>,
    pub notices: Arc<str>,
    pub convoys: Arc<str>,
}

/// The fold and its cached answers.
#[derive(Default)]
pub struct Fold {
    size: u64,
    operation: Option<PublicOperation>,
    views: Views,
    corridors: BTreeMap<String, CorridorState>,
    corridors_of: BTreeMap<String, BTreeSet<String>>,
    /// Each group's declared label.
    group_labels: BTreeMap<String, String>,
    /// Declarations, windows, openings, closings and incidents on a
    /// corridor: what notices need.
    notice_events: Vec<Event>,
    summary: Arc<str>,
    figures: Arc<str>,
    reconciliation: Arc<str>,
    notices: Arc<str>,
    convoys: Arc<str>,
}

impl Fold {
    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn views(&self) -> &Views {
        &self.views
    }

    /// Whether the fold met a correction of an entry it had applied: it
    /// must then be rebuilt from the log into [`replaying`](Self::replaying).
    pub fn needs_replay(&self) -> bool {
        self.views.needs_replay()
    }

    /// An empty fold that knows this one's corrections.
    pub fn replaying(&self) -> Fold {
        Fold { views: self.views.replaying(), ..Fold::default() }
    }

    pub fn apply(&mut self, index: u64, e: &Event) {
        self.views.apply(index, e);
        self.size = index + 1;
        match &e.body {
            Body::OperationDeclared(o) if self.operation.is_none() => {
                self.operation = Some(PublicOperation {
                    id: o.operation.clone(),
                    name: o.name.clone(),
                    timezone: o.timezone.clone(),
                    languages: o.languages.clone(),
                    map: PublicMap { name: o.map.name.clone(), attribution: o.map.attribution.clone() },
                });
            }
            Body::GroupsDefined(g) => {
                for x in &g.groups {
                    self.group_labels.insert(x.id.clone(), x.label.clone());
                }
            }
            Body::CorridorDeclared(c) => {
                for k in &c.checkpoints {
                    self.corridors_of.entry(k.id.clone()).or_default().insert(c.corridor.clone());
                }
                let s = self.corridors.entry(c.corridor.clone()).or_default();
                s.name = c.name.clone();
                s.name_ar = c.name_ar.clone();
                s.checkpoints = c
                    .checkpoints
                    .iter()
                    .map(|k| PublicCheckpoint { id: k.id.clone(), name: k.name.clone(), name_ar: k.name_ar.clone(), lat: k.position.map(|p| p.lat), lon: k.position.map(|p| p.lon) })
                    .collect();
            }
            _ => {}
        }
        if matches!(e.body, Body::OperationDeclared(_) | Body::GroupsDefined(_) | Body::SiteDeclared(_) | Body::CorridorDeclared(_) | Body::TruceWindowDeclared(_) | Body::TruceWindowChanged(_))
            || Switch::corridor(&e.body).is_some()
        {
            self.notice_events.push(e.clone());
        }
    }

    /// The cached answers for the fold as it is, computed from `&self` so
    /// that readers (under a read lock) are not held up meanwhile.
    pub fn answers(&self) -> Rendered {
        let f = self.views.figures();
        let rec = &f.reconciliation;
        let mut incidents: BTreeMap<String, u64> = BTreeMap::new();
        let mut lost = 0u64;
        for i in &f.incidents {
            *incidents.entry(i.kind.name().to_string()).or_default() += 1;
            lost += i.vehicles_lost as u64;
        }
        let summary = PublicSummary {
            operation: self.operation.clone(),
            size: self.size,
            as_of: self.views.as_of(),
            groups: f.groups.clone(),
            withdrawn: (&f.withdrawn).into(),
            entered: (&f.entered).into(),
            by_corridor: f.by_corridor.iter().map(|(k, t)| (k.clone(), t.into())).collect(),
            by_day: f.by_day.iter().map(|(d, t)| (d.to_string(), t.into())).collect(),
            corridors: self
                .corridors
                .iter()
                .map(|(id, c)| {
                    let status = self.views.corridors().get(id).map_or(CorridorStatus::Closed, |v| v.status);
                    PublicCorridor { id: id.clone(), name: c.name.clone(), name_ar: c.name_ar.clone(), open: status == CorridorStatus::Open, status: status.name().into(), checkpoints: c.checkpoints.clone() }
                })
                .collect(),
            incidents,
            vehicles_lost: lost,
            reconciliation: PublicReconciliation {
                trips: rec.trips,
                reconciled: rec.reconciled,
                in_transit: rec.in_transit,
                discrepancies: rec.discrepancies.len(),
                overdue: rec.overdue.len(),
                all_reconciled: rec.all_reconciled,
                flagged: rec.flags.len(),
                corrections: f.corrections.len(),
            },
        };
        Rendered {
            size: self.size,
            summary: serde_json::to_string(&summary).expect("serializes").into(),
            figures: serde_json::to_string(&f).expect("serializes").into(),
            reconciliation: serde_json::to_string(&f.reconciliation).expect("serializes").into(),
            notices: serde_json::to_string(&self.current_notices()).expect("serializes").into(),
            convoys: serde_json::to_string(&self.convoy_rows()).expect("serializes").into(),
        }
    }

    /// Installs answers from [`answers`](Self::answers) (of this fold at its
    /// current size).
    pub fn install(&mut self, r: Rendered) {
        debug_assert_eq!(r.size, self.size, "answers rendered from another state of the fold");
        self.summary = r.summary;
        self.figures = r.figures;
        self.reconciliation = r.reconciliation;
        self.notices = r.notices;
        self.convoys = r.convoys;
    }

    /// The notices current at the log's latest event (the operation's clock,
    /// so a replayed log shows what residents were told then).
    fn current_notices(&self) -> Vec<PublicNotice> {
        let Some(at) = self.views.as_of() else { return Vec::new() };
        let r = Renderer::built_in();
        content::current(&self.notice_events, at, None, None)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|n| {
                let en = r.render(&n, Lang::En, Part::Message).ok()?;
                let ar = r.render(&n, Lang::Ar, Part::Message).ok()?;
                Some(PublicNotice { id: n.id, kind: n.kind.name().into(), corridor: n.corridor, window: n.window, start: n.start, end: n.end, en, ar })
            })
            .collect()
    }

    fn convoy_rows(&self) -> Vec<ConvoyRow> {
        self.views
            .convoys()
            .into_iter()
            .map(|(id, c)| ConvoyRow {
                convoy: id.clone(),
                corridor: c.corridor.clone(),
                status: c.status.name().into(),
                vehicles: c.vehicles.len(),
                people_out: c.people_out,
                dispatched_at: c.dispatched_at,
                checkpoint: c.checkpoint.clone(),
            })
            .collect()
    }

    /// The view of checkpoint `id`, if the log declares it; its passages'
    /// ids are left empty for the caller to read from the ledger
    /// ([`corridor_ledger::Ledger::ids_at`]).
    pub fn checkpoint_view(&self, id: &str) -> Option<CheckpointView> {
        let v = &self.views;
        let corridor_id = self.corridors_of.get(id)?.iter().next()?.clone();
        let c = self.corridors.get(&corridor_id)?;
        let state = v.corridors().get(&corridor_id)?;
        let position = state.checkpoints.iter().position(|k| k == id)?;
        let checkpoint = c.checkpoints.iter().find(|k| k.id == id)?.clone();
        let mut passages = Vec::new();
        let mut counted: BTreeSet<(&str, &str)> = BTreeSet::new();
        for trip in v.trips().filter(|t| t.corridor == corridor_id) {
            if let Some(Some(s)) = trip.passages.get(position) {
                counted.insert((trip.convoy.as_str(), trip.vehicle.as_str()));
                passages.push(CheckpointPassage { index: s.index, id: String::new(), time: s.time, convoy: trip.convoy.clone(), vehicle: trip.vehicle.clone(), counts: s.counts.to_counts(), wounded: s.wounded });
            }
        }
        passages.sort_by(|a, b| b.index.cmp(&a.index));
        let corrections = v.corrections().into_iter().filter(|r| r.checkpoint.as_deref() == Some(id)).collect();
        let mut expected = Vec::new();
        for (cid, cs) in v.convoys().into_iter().filter(|(_, cs)| cs.corridor == corridor_id && cs.status != ConvoyStatus::Arrived) {
            for veh in &cs.vehicles {
                let Some(vs) = v.vehicle(veh) else { continue };
                if vs.convoy.as_deref() == Some(cid.as_str()) && vs.status != VehicleStatus::Lost && !counted.contains(&(cid.as_str(), veh.as_str())) {
                    expected.push(ExpectedVehicle { vehicle: veh.clone(), kind: vs.kind.name().into(), places: vs.capacity, convoy: Some(cid.clone()) });
                }
            }
        }
        let vehicles = v.vehicles().into_iter().map(|(id, vs)| ExpectedVehicle { vehicle: id.clone(), kind: vs.kind.name().into(), places: vs.capacity, convoy: None }).collect();
        Some(CheckpointView {
            checkpoint,
            position,
            corridor: CheckpointCorridor { id: corridor_id.clone(), name: c.name.clone(), status: state.status.name().into(), checkpoints: state.checkpoints.clone(), groups: state.groups.clone(),
                group_labels: state.groups.iter().map(|g| (g.clone(), self.group_labels.get(g).cloned().unwrap_or_else(|| g.clone()))).collect(),
                name_ar: c.name_ar.clone(),
                windows: state.windows.clone(),
            },
            timezone: v.timezone().to_string(),
            passages,
            corrections,
            expected,
            vehicles,
        })
    }

    pub fn convoys_json(&self) -> Arc<str> {
        self.convoys.clone()
    }

    pub fn summary_json(&self) -> Arc<str> {
        self.summary.clone()
    }
    pub fn figures_json(&self) -> Arc<str> {
        self.figures.clone()
    }
    pub fn reconciliation_json(&self) -> Arc<str> {
        self.reconciliation.clone()
    }
    pub fn notices_json(&self) -> Arc<str> {
        self.notices.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn event(id: &str, time: &str, body: Value) -> Event {
        serde_json::from_value(json!({"v": 1, "id": id, "time": time, "author": "hq", "body": body})).expect("a valid event")
    }

    /// After each entry of a halt, the corridor's status as the views
    /// decide it, as the public summary serves it, and whether the notice
    /// residents are shown says it is closed. Before, a halt reported
    /// without hq's closing left the notice saying "open", and hq's opening
    /// during a halt announced it open again while the views and the
    /// summary said "halted".
    #[test]
    fn views_the_public_summary_and_the_notices_agree_through_a_halt() {
        let incident = |kind: &str| json!({"incident": {"incident": format!("i-{kind}"), "kind": kind, "corridor": "c1", "killed": 0, "description": kind}});
        let hq = |what: &str| json!({ what: {"corridor": "c1", "reason": "hq"} });
        let cp = |id: &str| json!({"id": id, "name": id});
        let log = [
            event("c1", "2016-12-16T03:00:00Z", json!({"corridor_declared": {"corridor": "c1", "name": "C1", "from": "a", "to": "b", "checkpoints": [cp("k1"), cp("k2")], "groups": ["women"], "max_transit_minutes": 120}})),
            event("w16", "2016-12-16T03:00:00Z", json!({"truce_window_declared": {"window": "w16", "corridors": ["c1"], "start": "2016-12-16T04:00:00Z", "end": "2016-12-16T18:00:00Z"}})),
            event("open", "2016-12-16T04:00:00Z", hq("corridor_opened")),
            event("halt", "2016-12-16T09:00:00Z", incident("halt")),
            event("open-again", "2016-12-16T10:00:00Z", hq("corridor_opened")),
            event("resumed", "2016-12-16T11:00:00Z", incident("resumed")),
            event("close", "2016-12-16T12:00:00Z", hq("corridor_closed")),
            event("road-closed", "2016-12-16T12:00:00Z", incident("road_closed")),
            event("reopen", "2016-12-16T13:00:00Z", hq("corridor_opened")),
            event("resumed-2", "2016-12-16T14:00:00Z", incident("resumed")),
        ];
        let expected = ["closed", "closed", "open", "halted", "halted", "open", "closed", "halted", "halted", "open"];
        let mut fold = Fold::default();
        for (i, (e, status)) in log.iter().zip(expected).enumerate() {
            fold.apply(i as u64, e);
            let r = fold.answers();
            fold.install(r);
            assert_eq!(fold.views().corridors()["c1"].status.name(), status, "views after {}", e.id);
            let summary: Value = serde_json::from_str(&fold.summary_json()).unwrap();
            let c1 = &summary["corridors"][0];
            assert_eq!((c1["status"].as_str(), c1["open"].as_bool()), (Some(status), Some(status == "open")), "public summary after {}", e.id);
            let notices: Value = serde_json::from_str(&fold.notices_json()).unwrap();
            // The window's one notice: announced (an opening, or a change
            // when open again) or withdrawn (a closing) as the corridor stands
            // once hq has opened it.
            if i >= 2 {
                let kind = notices[0]["kind"].as_str().unwrap();
                assert_eq!(kind == "closing", status != "open", "notice {kind} after {}, the corridor {status}", e.id);
            }
        }
    }

    #[test]
    fn the_names_served_are_the_json_names() {
        use corridor_model::{IncidentKind, VehicleKind};
        for k in [IncidentKind::Halt, IncidentKind::Attack, IncidentKind::VehicleLost, IncidentKind::RoadClosed, IncidentKind::Resumed] {
            assert_eq!(serde_json::to_value(k).unwrap(), k.name());
        }
        for k in [VehicleKind::Bus, VehicleKind::Ambulance, VehicleKind::Truck] {
            assert_eq!(serde_json::to_value(k).unwrap(), k.name());
        }
        for s in [ConvoyStatus::Dispatched, ConvoyStatus::InCorridor, ConvoyStatus::Exited, ConvoyStatus::Arrived, ConvoyStatus::Halted, ConvoyStatus::Attacked] {
            assert_eq!(serde_json::to_value(s).unwrap(), s.name());
        }
        for s in [VehicleStatus::Idle, VehicleStatus::Dispatched, VehicleStatus::InCorridor, VehicleStatus::Exited, VehicleStatus::Lost] {
            assert_eq!(serde_json::to_value(s).unwrap(), s.name());
        }
        for s in [CorridorStatus::Closed, CorridorStatus::Open, CorridorStatus::Halted] {
            assert_eq!(serde_json::to_value(s).unwrap(), s.name());
        }
    }
}
