//! The files the outbox and the folder sender write: owner-only (they
//! hold phone numbers), replaced atomically, named safely after message
//! ids, with segments in their JSON form.

use std::fs;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use chrono::{SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::SendError;
use crate::sms::Encoded;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct FileSegment {
    /// Hex; empty for a single-segment message.
    pub(super) udh: String,
    pub(super) text: String,
    pub(super) units: usize,
    /// Hex: GSM-7 unpacked septets one per byte, UCS-2 UTF-16BE.
    pub(super) payload: String,
}

pub(super) fn is_zero(n: &u64) -> bool {
    *n == 0
}

pub(super) fn file_segments(e: &Encoded) -> Vec<FileSegment> {
    e.segments.iter().map(|s| FileSegment { udh: hex::encode(&s.udh), text: s.text.clone(), units: s.units, payload: hex::encode(&s.payload) }).collect()
}

pub(super) fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Nanos, true)
}

/// The file name for a message id: the id itself when it is a plain name
/// (letters, digits, `.`, `-`, `_`, not starting with `.`), else the
/// unsafe characters replaced and a hash of the id appended, so two ids
/// never share a file.
pub(super) fn file_name(id: &str) -> String {
    format!("{}.json", file_stem(id))
}

pub(super) fn file_stem(id: &str) -> String {
    let plain = !id.is_empty() && !id.starts_with('.') && id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if plain {
        return id.to_string();
    }
    let safe: String = id.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_') { c } else { '_' }).take(80).collect();
    let h = hex::encode(&Sha256::digest(id.as_bytes())[..6]);
    format!("{safe}-{h}")
}

/// Creates (or truncates) `path`, readable and writable by its owner only:
/// outbox files hold phone numbers.
pub(super) fn create_private(path: &Path) -> io::Result<fs::File> {
    let mut o = fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(path)
}

/// Opens `path` for appending, creating it owner-only.
pub(super) fn append_private(path: &Path) -> io::Result<fs::File> {
    let mut o = fs::OpenOptions::new();
    o.append(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(path)
}

/// Makes `dir` (and its parents), the last one owner-only.
pub(super) fn create_private_dir(dir: &Path) -> Result<(), SendError> {
    fs::create_dir_all(dir).map_err(|e| SendError::io("create", dir, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(|e| SendError::io("restrict to its owner", dir, e))?;
    }
    Ok(())
}

/// Writes `path` through a temporary file in the same folder and a
/// rename, syncing both, so `path` is either the old or the new file.
/// `fill` writes the content.
pub(super) fn write_atomic_with(path: &Path, fill: impl FnOnce(&mut BufWriter<fs::File>) -> Result<(), SendError>) -> Result<(), SendError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let f = create_private(&tmp).map_err(|e| SendError::io("write", path, e))?;
        let mut w = BufWriter::with_capacity(1 << 16, f);
        fill(&mut w)?;
        let f = w.into_inner().map_err(|e| SendError::io("write", path, e.into_error()))?;
        f.sync_all().map_err(|e| SendError::io("write", path, e))?;
        fs::rename(&tmp, path).map_err(|e| SendError::io("write", path, e))?;
        sync_dir(dir).map_err(|e| SendError::io("write", path, e))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

pub(super) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), SendError> {
    write_atomic_with(path, |w| w.write_all(bytes).map_err(|e| SendError::io("write", path, e)))
}

pub(super) fn sync_dir(dir: &Path) -> std::io::Result<()> {
    // A directory fsync makes the rename durable (Unix); elsewhere opening
    // a directory may fail and the rename is all there is.
    match fs::File::open(dir) {
        Ok(d) => d.sync_all().or(Ok(())),
        Err(_) => Ok(()),
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_ids_get_distinct_safe_file_names() {
        assert_eq!(file_name("east.w1.0.ar"), "east.w1.0.ar.json");
        let a = file_name("../x");
        let b = file_name("__x");
        assert!(!a.contains('/') && !a.starts_with('.'));
        assert_ne!(a, b);
        assert_ne!(file_name("a/b"), file_name("a_b"));
    }

}
