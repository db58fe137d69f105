//! The whole CPU chain against detection theory (detection-theory.md):
//! measured false-alarm rate per cell tested and Swerling-1 probability of
//! detection, on seeded simulated data.
//!
//! A rect pulse of one sample and no windows keep every map cell independent,
//! which is what the textbook formulas assume, and the plan then uses them
//! exactly. (With tapers on, neighbouring cells correlate and the plan
//! calibrates alpha instead: tests/cfar_correlated.rs.)

use ndarray::Array3;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use rustfft::num_complex::Complex32;
use tews::cpi::{Cpi, CpiMeta};
use tews::dsp::cfar::{CfarKind, pd_swerling1_ca};
use tews::dsp::window::Window;
use tews::process::cpu::CpuChain;
use tews::process::{Backend, CfarWindow, ChainPlan, ProcessConfig};
use tews::radar::{RadarParams, Waveform};

fn params(pulses: usize, samples: usize) -> RadarParams {
    RadarParams {
        sample_rate_hz: 1e6,
        pulses_per_cpi: pulses,
        samples_per_pulse: samples,
        pri_s: 1e-2,
        window_delay_s: 0.0,
        waveform: Waveform::Rect {
            pulse_width_s: 1e-6,
        }, // one sample
        num_channels: 1,
        sum_channel: 0,
        channel_names: vec![],
        monopulse: None,
    }
}

fn config(cfar: CfarKind, pfa: f64) -> ProcessConfig {
    ProcessConfig {
        cfar,
        pfa,
        window: CfarWindow::default(),
        os_k: None,
        range_window: Window::None,
        doppler_window: Window::None,
        auto_range_guard: false,
    }
}

fn meta(index: u64) -> CpiMeta {
    CpiMeta {
        index,
        time_utc: time::OffsetDateTime::UNIX_EPOCH,
        carrier_hz: 1e9,
        azimuth_deg: 0.0,
        elevation_deg: 0.0,
        simulated: true,
        received_at: None,
    }
}

/// Circular complex Gaussian with total variance `var`.
fn cgauss(rng: &mut ChaCha8Rng, var: f64) -> Complex32 {
    let s = (var / 2.0).sqrt();
    let re: f64 = rng.sample(StandardNormal);
    let im: f64 = rng.sample(StandardNormal);
    Complex32::new((s * re) as f32, (s * im) as f32)
}

#[test]
fn false_alarm_rate_matches_requested_pfa_on_noise() {
    let (p, n) = (64, 2048);
    let mut rng = ChaCha8Rng::seed_from_u64(20261123);
    let cpis: Vec<Cpi> = (0..48)
        .map(|k| {
            Cpi::new(
                meta(k),
                Array3::from_shape_fn((1, p, n), |_| cgauss(&mut rng, 1.0)),
            )
        })
        .collect();
    for kind in [CfarKind::Ca, CfarKind::Os, CfarKind::Go, CfarKind::So] {
        for pfa in [1e-3, 1e-4] {
            let plan = ChainPlan::new(&params(p, n), &config(kind, pfa)).unwrap();
            let mut chain = CpuChain::new(plan);
            let (mut tested, mut alarms) = (0u64, 0u64);
            for cpi in &cpis {
                let out = chain.process(cpi).unwrap();
                tested += out.cells_tested;
                alarms += out.detections.len() as u64;
            }
            let expected = tested as f64 * pfa;
            // Binomial: sd ~ sqrt(expected); allow 5 sd (and never less than 5%).
            let tol = (5.0 * expected.sqrt()).max(0.05 * expected);
            let measured = alarms as f64 / tested as f64;
            eprintln!("{kind} Pfa {pfa:e}: {alarms} alarms in {tested} cells = {measured:.3e}");
            assert!(
                (alarms as f64 - expected).abs() < tol,
                "{kind}: requested Pfa {pfa:e}, measured {measured:.3e} ({alarms} in {tested} cells)"
            );
        }
    }
}

#[test]
fn swerling1_detection_probability_matches_richards_6_137() {
    // Targets every 24 range bins (wider than the 2 x 11 range window, so no
    // target sits in another's reference cells), Doppler bin centre, one
    // range sample long: all their power lands in one map cell.
    let (p, n) = (16, 256);
    let cfar_n = CfarWindow::default().reference_cells();
    let target_bins: Vec<usize> = (20..n - 12).step_by(24).collect();
    let k0 = 3; // DFT bin -> shifted bin k0 + P/2
    let plan = ChainPlan::new(&params(p, n), &config(CfarKind::Ca, 1e-6)).unwrap();
    let alpha = plan.alpha as f64;
    let mut chain = CpuChain::new(plan);
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for chi_db in [10.0, 20.0] {
        let chi = 10f64.powf(chi_db / 10.0);
        // Map SNR = P * A^2 / sigma^2 for a CPI-constant amplitude of mean power A^2.
        let amp_var = chi / p as f64;
        let (mut trials, mut hits) = (0u32, 0u32);
        for k in 0..400 {
            let mut x = Array3::from_shape_fn((1, p, n), |_| cgauss(&mut rng, 1.0));
            for &r in &target_bins {
                let a = cgauss(&mut rng, amp_var); // Swerling 1: Rayleigh, constant over the CPI
                for m in 0..p {
                    let ph = std::f32::consts::TAU * (k0 * m) as f32 / p as f32;
                    x[[0, m, r]] += a * Complex32::from_polar(1.0, ph);
                }
            }
            let out = chain.process(&Cpi::new(meta(k), x)).unwrap();
            for &r in &target_bins {
                trials += 1;
                let d = (k0 + p / 2) as u32;
                if out
                    .detections
                    .iter()
                    .any(|det| det.range_bin == r as u32 && det.doppler_bin == d)
                {
                    hits += 1;
                }
            }
        }
        let pd = hits as f64 / trials as f64;
        let theory = pd_swerling1_ca(cfar_n, alpha, chi);
        let sd = (theory * (1.0 - theory) / trials as f64).sqrt();
        eprintln!("chi {chi_db} dB: Pd measured {pd:.3}, theory {theory:.3} ({trials} trials)");
        assert!(
            (pd - theory).abs() < 4.0 * sd,
            "chi {chi_db} dB: Pd {pd:.3} vs theory {theory:.3}"
        );
    }
}
