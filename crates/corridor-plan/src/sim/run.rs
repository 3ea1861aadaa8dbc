//! A plan's trips driven through time until the next disruption: a
//! discrete-event simulation in which each vehicle drives its planned trips
//! in order and every checkpoint serves vehicles first come, first served.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};

use chrono::{DateTime, Duration, Utc};
use corridor_model::{Body, Convoy, ConvoyArrived, Event, Passage};
use rand::rngs::StdRng;
use rand::Rng;

use super::operation::net_arc;
use super::plans::{group_convoys, just_in_time, Convoys};
use super::Simulator;
use crate::ccrp::{Plan, Trip};
use crate::net::FlowNet;

/// A vehicle on its way along a corridor's road, not yet counted in, when
/// its trip was cut off: it turns back unless the disruption destroys it.
pub(super) struct OnRoad {
    pub(super) vehicle: usize,
    pub(super) corridor: usize,
    pub(super) convoy: String,
}

/// What happens next to a vehicle.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
enum Step {
    /// It sets out on its next trip.
    Start(usize),
    /// It reaches its corridor's `k`-th checkpoint.
    Checkpoint(usize, usize),
}

/// A plan being driven: its trips and convoys, the steps to come, and how
/// far each trip got.
struct Drive<'p> {
    net: &'p FlowNet,
    now: u64,
    until: u64,
    trips: Vec<&'p Trip>,
    corridor: Vec<usize>,
    convoys: Vec<(usize, Vec<usize>)>,
    convoy_of: Vec<usize>,
    /// A convoy leaves together: when its first member must leave to be
    /// counted in on time (the others then queue at the entry).
    convoy_start: Vec<u64>,
    /// Each vehicle's trips, in order.
    queue: HashMap<usize, VecDeque<usize>>,
    /// Steps by time, then by the order they were made in.
    heap: BinaryHeap<Reverse<(u64, u64, Step)>>,
    seq: u64,
    started: Vec<Option<u64>>,
    passages: Vec<Vec<u64>>,
    arrived: Vec<Option<u64>>,
    /// The trip each vehicle is on.
    current: HashMap<usize, usize>,
    on_road: Vec<OnRoad>,
}

impl Drive<'_> {
    fn push(&mut self, t: u64, step: Step) {
        self.seq += 1;
        self.heap.push(Reverse((t, self.seq, step)));
    }
}

/// `ms` scaled by a factor drawn between `lo` and `hi`.
fn jitter(rng: &mut StdRng, ms: u64, lo: f64, hi: f64) -> u64 {
    (ms as f64 * rng.gen_range(lo..hi)) as u64
}

