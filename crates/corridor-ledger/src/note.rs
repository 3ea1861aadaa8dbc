//! C2SP `signed-note` with Ed25519 keys, following the semantics of Go's
//! `golang.org/x/mod/sumdb/note`.
//!
//! A signed note is the text (ending in `\n`), a blank line, then one line
//! per signature:
//!
//! ```text
//! <text>\n
//! \n
//! — <key name> <base64(key hash (4 bytes, big-endian) || Ed25519 signature (64 bytes))>\n
//! ```
//!
//! The signature covers exactly the text, including its final newline.
//! Keys are written as
//!
//! * verifier key: `<name>+<key hash, 8 hex digits>+<base64(0x01 || public key)>`
//! * signer key: `PRIVATE+KEY+<name>+<key hash>+<base64(0x01 || 32-byte seed)>`
//!
//! where `0x01` identifies Ed25519 and the key hash is the first 4 bytes
//! (big-endian) of `SHA256(name || "\n" || 0x01 || public key)`.
//! Names are non-empty and contain no whitespace and no `+`.
//!
//! Keys of type `0x04` are C2SP `tlog-cosignature` (`cosignature/v1`)
//! keys, the ones monitors and witnesses countersign checkpoints with: the
//! signature is `timestamp (u64, big-endian) || Ed25519 signature` over
//! `cosignature/v1\ntime <timestamp>\n` followed by the note text.

use base64::{engine::general_purpose::STANDARD, Engine};
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use sha2::{Digest, Sha256};

/// Algorithm byte for Ed25519 keys.
const ALG_ED25519: u8 = 0x01;
/// Algorithm byte for timestamped Ed25519 cosignatures (C2SP tlog-cosignature).
const ALG_COSIGNATURE_V1: u8 = 0x04;

/// What a key signs: a plain Ed25519 note signature, or a timestamped
/// `cosignature/v1` of a checkpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Alg {
    Ed25519,
    CosignatureV1,
}

impl Alg {
    fn byte(self) -> u8 {
        match self {
            Alg::Ed25519 => ALG_ED25519,
            Alg::CosignatureV1 => ALG_COSIGNATURE_V1,
        }
    }
    fn from_byte(b: u8) -> Option<Alg> {
        match b {
            ALG_ED25519 => Some(Alg::Ed25519),
            ALG_COSIGNATURE_V1 => Some(Alg::CosignatureV1),
            _ => None,
        }
    }
}

/// The message a `cosignature/v1` signs: two header lines, then the note text.
fn cosigned_message(text: &str, time: u64) -> Vec<u8> {
    format!("cosignature/v1\ntime {time}\n{text}").into_bytes()
}
/// Start of every signature line: an em dash (U+2014) and a space.
const SIG_PREFIX: &str = "\u{2014} ";
/// Most signature lines a note may carry (as in Go), to bound the work of
/// opening it.
pub const MAX_SIGNATURES: usize = 100;

