//! A SigMF recording: the input is the meta JSON, a NUL byte, then the data
//! bytes (no NUL: meta only, empty data). Written to a temporary directory
//! and opened as tews run would; an accepted recording is read CPI by CPI.
//! A `.sigmf` archive is tried too when the input starts with a tar header.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::io::Write;

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().expect("temporary directory");
    let (meta, bytes) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let write = |name: &str, content: &[u8]| {
        let mut f = std::fs::File::create(dir.path().join(name)).expect("create");
        f.write_all(content).expect("write");
    };
    write("r.sigmf-meta", meta);
    write("r.sigmf-data", bytes);
    write("a.sigmf", data);
    for path in ["r.sigmf-meta", "a.sigmf"] {
        if let Ok(rec) = tews::ingest::sigmf::Recording::open(&dir.path().join(path))
            && let Ok(cpis) = rec.cpis()
        {
            for cpi in cpis.take(4) {
                if let Ok(cpi) = cpi {
                    let _ = cpi.samples().len();
                }
            }
        }
    }
});
