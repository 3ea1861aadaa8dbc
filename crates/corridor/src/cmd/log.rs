//! `corridor log`: append, show and export entries; the signed checkpoint and the key.

use std::io::Write;
use std::path::Path;

use anyhow::{bail, Context, Result};
use base64::Engine as _;
use corridor::datadir::DataDir;
use corridor_ledger::Appended;
use corridor_model::parse::parse_stream;

use crate::cli::LogCommand;
use crate::read::{checked_walk, signed_store};

pub fn run(dir: &Path, cmd: LogCommand) -> Result<()> {
    let mut d = DataDir::open(dir)?;
    match cmd {
        LogCommand::Append { file } => append(&mut d, file.as_deref())?,
        // Reads go to the store directly, without the writer lock: they work
        // while another process (a server) appends. They stop at the latest
        // signed checkpoint, so what they show is always covered by one.
        // Shown only from a log that checks out whole: one checked walk
        // (nothing printed), then the entries read again through the replay,
        // each re-checked against the root that walk verified, those in
        // the range printed.
        LogCommand::Show { from, to, json } => {
            let checked = checked_walk(&mut d, None, &mut |_, _| {})?;
            let (size, root) = (checked.checkpoint.size, checked.checkpoint.root);
            let end = to.unwrap_or(u64::MAX).min(size);
            let mut out = std::io::stdout().lock();
            let mut written = Ok(());
            let mut store = d.store()?;
            corridor_ledger::verify::replay(store.as_mut(), size, &root, &mut |i, hash, ev| {
                if i < from || i >= end || written.is_err() {
                    return;
                }
                written = if json {
                    writeln!(out, "{}", serde_json::json!({ "index": i, "leaf_hash": hex::encode(hash), "event": ev }))
                } else {
                    writeln!(out, "{i:>7}  {}  {:<22} {:<14} {}", ev.time.format("%Y-%m-%d %H:%M:%SZ"), ev.body.kind(), ev.author, ev.id)
                };
            })
            .context("the log changed after it was checked; run `corridor log show` again")?;
            written?;
        }
        LogCommand::Export { tiles: Some(to), .. } => {
            let (n, files) = export_tiles(&mut d, &to)?;
            eprintln!("exported {n} entries as {files} tiles and the checkpoint to {}", to.display());
        }
        // An export is the stored leaves as they are, not checked here on
        // purpose: it is what an independent checker verifies (`corridor
        // verify --export` or `--tiles`, a monitor), and a damaged log is
        // exported as evidence rather than refused.
        LogCommand::Export { out, checkpoint_out, tiles: None } => {
            let (mut store, cp) = signed_store(&mut d)?;
            if let Some(p) = &checkpoint_out {
                std::fs::write(p, &cp.note).with_context(|| format!("cannot write {}", p.display()))?;
            }
            let mut w: Box<dyn Write> = match &out {
                Some(p) => Box::new(std::io::BufWriter::new(std::fs::File::create(p).with_context(|| format!("cannot create {}", p.display()))?)),
                None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
            };
            let n = cp.size;
            let b64 = base64::engine::general_purpose::STANDARD;
            each_entry(store.as_mut(), 0, n, |e| Ok(writeln!(w, "{}", b64.encode(&e.leaf))?))?;
            w.flush()?;
            if let Some(p) = out {
                eprintln!("exported {n} entries to {}", p.display());
            }
        }
        LogCommand::Checkpoint => print!("{}", signed_store(&mut d)?.1.note),
        LogCommand::Key => println!("{}", d.signer()?.verifier().to_vkey()),
    }
    Ok(())
}

/// Events appended per batch by `log append` (each batch one group commit).
const APPEND_BATCH: usize = 10_000;

