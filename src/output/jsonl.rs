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

/// A file written as `PATH.partial` and renamed to `PATH` by
/// [`PartialFile::commit`], so a failed or interrupted run never replaces
/// an earlier good file. Dropped uncommitted, it removes the `.partial`
/// (an earlier file at the path is untouched).
pub struct PartialFile {
    name: String,
    out: BufWriter<File>,
    paths: Option<(PathBuf, PathBuf)>,
}

impl PartialFile {
    /// Creates `path.partial`; `name` (the output as the user gave it)
    /// names the errors.
    pub fn create(path: &Path, name: &str) -> Result<Self, OutputError> {
        let mut partial = path.as_os_str().to_owned();
        partial.push(".partial");
        let partial = PathBuf::from(partial);
        let file = File::create(&partial).map_err(|source| OutputError::Io {
            name: format!("{name} ({})", partial.display()),
            source,
        })?;
        Ok(PartialFile {
            name: name.to_string(),
            out: BufWriter::new(file),
            paths: Some((partial, path.to_path_buf())),
        })
    }

    fn io(&self, source: std::io::Error) -> OutputError {
        OutputError::Io {
            name: self.name.clone(),
            source,
        }
    }

    /// Writes one line (a newline is added).
    pub fn write_line(&mut self, line: &str) -> Result<(), OutputError> {
        writeln!(self.out, "{line}").map_err(|e| self.io(e))
    }

    /// Writes raw bytes (a binary format's records).
    pub fn write_bytes(&mut self, bytes: &[u8]) -> Result<(), OutputError> {
        self.out.write_all(bytes).map_err(|e| self.io(e))
    }

    /// Flushes to the `.partial` file.
    pub fn flush(&mut self) -> Result<(), OutputError> {
        self.out.flush().map_err(|e| self.io(e))
    }

    /// Flushes and renames into place (once; later calls do nothing).
    pub fn commit(&mut self) -> Result<(), OutputError> {
        self.flush()?;
        if let Some((partial, path)) = self.paths.take() {
            std::fs::rename(&partial, &path).map_err(|e| self.io(e))?;
        }
        Ok(())
    }
}

impl Drop for PartialFile {
    fn drop(&mut self) {
        if let Some((partial, _)) = self.paths.take() {
            let _ = std::fs::remove_file(partial);
        }
    }
}

/// Writes JSON lines to a file or stdout.
///
/// A file output is a [`PartialFile`]: renamed into place only when the
/// run finishes.
pub struct JsonLinesSink {
    name: String,
    out: Output,
}

enum Output {
    Stdout(BufWriter<std::io::Stdout>),
    File(PartialFile),
}

impl JsonLinesSink {
    /// Creates the output (`None` = stdout).
    pub fn create(path: Option<&Path>) -> Result<Self, OutputError> {
        match path {
            None => Ok(JsonLinesSink {
                name: "jsonl:-".into(),
                out: Output::Stdout(BufWriter::new(std::io::stdout())),
            }),
            Some(path) => {
                let name = format!("jsonl:{}", path.display());
                Ok(JsonLinesSink {
                    out: Output::File(PartialFile::create(path, &name)?),
                    name,
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
        match &mut self.out {
            Output::File(f) => {
                for plot in plots {
                    f.write_line(&plot_to_json(plot))?;
                }
                Ok(())
            }
            Output::Stdout(out) => {
                let r = plots
                    .iter()
                    .try_for_each(|plot| writeln!(out, "{}", plot_to_json(plot)))
                    // stdout is for people and pipes: one flush per CPI.
                    .and_then(|()| out.flush());
                r.map_err(|e| self.io(e))
            }
        }
    }

    fn finish(&mut self) -> Result<(), OutputError> {
        self.finish_uncommitted()?;
        self.commit()
    }

    fn finish_uncommitted(&mut self) -> Result<(), OutputError> {
        match &mut self.out {
            Output::File(f) => f.flush(),
            Output::Stdout(out) => {
                let r = out.flush();
                r.map_err(|e| self.io(e))
            }
        }
    }

    fn commit(&mut self) -> Result<(), OutputError> {
        match &mut self.out {
            Output::File(f) => f.commit(),
            Output::Stdout(_) => Ok(()),
        }
    }
}
