//! Loudspeaker announcements: the read-aloud script (the `speech`
//! template, key facts said twice) and, when Debian's `espeak-ng` is
//! installed, a WAV recording of it in the notice's language.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::{Lang, NoticeSpec, NotifyError, Part, Renderer};

/// The script for `n` in `lang`.
pub fn script(n: &NoticeSpec, r: &Renderer, lang: Lang) -> Result<String, NotifyError> {
    r.render(n, lang, Part::Speech)
}

/// `espeak-ng` on the PATH, if installed.
pub fn espeak() -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| std::env::split_paths(&paths).map(|p| p.join("espeak-ng")).find(|p| p.is_file()))
}

/// Speaks `text` in `lang` into the WAV file `out` (espeak-ng's voices
/// `ar` and `en`, a little slower than its default so a crowd can follow).
pub fn wav(text: &str, lang: Lang, out: &Path) -> Result<(), NotifyError> {
    let bin = espeak().ok_or_else(|| NotifyError::Other("audio needs espeak-ng: install it (apt-get install espeak-ng), or use the script alone".into()))?;
    let voice = match lang {
        Lang::Ar => "ar",
        Lang::En => "en",
    };
    let mut child = Command::new(&bin)
        .args(["-v", voice, "-s", "140", "-g", "6", "--stdin", "-w"])
        .arg(out)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| NotifyError::Other(format!("cannot run {}: {e}", bin.display())))?;
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("piped");
        stdin.write_all(text.as_bytes()).map_err(|e| NotifyError::Other(format!("espeak-ng: {e}")))?;
    }
    let done = child.wait_with_output().map_err(|e| NotifyError::Other(format!("espeak-ng: {e}")))?;
    if !done.status.success() {
        return Err(NotifyError::Other(format!("espeak-ng failed: {}", String::from_utf8_lossy(&done.stderr).trim())));
    }
    let wav = std::fs::read(out).map_err(|e| NotifyError::Other(format!("{}: {e}", out.display())))?;
    if wav.len() <= 44 || &wav[..4] != b"RIFF" || &wav[8..12] != b"WAVE" {
        return Err(NotifyError::Other(format!("espeak-ng wrote no audio to {}", out.display())));
    }
    Ok(())
}

/// Seconds of audio in a PCM WAV file (from its header and data size).
pub fn wav_seconds(wav: &[u8]) -> Option<f64> {
    if wav.len() < 44 || &wav[..4] != b"RIFF" || &wav[8..12] != b"WAVE" {
        return None;
    }
    let u32_at = |i: usize| wav.get(i..i + 4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
    let byte_rate = u32_at(28)?;
    // espeak-ng streams to a file and may leave the data size at its
    // placeholder; count the bytes after the header then.
    let data = (wav.len() - 44) as f64;
    (byte_rate > 0).then(|| data / byte_rate as f64)
}
