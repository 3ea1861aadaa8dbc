//! C2SP `tlog-tiles`: how the log is served to clients that follow it from
//! outside (monitors, witnesses, any standard tlog client).
//!
//! - A **hash tile** at level `L`, index `N` holds the hashes of the
//!   complete subtrees of `256^L` leaves numbered `N*256 .. N*256+W`
//!   (32 bytes each), served at `tile/<L>/<N>[.p/<W>]`.
//! - An **entry bundle** at index `N` holds leaves `N*256 .. N*256+W`, each
//!   as its exact leaf bytes prefixed by their length (big-endian `u16`),
//!   served at `tile/entries/<N>[.p/<W>]`.
//! - `N` is written in 3-digit path elements, all but the last prefixed by
//!   `x` (1234067 → `x001/x234/067`); `.p/<W>` marks a partial tile of
//!   width `1..=255`. A full tile never changes; a partial one is the prefix
//!   of the full tile it grows into.

/// Hashes (or entries) per full tile.
pub const TILE_WIDTH: u64 = 256;
/// Tree levels per tile level.
pub const TILE_HEIGHT: u32 = 8;
/// The largest tile level a `u64`-sized tree needs (`256^8 > 2^63`).
pub const MAX_LEVEL: u8 = 7;
/// The largest leaf an entry bundle can hold: its length is a `u16`.
pub const MAX_ENTRY_BYTES: usize = u16::MAX as usize;

/// What a tile holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TileKind {
    /// Subtree hashes at tile level `L` (tree level `8L`).
    Hash(u8),
    /// Leaf bytes.
    Entries,
}

/// One tile: kind, index and width (`1..=256`; 256 is a full tile).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tile {
    pub kind: TileKind,
    pub index: u64,
    pub width: u16,
}

/// A path that is not a tile of this log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path:?} is not a tile path (tile/<L>/<N>[.p/<W>] or tile/entries/<N>[.p/<W>], C2SP tlog-tiles): {why}")]
pub struct TilePathError {
    pub path: String,
    pub why: &'static str,
}

/// Writes `n` in 3-digit path elements, all but the last prefixed by `x`.
pub fn encode_index(mut n: u64) -> String {
    let mut parts = vec![format!("{:03}", n % 1000)];
    while n >= 1000 {
        n /= 1000;
        parts.push(format!("x{:03}", n % 1000));
    }
    parts.reverse();
    parts.join("/")
}

impl Tile {
    /// A full tile.
    pub fn full(kind: TileKind, index: u64) -> Tile {
        Tile { kind, index, width: TILE_WIDTH as u16 }
    }

    pub fn is_full(&self) -> bool {
        u64::from(self.width) == TILE_WIDTH
    }

    /// The path below the log's prefix, e.g. `tile/0/x001/234.p/5`.
    pub fn path(&self) -> String {
        let level = match self.kind {
            TileKind::Hash(l) => l.to_string(),
            TileKind::Entries => "entries".to_string(),
        };
        let partial = if self.is_full() { String::new() } else { format!(".p/{}", self.width) };
        format!("tile/{level}/{}{partial}", encode_index(self.index))
    }

