//! A one-page A4 leaflet per corridor and truce window, to print and hand
//! out or post: a map of the route drawn from the road network, then the
//! headline, hours and instructions in Arabic and English.
//!
//! [`html`] lays the page out; every sentence on it comes from the
//! [`Renderer`]'s templates (headline, message, instruction), so the
//! leaflet says what the SMS and the alert say. The page is self-contained
//! (no fonts, images or styles fetched): the map is inline SVG, the fonts
//! are the system's ("Noto Naskh Arabic" from Debian's `fonts-noto-core`),
//! and [`pdf`] prints it through headless Chromium, which shapes Arabic
//! right to left and embeds the font subset in the PDF.
//!
//! [`map_layer`] routes origin → checkpoints → destination on the network
//! (corridor-geo's [`corridor::plan`] with the checkpoints as via points)
//! and keeps the network's roads around the route, with the network's
//! attribution, which the leaflet prints.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::path::Path;

use corridor_geo::corridor::{self, CorridorSpec};
use corridor_geo::{LatLon, Router};

use crate::content::{Kind, Place};
use crate::{Lang, NoticeSpec, NotifyError, Part, Renderer};

/// The map's SVG box (user units; drawn 190 mm wide on the page).
pub const MAP_W: f64 = 1000.0;
pub const MAP_H: f64 = 500.0;

/// Space around the route on the map: this share of its extent on each
/// side, and at least [`MIN_MARGIN_M`].
pub const MARGIN_SHARE: f64 = 0.12;
pub const MIN_MARGIN_M: f64 = 400.0;

/// What the leaflet's map draws, in `[lon, lat]` (WGS 84 degrees).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MapLayer {
    /// The network's roads in and around the map's box, as polylines.
    pub roads: Vec<Vec<[f64; 2]>>,
    /// The route origin → checkpoints → destination.
    pub route: Vec<[f64; 2]>,
    /// The network's attribution (printed on the leaflet).
    pub attribution: String,
    /// True when the network is a derived, coarse stand-in for the streets.
    pub approximate: bool,
}

/// The places of `n` the map shows, in order, with their positions:
/// origin, checkpoints, destination (those the log gives a position).
fn stops(n: &NoticeSpec) -> Vec<(&Place, LatLon)> {
    std::iter::once(&n.origin)
        .chain(&n.checkpoints)
        .chain(std::iter::once(&n.destination))
        .filter_map(|p| p.position.map(|q| (p, LatLon::new(q.lat, q.lon))))
        .collect()
}

/// The map's box `[lon_min, lat_min, lon_max, lat_max]`: the points with a
/// margin, widened to the SVG box's proportions.
fn view_box(points: impl Iterator<Item = [f64; 2]>) -> Option<[f64; 4]> {
    let mut b = [f64::MAX, f64::MAX, f64::MIN, f64::MIN];
    for [lon, lat] in points {
        b = [b[0].min(lon), b[1].min(lat), b[2].max(lon), b[3].max(lat)];
    }
    if b[0] > b[2] {
        return None;
    }
    let k = ((b[1] + b[3]) / 2.0).to_radians().cos();
    let (m_lat, m_lon) = (MIN_MARGIN_M / 110_574.0, MIN_MARGIN_M / (111_320.0 * k));
    let dy = ((b[3] - b[1]) * MARGIN_SHARE).max(m_lat);
    let dx = ((b[2] - b[0]) * MARGIN_SHARE).max(m_lon);
    b = [b[0] - dx, b[1] - dy, b[2] + dx, b[3] + dy];
    // Widen the short side (in ground distance) to the box's proportions.
    let (w, h) = ((b[2] - b[0]) * k, b[3] - b[1]);
    if w / h < MAP_W / MAP_H {
        let grow = (h * MAP_W / MAP_H / k - (b[2] - b[0])) / 2.0;
        b[0] -= grow;
        b[2] += grow;
    } else {
        let grow = (w * MAP_H / MAP_W - h) / 2.0;
        b[1] -= grow;
        b[3] += grow;
    }
    Some(b)
}

fn map_box(route: &[[f64; 2]], n: &NoticeSpec) -> Option<[f64; 4]> {
    view_box(route.iter().copied().chain(stops(n).into_iter().map(|(_, p)| [p.lon, p.lat])))
}

