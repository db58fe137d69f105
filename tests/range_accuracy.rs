//! A plot's `range_sigma_m` against simulated truth: over targets from
//! about 15 to 37 dB, the range errors divided by their reported sigmas
//! have an RMS near 1 (an honest sigma is neither over- nor under-confident).

mod common;

use std::process::Command;

#[test]
fn range_sigma_matches_the_errors_across_snr() {
    let scenario = tews::sim::Scenario::from_toml_str(
        include_str!("data/range_accuracy.toml"),
        "range_accuracy.toml",
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("rec");
    let truth = tews::sim::simulate(&scenario, 11, &prefix).unwrap();
    let plots = dir.path().join("p.jsonl");
    let out = Command::new(common::tews_bin())
        .args(["run", "-q", "--backend", "cpu", "--input"])
        .arg(&prefix)
        .arg("--output")
        .arg(format!("jsonl:{}", plots.display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plots: Vec<serde_json::Value> = std::fs::read_to_string(&plots)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut per_target = vec![Vec::new(); scenario.targets.len()];
    for t in &truth.targets {
        let best = plots
            .iter()
            .filter(|p| {
                p["cpi"] == t.cpi && (p["range_m"].as_f64().unwrap() - t.range_m).abs() < 100.0
            })
            .max_by(|a, b| {
                a["snr_db"]
                    .as_f64()
                    .partial_cmp(&b["snr_db"].as_f64())
                    .unwrap()
            });
        if let Some(p) = best {
            let z =
                (p["range_m"].as_f64().unwrap() - t.range_m) / p["range_sigma_m"].as_f64().unwrap();
            per_target[t.target].push((z, p["snr_db"].as_f64().unwrap()));
        }
    }
    let rms = |v: &[(f64, f64)]| (v.iter().map(|x| x.0 * x.0).sum::<f64>() / v.len() as f64).sqrt();
    let all: Vec<(f64, f64)> = per_target.iter().flatten().copied().collect();
    for (i, v) in per_target.iter().enumerate() {
        let snr = v.iter().map(|x| x.1).sum::<f64>() / v.len().max(1) as f64;
        eprintln!(
            "target {i}: {} plots at {snr:.1} dB, z rms {:.2}",
            v.len(),
            rms(v)
        );
        if v.len() >= 30 {
            // 30+ samples: the RMS of unit normals is 1 +- 0.13 (1 sigma).
            assert!(
                (0.65..1.4).contains(&rms(v)),
                "target {i}: z rms {}",
                rms(v)
            );
        }
    }
    let total = rms(&all);
    eprintln!("all: {} plots, z rms {total:.3}", all.len());
    assert!(all.len() >= 200);
    assert!((0.85..1.2).contains(&total), "z rms {total}");
}
