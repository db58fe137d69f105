//! Tapers for the range replica and the Doppler FFT.
//!
//! Range tapers multiply the replica and are *symmetric* (`w[0] = w[L-1]`);
//! Doppler windows weight the pulses before a DFT and are *periodic*
//! (DFT-even: the symmetric window of length P+1 without its last sample),
//! the convention of spectral analysis (SciPy `sym=False`).

use serde::{Deserialize, Serialize};
use std::f64::consts::PI;
use std::str::FromStr;

/// The weights that give one output of the chain's Doppler stage:
/// `window[m] exp(-j 2 pi k m / P)` for pulses `m = 0 .. P`, where `k` is
/// the DFT bin shown at FFT-shifted `doppler_bin` (`k = (doppler_bin + P -
/// P/2) mod P`; see [`crate::process::RangeDopplerMap`]). The sum over
/// pulses of these times the compressed samples of one range bin is that
/// cell's value before the power. `k m` is reduced mod `P` so the phase is
/// exact.
pub fn doppler_bin_weights(window: &[f32], doppler_bin: usize) -> Vec<num_complex::Complex64> {
    DopplerBinWeights::new(window).weights(doppler_bin)
}

/// [`doppler_bin_weights`] for many bins of one window: the `P` roots of
/// unity `exp(-j 2 pi i / P)` are formed once (the same phases, so the same
/// bits), and each bin's weights are table lookups instead of `P` sines and
/// cosines (which were 40 % of the monopulse per-cell work).
#[derive(Debug, Clone)]
pub struct DopplerBinWeights {
    window: Vec<f32>,
    roots: Vec<num_complex::Complex64>,
}

impl DopplerBinWeights {
    /// The table for `window` (length `P`).
    pub fn new(window: &[f32]) -> Self {
        let p = window.len();
        let roots = (0..p)
            .map(|i| num_complex::Complex64::from_polar(1.0, -2.0 * PI * i as f64 / p as f64))
            .collect();
        DopplerBinWeights {
            window: window.to_vec(),
            roots,
        }
    }

    /// The weights of FFT-shifted `doppler_bin` ([`doppler_bin_weights`]).
    pub fn weights(&self, doppler_bin: usize) -> Vec<num_complex::Complex64> {
        let p = self.window.len();
        if p == 0 {
            return Vec::new();
        }
        let k = (doppler_bin % p + p - p / 2) % p;
        self.window
            .iter()
            .enumerate()
            .map(|(m, &w)| {
                // from_polar(w, phase) is (w cos, w sin): the same products.
                let root = self.roots[(k * m) % p];
                num_complex::Complex64::new(f64::from(w) * root.re, f64::from(w) * root.im)
            })
            .collect()
    }
}

/// A window function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Window {
    /// Rectangular (no taper).
    None,
    /// Hann (raised cosine): first sidelobe -31.5 dB, processing loss 1.76 dB.
    #[default]
    Hann,
    /// Hamming: first sidelobe -42.7 dB, processing loss 1.34 dB.
    Hamming,
    /// Blackman: first sidelobe -58 dB, processing loss 2.37 dB.
    Blackman,
}

impl FromStr for Window {
    type Err = String;
    /// Case-insensitive (`Hann` is `hann`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "none" | "rect" => Ok(Window::None),
            "hann" => Ok(Window::Hann),
            "hamming" => Ok(Window::Hamming),
            "blackman" => Ok(Window::Blackman),
            _ => Err(format!(
                "unknown window \"{s}\" (expected none, hann, hamming or blackman)"
            )),
        }
    }
}

impl std::fmt::Display for Window {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Window::None => "none",
            Window::Hann => "hann",
            Window::Hamming => "hamming",
            Window::Blackman => "blackman",
        })
    }
}

impl Window {
    /// Generalised cosine window value at phase `x` in `[0, 2*pi]`.
    fn cosine_sum(self, x: f64) -> f64 {
        match self {
            Window::None => 1.0,
            Window::Hann => 0.5 - 0.5 * x.cos(),
            Window::Hamming => 0.54 - 0.46 * x.cos(),
            Window::Blackman => 0.42 - 0.5 * x.cos() + 0.08 * (2.0 * x).cos(),
        }
    }

    /// Symmetric window of `len` samples (range tapers).
    pub fn symmetric(self, len: usize) -> Vec<f32> {
        if len <= 1 {
            return vec![1.0; len];
        }
        let d = (len - 1) as f64;
        (0..len)
            .map(|n| self.cosine_sum(2.0 * PI * n as f64 / d) as f32)
            .collect()
    }

    /// Periodic (DFT-even) window of `len` samples (Doppler windows).
    pub fn periodic(self, len: usize) -> Vec<f32> {
        (0..len)
            .map(|n| self.cosine_sum(2.0 * PI * n as f64 / len as f64) as f32)
            .collect()
    }

    /// SNR loss of coherent integration through window `w`, dB:
    /// `10 log10( (sum w)^2 / (len * sum w^2) )` (negative or zero).
    pub fn processing_loss_db(w: &[f32]) -> f64 {
        let s: f64 = w.iter().map(|&v| v as f64).sum();
        let s2: f64 = w.iter().map(|&v| (v as f64).powi(2)).sum();
        10.0 * (s * s / (w.len() as f64 * s2)).log10()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn textbook_processing_losses() {
        // Harris (1978), Table 1: Hann 1.76 dB, Hamming 1.34 dB, Blackman 2.37 dB.
        let loss = |w: Window| -Window::processing_loss_db(&w.periodic(1024));
        assert!((loss(Window::Hann) - 1.76).abs() < 0.01);
        assert!((loss(Window::Hamming) - 1.34).abs() < 0.01);
        assert!((loss(Window::Blackman) - 2.37).abs() < 0.01);
        assert_eq!(loss(Window::None), 0.0);
    }

    #[test]
    fn doppler_weights_table_is_the_direct_formula() {
        // Against w[m] exp(-j 2 pi k m / P) formed directly, every bin, for
        // even, odd and non-power-of-two P: the same bits.
        for p in [1, 7, 48, 100, 128] {
            let window = Window::Hann.periodic(p);
            let table = DopplerBinWeights::new(&window);
            for d in 0..p {
                let k = (d + p - p / 2) % p;
                let direct: Vec<num_complex::Complex64> = (0..p)
                    .map(|m| {
                        let phase = -2.0 * PI * ((k * m) % p) as f64 / p as f64;
                        num_complex::Complex64::from_polar(f64::from(window[m]), phase)
                    })
                    .collect();
                assert_eq!(table.weights(d), direct, "P {p} bin {d}");
            }
        }
    }

    #[test]
    fn symmetric_and_periodic_conventions() {
        let s = Window::Hann.symmetric(5);
        assert_eq!(s, vec![0.0, 0.5, 1.0, 0.5, 0.0]);
        let p = Window::Hann.periodic(4);
        let expected = [0.0, 0.5, 1.0, 0.5];
        for (a, b) in p.iter().zip(expected) {
            assert!((a - b).abs() < 1e-7);
        }
        assert_eq!(Window::Hamming.symmetric(1), vec![1.0]);
        assert!(Window::Hann.periodic(0).is_empty());
    }

    #[test]
    fn parses_names() {
        assert_eq!("hamming".parse::<Window>(), Ok(Window::Hamming));
        assert!("kaiser".parse::<Window>().unwrap_err().contains("kaiser"));
    }
}
