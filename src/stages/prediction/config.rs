//! The profile section `[prediction]` and [`Config::check`]: the statistical thresholds of the
//! claims, the bootstrap, and the optional input moments (every value bounded, none of them
//! NaN or infinite; a set `p0` or `e0` is checked, never treated as unset).

use crate::pipeline::{ConfigError, Section};
use serde::{Deserialize, Serialize};

/// The profile section `[prediction]`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Bootstrap replicates of the ridge's seed uncertainty.
    pub bootstrap: usize,
    /// Seed of the bootstrap's random number generator.
    pub rng_seed: u64,
    /// Accuracy counted for a diverged run (chance level for ten classes).
    pub fail_accuracy: f64,
    /// Keep ridge points on the grid edge in the slope fit and ridge statistics.
    pub include_edge: bool,
    /// Fewest depths with an interior ridge point for the ridge and predictor claims.
    pub min_depths: usize,
    /// C3b: a metric's contour through the ridge follows it when its RMS offset is at most this
    /// many grid steps ([`crate::analysis::spread`]).
    pub offset_steps: f64,
    /// C3a: the ridge slope counts as $-1$ when its interval lies inside $-1 \pm$ this margin.
    pub slope_margin: f64,
    /// Fewest seeds per cell for a verdict that rests on a seed-level bootstrap interval (with two
    /// seeds a depth has only three distinct resamples).
    pub min_seeds: usize,
    /// C3e: $e^L$ counts as not predictive if its held-out skill is below this fraction of the
    /// best metric's.
    pub skill_fraction: f64,
    /// C4a: an accuracy gap counts if it exceeds this many standard errors.
    pub gap_z: f64,
    /// Squared input length $p^0$ per coordinate; `None`: computed from MNIST.
    pub p0: Option<f64>,
    /// Cosine $e^0$ between two inputs; `None`: computed from MNIST.
    pub e0: Option<f64>,
    /// Variance points of the contour field drawn over each heatmap.
    pub contour_points: usize,
    /// C4c: depths the grids never saw, where the recommendation, Xavier, He and the grid's best
    /// variance are trained (increasing; a depth a grid has is skipped for that grid; empty: C4c
    /// is not tested).
    pub held_out_depths: Vec<usize>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            bootstrap: 400,
            rng_seed: 2017,
            fail_accuracy: 0.1,
            include_edge: false,
            min_depths: 3,
            offset_steps: 1.0,
            slope_margin: 0.3,
            min_seeds: 3,
            skill_fraction: 0.5,
            gap_z: 2.0,
            p0: None,
            e0: None,
            contour_points: 40,
            held_out_depths: vec![24, 48],
        }
    }
}

/// Deepest held-out network: the training stage's bound on grid depths.
pub const MAX_HELD_OUT_DEPTH: usize = crate::stages::training::config::MAX_DEPTH;

/// Most bootstrap replicates (each refits the ridge of every grid).
pub const MAX_BOOTSTRAP: usize = 100_000;

impl Config {
    /// Checks every value against its valid range.
    pub fn check(&self) -> Result<(), ConfigError> {
        let s = Section("prediction");
        if self.bootstrap == 1 || self.bootstrap > MAX_BOOTSTRAP {
            return Err(s.error(
                "bootstrap",
                self.bootstrap,
                format!("0 for none, or an integer from 2 to {MAX_BOOTSTRAP}"),
            ));
        }
        s.real("fail_accuracy", self.fail_accuracy, 0.0, 1.0)?;
        s.int("min_depths", self.min_depths, 3, 1_000_000)?;
        s.positive("offset_steps", self.offset_steps, 1e3)?;
        s.positive("slope_margin", self.slope_margin, 10.0)?;
        s.int("min_seeds", self.min_seeds, 2, 1_000_000)?;
        s.positive("skill_fraction", self.skill_fraction, 1.0)?;
        s.positive("gap_z", self.gap_z, 1e9)?;
        if let Some(p0) = self.p0 {
            s.positive("p0", p0, 1e6)?;
        }
        if let Some(e0) = self.e0 {
            s.real("e0", e0, -1.0, 1.0)?;
        }
        s.int("contour_points", self.contour_points, 2, 1000)?;
        for (i, &d) in self.held_out_depths.iter().enumerate() {
            s.int(format!("held_out_depths[{i}]"), d, 1, MAX_HELD_OUT_DEPTH)?;
            if i > 0 && d <= self.held_out_depths[i - 1] {
                return Err(s.error(
                    format!("held_out_depths[{i}]"),
                    d,
                    format!("a depth above the previous one ({}): the list increases", self.held_out_depths[i - 1]),
                ));
            }
        }
        Ok(())
    }
}
