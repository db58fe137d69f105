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
    /// True (the default): `window.guard_range` is a minimum, widened to
    /// [`range_guard_for_mainlobe`] of the compressed pulse, so a target's
    /// own range response never lies in its reference cells. False: the
    /// guard is used as given (the plan then carries a warning in
    /// [`ChainPlan::guard_note`] when it is narrower than the mainlobe).
    pub auto_range_guard: bool,
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
            auto_range_guard: true,
        }
    }
}

/// Level, relative to a point target's compressed peak, that its range
/// response must fall below before the first training cell: -20 dB. A 30 dB
/// target then leaks at most 10 dB over the noise into the nearest
/// training cell, which raises a 24-cell CA threshold by about 1.4 dB; the
/// default OS order ignores a few such cells altogether.
pub const GUARD_LEAKAGE_DB: f64 = -20.0;

/// Guard cells on each side in range that keep a point target's compressed
/// response out of its own CFAR reference cells: the widest run of range
/// bins next to the peak whose power stays at or above
/// [`GUARD_LEAKAGE_DB`], over the echo on a sample and half-way between two
/// samples (the worst straddle), on either side of the peak.
///
/// `echo` is the untapered pulse, `replica` the tapered one the matched
/// filter uses. Why it matters: the default guard (3 cells) suits a pulse
/// sampled at about its bandwidth (demo radar: 8 MHz at 10 MHz, run of 1).
/// Oversampled, the mainlobe spans more bins (2 MHz at 10 MHz with a
/// Hamming taper: 8 bins to -20 dB), and with 3 guard cells a target's
/// mainlobe sits in its own training cells and masks it: CA found 0 of 40
/// targets at 26 dB after processing, OS 1 (tews run, 16 x 256 CPIs).
pub fn range_guard_for_mainlobe(echo: &[Complex32], replica: &[Complex32]) -> usize {
    use rustfft::num_complex::Complex64;
    let l = echo.len().max(replica.len());
    if l == 0 {
        return 0;
    }
    let m = (4 * l).next_power_of_two();
    let mut planner = rustfft::FftPlanner::<f64>::new();
    let (fwd, inv) = (planner.plan_fft_forward(m), planner.plan_fft_inverse(m));
    let spectrum = |x: &[Complex32]| {
        let mut v = vec![Complex64::new(0.0, 0.0); m];
        for (d, z) in v.iter_mut().zip(x) {
            *d = Complex64::new(z.re as f64, z.im as f64);
        }
        fwd.process(&mut v);
        v
    };
    let (e, r) = (spectrum(echo), spectrum(replica));
    let level = 10f64.powf(GUARD_LEAKAGE_DB / 10.0);
    let mut guard = 0;
    for delay in [0.0, 0.5] {
        // y[k] = sum_l e(l + k - delay) conj(r[l]): the filter output for an
        // echo delayed by `delay` samples (band-limited, no wrap: m >= 4 L).
        let mut y: Vec<Complex64> = (0..m)
            .map(|i| {
                let f = if i < m / 2 {
                    i as f64
                } else {
                    i as f64 - m as f64
                } / m as f64;
                e[i] * r[i].conj() * Complex64::from_polar(1.0, -std::f64::consts::TAU * f * delay)
            })
            .collect();
        inv.process(&mut y);
        let power: Vec<f64> = y.iter().map(|z| z.norm_sqr()).collect();
        let (k0, peak) = power
            .iter()
            .copied()
            .enumerate()
            .fold(
                (0, 0.0),
                |best, (k, v)| if v > best.1 { (k, v) } else { best },
            );
        if peak <= 0.0 {
            continue;
        }
        for side in [1isize, -1] {
            let run = (1..m / 2)
                .take_while(|&k| {
                    let at = (k0 as isize + side * k as isize).rem_euclid(m as isize) as usize;
                    power[at] >= level * peak
                })
                .count();
            guard = guard.max(run);
        }
    }
    guard
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
    /// Range guard cells the compressed pulse's mainlobe asks for
    /// ([`range_guard_for_mainlobe`]); `window.guard_range` is at least this
    /// unless the user fixed the guard or the map is too short.
    pub mainlobe_guard_range: usize,
    /// Why the range guard is narrower than the mainlobe, when it is: one
    /// line for the log (`None` when the guard covers the mainlobe).
    pub guard_note: Option<String>,
}

