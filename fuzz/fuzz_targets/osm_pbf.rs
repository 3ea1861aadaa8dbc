//! A road map as `.osm.pbf` (`corridor import`).
//!
//! osmpbf 0.3.8 decodes dense nodes' delta-coded ids and coordinates with
//! unchecked arithmetic (`dense.rs`): crafted values overflow, which panics
//! here (the fuzz build checks overflow everywhere) and wraps in Corridor's
//! release build (a wrong coordinate, not a crash). Those panics, raised
//! inside osmpbf's own source, are let through; so is protobuf's panicking
//! `EnumOrUnknown::unwrap`, which osmpbf calls on a relation member's type
//! (an unknown type in a corrupt file): Corridor catches that one
//! (`catch_unwind` in `osm.rs`) and counts the restriction as broken. A
//! panic anywhere else still aborts the run as a crash.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let crash = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !info.location().is_some_and(|l| l.file().contains("/osmpbf-") || l.file().contains("/protobuf-")) {
                crash(info);
            }
        }));
    });
    // Every vehicle profile reads the tags its own way (access hierarchy,
    // maxweight/maxheight, barriers).
    for profile in [corridor_geo::Profile::Car, corridor_geo::Profile::Bus, corridor_geo::Profile::Ambulance] {
        let _ = std::panic::catch_unwind(|| corridor_geo::osm::import_pbf(data, "fuzz.osm.pbf", profile, &corridor_geo::NoProgress));
    }
});
