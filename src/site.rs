//! The site configuration (`--site SITE.toml`): who this sensor is, and the
//! static radar parameters of a live digitizer stream.
//!
//! ```toml
//! [site]
//! name = "north-1"        # NATS subject token: letters, digits, '-', '_'
//! nation = "alpha"        # the same
//! sensor = "radar-a"      # the same
//! sac = 12                # ASTERIX system area code, 0-255
//! sic = 34                # ASTERIX system identification code, 0-255
//! # latitude_deg = 60.0   # optional, all three or none: WGS-84 site position,
//! # longitude_deg = 25.0  # height above the ellipsoid; plots are then
//! # height_m = 50.0       # geolocated
//!
//! [radar]                 # live input only; a recording's own keys win
//! sample_rate_hz = 20e6
//! carrier_hz = 3.0e9      # used until the first context packet says otherwise
//! pulses_per_cpi = 64
//! samples_per_pulse = 2000
//! pri_s = 200e-6
//! window_delay_s = 10e-6
//! [radar.waveform]
//! type = "lfm"            # or "rect" (no bandwidth_hz)
//! bandwidth_hz = 5e6
//! pulse_width_s = 10e-6
//! ```
//!
//! A monopulse receiver adds, in `[radar]`, its channels and one VRT stream
//! per channel (in the same order; not with `stream_id`), and its
//! calibration:
//!
//! ```toml
//! channels = ["sum", "delta_az", "delta_el"]
//! stream_ids = [1, 2, 3]
//! [radar.monopulse]       # formats.md radar:monopulse
//! beamwidth_az_deg = 2.0
//! beamwidth_el_deg = 2.0
//! slope_az = 1.6
//! slope_el = 1.6
//! ```
//!
//! `[sharing]` (the NATS output) and `[[partner]]` (release policy) are
//! documented in [`crate::output::nats`].
//!
//! The `[radar]` names and units are those of the SigMF `radar` extension
//! (formats.md §1). Unknown keys are errors, so a misspelt key is never
//! silently ignored. Every error is one line naming the file, the key and the
//! problem.
//!
//! `[radar]` is checked as a recording's meta is: rates and the carrier
//! positive; 1 to 65 536 pulses per CPI, 1 to 4 194 304 samples per pulse,
//! at most 2^28 samples per CPI; `pri_s` above 0 and at most 1 s;
//! `window_delay_s` from 0 to less than `pri_s`, and the receive window
//! (`window_delay_s + samples_per_pulse / sample_rate_hz`) must end by the
//! next pulse (`pri_s`, to 1 ppm); the pulse no longer than `pri_s`, 1 to
//! 4 194 304 samples long, an LFM's bandwidth at most the sample rate.

pub use crate::output::identity::{SiteIdentity, is_subject_token};

use crate::ingest::sigmf::{
    MAX_COMPLEX_PER_CPI, MAX_PRI_S, MAX_PULSES_PER_CPI, MAX_SAMPLES_PER_PULSE, receive_window_fits,
};
use crate::radar::{Monopulse, RadarParams, Waveform};
use serde::Deserialize;
use std::path::Path;