impl Simulator<'_> {
    /// Runs `plan`'s trips from now until `until` (see the module doc); the
    /// events, and the vehicles cut off on a corridor's road.
    pub(super) fn run_plan(&mut self, plan: &Plan, net: &FlowNet, until: u64) -> (Vec<Event>, Vec<OnRoad>) {
        let Convoys { trips, corridor, convoys, convoy_of } = group_convoys(&self.op, net, plan, self.sc);
        let convoy_start = convoys.iter().map(|(_, m)| m.iter().map(|&i| just_in_time(net, trips[i])).min().unwrap_or(0)).collect();
        let mut queue: HashMap<usize, VecDeque<usize>> = HashMap::new();
        for (i, t) in trips.iter().enumerate() {
            queue.entry(t.vehicle.expect("the simulator plans with a fleet")).or_default().push_back(i);
        }
        let n = trips.len();
        let mut d = Drive {
            net,
            now: self.now_ms,
            until,
            trips,
            corridor,
            convoys,
            convoy_of,
            convoy_start,
            queue,
            heap: BinaryHeap::new(),
            seq: 0,
            started: vec![None; n],
            passages: vec![Vec::new(); n],
            arrived: vec![None; n],
            current: HashMap::new(),
            on_road: Vec::new(),
        };
        let mut vehicles: Vec<usize> = d.queue.keys().copied().filter(|&v| self.alive[v]).collect();
        vehicles.sort_unstable();
        for v in vehicles {
            d.push(self.fleet[v].ready_ms.max(d.now), Step::Start(v));
        }
        while let Some(Reverse((t, _, step))) = d.heap.pop() {
            match step {
                Step::Start(v) => self.start(&mut d, v, t),
                Step::Checkpoint(v, k) => self.checkpoint(&mut d, v, k, t),
            }
        }
        let events = self.convoy_events(&d);
        self.convoy_no += d.convoys.len();
        (events, d.on_road)
    }

    /// Vehicle `v` sets out at `t` on its next trip, if it has one: it
    /// leaves just in time for the planned count-in (nobody waits in a bus
    /// overnight at the entry); a trip not counted in before the cut-off is
    /// cancelled, and the vehicle turns back if already on its way.
    fn start(&mut self, d: &mut Drive, v: usize, t: u64) {
        let Some(i) = d.queue.get_mut(&v).and_then(|q| q.pop_front()) else { return };
        let (op, net) = (&self.op, d.net);
        let trip = d.trips[i];
        let src = &op.pools[trip.source];
        let site = op.site_node[src.site];
        let board = u64::from(self.sc.sites[src.site].get_ref().board_minutes) * 60_000;
        let move_ms = if self.fleet[v].at == site {
            0
        } else {
            op.reposition_ms.get(&(self.fleet[v].at, site)).copied().unwrap_or(0)
        };
        let approach_ms = u64::from(net.transit_ms[trip.legs[0].0 as usize]);
        let planned_in = trip.legs[1].1;
        let approach_start = trip
            .approach_ms
            .max(t)
            .max(d.convoy_start[d.convoy_of[i]].min(planned_in.saturating_sub(approach_ms + board + move_ms)));
        let depart = approach_start + jitter(&mut self.rng, move_ms, 0.97, 1.08) + jitter(&mut self.rng, board, 0.9, 1.15);
        let reach = depart + jitter(&mut self.rng, approach_ms, 0.97, 1.08);
        if planned_in >= d.until {
            if approach_start < d.until {
                d.started[i] = Some(approach_start);
                d.on_road.push(OnRoad { vehicle: v, corridor: d.corridor[i], convoy: self.convoy_id(d.convoy_of[i]) });
                self.fleet[v].ready_ms = d.until + (d.until - approach_start);
            }
            d.queue.remove(&v);
            return;
        }
        d.started[i] = Some(approach_start);
        d.current.insert(v, i);
        d.push(reach, Step::Checkpoint(v, 0));
    }

    /// Vehicle `v` reaches its corridor's `k`-th checkpoint at `t`, is
    /// counted when the checkpoint is free (at the entry: open), and drives
    /// on to the next, or to its destination, where it unloads and is
    /// ready for its next trip. A queue at the entry that outlasts the
    /// cut-off turns back.
    fn checkpoint(&mut self, d: &mut Drive, v: usize, k: usize, t: u64) {
        let (op, net) = (&self.op, d.net);
        let i = d.current[&v];
        let c = &op.corridors[d.corridor[i]];
        let arc = c.counts[k];
        let headway = 3_600_000 / u64::from(c.vph[k].max(1));
        let mut start = t.max(self.server_free.get(&arc).copied().unwrap_or(0));
        if k == 0 {
            start = net.next_open(net_arc(net, op, arc), start).unwrap_or(u64::MAX);
            if start >= d.until {
                let began = d.started[i].unwrap_or(t);
                d.on_road.push(OnRoad { vehicle: v, corridor: d.corridor[i], convoy: self.convoy_id(d.convoy_of[i]) });
                self.fleet[v].ready_ms = d.until.max(t) + (t - began);
                d.queue.remove(&v);
                return;
            }
        }
        self.server_free.insert(arc, start + headway);
        let done = start + jitter(&mut self.rng, c.count_ms[k], 0.8, 1.2);
        d.passages[i].push(done);
        let next = done + jitter(&mut self.rng, u64::from(net.transit_ms[net_arc(net, op, arc + 1)]), 0.97, 1.08);
        if k + 1 < c.counts.len() {
            d.push(next, Step::Checkpoint(v, k + 1));
        } else {
            d.arrived[i] = Some(next);
            self.fleet[v].at = op.site_node[c.to];
            self.fleet[v].ready_ms = next + u64::from(self.sc.scenario.unload_minutes) * 60_000;
            d.push(self.fleet[v].ready_ms, Step::Start(v));
        }
    }

    /// The id of the plan's `k`-th convoy.
    fn convoy_id(&self, k: usize) -> String {
        format!("convoy-{:03}", self.convoy_no + k + 1)
    }

    /// The drive's events, convoy by convoy: dispatched, each vehicle's
    /// passages with the load it carries, arrived.
    fn convoy_events(&mut self, d: &Drive) -> Vec<Event> {
        let epoch = self.op.epoch;
        let at = |t: u64| -> DateTime<Utc> { epoch + Duration::milliseconds(t as i64) };
        let mut events = Vec::new();
        for (k, (c, members)) in d.convoys.iter().enumerate() {
            let left: Vec<usize> = members.iter().copied().filter(|&i| d.started[i].is_some()).collect();
            if left.is_empty() {
                continue;
            }
            let id = self.convoy_id(k);
            let op = &mut self.op;
            let bc = &op.corridors[*c];
            let dispatched = left.iter().filter_map(|&i| d.started[i]).min().expect("started").max(d.now);
            events.push(Event::new(
                format!("dispatch-{id}"),
                at(dispatched),
                "hq",
                Body::ConvoyDispatched(Convoy {
                    convoy: id.clone(),
                    corridor: bc.id.clone(),
                    vehicles: left.iter().map(|&i| op.vehicles[d.trips[i].vehicle.expect("fleet")].id.clone()).collect(),
                }),
            ));
            let mut last = None;
            for &i in &left {
                if d.passages[i].is_empty() {
                    continue;
                }
                let vid = op.vehicles[d.trips[i].vehicle.expect("fleet")].id.clone();
                let load = op.pools[d.trips[i].source]
                    .loads
                    .pop_front()
                    .expect("the plan sends no more loads than the pool has");
                for (cp, &t) in bc.checkpoints.iter().zip(&d.passages[i]) {
                    events.push(Event::new(
                        format!("passage-{id}-{vid}-{}", cp.0),
                        at(t),
                        cp.0.clone(),
                        Body::Passage(Passage {
                            vehicle: vid.clone(),
                            convoy: id.clone(),
                            corridor: bc.id.clone(),
                            checkpoint: cp.0.clone(),
                            counts: load.counts.clone(),
                            wounded: load.wounded,
                        }),
                    ));
                }
                last = last.max(d.arrived[i]);
            }
            if let Some(last) = last {
                events.push(Event::new(
                    format!("arrived-{id}"),
                    at(last),
                    "hq",
                    Body::ConvoyArrived(ConvoyArrived {
                        convoy: id.clone(),
                        site: self.sc.sites[op.corridors[*c].to].get_ref().id.clone(),
                    }),
                ));
            }
        }
        events
    }
}
