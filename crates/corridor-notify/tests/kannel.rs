//! A real Kannel round trip: bearerbox + smsbox on loopback, a `fake` SMSC
//! and Kannel's own `fakesmsc` (kannel-extras) on the other side of it.
//! A long Arabic notice (several UCS-2 segments) and an English one (GSM-7)
//! go through the outbox and the `Kannel` sender; every segment must come
//! out at fakesmsc with its concatenation header and the exact payload
//! bytes, and Kannel's access log must show each with the right coding.
//!
//! First the gateway is down: delivery fails with the "cannot reach"
//! error and the messages stay pending; then Kannel is started and the
//! same outbox delivers them.
//!
//! Needs `apt-get install kannel kannel-extras`; without bearerbox the test
//! prints "skipped: kannel not installed" and passes (fails under
//! `CORRIDOR_TEST_REQUIRE_ALL=1`, as in CI: see `corridor_testkit::skip`).

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use corridor_aleppo as aleppo;
use corridor_geo::{PreparedNetwork, Router};
use corridor_notify::send::{deliver, recipients_hmac, Kannel, OutMessage, Outbox, Queued, SendError};
use corridor_notify::sms::{self, Encoding};
use corridor_notify::{content, Lang, Part, Renderer};
use corridor_plan::scenario::{Scenario, ALEPPO_2016};

fn find(candidates: &[&str]) -> Option<PathBuf> {
    candidates.iter().map(PathBuf::from).find(|p| p.is_file())
}

/// Kills every child it started when dropped, also when the test panics.
struct Gateway {
    children: Vec<(&'static str, Child)>,
}

impl Gateway {
    fn spawn(&mut self, name: &'static str, cmd: &mut Command, log: &Path) {
        let out = fs::File::create(log).unwrap();
        let err = out.try_clone().unwrap();
        let child = cmd.stdin(Stdio::null()).stdout(out).stderr(err).spawn().unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        self.children.push((name, child));
    }

