//! Static radar parameters: what a recording's `radar:` keys (formats.md §1)
//! or a site's `[radar]` table say about the transmitter and receiver.
//!
//! Units are in the names: `_hz`, `_s`, `_m`, `_deg`. Everything here is plain
//! data plus the derived quantities (range bin spacing, unambiguous velocity)
//! that every later stage needs, so they are computed in exactly one place.

use serde::{Deserialize, Serialize};

/// Speed of light in vacuum, m/s (exact, SI).
pub const SPEED_OF_LIGHT_MPS: f64 = 299_792_458.0;

/// The transmitted pulse (`radar:waveform`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Waveform {
    /// Linear FM chirp: `s(t) = exp(j*pi*(B/T)*(t - T/2)^2)` on `0 <= t < T`.
    Lfm {
        /// Swept bandwidth B, Hz.
        bandwidth_hz: f64,
        /// Pulse width T, seconds.
        pulse_width_s: f64,
    },
    /// Unmodulated pulse: `s(t) = 1` on `0 <= t < T`.
    Rect {
        /// Pulse width T, seconds.
        pulse_width_s: f64,
    },
}

impl Waveform {
    /// Pulse width T in seconds.
    pub fn pulse_width_s(&self) -> f64 {
        match *self {
            Waveform::Lfm { pulse_width_s, .. } | Waveform::Rect { pulse_width_s } => pulse_width_s,
        }
    }

    /// Bandwidth that sets range resolution, Hz (1/T for a rect pulse).
    pub fn bandwidth_hz(&self) -> f64 {
        match *self {
            Waveform::Lfm { bandwidth_hz, .. } => bandwidth_hz,
            Waveform::Rect { pulse_width_s } => 1.0 / pulse_width_s,
        }
    }

    /// Replica length in samples at `sample_rate_hz`: `round(T * fs)` (formats.md §1).
    pub fn replica_len(&self, sample_rate_hz: f64) -> usize {
        (self.pulse_width_s() * sample_rate_hz).round() as usize
    }
}

/// The parameters that fix the shape and physics of every CPI of a recording
/// or a live stream. Per-CPI values (carrier, beam, time) live in [`crate::cpi::CpiMeta`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RadarParams {
    /// Complex sample rate, Hz (`core:sample_rate`).
    pub sample_rate_hz: f64,
    /// Pulses in one coherent processing interval (`radar:pulses_per_cpi`).
    pub pulses_per_cpi: usize,
    /// Fast-time samples recorded after each pulse (`radar:samples_per_pulse`).
    pub samples_per_pulse: usize,
    /// Pulse repetition interval, seconds (`radar:pri_s`).
    pub pri_s: f64,
    /// Start of transmission to first recorded sample, seconds (`radar:window_delay_s`).
    pub window_delay_s: f64,
    /// The transmitted pulse (`radar:waveform`).
    pub waveform: Waveform,
    /// Receive channels per sample position (`core:num_channels`, default 1).
    pub num_channels: usize,
    /// Index of the channel detection runs on (the one named `sum`, else 0).
    pub sum_channel: usize,
    /// Channel roles (`radar:channels`), empty when the recording does not name them.
    pub channel_names: Vec<String>,
    /// Monopulse calibration (`radar:monopulse`), when the receiver has
    /// difference channels and the recording (or site) gives it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monopulse: Option<Monopulse>,
}

/// The monopulse calibration of a sum-difference receiver (`radar:monopulse`,
/// formats.md §1): one-way -3 dB beamwidths of the sum beam and the
/// normalised slopes of the difference patterns. A target at beam-frame
/// offset `theta_az` gives `Re(delta_az / sum) = slope_az * theta_az /
/// beamwidth_az_deg` (likewise in elevation).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Monopulse {
    /// One-way -3 dB beamwidth of the sum beam across azimuth (the beam
    /// frame's `e_az` axis), degrees.
    pub beamwidth_az_deg: f64,
    /// One-way -3 dB beamwidth across elevation (`e_el`), degrees.
    pub beamwidth_el_deg: f64,
    /// Normalised azimuth monopulse slope (typically 1.2-2).
    pub slope_az: f64,
    /// Normalised elevation monopulse slope.
    pub slope_el: f64,
}

