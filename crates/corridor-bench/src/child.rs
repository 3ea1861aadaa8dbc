//! The real `corridor` program, run as a user runs it: where it is, and
//! waiting for a child with its peak memory.

use std::path::PathBuf;

use anyhow::{Context, Result};

/// The `corridor` binary built beside this one (same target directory):
/// the benchmarks that measure commands as a user runs them start it.
pub fn corridor_binary() -> Result<PathBuf> {
    let me = std::env::current_exe().context("cannot find this program's path")?;
    let exe = me.with_file_name(format!("corridor{}", std::env::consts::EXE_SUFFIX));
    if !exe.is_file() {
        anyhow::bail!("{} is missing: this benchmark runs the real `corridor` program; build it first (`cargo build --release` builds both)", exe.display());
    }
    Ok(exe)
}

/// How a child ended: its exit code, or the signal that killed it, and its
/// peak resident set size in bytes.
pub type Ended = (Option<i32>, Option<i32>, u64);

/// Waits for child `pid` (reaping it) and reads its resource usage:
/// `None` while it runs when `nohang`.
pub fn wait4(pid: u32, nohang: bool) -> Result<Option<Ended>> {
    let mut status: libc::c_int = 0;
    // SAFETY: rusage is plain data that wait4 fills in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let flags = if nohang { libc::WNOHANG } else { 0 };
    loop {
        // SAFETY: valid pointers to locals; pid is our own child.
        let r = unsafe { libc::wait4(pid as libc::pid_t, &mut status, flags, &mut usage) };
        if r == 0 {
            return Ok(None);
        }
        if r < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e).context("cannot wait for a child process");
        }
        let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
        let signal = libc::WIFSIGNALED(status).then(|| libc::WTERMSIG(status));
        // ru_maxrss is in kilobytes on Linux.
        return Ok(Some((code, signal, usage.ru_maxrss as u64 * 1024)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    // wait4 reaps it.
    #[allow(clippy::zombie_processes)]
    fn wait4_reports_the_peak_memory_of_a_child() {
        let child = Command::new("sh").args(["-c", "exit 3"]).spawn().unwrap();
        let (code, signal, peak) = wait4(child.id(), false).unwrap().unwrap();
        assert_eq!((code, signal), (Some(3), None));
        assert!(peak > 100_000 && peak < 100_000_000, "{peak}");
    }
}
