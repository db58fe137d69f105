//! `tews bench`: times the processing chain on a synthetic CPI, per stage,
//! against the time of the chain's FFTs alone (same sizes, same threads), so
//! the overhead around the FFTs is visible.

pub mod tracking;

use crate::cpi::{Cpi, CpiMeta};
use crate::process::cpu::CpuChain;
use crate::process::{Backend, ChainPlan, ProcessConfig, ProcessError};
use crate::radar::{RadarParams, Waveform};
use ndarray::Array3;
use rayon::prelude::*;
use rustfft::FftPlanner;
use rustfft::num_complex::Complex32;
use serde::Serialize;
use std::time::{Duration, Instant};

/// One stage's timing.
#[derive(Debug, Clone, Serialize)]
pub struct StageTiming {
    /// Stage name.
    pub stage: String,
    /// Median wall time per CPI, microseconds (GPU: median kernel time
    /// from timestamp queries).
    pub us_per_cpi: f64,
    /// GPU only: bytes the stage must read and write at least, over its
    /// kernel time, GB/s.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gb_per_s: Option<f64>,
    /// CPU only, for the stages that have FFTs: median time of the stage's
    /// FFTs alone (part of the FFTs-alone reference), microseconds. The
    /// difference to `us_per_cpi` is the stage's overhead around its FFTs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ffts_alone_us: Option<f64>,
}

/// The result of a benchmark of one backend.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    /// "cpu".
    pub backend: String,
    /// Adapter name (GPU only).
    pub adapter: Option<String>,
    /// Pulses per CPI.
    pub pulses: usize,
    /// Samples per pulse.
    pub samples_per_pulse: usize,
    /// Fast-convolution FFT length.
    pub fft_len: usize,
    /// Sample format of the synthetic CPI timed: "cf32" or "ci16" (see
    /// [`BenchDatatype`]).
    pub datatype: BenchDatatype,
    /// Worker threads.
    pub threads: usize,
    /// Timed iterations (after warm-up).
    pub iterations: usize,
    /// Median whole-chain time per CPI, microseconds.
    pub us_per_cpi: f64,
    /// Complex samples per second through the chain, millions.
    pub msamples_per_s: f64,
    /// Median time of the chain's FFTs alone, microseconds.
    pub fft_only_us: f64,
    /// `us_per_cpi / fft_only_us`.
    pub chain_over_fft: f64,
    /// Median per stage.
    pub stages: Vec<StageTiming>,
    /// With `--channels 2|3`: the cost of the monopulse angles.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub monopulse: Option<MonopulseBench>,
    /// GPU only: the chain's memory traffic per CPI, from its recipe.
    #[serde(flatten)]
    pub traffic: Option<GpuTraffic>,
}

/// The GPU chain's memory traffic per CPI from its recipe (plain data: the
/// same on every adapter; the model is in docs/gpu.md).
#[derive(Debug, Clone, Serialize)]
pub struct GpuTraffic {
    /// The upload form the figures are for ("cf32" or "ci16").
    pub upload: String,
    /// Bytes all kernels read and write per CPI.
    pub bytes_moved_per_cpi: u64,
    /// The floor: input read once, the compressed CPI's round trip for the
    /// corner turn, the power map read once.
    pub bytes_floor_per_cpi: u64,
    /// `bytes_moved_per_cpi / bytes_floor_per_cpi`.
    pub moved_over_floor: f64,
    /// Dispatches recorded per CPI.
    pub dispatches_per_cpi: usize,
    /// How the range compression ran: "registers" (one dispatch, the row
    /// in registers), "registers-turned" (the same storing the CPI corner
    /// turned: no turn dispatch), "four-step" (three dispatches) or
    /// "separate" (a forward and an inverse FFT).
    pub range_convolution: String,
    /// Per stage: dispatches, bytes read, bytes written.
    pub traffic_stages: Vec<crate::process::gpu::chain::StageRecipe>,
}

