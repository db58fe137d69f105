//! Outputs: where plot reports go. Today JSON lines (formats.md §2) to a file
//! or stdout; ASTERIX and NATS follow behind the same [`PlotSink`] trait.

mod jsonl;

pub use jsonl::JsonLinesSink;

use crate::plots::Plot;
use std::path::PathBuf;
use std::str::FromStr;

/// Errors of the output layer: each names the output.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// The `--output` argument is not understood.
    #[error("output \"{spec}\": {problem}")]
    Spec {
        /// The argument as given.
        spec: String,
        /// What is wrong with it.
        problem: String,
    },
    /// Writing failed.
    #[error("output {name}: {source}")]
    Io {
        /// The output's name (e.g. `jsonl:plots.jsonl`).
        name: String,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// A parsed `--output` argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputSpec {
    /// `jsonl:PATH` (a file) or `jsonl:-` (stdout).
    JsonLines(Option<PathBuf>),
}

impl FromStr for OutputSpec {
    type Err = OutputError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |problem: &str| OutputError::Spec {
            spec: s.to_string(),
            problem: problem.to_string(),
        };
        match s.split_once(':') {
            Some(("jsonl", "-")) => Ok(OutputSpec::JsonLines(None)),
            Some(("jsonl", "")) => Err(err(
                "missing path after \"jsonl:\" (use jsonl:- for stdout)",
            )),
            Some(("jsonl", path)) => Ok(OutputSpec::JsonLines(Some(PathBuf::from(path)))),
            _ => Err(err("unknown output kind (expected jsonl:PATH or jsonl:-)")),
        }
    }
}

impl OutputSpec {
    /// Opens the output.
    pub fn open(&self) -> Result<Box<dyn PlotSink>, OutputError> {
        match self {
            OutputSpec::JsonLines(path) => Ok(Box::new(JsonLinesSink::create(path.as_deref())?)),
        }
    }
}

/// A destination for plot reports.
pub trait PlotSink: Send {
    /// The output's name as the user gave it, for logs and the summary.
    fn name(&self) -> &str;
    /// Hands over the plots of one CPI.
    fn write(&mut self, plots: &[Plot]) -> Result<(), OutputError>;
    /// Flushes and closes; called once at the end of a successful run.
    fn finish(&mut self) -> Result<(), OutputError>;
}
