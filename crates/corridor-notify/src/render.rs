//! Notices rendered from templates, in Arabic and English.
//!
//! The templates are `templates/PART.LANG.j2` (minijinja, Jinja2 syntax),
//! built into the binary; [`Renderer::from_dir`] reads a folder of the same
//! names instead. A template that uses a field the context lacks is an
//! error naming the template and line, never an empty gap in a notice.
//!
//! The reason recorded with a closing (`reason`) is in the context but the
//! built-in templates leave it out: a public notice says what residents must
//! do, not who is blamed.
//!
//! Hours are local time in the operation's time zone ([`NoticeSpec::zone`],
//! from the log's `operation_declared`), from the tz database (chrono-tz):
//! Asia/Damascus was UTC+2 with summer time in 2016 and is UTC+3 all year
//! since October 2022; Europe/Monaco is UTC+1 in winter, UTC+2 in summer.
//! The templates name the zone through `local_time` ("Damascus time",
//! "بتوقيت دمشق"; UTC for a log that declares no operation).

use std::path::Path;

use chrono::{DateTime, Datelike, Offset, Timelike, Utc};
use chrono_tz::Tz;
use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;

use crate::content::{Kind, NoticeSpec};
use crate::NotifyError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Lang {
    Ar,
    En,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::Ar, Lang::En];

    pub fn code(self) -> &'static str {
        match self {
            Lang::Ar => "ar",
            Lang::En => "en",
        }
    }
}

/// The pieces of a notice; each is one template per language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// One line: what is happening.
    Headline,
    /// The whole notice in a few sentences (SMS, CAP description).
    Message,
    /// What to bring and what to do if stopped.
    Instruction,
    /// Read-aloud wording for a loudspeaker, key facts repeated.
    Speech,
}

impl Part {
    pub const ALL: [Part; 4] = [Part::Headline, Part::Message, Part::Instruction, Part::Speech];

    pub fn name(self) -> &'static str {
        match self {
            Part::Headline => "headline",
            Part::Message => "message",
            Part::Instruction => "instruction",
            Part::Speech => "speech",
        }
    }
}

const BUILT_IN: &[(&str, &str)] = &[
    ("headline.en.j2", include_str!("../templates/headline.en.j2")),
    ("headline.ar.j2", include_str!("../templates/headline.ar.j2")),
    ("message.en.j2", include_str!("../templates/message.en.j2")),
    ("message.ar.j2", include_str!("../templates/message.ar.j2")),
    ("instruction.en.j2", include_str!("../templates/instruction.en.j2")),
    ("instruction.ar.j2", include_str!("../templates/instruction.ar.j2")),
    ("speech.en.j2", include_str!("../templates/speech.en.j2")),
    ("speech.ar.j2", include_str!("../templates/speech.ar.j2")),
];

/// Renders notices through a set of templates.
pub struct Renderer {
    env: Environment<'static>,
}

impl Default for Renderer {
    fn default() -> Self {
        Self::built_in()
    }
}

impl Renderer {
    /// The templates built into the crate.
    pub fn built_in() -> Self {
        let mut env = base_env();
        for (name, src) in BUILT_IN {
            env.add_template(name, src).expect("the built-in templates parse (tested)");
        }
        Renderer { env }
    }

    /// Templates from `dir` (same file names as `templates/`); a part the
    /// folder lacks is an error, so no notice mixes two sets.
    pub fn from_dir(dir: &Path) -> Result<Self, NotifyError> {
        let mut env = base_env();
        for (name, _) in BUILT_IN {
            let path = dir.join(name);
            let src = std::fs::read_to_string(&path).map_err(|e| NotifyError::Template { name: path.display().to_string(), message: format!("cannot read it: {e}") })?;
            env.add_template_owned(name.to_string(), src).map_err(|e| template_error(name, &e))?;
        }
        Ok(Renderer { env })
    }

