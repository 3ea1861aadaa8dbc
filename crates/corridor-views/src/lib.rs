//! # corridor-views
//!
//! Every figure Corridor shows is a fold over the log. [`Views`] is that
//! fold: feed it every event in log order with [`Views::apply`], then read
//! totals by corridor, day and group, wounded, convoy and vehicle states, and
//! the reconciliation of each vehicle trip's entry head count against its exit
//! head count ([`Views::reconcile`]). Views never write: the same log always
//! gives the same figures, which is what lets a monitor recompute them.
//!
//! People are counted as *withdrawn* when they pass a corridor's exit (its
//! last checkpoint); they are *in the corridor* between entry and exit.
//! Days are UTC calendar days.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use corridor_model::{people, Body, Counts, Event, HazardKind, HazardStatus, IncidentKind, VehicleKind};
use serde::Serialize;

/// People by group, plus the wounded among them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    pub people: u64,
    pub wounded: u64,
    pub by_group: BTreeMap<String, u64>,
}

impl Tally {
    fn add(&mut self, counts: &Counts, wounded: u32) {
        self.people += people(counts);
        self.wounded += u64::from(wounded);
        for (g, &n) in counts {
            *self.by_group.entry(g.clone()).or_default() += u64::from(n);
        }
    }
}

#[derive(Debug, Clone, Serialize)]
struct CorridorView {
    name: String,
    checkpoints: Vec<String>,
    max_transit: i64,
    open: bool,
    halted: bool,
}

/// One vehicle's trip through a corridor with one convoy.
#[derive(Debug, Clone, Serialize)]
pub struct Trip {
    pub convoy: String,
    pub vehicle: String,
    pub corridor: String,
    /// Per checkpoint position on the corridor: the passage seen there.
    pub passages: Vec<Option<Seen>>,
}

/// A passage as seen by the views.
#[derive(Debug, Clone, Serialize)]
pub struct Seen {
    pub index: u64,
    pub time: DateTime<Utc>,
    pub counts: Counts,
    pub wounded: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VehicleStatus {
    Idle,
    Dispatched,
    InCorridor,
    Exited,
    Lost,
}

#[derive(Debug, Clone, Serialize)]
pub struct VehicleState {
    pub kind: VehicleKind,
    /// Seats plus stretcher places.
    pub capacity: u32,
    pub status: VehicleStatus,
    pub convoy: Option<String>,
    /// The last checkpoint passed, if any.
    pub checkpoint: Option<String>,
    pub since: DateTime<Utc>,
    pub trips: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConvoyStatus {
    Dispatched,
    InCorridor,
    Exited,
    Arrived,
    Halted,
    Attacked,
}

#[derive(Debug, Clone, Serialize)]
pub struct ConvoyState {
    pub corridor: String,
    pub vehicles: Vec<String>,
    pub status: ConvoyStatus,
    pub dispatched_at: DateTime<Utc>,
    pub people_out: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct IncidentRow {
    pub index: u64,
    pub time: DateTime<Utc>,
    pub kind: IncidentKind,
    pub corridor: Option<String>,
    pub convoy: Option<String>,
    pub vehicles_lost: usize,
    pub killed: u32,
    pub description: String,
}

/// A difference between what entered a corridor with a vehicle and what
/// was counted later on the same trip.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Discrepancy {
    pub convoy: String,
    pub vehicle: String,
    pub corridor: String,
    /// Where it was seen (a checkpoint id), or `None` for "never counted in".
    pub checkpoint: Option<String>,
    pub what: String,
}

/// A vehicle inside a corridor longer than the corridor allows, or lost with
/// people aboard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Overdue {
    pub convoy: String,
    pub vehicle: String,
    pub corridor: String,
    /// The last checkpoint that counted it.
    pub last_checkpoint: String,
    pub since: DateTime<Utc>,
    pub aboard: u64,
    pub lost: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Reconciliation {
    pub as_of: Option<DateTime<Utc>>,
    pub trips: usize,
    pub reconciled: usize,
    pub in_transit: usize,
    pub discrepancies: Vec<Discrepancy>,
    pub overdue: Vec<Overdue>,
}

impl Reconciliation {
    /// Every trip that entered has left with the same people, and none is overdue.
    pub fn all_reconciled(&self) -> bool {
        self.discrepancies.is_empty() && self.overdue.is_empty() && self.in_transit == 0
    }
}

/// Totals of the after-evacuation work.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Recovery {
    pub aid_tonnes: f64,
    pub aid_families: u64,
    pub aid_people: u64,
    pub airdrops: u64,
    pub airdrop_tonnes: f64,
    pub cleared_hectares: f64,
    pub cleared_road_km: f64,
    pub cleared_buildings: u64,
    pub returned_families: u64,
    pub returned_people: u64,
}

/// A declared district, as reports name it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DistrictInfo {
    pub name: String,
    pub name_ar: String,
    pub hectares: f64,
}

