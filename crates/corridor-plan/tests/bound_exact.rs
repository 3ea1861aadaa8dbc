//! The lower bound against the true optimum. On toy networks whose travel
//! times are whole slots (and capacities whole vehicles per slot), the
//! quickest plan is found exactly by a maximum flow in the time-expanded
//! network (one copy of every node per slot, each source its own loads),
//! written here independently of the planner and of its bound
//! (breadth-first augmenting paths). Every bound must be at most that
//! optimum, every plan at least it, and the bound must be the optimum on
//! every instance (the quickest transshipment of `bound` keeps every arc of
//! a small network). Instances with travel times inside a slot have their
//! optimum worked out by hand.

use std::collections::{HashMap, VecDeque};

use corridor_plan::bound::bounds;
use corridor_plan::net::ArcSpec;
use corridor_plan::{plan, FlowNet, Problem, Source, VehicleState};
use proptest::prelude::*;

const SLOT: u64 = 60_000;

/// Edmonds–Karp on an adjacency-matrix-free arc list.
struct Ek {
    to: Vec<usize>,
    cap: Vec<u64>,
    out: Vec<Vec<usize>>,
}

impl Ek {
    fn new(n: usize) -> Self {
        Ek { to: Vec::new(), cap: Vec::new(), out: vec![Vec::new(); n] }
    }
    fn arc(&mut self, u: usize, v: usize, c: u64) {
        self.out[u].push(self.to.len());
        self.to.push(v);
        self.cap.push(c);
        self.out[v].push(self.to.len());
        self.to.push(u);
        self.cap.push(0);
    }
    fn max_flow(&mut self, s: usize, t: usize) -> u64 {
        let mut total = 0;
        loop {
            let mut via = vec![usize::MAX; self.out.len()];
            let mut q = VecDeque::from([s]);
            let mut seen = vec![false; self.out.len()];
            seen[s] = true;
            while let Some(u) = q.pop_front() {
                for &e in &self.out[u] {
                    if self.cap[e] > 0 && !seen[self.to[e]] {
                        seen[self.to[e]] = true;
                        via[self.to[e]] = e;
                        q.push_back(self.to[e]);
                    }
                }
            }
            if !seen[t] {
                return total;
            }
            let mut f = u64::MAX;
            let mut v = t;
            while v != s {
                f = f.min(self.cap[via[v]]);
                v = self.to[via[v] ^ 1];
            }
            let mut v = t;
            while v != s {
                self.cap[via[v]] -= f;
                self.cap[via[v] ^ 1] += f;
                v = self.to[via[v] ^ 1];
            }
            total += f;
        }
    }
}

/// Whether every load can reach an exit by slot `t` (arrival at `t·SLOT`).
fn feasible(p: &Problem, t: u64) -> bool {
    let net = p.net;
    let n = net.node_count();
    let t = t as usize;
    let id = |v: usize, k: usize| v * (t + 1) + k;
    let (ss, tt) = (n * (t + 1), n * (t + 1) + 1);
    let mut g = Ek::new(n * (t + 1) + 2);
    let big = u64::MAX / 4;
    for v in 0..n {
        for k in 0..t {
            g.arc(id(v, k), id(v, k + 1), big);
        }
        if net.sink[v] {
            for k in 0..=t {
                g.arc(id(v, k), tt, big);
            }
        }
    }
    for a in 0..net.arc_count() {
        let d = (u64::from(net.transit_ms[a]) / SLOT) as usize;
        for k in 0..=t {
            if k + d <= t {
                g.arc(id(net.tail[a] as usize, k), id(net.head[a] as usize, k + d), u64::from(net.slot_cap(a, k as u64, SLOT)));
            }
        }
    }
    let mut total = 0;
    for s in &p.sources {
        let r = ((s.ready_ms + s.load_ms) / SLOT) as usize;
        if r <= t {
            g.arc(ss, id(s.node as usize, r), s.loads);
        }
        total += s.loads;
    }
    g.max_flow(ss, tt) == total
}

/// The quickest plan's completion (ms), or None beyond `limit` slots.
fn optimum(p: &Problem, limit: u64) -> Option<u64> {
    (0..=limit).find(|&t| feasible(p, t)).map(|t| t * SLOT)
}

struct Rng(u64);
impl Rng {
    fn below(&mut self, m: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % m
    }
}

