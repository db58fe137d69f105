//! Who this sensor is to the outputs: the `[site]` table's names (NATS
//! subject tokens) and ASTERIX SAC/SIC.
//!
//! The type lives in the output layer, which uses it, so that the output
//! layer never imports the site configuration (`src/site.rs`), which
//! parses it from the site file.

use serde::Deserialize;

/// The `[site]` table: this sensor's identity (and where it stands).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteIdentity {
    /// Site name (a NATS subject token).
    pub name: String,
    /// Nation operating the site (a NATS subject token).
    #[serde(default = "default_nation")]
    pub nation: String,
    /// Sensor name at the site (a NATS subject token).
    #[serde(default = "default_sensor")]
    pub sensor: String,
    /// ASTERIX system area code (I048/010 SAC).
    pub sac: u8,
    /// ASTERIX system identification code (I048/010 SIC).
    pub sic: u8,
    /// WGS-84 latitude of the radar, degrees (with `longitude_deg` and
    /// `height_m`: plots of live input are then geolocated).
    #[serde(default)]
    pub latitude_deg: Option<f64>,
    /// WGS-84 longitude, degrees.
    #[serde(default)]
    pub longitude_deg: Option<f64>,
    /// Height above the WGS-84 ellipsoid, metres.
    #[serde(default)]
    pub height_m: Option<f64>,
    /// The site is in exercise mode: its warnings say so (`exercise`
    /// true, CAP `status` Exercise) even from live input.
    #[serde(default)]
    pub exercise: bool,
}

fn default_nation() -> String {
    "unset".into()
}

fn default_sensor() -> String {
    "radar".into()
}

/// True for a non-empty NATS subject token of letters, digits, '-' and '_'.
pub fn is_subject_token(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}
