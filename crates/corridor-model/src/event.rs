//! The event envelope and every kind of fact Corridor records.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{FieldError, SCHEMA_VERSION};

/// Head counts by group id (e.g. `{"children": 12, "women": 9}`). Groups
/// are disjoint, so the number of people is the sum of the values.
pub type Counts = BTreeMap<String, u32>;

/// Sum of a head count, in `u64` so no sum of `u32`s can overflow.
pub fn people(counts: &Counts) -> u64 {
    counts.values().map(|&n| u64::from(n)).sum()
}

/// One operational fact. Its canonical JSON ([`Event::canonical_bytes`]) is
/// the leaf the ledger hashes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Event {
    /// Schema version ([`SCHEMA_VERSION`]).
    pub v: u32,
    /// Client-chosen unique id: a retried submission with the same id and
    /// content is stored once.
    pub id: String,
    /// When the fact happened, UTC.
    pub time: DateTime<Utc>,
    /// Who recorded it (a role or token name, never a resident's name).
    pub author: String,
    pub body: Body,
}

/// Every kind of fact. A new kind of fact is a new variant here plus the
/// folds (views) that care about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Body {
    OperationDeclared(Operation),
    GroupsDefined(GroupsDefined),
    SiteDeclared(Site),
    CorridorDeclared(Corridor),
    CorridorOpened(CorridorRef),
    CorridorClosed(CorridorRef),
    TruceWindowDeclared(TruceWindow),
    TruceWindowChanged(TruceWindow),
    VehicleRegistered(Vehicle),
    ConvoyDispatched(Convoy),
    Passage(Passage),
    ConvoyArrived(ConvoyArrived),
    Incident(Incident),
    Agreement(Agreement),
    AidDelivered(AidDelivery),
    Airdrop(Airdrop),
    HazardDeclared(Hazard),
    HazardStatusChanged(HazardStatusChange),
    ClearanceRecorded(Clearance),
    ReturnRecorded(Return),
    NoticeIssued(Notice),
    DistrictDeclared(District),
    ClaimRecorded(Claim),
    DamageAssessed(DamageAssessment),
    EntryCorrected(Correction),
}

impl Body {
    /// The snake_case name of the variant, as written in JSON.
    pub fn kind(&self) -> &'static str {
        match self {
            Body::OperationDeclared(_) => "operation_declared",
            Body::GroupsDefined(_) => "groups_defined",
            Body::SiteDeclared(_) => "site_declared",
            Body::CorridorDeclared(_) => "corridor_declared",
            Body::CorridorOpened(_) => "corridor_opened",
            Body::CorridorClosed(_) => "corridor_closed",
            Body::TruceWindowDeclared(_) => "truce_window_declared",
            Body::TruceWindowChanged(_) => "truce_window_changed",
            Body::VehicleRegistered(_) => "vehicle_registered",
            Body::ConvoyDispatched(_) => "convoy_dispatched",
            Body::Passage(_) => "passage",
            Body::ConvoyArrived(_) => "convoy_arrived",
            Body::Incident(_) => "incident",
            Body::Agreement(_) => "agreement",
            Body::AidDelivered(_) => "aid_delivered",
            Body::Airdrop(_) => "airdrop",
            Body::HazardDeclared(_) => "hazard_declared",
            Body::HazardStatusChanged(_) => "hazard_status_changed",
            Body::ClearanceRecorded(_) => "clearance_recorded",
            Body::ReturnRecorded(_) => "return_recorded",
            Body::NoticeIssued(_) => "notice_issued",
            Body::DistrictDeclared(_) => "district_declared",
            Body::ClaimRecorded(_) => "claim_recorded",
            Body::DamageAssessed(_) => "damage_assessed",
            Body::EntryCorrected(_) => "entry_corrected",
        }
    }
}

/// The operation itself, the first fact of its log: its name, the time
/// zone every screen and notice shows hours in, the languages of its
/// notices, and the road map its corridors are laid on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Operation {
    pub operation: String,
    pub name: String,
    /// An IANA time zone, e.g. `Asia/Damascus`, `Europe/Monaco`.
    pub timezone: String,
    /// Languages of the notices to residents (`ar`, `en`).
    pub languages: Vec<String>,
    pub map: MapRef,
}

/// The prepared road network (`.cnet`) an operation runs on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MapRef {
    pub name: String,
    /// Whose data it is, to print wherever the map is shown.
    pub attribution: String,
    /// SHA-256 (hex) of the prepared network file.
    pub sha256: String,
}

