//! Lower bounds on the completion time: no plan, ours or anyone's, can
//! bring every load to an exit sooner. A plan's quality is its completion
//! time divided by the largest of them.
//!
//! - **Flow over time** (Ford and Fulkerson 1958): the most vehicles a
//!   network can bring from a super source to a super sink by time T is
//!   `Σ_i δ_i · (T − d_i)` over the successive shortest augmenting paths
//!   (lengths `d_i` in travel time, rates `δ_i` in vehicles per hour) with
//!   `d_i < T`. The smallest T at which that reaches the number of loads is
//!   a bound on the relaxation without per-source supplies, families or
//!   gates, so on the planner's problem too. The planner counts capacity in
//!   slots (a vehicle may enter anywhere in its slot), so the relaxation is
//!   counted in whole slots: every arc takes `⌊transit/slot⌋` slots and
//!   admits its largest slot capacity per slot; every slot plan is a
//!   discrete flow over time of it, and the bound holds for it exactly
//!   (see [`flow_bound`]).
//! - **Each source alone**: the same bound for one source's loads (for
//!   problems of few sources).
//! - **Subsets of the sources alone**: the same bound for the sources
//!   farther than some free-flow time from every exit (see `far_bound`),
//!   and for those the relaxation does not draw more loads from than they
//!   have (see `supply_bound`).
//! - **Fleet**: some vehicle of a class makes at least ⌈loads/vehicles⌉
//!   trips, each a loaded run and, between runs, an unload, an empty run
//!   back and a boarding, all at free-flow speed.
//! - **Gates**: when every route to an exit enters a gated arc (a corridor
//!   open only in truce windows), the last load cannot enter before the
//!   gates' slots in their open intervals add up to the number of loads,
//!   and then still has to reach an exit.

use crate::ccrp::Problem;
use crate::net::{FlowNet, NONE};

/// The bounds of one problem (ms from the problem's time origin).
#[derive(Debug, Clone, PartialEq)]
pub struct Bounds {
    pub flow_ms: u64,
    pub per_source_ms: u64,
    /// Subsets of the sources alone: those farther from every exit than
    /// some distance, and those the relaxation does not draw more loads
    /// from than they have.
    pub far_ms: u64,
    /// Regions (every node but the exits, and the densest cuts) left by
    /// their arcs out, one slot's capacity at a time, at free-flow speed.
    pub crossing_ms: u64,
    pub fleet_ms: u64,
    pub gates_ms: u64,
}

impl Bounds {
    pub fn best(&self) -> u64 {
        self.flow_ms.max(self.per_source_ms).max(self.far_ms).max(self.crossing_ms).max(self.fleet_ms).max(self.gates_ms)
    }
    /// Which bound is the largest.
    pub fn binding(&self) -> &'static str {
        let b = self.best();
        if b == self.gates_ms {
            "truce windows at the corridors' checkpoints"
        } else if b == self.fleet_ms {
            "fleet size against round-trip time"
        } else if b == self.per_source_ms {
            "one site's flow over time"
        } else if b == self.crossing_ms {
            "the exits' (or a region's) slots and the time to reach them"
        } else if b == self.far_ms {
            "flow over time of a subset of the sites"
        } else {
            "network flow over time"
        }
    }
}

/// Computes every bound that applies to `p`.
pub fn bounds(p: &Problem) -> Bounds {
    let loads: u64 = p.sources.iter().map(|s| s.loads).sum();
    if loads == 0 {
        return Bounds { flow_ms: 0, per_source_ms: 0, far_ms: 0, crossing_ms: 0, fleet_ms: 0, gates_ms: 0 };
    }
    let all: Vec<usize> = (0..p.sources.len()).filter(|&i| p.sources[i].loads > 0).collect();
    let flow_ms = flow_bound(p, &all);
    let per_source_ms = if all.len() <= 16 && all.len() > 1 { all.iter().map(|&i| flow_bound(p, &[i])).max().unwrap_or(0) } else { 0 };
    let mut far_ms = far_bound(p, &all).max(supply_bound(p, &all));
    let mut cuts = densest_cuts(p, &all);
    cuts.insert(0, (p.net.sink.iter().map(|&s| !s).collect(), all.clone()));
    let mut crossing_ms = 0;
    for (k, (side, inside)) in cuts.iter().enumerate() {
        if k > 0 {
            far_ms = far_ms.max(finite(flow_bound(p, inside)));
        }
        let floor = flow_ms.max(per_source_ms).max(far_ms).max(crossing_ms);
        crossing_ms = crossing_ms.max(crossing_bound(p, side, inside, if finite(floor) == floor { floor } else { 0 }));
    }
    Bounds { flow_ms, per_source_ms, far_ms, crossing_ms, fleet_ms: fleet_bound(p), gates_ms: gates_bound(p) }
}

