//! Range-Doppler map of one CPI as a PNG picture, with that CPI's plots
//! marked: what `tews view` shows an engineer first.
//!
//! Layout (a fixed [`WIDTH_PX`] x [`HEIGHT_PX`] picture):
//! - the map fills [`MAP_AREA`]: range across (near range left, in km from
//!   [`RadarParams::range_m`]), radial velocity up and down (in m/s from
//!   [`RadarParams::radial_velocity_mps`], positive = receding). Doppler bin 0
//!   is the top row, so with a positive carrier receding targets are drawn
//!   high; the tick labels are computed from the parameters either way.
//!   Cell `(r, d)` is centred on the pixel coordinates given by [`map_pixel`].
//! - colour is `10 log10(power)` on viridis, clipped as [`DbScale::of_power`]
//!   says, with a labelled colour bar on the right;
//! - when the map is larger than [`MAP_AREA`], each pixel shows the maximum
//!   power of its cells (a one-cell target never disappears); when smaller,
//!   the nearest cell;
//! - each plot is a white ring with a black rim (colours viridis never uses)
//!   of radius [`MARKER_RADIUS_PX`] centred on its interpolated bins, and the
//!   legend counts the plots.

mod axis;
mod canvas;
mod heatmap;
pub mod situation;

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use image::codecs::png::PngEncoder;
use image::{ExtendedColorType, ImageEncoder, Rgb, RgbImage};

use crate::plots::Plot;
use crate::process::RangeDopplerMap;
use crate::radar::RadarParams;
use axis::{LinearAxis, nice_ticks};
use canvas::{Canvas, Direction, HAlign, VAlign};
pub use heatmap::{BELOW_MEDIAN_DB, DbScale, MAX_SPAN_DB};

/// Picture width, pixels.
pub const WIDTH_PX: u32 = 1000;
/// Picture height, pixels.
pub const HEIGHT_PX: u32 = 640;

/// A rectangle of the picture, pixels from its top-left corner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PixelRect {
    /// First column.
    pub left: u32,
    /// First row.
    pub top: u32,
    /// Columns.
    pub width: u32,
    /// Rows.
    pub height: u32,
}

/// Where the map is drawn: 800 x 512 pixels, so 64 or 128 Doppler bins fill
/// whole pixel rows.
pub const MAP_AREA: PixelRect = PixelRect {
    left: 84,
    top: 64,
    width: 800,
    height: 512,
};

/// Radius of a plot marker ring, pixels (to the middle of its white stroke).
pub const MARKER_RADIUS_PX: f64 = 9.0;

/// What can stop a picture being drawn or written; each message is one line
/// naming the problem (and the file, when there is one).
#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    /// The map has no cells.
    #[error(
        "range-Doppler map is empty ({range_bins} range bins x {doppler_bins} Doppler bins): nothing to draw"
    )]
    EmptyMap {
        /// Range bins the map claims.
        range_bins: usize,
        /// Doppler bins the map claims.
        doppler_bins: usize,
    },
    /// The power vector does not match the stated shape.
    #[error(
        "range-Doppler map holds {len} power values, but {range_bins} range bins x {doppler_bins} Doppler bins need {expected}"
    )]
    ShapeMismatch {
        /// Range bins the map claims.
        range_bins: usize,
        /// Doppler bins the map claims.
        doppler_bins: usize,
        /// `range_bins * doppler_bins` (saturating).
        expected: usize,
        /// Length of the power vector.
        len: usize,
    },
    /// The embedded font did not parse: the build is broken, not the input.
    #[error("the font built into tews cannot be read (broken build)")]
    Font,
    /// A map problem, reported for the PNG it was meant for.
    #[error("cannot draw {}: {source}", path.display())]
    Draw {
        /// The PNG that was to be written.
        path: PathBuf,
        /// What was wrong.
        source: Box<ViewError>,
    },
    /// The output file could not be created.
    #[error("cannot create {}: {source}", path.display())]
    CreateFile {
        /// The PNG that was to be written.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// Encoding or writing the PNG failed part-way.
    #[error("cannot write PNG {}: {source}", path.display())]
    WritePng {
        /// The PNG being written.
        path: PathBuf,
        /// The encoder's or the operating system's reason.
        source: image::ImageError,
    },
}

