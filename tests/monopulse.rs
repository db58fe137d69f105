//! Monopulse angles against the simulator's truth and against theory.
//!
//! The simulator places targets at known beam-frame offsets (formats.md §1
//! and §5) in a beam at 35 deg elevation; tews measures them from the
//! difference channels. Checked over 240 plots at 20-30 dB:
//! - normalised errors (error / reported sigma) have an RMS in [0.8, 1.25]
//!   in azimuth and in elevation;
//! - the reported sigmas are the first-order theory for the plot's SNR
//!   (`beamwidth / (slope sqrt(2 SNR)) sqrt(1 + r^2)`), and that theory also
//!   matches the spread measured at the true SNR;
//! - the mean error at each offset across the beam is under 0.02 beamwidth;
//! - the 35 deg beam proves the beam frame: plain degree differences would
//!   be 22 % off in azimuth (checked to fail the accuracy test by far);
//! - a target outside the calibrated span keeps the beam angles and is
//!   counted; a single-channel recording's plots are the beam's.

mod common;

use tews::plots::{AngleSource, Plot};
use tews::process::ProcessConfig;
use tews::sim::TargetTruth;

/// Beam-frame offsets across the beam (az, el), in beamwidths.
const OFFSETS: [(f64, f64); 8] = [
    (0.0, 0.0),
    (0.3, 0.0),
    (-0.3, 0.0),
    (0.0, 0.3),
    (0.0, -0.3),
    (0.4, 0.4),
    (-0.45, 0.2),
    (0.2, -0.45),
];
const BW_AZ: f64 = 2.0;
const BW_EL: f64 = 2.5;
const SLOPE_AZ: f64 = 1.6;
const SLOPE_EL: f64 = 1.4;

fn scenario(offsets: &[(f64, f64)], cpis: u64, elevation_deg: f64, channels: &str) -> String {
    let mut s = format!(
        r#"
num_cpis = {cpis}
start_time = "2026-03-01T00:00:00Z"
noise_power = 1.0
channels = {channels}
[radar]
sample_rate_hz = 5e6
carrier_hz = 3e9
pulses_per_cpi = 32
samples_per_pulse = 600
pri_s = 200e-6
window_delay_s = 20e-6
waveform = {{ type = "lfm", bandwidth_hz = 4e6, pulse_width_s = 6e-6 }}
[beam]
azimuth_start_deg = 100.0
azimuth_step_deg = 0.5
elevation_deg = {elevation_deg}
beamwidth_az_deg = {BW_AZ}
beamwidth_el_deg = {BW_EL}
slope_az = {SLOPE_AZ}
slope_el = {SLOPE_EL}
[site]
latitude_deg = 52.0
longitude_deg = 5.0
height_m = 40.0
"#
    );
    for (i, (u, v)) in offsets.iter().enumerate() {
        // Element SNR chosen so the processed SNR is 20-30 dB after the beam loss.
        let loss_db = 10.0
            * (8.0 * std::f64::consts::LN_2 * (u * u + v * v))
                .exp()
                .log10();
        s += &format!(
            "[[targets]]\nrange_m = {}\nrange_rate_mps = {}\nsnr_db = {}\n\
             beam_offset_az_deg = {}\nbeam_offset_el_deg = {}\n",
            5_000.0 + 1_800.0 * i as f64,
            -50.0 + 13.0 * i as f64,
            -2.0 + loss_db + (i % 3) as f64 * 2.5,
            u * BW_AZ,
            v * BW_EL
        );
    }
    s
}

/// Each plot matched to its truth (same CPI, nearest range within 100 m).
fn matched<'a>(plots: &'a [Plot], truth: &'a [TargetTruth]) -> Vec<(&'a Plot, &'a TargetTruth)> {
    plots
        .iter()
        .filter_map(|p| {
            truth
                .iter()
                .filter(|t| t.cpi == p.cpi)
                .min_by(|a, b| {
                    (a.range_m - p.range_m)
                        .abs()
                        .total_cmp(&(b.range_m - p.range_m).abs())
                })
                .filter(|t| (t.range_m - p.range_m).abs() < 100.0)
                .map(|t| (p, t))
        })
        .collect()
}

fn wrap180(x: f64) -> f64 {
    (x + 180.0).rem_euclid(360.0) - 180.0
}

