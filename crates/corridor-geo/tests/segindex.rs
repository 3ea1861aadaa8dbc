//! The packed segment index (`corridor_geo::segindex`) against brute
//! force and against the `rstar` R-tree the router used before, on random
//! networks: some with coordinates on a coarse lattice (many exactly equal
//! distances, shared end points, zero-length segments), some anywhere.

use corridor_geo::graph::{NetworkMeta, RoadNetwork};
use corridor_geo::segindex::{SegIndex, NODE_SIZE};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rstar::primitives::{GeomWithData, Line};
use rstar::{PointDistance, RTree, AABB};

const CELL: f64 = 100.0 / 111_320.0;

/// `n` junctions at random lattice points (`lattice`) or anywhere, and
/// random arcs between them (some both ways, some between the same two
/// junctions twice, some from a junction to a junction at the same place).
fn random_net(rng: &mut StdRng, n: usize, arcs: usize, lattice: bool) -> RoadNetwork {
    let coord = |rng: &mut StdRng| if lattice { f64::from(rng.gen_range(0..6)) * CELL } else { rng.gen_range(0.0..6.0 * CELL) };
    let lat: Vec<f64> = (0..n).map(|_| 50.0 + coord(rng)).collect();
    let lon: Vec<f64> = (0..n).map(|_| 7.0 + coord(rng)).collect();
    let mut list: Vec<(u32, u32)> = Vec::new();
    for _ in 0..arcs {
        let (u, v) = (rng.gen_range(0..n as u32), rng.gen_range(0..n as u32));
        if u == v {
            continue;
        }
        list.push((u, v));
        if rng.gen_bool(0.5) {
            list.push((v, u));
        }
    }
    list.sort_by_key(|&(t, _)| t);
    let mut first_out = vec![0u32; n + 1];
    for &(t, _) in &list {
        first_out[t as usize + 1] += 1;
    }
    for v in 0..n {
        first_out[v + 1] += first_out[v];
    }
    let m = list.len();
    RoadNetwork {
        lat,
        lon,
        first_out,
        tail: list.iter().map(|a| a.0).collect(),
        head: list.iter().map(|a| a.1).collect(),
        time_ms: vec![1000; m],
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

type Seg = GeomWithData<Line<[f64; 2]>, u32>;

fn segment(net: &RoadNetwork, ix: &SegIndex, a: u32) -> Line<[f64; 2]> {
    let (u, v) = (net.tail[a as usize] as usize, net.head[a as usize] as usize);
    Line::new(ix.proj.xy(net.lat[u], net.lon[u]), ix.proj.xy(net.lat[v], net.lon[v]))
}

/// Groups a nearest-first list into runs of equal distance, each run's
/// arcs sorted.
fn runs(list: &[(u32, f64)]) -> Vec<(f64, Vec<u32>)> {
    let mut out: Vec<(f64, Vec<u32>)> = Vec::new();
    for &(a, d2) in list {
        match out.last_mut() {
            Some((d, v)) if *d == d2 => v.push(a),
            _ => out.push((d2, vec![a])),
        }
    }
    for (_, v) in &mut out {
        v.sort_unstable();
    }
    out
}

fn check(seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let lattice = rng.gen_bool(0.5);
    let n = rng.gen_range(2..60);
    let arcs = rng.gen_range(1..400);
    let net = random_net(&mut rng, n, arcs, lattice);
    if net.arc_count() == 0 {
        return;
    }
    let ix = SegIndex::new(&net);
    assert!(ix.fits(&net));
    // One segment per pair of junctions, each named by its first arc.
    let mut pairs: Vec<(u32, u32)> = ix.arcs.iter().map(|&a| {
        let (u, v) = (net.tail[a as usize], net.head[a as usize]);
        (u.min(v), u.max(v))
    }).collect();
    pairs.sort_unstable();
    let before = pairs.len();
    pairs.dedup();
    assert_eq!(before, pairs.len(), "a pair of junctions indexed twice");
    for a in 0..net.arc_count() {
        let (u, v) = (net.tail[a], net.head[a]);
        let first = (0..net.arc_count()).find(|&b| (net.tail[b], net.head[b]) == (u, v) || (net.tail[b], net.head[b]) == (v, u)).unwrap();
        assert_eq!(ix.arcs.contains(&(a as u32)), a == first, "arc {a}");
    }
    check_queries(&net, &ix, &mut rng, lattice, seed);
}

/// 20 random queries: nearest-first against brute force and rstar, a
/// limit set part-way, and box queries against rstar.
fn check_queries(net: &RoadNetwork, ix: &SegIndex, rng: &mut StdRng, lattice: bool, seed: u64) {
    let tree: RTree<Seg> = RTree::bulk_load(
        ix.arcs
            .iter()
            .map(|&a| GeomWithData::new(segment(net, ix, a), a))
            .collect(),
    );
    for _ in 0..20 {
        let q = if lattice && rng.gen_bool(0.7) {
            // On the lattice or half-way: exact ties.
            let p = ix.proj.xy(50.0 + f64::from(rng.gen_range(0..12)) * CELL / 2.0, 7.0 + f64::from(rng.gen_range(0..12)) * CELL / 2.0);
            [p[0], p[1]]
        } else {
            ix.proj.xy(50.0 + rng.gen_range(-1.0..7.0) * CELL, 7.0 + rng.gen_range(-1.0..7.0) * CELL)
        };
        let ours: Vec<(u32, f64)> = ix
            .nearest(q)
            .map(|(a, p, r, d2)| {
                let l = segment(net, ix, a);
                assert_eq!((p, r), (l.from, l.to), "geometry of arc {a}");
                (a, d2)
            })
            .collect();
        // Brute force: every segment once, by distance, then arc.
        let mut brute: Vec<(u32, f64)> = ix
            .arcs
            .iter()
            .map(|&a| (a, segment(net, ix, a).distance_2(&q)))
            .collect();
        brute.sort_by(|x, y| x.1.total_cmp(&y.1).then(x.0.cmp(&y.0)));
        assert_eq!(ours, brute, "seed {seed}, query {q:?}");
        // rstar: the same distances, the same segments at each distance.
        let theirs: Vec<(u32, f64)> = tree.nearest_neighbor_iter_with_distance_2(&q).map(|(s, d2)| (s.data, d2)).collect();
        assert_eq!(runs(&ours), runs(&theirs), "seed {seed}, query {q:?}");
        // A limit set after `k` segments (at one of the distances, so
        // that some are exactly at it): the rest up to it, none farther.
        let k = rng.gen_range(0..=brute.len());
        let max_d2 = brute[rng.gen_range(0..brute.len())].1;
        let mut it = ix.nearest(q);
        let mut got: Vec<(u32, f64)> = it.by_ref().take(k).map(|(a, _, _, d2)| (a, d2)).collect();
        it.limit(max_d2);
        got.extend(it.map(|(a, _, _, d2)| (a, d2)));
        let want: Vec<(u32, f64)> = brute
            .iter()
            .enumerate()
            .filter(|&(i, x)| i < k || x.1 <= max_d2)
            .map(|(_, &x)| x)
            .collect();
        assert_eq!(
            got, want,
            "seed {seed}, query {q:?}, limit {max_d2} after {k}"
        );
        // Boxes: the same segments as rstar's envelope query.
        let r = rng.gen_range(0.0..300.0);
        let (lo, hi) = ([q[0] - r, q[1] - r * 0.5], [q[0] + r * 0.7, q[1] + r]);
        let mut ours = Vec::new();
        ix.intersecting(lo, hi, &mut ours);
        ours.sort_unstable();
        let mut theirs: Vec<u32> = tree.locate_in_envelope_intersecting(&AABB::from_corners(lo, hi)).map(|s| s.data).collect();
        theirs.sort_unstable();
        assert_eq!(ours, theirs, "seed {seed}, box {lo:?} {hi:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn nearest_and_boxes_agree_with_brute_force_and_rstar(seed in any::<u64>()) {
        check(seed);
    }
}

/// Big enough for three levels of nodes above the segments.
#[test]
fn three_levels_agree() {
    assert!(NODE_SIZE.pow(2) < 1000);
    let mut rng = StdRng::seed_from_u64(5);
    let net = random_net(&mut rng, 400, 3000, false);
    let ix = SegIndex::new(&net);
    assert!(ix.arcs.len() > NODE_SIZE.pow(2), "{}", ix.arcs.len());
    check_queries(&net, &ix, &mut rng, false, 5);
    let q = ix.proj.xy(50.0 + 3.0 * CELL, 7.0 + 3.0 * CELL);
    let ours: Vec<(u32, f64)> = ix.nearest(q).map(|(a, _, _, d2)| (a, d2)).collect();
    assert_eq!(ours.len(), ix.arcs.len());
    assert!(ours
        .windows(2)
        .all(|w| w[0].1 < w[1].1 || (w[0].1 == w[1].1 && w[0].0 < w[1].0)));
    // Two searches alive at once on one thread, interleaved, answer as
    // each alone (they cannot share the reused scratch).
    let q2 = ix.proj.xy(50.0 + 1.5 * CELL, 7.0 + 4.2 * CELL);
    let alone2: Vec<(u32, f64)> = ix.nearest(q2).map(|(a, _, _, d2)| (a, d2)).collect();
    let (mut s1, mut s2) = (ix.nearest(q), ix.nearest(q2));
    let (mut x1, mut x2) = (Vec::new(), Vec::new());
    loop {
        match (s1.next(), s2.next()) {
            (None, None) => break,
            (a, b) => {
                x1.extend(a.map(|(a, _, _, d2)| (a, d2)));
                x2.extend(b.map(|(a, _, _, d2)| (a, d2)));
            }
        }
    }
    assert_eq!((x1, x2), (ours, alone2));
    // Many ties in a deep tree: a big network on the lattice.
    let net = random_net(&mut rng, 400, 3000, true);
    let ix = SegIndex::new(&net);
    assert!(ix.arcs.len() > NODE_SIZE.pow(2), "{}", ix.arcs.len());
    check_queries(&net, &ix, &mut rng, true, 6);
}

/// The index is computed at preparation, goes through the prepared file
/// unchanged, and is the one the network read back would give; a file of
/// format 5 (16 to a node) is refused as stale, and an index naming an arc
/// the network does not have is refused even with a matching checksum.
#[test]
fn index_round_trips_and_format_5_is_refused() {
    use corridor_geo::{netfile, PreparedNetwork};
    let mut rng = StdRng::seed_from_u64(5);
    let p = PreparedNetwork::prepare(random_net(&mut rng, 300, 2000, false));
    assert!(p.segments.boxes.len() > 1);
    let bytes = netfile::to_bytes(&p);
    let q = netfile::from_bytes(&bytes, "r.cnet").unwrap();
    assert_eq!(p.segments, q.segments);
    assert_eq!(q.segments, SegIndex::new(&q.net));
    let mut old = bytes.clone();
    old[16..20].copy_from_slice(&5u32.to_le_bytes());
    let e = netfile::from_bytes(&old, "r.cnet").unwrap_err().to_string();
    assert!(
        e.contains("version 5") && e.contains("stale") && e.contains("corridor import"),
        "{e}"
    );
    // The last segment's arc, out of range, the checksum made to match.
    let mut bad = bytes.clone();
    let at = bad.len() - 32 * p.segments.boxes.len() - 8 - 32 * p.segments.ends.len() - 8 - 4;
    assert_eq!(bad[at..at + 4], p.segments.arcs.last().unwrap().to_le_bytes());
    bad[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    let crc = crc32fast::hash(&bad[32..]);
    bad[28..32].copy_from_slice(&crc.to_le_bytes());
    let e = netfile::from_bytes(&bad, "r.cnet").unwrap_err().to_string();
    assert!(e.contains("inconsistent") && e.contains("segment index"), "{e}");
}
