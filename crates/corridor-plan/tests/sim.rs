//! The bundled reference scenario, planned and simulated: the published
//! head counts come out of the events on the right dates, everyone is
//! reconciled, the disruptions happen, the run is deterministic; and
//! scenarios that cannot be run are refused with a sentence that says why.

use chrono::{TimeZone, Utc};
use corridor_aleppo as aleppo;
use corridor_geo::{PreparedNetwork, Router};
use corridor_model::Body;
use corridor_plan::scenario::{Scenario, ScenarioError, ALEPPO_2016};
use corridor_plan::sim::{simulate, SimError};
use corridor_views::Views;

fn router() -> Router {
    Router::new(PreparedNetwork::prepare(aleppo::builtin_network().unwrap()))
}

fn scenario(text: &str) -> Result<Scenario, ScenarioError> {
    Scenario::parse(text, "test.toml")
}

#[test]
fn the_reference_scenario_reproduces_the_published_figures() {
    let sc = scenario(ALEPPO_2016).unwrap();
    let r = router();
    let out = simulate(&sc, &r).unwrap();
    let mut views = Views::new();
    for (i, e) in out.events.iter().enumerate() {
        e.check().unwrap_or_else(|err| panic!("event {i} {}: {err}", e.id));
        views.apply(i as u64, e);
    }
    let f = views.figures();
    let aleppo = &f.by_corridor["ramouseh-rashidin4"];
    assert_eq!(aleppo.people, 31_284);
    assert_eq!((aleppo.by_group["armed"], aleppo.by_group["women"], aleppo.by_group["children"]), (14_891, 7_606, 8_787));
    assert_eq!(aleppo.wounded, 701);
    assert!(f.by_corridor["fuah-kafarya-aleppo"].people > 1_500);
    assert!(f.reconciliation.all_reconciled(), "{:?}", f.reconciliation);
    assert_eq!(out.vehicles_lost, 20);
    // Passages only inside 15–22 December, none while the corridor was halted.
    let halt = Utc.with_ymd_and_hms(2016, 12, 17, 8, 59, 0).unwrap();
    let agreement = Utc.with_ymd_and_hms(2016, 12, 20, 10, 0, 0).unwrap();
    let (first, last) = (Utc.with_ymd_and_hms(2016, 12, 15, 0, 0, 0).unwrap(), Utc.with_ymd_and_hms(2016, 12, 23, 0, 0, 0).unwrap());
    for e in &out.events {
        if let Body::Passage(p) = &e.body {
            assert!(e.time >= first && e.time < last, "{} at {}", e.id, e.time);
            if p.checkpoint == "cp1-ramouseh-bridge" {
                // A count under way at the halt finishes (at most 3 min × 1.2).
                let grace = halt + chrono::Duration::minutes(4);
                assert!(!(e.time > grace && e.time < agreement), "{} counted in during the halt", e.id);
            }
        }
    }
    // Log order is time order.
    assert!(out.events.windows(2).all(|w| w[0].time <= w[1].time));
    // Every plan made after the last disruption is within 5% of its bound.
    let last = out.plans.last().unwrap();
    let ratio = last.ratio().expect("the final plan carries everyone");
    assert!((1.0..=1.05).contains(&ratio), "ratio {ratio}");
    // Deterministic: the same events, byte for byte.
    let again = simulate(&sc, &r).unwrap();
    assert_eq!(out.events, again.events);
}

