//! Shared by the notify tests: the operation a log declares.

#![allow(dead_code)]

use corridor_model::{Body, Event, MapRef, Operation};

/// An `operation_declared` event for `zone`, one second before `events[0]`.
pub fn operation(id: &str, name: &str, zone: &str, events: &[Event]) -> Event {
    let t = events.first().map(|e| e.time).unwrap_or_default() - chrono::Duration::seconds(1);
    Event::new(
        format!("operation-{id}"),
        t,
        "hq",
        Body::OperationDeclared(Operation {
            operation: id.into(),
            name: name.into(),
            timezone: zone.into(),
            languages: vec!["ar".into(), "en".into()],
            map: MapRef { name: "test map".into(), attribution: "test data".into(), sha256: "0".repeat(64) },
        }),
    )
}

/// `events` with an operation declared in `zone` first, unless they declare
/// one already (the simulator may declare the reference case's own).
pub fn declared(zone: &str, mut events: Vec<Event>) -> Vec<Event> {
    if !events.iter().any(|e| matches!(e.body, Body::OperationDeclared(_))) {
        events.insert(0, operation("test-operation", "Test operation", zone, &events));
    }
    events
}
