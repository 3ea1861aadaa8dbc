//! The folder sender: each message written whole to `out/ID.json`, with
//! its recipients, exactly once after a crash.

use std::fs;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::files::{create_private, create_private_dir, file_name, file_segments, sync_dir, FileSegment};
use super::{OutMessage, Recovered, SendError, Sender};

// ---------------------------------------------------------------------------
// The folder sender.

/// Delivers a message by writing it to a folder, for a person or another
/// system to pick up: `out/ID.json`, the message (id, text, encoding,
/// segments) with its `recipients`, one a line. The file is built as
/// `out/.ID.json.part`, a batch at a time (each synced), and renamed when
/// complete, so what is in `out/` under a message's name is whole; after a
/// crash the part file is cut back to what the journal has as done, so each
/// recipient is in the file exactly once.
#[derive(Debug)]
pub struct Folder {
    pub dir: PathBuf,
    /// Recipients per batch (default 100,000: a few MB in memory, and
    /// few syncs).
    pub batch: usize,
    /// The message being written: its id, the part file and how many recipients it holds.
    part: Option<(String, fs::File, u64)>,
}

/// How each recipient line starts in a [`Folder`] file.
const FOLDER_INDENT: &[u8] = b"    ";

impl Folder {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Folder { dir: dir.into(), batch: 100_000, part: None }
    }

    pub fn part_path(&self, id: &str) -> PathBuf {
        self.dir.join(format!(".{}.part", file_name(id)))
    }

    pub fn final_path(&self, id: &str) -> PathBuf {
        self.dir.join(file_name(id))
    }

    /// The file's beginning, up to and including `"recipients": [`.
    fn header(msg: &OutMessage) -> Vec<u8> {
        let h = FileHeader { id: &msg.id, text: &msg.text, encoding: msg.encoded.encoding.name(), dcs: msg.encoded.encoding.dcs(), segments: file_segments(&msg.encoded) };
        let mut s = serde_json::to_vec_pretty(&h).expect("a message header serializes");
        // `{ … \n}` without its closing brace, then the recipients' array.
        s.truncate(s.len() - 2);
        s.extend_from_slice(b",\n  \"recipients\": [");
        s
    }

    /// The length of `part` holding the header and its first `keep`
    /// recipients (read a line at a time).
    fn cut_point(part: &Path, f: &mut fs::File, header: &[u8], keep: u64) -> Result<u64, SendError> {
        let bad = |reason: String| SendError::bad(part, reason);
        f.seek(SeekFrom::Start(0)).map_err(|e| SendError::io("read", part, e))?;
        let mut r = BufReader::with_capacity(1 << 16, &mut *f);
        let mut head = vec![0; header.len()];
        r.read_exact(&mut head).map_err(|_| bad("it is shorter than the message's header".into()))?;
        if head != header {
            return Err(bad("it does not start with this message (another message's partial file?)".into()));
        }
        let mut pos = header.len() as u64;
        if keep == 0 {
            return Ok(pos);
        }
        let mut line = Vec::with_capacity(64);
        // The rest of the header's last line: just its newline.
        r.read_until(b'\n', &mut line).map_err(|e| SendError::io("read", part, e))?;
        let mut next = pos + line.len() as u64;
        for i in 0..keep {
            line.clear();
            let n = r.read_until(b'\n', &mut line).map_err(|e| SendError::io("read", part, e))?;
            let body = line.strip_suffix(b"\n").unwrap_or(&line);
            let body = body.strip_suffix(b",").unwrap_or(body);
            if n == 0 || !body.starts_with(FOLDER_INDENT) || body.len() < FOLDER_INDENT.len() + 2 || !body.ends_with(b"\"") {
                return Err(bad(format!("it holds {i} whole recipients, the journal says {keep} were written")));
            }
            pos = next + body.len() as u64;
            next += n as u64;
        }
        Ok(pos)
    }
}

impl Sender for Folder {
    fn send(&mut self, msg: &OutMessage, batch: &[String]) -> Result<(), SendError> {
        let part = self.part_path(&msg.id);
        let Some((id, f, written)) = self.part.as_mut().filter(|(id, ..)| *id == msg.id) else {
            return Err(SendError::bad(&part, "the folder sender was not prepared for this message (recover first)"));
        };
        let _ = id;
        let mut w = BufWriter::with_capacity(1 << 16, &*f);
        let io = |e: io::Error| SendError::io("write", &part, e);
        for (i, n) in batch.iter().enumerate() {
            w.write_all(if *written + i as u64 == 0 { b"\n" } else { b",\n" }).map_err(io)?;
            w.write_all(FOLDER_INDENT).map_err(io)?;
            serde_json::to_writer(&mut w, n).map_err(|e| io(e.into()))?;
        }
        w.flush().map_err(io)?;
        drop(w);
        f.sync_data().map_err(io)?;
        *written += batch.len() as u64;
        Ok(())
    }