/// Accepted monopulse beamwidths, degrees: a pencil beam of a large phased
/// array is about 0.1 deg; beyond 60 deg a sum-difference ratio no longer
/// measures a direction usefully.
pub const MONOPULSE_BEAMWIDTH_DEG: std::ops::RangeInclusive<f64> = 0.01..=60.0;
/// Accepted normalised monopulse slopes (real antennas: 1.2-2).
pub const MONOPULSE_SLOPE: std::ops::RangeInclusive<f64> = 0.1..=10.0;

impl Monopulse {
    /// The calibration's first implausible value, as `(key, value)`.
    pub fn implausible(&self) -> Option<(&'static str, f64)> {
        [
            (
                "beamwidth_az_deg",
                self.beamwidth_az_deg,
                &MONOPULSE_BEAMWIDTH_DEG,
            ),
            (
                "beamwidth_el_deg",
                self.beamwidth_el_deg,
                &MONOPULSE_BEAMWIDTH_DEG,
            ),
            ("slope_az", self.slope_az, &MONOPULSE_SLOPE),
            ("slope_el", self.slope_el, &MONOPULSE_SLOPE),
        ]
        .into_iter()
        .find(|(_, v, range)| !range.contains(v))
        .map(|(k, v, _)| (k, v))
    }
}

impl RadarParams {
    /// Complex samples in one CPI of one channel.
    pub fn samples_per_cpi(&self) -> usize {
        self.pulses_per_cpi * self.samples_per_pulse
    }

    /// Range of fast-time sample `n` (fractional allowed) for the matched-filter
    /// output aligned with `t_n`: `c * (window_delay_s + n / fs) / 2`, metres.
    pub fn range_m(&self, range_bin: f64) -> f64 {
        SPEED_OF_LIGHT_MPS * (self.window_delay_s + range_bin / self.sample_rate_hz) / 2.0
    }

    /// Range bin spacing, metres: `c / (2 fs)`.
    pub fn range_bin_m(&self) -> f64 {
        SPEED_OF_LIGHT_MPS / (2.0 * self.sample_rate_hz)
    }

    /// Range resolution, metres: `c / (2 B)`.
    pub fn range_resolution_m(&self) -> f64 {
        SPEED_OF_LIGHT_MPS / (2.0 * self.waveform.bandwidth_hz())
    }

    /// Wavelength at `carrier_hz`, metres.
    pub fn wavelength_m(carrier_hz: f64) -> f64 {
        SPEED_OF_LIGHT_MPS / carrier_hz
    }

    /// Unambiguous radial velocity `lambda / (4 pri)`, m/s: velocities are
    /// reported in `[-v, +v)`.
    pub fn unambiguous_velocity_mps(&self, carrier_hz: f64) -> f64 {
        Self::wavelength_m(carrier_hz) / (4.0 * self.pri_s)
    }

    /// Index of the channel named `name` (`"delta_az"`, `"delta_el"`).
    pub fn channel(&self, name: &str) -> Option<usize> {
        self.channel_names.iter().position(|n| n == name)
    }

    /// Doppler bin spacing in velocity, `lambda / (2 P pri)`, m/s.
    pub fn velocity_bin_mps(&self, carrier_hz: f64) -> f64 {
        Self::wavelength_m(carrier_hz) / (2.0 * self.pulses_per_cpi as f64 * self.pri_s)
    }

    /// Radial velocity (positive receding) of a Doppler bin in the processed
    /// map. Doppler bins are FFT-shifted: bin `P/2` (integer division) is zero
    /// Doppler, bin 0 is the most negative Doppler frequency. Doppler frequency
    /// is `(bin - P/2) / (P * pri)`; velocity is `-f_D * lambda / 2` (formats.md §1:
    /// an approaching target has positive Doppler).
    pub fn radial_velocity_mps(&self, doppler_bin: f64, carrier_hz: f64) -> f64 {
        let p = self.pulses_per_cpi as f64;
        let f_d = (doppler_bin - (self.pulses_per_cpi / 2) as f64) / (p * self.pri_s);
        -f_d * Self::wavelength_m(carrier_hz) / 2.0
    }
}
