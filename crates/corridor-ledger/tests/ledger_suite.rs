//! The ledger's contract, run on SQLite and (when DATABASE_URL is set) on
//! PostgreSQL: appends are validated all-or-nothing, deduplicated by id,
//! durable across reopen, group-committed across threads, and every proof
//! the ledger serves verifies against its signed checkpoint.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use corridor_ledger::merkle::{leaf_hash, verify_consistency, verify_inclusion};
use corridor_ledger::note::Signer;
use corridor_ledger::store::postgres::{drop_schema, PostgresStore};
use corridor_ledger::store::sqlite::SqliteStore;
use corridor_ledger::store::Store;
use corridor_ledger::verify::verify_log;
use corridor_ledger::{parse_checkpoint, Appended, Ledger, LedgerError};
use corridor_model::{Airdrop, Body, Event};

/// Opens fresh connections to one test store.
type Opener = Box<dyn Fn() -> Box<dyn Store>>;
/// A backend's name, how to open it, and how to clean up after it.
type Backend = (&'static str, Opener, Box<dyn FnOnce()>);

fn backends(tag: &str) -> Vec<Backend> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.sqlite");
    let dir = Arc::new(dir);
    let keep = dir.clone();
    let mut v: Vec<Backend> = vec![(
        "sqlite",
        Box::new(move || Box::new(SqliteStore::open(&path).unwrap()) as Box<dyn Store>),
        Box::new(move || drop(keep)),
    )];
    if let Some((url, schema)) = pg_schema(tag) {
        let (u, s) = (url.clone(), schema.clone());
        v.push((
            "postgres",
            Box::new(move || Box::new(PostgresStore::connect(&u, &s).unwrap()) as Box<dyn Store>),
            Box::new(move || drop_schema(&url, &schema).unwrap()),
        ));
    }
    v
}

/// An event that refers to nothing declared before it (an airdrop).
fn aid(id: &str, tonnes: f64) -> Event {
    Event::new(
        id,
        Utc.with_ymd_and_hms(2016, 12, 23, 9, 0, 0).unwrap(),
        "hq",
        Body::Airdrop(Airdrop { airdrop: id.into(), position: corridor_model::Position { lat: 36.2, lon: 37.15 }, contents: "food".into(), tonnes, recovered: true }),
    )
}

fn open(o: &Opener, signer: &Signer) -> Ledger {
    Ledger::open(o(), o(), Signer::from_skey(&signer.to_skey()).unwrap()).unwrap()
}

