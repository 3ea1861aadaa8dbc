//! Which roads a convoy of buses and ambulances may use, how fast, in which
//! direction, and how many vehicles an hour they carry.
//!
//! The rules read OpenStreetMap tags, so a GeoJSON road layer whose
//! properties are OSM tags (the form humanitarian data portals distribute
//! roads in) goes through the same rules as a `.osm.pbf` extract.
//!
//! ## Speeds
//! Free-flow speeds by `highway` class are those of OSRM's car profile
//! (`profiles/car.lua`, `speeds.highway`), capped at [`BUS_MAX_KMH`]: a
//! loaded bus in a convoy does not drive faster. A parsable `maxspeed` tag
//! (`50`, `50 km/h`, `30 mph`) replaces the class speed, under the same cap.
//!
//! ## Capacity
//! Vehicles per hour per lane by class, after the Highway Capacity Manual
//! (HCM 2010/6th ed.): basic freeway segments carry about 2,000–2,400
//! passenger cars/hour/lane (we take 2,000 for motorways and trunks);
//! signalised urban arterials a base saturation flow of 1,900 pc/h/ln,
//! of which a street gets its green share (we take 1,800 for primary,
//! 1,500 secondary, 1,200 tertiary); local streets with parking, junctions
//! and pedestrians far less (900 unclassified/residential, 600 service,
//! 300 living streets). Lanes come from `lanes` (`lanes:forward` /
//! `lanes:backward` when given); a two-way road without them has one lane
//! each way, a one-way road the class default. These are passenger-car
//! units: a bus counts as about 2 (HCM heavy-vehicle equivalent on level
//! terrain), which the planner applies, not this table.
//!
//! ## Access
//! Classes from motorway to service (and their `_link`s, `road`,
//! `living_street`, `busway`) are usable; footways, paths, cycleways,
//! steps, tracks, construction and proposed roads are not. `access`,
//! `motor_vehicle` or `vehicle` = `no`/`private`/`agricultural`/`forestry`/
//! `delivery`/`destination`* close a road unless `psv`, `bus` or
//! `emergency` say `yes`/`designated`. (*`destination` is kept open: a
//! convoy's destination is often such a road.) `service=parking_aisle` and
//! `driveway` are left out, as OSRM does. `area=yes` is not a road.
//!
//! ## One-way
//! `oneway=yes|true|1` forward only, `-1|reverse` backward only,
//! `junction=roundabout|circular` and `highway=motorway` one-way unless
//! `oneway=no`; `oneway:bus=no` or `oneway:psv=no` open both ways for a bus.

/// The highest speed a convoy bus drives at, km/h.
pub const BUS_MAX_KMH: f64 = 80.0;

/// A road class a convoy may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum RoadClass {
    Motorway = 0,
    Trunk,
    Primary,
    Secondary,
    Tertiary,
    MotorwayLink,
    TrunkLink,
    PrimaryLink,
    SecondaryLink,
    TertiaryLink,
    Unclassified,
    Residential,
    LivingStreet,
    Service,
    Road,
    Busway,
}

impl RoadClass {
    pub const ALL: [RoadClass; 16] = [
        RoadClass::Motorway,
        RoadClass::Trunk,
        RoadClass::Primary,
        RoadClass::Secondary,
        RoadClass::Tertiary,
        RoadClass::MotorwayLink,
        RoadClass::TrunkLink,
        RoadClass::PrimaryLink,
        RoadClass::SecondaryLink,
        RoadClass::TertiaryLink,
        RoadClass::Unclassified,
        RoadClass::Residential,
        RoadClass::LivingStreet,
        RoadClass::Service,
        RoadClass::Road,
        RoadClass::Busway,
    ];

    pub fn from_tag(highway: &str) -> Option<RoadClass> {
        RoadClass::ALL.into_iter().find(|c| c.tag() == highway)
    }

    pub fn from_u8(v: u8) -> Option<RoadClass> {
        RoadClass::ALL.get(v as usize).copied()
    }

