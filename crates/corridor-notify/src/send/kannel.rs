//! The Kannel sender: each segment submitted through Kannel's HTTP
//! `sendsms` interface, at most once after a crash.

use std::time::Duration;

use super::{OutMessage, Recovered, SendError, Sender};
use crate::sms::{Encoding, Segment};

// ---------------------------------------------------------------------------
// Kannel.

/// Kannel's HTTP `sendsms` interface (smsbox's sendsms-port), with the
/// credentials of a `sendsms-user` group.
pub struct Kannel {
    /// `http://127.0.0.1:13013/cgi-bin/sendsms`
    pub url: String,
    pub username: String,
    pub password: String,
    /// The sender id (`from`); `None` leaves it to the `default-sender` of
    /// the sendsms-user group (or smsbox's `global-sender`).
    pub from: Option<String>,
    /// How long to wait for a connection and for each answer.
    pub connect_timeout: Duration,
    pub timeout: Duration,
    /// Recipients per batch (default 20): a batch a crash interrupts is
    /// not sent again, and its recipients are reported uncertain.
    pub batch: usize,
    agent: Option<ureq::Agent>,
}

impl Kannel {
    /// Timeouts 3 s to connect, 15 s for an answer: an unreachable gateway
    /// fails fast, a busy one has time.
    pub fn new(url: impl Into<String>, username: impl Into<String>, password: impl Into<String>, from: Option<String>) -> Self {
        Kannel {
            url: url.into(),
            username: username.into(),
            password: password.into(),
            from,
            connect_timeout: Duration::from_secs(3),
            timeout: Duration::from_secs(15),
            batch: 20,
            agent: None,
        }
    }

    fn agent(&mut self) -> &ureq::Agent {
        let (c, t) = (self.connect_timeout, self.timeout);
        self.agent.get_or_insert_with(|| ureq::AgentBuilder::new().timeout_connect(c).timeout_read(t).timeout_write(t).redirects(0).build())
    }

    /// The sendsms request for one segment to one recipient (query string
    /// after `?`), every value percent-encoded byte by byte.
    pub fn query(&self, encoding: Encoding, segment: &Segment, to: &str) -> String {
        let mut q: Vec<(&str, Vec<u8>)> = vec![
            ("username", self.username.as_bytes().to_vec()),
            ("password", self.password.as_bytes().to_vec()),
            ("to", to.as_bytes().to_vec()),
        ];
        if let Some(from) = &self.from {
            q.push(("from", from.as_bytes().to_vec()));
        }
        match encoding {
            Encoding::Gsm7 => {
                q.push(("coding", b"0".to_vec()));
                q.push(("charset", b"UTF-8".to_vec()));
                q.push(("text", segment.text.as_bytes().to_vec()));
            }
            Encoding::Ucs2 => {
                q.push(("coding", b"2".to_vec()));
                q.push(("charset", b"UTF-16BE".to_vec()));
                q.push(("text", segment.payload.clone()));
            }
        }
        if !segment.udh.is_empty() {
            q.push(("udh", segment.udh.clone()));
        }
        q.iter().map(|(k, v)| format!("{k}={}", percent(v))).collect::<Vec<_>>().join("&")
    }
}

/// Percent-encodes every byte but the unreserved ones (RFC 3986).
fn percent(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 3);
    for &b in bytes {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            s.push(b as char);
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    s
}

/// What to check for a refusal, by Kannel's answer.
fn refusal_hint(status: u16, body: &str) -> &'static str {
    let b = body.to_ascii_lowercase();
    if status == 403 || b.contains("authorization") {
        "check the username and password against the sendsms-user group in kannel.conf"
    } else if b.contains("sender missing") {
        "give a sender (from) or set default-sender in the sendsms-user group"
    } else if b.contains("receiver") || b.contains("number") {
        "check the recipient numbers (E.164) and the sendsms-user's allowed-prefix / denied-prefix"
    } else if status >= 500 {
        "the gateway failed; look at smsbox's and bearerbox's logs"
    } else {
        "look at smsbox's log for why"
    }
}

/// A transport error without the URL (it carries the password and the number).
fn transport_reason(t: &ureq::Transport) -> String {
    let mut s = t.kind().to_string();
    if let Some(m) = t.message() {
        s.push_str(": ");
        s.push_str(m);
    }
    if let Some(src) = std::error::Error::source(t) {
        s.push_str(": ");
        s.push_str(&src.to_string());
    }
    s
}


impl Kannel {
    /// Checks the URL before anything is sent: the base URL without a query.
    fn base(&self) -> Result<String, SendError> {
        let base = self.url.trim_end_matches('?').to_string();
        if !base.starts_with("http://") {
            let reason = if base.starts_with("https://") { "only plain http is built in (smsbox's sendsms-port speaks http; keep it on loopback or a private link)" } else { "it is not an http:// URL" };
            return Err(SendError::BadUrl { url: base, reason: reason.into() });
        }
        if base.contains('?') {
            return Err(SendError::BadUrl { url: "(hidden: it has a query string)".into(), reason: "give the URL without ?… parameters; the credentials are set separately".into() });
        }
        Ok(base)
    }
}