/// A problem with the site configuration: one line naming the file and key.
#[derive(Debug, thiserror::Error)]
pub enum SiteError {
    /// The file cannot be read.
    #[error("{file}: cannot read the site configuration: {source}")]
    Io {
        /// The file as given.
        file: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The TOML does not parse, or a key is missing, unknown or of the wrong type.
    #[error("{file}: line {line}: {key}{message}")]
    Parse {
        /// The file as given.
        file: String,
        /// 1-based line of the problem (0 when unknown).
        line: usize,
        /// The key's path followed by ": ", or empty.
        key: String,
        /// What the parser found.
        message: String,
    },
    /// A value parses but cannot be used.
    #[error("{file}: {key}: {problem}")]
    Invalid {
        /// The file as given.
        file: String,
        /// The key's path, e.g. `radar.pri_s`.
        key: String,
        /// What is wrong with it.
        problem: String,
    },
}

/// The `[radar]` table: static parameters of a live stream, with the SigMF
/// extension's names and units.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteRadar {
    /// Complex sample rate, Hz (context packets may restate it; they must agree).
    pub sample_rate_hz: f64,
    /// Carrier, Hz: the default until a context packet gives the RF reference.
    pub carrier_hz: f64,
    /// Pulses per CPI, P.
    pub pulses_per_cpi: usize,
    /// Fast-time samples per pulse, N.
    pub samples_per_pulse: usize,
    /// Pulse repetition interval, seconds.
    pub pri_s: f64,
    /// Start of transmission to the first recorded sample, seconds.
    pub window_delay_s: f64,
    /// The transmitted pulse (`[radar.waveform]`: `type`, `pulse_width_s`,
    /// and `bandwidth_hz` for `lfm` only; any other key is an error).
    #[serde(deserialize_with = "waveform_table")]
    pub waveform: Waveform,
    /// The receive channel's VRT stream ID; absent: the first stream seen.
    /// Single-channel streams only (see `channels`).
    #[serde(default)]
    pub stream_id: Option<u32>,
    /// Multi-channel (monopulse) receivers: the role of each receive
    /// channel, e.g. `["sum", "delta_az", "delta_el"]` (formats.md §1
    /// `radar:channels`); `sum` is required. Absent: one channel.
    #[serde(default)]
    pub channels: Vec<String>,
    /// One VRT stream ID per entry of `channels`, in the same order.
    #[serde(default)]
    pub stream_ids: Vec<u32>,
    /// `[radar.monopulse]`: the calibration (formats.md §1
    /// `radar:monopulse`), needed for angles from difference channels.
    #[serde(default)]
    pub monopulse: Option<Monopulse>,
}

/// `[radar.waveform]` as written: every key known, so a misspelt one is
/// named as unknown (the tagged [`Waveform`] would report the key it then
/// misses instead).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WaveformTable {
    #[serde(rename = "type")]
    kind: WaveformKind,
    pulse_width_s: f64,
    #[serde(default)]
    bandwidth_hz: Option<f64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
enum WaveformKind {
    Lfm,
    Rect,
}

fn waveform_table<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Waveform, D::Error> {
    use serde::de::Error;
    let t = WaveformTable::deserialize(d)?;
    match (t.kind, t.bandwidth_hz) {
        (WaveformKind::Lfm, Some(bandwidth_hz)) => Ok(Waveform::Lfm {
            bandwidth_hz,
            pulse_width_s: t.pulse_width_s,
        }),
        (WaveformKind::Lfm, None) => Err(D::Error::custom(
            "missing key `bandwidth_hz` (type = \"lfm\" needs it)",
        )),
        (WaveformKind::Rect, None) => Ok(Waveform::Rect {
            pulse_width_s: t.pulse_width_s,
        }),
        (WaveformKind::Rect, Some(_)) => Err(D::Error::custom(
            "unknown key `bandwidth_hz` for type = \"rect\" (an unmodulated pulse has none)",
        )),
    }
}

