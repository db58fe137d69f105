//! Outputs: where plot reports go: JSON lines (formats.md §2) to a file or
//! stdout, ASTERIX (formats.md §4) to a file or over UDP, and the NATS
//! sharing fabric ([`nats`]), all behind the same [`PlotSink`] trait and the
//! bounded fan-out of [`fanout`].

pub mod asterix;
pub mod cap;
pub mod fanout;
pub mod identity;
mod jsonl;
pub mod nats;
pub mod situation;

pub use fanout::{FinishedOutputs, OutputStats, Outputs, OutputsMonitor, Overflow};
pub use identity::SiteIdentity;
pub use jsonl::{JsonLinesSink, PartialFile};

use crate::plots::Plot;
use serde::Serialize;
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
    /// `asterix-pcap:PATH`: the same blocks as a pcap capture, one UDP
    /// datagram each on port 8600 (see [`asterix::file`]), for Wireshark.
    AsterixPcap {
        /// The file written.
        path: PathBuf,
        /// Site identity and SIM flag.
        config: Option<asterix::cat048::Cat048Config>,
    },
    /// `asterix+udp://HOST:PORT[?ttl=N&iface=ADDR&loop=0|1&max_datagram=N]`:
    /// CAT034 and CAT048 over UDP, one data block per datagram (see
    /// [`asterix::udp`]); `config` as for [`OutputSpec::AsterixFile`].
    AsterixUdp {
        /// Destination and socket options.
        target: asterix::UdpTarget,
        /// Site identity and SIM flag.
        config: Option<asterix::cat048::Cat048Config>,
    },
    /// `tracks:PATH`, `warnings:PATH`, `cap:DIR` or `cat062-file:PATH`: written by the tracking
    /// stage ([`crate::tracking`]), not opened as a plot sink.
    Situation(situation::SituationSpec),
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
        if s.starts_with(asterix::UdpTarget::SCHEME) {
            return Ok(OutputSpec::AsterixUdp {
                target: asterix::UdpTarget::parse(s)?,
                config: None,
            });
        }
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
            Some(("asterix-pcap", "")) => Err(err("missing path after \"asterix-pcap:\"")),
            Some(("asterix-pcap", "-")) => Err(err("asterix-pcap needs a file path")),
            Some(("asterix-pcap", path)) => Ok(OutputSpec::AsterixPcap {
                path: PathBuf::from(path),
                config: None,
            }),
            Some(("asterix-file", path)) => Ok(OutputSpec::AsterixFile {
                path: PathBuf::from(path),
                config: None,
            }),
            Some((kind @ ("tracks" | "warnings" | "cap"), "")) => {
                Err(err(&format!("missing path after \"{kind}:\"")))
            }
            Some((kind @ ("tracks" | "warnings"), "-")) => Err(err(&format!(
                "{kind} needs a file path (use jsonl:- for plots on stdout)"
            ))),
            Some(("tracks", path)) => Ok(OutputSpec::Situation(situation::SituationSpec::Tracks(
                PathBuf::from(path),
            ))),
            Some(("warnings", path)) => Ok(OutputSpec::Situation(
                situation::SituationSpec::Warnings(PathBuf::from(path)),
            )),
            Some(("cap", path)) => Ok(OutputSpec::Situation(situation::SituationSpec::Cap(
                PathBuf::from(path),
            ))),
            Some(("cat062-file", "")) => Err(err("missing path after \"cat062-file:\"")),
            Some(("cat062-file", path)) => Ok(OutputSpec::Situation(
                situation::SituationSpec::Cat062File(PathBuf::from(path)),
            )),
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
                "unknown output kind (expected jsonl:PATH, jsonl:-, asterix-file:PATH, asterix-pcap:PATH, asterix+udp://HOST:PORT, nats://HOST:PORT, tracks:PATH, warnings:PATH, cap:DIR or cat062-file:PATH)",
            )),
        }
    }
}

impl OutputSpec {
    /// Sets the site identity and SIM flag of an ASTERIX output; other
    /// outputs are returned unchanged.
    pub fn with_asterix(self, config: asterix::cat048::Cat048Config) -> Self {
        match self {
            OutputSpec::AsterixPcap { path, .. } => OutputSpec::AsterixPcap {
                path,
                config: Some(config),
            },
            OutputSpec::AsterixFile { path, .. } => OutputSpec::AsterixFile {
                path,
                config: Some(config),
            },
            OutputSpec::AsterixUdp { target, .. } => OutputSpec::AsterixUdp {
                target,
                config: Some(config),
            },
            other => other,
        }
    }

