//! The 1-sigma accuracy of a plot's interpolated range (`range_sigma_m`).
//!
//! A plot's range bin is the peak of the parabola through the log powers of
//! the peak cell and its two range neighbours ([`super::peak_offset`]). Its
//! error has two parts, both computed here once per radar from the actual
//! matched filter (the echo against the tapered replica, sampled at fs):
//!
//! - **thermal noise**, to first order: with `y_i = A g_i + n_i` at the three
//!   cells (`g` the compressed pulse at the target's offset, `n` the
//!   filtered noise with correlation `rho` from the tapered replica),
//!   `ln |y_i|^2` moves by `eps_i = 2 Re(n_i / (A g_i))`, whose covariance is
//!   `(2 / SNR) Re(rho_(i-j) / (g_i g_j*))`; the estimate moves by the
//!   gradient of the interpolation formula dotted with those;
//! - **straddle bias**: the noiseless estimate is not the true offset,
//!   because the compressed pulse is not Gaussian.
//!
//! Both are averaged over the target's offset from the bin grid (uniform in
//! half a bin either side, 41 points): `sigma^2 = mean(var) + mean(bias^2)`
//! bins^2, the variance scaled by the plot's own peak SNR (the plot's
//! `snr_db`, whose reference is the peak cell, so each offset's variance is
//! taken relative to the peak cell's power there). Range-Doppler coupling
//! and other errors outside the formats.md §1 model are not included.

use crate::radar::{RadarParams, Waveform};
use rustfft::num_complex::{Complex32, Complex64};

/// Straddle offsets averaged over.
const OFFSETS: usize = 41;

/// The range accuracy model of one radar: see the module docs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RangeAccuracy {
    /// Mean thermal variance times the peak SNR, bins^2.
    thermal_bins2: f64,
    /// Mean squared straddle bias, bins^2.
    bias_bins2: f64,
    /// Range bin, m.
    bin_m: f64,
}

/// `s(u)`, the pulse at `u` seconds after its start (0 outside it).
fn pulse(waveform: &Waveform, u: f64) -> Complex64 {
    match *waveform {
        Waveform::Lfm {
            bandwidth_hz,
            pulse_width_s,
        } => {
            if !(0.0..pulse_width_s).contains(&u) {
                return Complex64::new(0.0, 0.0);
            }
            let x = u - pulse_width_s / 2.0;
            Complex64::from_polar(
                1.0,
                std::f64::consts::PI * bandwidth_hz / pulse_width_s * x * x,
            )
        }
        Waveform::Rect { pulse_width_s } => {
            if (0.0..pulse_width_s).contains(&u) {
                Complex64::new(1.0, 0.0)
            } else {
                Complex64::new(0.0, 0.0)
            }
        }
    }
}

impl RangeAccuracy {
    /// The model for `params`' waveform against the tapered `replica` the
    /// chain correlates with.
    pub fn new(params: &RadarParams, replica: &[Complex32]) -> Self {
        let fs = params.sample_rate_hz;
        let h: Vec<Complex64> = replica
            .iter()
            .map(|c| Complex64::new(c.re as f64, c.im as f64))
            .collect();
        let l = h.len() as isize;
        let energy: f64 = h.iter().map(|c| c.norm_sqr()).sum();
        // Filtered-noise correlation at lag k samples.
        let rho = |k: isize| -> Complex64 {
            let mut acc = Complex64::new(0.0, 0.0);
            for n in 0..l {
                let m = n + k;
                if (0..l).contains(&m) {
                    acc += h[m as usize] * h[n as usize].conj();
                }
            }
            acc / energy.max(f64::MIN_POSITIVE)
        };
        let rhos = [rho(0), rho(1), rho(2)];
        let rho_at = |k: isize| -> Complex64 {
            let r = rhos[k.unsigned_abs().min(2)];
            if k < 0 { r.conj() } else { r }
        };
        // Matched-filter output at cell `i` for an echo starting `delta`
        // samples after cell 0's: sum_n s((n - delta) / fs) conj(h[n - i]).
        let compressed = |i: isize, delta: f64| -> Complex64 {
            let mut acc = Complex64::new(0.0, 0.0);
            for j in 0..l {
                let n = j + i;
                acc += pulse(&params.waveform, (n as f64 - delta) / fs) * h[j as usize].conj();
            }
            acc
        };
        let peak_power = compressed(0, 0.0).norm_sqr().max(f64::MIN_POSITIVE);
        let (mut var_sum, mut bias_sum, mut count) = (0.0, 0.0, 0.0);
        for k in 0..OFFSETS {
            let delta = -0.5 + k as f64 / (OFFSETS - 1) as f64;
            // The peak cell is the nearest; cells -1, 0, +1 around it.
            let g = [-1isize, 0, 1].map(|i| compressed(i, delta) / peak_power.sqrt());
            let p = g.map(|x| x.norm_sqr());
            if p.iter().any(|&x| x <= 0.0) {
                continue;
            }
            let lp = p.map(f64::ln);
            let d = lp[0] - 2.0 * lp[1] + lp[2];
            if d >= 0.0 {
                continue;
            }
            let estimate = 0.5 * (lp[0] - lp[2]) / d;
            // Gradient of 0.5 (a - c) / (a - 2b + c) in (a, b, c).
            let grad = [
                0.5 / d - 0.5 * (lp[0] - lp[2]) / (d * d),
                (lp[0] - lp[2]) / (d * d),
                -0.5 / d - 0.5 * (lp[0] - lp[2]) / (d * d),
            ];
            // Covariance of the log powers per unit 1/SNR (SNR of a unit
            // on-grid peak), then referred to this offset's peak cell.
            let mut var = 0.0;
            for a in 0..3 {
                for b in 0..3 {
                    let c = 2.0 * (rho_at(a as isize - b as isize) / (g[a] * g[b].conj())).re;
                    var += grad[a] * grad[b] * c;
                }
            }
            var_sum += var * p[1];
            bias_sum += (estimate - delta).powi(2);
            count += 1.0;
        }
        let count = f64::max(count, 1.0);
        RangeAccuracy {
            thermal_bins2: var_sum / count,
            bias_bins2: bias_sum / count,
            bin_m: params.range_bin_m(),
        }
    }

    /// 1-sigma range accuracy of a plot at `snr_db` (its peak SNR), m.
    pub fn sigma_m(&self, snr_db: f64) -> f64 {
        let snr = 10f64.powf(snr_db / 10.0).max(1.0);
        (self.thermal_bins2 / snr + self.bias_bins2).sqrt() * self.bin_m
    }

    /// The straddle-bias floor alone (infinite SNR), m.
    pub fn floor_m(&self) -> f64 {
        self.bias_bins2.sqrt() * self.bin_m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sigma_falls_as_one_over_root_snr_to_the_straddle_floor() {
        let mut p = crate::sim::Scenario::builtin().radar_params();
        p.waveform = Waveform::Rect {
            pulse_width_s: 1e-6,
        };
        p.sample_rate_hz = 10e6;
        let replica = crate::dsp::waveform::replica(&p.waveform, p.sample_rate_hz);
        let a = RangeAccuracy::new(&p, &replica);
        let (s20, s40) = (a.sigma_m(20.0), a.sigma_m(40.0));
        assert!(s20 > s40 && s40 > a.floor_m());
        let thermal = |s: f64| (s * s - a.floor_m().powi(2)).sqrt();
        assert!((thermal(s20) / thermal(s40) - 10.0).abs() < 1e-6);
    }
}
