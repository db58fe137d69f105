//! Processing backends: a CPI in, a range-Doppler power map and CFAR
//! detections out. The CPU chain lives in [`cpu`]; the GPU twin follows.

pub mod cpu;

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
}
