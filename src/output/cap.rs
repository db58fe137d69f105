//! Ballistic warnings as OASIS CAP 1.2 alerts (formats.md §7).
//!
//! One [`WarningReport`] becomes one `<alert>` in the namespace
//! `urn:oasis:names:tc:emergency:cap:1.2`, UTF-8, that validates against the
//! OASIS CAP 1.2 schema (tests/cap_alert.rs checks it with two independent
//! XSD validators and reads it back with an independent CAP parser).
//!
//! # Message
//! | CAP element | value |
//! | --- | --- |
//! | `identifier` | `<warning>-<sequence>`, e.g. `nat.site1.r1.12-3` |
//! | `sender` | [`CapContext::sender`] (the site) |
//! | `sent` | the warning's `time_utc` |
//! | `status` | `Exercise` when the warning is an exercise, else `Actual` |
//! | `msgType` | `Alert` for sequence 1, `Update` after |
//! | `scope`, `restriction` | `Restricted`, [`CapContext::releasability`] |
//! | `references` | on an `Update`: `sender,identifier,sent` of the previous issue |
//! | `info` | one: `category` `Security`, `event` [`EVENT`], `urgency` `Immediate`, `severity` `Extreme`, `certainty` (below), `onset` = predicted impact, `expires` (below), `headline`, `description`, `parameter`s, one `area` |
//! | `area` | the 95% impact ellipse as a `polygon` and as a `circle` |
//!
//! # Identifiers
//! CAP 1.2 §3.2.1: `identifier` and `sender` "MUST NOT include spaces, commas
//! or restricted characters (< and &)". The writer refuses (rather than
//! rewrites) a sender or warning id that breaks this, or any whitespace
//! (`references` is whitespace-separated), or a character XML 1.0 cannot
//! carry: a rewritten id could collide with another warning's. Use
//! [`check_cap_token`] when a site is configured, so the error shows at
//! start-up and not at the first warning.
//!
//! # Times
//! CAP 1.2 §3.3.2: `YYYY-MM-DDThh:mm:ss` with a numeric offset; "Z" MUST NOT
//! be used and UTC MUST be written `-00:00`; the schema's pattern has no
//! fractional seconds. Every time is converted to UTC and truncated to the
//! whole second (never later than the true time), years 1 to 9999.
//!
//! # Certainty
//! CAP's certainty is the probability of the event (here: an impact in the
//! area) — `Observed` "determined to have occurred or to be ongoing",
//! `Likely` p > ~50%, `Possible` p <= ~50%. The area is the 95% ellipse, so
//! the impact is in it with probability 0.95 *if* the ellipse is honest:
//! `Likely`. The assessment's 95% rests on a near-linear impact map, true at
//! the errors of a converged track (hundreds of metres, see
//! [`crate::assess`]); an ellipse larger than [`LIKELY_MAX_SEMI_MAJOR_M`]
//! comes from an early or poor track whose 95% has not been measured, so it
//! is only `Possible`. `Observed` is never used: the impact has not happened
//! when the warning goes out.
//!
//! # Expiry
//! `expires` = predicted impact + 3 x its time sigma + [`EXPIRES_AFTER_IMPACT_S`]:
//! past it the warning says nothing a receiver should act on, and a live
//! track is re-issued long before (at least every 5 s by default, see
//! [`crate::assess::warning`]).
//!
//! # Area
//! The polygon has [`POLYGON_VERTICES`] distinct vertices on the 95% ellipse
//! (plus the first repeated to close it), counter-clockwise seen from above,
//! starting at the major axis's end towards `orientation_deg`. The ellipse
//! lives on the tangent plane at the impact point, as in the assessment
//! ([`crate::assess::PointAssessment::mahalanobis2`]): a ground point is
//! inside when its east/north in that ENU frame satisfy the quadratic form.
//! So each vertex is the point *on the ellipsoid* (height 0) whose
//! east/north in the impact's ENU frame are the ellipse point's: the
//! tangent-plane point moved along the impact's up axis onto the ellipsoid
//! (a quadratic in closed form), then converted to latitude/longitude. The
//! vertices are inscribed: between two of them the polygon's edge lies
//! inside the ellipse by at most `1 - cos(180 deg / N)` of the radius (0.4%
//! at N = 36). Coordinates are written with 7 decimals (1.1 cm), longitudes
//! in [-180, 180). The `circle` is the impact point with the semi-major
//! axis, rounded up to the metre, as its radius in km.
//!
//! Not handled: an ellipse over a pole (a latitude/longitude polygon around
//! a pole means something else to a receiver), and an ellipse across the
//! antimeridian is written as one polygon whose longitudes jump from 180 to
//! -180, which CAP 1.2 does not define; receivers may draw it the long way
//! round. Both are checked in tests only as far as the vertices go.
//!
//! # State
//! [`alert_xml`] is stateless: the caller passes the previous issue of an
//! update. [`CapWriter`] keeps, per warning, the last issue it wrote and
//! passes it, so a caller that writes every issue in order needs nothing
//! else. XML is written by hand: a handful of fixed elements and one escape
//! function ([`escape_xml`]) do not justify an XML crate.

