//! The event envelope and every kind of fact Corridor records.
//!
//! Every type here derives [`utoipa::ToSchema`]: the doc comments are the
//! descriptions of the JSON schema served in `/openapi.json` and of the
//! event reference (`docs/events.md`, made by [`crate::reference`]), so
//! they say what each field means, its unit and its bounds.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
use utoipa::ToSchema;

use crate::{FieldError, SCHEMA_VERSION};

/// Head counts by group id (e.g. `{"children": 12, "women": 9}`). Groups
/// are disjoint, so the number of people is the sum of the values.
pub type Counts = BTreeMap<String, u32>;

/// Sum of a head count, in `u64` so no sum of `u32`s can overflow.
pub fn people(counts: &Counts) -> u64 {
    counts.values().map(|&n| u64::from(n)).sum()
}

/// Largest tonnage of one aid delivery or airdrop (ten million tonnes).
pub const MAX_TONNES: f64 = 1e7;
/// Largest area of one district or clearance record (a billion hectares,
/// ten million km²).
pub const MAX_HECTARES: f64 = 1e9;
/// Largest length of road of one clearance record (ten million km).
pub const MAX_ROAD_KM: f64 = 1e7;
/// Largest figure of one claim (a trillion).
pub const MAX_FIGURE: f64 = 1e12;
/// Largest head count of one record (ten million people): a group aboard
/// one vehicle and all its groups together, the wounded, the killed,
/// families or people served or returned. Far above any real evacuation;
/// low enough that no sum a view makes of them comes near `u64::MAX`, and
/// that no `u32` of a model type holds more than it.
pub const MAX_PEOPLE: u32 = 10_000_000;
/// Largest number of seats, or of stretcher places, of one vehicle (a ship's).
pub const MAX_PLACES: u32 = 10_000;
/// Largest number of buildings of one record (cleared, or in one damage class).
pub const MAX_BUILDINGS: u32 = 10_000_000;
/// Largest number of recipients of one notice (a billion).
pub const MAX_RECIPIENTS: u64 = 1_000_000_000;
/// Longest allowed transit of a corridor, minutes (a week).
pub const MAX_TRANSIT_MINUTES: u32 = 7 * 24 * 60;

/// One operational fact: the envelope (`v`, `id`, `time`, `author`) around
/// one kind of fact (`body`). Its canonical JSON (compact, fields in this
/// order, maps sorted by key) is the leaf the ledger hashes.
// (`Event::canonical_bytes` gives it.)
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Event {
    /// Schema version: 1 (the only version this build reads and writes).
    #[schema(minimum = 1, maximum = 1)]
    pub v: u32,
    /// Client-chosen id, unique in the log (1 to 200 bytes of visible
    /// characters in Unicode NFC). Sending the same event again (same id, same content)
    /// stores it once and answers with its original index; the same id
    /// with other content is refused.
    #[schema(min_length = 1, max_length = 200)]
    pub id: String,
    /// When the fact happened: an RFC 3339 instant, stored in UTC.
    #[serde(serialize_with = "rfc3339")]
    pub time: DateTime<Utc>,
    /// Who recorded it: a role or token name (`hq`, a checkpoint id), never
    /// a resident's name (1 to 200 bytes of visible characters in Unicode NFC). The
    /// server requires the writing token's name.
    #[schema(min_length = 1, max_length = 200)]
    pub author: String,
    /// The fact: an object with exactly one key, the kind (e.g.
    /// `passage`), whose value holds that kind's fields.
    pub body: Body,
}

