//! The run loop: CPIs from ingest -> backend -> plots -> outputs, with the
//! counters of the run summary.
//!
//! Ingest runs on its own thread and hands CPIs over a bounded channel of
//! [`INGEST_QUEUE_CPIS`]: reading CPI k+1 overlaps processing CPI k, and a
//! slow backend stops the reader (back-pressure) instead of growing memory.

use crate::cpi::Cpi;
use crate::output::{FinishedOutputs, OutputError, OutputStats, Outputs};
use crate::plots::{Plot, PlotMaker};
use crate::process::{Backend, CpiDetections, ProcessError, Processed};
use serde::Serialize;
use std::fmt::Display;
use std::sync::mpsc::sync_channel;
use std::time::Instant;

/// CPIs buffered between the reader thread and processing.
pub const INGEST_QUEUE_CPIS: usize = 2;

/// The run summary (`--summary PATH`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    /// Input as given.
    pub input: String,
    /// Backend that processed the CPIs ("gpu" or "cpu").
    pub backend: String,
    /// GPU adapter name (`None` on the CPU backend).
    pub adapter: Option<String>,
    /// CPIs a GPU run had to process on the CPU (device fault, or a
    /// detection list overflow); 0 on the CPU backend.
    pub fallbacks: u64,
    /// GPU backend: how the detection channel went to the device, "ci16"
    /// (integer input uploaded as counts, 4 bytes a sample), "cf32" (8
    /// bytes a sample) or "mixed"; `None` on the CPU backend.
    pub upload: Option<String>,
    /// GPU backend: CPIs uploaded as ci16 and as cf32, and the sample bytes
    /// uploaded; `None` on the CPU backend.
    pub uploads: Option<crate::process::UploadStats>,
    /// CPIs read from the input.
    pub cpis: u64,
    /// CPIs rejected (NaN or Inf samples); not processed.
    pub cpis_rejected: u64,
    /// Cells on which the CFAR test was made, all CPIs.
    pub cells_tested: u64,
    /// CFAR threshold crossings before grouping.
    pub detections: u64,
    /// Plots reported.
    pub plots: u64,
    /// Plots whose angles were measured by monopulse.
    pub monopulse_plots: u64,
    /// Plots of a monopulse radar whose estimate fell outside the calibrated
    /// span (or was not finite): they carry the beam's angles.
    pub monopulse_outside_span: u64,
    /// Wall time of the run, seconds (reading, processing, writing).
    pub seconds: f64,
    /// Complex samples of the detection channel processed per second of wall time.
    pub samples_per_second: f64,
    /// CFAR variant.
    pub cfar: String,
    /// Requested false-alarm probability per cell.
    pub pfa: f64,
    /// CFAR threshold multiplier derived from `pfa`.
    pub cfar_alpha: f64,
    /// CFAR reference cells.
    pub cfar_reference_cells: usize,
    /// Independent-equivalent reference cells after the tapers' correlation
    /// (equals `cfar_reference_cells` without tapers).
    pub cfar_effective_reference_cells: f64,
    /// Divisor of the CFAR statistic giving the noise estimate for `snr_db`.
    pub cfar_noise_scale: f64,
    /// CFAR guard cells on each side in range actually used.
    pub cfar_guard_range: usize,
    /// Range guard the compressed pulse's mainlobe asks for (to -20 dB).
    pub cfar_mainlobe_guard_range: usize,
    /// Indices of rejected CPIs.
    pub rejected_cpi_indices: Vec<u64>,
    /// Per output: plots sent, dropped (queue full, refused by the system or
    /// not encodable), still queued, send errors, the latency from a CPI's
    /// last sample to its report leaving the output (`latency_us_*`) and the
    /// output stage's share of it, from the detector's push (`output_us_*`).
    pub outputs: Vec<OutputStats>,
    /// Tracking and warnings, when the run had tracks, warnings or CAP
    /// outputs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tracking: Option<crate::tracking::TrackingSummary>,
    /// Live input only: packet and CPI counters of the receiver.
    #[serde(flatten)]
    pub live: Option<crate::ingest::udp::LiveStats>,
}

