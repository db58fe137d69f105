//! Simulated targets through the whole CPU chain, against the simulator's
//! truth (the simulator itself is checked against an independent NumPy model
//! in tests/sim_numpy.rs).

mod common;

use tews::plots::Plot;
use tews::process::ProcessConfig;
use tews::sim::TargetTruth;

const RADAR: &str = r#"
start_time = "2025-06-01T12:00:00Z"
noise_power = 1.0
[radar]
sample_rate_hz = 10e6
carrier_hz = 1.3e9
pulses_per_cpi = 64
samples_per_pulse = 1500
pri_s = 250e-6
window_delay_s = 40e-6
waveform = { type = "lfm", bandwidth_hz = 8e6, pulse_width_s = 20e-6 }
"#;

/// Range resolution c/(2B) and velocity resolution lambda/(2 P pri) of RADAR.
const RANGE_RES_M: f64 = 299_792_458.0 / (2.0 * 8e6);
const VEL_RES_MPS: f64 = 299_792_458.0 / 1.3e9 / (2.0 * 64.0 * 250e-6);

fn target(range_m: f64, rate_mps: f64, snr_db: f64) -> String {
    format!(
        "[[targets]]\nrange_m = {range_m}\nrange_rate_mps = {rate_mps}\nsnr_db = {snr_db}\nphase_deg = 0.0\n"
    )
}

/// Simulates `targets` for `cpis` CPIs, processes with the default config,
/// returns (plots, truth records).
fn run(cpis: u64, targets: &[String], seed: u64) -> (Vec<Plot>, Vec<TargetTruth>) {
    let text = format!("num_cpis = {cpis}\n{RADAR}\n{}", targets.join("\n"));
    let (_, plots, truth) = common::simulate_and_detect(&text, seed, &ProcessConfig::default());
    (plots, truth)
}

fn doppler_distance(a: f64, b: f64) -> f64 {
    let d = (a - b).rem_euclid(64.0);
    d.min(64.0 - d)
}

/// Plots of `t`'s CPI within `range_bins` of it (any Doppler).
fn plots_near<'a>(plots: &'a [Plot], t: &TargetTruth, range_bins: f64) -> Vec<&'a Plot> {
    plots
        .iter()
        .filter(|p| p.cpi == t.cpi && (p.range_bin - t.range_bin).abs() <= range_bins)
        .collect()
}

#[test]
fn every_target_above_25_db_is_found_within_a_quarter_bin() {
    // Element SNRs -12..-4 dB: 29..37 dB expected after the 41 dB coherent gain.
    let targets = [
        target(8_000.0, -180.0, -12.0),
        target(11_111.0, 150.0, -8.0),
        target(14_500.5, 3.3, -4.0),
        target(17_250.0, -77.7, -10.0),
        target(20_303.0, 220.0, -6.0), // near the +-230 m/s velocity limit
        target(24_000.0, -45.0, -12.0),
    ];
    let (plots, truth) = run(8, &targets, 11);
    let mut worst = (0.0f64, 0.0f64);
    for t in &truth {
        assert!(t.fully_in_window);
        assert!(t.expected_snr_db.unwrap() >= 25.0);
        let near = plots_near(&plots, t, 3.0);
        assert_eq!(near.len(), 1, "target {} CPI {}: {near:?}", t.target, t.cpi);
        let p = near[0];
        let dr = (p.range_bin - t.range_bin).abs();
        let dd = doppler_distance(p.doppler_bin, t.doppler_bin);
        worst = (worst.0.max(dr), worst.1.max(dd));
        assert!(
            dr < 0.25,
            "target {} CPI {}: range error {dr:.3} bins",
            t.target,
            t.cpi
        );
        assert!(
            dd < 0.25,
            "target {} CPI {}: Doppler error {dd:.3} bins",
            t.target,
            t.cpi
        );
        // Physical units agree with the bins (velocity folded as the DFT sees it).
        assert!((p.range_m - t.range_m).abs() < 0.25 * 299_792_458.0 / 2e7);
        assert!((p.radial_velocity_mps - t.folded_velocity_mps).abs() < 0.25 * VEL_RES_MPS);
    }
    eprintln!(
        "worst errors: range {:.3} bins, Doppler {:.3} bins",
        worst.0, worst.1
    );
}

/// With the default CFAR (OS). CA and GO mask such pairs: each target lies
/// in the other's training cells (see ProcessConfig::cfar).
#[test]
fn two_targets_four_resolution_cells_apart_give_two_plots() {
    // In range (same velocity), then in velocity (same range).
    let pairs = [
        [
            target(10_000.0, 50.0, -8.0),
            target(10_000.0 + 4.0 * RANGE_RES_M, 50.0, -8.0),
        ],
        [
            target(16_000.0, -60.0, -8.0),
            target(16_000.0, -60.0 + 4.0 * VEL_RES_MPS, -8.0),
        ],
    ];
    for pair in pairs {
        let (plots, truth) = run(4, &pair, 5);
        for cpi in 0..4 {
            let ts: Vec<&TargetTruth> = truth.iter().filter(|t| t.cpi == cpi).collect();
            for t in &ts {
                let matched = plots
                    .iter()
                    .filter(|p| {
                        p.cpi == cpi
                            && (p.range_bin - t.range_bin).abs() < 1.0
                            && doppler_distance(p.doppler_bin, t.doppler_bin) < 1.0
                    })
                    .count();
                assert_eq!(matched, 1, "CPI {cpi}, target {}: {plots:?}", t.target);
            }
            let near = plots_near(&plots, ts[0], 10.0);
            assert_eq!(near.len(), 2, "CPI {cpi}: {near:?}");
        }
    }
}

#[test]
fn one_target_never_gives_two_plots_from_15_to_60_db() {
    // Element SNR -25..+20 dB: about 16..61 dB after processing; sub-bin
    // offsets in range and Doppler so sidelobes are not hidden by symmetry.
    for (i, snr_db) in [-25.0, -15.0, -5.0, 5.0, 15.0, 20.0].iter().enumerate() {
        let range = 9_000.0 + 1_000.0 * i as f64 + 0.37 * 299_792_458.0 / 2e7;
        let rate = -100.0 + 31.7 * i as f64;
        let (plots, truth) = run(4, &[target(range, rate, *snr_db)], 21 + i as u64);
        for t in &truth {
            // Range and Doppler processing are separable, so a target's own
            // sidelobes lie along its range row and its Doppler column: any
            // plot in that cross (40 range bins either way, all Doppler bins)
            // other than the target's one is a second plot of the same target.
            let near: Vec<&Plot> = plots_near(&plots, t, 40.0)
                .into_iter()
                .filter(|p| {
                    (p.range_bin - t.range_bin).abs() <= 1.5
                        || doppler_distance(p.doppler_bin, t.doppler_bin) <= 1.5
                })
                .collect();
            assert!(
                near.len() <= 1,
                "SNR {snr_db} dB, CPI {}: {} plots {near:?}",
                t.cpi,
                near.len()
            );
            if *snr_db >= -15.0 {
                assert_eq!(
                    near.len(),
                    1,
                    "SNR {snr_db} dB, CPI {}: target missed",
                    t.cpi
                );
            }
        }
    }
}
