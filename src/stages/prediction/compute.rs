//! The prediction stage's computation, in parts:
//!
//! - [`theory`]: the mean-field theory behind the [`Theory`] trait ([`MeanField`] in production);
//! - [`axis`]: the variance axis of a grid, Xavier and He on it, the metrics per activation;
//! - [`analysis`]: the grids, and per grid the ridge, the metrics' predictiveness, the
//!   initialization gaps and the divergence boundary;
//! - [`moments`]: the input moments $p^0$, $e^0$ measured on MNIST;
//! - [`summary`](mod@summary): the exported tables and the chapter's summary.

pub mod analysis;
pub mod axis;
pub mod moments;
pub mod summary;
pub mod theory;

pub use analysis::{
    analyze, compared_metric, divergence_boundary, group_points, hyper_key, Analysis, BoundaryPoint, GroupError,
    GroupResult, OverflowCheck, COMPARED,
};
pub use axis::{contour_metrics, Axis, AxisError, HE_VARIANCE, XAVIER_VARIANCE};
pub use moments::input_moments;
pub use summary::{held_out_table, prediction_table, ridge_table, summary};
pub use theory::{InitConfig, MeanField, Target, Theory};

use crate::stages::prediction::Config;

/// A number with three significant digits, as the claims and figures write it.
pub(crate) fn f3(x: f64) -> String {
    crate::report::format::num(x, 3)
}

/// Interior ridge points used by the statistics (all of them with `include_edge`).
pub(crate) fn n_ridge(g: &GroupResult, cfg: &Config) -> usize {
    g.study.ridge.iter().filter(|r| cfg.include_edge || !r.point.at_edge).count()
}

/// Plain-text name of a metric key.
pub(crate) fn metric_label(key: &str) -> &'static str {
    match key {
        "log_explosion" => "log gradient explosion",
        "log_chi_w" => "log chi_w ratio",
        "log_p" => "log p^L",
        "log_s" => "log s^L",
        "e" => "e^L",
        "log_v" => "log variance",
        "log_vl" => "log(variance x depth)",
        _ => "?",
    }
}

/// The metric named `key` in LaTeX (the claims' notation), with the null metrics of the
/// comparisons: $\ln v$ and $\ln(vL)$ on the grid's axis `axis_tex`.
pub(crate) fn metric_tex(key: &str, axis_tex: &str) -> String {
    match key {
        "log_explosion" => r"$\ln(\chi^0/\chi^L)$".into(),
        "log_chi_w" => r"$\ln(\chi_w^1/\chi_w^L)$".into(),
        "log_p" => r"$\ln p^L$".into(),
        "log_s" => r"$\ln s^L$".into(),
        "e" => r"$e^L$".into(),
        "log_v" => format!(r"$\ln {axis_tex}$"),
        "log_vl" => format!(r"$\ln({axis_tex} L)$"),
        _ => "?".into(),
    }
}
