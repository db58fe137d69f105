//! Tracks and warnings from IQ: the built-in ballistic scenario simulated
//! (`tews::sim`, its own trajectory and signal model), processed by the
//! binary (`tews run` with tracks, warnings and CAP outputs) and compared
//! with the simulator's truth. A few seeds, as the plot-level Monte Carlo
//! (tests/track_montecarlo.rs) carries the coverage statistics.

mod common;

use std::process::Command;
use tews::assess::warning::WarningPoint;
use tews::geo::{Geodetic, LocalFrame};

/// Chi-square (2 dof) 0.999 point: a single run's truth may fall outside
/// a 95% ellipse one time in twenty, outside this one in a thousand.
const D2_999: f64 = 13.82;

fn d2(p: &WarningPoint, lat: f64, lon: f64) -> f64 {
    let frame = LocalFrame::new(Geodetic {
        latitude_deg: p.latitude_deg,
        longitude_deg: p.longitude_deg,
        height_m: 0.0,
    });
    let d = frame.ecef_to_enu(
        &Geodetic {
            latitude_deg: lat,
            longitude_deg: lon,
            height_m: 0.0,
        }
        .to_ecef(),
    );
    p.ellipse_95.mahalanobis2(d.x, d.y)
}

fn utc(s: &str) -> time::OffsetDateTime {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).unwrap()
}

/// Simulates `scenario`, runs it with every situation output, returns
/// (summary, warnings, truth, CAP file count).
fn run(
    scenario: &tews::sim::Scenario,
    seed: u64,
    extra: &dyn Fn(&std::path::Path, &std::path::Path) -> Vec<String>,
) -> (
    serde_json::Value,
    Vec<serde_json::Value>,
    serde_json::Value,
    usize,
) {
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("rec");
    tews::sim::simulate(scenario, seed, &prefix).unwrap();
    let out = Command::new(common::tews_bin())
        .args(["run", "-q", "--backend", "cpu", "--input"])
        .arg(&prefix)
        .arg("--output")
        .arg(format!("tracks:{}", dir.path().join("t.jsonl").display()))
        .arg("--output")
        .arg(format!("warnings:{}", dir.path().join("w.jsonl").display()))
        .arg("--output")
        .arg(format!("cap:{}", dir.path().join("cap").display()))
        .arg("--output")
        .arg(format!("jsonl:{}", dir.path().join("p.jsonl").display()))
        .arg("--summary")
        .arg(dir.path().join("s.json"))
        .args(extra(dir.path(), &prefix))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap();
    let summary: serde_json::Value = serde_json::from_str(&read("s.json")).unwrap();
    let warnings = read("w.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let truth: serde_json::Value = serde_json::from_str(&read("rec.truth.json")).unwrap();
    let caps = std::fs::read_dir(dir.path().join("cap")).unwrap().count();
    // The tracks file holds one §6 line per track per look it exists in.
    for line in read("t.jsonl").lines() {
        let t: serde_json::Value = serde_json::from_str(line).unwrap();
        for key in [
            "track",
            "status",
            "time_utc",
            "position_ecef_m",
            "plots",
            "ballistic",
        ] {
            assert!(t.get(key).is_some(), "{key} missing in {line}");
        }
    }
    (summary, warnings, truth, caps)
}

#[test]
fn a_simulated_missile_is_tracked_and_warned_of_with_honest_ellipses() {
    let scenario = tews::sim::trajectory::ballistic_scenario();
    // Seed 1 also sends the tracks as CAT062: over UDP beside the plots'
    // CAT048, and to a file; the site file is tews site --from's.
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = udp.local_addr().unwrap().port();
    // Read while the run sends (a socket buffer holds only a few hundred
    // datagrams): count the data blocks by category.
    udp.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 65536];
        let mut cat = std::collections::BTreeMap::<u8, usize>::new();
        while let Ok(n) = udp.recv(&mut buf) {
            *cat.entry(buf[0]).or_default() += usize::from(n > 0);
        }
        cat
    });
    let mut reader = Some(reader);
    let asterix = |dir: &std::path::Path, rec: &std::path::Path| -> Vec<String> {
        let out = Command::new(common::tews_bin())
            .arg("site")
            .arg("--from")
            .arg(rec)
            .output()
            .unwrap();
        let text = String::from_utf8(out.stdout)
            .unwrap()
            .replace("sac = 0", "sac = 7")
            .replace("sic = 0", "sic = 9");
        let site = dir.join("site.toml");
        std::fs::write(&site, text).unwrap();
        vec![
            "--site".into(),
            site.display().to_string(),
            "--output".into(),
            format!("asterix+udp://127.0.0.1:{port}"),
            "--output".into(),
            format!("cat062-file:{}", dir.join("t.ast").display()),
        ]
    };
    for seed in [1, 2, 3] {
        let none = |_: &std::path::Path, _: &std::path::Path| Vec::new();
        let extra: &dyn Fn(&std::path::Path, &std::path::Path) -> Vec<String> =
            if seed == 1 { &asterix } else { &none };
        let (summary, warnings, truth, caps) = run(&scenario, seed, extra);
        if seed == 1 {
            // Every look with a track sends a CAT062 block.
            let cat = reader.take().unwrap().join().unwrap();
            let tracks_looks = summary["tracking"]["looks"].as_u64().unwrap() as usize;
            assert!(
                cat.get(&62).copied().unwrap_or(0) >= tracks_looks * 8 / 10,
                "{cat:?}"
            );
            assert!(cat.get(&48).copied().unwrap_or(0) > 200, "{cat:?}");
        }
        let tr = &summary["tracking"];
        assert_eq!(tr["tracks_confirmed"], 1, "seed {seed}: {tr}");
        assert_eq!(tr["tracks_ballistic"], 1, "seed {seed}: {tr}");
        assert_eq!(caps, warnings.len(), "one CAP alert per warning issue");
        assert!(
            warnings.len() >= 20,
            "seed {seed}: {} warnings",
            warnings.len()
        );
        let t = &truth["trajectories"][0];
        let burnout = utc(t["burnout"]["time_utc"].as_str().unwrap());
        let first = utc(warnings[0]["time_utc"].as_str().unwrap());
        let delay = (first - burnout).as_seconds_f64();
        assert!(
            (0.0..60.0).contains(&delay),
            "seed {seed}: first warning {delay} s after burnout"
        );
        let last = warnings.last().unwrap();
        for (i, w) in warnings.iter().enumerate() {
            assert_eq!(w["sequence"], i as u64 + 1);
            assert_eq!(w["exercise"], true, "simulated input is an exercise");
        }
        let point = |w: &serde_json::Value, k: &str| -> WarningPoint {
            serde_json::from_value(w[k].clone()).unwrap()
        };
        let ll = |k: &str| {
            (
                t[k]["latitude_deg"].as_f64().unwrap(),
                t[k]["longitude_deg"].as_f64().unwrap(),
            )
        };
        let (il, io) = ll("impact");
        let (ll_, lo) = ll("launch");
        let (impact, launch) = (point(last, "impact"), point(last, "launch"));
        let (di, dl) = (d2(&impact, il, io), d2(&launch, ll_, lo));
        let it_z = (impact.time_utc - utc(t["impact"]["time_utc"].as_str().unwrap()))
            .as_seconds_f64()
            / impact.time_sigma_s;
        let lt_z = (launch.time_utc - utc(t["launch"]["time_utc"].as_str().unwrap()))
            .as_seconds_f64()
            / launch.time_sigma_s;
        eprintln!(
            "seed {seed}: {} warnings, first {delay:.0} s after burnout; last impact d2 {di:.2} \
             (ellipse {:.0} x {:.0} m), time z {it_z:.2}; launch d2 {dl:.2} (ellipse {:.0} x {:.0} m), time z {lt_z:.2}",
            warnings.len(),
            impact.ellipse_95.semi_major_m,
            impact.ellipse_95.semi_minor_m,
            launch.ellipse_95.semi_major_m,
            launch.ellipse_95.semi_minor_m,
        );
        assert!(
            di <= D2_999,
            "seed {seed}: impact outside its ellipse (d2 {di})"
        );
        assert!(
            dl <= D2_999,
            "seed {seed}: launch outside its ellipse (d2 {dl})"
        );
        assert!(it_z.abs() < 3.29 && lt_z.abs() < 3.29, "seed {seed}: times");
        // The first warning's ellipse holds the truth too.
        let (fi, fl) = (
            d2(&point(&warnings[0], "impact"), il, io),
            d2(&point(&warnings[0], "launch"), ll_, lo),
        );
        assert!(
            fi <= D2_999 && fl <= D2_999,
            "seed {seed}: first warning {fi} {fl}"
        );
    }
}

