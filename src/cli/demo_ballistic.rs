//! `tews demo --ballistic`: the whole chain from IQ to warnings in one
//! command, checked against the simulator's truth.

use anyhow::{Context, Result};
use std::path::Path;
use tews::assess::warning::WarningPoint;
use tews::geo::{Geodetic, LocalFrame};
use tews::ingest::sigmf::Recording;
use tews::output::situation::SituationSpec;
use tews::output::{OutputSpec, PlotSink};
use tews::process::cpu::CpuChain;
use tews::process::{Backend, ChainPlan, ProcessConfig};
use tews::sim::truth::EventTruth;

use super::run::{Processor, process_recording};
use super::{describe_cfar, write_summary};

/// Where the truth lies on `p`'s ellipse: (error km, Mahalanobis^2).
fn miss(p: &WarningPoint, truth: &EventTruth) -> (f64, f64) {
    let frame = LocalFrame::new(Geodetic {
        latitude_deg: p.latitude_deg,
        longitude_deg: p.longitude_deg,
        height_m: 0.0,
    });
    let t = Geodetic {
        latitude_deg: truth.latitude_deg,
        longitude_deg: truth.longitude_deg,
        height_m: 0.0,
    };
    let d = frame.ecef_to_enu(&t.to_ecef());
    (d.x.hypot(d.y) / 1e3, p.ellipse_95.mahalanobis2(d.x, d.y))
}

fn utc(s: &str) -> Result<time::OffsetDateTime> {
    Ok(time::OffsetDateTime::parse(
        s,
        &time::format_description::well_known::Rfc3339,
    )?)
}

pub(crate) fn cmd_demo_ballistic(dir: &Path, seed: u64) -> Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("{}: cannot create the demo directory", dir.display()))?;
    let scenario = tews::sim::trajectory::ballistic_scenario();
    let prefix = dir.join("ballistic");
    let truth = tews::sim::simulate(&scenario, seed, &prefix)?;
    let meta_path = dir.join("ballistic.sigmf-meta");
    let recording = Recording::open(&meta_path)?;
    let config = ProcessConfig::default();
    let plan = ChainPlan::new(&recording.params, &config)?;
    let paths = [
        dir.join("plots.jsonl"),
        dir.join("tracks.jsonl"),
        dir.join("warnings.jsonl"),
        dir.join("cap"),
    ];
    let situation = vec![
        SituationSpec::Tracks(paths[1].clone()),
        SituationSpec::Warnings(paths[2].clone()),
        SituationSpec::Cap(paths[3].clone()),
    ];
    let mut sinks: Vec<Box<dyn PlotSink>> =
        vec![OutputSpec::JsonLines(Some(paths[0].clone())).open()?];
    let tracking = super::situation::stage(
        &situation,
        &[],
        recording.site(),
        &recording.params,
        None,
        recording.simulated,
        tews::tracking::AssessMode::Every,
    )?
    .context("the tracking stage")?;
    let handle = tracking.into_sink(&mut sinks);
    let backend: Box<dyn Backend> = Box::new(CpuChain::new(plan.clone()));
    let plot_maker = tews::plots::PlotMaker::new(&recording.params, &plan, recording.site());
    let mut warnings = Vec::new();
    let (mut summary, finished) = process_recording(
        &recording,
        Processor {
            backend,
            plot_maker,
        },
        sinks,
        &meta_path,
        tews::ingest::pacing::Pacing::default(),
        tews::output::fanout::DEFAULT_DRAIN_TIMEOUT,
        |_, _, _| {},
    )?;
    finished.commit()?;
    describe_cfar(&mut summary, &plan, &config);
    summary.tracking = super::situation::take_summary(Some(handle));
    write_summary(&dir.join("summary.json"), &summary)?;
    for line in std::fs::read_to_string(&paths[2])?.lines() {
        warnings.push(serde_json::from_str::<serde_json::Value>(line)?);
    }
    let t = truth
        .trajectories
        .first()
        .context("the ballistic scenario has a trajectory")?;
    let burnout = utc(&t.burnout.time_utc)?;
    println!(
        "tews demo --ballistic: {} looks, 1 missile launched {} from {:.2} N {:.2} E; truth: burnout {}, apogee {:.0} km, impact {} at {:.3} N {:.3} E",
        recording.num_cpis,
        t.launch.time_utc,
        t.launch.latitude_deg,
        t.launch.longitude_deg,
        t.burnout.time_utc,
        t.apogee.height_m / 1e3,
        t.impact.time_utc,
        t.impact.latitude_deg,
        t.impact.longitude_deg
    );
    let s = summary.tracking.clone().unwrap_or_default();
    println!(
        "{} plots, {} confirmed tracks, {} ballistic, {} warning issues ({} assessments)",
        summary.plots, s.tracks_confirmed, s.tracks_ballistic, s.warnings_issued, s.assessments
    );
    println!(
        "{:>4} {:>8} | {:>9} {:>9} {:>7} {:>6} {:>8} | {:>9} {:>9} {:>6}",
        "seq",
        "t-BO s",
        "impact km",
        "95% a km",
        "b km",
        "in?",
        "dT s",
        "launch km",
        "95% a km",
        "in?"
    );
    let impact_time = utc(&t.impact.time_utc)?;
    for (i, w) in warnings.iter().enumerate() {
        // First, every tenth, and last.
        if !(i == 0 || i % 10 == 9 || i + 1 == warnings.len()) {
            continue;
        }
        let impact: WarningPoint = serde_json::from_value(w["impact"].clone())?;
        let launch: WarningPoint = serde_json::from_value(w["launch"].clone())?;
        let at = utc(w["time_utc"].as_str().unwrap_or_default())?;
        let (ik, id2) = miss(&impact, &t.impact);
        let (lk, ld2) = miss(&launch, &t.launch);
        let inside = |d2: f64| if d2 <= 5.991 { "yes" } else { "NO" };
        println!(
            "{:>4} {:>8.0} | {:>9.3} {:>9.3} {:>7.3} {:>6} {:>8.2} | {:>9.2} {:>9.2} {:>6}",
            w["sequence"],
            (at - burnout).as_seconds_f64(),
            ik,
            impact.ellipse_95.semi_major_m / 1e3,
            impact.ellipse_95.semi_minor_m / 1e3,
            inside(id2),
            (impact.time_utc - impact_time).as_seconds_f64(),
            lk,
            launch.ellipse_95.semi_major_m / 1e3,
            inside(ld2)
        );
    }
    let png = dir.join("warnings.png");
    super::view::render_warnings_png(
        &paths[2],
        Some(&paths[1]),
        recording.site().map(|g| (g.latitude_deg, g.longitude_deg)),
        &png,
    )?;
    println!(
        "wrote {}, {}, {}, {}, {}/ (CAP 1.2), {}, {}",
        meta_path.display(),
        paths[0].display(),
        paths[1].display(),
        paths[2].display(),
        paths[3].display(),
        dir.join("summary.json").display(),
        png.display()
    );
    Ok(())
}
