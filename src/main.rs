//! The `tews` command line. With no arguments it runs the demo.

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use tews::dsp::cfar::CfarKind;
use tews::dsp::window::Window;
use tews::ingest::sigmf::Recording;
use tews::output::{OutputSpec, PlotSink};
use tews::pipeline::{self, Summary};
use tews::process::cpu::CpuChain;
use tews::process::{CfarWindow, ChainPlan, ProcessConfig};

/// tews: radar signal-processing front end (SigMF IQ in, plot reports out).
#[derive(Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    /// Only warnings and errors on stderr.
    #[arg(short, long, global = true)]
    quiet: bool,
    /// Debug logging on stderr.
    #[arg(short, long, global = true)]
    verbose: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Process a recording into plot reports.
    Run(RunArgs),
    /// Time the processing chain on a synthetic CPI.
    Bench(BenchArgs),
}

/// Backend choice.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
enum BackendChoice {
    /// The GPU when an adapter exists, else the CPU.
    Auto,
    /// The CPU chain.
    Cpu,
    /// The GPU chain (not in this build yet).
    Gpu,
}

/// Detection options shared by run, view and bench.
#[derive(Args, Clone, Debug)]
struct ProcessArgs {
    /// False-alarm probability per cell tested.
    #[arg(long, default_value_t = 1e-6)]
    pfa: f64,
    /// CFAR variant: ca (cell averaging), go (greatest of), so (smallest of), os (ordered statistic).
    #[arg(long, default_value = "ca")]
    cfar: CfarKind,
    /// OS-CFAR order k (1-based) among the reference cells; default round(3N/4).
    #[arg(long)]
    os_k: Option<usize>,
    /// CFAR training cells on each side in range.
    #[arg(long, default_value_t = CfarWindow::default().train_range)]
    train_range: usize,
    /// CFAR guard cells on each side in range.
    #[arg(long, default_value_t = CfarWindow::default().guard_range)]
    guard_range: usize,
    /// CFAR training cells on each side in Doppler.
    #[arg(long, default_value_t = CfarWindow::default().train_doppler)]
    train_doppler: usize,
    /// CFAR guard cells on each side in Doppler.
    #[arg(long, default_value_t = CfarWindow::default().guard_doppler)]
    guard_doppler: usize,
    /// Range taper on the replica: none, hann, hamming, blackman.
    #[arg(long, default_value = "hamming")]
    range_window: Window,
    /// Window across pulses before the Doppler FFT: none, hann, hamming, blackman.
    #[arg(long, default_value = "hann")]
    doppler_window: Window,
}

impl ProcessArgs {
    fn config(&self) -> ProcessConfig {
        ProcessConfig {
            cfar: self.cfar,
            pfa: self.pfa,
            window: CfarWindow {
                train_range: self.train_range,
                guard_range: self.guard_range,
                train_doppler: self.train_doppler,
                guard_doppler: self.guard_doppler,
            },
            os_k: self.os_k,
            range_window: self.range_window,
            doppler_window: self.doppler_window,
        }
    }
}

#[derive(Args)]
struct RunArgs {
    /// Recording: NAME.sigmf-meta, NAME.sigmf-data, NAME or NAME.sigmf (archive).
    #[arg(long)]
    input: PathBuf,
    /// Where plots go: jsonl:PATH or jsonl:- (stdout). Repeatable; default jsonl:-.
    #[arg(long = "output")]
    outputs: Vec<String>,
    /// Processing backend.
    #[arg(long, value_enum, default_value_t = BackendChoice::Auto)]
    backend: BackendChoice,
    /// Write the run summary (JSON) here.
    #[arg(long)]
    summary: Option<PathBuf>,
    /// Keep integer samples as raw counts instead of scaling to full scale 1.0.
    #[arg(long)]
    raw_counts: bool,
    #[command(flatten)]
    process: ProcessArgs,
}

