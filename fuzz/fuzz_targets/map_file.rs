//! A prepared network file (`--map FILE.cnet`, `DATA_DIR/map.cnet`).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = corridor_geo::netfile::from_bytes(data, "fuzz.cnet");
});
