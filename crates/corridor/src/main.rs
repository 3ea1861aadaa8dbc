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

/// mimalloc's `mi_option_purge_delay` (its `mi_option_e` in
/// `include/mimalloc.h`, v3; the Rust binding names no constant for it).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// How long freed memory stays with the process before it goes back to
/// the system. Opening a big log frees and allocates again hundreds of
/// megabytes of parsed events within seconds; with mimalloc's 1 s the
/// pages go back and come again zeroed (`serve` on a 1M-event log, same
/// build: 3.37 -> 2.89 s median with 10 s, system time about halved,
/// 2026-12-08). A server idle for 10 s still gives its memory back.
const PURGE_DELAY_MS: std::ffi::c_long = 10_000;

/// The exit code of a command whose standard output was closed (`| head`):
/// 128 + SIGPIPE, as a shell reports a process that SIGPIPE ended.
const CLOSED_PIPE: i32 = 141;

/// Whether `e` is the reader of standard output having gone away.
fn closed_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe))
}

fn main() {
    // SAFETY: sets one of mimalloc's options, which it reads on use; any value is valid.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS) };
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

#[cfg(test)]
mod tests {
    /// The option set in `main` is the purge delay: the only one of
    /// mimalloc's v3 options whose default is 1000 (a new mimalloc that
    /// renumbers its options fails here, not silently).
    #[test]
    fn the_option_set_is_mimallocs_purge_delay() {
        // SAFETY: reads an option.
        assert_eq!(unsafe { libmimalloc_sys::mi_option_get(super::MI_OPTION_PURGE_DELAY) }, 1000);
    }
}
