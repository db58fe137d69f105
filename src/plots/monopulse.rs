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
use crate::dsp::window::DopplerBinWeights;
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
    /// The chain's Doppler window's per-bin weights.
    doppler_weights: DopplerBinWeights,
}

/// The processed values of one cell in each channel.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CellValues {
    /// Sum channel.
    pub sum: Complex64,
    /// Azimuth difference channel, when there is one.
    pub delta_az: Option<Complex64>,
    /// Elevation difference channel, when there is one.
    pub delta_el: Option<Complex64>,
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
            doppler_weights: DopplerBinWeights::new(doppler_window),
        })
    }

    /// The calibration in use.
    pub fn calibration(&self) -> &Monopulse {
        &self.cal
    }

    /// The processed values of every channel at each of `cells` (range
    /// bin, FFT-shifted Doppler bin) of `cpi`, as the chain computes them
    /// (module docs). One pass over each channel's pulses serves every cell
    /// (each pulse row is read once, while the cells' accumulators stay in
    /// cache); channels and halves of the cell list run in parallel.
    ///
    /// `sum`, when given, holds the sum channel's values at `cells` as the
    /// backend computed them (see
    /// [`crate::process::Backend::detection_channel_values`]); only the
    /// difference channels are then processed here.
    pub fn cell_values(
        &self,
        cpi: &Cpi,
        cells: &[(usize, usize)],
        sum: Option<Vec<Complex64>>,
    ) -> Vec<CellValues> {
        use rayon::prelude::*;
        let sum = sum.filter(|v| v.len() == cells.len());
        let channels: Vec<usize> = [
            Some(self.sum).filter(|_| sum.is_none()),
            self.delta_az,
            self.delta_el,
        ]
        .into_iter()
        .flatten()
        .collect();
        // The cells in range order: a task's cells then cover one part of
        // the rows (less to bring into cache) and neighbours whose replica
        // spans overlap reuse the samples already in L1.
        let mut order: Vec<usize> = (0..cells.len()).collect();
        order.sort_by_key(|&i| cells[i]);
        let sorted: Vec<(usize, usize)> = order.iter().map(|&i| cells[i]).collect();
        let half = cells.len().div_ceil(2).max(1);
        let tasks: Vec<(usize, usize)> = channels
            .iter()
            .flat_map(|&c| (0..cells.len().div_ceil(half)).map(move |h| (c, h)))
            .collect();
        let results: Vec<(usize, usize, Vec<Complex64>)> = tasks
            .into_par_iter()
            .map(|(c, h)| {
                let part = &sorted[h * half..((h + 1) * half).min(cells.len())];
                (c, h, self.channel_values(cpi, c, part))
            })
            .collect();
        let zero = Complex64::new(0.0, 0.0);
        let mut out = vec![
            CellValues {
                sum: zero,
                delta_az: self.delta_az.map(|_| zero),
                delta_el: self.delta_el.map(|_| zero),
            };
            cells.len()
        ];
        if let Some(sum) = sum {
            for (cell, v) in out.iter_mut().zip(sum) {
                cell.sum = v;
            }
        }
        for (c, h, values) in results {
            for (i, v) in values.into_iter().enumerate() {
                let cell = &mut out[order[h * half + i]];
                if c == self.sum {
                    cell.sum = v;
                } else if Some(c) == self.delta_az {
                    cell.delta_az = Some(v);
                } else {
                    cell.delta_el = Some(v);
                }
            }
        }
        out
    }

    /// [`Self::cell_values`] of one channel.
    fn channel_values(
        &self,
        cpi: &Cpi,
        channel: usize,
        cells: &[(usize, usize)],
    ) -> Vec<Complex64> {
        let (p, n) = (self.pulses, self.samples);
        let l = self.replica_conj.len();
        // (first range bin, samples used, the Doppler stage's weights) per
        // cell; a cell outside the map uses no samples and is 0.
        let spans: Vec<(usize, usize, Vec<Complex32>)> = cells
            .iter()
            .map(|&(r, d)| {
                if r >= n || d >= p {
                    return (0, 0, Vec::new());
                }
                let weights = self
                    .doppler_weights
                    .weights(d)
                    .iter()
                    .map(|w| Complex32::new(w.re as f32, w.im as f32))
                    .collect();
                (r, l.min(n - r), weights)
            })
            .collect();
        let mut z: Vec<Vec<Complex32>> = spans
            .iter()
            .map(|&(_, len, _)| vec![Complex32::default(); len])
            .collect();
        let avx2 = has_avx2();
        // Conversion buffers, allocated only for a ci16 CPI without decoded samples.
        let mut bufs: [Vec<Complex32>; PULSE_BLOCK] = Default::default();
        // Pulses in blocks: each cell's accumulators are loaded and stored
        // once per block instead of once per pulse, while the block's rows
        // stay in cache for every cell.
        for m0 in (0..p).step_by(PULSE_BLOCK) {
            let count = (p - m0).min(PULSE_BLOCK);
            let mut rows: [&[Complex32]; PULSE_BLOCK] = [&[]; PULSE_BLOCK];
            for ((slot, m), buf) in rows.iter_mut().zip(m0..m0 + count).zip(bufs.iter_mut()) {
                *slot = self.row(cpi, channel, m, buf);
            }
            for (acc, (r, len, weights)) in z.iter_mut().zip(&spans) {
                let (r, len) = (*r, *len);
                if len == 0 {
                    continue;
                }
                if count == PULSE_BLOCK {
                    let x = rows.map(|row| &row[r..r + len]);
                    let c: [Complex32; PULSE_BLOCK] = std::array::from_fn(|j| weights[m0 + j]);
                    accumulate_block(acc, x, c, avx2);
                } else {
                    for (j, row) in rows[..count].iter().enumerate() {
                        accumulate_block(acc, [&row[r..r + len]], [weights[m0 + j]], avx2);
                    }
                }
            }
        }
        z.iter()
            .map(|acc| {
                acc.iter()
                    .zip(&self.replica_conj)
                    .map(|(a, s)| {
                        let v = a * s;
                        Complex64::new(f64::from(v.re), f64::from(v.im))
                    })
                    .sum()
            })
            .collect()
    }

    /// Pulse `m` of `channel`: a slice of the decoded samples or, for a ci16
    /// CPI only the GPU saw, the counts converted into `buf` (as
    /// [`crate::cpi::ci16_to_cf32`] does; `buf` is only touched then).
    fn row<'a>(
        &self,
        cpi: &'a Cpi,
        channel: usize,
        m: usize,
        buf: &'a mut Vec<Complex32>,
    ) -> &'a [Complex32] {
        if let Some(all) = cpi.decoded().and_then(|a| a.as_slice()) {
            let base = (channel * self.pulses + m) * self.samples;
            if let Some(row) = all.get(base..base + self.samples) {
                return row;
            }
        }
        buf.resize(self.samples, Complex32::default());
        self.load_row(cpi, channel, m, buf);
        buf
    }

    /// The first `out.len()` samples of pulse `m` of `channel`, from the
    /// decoded samples or, for a ci16 CPI only the GPU saw, the counts
    /// (converted as [`crate::cpi::ci16_to_cf32`] does).
    fn load_row(&self, cpi: &Cpi, channel: usize, m: usize, out: &mut [Complex32]) {
        let n = self.samples;
        if cpi.decoded().is_none()
            && let Some((iq, scale)) = cpi.ci16_channel(channel)
        {
            let (base, len) = (2 * m * n, out.len());
            for (o, pair) in out.iter_mut().zip(iq[base..base + 2 * len].chunks_exact(2)) {
                *o = Complex32::new(f32::from(pair[0]) * scale, f32::from(pair[1]) * scale);
            }
            return;
        }
        let plane = cpi.channel(channel);
        let row = plane.row(m);
        for (o, x) in out.iter_mut().zip(row.iter()) {
            *o = *x;
        }
    }

    /// The angles from one cell's channel `values`, with linear SNR `snr`,
    /// in a beam pointing at (`beam_az_deg`, `beam_el_deg`).
    pub fn angles(
        &self,
        values: &CellValues,
        snr: f64,
        beam_az_deg: f64,
        beam_el_deg: f64,
    ) -> AngleEstimate {
        let ratio = |v: Option<Complex64>| v.map(|d| (d / values.sum).re);
        let (r_az, r_el) = (ratio(values.delta_az), ratio(values.delta_el));
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
        let sigma = |r: f64, bw: f64, slope: f64| {
            boresight_sigma_deg(bw, slope, snr) * (1.0 + r * r).sqrt()
        };
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

/// True when the CPU has AVX2 and FMA.
fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Pulses per block of [`MonopulseEstimator::cell_values`]'s pass.
///
/// Measured on the 2-vCPU AMD EPYC (Zen 4), 2 x 50 cells of a 128 x 4096
/// CPI, 410-sample replica (the best of 300 timings of `cell_values`):
/// 4 pulses 330 us; 6: 420; 8: 480 (a block's rows lie 32 KB apart, so
/// their samples share L1 sets, and eight rows plus the accumulators
/// overflow the 8-way cache); products summed as a tree instead of chained
/// fused multiply-adds: 405; the weights split into real and imaginary
/// accumulators (no shuffles, twice the accumulator traffic): 510; an
/// AVX-512 path (eight samples a register): 1.04x, the loop being bound by
/// the L1 cache rather than by instructions.
const PULSE_BLOCK: usize = 4;

/// `z[i] += c[0] x[0][i] + .. + c[K-1] x[K-1][i]`, in that order: `K`
/// [`accumulate_portable`]s with one load and store of `z`.
#[inline]
fn accumulate_block<const K: usize>(
    z: &mut [Complex32],
    x: [&[Complex32]; K],
    c: [Complex32; K],
    avx2: bool,
) {
    #[cfg(target_arch = "x86_64")]
    if avx2 {
        // SAFETY: the caller checked that the CPU has AVX2 and FMA.
        unsafe { accumulate_block_avx2(z, x, c) };
        return;
    }
    let _ = avx2;
    for j in 0..K {
        accumulate_portable(z, x[j], c[j]);
    }
}

/// `z[i] += c * x[i]`: two fused multiply-adds per component (real:
/// `x.re c.re - (x.im c.im - z.re)`, imaginary: `x.im c.re + (x.re c.im +
/// z.im)`), the operations [`accumulate_block_avx2`] makes, so the same bits.
fn accumulate_portable(z: &mut [Complex32], x: &[Complex32], c: Complex32) {
    for (acc, &v) in z.iter_mut().zip(x) {
        let t_re = v.im.mul_add(c.im, -acc.re);
        let t_im = v.re.mul_add(c.im, acc.im);
        *acc = Complex32::new(v.re.mul_add(c.re, -t_re), v.im.mul_add(c.re, t_im));
    }
}

/// [`accumulate_block`] with AVX2 and FMA, four samples at a time: per
/// pulse `t = fmaddsub(swap(x), c.im, z)`, `z = fmaddsub(x, c.re, t)` (even
/// lanes subtract, odd lanes add).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn accumulate_block_avx2<const K: usize>(
    z: &mut [Complex32],
    x: [&[Complex32]; K],
    c: [Complex32; K],
) {
    use std::arch::x86_64::*;
    let len = x.iter().fold(z.len(), |l, r| l.min(r.len()));
    let body = len / 4 * 4;
    let zp = z.as_mut_ptr() as *mut f32;
    let xp = x.map(|r| r.as_ptr() as *const f32);
    let cr = c.map(|c| _mm256_set1_ps(c.re));
    let ci = c.map(|c| _mm256_set1_ps(c.im));
    for i in (0..body).step_by(4) {
        // SAFETY: i + 4 <= body <= len of every slice; unaligned accesses.
        unsafe {
            let mut acc = _mm256_loadu_ps(zp.add(2 * i));
            for j in 0..K {
                let v = _mm256_loadu_ps(xp[j].add(2 * i));
                let t = _mm256_fmaddsub_ps(_mm256_permute_ps::<0b1011_0001>(v), ci[j], acc);
                acc = _mm256_fmaddsub_ps(v, cr[j], t);
            }
            _mm256_storeu_ps(zp.add(2 * i), acc);
        }
    }
    for j in 0..K {
        accumulate_portable(&mut z[body..len], &x[j][body..len], c[j]);
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
    fn vector_blocks_give_the_portable_bits() {
        let x: Vec<Vec<Complex32>> = (0..PULSE_BLOCK)
            .map(|j| {
                (0..37)
                    .map(|i| {
                        let t = (i + 5 * j) as f32;
                        Complex32::new((t * 0.37).sin(), (t * 1.1).cos() * 3.0)
                    })
                    .collect()
            })
            .collect();
        let c: [Complex32; PULSE_BLOCK] =
            std::array::from_fn(|j| Complex32::from_polar(1.0 - 0.1 * j as f32, 0.7 * j as f32));
        let rows: [&[Complex32]; PULSE_BLOCK] = std::array::from_fn(|j| x[j].as_slice());
        let start: Vec<Complex32> = x[0].iter().map(|v| v * 0.5).collect();
        // The block: the same bits as one accumulation per pulse, in order.
        let mut want = start.clone();
        for j in 0..PULSE_BLOCK {
            accumulate_portable(&mut want, rows[j], c[j]);
        }
        for avx2 in [false, has_avx2()] {
            let mut got = start.clone();
            accumulate_block(&mut got, rows, c, avx2);
            assert_eq!(got, want, "avx2 {avx2}");
        }
        // And it is the complex sum.
        for i in 0..37 {
            let direct = start[i] + (0..PULSE_BLOCK).map(|j| c[j] * x[j][i]).sum::<Complex32>();
            assert!((want[i] - direct).norm() < 1e-5, "{i}");
        }
    }

    #[test]
    fn textbook_check_value() {
        // formats.md: A = 2 deg, slope 1.6, 20 dB -> 0.088 deg.
        assert!((boresight_sigma_deg(2.0, 1.6, 100.0) - 0.0884).abs() < 1e-4);
    }
}
