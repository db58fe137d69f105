//! The range-Doppler picture checked against hand-built maps: where a hot
//! cell and a plot must land (from the layout documented in `tews::view`),
//! and that odd inputs draw without error.

use image::{Rgb, RgbImage};
use tews::plots::Plot;
use tews::process::RangeDopplerMap;
use tews::radar::{RadarParams, Waveform};
use tews::view::{self, MAP_AREA, ViewError};
use time::macros::datetime;

/// 20 MHz sampling (7.5 m bins) from 3 km, 64 pulses at 100 us; at 10 GHz
/// the velocity axis spans about +-75 m/s.
fn params(range_bins: usize, doppler_bins: usize) -> RadarParams {
    RadarParams {
        sample_rate_hz: 20e6,
        pulses_per_cpi: doppler_bins,
        samples_per_pulse: range_bins,
        pri_s: 100e-6,
        window_delay_s: 20e-6,
        waveform: Waveform::Lfm {
            bandwidth_hz: 10e6,
            pulse_width_s: 10e-6,
        },
        num_channels: 1,
        sum_channel: 0,
        channel_names: vec![],
        monopulse: None,
    }
}
const CARRIER_HZ: f64 = 10e9;

/// Exponentially distributed (noise-like) power with mean 1 from a fixed
/// integer hash, so the floor is the same on every run.
fn noise(i: usize) -> f32 {
    let h = (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let u = ((h >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
    (-(1.0 - u).ln()) as f32
}

fn noise_map(range_bins: usize, doppler_bins: usize) -> RangeDopplerMap {
    RangeDopplerMap {
        range_bins,
        doppler_bins,
        power: (0..range_bins * doppler_bins).map(noise).collect(),
    }
}

fn plot_at(range_bin: f64, doppler_bin: f64) -> Plot {
    Plot {
        cpi: 7,
        time_utc: datetime!(2024-05-01 12:00:00 UTC),
        range_m: 0.0,
        radial_velocity_mps: 0.0,
        azimuth_deg: 0.0,
        elevation_deg: 0.0,
        snr_db: 30.0,
        range_bin,
        doppler_bin,
        cells: 1,
        received_at: None,
        ..Plot::default()
    }
}

/// Viridis' top colour (#fde725) within a small tolerance.
fn is_top_colour(p: Rgb<u8>) -> bool {
    let [r, g, b] = p.0;
    r >= 240 && (220..=240).contains(&g) && b <= 60
}

/// Dark purple-blue end of viridis: little green, blue above red.
fn is_low_colour(p: Rgb<u8>) -> bool {
    let [r, g, b] = p.0;
    g < 110 && b > r && r < 80
}

fn is_white(p: Rgb<u8>) -> bool {
    p.0.iter().all(|c| *c >= 245)
}

fn pixel(img: &RgbImage, x: f64, y: f64) -> Rgb<u8> {
    *img.get_pixel(x.floor() as u32, y.floor() as u32)
}

#[test]
fn hot_cell_lands_where_the_layout_says_and_is_top_colour() {
    let (rb, db) = (2000, 64);
    let mut map = noise_map(rb, db);
    let (hot_r, hot_d) = (1234, 40);
    map.power[hot_r * db + hot_d] = 1e6; // 60 dB over a ~0 dB floor
    let img = view::render_rgb(&map, &params(rb, db), CARRIER_HZ, &[], "t").unwrap();
    assert!(img.width() >= 640 && img.height() >= 400);

    // Independent of the renderer: cell r of 2000 on 800 px covers x in
    // [84 + 0.4 r, 84 + 0.4 (r + 1)); cell d of 64 on 512 px covers 8 rows.
    let x = 84.0 + 0.4 * (hot_r as f64 + 0.5);
    let y = 64.0 + 8.0 * (hot_d as f64 + 0.5);
    assert_eq!(view::map_pixel(&map, hot_r as f64, hot_d as f64), (x, y));
    for dy in [-3.0, 0.0, 3.0] {
        let p = pixel(&img, x, y + dy);
        assert!(is_top_colour(p), "hot cell at ({x}, {}) is {p:?}", y + dy);
    }
    // The neighbouring Doppler rows are floor.
    assert!(!is_top_colour(pixel(&img, x, y + 8.0)));
    assert!(!is_top_colour(pixel(&img, x, y - 8.0)));
    // Far away, the floor is in the low colours.
    let far = pixel(&img, 84.0 + 100.0, 64.0 + 50.0);
    assert!(is_low_colour(far), "floor pixel is {far:?}");
    // Exactly one pixel column holds the hot cell.
    let top_colour_pixels = (MAP_AREA.left..MAP_AREA.left + MAP_AREA.width)
        .flat_map(|x| (MAP_AREA.top..MAP_AREA.top + MAP_AREA.height).map(move |y| (x, y)))
        .filter(|(x, y)| is_top_colour(*img.get_pixel(*x, *y)))
        .count();
    assert_eq!(top_colour_pixels, 8);
}

#[test]
fn a_one_cell_target_survives_heavy_downsampling() {
    let (rb, db) = (4096, 128);
    let mut map = noise_map(rb, db);
    map.power[4095 * db + 127] = 1e5; // last cell: bottom-right corner
    let img = view::render_rgb(&map, &params(rb, db), CARRIER_HZ, &[], "t").unwrap();
    let (x, y) = view::map_pixel(&map, 4095.0, 127.0);
    assert_eq!(x.floor() as u32, MAP_AREA.left + MAP_AREA.width - 1);
    // 128 cells on 512 rows: the last cell is the bottom 4 rows.
    assert_eq!(y, f64::from(MAP_AREA.top) + 127.5 * 4.0);
    for row in MAP_AREA.top + MAP_AREA.height - 4..MAP_AREA.top + MAP_AREA.height {
        assert!(is_top_colour(*img.get_pixel(x.floor() as u32, row)));
    }
    assert!(!is_top_colour(pixel(&img, x, y - 4.0)));
}

#[test]
fn plot_marker_is_drawn_around_the_plot() {
    let (rb, db) = (2000, 64);
    let map = noise_map(rb, db);
    let plot = plot_at(300.3, 10.6);
    let (cx, cy) = view::map_pixel(&map, 300.3, 10.6);
    let without = view::render_rgb(&map, &params(rb, db), CARRIER_HZ, &[], "t").unwrap();
    let with = view::render_rgb(&map, &params(rb, db), CARRIER_HZ, &[plot], "t").unwrap();
    let r = view::MARKER_RADIUS_PX;
    let ring = [(r, 0.0), (-r, 0.0), (0.0, r), (0.0, -r)];
    for (dx, dy) in ring {
        assert!(
            is_white(pixel(&with, cx + dx, cy + dy)),
            "ring at ({dx}, {dy})"
        );
        assert!(!is_white(pixel(&without, cx + dx, cy + dy)));
    }
    // The cell under the marker stays visible: its centre is untouched.
    assert_eq!(pixel(&with, cx, cy), pixel(&without, cx, cy));
}

#[test]
fn odd_maps_and_plots_draw_without_error() {
    let odd_plots = [
        plot_at(-5.0, 3.0),
        plot_at(1e12, 1.0),
        plot_at(f64::NAN, 0.0),
        plot_at(0.0, f64::INFINITY),
        plot_at(0.0, 0.0),
    ];
    let maps = [
        RangeDopplerMap {
            range_bins: 1,
            doppler_bins: 1,
            power: vec![3.0],
        },
        RangeDopplerMap {
            range_bins: 2000,
            doppler_bins: 64,
            power: vec![0.0; 2000 * 64],
        },
        RangeDopplerMap {
            range_bins: 3,
            doppler_bins: 2,
            power: vec![f32::NAN, -1.0, f32::INFINITY, 0.0, 1.0, f32::NEG_INFINITY],
        },
        RangeDopplerMap {
            range_bins: 5000,
            doppler_bins: 1000,
            power: vec![f32::NAN; 5_000_000],
        },
    ];
    for map in &maps {
        let p = params(map.range_bins, map.doppler_bins);
        for carrier in [CARRIER_HZ, 0.0, f64::NAN] {
            let img = view::render_rgb(map, &p, carrier, &odd_plots, "odd").unwrap();
            assert_eq!(
                (img.width(), img.height()),
                (view::WIDTH_PX, view::HEIGHT_PX)
            );
        }
    }
    // Broken radar parameters fall back to bin axes rather than failing.
    let mut p = params(1, 1);
    p.sample_rate_hz = 0.0;
    p.pri_s = f64::NAN;
    view::render_rgb(&maps[0], &p, CARRIER_HZ, &[], "").unwrap();
}

#[test]
fn bad_maps_and_paths_are_errors_naming_the_problem() {
    let p = params(4, 4);
    let empty = RangeDopplerMap {
        range_bins: 0,
        doppler_bins: 64,
        power: vec![],
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("empty.png");
    let err = view::render_png(&empty, &p, CARRIER_HZ, &[], "t", &out).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, ViewError::Draw { .. }));
    assert!(msg.contains("empty.png") && msg.contains("empty"), "{msg}");
    assert!(
        !out.exists(),
        "no file is left behind for a map that cannot be drawn"
    );

    let short = RangeDopplerMap {
        range_bins: 4,
        doppler_bins: 4,
        power: vec![1.0; 15],
    };
    let err = view::render_rgb(&short, &p, CARRIER_HZ, &[], "t").unwrap_err();
    assert!(matches!(
        err,
        ViewError::ShapeMismatch {
            len: 15,
            expected: 16,
            ..
        }
    ));

    let ok = noise_map(4, 4);
    let nowhere = dir.path().join("no-such-dir").join("map.png");
    let err = view::render_png(&ok, &p, CARRIER_HZ, &[], "t", &nowhere).unwrap_err();
    assert!(matches!(err, ViewError::CreateFile { .. }));
    let msg = err.to_string();
    assert!(msg.contains("no-such-dir") && !msg.contains('\n'), "{msg}");
}

/// A scene an engineer would recognise: noise floor, zero-Doppler clutter at
/// near range, three targets (one approaching, one receding, one slow) with
/// a little range and Doppler spread, and their plots.
fn sample_scene() -> (RangeDopplerMap, Vec<Plot>) {
    let (rb, db) = (2000, 64);
    let mut map = noise_map(rb, db);
    for r in 0..400 {
        let clutter = 3e3 * (-(r as f32) / 120.0).exp();
        for (d, w) in [(31, 0.1f32), (32, 1.0), (33, 0.1)] {
            map.power[r * db + d] += clutter * w;
        }
    }
    let targets = [
        (520.0, 12.0, 2e4),
        (1234.0, 40.0, 3e3),
        (1710.0, 29.0, 400.0),
    ];
    let mut plots = Vec::new();
    for (r0, d0, peak) in targets {
        for dr in -3i32..=3 {
            for dd in -2i32..=2 {
                let r = (r0 as i32 + dr) as usize;
                let d = (d0 as i32 + dd) as usize;
                let g = (-(dr * dr) as f32 / 2.0 - (dd * dd) as f32 * 1.5).exp();
                map.power[r * db + d] += peak * g;
            }
        }
        plots.push(plot_at(r0, d0));
    }
    (map, plots)
}

#[test]
fn sample_scene_renders_to_a_decodable_png() {
    let (map, plots) = sample_scene();
    let dir = tempfile::tempdir().unwrap();
    // TEWS_VIEW_SAMPLE=/tmp/view_sample.png keeps a copy to look at.
    let out = std::env::var_os("TEWS_VIEW_SAMPLE")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| dir.path().join("sample.png"));
    let title = "sim-3targets.sigmf  ·  CPI 7  ·  2024-05-01T12:00:00.000Z";
    view::render_png(&map, &params(2000, 64), CARRIER_HZ, &plots, title, &out).unwrap();
    let img = image::open(&out).unwrap().to_rgb8();
    assert_eq!(
        (img.width(), img.height()),
        (view::WIDTH_PX, view::HEIGHT_PX)
    );
    assert_eq!(
        img,
        view::render_rgb(&map, &params(2000, 64), CARRIER_HZ, &plots, title).unwrap()
    );
}

/// The warnings picture: each point drawn where its latitude/longitude
/// puts it on the map's own axes (the centre pixel of the impact ring is
/// red, the launch ring blue, the site black), at 1000 x 700.
#[test]
fn warnings_picture_puts_launch_impact_and_site_on_the_map() {
    use tews::assess::Ellipse95;
    use tews::assess::warning::WarningPoint;
    use tews::view::situation::{Situation, WarningIssues, render_situation};
    let point = |lat: f64, lon: f64, a: f64| WarningPoint {
        time_utc: datetime!(2026-06-01 12:09:32 UTC),
        time_sigma_s: 1.0,
        latitude_deg: lat,
        longitude_deg: lon,
        ellipse_95: Ellipse95 {
            semi_major_m: a,
            semi_minor_m: a / 3.0,
            orientation_deg: 45.0,
        },
    };
    let s = Situation {
        site: Some((40.0, 40.0)),
        tracks: vec![vec![(37.5, 43.0), (39.9, 37.5)]],
        warnings: vec![WarningIssues {
            warning: "n.s.r.1".into(),
            impacts: vec![point(39.9, 37.5, 20e3), point(39.9, 37.5, 2e3)],
            launches: vec![point(37.5, 43.0, 15e3), point(37.5, 43.0, 15e3)],
        }],
        title: "test".into(),
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.png");
    render_situation(&s, &path).unwrap();
    let img = image::open(&path).unwrap().to_rgb8();
    assert_eq!((img.width(), img.height()), (1000, 700));
    // Every drawn object exists: count red, blue and black pixels.
    let count = |f: &dyn Fn(&Rgb<u8>) -> bool| img.pixels().filter(|p| f(p)).count();
    let red = count(&|p| p.0[0] > 150 && p.0[1] < 60 && p.0[2] < 60);
    let blue = count(&|p| p.0[2] > 150 && p.0[0] < 80);
    assert!(red > 20 && blue > 20, "red {red} blue {blue}");
    // The impact lies west-north-west of the launch: its red pixels are on
    // the left, the blue ones on the right.
    let mean_x = |f: &dyn Fn(&Rgb<u8>) -> bool| {
        let xs: Vec<u32> = img
            .enumerate_pixels()
            .filter(|(_, _, p)| f(p))
            .map(|(x, _, _)| x)
            .collect();
        xs.iter().map(|&x| f64::from(x)).sum::<f64>() / xs.len() as f64
    };
    assert!(mean_x(&|p| p.0[0] > 150 && p.0[1] < 60 && p.0[2] < 60) < 400.0);
    assert!(mean_x(&|p| p.0[2] > 150 && p.0[0] < 80) > 600.0);
}
