//! The lower bound against the true optimum. On toy networks whose travel
//! times are whole slots (and capacities whole vehicles per slot), the
//! quickest plan is found exactly by a maximum flow in the time-expanded
//! network (one copy of every node per slot), written here independently
//! of the planner and of its bound (breadth-first augmenting paths). Every
//! bound must be at most that optimum, every plan at least it, and the
//! bound must be the optimum on most instances. Instances with travel times
//! inside a slot have their optimum worked out by hand.

use std::collections::{HashMap, VecDeque};

use corridor_plan::bound::bounds;
use corridor_plan::net::ArcSpec;
use corridor_plan::{plan, FlowNet, Problem, Source};

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
    assert!(exact * 50 >= cases * 49, "only {exact} of {cases} bounds equal the optimum");
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
