//! The tracks, warnings and CAP outputs of `tews run`: split from the plot
//! outputs, opened before processing, and run as the tracking stage.

use anyhow::Result;
use std::sync::{Arc, Mutex};
use tews::geo::Geodetic;
use tews::output::OutputSpec;
use tews::output::SiteIdentity;
use tews::output::asterix::SiteId;
use tews::output::asterix::cat062::Cat062Config;
use tews::output::asterix::track_sinks::Cat062UdpSink;
use tews::output::cap::CapContext;
use tews::output::nats::situation::{NatsSituationSink, SituationMonitor};
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
/// are created here, before any processing. When the run tracks, the plot
/// outputs `plot_specs` carry the tracks too: every `asterix+udp://`
/// destination gets them as CAT062 datagrams, every `nats://` server on
/// the tracks, warnings and CAP subjects (src/output/nats/situation.rs).
/// Without `--site` the warnings are named `unset.site.radar.N`.
#[allow(clippy::too_many_arguments)] // each is one plain fact about the run
pub(crate) fn stage(
    specs: &[SituationSpec],
    plot_specs: &[OutputSpec],
    position: Option<Geodetic>,
    params: &RadarParams,
    site: Option<&SiteIdentity>,
    simulated: bool,
    mode: AssessMode,
) -> Result<Option<Tracking>> {
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
    let cat062 = site.map(|s| Cat062Config {
        site: SiteId {
            sac: s.sac,
            sic: s.sic,
        },
        // SIM marks simulated targets (as CAT048's does), not an exercise.
        simulated,
    });
    let mut files = SituationFiles::create(specs, &cap, cat062)?;
    let mut nats = Vec::new();
    for spec in plot_specs {
        match spec {
            OutputSpec::AsterixUdp { target, .. } => {
                if let Some(config) = cat062 {
                    files.push(Box::new(Cat062UdpSink::open(target, config)?));
                }
            }
            OutputSpec::Nats {
                settings: Some(settings),
                ..
            } => {
                let sink =
                    NatsSituationSink::open_with((**settings).clone(), position, cap.clone())?;
                nats.push((format!("nats://{}", settings.server), sink.monitor()));
                files.push(Box::new(sink));
            }
            _ => {}
        }
    }
    let identity = WarningIdentity {
        nation: nation.into(),
        site: name.into(),
        sensor: sensor.into(),
        exercise,
    };
    let (stage, summary) = TrackingStage::new(
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
    Ok(Some(Tracking {
        stage,
        summary,
        nats,
    }))
}

/// The tracking stage, its summary handle and the NATS outputs' counters.
pub(crate) struct Tracking {
    pub(crate) stage: TrackingStage,
    pub(crate) summary: Arc<Mutex<TrackingSummary>>,
    pub(crate) nats: Vec<(String, SituationMonitor)>,
}

/// What [`Tracking`] leaves to read after the run.
pub(crate) type TrackingHandle = (Arc<Mutex<TrackingSummary>>, Vec<(String, SituationMonitor)>);

impl Tracking {
    /// Hands the stage to the outputs; keeps what the summary needs.
    pub(crate) fn into_sink(
        self,
        sinks: &mut Vec<Box<dyn tews::output::PlotSink>>,
    ) -> TrackingHandle {
        sinks.push(Box::new(self.stage));
        (self.summary, self.nats)
    }
}

/// The stage's summary after the run, with each NATS output's counters.
pub(crate) fn take_summary(handle: Option<TrackingHandle>) -> Option<TrackingSummary> {
    handle.map(|(h, nats)| {
        let mut s = h.lock().unwrap_or_else(|e| e.into_inner()).clone();
        s.nats = nats
            .iter()
            .map(|(name, m)| (name.clone(), m.stats()))
            .collect();
        s
    })
}