/// Every kind of fact, written as an object with one key: the kind.
// A new kind of fact is a new variant here, an example in `examples.rs`,
// and the folds (views) that care about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Body {
    /// Declares the operation: its id and name, the time zone its screens
    /// and notices show hours in, the languages of its notices and its road
    /// map. Declared once, as the log's first fact.
    OperationDeclared(Operation),
    /// Defines head-count groups (disjoint: each person is in one group).
    /// Passages count people by these groups; several events may add
    /// groups, never the same id twice.
    GroupsDefined(GroupsDefined),
    /// Declares a site: a place people leave (besieged), go to
    /// (destination) or wait at (staging).
    SiteDeclared(Site),
    /// Declares a corridor from a site to a site through ordered
    /// checkpoints, the groups allowed to use it, and the longest transit
    /// before a vehicle is overdue.
    CorridorDeclared(Corridor),
    /// Opens a declared corridor.
    CorridorOpened(CorridorRef),
    /// Closes a declared corridor.
    CorridorClosed(CorridorRef),
    /// Declares a truce window: when (UTC) the named corridors may be used.
    TruceWindowDeclared(TruceWindow),
    /// Changes a declared truce window (its corridors, start or end); the
    /// new content replaces the old.
    TruceWindowChanged(TruceWindow),
    /// Registers a vehicle with its places (seats, stretchers).
    VehicleRegistered(Vehicle),
    /// Dispatches a convoy (one trip) of registered vehicles on a corridor.
    ConvoyDispatched(Convoy),
    /// A vehicle of a convoy counted at a checkpoint, with the people
    /// aboard by group. A vehicle is counted once per checkpoint on each
    /// trip; reconciliation compares every later count with the entry's.
    Passage(Passage),
    /// A convoy arrived at a site (its trip ended).
    ConvoyArrived(ConvoyArrived),
    /// Something that happened to a corridor, convoy or site: a halt, an
    /// attack, a vehicle lost, a road closed, or operations resumed.
    Incident(Incident),
    /// An agreement between parties that links sites (e.g. one
    /// evacuation continues together with another's).
    Agreement(Agreement),
    /// Humanitarian aid delivered to a district.
    AidDelivered(AidDelivery),
    /// An airdrop of supplies at a position, recovered or not.
    Airdrop(Airdrop),
    /// Declares a hazard area (front line, mined area, closed road, area
    /// under fire): while its status blocks, roads crossing it are closed.
    HazardDeclared(Hazard),
    /// A declared hazard area's new status (`cleared` and `lifted` reopen
    /// its roads).
    HazardStatusChanged(HazardStatusChange),
    /// Mine and debris clearance done by a team in a district, possibly
    /// completing the clearance of a hazard area.
    ClearanceRecorded(Clearance),
    /// Families and people who returned to a district.
    ReturnRecorded(Return),
    /// A public notice sent to residents (SMS, CAP alert, leaflet,
    /// loudspeaker): counts and hashes only, never phone numbers.
    NoticeIssued(Notice),
    /// Declares a district (a neighbourhood) that aid, clearance, damage
    /// assessments and returns refer to.
    DistrictDeclared(District),
    /// A figure another source published, recorded to be shown beside the
    /// figure the ledger gives.
    ClaimRecorded(Claim),
    /// Damaged buildings in a district by damage level, from a damage
    /// assessment: counts, never positions of homes.
    DamageAssessed(DamageAssessment),
    /// Corrects an earlier entry (named by its event id) with its corrected
    /// time or content, or voids it. The log keeps both; views use the
    /// corrected fact and list every correction.
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Operation {
    /// The operation's id (1 to 200 bytes of visible characters in Unicode NFC).
    #[schema(min_length = 1, max_length = 200)]
    pub operation: String,
    /// Its name, as screens and reports show it.
    pub name: String,
    /// An IANA time zone of the tz database, e.g. `Asia/Damascus`,
    /// `Europe/Monaco`: screens and notices show local hours in it.
    pub timezone: String,
    /// Languages of the notices to residents: one or more of `ar`, `en`.
    #[schema(schema_with = languages_schema)]
    pub languages: Vec<String>,
    /// The prepared road map the operation's corridors are laid on.
    pub map: MapRef,
}

/// The schema of [`Operation::languages`]: one or more of [`NOTICE_LANGUAGES`].
fn languages_schema() -> utoipa::openapi::schema::Array {
    ArrayBuilder::new()
        .items(ObjectBuilder::new().schema_type(Type::String).enum_values(Some(NOTICE_LANGUAGES)))
        .min_items(Some(1))
        .description(Some("Languages of the notices to residents: one or more of `ar`, `en`."))
        .build()
}

/// The prepared road network (`.cnet`) an operation runs on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MapRef {
    /// The map's name (e.g. the extract it was imported from).
    pub name: String,
    /// Whose data it is, to print wherever the map is shown.
    pub attribution: String,
    /// SHA-256 (64 lowercase hex digits) of the prepared network file
    /// (`.cnet`), so that any copy of the map can be checked against it.
    #[schema(pattern = "^[0-9a-f]{64}$")]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Correction {
    /// The event id of the entry corrected: an earlier passage, incident,
    /// convoy_arrived, aid_delivered, airdrop, return_recorded,
    /// damage_assessed or entry_corrected.
    #[schema(min_length = 1, max_length = 200)]
    pub corrects: String,
    /// Why (a miscount, the wrong vehicle, a typo in the time, …); not blank.
    #[schema(min_length = 1)]
    pub reason: String,
    /// The corrected time of the entry, if the time was wrong.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<DateTime<Utc>>,
    /// The corrected content of the entry: a whole body, of the same kind
    /// as the corrected entry (for a correction of a correction, as the
    /// entry the chain started from); never an `entry_corrected`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(no_recursion)]
    pub body: Option<Box<Body>>,
    /// `true`: the entry should not have been recorded, and views leave it
    /// out. A correction gives `time` and/or `body`, or `void`, not both.
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Group {
    /// The group's id, as head counts name it (1 to 200 bytes of visible
    /// characters in Unicode NFC; not `wounded`, which is a condition, not a group).
    #[schema(min_length = 1, max_length = 200)]
    pub id: String,
    /// What the group is, in words.
    pub label: String,
}