/// Aid delivered (to a district, on a day, of a commodity).
#[derive(Debug, Clone, Default, Serialize)]
pub struct AidTally {
    pub deliveries: u64,
    pub tonnes: f64,
    pub families: u64,
    pub people: u64,
}

/// A hazard area and its clearance.
#[derive(Debug, Clone, Serialize)]
pub struct AreaProgress {
    pub hazard: String,
    pub district: String,
    pub kind: HazardKind,
    pub status: HazardStatus,
    pub hectares: f64,
    pub cleared_hectares: f64,
    pub cleared_road_km: f64,
    pub cleared_buildings: u64,
}

/// What was cleared in a district (with or without a declared area).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Cleared {
    pub hectares: f64,
    pub road_km: f64,
    pub buildings: u64,
}

/// A return, flagged when its district still had hazard areas not cleared.
#[derive(Debug, Clone, Serialize)]
pub struct ReturnRow {
    pub index: u64,
    pub time: DateTime<Utc>,
    pub district: String,
    pub families: u32,
    pub people: u32,
    /// The district's hazard areas not yet cleared at the time, if any.
    pub uncleared: Vec<String>,
}

/// A claimed figure beside the ledger's own.
#[derive(Debug, Clone, Serialize)]
pub struct ClaimRow {
    pub claim: String,
    pub source: String,
    pub date: NaiveDate,
    pub text: String,
    pub measure: String,
    pub figure: f64,
    /// What the ledger gives for the same measure.
    pub ledger: f64,
    /// `figure − ledger`.
    pub difference: f64,
}

/// Aid, airdrops, clearance, returns and claims.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Aftermath {
    pub districts: BTreeMap<String, DistrictInfo>,
    pub aid_by_district: BTreeMap<String, AidTally>,
    pub aid_by_day: BTreeMap<NaiveDate, AidTally>,
    pub aid_by_commodity: BTreeMap<String, AidTally>,
    pub areas: Vec<AreaProgress>,
    pub cleared_by_district: BTreeMap<String, Cleared>,
    /// Cumulative clearance after each day with a record.
    pub cleared_by_day: BTreeMap<NaiveDate, Cleared>,
    pub returns: Vec<ReturnRow>,
    pub claims: Vec<ClaimRow>,
    /// Damaged buildings by district (destroyed, severe, moderate, other) and the assessments' sources.
    pub damage_by_district: BTreeMap<String, [u64; 4]>,
    pub damage_sources: Vec<String>,
}

/// The fold over the log.
#[derive(Debug, Clone, Default)]
pub struct Views {
    events: u64,
    last_time: Option<DateTime<Utc>>,
    groups: Vec<String>,
    corridors: BTreeMap<String, CorridorView>,
    withdrawn: Tally,
    entered: Tally,
    by_corridor: BTreeMap<String, Tally>,
    by_day: BTreeMap<NaiveDate, Tally>,
    trips: BTreeMap<(String, String), Trip>,
    vehicles: BTreeMap<String, VehicleState>,
    convoys: BTreeMap<String, ConvoyState>,
    incidents: Vec<IncidentRow>,
    recovery: Recovery,
    aftermath: Aftermath,
    claims: Vec<corridor_model::Claim>,
}

/// Every figure, ready to print or serve.
#[derive(Debug, Clone, Serialize)]
pub struct Figures {
    pub events: u64,
    pub groups: Vec<String>,
    /// People who passed a corridor's exit.
    pub withdrawn: Tally,
    /// People counted in at a corridor's entry.
    pub entered: Tally,
    pub by_corridor: BTreeMap<String, Tally>,
    pub by_day: BTreeMap<NaiveDate, Tally>,
    pub vehicles: BTreeMap<VehicleKind, BTreeMap<VehicleStatus, u64>>,
    pub convoys: BTreeMap<ConvoyStatus, u64>,
    pub incidents: Vec<IncidentRow>,
    pub reconciliation: Reconciliation,
    pub recovery: Recovery,
    pub aftermath: Aftermath,
}