use std::collections::HashMap;
use std::fmt::Write as _;

use nalgebra::Vector3;
use time::{Duration, OffsetDateTime, UtcOffset};

use crate::assess::Ellipse95;
use crate::assess::warning::{WarningPoint, WarningReport};
use crate::geo::{Geodetic, LocalFrame, WGS84_A_M, WGS84_F};

/// The CAP 1.2 namespace.
pub const CAP_NAMESPACE: &str = "urn:oasis:names:tc:emergency:cap:1.2";
/// The `event` of every warning.
pub const EVENT: &str = "Ballistic missile impact warning";
/// Largest impact semi-major axis for `certainty` `Likely`, m (module docs).
pub const LIKELY_MAX_SEMI_MAJOR_M: f64 = 20_000.0;
/// `expires` is this long after the predicted impact plus 3 time sigmas, s.
pub const EXPIRES_AFTER_IMPACT_S: f64 = 600.0;
/// Distinct vertices of the impact polygon.
pub const POLYGON_VERTICES: usize = 36;

/// Why a warning cannot be written as CAP.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CapError {
    /// A sender or identifier CAP forbids.
    #[error("CAP {what} {value:?}: {why}")]
    BadToken {
        /// `sender` or `identifier`.
        what: &'static str,
        /// The value.
        value: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// A text XML 1.0 cannot carry (a control character).
    #[error("CAP {what}: contains a character XML 1.0 cannot carry")]
    BadText {
        /// The field.
        what: &'static str,
    },
    /// A number out of range or not finite.
    #[error("CAP: {what} = {value} is not usable")]
    BadValue {
        /// The field.
        what: &'static str,
        /// Its value.
        value: f64,
    },
    /// A time CAP cannot write (outside years 1-9999 or overflowing).
    #[error("CAP: {what} is out of the representable range")]
    BadTime {
        /// The field.
        what: &'static str,
    },
    /// An update without the previous issue, or a first issue with one, or
    /// an issue that does not come after the previous one.
    #[error("CAP: warning {warning} sequence {sequence}: {why}")]
    Sequence {
        /// The warning id.
        warning: String,
        /// Its sequence.
        sequence: u32,
        /// What is wrong.
        why: &'static str,
    },
}

/// What the writer needs beyond the warning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapContext {
    /// CAP `sender`: the site, globally unique (e.g. `site1.radar.example`);
    /// no whitespace, commas, `<` or `&`.
    pub sender: String,
    /// CAP `restriction`: who may receive it (e.g. `partners: A, B`); any text.
    pub releasability: String,
}

/// An earlier message as CAP `references` names it: `sender,identifier,sent`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapReference {
    /// Its `sender`.
    pub sender: String,
    /// Its `identifier`.
    pub identifier: String,
    /// Its `sent` (written truncated to the second, as in the message).
    pub sent: OffsetDateTime,
}

impl CapReference {
    /// `sender,identifier,sent`.
    pub fn to_cap(&self) -> Result<String, CapError> {
        Ok(format!(
            "{},{},{}",
            self.sender,
            self.identifier,
            cap_datetime(self.sent, "references")?
        ))
    }
}

