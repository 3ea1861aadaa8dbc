//! CAP 1.2 alerts for the reference scenario's notices: valid against the
//! official schema (xmllint), accepted by an independent implementation
//! (PyPI `cap-tools`), read back by our own reader; and every example and
//! real alert in shared/data/cap read, the CAP 1.1 one refused.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::{DateTime, Utc};
use corridor_aleppo as aleppo;
use corridor_geo::{PreparedNetwork, Router};
use corridor_model::{Body, Event, TruceWindow};
use corridor_notify::cap::{self, oasiscap, CapOptions};
use corridor_notify::{content, Kind, Lang, NoticeSpec, Renderer};
use corridor_plan::scenario::{Scenario, ALEPPO_2016};

const CAP_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/cap");

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

/// The reference scenario's log, plus one change it lacks: on 20 December
/// at 12:00 the 21 December window is moved an hour earlier, so both of its
/// corridors get an update.
fn events() -> Vec<Event> {
    let sc = Scenario::parse(ALEPPO_2016, "aleppo-2016.toml").unwrap();
    let router = Router::new(PreparedNetwork::prepare(aleppo::builtin_network().unwrap()));
    let mut ev = common::declared("Asia/Damascus", corridor_plan::sim::simulate(&sc, &router).unwrap().events);
    let change = Event::new(
        "test-window-21dec-earlier",
        at("2016-12-20T12:00:00Z"),
        "test",
        Body::TruceWindowChanged(TruceWindow {
            window: "window-21dec".into(),
            corridors: vec!["ramouseh-rashidin4".into(), "fuah-kafarya-aleppo".into()],
            start: at("2016-12-21T03:00:00Z"),
            end: at("2016-12-21T20:00:00Z"),
        }),
    );
    let i = ev.iter().position(|e| e.time > change.time).unwrap_or(ev.len());
    ev.insert(i, change);
    ev
}

/// Every notice at a few instants (openings; the halt of 17 December; the
/// attack of 18 December; the change above), each once, oldest first.
fn reference_notices() -> Vec<NoticeSpec> {
    let ev = events();
    let mut all: BTreeMap<String, NoticeSpec> = BTreeMap::new();
    for t in ["2016-12-15T04:30:00Z", "2016-12-17T09:00:00Z", "2016-12-18T13:45:00Z", "2016-12-20T12:30:00Z"] {
        for n in content::notices(&ev, at(t)) {
            all.entry(n.id.clone()).or_insert(n);
        }
    }
    let mut out: Vec<NoticeSpec> = all.into_values().collect();
    out.sort_by(|a, b| (a.issued, &a.id).cmp(&(b.issued, &b.id)));
    out
}

struct Written {
    _dir: tempfile::TempDir,
    /// (notice, file), in issue order.
    files: Vec<(NoticeSpec, PathBuf)>,
}

fn write_alerts() -> Written {
    let notices = reference_notices();
    let kinds: Vec<Kind> = notices.iter().map(|n| n.kind).collect();
    for k in [Kind::Opening, Kind::Change, Kind::Closing] {
        assert!(kinds.contains(&k), "the reference notices include a {k:?}");
    }
    let (r, opt) = (Renderer::built_in(), CapOptions { sender: "corridor@operation.example".into(), langs: Lang::ALL.to_vec() });
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for n in notices {
        let xml = cap::alert(&n, &r, &opt).unwrap();
        assert_eq!(xml, cap::alert(&n, &r, &opt).unwrap(), "the same notice gives the same alert");
        let path = dir.path().join(format!("{}.xml", n.id));
        std::fs::write(&path, &xml).unwrap();
        files.push((n, path));
    }
    Written { _dir: dir, files }
}

fn have(cmd: &str, args: &[&str]) -> bool {
    Command::new(cmd).args(args).output().is_ok_and(|o| o.status.success())
}

/// `xmllint --noout --schema XSD FILES`: (exit ok, files that validate).
fn xmllint(files: &[&Path]) -> (bool, usize, String) {
    let xsd = Path::new(CAP_DIR).join("CAP-v1.2.xsd");
    let out = Command::new("xmllint").arg("--noout").arg("--schema").arg(&xsd).args(files).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    let ok = err.lines().filter(|l| l.ends_with(" validates")).count();
    (out.status.success(), ok, err)
}