    fn batch_size(&self) -> usize {
        self.batch
    }

    fn recover(&mut self, msg: &OutMessage, done: u64, _in_flight: Option<&[String]>) -> Result<Recovered, SendError> {
        self.part = None;
        create_private_dir(&self.dir)?;
        let part = self.part_path(&msg.id);
        let header = Self::header(msg);
        let mut f = match fs::OpenOptions::new().read(true).write(true).open(&part) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if done > 0 {
                    // Renamed already: finish() has nothing left to do.
                    if self.final_path(&msg.id).exists() {
                        return Ok(Recovered::Resend);
                    }
                    return Err(SendError::bad(&part, format!("it is missing, but the journal says {done} recipients were written to it; move the message's journal away to write it anew")));
                }
                let mut f = create_private(&part).map_err(|e| SendError::io("create", &part, e))?;
                f.write_all(&header).map_err(|e| SendError::io("write", &part, e))?;
                sync_dir(&self.dir).map_err(|e| SendError::io("sync", &self.dir, e))?;
                self.part = Some((msg.id.clone(), f, 0));
                return Ok(Recovered::Resend);
            }
            Err(e) => return Err(SendError::io("open", &part, e)),
        };
        // Anything after the recipients the journal has as done (the
        // interrupted batch, or the closing of a file not yet renamed) is
        // cut: it is written again.
        let cut = if done == 0 { 0 } else { Self::cut_point(&part, &mut f, &header, done)? };
        f.set_len(cut).map_err(|e| SendError::io("cut back", &part, e))?;
        f.seek(SeekFrom::End(0)).map_err(|e| SendError::io("write", &part, e))?;
        if cut == 0 {
            f.write_all(&header).map_err(|e| SendError::io("write", &part, e))?;
        }
        f.sync_data().map_err(|e| SendError::io("write", &part, e))?;
        self.part = Some((msg.id.clone(), f, done));
        Ok(Recovered::Resend)
    }

    fn finish(&mut self, msg: &OutMessage, recipients: u64) -> Result<(), SendError> {
        let part = self.part_path(&msg.id);
        let dest = self.final_path(&msg.id);
        match self.part.take().filter(|(id, ..)| *id == msg.id) {
            Some((_, mut f, written)) => {
                if written != recipients {
                    return Err(SendError::bad(&part, format!("it holds {written} recipients, the message has {recipients}")));
                }
                let io = |e: io::Error| SendError::io("write", &part, e);
                f.write_all(b"\n  ]\n}\n").map_err(io)?;
                f.sync_all().map_err(io)?;
                drop(f);
                fs::rename(&part, &dest).map_err(|e| SendError::io("rename", &part, e))?;
                sync_dir(&self.dir).map_err(|e| SendError::io("sync", &self.dir, e))
            }
            None if dest.exists() && !part.exists() => Ok(()),
            None => Err(SendError::bad(&part, "the folder sender was not prepared for this message (recover first)")),
        }
    }

    fn name(&self) -> &str {
        "folder"
    }
}

