//! The JSON schema derived from the event types says what serde does:
//! every example validates against it, a field it calls required cannot be
//! left out (and an optional one can), an object it closes refuses an
//! unknown field, and its bounds are ones `Event::check` enforces.

use std::collections::BTreeMap;

use corridor_model::reference::schemas_json;
use corridor_model::{examples, Event};
use serde_json::{json, Value};

type Schemas = BTreeMap<String, Value>;

fn resolve<'a>(s: &'a Value, all: &'a Schemas) -> &'a Value {
    match s["$ref"].as_str() {
        Some(r) => &all[r.rsplit('/').next().unwrap()],
        None => s,
    }
}

/// A small JSON Schema validator: the keywords the event schemas use
/// (`pattern` and `format` aside).
fn validate(v: &Value, s: &Value, all: &Schemas, at: &str) -> Result<(), String> {
    let s = resolve(s, all);
    if let Some(branches) = s["oneOf"].as_array() {
        let ok = branches.iter().filter(|b| validate(v, b, all, at).is_ok()).count();
        return if ok == 1 { Ok(()) } else { Err(format!("{at}: {ok} branches of oneOf match {v}")) };
    }
    let types: Vec<&str> = match &s["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    let is = |t: &str| match t {
        "null" => v.is_null(),
        "boolean" => v.is_boolean(),
        "integer" => v.is_u64() || v.is_i64(),
        "number" => v.is_number(),
        "string" => v.is_string(),
        "array" => v.is_array(),
        "object" => v.is_object(),
        _ => false,
    };
    if !types.is_empty() && !types.iter().any(|t| is(t)) {
        return Err(format!("{at}: {v} is not {types:?}"));
    }
    if let Some(values) = s["enum"].as_array() {
        if !values.contains(v) {
            return Err(format!("{at}: {v} is not one of {values:?}"));
        }
    }
    if let Some(x) = v.as_f64() {
        if s["minimum"].as_f64().is_some_and(|m| x < m) || s["maximum"].as_f64().is_some_and(|m| x > m) {
            return Err(format!("{at}: {x} is out of bounds"));
        }
    }
    if let Some(text) = v.as_str() {
        let n = text.chars().count() as u64;
        if s["minLength"].as_u64().is_some_and(|m| n < m) || s["maxLength"].as_u64().is_some_and(|m| n > m) {
            return Err(format!("{at}: {text:?} has the wrong length"));
        }
    }
    if let Some(items) = v.as_array() {
        let n = items.len() as u64;
        if s["minItems"].as_u64().is_some_and(|m| n < m) || s["maxItems"].as_u64().is_some_and(|m| n > m) {
            return Err(format!("{at}: {n} items"));
        }
        let prefix = s["prefixItems"].as_array().map_or(&[][..], |p| p.as_slice());
        for (i, item) in items.iter().enumerate() {
            let schema = prefix.get(i).unwrap_or(&s["items"]);
            if !schema.is_null() {
                validate(item, schema, all, &format!("{at}[{i}]"))?;
            }
        }
    }
    if let Some(obj) = v.as_object() {
        for r in s["required"].as_array().into_iter().flatten() {
            if !obj.contains_key(r.as_str().unwrap()) {
                return Err(format!("{at}: {r} is required"));
            }
        }
        for (k, x) in obj {
            match (s["properties"].get(k), &s["additionalProperties"]) {
                (Some(p), _) => validate(x, p, all, &format!("{at}.{k}"))?,
                (None, Value::Bool(false)) => return Err(format!("{at}: no field {k}")),
                (None, extra) if extra.is_object() => validate(x, extra, all, &format!("{at}.{k}"))?,
                (None, _) => {}
            }
        }
    }
    Ok(())
}

