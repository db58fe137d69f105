//! CFAR threshold multipliers from a requested false-alarm probability.
//!
//! Square-law detector, exponentially distributed noise power, reference
//! cells independent (detection-theory.md; Richards, *Fundamentals of Radar
//! Signal Processing*, 2nd ed., §6.5). The threshold is `alpha` times the
//! variant's noise statistic:
//! - CA: the mean of all `N` reference cells.
//! - GO / SO: the larger / smaller of the means of the leading and lagging
//!   halves (`N/2` cells each).
//! - OS: the `k`-th smallest of the `N` reference cells.

use serde::{Deserialize, Serialize};
use std::str::FromStr;

/// CFAR variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum CfarKind {
    /// Cell averaging.
    Ca,
    /// Greatest-of cell averaging (robust at clutter edges).
    Go,
    /// Smallest-of cell averaging (resolves closely spaced targets).
    So,
    /// Ordered statistic (robust to interfering targets in the reference window).
    #[default]
    Os,
}

impl FromStr for CfarKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "ca" => Ok(CfarKind::Ca),
            "go" => Ok(CfarKind::Go),
            "so" => Ok(CfarKind::So),
            "os" => Ok(CfarKind::Os),
            other => Err(format!(
                "unknown CFAR \"{other}\" (expected ca, go, so or os)"
            )),
        }
    }
}

impl std::fmt::Display for CfarKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CfarKind::Ca => "ca",
            CfarKind::Go => "go",
            CfarKind::So => "so",
            CfarKind::Os => "os",
        })
    }
}

/// A CFAR parameter that cannot give the requested false-alarm rate.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CfarError {
    /// Pfa outside (0, 1).
    #[error("false-alarm probability must be in (0, 1), got {0}")]
    Pfa(f64),
    /// Bad reference-cell count or order.
    #[error("{0}")]
    Cells(String),
}

/// Pfa of CA-CFAR with `n` cells and multiplier `alpha` (Richards 6.134).
pub fn pfa_ca(n: usize, alpha: f64) -> f64 {
    (1.0 + alpha / n as f64).powi(-(n as i32))
}

/// Pfa of SO-CFAR: `n` cells per half, threshold `alpha * min(half means)`.
///
/// With `beta = alpha / n` applied to the half sums (Gandhi & Kassam 1988):
/// `Pfa_SO = 2 sum_{j=0}^{n-1} C(n-1+j, j) (2+beta)^-(n+j)`.
pub fn pfa_so(n_half: usize, alpha: f64) -> f64 {
    let beta = alpha / n_half as f64;
    let mut sum = 0.0;
    let mut binom = 1.0; // C(n-1+j, j), updated incrementally
    for j in 0..n_half {
        if j > 0 {
            binom *= (n_half - 1 + j) as f64 / j as f64;
        }
        sum += binom * (2.0 + beta).powi(-((n_half + j) as i32));
    }
    2.0 * sum
}

/// Pfa of GO-CFAR: `n` cells per half, threshold `alpha * max(half means)`.
///
/// `exp(-b max) + exp(-b min) = exp(-b X) + exp(-b Y)`, so
/// `Pfa_GO = 2 (1+beta)^-n - Pfa_SO`.
pub fn pfa_go(n_half: usize, alpha: f64) -> f64 {
    let beta = alpha / n_half as f64;
    2.0 * (1.0 + beta).powi(-(n_half as i32)) - pfa_so(n_half, alpha)
}

/// Pfa of OS-CFAR, `k`-th smallest of `n` (Richards 6.167-6.168):
/// `prod_{i=0}^{k-1} (n - i) / (n - i + alpha)`, exact for real `alpha`.
pub fn pfa_os(n: usize, k: usize, alpha: f64) -> f64 {
    (0..k)
        .map(|i| (n - i) as f64 / ((n - i) as f64 + alpha))
        .product()
}

/// Default OS order: `round(3N/4)`, clamped to `1..=N`.
pub fn default_os_k(n: usize) -> usize {
    ((3 * n + 2) / 4).clamp(1, n.max(1))
}