    /// Gives a NATS output its site, sharing settings and partners (the
    /// CAT048 identity too); other outputs are returned unchanged.
    pub fn with_site(
        self,
        site: &SiteIdentity,
        sharing: &nats::SharingConfig,
        partners: &[nats::PartnerPolicy],
        asterix: asterix::cat048::Cat048Config,
    ) -> Self {
        match self {
            OutputSpec::Nats { server, .. } => OutputSpec::Nats {
                settings: Some(Box::new(nats::NatsSettings {
                    server: server.clone(),
                    site: site.clone(),
                    sharing: sharing.clone(),
                    partners: partners.to_vec(),
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
            OutputSpec::AsterixPcap {
                path,
                config: Some(config),
            } => Ok(Box::new(asterix::AsterixFileSink::create_pcap(
                path, *config,
            )?)),
            OutputSpec::AsterixPcap { path, config: None } => Err(OutputError::Spec {
                spec: format!("asterix-pcap:{}", path.display()),
                problem: "SAC/SIC and the input's simulated flag were not configured".into(),
            }),
            OutputSpec::AsterixFile { path, config: None } => Err(OutputError::Spec {
                spec: format!("asterix-file:{}", path.display()),
                problem: "SAC/SIC and the input's simulated flag were not configured".into(),
            }),
            OutputSpec::AsterixUdp {
                target,
                config: Some(config),
            } => Ok(Box::new(asterix::AsterixUdpSink::open(target, *config)?)),
            OutputSpec::AsterixUdp {
                target,
                config: None,
            } => Err(OutputError::Spec {
                spec: target.spec.clone(),
                problem: "SAC/SIC and the input's simulated flag were not configured".into(),
            }),
            OutputSpec::Nats {
                settings: Some(settings),
                ..
            } => Ok(Box::new(nats::NatsSink::open((**settings).clone())?)),
            OutputSpec::Situation(s) => Err(OutputError::Spec {
                spec: s.name(),
                problem: "written by the tracking stage, not opened as a plot output".into(),
            }),
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

/// Where the beam pointed for one CPI, handed to outputs beside its plots (a
/// CPI with no plots still moves the beam: ASTERIX sends CAT034 north-marker
/// and sector-crossing messages from it).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BeamPosition {
    /// CPI index from the start of the input.
    pub cpi: u64,
    /// Transmit time of the CPI's first pulse, UTC.
    pub time_utc: time::OffsetDateTime,
    /// Beam azimuth, degrees clockwise from true north (NaN when unknown).
    pub azimuth_deg: f64,
}

impl From<&crate::cpi::CpiMeta> for BeamPosition {
    fn from(meta: &crate::cpi::CpiMeta) -> Self {
        BeamPosition {
            cpi: meta.index,
            time_utc: meta.time_utc,
            azimuth_deg: meta.azimuth_deg,
        }
    }
}

/// Plots of the batches written since the last
/// [`PlotSink::take_undelivered`] that did not leave tews although `write`
/// succeeded: a destination that refused them (a UDP send error), or plots
/// the format cannot carry. Counted as dropped, never fatal.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Undelivered {
    /// Plots not delivered.
    pub plots: u64,
    /// Send attempts the operating system refused (datagrams, messages).
    pub send_errors: u64,
}

/// What an output with a release policy (NATS, `[[partner]]`) did for one
/// partner, over the plots it handled: the plots its queue dropped before
/// they reached it are in the output's `dropped`, not here.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PartnerRelease {
    /// The partner's name (`[[partner]] name`).
    pub partner: String,
    /// Plots the policy released whose release message was delivered.
    pub released: u64,
    /// Plots the policy did not release (sector, range or SNR rules).
    pub withheld: u64,
    /// Plots the policy released whose release message was not delivered.
    pub dropped: u64,
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
    /// Hands over one CPI's beam position and plots; outputs that report the
    /// beam (ASTERIX CAT034) override this, the others just write the plots.
    fn write_cpi(&mut self, beam: &BeamPosition, plots: &[Plot]) -> Result<(), OutputError> {
        let _ = beam;
        self.write(plots)
    }
    /// Takes the count of plots that did not leave since the last call (see
    /// [`Undelivered`]). Outputs that cannot lose a plot silently keep the
    /// default (none).
    fn take_undelivered(&mut self) -> Undelivered {
        Undelivered::default()
    }
    /// Per partner, what the release policy did so far (counts since the
    /// output opened). Outputs without partners keep the default (none).
    fn releases(&self) -> Vec<PartnerRelease> {
        Vec::new()
    }
    /// The run has ended: from now on, `write` must return by `deadline`
    /// (counting what it could not send as undelivered). Outputs that never
    /// wait keep the default (nothing).
    fn drain_until(&mut self, deadline: std::time::Instant) {
        let _ = deadline;
    }
    /// Flushes and closes; called once at the end of a successful run.
    fn finish(&mut self) -> Result<(), OutputError>;
    /// Flushes and closes like [`PlotSink::finish`] but leaves the result
    /// where a run that still fails can discard it (a file stays
    /// `.partial`); [`PlotSink::commit`] then puts it in place. Outputs
    /// with nothing to put in place keep the default (`finish`).
    fn finish_uncommitted(&mut self) -> Result<(), OutputError> {
        self.finish()
    }
    /// Puts an output finished by [`PlotSink::finish_uncommitted`] in place
    /// (renames a file from `.partial`); called only when the whole run
    /// succeeded. Default: nothing to do.
    fn commit(&mut self) -> Result<(), OutputError> {
        Ok(())
    }
}
