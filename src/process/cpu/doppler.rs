//! Doppler processing: corner turn (pulse-major to range-major), window,
//! FFT across pulses, FFT shift and square-law power, fused per block of
//! range bins so the transposed data never exists as a whole.

use rayon::prelude::*;
use rustfft::num_complex::Complex32;
use rustfft::{Fft, FftPlanner};
use std::sync::Arc;

/// Range bins per parallel work item: 64 x 128 pulses x 8 B = 64 KiB, which
/// sits in L2 while it is transposed and transformed.
const RANGE_BLOCK: usize = 64;

/// Pulses per tile of the corner turn: 8 x 8 B = one 64-byte cache line.
const PULSE_TILE: usize = 8;

/// Doppler FFT stage for one CPI shape.
pub struct DopplerProcessor {
    pulses: usize,
    samples: usize,
    fft: Arc<dyn Fft<f32>>,
    window: Vec<f32>,
}

impl DopplerProcessor {
    /// Plans the Doppler FFT over `window.len()` pulses for `samples` range bins.
    pub fn new(planner: &mut FftPlanner<f32>, samples: usize, window: &[f32]) -> Self {
        DopplerProcessor {
            pulses: window.len(),
            samples,
            fft: planner.plan_fft_forward(window.len()),
            window: window.to_vec(),
        }
    }

    /// [`Self::block`] compiled for AVX2 (chosen at run time; the build
    /// targets baseline x86-64). Same operations, so the same bits.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn block_avx2(
        &self,
        compressed: &[Complex32],
        b: usize,
        block: &mut [Complex32],
        scratch: &mut [Complex32],
        out: &mut [f32],
    ) {
        self.block(compressed, b, block, scratch, out);
    }

    /// One block of `RANGE_BLOCK` range bins (block index `b`): corner turn
    /// and window into `block`, FFT, shift and power into `out`.
    #[inline(always)]
    fn block(
        &self,
        compressed: &[Complex32],
        b: usize,
        block: &mut [Complex32],
        scratch: &mut [Complex32],
        out: &mut [f32],
    ) {
        let (p, n) = (self.pulses, self.samples);
        let shift = p - p / 2; // out[d] = in[(d + shift) % P]
        let r0 = b * RANGE_BLOCK;
        let rows = out.len() / p;
        // Corner turn with the window applied, in tiles of PULSE_TILE
        // pulses: each block row's cache line is written whole, once
        // (writing one pulse at a time, stride P, thrashes a few L1 sets).
        for m0 in (0..p).step_by(PULSE_TILE) {
            let m1 = (m0 + PULSE_TILE).min(p);
            for r in 0..rows {
                let dst = &mut block[r * p + m0..r * p + m1];
                for ((d, m), &w) in dst.iter_mut().zip(m0..m1).zip(&self.window[m0..m1]) {
                    *d = compressed[m * n + r0 + r] * w;
                }
            }
        }
        let block = &mut block[..rows * p];
        self.fft.process_with_scratch(block, scratch);
        for (row_in, row_out) in block.chunks_exact(p).zip(out.chunks_exact_mut(p)) {
            let (head, tail) = row_out.split_at_mut(p - shift);
            for (o, z) in head.iter_mut().zip(&row_in[shift..]) {
                *o = z.norm_sqr();
            }
            for (o, z) in tail.iter_mut().zip(&row_in[..shift]) {
                *o = z.norm_sqr();
            }
        }
    }

    /// `compressed` is pulse-major (`P` rows of `N`); `power` receives the
    /// range-major map (`N` rows of `P`), FFT-shifted so zero Doppler is at
    /// bin `P/2`.
    pub fn power_map(&self, compressed: &[Complex32], power: &mut [f32]) {
        let p = self.pulses;
        power
            .par_chunks_mut(RANGE_BLOCK * p)
            .enumerate()
            .for_each_init(
                || {
                    (
                        vec![Complex32::default(); RANGE_BLOCK * p],
                        vec![Complex32::default(); self.fft.get_inplace_scratch_len()],
                    )
                },
                |(block, scratch), (b, out)| {
                    #[cfg(target_arch = "x86_64")]
                    if std::arch::is_x86_feature_detected!("avx2") {
                        // SAFETY: the CPU has AVX2, checked just above.
                        unsafe { self.block_avx2(compressed, b, block, scratch, out) };
                        return;
                    }
                    self.block(compressed, b, block, scratch, out);
                },
            );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Naive DFT, checked first against a hand-computed transform.
    fn naive_dft(x: &[Complex32]) -> Vec<Complex32> {
        let n = x.len();
        (0..n)
            .map(|k| {
                x.iter()
                    .enumerate()
                    .fold(Complex32::default(), |acc, (m, &v)| {
                        let ph = -2.0 * std::f64::consts::PI * (k * m) as f64 / n as f64;
                        acc + v * Complex32::new(ph.cos() as f32, ph.sin() as f32)
                    })
            })
            .collect()
    }

    #[test]
    fn naive_dft_matches_hand_computation() {
        // DFT of [1, 2, 3, 4] = [10, -2+2j, -2, -2-2j].
        let x: Vec<Complex32> = [1.0, 2.0, 3.0, 4.0]
            .iter()
            .map(|&v| Complex32::new(v, 0.0))
            .collect();
        let want = [
            Complex32::new(10.0, 0.0),
            Complex32::new(-2.0, 2.0),
            Complex32::new(-2.0, 0.0),
            Complex32::new(-2.0, -2.0),
        ];
        for (a, b) in naive_dft(&x).iter().zip(want) {
            assert!((a - b).norm() < 1e-5);
        }
    }

    #[test]
    fn power_map_is_windowed_shifted_dft_power_across_pulses() {
        for &(p, n) in &[(16usize, 70usize), (15, 130), (8, 1)] {
            let window: Vec<f32> = (0..p).map(|m| 0.5 + 0.03 * m as f32).collect();
            let compressed: Vec<Complex32> = (0..p * n)
                .map(|i| {
                    Complex32::new(
                        ((i * 7919) % 101) as f32 / 50.0 - 1.0,
                        ((i * 104_729) % 97) as f32 / 48.0 - 1.0,
                    )
                })
                .collect();
            let mut planner = FftPlanner::new();
            let dp = DopplerProcessor::new(&mut planner, n, &window);
            let mut power = vec![0.0; p * n];
            dp.power_map(&compressed, &mut power);
            for r in 0..n {
                let col: Vec<Complex32> =
                    (0..p).map(|m| compressed[m * n + r] * window[m]).collect();
                let spec = naive_dft(&col);
                for d in 0..p {
                    // numpy.fft.fftshift: zero frequency at index P/2.
                    let k = (d + p - p / 2) % p;
                    let want = spec[k].norm_sqr();
                    let got = power[r * p + d];
                    assert!(
                        (got - want).abs() <= 1e-4 * want.max(1.0),
                        "p={p} r={r} d={d}: {got} vs {want}"
                    );
                }
            }
        }
    }
}
