//! `tews run` with a recording: stream it through the chain into the outputs.

use anyhow::{Context, Result, bail};
use clap::Args;
use std::path::{Path, PathBuf};
use tews::ingest::sigmf::Recording;
use tews::output::{FinishedOutputs, OutputSpec, Outputs, PlotSink};
use tews::pipeline::{self, Summary};
use tews::process::{Backend, ChainPlan};

use super::live::cmd_run_live;
use super::{BackendChoice, ProcessArgs, SummaryFile, describe_cfar, make_backend};

#[derive(Args)]
pub(crate) struct RunArgs {
    /// Recording: NAME.sigmf-meta, NAME.sigmf-data, NAME or NAME.sigmf (archive);
    /// or live VITA 49.2 packets: vrt+udp://ADDR:PORT (needs --site with [radar]).
    #[arg(long)]
    pub(crate) input: PathBuf,
    /// Live input: stop after N CPIs were processed or dropped.
    #[arg(long)]
    pub(crate) max_cpis: Option<u64>,
    /// Live input: stop after this many seconds without a packet.
    #[arg(long)]
    pub(crate) idle_timeout_s: Option<f64>,
    /// Live input: serve Prometheus metrics at http://ADDR:PORT/metrics.
    #[arg(long)]
    pub(crate) metrics: Option<String>,
    /// Where plots go: jsonl:PATH, jsonl:- (stdout), asterix-file:PATH,
    /// asterix-pcap:PATH (a capture Wireshark opens) or
    /// asterix+udp://HOST:PORT[?ttl=N&iface=ADDR&loop=0|1&max_datagram=N] or
    /// nats://HOST:PORT (ASTERIX and NATS need --site); tracks and warnings:
    /// tracks:PATH, warnings:PATH, cap:DIR (CAP 1.2 alerts), cat062-file:PATH
    /// (these need the radar's position). Repeatable; default jsonl:-.
    #[arg(long = "output")]
    pub(crate) outputs: Vec<String>,
    /// Processing backend.
    #[arg(long, value_enum, ignore_case = true, default_value_t = BackendChoice::Auto)]
    pub(crate) backend: BackendChoice,
    /// Write the run summary (JSON) here.
    #[arg(long)]
    pub(crate) summary: Option<PathBuf>,
    /// Keep integer samples as raw counts instead of scaling to full scale 1.0.
    #[arg(long)]
    pub(crate) raw_counts: bool,
    /// Site configuration (TOML, see tews::site): SAC/SIC and names for the
    /// sharing outputs; with a recording, the recording's radar keys win.
    #[arg(long)]
    pub(crate) site: Option<PathBuf>,
    /// Play the recording this many times back to back (CPI index and time
    /// continue), e.g. to feed a sharing output for longer.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) repeat: u64,
    /// Release CPIs at this rate (per second, 0.001 to 1e6) as a live sensor
    /// would, instead of as fast as they can be read.
    #[arg(long)]
    pub(crate) cpi_rate: Option<f64>,
    /// At the end of the run, wait at most this many seconds (0 to 3600)
    /// for network outputs (NATS) to send what they still hold; the rest is
    /// counted dropped.
    #[arg(long, default_value_t = 3.0)]
    pub(crate) drain_timeout_s: f64,
    #[command(flatten)]
    pub(crate) process: ProcessArgs,
}

/// The longest `--drain-timeout-s`, seconds.
const MAX_DRAIN_TIMEOUT_S: f64 = 3600.0;

/// `--drain-timeout-s` as a duration, or a one-line error.
pub(crate) fn drain_timeout(args: &RunArgs) -> Result<std::time::Duration> {
    let t = args.drain_timeout_s;
    if !(0.0..=MAX_DRAIN_TIMEOUT_S).contains(&t) {
        bail!("--drain-timeout-s {t}: not a number of seconds from 0 to {MAX_DRAIN_TIMEOUT_S}");
    }
    Ok(std::time::Duration::try_from_secs_f64(t)?)
}

/// A run that completed, but an output delivered none of its plots (a
/// NATS server that refused or was never reached): exit status 3.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct NothingDelivered(pub(crate) String);

/// The outputs that were given plots and delivered none, as an error.
pub(crate) fn check_delivered(summary: &Summary) -> Result<()> {
    let silent: Vec<String> = summary
        .outputs
        .iter()
        .filter(|o| o.sent == 0 && o.dropped > 0)
        .map(|o| format!("{} delivered none of its {} plots", o.name, o.dropped))
        .collect();
    if silent.is_empty() {
        return Ok(());
    }
    Err(NothingDelivered(format!(
        "{} (everything else was written)",
        silent.join("; ")
    ))
    .into())
}

