//! Tracking: plots (range, azimuth, elevation with accuracies) become tracks
//! in ECEF, assembled from parts a reader can name (after Stone Soup):
//!
//! - [`measurement`]: the plot type the tracker consumes and the measurement
//!   model `h(x)` (range/az/el from the site's local ENU frame).
//! - [`filter`]: predictor (ballistic dynamics of formats.md §5 plus white
//!   acceleration noise) and updater (extended Kalman).
//! - [`imm`]: two such predictors, ballistic and powered, in an IMM; the
//!   ballistic model's probability is the evidence for the `ballistic` flag.
//! - [`associate`]: chi-square gating and global nearest neighbour.
//! - [`initiator`]: two-point initialisation; M-of-N confirmation lives in
//!   [`tracker`] together with coasting and deletion.
//! - [`tracker`]: one look at a time; reports per formats.md §6.
//!
//! Units are in the names; angles inside the filter are radians.

pub mod associate;
pub mod filter;
pub mod imm;
pub mod initiator;
pub mod measurement;
pub mod tracker;

pub use filter::{GaussianState, Innovation, Predictor, Updater};
pub use imm::{ImmModel, ImmState};
pub use measurement::{Measurement, RadarSite};
pub use tracker::{Track, TrackReport, TrackStatus, Tracker, TrackerConfig};

use crate::geo::propagate::PropagateError;

/// Why a tracking step failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TrackError {
    /// A plot with non-finite or impossible values.
    #[error("bad plot: {0}")]
    BadMeasurement(String),
    /// A site position outside the Earth model's domain.
    #[error(
        "bad site position: latitude {latitude_deg} deg, longitude {longitude_deg} deg, height {height_m} m"
    )]
    BadSite {
        /// Latitude given, degrees.
        latitude_deg: f64,
        /// Longitude given, degrees.
        longitude_deg: f64,
        /// Height given, metres.
        height_m: f64,
    },
    /// A time that cannot be used (non-finite span, or time going backwards).
    #[error("bad time: {0}")]
    BadTime(String),
    /// A tracker setting out of range.
    #[error("bad tracker setting: {0}")]
    BadConfig(String),
    /// The state is at the site or straight above it (azimuth undefined).
    #[error("state at a singular point of the measurement model")]
    Geometry,
    /// A covariance lost positive definiteness or became non-finite.
    #[error("covariance is singular or not finite")]
    Singular,
    /// Propagation failed.
    #[error(transparent)]
    Propagate(#[from] PropagateError),
}
