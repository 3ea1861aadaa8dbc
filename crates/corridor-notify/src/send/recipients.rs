//! Recipient lists: read and checked a line at a time, stored once in an
//! outbox, read back a batch at a time; and the digest the ledger records
//! of a list instead of its numbers.

use std::fs;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use hmac::Mac;
use sha2::Sha256;

use super::SendError;

type HmacSha256 = hmac::Hmac<Sha256>;

// ---------------------------------------------------------------------------
// The recipients' digest.

/// What the ledger records of a recipient list instead of the numbers:
/// `HMAC(key, "corridor-recipients-v2\n" ‖ S ‖ count)`, where S is the sum
/// of `HMAC(key, number)` over the numbers modulo 2^256 (32 bytes, big
/// endian) and count a u64 (big endian). One pass, constant memory, and
/// the order of the list does not matter. A plain hash of a few phone
/// numbers could be reversed by trying every number; without the key
/// (kept on the sending machine, never in the log) it cannot, and with it
/// the same list always gives the same value.
#[derive(Clone)]
pub struct RecipientsDigest {
    keyed: HmacSha256,
    sum: [u8; 32],
    count: u64,
}

impl RecipientsDigest {
    pub fn new(key: &[u8]) -> Self {
        RecipientsDigest { keyed: HmacSha256::new_from_slice(key).expect("HMAC takes a key of any length"), sum: [0; 32], count: 0 }
    }

    pub fn add(&mut self, number: &str) {
        let mut m = self.keyed.clone();
        m.update(number.as_bytes());
        let h = m.finalize().into_bytes();
        let mut carry = 0u16;
        for i in (0..32).rev() {
            let s = self.sum[i] as u16 + h[i] as u16 + carry;
            self.sum[i] = s as u8;
            carry = s >> 8;
        }
        self.count += 1;
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    /// The digest, lowercase hex.
    pub fn finish(self) -> String {
        let mut m = self.keyed;
        m.update(b"corridor-recipients-v2\n");
        m.update(&self.sum);
        m.update(&self.count.to_be_bytes());
        hex::encode(m.finalize().into_bytes())
    }
}

/// The [`RecipientsDigest`] of `recipients` under `key`.
pub fn recipients_hmac(key: &[u8], recipients: &[String]) -> String {
    let mut d = RecipientsDigest::new(key);
    for r in recipients {
        d.add(r);
    }
    d.finish()
}

// ---------------------------------------------------------------------------
// Recipient lists.

/// The longest line a recipient list may have (a number is at most 16).
const MAX_LINE: usize = 4096;

/// Reads the next line of `r` into `buf` (without the newline), at most
/// `MAX_LINE` bytes: `None` at the end, `Some(false)` for a longer line.
fn next_line(r: &mut impl BufRead, buf: &mut Vec<u8>) -> io::Result<Option<bool>> {
    buf.clear();
    loop {
        let avail = r.fill_buf()?;
        if avail.is_empty() {
            return Ok(if buf.is_empty() { None } else { Some(true) });
        }
        match avail.iter().position(|&b| b == b'\n') {
            Some(i) => {
                let fits = buf.len() + i <= MAX_LINE;
                if fits {
                    buf.extend_from_slice(&avail[..i]);
                }
                r.consume(i + 1);
                return Ok(Some(fits));
            }
            None => {
                let n = avail.len();
                if buf.len() + n > MAX_LINE {
                    return Ok(Some(false));
                }
                buf.extend_from_slice(avail);
                r.consume(n);
            }
        }
    }
}

/// Whether `s` is a phone number in E.164 form: `+` then 7 to 15 digits.
pub fn is_e164(s: &str) -> bool {
    let digits = s.strip_prefix('+').unwrap_or("");
    (7..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
}

/// Reads a recipient list one line at a time (memory does not grow with
/// it): one number a line in E.164 form; blank lines and lines starting
/// with `#` are skipped, spaces around a number ignored. Calls `each` with
/// every number, in order, and returns how many there were. A line that is
/// not a number is an error naming `list` and the line (not its content).
pub fn read_recipients(reader: impl Read, list: &str, mut each: impl FnMut(&str) -> Result<(), SendError>) -> Result<u64, SendError> {
    let mut r = BufReader::with_capacity(1 << 16, reader);
    let mut buf = Vec::with_capacity(64);
    let mut line = 0u64;
    let mut count = 0u64;
    while let Some(fits) = next_line(&mut r, &mut buf).map_err(|e| SendError::ReadList { list: list.into(), source: e })? {
        line += 1;
        let bad = || SendError::BadRecipient { list: list.into(), line };
        if !fits {
            return Err(bad());
        }
        let l = buf.trim_ascii();
        if l.is_empty() || l[0] == b'#' {
            continue;
        }
        let n = std::str::from_utf8(l).map_err(|_| bad())?;
        if !is_e164(n) {
            return Err(bad());
        }
        each(n)?;
        count += 1;
    }
    Ok(count)
}

/// A recipient list stored in an outbox: `OUTBOX/lists/NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipientList {
    /// `SHA256.txt`, the SHA-256 of the stored list: the same list is
    /// stored once however many runs send to it.
    pub name: String,
    pub count: u64,
    /// Its [`RecipientsDigest`], when a key was given.
    pub hmac: Option<String>,
}

/// Reads the next `n` numbers of a stored list.
pub(super) struct ListReader {
    r: BufReader<fs::File>,
    path: PathBuf,
    buf: Vec<u8>,
}

impl ListReader {
    pub(super) fn open(path: &Path) -> Result<Self, SendError> {
        let f = fs::File::open(path).map_err(|e| SendError::io("read the recipient list", path, e))?;
        Ok(ListReader { r: BufReader::with_capacity(1 << 16, f), path: path.to_path_buf(), buf: Vec::with_capacity(64) })
    }

