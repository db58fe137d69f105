//! Pulse compression by FFT fast convolution with the (tapered) replica.

use rayon::prelude::*;
use rustfft::num_complex::Complex32;
use rustfft::{Fft, FftPlanner};
use std::sync::Arc;

/// Matched filter for one radar configuration: FFT length, plans and the
/// conjugate replica spectrum are made once and reused for every CPI.
pub struct PulseCompressor {
    samples: usize,
    fft_len: usize,
    forward: Arc<dyn Fft<f32>>,
    inverse: Arc<dyn Fft<f32>>,
    /// `conj(FFT_M(replica)) / M`: the 1/M makes the output the plain
    /// correlation `y[n] = sum_l x[n+l] conj(s[l])`.
    filter: Vec<Complex32>,
}

impl PulseCompressor {
    /// Plans the matched filter for pulses of `samples` and `replica`,
    /// with fast-convolution length `fft_len >= samples + replica.len() - 1`.
    pub fn new(
        planner: &mut FftPlanner<f32>,
        samples: usize,
        replica: &[Complex32],
        fft_len: usize,
    ) -> Self {
        assert!(
            fft_len >= samples + replica.len() - 1,
            "plan guarantees no wrap"
        );
        let forward = planner.plan_fft_forward(fft_len);
        let inverse = planner.plan_fft_inverse(fft_len);
        let mut filter = vec![Complex32::default(); fft_len];
        filter[..replica.len()].copy_from_slice(replica);
        forward.process(&mut filter);
        let scale = 1.0 / fft_len as f32;
        for z in &mut filter {
            *z = z.conj() * scale;
        }
        PulseCompressor {
            samples,
            fft_len,
            forward,
            inverse,
            filter,
        }
    }

    /// [`Self::pulse`] compiled for AVX2 (chosen at run time; the build
    /// targets baseline x86-64). Same operations, so the same bits.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn pulse_avx2(
        &self,
        x: &[Complex32],
        buf: &mut [Complex32],
        scratch: &mut [Complex32],
        y: &mut [Complex32],
    ) -> bool {
        self.pulse::<true>(x, buf, scratch, y)
    }

    /// One pulse `x` into `y` through the FFT buffer `buf`; false (and `y`
    /// untouched) when `x` holds a NaN or Inf. `AVX2`: the caller runs with
    /// AVX2 enabled (only [`Self::pulse_avx2`] sets it).
    #[inline(always)]
    fn pulse<const AVX2: bool>(
        &self,
        x: &[Complex32],
        buf: &mut [Complex32],
        scratch: &mut [Complex32],
        y: &mut [Complex32],
    ) -> bool {
        let n = self.samples;
        // The copy and the finiteness check in one pass; a
        // non-short-circuiting fold, so it vectorises.
        let finite = buf[..n].iter_mut().zip(x).fold(true, |acc, (b, &z)| {
            *b = z;
            acc & z.re.is_finite() & z.im.is_finite()
        });
        if !finite {
            return false;
        }
        buf[n..].fill(Complex32::default());
        self.forward.process_with_scratch(buf, scratch);
        #[cfg(target_arch = "x86_64")]
        if AVX2 {
            // SAFETY: AVX2 is set only by `pulse_avx2`, which runs with AVX2.
            unsafe { multiply_avx2(buf, &self.filter) };
        } else {
            multiply(buf, &self.filter);
        }
        #[cfg(not(target_arch = "x86_64"))]
        multiply(buf, &self.filter);
        self.inverse.process_with_scratch(buf, scratch);
        y.copy_from_slice(&buf[..n]);
        true
    }

    /// Compresses `pulses` (row-major, `samples` per row) into `out` (same
    /// layout), in parallel over pulses. Output `n` is aligned with fast time
    /// `t_n`: the correlation never wraps because the input is zero-padded.
    ///
    /// Returns false, possibly without finishing, when any input sample is NaN
    /// or Inf: the finiteness check rides on the copy into the FFT buffer, so
    /// it costs no extra pass over the CPI.
    pub fn compress(&self, pulses: &[Complex32], out: &mut [Complex32]) -> bool {
        let n = self.samples;
        out.par_chunks_mut(n)
            .zip(pulses.par_chunks(n))
            .map_init(
                || {
                    let scratch = self
                        .forward
                        .get_inplace_scratch_len()
                        .max(self.inverse.get_inplace_scratch_len());
                    (
                        vec![Complex32::default(); self.fft_len],
                        vec![Complex32::default(); scratch],
                    )
                },
                |(buf, scratch), (y, x)| {
                    #[cfg(target_arch = "x86_64")]
                    if std::arch::is_x86_feature_detected!("avx2") {
                        // SAFETY: the CPU has AVX2, checked just above.
                        return unsafe { self.pulse_avx2(x, buf, scratch, y) };
                    }
                    self.pulse::<false>(x, buf, scratch, y)
                },
            )
            .all(|finite| finite)
    }
}