    /// The `highway=*` value.
    pub fn tag(self) -> &'static str {
        match self {
            RoadClass::Motorway => "motorway",
            RoadClass::Trunk => "trunk",
            RoadClass::Primary => "primary",
            RoadClass::Secondary => "secondary",
            RoadClass::Tertiary => "tertiary",
            RoadClass::MotorwayLink => "motorway_link",
            RoadClass::TrunkLink => "trunk_link",
            RoadClass::PrimaryLink => "primary_link",
            RoadClass::SecondaryLink => "secondary_link",
            RoadClass::TertiaryLink => "tertiary_link",
            RoadClass::Unclassified => "unclassified",
            RoadClass::Residential => "residential",
            RoadClass::LivingStreet => "living_street",
            RoadClass::Service => "service",
            RoadClass::Road => "road",
            RoadClass::Busway => "busway",
        }
    }

    /// Free-flow speed, km/h (OSRM car profile), before the bus cap.
    pub fn speed_kmh(self) -> f64 {
        match self {
            RoadClass::Motorway => 90.0,
            RoadClass::Trunk => 85.0,
            RoadClass::Primary => 65.0,
            RoadClass::Secondary => 55.0,
            RoadClass::Tertiary => 40.0,
            RoadClass::MotorwayLink => 45.0,
            RoadClass::TrunkLink => 40.0,
            RoadClass::PrimaryLink => 30.0,
            RoadClass::SecondaryLink => 25.0,
            RoadClass::TertiaryLink => 20.0,
            RoadClass::Unclassified => 25.0,
            RoadClass::Residential => 25.0,
            RoadClass::LivingStreet => 10.0,
            RoadClass::Service => 15.0,
            RoadClass::Road => 25.0,
            RoadClass::Busway => 40.0,
        }
    }

    /// Vehicles (passenger-car units) per hour per lane (see the module doc).
    pub fn capacity_per_lane(self) -> u32 {
        match self {
            RoadClass::Motorway | RoadClass::Trunk => 2000,
            RoadClass::MotorwayLink | RoadClass::TrunkLink => 1800,
            RoadClass::Primary | RoadClass::PrimaryLink => 1800,
            RoadClass::Secondary | RoadClass::SecondaryLink => 1500,
            RoadClass::Tertiary | RoadClass::TertiaryLink | RoadClass::Busway => 1200,
            RoadClass::Unclassified | RoadClass::Residential | RoadClass::Road => 900,
            RoadClass::Service => 600,
            RoadClass::LivingStreet => 300,
        }
    }

    /// Lanes in each direction of a one-way road with no `lanes` tag.
    fn default_oneway_lanes(self) -> u32 {
        match self {
            RoadClass::Motorway | RoadClass::Trunk => 2,
            _ => 1,
        }
    }
}

/// Read access to a feature's tags (OSM tags or GeoJSON properties).
pub trait Tags {
    fn get(&self, key: &str) -> Option<&str>;
}

