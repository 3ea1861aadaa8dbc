//! Path unpacking with the stored shortcut middles
//! (`corridor_geo::prepare::Middles`), on random grids with many equal
//! travel times (ties are where a middle can be wrong and still look
//! plausible): every route's road arcs chain from its start to its end,
//! their times add up to the route's time, and the path is the one the
//! unpacking by search finds, arc for arc. The network goes through the
//! prepared file first, so the middles tested are those read back.

use corridor_geo::graph::{NetworkMeta, RoadNetwork};
use corridor_geo::{netfile, LatLon, PreparedNetwork, Route, Router};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const CELL: f64 = 100.0 / 111_320.0;

/// A random `w × h` grid: each street missing, one-way or two-way, a few
/// diagonals, every arc 1, 2 or 3 s (many ties).
fn random_grid(rng: &mut StdRng, w: usize, h: usize) -> RoadNetwork {
    let n = w * h;
    let id = |r: usize, c: usize| (r * w + c) as u32;
    let mut arcs: Vec<(u32, u32)> = Vec::new();
    for r in 0..h {
        for c in 0..w {
            let mut link = |u: u32, v: u32, rng: &mut StdRng| match rng.gen_range(0..10) {
                0 => {}
                1 => arcs.push((u, v)),
                2 => arcs.push((v, u)),
                _ => arcs.extend([(u, v), (v, u)]),
            };
            if c + 1 < w {
                link(id(r, c), id(r, c + 1), rng);
            }
            if r + 1 < h {
                link(id(r, c), id(r + 1, c), rng);
            }
            if r + 1 < h && c + 1 < w && rng.gen_bool(0.1) {
                link(id(r, c), id(r + 1, c + 1), rng);
            }
        }
    }
    arcs.sort_by_key(|&(t, _)| t);
    let mut first_out = vec![0u32; n + 1];
    for &(t, _) in &arcs {
        first_out[t as usize + 1] += 1;
    }
    for v in 0..n {
        first_out[v + 1] += first_out[v];
    }
    let m = arcs.len();
    let lat = (0..n).map(|v| 1.0 - (v / w) as f64 * CELL).collect();
    let lon = (0..n).map(|v| 1.0 + (v % w) as f64 * CELL).collect();
    RoadNetwork {
        lat,
        lon,
        first_out,
        tail: arcs.iter().map(|a| a.0).collect(),
        head: arcs.iter().map(|a| a.1).collect(),
        time_ms: (0..m).map(|_| 1000 * rng.gen_range(1..=3)).collect(),
        length_m: vec![100.0; m],
        capacity_vph: vec![600; m],
        class: vec![0; m],
        destination: vec![false; m],
        name: vec![0; m],
        names: vec![String::new()],
        junction: (0..n as u32).collect(),
        meta: NetworkMeta::default(),
    }
}

/// The route's pieces chain and add up to its time.
fn check_route(net: &RoadNetwork, r: &Route, what: &str) {
    let arcs: u64 = r.arcs.iter().map(|&a| u64::from(net.time_ms[a as usize])).sum();
    let part = |x: Option<(u32, f64)>| x.map_or(0, |(a, s)| (s * f64::from(net.time_ms[a as usize])).round() as u64);
    let pieces = arcs + part(r.first_part) + part(r.last_part);
    assert!(pieces.abs_diff(r.time_ms) <= 1, "{what}: time {} but its arcs add up to {pieces}", r.time_ms);
    for w in r.arcs.windows(2) {
        assert_eq!(net.head[w[0] as usize], net.tail[w[1] as usize], "{what}: arcs {w:?} do not chain");
    }
    if let (Some((f, _)), Some(&a)) = (r.first_part, r.arcs.first()) {
        assert_eq!(net.head[f as usize], net.tail[a as usize], "{what}: the first arc does not leave the start's segment");
    }
    if let (Some(&a), Some((l, _))) = (r.arcs.last(), r.last_part) {
        assert_eq!(net.head[a as usize], net.tail[l as usize], "{what}: the last arc does not reach the end's segment");
    }
}

fn check(seed: u64) -> usize {
    let mut rng = StdRng::seed_from_u64(seed);
    let (w, h) = (rng.gen_range(2..=12), rng.gen_range(2..=12));
    let net = random_grid(&mut rng, w, h);
    let bytes = netfile::to_bytes(&PreparedNetwork::prepare(net));
    let mut router = Router::new(netfile::from_bytes(&bytes, "grid.cnet").unwrap());
    let mut st = router.new_state();
    let n = router.network().node_count();
    let at = |net: &RoadNetwork, v: usize| LatLon::new(net.lat[v], net.lon[v]);
    let mut routes = Vec::new();
    for i in 0..30 {
        let net = router.network();
        let (s, t) = (rng.gen_range(0..n), rng.gen_range(0..n));
        // Nodes, and points part-way along segments.
        let jitter = |p: LatLon, rng: &mut StdRng| LatLon::new(p.lat + rng.gen_range(-0.3..0.3) * CELL, p.lon + rng.gen_range(-0.3..0.3) * CELL);
        let (from, to) = if i % 2 == 0 { (at(net, s), at(net, t)) } else { (jitter(at(net, s), &mut rng), jitter(at(net, t), &mut rng)) };
        if let Ok(r) = router.route(&mut st, from, to) {
            check_route(net, &r, &format!("seed {seed} {w}×{h} route {i}"));
            routes.push((from, to, r));
        }
    }
    // The same routes unpacked by searching the lower triangles.
    router.set_stored_middles(false);
    for (i, (from, to, r)) in routes.iter().enumerate() {
        let searched = router.route(&mut st, *from, *to).unwrap();
        assert_eq!(&searched, r, "seed {seed} {w}×{h} route {i}: the stored middles give another path than the search");
    }
    routes.len()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() })]
    #[test]
    fn unpacked_paths_add_up_and_equal_the_search(seed in any::<u64>()) {
        check(seed);
    }
}

/// Enough routes are checked on a few fixed seeds (not all unreachable).
#[test]
fn routes_are_checked() {
    let total: usize = (0..20).map(check).sum();
    assert!(total > 200, "{total}");
}

/// The middles go through the prepared file unchanged, and a file of the
/// previous format (3, without them) is refused as stale.
#[test]
fn middles_round_trip_and_format_3_is_refused() {
    let mut rng = StdRng::seed_from_u64(22);
    let p = PreparedNetwork::prepare(random_grid(&mut rng, 9, 7));
    assert!(p.middles.arcs.iter().any(|r| r[0] != corridor_geo::prepare::MIDDLE_NONE), "a 9×7 grid has shortcuts");
    let bytes = netfile::to_bytes(&p);
    let q = netfile::from_bytes(&bytes, "grid.cnet").unwrap();
    assert_eq!(p.middles, q.middles);
    assert_eq!(p.middles, corridor_geo::prepare::Middles::compute(&q.cch, &q.base_metric));
    let mut old = bytes.clone();
    old[16..20].copy_from_slice(&3u32.to_le_bytes());
    let e = netfile::from_bytes(&old, "grid.cnet").unwrap_err().to_string();
    assert!(e.contains("version 3") && e.contains("stale") && e.contains("corridor import"), "{e}");
}
