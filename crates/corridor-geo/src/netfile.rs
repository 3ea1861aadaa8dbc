//! The prepared network file (`.cnet`): the road graph, its metadata,
//! the prepared CCH, the shortcut middles and the segment index, as
//! little-endian arrays behind a header with a format version and a
//! CRC-32 of everything after the header (the payload starts with the
//! network's source, attribution and vehicle profile), so a file from an
//! older Corridor or a damaged one is refused with a message that says to
//! import again. [`read`] reads each array straight from the file into
//! its own vector (one copy, no per-element parsing, no buffer of the
//! whole file), the CRC-32 (`crc32fast`) updated a megabyte at a time as
//! it goes, then checks that the arrays fit together: about a millisecond
//! for a city extract (Monaco), 0.91 to 1.03 s for the 1.57 GB of the
//! million-node grid city of `corridor-bench route` on a busy two-core
//! machine (2026-12-07; the kernel copying the file's pages and zeroing
//! fresh ones; reading the whole file into one buffer, checksumming it,
//! then copying every array out of it took 1.10 to 1.42 s for 1.50 GB in
//! the same runs; splitting big arrays between two reading threads gained
//! nothing measurable there). [`crate::Router::new`] then needs no tree to build: the segment
//! index is in the file (see the README's routing section for the time
//! until a router answers).
//!
//! Format 4 added the shortcut middles ([`crate::prepare::Middles`]) after
//! the metric; format 5 the segment index ([`crate::segindex`]) after
//! them, 16 entries to a node; format 6 packs it 8 to a node (faster
//! snapping). An older file is refused as stale.
//!
//! Layout: `MAGIC` (16 bytes) · format version (u32) · payload length (u64)
//! · CRC-32 of the payload (u32) · payload. The payload is a sequence of
//! length-prefixed arrays in a fixed order (see [`write`]).

use std::path::Path;

use cch::{Cch, Metric};

use crate::graph::{ImportStats, NetworkMeta, RoadNetwork};
use crate::prepare::{Middles, PreparedNetwork};
use crate::profile::Profile;
use crate::segindex::{Proj, SegIndex};
use crate::GeoError;

pub const MAGIC: &[u8; 16] = b"CORRIDOR-NET\r\n\x1a\n";
/// Bump on any change of layout, of the road rules (profile) or of the
/// preparation: an older file is then refused, never misread.
pub const FORMAT_VERSION: u32 = 6;
const HEADER: usize = 16 + 4 + 8 + 4;

struct W(Vec<u8>);

/// Appends `v` as little-endian bytes: on a little-endian machine (every
/// one Corridor runs on) a straight copy of the array's bytes.
fn put_le<T: bytemuck::Pod>(out: &mut Vec<u8>, v: &[T], to_le: impl Fn(&T) -> Vec<u8>) {
    if cfg!(target_endian = "little") {
        out.extend_from_slice(bytemuck::cast_slice(v));
    } else {
        for x in v {
            out.extend_from_slice(&to_le(x));
        }
    }
}

