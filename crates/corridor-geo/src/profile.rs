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
//! ## Profiles
//! Three vehicles, each its own prepared network (the profile is chosen at
//! import and recorded in the `.cnet` file): [`Profile::Car`] (OSRM's car
//! rules), [`Profile::Bus`] (an 18 t, 3.8 m coach with public-service
//! access) and [`Profile::Ambulance`] (a van-sized vehicle with emergency
//! access). The README's "Vehicle profiles" section says, rule by rule,
//! where the bus differs from a car and why.
//!
//! ## Access
//! Classes from motorway to service (and their `_link`s, `road`,
//! `living_street`, `busway`) are usable; footways, paths, cycleways,
//! steps, tracks, construction and proposed roads are not (`busway` only
//! for a bus or an ambulance). Access tags are read through the profile's
//! hierarchy, most specific key first ([`Profile::access_keys`]; `KEY:forward`
//! and `KEY:backward` before `KEY` for each direction, as OSRM's car
//! profile does): the first key present decides. `yes`/`designated`/
//! `permissive`/`official` open a road; `no`/`private`/`agricultural`/
//! `forestry`/`delivery`/`customers`/`use_sidepath` close it, and
//! `psv`/`bus`/`emergency` as an `access` value open it only for the
//! vehicles they name. `destination` opens it to a route that starts or
//! ends there, not to one passing through ([`WayRule::destination_forward`]; the
//! router keeps such roads to the ends of a route, as OSRM's
//! `destination.feature` asks). `maxweight` and `maxheight` (also
//! `maxheight:physical`) below the vehicle's weight and height close a
//! road. Service roads: `service=emergency_access` only for an ambulance;
//! `driveway`, `parking_aisle`, `parking`, `alley`, `drive-through` at half
//! the service speed (OSRM's car profile keeps them with a 0.5 penalty).
//! `area=yes` is not a road. A node whose `barrier` is not one a vehicle
//! drives through (OSRM's car whitelist: gate, lift_gate, toll_booth, …),
//! or whose access tags close it, or whose `maxheight` is too low, cannot
//! be passed ([`node_passable`]).
//!
//! ## One-way
//! `oneway=yes|true|1` forward only, `-1|reverse` backward only,
//! `reversible` not at all, `junction=roundabout|circular` and
//! `highway=motorway` one-way unless `oneway=no`; a mode-specific
//! `oneway:KEY` for the profile's keys (`oneway:bus`/`oneway:psv` for a
//! bus, `oneway:motorcar` for a car, …) comes before `oneway`.

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
    /// Open, in that direction, only to routes that start or end on it
    /// (`access=destination` and the like, read through the profile's hierarchy).
    pub destination_forward: bool,
    pub destination_backward: bool,
}

/// A vehicle the network is prepared for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum Profile {
    /// OSRM's car rules (2.0 m, 2 t: OSRM `car.lua`'s vehicle size).
    #[default]
    Car = 0,
    /// A convoy bus: 18 t, 3.8 m high, public-service access.
    Bus = 1,
    /// An ambulance: a 3.5 t van, 2.9 m high, emergency access.
    Ambulance = 2,
}

impl Profile {
    pub const ALL: [Profile; 3] = [Profile::Car, Profile::Bus, Profile::Ambulance];

