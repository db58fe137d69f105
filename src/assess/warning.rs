//! Warnings (formats.md §7): when to issue, and the JSON line.
//!
//! # Issue rule
//! A ballistic track gets its first warning on the first assessment after it
//! is judged ballistic. It is re-issued (sequence + 1) when any of:
//! - the impact ellipse's semi-major axis has shrunk by `shrink_fraction`
//!   (default 10%) since the last issue: the warning got materially better;
//! - the impact point has moved by more than `move_fraction` (default 25%)
//!   of the last issued semi-major axis: the old ellipse is misleading;
//! - `max_interval_s` (default 5 s) has passed since the last issue while
//!   the track is still assessed: receivers see a live warning and a
//!   running time to impact, never a stale one.
//!
//! Nothing is re-issued more often than `min_interval_s` (default 1 s), so a
//! fast revisit cannot flood the partners.

use std::collections::HashMap;

use nalgebra::Vector3;
use serde::Serialize;
use time::{Duration, OffsetDateTime};

use super::{AssessError, Assessment, Ellipse95, PointAssessment};

/// A point (launch or impact) in a warning line.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
pub struct WarningPoint {
    /// Predicted (impact) or estimated (launch) time.
    #[serde(with = "time::serde::rfc3339")]
    pub time_utc: OffsetDateTime,
    /// 1-sigma of that time, s.
    pub time_sigma_s: f64,
    /// WGS-84 latitude, deg.
    pub latitude_deg: f64,
    /// WGS-84 longitude, deg.
    pub longitude_deg: f64,
    /// The 95% ellipse on the local tangent plane.
    pub ellipse_95: Ellipse95,
}

/// One warning line, formats.md §7 (field names exactly).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WarningReport {
    /// `<nation>.<site>.<sensor>.<track>`.
    pub warning: String,
    /// 1 for the first issue, +1 per update.
    pub sequence: u32,
    /// The track assessed.
    pub track: u64,
    /// Time of the assessment (the last plot used).
    #[serde(with = "time::serde::rfc3339")]
    pub time_utc: OffsetDateTime,
    /// Simulated input or site in exercise mode.
    pub exercise: bool,
    /// Estimated launch.
    pub launch: WarningPoint,
    /// Predicted impact.
    pub impact: WarningPoint,
    /// From `time_utc` to the predicted impact, s.
    pub time_to_impact_s: f64,
    /// Apogee height, m.
    pub apogee_height_m: f64,
}

/// Thresholds of the issue rule (module docs).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WarningRule {
    /// Relative shrink of the semi-major axis that triggers an update.
    pub shrink_fraction: f64,
    /// Move of the impact point, as a fraction of the last semi-major axis.
    pub move_fraction: f64,
    /// Longest time between issues while assessed, s.
    pub max_interval_s: f64,
    /// Shortest time between issues, s.
    pub min_interval_s: f64,
}