/// A random connected-ish network of whole-slot arcs, its exits, and sources.
fn instance(rng: &mut Rng) -> (FlowNet, Vec<Source>) {
    let n = 4 + rng.below(6) as u32;
    let exits = 1 + rng.below(2) as u32;
    let mut arcs = Vec::new();
    // A path to the exits so every source can leave, then random arcs.
    for v in 0..n - 1 {
        let w = v + 1;
        arcs.push(ArcSpec { tail: v, head: w, transit_ms: (1 + rng.below(3)) as u32 * SLOT as u32, cap_vph: (1 + rng.below(4)) as u32 * 60, gate: None, families: u64::MAX });
    }
    for _ in 0..rng.below(2 * u64::from(n)) {
        let (u, v) = (rng.below(u64::from(n)) as u32, rng.below(u64::from(n)) as u32);
        if u != v {
            arcs.push(ArcSpec { tail: u, head: v, transit_ms: (1 + rng.below(4)) as u32 * SLOT as u32, cap_vph: (1 + rng.below(5)) as u32 * 60, gate: None, families: u64::MAX });
        }
    }
    let sinks: Vec<u32> = (n - exits..n).collect();
    let net = FlowNet::build(n as usize, &arcs, &sinks);
    let mut sources = Vec::new();
    for v in 0..n - exits {
        if rng.below(3) > 0 {
            sources.push(Source { node: v, family: 0, class: 0, loads: 1 + rng.below(25), ready_ms: rng.below(4) * SLOT, load_ms: 0 });
        }
    }
    if sources.is_empty() {
        sources.push(Source { node: 0, family: 0, class: 0, loads: 10, ready_ms: 0, load_ms: 0 });
    }
    (net, sources)
}

fn problem(net: &FlowNet, sources: Vec<Source>) -> Problem<'_> {
    Problem { net, sources, fleet: None, reposition_ms: HashMap::new(), slot_ms: SLOT, unload_ms: 0, horizon_ms: 24 * 3_600_000 }
}

#[test]
fn the_bound_is_valid_and_mostly_exact_on_whole_slot_networks() {
    let mut rng = Rng(0x5eed_c0de);
    let (mut exact, mut cases, mut gap) = (0, 0, 0u64);
    for _ in 0..300 {
        let (net, sources) = instance(&mut rng);
        let p = problem(&net, sources);
        let Some(opt) = optimum(&p, 400) else { continue };
        let b = bounds(&p);
        let pl = plan(&p).unwrap();
        corridor_plan::check::check(&p, &pl).unwrap();
        assert!(b.best() <= opt, "bound {} above the optimum {opt}: {b:?}\n{:?}\n{:?}", b.best(), net, p.sources);
        assert!(pl.completion_ms >= opt, "plan {} beats the optimum {opt}", pl.completion_ms);
        cases += 1;
        if b.best() == opt {
            exact += 1;
        }
        gap += opt - b.best();
    }
    eprintln!("{exact} of {cases} bounds exact, mean gap {:.1} s", gap as f64 / cases as f64 / 1000.0);
    assert!(cases >= 250);
    // Before the quickest transshipment (issue 23) some were not.
    assert_eq!(exact, cases, "only {exact} of {cases} bounds equal the optimum");
}