    pub(super) fn next(&mut self) -> Result<Option<&str>, SendError> {
        self.buf.clear();
        let n = self.r.read_until(b'\n', &mut self.buf).map_err(|e| SendError::io("read the recipient list", &self.path, e))?;
        if n == 0 {
            return Ok(None);
        }
        if self.buf.last() == Some(&b'\n') {
            self.buf.pop();
        }
        std::str::from_utf8(&self.buf).map(Some).map_err(|_| SendError::bad(&self.path, "a line is not UTF-8"))
    }

    pub(super) fn skip(&mut self, n: u64) -> Result<(), SendError> {
        for i in 0..n {
            if self.next()?.is_none() {
                return Err(SendError::bad(&self.path, format!("it has {i} numbers, the journal says {n} were handled")));
            }
        }
        Ok(())
    }

    pub(super) fn batch(&mut self, n: u64) -> Result<Vec<String>, SendError> {
        let mut out = Vec::with_capacity(n.min(1 << 16) as usize);
        while (out.len() as u64) < n {
            match self.next()? {
                Some(s) => out.push(s.to_string()),
                None => break,
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::send::testing::numbers;
    use crate::send::Outbox;

    #[test]
    fn recipient_lists_are_checked_line_by_line() {
        let read = |text: &str| {
            let mut got = Vec::new();
            read_recipients(text.as_bytes(), "numbers.txt", |n| {
                got.push(n.to_string());
                Ok(())
            })
            .map(|c| (c, got))
        };
        assert_eq!(read("# hq list\n\n +963944000001 \r\n+12345678\n+963944000002").unwrap(), (3, vec!["+963944000001".into(), "+12345678".into(), "+963944000002".into()]));
        for (text, line) in [("+963944000001\n0944 000 001\n", 2), ("+123456\n", 1), ("\n\n+1234567890123456\n", 3), ("+96394400000a\n", 1), ("+963\u{0663}44000001\n", 1)] {
            let e = read(text).unwrap_err();
            assert!(matches!(e, SendError::BadRecipient { line: l, .. } if l == line), "{text:?}: {e}");
            let s = e.to_string();
            assert!(s.starts_with(&format!("numbers.txt:{line}: not a phone number in E.164 form")), "{s}");
            let bad = text.lines().nth(line as usize - 1).unwrap().trim();
            assert!(!s.contains(bad), "the line is not echoed: {s}");
        }
        // Not UTF-8, and a line with no end: errors, not panics or a huge buffer.
        assert!(matches!(read_recipients(&b"+963944000001\n\xff\xfe\n"[..], "n", |_| Ok(())), Err(SendError::BadRecipient { line: 2, .. })));
        let huge = vec![b'1'; 10 * MAX_LINE];
        assert!(matches!(read_recipients(&huge[..], "n", |_| Ok(())), Err(SendError::BadRecipient { line: 1, .. })));
        // A list with no numbers is not stored.
        let dir = tempfile::tempdir().unwrap();
        let ob = Outbox::open(dir.path()).unwrap();
        let e = ob.store_recipients(&b"# nothing yet\n\n"[..], "numbers.txt", None).unwrap_err();
        assert!(matches!(e, SendError::NoNumbers { .. }), "{e}");
        assert_eq!(fs::read_dir(ob.lists_dir()).unwrap().count(), 0, "no temporary file left");
    }

    #[test]
    fn a_bad_line_deep_in_a_long_list_is_named_by_its_line_and_nothing_is_stored() {
        // 200,000 lines (3 MB, read 64 KiB at a time) with comments, blank
        // lines and CRLF endings among them, then one bad line: the count
        // of lines runs across the reader's refills.
        let mut text = String::new();
        let mut lines = 0u64;
        for i in 0..200_000u64 {
            match i % 1000 {
                0 => text.push_str("# district\n"),
                1 => text.push_str("\n"),
                2 => text.push_str(&format!("  +96390{i:08}\r\n")),
                _ => text.push_str(&format!("+96390{i:08}\n")),
            }
            lines += 1;
        }
        let dir = tempfile::tempdir().unwrap();
        let ob = Outbox::open(dir.path()).unwrap();
        for (bad, what) in [("+96390 1234567".to_string(), "a space inside"), ("0944000001".into(), "no +"), ("+".repeat(MAX_LINE + 1), "a line longer than any number")] {
            let list = format!("{text}{bad}\n+963900000001\n");
            let e = ob.store_recipients(list.as_bytes(), "district.txt", Some(b"k")).unwrap_err();
            assert!(matches!(e, SendError::BadRecipient { line, .. } if line == lines + 1), "{what}: {e}");
            let s = e.to_string();
            assert!(s.starts_with(&format!("district.txt:{}: not a phone number in E.164 form", lines + 1)) && s.contains("fix or remove that line"), "{what}: {s}");
            assert_eq!(fs::read_dir(ob.lists_dir()).unwrap().count(), 0, "{what}: nothing stored, no temporary file left");
        }
        // Without the bad line the same list is stored whole.
        let stored = ob.store_recipients(text.as_bytes(), "district.txt", None).unwrap();
        assert_eq!(stored.count, 200_000 - 2 * 200);
    }

    #[test]
    fn the_recipients_digest_ignores_order_needs_the_key_and_is_the_defined_formula() {
        let a = recipients_hmac(b"k", &["+963900000002".into(), "+963900000001".into(), "+963900000003".into()]);
        let b = recipients_hmac(b"k", &["+963900000001".into(), "+963900000003".into(), "+963900000002".into()]);
        assert_eq!(a, b);
        assert_ne!(a, recipients_hmac(b"other key", &["+963900000001".into(), "+963900000002".into(), "+963900000003".into()]));
        assert_ne!(a, recipients_hmac(b"k", &["+963900000001".into(), "+963900000002".into()]));
        // A number twice is not the number once.
        assert_ne!(recipients_hmac(b"k", &["+963900000001".into()]), recipients_hmac(b"k", &["+963900000001".into(), "+963900000001".into()]));
        // Computed directly: the sum of the numbers' HMACs as a 256-bit
        // integer (two u128 halves), then the outer HMAC.
        let h = |key: &[u8], data: &[u8]| {
            let mut m = HmacSha256::new_from_slice(key).unwrap();
            m.update(data);
            m.finalize().into_bytes().to_vec()
        };
        // RFC 4231, test case 2: the HMAC used is the standard one.
        assert_eq!(hex::encode(h(b"Jefe", b"what do ya want for nothing?")), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
        let nums = numbers(300);
        let (mut hi, mut lo) = (0u128, 0u128);
        for n in &nums {
            let x = h(b"key", n.as_bytes());
            let (xh, xl) = (u128::from_be_bytes(x[..16].try_into().unwrap()), u128::from_be_bytes(x[16..].try_into().unwrap()));
            let (l, carry) = lo.overflowing_add(xl);
            lo = l;
            hi = hi.wrapping_add(xh).wrapping_add(carry as u128);
        }
        let mut outer = b"corridor-recipients-v2\n".to_vec();
        outer.extend(hi.to_be_bytes());
        outer.extend(lo.to_be_bytes());
        outer.extend(300u64.to_be_bytes());
        assert_eq!(recipients_hmac(b"key", &nums), hex::encode(h(b"key", &outer)));
        let mut rev = nums.clone();
        rev.reverse();
        assert_eq!(recipients_hmac(b"key", &rev), hex::encode(h(b"key", &outer)));
    }

}
