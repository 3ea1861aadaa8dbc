//! The planner on small networks whose optimum is known, and properties
//! every plan must have on random ones: capacity never exceeded, routes
//! contiguous in space and time, every load sent, never faster than the
//! lower bound.

use std::collections::HashMap;

use corridor_plan::bound::bounds;
use corridor_plan::net::{ArcSpec, FlowNet};
use corridor_plan::{plan, Plan, PlanError, Problem, Source, VehicleState};
use proptest::prelude::*;

const MIN: u64 = 60_000;

fn arc(tail: u32, head: u32, minutes: u32, cap_vph: u32) -> ArcSpec {
    ArcSpec { tail, head, transit_ms: minutes * 60_000, cap_vph, gate: None, families: u64::MAX }
}

fn src(node: u32, loads: u64) -> Source {
    Source { node, family: 0, class: 0, loads, ready_ms: 0, load_ms: 0 }
}

fn problem(net: &FlowNet, sources: Vec<Source>) -> Problem<'_> {
    Problem { net, sources, fleet: None, reposition_ms: HashMap::new(), slot_ms: MIN, unload_ms: 0, horizon_ms: 1_000 * 60 * MIN }
}

/// Checks what every plan must satisfy, and that it does not beat its bound.
fn check(p: &Problem, plan: &Plan) {
    corridor_plan::check::check(p, plan).unwrap_or_else(|e| panic!("{e}"));
    let lb = bounds(p).best();
    assert!(plan.completion_ms >= lb, "plan {} beats its lower bound {lb}", plan.completion_ms);
}

#[test]
fn one_road_is_optimal_and_meets_its_bound() {
    // 60 vehicles/hour, 10 minutes: the 10th load leaves at minute 9 and
    // arrives at minute 19, and no plan can do better.
    let net = FlowNet::build(2, &[arc(0, 1, 10, 60)], &[1]);
    let p = problem(&net, vec![src(0, 10)]);
    let plan = plan(&p).unwrap();
    check(&p, &plan);
    assert_eq!(plan.completion_ms, 19 * MIN);
    assert_eq!(bounds(&p).best(), 19 * MIN);
}

#[test]
fn a_slow_second_road_takes_the_overflow() {
    // Fast road 60/h in 10 min; slow road 60/h in 20 min. 30 loads: the
    // fast road alone would need 39 min; both finish by about 34.
    let net = FlowNet::build(3, &[arc(0, 2, 10, 60), arc(0, 1, 10, 60), arc(1, 2, 10, 600)], &[2]);
    let p = problem(&net, vec![src(0, 30)]);
    let plan = plan(&p).unwrap();
    check(&p, &plan);
    assert!(plan.trips.iter().any(|t| t.legs.len() == 2), "the second road is used");
    assert!(plan.completion_ms <= 35 * MIN, "{}", plan.completion_ms / MIN);
    let lb = bounds(&p).best();
    assert!(plan.completion_ms as f64 <= lb as f64 * 1.1, "plan {} lb {}", plan.completion_ms, lb);
}

#[test]
fn a_fleet_shuttles_and_the_fleet_bound_counts_its_round_trips() {
    // 2 vehicles, 6 loads, 10 min out, 10 min back, 5 min to board, 5 to unload.
    let net = FlowNet::build(2, &[arc(0, 1, 10, 600)], &[1]);
    let mut p = problem(&net, vec![Source { load_ms: 5 * MIN, ..src(0, 6) }]);
    p.fleet = Some(vec![VehicleState { class: 0, at: 0, ready_ms: 0 }; 2]);
    p.reposition_ms.insert((1, 0), 10 * MIN);
    p.unload_ms = 5 * MIN;
    let plan = plan(&p).unwrap();
    check(&p, &plan);
    // Each vehicle makes 3 trips: 15, then 15+30, then 45+30 = 75 minutes.
    assert_eq!(plan.completion_ms, 75 * MIN);
    assert_eq!(bounds(&p).fleet_ms, 75 * MIN);
    let mut per_vehicle = [0; 2];
    for t in &plan.trips {
        per_vehicle[t.vehicle.unwrap()] += 1;
    }
    assert_eq!(per_vehicle, [3, 3]);
}

