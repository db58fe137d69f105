//! Writing a simulation as a SigMF recording (formats.md §1) plus its truth file.
//!
//! Files are written under temporary names (`*.partial`) and renamed when
//! complete, the `.sigmf-meta` last, so an interrupted run never leaves a
//! recording that looks complete. Existing files at the prefix are replaced.

use std::ffi::OsString;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use ndarray::Array3;
use rustfft::num_complex::Complex32;
use serde_json::{Value, json};

use super::SimError;
use super::model::{Simulator, coherent_gain_db};
use super::truth::{CpiTruth, Truth};

/// The three output paths for a prefix.
struct OutPaths {
    meta: PathBuf,
    data: PathBuf,
    truth: PathBuf,
}

impl OutPaths {
    fn new(prefix: &Path) -> Self {
        // Accept `rec`, `rec.sigmf`, `rec.sigmf-meta` or `rec.sigmf-data` alike.
        let mut base = prefix.as_os_str().to_owned();
        for ext in [".sigmf-meta", ".sigmf-data", ".sigmf"] {
            if let Some(s) = base.to_str().and_then(|s| s.strip_suffix(ext)) {
                base = OsString::from(s);
                break;
            }
        }
        let with = |ext: &str| {
            let mut p = base.clone();
            p.push(ext);
            PathBuf::from(p)
        };
        OutPaths {
            meta: with(".sigmf-meta"),
            data: with(".sigmf-data"),
            truth: with(".truth.json"),
        }
    }
}

fn partial(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".partial");
    PathBuf::from(p)
}

fn io_err<'a>(
    path: &'a Path,
    action: &'static str,
) -> impl FnOnce(std::io::Error) -> SimError + 'a {
    move |source| SimError::Io {
        path: path.to_path_buf(),
        action,
        source,
    }
}

/// Appends one CPI to `out`, channel-interleaved, in the scenario's sample
/// format; returns the number of saturated I/Q values.
fn write_cpi(
    out: &mut impl Write,
    samples: &Array3<Complex32>,
    counts_per_unit: Option<f64>,
    buf: &mut Vec<u8>,
) -> std::io::Result<u64> {
    let (channels, pulses, n_samples) = samples.dim();
    let mut clipped = 0u64;
    for m in 0..pulses {
        buf.clear();
        for n in 0..n_samples {
            for c in 0..channels {
                let z = samples[[c, m, n]];
                match counts_per_unit {
                    None => {
                        buf.extend_from_slice(&z.re.to_le_bytes());
                        buf.extend_from_slice(&z.im.to_le_bytes());
                    }
                    Some(scale) => {
                        for x in [z.re, z.im] {
                            let v = (f64::from(x) * scale).round();
                            if !(-32768.0..=32767.0).contains(&v) {
                                clipped += 1;
                            }
                            // `as` saturates, which is the documented behaviour.
                            buf.extend_from_slice(&(v as i16).to_le_bytes());
                        }
                    }
                }
            }
        }
        out.write_all(buf)?;
    }
    Ok(clipped)
}

/// One SigMF capture segment for a CPI.
fn capture(cpi: &CpiTruth, samples_per_cpi: u64) -> Value {
    json!({
        "core:sample_start": cpi.cpi * samples_per_cpi,
        "core:frequency": cpi.carrier_hz,
        "core:datetime": cpi.time_utc,
        "radar:azimuth_deg": cpi.azimuth_deg,
        "radar:elevation_deg": cpi.elevation_deg,
    })
}

fn global(sim: &Simulator, seed: u64) -> Value {
    let s = sim.scenario();
    let p = sim.params();
    let mut g = serde_json::Map::new();
    g.insert("core:datatype".into(), json!(s.datatype.sigmf_name()));
    g.insert("core:sample_rate".into(), json!(p.sample_rate_hz));
    g.insert("core:version".into(), json!("1.2.0"));
    g.insert(
        "core:description".into(),
        json!(format!(
            "tews simulated radar recording, seed {seed}, {} CPIs, {} targets, noise_power {}{}",
            s.num_cpis,
            s.targets.len(),
            s.noise_power,
            s.counts_per_unit().map_or(String::new(), |c| format!(
                ", ci16 counts per model unit {c}"
            )),
        )),
    );
    g.insert(
        "core:recorder".into(),
        json!(format!("tews simulate {}", env!("CARGO_PKG_VERSION"))),
    );
    g.insert(
        "core:extensions".into(),
        json!([{"name": "radar", "version": "0.1.0", "optional": false}]),
    );
    if p.num_channels > 1 {
        g.insert("core:num_channels".into(), json!(p.num_channels));
    }
    if let Some(site) = &s.site {
        g.insert(
            "core:geolocation".into(),
            json!({"type": "Point", "coordinates": [site.longitude_deg, site.latitude_deg, site.height_m]}),
        );
    }
    g.insert("radar:pulses_per_cpi".into(), json!(p.pulses_per_cpi));
    g.insert("radar:samples_per_pulse".into(), json!(p.samples_per_pulse));
    g.insert("radar:pri_s".into(), json!(p.pri_s));
    g.insert("radar:window_delay_s".into(), json!(p.window_delay_s));
    g.insert("radar:waveform".into(), json!(p.waveform));
    g.insert("radar:simulated".into(), json!(true));
    if !p.channel_names.is_empty() {
        g.insert("radar:channels".into(), json!(p.channel_names));
    }
    if let Some(m) = &p.monopulse {
        g.insert("radar:monopulse".into(), json!(m));
    }
    Value::Object(g)
}