/// A small network of whole-slot arcs (a path to the exits, so that every
/// source can leave, and random arcs) and its sources, from proptest.
fn whole_slot_instance() -> impl Strategy<Value = (FlowNet, Vec<Source>)> {
    (3u32..8, 1u32..3)
        .prop_flat_map(|(n, exits)| {
            let chain = prop::collection::vec((1u32..4, 1u32..5), (n - 1) as usize);
            let extra = prop::collection::vec((0..n, 0..n, 1u32..5, 1u32..6), 0..(2 * n as usize));
            let srcs = prop::collection::vec((0..n, 1u64..30, 0u64..4), 1..5);
            (Just(n), Just(exits.min(n - 1)), chain, extra, srcs)
        })
        .prop_map(|(n, exits, chain, extra, srcs)| {
            let mut arcs: Vec<ArcSpec> = chain
                .iter()
                .enumerate()
                .map(|(v, &(d, c))| ArcSpec { tail: v as u32, head: v as u32 + 1, transit_ms: d * SLOT as u32, cap_vph: c * 60, gate: None, families: u64::MAX })
                .collect();
            arcs.extend(extra.iter().filter(|e| e.0 != e.1).map(|&(u, v, d, c)| ArcSpec { tail: u, head: v, transit_ms: d * SLOT as u32, cap_vph: c * 60, gate: None, families: u64::MAX }));
            let sinks: Vec<u32> = (n - exits..n).collect();
            let net = FlowNet::build(n as usize, &arcs, &sinks);
            let sources = srcs
                .iter()
                .map(|&(v, loads, ready)| Source { node: v % (n - exits), family: 0, class: 0, loads, ready_ms: ready * SLOT, load_ms: 0 })
                .collect();
            (net, sources)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    /// bound ≤ optimum ≤ plan, and bound = optimum, on whole-slot networks.
    #[test]
    fn bound_equals_the_exact_optimum_on_generated_whole_slot_networks((net, sources) in whole_slot_instance()) {
        let p = problem(&net, sources);
        let opt = optimum(&p, 600).expect("a path to the exits");
        let b = bounds(&p);
        let pl = plan(&p).unwrap();
        corridor_plan::check::check(&p, &pl).unwrap();
        prop_assert!(pl.completion_ms >= opt, "plan {} beats the optimum {opt}", pl.completion_ms);
        prop_assert_eq!(b.best(), opt, "bounds {:?}", b);
    }
}

/// Two sources share one exit road; the far one's people come through a
/// narrow road, with travel times inside a slot (60 s slots):
///
/// ```text
///   A (3 loads) ──a: 20 s, 1/slot──► 1 (B: 3 loads) ──e: 30 s, 2/slot──► exit
/// ```
///
/// By hand: `e` admits 2 a slot, so the 6 loads need its slots 0, 1 and 2
/// at least, and the last enters `e` no sooner than 120 s. `a` admits one
/// a slot: A's loads enter it no sooner than 0, 60 and 120 s, reach node 1
/// at 20, 80 and 140 s. A plan: B's loads enter `e` at 0, 60 and 120 s,
/// A's at 20, 80 and 140 s (each slot of `e` holds one of each), the last
/// arrives at 170 s. Nothing is sooner: A's third load enters `a` no sooner
/// than 120 s (one a slot), then needs 20 + 30 s. Optimum 170 s, and the
/// bound finds it (the narrow road's slots and the time after it).
///
/// With 4 loads at B instead, `e`'s slots 0..3 hold 7 loads; the 7th
/// enters `e` in slot 3 (no sooner than 180 s) and arrives no sooner than
/// 210 s; the plan B, A, B+A, B+A, B+... reaches 210 s (A's loads at 20,
/// 80, 140 s in slots 0..2, B's 4 in the room left: slots 0, 1, 2, 3).
/// Optimum 210 s, found by the exits' slots with each source's own loads.
#[test]
fn two_sources_sharing_an_exit_with_sub_slot_travel_times() {
    let arcs = [
        ArcSpec { tail: 0, head: 1, transit_ms: 20_000, cap_vph: 60, gate: None, families: u64::MAX },
        ArcSpec { tail: 1, head: 2, transit_ms: 30_000, cap_vph: 120, gate: None, families: u64::MAX },
    ];
    let net = FlowNet::build(3, &arcs, &[2]);
    for (b_loads, opt) in [(3, 170_000), (4, 210_000)] {
        let p = problem(
            &net,
            vec![Source { node: 0, family: 0, class: 0, loads: 3, ready_ms: 0, load_ms: 0 }, Source { node: 1, family: 0, class: 0, loads: b_loads, ready_ms: 0, load_ms: 0 }],
        );
        let pl = plan(&p).unwrap();
        corridor_plan::check::check(&p, &pl).unwrap();
        assert_eq!(pl.completion_ms, opt, "B {b_loads}: the plan");
        assert_eq!(bounds(&p).best(), opt, "B {b_loads}: the bound");
    }
}

/// With a fleet the planner starts a source when its first vehicle can be
/// there loaded, but not before its people are ready: a bus waiting at the
/// site from 0 with 5 min of boarding leaves when the people are ready at
/// 60 min, not at 65 (`max(0 + 5, 60)`), and arrives at 70 min over a
/// 10 min road. No bound may say later. (The flow bound counted from
/// `ready + load`, 75 min, above the plan.)
#[test]
fn the_bound_counts_from_when_the_planner_may_start_a_fleet_source() {
    let arcs = [ArcSpec { tail: 0, head: 1, transit_ms: 10 * SLOT as u32, cap_vph: 600, gate: None, families: u64::MAX }];
    let net = FlowNet::build(2, &arcs, &[1]);
    let mut p = problem(&net, vec![Source { node: 0, family: 0, class: 0, loads: 1, ready_ms: 60 * SLOT, load_ms: 5 * SLOT }]);
    p.fleet = Some(vec![VehicleState { class: 0, at: 0, ready_ms: 0 }]);
    p.unload_ms = 5 * SLOT;
    let pl = plan(&p).unwrap();
    corridor_plan::check::check(&p, &pl).unwrap();
    assert_eq!(pl.completion_ms, 70 * SLOT);
    let b = bounds(&p);
    assert!(b.best() <= pl.completion_ms, "bound {} above the plan {}: {b:?}", b.best(), pl.completion_ms);
    assert_eq!(b.best(), 70 * SLOT, "{b:?}");
}

fn chain(transits: &[u32], cap_per_slot: u32) -> FlowNet {
    let arcs: Vec<ArcSpec> = transits
        .iter()
        .enumerate()
        .map(|(i, &t)| ArcSpec { tail: i as u32, head: i as u32 + 1, transit_ms: t, cap_vph: cap_per_slot * 60, gate: None, families: u64::MAX })
        .collect();
    FlowNet::build(transits.len() + 1, &arcs, &[transits.len() as u32])
}

#[test]
fn sub_slot_travel_times_worked_by_hand() {
    // One 30 s road admitting 2 vehicles a slot, 10 loads: they enter in
    // slots 0..4, the last at 4 min, and arrive 30 s later.
    let net = chain(&[30_000], 2);
    let p = problem(&net, vec![Source { node: 0, family: 0, class: 0, loads: 10, ready_ms: 0, load_ms: 0 }]);
    assert_eq!(plan(&p).unwrap().completion_ms, 270_000);
    assert_eq!(bounds(&p).best(), 270_000);

    // Two 40 s roads of 1 vehicle a slot, 3 loads: the first reaches the
    // second road at 40 s (still slot 0); the third leaves at 2 min, enters
    // the second road at 2:40 and arrives at 3:20.
    let net = chain(&[40_000, 40_000], 1);
    let p = problem(&net, vec![Source { node: 0, family: 0, class: 0, loads: 3, ready_ms: 0, load_ms: 0 }]);
    assert_eq!(plan(&p).unwrap().completion_ms, 200_000);
    let b = bounds(&p).best();
    assert!(b <= 200_000 && b >= 160_000, "bound {b}");

    // A 90 s road of 1 a slot: the 4th load enters at 3 min, arrives 4:30.
    let net = chain(&[90_000], 1);
    let p = problem(&net, vec![Source { node: 0, family: 0, class: 0, loads: 4, ready_ms: 0, load_ms: 0 }]);
    assert_eq!(plan(&p).unwrap().completion_ms, 270_000);
    assert_eq!(bounds(&p).best(), 270_000);
}

/// The case the relaxation without supplies gets wrong: a few people next
/// to a wide exit, many behind a narrow road. The densest cut bounds them.
#[test]
fn a_crowd_behind_a_narrow_road_is_bounded_by_that_road() {
    // 0 (crowd, 100 loads) → 1 by a 1-a-slot road; 1 (2 loads) → 2 (exit) by a 10-a-slot road.
    let arcs = [
        ArcSpec { tail: 0, head: 1, transit_ms: 60_000, cap_vph: 60, gate: None, families: u64::MAX },
        ArcSpec { tail: 1, head: 2, transit_ms: 60_000, cap_vph: 600, gate: None, families: u64::MAX },
    ];
    let net = FlowNet::build(3, &arcs, &[2]);
    let p = problem(
        &net,
        vec![
            Source { node: 0, family: 0, class: 0, loads: 100, ready_ms: 0, load_ms: 0 },
            Source { node: 1, family: 0, class: 0, loads: 2, ready_ms: 0, load_ms: 0 },
        ],
    );
    // The 100th load enters the narrow road in slot 99, arrives at slot 101.
    let opt = optimum(&p, 200).unwrap();
    assert_eq!(opt, 101 * SLOT);
    assert_eq!(bounds(&p).best(), opt);
    assert_eq!(plan(&p).unwrap().completion_ms, opt);
}