/// Picture coordinates `(x, y)` of the centre of fractional cell
/// `(range_bin, doppler_bin)` of `map`: cell `i` of `n` spans
/// `[i, i + 1) * size / n` of [`MAP_AREA`], so its centre is
/// `left + (range_bin + 0.5) * width / range_bins` across and
/// `top + (doppler_bin + 0.5) * height / doppler_bins` down.
pub fn map_pixel(map: &RangeDopplerMap, range_bin: f64, doppler_bin: f64) -> (f64, f64) {
    let a = MAP_AREA;
    (
        f64::from(a.left) + (range_bin + 0.5) * f64::from(a.width) / map.range_bins as f64,
        f64::from(a.top) + (doppler_bin + 0.5) * f64::from(a.height) / map.doppler_bins as f64,
    )
}

const BACKGROUND: Rgb<u8> = Rgb([255, 255, 255]);
const INK: Rgb<u8> = Rgb([34, 34, 34]);
const MUTED_INK: Rgb<u8> = Rgb([90, 90, 90]);
const FRAME: Rgb<u8> = Rgb([60, 60, 60]);
const MARKER: Rgb<u8> = Rgb([255, 255, 255]);
const MARKER_RIM: Rgb<u8> = Rgb([0, 0, 0]);

const TITLE_PX: f32 = 18.0;
const LABEL_PX: f32 = 13.0;
const AXIS_TITLE_PX: f32 = 14.0;
const TICK_LEN: i64 = 5;

