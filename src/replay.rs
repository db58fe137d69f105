//! `tews replay`: a digitizer emulator. Plays a recording's detection channel
//! as the profile's VITA 49.2 packets over UDP (one packet per datagram), as
//! the FPGA packetizer would send them: a context packet before every CPI
//! (carrier, sample rate, beam of that CPI; timestamp of its first sample),
//! then each pulse as one sample frame of ci16 data packets.
//!
//! Timestamps come from the recording: the CPI's time (`CpiMeta::time_utc`)
//! is its first pulse's transmit time (formats.md §1), whose first sample
//! is received `window_delay_s` later: that is the first data packet's
//! timestamp (formats.md §3: a packet's timestamp is its first sample's).
//! Pulse `m` is `m * pri_s` later, and a packet's timestamp is its own first
//! sample's, `1 / sample_rate_hz` per sample (each rounded to the
//! picosecond). The host's receiver subtracts the site's window delay from
//! the CPI-start packet's timestamp, so a replayed CPI carries the
//! recording's time to the nanosecond.
//!
//! Samples: the recording is read scaled to full scale 1.0 and sent as
//! `round(x * 32768 / full_scale)`, saturating (saturated values are
//! counted and logged). The full scale ([`ReplayOptions::full_scale`],
//! `--full-scale`) is by default 1.0 for integer recordings, so a ci16
//! recording goes out bit-identical; for a float recording (cf32, cf64),
//! whose values have no full scale, it is the largest |I| or |Q| of the
//! detection channel over the whole recording (a first pass reads it) times
//! 32768 / 32767: that value goes out as 32767 counts, nothing saturates,
//! and the quantization is as fine as ci16 allows. One scale for the whole
//! recording keeps the CPIs' relative levels; the receiver's CFAR is scale
//! invariant, so the live plots are the file's (SNRs to within the
//! quantization). The beam goes out to 1/128 degree (the pointing
//! word's resolution), the frequencies to 2^-20 Hz.
//!
//! Pacing: `rate` 1.0 sends each pulse at its time in the recording, relative
//! to the first (CPIs at their recorded times, pulses `pri_s` apart within a
//! CPI); 2.0 twice as fast; [`Rate::Max`] as fast as the socket takes them.
//! Deliberate loss drops each datagram (data or context) with probability
//! `loss`, from a ChaCha8 stream seeded with `seed`, and reports which CPIs
//! it damaged, so a test knows exactly what the receiver must drop.

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::ingest::IngestError;
use crate::ingest::sigmf::Recording;
use crate::ingest::vrt::Ci16;
use crate::ingest::vrt::encoder::{ContextFields, Timestamp, VrtEncoder, ci16_from_complex};

/// How fast to replay.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rate {
    /// As fast as the socket accepts datagrams.
    Max,
    /// This many times real time (1.0 = the recording's PRI timing).
    Factor(f64),
}

/// Slowest `--rate` factor accepted (a thousandth of real time).
pub const MIN_RATE: f64 = 1e-3;
/// Fastest `--rate` factor accepted (beyond it, use `max`).
pub const MAX_RATE: f64 = 1e6;

impl std::str::FromStr for Rate {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if s == "max" {
            return Ok(Rate::Max);
        }
        match s.parse::<f64>() {
            Ok(f) if (MIN_RATE..=MAX_RATE).contains(&f) => Ok(Rate::Factor(f)),
            _ => Err(format!(
                "{s:?} is not a speed-up factor from {MIN_RATE} to {MAX_RATE} (1.0 = real time) or \"max\""
            )),
        }
    }
}

/// What to send and how.
#[derive(Debug, Clone)]
pub struct ReplayOptions {
    /// Destination.
    pub to: SocketAddr,
    /// Pacing.
    pub rate: Rate,
    /// Samples per data packet (the last packet of a pulse may be shorter).
    pub samples_per_packet: usize,
    /// Probability of deliberately dropping each datagram, 0 to 1.
    pub loss: f64,
    /// Seed of the loss draws.
    pub seed: u64,
    /// VRT stream ID of the first channel; channel `c` of a multi-channel
    /// recording is sent as stream `stream_id + c` (the site file's
    /// `radar.stream_ids` must list them in the recording's channel order).
    pub stream_id: u32,
    /// Send the recording this many times over (CPI indices keep counting;
    /// times advance by the recording's span each time). 1 = once.
    pub repeat: u64,
    /// The sample value (at full scale 1.0) sent as ci16 full scale (32768
    /// counts); `None`: the module's rule (1.0 for integer recordings, the
    /// peak for float ones).
    pub full_scale: Option<f64>,
}

