//! `corridor-bench broadcast`: the demo's notices (8 SMS: four notices in
//! Arabic and English) sent by the real `corridor notice --send outbox` to
//! N generated recipients (default 1,000,000), timed, with the process's
//! peak resident memory. Then a second broadcast on a fresh data directory
//! is killed (SIGKILL) half-way through its messages, about half-way
//! through one (past its first batches when it has several), and run
//! again: it must go on where it stopped. After each, every output file in
//! the outbox is read back and every recipient must be in every message
//! exactly once, and the log must hold each notice once.

use std::fs;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// The first morning of the reference case: four notices (two corridors,
/// their windows) in two languages.
const AT: &str = "2016-12-15T04:30:00Z";

#[derive(clap::Args)]
pub struct BroadcastBenchArgs {
    /// Recipients generated (+96390 and eight digits: up to 100,000,000).
    #[arg(long, default_value_t = 1_000_000)]
    pub recipients: u64,
    /// Where the list and the two data directories go (default: a
    /// temporary directory, removed after). Each run's outbox takes about
    /// 200 bytes per recipient.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Only the timed broadcast: no second run killed and resumed (e.g.
    /// for a `corridor` that cannot resume).
    #[arg(long)]
    pub no_resume: bool,
    /// The `corridor` binary to run (default: the one next to this
    /// program), e.g. an older build to compare with.
    #[arg(long)]
    pub corridor: Option<PathBuf>,
}

/// How a child process ended, how long it took and its peak memory.
struct Measured {
    /// `None` when killed by a signal.
    code: Option<i32>,
    signal: Option<i32>,
    wall: Duration,
    /// Peak resident set size in bytes (`ru_maxrss`).
    peak: u64,
}

impl Measured {
    fn summary(&self) -> String {
        format!("{:.2} s wall, peak RSS {:.1} MB", self.wall.as_secs_f64(), self.peak as f64 / 1e6)
    }
}

struct Bench {
    exe: PathBuf,
    list: PathBuf,
}

impl Bench {
    fn command(&self, data: &Path, args: &[&str]) -> Command {
        let mut c = Command::new(&self.exe);
        c.arg("--data-dir").arg(data).args(args).env_remove("CORRIDOR_DATABASE_URL").env_remove("CORRIDOR_SERVER").env_remove("CORRIDOR_TOKEN");
        c
    }

    fn demo(&self, data: &Path) -> Result<()> {
        let out = self.command(data, &["demo"]).stdout(Stdio::null()).output().context("cannot run corridor demo")?;
        if !out.status.success() {
            bail!("corridor demo failed: {}", String::from_utf8_lossy(&out.stderr).trim());
        }
        Ok(())
    }

    /// `corridor notice --send outbox` to the list, its output to `data/../NAME.out`.
    fn start_send(&self, data: &Path, log: &Path) -> Result<std::process::Child> {
        let out = fs::File::create(log).with_context(|| format!("cannot write {}", log.display()))?;
        let err = out.try_clone()?;
        let list = self.list.to_str().context("the list's path is not UTF-8")?;
        self.command(data, &["notice", "--format", "sms", "--at", AT, "--send", "outbox", "--recipients", list]).stdout(out).stderr(err).spawn().context("cannot start corridor notice")
    }

    fn send(&self, data: &Path, log: &Path) -> Result<Measured> {
        let t = Instant::now();
        let child = self.start_send(data, log)?;
        let (code, signal, peak) = crate::child::wait4(child.id(), false)?.context("the corridor process vanished")?;
        let m = Measured { code, signal, wall: t.elapsed(), peak };
        if m.code != Some(0) {
            bail!("corridor notice --send failed ({}): {}", m.describe_end(), tail(log));
        }
        Ok(m)
    }
}

impl Measured {
    fn describe_end(&self) -> String {
        match (self.code, self.signal) {
            (Some(c), _) => format!("exit code {c}"),
            (_, Some(s)) => format!("signal {s}"),
            _ => "ended".into(),
        }
    }
}