#[test]
fn appends_dedup_conflicts_and_reopen() {
    for (name, opener, cleanup) in backends("basic") {
        let signer = Signer::generate("test.invalid/basic").unwrap();
        let ledger = open(&opener, &signer);
        assert_eq!(ledger.len(), 0);
        let out = ledger.append(vec![aid("a", 1.0), aid("b", 2.0)]).unwrap();
        assert_eq!(out, vec![Appended::New(0), Appended::New(1)], "{name}");
        // A retry is a no-op answering the original positions; a new event in the same batch is appended.
        let out = ledger.append(vec![aid("b", 2.0), aid("c", 3.0), aid("c", 3.0)]).unwrap();
        assert_eq!(out, vec![Appended::Duplicate(1), Appended::New(2), Appended::Duplicate(2)], "{name}");
        // The same id with other content is refused, and nothing of its batch is written.
        match ledger.append(vec![aid("d", 1.0), aid("a", 9.0)]) {
            Err(LedgerError::Conflict { position: 1, index: 0, .. }) => {}
            other => panic!("{name}: {other:?}"),
        }
        // An invalid event refuses the whole batch.
        match ledger.append(vec![aid("e", 1.0), aid("f", -1.0)]) {
            Err(LedgerError::Invalid { position: 1, error, .. }) => assert!(error.field.ends_with("tonnes"), "{error}"),
            other => panic!("{name}: {other:?}"),
        }
        assert_eq!(ledger.len(), 3, "{name}");
        // The good events of refused batches were not kept: they append now, at the next positions.
        assert_eq!(ledger.append(vec![aid("d", 1.0)]).unwrap(), vec![Appended::New(3)], "{name}");
        assert_eq!(ledger.append(vec![aid("e", 1.0)]).unwrap(), vec![Appended::New(4)], "{name}");
        // A position that JSON could not carry back (NaN) is refused before anything is staged.
        let mut site = Event::new(
            "site-nan",
            Utc.with_ymd_and_hms(2016, 12, 23, 9, 0, 0).unwrap(),
            "hq",
            Body::SiteDeclared(corridor_model::Site {
                site: "s".into(),
                name: "s".into(),
                name_ar: None,
                kind: corridor_model::SiteKind::Destination,
                position: Some(corridor_model::Position { lat: f64::NAN, lon: 0.0 }),
            }),
        );
        assert!(matches!(ledger.append(vec![site.clone()]), Err(LedgerError::Invalid { .. })), "{name}");
        if let Body::SiteDeclared(s) = &mut site.body {
            s.position = None;
        }
        assert_eq!(ledger.append(vec![site]).unwrap(), vec![Appended::New(5)], "{name}");
        assert_eq!(ledger.len(), 6, "{name}");
        // Each position's id, from memory: the refused batches' ids went
        // back with them (d and e are where they were appended after).
        let ids = |l: &Ledger| l.ids_at(0..7);
        let want: Vec<Option<String>> = ["a", "b", "c", "d", "e", "site-nan"].iter().map(|s| Some(s.to_string())).chain([None]).collect();
        assert_eq!(ids(&ledger), want, "{name}");
        let cp = ledger.checkpoint();
        assert_eq!(cp.size, 6);
        drop(ledger);

        let ledger = open(&opener, &signer);
        assert_eq!(ledger.len(), 6, "{name}: reopened");
        assert_eq!(ledger.checkpoint(), cp, "{name}: the checkpoint survives reopen");
        assert_eq!(ledger.append(vec![aid("a", 1.0)]).unwrap(), vec![Appended::Duplicate(0)]);
        assert_eq!(ids(&ledger), want, "{name}: reopened");
        let events = ledger.events(0, 6).unwrap();
        assert_eq!(events[2].1, aid("c", 3.0));
        assert_eq!(events[3].1, aid("d", 1.0));
        drop(ledger);

        // Opened folding: every entry is handed on once, in order, as the
        // opening walk checks it (the server builds its views so).
        let mut seen = Vec::new();
        let ledger = Ledger::open_folding(opener(), opener(), Signer::from_skey(&signer.to_skey()).unwrap(), &mut |i, e| seen.push((i, e.clone()))).unwrap();
        assert_eq!(seen, events, "{name}: the events the opening walk hands on");
        drop(ledger);
        let mut seen = Vec::new();
        let follower = Ledger::open_follower_folding(opener(), Signer::from_skey(&signer.to_skey()).unwrap(), &mut |i, e| seen.push((i, e.clone()))).unwrap();
        assert_eq!(seen, events, "{name}: and a follower's");
        assert_eq!(ids(&follower), want, "{name}: a follower's");
        drop(follower);

        // Another key cannot take over the log.
        let other = Signer::generate("test.invalid/other").unwrap();
        assert!(matches!(Ledger::open(opener(), opener(), other), Err(LedgerError::WrongLog { .. })), "{name}");
        cleanup();
    }
}

