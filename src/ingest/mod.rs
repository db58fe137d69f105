//! Ingest: recorded IQ (SigMF) and live VITA 49.2 (VRT) packets.
//!
//! Every input problem is an [`IngestError`] whose message is one line that
//! names the file (as the caller gave it) and what is wrong with it, so a site
//! engineer can fix the recording without reading this code.

pub mod pacing;
pub mod sigmf;
pub mod udp;
pub mod vrt;

/// Something wrong with an input recording, or a failure reading it.
///
/// `file` is the path as given by the caller; for a member of a `.sigmf`
/// archive it reads `ARCHIVE.sigmf: member DIR/NAME.sigmf-meta`.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// `--repeat` or `--cpi-rate` cannot be applied (see [`pacing`]).
    #[error(transparent)]
    Pacing(#[from] pacing::PacingError),
    /// The operating system refused an open, seek or read.
    #[error("{file}: cannot {action}: {source}")]
    Io {
        /// The file that could not be read.
        file: String,
        /// What was being attempted ("open the data file", "read", ...).
        action: &'static str,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The metadata is not valid JSON.
    #[error("{file}: not valid JSON at line {line}, column {column}: {message}")]
    Json {
        /// The metadata file.
        file: String,
        /// 1-based line of the problem.
        line: usize,
        /// 1-based column of the problem.
        column: usize,
        /// What the JSON parser found.
        message: String,
    },
    /// A metadata key is missing, has the wrong type, or an unusable value.
    /// `problem` names the key (and the capture index where it applies).
    #[error("{file}: {problem}")]
    Metadata {
        /// The metadata file.
        file: String,
        /// The key and what is wrong with it.
        problem: String,
    },
    /// `core:datatype` names a sample format this reader does not support.
    #[error(
        "{file}: core:datatype {datatype:?} is not supported \
         (tews reads cf32_le, cf32_be, cf64_le, cf64_be, ci32_le, ci32_be, ci16_le, ci16_be, ci8)"
    )]
    Datatype {
        /// The metadata file.
        file: String,
        /// The datatype string as written in the metadata.
        datatype: String,
    },
    /// The data holds trailing bytes that do not fill a CPI.
    #[error(
        "{file}: {bytes} bytes is not a whole number of CPIs (one CPI = {cpi_bytes} bytes; {:.2} CPIs)",
        *bytes as f64 / *cpi_bytes as f64
    )]
    PartialCpi {
        /// The data file.
        file: String,
        /// Size of the data, bytes.
        bytes: u64,
        /// Size of one CPI (all channels), bytes.
        cpi_bytes: u64,
    },
    /// The data is empty: a recording must hold at least one CPI.
    #[error("{file}: holds no CPI (0 bytes; one CPI = {cpi_bytes} bytes)")]
    NoCpis {
        /// The data file.
        file: String,
        /// Size of one CPI (all channels), bytes.
        cpi_bytes: u64,
    },
    /// A `.sigmf` archive is not a readable tar, or does not hold exactly one
    /// recording.
    #[error("{file}: {problem}")]
    Archive {
        /// The archive.
        file: String,
        /// What is wrong with it.
        problem: String,
    },
    /// A CPI index past the end of the recording was asked for.
    #[error("{file}: CPI {index} does not exist (the recording holds {num_cpis} CPIs)")]
    NoSuchCpi {
        /// The data file.
        file: String,
        /// The CPI asked for.
        index: u64,
        /// CPIs in the recording.
        num_cpis: u64,
    },
    /// The data ended before a CPI that was present at open time (the file
    /// shrank while being read).
    #[error(
        "{file}: ended inside CPI {index} (the file was {bytes} bytes when opened; did it change?)"
    )]
    Truncated {
        /// The data file.
        file: String,
        /// The CPI being read.
        index: u64,
        /// Size of the data when the recording was opened, bytes.
        bytes: u64,
    },
}