/// Declares (or extends) the set of head-count groups.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupsDefined {
    /// The new groups: at least one, none defined before.
    #[schema(min_items = 1)]
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

/// What a site is to the operation: `besieged` (a place people leave),
/// `destination` (a place people are taken to) or `staging` (a place where
/// vehicles or people wait).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SiteKind {
    Besieged,
    Destination,
    Staging,
}

/// A geographic position, WGS 84, in decimal degrees.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Position {
    /// Latitude, degrees north (−90 to 90).
    #[schema(minimum = -90.0, maximum = 90.0)]
    pub lat: f64,
    /// Longitude, degrees east (−180 to 180).
    #[schema(minimum = -180.0, maximum = 180.0)]
    pub lon: f64,
}

/// A site: a place people leave, go to or wait at.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Site {
    /// The site's id (1 to 200 bytes of visible characters in Unicode NFC), unique among sites.
    #[schema(min_length = 1, max_length = 200)]
    pub site: String,
    /// Its name.
    pub name: String,
    /// The name in Arabic, for notices to residents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_ar: Option<String>,
    /// Whether people leave it, go to it or wait at it.
    pub kind: SiteKind,
    /// Where it is, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<Position>,
}

/// A checkpoint on a corridor, where vehicles are counted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    /// The checkpoint's id (1 to 200 bytes of visible characters in Unicode NFC), unique
    /// across all corridors; a checkpoint token is bound to it.
    #[schema(min_length = 1, max_length = 200)]
    pub id: String,
    /// Its name.
    pub name: String,
    /// The name in Arabic, for notices to residents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_ar: Option<String>,
    /// Where it is, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<Position>,
}

/// A corridor: from a site to a site through ordered checkpoints. The
/// first checkpoint is the entry, the last the exit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Corridor {
    /// The corridor's id (1 to 200 bytes of visible characters in Unicode NFC), unique among corridors.
    #[schema(min_length = 1, max_length = 200)]
    pub corridor: String,
    /// Its name.
    pub name: String,
    /// The name in Arabic, for notices to residents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_ar: Option<String>,
    /// The site it starts from (declared earlier).
    pub from: String,
    /// The site it leads to (declared earlier).
    pub to: String,
    /// Its checkpoints in order along the road, 2 to 64: the first is the
    /// entry, the last the exit.
    #[schema(min_items = 2, max_items = 64)]
    pub checkpoints: Vec<Checkpoint>,
    /// Groups allowed to use the corridor (at least one, each defined earlier).
    #[schema(min_items = 1)]
    pub groups: Vec<String>,
    /// Minutes (at least 1): longer than this between entry and exit and a
    /// vehicle is overdue. At most 10,080 (a week).
    #[schema(minimum = 1, maximum = 10080)]
    pub max_transit_minutes: u32,
}

/// Names a corridor that opens or closes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CorridorRef {
    /// The corridor (declared earlier).
    pub corridor: String,
    /// Why, in words (optional; empty is left out).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
}

/// A truce window: corridors open between `start` and `end` (UTC).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TruceWindow {
    /// The window's id (1 to 200 bytes of visible characters in Unicode NFC): new for
    /// `truce_window_declared`, declared earlier for `truce_window_changed`.
    #[schema(min_length = 1, max_length = 200)]
    pub window: String,
    /// The corridors it opens (at least one, each declared earlier).
    #[schema(min_items = 1)]
    pub corridors: Vec<String>,
    /// When it starts, UTC.
    pub start: DateTime<Utc>,
    /// When it ends, UTC: after `start`.
    pub end: DateTime<Utc>,
}

/// What a vehicle is: `bus` (people on its seats), `ambulance` (wounded
/// people on its stretchers, companions on its seats) or `truck` (goods, or
/// people on its seats).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum VehicleKind {
    Bus,
    Ambulance,
    Truck,
}

impl VehicleKind {
    /// The snake_case name, as JSON writes it.
    pub fn name(self) -> &'static str {
        match self {
            VehicleKind::Bus => "bus",
            VehicleKind::Ambulance => "ambulance",
            VehicleKind::Truck => "truck",
        }
    }
}

