//! Detections to plots: group a target's threshold crossings, interpolate its
//! peak, convert to physical units, measure the angle within the beam
//! (monopulse) and place the plot on the Earth (WGS-84).

mod extract;
pub mod monopulse;
mod range_accuracy;

pub use extract::{extract_peaks, extract_plots, peak_offset};
pub use monopulse::{AngleEstimate, CellValues, MONOPULSE_SPAN_BEAMWIDTHS, MonopulseEstimator};
pub use range_accuracy::RangeAccuracy;

use crate::cpi::Cpi;
use crate::geo::{Geodetic, LocalFrame};
use crate::process::{ChainPlan, Detection};
use crate::radar::RadarParams;
use time::OffsetDateTime;

/// Where a plot's azimuth and elevation come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AngleSource {
    /// The beam's pointing: the target is somewhere in the beam.
    #[default]
    Beam,
    /// Measured within the beam by sum-difference monopulse.
    Monopulse,
}

/// One plot report: what formats.md §2 puts on a JSON line. Serialises to
/// exactly that line (field names and order of §2, time as RFC 3339 UTC).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Plot {
    /// CPI index from the start of the input.
    pub cpi: u64,
    /// Transmit time of the CPI's first pulse, UTC.
    #[serde(with = "time::serde::rfc3339")]
    pub time_utc: OffsetDateTime,
    /// Interpolated range, metres.
    pub range_m: f64,
    /// Interpolated range rate, m/s, positive receding.
    pub radial_velocity_mps: f64,
    /// Azimuth, degrees clockwise from true north: measured (monopulse) or
    /// the beam's (see `angle_source`).
    pub azimuth_deg: f64,
    /// Elevation, degrees above the local horizontal: measured or the beam's.
    pub elevation_deg: f64,
    /// Peak power over the CFAR noise estimate, dB.
    pub snr_db: f64,
    /// Interpolated range bin (see [`crate::process::RangeDopplerMap`]).
    pub range_bin: f64,
    /// Interpolated Doppler bin, FFT-shifted (see [`crate::process::RangeDopplerMap`]).
    pub doppler_bin: f64,
    /// Detections merged into this plot.
    pub cells: u32,
    /// Where the angles come from.
    pub angle_source: AngleSource,
    /// 1-sigma thermal-noise accuracy of the azimuth, degrees (monopulse
    /// only; the beam-frame sigma over cos(elevation)).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub azimuth_sigma_deg: Option<f64>,
    /// 1-sigma thermal-noise accuracy of the elevation, degrees (monopulse
    /// with an elevation difference channel only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub elevation_sigma_deg: Option<f64>,
    /// WGS-84 latitude of the plot, degrees (site position known).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latitude_deg: Option<f64>,
    /// WGS-84 longitude, degrees.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub longitude_deg: Option<f64>,
    /// Height above the WGS-84 ellipsoid, metres.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height_m: Option<f64>,
    /// Half the unambiguous radial-velocity interval `lambda / (4 pri)`,
    /// m/s: a faster target's velocity is folded into `+-` this.
    pub radial_velocity_ambiguity_mps: f64,
    /// 1-sigma accuracy of `range_m`, metres: thermal noise at the plot's
    /// SNR and the interpolation's straddle bias (see [`RangeAccuracy`]).
    pub range_sigma_m: f64,
    /// When the CPI's last sample reached this host (from
    /// [`crate::cpi::CpiMeta::received_at`]): outputs measure their latency
    /// from here. Not part of the report line.
    #[serde(skip)]
    pub received_at: Option<std::time::Instant>,
}

impl Default for Plot {
    /// A zero plot at the Unix epoch (for tests and fixtures).
    fn default() -> Self {
        Plot {
            cpi: 0,
            time_utc: OffsetDateTime::UNIX_EPOCH,
            range_m: 0.0,
            radial_velocity_mps: 0.0,
            azimuth_deg: 0.0,
            elevation_deg: 0.0,
            snr_db: 0.0,
            range_bin: 0.0,
            doppler_bin: 0.0,
            cells: 0,
            angle_source: AngleSource::Beam,
            azimuth_sigma_deg: None,
            elevation_sigma_deg: None,
            latitude_deg: None,
            longitude_deg: None,
            height_m: None,
            radial_velocity_ambiguity_mps: 0.0,
            range_sigma_m: 0.0,
            received_at: None,
        }
    }
}

/// The sum channel's processed values at given cells, when the backend has
/// them (see [`PlotMaker::plots_with`]).
pub type SumValues<'a> =
    dyn Fn(&[(usize, usize)]) -> Option<Vec<rustfft::num_complex::Complex64>> + 'a;

/// Counts of one CPI's (or a run's) angle measurements.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct AngleCounts {
    /// Plots whose angles were measured by monopulse.
    pub monopulse_plots: u64,
    /// Plots whose monopulse estimate fell outside the calibrated span (or
    /// was not finite) and kept the beam's angles.
    pub monopulse_outside_span: u64,
}

impl std::ops::AddAssign for AngleCounts {
    fn add_assign(&mut self, o: Self) {
        self.monopulse_plots += o.monopulse_plots;
        self.monopulse_outside_span += o.monopulse_outside_span;
    }
}

