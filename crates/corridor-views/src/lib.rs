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
//! Days are calendar days in the operation's time zone (its
//! `operation_declared`; UTC for a log that declares none).
//!
//! **State is decided here, once**: whether a corridor is open, closed or
//! halted ([`CorridorStatus`], from its [`Switch`], which the notices keep
//! too), what each vehicle and convoy is doing (and their names), and
//! which passages were counted outside a truce window or while their
//! corridor was closed (kept as facts, flagged in [`Reconciliation::flags`]).
//!
//! **Corrections** (`entry_corrected`) replace or void earlier entries. A
//! fold applies an entry as it stands after every correction it knows of;
//! a correction met after its entry makes the fold stale
//! ([`Views::needs_replay`]): fold the log again into
//! [`Views::replaying`], which knows them all ([`Views::of`] does both for
//! events in memory). Every correction is listed with who, when, why, and
//! before → after ([`Figures::corrections`]).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use corridor_model::{people, Body, Corrections, Counts, Effective, Event, HazardKind, HazardStatus, IncidentKind, Operation, TruceWindow, VehicleKind};
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
            *at_key(&mut self.by_group, g) += u64::from(n);
        }
    }
}

/// Whether a corridor may be used now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CorridorStatus {
    /// Declared, not opened, or closed by hq.
    Closed,
    Open,
    /// Stopped by an incident (halt, road closed) until it resumes: closed
    /// to everyone whatever hq's opening said.
    Halted,
}

impl CorridorStatus {
    /// The snake_case name, as JSON writes it.
    pub fn name(self) -> &'static str {
        match self {
            CorridorStatus::Closed => "closed",
            CorridorStatus::Open => "open",
            CorridorStatus::Halted => "halted",
        }
    }
}

/// What decides a corridor's [`CorridorStatus`]: hq's last word on it
/// (`corridor_opened`, `corridor_closed`) and whether an incident halted it
/// (`halt`, `road_closed`) and it has not `resumed` since. The views keep
/// one per corridor; the notices (corridor-notify) keep their own from the
/// same events, so both say the same of every corridor at every entry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Switch {
    opened: bool,
    halted: bool,
}

impl Switch {
    /// The corridor an event may open, close, halt or resume: hq's
    /// openings and closings, and incidents naming a corridor (only
    /// `halt`, `road_closed` and `resumed` change it).
    pub fn corridor(body: &Body) -> Option<&str> {
        match body {
            Body::CorridorOpened(c) | Body::CorridorClosed(c) => Some(&c.corridor),
            Body::Incident(i) => i.corridor.as_deref(),
            _ => None,
        }
    }

    /// The switch after `body`, an event [`Switch::corridor`] names this
    /// corridor for.
    pub fn apply(&mut self, body: &Body) {
        match body {
            Body::CorridorOpened(_) => self.opened = true,
            Body::CorridorClosed(_) => self.opened = false,
            Body::Incident(i) => match i.kind {
                IncidentKind::Halt | IncidentKind::RoadClosed => self.halted = true,
                IncidentKind::Resumed => self.halted = false,
                IncidentKind::Attack | IncidentKind::VehicleLost => {}
            },
            _ => {}
        }
    }

    /// Halted whatever hq said until it resumes; else open once hq opened it.
    pub fn status(self) -> CorridorStatus {
        if self.halted {
            CorridorStatus::Halted
        } else if self.opened {
            CorridorStatus::Open
        } else {
            CorridorStatus::Closed
        }
    }
}

/// A corridor as the views keep it.
#[derive(Debug, Clone, Serialize)]
pub struct CorridorState {
    pub name: String,
    pub name_ar: Option<String>,
    pub checkpoints: Vec<String>,
    /// The groups that may use it.
    pub groups: Vec<String>,
    /// Its [`Switch`]'s status.
    pub status: CorridorStatus,
    /// Its truce windows (as last declared or changed), by start.
    pub windows: Vec<TruceWindow>,
    #[serde(skip)]
    max_transit: i64,
    #[serde(skip)]
    switch: Switch,
}

impl CorridorState {
    /// The window in force at `t`, if any.
    pub fn window_at(&self, t: DateTime<Utc>) -> Option<&TruceWindow> {
        self.windows.iter().find(|w| w.start <= t && t < w.end)
    }
}

/// A passage kept as a fact but counted where it should not have been:
/// outside every truce window of its corridor, or while the corridor was
/// closed or halted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Flag {
    pub index: u64,
    pub id: String,
    pub time: DateTime<Utc>,
    pub convoy: String,
    pub vehicle: String,
    pub corridor: String,
    pub checkpoint: String,
    pub what: String,
}

/// A correction as reports list it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CorrectionRow {
    /// The correction's own log index and time.
    pub index: u64,
    pub time: DateTime<Utc>,
    pub author: String,
    /// The event id corrected.
    pub corrects: String,
    pub reason: String,
    /// For a passage: the checkpoint where it was counted.
    pub checkpoint: Option<String>,
    /// The entry as it was recorded, and what the correction makes it.
    pub before: String,
    pub after: String,
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
    /// The passage's entry (its id, which a correction names, is the
    /// log's: a million passages need not keep a million copies).
    pub index: u64,
    pub time: DateTime<Utc>,
    pub counts: HeadCount,
    pub wounded: u32,
}