impl Operation {
    /// The declared time zone; `None` only for a zone this build's tz
    /// database does not know (the event is checked when it is appended).
    pub fn tz(&self) -> Option<chrono_tz::Tz> {
        self.timezone.parse().ok()
    }

    /// The operation a log declares (its `operation_declared` event), if any.
    pub fn declared(events: &[Event]) -> Option<&Operation> {
        events.iter().find_map(|e| match &e.body {
            Body::OperationDeclared(o) => Some(o),
            _ => None,
        })
    }
}

/// The languages notices are written in.
pub const NOTICE_LANGUAGES: [&str; 2] = ["ar", "en"];

/// A correction of an earlier entry, named by its event id: the entry's
/// corrected content (its time, its body, or both), or a void (the entry
/// should not have been recorded). The log keeps both: views use the
/// corrected fact and list every correction. A correction can itself be
/// corrected or voided (voiding a correction restores what it changed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Correction {
    /// The event id of the entry corrected.
    pub corrects: String,
    /// Why (a miscount, the wrong vehicle, a typo in the time, …).
    pub reason: String,
    /// The corrected time of the entry, if the time was wrong.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<DateTime<Utc>>,
    /// The corrected content of the entry (the same kind as the entry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Box<Body>>,
    /// The entry should not have been recorded: views leave it out.
    #[serde(default, skip_serializing_if = "is_false")]
    pub void: bool,
}

impl Body {
    /// Whether an entry of this kind can be corrected by `entry_corrected`.
    /// Declarations are not: they are changed by their own events
    /// (`truce_window_changed`) or by declaring anew under a new id.
    pub fn correctable(&self) -> bool {
        matches!(
            self,
            Body::Passage(_)
                | Body::Incident(_)
                | Body::ConvoyArrived(_)
                | Body::AidDelivered(_)
                | Body::Airdrop(_)
                | Body::ReturnRecorded(_)
                | Body::DamageAssessed(_)
                | Body::EntryCorrected(_)
        )
    }
}

/// A head-count group (disjoint from every other group).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Group {
    pub id: String,
    pub label: String,
}

/// Declares (or extends) the set of head-count groups.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupsDefined {
    pub groups: Vec<Group>,
}