/// One written alert.
#[derive(Debug, Clone, PartialEq)]
pub struct CapAlert {
    /// Its `identifier`.
    pub identifier: String,
    /// Its file name ([`file_name`]).
    pub file_name: String,
    /// The document, UTF-8 XML.
    pub xml: String,
    /// How later updates refer to it.
    pub reference: CapReference,
}

/// Writes each warning's issues in order, each update referring to the
/// issue before it (module docs, "State").
#[derive(Debug, Clone)]
pub struct CapWriter {
    context: CapContext,
    last: HashMap<String, (u32, CapReference)>,
}

impl CapWriter {
    /// A writer for `context`; its sender is checked here.
    pub fn new(context: CapContext) -> Result<Self, CapError> {
        check_cap_token("sender", &context.sender)?;
        check_text("restriction", &context.releasability)?;
        Ok(CapWriter {
            context,
            last: HashMap::new(),
        })
    }

    /// The alert for `report`: `Alert` for sequence 1, else an `Update`
    /// referring to the last issue of the same warning written here (an
    /// error if there is none, or if `report` does not come after it).
    pub fn write(&mut self, report: &WarningReport) -> Result<CapAlert, CapError> {
        let previous = if report.sequence <= 1 {
            None
        } else {
            match self.last.get(&report.warning) {
                None => {
                    return Err(sequence_error(
                        report,
                        "an update, but no earlier issue of this warning was written",
                    ));
                }
                Some((seq, _)) if *seq >= report.sequence => {
                    return Err(sequence_error(
                        report,
                        "does not come after the last issue written",
                    ));
                }
                Some((_, r)) => Some(r),
            }
        };
        let xml = alert_xml(&self.context, report, previous)?;
        let identifier = identifier(report)?;
        let reference = CapReference {
            sender: self.context.sender.clone(),
            identifier: identifier.clone(),
            sent: report.time_utc,
        };
        self.last
            .insert(report.warning.clone(), (report.sequence, reference.clone()));
        Ok(CapAlert {
            identifier,
            file_name: file_name(report),
            xml,
            reference,
        })
    }

    /// Forgets a warning (its track ended), so the writer's memory stays
    /// bounded; a later update of it is then refused.
    pub fn forget(&mut self, warning: &str) {
        self.last.remove(warning);
    }
}

fn sequence_error(report: &WarningReport, why: &'static str) -> CapError {
    CapError::Sequence {
        warning: report.warning.clone(),
        sequence: report.sequence,
        why,
    }
}

/// Checks a CAP `sender` or `identifier` (module docs, "Identifiers").
pub fn check_cap_token(what: &'static str, value: &str) -> Result<(), CapError> {
    let bad = |why| {
        Err(CapError::BadToken {
            what,
            value: value.to_owned(),
            why,
        })
    };
    if value.is_empty() {
        return bad("is empty");
    }
    if value.chars().any(char::is_whitespace) {
        return bad("contains whitespace");
    }
    if value.contains(',') {
        return bad("contains a comma");
    }
    if value.contains(['<', '&']) {
        return bad("contains a restricted character (< or &)");
    }
    if !value.chars().all(xml_char) {
        return bad("contains a character XML 1.0 cannot carry");
    }
    Ok(())
}

/// The CAP `identifier` of a warning issue: `<warning>-<sequence>`, checked.
pub fn identifier(report: &WarningReport) -> Result<String, CapError> {
    let id = format!("{}-{}", report.warning, report.sequence);
    check_cap_token("identifier", &id)?;
    Ok(id)
}

/// The file an issue is saved as: `<warning>-<sequence>.xml`, with every
/// character other than ASCII letters, digits, `.`, `_` and `-` (and a
/// leading `.`) replaced by `_`, so it is one plain file name on any system.
pub fn file_name(report: &WarningReport) -> String {
    let mut name: String = format!("{}-{}", report.warning, report.sequence)
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name.starts_with('.') {
        name.replace_range(0..1, "_");
    }
    name + ".xml"
}

/// A character XML 1.0 allows (`Char` production).
fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

fn check_text(what: &'static str, s: &str) -> Result<(), CapError> {
    if s.chars().all(xml_char) {
        Ok(())
    } else {
        Err(CapError::BadText { what })
    }
}

