//! The processing recipe: plain data computed once from the radar parameters
//! and the user's options, inspected by tests, shared by every backend.

use crate::dsp::cfar::{self, CfarKind};
use crate::dsp::waveform::replica;
use crate::dsp::window::Window;
use crate::process::ProcessError;
use crate::radar::RadarParams;
use rustfft::num_complex::Complex32;
use serde::Serialize;

/// Shape of the 2-D CFAR reference window: a cross centred on the cell under
/// test, `train_range` cells each side in range beyond `guard_range` guard
/// cells (same Doppler bin), and `train_doppler` cells each side in Doppler
/// beyond `guard_doppler` (same range bin). `N = 2*train_range + 2*train_doppler`.
///
/// Why a cross and not a rectangle: it keeps `N` modest for OS-CFAR's
/// per-cell sort, and it is cheap on both CPU and GPU. Its cells are not
/// independent once the replica or the pulses are tapered (neighbouring
/// range bins and Doppler bins correlate); [`ChainPlan::new`] sets alpha for
/// the actual correlation (see [`ChainPlan::effective_reference_cells`]).
///
/// Edge rule: Doppler is circular (the DFT is periodic), so Doppler training
/// cells wrap around. Range is not: a cell whose range window would leave the
/// map is not tested at all (and not counted in `cells_tested`), so every
/// test that is made has its full `N` cells and the stated Pfa.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CfarWindow {
    /// Training cells on each side in range.
    pub train_range: usize,
    /// Guard cells on each side in range.
    pub guard_range: usize,
    /// Training cells on each side in Doppler.
    pub train_doppler: usize,
    /// Guard cells on each side in Doppler.
    pub guard_doppler: usize,
}

impl Default for CfarWindow {
    fn default() -> Self {
        CfarWindow {
            train_range: 8,
            guard_range: 3,
            train_doppler: 4,
            guard_doppler: 2,
        }
    }
}

impl CfarWindow {
    /// Number of reference cells `N`.
    pub fn reference_cells(&self) -> usize {
        2 * (self.train_range + self.train_doppler)
    }
    /// Range bins at each edge that are not tested.
    pub fn range_margin(&self) -> usize {
        self.train_range + self.guard_range
    }
    /// Offsets `(range, Doppler)` from the cell under test of the leading
    /// half's reference cells (lower range, lower Doppler), nearest first.
    pub fn lead_cells(&self) -> Vec<(isize, isize)> {
        let (gr, gd) = (self.guard_range as isize, self.guard_doppler as isize);
        (1..=self.train_range as isize)
            .map(|i| (-gr - i, 0))
            .chain((1..=self.train_doppler as isize).map(|i| (0, -gd - i)))
            .collect()
    }
    /// Offsets of the lagging half's reference cells (mirror of the lead).
    pub fn lag_cells(&self) -> Vec<(isize, isize)> {
        self.lead_cells().iter().map(|&(r, d)| (-r, -d)).collect()
    }
}

/// Monte Carlo draws of the correlated reference window for alpha (~30 ms,
/// one core, release build, N = 24). Seed-to-seed spread of alpha on the demo
/// radar at Pfa 1e-6: 1.3 % CA, 0.9 % GO, 3 % OS, 8 % SO (SO depends on the
/// rare draws where one half is small); at 1e-3 .. 1e-4 it is well under 1 %.
const MONTE_CARLO_SAMPLES: usize = 20_000;
/// Fixed seed: the same configuration always gives the same alpha.
const MONTE_CARLO_SEED: u64 = 0x05CF_A12C_0FFE_E000;

/// The options a user chooses.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProcessConfig {
    /// CFAR variant. Default OS: CA and GO mask a target that lies in
    /// another's reference cells (two objects a few cells apart, e.g. a
    /// booster and its re-entry vehicle after separation); OS and SO do not
    /// (tests/targets.rs), and OS also holds its Pfa at clutter edges better
    /// than SO.
    pub cfar: CfarKind,
    /// Requested false-alarm probability per cell tested.
    pub pfa: f64,
    /// CFAR reference window.
    pub window: CfarWindow,
    /// OS-CFAR order `k` (1-based); `None` = `round(3N/4)`.
    pub os_k: Option<usize>,
    /// Taper on the range replica (symmetric). Default Hamming: -43 dB range
    /// sidelobes, so a strong target's sidelobes do not become plots.
    pub range_window: Window,
    /// Window across pulses before the Doppler FFT (periodic). Default Hann.
    pub doppler_window: Window,
}

impl Default for ProcessConfig {
    fn default() -> Self {
        ProcessConfig {
            cfar: CfarKind::Os,
            pfa: 1e-6,
            window: CfarWindow::default(),
            os_k: None,
            range_window: Window::Hamming,
            doppler_window: Window::Hann,
        }
    }
}

