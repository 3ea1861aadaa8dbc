//! Maximum flow (Dinic 1970): blocking flows on the BFS level graph, with
//! integer capacities. The bound's densest-cut search runs it once per
//! candidate ratio, and its quickest transshipment once per candidate
//! completion, augmenting the flow found for the one before (see
//! `bound::transshipment_bound`).

/// A flow network with residual capacities; arc `e ^ 1` is `e`'s reverse.
#[derive(Debug, Clone, Default)]
pub struct MaxFlow {
    head: Vec<u32>,
    cap: Vec<u64>,
    first: Vec<u32>,
    next: Vec<u32>,
}

const END: u32 = u32::MAX;

impl MaxFlow {
    pub fn new(nodes: usize) -> Self {
        MaxFlow { first: vec![END; nodes], ..Default::default() }
    }

    pub fn node_count(&self) -> usize {
        self.first.len()
    }

    /// Adds an arc `u → v` of capacity `cap`; returns its index (for
    /// [`MaxFlow::set_cap`] and [`MaxFlow::flow`]).
    pub fn add(&mut self, u: usize, v: usize, cap: u64) -> usize {
        let e = self.head.len();
        for (from, to, c) in [(u, v, cap), (v, u, 0)] {
            self.head.push(to as u32);
            self.cap.push(c);
            self.next.push(self.first[from]);
            self.first[from] = self.next.len() as u32 - 1;
        }
        e
    }

    /// Resets arc `e` to capacity `cap` and no flow.
    pub fn set_cap(&mut self, e: usize, cap: u64) {
        self.cap[e] = cap;
        self.cap[e ^ 1] = 0;
    }

    /// The flow on arc `e` (what its reverse holds).
    pub fn flow(&self, e: usize) -> u64 {
        self.cap[e ^ 1]
    }

    /// Pushes as much flow as the residual capacities allow from `s` to `t`;
    /// returns how much was pushed.
    pub fn run(&mut self, s: usize, t: usize) -> u64 {
        let n = self.node_count();
        let mut total = 0u64;
        let mut level = vec![u32::MAX; n];
        let mut it = vec![END; n];
        let mut queue = Vec::with_capacity(n);
        loop {
            level.fill(u32::MAX);
            level[s] = 0;
            queue.clear();
            queue.push(s as u32);
            let mut q = 0;
            while q < queue.len() {
                let u = queue[q] as usize;
                q += 1;
                let mut e = self.first[u];
                while e != END {
                    let v = self.head[e as usize] as usize;
                    if self.cap[e as usize] > 0 && level[v] == u32::MAX {
                        level[v] = level[u] + 1;
                        queue.push(v as u32);
                    }
                    e = self.next[e as usize];
                }
            }
            if level[t] == u32::MAX {
                return total;
            }
            it.copy_from_slice(&self.first);
            loop {
                let f = self.blocking_path(s, t, &level, &mut it);
                if f == 0 {
                    break;
                }
                total = total.saturating_add(f);
            }
        }
    }

    /// One augmenting path in the level graph (iterative DFS with the
    /// current-arc pointers `it`), and the flow pushed along it.
    fn blocking_path(&mut self, s: usize, t: usize, level: &[u32], it: &mut [u32]) -> u64 {
        let mut path: Vec<u32> = Vec::new();
        let mut u = s;
        loop {
            if u == t {
                let f = path.iter().map(|&e| self.cap[e as usize]).min().unwrap_or(0);
                for &e in &path {
                    self.cap[e as usize] -= f;
                    self.cap[e as usize ^ 1] += f;
                }
                return f;
            }
            let mut advanced = false;
            while it[u] != END {
                let e = it[u] as usize;
                let v = self.head[e] as usize;
                if self.cap[e] > 0 && level[v] == level[u] + 1 && level[v] <= level[t] {
                    path.push(e as u32);
                    u = v;
                    advanced = true;
                    break;
                }
                it[u] = self.next[e];
            }
            if !advanced {
                // Dead end: retreat, and skip the arc that led here.
                let Some(e) = path.pop() else { return 0 };
                u = self.head[e as usize ^ 1] as usize;
                it[u] = self.next[it[u] as usize];
            }
        }
    }

    /// The nodes reachable from `s` in the residual network: after
    /// [`MaxFlow::run`], the source side of a minimum cut.
    pub fn source_side(&self, s: usize) -> Vec<bool> {
        let mut seen = vec![false; self.node_count()];
        let mut stack = vec![s];
        seen[s] = true;
        while let Some(u) = stack.pop() {
            let mut e = self.first[u];
            while e != END {
                let v = self.head[e as usize] as usize;
                if self.cap[e as usize] > 0 && !seen[v] {
                    seen[v] = true;
                    stack.push(v);
                }
                e = self.next[e as usize];
            }
        }
        seen
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_classic_six_node_network() {
        // CLRS figure 26.1: maximum flow 23.
        let mut g = MaxFlow::new(6);
        for (u, v, c) in [(0, 1, 16), (0, 2, 13), (1, 3, 12), (2, 1, 4), (2, 4, 14), (3, 2, 9), (3, 5, 20), (4, 3, 7), (4, 5, 4)] {
            g.add(u, v, c);
        }
        assert_eq!(g.run(0, 5), 23);
        let side = g.source_side(0);
        assert!(side[0] && !side[5]);
        // The cut's capacity equals the flow.
        let cut: u64 = [(0, 1, 16), (0, 2, 13), (1, 3, 12), (2, 1, 4), (2, 4, 14), (3, 2, 9), (3, 5, 20), (4, 3, 7), (4, 5, 4)]
            .iter()
            .filter(|&&(u, v, _)| side[u] && !side[v])
            .map(|&(_, _, c)| c)
            .sum();
        assert_eq!(cut, 23);
    }

    /// Against a brute-force minimum cut over every node subset.
    #[test]
    fn matches_the_minimum_cut_on_random_small_networks() {
        let mut seed = 7u64;
        let mut rnd = |m: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % m
        };
        for _ in 0..300 {
            let n = 2 + rnd(6) as usize;
            let arcs: Vec<(usize, usize, u64)> = (0..rnd(16)).map(|_| (rnd(n as u64) as usize, rnd(n as u64) as usize, rnd(10))).collect();
            let mut g = MaxFlow::new(n);
            for &(u, v, c) in &arcs {
                g.add(u, v, c);
            }
            let f = g.run(0, n - 1);
            let best = (0..1u32 << n)
                .filter(|m| m & 1 == 1 && m >> (n - 1) & 1 == 0)
                .map(|m| arcs.iter().filter(|&&(u, v, _)| m >> u & 1 == 1 && m >> v & 1 == 0).map(|a| a.2).sum::<u64>())
                .min()
                .unwrap();
            assert_eq!(f, best, "arcs {arcs:?}");
        }
    }
}