/// A vehicle and its places.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Vehicle {
    /// The vehicle's id (1 to 200 bytes of visible characters in Unicode NFC), e.g. its
    /// fleet number, unique among vehicles.
    #[schema(min_length = 1, max_length = 200)]
    pub vehicle: String,
    /// Bus, ambulance or truck.
    pub kind: VehicleKind,
    /// Seated places (people). A vehicle has at least one seat or stretcher place.
    /// At most 10,000 (a ship's).
    #[schema(maximum = 10000)]
    pub seats: u32,
    /// Stretcher places (people lying down; ambulances). Default 0.
    #[serde(default)]
    /// At most 10,000.
    #[schema(maximum = 10000)]
    pub stretchers: u32,
    /// Who runs it (an organisation, never a driver's name).
    pub operator: String,
}

/// A convoy: one trip of registered vehicles along a corridor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Convoy {
    /// The convoy's id (1 to 200 bytes of visible characters in Unicode NFC), unique
    /// among convoys: a new trip is a new convoy.
    #[schema(min_length = 1, max_length = 200)]
    pub convoy: String,
    /// The corridor it travels (declared earlier).
    pub corridor: String,
    /// Its vehicles (at least one, each registered earlier, none twice).
    #[schema(min_items = 1)]
    pub vehicles: Vec<String>,
}

/// A vehicle passing a checkpoint with the people aboard, by group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Passage {
    /// The vehicle counted (registered, and part of `convoy`).
    pub vehicle: String,
    /// The convoy (trip) it travels in, dispatched earlier on `corridor`.
    pub convoy: String,
    /// The corridor.
    pub corridor: String,
    /// The checkpoint of `corridor` where it was counted; once per vehicle,
    /// checkpoint and trip.
    pub checkpoint: String,
    /// People aboard by group: `{group id: people}`. Each group defined
    /// earlier, allowed on the corridor, and named once; groups are
    /// disjoint, so the people aboard are the sum. Each count, and their
    /// sum, at most 10,000,000.
    #[serde(deserialize_with = "counts_without_repeats")]
    #[schema(value_type = BTreeMap<String, u32>)]
    pub counts: Counts,
    /// People aboard who are wounded, whatever their group: counted within
    /// the groups, so at most the people aboard. Default 0.
    #[serde(default)]
    /// At most 10,000,000.
    #[schema(maximum = 10000000)]
    pub wounded: u32,
}

/// A convoy's arrival.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConvoyArrived {
    /// The convoy (dispatched earlier).
    pub convoy: String,
    /// The site it arrived at (declared earlier).
    pub site: String,
}

/// What kind of incident: `halt` (the corridor named, and the convoy
/// named, are halted until `resumed`), `attack` (on a convoy, a corridor or
/// a site: the convoy named is marked attacked), `vehicle_lost` (vehicles
/// destroyed, seized or broken down: the convoy named is marked attacked),
/// `road_closed` (a road of the corridor is closed: halted as by `halt`)
/// or `resumed` (the corridor and convoy named go on after a halt).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum IncidentKind {
    Halt,
    Attack,
    VehicleLost,
    RoadClosed,
    Resumed,
}

impl IncidentKind {
    /// The snake_case name, as JSON writes it.
    pub fn name(self) -> &'static str {
        match self {
            IncidentKind::Halt => "halt",
            IncidentKind::Attack => "attack",
            IncidentKind::VehicleLost => "vehicle_lost",
            IncidentKind::RoadClosed => "road_closed",
            IncidentKind::Resumed => "resumed",
        }
    }
}

/// An incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Incident {
    /// The incident's id (1 to 200 bytes of visible characters in Unicode NFC).
    #[schema(min_length = 1, max_length = 200)]
    pub incident: String,
    /// What happened.
    pub kind: IncidentKind,
    /// The corridor concerned (declared earlier), if any. A checkpoint
    /// token must name one through its checkpoint, and may name only its
    /// convoys (and their vehicles, with the convoy) and its two sites.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corridor: Option<String>,
    /// The convoy concerned (dispatched earlier), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub convoy: Option<String>,
    /// The site concerned (declared earlier), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    /// Vehicles destroyed or lost (each registered earlier): views mark
    /// them lost.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vehicles: Vec<String>,
    /// People killed, when known (a count, no names). Default 0.
    #[serde(default)]
    /// At most 10,000,000.
    #[schema(maximum = 10000000)]
    pub killed: u32,
    /// What happened, in words.
    pub description: String,
}

