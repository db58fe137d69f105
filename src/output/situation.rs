//! Where tracks and warnings go: `tracks:PATH` (formats.md §6 JSON lines),
//! `warnings:PATH` (§7 JSON lines) and `cap:DIR` (one CAP 1.2 alert per
//! warning issue).
//!
//! The JSON lines files are [`PartialFile`]s: the record of the run, put in
//! place when it ends well. A CAP alert is a message a civil-defence system
//! may pick up at once, so each is written as `NAME.partial` and renamed
//! into `DIR` as soon as it is complete: a reader never sees half an alert,
//! and an alert issued in a live run is there while the run goes on.

use std::path::{Path, PathBuf};

use super::OutputError;
use super::cap::{CapContext, CapWriter};
use super::jsonl::PartialFile;
use crate::assess::warning::WarningReport;
use crate::track::TrackReport;

/// A tracks, warnings or CAP output as given on the command line.
#[derive(Debug, Clone, PartialEq)]
pub enum SituationSpec {
    /// `tracks:PATH`.
    Tracks(PathBuf),
    /// `warnings:PATH`.
    Warnings(PathBuf),
    /// `cap:DIR`.
    Cap(PathBuf),
}

impl SituationSpec {
    /// The output as the user wrote it.
    pub fn name(&self) -> String {
        match self {
            SituationSpec::Tracks(p) => format!("tracks:{}", p.display()),
            SituationSpec::Warnings(p) => format!("warnings:{}", p.display()),
            SituationSpec::Cap(p) => format!("cap:{}", p.display()),
        }
    }
}

/// The CAP directory: one file per warning issue.
struct CapDir {
    name: String,
    dir: PathBuf,
    writer: CapWriter,
}

/// The open tracks, warnings and CAP outputs of a run.
pub struct SituationFiles {
    tracks: Vec<PartialFile>,
    warnings: Vec<PartialFile>,
    cap: Vec<CapDir>,
}

fn io(name: &str, path: &Path, source: std::io::Error) -> OutputError {
    OutputError::Io {
        name: format!("{name} ({})", path.display()),
        source,
    }
}

impl SituationFiles {
    /// Opens every output (creating a CAP directory if needed) before any
    /// processing, so a bad path fails the run at once.
    pub fn create(specs: &[SituationSpec], cap: &CapContext) -> Result<Self, OutputError> {
        let mut files = SituationFiles {
            tracks: Vec::new(),
            warnings: Vec::new(),
            cap: Vec::new(),
        };
        for spec in specs {
            let name = spec.name();
            match spec {
                SituationSpec::Tracks(p) => files.tracks.push(PartialFile::create(p, &name)?),
                SituationSpec::Warnings(p) => files.warnings.push(PartialFile::create(p, &name)?),
                SituationSpec::Cap(dir) => {
                    std::fs::create_dir_all(dir).map_err(|e| io(&name, dir, e))?;
                    // Prove the directory is writable now, not at the first warning.
                    let probe = dir.join(".tews-write-test.partial");
                    std::fs::write(&probe, b"").map_err(|e| io(&name, &probe, e))?;
                    let _ = std::fs::remove_file(&probe);
                    let writer = CapWriter::new(cap.clone()).map_err(|e| OutputError::Spec {
                        spec: name.clone(),
                        problem: e.to_string(),
                    })?;
                    files.cap.push(CapDir {
                        name,
                        dir: dir.clone(),
                        writer,
                    });
                }
            }
        }
        Ok(files)
    }

    /// True when no output was asked for.
    pub fn is_empty(&self) -> bool {
        self.tracks.is_empty() && self.warnings.is_empty() && self.cap.is_empty()
    }

    /// Writes one look's track reports.
    pub fn write_tracks(&mut self, reports: &[TrackReport]) -> Result<(), OutputError> {
        for f in &mut self.tracks {
            for r in reports {
                // Numbers, a status and a valid time: serialisation cannot fail.
                f.write_line(&serde_json::to_string(r).unwrap_or_default())?;
            }
        }
        Ok(())
    }

    /// Writes one warning issue: its JSON line, and its CAP alert (in place
    /// at once).
    pub fn write_warning(&mut self, w: &WarningReport) -> Result<(), OutputError> {
        for f in &mut self.warnings {
            f.write_line(&serde_json::to_string(w).unwrap_or_default())?;
            // A warning line is worth flushing on its own.
            f.flush()?;
        }
        for c in &mut self.cap {
            let alert = c.writer.write(w).map_err(|e| OutputError::Spec {
                spec: c.name.clone(),
                problem: e.to_string(),
            })?;
            let path = c.dir.join(&alert.file_name);
            let mut partial = path.as_os_str().to_owned();
            partial.push(".partial");
            let partial = PathBuf::from(partial);
            std::fs::write(&partial, alert.xml.as_bytes()).map_err(|e| io(&c.name, &partial, e))?;
            std::fs::rename(&partial, &path).map_err(|e| io(&c.name, &path, e))?;
        }
        Ok(())
    }

    /// Flushes everything to the `.partial` files.
    pub fn flush(&mut self) -> Result<(), OutputError> {
        for f in self.tracks.iter_mut().chain(&mut self.warnings) {
            f.flush()?;
        }
        Ok(())
    }

    /// Puts the JSON lines files in place.
    pub fn commit(&mut self) -> Result<(), OutputError> {
        for f in self.tracks.iter_mut().chain(&mut self.warnings) {
            f.commit()?;
        }
        Ok(())
    }
}