/// Every object in `v` with the object schema it validates against, by
/// JSON pointer.
fn objects(v: &Value, s: &Value, all: &Schemas, ptr: String, out: &mut Vec<(String, Value)>) {
    let s = resolve(s, all);
    if let Some(branches) = s["oneOf"].as_array() {
        let b = branches.iter().find(|b| validate(v, b, all, "").is_ok()).expect("a branch matches");
        return objects(v, b, all, ptr, out);
    }
    match v {
        Value::Object(o) => {
            out.push((ptr.clone(), s.clone()));
            for (k, x) in o {
                let field = s["properties"].get(k).unwrap_or(&s["additionalProperties"]);
                objects(x, field, all, format!("{ptr}/{k}"), out);
            }
        }
        Value::Array(items) => {
            for (i, x) in items.iter().enumerate() {
                let prefix = s["prefixItems"].get(i);
                objects(x, prefix.unwrap_or(&s["items"]), all, format!("{ptr}/{i}"), out);
            }
        }
        _ => {}
    }
}

fn parses(v: &Value) -> bool {
    serde_json::from_value::<Event>(v.clone()).is_ok()
}

#[test]
fn every_example_validates_against_the_schema() {
    let all = schemas_json();
    for e in examples() {
        let v = serde_json::to_value(&e).unwrap();
        validate(&v, &all["Event"], &all, "event").unwrap_or_else(|err| panic!("example {}: {err}", e.id));
    }
}

#[test]
fn the_validator_refuses_what_the_schema_refuses() {
    let all = schemas_json();
    let good = serde_json::to_value(examples().into_iter().find(|e| e.body.kind() == "passage").unwrap()).unwrap();
    let bad = |f: &dyn Fn(&mut Value)| {
        let mut v = good.clone();
        f(&mut v);
        validate(&v, &all["Event"], &all, "event").expect_err(&format!("refused: {v}"));
    };
    bad(&|v| v["v"] = json!(2));
    bad(&|v| v["body"]["passage"]["wounded"] = json!(-1));
    bad(&|v| v["body"]["passage"]["counts"]["women"] = json!(4_294_967_296u64));
    bad(&|v| v["body"]["passage"]["extra"] = json!(1));
    bad(&|v| v["body"]["incident"] = json!({}));
    bad(&|v| v["body"] = json!({"teleport": {}}));
    bad(&|v| {
        v["body"]["passage"].as_object_mut().unwrap().remove("counts");
    });
}