#[test]
fn the_alerts_say_what_the_notices_say() {
    let w = write_alerts();
    for (n, path) in &w.files {
        let xml = std::fs::read_to_string(path).unwrap();
        let a = cap::parse(&xml).unwrap_or_else(|e| panic!("{}: {e}", n.id));
        assert_eq!(a.identifier.as_str(), n.id);
        assert_eq!(a.sender.as_str(), "corridor@operation.example");
        let want = match n.kind {
            Kind::Opening => oasiscap::v1dot2::MessageType::Alert,
            Kind::Change => oasiscap::v1dot2::MessageType::Update,
            Kind::Closing => oasiscap::v1dot2::MessageType::Update,
        };
        assert_eq!(a.message_type, want, "{}", n.id);
        assert_eq!(a.references.is_some(), n.references.is_some(), "{}", n.id);
        let langs: Vec<&str> = a.info.iter().map(|i| i.language.as_str()).collect();
        assert_eq!(langs, ["ar-SY", "en-US"]);
        for i in &a.info {
            assert_eq!(i.expires.unwrap(), n.end);
            assert!(i.headline.as_deref().is_some_and(|h| !h.is_empty()));
            let [area] = i.areas.as_slice() else { panic!("one area") };
            assert_eq!(area.polygons.len(), 1, "{}: the reference corridors have positions", n.id);
        }
        // Times as CAP wants them: a numeric offset, never Z.
        assert!(xml.contains("+02:00</cap:sent>") && !xml.contains("Z</cap:"), "{}", n.id);
        // Written back, our reading gives the same text.
        assert_eq!(oasiscap::Alert::V1dot2(a).to_string(), xml, "{}", n.id);
    }
}

#[test]
fn every_alert_validates_against_the_cap_1_2_schema() {
    if !have("xmllint", &["--version"]) {
        corridor_testkit::skip("xmllint not installed (apt-get install libxml2-utils)");
        return;
    }
    let w = write_alerts();
    let mut paths: Vec<PathBuf> = w.files.iter().map(|(_, p)| p.clone()).collect();
    // One-language alerts too.
    let dir = tempfile::tempdir().unwrap();
    let r = Renderer::built_in();
    for lang in Lang::ALL {
        let (n, _) = &w.files[w.files.len() - 1];
        let xml = cap::alert(n, &r, &CapOptions { langs: vec![lang], ..CapOptions::default() }).unwrap();
        let p = dir.path().join(format!("{}.{}.xml", n.id, lang.code()));
        std::fs::write(&p, xml).unwrap();
        paths.push(p);
    }
    let files: Vec<&Path> = paths.iter().map(|p| p.as_path()).collect();
    let (ok, valid, err) = xmllint(&files);
    assert!(ok && valid == files.len(), "xmllint:\n{err}");
    println!("xmllint: {valid} of {} alerts validate against CAP-v1.2.xsd", files.len());

    // The check can fail: the CAP 1.1 alert does not validate.
    let old = std::fs::read_dir(Path::new(CAP_DIR).join("cap-1.1-not-1.2")).unwrap().next().unwrap().unwrap().path();
    let (ok, valid, _) = xmllint(&[&old]);
    assert!(!ok && valid == 0, "a CAP 1.1 alert must not validate against the 1.2 schema");
}

