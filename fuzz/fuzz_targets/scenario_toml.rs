//! An operation's scenario file (`corridor apply`, `plan`, `demo --scenario`).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = corridor_plan::scenario::Scenario::parse(text, "fuzz.toml");
    }
});
