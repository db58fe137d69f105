//! `tews info`: the GPU adapters wgpu sees, with their limits.

use anyhow::Result;
use clap::Args;

#[derive(Args)]
pub(crate) struct InfoArgs {
    /// Print one JSON object per adapter instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
}

pub(crate) fn cmd_info(args: &InfoArgs) -> Result<()> {
    let adapters = tews::process::gpu::list_adapters();
    if args.json {
        for a in &adapters {
            println!("{}", serde_json::to_string(a)?);
        }
        return Ok(());
    }
    if adapters.is_empty() {
        println!(
            "no GPU adapter found (on Linux without a GPU, install mesa-vulkan-drivers \
             for the lavapipe software adapter); processing runs on the CPU"
        );
        return Ok(());
    }
    println!(
        "{:<3} {:<36} {:<7} {:<13} {:<36} {:>8} {:>6} {:>10} {:>10}",
        "#", "adapter", "backend", "type", "driver", "wg mem", "wg inv", "storage", "buffer"
    );
    for (i, a) in adapters.iter().enumerate() {
        let l = &a.limits;
        let clip = |s: &str, n: usize| s.chars().take(n).collect::<String>();
        println!(
            "{:<3} {:<36} {:<7} {:<13} {:<36} {:>8} {:>6} {:>10} {:>10}",
            i,
            clip(&a.name, 36),
            a.backend,
            a.device_type,
            clip(&a.driver, 36),
            format!("{} KiB", l.max_compute_workgroup_storage_size / 1024),
            l.max_compute_invocations_per_workgroup,
            mib(l.max_storage_buffer_binding_size),
            mib(l.max_buffer_size),
        );
    }
    println!(
        "wg mem: max_compute_workgroup_storage_size; wg inv: max_compute_invocations_per_workgroup; \
         storage: max_storage_buffer_binding_size; buffer: max_buffer_size"
    );
    Ok(())
}

/// Bytes as MiB (or GiB) for the info table.
pub(crate) fn mib(bytes: u64) -> String {
    if bytes >= 1 << 30 {
        format!("{:.1} GiB", bytes as f64 / (1u64 << 30) as f64)
    } else {
        format!("{} MiB", bytes >> 20)
    }
}
