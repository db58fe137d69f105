//! SigMF radar recordings (formats.md §1) built by hand, byte by byte, from
//! known formulas, then read back through `tews::ingest::sigmf`.
//!
//! Every expected sample comes from the formula that wrote it, never from the
//! reader; every bad-input test checks that the message names the file and
//! the key, datatype or byte count at fault.

use std::fs;
use std::path::{Path, PathBuf};

use rustfft::num_complex::Complex32;
use serde_json::{Value, json};
use tews::ingest::IngestError;
use tews::ingest::sigmf::{DataType, OpenOptions, Recording, SampleFormat};
use tews::radar::Waveform;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

// ---------------------------------------------------------------------------
// Building recordings.

/// Shape of a test recording.
#[derive(Clone, Copy)]
struct Shape {
    channels: usize,
    pulses: usize,
    samples: usize,
    cpis: usize,
}

const SMALL: Shape = Shape {
    channels: 1,
    pulses: 4,
    samples: 8,
    cpis: 3,
};

/// A scrambled but deterministic integer for (channel, cpi, pulse, sample, part).
fn hash(c: usize, k: usize, m: usize, n: usize, part: usize) -> u64 {
    let x = (c as u64) * 1_000_003
        + (k as u64) * 7_919
        + (m as u64) * 104_729
        + (n as u64) * 31
        + (part as u64) * 17;
    x.wrapping_mul(2_654_435_761).wrapping_add(x >> 3) >> 5
}

/// Integer count of `bits` bits, covering the whole signed range.
fn count(bits: u32, c: usize, k: usize, m: usize, n: usize, part: usize) -> i64 {
    let span = 1u64 << bits;
    (hash(c, k, m, n, part) % span) as i64 - (span / 2) as i64
}

/// A float with a fractional part, sign and a spread of magnitudes.
fn float(c: usize, k: usize, m: usize, n: usize, part: usize) -> f64 {
    let h = hash(c, k, m, n, part);
    let mantissa = (h % 2_000_001) as f64 - 1_000_000.0;
    mantissa / 1024.0 * 2f64.powi((h % 7) as i32 - 3) + 1e-7 * (h % 13) as f64
}

/// One component (part 0 = I, 1 = Q) as bytes in `dt`'s encoding.
fn encode(dt: DataType, c: usize, k: usize, m: usize, n: usize, part: usize) -> Vec<u8> {
    let be = dt.big_endian;
    match dt.format {
        SampleFormat::Cf32 => {
            let v = float(c, k, m, n, part) as f32;
            if be {
                v.to_be_bytes().to_vec()
            } else {
                v.to_le_bytes().to_vec()
            }
        }
        SampleFormat::Cf64 => {
            let v = float(c, k, m, n, part);
            if be {
                v.to_be_bytes().to_vec()
            } else {
                v.to_le_bytes().to_vec()
            }
        }
        SampleFormat::Ci32 => {
            let v = count(32, c, k, m, n, part) as i32;
            if be {
                v.to_be_bytes().to_vec()
            } else {
                v.to_le_bytes().to_vec()
            }
        }
        SampleFormat::Ci16 => {
            let v = count(16, c, k, m, n, part) as i16;
            if be {
                v.to_be_bytes().to_vec()
            } else {
                v.to_le_bytes().to_vec()
            }
        }
        SampleFormat::Ci8 => vec![(count(8, c, k, m, n, part) as i8) as u8],
    }
}

/// The value the reader must deliver for one component.
fn expected(
    dt: DataType,
    raw_counts: bool,
    c: usize,
    k: usize,
    m: usize,
    n: usize,
    part: usize,
) -> f32 {
    let int = |bits: u32| {
        let v = count(bits, c, k, m, n, part) as f64;
        if raw_counts {
            v as f32
        } else {
            (v / 2f64.powi(bits as i32 - 1)) as f32
        }
    };
    match dt.format {
        SampleFormat::Cf32 | SampleFormat::Cf64 => float(c, k, m, n, part) as f32,
        SampleFormat::Ci32 => int(32),
        SampleFormat::Ci16 => int(16),
        SampleFormat::Ci8 => int(8),
    }
}

/// The data file: CPI-major, then pulse, then fast time, then channel; I then Q.
fn data_bytes(dt: DataType, s: Shape) -> Vec<u8> {
    let mut out = Vec::new();
    for k in 0..s.cpis {
        for m in 0..s.pulses {
            for n in 0..s.samples {
                for c in 0..s.channels {
                    out.extend(encode(dt, c, k, m, n, 0));
                    out.extend(encode(dt, c, k, m, n, 1));
                }
            }
        }
    }
    out
}

const T0: OffsetDateTime = datetime!(2026-03-01 12:00:00 UTC);

/// A valid metadata object for `dt` and `s`: fs 1 MHz, PRI 1 ms, one capture.
fn meta(datatype: &str, s: Shape) -> Value {
    json!({
        "global": {
            "core:datatype": datatype,
            "core:sample_rate": 1.0e6,
            "core:version": "1.2.0",
            "core:num_channels": s.channels,
            "core:extensions": [{"name": "radar", "version": "0.1.0", "optional": false}],
            "radar:pulses_per_cpi": s.pulses,
            "radar:samples_per_pulse": s.samples,
            "radar:pri_s": 1.0e-3,
            "radar:window_delay_s": 2.0e-5,
            "radar:waveform": {"type": "lfm", "bandwidth_hz": 5.0e5, "pulse_width_s": 1.0e-5}
        },
        "captures": [{
            "core:sample_start": 0,
            "core:frequency": 9.4e9,
            "core:datetime": "2026-03-01T12:00:00Z",
            "radar:azimuth_deg": 45.0,
            "radar:elevation_deg": 3.0
        }],
        "annotations": []
    })
}

