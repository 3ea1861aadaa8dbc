//! OASIS CAP 1.2 alerts for corridor notices, and a reader that takes
//! CAP 1.2 only.
//!
//! One alert per notice: `msgType` Alert for an opening, Update for a
//! change and for a closing (responseType Avoid: a closing is news that
//! must be shown, which a Cancel may not be); an update `references` the
//! notice it replaces as `sender,identifier,sent`. No `effective`: an alert
//! is in force from when it is sent, and `onset` is the window's start. The identifier is the
//! notice id and `sent` is the notice's `issued` time (in the operation's
//! local time, [`NoticeSpec::zone`], as are `onset` and `expires`), so any later alert can rebuild the reference of an earlier one
//! from the log alone: the same log gives the same alerts, byte for byte.
//! The reference assumes the earlier alert went out under the same
//! [`CapOptions::sender`].
//!
//! Each language is one `<info>` block (`ar-SY`, `en-US`) with the
//! notice's headline, message (as `description`) and instruction from the
//! [`Renderer`], and one `<area>`: the corridor as a polygon 300 m around
//! the line through its origin, checkpoints and destination
//! ([`corridor_polygon`]); a circle around the entry when fewer than two
//! positions are known; the area's name alone when none is.
//!
//! # The data model: the `oasiscap` crate
//!
//! Alerts are built as `oasiscap::v1dot2::Alert` values and written and read
//! by that crate (0.2), which checks CAP's own rules beyond the schema
//! (identifiers without spaces, commas, `<` or `&`; closed polygons of at
//! least 4 WGS 84 points; CAP date-times with no `Z`). It reads every
//! example and real alert in `shared/data/cap/`, and writing each back and
//! reading it again gives the same value (tests/cap.rs). One flaw is worked
//! around here: `Display` of `v1dot2::Alert` drops the root `<alert>`
//! element (the output is not one XML document), while `Display` of the
//! version enum `oasiscap::Alert::V1dot2` writes it; [`alert`] uses the
//! latter, and the tests validate what it writes against the official
//! schema.

use chrono::{DateTime, Utc};
use geo::{Area as _, Buffer, Coord, LineString, Simplify};
use oasiscap::geo::{Circle, Point, Polygon};
use oasiscap::id::Id;
use oasiscap::language::Language;
use oasiscap::references::{Reference, References};
use oasiscap::v1dot2::{Alert, Area, Category, Certainty, Info, Map, MessageType, ResponseType, Scope, Severity, Status, Urgency};

use crate::content::{Kind, NoticeSpec};
use crate::render::{Lang, Part, Renderer};
use crate::NotifyError;

pub use oasiscap;

/// What [`parse`] returns: the `oasiscap` crate's CAP 1.2 alert.
pub type ParsedAlert = oasiscap::v1dot2::Alert;

/// The CAP 1.2 XML namespace.
pub const NS_1_2: &str = "urn:oasis:names:tc:emergency:cap:1.2";
const NS_1_1: &str = "urn:oasis:names:tc:emergency:cap:1.1";
const NS_1_0: &str = "http://www.incident.com/cap/1.0";

/// How far the alert area reaches either side of the corridor, in metres.
pub const BUFFER_M: f64 = 300.0;
/// Points of the buffer closer than this to the simplified outline are
/// dropped (metres).
const SIMPLIFY_M: f64 = 10.0;
/// Coordinates are written to 5 decimals (about 1 m).
const DECIMALS: f64 = 1e5;

/// Who sends the alerts, and in which languages.
#[derive(Debug, Clone, PartialEq)]
pub struct CapOptions {
    /// CAP `sender`: a globally unique id of the sender, e.g.
    /// `corridor@operation.example`. No spaces, commas, `<` or `&`.
    pub sender: String,
    /// One `<info>` block per language, in this order.
    pub langs: Vec<Lang>,
}

impl Default for CapOptions {
    fn default() -> Self {
        CapOptions { sender: "hq@corridor.invalid".into(), langs: Lang::ALL.to_vec() }
    }
}

/// One CAP 1.2 alert (XML text) for a notice.
pub fn alert(n: &NoticeSpec, r: &Renderer, opt: &CapOptions) -> Result<String, NotifyError> {
    let a = alert_model(n, r, opt)?;
    // Not `a.to_string()`: see the module doc.
    Ok(oasiscap::Alert::V1dot2(a).to_string())
}

/// The `msgType` of a notice's alert.
pub fn message_type(kind: Kind) -> MessageType {
    match kind {
        Kind::Opening => MessageType::Alert,
        Kind::Change => MessageType::Update,
        // Not Cancel: a closing is news residents must see (avoid the
        // corridor), and CAP consumers may show nothing for a Cancel.
        Kind::Closing => MessageType::Update,
    }
}