/// Everything a backend needs, computed once per radar configuration.
#[derive(Debug, Clone)]
pub struct ChainPlan {
    /// Pulses per CPI (`P`, Doppler bins).
    pub pulses: usize,
    /// Samples per pulse (`N`, range bins).
    pub samples: usize,
    /// Channel detection runs on.
    pub channel: usize,
    /// Channels per CPI.
    pub channels: usize,
    /// Fast-convolution FFT length: smallest power of two `>= N + L - 1`,
    /// so the correlation never wraps (output `n` is fast time `t_n`).
    pub fft_len: usize,
    /// Tapered replica, `L` samples.
    pub replica: Vec<Complex32>,
    /// Doppler window, `P` samples.
    pub doppler_window: Vec<f32>,
    /// CFAR variant.
    pub cfar: CfarKind,
    /// CFAR reference window.
    pub window: CfarWindow,
    /// Reference cells `N`.
    pub reference_cells: usize,
    /// Effective number of independent reference cells,
    /// `N_eff = N^2 / sum_ij |rho_ij|^2` over the whole window, for the
    /// correlation `rho` that the replica taper, the LFM and the Doppler
    /// window put between map cells ([`cfar::CellCorrelation`]). Equals `N`
    /// for independent cells (no tapers, one-sample pulse). A diagnostic
    /// (12.2 of 24 on the demo radar): alpha itself comes from the Monte
    /// Carlo, which the Gamma fit with `N_eff` only approximates.
    pub effective_reference_cells: f64,
    /// The same for one half of the window (leading or lagging; they are
    /// mirror images so equal), the counterpart of `N/2` for GO / SO.
    pub effective_half_cells: f64,
    /// OS order `k` (unused for the CA family).
    pub os_k: usize,
    /// Threshold multiplier, for the requested Pfa on white input noise with
    /// the reference-cell correlation of this plan: textbook formulas when
    /// the cells are independent, otherwise a seeded Monte Carlo of the
    /// correlated window ([`cfar::alpha_monte_carlo`]). Deterministic.
    pub alpha: f32,
    /// Divides the CFAR statistic to give the noise estimate for `snr_db`
    /// (1 for the CA family; the expected k-th order statistic for OS, from
    /// the same Monte Carlo when the cells are correlated).
    pub noise_scale: f32,
}

impl ChainPlan {
    /// Validates `config` against `params` and computes the recipe.
    pub fn new(params: &RadarParams, config: &ProcessConfig) -> Result<Self, ProcessError> {
        let p = params.pulses_per_cpi;
        let n = params.samples_per_pulse;
        let w = config.window;
        let bad = |m: String| Err(ProcessError::Config(m));
        if p == 0 || n == 0 {
            return bad(format!("empty CPI shape {p} pulses x {n} samples"));
        }
        if 2 * (w.guard_doppler + w.train_doppler) + 1 > p {
            return bad(format!(
                "CFAR Doppler window (2 x ({} guard + {} training) + 1 cells) does not fit {p} pulses",
                w.guard_doppler, w.train_doppler
            ));
        }
        if 2 * w.range_margin() + 1 > n {
            return bad(format!(
                "CFAR range window (2 x ({} guard + {} training) + 1 cells) does not fit {n} range bins",
                w.guard_range, w.train_range
            ));
        }
        let reference_cells = w.reference_cells();
        let os_k = config
            .os_k
            .unwrap_or_else(|| cfar::default_os_k(reference_cells));
        let mut replica = replica(&params.waveform, params.sample_rate_hz);
        if replica.is_empty() {
            return bad("the waveform is shorter than one sample".into());
        }
        let taper = config.range_window.symmetric(replica.len());
        for (z, t) in replica.iter_mut().zip(taper) {
            *z *= t;
        }
        let doppler_window = config.doppler_window.periodic(p);
        // Alpha for the correlation the processing actually leaves between
        // reference cells; the textbook formulas when there is none.
        let corr = cfar::CellCorrelation::new(&replica, &doppler_window);
        let (lead, lag) = (w.lead_cells(), w.lag_cells());
        let all: Vec<(isize, isize)> = lead.iter().chain(&lag).copied().collect();
        let effective_reference_cells = cfar::effective_reference_cells(&corr, &all);
        let effective_half_cells = 0.5
            * (cfar::effective_reference_cells(&corr, &lead)
                + cfar::effective_reference_cells(&corr, &lag));
        let config_err = |e: cfar::CfarError| ProcessError::Config(e.to_string());
        let (alpha, noise_scale) = if corr.is_white() {
            let alpha =
                cfar::alpha(config.cfar, reference_cells, os_k, config.pfa).map_err(config_err)?;
            let noise_scale = match config.cfar {
                CfarKind::Os => cfar::os_noise_scale(reference_cells, os_k),
                _ => 1.0,
            };
            (alpha, noise_scale)
        } else {
            // The Gamma fit with N_eff (cfar::alpha_effective) is not used:
            // on the demo radar it sets alpha too high (measured Pfa x0.80 for
            // CA, x0.54 for SO at 1e-4) because the Gamma's lower tail is
            // heavier than the real one. The Monte Carlo of the exact
            // Gaussian model measures x1.00 .. x1.11.
            let cal = cfar::alpha_monte_carlo(
                config.cfar,
                &corr,
                &lead,
                &lag,
                os_k,
                config.pfa,
                cfar::McDraws {
                    samples: MONTE_CARLO_SAMPLES,
                    seed: MONTE_CARLO_SEED,
                },
            )
            .map_err(config_err)?;
            let noise_scale = match config.cfar {
                CfarKind::Os => cal.noise_scale,
                _ => 1.0,
            };
            (cal.alpha, noise_scale)
        };
        let fft_len = (n + replica.len() - 1).next_power_of_two();
        Ok(ChainPlan {
            pulses: p,
            samples: n,
            channel: params.sum_channel,
            channels: params.num_channels,
            fft_len,
            replica,
            doppler_window,
            cfar: config.cfar,
            window: w,
            reference_cells,
            effective_reference_cells,
            effective_half_cells,
            os_k,
            alpha: alpha as f32,
            noise_scale: noise_scale as f32,
        })
    }

    /// Cells tested per CPI.
    pub fn cells_tested(&self) -> u64 {
        ((self.samples - 2 * self.window.range_margin()) * self.pulses) as u64
    }
}