#[derive(Args)]
struct BenchArgs {
    /// Pulses per CPI.
    #[arg(long, default_value_t = 128)]
    pulses: usize,
    /// Samples per pulse.
    #[arg(long, default_value_t = 4096)]
    samples: usize,
    /// Timed iterations (after 5 warm-up CPIs).
    #[arg(long, default_value_t = 50)]
    iterations: usize,
    /// Backend to time.
    #[arg(long, value_enum, default_value_t = BackendChoice::Cpu)]
    backend: BackendChoice,
    /// Print one JSON object per backend instead of a table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    process: ProcessArgs,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let level = if cli.quiet {
        tracing::Level::WARN
    } else if cli.verbose {
        tracing::Level::DEBUG
    } else {
        tracing::Level::INFO
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(level)
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let result = match cli.command {
        Some(Command::Run(args)) => cmd_run(&args),
        Some(Command::Bench(args)) => cmd_bench(&args),
        None => bail_demo(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line: the context chain joined by ": ".
            eprintln!("tews: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn bail_demo() -> Result<()> {
    bail!("no command given; see tews --help")
}

/// Refuses a backend this build does not have; `auto` explains its choice.
fn check_backend(choice: BackendChoice) -> Result<()> {
    match choice {
        BackendChoice::Cpu => Ok(()),
        BackendChoice::Auto => {
            tracing::info!("backend auto: this build has no GPU backend yet; using the CPU");
            Ok(())
        }
        BackendChoice::Gpu => {
            bail!("--backend gpu: this build has no GPU backend yet (use cpu or auto)")
        }
    }
}

fn cmd_run(args: &RunArgs) -> Result<()> {
    check_backend(args.backend)?;
    // Validate everything before any output is created.
    let specs: Vec<OutputSpec> = if args.outputs.is_empty() {
        vec![OutputSpec::JsonLines(None)]
    } else {
        args.outputs
            .iter()
            .map(|s| s.parse())
            .collect::<Result<_, _>>()?
    };
    let recording = Recording::open_with(
        &args.input,
        tews::ingest::sigmf::OpenOptions {
            raw_counts: args.raw_counts,
        },
    )?;
    let config = args.process.config();
    let plan = ChainPlan::new(&recording.params, &config)?;
    let mut sinks: Vec<Box<dyn PlotSink>> =
        specs.iter().map(|s| s.open()).collect::<Result<_, _>>()?;
    let summary = process_recording(
        &recording,
        plan,
        &config,
        &mut sinks,
        &args.input,
        |_, _, _| {},
    )?;
    tracing::info!(
        "{} CPIs ({} rejected), {} detections, {} plots in {:.2} s ({:.1} M samples/s)",
        summary.cpis,
        summary.cpis_rejected,
        summary.detections,
        summary.plots,
        summary.seconds,
        summary.samples_per_second / 1e6
    );
    if let Some(path) = &args.summary {
        write_summary(path, &summary)?;
    }
    Ok(())
}

/// Streams `recording` through the CPU chain into `sinks`, with a progress
/// bar on stderr when it is a terminal.
fn process_recording(
    recording: &Recording,
    plan: ChainPlan,
    config: &ProcessConfig,
    sinks: &mut [Box<dyn PlotSink>],
    input: &Path,
    mut on_cpi: impl FnMut(u64, &tews::process::CpiDetections, &[tews::plots::Plot]),
) -> Result<Summary> {
    let (alpha, n_ref) = (plan.alpha as f64, plan.reference_cells);
    let mut backend = CpuChain::new(plan);
    let bar = if std::io::stderr().is_terminal() {
        let bar = ProgressBar::new(recording.num_cpis);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} CPI {pos}/{len} [{bar:40}] {per_sec} ETA {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    let mut summary = pipeline::run(
        recording.cpis()?,
        &recording.params,
        &mut backend,
        sinks,
        |k, d, p| {
            bar.inc(1);
            on_cpi(k, d, p);
        },
    )
    .with_context(|| format!("processing {}", input.display()))?;
    bar.finish_and_clear();
    summary.input = input.display().to_string();
    summary.cfar = config.cfar.to_string();
    summary.pfa = config.pfa;
    summary.cfar_alpha = alpha;
    summary.cfar_reference_cells = n_ref;
    Ok(summary)
}

fn write_summary(path: &Path, summary: &Summary) -> Result<()> {
    let text = serde_json::to_string_pretty(summary)?;
    std::fs::write(path, text + "\n")
        .with_context(|| format!("{}: cannot write the summary", path.display()))
}

fn cmd_bench(args: &BenchArgs) -> Result<()> {
    check_backend(args.backend)?;
    if args.pulses < 8 || args.samples < 64 {
        bail!(
            "bench needs at least 8 pulses and 64 samples per pulse, got {} x {}",
            args.pulses,
            args.samples
        );
    }
    let report = tews::bench::bench_cpu(
        args.pulses,
        args.samples,
        &args.process.config(),
        5,
        args.iterations,
    )?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print!("{}", tews::bench::format_table(&report));
    }
    Ok(())
}
