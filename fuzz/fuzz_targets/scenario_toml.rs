//! Scenario text through parsing and validation, and for an accepted
//! scenario the truth of its first and last CPI (time arithmetic included),
//! never a panic. Samples are not generated (too slow for a fuzzer).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(scenario) = tews::sim::Scenario::from_toml_str(text, "fuzz.toml") else {
        return;
    };
    if let Ok(sim) = tews::sim::model::Simulator::new(&scenario, 1) {
        for k in [0, scenario.num_cpis.saturating_sub(1)] {
            let _ = sim.cpi_truth(k);
        }
    }
});
