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
    /// Recording: NAME.sigmf-meta, NAME.sigmf-data, NAME or NAME.sigmf
    /// (archive): draws one CPI's range-Doppler map. Not with --warnings.
    #[arg(
        long,
        required_unless_present = "warnings",
        conflicts_with = "warnings"
    )]
    pub(crate) input: Option<PathBuf>,
    /// Warnings (formats.md §7 JSON lines, `tews run --output warnings:PATH`):
    /// draws the launch and impact points with their 95% ellipses on a
    /// latitude/longitude map instead.
    #[arg(long)]
    pub(crate) warnings: Option<PathBuf>,
    /// With --warnings: tracks (formats.md §6 JSON lines) whose ground paths
    /// are drawn too.
    #[arg(long, requires = "warnings")]
    pub(crate) tracks: Option<PathBuf>,
    /// With --warnings: the site's position, LAT,LON in degrees.
    #[arg(long, requires = "warnings", value_parser = parse_lat_lon)]
    pub(crate) site_position: Option<(f64, f64)>,
    /// CPI index (0-based).
    #[arg(long, default_value_t = 0)]
    pub(crate) cpi: u64,
    /// Output picture.
    #[arg(long)]
    pub(crate) png: PathBuf,
    /// Processing backend.
    #[arg(long, value_enum, ignore_case = true, default_value_t = BackendChoice::Auto)]
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

fn parse_lat_lon(s: &str) -> Result<(f64, f64), String> {
    let (a, b) = s
        .split_once(',')
        .ok_or_else(|| format!("{s:?}: expected LAT,LON in degrees"))?;
    let lat: f64 = a
        .trim()
        .parse()
        .map_err(|_| format!("{a:?}: not a latitude"))?;
    let lon: f64 = b
        .trim()
        .parse()
        .map_err(|_| format!("{b:?}: not a longitude"))?;
    if !(lat.abs() <= 90.0 && lon.abs() <= 360.0) {
        return Err(format!(
            "{s}: latitude must be within +-90, longitude +-360 deg"
        ));
    }
    Ok((lat, lon))
}

/// Reads a JSON lines file; each line's error names the file and line.
fn json_lines(path: &Path) -> Result<Vec<serde_json::Value>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l)
                .with_context(|| format!("{} line {}: not a JSON object", path.display(), i + 1))
        })
        .collect()
}

fn cmd_view_warnings(args: &ViewArgs, warnings: &Path) -> Result<()> {
    render_warnings_png(
        warnings,
        args.tracks.as_deref(),
        args.site_position,
        &args.png,
    )
}

/// Draws a warnings file (and a tracks file's ground paths) to `png`.
pub(crate) fn render_warnings_png(
    warnings: &Path,
    tracks: Option<&Path>,
    site: Option<(f64, f64)>,
    png: &Path,
) -> Result<()> {
    use tews::view::situation::{Situation, WarningIssues, render_situation};
    let mut situation = Situation {
        site,
        title: format!("tews warnings \u{b7} {}", warnings.display()),
        ..Situation::default()
    };
    for (i, w) in json_lines(warnings)?.iter().enumerate() {
        let at = |k: &str| {
            serde_json::from_value::<tews::assess::warning::WarningPoint>(w[k].clone())
                .with_context(|| {
                    format!(
                        "{} line {}: {k} is not a warning point",
                        warnings.display(),
                        i + 1
                    )
                })
        };
        let id = w["warning"]
            .as_str()
            .with_context(|| format!("{} line {}: no warning id", warnings.display(), i + 1))?
            .to_string();
        let (impact, launch) = (at("impact")?, at("launch")?);
        match situation.warnings.iter_mut().find(|x| x.warning == id) {
            Some(x) => {
                x.impacts.push(impact);
                x.launches.push(launch);
            }
            None => situation.warnings.push(WarningIssues {
                warning: id,
                impacts: vec![impact],
                launches: vec![launch],
            }),
        }
    }
    if let Some(path) = tracks {
        let mut paths: std::collections::BTreeMap<u64, Vec<(f64, f64)>> = Default::default();
        for (i, t) in json_lines(path)?.iter().enumerate() {
            let (Some(id), Some(lat), Some(lon)) = (
                t["track"].as_u64(),
                t["latitude_deg"].as_f64(),
                t["longitude_deg"].as_f64(),
            ) else {
                bail!("{} line {}: not a track report", path.display(), i + 1);
            };
            paths.entry(id).or_default().push((lat, lon));
        }
        situation.tracks = paths.into_values().collect();
    }
    render_situation(&situation, png)?;
    tracing::info!(
        "{} warnings, {} tracks; wrote {}",
        situation.warnings.len(),
        situation.tracks.len(),
        png.display()
    );
    Ok(())
}

pub(crate) fn cmd_view(args: &ViewArgs) -> Result<()> {
    if let Some(w) = &args.warnings {
        return cmd_view_warnings(args, w);
    }
    let input = args.input.as_ref().context("--input or --warnings")?;
    let recording = Recording::open(input)?;
    if args.cpi >= recording.num_cpis {
        bail!(
            "{}: --cpi {} is out of range (the recording has {} CPIs, 0..={})",
            input.display(),
            args.cpi,
            recording.num_cpis,
            recording.num_cpis.saturating_sub(1)
        );
    }
    let name = input
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
