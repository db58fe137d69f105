//! Outputs: where plot reports go: JSON lines (formats.md §2) to a file or
//! stdout, ASTERIX files, and the NATS sharing fabric ([`nats`]), all behind
//! the same [`PlotSink`] trait.

pub mod asterix;
pub mod fanout;
mod jsonl;
pub mod nats;

pub use fanout::{OutputStats, Outputs, Overflow};
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
#[derive(Debug, Clone, PartialEq)]
pub enum OutputSpec {
    /// `jsonl:PATH` (a file) or `jsonl:-` (stdout).
    JsonLines(Option<PathBuf>),
    /// `asterix-file:PATH`: CAT048 data blocks (see [`asterix`]). SAC/SIC and
    /// the input's SIM flag are not part of the argument: `config` stays
    /// `None` until [`OutputSpec::with_asterix`] sets it, and `open` refuses
    /// until then, so no plot is ever sent with a guessed SIM bit.
    AsterixFile {
        /// The file written.
        path: PathBuf,
        /// Site identity and SIM flag.
        config: Option<asterix::cat048::Cat048Config>,
    },
    /// `nats://HOST:PORT`: the sharing fabric ([`nats`]). Like ASTERIX it
    /// needs the site: `settings` stays `None` until [`OutputSpec::with_site`].
    Nats {
        /// `HOST:PORT`.
        server: String,
        /// Site, sharing settings, partners, CAT048 identity.
        settings: Option<Box<nats::NatsSettings>>,
    },
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
            Some(("asterix-file", "")) => Err(err("missing path after \"asterix-file:\"")),
            Some(("asterix-file", "-")) => Err(err(
                "asterix-file needs a file path (binary ASTERIX is not written to stdout)",
            )),
            Some(("asterix-file", path)) => Ok(OutputSpec::AsterixFile {
                path: PathBuf::from(path),
                config: None,
            }),
            Some(("nats", rest)) => {
                let server = rest.strip_prefix("//").unwrap_or("");
                let valid = server.rsplit_once(':').is_some_and(|(host, port)| {
                    !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0)
                });
                if !valid || server.contains('/') {
                    return Err(err("expected nats://HOST:PORT"));
                }
                Ok(OutputSpec::Nats {
                    server: server.to_string(),
                    settings: None,
                })
            }
            _ => Err(err(
                "unknown output kind (expected jsonl:PATH, jsonl:-, asterix-file:PATH or nats://HOST:PORT)",
            )),
        }
    }
}

impl OutputSpec {
    /// Sets the site identity and SIM flag of an ASTERIX output; other
    /// outputs are returned unchanged.
    pub fn with_asterix(self, config: asterix::cat048::Cat048Config) -> Self {
        match self {
            OutputSpec::AsterixFile { path, .. } => OutputSpec::AsterixFile {
                path,
                config: Some(config),
            },
            other => other,
        }
    }

    /// Gives a NATS output its site, sharing settings and partners (the
    /// CAT048 identity too); other outputs are returned unchanged.
    pub fn with_site(
        self,
        site: &crate::site::SiteConfig,
        asterix: asterix::cat048::Cat048Config,
    ) -> Self {
        match self {
            OutputSpec::Nats { server, .. } => OutputSpec::Nats {
                settings: Some(Box::new(nats::NatsSettings {
                    server: server.clone(),
                    site: site.site.clone(),
                    sharing: site.sharing.clone(),
                    partners: site.partners.clone(),
                    asterix,
                })),
                server,
            },
            other => other,
        }
    }

    /// Opens the output.
    pub fn open(&self) -> Result<Box<dyn PlotSink>, OutputError> {
        match self {
            OutputSpec::JsonLines(path) => Ok(Box::new(JsonLinesSink::create(path.as_deref())?)),
            OutputSpec::AsterixFile {
                path,
                config: Some(config),
            } => Ok(Box::new(asterix::AsterixFileSink::create(path, *config)?)),
            OutputSpec::AsterixFile { path, config: None } => Err(OutputError::Spec {
                spec: format!("asterix-file:{}", path.display()),
                problem: "SAC/SIC and the input's simulated flag were not configured".into(),
            }),
            OutputSpec::Nats {
                settings: Some(settings),
                ..
            } => Ok(Box::new(nats::NatsSink::open((**settings).clone())?)),
            OutputSpec::Nats {
                server,
                settings: None,
            } => Err(OutputError::Spec {
                spec: format!("nats://{server}"),
                problem: "NATS needs the site's names and sharing settings: give --site SITE.toml"
                    .into(),
            }),
        }
    }
}

/// A destination for plot reports.
pub trait PlotSink: Send {
    /// The output's name as the user gave it, for logs and the summary.
    fn name(&self) -> &str;
    /// What [`Outputs`] does when this output's queue is full: network
    /// outputs drop the oldest batch (the default), files block.
    fn overflow(&self) -> Overflow {
        Overflow::DropOldest
    }
    /// Hands over the plots of one CPI. Runs on the output's own thread
    /// (see [`fanout`]), so it may wait for its destination; an error stops
    /// this output and fails the run.
    fn write(&mut self, plots: &[Plot]) -> Result<(), OutputError>;
    /// Plots of the last `write` that were accepted but not delivered (a
    /// network output that gave up on them); counted as dropped, not sent.
    /// Reading resets it.
    fn take_lost(&mut self) -> u64 {
        0
    }
    /// Flushes and closes; called once at the end of a successful run.
    fn finish(&mut self) -> Result<(), OutputError>;
}