/// A passage's head count as the views keep it: the counts alone, with
/// the list of groups they count shared among all passages that count the
/// same groups (a million passages kept a million copies of "women",
/// "children" and "men", then a million lists of the shared names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeadCount {
    groups: Arc<[Arc<str>]>,
    counts: Box<[u32]>,
}

/// Written as the passage's `counts` object.
impl Serialize for HeadCount {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.iter())
    }
}

impl HeadCount {
    fn iter(&self) -> impl Iterator<Item = (&str, u32)> {
        self.groups.iter().map(|g| &**g).zip(self.counts.iter().copied())
    }

    /// People counted in `group`.
    pub fn get(&self, group: &str) -> Option<u32> {
        self.iter().find(|&(g, _)| g == group).map(|(_, n)| n)
    }

    /// The groups counted, in order.
    pub fn groups(&self) -> impl Iterator<Item = &str> {
        self.groups.iter().map(|g| &**g)
    }

    pub fn people(&self) -> u64 {
        self.counts.iter().map(|&n| u64::from(n)).sum()
    }

    /// As the passage recorded it.
    pub fn to_counts(&self) -> Counts {
        self.iter().map(|(g, n)| (g.to_string(), n)).collect()
    }
}

/// The lists of groups head counts count, each kept once.
#[derive(Debug, Clone, Default)]
struct GroupLists(HashMap<u64, Vec<Arc<[Arc<str>]>>>);

impl GroupLists {
    /// The head count of `counts`, its list of groups shared.
    fn count(&mut self, counts: &Counts) -> HeadCount {
        use std::hash::{BuildHasher, Hash, Hasher};
        let mut h = foldhash::fast::FixedState::with_seed(0).build_hasher();
        for g in counts.keys() {
            g.hash(&mut h);
        }
        let lists = self.0.entry(h.finish()).or_default();
        let same = |l: &Arc<[Arc<str>]>| l.len() == counts.len() && l.iter().zip(counts.keys()).all(|(a, b)| **a == **b);
        let groups = match lists.iter().find(|l| same(l)) {
            Some(l) => l.clone(),
            None => {
                let l: Arc<[Arc<str>]> = counts.keys().map(|g| Arc::from(g.as_str())).collect();
                lists.push(l.clone());
                l
            }
        };
        HeadCount { groups, counts: counts.values().copied().collect() }
    }
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

impl VehicleStatus {
    /// The snake_case name, as JSON writes it.
    pub fn name(self) -> &'static str {
        match self {
            VehicleStatus::Idle => "idle",
            VehicleStatus::Dispatched => "dispatched",
            VehicleStatus::InCorridor => "in_corridor",
            VehicleStatus::Exited => "exited",
            VehicleStatus::Lost => "lost",
        }
    }
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

impl ConvoyStatus {
    /// The snake_case name, as JSON writes it.
    pub fn name(self) -> &'static str {
        match self {
            ConvoyStatus::Dispatched => "dispatched",
            ConvoyStatus::InCorridor => "in_corridor",
            ConvoyStatus::Exited => "exited",
            ConvoyStatus::Arrived => "arrived",
            ConvoyStatus::Halted => "halted",
            ConvoyStatus::Attacked => "attacked",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ConvoyState {
    pub corridor: String,
    pub vehicles: Vec<String>,
    pub status: ConvoyStatus,
    pub dispatched_at: DateTime<Utc>,
    pub people_out: u64,
    /// The furthest checkpoint any of its vehicles was counted at on this
    /// convoy's trip (the exit once it has arrived), `None` before the first
    /// count-in. Kept here, not read off the vehicles, whose later convoys
    /// would overwrite it.
    pub checkpoint: Option<String>,
    /// Its vehicles, as a set, and how many of them are out on this convoy
    /// (exited or lost with it as their convoy): all out is one comparison
    /// per exit passage, not a look at every vehicle (which made convoys
    /// of 1,000 vehicles quadratic).
    #[serde(skip)]
    members: std::collections::HashSet<String, foldhash::quality::RandomState>,
    #[serde(skip)]
    out: usize,
}

/// Values by id, hashed: looked up on every passage, listed only sorted.
type ById<V> = HashMap<String, V, foldhash::fast::RandomState>;

/// `m`'s entries sorted by id: how a hashed map is listed.
fn sorted<V>(m: &ById<V>) -> Vec<(&String, &V)> {
    let mut all: Vec<(&String, &V)> = m.iter().collect();
    all.sort_unstable_by(|a, b| a.0.cmp(b.0));
    all
}

/// Sets `slot` to `value`, reusing the string already there.
fn set(slot: &mut Option<String>, value: &str) {
    match slot {
        Some(s) if s == value => {}
        Some(s) => {
            s.clear();
            s.push_str(value);
        }
        None => *slot = Some(value.to_string()),
    }
}

/// The value kept under `key`, created when first needed: looked up
/// before inserting, so the key is copied once, not on every call (a
/// passage's tallies are met a million times in a large log).
fn at_key<'a, V: Default>(m: &'a mut BTreeMap<String, V>, key: &str) -> &'a mut V {
    if !m.contains_key(key) {
        m.insert(key.to_string(), V::default());
    }
    m.get_mut(key).expect("inserted above")
}

/// [`at_key`] for a hashed map.
fn at_id<'a, V: Default>(m: &'a mut ById<V>, key: &str) -> &'a mut V {
    if !m.contains_key(key) {
        m.insert(key.to_string(), V::default());
    }
    m.get_mut(key).expect("inserted above")
}

