//! A small RGB drawing surface: filled rectangles, anti-aliased rings and text.
//!
//! Why not plotters or embedded-graphics: plotters pulls in its backend and
//! bitmap crates and still needs ab_glyph plus a font for text on a headless
//! server; embedded-graphics only has small monospace bitmap fonts that read
//! poorly on a 1000 px picture. The few primitives a range-Doppler picture
//! needs fit in this file on top of `image` (PNG only) and `ab_glyph` (pure
//! Rust glyph rasteriser, no fontconfig or freetype), with DejaVu Sans
//! embedded from `assets/fonts/` (Bitstream Vera licence, see the file there).
//! Every write is bounds-checked, so nothing drawn here can panic.

use ab_glyph::{Font, FontRef, PxScale, ScaleFont, point};
use image::{Rgb, RgbImage};

/// DejaVu Sans, embedded so the binary needs no system font.
const FONT_TTF: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// Horizontal anchor of a text run, along its reading direction.
#[derive(Debug, Clone, Copy)]
pub(crate) enum HAlign {
    Left,
    Center,
    Right,
}

/// Vertical anchor of a text run, across its reading direction.
#[derive(Debug, Clone, Copy)]
pub(crate) enum VAlign {
    Top,
    Middle,
}

/// Reading direction.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Direction {
    /// Left to right.
    Horizontal,
    /// Bottom to top (text turned 90 degrees counter-clockwise), for a
    /// vertical axis title.
    Up,
}

/// An RGB picture with a font.
pub(crate) struct Canvas {
    pub(crate) img: RgbImage,
    font: FontRef<'static>,
}

impl Canvas {
    /// A `width` x `height` canvas filled with `background`; `None` when the
    /// embedded font cannot be parsed (a broken build, not bad input).
    pub(crate) fn new(width: u32, height: u32, background: Rgb<u8>) -> Option<Self> {
        let font = FontRef::try_from_slice(FONT_TTF).ok()?;
        Some(Canvas {
            img: RgbImage::from_pixel(width, height, background),
            font,
        })
    }

    /// Sets one pixel; outside the picture it does nothing.
    pub(crate) fn put(&mut self, x: i64, y: i64, colour: Rgb<u8>) {
        if x >= 0 && y >= 0 && x < i64::from(self.img.width()) && y < i64::from(self.img.height()) {
            self.img.put_pixel(x as u32, y as u32, colour);
        }
    }

    /// Mixes `colour` into one pixel with weight `alpha` in `[0, 1]`.
    fn blend(&mut self, x: i64, y: i64, colour: Rgb<u8>, alpha: f32) {
        if alpha.is_nan()
            || alpha <= 0.0
            || x < 0
            || y < 0
            || x >= i64::from(self.img.width())
            || y >= i64::from(self.img.height())
        {
            return;
        }
        let a = alpha.min(1.0);
        let p = self.img.get_pixel_mut(x as u32, y as u32);
        for c in 0..3 {
            let mixed = f32::from(p.0[c]) * (1.0 - a) + f32::from(colour.0[c]) * a;
            p.0[c] = mixed.round().clamp(0.0, 255.0) as u8;
        }
    }

    /// Fills the rectangle `[x, x + w) x [y, y + h)`.
    pub(crate) fn fill_rect(&mut self, x: i64, y: i64, w: i64, h: i64, colour: Rgb<u8>) {
        for yy in y..y + h {
            for xx in x..x + w {
                self.put(xx, yy, colour);
            }
        }
    }

    /// One-pixel outline of the rectangle `[x, x + w) x [y, y + h)`.
    pub(crate) fn stroke_rect(&mut self, x: i64, y: i64, w: i64, h: i64, colour: Rgb<u8>) {
        self.fill_rect(x, y, w, 1, colour);
        self.fill_rect(x, y + h - 1, w, 1, colour);
        self.fill_rect(x, y, 1, h, colour);
        self.fill_rect(x + w - 1, y, 1, h, colour);
    }

    /// Anti-aliased ring centred on `(cx, cy)` (pixel-centre coordinates:
    /// pixel `i` spans `[i, i + 1)`), radius `radius` to the middle of the
    /// stroke, stroke `width` pixels.
    pub(crate) fn ring(&mut self, cx: f64, cy: f64, radius: f64, width: f64, colour: Rgb<u8>) {
        let reach = (radius + width).ceil() as i64 + 1;
        let (ix, iy) = (cx.floor() as i64, cy.floor() as i64);
        for y in iy - reach..=iy + reach {
            for x in ix - reach..=ix + reach {
                let d = ((x as f64 + 0.5 - cx).powi(2) + (y as f64 + 0.5 - cy).powi(2)).sqrt();
                let coverage = (width / 2.0 + 0.5 - (d - radius).abs()).clamp(0.0, 1.0);
                self.blend(x, y, colour, coverage as f32);
            }
        }
    }

