//! The variance axis of a trained grid ([`Axis`]: which weight variance it varies), the Xavier
//! and He points on it, and the metrics the theory associates with an activation.

use super::theory::{InitConfig, Target};
use crate::activation::Activation;
use crate::architecture::Architecture;
use crate::stages::training::TrainingRow;
use serde::{Deserialize, Serialize};

/// Why a group of points has no one-parameter variance axis.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AxisError {
    #[error("the grid varies neither sw2 nor sv2")]
    Constant,
    #[error("sw2 = 0 in a grid that varies sw2 and sv2")]
    ZeroSw2,
    #[error("the grid varies sw2 and sv2 independently (not a one-parameter family)")]
    Independent,
}

/// Weight variance of the Xavier initialization ($\sigma_w^2 = \sigma_v^2 = 1$).
pub const XAVIER_VARIANCE: f64 = 1.0;
/// Weight variance of the He initialization ($\sigma_w^2 = \sigma_v^2 = 2$).
pub const HE_VARIANCE: f64 = 2.0;

/// Which variance the grid varies, and so what its axis $v$ means.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Axis {
    /// $v = \sigma_v^2$ at fixed $\sigma_w^2$.
    Sv2 { sw2: f64 },
    /// $v = \sigma_w^2$ at fixed $\sigma_v^2$ (RRNs: their only weight variance).
    Sw2 { sv2: f64 },
    /// $v = \sigma_v^2\sigma_w^2$ with a fixed ratio $\sigma_v^2/\sigma_w^2$.
    Product { ratio: f64 },
}

impl Axis {
    /// Detects the axis of a group of points (at least one).
    pub fn detect(points: &[&TrainingRow]) -> Result<Self, AxisError> {
        let same = |a: f64, b: f64| (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1e-300);
        let all_same = |f: &dyn Fn(&TrainingRow) -> f64| points.iter().all(|p| same(f(p), f(points[0])));
        let sw_const = all_same(&|p| p.sw2);
        let sv_const = all_same(&|p| p.sv2);
        match (sw_const, sv_const) {
            (true, false) => Ok(Axis::Sv2 { sw2: points[0].sw2 }),
            (false, true) => Ok(Axis::Sw2 { sv2: points[0].sv2 }),
            (true, true) => Err(AxisError::Constant),
            (false, false) => {
                if points.iter().any(|p| p.sw2 <= 0.0) {
                    return Err(AxisError::ZeroSw2);
                }
                let r = points[0].sv2 / points[0].sw2;
                if all_same(&|p| p.sv2 / p.sw2) {
                    Ok(Axis::Product { ratio: r })
                } else {
                    Err(AxisError::Independent)
                }
            }
        }
    }

    /// The axis value of a point.
    pub fn value(&self, sw2: f64, sv2: f64) -> f64 {
        match self {
            Axis::Sv2 { .. } => sv2,
            Axis::Sw2 { .. } => sw2,
            Axis::Product { .. } => sv2 * sw2,
        }
    }

    /// $(\sigma_w^2, \sigma_v^2)$ at axis value `v`; on the product axis with ratio
    /// $r = \sigma_v^2/\sigma_w^2$, $\sigma_w^2 = \sqrt{v/r}$ and $\sigma_v^2 = \sqrt{v r}$.
    pub fn weights(&self, v: f64) -> (f64, f64) {
        match *self {
            Axis::Sv2 { sw2 } => (sw2, v),
            Axis::Sw2 { sv2 } => (v, sv2),
            Axis::Product { ratio } => ((v / ratio).sqrt(), (v * ratio).sqrt()),
        }
    }

    /// Axis values of the Xavier and He initializations: every weight variance 1, resp. 2.
    pub fn xavier_he(&self) -> (f64, f64) {
        match self {
            Axis::Product { .. } => (XAVIER_VARIANCE * XAVIER_VARIANCE, HE_VARIANCE * HE_VARIANCE),
            _ => (XAVIER_VARIANCE, HE_VARIANCE),
        }
    }

    /// Plain-text label for figures.
    pub fn label(&self) -> &'static str {
        match self {
            Axis::Sv2 { .. } => "σ_v²",
            Axis::Sw2 { .. } => "σ_w²",
            Axis::Product { .. } => "σ_v² σ_w²",
        }
    }

    /// LaTeX label for the text.
    pub fn latex(&self) -> &'static str {
        match self {
            Axis::Sv2 { .. } => r"\sigma_v^2",
            Axis::Sw2 { .. } => r"\sigma_w^2",
            Axis::Product { .. } => r"\sigma_v^2\sigma_w^2",
        }
    }

    /// The recommender searches sv2 (FRN) or sw2 (otherwise); its result as an axis value.
    pub(crate) fn axis_of_searched(&self, arch: Architecture, searched: f64, base: &InitConfig) -> Option<f64> {
        match (self, arch) {
            (Axis::Sv2 { .. }, Architecture::Full) => Some(searched),
            (Axis::Sw2 { .. }, a) if a != Architecture::Full => Some(searched),
            (Axis::Product { .. }, Architecture::Full) => Some(searched * base.sw2),
            (Axis::Product { .. }, _) => Some(searched * base.sv2),
            _ => None,
        }
    }
}

/// The metric whose contours the paper draws for an activation (and a second one, dashed).
pub fn contour_metrics(act: &Activation) -> (&'static str, Option<&'static str>) {
    match act {
        Activation::Relu | Activation::AlphaRelu { .. } => ("log_s", Some("log_p")),
        _ => ("log_explosion", None),
    }
}

/// The metric the theory predicts to matter, with the recommender target used for it.
pub(super) fn theory_metric(act: &Activation) -> (&'static str, Target) {
    match act {
        Activation::Relu | Activation::AlphaRelu { .. } => ("log_s", Target::LogP),
        _ => ("log_explosion", Target::LogExplosion),
    }
}
