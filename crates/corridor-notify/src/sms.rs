//! SMS encoding and segmentation, exactly as GSM 03.38 / 3GPP TS 23.038 and
//! TS 23.040 define them.
//!
//! A text goes as **GSM-7** when every character is in the default alphabet
//! (§6.2.1) or its extension table (§6.2.1.1, each such character costs two
//! septets: the escape 0x1B and its code); otherwise the whole text goes as
//! **UCS-2**, counted the way every phone does it: in UTF-16 code units, so an
//! emoji outside the BMP is a surrogate pair of 2 units.
//!
//! One SMS carries 140 octets: 160 septets or 70 UTF-16 units. A longer text
//! is cut into concatenated segments, each with a 6-octet user data header
//! (the 8-bit-reference concatenation IE), leaving 153 septets (the header and
//! one fill bit take 7 septets) or 67 units. A cut never falls inside an
//! escape sequence or a surrogate pair: that segment then carries one unit
//! less. Segments are cut greedily, which also gives the fewest segments.
//!
//! The literal ESC character U+001B is *not* treated as GSM-representable:
//! position 0x1B of the default table is the escape to the extension table,
//! and a receiver would read an ESC sent as a septet as the start of an
//! extension character (or, per §6.2.1.1 note 1, as a space). A text with
//! U+001B goes as UCS-2, which carries it unchanged. The same holds for the
//! code 0x1B inside the extension table (a second escape), which no
//! character maps to.
//!
//! A text of more than 255 segments cannot be one concatenated message (the
//! header counts in one octet): [`try_encode`] refuses it, [`encode`] still
//! cuts it but marks every header with total 0, which TS 23.040 §9.2.3.24.1
//! tells receivers to ignore.

use serde::Serialize;

/// The encoding a text is sent in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Encoding {
    Gsm7,
    Ucs2,
}

impl Encoding {
    /// "GSM-7" or "UCS-2".
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Gsm7 => "GSM-7",
            Encoding::Ucs2 => "UCS-2",
        }
    }

    /// TP-DCS for the general data coding group, no class: 0x00 (GSM 7-bit
    /// default alphabet) or 0x08 (UCS2).
    pub fn dcs(self) -> u8 {
        match self {
            Encoding::Gsm7 => 0x00,
            Encoding::Ucs2 => 0x08,
        }
    }

    /// Units one SMS holds without a user data header: 160 septets or 70 units.
    pub fn single_limit(self) -> usize {
        match self {
            Encoding::Gsm7 => GSM7_SINGLE,
            Encoding::Ucs2 => UCS2_SINGLE,
        }
    }

    /// Units one concatenated segment holds: 153 septets or 67 units.
    pub fn segment_limit(self) -> usize {
        match self {
            Encoding::Gsm7 => GSM7_SEGMENT,
            Encoding::Ucs2 => UCS2_SEGMENT,
        }
    }
}

/// Septets in one SMS without a header.
pub const GSM7_SINGLE: usize = 160;
/// Septets in a concatenated segment: (140 − 6) octets = 1072 bits, less the
/// 1 fill bit = 1071 bits = 153 septets.
pub const GSM7_SEGMENT: usize = 153;
/// UTF-16 units in one SMS without a header (140 octets).
pub const UCS2_SINGLE: usize = 70;
/// UTF-16 units in a concatenated segment (134 octets).
pub const UCS2_SEGMENT: usize = 67;

/// The escape to the extension table (position 0x1B of the default alphabet).
pub const ESCAPE: u8 = 0x1B;

