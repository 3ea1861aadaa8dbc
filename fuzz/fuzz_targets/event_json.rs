//! Events as clients send them (a JSON array or JSON lines) and as a log
//! stores them (one canonical leaf).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = corridor_model::parse::parse_batch(text);
    }
    let _ = corridor_model::parse::parse_leaf(data);
});