impl Views {
    pub fn new() -> Self {
        Self::default()
    }

    /// Folds one event (at log position `index`) into the views. Events are
    /// expected to have been validated on append; a reference to something
    /// unknown is ignored here rather than trusted.
    pub fn apply(&mut self, index: u64, e: &Event) {
        self.events += 1;
        self.last_time = Some(self.last_time.map_or(e.time, |t| t.max(e.time)));
        match &e.body {
            Body::GroupsDefined(g) => self.groups.extend(g.groups.iter().map(|g| g.id.clone())),
            Body::CorridorDeclared(c) => {
                self.corridors.insert(
                    c.corridor.clone(),
                    CorridorView {
                        name: c.name.clone(),
                        checkpoints: c.checkpoints.iter().map(|c| c.id.clone()).collect(),
                        max_transit: i64::from(c.max_transit_minutes),
                        open: false,
                        halted: false,
                    },
                );
            }
            Body::CorridorOpened(c) | Body::CorridorClosed(c) => {
                if let Some(v) = self.corridors.get_mut(&c.corridor) {
                    v.open = matches!(e.body, Body::CorridorOpened(_));
                }
            }
            Body::VehicleRegistered(v) => {
                self.vehicles.insert(
                    v.vehicle.clone(),
                    VehicleState { kind: v.kind, capacity: v.seats + v.stretchers, status: VehicleStatus::Idle, convoy: None, checkpoint: None, since: e.time, trips: 0 },
                );
            }
            Body::ConvoyDispatched(c) => {
                for v in &c.vehicles {
                    if let Some(s) = self.vehicles.get_mut(v) {
                        if s.status != VehicleStatus::Lost {
                            s.status = VehicleStatus::Dispatched;
                            s.convoy = Some(c.convoy.clone());
                            s.checkpoint = None;
                            s.since = e.time;
                        }
                    }
                }
                self.convoys.insert(
                    c.convoy.clone(),
                    ConvoyState {
                        corridor: c.corridor.clone(),
                        vehicles: c.vehicles.clone(),
                        status: ConvoyStatus::Dispatched,
                        dispatched_at: e.time,
                        people_out: 0,
                    },
                );
            }
            Body::Passage(p) => self.passage(index, e.time, p),
            Body::ConvoyArrived(a) => {
                if let Some(c) = self.convoys.get_mut(&a.convoy) {
                    c.status = ConvoyStatus::Arrived;
                }
            }
            Body::Incident(i) => {
                for v in &i.vehicles {
                    if let Some(s) = self.vehicles.get_mut(v) {
                        s.status = VehicleStatus::Lost;
                        s.since = e.time;
                    }
                }
                if let Some(c) = i.corridor.as_ref().and_then(|c| self.corridors.get_mut(c)) {
                    match i.kind {
                        IncidentKind::Halt | IncidentKind::RoadClosed => c.halted = true,
                        IncidentKind::Resumed => c.halted = false,
                        _ => {}
                    }
                }
                if let Some(c) = i.convoy.as_ref().and_then(|c| self.convoys.get_mut(c)) {
                    match i.kind {
                        IncidentKind::Attack | IncidentKind::VehicleLost => c.status = ConvoyStatus::Attacked,
                        IncidentKind::Halt | IncidentKind::RoadClosed => c.status = ConvoyStatus::Halted,
                        IncidentKind::Resumed => c.status = ConvoyStatus::InCorridor,
                    }
                }
                self.incidents.push(IncidentRow {
                    index,
                    time: e.time,
                    kind: i.kind,
                    corridor: i.corridor.clone(),
                    convoy: i.convoy.clone(),
                    vehicles_lost: i.vehicles.len(),
                    killed: i.killed,
                    description: i.description.clone(),
                });
            }
            Body::AidDelivered(a) => {
                self.recovery.aid_tonnes += a.tonnes;
                self.recovery.aid_families += u64::from(a.families);
                self.recovery.aid_people += u64::from(a.people);
                let m = &mut self.aftermath;
                for t in [
                    m.aid_by_district.entry(a.district.clone()).or_default(),
                    m.aid_by_day.entry(e.time.date_naive()).or_default(),
                    m.aid_by_commodity.entry(a.commodity.clone()).or_default(),
                ] {
                    t.deliveries += 1;
                    t.tonnes += a.tonnes;
                    t.families += u64::from(a.families);
                    t.people += u64::from(a.people);
                }
            }
            Body::Airdrop(a) => {
                self.recovery.airdrops += 1;
                self.recovery.airdrop_tonnes += a.tonnes;
            }
            Body::ClearanceRecorded(c) => {
                self.recovery.cleared_hectares += c.hectares;
                self.recovery.cleared_road_km += c.road_km;
                self.recovery.cleared_buildings += u64::from(c.buildings);
                let m = &mut self.aftermath;
                let d = m.cleared_by_district.entry(c.district.clone()).or_default();
                d.hectares += c.hectares;
                d.road_km += c.road_km;
                d.buildings += u64::from(c.buildings);
                let day = m.cleared_by_day.entry(e.time.date_naive()).or_default();
                (day.hectares, day.road_km, day.buildings) = (self.recovery.cleared_hectares, self.recovery.cleared_road_km, self.recovery.cleared_buildings);
                if let Some(a) = c.hazard.as_ref().and_then(|h| m.areas.iter_mut().find(|a| &a.hazard == h)) {
                    a.cleared_hectares += c.hectares;
                    a.cleared_road_km += c.road_km;
                    a.cleared_buildings += u64::from(c.buildings);
                    if c.completes {
                        a.status = HazardStatus::Cleared;
                    }
                }
            }
            Body::ReturnRecorded(r) => {
                self.recovery.returned_families += u64::from(r.families);
                self.recovery.returned_people += u64::from(r.people);
                let uncleared = self.aftermath.areas.iter().filter(|a| a.district == r.district && a.status.blocks()).map(|a| a.hazard.clone()).collect();
                self.aftermath.returns.push(ReturnRow { index, time: e.time, district: r.district.clone(), families: r.families, people: r.people, uncleared });
            }
            Body::DistrictDeclared(d) => {
                self.aftermath.districts.insert(d.district.clone(), DistrictInfo { name: d.name.clone(), name_ar: d.name_ar.clone(), hectares: d.hectares });
            }
            Body::HazardDeclared(h) => self.aftermath.areas.push(AreaProgress {
                hazard: h.hazard.clone(),
                district: h.district.clone(),
                kind: h.kind,
                status: h.status,
                hectares: corridor_model::ring_hectares(&h.ring),
                cleared_hectares: 0.0,
                cleared_road_km: 0.0,
                cleared_buildings: 0,
            }),
            Body::HazardStatusChanged(h) => {
                if let Some(a) = self.aftermath.areas.iter_mut().find(|a| a.hazard == h.hazard) {
                    a.status = h.status;
                }
            }
            Body::ClaimRecorded(c) => self.claims.push(c.clone()),
            Body::DamageAssessed(d) => {
                let m = &mut self.aftermath;
                let row = m.damage_by_district.entry(d.district.clone()).or_default();
                for (k, n) in [d.destroyed, d.severe, d.moderate, d.other].into_iter().enumerate() {
                    row[k] += u64::from(n);
                }
                if !m.damage_sources.contains(&d.source) {
                    m.damage_sources.push(d.source.clone());
                }
            }
            Body::SiteDeclared(_)
            | Body::TruceWindowDeclared(_)
            | Body::TruceWindowChanged(_)
            | Body::Agreement(_)
            | Body::OperationDeclared(_)
            | Body::EntryCorrected(_)
            | Body::NoticeIssued(_) => {}
        }
    }