/// Why a run stopped early.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Reading the input failed mid-run.
    #[error("{0}")]
    Ingest(String),
    /// Processing failed for a reason other than a bad CPI.
    #[error(transparent)]
    Process(#[from] ProcessError),
    /// An output failed.
    #[error(transparent)]
    Output(#[from] OutputError),
}

/// Processes every CPI of `cpis` with `backend` and hands the plots to
/// `outputs`. `on_cpi` sees each processed CPI's detections and plots (for
/// progress bars, the demo's table, tests). Outputs are finished and put in
/// place only when the whole input was processed; on an error they are
/// dropped unfinished (a file output's `.partial` is removed, an earlier
/// file at its path untouched).
pub fn run<I, E>(
    cpis: I,
    plot_maker: &PlotMaker,
    backend: &mut dyn Backend,
    outputs: Outputs,
    on_cpi: impl FnMut(u64, &CpiDetections, &[Plot]),
) -> Result<Summary, RunError>
where
    I: Iterator<Item = Result<Cpi, E>> + Send,
    E: Display + Send,
{
    let (summary, finished) = run_uncommitted(cpis, plot_maker, backend, outputs, on_cpi)?;
    finished.commit()?;
    Ok(summary)
}

/// As [`run`], but the outputs are left finished and not yet in place: the
/// caller commits them ([`FinishedOutputs::commit`]) once everything else
/// the run must do (the summary, the live receiver's end) has succeeded, or
/// drops them to discard them. `seconds` and `samples_per_second` measure
/// processing up to the last CPI handed to the outputs, without the wait
/// for the outputs to send what they still hold.
pub fn run_uncommitted<I, E>(
    cpis: I,
    plot_maker: &PlotMaker,
    backend: &mut dyn Backend,
    outputs: Outputs,
    mut on_cpi: impl FnMut(u64, &CpiDetections, &[Plot]),
) -> Result<(Summary, FinishedOutputs), RunError>
where
    I: Iterator<Item = Result<Cpi, E>> + Send,
    E: Display + Send,
{
    let start = Instant::now();
    let mut summary = Summary {
        backend: backend.name().to_string(),
        ..Summary::default()
    };
    let samples_per_cpi = plot_maker.params().samples_per_cpi() as f64;
    // A backend that takes ci16 CPIs as counts gets them unconverted; any
    // other gets cf32 made here, on the ingest thread, overlapping the
    // processing of the CPI before (as the readers decoded before), and
    // the counts dropped (one copy of the samples in memory, not two).
    let takes_ci16 = backend.takes_ci16();
    if takes_ci16 {
        tracing::info!(
            "{} backend: ci16 input is uploaded as ci16 (4 bytes a sample), \
             other input as cf32 (8 bytes a sample)",
            backend.name()
        );
    }
    let (tx, rx) = sync_channel::<Result<Cpi, String>>(INGEST_QUEUE_CPIS);
    let result = std::thread::scope(|scope| {
        scope.spawn(move || {
            for mut item in cpis {
                if !takes_ci16 && let Ok(cpi) = &mut item {
                    cpi.decode();
                }
                let failed = item.is_err();
                if tx.send(item.map_err(|e| e.to_string())).is_err() || failed {
                    break;
                }
            }
        });
        // The backend may hold CPIs in flight (the GPU ring): results come
        // back in CPI order, possibly one or more pushes later.
        let mut done: Vec<Processed> = Vec::new();
        let mut handle = |done: &mut Vec<Processed>,
                          summary: &mut Summary,
                          backend: &dyn Backend|
         -> Result<(), RunError> {
            // A backend's host-side values describe the CPI it returned
            // last: usable only when that is the one CPI handed back.
            let single = done.len() == 1;
            for Processed { cpi, result } in done.drain(..) {
                let found = match result {
                    Ok(found) => found,
                    Err(ProcessError::NonFinite(index)) => {
                        tracing::warn!(
                            "CPI {index} contains NaN or Inf samples: rejected, run continues"
                        );
                        summary.cpis_rejected += 1;
                        summary.rejected_cpi_indices.push(index);
                        continue;
                    }
                    Err(e) => return Err(RunError::Process(e)),
                };
                let sum_values = |cells: &[(usize, usize)]| {
                    single
                        .then(|| backend.detection_channel_values(cells))
                        .flatten()
                };
                let (plots, angles) = plot_maker.plots_with(&found.detections, &cpi, &sum_values);
                summary.monopulse_plots += angles.monopulse_plots;
                summary.monopulse_outside_span += angles.monopulse_outside_span;
                summary.cells_tested += found.cells_tested;
                summary.detections += found.detections.len() as u64;
                summary.plots += plots.len() as u64;
                outputs.push_cpi((&cpi.meta).into(), &plots)?;
                on_cpi(cpi.meta.index, &found, &plots);
            }
            Ok(())
        };
        for item in rx {
            let mut cpi = item.map_err(RunError::Ingest)?;
            cpi.meta.received_at.get_or_insert_with(Instant::now);
            summary.cpis += 1;
            backend.push(cpi, &mut done);
            handle(&mut done, &mut summary, &*backend)?;
        }
        backend.flush(&mut done);
        handle(&mut done, &mut summary, &*backend)?;
        Ok::<(), RunError>(())
        // Dropping rx here ends the reader if we stopped early.
    });
    result?;
    summary.adapter = backend.adapter();
    summary.fallbacks = backend.fallbacks();
    summary.uploads = backend.uploads();
    summary.upload = summary.uploads.map(|u| u.kind().to_string());
    if let Some(u) = summary.uploads {
        tracing::info!(
            "GPU upload: {} ({} CPIs as ci16, {} as cf32, {} sample bytes)",
            u.kind(),
            u.ci16_cpis,
            u.cf32_cpis,
            u.bytes
        );
    }
    summary.seconds = start.elapsed().as_secs_f64();
    let processed = (summary.cpis - summary.cpis_rejected) as f64;
    summary.samples_per_second = processed * samples_per_cpi / summary.seconds.max(1e-9);
    let finished = outputs.finish_uncommitted()?;
    summary.outputs = finished.stats().to_vec();
    Ok((summary, finished))
}
