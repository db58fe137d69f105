//! The truth file's range bin, Doppler bin and amplitude, checked by a naive
//! matched filter and slow-time DFT written here from formats.md §1 (not by
//! the simulator's own code).

use rustfft::num_complex::Complex64;
use tews::radar::Waveform;
use tews::sim::{Scenario, Simulator, simulate};

#[test]
fn truth_bins_are_where_a_naive_matched_filter_and_dft_peak() {
    // The built-in scenario, noise-free, with amplitudes for its SNRs.
    let mut s = Scenario::builtin();
    s.num_cpis = 3;
    s.noise_power = 0.0;
    for t in &mut s.targets {
        t.amplitude = Some(10f64.powf(t.snr_db.take().unwrap() / 20.0));
        t.phase_deg = Some(0.0);
    }
    let dir = tempfile::tempdir().unwrap();
    let truth = simulate(&s, 3, &dir.path().join("rec")).unwrap();
    let sim = Simulator::new(&s, 3).unwrap();
    let p = s.radar_params();
    let Waveform::Lfm {
        bandwidth_hz,
        pulse_width_s,
    } = p.waveform
    else {
        panic!("builtin is LFM")
    };
    let l = p.waveform.replica_len(p.sample_rate_hz);
    let replica: Vec<Complex64> = (0..l)
        .map(|k| {
            let t = k as f64 / p.sample_rate_hz - pulse_width_s / 2.0;
            Complex64::from_polar(
                1.0,
                std::f64::consts::PI * bandwidth_hz / pulse_width_s * t * t,
            )
        })
        .collect();
    assert!(truth.targets.iter().all(|t| t.fully_in_window));
    assert!((truth.coherent_gain_db - (10.0 * 200f64.log10() + 10.0 * 64f64.log10())).abs() < 1e-9);
    for k in 0..s.num_cpis {
        let x = sim.cpi_samples(k);
        // |MF + DFT| at (lag, Doppler bin), normalised by P L.
        let response = |lag: usize, doppler_bin: f64| {
            let f = (doppler_bin - (p.pulses_per_cpi / 2) as f64) / p.pulses_per_cpi as f64;
            let mut acc = Complex64::new(0.0, 0.0);
            for m in 0..p.pulses_per_cpi {
                let mut y = Complex64::new(0.0, 0.0);
                for (i, r) in replica.iter().enumerate() {
                    let z = x[[0, m, lag + i]];
                    y += Complex64::new(z.re as f64, z.im as f64) * r.conj();
                }
                acc += y * Complex64::from_polar(1.0, -2.0 * std::f64::consts::PI * f * m as f64);
            }
            acc.norm() / (p.pulses_per_cpi * l) as f64
        };
        for t in truth.targets.iter().filter(|t| t.cpi == k) {
            let lag = t.range_bin.round() as usize;
            let peak = response(lag, t.doppler_bin);
            // Half a sample of straddle costs at most ~25 % for this chirp.
            assert!(
                peak > 0.7 * t.amplitude,
                "cpi {k} target {}: {peak} vs amplitude {}",
                t.target,
                t.amplitude
            );
            assert!(peak < 1.01 * t.amplitude);
            for (dl, dd) in [(-3i64, 0.0), (3, 0.0), (0, -1.0), (0, 1.0)] {
                let other = response((lag as i64 + dl) as usize, t.doppler_bin + dd);
                assert!(
                    other < 0.5 * peak,
                    "cpi {k} target {}: off-peak {other} vs peak {peak}",
                    t.target
                );
            }
            // Range and velocity in physical units agree with the radar's own conversions.
            assert!((p.range_m(t.range_bin) - t.range_m).abs() < 1e-6);
            let v = p.radial_velocity_mps(t.doppler_bin, s.radar.carrier_hz);
            assert!(
                (v - t.folded_velocity_mps).abs() < 1e-6,
                "{v} vs {}",
                t.folded_velocity_mps
            );
        }
    }
}