impl GpuTraffic {
    /// The traffic of `recipe` for `upload`.
    pub fn of(
        recipe: &crate::process::gpu::chain::ChainRecipe,
        upload: crate::process::gpu::chain::SampleUpload,
    ) -> Self {
        use crate::process::gpu::chain::{SampleUpload, StageRecipe};
        use crate::process::gpu::convolution::ConvolutionSchedule;
        let stages: Vec<StageRecipe> = recipe.stage_recipes(upload);
        let moved: u64 = stages.iter().map(|s| s.bytes()).sum();
        let floor = recipe.bytes_floor(upload);
        GpuTraffic {
            upload: match upload {
                SampleUpload::Cf32 => "cf32",
                SampleUpload::Ci16 => "ci16",
            }
            .into(),
            bytes_moved_per_cpi: moved,
            bytes_floor_per_cpi: floor,
            moved_over_floor: moved as f64 / floor as f64,
            dispatches_per_cpi: stages.iter().map(|s| s.dispatches).sum(),
            range_convolution: match recipe.range_convolution.as_ref().map(|c| &c.schedule) {
                Some(ConvolutionSchedule::Registers(r)) if r.turned => "registers-turned",
                Some(ConvolutionSchedule::Registers(_)) => "registers",
                Some(ConvolutionSchedule::FourStep(_)) => "four-step",
                None => "separate",
            }
            .into(),
            traffic_stages: stages,
        }
    }
}

/// The cost of monopulse angles ([`crate::plots::PlotMaker`]) for a number of
/// plots per CPI, against the chain's time on one channel.
#[derive(Debug, Clone, Serialize)]
pub struct MonopulseBench {
    /// Receive channels (sum plus difference channels).
    pub channels: usize,
    /// Plots per CPI measured.
    pub plots: usize,
    /// Replica length L, samples (each plot costs `channels x P x L`
    /// complex multiply-adds).
    pub replica_len: usize,
    /// Median time of plot extraction with beam angles only, microseconds.
    pub plots_beam_us: f64,
    /// Median time of plot extraction with monopulse angles, microseconds.
    pub plots_monopulse_us: f64,
    /// `(plots_monopulse_us - plots_beam_us) / us_per_cpi` of the report:
    /// the monopulse cost over single-channel processing of the same CPI.
    pub overhead_fraction: f64,
}