    /// Parses a path below the log's prefix (`tile/...`), strictly: the
    /// canonical spelling only, so that one tile has one path.
    pub fn parse(path: &str) -> Result<Tile, TilePathError> {
        let err = |why| TilePathError { path: path.chars().take(80).collect(), why };
        let rest = path.strip_prefix("tile/").ok_or_else(|| err("it does not start with tile/"))?;
        let (level, rest) = rest.split_once('/').ok_or_else(|| err("no index"))?;
        let kind = if level == "entries" {
            TileKind::Entries
        } else {
            let l: u8 = decimal(level).and_then(|l| u8::try_from(l).ok()).ok_or_else(|| err("the level is not a decimal number"))?;
            if l > MAX_LEVEL {
                return Err(err("the level is beyond any tree this log can hold"));
            }
            TileKind::Hash(l)
        };
        let (index, width) = match rest.split_once(".p/") {
            Some((index, w)) => {
                let w = decimal(w).filter(|w| (1..TILE_WIDTH).contains(w)).ok_or_else(|| err("a partial width must be 1 to 255"))?;
                (index, w as u16)
            }
            None => (rest, TILE_WIDTH as u16),
        };
        let mut n: u64 = 0;
        let elements: Vec<&str> = index.split('/').collect();
        for (i, e) in elements.iter().enumerate() {
            let last = i + 1 == elements.len();
            let digits = if last { Some(*e) } else { e.strip_prefix('x') };
            let d = digits.filter(|d| d.len() == 3 && d.bytes().all(|b| b.is_ascii_digit())).ok_or_else(|| err("the index must be 3-digit elements, all but the last prefixed by x"))?;
            n = n.checked_mul(1000).and_then(|n| n.checked_add(d.parse::<u64>().ok()?)).ok_or_else(|| err("the index is too large"))?;
        }
        let tile = Tile { kind, index: n, width };
        if tile.path() != path {
            return Err(err("not the canonical spelling (no leading x000 elements)"));
        }
        Ok(tile)
    }

    /// The tree level of the hashes in a hash tile.
    pub fn tree_level(level: u8) -> usize {
        (u32::from(level) * TILE_HEIGHT) as usize
    }

    /// Every tile of a tree of `size` leaves: the full ones and the partial
    /// one at the right edge of each level, hash tiles then entry bundles.
    /// This is what a static copy of the log holds.
    pub fn all(size: u64) -> impl Iterator<Item = Tile> {
        let levels = (0..=MAX_LEVEL).map(TileKind::Hash).take_while(move |&k| count(k, size) > 0);
        levels.chain(std::iter::once(TileKind::Entries).filter(move |_| size > 0)).flat_map(move |kind| {
            let n = count(kind, size);
            (0..n.div_ceil(TILE_WIDTH)).map(move |i| {
                let width = (n - i * TILE_WIDTH).min(TILE_WIDTH) as u16;
                Tile { kind, index: i, width }
            })
        })
    }

    /// Whether a tree of `size` leaves has this tile (a partial tile of
    /// width `W` stays available once the tile has grown beyond `W`).
    pub fn exists_in(&self, size: u64) -> bool {
        let first = self.index.checked_mul(TILE_WIDTH).and_then(|f| f.checked_add(u64::from(self.width)));
        first.is_some_and(|end| end <= count(self.kind, size))
    }

    /// The range of hashes (at this tile's tree level) or of leaves it holds.
    pub fn range(&self) -> std::ops::Range<u64> {
        let start = self.index * TILE_WIDTH;
        start..start + u64::from(self.width)
    }
}

/// How many hashes (complete subtrees) or leaves a tree of `size` leaves has at this kind's level.
fn count(kind: TileKind, size: u64) -> u64 {
    match kind {
        TileKind::Hash(l) => size.checked_shr(u32::from(l) * TILE_HEIGHT).unwrap_or(0),
        TileKind::Entries => size,
    }
}

fn decimal(s: &str) -> Option<u64> {
    let canonical = !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    canonical.then(|| s.parse().ok()).flatten()
}

/// An entry bundle: each leaf prefixed by its length as a big-endian `u16`.
/// A leaf over [`MAX_ENTRY_BYTES`] cannot be bundled (the model refuses such events).
pub fn bundle<'a>(leaves: impl IntoIterator<Item = &'a [u8]>) -> Result<Vec<u8>, BundleError> {
    let mut out = Vec::new();
    for leaf in leaves {
        let len = u16::try_from(leaf.len()).map_err(|_| BundleError::TooLong(leaf.len()))?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(leaf);
    }
    Ok(out)
}

