//! What the log has declared so far, to check an event's references.

use std::collections::BTreeMap;

/// Hash maps keyed by client-chosen ids, with a per-process random seed.
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::quality::RandomState>;
type HashSet<T> = std::collections::HashSet<T, foldhash::quality::RandomState>;

use crate::{Body, Corrections, Effective, Event, FieldError, Passage, Vehicle};

/// A declared corridor, as the registry keeps it.
#[derive(Debug, Clone)]
pub struct CorridorInfo {
    /// The sites it leads from and to.
    pub from: String,
    pub to: String,
    pub checkpoints: Vec<String>,
    pub groups: HashSet<String>,
}

#[derive(Debug, Clone)]
struct ConvoyInfo {
    corridor: String,
    /// Each vehicle of the convoy, with the checkpoints (by position on the
    /// corridor, one bit each) where it has been counted on this trip.
    vehicles: HashMap<String, u64>,
}

/// A name kept once (a vehicle, convoy, corridor, checkpoint or author id):
/// a log of a million passages names the same few thousand things again
/// and again.
type Name = u32;

/// The names, each stored once, by number.
#[derive(Debug, Clone, Default)]
struct Names {
    numbers: HashMap<Box<str>, Name>,
    names: Vec<Box<str>>,
}

impl Names {
    fn intern(&mut self, s: &str) -> Name {
        if let Some(&n) = self.numbers.get(s) {
            return n;
        }
        let n = Name::try_from(self.names.len()).expect("fewer than 2^32 distinct names");
        self.names.push(s.into());
        self.numbers.insert(s.into(), n);
        n
    }

    fn get(&self, s: &str) -> Option<Name> {
        self.numbers.get(s).copied()
    }

    fn name(&self, n: Name) -> &str {
        &self.names[n as usize]
    }
}

/// What a passage is about (which vehicle where), to keep "counted once per
/// checkpoint and trip" true when passages are corrected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PassageKey {
    convoy: Name,
    vehicle: Name,
    corridor: Name,
    checkpoint: Name,
}

/// An entry that can be corrected, as the registry keeps it.
#[derive(Debug, Clone, Copy)]
pub struct EntryInfo<'a> {
    /// Its kind (`passage`, `incident`, …; a correction's is `entry_corrected`).
    pub kind: &'static str,
    /// Who recorded it.
    pub author: &'a str,
}

/// An entry of the log as the registry keeps it: its position, and for
/// one that can be corrected, what a correction needs.
#[derive(Debug, Clone, Copy)]
struct Entry {
    at: u64,
    correctable: Option<Correctable>,
}

/// An entry that can be corrected: its kind, author and, for a passage,
/// what it counted where.
#[derive(Debug, Clone, Copy)]
struct Correctable {
    kind: &'static str,
    author: Name,
    passage: Option<PassageKey>,
}

/// In `slot_at`: no entry recorded at this position.
const NO_SLOT: u32 = u32::MAX;