/// The `[radar]` table (with `[radar.waveform]` and, for a monopulse
/// receiver, `[radar.monopulse]`) of a live site whose digitizer sends
/// what a recording with `params` and `carrier_hz` holds, as `tews replay
/// --stream-id STREAM_ID` sends it (channel `c` as stream `stream_id + c`).
/// Parsing it back gives `params` (tests/site_from_recording.rs).
pub fn radar_table_toml(params: &RadarParams, carrier_hz: f64, stream_id: u32) -> String {
    // `{:?}` of an f64 is the shortest text that reads back to the same bits.
    let mut t = format!(
        "[radar]\nsample_rate_hz = {:?}\ncarrier_hz = {:?}\npulses_per_cpi = {}\n\
         samples_per_pulse = {}\npri_s = {:?}\nwindow_delay_s = {:?}\n",
        params.sample_rate_hz,
        carrier_hz,
        params.pulses_per_cpi,
        params.samples_per_pulse,
        params.pri_s,
        params.window_delay_s
    );
    if params.num_channels > 1 && !params.channel_names.is_empty() {
        let names: Vec<String> = params
            .channel_names
            .iter()
            .map(|n| format!("{n:?}"))
            .collect();
        let ids: Vec<String> = (0..params.num_channels as u32)
            .map(|c| stream_id.saturating_add(c).to_string())
            .collect();
        t += &format!(
            "channels = [{}]\nstream_ids = [{}]\n",
            names.join(", "),
            ids.join(", ")
        );
    } else {
        t += &format!("stream_id = {stream_id}\n");
    }
    t += "\n[radar.waveform]\n";
    t += &match params.waveform {
        Waveform::Lfm {
            bandwidth_hz,
            pulse_width_s,
        } => format!(
            "type = \"lfm\"\nbandwidth_hz = {bandwidth_hz:?}\npulse_width_s = {pulse_width_s:?}\n"
        ),
        Waveform::Rect { pulse_width_s } => {
            format!("type = \"rect\"\npulse_width_s = {pulse_width_s:?}\n")
        }
    };
    if let Some(m) = &params.monopulse {
        t += &format!(
            "\n[radar.monopulse]\nbeamwidth_az_deg = {:?}\nbeamwidth_el_deg = {:?}\nslope_az = {:?}\nslope_el = {:?}\n",
            m.beamwidth_az_deg, m.beamwidth_el_deg, m.slope_az, m.slope_el
        );
    }
    t
}

impl SiteRadar {
    /// The radar parameters of the live stream.
    pub fn params(&self) -> RadarParams {
        let channels = self.channels.len().max(1);
        RadarParams {
            sample_rate_hz: self.sample_rate_hz,
            pulses_per_cpi: self.pulses_per_cpi,
            samples_per_pulse: self.samples_per_pulse,
            pri_s: self.pri_s,
            window_delay_s: self.window_delay_s,
            waveform: self.waveform,
            num_channels: channels,
            sum_channel: self.channels.iter().position(|c| c == "sum").unwrap_or(0),
            channel_names: self.channels.clone(),
            monopulse: self.monopulse,
        }
    }

    /// The VRT stream ID of each channel, in `channels` order; empty for a
    /// single channel.
    pub fn channel_stream_ids(&self) -> Vec<Option<u32>> {
        self.stream_ids.iter().map(|&id| Some(id)).collect()
    }