/// The loads of any subset of sources cannot all arrive sooner than that
/// subset's own flow-over-time bound; the subsets that tell most are the
/// sources far from every exit (they must cross the city, and cannot use
/// the capacity next to the exits that only people nearby can fill). So:
/// the sources farther than `j/8` of the largest free-flow time to an
/// exit, for `j = 1..8`.
fn far_bound(p: &Problem, all: &[usize]) -> u64 {
    if all.len() < 2 {
        return 0;
    }
    let d = to_exit(p.net);
    let dist: Vec<u64> = all.iter().map(|&i| d[p.sources[i].node as usize]).collect();
    let Some(&max) = dist.iter().filter(|&&x| x != u64::MAX).max() else { return 0 };
    let mut best = 0;
    let mut last_len = all.len();
    for j in 1..8u64 {
        let cut = max * j / 8;
        let which: Vec<usize> = all.iter().zip(&dist).filter(|(_, &x)| x != u64::MAX && x > cut).map(|(&i, _)| i).collect();
        if which.is_empty() {
            break;
        }
        if which.len() == last_len {
            continue;
        }
        last_len = which.len();
        best = best.max(flow_bound(p, &which));
    }
    best
}

/// The relaxation gives every source an endless supply: a few people
/// next to an exit arc that nobody else can reach (a suburb on the far
/// side of an exit) "fill" it for hours. Any subset of the sources is a
/// bound too (and the best subset gives the exact quickest transshipment,
/// Hoppe and Tardos): so drop the sources the relaxation draws more loads
/// from than they have, and bound the rest, a few times over.
fn supply_bound(p: &Problem, all: &[usize]) -> u64 {
    let mut which = all.to_vec();
    let mut best = 0;
    for _ in 0..8 {
        let (b, used) = flow_bound_use(p, &which);
        if b != u64::MAX {
            best = best.max(b);
        }
        let keep: Vec<usize> = which.iter().zip(&used).filter(|(&i, &u)| u <= p.sources[i].loads as f64 + 1.0).map(|(&i, _)| i).collect();
        if keep.len() == which.len() || keep.is_empty() {
            break;
        }
        which = keep;
    }
    best
}

