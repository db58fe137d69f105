//! Release policy: what each partner may receive (`[[partner]]` tables of
//! the site configuration).
//!
//! A plot is **released** to a partner when all of these hold:
//!
//! 1. its azimuth, taken modulo 360 into `[0, 360)`, lies in one of the
//!    partner's `azimuth_sectors_deg` (none listed: every azimuth). A sector
//!    `[from, to]` runs clockwise from `from` (inclusive) to `to` (exclusive);
//!    `from > to` wraps through north (`[300, 30]` is 300..360 and 0..30);
//!    `[0, 360]` is the whole circle; `from == to` is refused;
//! 2. `min_range_m <= range_m <= max_range_m`;
//! 3. `snr_db >= min_snr_db`.
//!
//! A plot with a value that is not finite where a rule reads it is not
//! released. The released message is the plot's formats.md §2 JSON line
//! with the keys named in `withhold` removed (the key is absent, not null).
//! `time_utc`, `range_m` and `azimuth_deg` cannot be withheld: a plot without
//! its time or position is no warning.
//!
//! # Tracks and warnings
//! Two more keys cover the tracking stage's reports (published by
//! [`super::situation::NatsSituationSink`]):
//!
//! - `release_warnings` (default `true`): every warning (formats.md §7) and
//!   its CAP alert goes to the partner, wherever the launch or impact lies:
//!   a warning is what the network exists to share, and a partner cannot
//!   judge a threat it is not told about. `false` releases none.
//! - `release_tracks` (default `"sector"`): a track report (formats.md §6)
//!   is released when the track's position *in that report*, seen from the
//!   site (azimuth in `[0, 360)` and slant range in the site's local
//!   east-north-up frame, as a plot's), passes rules 1 and 2 above: the
//!   partner gets the tracks where it gets the plots. `min_snr_db` and
//!   `withhold` do not apply (a track has no SNR, and is released whole).
//!   The rule is per report: a track that leaves the sector stops being
//!   released, one that enters it starts; its status (tentative, confirmed,
//!   coasting, dropped) does not matter, as a plot's does not. `"all"`
//!   releases every track report, `"none"` none.
//!
//! Without the site's position (no `[site] latitude_deg`, `longitude_deg`,
//! `height_m`, and none given to the output) a track's azimuth and range
//! from the site are unknown: under `"sector"` a partner whose policy limits
//! neither (no `azimuth_sectors_deg`, `min_range_m = 0`, no `max_range_m`)
//! still gets every track, one that limits either gets none (withheld, not
//! guessed; the output says so once at start-up).

use crate::plots::Plot;
use serde::Deserialize;

/// The §2 keys a partner may have withheld.
pub const WITHHOLDABLE: &[&str] = &[
    "cpi",
    "radial_velocity_mps",
    "elevation_deg",
    "snr_db",
    "range_bin",
    "doppler_bin",
    "cells",
];

/// One `[[partner]]` table.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartnerPolicy {
    /// The partner's name: a NATS subject token, unique among partners.
    pub name: String,
    /// Clockwise `[from, to]` sectors in degrees (see the module docs); empty:
    /// every azimuth.
    #[serde(default)]
    pub azimuth_sectors_deg: Vec<[f64; 2]>,
    /// Nearest range released, metres.
    #[serde(default)]
    pub min_range_m: f64,
    /// Farthest range released, metres.
    #[serde(default = "infinite")]
    pub max_range_m: f64,
    /// Weakest plot released, dB over the CFAR noise estimate.
    #[serde(default = "minus_infinite")]
    pub min_snr_db: f64,
    /// §2 keys removed from released plots (see [`WITHHOLDABLE`]).
    #[serde(default)]
    pub withhold: Vec<String>,
    /// Which track reports are released (module docs, "Tracks and warnings").
    #[serde(default)]
    pub release_tracks: TrackRelease,
    /// Whether warnings and their CAP alerts are released (default: all).
    #[serde(default = "yes")]
    pub release_warnings: bool,
}

/// `release_tracks`: which track reports a partner gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum TrackRelease {
    /// `"sector"`: those inside the partner's azimuth sectors and range
    /// limits, seen from the site (the default).
    #[default]
    #[serde(rename = "sector")]
    Sector,
    /// `"all"`: every track report.
    #[serde(rename = "all")]
    All,
    /// `"none"`: no track report.
    #[serde(rename = "none")]
    Never,
}

fn yes() -> bool {
    true
}

fn infinite() -> f64 {
    f64::INFINITY
}

fn minus_infinite() -> f64 {
    f64::NEG_INFINITY
}