    /// One part of `n` in `lang`, trimmed; lines joined as written.
    pub fn render(&self, n: &NoticeSpec, lang: Lang, part: Part) -> Result<String, NotifyError> {
        let name = format!("{}.{}.j2", part.name(), lang.code());
        let t = self.env.get_template(&name).map_err(|e| template_error(&name, &e))?;
        let text = t.render(context(n, lang)).map_err(|e| template_error(&name, &e))?;
        Ok(tidy(&text))
    }
}

fn base_env() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env
}

fn template_error(name: &str, e: &minijinja::Error) -> NotifyError {
    let mut message = e.to_string();
    if let Some(line) = e.line() {
        message = format!("line {line}: {message}");
    }
    NotifyError::Template { name: name.into(), message }
}

/// Spaces collapsed within lines, blank runs collapsed, ends trimmed.
fn tidy(s: &str) -> String {
    let lines: Vec<String> = s.lines().map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ")).collect();
    let mut out: Vec<String> = Vec::new();
    for l in lines {
        if l.is_empty() && out.last().is_none_or(|p| p.is_empty()) {
            continue;
        }
        out.push(l);
    }
    while out.last().is_some_and(|l| l.is_empty()) {
        out.pop();
    }
    out.join("\n")
}

#[derive(Serialize)]
struct When {
    /// `Thursday 15 December 2016` / `الخميس ١٥ كانون الأول ٢٠١٦`
    date: String,
    /// `10:00` / `١٠:٠٠`
    time: String,
    /// `UTC+2` / `غرينتش+٢`
    offset: String,
    /// RFC 3339 with the local offset.
    iso: String,
}

#[derive(Serialize)]
struct Context<'a> {
    id: &'a str,
    kind: Kind,
    references: Option<&'a str>,
    reason: &'a str,
    corridor: &'a str,
    corridor_name: &'a str,
    origin: &'a str,
    entry: &'a str,
    destination: &'a str,
    checkpoints: Vec<&'a str>,
    /// The checkpoints between the entry and the exit, joined as the
    /// language lists.
    landmarks: String,
    groups: String,
    start: When,
    end: When,
    same_day: bool,
    /// The IANA name of the time zone hours are given in.
    zone: &'static str,
    /// How the language names that zone's clock: `Damascus time`,
    /// `بتوقيت دمشق`, `UTC`.
    local_time: String,
}

fn context(n: &NoticeSpec, lang: Lang) -> Context<'_> {
    // Arabic names where the log has them, else the recorded name.
    let cps: Vec<&str> = n.checkpoints.iter().map(|c| local(&c.name, &c.name_ar, lang)).collect();
    let sep = match lang {
        Lang::Ar => "، ",
        Lang::En => ", ",
    };
    let groups: Vec<String> = n.groups.iter().map(|(id, label)| group_label(id, label, lang)).collect();
    let (s, e) = (n.start.with_timezone(&n.zone), n.end.with_timezone(&n.zone));
    Context {
        id: &n.id,
        kind: n.kind,
        references: n.references.as_deref(),
        reason: &n.reason,
        corridor: &n.corridor,
        corridor_name: local(&n.corridor_name, &n.corridor_name_ar, lang),
        origin: local(&n.origin.name, &n.origin.name_ar, lang),
        entry: local(&n.entry().name, &n.entry().name_ar, lang),
        destination: local(&n.destination.name, &n.destination.name_ar, lang),
        landmarks: cps.get(1..cps.len().saturating_sub(1)).unwrap_or_default().join(sep),
        checkpoints: cps,
        groups: groups.join(sep),
        start: when(n.start, n.zone, lang),
        end: when(n.end, n.zone, lang),
        same_day: s.date_naive() == e.date_naive(),
        zone: n.zone.name(),
        local_time: local_time(n.zone, lang),
    }
}

