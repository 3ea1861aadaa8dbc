//! `corridor notice`: the public notices the log calls for, rendered as SMS,
//! CAP 1.2 alerts, A4 leaflets or loudspeaker scripts, and (for SMS) sent
//! through the outbox.
//!
//! Printing, previewing and writing files record nothing. What reached the
//! public is recorded in the log as `notice_issued` (counts and hashes,
//! never phone numbers), at the real time it was recorded: an SMS when its
//! sender accepted it (`--send`), a CAP alert, leaflet or script when hq
//! says it was published (`--issue`). Records go to the log directly, or,
//! while `corridor serve` holds the log, through that server's API
//! (`--server URL --token HQ_TOKEN`). Event ids are deterministic, so a
//! retry never records a notice twice.
//!
//! Hours are in the time zone of the log's `operation_declared`, and
//! leaflets are drawn on the operation's map (`DATA_DIR/map.cnet`, checked
//! against the declared SHA-256). A log that declares no operation gets
//! hours in UTC and leaflets without a map, each with a note saying so.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use chrono::{DateTime, Utc};
use corridor_model::{Body, Channel, Event, Notice, Operation};
use corridor_notify::{cap, content, leaflet, send, sms, speech, Lang, NoticeSpec, Part, Renderer};
use sha2::{Digest, Sha256};

use corridor::datadir::DataDir;

use crate::cli::{NoticeArgs, NoticeFormat, NoticeLang, SendVia};
use crate::record::Recorder;

