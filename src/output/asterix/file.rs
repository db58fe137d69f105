//! `asterix-file:PATH`: data blocks back to back in a file; per CPI a CAT034
//! block when the beam passed north or a sector boundary (see
//! [`super::scan`]), then one or more CAT048 blocks (split so that no LEN
//! exceeds 65535).

use super::MAX_DATA_BLOCK_LEN_BYTES;
use super::cat034;
use super::cat048::{Cat048Config, EncodeStats, encode_data_blocks};
use super::scan::ScanTracker;
use crate::output::{BeamPosition, OutputError, PlotSink, Undelivered};
use crate::plots::Plot;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Writes CAT048 data blocks to a file.
///
/// Like the JSON lines file output, the blocks go to `PATH.partial`, renamed
/// to `PATH` only when the run finishes, so a failed run never replaces an
/// earlier good file.
pub struct AsterixFileSink {
    name: String,
    config: Cat048Config,
    out: BufWriter<File>,
    paths: Option<(PathBuf, PathBuf)>,
    stats: EncodeStats,
    scan: ScanTracker,
    /// Plots not encoded since the last `take_undelivered`.
    not_encoded: u64,
    buffer: Vec<u8>,
    messages: Vec<cat034::ServiceMessage>,
}

impl AsterixFileSink {
    /// Creates `PATH.partial`.
    pub fn create(path: &Path, config: Cat048Config) -> Result<Self, OutputError> {
        let name = format!("asterix-file:{}", path.display());
        let mut partial = path.as_os_str().to_owned();
        partial.push(".partial");
        let partial = PathBuf::from(partial);
        let file = File::create(&partial).map_err(|source| OutputError::Io {
            name: format!("asterix-file:{}", partial.display()),
            source,
        })?;
        Ok(AsterixFileSink {
            name,
            config,
            out: BufWriter::new(file),
            paths: Some((partial, path.to_path_buf())),
            stats: EncodeStats::default(),
            scan: ScanTracker::default(),
            not_encoded: 0,
            buffer: Vec::new(),
            messages: Vec::new(),
        })
    }

    /// What was encoded so far, including the plots that could not be.
    pub fn stats(&self) -> EncodeStats {
        self.stats
    }

    /// Appends the CAT048 blocks of `plots` to the buffer.
    fn encode_plots(&mut self, plots: &[Plot]) {
        let dropped = self.stats.plots_dropped;
        encode_data_blocks(
            plots,
            &self.config,
            MAX_DATA_BLOCK_LEN_BYTES,
            &mut self.stats,
            &mut self.buffer,
        );
        self.not_encoded += self.stats.plots_dropped - dropped;
        if self.stats.plots_dropped > dropped {
            tracing::warn!(
                "{}: {} plot(s) of CPI {} not encoded (range beyond 65535 NM, negative or not finite, or azimuth not finite)",
                self.name,
                self.stats.plots_dropped - dropped,
                plots.first().map_or(0, |p| p.cpi)
            );
        }
    }

    fn io(&self, source: std::io::Error) -> OutputError {
        OutputError::Io {
            name: self.name.clone(),
            source,
        }
    }
}

impl PlotSink for AsterixFileSink {
    fn name(&self) -> &str {
        &self.name
    }

    /// A file is the record of the run: never thinned.
    fn overflow(&self) -> crate::output::Overflow {
        crate::output::Overflow::Block
    }

    fn write(&mut self, plots: &[Plot]) -> Result<(), OutputError> {
        self.buffer.clear();
        self.encode_plots(plots);
        self.out.write_all(&self.buffer).map_err(|e| self.io(e))
    }

    fn write_cpi(&mut self, beam: &BeamPosition, plots: &[Plot]) -> Result<(), OutputError> {
        self.buffer.clear();
        self.messages.clear();
        self.scan.advance(beam, &mut self.messages);
        cat034::encode_data_block(&self.messages, self.config.site, &mut self.buffer);
        self.encode_plots(plots);
        self.out.write_all(&self.buffer).map_err(|e| self.io(e))
    }

    fn take_undelivered(&mut self) -> Undelivered {
        Undelivered {
            plots: std::mem::take(&mut self.not_encoded),
            send_errors: 0,
        }
    }

    fn finish(&mut self) -> Result<(), OutputError> {
        self.finish_uncommitted()?;
        self.commit()
    }

    fn finish_uncommitted(&mut self) -> Result<(), OutputError> {
        self.out.flush().map_err(|e| self.io(e))?;
        let s = self.stats;
        tracing::info!(
            "{}: {} CAT048 records in {} data blocks; {} extended range (REF ERR), {} without I048/120 (speed outside +/-511 m/s), {} measured heights without I048/110 (outside +/-62 km), {} plots not encoded",
            self.name,
            s.records,
            s.data_blocks,
            s.extended_range,
            s.doppler_omitted,
            s.height_omitted,
            s.plots_dropped
        );
        Ok(())
    }

    fn commit(&mut self) -> Result<(), OutputError> {
        if let Some((partial, path)) = self.paths.take() {
            std::fs::rename(&partial, &path).map_err(|e| self.io(e))?;
        }
        Ok(())
    }
}

impl Drop for AsterixFileSink {
    /// A file never committed (the run failed) leaves no `.partial` behind;
    /// an earlier file at the path is untouched.
    fn drop(&mut self) {
        if let Some((partial, _)) = self.paths.take() {
            let _ = std::fs::remove_file(partial);
        }
    }
}