/// Why a key or note was rejected.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NoteError {
    #[error("invalid key name {0:?}: it must be non-empty, without whitespace or '+'")]
    InvalidName(String),
    #[error("malformed verifier key: {0}")]
    MalformedVerifierKey(&'static str),
    #[error("malformed signer key: {0}")]
    MalformedSignerKey(&'static str),
    #[error("unsupported key algorithm byte {0:#04x} (0x01, Ed25519, and 0x04, cosignature/v1, are supported)")]
    UnsupportedAlgorithm(u8),
    #[error("key hash {got:08x} does not match the key (expected {want:08x})")]
    KeyHashMismatch { got: u32, want: u32 },
    #[error("note text must end with a newline")]
    TextWithoutFinalNewline,
    #[error("note text contains a control character other than newline")]
    ControlCharacter,
    #[error("malformed note: {0}")]
    Malformed(&'static str),
    #[error("note has more than {MAX_SIGNATURES} signatures")]
    TooManySignatures,
    #[error("invalid signature by known key {name}+{key_hash:08x}")]
    InvalidSignature { name: String, key_hash: u32 },
    #[error("note has no verifiable signatures (none by a known key)")]
    NoVerifiedSignature,
    #[error("note is already signed by key {name}+{key_hash:08x}")]
    AlreadySigned { name: String, key_hash: u32 },
    #[error("could not generate a key: {0}")]
    KeyGeneration(String),
}

/// Checks a key name: non-empty, no (Unicode) whitespace, no `+`.
fn check_name(name: &str) -> Result<(), NoteError> {
    if name.is_empty() || name.contains(char::is_whitespace) || name.contains('+') {
        return Err(NoteError::InvalidName(name.to_string()));
    }
    Ok(())
}

/// Key hash: first 4 bytes (big-endian) of `SHA256(name || "\n" || alg || public key)`.
fn key_hash(name: &str, alg: Alg, public_key: &[u8; 32]) -> u32 {
    let digest = Sha256::new()
        .chain_update(name.as_bytes())
        .chain_update(b"\n")
        .chain_update([alg.byte()])
        .chain_update(public_key)
        .finalize();
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
}

/// Parses the 8-hex-digit key hash of a key string.
fn parse_key_hash(hex8: &str) -> Option<u32> {
    if hex8.len() != 8 || !hex8.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(hex8, 16).ok()
}

/// Decodes `base64(alg || 32 key bytes)`.
fn parse_key_bytes(b64: &str) -> Result<(Alg, [u8; 32]), Option<u8>> {
    let raw = STANDARD.decode(b64).map_err(|_| None)?;
    match raw.split_first() {
        Some((&b, key)) => {
            let alg = Alg::from_byte(b).ok_or(Some(b))?;
            Ok((alg, key.try_into().map_err(|_| None)?))
        }
        None => Err(None),
    }
}

fn encode_key(alg: Alg, key: &[u8; 32]) -> String {
    let mut raw = vec![alg.byte()];
    raw.extend_from_slice(key);
    STANDARD.encode(raw)
}

/// An Ed25519 signing key with a name.
pub struct Signer {
    name: String,
    alg: Alg,
    key_hash: u32,
    key: SigningKey,
}

impl std::fmt::Debug for Signer {
    /// Shows the name and key hash, never the private key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signer({}+{:08x})", self.name, self.key_hash)
    }
}

impl Signer {
    /// A new random key (from the OS random source) with this name.
    pub fn generate(name: &str) -> Result<Signer, NoteError> {
        Self::generate_for(name, Alg::Ed25519)
    }

    /// A new random key of this kind (a log's: `Ed25519`; a monitor's or
    /// witness's: `CosignatureV1`).
    pub fn generate_for(name: &str, alg: Alg) -> Result<Signer, NoteError> {
        check_name(name)?;
        let mut seed = [0u8; 32];
        rand::RngCore::try_fill_bytes(&mut rand::rngs::OsRng, &mut seed)
            .map_err(|e| NoteError::KeyGeneration(e.to_string()))?;
        Ok(Self::from_seed(name, alg, seed))
    }

    fn from_seed(name: &str, alg: Alg, seed: [u8; 32]) -> Signer {
        let key = SigningKey::from_bytes(&seed);
        let key_hash = key_hash(name, alg, key.verifying_key().as_bytes());
        Signer { name: name.to_string(), alg, key_hash, key }
    }

    /// Parses `PRIVATE+KEY+<name>+<hash>+<base64(0x01 || seed)>`, checking
    /// that the hash matches the public key derived from the seed.
    pub fn from_skey(skey: &str) -> Result<Signer, NoteError> {
        let rest = skey
            .strip_prefix("PRIVATE+KEY+")
            .ok_or(NoteError::MalformedSignerKey("it must start with PRIVATE+KEY+"))?;
        let mut parts = rest.splitn(3, '+');
        let (Some(name), Some(hash), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(NoteError::MalformedSignerKey("expected PRIVATE+KEY+name+hash+key"));
        };
        check_name(name)?;
        let hash = parse_key_hash(hash).ok_or(NoteError::MalformedSignerKey("the key hash must be 8 hex digits"))?;
        let (alg, seed) = parse_key_bytes(key).map_err(|alg| match alg {
            Some(alg) => NoteError::UnsupportedAlgorithm(alg),
            None => NoteError::MalformedSignerKey("the key must be base64 of 0x01 (or 0x04) and a 32-byte seed"),
        })?;
        let signer = Self::from_seed(name, alg, seed);
        if signer.key_hash != hash {
            return Err(NoteError::KeyHashMismatch { got: hash, want: signer.key_hash });
        }
        Ok(signer)
    }

    /// The signer key string, `PRIVATE+KEY+<name>+<hash>+<base64(0x01 || seed)>`.
    /// It is secret: store it like a password.
    pub fn to_skey(&self) -> String {
        format!("PRIVATE+KEY+{}+{:08x}+{}", self.name, self.key_hash, encode_key(self.alg, self.key.as_bytes()))
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key hash (identifies the key together with the name).
    pub fn key_hash(&self) -> u32 {
        self.key_hash
    }

    /// The matching verifier (public key).
    pub fn verifier(&self) -> Verifier {
        Verifier { name: self.name.clone(), alg: self.alg, key_hash: self.key_hash, key: self.key.verifying_key() }
    }

    /// What this key signs.
    pub fn alg(&self) -> Alg {
        self.alg
    }

    /// Ed25519 signature of `msg` (deterministic).
    pub fn sign(&self, msg: &[u8]) -> [u8; 64] {
        self.key.sign(msg).to_bytes()
    }

    /// The signature of a note's text as its signature line carries it
    /// (after the key hash): the Ed25519 signature of the text, or for a
    /// `cosignature/v1` key the timestamp `time` and the signature of the
    /// cosigned message.
    pub fn sign_note_at(&self, text: &str, time: u64) -> Vec<u8> {
        match self.alg {
            Alg::Ed25519 => self.sign(text.as_bytes()).to_vec(),
            Alg::CosignatureV1 => {
                let mut raw = time.to_be_bytes().to_vec();
                raw.extend_from_slice(&self.sign(&cosigned_message(text, time)));
                raw
            }
        }
    }
}

/// Seconds since the Unix epoch now (for cosignature timestamps).
fn now_unix() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// An Ed25519 public key with a name.
#[derive(Clone, Debug)]
pub struct Verifier {
    name: String,
    alg: Alg,
    key_hash: u32,
    key: VerifyingKey,
}

impl Verifier {
    /// Parses `<name>+<hash>+<base64(0x01 || public key)>`, checking that the
    /// hash matches the name and key.
    pub fn from_vkey(vkey: &str) -> Result<Verifier, NoteError> {
        let mut parts = vkey.splitn(3, '+');
        let (Some(name), Some(hash), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(NoteError::MalformedVerifierKey("expected name+hash+key"));
        };
        check_name(name)?;
        let hash = parse_key_hash(hash).ok_or(NoteError::MalformedVerifierKey("the key hash must be 8 hex digits"))?;
        let (alg, key) = parse_key_bytes(key).map_err(|alg| match alg {
            Some(alg) => NoteError::UnsupportedAlgorithm(alg),
            None => NoteError::MalformedVerifierKey("the key must be base64 of 0x01 (or 0x04) and a 32-byte public key"),
        })?;
        let want = key_hash(name, alg, &key);
        if hash != want {
            return Err(NoteError::KeyHashMismatch { got: hash, want });
        }
        let key = VerifyingKey::from_bytes(&key)
            .map_err(|_| NoteError::MalformedVerifierKey("not a valid Ed25519 public key"))?;
        Ok(Verifier { name: name.to_string(), alg, key_hash: hash, key })
    }

    /// The verifier key string, `<name>+<hash>+<base64(0x01 || public key)>`.
    pub fn to_vkey(&self) -> String {
        format!("{}+{:08x}+{}", self.name, self.key_hash, encode_key(self.alg, self.key.as_bytes()))
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key hash.
    pub fn key_hash(&self) -> u32 {
        self.key_hash
    }

    /// What this key signs.
    pub fn alg(&self) -> Alg {
        self.alg
    }

    /// Checks a signature line's signature (after the key hash) over a
    /// note's text; for a `cosignature/v1` key returns its timestamp.
    pub fn verify_note(&self, text: &str, sig: &[u8]) -> Option<Option<u64>> {
        match self.alg {
            Alg::Ed25519 => self.verify(text.as_bytes(), sig).then_some(None),
            Alg::CosignatureV1 => {
                let (time, sig) = sig.split_first_chunk::<8>()?;
                let time = u64::from_be_bytes(*time);
                (time <= i64::MAX as u64 && self.verify(&cosigned_message(text, time), sig)).then_some(Some(time))
            }
        }
    }

    /// True if `sig` is a valid 64-byte Ed25519 signature of `msg` by this key
    /// (RFC 8032 verification as in Go's `crypto/ed25519`: non-canonical `S` is
    /// rejected).
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        match Signature::from_slice(sig) {
            Ok(sig) => self.key.verify(msg, &sig).is_ok(),
            Err(_) => false,
        }
    }
}

/// A signature line's parts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteSignature {
    /// The key name.
    pub name: String,
    /// The key hash (first 4 bytes of the decoded signature).
    pub key_hash: u32,
    /// The base64 exactly as on the line: key hash || signature.
    pub base64: String,
    /// For a verified `cosignature/v1`: when it was made (Unix seconds).
    pub time: Option<u64>,
}

/// An opened note: its text and which signatures were checked.
#[derive(Clone, Debug)]
pub struct Note {
    /// The signed text, ending in `\n`.
    pub text: String,
    /// Signatures by known keys, all valid.
    pub verified: Vec<NoteSignature>,
    /// Signatures by keys not among the verifiers (not checked).
    pub unverified: Vec<NoteSignature>,
}

/// Checks that note text ends in `\n` and has no control characters other
/// than `\n`.
fn check_text(text: &str) -> Result<(), NoteError> {
    if !text.ends_with('\n') {
        return Err(NoteError::TextWithoutFinalNewline);
    }
    if text.chars().any(|c| c < ' ' && c != '\n') {
        return Err(NoteError::ControlCharacter);
    }
    Ok(())
}

fn signature_line(signer: &Signer, text: &str) -> String {
    let mut raw = signer.key_hash.to_be_bytes().to_vec();
    raw.extend_from_slice(&signer.sign_note_at(text, now_unix()));
    format!("{SIG_PREFIX}{} {}\n", signer.name, STANDARD.encode(raw))
}

/// Signs `text` (which must end with `\n`) with each signer, returning the
/// signed note: `text`, a blank line, one signature line per signer.
pub fn sign(text: &str, signers: &[&Signer]) -> Result<String, NoteError> {
    check_text(text)?;
    if signers.len() > MAX_SIGNATURES {
        return Err(NoteError::TooManySignatures);
    }
    let mut note = format!("{text}\n");
    for signer in signers {
        note.push_str(&signature_line(signer, text));
    }
    Ok(note)
}

/// One parsed signature line.
struct SigLine<'a> {
    line: &'a str,
    sig: NoteSignature,
    /// The 64-byte (if well formed) signature after the key hash.
    signature: Vec<u8>,
}

