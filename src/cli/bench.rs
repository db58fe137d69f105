//! `tews bench`: time the processing chain on a synthetic CPI.

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};

use super::{BackendChoice, ProcessArgs, open_gpu};

/// Backends `tews bench` can time.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub(crate) enum BenchBackend {
    /// The CPU chain.
    Cpu,
    /// The GPU chain.
    Gpu,
    /// Both, one after the other.
    Both,
}

/// Sample formats `tews bench` can time.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub(crate) enum BenchDatatypeArg {
    /// Complex float32 samples (a cf32 recording): the GPU uploads 8 bytes a
    /// sample.
    Cf32,
    /// Raw int16 (I, Q) counts (a ci16 recording, live VITA 49.2): the GPU
    /// uploads 4 bytes a sample and converts them on the device.
    Ci16,
}

#[derive(Args)]
pub(crate) struct BenchArgs {
    /// Pulses per CPI.
    #[arg(long, default_value_t = 128)]
    pub(crate) pulses: usize,
    /// Samples per pulse.
    #[arg(long, default_value_t = 4096)]
    pub(crate) samples: usize,
    /// Timed iterations (after 5 warm-up CPIs).
    #[arg(long, default_value_t = 50)]
    pub(crate) iterations: usize,
    /// Backend to time.
    #[arg(long, value_enum, ignore_case = true, default_value_t = BenchBackend::Cpu)]
    pub(crate) backend: BenchBackend,
    /// Sample format of the synthetic CPI.
    #[arg(long, value_enum, ignore_case = true, default_value_t = BenchDatatypeArg::Cf32)]
    pub(crate) datatype: BenchDatatypeArg,
    /// Receive channels: 1, or 2-3 (sum plus difference channels) to also
    /// time monopulse angles for --plots plots per CPI.
    #[arg(long, default_value_t = 1)]
    pub(crate) channels: usize,
    /// Plots per CPI for the monopulse timing (--channels 2 or 3).
    #[arg(long, default_value_t = 50)]
    pub(crate) plots: usize,
    /// Print one JSON object per backend instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
    /// GPU: run the range convolution as the four-step schedule (three
    /// dispatches) even where the register schedule (one) fits, to compare
    /// the two on a device.
    #[arg(long, conflicts_with = "turned_store")]
    pub(crate) four_step: bool,
    /// GPU: the register convolution stores the CPI already corner-turned
    /// (scattered stores, no corner-turn dispatch), to measure whether that
    /// pays on a device.
    #[arg(long)]
    pub(crate) turned_store: bool,
    /// Time the tracker and assessor instead, with this many ballistic
    /// objects in view (plot-level simulation; see tews::bench::tracking).
    #[arg(long)]
    pub(crate) tracks: Option<usize>,
    #[command(flatten)]
    pub(crate) process: ProcessArgs,
}

pub(crate) fn cmd_bench(args: &BenchArgs) -> Result<()> {
    if args.pulses < 8 || args.samples < 64 {
        bail!(
            "bench needs at least 8 pulses and 64 samples per pulse, got {} x {}",
            args.pulses,
            args.samples
        );
    }
    if !(1..=3).contains(&args.channels) {
        bail!(
            "--channels {}: 1 (sum), 2 or 3 (sum and difference channels)",
            args.channels
        );
    }
    if let Some(n) = args.tracks {
        if !(1..=1000).contains(&n) {
            bail!("--tracks {n}: must be 1 to 1000");
        }
        let r = tews::bench::tracking::bench_tracking(n).map_err(|e| anyhow::anyhow!(e))?;
        if args.json {
            println!("{}", serde_json::to_string(&r)?);
        } else {
            println!(
                "tracking, {} objects ({:.0} tracks held on {} timed looks): tracker per look p50 {:.0} us, p99 {:.0} us, max {:.0} us; assessment {:.1} ms mean, {:.1} ms max over {}",
                r.objects,
                r.mean_tracks,
                r.looks_timed,
                r.tracker_us_p50,
                r.tracker_us_p99,
                r.tracker_us_max,
                r.assess_ms_mean,
                r.assess_ms_max,
                r.assessments
            );
        }
        return Ok(());
    }
    let config = args.process.config();
    let datatype = match args.datatype {
        BenchDatatypeArg::Cf32 => tews::bench::BenchDatatype::Cf32,
        BenchDatatypeArg::Ci16 => tews::bench::BenchDatatype::Ci16,
    };
    let mut reports = Vec::new();
    if matches!(args.backend, BenchBackend::Cpu | BenchBackend::Both) {
        reports.push(tews::bench::bench_cpu(
            args.pulses,
            args.samples,
            datatype,
            &config,
            5,
            args.iterations,
        )?);
    }
    if matches!(args.backend, BenchBackend::Gpu | BenchBackend::Both) {
        let ctx = open_gpu(BackendChoice::Gpu)?.context("--backend gpu")?;
        if ctx.adapter_info().device_type == "Cpu" {
            tracing::warn!(
                "adapter {} is a software (CPU) adapter: its times are not GPU figures",
                ctx.adapter_info().name
            );
        }
        reports.push(
            tews::bench::bench_gpu(
                ctx,
                args.pulses,
                args.samples,
                datatype,
                &config,
                tews::bench::GpuBenchRuns {
                    warmup: 5,
                    iterations: args.iterations,
                    register_convolution: !args.four_step,
                    turned_store: args.turned_store,
                },
            )
            .context("GPU bench")?,
        );
    }
    if args.channels > 1 {
        for report in &mut reports {
            report.monopulse = Some(tews::bench::bench_monopulse(
                args.pulses,
                args.samples,
                args.channels,
                args.plots,
                &config,
                args.iterations,
                report.us_per_cpi,
            )?);
        }
    }
    for report in &reports {
        if args.json {
            println!("{}", serde_json::to_string(report)?);
        } else {
            print!("{}", tews::bench::format_table(report));
        }
    }
    Ok(())
}