/// The densest cuts: a set of nodes X holding `b(X)` loads whose arcs out
/// admit `u(X)` vehicles per slot cannot be emptied in fewer than
/// `b(X)/u(X)` slots, whatever the rest of the network does. The relaxation
/// of [`flow_bound`] lets every source send without end, so a region of
/// many people behind a narrow road is bounded only through the whole
/// network's exits; the sources inside a dense X are bounded alone.
///
/// The X of largest ratio is found by Dinkelbach's method: at ratio λ a
/// maximum flow from the sources (capacity their loads) through the arcs
/// (capacity λ per vehicle per slot) to the exits leaves on its source side
/// the X maximising `b(X) − λ·u(X)`; λ becomes that X's ratio, until no X
/// beats it. Every X met on the way is returned (its nodes, the sources
/// in it), the densest last.
fn densest_cuts(p: &Problem, all: &[usize]) -> Vec<(Vec<bool>, Vec<usize>)> {
    let net = p.net;
    let slot = p.slot_ms.max(1);
    let n = net.node_count();
    let (ss, tt) = (n, n + 1);
    let mut g = crate::maxflow::MaxFlow::new(n + 2);
    let mut arcs: Vec<(usize, u64)> = Vec::new();
    for a in 0..net.arc_count() {
        let cap = u64::from(net_slot_peak(net, a, slot));
        if cap == 0 || net.sink[net.tail[a] as usize] {
            continue;
        }
        arcs.push((g.add(net.tail[a] as usize, net.head[a] as usize, 0), cap));
    }
    let mut supply = vec![0u64; n];
    for &i in all {
        supply[p.sources[i].node as usize] += p.sources[i].loads;
    }
    let sources: Vec<(usize, u64)> = (0..n).filter(|&v| supply[v] > 0 && !net.sink[v]).map(|v| (g.add(ss, v, 0), supply[v])).collect();
    let to_sink: Vec<usize> = (0..n).filter(|&v| net.sink[v]).map(|v| g.add(v, tt, 0)).collect();
    // λ = num/den slots; start from the whole network's ratio (X = every node but the exits).
    let exits: u64 = (0..net.arc_count())
        .filter(|&a| net.sink[net.head[a] as usize] && !net.sink[net.tail[a] as usize])
        .map(|a| u64::from(net_slot_peak(net, a, slot)))
        .sum();
    let total: u64 = sources.iter().map(|s| s.1).sum();
    let mut cuts: Vec<(Vec<bool>, Vec<usize>)> = Vec::new();
    if exits == 0 || total == 0 {
        return cuts;
    }
    let (mut num, mut den) = (total, exits);
    for _ in 0..12 {
        // Supplies ×den and capacities ×num keep every figure an integer.
        for &(e, b) in &sources {
            g.set_cap(e, b.saturating_mul(den));
        }
        for &(e, u) in &arcs {
            g.set_cap(e, u.saturating_mul(num));
        }
        for &e in &to_sink {
            g.set_cap(e, u64::MAX / 4);
        }
        let flow = g.run(ss, tt);
        if flow >= total.saturating_mul(den) {
            break;
        }
        let mut side = g.source_side(ss);
        side.truncate(n);
        let inside: Vec<usize> = all.iter().copied().filter(|&i| side[p.sources[i].node as usize]).collect();
        let b_x: u64 = inside.iter().map(|&i| p.sources[i].loads).sum();
        let u_x: u64 = (0..net.arc_count())
            .filter(|&a| side[net.tail[a] as usize] && !side[net.head[a] as usize] && !net.sink[net.tail[a] as usize])
            .map(|a| u64::from(net_slot_peak(net, a, slot)))
            .sum();
        if inside.is_empty() || cuts.iter().any(|c| c.1 == inside) {
            break;
        }
        cuts.push((side, inside));
        if u_x == 0 || b_x.saturating_mul(den) <= num.saturating_mul(u_x) {
            break;
        }
        (num, den) = (b_x, u_x);
    }
    cuts
}

/// `u64::MAX` (no plan exists in the relaxation) as no information.
fn finite(b: u64) -> u64 {
    if b == u64::MAX { 0 } else { b }
}

/// Most arcs out of a region the crossing bound takes (one reverse search
/// per arc's tail).
const MAX_CROSSING_ARCS: usize = 64;