fn tail(log: &Path) -> String {
    let text = fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().rev().take(8).collect();
    lines.into_iter().rev().collect::<Vec<_>>().join("\n")
}

/// Writes `n` numbers, `+96390` and eight digits, one a line.
fn write_list(path: &Path, n: u64) -> Result<()> {
    let mut w = BufWriter::with_capacity(1 << 20, fs::File::create(path).with_context(|| format!("cannot write {}", path.display()))?);
    for i in 0..n {
        writeln!(w, "+96390{i:08}")?;
    }
    w.flush()?;
    Ok(())
}

/// The index of a generated number in an output file's recipient line
/// (`    "+96390NNNNNNNN",`), if the line is one.
fn recipient_index(line: &str) -> Option<u64> {
    let l = line.trim().trim_end_matches(',');
    let digits = l.strip_prefix("\"+96390")?.strip_suffix('"')?;
    if digits.len() != 8 {
        return None;
    }
    digits.parse().ok()
}

/// What the folder outbox holds.
#[derive(Debug)]
struct OutboxCheck {
    /// Whole messages (`out/ID.json`).
    messages: usize,
    /// Messages being written (`out/.ID.json.part`) and the recipients in them.
    parts: usize,
    part_recipients: u64,
}

/// Reads every message file in `out` and checks that each of the `n`
/// recipients is in each exactly once (a bitset per file: n/8 bytes).
fn check_outbox(out: &Path, n: u64, whole_only: bool) -> Result<OutboxCheck> {
    let mut check = OutboxCheck { messages: 0, parts: 0, part_recipients: 0 };
    let mut seen = vec![0u64; n.div_ceil(64) as usize];
    let mut names: Vec<PathBuf> = fs::read_dir(out).with_context(|| format!("cannot list {}", out.display()))?.map(|e| e.map(|e| e.path())).collect::<Result<_, _>>()?;
    names.sort();
    for path in names {
        let name = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
        let part = name.starts_with('.') && name.ends_with(".part");
        if !part && !name.ends_with(".json") {
            continue;
        }
        seen.iter_mut().for_each(|w| *w = 0);
        let mut count = 0u64;
        let mut line = String::new();
        let mut r = BufReader::with_capacity(1 << 20, fs::File::open(&path).with_context(|| format!("cannot read {}", path.display()))?);
        while {
            line.clear();
            r.read_line(&mut line)? > 0
        } {
            let Some(i) = recipient_index(&line) else { continue };
            if i >= n {
                bail!("{name}: recipient {i} was never in the list of {n}");
            }
            let (w, b) = ((i / 64) as usize, i % 64);
            if seen[w] >> b & 1 == 1 {
                bail!("{name}: recipient {i} is in the message twice");
            }
            seen[w] |= 1 << b;
            count += 1;
        }
        if part {
            check.parts += 1;
            check.part_recipients += count;
        } else {
            if count != n {
                bail!("{name}: {count} of {n} recipients");
            }
            check.messages += 1;
        }
    }
    if whole_only && check.parts > 0 {
        bail!("{}: {} message(s) left half-written", out.display(), check.parts);
    }
    Ok(check)
}

/// The `notice_issued` events in the log.
fn notices_recorded(b: &Bench, data: &Path) -> Result<usize> {
    let out = b.command(data, &["log", "show", "--json"]).output().context("cannot run corridor log show")?;
    if !out.status.success() {
        bail!("corridor log show failed: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&out.stdout).lines().filter(|l| l.contains("\"notice_issued\"")).count())
}

/// The bytes of one recipient in a folder outbox file: `,\n    "+96390NNNNNNNN"`.
const RECIPIENT_LINE: u64 = 22;

/// How many recipients the journals in `dir` have as done: the last whole
/// `done N` line of each (a sent message's journal is removed, so this is
/// the message being written).
fn journaled_done(dir: &Path) -> Result<u64> {
    let mut done = 0;
    let Ok(rd) = fs::read_dir(dir) else { return Ok(0) };
    for e in rd {
        let path = e?.path();
        let text = fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let whole = &text[..text.rfind('\n').map_or(0, |i| i + 1)];
        done += whole.lines().rev().find_map(|l| l.strip_prefix("done ")).map(str::parse::<u64>).transpose().with_context(|| format!("{}: a `done` line is not a count", path.display()))?.unwrap_or(0);
    }
    Ok(done)
}

