//! Plot reports as JSON lines (formats.md §2).

use crate::output::{OutputError, PlotSink};
use crate::plots::Plot;
use serde::Serialize;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use time::format_description::well_known::Rfc3339;

/// One line of the JSON lines output: field names exactly as formats.md §2.
#[derive(Debug, Serialize)]
pub struct PlotReport<'a> {
    /// CPI index from the start of the input.
    pub cpi: u64,
    /// RFC 3339 UTC transmit time of the CPI's first pulse.
    pub time_utc: &'a str,
    /// Interpolated range, metres.
    pub range_m: f64,
    /// Interpolated range rate, m/s, positive receding.
    pub radial_velocity_mps: f64,
    /// Beam azimuth, degrees.
    pub azimuth_deg: f64,
    /// Beam elevation, degrees.
    pub elevation_deg: f64,
    /// Peak over CFAR noise estimate, dB.
    pub snr_db: f64,
    /// Interpolated range bin.
    pub range_bin: f64,
    /// Interpolated Doppler bin (FFT-shifted; zero Doppler at P/2).
    pub doppler_bin: f64,
    /// Detections merged into this plot.
    pub cells: u32,
}

/// Formats a plot as one JSON line (no trailing newline).
pub fn plot_to_json(plot: &Plot) -> String {
    let time = plot
        .time_utc
        .format(&Rfc3339)
        .unwrap_or_else(|_| String::from("invalid-time"));
    let report = PlotReport {
        cpi: plot.cpi,
        time_utc: &time,
        range_m: plot.range_m,
        radial_velocity_mps: plot.radial_velocity_mps,
        azimuth_deg: plot.azimuth_deg,
        elevation_deg: plot.elevation_deg,
        snr_db: plot.snr_db,
        range_bin: plot.range_bin,
        doppler_bin: plot.doppler_bin,
        cells: plot.cells,
    };
    serde_json::to_string(&report).unwrap_or_default()
}

/// Writes JSON lines to a file or stdout.
///
/// A file output is written to `PATH.partial` and renamed to `PATH` only when
/// the run finishes, so a failed or interrupted run never replaces an earlier
/// good file; the partial file is left for inspection.
pub struct JsonLinesSink {
    name: String,
    out: Box<dyn Write + Send>,
    paths: Option<(PathBuf, PathBuf)>,
}

impl JsonLinesSink {
    /// Creates the output (`None` = stdout).
    pub fn create(path: Option<&Path>) -> Result<Self, OutputError> {
        match path {
            None => Ok(JsonLinesSink {
                name: "jsonl:-".into(),
                out: Box::new(BufWriter::new(std::io::stdout())),
                paths: None,
            }),
            Some(path) => {
                let name = format!("jsonl:{}", path.display());
                let mut partial = path.as_os_str().to_owned();
                partial.push(".partial");
                let partial = PathBuf::from(partial);
                let file = File::create(&partial).map_err(|source| OutputError::Io {
                    name: format!("jsonl:{}", partial.display()),
                    source,
                })?;
                Ok(JsonLinesSink {
                    name,
                    out: Box::new(BufWriter::new(file)),
                    paths: Some((partial, path.to_path_buf())),
                })
            }
        }
    }

    fn io(&self, source: std::io::Error) -> OutputError {
        OutputError::Io {
            name: self.name.clone(),
            source,
        }
    }
}

impl PlotSink for JsonLinesSink {
    fn name(&self) -> &str {
        &self.name
    }

    fn write(&mut self, plots: &[Plot]) -> Result<(), OutputError> {
        for plot in plots {
            writeln!(self.out, "{}", plot_to_json(plot)).map_err(|e| self.io(e))?;
        }
        if self.paths.is_none() {
            // stdout is for people and pipes: one flush per CPI.
            self.out.flush().map_err(|e| self.io(e))?;
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), OutputError> {
        self.out.flush().map_err(|e| self.io(e))?;
        if let Some((partial, path)) = self.paths.take() {
            std::fs::rename(&partial, &path).map_err(|e| self.io(e))?;
        }
        Ok(())
    }
}
