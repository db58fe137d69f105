//! Plot reports as JSON lines (formats.md §2).

use crate::output::{OutputError, PlotSink};
use crate::plots::Plot;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Formats a plot as one JSON line (no trailing newline).
pub fn plot_to_json(plot: &Plot) -> String {
    // Plot holds only numbers and a valid time: serialisation cannot fail.
    serde_json::to_string(plot).unwrap_or_default()
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

    /// A file is the record of the run: never thinned.
    fn overflow(&self) -> crate::output::Overflow {
        crate::output::Overflow::Block
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
        self.commit()?;
        Ok(())
    }

    fn finish_uncommitted(&mut self) -> Result<(), OutputError> {
        self.out.flush().map_err(|e| self.io(e))
    }

    fn commit(&mut self) -> Result<(), OutputError> {
        if let Some((partial, path)) = self.paths.take() {
            std::fs::rename(&partial, &path).map_err(|e| self.io(e))?;
        }
        Ok(())
    }
}

impl Drop for JsonLinesSink {
    /// A file never committed (the run failed) leaves no `.partial` behind;
    /// an earlier file at the path is untouched.
    fn drop(&mut self) {
        if let Some((partial, _)) = self.paths.take() {
            let _ = std::fs::remove_file(partial);
        }
    }
}