/// Why an entry bundle could not be made or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    #[error("an entry of {0} bytes is over the 65,535 a bundle can hold")]
    TooLong(usize),
    #[error("the bundle is cut short: entry {0} runs past its end")]
    Truncated(usize),
}

/// Splits an entry bundle into its leaves.
pub fn unbundle(mut data: &[u8]) -> Result<Vec<&[u8]>, BundleError> {
    let mut out = Vec::new();
    while !data.is_empty() {
        let [a, b, rest @ ..] = data else { return Err(BundleError::Truncated(out.len())) };
        let len = usize::from(u16::from_be_bytes([*a, *b]));
        if rest.len() < len {
            return Err(BundleError::Truncated(out.len()));
        }
        out.push(&rest[..len]);
        data = &rest[len..];
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_follow_the_spec() {
        assert_eq!(encode_index(1234067), "x001/x234/067");
        assert_eq!(encode_index(0), "000");
        assert_eq!(encode_index(999), "999");
        assert_eq!(encode_index(1000), "x001/000");
        assert_eq!(Tile { kind: TileKind::Hash(0), index: 1234067, width: 256 }.path(), "tile/0/x001/x234/067");
        assert_eq!(Tile { kind: TileKind::Entries, index: 5, width: 3 }.path(), "tile/entries/005.p/3");
        for p in ["tile/0/x001/x234/067", "tile/entries/005.p/3", "tile/3/000.p/255", "tile/7/x018/x446/x744/x073/x709/x551/615"] {
            assert_eq!(Tile::parse(p).unwrap().path(), p);
        }
        for bad in ["tile/0/1", "tile/0/x000/001", "tile/01/000", "tile/0/000.p/0", "tile/0/000.p/256", "tile/0/000.p/05", "tile/8/000", "tile/0/001/002", "tile/0/x001", "tiles/0/000", "tile/entries/x018/x446/x744/x073/x709/x551/999", "tile/-1/000", "tile/0/00a"] {
            assert!(Tile::parse(bad).is_err(), "{bad} is refused");
        }
    }

    #[test]
    fn the_tiles_of_a_tree() {
        assert_eq!(Tile::all(0).count(), 0);
        let t: Vec<String> = Tile::all(70_000).map(|t| t.path()).collect();
        // 273 full level-0 tiles and one of 112; level 1: one full (256 hashes of 256) and one of 17; level 2: one of 1.
        assert_eq!(t.iter().filter(|p| p.starts_with("tile/0/")).count(), 274);
        assert!(t.contains(&"tile/0/273.p/112".to_string()));
        assert!(t.contains(&"tile/1/000".to_string()) && t.contains(&"tile/1/001.p/17".to_string()));
        assert!(t.contains(&"tile/2/000.p/1".to_string()));
        assert!(!t.iter().any(|p| p.starts_with("tile/3/")));
        assert!(t.contains(&"tile/entries/273.p/112".to_string()));
        let partial = Tile::parse("tile/0/273.p/100").unwrap();
        assert!(partial.exists_in(70_000) && !Tile::parse("tile/0/273").unwrap().exists_in(70_000));
        assert!(!Tile::parse("tile/0/274.p/1").unwrap().exists_in(70_000));
    }

    #[test]
    fn bundles_round_trip() {
        let leaves: Vec<&[u8]> = vec![b"", b"a", &[7u8; 300]];
        let b = bundle(leaves.iter().copied()).unwrap();
        assert_eq!(&b[..4], &[0, 0, 0, 1]);
        assert_eq!(unbundle(&b).unwrap(), leaves);
        assert_eq!(unbundle(&b[..b.len() - 1]), Err(BundleError::Truncated(2)));
        assert_eq!(unbundle(&[0]), Err(BundleError::Truncated(0)));
        assert_eq!(bundle([&vec![0u8; 65_536][..]]), Err(BundleError::TooLong(65_536)));
        assert!(bundle([&vec![0u8; 65_535][..]]).is_ok());
    }
}
