//! `tews site --from REC` prints a site file that loads and whose `[radar]`
//! gives back the recording's radar parameters exactly (issue: hardening,
//! item 15), for a single-channel recording and a monopulse one.

mod common;

use std::process::Command;
use tews::ingest::sigmf::Recording;
use tews::site::SiteConfig;

fn check(scenario: &tews::sim::Scenario) {
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("rec");
    tews::sim::simulate(scenario, 3, &prefix).unwrap();
    let out = Command::new(common::tews_bin())
        .args(["site", "--stream-id", "7", "--from"])
        .arg(&prefix)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let site = SiteConfig::from_toml_str(&text, "printed").unwrap();
    let radar = site.radar("printed").unwrap();
    let recording = Recording::open(&prefix).unwrap();
    assert_eq!(radar.params(), recording.params, "{text}");
    assert_eq!(radar.carrier_hz, recording.cpi_meta(0).carrier_hz);
    if recording.params.num_channels > 1 {
        assert_eq!(radar.stream_ids, vec![7, 8, 9]);
    } else {
        assert_eq!(radar.stream_id, Some(7));
    }
    let position = site.position().unwrap();
    assert_eq!(position, recording.site(), "{text}");
}

#[test]
fn the_printed_site_file_gives_back_the_recording_radar() {
    let mut single = tews::sim::Scenario::builtin();
    single.num_cpis = 1;
    check(&single);
    let mut mono = tews::sim::trajectory::ballistic_scenario();
    mono.num_cpis = 2;
    check(&mono);
}

#[test]
fn a_bad_recording_is_one_line() {
    let out = Command::new(common::tews_bin())
        .args(["site", "--from", "/nonexistent/rec"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
}