/// An agreement between parties that links sites (e.g. "the Aleppo
/// evacuation continues together with Fu'ah/Kafarya").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Agreement {
    /// The agreement's id (1 to 200 bytes of visible characters in Unicode NFC).
    #[schema(min_length = 1, max_length = 200)]
    pub agreement: String,
    /// The sites it links (each declared earlier).
    pub sites: Vec<String>,
    /// Its terms, in words.
    pub terms: String,
}

/// Aid delivered to a district.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AidDelivery {
    /// The delivery's id (1 to 200 bytes of visible characters in Unicode NFC).
    #[schema(min_length = 1, max_length = 200)]
    pub delivery: String,
    /// What was delivered (food parcels, water, medical supplies, …).
    pub commodity: String,
    /// How much, tonnes (0 to 10,000,000).
    #[schema(minimum = 0.0, maximum = 1e7)]
    pub tonnes: f64,
    /// Families served (a count).
    /// At most 10,000,000.
    #[schema(maximum = 10000000)]
    pub families: u32,
    /// People served (a count).
    /// At most 10,000,000.
    #[schema(maximum = 10000000)]
    pub people: u32,
    /// The district (declared earlier).
    pub district: String,
    /// Who delivered it.
    pub organisation: String,
}

/// An airdrop of supplies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Airdrop {
    /// The airdrop's id (1 to 200 bytes of visible characters in Unicode NFC).
    #[schema(min_length = 1, max_length = 200)]
    pub airdrop: String,
    /// Where it landed.
    pub position: Position,
    /// What was dropped.
    pub contents: String,
    /// How much, tonnes (0 to 10,000,000).
    #[schema(minimum = 0.0, maximum = 1e7)]
    pub tonnes: f64,
    /// Whether it was recovered by the people it was meant for.
    pub recovered: bool,
}

/// What kind of hazard area: `front_line`, `suspected_mined` (suspected
/// mines or unexploded ordnance), `confirmed_mined`, `closed_road` or
/// `under_fire`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HazardKind {
    FrontLine,
    SuspectedMined,
    ConfirmedMined,
    ClosedRoad,
    UnderFire,
}

/// Where a hazard area stands: `suspected`, `confirmed`, `in_clearance`,
/// `active` (each closes the roads that cross or lie in the area),
/// `cleared` or `lifted` (its roads reopen).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Hazard {
    /// The area's id (1 to 200 bytes of visible characters in Unicode NFC), unique among hazard areas.
    #[schema(min_length = 1, max_length = 200)]
    pub hazard: String,
    /// What kind of hazard.
    pub kind: HazardKind,
    /// Where it stands.
    pub status: HazardStatus,
    /// The area's outline, a GeoJSON polygon's outer ring: `[lon, lat]`
    /// positions in degrees, at least 4, the last repeating the first,
    /// with no two edges crossing.
    #[schema(schema_with = ring_schema)]
    pub ring: Vec<[f64; 2]>,
    /// The district it lies in (declared earlier), if any; empty is left out.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub district: String,
}

/// The schema of [`Hazard::ring`].
fn ring_schema() -> utoipa::openapi::schema::Array {
    let degrees = |min: f64, max: f64, what: &str| ObjectBuilder::new().schema_type(Type::Number).minimum(Some(min)).maximum(Some(max)).description(Some(what));
    ArrayBuilder::new()
        .items(
            ArrayBuilder::new()
                .prefix_items([degrees(-180.0, 180.0, "longitude, degrees east").build(), degrees(-90.0, 90.0, "latitude, degrees north").build()])
                .items(ObjectBuilder::new().schema_type(Type::Number))
                .min_items(Some(2))
                .max_items(Some(2)),
        )
        .min_items(Some(4))
        .description(Some(
            "The area's outline, a GeoJSON polygon's outer ring: `[lon, lat]` positions in degrees, at least 4, the last repeating the first, with no two edges crossing.",
        ))
        .build()
}

/// A hazard area's change of status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HazardStatusChange {
    /// The hazard area (declared earlier).
    pub hazard: String,
    /// Its new status.
    pub status: HazardStatus,
}

