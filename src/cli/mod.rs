//! The `tews` command line: the clap definitions, the options and helpers
//! the subcommands share, and one module per subcommand.

pub(crate) mod bench;
pub(crate) mod demo;
pub(crate) mod demo_ballistic;
pub(crate) mod info;
pub(crate) mod live;
pub(crate) mod progress;
pub(crate) mod replay;
pub(crate) mod run;
pub(crate) mod simulate;
pub(crate) mod site;
pub(crate) mod situation;
pub(crate) mod view;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tews::dsp::cfar::CfarKind;
use tews::dsp::window::Window;
use tews::pipeline::Summary;
use tews::process::cpu::CpuChain;
use tews::process::gpu::chain::GpuChainOptions;
use tews::process::gpu::{GpuBackend, GpuContext, GpuOptions};
use tews::process::{Backend, CfarWindow, ChainPlan, ProcessConfig};

use bench::BenchArgs;
use demo::DemoArgs;
use info::InfoArgs;
use replay::ReplayArgs;
use run::RunArgs;
use simulate::SimulateArgs;
use view::ViewArgs;

/// tews: radar signal-processing front end (SigMF IQ in, plot reports out).
#[derive(Parser)]
#[command(version, about, long_about = None)]
pub(crate) struct Cli {
    /// Only warnings and errors on stderr.
    #[arg(short, long, global = true)]
    pub(crate) quiet: bool,
    /// Debug logging on stderr.
    #[arg(short, long, global = true)]
    pub(crate) verbose: bool,
    #[command(subcommand)]
    pub(crate) command: Option<Command>,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Process a recording into plot reports.
    Run(RunArgs),
    /// Write a simulated recording (formats.md signal model) and its truth.
    Simulate(SimulateArgs),
    /// Draw one CPI's range-Doppler map with its plots as a PNG.
    View(ViewArgs),
    /// Time the processing chain on a synthetic CPI.
    Bench(BenchArgs),
    /// Simulate the built-in scenario, process it, show plots beside truth.
    Demo(DemoArgs),
    /// List the GPU adapters wgpu sees, with the limits tews sizes kernels by.
    Info(InfoArgs),
    /// Play a recording as the digitizer's VITA 49.2 packets over UDP.
    Replay(ReplayArgs),
    /// Print a site file whose [radar] matches a recording (--from REC).
    Site(site::SiteArgs),
}

/// Backend choice.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub(crate) enum BackendChoice {
    /// The GPU when an adapter exists, else the CPU.
    Auto,
    /// The CPU chain.
    Cpu,
    /// The GPU chain (any adapter, software ones included).
    Gpu,
}

/// Detection options shared by run, view and bench.
#[derive(Args, Clone, Debug)]
pub(crate) struct ProcessArgs {
    /// False-alarm probability per cell tested.
    #[arg(long, default_value_t = 1e-6)]
    pub(crate) pfa: f64,
    /// CFAR variant: os (ordered statistic, default: does not mask closely spaced
    /// targets), ca (cell averaging), go (greatest of), so (smallest of).
    #[arg(long, default_value = "os")]
    pub(crate) cfar: CfarKind,
    /// OS-CFAR order k (1-based) among the reference cells; default round(3N/4).
    #[arg(long)]
    pub(crate) os_k: Option<usize>,
    /// CFAR training cells on each side in range.
    #[arg(long, default_value_t = CfarWindow::default().train_range)]
    pub(crate) train_range: usize,
    /// CFAR guard cells on each side in range. Unset: at least 3, widened to
    /// the compressed pulse's mainlobe (to -20 dB) so a target does not
    /// mask itself; set, used as given (with a warning if narrower).
    #[arg(long)]
    pub(crate) guard_range: Option<usize>,
    /// CFAR training cells on each side in Doppler.
    #[arg(long, default_value_t = CfarWindow::default().train_doppler)]
    pub(crate) train_doppler: usize,
    /// CFAR guard cells on each side in Doppler.
    #[arg(long, default_value_t = CfarWindow::default().guard_doppler)]
    pub(crate) guard_doppler: usize,
    /// Range taper on the replica: none, hann, hamming, blackman.
    #[arg(long, default_value = "hamming")]
    pub(crate) range_window: Window,
    /// Window across pulses before the Doppler FFT: none, hann, hamming, blackman.
    #[arg(long, default_value = "hann")]
    pub(crate) doppler_window: Window,
}

impl ProcessArgs {
    pub(crate) fn config(&self) -> ProcessConfig {
        ProcessConfig {
            cfar: self.cfar,
            pfa: self.pfa,
            window: CfarWindow {
                train_range: self.train_range,
                guard_range: self
                    .guard_range
                    .unwrap_or(CfarWindow::default().guard_range),
                train_doppler: self.train_doppler,
                guard_doppler: self.guard_doppler,
            },
            os_k: self.os_k,
            range_window: self.range_window,
            doppler_window: self.doppler_window,
            auto_range_guard: self.guard_range.is_none(),
        }
    }
}

/// The error and its causes on one line, joined by ": ". Error types here
/// put their source's text in their own message, so a cause already quoted
/// by the text so far is not repeated.
pub(crate) fn one_line(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let part = cause.to_string();
        if !text.contains(&part) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&part);
        }
    }
    text.replace('\n', " ")
}