/// Times monopulse angle measurement for `plots` plots per CPI on a
/// `channels`-channel synthetic CPI (`pulses` x `samples`), against plots
/// with beam angles only; `chain_us` is the single-channel chain time the
/// overhead is stated against.
pub fn bench_monopulse(
    pulses: usize,
    samples: usize,
    channels: usize,
    plots: usize,
    config: &ProcessConfig,
    iterations: usize,
    chain_us: f64,
) -> Result<MonopulseBench, ProcessError> {
    use crate::plots::{PlotMaker, extract_plots};
    use crate::process::Detection;
    let (mut params, sum_cpi) = synthetic(pulses, samples);
    let names = ["sum", "delta_az", "delta_el"];
    let channels = channels.clamp(2, 3);
    params.num_channels = channels;
    params.channel_names = names[..channels].iter().map(|s| s.to_string()).collect();
    params.monopulse = Some(crate::radar::Monopulse {
        beamwidth_az_deg: 2.0,
        beamwidth_el_deg: 2.0,
        slope_az: 1.6,
        slope_el: 1.6,
    });
    // Difference channels: a fraction of the sum channel's samples.
    let sum = sum_cpi.channel(0).to_owned();
    let all = Array3::from_shape_fn((channels, pulses, samples), |(c, m, n)| {
        sum[[m, n]] * (1.0 - 0.3 * c as f32)
    });
    let cpi = Cpi::new(sum_cpi.meta.clone(), all);
    let plan = ChainPlan::new(&params, config)?;
    let replica_len = plan.replica.len();
    let maker = PlotMaker::new(&params, &plan, None);
    // The sum channel's values come from the CPU chain that processed the
    // CPI, as in a CPU run (tews::pipeline).
    let mut chain = CpuChain::new(plan.clone());
    chain.process(&cpi)?;
    // Isolated detections spread over the map (distinct plots), 20 dB.
    let plots = plots.max(1);
    let detections: Vec<Detection> = (0..plots)
        .map(|i| Detection {
            range_bin: ((i * 7919) % (samples - 2) + 1) as u32,
            doppler_bin: ((i * 37) % pulses) as u32,
            power: 100.0,
            noise: 1.0,
            neighbours: [50.0; 4],
        })
        .collect();
    let (mut beam, mut mono) = (Vec::new(), Vec::new());
    for i in 0..5 + iterations.max(1) {
        let t = Instant::now();
        std::hint::black_box(extract_plots(&detections, &params, &cpi.meta));
        let b = t.elapsed();
        let t = Instant::now();
        std::hint::black_box(maker.plots_with(&detections, &cpi, &|cells| {
            chain.detection_channel_values(cells)
        }));
        let m = t.elapsed();
        if i >= 5 {
            beam.push(b);
            mono.push(m);
        }
    }
    let (plots_beam_us, plots_monopulse_us) = (median(&mut beam), median(&mut mono));
    Ok(MonopulseBench {
        channels,
        plots,
        replica_len,
        plots_beam_us,
        plots_monopulse_us,
        overhead_fraction: (plots_monopulse_us - plots_beam_us) / chain_us,
    })
}

/// A synthetic CPI: deterministic noise of unit power plus three point
/// targets, LFM pulse of 10% duty cycle at 80% of the sample rate.
pub fn synthetic(pulses: usize, samples: usize) -> (RadarParams, Cpi) {
    let fs = 10e6;
    let params = RadarParams {
        sample_rate_hz: fs,
        pulses_per_cpi: pulses,
        samples_per_pulse: samples,
        pri_s: 2.0 * samples as f64 / fs,
        window_delay_s: 0.0,
        waveform: Waveform::Lfm {
            bandwidth_hz: 0.8 * fs,
            pulse_width_s: (samples as f64 / 10.0).max(1.0).round() / fs,
        },
        num_channels: 1,
        sum_channel: 0,
        channel_names: vec![],
        monopulse: None,
    };
    let mut state: u32 = 0x1234_5678;
    let mut uniform = move || {
        state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        ((state >> 8) as f32 + 0.5) / (1u32 << 24) as f32
    };
    let replica = crate::dsp::waveform::replica(&params.waveform, fs);
    let mut samples_arr = Array3::from_shape_fn((1, pulses, samples), |_| {
        // Box-Muller: unit total power.
        let (u, v) = (uniform(), uniform());
        let r = (-u.ln()).sqrt();
        let t = std::f32::consts::TAU * v;
        Complex32::new(r * t.cos(), r * t.sin())
    });
    for (k, &(start, doppler)) in [
        (samples / 4, 0.1f32),
        (samples / 2, -0.27),
        (3 * samples / 4, 0.4),
    ]
    .iter()
    .enumerate()
    {
        for m in 0..pulses {
            let ph = Complex32::from_polar(
                0.3 + 0.2 * k as f32,
                std::f32::consts::TAU * doppler * m as f32,
            );
            for (l, s) in replica.iter().enumerate() {
                if start + l < samples {
                    samples_arr[[0, m, start + l]] += s * ph;
                }
            }
        }
    }
    let meta = CpiMeta {
        index: 0,
        time_utc: time::OffsetDateTime::UNIX_EPOCH,
        carrier_hz: 1e9,
        azimuth_deg: 0.0,
        elevation_deg: 0.0,
        simulated: true,
        received_at: None,
    };
    (params, Cpi::new(meta, samples_arr))
}