#[test]
fn gates_hold_vehicles_until_the_window_and_refuse_what_it_cannot_carry() {
    let gated = ArcSpec { gate: Some(vec![(30 * MIN, 40 * MIN)]), ..arc(0, 1, 5, 60) };
    let net = FlowNet::build(2, &[gated], &[1]);
    let p = problem(&net, vec![src(0, 10)]);
    let plan = plan(&p).unwrap();
    check(&p, &plan);
    assert!(plan.trips.iter().all(|t| t.depart_ms >= 30 * MIN && t.depart_ms < 40 * MIN));
    assert_eq!(plan.completion_ms, 44 * MIN);
    assert_eq!(bounds(&p).gates_ms, 44 * MIN);
    // Eleven loads do not fit in a 10-minute window at one a minute.
    let p = problem(&net, vec![src(0, 11)]);
    match plan_err(&p) {
        PlanError::OutOfTime { remaining, sent, .. } => assert_eq!((remaining, sent), (1, 10)),
        e => panic!("{e:?}"),
    }
}

#[test]
fn a_class_without_vehicles_and_an_unreachable_exit_are_refused() {
    let net = FlowNet::build(3, &[arc(0, 1, 5, 60)], &[1]);
    let mut p = problem(&net, vec![Source { class: 1, ..src(0, 3) }]);
    p.fleet = Some(vec![VehicleState { class: 0, at: 0, ready_ms: 0 }]);
    assert!(matches!(plan_err(&p), PlanError::NoVehicles { class: 1, loads: 3, .. }));
    let p = problem(&net, vec![src(2, 3)]);
    assert!(matches!(plan_err(&p), PlanError::NoRoute { node: 2, .. }));
}

fn plan_err(p: &Problem) -> PlanError {
    plan(p).expect_err("no plan")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn random_networks_keep_every_rule(
        arcs in prop::collection::vec((0u32..8, 0u32..8, 1u32..20, 10u32..300), 4..30),
        loads in prop::collection::vec((0u32..6, 1u64..60), 1..4),
        with_fleet in any::<bool>(),
    ) {
        let mut specs: Vec<ArcSpec> = arcs.iter().filter(|a| a.0 != a.1).map(|&(t, h, m, c)| arc(t, h, m, c)).collect();
        // Exits 6 and 7, reachable from every node.
        for v in 0..6 {
            specs.push(arc(v, 6 + v % 2, 30, 30));
        }
        let net = FlowNet::build(8, &specs, &[6, 7]);
        let sources: Vec<Source> = loads.iter().map(|&(v, n)| src(v, n)).collect();
        let mut p = problem(&net, sources);
        if with_fleet {
            p.fleet = Some((0..5).map(|i| VehicleState { class: 0, at: (i % 6) as u32, ready_ms: 0 }).collect());
            for z in [6u32, 7] {
                for v in 0..6u32 {
                    p.reposition_ms.insert((z, v), 20 * MIN);
                    p.reposition_ms.insert((v, v + 1), 5 * MIN);
                }
            }
            for v in 0..6u32 {
                for w in 0..6u32 {
                    p.reposition_ms.entry((v, w)).or_insert(7 * MIN);
                }
            }
        }
        let plan = plan(&p).unwrap();
        check(&p, &plan);
        if !with_fleet {
            // Each load goes on a route within one slot of the earliest
            // any route could give it then: no later trip arrives more than
            // a slot before an earlier one (strict CCRP: never before).
            let mut latest_later = u64::MAX;
            for t in plan.trips.iter().rev() {
                prop_assert!(t.arrive_ms <= latest_later.saturating_add(p.slot_ms), "a trip arrives at {} ms, a later one at {} ms", t.arrive_ms, latest_later);
                latest_later = latest_later.min(t.arrive_ms);
            }
        }
    }
}

#[test]
fn a_batch_of_routes_shares_one_repair() {
    // Three roads of 60 vehicles/hour, 5 minutes, to three exits; 90
    // loads. Routes arriving within a slot of the batch's earliest (here
    // a load on each road, and the next on each one minute later) go in
    // one batch, so the trees are repaired far less often than loads are
    // sent, and the plan is still the optimum: 30 loads per road, the
    // last entering at minute 29, out at 34.
    let net = FlowNet::build(4, &[arc(0, 1, 5, 60), arc(0, 2, 5, 60), arc(0, 3, 5, 60)], &[1, 2, 3]);
    let p = problem(&net, vec![src(0, 90)]);
    let plan = plan(&p).unwrap();
    check(&p, &plan);
    assert_eq!(plan.completion_ms, 34 * MIN);
    assert_eq!(bounds(&p).best(), 34 * MIN);
    assert!(plan.searches * 3 < plan.rounds, "{} repairs for {} rounds", plan.searches, plan.rounds);
}
