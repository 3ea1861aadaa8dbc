//! Keys from the command line and files: verifier keys (`--log-key`,
//! `--witness-key`, `token create --key`) and signing keys (`log.key`,
//! `monitor.key`).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = corridor_ledger::note::Verifier::from_vkey(text);
        let _ = corridor_ledger::note::Signer::from_skey(text);
    }
});