#[test]
fn scenario_errors_name_the_file_line_and_field() {
    let bad = ALEPPO_2016.replace("corridors = [\"ramouseh-rashidin4\"]\nstart = \"2016-12-16", "corridors = [\"nowhere\"]\nstart = \"2016-12-16");
    let e = scenario(&bad).unwrap_err().to_string();
    let line = bad.lines().position(|l| l.contains("\"nowhere\"")).unwrap() + 1;
    assert!(e.starts_with("test.toml:"), "{e}");
    assert!(e.contains("windows[1].corridors") && e.contains("unknown corridor \"nowhere\""), "{e}");
    // The line of the [[windows]] table that makes the reference.
    let at: usize = e.split(':').nth(1).unwrap().parse().unwrap();
    assert!(at <= line && line - at <= 2, "{e} (the reference is on line {line})");

    let e = scenario(&ALEPPO_2016.replace("wounded = 701", "wounded = 40000")).unwrap_err().to_string();
    assert!(e.contains("sites[0].wounded") && e.contains("40000 wounded but only 31284 people"), "{e}");
    let e = scenario(&ALEPPO_2016.replace("seats = 50\noperator = \"SARC\"\ndepot = \"rashidin-4\"", "seats = \"fifty\"\noperator = \"SARC\"\ndepot = \"rashidin-4\"")).unwrap_err().to_string();
    assert!(e.contains("test.toml: line ") && e.contains("invalid type"), "{e}");
    let e = scenario("[scenario]\nname = \"x\"\n").unwrap_err().to_string();
    assert!(e.contains("missing field"), "{e}");
    let e = scenario(&ALEPPO_2016.replace("people = { armed = 14891", "people = { wounded = 1, armed = 14891")).unwrap_err().to_string();
    assert!(e.contains("people.wounded") && e.contains("not a group"), "{e}");
}

fn infeasible(text: &str) -> String {
    let sc = scenario(text).unwrap();
    match simulate(&sc, &router()) {
        Err(SimError::Infeasible(m)) => m,
        Err(e) => e.to_string(),
        Ok(_) => panic!("simulated an infeasible scenario"),
    }
}

/// Drops every `[[kind]]` table whose text contains `needle`.
fn without(text: &str, kind: &str, needle: &str) -> String {
    let head = format!("[[{kind}]]");
    let mut out = String::new();
    for (i, part) in text.split(&head).enumerate() {
        if i == 0 {
            out.push_str(part);
        } else if !part.split("\n[").next().unwrap().contains(needle) {
            out.push_str(&head);
            out.push_str(part);
        } else {
            // Keep whatever follows the table (comments, other tables).
            let rest = part.find("\n[").map_or("", |k| &part[k + 1..]);
            out.push_str(rest);
        }
    }
    out
}

#[test]
fn infeasible_scenarios_say_why_and_what_would_help() {
    // Wounded but no ambulances.
    let m = infeasible(&without(ALEPPO_2016, "fleet", "prefix = \"amb\""));
    assert!(m.contains("701 wounded but no ambulance serves it") && m.contains("kind = \"ambulance\""), "{m}");
    // No buses at all.
    let m = infeasible(&without(ALEPPO_2016, "fleet", "prefix = \"bus\""));
    assert!(m.contains("no bus serves it"), "{m}");
    // More people than the windows can carry: without the agreement's windows.
    let m = infeasible(&ALEPPO_2016.replace("agreement = \"agreement-20dec\"\n", "agreement = \"never\"\n").replace("[[agreements]]\nid = \"agreement-20dec\"", "[[agreements]]\nid = \"never\"\ntime = \"2017-01-01T00:00:00Z\"\nsites = []\nterms = \"never made\"\n[[agreements]]\nid = \"agreement-20dec\""));
    assert!(m.contains("cannot be carried out") && m.contains("more hours of truce"), "{m}");
    // No truce window at all.
    let mut none = ALEPPO_2016.to_string();
    while none.contains("[[windows]]") {
        none = without(&none, "windows", "id = \"window");
    }
    let m = infeasible(&none);
    assert!(m.contains("more hours of truce"), "{m}");
    // An exit no road reaches.
    let m = infeasible(&ALEPPO_2016.replace("exit = [36.1700, 37.0700]", "exit = [36.9000, 38.5000]"));
    assert!(m.contains("from the nearest road this vehicle may use"), "{m}");
}

#[test]
fn a_fleet_too_small_for_the_windows_asks_for_more_vehicles() {
    let m = infeasible(&ALEPPO_2016.replace("prefix = \"bus\"\nkind = \"bus\"\ncount = 300", "prefix = \"bus\"\nkind = \"bus\"\ncount = 12"));
    assert!(m.contains("cannot be carried out") && m.contains("more vehicles"), "{m}");
}