impl Sender for Kannel {
    fn send(&mut self, msg: &OutMessage, batch: &[String]) -> Result<(), SendError> {
        if batch.is_empty() {
            return Ok(());
        }
        let base = self.base()?;
        let total = msg.encoded.segments.len();
        for (done, to) in batch.iter().enumerate() {
            for (i, seg) in msg.encoded.segments.iter().enumerate() {
                let url = format!("{base}?{}", self.query(msg.encoded.encoding, seg, to));
                let answer = self.agent().get(&url).call();
                let err = match answer {
                    // 202 "0: Accepted for delivery" or "3: Queued for later
                    // delivery": either way Kannel has it in its store.
                    Ok(r) if (200..300).contains(&r.status()) => continue,
                    Ok(r) => {
                        let status = r.status();
                        let body = r.into_string().unwrap_or_default();
                        refused(&base, i, total, status, &body)
                    }
                    Err(ureq::Error::Status(status, r)) => {
                        let body = r.into_string().unwrap_or_default();
                        refused(&base, i, total, status, &body)
                    }
                    Err(ureq::Error::Transport(t)) => SendError::Unreachable { url: base.clone(), reason: transport_reason(&t) },
                };
                return Err(if done > 0 { SendError::Partial { id: msg.id.clone(), done: done as u64, of: batch.len() as u64, source: Box::new(err) } } else { err });
            }
        }
        Ok(())
    }

    /// Small batches: one interrupted by a crash is reported uncertain.
    fn batch_size(&self) -> usize {
        self.batch
    }

    /// The gateway cannot be asked what it took: a batch a crash
    /// interrupted is not sent again (at most once).
    fn recover(&mut self, _msg: &OutMessage, _done: u64, in_flight: Option<&[String]>) -> Result<Recovered, SendError> {
        self.base()?;
        Ok(if in_flight.is_some_and(|b| !b.is_empty()) { Recovered::Uncertain } else { Recovered::Resend })
    }

    fn finish(&mut self, _msg: &OutMessage, _recipients: u64) -> Result<(), SendError> {
        Ok(())
    }

    fn name(&self) -> &str {
        "kannel"
    }
}

fn refused(base: &str, i: usize, total: usize, status: u16, body: &str) -> SendError {
    let body: String = body.trim().chars().take(200).collect();
    SendError::Refused { url: base.into(), segment: i + 1, segments: total, status, hint: refusal_hint(status, &body), body }
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::send::testing::{message, numbers};
    use crate::sms;

    #[test]
    fn kannel_query_carries_udh_and_coding() {
        let k = Kannel::new("http://127.0.0.1:13013/cgi-bin/sendsms", "corridor", "p&w", Some("Corridor".into()));
        let e = sms::encode(&"ا".repeat(80), 9);
        let q = k.query(e.encoding, &e.segments[0], "+963900000001");
        assert!(q.contains("password=p%26w"), "{q}");
        assert!(q.contains("to=%2B963900000001"), "{q}");
        assert!(q.contains("coding=2&charset=UTF-16BE&text=%06%27%06%27"), "{q}");
        assert!(q.ends_with("udh=%05%00%03%09%02%01"), "{q}");
        let g = sms::encode("a b", 0);
        let q = k.query(g.encoding, &g.segments[0], "+1");
        assert!(q.contains("coding=0&charset=UTF-8&text=a%20b") && !q.contains("udh"), "{q}");
    }

    #[test]
    fn kannel_is_at_most_once_after_a_crash() {
        let mut k = Kannel::new("http://127.0.0.1:13013/cgi-bin/sendsms", "corridor", "pw", None);
        let m = message("a.w.0.en", "x");
        assert_eq!(k.recover(&m, 0, None).unwrap(), Recovered::Resend);
        assert_eq!(k.recover(&m, 40, Some(&numbers(20))).unwrap(), Recovered::Uncertain);
        assert_eq!(k.batch_size(), 20);
    }

    #[test]
    fn an_unreachable_gateway_fails_fast_without_secrets() {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let url = format!("http://127.0.0.1:{port}/cgi-bin/sendsms");
        let mut k = Kannel::new(&url, "corridor", "hunter2", None);
        let t = std::time::Instant::now();
        let e = k.send(&message("a.w.0.en", "x"), &numbers(2)).unwrap_err();
        assert!(t.elapsed() < Duration::from_secs(5));
        let s = e.to_string();
        assert!(matches!(e, SendError::Unreachable { .. }), "{s}");
        assert!(s.contains(&url) && s.contains("stays in the outbox"), "{s}");
        assert!(!s.contains("hunter2") && !s.contains("+963"), "{s}");
    }
}