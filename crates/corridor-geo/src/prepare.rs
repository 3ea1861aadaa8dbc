//! Preparation: a nested-dissection contraction order (inertial flow) and
//! the metric-independent CCH structure, built once per network, plus the
//! travel-time metric with no hazards.

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
}

impl PreparedNetwork {
    pub fn prepare(net: RoadNetwork) -> Self {
        let lat: Vec<f32> = net.lat.iter().map(|&v| v as f32).collect();
        let lon: Vec<f32> = net.lon.iter().map(|&v| v as f32).collect();
        let order = cch::inertial_order(net.node_count() as u32, &net.tail, &net.head, &lat, &lon);
        let cch = Cch::build(&input_graph(&net), &order);
        let base_metric = cch.customize(&net.through_weights());
        PreparedNetwork { net, cch, base_metric }
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