/// How a notice names the clock of `zone`: the city of its IANA name in
/// English (`Europe/Monaco` → `Monaco time`); in Arabic the city where it
/// has a usual Arabic name, else "local time" (the offset beside it says
/// which). UTC is `UTC` / `بتوقيت غرينتش`.
pub fn local_time(zone: Tz, lang: Lang) -> String {
    let name = zone.name();
    if matches!(name, "UTC" | "Etc/UTC" | "Etc/UCT" | "UCT" | "Etc/Universal" | "Universal" | "Etc/Zulu" | "Zulu" | "GMT" | "Etc/GMT") {
        return match lang {
            Lang::En => "UTC".into(),
            Lang::Ar => "بتوقيت غرينتش".into(),
        };
    }
    let city = name.rsplit('/').next().unwrap_or(name).replace('_', " ");
    match lang {
        Lang::En => format!("{city} time"),
        Lang::Ar => match ARABIC_CITIES.iter().find(|(z, _)| *z == name) {
            Some((_, ar)) => format!("بتوقيت {ar}"),
            None => "بالتوقيت المحلي".into(),
        },
    }
}

/// Arabic names of the cities that name time zones where Arabic notices
/// are likely; any other zone is "local time" in Arabic.
const ARABIC_CITIES: &[(&str, &str)] = &[
    ("Asia/Damascus", "دمشق"),
    ("Asia/Beirut", "بيروت"),
    ("Asia/Amman", "عمّان"),
    ("Asia/Baghdad", "بغداد"),
    ("Asia/Gaza", "غزة"),
    ("Asia/Hebron", "الخليل"),
    ("Asia/Jerusalem", "القدس"),
    ("Asia/Riyadh", "الرياض"),
    ("Asia/Aden", "عدن"),
    ("Asia/Kuwait", "الكويت"),
    ("Asia/Qatar", "قطر"),
    ("Asia/Bahrain", "البحرين"),
    ("Asia/Dubai", "دبي"),
    ("Asia/Muscat", "مسقط"),
    ("Africa/Cairo", "القاهرة"),
    ("Africa/Khartoum", "الخرطوم"),
    ("Africa/Tripoli", "طرابلس"),
    ("Africa/Tunis", "تونس"),
    ("Africa/Algiers", "الجزائر"),
    ("Africa/Casablanca", "الدار البيضاء"),
    ("Africa/Nouakchott", "نواكشوط"),
    ("Africa/Mogadishu", "مقديشو"),
    ("Africa/Djibouti", "جيبوتي"),
    ("Europe/Istanbul", "إسطنبول"),
    ("Europe/Monaco", "موناكو"),
    ("Europe/Paris", "باريس"),
];

/// The Arabic name when there is one and `lang` is Arabic.
fn local<'a>(name: &'a str, name_ar: &'a Option<String>, lang: Lang) -> &'a str {
    match (lang, name_ar) {
        (Lang::Ar, Some(ar)) => ar,
        _ => name,
    }
}

/// Arabic labels of the standard groups; another group keeps its label.
fn group_label(id: &str, label: &str, lang: Lang) -> String {
    if lang == Lang::En {
        return label.to_string();
    }
    match id {
        "armed" => "المسلحون المشمولون بالاتفاق",
        "women" => "النساء",
        "children" => "الأطفال",
        "men" => "الرجال",
        "elderly" => "كبار السن",
        _ => label,
    }
    .to_string()
}

const MONTHS_EN: [&str; 12] = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];
// The month names used in Syria (Levantine calendar names).
const MONTHS_AR: [&str; 12] = ["كانون الثاني", "شباط", "آذار", "نيسان", "أيار", "حزيران", "تموز", "آب", "أيلول", "تشرين الأول", "تشرين الثاني", "كانون الأول"];
const DAYS_EN: [&str; 7] = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];
const DAYS_AR: [&str; 7] = ["الاثنين", "الثلاثاء", "الأربعاء", "الخميس", "الجمعة", "السبت", "الأحد"];