    fn passage(&mut self, index: u64, time: DateTime<Utc>, p: &corridor_model::Passage) {
        let Some(corridor) = self.corridors.get(&p.corridor) else { return };
        let Some(pos) = corridor.checkpoints.iter().position(|c| *c == p.checkpoint) else { return };
        let last = corridor.checkpoints.len() - 1;
        let trip = self.trips.entry((p.convoy.clone(), p.vehicle.clone())).or_insert_with(|| Trip {
            convoy: p.convoy.clone(),
            vehicle: p.vehicle.clone(),
            corridor: p.corridor.clone(),
            passages: vec![None; corridor.checkpoints.len()],
        });
        trip.passages[pos] = Some(Seen { index, time, counts: p.counts.clone(), wounded: p.wounded });
        if pos == 0 {
            self.entered.add(&p.counts, p.wounded);
        }
        if let Some(v) = self.vehicles.get_mut(&p.vehicle) {
            if v.status != VehicleStatus::Lost {
                v.status = if pos == last { VehicleStatus::Exited } else { VehicleStatus::InCorridor };
                if pos == last {
                    v.trips += 1;
                }
            }
            v.checkpoint = Some(p.checkpoint.clone());
            v.since = time;
        }
        if let Some(c) = self.convoys.get_mut(&p.convoy) {
            if pos == last {
                c.people_out += people(&p.counts);
            }
            if c.status == ConvoyStatus::Dispatched {
                c.status = ConvoyStatus::InCorridor;
            }
            if pos == last && c.status == ConvoyStatus::InCorridor {
                let vehicles = &self.vehicles;
                let all_out = c.vehicles.iter().all(|v| {
                    vehicles.get(v).is_some_and(|s| {
                        s.convoy.as_deref() == Some(&p.convoy)
                            && matches!(s.status, VehicleStatus::Exited | VehicleStatus::Lost)
                    })
                });
                if all_out {
                    c.status = ConvoyStatus::Exited;
                }
            }
        }
        if pos == last {
            self.withdrawn.add(&p.counts, p.wounded);
            self.by_corridor.entry(p.corridor.clone()).or_default().add(&p.counts, p.wounded);
            self.by_day.entry(time.date_naive()).or_default().add(&p.counts, p.wounded);
        }
    }

