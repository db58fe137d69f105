//! The watch officer's picture: warnings (and tracks) on a latitude /
//! longitude graticule (`tews view --warnings W.jsonl --png OUT.png`).
//!
//! Drawn, on a [`WIDTH_PX`] x [`HEIGHT_PX`] picture: the site (a black
//! square) when known; each track's ground path from the tracks file (grey);
//! per warning, every issue's impact ellipse from light to dark red, so the
//! shrinking is visible, the last one thick with the impact point, and the
//! last launch ellipse in blue with the launch point; the predicted times
//! beside the points; a km scale bar and degree axes. The projection is
//! equirectangular about the middle latitude (east scaled by its cosine), so
//! a kilometre is the same length across and up; at the scales of a launch
//! (a few hundred km) the distortion is well under 1%.
//!
//! Ellipses are drawn on the local tangent plane of their centre and put on
//! the map by the same small-offset rule (metres north over the meridian
//! radius, east over the parallel's), 72 points each. An ellipse smaller
//! than a pixel is drawn as a ring of [`MIN_ELLIPSE_PX`] so the point shows.

use std::path::Path;

use image::Rgb;

use super::axis::nice_ticks;
use super::canvas::{Canvas, Direction, HAlign, VAlign};
use super::{ViewError, write_png};
use crate::assess::warning::WarningPoint;

/// Picture width, pixels.
pub const WIDTH_PX: u32 = 1000;
/// Picture height, pixels.
pub const HEIGHT_PX: u32 = 700;
/// Smallest drawn ellipse radius, pixels.
pub const MIN_ELLIPSE_PX: f64 = 3.0;

const MAP_LEFT: f64 = 80.0;
const MAP_TOP: f64 = 50.0;
const MAP_W: f64 = 880.0;
const MAP_H: f64 = 580.0;
const WHITE: Rgb<u8> = Rgb([255, 255, 255]);
const INK: Rgb<u8> = Rgb([20, 20, 20]);
const GRID: Rgb<u8> = Rgb([222, 222, 222]);
const PATH: Rgb<u8> = Rgb([120, 120, 120]);
const LAUNCH: Rgb<u8> = Rgb([30, 80, 200]);
const EARTH_RADIUS_M: f64 = 6_371_000.0;

/// One warning's issues, oldest first (the §7 lines of one `warning` id).
#[derive(Debug, Clone)]
pub struct WarningIssues {
    /// The warning id.
    pub warning: String,
    /// Impact of each issue.
    pub impacts: Vec<WarningPoint>,
    /// Launch of each issue.
    pub launches: Vec<WarningPoint>,
}

/// What to draw.
#[derive(Debug, Clone, Default)]
pub struct Situation {
    /// Site position (latitude, longitude), degrees.
    pub site: Option<(f64, f64)>,
    /// Per track, its ground path (latitude, longitude), degrees.
    pub tracks: Vec<Vec<(f64, f64)>>,
    /// The warnings.
    pub warnings: Vec<WarningIssues>,
    /// Title line.
    pub title: String,
}

/// Points of an ellipse (semi-axes m, orientation deg clockwise from
/// north) centred at `(lat, lon)`, as (lat, lon) degrees.
fn ellipse_points(p: &WarningPoint, n: usize) -> Vec<(f64, f64)> {
    let e = &p.ellipse_95;
    let (s, c) = e.orientation_deg.to_radians().sin_cos();
    let coslat = p.latitude_deg.to_radians().cos().max(1e-6);
    (0..=n)
        .map(|k| {
            let phi = std::f64::consts::TAU * k as f64 / n as f64;
            let (a, b) = (e.semi_major_m * phi.cos(), e.semi_minor_m * phi.sin());
            // Major axis along (sin, cos) in (east, north).
            let (east, north) = (a * s - b * c, a * c + b * s);
            (
                p.latitude_deg + (north / EARTH_RADIUS_M).to_degrees(),
                p.longitude_deg + (east / (EARTH_RADIUS_M * coslat)).to_degrees(),
            )
        })
        .collect()
}