#[test]
fn proofs_verify_against_signed_checkpoints() {
    for (name, opener, cleanup) in backends("proofs") {
        let signer = Signer::generate("test.invalid/proofs").unwrap();
        let ledger = open(&opener, &signer);
        let mut notes = vec![];
        for batch in 0..12 {
            let events: Vec<Event> = (0..(batch * 7 + 1)).map(|i| aid(&format!("e{batch}-{i}"), i as f64)).collect();
            ledger.append(events).unwrap();
            notes.push(ledger.checkpoint());
        }
        let verifier = signer.verifier();
        let last = parse_checkpoint(&notes.last().unwrap().note, &verifier).unwrap();
        assert_eq!(last.size, ledger.len());
        for (i, e) in ledger.entries(0, ledger.len()).unwrap().into_iter().enumerate() {
            assert_eq!(e.hash, leaf_hash(&e.leaf));
            let proof = ledger.inclusion_proof(i as u64, last.size).unwrap();
            verify_inclusion(i as u64, last.size, &e.hash, &proof, &last.root).unwrap_or_else(|err| panic!("{name}: {i}: {err}"));
        }
        for old in &notes[..notes.len() - 1] {
            let cp = parse_checkpoint(&old.note, &verifier).unwrap();
            let proof = ledger.consistency_proof(cp.size, last.size).unwrap();
            verify_consistency(cp.size, last.size, &cp.root, &last.root, &proof).unwrap_or_else(|err| panic!("{name}: {err}"));
        }
        assert!(ledger.inclusion_proof(0, last.size + 1).is_err(), "no proof beyond the durable size");
        // Full verification of the stored log.
        let mut store = opener();
        let mut seen = 0;
        let report = verify_log(store.as_mut(), &verifier, Some(&notes[3].note), &mut |_, _| seen += 1).unwrap();
        assert!(report.ok(), "{name}: {:?}", report.problems);
        assert_eq!(seen, ledger.len());
        assert_eq!(report.checkpoints_checked, 13, "{name}: one per commit plus the empty log's");
        assert!(report.consistent_with.is_some());
        cleanup();
    }
}

#[test]
fn concurrent_appends_share_group_commits_and_all_land() {
    for (name, opener, cleanup) in backends("group") {
        let signer = Signer::generate("test.invalid/group").unwrap();
        let ledger = Arc::new(open(&opener, &signer));
        std::thread::scope(|s| {
            for t in 0..8 {
                let ledger = ledger.clone();
                s.spawn(move || {
                    for b in 0..25 {
                        let events = (0..20).map(|i| {
                            Event::new(
                                format!("t{t}-b{b}-{i}"),
                                Utc.with_ymd_and_hms(2016, 12, 24, 9, 0, 0).unwrap(),
                                "hq",
                                Body::Airdrop(Airdrop { airdrop: format!("r{t}{b}{i}"), position: corridor_model::Position { lat: 36.2, lon: 37.15 }, contents: "medicine".into(), tonnes: 0.5, recovered: false }),
                            )
                        });
                        let out = ledger.append(events.collect()).unwrap();
                        assert!(out.iter().all(|o| matches!(o, Appended::New(_))));
                    }
                });
            }
        });
        assert_eq!(ledger.len(), 8 * 25 * 20, "{name}");
        let mut store = opener();
        let cps = store.checkpoints().unwrap();
        assert!(cps.len() <= 8 * 25 + 1, "{name}: at most one checkpoint per batch");
        let report = verify_log(store.as_mut(), &signer.verifier(), None, &mut |_, _| {}).unwrap();
        assert!(report.ok(), "{name}: {:?}", report.problems);
        drop(ledger);
        cleanup();
    }
}

#[test]
fn verify_finds_an_event_counted_twice_even_when_signed() {
    // Someone with the store and the key writes the same event twice behind
    // the ledger's back: the tree and signature check out, the ids do not.
    use corridor_ledger::merkle::Tree;
    use corridor_ledger::sign_checkpoint;
    use corridor_ledger::store::{StoredCheckpoint, StoredEntry};
    for (name, opener, cleanup) in backends("twice") {
        let signer = Signer::generate("test.invalid/twice").unwrap();
        let mut store = opener();
        let (same, other) = (aid("same", 1.0).canonical_bytes(), aid("other", 1.0).canonical_bytes());
        let mut tree = Tree::new();
        // Twice, another event, and a third time: each repeat is named
        // against the first, and only the repeats.
        let entries: Vec<StoredEntry> = [&same, &same, &other, &same]
            .into_iter()
            .enumerate()
            .map(|(i, bytes)| {
                let hash = leaf_hash(bytes);
                tree.push(hash);
                StoredEntry { index: i as u64, leaf: bytes.clone(), hash }
            })
            .collect();
        let cp = sign_checkpoint(&signer, 4, tree.root()).unwrap();
        store.append(&entries, Some(&StoredCheckpoint { size: 4, note: cp.note })).unwrap();
        let report = verify_log(store.as_mut(), &signer.verifier(), None, &mut |_, _| {}).unwrap();
        let problems: Vec<String> = report.problems.iter().map(ToString::to_string).collect();
        assert_eq!(problems.len(), 2, "{name}: {problems:?}");
        for at in [1, 3] {
            assert!(problems.iter().any(|p| p.starts_with(&format!("entry {at}:")) && p.contains("already used by entry 0")), "{name}: {problems:?}");
        }
        cleanup();
    }
}