/// Writes `NAME.sigmf-meta` and `NAME.sigmf-data` in `dir`; returns the base path.
fn write(dir: &Path, name: &str, meta: &Value, data: &[u8]) -> PathBuf {
    let base = dir.join(name);
    fs::write(
        dir.join(format!("{name}.sigmf-meta")),
        serde_json::to_vec_pretty(meta).unwrap(),
    )
    .unwrap();
    fs::write(dir.join(format!("{name}.sigmf-data")), data).unwrap();
    base
}

fn meta_path(base: &Path) -> PathBuf {
    PathBuf::from(format!("{}.sigmf-meta", base.display()))
}

fn data_path(base: &Path) -> PathBuf {
    PathBuf::from(format!("{}.sigmf-data", base.display()))
}

/// Checks every sample of every CPI, by random access and by streaming.
fn check_all_samples(rec: &Recording, dt: DataType, raw_counts: bool, s: Shape) {
    assert_eq!(rec.num_cpis, s.cpis as u64);
    let streamed: Vec<_> = rec.cpis().unwrap().collect::<Result<_, _>>().unwrap();
    assert_eq!(streamed.len(), s.cpis);
    for (k, streamed_cpi) in streamed.iter().enumerate() {
        let random = rec.read_cpi(k as u64).unwrap();
        for cpi in [&random, streamed_cpi] {
            assert_eq!(cpi.meta.index, k as u64);
            assert_eq!(cpi.samples().dim(), (s.channels, s.pulses, s.samples));
            for c in 0..s.channels {
                for m in 0..s.pulses {
                    for n in 0..s.samples {
                        let want = Complex32::new(
                            expected(dt, raw_counts, c, k, m, n, 0),
                            expected(dt, raw_counts, c, k, m, n, 1),
                        );
                        let got = cpi.samples()[[c, m, n]];
                        assert!(
                            got == want,
                            "{}: channel {c} cpi {k} pulse {m} sample {n}: got {got}, want {want}",
                            dt.as_sigmf()
                        );
                    }
                }
            }
        }
    }
}

const ALL_DATATYPES: [&str; 9] = [
    "cf32_le", "cf32_be", "cf64_le", "cf64_be", "ci32_le", "ci32_be", "ci16_le", "ci16_be", "ci8",
];

// ---------------------------------------------------------------------------
// Good recordings.

#[test]
fn every_datatype_and_byte_order_reads_back_exactly() {
    let dir = tempfile::tempdir().unwrap();
    for name in ALL_DATATYPES {
        let dt = DataType::parse(name).unwrap();
        let base = write(dir.path(), name, &meta(name, SMALL), &data_bytes(dt, SMALL));
        let rec = Recording::open(&meta_path(&base)).unwrap();
        assert_eq!(rec.datatype, dt);
        assert_eq!(rec.cpi_bytes(), (4 * 8 * dt.bytes_per_complex()) as u64);
        check_all_samples(&rec, dt, false, SMALL);
    }
}

#[test]
fn raw_counts_leaves_integers_unscaled() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["ci32_le", "ci16_be", "ci8", "cf32_le"] {
        let dt = DataType::parse(name).unwrap();
        let base = write(dir.path(), name, &meta(name, SMALL), &data_bytes(dt, SMALL));
        let rec = Recording::open_with(&base, OpenOptions { raw_counts: true }).unwrap();
        check_all_samples(&rec, dt, true, SMALL);
    }
}

#[test]
fn ci16_recordings_keep_the_files_integers() {
    // Two channels, both byte orders, by random access and streaming: the
    // CPI holds exactly the counts the formula wrote (byte-swapped for _be),
    // `[channel][pulse][sample]`, I then Q, and no cf32 copy until asked.
    let s = Shape {
        channels: 2,
        ..SMALL
    };
    let dir = tempfile::tempdir().unwrap();
    for (name, raw_counts) in [("ci16_le", false), ("ci16_be", false), ("ci16_be", true)] {
        let dt = DataType::parse(name).unwrap();
        let base = write(dir.path(), name, &meta(name, s), &data_bytes(dt, s));
        let rec = Recording::open_with(&base, OpenOptions { raw_counts }).unwrap();
        let streamed: Vec<_> = rec.cpis().unwrap().collect::<Result<_, _>>().unwrap();
        for (k, streamed_cpi) in streamed.iter().enumerate() {
            let random = rec.read_cpi(k as u64).unwrap();
            for cpi in [&random, streamed_cpi] {
                assert!(cpi.decoded().is_none(), "{name}: converted before use");
                let (iq, scale) = cpi.ci16().expect("a ci16 recording keeps its counts");
                assert_eq!(scale, if raw_counts { 1.0 } else { 1.0 / 32768.0 });
                let mut want = Vec::new();
                for c in 0..s.channels {
                    for m in 0..s.pulses {
                        for n in 0..s.samples {
                            for part in 0..2 {
                                want.push(count(16, c, k, m, n, part) as i16);
                            }
                        }
                    }
                }
                assert_eq!(iq, want.as_slice(), "{name} CPI {k}");
                assert_eq!(cpi.ci16_channel(1).unwrap().0, &want[want.len() / 2..]);
            }
        }
    }
    // Other integer types are decoded on the host (no counts kept).
    for name in ["ci8", "ci32_le", "cf32_le"] {
        let dt = DataType::parse(name).unwrap();
        let base = write(dir.path(), name, &meta(name, s), &data_bytes(dt, s));
        let cpi = Recording::open(&base).unwrap().read_cpi(0).unwrap();
        assert!(cpi.ci16().is_none(), "{name}");
        assert!(cpi.decoded().is_some(), "{name}");
    }
}

