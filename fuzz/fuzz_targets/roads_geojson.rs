//! A road map as GeoJSON LineStrings (`corridor import`).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = corridor_geo::roads::import_geojson(text, "fuzz.geojson");
    }
});
