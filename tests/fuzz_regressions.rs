//! The fuzz targets' inputs replayed on stable Rust, without a fuzzer: every
//! seed (`fuzz/seeds/<target>/`) and every input that ever crashed a target
//! (`fuzz/regressions/<target>/`, kept forever) goes through the same code
//! as its target in `fuzz/fuzz_targets/`, and none may panic. Issue 12's
//! numbered cases are tests of their own in `tests/hardening.rs`.

use std::io::Write;
use std::path::{Path, PathBuf};
use tews::ingest::vrt::{AssemblerConfig, CpiAssembler};

fn inputs(target: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut files = Vec::new();
    for kind in ["seeds", "regressions"] {
        if let Ok(dir) = std::fs::read_dir(root.join(kind).join(target)) {
            files.extend(dir.map(|e| e.unwrap().path()));
        }
    }
    files.sort();
    files
}

fn vrt_packet(data: &[u8]) {
    let _ = tews::ingest::vrt::parse(data);
}

fn cpi_assembler(data: &[u8]) -> u64 {
    let Some((&shape, mut rest)) = data.split_first() else {
        return 0;
    };
    let mut asm = CpiAssembler::new(AssemblerConfig {
        pulses_per_cpi: 1 + (shape & 0x07) as usize,
        samples_per_pulse: 1 + (shape >> 3) as usize,
        stream_id: None,
    });
    let mut cpis = 0;
    while rest.len() >= 2 {
        let n = u16::from_be_bytes([rest[0], rest[1]]) as usize;
        rest = &rest[2..];
        let datagram = &rest[..n.min(rest.len())];
        rest = &rest[datagram.len()..];
        if let Some(cpi) = asm.push_datagram(datagram) {
            let _ = cpi.samples().len();
            cpis += 1;
        }
    }
    asm.finish();
    cpis
}

fn site_toml(data: &[u8]) -> bool {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(site) = tews::site::SiteConfig::from_toml_str(text, "fuzz.toml")
    {
        if let Some(radar) = &site.radar {
            let _ = tews::process::ChainPlan::new(&radar.params(), &Default::default());
        }
        return true;
    }
    false
}

fn scenario_toml(data: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(data) else {
        return false;
    };
    let Ok(scenario) = tews::sim::Scenario::from_toml_str(text, "fuzz.toml") else {
        return false;
    };
    match tews::sim::model::Simulator::new(&scenario, 1) {
        Ok(sim) => {
            for k in [0, scenario.num_cpis.saturating_sub(1)] {
                let _ = sim.cpi_truth(k);
            }
            true
        }
        Err(_) => false,
    }
}

fn sigmf_recording(data: &[u8]) -> usize {
    let dir = tempfile::tempdir().unwrap();
    let (meta, bytes) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let write = |name: &str, content: &[u8]| {
        let mut f = std::fs::File::create(dir.path().join(name)).unwrap();
        f.write_all(content).unwrap();
    };
    write("r.sigmf-meta", meta);
    write("r.sigmf-data", bytes);
    write("a.sigmf", data);
    let mut opened = 0;
    for path in ["r.sigmf-meta", "a.sigmf"] {
        if let Ok(rec) = tews::ingest::sigmf::Recording::open(&dir.path().join(path))
            && let Ok(cpis) = rec.cpis()
        {
            opened += 1;
            for cpi in cpis.take(4).flatten() {
                let _ = cpi.samples().len();
            }
        }
    }
    opened
}

#[test]
fn every_seed_and_past_crash_runs_without_a_panic() {
    let mut total = 0;
    for p in inputs("vrt_packet") {
        vrt_packet(&std::fs::read(&p).unwrap());
        total += 1;
    }
    for p in inputs("cpi_assembler") {
        cpi_assembler(&std::fs::read(&p).unwrap());
        total += 1;
    }
    for p in inputs("site_toml") {
        site_toml(&std::fs::read(&p).unwrap());
        total += 1;
    }
    for p in inputs("scenario_toml") {
        scenario_toml(&std::fs::read(&p).unwrap());
        total += 1;
    }
    for p in inputs("sigmf_recording") {
        sigmf_recording(&std::fs::read(&p).unwrap());
        total += 1;
    }
    assert!(total >= 5, "the seed corpora are in fuzz/seeds/");
}

#[test]
fn the_seeds_reach_past_the_parsers() {
    // A seed that every parser rejects exercises nothing beyond it: the
    // seeds made by fuzz/make_seeds.sh are valid inputs.
    let read = |t: &str, name: &str| {
        std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("fuzz/seeds")
                .join(t)
                .join(name),
        )
        .unwrap()
    };
    assert!(tews::ingest::vrt::parse(&read("vrt_packet", "datagram-0")).is_ok());
    assert_eq!(cpi_assembler(&read("cpi_assembler", "tiny-stream")), 3);
    assert!(site_toml(&read("site_toml", "documented.toml")));
    assert!(scenario_toml(&read("scenario_toml", "tiny.toml")));
    assert_eq!(
        sigmf_recording(&read("sigmf_recording", "tiny.meta-nul-data")),
        1
    );
    assert_eq!(sigmf_recording(&read("sigmf_recording", "tiny.sigmf")), 1);
}