fn when(t: DateTime<Utc>, zone: Tz, lang: Lang) -> When {
    let l = t.with_timezone(&zone);
    let secs = l.offset().fix().local_minus_utc();
    let (h, m) = (secs / 3600, (secs.abs() % 3600) / 60);
    let offset = if m == 0 { format!("{h:+}") } else { format!("{h:+}:{m:02}") };
    let (wd, mo) = (l.weekday().num_days_from_monday() as usize, l.month0() as usize);
    let time = format!("{:02}:{:02}", l.hour(), l.minute());
    match lang {
        Lang::En => When {
            date: format!("{} {} {} {}", DAYS_EN[wd], l.day(), MONTHS_EN[mo], l.year()),
            time,
            offset: format!("UTC{offset}"),
            iso: l.to_rfc3339(),
        },
        Lang::Ar => When {
            date: arabic_digits(&format!("{} {} {} {}", DAYS_AR[wd], l.day(), MONTHS_AR[mo], l.year())),
            time: arabic_digits(&time),
            offset: arabic_digits(&format!("غرينتش{offset}")),
            iso: l.to_rfc3339(),
        },
    }
}


/// ASCII digits as Arabic-Indic digits (٠١٢٣٤٥٦٧٨٩), as Syria writes them.
pub fn arabic_digits(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_digit() { char::from_u32(0x0660 + (c as u32 - '0' as u32)).unwrap_or(c) } else { c }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const DAMASCUS: Tz = chrono_tz::Asia::Damascus;

    #[test]
    fn damascus_hours_follow_the_tz_database() {
        // December 2016: EET, UTC+2. December 2023: UTC+3 all year.
        let w = when(Utc.with_ymd_and_hms(2016, 12, 15, 8, 0, 0).unwrap(), DAMASCUS, Lang::En);
        assert_eq!((w.date.as_str(), w.time.as_str(), w.offset.as_str()), ("Thursday 15 December 2016", "10:00", "UTC+2"));
        let w = when(Utc.with_ymd_and_hms(2023, 12, 15, 8, 0, 0).unwrap(), DAMASCUS, Lang::En);
        assert_eq!((w.time.as_str(), w.offset.as_str()), ("11:00", "UTC+3"));
        let w = when(Utc.with_ymd_and_hms(2016, 12, 15, 8, 0, 0).unwrap(), DAMASCUS, Lang::Ar);
        assert_eq!(w.time, "١٠:٠٠");
        assert_eq!(w.date, "الخميس ١٥ كانون الأول ٢٠١٦");
    }

    #[test]
    fn other_zones_and_their_names() {
        // Monaco in winter is CET (UTC+1); India is UTC+5:30 all year.
        let t = Utc.with_ymd_and_hms(2026, 12, 4, 7, 0, 0).unwrap();
        let w = when(t, chrono_tz::Europe::Monaco, Lang::En);
        assert_eq!((w.date.as_str(), w.time.as_str(), w.offset.as_str(), w.iso.as_str()), ("Friday 4 December 2026", "08:00", "UTC+1", "2026-12-04T08:00:00+01:00"));
        let w = when(t, chrono_tz::Asia::Kolkata, Lang::En);
        assert_eq!((w.time.as_str(), w.offset.as_str()), ("12:30", "UTC+5:30"));
        let w = when(t, Tz::UTC, Lang::En);
        assert_eq!((w.time.as_str(), w.offset.as_str()), ("07:00", "UTC+0"));
        assert_eq!(local_time(DAMASCUS, Lang::En), "Damascus time");
        assert_eq!(local_time(DAMASCUS, Lang::Ar), "بتوقيت دمشق");
        assert_eq!(local_time(chrono_tz::America::Argentina::Buenos_Aires, Lang::En), "Buenos Aires time");
        assert_eq!(local_time(chrono_tz::Asia::Kolkata, Lang::Ar), "بالتوقيت المحلي");
        assert_eq!(local_time(Tz::UTC, Lang::En), "UTC");
    }

    #[test]
    fn tidy_collapses_space() {
        assert_eq!(tidy("  a   b \n\n\n c\n\n"), "a b\n\nc");
    }
}