/// The map's frame: degrees to pixels.
struct Frame {
    lat0: f64,
    lon0: f64,
    /// Pixels per degree of latitude.
    ppd: f64,
    coslat: f64,
}

impl Frame {
    fn fit(points: &[(f64, f64)]) -> Frame {
        let (mut la0, mut la1, mut lo0, mut lo1) = (90.0f64, -90.0f64, 540.0f64, -540.0f64);
        for &(la, lo) in points.iter().filter(|p| p.0.is_finite() && p.1.is_finite()) {
            la0 = la0.min(la);
            la1 = la1.max(la);
            lo0 = lo0.min(lo);
            lo1 = lo1.max(lo);
        }
        if la0 > la1 {
            (la0, la1, lo0, lo1) = (-1.0, 1.0, -1.0, 1.0);
        }
        let mid = 0.5 * (la0 + la1);
        let coslat = mid.to_radians().cos().max(0.05);
        // 8% margin, at least 0.05 deg.
        let span_lat = ((la1 - la0) * 1.16).max(0.1);
        let span_lon = ((lo1 - lo0) * 1.16).max(0.1 / coslat);
        let ppd = (MAP_H / span_lat).min(MAP_W / (span_lon * coslat));
        Frame {
            lat0: mid,
            lon0: 0.5 * (lo0 + lo1),
            ppd,
            coslat,
        }
    }

    fn px(&self, (lat, lon): (f64, f64)) -> (f64, f64) {
        (
            MAP_LEFT + MAP_W / 2.0 + (lon - self.lon0) * self.coslat * self.ppd,
            MAP_TOP + MAP_H / 2.0 - (lat - self.lat0) * self.ppd,
        )
    }

    /// Visible latitude range and longitude range.
    fn bounds(&self) -> ((f64, f64), (f64, f64)) {
        let half_lat = MAP_H / 2.0 / self.ppd;
        let half_lon = MAP_W / 2.0 / (self.ppd * self.coslat);
        (
            (self.lat0 - half_lat, self.lat0 + half_lat),
            (self.lon0 - half_lon, self.lon0 + half_lon),
        )
    }

    fn metres_per_px(&self) -> f64 {
        (1.0f64).to_radians() * EARTH_RADIUS_M / self.ppd
    }
}

fn inside((x, y): (f64, f64)) -> bool {
    (MAP_LEFT..=MAP_LEFT + MAP_W).contains(&x) && (MAP_TOP..=MAP_TOP + MAP_H).contains(&y)
}

fn polyline(canvas: &mut Canvas, f: &Frame, pts: &[(f64, f64)], width: f64, colour: Rgb<u8>) {
    for w in pts.windows(2) {
        let (a, b) = (f.px(w[0]), f.px(w[1]));
        if inside(a) || inside(b) {
            canvas.line(a, b, width, colour);
        }
    }
}

fn draw_ellipse(canvas: &mut Canvas, f: &Frame, p: &WarningPoint, width: f64, colour: Rgb<u8>) {
    let centre = f.px((p.latitude_deg, p.longitude_deg));
    if p.ellipse_95.semi_major_m / f.metres_per_px() < MIN_ELLIPSE_PX {
        canvas.ring(centre.0, centre.1, MIN_ELLIPSE_PX, width, colour);
    } else {
        polyline(canvas, f, &ellipse_points(p, 72), width, colour);
    }
}

/// The largest 1-2-5 number not above `x` (`x` itself when not positive
/// and finite).
fn nice_step_below(x: f64) -> f64 {
    if !(x.is_finite() && x > 0.0) {
        return x;
    }
    let magnitude = 10f64.powf(x.log10().floor());
    [5.0, 2.0, 1.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s <= x)
        .unwrap_or(magnitude)
}

