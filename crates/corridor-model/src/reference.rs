//! The event reference: the JSON schema of [`Event`] and every type it
//! holds, derived from the types themselves (their doc comments are the
//! descriptions, their serde attributes the shape), with an example of
//! every kind from [`crate::examples`]; and `docs/events.md`, generated
//! from that schema by [`events_markdown`].
//!
//! `/openapi.json` serves [`schemas`] under `components.schemas`, so the
//! API document and the reference say the same thing.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::Value;
use utoipa::openapi::schema::{AdditionalProperties, ArrayItems, KnownFormat, SchemaFormat, SchemaType, Type};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{Number, PartialSchema, ToSchema};

use crate::{examples, Event};

/// Every schema the event format uses, by name (`Event`, `Body`,
/// `Passage`, …): what `/openapi.json` serves under `components.schemas`
/// (references are `#/components/schemas/NAME`). Utoipa's derivation,
/// completed with what the derivation cannot say:
/// - unsigned integers (utoipa writes `u32` as `int32`, `u64` as `int64`)
///   are `format: uint32`/`uint64` with their largest value as `maximum`;
/// - each kind of `Body` is an object with exactly that one key
///   (`additionalProperties: false`) and carries its example;
/// - `Event` carries the example of every kind.
pub fn schemas() -> Vec<(String, RefOr<Schema>)> {
    let mut raw = vec![(Event::name().into_owned(), <Event as PartialSchema>::schema())];
    <Event as ToSchema>::schemas(&mut raw);
    let mut seen = std::collections::BTreeSet::new();
    raw.retain(|(name, _)| seen.insert(name.clone()));
    let examples = examples();
    for (name, schema) in &mut raw {
        unsigned(schema);
        let RefOr::T(schema) = schema else { continue };
        match (name.as_str(), schema) {
            ("Body", Schema::OneOf(one)) => {
                for variant in &mut one.items {
                    if let RefOr::T(Schema::Object(o)) = variant {
                        o.additional_properties = Some(Box::new(AdditionalProperties::FreeForm(false)));
                        let kind = o.required.first().cloned().unwrap_or_default();
                        o.examples = examples.iter().filter(|e| e.body.kind() == kind).map(|e| to_json(&e.body)).collect();
                    }
                }
            }
            ("Event", Schema::Object(o)) => o.examples = examples.iter().map(to_json).collect(),
            _ => {}
        }
    }
    raw
}

fn to_json<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).expect("an example serializes")
}

/// [`schemas`] as JSON, by name. (Object properties come out sorted by
/// name here; [`schemas`] keeps them in declaration order.)
pub fn schemas_json() -> BTreeMap<String, Value> {
    schemas().into_iter().map(|(name, s)| (name, serde_json::to_value(s).expect("a schema serializes"))).collect()
}

/// The kind (the one key) a `Body` variant's schema names.
fn variant_kind(variant: &Value) -> &str {
    variant["required"][0].as_str().expect("a Body variant requires its kind")
}

/// Marks unsigned integers as such (`uint32`, `uint64`, with their
/// largest value), everywhere in `s`.
fn unsigned(s: &mut RefOr<Schema>) {
    let RefOr::T(s) = s else { return };
    match s {
        Schema::Object(o) => {
            let int = match &o.schema_type {
                SchemaType::Type(t) => *t == Type::Integer,
                SchemaType::Array(ts) => ts.contains(&Type::Integer),
                SchemaType::AnyValue => false,
            };
            let nonneg = match o.minimum {
                Some(Number::Int(n)) => n >= 0,
                Some(Number::UInt(_)) => true,
                Some(Number::Float(f)) => f >= 0.0,
                None => false,
            };
            if int && nonneg {
                let widest = match &o.format {
                    Some(SchemaFormat::KnownFormat(KnownFormat::Int32)) => Some(("uint32", u64::from(u32::MAX))),
                    Some(SchemaFormat::KnownFormat(KnownFormat::Int64)) => Some(("uint64", u64::MAX)),
                    _ => None,
                };
                if let Some((format, max)) = widest {
                    o.format = Some(SchemaFormat::Custom(format.into()));
                    o.maximum.get_or_insert(Number::UInt(max as usize));
                }
            }
            o.properties.values_mut().for_each(unsigned);
            if let Some(AdditionalProperties::RefOr(r)) = o.additional_properties.as_deref_mut() {
                unsigned(r);
            }
        }
        Schema::Array(a) => {
            if let ArrayItems::RefOrSchema(items) = &mut a.items {
                unsigned(items);
            }
        }
        Schema::OneOf(one) => one.items.iter_mut().for_each(unsigned),
        Schema::AllOf(all) => all.items.iter_mut().for_each(unsigned),
        Schema::AnyOf(any) => any.items.iter_mut().for_each(unsigned),
        _ => {}
    }
}