/// The map of `n`: its route on `router`'s network (origin, then each
/// checkpoint, then the destination, as the log places them) and the
/// network's roads around it. A notice with fewer than two placed stops,
/// or a stop the network cannot reach, is an error saying which.
pub fn map_layer(router: &Router, n: &NoticeSpec) -> Result<MapLayer, NotifyError> {
    let stops = stops(n);
    if stops.len() < 2 {
        return Err(NotifyError::Other(format!(
            "corridor {}: the log gives a position for {} of its places (origin, checkpoints, destination); a map needs at least two: declare the sites' and checkpoints' positions, or make the leaflet without a map",
            n.corridor,
            stops.len()
        )));
    }
    let spec = CorridorSpec {
        id: n.corridor.clone(),
        name: n.corridor_name.clone(),
        entry: stops[0].1,
        exit: stops[stops.len() - 1].1,
        via: stops[1..stops.len() - 1].iter().map(|s| s.1).collect(),
        checkpoints: vec![],
    };
    let mut st = router.new_state();
    let planned = corridor::plan(router, &mut st, &spec).map_err(|e| NotifyError::Other(format!("the leaflet's map: {e}")))?;
    let route: Vec<[f64; 2]> = planned.points.iter().map(|p| [p.lon, p.lat]).collect();
    let b = map_box(&route, n).expect("a route has points");

    let net = router.network();
    let mut seen: HashSet<(u32, u32)> = HashSet::new();
    let mut roads = Vec::new();
    for a in 0..net.arc_count() {
        let (u, v) = (net.tail[a], net.head[a]);
        if !seen.insert((u.min(v), u.max(v))) {
            continue;
        }
        let (pu, pv) = ([net.lon[u as usize], net.lat[u as usize]], [net.lon[v as usize], net.lat[v as usize]]);
        // A segment whose box overlaps the map's (the SVG clips the rest).
        let overlaps = pu[0].min(pv[0]) <= b[2] && pu[0].max(pv[0]) >= b[0] && pu[1].min(pv[1]) <= b[3] && pu[1].max(pv[1]) >= b[1];
        if overlaps {
            roads.push(vec![pu, pv]);
        }
    }
    Ok(MapLayer { roads, route, attribution: net.meta.attribution.clone(), approximate: net.meta.approximate })
}

/// Text escaped for HTML and SVG.
fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            _ => o.push(c),
        }
    }
    o
}

/// Equirectangular projection of the map's box onto the SVG box.
struct Proj {
    b: [f64; 4],
    k: f64,
    s: f64,
}

impl Proj {
    fn new(b: [f64; 4]) -> Self {
        let k = ((b[1] + b[3]) / 2.0).to_radians().cos();
        Proj { b, k, s: MAP_W / ((b[2] - b[0]) * k) }
    }
    fn xy(&self, [lon, lat]: [f64; 2]) -> (f64, f64) {
        ((lon - self.b[0]) * self.k * self.s, (self.b[3] - lat) * self.s)
    }
}

fn path_d(p: &Proj, line: &[[f64; 2]], d: &mut String) {
    for (i, q) in line.iter().enumerate() {
        let (x, y) = p.xy(*q);
        let _ = write!(d, "{}{x:.1} {y:.1}", if i == 0 { "M" } else { "L" });
    }
}

/// An axis-aligned rectangle `[x0, y0, x1, y1]`.
type Rect = [f64; 4];

fn overlap(a: &Rect, b: &Rect) -> bool {
    a[0] < b[2] && b[0] < a[2] && a[1] < b[3] && b[1] < a[3]
}

/// Width of `text` at `size` (an estimate for a sans-serif face).
fn text_w(text: &str, size: f64) -> f64 {
    text.chars().count() as f64 * size * 0.53
}