impl PartnerPolicy {
    /// Checks the values a parse cannot; `Err((key, problem))`, the key
    /// relative to the partner table.
    pub fn validate(&self) -> Result<(), (String, String)> {
        if !crate::output::identity::is_subject_token(&self.name) {
            return Err((
                "name".into(),
                format!(
                    "{:?} must be 1 to 64 letters, digits, '-' or '_' (it names NATS subjects)",
                    self.name
                ),
            ));
        }
        for (i, [from, to]) in self.azimuth_sectors_deg.iter().enumerate() {
            let ok = |x: &f64| x.is_finite() && (0.0..=360.0).contains(x);
            if !ok(from) || !ok(to) || from == to {
                return Err((
                    format!("azimuth_sectors_deg[{i}]"),
                    format!(
                        "[{from}, {to}] is not a sector: both ends must be 0 to 360 degrees and differ"
                    ),
                ));
            }
        }
        if self.min_range_m.is_nan()
            || self.max_range_m.is_nan()
            || self.min_range_m < 0.0
            || self.min_range_m > self.max_range_m
        {
            return Err((
                "max_range_m".into(),
                format!(
                    "range limits {} to {} m are not 0 <= min_range_m <= max_range_m",
                    self.min_range_m, self.max_range_m
                ),
            ));
        }
        if self.min_snr_db.is_nan() {
            return Err(("min_snr_db".into(), "is not a number".into()));
        }
        for key in &self.withhold {
            if !WITHHOLDABLE.contains(&key.as_str()) {
                return Err((
                    "withhold".into(),
                    format!(
                        "{key:?} cannot be withheld (choose from {})",
                        WITHHOLDABLE.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }

    /// True when the policy limits azimuth or range (a sector list, even
    /// `[0, 360]`, or a range limit), so that a track's release under
    /// [`TrackRelease::Sector`] needs the site's position.
    pub fn limits_geometry(&self) -> bool {
        !self.azimuth_sectors_deg.is_empty()
            || self.min_range_m > 0.0
            || self.max_range_m != f64::INFINITY
    }

    /// True when a track report whose position lies at `seen` = (azimuth
    /// deg, slant range m) from the site may be released to this partner;
    /// `seen` is `None` when the site's position is unknown (module docs).
    pub fn releases_track(&self, seen: Option<(f64, f64)>) -> bool {
        match self.release_tracks {
            TrackRelease::Never => false,
            TrackRelease::All => true,
            TrackRelease::Sector => match seen {
                Some((azimuth_deg, range_m)) => {
                    self.azimuth_released(azimuth_deg)
                        && range_m >= self.min_range_m
                        && range_m <= self.max_range_m
                }
                None => !self.limits_geometry(),
            },
        }
    }

    /// True when `plot` may be released to this partner.
    pub fn releases(&self, plot: &Plot) -> bool {
        self.azimuth_released(plot.azimuth_deg)
            && plot.range_m >= self.min_range_m
            && plot.range_m <= self.max_range_m
            && plot.snr_db >= self.min_snr_db
    }

    fn azimuth_released(&self, azimuth_deg: f64) -> bool {
        if !azimuth_deg.is_finite() {
            return false;
        }
        if self.azimuth_sectors_deg.is_empty() {
            return true;
        }
        let az = azimuth_deg.rem_euclid(360.0);
        self.azimuth_sectors_deg.iter().any(|&[from, to]| {
            if from < to {
                az >= from && az < to
            } else {
                az >= from || az < to
            }
        })
    }

    /// The released JSON line of `plot` (formats.md §2 less the withheld keys).
    pub fn release_json(&self, plot: &Plot) -> String {
        let mut value = serde_json::to_value(plot).unwrap_or_default();
        if let Some(map) = value.as_object_mut() {
            for key in &self.withhold {
                // shift_remove keeps the order of the keys left (remove would swap).
                map.shift_remove(key);
            }
        }
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plot(az: f64, range_m: f64, snr_db: f64) -> Plot {
        Plot {
            cpi: 3,
            time_utc: time::OffsetDateTime::UNIX_EPOCH,
            range_m,
            radial_velocity_mps: -12.5,
            azimuth_deg: az,
            elevation_deg: 1.0,
            snr_db,
            range_bin: 10.0,
            doppler_bin: 2.0,
            cells: 4,
            received_at: None,
            ..Plot::default()
        }
    }

    fn policy(sectors: Vec<[f64; 2]>) -> PartnerPolicy {
        PartnerPolicy {
            name: "bravo".into(),
            azimuth_sectors_deg: sectors,
            min_range_m: 1000.0,
            max_range_m: 20000.0,
            min_snr_db: 15.0,
            withhold: vec!["snr_db".into(), "radial_velocity_mps".into()],
            release_tracks: TrackRelease::Sector,
            release_warnings: true,
        }
    }

    #[test]
    fn sectors_wrap_through_north_and_ends_are_half_open() {
        let p = policy(vec![[300.0, 30.0], [90.0, 100.0]]);
        for (az, want) in [
            (300.0, true),
            (359.9, true),
            (0.0, true),
            (29.99, true),
            (30.0, false),
            (-10.0, true),
            (370.0, true),
            (90.0, true),
            (100.0, false),
            (200.0, false),
            (f64::NAN, false),
        ] {
            assert_eq!(p.releases(&plot(az, 5000.0, 20.0)), want, "az {az}");
        }
        let all = policy(vec![[0.0, 360.0]]);
        assert!(all.releases(&plot(359.999, 5000.0, 20.0)));
        assert!(all.releases(&plot(0.0, 5000.0, 20.0)));
    }

    #[test]
    fn range_and_snr_limits_are_inclusive() {
        let p = policy(vec![]);
        assert!(p.releases(&plot(10.0, 1000.0, 15.0)));
        assert!(p.releases(&plot(10.0, 20000.0, 15.0)));
        assert!(!p.releases(&plot(10.0, 999.9, 30.0)));
        assert!(!p.releases(&plot(10.0, 20000.1, 30.0)));
        assert!(!p.releases(&plot(10.0, 5000.0, 14.99)));
        assert!(!p.releases(&plot(10.0, f64::NAN, 30.0)));
    }

    #[test]
    fn withheld_keys_are_absent_and_the_rest_is_the_plot_line() {
        let p = policy(vec![]);
        let pl = plot(10.0, 5000.0, 20.0);
        let released: serde_json::Value = serde_json::from_str(&p.release_json(&pl)).unwrap();
        let full: serde_json::Value =
            serde_json::from_str(&crate::output::jsonl::plot_to_json(&pl)).unwrap();
        let mut expected = full.as_object().unwrap().clone();
        expected.remove("snr_db");
        expected.remove("radial_velocity_mps");
        assert_eq!(released.as_object().unwrap(), &expected);
        assert!(released.get("range_m").is_some());
    }

    #[test]
    fn bad_policies_are_refused() {
        let mut p = policy(vec![[10.0, 10.0]]);
        assert_eq!(p.validate().unwrap_err().0, "azimuth_sectors_deg[0]");
        p.azimuth_sectors_deg = vec![[0.0, 361.0]];
        assert!(p.validate().is_err());
        p.azimuth_sectors_deg = vec![];
        p.withhold = vec!["range_m".into()];
        assert_eq!(p.validate().unwrap_err().0, "withhold");
        p.withhold = vec![];
        p.min_range_m = 30000.0;
        assert_eq!(p.validate().unwrap_err().0, "max_range_m");
        p.min_range_m = 0.0;
        p.name = "a.b".into();
        assert_eq!(p.validate().unwrap_err().0, "name");
        p.name = "bravo".into();
        assert!(p.validate().is_ok());
    }

    #[test]
    fn tracks_follow_the_plot_sectors_and_ranges_or_the_mode() {
        let mut p = policy(vec![[300.0, 30.0]]);
        // min_snr_db (15 dB) has no say over tracks.
        for (seen, want) in [
            (Some((310.0, 5000.0)), true),
            (Some((29.9, 1000.0)), true),
            (Some((30.0, 5000.0)), false),
            (Some((310.0, 999.0)), false),
            (Some((310.0, 20000.1)), false),
            (Some((f64::NAN, 5000.0)), false),
            (Some((310.0, f64::NAN)), false),
            (None, false),
        ] {
            assert_eq!(p.releases_track(seen), want, "{seen:?}");
        }
        p.release_tracks = TrackRelease::All;
        assert!(p.releases_track(Some((100.0, 1e9))) && p.releases_track(None));
        p.release_tracks = TrackRelease::Never;
        assert!(!p.releases_track(Some((310.0, 5000.0))));
        // No geometric limit: every track, even without the site position.
        let mut open = policy(vec![]);
        open.min_range_m = 0.0;
        open.max_range_m = f64::INFINITY;
        assert!(!open.limits_geometry());
        assert!(open.releases_track(None));
        open.azimuth_sectors_deg = vec![[0.0, 360.0]];
        assert!(open.limits_geometry() && !open.releases_track(None));
    }

    #[test]
    fn new_keys_default_and_bad_values_name_their_key() {
        let p: PartnerPolicy = toml::from_str("name = \"x\"").unwrap();
        assert_eq!(p.release_tracks, TrackRelease::Sector);
        assert!(p.release_warnings);
        let p: PartnerPolicy =
            toml::from_str("name = \"x\"\nrelease_tracks = \"none\"\nrelease_warnings = false")
                .unwrap();
        assert_eq!(p.release_tracks, TrackRelease::Never);
        assert!(!p.release_warnings);
    }
}
