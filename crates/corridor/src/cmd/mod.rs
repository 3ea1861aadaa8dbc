//! What each command does: [`run`] dispatches the parsed command line
//! ([`crate::cli`]) to the module of its command.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use corridor::datadir::DataDir;
use corridor_ledger::note::Verifier;

use crate::cli::{Cli, Command, MapArgs, MonitorCommand, TokenCommand};

mod apply;
mod damage;
mod demo;
mod log;
mod notice;
mod report;
mod serve;
mod verify;

pub fn run(cli: Cli) -> Result<()> {
    let dir = cli.data_dir.as_path();
    match cli.command {
        Command::Init { database_url: Some(url), pg_schema, join: true, key_file: Some(key), .. } => {
            let d = DataDir::join(dir, &key, url, &pg_schema)?;
            println!("joined log {:?} (PostgreSQL schema {pg_schema:?}) in {}", d.config.origin, dir.display());
            println!("verifier key: {}", d.signer()?.verifier().to_vkey());
            println!("start this server with `corridor --data-dir {} serve --advertise http://ADDRESS:PORT --listen ADDRESS:PORT`", dir.display());
        }
        Command::Init { origin, database_url, pg_schema, .. } => {
            let d = DataDir::init(dir, origin, database_url, &pg_schema)?;
            println!("created log {:?} in {}", d.config.origin, dir.display());
            println!("verifier key: {}", d.signer()?.verifier().to_vkey());
        }
        Command::Log(cmd) => log::run(dir, cmd)?,
        Command::Verify(a) => verify::run(dir, &a)?,
        Command::Demo { scenario, serve: true, listen, replay_minutes } => serve::demo_serve(dir, scenario.as_deref(), &listen, replay_minutes)?,
        Command::Demo { scenario, .. } => demo::demo(dir, scenario.as_deref())?,
        Command::Serve(a) => serve::run(dir, a)?,
        Command::Token(TokenCommand::Create { role, checkpoint, key, expires_hours, link, qr, qr_png }) => {
            serve::token_create(dir, role, checkpoint, key, expires_hours, serve::Link { url: link, qr, png: qr_png })?
        }
        Command::Token(TokenCommand::List) => serve::token_list(dir)?,
        Command::Token(TokenCommand::Revoke { id }) => serve::token_revoke(dir, &id)?,
        Command::Plan { scenario } => demo::plan(scenario.as_deref())?,
        Command::Apply(a) => apply::run(dir, &a)?,
        Command::Notice(a) => notice::run(dir, &a)?,
        Command::Report(a) => report::run(dir, &a)?,
        Command::Import { map, out, districts, profile } => corridor::map::import(&map, out, districts, profile.into())?,
        Command::ImportDamage { file } => damage::import_damage(dir, &file)?,
        Command::Route { map: m, from, to, via, geojson, max_snap_km, profile } => {
            let hz = map_hazards(dir, &m)?;
            corridor::map::route(&m.map, profile.map(Into::into), from, to, &via, hz, geojson, max_snap_km)?
        }
        Command::Corridor { map: m, id, name, entry, exit, via, checkpoint, geojson, profile } => {
            let hz = map_hazards(dir, &m)?;
            let name = if name.is_empty() { id.clone() } else { name };
            corridor::map::corridor(&m.map, profile.map(Into::into), &id, &name, entry, exit, &via, &checkpoint, hz, geojson)?
        }
        Command::MapGeojson { map: m, out } => {
            let hz = map_hazards(dir, &m)?;
            corridor::map::map_geojson(&m.map, hz, out.as_deref())?
        }
        Command::Monitor(MonitorCommand::Key { name }) => {
            let (vkey, new) = corridor::monitor::MonitorDir::new(dir).make_key(&name)?;
            if !new {
                eprintln!("{} already holds a monitor key; it is kept:", dir.display());
            }
            println!("{vkey}");
        }
        Command::Monitor(MonitorCommand::Follow { url, log_key, token, once, interval }) => {
            let log_key = key_arg(&log_key)?;
            let f = corridor::monitor::Follow { url, log_key, token, once, interval: std::time::Duration::from_secs(interval) };
            corridor::monitor::follow(&corridor::monitor::MonitorDir::new(dir), &f)?;
        }
        Command::Monitor(MonitorCommand::Witness { listen, log_key }) => {
            let logs = log_key.iter().map(|k| Verifier::from_vkey(&key_arg(k)?).with_context(|| format!("--log-key {k:?} is not a verifier key"))).collect::<Result<Vec<_>>>()?;
            serve::witness(dir, &listen, logs)?
        }
    }
    Ok(())
}

/// A key given on the command line, or the file that holds it.
pub fn key_arg(k: &str) -> Result<String> {
    Ok(if Path::new(k).is_file() { std::fs::read_to_string(k).with_context(|| format!("cannot read {k}"))?.trim().to_string() } else { k.trim().to_string() })
}

/// The hazards of `--hazards`, on top of the log's when `--log-hazards`.
fn map_hazards(dir: &Path, m: &MapArgs) -> Result<corridor_geo::HazardSet> {
    let mut set = corridor_geo::HazardSet::default();
    if m.log_hazards {
        let mut d = DataDir::open(dir)?;
        crate::read::checked_walk(&mut d, None, &mut |_, e| {
            set.apply(e);
        })?;
    }
    corridor::map::hazards(m.hazards.as_deref(), set)
}

/// Writes `bytes` to standard output (a reader that has gone away, `| head`,
/// ends the command quietly in `main`).
pub fn stdout_write(bytes: &[u8]) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes).and_then(|()| out.flush()).context("cannot write to standard output")
}