/// A ledger opening its log does not re-serialize each leaf to check its
/// form (a tenth of the opening walk): the signed root proves the bytes are
/// the ones appended, checked canonical then. So a leaf rewritten in
/// another form (same event, other bytes) with its recorded hash to match
/// is refused by the root, and one the key's holder signed is opened but
/// named by `verify`, which checks the form of every leaf.
#[test]
fn a_leaf_in_another_form_is_refused_unless_signed_and_verify_names_it() {
    use corridor_ledger::merkle::Tree;
    use corridor_ledger::sign_checkpoint;
    use corridor_ledger::store::{StoredCheckpoint, StoredEntry};
    for signed_as_stored in [false, true] {
        for (name, opener, cleanup) in backends(if signed_as_stored { "form_signed" } else { "form" }) {
            let signer = Signer::generate("test.invalid/form").unwrap();
            let canonical: Vec<Vec<u8>> = ["a", "b", "c"].iter().map(|id| aid(id, 1.0).canonical_bytes()).collect();
            // Entry 1 as the same event in another form: a space after `{`.
            let other_form = [b"{ ".as_slice(), &canonical[1][1..]].concat();
            assert_eq!(corridor_model::parse::parse_signed_leaf(&other_form).unwrap(), aid("b", 1.0), "the same event");
            assert!(corridor_model::parse::parse_leaf(&other_form).is_err(), "not its canonical form");
            let stored: Vec<&Vec<u8>> = vec![&canonical[0], &other_form, &canonical[2]];
            let (mut signed_tree, mut stored_tree) = (Tree::new(), Tree::new());
            for (c, s) in canonical.iter().zip(&stored) {
                signed_tree.push(leaf_hash(c));
                stored_tree.push(leaf_hash(s));
            }
            let root = if signed_as_stored { stored_tree.root() } else { signed_tree.root() };
            let cp = sign_checkpoint(&signer, 3, root).unwrap();
            let entries: Vec<StoredEntry> = stored.iter().enumerate().map(|(i, b)| StoredEntry { index: i as u64, leaf: (*b).clone(), hash: leaf_hash(b) }).collect();
            opener().append(&entries, Some(&StoredCheckpoint { size: 3, note: cp.note })).unwrap();
            let opened = Ledger::open(opener(), opener(), Signer::from_skey(&signer.to_skey()).unwrap());
            if signed_as_stored {
                let ledger = opened.unwrap_or_else(|e| panic!("{name}: a log its key signed as stored opens: {e}"));
                assert_eq!(ledger.events(0, 3).unwrap().into_iter().map(|(_, e)| e.id).collect::<Vec<_>>(), ["a", "b", "c"], "{name}");
            } else {
                match opened {
                    Err(LedgerError::Corrupt { what, .. }) => assert!(what.contains("root"), "{name}: {what}"),
                    Err(e) => panic!("{name}: refused for another reason: {e}"),
                    Ok(_) => panic!("{name}: a leaf rewritten behind the signature was opened"),
                }
            }
            let report = verify_log(opener().as_mut(), &signer.verifier(), None, &mut |_, _| {}).unwrap();
            let problems: Vec<String> = report.problems.iter().map(ToString::to_string).collect();
            assert!(problems.iter().any(|p| p.starts_with("entry 1:") && p.contains("canonical")), "{name}: {problems:?}");
            cleanup();
        }
    }
}