    /// Checks the values a parse cannot: positive, finite, within tews's limits.
    fn validate(&self) -> Result<(), (String, String)> {
        let bad = |key: &str, problem: String| Err((format!("radar.{key}"), problem));
        let positive = |x: f64| x.is_finite() && x > 0.0;
        if !positive(self.sample_rate_hz) {
            return bad(
                "sample_rate_hz",
                format!("{} is not a positive number of hertz", self.sample_rate_hz),
            );
        }
        if !positive(self.carrier_hz) {
            return bad(
                "carrier_hz",
                format!("{} is not a positive number of hertz", self.carrier_hz),
            );
        }
        if !(1..=MAX_PULSES_PER_CPI as usize).contains(&self.pulses_per_cpi) {
            return bad(
                "pulses_per_cpi",
                format!(
                    "{} is not a whole number of pulses from 1 to {MAX_PULSES_PER_CPI}",
                    self.pulses_per_cpi
                ),
            );
        }
        if !(1..=MAX_SAMPLES_PER_PULSE as usize).contains(&self.samples_per_pulse) {
            return bad(
                "samples_per_pulse",
                format!(
                    "{} is not a whole number of samples from 1 to {MAX_SAMPLES_PER_PULSE}",
                    self.samples_per_pulse
                ),
            );
        }
        if (self.pulses_per_cpi as u64) * (self.samples_per_pulse as u64) > MAX_COMPLEX_PER_CPI {
            return bad(
                "samples_per_pulse",
                format!(
                    "{} x {} samples per CPI is more than the limit of {MAX_COMPLEX_PER_CPI}",
                    self.pulses_per_cpi, self.samples_per_pulse
                ),
            );
        }
        if !(positive(self.pri_s) && self.pri_s <= MAX_PRI_S) {
            return bad(
                "pri_s",
                format!(
                    "{} is not a positive number of seconds up to {MAX_PRI_S}",
                    self.pri_s
                ),
            );
        }
        if !(self.window_delay_s.is_finite()
            && self.window_delay_s >= 0.0
            && self.window_delay_s < self.pri_s)
        {
            return bad(
                "window_delay_s",
                format!(
                    "{:?} is not a number of seconds from 0 to less than radar.pri_s {} s",
                    self.window_delay_s, self.pri_s
                ),
            );
        }
        let window_s = self.samples_per_pulse as f64 / self.sample_rate_hz;
        if !receive_window_fits(self.window_delay_s, window_s, self.pri_s) {
            return bad(
                "samples_per_pulse",
                format!(
                    "the receive window (window_delay_s + samples_per_pulse / sample_rate_hz = \
                     {} + {window_s} s) ends after the next pulse at pri_s = {} s",
                    self.window_delay_s, self.pri_s
                ),
            );
        }
        let t = self.waveform.pulse_width_s();
        if !positive(t) {
            return bad(
                "waveform.pulse_width_s",
                format!("{t} is not a positive number of seconds"),
            );
        }
        if t > self.pri_s {
            return bad(
                "waveform.pulse_width_s",
                format!("{t} s is longer than radar.pri_s {} s", self.pri_s),
            );
        }
        let replica = self.waveform.replica_len(self.sample_rate_hz);
        if replica < 1 || replica as u64 > MAX_SAMPLES_PER_PULSE {
            return bad(
                "waveform.pulse_width_s",
                format!(
                    "{t} s is {replica} samples at {} Hz (must be 1 to {MAX_SAMPLES_PER_PULSE})",
                    self.sample_rate_hz
                ),
            );
        }
        if !self.channels.is_empty() {
            let has = |n: &str| self.channels.iter().any(|c| c == n);
            if !has("sum") {
                return bad(
                    "channels",
                    format!("{:?} has no \"sum\" channel", self.channels),
                );
            }
            if let Some((i, c)) = self.channels.iter().enumerate().find(|(i, c)| {
                !["sum", "delta_az", "delta_el"].contains(&c.as_str())
                    || self.channels[..*i].contains(c)
            }) {
                return bad(
                    "channels",
                    format!(
                        "entry {i} {c:?}: each of \"sum\", \"delta_az\", \"delta_el\" at most once"
                    ),
                );
            }
            if self.stream_ids.len() != self.channels.len() {
                return bad(
                    "stream_ids",
                    format!(
                        "{} stream IDs for {} channels: give one per channel, in order",
                        self.stream_ids.len(),
                        self.channels.len()
                    ),
                );
            }
            if let Some(i) = (1..self.stream_ids.len())
                .find(|&i| self.stream_ids[..i].contains(&self.stream_ids[i]))
            {
                return bad(
                    "stream_ids",
                    format!("stream ID {} is given twice", self.stream_ids[i]),
                );
            }
            if self.stream_id.is_some() {
                return bad(
                    "stream_id",
                    "is for a single channel; with channels, give stream_ids".to_string(),
                );
            }
            if self.monopulse.is_some() && !(has("delta_az") || has("delta_el")) {
                return bad(
                    "monopulse",
                    "is given but channels has no \"delta_az\" or \"delta_el\"".to_string(),
                );
            }
        } else if !self.stream_ids.is_empty() {
            return bad(
                "stream_ids",
                "needs channels (one role per stream ID)".to_string(),
            );
        } else if self.monopulse.is_some() {
            return bad(
                "monopulse",
                "needs channels with \"sum\" and \"delta_az\" and/or \"delta_el\"".to_string(),
            );
        }
        if let Some(m) = &self.monopulse
            && let Some((key, value)) = m.implausible()
        {
            return bad(
                &format!("monopulse.{key}"),
                format!("{value} is outside the accepted range"),
            );
        }
        if let Waveform::Lfm { bandwidth_hz, .. } = self.waveform
            && (!positive(bandwidth_hz) || bandwidth_hz > self.sample_rate_hz)
        {
            return bad(
                "waveform.bandwidth_hz",
                format!(
                    "{bandwidth_hz} is not a positive number of hertz up to sample_rate_hz {}",
                    self.sample_rate_hz
                ),
            );
        }
        Ok(())
    }
}

