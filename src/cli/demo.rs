//! `tews demo`: simulate the built-in scenario, process it, show plots beside truth.

use anyhow::{Context, Result};
use clap::Args;
use std::path::PathBuf;
use tews::ingest::sigmf::Recording;
use tews::output::{OutputSpec, PlotSink};
use tews::process::cpu::CpuChain;
use tews::process::{Backend, ChainPlan, ProcessConfig};

use super::run::{Processor, process_recording};
use super::view::render_cpi;
use super::{BackendChoice, describe_cfar, write_summary};

#[derive(Args)]
pub(crate) struct DemoArgs {
    /// Directory for the recording, plots, summary and picture.
    #[arg(long, default_value = "tews-demo")]
    pub(crate) out: PathBuf,
    /// Simulation seed.
    #[arg(long, default_value_t = 1)]
    pub(crate) seed: u64,
    /// The ballistic demo instead: a tracking radar watches a missile from
    /// launch to impact; tracks, warnings and CAP alerts are checked
    /// against the truth (about 115 MB in --out, half a minute).
    #[arg(long)]
    pub(crate) ballistic: bool,
}

pub(crate) fn cmd_demo(args: &DemoArgs) -> Result<()> {
    if args.ballistic {
        return super::demo_ballistic::cmd_demo_ballistic(&args.out, args.seed);
    }
    let dir = &args.out;
    std::fs::create_dir_all(dir)
        .with_context(|| format!("{}: cannot create the demo directory", dir.display()))?;
    let scenario = tews::sim::Scenario::builtin();
    let prefix = dir.join("demo");
    let truth = tews::sim::simulate(&scenario, args.seed, &prefix)?;
    let meta_path = dir.join("demo.sigmf-meta");
    let recording = Recording::open(&meta_path)?;
    let config = ProcessConfig::default();
    let plan = ChainPlan::new(&recording.params, &config)?;
    let plots_path = dir.join("plots.jsonl");
    let sinks: Vec<Box<dyn PlotSink>> =
        vec![OutputSpec::JsonLines(Some(plots_path.clone())).open()?];
    let mut plots = Vec::new();
    // The demo stays on the CPU: it is the reference the README quotes.
    let backend: Box<dyn Backend> = Box::new(CpuChain::new(plan.clone()));
    let plot_maker = tews::plots::PlotMaker::new(&recording.params, &plan, recording.site());
    let (mut summary, finished) = process_recording(
        &recording,
        Processor {
            backend,
            plot_maker,
        },
        sinks,
        &meta_path,
        tews::ingest::pacing::Pacing::default(),
        tews::output::fanout::DEFAULT_DRAIN_TIMEOUT,
        |_, _, p| plots.extend_from_slice(p),
    )?;
    finished.commit()?;
    describe_cfar(&mut summary, &plan, &config);
    write_summary(&dir.join("summary.json"), &summary)?;
    let png = dir.join("cpi0.png");
    render_cpi(
        &recording,
        0,
        &config,
        BackendChoice::Cpu,
        "tews demo (built-in scenario)",
        &png,
    )?;

    let p = &recording.params;
    println!(
        "tews demo: {} CPIs of {} pulses x {} samples, LFM {:.0} MHz x {:.0} us at {:.2} GHz; CFAR {} Pfa {:e} (alpha {:.2}, N {})",
        recording.num_cpis,
        p.pulses_per_cpi,
        p.samples_per_pulse,
        p.waveform.bandwidth_hz() / 1e6,
        p.waveform.pulse_width_s() * 1e6,
        truth.cpis.first().map_or(0.0, |c| c.carrier_hz) / 1e9,
        summary.cfar,
        summary.pfa,
        summary.cfar_alpha,
        summary.cfar_reference_cells
    );
    println!(
        "range bin {:.2} m, velocity bin {:.3} m/s; truth SNR is the expected value after the {:.1} dB coherent gain, before window losses",
        truth.range_bin_m, truth.velocity_bin_mps, truth.coherent_gain_db
    );
    println!(
        "{:>3} {:>3} | {:>10} {:>10} {:>6} | {:>8} {:>8} {:>6} | {:>6} {:>6}",
        "cpi",
        "tgt",
        "truth m",
        "plot m",
        "d bin",
        "truth m/s",
        "plot m/s",
        "d bin",
        "exp dB",
        "snr dB"
    );
    let (mut found, mut total, mut extra) = (0, 0, 0);
    for c in &truth.cpis {
        let (matches, unmatched) =
            tews::demo::match_cpi(c.cpi, &truth.targets, &plots, p.pulses_per_cpi);
        for m in &matches {
            total += 1;
            let t = m.truth;
            let exp = t
                .expected_snr_db
                .map_or(String::from("-"), |v| format!("{v:.1}"));
            match m.plot {
                Some(pl) => {
                    found += 1;
                    println!(
                        "{:>3} {:>3} | {:>10.1} {:>10.1} {:>6.2} | {:>9.2} {:>8.2} {:>6.2} | {:>6} {:>6.1}",
                        c.cpi,
                        t.target,
                        t.range_m,
                        pl.range_m,
                        pl.range_bin - t.range_bin,
                        t.folded_velocity_mps,
                        pl.radial_velocity_mps,
                        (pl.radial_velocity_mps - t.folded_velocity_mps) / truth.velocity_bin_mps,
                        exp,
                        pl.snr_db
                    );
                }
                None => println!(
                    "{:>3} {:>3} | {:>10.1} {:>10} {:>6} | {:>9.2} {:>8} {:>6} | {:>6} {:>6}",
                    c.cpi,
                    t.target,
                    t.range_m,
                    "missed",
                    "",
                    t.folded_velocity_mps,
                    "",
                    "",
                    exp,
                    ""
                ),
            }
        }
        for pl in unmatched {
            extra += 1;
            println!(
                "{:>3} {:>3} | {:>10} {:>10.1} {:>6} | {:>9} {:>8.2} {:>6} | {:>6} {:>6.1}   (no target: false alarm)",
                c.cpi, "-", "", pl.range_m, "", "", pl.radial_velocity_mps, "", "", pl.snr_db
            );
        }
    }
    println!(
        "{found}/{total} targets found, {extra} plots with no target; {} detections in {} cells tested; {:.1} M samples/s",
        summary.detections,
        summary.cells_tested,
        summary.samples_per_second / 1e6
    );
    println!(
        "wrote {}, {}, {}, {}",
        meta_path.display(),
        plots_path.display(),
        dir.join("summary.json").display(),
        png.display()
    );
    Ok(())
}
