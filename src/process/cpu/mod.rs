//! The CPU processing chain, one file per stage, using every core (rayon).
//!
//! pulse compression ([`pulse_compression`]) -> Doppler FFT and power
//! ([`doppler`]) -> 2-D CFAR ([`cfar`]). Buffers and FFT plans are made once
//! per radar configuration and reused for every CPI.

pub mod cfar;
pub mod doppler;
pub mod pulse_compression;

use crate::cpi::Cpi;
use crate::process::{Backend, ChainPlan, CpiDetections, ProcessError, RangeDopplerMap};
use doppler::DopplerProcessor;
use pulse_compression::PulseCompressor;
use rustfft::FftPlanner;
use rustfft::num_complex::Complex32;
use std::time::{Duration, Instant};

/// Wall time spent in each stage of the last CPI.
#[derive(Debug, Clone, Copy, Default)]
pub struct StageTimes {
    /// Copy of the detection channel into a contiguous buffer (only when
    /// the CPI is not in standard layout, or is ci16 counts not yet
    /// converted: then this is their conversion; otherwise ~0).
    pub gather: Duration,
    /// Matched filter (FFT, multiply, IFFT).
    pub pulse_compression: Duration,
    /// Corner turn, window, Doppler FFT, power.
    pub doppler: Duration,
    /// CFAR test and detection list.
    pub cfar: Duration,
}

/// The CPU backend.
pub struct CpuChain {
    plan: ChainPlan,
    compressor: PulseCompressor,
    doppler: DopplerProcessor,
    /// Contiguous copy of the detection channel, for non-standard layouts
    /// and unconverted ci16 CPIs.
    pulses: Vec<Complex32>,
    compressed: Vec<Complex32>,
    map: RangeDopplerMap,
    times: StageTimes,
    /// The Doppler stage's per-bin weights, for [`Backend::detection_channel_values`].
    doppler_weights: crate::dsp::window::DopplerBinWeights,
}

impl CpuChain {
    /// Builds the chain for `plan`: plans FFTs and allocates the CPI buffers.
    pub fn new(plan: ChainPlan) -> Self {
        let mut planner = FftPlanner::new();
        let (p, n) = (plan.pulses, plan.samples);
        CpuChain {
            compressor: PulseCompressor::new(&mut planner, n, &plan.replica, plan.fft_len),
            doppler: DopplerProcessor::new(&mut planner, n, &plan.doppler_window),
            pulses: Vec::new(),
            compressed: vec![Complex32::default(); p * n],
            map: RangeDopplerMap {
                range_bins: n,
                doppler_bins: p,
                power: vec![0.0; p * n],
            },
            times: StageTimes::default(),
            doppler_weights: crate::dsp::window::DopplerBinWeights::new(&plan.doppler_window),
            plan,
        }
    }

    /// The plan this chain runs.
    pub fn plan(&self) -> &ChainPlan {
        &self.plan
    }

    /// Stage times of the last processed CPI.
    pub fn stage_times(&self) -> StageTimes {
        self.times
    }
}

impl Backend for CpuChain {
    fn name(&self) -> &'static str {
        "cpu"
    }

    fn detection_channel_values(
        &self,
        cells: &[(usize, usize)],
    ) -> Option<Vec<rustfft::num_complex::Complex64>> {
        use rayon::prelude::*;
        use rustfft::num_complex::Complex64;
        let (p, n) = (self.plan.pulses, self.plan.samples);
        let (compressed, weights) = (&self.compressed, &self.doppler_weights);
        // Each cell reads one sample from every pulse row (32 KB apart for
        // 4096 samples): latency-bound, so the cells are shared out.
        Some(
            cells
                .par_iter()
                .map(|&(r, d)| {
                    if r >= n || d >= p {
                        return Complex64::new(0.0, 0.0);
                    }
                    weights
                        .weights(d)
                        .iter()
                        .enumerate()
                        .map(|(m, w)| {
                            let z = compressed[m * n + r];
                            w * Complex64::new(f64::from(z.re), f64::from(z.im))
                        })
                        .sum()
                })
                .collect(),
        )
    }

    fn process(&mut self, cpi: &Cpi) -> Result<CpiDetections, ProcessError> {
        let plan = &self.plan;
        let (c, p, n) = cpi.dim();
        if p != plan.pulses || n != plan.samples || plan.channel >= c {
            return Err(ProcessError::Shape {
                cpi: cpi.meta.index,
                got: (c, p, n),
                expected: (plan.pulses, plan.samples),
            });
        }
        let t0 = Instant::now();
        // A standard-layout CPI holds each channel as one contiguous block:
        // compress straight from it; copy only for other layouts. A ci16 CPI
        // nothing has converted yet (a GPU fallback) has just its detection
        // channel converted, into the scratch buffer (same values as
        // `Cpi::samples`: `count * scale`).
        let input: &[Complex32] = match (cpi.decoded(), cpi.ci16_channel(plan.channel)) {
            (None, Some((iq, scale))) => {
                self.pulses
                    .resize(plan.pulses * plan.samples, Complex32::default());
                crate::cpi::ci16_to_cf32(iq, scale, &mut self.pulses);
                &self.pulses
            }
            _ => {
                let channel = cpi.channel(plan.channel);
                match channel.to_slice() {
                    Some(s) => s,
                    None => {
                        self.pulses
                            .resize(plan.pulses * plan.samples, Complex32::default());
                        for (d, s) in self.pulses.iter_mut().zip(channel.iter()) {
                            *d = *s;
                        }
                        &self.pulses
                    }
                }
            }
        };
        let t1 = Instant::now();
        // The detection channel is checked inside the compression pass; any
        // other channels (carried for monopulse) get a parallel check here.
        let others_finite = (0..c)
            .filter(|&ch| ch != plan.channel)
            .all(|ch| cpi.channel_is_finite(ch));
        if !others_finite || !self.compressor.compress(input, &mut self.compressed) {
            return Err(ProcessError::NonFinite(cpi.meta.index));
        }
        let t2 = Instant::now();
        self.doppler
            .power_map(&self.compressed, &mut self.map.power);
        let t3 = Instant::now();
        let detections = cfar::detect(plan, &self.map.power);
        let t4 = Instant::now();
        self.times = StageTimes {
            gather: t1 - t0,
            pulse_compression: t2 - t1,
            doppler: t3 - t2,
            cfar: t4 - t3,
        };
        Ok(CpiDetections {
            detections,
            cells_tested: plan.cells_tested(),
        })
    }

    fn last_map(&self) -> Option<&RangeDopplerMap> {
        Some(&self.map)
    }
}