/// The alert for a notice as a value, before it is written.
pub fn alert_model(n: &NoticeSpec, r: &Renderer, opt: &CapOptions) -> Result<Alert, NotifyError> {
    if opt.langs.is_empty() {
        return Err(NotifyError::Other("a CAP alert needs at least one language: pass ar, en or both".into()));
    }
    let sender = cap_id("sender", &opt.sender)?;
    let identifier = cap_id("identifier (the notice id)", &n.id)?;
    let references = reference(n, opt)?.map(|r| References::new(vec![r]));
    let message_type = message_type(n.kind);
    let incidents = format!("{}.{}", n.corridor, n.window).parse().ok();
    let infos = opt.langs.iter().map(|&lang| info(n, r, lang)).collect::<Result<Vec<_>, _>>()?;
    Ok(Alert {
        identifier,
        sender,
        sent: sent(n),
        status: Status::Actual,
        message_type,
        source: None,
        scope: Scope::Public,
        restriction: None,
        addresses: None,
        codes: Vec::new(),
        // The reason recorded with a closing stays out of the public alert,
        // as it stays out of the notice's text.
        note: None,
        references,
        incidents,
        info: infos,
    })
}

/// The `sent` of a notice's alert: its `issued` time, in the operation's
/// local time.
pub fn sent(n: &NoticeSpec) -> oasiscap::DateTime {
    cap_time(n, n.issued)
}

/// The `references` entry of an update or cancel: the alert of the notice
/// it replaces (`n.references`, sent at `n.references_issued`). `None` for
/// an opening.
pub fn reference(n: &NoticeSpec, opt: &CapOptions) -> Result<Option<Reference>, NotifyError> {
    let Some(id) = &n.references else {
        return Ok(None);
    };
    let Some(issued) = n.references_issued else {
        return Err(NotifyError::Other(format!(
            "notice {} replaces {id} but does not say when that one was issued (references_issued): make notices with content::notices",
            n.id
        )));
    };
    Ok(Some(Reference { sender: cap_id("sender", &opt.sender)?, identifier: cap_id("referenced notice id", id)?, sent: cap_time(n, issued) }))
}

/// `t` with the offset of the notice's time zone (CAP writes no `Z`).
fn cap_time(n: &NoticeSpec, t: DateTime<Utc>) -> oasiscap::DateTime {
    oasiscap::DateTime::from(t.with_timezone(&n.zone))
}

fn cap_id(what: &str, s: &str) -> Result<Id, NotifyError> {
    Id::new(s).map_err(|e| NotifyError::Other(format!("CAP {what} {s:?}: {e}; CAP forbids spaces, commas, < and & there")))
}

fn info(n: &NoticeSpec, r: &Renderer, lang: Lang) -> Result<Info, NotifyError> {
    let closing = n.kind == Kind::Closing;
    let (language, event) = match lang {
        Lang::Ar => ("ar-SY", "ممر إخلاء"),
        Lang::En => ("en-US", "Evacuation corridor"),
    };
    // A closing tells people not to go to the corridor (responseType Avoid,
    // the instruction says to stay in a safe place); it is observed, and
    // applies now. CAP's AllClear would say the danger is over, which a
    // halted corridor does not mean.
    let (response, urgency, certainty) = if closing {
        (ResponseType::Avoid, Urgency::Immediate, Certainty::Observed)
    } else {
        let lead = n.start - n.issued;
        let urgency = if lead <= chrono::Duration::zero() {
            Urgency::Immediate
        } else if lead <= chrono::Duration::hours(1) {
            Urgency::Expected
        } else {
            Urgency::Future
        };
        // A truce window is agreed, not yet seen to hold.
        (ResponseType::Evacuate, urgency, Certainty::Likely)
    };
    let mut parameters = Map::new();
    parameters.push("corridor", n.corridor.clone());
    parameters.push("truceWindow", n.window.clone());
    parameters.push("cause", n.cause.clone());
    Ok(Info {
        language: Language::new(Some(language.to_string())).map_err(|e| NotifyError::Other(format!("CAP language {language}: {e}")))?,
        categories: vec![Category::Safety, Category::Transport],
        event: event.into(),
        response_type: vec![response],
        urgency,
        severity: Severity::Severe,
        certainty,
        audience: None,
        event_codes: Map::new(),
        // In force from when it is sent (CAP's default for a missing
        // `effective`), so residents are told before the window opens.
        effective: None,
        onset: (!closing).then(|| cap_time(n, n.start)),
        expires: Some(cap_time(n, n.end)),
        sender_name: None,
        headline: Some(r.render(n, lang, Part::Headline)?),
        description: Some(r.render(n, lang, Part::Message)?),
        instruction: Some(r.render(n, lang, Part::Instruction)?),
        web: None,
        contact: None,
        parameters,
        resources: Vec::new(),
        areas: vec![area(n, lang)?],
    })
}

