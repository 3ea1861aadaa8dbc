//! What every plan must satisfy, checked independently of the planner:
//! routes contiguous in space and time from their source to an exit, no
//! arc entered outside its gate, no slot over capacity, every load sent.
//! The tests and `corridor-bench plan` check every plan they make with it.
//! Also [`spread`], the evacuees of the network benchmarks.

use std::collections::HashMap;

use crate::ccrp::{Plan, Problem, Source};
use crate::net::FlowNet;

/// The first rule `plan` breaks, if any.
pub fn check(p: &Problem, plan: &Plan) -> Result<(), String> {
    let net = p.net;
    let mut used: HashMap<(u32, u64), u32> = HashMap::new();
    let mut sent = vec![0u64; p.sources.len()];
    for t in &plan.trips {
        sent[t.source] += u64::from(t.units);
        let mut at = p.sources[t.source].node;
        let mut time = t.depart_ms;
        if t.depart_ms < p.sources[t.source].ready_ms {
            return Err(format!("a trip from source {} leaves before its people are ready", t.source));
        }
        for &(a, e) in &t.legs {
            if net.tail[a as usize] != at {
                return Err(format!("a trip from source {} is not contiguous at arc {a}", t.source));
            }
            if e < time {
                return Err(format!("a trip from source {} enters arc {a} before reaching its tail", t.source));
            }
            if net.next_open(a as usize, e) != Some(e) {
                return Err(format!("arc {a} entered at {e} ms, outside its gate"));
            }
            *used.entry((a, e / p.slot_ms)).or_default() += t.units;
            at = net.head[a as usize];
            time = e + u64::from(net.transit_ms[a as usize]);
        }
        if !net.sink[at as usize] || time != t.arrive_ms || time > plan.completion_ms {
            return Err(format!("a trip from source {} does not end at an exit at its arrival time", t.source));
        }
    }
    for (&(a, k), &n) in &used {
        let cap = net.slot_cap(a as usize, k, p.slot_ms);
        if n > cap {
            return Err(format!("arc {a} slot {k}: {n} vehicles over its capacity {cap}"));
        }
    }
    if let Some(i) = (0..p.sources.len()).find(|&i| sent[i] != p.sources[i].loads) {
        return Err(format!("source {i}: {} of {} loads sent", sent[i], p.sources[i].loads));
    }
    Ok(())
}

/// `loads` spread evenly over at most `points` pickup points, evenly spaced
/// among the nodes that are not exits (every such node when there are fewer).
pub fn spread(net: &FlowNet, loads: u64, points: usize) -> Vec<Source> {
    let all: Vec<u32> = (0..net.node_count() as u32).filter(|&v| !net.sink[v as usize]).collect();
    let nodes: Vec<u32> = if all.len() <= points { all } else { (0..points).map(|j| all[j * all.len() / points]).collect() };
    let n = nodes.len() as u64;
    nodes
        .iter()
        .enumerate()
        .filter_map(|(i, &v)| {
            let i = i as u64;
            let k = (i + 1) * loads / n - i * loads / n;
            (k > 0).then_some(Source { node: v, family: 0, class: 0, loads: k, ready_ms: 0, load_ms: 0 })
        })
        .collect()
}