fn files_named(dir: &Path, f: impl Fn(&str) -> bool) -> usize {
    fs::read_dir(dir).map(|d| d.filter_map(|e| e.ok()).filter(|e| f(&e.file_name().to_string_lossy())).count()).unwrap_or(0)
}

pub fn run(a: &BroadcastBenchArgs) -> Result<()> {
    if a.recipients == 0 || a.recipients > 100_000_000 {
        bail!("--recipients takes 1 to 100000000");
    }
    let exe = match &a.corridor {
        Some(p) if p.is_file() => p.clone(),
        Some(p) => bail!("--corridor {}: no such program", p.display()),
        None => crate::child::corridor_binary()?,
    };
    let tmp;
    let dir = match &a.dir {
        Some(d) => {
            fs::create_dir_all(d).with_context(|| format!("cannot make {}", d.display()))?;
            d.clone()
        }
        None => {
            tmp = tempfile::tempdir()?;
            tmp.path().to_path_buf()
        }
    };
    let n = a.recipients;
    let b = Bench { exe, list: dir.join("recipients.txt") };
    println!("broadcast: the demo's SMS notices to {n} recipients through the folder outbox, {} in {}", b.exe.display(), dir.display());
    write_list(&b.list, n)?;
    println!("  list: {:.1} MB", fs::metadata(&b.list)?.len() as f64 / 1e6);

    // 1. One broadcast, timed.
    let d1 = dir.join("run");
    if d1.exists() {
        fs::remove_dir_all(&d1)?;
    }
    b.demo(&d1)?;
    let m = b.send(&d1, &dir.join("run.out"))?;
    let out1 = d1.join("sms/outbox/out");
    let c = check_outbox(&out1, n, true)?;
    if c.messages == 0 {
        bail!("nothing reached {}: {}", out1.display(), tail(&dir.join("run.out")));
    }
    let recorded = notices_recorded(&b, &d1)?;
    if recorded != c.messages {
        bail!("{} messages sent but {recorded} notice(s) recorded in the log", c.messages);
    }
    println!("  broadcast: {}; {} messages × {n} recipients, each recipient in each exactly once; {recorded} notices recorded", m.summary(), c.messages);
    let messages = c.messages;
    if a.no_resume {
        return Ok(());
    }

    // 2. Killed half-way through its messages, in the middle of one, then run again.
    let d2 = dir.join("crash");
    if d2.exists() {
        fs::remove_dir_all(&d2)?;
    }
    b.demo(&d2)?;
    let out2 = d2.join("sms/outbox/out");
    let t = Instant::now();
    let child = b.start_send(&d2, &dir.join("crash.out"))?;
    let pid = child.id();
    let killed = loop {
        if let Some((code, signal, _)) = crate::child::wait4(pid, true)? {
            bail!(
                "the broadcast ended ({}) before it could be killed half-way: give more --recipients (or --no-resume); {}",
                Measured { code, signal, wall: t.elapsed(), peak: 0 }.describe_end(),
                tail(&dir.join("crash.out"))
            );
        }
        let whole = files_named(&out2, |f| f.ends_with(".json") && !f.starts_with('.'));
        // In the middle of a message: its part file holds about half its
        // recipients, so past its first batches when it has several (the
        // resumed run skips what the journal has as done and cuts back the
        // rest).
        let half = n / 2 * RECIPIENT_LINE;
        let writing = fs::read_dir(&out2).map(|d| d.filter_map(|e| e.ok()).any(|e| e.file_name().to_string_lossy().ends_with(".part") && e.metadata().is_ok_and(|m| m.len() > half))).unwrap_or(false);
        if whole * 2 >= messages && writing {
            // SAFETY: pid is our child, not yet reaped (wait4 said it runs).
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
            break t.elapsed();
        }
        std::thread::sleep(Duration::from_micros(500));
    };
    let (code, signal, peak) = crate::child::wait4(pid, false)?.context("the corridor process vanished")?;
    if signal != Some(libc::SIGKILL) {
        bail!("the broadcast ended ({}) before the kill landed: give more --recipients", Measured { code, signal, wall: killed, peak }.describe_end());
    }
    let c = check_outbox(&out2, n, false)?;
    println!(
        "  crash: SIGKILL after {:.2} s (peak RSS {:.1} MB), {} of {messages} messages whole, {} being written ({} recipients in it, {} journaled as done)",
        killed.as_secs_f64(),
        peak as f64 / 1e6,
        c.messages,
        c.parts,
        c.part_recipients,
        journaled_done(&d2.join("sms/outbox/journal"))?
    );
    if c.messages >= messages {
        bail!("the kill came after every message was written: nothing to resume");
    }
    let m = b.send(&d2, &dir.join("resume.out"))?;
    let c = check_outbox(&out2, n, true)?;
    if c.messages != messages {
        bail!("after resuming, {} of {messages} messages are in the outbox", c.messages);
    }
    let recorded = notices_recorded(&b, &d2)?;
    if recorded != messages {
        bail!("after resuming, {recorded} notice(s) recorded in the log for {messages} messages");
    }
    println!("  resumed: {}; {messages} messages × {n} recipients, each recipient in each exactly once; {recorded} notices recorded once each", m.summary());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(recipients: &[u64]) -> String {
        let lines: Vec<String> = recipients.iter().map(|i| format!("    \"+96390{i:08}\"")).collect();
        format!("{{\n  \"id\": \"x\",\n  \"text\": \"+9639000000001\",\n  \"recipients\": [\n{}\n  ]\n}}\n", lines.join(",\n"))
    }

    #[test]
    fn the_outbox_check_finds_a_duplicate_a_missing_recipient_and_half_written_messages() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path();
        fs::write(out.join("a.json"), message(&[0, 1, 2, 3])).unwrap();
        fs::write(out.join("b.json"), message(&[3, 2, 1, 0])).unwrap();
        let c = check_outbox(out, 4, true).unwrap();
        assert_eq!((c.messages, c.parts), (2, 0));
        fs::write(out.join(".c.json.part"), &message(&[0, 1])[..60]).unwrap();
        assert!(check_outbox(out, 4, true).unwrap_err().to_string().contains("half-written"));
        let c = check_outbox(out, 4, false).unwrap();
        assert_eq!((c.messages, c.parts), (2, 1));
        fs::remove_file(out.join(".c.json.part")).unwrap();
        fs::write(out.join("b.json"), message(&[0, 1, 2, 1])).unwrap();
        assert!(check_outbox(out, 4, true).unwrap_err().to_string().contains("b.json: recipient 1 is in the message twice"));
        fs::write(out.join("b.json"), message(&[0, 1, 2])).unwrap();
        assert!(check_outbox(out, 4, true).unwrap_err().to_string().contains("b.json: 3 of 4 recipients"));
        fs::write(out.join("b.json"), message(&[0, 1, 2, 7])).unwrap();
        assert!(check_outbox(out, 4, true).unwrap_err().to_string().contains("never in the list"));
    }

    #[test]
    fn the_journaled_count_is_the_last_whole_done_line() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(journaled_done(&dir.path().join("none")).unwrap(), 0);
        fs::write(dir.path().join("a.log"), "sending 0 10\ndone 10\nsending 10 20\ndone 20\nsending 20 30\ndone 3").unwrap();
        assert_eq!(journaled_done(dir.path()).unwrap(), 20, "a line cut short did not happen");
        fs::write(dir.path().join("a.log"), "sending 0 10\n").unwrap();
        assert_eq!(journaled_done(dir.path()).unwrap(), 0);
        fs::write(dir.path().join("a.log"), "done x\n").unwrap();
        assert!(journaled_done(dir.path()).is_err());
    }

}