#[test]
fn a_linked_corridor_halts_while_the_other_evacuation_is_stopped() {
    // Fu'ah/Kafarya stops on 20 December at 14:00 until a second agreement at 17:00.
    let text = format!(
        "{ALEPPO_2016}\n[[agreements]]\nid = \"agreement-20dec-b\"\ntime = \"2016-12-20T17:00:00Z\"\nsites = [\"fuah-kafarya\"]\nterms = \"the road to Fu'ah reopens\"\n\n[[incidents]]\nid = \"fk-stop\"\ntime = \"2016-12-20T14:00:00Z\"\nkind = \"halt\"\ncorridor = \"fuah-kafarya-aleppo\"\ndescription = \"the Fu'ah/Kafarya evacuation stops\"\nuntil_agreement = \"agreement-20dec-b\"\n"
    );
    let sc = scenario(&text).unwrap();
    let out = simulate(&sc, &router()).unwrap();
    let (stop, resume) = (Utc.with_ymd_and_hms(2016, 12, 20, 14, 4, 0).unwrap(), Utc.with_ymd_and_hms(2016, 12, 20, 17, 0, 0).unwrap());
    let linked = out.events.iter().find(|e| e.id == "linked-halt-ramouseh-rashidin4-fk-stop").expect("the linked halt is recorded");
    assert!(matches!(&linked.body, Body::Incident(i) if i.description.contains("stays open only while the evacuation of fuah-kafarya proceeds")));
    let inside = out.events.iter().filter(|e| matches!(&e.body, Body::Passage(p) if p.checkpoint == "cp1-ramouseh-bridge") && e.time > stop && e.time < resume).count();
    assert_eq!(inside, 0, "nobody is counted into the linked corridor while it is halted");
    let after = out.events.iter().filter(|e| matches!(&e.body, Body::Passage(p) if p.checkpoint == "cp1-ramouseh-bridge") && e.time > resume).count();
    assert!(after > 0, "it resumes with the second agreement");
    let mut views = Views::new();
    for (i, e) in out.events.iter().enumerate() {
        views.apply(i as u64, e);
    }
    assert_eq!(views.figures().by_corridor["ramouseh-rashidin4"].people, 31_284);
}

#[test]
fn groups_only_use_the_corridors_that_take_them() {
    // Stage 1's pattern: one corridor for civilians, one for armed people.
    let text = ALEPPO_2016
        .replace("max_transit_minutes = 120\ncheckpoints = [", "max_transit_minutes = 120\ngroups = [\"women\", \"children\"]\ncheckpoints = [")
        .replace("corridors = [\"ramouseh-rashidin4\"]", "corridors = [\"ramouseh-rashidin4\", \"armed-west\"]")
        .replace(
            "# ── Truce windows",
            "[[corridors]]\nid = \"armed-west\"\nname = \"Armed people's corridor\"\nfrom = \"east-aleppo\"\nto = \"rashidin-4\"\nentry = [36.1540, 37.1222]\nexit = [36.1700, 37.0700]\ngroups = [\"armed\"]\ncheckpoints = [\n  { id = \"aw-entry\", name = \"entry\", at = \"0%\", vehicles_per_hour = 20 },\n  { id = \"aw-exit\", name = \"exit\", at = \"100%\", vehicles_per_hour = 20 },\n]\n\n# ── Truce windows",
        );
    let sc = scenario(&text).unwrap();
    let out = simulate(&sc, &router()).unwrap();
    let mut views = Views::new();
    for (i, e) in out.events.iter().enumerate() {
        views.apply(i as u64, e);
        if let Body::Passage(p) = &e.body {
            let armed = p.counts.get("armed").copied().unwrap_or(0);
            match p.corridor.as_str() {
                "armed-west" => assert_eq!(u64::from(armed), corridor_model::people(&p.counts), "{}", e.id),
                "ramouseh-rashidin4" => assert_eq!(armed, 0, "{}", e.id),
                _ => {}
            }
        }
    }
    let f = views.figures();
    let (civ, arm) = (&f.by_corridor["ramouseh-rashidin4"], &f.by_corridor["armed-west"]);
    assert_eq!((arm.people, civ.people), (14_891, 7_606 + 8_787));
    assert_eq!(arm.wounded + civ.wounded, 701, "every wounded person is carried");
    assert!(f.reconciliation.all_reconciled());
}

