//! The profile section `[identities]` and its validation.

use crate::pipeline::{ConfigError, Section};
use serde::{Deserialize, Serialize};

/// The profile section `[identities]`. `Config::default()` is the quick profile.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Monte Carlo samples per (alpha, c) for I2 (the same samples serve every pair).
    pub mc_samples: usize,
    /// Number of equally spaced correlations in [-0.9, 0.9]; the grid always adds
    /// c = +-0.99 and +-0.999.
    pub c_points: usize,
    /// Seed of the Monte Carlo generator (ChaCha8).
    pub seed: u64,
    /// Largest variance q of the tanh limits (I7); q runs over half-decades from 1.
    pub tanh_q_max: f64,
    /// Number of epsilon values (log-spaced in [1e-6, 1e-1]) for I6.
    pub eps_points: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self { mc_samples: 200_000, c_points: 9, seed: 20171208, tanh_q_max: 1e6, eps_points: 26 }
    }
}

/// Most Monte Carlo samples: the two standard normals of every sample are kept in memory
/// (16 bytes a sample, 1.6 GB at this limit, about a minute of work per correlation).
pub const MC_SAMPLES_MAX: usize = 100_000_000;
/// Most Monte Carlo work, samples times correlations (`c_points` + 4): about two minutes on two
/// cores (the paper profile does $8 \cdot 10^7$).
pub const MC_WORK_MAX: usize = 4_000_000_000;
/// Most correlations on the grid: each costs a few two-dimensional quadratures per $\alpha$
/// (about 10 s of work at this limit; the paper profile uses 37).
pub const C_POINTS_MAX: usize = 1000;
/// Fewest $\epsilon$ values of I6: the exponent is fitted on the ones $\le$ `EPS_FIT_MAX`.
pub const EPS_POINTS_MIN: usize = 3;
/// Most $\epsilon$ values of I6 (each is one point of a figure).
pub const EPS_POINTS_MAX: usize = 10_000;
/// Smallest `tanh_q_max`: the rates of I7 are fitted on at least three half-decades $q \ge 100$.
pub const TANH_Q_MAX_MIN: f64 = 1e3;
/// Largest `tanh_q_max`: beyond, the deviations from the limits (of order $1/q$) reach the
/// rounding level of the quadratures and the rates can no longer be measured.
pub const TANH_Q_MAX_MAX: f64 = 1e12;

impl Config {
    /// Checks every value of the section: the counts are at least what the checks need and at
    /// most what fits in memory and minutes (also together: the Monte Carlo work grows with
    /// `mc_samples` times the number of correlations); `seed` may be any value.
    pub fn check(&self) -> Result<(), ConfigError> {
        let s = Section("identities");
        s.int("mc_samples", self.mc_samples, 2, MC_SAMPLES_MAX)?;
        s.int("c_points", self.c_points, 1, C_POINTS_MAX)?;
        let n_c = self.c_points + 4;
        if self.mc_samples.saturating_mul(n_c) > MC_WORK_MAX {
            let most = MC_WORK_MAX / n_c;
            return Err(s.error(
                "mc_samples",
                self.mc_samples,
                format!(
                    "an integer from 2 to {most} with c_points = {} (samples x correlations <= {MC_WORK_MAX})",
                    self.c_points
                ),
            ));
        }
        s.real("tanh_q_max", self.tanh_q_max, TANH_Q_MAX_MIN, TANH_Q_MAX_MAX)?;
        s.int("eps_points", self.eps_points, EPS_POINTS_MIN, EPS_POINTS_MAX)?;
        Ok(())
    }
}