/// The GSM 7-bit default alphabet, 3GPP TS 23.038 §6.2.1: the character at
/// each septet value. Entry 0x1B is the escape to the extension table, not a
/// character (here U+001B as a placeholder, which [`gsm_char`] refuses).
pub const GSM_DEFAULT_ALPHABET: [char; 128] = [
    // 0x00
    '@', '£', '$', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', '\n', 'Ø', 'ø', '\r', 'Å', 'å',
    // 0x10
    'Δ', '_', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', '\u{1B}', 'Æ', 'æ', 'ß', 'É',
    // 0x20
    ' ', '!', '"', '#', '¤', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/',
    // 0x30
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?',
    // 0x40
    '¡', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O',
    // 0x50
    'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ä', 'Ö', 'Ñ', 'Ü', '§',
    // 0x60
    '¿', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o',
    // 0x70
    'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ä', 'ö', 'ñ', 'ü', 'à',
];

/// The default alphabet extension table, 3GPP TS 23.038 §6.2.1.1: each
/// character with the septet that follows the escape 0x1B.
pub const GSM_EXTENSION_TABLE: [(u8, char); 10] = [
    (0x0A, '\u{0C}'), // form feed (page break)
    (0x14, '^'),
    (0x28, '{'),
    (0x29, '}'),
    (0x2F, '\\'),
    (0x3C, '['),
    (0x3D, '~'),
    (0x3E, ']'),
    (0x40, '|'),
    (0x65, '€'),
];

/// How one character is written in GSM-7.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum GsmChar {
    /// A septet of the default alphabet.
    Default(u8),
    /// A septet of the extension table, sent after the escape 0x1B.
    Extension(u8),
}

impl GsmChar {
    /// Septets it takes: 1, or 2 for an extension character.
    pub fn septets(self) -> usize {
        match self {
            GsmChar::Default(_) => 1,
            GsmChar::Extension(_) => 2,
        }
    }
}

/// Reverse of the default alphabet for U+0000..U+00FF (0xFF: not in it).
const LATIN1_TO_GSM: [u8; 256] = {
    let mut table = [0xFFu8; 256];
    let mut septet = 0;
    while septet < 128 {
        let c = GSM_DEFAULT_ALPHABET[septet] as u32;
        if c < 256 && septet != ESCAPE as usize {
            table[c as usize] = septet as u8;
        }
        septet += 1;
    }
    table
};

/// `c` in GSM-7, or `None` when it is in neither table (U+001B included).
pub fn gsm_char(c: char) -> Option<GsmChar> {
    let code = c as u32;
    if code < 256 {
        let septet = LATIN1_TO_GSM[code as usize];
        if septet != 0xFF {
            return Some(GsmChar::Default(septet));
        }
    } else if let Some(septet) = GSM_DEFAULT_ALPHABET.iter().position(|&g| g == c) {
        // The Greek capitals.
        return Some(GsmChar::Default(septet as u8));
    }
    GSM_EXTENSION_TABLE
        .iter()
        .find(|&&(_, e)| e == c)
        .map(|&(septet, _)| GsmChar::Extension(septet))
}

/// The characters of `text` that force UCS-2, in order, each once.
pub fn non_gsm_chars(text: &str) -> Vec<char> {
    let mut out: Vec<char> = Vec::new();
    for c in text.chars() {
        if gsm_char(c).is_none() && !out.contains(&c) {
            out.push(c);
        }
    }
    out
}

/// Why a text cannot be sent as one concatenated SMS.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SmsError {
    #[error("the text needs {segments} SMS segments ({units} {unit_name}); a concatenated message holds at most 255: shorten it or send it as several messages")]
    TooManySegments { segments: usize, units: usize, unit_name: &'static str },
}

/// One SMS of a (possibly concatenated) message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// User data header: empty for a single-segment message, else the 8-bit-reference concatenation IE
    /// [0x05, 0x00, 0x03, reference, total, sequence (1-based)].
    pub udh: Vec<u8>,
    /// The characters of the message this segment carries (a substring of the input).
    pub text: String,
    /// Septets (GSM-7; an extension character counts 2) or UTF-16 code units (UCS-2) of `text`.
    pub units: usize,
    /// The payload: GSM-7 as one unpacked septet value per byte (escape 0x1B before each extension char),
    /// UCS-2 as UTF-16BE bytes.
    pub payload: Vec<u8>,
}

