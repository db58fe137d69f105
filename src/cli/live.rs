//! `tews run --input vrt+udp://ADDR:PORT`: live VITA 49.2 input.

use anyhow::{Context, Result, bail};
use tews::output::{OutputSpec, Outputs, PlotSink};
use tews::pipeline;
use tews::process::ChainPlan;

use super::run::RunArgs;
use super::{SummaryFile, describe_cfar, make_backend};

/// `tews run --input vrt+udp://ADDR:PORT`: live VITA 49.2 packets through
/// the same chain and outputs as a recording (tews::ingest::udp).
pub(crate) fn cmd_run_live(
    args: &RunArgs,
    input: &str,
    specs: Vec<OutputSpec>,
    site: Option<tews::site::SiteConfig>,
) -> Result<()> {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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
        .map(|s| {
            s.with_asterix(asterix)
                .with_site(&site.site, &site.sharing, &site.partners, asterix)
        })
        .collect();
    if args.repeat != 1 || args.cpi_rate.is_some() {
        bail!(
            "{input}: --repeat and --cpi-rate pace recordings; live input arrives at its own rate"
        );
    }
    let drain = super::run::drain_timeout(args)?;
    let config = args.process.config();
    let plan = ChainPlan::new(&params, &config)?;
    // The site's position ([site] latitude_deg, longitude_deg, height_m).
    let site_position = site
        .position()
        .map_err(|(key, problem)| anyhow::anyhow!("{key}: {problem}"))?;
    // Handlers before the socket is announced: a signal is then always a clean stop.
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // A second signal while stopping exits at once (registered first).
        signal_hook::flag::register_conditional_shutdown(signal, 130, stop.clone())
            .and_then(|_| signal_hook::flag::register(signal, stop.clone()))
            .context("cannot install the SIGINT/SIGTERM handlers")?;
    }
    // The summary path is checked (created as PATH.partial, removed again if
    // anything below fails) before the socket, the outputs and the first
    // packet: a live run's summary is never lost at its end.
    let summary_file = args
        .summary
        .as_deref()
        .map(SummaryFile::create)
        .transpose()?;
    // Sockets before outputs: a port in use fails before any output is created.
    let (socket, buffer) = udp::bind(input, addr, udp::DEFAULT_RECV_BUFFER_BYTES)?;
    let listener = args
        .metrics
        .as_deref()
        .map(tews::metrics::listen)
        .transpose()?;
    // After the socket (a port in use is reported before any GPU driver is
    // loaded and prints its own lines), before the outputs are created.
    let mut backend = make_backend(args.backend, plan.clone())?;
    let (situation, specs) = super::situation::split(specs);
    let mut sinks: Vec<Box<dyn PlotSink>> =
        specs.iter().map(|s| s.open()).collect::<Result<_, _>>()?;
    // Live input is real unless the site says it is an exercise.
    let tracking = super::situation::stage(
        &situation,
        &specs,
        site_position,
        &params,
        Some(&site.site),
        false,
        tews::tracking::AssessMode::Latest,
    )?
    .map(|t| t.into_sink(&mut sinks));
    let live_config = udp::LiveConfig {
        assembler: tews::ingest::vrt::AssemblerConfig {
            pulses_per_cpi: params.pulses_per_cpi,
            samples_per_pulse: params.samples_per_pulse,
            stream_id: radar.stream_id,
        },
        stream_ids: radar.channel_stream_ids(),
        sum_channel: params.sum_channel,
        sample_rate_hz: params.sample_rate_hz,
        window_delay_s: params.window_delay_s,
        queue_cpis: udp::queue_cpis_for(params.samples_per_cpi() * params.num_channels * 8),
        max_cpis: args.max_cpis,
        idle_timeout,
    };
    let mut source = udp::LiveSource::start(socket, buffer, live_config, stop)
        .with_context(|| format!("{input}: cannot start the receiver"))?;
    let shared = source.shared();
    let mut outputs = Outputs::start(sinks, tews::output::fanout::DEFAULT_QUEUE_CPIS);
    outputs.set_drain_timeout(drain);
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
    let plot_maker = tews::plots::PlotMaker::new(&params, &plan, site_position);
    tracing::info!("{}", plot_maker.describe_angles());
    // What came in and what came out, every few seconds on a terminal.
    let done = Arc::new([AtomicU64::new(0), AtomicU64::new(0)]);
    let status = {
        let (shared, done, input, t0) = (
            shared.clone(),
            Arc::clone(&done),
            input.to_string(),
            std::time::Instant::now(),
        );
        let mut last = (t0, 0u64);
        super::progress::StatusLine::start(move || {
            let (now, stats) = (std::time::Instant::now(), shared.stats());
            let dt = now.duration_since(last.0).as_secs_f64();
            let rate = stats.packets_received.saturating_sub(last.1) as f64 / dt.max(1e-3);
            last = (now, stats.packets_received);
            super::progress::live_status(
                &input,
                t0.elapsed(),
                &stats,
                rate,
                done[0].load(Ordering::Relaxed),
                done[1].load(Ordering::Relaxed),
            )
        })
    };
    let result =
        pipeline::run_uncommitted(cpis, &plot_maker, backend.as_mut(), outputs, |k, d, p| {
            done[0].fetch_add(1, Ordering::Relaxed);
            done[1].fetch_add(p.len() as u64, Ordering::Relaxed);
            let latency_s = shared.take_arrival(k).map(|t| t.elapsed().as_secs_f64());
            if let Some(m) = &metrics {
                m.observe_cpi(d.detections.len() as u64, p.len() as u64, latency_s);
            }
        });
    drop(status);
    let live = source.join();
    let (mut summary, finished) = result.with_context(|| format!("processing {input}"))?;
    summary.input = input.to_string();
    describe_cfar(&mut summary, &plan, &config);
    summary.tracking = super::situation::take_summary(tracking);
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
    // The summary is written even for a failed run (it says why it
    // stopped); the outputs go in place only when the run succeeded.
    if let Some(file) = summary_file {
        file.write(&summary)?;
    }
    if let Some(e) = failed {
        bail!("{input}: {e}");
    }
    finished.commit()?;
    Ok(())
}