/// Expected `k`-th order statistic of `n` unit-mean exponentials:
/// `sum_{i=n-k+1}^{n} 1/i`. Dividing the OS statistic by this gives an
/// unbiased noise-power estimate (used for `snr_db`).
pub fn os_noise_scale(n: usize, k: usize) -> f64 {
    ((n - k + 1)..=n).map(|i| 1.0 / i as f64).sum()
}

/// Threshold multiplier `alpha` for `kind` with `n` reference cells (and order
/// `k` for OS) that gives false-alarm probability `pfa` on homogeneous noise.
///
/// CA has the closed form `alpha = N (Pfa^(-1/N) - 1)` (Richards 6.135); the
/// others are solved by bisection on their (monotone decreasing) Pfa(alpha),
/// to a relative precision of 1e-12.
pub fn alpha(kind: CfarKind, n: usize, k: usize, pfa: f64) -> Result<f64, CfarError> {
    if !(pfa > 0.0 && pfa < 1.0) {
        return Err(CfarError::Pfa(pfa));
    }
    if n == 0 {
        return Err(CfarError::Cells(
            "CFAR needs at least one reference cell".into(),
        ));
    }
    let pfa_of: Box<dyn Fn(f64) -> f64> = match kind {
        CfarKind::Ca => return Ok(n as f64 * (pfa.powf(-1.0 / n as f64) - 1.0)),
        CfarKind::Go | CfarKind::So if !n.is_multiple_of(2) => {
            return Err(CfarError::Cells(format!(
                "{kind}-CFAR needs an even number of reference cells, got {n}"
            )));
        }
        CfarKind::Go => Box::new(move |a| pfa_go(n / 2, a)),
        CfarKind::So => Box::new(move |a| pfa_so(n / 2, a)),
        CfarKind::Os => {
            if k == 0 || k > n {
                return Err(CfarError::Cells(format!(
                    "OS-CFAR order k must be in 1..={n}, got {k}"
                )));
            }
            Box::new(move |a| pfa_os(n, k, a))
        }
    };
    // Bracket: Pfa(0) = 1 > pfa; grow the upper end until Pfa < pfa.
    let (mut lo, mut hi) = (0.0_f64, 1.0_f64);
    while pfa_of(hi) > pfa {
        hi *= 2.0;
        if hi > 1e300 {
            return Err(CfarError::Cells(format!(
                "{kind}-CFAR with {n} cells cannot reach Pfa {pfa}"
            )));
        }
    }
    while hi - lo > 1e-12 * hi {
        let mid = 0.5 * (lo + hi);
        if pfa_of(mid) > pfa {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Ok(0.5 * (lo + hi))
}

/// Probability of detection of a Swerling-1 target of mean SNR `snr` (linear)
/// by CA-CFAR with `n` cells and multiplier `alpha` (Richards 6.137).
pub fn pd_swerling1_ca(n: usize, alpha: f64, snr: f64) -> f64 {
    (1.0 + alpha / (n as f64 * (1.0 + snr))).powi(-(n as i32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ca_check_values_from_detection_theory() {
        // detection-theory.md: Pfa = 1e-6 gives 21.94 (N=16), 18.68 (N=24), 17.28 (N=32).
        let a16 = alpha(CfarKind::Ca, 16, 0, 1e-6).unwrap();
        assert!((a16 - 21.94).abs() < 0.01, "{a16}");
        assert!((10.0 * a16.log10() - 13.41).abs() < 0.01);
        assert!((alpha(CfarKind::Ca, 24, 0, 1e-6).unwrap() - 18.68).abs() < 0.01);
        assert!((alpha(CfarKind::Ca, 32, 0, 1e-6).unwrap() - 17.28).abs() < 0.01);
        // Pd of a Swerling-1 target at 20 dB, N = 16: 0.806.
        assert!((pd_swerling1_ca(16, a16, 100.0) - 0.806).abs() < 0.001);
        // Round trip through the Pfa formula.
        assert!((pfa_ca(16, a16) / 1e-6 - 1.0).abs() < 1e-9);
    }

    #[test]
    fn os_check_value_from_detection_theory() {
        // N = 20, k = 15, alpha = 6.857 gives Pfa ~ 1.0e-3.
        let p = pfa_os(20, 15, 6.857);
        assert!((p / 1e-3 - 1.0).abs() < 0.01, "{p}");
        let a = alpha(CfarKind::Os, 20, 15, 1e-3).unwrap();
        assert!((a - 6.857).abs() < 0.01, "{a}");
    }

    #[test]
    fn go_so_reduce_to_hand_results_for_one_cell_per_half() {
        // n = 1: min of two unit exponentials is Exp(2), so E[exp(-b min)] = 2/(2+b);
        // max: 2/(1+b) - 2/(2+b).
        let b: f64 = 3.0;
        assert!((pfa_so(1, b) - 2.0 / (2.0 + b)).abs() < 1e-15);
        assert!((pfa_go(1, b) - (2.0 / (1.0 + b) - 2.0 / (2.0 + b))).abs() < 1e-15);
    }

    #[test]
    fn go_so_bracket_ca() {
        // For the same Pfa, GO needs a lower multiplier on its (larger)
        // statistic than CA on the mean, SO a higher one.
        let ca = alpha(CfarKind::Ca, 24, 0, 1e-6).unwrap();
        let go = alpha(CfarKind::Go, 24, 0, 1e-6).unwrap();
        let so = alpha(CfarKind::So, 24, 0, 1e-6).unwrap();
        assert!(go < ca && ca < so, "{go} {ca} {so}");
        assert!((pfa_go(12, go) / 1e-6 - 1.0).abs() < 1e-6);
        assert!((pfa_so(12, so) / 1e-6 - 1.0).abs() < 1e-6);
    }

    /// Monte Carlo check of the GO/SO/OS formulas on exponential noise,
    /// independent of the closed forms above (a small LCG, no external RNG).
    #[test]
    fn pfa_formulas_agree_with_monte_carlo() {
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut uniform = move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((state >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        };
        let n = 8;
        let trials = 400_000;
        let target = 1e-2;
        let kinds = [CfarKind::Ca, CfarKind::Go, CfarKind::So, CfarKind::Os];
        let alphas: Vec<f64> = kinds
            .iter()
            .map(|&k| alpha(k, n, 6, target).unwrap())
            .collect();
        let mut hits = [0u32; 4];
        let mut cells = vec![0.0f64; n];
        for _ in 0..trials {
            for c in cells.iter_mut() {
                *c = -uniform().ln();
            }
            let cut = -uniform().ln();
            let lead = cells[..n / 2].iter().sum::<f64>() / (n / 2) as f64;
            let lag = cells[n / 2..].iter().sum::<f64>() / (n / 2) as f64;
            let mut sorted = cells.clone();
            sorted.sort_by(f64::total_cmp);
            let stats = [(lead + lag) / 2.0, lead.max(lag), lead.min(lag), sorted[5]];
            for i in 0..4 {
                if cut > alphas[i] * stats[i] {
                    hits[i] += 1;
                }
            }
        }
        // Binomial std of the count: sqrt(trials * p) ~ 63; allow 5 sigma.
        let sigma = (trials as f64 * target).sqrt();
        for i in 0..4 {
            let dev = (hits[i] as f64 - trials as f64 * target).abs();
            assert!(dev < 5.0 * sigma, "{:?}: {} hits", kinds[i], hits[i]);
        }
    }

    #[test]
    fn bad_parameters_are_errors_not_panics() {
        assert!(alpha(CfarKind::Ca, 16, 0, 0.0).is_err());
        assert!(alpha(CfarKind::Ca, 16, 0, 1.5).is_err());
        assert!(alpha(CfarKind::Ca, 16, 0, f64::NAN).is_err());
        assert!(alpha(CfarKind::Go, 15, 0, 1e-6).is_err());
        assert!(alpha(CfarKind::Os, 16, 17, 1e-6).is_err());
        assert!(alpha(CfarKind::Os, 16, 0, 1e-6).is_err());
        assert!(alpha(CfarKind::Ca, 0, 0, 1e-6).is_err());
        assert_eq!(default_os_k(24), 18);
        assert!((os_noise_scale(1, 1) - 1.0).abs() < 1e-15);
    }
}