/// Sample format of the synthetic CPI a bench times (`tews bench
/// --datatype`): the CPI a cf32 recording gives, or the raw counts a ci16
/// recording or live VITA 49.2 gives (the GPU uploads those as they are, 4
/// bytes a sample instead of 8, and converts them on the device; the CPU
/// chain converts them in its gather stage).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BenchDatatype {
    /// Complex float32 samples.
    #[default]
    Cf32,
    /// Interleaved int16 (I, Q) counts, [`CI16_COUNTS_PER_UNIT`] per unit.
    Ci16,
}

impl BenchDatatype {
    /// "cf32" or "ci16".
    pub fn name(self) -> &'static str {
        match self {
            BenchDatatype::Cf32 => "cf32",
            BenchDatatype::Ci16 => "ci16",
        }
    }
}

/// Counts per unit of the ci16 synthetic CPI: the simulator's default for
/// unit noise power (`256 / sqrt(noise_power)`); a power of two, so the
/// conversion back (`count / 256`) is exact.
pub const CI16_COUNTS_PER_UNIT: f32 = 256.0;

/// [`synthetic`] in the sample format `datatype`: for ci16, each I and Q
/// rounded to counts ([`CI16_COUNTS_PER_UNIT`] per unit, saturating).
pub fn synthetic_as(pulses: usize, samples: usize, datatype: BenchDatatype) -> (RadarParams, Cpi) {
    let (params, cpi) = synthetic(pulses, samples);
    match datatype {
        BenchDatatype::Cf32 => (params, cpi),
        BenchDatatype::Ci16 => {
            let count = |v: f32| {
                (v * CI16_COUNTS_PER_UNIT)
                    .round()
                    .clamp(f32::from(i16::MIN), f32::from(i16::MAX)) as i16
            };
            let iq: Vec<i16> = cpi
                .samples()
                .iter()
                .flat_map(|z| [count(z.re), count(z.im)])
                .collect();
            let cpi = Cpi::from_ci16(cpi.meta.clone(), cpi.dim(), iq, 1.0 / CI16_COUNTS_PER_UNIT)
                .expect("2 x C x P x N counts for a C x P x N CPI");
            (params, cpi)
        }
    }
}

fn median(v: &mut [Duration]) -> f64 {
    v.sort();
    v[v.len() / 2].as_secs_f64() * 1e6
}

/// Benchmarks the CPU chain: `warmup` untimed CPIs, then `iterations` timed,
/// on a synthetic CPI in `datatype`.
pub fn bench_cpu(
    pulses: usize,
    samples: usize,
    datatype: BenchDatatype,
    config: &ProcessConfig,
    warmup: usize,
    iterations: usize,
) -> Result<BenchReport, ProcessError> {
    let (params, cpi) = synthetic_as(pulses, samples, datatype);
    let plan = ChainPlan::new(&params, config)?;
    let fft_len = plan.fft_len;
    let mut chain = CpuChain::new(plan);
    let mut ffts = FftsAlone::new(pulses, samples, fft_len);
    let iterations = iterations.max(1);
    let mut total = Vec::with_capacity(iterations);
    let mut fft_only = Vec::with_capacity(iterations);
    let mut stages: [Vec<Duration>; 4] = Default::default();
    // The range FFTs alone, the Doppler FFTs alone (per stage).
    let mut stage_ffts: [Vec<Duration>; 2] = Default::default();
    // Chain and FFTs-alone alternate, so both medians see the same machine
    // load (these machines are shared): their ratio is what the run reports.
    for i in 0..warmup + iterations {
        let t = Instant::now();
        chain.process(&cpi)?;
        let elapsed = t.elapsed();
        let (range_ffts, doppler_ffts) = ffts.run();
        if i >= warmup {
            total.push(elapsed);
            fft_only.push(range_ffts + doppler_ffts);
            stage_ffts[0].push(range_ffts);
            stage_ffts[1].push(doppler_ffts);
            let s = chain.stage_times();
            for (v, d) in stages
                .iter_mut()
                .zip([s.gather, s.pulse_compression, s.doppler, s.cfar])
            {
                v.push(d);
            }
        }
    }
    let fft_only_us = median(&mut fft_only);
    let us = median(&mut total);
    let names = ["gather", "pulse_compression", "doppler_fft_power", "cfar"];
    let [range_ffts, doppler_ffts] = &mut stage_ffts;
    let stage_ffts = [
        None,
        Some(median(range_ffts)),
        Some(median(doppler_ffts)),
        None,
    ];
    Ok(BenchReport {
        backend: "cpu".into(),
        adapter: None,
        pulses,
        samples_per_pulse: samples,
        fft_len,
        datatype,
        threads: rayon::current_num_threads(),
        iterations,
        us_per_cpi: us,
        msamples_per_s: (pulses * samples) as f64 / us,
        fft_only_us,
        chain_over_fft: us / fft_only_us,
        monopulse: None,
        traffic: None,
        stages: names
            .iter()
            .zip(stages.iter_mut())
            .zip(stage_ffts)
            .map(|((n, v), ffts_alone_us)| StageTiming {
                stage: n.to_string(),
                us_per_cpi: median(v),
                gb_per_s: None,
                ffts_alone_us,
            })
            .collect(),
    })
}

