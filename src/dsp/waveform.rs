//! The transmitted pulse's baseband replica (formats.md §1).

use crate::radar::Waveform;
use rustfft::num_complex::Complex32;

/// Samples the replica at `sample_rate_hz`: `t_k = k / fs`,
/// `k = 0 .. round(T * fs) - 1`, unit amplitude.
///
/// LFM: `s(t) = exp(j*pi*(B/T)*(t - T/2)^2)`; rect: `s(t) = 1`.
/// Phases are computed in f64 and rounded once to f32.
pub fn replica(waveform: &Waveform, sample_rate_hz: f64) -> Vec<Complex32> {
    let len = waveform.replica_len(sample_rate_hz);
    match *waveform {
        Waveform::Lfm {
            bandwidth_hz,
            pulse_width_s,
        } => {
            let rate = bandwidth_hz / pulse_width_s;
            (0..len)
                .map(|k| {
                    let t = k as f64 / sample_rate_hz - pulse_width_s / 2.0;
                    let phase = std::f64::consts::PI * rate * t * t;
                    Complex32::new(phase.cos() as f32, phase.sin() as f32)
                })
                .collect()
        }
        Waveform::Rect { .. } => vec![Complex32::new(1.0, 0.0); len],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lfm_replica_has_the_documented_length_phase_and_sweep() {
        // B = 1 MHz, T = 10 us, fs = 2 MHz: 20 samples.
        let w = Waveform::Lfm {
            bandwidth_hz: 1e6,
            pulse_width_s: 10e-6,
        };
        let s = replica(&w, 2e6);
        assert_eq!(s.len(), 20);
        for z in &s {
            assert!((z.norm() - 1.0).abs() < 1e-6);
        }
        // At t = T/2 (k = 10) the phase is zero.
        assert!((s[10] - Complex32::new(1.0, 0.0)).norm() < 1e-6);
        // At k = 0, t - T/2 = -5 us: phase = pi * 1e11 * 25e-12 = 2.5 pi.
        let expected = Complex32::from_polar(1.0, (2.5 * std::f64::consts::PI) as f32);
        assert!((s[0] - expected).norm() < 1e-5);
        // Instantaneous frequency sweeps from -B/2 to +B/2: the phase step
        // between samples 0 and 1 is negative, between 18 and 19 positive.
        let step = |a: Complex32, b: Complex32| (b * a.conj()).arg();
        assert!(step(s[0], s[1]) < 0.0);
        assert!(step(s[18], s[19]) > 0.0);
    }

    #[test]
    fn rect_replica_is_ones_of_rounded_length() {
        let s = replica(
            &Waveform::Rect {
                pulse_width_s: 2.6e-6,
            },
            1e6,
        );
        assert_eq!(s.len(), 3);
        assert!(s.iter().all(|z| *z == Complex32::new(1.0, 0.0)));
    }
}
