//! Preparation: a nested-dissection contraction order (inertial flow) and
//! the metric-independent CCH structure, built once per network, plus the
//! travel-time metric with no hazards and the middle of every shortcut
//! under it ([`Middles`]), so that a path is unpacked by lookups alone.

use cch::graph::Graph;
use cch::{Cch, Metric};

use crate::graph::RoadNetwork;
use crate::profile::Profile;
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
}

impl PreparedNetwork {
    pub fn prepare(net: RoadNetwork) -> Self {
        let lat: Vec<f32> = net.lat.iter().map(|&v| v as f32).collect();
        let lon: Vec<f32> = net.lon.iter().map(|&v| v as f32).collect();
        let order = cch::inertial_order(net.node_count() as u32, &net.tail, &net.head, &lat, &lon);
        let cch = Cch::build(&input_graph(&net), &order);
        let base_metric = cch.customize(&net.through_weights());
        let middles = Middles::compute(&cch, &base_metric);
        PreparedNetwork { net, cch, base_metric, middles }
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
pub const MIDDLE_NONE: u16 = u16::MAX;
/// [`Middles`]: the arc's lower endpoint has too many down-arcs for the
/// offset to fit; the unpacking searches the triangle instead.
pub const MIDDLE_SEARCH: u16 = u16::MAX - 1;

/// For every CCH up-arc `(x, z)` and each direction, which lower triangle
/// `{y, x, z}` (`y < x < z` in rank) gives the arc its weight under one
/// metric: the offset of the down-arc `(x, y)` among the down-arcs of `x`
/// (`cch.down_first_out[x] + offset`; `down_head` is `y`, `down_to_up` the
/// arc `(y, x)`), or [`MIDDLE_NONE`] when none is tight (the arc is a
/// road arc), or [`MIDDLE_SEARCH`] when the offset would not fit.
///
/// The triangle is the *first* tight one in down-arc order, the one the
/// unpacking by search finds (`Router`'s `unpack_arc`), so a path
/// unpacked with the middles is the same path, arc for arc. Two bytes
/// per arc and direction.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Middles {
    /// `(x, z)` driven upwards, `x → z`: the path `x → y → z`.
    pub forward: Vec<u16>,
    /// `(x, z)` driven downwards, `z → x`: the path `z → y → x`.
    pub backward: Vec<u16>,
}

impl Middles {
    /// The middles of every arc of `cch` under `metric`: every lower
    /// triangle is visited once, node by node, as the customization does.
    pub fn compute(cch: &Cch, metric: &Metric) -> Self {
        let n = cch.node_count();
        let m = cch.cch_arc_count();
        let (fwd, bwd) = (&metric.forward, &metric.backward);
        let mut forward = vec![MIDDLE_NONE; m];
        let mut backward = vec![MIDDLE_NONE; m];
        // Per node z: the up-arc (x, z) of the current x, or NONE.
        let mut arc_to = vec![u32::MAX; n];
        for x in 0..n {
            let ups = cch.up_first_out[x] as usize..cch.up_first_out[x + 1] as usize;
            for a in ups.clone() {
                arc_to[cch.up_head[a] as usize] = a as u32;
            }
            let downs = cch.down_first_out[x] as usize..cch.down_first_out[x + 1] as usize;
            for d in downs.clone() {
                let offset = d - downs.start;
                let mark = u16::try_from(offset).ok().filter(|&o| o < MIDDLE_SEARCH).unwrap_or(MIDDLE_SEARCH);
                let bottom = cch.down_to_up[d] as usize; // (y, x)
                let y = cch.down_head[d] as usize;
                // The up-arcs of y above x follow (y, x): heads sorted.
                for mid in bottom + 1..cch.up_first_out[y + 1] as usize {
                    let xz = arc_to[cch.up_head[mid] as usize];
                    if xz == u32::MAX {
                        continue;
                    }
                    let xz = xz as usize;
                    // x → y → z and z → y → x, compared as the search does.
                    if forward[xz] == MIDDLE_NONE && bwd[bottom].saturating_add(fwd[mid]) == fwd[xz] {
                        forward[xz] = mark;
                    }
                    if backward[xz] == MIDDLE_NONE && bwd[mid].saturating_add(fwd[bottom]) == bwd[xz] {
                        backward[xz] = mark;
                    }
                }
            }
            for a in ups {
                arc_to[cch.up_head[a] as usize] = u32::MAX;
            }
        }
        Middles { forward, backward }
    }
}