#[test]
fn integer_full_scale_is_one() {
    // Extremes written by hand: -2^(b-1) reads as exactly -1.0.
    let dir = tempfile::tempdir().unwrap();
    let s = Shape {
        channels: 1,
        pulses: 1,
        samples: 2,
        cpis: 1,
    };
    let mut bytes = Vec::new();
    for v in [i16::MIN, i16::MAX, 0, 16384] {
        bytes.extend(v.to_le_bytes());
    }
    let base = write(dir.path(), "fs", &meta("ci16_le", s), &bytes);
    let cpi = Recording::open(&base).unwrap().read_cpi(0).unwrap();
    assert_eq!(
        cpi.samples()[[0, 0, 0]],
        Complex32::new(-1.0, 32767.0 / 32768.0)
    );
    assert_eq!(cpi.samples()[[0, 0, 1]], Complex32::new(0.0, 0.5));
}

#[test]
fn global_keys_become_radar_params() {
    let dir = tempfile::tempdir().unwrap();
    let mut m = meta("cf32_le", SMALL);
    m["global"]["core:geolocation"] = json!({"type": "Point", "coordinates": [-1.5, 51.25, 120.0]});
    m["global"]["radar:simulated"] = json!(true);
    let dt = DataType::parse("cf32_le").unwrap();
    let base = write(dir.path(), "params", &m, &data_bytes(dt, SMALL));
    let rec = Recording::open(&base).unwrap();
    let p = &rec.params;
    assert_eq!(p.sample_rate_hz, 1.0e6);
    assert_eq!(p.pulses_per_cpi, 4);
    assert_eq!(p.samples_per_pulse, 8);
    assert_eq!(p.pri_s, 1.0e-3);
    assert_eq!(p.window_delay_s, 2.0e-5);
    assert_eq!(
        p.waveform,
        Waveform::Lfm {
            bandwidth_hz: 5.0e5,
            pulse_width_s: 1.0e-5
        }
    );
    assert_eq!(p.num_channels, 1);
    assert_eq!(p.sum_channel, 0);
    assert!(p.channel_names.is_empty());
    assert_eq!(rec.geolocation, Some([-1.5, 51.25, 120.0]));
    assert!(rec.simulated);
    assert!(rec.read_cpi(1).unwrap().meta.simulated);
    assert_eq!(rec.meta_path, meta_path(&base));
}

#[test]
fn rect_waveform_and_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let mut m = meta("ci8", SMALL);
    m["global"]["radar:waveform"] = json!({"type": "rect", "pulse_width_s": 2.0e-6});
    m["global"]
        .as_object_mut()
        .unwrap()
        .remove("core:num_channels");
    m["global"]["core:geolocation"] = json!({"type": "Point", "coordinates": [10.0, -20.0]});
    let dt = DataType::parse("ci8").unwrap();
    let base = write(dir.path(), "rect", &m, &data_bytes(dt, SMALL));
    let rec = Recording::open(&base).unwrap();
    assert_eq!(
        rec.params.waveform,
        Waveform::Rect {
            pulse_width_s: 2.0e-6
        }
    );
    assert_eq!(rec.params.num_channels, 1);
    assert_eq!(rec.geolocation, Some([10.0, -20.0, 0.0]));
    assert!(!rec.simulated);
    assert!(!rec.read_cpi(0).unwrap().meta.simulated);
}

#[test]
fn three_channels_are_deinterleaved_and_sum_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let s = Shape {
        channels: 3,
        pulses: 5,
        samples: 7,
        cpis: 2,
    };
    for name in ["ci16_le", "cf32_be", "ci8"] {
        let mut m = meta(name, s);
        m["global"]["radar:channels"] = json!(["delta_az", "sum", "delta_el"]);
        let dt = DataType::parse(name).unwrap();
        let base = write(dir.path(), name, &m, &data_bytes(dt, s));
        let rec = Recording::open(&base).unwrap();
        assert_eq!(rec.params.num_channels, 3);
        assert_eq!(rec.params.sum_channel, 1);
        assert_eq!(rec.params.channel_names, ["delta_az", "sum", "delta_el"]);
        assert_eq!(rec.cpi_bytes(), (3 * 5 * 7 * dt.bytes_per_complex()) as u64);
        check_all_samples(&rec, dt, false, s);
    }
}

#[test]
fn complex_index_formula_of_formats_md_holds() {
    // Independent of the `encode` helpers: a cf32_le file where the value at
    // complex index i = (((k*P)+m)*N + n)*C + c is (i, -i).
    let dir = tempfile::tempdir().unwrap();
    let (c_n, p_n, n_n, k_n) = (2usize, 3usize, 4usize, 2usize);
    let total = c_n * p_n * n_n * k_n;
    let bytes: Vec<u8> = (0..total)
        .flat_map(|i| [i as f32, -(i as f32)])
        .flat_map(f32::to_le_bytes)
        .collect();
    let base = write(
        dir.path(),
        "index",
        &meta(
            "cf32_le",
            Shape {
                channels: c_n,
                pulses: p_n,
                samples: n_n,
                cpis: k_n,
            },
        ),
        &bytes,
    );
    let rec = Recording::open(&base).unwrap();
    for k in 0..k_n {
        let cpi = rec.read_cpi(k as u64).unwrap();
        for c in 0..c_n {
            for m in 0..p_n {
                for n in 0..n_n {
                    let i = ((((k * p_n) + m) * n_n + n) * c_n + c) as f32;
                    assert_eq!(cpi.samples()[[c, m, n]], Complex32::new(i, -i));
                }
            }
        }
    }
}