/// Where a label beside a marker at `(x, y)` (radius `r`) goes: the first
/// of right, left, above, below, and diagonals further out, that stays in
/// the box and clear of what is placed; else the least crowded one.
fn place_label(x: f64, y: f64, r: f64, w: f64, h: f64, taken: &[Rect]) -> (Rect, &'static str) {
    let g = r + 5.0;
    let candidates = [
        ([x + g, y - h / 2.0, x + g + w, y + h / 2.0], "start"),
        ([x - g - w, y - h / 2.0, x - g, y + h / 2.0], "end"),
        ([x - w / 2.0, y - g - h, x + w / 2.0, y - g], "middle"),
        ([x - w / 2.0, y + g, x + w / 2.0, y + g + h], "middle"),
        ([x + g, y - g - h, x + g + w, y - g], "start"),
        ([x + g, y + g, x + g + w, y + g + h], "start"),
        ([x - g - w, y - g - h, x - g, y - g], "end"),
        ([x - g - w, y + g, x - g, y + g + h], "end"),
        ([x - w / 2.0, y - 2.0 * g - 1.5 * h, x + w / 2.0, y - 2.0 * g - 0.5 * h], "middle"),
        ([x - w / 2.0, y + 2.0 * g + 0.5 * h, x + w / 2.0, y + 2.0 * g + 1.5 * h], "middle"),
    ];
    let fits = |c: &Rect| c[0] >= 4.0 && c[1] >= 4.0 && c[2] <= MAP_W - 4.0 && c[3] <= MAP_H - 4.0;
    let crowd = |c: &Rect| taken.iter().filter(|t| overlap(c, t)).count() + if fits(c) { 0 } else { 100 };
    candidates.iter().find(|(c, _)| crowd(c) == 0).or_else(|| candidates.iter().min_by_key(|(c, _)| crowd(c))).map(|(c, a)| (*c, *a)).expect("candidates")
}

/// The route's point at share `f` of its (projected) length, and its heading.
fn along(pts: &[(f64, f64)], f: f64) -> Option<((f64, f64), f64)> {
    let seg: Vec<f64> = pts.windows(2).map(|w| ((w[1].0 - w[0].0).powi(2) + (w[1].1 - w[0].1).powi(2)).sqrt()).collect();
    let total: f64 = seg.iter().sum();
    if total <= 0.0 {
        return None;
    }
    let mut d = f * total;
    for (i, l) in seg.iter().enumerate() {
        if d <= *l && *l > 0.0 {
            let t = d / l;
            let (a, b) = (pts[i], pts[i + 1]);
            return Some(((a.0 + t * (b.0 - a.0), a.1 + t * (b.1 - a.1)), (b.1 - a.1).atan2(b.0 - a.0)));
        }
        d -= l;
    }
    None
}