#[test]
fn clearing_an_area_reopens_its_roads_for_the_router() {
    use corridor_geo::{HazardSet, LatLon};
    let sc = scenario(ALEPPO_2016).unwrap();
    let events = corridor_plan::aftermath::events(&sc);
    let hanano = sc.districts().into_iter().find(|d| d.id == "hanano").unwrap();
    let mut r = router();
    let mut st = r.new_state();
    let (from, to) = (LatLon::new(36.2100, 37.1300), LatLon::new(hanano.lat, hanano.lon));
    // Every road arc a route drives, the partial ones at its ends too.
    let driven = |x: &corridor_geo::Route| -> Vec<u32> { x.first_part.iter().map(|p| p.0).chain(x.arcs.iter().copied()).chain(x.last_part.iter().map(|p| p.0)).collect() };
    let open_route = driven(&r.route(&mut st, from, to).unwrap());
    // Every area declared, every one but Hanano's cleared: Hanano's roads are closed.
    let mut hz = HazardSet::default();
    for e in events.iter().filter(|e| !e.id.starts_with("clearance-uxo-2017-hanano-")) {
        hz.apply(e);
    }
    r.set_hazards(hz.clone());
    let closed: Vec<u32> = open_route.iter().copied().filter(|&a| r.is_blocked(a as usize)).collect();
    assert!(!closed.is_empty(), "the suspected areas close the road into Hanano");
    let detour = r.route(&mut st, from, to).map(|x| driven(&x)).unwrap_or_default();
    assert!(detour.iter().all(|&a| !r.is_blocked(a as usize)), "the router never uses a closed road");
    // Hanano's clearance completes: its roads reopen and the route uses them again.
    for e in events.iter().filter(|e| e.id.starts_with("clearance-uxo-2017-hanano-")) {
        hz.apply(e);
    }
    r.set_hazards(hz);
    let again = driven(&r.route(&mut st, from, to).unwrap());
    assert!(closed.iter().any(|a| again.contains(a)), "the reopened road is used");
}

#[test]
fn aftermath_errors_name_the_line_and_field() {
    let e = scenario(&ALEPPO_2016.replace("district = \"hanano\"\norganisation", "district = \"atlantis\"\norganisation")).unwrap_err().to_string();
    assert!(e.contains("aid[0].district") && e.contains("unknown district \"atlantis\""), "{e}");
    let e = scenario(&ALEPPO_2016.replace("hectares = 3000.0", "hectares = 9000.0")).unwrap_err().to_string();
    assert!(e.contains("clearance_campaigns[0].hectares") && e.contains("9000 ha cannot be cleared from areas of"), "{e}");
    let e = scenario(&ALEPPO_2016.replace("tonnes = 70.0\nfamilies = 262", "tonnes = -70.0\nfamilies = 262")).unwrap_err().to_string();
    assert!(e.contains("aid[0].tonnes") && e.contains("not a non-negative"), "{e}");
}

/// Issue 20, item 5: a scenario's counts are bounded as the events it
/// becomes are: two groups of 3,000,000,000 people summed past u32 (a
/// panic or a wrapped total in the simulator); seats past a ship's are
/// refused, naming the field.
#[test]
fn scenario_counts_over_the_bound_are_refused() {
    let e = scenario(&ALEPPO_2016.replace("people = { armed = 14891", "people = { armed = 3000000000, men = 3000000000")).unwrap_err().to_string();
    assert!(e.contains("sites[0].people") && e.contains("at most 10000000"), "{e}");
    let e = scenario(&ALEPPO_2016.replace("seats = 50\noperator = \"SARC\"\ndepot = \"rashidin-4\"", "seats = 4294967295\noperator = \"SARC\"\ndepot = \"rashidin-4\"")).unwrap_err().to_string();
    assert!(e.contains(".seats") && e.contains("at most 10000"), "{e}");
}