#[test]
fn angles_match_truth_at_the_theoretical_accuracy_in_a_35_degree_beam() {
    let toml = scenario(&OFFSETS, 30, 35.0, r#"["sum", "delta_az", "delta_el"]"#);
    let (_plan, plots, truth) = common::simulate_and_detect(&toml, 11, &ProcessConfig::default());
    let pairs = matched(&plots, &truth);
    assert!(pairs.len() >= 200, "only {} plots matched", pairs.len());
    let (mut sum_az, mut sum_el, mut sum_pos, mut n) = (0.0, 0.0, 0.0, 0usize);
    let mut naive_sq = 0.0;
    let mut by_target = vec![(0.0, 0.0, 0usize); OFFSETS.len()];
    for (p, t) in &pairs {
        assert!(
            (20.0..=31.0).contains(&p.snr_db),
            "plot SNR {} dB",
            p.snr_db
        );
        assert_eq!(p.angle_source, AngleSource::Monopulse);
        let (sa, se) = (p.azimuth_sigma_deg.unwrap(), p.elevation_sigma_deg.unwrap());
        // The reported sigmas are the first-order theory at the plot's SNR,
        // with r the ratio the estimate inverted (from the measured offsets).
        let snr = 10f64.powf(p.snr_db / 10.0);
        let frame = tews::geo::BeamFrame::new(100.0 + 0.5 * p.cpi as f64, 35.0);
        let (u, v) = frame.offsets_deg(&tews::geo::enu_direction(p.azimuth_deg, p.elevation_deg));
        let (r_az, r_el) = (u * SLOPE_AZ / BW_AZ, v * SLOPE_EL / BW_EL);
        let theory_az = BW_AZ / (SLOPE_AZ * (2.0 * snr).sqrt()) * (1.0 + r_az * r_az).sqrt()
            / p.elevation_deg.to_radians().cos();
        let theory_el = BW_EL / (SLOPE_EL * (2.0 * snr).sqrt()) * (1.0 + r_el * r_el).sqrt();
        assert!(
            (sa - theory_az).abs() < 1e-6 * theory_az,
            "{sa} vs {theory_az}"
        );
        assert!(
            (se - theory_el).abs() < 1e-6 * theory_el,
            "{se} vs {theory_el}"
        );
        let e_az = wrap180(p.azimuth_deg - t.azimuth_deg);
        let e_el = p.elevation_deg - t.elevation_deg;
        // Geolocation: the plot's WGS-84 position against the true one,
        // within its angle and range accuracy (range: one bin).
        let truth_pos = t.position.expect("scenario has a site").to_ecef();
        let plot_pos = tews::geo::Geodetic {
            latitude_deg: p.latitude_deg.unwrap(),
            longitude_deg: p.longitude_deg.unwrap(),
            height_m: p.height_m.unwrap(),
        }
        .to_ecef();
        let cross = p.range_m * (sa * p.elevation_deg.to_radians().cos()).to_radians();
        let tol = (cross.powi(2) + (p.range_m * se.to_radians()).powi(2) + 30f64.powi(2)).sqrt();
        let miss = (plot_pos - truth_pos).norm();
        assert!(
            miss < 5.0 * tol,
            "plot {p:?}: {miss} m from the truth (sigma {tol} m)"
        );
        sum_pos += (miss / tol).powi(2);
        sum_az += (e_az / sa).powi(2);
        sum_el += (e_el / se).powi(2);
        n += 1;
        // What plain degree differences from the beam would have reported.
        let naive_az = 100.0 + 0.5 * p.cpi as f64 + u;
        naive_sq += (wrap180(naive_az - t.azimuth_deg) / sa).powi(2);
        let g = &mut by_target[t.target];
        g.0 += e_az * p.elevation_deg.to_radians().cos(); // beam-frame units
        g.1 += e_el;
        g.2 += 1;
    }
    let (rms_az, rms_el) = ((sum_az / n as f64).sqrt(), (sum_el / n as f64).sqrt());
    eprintln!("{n} plots: RMS normalised error az {rms_az:.3}, el {rms_el:.3}");
    assert!((0.8..=1.25).contains(&rms_az), "azimuth RMS {rms_az}");
    assert!((0.8..=1.25).contains(&rms_el), "elevation RMS {rms_el}");
    let pos_rms = (sum_pos / n as f64).sqrt();
    eprintln!("RMS position miss / sigma {pos_rms:.3}");
    assert!(
        pos_rms < 1.5,
        "geolocated plots miss the truth by {pos_rms} sigma RMS"
    );
    let naive_rms = (naive_sq / n as f64).sqrt();
    assert!(
        naive_rms > 2.0,
        "degree differences would pass too ({naive_rms}): test too weak"
    );
    for (i, (az, el, k)) in by_target.iter().enumerate() {
        assert!(*k >= 25, "target {i}: {k} plots");
        let (bias_az, bias_el) = (az / *k as f64, el / *k as f64);
        eprintln!(
            "offset {:?}: bias az {bias_az:.4} el {bias_el:.4} deg",
            OFFSETS[i]
        );
        assert!(
            bias_az.abs() < 0.02 * BW_AZ,
            "target {i}: azimuth bias {bias_az} deg"
        );
        assert!(
            bias_el.abs() < 0.02 * BW_EL,
            "target {i}: elevation bias {bias_el} deg"
        );
    }
}

#[test]
fn the_spread_at_the_true_snr_is_the_theory() {
    // Boresight and an off-axis offset, high SNR (30 dB processed), many
    // CPIs: the measured standard deviation in the beam frame against
    // beamwidth / (slope sqrt(2 SNR)) sqrt(1 + r^2) at the truth's SNR.
    let offsets = [(0.0, 0.0), (0.45, -0.4)];
    let toml = scenario(&offsets, 120, 10.0, r#"["sum", "delta_az", "delta_el"]"#);
    let (_plan, plots, truth) = common::simulate_and_detect(&toml, 5, &ProcessConfig::default());
    for (target, (u0, v0)) in offsets.iter().enumerate() {
        let mut errs = (Vec::new(), Vec::new());
        let mut snr_sum = 0.0;
        for (p, t) in matched(&plots, &truth) {
            if t.target != target {
                continue;
            }
            let frame = tews::geo::BeamFrame::new(100.0 + 0.5 * p.cpi as f64, 10.0);
            let (u, v) =
                frame.offsets_deg(&tews::geo::enu_direction(p.azimuth_deg, p.elevation_deg));
            errs.0.push(u - t.azimuth_offset_deg);
            errs.1.push(v - t.elevation_offset_deg);
            snr_sum += 10f64.powf(p.snr_db / 10.0);
        }
        let k = errs.0.len() as f64;
        assert!(k >= 100.0, "{k} plots");
        let snr = snr_sum / k;
        let sd = |e: &[f64]| {
            let m = e.iter().sum::<f64>() / e.len() as f64;
            (e.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (e.len() as f64 - 1.0)).sqrt()
        };
        let (r_az, r_el) = (u0 * SLOPE_AZ, v0 * SLOPE_EL);
        let th_az = BW_AZ / (SLOPE_AZ * (2.0 * snr).sqrt()) * (1.0 + r_az * r_az).sqrt();
        let th_el = BW_EL / (SLOPE_EL * (2.0 * snr).sqrt()) * (1.0 + r_el * r_el).sqrt();
        let (q_az, q_el) = (sd(&errs.0) / th_az, sd(&errs.1) / th_el);
        eprintln!(
            "target {target}: sd/theory az {q_az:.3} el {q_el:.3} at {:.1} dB",
            10.0 * snr.log10()
        );
        // 120 samples: the sample SD is within about 13 % (2 sigma) of the truth.
        assert!(
            (0.82..=1.18).contains(&q_az),
            "azimuth spread {q_az} x theory"
        );
        assert!(
            (0.82..=1.18).contains(&q_el),
            "elevation spread {q_el} x theory"
        );
    }
}

#[test]
fn outside_the_span_keeps_the_beam_angle_and_is_counted() {
    // 0.75 beamwidth off in azimuth: outside the +-0.6 span whatever the noise.
    let offsets = [(0.75, 0.0), (0.1, 0.0)];
    let toml = scenario(&offsets, 4, 3.0, r#"["sum", "delta_az", "delta_el"]"#);
    let (_plan, plots, truth) = common::simulate_and_detect(&toml, 3, &ProcessConfig::default());
    let pairs = matched(&plots, &truth);
    let outside: Vec<_> = pairs.iter().filter(|(_, t)| t.target == 0).collect();
    let inside: Vec<_> = pairs.iter().filter(|(_, t)| t.target == 1).collect();
    assert_eq!(
        outside.len(),
        4,
        "the outside target is detected in every CPI"
    );
    for (p, _) in &outside {
        assert_eq!(p.angle_source, AngleSource::Beam);
        assert_eq!(p.azimuth_deg, 100.0 + 0.5 * p.cpi as f64);
        assert_eq!(p.elevation_deg, 3.0);
        assert!(p.azimuth_sigma_deg.is_none() && p.elevation_sigma_deg.is_none());
    }
    assert!(
        inside
            .iter()
            .all(|(p, _)| p.angle_source == AngleSource::Monopulse)
    );
    // The summary counts them.
    let dir = tempfile::tempdir().unwrap();
    let scenario = tews::sim::Scenario::from_toml_str(&toml, "t").unwrap();
    tews::sim::simulate(&scenario, 3, &dir.path().join("rec")).unwrap();
    let summary = dir.path().join("summary.json");
    let out = std::process::Command::new(common::tews_bin())
        .args(["run", "--input"])
        .arg(dir.path().join("rec"))
        .args([
            "--output",
            &format!("jsonl:{}", dir.path().join("p.jsonl").display()),
        ])
        .arg("--summary")
        .arg(&summary)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(summary).unwrap()).unwrap();
    let plots_total = s["plots"].as_u64().unwrap();
    assert_eq!(
        s["monopulse_outside_span"].as_u64().unwrap(),
        outside.len() as u64
    );
    assert_eq!(
        s["monopulse_plots"].as_u64().unwrap() + s["monopulse_outside_span"].as_u64().unwrap(),
        plots_total
    );
}

#[test]
fn a_single_channel_recording_keeps_the_beam_angles() {
    let toml = scenario(&OFFSETS[..2], 2, 35.0, r#"["sum"]"#);
    let (_plan, plots, _truth) = common::simulate_and_detect(&toml, 1, &ProcessConfig::default());
    assert!(!plots.is_empty());
    for p in &plots {
        assert_eq!(p.angle_source, AngleSource::Beam);
        assert_eq!(p.elevation_deg, 35.0);
        assert!(p.azimuth_sigma_deg.is_none());
        // The site is known, so the plot is placed, along the beam.
        assert!(p.latitude_deg.is_some() && p.height_m.is_some());
    }
}