    pub fn name(self) -> &'static str {
        match self {
            Profile::Car => "car",
            Profile::Bus => "bus",
            Profile::Ambulance => "ambulance",
        }
    }

    pub fn from_name(name: &str) -> Option<Profile> {
        Profile::ALL.into_iter().find(|p| p.name() == name)
    }

    pub fn from_u8(v: u8) -> Option<Profile> {
        Profile::ALL.get(v as usize).copied()
    }

    /// Laden weight, tonnes: compared with `maxweight`.
    pub fn weight_t(self) -> f64 {
        match self {
            Profile::Car => 2.0,
            Profile::Bus => 18.0,
            Profile::Ambulance => 3.5,
        }
    }

    /// Height, metres: compared with `maxheight`.
    pub fn height_m(self) -> f64 {
        match self {
            Profile::Car => 2.0,
            Profile::Bus => 3.8,
            Profile::Ambulance => 2.9,
        }
    }

    /// The access keys the profile obeys, most specific first (the OSM
    /// access hierarchy: `access` > `vehicle` > `motor_vehicle` > the
    /// vehicle's own keys). A bus obeys `bus` and `psv` first, then
    /// `motorcar` (a bus carries people as a car does, so a road closed to
    /// cars is closed to it unless `bus`/`psv` open it), then `hgv` (it is
    /// as big as a lorry). An ambulance obeys `emergency` first, then the
    /// car's keys.
    pub fn access_keys(self) -> &'static [&'static str] {
        match self {
            Profile::Car => &["motorcar", "motor_vehicle", "vehicle", "access"],
            Profile::Bus => &["bus", "psv", "motorcar", "hgv", "motor_vehicle", "vehicle", "access"],
            Profile::Ambulance => &["emergency", "motorcar", "motor_vehicle", "vehicle", "access"],
        }
    }

    /// The modes whose turn restrictions bind the profile, most specific
    /// first: a `restriction:MODE=*` tag for one of them comes before a
    /// plain `restriction=*` (its access keys without `access`: a bus
    /// obeys `restriction:hgv` and `restriction:motorcar` as it obeys
    /// `hgv=no` and `motorcar=no`).
    pub fn restriction_modes(self) -> &'static [&'static str] {
        let keys = self.access_keys();
        &keys[..keys.len() - 1]
    }

    /// The modes an `except=*` list of a turn restriction waives it for
    /// (OSRM's car profile waives it for its own modes). A bus is waived
    /// by `psv`/`bus` (and the general `motor_vehicle`/`vehicle`), not by
    /// `motorcar` or `hgv`: a turn allowed to cars or lorries is not one a
    /// coach may take. An ambulance is waived by `emergency` and by the
    /// car's modes.
    pub fn restriction_exempt_modes(self) -> &'static [&'static str] {
        match self {
            Profile::Car => &["motorcar", "motor_vehicle", "vehicle"],
            Profile::Bus => &["bus", "psv", "motor_vehicle", "vehicle"],
            Profile::Ambulance => &["emergency", "motorcar", "motor_vehicle", "vehicle"],
        }
    }

    /// The keys whose `oneway:KEY` the profile obeys, most specific first.
    fn oneway_keys(self) -> &'static [&'static str] {
        match self {
            Profile::Car | Profile::Ambulance => &["motorcar", "motor_vehicle", "vehicle"],
            Profile::Bus => &["bus", "psv", "motor_vehicle", "vehicle"],
        }
    }

    /// What an access value means for this vehicle: `Some(true)` open,
    /// `Some(false)` closed, `None` a value this vehicle does not read
    /// (`some_tag`), which leaves the road open as OSRM does.
    fn access_value(self, v: &str) -> Option<Access> {
        let open = |yes: bool| if yes { Access::Open } else { Access::Closed };
        match v {
            "yes" | "designated" | "permissive" | "official" => Some(Access::Open),
            "destination" => Some(Access::Destination),
            "no" | "private" | "agricultural" | "forestry" | "delivery" | "customers" | "use_sidepath" => Some(Access::Closed),
            "psv" | "bus" => Some(open(self == Profile::Bus)),
            "emergency" => Some(open(self == Profile::Ambulance)),
            _ => None,
        }
    }

    /// What the profile's access hierarchy says of a feature in one
    /// direction (`dir` = `"forward"`/`"backward"`, or `""` for a node).
    fn access(self, tags: &(impl Tags + ?Sized), dir: &str) -> Access {
        for key in self.access_keys() {
            let directed = if dir.is_empty() { None } else { tags.get(&format!("{key}:{dir}")) };
            if let Some(a) = directed.or(tags.get(key)).and_then(|v| self.access_value(v)) {
                return a;
            }
        }
        Access::Open
    }
}