/// What a replay sent.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReplayReport {
    /// Destination.
    pub to: String,
    /// CPIs sent (damaged ones included).
    pub cpis: u64,
    /// Datagrams put on the wire.
    pub packets_sent: u64,
    /// Datagrams deliberately not sent (`--loss`).
    pub packets_dropped: u64,
    /// Datagrams the kernel refused (e.g. the receiver's port was closed).
    pub send_errors: u64,
    /// Indices of CPIs with at least one deliberately dropped datagram.
    pub damaged_cpis: Vec<u64>,
    /// True when the very last datagram was dropped (its loss is invisible to
    /// a receiver, which sees no later packet count).
    pub last_packet_dropped: bool,
    /// Samples sent (in datagrams actually sent).
    pub samples_sent: u64,
    /// Bytes of VRT packets sent (UDP payload).
    pub bytes_sent: u64,
    /// I/Q values that saturated converting to ci16.
    pub samples_clipped: u64,
    /// The full scale used (see the module docs).
    pub full_scale: f64,
    /// Wall time of the replay, seconds.
    pub seconds: f64,
}

/// A replay failure: one line naming the recording or the destination.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// Reading the recording failed.
    #[error(transparent)]
    Ingest(#[from] IngestError),
    /// An option is unusable.
    #[error("{0}")]
    Options(String),
    /// The socket could not be created.
    #[error("udp://{to}: cannot {action}: {source}")]
    Socket {
        /// Destination.
        to: SocketAddr,
        /// What was attempted.
        action: &'static str,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
}

/// Plays `recording` to `opts.to`.
pub fn replay(recording: &Recording, opts: &ReplayOptions) -> Result<ReplayReport, ReplayError> {
    replay_with_progress(recording, opts, |_| {})
}

/// As [`replay`], calling `on_cpi` with the report so far after each CPI.
pub fn replay_with_progress(
    recording: &Recording,
    opts: &ReplayOptions,
    mut on_cpi: impl FnMut(&ReplayReport),
) -> Result<ReplayReport, ReplayError> {
    if !(0.0..=1.0).contains(&opts.loss) {
        return Err(ReplayError::Options(format!(
            "--loss {} is not a probability from 0 to 1",
            opts.loss
        )));
    }
    let bind: SocketAddr = if opts.to.is_ipv4() {
        "0.0.0.0:0".parse().expect("literal")
    } else {
        "[::]:0".parse().expect("literal")
    };
    let sock_err = |action| {
        move |source| ReplayError::Socket {
            to: opts.to,
            action,
            source,
        }
    };
    let socket = UdpSocket::bind(bind).map_err(sock_err("bind a sending socket"))?;
    socket
        .connect(opts.to)
        .map_err(sock_err("connect the sending socket"))?;

    let p = &recording.params;
    let (pulses, n) = (p.pulses_per_cpi, p.samples_per_pulse);
    let full_scale = match opts.full_scale {
        Some(f) if f.is_finite() && f > 0.0 => f,
        Some(f) => {
            return Err(ReplayError::Options(format!(
                "--full-scale {f}: not a positive sample value"
            )));
        }
        None if is_float(recording) => peak(recording)? * (CI16_PEAK_SCALE),
        None => 1.0,
    };
    let gain = (1.0 / full_scale) as f32;
    if full_scale != 1.0 {
        tracing::info!(
            "{}: full scale {full_scale:e} (sent as 32768 counts)",
            recording.meta_path.display()
        );
    }
    let pri_ps = (p.pri_s * 1e12).round() as u64;
    let channels = p.num_channels.max(1);
    let Some(_) = opts.stream_id.checked_add(channels as u32 - 1) else {
        return Err(ReplayError::Options(format!(
            "--stream-id {}: {channels} channels need stream IDs up to {} + {}",
            opts.stream_id,
            opts.stream_id,
            channels - 1
        )));
    };
    // One encoder (stream ID and packet counts) per channel.
    let mut encs: Vec<VrtEncoder> = (0..channels)
        .map(|c| VrtEncoder::new(opts.stream_id + c as u32, opts.samples_per_packet))
        .collect();
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    let mut report = ReplayReport {
        to: opts.to.to_string(),
        full_scale,
        ..ReplayReport::default()
    };
    let first = recording.cpi_meta(0).time_utc;
    let span_s = recording.num_cpis as f64 * pulses as f64 * p.pri_s;
    let start = Instant::now();
    let mut samples: Vec<Ci16> = vec![Ci16 { i: 0, q: 0 }; n];
    let mut send = |report: &mut ReplayReport, cpi: u64, datagram: &[u8], n_samples: usize| {
        let drop = opts.loss > 0.0 && rng.random::<f64>() < opts.loss;
        report.last_packet_dropped = drop;
        if drop {
            report.packets_dropped += 1;
            if report.damaged_cpis.last() != Some(&cpi) {
                report.damaged_cpis.push(cpi);
            }
            return;
        }
        match socket.send(datagram) {
            Ok(_) => {
                report.packets_sent += 1;
                report.samples_sent += n_samples as u64;
                report.bytes_sent += datagram.len() as u64;
            }
            Err(_) => report.send_errors += 1,
        }
    };
    let mut index = 0u64;
    for pass in 0..opts.repeat.max(1) {
        for cpi in recording.cpis()? {
            let cpi = cpi?;
            let meta = &cpi.meta;
            let offset_s = (meta.time_utc - first).as_seconds_f64() + pass as f64 * span_s;
            let t0 = crate::cpi::add_seconds_checked(
                meta.time_utc,
                pass as f64 * span_s + p.window_delay_s,
            )
            .and_then(Timestamp::from_utc)
            .ok_or_else(|| {
                ReplayError::Options(format!(
                    "{}: CPI {}: time {} is outside the VRT timestamp's range (1970-2106)",
                    recording.meta_path.display(),
                    meta.index,
                    meta.time_utc
                ))
            })?;
            let ctx = ContextFields {
                time: t0,
                rf_frequency_hz: meta.carrier_hz,
                sample_rate_hz: p.sample_rate_hz,
                azimuth_deg: meta.azimuth_deg,
                elevation_deg: meta.elevation_deg,
            };
            pace(opts.rate, start, offset_s);
            for enc in &mut encs {
                let datagram = enc.context(&ctx).to_vec();
                send(&mut report, index, &datagram, 0);
            }
            for m in 0..pulses {
                if m > 0 {
                    pace(opts.rate, start, offset_s + m as f64 * p.pri_s);
                }
                // Every channel's pulse, with the same timestamps, as the
                // digitizer's per-channel packetizers send them.
                for (channel, enc) in encs.iter_mut().enumerate() {
                    for (s, z) in samples
                        .iter_mut()
                        .zip(cpi.samples().slice(ndarray::s![channel, m, ..]).iter())
                    {
                        let (c, clipped) = ci16_from_complex(*z * gain);
                        *s = c;
                        report.samples_clipped += u64::from(clipped);
                    }
                    let t = t0.plus_picoseconds(m as u64 * pri_ps);
                    let spp = enc.samples_per_packet();
                    let mut sent_in_pulse = 0usize;
                    enc.pulse(t, p.sample_rate_hz, &samples, m == 0, |d| {
                        let k = (n - sent_in_pulse).min(spp);
                        sent_in_pulse += k;
                        send(&mut report, index, d, k);
                    });
                }
            }
            index += 1;
            report.cpis += 1;
            on_cpi(&report);
        }
    }
    report.seconds = start.elapsed().as_secs_f64();
    if report.samples_clipped > 0 {
        tracing::warn!(
            "{}: {} I/Q values saturated converting to ci16",
            recording.meta_path.display(),
            report.samples_clipped
        );
    }
    Ok(report)
}

/// 32768 / 32767: a float recording's peak goes out as 32767 counts.
const CI16_PEAK_SCALE: f64 = 32768.0 / 32767.0;

/// True for float datatypes (no full scale of their own).
fn is_float(recording: &Recording) -> bool {
    use crate::ingest::sigmf::SampleFormat;
    matches!(
        recording.datatype.format,
        SampleFormat::Cf32 | SampleFormat::Cf64
    )
}

/// The largest finite |I| or |Q| of the detection channel over the whole
/// recording (1.0 when all are zero, so an all-zero recording still goes out).
fn peak(recording: &Recording) -> Result<f64, ReplayError> {
    // Every channel: one gain for all, so the monopulse ratios are kept.
    let mut peak = 0.0f32;
    for cpi in recording.cpis()? {
        let cpi = cpi?;
        for z in cpi.samples().iter() {
            for x in [z.re.abs(), z.im.abs()] {
                if x.is_finite() && x > peak {
                    peak = x;
                }
            }
        }
    }
    Ok(if peak > 0.0 { f64::from(peak) } else { 1.0 })
}

/// Sleeps until `offset_s` of recording time (scaled by the rate) after `start`.
fn pace(rate: Rate, start: Instant, offset_s: f64) {
    let Rate::Factor(f) = rate else { return };
    // The factor is bounded (MIN_RATE) and a recording's span is finite, so
    // the wait always converts; a value that does not is not waited for.
    let Some(target) = Duration::try_from_secs_f64((offset_s / f).max(0.0))
        .ok()
        .and_then(|d| start.checked_add(d))
    else {
        return;
    };
    let now = Instant::now();
    if target > now {
        std::thread::sleep(target - now);
    }
}