#[test]
fn capture_segments_set_time_beam_and_carrier_per_cpi() {
    let dir = tempfile::tempdir().unwrap();
    let s = Shape {
        channels: 1,
        pulses: 4,
        samples: 8,
        cpis: 6,
    };
    let spc = 4 * 8;
    let mut m = meta("ci16_le", s);
    m["captures"] = json!([
        {"core:sample_start": 0, "core:frequency": 9.4e9, "core:datetime": "2026-03-01T12:00:00Z",
         "radar:azimuth_deg": 10.0, "radar:elevation_deg": 1.0},
        {"core:sample_start": 2 * spc, "core:frequency": 9.5e9, "core:datetime": "2026-03-01T12:00:01.5Z",
         "radar:azimuth_deg": 20.0, "radar:elevation_deg": 2.0},
        {"core:sample_start": 3 * spc, "core:frequency": 9.6e9, "core:datetime": "2026-03-01T13:00:00.000001Z",
         "radar:azimuth_deg": 350.5, "radar:elevation_deg": -1.5}
    ]);
    let dt = DataType::parse("ci16_le").unwrap();
    let base = write(dir.path(), "segments", &m, &data_bytes(dt, s));
    let rec = Recording::open(&base).unwrap();
    assert_eq!(rec.captures.len(), 3);
    // CPI = 4 pulses x 1 ms = 4 ms.
    let seg1 = datetime!(2026-03-01 12:00:01.5 UTC);
    let seg2 = datetime!(2026-03-01 13:00:00.000001 UTC);
    let want = [
        (T0, 9.4e9, 10.0, 1.0),
        (T0 + Duration::milliseconds(4), 9.4e9, 10.0, 1.0),
        (seg1, 9.5e9, 20.0, 2.0),
        (seg2, 9.6e9, 350.5, -1.5),
        (seg2 + Duration::milliseconds(4), 9.6e9, 350.5, -1.5),
        (seg2 + Duration::milliseconds(8), 9.6e9, 350.5, -1.5),
    ];
    let streamed: Vec<_> = rec.cpis().unwrap().map(|r| r.unwrap().meta).collect();
    for (k, (time_utc, carrier_hz, azimuth_deg, elevation_deg)) in want.into_iter().enumerate() {
        for meta in [
            rec.cpi_meta(k as u64),
            rec.read_cpi(k as u64).unwrap().meta,
            streamed[k].clone(),
        ] {
            assert_eq!(meta.index, k as u64);
            assert_eq!(meta.time_utc, time_utc, "CPI {k}");
            assert_eq!(meta.carrier_hz, carrier_hz, "CPI {k}");
            assert_eq!(meta.azimuth_deg, azimuth_deg, "CPI {k}");
            assert_eq!(meta.elevation_deg, elevation_deg, "CPI {k}");
        }
    }
}

#[test]
fn meta_data_and_base_paths_open_the_same_recording() {
    let dir = tempfile::tempdir().unwrap();
    let dt = DataType::parse("ci16_be").unwrap();
    // A dot in the name must not confuse the extension handling.
    let base = write(
        dir.path(),
        "site.v2",
        &meta("ci16_be", SMALL),
        &data_bytes(dt, SMALL),
    );
    for path in [meta_path(&base), data_path(&base), base.clone()] {
        let rec = Recording::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(rec.meta_path, meta_path(&base));
        check_all_samples(&rec, dt, false, SMALL);
    }
}

/// Appends a regular file member to a tar builder.
fn tar_append(builder: &mut tar::Builder<fs::File>, name: &str, bytes: &[u8]) {
    let mut header = tar::Header::new_ustar();
    header.set_size(bytes.len() as u64);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_cksum();
    builder.append_data(&mut header, name, bytes).unwrap();
}

fn write_archive(path: &Path, members: &[(&str, &[u8])]) {
    let mut builder = tar::Builder::new(fs::File::create(path).unwrap());
    for (name, bytes) in members {
        tar_append(&mut builder, name, bytes);
    }
    builder.into_inner().unwrap();
}

#[test]
fn sigmf_archive_is_read_in_place_either_member_order() {
    let dir = tempfile::tempdir().unwrap();
    let s = Shape {
        channels: 3,
        pulses: 4,
        samples: 5,
        cpis: 3,
    };
    let dt = DataType::parse("cf64_be").unwrap();
    let mut m = meta("cf64_be", s);
    m["global"]["radar:channels"] = json!(["delta_az", "sum", "delta_el"]);
    let meta_bytes = serde_json::to_vec(&m).unwrap();
    let data = data_bytes(dt, s);
    for (i, data_first) in [true, false].into_iter().enumerate() {
        let archive = dir.path().join(format!("rec{i}.sigmf"));
        let meta_member = (format!("rec{i}/rec{i}.sigmf-meta"), meta_bytes.as_slice());
        let data_member = (format!("rec{i}/rec{i}.sigmf-data"), data.as_slice());
        let members = if data_first {
            [data_member, meta_member]
        } else {
            [meta_member, data_member]
        };
        let members: Vec<(&str, &[u8])> = members.iter().map(|(n, b)| (n.as_str(), *b)).collect();
        write_archive(&archive, &members);
        // By the archive's name, and by the base name when no loose files exist.
        for path in [archive.clone(), dir.path().join(format!("rec{i}"))] {
            let rec = Recording::open(&path).unwrap();
            assert_eq!(rec.meta_path, archive);
            assert_eq!(rec.params.sum_channel, 1);
            check_all_samples(&rec, dt, false, s);
        }
    }
}

#[test]
fn nan_and_inf_are_delivered_not_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let s = Shape {
        channels: 1,
        pulses: 1,
        samples: 3,
        cpis: 2,
    };
    let values = [
        1.0f32,
        2.0,
        f32::NAN,
        0.5,
        -3.0,
        f32::INFINITY,
        0.0,
        0.0,
        1.0,
        1.0,
        2.0,
        2.0,
    ];
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    let base = write(dir.path(), "nan", &meta("cf32_le", s), &bytes);
    let rec = Recording::open(&base).unwrap();
    let cpis: Vec<_> = rec.cpis().unwrap().collect::<Result<_, _>>().unwrap();
    assert!(cpis[0].samples()[[0, 0, 1]].re.is_nan());
    assert_eq!(
        cpis[0].samples()[[0, 0, 2]],
        Complex32::new(-3.0, f32::INFINITY)
    );
    assert!(!cpis[0].channel_is_finite(0));
    assert!(cpis[1].channel_is_finite(0));
    assert_eq!(cpis[1].samples()[[0, 0, 2]], Complex32::new(2.0, 2.0));
}

