//! The C2SP `tlog-checkpoint` body: the text a log signs (as a signed note)
//! to commit to a tree size and root hash.
//!
//! ```text
//! <origin>\n
//! <tree size, decimal>\n
//! <root hash, standard base64>\n
//! [<extension line>\n]...
//! ```

use crate::merkle::Hash;
use base64::{engine::general_purpose::STANDARD, Engine};

/// A parsed checkpoint body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's unique name (for Corridor: the signing key's name).
    pub origin: String,
    /// Number of leaves in the tree.
    pub size: u64,
    /// RFC 6962 root hash of the first `size` leaves.
    pub root: Hash,
    /// Optional extra lines after the root, without their newlines.
    pub extensions: Vec<String>,
}

/// Why a checkpoint body was rejected.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CheckpointError {
    #[error("checkpoint must end with a newline")]
    MissingFinalNewline,
    #[error("checkpoint has {0} lines; it needs at least origin, size and root")]
    TooFewLines(usize),
    #[error("checkpoint line {0} is empty")]
    EmptyLine(usize),
    #[error("checkpoint tree size {0:?} is not a decimal number without leading zeros")]
    BadSize(String),
    #[error("checkpoint root hash {0:?} is not the base64 of 32 bytes")]
    BadRoot(String),
}

impl Checkpoint {
    /// The body text: `origin\nsize\nbase64(root)\n` then each extension
    /// line followed by `\n`.
    pub fn to_text(&self) -> String {
        let mut text = format!("{}\n{}\n{}\n", self.origin, self.size, STANDARD.encode(self.root));
        for ext in &self.extensions {
            text.push_str(ext);
            text.push('\n');
        }
        text
    }

    /// Parses a body strictly: every line (including the last) ends with
    /// `\n`, no line is empty (so the origin is not empty), the size is
    /// decimal without leading zeros, and the root is the padded standard
    /// base64 of exactly 32 bytes. Lines after the root are extensions.
    pub fn parse(text: &str) -> Result<Checkpoint, CheckpointError> {
        let body = text.strip_suffix('\n').ok_or(CheckpointError::MissingFinalNewline)?;
        let lines: Vec<&str> = body.split('\n').collect();
        if let Some(i) = lines.iter().position(|l| l.is_empty()) {
            return Err(CheckpointError::EmptyLine(i + 1));
        }
        if lines.len() < 3 {
            return Err(CheckpointError::TooFewLines(lines.len()));
        }
        let (origin, size, root) = (lines[0], lines[1], lines[2]);

        let size_ok = size.bytes().all(|b| b.is_ascii_digit()) && (size == "0" || !size.starts_with('0'));
        let size = size
            .parse::<u64>()
            .ok()
            .filter(|_| size_ok)
            .ok_or_else(|| CheckpointError::BadSize(size.to_string()))?;

        let root = STANDARD
            .decode(root)
            .ok()
            .and_then(|bytes| Hash::try_from(bytes).ok())
            .ok_or_else(|| CheckpointError::BadRoot(root.to_string()))?;

        Ok(Checkpoint {
            origin: origin.to_string(),
            size,
            root,
            extensions: lines[3..].iter().map(|l| l.to_string()).collect(),
        })
    }
}