impl Default for WarningRule {
    fn default() -> Self {
        WarningRule {
            shrink_fraction: 0.10,
            move_fraction: 0.25,
            max_interval_s: 5.0,
            min_interval_s: 1.0,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct LastIssue {
    sequence: u32,
    time_s: f64,
    semi_major_m: f64,
    impact_ecef_m: Vector3<f64>,
}

/// Decides when each track's warning is (re-)issued and numbers them.
#[derive(Debug, Clone)]
pub struct WarningIssuer {
    prefix: String,
    exercise: bool,
    rule: WarningRule,
    epoch: OffsetDateTime,
    last: HashMap<u64, LastIssue>,
}

/// `epoch + seconds`, checked.
pub fn utc_at(epoch: OffsetDateTime, seconds: f64) -> Result<OffsetDateTime, AssessError> {
    Duration::checked_seconds_f64(seconds)
        .and_then(|d| epoch.checked_add(d))
        .ok_or_else(|| AssessError::Time(format!("{epoch} + {seconds} s")))
}

fn point(epoch: OffsetDateTime, p: &PointAssessment) -> Result<WarningPoint, AssessError> {
    Ok(WarningPoint {
        time_utc: utc_at(epoch, p.time_s)?,
        time_sigma_s: p.time_sigma_s,
        latitude_deg: p.geodetic.latitude_deg,
        longitude_deg: p.geodetic.longitude_deg,
        ellipse_95: p.ellipse,
    })
}

impl WarningIssuer {
    /// Warnings named `<nation>.<site>.<sensor>.<track>`; times are seconds
    /// after `epoch` (the tracker's).
    pub fn new(
        nation: &str,
        site: &str,
        sensor: &str,
        exercise: bool,
        rule: WarningRule,
        epoch: OffsetDateTime,
    ) -> Self {
        WarningIssuer {
            prefix: format!("{nation}.{site}.{sensor}"),
            exercise,
            rule,
            epoch,
            last: HashMap::new(),
        }
    }

    /// The warning to issue for this assessment of ballistic track `track`,
    /// if the rule says so.
    pub fn consider(
        &mut self,
        track: u64,
        a: &Assessment,
    ) -> Result<Option<WarningReport>, AssessError> {
        let impact_ecef = a.impact.geodetic_ecef();
        let sequence = match self.last.get(&track) {
            None => 1,
            Some(last) => {
                let since = a.time_s - last.time_s;
                if since.is_nan() || since < self.rule.min_interval_s {
                    return Ok(None);
                }
                let shrunk = a.impact.ellipse.semi_major_m
                    <= (1.0 - self.rule.shrink_fraction) * last.semi_major_m;
                let moved = (impact_ecef - last.impact_ecef_m).norm()
                    > self.rule.move_fraction * last.semi_major_m;
                let due = since >= self.rule.max_interval_s;
                if !(shrunk || moved || due) {
                    return Ok(None);
                }
                last.sequence.saturating_add(1)
            }
        };
        let report = WarningReport {
            warning: format!("{}.{track}", self.prefix),
            sequence,
            track,
            time_utc: utc_at(self.epoch, a.time_s)?,
            exercise: self.exercise,
            launch: point(self.epoch, &a.launch)?,
            impact: point(self.epoch, &a.impact)?,
            time_to_impact_s: a.time_to_impact_s,
            apogee_height_m: a.apogee_height_m,
        };
        self.last.insert(
            track,
            LastIssue {
                sequence,
                time_s: a.time_s,
                semi_major_m: a.impact.ellipse.semi_major_m,
                impact_ecef_m: impact_ecef,
            },
        );
        Ok(Some(report))
    }
}

impl PointAssessment {
    /// ECEF of the assessed point, m.
    pub fn geodetic_ecef(&self) -> Vector3<f64> {
        self.geodetic.to_ecef()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geo::Geodetic;
    use nalgebra::Matrix2;

    fn assessment(time_s: f64, semi_major_sigma_m: f64, lat: f64) -> Assessment {
        let cov = Matrix2::new(semi_major_sigma_m.powi(2), 0.0, 0.0, 100.0);
        let p = PointAssessment {
            time_s: time_s + 300.0,
            time_sigma_s: 1.0,
            geodetic: Geodetic {
                latitude_deg: lat,
                longitude_deg: 40.0,
                height_m: 0.0,
            },
            covariance_en_m2: cov,
            ellipse: Ellipse95::from_covariance(&cov),
        };
        Assessment {
            time_s,
            impact: p,
            launch: p,
            apogee_height_m: 3e5,
            apogee_time_s: time_s,
            time_to_impact_s: 300.0,
        }
    }

    #[test]
    fn issue_rule_by_hand() {
        let epoch = OffsetDateTime::UNIX_EPOCH;
        let mut w = WarningIssuer::new("xx", "site1", "r1", true, WarningRule::default(), epoch);
        let first = w
            .consider(7, &assessment(10.0, 1000.0, 41.0))
            .unwrap()
            .unwrap();
        assert_eq!(
            (first.sequence, first.warning.as_str()),
            (1, "xx.site1.r1.7")
        );
        // Too soon.
        assert!(
            w.consider(7, &assessment(10.5, 500.0, 41.0))
                .unwrap()
                .is_none()
        );
        // Same ellipse 2 s later: not due.
        assert!(
            w.consider(7, &assessment(12.0, 950.0, 41.0))
                .unwrap()
                .is_none()
        );
        // Shrunk by 15%: update.
        assert_eq!(
            w.consider(7, &assessment(13.0, 850.0, 41.0))
                .unwrap()
                .unwrap()
                .sequence,
            2
        );
        // Moved 1.1 km (0.01 deg of latitude) against 0.25 x 2.08 km: update.
        assert_eq!(
            w.consider(7, &assessment(14.0, 850.0, 41.01))
                .unwrap()
                .unwrap()
                .sequence,
            3
        );
        // Unchanged but 5 s on: update.
        assert!(
            w.consider(7, &assessment(18.0, 850.0, 41.01))
                .unwrap()
                .is_none()
        );
        assert_eq!(
            w.consider(7, &assessment(19.0, 850.0, 41.01))
                .unwrap()
                .unwrap()
                .sequence,
            4
        );
        // JSON field names of §7.
        let v = serde_json::to_value(&first).unwrap();
        for k in [
            "warning",
            "sequence",
            "track",
            "time_utc",
            "exercise",
            "launch",
            "impact",
            "time_to_impact_s",
            "apogee_height_m",
        ] {
            assert!(v.get(k).is_some(), "{k}");
        }
        for k in [
            "time_utc",
            "time_sigma_s",
            "latitude_deg",
            "longitude_deg",
            "ellipse_95",
        ] {
            assert!(v["impact"].get(k).is_some(), "{k}");
        }
        for k in ["semi_major_m", "semi_minor_m", "orientation_deg"] {
            assert!(v["impact"]["ellipse_95"].get(k).is_some(), "{k}");
        }
        assert_eq!(v["impact"]["time_utc"], "1970-01-01T00:05:10Z");
        assert!(utc_at(epoch, f64::NAN).is_err());
        assert!(utc_at(epoch, 1e300).is_err());
    }
}
