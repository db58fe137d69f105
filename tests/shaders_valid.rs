//! Every WGSL file in `shaders/` parses and validates with naga, as the
//! device will see it (`common.wgsl` + stage), without a GPU: a WGSL error
//! is a failing test here, not a run-time error on a site server.

use tews::process::gpu::shaders;
use wgpu::naga;

fn validate(name: &str, text: &str) {
    let module = naga::front::wgsl::parse_str(text)
        .unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(text)));
    naga::valid::Validator::new(
        naga::valid::ValidationFlags::all(),
        naga::valid::Capabilities::default(),
    )
    .validate(&module)
    .unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(text)));
}

#[test]
fn every_shader_file_validates() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .expect("shaders/ exists")
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|f| f.ends_with(".wgsl"))
        .collect();
    files.sort();
    assert!(files.contains(&"common.wgsl".to_string()));
    for file in &files {
        if file == "common.wgsl" {
            validate(file, shaders::COMMON);
            continue;
        }
        // A stage file the binary does not embed would never run: fail.
        let text = shaders::source(file)
            .unwrap_or_else(|| panic!("{file} is not listed in shaders::STAGES"));
        // The embedded copy is the file on disk.
        let on_disk = std::fs::read_to_string(dir.join(file)).unwrap();
        assert_eq!(text, shaders::compose(&on_disk), "{file}");
        validate(file, &text);
    }
    assert_eq!(
        files.len(),
        shaders::STAGES.len() + 1,
        "shaders/ and shaders::STAGES disagree: {files:?}"
    );
}

#[test]
fn fft_shader_has_its_entry_points() {
    let text = shaders::source("fft.wgsl").unwrap();
    let module = naga::front::wgsl::parse_str(&text).unwrap();
    let mut names: Vec<&str> = module
        .entry_points
        .iter()
        .map(|e| e.name.as_str())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "bluestein_post",
            "bluestein_post_filtered",
            "bluestein_pre",
            "conv_registers",
            "conv_registers_cf32",
            "conv_registers_ci16",
            "fft_columns",
            "fft_columns_cf32",
            "fft_columns_ci16",
            "fft_global",
            "fft_global_filtered",
            "fft_rows",
            "fft_rows_convolve",
            "fft_rows_filtered",
            "fft_shared",
            "fft_shared_filtered",
            "fft_shared_power"
        ]
    );
}
