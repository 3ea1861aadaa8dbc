//! A road map as OSM XML (`corridor import`).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = corridor_geo::osm::import_xml(data, "fuzz.osm", &corridor_geo::NoProgress);
});
