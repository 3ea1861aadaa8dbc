//! Test helpers shared by the send modules' tests: messages, numbers,
//! stored lists and senders that fail or accept.

use std::fs;
use std::path::Path;

use super::{OutMessage, Outbox, RecipientList, Recovered, SendError, Sender};
use crate::sms;

pub(crate) fn message(id: &str, text: &str) -> OutMessage {
    OutMessage { id: id.into(), text: text.into(), encoded: sms::encode(text, 7) }
}

pub(crate) fn numbers(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("+9639000{i:05}")).collect()
}

pub(crate) fn store(ob: &Outbox, nums: &[String]) -> RecipientList {
    let text: String = nums.iter().map(|n| format!("{n}\n")).collect();
    ob.store_recipients(text.as_bytes(), "test.txt", Some(b"k")).unwrap()
}

/// Fails every send, or after `ok_for` recipients of the first batch.
pub(crate) struct Failing {
    pub(crate) ok_for: u64,
    pub(crate) calls: usize,
}

impl Sender for Failing {
    fn send(&mut self, msg: &OutMessage, batch: &[String]) -> Result<(), SendError> {
        self.calls += 1;
        let err = SendError::Unreachable { url: "http://127.0.0.1:1/cgi-bin/sendsms".into(), reason: "Connection Failed: Connection refused".into() };
        if self.ok_for > 0 && self.ok_for < batch.len() as u64 {
            return Err(SendError::Partial { id: msg.id.clone(), done: self.ok_for, of: batch.len() as u64, source: Box::new(err) });
        }
        Err(err)
    }
    fn batch_size(&self) -> usize {
        100
    }
    fn recover(&mut self, _: &OutMessage, _: u64, _: Option<&[String]>) -> Result<Recovered, SendError> {
        Ok(Recovered::Resend)
    }
    fn finish(&mut self, _: &OutMessage, _: u64) -> Result<(), SendError> {
        Ok(())
    }
    fn name(&self) -> &str {
        "failing"
    }
}

/// Accepts everything, remembering what it got; with `crash_after`,
/// takes that many batches then one more and panics before returning
/// (a crash between sending and `done`); with `at_most_once`, treats an
/// interrupted batch as Kannel does.
#[derive(Default)]
pub(crate) struct Accepting {
    pub(crate) got: Vec<(String, String)>,
    pub(crate) batch: usize,
    pub(crate) crash_after: Option<usize>,
    pub(crate) at_most_once: bool,
    pub(crate) recovered: Vec<(u64, Option<usize>)>,
}

impl Sender for Accepting {
    fn send(&mut self, msg: &OutMessage, batch: &[String]) -> Result<(), SendError> {
        self.got.extend(batch.iter().map(|n| (msg.id.clone(), n.clone())));
        if let Some(c) = self.crash_after.as_mut() {
            if *c == 0 {
                panic!("crash");
            }
            *c -= 1;
        }
        Ok(())
    }
    fn batch_size(&self) -> usize {
        if self.batch == 0 {
            1000
        } else {
            self.batch
        }
    }
    fn recover(&mut self, _: &OutMessage, done: u64, in_flight: Option<&[String]>) -> Result<Recovered, SendError> {
        self.recovered.push((done, in_flight.map(<[String]>::len)));
        Ok(if self.at_most_once && in_flight.is_some() { Recovered::Uncertain } else { Recovered::Resend })
    }
    fn finish(&mut self, _: &OutMessage, _: u64) -> Result<(), SendError> {
        Ok(())
    }
    fn name(&self) -> &str {
        "accepting"
    }
}

/// The recipients of a folder sender's output file, in order.
pub(crate) fn out_recipients(path: &Path) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_slice(&fs::read(path).unwrap()).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    v["recipients"].as_array().unwrap().iter().map(|r| r.as_str().unwrap().to_string()).collect()
}