/// The crossing bound of a region `inside` (no exit in it) for the loads
/// of `which` (sources inside it). Each load leaves the region by some arc
/// `a` out of it: it enters `a` no sooner than its release plus its
/// free-flow time to `a`'s tail, in a slot of `a` that admits no more than
/// `a`'s slot capacity, and arrives no sooner than that plus `a`'s transit
/// and the free-flow time on to an exit. Everything else about the network
/// (the capacity of every other arc) is relaxed away, and times are exact
/// to the millisecond: no rounding of transit times to slots, so this is
/// the bound that sees how long loads take to reach the exits when the
/// exits are what limits the evacuation. The earliest completion of this
/// relaxation is found by a maximum flow (sources → the first slot each can
/// reach of each arc → later slots of that arc → the sink, each slot
/// carrying its capacity) per candidate completion time, in a binary
/// search; `floor` is a completion time already known to be too soon.
fn crossing_bound(p: &Problem, inside: &[bool], which: &[usize], floor: u64) -> u64 {
    let net = p.net;
    let slot = p.slot_ms.max(1);
    let out: Vec<usize> = (0..net.arc_count())
        .filter(|&a| inside[net.tail[a] as usize] && !inside[net.head[a] as usize] && net.cap_vph[a] > 0 && !net.sink[net.tail[a] as usize])
        .collect();
    if out.is_empty() || out.len() > MAX_CROSSING_ARCS || which.is_empty() {
        return 0;
    }
    let (first_in, arcs_in) = net.reverse_index();
    let on_to_exit = net.free_flow_to_exits(&first_in, &arcs_in);
    let mut tails: Vec<u32> = out.iter().map(|&a| net.tail[a]).collect();
    tails.sort_unstable();
    tails.dedup();
    let to_tail: Vec<Vec<u64>> = tails.iter().map(|&t| net.free_flow_from(t, true)).collect();
    // Per arc out: its transit plus the rest of the way, and for each
    // source the earliest instant it can enter the arc.
    let rest: Vec<u64> = out.iter().map(|&a| u64::from(net.transit_ms[a]).saturating_add(on_to_exit[net.head[a] as usize])).collect();
    let mut earliest: Vec<Vec<(usize, u64)>> = Vec::with_capacity(which.len());
    for &i in which {
        let s = &p.sources[i];
        let release = s.ready_ms + s.load_ms;
        let mine: Vec<(usize, u64)> = out
            .iter()
            .enumerate()
            .filter(|&(j, &a)| rest[j] != u64::MAX && net.families[a] & (1u64 << (s.family % 64)) != 0)
            .filter_map(|(j, &a)| {
                let t = tails.binary_search(&net.tail[a]).ok()?;
                let d = to_tail[t][s.node as usize];
                (d != u64::MAX).then(|| (j, release + d))
            })
            .collect();
        if mine.is_empty() {
            return 0;
        }
        earliest.push(mine);
    }
    let demand: u64 = which.iter().map(|&i| p.sources[i].loads).sum();
    let feasible = |c: u64| -> bool {
        // Slots usable on each arc: entered at k·slot at the soonest, it
        // must still arrive by c.
        let last: Vec<Option<u64>> = rest.iter().map(|&r| c.checked_sub(r).map(|x| x / slot)).collect();
        let mut hub = Vec::with_capacity(out.len());
        let mut nodes = 2 + which.len();
        for l in &last {
            hub.push(nodes);
            nodes += l.map_or(0, |l| l as usize + 1);
        }
        let (ss, tt) = (0, 1);
        let mut g = crate::maxflow::MaxFlow::new(nodes);
        for (j, l) in last.iter().enumerate() {
            let Some(l) = *l else { continue };
            let a = out[j];
            for k in 0..=l {
                let h = hub[j] + k as usize;
                let open = net.next_open(a, k * slot).is_some_and(|t| t < (k + 1) * slot);
                let cap = if open { net.slot_cap(a, k, slot) } else { 0 };
                g.add(h, tt, u64::from(cap));
                // Later slots serve too; the longer jumps (same flows)
                // keep augmenting paths short for the maximum flow.
                for jump in [1, 8, 64] {
                    if k + jump <= l {
                        g.add(h, h + jump as usize, demand);
                    }
                }
            }
        }
        for (w, (&i, mine)) in which.iter().zip(&earliest).enumerate() {
            g.add(ss, 2 + w, p.sources[i].loads);
            for &(j, e) in mine {
                if last[j].is_some() && e.saturating_add(rest[j]) <= c {
                    g.add(2 + w, hub[j] + (e / slot) as usize, demand);
                }
            }
        }
        g.run(ss, tt) >= demand
    };
    // Exponential, then binary search for the first feasible completion
    // (to the second: what is returned is never above it).
    let mut lo = floor;
    let mut step = slot;
    let mut hi = lo.saturating_add(step);
    while !feasible(hi) {
        lo = hi + 1;
        step = step.saturating_mul(2);
        hi = hi.saturating_add(step);
        if hi > p.horizon_ms.saturating_add(24 * 3_600_000) {
            return 0;
        }
    }
    while hi - lo > 1_000 {
        let mid = lo + (hi - lo) / 2;
        if feasible(mid) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    lo
}

/// Free-flow time from every node to its nearest exit (`u64::MAX` where none).
fn to_exit(net: &FlowNet) -> Vec<u64> {
    let (first_in, arcs_in) = net.reverse_index();
    net.free_flow_to_exits(&first_in, &arcs_in)
}

/// The flow-over-time bound for the loads of `which` sources.
///
/// In slot units: a vehicle that enters arc `a` in slot `k` can enter the
/// next arc no sooner than slot `k + ⌊τ_a/s⌋` (⌊x+y⌋ ≥ ⌊x⌋+⌊y⌋), its first
/// arc no sooner than slot `⌊start/s⌋`, and each arc admits at most its
/// largest slot capacity per slot. So every plan is a discrete flow over
/// time (with waiting at nodes, which adds nothing) of that network, in
/// which every load reaches an exit by slot `K = ⌊C/s⌋` for a plan
/// finishing at `C`. Ford–Fulkerson gives the most it can carry in `T`
/// slots, `Σ_i δ_i (T − d_i)⁺`; with `T*` the fewest slots that carry
/// every load, `K + 1 ≥ T*`, and the last load, entering its exit arc `a`
/// in slot `K − ⌊τ_a/s⌋`, arrives no sooner than `K·s + (τ_a mod s)`:
/// `C ≥ (T* − 1)·s + min_a (τ_a mod s)` over the arcs into exits.
pub fn flow_bound(p: &Problem, which: &[usize]) -> u64 {
    flow_bound_use(p, which).0
}

/// [`flow_bound`], and how many loads the relaxation's flow over time
/// takes from each of `which` (its static rate times the slots it runs).
fn flow_bound_use(p: &Problem, which: &[usize]) -> (u64, Vec<f64>) {
    let (b, used) = flow_bound_inner(p, which);
    (b, used)
}

fn flow_bound_inner(p: &Problem, which: &[usize]) -> (u64, Vec<f64>) {
    let net = p.net;
    let slot = p.slot_ms.max(1);
    let demand: u64 = which.iter().map(|&i| p.sources[i].loads).sum();
    if demand == 0 {
        return (0, vec![0.0; which.len()]);
    }
    // Residual graph: node n = super source, n+1 = super sink.
    let n = net.node_count();
    let (ss, tt) = (n, n + 1);
    let mut g = Residual::new(n + 2);
    let mut remainder = u64::MAX;
    for a in 0..net.arc_count() {
        let cap = net_slot_peak(net, a, slot);
        // A route through an exit arrives sooner by stopping there, with
        // less capacity used: no plan needs an exit's outgoing arcs.
        if cap == 0 || net.sink[net.tail[a] as usize] {
            continue;
        }
        let tau = u64::from(net.transit_ms[a]);
        if net.sink[net.head[a] as usize] {
            remainder = remainder.min(tau % slot);
        }
        g.add(net.tail[a] as usize, net.head[a] as usize, f64::from(cap), (tau / slot) as i64);
    }
    let mut source_arcs = Vec::with_capacity(which.len());
    for &i in which {
        let s = &p.sources[i];
        source_arcs.push(g.head.len());
        g.add(ss, s.node as usize, f64::INFINITY, ((s.ready_ms + s.load_ms) / slot) as i64);
    }
    for v in 0..n {
        if net.sink[v] {
            g.add(v, tt, f64::INFINITY, 0);
        }
    }
    // Successive shortest paths (lengths d_i in slots, rates δ_i in
    // vehicles per slot) until the fewest slots are pinned down.
    let mut pieces: Vec<(u64, u64)> = Vec::new();
    let mut infinite: Option<u64> = None;
    let mut pot = vec![0i64; n + 2];
    loop {
        let Some((d, rate)) = g.augment(ss, tt, &mut pot) else { break };
        let d = d.max(0) as u64;
        if let Some(t) = fewest_slots(&pieces, demand) {
            if t <= d {
                break;
            }
        }
        if rate.is_infinite() {
            infinite = Some(d);
            break;
        }
        // Rates are sums and differences of integer capacities.
        let r = rate.round() as u64;
        if r > 0 {
            pieces.push((d, r));
        }
    }
    let by_pieces = fewest_slots(&pieces, demand);
    let t = match (by_pieces, infinite) {
        // Loads already at an exit: nothing to add for an exit arc.
        (Some(t), Some(d)) if d < t => return (d * slot, vec![0.0; which.len()]),
        (None, Some(d)) => return (d * slot, vec![0.0; which.len()]),
        (Some(t), _) => t,
        (None, None) => return (u64::MAX, vec![0.0; which.len()]),
    };
    let used = which
        .iter()
        .zip(&source_arcs)
        .map(|(&i, &e)| {
            let s = &p.sources[i];
            g.cap[e ^ 1] * (t.saturating_sub((s.ready_ms + s.load_ms) / slot)) as f64
        })
        .collect();
    ((t - 1) * slot + if remainder == u64::MAX { 0 } else { remainder }, used)
}

/// The largest number of vehicles an arc admits in one slot.
fn net_slot_peak(net: &FlowNet, a: usize, slot: u64) -> u32 {
    let per_slot = u64::from(net.cap_vph[a]) * slot;
    per_slot.div_ceil(3_600_000) as u32
}

/// Fewest whole slots `T` with `Σ δ_i (T − d_i)⁺ ≥ demand` (pieces in
/// order of `d_i`, as successive shortest paths give them).
fn fewest_slots(pieces: &[(u64, u64)], demand: u64) -> Option<u64> {
    let (mut rate, mut base) = (0u128, 0u128);
    for (k, &(d, r)) in pieces.iter().enumerate() {
        rate += u128::from(r);
        base += u128::from(r) * u128::from(d);
        // Smallest T ≥ d with rate·T − base ≥ demand.
        let t = ((u128::from(demand) + base).div_ceil(rate)).max(u128::from(d)) as u64;
        let next = pieces.get(k + 1).map_or(u64::MAX, |p| p.0);
        if t <= next {
            return Some(t);
        }
    }
    None
}

/// Min-cost-flow residual graph (successive shortest paths with Dijkstra
/// and potentials).
struct Residual {
    head: Vec<usize>,
    cap: Vec<f64>,
    cost: Vec<i64>,
    out: Vec<Vec<usize>>,
}

impl Residual {
    fn new(n: usize) -> Self {
        Residual { head: Vec::new(), cap: Vec::new(), cost: Vec::new(), out: vec![Vec::new(); n] }
    }
    fn add(&mut self, u: usize, v: usize, cap: f64, cost: i64) {
        self.out[u].push(self.head.len());
        self.head.push(v);
        self.cap.push(cap);
        self.cost.push(cost);
        self.out[v].push(self.head.len());
        self.head.push(u);
        self.cap.push(0.0);
        self.cost.push(-cost);
    }
    /// One shortest augmenting path: its length and the rate pushed.
    fn augment(&mut self, s: usize, t: usize, pot: &mut [i64]) -> Option<(i64, f64)> {
        use std::cmp::Reverse;
        let n = self.out.len();
        let mut dist = vec![i64::MAX; n];
        let mut via = vec![usize::MAX; n];
        let mut heap = std::collections::BinaryHeap::new();
        dist[s] = 0;
        heap.push(Reverse((0i64, s)));
        while let Some(Reverse((d, u))) = heap.pop() {
            if d > dist[u] {
                continue;
            }
            for &e in &self.out[u] {
                if self.cap[e] <= 1e-9 {
                    continue;
                }
                let v = self.head[e];
                let nd = d + self.cost[e] + pot[u] - pot[v];
                if nd < dist[v] {
                    dist[v] = nd;
                    via[v] = e;
                    heap.push(Reverse((nd, v)));
                }
            }
        }
        if dist[t] == i64::MAX {
            return None;
        }
        for v in 0..n {
            if dist[v] != i64::MAX {
                pot[v] += dist[v];
            }
        }
        let mut rate = f64::INFINITY;
        let mut v = t;
        while v != s {
            let e = via[v];
            rate = rate.min(self.cap[e]);
            v = self.head[e ^ 1];
        }
        let mut v = t;
        let mut length = 0i64;
        while v != s {
            let e = via[v];
            if rate.is_finite() {
                self.cap[e] -= rate;
                self.cap[e ^ 1] += rate;
            }
            length += self.cost[e];
            v = self.head[e ^ 1];
        }
        Some((length, rate))
    }
}

/// See the module doc (fleet).
fn fleet_bound(p: &Problem) -> u64 {
    let Some(fleet) = &p.fleet else { return 0 };
    let net = p.net;
    let mut best = 0u64;
    let classes: std::collections::BTreeSet<usize> = p.sources.iter().filter(|s| s.loads > 0).map(|s| s.class).collect();
    // Free-flow time from every source to its nearest exit.
    let to_exit: Vec<u64> = p
        .sources
        .iter()
        .map(|s| {
            let d = net.free_flow_from(s.node, false);
            (0..net.node_count()).filter(|&v| net.sink[v]).map(|v| d[v]).min().unwrap_or(u64::MAX)
        })
        .collect();
    for c in classes {
        let loads: u64 = p.sources.iter().filter(|s| s.class == c).map(|s| s.loads).sum();
        let vehicles = fleet.iter().filter(|v| v.class == c).count() as u64;
        if vehicles == 0 {
            continue;
        }
        let srcs: Vec<usize> = (0..p.sources.len()).filter(|&i| p.sources[i].class == c && p.sources[i].loads > 0).collect();
        let to_exit = &to_exit;
        let first = fleet
            .iter()
            .filter(|v| v.class == c)
            .flat_map(|v| {
                srcs.iter().filter_map(move |&i| {
                    let s = &p.sources[i];
                    let m = if v.at == s.node { Some(0) } else { p.reposition_ms.get(&(v.at, s.node)).copied() }?;
                    Some(v.ready_ms.max(s.ready_ms.saturating_sub(m + s.load_ms)) + m + s.load_ms + to_exit[i])
                })
            })
            .min()
            .unwrap_or(0);
        let cycle = srcs
            .iter()
            .map(|&i| {
                let s = &p.sources[i];
                let back = (0..net.node_count() as u32)
                    .filter(|&z| net.sink[z as usize])
                    .filter_map(|z| p.reposition_ms.get(&(z, s.node)).copied())
                    .min()
                    .unwrap_or(0);
                p.unload_ms + back + s.load_ms + to_exit[i]
            })
            .min()
            .unwrap_or(0);
        let trips = loads.div_ceil(vehicles);
        best = best.max(first + (trips - 1) * cycle);
    }
    best
}

/// See the module doc (gates): for all sources together, and for each
/// family alone (its loads may only use the gated arcs open to it).
fn gates_bound(p: &Problem) -> u64 {
    let mut families: Vec<u32> = p.sources.iter().filter(|s| s.loads > 0).map(|s| s.family).collect();
    families.sort_unstable();
    families.dedup();
    let all = gates_bound_for(p, None);
    families.into_iter().map(|f| gates_bound_for(p, Some(f))).fold(all, u64::max)
}

fn gates_bound_for(p: &Problem, family: Option<u32>) -> u64 {
    let net = p.net;
    let usable = |a: usize| family.is_none_or(|f| net.families[a] & (1u64 << (f % 64)) != 0);
    let in_family = |s: &&crate::ccrp::Source| family.is_none_or(|f| s.family == f);
    let gated: Vec<usize> = (0..net.arc_count()).filter(|&a| net.gate[a] != NONE && usable(a)).collect();
    if gated.is_empty() {
        return 0;
    }
    // Does every route cross a gated arc? Search from the sources without them.
    let n = net.node_count();
    let mut seen = vec![false; n];
    let mut stack: Vec<u32> = p.sources.iter().filter(in_family).filter(|s| s.loads > 0).map(|s| s.node).collect();
    while let Some(u) = stack.pop() {
        if std::mem::replace(&mut seen[u as usize], true) {
            continue;
        }
        if net.sink[u as usize] {
            return 0;
        }
        for a in net.arcs_of(u) {
            if net.gate[a] == NONE && net.cap_vph[a] > 0 && usable(a) {
                stack.push(net.head[a]);
            }
        }
    }
    let loads: u64 = p.sources.iter().filter(in_family).map(|s| s.loads).sum();
    if loads == 0 {
        return 0;
    }
    let slot = p.slot_ms.max(1);
    // Nothing enters a gate before the earliest load is ready.
    let earliest = p.sources.iter().filter(in_family).filter(|s| s.loads > 0).map(|s| s.ready_ms + s.load_ms).min().unwrap_or(0);
    // Every slot a gated arc is open in, with its capacity, in time order.
    let mut slots: Vec<(u64, u32)> = Vec::new();
    for &a in &gated {
        for &(s, e) in &net.gates[net.gate[a] as usize] {
            let (s, e) = (s.max(earliest), e.min(p.horizon_ms));
            let mut k = s / slot;
            while k * slot < e {
                let c = net.slot_cap(a, k, slot);
                if c > 0 {
                    slots.push(((k * slot).max(s), c));
                }
                k += 1;
            }
        }
    }
    slots.sort_unstable();
    let mut sum = 0u64;
    let mut last_entry = None;
    for (t, c) in slots {
        sum += u64::from(c);
        if sum >= loads {
            last_entry = Some(t);
            break;
        }
    }
    let Some(x) = last_entry else { return u64::MAX };
    let after = gated
        .iter()
        .map(|&a| {
            let d = net.free_flow_from(net.head[a], false);
            let to_sink = (0..n).filter(|&v| net.sink[v]).map(|v| d[v]).min().unwrap_or(u64::MAX);
            u64::from(net.transit_ms[a]).saturating_add(to_sink)
        })
        .min()
        .unwrap_or(0);
    x.saturating_add(after)
}
