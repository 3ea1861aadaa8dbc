//! After the evacuation: the scenario's districts, aid deliveries,
//! airdrops, mine-clearance campaigns, returns and claims as the events an
//! operations centre records. These are recorded facts, not simulated: the
//! scenario gives them (a campaign's totals are shared out over its areas
//! and weeks), and every figure a report shows is folded back from the log.

use chrono::{DateTime, Duration, Utc};
use corridor_model::{
    AidDelivery, Airdrop, Body, Claim, Clearance, District, Event, Hazard, HazardKind, HazardStatus, HazardStatusChange, Position, Return,
};

use crate::scenario::Scenario;

/// Shares `total` out over `weights` in whole units (largest remainders).
fn share_units(total: u64, weights: &[f64]) -> Vec<u64> {
    let sum: f64 = weights.iter().sum();
    if sum <= 0.0 {
        return vec![0; weights.len()];
    }
    let exact: Vec<f64> = weights.iter().map(|w| total as f64 * w / sum).collect();
    let mut out: Vec<u64> = exact.iter().map(|x| x.floor() as u64).collect();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by(|&a, &b| (exact[b] - exact[b].floor()).total_cmp(&(exact[a] - exact[a].floor())).then(a.cmp(&b)));
    let left = total - out.iter().sum::<u64>();
    for &i in order.iter().take(left as usize) {
        out[i] += 1;
    }
    out
}

/// The aftermath's events (unsorted; the simulator puts the log in time order).
pub fn events(sc: &Scenario) -> Vec<Event> {
    let hq = |id: String, t: DateTime<Utc>, body: Body| Event::new(id, t, "hq", body);
    let mut out = Vec::new();
    let districts = sc.districts();
    let first = sc.aid.iter().map(|a| a.get_ref().time).chain(sc.airdrops.iter().map(|a| a.get_ref().time)).chain(sc.returns.iter().map(|r| r.get_ref().time)).min();
    let declared = first.map_or(sc.scenario.start, |t| t.min(sc.scenario.start));
    for d in &districts {
        out.push(hq(
            format!("district-{}", d.id),
            declared,
            Body::DistrictDeclared(District {
                district: d.id.clone(),
                name: d.name.clone(),
                name_ar: d.name_ar.clone(),
                position: Position { lat: d.lat, lon: d.lon },
                hectares: (d.hectares * 100.0).round() / 100.0,
            }),
        ));
    }
    for a in sc.aid.iter().map(|a| a.get_ref()) {
        out.push(hq(
            format!("aid-{}", a.id),
            a.time,
            Body::AidDelivered(AidDelivery {
                delivery: a.id.clone(),
                commodity: a.commodity.clone(),
                tonnes: a.tonnes,
                families: a.families,
                people: a.people,
                district: a.district.clone(),
                organisation: a.organisation.clone(),
            }),
        ));
    }
    for a in sc.airdrops.iter().map(|a| a.get_ref()) {
        out.push(hq(
            format!("airdrop-{}", a.id),
            a.time,
            Body::Airdrop(Airdrop { airdrop: a.id.clone(), position: Position { lat: a.at[0], lon: a.at[1] }, contents: a.contents.clone(), tonnes: a.tonnes, recovered: a.recovered }),
        ));
    }
    for c in sc.clearance_campaigns.iter().map(|c| c.get_ref()) {
        let areas: Vec<&corridor_aleppo::DistrictRecord> = c.districts.iter().filter_map(|id| districts.iter().find(|d| &d.id == id)).collect();
        let weights: Vec<f64> = areas.iter().map(|d| d.hectares).collect();
        let n = c.records_per_area as usize;
        // Hundredths of a hectare and of a km, and buildings, per area then per record.
        let ha = share_units((c.hectares * 100.0).round() as u64, &weights);
        let km = share_units((c.road_km * 100.0).round() as u64, &weights);
        let bld = share_units(u64::from(c.buildings), &weights);
        let span = (c.to - c.from).num_minutes().max(1);
        for (k, d) in areas.iter().enumerate() {
            let hazard = format!("{}-{}", c.id, d.id);
            out.push(hq(
                format!("hazard-{hazard}"),
                c.declared,
                Body::HazardDeclared(Hazard { hazard: hazard.clone(), kind: HazardKind::SuspectedMined, status: HazardStatus::Suspected, ring: d.ring.clone(), district: d.id.clone() }),
            ));
            let (ha, km, bld) = (share_units(ha[k], &vec![1.0; n]), share_units(km[k], &vec![1.0; n]), share_units(bld[k], &vec![1.0; n]));
            for r in 0..n {
                // Areas are cleared one after another, in equal shares of the campaign.
                let (start, end) = (span * k as i64 / areas.len() as i64, span * (k as i64 + 1) / areas.len() as i64);
                let at = c.from + Duration::minutes(start + (end - start) * (r as i64 + 1) / n as i64);
                if r == 0 {
                    out.push(hq(format!("in-clearance-{hazard}"), at - Duration::days(1), Body::HazardStatusChanged(HazardStatusChange { hazard: hazard.clone(), status: HazardStatus::InClearance })));
                }
                out.push(hq(
                    format!("clearance-{hazard}-{}", r + 1),
                    at,
                    Body::ClearanceRecorded(Clearance {
                        record: format!("{hazard}-{}", r + 1),
                        hazard: Some(hazard.clone()),
                        district: d.id.clone(),
                        hectares: ha[r] as f64 / 100.0,
                        road_km: km[r] as f64 / 100.0,
                        buildings: bld[r] as u32,
                        team: c.teams[(k + r) % c.teams.len()].clone(),
                        completes: r + 1 == n,
                    }),
                ));
            }
        }
    }
    for r in sc.returns.iter().map(|r| r.get_ref()) {
        out.push(hq(format!("return-{}", r.id), r.time, Body::ReturnRecorded(Return { record: r.id.clone(), district: r.district.clone(), families: r.families, people: r.people })));
    }
    for c in sc.claims.iter().map(|c| c.get_ref()) {
        let at = c.date.and_hms_opt(12, 0, 0).expect("noon exists").and_utc().max(sc.scenario.start);
        out.push(hq(
            format!("claim-{}", c.id),
            at,
            Body::ClaimRecorded(Claim { claim: c.id.clone(), source: c.source.clone(), date: c.date, text: c.text.clone(), figure: c.figure, measure: c.measure.clone() }),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn shares_add_up_exactly() {
        let s = super::share_units(300_000, &[327.5, 43.4, 2564.3, 10.2]);
        assert_eq!(s.iter().sum::<u64>(), 300_000);
        assert!(s[2] > s[0] && s[0] > s[1] && s[1] > s[3]);
        assert_eq!(super::share_units(7, &[1.0, 1.0, 1.0]), vec![3, 2, 2]);
    }
}
