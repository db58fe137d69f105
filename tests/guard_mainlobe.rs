//! The range guard against the compressed pulse's mainlobe: with an
//! oversampled LFM (2 MHz swept, sampled at 10 MHz) a point target's
//! mainlobe spans several range bins, and a 3-cell guard puts it in the
//! target's own training cells. Checked against the simulator's truth and
//! against a direct (time-domain) correlation of the pulse.

mod common;

use rustfft::num_complex::{Complex32, Complex64};
use tews::dsp::cfar::CfarKind;
use tews::dsp::waveform::replica;
use tews::plots::Plot;
use tews::process::{ChainPlan, ProcessConfig};
use tews::sim::{Scenario, TargetTruth};

/// 16 x 256 CPIs, 5 us pulse of 2 MHz at 10 MHz (5 samples per resolution
/// cell). Element SNR 0 dB: 29 dB of coherent gain (50 samples x 16 pulses)
/// less the tapers' loss leaves about 26 dB, far above the Pfa 1e-6
/// threshold (about 13-15 dB), so every target should be found.
const SCENARIO: &str = r#"
num_cpis = 20
start_time = "2026-01-01T00:00:00Z"
noise_power = 1.0
[radar]
sample_rate_hz = 10e6
carrier_hz = 3.0e9
pulses_per_cpi = 16
samples_per_pulse = 256
pri_s = 50e-6
window_delay_s = 5e-6
waveform = { type = "lfm", bandwidth_hz = 2e6, pulse_width_s = 5e-6 }
[beam]
azimuth_start_deg = 45.0
elevation_deg = 2.0
[[targets]]
range_m = 1500.0
range_rate_mps = -100.0
snr_db = 0.0
[[targets]]
range_m = 2500.0
range_rate_mps = 200.0
snr_db = 0.0
"#;

fn run(config: &ProcessConfig) -> (ChainPlan, Vec<Plot>, Vec<TargetTruth>) {
    common::simulate_and_detect(SCENARIO, 11, config)
}

/// Targets with a plot in their CPI within one range bin of the truth.
fn found(plots: &[Plot], truth: &[TargetTruth]) -> usize {
    truth
        .iter()
        .filter(|t| {
            plots
                .iter()
                .any(|p| p.cpi == t.cpi && (p.range_bin - t.range_bin).abs() <= 1.0)
        })
        .count()
}

#[test]
fn default_guard_covers_an_oversampled_mainlobe_and_finds_every_target() {
    for cfar in [CfarKind::Os, CfarKind::Ca, CfarKind::Go, CfarKind::So] {
        let config = ProcessConfig {
            cfar,
            ..ProcessConfig::default()
        };
        let (plan, plots, truth) = run(&config);
        assert_eq!(truth.len(), 40);
        assert!(plan.window.guard_range >= plan.mainlobe_guard_range);
        assert!(plan.guard_note.is_none(), "{:?}", plan.guard_note);
        assert_eq!(found(&plots, &truth), truth.len(), "{cfar}");
    }
}

#[test]
fn a_fixed_three_cell_guard_masks_the_same_targets_and_says_so() {
    let mut config = ProcessConfig {
        cfar: CfarKind::Ca,
        auto_range_guard: false,
        ..ProcessConfig::default()
    };
    config.window.guard_range = 3;
    let (plan, plots, truth) = run(&config);
    assert_eq!(plan.window.guard_range, 3);
    let note = plan.guard_note.expect("a narrow guard is reported");
    assert!(
        note.contains("narrower than the compressed pulse's mainlobe"),
        "{note}"
    );
    // The failure the automatic guard prevents: most targets masked.
    let n = found(&plots, &truth);
    assert!(n < truth.len() / 2, "{n} of {} found", truth.len());
}

#[test]
fn mainlobe_guard_agrees_with_a_direct_correlation() {
    let params = Scenario::from_toml_str(SCENARIO, "guard scenario")
        .unwrap()
        .radar_params();
    let plan = ChainPlan::new(&params, &ProcessConfig::default()).unwrap();
    // On-grid response y[k] = sum_l s[l + k] conj(s_w[l]) of the untapered
    // echo through the tapered replica, by the definition.
    let s: Vec<Complex64> = replica(&params.waveform, params.sample_rate_hz)
        .iter()
        .map(|z: &Complex32| Complex64::new(z.re as f64, z.im as f64))
        .collect();
    let sw: Vec<Complex64> = plan
        .replica
        .iter()
        .map(|z| Complex64::new(z.re as f64, z.im as f64))
        .collect();
    let l = s.len() as isize;
    let y = |k: isize| -> f64 {
        (0..l)
            .filter(|&j| j + k >= 0 && j + k < l)
            .map(|j| s[(j + k) as usize] * sw[j as usize].conj())
            .sum::<Complex64>()
            .norm_sqr()
    };
    let peak = y(0);
    let run = |side: isize| {
        (1..l)
            .take_while(|&k| 10.0 * (y(side * k) / peak).log10() >= -20.0)
            .count()
    };
    let on_grid = run(1).max(run(-1));
    // The plan also looks at an echo between two samples, which widens the
    // run by at most one bin.
    let g = plan.mainlobe_guard_range;
    assert!(g >= on_grid && g <= on_grid + 1, "{g} vs on-grid {on_grid}");
    assert!(
        on_grid >= 6,
        "a 2 MHz pulse at 10 MHz spans several bins: {on_grid}"
    );
}