/// Splits a signed note into its text and signature lines, checking the
/// format but no signature (Go `note.Open`'s parsing).
fn parse(msg: &str) -> Result<(&str, Vec<SigLine<'_>>), NoteError> {
    if msg.chars().any(|c| c < ' ' && c != '\n') {
        return Err(NoteError::ControlCharacter);
    }
    // The signature block follows the LAST blank line; the text may contain
    // blank lines of its own.
    let split = msg
        .rfind("\n\n")
        .ok_or(NoteError::Malformed("no blank line before the signatures"))?;
    let (text, sigs) = (&msg[..split + 1], &msg[split + 2..]);
    if sigs.is_empty() || !sigs.ends_with('\n') {
        return Err(NoteError::Malformed("the signature block must be non-empty and end with a newline"));
    }
    let mut lines = Vec::new();
    for line in sigs[..sigs.len() - 1].split('\n') {
        let rest = line
            .strip_prefix(SIG_PREFIX)
            .ok_or(NoteError::Malformed("a signature line must start with an em dash and a space"))?;
        let (name, b64) = rest.split_once(' ').unwrap_or((rest, ""));
        check_name(name).map_err(|_| NoteError::Malformed("invalid key name in a signature line"))?;
        let raw = STANDARD
            .decode(b64)
            .map_err(|_| NoteError::Malformed("a signature is not valid base64"))?;
        if raw.len() < 5 {
            return Err(NoteError::Malformed("a signature is too short"));
        }
        if lines.len() == MAX_SIGNATURES {
            return Err(NoteError::TooManySignatures);
        }
        let key_hash = u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]);
        lines.push(SigLine {
            line,
            sig: NoteSignature { name: name.to_string(), key_hash, base64: b64.to_string(), time: None },
            signature: raw[4..].to_vec(),
        });
    }
    Ok((text, lines))
}