/// Clearance work done.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Clearance {
    /// The record's id (1 to 200 bytes of visible characters in Unicode NFC).
    #[schema(min_length = 1, max_length = 200)]
    pub record: String,
    /// The hazard area cleared (declared earlier), if the work was in one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hazard: Option<String>,
    /// The district (declared earlier).
    pub district: String,
    /// Area cleared, hectares (0 to 1,000,000,000). Within a hazard area, all its
    /// records together may not exceed the area's own (with 0.1 % and
    /// 0.01 ha of slack for rounding).
    #[schema(minimum = 0.0, maximum = 1e9)]
    pub hectares: f64,
    /// Road cleared, kilometres (0 to 10,000,000).
    #[schema(minimum = 0.0, maximum = 1e7)]
    pub road_km: f64,
    /// Buildings cleared (a count).
    /// At most 10,000,000.
    #[schema(maximum = 10000000)]
    pub buildings: u32,
    /// The team that did the work.
    pub team: String,
    /// This record completes the clearance of `hazard`: its area is cleared
    /// and stops closing roads (routing follows it). Only with `hazard`.
    /// Default false.
    #[serde(default, skip_serializing_if = "is_false")]
    pub completes: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// People who returned to a district.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Return {
    /// The record's id (1 to 200 bytes of visible characters in Unicode NFC).
    #[schema(min_length = 1, max_length = 200)]
    pub record: String,
    /// The district they returned to (declared earlier).
    pub district: String,
    /// Families who returned (a count).
    /// At most 10,000,000.
    #[schema(maximum = 10000000)]
    pub families: u32,
    /// People who returned (a count).
    /// At most 10,000,000.
    #[schema(maximum = 10000000)]
    pub people: u32,
}

/// A district (a neighbourhood) that aid, clearance and returns refer to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct District {
    /// The district's id (1 to 200 bytes of visible characters in Unicode NFC), unique among districts.
    #[schema(min_length = 1, max_length = 200)]
    pub district: String,
    /// English name.
    pub name: String,
    /// Arabic name (optional; empty is left out).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name_ar: String,
    /// A point inside it.
    pub position: Position,
    /// Its area, hectares (0 to 1,000,000,000).
    #[schema(minimum = 0.0, maximum = 1e9)]
    pub hectares: f64,
}

/// Damaged buildings in a district by damage level, from a damage
/// assessment (e.g. UNOSAT's satellite survey): the work list clearance and
/// returns start from. Counts, never positions of homes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DamageAssessment {
    /// The assessment's id (1 to 200 bytes of visible characters in Unicode NFC).
    #[schema(min_length = 1, max_length = 200)]
    pub assessment: String,
    /// The district (declared earlier).
    pub district: String,
    /// Who assessed, when, with which imagery, and the data's attribution.
    pub source: String,
    /// Buildings destroyed (a count).
    /// At most 10,000,000.
    #[schema(maximum = 10000000)]
    pub destroyed: u32,
    /// Buildings severely damaged (a count).
    /// At most 10,000,000.
    #[schema(maximum = 10000000)]
    pub severe: u32,
    /// Buildings moderately damaged (a count).
    /// At most 10,000,000.
    #[schema(maximum = 10000000)]
    pub moderate: u32,
    /// Buildings with other or possible damage (a count). Default 0.
    #[serde(default)]
    /// At most 10,000,000.
    #[schema(maximum = 10000000)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Claim {
    /// The claim's id (1 to 200 bytes of visible characters in Unicode NFC), unique among claims.
    #[schema(min_length = 1, max_length = 200)]
    pub claim: String,
    /// Who published it (a source's name).
    pub source: String,
    /// When it was published (a date, `YYYY-MM-DD`).
    pub date: chrono::NaiveDate,
    /// The claim's words.
    pub text: String,
    /// The figure claimed (0 to 10¹²), in the unit of `measure`: people,
    /// families, tonnes, hectares, km or buildings.
    #[schema(minimum = 0.0, maximum = 1e12)]
    pub figure: f64,
    /// What the figure counts: `withdrawn` (people who left),
    /// `withdrawn:CORRIDOR` (through one declared corridor), `group:GROUP`
    /// (people of one defined group), `wounded`, `aid_tonnes`,
    /// `aid_families`, `cleared_hectares`, `cleared_road_km`,
    /// `cleared_buildings` or `returned_people`.
    #[schema(pattern = "^(withdrawn|withdrawn:.+|group:.+|wounded|aid_tonnes|aid_families|cleared_hectares|cleared_road_km|cleared_buildings|returned_people)$")]
    pub measure: String,
}

/// How a notice reached residents: `sms` (text messages), `cap` (a CAP 1.2
/// alert), `leaflet` (printed) or `loudspeaker` (read out).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Sms,
    Cap,
    Leaflet,
    Loudspeaker,
}