/// `b[i] *= h[i]`, num-complex's product: `(br hr - bi hi, br hi + bi hr)`.
fn multiply(b: &mut [Complex32], h: &[Complex32]) {
    for (b, h) in b.iter_mut().zip(h) {
        *b *= h;
    }
}

/// [`multiply`] four samples at a time: `b * dup(hr) -+ swap(b) * dup(hi)`
/// with `addsub` (even lanes subtract, odd lanes add), the same products
/// and sums as [`multiply`] (addition commutes exactly), so the same bits.
/// No FMA, which would round differently.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn multiply_avx2(b: &mut [Complex32], h: &[Complex32]) {
    use std::arch::x86_64::*;
    let len = b.len().min(h.len());
    let body = len / 4 * 4;
    let (bp, hp) = (b.as_mut_ptr() as *mut f32, h.as_ptr() as *const f32);
    for i in (0..body).step_by(4) {
        // SAFETY: i + 4 <= body <= len of both slices; unaligned accesses.
        unsafe {
            let z = _mm256_loadu_ps(bp.add(2 * i));
            let w = _mm256_loadu_ps(hp.add(2 * i));
            let re = _mm256_mul_ps(z, _mm256_moveldup_ps(w));
            let im = _mm256_mul_ps(_mm256_permute_ps::<0b1011_0001>(z), _mm256_movehdup_ps(w));
            _mm256_storeu_ps(bp.add(2 * i), _mm256_addsub_ps(re, im));
        }
    }
    multiply(&mut b[body..len], &h[body..len]);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Direct (time-domain) correlation, the definition the FFT path must match.
    fn direct(x: &[Complex32], s: &[Complex32]) -> Vec<Complex32> {
        (0..x.len())
            .map(|n| {
                (0..s.len())
                    .filter(|l| n + l < x.len())
                    .map(|l| {
                        let a = x[n + l];
                        let b = s[l].conj();
                        rustfft::num_complex::Complex64::new(a.re as f64, a.im as f64)
                            * rustfft::num_complex::Complex64::new(b.re as f64, b.im as f64)
                    })
                    .sum::<rustfft::num_complex::Complex64>()
            })
            .map(|z| Complex32::new(z.re as f32, z.im as f32))
            .collect()
    }

    #[test]
    fn avx2_product_has_the_portable_bits() {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            let h = pseudo_random(1031, 3);
            let mut want = pseudo_random(1031, 4);
            // Large and tiny magnitudes too, where a fused or reordered
            // product would round differently.
            want[5] *= 1e30;
            want[9] *= 1e-30;
            let mut got = want.clone();
            multiply(&mut want, &h);
            // SAFETY: the CPU has AVX2, checked above.
            unsafe { multiply_avx2(&mut got, &h) };
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                assert_eq!(
                    (g.re.to_bits(), g.im.to_bits()),
                    (w.re.to_bits(), w.im.to_bits()),
                    "sample {i}"
                );
            }
        }
    }

    #[test]
    fn non_finite_input_is_reported() {
        let s = pseudo_random(5, 1);
        let mut planner = FftPlanner::new();
        let pc = PulseCompressor::new(&mut planner, 20, &s, 32);
        let mut y = vec![Complex32::default(); 60];
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            let mut x = pseudo_random(60, 2);
            x[47].im = bad;
            assert!(!pc.compress(&x, &mut y), "{bad}");
        }
    }

    fn pseudo_random(len: usize, seed: u32) -> Vec<Complex32> {
        let mut s = seed;
        let mut next = move || {
            s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (s >> 8) as f32 / (1u32 << 24) as f32 - 0.5
        };
        (0..len).map(|_| Complex32::new(next(), next())).collect()
    }

    #[test]
    fn fast_convolution_matches_direct_correlation_without_wrap() {
        // Non-power-of-two pulse length, replica longer than the FFT slack
        // would allow without padding, several pulses.
        for &(n, l) in &[(100usize, 17usize), (37, 37), (250, 1), (64, 60)] {
            let fft_len = (n + l - 1).next_power_of_two();
            let s = pseudo_random(l, 7);
            let mut planner = FftPlanner::new();
            let pc = PulseCompressor::new(&mut planner, n, &s, fft_len);
            let x = pseudo_random(3 * n, 11);
            let mut y = vec![Complex32::default(); 3 * n];
            assert!(pc.compress(&x, &mut y));
            for p in 0..3 {
                let want = direct(&x[p * n..(p + 1) * n], &s);
                let scale = want.iter().map(|z| z.norm()).fold(0.0, f32::max);
                for (a, b) in y[p * n..(p + 1) * n].iter().zip(&want) {
                    assert!((a - b).norm() <= 1e-5 * scale, "n={n} l={l}: {a} vs {b}");
                }
            }
        }
    }
}