/// The message as the [`Folder`] sender writes it, before its recipients.
#[derive(Serialize)]
struct FileHeader<'a> {
    id: &'a str,
    text: &'a str,
    encoding: &'a str,
    dcs: u8,
    segments: Vec<FileSegment>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::send::testing::{message, numbers, out_recipients, store};
    use crate::send::{deliver, Outbox, Receipt};
    use std::panic::{catch_unwind, AssertUnwindSafe};

    #[test]
    fn the_folder_sender_writes_every_recipient_once_in_a_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let ob = Outbox::open(dir.path()).unwrap();
        let m = message("a.w.0.en", "Corridor \"A\" open.");
        let nums = numbers(25);
        ob.queue(&m, &store(&ob, &nums)).unwrap();
        let mut folder = Folder::new(ob.out_dir());
        folder.batch = 7;
        let r = deliver(&ob, &mut folder);
        assert_eq!(r[0].1.as_ref().unwrap().recipients, 25);
        let out = ob.out_dir().join("a.w.0.en.json");
        let v: serde_json::Value = serde_json::from_slice(&fs::read(&out).unwrap()).unwrap();
        assert_eq!(v["text"], "Corridor \"A\" open.");
        assert_eq!(v["segments"][0]["text"], "Corridor \"A\" open.");
        assert_eq!(out_recipients(&out), nums);
        assert!(!folder.part_path(&m.id).exists());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(fs::metadata(&out).unwrap().permissions().mode() & 0o777, 0o600);
        }
        assert!(ob.sent_path("a.w.0.en").exists());
        assert!(matches!(ob.mark_sent("a.w.0.en"), Err(SendError::NotPending { .. })));
    }

    /// The folder sender wrapped to crash (panic) after writing a batch,
    /// before `done` is journaled.
    struct CrashingFolder {
        inner: Folder,
        crash_after: usize,
    }

    impl Sender for CrashingFolder {
        fn send(&mut self, msg: &OutMessage, batch: &[String]) -> Result<(), SendError> {
            self.inner.send(msg, batch)?;
            if self.crash_after == 0 {
                panic!("crash between sending and done");
            }
            self.crash_after -= 1;
            Ok(())
        }
        fn batch_size(&self) -> usize {
            self.inner.batch_size()
        }
        fn recover(&mut self, msg: &OutMessage, done: u64, in_flight: Option<&[String]>) -> Result<Recovered, SendError> {
            self.inner.recover(msg, done, in_flight)
        }
        fn finish(&mut self, msg: &OutMessage, n: u64) -> Result<(), SendError> {
            self.inner.finish(msg, n)
        }
        fn name(&self) -> &str {
            "folder"
        }
    }

    /// The folder sender killed once `kill_at` recipients of the message
    /// are in its part file: the batch that reaches that point is written
    /// only up to it (whole lines, synced), then, with `torn`, the start of
    /// one more line, a write the kill cut short; then it panics, as the
    /// process would be gone (no `done` is journaled after it). With
    /// `late`, a batch that ends exactly at `kill_at` is written whole
    /// before the kill (killed between the write and its `done`); without,
    /// the kill comes at the next batch, after its `sending` was journaled
    /// and before any of it was written.
    struct KilledFolder {
        inner: Folder,
        kill_at: u64,
        late: bool,
        torn: bool,
        written: u64,
    }

    impl Sender for KilledFolder {
        fn send(&mut self, msg: &OutMessage, batch: &[String]) -> Result<(), SendError> {
            let end = self.written + batch.len() as u64;
            if self.kill_at < end || (self.late && self.kill_at == end) {
                let k = (self.kill_at - self.written) as usize;
                if k > 0 {
                    self.inner.send(msg, &batch[..k])?;
                }
                if self.torn {
                    fs::OpenOptions::new().append(true).open(self.inner.part_path(&msg.id)).unwrap().write_all(b",\n    \"+96390").unwrap();
                }
                panic!("killed with {} recipients in the part file", self.kill_at);
            }
            self.inner.send(msg, batch)?;
            self.written = end;
            Ok(())
        }
        fn batch_size(&self) -> usize {
            self.inner.batch_size()
        }
        fn recover(&mut self, msg: &OutMessage, done: u64, in_flight: Option<&[String]>) -> Result<Recovered, SendError> {
            self.inner.recover(msg, done, in_flight)
        }
        fn finish(&mut self, msg: &OutMessage, n: u64) -> Result<(), SendError> {
            self.inner.finish(msg, n)
        }
        fn name(&self) -> &str {
            "folder"
        }
    }

    #[test]
    fn a_folder_killed_at_any_point_of_any_batch_resumes_with_everyone_once() {
        // 25 recipients in batches of 10: killed with 0 to 25 of them
        // written, at a batch's boundary (before its first line, or after
        // its last and before its `done`) and in the middle of one, with
        // and without a line cut short.
        let nums = numbers(25);
        let mut cases = 0;
        for kill_at in 0..=25u64 {
            for late in [false, true] {
                if kill_at == 25 && !late {
                    continue; // never killed: the message finishes
                }
                if late && (kill_at == 0 || kill_at % 10 != 0 && kill_at != 25) {
                    continue; // the same kill as without `late`
                }
                for torn in [false, true] {
                    let case = format!("killed at {kill_at} (late {late}, torn {torn})");
                    let dir = tempfile::tempdir().unwrap();
                    let ob = Outbox::open(dir.path()).unwrap();
                    let m = message("a.w.0.en", "Corridor A open.");
                    ob.queue(&m, &store(&ob, &nums)).unwrap();
                    let mut folder = Folder::new(ob.out_dir());
                    folder.batch = 10;
                    let mut killed = KilledFolder { inner: folder, kill_at, late, torn, written: 0 };
                    assert!(catch_unwind(AssertUnwindSafe(|| deliver(&ob, &mut killed))).is_err(), "{case}: not killed");
                    let part = fs::read_to_string(killed.inner.part_path(&m.id)).unwrap();
                    assert_eq!(part.matches("\"+963900").count() as u64, kill_at, "{case}: what the part file held");
                    // The batch the kill interrupted is journaled as sending, not done.
                    let a = (if late { kill_at - 1 } else { kill_at }) / 10 * 10;
                    let journal = fs::read_to_string(ob.journal_path(&m.id)).unwrap();
                    assert!(journal.ends_with(&format!("sending {a} {}\n", (a + 10).min(25))), "{case}: {journal:?}");
                    assert!(!ob.out_dir().join("a.w.0.en.json").exists(), "{case}: nothing whole before the end");

                    let mut folder = Folder::new(ob.out_dir());
                    folder.batch = 10;
                    let r = deliver(&ob, &mut folder);
                    assert_eq!(r[0].1.as_ref().unwrap(), &Receipt { segments_sent: 1, recipients: 25, uncertain: 0 }, "{case}");
                    assert_eq!(out_recipients(&ob.out_dir().join("a.w.0.en.json")), nums, "{case}: each recipient exactly once, in order");
                    assert!(!folder.part_path(&m.id).exists() && !ob.journal_path(&m.id).exists(), "{case}");
                    assert!(ob.sent_path(&m.id).exists(), "{case}");
                    cases += 1;
                }
            }
        }
        assert_eq!(cases, 2 * (25 + 3));
    }

    #[test]
    fn a_folder_crash_between_sending_and_done_duplicates_no_one() {
        let dir = tempfile::tempdir().unwrap();
        let ob = Outbox::open(dir.path()).unwrap();
        let m = message("a.w.0.en", "Corridor A open.");
        let nums = numbers(25);
        ob.queue(&m, &store(&ob, &nums)).unwrap();
        let mut folder = Folder::new(ob.out_dir());
        folder.batch = 10;
        let mut crashing = CrashingFolder { inner: folder, crash_after: 1 };
        assert!(catch_unwind(AssertUnwindSafe(|| deliver(&ob, &mut crashing))).is_err());
        assert_eq!(fs::read_to_string(ob.journal_path(&m.id)).unwrap(), "sending 0 10\ndone 10\nsending 10 20\n");
        let part = crashing.inner.part_path(&m.id);
        // The second batch is in the part file although not journaled as
        // done, and a write cut short follows it.
        let text = fs::read_to_string(&part).unwrap();
        assert_eq!(text.matches("+9639").count(), 20);
        fs::OpenOptions::new().append(true).open(&part).unwrap().write_all(b",\n    \"+96390").unwrap();
        assert!(!ob.out_dir().join("a.w.0.en.json").exists(), "nothing is in out/ under its name before it is whole");

        let mut folder = Folder::new(ob.out_dir());
        folder.batch = 10;
        let r = deliver(&ob, &mut folder);
        assert_eq!(r[0].1.as_ref().unwrap(), &Receipt { segments_sent: 1, recipients: 25, uncertain: 0 });
        assert_eq!(out_recipients(&ob.out_dir().join("a.w.0.en.json")), nums, "each recipient exactly once, in order");
        assert!(!part.exists());

        // A crash after the closing was written but before the rename:
        // the journal has everyone done; the file is cut back and closed once.
        let m2 = message("b.w.0.en", "Corridor B open.");
        ob.queue(&m2, &store(&ob, &nums)).unwrap();
        let mut f = Folder::new(ob.out_dir());
        f.recover(&m2, 0, None).unwrap();
        f.send(&m2, &nums).unwrap();
        fs::OpenOptions::new().append(true).open(f.part_path(&m2.id)).unwrap().write_all(b"\n  ]\n}\n").unwrap();
        fs::write(ob.journal_path(&m2.id), "sending 0 25\ndone 25\n").unwrap();
        let r = deliver(&ob, &mut Folder::new(ob.out_dir()));
        assert_eq!(r[0].1.as_ref().unwrap().recipients, 25);
        assert_eq!(out_recipients(&ob.out_dir().join("b.w.0.en.json")), nums);
    }
}