/// A parsed and validated site configuration.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteConfig {
    /// Who this sensor is.
    pub site: SiteIdentity,
    /// Static radar parameters of a live stream (absent: recordings only).
    #[serde(default)]
    pub radar: Option<SiteRadar>,
    /// The NATS sharing output's connection and JetStream settings
    /// (see [`crate::output::nats::config`]).
    #[serde(default)]
    pub sharing: crate::output::nats::SharingConfig,
    /// Partners and what each may receive (`[[partner]]` tables, see
    /// [`crate::output::nats::policy`]).
    #[serde(default, rename = "partner")]
    pub partners: Vec<crate::output::nats::PartnerPolicy>,
}

impl SiteConfig {
    /// Parses and validates TOML text; `file` names it in errors.
    pub fn from_toml_str(text: &str, file: &str) -> Result<Self, SiteError> {
        let parse_error = |e: toml::de::Error, key: String| SiteError::Parse {
            file: file.to_string(),
            // 1 + the newlines before the span: a span at the start of a line
            // (an unknown key) is on that line, not the one above.
            line: e.span().map_or(0, |s| {
                1 + text.as_bytes()[..s.start.min(text.len())]
                    .iter()
                    .filter(|&&b| b == b'\n')
                    .count()
            }),
            key: if key.is_empty() || key == "." {
                String::new()
            } else {
                format!("{key}: ")
            },
            message: e.message().replace('\n', " "),
        };
        let de = toml::Deserializer::parse(text).map_err(|e| parse_error(e, String::new()))?;
        let config: SiteConfig = serde_path_to_error::deserialize(de).map_err(|e| {
            let key = e.path().to_string();
            parse_error(e.into_inner(), key)
        })?;
        let invalid = |(key, problem): (String, String)| SiteError::Invalid {
            file: file.to_string(),
            key,
            problem,
        };
        for (key, value) in [
            ("site.name", &config.site.name),
            ("site.nation", &config.site.nation),
            ("site.sensor", &config.site.sensor),
        ] {
            if !is_subject_token(value) {
                return Err(invalid((
                    key.to_string(),
                    format!(
                        "{value:?} must be 1 to 64 letters, digits, '-' or '_' (it names NATS subjects)"
                    ),
                )));
            }
        }
        if let Some(radar) = &config.radar {
            radar.validate().map_err(invalid)?;
        }
        config.position().map_err(invalid)?;
        config
            .sharing
            .validate()
            .map_err(|(key, problem)| invalid((format!("sharing.{key}"), problem)))?;
        for (i, partner) in config.partners.iter().enumerate() {
            partner
                .validate()
                .map_err(|(key, problem)| invalid((format!("partner[{i}].{key}"), problem)))?;
            if config.partners[..i].iter().any(|p| p.name == partner.name) {
                return Err(invalid((
                    format!("partner[{i}].name"),
                    format!("{:?} is listed twice", partner.name),
                )));
            }
        }
        Ok(config)
    }

    /// The site's position from `[site]` `latitude_deg`, `longitude_deg`,
    /// `height_m` (all three or none), checked as
    /// [`crate::geo::Geodetic::site`] does; `Ok(None)` when not given.
    pub fn position(&self) -> Result<Option<crate::geo::Geodetic>, (String, String)> {
        let s = &self.site;
        match (s.latitude_deg, s.longitude_deg, s.height_m) {
            (None, None, None) => Ok(None),
            (Some(lat), Some(lon), Some(h)) => crate::geo::Geodetic::site(lat, lon, h)
                .map(Some)
                .map_err(|e| (format!("site.{}", e.key), format!("{} {}", e.value, e.why))),
            _ => Err((
                "site.latitude_deg".into(),
                "give latitude_deg, longitude_deg and height_m together, or none".into(),
            )),
        }
    }