fn area(n: &NoticeSpec, lang: Lang) -> Result<Area, NotifyError> {
    let description = match lang {
        Lang::Ar => format!("من {} إلى {}", n.origin.name, n.destination.name),
        Lang::En => format!("{} to {}", n.origin.name, n.destination.name),
    };
    let bad = |e: String| NotifyError::Other(format!("corridor {} area: {e}", n.corridor));
    let mut polygons = Vec::new();
    let mut circles = Vec::new();
    if let Some(ring) = corridor_polygon(n) {
        let points = ring.iter().map(|&(lat, lon)| Point::new(lat, lon).map_err(|e| bad(e.to_string()))).collect::<Result<Vec<_>, _>>()?;
        polygons.push(Polygon::try_from(points).map_err(|e| bad(e.to_string()))?);
    } else if let Some(p) = n.entry().position.or_else(|| positions(n).first().copied().map(|(lat, lon)| corridor_model::Position { lat, lon })) {
        let centre = Point::new(round(p.lat), round(p.lon)).map_err(|e| bad(e.to_string()))?;
        circles.push(Circle::new(centre, BUFFER_M / 1000.0).map_err(|e| bad(e.to_string()))?);
    }
    Ok(Area { description, polygons, circles, geocode: Map::new(), altitude: None, ceiling: None })
}

/// The known positions along the corridor, in order: origin, checkpoints,
/// destination, as (lat, lon), repeats in a row dropped.
fn positions(n: &NoticeSpec) -> Vec<(f64, f64)> {
    let mut out: Vec<(f64, f64)> = Vec::new();
    let all = std::iter::once(&n.origin).chain(&n.checkpoints).chain(std::iter::once(&n.destination));
    for p in all.filter_map(|p| p.position) {
        if p.lat.is_finite() && p.lon.is_finite() && out.last() != Some(&(p.lat, p.lon)) {
            out.push((p.lat, p.lon));
        }
    }
    out
}

/// The corridor's alert area: a closed ring (lat, lon), first point = last,
/// [`BUFFER_M`] around the line through the origin, the checkpoints and
/// the destination. `None` when fewer than two distinct positions are
/// known.
pub fn corridor_polygon(n: &NoticeSpec) -> Option<Vec<(f64, f64)>> {
    let pts = positions(n);
    if pts.len() < 2 {
        return None;
    }
    // A local equirectangular projection in metres about the points' mean:
    // good to well under 1% over a corridor's tens of kilometres.
    const R: f64 = 6_371_008.8;
    let lat0 = pts.iter().map(|p| p.0).sum::<f64>() / pts.len() as f64;
    let lon0 = pts.iter().map(|p| p.1).sum::<f64>() / pts.len() as f64;
    let k = lat0.to_radians().cos();
    let fwd = |(lat, lon): (f64, f64)| Coord { x: R * k * (lon - lon0).to_radians(), y: R * (lat - lat0).to_radians() };
    let back = |c: Coord<f64>| ((lat0 + (c.y / R).to_degrees()), (lon0 + (c.x / (R * k)).to_degrees()));
    let line = LineString::from(pts.iter().copied().map(fwd).collect::<Vec<_>>());
    let buffered = line.buffer(BUFFER_M);
    // One connected line gives one polygon; a line that loops may leave
    // holes, which CAP cannot say: the outer ring covers them.
    let poly = buffered.0.into_iter().max_by(|a, b| a.unsigned_area().total_cmp(&b.unsigned_area()))?;
    let outline = geo::Polygon::new(poly.exterior().clone(), vec![]).simplify(SIMPLIFY_M);
    let mut ring: Vec<(f64, f64)> = Vec::new();
    for c in outline.exterior().coords() {
        let (lat, lon) = back(*c);
        let p = (round(lat), round(lon));
        if ring.last() != Some(&p) {
            ring.push(p);
        }
    }
    if ring.first() != ring.last() {
        let first = ring[0];
        ring.push(first);
    }
    (ring.len() >= 4).then_some(ring)
}

fn round(x: f64) -> f64 {
    (x * DECIMALS).round() / DECIMALS
}