impl Segment {
    /// Fill bits between the header and the first septet: 1 after the
    /// 6-octet concatenation header (48 bits, next septet boundary at 49), 0
    /// without a header, 0 for UCS-2.
    pub fn fill_bits(&self, encoding: Encoding) -> u8 {
        match encoding {
            Encoding::Ucs2 => 0,
            Encoding::Gsm7 => {
                if self.udh.is_empty() {
                    0
                } else {
                    // `udh` starts with its own length octet (UDHL).
                    let bits = self.udh.len() * 8;
                    ((7 - bits % 7) % 7) as u8
                }
            }
        }
    }

    /// TP-User-Data as sent: the header (`udh`, which starts with its length
    /// octet UDHL) and then the payload, septets packed for GSM-7.
    pub fn user_data(&self, encoding: Encoding) -> Vec<u8> {
        let mut out = Vec::with_capacity(140);
        out.extend_from_slice(&self.udh);
        match encoding {
            Encoding::Ucs2 => out.extend_from_slice(&self.payload),
            Encoding::Gsm7 => out.extend(pack_septets(&self.payload, self.fill_bits(encoding))),
        }
        out
    }

    /// TP-User-Data-Length: in septets for GSM-7 (header and fill bits
    /// included, rounded up to whole septets), in octets for UCS-2.
    pub fn user_data_length(&self, encoding: Encoding) -> usize {
        let header = self.udh.len();
        match encoding {
            Encoding::Ucs2 => header + self.payload.len(),
            Encoding::Gsm7 => (header * 8).div_ceil(7) + self.payload.len(),
        }
    }
}

/// A text cut into the segments it is sent as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    pub encoding: Encoding,
    pub segments: Vec<Segment>,
}

impl Encoded {
    /// Septets or UTF-16 units of the whole text (the sum over segments).
    pub fn units(&self) -> usize {
        self.segments.iter().map(|s| s.units).sum()
    }
}

/// Which encoding `text` needs: GSM-7 when every char is in the GSM 03.38 default alphabet or its
/// extension table, else UCS-2.
pub fn encoding(text: &str) -> Encoding {
    if text.chars().all(|c| gsm_char(c).is_some()) {
        Encoding::Gsm7
    } else {
        Encoding::Ucs2
    }
}

/// Units `c` takes in `enc`; a char not in GSM counts 1 septet (it cannot be
/// sent as GSM-7, but counting never fails).
fn char_units(c: char, enc: Encoding) -> usize {
    match enc {
        Encoding::Gsm7 => gsm_char(c).map_or(1, GsmChar::septets),
        Encoding::Ucs2 => c.len_utf16(),
    }
}

/// Septets (GSM-7) or UTF-16 code units (UCS-2) of the whole text.
///
/// For GSM-7 a char outside both tables counts one septet; [`encoding`]
/// never picks GSM-7 for such a text.
pub fn units(text: &str, enc: Encoding) -> usize {
    text.chars().map(|c| char_units(c, enc)).sum()
}

fn push_payload(payload: &mut Vec<u8>, c: char, enc: Encoding) {
    match enc {
        Encoding::Gsm7 => match gsm_char(c) {
            Some(GsmChar::Default(s)) => payload.push(s),
            Some(GsmChar::Extension(s)) => {
                payload.push(ESCAPE);
                payload.push(s);
            }
            // Not reached through `encode`, which only picks GSM-7 when every
            // char is in it; '?' (0x3F) is the conventional replacement.
            None => payload.push(0x3F),
        },
        Encoding::Ucs2 => {
            let mut buf = [0u16; 2];
            for unit in c.encode_utf16(&mut buf) {
                payload.extend_from_slice(&unit.to_be_bytes());
            }
        }
    }
}