/// `s` as XML character data or attribute value: `& < > " '` escaped.
pub fn escape_xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// CAP 1.2 date-time: UTC, whole seconds (truncated), `-00:00`.
pub fn cap_datetime(t: OffsetDateTime, what: &'static str) -> Result<String, CapError> {
    let t = t.to_offset(UtcOffset::UTC);
    if !(1..=9999).contains(&t.year()) {
        return Err(CapError::BadTime { what });
    }
    Ok(format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}-00:00",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    ))
}

/// CAP `certainty` of an impact ellipse (module docs, "Certainty").
pub fn certainty(impact: &Ellipse95) -> &'static str {
    if impact.semi_major_m <= LIKELY_MAX_SEMI_MAJOR_M {
        "Likely"
    } else {
        "Possible"
    }
}

/// `expires` of a warning (module docs, "Expiry").
pub fn expires(report: &WarningReport) -> Result<OffsetDateTime, CapError> {
    let s = 3.0 * report.impact.time_sigma_s + EXPIRES_AFTER_IMPACT_S;
    Duration::checked_seconds_f64(s)
        .and_then(|d| report.impact.time_utc.checked_add(d))
        .ok_or(CapError::BadTime { what: "expires" })
}

/// Longitude in [-180, 180).
pub fn normalize_longitude(lon_deg: f64) -> f64 {
    (lon_deg + 180.0).rem_euclid(360.0) - 180.0
}

fn finite(what: &'static str, value: f64) -> Result<f64, CapError> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(CapError::BadValue { what, value })
    }
}