/// Generates every CPI, writes the recording and truth, returns the truth.
pub(super) fn write_recording(
    sim: &Simulator,
    seed: u64,
    prefix: &Path,
) -> Result<Truth, SimError> {
    let paths = OutPaths::new(prefix);
    let result = write_partials(sim, seed, &paths);
    if result.is_err() {
        for p in [&paths.data, &paths.truth, &paths.meta] {
            // Best effort: the original error is the one worth reporting.
            let _ = std::fs::remove_file(partial(p));
        }
    }
    let truth = result?;
    // Remove a stale meta first, so no moment shows an old meta over new data.
    match std::fs::remove_file(&paths.meta) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(io_err(&paths.meta, "replace")(e));
        }
        _ => {}
    }
    for p in [&paths.data, &paths.truth, &paths.meta] {
        std::fs::rename(partial(p), p).map_err(io_err(p, "rename into place"))?;
    }
    Ok(truth)
}

fn write_partials(sim: &Simulator, seed: u64, paths: &OutPaths) -> Result<Truth, SimError> {
    let s = sim.scenario();
    let p = sim.params();
    let data_tmp = partial(&paths.data);
    let file = File::create(&data_tmp).map_err(io_err(&data_tmp, "create"))?;
    let mut data = BufWriter::with_capacity(1 << 20, file);
    let counts_per_unit = s.counts_per_unit();
    let samples_per_cpi = p.samples_per_cpi() as u64;
    let mut captures: Vec<Value> = Vec::new();
    let mut last_beam: Option<(f64, f64, f64)> = None;
    // With `[looks]`, CPIs are not back to back: each starts a segment.
    let every_cpi_a_segment = s.looks.is_some();
    let mut cpis = Vec::with_capacity(s.num_cpis as usize);
    let mut targets = Vec::with_capacity(s.num_cpis as usize * s.targets.len());
    let mut clipped = 0u64;
    let mut buf = Vec::new();
    for k in 0..s.num_cpis {
        let samples = sim.cpi_samples(k);
        clipped += write_cpi(&mut data, &samples, counts_per_unit, &mut buf)
            .map_err(io_err(&data_tmp, "write"))?;
        let (cpi_truth, target_truth) = sim.cpi_truth(k)?;
        let beam = (
            cpi_truth.carrier_hz,
            cpi_truth.azimuth_deg,
            cpi_truth.elevation_deg,
        );
        if last_beam != Some(beam) || every_cpi_a_segment {
            captures.push(capture(&cpi_truth, samples_per_cpi));
            last_beam = Some(beam);
        }
        cpis.push(cpi_truth);
        targets.extend(target_truth);
    }
    let file = data
        .into_inner()
        .map_err(|e| io_err(&data_tmp, "write")(e.into_error()))?;
    file.sync_all().map_err(io_err(&data_tmp, "sync"))?;
    if clipped > 0 {
        tracing::warn!(
            clipped,
            "ci16 conversion saturated {clipped} I/Q values; lower ci16_counts_per_unit"
        );
    }

    let scale = counts_per_unit.map_or(1.0, |c| c / 32768.0);
    let truth = Truth {
        format: "tews-sim-truth/1".to_string(),
        seed,
        scenario: s.clone(),
        datatype: s.datatype.sigmf_name().to_string(),
        sample_scale: scale,
        recorded_noise_power: s.noise_power * scale * scale,
        clipped_values: clipped,
        wavelength_m: sim.wavelength_m(),
        unambiguous_velocity_mps: p.unambiguous_velocity_mps(s.radar.carrier_hz),
        range_bin_m: p.range_bin_m(),
        velocity_bin_mps: p.velocity_bin_mps(s.radar.carrier_hz),
        coherent_gain_db: coherent_gain_db(p),
        cpis,
        targets,
        trajectories: sim.trajectory_truth()?,
    };
    let meta = json!({
        "global": global(sim, seed),
        "captures": captures,
        "annotations": [],
    });
    write_json(&partial(&paths.meta), &meta)?;
    let truth_value = serde_json::to_value(&truth).map_err(|e| SimError::Json(e.to_string()))?;
    write_json(&partial(&paths.truth), &truth_value)?;
    Ok(truth)
}

fn write_json(path: &Path, value: &Value) -> Result<(), SimError> {
    let mut text =
        serde_json::to_string_pretty(value).map_err(|e| SimError::Json(e.to_string()))?;
    text.push('\n');
    std::fs::write(path, text).map_err(io_err(path, "write"))
}
