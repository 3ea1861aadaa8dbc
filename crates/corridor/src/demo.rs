//! The reference case (stage 2 of eastern Aleppo, 15–22 December 2016),
//! planned and simulated: the bundled scenario
//! (`crates/corridor-plan/scenarios/aleppo-2016.toml`) on the built-in
//! approximate Aleppo district network, through `corridor-plan`'s planner
//! and simulator.
//!
//! The published head counts are the scenario's *input* (who must leave);
//! every figure `corridor demo` prints is computed back from the ledger. The
//! simulation is deterministic for the scenario's seed: the same events,
//! byte for byte, so running the demo twice appends nothing the second time.

use anyhow::{Context, Result};
use corridor_aleppo as aleppo;
use corridor_geo::{PreparedNetwork, Router};
use corridor_plan::scenario::{Scenario, ALEPPO_2016};
use corridor_plan::sim::{simulate, Outcome};

/// Who must leave eastern Aleppo in stage 2 (book chapter, source 004), as
/// the bundled scenario says: tests compare the ledger's figures with these.
pub const ARMED: u64 = 14_891;
pub const WOMEN: u64 = 7_606;
pub const CHILDREN: u64 = 8_787;
pub const WOUNDED: u64 = 701;
pub const CORRIDOR: &str = "ramouseh-rashidin4";

/// The bundled scenario, parsed.
pub fn scenario() -> Result<Scenario> {
    Ok(Scenario::parse(ALEPPO_2016, "aleppo-2016.toml (bundled)")?)
}

/// The router on the built-in district network.
pub fn aleppo_router() -> Result<Router> {
    let net = aleppo::builtin_network().context("building the Aleppo district network")?;
    Ok(Router::new(PreparedNetwork::prepare(net)))
}

/// A scenario file and the map it names, or the bundled scenario on the
/// built-in map.
pub fn load(file: Option<&std::path::Path>) -> Result<(Scenario, Router)> {
    let Some(f) = file else { return Ok((scenario()?, aleppo_router()?)) };
    let text = std::fs::read_to_string(f).with_context(|| format!("cannot read the scenario {}", f.display()))?;
    let sc = Scenario::parse(&text, &f.display().to_string())?;
    let router = match &sc.map.file {
        Some(m) => Router::new(crate::map::load(&f.parent().unwrap_or(std::path::Path::new(".")).join(m))?),
        None => aleppo_router()?,
    };
    Ok((sc, router))
}

/// Plans and simulates the bundled scenario.
pub fn reference() -> Result<(Scenario, Outcome)> {
    let sc = scenario()?;
    let router = aleppo_router()?;
    let out = simulate(&sc, &router)?;
    Ok((sc, out))
}