/// The names of an object schema's properties in declaration order.
fn property_order(schemas: &[(String, RefOr<Schema>)], name: &str) -> Vec<String> {
    match schemas.iter().find(|(n, _)| n == name) {
        Some((_, RefOr::T(Schema::Object(o)))) => o.properties.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

/// How to regenerate `docs/events.md`.
pub const REGENERATE: &str = "CORRIDOR_REGENERATE_DOCS=1 cargo test -p corridor-model --test events_doc";

/// The rules no schema can say, for the reference.
const RULES: &str = "\
## Rules no schema can say

Whether an event is accepted also depends on the log before it. The server
(`POST /api/v1/events`) and `corridor log append` refuse an event that
breaks one of these rules, naming its position in the batch, its id and the
field; nothing of a refused batch is appended (a batch is all or nothing).

- **References are declared earlier**, in the log or earlier in the same
  batch: a group by `groups_defined`; a site by `site_declared`; a corridor
  and its checkpoints by `corridor_declared`; a truce window by
  `truce_window_declared`; a vehicle by `vehicle_registered`; a convoy by
  `convoy_dispatched`; a hazard area by `hazard_declared`; a district by
  `district_declared`; a notice (`references`) by `notice_issued`; the
  entry a correction names by the event with that id. A claim's measure
  `withdrawn:CORRIDOR` names a declared corridor, `group:GROUP` a defined
  group.
- **Ids are unique.** An event's `id` is unique in the log. What an event
  declares has an id unique among its kind (a second `site_declared` of a
  site id is refused); checkpoint ids are unique across all corridors; a
  group is defined once; the operation is declared once, as the log's
  first fact. A declaration is not declared again: a truce window changes
  by `truce_window_changed`, a hazard area by `hazard_status_changed`;
  anything else is declared anew under a new id.
- **One id looks like one id.** Every id (an event's `id`, its `author`,
  and every id a body declares or names) is 1 to 200 bytes of visible
  characters in Unicode normal form C. Refused: control, format and
  separator characters (Unicode general categories Cc, Cf, Zl, Zp, among
  them right-to-left overrides such as U+202E, zero-width joiners, the
  byte order mark U+FEFF and the line separator U+2028), and a decomposed
  spelling (NFD `e` + U+0301 for `é`): the refusal shows the id's NFC
  form to send instead.
- **Counts and quantities are what is physically possible**, so that no
  total in a view or report wraps or becomes infinite: a head count (a
  group aboard, all groups of a passage together, the wounded, the killed,
  families or people served or returned) at most 10,000,000; seats or
  stretcher places of a vehicle at most 10,000; buildings of a record at
  most 10,000,000; recipients of a notice at most 1,000,000,000; a
  corridor's `max_transit_minutes` at most 10,080 (a week); tonnes at most
  10,000,000, road km at most 10,000,000, hectares at most 1,000,000,000,
  a claim's figure at most 10¹², every quantity finite and not negative.
  Totals are summed in 64-bit integers.
- **Retries are stored once.** Sending an event again with the same id and
  the same content (the same canonical bytes) stores nothing new and is
  answered with its original index; the same id with other content is
  refused as a different event.
- **Size.** An event is at most 65,535 bytes in its canonical form (the
  log's C2SP tlog-tiles entry bundles give each entry a 16-bit length);
  larger is refused: split it into several events.
- **Passages**: the vehicle is registered and part of the convoy, the
  convoy was dispatched on the passage's corridor, the checkpoint is one of
  that corridor's, every group counted is defined and allowed on the
  corridor, and a vehicle is counted once per checkpoint on each trip (a
  new trip is a new convoy). `wounded` is at most the people counted.
- **Corrections** name an earlier passage, incident, convoy_arrived,
  aid_delivered, airdrop, return_recorded, damage_assessed or
  entry_corrected: declarations are not corrected. The corrected `body` is
  of the same kind as the entry at the start of the chain and is checked
  as that entry would be (a corrected passage still counts its vehicle
  once per checkpoint and trip). Views use the corrected fact; the log
  keeps both.
- **Clearance**: within a hazard area, the hectares of all its clearance
  records together are at most the area of its ring (with 0.1 % and
  0.01 ha of slack for surveyors' rounding).
- **Who may write what** is the server's rule, by token role (hq, a
  checkpoint, a monitor): see the README, \"The API\"; `author` is the
  writing token's name.
";

/// `docs/events.md`: the envelope, the rules no schema can say, and every
/// kind with its purpose, its fields (name, type, required or optional,
/// description) and its example, then the types the kinds share; all from
/// [`schemas_json`] and [`crate::examples`].
pub fn events_markdown() -> String {
    let typed = schemas();
    let schemas: BTreeMap<String, Value> = typed.iter().map(|(name, s)| (name.clone(), serde_json::to_value(s).expect("a schema serializes"))).collect();
    let fields = |w: &mut String, name: &str| fields(w, &schemas[name], &property_order(&typed, name));
    let mut out = String::new();
    let w = &mut out;
    let _ = writeln!(w, "# Event reference\n");
    let _ = writeln!(
        w,
        "<!-- Generated from the types in crates/corridor-model/src/event.rs and the\n     examples in crates/corridor-model/src/examples.rs by\n     corridor_model::reference::events_markdown. Do not edit: regenerate with\n     {REGENERATE} -->\n"
    );
    let _ = writeln!(
        w,
        "Every fact Corridor records is one event: a JSON object, the envelope below,\nwhose `body` holds one kind of fact. A client sends one event, a JSON array\nof events, or one event per line (`POST /api/v1/events`, `corridor log\nappend`). The same schema is served in `/openapi.json` (`components.schemas`:\n`Event`, `Body` and the types below); this page is generated from it and\nfrom one example of every kind (an evacuation drill on the Monaco map).\n\nUnknown fields and kinds are refused. Times are RFC 3339 instants, stored in\nUTC. Counts are of people unless said otherwise. A field marked optional\nmay be left out (or be `null` where its type allows); it is then left out of\nthe stored event.\n"
    );
    let event = &schemas["Event"];
    let _ = writeln!(w, "## The envelope\n\n{}\n", text(event));
    fields(w, "Event");
    let examples = examples();
    let passage = examples.iter().find(|e| e.body.kind() == "passage").expect("a passage example");
    let _ = writeln!(w, "\nFor example, a passage counted at a checkpoint:\n\n```json\n{}\n```\n", pretty(passage));
    let _ = writeln!(w, "{RULES}");

    let variants = schemas["Body"]["oneOf"].as_array().expect("Body is a oneOf of its kinds");
    let _ = writeln!(w, "## Kinds\n\n{}\n\n| kind | what it records |\n|---|---|", text(&schemas["Body"]));
    for v in variants {
        let kind = variant_kind(v);
        let _ = writeln!(w, "| [`{kind}`](#{kind}) | {} |", cell(first_sentence(&text(v))));
    }
    for v in variants {
        let kind = variant_kind(v);
        let payload = &v["properties"][kind];
        let name = ref_name(payload).expect("a kind holds a named type");
        let schema = &schemas[name];
        let _ = writeln!(w, "\n### `{kind}`\n\n{}\n", text(v));
        if text(schema) != text(v) && !text(schema).is_empty() {
            let _ = writeln!(w, "{} (`{name}`)\n", text(schema));
        }
        fields(w, name);
        let example = examples.iter().find(|e| e.body.kind() == kind).unwrap_or_else(|| panic!("no example of {kind}: add one to corridor_model::examples()"));
        let _ = writeln!(w, "\nExample:\n\n```json\n{}\n```", pretty(example));
    }

    let _ = writeln!(w, "\n## Types the kinds share\n");
    let payloads: Vec<&str> = variants.iter().filter_map(|v| ref_name(&v["properties"][variant_kind(v)])).collect();
    for (name, schema) in &schemas {
        if name == "Event" || name == "Body" || payloads.contains(&name.as_str()) {
            continue;
        }
        let _ = writeln!(w, "### {name}\n\n{}\n", text(schema));
        if schema.get("properties").is_some() {
            fields(w, name);
            let _ = writeln!(w);
        } else {
            let _ = writeln!(w, "Type: {}\n", ty(schema));
        }
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

/// The table of an object schema's fields.
fn fields(w: &mut String, schema: &Value, order: &[String]) {
    let required: Vec<&str> = schema["required"].as_array().map(|r| r.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
    let _ = writeln!(w, "| field | type | required | description |\n|---|---|---|---|");
    assert_eq!(order.len(), schema["properties"].as_object().map_or(0, |p| p.len()), "every property in order");
    for name in order {
        let field = &schema["properties"][name];
        let req = if required.contains(&name.as_str()) { "required" } else { "optional" };
        let _ = writeln!(w, "| `{name}` | {} | {req} | {} |", cell(ty(field)), cell(text(field)));
    }
}

/// A field's description: its own, or the one utoipa put inside a nullable
/// reference (`oneOf: [null, {$ref, description}]`).
fn text(s: &Value) -> String {
    let d = s["description"].as_str().or_else(|| s["oneOf"].as_array().and_then(|a| a.iter().find_map(|b| b["description"].as_str()))).unwrap_or("");
    d.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Up to the first full stop that ends a sentence (not the one of "e.g.").
fn first_sentence(s: &str) -> String {
    let mut from = 0;
    while let Some(i) = s[from..].find(". ").map(|i| from + i) {
        if !(s[..i].ends_with("e.g") || s[..i].ends_with("i.e")) {
            return s[..=i].to_string();
        }
        from = i + 2;
    }
    s.to_string()
}

/// Text fit for a Markdown table cell.
fn cell(s: String) -> String {
    s.replace('|', "\\|")
}

fn ref_name(s: &Value) -> Option<&str> {
    s["$ref"].as_str().and_then(|r| r.rsplit('/').next())
}

fn pretty(e: &Event) -> String {
    serde_json::to_string_pretty(e).expect("an example serializes")
}

/// A schema's type, in words: `string (date-time)`, `integer, 0 to 4294967295`,
/// `array of [Checkpoint](#checkpoint), 2 to 64 items`, …
fn ty(s: &Value) -> String {
    if let Some(name) = ref_name(s) {
        return if name == "Body" { "a body: an object with one [kind](#kinds)".into() } else { format!("[{name}](#{})", name.to_lowercase()) };
    }
    if let Some(branches) = s["oneOf"].as_array() {
        let parts: Vec<String> = branches.iter().filter(|b| b["type"] != "null").map(ty).collect();
        return parts.join(" or ");
    }
    let t = match &s["type"] {
        Value::String(t) => t.as_str(),
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).find(|t| *t != "null").unwrap_or("null"),
        _ => "any",
    };
    let mut out = match t {
        "array" => {
            let item = if let Some(prefix) = s["items"]["prefixItems"].as_array() {
                // `[longitude: number, -180 to 180; latitude: …]`
                let part = |p: &Value| format!("{}: {}", text(p).split(',').next().unwrap_or_default(), ty(p));
                format!("[{}]", prefix.iter().map(part).collect::<Vec<_>>().join("; "))
            } else {
                ty(&s["items"])
            };
            let mut a = format!("array of {item}");
            match (s["minItems"].as_u64(), s["maxItems"].as_u64()) {
                (Some(lo), Some(hi)) => a += &format!(", {lo} to {hi} items"),
                (Some(lo), None) => a += &format!(", at least {lo}"),
                (None, Some(hi)) => a += &format!(", at most {hi}"),
                (None, None) => {}
            }
            return a;
        }
        "object" if s.get("additionalProperties").is_some_and(Value::is_object) => {
            return format!("object: string → {}", ty(&s["additionalProperties"]));
        }
        other => other.to_string(),
    };
    if let Some(values) = s["enum"].as_array() {
        return format!("one of {}", values.iter().map(|v| format!("`{}`", v.as_str().unwrap_or_default())).collect::<Vec<_>>().join(", "));
    }
    if let Some(f) = s["format"].as_str() {
        if !matches!(f, "double" | "int32" | "int64" | "uint32" | "uint64") {
            out += &format!(" ({f})");
        }
    }
    match (s.get("minimum").and_then(Value::as_f64), s.get("maximum")) {
        (Some(lo), Some(hi)) => out += &format!(", {} to {hi}", num(lo)),
        (Some(lo), None) => out += &format!(", ≥ {}", num(lo)),
        (None, Some(hi)) => out += &format!(", ≤ {hi}"),
        (None, None) => {}
    }
    if let Some(p) = s["pattern"].as_str() {
        out += &format!(" matching `{p}`");
    }
    out
}

fn num(x: f64) -> String {
    if x.fract() == 0.0 { format!("{}", x as i64) } else { format!("{x}") }
}