impl ChainPlan {
    /// Validates `config` against `params` and computes the recipe.
    pub fn new(params: &RadarParams, config: &ProcessConfig) -> Result<Self, ProcessError> {
        let p = params.pulses_per_cpi;
        let n = params.samples_per_pulse;
        let mut w = config.window;
        let bad = |m: String| Err(ProcessError::Config(m));
        if p == 0 || n == 0 {
            return bad(format!("empty CPI shape {p} pulses x {n} samples"));
        }
        let echo = replica(&params.waveform, params.sample_rate_hz);
        let mut replica = echo.clone();
        if replica.is_empty() {
            return bad("the waveform is shorter than one sample".into());
        }
        let taper = config.range_window.symmetric(replica.len());
        for (z, t) in replica.iter_mut().zip(taper) {
            *z *= t;
        }
        let mainlobe_guard_range = range_guard_for_mainlobe(&echo, &replica);
        let mut guard_note = None;
        if mainlobe_guard_range > w.guard_range {
            if config.auto_range_guard {
                // As wide as the mainlobe asks, as far as the map allows.
                let fits = (n.saturating_sub(1) / 2).saturating_sub(w.train_range);
                let widened = mainlobe_guard_range.min(fits.max(w.guard_range));
                if widened < mainlobe_guard_range {
                    guard_note = Some(format!(
                        "CFAR range guard {widened} cells: the compressed pulse's mainlobe \
                         needs {mainlobe_guard_range} (to {GUARD_LEAKAGE_DB} dB) but {n} range \
                         bins leave no room; strong targets may mask themselves"
                    ));
                }
                w.guard_range = widened;
            } else {
                guard_note = Some(format!(
                    "CFAR range guard {} cells is narrower than the compressed pulse's \
                     mainlobe ({mainlobe_guard_range} cells to {GUARD_LEAKAGE_DB} dB): a \
                     target's own response lies in its training cells and can mask it \
                     (leave --guard-range unset to size it automatically)",
                    w.guard_range
                ));
            }
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
            mainlobe_guard_range,
            guard_note,
        })
    }

    /// Cells tested per CPI.
    pub fn cells_tested(&self) -> u64 {
        ((self.samples - 2 * self.window.range_margin()) * self.pulses) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mainlobe_guard_of_a_rect_pulse_is_its_triangle_to_minus_20_db() {
        // A 25-sample rect through its own (untapered) replica: on grid the
        // response is the triangle (1 - k/25)^2, >= 0.01 up to k = 22; half
        // a sample off grid the run can grow by at most one bin.
        let pulse = vec![Complex32::new(1.0, 0.0); 25];
        let g = range_guard_for_mainlobe(&pulse, &pulse);
        assert!(g == 22 || g == 23, "{g}");
        // One sample: no mainlobe beyond the peak cell on grid.
        let one = [Complex32::new(1.0, 0.0)];
        assert!(range_guard_for_mainlobe(&one, &one) <= 1);
        assert_eq!(range_guard_for_mainlobe(&[], &[]), 0);
    }

    #[test]
    fn default_guard_is_kept_for_a_pulse_sampled_near_its_bandwidth() {
        // The demo radar's ratio: 8 MHz swept, sampled at 10 MHz.
        let params = RadarParams {
            sample_rate_hz: 10e6,
            pulses_per_cpi: 64,
            samples_per_pulse: 2000,
            pri_s: 400e-6,
            window_delay_s: 0.0,
            waveform: crate::radar::Waveform::Lfm {
                bandwidth_hz: 8e6,
                pulse_width_s: 20e-6,
            },
            num_channels: 1,
            sum_channel: 0,
            channel_names: vec![],
            monopulse: None,
        };
        let plan = ChainPlan::new(&params, &ProcessConfig::default()).unwrap();
        assert!(
            plan.mainlobe_guard_range <= 3,
            "{}",
            plan.mainlobe_guard_range
        );
        assert_eq!(plan.window, CfarWindow::default());
        assert!(plan.guard_note.is_none());
        // Oversampled five times: widened, and a fixed narrow guard is
        // reported instead.
        let wide = RadarParams {
            waveform: crate::radar::Waveform::Lfm {
                bandwidth_hz: 2e6,
                pulse_width_s: 20e-6,
            },
            ..params
        };
        let plan = ChainPlan::new(&wide, &ProcessConfig::default()).unwrap();
        assert!(plan.window.guard_range >= 6, "{:?}", plan.window);
        assert_eq!(plan.window.guard_range, plan.mainlobe_guard_range);
        let fixed = ProcessConfig {
            auto_range_guard: false,
            ..ProcessConfig::default()
        };
        let plan = ChainPlan::new(&wide, &fixed).unwrap();
        assert_eq!(plan.window.guard_range, 3);
        assert!(plan.guard_note.is_some());
    }
}