#[test]
fn streaming_reports_remaining_cpis() {
    let dir = tempfile::tempdir().unwrap();
    let dt = DataType::parse("ci8").unwrap();
    let base = write(
        dir.path(),
        "hint",
        &meta("ci8", SMALL),
        &data_bytes(dt, SMALL),
    );
    let rec = Recording::open(&base).unwrap();
    let mut reader = rec.cpis().unwrap();
    assert_eq!(reader.size_hint(), (3, Some(3)));
    reader.next().unwrap().unwrap();
    assert_eq!(reader.next_index(), 1);
    assert_eq!(reader.size_hint(), (2, Some(2)));
    assert_eq!(reader.count(), 2);
}

// ---------------------------------------------------------------------------
// Bad recordings: the message names the file and the problem.

/// Opens a recording whose metadata is `m` (with valid ci16_le data for
/// SMALL) and returns (error message, metadata path).
fn open_err(m: &Value) -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let dt = DataType::parse("ci16_le").unwrap();
    let base = write(dir.path(), "recording", m, &data_bytes(dt, SMALL));
    let err = Recording::open(&base).expect_err("a bad recording must not open");
    let msg = err.to_string();
    assert!(
        !msg.contains('\n'),
        "error message must be one line: {msg:?}"
    );
    (msg, meta_path(&base).display().to_string())
}

/// Asserts that changing the valid metadata with `edit` gives an error naming
/// the metadata file and each of `needles`.
fn assert_meta_error(edit: impl FnOnce(&mut Value), needles: &[&str]) {
    let mut m = meta("ci16_le", SMALL);
    edit(&mut m);
    let (msg, file) = open_err(&m);
    assert!(
        msg.starts_with(&format!("{file}: ")),
        "message must start with the file: {msg}"
    );
    for needle in needles {
        assert!(
            msg.contains(needle),
            "message must mention {needle:?}: {msg}"
        );
    }
}

fn set(key: &'static str, v: Value) -> impl FnOnce(&mut Value) {
    move |m| m["global"][key] = v
}

fn remove(key: &'static str) -> impl FnOnce(&mut Value) {
    move |m| {
        m["global"].as_object_mut().unwrap().remove(key);
    }
}

fn set_waveform(v: Value) -> impl FnOnce(&mut Value) {
    set("radar:waveform", v)
}

/// A three-channel monopulse meta with `radar:monopulse` = `monopulse` and
/// `radar:channels` = `channels`.
fn monopulse(channels: Value, monopulse: Value) -> impl FnOnce(&mut Value) {
    move |m| {
        m["global"]["core:num_channels"] = json!(3);
        m["global"]["radar:channels"] = channels;
        m["global"]["radar:monopulse"] = monopulse;
    }
}

fn set_capture(i: usize, key: &'static str, v: Value) -> impl FnOnce(&mut Value) {
    move |m| m["captures"][i][key] = v
}

macro_rules! bad_meta {
    ($($name:ident: $edit:expr => [$($needle:expr),+ $(,)?];)+) => {
        $(
            #[test]
            fn $name() {
                assert_meta_error($edit, &[$($needle),+]);
            }
        )+
    };
}