/// Opens a signed note with Go `note.Open` semantics:
///
/// * a malformed note, or one with more than [`MAX_SIGNATURES`] signature
///   lines, is an error;
/// * a signature by a known key (same name and key hash) that does not
///   verify is an error;
/// * signatures by unknown keys are returned as `unverified`;
/// * only the first signature line of each known key is checked; later
///   lines by the same key are dropped unchecked, and repeated identical
///   lines by unknown keys are listed once (as Go does);
/// * a note with no verified signature is an error.
pub fn open(msg: &str, verifiers: &[Verifier]) -> Result<Note, NoteError> {
    let (text, lines) = parse(msg)?;
    let mut note = Note { text: text.to_string(), verified: Vec::new(), unverified: Vec::new() };
    let mut seen_unverified: Vec<&str> = Vec::new();
    for SigLine { line, sig, signature } in lines {
        let known = verifiers.iter().find(|v| v.name == sig.name && v.key_hash == sig.key_hash);
        match known {
            None => {
                if !seen_unverified.contains(&line) {
                    seen_unverified.push(line);
                    note.unverified.push(sig);
                }
            }
            Some(v) => {
                if note.verified.iter().any(|s| s.name == sig.name && s.key_hash == sig.key_hash) {
                    continue;
                }
                let Some(time) = v.verify_note(text, &signature) else {
                    return Err(NoteError::InvalidSignature { name: sig.name, key_hash: sig.key_hash });
                };
                note.verified.push(NoteSignature { time, ..sig });
            }
        }
    }
    if note.verified.is_empty() {
        return Err(NoteError::NoVerifiedSignature);
    }
    Ok(note)
}