    /// Panics if a child has exited (with its log tail).
    fn check_alive(&mut self, dir: &Path) {
        for (name, c) in &mut self.children {
            if let Ok(Some(status)) = c.try_wait() {
                let log = fs::read_to_string(dir.join(format!("{name}.out"))).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(15).collect::<Vec<_>>().into_iter().rev().collect();
                panic!("{name} exited ({status}):\n{}", tail.join("\n"));
            }
        }
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        // Last started first: fakesmsc, smsbox, bearerbox.
        while let Some((_, mut c)) = self.children.pop() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn free_ports<const N: usize>() -> [u16; N] {
    let ls: Vec<TcpListener> = (0..N).map(|_| TcpListener::bind("127.0.0.1:0").unwrap()).collect();
    std::array::from_fn(|i| ls[i].local_addr().unwrap().port())
}

fn http_get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(500)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    use std::io::Write;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut body = String::new();
    s.read_to_string(&mut body).ok()?;
    Some(body)
}

fn wait_for(what: &str, timeout: Duration, gw: &mut Gateway, dir: &Path, mut ok: impl FnMut() -> bool) {
    let t = Instant::now();
    while !ok() {
        gw.check_alive(dir);
        assert!(t.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Kannel's url-encoding as smsc_fake writes it: %XX, and '+' for a space.
fn url_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).expect("a %XX escape"));
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// One SMS fakesmsc received.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Received {
    from: String,
    to: String,
    udh: Vec<u8>,
    data: Vec<u8>,
}

/// fakesmsc logs `Got message N: <FROM TO udh UDH data DATA>` (or
/// `FROM TO text|data|ucs-2 DATA` without a header).
fn received(log: &str) -> Vec<Received> {
    log.lines()
        .filter_map(|l| {
            let start = l.find("Got message ")?;
            let line = &l[start..];
            let inner = &line[line.find('<')? + 1..line.rfind('>')?];
            let f: Vec<&str> = inner.splitn(6, ' ').collect();
            Some(match f.as_slice() {
                [from, to, "udh", udh, "data", data] => Received { from: from.to_string(), to: to.to_string(), udh: url_decode(udh), data: url_decode(data) },
                [from, to, kind, rest @ ..] => {
                    let data = rest.join(" ");
                    let data = if *kind == "text" { data.into_bytes() } else { url_decode(&data) };
                    Received { from: from.to_string(), to: to.to_string(), udh: Vec::new(), data }
                }
                _ => panic!("unexpected fakesmsc line {l:?}"),
            })
        })
        .collect()
}

/// (to, udh hex) → coding, from bearerbox's access log:
/// `Sent SMS [SMSC:fake] … [to:+963…] [flags:-1:2:-1:-1:-1] [msg:…] [udh:6:050003…]`.
fn codings(log: &str) -> BTreeMap<(String, String), i32> {
    let field = |l: &str, name: &str| -> Option<String> {
        let start = l.find(&format!("[{name}:"))? + name.len() + 2;
        Some(l[start..start + l[start..].find(']')?].to_string())
    };
    log.lines()
        .filter(|l| l.contains("Sent SMS"))
        .filter_map(|l| {
            let to = field(l, "to")?;
            let coding: i32 = field(l, "flags")?.split(':').nth(1)?.parse().ok()?;
            let udh = field(l, "udh")?;
            let udh = udh.split_once(':').map(|(_, h)| h.to_ascii_lowercase()).unwrap_or_default();
            Some(((to, udh), coding))
        })
        .collect()
}

fn notices() -> (String, String, String) {
    let sc = Scenario::parse(ALEPPO_2016, "aleppo-2016.toml").unwrap();
    let router = Router::new(PreparedNetwork::prepare(aleppo::builtin_network().unwrap()));
    let events = common::declared("Asia/Damascus", corridor_plan::sim::simulate(&sc, &router).unwrap().events);
    let at: DateTime<Utc> = "2016-12-15T04:30:00Z".parse().unwrap();
    let n = content::notices(&events, at).into_iter().next().expect("the reference scenario has a notice");
    let r = Renderer::built_in();
    let text = |l: Lang| format!("{}\n{}", r.render(&n, l, Part::Message).unwrap(), r.render(&n, l, Part::Instruction).unwrap());
    (n.id.clone(), text(Lang::Ar), text(Lang::En))
}

#[test]
fn kannel_round_trip_every_segment_arrives() {
    let (Some(bearerbox), Some(smsbox)) = (find(&["/usr/sbin/bearerbox", "/usr/bin/bearerbox"]), find(&["/usr/sbin/smsbox", "/usr/bin/smsbox"])) else {
        corridor_testkit::skip("kannel not installed (apt-get install kannel kannel-extras)");
        return;
    };
    let Some(fakesmsc) = find(&["/usr/lib/kannel/test/fakesmsc", "/usr/lib/kannel/fakesmsc", "/usr/bin/fakesmsc"]) else {
        corridor_testkit::skip("kannel not installed (fakesmsc missing: apt-get install kannel-extras)");
        return;
    };

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let [admin, boxport, smsc, sendsms] = free_ports::<4>();
    let url = format!("http://127.0.0.1:{sendsms}/cgi-bin/sendsms");

    // The messages, queued before the gateway exists.
    let (id, ar, en) = notices();
    let recipients: Vec<String> = vec!["+963944000001".into(), "+963944000002".into()];
    let ar_msg = OutMessage { id: format!("{id}.ar"), text: ar.clone(), encoded: sms::encode(&ar, 0x2A) };
    let en_msg = OutMessage { id: format!("{id}.en"), text: en.clone(), encoded: sms::encode(&en, 0x2B) };
    assert_eq!(ar_msg.encoded.encoding, Encoding::Ucs2);
    assert!(ar_msg.encoded.segments.len() >= 3, "the Arabic notice is {} segments", ar_msg.encoded.segments.len());
    assert_eq!(en_msg.encoded.encoding, Encoding::Gsm7, "the English notice: {en}");
    assert!(en_msg.encoded.segments.len() >= 2);
    let outbox = Outbox::open(dir.join("outbox")).unwrap();
    let list = outbox.store_recipients(recipients.join("\n").as_bytes(), "recipients", Some(b"test")).unwrap();
    assert_eq!(outbox.queue(&ar_msg, &list).unwrap(), Queued::Added);
    assert_eq!(outbox.queue(&en_msg, &list).unwrap(), Queued::Added);

    let mut kannel = Kannel::new(&url, "corridor", "s3cret", Some("Corridor".into()));

    // 1. Nothing listens on the sendsms port yet.
    let t = Instant::now();
    let r = deliver(&outbox, &mut kannel);
    assert!(t.elapsed() < Duration::from_secs(10), "an unreachable gateway must fail fast");
    assert_eq!(r.len(), 2);
    for (mid, res) in &r {
        let e = res.as_ref().expect_err("nothing is listening");
        assert!(matches!(e, SendError::Unreachable { .. }), "{mid}: {e}");
        let s = e.to_string();
        println!("{mid}: {s}");
        assert!(s.contains(&url) && s.contains("stays in the outbox"), "{s}");
        assert!(!s.contains("s3cret") && !s.contains("+963"), "the error leaks a secret or number: {s}");
    }
    assert_eq!(outbox.pending().unwrap().len(), 2);
    assert!(!outbox.sent_path(&ar_msg.id).exists());

    // 2. Start Kannel.
    let conf = dir.join("kannel.conf");
    fs::create_dir_all(dir.join("spool")).unwrap();
    let d = dir.display();
    fs::write(
        &conf,
        format!(
            r#"group = core
admin-port = {admin}
admin-interface = 127.0.0.1
admin-password = adm
smsbox-port = {boxport}
smsbox-interface = 127.0.0.1
box-allow-ip = 127.0.0.1
log-file = "{d}/bearerbox.log"
log-level = 1
access-log = "{d}/access.log"
store-type = spool
store-location = "{d}/spool"

group = smsc
smsc = fake
smsc-id = fake
port = {smsc}
our-host = 127.0.0.1
connect-allow-ip = 127.0.0.1

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = {boxport}
sendsms-port = {sendsms}
sendsms-interface = 127.0.0.1
log-file = "{d}/smsbox.log"
log-level = 1

group = sendsms-user
username = corridor
password = s3cret
max-messages = 1
concatenation = false
"#
        ),
    )
    .unwrap();
    let mut gw = Gateway { children: Vec::new() };
    gw.spawn("bearerbox", Command::new(&bearerbox).arg(&conf).current_dir(dir), &dir.join("bearerbox.out"));
    let status = || http_get(admin, "/status.txt?password=adm").unwrap_or_default();
    wait_for("bearerbox's admin port", Duration::from_secs(20), &mut gw, dir, || status().contains("SMSC connections"));
    gw.spawn("smsbox", Command::new(&smsbox).arg(&conf).current_dir(dir), &dir.join("smsbox.out"));
    gw.spawn(
        "fakesmsc",
        Command::new(&fakesmsc).args(["-H", "127.0.0.1", "-r", &smsc.to_string(), "-i", "0.1", "-m", "0", "0 0 text x"]).current_dir(dir),
        &dir.join("fakesmsc.out"),
    );
    wait_for("smsbox and fakesmsc to connect", Duration::from_secs(20), &mut gw, dir, || {
        let s = status();
        s.contains("smsbox:") && s.contains("(online")
    });
    wait_for("the sendsms port", Duration::from_secs(20), &mut gw, dir, || TcpStream::connect(("127.0.0.1", sendsms)).is_ok());

    // 3. The same outbox, delivered again.
    let r = deliver(&outbox, &mut kannel);
    assert_eq!(r.len(), 2);
    for (mid, res) in &r {
        let rc = res.as_ref().unwrap_or_else(|e| panic!("{mid}: {e}"));
        let m = if *mid == ar_msg.id { &ar_msg } else { &en_msg };
        assert_eq!((rc.segments_sent, rc.recipients, rc.uncertain), (m.encoded.segments.len(), 2, 0), "{mid}");
    }
    assert!(outbox.pending().unwrap().is_empty());
    assert!(outbox.sent_path(&ar_msg.id).exists() && outbox.sent_path(&en_msg.id).exists());

    // 4. Every segment, to every recipient, came out at fakesmsc.
    let expected = (ar_msg.encoded.segments.len() + en_msg.encoded.segments.len()) * recipients.len();
    let fk_log = || fs::read_to_string(dir.join("fakesmsc.out")).unwrap_or_default();
    wait_for(&format!("{expected} messages at fakesmsc"), Duration::from_secs(30), &mut gw, dir, || received(&fk_log()).len() >= expected);
    std::thread::sleep(Duration::from_millis(500));
    let got = received(&fk_log());
    assert_eq!(got.len(), expected, "fakesmsc got more than was sent: {got:#?}");
    let access = fs::read_to_string(dir.join("access.log")).unwrap();
    let coding = codings(&access);
    for (m, want_coding) in [(&ar_msg, 2), (&en_msg, 0)] {
        for to in &recipients {
            let mut text = String::new();
            for seg in &m.encoded.segments {
                let hit = got.iter().find(|g| g.to == *to && g.udh == seg.udh).unwrap_or_else(|| panic!("{}: segment {:02x?} to {to} did not arrive", m.id, seg.udh));
                assert_eq!(hit.from, "Corridor");
                match m.encoded.encoding {
                    // The UTF-16BE bytes as encoded here, unchanged.
                    Encoding::Ucs2 => assert_eq!(hit.data, seg.payload, "{}: segment {:02x?}", m.id, seg.udh),
                    // Kannel keeps 7-bit text as UTF-8 up to the SMSC driver.
                    Encoding::Gsm7 => assert_eq!(String::from_utf8_lossy(&hit.data), seg.text, "{}: segment {:02x?}", m.id, seg.udh),
                }
                text.push_str(&seg.text);
                assert_eq!(coding.get(&(to.clone(), hex::encode(&seg.udh))), Some(&want_coding), "{}: coding of segment {:02x?} in the access log", m.id, seg.udh);
            }
            assert_eq!(text, m.text);
        }
        println!(
            "{}: {} {} segments x {} recipients sent, {} received (recipients digest {})",
            m.id,
            m.encoded.segments.len(),
            m.encoded.encoding.name(),
            recipients.len(),
            got.iter().filter(|g| m.encoded.segments.iter().any(|s| s.udh == g.udh)).count(),
            &recipients_hmac(b"test", &recipients)[..12]
        );
    }

    // 5. Sent stays sent: another run sends nothing.
    assert_eq!(outbox.queue(&ar_msg, &list).unwrap(), Queued::AlreadySent);
    assert!(deliver(&outbox, &mut kannel).is_empty());
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(received(&fk_log()).len(), expected);
    drop(gw);
}
