//! The planner's network: directed arcs with a transit time, a capacity in
//! vehicles per hour, and optionally a gate (time intervals in which a
//! vehicle may enter the arc: a corridor's truce windows).
//!
//! Two kinds are built: from a whole road network (every road arc, its
//! travel time and capacity: grid cities, OpenStreetMap extracts, the
//! Aleppo district network), and from a scenario's corridors (one node per
//! site, checkpoint and destination; arcs for the road pieces between them
//! and for each checkpoint's counting, see `scenario`).

use corridor_geo::RoadNetwork;

pub const NONE: u32 = u32::MAX;

/// A directed network in CSR form.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FlowNet {
    pub first_out: Vec<u32>,
    pub head: Vec<u32>,
    pub tail: Vec<u32>,
    pub transit_ms: Vec<u32>,
    /// Vehicles per hour that may enter the arc.
    pub cap_vph: Vec<u32>,
    /// Index into `gates`, or [`NONE`] for an arc open at all times.
    pub gate: Vec<u32>,
    /// Sorted, disjoint `[start, end)` intervals (ms) in which the arc may be entered.
    pub gates: Vec<Vec<(u64, u64)>>,
    /// Which families of sources may use the arc (bit f for family f).
    pub families: Vec<u64>,
    pub sink: Vec<bool>,
}

/// An arc as given to [`FlowNet::build`].
#[derive(Debug, Clone, PartialEq)]
pub struct ArcSpec {
    pub tail: u32,
    pub head: u32,
    pub transit_ms: u32,
    pub cap_vph: u32,
    pub gate: Option<Vec<(u64, u64)>>,
    pub families: u64,
}

impl FlowNet {
    /// Builds the CSR from a list of arcs; `sinks` are the exits.
    pub fn build(nodes: usize, arcs: &[ArcSpec], sinks: &[u32]) -> FlowNet {
        let mut order: Vec<usize> = (0..arcs.len()).collect();
        order.sort_by_key(|&i| (arcs[i].tail, arcs[i].head, i));
        let mut net = FlowNet { first_out: vec![0; nodes + 1], sink: vec![false; nodes], ..Default::default() };
        for &i in &order {
            let a = &arcs[i];
            net.first_out[a.tail as usize + 1] += 1;
            net.tail.push(a.tail);
            net.head.push(a.head);
            net.transit_ms.push(a.transit_ms.max(1));
            net.cap_vph.push(a.cap_vph);
            net.families.push(a.families);
            match &a.gate {
                Some(g) => {
                    net.gate.push(net.gates.len() as u32);
                    net.gates.push(g.clone());
                }
                None => net.gate.push(NONE),
            }
        }
        for v in 0..nodes {
            net.first_out[v + 1] += net.first_out[v];
        }
        for &s in sinks {
            net.sink[s as usize] = true;
        }
        net
    }

    /// Every road arc of a network, its travel time and capacity, open to
    /// every family at all times.
    pub fn from_roads(roads: &RoadNetwork, sinks: &[u32]) -> FlowNet {
        FlowNet {
            first_out: roads.first_out.clone(),
            head: roads.head.clone(),
            tail: roads.tail.clone(),
            transit_ms: roads.time_ms.iter().map(|&t| t.max(1)).collect(),
            cap_vph: roads.capacity_vph.clone(),
            gate: vec![NONE; roads.arc_count()],
            gates: Vec::new(),
            families: vec![u64::MAX; roads.arc_count()],
            sink: {
                let mut s = vec![false; roads.node_count()];
                for &v in sinks {
                    s[v as usize] = true;
                }
                s
            },
        }
    }

    pub fn node_count(&self) -> usize {
        self.first_out.len() - 1
    }
    pub fn arc_count(&self) -> usize {
        self.head.len()
    }
    pub fn arcs_of(&self, v: u32) -> std::ops::Range<usize> {
        self.first_out[v as usize] as usize..self.first_out[v as usize + 1] as usize
    }

    /// Vehicles that may enter arc `a` in slot `k` of `slot_ms`: the
    /// hourly capacity spread exactly over the slots (a fractional rate
    /// alternates between floor and ceiling).
    pub fn slot_cap(&self, a: usize, k: u64, slot_ms: u64) -> u32 {
        let c = u128::from(self.cap_vph[a]) * u128::from(slot_ms);
        let upto = |k: u64| (u128::from(k) * c / 3_600_000) as u64;
        (upto(k + 1) - upto(k)) as u32
    }

    /// Whether arc `a` may be entered at time `t`, and if not, the next
    /// time it may (None: never again).
    pub fn next_open(&self, a: usize, t: u64) -> Option<u64> {
        let g = self.gate[a];
        if g == NONE {
            return Some(t);
        }
        self.gates[g as usize].iter().find(|&&(_, e)| t < e).map(|&(s, _)| s.max(t))
    }

