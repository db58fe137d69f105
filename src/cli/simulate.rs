//! `tews simulate`: write a simulated recording and its truth.

use anyhow::Result;
use clap::Args;
use std::path::PathBuf;

#[derive(Args)]
pub(crate) struct SimulateArgs {
    /// Scenario file (TOML; see the tews::sim docs). Default: the built-in scenario.
    #[arg(long)]
    pub(crate) scenario: Option<PathBuf>,
    /// Random seed: the same seed gives the same bytes.
    #[arg(long, default_value_t = 1)]
    pub(crate) seed: u64,
    /// Use the built-in ballistic scenario (a tracking radar watching a
    /// missile from launch to impact; see tews::sim::trajectory) instead of
    /// the built-in surveillance one. Not with --scenario.
    #[arg(long, conflicts_with = "scenario")]
    pub(crate) ballistic: bool,
    /// Output prefix: writes PREFIX.sigmf-meta, PREFIX.sigmf-data, PREFIX.truth.json.
    #[arg(long)]
    pub(crate) out: PathBuf,
}

pub(crate) fn cmd_simulate(args: &SimulateArgs) -> Result<()> {
    let scenario = match &args.scenario {
        Some(path) => tews::sim::Scenario::from_toml_file(path)?,
        None if args.ballistic => tews::sim::trajectory::ballistic_scenario(),
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