/// The chain's FFTs and nothing else: per pulse a forward and an inverse
/// `fft_len`-point FFT, then `samples` Doppler FFTs of `pulses` points, with
/// the same parallel split as the chain.
struct FftsAlone {
    fwd: std::sync::Arc<dyn rustfft::Fft<f32>>,
    inv: std::sync::Arc<dyn rustfft::Fft<f32>>,
    dop: std::sync::Arc<dyn rustfft::Fft<f32>>,
    fft_len: usize,
    pulses: usize,
    range_buf: Vec<Complex32>,
    dop_buf: Vec<Complex32>,
}

impl FftsAlone {
    fn new(pulses: usize, samples: usize, fft_len: usize) -> Self {
        let mut planner = FftPlanner::<f32>::new();
        FftsAlone {
            fwd: planner.plan_fft_forward(fft_len),
            inv: planner.plan_fft_inverse(fft_len),
            dop: planner.plan_fft_forward(pulses),
            fft_len,
            pulses,
            range_buf: vec![Complex32::new(0.5, -0.25); pulses * fft_len],
            dop_buf: vec![Complex32::new(0.5, -0.25); pulses * samples],
        }
    }

    /// One CPI's worth of FFTs; returns the wall time of the range FFTs
    /// and of the Doppler FFTs.
    fn run(&mut self) -> (Duration, Duration) {
        let t = Instant::now();
        let (fwd, inv, dop) = (&self.fwd, &self.inv, &self.dop);
        self.range_buf.par_chunks_mut(self.fft_len).for_each_init(
            || {
                vec![
                    Complex32::default();
                    fwd.get_inplace_scratch_len()
                        .max(inv.get_inplace_scratch_len())
                ]
            },
            |scratch, row| {
                fwd.process_with_scratch(row, scratch);
                inv.process_with_scratch(row, scratch);
            },
        );
        let range = t.elapsed();
        let t = Instant::now();
        self.dop_buf.par_chunks_mut(64 * self.pulses).for_each_init(
            || vec![Complex32::default(); dop.get_inplace_scratch_len()],
            |scratch, block| dop.process_with_scratch(block, scratch),
        );
        (range, t.elapsed())
    }
}