impl W {
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn f64(&mut self, v: f64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u32s(&mut self, v: &[u32]) {
        self.u64(v.len() as u64);
        put_le(&mut self.0, v, |x| x.to_le_bytes().to_vec());
    }
    fn f64s(&mut self, v: &[f64]) {
        self.u64(v.len() as u64);
        put_le(&mut self.0, v, |x| x.to_le_bytes().to_vec());
    }
    fn f32s(&mut self, v: &[f32]) {
        self.u64(v.len() as u64);
        put_le(&mut self.0, v, |x| x.to_le_bytes().to_vec());
    }
    fn bytes(&mut self, v: &[u8]) {
        self.u64(v.len() as u64);
        self.0.extend_from_slice(v);
    }
    fn str(&mut self, s: &str) {
        self.bytes(s.as_bytes());
    }
}

/// Serializes a prepared network.
pub fn to_bytes(p: &PreparedNetwork) -> Vec<u8> {
    let mut w = W(Vec::new());
    let n = &p.net;
    w.str(&n.meta.source);
    w.str(&n.meta.attribution);
    w.u64(u64::from(n.meta.approximate));
    w.u64(n.meta.profile as u64);
    let s = &n.meta.stats;
    for v in [s.highway_ways, s.usable_ways, s.missing_nodes, s.nodes_before, s.arcs_before, s.nodes, s.arcs] {
        w.u64(v);
    }
    w.f64(s.km_before);
    w.f64(s.km);
    for v in [
        s.restrictions,
        s.restrictions_applied,
        s.restrictions_not_for_vehicle,
        s.restrictions_conditional,
        s.restrictions_via_way,
        s.restrictions_off_network,
        s.restrictions_broken,
        s.turn_nodes,
        s.turn_arcs,
    ] {
        w.u64(v);
    }
    w.u64(s.broken_restrictions.len() as u64);
    for b in &s.broken_restrictions {
        w.str(b);
    }
    w.f64s(&n.lat);
    w.f64s(&n.lon);
    w.u32s(&n.first_out);
    w.u32s(&n.tail);
    w.u32s(&n.head);
    w.u32s(&n.time_ms);
    w.f32s(&n.length_m);
    w.u32s(&n.capacity_vph);
    w.bytes(&n.class);
    w.bytes(&n.destination.iter().map(|&d| u8::from(d)).collect::<Vec<u8>>());
    w.u32s(&n.name);
    w.u64(n.names.len() as u64);
    for s in &n.names {
        w.str(s);
    }
    w.u32s(&n.junction);
    let c = &p.cch;
    for a in [
        &c.rank,
        &c.order,
        &c.elimination_tree_parent,
        &c.up_first_out,
        &c.up_head,
        &c.up_tail,
        &c.down_first_out,
        &c.down_head,
        &c.down_to_up,
        &c.input_arc_to_cch_arc,
        &c.forward_input_arc_of_cch,
        &c.backward_input_arc_of_cch,
        &c.first_extra_forward_input_arc_of_cch,
        &c.extra_forward_input_arc_of_cch,
        &c.first_extra_backward_input_arc_of_cch,
        &c.extra_backward_input_arc_of_cch,
        &p.base_metric.forward,
        &p.base_metric.backward,
    ] {
        w.u32s(a);
    }
    w.u64(p.middles.arcs.len() as u64);
    put_le(&mut w.0, &p.middles.arcs, |r| r.iter().flat_map(|x| x.to_le_bytes()).collect());
    let g = &p.segments;
    for v in [g.proj.lat0, g.proj.lon0, g.proj.kx, g.proj.ky] {
        w.f64(v);
    }
    w.u32s(&g.arcs);
    w.u64(g.ends.len() as u64);
    put_le(&mut w.0, &g.ends, |b| b.iter().flat_map(|x| x.to_le_bytes()).collect());
    w.u64(g.boxes.len() as u64);
    put_le(&mut w.0, &g.boxes, |b| b.iter().flat_map(|x| x.to_le_bytes()).collect());
    let payload = w.0;
    let mut out = Vec::with_capacity(HEADER + payload.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
    out.extend_from_slice(&payload);
    out
}

/// Writes a prepared network to `path` (through a temporary file, so a
/// crash never leaves half a file under the real name).
pub fn write(p: &PreparedNetwork, path: &Path) -> Result<u64, GeoError> {
    let bytes = to_bytes(p);
    let tmp = path.with_extension("cnet.partial");
    std::fs::write(&tmp, &bytes).map_err(|e| GeoError::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| GeoError::io(path, e))?;
    Ok(bytes.len() as u64)
}

/// Reads a prepared network written by [`write`]: each array straight
/// from the file into its own vector, the CRC-32 updated chunk by chunk
/// as it goes (no copy of the whole file in memory).
pub fn read(path: &Path) -> Result<PreparedNetwork, GeoError> {
    let file = std::fs::File::open(path).map_err(|e| GeoError::io(path, e))?;
    let size = file.metadata().map_err(|e| GeoError::io(path, e))?.len();
    read_from(file, size, &path.display().to_string()).map_err(|f| match f {
        Failed::Io(e) => GeoError::io(path, e),
        Failed::Refused(e) => e,
    })
}

/// Parses a prepared network; `name` names the file in errors.
pub fn from_bytes(bytes: &[u8], name: &str) -> Result<PreparedNetwork, GeoError> {
    read_from(bytes, bytes.len() as u64, name).map_err(|f| match f {
        Failed::Io(e) => GeoError::NetFile { path: name.to_string(), reason: format!("cannot be read: {e}") },
        Failed::Refused(e) => e,
    })
}

enum Failed {
    Io(std::io::Error),
    Refused(GeoError),
}

/// Why reading the payload stopped.
enum Stop {
    Io(std::io::Error),
    /// The contents do not parse (or do not fit together).
    Bad(String),
    /// Everything was read and the checksum does not match.
    Corrupt,
}

/// Bytes read (and added to the CRC-32) at a time: small enough that the
/// checksum runs on bytes still in the cache.
const CHUNK: usize = 1 << 20;

fn io_stop(e: std::io::Error) -> Stop {
    match e.kind() {
        std::io::ErrorKind::UnexpectedEof => Stop::Bad("the file ends early (did it change while being read?)".into()),
        _ => Stop::Io(e),
    }
}

/// Reads `out` from `rd` a chunk at a time into the CRC-32 `crc`.
fn read_crc(mut rd: impl std::io::Read, out: &mut [u8], crc: &mut crc32fast::Hasher) -> Result<(), Stop> {
    for c in out.chunks_mut(CHUNK) {
        rd.read_exact(c).map_err(io_stop)?;
        crc.update(c);
    }
    Ok(())
}

/// The payload reader: every byte read goes through the CRC-32.
struct R<Rd> {
    rd: Rd,
    crc: crc32fast::Hasher,
    /// Payload bytes not read yet.
    left: u64,
}

impl<Rd: std::io::Read> R<Rd> {
    fn fill(&mut self, out: &mut [u8]) -> Result<(), Stop> {
        if out.len() as u64 > self.left {
            return Err(Stop::Bad("the file ends early".into()));
        }
        read_crc(&mut self.rd, out, &mut self.crc)?;
        self.left -= out.len() as u64;
        Ok(())
    }
    /// Reads what is left (after a parse error), so that the checksum can
    /// tell whether the file is damaged.
    fn drain(&mut self) -> Result<(), Stop> {
        let mut buf = vec![0u8; usize::try_from(self.left).unwrap_or(CHUNK).min(CHUNK)];
        while self.left > 0 {
            let n = usize::try_from(self.left).unwrap_or(CHUNK).min(buf.len());
            self.fill(&mut buf[..n])?;
        }
        Ok(())
    }
    /// Every byte read: the checksum must match.
    fn finish(&mut self, crc: u32) -> Result<(), Stop> {
        if self.left != 0 {
            return Err(Stop::Bad("data after the last section".into()));
        }
        if self.crc.clone().finalize() != crc {
            return Err(Stop::Corrupt);
        }
        Ok(())
    }
    fn u64(&mut self) -> Result<u64, Stop> {
        let mut b = [0u8; 8];
        self.fill(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }
    fn f64(&mut self) -> Result<f64, Stop> {
        Ok(f64::from_bits(self.u64()?))
    }
    /// An element count, no more than the bytes left hold.
    fn len(&mut self, width: usize) -> Result<usize, Stop> {
        let n = self.u64()?;
        if n.checked_mul(width as u64).is_none_or(|bytes| bytes > self.left) {
            return Err(Stop::Bad("an array is longer than the file".into()));
        }
        usize::try_from(n).map_err(|_| Stop::Bad("an array length does not fit in memory".into()))
    }
    /// An array of `T`, read straight into its vector (converted in place
    /// on a big-endian machine).
    fn pods<T: bytemuck::Pod>(&mut self, from_le: impl Fn(&[u8]) -> T) -> Result<Vec<T>, Stop> {
        let n = self.len(std::mem::size_of::<T>())?;
        let mut v = vec![T::zeroed(); n];
        self.fill(bytemuck::cast_slice_mut::<T, u8>(&mut v))?;
        if cfg!(target_endian = "big") {
            for x in &mut v {
                *x = from_le(bytemuck::bytes_of(x));
            }
        }
        Ok(v)
    }
    fn u32s(&mut self) -> Result<Vec<u32>, Stop> {
        self.pods(|c| u32::from_le_bytes(c.try_into().expect("4")))
    }
    fn f64s(&mut self) -> Result<Vec<f64>, Stop> {
        self.pods(|c| f64::from_le_bytes(c.try_into().expect("8")))
    }
    fn f32s(&mut self) -> Result<Vec<f32>, Stop> {
        self.pods(|c| f32::from_le_bytes(c.try_into().expect("4")))
    }
    fn bytes(&mut self) -> Result<Vec<u8>, Stop> {
        self.pods(|c| c[0])
    }
    fn str(&mut self) -> Result<String, Stop> {
        String::from_utf8(self.bytes()?).map_err(|_| Stop::Bad("a text field is not UTF-8".into()))
    }
}

/// Reads a prepared network of `size` bytes from `rd`.
fn read_from(mut rd: impl std::io::Read, size: u64, name: &str) -> Result<PreparedNetwork, Failed> {
    let err = |reason: String| Failed::Refused(GeoError::NetFile { path: name.to_string(), reason });
    let again = "; import the map again with `corridor import`";
    let not_cnet = || err("not a Corridor prepared network (.cnet) file: make one with `corridor import MAP.osm.pbf --out FILE.cnet`".into());
    if size < HEADER as u64 {
        return Err(not_cnet());
    }
    let mut head = [0u8; HEADER];
    rd.read_exact(&mut head).map_err(Failed::Io)?;
    if &head[..16] != MAGIC {
        return Err(not_cnet());
    }
    let version = u32::from_le_bytes(head[16..20].try_into().expect("4"));
    if version != FORMAT_VERSION {
        return Err(err(format!(
            "written in network format version {version}, this corridor reads version {FORMAT_VERSION} (the file is stale){again}"
        )));
    }
    let len = u64::from_le_bytes(head[20..28].try_into().expect("8"));
    let crc = u32::from_le_bytes(head[28..32].try_into().expect("4"));
    let held = size - HEADER as u64;
    if held != len {
        return Err(err(format!("truncated or extended: the header says {len} bytes of data, the file holds {held}{again}")));
    }
    let corrupt = || err(format!("corrupt: the checksum does not match its contents{again}"));
    let mut r = R { rd, crc: crc32fast::Hasher::new(), left: len };
    match parse(&mut r, crc) {
        Ok(p) => Ok(p),
        Err(Stop::Io(e)) => Err(Failed::Io(e)),
        Err(Stop::Corrupt) => Err(corrupt()),
        // A damaged file is called damaged, whichever of its parts failed
        // to parse first.
        Err(Stop::Bad(reason)) => match r.drain().and_then(|()| r.finish(crc)) {
            Err(Stop::Io(e)) => Err(Failed::Io(e)),
            Err(Stop::Corrupt) => Err(corrupt()),
            _ => Err(err(format!("inconsistent contents: {reason}{again}"))),
        },
    }
}

/// Reads the payload, checks its CRC-32 (`crc`), then that its parts fit
/// together.
fn parse(r: &mut R<impl std::io::Read>, crc: u32) -> Result<PreparedNetwork, Stop> {
    let bad = |s: &str| Stop::Bad(s.to_string());
    let source = r.str()?;
    let attribution = r.str()?;
    let approximate = r.u64()? != 0;
    let profile = r.u64()?;
    let profile = u8::try_from(profile).ok().and_then(Profile::from_u8).ok_or_else(|| Stop::Bad(format!("unknown vehicle profile number {profile}")))?;
    let mut s = ImportStats::default();
    for v in [&mut s.highway_ways, &mut s.usable_ways, &mut s.missing_nodes, &mut s.nodes_before, &mut s.arcs_before, &mut s.nodes, &mut s.arcs] {
        *v = r.u64()?;
    }
    s.km_before = r.f64()?;
    s.km = r.f64()?;
    for v in [
        &mut s.restrictions,
        &mut s.restrictions_applied,
        &mut s.restrictions_not_for_vehicle,
        &mut s.restrictions_conditional,
        &mut s.restrictions_via_way,
        &mut s.restrictions_off_network,
        &mut s.restrictions_broken,
        &mut s.turn_nodes,
        &mut s.turn_arcs,
    ] {
        *v = r.u64()?;
    }
    let broken = r.len(8)?;
    s.broken_restrictions = (0..broken).map(|_| r.str()).collect::<Result<Vec<_>, _>>()?;
    let lat = r.f64s()?;
    let lon = r.f64s()?;
    let first_out = r.u32s()?;
    let tail = r.u32s()?;
    let head = r.u32s()?;
    let time_ms = r.u32s()?;
    let length_m = r.f32s()?;
    let capacity_vph = r.u32s()?;
    let class = r.bytes()?;
    let destination = r.bytes()?;
    let name = r.u32s()?;
    let name_count = r.len(8)?;
    let names = (0..name_count).map(|_| r.str()).collect::<Result<Vec<_>, _>>()?;
    let junction = r.u32s()?;
    let mut c: Vec<Vec<u32>> = Vec::with_capacity(18);
    for _ in 0..18 {
        c.push(r.u32s()?);
    }
    let middles = Middles { arcs: r.pods(|c| [0, 4, 8].map(|i| u32::from_le_bytes(c[i..i + 4].try_into().expect("4"))))? };
    let proj = Proj { lat0: r.f64()?, lon0: r.f64()?, kx: r.f64()?, ky: r.f64()? };
    let seg_arcs = r.u32s()?;
    let quad = |c: &[u8]| [0, 8, 16, 24].map(|i| f64::from_le_bytes(c[i..i + 8].try_into().expect("8")));
    let ends = r.pods(quad)?;
    let boxes = r.pods(quad)?;
    r.finish(crc)?;
    if destination.iter().any(|&d| d > 1) {
        return Err(bad("a destination flag is neither 0 nor 1"));
    }
    let destination: Vec<bool> = destination.into_iter().map(|d| d == 1).collect();
    let n = lat.len();
    let m = head.len();
    let ok = lon.len() == n
        && first_out.len() == n + 1
        && first_out.first() == Some(&0)
        && first_out.last().map(|&x| x as usize) == Some(m)
        && first_out.windows(2).all(|w| w[0] <= w[1])
        && [tail.len(), time_ms.len(), length_m.len(), capacity_vph.len(), class.len(), destination.len(), name.len()].iter().all(|&l| l == m)
        && head.iter().chain(&tail).all(|&v| (v as usize) < n)
        && junction.len() == n
        && junction.iter().all(|&j| (j as usize) < n && junction[j as usize] == j)
        && name.iter().all(|&i| (i as usize) < names.len())
        && time_ms.iter().all(|&t| t > 0 && t < cch::INF_WEIGHT);
    if !ok {
        return Err(bad("the road graph's arrays do not fit together"));
    }
    let mut it = c.into_iter();
    let mut next = || it.next().expect("18 arrays");
    let cch = Cch {
        rank: next(),
        order: next(),
        elimination_tree_parent: next(),
        up_first_out: next(),
        up_head: next(),
        up_tail: next(),
        down_first_out: next(),
        down_head: next(),
        down_to_up: next(),
        input_arc_to_cch_arc: next(),
        forward_input_arc_of_cch: next(),
        backward_input_arc_of_cch: next(),
        first_extra_forward_input_arc_of_cch: next(),
        extra_forward_input_arc_of_cch: next(),
        first_extra_backward_input_arc_of_cch: next(),
        extra_backward_input_arc_of_cch: next(),
    };
    let base_metric = Metric { forward: next(), backward: next() };
    check_cch(&cch, &base_metric, n, m).map_err(Stop::Bad)?;
    if middles.arcs.len() != cch.up_head.len() {
        return Err(bad("the shortcut middles do not fit the routing structure"));
    }
    let meta = NetworkMeta { source, attribution, approximate, profile, stats: s };
    let net = RoadNetwork { lat, lon, first_out, tail, head, time_ms, length_m, capacity_vph, class, destination, name, names, junction, meta };
    let segments = SegIndex { proj, arcs: seg_arcs, ends, boxes };
    if !segments.fits(&net) {
        return Err(bad("the segment index does not fit the road graph"));
    }
    Ok(PreparedNetwork { net, cch, base_metric, middles, segments })
}

/// Enough structure checks that the query code cannot index out of bounds.
fn check_cch(c: &Cch, m: &Metric, n: usize, input_arcs: usize) -> Result<(), String> {
    let a = c.up_head.len();
    let inv = cch::bundle::INVALID_ID;
    let in_nodes = |v: &[u32]| v.iter().all(|&x| (x as usize) < n);
    let csr = |f: &[u32]| f.len() == n + 1 && f.first() == Some(&0) && f.last().map(|&x| x as usize) == Some(a) && f.windows(2).all(|w| w[0] <= w[1]);
    let ok = c.rank.len() == n
        && c.order.len() == n
        && in_nodes(&c.rank)
        && in_nodes(&c.order)
        && c.elimination_tree_parent.len() == n
        && c.elimination_tree_parent.iter().enumerate().all(|(x, &p)| p == inv || ((p as usize) < n && p as usize > x))
        && csr(&c.up_first_out)
        && csr(&c.down_first_out)
        && [c.up_tail.len(), c.down_head.len(), c.down_to_up.len(), c.forward_input_arc_of_cch.len(), c.backward_input_arc_of_cch.len()].iter().all(|&l| l == a)
        && in_nodes(&c.up_head)
        && in_nodes(&c.up_tail)
        && in_nodes(&c.down_head)
        && c.down_to_up.iter().all(|&x| (x as usize) < a)
        && c.input_arc_to_cch_arc.len() == input_arcs
        && c.input_arc_to_cch_arc.iter().all(|&x| x == inv || (x as usize) < a)
        && c.forward_input_arc_of_cch.iter().chain(&c.backward_input_arc_of_cch).all(|&x| x == inv || (x as usize) < input_arcs)
        && c.first_extra_forward_input_arc_of_cch.len() == a + 1
        && c.first_extra_backward_input_arc_of_cch.len() == a + 1
        && c.first_extra_forward_input_arc_of_cch.last().map(|&x| x as usize) == Some(c.extra_forward_input_arc_of_cch.len())
        && c.first_extra_backward_input_arc_of_cch.last().map(|&x| x as usize) == Some(c.extra_backward_input_arc_of_cch.len())
        && c.first_extra_forward_input_arc_of_cch.windows(2).all(|w| w[0] <= w[1])
        && c.first_extra_backward_input_arc_of_cch.windows(2).all(|w| w[0] <= w[1])
        && c.extra_forward_input_arc_of_cch.iter().chain(&c.extra_backward_input_arc_of_cch).all(|&x| (x as usize) < input_arcs)
        && m.forward.len() == a
        && m.backward.len() == a;
    if ok { Ok(()) } else { Err("the routing structure's arrays do not fit together".into()) }
}