    /// Entry against exit for every trip, as of `as_of` (default: the time
    /// of the latest event, so the same log always gives the same answer).
    pub fn reconcile(&self, as_of: Option<DateTime<Utc>>) -> Reconciliation {
        let as_of = as_of.or(self.last_time);
        let mut r = Reconciliation { as_of, trips: 0, reconciled: 0, in_transit: 0, discrepancies: vec![], overdue: vec![] };
        for trip in self.trips.values() {
            r.trips += 1;
            let Some(corridor) = self.corridors.get(&trip.corridor) else { continue };
            let disc = |checkpoint: Option<&str>, what: String| Discrepancy {
                convoy: trip.convoy.clone(),
                vehicle: trip.vehicle.clone(),
                corridor: trip.corridor.clone(),
                checkpoint: checkpoint.map(str::to_owned),
                what,
            };
            let Some(entry) = &trip.passages[0] else {
                r.discrepancies.push(disc(None, "counted inside the corridor but never counted in at its entry".into()));
                continue;
            };
            let before = r.discrepancies.len();
            // More people than places is accepted as counted (the count is a
            // fact) but never reconciles: it is a miscount or an overload.
            if let Some(v) = self.vehicles.get(&trip.vehicle) {
                let (n, first) = trip
                    .passages
                    .iter()
                    .zip(&corridor.checkpoints)
                    .filter_map(|(s, cp)| s.as_ref().map(|s| (people(&s.counts), cp)))
                    .max_by_key(|&(n, _)| n)
                    .expect("entry was seen");
                if n > u64::from(v.capacity) {
                    r.discrepancies.push(disc(Some(first), format!("{n} aboard a vehicle with {} places", v.capacity)));
                }
            }
            for (seen, cp) in trip.passages.iter().zip(&corridor.checkpoints).skip(1) {
                if let Some(s) = seen {
                    if let Some(what) = difference(&entry.counts, entry.wounded, &s.counts, s.wounded) {
                        r.discrepancies.push(disc(Some(cp), what));
                    }
                }
            }
            let exited = trip.passages.last().is_some_and(Option::is_some);
            if exited {
                for (seen, cp) in trip.passages.iter().zip(&corridor.checkpoints) {
                    if seen.is_none() {
                        r.discrepancies.push(disc(Some(cp), "exited without being counted at this checkpoint".into()));
                    }
                }
                if r.discrepancies.len() == before {
                    r.reconciled += 1;
                }
                continue;
            }
            let (last_cp, last_seen) = trip
                .passages
                .iter()
                .zip(&corridor.checkpoints)
                .filter_map(|(s, cp)| s.as_ref().map(|s| (cp, s)))
                .next_back()
                .expect("entry was seen");
            let lost = self.vehicles.get(&trip.vehicle).is_some_and(|v| v.status == VehicleStatus::Lost);
            let late = as_of.is_some_and(|t| t - entry.time > Duration::minutes(corridor.max_transit));
            if lost || late {
                r.overdue.push(Overdue {
                    convoy: trip.convoy.clone(),
                    vehicle: trip.vehicle.clone(),
                    corridor: trip.corridor.clone(),
                    last_checkpoint: last_cp.clone(),
                    since: last_seen.time,
                    aboard: people(&last_seen.counts),
                    lost,
                });
            } else {
                r.in_transit += 1;
            }
        }
        r
    }

