//! The `tews` command line. With no arguments it runs the demo.

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use tews::dsp::cfar::CfarKind;
use tews::dsp::window::Window;
use tews::ingest::sigmf::Recording;
use tews::output::{OutputSpec, Outputs, PlotSink};
use tews::pipeline::{self, Summary};
use tews::process::cpu::CpuChain;
use tews::process::gpu::chain::GpuChainOptions;
use tews::process::gpu::{GpuBackend, GpuChain, GpuContext, GpuOptions};
use tews::process::{Backend, CfarWindow, ChainPlan, ProcessConfig};

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
}

#[derive(Args)]
struct ReplayArgs {
    /// Recording: NAME.sigmf-meta, NAME.sigmf-data, NAME or NAME.sigmf (archive).
    recording: PathBuf,
    /// Destination: udp://HOST:PORT.
    #[arg(long)]
    to: String,
    /// Speed: 1.0 = the recording's PRI timing, 2.0 twice as fast, max = no pacing.
    #[arg(long, default_value = "1.0")]
    rate: tews::replay::Rate,
    /// Samples per data packet (362 fits a 1500-byte Ethernet MTU).
    #[arg(long, default_value_t = 1024)]
    samples_per_packet: usize,
    /// Probability of deliberately dropping each datagram (0 to 1).
    #[arg(long, default_value_t = 0.0)]
    loss: f64,
    /// Seed of the deliberate loss.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// VRT stream ID to send.
    #[arg(long, default_value_t = 1)]
    stream_id: u32,
    /// Play the recording this many times over (times and CPI indices continue).
    #[arg(long, default_value_t = 1)]
    repeat: u64,
    /// Write what was sent (JSON: packets, deliberately dropped, damaged CPIs) here.
    #[arg(long)]
    summary: Option<PathBuf>,
}

#[derive(Args)]
struct InfoArgs {
    /// Print one JSON object per adapter instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct SimulateArgs {
    /// Scenario file (TOML; see the tews::sim docs). Default: the built-in scenario.
    #[arg(long)]
    scenario: Option<PathBuf>,
    /// Random seed: the same seed gives the same bytes.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Output prefix: writes PREFIX.sigmf-meta, PREFIX.sigmf-data, PREFIX.truth.json.
    #[arg(long)]
    out: PathBuf,
}

#[derive(Args)]
struct ViewArgs {
    /// Recording: NAME.sigmf-meta, NAME.sigmf-data, NAME or NAME.sigmf (archive).
    #[arg(long)]
    input: PathBuf,
    /// CPI index (0-based).
    #[arg(long, default_value_t = 0)]
    cpi: u64,
    /// Output picture.
    #[arg(long)]
    png: PathBuf,
    /// Processing backend.
    #[arg(long, value_enum, default_value_t = BackendChoice::Auto)]
    backend: BackendChoice,
    #[command(flatten)]
    process: ProcessArgs,
}

