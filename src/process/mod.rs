//! Processing backends: a CPI in, a range-Doppler power map and CFAR
//! detections out. The CPU chain lives in [`cpu`]; the GPU twin follows and
//! implements the same [`Backend`] trait with the same [`ChainPlan`].

pub mod cpu;
pub mod gpu;
mod plan;

pub use plan::{CfarWindow, ChainPlan, GUARD_LEAKAGE_DB, ProcessConfig, range_guard_for_mainlobe};

use crate::cpi::Cpi;

/// Square-law power of one CPI after pulse compression and the Doppler FFT.
///
/// Indexing convention (shared by every backend, the plots and the viewer):
/// range-major, `power[range_bin * doppler_bins + doppler_bin]`.
/// Range bin `n` is the matched-filter output aligned with fast-time sample
/// `t_n` (see [`crate::radar::RadarParams::range_m`]). Doppler bins are
/// FFT-shifted: bin `doppler_bins / 2` is zero Doppler, bin 0 the most
/// negative Doppler frequency (see [`crate::radar::RadarParams::radial_velocity_mps`]).
#[derive(Debug, Clone, Default)]
pub struct RangeDopplerMap {
    /// Number of range bins (= samples per pulse).
    pub range_bins: usize,
    /// Number of Doppler bins (= pulses per CPI).
    pub doppler_bins: usize,
    /// Power, linear units (|x|^2 of the processed samples).
    pub power: Vec<f32>,
}

impl RangeDopplerMap {
    /// Power at `(range_bin, doppler_bin)`.
    #[inline]
    pub fn at(&self, range_bin: usize, doppler_bin: usize) -> f32 {
        self.power[range_bin * self.doppler_bins + doppler_bin]
    }
}

/// One CFAR threshold crossing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Detection {
    /// Range bin of the cell under test.
    pub range_bin: u32,
    /// Doppler bin (FFT-shifted) of the cell under test.
    pub doppler_bin: u32,
    /// Power of the cell under test, linear.
    pub power: f32,
    /// The CFAR noise estimate for this cell, linear (same units as `power`).
    pub noise: f32,
    /// Map power of the four neighbours, for peak interpolation:
    /// `[range - 1, range + 1, doppler - 1, doppler + 1]` (Doppler wraps;
    /// a range neighbour outside the map is 0).
    pub neighbours: [f32; 4],
}

/// What a backend returns for one CPI.
#[derive(Debug, Clone, Default)]
pub struct CpiDetections {
    /// Threshold crossings, in range-major order.
    pub detections: Vec<Detection>,
    /// Cells on which the CFAR test was made.
    pub cells_tested: u64,
}

/// Errors of the processing layer.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// The configuration cannot be applied to this radar's CPI shape.
    #[error("processing configuration: {0}")]
    Config(String),
    /// The CPI holds NaN or Inf samples; it is rejected, the run goes on.
    #[error("CPI {0} contains NaN or Inf samples; rejected")]
    NonFinite(u64),
    /// The CPI's shape does not match the plan.
    #[error("CPI {cpi} has shape {got:?}, expected {expected:?}")]
    Shape {
        /// CPI index.
        cpi: u64,
        /// (channels, pulses, samples) found.
        got: (usize, usize, usize),
        /// (pulses, samples) the plan was made for.
        expected: (usize, usize),
    },
    /// The GPU failed (the streaming GPU backend moves the run to the CPU
    /// instead of returning this).
    #[error("GPU: {0}")]
    Gpu(String),
    /// More threshold crossings than the GPU's bounded detection list holds
    /// (the streaming GPU backend redoes such a CPI on the CPU).
    #[error("CPI {cpi}: {found} CFAR crossings overflow the GPU detection list of {capacity}")]
    DetectionOverflow {
        /// CPI index.
        cpi: u64,
        /// Crossings counted on the device.
        found: u64,
        /// Records the list holds.
        capacity: u64,
    },
}

/// One CPI back from a streaming backend ([`Backend::push`]).
#[derive(Debug)]
pub struct Processed {
    /// The CPI, handed back to the caller.
    pub cpi: Cpi,
    /// Its detections, or why it was not processed.
    pub result: Result<CpiDetections, ProcessError>,
}

/// A processing backend: the CPU chain ([`cpu::CpuChain`]) or the GPU chain
/// ([`gpu::GpuChain`], streamed with CPU fallback by [`gpu::GpuBackend`]).
///
/// Two forms: [`Backend::process`] (one CPI, synchronous) and the
/// streaming [`Backend::push`] / [`Backend::flush`], which may hold CPIs in
/// flight and return each one's result later, in order. The streaming form
/// defaults to `process`, so a synchronous backend needs nothing more.
pub trait Backend {
    /// Short name for logs and summaries ("cpu", "gpu").
    fn name(&self) -> &'static str;
    /// Processes one CPI into detections.
    fn process(&mut self, cpi: &Cpi) -> Result<CpiDetections, ProcessError>;
    /// The range-Doppler map of the last processed CPI, when the backend
    /// keeps it on the host (the CPU backend always does).
    fn last_map(&self) -> Option<&RangeDopplerMap>;

    /// Streaming: takes `cpi`, appends to `done` (in CPI order) the results
    /// of zero or more CPIs, which may include earlier ones. Default:
    /// processes `cpi` at once.
    fn push(&mut self, cpi: Cpi, done: &mut Vec<Processed>) {
        let result = self.process(&cpi);
        done.push(Processed { cpi, result });
    }

    /// Streaming: appends the results of every CPI still in flight.
    fn flush(&mut self, _done: &mut Vec<Processed>) {}

    /// The GPU adapter's name, for a GPU backend.
    fn adapter(&self) -> Option<String> {
        None
    }

    /// CPIs a GPU backend had to process on the CPU instead.
    fn fallbacks(&self) -> u64 {
        0
    }

    /// What a GPU backend uploaded (`None` for the CPU backend).
    fn uploads(&self) -> Option<UploadStats> {
        None
    }

    /// The detection channel's processed complex values (after pulse
    /// compression and the windowed Doppler DFT, before the power) at
    /// `cells` (range bin, FFT-shifted Doppler bin) of the CPI whose result
    /// this backend returned last, when it still holds them on the host.
    /// The CPU chain does (from its compressed pulses, `P` multiply-adds a
    /// cell); a streaming backend returns `None` (the default), and the
    /// plot extractor then computes them from the samples.
    fn detection_channel_values(
        &self,
        _cells: &[(usize, usize)],
    ) -> Option<Vec<rustfft::num_complex::Complex64>> {
        None
    }

    /// True when the backend uploads a ci16 CPI's counts as they are, so
    /// converting it to cf32 beforehand (on the ingest thread) would be
    /// wasted. A CPU backend wants cf32 (false).
    fn takes_ci16(&self) -> bool {
        false
    }
}

/// Samples a GPU backend sent to the device, over a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct UploadStats {
    /// CPIs whose detection channel went up as ci16 counts (4 bytes a
    /// sample, converted on the device).
    pub ci16_cpis: u64,
    /// CPIs whose detection channel went up as cf32 (8 bytes a sample).
    pub cf32_cpis: u64,
    /// Sample bytes uploaded, all CPIs, bytes.
    pub bytes: u64,
}

impl UploadStats {
    /// "ci16", "cf32", "mixed" (some of each) or "none" (nothing uploaded).
    pub fn kind(&self) -> &'static str {
        match (self.ci16_cpis > 0, self.cf32_cpis > 0) {
            (true, true) => "mixed",
            (true, false) => "ci16",
            (false, true) => "cf32",
            (false, false) => "none",
        }
    }
}