bad_meta! {
    monopulse_missing_key: monopulse(json!(["sum", "delta_az", "delta_el"]),
        json!({"beamwidth_az_deg": 2.0, "beamwidth_el_deg": 2.0, "slope_az": 1.6})) =>
        ["radar:monopulse", "key \"slope_el\" is missing"];
    monopulse_zero_beamwidth: monopulse(json!(["sum", "delta_az", "delta_el"]),
        json!({"beamwidth_az_deg": 0.0, "beamwidth_el_deg": 2.0, "slope_az": 1.6, "slope_el": 1.6})) =>
        ["radar:monopulse", "beamwidth_az_deg", "got 0.0"];
    monopulse_negative_slope: monopulse(json!(["sum", "delta_az", "delta_el"]),
        json!({"beamwidth_az_deg": 2.0, "beamwidth_el_deg": 2.0, "slope_az": -1.6, "slope_el": 1.6})) =>
        ["radar:monopulse", "slope_az", "got -1.6"];
    monopulse_beamwidth_not_a_number: monopulse(json!(["sum", "delta_az", "delta_el"]),
        json!({"beamwidth_az_deg": "2 deg", "beamwidth_el_deg": 2.0, "slope_az": 1.6, "slope_el": 1.6})) =>
        ["radar:monopulse", "beamwidth_az_deg", "\"2 deg\""];
    monopulse_unknown_key: monopulse(json!(["sum", "delta_az", "delta_el"]),
        json!({"beamwidth_deg": 2.0, "beamwidth_az_deg": 2.0, "beamwidth_el_deg": 2.0, "slope_az": 1.6, "slope_el": 1.6})) =>
        ["radar:monopulse", "unknown key \"beamwidth_deg\""];
    monopulse_not_an_object: monopulse(json!(["sum", "delta_az", "delta_el"]), json!(2.0)) =>
        ["radar:monopulse", "an object"];
    monopulse_without_a_difference_channel: monopulse(json!(["sum", "aux", "guard"]),
        json!({"beamwidth_az_deg": 2.0, "beamwidth_el_deg": 2.0, "slope_az": 1.6, "slope_el": 1.6})) =>
        ["radar:monopulse", "radar:channels", "sum, aux, guard", "delta_az"];
    geolocation_height_implausible: set("core:geolocation", json!({"type": "Point", "coordinates": [1.0, 50.0, 1e7]})) =>
        ["core:geolocation", "height"];
    negative_pri: set("radar:pri_s", json!(-1)) =>
        ["key \"radar:pri_s\" must be a positive number of seconds", "got -1"];
    pri_longer_than_a_second: set("radar:pri_s", json!(2.5)) => ["radar:pri_s", "got 2.5"];
    pri_as_string: set("radar:pri_s", json!("1e-3")) => ["radar:pri_s", "got \"1e-3\""];
    missing_datatype: remove("core:datatype") => ["key \"core:datatype\" is missing"];
    missing_sample_rate: remove("core:sample_rate") => ["key \"core:sample_rate\" is missing"];
    missing_version: remove("core:version") => ["key \"core:version\" is missing"];
    wrong_sigmf_major_version: set("core:version", json!("2.0.0")) => ["core:version", "2.0.0"];
    missing_pulses: remove("radar:pulses_per_cpi") => ["key \"radar:pulses_per_cpi\" is missing"];
    missing_samples: remove("radar:samples_per_pulse") => ["key \"radar:samples_per_pulse\" is missing"];
    missing_pri: remove("radar:pri_s") => ["key \"radar:pri_s\" is missing"];
    missing_window_delay: remove("radar:window_delay_s") => ["key \"radar:window_delay_s\" is missing"];
    missing_waveform: remove("radar:waveform") => ["key \"radar:waveform\" is missing"];
    zero_pulses: set("radar:pulses_per_cpi", json!(0)) => ["radar:pulses_per_cpi", "got 0"];
    too_many_pulses: set("radar:pulses_per_cpi", json!(65537)) => ["radar:pulses_per_cpi", "65536", "got 65537"];
    fractional_pulses: set("radar:pulses_per_cpi", json!(4.5)) => ["radar:pulses_per_cpi", "got 4.5"];
    negative_samples: set("radar:samples_per_pulse", json!(-8)) => ["radar:samples_per_pulse", "got -8"];
    too_many_samples: set("radar:samples_per_pulse", json!(4_194_305)) =>
        ["radar:samples_per_pulse", "4194304", "got 4194305"];
    zero_samples: set("radar:samples_per_pulse", json!(0)) => ["radar:samples_per_pulse", "got 0"];
    negative_window_delay: set("radar:window_delay_s", json!(-1e-6)) =>
        ["radar:window_delay_s", "non-negative", "got -1e-6"];
    zero_sample_rate: set("core:sample_rate", json!(0)) => ["core:sample_rate", "got 0"];
    negative_sample_rate: set("core:sample_rate", json!(-1e6)) => ["core:sample_rate", "got -1000000.0"];
    sample_rate_as_string: set("core:sample_rate", json!("1 MHz")) => ["core:sample_rate", "\"1 MHz\""];
    zero_channels: set("core:num_channels", json!(0)) => ["core:num_channels", "got 0"];
    missing_extensions: remove("core:extensions") => ["core:extensions", "radar"];
    extensions_without_radar: set("core:extensions", json!([{"name": "antenna", "version": "1.0.0", "optional": true}])) =>
        ["core:extensions", "does not list the radar extension"];
    radar_extension_new_major: set("core:extensions", json!([{"name": "radar", "version": "1.0.0", "optional": false}])) =>
        ["core:extensions", "\"1.0.0\""];
    unsigned_datatype: set("core:datatype", json!("cu8")) => ["core:datatype \"cu8\" is not supported"];
    real_datatype: set("core:datatype", json!("ri16_le")) => ["\"ri16_le\""];
    datatype_without_byte_order: set("core:datatype", json!("ci16")) => ["\"ci16\" is not supported"];
    unknown_waveform: set_waveform(json!({"type": "barker", "pulse_width_s": 1e-5})) =>
        ["radar:waveform", "key \"type\"", "\"barker\""];
    zero_pulse_width: set_waveform(json!({"type": "rect", "pulse_width_s": 0})) =>
        ["radar:waveform", "pulse_width_s", "got 0"];
    pulse_shorter_than_a_sample: set_waveform(json!({"type": "rect", "pulse_width_s": 4e-7})) =>
        ["radar:waveform", "pulse_width_s", "shorter than one sample"];
    lfm_wider_than_sample_rate: set_waveform(json!({"type": "lfm", "bandwidth_hz": 2e6, "pulse_width_s": 1e-5})) =>
        ["radar:waveform", "bandwidth_hz", "core:sample_rate", "complex baseband"];
    lfm_without_bandwidth: set_waveform(json!({"type": "lfm", "pulse_width_s": 1e-5})) =>
        ["radar:waveform", "key \"bandwidth_hz\" is missing"];
    waveform_not_an_object: set_waveform(json!("lfm")) => ["radar:waveform", "an object"];
    pulse_longer_than_pri: set_waveform(json!({"type": "rect", "pulse_width_s": 2e-3})) =>
        ["pulse_width_s", "longer than radar:pri_s"];
    pri_shorter_than_receive_window: |m: &mut Value| {
        m["global"]["radar:pri_s"] = json!(5e-6);
        m["global"]["radar:waveform"] = json!({"type": "rect", "pulse_width_s": 2e-6});
    } => ["radar:pri_s", "shorter than the receive window", "radar:samples_per_pulse"];
    channel_names_miscounted: set("radar:channels", json!(["sum", "delta_az"])) =>
        ["radar:channels", "2 channels", "core:num_channels is 1"];
    channel_names_not_strings: set("radar:channels", json!([1])) => ["radar:channels", "got [1]"];
    geolocation_missing_latitude: set("core:geolocation", json!({"type": "Point", "coordinates": [1.0]})) =>
        ["core:geolocation", "GeoJSON Point"];
    geolocation_latitude_out_of_range: set("core:geolocation", json!({"type": "Point", "coordinates": [1.0, 95.0]})) =>
        ["core:geolocation", "latitude"];
    simulated_not_bool: set("radar:simulated", json!("yes")) => ["radar:simulated", "\"yes\""];
    trailing_bytes_unsupported: set("core:trailing_bytes", json!(16)) =>
        ["core:trailing_bytes", "non-conforming", "got 16"];
    header_bytes_unsupported: set_capture(0, "core:header_bytes", json!(512)) =>
        ["captures[0]", "core:header_bytes", "512"];
    no_captures: |m: &mut Value| m["captures"] = json!([]) => ["\"captures\" is empty"];
    captures_missing: |m: &mut Value| { m.as_object_mut().unwrap().remove("captures"); } =>
        ["key \"captures\" is missing"];
    capture_not_on_cpi_boundary: |m: &mut Value| {
        let mut c = m["captures"][0].clone();
        c["core:sample_start"] = json!(40);
        m["captures"].as_array_mut().unwrap().push(c);
    } => ["captures[1]", "core:sample_start", "multiple of", "32", "got 40"];
    first_capture_not_at_zero: set_capture(0, "core:sample_start", json!(32)) =>
        ["captures[0]", "core:sample_start", "must be 0", "got 32"];
    captures_unsorted: |m: &mut Value| {
        let c = m["captures"][0].clone();
        let mut c2 = c.clone();
        c2["core:sample_start"] = json!(64);
        let mut c3 = c.clone();
        c3["core:sample_start"] = json!(32);
        m["captures"] = json!([c, c2, c3]);
    } => ["captures[2]", "core:sample_start 32", "sorted"];
    capture_missing_frequency: |m: &mut Value| {
        m["captures"][0].as_object_mut().unwrap().remove("core:frequency");
    } => ["captures[0]", "key \"core:frequency\" is missing"];
    capture_zero_frequency: set_capture(0, "core:frequency", json!(0)) => ["captures[0]", "core:frequency", "got 0"];
    capture_bad_datetime: set_capture(0, "core:datetime", json!("yesterday")) =>
        ["captures[0]", "core:datetime", "RFC 3339", "\"yesterday\""];
    capture_datetime_not_utc: set_capture(0, "core:datetime", json!("2026-03-01T12:00:00+02:00")) =>
        ["captures[0]", "core:datetime", "UTC"];
    capture_missing_azimuth: |m: &mut Value| {
        m["captures"][0].as_object_mut().unwrap().remove("radar:azimuth_deg");
    } => ["captures[0]", "key \"radar:azimuth_deg\" is missing"];
    capture_elevation_out_of_range: set_capture(0, "radar:elevation_deg", json!(91)) =>
        ["captures[0]", "radar:elevation_deg", "got 91"];
    capture_past_end_of_data: |m: &mut Value| {
        let mut c = m["captures"][0].clone();
        c["core:sample_start"] = json!(3 * 32);
        m["captures"].as_array_mut().unwrap().push(c);
    } => ["captures[1]", "CPI 3", "past the end of the data (3 CPIs)"];
    capture_not_an_object: |m: &mut Value| m["captures"] = json!([7]) => ["captures[0]", "object"];
    oversized_cpi: |m: &mut Value| {
        m["global"]["radar:pulses_per_cpi"] = json!(65536);
        m["global"]["radar:samples_per_pulse"] = json!(5000);
        m["global"]["radar:pri_s"] = json!(0.01);
    } => ["radar:pulses_per_cpi", "radar:samples_per_pulse", "65536 x 5000", "limit"];
}

