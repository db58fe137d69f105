//! Sum-difference monopulse: the angle of a plot within the beam, from the
//! ratio of a difference channel to the sum channel at the plot's peak cell.
//!
//! # How the channels are processed
//! Only the cells that became plots are processed in the difference
//! channels, and the sum channel's value at those cells is recomputed the
//! same way, so the ratio compares like with like on either backend. The
//! value of channel `x` at range bin `r` and (FFT-shifted) Doppler bin `d`
//! is exactly what the chain computes there:
//!
//! `v = sum_m w[m] e^{-j 2 pi k m / P} sum_l x[m, r + l] conj(s[l])`,
//! `k = (d + P - P/2) mod P`,
//!
//! with `s` the chain's tapered replica and `w` its Doppler window (the
//! pulse compressor's correlation and the Doppler FFT, for one output cell;
//! samples past the receive window are zero, as in the chain's zero-padded
//! fast convolution). It is done Doppler first (`P x L` complex
//! multiply-adds to combine the pulses over the `L` replica samples, then
//! `L` for the correlation), for each of the two or three channels.
//!
//! Why not the whole chain on every channel: the range FFTs are most of the
//! chain's cost, so processing three channels whole would nearly triple it;
//! the per-cell form costs `3 P L` multiply-adds per plot, a few
//! microseconds, and is the same host code behind the CPU and the GPU
//! backends (the GPU never sees the difference channels, so device-loss
//! fallback cannot lose them). `tews bench --channels 3` measures the cost.
//!
//! # The estimate and its accuracy
//! `r = Re(delta / sum)`, `theta = r * beamwidth / slope` (beam frame,
//! [`crate::geo::BeamFrame`]), then azimuth and elevation of the direction
//! at `(theta_az, theta_el)`. The 1-sigma thermal-noise error, to first
//! order in the noise, is
//!
//! `sigma_theta = beamwidth / (slope sqrt(2 SNR)) * sqrt(1 + r^2)`
//!
//! with SNR the plot's linear `snr_db`. The first factor is the textbook
//! (on-boresight) value; `sqrt(1 + r^2)` is the sum channel's own noise,
//! which the ratio divides by: it is 1 on the boresight and 1.39 at the
//! edge of the span for a slope of 1.6, and leaving it out would make the
//! reported sigma over-confident off axis (tests/monopulse.rs measures it).
//!
//! # The calibrated span
//! A ratio is trusted only within [`MONOPULSE_SPAN_BEAMWIDTHS`] of a
//! beamwidth of the boresight in each measured axis (the two-way sum gain
//! there is -8.7 dB; beyond it a real antenna's difference pattern bends
//! away from the linear slope and soon turns over, so the same ratio would
//! name two directions). A plot whose estimate falls outside, or whose
//! ratio is not finite, keeps the beam's angles (`angle_source = "beam"`)
//! and is counted.

use crate::cpi::Cpi;
use crate::geo::BeamFrame;
use crate::radar::{Monopulse, RadarParams};
use rustfft::num_complex::{Complex32, Complex64};

/// Half-width of the calibrated span, in beamwidths, per axis.
pub const MONOPULSE_SPAN_BEAMWIDTHS: f64 = 0.6;

/// The channels a plot's angle is measured from.
#[derive(Debug, Clone)]
pub struct MonopulseEstimator {
    cal: Monopulse,
    sum: usize,
    delta_az: Option<usize>,
    delta_el: Option<usize>,
    pulses: usize,
    samples: usize,
    /// `conj(replica)`, the chain's tapered replica.
    replica_conj: Vec<Complex32>,
    /// The chain's Doppler window.
    doppler_window: Vec<f32>,
}

/// One plot's measured angles.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AngleEstimate {
    /// Within the span: the direction and its 1-sigma accuracies (`None`
    /// for an axis without a difference channel, which keeps the beam's).
    Measured {
        /// Azimuth, degrees in [0, 360).
        azimuth_deg: f64,
        /// Elevation, degrees.
        elevation_deg: f64,
        /// Beam-frame offsets, degrees.
        theta_az_deg: f64,
        /// Beam-frame offset in elevation, degrees.
        theta_el_deg: f64,
        /// Azimuth 1-sigma, degrees (beam-frame sigma / cos(elevation)).
        azimuth_sigma_deg: Option<f64>,
        /// Elevation 1-sigma, degrees.
        elevation_sigma_deg: Option<f64>,
    },
    /// The estimate fell outside the calibrated span, or the ratio was not
    /// finite: the beam's angles stand.
    OutsideSpan,
}

impl MonopulseEstimator {
    /// The estimator for `params`' channels and calibration, with the
    /// chain's tapered `replica` and `doppler_window`; `None` when the radar
    /// has no calibration or no difference channel.
    pub fn new(
        params: &RadarParams,
        replica: &[Complex32],
        doppler_window: &[f32],
    ) -> Option<Self> {
        let cal = params.monopulse?;
        let (delta_az, delta_el) = (params.channel("delta_az"), params.channel("delta_el"));
        if delta_az.is_none() && delta_el.is_none() {
            return None;
        }
        Some(MonopulseEstimator {
            cal,
            sum: params.sum_channel,
            delta_az,
            delta_el,
            pulses: params.pulses_per_cpi,
            samples: params.samples_per_pulse,
            replica_conj: replica.iter().map(|z| z.conj()).collect(),
            doppler_window: doppler_window.to_vec(),
        })
    }

    /// The calibration in use.
    pub fn calibration(&self) -> &Monopulse {
        &self.cal
    }

