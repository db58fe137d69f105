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

/// Pulses per column strip of the AVX2 corner turn (one cache line of a
/// block row; 8 measured faster than 16, 32 and 64).
const PULSE_TILE_AVX2: usize = 8;

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
    /// targets baseline x86-64), with the corner turn done by 4 x 4 register
    /// transposes. Same multiplications, so the same bits.
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
        let p = self.pulses;
        let rows = out.len() / p;
        let (p4, rows4) = (p / 4 * 4, rows / 4 * 4);
        let r0 = b * RANGE_BLOCK;
        self.turn_avx2(compressed, r0, p4, rows4, block);
        // The edges that do not make whole 4 x 4 tiles.
        self.turn(compressed, r0, p4..p, 0..rows, block);
        self.turn(compressed, r0, 0..p4, rows4..rows, block);
        self.transform(block, rows, scratch, out);
    }

    /// The corner turn of pulses `0..p4` and block rows `0..rows4` (both
    /// multiples of 4), windowed, in 4 x 4 tiles: four pulses' runs of four
    /// range bins are loaded as four registers (a complex sample is one
    /// 64-bit lane), transposed in registers, multiplied by the four
    /// pulses' weights and stored as four block rows' runs of four pulses.
    /// Loads run along the pulses and stores along the block's rows, in
    /// column strips of [`PULSE_TILE_AVX2`] pulses.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn turn_avx2(
        &self,
        compressed: &[Complex32],
        r0: usize,
        p4: usize,
        rows4: usize,
        block: &mut [Complex32],
    ) {
        use std::arch::x86_64::*;
        let (p, n) = (self.pulses, self.samples);
        assert!(p4 <= p && rows4 * p <= block.len() && r0 + rows4 <= n);
        assert!(p4 == 0 || (p4 - 1) * n + r0 + rows4 <= compressed.len());
        let src = compressed.as_ptr() as *const f64;
        let dst = block.as_mut_ptr() as *mut f32;
        for m0 in (0..p4).step_by(PULSE_TILE_AVX2) {
            let m1 = (m0 + PULSE_TILE_AVX2).min(p4);
            for r in (0..rows4).step_by(4) {
                for m in (m0..m1).step_by(4) {
                    let w = &self.window[m..m + 4];
                    // SAFETY: m + 3 < p4 <= p and r + 3 < rows4, so every
                    // load lies in `compressed` and every store in `block`
                    // (checked by the asserts above); unaligned accesses.
                    unsafe {
                        let a0 = _mm256_loadu_pd(src.add(m * n + r0 + r));
                        let a1 = _mm256_loadu_pd(src.add((m + 1) * n + r0 + r));
                        let a2 = _mm256_loadu_pd(src.add((m + 2) * n + r0 + r));
                        let a3 = _mm256_loadu_pd(src.add((m + 3) * n + r0 + r));
                        let t0 = _mm256_unpacklo_pd(a0, a1);
                        let t1 = _mm256_unpackhi_pd(a0, a1);
                        let t2 = _mm256_unpacklo_pd(a2, a3);
                        let t3 = _mm256_unpackhi_pd(a2, a3);
                        let wv = _mm256_setr_ps(w[0], w[0], w[1], w[1], w[2], w[2], w[3], w[3]);
                        let rows_out = [
                            _mm256_permute2f128_pd::<0x20>(t0, t2),
                            _mm256_permute2f128_pd::<0x20>(t1, t3),
                            _mm256_permute2f128_pd::<0x31>(t0, t2),
                            _mm256_permute2f128_pd::<0x31>(t1, t3),
                        ];
                        for (j, v) in rows_out.into_iter().enumerate() {
                            let v = _mm256_mul_ps(_mm256_castpd_ps(v), wv);
                            _mm256_storeu_ps(dst.add(2 * ((r + j) * p + m)), v);
                        }
                    }
                }
            }
        }
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
        let rows = out.len() / self.pulses;
        self.turn(compressed, b * RANGE_BLOCK, 0..self.pulses, 0..rows, block);
        self.transform(block, rows, scratch, out);
    }

    /// Corner turn with the window applied, `block[r * P + m] =
    /// compressed[m * N + r0 + r] * window[m]` for pulses `ms` and block rows
    /// `rs`, in tiles of [`PULSE_TILE`] pulses: each block row's cache line
    /// is written whole, once (writing one pulse at a time, stride P,
    /// thrashes a few L1 sets).
    #[inline(always)]
    fn turn(
        &self,
        compressed: &[Complex32],
        r0: usize,
        ms: std::ops::Range<usize>,
        rs: std::ops::Range<usize>,
        block: &mut [Complex32],
    ) {
        let (p, n) = (self.pulses, self.samples);
        for m0 in ms.clone().step_by(PULSE_TILE) {
            let m1 = (m0 + PULSE_TILE).min(ms.end);
            for r in rs.clone() {
                let dst = &mut block[r * p + m0..r * p + m1];
                for ((d, m), &w) in dst.iter_mut().zip(m0..m1).zip(&self.window[m0..m1]) {
                    *d = compressed[m * n + r0 + r] * w;
                }
            }
        }
    }

    /// FFT across pulses of the block's first `rows` rows, then shift and
    /// power into `out`.
    #[inline(always)]
    fn transform(
        &self,
        block: &mut [Complex32],
        rows: usize,
        scratch: &mut [Complex32],
        out: &mut [f32],
    ) {
        let p = self.pulses;
        let shift = p - p / 2; // out[d] = in[(d + shift) % P]
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