/// The log's C2SP tiles: every hash tile is the tree's subtree hashes (so
/// hashing a tile's 256 hashes gives the hash one level up), every entry
/// bundle holds the stored leaves, and a tile beyond the durable size is
/// refused. An event over 65,535 bytes is refused before it is stored.
#[test]
fn tiles_hold_the_tree_and_the_leaves() {
    use corridor_ledger::merkle::node_hash;
    use corridor_ledger::tiles::{unbundle, Tile, TileKind};
    for (name, opener, cleanup) in backends("tiles") {
        let signer = Signer::generate("test.invalid/tiles").unwrap();
        let ledger = open(&opener, &signer);
        let events: Vec<Event> = (0..600).map(|i| aid(&format!("t{i}"), i as f64)).collect();
        ledger.append(events).unwrap();
        let size = ledger.len();
        let tiles: Vec<Tile> = Tile::all(size).collect();
        let paths: Vec<String> = tiles.iter().map(Tile::path).collect();
        assert_eq!(paths, ["tile/0/000", "tile/0/001", "tile/0/002.p/88", "tile/1/000.p/2", "tile/entries/000", "tile/entries/001", "tile/entries/002.p/88"], "{name}");
        let entries = ledger.entries(0, size).unwrap();
        let mut leaves = Vec::new();
        for t in &tiles {
            let data = ledger.tile(*t).unwrap();
            match t.kind {
                TileKind::Hash(0) => {
                    for (k, h) in data.chunks(32).enumerate() {
                        assert_eq!(h, &entries[t.range().start as usize + k].hash, "{name}: {}", t.path());
                    }
                }
                TileKind::Hash(_) => {
                    // Level 1 holds the root of each full level-0 tile.
                    for (k, h) in data.chunks(32).enumerate() {
                        let full = ledger.tile(Tile::full(TileKind::Hash(0), k as u64)).unwrap();
                        let mut level: Vec<[u8; 32]> = full.chunks(32).map(|c| c.try_into().unwrap()).collect();
                        while level.len() > 1 {
                            level = level.chunks(2).map(|p| node_hash(&p[0], &p[1])).collect();
                        }
                        assert_eq!(h, &level[0], "{name}");
                    }
                }
                TileKind::Entries => leaves.extend(unbundle(&data).unwrap().into_iter().map(<[u8]>::to_vec)),
            }
        }
        assert_eq!(leaves, entries.iter().map(|e| e.leaf.clone()).collect::<Vec<_>>(), "{name}");
        // A partial tile narrower than what is there is its prefix; one beyond is refused.
        let narrow = ledger.tile(Tile::parse("tile/0/002.p/5").unwrap()).unwrap();
        assert_eq!(narrow[..], ledger.tile(tiles[2]).unwrap()[..5 * 32]);
        assert!(matches!(ledger.tile(Tile::parse("tile/0/002.p/89").unwrap()), Err(LedgerError::NoSuchTile { .. })));
        assert!(ledger.tile(Tile::parse("tile/entries/003.p/1").unwrap()).is_err());
        // Too large for an entry bundle: refused, nothing stored.
        let mut big = aid("big", 1.0);
        if let Body::Airdrop(a) = &mut big.body {
            a.contents = "x".repeat(70_000);
        }
        let err = ledger.append(vec![big]).unwrap_err().to_string();
        assert!(err.contains("65535") && err.contains("split it"), "{name}: {err}");
        assert_eq!(ledger.len(), size);
        cleanup();
    }
}

/// Issue 20, item 10: a log opened with another key of the same name (a
/// replaced `log.key`) was reported as "stored entry N is corrupt". It is
/// named for what it is, with what to do, and the right key still opens it.
#[test]
fn a_replaced_key_is_reported_as_the_wrong_key_not_corruption() {
    for (name, opener, cleanup) in backends("wrongkey") {
        let signer = Signer::generate("test.invalid/wrongkey").unwrap();
        let ledger = open(&opener, &signer);
        ledger.append(vec![aid("a", 1.0), aid("b", 2.0)]).unwrap();
        drop(ledger);
        let replaced = Signer::generate("test.invalid/wrongkey").unwrap();
        match Ledger::open(opener(), opener(), Signer::from_skey(&replaced.to_skey()).unwrap()) {
            Err(e @ LedgerError::WrongKey { .. }) => {
                let msg = e.to_string();
                assert!(msg.contains("log.key") && msg.contains("Restore") && !msg.contains("corrupt"), "{name}: {msg}");
                assert!(msg.contains(&format!("{:08x}", signer.key_hash())) && msg.contains(&format!("{:08x}", replaced.key_hash())), "{name}: {msg}");
            }
            Err(other) => panic!("{name}: {other}"),
            Ok(_) => panic!("{name}: another key opened the log"),
        }
        // `verify` with the replaced key says whose signature it found.
        let problems = verify_log(opener().as_mut(), &replaced.verifier(), None, &mut |_, _| {}).unwrap().problems;
        assert!(problems.iter().any(|p| p.what.contains("is this the log's key?")), "{name}: {problems:?}");
        assert_eq!(open(&opener, &signer).len(), 2, "{name}: the right key still opens the log");
        cleanup();
    }
}