/// After vehicle `v` changed: moves it between its convoys' counts of
/// vehicles out, from the convoy it was out of `before`.
fn track(convoys: &mut ById<ConvoyState>, vehicles: &ById<VehicleState>, v: &str, before: Option<String>) {
    let after = vehicles.get(v).and_then(VehicleState::out_of);
    if before.as_deref() == after {
        return;
    }
    for (convoy, up) in [(before.as_deref(), false), (after, true)] {
        if let Some(c) = convoy.and_then(|c| convoys.get_mut(c)).filter(|c| c.members.contains(v)) {
            if up {
                c.out += 1;
            } else {
                c.out = c.out.saturating_sub(1);
            }
        }
    }
}

impl VehicleState {
    /// The convoy this vehicle is out of (exited or lost on it), if any.
    fn out_of(&self) -> Option<&str> {
        matches!(self.status, VehicleStatus::Exited | VehicleStatus::Lost).then_some(self.convoy.as_deref()).flatten()
    }
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
    /// Passages counted outside every truce window of their corridor or
    /// while it was closed or halted: kept, and shown.
    pub flags: Vec<Flag>,
    /// [`all_reconciled`](Self::all_reconciled), decided here so that every
    /// view (the CLI, the dashboard) says the same.
    pub all_reconciled: bool,
}

impl Reconciliation {
    /// Every trip that entered has left with the same people, none is
    /// overdue and none is still in transit.
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
    operation: Option<Operation>,
    zone: Option<chrono_tz::Tz>,
    groups: Vec<String>,
    /// Every list of groups met in a head count, kept once.
    group_lists: GroupLists,
    corridors: BTreeMap<String, CorridorState>,
    /// The corrections known before this fold began (a replay's).
    known: Corrections,
    /// Correction events met in this fold, in log order.
    corrections: Vec<(u64, Event)>,
    /// How each corrected entry (or correction) read as recorded.
    recorded: BTreeMap<String, String>,
    /// Where each corrected passage was counted.
    recorded_at: BTreeMap<String, String>,
    stale: bool,
    flags: Vec<Flag>,
    withdrawn: Tally,
    entered: Tally,
    by_corridor: BTreeMap<String, Tally>,
    by_day: BTreeMap<NaiveDate, Tally>,
    by_day_and_corridor: BTreeMap<NaiveDate, BTreeMap<String, Tally>>,
    /// By convoy, then vehicle. These three are hashed, not ordered (a
    /// passage looks each up, the fold's most frequent work): whatever
    /// lists them sorts by id ([`Views::vehicles`], [`Views::convoys`], the
    /// reconciliation's lists; [`Views::trips`] leaves it to its caller),
    /// so no answer depends on hash order.
    trips: ById<ById<Trip>>,
    vehicles: ById<VehicleState>,
    convoys: ById<ConvoyState>,
    incidents: Vec<IncidentRow>,
    recovery: Recovery,
    aftermath: Aftermath,
    claims: Vec<corridor_model::Claim>,
}