// Output is for the operator; a reader that has gone away (`| head`) must
// not stop a send half-way before it is recorded. This shadows the
// standard `println!` in this module: write errors are ignored.
macro_rules! println {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

fn sha256_hex(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

pub fn run(dir: &Path, a: &NoticeArgs) -> Result<()> {
    let mut d = DataDir::open(dir)?;
    if a.send.is_some() && a.format != NoticeFormat::Sms {
        bail!("--send is for --format sms; CAP alerts, leaflets and scripts are written to --out (and recorded as published with --issue)");
    }
    if a.issue && a.format == NoticeFormat::Sms {
        bail!("an SMS is recorded when its sender accepts it: use --send outbox|kannel with --recipients FILE, not --issue");
    }
    // Where the records go is settled before anything is sent: a message
    // sent but not recorded would be reported as never sent.
    let mut recorder = if a.send.is_some() || a.issue { Some(Recorder::open(&mut d, a.record.server.as_deref(), a.record.token.as_deref(), "notices")?) } else { None };
    if a.issue {
        if let Some(at) = a.at {
            eprintln!("warning: --at looks at the log as of {}, but what is issued now is recorded now", at.to_rfc3339());
        }
    }
    let events = crate::read::read_events(&mut d)?;
    let at = a.at.unwrap_or_else(Utc::now);
    let renderer = match &a.templates {
        Some(t) => Renderer::from_dir(t)?,
        None => Renderer::built_in(),
    };
    let operation = Operation::declared(&events);
    // The operation's languages unless --lang says otherwise (in the order
    // notices give them: Arabic, then English).
    let langs = match (&a.lang, &operation) {
        (Some(NoticeLang::Ar), _) => vec![Lang::Ar],
        (Some(NoticeLang::En), _) => vec![Lang::En],
        (Some(NoticeLang::Both), _) => Lang::ALL.to_vec(),
        (None, Some(o)) => Lang::ALL.iter().copied().filter(|l| o.languages.iter().any(|x| x == l.code())).collect(),
        (None, None) => Lang::ALL.to_vec(),
    };
    if operation.is_none() {
        eprintln!("note: the log declares no operation (operation_declared), so hours are given in UTC; declare the operation with its time zone and map (`corridor apply`) for local hours");
    }
    let list = content::current(&events, at, a.corridor.as_deref(), a.window.as_deref())?;
    if list.is_empty() {
        println!("no corridor is open or scheduled in the log as of {} (windows that have ended are not announced; pass --at to look at another instant)", at.to_rfc3339());
        return Ok(());
    }
    let issued: HashSet<String> = events.iter().filter(|e| matches!(e.body, Body::NoticeIssued(_))).map(|e| e.id.clone()).collect();
    let mut records = Vec::new();
    let mut failed = 0;
    match a.format {
        NoticeFormat::Sms => failed = sms_cmd(dir, a, &events, &list, &langs, &renderer, at, &issued, &mut records)?,
        NoticeFormat::Cap => {
            let out = out_dir(a)?;
            let sender = a.cap_sender.clone().unwrap_or_else(|| d.config.origin.clone());
            let opt = cap::CapOptions { sender, langs: langs.clone() };
            for n in &list {
                let xml = cap::alert(n, &renderer, &opt)?;
                let path = out.join(format!("{}.cap.xml", n.id));
                write(&path, xml.as_bytes())?;
                println!("{}  {:?} ({:?}): {}", n.id, n.kind, cap::message_type(n.kind), path.display());
                records.push(record(n, Channel::Cap, &langs, xml.as_bytes(), &issued));
            }
        }
        NoticeFormat::Pdf => {
            let out = out_dir(a)?;
            // The operation's map, checked before any leaflet is written.
            let router = match operation {
                Some(op) => Some(corridor_geo::Router::new(d.operation_map(op)?)),
                None => {
                    eprintln!("note: the log declares no operation, so there is no map to draw: the leaflets show the text only");
                    None
                }
            };
            for n in &list {
                let map = router.as_ref().map(|r| leaflet::map_layer(r, n)).transpose()?;
                let html = leaflet::html(n, &renderer, map.as_ref())?;
                let path = out.join(format!("{}.pdf", n.id));
                leaflet::pdf(&html, &path)?;
                println!("{}  {:?}: {}", n.id, n.kind, path.display());
                records.push(record(n, Channel::Leaflet, &Lang::ALL, &std::fs::read(&path)?, &issued));
            }
        }
        NoticeFormat::Speech => {
            let out = a.out.clone();
            if let Some(o) = &out {
                std::fs::create_dir_all(o).with_context(|| format!("cannot make {}", o.display()))?;
            }
            for n in &list {
                for &lang in &langs {
                    let text = speech::script(n, &renderer, lang)?;
                    println!("── {} ({}) ──\n{text}\n", n.id, lang.code());
                    if let Some(o) = &out {
                        let path = o.join(format!("{}.{}.wav", n.id, lang.code()));
                        match speech::wav(&text, lang, &path) {
                            Ok(()) => println!("audio: {}", path.display()),
                            Err(e) => eprintln!("no audio: {e}"),
                        }
                        write(&o.join(format!("{}.{}.txt", n.id, lang.code())), text.as_bytes())?;
                    }
                    records.push(record(n, Channel::Loudspeaker, &[lang], text.as_bytes(), &issued));
                }
            }
        }
    }
    // Only what was delivered (--send) or declared published (--issue) is
    // recorded, once per notice.
    match recorder.as_mut() {
        Some(r) => {
            let fresh: Vec<Event> = records.into_iter().filter(|e| !issued.contains(&e.id)).collect();
            if !fresh.is_empty() {
                let n = r.record(&mut d, fresh).context("record the notices in the log")?;
                println!("{n} notice(s) recorded in the log as notice_issued{}", r.via());
            } else if a.issue {
                println!("nothing new to record: every notice here is already in the log as issued");
            }
        }
        None if a.format != NoticeFormat::Sms && !records.is_empty() => {
            println!("nothing recorded: files and previews are not notices issued; once these were published, run the same command with --issue to record them as notice_issued");
        }
        None => {}
    }
    if failed > 0 {
        bail!("{failed} message(s) not sent: they stay in {} and are retried by the next `corridor notice --send {}`", dir.join("sms").join(a.send.map_or("", SendVia::name)).join("pending").display(), a.send.map_or("", SendVia::name));
    }
    Ok(())
}

fn out_dir(a: &NoticeArgs) -> Result<PathBuf> {
    let out = a.out.clone().ok_or_else(|| anyhow::anyhow!("--format {} writes files: give --out DIR", a.format.name()))?;
    std::fs::create_dir_all(&out).with_context(|| format!("cannot make {}", out.display()))?;
    Ok(out)
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}

fn channel_name(c: Channel) -> &'static str {
    match c {
        Channel::Sms => "sms",
        Channel::Cap => "cap",
        Channel::Leaflet => "leaflet",
        Channel::Loudspeaker => "loudspeaker",
    }
}

/// The `notice_issued` event for notice `notice` (`CORRIDOR.WINDOW.N`) on
/// `channel` in `language`: id `notice-CORRIDOR.WINDOW.N.TAG.LANG` (TAG the
/// channel, and for SMS the sender: `sms.kannel`), referencing the same
/// channel's issue of the notice it replaces when that was issued. Recorded
/// at the real time it was sent or written.
#[allow(clippy::too_many_arguments)]
fn notice_event(notice: &str, channel: Channel, tag: &str, language: &str, spec: Option<&NoticeSpec>, recipients: u64, recipients_hmac: Option<String>, content: &[u8], issued: &HashSet<String>) -> Event {
    let id = format!("{notice}.{tag}.{language}");
    let references = spec.and_then(|n| n.references.as_ref()).map(|r| format!("{r}.{tag}.{language}")).filter(|r| issued.contains(&format!("notice-{r}")));
    Event::new(
        format!("notice-{id}"),
        Utc::now(),
        "hq",
        Body::NoticeIssued(Notice {
            notice: id,
            channel,
            language: language.into(),
            corridor: spec.map(|n| n.corridor.clone()),
            window: spec.map(|n| n.window.clone()),
            references,
            recipients,
            recipients_hmac,
            content_sha256: sha256_hex(content),
        }),
    )
}

fn record(n: &NoticeSpec, channel: Channel, langs: &[Lang], content: &[u8], issued: &HashSet<String>) -> Event {
    let language = langs.iter().map(|l| l.code()).collect::<Vec<_>>().join("+");
    notice_event(&n.id, channel, channel_name(channel), &language, Some(n), 0, None, content, issued)
}

/// The key of the recipient lists' HMAC, `DATA_DIR/recipients.key`, made on
/// first use. It stays on this machine: the log holds only the HMAC.
fn recipients_key(dir: &Path) -> Result<Vec<u8>> {
    let path = dir.join("recipients.key");
    match std::fs::read_to_string(&path) {
        Ok(k) => hex::decode(k.trim()).with_context(|| format!("{} is not a hex key; move it away to make a new one (earlier HMACs then no longer match)", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key: [u8; 32] = rand::random();
            let tmp = path.with_extension("key.tmp");
            std::fs::write(&tmp, hex::encode(key)).with_context(|| format!("cannot write {}", tmp.display()))?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))?;
            }
            std::fs::rename(&tmp, &path)?;
            Ok(key.to_vec())
        }
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// `CORRIDOR.WINDOW.N` and the language of an SMS message id
/// (`CORRIDOR.WINDOW.N.sms.SENDER.LANG`).
fn sms_parts(id: &str) -> (&str, &str) {
    let (notice, rest) = id.rsplit_once(".sms.").unwrap_or((id, ""));
    (notice, rest.rsplit('.').next().unwrap_or(""))
}

#[allow(clippy::too_many_arguments)]
fn sms_cmd(
    dir: &Path,
    a: &NoticeArgs,
    events: &[Event],
    list_notices: &[NoticeSpec],
    langs: &[Lang],
    renderer: &Renderer,
    at: DateTime<Utc>,
    issued: &HashSet<String>,
    records: &mut Vec<Event>,
) -> Result<usize> {
    let mut messages = Vec::new();
    let via = a.send.unwrap_or(SendVia::Outbox);
    let how = via.name();
    for n in list_notices {
        for &lang in langs {
            let text = renderer.render(n, lang, Part::Message)?;
            let id = format!("{}.sms.{how}.{}", n.id, lang.code());
            // The concatenation reference comes from the message id, so two
            // messages a phone may hold at once rarely share one.
            let encoded = sms::try_encode(&text, Sha256::digest(id.as_bytes())[0]).map_err(|e| anyhow::anyhow!("{}: {e}", n.id))?;
            println!(
                "── {} ({}): {}, {} segment(s), {} {} ──\n{text}\n",
                n.id,
                lang.code(),
                encoded.encoding.name(),
                encoded.segments.len(),
                encoded.units(),
                if encoded.encoding == sms::Encoding::Gsm7 { "septets" } else { "UTF-16 units" }
            );
            messages.push((id, text, encoded));
        }
    }
    if a.send.is_none() {
        if let Some(file) = &a.recipients {
            // What a send to this list would record, without sending or
            // storing anything: its count and digest (no numbers).
            let key = recipients_key(dir)?;
            let mut digest = send::RecipientsDigest::new(&key);
            let reader = std::fs::File::open(file).with_context(|| format!("cannot read {}", file.display()))?;
            send::read_recipients(reader, &file.display().to_string(), |n| {
                digest.add(n);
                Ok(())
            })?;
            if digest.count() == 0 {
                bail!("{}: no phone numbers (one a line, E.164, e.g. +963944000000)", file.display());
            }
            println!("{}: {} recipient(s), digest {} (recorded with each notice sent to them; add --send outbox|kannel to send)", file.display(), digest.count(), digest.finish());
        }
        return Ok(0);
    }
    if a.at.is_some() {
        eprintln!("warning: --at looks at the log as of {}, but what is sent now is recorded now", at.to_rfc3339());
    }
    let file = a.recipients.as_ref().ok_or_else(|| anyhow::anyhow!("--send needs --recipients FILE (one phone number per line, E.164, e.g. +963944000000)"))?;
    let mut sender: Box<dyn send::Sender> = match via {
        SendVia::Outbox => Box::new(send::Folder::new(dir.join("sms").join(how).join("out"))),
        SendVia::Kannel => Box::new(send::Kannel::new(&a.kannel_url, &a.kannel_user, &a.kannel_password, a.kannel_from.clone())),
    };
    let key = recipients_key(dir)?;
    let outbox = send::Outbox::open(dir.join("sms").join(how))?;
    // The list is read a line at a time and stored in the outbox
    // (owner-only), never held in memory: millions of numbers take the
    // same memory as three.
    let reader = std::fs::File::open(file).with_context(|| format!("cannot read {}", file.display()))?;
    let list = outbox.store_recipients(reader, &file.display().to_string(), Some(&key))?;
    println!("{}: {} recipient(s)", file.display(), list.count);
    let all = content::notices(events, at);
    let tag = format!("sms.{how}");
    let event_for = |id: &str, count: u64, hmac: String, text: &str| {
        let (notice, lang) = sms_parts(id);
        let spec = list_specs(list_notices, &all, notice);
        notice_event(notice, Channel::Sms, &tag, lang, spec, count, Some(hmac), text.as_bytes(), issued)
    };
    let list_hmac = list.hmac.clone().unwrap_or_default();
    for (id, text, encoded) in messages {
        if issued.contains(&format!("notice-{id}")) {
            println!("{id}: already sent (in the log)");
            continue;
        }
        if outbox.queue(&send::OutMessage { id: id.clone(), text: text.clone(), encoded }, &list)? == send::Queued::AlreadySent {
            // Sent by an earlier run whose record did not reach the log.
            println!("{id}: already sent (in the outbox); recording it");
            records.push(event_for(&id, list.count, list_hmac.clone(), &text));
        }
    }
    // A message queued earlier for a notice that has since been replaced
    // (or whose window has ended) is not sent: residents get the current one.
    let current: HashSet<String> = content::current(events, at, None, None)?.into_iter().map(|n| n.id).collect();
    let superseded = outbox.dir().join("superseded");
    let mut pending = Vec::new();
    for p in outbox.pending()? {
        if current.contains(sms_parts(&p.message.id).0) {
            pending.push(p);
        } else {
            std::fs::create_dir_all(&superseded)?;
            std::fs::rename(&p.path, superseded.join(p.path.file_name().unwrap_or_default()))?;
            println!("{}: not sent, its notice is no longer current (kept in {})", p.message.id, superseded.display());
        }
    }
    // Every pending message is offered, also those an earlier run failed to
    // send or a crash interrupted (each goes on where it stopped); each one
    // accepted is recorded with the notice it carries.
    let mut failed = 0;
    for (id, result) in send::deliver(&outbox, sender.as_mut()) {
        match result {
            Ok(receipt) => {
                println!("sent {id} through {}: {} segment(s) to {} recipient(s)", sender.name(), receipt.segments_sent, receipt.recipients);
                if receipt.uncertain > 0 {
                    eprintln!(
                        "warning: {id}: {} recipient(s) of a batch a crash interrupted may or may not have it; they were not sent it again (the gateway cannot say what it took). Their numbers are in {}",
                        receipt.uncertain,
                        outbox.uncertain_path(&id).display()
                    );
                }
                if let Some(p) = pending.iter().find(|p| p.message.id == id) {
                    let hmac = match &p.recipients_hmac {
                        Some(h) => h.clone(),
                        // Queued by an older version: the digest from its stored list.
                        None => list_digest(&p.list, &key)?,
                    };
                    records.push(event_for(&id, p.recipients, hmac, &p.message.text));
                }
            }
            Err(e) => {
                failed += 1;
                eprintln!("not sent {id}: {e}");
            }
        }
    }
    Ok(failed)
}

/// The notice `id` among those listed now or ever in the log.
fn list_specs<'a>(list: &'a [NoticeSpec], all: &'a [NoticeSpec], id: &str) -> Option<&'a NoticeSpec> {
    list.iter().chain(all).find(|n| n.id == id)
}

/// The [`send::RecipientsDigest`] of a list stored in an outbox.
fn list_digest(path: &Path, key: &[u8]) -> Result<String> {
    let mut digest = send::RecipientsDigest::new(key);
    let reader = std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    send::read_recipients(reader, &path.display().to_string(), |n| {
        digest.add(n);
        Ok(())
    })?;
    Ok(digest.finish())
}
