//! Turn restrictions on random small networks: every route the router
//! finds on the network with its restrictions built in (junctions split,
//! `corridor_geo::turns::split_turns`) equals the turn-aware Dijkstra on
//! the network without them (`common::TurnOracle`, written apart from the
//! split), every "no route" is one for it too, and every turn a route
//! takes is allowed.

mod common;
use corridor_geo::graph::{NetworkBuilder, NetworkMeta};
use corridor_geo::turns::{split_turns, Restriction};
use corridor_geo::{LatLon, PreparedNetwork, Router};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const CELL: f64 = 100.0 / 111_320.0;

fn tags(oneway: &str) -> Vec<(String, String)> {
    vec![("highway".into(), "residential".into()), ("oneway".into(), oneway.into())]
}

/// A random `k × k` grid of streets (each its own way, some one-way, some
/// missing, a few diagonals) with random `no_*`/`only_*` restrictions;
/// checks random routes against the oracle. Returns how many routes were
/// compared and how many had no route.
fn check(seed: u64) -> (usize, usize) {
    let mut rng = StdRng::seed_from_u64(seed);
    let k = rng.gen_range(3..=6usize);
    let id = |r: usize, c: usize| (r * k + c + 1) as i64;
    let pos = |r: usize, c: usize| (1.0 - r as f64 * CELL + (c as f64 * 0.13).sin() * CELL * 0.2, 1.0 + c as f64 * CELL + (r as f64 * 0.29).cos() * CELL * 0.2);
    let mut b = NetworkBuilder::new();
    // Ways: (way id, node a, node b).
    let mut ways: Vec<(i64, i64, i64)> = Vec::new();
    for r in 0..k {
        for c in 0..k {
            let mut link = |r2: usize, c2: usize, rng: &mut StdRng| {
                if rng.gen_bool(0.15) {
                    return;
                }
                let oneway = ["no", "no", "yes", "-1"][rng.gen_range(0..4)];
                let (p, q) = (pos(r, c), pos(r2, c2));
                let w = 10_000 + ways.len() as i64;
                b.add_osm_way(w, &[(id(r, c), p.0, p.1), (id(r2, c2), q.0, q.1)], &tags(oneway), 1.0);
                ways.push((w, id(r, c), id(r2, c2)));
            };
            if c + 1 < k {
                link(r, c + 1, &mut rng);
            }
            if r + 1 < k {
                link(r + 1, c, &mut rng);
            }
            if r + 1 < k && c + 1 < k && rng.gen_bool(0.1) {
                link(r + 1, c + 1, &mut rng);
            }
        }
    }
    // Restrictions at random junctions between random ways there (u-turns included).
    for i in 0..rng.gen_range(0..=2 * k * k) {
        let v = id(rng.gen_range(0..k), rng.gen_range(0..k));
        let at: Vec<i64> = ways.iter().filter(|w| w.1 == v || w.2 == v).map(|w| w.0).collect();
        if at.is_empty() {
            continue;
        }
        let from = at[rng.gen_range(0..at.len())];
        let to = at[rng.gen_range(0..at.len())];
        b.add_restriction(Restriction { id: i as i64, only: rng.gen_bool(0.3), from: vec![from], via: v, to: vec![to] });
    }
    let Ok((net0, rules)) = b.finish_parts(NetworkMeta::default()) else { return (0, 0) };
    if net0.arc_count() == 0 {
        // No cycle at all: the largest component is one node.
        return (0, 0);
    }
    let oracle = common::TurnOracle::new(&net0, &rules);
    let split = split_turns(net0.clone(), &rules);
    // Copies sit where their junctions are; the junction map points home.
    for v in 0..split.node_count() {
        let j = split.junction[v] as usize;
        assert!(j < net0.node_count() && (split.lat[v], split.lon[v]) == (net0.lat[j], net0.lon[j]));
    }
    let router = Router::new(PreparedNetwork::prepare(split));
    let net = router.network();
    let mut st = router.new_state();
    let (mut compared, mut none) = (0, 0);
    for i in 0..40 {
        let point = |rng: &mut StdRng| {
            let v = rng.gen_range(0..net0.node_count());
            // At a node (a junction) half the time, else near one.
            let m = if rng.gen_bool(0.5) { 0.0 } else { 40.0 / 111_320.0 };
            LatLon::new(net0.lat[v] + rng.gen_range(-m..=m), net0.lon[v] + rng.gen_range(-m..=m))
        };
        let (p, q) = (point(&mut rng), point(&mut rng));
        let (fs, ts) = (router.snap_candidates(p, "start").unwrap(), router.snap_candidates(q, "destination").unwrap());
        let (want, shares) = oracle.between(&fs, &ts);
        match router.route(&mut st, p, q) {
            Ok(route) => {
                if shares && want.is_none() {
                    // Along the one segment both ends share, which the oracle does not drive.
                    assert!(route.arcs.is_empty() && route.last_part.is_none(), "seed {seed} route {i}");
                    continue;
                }
                let want = want.unwrap_or_else(|| panic!("seed {seed} route {i}: the router finds a route, the oracle none"));
                if shares {
                    assert!(route.time_ms <= want, "seed {seed} route {i}: slower than the oracle");
                } else {
                    assert_eq!(route.time_ms, want, "seed {seed} route {i}: {p} → {q}");
                    compared += 1;
                }
                // Every turn the route takes, on the network without the split, is allowed.
                let to_orig = |a: u32| oracle.arc(net.junction[net.tail[a as usize] as usize], net.junction[net.head[a as usize] as usize]);
                let driven: Vec<u32> = route.first_part.map(|x| x.0).into_iter().chain(route.arcs.iter().copied()).chain(route.last_part.map(|x| x.0)).map(to_orig).collect();
                for w in driven.windows(2) {
                    if w[0] != w[1] || route.arcs.is_empty() {
                        assert!(oracle.allowed(w[0], w[1]) || w[0] == w[1], "seed {seed} route {i}: a forbidden turn {w:?}");
                    }
                }
            }
            Err(e) => {
                assert!(want.is_none(), "seed {seed} route {i}: the oracle finds {want:?}, the router: {e}");
                none += 1;
            }
        }
    }
    (compared, none)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn routes_equal_the_turn_aware_dijkstra(seed in any::<u64>()) {
        check(seed);
    }
}

/// The property test's generator yields real comparisons, not only "no route".
#[test]
fn the_random_networks_are_routable() {
    let (mut compared, mut none) = (0, 0);
    for seed in 0..50 {
        let (c, n) = check(seed);
        compared += c;
        none += n;
    }
    eprintln!("{compared} routes equal the turn-aware Dijkstra, {none} without a route for both");
    assert!(compared > 1000, "{compared} compared, {none} none");
}
