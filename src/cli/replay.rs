//! `tews replay`: play a recording as the digitizer's VITA 49.2 packets.

use anyhow::{Result, bail};
use clap::Args;
use std::path::PathBuf;
use tews::ingest::sigmf::Recording;

#[derive(Args)]
pub(crate) struct ReplayArgs {
    /// Recording: NAME.sigmf-meta, NAME.sigmf-data, NAME or NAME.sigmf (archive).
    pub(crate) recording: PathBuf,
    /// Destination: udp://HOST:PORT.
    #[arg(long)]
    pub(crate) to: String,
    /// Speed: 1.0 = the recording's PRI timing, 2.0 twice as fast (0.001 to
    /// 1e6), max = no pacing.
    #[arg(long, default_value = "1.0")]
    pub(crate) rate: tews::replay::Rate,
    /// Samples per data packet (362 fits a 1500-byte Ethernet MTU).
    #[arg(long, default_value_t = 1024)]
    pub(crate) samples_per_packet: usize,
    /// Probability of deliberately dropping each datagram (0 to 1).
    #[arg(long, default_value_t = 0.0)]
    pub(crate) loss: f64,
    /// Seed of the deliberate loss.
    #[arg(long, default_value_t = 1)]
    pub(crate) seed: u64,
    /// VRT stream ID to send.
    #[arg(long, default_value_t = 1)]
    pub(crate) stream_id: u32,
    /// Play the recording this many times over (times and CPI indices continue).
    #[arg(long, default_value_t = 1)]
    pub(crate) repeat: u64,
    /// The sample value sent as ci16 full scale (32768 counts). Default: 1.0
    /// for integer recordings (ci16 goes out bit-identical), the largest
    /// |I| or |Q| for float ones (sent as 32767: nothing saturates).
    #[arg(long)]
    pub(crate) full_scale: Option<f64>,
    /// Write what was sent (JSON: packets, deliberately dropped, damaged CPIs) here.
    #[arg(long)]
    pub(crate) summary: Option<PathBuf>,
}

pub(crate) fn cmd_replay(args: &ReplayArgs) -> Result<()> {
    use tews::ingest::vrt::encoder::MAX_SAMPLES_PER_PACKET;
    let to = tews::ingest::udp::parse_url(&args.to, "udp")?;
    if !(1..=MAX_SAMPLES_PER_PACKET).contains(&args.samples_per_packet) {
        bail!(
            "--samples-per-packet {}: must be 1 to {MAX_SAMPLES_PER_PACKET}",
            args.samples_per_packet
        );
    }
    if !(0.0..=1.0).contains(&args.loss) {
        bail!("--loss {}: not a probability from 0 to 1", args.loss);
    }
    let recording = Recording::open(&args.recording)?;
    let summary_file = args
        .summary
        .as_deref()
        .map(super::SummaryFile::create)
        .transpose()?;
    let bar = super::progress::Bar::new(recording.num_cpis * args.repeat.max(1));
    let report = tews::replay::replay_with_progress(
        &recording,
        &tews::replay::ReplayOptions {
            to,
            rate: args.rate,
            samples_per_packet: args.samples_per_packet,
            loss: args.loss,
            seed: args.seed,
            stream_id: args.stream_id,
            repeat: args.repeat,
            full_scale: args.full_scale,
        },
        |r| {
            bar.inc();
            if r.send_errors > 0 || r.packets_dropped > 0 {
                bar.message(format!(
                    "{} packets ({} dropped on purpose, {} refused)",
                    r.packets_sent, r.packets_dropped, r.send_errors
                ));
            } else {
                bar.message(format!("{} packets", r.packets_sent));
            }
        },
    )?;
    drop(bar);
    let secs = report.seconds.max(1e-9);
    tracing::info!(
        "{} CPIs to {}: {} packets sent ({} dropped on purpose, {} refused), {:.2} s, \
         {:.0} packets/s, {:.1} M samples/s, {:.3} Gb/s",
        report.cpis,
        args.to,
        report.packets_sent,
        report.packets_dropped,
        report.send_errors,
        report.seconds,
        report.packets_sent as f64 / secs,
        report.samples_sent as f64 / secs / 1e6,
        report.bytes_sent as f64 * 8.0 / secs / 1e9
    );
    if let Some(file) = summary_file {
        file.write(&report)?;
    }
    if report.send_errors > 0 {
        // A refusal is the kernel saying no one listens there (an ICMP port
        // unreachable came back): the datagrams around it were lost too.
        return Err(super::run::NothingDelivered(format!(
            "{}: {} of {} datagrams refused (is anything listening there?)",
            args.to,
            report.send_errors,
            report.send_errors + report.packets_sent
        ))
        .into());
    }
    Ok(())
}
