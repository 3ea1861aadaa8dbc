//! A signed checkpoint as a monitor or witness receives it: the note
//! opened with a key, and its text as a C2SP checkpoint.
#![no_main]
use corridor_ledger::note::{open, Signer};
use std::sync::OnceLock;

fn verifier() -> &'static corridor_ledger::note::Verifier {
    static V: OnceLock<corridor_ledger::note::Verifier> = OnceLock::new();
    V.get_or_init(|| Signer::generate("fuzz.example/log").expect("a key").verifier())
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = open(text, std::slice::from_ref(verifier()));
        let _ = corridor_ledger::checkpoint::Checkpoint::parse(text);
        if let Some((_, body)) = text.split_once("\n\n") {
            let _ = corridor_ledger::checkpoint::Checkpoint::parse(body);
        }
    }
});