pub(crate) fn cmd_run(args: &RunArgs) -> Result<()> {
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
    let drain = drain_timeout(args)?;
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
                .map(|s| {
                    s.with_asterix(asterix).with_site(
                        &site.site,
                        &site.sharing,
                        &site.partners,
                        asterix,
                    )
                })
                .collect()
        }
        None => specs,
    };
    let config = args.process.config();
    let plan = ChainPlan::new(&recording.params, &config)?;
    let pacing = tews::ingest::pacing::Pacing {
        passes: args.repeat,
        cpi_rate_hz: args.cpi_rate,
    };
    let last_cpi = recording.cpi_meta(recording.num_cpis.saturating_sub(1));
    pacing.check(last_cpi.time_utc, recording.duration_s())?;
    let backend = make_backend(args.backend, plan.clone())?;
    // Every output path is checked (created) before processing starts.
    let summary_file = args
        .summary
        .as_deref()
        .map(SummaryFile::create)
        .transpose()?;
    // The radar's position: the recording's core:geolocation, else the
    // site file's [site] position.
    let position = match recording.site() {
        Some(g) => Some(g),
        None => site
            .as_ref()
            .map(|s| s.position())
            .transpose()
            .map_err(|(key, problem)| anyhow::anyhow!("site file: {key}: {problem}"))?
            .flatten(),
    };
    let (situation, specs) = super::situation::split(specs);
    let mut sinks: Vec<Box<dyn PlotSink>> =
        specs.iter().map(|s| s.open()).collect::<Result<_, _>>()?;
    let tracking = super::situation::stage(
        &situation,
        &specs,
        position,
        &recording.params,
        site.as_ref().map(|s| &s.site),
        recording.simulated,
        tews::tracking::AssessMode::Every,
    )?;
    let tracking = tracking.map(|t| t.into_sink(&mut sinks));
    let plot_maker = tews::plots::PlotMaker::new(&recording.params, &plan, position);
    let (mut summary, finished) = process_recording(
        &recording,
        Processor {
            backend,
            plot_maker,
        },
        sinks,
        &args.input,
        pacing,
        drain,
        |_, _, _| {},
    )?;
    describe_cfar(&mut summary, &plan, &config);
    summary.tracking = super::situation::take_summary(tracking);
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
    // The outputs go in place only once everything else succeeded.
    if let Some(file) = summary_file {
        file.write(&summary)?;
    }
    finished.commit()?;
    check_delivered(&summary)
}

/// Streams `recording` through the CPU chain into `sinks`, with a progress
/// bar on stderr when it is a terminal; the outputs are returned finished,
/// for the caller to put in place when the run has succeeded.
/// The backend and the plot maker of a run: detections, then plots.
pub(crate) struct Processor {
    /// The processing backend.
    pub(crate) backend: Box<dyn Backend>,
    /// Detections to plots (monopulse angles, geolocation).
    pub(crate) plot_maker: tews::plots::PlotMaker,
}

pub(crate) fn process_recording(
    recording: &Recording,
    processor: Processor,
    sinks: Vec<Box<dyn PlotSink>>,
    input: &Path,
    pacing: tews::ingest::pacing::Pacing,
    drain: std::time::Duration,
    mut on_cpi: impl FnMut(u64, &tews::process::CpiDetections, &[tews::plots::Plot]),
) -> Result<(Summary, FinishedOutputs)> {
    let bar = super::progress::Bar::new(recording.num_cpis * pacing.passes);
    let cpis = tews::ingest::pacing::Paced::new(
        || recording.cpis(),
        recording.num_cpis,
        recording.duration_s(),
        pacing,
    );
    let mut outputs = Outputs::start(sinks, tews::output::fanout::DEFAULT_QUEUE_CPIS);
    outputs.set_drain_timeout(drain);
    let Processor {
        mut backend,
        plot_maker,
    } = processor;
    tracing::info!("{}", plot_maker.describe_angles());
    let (mut summary, finished) =
        pipeline::run_uncommitted(cpis, &plot_maker, backend.as_mut(), outputs, |k, d, p| {
            bar.inc();
            on_cpi(k, d, p);
        })
        .with_context(|| format!("processing {}", input.display()))?;
    drop(bar);
    summary.input = input.display().to_string();
    Ok((summary, finished))
}