/// The map as an SVG element (no external references).
fn svg(n: &NoticeSpec, map: &MapLayer) -> String {
    let Some(b) = map_box(&map.route, n) else { return String::new() };
    let p = Proj::new(b);
    let mut s = String::new();
    let _ = write!(
        s,
        r##"<svg class="map" viewBox="0 0 {MAP_W} {MAP_H}" preserveAspectRatio="xMidYMid meet" role="img" aria-label="{}"><defs><clipPath id="box"><rect width="{MAP_W}" height="{MAP_H}"/></clipPath></defs><rect width="{MAP_W}" height="{MAP_H}" fill="#fbfaf6"/><g clip-path="url(#box)">"##,
        esc(&n.corridor_name)
    );
    let mut d = String::new();
    for r in &map.roads {
        path_d(&p, r, &mut d);
    }
    let _ = write!(s, r##"<path d="{d}" fill="none" stroke="#a9a9a9" stroke-width="2" stroke-linecap="round"/>"##);
    let mut d = String::new();
    path_d(&p, &map.route, &mut d);
    // A closed corridor's route is grey and dashed, without arrows.
    let closed = n.kind == Kind::Closing;
    let _ = write!(
        s,
        r##"<path d="{d}" fill="none" stroke="#ffffff" stroke-width="17" stroke-linecap="round" stroke-linejoin="round"/><path d="{d}" fill="none" stroke="{}" stroke-width="10" stroke-linecap="{}" stroke-linejoin="round"{}/>"##,
        if closed { "#616161" } else { "#c62828" },
        if closed { "butt" } else { "round" },
        if closed { r#" stroke-dasharray="18 12""# } else { "" }
    );
    // Arrows along the route, pointing the way to go.
    let pts: Vec<(f64, f64)> = map.route.iter().map(|q| p.xy(*q)).collect();
    for i in (1..8).filter(|_| !closed) {
        if let Some(((x, y), a)) = along(&pts, i as f64 / 8.0) {
            let _ = write!(s, r##"<path d="M-6 -7L6 0L-6 7Z" fill="#ffffff" transform="translate({x:.1} {y:.1}) rotate({:.1})"/>"##, a.to_degrees());
        }
    }
    s.push_str("</g>");

    // Markers first (so labels keep clear of all of them), then labels.
    struct Mark {
        x: f64,
        y: f64,
        r: f64,
        label: String,
        bold: bool,
    }
    let mut marks: Vec<Mark> = Vec::new();
    let mut shapes = String::new();
    let at = |pl: &Place| pl.position.map(|q| p.xy([q.lon, q.lat]));
    if let Some((x, y)) = at(&n.origin) {
        let _ = write!(shapes, r##"<circle cx="{x:.1}" cy="{y:.1}" r="11" fill="#ffffff" stroke="#1a237e" stroke-width="5"/>"##);
        marks.push(Mark { x, y, r: 11.0, label: n.origin.name.clone(), bold: true });
    }
    if let Some((x, y)) = at(&n.destination) {
        // A flag on a pole.
        let _ = write!(
            shapes,
            r##"<path d="M{x:.1} {y:.1}v-38" stroke="#1b5e20" stroke-width="4"/><path d="M{x:.1} {:.1}h26l-7 9l7 9h-26Z" fill="#2e7d32" stroke="#ffffff" stroke-width="1.5"/><circle cx="{x:.1}" cy="{y:.1}" r="6" fill="#1b5e20" stroke="#ffffff" stroke-width="2"/>"##,
            y - 38.0
        );
        marks.push(Mark { x, y, r: 12.0, label: n.destination.name.clone(), bold: true });
    }
    for (i, c) in n.checkpoints.iter().enumerate() {
        let Some((x, y)) = at(c) else { continue };
        let _ = write!(
            shapes,
            r##"<circle cx="{x:.1}" cy="{y:.1}" r="13" fill="#1a237e" stroke="#ffffff" stroke-width="3"/><text x="{x:.1}" y="{:.1}" class="num">{}</text>"##,
            y + 6.0,
            i + 1
        );
        marks.push(Mark { x, y, r: 13.0, label: c.name.clone(), bold: i == 0 });
    }
    s.push_str(&shapes);
    let mut taken: Vec<Rect> = marks.iter().map(|m| [m.x - m.r, m.y - m.r, m.x + m.r, m.y + m.r]).collect();
    // The destination's flag.
    if let Some((x, y)) = at(&n.destination) {
        taken.push([x - 2.0, y - 40.0, x + 28.0, y]);
    }
    let mut labels = String::new();
    let mut said: Vec<(&str, f64, f64)> = Vec::new();
    for m in &marks {
        // A checkpoint at the origin or destination of the same name is
        // labelled once.
        if said.iter().any(|(t, x, y)| *t == m.label && (x - m.x).hypot(y - m.y) < 60.0) {
            continue;
        }
        said.push((&m.label, m.x, m.y));
        let size = if m.bold { 19.0 } else { 17.0 };
        let (w, h) = (text_w(&m.label, size) * if m.bold { 1.05 } else { 1.0 }, size * 1.15);
        let (r, anchor) = place_label(m.x, m.y, m.r, w, h, &taken);
        taken.push(r);
        let x = match anchor {
            "start" => r[0],
            "end" => r[2],
            _ => (r[0] + r[2]) / 2.0,
        };
        let _ = write!(labels, r##"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" rx="3" class="bg"/>"##, r[0] - 3.0, r[1], r[2] - r[0] + 6.0, r[3] - r[1]);
        let _ = write!(
            labels,
            r##"<text x="{x:.1}" y="{:.1}" text-anchor="{anchor}" class="{}" font-size="{size}">{}</text>"##,
            r[3] - h * 0.22,
            if m.bold { "lbl key" } else { "lbl" },
            esc(&m.label)
        );
    }
    s.push_str(&labels);
    // A scale bar: a round distance about a fifth of the box.
    let m_per_unit = 111_320.0 / p.s;
    let target = MAP_W / 5.0 * m_per_unit;
    let step = [100.0, 200.0, 250.0, 500.0, 1000.0, 2000.0, 2500.0, 5000.0, 10_000.0, 20_000.0, 25_000.0, 50_000.0, 100_000.0]
        .into_iter()
        .rev()
        .find(|v| *v <= target)
        .unwrap_or(100.0);
    let len = step / m_per_unit;
    let text = if step >= 1000.0 { format!("{} km", step / 1000.0) } else { format!("{step} m") };
    let (x0, y0) = (MAP_W - 24.0 - len, MAP_H - 22.0);
    let _ = write!(
        s,
        r##"<g class="scale"><rect x="{:.1}" y="{:.1}" width="{:.1}" height="40" fill="#ffffff" fill-opacity="0.85"/><path d="M{x0:.1} {:.1}V{y0:.1}H{:.1}V{:.1}" fill="none" stroke="#222" stroke-width="3"/><text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="16">{text}</text></g>"##,
        x0 - 12.0,
        y0 - 30.0,
        len + 24.0,
        y0 - 8.0,
        x0 + len,
        y0 - 8.0,
        x0 + len / 2.0,
        y0 - 10.0
    );
    // North arrow.
    let _ = write!(
        s,
        r##"<g transform="translate(34 44)"><path d="M0 -26L10 8L0 2L-10 8Z" fill="#222"/><text x="0" y="26" text-anchor="middle" font-size="17" font-weight="700">N</text></g>"##
    );
    let _ = write!(s, r##"<rect width="{MAP_W}" height="{MAP_H}" fill="none" stroke="#444" stroke-width="2"/></svg>"##);
    s
}

/// A line of text, escaped, with words that hold a hyphen (ids, place
/// names) kept whole: inside Arabic a wrapped id would read scrambled.
fn line_html(l: &str) -> String {
    l.split(' ').map(|w| if w.contains('-') { format!(r#"<span class="nw">{}</span>"#, esc(w)) } else { esc(w) }).collect::<Vec<_>>().join(" ")
}

/// A rendered part as paragraphs (one a line), the first one `first`.
fn paras(text: &str, class: &str, first: &str) -> String {
    let mut o = String::new();
    for (i, l) in text.lines().filter(|l| !l.trim().is_empty()).enumerate() {
        let _ = write!(o, r#"<p class="{}">{}</p>"#, if i == 0 && !first.is_empty() { first } else { class }, line_html(l));
    }
    o
}

fn items(text: &str) -> String {
    let lines: String = text.lines().filter(|l| !l.trim().is_empty()).map(|l| format!("<li>{}</li>", line_html(l))).collect();
    format!("<ul>{lines}</ul>")
}

const STYLE: &str = r#"
@page { size: A4; margin: 10mm 11mm 9mm 11mm; }
* { box-sizing: border-box; }
html, body { margin: 0; padding: 0; }
body { font-family: "Noto Sans", "DejaVu Sans", sans-serif; color: #111; font-size: 10pt; line-height: 1.3;
       -webkit-print-color-adjust: exact; print-color-adjust: exact; }
[lang="ar"] { font-family: "Noto Naskh Arabic", "Noto Sans", "DejaVu Sans", sans-serif; }
.nw { white-space: nowrap; }
.head { display: grid; grid-template-columns: 1fr 1fr; gap: 5mm; align-items: stretch; margin-bottom: 3mm; }
.head > div { background: #c62828; color: #fff; padding: 2.5mm 3.5mm; border-radius: 2mm; display: flex; align-items: center; }
.head [lang="ar"] { font-size: 15.5pt; font-weight: 700; line-height: 1.35; }
.head [lang="en"] { font-size: 13pt; font-weight: 700; line-height: 1.25; }
/* The page is one column as tall as the printable area; the map takes
   the height the text leaves (at most its full width), so a longer
   notice shrinks the map rather than spilling onto a second page. */
.page { height: 277mm; display: flex; flex-direction: column; }
.mapbox { flex: 1 1 auto; min-height: 55mm; max-height: calc(188mm * MAP_RATIO); }
.map { display: block; width: 100%; height: 100%; font-family: "Noto Sans", "DejaVu Sans", sans-serif; }
.map .num { fill: #fff; font-size: 16px; font-weight: 700; text-anchor: middle; }
.map .lbl { fill: #111; }
.map .bg { fill: #ffffff; fill-opacity: 0.85; }
.map .key { font-weight: 700; }
.cols { display: grid; grid-template-columns: 1fr 1fr; gap: 6mm; margin-top: 3mm; }
.cols p { margin: 0 0 1.6mm 0; }
.cols [lang="ar"] { font-size: 11pt; line-height: 1.45; }
.cols [lang="en"] { font-size: 10pt; }
.cols .hours { font-size: 12.5pt; font-weight: 700; border: 0.6mm solid #1a237e; border-radius: 1.5mm; padding: 1.5mm 2.5mm; margin-bottom: 2mm; }
.cols [lang="ar"] .hours { font-size: 13pt; }
.cols ul { margin: 2mm 0 0 0; padding: 0; list-style: none; }
.cols li { margin: 0 0 1.3mm 0; padding-inline-start: 4mm; position: relative; }
.cols li::before { content: "\25A0"; position: absolute; inset-inline-start: 0; color: #c62828; font-size: 70%; top: 0.25em; }
.cols [lang="ar"] li::before { top: 0.5em; }
.instr { border-top: 0.4mm solid #999; margin-top: 2mm; padding-top: 1.5mm; }
.foot { margin-top: auto; font-size: 6.5pt; color: #555; border-top: 0.3mm solid #bbb; padding-top: 1mm; }
"#;

/// The leaflet of `n` as one self-contained A4 HTML page: the map (when
/// given), the headline, the message (its first line, the hours, set
/// large) and the instructions, Arabic on the right and English on the
/// left, and the map data's attribution in small type.
pub fn html(n: &NoticeSpec, r: &Renderer, map: Option<&MapLayer>) -> Result<String, NotifyError> {
    let part = |lang, p| r.render(n, lang, p);
    let col = |lang: Lang| -> Result<String, NotifyError> {
        Ok(format!(
            r#"<div lang="{l}" dir="{d}">{msg}<div class="instr">{ins}</div></div>"#,
            l = lang.code(),
            d = if lang == Lang::Ar { "rtl" } else { "ltr" },
            msg = paras(&part(lang, Part::Message)?, "msg", "hours"),
            ins = items(&part(lang, Part::Instruction)?),
        ))
    };
    let head = |lang: Lang| -> Result<String, NotifyError> {
        Ok(format!(
            r#"<div lang="{l}" dir="{d}"><div>{h}</div></div>"#,
            l = lang.code(),
            d = if lang == Lang::Ar { "rtl" } else { "ltr" },
            h = esc(&part(lang, Part::Headline)?).replace('\n', "<br>")
        ))
    };
    let mut o = String::new();
    // The page's own direction is LTR so the grid puts English left and
    // Arabic right; each block carries its own language and direction.
    let _ = write!(
        o,
        r#"<!DOCTYPE html><html lang="en" dir="ltr"><head><meta charset="utf-8"><title>{}</title><style>{}</style></head><body><div class="page">"#,
        esc(&n.id),
        STYLE.replace("MAP_RATIO", &format!("{:.4}", MAP_H / MAP_W))
    );
    let _ = write!(o, r#"<div class="head">{}{}</div>"#, head(Lang::En)?, head(Lang::Ar)?);
    if let Some(m) = map {
        let _ = write!(o, r#"<div class="mapbox">{}</div>"#, svg(n, m));
    }
    let _ = write!(o, r#"<div class="cols">{}{}</div>"#, col(Lang::En)?, col(Lang::Ar)?);
    if let Some(m) = map.filter(|m| !m.attribution.is_empty()) {
        let _ = write!(o, r#"<div class="foot">{}</div>"#, esc(&m.attribution));
    }
    o.push_str("</div></body></html>\n");
    Ok(o)
}

/// Prints the leaflet `html` to the PDF file `out` with headless Chromium
/// (corridor-report's printer).
pub fn pdf(html: &str, out: &Path) -> Result<(), NotifyError> {
    if corridor_report::pdf::chromium().is_none() {
        return Err(NotifyError::Other(
            "a PDF leaflet needs Chromium and the Arabic font: install them (apt-get install chromium fonts-noto-core), or write the leaflet as HTML".into(),
        ));
    }
    corridor_report::pdf::html_to_pdf(html, out).map_err(|e| NotifyError::Other(format!("leaflet {}: {e}", out.display())))
}