/// A label beside a point: to its right, or to its left near the right edge.
fn label(canvas: &mut Canvas, text: &str, (x, y): (f64, f64), colour: Rgb<u8>) {
    let width = f64::from(canvas.text_width(text, 13.0));
    let (x, align) = if x + 8.0 + width > MAP_LEFT + MAP_W {
        (x - 8.0, HAlign::Right)
    } else {
        (x + 8.0, HAlign::Left)
    };
    canvas.text(
        text,
        x,
        y - 8.0,
        13.0,
        colour,
        (align, VAlign::Middle),
        Direction::Horizontal,
    );
}

fn hhmmss(t: time::OffsetDateTime) -> String {
    format!("{:02}:{:02}:{:02}Z", t.hour(), t.minute(), t.second())
}

/// Draws `s` and writes it to `path` as PNG.
pub fn render_situation(s: &Situation, path: &Path) -> Result<(), ViewError> {
    let mut canvas = Canvas::new(WIDTH_PX, HEIGHT_PX, WHITE).ok_or(ViewError::Font)?;
    // Fit: site, paths, and every point with its first (largest) ellipses.
    let mut pts: Vec<(f64, f64)> = s.site.into_iter().collect();
    pts.extend(s.tracks.iter().flatten().copied());
    for w in &s.warnings {
        for p in w
            .impacts
            .iter()
            .chain(&w.launches)
            .take(2 * w.impacts.len())
        {
            pts.push((p.latitude_deg, p.longitude_deg));
        }
        for p in w.impacts.first().into_iter().chain(w.launches.last()) {
            pts.extend(ellipse_points(p, 8));
        }
    }
    let f = Frame::fit(&pts);
    // Graticule and axes.
    let ((la0, la1), (lo0, lo1)) = f.bounds();
    for (lat, text) in nice_ticks(la0, la1, 8, 0.0) {
        let (_, y) = f.px((lat, f.lon0));
        canvas.line((MAP_LEFT, y), (MAP_LEFT + MAP_W, y), 1.0, GRID);
        canvas.text(
            &format!("{text}°"),
            MAP_LEFT - 6.0,
            y,
            13.0,
            INK,
            (HAlign::Right, VAlign::Middle),
            Direction::Horizontal,
        );
    }
    for (lon, text) in nice_ticks(lo0, lo1, 10, 0.0) {
        let (x, _) = f.px((f.lat0, lon));
        canvas.line((x, MAP_TOP), (x, MAP_TOP + MAP_H), 1.0, GRID);
        canvas.text(
            &format!("{text}°"),
            x,
            MAP_TOP + MAP_H + 6.0,
            13.0,
            INK,
            (HAlign::Center, VAlign::Top),
            Direction::Horizontal,
        );
    }
    canvas.stroke_rect(
        MAP_LEFT as i64 - 1,
        MAP_TOP as i64 - 1,
        MAP_W as i64 + 2,
        MAP_H as i64 + 2,
        INK,
    );
    canvas.text(
        "Longitude [deg E]",
        MAP_LEFT + MAP_W / 2.0,
        MAP_TOP + MAP_H + 26.0,
        14.0,
        INK,
        (HAlign::Center, VAlign::Top),
        Direction::Horizontal,
    );
    canvas.text(
        "Latitude [deg N]",
        22.0,
        MAP_TOP + MAP_H / 2.0,
        14.0,
        INK,
        (HAlign::Center, VAlign::Middle),
        Direction::Up,
    );
    canvas.text(
        &s.title,
        MAP_LEFT,
        16.0,
        16.0,
        INK,
        (HAlign::Left, VAlign::Top),
        Direction::Horizontal,
    );
    // Scale bar: a round number of km near a fifth of the map width.
    let m_per_px = f.metres_per_px();
    let target_km = MAP_W / 5.0 * m_per_px / 1e3;
    let step = nice_step_below(target_km);
    let bar_px = step * 1e3 / m_per_px;
    let (bx, by) = (MAP_LEFT + MAP_W - 20.0 - bar_px, MAP_TOP + MAP_H - 20.0);
    canvas.fill_rect(bx as i64, by as i64, bar_px.round() as i64, 4, INK);
    canvas.text(
        &format!("{step} km"),
        bx + bar_px / 2.0,
        by - 4.0,
        13.0,
        INK,
        (HAlign::Center, VAlign::Middle),
        Direction::Horizontal,
    );
    // Tracks.
    for path in &s.tracks {
        polyline(&mut canvas, &f, path, 1.5, PATH);
    }
    // Warnings: every issue's impact ellipse, light to dark.
    for w in &s.warnings {
        let n = w.impacts.len();
        for (i, p) in w.impacts.iter().enumerate() {
            let shade = if n > 1 {
                i as f64 / (n - 1) as f64
            } else {
                1.0
            };
            let colour = Rgb([
                (250.0 - 60.0 * shade) as u8,
                (200.0 * (1.0 - shade) + 20.0) as u8,
                (200.0 * (1.0 - shade) + 20.0) as u8,
            ]);
            let last = i + 1 == n;
            draw_ellipse(&mut canvas, &f, p, if last { 2.5 } else { 1.0 }, colour);
        }
        if let Some(p) = w.impacts.last() {
            let at = f.px((p.latitude_deg, p.longitude_deg));
            canvas.ring(at.0, at.1, 1.5, 3.0, Rgb([190, 20, 20]));
            label(
                &mut canvas,
                &format!(
                    "impact {} ±{:.1} s, 95% {:.2} x {:.2} km ({} issues)",
                    hhmmss(p.time_utc),
                    p.time_sigma_s,
                    p.ellipse_95.semi_major_m / 1e3,
                    p.ellipse_95.semi_minor_m / 1e3,
                    n
                ),
                at,
                Rgb([160, 0, 0]),
            );
        }
        if let Some(p) = w.launches.last() {
            draw_ellipse(&mut canvas, &f, p, 2.0, LAUNCH);
            let at = f.px((p.latitude_deg, p.longitude_deg));
            canvas.ring(at.0, at.1, 1.5, 3.0, LAUNCH);
            label(
                &mut canvas,
                &format!(
                    "launch {} ±{:.1} s, 95% {:.1} x {:.1} km",
                    hhmmss(p.time_utc),
                    p.time_sigma_s,
                    p.ellipse_95.semi_major_m / 1e3,
                    p.ellipse_95.semi_minor_m / 1e3
                ),
                at,
                LAUNCH,
            );
        }
    }
    if let Some(site) = s.site {
        let (x, y) = f.px(site);
        canvas.fill_rect(x as i64 - 4, y as i64 - 4, 9, 9, INK);
        label(&mut canvas, "site", (x, y), INK);
    }
    write_png(&canvas.img, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assess::Ellipse95;

    #[test]
    fn scale_bar_steps_are_round_and_not_longer_than_asked() {
        assert_eq!(nice_step_below(173.0), 100.0);
        assert_eq!(nice_step_below(260.0), 200.0);
        assert_eq!(nice_step_below(0.7), 0.5);
        assert_eq!(nice_step_below(50.0), 50.0);
    }

    #[test]
    fn ellipse_points_lie_on_the_ellipse() {
        let p = WarningPoint {
            time_utc: time::OffsetDateTime::UNIX_EPOCH,
            time_sigma_s: 1.0,
            latitude_deg: 40.0,
            longitude_deg: 37.0,
            ellipse_95: Ellipse95 {
                semi_major_m: 5000.0,
                semi_minor_m: 2000.0,
                orientation_deg: 30.0,
            },
        };
        for (lat, lon) in ellipse_points(&p, 36) {
            let north = (lat - 40.0).to_radians() * EARTH_RADIUS_M;
            let east = (lon - 37.0).to_radians() * EARTH_RADIUS_M * 40f64.to_radians().cos();
            let d2 = p.ellipse_95.mahalanobis2(east, north);
            assert!((d2 - crate::assess::K95.powi(2)).abs() < 1e-6, "{d2}");
        }
    }
}