#[test]
fn json_syntax_error_gives_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let meta = dir.path().join("broken.sigmf-meta");
    fs::write(
        &meta,
        "{\n  \"global\": {\n    \"core:datatype\": \"ci8\",,\n",
    )
    .unwrap();
    fs::write(dir.path().join("broken.sigmf-data"), [0u8; 64]).unwrap();
    let msg = Recording::open(&meta).unwrap_err().to_string();
    assert!(
        msg.starts_with(&format!(
            "{}: not valid JSON at line 3, column ",
            meta.display()
        )),
        "{msg}"
    );
}

#[test]
fn top_level_not_an_object() {
    let (msg, file) = open_err(&json!([1, 2]));
    assert!(
        msg.starts_with(&format!("{file}: ")) && msg.contains("\"global\""),
        "{msg}"
    );
}

#[test]
fn missing_metadata_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("nothing");
    let msg = Recording::open(&base).unwrap_err().to_string();
    assert!(
        msg.starts_with(&format!(
            "{}: cannot open the metadata file",
            meta_path(&base).display()
        )),
        "{msg}"
    );
}

#[test]
fn missing_data_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let base = write(dir.path(), "nodata", &meta("ci8", SMALL), &[]);
    fs::remove_file(data_path(&base)).unwrap();
    let err = Recording::open(&meta_path(&base)).unwrap_err();
    assert!(matches!(err, IngestError::Io { .. }));
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!(
            "{}: cannot open the data file",
            data_path(&base).display()
        )),
        "{msg}"
    );
}

#[test]
fn partial_cpi_reports_the_byte_count() {
    let dir = tempfile::tempdir().unwrap();
    // SMALL ci16_le: one CPI = 4 pulses x 8 samples x 4 bytes = 128 bytes.
    let base = write(dir.path(), "partial", &meta("ci16_le", SMALL), &[0u8; 300]);
    let msg = Recording::open(&base).unwrap_err().to_string();
    assert_eq!(
        msg,
        format!(
            "{}: 300 bytes is not a whole number of CPIs (one CPI = 128 bytes; 2.34 CPIs)",
            data_path(&base).display()
        )
    );
}

#[test]
fn empty_data_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let base = write(dir.path(), "empty", &meta("ci16_le", SMALL), &[]);
    let msg = Recording::open(&base).unwrap_err().to_string();
    assert_eq!(
        msg,
        format!(
            "{}: holds no CPI (0 bytes; one CPI = 128 bytes)",
            data_path(&base).display()
        )
    );
}