    /// The processed value of `channel` of `cpi` at (`range_bin`,
    /// `doppler_bin`), as the chain computes it (module docs).
    pub fn cell_value(
        &self,
        cpi: &Cpi,
        channel: usize,
        range_bin: usize,
        doppler_bin: usize,
    ) -> Complex64 {
        let (p, n) = (self.pulses, self.samples);
        if range_bin >= n || doppler_bin >= p {
            return Complex64::new(0.0, 0.0);
        }
        let k = (doppler_bin + p - p / 2) % p;
        let len = self.replica_conj.len().min(n - range_bin);
        let mut z = vec![Complex32::default(); len];
        let mut row = vec![Complex32::default(); len];
        for m in 0..p {
            // exp(-j 2 pi k m / P), with k m reduced mod P so the phase is exact.
            let phase = -std::f64::consts::TAU * ((k * m) % p) as f64 / p as f64;
            let c = Complex64::from_polar(self.doppler_window[m] as f64, phase);
            let c = Complex32::new(c.re as f32, c.im as f32);
            self.load_row(cpi, channel, m, range_bin, &mut row);
            for (acc, &x) in z.iter_mut().zip(&row) {
                *acc += c * x;
            }
        }
        z.iter()
            .zip(&self.replica_conj)
            .map(|(a, s)| {
                let v = a * s;
                Complex64::new(v.re as f64, v.im as f64)
            })
            .sum()
    }

    /// Samples `start .. start + out.len()` of pulse `m` of `channel`, from
    /// the decoded samples or, for a ci16 CPI only the GPU saw, the counts
    /// (converted as [`crate::cpi::ci16_to_cf32`] does).
    fn load_row(&self, cpi: &Cpi, channel: usize, m: usize, start: usize, out: &mut [Complex32]) {
        let n = self.samples;
        if cpi.decoded().is_none()
            && let Some((iq, scale)) = cpi.ci16_channel(channel)
        {
            let (base, len) = (2 * (m * n + start), out.len());
            for (o, pair) in out.iter_mut().zip(iq[base..base + 2 * len].chunks_exact(2)) {
                *o = Complex32::new(f32::from(pair[0]) * scale, f32::from(pair[1]) * scale);
            }
            return;
        }
        let plane = cpi.channel(channel);
        let row = plane.row(m);
        for (o, x) in out.iter_mut().zip(row.iter().skip(start)) {
            *o = *x;
        }
    }

    /// The angles of a plot at peak cell (`range_bin`, `doppler_bin`) with
    /// linear SNR `snr`, in a beam pointing at (`beam_az_deg`, `beam_el_deg`).
    pub fn estimate(
        &self,
        cpi: &Cpi,
        range_bin: usize,
        doppler_bin: usize,
        snr: f64,
        beam_az_deg: f64,
        beam_el_deg: f64,
    ) -> AngleEstimate {
        let sum = self.cell_value(cpi, self.sum, range_bin, doppler_bin);
        let ratio = |ch: Option<usize>| {
            ch.map(|c| (self.cell_value(cpi, c, range_bin, doppler_bin) / sum).re)
        };
        let (r_az, r_el) = (ratio(self.delta_az), ratio(self.delta_el));
        let cal = &self.cal;
        let theta_az = r_az.map(|r| r * cal.beamwidth_az_deg / cal.slope_az);
        let theta_el = r_el.map(|r| r * cal.beamwidth_el_deg / cal.slope_el);
        let within = |theta: Option<f64>, bw: f64| {
            theta.is_none_or(|t| t.is_finite() && t.abs() <= MONOPULSE_SPAN_BEAMWIDTHS * bw)
        };
        if !within(theta_az, cal.beamwidth_az_deg) || !within(theta_el, cal.beamwidth_el_deg) {
            return AngleEstimate::OutsideSpan;
        }
        let (theta_az_deg, theta_el_deg) = (theta_az.unwrap_or(0.0), theta_el.unwrap_or(0.0));
        let Some((azimuth_deg, elevation_deg)) = BeamFrame::new(beam_az_deg, beam_el_deg)
            .azimuth_elevation_deg(theta_az_deg, theta_el_deg)
        else {
            return AngleEstimate::OutsideSpan;
        };
        let sigma =
            |r: f64, bw: f64, slope: f64| bw / (slope * (2.0 * snr).sqrt()) * (1.0 + r * r).sqrt();
        let cos_el = elevation_deg.to_radians().cos();
        AngleEstimate::Measured {
            azimuth_deg,
            elevation_deg,
            theta_az_deg,
            theta_el_deg,
            azimuth_sigma_deg: r_az
                .map(|r| sigma(r, cal.beamwidth_az_deg, cal.slope_az) / cos_el.max(1e-6)),
            elevation_sigma_deg: r_el.map(|r| sigma(r, cal.beamwidth_el_deg, cal.slope_el)),
        }
    }
}

/// The boresight (textbook) thermal-noise accuracy `beamwidth / (slope
/// sqrt(2 SNR))`, degrees, for linear `snr`.
pub fn boresight_sigma_deg(beamwidth_deg: f64, slope: f64, snr: f64) -> f64 {
    beamwidth_deg / (slope * (2.0 * snr).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn textbook_check_value() {
        // formats.md: A = 2 deg, slope 1.6, 20 dB -> 0.088 deg.
        assert!((boresight_sigma_deg(2.0, 1.6, 100.0) - 0.0884).abs() < 1e-4);
    }
}