fn check_point(what: [&'static str; 5], p: &WarningPoint) -> Result<(), CapError> {
    let lat = finite(what[0], p.latitude_deg)?;
    if !(-90.0..=90.0).contains(&lat) {
        return Err(CapError::BadValue {
            what: what[0],
            value: lat,
        });
    }
    finite(what[1], p.longitude_deg)?;
    let e = &p.ellipse_95;
    let b = finite(what[2], e.semi_minor_m)?;
    let a = finite(what[3], e.semi_major_m)?;
    if b <= 0.0 {
        return Err(CapError::BadValue {
            what: what[2],
            value: b,
        });
    }
    if a < b {
        return Err(CapError::BadValue {
            what: what[3],
            value: a,
        });
    }
    finite(what[4], e.orientation_deg)?;
    let s = p.time_sigma_s;
    if !(s.is_finite() && s >= 0.0) {
        return Err(CapError::BadValue {
            what: "time_sigma_s",
            value: s,
        });
    }
    Ok(())
}

/// The 95% ellipse around `centre` as closed polygon vertices (latitude,
/// longitude in deg, longitude in [-180, 180)): [`POLYGON_VERTICES`] + 1
/// points, the last equal to the first (module docs, "Area").
pub fn ellipse_polygon(
    centre_lat_deg: f64,
    centre_lon_deg: f64,
    ellipse: &Ellipse95,
) -> Vec<(f64, f64)> {
    let frame = LocalFrame::new(Geodetic {
        latitude_deg: centre_lat_deg,
        longitude_deg: centre_lon_deg,
        height_m: 0.0,
    });
    let up = frame.rotate_to_ecef(&Vector3::new(0.0, 0.0, 1.0));
    let (st, ct) = ellipse.orientation_deg.to_radians().sin_cos();
    // Major axis towards azimuth theta: (east, north) = (sin, cos); minor
    // axis 90 deg to its left (azimuth theta - 90): (-cos, sin).
    let mut points: Vec<(f64, f64)> = (0..POLYGON_VERTICES)
        .map(|k| {
            let t = std::f64::consts::TAU * k as f64 / POLYGON_VERTICES as f64;
            let (u, v) = (
                ellipse.semi_major_m * t.cos(),
                ellipse.semi_minor_m * t.sin(),
            );
            let east = u * st - v * ct;
            let north = u * ct + v * st;
            let x0 = frame.enu_to_ecef(&Vector3::new(east, north, 0.0));
            let g = Geodetic::from_ecef(&onto_ellipsoid(&x0, &up));
            (g.latitude_deg, normalize_longitude(g.longitude_deg))
        })
        .collect();
    points.push(points[0]);
    points
}

/// The point `x0 + s up` on the WGS-84 ellipsoid with the smallest `|s|`:
/// `(x^2 + y^2) / a^2 + z^2 / b^2 = 1` is a quadratic in `s`.
fn onto_ellipsoid(x0: &Vector3<f64>, up: &Vector3<f64>) -> Vector3<f64> {
    let a2 = WGS84_A_M * WGS84_A_M;
    let b = WGS84_A_M * (1.0 - WGS84_F);
    let b2 = b * b;
    let qa = (up.x * up.x + up.y * up.y) / a2 + up.z * up.z / b2;
    let qb = 2.0 * ((x0.x * up.x + x0.y * up.y) / a2 + x0.z * up.z / b2);
    let qc = (x0.x * x0.x + x0.y * x0.y) / a2 + x0.z * x0.z / b2 - 1.0;
    // Stable roots: q = -(B + sign(B) sqrt(D)) / 2, s = C / q (the small one).
    let d = (qb * qb - 4.0 * qa * qc).max(0.0);
    let q = -0.5 * (qb + qb.signum() * d.sqrt());
    let s = if q == 0.0 { 0.0 } else { qc / q };
    x0 + s * up
}

fn fmt_deg(x: f64) -> String {
    let s = format!("{x:.7}");
    // No "-0.0000000".
    if s.trim_start_matches('-')
        .bytes()
        .all(|c| c == b'0' || c == b'.')
    {
        s.trim_start_matches('-').to_owned()
    } else {
        s
    }
}

/// `lat,lon lat,lon ...` of [`ellipse_polygon`].
fn polygon_text(points: &[(f64, f64)]) -> String {
    points
        .iter()
        .map(|(lat, lon)| format!("{},{}", fmt_deg(*lat), fmt_deg(*lon)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `<name>value</name>` on its own line, `value` escaped.
fn push(x: &mut String, indent: usize, name: &str, value: &str) {
    let _ = writeln!(x, "{:indent$}<{name}>{}</{name}>", "", escape_xml(value));
}

fn hemis(lat: f64, lon: f64) -> String {
    format!(
        "{:.4} {}, {:.4} {}",
        lat.abs(),
        if lat < 0.0 { 'S' } else { 'N' },
        lon.abs(),
        if lon < 0.0 { 'W' } else { 'E' }
    )
}

fn utc_words(t: OffsetDateTime) -> Result<String, CapError> {
    let s = cap_datetime(t, "time")?;
    Ok(format!("{} {} UTC", &s[..10], &s[11..19]))
}

/// The CAP 1.2 document of `report` (module docs). `previous` is the issue
/// an `Update` (sequence > 1) refers to; it must be `None` for sequence 1.
pub fn alert_xml(
    ctx: &CapContext,
    report: &WarningReport,
    previous: Option<&CapReference>,
) -> Result<String, CapError> {
    check_cap_token("sender", &ctx.sender)?;
    check_text("restriction", &ctx.releasability)?;
    let identifier = identifier(report)?;
    let references = match (report.sequence, previous) {
        (0, _) => return Err(sequence_error(report, "sequences start at 1")),
        (1, None) => None,
        (1, Some(_)) => {
            return Err(sequence_error(
                report,
                "a first issue refers to no earlier one",
            ));
        }
        (_, None) => {
            return Err(sequence_error(
                report,
                "an update needs the previous issue to refer to",
            ));
        }
        (_, Some(p)) => {
            check_cap_token("sender", &p.sender)?;
            check_cap_token("identifier", &p.identifier)?;
            Some(p.to_cap()?)
        }
    };
    check_point(
        [
            "impact.latitude_deg",
            "impact.longitude_deg",
            "impact.ellipse_95.semi_minor_m",
            "impact.ellipse_95.semi_major_m",
            "impact.ellipse_95.orientation_deg",
        ],
        &report.impact,
    )?;
    check_point(
        [
            "launch.latitude_deg",
            "launch.longitude_deg",
            "launch.ellipse_95.semi_minor_m",
            "launch.ellipse_95.semi_major_m",
            "launch.ellipse_95.orientation_deg",
        ],
        &report.launch,
    )?;
    finite("time_to_impact_s", report.time_to_impact_s)?;
    finite("apogee_height_m", report.apogee_height_m)?;

    let sent = cap_datetime(report.time_utc, "sent")?;
    let onset = cap_datetime(report.impact.time_utc, "onset")?;
    let expires = cap_datetime(expires(report)?, "expires")?;
    let launch_time = cap_datetime(report.launch.time_utc, "launch.time_utc")?;
    let (i, l) = (&report.impact, &report.launch);
    let (ilat, ilon) = (i.latitude_deg, normalize_longitude(i.longitude_deg));
    let (llat, llon) = (l.latitude_deg, normalize_longitude(l.longitude_deg));
    let ie = &i.ellipse_95;
    let le = &l.ellipse_95;
    let exercise = if report.exercise { "EXERCISE. " } else { "" };
    let kind = if report.sequence == 1 {
        "first issue".to_owned()
    } else {
        format!("update, issue {}", report.sequence)
    };

    let headline = format!(
        "{exercise}Ballistic missile impact predicted at {} near {}",
        utc_words(i.time_utc)?,
        hemis(ilat, ilon)
    );
    let description = format!(
        "{exercise}Track {track} ({warning}, {kind}) is ballistic. Predicted impact at {it} \
         (1-sigma {its:.1} s), {tti:.0} s after this assessment at {at}, at {ipos}: with 95% \
         probability within an ellipse of semi-axes {ia:.1} km by {ib:.1} km, the long axis \
         {io:.0} deg clockwise from north. Estimated launch at {lt} (1-sigma {lts:.1} s) from \
         {lpos}, 95% ellipse {la:.1} km by {lb:.1} km, long axis {lo:.0} deg from north. \
         Apogee {ap:.0} km.",
        track = report.track,
        warning = report.warning,
        it = utc_words(i.time_utc)?,
        its = i.time_sigma_s,
        tti = report.time_to_impact_s,
        at = utc_words(report.time_utc)?,
        ipos = hemis(ilat, ilon),
        ia = ie.semi_major_m / 1e3,
        ib = ie.semi_minor_m / 1e3,
        io = ie.orientation_deg,
        lt = utc_words(l.time_utc)?,
        lts = l.time_sigma_s,
        lpos = hemis(llat, llon),
        la = le.semi_major_m / 1e3,
        lb = le.semi_minor_m / 1e3,
        lo = le.orientation_deg,
        ap = report.apogee_height_m / 1e3,
    );
    // A point's parameters: time, its sigma, position and 95% ellipse.
    let point = |name: &str, time: &str, p: &WarningPoint, lat: f64, lon: f64| {
        let e = &p.ellipse_95;
        [
            ("time_utc", time.to_string()),
            ("time_sigma_s", format!("{:.1}", p.time_sigma_s)),
            ("latitude_deg", fmt_deg(lat)),
            ("longitude_deg", fmt_deg(lon)),
            ("ellipse_95.semi_major_m", format!("{:.0}", e.semi_major_m)),
            ("ellipse_95.semi_minor_m", format!("{:.0}", e.semi_minor_m)),
            (
                "ellipse_95.orientation_deg",
                format!("{:.1}", e.orientation_deg),
            ),
        ]
        .map(|(key, value)| (format!("{name}.{key}"), value))
    };
    let mut parameters: Vec<(String, String)> = vec![
        ("warning".into(), report.warning.clone()),
        ("sequence".into(), report.sequence.to_string()),
        ("track".into(), report.track.to_string()),
        ("time_utc".into(), sent.clone()),
    ];
    parameters.extend(point("launch", &launch_time, l, llat, llon));
    parameters.extend(point("impact", &onset, i, ilat, ilon));
    parameters.extend([
        (
            "time_to_impact_s".into(),
            format!("{:.1}", report.time_to_impact_s),
        ),
        (
            "apogee_height_m".into(),
            format!("{:.0}", report.apogee_height_m),
        ),
    ]);
    let polygon = polygon_text(&ellipse_polygon(ilat, ilon, ie));
    let circle = format!(
        "{},{} {:.3}",
        fmt_deg(ilat),
        fmt_deg(ilon),
        ie.semi_major_m.ceil() / 1e3
    );
    let area_desc = format!(
        "95% impact ellipse of {} issue {}",
        report.warning, report.sequence
    );

    let mut x = String::new();
    x.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(x, "<alert xmlns=\"{CAP_NAMESPACE}\">");
    push(&mut x, 2, "identifier", &identifier);
    push(&mut x, 2, "sender", &ctx.sender);
    push(&mut x, 2, "sent", &sent);
    push(
        &mut x,
        2,
        "status",
        if report.exercise {
            "Exercise"
        } else {
            "Actual"
        },
    );
    push(
        &mut x,
        2,
        "msgType",
        if report.sequence == 1 {
            "Alert"
        } else {
            "Update"
        },
    );
    push(&mut x, 2, "scope", "Restricted");
    push(&mut x, 2, "restriction", &ctx.releasability);
    if let Some(r) = &references {
        push(&mut x, 2, "references", r);
    }
    x.push_str("  <info>\n");
    push(&mut x, 4, "language", "en-US");
    push(&mut x, 4, "category", "Security");
    push(&mut x, 4, "event", EVENT);
    push(&mut x, 4, "urgency", "Immediate");
    push(&mut x, 4, "severity", "Extreme");
    push(&mut x, 4, "certainty", certainty(ie));
    push(&mut x, 4, "onset", &onset);
    push(&mut x, 4, "expires", &expires);
    push(&mut x, 4, "headline", &headline);
    push(&mut x, 4, "description", &description);
    for (name, value) in &parameters {
        x.push_str("    <parameter>\n");
        push(&mut x, 6, "valueName", name);
        push(&mut x, 6, "value", value);
        x.push_str("    </parameter>\n");
    }
    x.push_str("    <area>\n");
    push(&mut x, 6, "areaDesc", &area_desc);
    push(&mut x, 6, "polygon", &polygon);
    push(&mut x, 6, "circle", &circle);
    x.push_str("    </area>\n");
    x.push_str("  </info>\n");
    x.push_str("</alert>\n");
    Ok(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Quadratic form of an ellipse at a ground point (lat, lon) on the
    /// tangent plane at (lat0, lon0).
    fn quadratic_form(lat0: f64, lon0: f64, e: &Ellipse95, lat: f64, lon: f64) -> f64 {
        let frame = LocalFrame::new(Geodetic {
            latitude_deg: lat0,
            longitude_deg: lon0,
            height_m: 0.0,
        });
        let p = frame.ecef_to_enu(
            &Geodetic {
                latitude_deg: lat,
                longitude_deg: lon,
                height_m: 0.0,
            }
            .to_ecef(),
        );
        let (st, ct) = e.orientation_deg.to_radians().sin_cos();
        let along = p.x * st + p.y * ct;
        let across = p.x * ct - p.y * st;
        (along / e.semi_major_m).powi(2) + (across / e.semi_minor_m).powi(2)
    }

    fn ellipse(a: f64, b: f64, o: f64) -> Ellipse95 {
        Ellipse95 {
            semi_major_m: a,
            semi_minor_m: b,
            orientation_deg: o,
        }
    }

    #[test]
    fn polygon_vertices_lie_on_the_ellipse_and_close() {
        for (lat0, lon0) in [
            (41.0, 40.0),
            (-33.9, 151.2),
            (78.2, 15.6),
            (-89.0, 0.0),
            (0.0, 179.99),
            (52.0, -179.95),
        ] {
            for e in [
                ellipse(2_000.0, 800.0, 30.0),
                ellipse(60_000.0, 5_000.0, 135.0),
                ellipse(500.0, 500.0, 0.0),
                ellipse(150_000.0, 40_000.0, 179.0),
            ] {
                let pts = ellipse_polygon(lat0, lon0, &e);
                assert_eq!(pts.len(), POLYGON_VERTICES + 1);
                assert_eq!(pts[0], pts[POLYGON_VERTICES], "closed");
                for (lat, lon) in &pts {
                    assert!((-180.0..180.0).contains(lon), "{lon}");
                    let q = quadratic_form(lat0, lon0, &e, *lat, *lon);
                    assert!((q - 1.0).abs() < 1e-6, "{lat0} {lon0} {e:?}: {q}");
                }
                // Distinct vertices.
                for i in 0..POLYGON_VERTICES {
                    for j in 0..i {
                        assert_ne!(pts[i], pts[j]);
                    }
                }
            }
        }
    }

    #[test]
    fn polygon_orientation_convention() {
        let (lat0, lon0) = (41.0, 40.0);
        let m_per_deg_lat = 111_000.0;
        // Major axis north: first vertex 5 km due north; a quarter round
        // (counter-clockwise) 1 km due west.
        let pts = ellipse_polygon(lat0, lon0, &ellipse(5_000.0, 1_000.0, 0.0));
        let (lat, lon) = pts[0];
        assert!(
            ((lat - lat0) * m_per_deg_lat - 5_000.0).abs() < 30.0,
            "{lat}"
        );
        assert!((lon - lon0).abs() < 1e-9, "{lon}");
        let (lat, lon) = pts[POLYGON_VERTICES / 4];
        assert!((lat - lat0).abs() * m_per_deg_lat < 1.0, "{lat}");
        let west_m = (lon0 - lon) * m_per_deg_lat * lat0.to_radians().cos();
        assert!((west_m - 1_000.0).abs() < 10.0, "{west_m}");
        // Major axis east (90 deg clockwise from north): first vertex east.
        let (lat, lon) = ellipse_polygon(lat0, lon0, &ellipse(5_000.0, 1_000.0, 90.0))[0];
        assert!((lat - lat0).abs() * m_per_deg_lat < 2.0, "{lat}");
        assert!(lon > lon0 + 0.05, "{lon}");
        // Across the antimeridian: longitudes wrapped, both signs present.
        let pts = ellipse_polygon(10.0, 179.99, &ellipse(5_000.0, 2_000.0, 90.0));
        assert!(pts.iter().any(|p| p.1 < -179.9) && pts.iter().any(|p| p.1 > 179.9));
    }

    #[test]
    fn tokens_times_and_escaping() {
        assert!(check_cap_token("identifier", "xx.site1.r1.7-2").is_ok());
        for bad in [
            "", "a b", "a,b", "a<b", "a&b", "a\tb", "a\u{1}b", "a\u{a0}b",
        ] {
            assert!(check_cap_token("identifier", bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            escape_xml("a<b & \"c\" 'd' >"),
            "a&lt;b &amp; &quot;c&quot; &apos;d&apos; &gt;"
        );
        let t = time::macros::datetime!(2026-12-04 12:00:00.999 +02:00);
        assert_eq!(cap_datetime(t, "t").unwrap(), "2026-12-04T10:00:00-00:00");
        let t = time::macros::datetime!(0000-01-01 00:00:00 UTC);
        assert!(cap_datetime(t, "t").is_err());
        assert_eq!(normalize_longitude(180.0), -180.0);
        assert_eq!(normalize_longitude(-190.0), 170.0);
        assert_eq!(normalize_longitude(359.0), -1.0);
        assert_eq!(fmt_deg(-0.00000001), "0.0000000");
        assert_eq!(fmt_deg(-1.5), "-1.5000000");
        assert_eq!(certainty(&ellipse(20_000.0, 1.0, 0.0)), "Likely");
        assert_eq!(certainty(&ellipse(20_001.0, 1.0, 0.0)), "Possible");
    }

    #[test]
    fn file_names_are_plain() {
        let p = WarningPoint {
            time_utc: OffsetDateTime::UNIX_EPOCH,
            time_sigma_s: 1.0,
            latitude_deg: 0.0,
            longitude_deg: 0.0,
            ellipse_95: ellipse(1.0, 1.0, 0.0),
        };
        let mut r = WarningReport {
            warning: "xx.site1.r1.7".into(),
            sequence: 3,
            track: 7,
            time_utc: OffsetDateTime::UNIX_EPOCH,
            exercise: true,
            launch: p,
            impact: p,
            time_to_impact_s: 0.0,
            apogee_height_m: 0.0,
        };
        assert_eq!(file_name(&r), "xx.site1.r1.7-3.xml");
        r.warning = "../a/b c\u{e9}".into();
        assert_eq!(file_name(&r), "_._a_b_c_-3.xml");
    }
}