/// Every figure, ready to print or serve.
#[derive(Debug, Clone, Serialize)]
pub struct Figures {
    pub events: u64,
    /// The time of the latest event (corrections applied).
    pub as_of: Option<DateTime<Utc>>,
    pub operation: Option<Operation>,
    /// The zone days and local times are in (the operation's; UTC when none).
    pub timezone: String,
    pub corridors: BTreeMap<String, CorridorState>,
    /// Every correction, in log order.
    pub corrections: Vec<CorrectionRow>,
    pub groups: Vec<String>,
    /// People who passed a corridor's exit.
    pub withdrawn: Tally,
    /// People counted in at a corridor's entry.
    pub entered: Tally,
    pub by_corridor: BTreeMap<String, Tally>,
    pub by_day: BTreeMap<NaiveDate, Tally>,
    /// `by_day`, split by corridor.
    pub by_day_and_corridor: BTreeMap<NaiveDate, BTreeMap<String, Tally>>,
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
        if let Body::EntryCorrected(_) = &e.body {
            if !self.known.contains(&e.id) {
                self.stale = true;
            }
            self.last_time = Some(self.last_time.map_or(e.time, |t| t.max(e.time)));
            self.corrections.push((index, e.clone()));
            if self.known.is_corrected(&e.id) {
                self.recorded.insert(e.id.clone(), describe(e.time, &e.body));
            }
            return;
        }
        if self.known.is_corrected(&e.id) {
            self.recorded.insert(e.id.clone(), describe(e.time, &e.body));
            if let Body::Passage(p) = &e.body {
                self.recorded_at.insert(e.id.clone(), p.checkpoint.clone());
            }
            match self.known.effective(&e.id) {
                Effective::Unchanged => {}
                Effective::Voided => return,
                Effective::Replaced { time, body } => {
                    let mut fixed = e.clone();
                    if let Some(t) = time {
                        fixed.time = *t;
                    }
                    if let Some(b) = body {
                        fixed.body = b.clone();
                    }
                    return self.apply_fact(index, &fixed);
                }
            }
        }
        self.apply_fact(index, e)
    }

    /// Whether a correction was met after the entry it corrects: the fold
    /// is then not the log's, and must be redone into [`replaying`](Self::replaying).
    pub fn needs_replay(&self) -> bool {
        self.stale
    }

    /// An empty fold that knows every correction this one met: fold the
    /// log again into it.
    pub fn replaying(&self) -> Views {
        let mut known = self.known.clone();
        for (_, e) in &self.corrections {
            if let Body::EntryCorrected(c) = &e.body {
                if !known.contains(&e.id) {
                    known.add(&e.id, c);
                }
            }
        }
        Views { known, ..Views::default() }
    }

    /// The fold of events in memory (indexes are positions), replayed once
    /// if they hold corrections.
    pub fn of<'a>(events: impl IntoIterator<Item = &'a Event> + Clone) -> Views {
        let mut v = Views::new();
        for (i, e) in events.clone().into_iter().enumerate() {
            v.apply(i as u64, e);
        }
        if v.needs_replay() {
            let mut again = v.replaying();
            for (i, e) in events.into_iter().enumerate() {
                again.apply(i as u64, e);
            }
            return again;
        }
        v
    }

    /// A fact as it stands (corrections applied).
    fn apply_fact(&mut self, index: u64, e: &Event) {
        self.last_time = Some(self.last_time.map_or(e.time, |t| t.max(e.time)));
        if let Some(c) = Switch::corridor(&e.body).and_then(|c| self.corridors.get_mut(c)) {
            c.switch.apply(&e.body);
            c.status = c.switch.status();
        }
        match &e.body {
            Body::OperationDeclared(o) => {
                self.zone = o.timezone.parse().ok();
                self.operation = Some(o.clone());
            }
            Body::GroupsDefined(g) => self.groups.extend(g.groups.iter().map(|g| g.id.clone())),
            Body::CorridorDeclared(c) => {
                self.corridors.insert(
                    c.corridor.clone(),
                    CorridorState {
                        name: c.name.clone(),
                        name_ar: c.name_ar.clone(),
                        checkpoints: c.checkpoints.iter().map(|c| c.id.clone()).collect(),
                        groups: c.groups.clone(),
                        status: CorridorStatus::Closed,
                        windows: Vec::new(),
                        max_transit: i64::from(c.max_transit_minutes),
                        switch: Switch::default(),
                    },
                );
            }
            Body::CorridorOpened(_) | Body::CorridorClosed(_) => {}
            Body::TruceWindowDeclared(w) | Body::TruceWindowChanged(w) => {
                for c in self.corridors.values_mut() {
                    c.windows.retain(|x| x.window != w.window);
                }
                for id in &w.corridors {
                    if let Some(c) = self.corridors.get_mut(id) {
                        c.windows.push(w.clone());
                        c.windows.sort_by_key(|x| x.start);
                    }
                }
            }
            Body::VehicleRegistered(v) => {
                let before = self.out_of(&v.vehicle);
                self.vehicles.insert(
                    v.vehicle.clone(),
                    VehicleState { kind: v.kind, capacity: v.seats.saturating_add(v.stretchers), status: VehicleStatus::Idle, convoy: None, checkpoint: None, since: e.time, trips: 0 },
                );
                self.track(&v.vehicle, before);
            }
            Body::ConvoyDispatched(c) => {
                for v in &c.vehicles {
                    let before = self.out_of(v);
                    if let Some(s) = self.vehicles.get_mut(v) {
                        if s.status != VehicleStatus::Lost {
                            s.status = VehicleStatus::Dispatched;
                            s.convoy = Some(c.convoy.clone());
                            s.checkpoint = None;
                            s.since = e.time;
                        }
                    }
                    self.track(v, before);
                }
                let members: std::collections::HashSet<String, foldhash::quality::RandomState> = c.vehicles.iter().cloned().collect();
                // Counted once here; kept up to date by `track` from now on.
                let out = members.iter().filter(|v| self.vehicles.get(*v).and_then(VehicleState::out_of) == Some(c.convoy.as_str())).count();
                self.convoys.insert(
                    c.convoy.clone(),
                    ConvoyState {
                        corridor: c.corridor.clone(),
                        vehicles: c.vehicles.clone(),
                        status: ConvoyStatus::Dispatched,
                        dispatched_at: e.time,
                        people_out: 0,
                        checkpoint: None,
                        members,
                        out,
                    },
                );
            }
            Body::Passage(p) => {
                self.flag(index, e, p);
                self.passage(index, e.time, p)
            }
            Body::ConvoyArrived(a) => {
                if let Some(c) = self.convoys.get_mut(&a.convoy) {
                    c.status = ConvoyStatus::Arrived;
                }
            }
            Body::Incident(i) => {
                for v in &i.vehicles {
                    let before = self.out_of(v);
                    if let Some(s) = self.vehicles.get_mut(v) {
                        s.status = VehicleStatus::Lost;
                        s.since = e.time;
                    }
                    self.track(v, before);
                }
                // A convoy halted (or its road closed) before some of its
                // vehicles were counted in: those turn back and are free
                // again (a later count-in puts them back on the trip).
                if let (IncidentKind::Halt | IncidentKind::RoadClosed, Some(convoy)) = (i.kind, &i.convoy) {
                    for v in self.convoys.get(convoy).map_or(&[][..], |c| c.vehicles.as_slice()) {
                        if let Some(s) = self.vehicles.get_mut(v) {
                            if s.status == VehicleStatus::Dispatched && s.convoy.as_ref() == Some(convoy) {
                                s.status = VehicleStatus::Idle;
                                s.convoy = None;
                                s.since = e.time;
                            }
                        }
                    }
                }
                if let Some(c) = i.convoy.as_ref().and_then(|c| self.convoys.get_mut(c)) {
                    match i.kind {
                        IncidentKind::Attack | IncidentKind::VehicleLost => c.status = ConvoyStatus::Attacked,
                        // Attacked stays attacked: the halt that follows does not hide it.
                        IncidentKind::Halt | IncidentKind::RoadClosed if c.status != ConvoyStatus::Attacked => c.status = ConvoyStatus::Halted,
                        IncidentKind::Halt | IncidentKind::RoadClosed => {}
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
                let day = self.day(e.time);
                self.recovery.aid_tonnes += a.tonnes;
                self.recovery.aid_families += u64::from(a.families);
                self.recovery.aid_people += u64::from(a.people);
                let m = &mut self.aftermath;
                for t in [
                    m.aid_by_district.entry(a.district.clone()).or_default(),
                    m.aid_by_day.entry(day).or_default(),
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
                let day = self.day(e.time);
                self.recovery.cleared_hectares += c.hectares;
                self.recovery.cleared_road_km += c.road_km;
                self.recovery.cleared_buildings += u64::from(c.buildings);
                let m = &mut self.aftermath;
                let d = m.cleared_by_district.entry(c.district.clone()).or_default();
                d.hectares += c.hectares;
                d.road_km += c.road_km;
                d.buildings += u64::from(c.buildings);
                let day = m.cleared_by_day.entry(day).or_default();
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
            Body::SiteDeclared(_) | Body::Agreement(_) | Body::EntryCorrected(_) | Body::NoticeIssued(_) => {}
        }
    }

    /// The calendar day of `t` in the operation's zone.
    pub fn day(&self, t: DateTime<Utc>) -> NaiveDate {
        match self.zone {
            Some(z) => t.with_timezone(&z).date_naive(),
            None => t.date_naive(),
        }
    }

    /// Flags a vehicle counted in at a corridor's entry outside every window
    /// of the corridor or while it was closed or halted. (A vehicle already
    /// inside when a window ends or a halt begins goes on to the exit: that
    /// is what it must do, and is not flagged.)
    fn flag(&mut self, index: u64, e: &Event, p: &corridor_model::Passage) {
        let Some(c) = self.corridors.get(&p.corridor) else { return };
        if c.checkpoints.first() != Some(&p.checkpoint) {
            return;
        }
        let zone = self.zone.unwrap_or(chrono_tz::UTC);
        let hm = |t: DateTime<Utc>| t.with_timezone(&zone).format("%d %b %H:%M").to_string();
        let what = if c.window_at(e.time).is_none() {
            let windows: Vec<String> = c.windows.iter().map(|w| format!("{} {}–{}", w.window, hm(w.start), hm(w.end))).collect();
            let known = if windows.is_empty() { "it has none".to_string() } else { windows.join(", ") };
            format!("counted in outside every truce window of corridor {:?} ({known}; times {})", p.corridor, zone.name())
        } else if c.status != CorridorStatus::Open {
            format!("counted in while corridor {:?} was {}", p.corridor, c.status.name())
        } else {
            return;
        };
        self.flags.push(Flag {
            index,
            id: e.id.clone(),
            time: e.time,
            convoy: p.convoy.clone(),
            vehicle: p.vehicle.clone(),
            corridor: p.corridor.clone(),
            checkpoint: p.checkpoint.clone(),
            what,
        });
    }

    /// Every correction met, with what it changed.
    pub fn corrections(&self) -> Vec<CorrectionRow> {
        self.corrections
            .iter()
            .filter_map(|(index, e)| {
                let Body::EntryCorrected(c) = &e.body else { return None };
                let before = self.recorded.get(&c.corrects).cloned().unwrap_or_else(|| format!("entry {:?}", c.corrects));
                let after = if c.void {
                    "void (left out)".to_string()
                } else {
                    let mut parts = Vec::new();
                    if let Some(t) = c.time {
                        parts.push(format!("time {}", t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)));
                    }
                    if let Some(b) = &c.body {
                        parts.push(describe_body(b));
                    }
                    parts.join(", ")
                };
                let checkpoint = self.recorded_at.get(self.known.root(&c.corrects)).cloned();
                Some(CorrectionRow { index: *index, time: e.time, author: e.author.clone(), corrects: c.corrects.clone(), reason: c.reason.clone(), checkpoint, before, after })
            })
            .collect()
    }

    /// The convoy vehicle `v` is out of now (see [`VehicleState::out_of`]).
    fn out_of(&self, v: &str) -> Option<String> {
        self.vehicles.get(v).and_then(VehicleState::out_of).map(str::to_string)
    }

    /// After vehicle `v` changed: moves it between its convoys' counts of
    /// vehicles out, from the convoy it was out of `before`.
    fn track(&mut self, v: &str, before: Option<String>) {
        track(&mut self.convoys, &self.vehicles, v, before);
    }

    fn passage(&mut self, index: u64, time: DateTime<Utc>, p: &corridor_model::Passage) {
        let Some(corridor) = self.corridors.get(&p.corridor) else { return };
        let Some(pos) = corridor.checkpoints.iter().position(|c| *c == p.checkpoint) else { return };
        let last = corridor.checkpoints.len() - 1;
        // Looked up before inserting: a trip is counted at every checkpoint
        // but created once.
        let by_vehicle = at_id(&mut self.trips, &p.convoy);
        if !by_vehicle.contains_key(&p.vehicle) {
            let trip = Trip { convoy: p.convoy.clone(), vehicle: p.vehicle.clone(), corridor: p.corridor.clone(), passages: vec![None; corridor.checkpoints.len()] };
            by_vehicle.insert(p.vehicle.clone(), trip);
        }
        let trip = by_vehicle.get_mut(&p.vehicle).expect("inserted above");
        let counts = self.group_lists.count(&p.counts);
        trip.passages[pos] = Some(Seen { index, time, counts, wounded: p.wounded });
        if pos == 0 {
            self.entered.add(&p.counts, p.wounded);
        }
        // The vehicle and its convoy are each looked up once here (this is
        // the fold's most frequent event); `track` does the same for the
        // rarer events that move a vehicle in or out of a convoy.
        let mut out_now = false;
        if let Some(v) = self.vehicles.get_mut(&p.vehicle) {
            // The convoy it was out of: copied only when it was out (a
            // vehicle's first passage on a new trip).
            let before = v.out_of().map(str::to_owned);
            if v.status != VehicleStatus::Lost {
                v.status = if pos == last { VehicleStatus::Exited } else { VehicleStatus::InCorridor };
                if pos == last {
                    v.trips += 1;
                }
            }
            set(&mut v.convoy, &p.convoy);
            set(&mut v.checkpoint, &p.checkpoint);
            v.since = time;
            // Out now, it is out of this passage's convoy.
            let after = v.out_of();
            if before.as_deref() != after {
                out_now = after.is_some();
                if let Some(c) = before.and_then(|b| self.convoys.get_mut(b.as_str())).filter(|c| c.members.contains(&p.vehicle)) {
                    c.out = c.out.saturating_sub(1);
                }
            }
        }
        if let Some(c) = self.convoys.get_mut(&p.convoy) {
            if out_now && c.members.contains(&p.vehicle) {
                c.out += 1;
            }
            if pos == last {
                c.people_out += people(&p.counts);
            }
            let furthest = c.checkpoint.as_ref().and_then(|k| corridor.checkpoints.iter().position(|x| x == k));
            if furthest.is_none_or(|f| pos > f) {
                c.checkpoint = Some(p.checkpoint.clone());
            }
            if c.status == ConvoyStatus::Dispatched {
                c.status = ConvoyStatus::InCorridor;
            }
            // Every vehicle of the convoy out (exited, or lost) on it.
            if pos == last && c.status == ConvoyStatus::InCorridor && c.out == c.members.len() {
                c.status = ConvoyStatus::Exited;
            }
        }
        if pos == last {
            self.withdrawn.add(&p.counts, p.wounded);
            at_key(&mut self.by_corridor, &p.corridor).add(&p.counts, p.wounded);
            let day = self.day(time);
            self.by_day.entry(day).or_default().add(&p.counts, p.wounded);
            at_key(self.by_day_and_corridor.entry(day).or_default(), &p.corridor).add(&p.counts, p.wounded);
        }
    }

    /// Entry against exit for every trip, as of `as_of` (default: the time
    /// of the latest event, so the same log always gives the same answer).
    pub fn reconcile(&self, as_of: Option<DateTime<Utc>>) -> Reconciliation {
        let as_of = as_of.or(self.last_time);
        let mut r = Reconciliation { as_of, trips: 0, reconciled: 0, in_transit: 0, discrepancies: vec![], overdue: vec![], flags: self.flags.clone(), all_reconciled: false };
        for trip in self.trips() {
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
                    .filter_map(|(s, cp)| s.as_ref().map(|s| (s.counts.people(), cp)))
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
                    aboard: last_seen.counts.people(),
                    lost,
                });
            } else {
                r.in_transit += 1;
            }
        }
        // Listed by trip (convoy, then vehicle), each trip's in checkpoint
        // order: the trips were met in hash order.
        r.discrepancies.sort_by(|a, b| (&a.convoy, &a.vehicle).cmp(&(&b.convoy, &b.vehicle)));
        r.overdue.sort_by(|a, b| (&a.convoy, &a.vehicle).cmp(&(&b.convoy, &b.vehicle)));
        r.all_reconciled = r.all_reconciled();
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
            as_of: self.last_time,
            operation: self.operation.clone(),
            timezone: self.timezone().to_string(),
            corridors: self.corridors.clone(),
            corrections: self.corrections(),
            groups: self.groups.clone(),
            withdrawn: self.withdrawn.clone(),
            entered: self.entered.clone(),
            by_corridor: self.by_corridor.clone(),
            by_day: self.by_day.clone(),
            by_day_and_corridor: self.by_day_and_corridor.clone(),
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

    /// Vehicle `id` as it stands on convoy `convoy`'s trip: its state now
    /// while that is its convoy; once it has gone on with a later convoy,
    /// how this trip ended: exited at the corridor's exit, or in the
    /// corridor at the last checkpoint it was counted at, or idle when it
    /// was never counted (turned back). `None` if it is not in the convoy.
    pub fn vehicle_on_trip(&self, convoy: &str, id: &str) -> Option<VehicleState> {
        let c = self.convoys.get(convoy)?;
        if !c.vehicles.iter().any(|v| v == id) {
            return None;
        }
        let now = self.vehicles.get(id)?;
        if now.convoy.as_deref() == Some(convoy) {
            return Some(now.clone());
        }
        let checkpoints = self.checkpoints(&c.corridor).unwrap_or_default();
        let last = self.trips.get(convoy).and_then(|m| m.get(id)).and_then(|t| t.passages.iter().enumerate().rev().find_map(|(i, s)| Some((i, s.as_ref()?))));
        let (status, checkpoint, since) = match last {
            None => (VehicleStatus::Idle, None, c.dispatched_at),
            Some((i, seen)) => {
                let status = if i + 1 == checkpoints.len() { VehicleStatus::Exited } else { VehicleStatus::InCorridor };
                (status, checkpoints.get(i).cloned(), seen.time)
            }
        };
        Some(VehicleState { status, convoy: Some(convoy.to_string()), checkpoint, since, ..now.clone() })
    }

    /// Every convoy, in id order.
    pub fn convoys(&self) -> Vec<(&String, &ConvoyState)> {
        sorted(&self.convoys)
    }

    /// Every vehicle, in id order.
    pub fn vehicles(&self) -> Vec<(&String, &VehicleState)> {
        sorted(&self.vehicles)
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

    /// Every vehicle trip with its passages, in no particular order (each
    /// names its convoy and vehicle: sort by them to list trips).
    pub fn trips(&self) -> impl Iterator<Item = &Trip> {
        self.trips.values().flat_map(HashMap::values)
    }

    /// Every corridor: its status and windows.
    pub fn corridors(&self) -> &BTreeMap<String, CorridorState> {
        &self.corridors
    }

    /// The zone the operation's days and hours are in (UTC when none is declared).
    pub fn timezone(&self) -> &'static str {
        self.zone.map_or("UTC", |z| z.name())
    }

    /// The declared operation, if any.
    pub fn operation(&self) -> Option<&Operation> {
        self.operation.as_ref()
    }

    /// The time of the latest event (corrections applied).
    pub fn as_of(&self) -> Option<DateTime<Utc>> {
        self.last_time
    }
}