/// The declared groups, sites, corridors, checkpoints, vehicles, convoys,
/// windows, hazards (with the hectares cleared of each), notices, districts
/// and claims, built by folding the log. An event that
/// refers to something not declared before it is rejected.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    groups: BTreeMap<String, String>,
    sites: HashSet<String>,
    corridors: HashMap<String, CorridorInfo>,
    /// checkpoint id -> corridor id (checkpoint ids are unique across corridors).
    checkpoints: HashMap<String, String>,
    vehicles: HashMap<String, Vehicle>,
    convoys: HashMap<String, ConvoyInfo>,
    windows: HashSet<String>,
    /// Hazard areas: their area and the hectares cleared so far (hectares).
    hazards: HashMap<String, (f64, f64)>,
    notices: HashSet<String>,
    districts: HashSet<String>,
    claims: HashSet<String>,
    operation: Option<String>,
    /// Every entry recorded, by event id: the log's one index of its ids
    /// (the ledger asks it whether an id is new, and where an id is).
    entries: crate::IdMap<Entry>,
    /// Per position, the slot of its id in `entries` (`NO_SLOT`: an entry
    /// not recorded, one `corridor verify` found at fault), so an entry's
    /// id is found from its position without a copy of every id.
    slot_at: Vec<u32>,
    /// The ids of the vehicles, convoys, corridors and checkpoints that
    /// passages name, and of authors.
    names: Names,
    corrections: Corrections,
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty registry with room for `entries` entries reserved at
    /// once (a walk that knows the log's size).
    pub fn with_capacity(entries: usize) -> Self {
        Registry { entries: crate::IdMap::for_ids(entries), slot_at: Vec::with_capacity(entries), ..Self::default() }
    }

    /// How many entries were recorded (or skipped): the position the next
    /// one is recorded at.
    pub fn len(&self) -> u64 {
        self.slot_at.len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.slot_at.is_empty()
    }

    /// Where the entry with event id `id` was recorded.
    pub fn position(&self, id: &str) -> Option<u64> {
        self.entries.get(id).map(|e| e.at)
    }

    /// The event id of the entry recorded at position `at`.
    pub fn id_at(&self, at: u64) -> Option<&str> {
        let slot = *self.slot_at.get(usize::try_from(at).ok()?)?;
        self.entries.id_in(slot).filter(|(_, e)| e.at == at).map(|(id, _)| id)
    }

    /// Passes over the next position without recording anything there
    /// (an entry found at fault, which a full check reports and goes on).
    pub fn skip(&mut self) {
        self.slot_at.push(NO_SLOT);
    }

    /// Forgets the entries recorded at position `len` and after, which
    /// must declare nothing (a refused batch's passages, incidents, …:
    /// declarations go to a copy that is dropped instead, see
    /// [`Registry::record_staged`]).
    pub fn truncate(&mut self, len: u64) {
        while self.len() > len {
            let slot = self.slot_at.pop().expect("longer than len");
            let at = self.len();
            let Some(id) = self.entries.id_in(slot).filter(|(_, e)| e.at == at).map(|(id, _)| id.to_string()) else { continue };
            if let Some(Entry { correctable: Some(Correctable { passage: Some(k), .. }), .. }) = self.entries.remove(&id) {
                self.mark(&k, false);
            }
        }
    }

    pub fn groups(&self) -> &BTreeMap<String, String> {
        &self.groups
    }

    pub fn corridor(&self, id: &str) -> Option<&CorridorInfo> {
        self.corridors.get(id)
    }

    /// The corridor a checkpoint belongs to.
    pub fn corridor_of_checkpoint(&self, checkpoint: &str) -> Option<&str> {
        self.checkpoints.get(checkpoint).map(String::as_str)
    }

    pub fn vehicle(&self, id: &str) -> Option<&Vehicle> {
        self.vehicles.get(id)
    }

    /// A correctable entry by event id.
    pub fn entry(&self, id: &str) -> Option<EntryInfo<'_>> {
        self.correctable(id).map(|e| EntryInfo { kind: e.kind, author: self.names.name(e.author) })
    }

    fn correctable(&self, id: &str) -> Option<&Correctable> {
        self.entries.get(id)?.correctable.as_ref()
    }

    /// The checkpoint a passage (by event id) stands at now, corrections
    /// applied; `None` for anything else, or a voided passage.
    pub fn passage_checkpoint(&self, id: &str) -> Option<String> {
        self.effective_passage(self.corrections.root(id)).map(|k| self.names.name(k.checkpoint).to_string())
    }

    /// The corridor convoy `id` was dispatched on.
    pub fn convoy_corridor(&self, id: &str) -> Option<&str> {
        self.convoys.get(id).map(|c| c.corridor.as_str())
    }

    /// Whether `vehicle` is one of convoy `convoy`'s vehicles.
    pub fn in_convoy(&self, convoy: &str, vehicle: &str) -> bool {
        self.convoys.get(convoy).is_some_and(|c| c.vehicles.contains_key(vehicle))
    }

    /// The declared operation's id, if any.
    pub fn operation(&self) -> Option<&str> {
        self.operation.as_deref()
    }

    /// Whether any checkpoint of any corridor is `id`.
    pub fn has_checkpoint(&self, id: &str) -> bool {
        self.checkpoints.contains_key(id)
    }

    /// Declared truce windows.
    pub fn has_window(&self, id: &str) -> bool {
        self.windows.contains(id)
    }

    /// What passage `p` counts where, when all it names is declared.
    fn key(&self, p: &Passage) -> Option<PassageKey> {
        Some(PassageKey {
            convoy: self.names.get(&p.convoy)?,
            vehicle: self.names.get(&p.vehicle)?,
            corridor: self.names.get(&p.corridor)?,
            checkpoint: self.names.get(&p.checkpoint)?,
        })
    }

    /// The passage `root` (not a correction) as it stands.
    fn effective_passage(&self, root: &str) -> Option<PassageKey> {
        let own = self.correctable(root)?.passage?;
        match self.corrections.effective(root) {
            Effective::Unchanged | Effective::Replaced { body: None, .. } => Some(own),
            Effective::Replaced { body: Some(Body::Passage(p)), .. } => self.key(p),
            Effective::Replaced { body: Some(_), .. } | Effective::Voided => None,
        }
    }

    /// Checks and records a batch, all or nothing: on error the registry is
    /// unchanged and the error carries the position of the failing event.
    /// (Ids are the ledger's to check: this checks references.)
    pub fn apply_batch<'a>(
        &mut self,
        events: impl IntoIterator<Item = &'a Event>,
    ) -> Result<(), (usize, FieldError)> {
        let len = self.len();
        let mut scratch: Option<Registry> = None;
        for (i, e) in events.into_iter().enumerate() {
            if let Err(err) = scratch.as_ref().unwrap_or(self).check(e) {
                self.truncate(len);
                return Err((i, err));
            }
            self.record_staged(&mut scratch, e);
        }
        if let Some(s) = scratch {
            *self = s;
        }
        Ok(())
    }

    /// Records a checked event of a batch being staged: a declaration (and
    /// whatever follows it in the batch) into `scratch`, a copy made when
    /// first needed and kept only if the whole batch passes; anything
    /// before that straight here, where [`Registry::truncate`] undoes it
    /// if the batch is refused.
    pub fn record_staged(&mut self, scratch: &mut Option<Registry>, e: &Event) {
        match scratch {
            Some(s) => s.record(e),
            None if e.body.declares() => scratch.insert(self.clone()).record(e),
            None => self.record(e),
        }
    }

    /// Checks and records one event.
    pub fn apply(&mut self, e: &Event) -> Result<(), FieldError> {
        self.check(e)?;
        self.record(e);
        Ok(())
    }

    /// Checks an event's references against what is declared (does not
    /// record it).
    pub fn check(&self, e: &Event) -> Result<(), FieldError> {
        self.check_refs("body", &e.body, None)
    }

    /// Checks a body's references; `at` is its path. For the corrected
    /// content of passage `replacing`, its vehicle may be counted again
    /// where that passage counted it.
    fn check_refs(&self, at: &str, body: &Body, replacing: Option<&PassageKey>) -> Result<(), FieldError> {
        let kind = body.kind();
        let f = |name: &str| format!("{at}.{kind}.{name}");
        let new = |field: &str, id: &str, set: bool, what: &str, change: &str| {
            if set {
                Err(FieldError::new(f(field), format!("{what} {id:?} is already declared; {change}")))
            } else {
                Ok(())
            }
        };
        match body {
            Body::OperationDeclared(o) => {
                if let Some(op) = &self.operation {
                    return Err(FieldError::new(
                        f("operation"),
                        format!("this log is operation {op:?} already; an operation is declared once, as its log's first fact (start a new log with `corridor init` for another operation)"),
                    ));
                }
                let _ = o;
            }
            Body::EntryCorrected(c) => {
                let Some(target) = self.correctable(c.corrects.as_str()) else {
                    return Err(FieldError::new(
                        f("corrects"),
                        format!(
                            "no entry with id {:?} can be corrected: name the event id of a passage, incident, convoy arrival, aid, airdrop, return, damage assessment or correction (`corridor log show` lists ids); declarations are changed by their own events",
                            c.corrects
                        ),
                    ));
                };
                let root = self.corrections.root(&c.corrects);
                let root_kind = self.correctable(root).map_or(target.kind, |r| r.kind);
                if let Some(b) = &c.body {
                    if b.kind() != root_kind {
                        return Err(FieldError::new(f("body"), format!("entry {:?} is a {root_kind}: its correction must be a {root_kind} too, not a {}", c.corrects, b.kind())));
                    }
                    let old = self.effective_passage(root);
                    self.check_refs(&f("body"), b, old.as_ref())?;
                }
            }
            Body::GroupsDefined(g) => {
                let mut seen = HashSet::default();
                for (i, group) in g.groups.iter().enumerate() {
                    if self.groups.contains_key(&group.id) || !seen.insert(&group.id) {
                        return Err(FieldError::new(
                            f(&format!("groups[{i}].id")),
                            format!("group {:?} is already defined", group.id),
                        ));
                    }
                }
            }
            Body::SiteDeclared(s) => new("site", &s.site, self.sites.contains(&s.site), "site", "choose another id")?,
            Body::CorridorDeclared(c) => {
                new("corridor", &c.corridor, self.corridors.contains_key(&c.corridor), "corridor", "choose another id")?;
                self.site(|| f("from"), &c.from)?;
                self.site(|| f("to"), &c.to)?;
                let mut seen = HashSet::default();
                for (i, cp) in c.checkpoints.iter().enumerate() {
                    if self.checkpoints.contains_key(&cp.id) || !seen.insert(&cp.id) {
                        return Err(FieldError::new(
                            f(&format!("checkpoints[{i}].id")),
                            format!("checkpoint {:?} is already declared (checkpoint ids are unique across corridors)", cp.id),
                        ));
                    }
                }
                for (i, g) in c.groups.iter().enumerate() {
                    self.group(|| f(&format!("groups[{i}]")), g)?;
                }
            }
            Body::CorridorOpened(c) | Body::CorridorClosed(c) => {
                self.corridor_id(|| f("corridor"), &c.corridor)?;
            }
            Body::TruceWindowDeclared(w) | Body::TruceWindowChanged(w) => {
                let declared = self.windows.contains(&w.window);
                if matches!(body, Body::TruceWindowDeclared(_)) {
                    new("window", &w.window, declared, "truce window", "use truce_window_changed to change it")?;
                } else if !declared {
                    return Err(FieldError::new(f("window"), format!("unknown truce window {:?}: declare it first", w.window)));
                }
                for (i, c) in w.corridors.iter().enumerate() {
                    self.corridor_id(|| f(&format!("corridors[{i}]")), c)?;
                }
            }
            Body::VehicleRegistered(v) => {
                new("vehicle", &v.vehicle, self.vehicles.contains_key(&v.vehicle), "vehicle", "choose another id")?;
            }
            Body::ConvoyDispatched(c) => {
                new("convoy", &c.convoy, self.convoys.contains_key(&c.convoy), "convoy", "choose another id")?;
                self.corridor_id(|| f("corridor"), &c.corridor)?;
                let mut seen = HashSet::default();
                for (i, v) in c.vehicles.iter().enumerate() {
                    self.vehicle_id(|| f(&format!("vehicles[{i}]")), v)?;
                    if !seen.insert(v) {
                        return Err(FieldError::new(f(&format!("vehicles[{i}]")), format!("vehicle {v:?} is listed twice")));
                    }
                }
            }
            Body::Passage(p) => {
                let corridor = self.corridor_id(|| f("corridor"), &p.corridor)?;
                if !corridor.checkpoints.contains(&p.checkpoint) {
                    let known = corridor.checkpoints.join(", ");
                    return Err(FieldError::new(
                        f("checkpoint"),
                        format!("unknown checkpoint {:?} on corridor {:?} (its checkpoints: {known})", p.checkpoint, p.corridor),
                    ));
                }
                self.vehicle_id(|| f("vehicle"), &p.vehicle)?;
                let convoy = self.convoys.get(&p.convoy).ok_or_else(|| {
                    FieldError::new(f("convoy"), format!("unknown convoy {:?}: dispatch it first (convoy_dispatched)", p.convoy))
                })?;
                if convoy.corridor != p.corridor {
                    return Err(FieldError::new(
                        f("corridor"),
                        format!("convoy {:?} was dispatched on corridor {:?}, not {:?}", p.convoy, convoy.corridor, p.corridor),
                    ));
                }
                let Some(&seen) = convoy.vehicles.get(&p.vehicle) else {
                    return Err(FieldError::new(
                        f("vehicle"),
                        format!("vehicle {:?} is not part of convoy {:?}", p.vehicle, p.convoy),
                    ));
                };
                let at = corridor.checkpoints.iter().position(|c| *c == p.checkpoint).expect("checked above");
                let again = replacing.is_some_and(|k| Some(k) == self.key(p).as_ref());
                if seen & (1 << at) != 0 && !again {
                    return Err(FieldError::new(
                        f("checkpoint"),
                        format!(
                            "vehicle {:?} of convoy {:?} was already counted at checkpoint {:?}: a vehicle is counted once per checkpoint and trip (a new trip is a new convoy)",
                            p.vehicle, p.convoy, p.checkpoint
                        ),
                    ));
                }
                for g in p.counts.keys() {
                    let field = || f(&format!("counts.{g}"));
                    self.group(field, g)?;
                    if !corridor.groups.contains(g) {
                        return Err(FieldError::new(field(), format!("group {g:?} may not use corridor {:?}", p.corridor)));
                    }
                }
            }
            Body::ConvoyArrived(a) => {
                if !self.convoys.contains_key(&a.convoy) {
                    return Err(FieldError::new(f("convoy"), format!("unknown convoy {:?}", a.convoy)));
                }
                self.site(|| f("site"), &a.site)?;
            }
            Body::Incident(i) => {
                if let Some(c) = &i.corridor {
                    self.corridor_id(|| f("corridor"), c)?;
                }
                if let Some(c) = &i.convoy {
                    if !self.convoys.contains_key(c) {
                        return Err(FieldError::new(f("convoy"), format!("unknown convoy {c:?}")));
                    }
                }
                if let Some(s) = &i.site {
                    self.site(|| f("site"), s)?;
                }
                for (n, v) in i.vehicles.iter().enumerate() {
                    self.vehicle_id(|| f(&format!("vehicles[{n}]")), v)?;
                }
            }
            Body::Agreement(a) => {
                for (i, s) in a.sites.iter().enumerate() {
                    self.site(|| f(&format!("sites[{i}]")), s)?;
                }
            }
            Body::HazardDeclared(h) => {
                new("hazard", &h.hazard, self.hazards.contains_key(&h.hazard), "hazard", "use hazard_status_changed to change it")?;
                if !h.district.is_empty() {
                    self.district(|| f("district"), &h.district)?;
                }
            }
            Body::HazardStatusChanged(h) => self.hazard(|| f("hazard"), &h.hazard)?,
            Body::ClearanceRecorded(c) => {
                self.district(|| f("district"), &c.district)?;
                if let Some(h) = &c.hazard {
                    self.hazard(|| f("hazard"), h)?;
                    let (area, done) = self.hazards[h];
                    // A little slack for rounding in the surveyors' figures.
                    if done + c.hectares > area * 1.001 + 0.01 {
                        return Err(FieldError::new(
                            f("hectares"),
                            format!("{:.2} ha more would make {:.2} ha cleared of hazard area {h:?}, which has {area:.2} ha ({done:.2} ha cleared already)", c.hectares, done + c.hectares),
                        ));
                    }
                }
            }
            Body::AidDelivered(a) => self.district(|| f("district"), &a.district)?,
            Body::DamageAssessed(d) => self.district(|| f("district"), &d.district)?,
            Body::ReturnRecorded(r) => self.district(|| f("district"), &r.district)?,
            Body::DistrictDeclared(d) => {
                new("district", &d.district, self.districts.contains(&d.district), "district", "choose another id")?;
            }
            Body::ClaimRecorded(c) => {
                new("claim", &c.claim, self.claims.contains(&c.claim), "claim", "choose another id")?;
                if let Some(id) = c.measure.strip_prefix("withdrawn:") {
                    self.corridor_id(|| f("measure"), id)?;
                }
                if let Some(id) = c.measure.strip_prefix("group:") {
                    self.group(|| f("measure"), id)?;
                }
            }
            Body::NoticeIssued(n) => {
                new("notice", &n.notice, self.notices.contains(&n.notice), "notice", "an update is a new notice that references it")?;
                if let Some(c) = &n.corridor {
                    self.corridor_id(|| f("corridor"), c)?;
                }
                if let Some(w) = &n.window {
                    if !self.windows.contains(w) {
                        return Err(FieldError::new(f("window"), format!("unknown truce window {w:?}")));
                    }
                }
                if let Some(r) = &n.references {
                    if !self.notices.contains(r) {
                        return Err(FieldError::new(f("references"), format!("unknown notice {r:?}")));
                    }
                }
            }
            Body::Airdrop(_) => {}
        }
        Ok(())
    }

    /// Records a checked event at the next position (see [`Registry::len`];
    /// its id must be new, which the ledger checks): its id, its
    /// declarations, and for a passage the checkpoint where its vehicle has
    /// now been counted.
    pub fn record(&mut self, e: &Event) {
        let passage = match &e.body {
            Body::Passage(p) => self.key(p),
            _ => None,
        };
        let correctable = e.body.correctable().then(|| Correctable { kind: e.body.kind(), author: self.names.intern(&e.author), passage });
        let (slot, _) = self.entries.insert_slot(&e.id, Entry { at: self.len(), correctable });
        self.slot_at.push(slot);
        match &e.body {
            Body::Passage(_) => {
                if let Some(k) = passage {
                    self.mark(&k, true);
                }
            }
            Body::OperationDeclared(o) => self.operation = Some(o.operation.clone()),
            Body::EntryCorrected(c) => {
                let root = self.corrections.root(&c.corrects).to_string();
                let before = self.effective_passage(&root);
                self.corrections.add(&e.id, c);
                let after = self.effective_passage(&root);
                if before != after {
                    if let Some(k) = before {
                        self.mark(&k, false);
                    }
                    if let Some(k) = after {
                        self.mark(&k, true);
                    }
                }
            }
            Body::GroupsDefined(g) => {
                for group in &g.groups {
                    self.groups.insert(group.id.clone(), group.label.clone());
                }
            }
            Body::SiteDeclared(s) => {
                self.sites.insert(s.site.clone());
            }
            Body::CorridorDeclared(c) => {
                self.names.intern(&c.corridor);
                for cp in &c.checkpoints {
                    self.names.intern(&cp.id);
                    self.checkpoints.insert(cp.id.clone(), c.corridor.clone());
                }
                self.corridors.insert(
                    c.corridor.clone(),
                    CorridorInfo {
                        from: c.from.clone(),
                        to: c.to.clone(),
                        checkpoints: c.checkpoints.iter().map(|cp| cp.id.clone()).collect(),
                        groups: c.groups.iter().cloned().collect(),
                    },
                );
            }
            Body::TruceWindowDeclared(w) => {
                self.windows.insert(w.window.clone());
            }
            Body::VehicleRegistered(v) => {
                self.names.intern(&v.vehicle);
                self.vehicles.insert(v.vehicle.clone(), v.clone());
            }
            Body::ConvoyDispatched(c) => {
                self.names.intern(&c.convoy);
                self.convoys.insert(
                    c.convoy.clone(),
                    ConvoyInfo { corridor: c.corridor.clone(), vehicles: c.vehicles.iter().map(|v| (v.clone(), 0)).collect() },
                );
            }
            Body::HazardDeclared(h) => {
                self.hazards.insert(h.hazard.clone(), (crate::ring_hectares(&h.ring), 0.0));
            }
            Body::ClearanceRecorded(c) => {
                if let Some(area) = c.hazard.as_ref().and_then(|h| self.hazards.get_mut(h)) {
                    area.1 += c.hectares;
                }
            }
            Body::DistrictDeclared(d) => {
                self.districts.insert(d.district.clone());
            }
            Body::ClaimRecorded(c) => {
                self.claims.insert(c.claim.clone());
            }
            Body::NoticeIssued(n) => {
                self.notices.insert(n.notice.clone());
            }
            _ => {}
        }
    }

    /// Marks (or unmarks) a passage's vehicle as counted at its checkpoint.
    fn mark(&mut self, k: &PassageKey, counted: bool) {
        let checkpoint = self.names.name(k.checkpoint);
        let Some(at) = self.corridors.get(self.names.name(k.corridor)).and_then(|c| c.checkpoints.iter().position(|c| **c == *checkpoint)) else { return };
        if let Some(seen) = self.convoys.get_mut(self.names.name(k.convoy)).and_then(|c| c.vehicles.get_mut(self.names.name(k.vehicle))) {
            if counted {
                *seen |= 1 << at;
            } else {
                *seen &= !(1 << at);
            }
        }
    }

    fn site(&self, field: impl FnOnce() -> String, id: &str) -> Result<(), FieldError> {
        if self.sites.contains(id) {
            Ok(())
        } else {
            Err(FieldError::new(field(), format!("unknown site {id:?}: declare it first (site_declared)")))
        }
    }

    fn group(&self, field: impl FnOnce() -> String, id: &str) -> Result<(), FieldError> {
        if self.groups.contains_key(id) {
            Ok(())
        } else {
            let known: Vec<&str> = self.groups.keys().map(String::as_str).collect();
            Err(FieldError::new(
                field(),
                format!("unknown group {id:?} (defined groups: {}); define it with groups_defined", known.join(", ")),
            ))
        }
    }

    fn corridor_id(&self, field: impl FnOnce() -> String, id: &str) -> Result<&CorridorInfo, FieldError> {
        self.corridors
            .get(id)
            .ok_or_else(|| FieldError::new(field(), format!("unknown corridor {id:?}: declare it first (corridor_declared)")))
    }

    fn vehicle_id(&self, field: impl FnOnce() -> String, id: &str) -> Result<(), FieldError> {
        if self.vehicles.contains_key(id) {
            Ok(())
        } else {
            Err(FieldError::new(field(), format!("unknown vehicle {id:?}: register it first (vehicle_registered)")))
        }
    }

    fn district(&self, field: impl FnOnce() -> String, id: &str) -> Result<(), FieldError> {
        if self.districts.contains(id) {
            Ok(())
        } else {
            Err(FieldError::new(field(), format!("unknown district {id:?}: declare it first (district_declared)")))
        }
    }

    fn hazard(&self, field: impl FnOnce() -> String, id: &str) -> Result<(), FieldError> {
        if self.hazards.contains_key(id) {
            Ok(())
        } else {
            Err(FieldError::new(field(), format!("unknown hazard area {id:?}: declare it first (hazard_declared)")))
        }
    }
}

impl Body {
    /// Whether the event declares something later events may refer to (and
    /// so changes the [`Registry`]).
    pub fn declares(&self) -> bool {
        matches!(
            self,
        Body::GroupsDefined(_)
            | Body::OperationDeclared(_)
            | Body::EntryCorrected(_)
            | Body::SiteDeclared(_)
            | Body::CorridorDeclared(_)
            | Body::TruceWindowDeclared(_)
            | Body::VehicleRegistered(_)
            | Body::ConvoyDispatched(_)
            | Body::HazardDeclared(_)
            | Body::NoticeIssued(_)
            | Body::ClearanceRecorded(_)
            | Body::DistrictDeclared(_)
            | Body::ClaimRecorded(_)
        )
    }
}