impl Tags for [(String, String)] {
    fn get(&self, key: &str) -> Option<&str> {
        self.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

impl Tags for Vec<(String, String)> {
    fn get(&self, key: &str) -> Option<&str> {
        Tags::get(self.as_slice(), key)
    }
}

/// How a convoy may use one way (a road of the OSM data).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WayRule {
    pub class: RoadClass,
    pub forward: bool,
    pub backward: bool,
    /// Travel speed, km/h, after `maxspeed` and the bus cap.
    pub speed_kmh: f64,
    /// Vehicles per hour in the forward and backward directions.
    pub capacity_forward: u32,
    pub capacity_backward: u32,
}

const CLOSED: [&str; 6] = ["no", "private", "agricultural", "forestry", "delivery", "customers"];
const OPEN: [&str; 4] = ["yes", "designated", "permissive", "destination"];

/// The rule for a way, or `None` when a convoy may not use it.
pub fn way_rule(tags: &(impl Tags + ?Sized)) -> Option<WayRule> {
    let class = RoadClass::from_tag(tags.get("highway")?)?;
    if tags.get("area") == Some("yes") {
        return None;
    }
    if class == RoadClass::Service && matches!(tags.get("service"), Some("parking_aisle" | "driveway")) {
        return None;
    }
    let closed = ["access", "vehicle", "motor_vehicle"]
        .iter()
        .any(|k| tags.get(k).is_some_and(|v| CLOSED.contains(&v)));
    let opened = ["psv", "bus", "emergency"].iter().any(|k| tags.get(k).is_some_and(|v| OPEN.contains(&v)));
    if closed && !opened {
        return None;
    }
    let implied_oneway = class == RoadClass::Motorway
        || matches!(tags.get("junction"), Some("roundabout" | "circular"));
    let (mut forward, mut backward) = match tags.get("oneway") {
        Some("yes" | "true" | "1") => (true, false),
        Some("-1" | "reverse") => (false, true),
        Some("no" | "false" | "0") => (true, true),
        _ if implied_oneway => (true, false),
        _ => (true, true),
    };
    if matches!(tags.get("oneway:bus"), Some("no")) || matches!(tags.get("oneway:psv"), Some("no")) {
        forward = true;
        backward = true;
    }

    let speed = tags.get("maxspeed").and_then(parse_maxspeed).unwrap_or(class.speed_kmh());
    let speed_kmh = speed.clamp(5.0, BUS_MAX_KMH);

    let lanes_total = tags.get("lanes").and_then(parse_count);
    let lanes_dir = |key: &str| tags.get(key).and_then(parse_count);
    let (lanes_f, lanes_b) = if forward && backward {
        let half = lanes_total.map(|n| n.div_ceil(2).max(1)).unwrap_or(1);
        (lanes_dir("lanes:forward").unwrap_or(half), lanes_dir("lanes:backward").unwrap_or(half))
    } else {
        let n = lanes_total.unwrap_or(class.default_oneway_lanes()).max(1);
        (n, n)
    };
    let per_lane = class.capacity_per_lane();
    Some(WayRule {
        class,
        forward,
        backward,
        speed_kmh,
        capacity_forward: if forward { per_lane * lanes_f.max(1) } else { 0 },
        capacity_backward: if backward { per_lane * lanes_b.max(1) } else { 0 },
    })
}

fn parse_count(s: &str) -> Option<u32> {
    let n: u32 = s.trim().parse().ok()?;
    (1..=16).contains(&n).then_some(n)
}

/// `50`, `50 km/h`, `50kmh`, `30 mph`; anything else (`RU:urban`, `signals`,
/// `none`) is not a number and leaves the class speed.
pub fn parse_maxspeed(s: &str) -> Option<f64> {
    let s = s.trim();
    let digits_end = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    let v: f64 = s[..digits_end].parse().ok()?;
    let unit = s[digits_end..].trim();
    let kmh = match unit {
        "" | "km/h" | "kmh" | "kph" => v,
        "mph" => v * 1.609_344,
        _ => return None,
    };
    (kmh > 0.0 && kmh < 200.0).then_some(kmh)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn classes_and_access() {
        assert!(way_rule(&tags(&[("highway", "footway")])).is_none());
        assert!(way_rule(&tags(&[("highway", "residential"), ("access", "private")])).is_none());
        assert!(way_rule(&tags(&[("highway", "residential"), ("access", "no"), ("psv", "yes")])).is_some());
        assert!(way_rule(&tags(&[("highway", "service"), ("service", "parking_aisle")])).is_none());
        let r = way_rule(&tags(&[("highway", "primary")])).unwrap();
        assert_eq!((r.forward, r.backward, r.speed_kmh, r.capacity_forward), (true, true, 65.0, 1800));
    }

    #[test]
    fn oneway_rules() {
        let r = way_rule(&tags(&[("highway", "primary"), ("oneway", "-1")])).unwrap();
        assert_eq!((r.forward, r.backward), (false, true));
        let r = way_rule(&tags(&[("highway", "tertiary"), ("junction", "roundabout")])).unwrap();
        assert_eq!((r.forward, r.backward), (true, false));
        let r = way_rule(&tags(&[("highway", "motorway")])).unwrap();
        assert_eq!((r.forward, r.backward, r.speed_kmh, r.capacity_forward), (true, false, 80.0, 4000));
        let r = way_rule(&tags(&[("highway", "secondary"), ("oneway", "yes"), ("oneway:bus", "no")])).unwrap();
        assert_eq!((r.forward, r.backward), (true, true));
    }

    #[test]
    fn maxspeed_and_lanes() {
        assert_eq!(parse_maxspeed("50"), Some(50.0));
        assert_eq!(parse_maxspeed("50 km/h"), Some(50.0));
        assert!((parse_maxspeed("30 mph").unwrap() - 48.28).abs() < 0.01);
        assert_eq!(parse_maxspeed("RU:urban"), None);
        let r = way_rule(&tags(&[("highway", "primary"), ("maxspeed", "30"), ("lanes", "4")])).unwrap();
        assert_eq!((r.speed_kmh, r.capacity_forward, r.capacity_backward), (30.0, 3600, 3600));
        let r = way_rule(&tags(&[("highway", "primary"), ("lanes", "3"), ("lanes:forward", "2"), ("lanes:backward", "1")])).unwrap();
        assert_eq!((r.capacity_forward, r.capacity_backward), (3600, 1800));
    }
}