    /// Plain Dijkstra on transit times from `s` (no capacities, no gates):
    /// the free-flow time to every node, `u64::MAX` where unreachable.
    pub fn free_flow_from(&self, s: u32, reverse: bool) -> Vec<u64> {
        use std::cmp::Reverse;
        let n = self.node_count();
        let mut dist = vec![u64::MAX; n];
        // Reverse search needs incoming arcs.
        let rev = reverse.then(|| self.reverse_index());
        let mut heap = std::collections::BinaryHeap::new();
        dist[s as usize] = 0;
        heap.push(Reverse((0u64, s)));
        while let Some(Reverse((d, u))) = heap.pop() {
            if d > dist[u as usize] {
                continue;
            }
            let mut relax = |a: usize, v: u32| {
                let nd = d + u64::from(self.transit_ms[a]);
                if nd < dist[v as usize] {
                    dist[v as usize] = nd;
                    heap.push(Reverse((nd, v)));
                }
            };
            match &rev {
                Some((first_in, arcs_in)) => {
                    for &a in &arcs_in[first_in[u as usize] as usize..first_in[u as usize + 1] as usize] {
                        relax(a as usize, self.tail[a as usize]);
                    }
                }
                None => {
                    for a in self.arcs_of(u) {
                        relax(a, self.head[a]);
                    }
                }
            }
        }
        dist
    }

    /// Free-flow time (transit times only, no capacities or gates) from
    /// every node to the nearest exit, `u64::MAX` where no exit is
    /// reachable; arcs out of an exit are not used (routes end there), nor
    /// arcs of no capacity (no vehicle ever enters them).
    pub fn free_flow_to_exits(&self, first_in: &[u32], arcs_in: &[u32]) -> Vec<u64> {
        use std::cmp::Reverse;
        let n = self.node_count();
        let mut dist = vec![u64::MAX; n];
        let mut heap = std::collections::BinaryHeap::new();
        for v in 0..n {
            if self.sink[v] {
                dist[v] = 0;
                heap.push(Reverse((0u64, v as u32)));
            }
        }
        while let Some(Reverse((d, v))) = heap.pop() {
            if d > dist[v as usize] {
                continue;
            }
            for &a in &arcs_in[first_in[v as usize] as usize..first_in[v as usize + 1] as usize] {
                let u = self.tail[a as usize];
                if self.sink[u as usize] || self.cap_vph[a as usize] == 0 {
                    continue;
                }
                let nd = d + u64::from(self.transit_ms[a as usize]);
                if nd < dist[u as usize] {
                    dist[u as usize] = nd;
                    heap.push(Reverse((nd, u)));
                }
            }
        }
        dist
    }

    /// Incoming arcs of every node (CSR).
    pub fn reverse_index(&self) -> (Vec<u32>, Vec<u32>) {
        let n = self.node_count();
        let mut first_in = vec![0u32; n + 1];
        for &h in &self.head {
            first_in[h as usize + 1] += 1;
        }
        for v in 0..n {
            first_in[v + 1] += first_in[v];
        }
        let mut fill = first_in.clone();
        let mut arcs_in = vec![0u32; self.arc_count()];
        for a in 0..self.arc_count() {
            let h = self.head[a] as usize;
            arcs_in[fill[h] as usize] = a as u32;
            fill[h] += 1;
        }
        (first_in, arcs_in)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_capacity_spreads_a_fractional_rate_exactly() {
        let arcs = [ArcSpec { tail: 0, head: 1, transit_ms: 10, cap_vph: 25, gate: None, families: 1 }];
        let net = FlowNet::build(2, &arcs, &[1]);
        // 25 vehicles/hour in 60 s slots: 25 in every 60 slots.
        let total: u32 = (0..60).map(|k| net.slot_cap(0, k, 60_000)).sum();
        assert_eq!(total, 25);
        assert!((0..600).all(|k| net.slot_cap(0, k, 60_000) <= 1));
        let total: u32 = (0..600).map(|k| net.slot_cap(0, k, 60_000)).sum();
        assert_eq!(total, 250);
    }

    #[test]
    fn gates_give_the_next_open_instant() {
        let arcs = [ArcSpec { tail: 0, head: 1, transit_ms: 10, cap_vph: 60, gate: Some(vec![(100, 200), (500, 600)]), families: 1 }];
        let net = FlowNet::build(2, &arcs, &[1]);
        assert_eq!(net.next_open(0, 0), Some(100));
        assert_eq!(net.next_open(0, 150), Some(150));
        assert_eq!(net.next_open(0, 200), Some(500));
        assert_eq!(net.next_open(0, 600), None);
    }
}