    /// Every figure, reconciled as of the latest event.
    pub fn figures(&self) -> Figures {
        let mut vehicles: BTreeMap<VehicleKind, BTreeMap<VehicleStatus, u64>> = BTreeMap::new();
        for v in self.vehicles.values() {
            *vehicles.entry(v.kind).or_default().entry(v.status).or_default() += 1;
        }
        let mut convoys = BTreeMap::new();
        for c in self.convoys.values() {
            *convoys.entry(c.status).or_default() += 1;
        }
        Figures {
            events: self.events,
            groups: self.groups.clone(),
            withdrawn: self.withdrawn.clone(),
            entered: self.entered.clone(),
            by_corridor: self.by_corridor.clone(),
            by_day: self.by_day.clone(),
            vehicles,
            convoys,
            incidents: self.incidents.clone(),
            reconciliation: self.reconcile(None),
            recovery: self.recovery.clone(),
            aftermath: Aftermath { claims: self.claims.iter().map(|c| self.claim_row(c)).collect(), ..self.aftermath.clone() },
        }
    }

    /// What the ledger gives for a claim's measure, beside the claim.
    fn claim_row(&self, c: &corridor_model::Claim) -> ClaimRow {
        let r = &self.recovery;
        let ledger = match c.measure.as_str() {
            "withdrawn" => self.withdrawn.people as f64,
            "wounded" => self.withdrawn.wounded as f64,
            "aid_tonnes" => r.aid_tonnes,
            "aid_families" => r.aid_families as f64,
            "cleared_hectares" => r.cleared_hectares,
            "cleared_road_km" => r.cleared_road_km,
            "cleared_buildings" => r.cleared_buildings as f64,
            "returned_people" => r.returned_people as f64,
            m => match (m.strip_prefix("withdrawn:"), m.strip_prefix("group:")) {
                (Some(corridor), _) => self.by_corridor.get(corridor).map_or(0.0, |t| t.people as f64),
                (_, Some(group)) => self.withdrawn.by_group.get(group).map_or(0.0, |&n| n as f64),
                _ => 0.0,
            },
        };
        ClaimRow {
            claim: c.claim.clone(),
            source: c.source.clone(),
            date: c.date,
            text: c.text.clone(),
            measure: c.measure.clone(),
            figure: c.figure,
            ledger,
            difference: c.figure - ledger,
        }
    }

    pub fn vehicle(&self, id: &str) -> Option<&VehicleState> {
        self.vehicles.get(id)
    }

    /// Every convoy by id.
    pub fn convoys(&self) -> &BTreeMap<String, ConvoyState> {
        &self.convoys
    }

    /// Every vehicle by id.
    pub fn vehicles(&self) -> &BTreeMap<String, VehicleState> {
        &self.vehicles
    }

    /// A corridor's checkpoint ids in order.
    pub fn checkpoints(&self, corridor: &str) -> Option<&[String]> {
        self.corridors.get(corridor).map(|c| c.checkpoints.as_slice())
    }

    pub fn convoy(&self, id: &str) -> Option<&ConvoyState> {
        self.convoys.get(id)
    }

    pub fn corridor_name(&self, id: &str) -> Option<&str> {
        self.corridors.get(id).map(|c| c.name.as_str())
    }
}

/// Describes how a later count differs from the entry count, if it does.
fn difference(entry: &Counts, entry_wounded: u32, later: &Counts, later_wounded: u32) -> Option<String> {
    let mut parts = Vec::new();
    let groups: std::collections::BTreeSet<&String> = entry.keys().chain(later.keys()).collect();
    for g in groups {
        let a = entry.get(g).copied().unwrap_or(0);
        let b = later.get(g).copied().unwrap_or(0);
        if a != b {
            parts.push(format!("{g}: {a} in, {b} here ({:+})", i64::from(b) - i64::from(a)));
        }
    }
    if entry_wounded != later_wounded {
        parts.push(format!("wounded: {entry_wounded} in, {later_wounded} here"));
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}