/// A notice sent to residents: counts and hashes only, never phone numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Notice {
    /// The notice's id (1 to 200 bytes of visible characters in Unicode NFC), unique
    /// among notices: an update is a new notice that references this one.
    #[schema(min_length = 1, max_length = 200)]
    pub notice: String,
    /// How it was sent.
    pub channel: Channel,
    /// The language it was written in (e.g. `ar`, `en`).
    pub language: String,
    /// The corridor it is about (declared earlier), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corridor: Option<String>,
    /// The truce window it announces (declared earlier), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<String>,
    /// The notice this one updates or cancels (issued earlier).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub references: Option<String>,
    /// How many recipients it was sent to (a count).
    /// At most 1,000,000,000.
    #[schema(maximum = 1000000000)]
    pub recipients: u64,
    /// HMAC-SHA-256 (64 lowercase hex digits) of the recipient list under a
    /// key kept on the sending machine, when there is a list: the same list
    /// gives the same value there, and the log alone cannot be turned back
    /// into numbers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^[0-9a-f]{64}$")]
    pub recipients_hmac: Option<String>,
    /// SHA-256 (64 lowercase hex digits) of the notice's content.
    #[schema(pattern = "^[0-9a-f]{64}$")]
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

    /// Whether `bytes` are exactly [`Event::canonical_bytes`]: written into
    /// a buffer this thread keeps for the purpose (no allocation per event
    /// once it has grown; one comparison, not one per piece written).
    pub fn is_canonical(&self, bytes: &[u8]) -> bool {
        thread_local! {
            static WRITTEN: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        WRITTEN.with(|written| {
            // A nested call (none today) would find the buffer taken; it
            // gets a buffer of its own.
            let mut own = Vec::new();
            let mut taken = written.try_borrow_mut();
            let buf = match taken.as_deref_mut() {
                Ok(buf) => buf,
                Err(_) => &mut own,
            };
            buf.clear();
            serde_json::to_writer(&mut *buf, self).is_ok() && buf.as_slice() == bytes
        })
    }

    /// The canonical bytes as the log stores them: refused past
    /// [`MAX_EVENT_BYTES`] (a C2SP tlog-tiles entry bundle prefixes each
    /// entry with its length as a 16-bit number).
    pub fn leaf_bytes(&self) -> Result<Vec<u8>, FieldError> {
        let bytes = self.canonical_bytes();
        if bytes.len() > crate::MAX_EVENT_BYTES {
            return Err(FieldError::new("(event)", format!("the event is {} bytes in its canonical form, over the {} an entry of the log may hold: split it into several events", bytes.len(), crate::MAX_EVENT_BYTES)));
        }
        Ok(bytes)
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
                check_count(&f("max_transit_minutes"), c.max_transit_minutes, MAX_TRANSIT_MINUTES, "minutes (a week)")?;
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
            Body::Incident(i) => {
                check_id(&f("incident"), &i.incident)?;
                check_count(&f("killed"), i.killed, MAX_PEOPLE, "people")?;
            }
            Body::Agreement(a) => check_id(&f("agreement"), &a.agreement)?,
            Body::ReturnRecorded(r) => {
                check_id(&f("record"), &r.record)?;
                check_count(&f("families"), r.families, MAX_PEOPLE, "families")?;
                check_count(&f("people"), r.people, MAX_PEOPLE, "people")?;
            }
            Body::NoticeIssued(n) => {
                check_id(&f("notice"), &n.notice)?;
                check_sha256(&f("content_sha256"), &n.content_sha256)?;
                check_count(&f("recipients"), n.recipients, MAX_RECIPIENTS, "recipients")?;
                if let Some(h) = &n.recipients_hmac {
                    check_sha256(&f("recipients_hmac"), h)?;
                }
            }
            Body::VehicleRegistered(v) => {
                check_id(&f("vehicle"), &v.vehicle)?;
                check_count(&f("seats"), v.seats, MAX_PLACES, "places")?;
                check_count(&f("stretchers"), v.stretchers, MAX_PLACES, "places")?;
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
                for (g, &n) in &p.counts {
                    check_count(&f(&format!("counts.{g}")), n, MAX_PEOPLE, "people")?;
                }
                let total = people(&p.counts);
                check_count(&f("counts"), total, u64::from(MAX_PEOPLE), "people aboard in all")?;
                if u64::from(p.wounded) > total {
                    return Err(FieldError::new(
                        f("wounded"),
                        format!("{} wounded is more than the {total} people counted aboard (wounded are counted within the groups)", p.wounded),
                    ));
                }
            }
            Body::AidDelivered(a) => {
                check_id(&f("delivery"), &a.delivery)?;
                check_amount(&f("tonnes"), a.tonnes, MAX_TONNES)?;
                check_count(&f("families"), a.families, MAX_PEOPLE, "families")?;
                check_count(&f("people"), a.people, MAX_PEOPLE, "people")?;
            }
            Body::Airdrop(a) => {
                check_id(&f("airdrop"), &a.airdrop)?;
                check_position(&f("position"), a.position)?;
                check_amount(&f("tonnes"), a.tonnes, MAX_TONNES)?;
            }
            Body::HazardDeclared(h) => {
                check_id(&f("hazard"), &h.hazard)?;
                check_ring(&f("ring"), &h.ring)?;
            }
            Body::ClearanceRecorded(c) => {
                check_id(&f("record"), &c.record)?;
                check_amount(&f("hectares"), c.hectares, MAX_HECTARES)?;
                check_amount(&f("road_km"), c.road_km, MAX_ROAD_KM)?;
                check_count(&f("buildings"), c.buildings, MAX_BUILDINGS, "buildings")?;
                if c.completes && c.hazard.is_none() {
                    return Err(FieldError::new(f("completes"), "only a clearance of a hazard area can complete it: name the hazard"));
                }
            }
            Body::DamageAssessed(d) => {
                check_id(&f("assessment"), &d.assessment)?;
                for (name, n) in [("destroyed", d.destroyed), ("severe", d.severe), ("moderate", d.moderate), ("other", d.other)] {
                    check_count(&f(name), n, MAX_BUILDINGS, "buildings")?;
                }
            }
            Body::DistrictDeclared(d) => {
                check_id(&f("district"), &d.district)?;
                check_position(&f("position"), d.position)?;
                check_amount(&f("hectares"), d.hectares, MAX_HECTARES)?;
            }
            Body::ClaimRecorded(c) => {
                check_id(&f("claim"), &c.claim)?;
                check_amount(&f("figure"), c.figure, MAX_FIGURE)?;
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

/// Writes an instant as chrono's own `Serialize` does (RFC 3339, UTC as
/// `Z`, as many fractional digits as it needs), but whole: chrono hands its
/// text to the serializer a piece at a time, which serde_json escapes a
/// piece at a time, and every event's time is written again when the log is
/// read (the canonical check). The same bytes; checked against chrono's in
/// the model's tests.
fn rfc3339<S: serde::Serializer>(time: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&time.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
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
                match counts.entry(group) {
                    std::collections::btree_map::Entry::Vacant(v) => {
                        v.insert(n);
                    }
                    std::collections::btree_map::Entry::Occupied(o) => {
                        return Err(serde::de::Error::custom(format!("group {:?} is counted twice; give each group once", o.key())));
                    }
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
    if let Some(c) = id.chars().find(|&c| invisible(c)) {
        return Err(FieldError::new(
            field,
            format!(
                "contains U+{:04X}, an invisible or control character (a control, format or bidi mark, byte order mark, or line or paragraph separator): \
                 write the id in visible characters only, so that one id looks like one id",
                c as u32
            ),
        ));
    }
    if !unicode_normalization::is_nfc(id) {
        let nfc: String = unicode_normalization::UnicodeNormalization::nfc(id).collect();
        return Err(FieldError::new(field, format!("is not in Unicode normal form C: write it as {nfc:?} (the same letters, composed), so that one id has one spelling")));
    }
    Ok(())
}

/// A character an id may not hold: Unicode general categories Cc
/// (controls), Cf (format: zero-width joiners and spaces, bidi marks and
/// overrides such as U+202E, the byte order mark U+FEFF, the soft hyphen),
/// Zl and Zp (line and paragraph separators).
fn invisible(c: char) -> bool {
    use unicode_properties::{GeneralCategory as G, UnicodeGeneralCategory as _};
    matches!(c.general_category(), G::Control | G::Format | G::LineSeparator | G::ParagraphSeparator)
}

/// A quantity: finite, 0 or more, and at most `max` (a bound no real
/// operation reaches, so that no sum of them overflows to infinity in a
/// view, a report or a chart).
fn check_amount(field: &str, x: f64, max: f64) -> Result<(), FieldError> {
    if !x.is_finite() || x < 0.0 {
        return Err(FieldError::new(field, format!("{x} is not a non-negative number")));
    }
    if x > max {
        return Err(FieldError::new(field, format!("{x} is more than any one record can hold (at most {max:e}): check the unit")));
    }
    Ok(())
}

/// A count: at most `max` (`what` it counts), a bound no real operation
/// reaches, so that no sum of counts wraps or saturates in a view or report.
fn check_count<N: Into<u64> + Copy + std::fmt::Display>(field: &str, n: N, max: N, what: &str) -> Result<(), FieldError> {
    if n.into() > max.into() {
        return Err(FieldError::new(field, format!("{n} is more than any one record can hold (at most {max} {what}): check the number")));
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
