//! What a log's followers send and read: tile paths (`/log/tile/…`), entry
//! bundles, and a witness's `add-checkpoint` request.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = corridor_ledger::tiles::unbundle(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = corridor_ledger::tiles::Tile::parse(text);
        let _ = corridor_server::witness::parse_request(text);
    }
});