/// The names and key hashes of a note's signature lines, none checked
/// (to say whose signature a note carries when no known key verifies it).
pub fn signatures(msg: &str) -> Result<Vec<NoteSignature>, NoteError> {
    Ok(parse(msg)?.1.into_iter().map(|l| l.sig).collect())
}

/// Adds `signer`'s signature line after the existing ones (a monitor
/// countersigning a checkpoint). The existing note is kept byte for byte
/// as a prefix; its signatures are not checked here (use [`open`]).
///
/// Fails if the note is malformed, already carries a signature by the same
/// key, or would then exceed [`MAX_SIGNATURES`].
pub fn cosign(signed_note: &str, signer: &Signer) -> Result<String, NoteError> {
    let (text, lines) = parse(signed_note)?;
    if lines.iter().any(|l| l.sig.name == signer.name && l.sig.key_hash == signer.key_hash) {
        return Err(NoteError::AlreadySigned { name: signer.name.clone(), key_hash: signer.key_hash });
    }
    if lines.len() >= MAX_SIGNATURES {
        return Err(NoteError::TooManySignatures);
    }
    Ok(format!("{signed_note}{}", signature_line(signer, text)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "example.org/log\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";

    /// A `cosignature/v1` line is key hash || timestamp || signature of
    /// `cosignature/v1\ntime T\n` + text, under a key hash over 0x04.
    #[test]
    fn cosignature_v1_follows_the_spec() {
        let log = Signer::generate("example.org/log").unwrap();
        let monitor = Signer::generate_for("icrc.example/monitor-1", Alg::CosignatureV1).unwrap();
        let vkey = monitor.verifier().to_vkey();
        let raw = STANDARD.decode(vkey.splitn(3, '+').nth(2).unwrap()).unwrap();
        assert_eq!(raw[0], 0x04);
        let pk: [u8; 32] = raw[1..].try_into().unwrap();
        let want = Sha256::new().chain_update(b"icrc.example/monitor-1\n\x04").chain_update(pk).finalize();
        assert_eq!(monitor.key_hash().to_be_bytes(), want[..4]);
        // The same key as a plain Ed25519 key has another key hash.
        assert_ne!(key_hash("icrc.example/monitor-1", Alg::Ed25519, &pk), monitor.key_hash());

        let sig = monitor.sign_note_at(TEXT, 1_679_315_147);
        assert_eq!(sig.len(), 72);
        assert_eq!(sig[..8], 1_679_315_147u64.to_be_bytes());
        let msg = format!("cosignature/v1\ntime 1679315147\n{TEXT}");
        assert!(VerifyingKey::from_bytes(&pk).unwrap().verify(msg.as_bytes(), &Signature::from_slice(&sig[8..]).unwrap()).is_ok());

        let note = cosign(&sign(TEXT, &[&log]).unwrap(), &monitor).unwrap();
        let opened = open(&note, &[log.verifier(), Verifier::from_vkey(&vkey).unwrap()]).unwrap();
        assert_eq!(opened.verified.len(), 2);
        assert!(opened.verified[1].time.is_some() && opened.verified[0].time.is_none());
        // Round trip of the private key keeps the kind.
        assert_eq!(Signer::from_skey(&monitor.to_skey()).unwrap().verifier().to_vkey(), vkey);

        // Another timestamp with the same signature does not verify.
        let mut bad = sig.clone();
        bad[7] ^= 1;
        assert_eq!(monitor.verifier().verify_note(TEXT, &bad), None);
        assert_eq!(monitor.verifier().verify_note(TEXT, &sig), Some(Some(1_679_315_147)));
        // A timestamp past 2^63 - 1 is refused.
        let late = monitor.sign_note_at(TEXT, 1 << 63);
        assert_eq!(monitor.verifier().verify_note(TEXT, &late), None);
    }
}