    /// Anti-aliased straight stroke from `(x0, y0)` to `(x1, y1)` (pixel-centre
    /// coordinates as for [`Canvas::ring`]), `width` pixels wide.
    pub(crate) fn line(
        &mut self,
        (x0, y0): (f64, f64),
        (x1, y1): (f64, f64),
        width: f64,
        colour: Rgb<u8>,
    ) {
        if ![x0, y0, x1, y1, width].iter().all(|v| v.is_finite()) {
            return;
        }
        // A stroke far off the picture is not drawn (and cannot loop long).
        let limit = 4.0 * f64::from(self.img.width().max(self.img.height()));
        if [x0, y0, x1, y1].iter().any(|v| v.abs() > limit) {
            return;
        }
        let reach = width / 2.0 + 1.0;
        let (dx, dy) = (x1 - x0, y1 - y0);
        let len2 = dx * dx + dy * dy;
        let (xa, xb) = (
            (x0.min(x1) - reach).floor() as i64,
            (x0.max(x1) + reach).ceil() as i64,
        );
        let (ya, yb) = (
            (y0.min(y1) - reach).floor() as i64,
            (y0.max(y1) + reach).ceil() as i64,
        );
        for y in ya..=yb {
            for x in xa..=xb {
                let (px, py) = (x as f64 + 0.5, y as f64 + 0.5);
                let t = if len2 > 0.0 {
                    (((px - x0) * dx + (py - y0) * dy) / len2).clamp(0.0, 1.0)
                } else {
                    0.0
                };
                let d = (px - (x0 + t * dx)).hypot(py - (y0 + t * dy));
                let coverage = (width / 2.0 + 0.5 - d).clamp(0.0, 1.0);
                self.blend(x, y, colour, coverage as f32);
            }
        }
    }

    /// Advance width of `text` at `size_px`, pixels.
    pub(crate) fn text_width(&self, text: &str, size_px: f32) -> f32 {
        let font = self.font.as_scaled(PxScale::from(size_px));
        let mut width = 0.0;
        let mut previous = None;
        for c in text.chars() {
            let id = font.glyph_id(c);
            if let Some(p) = previous {
                width += font.kern(p, id);
            }
            width += font.h_advance(id);
            previous = Some(id);
        }
        width
    }

    /// Draws `text` at `size_px` anchored at `(x, y)`.
    #[allow(clippy::too_many_arguments)] // every argument is a plain property of one text run
    pub(crate) fn text(
        &mut self,
        text: &str,
        x: f64,
        y: f64,
        size_px: f32,
        colour: Rgb<u8>,
        (h_align, v_align): (HAlign, VAlign),
        direction: Direction,
    ) {
        let scale = PxScale::from(size_px);
        let font = self.font.as_scaled(scale);
        let width = self.text_width(text, size_px);
        // Local frame: x along the reading direction, y down across it, baseline at y = 0.
        let start_x = match h_align {
            HAlign::Left => 0.0,
            HAlign::Center => -width / 2.0,
            HAlign::Right => -width,
        };
        let baseline = match v_align {
            VAlign::Top => font.ascent(),
            VAlign::Middle => (font.ascent() + font.descent()) / 2.0,
        };
        let mut caret = start_x;
        let mut previous = None;
        let mut coverage: Vec<(i64, i64, f32)> = Vec::new();
        for c in text.chars() {
            let id = font.glyph_id(c);
            if let Some(p) = previous {
                caret += font.kern(p, id);
            }
            let glyph = id.with_scale_and_position(scale, point(caret, baseline));
            caret += font.h_advance(id);
            previous = Some(id);
            if let Some(outlined) = self.font.outline_glyph(glyph) {
                let bounds = outlined.px_bounds();
                outlined.draw(|gx, gy, cov| {
                    let lx = bounds.min.x as i64 + i64::from(gx);
                    let ly = bounds.min.y as i64 + i64::from(gy);
                    coverage.push((lx, ly, cov));
                });
            }
        }
        let (ox, oy) = (x.round() as i64, y.round() as i64);
        for (lx, ly, cov) in coverage {
            let (px, py) = match direction {
                Direction::Horizontal => (ox + lx, oy + ly),
                Direction::Up => (ox + ly, oy - lx),
            };
            self.blend(px, py, colour, cov);
        }
    }
}
