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
    /// `cat062-file:PATH`: tracks as ASTERIX CAT062 data blocks.
    Cat062File(PathBuf),
}

impl SituationSpec {
    /// The output as the user wrote it.
    pub fn name(&self) -> String {
        match self {
            SituationSpec::Tracks(p) => format!("tracks:{}", p.display()),
            SituationSpec::Warnings(p) => format!("warnings:{}", p.display()),
            SituationSpec::Cap(p) => format!("cap:{}", p.display()),
            SituationSpec::Cat062File(p) => format!("cat062-file:{}", p.display()),
        }
    }
}

/// A destination for tracks and warnings. Called on the tracking stage's
/// thread ([`crate::tracking`]), one look at a time: an implementation must
/// not wait on a network (buffer, or drop and count, as the plot outputs'
/// network sinks do); files may block briefly.
pub trait SituationSink: Send {
    /// The output's name as the user gave it.
    fn name(&self) -> &str;
    /// One look's track reports (formats.md §6), all at the look's time.
    fn write_tracks(&mut self, reports: &[TrackReport]) -> Result<(), OutputError>;
    /// One warning issue (formats.md §7).
    fn write_warning(&mut self, warning: &WarningReport) -> Result<(), OutputError>;
    /// Flushes what is buffered (the run ends; files stay `.partial`).
    fn flush(&mut self) -> Result<(), OutputError> {
        Ok(())
    }
    /// Puts a finished output in place (renames `.partial` files); called
    /// only when the whole run succeeded.
    fn commit(&mut self) -> Result<(), OutputError> {
        Ok(())
    }
}

/// `tracks:PATH`: formats.md §6 lines.
struct TracksFile(PartialFile, String);

impl SituationSink for TracksFile {
    fn name(&self) -> &str {
        &self.1
    }
    fn write_tracks(&mut self, reports: &[TrackReport]) -> Result<(), OutputError> {
        for r in reports {
            // Numbers, a status and a valid time: serialisation cannot fail.
            self.0
                .write_line(&serde_json::to_string(r).unwrap_or_default())?;
        }
        Ok(())
    }
    fn write_warning(&mut self, _: &WarningReport) -> Result<(), OutputError> {
        Ok(())
    }
    fn flush(&mut self) -> Result<(), OutputError> {
        self.0.flush()
    }
    fn commit(&mut self) -> Result<(), OutputError> {
        self.0.commit()
    }
}

/// `warnings:PATH`: formats.md §7 lines, each flushed as issued.
struct WarningsFile(PartialFile, String);

impl SituationSink for WarningsFile {
    fn name(&self) -> &str {
        &self.1
    }
    fn write_tracks(&mut self, _: &[TrackReport]) -> Result<(), OutputError> {
        Ok(())
    }
    fn write_warning(&mut self, w: &WarningReport) -> Result<(), OutputError> {
        self.0
            .write_line(&serde_json::to_string(w).unwrap_or_default())?;
        self.0.flush()
    }
    fn flush(&mut self) -> Result<(), OutputError> {
        self.0.flush()
    }
    fn commit(&mut self) -> Result<(), OutputError> {
        self.0.commit()
    }
}

/// `cap:DIR`: one CAP 1.2 alert per warning issue, in place at once.
struct CapDir {
    name: String,
    dir: PathBuf,
    writer: CapWriter,
}

impl SituationSink for CapDir {
    fn name(&self) -> &str {
        &self.name
    }
    fn write_tracks(&mut self, _: &[TrackReport]) -> Result<(), OutputError> {
        Ok(())
    }
    fn write_warning(&mut self, w: &WarningReport) -> Result<(), OutputError> {
        let alert = self.writer.write(w).map_err(|e| OutputError::Spec {
            spec: self.name.clone(),
            problem: e.to_string(),
        })?;
        // Written as NAME.partial and renamed at once: a reader never sees
        // half an alert.
        let mut file = PartialFile::create(&self.dir.join(&alert.file_name), &self.name)?;
        file.write_bytes(alert.xml.as_bytes())?;
        file.commit()
    }
}

fn io(name: &str, path: &Path, source: std::io::Error) -> OutputError {
    OutputError::Io {
        name: format!("{name} ({})", path.display()),
        source,
    }
}

/// The tracks, warnings and CAP outputs of a run, and any other
/// [`SituationSink`]s (ASTERIX CAT062, NATS) added to them.
pub struct SituationFiles {
    sinks: Vec<Box<dyn SituationSink>>,
}

impl SituationFiles {
    /// Opens every file output (creating a CAP directory if needed) before
    /// any processing, so a bad path fails the run at once.
    /// `cat062` is the CAT062 identity (`None` without `--site`: a
    /// `cat062-file:` output is then refused, as plots' ASTERIX is).
    pub fn create(
        specs: &[SituationSpec],
        cap: &CapContext,
        cat062: Option<super::asterix::cat062::Cat062Config>,
    ) -> Result<Self, OutputError> {
        let mut sinks: Vec<Box<dyn SituationSink>> = Vec::new();
        for spec in specs {
            let name = spec.name();
            match spec {
                SituationSpec::Tracks(p) => {
                    sinks.push(Box::new(TracksFile(PartialFile::create(p, &name)?, name)))
                }
                SituationSpec::Warnings(p) => {
                    sinks.push(Box::new(WarningsFile(PartialFile::create(p, &name)?, name)))
                }
                SituationSpec::Cat062File(p) => {
                    let config = cat062.ok_or_else(|| OutputError::Spec {
                        spec: name.clone(),
                        problem: "ASTERIX needs the site's SAC/SIC: give --site SITE.toml".into(),
                    })?;
                    sinks.push(Box::new(
                        super::asterix::track_sinks::Cat062FileSink::create(p, config)?,
                    ));
                }
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
                    sinks.push(Box::new(CapDir {
                        name,
                        dir: dir.clone(),
                        writer,
                    }));
                }
            }
        }
        Ok(SituationFiles { sinks })
    }

    /// Adds another destination (ASTERIX CAT062, NATS).
    pub fn push(&mut self, sink: Box<dyn SituationSink>) {
        self.sinks.push(sink);
    }

    /// True when there is no destination.
    pub fn is_empty(&self) -> bool {
        self.sinks.is_empty()
    }

    /// Writes one look's track reports everywhere.
    pub fn write_tracks(&mut self, reports: &[TrackReport]) -> Result<(), OutputError> {
        self.sinks
            .iter_mut()
            .try_for_each(|s| s.write_tracks(reports))
    }

    /// Writes one warning issue everywhere.
    pub fn write_warning(&mut self, w: &WarningReport) -> Result<(), OutputError> {
        self.sinks.iter_mut().try_for_each(|s| s.write_warning(w))
    }

    /// Flushes everything (files stay `.partial`).
    pub fn flush(&mut self) -> Result<(), OutputError> {
        self.sinks.iter_mut().try_for_each(|s| s.flush())
    }

    /// Puts the files in place.
    pub fn commit(&mut self) -> Result<(), OutputError> {
        self.sinks.iter_mut().try_for_each(|s| s.commit())
    }
}
