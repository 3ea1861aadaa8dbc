//! A road map as OSM XML (`corridor import`).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    // Every vehicle profile reads the tags its own way (access hierarchy,
    // maxweight/maxheight, barriers).
    for profile in [corridor_geo::Profile::Car, corridor_geo::Profile::Bus, corridor_geo::Profile::Ambulance] {
        let _ = corridor_geo::osm::import_xml(data, "fuzz.osm", profile, &corridor_geo::NoProgress);
    }
});