/// Draws the picture in memory: `map` with `plots` marked, `title` on top
/// (the caller's recording name, CPI index and time). Range comes from
/// `params`, velocity from `params` and `carrier_hz`; when either gives no
/// usable numbers (e.g. a zero carrier) that axis is labelled in bins.
/// Never panics: odd power values (zero, negative, NaN) draw in the bottom
/// colour and plots off the map are counted but not drawn.
pub fn render_rgb(
    map: &RangeDopplerMap,
    params: &RadarParams,
    carrier_hz: f64,
    plots: &[Plot],
    title: &str,
) -> Result<RgbImage, ViewError> {
    check_shape(map)?;
    let mut canvas = Canvas::new(WIDTH_PX, HEIGHT_PX, BACKGROUND).ok_or(ViewError::Font)?;
    let a = MAP_AREA;
    let (left, top) = (i64::from(a.left), i64::from(a.top));
    let (width, height) = (i64::from(a.width), i64::from(a.height));

    // Heatmap.
    let scale = DbScale::of_power(&map.power);
    let lut = colour_table();
    let pixels = heatmap::max_hold(map, a.width as usize, a.height as usize);
    for (i, p) in pixels.iter().enumerate() {
        let (x, y) = ((i % a.width as usize) as i64, (i / a.width as usize) as i64);
        canvas.put(left + x, top + y, lut[lut_index(scale.unit(*p))]);
    }
    canvas.stroke_rect(left - 1, top - 1, width + 2, height + 2, FRAME);

    // Axes: range across, velocity down the side.
    let range_axis = LinearAxis::over_bins(
        map.range_bins,
        |b| params.range_m(b) / 1000.0,
        "Range [km]",
        "Range bin",
    );
    let velocity_axis = LinearAxis::over_bins(
        map.doppler_bins,
        |b| params.radial_velocity_mps(b, carrier_hz),
        "Radial velocity [m/s], + receding",
        "Doppler bin (FFT-shifted)",
    );
    let bottom = top + height;
    for (value, label) in range_axis.ticks(9) {
        let x = left as f64 + range_axis.offset_px(value, width as f64);
        let xi = x.floor() as i64;
        canvas.fill_rect(xi, bottom + 1, 1, TICK_LEN, FRAME);
        canvas.text(
            &label,
            xi as f64 + 0.5,
            (bottom + TICK_LEN + 3) as f64,
            LABEL_PX,
            INK,
            (HAlign::Center, VAlign::Top),
            Direction::Horizontal,
        );
    }
    canvas.text(
        &range_axis.title,
        (left + width / 2) as f64,
        (bottom + 30) as f64,
        AXIS_TITLE_PX,
        INK,
        (HAlign::Center, VAlign::Top),
        Direction::Horizontal,
    );
    for (value, label) in velocity_axis.ticks(9) {
        let y = top as f64 + velocity_axis.offset_px(value, height as f64);
        let yi = y.floor() as i64;
        canvas.fill_rect(left - 1 - TICK_LEN, yi, TICK_LEN, 1, FRAME);
        canvas.text(
            &label,
            (left - TICK_LEN - 4) as f64,
            yi as f64 + 0.5,
            LABEL_PX,
            INK,
            (HAlign::Right, VAlign::Middle),
            Direction::Horizontal,
        );
    }
    canvas.text(
        &velocity_axis.title,
        18.0,
        (top + height / 2) as f64,
        AXIS_TITLE_PX,
        INK,
        (HAlign::Center, VAlign::Middle),
        Direction::Up,
    );

    // Colour bar.
    let bar_left = left + width + 22;
    let bar_width = 18;
    for y in 0..height {
        let t = 1.0 - (y as f64 + 0.5) / height as f64;
        canvas.fill_rect(bar_left, top + y, bar_width, 1, lut[lut_index(t)]);
    }
    canvas.stroke_rect(bar_left - 1, top - 1, bar_width + 2, height + 2, FRAME);
    let span_db = scale.top_db - scale.bottom_db;
    for (value, label) in nice_ticks(scale.bottom_db, scale.top_db, 8, 0.0) {
        let y = top as f64 + (scale.top_db - value) / span_db * height as f64;
        let yi = (y.floor() as i64).min(bottom - 1);
        canvas.fill_rect(bar_left + bar_width + 1, yi, 4, 1, FRAME);
        canvas.text(
            &label,
            (bar_left + bar_width + 8) as f64,
            yi as f64 + 0.5,
            LABEL_PX,
            INK,
            (HAlign::Left, VAlign::Middle),
            Direction::Horizontal,
        );
    }
    canvas.text(
        "Power [dB]",
        f64::from(WIDTH_PX) - 16.0,
        (top + height / 2) as f64,
        AXIS_TITLE_PX,
        INK,
        (HAlign::Center, VAlign::Middle),
        Direction::Up,
    );

    // Plots.
    let mut off_map = 0usize;
    for plot in plots {
        let inside = (-0.5..map.range_bins as f64 - 0.5).contains(&plot.range_bin)
            && (-0.5..map.doppler_bins as f64 - 0.5).contains(&plot.doppler_bin);
        if !inside {
            off_map += 1;
            continue;
        }
        let (x, y) = map_pixel(map, plot.range_bin, plot.doppler_bin);
        canvas.ring(x, y, MARKER_RADIUS_PX, 4.0, MARKER_RIM);
        canvas.ring(x, y, MARKER_RADIUS_PX, 2.0, MARKER);
    }

    // Title, subtitle and legend.
    canvas.text(
        title,
        left as f64,
        10.0,
        TITLE_PX,
        INK,
        (HAlign::Left, VAlign::Top),
        Direction::Horizontal,
    );
    let subtitle = format!(
        "{} range × {} Doppler bins, colour 10·log10(power), {:.0} dB span{}",
        map.range_bins,
        map.doppler_bins,
        span_db,
        if map.range_bins > a.width as usize || map.doppler_bins > a.height as usize {
            ", max over cells per pixel"
        } else {
            ""
        }
    );
    canvas.text(
        &subtitle,
        left as f64,
        36.0,
        LABEL_PX,
        MUTED_INK,
        (HAlign::Left, VAlign::Top),
        Direction::Horizontal,
    );
    let mut legend = match plots.len() {
        1 => "1 plot".to_owned(),
        n => format!("{n} plots"),
    };
    if off_map > 0 {
        legend.push_str(&format!(" ({off_map} off the map)"));
    }
    let legend_right = (left + width) as f64;
    let legend_y = 43.0;
    let legend_text_px = canvas.text_width(&legend, LABEL_PX) as f64;
    let symbol_x = legend_right - legend_text_px - 14.0;
    canvas.ring(symbol_x, legend_y, 6.0, 4.0, MARKER_RIM);
    canvas.ring(symbol_x, legend_y, 6.0, 2.0, MARKER);
    canvas.text(
        &legend,
        legend_right,
        legend_y,
        LABEL_PX,
        INK,
        (HAlign::Right, VAlign::Middle),
        Direction::Horizontal,
    );

    Ok(canvas.img)
}