/// The PostgreSQL URL and a schema name of its own, when the PostgreSQL
/// tests run.
fn pg_schema(tag: &str) -> Option<(String, String)> {
    corridor_testkit::database_url().map(|url| (url, corridor_testkit::unique_schema(&format!("ledger_{tag}"))))
}

/// Two servers on one PostgreSQL log: the follower reads what the writer
/// appends; when the writer's lease is taken over, the new writer continues
/// the same tree and the old one can neither store nor sign anything, and
/// once demoted reads the new writer's entries. Also a follower's own
/// append is refused as "not the writer".
#[test]
fn a_follower_takes_over_and_the_old_writer_is_fenced() {
    let Some((url, schema)) = pg_schema("cluster") else { return };
    let connect = || PostgresStore::connect(&url, &schema).unwrap();
    let signer = Signer::generate("corridor.test/cluster").unwrap();
    let key = || Signer::from_skey(&signer.to_skey()).unwrap();
    let lease = std::time::Duration::from_secs(30);

    let mut sa = connect();
    assert_eq!(sa.acquire("a", "http://a", lease).unwrap(), Ok(1));
    let a = Ledger::open(Box::new(sa), Box::new(connect()), key()).unwrap();
    a.append(vec![aid("a-1", 1.0), aid("a-2", 2.0)]).unwrap();

    let b = Ledger::open_follower(Box::new(connect()), key()).unwrap();
    assert!(!b.is_writer());
    assert_eq!(b.len(), 2);
    assert!(matches!(b.append(vec![aid("b-0", 1.0)]), Err(LedgerError::NotWriter)));
    a.append(vec![aid("a-3", 3.0)]).unwrap();
    assert_eq!(b.refresh().unwrap(), 1);
    assert_eq!(b.checkpoint(), a.checkpoint());
    let before = a.checkpoint();

    // a's lease runs out (as if paused); b takes it over and continues.
    let mut admin = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    admin.execute(format!("UPDATE \"{schema}\".sequencer SET lease_until = clock_timestamp() - interval '1 second'").as_str(), &[]).unwrap();
    let mut sb = connect();
    assert_eq!(sb.acquire("b", "http://b", lease).unwrap(), Ok(2));
    b.promote(Box::new(sb)).unwrap();
    assert!(b.is_writer());
    assert_eq!(b.append(vec![aid("b-1", 1.0), aid("a-3", 3.0)]).unwrap(), vec![Appended::New(3), Appended::Duplicate(2)]);

    // a, resumed, cannot write: nothing of it is stored or signed.
    let late = a.append(vec![aid("a-late", 9.0)]);
    assert!(matches!(late, Err(LedgerError::Stopped(ref why)) if why.contains("another server")), "{late:?}");
    assert!(a.failed().is_some());
    assert_eq!(a.checkpoint(), before, "the old writer serves no checkpoint it could not store");
    a.demote().unwrap();
    assert!(!a.is_writer() && a.failed().is_none());
    a.refresh().unwrap();
    assert_eq!(a.checkpoint(), b.checkpoint());
    assert_eq!(a.position_of("a-late"), None);
    assert_eq!(a.position_of("b-1"), Some(3));
    let new = parse_checkpoint(&b.checkpoint().note, &signer.verifier()).unwrap();
    let proof = b.consistency_proof(before.size, new.size).unwrap();
    verify_consistency(before.size, new.size, &before.root, &new.root, &proof).unwrap();
    let mut check = connect();
    let report = verify_log(&mut check, &signer.verifier(), Some(&before.note), &mut |_, _| {}).unwrap();
    assert!(report.ok(), "{:?}", report.problems);
    assert_eq!(report.entries, 4);
    drop((a, b, check));
    drop_schema(&url, &schema).unwrap();
}