impl GroupsDefined {
    /// The reference case's groups (armed people under the agreement, women,
    /// children) plus men and elderly.
    pub fn standard() -> Self {
        let g = |id: &str, label: &str| Group { id: id.into(), label: label.into() };
        GroupsDefined {
            groups: vec![
                g("armed", "armed people under the agreement"),
                g("women", "women"),
                g("children", "children"),
                g("men", "men"),
                g("elderly", "elderly"),
            ],
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SiteKind {
    Besieged,
    Destination,
    Staging,
}

/// A geographic position, WGS 84.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Position {
    pub lat: f64,
    pub lon: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Site {
    pub site: String,
    pub name: String,
    /// The name in Arabic, for notices to residents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_ar: Option<String>,
    pub kind: SiteKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<Position>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    pub id: String,
    pub name: String,
    /// The name in Arabic, for notices to residents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_ar: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<Position>,
}

/// A corridor: from a site to a site through ordered checkpoints. The
/// first checkpoint is the entry, the last the exit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Corridor {
    pub corridor: String,
    pub name: String,
    /// The name in Arabic, for notices to residents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_ar: Option<String>,
    pub from: String,
    pub to: String,
    pub checkpoints: Vec<Checkpoint>,
    /// Groups allowed to use the corridor.
    pub groups: Vec<String>,
    /// Longer than this between entry and exit and a vehicle is overdue.
    pub max_transit_minutes: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorridorRef {
    pub corridor: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
}

/// A truce window: corridors open between `start` and `end` (UTC).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TruceWindow {
    pub window: String,
    pub corridors: Vec<String>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum VehicleKind {
    Bus,
    Ambulance,
    Truck,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vehicle {
    pub vehicle: String,
    pub kind: VehicleKind,
    /// Seated places.
    pub seats: u32,
    /// Stretcher places (ambulances).
    #[serde(default)]
    pub stretchers: u32,
    pub operator: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Convoy {
    pub convoy: String,
    pub corridor: String,
    pub vehicles: Vec<String>,
}

/// A vehicle passing a checkpoint with the people aboard, by group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Passage {
    pub vehicle: String,
    pub convoy: String,
    pub corridor: String,
    pub checkpoint: String,
    #[serde(deserialize_with = "counts_without_repeats")]
    pub counts: Counts,
    /// People aboard who are wounded, whatever their group.
    #[serde(default)]
    pub wounded: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConvoyArrived {
    pub convoy: String,
    pub site: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentKind {
    Halt,
    Attack,
    VehicleLost,
    RoadClosed,
    Resumed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Incident {
    pub incident: String,
    pub kind: IncidentKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corridor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub convoy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    /// Vehicles destroyed or lost.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vehicles: Vec<String>,
    /// People killed, when known (a count, no names).
    #[serde(default)]
    pub killed: u32,
    pub description: String,
}

/// An agreement between parties that links sites (e.g. "the Aleppo
/// evacuation continues together with Fu'ah/Kafarya").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Agreement {
    pub agreement: String,
    pub sites: Vec<String>,
    pub terms: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AidDelivery {
    pub delivery: String,
    pub commodity: String,
    pub tonnes: f64,
    pub families: u32,
    pub people: u32,
    pub district: String,
    pub organisation: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Airdrop {
    pub airdrop: String,
    pub position: Position,
    pub contents: String,
    pub tonnes: f64,
    pub recovered: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HazardKind {
    FrontLine,
    SuspectedMined,
    ConfirmedMined,
    ClosedRoad,
    UnderFire,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HazardStatus {
    Suspected,
    Confirmed,
    InClearance,
    Cleared,
    Active,
    Lifted,
}

impl HazardStatus {
    /// Whether an area with this status blocks roads.
    pub fn blocks(self) -> bool {
        !matches!(self, HazardStatus::Cleared | HazardStatus::Lifted)
    }
}

/// A hazard area: a polygon (outer ring, `[lon, lat]` pairs as in GeoJSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hazard {
    pub hazard: String,
    pub kind: HazardKind,
    pub status: HazardStatus,
    pub ring: Vec<[f64; 2]>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub district: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HazardStatusChange {
    pub hazard: String,
    pub status: HazardStatus,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Clearance {
    pub record: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hazard: Option<String>,
    pub district: String,
    pub hectares: f64,
    pub road_km: f64,
    pub buildings: u32,
    pub team: String,
    /// This record completes the clearance of `hazard`: its area is cleared
    /// and stops closing roads (routing follows it).
    #[serde(default, skip_serializing_if = "is_false")]
    pub completes: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Return {
    pub record: String,
    pub district: String,
    pub families: u32,
    pub people: u32,
}

/// A district (a neighbourhood) that aid, clearance and returns refer to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct District {
    pub district: String,
    /// English name.
    pub name: String,
    /// Arabic name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name_ar: String,
    /// A point inside it.
    pub position: Position,
    /// Its area.
    pub hectares: f64,
}

/// Damaged buildings in a district by damage level, from a damage
/// assessment (e.g. UNOSAT's satellite survey): the work list clearance and
/// returns start from. Counts, never positions of homes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DamageAssessment {
    pub assessment: String,
    pub district: String,
    /// Who assessed, when, with which imagery, and the data's attribution.
    pub source: String,
    pub destroyed: u32,
    pub severe: u32,
    pub moderate: u32,
    #[serde(default)]
    pub other: u32,
}

/// What a claimed figure counts, so that it can be set beside the ledger's.
pub const CLAIM_MEASURES: [&str; 10] = [
    "withdrawn",
    "withdrawn:CORRIDOR",
    "group:GROUP",
    "wounded",
    "aid_tonnes",
    "aid_families",
    "cleared_hectares",
    "cleared_road_km",
    "cleared_buildings",
    "returned_people",
];

/// A figure another source published (e.g. "almost 34,000 left eastern
/// Aleppo"), recorded to be shown beside the figure the ledger gives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Claim {
    pub claim: String,
    /// Who published it (a source's name).
    pub source: String,
    /// When it was published.
    pub date: chrono::NaiveDate,
    /// The claim's words.
    pub text: String,
    pub figure: f64,
    /// One of [`CLAIM_MEASURES`] (`CORRIDOR` and `GROUP` replaced by ids).
    pub measure: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Sms,
    Cap,
    Leaflet,
    Loudspeaker,
}

/// A notice sent to residents: counts and hashes only, never phone numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Notice {
    pub notice: String,
    pub channel: Channel,
    pub language: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corridor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<String>,
    /// The notice this one updates or cancels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub references: Option<String>,
    pub recipients: u64,
    /// HMAC-SHA-256 (hex) of the recipient list under a key kept on the
    /// sending machine, when there is a list: the same list gives the same
    /// value there, and the log alone cannot be turned back into numbers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipients_hmac: Option<String>,
    /// SHA-256 (hex) of the notice's content.
    pub content_sha256: String,
}

impl Event {
    /// A new event with the current schema version.
    pub fn new(id: impl Into<String>, time: DateTime<Utc>, author: impl Into<String>, body: Body) -> Self {
        Event { v: SCHEMA_VERSION, id: id.into(), time, author: author.into(), body }
    }

    /// The exact bytes the ledger hashes: compact JSON, fields in declaration
    /// order, maps sorted by key, times as RFC 3339 UTC. Parsing these bytes
    /// and serializing again gives the same bytes.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("an Event always serializes")
    }

    /// Checks what can be checked on the event alone (no other event
    /// needed): version, ids, counts, numbers. References to corridors,
    /// vehicles and groups are checked by [`crate::Registry`].
    pub fn check(&self) -> Result<(), FieldError> {
        if self.v != SCHEMA_VERSION {
            return Err(FieldError::new(
                "v",
                format!("schema version {} is not supported (this build writes and reads version {SCHEMA_VERSION})", self.v),
            ));
        }
        check_id("id", &self.id)?;
        check_id("author", &self.author)?;
        check_body("body", &self.body)
    }
}

/// Checks a body on its own; `at` is the path of the body (`body`, or
/// `body.entry_corrected.body` for a correction's content).
fn check_body(at: &str, body: &Body) -> Result<(), FieldError> {
        let f = |name: &str| format!("{at}.{}.{name}", body.kind());
        match body {
            Body::OperationDeclared(o) => {
                check_id(&f("operation"), &o.operation)?;
                if o.timezone.parse::<chrono_tz::Tz>().is_err() {
                    return Err(FieldError::new(
                        f("timezone"),
                        format!("{:?} is not a time zone of the tz database: use an IANA name such as Asia/Damascus or Europe/Monaco", o.timezone),
                    ));
                }
                if o.languages.is_empty() {
                    return Err(FieldError::new(f("languages"), format!("name at least one language for notices ({})", NOTICE_LANGUAGES.join(", "))));
                }
                for (i, l) in o.languages.iter().enumerate() {
                    if !NOTICE_LANGUAGES.contains(&l.as_str()) {
                        return Err(FieldError::new(
                            f(&format!("languages[{i}]")),
                            format!("notices are written in {} only; {l:?} is not one of them", NOTICE_LANGUAGES.join(" and ")),
                        ));
                    }
                }
                check_sha256(&f("map.sha256"), &o.map.sha256)?;
            }
            Body::EntryCorrected(c) => {
                check_id(&f("corrects"), &c.corrects)?;
                if c.reason.trim().is_empty() {
                    return Err(FieldError::new(f("reason"), "say why the entry is corrected"));
                }
                let changes = c.time.is_some() || c.body.is_some();
                if c.void == changes {
                    return Err(FieldError::new(
                        f("void"),
                        "give the corrected content (\"time\", \"body\" or both), or \"void\": true for an entry that should not have been recorded, not both",
                    ));
                }
                if let Some(b) = &c.body {
                    if !b.correctable() || matches!(**b, Body::EntryCorrected(_)) {
                        return Err(FieldError::new(f("body"), format!("a {} cannot be the content of a correction", b.kind())));
                    }
                    check_body(&f("body"), b)?;
                }
            }
            Body::GroupsDefined(g) => {
                if g.groups.is_empty() {
                    return Err(FieldError::new(f("groups"), "at least one group is required"));
                }
                for (i, group) in g.groups.iter().enumerate() {
                    check_id(&f(&format!("groups[{i}].id")), &group.id)?;
                    if group.id == "wounded" {
                        return Err(FieldError::new(
                            f(&format!("groups[{i}].id")),
                            "\"wounded\" is a condition counted across groups (the `wounded` field of a passage), not a group",
                        ));
                    }
                }
            }
            Body::SiteDeclared(s) => {
                check_id(&f("site"), &s.site)?;
                if let Some(p) = s.position {
                    check_position(&f("position"), p)?;
                }
            }
            Body::CorridorDeclared(c) => {
                check_id(&f("corridor"), &c.corridor)?;
                if c.checkpoints.len() < 2 || c.checkpoints.len() > 64 {
                    return Err(FieldError::new(f("checkpoints"), "a corridor has 2 to 64 checkpoints (an entry, an exit, and any between)"));
                }
                for (i, cp) in c.checkpoints.iter().enumerate() {
                    check_id(&f(&format!("checkpoints[{i}].id")), &cp.id)?;
                    if let Some(p) = cp.position {
                        check_position(&f(&format!("checkpoints[{i}].position")), p)?;
                    }
                }
                if c.groups.is_empty() {
                    return Err(FieldError::new(f("groups"), "name at least one group allowed to use the corridor"));
                }
                if c.max_transit_minutes == 0 {
                    return Err(FieldError::new(f("max_transit_minutes"), "must be greater than 0"));
                }
            }
            Body::TruceWindowDeclared(w) | Body::TruceWindowChanged(w) => {
                check_id(&f("window"), &w.window)?;
                if w.end <= w.start {
                    return Err(FieldError::new(f("end"), format!("the window ends ({}) before it starts ({})", w.end, w.start)));
                }
                if w.corridors.is_empty() {
                    return Err(FieldError::new(f("corridors"), "a truce window opens at least one corridor"));
                }
            }
            Body::Incident(i) => check_id(&f("incident"), &i.incident)?,
            Body::Agreement(a) => check_id(&f("agreement"), &a.agreement)?,
            Body::ReturnRecorded(r) => check_id(&f("record"), &r.record)?,
            Body::NoticeIssued(n) => {
                check_id(&f("notice"), &n.notice)?;
                check_sha256(&f("content_sha256"), &n.content_sha256)?;
                if let Some(h) = &n.recipients_hmac {
                    check_sha256(&f("recipients_hmac"), h)?;
                }
            }
            Body::VehicleRegistered(v) => {
                check_id(&f("vehicle"), &v.vehicle)?;
                if v.seats == 0 && v.stretchers == 0 {
                    return Err(FieldError::new(f("seats"), "a vehicle needs at least one seat or stretcher place"));
                }
            }
            Body::ConvoyDispatched(c) => {
                check_id(&f("convoy"), &c.convoy)?;
                if c.vehicles.is_empty() {
                    return Err(FieldError::new(f("vehicles"), "a convoy needs at least one vehicle"));
                }
            }
            Body::Passage(p) => {
                let total = people(&p.counts);
                if u64::from(p.wounded) > total {
                    return Err(FieldError::new(
                        f("wounded"),
                        format!("{} wounded is more than the {total} people counted aboard (wounded are counted within the groups)", p.wounded),
                    ));
                }
            }
            Body::AidDelivered(a) => {
                check_id(&f("delivery"), &a.delivery)?;
                check_nonneg(&f("tonnes"), a.tonnes)?;
            }
            Body::Airdrop(a) => {
                check_id(&f("airdrop"), &a.airdrop)?;
                check_position(&f("position"), a.position)?;
                check_nonneg(&f("tonnes"), a.tonnes)?;
            }
            Body::HazardDeclared(h) => {
                check_id(&f("hazard"), &h.hazard)?;
                check_ring(&f("ring"), &h.ring)?;
            }
            Body::ClearanceRecorded(c) => {
                check_id(&f("record"), &c.record)?;
                check_nonneg(&f("hectares"), c.hectares)?;
                check_nonneg(&f("road_km"), c.road_km)?;
                if c.completes && c.hazard.is_none() {
                    return Err(FieldError::new(f("completes"), "only a clearance of a hazard area can complete it: name the hazard"));
                }
            }
            Body::DamageAssessed(d) => check_id(&f("assessment"), &d.assessment)?,
            Body::DistrictDeclared(d) => {
                check_id(&f("district"), &d.district)?;
                check_position(&f("position"), d.position)?;
                check_nonneg(&f("hectares"), d.hectares)?;
            }
            Body::ClaimRecorded(c) => {
                check_id(&f("claim"), &c.claim)?;
                check_nonneg(&f("figure"), c.figure)?;
                let known = CLAIM_MEASURES.iter().any(|m| match m.split_once(':') {
                    Some((head, _)) => c.measure.strip_prefix(head).and_then(|r| r.strip_prefix(':')).is_some_and(|id| !id.is_empty()),
                    None => c.measure == *m,
                });
                if !known {
                    return Err(FieldError::new(f("measure"), format!("{:?} is not a measure; use one of {}", c.measure, CLAIM_MEASURES.join(", "))));
                }
            }
            _ => {}
        }
        Ok(())
}

/// Reads head counts, refusing a group named twice (a JSON object with a
/// repeated key would otherwise keep only the last count, silently).
fn counts_without_repeats<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Counts, D::Error> {
    struct Visitor;
    impl<'de> serde::de::Visitor<'de> for Visitor {
        type Value = Counts;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("head counts by group, e.g. {\"women\": 12, \"children\": 20}")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Counts, A::Error> {
            let mut counts = Counts::new();
            while let Some(group) = map.next_key::<String>()? {
                let n: u32 = map.next_value()?;
                if counts.insert(group.clone(), n).is_some() {
                    return Err(serde::de::Error::custom(format!("group {group:?} is counted twice; give each group once")));
                }
            }
            Ok(counts)
        }
    }
    d.deserialize_map(Visitor)
}

fn check_id(field: &str, id: &str) -> Result<(), FieldError> {
    if id.is_empty() {
        return Err(FieldError::new(field, "must not be empty"));
    }
    if id.len() > 200 {
        return Err(FieldError::new(field, format!("is {} bytes long; at most 200", id.len())));
    }
    if id.chars().any(char::is_control) {
        return Err(FieldError::new(field, "must not contain control characters"));
    }
    Ok(())
}

fn check_nonneg(field: &str, x: f64) -> Result<(), FieldError> {
    if !x.is_finite() || x < 0.0 {
        return Err(FieldError::new(field, format!("{x} is not a non-negative number")));
    }
    Ok(())
}

fn check_sha256(field: &str, hex: &str) -> Result<(), FieldError> {
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return Err(FieldError::new(field, "must be a SHA-256 digest: 64 lowercase hexadecimal digits"));
    }
    Ok(())
}

/// A polygon ring: `[lon, lat]` positions, at least four, closed (the last
/// equals the first), and simple (no two edges cross).
fn check_ring(field: &str, ring: &[[f64; 2]]) -> Result<(), FieldError> {
    if ring.len() < 4 {
        return Err(FieldError::new(field, format!("a polygon ring needs at least 4 positions (the last repeating the first); this one has {}", ring.len())));
    }
    for (i, p) in ring.iter().enumerate() {
        check_position(&format!("{field}[{i}]"), Position { lat: p[1], lon: p[0] })?;
    }
    if ring.first() != ring.last() {
        return Err(FieldError::new(field, "the ring does not close: its last position must repeat its first"));
    }
    let n = ring.len() - 1;
    let cross = |a: [f64; 2], b: [f64; 2], c: [f64; 2], d: [f64; 2]| {
        let orient = |p: [f64; 2], q: [f64; 2], r: [f64; 2]| (q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0]);
        let (d1, d2, d3, d4) = (orient(c, d, a), orient(c, d, b), orient(a, b, c), orient(a, b, d));
        ((d1 > 0.0 && d2 < 0.0) || (d1 < 0.0 && d2 > 0.0)) && ((d3 > 0.0 && d4 < 0.0) || (d3 < 0.0 && d4 > 0.0))
    };
    for i in 0..n {
        for j in i + 2..n {
            if i == 0 && j == n - 1 {
                continue; // the closing edge meets the first at the ring's start
            }
            if cross(ring[i], ring[i + 1], ring[j], ring[j + 1]) {
                return Err(FieldError::new(field, format!("the ring crosses itself (edges {i} and {j}): draw it without crossings")));
            }
        }
    }
    Ok(())
}

/// The area of a ring of `[lon, lat]` positions on the WGS 84 mean sphere,
/// hectares (the spherical excess formula of Chamberlain and Duquette,
/// "Some algorithms for polygons on a sphere", JPL 2007, as GeoJSON tools use).
pub fn ring_hectares(ring: &[[f64; 2]]) -> f64 {
    const R: f64 = 6_378_137.0;
    let n = ring.len();
    if n < 3 {
        return 0.0;
    }
    let mut sum = 0.0;
    for i in 0..n {
        let (p1, p2, p3) = (ring[i], ring[(i + 1) % n], ring[(i + 2) % n]);
        sum += (p3[0].to_radians() - p1[0].to_radians()) * p2[1].to_radians().sin();
    }
    (sum * R * R / 2.0).abs() / 10_000.0
}

fn check_position(field: &str, p: Position) -> Result<(), FieldError> {
    // Ranges also refuse NaN, which JSON cannot carry back.
    if !(-90.0..=90.0).contains(&p.lat) || !(-180.0..=180.0).contains(&p.lon) {
        return Err(FieldError::new(field, format!("({}, {}) is not a valid latitude/longitude", p.lat, p.lon)));
    }
    Ok(())
}
