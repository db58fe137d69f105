//! Site configuration text: a config or a one-line error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(site) = tews::site::SiteConfig::from_toml_str(text, "fuzz.toml")
        && let Some(radar) = &site.radar
    {
        // An accepted [radar] must give a usable chain plan.
        let _ = tews::process::ChainPlan::new(&radar.params(), &Default::default());
    }
});
