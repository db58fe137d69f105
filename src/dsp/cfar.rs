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
//!
//! Correlated reference cells (tapered replica, Doppler window): see
//! [`CellCorrelation`], [`effective_reference_cells`], [`alpha_effective`]
//! and [`alpha_monte_carlo`].

use rustfft::num_complex::{Complex32, Complex64};
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
    /// Case-insensitive (`OS` is `os`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "ca" => Ok(CfarKind::Ca),
            "go" => Ok(CfarKind::Go),
            "so" => Ok(CfarKind::So),
            "os" => Ok(CfarKind::Os),
            _ => Err(format!("unknown CFAR \"{s}\" (expected ca, go, so or os)")),
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
    solve_alpha(&*pfa_of, pfa, &format!("{kind}-CFAR with {n} cells"))
}

/// Solves `pfa_of(alpha) = pfa` for a monotone decreasing `pfa_of` with
/// `pfa_of(0) = 1`, by bisection to a relative precision of 1e-12.
fn solve_alpha(pfa_of: &dyn Fn(f64) -> f64, pfa: f64, what: &str) -> Result<f64, CfarError> {
    let (mut lo, mut hi) = (0.0_f64, 1.0_f64);
    while pfa_of(hi) > pfa {
        hi *= 2.0;
        if hi > 1e300 {
            return Err(CfarError::Cells(format!("{what} cannot reach Pfa {pfa}")));
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

// ---------------------------------------------------------------------------
// Correlated reference cells.
//
// After pulse compression with the tapered replica `s_w` and a Doppler DFT
// with window `w`, white input noise gives map cells whose complex
// correlation at offset (dr range bins, dd Doppler bins) is separable:
// `rho(dr, dd) = rho_r(dr) rho_d(dd)` with
// `rho_r(k) = sum_l s_w[l+k] conj(s_w[l]) / sum |s_w|^2` and
// `rho_d(k) = sum_m w[m]^2 exp(-j 2 pi k m / P) / sum w^2`. The powers of two
// cells then correlate as `|rho|^2`, so the sum `S` of `N` unit-mean
// reference powers has mean `N` and variance `sum_ij |rho_ij|^2`. Matching a
// Gamma to those two moments gives shape
// `N_eff = N^2 / sum_ij |rho_ij|^2` (`= N` for independent cells, 1 for
// fully correlated ones), and the CA / GO / SO formulas hold with `N_eff`
// (per half for GO / SO) in place of `N`.
// ---------------------------------------------------------------------------

/// Complex correlation between map cells, separable in range and Doppler.
#[derive(Debug, Clone, PartialEq)]
pub struct CellCorrelation {
    /// `rho_r(k)`, `k = 0 .. L-1` (zero beyond; `rho_r(-k) = conj(rho_r(k))`).
    pub range: Vec<Complex64>,
    /// `rho_d(k)`, `k = 0 .. P-1`, circular in `k`.
    pub doppler: Vec<Complex64>,
}

/// Off-lag-zero correlations below this are taken as round-off (the DFT of
/// a rectangular window leaves ~1e-16 at the non-zero lags).
const WHITE_TOL: f64 = 1e-12;

impl CellCorrelation {
    /// Correlation after a matched filter with the tapered `replica` and a
    /// Doppler DFT with `doppler_window` (computed in f64).
    pub fn new(replica: &[Complex32], doppler_window: &[f32]) -> Self {
        let s: Vec<Complex64> = replica
            .iter()
            .map(|z| Complex64::new(z.re as f64, z.im as f64))
            .collect();
        let energy: f64 = s.iter().map(|z| z.norm_sqr()).sum();
        let mut range: Vec<Complex64> = (0..s.len())
            .map(|k| {
                let acc: Complex64 = (0..s.len() - k).map(|l| s[l + k] * s[l].conj()).sum();
                acc / energy
            })
            .collect();
        let p = doppler_window.len();
        let w2: Vec<f64> = doppler_window.iter().map(|&w| (w as f64).powi(2)).collect();
        let sum_w2: f64 = w2.iter().sum();
        let mut doppler: Vec<Complex64> = (0..p)
            .map(|k| {
                let acc: Complex64 = w2
                    .iter()
                    .enumerate()
                    .map(|(m, &v)| {
                        let ph = -2.0 * std::f64::consts::PI * ((k * m) % p) as f64 / p as f64;
                        Complex64::from_polar(v, ph)
                    })
                    .sum();
                acc / sum_w2
            })
            .collect();
        // Lag zero is 1 by definition; do not leave it to round-off.
        for v in [&mut range, &mut doppler] {
            if let Some(z) = v.first_mut() {
                *z = Complex64::new(1.0, 0.0);
            }
        }
        CellCorrelation { range, doppler }
    }

    /// Independent cells (`rho = delta`) on a map of `pulses` Doppler bins.
    pub fn white(pulses: usize) -> Self {
        let mut doppler = vec![Complex64::new(0.0, 0.0); pulses.max(1)];
        doppler[0] = Complex64::new(1.0, 0.0);
        CellCorrelation {
            range: vec![Complex64::new(1.0, 0.0)],
            doppler,
        }
    }

    /// `E[y(r+dr, d+dd) conj(y(r, d))]` for unit-power cells.
    pub fn rho(&self, dr: isize, dd: isize) -> Complex64 {
        let k = dr.unsigned_abs();
        let r = match self.range.get(k) {
            Some(&z) if dr >= 0 => z,
            Some(&z) => z.conj(),
            None => return Complex64::new(0.0, 0.0),
        };
        let p = self.doppler.len() as isize;
        r * self.doppler[dd.rem_euclid(p) as usize]
    }

    /// True when every non-zero lag is zero to round-off, i.e. distinct
    /// cells are independent and the textbook formulas are exact.
    pub fn is_white(&self) -> bool {
        self.range[1..]
            .iter()
            .chain(&self.doppler[1..])
            .all(|z| z.norm() < WHITE_TOL)
    }
}

/// Effective number of independent reference cells, `N^2 / sum_ij |rho_ij|^2`,
/// for the cells at offsets `cells` (range, Doppler) from the cell under test.
/// Equals `N` exactly when the cells are independent, 1 when they are all
/// fully correlated.
pub fn effective_reference_cells(corr: &CellCorrelation, cells: &[(isize, isize)]) -> f64 {
    let n = cells.len() as f64;
    let mut sum = 0.0;
    for &(ri, di) in cells {
        for &(rj, dj) in cells {
            let rho = corr.rho(ri - rj, di - dj);
            // The diagonal is exactly 1 (rho(0, 0) = 1); keep it exact.
            sum += if (ri, di) == (rj, dj) {
                1.0
            } else {
                rho.norm_sqr()
            };
        }
    }
    n * n / sum
}

/// `ln Gamma(x)` for `x > 0` (Lanczos, g = 7, 9 terms; ~1e-15 relative).
pub fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection.
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = C[0];
    let t = x + G + 0.5;
    for (i, &c) in C.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// Regularized incomplete beta `I_x(a, b)` (continued fraction, modified
/// Lentz; Numerical Recipes 6.4), relative precision ~1e-14.
pub fn incomplete_beta(x: f64, a: f64, b: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let ln_front = ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln();
    if x < (a + 1.0) / (a + b + 2.0) {
        ln_front.exp() * beta_cf(x, a, b) / a
    } else {
        1.0 - ln_front.exp() * beta_cf(1.0 - x, b, a) / b
    }
}

fn beta_cf(x: f64, a: f64, b: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..10_000 {
        let m = m as f64;
        let m2 = 2.0 * m;
        let aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 + aa * d;
        d = if d.abs() < TINY { TINY } else { d };
        c = 1.0 + aa / c;
        c = if c.abs() < TINY { TINY } else { c };
        d = 1.0 / d;
        h *= d * c;
        let aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 + aa * d;
        d = if d.abs() < TINY { TINY } else { d };
        c = 1.0 + aa / c;
        c = if c.abs() < TINY { TINY } else { c };
        d = 1.0 / d;
        let del = d * c;
        h *= del;
        if (del - 1.0).abs() < 1e-15 {
            break;
        }
    }
    h
}

/// Pfa of CA-CFAR when the reference sum is Gamma with real shape `nu`
/// (`nu = N` for independent cells): `(1 + alpha/nu)^-nu`.
pub fn pfa_ca_gamma(nu: f64, alpha: f64) -> f64 {
    (-nu * (alpha / nu).ln_1p()).exp()
}

/// Pfa of SO-CFAR when each half mean is Gamma with real shape `nu` (mean 1)
/// and the halves are independent. With `X, Y` the half sums,
/// `T = X/(X+Y) ~ Beta(nu, nu)` is independent of `X+Y ~ Gamma(2 nu)`, so
/// `Pfa = 2 E[(1 + beta T)^(-2 nu); T < 1/2]`, `beta = alpha/nu`; the
/// substitution `u = t(1+beta)/(1+beta t)` makes this
/// `2 (1+beta)^-nu I_x(nu, nu)` with `x = (1+beta)/(2+beta)`.
/// Equals [`pfa_so`] for integer `nu`.
pub fn pfa_so_gamma(nu: f64, alpha: f64) -> f64 {
    let beta = alpha / nu;
    2.0 * pfa_ca_gamma(nu, alpha) * incomplete_beta((1.0 + beta) / (2.0 + beta), nu, nu)
}

/// Pfa of GO-CFAR for Gamma(`nu`) halves: the complement of [`pfa_so_gamma`],
/// `2 (1+beta)^-nu I_{1/(2+beta)}(nu, nu)`. Equals [`pfa_go`] for integer `nu`.
pub fn pfa_go_gamma(nu: f64, alpha: f64) -> f64 {
    let beta = alpha / nu;
    2.0 * pfa_ca_gamma(nu, alpha) * incomplete_beta(1.0 / (2.0 + beta), nu, nu)
}

/// Threshold multiplier for CA / GO / SO with correlated reference cells:
/// the CA formula with `n_eff` (effective cells of the whole window) or the
/// GO / SO formulas with `n_half_eff` (effective cells of one half) in place
/// of the cell counts. Pass `n_eff = N`, `n_half_eff = N/2` for independent
/// cells (then this equals [`alpha`] to ~1e-12). OS is not a Gamma
/// statistic: use [`alpha_monte_carlo`]. The Gamma fit is an approximation:
/// its lower tail is heavier than the real one's, so alpha comes out high
/// (on the demo radar, measured Pfa x0.80 for CA and x0.54 for SO at 1e-4).
pub fn alpha_effective(
    kind: CfarKind,
    n_eff: f64,
    n_half_eff: f64,
    pfa: f64,
) -> Result<f64, CfarError> {
    if !(pfa > 0.0 && pfa < 1.0) {
        return Err(CfarError::Pfa(pfa));
    }
    let nu = match kind {
        CfarKind::Ca => n_eff,
        _ => n_half_eff,
    };
    if !(nu >= 1.0 - 1e-9 && nu.is_finite()) {
        return Err(CfarError::Cells(format!(
            "effective reference cells must be >= 1, got {nu}"
        )));
    }
    match kind {
        CfarKind::Ca => Ok(nu * (pfa.powf(-1.0 / nu) - 1.0)),
        CfarKind::Go => solve_alpha(&|a| pfa_go_gamma(nu, a), pfa, "GO-CFAR"),
        CfarKind::So => solve_alpha(&|a| pfa_so_gamma(nu, a), pfa, "SO-CFAR"),
        CfarKind::Os => Err(CfarError::Cells(
            "OS-CFAR has no effective-cells formula; use alpha_monte_carlo".into(),
        )),
    }
}

/// Size and seed of the Monte Carlo of [`alpha_monte_carlo`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct McDraws {
    /// Number of draws of the reference window.
    pub samples: usize,
    /// ChaCha8 seed.
    pub seed: u64,
}

/// Result of [`alpha_monte_carlo`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct McCalibration {
    /// Threshold multiplier on the variant's statistic.
    pub alpha: f64,
    /// Mean of the statistic for unit-mean cells (for OS, the correlated
    /// counterpart of [`os_noise_scale`]).
    pub noise_scale: f64,
}

/// CFAR multiplier for correlated reference cells by a seeded Monte Carlo.
///
/// Correlated order statistics have no closed form, and the Gamma fit of
/// [`alpha_effective`] is only a two-moment approximation. The reference
/// cells at `lead` then `lag` (the two halves for GO / SO; for OS and CA only
/// their union matters, and `lag` may be empty) are jointly circular complex
/// Gaussian with covariance `C_ij = rho(cells_i - cells_j)` (exact for white
/// noise through the chain, away from the range edges); `samples` draws of
/// `z = L w` (`C = L L^H` Cholesky, `w` white, ChaCha8 seeded with `seed`)
/// give the statistic `Z_m` of each draw: the mean (CA), the larger / smaller
/// half mean (GO / SO) or the k-th smallest power (OS). The cell under test
/// is Exp(1) and (nearly) independent of its reference cells (on the demo
/// radar `|rho|^2 < 1e-5` to every one), so conditionally
/// `Pfa(alpha) = E[exp(-alpha Z)]`, estimated by `mean_m exp(-alpha Z_m)`: a
/// smooth, monotone function of alpha with far less variance than counting
/// crossings, solved by bisection. Deterministic for a given seed.
pub fn alpha_monte_carlo(
    kind: CfarKind,
    corr: &CellCorrelation,
    lead: &[(isize, isize)],
    lag: &[(isize, isize)],
    k: usize,
    pfa: f64,
    draws: McDraws,
) -> Result<McCalibration, CfarError> {
    let McDraws { samples, seed } = draws;
    use rand::{RngExt, SeedableRng};
    if !(pfa > 0.0 && pfa < 1.0) {
        return Err(CfarError::Pfa(pfa));
    }
    let cells: Vec<(isize, isize)> = lead.iter().chain(lag).copied().collect();
    let (n, n_lead) = (cells.len(), lead.len());
    let halves = matches!(kind, CfarKind::Go | CfarKind::So);
    if n == 0 || (halves && (n_lead == 0 || lag.is_empty())) {
        return Err(CfarError::Cells(format!(
            "{kind}-CFAR needs reference cells (in both halves for GO / SO)"
        )));
    }
    if kind == CfarKind::Os && (k == 0 || k > n) {
        return Err(CfarError::Cells(format!(
            "OS-CFAR order k must be in 1..={n}, got {k}"
        )));
    }
    // Cholesky of the (positive semi-definite) covariance; a non-positive
    // pivot (a cell fully determined by earlier ones) gets a zero column.
    let cov = |i: usize, j: usize| {
        let (a, b) = (cells[i], cells[j]);
        if i == j {
            Complex64::new(1.0, 0.0)
        } else {
            corr.rho(a.0 - b.0, a.1 - b.1)
        }
    };
    let mut l = vec![Complex64::new(0.0, 0.0); n * n];
    for j in 0..n {
        let d = cov(j, j).re - (0..j).map(|q| l[j * n + q].norm_sqr()).sum::<f64>();
        if d <= 1e-12 {
            continue;
        }
        let ljj = d.sqrt();
        l[j * n + j] = Complex64::new(ljj, 0.0);
        for i in j + 1..n {
            let s: Complex64 = (0..j).map(|q| l[i * n + q] * l[j * n + q].conj()).sum();
            l[i * n + j] = (cov(i, j) - s) / ljj;
        }
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let amp = 0.5f64.sqrt();
    let mut w = vec![Complex64::new(0.0, 0.0); n];
    let mut pow = vec![0.0f64; n];
    let mut z: Vec<f64> = Vec::with_capacity(samples);
    for _ in 0..samples {
        for v in w.iter_mut() {
            let re: f64 = rng.sample(rand_distr::StandardNormal);
            let im: f64 = rng.sample(rand_distr::StandardNormal);
            *v = Complex64::new(amp * re, amp * im);
        }
        for (i, p) in pow.iter_mut().enumerate() {
            let row = &l[i * n..i * n + i + 1];
            let y: Complex64 = row.iter().zip(&w).map(|(a, b)| a * b).sum();
            *p = y.norm_sqr();
        }
        let lead_mean = pow[..n_lead].iter().sum::<f64>() / n_lead as f64;
        let lag_mean = pow[n_lead..].iter().sum::<f64>() / (n - n_lead) as f64;
        z.push(match kind {
            CfarKind::Ca => pow.iter().sum::<f64>() / n as f64,
            CfarKind::Go => lead_mean.max(lag_mean),
            CfarKind::So => lead_mean.min(lag_mean),
            CfarKind::Os => *pow.select_nth_unstable_by(k - 1, f64::total_cmp).1,
        });
    }
    // Smallest first: the terms that matter most are summed first.
    z.sort_by(f64::total_cmp);
    let m = samples as f64;
    let alpha = solve_alpha(
        &|a| z.iter().map(|&v| (-a * v).exp()).sum::<f64>() / m,
        pfa,
        &format!("{kind}-CFAR"),
    )?;
    let noise_scale = z.iter().sum::<f64>() / m;
    Ok(McCalibration { alpha, noise_scale })
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

    /// Uniform deviates in (0, 1) from a 64-bit LCG (Knuth's MMIX constants):
    /// a fixed, dependency-free source for the Monte Carlo checks.
    fn lcg_uniform(seed: u64) -> impl FnMut() -> f64 {
        let mut state = seed;
        move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((state >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        }
    }

    /// Monte Carlo check of the GO/SO/OS formulas on exponential noise,
    /// independent of the closed forms above (a small LCG, no external RNG).
    #[test]
    fn pfa_formulas_agree_with_monte_carlo() {
        let mut uniform = lcg_uniform(0x9E37_79B9_7F4A_7C15);
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

    #[test]
    fn effective_cells_equal_n_for_independent_cells() {
        let cells: Vec<(isize, isize)> = (1..=8)
            .flat_map(|i| [(-3 - i, 0), (3 + i, 0)])
            .chain((1..=4).flat_map(|i| [(0, -2 - i), (0, 2 + i)]))
            .collect();
        assert_eq!(
            effective_reference_cells(&CellCorrelation::white(64), &cells),
            24.0
        );
        // No taper, one-sample rect pulse, rectangular Doppler window: white
        // to round-off, and N_eff is exactly N.
        let c = CellCorrelation::new(&[Complex32::new(1.0, 0.0)], &[1.0; 64]);
        assert!(c.is_white());
        assert_eq!(effective_reference_cells(&c, &cells), 24.0);
    }

    #[test]
    fn effective_cells_hand_cases() {
        // Adjacent range bins fully correlated (rho_r(1) = 1): each pair of
        // neighbours counts once.
        let c = CellCorrelation {
            range: vec![Complex64::new(1.0, 0.0), Complex64::new(0.0, 1.0)],
            doppler: vec![Complex64::new(1.0, 0.0)],
        };
        assert!((effective_reference_cells(&c, &[(0, 0), (1, 0)]) - 1.0).abs() < 1e-15);
        let two_pairs = [(0, 0), (1, 0), (10, 0), (11, 0)];
        assert!((effective_reference_cells(&c, &two_pairs) - 2.0).abs() < 1e-15);
        // Two cells with |rho| = 1/2: N_eff = 4 / (2 + 2/4) = 1.6.
        let c = CellCorrelation {
            range: vec![Complex64::new(1.0, 0.0), Complex64::new(0.5, 0.0)],
            doppler: vec![Complex64::new(1.0, 0.0)],
        };
        assert!((effective_reference_cells(&c, &[(0, 0), (-1, 0)]) - 1.6).abs() < 1e-15);
    }

    #[test]
    fn periodic_hann_doppler_correlation() {
        // w^2 = 3/8 - cos(x)/2 + cos(2x)/8: rho_d = 1, -2/3, 1/6, 0, ...
        let p = 64;
        let w: Vec<f32> = (0..p)
            .map(|m| (0.5 - 0.5 * (std::f64::consts::TAU * m as f64 / p as f64).cos()) as f32)
            .collect();
        let c = CellCorrelation::new(&[Complex32::new(1.0, 0.0)], &w);
        assert!(!c.is_white());
        for (k, want) in [
            (1isize, -2.0 / 3.0),
            (2, 1.0 / 6.0),
            (3, 0.0),
            (-1, -2.0 / 3.0),
        ] {
            let got = c.rho(0, k);
            assert!(
                (got.re - want).abs() < 1e-6 && got.im.abs() < 1e-6,
                "{k}: {got}"
            );
        }
        // Range offsets beyond the replica are uncorrelated.
        assert_eq!(c.rho(1, 0), Complex64::new(0.0, 0.0));
    }

    #[test]
    fn incomplete_beta_hand_values() {
        for x in [0.01, 0.3, 0.5, 0.77, 0.999] {
            assert!((incomplete_beta(x, 1.0, 1.0) - x).abs() < 1e-13);
            let i22 = 3.0 * x * x - 2.0 * x * x * x;
            assert!((incomplete_beta(x, 2.0, 2.0) - i22).abs() < 1e-13);
            // Symmetry I_x(a, b) = 1 - I_{1-x}(b, a).
            let (a, b) = (7.3, 2.6);
            let s = incomplete_beta(x, a, b) + incomplete_beta(1.0 - x, b, a);
            assert!((s - 1.0).abs() < 1e-13);
        }
        assert!((ln_gamma(10.0) - 362_880f64.ln()).abs() < 1e-12);
        assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-13);
    }

    #[test]
    fn gamma_go_so_equal_the_integer_closed_forms() {
        for n in 1..=16usize {
            for a in [0.5, 3.0, 17.0, 60.0] {
                let (so, go) = (pfa_so(n, a), pfa_go(n, a));
                assert!(
                    (pfa_so_gamma(n as f64, a) / so - 1.0).abs() < 1e-10,
                    "{n} {a}"
                );
                assert!(
                    (pfa_go_gamma(n as f64, a) / go - 1.0).abs() < 1e-9,
                    "{n} {a}"
                );
                assert!((pfa_ca_gamma(n as f64, a) / pfa_ca(n, a) - 1.0).abs() < 1e-12);
            }
        }
        for kind in [CfarKind::Ca, CfarKind::Go, CfarKind::So] {
            for pfa in [1e-3, 1e-6] {
                let textbook = alpha(kind, 24, 0, pfa).unwrap();
                let eff = alpha_effective(kind, 24.0, 12.0, pfa).unwrap();
                assert!((eff / textbook - 1.0).abs() < 1e-9, "{kind} {pfa}");
            }
        }
        // Fewer effective cells need a higher multiplier.
        let a24 = alpha_effective(CfarKind::Ca, 24.0, 12.0, 1e-6).unwrap();
        let a10 = alpha_effective(CfarKind::Ca, 10.5, 5.2, 1e-6).unwrap();
        assert!(a10 > a24);
        assert!(alpha_effective(CfarKind::Os, 24.0, 12.0, 1e-6).is_err());
        assert!(alpha_effective(CfarKind::Ca, 0.5, 0.5, 1e-6).is_err());
    }

    /// Monte Carlo of the real-shape GO/SO formulas: halves that are sums of
    /// fully correlated pairs are Gamma(n/2) exactly.
    #[test]
    fn gamma_go_so_agree_with_monte_carlo_of_correlated_halves() {
        let mut uniform = lcg_uniform(0x2545_F491_4F6C_DD1D);
        // Each half: 3 independent exponentials, each counted twice (6 cells,
        // N_eff = 3); mean of the half = sum / 3.
        let trials = 400_000;
        let target = 1e-2;
        let a_go = alpha_effective(CfarKind::Go, 6.0, 3.0, target).unwrap();
        let a_so = alpha_effective(CfarKind::So, 6.0, 3.0, target).unwrap();
        let (mut go, mut so) = (0u32, 0u32);
        for _ in 0..trials {
            let lead: f64 = (0..3).map(|_| -uniform().ln()).sum::<f64>() / 3.0;
            let lag: f64 = (0..3).map(|_| -uniform().ln()).sum::<f64>() / 3.0;
            let cut = -uniform().ln();
            go += (cut > a_go * lead.max(lag)) as u32;
            so += (cut > a_so * lead.min(lag)) as u32;
        }
        let sigma = (trials as f64 * target).sqrt();
        for hits in [go, so] {
            assert!(
                (hits as f64 - trials as f64 * target).abs() < 5.0 * sigma,
                "{hits}"
            );
        }
    }

    #[test]
    fn monte_carlo_reproduces_the_independent_formulas() {
        let cells: Vec<(isize, isize)> = (0..24).map(|i| (10 * i, 0)).collect();
        let (lead, lag) = cells.split_at(12);
        let white = CellCorrelation::white(64);
        let draws = McDraws {
            samples: 20_000,
            seed: 1,
        };
        for kind in [CfarKind::Ca, CfarKind::Go, CfarKind::So, CfarKind::Os] {
            for pfa in [1e-3, 1e-6] {
                let exact = alpha(kind, 24, 18, pfa).unwrap();
                let mc = alpha_monte_carlo(kind, &white, lead, lag, 18, pfa, draws).unwrap();
                // Seed-to-seed spread of alpha is well under 1 % at 1e-3 and
                // a few % at 1e-6 (most for SO).
                let tol = if pfa < 1e-4 { 0.06 } else { 0.02 };
                assert!(
                    (mc.alpha / exact - 1.0).abs() < tol,
                    "{kind} {pfa}: {} vs {exact}",
                    mc.alpha
                );
                if kind == CfarKind::Os {
                    assert!((mc.noise_scale / os_noise_scale(24, 18) - 1.0).abs() < 0.01);
                }
                // Deterministic.
                let again = alpha_monte_carlo(kind, &white, lead, lag, 18, pfa, draws).unwrap();
                assert_eq!(mc, again);
            }
        }
        // Fully correlated cells: Z is one Exp(1), Pfa = 1 / (1 + alpha).
        let c = CellCorrelation {
            range: vec![Complex64::new(1.0, 0.0); 30],
            doppler: vec![Complex64::new(1.0, 0.0)],
        };
        let cells: Vec<(isize, isize)> = (0..24).map(|i| (i, 0)).collect();
        let mc = alpha_monte_carlo(
            CfarKind::Os,
            &c,
            &cells,
            &[],
            18,
            1e-2,
            McDraws {
                samples: 20_000,
                seed: 1,
            },
        )
        .unwrap();
        assert!((mc.alpha / 99.0 - 1.0).abs() < 0.05, "{}", mc.alpha);
    }
}