/// An entry in a few words, for the list of corrections.
fn describe(time: DateTime<Utc>, body: &Body) -> String {
    format!("{} at {}", describe_body(body), time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

fn describe_body(body: &Body) -> String {
    match body {
        Body::Passage(p) => {
            let counts: Vec<String> = p.counts.iter().map(|(g, n)| format!("{g} {n}")).collect();
            format!("{} of {} at {}: {} ({} wounded)", p.vehicle, p.convoy, p.checkpoint, counts.join(", "), p.wounded)
        }
        Body::EntryCorrected(c) if c.void => format!("a void of {}", c.corrects),
        Body::EntryCorrected(c) => format!("a correction of {}: {}", c.corrects, c.body.as_deref().map_or("its time".to_string(), describe_body)),
        other => format!("{} {}", other.kind(), serde_json::to_string(other).unwrap_or_default()),
    }
}

/// Describes how a later count differs from the entry count, if it does.
fn difference(entry: &HeadCount, entry_wounded: u32, later: &HeadCount, later_wounded: u32) -> Option<String> {
    let mut parts = Vec::new();
    let groups: std::collections::BTreeSet<&str> = entry.groups().chain(later.groups()).collect();
    for g in groups {
        let a = entry.get(g).unwrap_or(0);
        let b = later.get(g).unwrap_or(0);
        if a != b {
            parts.push(format!("{g}: {a} in, {b} here ({:+})", i64::from(b) - i64::from(a)));
        }
    }
    if entry_wounded != later_wounded {
        parts.push(format!("wounded: {entry_wounded} in, {later_wounded} here"));
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

#[cfg(test)]
mod all_out_tests {
    use super::*;
    use serde_json::json;

    fn event(n: &mut u32, body: serde_json::Value) -> Event {
        *n += 1;
        serde_json::from_value(json!({"v": 1, "id": format!("e{n}"), "time": "2026-03-14T07:00:00Z", "author": "hq", "body": body})).expect("a valid event")
    }

    /// The count each convoy keeps of its vehicles out equals, after every
    /// event of a long random operation (dispatches that reuse vehicles,
    /// passages in any order, lost vehicles, halts, re-registrations), the
    /// definition it replaces: its vehicles whose convoy is it and that
    /// exited or were lost; so "all out" is decided as before.
    #[test]
    fn the_count_of_vehicles_out_matches_its_definition_after_every_event() {
        let mut views = Views::default();
        let mut n = 0;
        let cp = |id: &str| json!({"id": id, "name": id, "position": {"lat": 43.73, "lon": 7.42}});
        views.apply(0, &event(&mut n, json!({"corridor_declared": {"corridor": "c", "name": "C", "from": "a", "to": "b", "checkpoints": [cp("cp-a"), cp("cp-m"), cp("cp-b")], "groups": ["women"], "max_transit_minutes": 120}})));
        let vehicles: Vec<String> = (0..8).map(|i| format!("v{i}")).collect();
        let register = |v: &str| json!({"vehicle_registered": {"vehicle": v, "kind": "bus", "seats": 50, "stretchers": 0, "operator": "x"}});
        for v in &vehicles {
            views.apply(0, &event(&mut n, register(v)));
        }
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut rnd = |m: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % m as u64) as usize
        };
        let mut convoys: Vec<String> = vec![];
        let mut crews: Vec<Vec<String>> = vec![];
        let (mut exited, mut checks) = (0, 0);
        for step in 0..4000u64 {
            let body = match rnd(30) {
                0 | 5 if convoys.len() < 300 => {
                    let id = format!("k{}", convoys.len());
                    let take = 1 + rnd(4);
                    let mut vs: Vec<&String> = (0..take).map(|_| &vehicles[rnd(vehicles.len())]).collect();
                    vs.sort();
                    vs.dedup();
                    convoys.push(id.clone());
                    crews.push(vs.iter().map(|v| v.to_string()).collect());
                    json!({"convoy_dispatched": {"convoy": id, "corridor": "c", "vehicles": vs}})
                }
                1 => json!({"incident": {"incident": format!("i{step}"), "kind": "vehicle_lost", "convoy": convoys.get(rnd(convoys.len().max(1))), "vehicles": [vehicles[rnd(vehicles.len())]], "killed": 0, "description": "x"}}),
                2 if !convoys.is_empty() => json!({"incident": {"incident": format!("h{step}"), "kind": "halt", "convoy": convoys[rnd(convoys.len())], "killed": 0, "description": "x"}}),
                3 => register(&vehicles[rnd(vehicles.len())]),
                _ if !convoys.is_empty() => {
                    let cp = ["cp-a", "cp-m", "cp-b"][rnd(3)];
                    let k = convoys.len() - 1 - rnd(convoys.len().min(3));
                    // Mostly a vehicle of that convoy, sometimes any.
                    let v = if rnd(5) == 0 { vehicles[rnd(vehicles.len())].clone() } else { crews[k][rnd(crews[k].len())].clone() };
                    json!({"passage": {"vehicle": v, "convoy": convoys[k], "corridor": "c", "checkpoint": cp, "counts": {"women": 1}}})
                }
                _ => continue,
            };
            views.apply(step, &event(&mut n, body));
            for (id, c) in &views.convoys {
                let definition = c.members.iter().filter(|v| views.vehicles.get(*v).is_some_and(|s| s.convoy.as_deref() == Some(id) && matches!(s.status, VehicleStatus::Exited | VehicleStatus::Lost))).count();
                assert_eq!(c.out, definition, "convoy {id} after step {step}");
                checks += 1;
            }
        }
        exited += views.convoys.values().filter(|c| c.status == ConvoyStatus::Exited).count();
        assert!(exited > 5 && checks > 10_000, "the operation exercised too little: {exited} convoys exited, {checks} checks");
    }
}