/// Turns one CPI's detections into finished plots: grouping and
/// interpolation ([`extract_peaks`]), monopulse angles
/// ([`MonopulseEstimator`], when the radar has them) and geolocation (when
/// the site position is known).
#[derive(Debug, Clone)]
pub struct PlotMaker {
    params: RadarParams,
    angles: Option<MonopulseEstimator>,
    range_accuracy: RangeAccuracy,
    site: Option<LocalFrame>,
}

impl PlotMaker {
    /// The plot maker for `params`, processed by `plan`, at `site`.
    pub fn new(params: &RadarParams, plan: &ChainPlan, site: Option<Geodetic>) -> Self {
        PlotMaker {
            params: params.clone(),
            angles: MonopulseEstimator::new(params, &plan.replica, &plan.doppler_window),
            range_accuracy: RangeAccuracy::new(params, &plan.replica),
            site: site.map(LocalFrame::new),
        }
    }

    /// The radar parameters the plots are made for.
    pub fn params(&self) -> &RadarParams {
        &self.params
    }

    /// True when plots get monopulse angles.
    pub fn measures_angles(&self) -> bool {
        self.angles.is_some()
    }

    /// What the plots' angles will be, for the run's log: one line.
    pub fn describe_angles(&self) -> String {
        let has_delta =
            self.params.channel("delta_az").is_some() || self.params.channel("delta_el").is_some();
        match (&self.angles, has_delta) {
            (Some(e), _) => {
                let c = e.calibration();
                format!(
                    "monopulse angles: beamwidth {} x {} deg (az x el), slopes {} / {}, \
                     span +-{MONOPULSE_SPAN_BEAMWIDTHS} beamwidth",
                    c.beamwidth_az_deg, c.beamwidth_el_deg, c.slope_az, c.slope_el
                )
            }
            (None, true) => "difference channels without radar:monopulse: plots carry the \
                             beam's angles"
                .to_string(),
            (None, false) => "single receive channel: plots carry the beam's angles".to_string(),
        }
    }

    /// The plots of `cpi` from its `detections`, and the angle counts.
    /// Each plot's angles cost `3 P L` complex multiply-adds, made in one
    /// pass over each channel (see [`monopulse`]); the order is that of
    /// [`extract_peaks`].
    pub fn plots(&self, detections: &[Detection], cpi: &Cpi) -> (Vec<Plot>, AngleCounts) {
        self.plots_with(detections, cpi, &|_| None)
    }

    /// [`Self::plots`], with the sum channel's values at the plots' peak
    /// cells from `sum_values` when it has them (the CPU chain's own, see
    /// [`crate::process::Backend::detection_channel_values`]).
    pub fn plots_with(
        &self,
        detections: &[Detection],
        cpi: &Cpi,
        sum_values: &SumValues<'_>,
    ) -> (Vec<Plot>, AngleCounts) {
        let peaks = extract_peaks(detections, &self.params, &cpi.meta);
        let values = self.angles.as_ref().map(|est| {
            let cells: Vec<(usize, usize)> = peaks
                .iter()
                .map(|(_, d)| (d.range_bin as usize, d.doppler_bin as usize))
                .collect();
            est.cell_values(cpi, &cells, sum_values(&cells))
        });
        let mut counts = AngleCounts::default();
        let plots = peaks
            .into_iter()
            .enumerate()
            .map(|(i, (plot, _))| {
                self.finish(plot, values.as_ref().map(|v| &v[i]), cpi, &mut counts)
            })
            .collect();
        (plots, counts)
    }

    /// One plot's angles (from its peak cell's `values`) and position.
    fn finish(
        &self,
        mut plot: Plot,
        values: Option<&CellValues>,
        cpi: &Cpi,
        counts: &mut AngleCounts,
    ) -> Plot {
        plot.range_sigma_m = self.range_accuracy.sigma_m(plot.snr_db);
        if let (Some(est), Some(values)) = (&self.angles, values) {
            let snr = 10f64.powf(plot.snr_db / 10.0);
            match est.angles(values, snr, cpi.meta.azimuth_deg, cpi.meta.elevation_deg) {
                AngleEstimate::Measured {
                    azimuth_deg,
                    elevation_deg,
                    azimuth_sigma_deg,
                    elevation_sigma_deg,
                    ..
                } => {
                    counts.monopulse_plots += 1;
                    plot.azimuth_deg = azimuth_deg;
                    plot.elevation_deg = elevation_deg;
                    plot.azimuth_sigma_deg = azimuth_sigma_deg;
                    plot.elevation_sigma_deg = elevation_sigma_deg;
                    plot.angle_source = AngleSource::Monopulse;
                }
                AngleEstimate::OutsideSpan => counts.monopulse_outside_span += 1,
            }
        }
        if let Some(site) = &self.site {
            let g = Geodetic::from_ecef(&site.point_at(
                plot.azimuth_deg,
                plot.elevation_deg,
                plot.range_m,
            ));
            plot.latitude_deg = Some(g.latitude_deg);
            plot.longitude_deg = Some(g.longitude_deg);
            plot.height_m = Some(g.height_m);
        }
        plot
    }
}
