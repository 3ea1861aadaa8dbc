//! The scenario file (TOML): who must leave, from where, through which
//! corridors and checkpoints, in which truce windows, with which vehicles,
//! under which agreements, and the incidents scheduled to happen. The
//! commented reference is `scenarios/aleppo-2016.toml` ([`ALEPPO_2016`]).
//!
//! Every error names the file, the line and the field: a TOML or type error
//! through the TOML parser's own position, a reference to something that
//! does not exist through the line of the table that makes it.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::Deserialize;
use corridor_model::{MAX_PEOPLE, MAX_PLACES};
use toml::Spanned;

/// Largest number of vehicles of one fleet.
pub const MAX_FLEET: u32 = 100_000;

/// The bundled reference scenario (stage 2 of eastern Aleppo, December 2016).
pub const ALEPPO_2016: &str = include_str!("../scenarios/aleppo-2016.toml");

/// A whole scenario, as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub scenario: Meta,
    pub map: MapSpec,
    #[serde(default)]
    pub sites: Vec<Spanned<SiteSpec>>,
    #[serde(default)]
    pub corridors: Vec<Spanned<CorridorSpec>>,
    #[serde(default)]
    pub windows: Vec<Spanned<WindowSpec>>,
    #[serde(default)]
    pub fleet: Vec<Spanned<FleetSpec>>,
    #[serde(default)]
    pub agreements: Vec<Spanned<AgreementSpec>>,
    #[serde(default)]
    pub incidents: Vec<Spanned<IncidentSpec>>,
    /// After the evacuation: districts, aid, airdrops, mine clearance, returns, claims.
    #[serde(default)]
    pub aftermath: Option<Spanned<AftermathSpec>>,
    #[serde(default)]
    pub aid: Vec<Spanned<AidSpec>>,
    #[serde(default)]
    pub airdrops: Vec<Spanned<AirdropSpec>>,
    #[serde(default)]
    pub clearance_campaigns: Vec<Spanned<CampaignSpec>>,
    #[serde(default)]
    pub returns: Vec<Spanned<ReturnSpec>>,
    #[serde(default)]
    pub claims: Vec<Spanned<ClaimSpec>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AftermathSpec {
    /// `aleppo-neighbourhoods`: the 133 built-in neighbourhood polygons.
    pub districts: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AidSpec {
    pub id: String,
    pub time: DateTime<Utc>,
    pub commodity: String,
    pub tonnes: f64,
    pub families: u32,
    pub people: u32,
    pub district: String,
    pub organisation: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AirdropSpec {
    pub id: String,
    pub time: DateTime<Utc>,
    /// `[lat, lon]`.
    pub at: [f64; 2],
    pub contents: String,
    pub tonnes: f64,
    pub recovered: bool,
}

/// A mine-clearance campaign: each district's polygon is declared a hazard
/// area, then cleared in `records_per_area` records between `from` and
/// `to`, the campaign's hectares, road km and buildings shared out by area;
/// the last record of an area completes it (its roads reopen).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CampaignSpec {
    pub id: String,
    /// When the areas are declared (suspected).
    pub declared: DateTime<Utc>,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub districts: Vec<String>,
    pub hectares: f64,
    pub road_km: f64,
    pub buildings: u32,
    pub teams: Vec<String>,
    #[serde(default = "default_records")]
    pub records_per_area: u32,
}

fn default_records() -> u32 {
    4
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReturnSpec {
    pub id: String,
    pub time: DateTime<Utc>,
    pub district: String,
    pub families: u32,
    pub people: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimSpec {
    pub id: String,
    pub source: String,
    pub date: chrono::NaiveDate,
    pub text: String,
    pub figure: f64,
    /// What it counts (`withdrawn:CORRIDOR`, `aid_tonnes`, …: see corridor-model's CLAIM_MEASURES).
    pub measure: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Meta {
    pub name: String,
    /// The log's origin line (`corridor init --origin`).
    #[serde(default)]
    pub origin: Option<String>,
    /// Declarations are made at this instant; nobody moves before it.
    pub start: DateTime<Utc>,
    #[serde(default)]
    pub seed: u64,
    /// The operation's id in its log (`operation_declared`); default: the
    /// last part of `origin`, or `operation`.
    #[serde(default)]
    pub operation: Option<String>,
    /// The time zone screens and notices show (IANA tz database name, e.g.
    /// `Europe/Monaco`). Required: nothing assumes a zone.
    pub timezone: String,
    /// The languages of notices to residents (`en`, `ar`).
    #[serde(default = "default_languages")]
    pub languages: Vec<String>,
    #[serde(default = "default_slot")]
    pub slot_minutes: u32,
    /// Vehicles leaving a site within this many minutes form one convoy.
    #[serde(default = "default_convoy_minutes")]
    pub convoy_minutes: u32,
    #[serde(default = "default_convoy_size")]
    pub convoy_size: u32,
    /// Minutes to unload at a destination.
    #[serde(default = "default_unload")]
    pub unload_minutes: u32,
}

fn default_languages() -> Vec<String> {
    vec!["en".into()]
}
fn default_slot() -> u32 {
    1
}
fn default_convoy_minutes() -> u32 {
    30
}
fn default_convoy_size() -> u32 {
    50
}
fn default_unload() -> u32 {
    15
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MapSpec {
    /// `aleppo-districts`: the approximate district network built into the binary.
    #[serde(default)]
    pub builtin: Option<String>,
    /// A prepared network (`corridor import … --out F.cnet`), relative to the scenario file.
    #[serde(default)]
    pub file: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SiteKindSpec {
    Besieged,
    Destination,
    Depot,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteSpec {
    pub id: String,
    pub name: String,
    /// The name in Arabic, for notices to residents.
    #[serde(default)]
    pub name_ar: Option<String>,
    pub kind: SiteKindSpec,
    /// `[lat, lon]`.
    pub at: [f64; 2],
    /// People who must leave, by group.
    #[serde(default)]
    pub people: BTreeMap<String, u32>,
    /// Of whom wounded (a condition across groups, carried by ambulances).
    #[serde(default)]
    pub wounded: u32,
    /// Minutes to board a vehicle.
    #[serde(default = "default_board")]
    pub board_minutes: u32,
}

fn default_board() -> u32 {
    20
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointSpec {
    pub id: String,
    pub name: String,
    /// The name in Arabic, for notices to residents.
    #[serde(default)]
    pub name_ar: Option<String>,
    /// Where on the route: `LAT,LON`, a distance from the entry (`2.5km`,
    /// `800m`) or a share of the length (`40%`).
    pub at: String,
    /// Vehicles the checkpoint counts per hour (all its lanes together).
    pub vehicles_per_hour: u32,
    /// Minutes a vehicle spends being counted.
    #[serde(default = "default_count")]
    pub count_minutes: u32,
}

fn default_count() -> u32 {
    3
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorridorSpec {
    pub id: String,
    pub name: String,
    /// The name in Arabic, for notices to residents.
    #[serde(default)]
    pub name_ar: Option<String>,
    pub from: String,
    pub to: String,
    /// `[lat, lon]` of the entry and exit; the route between them is the corridor.
    pub entry: [f64; 2],
    pub exit: [f64; 2],
    #[serde(default)]
    pub via: Vec<[f64; 2]>,
    /// Groups that may use it (default: every group).
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default = "default_transit")]
    pub max_transit_minutes: u32,
    pub checkpoints: Vec<CheckpointSpec>,
}

fn default_transit() -> u32 {
    120
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowSpec {
    pub id: String,
    pub corridors: Vec<String>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// Declared only when this agreement is made (default: at the start).
    #[serde(default)]
    pub agreement: Option<String>,
}

/// A fleet's kind of vehicle: the model's own (`bus`, `ambulance`, `truck`).
pub use corridor_model::VehicleKind as VehicleKindSpec;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetSpec {
    /// Vehicle ids are `{prefix}-001` …
    pub prefix: String,
    pub kind: VehicleKindSpec,
    pub count: u32,
    pub seats: u32,
    #[serde(default)]
    pub stretchers: u32,
    pub operator: String,
    /// Site the vehicles start from.
    pub depot: String,
    /// Sites the vehicles serve (default: every site with people). A site's
    /// loads of a kind go to the first fleet of that kind that serves it.
    #[serde(default)]
    pub serves: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgreementSpec {
    pub id: String,
    pub time: DateTime<Utc>,
    pub sites: Vec<String>,
    pub terms: String,
    /// "Corridor `corridor` stays open only while the evacuation of
    /// `while_site` proceeds": a halt of that site's corridors after the
    /// agreement halts this corridor too.
    #[serde(default)]
    pub corridor: Option<String>,
    #[serde(default)]
    pub while_site: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentKindSpec {
    /// The corridor stops admitting vehicles (those inside drive on to the exit).
    Halt,
    /// Vehicles on their way along the corridor, not yet counted in, are
    /// destroyed; the corridor halts.
    Attack,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentSpec {
    pub id: String,
    pub time: DateTime<Utc>,
    pub kind: IncidentKindSpec,
    pub corridor: String,
    /// Attack: how many vehicles on the road are destroyed.
    #[serde(default)]
    pub vehicles: u32,
    /// Attack: only vehicles of this kind are hit (default: any).
    #[serde(default)]
    pub vehicle_kind: Option<VehicleKindSpec>,
    #[serde(default)]
    pub killed: u32,
    pub description: String,
    /// The corridor reopens when this agreement is made (default: never).
    #[serde(default)]
    pub until_agreement: Option<String>,
}

/// A scenario that could not be read, with where.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScenarioError {
    #[error("{file}: {message}")]
    Toml { file: String, message: String },
    #[error("{file}:{line}: {field}: {message}")]
    Invalid {
        file: String,
        line: usize,
        field: String,
        message: String,
    },
}

/// 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].bytes().filter(|&b| b == b'\n').count() + 1
}

impl Scenario {
    /// Parses and checks a scenario; `file` names it in errors.
    /// The operation's id: `[scenario] operation`, else the last part of
    /// `origin`.
    pub fn operation_id(&self) -> String {
        let m = &self.scenario;
        m.operation.clone().or_else(|| m.origin.as_deref().and_then(|o| o.rsplit('/').next()).filter(|s| !s.is_empty()).map(String::from)).unwrap_or_else(|| "operation".into())
    }

    pub fn parse(text: &str, file: &str) -> Result<Scenario, ScenarioError> {
        let s: Scenario = toml::from_str(text).map_err(|e| {
            let at = e.span().map(|r| format!("line {}: ", line_of(text, r.start))).unwrap_or_default();
            ScenarioError::Toml {
                file: file.to_string(),
                message: format!("{at}{}", e.message().trim_end()),
            }
        })?;
        s.check(text, file)?;
        Ok(s)
    }

    fn check(&self, text: &str, file: &str) -> Result<(), ScenarioError> {
        let err = |span: std::ops::Range<usize>, field: String, message: String| ScenarioError::Invalid {
            file: file.to_string(),
            line: line_of(text, span.start),
            field,
            message,
        };
        let groups: BTreeSet<&str> = ["armed", "women", "children", "men", "elderly"].into();
        let mut ids = BTreeSet::new();
        let mut dup = |kind: &str, id: &str| ids.insert(format!("{kind}:{id}"));
        if self.map.builtin.is_some() == self.map.file.is_some() {
            return Err(ScenarioError::Invalid {
                file: file.into(),
                line: text.lines().position(|l| l.trim() == "[map]").map_or(1, |i| i + 1),
                field: "map".into(),
                message: "give exactly one of builtin = \"aleppo-districts\" or file = \"NETWORK.cnet\"".into(),
            });
        }
        if let Some(b) = &self.map.builtin {
            if b != "aleppo-districts" {
                return Err(ScenarioError::Invalid {
                    file: file.into(),
                    line: 1,
                    field: "map.builtin".into(),
                    message: format!("unknown built-in map {b:?}: the one built in is \"aleppo-districts\""),
                });
            }
        }
        if !(1..=60).contains(&self.scenario.slot_minutes) {
            return Err(ScenarioError::Invalid {
                file: file.into(),
                line: 1,
                field: "scenario.slot_minutes".into(),
                message: "must be 1 to 60".into(),
            });
        }
        if self.scenario.timezone.parse::<chrono_tz::Tz>().is_err() {
            return Err(ScenarioError::Invalid {
                file: file.into(),
                line: 1,
                field: "scenario.timezone".into(),
                message: format!("{:?} is not a time zone of the tz database: use an IANA name such as Europe/Monaco or Asia/Damascus", self.scenario.timezone),
            });
        }
        if let Some(l) = self.scenario.languages.iter().find(|l| !corridor_model::NOTICE_LANGUAGES.contains(&l.as_str())) {
            return Err(ScenarioError::Invalid {
                file: file.into(),
                line: 1,
                field: "scenario.languages".into(),
                message: format!("notices are written in {} only; {l:?} is not one of them", corridor_model::NOTICE_LANGUAGES.join(" and ")),
            });
        }
        let site = |id: &str| self.sites.iter().find(|s| s.get_ref().id == id).map(|s| s.get_ref());
        for (i, s) in self.sites.iter().enumerate() {
            let (sp, s) = (s.span(), s.get_ref());
            let f = |x: &str| format!("sites[{i}].{x}");
            if !dup("site", &s.id) {
                return Err(err(sp, f("id"), format!("site {:?} is declared twice", s.id)));
            }
            check_at(s.at).map_err(|m| err(sp.clone(), f("at"), m))?;
            for g in s.people.keys() {
                if !groups.contains(g.as_str()) {
                    return Err(err(
                        sp,
                        f(&format!("people.{g}")),
                        format!("unknown group {g:?}: use armed, women, children, men or elderly (wounded is a count, not a group)"),
                    ));
                }
            }
            let total: u64 = s.people.values().map(|&n| u64::from(n)).sum();
            if total > u64::from(MAX_PEOPLE) {
                return Err(err(sp, f("people"), format!("{total} people at one site is more than the event format can record (at most {MAX_PEOPLE}): check the numbers")));
            }
            if u64::from(s.wounded) > total {
                return Err(err(sp, f("wounded"), format!("{} wounded but only {total} people", s.wounded)));
            }
        }
        for (i, c) in self.corridors.iter().enumerate() {
            let (sp, c) = (c.span(), c.get_ref());
            let f = |x: &str| format!("corridors[{i}].{x}");
            if !dup("corridor", &c.id) {
                return Err(err(sp, f("id"), format!("corridor {:?} is declared twice", c.id)));
            }
            match site(&c.from) {
                None => return Err(err(sp, f("from"), format!("unknown site {:?}: declare it in a [[sites]] table", c.from))),
                Some(s) if s.people.is_empty() => return Err(err(sp, f("from"), format!("site {:?} has nobody to evacuate (no people)", c.from))),
                _ => {}
            }
            if site(&c.to).is_none() {
                return Err(err(sp, f("to"), format!("unknown site {:?}: declare it in a [[sites]] table", c.to)));
            }
            for (k, p) in [c.entry, c.exit].into_iter().chain(c.via.iter().copied()).enumerate() {
                check_at(p).map_err(|m| err(sp.clone(), f(["entry", "exit", "via"][k.min(2)]), m))?;
            }
            for g in &c.groups {
                if !groups.contains(g.as_str()) {
                    return Err(err(sp, f("groups"), format!("unknown group {g:?}")));
                }
            }
            if c.checkpoints.len() < 2 {
                return Err(err(
                    sp,
                    f("checkpoints"),
                    "a corridor needs at least two checkpoints: the first counts in (entry), the last counts out (exit)".into(),
                ));
            }
            for (k, cp) in c.checkpoints.iter().enumerate() {
                if !dup("checkpoint", &cp.id) {
                    return Err(err(sp, f(&format!("checkpoints[{k}].id")), format!("checkpoint {:?} is declared twice", cp.id)));
                }
                if cp.vehicles_per_hour == 0 {
                    return Err(err(sp, f(&format!("checkpoints[{k}].vehicles_per_hour")), "must be at least 1".into()));
                }
                if let Err(e) = cp.at.parse::<corridor_geo::corridor::Placement>() {
                    return Err(err(sp, f(&format!("checkpoints[{k}].at")), e.to_string()));
                }
            }
        }
        // Every group at a site must have a corridor that takes it.
        for s in &self.sites {
            let (sp, s) = (s.span(), s.get_ref());
            for g in s.people.keys().filter(|g| s.people[*g] > 0) {
                let ok = self.corridors.iter().any(|c| {
                    let c = c.get_ref();
                    c.from == s.id && (c.groups.is_empty() || c.groups.contains(g))
                });
                if !ok {
                    return Err(err(
                        sp,
                        format!("sites[{}].people.{g}", self.sites.iter().position(|x| x.get_ref().id == s.id).unwrap_or(0)),
                        format!("no corridor from {:?} takes group {g:?}: add it to a corridor's groups", s.id),
                    ));
                }
            }
        }
        let corridor = |id: &str| self.corridors.iter().any(|c| c.get_ref().id == id);
        let agreement = |id: &str| self.agreements.iter().any(|a| a.get_ref().id == id);
        for (i, w) in self.windows.iter().enumerate() {
            let (sp, w) = (w.span(), w.get_ref());
            let f = |x: &str| format!("windows[{i}].{x}");
            if !dup("window", &w.id) {
                return Err(err(sp, f("id"), format!("window {:?} is declared twice", w.id)));
            }
            if w.end <= w.start {
                return Err(err(sp, f("end"), format!("the window ends ({}) before it starts ({})", w.end, w.start)));
            }
            if let Some(c) = w.corridors.iter().find(|c| !corridor(c)) {
                return Err(err(sp, f("corridors"), format!("unknown corridor {c:?}")));
            }
            if let Some(a) = w.agreement.as_deref().filter(|a| !agreement(a)) {
                return Err(err(sp, f("agreement"), format!("unknown agreement {a:?}")));
            }
        }
        for (i, v) in self.fleet.iter().enumerate() {
            let (sp, v) = (v.span(), v.get_ref());
            let f = |x: &str| format!("fleet[{i}].{x}");
            if !dup("fleet", &v.prefix) {
                return Err(err(sp, f("prefix"), format!("two fleets use the prefix {:?}", v.prefix)));
            }
            if site(&v.depot).is_none() {
                return Err(err(sp, f("depot"), format!("unknown site {:?}", v.depot)));
            }
            if let Some(s) = v.serves.iter().find(|s| site(s).is_none()) {
                return Err(err(sp, f("serves"), format!("unknown site {s:?}")));
            }
            for (name, n, max) in [("seats", v.seats, MAX_PLACES), ("stretchers", v.stretchers, MAX_PLACES), ("count", v.count, MAX_FLEET)] {
                if n > max {
                    return Err(err(sp, f(name), format!("{n} is more than the event format can record (at most {max}): check the number")));
                }
            }
            if v.kind == VehicleKindSpec::Ambulance && v.stretchers == 0 {
                return Err(err(sp, f("stretchers"), "an ambulance carries 1 to 4 stretcher cases".into()));
            }
            if v.seats + v.stretchers == 0 {
                return Err(err(sp, f("seats"), "a vehicle with no places carries nobody".into()));
            }
        }
        for (i, a) in self.agreements.iter().enumerate() {
            let (sp, a) = (a.span(), a.get_ref());
            let f = |x: &str| format!("agreements[{i}].{x}");
            if !dup("agreement", &a.id) {
                return Err(err(sp, f("id"), format!("agreement {:?} is declared twice", a.id)));
            }
            if let Some(s) = a.sites.iter().chain(a.while_site.iter()).find(|s| site(s).is_none()) {
                return Err(err(sp, f("sites"), format!("unknown site {s:?}")));
            }
            if let Some(c) = a.corridor.as_deref().filter(|c| !corridor(c)) {
                return Err(err(sp, f("corridor"), format!("unknown corridor {c:?}")));
            }
            if a.corridor.is_some() != a.while_site.is_some() {
                return Err(err(sp, f("while_site"), "a linked corridor needs both corridor and while_site".into()));
            }
        }
        for (i, x) in self.incidents.iter().enumerate() {
            let (sp, x) = (x.span(), x.get_ref());
            let f = |k: &str| format!("incidents[{i}].{k}");
            if !dup("incident", &x.id) {
                return Err(err(sp, f("id"), format!("incident {:?} is declared twice", x.id)));
            }
            if !corridor(&x.corridor) {
                return Err(err(sp, f("corridor"), format!("unknown corridor {:?}", x.corridor)));
            }
            if let Some(a) = x.until_agreement.as_deref().filter(|a| !agreement(a)) {
                return Err(err(sp, f("until_agreement"), format!("unknown agreement {a:?}")));
            }
            if x.time < self.scenario.start {
                return Err(err(sp, f("time"), "the incident happens before the scenario starts".into()));
            }
        }
        self.check_aftermath(text, file)
    }

    /// The districts the aftermath refers to (empty without an `[aftermath]`).
    pub fn districts(&self) -> Vec<corridor_aleppo::DistrictRecord> {
        match &self.aftermath {
            Some(a) if a.get_ref().districts == "aleppo-neighbourhoods" => corridor_aleppo::districts(corridor_aleppo::NEIGHBORHOODS_GEOJSON).unwrap_or_default(),
            _ => Vec::new(),
        }
    }

    fn check_aftermath(&self, text: &str, file: &str) -> Result<(), ScenarioError> {
        let err = |span: std::ops::Range<usize>, field: String, message: String| ScenarioError::Invalid { file: file.to_string(), line: line_of(text, span.start), field, message };
        if let Some(a) = &self.aftermath {
            if a.get_ref().districts != "aleppo-neighbourhoods" {
                return Err(err(a.span(), "aftermath.districts".into(), format!("unknown district set {:?}: the built-in one is \"aleppo-neighbourhoods\"", a.get_ref().districts)));
            }
        }
        let districts = self.districts();
        let has = |id: &str| districts.iter().any(|d| d.id == id);
        let unknown = |id: &str| {
            if districts.is_empty() {
                "no districts are declared: add [aftermath] districts = \"aleppo-neighbourhoods\"".to_string()
            } else {
                format!("unknown district {id:?} (ids are slugs of the English names, e.g. \"hanano\", \"al-kallaseh\")")
            }
        };
        let nonneg = |x: f64| x.is_finite() && x >= 0.0;
        for (i, a) in self.aid.iter().enumerate() {
            let (sp, a) = (a.span(), a.get_ref());
            if !has(&a.district) {
                return Err(err(sp, format!("aid[{i}].district"), unknown(&a.district)));
            }
            if !nonneg(a.tonnes) {
                return Err(err(sp, format!("aid[{i}].tonnes"), format!("{} is not a non-negative number of tonnes", a.tonnes)));
            }
        }
        for (i, a) in self.airdrops.iter().enumerate() {
            let (sp, a) = (a.span(), a.get_ref());
            check_at(a.at).map_err(|m| err(sp.clone(), format!("airdrops[{i}].at"), m))?;
            if !nonneg(a.tonnes) {
                return Err(err(sp, format!("airdrops[{i}].tonnes"), format!("{} is not a non-negative number of tonnes", a.tonnes)));
            }
        }
        for (i, r) in self.returns.iter().enumerate() {
            let (sp, r) = (r.span(), r.get_ref());
            if !has(&r.district) {
                return Err(err(sp, format!("returns[{i}].district"), unknown(&r.district)));
            }
        }
        for (i, c) in self.clearance_campaigns.iter().enumerate() {
            let (sp, c) = (c.span(), c.get_ref());
            let f = |x: &str| format!("clearance_campaigns[{i}].{x}");
            if let Some(d) = c.districts.iter().find(|d| !has(d)) {
                return Err(err(sp, f("districts"), unknown(d)));
            }
            let area: f64 = districts.iter().filter(|d| c.districts.contains(&d.id)).map(|d| d.hectares).sum();
            if !nonneg(c.hectares) || c.hectares > area {
                return Err(err(sp, f("hectares"), format!("{} ha cannot be cleared from areas of {area:.1} ha in all", c.hectares)));
            }
            if !nonneg(c.road_km) {
                return Err(err(sp, f("road_km"), format!("{} is not a non-negative length", c.road_km)));
            }
            if c.to <= c.from || c.declared > c.from {
                return Err(err(sp, f("to"), "the campaign must be declared by `from` and end after it".into()));
            }
            if c.teams.is_empty() || c.records_per_area == 0 {
                return Err(err(sp, f("teams"), "name at least one team, and records_per_area ≥ 1".into()));
            }
        }
        for (i, c) in self.claims.iter().enumerate() {
            let (sp, c) = (c.span(), c.get_ref());
            if !nonneg(c.figure) {
                return Err(err(sp, format!("claims[{i}].figure"), "must be a non-negative number".into()));
            }
        }
        Ok(())
    }

    pub fn site(&self, id: &str) -> Option<&SiteSpec> {
        self.sites.iter().map(|s| s.get_ref()).find(|s| s.id == id)
    }
}

fn check_at(p: [f64; 2]) -> Result<(), String> {
    if !(-90.0..=90.0).contains(&p[0]) || !(-180.0..=180.0).contains(&p[1]) {
        return Err(format!("[{}, {}] is not [lat, lon] (did you swap them?)", p[0], p[1]));
    }
    Ok(())
}