#[test]
fn cpi_past_the_end_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let dt = DataType::parse("ci8").unwrap();
    let base = write(
        dir.path(),
        "range",
        &meta("ci8", SMALL),
        &data_bytes(dt, SMALL),
    );
    let rec = Recording::open(&base).unwrap();
    let msg = rec.read_cpi(3).unwrap_err().to_string();
    assert!(
        msg.starts_with(&data_path(&base).display().to_string()) && msg.contains("CPI 3"),
        "{msg}"
    );
    assert!(rec.read_cpi(u64::MAX).is_err());
}

#[test]
fn data_shrinking_after_open_is_reported_not_panicked() {
    let dir = tempfile::tempdir().unwrap();
    let dt = DataType::parse("ci16_le").unwrap();
    let base = write(
        dir.path(),
        "shrink",
        &meta("ci16_le", SMALL),
        &data_bytes(dt, SMALL),
    );
    let rec = Recording::open(&base).unwrap();
    fs::write(data_path(&base), &data_bytes(dt, SMALL)[..200]).unwrap();
    let results: Vec<_> = rec.cpis().unwrap().collect();
    assert_eq!(results.len(), 2, "stops after the first error");
    assert!(results[0].is_ok());
    let msg = results[1].as_ref().unwrap_err().to_string();
    assert!(
        msg.starts_with(&data_path(&base).display().to_string()) && msg.contains("CPI 1"),
        "{msg}"
    );
    assert!(rec.read_cpi(2).is_err());
}

#[test]
fn archive_with_no_recording() {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("empty.sigmf");
    write_archive(&archive, &[("README", b"nothing here")]);
    let msg = Recording::open(&archive).unwrap_err().to_string();
    assert!(
        msg.starts_with(&format!("{}: holds no recording", archive.display())),
        "{msg}"
    );
}

#[test]
fn archive_with_two_recordings_lists_them() {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("two.sigmf");
    let m = serde_json::to_vec(&meta("ci8", SMALL)).unwrap();
    let d = data_bytes(DataType::parse("ci8").unwrap(), SMALL);
    write_archive(
        &archive,
        &[
            ("x/a.sigmf-meta", &m),
            ("x/a.sigmf-data", &d),
            ("x/b.sigmf-meta", &m),
            ("x/b.sigmf-data", &d),
        ],
    );
    let msg = Recording::open(&archive).unwrap_err().to_string();
    assert!(
        msg.starts_with(&format!("{}: holds 2 recordings", archive.display())),
        "{msg}"
    );
    assert!(msg.contains("x/a") && msg.contains("x/b"), "{msg}");
}

#[test]
fn archive_without_data_member() {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("half.sigmf");
    let m = serde_json::to_vec(&meta("ci8", SMALL)).unwrap();
    write_archive(&archive, &[("x/a.sigmf-meta", &m)]);
    let msg = Recording::open(&archive).unwrap_err().to_string();
    assert!(
        msg.starts_with(&archive.display().to_string()) && msg.contains("x/a.sigmf-meta"),
        "{msg}"
    );
    assert!(msg.contains("no matching .sigmf-data"), "{msg}");
}

#[test]
fn archive_member_errors_name_archive_and_member() {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("bad.sigmf");
    let mut m = meta("ci8", SMALL);
    m["global"]["radar:pri_s"] = json!(0);
    let m = serde_json::to_vec(&m).unwrap();
    write_archive(
        &archive,
        &[("x/a.sigmf-meta", &m), ("x/a.sigmf-data", &[0u8; 64])],
    );
    let msg = Recording::open(&archive).unwrap_err().to_string();
    assert!(
        msg.starts_with(&format!("{}: member x/a.sigmf-meta: ", archive.display())),
        "{msg}"
    );
    assert!(msg.contains("radar:pri_s"), "{msg}");

    let good = serde_json::to_vec(&meta("ci8", SMALL)).unwrap();
    write_archive(
        &archive,
        &[("x/a.sigmf-meta", &good), ("x/a.sigmf-data", &[0u8; 65])],
    );
    let msg = Recording::open(&archive).unwrap_err().to_string();
    assert!(
        msg.starts_with(&format!(
            "{}: member x/a.sigmf-data: 65 bytes",
            archive.display()
        )),
        "{msg}"
    );
}

#[test]
fn garbage_archive_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("noise.sigmf");
    let noise: Vec<u8> = (0..5000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    fs::write(&archive, noise).unwrap();
    let msg = Recording::open(&archive).unwrap_err().to_string();
    assert!(msg.starts_with(&archive.display().to_string()), "{msg}");

    // A valid archive cut short inside the data member.
    let m = serde_json::to_vec(&meta("ci8", SMALL)).unwrap();
    let d = data_bytes(DataType::parse("ci8").unwrap(), SMALL);
    write_archive(&archive, &[("x/a.sigmf-meta", &m), ("x/a.sigmf-data", &d)]);
    let bytes = fs::read(&archive).unwrap();
    let cut = bytes
        .windows(d.len())
        .position(|w| w == d.as_slice())
        .unwrap()
        + 10;
    fs::write(&archive, &bytes[..cut]).unwrap();
    let msg = Recording::open(&archive).unwrap_err().to_string();
    assert!(msg.starts_with(&archive.display().to_string()), "{msg}");
}

#[test]
fn truncated_metadata_never_panics() {
    // Every prefix of a valid metadata file gives an error, never a panic
    // (byte-level mutations are covered by the module's unit tests, without
    // file I/O).
    let dir = tempfile::tempdir().unwrap();
    let dt = DataType::parse("ci16_le").unwrap();
    let base = write(
        dir.path(),
        "cut",
        &meta("ci16_le", SMALL),
        &data_bytes(dt, SMALL),
    );
    let good = fs::read(meta_path(&base)).unwrap();
    for n in 0..good.len() {
        fs::write(meta_path(&base), &good[..n]).unwrap();
        let msg = Recording::open(&base)
            .expect_err("a cut metadata file must not open")
            .to_string();
        assert!(
            msg.starts_with(&meta_path(&base).display().to_string()),
            "{msg}"
        );
    }
}
