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
//! - **Quickest transshipment** (issue 23): flow over time with each
//!   source's own loads, from when the planner may start it, through the
//!   slots of the arcs whose capacity is kept (every arc on small
//!   networks, where it is the exact time-expanded optimum for whole-slot
//!   travel times; the exits' arcs and the densest cuts' elsewhere), the
//!   other arcs at free-flow speed (see [`transshipment_bound`]).
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
    /// Flow over time with each source's own loads (a quickest
    /// transshipment), see [`transshipment_bound`].
    pub transship_ms: u64,
}

impl Bounds {
    pub fn best(&self) -> u64 {
        self.flow_ms.max(self.per_source_ms).max(self.far_ms).max(self.crossing_ms).max(self.fleet_ms).max(self.gates_ms).max(self.transship_ms)
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
        } else if b == self.transship_ms && b > self.flow_ms {
            "flow over time with each site's own people"
        } else {
            "network flow over time"
        }
    }
}

/// Computes every bound that applies to `p`.
pub fn bounds(p: &Problem) -> Bounds {
    let loads: u64 = p.sources.iter().map(|s| s.loads).sum();
    if loads == 0 {
        return Bounds { flow_ms: 0, per_source_ms: 0, far_ms: 0, crossing_ms: 0, fleet_ms: 0, gates_ms: 0, transship_ms: 0 };
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
    let (fleet_ms, gates_ms) = (fleet_bound(p), gates_bound(p));
    let floor = [flow_ms, per_source_ms, far_ms, crossing_ms, fleet_ms, gates_ms].into_iter().map(finite).max().unwrap_or(0);
    // Kept arcs: every arc on small networks (the time-expanded network
    // of whole slots); the exits' arcs and the densest cuts' everywhere.
    let net = p.net;
    let mut keep: Vec<bool> = (0..net.arc_count()).map(|a| net.sink[net.head[a] as usize]).collect();
    for (side, _) in &cuts {
        for a in 0..net.arc_count() {
            if side[net.tail[a] as usize] && !side[net.head[a] as usize] {
                keep[a] = true;
            }
        }
    }
    // When some bound already says no plan completes (the known windows
    // cannot carry everyone), nothing is left to tighten.
    let settled = [flow_ms, per_source_ms, far_ms, crossing_ms, fleet_ms, gates_ms].contains(&u64::MAX);
    let mut transship_ms = if settled { 0 } else { transshipment_bound(p, &all, &keep, floor) };
    if !settled && net.arc_count() <= SMALL_ARCS {
        transship_ms = transship_ms.max(transshipment_bound(p, &all, &vec![true; net.arc_count()], floor));
    }
    Bounds { flow_ms, per_source_ms, far_ms, crossing_ms, fleet_ms, gates_ms, transship_ms }
}

/// Networks of at most this many arcs are bounded with every arc's
/// capacity kept too.
const SMALL_ARCS: usize = 200;

/// Most nodes of a time-expanded network [`transshipment_bound`] builds.
const MAX_EXPANDED_NODES: usize = 4_000_000;

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
        let release = start_or_ready(p, i);
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
        g.add(ss, s.node as usize, f64::INFINITY, (start_or_ready(p, i) / slot) as i64);
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
            g.cap[e ^ 1] * (t.saturating_sub(start_or_ready(p, i) / slot)) as f64
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
    let earliest = (0..p.sources.len()).filter(|&i| in_family(&&p.sources[i]) && p.sources[i].loads > 0).map(|i| start_or_ready(p, i)).min().unwrap_or(0);
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

/// The earliest instant a load of source `i` may leave its node in the
/// planner's model: its people ready and boarded, and without a fleet
/// that is `ready + load`; with a fleet, the planner starts a source when
/// its first vehicle can be there loaded, but not before its people are
/// ready (`max(vehicle ready + repositioning + load, ready)`, which may be
/// before `ready + load`). `None`: no vehicle of its class can reach it.
pub fn start_ms(p: &Problem, i: usize) -> Option<u64> {
    let s = &p.sources[i];
    match &p.fleet {
        None => Some(s.ready_ms + s.load_ms),
        Some(fleet) => fleet
            .iter()
            .filter(|v| v.class == s.class)
            .filter_map(|v| {
                let m = if v.at == s.node { Some(0) } else { p.reposition_ms.get(&(v.at, s.node)).copied() }?;
                Some((v.ready_ms + m + s.load_ms).max(s.ready_ms))
            })
            .min(),
    }
}

/// [`start_ms`], or when its people are ready where no vehicle can come
/// (there is no plan then).
fn start_or_ready(p: &Problem, i: usize) -> u64 {
    start_ms(p, i).unwrap_or(p.sources[i].ready_ms)
}

/// Reverse Dijkstra on the arcs `usable` allows, from `targets` (at 0):
/// the free-flow time from every node to the nearest target.
fn reverse_dijkstra(net: &FlowNet, first_in: &[u32], arcs_in: &[u32], targets: &[u32], usable: &[bool], dist: &mut Vec<u64>) {
    use std::cmp::Reverse;
    dist.clear();
    dist.resize(net.node_count(), u64::MAX);
    let mut heap = std::collections::BinaryHeap::new();
    for &t in targets {
        dist[t as usize] = 0;
        heap.push(Reverse((0u64, t)));
    }
    while let Some(Reverse((d, v))) = heap.pop() {
        if d > dist[v as usize] {
            continue;
        }
        for &a in &arcs_in[first_in[v as usize] as usize..first_in[v as usize + 1] as usize] {
            if !usable[a as usize] {
                continue;
            }
            let u = net.tail[a as usize];
            let nd = d + u64::from(net.transit_ms[a as usize]);
            if nd < dist[u as usize] {
                dist[u as usize] = nd;
                heap.push(Reverse((nd, u)));
            }
        }
    }
}

/// The quickest transshipment of a relaxation that keeps the capacity of
/// the arcs `keep` only: every load of `which` leaves its source no sooner
/// than [`start_ms`], crosses kept arcs in slots that each admit the arc's
/// [`FlowNet::slot_cap`] (none where a gate is closed the whole slot), and
/// between them, and to the first and after the last, travels the other
/// arcs at free-flow speed, as many together as it likes.
///
/// Every plan is a flow of it: a route's kept arcs `b₁ … b_m`, entered at
/// `e_j` in slot `k_j = ⌊e_j/s⌋`, have `e₁ ≥ start + d(source, tail b₁)`
/// and `e_{j+1} ≥ e_j + τ_{b_j} + d(head b_j, tail b_{j+1}) ≥ k_j·s + …`
/// (`d`: free-flow time on arcs that are not kept), so `k_{j+1} ≥
/// ⌊(k_j·s + τ_{b_j} + d)/s⌋`, and it arrives no sooner than
/// `k_m·s + τ_{b_m} + d(head b_m, exit)` (or `start + d(source, exit)`
/// without a kept arc). Each slot of a kept arc is a node of a network
/// (with waiting: a later slot of the same arc), the sources feed it with
/// their loads, and the earliest completion `C` at which a maximum flow
/// carries every load is a bound on every plan. Entry times are known to
/// a slot at each kept arc, so the fewer kept arcs a route crosses, the
/// tighter; keeping every arc gives the time-expanded network of whole
/// slots, exact when travel times are whole slots.
///
/// Gates are relaxed to slots; families are relaxed to the arcs some
/// family of `which` may use. `floor` is a completion known not to be
/// beaten (the search starts there); the result is at least `floor`.
pub fn transshipment_bound(p: &Problem, which: &[usize], keep: &[bool], floor: u64) -> u64 {
    let net = p.net;
    let slot = p.slot_ms.max(1);
    let mut fams = 0u64;
    for &i in which {
        fams |= 1u64 << (p.sources[i].family % 64);
    }
    let usable: Vec<bool> = (0..net.arc_count())
        .map(|a| net.cap_vph[a] > 0 && !net.sink[net.tail[a] as usize] && net.families[a] & fams != 0)
        .collect();
    let kept: Vec<usize> = (0..net.arc_count()).filter(|&a| keep[a] && usable[a]).collect();
    let free: Vec<bool> = (0..net.arc_count()).map(|a| usable[a] && !keep[a]).collect();
    // Sources that can leave, merged per node and start.
    let mut srcs: Vec<(u32, u64, u64)> = which
        .iter()
        .filter(|&&i| p.sources[i].loads > 0)
        .filter_map(|&i| start_ms(p, i).map(|t| (p.sources[i].node, t, p.sources[i].loads)))
        .collect();
    srcs.sort_unstable();
    srcs.dedup_by(|a, b| {
        if a.0 == b.0 && a.1 == b.1 {
            b.2 += a.2;
            true
        } else {
            false
        }
    });
    let demand: u64 = srcs.iter().map(|s| s.2).sum();
    if demand == 0 {
        return floor;
    }
    let (first_in, arcs_in) = net.reverse_index();
    // Free-flow times over the whole network (usable arcs): to an exit,
    // and from the sources (for each kept arc, the earliest it can be
    // entered by anyone, a floor on its slots).
    let all_sinks: Vec<u32> = (0..net.node_count() as u32).filter(|&v| net.sink[v as usize]).collect();
    let mut to_exit_full = Vec::new();
    reverse_dijkstra(net, &first_in, &arcs_in, &all_sinks, &usable, &mut to_exit_full);
    let earliest = {
        use std::cmp::Reverse;
        let mut dist = vec![u64::MAX; net.node_count()];
        let mut heap = std::collections::BinaryHeap::new();
        for &(v, t, _) in &srcs {
            if t < dist[v as usize] {
                dist[v as usize] = t;
                heap.push(Reverse((t, v)));
            }
        }
        while let Some(Reverse((d, u))) = heap.pop() {
            if d > dist[u as usize] || net.sink[u as usize] {
                continue;
            }
            for a in net.arcs_of(u) {
                if !usable[a] {
                    continue;
                }
                let v = net.head[a];
                let nd = d + u64::from(net.transit_ms[a]);
                if nd < dist[v as usize] {
                    dist[v as usize] = nd;
                    heap.push(Reverse((nd, v)));
                }
            }
        }
        dist
    };
    // Free-flow times on the arcs not kept: to an exit, and to each kept
    // arc's tail (one search per distinct tail).
    let mut to_exit_free = Vec::new();
    reverse_dijkstra(net, &first_in, &arcs_in, &all_sinks, &free, &mut to_exit_free);
    let mut tails: Vec<u32> = kept.iter().map(|&a| net.tail[a]).collect();
    tails.sort_unstable();
    tails.dedup();
    let nb = kept.len();
    // Per kept arc: the least time from entering it to an exit (any
    // route), its slots' floor, and its way on to an exit without a kept arc.
    let rest: Vec<u64> = kept.iter().map(|&a| u64::from(net.transit_ms[a]).saturating_add(to_exit_full[net.head[a] as usize])).collect();
    let kmin: Vec<u64> = kept.iter().map(|&a| earliest[net.tail[a] as usize] / slot).collect();
    let direct: Vec<u64> = kept.iter().map(|&a| u64::from(net.transit_ms[a]).saturating_add(to_exit_free[net.head[a] as usize])).collect();
    let mut src_edges: Vec<Vec<(u32, u64)>> = vec![Vec::new(); srcs.len()];
    let mut succ: Vec<Vec<(u32, u64)>> = vec![Vec::new(); nb];
    let mut by_tail: Vec<Vec<usize>> = vec![Vec::new(); tails.len()];
    for (j, &a) in kept.iter().enumerate() {
        by_tail[tails.binary_search(&net.tail[a]).expect("a tail")].push(j);
    }
    let mut dist = Vec::new();
    for (ti, &t) in tails.iter().enumerate() {
        reverse_dijkstra(net, &first_in, &arcs_in, &[t], &free, &mut dist);
        for (w, &(v, start, _)) in srcs.iter().enumerate() {
            let d = dist[v as usize];
            if d != u64::MAX {
                for &j in &by_tail[ti] {
                    src_edges[w].push((j as u32, start + d));
                }
            }
        }
        for (i, &a) in kept.iter().enumerate() {
            let d = dist[net.head[a] as usize];
            if d != u64::MAX && !net.sink[net.head[a] as usize] {
                for &j in &by_tail[ti] {
                    succ[i].push((j as u32, u64::from(net.transit_ms[a]) + d));
                }
            }
        }
    }
    // Sources that reach no kept arc and no exit: no plan in the relaxation.
    for (w, &(v, _, _)) in srcs.iter().enumerate() {
        if src_edges[w].is_empty() && to_exit_free[v as usize] == u64::MAX {
            return floor;
        }
    }
    let te = TimeExpanded { p, slot, kept: &kept, srcs: &srcs, src_edges: &src_edges, succ: &succ, rest: &rest, kmin: &kmin, direct: &direct, to_exit_free: &to_exit_free, demand };
    te.quickest(floor)
}

/// The network of [`transshipment_bound`], for completions up to some
/// horizon, with each arc's enabling time (the least completion at which
/// it may carry flow).
struct TimeExpanded<'a, 'p> {
    p: &'a Problem<'p>,
    slot: u64,
    kept: &'a [usize],
    srcs: &'a [(u32, u64, u64)],
    src_edges: &'a [Vec<(u32, u64)>],
    succ: &'a [Vec<(u32, u64)>],
    rest: &'a [u64],
    kmin: &'a [u64],
    direct: &'a [u64],
    to_exit_free: &'a [u64],
    demand: u64,
}

struct Built {
    g: crate::maxflow::MaxFlow,
    /// (enabling time, arc, capacity), by enabling time.
    gated: Vec<(u64, usize, u64)>,
}

impl TimeExpanded<'_, '_> {
    /// The network for completions up to `hi` (None: larger than
    /// [`MAX_EXPANDED_NODES`]).
    fn build(&self, hi: u64) -> Option<Built> {
        let net = self.p.net;
        let s = self.slot;
        // Slots of each kept arc that can still reach an exit by `hi`.
        let mut base = Vec::with_capacity(self.kept.len());
        let mut nodes = 2 + self.srcs.len();
        let kmax: Vec<Option<u64>> = (0..self.kept.len())
            .map(|j| hi.checked_sub(self.rest[j]).map(|x| x / s).filter(|&k| k >= self.kmin[j]))
            .collect();
        for j in 0..self.kept.len() {
            base.push(nodes);
            if let Some(k) = kmax[j] {
                nodes = nodes.saturating_add(2 * (k - self.kmin[j] + 1) as usize);
            }
        }
        if nodes > MAX_EXPANDED_NODES {
            return None;
        }
        let q = |j: usize, k: u64| base[j] + 2 * (k - self.kmin[j]) as usize;
        let enable = |j: usize, k: u64| (k * s).saturating_add(self.rest[j]);
        let mut g = crate::maxflow::MaxFlow::new(nodes);
        let mut gated = Vec::new();
        let inf = self.demand;
        let (ss, tt) = (0, 1);
        let mut add = |g: &mut crate::maxflow::MaxFlow, u: usize, v: usize, cap: u64, at: u64| {
            if cap > 0 {
                let e = g.add(u, v, 0);
                gated.push((at, e, cap));
            }
        };
        for (w, &(v, start, loads)) in self.srcs.iter().enumerate() {
            g.add(ss, 2 + w, loads);
            let d = self.to_exit_free[v as usize];
            if d != u64::MAX {
                add(&mut g, 2 + w, tt, inf, start + d);
            }
            for &(j, e) in &self.src_edges[w] {
                let j = j as usize;
                let k = (e / s).max(self.kmin[j]);
                if kmax[j].is_some_and(|m| k <= m) {
                    add(&mut g, 2 + w, q(j, k), inf, enable(j, k));
                }
            }
        }
        for (j, &a) in self.kept.iter().enumerate() {
            let Some(m) = kmax[j] else { continue };
            for k in self.kmin[j]..=m {
                let at = enable(j, k);
                if k < m {
                    add(&mut g, q(j, k), q(j, k + 1), inf, enable(j, k + 1));
                }
                let open = k * s < self.p.horizon_ms && net.next_open(a, k * s).is_some_and(|t| t < (k + 1) * s);
                if open {
                    add(&mut g, q(j, k), q(j, k) + 1, u64::from(net.slot_cap(a, k, s)), at);
                }
                let x = q(j, k) + 1;
                if self.direct[j] != u64::MAX {
                    add(&mut g, x, tt, inf, (k * s).saturating_add(self.direct[j]));
                }
                for &(i, d) in &self.succ[j] {
                    let i = i as usize;
                    let k2 = ((k * s + d) / s).max(self.kmin[i]);
                    if kmax[i].is_some_and(|m2| k2 <= m2) {
                        add(&mut g, x, q(i, k2), inf, enable(i, k2));
                    }
                }
            }
        }
        gated.sort_unstable();
        Some(Built { g, gated })
    }

    /// The least completion at which every load fits, at least `floor`.
    fn quickest(&self, floor: u64) -> u64 {
        let s = self.slot;
        // A first horizon: the floor and a few hours more, doubled until
        // every load fits.
        let mut hi = floor.max(s).saturating_mul(2).max(floor + 4 * 3_600_000);
        loop {
            let Some(mut b) = self.build(hi) else { return floor };
            let (ss, tt) = (0, 1);
            // Raise the completion from the floor by a slot, then by twice
            // as much each time (galloping), enabling arcs and augmenting
            // the flow found so far; the network is copied only at those
            // O(log) steps, never once per slot.
            let mut next = 0;
            let mut flow = 0;
            let mut c = floor;
            let mut step = s;
            let mut before = None;
            loop {
                while next < b.gated.len() && b.gated[next].0 <= c {
                    let (_, e, cap) = b.gated[next];
                    b.g.set_cap(e, cap);
                    next += 1;
                }
                flow += b.g.run(ss, tt);
                if flow >= self.demand {
                    break;
                }
                if c >= hi {
                    break;
                }
                before = Some((b.g.clone(), next, flow));
                c = c.saturating_add(step).min(hi);
                step = step.saturating_mul(2);
            }
            if flow < self.demand {
                if hi > self.p.horizon_ms.saturating_add(24 * 3_600_000) {
                    return floor;
                }
                hi = hi.saturating_mul(2);
                continue;
            }
            let Some((g0, next0, flow0)) = before else { return c };
            // The least enabling time since the last step at which the flow
            // fits (it fits at `c`, not at the step before).
            let times: Vec<u64> = b.gated[next0..next].iter().map(|x| x.0).collect();
            if times.is_empty() {
                return c;
            }
            let (mut lo, mut hi_i) = (0usize, times.len() - 1);
            // times[hi_i] <= c is feasible; find the first feasible index.
            while lo < hi_i {
                let mid = (lo + hi_i) / 2;
                let mut g = g0.clone();
                for &(_, e, cap) in b.gated[next0..].iter().take_while(|x| x.0 <= times[mid]) {
                    g.set_cap(e, cap);
                }
                if flow0 + g.run(ss, tt) >= self.demand {
                    hi_i = mid;
                } else {
                    lo = mid + 1;
                }
            }
            return times[lo];
        }
    }
}