/// A table a person can read.
pub fn format_table(r: &BenchReport) -> String {
    let mut s = format!(
        "backend {}  CPI {} pulses x {} samples {}  (FFT {}, {} threads, median of {})\n",
        r.backend,
        r.pulses,
        r.samples_per_pulse,
        r.datatype.name(),
        r.fft_len,
        r.threads,
        r.iterations
    );
    if let Some(a) = &r.adapter {
        s += &format!("adapter {a} (total: streamed, transfers included; stages: kernel time)\n");
    }
    s += &format!(
        "{:<22}{:>12}{:>14}{:>9}\n",
        "stage", "us/CPI", "Msamples/s", "share"
    );
    let samples = (r.pulses * r.samples_per_pulse) as f64;
    for st in &r.stages {
        s += &format!(
            "{:<22}{:>12.1}{:>14.1}{:>8.1}%",
            st.stage,
            st.us_per_cpi,
            samples / st.us_per_cpi,
            100.0 * st.us_per_cpi / r.us_per_cpi
        );
        if let Some(g) = st.gb_per_s {
            s += &format!("{g:>9.2} GB/s");
        }
        if let Some(f) = st.ffts_alone_us {
            s += &format!("  (its FFTs alone {f:.1})");
        }
        s += "\n";
    }
    s += &format!(
        "{:<22}{:>12.1}{:>14.1}\n",
        "total", r.us_per_cpi, r.msamples_per_s
    );
    s += &format!(
        "{:<22}{:>12.1}{:>14.1}\n",
        "FFTs alone",
        r.fft_only_us,
        samples / r.fft_only_us
    );
    s += &format!("chain / FFTs alone: {:.2}x\n", r.chain_over_fft);
    if let Some(m) = &r.monopulse {
        s += &format!(
            "monopulse, {} channels, {} plots/CPI (replica {} samples): plots {:.1} us \
             (beam angles only {:.1} us): +{:.1}% of the chain\n",
            m.channels,
            m.plots,
            m.replica_len,
            m.plots_monopulse_us,
            m.plots_beam_us,
            100.0 * m.overhead_fraction
        );
    }
    s
}

/// How [`bench_gpu`] runs: warm-up and timed CPIs, whether the range
/// convolution may use its register schedule (`tews bench --four-step`
/// turns that off) and store the CPI corner-turned (`--turned-store`), to
/// compare the schedules on a device.
#[derive(Debug, Clone, Copy)]
pub struct GpuBenchRuns {
    /// Untimed CPIs first.
    pub warmup: usize,
    /// Timed CPIs.
    pub iterations: usize,
    /// [`crate::process::gpu::chain::GpuChainOptions::register_convolution`].
    pub register_convolution: bool,
    /// [`crate::process::gpu::chain::GpuChainOptions::turned_store`].
    pub turned_store: bool,
}