    /// Reads, parses and validates a site configuration file.
    pub fn load(path: &Path) -> Result<Self, SiteError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| SiteError::Io {
            file: file.clone(),
            source,
        })?;
        Self::from_toml_str(&text, &file)
    }

    /// The `[radar]` table, or an error naming the file when it is absent.
    pub fn radar(&self, file: &str) -> Result<&SiteRadar, SiteError> {
        self.radar.as_ref().ok_or_else(|| SiteError::Invalid {
            file: file.to_string(),
            key: "radar".into(),
            problem:
                "live input needs a [radar] table (sample_rate_hz, carrier_hz, pulses_per_cpi, \
                      samples_per_pulse, pri_s, window_delay_s, [radar.waveform])"
                    .into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partner_release_key_of_the_wrong_kind_is_a_one_line_error_with_its_line() {
        let site = "[site]\nname = \"s\"\nsac = 1\nsic = 2\n[[partner]]\nname = \"x\"\n";
        for (bad, key) in [
            ("release_tracks = \"nearby\"", "partner[0].release_tracks"),
            ("release_tracks = true", "partner[0].release_tracks"),
            ("release_warnings = \"yes\"", "partner[0].release_warnings"),
        ] {
            let e = SiteConfig::from_toml_str(&format!("{site}{bad}\n"), "s.toml")
                .unwrap_err()
                .to_string();
            assert!(
                e.starts_with("s.toml: line 7: ") && e.contains(key) && !e.contains('\n'),
                "{bad}: {e}"
            );
        }
    }

    const GOOD: &str = r#"
[site]
name = "north-1"
nation = "alpha"
sensor = "radar-a"
sac = 12
sic = 34

[radar]
sample_rate_hz = 20e6
carrier_hz = 3.0e9
pulses_per_cpi = 64
samples_per_pulse = 2000
pri_s = 200e-6
window_delay_s = 10e-6
[radar.waveform]
type = "lfm"
bandwidth_hz = 5e6
pulse_width_s = 10e-6
"#;

    #[test]
    fn parses_the_documented_example() {
        let c = SiteConfig::from_toml_str(GOOD, "site.toml").unwrap();
        assert_eq!((c.site.sac, c.site.sic), (12, 34));
        assert_eq!(c.site.nation, "alpha");
        let p = c.radar.as_ref().unwrap().params();
        assert_eq!((p.pulses_per_cpi, p.samples_per_pulse), (64, 2000));
        assert_eq!(p.waveform.replica_len(p.sample_rate_hz), 200);
    }

    #[test]
    fn the_module_doc_example_parses() {
        // The example in this module's documentation, comments and all.
        let doc: String = include_str!("site.rs")
            .lines()
            .take_while(|l| l.starts_with("//!"))
            .skip_while(|l| !l.contains("```toml"))
            .skip(1)
            .take_while(|l| !l.contains("```"))
            .map(|l| l.trim_start_matches("//!").trim_start().to_string() + "\n")
            .collect();
        SiteConfig::from_toml_str(&doc, "doc").unwrap();
    }

    fn err(text: &str) -> String {
        SiteConfig::from_toml_str(text, "s.toml")
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn errors_name_the_file_and_key() {
        let e = err(&GOOD.replace("sac = 12", "sac = 300"));
        assert!(e.starts_with("s.toml: line 6: site.sac: "), "{e}");
        let e = err(&GOOD.replace("pri_s = 200e-6", "pri_s = -1.0"));
        assert!(e.starts_with("s.toml: radar.pri_s: -1"), "{e}");
        let e = err(&GOOD.replace("name = \"north-1\"", "name = \"a.b\""));
        assert!(e.contains("site.name") && e.contains("NATS"), "{e}");
        let e = err(&GOOD.replace("sic = 34", "sic = 34\nsicc = 1"));
        assert!(e.contains("unknown field `sicc`"), "{e}");
        let e = err(&GOOD.replace("bandwidth_hz = 5e6", "bandwidth_hz = 50e6"));
        assert!(e.contains("radar.waveform.bandwidth_hz"), "{e}");
        let e = err(&GOOD.replace("pulses_per_cpi = 64", "pulses_per_cpi = 0"));
        assert!(e.contains("radar.pulses_per_cpi"), "{e}");
        let e = err("[site\n");
        assert!(e.starts_with("s.toml: line 1: "), "{e}");
        let e = err("[site]\nname = \"x\"\nsic = 1\n");
        assert!(e.contains("missing field `sac`"), "{e}");
    }

    #[test]
    fn monopulse_channels_and_the_site_position_parse_and_bad_ones_name_their_key() {
        let mono = GOOD.replace(
            "window_delay_s = 10e-6\n",
            "window_delay_s = 10e-6\nchannels = [\"delta_az\", \"sum\", \"delta_el\"]\n\
             stream_ids = [4, 5, 6]\n[radar.monopulse]\nbeamwidth_az_deg = 2.0\n\
             beamwidth_el_deg = 2.5\nslope_az = 1.6\nslope_el = 1.4\n",
        );
        let placed = mono.replace(
            "sic = 34\n",
            "sic = 34\nlatitude_deg = 60.0\nlongitude_deg = 25.0\nheight_m = 50.0\n",
        );
        let c = SiteConfig::from_toml_str(&placed, "site.toml").unwrap();
        let radar = c.radar.as_ref().unwrap();
        let p = radar.params();
        assert_eq!((p.num_channels, p.sum_channel), (3, 1));
        assert_eq!(p.monopulse.unwrap().beamwidth_el_deg, 2.5);
        assert_eq!(radar.channel_stream_ids(), [Some(4), Some(5), Some(6)]);
        assert_eq!(c.position().unwrap().unwrap().latitude_deg, 60.0);
        for (edit, needle) in [
            (
                mono.replace("\"delta_az\", \"sum\"", "\"delta_az\", \"aux\""),
                "radar.channels",
            ),
            (mono.replace("[4, 5, 6]", "[4, 5]"), "radar.stream_ids"),
            (mono.replace("[4, 5, 6]", "[4, 5, 4]"), "radar.stream_ids"),
            (
                mono.replace("slope_az = 1.6", "slope_az = 0.0"),
                "radar.monopulse.slope_az",
            ),
            (
                mono.replace("beamwidth_az_deg = 2.0\n", ""),
                "beamwidth_az_deg",
            ),
            (
                GOOD.replace(
                    "window_delay_s = 10e-6\n",
                    "window_delay_s = 10e-6\nstream_ids = [1]\n",
                ),
                "radar.stream_ids",
            ),
            (placed.replace("height_m = 50.0\n", ""), "site.latitude_deg"),
            (
                placed.replace("latitude_deg = 60.0", "latitude_deg = 95.0"),
                "site.latitude_deg",
            ),
        ] {
            let e = err(&edit);
            assert!(e.contains(needle) && !e.contains('\n'), "{needle}: {e}");
        }
    }

    #[test]
    fn sharing_and_partners_parse_and_bad_ones_name_their_key() {
        // The [sharing] example in the NATS config module's documentation.
        let doc: String = include_str!("output/nats/config.rs")
            .lines()
            .take_while(|l| l.starts_with("//!"))
            .skip_while(|l| !l.contains("```toml"))
            .skip(1)
            .take_while(|l| !l.contains("```"))
            .map(|l| l.trim_start_matches("//!").trim_start().to_string() + "\n")
            .collect();
        let partner = "[[partner]]\nname = \"bravo\"\nazimuth_sectors_deg = [[300.0, 60.0]]\n\
                       max_range_m = 3000.0\nwithhold = [\"snr_db\"]\n";
        let text = format!("{GOOD}\n{doc}\n{partner}");
        let c = SiteConfig::from_toml_str(&text, "s.toml").unwrap();
        assert!(c.sharing.jetstream);
        assert_eq!(c.sharing.user.as_deref(), Some("alpha-north-1"));
        assert_eq!(c.partners.len(), 1);
        assert_eq!(c.partners[0].azimuth_sectors_deg, vec![[300.0, 60.0]]);
        assert_eq!(c.partners[0].min_snr_db, f64::NEG_INFINITY);
        let e = err(&format!("{GOOD}\n[sharing]\nuser = \"x\"\n"));
        assert!(e.starts_with("s.toml: sharing.password: "), "{e}");
        let e = err(&format!(
            "{GOOD}\n[sharing]\ntoken = \"t\"\ncreds_file = \"/nonexistent\"\n"
        ));
        assert!(e.contains("at most one"), "{e}");
        let e = err(&format!(
            "{GOOD}\n[sharing]\ntls_ca_file = \"/nonexistent/ca.pem\"\n"
        ));
        assert!(
            e.starts_with("s.toml: sharing.tls_ca_file: /nonexistent/ca.pem"),
            "{e}"
        );
        let e = err(&format!("{GOOD}\n{partner}\n{partner}"));
        assert!(e.contains("partner[1].name") && e.contains("twice"), "{e}");
        let e = err(&format!(
            "{GOOD}\n[[partner]]\nname = \"x\"\nazimuth_sectors_deg = [[5.0, 5.0]]\n"
        ));
        assert!(e.contains("partner[0].azimuth_sectors_deg[0]"), "{e}");
        let e = err(&format!(
            "{GOOD}\n[[partner]]\nname = \"x\"\nmin_snr = 3.0\n"
        ));
        assert!(e.contains("unknown field `min_snr`"), "{e}");
    }

    #[test]
    fn a_misspelt_key_is_reported_on_its_own_line() {
        // Issue 12 item 10: the line of the key, not the one above it.
        let text = GOOD.replace("sic = 34", "sic = 34\nsicc = 1");
        let line = 1 + text[..text.find("sicc").unwrap()].matches('\n').count();
        let e = err(&text);
        assert!(
            e.starts_with(&format!("s.toml: line {line}: ")) && e.contains("sicc"),
            "{e}"
        );
        let text = GOOD.replace("pri_s = 200e-6", "pri_s = 200e-6\nprf_hz = 5000");
        let line = 1 + text[..text.find("prf_hz").unwrap()].matches('\n').count();
        let e = err(&text);
        assert!(e.starts_with(&format!("s.toml: line {line}: ")), "{e}");
    }

    #[test]
    fn an_unknown_key_in_the_waveform_table_is_named_as_unknown() {
        // Issue 12 item 10: was reported as the missing `bandwidth_hz`.
        let e = err(&GOOD.replace("bandwidth_hz = 5e6", "bandwith_hz = 5e6"));
        assert!(
            e.contains("radar.waveform") && e.contains("unknown field `bandwith_hz`"),
            "{e}"
        );
        let e = err(&GOOD.replace("pulse_width_s = 10e-6", "pulse_width_s = 10e-6\nbeta = 1"));
        assert!(e.contains("unknown field `beta`"), "{e}");
        let e = err(&GOOD.replace("bandwidth_hz = 5e6\n", ""));
        assert!(
            e.contains("radar.waveform") && e.contains("`bandwidth_hz`"),
            "{e}"
        );
        let e = err(&GOOD.replace("type = \"lfm\"", "type = \"rect\""));
        assert!(e.contains("bandwidth_hz") && e.contains("rect"), "{e}");
        let rect = GOOD
            .replace("type = \"lfm\"", "type = \"rect\"")
            .replace("bandwidth_hz = 5e6\n", "");
        let c = SiteConfig::from_toml_str(&rect, "s.toml").unwrap();
        assert_eq!(
            c.radar.unwrap().waveform,
            Waveform::Rect {
                pulse_width_s: 10e-6
            }
        );
    }

    #[test]
    fn radar_is_optional_until_live_input_needs_it() {
        let text = GOOD.split("[radar]").next().unwrap();
        let c = SiteConfig::from_toml_str(text, "s.toml").unwrap();
        let e = c.radar("s.toml").unwrap_err().to_string();
        assert!(e.starts_with("s.toml: radar: live input needs"), "{e}");
    }
}
