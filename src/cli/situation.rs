//! The tracks, warnings and CAP outputs of `tews run`: split from the plot
//! outputs, opened before processing, and run as the tracking stage.

use anyhow::Result;
use std::sync::{Arc, Mutex};
use tews::geo::Geodetic;
use tews::output::OutputSpec;
use tews::output::SiteIdentity;
use tews::output::cap::CapContext;
use tews::output::situation::{SituationFiles, SituationSpec};
use tews::radar::RadarParams;
use tews::tracking::{AssessMode, TrackingStage, TrackingSummary, WarningIdentity};

/// The tracks/warnings/CAP outputs, and the plot outputs.
pub(crate) fn split(specs: Vec<OutputSpec>) -> (Vec<SituationSpec>, Vec<OutputSpec>) {
    let mut situation = Vec::new();
    let mut plots = Vec::new();
    for s in specs {
        match s {
            OutputSpec::Situation(s) => situation.push(s),
            other => plots.push(other),
        }
    }
    (situation, plots)
}

/// The tracking stage for `specs` (`None` when there are none): its files
/// are created here, before any processing. Without `--site` the warnings
/// are named `unset.site.radar.N`.
pub(crate) fn stage(
    specs: &[SituationSpec],
    position: Option<Geodetic>,
    params: &RadarParams,
    site: Option<&SiteIdentity>,
    simulated: bool,
    mode: AssessMode,
) -> Result<Option<(TrackingStage, Arc<Mutex<TrackingSummary>>)>> {
    if specs.is_empty() {
        return Ok(None);
    }
    let (nation, name, sensor) = site.map_or(("unset", "site", "radar"), |s| {
        (s.nation.as_str(), s.name.as_str(), s.sensor.as_str())
    });
    let exercise = simulated || site.is_some_and(|s| s.exercise);
    let cap = CapContext {
        sender: format!("{sensor}.{name}.{nation}.tews"),
        releasability: "partners of the sharing network".into(),
    };
    let files = SituationFiles::create(specs, &cap)?;
    let identity = WarningIdentity {
        nation: nation.into(),
        site: name.into(),
        sensor: sensor.into(),
        exercise,
    };
    let stage = TrackingStage::new(
        position,
        params.pulses_per_cpi,
        params.pri_s,
        identity,
        files,
        mode,
    )
    .map_err(|e| {
        let names: Vec<String> = specs.iter().map(SituationSpec::name).collect();
        anyhow::anyhow!("output {}: {e}", names.join(", "))
    })?;
    Ok(Some(stage))
}

/// The stage's summary after the run.
pub(crate) fn take_summary(handle: Option<Arc<Mutex<TrackingSummary>>>) -> Option<TrackingSummary> {
    handle.map(|h| h.lock().unwrap_or_else(|e| e.into_inner()).clone())
}