/// Reads each alert with cap-tools (xsdata bindings of the CAP 1.2 schema,
/// strict: unknown elements, attributes and bad values fail), checks the
/// polygons, and feeds them in issue order to its AlertState, which drops
/// the alert each update or cancel references (a reference that names no
/// alert seen is an error).
const CAP_TOOLS_CHECK: &str = r#"
import sys
from xsdata.formats.dataclass.parsers import XmlParser
from xsdata.formats.dataclass.parsers.config import ParserConfig
from cap_tools import Alert, AlertState, MsgType
parser = XmlParser(config=ParserConfig(fail_on_unknown_properties=True, fail_on_unknown_attributes=True, fail_on_converter_warnings=True))
state = AlertState()
seen = 0
for path in sys.argv[1:]:
    with open(path, encoding="utf-8") as f:
        a = parser.from_string(f.read(), Alert)
    assert isinstance(a.msg_type, MsgType), path
    assert [i.language for i in a.infos] == ["ar-SY", "en-US"], path
    for info in a.infos:
        for area in info.areas:
            for poly in area.polygons:
                pts = [tuple(float(v) for v in p.split(",")) for p in poly.split()]
                assert len(pts) >= 4 and pts[0] == pts[-1], (path, "polygon")
                assert all(-90 <= la <= 90 and -180 <= lo <= 180 for la, lo in pts), (path, "WGS84")
    refs = a.references_to_list()
    assert (len(refs) == 1) == (a.msg_type in (MsgType.UPDATE, MsgType.CANCEL)), path
    try:
        state.ingest(a)
    except KeyError as e:
        sys.exit(f"{path}: references an alert not seen before: {e}")
    seen += 1
print(f"cap-tools: {seen} accepted, {len(state.alerts)} current")
"#;

#[test]
fn an_independent_cap_implementation_accepts_them() {
    if !have("python3", &["-c", "import cap_tools, xsdata"]) {
        corridor_testkit::skip("python3 cannot import cap_tools (python3 -m pip install cap-tools==3.1.1)");
        return;
    }
    let w = write_alerts();
    let out = Command::new("python3").arg("-c").arg(CAP_TOOLS_CHECK).args(w.files.iter().map(|(_, p)| p)).output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "cap-tools refused an alert:\n{stdout}\n{stderr}");
    // Each chain ends in one current alert; a cancel replaces its chain's.
    let chains: std::collections::BTreeSet<(&str, &str)> = w.files.iter().map(|(n, _)| (n.corridor.as_str(), n.window.as_str())).collect();
    assert!(stdout.contains(&format!("cap-tools: {} accepted, {} current", w.files.len(), chains.len())), "{stdout}");
    print!("{stdout}");
}

fn shared_alerts(sub: &str) -> Vec<PathBuf> {
    let dir = Path::new(CAP_DIR).join(sub);
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())).map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|x| x == "xml")).collect();
    v.sort();
    v
}

#[test]
fn every_cap_1_2_example_and_real_alert_parses_and_round_trips() {
    let files: Vec<PathBuf> = shared_alerts("examples").into_iter().chain(shared_alerts("real-world")).collect();
    assert_eq!(files.len(), 11, "5 examples and 6 real alerts in shared/data/cap");
    for f in &files {
        let xml = std::fs::read_to_string(f).unwrap();
        let a = cap::parse(&xml).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let again = cap::parse(&oasiscap::Alert::V1dot2(a.clone()).to_string()).unwrap();
        assert_eq!(a, again, "{}: written back and read again", f.display());
    }
    // A.3 is an update whose reference names the alert it updates.
    let a3 = cap::parse(&std::fs::read_to_string(Path::new(CAP_DIR).join("examples/A3-earthquake-update.xml")).unwrap()).unwrap();
    let r = a3.references.unwrap();
    assert_eq!(r.as_slice()[0].to_string(), "trinet@caltech.edu,TRI13970876.1,2003-06-11T20:30:00-07:00");
    println!("parsed {} CAP 1.2 alerts", files.len());
}

#[test]
fn a_cap_1_1_alert_is_refused_saying_so() {
    let files = shared_alerts("cap-1.1-not-1.2");
    assert!(!files.is_empty());
    for f in files {
        let e = cap::parse(&std::fs::read_to_string(&f).unwrap()).unwrap_err().to_string();
        assert_eq!(e, "this is a CAP 1.1 alert (urn:oasis:names:tc:emergency:cap:1.1); Corridor reads CAP 1.2 only", "{}", f.display());
    }
    let e = cap::parse("<feed xmlns='http://www.w3.org/2005/Atom'/>").unwrap_err().to_string();
    assert!(e.starts_with("not a CAP alert"), "{e}");
}
