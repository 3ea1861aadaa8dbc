//! `corridor`: plan, run and prove humanitarian evacuations. The command
//! line is defined in [`cli`]; each command runs in [`cmd`]; here it is
//! parsed, run, and its error printed.

use clap::Parser;

mod cli;
mod cmd;
mod read;
mod record;

/// Many threads allocate events and free them on the ledger's threads;
/// mimalloc handles that cross-thread traffic far better than the system
/// allocator (measured with `corridor-bench ledger`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The exit code of a command whose standard output was closed (`| head`):
/// 128 + SIGPIPE, as a shell reports a process that SIGPIPE ended.
const CLOSED_PIPE: i32 = 141;

/// Whether `e` is the reader of standard output having gone away.
fn closed_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe))
}

fn main() {
    // A reader that stops reading (`corridor demo | head`) ends the command
    // quietly, whether the write that noticed was a `println!` (which
    // panics) or one that returned its error: no panic message, no
    // backtrace, exit code 141. Decided here, once, for every command.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let msg = info.payload().downcast_ref::<String>().map(String::as_str).or_else(|| info.payload().downcast_ref::<&str>().copied()).unwrap_or("");
        if msg.starts_with("failed printing to stdout") && msg.contains("os error 32") {
            std::process::exit(CLOSED_PIPE);
        }
        default_hook(info)
    }));
    let cli = cli::Cli::parse();
    if let Err(e) = cmd::run(cli) {
        if closed_pipe(&e) {
            std::process::exit(CLOSED_PIPE);
        }
        if let Some(a) = e.downcast_ref::<corridor::monitor::Alarm>() {
            eprintln!("{a}");
            std::process::exit(2);
        }
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
