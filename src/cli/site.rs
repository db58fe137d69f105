//! `tews site --from REC`: a site file whose `[radar]` matches a recording.

use anyhow::{Result, bail};
use clap::Args;
use std::path::PathBuf;
use tews::ingest::sigmf::Recording;

#[derive(Args)]
pub(crate) struct SiteArgs {
    /// Recording whose radar the live stream will carry.
    #[arg(long)]
    pub(crate) from: PathBuf,
    /// VRT stream ID of the first channel (as `tews replay --stream-id`;
    /// channel c is stream_id + c).
    #[arg(long, default_value_t = 1)]
    pub(crate) stream_id: u32,
}

/// Prints a complete site file: a `[site]` to fill in (names, SAC/SIC;
/// the position from the recording when it has one) and the `[radar]` of
/// the recording, so `tews replay REC` into `tews run --site` works as is.
pub(crate) fn cmd_site(args: &SiteArgs) -> Result<()> {
    let recording = Recording::open(&args.from)?;
    let carrier_hz = recording.cpi_meta(0).carrier_hz;
    if !(carrier_hz.is_finite() && carrier_hz > 0.0) {
        bail!(
            "{}: the first capture has no usable core:frequency ({carrier_hz}): no carrier_hz to write",
            args.from.display()
        );
    }
    let mut text = format!(
        "# Site file for a live receiver of what {} holds (tews site --from).\n\
         # Fill in [site]: its names are NATS subject tokens, sac/sic the ASTERIX data source.\n\
         [site]\nname = \"site\"\nnation = \"unset\"\nsensor = \"radar\"\nsac = 0\nsic = 0\n",
        args.from.display()
    );
    if let Some(g) = recording.site() {
        text += &format!(
            "latitude_deg = {:?}\nlongitude_deg = {:?}\nheight_m = {:?}\n",
            g.latitude_deg, g.longitude_deg, g.height_m
        );
    }
    if recording.simulated {
        text += "# The recording is simulated: warnings from it are exercises.\nexercise = true\n";
    }
    text += "\n";
    text += &tews::site::radar_table_toml(&recording.params, carrier_hz, args.stream_id);
    print!("{text}");
    Ok(())
}