/// What the access tags say for one vehicle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    Open,
    /// Open to a route that starts or ends there, not to one passing through.
    Destination,
    Closed,
}

impl std::fmt::Display for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Barriers a vehicle drives through (OSRM `car.lua`'s `barrier_whitelist`);
/// a bus also through a `bus_trap` (a pit only buses clear).
fn barrier_passable(profile: Profile, barrier: &str) -> bool {
    matches!(
        barrier,
        "no" | "cattle_grid" | "border_control" | "toll_booth" | "sally_port" | "gate" | "lift_gate" | "entrance" | "height_restrictor" | "arch"
    ) || (profile == Profile::Bus && barrier == "bus_trap")
}

/// Whether a vehicle of `profile` may pass a node with these tags: its
/// access tags decide first (they trump a barrier, as in OSRM's
/// `barrier.feature`), then its `barrier`, then its `maxheight`.
pub fn node_passable(profile: Profile, tags: &(impl Tags + ?Sized)) -> bool {
    for key in profile.access_keys() {
        if let Some(a) = tags.get(key).and_then(|v| profile.access_value(v)) {
            return a != Access::Closed;
        }
    }
    if let Some(b) = tags.get("barrier") {
        if !barrier_passable(profile, b) {
            return false;
        }
    }
    !["maxheight", "maxheight:physical"].iter().any(|k| tags.get(k).and_then(parse_height_m).is_some_and(|h| h < profile.height_m()))
}

/// The rule for a way, or `None` when a vehicle of `profile` may not use it.
pub fn way_rule(profile: Profile, tags: &(impl Tags + ?Sized)) -> Option<WayRule> {
    let class = RoadClass::from_tag(tags.get("highway")?)?;
    if tags.get("area") == Some("yes") {
        return None;
    }
    if class == RoadClass::Busway && profile == Profile::Car {
        return None;
    }
    let mut speed_factor = 1.0;
    if class == RoadClass::Service {
        match tags.get("service") {
            Some("emergency_access") if profile != Profile::Ambulance => return None,
            Some("parking_aisle" | "driveway" | "parking" | "alley" | "drive-through") => speed_factor = 0.5,
            _ => {}
        }
    }
    let too_heavy = ["maxweight", "maxweight:physical"].iter().any(|k| tags.get(k).and_then(parse_weight_t).is_some_and(|w| w < profile.weight_t()));
    let too_high = ["maxheight", "maxheight:physical"].iter().any(|k| tags.get(k).and_then(parse_height_m).is_some_and(|h| h < profile.height_m()));
    if too_heavy || too_high {
        return None;
    }
    let implied_oneway = class == RoadClass::Motorway
        || matches!(tags.get("junction"), Some("roundabout" | "circular"));
    let oneway = profile.oneway_keys().iter().find_map(|k| tags.get(&format!("oneway:{k}"))).or(tags.get("oneway"));
    let (forward, backward) = match oneway {
        Some("yes" | "true" | "1") => (true, false),
        Some("-1" | "reverse") => (false, true),
        Some("reversible") => (false, false),
        Some("no" | "false" | "0" | "alternating") => (true, true),
        _ if implied_oneway => (true, false),
        _ => (true, true),
    };
    let (access_f, access_b) = (profile.access(tags, "forward"), profile.access(tags, "backward"));
    let forward = forward && access_f != Access::Closed;
    let backward = backward && access_b != Access::Closed;
    if !forward && !backward {
        return None;
    }
    let (destination_forward, destination_backward) = (access_f == Access::Destination, access_b == Access::Destination);

    let speed = tags.get("maxspeed").and_then(parse_maxspeed).unwrap_or(class.speed_kmh());
    let speed_kmh = speed.clamp(5.0, BUS_MAX_KMH) * speed_factor;

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
        destination_forward,
        destination_backward,
    })
}

