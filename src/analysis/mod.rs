//! Analysis of trained grids against init-time theory (chapter "Prediction").
//!
//! - [`stats`]: Student t distribution, (weighted) least squares with confidence intervals, ranks
//!   and Spearman's rank correlation.
//! - [`ridge`]: a grid of trained points (depth x variance x seeds), the accuracy ridge (variance
//!   of best test accuracy per depth) with its seed uncertainty, and the fit of
//!   $\log v^*(L)$ against $\log L$.
//! - [`predictors`]: how well an init-time metric predicts accuracy: its spread along the ridge,
//!   Spearman correlation of accuracy with closeness to the ridge value, and the held-out error of
//!   a one-dimensional regression of accuracy on the metric (leave one depth out).
//! - [`bootstrap`]: the seed-level percentile bootstrap.
//! - [`compare`]: seed-level intervals of differences of held-out errors between metrics, for
//!   trainability and for accuracy given trained.
//! - [`slope`]: the ridge slope on trained cells with a seed-level interval, and the
//!   equivalence verdict against a predicted slope.
//! - [`spread`]: the contour offset, a transform-invariant measure (in grid steps) of how well a
//!   metric's level set follows the ridge.
//! - [`multiple`]: the Holm-Bonferroni procedure for many tests.
//! - [`decay`]: the fit of $A\,l^{-d} + C\,l^{-1/2}$ with $C$ known (the tanh cosine law).

pub mod bootstrap;
pub mod compare;
pub mod decay;
pub mod multiple;
pub mod predictors;
pub mod ridge;
pub mod slope;
pub mod spread;
pub mod stats;
pub mod study;

/// Error of an analysis routine (bad or insufficient input).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AnalysisError {
    /// Not enough data for the requested statistic.
    #[error("{what}: need at least {need} points, got {got}")]
    TooFew { what: &'static str, need: usize, got: usize },
    /// A value outside its domain.
    #[error("{what} = {value} is invalid: {why}")]
    Invalid { what: &'static str, value: f64, why: &'static str },
    /// Paired inputs of different lengths.
    #[error("{what}: lengths differ ({a} vs {b})")]
    LengthMismatch { what: &'static str, a: usize, b: usize },
    /// The statistic is undefined for this input (e.g. a constant variable in a correlation).
    #[error("{what} is undefined: {why}")]
    Degenerate { what: &'static str, why: &'static str },
}