/// Draws the picture (see [`render_rgb`]) and writes it to `path` as PNG.
/// Nothing is created when the map cannot be drawn.
pub fn render_png(
    map: &RangeDopplerMap,
    params: &RadarParams,
    carrier_hz: f64,
    plots: &[Plot],
    title: &str,
    path: &Path,
) -> Result<(), ViewError> {
    let img = render_rgb(map, params, carrier_hz, plots, title).map_err(|e| ViewError::Draw {
        path: path.to_owned(),
        source: Box::new(e),
    })?;
    write_png(&img, path)
}

/// Writes `img` to `path` as PNG.
pub(crate) fn write_png(img: &RgbImage, path: &Path) -> Result<(), ViewError> {
    let file = File::create(path).map_err(|source| ViewError::CreateFile {
        path: path.to_owned(),
        source,
    })?;
    let mut writer = BufWriter::new(file);
    let write_error = |source| ViewError::WritePng {
        path: path.to_owned(),
        source,
    };
    PngEncoder::new(&mut writer)
        .write_image(
            img.as_raw(),
            img.width(),
            img.height(),
            ExtendedColorType::Rgb8,
        )
        .map_err(write_error)?;
    std::io::Write::flush(&mut writer).map_err(|e| write_error(image::ImageError::IoError(e)))?;
    Ok(())
}

fn check_shape(map: &RangeDopplerMap) -> Result<(), ViewError> {
    if map.range_bins == 0 || map.doppler_bins == 0 {
        return Err(ViewError::EmptyMap {
            range_bins: map.range_bins,
            doppler_bins: map.doppler_bins,
        });
    }
    let expected = map.range_bins.saturating_mul(map.doppler_bins);
    if map.power.len() != expected {
        return Err(ViewError::ShapeMismatch {
            range_bins: map.range_bins,
            doppler_bins: map.doppler_bins,
            expected,
            len: map.power.len(),
        });
    }
    Ok(())
}

const LUT_SIZE: usize = 256;

/// Viridis sampled at 256 points: `lut[0]` is the bottom of the scale,
/// `lut[255]` the top.
fn colour_table() -> Vec<Rgb<u8>> {
    (0..LUT_SIZE)
        .map(|i| {
            let c = colorous::VIRIDIS.eval_rational(i, LUT_SIZE);
            Rgb([c.r, c.g, c.b])
        })
        .collect()
}

/// Table index of scale position `t` in `[0, 1]` (NaN -> 0).
fn lut_index(t: f64) -> usize {
    if t.is_nan() {
        return 0;
    }
    ((t * (LUT_SIZE - 1) as f64).round() as usize).min(LUT_SIZE - 1)
}