/// Cuts `text` into segments: 160 septets / 70 UCS-2 units fit in one; otherwise 153 / 67 per
/// concatenated segment. Never splits an escape sequence (extension char) or a surrogate pair
/// (a segment then carries one unit less). `reference` is the concatenation reference number.
///
/// An empty text is one empty GSM-7 segment. Past 255 segments the headers
/// carry total 0 (see the module doc); [`try_encode`] refuses such a text.
pub fn encode(text: &str, reference: u8) -> Encoded {
    let enc = encoding(text);
    let total = units(text, enc);
    if total <= enc.single_limit() {
        let mut payload = Vec::with_capacity(total * if enc == Encoding::Ucs2 { 2 } else { 1 });
        for c in text.chars() {
            push_payload(&mut payload, c, enc);
        }
        return Encoded {
            encoding: enc,
            segments: vec![Segment { udh: Vec::new(), text: text.to_owned(), units: total, payload }],
        };
    }

    let limit = enc.segment_limit();
    let mut segments = Vec::with_capacity(total.div_ceil(limit - 1));
    let mut start = 0; // byte offset of the current segment's first char
    let mut used = 0;
    let mut payload = Vec::new();
    for (i, c) in text.char_indices() {
        let cost = char_units(c, enc);
        if used + cost > limit {
            segments.push(Segment {
                udh: Vec::new(),
                text: text[start..i].to_owned(),
                units: used,
                payload: std::mem::take(&mut payload),
            });
            start = i;
            used = 0;
        }
        used += cost;
        push_payload(&mut payload, c, enc);
    }
    segments.push(Segment { udh: Vec::new(), text: text[start..].to_owned(), units: used, payload });

    let count = segments.len();
    let representable = count <= 255;
    for (i, seg) in segments.iter_mut().enumerate() {
        let (total_byte, sequence) = if representable { (count as u8, (i + 1) as u8) } else { (0, 0) };
        seg.udh = vec![0x05, 0x00, 0x03, reference, total_byte, sequence];
    }
    Encoded { encoding: enc, segments }
}

/// [`encode`], refusing a text of more than 255 segments.
pub fn try_encode(text: &str, reference: u8) -> Result<Encoded, SmsError> {
    let encoded = encode(text, reference);
    if encoded.segments.len() > 255 {
        return Err(SmsError::TooManySegments {
            segments: encoded.segments.len(),
            units: encoded.units(),
            unit_name: match encoded.encoding {
                Encoding::Gsm7 => "septets",
                Encoding::Ucs2 => "UTF-16 units",
            },
        });
    }
    Ok(encoded)
}

/// Packs septets into octets (GSM 03.38 / 3GPP TS 23.038 7-bit packing), with `fill_bits` leading fill bits
/// (a concatenated segment with a 6-octet UDH needs 1 fill bit so the septets start on a septet boundary).
///
/// Septet *n* occupies bits `fill_bits + 7n ..` of the output, least
/// significant bit first; fill bits and the unused high bits of the last
/// octet are 0. Only the low 7 bits of each input byte are used.
pub fn pack_septets(septets: &[u8], fill_bits: u8) -> Vec<u8> {
    let bits = fill_bits as usize + 7 * septets.len();
    let mut out = vec![0u8; bits.div_ceil(8)];
    let mut pos = fill_bits as usize;
    for &s in septets {
        let v = (s & 0x7F) as u16;
        let byte = pos / 8;
        let shift = pos % 8;
        let word = v << shift;
        out[byte] |= (word & 0xFF) as u8;
        if shift > 1 {
            out[byte + 1] |= (word >> 8) as u8;
        }
        pos += 7;
    }
    out
}

