//! Preparation: a nested-dissection contraction order (inertial flow) and
//! the metric-independent CCH structure, built once per network, plus the
//! travel-time metric with no hazards and the middle of every shortcut
//! under it ([`Middles`]), so that a path is unpacked by lookups alone,
//! and the spatial index of road segments ([`SegIndex`]), so that a
//! router is ready without building one.

use cch::graph::Graph;
use cch::{Cch, Metric};

use crate::graph::RoadNetwork;
use crate::profile::Profile;
use crate::segindex::SegIndex;
use crate::GeoError;

/// A road network ready to route on.
#[derive(Debug, Clone)]
pub struct PreparedNetwork {
    pub net: RoadNetwork,
    pub cch: Cch,
    /// The travel-time customization with no road closed, `destination`
    /// arcs closed to through routes ([`RoadNetwork::through_weights`]).
    pub base_metric: Metric,
    /// The middle of every CCH arc under `base_metric`.
    pub middles: Middles,
    /// The road segments' spatial index (snapping, hazard areas).
    pub segments: SegIndex,
}

impl PreparedNetwork {
    pub fn prepare(net: RoadNetwork) -> Self {
        let lat: Vec<f32> = net.lat.iter().map(|&v| v as f32).collect();
        let lon: Vec<f32> = net.lon.iter().map(|&v| v as f32).collect();
        let order = cch::inertial_order(net.node_count() as u32, &net.tail, &net.head, &lat, &lon);
        let cch = Cch::build(&input_graph(&net), &order);
        let base_metric = cch.customize(&net.through_weights());
        let middles = Middles::compute(&cch, &base_metric);
        let segments = SegIndex::new(&net);
        PreparedNetwork { net, cch, base_metric, middles, segments }
    }

    /// Refuses a network prepared for another vehicle than `want`; `path`
    /// names it in the message.
    pub fn check_profile(&self, want: Profile, path: &str) -> Result<(), GeoError> {
        let has = self.net.meta.profile;
        if has == want { Ok(()) } else { Err(GeoError::WrongProfile { path: path.to_string(), has, want }) }
    }
}

/// The network as the `cch` crate's CSR input: arc `i` is our arc `i`.
pub fn input_graph(net: &RoadNetwork) -> Graph {
    Graph { first_out: net.first_out.clone(), head: net.head.clone(), weight: net.time_ms.clone() }
}

/// [`Middles`]: the arc is a road arc (no lower triangle is tight).
pub const MIDDLE_NONE: u32 = u32::MAX;
/// [`Middles`]: the distance between the triangle's two lower arcs does
/// not fit in 16 bits; the unpacking searches the triangle instead.
pub const MIDDLE_SEARCH: u32 = u32::MAX - 1;

/// For every CCH up-arc `(x, z)` and each direction, which lower triangle
/// `{y, x, z}` (`y < x < z` in rank) gives the arc its weight under one
/// metric, as the two arcs to unpack next: the triangle's arc `(y, z)`
/// (its *top*) and how far before it, among the up-arcs of `y`, the arc
/// `(y, x)` lies (its *back*: `(y, x)` is arc `top - back`); a top of
/// [`MIDDLE_NONE`] when no triangle is tight (the arc is a road arc),
/// [`MIDDLE_SEARCH`] when the back would not fit in 16 bits.
///
/// The triangle is the *first* tight one in the down-arc order of `x`,
/// the one the unpacking by search finds (`Router`'s `search_middle`),
/// so a path unpacked with the middles is the same path, arc for arc.
/// Both directions of an arc sit in one 12-byte record (one cache line
/// to read per shortcut unpacked): 300 MB on the million-node grid city.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Middles {
    /// Per CCH arc: `[forward top, backward top, forward back | backward
    /// back << 16]`. Forward is `(x, z)` driven upwards, `x → y → z`;
    /// backward downwards, `z → y → x`.
    pub arcs: Vec<[u32; 3]>,
}

impl Middles {
    /// The middles of every arc of `cch` under `metric`: every lower
    /// triangle is visited once, node by node, as the customization does.
    pub fn compute(cch: &Cch, metric: &Metric) -> Self {
        // On one thread: with the nodes shared among worker threads here,
        // the router built later in the same process took 4× longer
        // (Monaco 20 ms against 5 ms, the million-node city 5 s against
        // 2.1 s; measured, the allocator's doing). One thread adds about
        // a fifth to a million-node preparation.
        let mut out = vec![[MIDDLE_NONE, MIDDLE_NONE, 0]; cch.cch_arc_count()];
        let (fwd, bwd) = (&metric.forward, &metric.backward);
        // Per node z: the up-arc (x, z) of the current x, or NONE.
        let mut arc_to = vec![u32::MAX; cch.node_count()];
        for x in 0..cch.node_count() {
            let ups = cch.up_first_out[x] as usize..cch.up_first_out[x + 1] as usize;
            for a in ups.clone() {
                arc_to[cch.up_head[a] as usize] = a as u32;
            }
            for d in cch.down_first_out[x] as usize..cch.down_first_out[x + 1] as usize {
                let bottom = cch.down_to_up[d] as usize; // (y, x)
                let y = cch.down_head[d] as usize;
                // The up-arcs of y above x follow (y, x): heads sorted.
                for mid in bottom + 1..cch.up_first_out[y + 1] as usize {
                    let xz = arc_to[cch.up_head[mid] as usize];
                    if xz == u32::MAX {
                        continue;
                    }
                    let xz = xz as usize;
                    let rec = &mut out[xz];
                    let (top, back) = match u16::try_from(mid - bottom) {
                        Ok(back) => (mid as u32, u32::from(back)),
                        Err(_) => (MIDDLE_SEARCH, 0),
                    };
                    // x → y → z and z → y → x, compared as the search does.
                    if rec[0] == MIDDLE_NONE && bwd[bottom].saturating_add(fwd[mid]) == fwd[xz] {
                        rec[0] = top;
                        rec[2] |= back;
                    }
                    if rec[1] == MIDDLE_NONE && bwd[mid].saturating_add(fwd[bottom]) == bwd[xz] {
                        rec[1] = top;
                        rec[2] |= back << 16;
                    }
                }
            }
            for a in ups {
                arc_to[cch.up_head[a] as usize] = u32::MAX;
            }
        }
        Middles { arcs: out }
    }
}