/// `log append`: the input read twice, one event at a time, so memory
/// holds a batch and the input's ids, whatever its size: first checked
/// whole against the log ([`corridor_ledger::Precheck`]), then appended in
/// batches that cannot be refused. All or nothing for anything wrong in
/// the input; after a crash part-way, the same command again appends the
/// rest (what is in the log is answered as a duplicate).
fn append(d: &mut DataDir, file: Option<&Path>) -> Result<()> {
    use std::io::BufReader;
    let ledger = d.ledger()?;
    // Stdin is read once, into a file of our own (owner-only, removed when
    // done), to be read twice.
    let (path, _spool) = match file {
        Some(p) if p != Path::new("-") => (p.to_path_buf(), None),
        _ => {
            let mut spool = tempfile::Builder::new().prefix("append-").suffix(".events").tempfile_in(&d.path).with_context(|| format!("cannot make a file for stdin in {}", d.path.display()))?;
            std::io::copy(&mut std::io::stdin().lock(), spool.as_file_mut()).context("cannot read events from stdin; nothing was appended")?;
            (spool.path().to_path_buf(), Some(spool))
        }
    };
    let open = || std::fs::File::open(&path).map(BufReader::new).with_context(|| format!("cannot read {}", path.display()));
    let mut precheck = ledger.precheck();
    let n = parse_stream(open()?, &mut |i, e| precheck.check(i, &e)).context("nothing was appended")?;
    drop(precheck);
    let progress = n > APPEND_BATCH;
    let (mut new, mut done, mut shown) = (0usize, 0usize, Vec::new());
    let mut batch = Vec::with_capacity(APPEND_BATCH.min(n));
    let mut flush = |batch: &mut Vec<corridor_model::Event>, done: &mut usize| -> Result<(), corridor_ledger::LedgerError> {
        if batch.is_empty() {
            return Ok(());
        }
        let ids: Vec<String> = if n <= 20 { batch.iter().map(|e| e.id.clone()).collect() } else { vec![] };
        let len = batch.len();
        let outcomes = ledger.append(std::mem::take(batch))?;
        new += outcomes.iter().filter(|o| matches!(o, Appended::New(_))).count();
        shown.extend(ids.into_iter().zip(outcomes));
        *done += len;
        if progress {
            eprintln!("appended {done} of {n} events");
        }
        Ok(())
    };
    let appended = parse_stream::<_, corridor_ledger::LedgerError>(open()?, &mut |_, e| {
        batch.push(e);
        if batch.len() == APPEND_BATCH {
            flush(&mut batch, &mut done)?;
        }
        Ok(())
    })
    .map_err(anyhow::Error::from)
    .and_then(|_| flush(&mut batch, &mut done).map_err(anyhow::Error::from));
    if let Err(e) = appended {
        bail!(
            "{e:#}\nthe first {done} of the {n} events are in the log; run the same command again to append the rest \
             (the events already in the log are recognised and not appended twice)"
        );
    }
    // Small batches: say where each event is (a retry learns its original position).
    for (id, o) in &shown {
        match o {
            Appended::New(i) => println!("{id}: appended at index {i}"),
            Appended::Duplicate(i) => println!("{id}: already in the log at index {i}, not appended again"),
        }
    }
    println!("appended {new} new event(s), {} already in the log; log size {}", n - new, ledger.len());
    Ok(())
}

/// `log export --tiles`: the checkpoint and every tile of the log at its
/// latest signed checkpoint, as files a static web server can serve.
fn export_tiles(d: &mut DataDir, to: &Path) -> Result<(u64, u64)> {
    use corridor_ledger::merkle::Tree;
    use corridor_ledger::tiles::{bundle, Tile, TileKind, TILE_WIDTH};
    let (mut store, cp) = signed_store(d)?;
    let mut tree = Tree::new();
    let write = |t: &Tile, data: &[u8]| -> Result<()> {
        let p = to.join(t.path());
        std::fs::create_dir_all(p.parent().expect("a tile path has a parent")).with_context(|| format!("cannot create {}", to.display()))?;
        std::fs::write(&p, data).with_context(|| format!("cannot write {}", p.display()))
    };
    let mut files = 0;
    let mut leaves: Vec<Vec<u8>> = Vec::with_capacity(TILE_WIDTH as usize);
    let mut n = 0;
    each_entry(store.as_mut(), 0, cp.size, |e| {
        tree.push(e.hash);
        leaves.push(e.leaf);
        if leaves.len() as u64 == TILE_WIDTH || e.index + 1 == cp.size {
            let t = Tile { kind: TileKind::Entries, index: n, width: leaves.len() as u16 };
            write(&t, &bundle(leaves.iter().map(Vec::as_slice))?)?;
            files += 1;
            leaves.clear();
            n += 1;
        }
        Ok(())
    })?;
    let root = tree.root();
    let signed = corridor_ledger::parse_checkpoint(&cp.note, &d.signer()?.verifier()).map_err(|e| anyhow::anyhow!("{e}"))?;
    if signed.root != root || tree.len() != cp.size {
        bail!("the stored entries do not hash to the latest signed checkpoint; run `corridor verify`");
    }
    for t in Tile::all(cp.size).filter(|t| t.kind != TileKind::Entries) {
        let TileKind::Hash(level) = t.kind else { continue };
        let r = t.range();
        let hashes = tree.level_hashes(Tile::tree_level(level), r.start, r.end).expect("the tree has every tile of its size");
        write(&t, &hashes.concat())?;
        files += 1;
    }
    std::fs::write(to.join("checkpoint"), &cp.note).with_context(|| format!("cannot write {}", to.join("checkpoint").display()))?;
    Ok((cp.size, files))
}

/// Calls `f` on entries `start..end`, read 10,000 at a time.
fn each_entry(
    store: &mut dyn corridor_ledger::store::Store,
    start: u64,
    end: u64,
    mut f: impl FnMut(corridor_ledger::store::StoredEntry) -> Result<()>,
) -> Result<()> {
    let mut at = start;
    while at < end {
        let stop = (at + 10_000).min(end);
        for e in store.read(at, stop)? {
            f(e)?;
        }
        at = stop;
    }
    Ok(())
}