/// Benchmarks the GPU chain on `ctx`, streamed through its ring as a run
/// streams it: `warmup` CPIs, then `iterations` timed. `us_per_cpi` is the
/// median interval between consecutive results in steady state (the
/// throughput, transfers included: each CPI is uploaded from the host and
/// its detections read back); per-stage kernel times come from timestamp
/// queries where the adapter has them (otherwise no stages are listed).
/// The synthetic CPI is in `datatype`: cf32 uploads 8 bytes a sample, ci16
/// 4 (see [`crate::process::UploadStats`]).
pub fn bench_gpu(
    ctx: std::sync::Arc<crate::process::gpu::GpuContext>,
    pulses: usize,
    samples: usize,
    datatype: BenchDatatype,
    config: &ProcessConfig,
    runs: GpuBenchRuns,
) -> Result<BenchReport, crate::process::gpu::GpuError> {
    use crate::process::gpu::GpuError;
    use crate::process::gpu::chain::{GpuChain, GpuChainOptions, STAGES};
    let GpuBenchRuns {
        warmup,
        iterations,
        register_convolution,
        turned_store,
    } = runs;
    let (params, cpi) = synthetic_as(pulses, samples, datatype);
    let plan = ChainPlan::new(&params, config).map_err(|e| GpuError::Plan(e.to_string()))?;
    let fft_len = plan.fft_len;
    let adapter = ctx.adapter_info().name.clone();
    let options = GpuChainOptions {
        timestamps: true,
        register_convolution,
        turned_store,
        ..GpuChainOptions::default()
    };
    let mut chain = GpuChain::with_options(ctx, plan, options)?;
    let stage_bytes: Vec<u64> = chain.recipe().stages.iter().map(|s| s.bytes()).collect();
    // A ci16 CPI goes up as counts (4 bytes a sample), a cf32 one as floats.
    let traffic = GpuTraffic::of(
        chain.recipe(),
        match datatype {
            BenchDatatype::Cf32 => crate::process::gpu::chain::SampleUpload::Cf32,
            BenchDatatype::Ci16 => crate::process::gpu::chain::SampleUpload::Ci16,
        },
    );
    let iterations = iterations.max(1);
    let total = warmup + iterations;
    let mut intervals = Vec::with_capacity(iterations);
    let mut stages: Vec<Vec<Duration>> = vec![Vec::new(); STAGES.len()];
    let (mut submitted, mut collected) = (0, 0);
    let mut last = Instant::now();
    let fault = |f: crate::process::gpu::chain::GpuFault| f.error;
    while collected < total {
        while submitted < total && chain.has_free_slot() {
            chain.submit(cpi.clone()).map_err(fault)?;
            submitted += 1;
        }
        let done = chain.collect().map_err(fault)?;
        if let Some(d) = done {
            d.result.map_err(|e| GpuError::Plan(e.to_string()))?;
        }
        let now = Instant::now();
        if collected >= warmup {
            intervals.push(now - last);
            for (v, &ns) in stages.iter_mut().zip(chain.stage_times_ns()) {
                v.push(Duration::from_nanos(ns));
            }
        }
        last = now;
        collected += 1;
    }
    let us = median(&mut intervals);
    let stage_list: Vec<StageTiming> = if chain.stage_times_ns().is_empty() {
        Vec::new()
    } else {
        STAGES
            .iter()
            .zip(stages.iter_mut())
            .zip(&stage_bytes)
            .map(|((n, v), &bytes)| {
                let us = median(v);
                StageTiming {
                    stage: n.to_string(),
                    us_per_cpi: us,
                    gb_per_s: Some(bytes as f64 / (us * 1e3).max(1e-9)),
                    ffts_alone_us: None,
                }
            })
            .collect()
    };
    let fft_only_us: f64 = stage_list
        .iter()
        .filter(|s| s.stage.contains("fft"))
        .map(|s| s.us_per_cpi)
        .sum();
    let fft_only_us = if stage_list.is_empty() {
        f64::NAN
    } else {
        fft_only_us
    };
    Ok(BenchReport {
        backend: "gpu".into(),
        adapter: Some(adapter),
        pulses,
        samples_per_pulse: samples,
        fft_len,
        datatype,
        threads: 1,
        iterations,
        us_per_cpi: us,
        msamples_per_s: (pulses * samples) as f64 / us,
        fft_only_us,
        chain_over_fft: us / fft_only_us,
        stages: stage_list,
        monopulse: None,
        traffic: Some(traffic),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ci16_synthetic_is_the_cf32_one_rounded_to_counts() {
        let (_, f) = synthetic_as(8, 256, BenchDatatype::Cf32);
        let (_, c) = synthetic_as(8, 256, BenchDatatype::Ci16);
        assert!(f.ci16().is_none());
        let (iq, scale) = c.ci16().expect("a ci16 CPI holds counts");
        assert_eq!(scale, 1.0 / CI16_COUNTS_PER_UNIT);
        assert_eq!(iq.len(), 2 * 8 * 256);
        let half_count = 0.5 / CI16_COUNTS_PER_UNIT;
        for (z, pair) in f.samples().iter().zip(iq.chunks(2)) {
            assert!((z.re - f32::from(pair[0]) * scale).abs() <= half_count);
            assert!((z.im - f32::from(pair[1]) * scale).abs() <= half_count);
        }
    }
}