/// Opens the GPU device the choice asks for: `cpu` none; `gpu` the best
/// adapter of any kind (a clear error when there is none); `auto` a
/// hardware adapter only, because a software one (lavapipe, llvmpipe: type
/// Cpu) runs the shaders on the same cores the CPU chain uses, slower.
pub(crate) fn open_gpu(choice: BackendChoice) -> Result<Option<Arc<GpuContext>>> {
    match choice {
        BackendChoice::Cpu => Ok(None),
        BackendChoice::Gpu => {
            let ctx = GpuContext::new(&GpuOptions::default()).context("--backend gpu")?;
            tracing::info!("backend gpu: adapter {}", ctx.adapter_info());
            Ok(Some(Arc::new(ctx)))
        }
        BackendChoice::Auto => {
            let Some(adapter) = tews::process::gpu::hardware_adapter() else {
                tracing::info!(
                    "backend auto: no hardware GPU adapter (a software adapter such as lavapipe \
                     is slower than the CPU chain); using the CPU"
                );
                return Ok(None);
            };
            match GpuContext::new(&GpuOptions {
                adapter_filter: Some(adapter.name.clone()),
            }) {
                Ok(ctx) => {
                    tracing::info!("backend auto: GPU adapter {adapter}");
                    Ok(Some(Arc::new(ctx)))
                }
                Err(e) => {
                    tracing::info!(
                        "backend auto: GPU adapter {adapter} unusable ({e}); using the CPU"
                    );
                    Ok(None)
                }
            }
        }
    }
}

/// The backend for a run: the streamed GPU chain with CPU fallback, or the
/// CPU chain. Under `auto` a CPI shape the GPU cannot take means the CPU.
pub(crate) fn make_backend(choice: BackendChoice, plan: ChainPlan) -> Result<Box<dyn Backend>> {
    let Some(ctx) = open_gpu(choice)? else {
        return Ok(Box::new(CpuChain::new(plan)));
    };
    match GpuBackend::new(ctx, plan.clone(), GpuChainOptions::default()) {
        Ok(b) => Ok(Box::new(b)),
        Err(e) if choice == BackendChoice::Auto => {
            tracing::info!("backend auto: the GPU cannot run this CPI ({e}); using the CPU");
            Ok(Box::new(CpuChain::new(plan)))
        }
        Err(e) => Err(e).context("--backend gpu"),
    }
}

/// The CFAR's settings and derived figures, for the run summary.
pub(crate) fn describe_cfar(summary: &mut Summary, plan: &ChainPlan, config: &ProcessConfig) {
    summary.cfar = config.cfar.to_string();
    summary.pfa = config.pfa;
    summary.cfar_alpha = plan.alpha as f64;
    summary.cfar_reference_cells = plan.reference_cells;
    summary.cfar_effective_reference_cells = plan.effective_reference_cells;
    summary.cfar_noise_scale = plan.noise_scale as f64;
    summary.cfar_guard_range = plan.window.guard_range;
    summary.cfar_mainlobe_guard_range = plan.mainlobe_guard_range;
    if let Some(note) = &plan.guard_note {
        tracing::warn!("{note}");
    } else if plan.window.guard_range > config.window.guard_range {
        tracing::info!(
            "CFAR range guard widened to {} cells to cover the compressed pulse's mainlobe",
            plan.window.guard_range
        );
    }
}

/// A `--summary PATH` file, created as `PATH.partial` before anything is
/// processed (an unwritable path is an error then, not after the run),
/// written and renamed into place at the end, removed if the run fails
/// before that.
pub(crate) struct SummaryFile {
    path: PathBuf,
    partial: PathBuf,
    file: Option<std::fs::File>,
}

impl SummaryFile {
    /// Creates `PATH.partial` (an error names PATH).
    pub(crate) fn create(path: &Path) -> Result<Self> {
        let mut partial = path.as_os_str().to_owned();
        partial.push(".partial");
        let partial = PathBuf::from(partial);
        let file = std::fs::File::create(&partial)
            .with_context(|| format!("{}: cannot write the summary", path.display()))?;
        Ok(SummaryFile {
            path: path.to_path_buf(),
            partial,
            file: Some(file),
        })
    }

    /// Writes `value` as pretty JSON and renames the file into place.
    pub(crate) fn write(mut self, value: &impl serde::Serialize) -> Result<()> {
        use std::io::Write;
        let text = serde_json::to_string_pretty(value)? + "\n";
        let context = || format!("{}: cannot write the summary", self.path.display());
        let mut file = self.file.take().context("the summary is written once")?;
        file.write_all(text.as_bytes()).with_context(context)?;
        drop(file);
        std::fs::rename(&self.partial, &self.path).with_context(context)?;
        self.partial = PathBuf::new();
        Ok(())
    }
}

impl Drop for SummaryFile {
    fn drop(&mut self) {
        if !self.partial.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.partial);
        }
    }
}

pub(crate) fn write_summary(path: &Path, summary: &Summary) -> Result<()> {
    let text = serde_json::to_string_pretty(summary)?;
    std::fs::write(path, text + "\n")
        .with_context(|| format!("{}: cannot write the summary", path.display()))
}
