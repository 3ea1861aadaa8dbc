//! `corridor notice`: the public notices the log calls for, rendered as SMS,
//! CAP 1.2 alerts, A4 leaflets or loudspeaker scripts, and (for SMS) sent
//! through the outbox; every notice sent or published is recorded in the
//! log as `notice_issued` with counts and hashes, never phone numbers.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use chrono::{DateTime, Utc};
use corridor_ledger::Appended;
use corridor_model::{Body, Channel, Event, Notice};
use corridor_notify::{cap, content, leaflet, send, sms, speech, Lang, NoticeSpec, Part, Renderer};
use sha2::{Digest, Sha256};

use corridor::datadir::DataDir;

pub struct NoticeArgs {
    pub format: String,
    pub corridor: Option<String>,
    pub window: Option<String>,
    pub lang: String,
    pub send: Option<String>,
    pub at: Option<DateTime<Utc>>,
    pub out: Option<PathBuf>,
    pub templates: Option<PathBuf>,
    pub recipients: Option<PathBuf>,
    pub kannel_url: String,
    pub kannel_user: String,
    pub kannel_password: String,
    pub kannel_from: Option<String>,
}

fn sha256_hex(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

pub fn run(dir: &Path, a: &NoticeArgs) -> Result<()> {
    let mut d = DataDir::open(dir)?;
    let events = super::read_events(&mut d)?;
    let at = a.at.unwrap_or_else(Utc::now);
    let langs = Lang::parse_list(&a.lang)?;
    let renderer = match &a.templates {
        Some(t) => Renderer::from_dir(t)?,
        None => Renderer::built_in(),
    };
    if a.send.is_some() && a.format != "sms" {
        bail!("--send is for --format sms; CAP alerts, leaflets and scripts are written to --out");
    }
    let list = content::current(&events, at, a.corridor.as_deref(), a.window.as_deref())?;
    if list.is_empty() {
        println!("no corridor is open or scheduled in the log as of {} (windows that have ended are not announced; pass --at to look at another instant)", at.to_rfc3339());
        return Ok(());
    }
    let issued: HashSet<String> = events.iter().filter(|e| matches!(e.body, Body::NoticeIssued(_))).map(|e| e.id.clone()).collect();
    let mut records = Vec::new();
    let mut failed = 0;
    match a.format.as_str() {
        "sms" => failed = sms_cmd(dir, a, &events, &list, &langs, &renderer, at, &issued, &mut records)?,
        "cap" => {
            let out = out_dir(a)?;
            let opt = cap::CapOptions { langs: langs.clone(), ..Default::default() };
            for n in &list {
                let xml = cap::alert(n, &renderer, &opt)?;
                let path = out.join(format!("{}.cap.xml", n.id));
                write(&path, xml.as_bytes())?;
                println!("{}  {:?} ({}): {}", n.id, n.kind, cap_type(n), path.display());
                records.push(record(n, Channel::Cap, &langs, xml.as_bytes(), at, &issued));
            }
        }
        "pdf" => {
            let out = out_dir(a)?;
            let router = corridor_geo::Router::new(corridor_geo::PreparedNetwork::prepare(corridor_geo::aleppo::builtin_network()?));
            for n in &list {
                let map = leaflet::map_layer(&router, n)?;
                let html = leaflet::html(n, &renderer, Some(&map))?;
                let path = out.join(format!("{}.pdf", n.id));
                leaflet::pdf(&html, &path)?;
                println!("{}  {:?}: {}", n.id, n.kind, path.display());
                records.push(record(n, Channel::Leaflet, &langs, &std::fs::read(&path)?, at, &issued));
            }
        }
        "speech" => {
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
                    records.push(record(n, Channel::Loudspeaker, &[lang], text.as_bytes(), at, &issued));
                }
            }
        }
        f => bail!("unknown --format {f:?}: use sms, cap, pdf or speech"),
    }
    // Only what was written or delivered is recorded, once per notice.
    let fresh: Vec<Event> = if a.format == "sms" || a.out.is_some() { records.into_iter().filter(|e| !issued.contains(&e.id)).collect() } else { Vec::new() };
    if !fresh.is_empty() {
        let ledger = d.ledger()?;
        let n = ledger.append(fresh).context("record the notices in the log")?.iter().filter(|o| matches!(o, Appended::New(_))).count();
        println!("{n} notice(s) recorded in the log as notice_issued");
    }
    if failed > 0 {
        bail!("{failed} message(s) not sent: they stay in {} and are retried by the next `corridor notice --send`", dir.join("outbox").join("pending").display());
    }
    Ok(())
}

fn cap_type(n: &NoticeSpec) -> &'static str {
    match n.kind {
        corridor_notify::Kind::Opening => "Alert",
        corridor_notify::Kind::Change => "Update",
        corridor_notify::Kind::Closing => "Cancel",
    }
}