#[derive(Args)]
struct DemoArgs {
    /// Directory for the recording, plots, summary and picture.
    #[arg(long, default_value = "tews-demo")]
    out: PathBuf,
    /// Simulation seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

/// Backend choice.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
enum BackendChoice {
    /// The GPU when an adapter exists, else the CPU.
    Auto,
    /// The CPU chain.
    Cpu,
    /// The GPU chain (any adapter, software ones included).
    Gpu,
}

/// Backends `tews bench` can time.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
enum BenchBackend {
    /// The CPU chain.
    Cpu,
    /// The GPU chain.
    Gpu,
    /// Both, one after the other.
    Both,
}

/// Detection options shared by run, view and bench.
#[derive(Args, Clone, Debug)]
struct ProcessArgs {
    /// False-alarm probability per cell tested.
    #[arg(long, default_value_t = 1e-6)]
    pfa: f64,
    /// CFAR variant: os (ordered statistic, default: does not mask closely spaced
    /// targets), ca (cell averaging), go (greatest of), so (smallest of).
    #[arg(long, default_value = "os")]
    cfar: CfarKind,
    /// OS-CFAR order k (1-based) among the reference cells; default round(3N/4).
    #[arg(long)]
    os_k: Option<usize>,
    /// CFAR training cells on each side in range.
    #[arg(long, default_value_t = CfarWindow::default().train_range)]
    train_range: usize,
    /// CFAR guard cells on each side in range. Unset: at least 3, widened to
    /// the compressed pulse's mainlobe (to -20 dB) so a target does not
    /// mask itself; set, used as given (with a warning if narrower).
    #[arg(long)]
    guard_range: Option<usize>,
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

#[derive(Args)]
struct RunArgs {
    /// Recording: NAME.sigmf-meta, NAME.sigmf-data, NAME or NAME.sigmf (archive);
    /// or live VITA 49.2 packets: vrt+udp://ADDR:PORT (needs --site with [radar]).
    #[arg(long)]
    input: PathBuf,
    /// Live input: stop after N CPIs were processed or dropped.
    #[arg(long)]
    max_cpis: Option<u64>,
    /// Live input: stop after this many seconds without a packet.
    #[arg(long)]
    idle_timeout_s: Option<f64>,
    /// Live input: serve Prometheus metrics at http://ADDR:PORT/metrics.
    #[arg(long)]
    metrics: Option<String>,
    /// Where plots go: jsonl:PATH, jsonl:- (stdout), asterix-file:PATH or
    /// asterix+udp://HOST:PORT[?ttl=N&iface=ADDR&loop=0|1&max_datagram=N] or
    /// nats://HOST:PORT (ASTERIX and NATS need --site). Repeatable; default jsonl:-.
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
    /// Site configuration (TOML, see tews::site): SAC/SIC and names for the
    /// sharing outputs; with a recording, the recording's radar keys win.
    #[arg(long)]
    site: Option<PathBuf>,
    /// Play the recording this many times back to back (CPI index and time
    /// continue), e.g. to feed a sharing output for longer.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    repeat: u64,
    /// Release CPIs at this rate (per second) as a live sensor would,
    /// instead of as fast as they can be read.
    #[arg(long)]
    cpi_rate: Option<f64>,
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
    #[arg(long, value_enum, default_value_t = BenchBackend::Cpu)]
    backend: BenchBackend,
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
        Some(Command::Simulate(args)) => cmd_simulate(&args),
        Some(Command::View(args)) => cmd_view(&args),
        Some(Command::Bench(args)) => cmd_bench(&args),
        Some(Command::Demo(args)) => cmd_demo(&args),
        Some(Command::Info(args)) => cmd_info(&args),
        Some(Command::Replay(args)) => cmd_replay(&args),
        None => cmd_demo(&DemoArgs {
            out: PathBuf::from("tews-demo"),
            seed: 1,
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tews: error: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line, joined by ": ". Error types here
/// put their source's text in their own message, so a cause already quoted
/// by the text so far is not repeated.
fn one_line(e: &anyhow::Error) -> String {
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
fn open_gpu(choice: BackendChoice) -> Result<Option<Arc<GpuContext>>> {
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
fn make_backend(choice: BackendChoice, plan: ChainPlan) -> Result<Box<dyn Backend>> {
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

fn cmd_run(args: &RunArgs) -> Result<()> {
    // Validate everything before any output is created or anything is logged.
    let specs: Vec<OutputSpec> = if args.outputs.is_empty() {
        vec![OutputSpec::JsonLines(None)]
    } else {
        args.outputs
            .iter()
            .map(|s| s.parse())
            .collect::<Result<_, _>>()?
    };
    let site = args
        .site
        .as_deref()
        .map(tews::site::SiteConfig::load)
        .transpose()?;
    if site.is_none()
        && let Some(spec) = args.outputs.iter().find(|s| s.starts_with("asterix"))
    {
        // No guessed data source is ever sent: SAC/SIC come from the site.
        bail!("output \"{spec}\": ASTERIX needs the site's SAC/SIC: give --site SITE.toml");
    }
    if site.is_none()
        && let Some(spec) = args.outputs.iter().find(|s| s.starts_with("nats:"))
    {
        bail!(
            "output \"{spec}\": NATS needs the site's names and sharing settings: give --site SITE.toml"
        );
    }
    if let Some(input) = args.input.to_str().filter(|s| s.contains("://")) {
        return cmd_run_live(args, input, specs, site);
    }
    if let Some(flag) = [
        args.max_cpis.map(|_| "--max-cpis"),
        args.idle_timeout_s.map(|_| "--idle-timeout-s"),
        args.metrics.as_ref().map(|_| "--metrics"),
    ]
    .into_iter()
    .flatten()
    .next()
    {
        bail!(
            "{flag}: only for live input (--input vrt+udp://ADDR:PORT), not the recording {}",
            args.input.display()
        );
    }
    let recording = Recording::open_with(
        &args.input,
        tews::ingest::sigmf::OpenOptions {
            raw_counts: args.raw_counts,
        },
    )?;
    let specs: Vec<OutputSpec> = match &site {
        Some(site) => {
            let asterix = tews::output::asterix::cat048::Cat048Config {
                site: tews::output::asterix::SiteId {
                    sac: site.site.sac,
                    sic: site.site.sic,
                },
                simulated: recording.simulated,
            };
            specs
                .into_iter()
                .map(|s| s.with_asterix(asterix).with_site(site, asterix))
                .collect()
        }
        None => specs,
    };
    let config = args.process.config();
    let plan = ChainPlan::new(&recording.params, &config)?;
    if let Some(rate) = args.cpi_rate
        && !(rate.is_finite() && rate > 0.0)
    {
        bail!("--cpi-rate {rate}: not a positive number of CPIs per second");
    }
    let pacing = tews::ingest::pacing::Pacing {
        passes: args.repeat,
        cpi_rate_hz: args.cpi_rate,
    };
    let backend = make_backend(args.backend, plan.clone())?;
    let sinks: Vec<Box<dyn PlotSink>> = specs.iter().map(|s| s.open()).collect::<Result<_, _>>()?;
    let mut summary = process_recording(
        &recording,
        backend,
        sinks,
        &args.input,
        pacing,
        |_, _, _| {},
    )?;
    describe_cfar(&mut summary, &plan, &config);
    if summary.fallbacks > 0 {
        tracing::warn!(
            "{} CPIs were processed on the CPU instead of the GPU",
            summary.fallbacks
        );
    }
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
    mut backend: Box<dyn Backend>,
    sinks: Vec<Box<dyn PlotSink>>,
    input: &Path,
    pacing: tews::ingest::pacing::Pacing,
    mut on_cpi: impl FnMut(u64, &tews::process::CpiDetections, &[tews::plots::Plot]),
) -> Result<Summary> {
    let bar = if std::io::stderr().is_terminal() {
        let bar = ProgressBar::new(recording.num_cpis * pacing.passes);
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
    let p = &recording.params;
    let pass_s = recording.num_cpis as f64 * p.pulses_per_cpi as f64 * p.pri_s;
    let cpis =
        tews::ingest::pacing::Paced::new(|| recording.cpis(), recording.num_cpis, pass_s, pacing);
    let mut summary = pipeline::run(
        cpis,
        &recording.params,
        backend.as_mut(),
        Outputs::start(sinks, tews::output::fanout::DEFAULT_QUEUE_CPIS),
        |k, d, p| {
            bar.inc(1);
            on_cpi(k, d, p);
        },
    )
    .with_context(|| format!("processing {}", input.display()))?;
    bar.finish_and_clear();
    summary.input = input.display().to_string();
    Ok(summary)
}

/// The CFAR's settings and derived figures, for the run summary.
fn describe_cfar(summary: &mut Summary, plan: &ChainPlan, config: &ProcessConfig) {
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

/// `tews run --input vrt+udp://ADDR:PORT`: live VITA 49.2 packets through
/// the same chain and outputs as a recording (tews::ingest::udp).
fn cmd_run_live(
    args: &RunArgs,
    input: &str,
    specs: Vec<OutputSpec>,
    site: Option<tews::site::SiteConfig>,
) -> Result<()> {
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;
    use tews::ingest::udp;
    let addr = udp::parse_url(input, "vrt+udp")?;
    let (Some(site_path), Some(site)) = (&args.site, site) else {
        bail!("{input}: live input needs --site SITE.toml with a [radar] table");
    };
    let radar = site.radar(&site_path.display().to_string())?;
    let params = radar.params();
    let idle_timeout = match args.idle_timeout_s {
        Some(t) if !(t.is_finite() && t > 0.0) => {
            bail!("--idle-timeout-s {t}: not a positive number of seconds")
        }
        t => t.map(std::time::Duration::from_secs_f64),
    };
    if args.raw_counts {
        bail!("{input}: --raw-counts is for recordings; live samples are scaled to full scale 1.0");
    }
    let asterix = tews::output::asterix::cat048::Cat048Config {
        site: tews::output::asterix::SiteId {
            sac: site.site.sac,
            sic: site.site.sic,
        },
        simulated: false,
    };
    let specs: Vec<OutputSpec> = specs
        .into_iter()
        .map(|s| s.with_asterix(asterix).with_site(&site, asterix))
        .collect();
    if args.repeat != 1 || args.cpi_rate.is_some() {
        bail!(
            "{input}: --repeat and --cpi-rate pace recordings; live input arrives at its own rate"
        );
    }
    let config = args.process.config();
    let plan = ChainPlan::new(&params, &config)?;
    // Handlers before the socket is announced: a signal is then always a clean stop.
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // A second signal while stopping exits at once (registered first).
        signal_hook::flag::register_conditional_shutdown(signal, 130, stop.clone())
            .and_then(|_| signal_hook::flag::register(signal, stop.clone()))
            .context("cannot install the SIGINT/SIGTERM handlers")?;
    }
    // Sockets before outputs: a port in use fails before any file is created.
    let (socket, buffer) = udp::bind(input, addr, udp::DEFAULT_RECV_BUFFER_BYTES)?;
    let listener = args
        .metrics
        .as_deref()
        .map(tews::metrics::listen)
        .transpose()?;
    // After the socket (a port in use is reported before any GPU driver is
    // loaded and prints its own lines), before the outputs are created.
    let mut backend = make_backend(args.backend, plan.clone())?;
    let sinks: Vec<Box<dyn PlotSink>> = specs.iter().map(|s| s.open()).collect::<Result<_, _>>()?;
    let live_config = udp::LiveConfig {
        assembler: tews::ingest::vrt::AssemblerConfig {
            pulses_per_cpi: params.pulses_per_cpi,
            samples_per_pulse: params.samples_per_pulse,
            stream_id: radar.stream_id,
        },
        sample_rate_hz: params.sample_rate_hz,
        window_delay_s: params.window_delay_s,
        queue_cpis: udp::queue_cpis_for(params.samples_per_cpi() * 8),
        max_cpis: args.max_cpis,
        idle_timeout,
    };
    let mut source = udp::LiveSource::start(socket, buffer, live_config, stop)
        .with_context(|| format!("{input}: cannot start the receiver"))?;
    let shared = source.shared();
    let outputs = Outputs::start(sinks, tews::output::fanout::DEFAULT_QUEUE_CPIS);
    let metrics = listener
        .as_ref()
        .map(|_| Arc::new(tews::metrics::Metrics::new()));
    if let (Some(listener), Some(metrics)) = (listener, &metrics) {
        let (monitor, shared) = (outputs.monitor(), shared.clone());
        tews::metrics::serve(listener, metrics.clone(), move |m| {
            m.set_live(&shared.stats(), shared.queue_depth());
            m.set_outputs(&monitor.snapshot());
        })
        .context("cannot start the metrics thread")?;
    }
    let cpis = source
        .cpis()
        .context("the receiver's CPIs are taken once")?;
    let result = pipeline::run(cpis, &params, backend.as_mut(), outputs, |k, d, p| {
        let latency_s = shared.take_arrival(k).map(|t| t.elapsed().as_secs_f64());
        if let Some(m) = &metrics {
            m.observe_cpi(d.detections.len() as u64, p.len() as u64, latency_s);
        }
    });
    let live = source.join();
    let mut summary = result.with_context(|| format!("processing {input}"))?;
    summary.input = input.to_string();
    describe_cfar(&mut summary, &plan, &config);
    tracing::info!(
        "{input}: stopped ({}): {} packets ({} lost, {} malformed, {} duplicate), \
         {} CPIs processed, {} dropped, {} incomplete; {} detections, {} plots",
        live.stop_reason,
        live.packets_received,
        live.packets_lost,
        live.packets_malformed,
        live.packets_duplicate,
        summary.cpis,
        live.cpis_dropped,
        live.cpis_incomplete,
        summary.detections,
        summary.plots
    );
    let failed = live
        .stop_reason
        .starts_with("receive error")
        .then(|| live.stop_reason.clone());
    summary.live = Some(live);
    if let Some(path) = &args.summary {
        write_summary(path, &summary)?;
    }
    if let Some(e) = failed {
        bail!("{input}: {e}");
    }
    Ok(())
}

fn cmd_replay(args: &ReplayArgs) -> Result<()> {
    use tews::ingest::vrt::encoder::MAX_SAMPLES_PER_PACKET;
    let to = tews::ingest::udp::parse_url(&args.to, "udp")?;
    if !(1..=MAX_SAMPLES_PER_PACKET).contains(&args.samples_per_packet) {
        bail!(
            "--samples-per-packet {}: must be 1 to {MAX_SAMPLES_PER_PACKET}",
            args.samples_per_packet
        );
    }
    if !(0.0..=1.0).contains(&args.loss) {
        bail!("--loss {}: not a probability from 0 to 1", args.loss);
    }
    let recording = Recording::open(&args.recording)?;
    let report = tews::replay::replay(
        &recording,
        &tews::replay::ReplayOptions {
            to,
            rate: args.rate,
            samples_per_packet: args.samples_per_packet,
            loss: args.loss,
            seed: args.seed,
            stream_id: args.stream_id,
            repeat: args.repeat,
        },
    )?;
    let secs = report.seconds.max(1e-9);
    tracing::info!(
        "{} CPIs to {}: {} packets sent ({} dropped on purpose, {} refused), {:.2} s, \
         {:.0} packets/s, {:.1} M samples/s, {:.3} Gb/s",
        report.cpis,
        args.to,
        report.packets_sent,
        report.packets_dropped,
        report.send_errors,
        report.seconds,
        report.packets_sent as f64 / secs,
        report.samples_sent as f64 / secs / 1e6,
        report.bytes_sent as f64 * 8.0 / secs / 1e9
    );
    if let Some(path) = &args.summary {
        let text = serde_json::to_string_pretty(&report)?;
        std::fs::write(path, text + "\n")
            .with_context(|| format!("{}: cannot write the replay summary", path.display()))?;
    }
    Ok(())
}

fn write_summary(path: &Path, summary: &Summary) -> Result<()> {
    let text = serde_json::to_string_pretty(summary)?;
    std::fs::write(path, text + "\n")
        .with_context(|| format!("{}: cannot write the summary", path.display()))
}

fn cmd_bench(args: &BenchArgs) -> Result<()> {
    if args.pulses < 8 || args.samples < 64 {
        bail!(
            "bench needs at least 8 pulses and 64 samples per pulse, got {} x {}",
            args.pulses,
            args.samples
        );
    }
    let config = args.process.config();
    let mut reports = Vec::new();
    if matches!(args.backend, BenchBackend::Cpu | BenchBackend::Both) {
        reports.push(tews::bench::bench_cpu(
            args.pulses,
            args.samples,
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
            tews::bench::bench_gpu(ctx, args.pulses, args.samples, &config, 5, args.iterations)
                .context("GPU bench")?,
        );
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

fn cmd_info(args: &InfoArgs) -> Result<()> {
    let adapters = tews::process::gpu::list_adapters();
    if args.json {
        for a in &adapters {
            println!("{}", serde_json::to_string(a)?);
        }
        return Ok(());
    }
    if adapters.is_empty() {
        println!(
            "no GPU adapter found (on Linux without a GPU, install mesa-vulkan-drivers \
             for the lavapipe software adapter); processing runs on the CPU"
        );
        return Ok(());
    }
    println!(
        "{:<3} {:<36} {:<7} {:<13} {:<36} {:>8} {:>6} {:>10} {:>10}",
        "#", "adapter", "backend", "type", "driver", "wg mem", "wg inv", "storage", "buffer"
    );
    for (i, a) in adapters.iter().enumerate() {
        let l = &a.limits;
        let clip = |s: &str, n: usize| s.chars().take(n).collect::<String>();
        println!(
            "{:<3} {:<36} {:<7} {:<13} {:<36} {:>8} {:>6} {:>10} {:>10}",
            i,
            clip(&a.name, 36),
            a.backend,
            a.device_type,
            clip(&a.driver, 36),
            format!("{} KiB", l.max_compute_workgroup_storage_size / 1024),
            l.max_compute_invocations_per_workgroup,
            mib(l.max_storage_buffer_binding_size),
            mib(l.max_buffer_size),
        );
    }
    println!(
        "wg mem: max_compute_workgroup_storage_size; wg inv: max_compute_invocations_per_workgroup; \
         storage: max_storage_buffer_binding_size; buffer: max_buffer_size"
    );
    Ok(())
}

/// Bytes as MiB (or GiB) for the info table.
fn mib(bytes: u64) -> String {
    if bytes >= 1 << 30 {
        format!("{:.1} GiB", bytes as f64 / (1u64 << 30) as f64)
    } else {
        format!("{} MiB", bytes >> 20)
    }
}

fn cmd_simulate(args: &SimulateArgs) -> Result<()> {
    let scenario = match &args.scenario {
        Some(path) => tews::sim::Scenario::from_toml_file(path)?,
        None => tews::sim::Scenario::builtin(),
    };
    let truth = tews::sim::simulate(&scenario, args.seed, &args.out)?;
    tracing::info!(
        "wrote {} CPIs, {} target records to {}.sigmf-meta/.sigmf-data/.truth.json",
        truth.cpis.len(),
        truth.targets.len(),
        args.out.display()
    );
    Ok(())
}

/// Processes one CPI of a recording and draws it.
fn render_cpi(
    recording: &Recording,
    k: u64,
    config: &ProcessConfig,
    choice: BackendChoice,
    title_name: &str,
    png: &Path,
) -> Result<usize> {
    let plan = ChainPlan::new(&recording.params, config)?;
    let cpi = recording.read_cpi(k)?;
    let gpu = match open_gpu(choice)? {
        Some(ctx) => match GpuChain::new(ctx, plan.clone()) {
            Ok(chain) => Some(chain),
            Err(e) if choice == BackendChoice::Auto => {
                tracing::info!("backend auto: the GPU cannot run this CPI ({e}); using the CPU");
                None
            }
            Err(e) => return Err(e).context("--backend gpu"),
        },
        None => None,
    };
    let mut cpu_chain;
    let mut gpu_chain;
    let (found, map) = match gpu {
        Some(chain) => {
            gpu_chain = chain;
            let found = gpu_chain.process(&cpi)?;
            (found, gpu_chain.fetch_map()?)
        }
        None => {
            cpu_chain = CpuChain::new(plan);
            let found = cpu_chain.process(&cpi)?;
            (
                found,
                cpu_chain
                    .last_map()
                    .context("the CPU backend keeps its map")?,
            )
        }
    };
    let plots = tews::plots::extract_plots(&found.detections, &recording.params, &cpi.meta);
    let time = cpi
        .meta
        .time_utc
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let title = format!("{title_name}  \u{b7}  CPI {k}  \u{b7}  {time}");
    tews::view::render_png(
        map,
        &recording.params,
        cpi.meta.carrier_hz,
        &plots,
        &title,
        png,
    )?;
    Ok(plots.len())
}

fn cmd_view(args: &ViewArgs) -> Result<()> {
    let recording = Recording::open(&args.input)?;
    if args.cpi >= recording.num_cpis {
        bail!(
            "{}: --cpi {} is out of range (the recording has {} CPIs, 0..={})",
            args.input.display(),
            args.cpi,
            recording.num_cpis,
            recording.num_cpis.saturating_sub(1)
        );
    }
    let name = args
        .input
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let n = render_cpi(
        &recording,
        args.cpi,
        &args.process.config(),
        args.backend,
        &name,
        &args.png,
    )?;
    tracing::info!("CPI {}: {n} plots; wrote {}", args.cpi, args.png.display());
    Ok(())
}

fn cmd_demo(args: &DemoArgs) -> Result<()> {
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
    let mut summary = process_recording(
        &recording,
        backend,
        sinks,
        &meta_path,
        tews::ingest::pacing::Pacing::default(),
        |_, _, p| plots.extend_from_slice(p),
    )?;
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
