//! `tews view`: one CPI's range-Doppler map with its plots as a PNG.

use anyhow::{Context, Result, bail};
use clap::Args;
use std::path::{Path, PathBuf};
use tews::ingest::sigmf::Recording;
use tews::process::cpu::CpuChain;
use tews::process::gpu::GpuChain;
use tews::process::{Backend, ChainPlan, ProcessConfig};

use super::{BackendChoice, ProcessArgs, open_gpu};

#[derive(Args)]
pub(crate) struct ViewArgs {
    /// Recording: NAME.sigmf-meta, NAME.sigmf-data, NAME or NAME.sigmf (archive).
    #[arg(long)]
    pub(crate) input: PathBuf,
    /// CPI index (0-based).
    #[arg(long, default_value_t = 0)]
    pub(crate) cpi: u64,
    /// Output picture.
    #[arg(long)]
    pub(crate) png: PathBuf,
    /// Processing backend.
    #[arg(long, value_enum, default_value_t = BackendChoice::Auto)]
    pub(crate) backend: BackendChoice,
    #[command(flatten)]
    pub(crate) process: ProcessArgs,
}

/// Processes one CPI of a recording and draws it.
pub(crate) fn render_cpi(
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

pub(crate) fn cmd_view(args: &ViewArgs) -> Result<()> {
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
