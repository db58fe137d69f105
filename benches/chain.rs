//! Criterion benches of the CPU chain and its stages on the default
//! 128 x 4096 CPI (`tews bench` prints the same as a table; this is for
//! regression tracking with criterion's statistics).

use criterion::{Criterion, criterion_group, criterion_main};
use rustfft::FftPlanner;
use rustfft::num_complex::Complex32;
use std::hint::black_box;
use tews::bench::synthetic;
use tews::dsp::cfar::CfarKind;
use tews::process::cpu::doppler::DopplerProcessor;
use tews::process::cpu::pulse_compression::PulseCompressor;
use tews::process::cpu::{CpuChain, cfar};
use tews::process::{Backend, ChainPlan, ProcessConfig};

fn chain(c: &mut Criterion) {
    let (params, cpi) = synthetic(128, 4096);
    let mut group = c.benchmark_group("cpu_chain_128x4096");
    group.sample_size(20);
    for kind in [CfarKind::Os, CfarKind::Ca] {
        let config = ProcessConfig {
            cfar: kind,
            ..ProcessConfig::default()
        };
        let mut chain = CpuChain::new(ChainPlan::new(&params, &config).unwrap());
        group.bench_function(format!("whole_chain_{kind}"), |b| {
            b.iter(|| black_box(chain.process(&cpi).unwrap()))
        });
    }

    let plan = ChainPlan::new(&params, &ProcessConfig::default()).unwrap();
    let (p, n) = (plan.pulses, plan.samples);
    let mut planner = FftPlanner::new();
    let compressor = PulseCompressor::new(&mut planner, n, &plan.replica, plan.fft_len);
    let doppler = DopplerProcessor::new(&mut planner, n, &plan.doppler_window);
    let input = cpi.samples().as_slice().unwrap();
    let mut compressed = vec![Complex32::default(); p * n];
    group.bench_function("pulse_compression", |b| {
        b.iter(|| black_box(compressor.compress(input, &mut compressed)))
    });
    let mut power = vec![0.0f32; p * n];
    group.bench_function("doppler_fft_power", |b| {
        b.iter(|| doppler.power_map(&compressed, &mut power))
    });
    for kind in [CfarKind::Os, CfarKind::Ca] {
        let config = ProcessConfig {
            cfar: kind,
            ..ProcessConfig::default()
        };
        let plan = ChainPlan::new(&params, &config).unwrap();
        group.bench_function(format!("cfar_{kind}"), |b| {
            b.iter(|| black_box(cfar::detect(&plan, &power)))
        });
    }
    group.finish();
}

/// The GPU chain on the same CPI, streamed through its ring (upload and
/// readback included). Skips with a message where no adapter exists; a
/// software adapter's figure (lavapipe) is not a GPU figure.
fn gpu_chain(c: &mut Criterion) {
    use tews::process::gpu::{GpuChain, GpuContext, GpuOptions};
    let ctx = match GpuContext::new(&GpuOptions::default()) {
        Ok(ctx) => std::sync::Arc::new(ctx),
        Err(e) => {
            eprintln!("SKIPPED gpu_chain bench: {e}");
            return;
        }
    };
    let (params, cpi) = synthetic(128, 4096);
    let name = format!("gpu_chain_128x4096 [{}]", ctx.adapter_info().name);
    let mut group = c.benchmark_group(name);
    group.sample_size(10);
    let plan = ChainPlan::new(&params, &ProcessConfig::default()).unwrap();
    let mut chain = GpuChain::new(ctx, plan).unwrap();
    group.bench_function("whole_chain_os_streamed", |b| {
        b.iter_custom(|iters| {
            let start = std::time::Instant::now();
            let mut left = iters;
            while left > 0 || chain.in_flight() > 0 {
                while left > 0 && chain.has_free_slot() {
                    chain.submit(cpi.clone()).unwrap();
                    left -= 1;
                }
                black_box(chain.collect().unwrap());
            }
            start.elapsed()
        })
    });
    group.finish();
}

criterion_group!(benches, chain, gpu_chain);
criterion_main!(benches);