#[test]
fn noise_alone_makes_no_track_and_no_warning() {
    let mut scenario = tews::sim::trajectory::ballistic_scenario();
    // The object is there but far below the noise: only false alarms at
    // the run's Pfa reach the tracker.
    scenario.trajectories[0].snr_db = -150.0;
    let (summary, warnings, _, caps) = run(&scenario, 7, &|_, _| Vec::new());
    let tr = &summary["tracking"];
    assert_eq!(tr["tracks_confirmed"], 0, "{tr}");
    assert!(warnings.is_empty() && caps == 0);
}

/// A spent booster separating from the re-entry vehicle 5 s after burnout
/// at 10 m/s: both objects end with their own track and warning, each
/// holding its own impact point (a track formed before the objects were
/// resolved may follow either or end; docs/tracking.md).
#[test]
fn two_separating_objects_get_two_tracks_each_with_its_own_warning() {
    let mut scenario = tews::sim::trajectory::ballistic_scenario();
    scenario.trajectories[0].separation = Some(tews::sim::trajectory::Separation {
        after_burnout_s: 5.0,
        delta_v_mps: 10.0,
        snr_db: -14.0,
    });
    let (summary, warnings, truth, _) = run(&scenario, 5, &|_, _| Vec::new());
    let tr = &summary["tracking"];
    assert!(tr["tracks_ballistic"].as_u64().unwrap() >= 2, "{tr}");
    let objects = truth["trajectories"].as_array().unwrap();
    assert_eq!(objects.len(), 2, "the vehicle and its booster");
    // The last issue of each warning id.
    let mut last: std::collections::BTreeMap<String, &serde_json::Value> = Default::default();
    for w in &warnings {
        last.insert(w["warning"].as_str().unwrap().to_string(), w);
    }
    let mut matched = Vec::new();
    for o in objects {
        let (lat, lon) = (
            o["impact"]["latitude_deg"].as_f64().unwrap(),
            o["impact"]["longitude_deg"].as_f64().unwrap(),
        );
        let holding: Vec<&String> = last
            .iter()
            .filter(|(_, w)| {
                let p: WarningPoint = serde_json::from_value(w["impact"].clone()).unwrap();
                d2(&p, lat, lon) <= D2_999
            })
            .map(|(id, _)| id)
            .collect();
        eprintln!("object {}: held by {holding:?}", o["trajectory"]);
        assert!(
            !holding.is_empty(),
            "no warning holds object {}",
            o["trajectory"]
        );
        matched.push(holding);
    }
    // Two different warnings, one per object.
    assert!(
        matched[0].iter().any(|a| matched[1].iter().any(|b| a != b)),
        "{matched:?}"
    );
}