/// Reverse of [`pack_septets`]: `count` septets after `fill_bits` fill bits.
/// Missing bits at the end read as 0.
pub fn unpack_septets(octets: &[u8], fill_bits: u8, count: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(count);
    let mut pos = fill_bits as usize;
    for _ in 0..count {
        let byte = pos / 8;
        let shift = pos % 8;
        let lo = octets.get(byte).copied().unwrap_or(0) as u16;
        let hi = octets.get(byte + 1).copied().unwrap_or(0) as u16;
        out.push((((hi << 8 | lo) >> shift) & 0x7F) as u8);
        pos += 7;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(" ")
    }

    fn septets_of(s: &str) -> Vec<u8> {
        encode(s, 0).segments.into_iter().flat_map(|s| s.payload).collect()
    }

    #[test]
    fn tables_are_the_standards() {
        // Spot checks against TS 23.038 §6.2.1.
        assert_eq!(gsm_char('@'), Some(GsmChar::Default(0x00)));
        assert_eq!(gsm_char('$'), Some(GsmChar::Default(0x02)));
        assert_eq!(gsm_char('Ç'), Some(GsmChar::Default(0x09)));
        assert_eq!(gsm_char('\n'), Some(GsmChar::Default(0x0A)));
        assert_eq!(gsm_char('\r'), Some(GsmChar::Default(0x0D)));
        assert_eq!(gsm_char('Δ'), Some(GsmChar::Default(0x10)));
        assert_eq!(gsm_char('_'), Some(GsmChar::Default(0x11)));
        assert_eq!(gsm_char('Ξ'), Some(GsmChar::Default(0x1A)));
        assert_eq!(gsm_char('É'), Some(GsmChar::Default(0x1F)));
        assert_eq!(gsm_char('¤'), Some(GsmChar::Default(0x24)));
        assert_eq!(gsm_char('¡'), Some(GsmChar::Default(0x40)));
        assert_eq!(gsm_char('§'), Some(GsmChar::Default(0x5F)));
        assert_eq!(gsm_char('¿'), Some(GsmChar::Default(0x60)));
        assert_eq!(gsm_char('à'), Some(GsmChar::Default(0x7F)));
        assert_eq!(gsm_char('€'), Some(GsmChar::Extension(0x65)));
        assert_eq!(gsm_char('\u{0C}'), Some(GsmChar::Extension(0x0A)));
        assert_eq!(gsm_char('|'), Some(GsmChar::Extension(0x40)));
        for c in ['\u{1B}', 'ç', '`', 'á', 'Ë', 'ب', '😀', '\0', '\t', 'ω', 'µ'] {
            assert_eq!(gsm_char(c), None, "{c:?}");
        }
        // Every default entry but the escape maps back to its position.
        for (i, &c) in GSM_DEFAULT_ALPHABET.iter().enumerate() {
            if i != ESCAPE as usize {
                assert_eq!(gsm_char(c), Some(GsmChar::Default(i as u8)), "{c:?}");
            }
        }
        // 127 distinct characters plus the escape, 10 extension characters.
        let mut all: Vec<char> = GSM_DEFAULT_ALPHABET.to_vec();
        all.extend(GSM_EXTENSION_TABLE.iter().map(|&(_, c)| c));
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 138);
        assert_eq!(Encoding::Gsm7.name(), "GSM-7");
        assert_eq!(Encoding::Ucs2.name(), "UCS-2");
        assert_eq!(Encoding::Gsm7.dcs(), 0x00);
        assert_eq!(Encoding::Ucs2.dcs(), 0x08);
    }

    #[test]
    fn escape_char_forces_ucs2() {
        assert_eq!(encoding("a\u{1B}b"), Encoding::Ucs2);
        assert_eq!(encoding("façade"), Encoding::Ucs2);
        assert_eq!(encoding("FAÇADE"), Encoding::Gsm7);
        assert_eq!(non_gsm_chars("façade ç ب"), vec!['ç', 'ب']);
    }

    #[test]
    fn gsm_single_boundary() {
        let e = encode(&"a".repeat(160), 7);
        assert_eq!(e.encoding, Encoding::Gsm7);
        assert_eq!(e.segments.len(), 1);
        assert!(e.segments[0].udh.is_empty());
        assert_eq!(e.units(), 160);
        let e = encode(&"a".repeat(161), 7);
        assert_eq!(e.segments.len(), 2);
        assert_eq!(e.segments.iter().map(|s| s.units).collect::<Vec<_>>(), vec![153, 8]);
        // Extension chars count 2: 80 of them fill one SMS, 81 do not.
        assert_eq!(encode(&"€".repeat(80), 0).segments.len(), 1);
        assert_eq!(encode(&"€".repeat(81), 0).segments.len(), 2);
    }

    #[test]
    fn gsm_concatenated_boundaries() {
        assert_eq!(encode(&"x".repeat(306), 0).segments.len(), 2);
        assert_eq!(encode(&"x".repeat(307), 0).segments.len(), 3);
        assert_eq!(encode(&"x".repeat(459), 0).segments.len(), 3);
        assert_eq!(encode(&"x".repeat(460), 0).segments.len(), 4);
    }

    #[test]
    fn extension_char_at_153_moves_on() {
        // Septets 1..=152 plain, the euro would take 153 and 154.
        let text = format!("{}€{}", "a".repeat(152), "b".repeat(10));
        let e = encode(&text, 0);
        assert_eq!(e.units(), 164);
        assert_eq!(e.segments.len(), 2);
        assert_eq!(e.segments[0].text, "a".repeat(152));
        assert_eq!(e.segments[0].units, 152);
        assert_eq!(*e.segments[0].payload.last().unwrap(), b'a');
        assert!(e.segments[1].text.starts_with('€'));
        assert_eq!(&e.segments[1].payload[..2], &[0x1B, 0x65]);
        assert_eq!(e.segments[1].units, 12);
        // One earlier it fits exactly.
        let text = format!("{}€{}", "a".repeat(151), "b".repeat(10));
        let e = encode(&text, 0);
        assert_eq!(e.segments[0].units, 153);
        assert!(e.segments[0].text.ends_with('€'));
    }

    #[test]
    fn ucs2_boundaries() {
        let e = encode(&"ب".repeat(70), 0);
        assert_eq!(e.encoding, Encoding::Ucs2);
        assert_eq!(e.segments.len(), 1);
        assert_eq!(e.segments[0].payload.len(), 140);
        assert_eq!(&e.segments[0].payload[..2], &[0x06, 0x28]);
        let e = encode(&"ب".repeat(71), 0);
        assert_eq!(e.segments.iter().map(|s| s.units).collect::<Vec<_>>(), vec![67, 4]);
        assert_eq!(encode(&"ب".repeat(134), 0).segments.len(), 2);
        assert_eq!(encode(&"ب".repeat(135), 0).segments.len(), 3);
        // A GSM text with one ç goes UCS-2 and counts 1 unit per char.
        let e = encode(&format!("{}ç", "a".repeat(69)), 0);
        assert_eq!((e.encoding, e.segments.len(), e.units()), (Encoding::Ucs2, 1, 70));
        // Emoji are 2 units: 35 fit one SMS.
        assert_eq!(encode(&"😀".repeat(35), 0).segments.len(), 1);
        assert_eq!(encode(&"😀".repeat(36), 0).segments.len(), 2);
    }

    #[test]
    fn emoji_across_67_moves_on() {
        let text = format!("{}😀{}", "ب".repeat(66), "ت".repeat(5));
        let e = encode(&text, 0);
        assert_eq!(e.units(), 73);
        assert_eq!(e.segments.len(), 2);
        assert_eq!(e.segments[0].text, "ب".repeat(66));
        assert_eq!(e.segments[0].units, 66);
        assert_eq!(e.segments[0].payload.len(), 132);
        assert!(e.segments[1].text.starts_with('😀'));
        assert_eq!(&e.segments[1].payload[..4], &[0xD8, 0x3D, 0xDE, 0x00]);
    }

    #[test]
    fn udh_bytes() {
        let e = encode(&"z".repeat(400), 0xA7);
        assert_eq!(e.segments.len(), 3);
        for (i, s) in e.segments.iter().enumerate() {
            assert_eq!(s.udh, vec![0x05, 0x00, 0x03, 0xA7, 0x03, i as u8 + 1]);
            assert_eq!(s.fill_bits(Encoding::Gsm7), 1);
        }
        assert_eq!(e.segments[0].user_data_length(Encoding::Gsm7), 160);
        let ud = e.segments[0].user_data(Encoding::Gsm7);
        assert_eq!(ud.len(), 140);
        assert_eq!(&ud[..6], &[0x05, 0x00, 0x03, 0xA7, 0x03, 0x01]);
        assert!(encode("hi", 1).segments[0].udh.is_empty());
        let e = encode(&"ب".repeat(100), 9);
        assert_eq!(e.segments[1].udh, vec![5, 0, 3, 9, 2, 2]);
        assert_eq!(e.segments[0].fill_bits(Encoding::Ucs2), 0);
        assert_eq!(e.segments[0].user_data(Encoding::Ucs2).len(), 140);
        assert_eq!(e.segments[0].user_data_length(Encoding::Ucs2), 140);
    }

    #[test]
    fn too_many_segments() {
        let text = "a".repeat(153 * 255);
        assert_eq!(try_encode(&text, 0).unwrap().segments.len(), 255);
        let text = "a".repeat(153 * 255 + 1);
        let err = try_encode(&text, 0).unwrap_err();
        assert!(matches!(err, SmsError::TooManySegments { segments: 256, .. }));
        let e = encode(&text, 3);
        assert_eq!(e.segments.len(), 256);
        assert_eq!(e.segments[0].udh, vec![5, 0, 3, 3, 0, 0]);
    }

    #[test]
    fn empty_text_is_one_empty_sms() {
        let e = encode("", 0);
        assert_eq!(e.encoding, Encoding::Gsm7);
        assert_eq!(e.segments.len(), 1);
        assert_eq!(e.units(), 0);
        assert!(e.segments[0].payload.is_empty());
    }

    #[test]
    fn packing_vectors() {
        // The classic example.
        assert_eq!(hex(&pack_septets(&septets_of("hellohello"), 0)), "E8 32 9B FD 46 97 D9 EC 37");
        assert_eq!(hex(&pack_septets(&septets_of("Hello"), 0)), "C8 32 9B FD 06");
        assert_eq!(hex(&pack_septets(&septets_of("hello"), 0)), "E8 32 9B FD 06");
        // A UDH of 11 octets (88 bits) needs 3 fill bits: the reply-address
        // example whose UD continues 80 B2 CB E1 79 19 24 2F C3 D9 79.
        assert_eq!(hex(&pack_septets(&septets_of("Please reply"), 3)), "80 B2 CB E1 79 19 24 2F C3 D9 79");
        // One fill bit after a 6-octet header shifts everything by 1.
        assert_eq!(hex(&pack_septets(&[0x7F], 1)), "FE");
        assert_eq!(hex(&pack_septets(&[0x7F, 0x7F], 1)), "FE 7F");
        assert!(pack_septets(&[], 0).is_empty());
        assert_eq!(pack_septets(&[], 1), vec![0]);
        // Extension chars are escape + code.
        assert_eq!(septets_of("€["), vec![0x1B, 0x65, 0x1B, 0x3C]);
        let p = pack_septets(&septets_of("hellohello"), 1);
        assert_eq!(unpack_septets(&p, 1, 10), septets_of("hellohello"));
    }

    fn pool_char() -> impl Strategy<Value = char> {
        prop_oneof![
            4 => prop::char::range('a', 'z'),
            2 => prop::sample::select(vec!['€', '[', ']', '{', '}', '~', '^', '\\', '|', '\u{0C}']),
            1 => prop::sample::select(vec!['é', 'ñ', 'Ä', 'Ç', 'Δ', '@', '\n', '\r', '\u{1B}']),
            1 => prop::sample::select(vec!['ç', 'ب', 'ع', '😀', '🚑', '𝄞', '\u{FFFF}', '\u{10000}']),
            1 => any::<char>(),
        ]
    }

    fn texts() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            prop::collection::vec(pool_char(), 0..700).prop_map(|v| v.into_iter().collect()),
            // Mostly GSM with rare others: long GSM-7 and long UCS-2 texts.
            prop::collection::vec(prop::char::range('a', 'z'), 0..600)
                .prop_flat_map(|v| (Just(v.clone()), 0..=v.len(), pool_char()))
                .prop_map(|(mut v, at, c)| {
                    v.insert(at, c);
                    v.into_iter().collect()
                }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn segments_are_exact(text in texts(), reference in any::<u8>()) {
            let e = encode(&text, reference);
            let enc = e.encoding;
            prop_assert_eq!(enc, encoding(&text));
            prop_assert!(!e.segments.is_empty());
            let joined: String = e.segments.iter().map(|s| s.text.as_str()).collect();
            prop_assert_eq!(&joined, &text);
            prop_assert_eq!(e.units(), units(&text, enc));
            let n = e.segments.len();
            let limit = if n == 1 { enc.single_limit() } else { enc.segment_limit() };
            for (i, s) in e.segments.iter().enumerate() {
                prop_assert!(s.units <= limit);
                prop_assert_eq!(s.units, units(&s.text, enc));
                match enc {
                    Encoding::Gsm7 => {
                        prop_assert_eq!(s.payload.len(), s.units);
                        prop_assert!(s.payload.iter().all(|&b| b < 0x80));
                        // Never ends mid-escape: escapes pair up from the start.
                        let mut k = 0;
                        while k < s.payload.len() {
                            k += if s.payload[k] == ESCAPE { 2 } else { 1 };
                        }
                        prop_assert_eq!(k, s.payload.len());
                        prop_assert!(s.user_data(enc).len() <= 140);
                        prop_assert!(s.user_data_length(enc) <= 160);
                    }
                    Encoding::Ucs2 => {
                        prop_assert_eq!(s.payload.len(), 2 * s.units);
                        let u: Vec<u16> = s.payload.chunks(2).map(|p| u16::from_be_bytes([p[0], p[1]])).collect();
                        prop_assert_eq!(&String::from_utf16(&u).unwrap(), &s.text);
                        if let (Some(&first), Some(&last)) = (u.first(), u.last()) {
                            prop_assert!(!(0xDC00..0xE000).contains(&first));
                            prop_assert!(!(0xD800..0xDC00).contains(&last));
                        }
                        prop_assert!(s.user_data(enc).len() <= 140);
                    }
                }
                if n == 1 {
                    prop_assert!(s.udh.is_empty());
                } else {
                    prop_assert_eq!(&s.udh, &vec![5, 0, 3, reference, n as u8, i as u8 + 1]);
                    // Greedy: the next segment's first char did not fit here.
                    if let Some(next) = e.segments.get(i + 1) {
                        let c = next.text.chars().next().unwrap();
                        prop_assert!(s.units + char_units(c, enc) > limit);
                    }
                }
            }
            if n > 1 {
                prop_assert!(units(&text, enc) > enc.single_limit());
            }
        }

        #[test]
        fn packing_matches_leading_zero_septets(septets in prop::collection::vec(0u8..128, 0..200)) {
            // Fill bits are the bits of zero septets (7k = 8o + f) whose octets are dropped.
            for (f, k, o) in [(1u8, 7usize, 6usize), (3, 13, 11), (0, 8, 7)] {
                let mut padded = vec![0u8; k];
                padded.extend_from_slice(&septets);
                let full = pack_septets(&padded, 0);
                prop_assert_eq!(&pack_septets(&septets, f)[..], &full[o..]);
            }
            for f in 0..8u8 {
                let p = pack_septets(&septets, f);
                prop_assert_eq!(p.len(), (f as usize + 7 * septets.len()).div_ceil(8));
                prop_assert_eq!(unpack_septets(&p, f, septets.len()), septets.clone());
            }
        }
    }
}
