//! `corridor-bench`: Corridor's benchmark programs, kept out of the
//! product binary (as OSRM keeps its own apart). Each compares Corridor
//! with a baseline measured in the same run on the same machine: the
//! ledger against raw SQLite inserts, routes against plain Dijkstra, plans
//! against their lower bound, the server under open-loop load, a monitor's
//! catch-up against the download alone, and servers on one PostgreSQL log
//! through failovers. See the README's "Benchmarks". Also the writer the
//! crash tests kill (`crash-writer`).

mod broadcast;
mod child;
mod cluster;
mod crash;
mod jobs;
mod ledger;
mod monitor;
mod plan;
mod route;
mod serve;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};

/// As in the product binary: the ledger's threads free what callers
/// allocated, which mimalloc handles far better than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Corridor's benchmarks: each prints its figures and the baseline measured in the same run.
#[derive(Parser)]
#[command(name = "corridor-bench", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Durable ledger appends vs raw SQLite inserts, and proof generation on a large tree.
    Ledger(LedgerBenchArgs),
    /// Routing: import, preparation, CCH queries vs plain Dijkstra, hazard updates, tables.
    Route(route::RouteBenchArgs),
    /// Evacuation planning: plan quality against the lower bound, and planning time against evacuees.
    Plan(plan::PlanBenchArgs),
    /// The operations server under load on loopback: open-loop passages from four checkpoints, the log checked against the acknowledgements, public summary reads.
    Serve(serve::ServeBenchArgs),
    /// Following a large log from outside: tile throughput (server vs static files) and a monitor's catch-up from empty.
    Monitor(monitor::MonitorBenchArgs),
    /// Servers on one PostgreSQL log: writes/s and latency with 1 and 3 servers, and failover time over repeated SIGKILLs of the sequencer.
    Cluster(cluster::ClusterBenchArgs),
    /// The million-scale jobs on a generated operation: `report` and the HXL export against `verify` and `log export`, wall time and peak memory.
    Jobs(jobs::JobsBenchArgs),
    /// The demo's SMS notices to a million recipients (or more): time and peak memory, and a broadcast killed (SIGKILL) half-way and resumed, every recipient checked to get every message exactly once.
    Broadcast(broadcast::BroadcastBenchArgs),
    /// For the crash tests: appends to a data directory's log forever from two threads, printing `ACK id…` once each batch is durable, until it is killed.
    CrashWriter(crash::CrashWriterArgs),
}

#[derive(Args)]
struct LedgerBenchArgs {
    /// Events appended per round.
    #[arg(long, default_value_t = 200_000)]
    events: usize,
    /// Events per append call (and per raw SQLite transaction).
    #[arg(long, default_value_t = 1_000)]
    batch: usize,
    /// Threads appending concurrently, as a server's request handlers do
    /// (their batches share group commits; with few writers the pipeline
    /// stalls while every caller waits for the same commit).
    #[arg(long, default_value_t = 16)]
    writers: usize,
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// Leaves in the proof benchmark's tree.
    #[arg(long, default_value_t = 1_000_000)]
    tree: u64,
    /// Proofs of each kind generated.
    #[arg(long, default_value_t = 200_000)]
    proofs: usize,
    /// Where the benchmark's temporary databases go (default: a temporary directory).
    #[arg(long)]
    dir: Option<PathBuf>,
}

fn bench_ledger(a: LedgerBenchArgs) -> Result<()> {
    let tmp;
    let dir = match &a.dir {
        Some(d) => d.clone(),
        None => {
            tmp = tempfile::tempdir()?;
            tmp.path().to_path_buf()
        }
    };
    println!("ledger appends: {} events per round, {} per batch, {} writers, {} rounds, in {}", a.events, a.batch, a.writers, a.rounds, dir.display());
    let cfg = ledger::LedgerBench { events: a.events, batch: a.batch, writers: a.writers, rounds: a.rounds };
    let rounds = ledger::ledger_appends(&cfg, &dir, &|line| println!("  {line}"))?;
    let (ledger, raw, ratio) = ledger::summarize(&rounds);
    println!("median: ledger {ledger:.0} durable events/s, raw SQLite {raw:.0} rows/s, ledger/raw {ratio:.2}");
    println!("proofs: building a {}-leaf tree…", a.tree);
    let p = ledger::proofs(a.tree, a.proofs, 7)?;
    println!(
        "  built in {:.2} s; inclusion {:.0}/s, consistency {:.0}/s, both together {:.0} proofs/s",
        p.build.as_secs_f64(),
        p.inclusion_per_s,
        p.consistency_per_s,
        p.both_per_s
    );
    Ok(())
}


fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Ledger(args) => bench_ledger(args),
        Command::Route(args) => route::run(&args),
        Command::Plan(args) => plan::run(&args),
        Command::Serve(args) => serve::run(&args),
        Command::Monitor(args) => monitor::run(&args),
        Command::Cluster(args) => cluster::run(&args),
        Command::Jobs(args) => jobs::run(&args),
        Command::Broadcast(args) => broadcast::run(&args),
        Command::CrashWriter(args) => crash::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