#[test]
fn required_and_optional_fields_and_closed_objects_are_as_serde_reads_them() {
    let all = schemas_json();
    let mut checked = 0;
    for e in examples() {
        let root = serde_json::to_value(&e).unwrap();
        let mut found = Vec::new();
        objects(&root, &all["Event"], &all, String::new(), &mut found);
        for (ptr, schema) in found {
            let obj = root.pointer(&ptr).unwrap().as_object().unwrap();
            let required: Vec<&str> = schema["required"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
            for key in obj.keys() {
                if schema["properties"].get(key).is_none() {
                    continue; // a map's key (a group id)
                }
                let mut v = root.clone();
                v.pointer_mut(&ptr).unwrap().as_object_mut().unwrap().remove(key);
                let req = required.contains(&key.as_str());
                assert_eq!(!parses(&v), req, "{} {ptr}/{key}: the schema says {}", e.id, if req { "required" } else { "optional" });
                checked += 1;
            }
            if schema["additionalProperties"] == json!(false) {
                let mut v = root.clone();
                v.pointer_mut(&ptr).unwrap().as_object_mut().unwrap().insert("not_a_field".into(), json!(1));
                assert!(!parses(&v), "{} {ptr}: the schema closes it, serde accepts an unknown field", e.id);
                checked += 1;
            }
        }
    }
    assert!(checked > 200, "{checked}");
}

#[test]
fn every_field_and_kind_has_a_description() {
    let all = schemas_json();
    for (name, s) in &all {
        assert!(s["description"].as_str().is_some_and(|d| !d.is_empty()), "{name} has no description");
        for (field, f) in s["properties"].as_object().into_iter().flatten() {
            let d = f["description"].as_str().or_else(|| f["oneOf"].as_array().and_then(|b| b.iter().find_map(|b| b["description"].as_str())));
            assert!(d.is_some_and(|d| !d.is_empty()), "{name}.{field} has no description: add a doc comment in event.rs");
        }
    }
    for v in all["Body"]["oneOf"].as_array().unwrap() {
        assert!(v["description"].as_str().is_some_and(|d| !d.is_empty()), "kind {} has no description", v["required"][0]);
    }
}

#[test]
fn the_schema_bounds_are_enforced_by_check() {
    // What the schema bounds, `Event::check` or serde refuses: an event
    // outside them is never stored.
    let all = schemas_json();
    let passage = serde_json::to_value(examples().into_iter().find(|e| e.body.kind() == "passage").unwrap()).unwrap();
    let refused = |v: &Value| corridor_model::parse::parse_batch(&v.to_string()).is_err();
    for (field, value) in [("v", json!(2)), ("id", json!("")), ("id", json!("x".repeat(201))), ("author", json!(""))] {
        let mut v = passage.clone();
        v[field] = value;
        assert!(validate(&v, &all["Event"], &all, "").is_err() && refused(&v), "{field}");
    }
    let kinds: BTreeMap<String, Value> = examples().into_iter().map(|e| (e.body.kind().to_string(), serde_json::to_value(e).unwrap())).collect();
    let cases: &[(&str, &str, Value)] = &[
        ("site_declared", "/position/lat", json!(90.5)),
        ("district_declared", "/position/lon", json!(-180.5)),
        ("aid_delivered", "/tonnes", json!(-0.1)),
        ("clearance_recorded", "/road_km", json!(-1)),
        ("claim_recorded", "/figure", json!(-5)),
        ("claim_recorded", "/measure", json!("everyone")),
        ("corridor_declared", "/max_transit_minutes", json!(0)),
        ("corridor_declared", "/groups", json!([])),
        ("groups_defined", "/groups", json!([])),
        ("convoy_dispatched", "/vehicles", json!([])),
        ("truce_window_declared", "/corridors", json!([])),
        ("operation_declared", "/languages", json!([])),
        ("operation_declared", "/languages", json!(["fr"])),
        ("operation_declared", "/map/sha256", json!("ABC")),
        ("notice_issued", "/content_sha256", json!("0".repeat(63))),
        ("hazard_declared", "/ring", json!([[7.41, 43.72], [7.42, 43.72], [7.41, 43.72]])),
        ("hazard_declared", "/ring/0", json!([7.41, 43.72, 10.0])),
        ("hazard_declared", "/ring/1/1", json!(91.0)),
        ("entry_corrected", "/reason", json!("")),
        ("aid_delivered", "/tonnes", json!(1.1e7)),
        ("airdrop", "/tonnes", json!(1.7e308)),
        ("district_declared", "/hectares", json!(2e9)),
        ("clearance_recorded", "/hectares", json!(1.5e9)),
        ("clearance_recorded", "/road_km", json!(1e8)),
        ("claim_recorded", "/figure", json!(1e13)),
    ];
    for (kind, ptr, value) in cases {
        let mut v = kinds[*kind].clone();
        *v.pointer_mut(&format!("/body/{kind}{ptr}")).unwrap_or_else(|| panic!("{kind}{ptr}")) = value.clone();
        let schema_refuses = validate(&v, &all["Event"], &all, "").is_err() || pattern_refuses(kind, ptr, value);
        assert!(schema_refuses, "the schema accepts {kind}{ptr} = {value}");
        assert!(refused(&v), "the schema refuses {kind}{ptr} = {value}, the model accepts it");
    }
}

/// This validator skips `pattern`: the cases above that only a pattern
/// refuses, checked against the pattern's text.
fn pattern_refuses(kind: &str, ptr: &str, value: &Value) -> bool {
    let all = schemas_json();
    let hex = "^[0-9a-f]{64}$";
    let s = value.as_str().unwrap_or_default();
    match (kind, ptr) {
        ("operation_declared", "/map/sha256") => all["MapRef"]["properties"]["sha256"]["pattern"] == hex && !(s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))),
        ("notice_issued", "/content_sha256") => all["Notice"]["properties"]["content_sha256"]["pattern"] == hex && s.len() != 64,
        ("claim_recorded", "/measure") => all["Claim"]["properties"]["measure"]["pattern"].as_str().is_some_and(|p| !p.contains(s)),
        _ => false,
    }
}