/// A follower never follows a log that went back: one truncated to an
/// earlier checkpoint, or emptied, is refused and the follower stops
/// (it keeps serving what it had, and says why).
#[test]
fn a_follower_refuses_a_log_that_shrank_or_vanished() {
    let Some((url, schema)) = pg_schema("shrink") else { return };
    let connect = || PostgresStore::connect(&url, &schema).unwrap();
    let signer = Signer::generate("corridor.test/shrink").unwrap();
    let key = || Signer::from_skey(&signer.to_skey()).unwrap();
    let mut admin = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    for (case, sql) in [("truncated", "DELETE FROM entries WHERE idx >= 2; DELETE FROM checkpoints WHERE size > 2"), ("emptied", "DELETE FROM entries; DELETE FROM checkpoints")] {
        drop_schema(&url, &schema).unwrap();
        let a = Ledger::open(Box::new(connect()), Box::new(connect()), key()).unwrap();
        a.append(vec![aid("s-1", 1.0), aid("s-2", 2.0)]).unwrap();
        a.append(vec![aid("s-3", 3.0)]).unwrap();
        drop(a);
        let b = Ledger::open_follower(Box::new(connect()), key()).unwrap();
        assert_eq!(b.len(), 3);
        let before = b.checkpoint();
        admin.batch_execute(&format!("SET search_path = \"{schema}\"; {sql}")).unwrap();
        let e = b.refresh().expect_err(case);
        assert!(matches!(e, LedgerError::Corrupt { .. }), "{case}: {e}");
        assert!(b.failed().is_some(), "{case}: the follower stops");
        assert_eq!(b.checkpoint(), before, "{case}: it keeps what it served");
        assert!(b.demote().is_err(), "{case}: a reload does not adopt the shorter log");
        assert_eq!(b.len(), 3);
    }
    drop_schema(&url, &schema).unwrap();
}

/// `Ledger::events` serves only entries whose bytes hash to the leaves the
/// ledger verified when it opened (or appended) them: an entry altered in
/// the store afterwards, its recorded hash altered with it, is refused
/// with its index, not served.
#[test]
fn events_altered_in_the_store_after_opening_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.sqlite");
    let signer = Signer::generate("test.invalid/altered").unwrap();
    let ledger = Ledger::open(Box::new(SqliteStore::open(&path).unwrap()), Box::new(SqliteStore::open(&path).unwrap()), signer).unwrap();
    ledger.append(vec![aid("a", 1.0), aid("b", 2.0), aid("c", 3.0)]).unwrap();
    assert_eq!(ledger.events(0, 3).unwrap().iter().map(|(i, e)| (*i, e.id.as_str())).collect::<Vec<_>>(), [(0, "a"), (1, "b"), (2, "c")]);
    let c = rusqlite::Connection::open(&path).unwrap();
    let leaf: Vec<u8> = c.query_row("SELECT leaf FROM entries WHERE idx = 1", [], |r| r.get(0)).unwrap();
    let altered = String::from_utf8(leaf.clone()).unwrap().replace("\"contents\":\"food\"", "\"contents\":\"fuel\"").into_bytes();
    assert!(altered != leaf && corridor_model::parse::parse_leaf(&altered).is_ok(), "still a valid, canonical event");
    c.execute("UPDATE entries SET leaf = ?1, hash = ?2 WHERE idx = 1", rusqlite::params![altered, leaf_hash(&altered).to_vec()]).unwrap();
    match ledger.events(0, 3) {
        Err(LedgerError::Corrupt { index: 1, what }) => assert!(what.contains("altered"), "{what}"),
        other => panic!("an altered entry was served: {other:?}"),
    }
    // The raw entries (the API's reads, receipts and entry tiles) are refused the same way.
    assert!(matches!(ledger.entries(1, 2), Err(LedgerError::Corrupt { index: 1, .. })), "an altered entry's bytes were served");
    assert_eq!(ledger.events(2, 3).unwrap().len(), 1, "the others are still served");
}
