//! Interacting multiple model (IMM) estimator with two models that share the
//! ballistic dynamics of formats.md §5 and differ only in process noise:
//!
//! - [`BALLISTIC`]: unpowered flight; a tiny acceleration noise that covers
//!   integration error only, so the model is as sharp as the physics.
//! - [`POWERED`]: boost; the unknown thrust (tens of m/s^2, direction
//!   unknown) enters as white acceleration noise of large density.
//!
//! Why an IMM rather than one filter with inflated noise or a detector on
//! the innovations: a single filter must pick one noise level and is then
//! either too loose in ballistic flight (impact ellipses far larger than the
//! data allow) or over-confident in boost. A bolted-on detector needs its own
//! threshold and window. The IMM keeps both hypotheses, weighs them by the
//! likelihood of every plot, and its ballistic-model probability is exactly
//! the evidence the `ballistic` flag needs. Transition probabilities come
//! from stated mean sojourn times, so they scale with the revisit interval.
//! Boost -> ballistic happens once; ballistic -> powered is kept small but
//! non-zero so a track that was judged ballistic too early can recover.

use nalgebra::{Matrix6, Vector6};

use super::TrackError;
use super::filter::{GaussianState, Innovation, Predictor, Updater};
use super::measurement::Measurement;

/// Index of the ballistic model.
pub const BALLISTIC: usize = 0;
/// Index of the powered (boost) model.
pub const POWERED: usize = 1;

/// IMM parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ImmModel {
    /// Predictors, indexed by [`BALLISTIC`] and [`POWERED`].
    pub predictors: [Predictor; 2],
    /// Mean time spent powered before switching to ballistic, seconds.
    pub powered_sojourn_s: f64,
    /// Mean time spent ballistic before (re)switching to powered, seconds.
    pub ballistic_sojourn_s: f64,
}

/// The IMM's state: one Gaussian per model and the model probabilities.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ImmState {
    /// Per-model estimates, all at the same time.
    pub models: [GaussianState; 2],
    /// Model probabilities, summing to 1.
    pub probabilities: [f64; 2],
}

/// A prediction to a plot's time: per-model predictions, their prior
/// probabilities `c_j` and the moment-matched combination (used for gating).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ImmPrediction {
    /// Per-model predicted states.
    pub models: [GaussianState; 2],
    /// Predicted model probabilities.
    pub probabilities: [f64; 2],
    /// Moment-matched mixture of `models`.
    pub combined: GaussianState,
}

/// Moment-matched Gaussian of a two-component mixture.
pub fn combine(models: &[GaussianState; 2], weights: &[f64; 2]) -> GaussianState {
    let mean: Vector6<f64> = models[0].mean * weights[0] + models[1].mean * weights[1];
    let mut cov = Matrix6::zeros();
    for (m, w) in models.iter().zip(weights) {
        let d = m.mean - mean;
        cov += (m.covariance + d * d.transpose()) * *w;
    }
    GaussianState {
        time_s: models[0].time_s,
        mean,
        covariance: cov,
    }
}

impl ImmModel {
    /// Model transition matrix over `dt_s` (row: from, column: to).
    fn transition(&self, dt_s: f64) -> [[f64; 2]; 2] {
        let a = dt_s.abs();
        let p_bp = 1.0 - (-a / self.ballistic_sojourn_s).exp();
        let p_pb = 1.0 - (-a / self.powered_sojourn_s).exp();
        [[1.0 - p_bp, p_bp], [p_pb, 1.0 - p_pb]]
    }

    /// Mixing then per-model prediction to `time_s`.
    pub fn predict(&self, state: &ImmState, time_s: f64) -> Result<ImmPrediction, TrackError> {
        let dt = time_s - state.models[0].time_s;
        let pi = self.transition(dt);
        let mu = state.probabilities;
        let mut c = [0.0; 2];
        for (j, cj) in c.iter_mut().enumerate() {
            *cj = pi[0][j] * mu[0] + pi[1][j] * mu[1];
        }
        let mut predicted = state.models;
        for j in 0..2 {
            let weights = if c[j] > 0.0 {
                [pi[0][j] * mu[0] / c[j], pi[1][j] * mu[1] / c[j]]
            } else {
                [0.5, 0.5]
            };
            let mixed = combine(&state.models, &weights);
            predicted[j] = self.predictors[j].predict(&mixed, time_s)?;
        }
        Ok(ImmPrediction {
            models: predicted,
            probabilities: c,
            combined: combine(&predicted, &c),
        })
    }

    /// Prediction of a track latched ballistic: the ballistic model alone
    /// (no mixing), reported as an IMM prediction with both slots equal.
    /// Why a latch: once boost is over, the powered model's loose covariance,
    /// mixed in at even 1e-5 probability, is larger than the ballistic
    /// model's millimetre-per-second range-rate variance and would make
    /// every ellipse conservative; the tracker unlatches on a NIS test.
    pub fn predict_latched(
        &self,
        state: &ImmState,
        time_s: f64,
    ) -> Result<ImmPrediction, TrackError> {
        let pred = self.predictors[BALLISTIC].predict(&state.models[BALLISTIC], time_s)?;
        Ok(ImmPrediction {
            models: [pred, pred],
            probabilities: [1.0, 0.0],
            combined: pred,
        })
    }

    /// Update of a prediction with a plot; returns the new state and the
    /// combined prediction's innovation (for the track's statistics).
    pub fn update(
        &self,
        updater: &Updater,
        prediction: &ImmPrediction,
        m: &Measurement,
    ) -> Result<(ImmState, Innovation), TrackError> {
        let (s0, i0) = updater.update(&prediction.models[0], m)?;
        let (s1, i1) = updater.update(&prediction.models[1], m)?;
        let ll = [i0.log_likelihood, i1.log_likelihood];
        let top = ll[0].max(ll[1]);
        let w = [
            prediction.probabilities[0] * (ll[0] - top).exp(),
            prediction.probabilities[1] * (ll[1] - top).exp(),
        ];
        let sum = w[0] + w[1];
        if !(sum > 0.0 && sum.is_finite()) {
            return Err(TrackError::Singular);
        }
        // Keep each probability off exact 0/1 so the mixing never divides by 0.
        let p0 = (w[0] / sum).clamp(1e-12, 1.0 - 1e-12);
        let combined_innovation = updater.innovation(&prediction.combined, m)?;
        Ok((
            ImmState {
                models: [s0, s1],
                probabilities: [p0, 1.0 - p0],
            },
            combined_innovation,
        ))
    }

    /// A missed look: the prediction becomes the state.
    pub fn coast(&self, prediction: &ImmPrediction) -> ImmState {
        ImmState {
            models: prediction.models,
            probabilities: prediction.probabilities,
        }
    }
}

impl ImmState {
    /// The moment-matched combined estimate (what a track reports).
    pub fn combined(&self) -> GaussianState {
        combine(&self.models, &self.probabilities)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixture_moments_by_hand() {
        let mut a = GaussianState {
            time_s: 0.0,
            mean: Vector6::zeros(),
            covariance: Matrix6::identity(),
        };
        let mut b = a;
        a.mean[0] = -1.0;
        b.mean[0] = 3.0;
        b.covariance *= 4.0;
        // Weights 0.75 / 0.25: mean 0; var_x = 0.75 (1 + 1) + 0.25 (4 + 9) = 4.75.
        let c = combine(&[a, b], &[0.75, 0.25]);
        assert!(c.mean[0].abs() < 1e-12);
        assert!((c.covariance[(0, 0)] - 4.75).abs() < 1e-12);
        assert!((c.covariance[(1, 1)] - 1.75).abs() < 1e-12);
    }
}