/// A leading number and the rest, trimmed: `3.5 t` → `(3.5, "t")`.
fn number_unit(s: &str) -> Option<(f64, &str)> {
    let s = s.trim();
    let end = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    let v: f64 = s[..end].parse().ok()?;
    Some((v, s[end..].trim()))
}

/// `maxweight` in tonnes: `3.5`, `3.5 t`, `7500 kg`, `10 st` (short tons),
/// `5000 lbs`; anything else (`none`, `unsigned`) sets no limit.
pub fn parse_weight_t(s: &str) -> Option<f64> {
    let (v, unit) = number_unit(s)?;
    let t = match unit {
        "" | "t" => v,
        "kg" => v / 1000.0,
        "st" => v * 0.907_185,
        "lbs" | "lb" => v * 0.000_453_592,
        _ => return None,
    };
    (t > 0.0).then_some(t)
}

/// `maxheight` in metres: `3.5`, `3.5 m`, `12'6"`, `7'`; `default`,
/// `none`, `no-sign`, `unsigned`, `below_default` set no limit.
pub fn parse_height_m(s: &str) -> Option<f64> {
    let s = s.trim();
    if let Some((feet, rest)) = s.split_once('\'') {
        let ft: f64 = feet.trim().parse().ok()?;
        let inches = rest.trim().trim_end_matches('"').trim();
        let inch: f64 = if inches.is_empty() { 0.0 } else { inches.parse().ok()? };
        return Some((ft * 12.0 + inch) * 0.0254).filter(|&m| m > 0.0);
    }
    let (v, unit) = number_unit(s)?;
    let m = match unit {
        "" | "m" => v,
        "cm" => v / 100.0,
        "ft" => v * 0.3048,
        _ => return None,
    };
    (m > 0.0).then_some(m)
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
        assert!(way_rule(Profile::Car, &tags(&[("highway", "footway")])).is_none());
        assert!(way_rule(Profile::Car, &tags(&[("highway", "residential"), ("access", "private")])).is_none());
        assert!(way_rule(Profile::Bus, &tags(&[("highway", "residential"), ("access", "no"), ("psv", "yes")])).is_some());
        assert!(way_rule(Profile::Car, &tags(&[("highway", "residential"), ("access", "no"), ("psv", "yes")])).is_none());
        let r = way_rule(Profile::Car, &tags(&[("highway", "primary")])).unwrap();
        assert_eq!((r.forward, r.backward, r.speed_kmh, r.capacity_forward), (true, true, 65.0, 1800));
    }

    #[test]
    fn oneway_rules() {
        let r = way_rule(Profile::Car, &tags(&[("highway", "primary"), ("oneway", "-1")])).unwrap();
        assert_eq!((r.forward, r.backward), (false, true));
        let r = way_rule(Profile::Car, &tags(&[("highway", "tertiary"), ("junction", "roundabout")])).unwrap();
        assert_eq!((r.forward, r.backward), (true, false));
        let r = way_rule(Profile::Car, &tags(&[("highway", "motorway")])).unwrap();
        assert_eq!((r.forward, r.backward, r.speed_kmh, r.capacity_forward), (true, false, 80.0, 4000));
        let r = way_rule(Profile::Bus, &tags(&[("highway", "secondary"), ("oneway", "yes"), ("oneway:bus", "no")])).unwrap();
        assert_eq!((r.forward, r.backward), (true, true));
        let r = way_rule(Profile::Car, &tags(&[("highway", "secondary"), ("oneway", "yes"), ("oneway:bus", "no")])).unwrap();
        assert_eq!((r.forward, r.backward), (true, false));
    }

    #[test]
    fn maxspeed_and_lanes() {
        assert_eq!(parse_maxspeed("50"), Some(50.0));
        assert_eq!(parse_maxspeed("50 km/h"), Some(50.0));
        assert!((parse_maxspeed("30 mph").unwrap() - 48.28).abs() < 0.01);
        assert_eq!(parse_maxspeed("RU:urban"), None);
        let r = way_rule(Profile::Car, &tags(&[("highway", "primary"), ("maxspeed", "30"), ("lanes", "4")])).unwrap();
        assert_eq!((r.speed_kmh, r.capacity_forward, r.capacity_backward), (30.0, 3600, 3600));
        let r = way_rule(Profile::Car, &tags(&[("highway", "primary"), ("lanes", "3"), ("lanes:forward", "2"), ("lanes:backward", "1")])).unwrap();
        assert_eq!((r.capacity_forward, r.capacity_backward), (3600, 1800));
    }

    /// `(forward, backward)` for a profile and tags; `(false, false)` when
    /// the way is not routable at all.
    fn dirs(p: Profile, pairs: &[(&str, &str)]) -> (bool, bool) {
        let mut t = tags(pairs);
        if !t.iter().any(|(k, _)| k == "highway") {
            t.push(("highway".into(), "primary".into()));
        }
        way_rule(p, &t).map(|r| (r.forward, r.backward)).unwrap_or((false, false))
    }

    /// The cases of OSRM's `features/car/access.feature` ("Access tag
    /// hierarchy on ways", "… and forward/backward", "Access tags on ways",
    /// "Ignore access tags for other modes"), with our one difference:
    /// `private` and `delivery` close a road (OSRM lets a car use them
    /// with a penalty; an evacuation convoy does not cross private land).
    #[test]
    fn osrm_car_access_hierarchy() {
        let both = (true, true);
        let none = (false, false);
        let hier = ["access", "vehicle", "motor_vehicle", "motorcar"];
        // access | vehicle | motor_vehicle | motorcar | bothw
        let cases: [([&str; 4], bool); 21] = [
            (["", "", "", ""], true),
            (["yes", "", "", ""], true),
            (["no", "", "", ""], false),
            (["", "yes", "", ""], true),
            (["", "no", "", ""], false),
            (["no", "yes", "", ""], true),
            (["yes", "no", "", ""], false),
            (["", "", "yes", ""], true),
            (["", "", "no", ""], false),
            (["no", "", "yes", ""], true),
            (["yes", "", "no", ""], false),
            (["", "no", "yes", ""], true),
            (["", "yes", "no", ""], false),
            (["", "", "", "yes"], true),
            (["", "", "", "no"], false),
            (["no", "", "", "yes"], true),
            (["yes", "", "", "no"], false),
            (["", "no", "", "yes"], true),
            (["", "yes", "", "no"], false),
            (["", "", "no", "yes"], true),
            (["", "", "yes", "no"], false),
        ];
        for (vals, want) in cases {
            let pairs: Vec<(&str, &str)> = hier.iter().zip(vals).filter(|(_, v)| !v.is_empty()).map(|(k, v)| (*k, v)).collect();
            assert_eq!(dirs(Profile::Car, &pairs), if want { both } else { none }, "{pairs:?}");
        }
        // access | access:forward | access:backward | motorcar | motorcar:forward | motorcar:backward | forw | backw
        let keys = ["access", "access:forward", "access:backward", "motorcar", "motorcar:forward", "motorcar:backward"];
        let directed: [([&str; 6], (bool, bool)); 24] = [
            (["", "", "", "", "", ""], (true, true)),
            (["yes", "", "", "", "", ""], (true, true)),
            (["yes", "no", "", "", "", ""], (false, true)),
            (["yes", "yes", "", "no", "", ""], (false, false)),
            (["yes", "yes", "", "yes", "no", ""], (false, true)),
            (["yes", "", "no", "", "", ""], (true, false)),
            (["yes", "", "yes", "no", "", ""], (false, false)),
            (["yes", "", "yes", "yes", "", "no"], (true, false)),
            (["no", "", "", "", "", ""], (false, false)),
            (["no", "yes", "", "", "", ""], (true, false)),
            (["no", "no", "", "yes", "", ""], (true, true)),
            (["no", "no", "", "no", "yes", ""], (true, false)),
            (["no", "", "yes", "", "", ""], (false, true)),
            (["no", "", "no", "yes", "", ""], (true, true)),
            (["no", "", "no", "no", "", "yes"], (false, true)),
            (["", "no", "", "", "no", ""], (false, true)),
            (["", "", "no", "", "", "no"], (true, false)),
            (["", "no", "", "", "", "no"], (false, false)),
            (["", "", "no", "no", "", ""], (false, false)),
            (["", "no", "", "", "yes", ""], (true, true)),
            (["", "", "no", "", "", "yes"], (true, true)),
            (["", "yes", "", "", "no", ""], (false, true)),
            (["", "", "yes", "", "", "no"], (true, false)),
            (["", "", "", "", "", ""], (true, true)),
        ];
        for (vals, want) in directed {
            let pairs: Vec<(&str, &str)> = keys.iter().zip(vals).filter(|(_, v)| !v.is_empty()).map(|(k, v)| (*k, v)).collect();
            assert_eq!(dirs(Profile::Car, &pairs), want, "{pairs:?}");
        }
        for (v, open) in [
            ("yes", true), ("permissive", true), ("designated", true), ("no", false), ("agricultural", false),
            ("forestry", false), ("psv", false), ("some_tag", true), ("destination", true),
            // Ours, not OSRM's (see the doc comment).
            ("private", false), ("delivery", false),
        ] {
            assert_eq!(dirs(Profile::Car, &[("access", v)]), if open { both } else { none }, "access={v}");
        }
        // Access combinations.
        assert_eq!(dirs(Profile::Car, &[("access", "forestry"), ("motor_vehicle", "yes")]), both);
        assert_eq!(dirs(Profile::Car, &[("highway", "residential"), ("vehicle", "yes"), ("motor_vehicle", "no")]), none);
        assert_eq!(dirs(Profile::Car, &[("highway", "motorway"), ("access", "yes"), ("vehicle", "permissive"), ("motorcar", "private")]), none);
        assert_eq!(dirs(Profile::Car, &[("highway", "trunk"), ("access", "agricultural"), ("vehicle", "designated"), ("motor_vehicle", "permissive"), ("motorcar", "no")]), none);
        assert_eq!(dirs(Profile::Car, &[("highway", "pedestrian")]), none);
        // Access tags for other modes are ignored.
        for k in ["foot", "bicycle", "psv", "motorhome"] {
            assert_eq!(dirs(Profile::Car, &[(k, "no")]), both, "{k}=no");
        }
    }

    /// OSRM `features/car/oneway.feature`: simple, reverse, mode-specific,
    /// implied, overruled, bicycle tags ignored, reversible vs alternating.
    #[test]
    fn osrm_car_oneways() {
        // Tags, then (forward, backward) allowed.
        type Case<'a> = (&'a [(&'a str, &'a str)], (bool, bool));
        let cases: [Case; 20] = [
            (&[("oneway", "yes")], (true, false)),
            (&[("oneway", "-1")], (false, true)),
            (&[("oneway:motorcar", "yes")], (true, false)),
            (&[("oneway:motor_vehicle", "yes")], (true, false)),
            (&[("oneway:vehicle", "yes")], (true, false)),
            (&[("oneway:motorcar", "yes"), ("oneway:motor_vehicle", "no")], (true, false)),
            (&[("oneway:motor_vehicle", "yes"), ("oneway:vehicle", "no")], (true, false)),
            (&[("oneway:vehicle", "yes"), ("oneway", "no")], (true, false)),
            (&[("oneway:motorcar", "no"), ("oneway:motor_vehicle", "yes")], (true, true)),
            (&[("oneway:motor_vehicle", "no"), ("oneway:vehicle", "yes")], (true, true)),
            (&[("oneway:vehicle", "no"), ("oneway", "yes")], (true, true)),
            (&[("highway", "motorway")], (true, false)),
            (&[("highway", "motorway_link")], (true, true)),
            (&[("highway", "motorway_link"), ("junction", "roundabout")], (true, false)),
            (&[("junction", "roundabout")], (true, false)),
            (&[("highway", "motorway"), ("oneway", "no")], (true, true)),
            (&[("oneway", "yes"), ("oneway:bicycle", "no")], (true, false)),
            (&[("oneway", "-1"), ("oneway:bicycle", "yes")], (false, true)),
            (&[("oneway", "reversible")], (false, false)),
            (&[("oneway", "alternating")], (true, true)),
        ];
        for (pairs, want) in cases {
            assert_eq!(dirs(Profile::Car, pairs), want, "{pairs:?}");
        }
    }

    /// OSRM `features/car/physical_limitation.feature` ("Limited by
    /// height") and the weight limit of `car.lua` (a 2 t car), then the
    /// bus's and the ambulance's own sizes.
    #[test]
    fn height_and_weight_limits() {
        let ok = |p, pairs: &[(&str, &str)]| dirs(p, pairs) == (true, true);
        for (k, v, car) in [
            ("maxheight:physical", "1", false), ("maxheight:physical", "3", true), ("maxheight", "1", false), ("maxheight", "3", true),
            ("maxheight", "default", true), ("maxheight", "none", true), ("maxheight", "no-sign", true), ("maxheight", "unsigned", true),
            ("maxweight", "1.5", false), ("maxweight", "3.5", true),
        ] {
            assert_eq!(ok(Profile::Car, &[(k, v)]), car, "car {k}={v}");
        }
        // Avenue Prince Albert Ier in Monaco: maxweight=3.5.
        assert!(ok(Profile::Ambulance, &[("maxweight", "3.5")]));
        assert!(!ok(Profile::Bus, &[("maxweight", "3.5")]));
        assert!(!ok(Profile::Bus, &[("maxweight", "7500 kg")]));
        assert!(ok(Profile::Bus, &[("maxweight", "20 t")]));
        assert!(!ok(Profile::Bus, &[("maxheight", "3.5")]));
        assert!(!ok(Profile::Bus, &[("maxheight", "12'3\"")]));
        assert!(ok(Profile::Bus, &[("maxheight", "4.2 m")]));
        assert!(ok(Profile::Ambulance, &[("maxheight", "3")]));
        assert!(!ok(Profile::Ambulance, &[("maxheight", "2.5")]));
        assert_eq!(parse_height_m("6'2\""), Some(74.0 * 0.0254));
        assert_eq!(parse_weight_t("7500 kg"), Some(7.5));
        assert_eq!(parse_weight_t("none"), None);
    }

    /// The bus's and the ambulance's access, where they differ from a car.
    #[test]
    fn bus_and_ambulance_access() {
        let both = (true, true);
        let none = (false, false);
        // The Helsinki service tunnel (OSM way 43997242): closed to cars, so to a bus.
        let tunnel = [("highway", "service"), ("tunnel", "yes"), ("layer", "-4"), ("motorcar", "no"), ("hgv", "yes"), ("access", "destination")];
        assert_eq!(dirs(Profile::Bus, &tunnel), none);
        assert_eq!(dirs(Profile::Car, &tunnel), none);
        assert_eq!(dirs(Profile::Bus, &[("motorcar", "no"), ("psv", "yes")]), both);
        assert_eq!(dirs(Profile::Bus, &[("hgv", "no")]), none);
        assert_eq!(dirs(Profile::Bus, &[("hgv", "no"), ("bus", "yes")]), both);
        assert_eq!(dirs(Profile::Bus, &[("access", "psv")]), both);
        assert_eq!(dirs(Profile::Bus, &[("access", "no"), ("bus", "designated")]), both);
        assert_eq!(dirs(Profile::Bus, &[("highway", "busway")]), both);
        assert_eq!(dirs(Profile::Car, &[("highway", "busway")]), none);
        // A bus lane street: one-way for cars, two-way for buses.
        assert_eq!(dirs(Profile::Bus, &[("oneway", "yes"), ("oneway:psv", "no")]), both);
        assert_eq!(dirs(Profile::Ambulance, &[("access", "no"), ("emergency", "yes")]), both);
        assert_eq!(dirs(Profile::Ambulance, &[("access", "emergency")]), both);
        assert_eq!(dirs(Profile::Car, &[("access", "emergency")]), none);
        assert_eq!(dirs(Profile::Ambulance, &[("highway", "service"), ("service", "emergency_access")]), both);
        assert_eq!(dirs(Profile::Car, &[("highway", "service"), ("service", "emergency_access")]), none);
        assert_eq!(dirs(Profile::Ambulance, &[("motorcar", "no")]), none);
    }

    /// OSRM `features/car/service.feature`: driveways, parking aisles,
    /// alleys are routable, slower; emergency access roads are not.
    #[test]
    fn osrm_car_service_roads() {
        let plain = way_rule(Profile::Car, &tags(&[("highway", "service")])).unwrap().speed_kmh;
        for s in ["alley", "driveway", "drive-through", "parking", "parking_aisle"] {
            let r = way_rule(Profile::Car, &tags(&[("highway", "service"), ("service", s)])).unwrap_or_else(|| panic!("service={s}"));
            assert_eq!((r.forward, r.backward, r.speed_kmh), (true, true, plain * 0.5), "service={s}");
        }
    }

    /// OSRM `features/car/barrier.feature`: which barriers a car passes,
    /// and node access tags trumping barriers; then a bus at a bus trap
    /// and under a low height restrictor.
    #[test]
    fn osrm_car_barriers() {
        for (b, pass) in [
            ("bollard", false), ("gate", true), ("cattle_grid", true), ("border_control", true), ("toll_booth", true),
            ("sally_port", true), ("entrance", true), ("wall", false), ("fence", false), ("some_tag", false),
        ] {
            assert_eq!(node_passable(Profile::Car, &tags(&[("barrier", b)])), pass, "barrier={b}");
        }
        assert!(node_passable(Profile::Car, &tags(&[])));
        for (b, a, pass) in [
            ("gate", "", true), ("gate", "yes", true), ("gate", "permissive", true), ("gate", "designated", true), ("gate", "no", false),
            ("gate", "private", false), ("gate", "agricultural", false), ("wall", "", false), ("wall", "yes", true),
            ("wall", "permissive", true), ("wall", "designated", true), ("wall", "no", false), ("wall", "private", false), ("wall", "agricultural", false),
        ] {
            let mut t = vec![("barrier", b)];
            if !a.is_empty() {
                t.push(("access", a));
            }
            assert_eq!(node_passable(Profile::Car, &tags(&t)), pass, "barrier={b} access={a}");
        }
        assert!(node_passable(Profile::Bus, &tags(&[("barrier", "bus_trap")])));
        assert!(!node_passable(Profile::Car, &tags(&[("barrier", "bus_trap")])));
        assert!(node_passable(Profile::Ambulance, &tags(&[("barrier", "bollard"), ("emergency", "yes")])));
        assert!(!node_passable(Profile::Bus, &tags(&[("barrier", "height_restrictor"), ("maxheight", "3.2")])));
        assert!(node_passable(Profile::Car, &tags(&[("barrier", "height_restrictor"), ("maxheight", "3.2")])));
    }
}