fn out_dir(a: &NoticeArgs) -> Result<PathBuf> {
    let out = a.out.clone().ok_or_else(|| anyhow::anyhow!("--format {} writes files: give --out DIR", a.format))?;
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
/// `channel` in `language`: id `notice-CORRIDOR.WINDOW.N.CHANNEL.LANG`,
/// referencing the same channel's issue of the notice it replaces when that
/// was issued.
#[allow(clippy::too_many_arguments)]
fn notice_event(notice: &str, channel: Channel, language: &str, spec: Option<&NoticeSpec>, recipients: u64, recipients_sha256: Option<String>, content: &[u8], at: DateTime<Utc>, issued: &HashSet<String>) -> Event {
    let id = format!("{notice}.{}.{language}", channel_name(channel));
    let references = spec.and_then(|n| n.references.as_ref()).map(|r| format!("{r}.{}.{language}", channel_name(channel))).filter(|r| issued.contains(&format!("notice-{r}")));
    Event::new(
        format!("notice-{id}"),
        at,
        "hq",
        Body::NoticeIssued(Notice {
            notice: id,
            channel,
            language: language.into(),
            corridor: spec.map(|n| n.corridor.clone()),
            window: spec.map(|n| n.window.clone()),
            references,
            recipients,
            recipients_sha256,
            content_sha256: sha256_hex(content),
        }),
    )
}

fn record(n: &NoticeSpec, channel: Channel, langs: &[Lang], content: &[u8], at: DateTime<Utc>, issued: &HashSet<String>) -> Event {
    let language = langs.iter().map(|l| l.code()).collect::<Vec<_>>().join("+");
    notice_event(&n.id, channel, &language, Some(n), 0, None, content, at, issued)
}

#[allow(clippy::too_many_arguments)]
fn sms_cmd(
    dir: &Path,
    a: &NoticeArgs,
    events: &[Event],
    list: &[NoticeSpec],
    langs: &[Lang],
    renderer: &Renderer,
    at: DateTime<Utc>,
    issued: &HashSet<String>,
    records: &mut Vec<Event>,
) -> Result<usize> {
    let mut messages = Vec::new();
    for (i, n) in list.iter().enumerate() {
        for (j, &lang) in langs.iter().enumerate() {
            let text = renderer.render(n, lang, Part::Message)?;
            // Concatenation references differ between the messages of one run.
            let encoded = sms::encode(&text, ((i * langs.len() + j) % 256) as u8);
            println!(
                "── {} ({}): {}, {} segment(s), {} {} ──\n{text}\n",
                n.id,
                lang.code(),
                encoded.encoding.name(),
                encoded.segments.len(),
                encoded.units(),
                if encoded.encoding == sms::Encoding::Gsm7 { "septets" } else { "UTF-16 units" }
            );
            messages.push((n, lang, text, encoded));
        }
    }
    let Some(how) = &a.send else { return Ok(0) };
    let file = a.recipients.as_ref().ok_or_else(|| anyhow::anyhow!("--send needs --recipients FILE (one phone number per line, E.164, e.g. +963944000000)"))?;
    let recipients = read_recipients(file)?;
    let outbox = send::Outbox::open(dir.join("outbox"))?;
    for (n, lang, text, encoded) in messages {
        let id = format!("{}.sms.{}", n.id, lang.code());
        if issued.contains(&format!("notice-{id}")) {
            println!("{id}: already sent (in the log)");
            continue;
        }
        if outbox.queue(&send::OutMessage { id: id.clone(), text, encoded, recipients: recipients.clone() })? == send::Queued::AlreadySent {
            println!("{id}: already sent (in the outbox)");
        }
    }
    let mut sender: Box<dyn send::Sender> = match how.as_str() {
        "outbox" => Box::new(send::Folder::new(outbox.out_dir())),
        "kannel" => Box::new(send::Kannel::new(&a.kannel_url, &a.kannel_user, &a.kannel_password, a.kannel_from.clone())),
        s => bail!("unknown --send {s:?}: use outbox or kannel"),
    };
    // Every pending message is offered, also those an earlier run failed to
    // send; each one accepted is recorded with the notice it carries.
    let pending: Vec<send::OutMessage> = outbox.pending()?.into_iter().map(|p| p.message).collect();
    let all = content::notices(events, at);
    let mut failed = 0;
    for (id, result) in send::deliver(&outbox, sender.as_mut()) {
        match result {
            Ok(receipt) => {
                println!("sent {id} through {}: {} segment(s) to {} recipient(s)", sender.name(), receipt.segments_sent, receipt.recipients);
                if let Some(msg) = pending.iter().find(|m| m.id == id) {
                    let (notice, lang) = id.rsplit_once(".sms.").unwrap_or((id.as_str(), ""));
                    let spec = list.iter().chain(&all).find(|n| n.id == notice);
                    records.push(notice_event(notice, Channel::Sms, lang, spec, msg.recipients.len() as u64, Some(send::recipients_sha256(&msg.recipients)), msg.text.as_bytes(), at, issued));
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

fn read_recipients(file: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let l = line.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let digits = l.strip_prefix('+').unwrap_or("");
        if digits.len() < 7 || digits.len() > 15 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            bail!("{}:{}: {l:?} is not a phone number in E.164 form (+ then 7 to 15 digits, e.g. +963944000000)", file.display(), i + 1);
        }
        out.push(l.to_string());
    }
    if out.is_empty() {
        bail!("{}: no phone numbers", file.display());
    }
    Ok(out)
}