/// Reads a CAP alert. Anything but CAP 1.2 is refused, saying which
/// version it is; a CAP 1.2 alert that breaks CAP's rules is refused with
/// what is wrong.
pub fn parse(xml: &str) -> Result<ParsedAlert, NotifyError> {
    let refuse = |version: &str, ns: &str| NotifyError::Other(format!("this is a CAP {version} alert ({ns}); Corridor reads CAP 1.2 only"));
    match xml.parse::<oasiscap::Alert>() {
        Ok(oasiscap::Alert::V1dot2(a)) => Ok(a),
        Ok(oasiscap::Alert::V1dot1(_)) => Err(refuse("1.1", NS_1_1)),
        Ok(oasiscap::Alert::V1dot0(_)) => Err(refuse("1.0", NS_1_0)),
        Err(e) => Err(if xml.contains(NS_1_2) {
            NotifyError::Other(format!("this CAP 1.2 alert does not follow CAP: {e}"))
        } else if xml.contains(NS_1_1) {
            refuse("1.1", NS_1_1)
        } else if xml.contains(NS_1_0) {
            refuse("1.0", NS_1_0)
        } else {
            NotifyError::Other(format!("not a CAP alert (no <alert> in the {NS_1_2} namespace): {e}"))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content::Place;
    use corridor_model::Position;

    fn place(id: &str, pos: Option<(f64, f64)>) -> Place {
        Place { id: id.into(), name: id.into(), name_ar: None, position: pos.map(|(lat, lon)| Position { lat, lon }) }
    }

    fn notice(kind: Kind, n: usize) -> NoticeSpec {
        let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        NoticeSpec {
            id: format!("c1.w1.{n}"),
            kind,
            references: n.checked_sub(1).map(|p| format!("c1.w1.{p}")),
            references_issued: n.checked_sub(1).map(|p| t("2016-12-15T04:00:00Z") + chrono::Duration::hours(p as i64)),
            issued: t("2016-12-15T04:00:00Z") + chrono::Duration::hours(n as i64),
            cause: format!("e{n}"),
            reason: if n == 0 { String::new() } else { "halted".into() },
            corridor: "c1".into(),
            corridor_name: "Bridge to district".into(),
            corridor_name_ar: None,
            origin: place("east", Some((36.1745, 37.142))),
            checkpoints: vec![place("cp1", Some((36.154, 37.1222))), place("cp2", Some((36.17, 37.07)))],
            destination: place("west", Some((36.17, 37.07))),
            groups: vec![("women".into(), "women".into())],
            window: "w1".into(),
            start: t("2016-12-15T05:00:00Z"),
            end: t("2016-12-15T17:00:00Z"),
            zone: chrono_tz::Asia::Damascus,
        }
    }

    #[test]
    fn an_update_references_the_alert_it_replaces() {
        let (r, opt) = (Renderer::built_in(), CapOptions::default());
        let first = parse(&alert(&notice(Kind::Opening, 0), &r, &opt).unwrap()).unwrap();
        for (kind, mt) in [(Kind::Change, MessageType::Update), (Kind::Closing, MessageType::Update)] {
            let next = parse(&alert(&notice(kind, 1), &r, &opt).unwrap()).unwrap();
            assert_eq!(next.message_type, mt);
            let refs = next.references.expect("an update references the notice before");
            let [rf] = refs.as_slice() else { panic!("one reference") };
            assert_eq!((&rf.sender, &rf.identifier, &rf.sent), (&first.sender, &first.identifier, &first.sent));
        }
        assert!(first.references.is_none());
        assert_eq!(first.sent.to_string(), "2016-12-15T06:00:00+02:00");
    }

    #[test]
    fn the_area_is_a_closed_polygon_around_the_corridor_or_a_circle() {
        let n = notice(Kind::Opening, 0);
        let ring = corridor_polygon(&n).unwrap();
        assert!(ring.len() >= 4 && ring.first() == ring.last());
        // Every position on the line lies inside the ring.
        let poly = geo::Polygon::new(LineString::from(ring.iter().map(|&(lat, lon)| Coord { x: lon, y: lat }).collect::<Vec<_>>()), vec![]);
        for (lat, lon) in positions(&n) {
            assert!(geo::Contains::contains(&poly, &geo::Point::new(lon, lat)), "{lat},{lon} inside");
        }
        let mut one = n.clone();
        one.checkpoints.clear();
        one.destination.position = None;
        let a = area(&one, Lang::En).unwrap();
        assert!(a.polygons.is_empty());
        assert_eq!(a.circles[0].to_string(), "36.1745,37.142 0.3");
        one.origin.position = None;
        let a = area(&one, Lang::En).unwrap();
        assert!(a.polygons.is_empty() && a.circles.is_empty());
        assert_eq!(a.description, "east to west");
    }

    #[test]
    fn a_bad_sender_is_refused() {
        let opt = CapOptions { sender: "hq corridor".into(), ..CapOptions::default() };
        let e = alert(&notice(Kind::Opening, 0), &Renderer::built_in(), &opt).unwrap_err().to_string();
        assert!(e.contains("CAP sender \"hq corridor\""), "{e}");
    }
}
